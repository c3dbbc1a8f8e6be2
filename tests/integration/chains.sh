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
plat_suite_up
RPID=$(redis_pid)
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
if ! wait_for 60 holds gone in s; then
	fail purge-while-held "the unit did not take the event"
else
	U undeploy --purge gone >/dev/null
	# (the hung unit is drained: told to end after unit_drain_ms, 5 s, and
	# killed 1 s later; 8 s left a loaded machine 2 s for the rest)
	if wait_for 60 node_units_is 0; then
		pass purge-while-held
	else
		fail purge-while-held "the node still counts $(node_units) unit(s) 60 s after undeploy --purge; log: $(grep -E 'gone\.s|settle' "$PLAT_STATE/logs/unifaasd.log" | tail -n 3 | tr '\n' ' ')"
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

# ---- redis-server killed while a deploy's writes wait for their replies:
# the deploy is refused (503: every reply NULL), nothing half-deployed, and
# the same deploy goes through once Redis is back
m=$(manifest rd <<EOF
name: rd
functions:
  s:
    image: $fn
    listen: in
EOF
)
kill -STOP "$RPID"
(
	U deploy "$m"
	echo "rc=$?"
) >"$UF_TMP/rd.d" 2>&1 &
dp=$!
wait_for 5 test -e "$PLAT_STATE/images/rd/s.uf.new"
kill -9 "$RPID"
wait $dp
U up >/dev/null 2>&1 || fail deploy-redis-killed "unifaas up after kill -9 of redis-server"
RPID=$(redis_pid)
if grep -q '^rc=69' "$UF_TMP/rd.d" && not_deployed rd && consistent rd && U deploy "$m" >/dev/null && consistent rd; then
	pass deploy-redis-killed
else
	fail deploy-redis-killed "$(tr '\n' ' ' <"$UF_TMP/rd.d"); $(consistent rd)"
fi

# ---- a step's check in flight while its workflow is replaced: the check
# (sent for the old step, its backlog read after the new one is deployed)
# must not decide for the new step of the same name.  Before, the old
# queue's backlog was taken for the new step's, which listens elsewhere and
# has nothing to do, and a unit was started for it
m=$(manifest swap <<EOF
name: swap
functions:
  s:
    image: $fn
    listen: a
    timeout_ms: 60000
    scale: { max_units: 1, idle_ms: 20000, grace_ms: 0 }
EOF
)
m2=$(manifest swap2 <<EOF
name: swap
functions:
  s:
    image: $fn
    listen: b
    scale: { max_units: 1, idle_ms: 20000, grace_ms: 0 }
EOF
)
new_unit() { [ "$(units swap)" != 0 ]; }
if ! U deploy "$m" >/dev/null; then
	fail check-across-replace "swap did not deploy"
else
	echo hang | U push swap a >/dev/null
	wait_for 60 holds swap a s
	seq 20 | U push swap a >/dev/null # waiting behind the hung one: a backlog of 20
	kill -STOP "$RPID"
	sleep 0.3 # the tick's check of step s is out (one every 100 ms while a unit runs)
	(
		U deploy --replace "$m2"
		echo "rc=$?"
	) >"$UF_TMP/swap.d" 2>&1 &
	dp=$!
	wait_for 5 test -e "$PLAT_STATE/images/swap/s.uf.new"
	kill -CONT "$RPID"
	wait $dp
	if ! grep -q '^rc=0' "$UF_TMP/swap.d"; then
		fail check-across-replace "the replace failed: $(tr '\n' ' ' <"$UF_TMP/swap.d")"
	elif wait_for 3 new_unit; then
		fail check-across-replace "a unit started for the new step s, whose queue b is empty: $(U ps 2>&1 | tr '\n' ' ')"
	else
		pass check-across-replace
	fi
fi

