#!/usr/bin/env bash
# The CO2 workflow's log of readings (workflows/co2.yaml steps logger and
# log-query; functions/logger.c, log_query.c, lib/readings_log.h) on a real
# platform, with co2.yaml as shipped but LOG_KEEP 5: kits publish raw and
# JSON readings over MQTT (QoS 1, a device account); threshold passes them
# to readings-log; the logger keeps each per device and sensor in KV:
#   log-raw/log-json    both formats end in the log, per device and sensor,
#                       indexed in log:devices and log:<dev>:sensors
#   retention-*         12 readings of one sensor: the last 5 remain, the
#                       oldest (slot and marker) gone, 11 keys for the ring
#   dup-*               a message published again (a QoS 1 resend) and an
#                       event pushed twice are logged once; a unit killed
#                       holding a batch: every reading once after the retry
#   query-*             `unifaas invoke co2-monitor log-query` and the HTTP
#                       ingress's /invoke: by device, sensor, last N, newest
#                       first; an unknown device or sensor answered with an
#                       error naming it
#   malformed-*         a bad readings-log event dead-lettered with its reason
#   local-*             `unifaas run` of logger and log_query with --kv, as
#                       docs/examples.md shows (a second run of the same
#                       events logs nothing twice), LOG_MAX_DEVICES refused
#                       with its reason
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

command -v mosquitto_pub >/dev/null || {
	fail tools "mosquitto_pub not installed (apt-get install mosquitto-clients)"
	exit 0
}
for f in threshold logger log_query; do
	[ -f "$UF_TOP/build/functions/$f.uf" ] || { fail build "build/functions/$f.uf missing (make all)"; exit 0; }
done
IMG=$UF_TOP/build/functions

# --- local runs (unifaas run --kv, no platform) -------------------------------
LKV=$UF_TMP/log-kv.json
cat >"$UF_TMP/log-events.txt" <<'EOF'
{"device":"kit1","time":"2025-03-01T10:00:00Z","sensors":{"158":612,"55":22.5}}
{"device":"kit1","time":"2025-03-01T10:01:00Z","sensors":{"158":640,"55":22.6}}
{"device":"kit2","time":"2025-03-01T10:01:00Z","sensors":{"158":1210}}
{"device":"kit1","time":"2025-03-01T10:02:00Z","sensors":{"158":655}}
{"device":"kit1","time":"2025-03-01T10:03:00Z","sensors":{"158":700}}
EOF
# a ring of 3: kit1's sensor 158 keeps 640, 655, 700 (612 gone)
for run in 1 2; do
	"$UNIFAAS" run --queue readings-log --env LOG_KEEP=3 --kv "$LKV" --events "$UF_TMP/log-events.txt" \
		"$IMG/logger.uf" >"$UF_TMP/local-logger.$run" 2>&1 || fail local-logger-run "$(cat "$UF_TMP/local-logger.$run")"
