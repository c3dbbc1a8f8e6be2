#!/usr/bin/env bash
# The CO2 workflow (workflows/co2.yaml, functions/threshold.c) on a real
# platform: kits publish raw and JSON readings with mosquitto_pub (QoS 1,
# a device account) to device/sck/<token>/readings[/raw]; a rising series
# alerts once at 1000 and once at 2000 ppm, a noisy one around 1000 once,
# the fall gives one all-clear, two devices keep separate levels, every
# reading reaches readings-log with its device, and a malformed payload is
# dead-lettered (with its topic) while the unit goes on; slack-alert posts
# each alert to a Slack webhook (`unifaas sim slack`) once.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

command -v mosquitto_pub >/dev/null || {
	fail tools "mosquitto_pub not installed (apt-get install mosquitto-clients)"
	exit 0
}
[ -f "$UF_TOP/build/functions/threshold.uf" ] || { fail build "build/functions/threshold.uf missing (make all)"; exit 0; }
plat_suite_up
pass up

U device add kits --topic 'device/sck/#' >"$UF_TMP/kits.cred" 2>&1 || fail device-add "$(cat "$UF_TMP/kits.cred")"
DEV_PASS=$(sed -n 's/^password: //p' "$UF_TMP/kits.cred")
# slack-alert posts to `unifaas sim slack`, standing in for Slack: co2.yaml
# with its egress prefix the simulator's, and the secret its URL
"$UNIFAAS" sim slack --port 0 --path /services/T0/B0/XXX >"$UF_TMP/slack.out" 2>&1 &
SLACK_PID=$!
trap 'kill $SLACK_PID 2>/dev/null; plat_cleanup' EXIT
wait_for 10 grep -q '^sim slack: listening on ' "$UF_TMP/slack.out" || fail slack-sim "$(cat "$UF_TMP/slack.out")"
SLACK_URL=$(sed -n 's/^sim slack: listening on //p' "$UF_TMP/slack.out")
printf '%s' "$SLACK_URL" | U secret set SLACK_WEBHOOK_URL >/dev/null
sed -e "s|https://hooks.slack.com/services/|${SLACK_URL%/services/*}/services/|" \
	-e "s|\.\./build/|$UF_TOP/build/|" "$UF_TOP/workflows/co2.yaml" >"$UF_TMP/co2.yaml"
U deploy "$UF_TMP/co2.yaml" >"$UF_TMP/deploy.log" 2>&1 && pass deploy || fail deploy "$(cat "$UF_TMP/deploy.log")"
# deploy returns before unifaasd's MQTT session has subscribed its routes,
# and the broker keeps no message published before that (on a loaded
# machine the first readings were published into nothing)
subscribed co2-monitor && pass session-subscribed || fail session-subscribed "$(daemon_log | grep mqtt | tail -3)"

