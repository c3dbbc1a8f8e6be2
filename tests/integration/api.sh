#!/usr/bin/env bash
# The control API under bad input and failures (docs/api.md): every request
# gets a JSON answer with the documented status and code, also for bytes
# that are not UTF-8 and for overlong values; writes Redis refuses are
# reported as 503 and never as success; nothing of a refused request is
# half-applied.  Raw HTTP with curl against a private platform.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

plat_suite_up
U deploy "$UF_TOP/workflows/eval.yaml" >/dev/null || { fail deploy "eval did not deploy"; exit 0; }
TOKEN=$(cat "$PLAT_STATE/api.token")
API=http://127.0.0.1:$PLAT_API_PORT

# req METHOD PATH [curl args...]: prints "STATUS BODY"
req() {
	local m=$1 p=$2
	shift 2
	curl -s -o "$UF_TMP/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $TOKEN" "$@" "$API$p" >"$UF_TMP/code"
	printf '%s %s' "$(cat "$UF_TMP/code")" "$(tr -d '\n' <"$UF_TMP/body")"
}
# expect NAME "STATUS CODE" METHOD PATH [curl args...]: status and error code
expect() {
	local name=$1 want=$2 got
	shift 2
	got=$(req "$@")
	local status=${got%% *} body=${got#* }
	local code
	code=$(printf '%s' "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["error"]["code"])' 2>/dev/null)
	[ "$status $code" = "$want" ] && pass "$name" || fail "$name" "want $want, got $status: $body"
}

code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong" "$API/v1/units")
[ "$code" = 401 ] && pass wrong-token || fail wrong-token "status $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$API/v1/units")
[ "$code" = 401 ] && pass no-token || fail no-token "status $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$API/v1/health")
[ "$code" = 200 ] && pass health-without-token || fail health-without-token "status $code"
expect unknown-path "404 not_found" GET /v1/nothing
expect bad-method "405 method_not_allowed" PUT /v1/units
expect not-utf8-workflow "400 bad_request" GET /v1/workflows/%FF
expect not-utf8-path "404 not_found" GET /v1/nope%C3
expect not-utf8-kv-key "400 bad_request" GET /v1/workflows/eval/kv/%FFabc
expect kv-key-nul "400 bad_request" GET /v1/workflows/eval/kv/a%00b
expect missing-key "404 key_not_found" GET /v1/workflows/eval/kv/no-such-key
expect unknown-queue "404 not_found" POST /v1/workflows/eval/queues/nobody/events --data-binary x
expect bad-offset "400 bad_request" GET "/v1/workflows/eval/steps/fdc/logs?offset=-9223372036854775809"
expect bad-wait "400 bad_request" GET "/v1/workflows/eval/steps/fdc/logs?wait_ms=99999"
# a query value that decodes to NUL is refused, not read cut short (tail=1%00x was tail=1)
expect query-nul "400 bad_request" GET "/v1/workflows/eval/steps/fdc/logs?tail=1%00x"
expect query-nul-events "400 bad_request" GET "/v1/workflows/eval/queues/door-opens/events?count=1%00"
expect query-nul-name "400 bad_request" GET "/v1/workflows/eval/queues/door-opens/events?co%00unt=1"
expect query-nul-deploy "400 bad_request" POST "/v1/workflows?dir=/tmp%00/x" --data-binary "name: x"
got=$(req GET "/v1/workflows/eval/steps/fdc/logs?offset=-9223372036854775808")
[ "${got%% *}" = 200 ] && pass offset-int64-min || fail offset-int64-min "$got"
printf 'name: x\nfunctions:\n  s:\n    image: /nonexistent.uf\n    listen: q\n' >"$UF_TMP/m.yaml"
expect not-utf8-file-name "422 invalid_manifest" POST "/v1/workflows?file=%FF.yaml&dir=/tmp" --data-binary @"$UF_TMP/m.yaml"
expect relative-dir "400 bad_request" POST "/v1/workflows?dir=tmp" --data-binary @"$UF_TMP/m.yaml"