done
# kv FILE: the log's keys of a local store, "key=value" sorted
lkv() { python3 -c "
import json,sys
kv=json.load(open('$1'))
print('\n'.join('%s=%s' % (k, kv[k]) for k in sorted(kv) if k.startswith('log:')))"; }
want='log:devices=["kit1","kit2"]
log:keep=3
log:kit1:158:0={"n":4,"time":"2025-03-01T10:03:00Z","value":700}
log:kit1:158:1={"n":2,"time":"2025-03-01T10:01:00Z","value":640}
log:kit1:158:2={"n":3,"time":"2025-03-01T10:02:00Z","value":655}
log:kit1:158:n=4
log:kit1:158:t:2025-03-01T10:01:00Z=2
log:kit1:158:t:2025-03-01T10:02:00Z=3
log:kit1:158:t:2025-03-01T10:03:00Z=4
log:kit1:55:0={"n":1,"time":"2025-03-01T10:00:00Z","value":22.5}
log:kit1:55:1={"n":2,"time":"2025-03-01T10:01:00Z","value":22.6}
log:kit1:55:n=2
log:kit1:55:t:2025-03-01T10:00:00Z=1
log:kit1:55:t:2025-03-01T10:01:00Z=2
log:kit1:sensors=[158,55]
log:kit2:158:0={"n":1,"time":"2025-03-01T10:01:00Z","value":1210}
log:kit2:158:n=1
log:kit2:158:t:2025-03-01T10:01:00Z=1
log:kit2:sensors=[158]'
got=$(lkv "$LKV")
[ "$got" = "$want" ] && pass local-logger-kv || fail local-logger-kv "$(diff <(echo "$want") <(echo "$got") | tr '\n' ' ')"
grep -q 'event 1: device kit1 time 2025-03-01T10:00:00Z: 2 of 2 readings skipped: 1 already logged, 1 older than the last 3 kept' "$UF_TMP/local-logger.2" &&
	[ "$(grep -c 'readings skipped' "$UF_TMP/local-logger.2")" = 5 ] &&
	pass local-logger-rerun-skipped || fail local-logger-rerun-skipped "$(cat "$UF_TMP/local-logger.2")"
out=$("$UNIFAAS" run --queue log-query --kv "$LKV" --event '{"device":"kit1","sensor":158,"last":2}' --event '{}' \
	--event '{"device":"kit3"}' "$IMG/log_query.uf" 2>/dev/null | python3 -c '
import json,sys
for l in sys.stdin: print(json.loads(l)["data"])')
want='{"device":"kit1","sensor":158,"count":4,"keep":3,"readings":[{"time":"2025-03-01T10:03:00Z","value":700},{"time":"2025-03-01T10:02:00Z","value":655}]}
{"devices":["kit1","kit2"]}
{"error":"no readings from device '"'kit3'"' in the log","devices":["kit1","kit2"]}'
[ "$out" = "$want" ] && pass local-query || fail local-query "$out"
# LOG_MAX_DEVICES 1: kit2's reading is refused with the reason; a bad LOG_KEEP ends the unit
"$UNIFAAS" run --queue readings-log --env LOG_MAX_DEVICES=1 --events "$UF_TMP/log-events.txt" "$IMG/logger.uf" \
	>"$UF_TMP/local-max" 2>&1
grep -q 'event 3 failed: logger: kit2: log:devices already holds 1, the most it keeps; raise LOG_MAX_DEVICES' \
	"$UF_TMP/local-max" && [ "$(grep -c failed "$UF_TMP/local-max")" = 1 ] && pass local-max-devices ||
	fail local-max-devices "$(cat "$UF_TMP/local-max")"
"$UNIFAAS" run --queue readings-log --env LOG_KEEP=0 --events "$UF_TMP/log-events.txt" "$IMG/logger.uf" \
	>"$UF_TMP/local-keep" 2>&1
rc=$?
[ $rc != 0 ] && grep -q "logger: env LOG_KEEP='0' (1..1000000)" "$UF_TMP/local-keep" && pass local-bad-keep ||
	fail local-bad-keep "status $rc: $(cat "$UF_TMP/local-keep")"

# docs/examples.md's local run: threshold then logger on sck-raw.txt, a ring of 4, two queries
DOC=$UF_TOP/docs/examples.md
rm -f "$UF_TMP/co2-log.json"
"$UNIFAAS" run --source device/sck/kit1/readings/raw --events "$UF_TOP/functions/testdata/sck-raw.txt" "$IMG/threshold.uf" 2>/dev/null |
	python3 -c 'import json,sys; [print(e["data"]) for e in map(json.loads, sys.stdin) if e.get("queue")=="readings-log"]' |
	"$UNIFAAS" run --queue readings-log --env LOG_KEEP=4 --kv "$UF_TMP/co2-log.json" --events - "$IMG/logger.uf" >/dev/null 2>&1
got=$("$UNIFAAS" run --queue log-query --kv "$UF_TMP/co2-log.json" --event '{"device":"kit1","sensor":158,"last":3}' \
	--event '{"device":"kit9"}' "$IMG/log_query.uf" 2>&1)
want=$(grep -A3 '^\$ unifaas run --queue log-query --kv /tmp/co2-log.json' "$DOC" | grep '^{"reply"')
[ -n "$want" ] && [ "$got" = "$want" ] && pass local-doc-example || fail local-doc-example "got: $got; docs/examples.md: $want"

# --- the platform ------------------------------------------------------------
plat_suite_up
pass up
U device add kits --topic 'device/sck/#' >"$UF_TMP/kits.cred" 2>&1 || fail device-add "$(cat "$UF_TMP/kits.cred")"
DEV_PASS=$(sed -n 's/^password: //p' "$UF_TMP/kits.cred")
# co2.yaml as shipped, with its images' paths made absolute, LOG_KEEP 5 and
# without its slack-alert step (its secret and egress go to Slack: slack.sh)
sed -e "s|\.\./build/|$UF_TOP/build/|" -e 's/LOG_KEEP: 1440/LOG_KEEP: 5/' "$UF_TOP/workflows/co2.yaml" |
	awk '/^  [a-z-]+:/ { skip = ($1 == "slack-alert:") } !skip' >"$UF_TMP/co2.yaml"
grep -q 'LOG_KEEP: 5,' "$UF_TMP/co2.yaml" || fail manifest "co2.yaml has no 'LOG_KEEP: 1440' to lower"
U deploy "$UF_TMP/co2.yaml" >"$UF_TMP/deploy.log" 2>&1 && pass deploy || fail deploy "$(cat "$UF_TMP/deploy.log")"
# readings are published once unifaasd's MQTT session has subscribed its
# routes (deploy returns before; the broker keeps nothing published before)
subscribed co2-monitor && pass session-subscribed || fail session-subscribed "$(daemon_log | grep mqtt | tail -3)"

PUB() { # TOKEN raw|json PAYLOAD
	local t="device/sck/$1/readings"
	[ "$2" = raw ] && t="$t/raw"
	mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u kits -P "$DEV_PASS" -q 1 -t "$t" -m "$3"
}
K() { kv co2-monitor "$1"; }
K_is() { [ "$(K "$1")" = "$2" ]; }
settled() { drained co2-monitor readings threshold && drained co2-monitor readings-log logger; }

# both formats: kit1 raw (CO2 and temperature), kit2 JSON with two groups (a null dropped)
PUB kit1 raw '{t:2025-03-01T10:00:00Z,158:612,55:22.31}'
PUB kit2 json '{"data":[{"recorded_at":"2025-03-01T10:00:00Z","sensors":[{"id":158,"value":980},{"id":56,"value":null}]},{"recorded_at":"2025-03-01T10:01:00Z","sensors":[{"id":158,"value":1010},{"id":56,"value":41}]}]}'
wait_for 60 K_is log:kit2:158:n 2 && wait_for 10 K_is log:kit1:158:n 1 && pass log-counted ||
	fail log-counted "kit1 158: $(K log:kit1:158:n), kit2 158: $(K log:kit2:158:n)"
[ "$(K log:kit1:158:0)" = '{"n":1,"time":"2025-03-01T10:00:00Z","value":612}' ] &&
	[ "$(K log:kit1:55:0)" = '{"n":1,"time":"2025-03-01T10:00:00Z","value":22.31}' ] && pass log-raw ||
	fail log-raw "$(K log:kit1:158:0) $(K log:kit1:55:0)"
[ "$(K log:kit2:158:0)" = '{"n":1,"time":"2025-03-01T10:00:00Z","value":980}' ] &&
	[ "$(K log:kit2:158:1)" = '{"n":2,"time":"2025-03-01T10:01:00Z","value":1010}' ] &&
	[ "$(K log:kit2:56:n)" = 1 ] && [ "$(K log:kit2:56:0)" = '{"n":1,"time":"2025-03-01T10:01:00Z","value":41}' ] &&
	pass log-json || fail log-json "$(K log:kit2:158:0) $(K log:kit2:158:1) $(K log:kit2:56:0)"
[ "$(K log:devices)" = '["kit1","kit2"]' ] && [ "$(K log:kit1:sensors)" = '[158,55]' ] &&
	[ "$(K log:kit2:sensors)" = '[158,56]' ] && [ "$(K log:keep)" = 5 ] && pass log-index ||
	fail log-index "$(K log:devices) $(K log:kit1:sensors) $(K log:kit2:sensors) keep $(K log:keep)"

# retention: 12 readings of kit3, LOG_KEEP 5: n 8..12 remain, 11 keys
for i in $(seq 1 12); do
	PUB kit3 raw "{t:2025-03-01T11:$(printf %02d "$i"):00Z,158:$((400 + i))}" || fail retention-pub "publish $i"
done
wait_for 60 K_is log:kit3:158:n 12 && pass retention-counted || fail retention-counted "$(K log:kit3:158:n) of 12"
got=$(for s in 0 1 2 3 4; do K "log:kit3:158:$s"; done | python3 -c '
import json,sys
print(" ".join("%d:%s:%g" % (r["n"], r["time"][14:16], r["value"]) for r in sorted((json.loads(l) for l in sys.stdin), key=lambda r: r["n"])))')
[ "$got" = "8:08:408 9:09:409 10:10:410 11:11:411 12:12:412" ] && pass retention-last-kept || fail retention-last-kept "$got"
keys=$(R --scan --pattern 'uf:kv:co2-monitor:log:kit3:158:*' | sort)
nkeys=$(wc -l <<<"$keys")
[ "$nkeys" = 11 ] && ! grep -q 't:2025-03-01T11:0[1-7]:00Z$' <<<"$keys" && grep -q 't:2025-03-01T11:12:00Z$' <<<"$keys" &&
	pass retention-keys-bounded || fail retention-keys-bounded "$nkeys keys: $(tr '\n' ' ' <<<"$keys")"

# duplicates: kit1's message published again (a QoS 1 resend) and a readings-log event pushed twice
PUB kit1 raw '{t:2025-03-01T10:00:00Z,158:612,55:22.31}'
ev='{"device":"kit4","time":"2025-03-01T12:00:00Z","sensors":{"158":1500}}'
U push co2-monitor readings-log "$ev" >/dev/null && U push co2-monitor readings-log "$ev" >/dev/null ||
	fail dup-push "push failed"
dup_seen() { [ "$(U logs co2-monitor/logger 2>&1 | grep -c 'readings skipped: . already logged, 0 older')" = 2 ]; }
wait_for 60 dup_seen && wait_for 10 settled && pass dup-noticed || fail dup-noticed "$(U logs co2-monitor/logger 2>&1 | tail -5)"
[ "$(K log:kit1:158:n)" = 1 ] && [ "$(K log:kit1:55:n)" = 1 ] && [ "$(K log:kit4:158:n)" = 1 ] &&
	[ -z "$(K log:kit4:158:1)" ] && pass dup-logged-once ||
	fail dup-logged-once "kit1 158 $(K log:kit1:158:n), 55 $(K log:kit1:55:n), kit4 $(K log:kit4:158:n)"
# a unit killed while it holds a batch of kit5's 300 readings: its events come
# again, after later ones; the ring keeps the 5 newest, each once.  Made so,
# not raced for (a unit handles 300 readings between two looks on a loaded
# machine): the logger's unit, idle (blocked reading its queue), is stopped,
# then 10 readings pushed; Redis hands them to its pending read at once, so
# it holds them while stopped; the rest are pushed and it is killed.  Had it
# been stopped between two reads (it holds none), it is continued, handles
# them, and the next 10 are tried; no unit (idle_ms 2000 ended it): 10
# readings start one.
kit5() { # FROM TO: kit5's readings FROM..TO pushed to readings-log
	local i
	for i in $(seq "$1" "$2"); do
		printf '{"device":"kit5","time":"2025-03-01T13:%02d:%02dZ","sensors":{"158":%d}}\n' $((i / 60)) $((i % 60)) $((500 + i))
	done | U push co2-monitor readings-log >/dev/null || fail dup-push-kit5 "push $1..$2 failed"
}
logger_re='--consumer=co2-monitor\.logger\.'
next=1 held=0 tries=0
while [ $next -le 300 ] && [ $held = 0 ]; do
	tries=$((tries + 1))
	if plat_kill STOP "$logger_re" 2>/dev/null; then
		kit5 $next $((next + 9))
		if wait_for 2 holds co2-monitor readings-log logger; then
			kit5 $((next + 10)) 300
			plat_kill KILL "$logger_re" && held=1
		else
			plat_kill CONT "$logger_re" 2>/dev/null
		fi
	else
		kit5 $next $((next + 9))
	fi
	next=$((next + 10))
	[ $held = 1 ] || wait_for 60 settled
done
[ $held = 0 ] && [ $next -le 300 ] && kit5 $next 300
[ $held = 1 ] && pass dup-unit-killed || fail dup-unit-killed "no unit of logger held events in $tries tries"
kit5_done() { [ "$(R XLEN uf:q:co2-monitor:readings-log)" -gt 0 ] && settled && [ "$(K log:kit5:158:n)" -ge 5 ]; }
got=$(wait_for 60 kit5_done && for s in 0 1 2 3 4; do K "log:kit5:158:$s"; done | python3 -c '
import json,sys
print(" ".join("%s:%g" % (r["time"][14:19], r["value"]) for r in sorted((json.loads(l) for l in sys.stdin), key=lambda r: r["time"])))')
[ "$got" = "04:56:796 04:57:797 04:58:798 04:59:799 05:00:800" ] &&
	[ "$(R --scan --pattern 'uf:kv:co2-monitor:log:kit5:158:*' | wc -l)" = 11 ] && pass dup-redelivered-once ||
	fail dup-redelivered-once "kit5: $(K log:kit5:158:n) logged, ring $got"

# the query function: unifaas invoke, then the HTTP ingress's /invoke
got=$(U invoke co2-monitor log-query '{"device":"kit3","sensor":158,"last":3}' 2>&1)
[ "$got" = '{"device":"kit3","sensor":158,"count":12,"keep":5,"readings":[{"time":"2025-03-01T11:12:00Z","value":412},{"time":"2025-03-01T11:11:00Z","value":411},{"time":"2025-03-01T11:10:00Z","value":410}]}' ] &&
	pass query-last-n || fail query-last-n "$got"
got=$(U invoke co2-monitor log-query '{"device":"kit3","sensor":"158","last":100}' 2>&1 | python3 -c '
import json,sys; print(" ".join("%g" % r["value"] for r in json.load(sys.stdin)["readings"]))')
[ "$got" = "412 411 410 409 408" ] && pass query-all-kept || fail query-all-kept "$got"
got=$(U invoke co2-monitor log-query '{"device":"kit2"}' 2>&1)
[ "$got" = '{"device":"kit2","sensors":[{"sensor":158,"count":2,"last":{"time":"2025-03-01T10:01:00Z","value":1010}},{"sensor":56,"count":1,"last":{"time":"2025-03-01T10:01:00Z","value":41}}]}' ] &&
	pass query-device || fail query-device "$got"
got=$(U invoke co2-monitor log-query 2>&1 </dev/null; U invoke co2-monitor log-query '{}' 2>&1)
[ "$got" = '{"devices":["kit1","kit2","kit3","kit4","kit5"]}
{"devices":["kit1","kit2","kit3","kit4","kit5"]}' ] && pass query-devices || fail query-devices "$got"
got=$(U invoke co2-monitor log-query '{"device":"kit9","sensor":158}' 2>&1)
rc=$?
[ $rc = 0 ] && [ "$got" = '{"error":"no readings from device '"'kit9'"' in the log","devices":["kit1","kit2","kit3","kit4","kit5"]}' ] &&
	pass query-unknown-device || fail query-unknown-device "status $rc: $got"
got=$(U invoke co2-monitor log-query '{"device":"kit1","sensor":999}' 2>&1)
[ "$got" = '{"error":"no readings of sensor 999 from device '"'kit1'"' in the log","sensors":[158,55]}' ] &&
	pass query-unknown-sensor || fail query-unknown-sensor "$got"
got=$(U invoke co2-monitor log-query '{"device":"kit1","sensor":158,"last":0}' 2>&1)
[ "$got" = '{"error":"query: \"last\" must be an integer 1..10000","example":{"device":"kit1","sensor":158,"last":10}}' ] &&
	pass query-bad || fail query-bad "$got"
TOKEN=$(U token create co2-monitor) || fail query-token "token create failed"
got=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data-binary '{"device":"kit2","sensor":158,"last":1}' "http://127.0.0.1:$PLAT_INGRESS_PORT/co2-monitor/log-query/invoke")
[ "$got" = '{"device":"kit2","sensor":158,"count":2,"keep":5,"readings":[{"time":"2025-03-01T10:01:00Z","value":1010}]} 200' ] &&
	pass query-http-invoke || fail query-http-invoke "$got"
[ "$(R XLEN uf:dlq:co2-monitor:log-query)" = 0 ] && pass query-nothing-dead || fail query-nothing-dead "$(R XRANGE uf:dlq:co2-monitor:log-query - +)"

# docs/examples.md's invoke: sck-raw.txt published as kit7 (LOG_KEEP 5 here, 1440 there)
while IFS= read -r m; do PUB kit7 raw "$m" || fail doc-pub "publish $m"; done <"$UF_TOP/functions/testdata/sck-raw.txt"
wait_for 60 K_is log:kit7:158:n 6 || fail doc-logged "kit7: $(K log:kit7:158:n) of 6 CO2 readings"
want=$(grep -A1 "^\$ unifaas invoke co2-monitor log-query '{\"device\":\"kit1\",\"sensor\":158,\"last\":3}'" "$DOC" | sed -n 2p |
	sed -e 's/"kit1"/"kit7"/' -e 's/"keep":1440/"keep":5/')
got=$(U invoke co2-monitor log-query '{"device":"kit7","sensor":158,"last":3}' 2>&1)
[ -n "$want" ] && [ "$got" = "$want" ] && pass doc-invoke-example || fail doc-invoke-example "got: $got; docs/examples.md: $want"

# a malformed readings-log event: dead-lettered with the logger's reason; the unit goes on
U push co2-monitor readings-log '{"device":"kit6","time":"2025-03-01T14:00:00Z","sensors":{"158":"high"}}' >/dev/null
dlq_is() { [ "$(R XLEN uf:dlq:co2-monitor:readings-log)" = 1 ]; }
wait_for 60 dlq_is && pass malformed-dead-lettered || fail malformed-dead-lettered "$(R XLEN uf:dlq:co2-monitor:readings-log)"
why="logger: bad readings-log event: sensor 158: value 'high' is not a number"
U dlq ls co2-monitor readings-log --json 2>&1 | grep -qF "$why" && pass malformed-reason ||
	fail malformed-reason "$(U dlq ls co2-monitor readings-log --json 2>&1)"
PUB kit6 raw '{t:2025-03-01T14:01:00Z,158:1300}'
wait_for 60 K_is log:kit6:158:n 1 && pass malformed-unit-survives || fail malformed-unit-survives "kit6: $(K log:kit6:158:n)"
U ps 2>&1 | grep -q "crash\|fault" && fail no-crash "$(U ps 2>&1)" || pass no-crash
