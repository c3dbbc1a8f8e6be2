#!/usr/bin/env bash
# MQTT ingress and the MQTT outbox (issue 9): unifaasd's own MQTT client
# against the real mosquitto and Redis that `unifaas up` starts.  Messages
# are published with mosquitto_pub (QoS 1) and counted in the queues
# (distinct payloads: delivery is at least once, so an event may be added
# twice, never lost), also across a kill -9 of unifaasd and a restart of
# mosquitto or of Redis in the middle of a burst, and across a stopped
# workflow.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

command -v mosquitto_pub >/dev/null || {
	fail tools "mosquitto_pub not installed (apt-get install mosquitto-clients)"
	exit 0
}
fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || { fail build "platform_fn.c did not build"; exit 0; }
PLAT_CONF=$(printf "retain_handled=1000000\nmqtt_bind=127.0.0.2") # every entry stays countable; a LAN listener (loopback still)
plat_suite_up
pass up

# a device account publishes (the broker takes no anonymous client); the
# subscriber of the outbox test is the platform's account
U device add sensor --topic 'dev/+/+' --topic 'alarm/#' --topic 'burst/#' --topic 'ov/#' >"$UF_TMP/dev.cred" 2>&1 ||
	fail device-add "$(cat "$UF_TMP/dev.cred")"
DEV_PASS=$(sed -n 's/^password: //p' "$UF_TMP/dev.cred")
PUB() { mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u sensor -P "$DEV_PASS" "$@"; }
# payloads WF QUEUE: the data of every entry of the queue, one a line
payloads() { R XRANGE "uf:q:$1:$2" - + | awk 'p=="data"{print} {p=$0}'; }
distinct() { payloads "$1" "$2" | grep "^$3" | sort -u | wc -l | tr -d ' '; }
distinct_is() { [ "$(payloads "$1" "$2" | grep "^$3" | sort -u | wc -l)" = "$4" ]; }
wf_state() { U ls --json | python3 -c "import json,sys; print([w['state'] for w in json.load(sys.stdin)['workflows'] if w['name']=='$1'][0])"; }
xlen_gt() { [ "$(R XLEN "$1")" -gt "$2" ]; }
state_is() { [ "$(wf_state "$1")" = "$2" ]; }

m=$(manifest mq <<EOF
name: mq
functions:
  count:
    image: $fn
    listen: readings
    publish: ["out/#", "again/#"]
  alarms:
    image: $fn
    listen: alarms
  burst:
    image: $fn
    listen: burst
    batch: 256
    scale: { max_units: 1 }
ingress:
  mqtt:
    - { topic: "dev/+/readings", queue: readings }
    - { topic: "alarm/#", queue: alarms, qos: 1 }
    - { topic: "burst/+", queue: burst }
EOF
)
U deploy "$m" >"$UF_TMP/d.out" 2>&1 && pass deploy || fail deploy "$(cat "$UF_TMP/d.out")"
wait_for 30 sh -c "grep -q 'client=unifaasd-mq .*result=connected' '$PLAT_STATE/logs/unifaasd.log'" &&
	pass session-connected || fail session-connected "$(daemon_log | grep mqtt | tail -3)"
subscribed mq && pass session-subscribed || fail session-subscribed "$(daemon_log | grep mqtt | tail -3)"

# --- routes: one event per message, the topic as its source ----------------
PUB -q 1 -t dev/kitchen/readings -m "r1"
PUB -q 1 -t alarm/door/front -m "a1"
PUB -q 1 -t dev/kitchen/other -m "lost" # no route: never queued
PUB -q 1 -t dev/hall/readings -m "r2"
if wait_for 30 distinct_is mq readings r 2 && wait_for 30 distinct_is mq alarms a 1; then
	pass wildcard-routes
else
	fail wildcard-routes "readings: $(payloads mq readings | tr '\n' ' '); alarms: $(payloads mq alarms | tr '\n' ' ')"
fi
R XRANGE uf:q:mq:readings - + | awk 'p=="src"{print} {p=$0}' | sort | tr '\n' ' ' >"$UF_TMP/src"
[ "$(cat "$UF_TMP/src")" = "dev/hall/readings dev/kitchen/readings " ] && pass topic-is-source ||
	fail topic-is-source "src fields: $(cat "$UF_TMP/src")"