# a KV key any function could write (UTF-8, up to 512 bytes) can be read and set
got=$(req PUT /v1/workflows/eval/kv/caf%C3%A9 --data-binary 42)
[ "${got%% *}" = 204 ] && [ "$(R GET uf:kv:eval:café)" = 42 ] && pass kv-utf8-key || fail kv-utf8-key "$got"
long=$(printf 'k%.0s' $(seq 512))
got=$(req PUT "/v1/workflows/eval/kv/$long" --data-binary 1)
[ "${got%% *}" = 204 ] && pass kv-key-512 || fail kv-key-512 "$got"
expect kv-key-513 "400 bad_request" PUT "/v1/workflows/eval/kv/k$long" --data-binary 1

# sizes: a 4 MB KV value is stored whole; over 16 MiB is refused, nothing stored
head -c 4000000 /dev/zero | tr '\0' x >"$UF_TMP/4m"
got=$(req PUT /v1/workflows/eval/kv/big --data-binary @"$UF_TMP/4m")
[ "${got%% *}" = 204 ] && [ "$(R STRLEN uf:kv:eval:big)" = 4000000 ] && pass kv-4mb-whole ||
	fail kv-4mb-whole "$got, stored $(R STRLEN uf:kv:eval:big)"
head -c 17000000 /dev/zero | tr '\0' x >"$UF_TMP/17m"
expect kv-too-large "413 too_large" PUT /v1/workflows/eval/kv/huge --data-binary @"$UF_TMP/17m"
[ "$(R EXISTS uf:kv:eval:huge)" = 0 ] && pass kv-too-large-nothing-stored || fail kv-too-large-nothing-stored "stored"
expect manifest-too-large "413 too_large" POST "/v1/workflows?dir=/tmp" --data-binary @"$UF_TMP/4m"

# one empty event in binary mode is one event
len0=$(R XLEN uf:q:eval:fridge-door)
got=$(req POST /v1/workflows/eval/queues/fridge-door/events -H 'Content-Type: application/octet-stream' --data-binary '')
[ "${got%% *}" = 202 ] && printf '%s' "$got" | grep -q '"queued":1' && pass push-empty-binary-event ||
	fail push-empty-binary-event "$got"

# Redis refusing writes (out of memory, past its maxmemory): 507 redis_full,
# never a false success
wait_for 60 no_units eval
R CONFIG SET maxmemory 1 >/dev/null
expect push-refused "507 redis_full" POST /v1/workflows/eval/queues/fridge-door/events --data-binary $'a\nb'
expect kv-put-refused "507 redis_full" PUT /v1/workflows/eval/kv/x --data-binary 1
R CONFIG SET maxmemory 0 >/dev/null
[ "$(R EXISTS uf:kv:eval:x)" = 0 ] && pass refused-nothing-stored || fail refused-nothing-stored "x stored"

# a unit killed while Redis refuses the re-queue: its events stay pending and
# are settled once Redis takes writes again (none lost)
m=$(manifest oom <<EOF
name: oom
functions:
  s:
    image: $(build_guest "$UF_TOP/tests/platform/platform_fn.c")
    listen: in
    batch: 64
    scale: { max_units: 1, idle_ms: 5000 }
EOF
)
U deploy "$m" >/dev/null
# the unit holds its batch until uf:kv:oom:go exists (platform_fn.c wait:K):
# with 40 events of ~1 s of work in all (SPIN), a unit on a loaded machine
# did them between two looks of kill_holding (stopped 15 times, never
# holding), and was never killed
{ for i in $(seq 40); do echo x; done; echo wait:go; } | U push oom in >/dev/null
wait_for 60 plat_pids '--consumer=oom\.s\.'
kill_holding oom in s R CONFIG SET maxmemory 1 >/dev/null # killed holding its batch
# Redis takes writes again once the daemon has tried to settle the unit
# (waited for: a loaded machine outlasts a fixed delay)
wait_for 60 sh -c "grep -q 'what=settle unit=oom.s.1 .*result=incomplete' '$PLAT_STATE/logs/unifaasd.log'"
R CONFIG SET maxmemory 0 >/dev/null
R SET uf:kv:oom:go 1 >/dev/null # the next unit goes through the batch
if wait_for 120 kv_is oom count 40; then
	pass oom-kill-nothing-lost
