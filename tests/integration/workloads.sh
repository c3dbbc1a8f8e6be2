#!/usr/bin/env bash
# The evaluation workloads (issue 10 §2, docs/examples.md) on one real
# platform, each through its own workflow in workflows/ and checked by its
# defined outputs (values, not just events); local-*: the `unifaas run`
# lines docs/examples.md shows give the values it shows.
#   lights: WeMo-style motion events over MQTT (mosquitto_pub, a device
#   account) -> Hue-style commands published to hue/<room>/set (seen by a
#   real mosquitto_sub) and the rooms' state in KV; a malformed event is
#   dead-lettered while the unit goes on.
#   fdc (workflows/eval.yaml): door events pushed with `unifaas push` and
#   published over MQTT -> fdc-count, the openings per hour of day
#   (fdc:hour:HH) and fdc-summary in KV, door-log's count; a bad payload is
#   dead-lettered.
#   alert: Nest-style smoke readings over MQTT -> one alert per alarm going
#   over SMOKE_ALERT_LEVEL and one all-clear, in `alerts` and POSTed to a
#   local webhook (tests/platform/egress_server.py, over uf_http); malformed
#   readings dead-lettered.
#   dhs: weight readings POSTed to the HTTP ingress (a token) -> dhs ->
#   dhs-stats -> the daily, ISO-weekly and monthly averages in KV; the
#   malformed readings dead-lettered at the first step (the truncated one,
#   which the ingress refuses with 400, pushed with `unifaas push`).
#   fib: `unifaas invoke` returns {"n":N,"fib":F} (uf_reply) for known
#   values; `unifaas push` of the sample indexes fills `results`; a bad
#   index fails the invoke (status 5, its reason) and is dead-lettered.
# *-reason: each dead letter's reason is the function's own (lib/fail.h:
# what was wrong and where it came from), never "handler returned 1".
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

command -v mosquitto_sub >/dev/null || {
	fail tools "mosquitto-clients not installed (apt-get install mosquitto-clients)"
	exit 0
}
for f in lights fdc door_log alert dhs dhs_stats fib; do
	[ -f "$UF_TOP/build/functions/$f.uf" ] || { fail build "build/functions/$f.uf missing (make all)"; exit 0; }
done
SUB= SRV=
trap 'plat_cleanup; [ -n "$SUB" ] && kill $SUB 2>/dev/null; [ -n "$SRV" ] && kill $SRV 2>/dev/null' EXIT
plat_up || { fail up "unifaas up failed: $(tail -5 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"; exit 0; }
pass up
# --- the local runs docs/examples.md shows (unifaas run, no platform) ---------
TD=$UF_TOP/functions/testdata IMG=$UF_TOP/build/functions
out=$("$UNIFAAS" run --publish 'hue/+/set' --env LIGHTS_BULB_TOPIC=hue/+/set --source wemo/kitchen/motion \
	--events "$TD/wemo-motion.txt" "$IMG/lights.uf" 2>/dev/null | grep '"topic"' | tr '\n' ' ')
[ "$out" = '{"topic":"hue/kitchen/set","qos":1,"data":"{\"on\":true,\"bri\":254}"} {"topic":"hue/hall/set","qos":1,"data":"{\"on\":true,\"bri\":254}"} {"topic":"hue/kitchen/set","qos":1,"data":"{\"on\":false}"} ' ] &&
	pass local-lights || fail local-lights "$out"
"$UNIFAAS" run --env FDC_UTC_OFFSET_MIN=-60 --kv "$UF_TMP/fdc-kv.json" --events "$TD/fridge-door.txt" "$IMG/fdc.uf" >/dev/null 2>&1
python3 -c "
import json,sys,time
kv=json.load(open('$UF_TMP/fdc-kv.json')); s=json.loads(kv['fdc-summary']); h=[k for k in kv if k.startswith('fdc:hour:')]
sys.exit(0 if kv['fdc-count']=='3' and s['total']==3 and sum(s['by_hour'])==3 and len(h)==1 and s['by_hour'][int(h[0][9:])]==3 else 1)" 2>/dev/null &&
	pass local-fdc || fail local-fdc "$(cat "$UF_TMP/fdc-kv.json")"
