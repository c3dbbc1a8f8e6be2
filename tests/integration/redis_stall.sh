#!/usr/bin/env bash
# unifaasd never waits for Redis (docs/api.md): with redis-server stopped
# (SIGSTOP, at most 6 s, SIGCONT on every exit path) the API still answers
# at once (/v1/health says degraded, `unifaas ps` lists the units with the
# last event counts), and a unit that hangs on an event is still killed when
# its time budget (timeout_ms per event held + 1 s) runs out, from the
# deadline the daemon read before the stall; once Redis is back its event
# is dead-lettered with the unit's own reason (hung), nothing lost.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || { fail build "platform_fn.c did not build"; exit 0; }
plat_suite_up
RPID=$(redis_pid)
PORT=$PLAT_API_PORT
m=$(manifest stall <<EOF
name: stall
functions:
  s:
    image: $fn
    listen: in
    retries: 0
    timeout_ms: 500
    scale: { max_units: 1, idle_ms: 20000, grace_ms: 0 }
EOF
)
U deploy "$m" >/dev/null || { fail deploy "stall did not deploy"; exit 0; }
echo hang | U push stall in >/dev/null
# the unit holds the event: its budget is 500 ms + 1 s from delivery
wait_for 10 sh -c "[ \"\$(REDISCLI_AUTH=\$(cat '$PLAT_STATE/redis.pass') redis-cli --no-auth-warning -s '$PLAT_STATE/redis.sock' XPENDING uf:q:stall:in s | head -1)\" = 1 ]" ||
	{ fail held "the unit did not take the event"; exit 0; }
t0=$(date +%s%N)
sleep 0.3 # the daemon reads the unit's deadline within a tick (100 ms); one it never read cannot be kept
upid=$(plat_pids '--consumer=stall\.s\.' | head -1)
kill -STOP "$RPID"
# when the hung unit is gone (killed and reaped), watched meanwhile
(
	while [ $((($(date +%s%N) - t0) / 1000000)) -lt 5000 ]; do
		if ! kill -0 "$upid" 2>/dev/null || grep -q '^State:.Z' "/proc/$upid/status" 2>/dev/null; then
			echo $((($(date +%s%N) - t0) / 1000000))
			break
		fi
		sleep 0.02
	done >"$UF_TMP/gone_ms"
) &
watcher=$!

# the API while Redis is stopped: a deploy waits for Redis (and is refused
# when it does not answer) while everything else is answered at once
m2=$(manifest stall2 <<EOF
name: stall2
functions:
  s:
    image: $fn
    listen: in
EOF
)
(
	t=$(date +%s%N)
	"$UNIFAAS" --state-dir "$PLAT_STATE" deploy "$m2" >/dev/null 2>&1
	echo "$? $((($(date +%s%N) - t) / 1000000))"
) >"$UF_TMP/deploy2" &
deployer=$!
H() { python3 "$UF_TOP/tests/platform/hostile.py" "$@"; }
hl=$(H health "$PORT" 1.5)
t=$(date +%s%N)
ps_out=$(timeout 5 "$UNIFAAS" --state-dir "$PLAT_STATE" ps --json)
ps_rc=$? ps_ms=$((($(date +%s%N) - t) / 1000000))
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/v1/health")
# the hung unit, killed on time with Redis still stopped
wait $watcher $deployer
read -r d2_rc d2_ms <"$UF_TMP/deploy2"
gone_ms=$(cat "$UF_TMP/gone_ms")
kill -CONT "$RPID"
echo "info: Redis stopped: health $hl; ps ${ps_ms} ms rc $ps_rc; health status $code; hung unit gone after ${gone_ms:-never} ms (budget 1500 ms from delivery); deploy rc $d2_rc after $d2_ms ms"

max=$(printf '%s\n' "$hl" | tr ' ' '\n' | sed -n 's/^max_ms=//p')
[ "${max:-99999}" -lt 300 ] && pass health-prompt-while-redis-stopped || fail health-prompt-while-redis-stopped "$hl"
[ "$code" = 503 ] && pass health-says-degraded || fail health-says-degraded "status $code"
[ $ps_rc = 0 ] && [ $ps_ms -lt 2000 ] && printf '%s' "$ps_out" | grep -q '"stall.s.' &&
	printf '%s' "$ps_out" | grep -Eq '"stale": *true' && pass ps-while-redis-stopped ||
	fail ps-while-redis-stopped "rc $ps_rc in $ps_ms ms: $ps_out"
[ "$d2_rc" = 69 ] && [ "$d2_ms" -lt 4000 ] && pass deploy-refused-while-redis-stopped ||
	fail deploy-refused-while-redis-stopped "rc $d2_rc after $d2_ms ms"
# on time: gone while Redis was stopped, killed when it had held the event for
# its budget (1500 ms) and not much later, as the daemon measured it (the
# test's own clock starts when it saw the event held, late on a loaded machine)
held_ms=$(daemon_log | sed -n 's/.*what=unit-hung unit=stall\.s\.[0-9]* .*idle_ms=\([0-9]*\).*/\1/p' | head -1)
[ -n "$gone_ms" ] && [ "${held_ms:-0}" -ge 1500 ] && [ "$held_ms" -lt 2500 ] && pass hung-unit-killed-on-time ||
	fail hung-unit-killed-on-time "gone after ${gone_ms:-never} ms, killed after holding the event ${held_ms:-?} ms"

# Redis back: the event is dead-lettered as hung, the daemon healthy again
if wait_for 15 xlen_is uf:dlq:stall:in 1; then
	R XRANGE uf:dlq:stall:in - + | grep -q 'hung: held 1 event' && pass hung-dead-lettered-after-stall ||
		fail hung-dead-lettered-after-stall "$(R XRANGE uf:dlq:stall:in - + | tr '\n' ' ')"
else
	fail hung-dead-lettered-after-stall "dlq $(R XLEN uf:dlq:stall:in), pending $(R XPENDING uf:q:stall:in s | head -1)"
fi
wait_for 10 sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/v1/health) = 200 ]" && pass healthy-after-stall ||
	fail healthy-after-stall "health still $(curl -s "http://127.0.0.1:$PORT/v1/health")"
echo x | U push stall in >/dev/null && wait_for 10 drained stall in s && pass works-after-stall || fail works-after-stall "x not handled"
U deploy "$m2" >/dev/null && U undeploy --purge stall2 >/dev/null && pass deploy-after-stall || fail deploy-after-stall "stall2 did not deploy and purge"