[ "$(R XLEN uf:q:mq:readings) $(R XLEN uf:q:mq:alarms) $(R XLEN uf:q:mq:burst)" = "2 1 0" ] &&
	! payloads mq readings | grep -q lost && pass unrouted-not-queued ||
	fail unrouted-not-queued "queues: $(R XLEN uf:q:mq:readings) $(R XLEN uf:q:mq:alarms) $(R XLEN uf:q:mq:burst)"
wait_for 30 kv_is mq count 3 && pass function-counted || fail function-counted "count $(kv mq count)"

# --- payload byte for byte; over the bound: dropped with a log line --------
printf 'b\001\000\377z' >"$UF_TMP/bin"
PUB -q 1 -t dev/bin/readings -f "$UF_TMP/bin"
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' x >"$UF_TMP/big"
PUB -q 1 -t dev/big/readings -f "$UF_TMP/big"
PUB -q 1 -t dev/after/readings -m "r3"
wait_for 30 distinct_is mq readings r3 1
R --raw XREVRANGE uf:q:mq:readings + - COUNT 2 >"$UF_TMP/raw"
grep -qa "dev/bin/readings" "$UF_TMP/raw" && grep -qaF "$(printf 'b\001')" "$UF_TMP/raw" &&
	python3 - "$UF_TMP/raw" <<'PY' && pass payload-bytes-kept || fail payload-bytes-kept "$(od -c "$UF_TMP/raw" | head -5)"
import sys
raw = open(sys.argv[1], 'rb').read()
sys.exit(0 if b'\nb\x01\x00\xffz\n' in raw else 1)
PY
[ "$(R XLEN uf:q:mq:readings)" = 4 ] && daemon_log | grep -q 'what=mqtt-ingress workflow=mq topic=dev/big/readings action=dropped cause="payload over 1 MiB' &&
	pass oversize-dropped-logged || fail oversize-dropped-logged "xlen $(R XLEN uf:q:mq:readings); $(daemon_log | grep mqtt-ingress | tail -2)"
kill -0 "$(cat "$PLAT_STATE/unifaasd.pid")" && pass alive-after-bad-input || fail alive-after-bad-input "unifaasd died"
# counted by outcome on /metrics: r1 a1 r2 bin r3 accepted, one too large
# (counted when Redis's answer reaches unifaasd, which can be after the
# test read r3 in Redis: looked at until counted)
counted() {
	curl -s --max-time 30 -H "Authorization: Bearer $(cat "$PLAT_STATE/api.token")" \
		"http://127.0.0.1:$PLAT_API_PORT/metrics" >"$UF_TMP/metrics.txt"
	grep -qx 'unifaas_ingress_messages_total{source="mqtt",outcome="accepted"} 5' "$UF_TMP/metrics.txt" &&
		grep -qx 'unifaas_ingress_messages_total{source="mqtt",outcome="too_large"} 1' "$UF_TMP/metrics.txt"
}
wait_for 30 counted &&
	pass metrics-by-outcome || fail metrics-by-outcome "$(grep 'source="mqtt"' "$UF_TMP/metrics.txt")"

# --- no device takes over unifaasd's session ------------------------------
# A device connects with unifaasd's client id (clean session) on the
# loopback and the LAN listener while another device publishes a QoS 1
# burst: its id is its username there, so the session stays connected and
# every message arrives (before the fix the session was taken over and
# messages lost).
U device add kitchen --topic 'k/#' >"$UF_TMP/kitchen.cred" 2>&1
KP=$(sed -n 's/^password: //p' "$UF_TMP/kitchen.cred")
hijack=
for h in 127.0.0.1 127.0.0.2; do
	mosquitto_sub -h $h -p "$PLAT_MQTT_PORT" -u kitchen -P "$KP" -i unifaasd-mq -c -t x -W 5 >/dev/null 2>&1 &
	hijack="$hijack $!"
done
sleep 0.2
seq -f "h%g" 50 | PUB -q 1 -t alarm/takeover -l
wait $hijack
if wait_for 30 distinct_is mq alarms h 50 && ! grep -q "Client unifaasd-mq already connected" "$PLAT_STATE/logs/mosquitto.log" &&
	! daemon_log | grep -q 'client=unifaasd-mq .*cause='; then
	pass device-cannot-take-session
else
	fail device-cannot-take-session "$(distinct mq alarms h) of 50; $(grep 'unifaasd-mq' "$PLAT_STATE/logs/mosquitto.log" | tail -3)"
fi