"$UNIFAAS" run --kv "$UF_TMP/alert-kv.json" --events "$TD/nest-smoke.txt" "$IMG/alert.uf" >"$UF_TMP/alert-local.out" 2>/dev/null
[ "$(grep -c '"alert\\":' "$UF_TMP/alert-local.out")" = 3 ] && grep -q '"smoke:nest-protect-2": "1"' "$UF_TMP/alert-kv.json" &&
	pass local-alert || fail local-alert "$(cat "$UF_TMP/alert-local.out" "$UF_TMP/alert-kv.json")"
"$UNIFAAS" run --events "$TD/weights.txt" "$IMG/dhs.uf" 2>/dev/null | python3 -c 'import json,sys; [print(json.loads(l)["data"]) for l in sys.stdin]' |
	"$UNIFAAS" run --queue weights --kv "$UF_TMP/dhs-kv.json" --events - "$IMG/dhs_stats.uf" >/dev/null 2>&1
grep -qF '"dhs:alice:month:2025-12": "{\"n\":4,\"sum\":286,\"avg\":71.50}"' "$UF_TMP/dhs-kv.json" && pass local-dhs ||
	fail local-dhs "$(cat "$UF_TMP/dhs-kv.json")"
out=$("$UNIFAAS" run --events "$TD/fib.txt" "$IMG/fib.uf" 2>&1 | grep -c '"reply"\|event [0-9]* failed: fib: .* is not an index')
[ "$out" = 5 ] && pass local-fib || fail local-fib "$("$UNIFAAS" run --events "$TD/fib.txt" "$IMG/fib.uf" 2>&1)"

payloads() { R XRANGE "uf:q:$1:$2" - + | awk 'p=="data"{print} {p=$0}'; }
dlq_is() { [ "$(R XLEN "uf:dlq:$1:$2")" = "$3" ]; }
# reasons WF QUEUE: the reasons of its dead letters, one a line (uf_fail_reason's, lib/fail.h)
reasons() { U dlq ls "$1" "$2" --json 2>/dev/null | python3 -c 'import json,sys; [print(json.loads(l)["reason"]) for l in sys.stdin if l.strip()]'; }
# has_reason NAME WF QUEUE TEXT: a dead letter of WF/QUEUE has the reason TEXT (the whole line)
has_reason() {
	local got
	got=$(reasons "$2" "$3")
	grep -qxF -- "$4" <<<"$got" && pass "$1" || fail "$1" "reasons: $(tr '\n' '|' <<<"$got")"
}
no_crash() { U ps 2>&1 | grep -q "crash\|fault" && fail "$1-no-crash" "$(U ps 2>&1)" || pass "$1-no-crash"; }

# --- lights ----------------------------------------------------------------
U device add wemo --topic 'wemo/+/motion' >"$UF_TMP/wemo.cred" 2>&1 || fail lights-device "$(cat "$UF_TMP/wemo.cred")"
WEMO_PASS=$(sed -n 's/^password: //p' "$UF_TMP/wemo.cred")
U deploy "$UF_TOP/workflows/lights.yaml" >"$UF_TMP/lights.deploy" 2>&1 && pass lights-deploy ||
	fail lights-deploy "$(cat "$UF_TMP/lights.deploy")"
# the bulbs: a subscriber on hue/+/set (the platform's account: devices only publish)
sub_start sub-hue "$UF_TMP/hue.out" --unix "$PLAT_STATE/mqtt.sock" -u unifaasd -P "$(cat "$PLAT_STATE/mqtt.pass")" -q 1 \
	-t 'hue/+/set' -v -C 3 -W 60 || fail subscriber "$(cat "$UF_TMP/hue.out")"