# PUB TOKEN raw|json PAYLOAD
PUB() {
	local t="device/sck/$1/readings"
	[ "$2" = raw ] && t="$t/raw"
	mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u kits -P "$DEV_PASS" -q 1 -t "$t" -m "$3"
}
payloads() { R XRANGE "uf:q:co2-monitor:$1" - + | awk 'p=="data"{print} {p=$0}'; }
nlog() { payloads readings-log | grep -c "\"device\":\"$1\""; }
nlog_is() { [ "$(nlog "$1")" = "$2" ]; }
# alerts TOKEN: the device's alerts as level:ppm, one a line
alerts() { payloads alerts | python3 -c "
import json,sys
for l in sys.stdin:
    a=json.loads(l)
    if a['device']=='$1': print('%s:%g' % (a['level'], a['ppm']))"; }
# RAW TOKEN PPM...: publishes one raw reading per value, in order (one
# unit reads the queue: co2.yaml's max_units 1)
RAW() {
	local tok=$1 v i=0
	shift
	for v in "$@"; do
		i=$((i + 1))
		PUB "$tok" raw "{t:2025-03-01T10:$(printf %02d $((i % 60))):00Z,158:$v 55:22.5}" || return 1
	done
}

# a rising series, then a fall, kit1 raw; noisy around 1000 ppm, kit2 JSON
RAW kit1 600 900 1000 1500 1999 2000 2500 1950 1200 950 899 700
for v in 980 1010 995 1020 960 1005 990; do
	PUB kit2 json "{\"data\":[{\"recorded_at\":\"2025-03-01T10:00:00Z\",\"sensors\":[{\"id\":158,\"value\":$v},{\"id\":55,\"value\":null}]}]}"
done
wait_for 60 nlog_is kit1 12 && pass raw-readings-logged || fail raw-readings-logged "$(nlog kit1) of 12 logged"
wait_for 60 nlog_is kit2 7 && pass json-readings-logged || fail json-readings-logged "$(nlog kit2) of 7 logged"
got=$(alerts kit1 | tr '\n' ' ')
[ "$got" = "warning:1000 danger:2000 ok:899 " ] && pass rising-falling-alerts || fail rising-falling-alerts "kit1 alerts: $got"
got=$(alerts kit2 | tr '\n' ' ')
[ "$got" = "warning:1010 " ] && pass noisy-alerts-once || fail noisy-alerts-once "kit2 alerts: $got"
# each alert reached Slack once, as a readable line
slack_lines() { grep -c '^\[slack\]' "$UF_TMP/slack.out"; }
slack_is() { [ "$(slack_lines)" = "$1" ]; }
wait_for 60 slack_is 4 && grep -q '^\[slack\] ..:..:.. unifaas-bot: :warning: CO2 warning on kit1: 1000 ppm at 2025-03-01T10:03:00Z. Open a window.$' "$UF_TMP/slack.out" &&
	grep -q ': :rotating_light: CO2 danger on kit1: 2000 ppm at 2025-03-01T10:06:00Z. Air the room now.$' "$UF_TMP/slack.out" &&
	grep -q ': :white_check_mark: CO2 back to normal on kit1: 899 ppm at 2025-03-01T10:11:00Z. All clear.$' "$UF_TMP/slack.out" &&
	grep -q ': :warning: CO2 warning on kit2: 1010 ppm at 2025-03-01T10:00:00Z. Open a window.$' "$UF_TMP/slack.out" &&
	pass alerts-on-slack || fail alerts-on-slack "$(grep '^\[slack\]' "$UF_TMP/slack.out" | tr '\n' '|')"
[ "$(kv co2-monitor co2:kit1:level)" = 0 ] && [ "$(kv co2-monitor co2:kit2:level)" = 1 ] && pass level-per-device ||
	fail level-per-device "kit1 $(kv co2-monitor co2:kit1:level), kit2 $(kv co2-monitor co2:kit2:level)"
payloads readings-log | grep -q '"device":"kit2","time":"2025-03-01T10:00:00Z","sensors":{"158":980}}' &&
	pass json-null-dropped || fail json-null-dropped "$(payloads readings-log | grep kit2 | head -1)"

# kit2 stays at warning: a new kit3 rising to 1100 alerts for itself
RAW kit3 1100
wait_for 60 nlog_is kit3 1 && [ "$(alerts kit3)" = "warning:1100" ] && [ "$(alerts kit2 | wc -l)" = 1 ] &&
	pass separate-devices || fail separate-devices "kit3: $(alerts kit3 | tr '\n' ' ') kit2: $(alerts kit2 | wc -l)"

# a malformed payload: dead-lettered after the retries, with its topic; the unit goes on
PUB kit4 raw '{t:2025-03-01 10:00:00,158:600}'
dlq_n() { R XLEN uf:dlq:co2-monitor:readings; }
eq_dlq() { [ "$(dlq_n)" = 1 ]; }
wait_for 60 eq_dlq && pass malformed-dead-lettered || fail malformed-dead-lettered "$(dlq_n) dead letters"
dl=$(R XRANGE uf:dlq:co2-monitor:readings - +)
grep -qx 'device/sck/kit4/readings/raw' <<<"$dl" && pass dead-letter-topic || fail dead-letter-topic "$dl"
# its reason is threshold's uf_fail_reason: the device, the topic and the parse error
why='device kit4 topic device/sck/kit4/readings/raw: malformed SCK raw payload: at byte 13'
grep -q "^$why" <<<"$dl" && U dlq ls co2-monitor readings --json 2>&1 | grep -qF "$why" &&
	pass dead-letter-reason || fail dead-letter-reason "$dl $(U dlq ls co2-monitor readings --json 2>&1)"
grep -q 'device kit4 topic device/sck/kit4/readings/raw: malformed SCK raw payload: at byte 13' < <(U logs co2-monitor/threshold 2>&1) &&
	pass malformed-logged || fail malformed-logged "$(U logs co2-monitor/threshold 2>&1 | tail -3)"
RAW kit4 1300
wait_for 60 nlog_is kit4 1 && [ "$(alerts kit4)" = "warning:1300" ] && pass unit-survives ||
	fail unit-survives "kit4: $(nlog kit4) logged, alerts $(alerts kit4 | tr '\n' ' ')"
U ps 2>&1 | grep -q "crash\|fault" && fail no-crash "$(U ps 2>&1)" || pass no-crash
