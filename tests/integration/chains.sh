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

# ---- deploy --replace and undeploy of one workflow at the same time: their
# writes must not interleave.  Before, the undeploy went through while the
# deploy's writes were out, its ACL DELUSER and state deletion landed after
# the deploy's, and the deploy then committed: a workflow deployed in the
# daemon whose Redis user, state and list entry were gone (its units could
# not log in; a restart lost it)
m=$(manifest race <<EOF
name: race
functions:
  s:
    image: $fn
    listen: in
EOF
)
# consistent WF: deployed in the daemon exactly when Redis keeps it (its
# list entry, its state and its ACL user)
consistent() {
	local listed state user
	listed=$(R SISMEMBER uf:state:workflows "$1") state=$(R EXISTS "uf:state:wf:$1")
	user=$(R ACL GETUSER "uf-wf-$1" | head -1)
	if not_deployed "$1"; then
		[ "$listed" = 0 ] || echo "$1 is not deployed, yet Redis lists it"
		[ "$listed" = 0 ]
	else
		[ "$listed$state" = 11 ] && [ -n "$user" ] ||
			{ echo "$1 is deployed, yet Redis has list=$listed state=$state user='$user'" && return 1; }
	fi
}
ended() { grep -q '^rc=' "$1"; }
undeploy_seen() { ended "$UF_TMP/race.u" || not_deployed race; }
if ! U deploy "$m" >/dev/null; then
	fail deploy-undeploy-race "race did not deploy"
else
	kill -STOP "$RPID"
	(
		U deploy --replace "$m"
		echo "rc=$?"
	) >"$UF_TMP/race.d" 2>&1 &
	dp=$!
	wait_for 5 test -e "$PLAT_STATE/images/race/s.uf.new" # staged: its writes are out
	(
		U undeploy race
		echo "rc=$?"
	) >"$UF_TMP/race.u" 2>&1 &
	up=$!
	wait_for 5 undeploy_seen
	kill -CONT "$RPID"
	wait $dp $up
	check deploy-undeploy-race consistent race
fi

# ---- undeploy --purge of a kept workflow and a deploy of its name at the
# same time: before, the purge's SCAN/UNLINK ran after the deploy committed
# and deleted the new workflow's queue (its consumer group) and images
m=$(manifest race2 <<EOF
name: race2
functions:
  s:
    image: $fn
    listen: in
EOF
)
# whole WF: if deployed, its image and its step's consumer group are there
whole() {
	not_deployed "$1" && return 0
	[ -e "$PLAT_STATE/images/$1/s.uf" ] || { echo "$1 is deployed without its image" && return 1; }
	R XINFO GROUPS "uf:q:$1:in" 2>&1 | grep -qx s || { echo "$1 is deployed without its consumer group" && return 1; }
}
if ! U deploy "$m" >/dev/null || ! U undeploy race2 >/dev/null; then
	fail purge-deploy-race "race2 did not deploy and undeploy"
else
	kill -STOP "$RPID"
	(
		U undeploy --purge race2
		echo "rc=$?"
	) >"$UF_TMP/race2.u" 2>&1 &
	up=$!
	sleep 0.3 # the purge asks whether race2 is kept, and waits
	(
		U deploy "$m"
		echo "rc=$?"
	) >"$UF_TMP/race2.d" 2>&1 &
	dp=$!
	wait_for 5 sh -c "grep -q '^rc=' '$UF_TMP/race2.d' || test -e '$PLAT_STATE/images/race2/s.uf.new'"
	kill -CONT "$RPID"
	wait $dp $up
	check purge-deploy-race whole race2
fi
check races-sanitizer sanitizer_clean