SUB=$SUB_PID
# its routes subscribed first: a message published before the broker's
# SUBACK is not kept for the session (connected alone was a race)
subscribed lights || fail lights-session "unifaasd's MQTT session for lights did not subscribe"
MOTION() { mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u wemo -P "$WEMO_PASS" -q 1 -t "wemo/$1/motion" -m "$2"; }
# kitchen: motion (on), motion again (no change), still (off); the hall is
# bright (lux 400: stays off); a malformed event; then the garage (on)
MOTION kitchen '{"deviceId":"wemo-motion-1","BinaryState":1,"timestamp":1733353200}'
MOTION kitchen '{"deviceId":"wemo-motion-1","BinaryState":1,"timestamp":1733353260}'
MOTION hall '{"deviceId":"wemo-motion-2","BinaryState":"1","lux":400}'
MOTION kitchen '{"deviceId":"wemo-motion-1","BinaryState":0,"timestamp":1733353500}'
MOTION kitchen '{"deviceId":"wemo-motion-1","BinaryState":1,'
MOTION garage '{"deviceId":"wemo-motion-3","BinaryState":1}'
wait $SUB
SUB=
exp='hue/kitchen/set {"on":true,"bri":254}
hue/kitchen/set {"on":false}
hue/garage/set {"on":true,"bri":254}'
[ "$(cat "$UF_TMP/hue.out")" = "$exp" ] && pass lights-hue-commands || fail lights-hue-commands "bulbs got: $(cat "$UF_TMP/hue.out")"
[ "$(kv lights lights:kitchen)" = '{"motion":false,"lux":null,"light":"off"}' ] &&
	[ "$(kv lights lights:hall)" = '{"motion":true,"lux":400,"light":"off"}' ] &&
	[ "$(kv lights lights:garage)" = '{"motion":true,"lux":null,"light":"on"}' ] && pass lights-room-state ||
	fail lights-room-state "kitchen $(kv lights lights:kitchen) hall $(kv lights lights:hall) garage $(kv lights lights:garage)"
[ "$(payloads lights lights | tr '\n' ' ')" = '{"room":"kitchen","light":"on"} {"room":"kitchen","light":"off"} {"room":"garage","light":"on"} ' ] &&
	pass lights-queue || fail lights-queue "$(payloads lights lights | tr '\n' ' ')"
wait_for 30 dlq_is lights motion 1 && pass lights-malformed-dead-lettered ||
	fail lights-malformed-dead-lettered "$(R XLEN uf:dlq:lights:motion) dead letters"
has_reason lights-malformed-reason lights motion "lights: bad sensor event from wemo/kitchen/motion: incomplete JSON: '{\"deviceId\":\"wemo-motion-1\",\"BinaryState\":1,'"
U logs lights/lights 2>&1 | grep -q 'bad sensor event from wemo/kitchen/motion: incomplete JSON' && pass lights-malformed-logged ||
	fail lights-malformed-logged "$(U logs lights/lights 2>&1 | tail -3)"
no_crash lights

# --- fdc (eval.yaml) -------------------------------------------------------
U device add door --topic 'home/+/door' >"$UF_TMP/door.cred" 2>&1 || fail fdc-device "$(cat "$UF_TMP/door.cred")"
DOOR_PASS=$(sed -n 's/^password: //p' "$UF_TMP/door.cred")
U deploy "$UF_TOP/workflows/eval.yaml" >"$UF_TMP/eval.deploy" 2>&1 && pass fdc-deploy || fail fdc-deploy "$(cat "$UF_TMP/eval.deploy")"
subscribed eval || fail fdc-session "unifaasd's MQTT session for eval did not subscribe"
H0=$(date -u +%H)
U push eval fridge-door <"$UF_TOP/functions/testdata/fridge-door.txt" >/dev/null || fail fdc-push "push failed"
mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u door -P "$DOOR_PASS" -q 1 -t home/kitchen/door -m open ||
	fail fdc-mqtt "mosquitto_pub failed"
