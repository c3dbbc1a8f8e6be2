#!/usr/bin/env bash
# The tender's Redis data plane (tender/backend_redis.c) against a real
# redis-server on a unix socket: consumer-group reads, commits as one
# MULTI/EXEC (pushes + acks), nothing lost or half-written when a handler
# fails or the unit crashes, KV under uf:kv:<workflow>:, clear errors when
# Redis is missing or goes away.
. "$(dirname "$0")/../lib.sh"

dir="$UF_TMP/$UF_SUITE.redis"
mkdir -p "$dir"
sock="$dir/redis.sock"
redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no --daemonize yes \
	--pidfile "$dir/redis.pid" --dir "$dir" >/dev/null || { fail redis-start "redis-server did not start"; exit 0; }
for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.05; done
R() { redis-cli -s "$sock" "$@"; }
trap 'R shutdown nosave >/dev/null 2>&1' EXIT

fdc=$(build_guest "$UF_TOP/functions/fdc.c") || { fail build-fdc "fdc.c did not build"; exit 0; }
crash=$(build_guest "$UF_TOP/tests/guest/push_then_crash.c") || { fail build-crash "did not build"; exit 0; }
unit() { timeout 30 "$HVT" --redis "$sock" "$@"; }

# 1000 events through one unit, in batches: every one counted, acknowledged, pushed
for i in $(seq 1000); do echo "XADD uf:q:eval:fridge-door * data open"; done | R >/dev/null
unit --workflow eval --queue fridge-door --step fdc "$fdc" >/dev/null 2>"$UF_TMP/r.err"
rc=$?
[ $rc -eq 0 ] && [ "$(R GET uf:kv:eval:fdc-count)" = 1000 ] && pass count-1000 ||
	fail count-1000 "status $rc, count $(R GET uf:kv:eval:fdc-count): $(cat "$UF_TMP/r.err")"
[ "$(R XPENDING uf:q:eval:fridge-door fdc | head -1)" = 0 ] && pass all-acknowledged ||
	fail all-acknowledged "pending: $(R XPENDING uf:q:eval:fridge-door fdc | head -1)"
[ "$(R XLEN uf:q:eval:door-opens)" = 1000 ] && pass pushes-written || fail pushes-written "$(R XLEN uf:q:eval:door-opens)"
R XRANGE uf:q:eval:door-opens - + COUNT 1 | grep -q '"count":1}' && pass push-content ||
	fail push-content "$(R XRANGE uf:q:eval:door-opens - + COUNT 1 | tr '\n' ' ')"

# a failing handler: its event stays pending, its pushes are not written
printf 'XADD uf:q:w2:in * data %s\n' a fail c | R >/dev/null
unit --workflow w2 --queue in --step s "$crash" >/dev/null 2>&1
[ "$(R XLEN uf:q:w2:out)" = 2 ] && [ "$(R XPENDING uf:q:w2:in s | head -1)" = 1 ] && pass failed-event-pending ||
	fail failed-event-pending "out $(R XLEN uf:q:w2:out), pending $(R XPENDING uf:q:w2:in s | head -1)"

# a crash inside a batch: nothing of the batch is written or acknowledged
printf 'XADD uf:q:w3:in * data %s\n' a b crash d | R >/dev/null
unit --workflow w3 --queue in --step s "$crash" >/dev/null 2>"$UF_TMP/r.err"
rc=$?
[ $rc -eq 3 ] && [ "$(R XLEN uf:q:w3:out)" = 0 ] && [ "$(R XPENDING uf:q:w3:in s | head -1)" = 4 ] &&
	pass crash-commits-nothing ||
	fail crash-commits-nothing "status $rc, out $(R XLEN uf:q:w3:out), pending $(R XPENDING uf:q:w3:in s | head -1)"
# ... and with batches of one, what came before the crash is committed
printf 'XADD uf:q:w4:in * data %s\n' a b crash d | R >/dev/null
unit --workflow w4 --queue in --step s --batch 1 "$crash" >/dev/null 2>&1
[ "$(R XLEN uf:q:w4:out)" = 2 ] && [ "$(R XPENDING uf:q:w4:in s | head -1)" = 1 ] && pass crash-batch-of-one ||
	fail crash-batch-of-one "out $(R XLEN uf:q:w4:out), pending $(R XPENDING uf:q:w4:in s | head -1)"

# an entry without a "data" field is not an event: acknowledged and skipped
R XADD uf:q:w5:in '*' other x >/dev/null
R XADD uf:q:w5:in '*' data ok >/dev/null
unit --workflow w5 --queue in --step s "$crash" >/dev/null 2>&1
[ "$(R XLEN uf:q:w5:out)" = 1 ] && [ "$(R XPENDING uf:q:w5:in s | head -1)" = 0 ] && pass non-event-skipped ||
	fail non-event-skipped "out $(R XLEN uf:q:w5:out), pending $(R XPENDING uf:q:w5:in s | head -1)"

# the same function gives the same pushes locally and against Redis (KV get/set too)
lights=$(build_guest "$UF_TOP/functions/lights.c") || fail build-lights "lights.c did not build"
sed 's/^/XADD uf:q:l:input * data /' "$UF_TOP/functions/testdata/lights.txt" | grep -v '^XADD uf:q:l:input \* data $' |
	while IFS= read -r line; do R XADD uf:q:l:input '*' data "${line#XADD uf:q:l:input \* data }" >/dev/null; done
unit --workflow l --queue input "$lights" >/dev/null 2>&1
local_out=$("$HVT" --events "$UF_TOP/functions/testdata/lights.txt" "$lights" 2>/dev/null | sed 's/.*"data":"//; s/"}$//; s/\\"/"/g')
redis_out=$(R XRANGE uf:q:l:lights - + | grep '^{')
[ -n "$local_out" ] && [ "$local_out" = "$redis_out" ] && pass same-as-local ||
	fail same-as-local "local [$local_out] redis [$redis_out]"

# errors: no server; a server that goes away while the unit waits
unit --queue x "$fdc" >/dev/null 2>"$UF_TMP/r.err" --redis "$dir/nothing.sock"
rc=$?
[ $rc -eq 2 ] && grep -q "redis at $dir/nothing.sock: " "$UF_TMP/r.err" && pass no-server ||
	fail no-server "status $rc: $(cat "$UF_TMP/r.err")"
timeout 30 "$HVT" --redis "$sock" --workflow w6 --queue in --idle-ms 5000 "$fdc" >/dev/null 2>"$UF_TMP/r.err" &
waiter=$!
sleep 0.5
R shutdown nosave >/dev/null 2>&1
wait $waiter
rc=$?
[ $rc -eq 7 ] && grep -q 'redis: XREADGROUP' "$UF_TMP/r.err" && pass server-gone ||
	fail server-gone "status $rc: $(cat "$UF_TMP/r.err")"
finish