# burst PREFIX: N messages PREFIX1..PREFIXN on burst/PREFIX, QoS 1, in
# chunks of 250 a little apart (so a kill lands in the middle); a chunk is
# sent again until the broker took all of it (the publisher's own at least
# once: the broker may be down for a moment)
burst() {
	seq -f "$1%g" $N | split -l 250 - "$UF_TMP/chunk.$1."
	for c in "$UF_TMP/chunk.$1."*; do
		until timeout 20 mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u sensor -P "$DEV_PASS" -q 1 -t "burst/$1" -l <"$c" 2>/dev/null; do
			sleep 0.2
		done
		sleep 0.05
	done
}

# --- kill -9 of unifaasd during a burst: every message queued -------------
N=10000
burst k &
pubpid=$!
wait_for 20 xlen_gt uf:q:mq:burst 1000
dpid=$(cat "$PLAT_STATE/unifaasd.pid")
kill -9 "$dpid" && pass kill9-daemon || fail kill9-daemon "no unifaasd"
before=$(R XLEN uf:q:mq:burst)
sleep 0.5
U up >"$UF_TMP/restart.up" 2>&1 || fail daemon-restarted "unifaas up after kill -9: $(tail -3 "$UF_TMP/restart.up" | tr '\n' ' ')"
wait "$pubpid"
if wait_for 60 distinct_is mq burst k $N; then
	pass kill9-all-queued
else
	fail kill9-all-queued "$(payloads mq burst | grep '^k' | sort -u | wc -l) of $N distinct (at the kill: $before)"
fi
[ "$before" -lt $N ] && pass kill9-mid-burst || fail kill9-mid-burst "the burst was over before the kill ($before)"

# --- mosquitto restarted during a burst: every message queued -------------
# The broker saves its sessions when it stops (persistence): unifaasd's
# session gets what was queued for it, and what it held unacknowledged,
# after the restart.
burst b &
pubpid=$!
wait_for 20 xlen_gt uf:q:mq:burst $((N + 1000))
mpid=$(cat "$PLAT_STATE/mosquitto.pid" 2>/dev/null)
if [ -n "$mpid" ] && kill -TERM "$mpid"; then
	wait_for 10 sh -c "! kill -0 $mpid 2>/dev/null"
	before=$(distinct mq burst b)
	U up >/dev/null 2>&1
	pass broker-restarted
else
	fail broker-restarted "no mosquitto pid in $PLAT_STATE"
fi
wait "$pubpid"
if wait_for 60 distinct_is mq burst b $N; then
	pass broker-restart-all-queued
else
	fail broker-restart-all-queued "$(payloads mq burst | grep '^b' | sort -u | wc -l) of $N distinct (at the stop: $before)"
fi
[ "$before" -lt $N ] && pass broker-stopped-mid-burst || fail broker-stopped-mid-burst "the burst was over before the stop ($before)"
wait_for 20 sh -c "grep -q 'what=mqtt op=connect client=unifaasd-mq .*result=reconnected' '$PLAT_STATE/logs/unifaasd.log'" && pass reconnect-logged ||
	fail reconnect-logged "$(daemon_log | grep 'what=mqtt' | tail -3)"

# --- Redis restarted during a burst: every message queued -----------------
# While Redis is away the XADDs fail: nothing is acknowledged, the session
# drops and comes back with backoff; the broker keeps the messages.
burst d &
pubpid=$!
wait_for 20 xlen_gt uf:q:mq:burst $((2 * N + 1000))
rpid=$(redis_pid)
before=$(distinct mq burst d)
if [ -n "$rpid" ] && kill -TERM "$rpid"; then
	wait_for 20 sh -c "! kill -0 $rpid 2>/dev/null"
	sleep 0.5
	U up >"$UF_TMP/redis.up" 2>&1 && pass redis-restarted ||
		fail redis-restarted "unifaas up: $(tail -3 "$UF_TMP/redis.up" | tr '\n' ' ')"
else
	fail redis-restarted "no redis pid in $PLAT_STATE"
fi
wait "$pubpid"
# counted once Redis has loaded its AOF (a loading Redis answers no XRANGE:
# 0 would be read on a slow machine); what Redis is doing when it fails
redis_loaded() { R INFO persistence | tr -d '\r' | grep -qx 'loading:0'; }
redis_state() {
	echo "redis: $(R PING 2>&1 | head -1), $(R INFO persistence 2>&1 | tr -d '\r' | grep -m1 '^loading'), pid $(redis_pid)"
	echo "$(grep -E 'Ready to accept|loaded|Loading|Shutdown|exit|ERROR|Bad' "$PLAT_STATE/logs/redis.log" | tail -4 | tr '\n' ' ')"
}
if wait_for 90 redis_loaded && wait_for 90 distinct_is mq burst d $N; then
	pass redis-restart-all-queued