wait_for 30 kv_is eval door-log-count 4 && pass fdc-door-log-count || fail fdc-door-log-count "door-log-count $(kv eval door-log-count)"
H1=$(date -u +%H)
[ "$(kv eval fdc-count)" = 4 ] && pass fdc-count || fail fdc-count "fdc-count $(kv eval fdc-count)"
# 4 openings in this hour (or split over the two hours the run straddled),
# the summary's slots equal to the exact per-hour counters
sum=$(kv eval fdc-summary)
h0=$(kv eval "fdc:hour:$H0") h1=$(kv eval "fdc:hour:$H1")
python3 - "$sum" "$H0" "$H1" "${h0:-0}" "${h1:-0}" 2>/dev/null <<'EOP' && pass fdc-hourly-summary || fail fdc-hourly-summary "fdc-summary $sum, fdc:hour:$H0=$h0 fdc:hour:$H1=$h1"
import json, sys
s, h0, h1 = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
c = {h0: int(sys.argv[4]), h1: int(sys.argv[5])}
b = s["by_hour"]
ok = s["total"] == 4 and len(b) == 24 and sum(b) == 4 and sum(c.values()) == 4
ok = ok and all(b[h] == (c.get(h, 0)) for h in range(24))
sys.exit(0 if ok else 1)
EOP
wait_for 30 dlq_is eval fridge-door 1 && pass fdc-bad-dead-lettered || fail fdc-bad-dead-lettered "$(R XLEN uf:dlq:eval:fridge-door) dead letters"
has_reason fdc-bad-reason eval fridge-door "fdc: door event: payload '$(grep -vx 'open\|close' "$UF_TOP/functions/testdata/fridge-door.txt")' is neither \"open\" nor \"close\""
no_crash fdc

# --- alert -----------------------------------------------------------------
python3 "$UF_TOP/tests/platform/egress_server.py" "$UF_TMP/hook.port" "$UF_TMP/hook.log" >"$UF_TMP/hook.out" 2>&1 &
SRV=$!
wait_for 10 test -s "$UF_TMP/hook.port" || fail alert-server "the webhook server did not start: $(cat "$UF_TMP/hook.out")"
HOOK="http://127.0.0.1:$(cat "$UF_TMP/hook.port")/hooks/"
# workflows/alert.yaml with the webhook its comment describes
m=$(sed -e "s#image: \.\./#image: $UF_TOP/#" -e "s#env: { SMOKE_ALERT_LEVEL: 50 }#env: { SMOKE_ALERT_LEVEL: 50, ALERT_WEBHOOK_URL: \"${HOOK}webhook\" }\n    egress: [ \"$HOOK\" ]#" \
	"$UF_TOP/workflows/alert.yaml" | manifest alert)
U device add nest --topic 'nest/+/smoke' >"$UF_TMP/nest.cred" 2>&1 || fail alert-device "$(cat "$UF_TMP/nest.cred")"
NEST_PASS=$(sed -n 's/^password: //p' "$UF_TMP/nest.cred")
U deploy "$m" >"$UF_TMP/alert.deploy" 2>&1 && pass alert-deploy || fail alert-deploy "$(cat "$UF_TMP/alert.deploy")"
subscribed alert || fail alert-session "unifaasd's MQTT session for alert did not subscribe"
i=0
while IFS= read -r line; do
	i=$((i + 1))
	dev=$(sed -n 's/.*"device_id":"\([^"]*\)".*/\1/p' <<<"$line")
	mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u nest -P "$NEST_PASS" -q 1 -t "nest/${dev:-x}/smoke" -m "$line" ||
		fail alert-publish "mosquitto_pub of line $i failed"
done <"$UF_TOP/functions/testdata/nest-smoke.txt"
wait_for 30 dlq_is alert smoke 2 && pass alert-malformed-dead-lettered ||
	fail alert-malformed-dead-lettered "$(R XLEN uf:dlq:alert:smoke) dead letters"
