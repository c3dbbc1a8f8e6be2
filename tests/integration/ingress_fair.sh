#!/usr/bin/env bash
# Edge pushes under a flood (docs/api.md "Pushes under load"): HTTP ingress
# events and MQTT messages go through the push window (daemon/pushwin.c) in
# per-workflow turns, so one workflow flooding over HTTP or MQTT cannot fill
# Redis's pipeline ahead of another workflow's event.  Each scenario stops
# Redis, lets the flood in, sends the other workflow's one event, continues
# Redis and counts - in the order Redis executed them (MONITOR), never by a
# clock - how many of the flood's XADDs were written before that event.
# Nothing is lost: each flood event is in its queue exactly once, or was
# refused (429/507) with a reason and is not.  Before the window covered
# the edges, every flood event the daemon had taken was ahead: 240 of 240
# over HTTP, ~1000 (the broker's max_inflight_messages) over MQTT; now at
# most the window (PW_WINDOW_CALLS, 128 commands of every kind).
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

command -v mosquitto_pub >/dev/null || {
	fail tools "mosquitto_pub not installed (apt-get install mosquitto-clients)"
	exit 0
}
fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || {
	fail build "platform_fn.c did not build"
	exit 0
}
PLAT_CONF="retain_handled=1000000" # every entry stays countable
plat_suite_up
IN=http://127.0.0.1:$PLAT_INGRESS_PORT

deploy_ingress_pair "$fn" || exit 0
for wf in flood calm; do
	U device add "dev$wf" --topic "$wf/#" >"$UF_TMP/$wf.cred" 2>&1 || fail device-add "$(cat "$UF_TMP/$wf.cred")"
done
FTOK=$(U token create flood) && CTOK=$(U token create calm) || {
	fail tokens "no ingress tokens"
	exit 0
}
pass_of() { sed -n 's/^password: //p' "$UF_TMP/$1.cred"; }
# payloads WF: the data of every entry of WF's queue "in", one a line
payloads() { R XRANGE "uf:q:$1:in" - + | awk 'p=="data"{print} {p=$0}'; }
# ahead FILE: the flood's XADDs Redis ran before calm's (MONITOR's order), or
# "none" when calm's is not in FILE
ahead() { awk '/"XADD" "uf:q:calm:in"/ {print n; found=1; exit} /"XADD" "uf:q:flood:in"/ {n++} END {if (!found) print "none"}' "$1"; }
monitor_start() { # FILE: Redis's commands from now on, in the order it runs them
	(REDISCLI_AUTH=$(cat "$PLAT_STATE/redis.pass") exec redis-cli --no-auth-warning -s "$PLAT_STATE/redis.sock" MONITOR) >"$1" &
	MON=$!
	wait_for 30 test -s "$1" || fail monitor "redis-cli MONITOR did not start" # its "OK": every command from then on
}
monitor_stop() { # FILE: once calm's XADD is in it
	wait_for 60 grep -q '"XADD" "uf:q:calm:in"' "$1"
	kill "$MON" 2>/dev/null
	wait "$MON" 2>/dev/null
}
RP=$(redis_pid)
RPID=$RP # plat_cleanup continues it if the suite dies while it is stopped

# --- 1. HTTP: 240 requests of workflow flood, then one of calm --------------
N=240
monitor_start "$UF_TMP/mon.http"
python3 "$UF_TOP/tests/platform/ingress_flood.py" "$PLAT_INGRESS_PORT" "$RP" /flood/in "$FTOK" /calm/in "$CTOK" $N \
	"$UF_TMP/http.out" 2>"$UF_TMP/http.err" || fail http-flood-ran "$(tail -3 "$UF_TMP/http.err")"
monitor_stop "$UF_TMP/mon.http"
a=$(ahead "$UF_TMP/mon.http")
total=$(grep -c '"XADD" "uf:q:flood:in"' "$UF_TMP/mon.http")
calm=$(sed -n 's/^calm //p' "$UF_TMP/http.out")
echo "info: HTTP flood of $N requests: $total flood XADDs, $a of them before calm's one event (calm: ${calm:0:80}; $(grep -m1 "^calm's request" "$UF_TMP/http.err"))"
if [ "${calm%% *}" != 202 ] || [ "$a" = none ] || [ "$total" -lt 100 ]; then
	fail http-other-ahead "not judged: calm answered '${calm:0:200}', $total flood XADDs, ahead $a; $(head -c 300 "$UF_TMP/http.err")"
else
	# what the flood, alone until then, had in flight: at most the window
	# (128), where every one the daemon had taken (240) was before
	[ "$a" -le 128 ] && pass http-other-ahead || fail http-other-ahead "$a of the flood's $total XADDs before calm's (want at most 128)"
fi
# nothing lost: each 202 exactly once in the queue; each other answer a 429
# or 507 with a reason, and not in the queue
payloads flood | sort >"$UF_TMP/flood.stored"
python3 - "$UF_TMP/http.out" "$UF_TMP/flood.stored" >"$UF_TMP/http.check" <<'PY'
import collections, json, sys
stored = collections.Counter(l.rstrip("\n") for l in open(sys.argv[2]))
bad, ok, refused = [], 0, 0
for line in open(sys.argv[1]):
    ev, status, body = (line.rstrip("\n").split(" ", 2) + ["", ""])[:3]
    if ev == "calm":
        continue
    if status == "202":
        ok += 1
        if stored[ev] != 1:
            bad.append("%s answered 202, stored %d times" % (ev, stored[ev]))
    elif status in ("429", "507"):
        refused += 1
        try:
            msg = json.loads(body)["error"]["message"]
        except Exception:
            msg = ""
        if not msg or stored[ev]:
            bad.append("%s answered %s (%s), stored %d times" % (ev, status, body[:100], stored[ev]))
    else:
        bad.append("%s answered %s %s" % (ev, status, body[:100]))