else
	fail redis-restart-all-queued "$(distinct mq burst d) of $N distinct (at the stop: $before); $(redis_state | tr '\n' ' ')"
fi
[ "$before" -lt $N ] && pass redis-stopped-mid-burst || fail redis-stopped-mid-burst "the burst was over before the stop ($before)"
# logged once per cause (no reply, the wait, Redis still loading its
# AOF), not per message or per reconnection
n=$(daemon_log | grep -c 'client=unifaasd-mq .*cause="redis')
[ "$n" -ge 1 ] && [ "$n" -le 3 ] && pass redis-away-logged-once || fail redis-away-logged-once "$n lines: $(daemon_log | grep 'what=mqtt' | tail -4)"

# --- a stopped workflow's messages wait in the broker; resume drains them --
m=$(manifest ov <<EOF
name: ov
functions:
  slow:
    image: $fn
    listen: q
    env: { SPIN: "300000000" }
    batch: 1
    timeout_ms: 0
    scale: { max_units: 1, events_per_unit: 1, overflow: 20 }
ingress:
  mqtt: [{ topic: "ov/in", queue: q }]
EOF
)
U deploy "$m" >/dev/null
subscribed ov
seq -f "o%g" 50 | PUB -q 1 -t ov/in -l
sleep 0.5 # the backlog grows from one check to the next
seq -f "o%g" 51 100 | PUB -q 1 -t ov/in -l
if wait_for 30 state_is ov stopped; then
	pass overflow-stopped
else
	fail overflow-stopped "state $(wf_state ov), backlog $(R XLEN uf:q:ov:q)"
fi
# its session paused (disconnected): from then on the broker keeps what is
# published; none of it may be queued (a count of the queue after 0.5 s
# also counted the o messages the session had taken before the stop and
# wrote late on a loaded machine)
wait_for 30 sh -c "grep -q 'what=mqtt op=pause workflow=ov ' '$PLAT_STATE/logs/unifaasd.log'"
seq -f "s%g" 300 | PUB -q 1 -t ov/in -l
sleep 1.5 # (only gives a leak time to show)
leaked=$(payloads ov q | grep -c '^s')
[ "$leaked" = 0 ] && pass stopped-messages-wait || fail stopped-messages-wait "$leaked messages published while stopped were queued"
U resume ov >/dev/null
# resumed, it may overflow again before the broker handed over everything:
# resume again until all are in
end=$((SECONDS + 60))
until distinct_is ov q s 300 || [ $SECONDS -gt $end ]; do
	state_is ov stopped && U resume ov >/dev/null 2>&1
	sleep 0.3
done
distinct_is ov q s 300 && pass resume-drains || fail resume-drains "$(payloads ov q | grep '^s' | sort -u | wc -l) of 300"

# --- the outbox: published, deleted after the PUBACK ----------------------
SUBP=(--unix "$PLAT_STATE/mqtt.sock" -u unifaasd -P "$(cat "$PLAT_STATE/mqtt.pass")")
sub_start sub-out "$UF_TMP/sub.out" "${SUBP[@]}" -q 1 -t 'out/#' -t 'secret/#' -v -C 3 -W 20 || fail subscriber "$(cat "$UF_TMP/sub.out")"
subpid=$SUB_PID
OB=uf:out:mqtt:mq
R XADD $OB '*' step count topic out/one qos 1 data hello event 1-1 >/dev/null
R XADD $OB '*' step count topic secret/x qos 1 data forged event 1-5 >/dev/null # outside mq's publish filters
R XADD $OB '*' step count topic out/two qos 0 data bye event 1-2 >/dev/null
R XADD $OB '*' step count topic 'out/+' qos 1 data bad event 1-3 >/dev/null
R XADD $OB '*' step count topic out/three qos 1 data 3 event 1-4 >/dev/null
wait "$subpid"
sort "$UF_TMP/sub.out" | tr '\n' ' ' >"$UF_TMP/subs"
[ "$(cat "$UF_TMP/subs")" = "out/one hello out/three 3 out/two bye " ] && pass outbox-published ||
	fail outbox-published "subscriber got: $(cat "$UF_TMP/subs")"