exp='{"device":"nest-protect-1","where":"Kitchen","alert":"smoke","smoke_level":64,"threshold":50}
{"device":"nest-protect-2","where":"Hallway","alert":"smoke","smoke_level":30,"threshold":50}
{"device":"nest-protect-1","where":"Kitchen","alert":"clear","smoke_level":8,"threshold":50}'
[ "$(payloads alert alerts)" = "$exp" ] && pass alert-events || fail alert-events "alerts: $(payloads alert alerts)"
got=$(sed -n 's/^WEBHOOK key=[0-9-]* body=//p' "$UF_TMP/hook.log")
[ "$got" = "$exp" ] && pass alert-webhook || fail alert-webhook "the webhook got: $(cat "$UF_TMP/hook.log")"
[ "$(kv alert smoke:nest-protect-1)" = 0 ] && [ "$(kv alert smoke:nest-protect-2)" = 1 ] && pass alert-state ||
	fail alert-state "nest-protect-1 $(kv alert smoke:nest-protect-1), nest-protect-2 $(kv alert smoke:nest-protect-2)"
r=$(reasons alert smoke)
grep -q '^alert: bad smoke alarm reading from nest/nest-protect-1/smoke: "smoke_level" must be a number >= 0: ' <<<"$r" &&
	grep -q '^alert: bad smoke alarm reading from nest/nest-protect-1/smoke: incomplete JSON: ' <<<"$r" && pass alert-malformed-reason ||
	fail alert-malformed-reason "$r"
U logs alert/alert 2>&1 | grep -q 'bad smoke alarm reading from nest/.*/smoke: "smoke_level" must be a number' &&
	U logs alert/alert 2>&1 | grep -q 'bad smoke alarm reading from nest/nest-protect-1/smoke: incomplete JSON' && pass alert-malformed-logged ||
	fail alert-malformed-logged "$(U logs alert/alert 2>&1 | tail -3)"
no_crash alert

# --- dhs -------------------------------------------------------------------
U deploy "$UF_TOP/workflows/dhs.yaml" >"$UF_TMP/dhs.deploy" 2>&1 && pass dhs-deploy || fail dhs-deploy "$(cat "$UF_TMP/dhs.deploy")"
DHS_TOKEN=$(U token create dhs) || fail dhs-token "token create failed"
codes=
while IFS= read -r line; do
	codes+=$(curl -s -o /dev/null -w '%{http_code} ' -H "Authorization: Bearer $DHS_TOKEN" -H 'Content-Type: application/json' \
		--data-binary "$line" "http://127.0.0.1:$PLAT_INGRESS_PORT/dhs/weight")
done <"$UF_TOP/functions/testdata/weights.txt"
# the truncated last line is refused at the edge (400: not JSON); pushed, it reaches dhs and fails there
[ "$codes" = "202 202 202 202 202 202 202 400 " ] && pass dhs-posted || fail dhs-posted "answers: $codes"
U push dhs readings "$(tail -1 "$UF_TOP/functions/testdata/weights.txt")" >/dev/null || fail dhs-push "push failed"
wait_for 30 kv_is dhs dhs:alice:day:2025-12-08 '{"n":1,"sum":73,"avg":73.00}' && pass dhs-chained ||
	fail dhs-chained "dhs:alice:day:2025-12-08 $(kv dhs dhs:alice:day:2025-12-08)"
bad=
for kvexp in 'alice:day:2025-12-01 {"n":2,"sum":141,"avg":70.50}' 'alice:day:2025-11-30 {"n":1,"sum":69,"avg":69.00}' \
	'alice:week:2025-W48 {"n":1,"sum":69,"avg":69.00}' 'alice:week:2025-W49 {"n":3,"sum":213,"avg":71.00}' \
	'alice:week:2025-W50 {"n":1,"sum":73,"avg":73.00}' 'alice:month:2025-11 {"n":1,"sum":69,"avg":69.00}' \
	'alice:month:2025-12 {"n":4,"sum":286,"avg":71.50}' 'bob:day:2025-12-03 {"n":1,"sum":80.4,"avg":80.40}' \
	'bob:week:2025-W49 {"n":1,"sum":80.4,"avg":80.40}' 'bob:month:2025-12 {"n":1,"sum":80.4,"avg":80.40}'; do
	k=dhs:${kvexp%% *}
	[ "$(kv dhs "$k")" = "${kvexp#* }" ] || bad+="$k=$(kv dhs "$k") "
