#!/usr/bin/env bash
# The tender's Redis data plane (tender/backend_redis.c) against a real
# redis-server on a unix socket: consumer-group reads, commits as one
# MULTI/EXEC (pushes, staged KV writes, re-queues or dead letters, acks,
# counters), nothing lost, doubled or half-written when a handler fails, the
# guest crashes or times out, or pushes where it may not; KV under
# uf:kv:<workflow>: with read-your-writes; a Redis ACL user limited to the
# documented commands and the workflow's keys; clear errors when Redis is
# missing, refuses the password or goes away.
. "$(dirname "$0")/../lib.sh"

dir="$UF_TMP/$UF_SUITE.redis"
mkdir -p "$dir"
sock="$dir/redis.sock"
redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no --daemonize yes \
	--pidfile "$dir/redis.pid" --dir "$dir" >/dev/null || { fail redis-start "redis-server did not start"; exit 0; }
wait_for 10 test -S "$sock"
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
# (UF_PICK, tests/lib.sh: a smoke set's run ends after this first batch)
uf_pick_end

dp=$(build_guest "$UF_TOP/tests/guest/dataplane.c") || { fail build-dataplane "did not build"; exit 0; }
flat() { R XRANGE "$1" - + | tr '\n' ' '; }      # a stream as one line: id field value ...
pending() { R XPENDING "$1" "$2" | head -1; }      # entries pending in a group
first_id() { R XRANGE "$1" - + COUNT 1 | head -1; }

# a failing handler: re-queued with attempt 1, 2, ... then dead-lettered with
# the reason and the origin; its pushes never written; nothing pending
printf 'XADD uf:q:w2:in * data %s\n' a fail c | R >/dev/null
orig=$(R XRANGE uf:q:w2:in - + | sed -n 4p) # the "fail" entry's id
unit --workflow w2 --queue in --step s --consumer c2 --retries 2 "$dp" >/dev/null 2>&1
rc=$?
q=$(flat uf:q:w2:in)
[ $rc -eq 0 ] && [[ $q == *"data fail origin $orig attempt 1 reason handler returned 1 "* ]] &&
	[[ $q == *"data fail origin $orig attempt 2 reason handler returned 1 "* ]] && [[ $q != *"attempt 3"* ]] &&
	pass failed-event-requeued || fail failed-event-requeued "status $rc, stream: $q"
dlq=$(flat uf:dlq:w2:in)
[ "$(R XLEN uf:dlq:w2:in)" = 1 ] &&
	[[ $dlq =~ "data fail origin $orig attempts 3 step s reason handler returned 1 time "[0-9]{13} ]] &&
	pass failed-event-dead-lettered || fail failed-event-dead-lettered "dlq: $dlq"
[ "$(R XLEN uf:q:w2:out)" = 2 ] && [ "$(pending uf:q:w2:in s)" = 0 ] && pass failed-event-settled ||
	fail failed-event-settled "out $(R XLEN uf:q:w2:out), pending $(pending uf:q:w2:in s)"
# per-unit counters: 2 acknowledged by c2, 3 failed deliveries, 1 dead
st=$(R HGETALL uf:stat:w2:s | tr '\n' ' ')
[ "$(R HGET uf:stat:w2:s c2)" = 2 ] && [ "$(R HGET uf:stat:w2:s failed)" = 3 ] &&
	[ "$(R HGET uf:stat:w2:s dead)" = 1 ] && pass stats-counted || fail stats-counted "uf:stat:w2:s = $st"
# the failed attempts' KV writes are dropped with their pushes: n counts a and c
[ "$(R GET uf:kv:w2:n)" = 2 ] && pass failed-event-kv-dropped || fail failed-event-kv-dropped "n = $(R GET uf:kv:w2:n)"

# --retries 0: straight to the dead-letter stream
R XADD uf:q:w2b:in '*' data fail >/dev/null
unit --workflow w2b --queue in --step s --retries 0 "$dp" >/dev/null 2>&1
[ "$(R XLEN uf:q:w2b:in)" = 1 ] && [[ $(flat uf:dlq:w2b:in) == *" attempts 1 step s reason handler returned 1 "* ]] &&
	[ "$(pending uf:q:w2b:in s)" = 0 ] && pass retries-zero-dead-letters ||
	fail retries-zero-dead-letters "in $(R XLEN uf:q:w2b:in), dlq: $(flat uf:dlq:w2b:in)"