wait_for 30 xlen_is $OB 0 && pass outbox-deleted || fail outbox-deleted "$(R XLEN $OB) entries left"
daemon_log | grep -q 'what=mqtt-outbox workflow=mq entry=.* action=dropped cause="no valid topic' && pass outbox-invalid-logged ||
	fail outbox-invalid-logged "$(daemon_log | grep mqtt-outbox | tail -2)"
# a topic outside the workflow's publish filters: never published, logged, counted
daemon_log | grep -q 'what=mqtt-outbox workflow=mq entry=.* topic="secret/x" action=dropped cause="topic outside the workflow.s publish filters"' &&
	! grep -q forged "$UF_TMP/sub.out" && pass outbox-outside-filters-refused ||
	fail outbox-outside-filters-refused "$(daemon_log | grep mqtt-outbox | tail -2); sub: $(cat "$UF_TMP/sub.out")"
curl -s --max-time 10 -H "Authorization: Bearer $(cat "$PLAT_STATE/api.token")" \
	"http://127.0.0.1:$PLAT_API_PORT/metrics" | grep -qx 'unifaas_egress_calls_total{kind="mqtt",status="refused"} 2' &&
	pass outbox-refused-counted || fail outbox-refused-counted "$(curl -s -H "Authorization: Bearer $(cat "$PLAT_STATE/api.token")" "http://127.0.0.1:$PLAT_API_PORT/metrics" | grep egress_calls)"

# --- outbox entries read but not acknowledged survive a kill -9 -----------
# The broker is stopped (SIGSTOP): unifaasd reads the entries (pending in
# its consumer group) and writes them, no PUBACK comes; killed -9 and
# started again, it reads its pending entries again and publishes them.
sub_start sub-again "$UF_TMP/sub2.out" "${SUBP[@]}" -q 1 -v \
	-t 'again/#' -W 60 || fail subscriber "$(cat "$UF_TMP/sub2.out")"
subpid=$SUB_PID
mpid=$(cat "$PLAT_STATE/mosquitto.pid")
outbox_pending() { [ "$(R XPENDING $OB unifaasd | head -1)" = 2 ]; }
kill -STOP "$mpid"
R XADD $OB '*' step count topic again/one qos 1 data p1 event 2-1 >/dev/null
R XADD $OB '*' step count topic again/two qos 1 data p2 event 2-2 >/dev/null
if wait_for 30 outbox_pending; then
	dpid=$(cat "$PLAT_STATE/unifaasd.pid")
	kill -9 "$dpid"
	wait_for 30 sh -c "! kill -0 $dpid 2>/dev/null" # gone, or up would find it still running
	kill -CONT "$mpid"
	U up >/dev/null 2>&1
	pass outbox-pending-at-kill
else
	kill -CONT "$mpid"
	fail outbox-pending-at-kill "pending: $(R XPENDING $OB unifaasd | head -1)"
fi
# at least once: what the dead unifaasd had written may arrive too (twice)
both_again() { [ "$(sort -u "$UF_TMP/sub2.out" | tr '\n' ' ')" = "again/one p1 again/two p2 " ]; }
wait_for 30 both_again
kill "$subpid" 2>/dev/null
both_again && wait_for 30 xlen_is $OB 0 &&
	pass outbox-pending-published-after-restart ||
	fail outbox-pending-published-after-restart "subscriber: $(cat "$UF_TMP/sub2.out"); outbox $(R XLEN $OB)"

# --- undeploy ends the session --------------------------------------------
R XADD uf:out:mqtt:ov '*' step slow topic x qos 1 data left event 3-1 >/dev/null
U undeploy ov >/dev/null
wait_for 30 sh -c "grep -q 'what=mqtt op=end-session workflow=ov' '$PLAT_STATE/logs/unifaasd.log'" && pass undeploy-ends-session ||
	fail undeploy-ends-session "$(daemon_log | grep 'workflow=ov' | tail -3)"
[ "$(R EXISTS uf:out:mqtt:ov)" = 0 ] && pass undeploy-removes-outbox || fail undeploy-removes-outbox "uf:out:mqtt:ov still exists"
kill -0 "$(cat "$PLAT_STATE/unifaasd.pid")" && pass alive-at-end || fail alive-at-end "unifaasd died"
