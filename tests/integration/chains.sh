#!/usr/bin/env bash
# unifaasd's reply chains (it never waits for Redis: store_send) against
# what can happen while a reply is on its way: the workflow undeployed,
# purged or deployed again, the API client gone, the daemon told to stop.
# Each chain must end, leave no count behind and touch nothing freed (the
# ASan build aborts on that: UF_BUILD=build-asan).  Redis is stopped with
# SIGSTOP to hold replies back (SIGCONT on every exit path).
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || { fail build "platform_fn.c did not build"; exit 0; }
RPID=
cleanup() {
	[ -n "$RPID" ] && kill -CONT "$RPID" 2>/dev/null
	plat_down
}
trap cleanup EXIT
plat_up || { fail up "unifaas up failed: $(tail -5 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"; exit 0; }
RPID=$(cat "$PLAT_STATE/redis.pid" 2>/dev/null || cat "$PLAT_STATE/redis-server.pid")
PORT=$PLAT_API_PORT
TOKEN=$(cat "$PLAT_STATE/api.token")
api() { curl -s --max-time 5 -H "Authorization: Bearer $TOKEN" "$@"; }
# the daemon's count of units (GET /v1/status), retired workflows' included
node_units() { api "http://127.0.0.1:$PORT/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["units"])'; }
node_units_is() { [ "$(node_units)" = "$1" ]; }
sanitizer_clean() { ! grep -E "AddressSanitizer|LeakSanitizer|runtime error|Assertion" "$PLAT_STATE/logs/unifaasd.log"; }
daemon_alive() { kill -0 "$(cat "$PLAT_STATE/unifaasd.pid")" 2>/dev/null; }

# ---- a unit stopped by undeploy --purge: its queue is gone before it is
# settled (XPENDING answers NOGROUP); it must still be forgotten, not
# retried every 500 ms for ever, holding a place under the node's max_units
m=$(manifest gone <<EOF
name: gone
functions:
  s:
    image: $fn
    listen: in
    timeout_ms: 60000
    scale: { max_units: 1, idle_ms: 20000, grace_ms: 0 }
EOF
)
U deploy "$m" >/dev/null || { fail deploy "gone did not deploy"; exit 0; }
echo hang | U push gone in >/dev/null
if ! wait_for 10 holds gone in s; then
	fail purge-while-held "the unit did not take the event"
else
	U undeploy --purge gone >/dev/null
	if wait_for 8 node_units_is 0; then
		pass purge-while-held
	else
		fail purge-while-held "the node still counts $(node_units) unit(s) 8 s after undeploy --purge; log: $(grep -E 'gone\.s|settle' "$PLAT_STATE/logs/unifaasd.log" | tail -n 3 | tr '\n' ' ')"
	fi
fi
check purge-while-held-sanitizer sanitizer_clean