# a re-queued entry carries its origin: the handler sees that id and its time
R XADD uf:q:w2c:in '*' data id origin 1700000000123-7 attempt 1 >/dev/null
unit --workflow w2c --queue in --step s "$dp" >/dev/null 2>&1
[ "$(R XRANGE uf:q:w2c:ids - + | sed -n 3p)" = "1700000000123-7 1700000000123" ] && pass origin-is-event-id ||
	fail origin-is-event-id "ids: $(flat uf:q:w2c:ids)"

# a guest crash mid-batch: the event being handled gets attempt + 1 with the
# fault as reason; the others (handled before it, and not reached) are
# re-queued unchanged; nothing written, nothing pending; status 3
printf 'XADD uf:q:w3:in * data %s\n' a b crash d | R >/dev/null
unit --workflow w3 --queue in --step s --idle-ms 0 "$dp" >/dev/null 2>"$UF_TMP/r.err"
rc=$?
q=$(flat uf:q:w3:in)
[ $rc -eq 3 ] && [ "$(R XLEN uf:q:w3:out)" = 0 ] && [ "$(pending uf:q:w3:in s)" = 0 ] && [ "$(R XLEN uf:q:w3:in)" = 8 ] &&
	pass crash-commits-nothing ||
	fail crash-commits-nothing "status $rc, out $(R XLEN uf:q:w3:out), pending $(pending uf:q:w3:in s), in $(R XLEN uf:q:w3:in)"
# (the fault in the architecture's words: x86-64's #PF, aarch64's data abort)
null_fault="#PF page fault: NULL pointer dereference"
[ "$(hvt_arch)" = aarch64 ] && null_fault="data abort: NULL pointer dereference"
[[ $q =~ "data crash origin "[0-9-]+" attempt 1 reason guest fault: $null_fault" ]] &&
	[[ $q =~ "data a origin "[0-9-]+" attempt 0 "[0-9] ]] && [[ $q =~ "data b origin "[0-9-]+" attempt 0 "[0-9] ]] &&
	[[ $q =~ "data d origin "[0-9-]+" attempt 0"( |$) ]] && pass crash-culprit-requeued ||
	fail crash-culprit-requeued "stream: $q"
# ... and the counter has no contribution from the uncommitted events
[ -z "$(R GET uf:kv:w3:n)" ] && pass crash-kv-not-committed || fail crash-kv-not-committed "n = $(R GET uf:kv:w3:n)"
# ... with batches of one, what came before the crash is committed
printf 'XADD uf:q:w4:in * data %s\n' a b crash d | R >/dev/null
unit --workflow w4 --queue in --step s --batch 1 "$dp" >/dev/null 2>&1
[ "$(R XLEN uf:q:w4:out)" = 2 ] && [ "$(R GET uf:kv:w4:n)" = 2 ] && [ "$(pending uf:q:w4:in s)" = 0 ] &&
	pass crash-batch-of-one ||
	fail crash-batch-of-one "out $(R XLEN uf:q:w4:out), n $(R GET uf:kv:w4:n), pending $(pending uf:q:w4:in s)"

# the CPU time limit: the same, with the time limit as reason; status 4
printf 'XADD uf:q:w7:in * data %s\n' a spin c | R >/dev/null
unit --workflow w7 --queue in --step s --timeout-ms 100 "$dp" >/dev/null 2>&1
rc=$?
q=$(flat uf:q:w7:in)
[ $rc -eq 4 ] && [ "$(pending uf:q:w7:in s)" = 0 ] && [ -z "$(R GET uf:kv:w7:n)" ] &&
	[[ $q =~ "data spin origin "[0-9-]+" attempt 1 reason time limit: event 2 used more than 100 ms of CPU time" ]] &&
	[[ $q =~ "data a origin "[0-9-]+" attempt 0" ]] && [[ $q =~ "data c origin "[0-9-]+" attempt 0" ]] &&
	pass timeout-culprit-requeued || fail timeout-culprit-requeued "status $rc, pending $(pending uf:q:w7:in s), stream: $q"

# exit(0) mid-batch: what was handled is committed, the rest handed back unchanged
printf 'XADD uf:q:w8:in * data %s\n' a exit c d | R >/dev/null
unit --workflow w8 --queue in --step s "$dp" >/dev/null 2>&1
rc=$?
q=$(flat uf:q:w8:in)
[ $rc -eq 0 ] && [ "$(R XLEN uf:q:w8:out)" = 2 ] && [ "$(pending uf:q:w8:in s)" = 0 ] &&
	[[ $q =~ "data c origin "[0-9-]+" attempt 0" ]] && [[ $q =~ "data d origin "[0-9-]+" attempt 0" ]] &&
	pass exit-hands-back || fail exit-hands-back "status $rc, out $(R XLEN uf:q:w8:out), stream: $q"