# ---- API clients that leave while their request waits for Redis: the
# reply (or its absence, 2 s later) comes for a connection that is gone
m=$(manifest busy <<EOF
name: busy
functions:
  s:
    image: $fn
    listen: in
    scale: { max_units: 2, idle_ms: 20000, grace_ms: 0 }
EOF
)
U deploy "$m" >/dev/null || fail deploy "busy did not deploy"
base=http://127.0.0.1:$PORT/v1/workflows/busy
leave() { # clients that give up after 1 s, one of each kind of wait (1 s, not
	# less: 28 curls started at once on a loaded machine may need a good part
	# of a second to connect, and a client that never sent its request tests
	# nothing)
	local i
	for i in 1 2 3 4; do
		api --max-time 1 -o /dev/null "$base/kv/k$i" &
		api --max-time 1 -o /dev/null -X PUT --data-binary v "$base/kv/k$i" &
		api --max-time 1 -o /dev/null --data-binary "set:p$i=p" "$base/queues/in/events" &
		api --max-time 1 -o /dev/null "$base/queues/in/events?wait_ms=3000" &
		api --max-time 1 -o /dev/null "http://127.0.0.1:$PORT/v1/units" &
		api --max-time 1 -o /dev/null "$base" &
		api --max-time 1 -o /dev/null "http://127.0.0.1:$PORT/v1/workflows/nosuch/dlq" &
	done
	wait
}
health_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/v1/health")" = 200 ]; }
# the replies come after the clients left (Redis held ~1 s: its replies come
# before the daemon's 2 s watchdog, unless the machine is so loaded that the
# clients took that long, which is the case below and as good)
kill -STOP "$RPID"
leave
kill -CONT "$RPID"
# no reply at all: the daemon drops the connection after 2 s, every caller hears NULL
kill -STOP "$RPID"
leave
sleep 2.5
kill -CONT "$RPID"
# afterwards the daemon is alive and healthy and reads and writes again.
# What the gone clients wrote is not asserted: a PUT is applied only if its
# request reached the daemon before its client left, which load decides
roundtrip() { api -o /dev/null -X PUT --data-binary after "$base/kv/after" && [ "$(kv busy after)" = after ]; }
if wait_for 10 health_ok && daemon_alive && wait_for 10 roundtrip; then
	pass clients-gone
else
	fail clients-gone "daemon alive: $(daemon_alive && echo yes || echo no); health: $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/v1/health"); kv after: '$(kv busy after)'; log: $(tail -n 3 "$PLAT_STATE/logs/unifaasd.log" | tr '\n' ' ')"
fi
check clients-gone-sanitizer sanitizer_clean

# ---- many clients at once (bounded, loopback) while units work: every
# push confirmed, the events all counted by the units (exact total)
crowd() {
	local i j
	for i in $(seq 16); do
		(
			for j in $(seq 10); do
				api --max-time 60 -o /dev/null -w '%{http_code}\n' --data-binary $'incr\nincr\nincr' "$base/queues/in/events"
				api --max-time 60 -o /dev/null "$base/kv/count"
				api --max-time 60 -o /dev/null "$base/queues/in/events?count=5"
			done
		) &
	done
	wait
}
wait_for 60 drained busy in s
R DEL uf:kv:busy:count >/dev/null
codes=$(crowd | sort | uniq -c | tr -s ' ' | tr '\n' ';')
count_is() { [ "$(kv busy count)" = "$1" ]; }
if [ "$codes" = " 160 202;" ] && wait_for 120 count_is 480; then
	pass crowd
else
	fail crowd "push answers: $codes; count $(kv busy count) of 480"
fi

# ---- redis-server killed (kill -9) in the middle of a batch, and the unit
# holding it killed while Redis is away: the daemon's settling of the unit
# finds no Redis (retried every 500 ms) and ends once Redis is back; every
# event handled exactly once (exact totals), nothing dead, no unit left.
# The work lasts (400 events of SPIN 5000000: ~3 s of CPU) so that the unit
# is still there at the first look on a loaded machine (1000 events of
# 1000000 were done before it, at a load of 25, in the CI of 7fa45b5)
m=$(manifest rk <<EOF
name: rk
functions:
  s:
    image: $fn
    listen: in
    push: [out]
    env: { SPIN: "5000000", OUT: out }
    batch: 64
    retries: 5
    scale: { max_units: 1, idle_ms: 500 }
EOF
)
U deploy "$m" >/dev/null || fail deploy "rk did not deploy"
# the last event holds its batch until uf:kv:rk:go exists (platform_fn.c
# wait:K): the work alone (even ~3 s of CPU) can be over before
# kill_holding's first look on a loaded machine
{ for i in $(seq 400); do echo "r$i"; done; echo wait:go; } | U push rk in >/dev/null
# the unit stopped while it holds a batch, Redis killed meanwhile, then the unit
if ! kill_holding rk in s kill -9 "$RPID"; then
	fail redis-kill9 "no unit holding a batch"