else
	fail oom-kill-nothing-lost "count $(kv oom count), pending $(R XPENDING uf:q:oom:in s | head -1), dead $(R XLEN uf:dlq:oom:in)"
fi
daemon_log | grep -q 'what=settle unit=oom.s.1 .*result=incomplete' && pass settle-incomplete-logged ||
	fail settle-incomplete-logged "no incomplete settle line; the unit's lines: $(daemon_log | grep -E 'unit=oom\.s\.1|workflow=oom' | tail -4 | cut -c1-240 | tr '\n' ' ')"

# deploy --replace: a replace that fails leaves the deployed workflow running
R SET uf:q:eval:zz notastream >/dev/null
zz="$UF_TOP/workflows/.zz-test.$UF_SUITE.$$.yaml" # beside eval.yaml (relative image paths); one per suite and run
{ cat "$UF_TOP/workflows/eval.yaml"; printf '  zz-step:\n    image: ../build/functions/door_log.uf\n    listen: zz\n'; } >"$zz"
U deploy --replace "$zz" >"$UF_TMP/r.out" 2>&1
rc=$?
rm -f "$zz"
got=$(req GET /v1/workflows/eval)
[ $rc -ne 0 ] && [ "${got%% *}" = 200 ] && echo open | U push eval fridge-door >/dev/null && pass failed-replace-keeps-workflow ||
	fail failed-replace-keeps-workflow "deploy rc $rc ($(cat "$UF_TMP/r.out")), then $got"
R DEL uf:q:eval:zz >/dev/null
# ... and a replace while units work neither counts their events as failures nor loses one
m=$(manifest rep <<EOF
name: rep
functions:
  s:
    image: $UF_TMP/platform_fn.uf
    listen: in
    env: { SPIN: "5000000" }
    batch: 8
    retries: 0
    scale: { max_units: 2, idle_ms: 500 }
EOF
)
U deploy "$m" >/dev/null
for i in $(seq 100); do echo x; done | U push rep in >/dev/null
wait_for 60 plat_pids '--consumer=rep\.s\.'
sleep 0.2
U deploy --replace "$m" >/dev/null
if wait_for 180 sh -c "[ \$(\"$UNIFAAS\" --state-dir \"$PLAT_STATE\" kv get rep count) -ge 100 ]" && wait_for 60 drained rep in s; then
	[ "$(R XLEN uf:dlq:rep:in)" = 0 ] && pass replace-busy-nothing-failed || fail replace-busy-nothing-failed "$(R XLEN uf:dlq:rep:in) dead-lettered"
else
	fail replace-busy-nothing-failed "count $(kv rep count) of 100"
fi

# units never inherit the daemon's (admin) Redis connections
wait_for 60 plat_pids '--standby'
sb=$(plat_pids '--standby' | head -1)
socks=$(ls -l /proc/"$sb"/fd 2>/dev/null | grep -c socket)
[ -n "$sb" ] && [ "$socks" = 0 ] && pass standby-no-inherited-sockets ||
	fail standby-no-inherited-sockets "standby $sb holds $socks sockets: $(ls -l /proc/"$sb"/fd 2>&1 | tail -5 | tr '\n' ' ')"

# SIGTERM with busy units: the daemon ends by itself
for i in $(seq 5000); do echo open; done | U push eval fridge-door >/dev/null
pid=$(cat "$PLAT_STATE/unifaasd.pid")
kill -TERM "$pid"
wait_for 60 sh -c "! kill -0 $pid 2>/dev/null || grep -q '^State:.Z' /proc/$pid/status" && pass sigterm-with-busy-units ||
	fail sigterm-with-busy-units "unifaasd $pid still running: $(tail -3 "$PLAT_STATE/logs/unifaasd.log" | tr '\n' ' ')"
daemon_log | grep -q 'what=shutdown result=done' && pass shutdown-done-logged || fail shutdown-done-logged "no done line"