# grants: a push to a queue outside --push-allow fails the event (DLQ with the
# reason), logged once as key=value naming unit, step, workflow and queue
printf 'XADD uf:q:w9:in * data %s\n' ok deny deny ok | R >/dev/null
unit --workflow w9 --queue in --step g --consumer u9 --retries 0 --push-allow out,other "$dp" >/dev/null 2>"$UF_TMP/r.err"
rc=$?
[ $rc -eq 0 ] && [ "$(R XLEN uf:q:w9:out)" = 2 ] && [ "$(R XLEN uf:q:w9:secret)" = 0 ] && [ "$(R XLEN uf:dlq:w9:in)" = 2 ] &&
	[[ $(flat uf:dlq:w9:in) == *"reason push to queue 'secret' not granted (allowed: out, other) time "* ]] &&
	[ "$(R GET uf:kv:w9:n)" = 2 ] && pass push-not-granted ||
	fail push-not-granted "status $rc, out $(R XLEN uf:q:w9:out), secret $(R XLEN uf:q:w9:secret), dlq: $(flat uf:dlq:w9:in)"
[ "$(grep -c 'error=push_not_granted' "$UF_TMP/r.err")" = 1 ] &&
	grep -q '^uf-hvt: unit=u9 workflow=w9 step=g queue=secret error=push_not_granted allowed=out,other$' "$UF_TMP/r.err" &&
	pass push-not-granted-logged || fail push-not-granted-logged "$(cat "$UF_TMP/r.err")"
# an empty grant: no queue at all (a step whose manifest lists no push:)
printf 'XADD uf:q:w9b:in * data %s\n' ok | R >/dev/null
unit --workflow w9b --queue in --step g --consumer u9b --retries 0 --push-allow= "$dp" >/dev/null 2>"$UF_TMP/r.err"
rc=$?
[ $rc -eq 0 ] && [ "$(R XLEN uf:q:w9b:out)" = 0 ] && [ "$(R XLEN uf:dlq:w9b:in)" = 1 ] &&
	[[ $(flat uf:dlq:w9b:in) == *"not granted (allowed: none)"* ]] && pass push-allow-none ||
	fail push-allow-none "status $rc, out $(R XLEN uf:q:w9b:out), dlq: $(flat uf:dlq:w9b:in)"
"$HVT" --push-allow out,,x "$dp" </dev/null >/dev/null 2>"$UF_TMP/r.err"
rc=$?
[ $rc -eq 2 ] && grep -q "^uf-hvt: --push-allow 'out,,x': must be 0..64 queue names" "$UF_TMP/r.err" && pass push-allow-bad ||
	fail push-allow-bad "status $rc: $(cat "$UF_TMP/r.err")"
"$HVT" --retries -1 "$dp" </dev/null >/dev/null 2>"$UF_TMP/r.err"
rc=$?
[ $rc -eq 2 ] && grep -q "^uf-hvt: --retries '-1': must be a number" "$UF_TMP/r.err" && pass retries-bad ||
	fail retries-bad "status $rc: $(cat "$UF_TMP/r.err")"

# read-your-writes inside a batch (set, get, del, blind and read increments)
R SET uf:kv:w10:base 40 >/dev/null
printf 'XADD uf:q:w10:in * data %s\n' a ryw b | R >/dev/null
unit --workflow w10 --queue in --step s "$dp" >/dev/null 2>"$UF_TMP/r.err"
[ "$(R XRANGE uf:q:w10:ryw - + | sed -n 3p)" = "ryw ok" ] && [ "$(R GET uf:kv:w10:base)" = 42 ] &&
	[ "$(R GET uf:kv:w10:n)" = 3 ] && pass read-your-writes ||
	fail read-your-writes "$(flat uf:q:w10:ryw), base $(R GET uf:kv:w10:base), n $(R GET uf:kv:w10:n): $(cat "$UF_TMP/r.err")"

# 1000 events with crashes among them, one unit after another until the queue
# is drained: the counter equals the events acknowledged, exactly
for i in $(seq 1000); do
	case $i in 100 | 400 | 401 | 950) echo "XADD uf:q:w11:in * data crash" ;; *) echo "XADD uf:q:w11:in * data ok" ;; esac