done
[ -z "$bad" ] && pass dhs-averages || fail dhs-averages "$bad"
wait_for 30 dlq_is dhs readings 2 && pass dhs-malformed-dead-lettered ||
	fail dhs-malformed-dead-lettered "$(R XLEN uf:dlq:dhs:readings) dead letters"
r=$(reasons dhs readings)
grep -q '^dhs: bad weight reading from /weight: "weight_kg" must be a number in 1..500: ' <<<"$r" &&
	grep -q '^dhs: bad weight reading: incomplete JSON: ' <<<"$r" && pass dhs-malformed-reason || fail dhs-malformed-reason "$r"
# a weights event dhs would never push reaches dhs-stats: dead-lettered there with what is missing
U push dhs weights '{"user":"carol","weight_kg":70}' >/dev/null || fail dhs-stats-push "push failed"
wait_for 30 dlq_is dhs weights 1 && pass dhs-stats-bad-dead-lettered || fail dhs-stats-bad-dead-lettered "$(R XLEN uf:dlq:dhs:weights)"
has_reason dhs-stats-bad-reason dhs weights "dhs-stats: not a reading from dhs: no \"date\" (seconds since the epoch): '{\"user\":\"carol\",\"weight_kg\":70}'"
U logs dhs/dhs 2>&1 | grep -q 'bad weight reading from /weight: "weight_kg" must be a number in 1..500' &&
	U logs dhs/dhs 2>&1 | grep -q 'bad weight reading: incomplete JSON' && pass dhs-malformed-logged ||
	fail dhs-malformed-logged "$(U logs dhs/dhs 2>&1 | tail -3)"
no_crash dhs

# --- fib -------------------------------------------------------------------
U deploy "$UF_TOP/workflows/fib.yaml" >"$UF_TMP/fib.deploy" 2>&1 && pass fib-deploy || fail fib-deploy "$(cat "$UF_TMP/fib.deploy")"
bad=
for nf in 0:0 1:1 2:1 10:55 20:6765 30:832040; do
	got=$(U invoke fib numbers "${nf%%:*}" 2>&1)
	[ "$got" = "{\"n\":${nf%%:*},\"fib\":${nf#*:}}" ] || bad+="fib(${nf%%:*})=$got "
done
got=$(U invoke fib numbers '{"n":25}' 2>&1)
[ "$got" = '{"n":25,"fib":75025}' ] || bad+="fib({n:25})=$got "
[ -z "$bad" ] && pass fib-invoke-values || fail fib-invoke-values "$bad"
U invoke fib numbers 93 >"$UF_TMP/fib93.out" 2>"$UF_TMP/fib93.err"
rc=$?
[ $rc = 5 ] && grep -q "fib: '93' is not an index 0..92" "$UF_TMP/fib93.err" && pass fib-invoke-bad-index ||
	fail fib-invoke-bad-index "status $rc: $(cat "$UF_TMP/fib93.out" "$UF_TMP/fib93.err")"
U push fib numbers <"$UF_TOP/functions/testdata/fib.txt" >/dev/null || fail fib-push "push failed"
res() { payloads fib results | grep -c .; }
eq_res() { [ "$(res)" = 9 ]; }
wait_for 30 eq_res && payloads fib results | tail -2 | tr '\n' ' ' | grep -qx '{"n":10,"fib":55} {"n":30,"fib":832040} ' &&
	pass fib-push-results || fail fib-push-results "$(payloads fib results | tr '\n' ' ')"
wait_for 30 dlq_is fib numbers 4 && pass fib-bad-dead-lettered || fail fib-bad-dead-lettered "$(R XLEN uf:dlq:fib:numbers) dead letters"
has_reason fib-bad-reason fib numbers "fib: '93' is not an index 0..92 (\"N\" or {\"n\":N})"
no_crash fib