else
	sleep 1.2 # the daemon tries to settle the unit without Redis
	U up >/dev/null 2>&1 || fail redis-kill9 "unifaas up after kill -9 of redis-server"
	RPID=$(redis_pid)
	R SET uf:kv:rk:go 1 >/dev/null
	if wait_for 300 kv_is rk count 400 && wait_for 60 drained rk in s && wait_for 60 node_units_is 0; then
		pass redis-kill9
	else
		fail redis-kill9 "count $(kv rk count) of 400; node units $(node_units)"
	fi
	[ "$(R XLEN uf:q:rk:out)" = 400 ] && [ "$(R XLEN uf:dlq:rk:in)" = 0 ] && pass redis-kill9-exact ||
		fail redis-kill9-exact "out has $(R XLEN uf:q:rk:out) entries for 400 events, $(R XLEN uf:dlq:rk:in) dead"
fi
check redis-kill9-sanitizer sanitizer_clean

# ---- deploy --replace while units work, twice: the old units stop (their
# batches re-queued as they are), the new ones go on; every event handled
# exactly once (exact totals), nothing dead, no unit left behind.  The work
# must outlast both replacements: at SPIN 1000000 two units did the 1000
# events in 0.8 s, before the first look (a unit in its own CPU cgroup
# beside a loaded machine); 10000000 is about 4 s of work on a quiet one.
# And the last event (wait:go) holds its batch until both replacements are
# done, so a unit holds events at each look however fast the work went
m=$(manifest rep <<EOF
name: rep
functions:
  s:
    image: $fn
    listen: in
    push: [out]
    env: { SPIN: "10000000", OUT: out }
    batch: 64
    scale: { max_units: 2, events_per_unit: 100, idle_ms: 500, grace_ms: 0 }
EOF
)
U deploy "$m" >/dev/null || fail deploy "rep did not deploy"
{ for i in $(seq 1000); do echo "p$i"; done; echo wait:go; } | U push rep in >/dev/null
replaced=0
for n in 1 2; do
	wait_for 60 holds rep in s && U deploy --replace "$m" >/dev/null && replaced=$((replaced + 1))
done
R SET uf:kv:rep:go 1 >/dev/null
if [ $replaced = 2 ] && wait_for 600 kv_is rep count 1000 && wait_for 60 drained rep in s; then
	pass replace-while-working
else
	fail replace-while-working "replaced $replaced of 2 times while busy; count $(kv rep count) of 1000"
fi
[ "$(R XLEN uf:q:rep:out)" = 1000 ] && [ "$(R XLEN uf:dlq:rep:in)" = 0 ] && pass replace-while-working-exact ||
	fail replace-while-working-exact "out has $(R XLEN uf:q:rep:out) entries for 1000 events, $(R XLEN uf:dlq:rep:in) dead"
check replace-sanitizer sanitizer_clean

# ---- SIGTERM while commands wait for Redis: the daemon ends its chains and
# exits cleanly (no sanitizer report, 'shutdown result=done')
dpid=$(cat "$PLAT_STATE/unifaasd.pid")
echo hang | U push busy in >/dev/null
kill -STOP "$RPID"
leave &
lp=$!
(U deploy --replace "$m" >/dev/null 2>&1 &)
sleep 0.2
kill -TERM "$dpid"
gone() { ! kill -0 "$dpid" 2>/dev/null; }
wait_for 60 gone
ok=$?
kill -CONT "$RPID"
wait $lp
if [ $ok = 0 ] && grep -q 'what=shutdown result=done' "$PLAT_STATE/logs/unifaasd.log"; then
	pass sigterm-in-flight
else
	fail sigterm-in-flight "unifaasd $(gone && echo exited || echo 'still runs 60 s after SIGTERM'); log: $(tail -n 3 "$PLAT_STATE/logs/unifaasd.log" | tr '\n' ' ')"
fi
check sigterm-sanitizer sanitizer_clean
finish