done | R >/dev/null
runs=0
while [ $runs -lt 30 ]; do
	runs=$((runs + 1))
	unit --workflow w11 --queue in --step s --consumer "c$runs" --retries 1 --idle-ms 100 "$dp" >/dev/null 2>&1 && break
done
acked=0
for f in $(R HKEYS uf:stat:w11:s | grep '^c'); do acked=$((acked + $(R HGET uf:stat:w11:s "$f"))); done
[ "$(R GET uf:kv:w11:n)" = 996 ] && [ $acked = 996 ] && [ "$(R XLEN uf:q:w11:out)" = 996 ] &&
	[ "$(R XLEN uf:dlq:w11:in)" = 4 ] && [ "$(R HGET uf:stat:w11:s dead)" = 4 ] && [ "$(pending uf:q:w11:in s)" = 0 ] &&
	pass kv-exact-after-crashes ||
	fail kv-exact-after-crashes "runs $runs, n $(R GET uf:kv:w11:n), acked $acked, out $(R XLEN uf:q:w11:out), dlq $(R XLEN uf:dlq:w11:in), pending $(pending uf:q:w11:in s)"

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

# a Redis ACL user confined to the workflow's keys and to the commands
# docs/tender.md lists runs a unit end to end (fdc, then failures and the
# DLQ): the list is complete.  The same user without HINCRBY cannot commit.
cmds="+xreadgroup +xgroup|create +xack +xadd +multi +exec +get +set +incrby +del +publish +hincrby"
keys="~uf:q:acl:* ~uf:kv:acl:* ~uf:dlq:acl:* ~uf:stat:acl:* ~uf:delay:acl:*"
R ACL SETUSER ufacl reset on '>s3cret' $keys resetchannels '&uf:reply:acl' -@all $cmds '(%W~uf:out:mqtt:acl +xadd)' '(%R~uf:quota:acl +get)' >/dev/null
R ACL SETUSER ufpoor reset on '>s3cret' $keys resetchannels '&uf:reply:acl' -@all ${cmds% +hincrby} '(%R~uf:quota:acl +get)' >/dev/null
{ for i in $(seq 299); do echo "XADD uf:q:acl:fridge-door * data open"; done
	echo "XADD uf:q:acl:fridge-door * data open reply tok1"; } | R >/dev/null # a waiting invoke: PUBLISH
UF_REDIS_USER=ufacl UF_REDIS_PASSWORD=s3cret unit --workflow acl --queue fridge-door --step fdc "$fdc" >/dev/null 2>"$UF_TMP/r.err"
rc=$?
[ $rc -eq 0 ] && [ "$(R GET uf:kv:acl:fdc-count)" = 300 ] && [ "$(R XLEN uf:q:acl:door-opens)" = 300 ] &&
	[ "$(pending uf:q:acl:fridge-door fdc)" = 0 ] && pass acl-user-fdc ||
	fail acl-user-fdc "status $rc, count $(R GET uf:kv:acl:fdc-count): $(cat "$UF_TMP/r.err")"
printf 'XADD uf:q:acl:in * data %s\n' ok fail ryw deny | R >/dev/null
UF_REDIS_USER=ufacl UF_REDIS_PASSWORD=s3cret unit --workflow acl --queue in --step s --retries 1 --push-allow out,ryw \
	"$dp" >/dev/null 2>"$UF_TMP/r.err"
rc=$?
[ $rc -eq 0 ] && [ "$(R XLEN uf:dlq:acl:in)" = 2 ] && [ "$(R XLEN uf:q:acl:out)" = 2 ] && [ "$(pending uf:q:acl:in s)" = 0 ] &&
	pass acl-user-retries || fail acl-user-retries "status $rc, dlq $(R XLEN uf:dlq:acl:in): $(cat "$UF_TMP/r.err")"
R XADD uf:q:acl:fridge-door '*' data open >/dev/null
UF_REDIS_USER=ufpoor UF_REDIS_PASSWORD=s3cret unit --workflow acl --queue fridge-door --step fdc "$fdc" >/dev/null 2>"$UF_TMP/r.err"
rc=$?
[ $rc -eq 7 ] && grep -q "redis: commit (MULTI/EXEC): .*NOPERM.*hincrby" "$UF_TMP/r.err" && pass acl-missing-command ||
	fail acl-missing-command "status $rc: $(cat "$UF_TMP/r.err")"