print("accepted=%d refused=%d problems=%d %s" % (ok, refused, len(bad), "; ".join(bad[:5])))
PY
check=$(cat "$UF_TMP/http.check")
echo "info: HTTP flood answers: $check"
[[ "$check" == *" problems=0 "* ]] && [[ "$check" != accepted=0* ]] && pass http-flood-nothing-lost || fail http-flood-nothing-lost "$check"
if [[ "$check" != *" refused=0 "* ]]; then
	grep -m1 ' 429 ' "$UF_TMP/http.out" | grep -q '"busy"' && grep -m1 ' 429 ' "$UF_TMP/http.out" | grep -q 'waiting for their turn' &&
		pass http-flood-429-reason || fail http-flood-429-reason "$(grep -m1 ' 429 ' "$UF_TMP/http.out")"
fi

# --- 2. MQTT: 1000 QoS 1 messages of workflow flood, then one of calm -------
# (1000: the broker's max_inflight_messages, all of which were ahead before
# the window; 3000 took the publisher seconds on a loaded machine, with
# Redis stopped, near the 2 s after which the store gives up on it)
M=1000
seq -f 'm%g' $M >"$UF_TMP/mqtt.msgs"
monitor_start "$UF_TMP/mon.mqtt"
t0=$(date +%s%N)
kill -STOP "$RP"
# the broker takes the whole burst (QoS 1 between it and the device) and
# sends unifaasd up to max_inflight_messages of it at once
timeout 20 mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u devflood -P "$(pass_of flood)" -q 1 -M 1000 -t flood/x -l <"$UF_TMP/mqtt.msgs" 2>"$UF_TMP/pub.err"
pubrc=$?
sleep 0.3
timeout 5 mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u devcalm -P "$(pass_of calm)" -q 1 -t calm/x -m calm-mqtt 2>>"$UF_TMP/pub.err"
sleep 0.3
kill -CONT "$RP"
t1=$(date +%s%N)
monitor_stop "$UF_TMP/mon.mqtt"
a=$(ahead "$UF_TMP/mon.mqtt")
total=$(grep -c '"XADD" "uf:q:flood:in"' "$UF_TMP/mon.mqtt")
echo "info: MQTT flood of $M messages (publisher status $pubrc, Redis stopped $(((t1 - t0) / 1000000)) ms): $total flood XADDs seen, $a of them before calm's message"
if [ "$pubrc" != 0 ] || [ "$a" = none ]; then
	fail mqtt-other-ahead "not judged: publisher $pubrc ($(head -c 200 "$UF_TMP/pub.err")), ahead $a"
else
	# at most the window: the broker had up to 1000 of its messages on
	# their way to unifaasd, every one of them before calm's
	[ "$a" -le 128 ] && pass mqtt-other-ahead || fail mqtt-other-ahead "$a of the flood's XADDs before calm's (want at most 128)"
fi
# nothing lost: every message once (no connection was dropped: no resends)
all_in() { [ "$(payloads flood | grep -c '^m')" -ge $M ]; }
wait_for 60 all_in || true
got=$(payloads flood | grep '^m' | sort | uniq -c | awk '$1==1{one++} $1>1{dup++} END{print one+0, dup+0}')
[ "$got" = "$M 0" ] && pass mqtt-flood-each-once || fail mqtt-flood-each-once "distinct once / duplicated: $got of $M"
! daemon_log | grep -q 'client=unifaasd-flood .*cause=' && pass mqtt-flood-no-drop ||
	fail mqtt-flood-no-drop "$(daemon_log | grep 'client=unifaasd-flood .*cause=' | head -2)"
[ "$(payloads calm | grep -c '^calm-mqtt$')" = 1 ] && pass mqtt-calm-once || fail mqtt-calm-once "$(payloads calm)"

# --- 3. SIGTERM while events wait for their turn: the daemon ends cleanly
# (its push window gives up what waits) and no client hangs (shutdown
# closes their connections unanswered, as for any request in progress) --
sanitizer_clean() { ! grep -E "AddressSanitizer|LeakSanitizer|runtime error" "$PLAT_STATE/logs/unifaasd.log"; }
DPID=$(cat "$PLAT_STATE/unifaasd.pid")
kill -STOP "$RP"
cps=()
for i in $(seq 100); do
	curl -s -m 30 -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $FTOK" --data-binary "t$i" "$IN/flood/in" >>"$UF_TMP/term.codes" &
	cps+=($!)
done
sleep 0.5
kill -TERM "$DPID"
sleep 0.3
kill -CONT "$RP"
wait "${cps[@]}"
gone() { ! kill -0 "$DPID" 2>/dev/null; }
wait_for 20 gone && pass sigterm-while-waiting-exits || fail sigterm-while-waiting-exits "unifaasd $DPID still runs"
echo "info: answers to 100 requests at SIGTERM: $(sort "$UF_TMP/term.codes" | uniq -c | tr '\n' ' ')"
[ "$(wc -l <"$UF_TMP/term.codes")" = 100 ] && pass sigterm-while-waiting-no-hang || fail sigterm-while-waiting-no-hang "$(wc -l <"$UF_TMP/term.codes") of 100 curl runs ended"
sanitizer_clean && pass sigterm-while-waiting-sanitizer || fail sigterm-while-waiting-sanitizer "$(grep -E -m3 "AddressSanitizer|runtime error" "$PLAT_STATE/logs/unifaasd.log")"