# ... and another workflow's keys are out of its reach: refused before the unit starts
UF_REDIS_USER=ufacl UF_REDIS_PASSWORD=s3cret unit --workflow other --queue in "$fdc" >/dev/null 2>"$UF_TMP/r.err"
rc=$?
[ $rc -eq 2 ] && grep -q "XGROUP CREATE uf:q:other:in in: NOPERM" "$UF_TMP/r.err" && pass acl-other-workflow ||
	fail acl-other-workflow "status $rc: $(cat "$UF_TMP/r.err")"
# a wrong password: a clear error and status 2
UF_REDIS_USER=ufacl UF_REDIS_PASSWORD=wrong unit --workflow acl --queue in "$fdc" >/dev/null 2>"$UF_TMP/r.err"
rc=$?
[ $rc -eq 2 ] && grep -q "^uf-hvt: $fdc: redis at $sock: AUTH as ufacl: WRONGPASS .* (check UF_REDIS_USER and UF_REDIS_PASSWORD)$" \
	"$UF_TMP/r.err" && pass wrong-password || fail wrong-password "status $rc: $(cat "$UF_TMP/r.err")"

# a standby tender (uf-hvt --standby): VM and vCPU first, then the unit's
# options, image and environment from stdin; released by end of file
launch() { # ARGS... : a launch request on stdout
	printf 'UFLAUNCH1\n'
	for a in "$@"; do printf 'A%s\0' "$a"; done
}
printf 'XADD uf:q:sb:in * data %s\n' open open open | R >/dev/null
launch --redis "$sock" --workflow sb --queue in --step fdc "$fdc" | { sleep 0.1; cat; } |
	timeout 20 "$HVT" --standby >/dev/null 2>"$UF_TMP/r.err"
rc=$?
[ $rc -eq 0 ] && [ "$(R GET uf:kv:sb:fdc-count)" = 3 ] && [ "$(pending uf:q:sb:in fdc)" = 0 ] && pass standby-launch ||
	fail standby-launch "status $rc, count $(R GET uf:kv:sb:fdc-count): $(cat "$UF_TMP/r.err")"
timeout 10 "$HVT" --standby </dev/null >"$UF_TMP/r.out" 2>&1
rc=$?
[ $rc -eq 0 ] && [ ! -s "$UF_TMP/r.out" ] && pass standby-released || fail standby-released "status $rc: $(cat "$UF_TMP/r.out")"
printf 'UFLAUNCH1\nX--bogus\0' | timeout 10 "$HVT" --standby >/dev/null 2>"$UF_TMP/r.err"
rc=$?
[ $rc -eq 2 ] && grep -q "^uf-hvt: standby: malformed launch request token 'X--bogus'" "$UF_TMP/r.err" &&
	pass standby-malformed || fail standby-malformed "status $rc: $(cat "$UF_TMP/r.err")"
{ launch --redis "$sock" --workflow sb --queue in "$fdc"; printf 'EUF_REDIS_PASSWORD=wrong\0'; } |
	timeout 10 "$HVT" --standby >/dev/null 2>"$UF_TMP/r.err"
rc=$?
[ $rc -eq 2 ] && grep -q "AUTH: .*(check UF_REDIS_USER and UF_REDIS_PASSWORD)" "$UF_TMP/r.err" && pass standby-env ||
	fail standby-env "status $rc: $(cat "$UF_TMP/r.err")"

# errors: no server; a server that goes away while the unit waits
unit --queue x "$fdc" >/dev/null 2>"$UF_TMP/r.err" --redis "$dir/nothing.sock"
rc=$?
[ $rc -eq 2 ] && grep -q "redis at $dir/nothing.sock: " "$UF_TMP/r.err" && pass no-server ||
	fail no-server "status $rc: $(cat "$UF_TMP/r.err")"
# (idle 120 s: the unit waits until Redis goes, however long the look at
# CLIENT LIST takes on a loaded machine; with 5 s it could end idle first)
timeout 180 "$HVT" --redis "$sock" --workflow w6 --queue in --idle-ms 120000 "$fdc" >/dev/null 2>"$UF_TMP/r.err" &
waiter=$!
wait_for 60 sh -c "redis-cli -s '$sock' CLIENT LIST | grep -Eq 'flags=[A-Za-z]*b'" # the unit waits in XREADGROUP
R shutdown nosave >/dev/null 2>&1
wait $waiter
rc=$?
[ $rc -eq 7 ] && grep -q 'redis: XREADGROUP' "$UF_TMP/r.err" && pass server-gone ||
	fail server-gone "status $rc: $(cat "$UF_TMP/r.err")"
finish

