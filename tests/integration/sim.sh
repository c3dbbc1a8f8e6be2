#!/usr/bin/env bash
# `unifaas sim sck` (issue 10, section 3): simulated Smart Citizen Kits
# publish real-format readings over MQTT QoS 1 with their own device
# accounts to the broker of a real platform; a workflow routes both SCK
# topics into a queue.  Every message sim says it published is in the
# queue, with its kit's topic as the source; every payload parses by the
# grammar of /work/shared/testdata/sck/README.md (docs/cli.md); the values
# follow --co2 and --seed; bad options fail with status 2 naming them; an
# unreachable broker with status 3.
# The other simulators feed the evaluation workloads' workflows as deployed
# from workflows/, and each workflow's output is checked: motion -> lights
# (the bulbs' commands on hue/<room>/set, seen by mosquitto_sub, and each
# room's KV state, following --pattern); weight -> dhs (the daily, weekly
# and monthly averages in KV equal those computed here from the published
# weights, which drift by --drift with noise); smoke -> alert (an alert at
# the --alarm-at'th reading and an all-clear after --alarm-for, in `alerts`
# and at a local webhook); door -> eval's fdc (the openings counted in all
# and per hour of day, paced by --opens-per-hour).
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || { fail build "platform_fn.c did not build"; exit 0; }
PLAT_CONF="retain_handled=1000000" # every entry stays countable
plat_suite_up
pass up

m=$(manifest sck <<EOF2
name: sck
functions:
  count:
    image: $fn
    listen: readings
ingress:
  mqtt:
    - { topic: "device/sck/+/readings/raw", queue: readings }
    - { topic: "device/sck/+/readings", queue: readings }
EOF2
)
U deploy "$m" >"$UF_TMP/d.out" 2>&1 && pass deploy || fail deploy "$(cat "$UF_TMP/d.out")"
wait_for 30 sh -c "grep -q 'client=unifaasd-sck .*result=connected' '$PLAT_STATE/logs/unifaasd.log'" &&
	pass session-connected || fail session-connected "$(daemon_log | grep mqtt | tail -3)"
subscribed sck || fail session-subscribed "$(daemon_log | grep mqtt | tail -3)"

# --- 3 kits x 20 readings, raw and JSON: every one queued, per kit --------
U sim sck --devices 3 --count 20 --interval-ms 5 --co2 rising --format mixed --seed 42 \
	>"$UF_TMP/sim.out" 2>"$UF_TMP/sim.err"
rc=$?
[ $rc = 0 ] && [ "$(tail -1 "$UF_TMP/sim.out")" = "published 60, failed 0" ] && pass sim-published ||
	fail sim-published "status $rc: $(tail -2 "$UF_TMP/sim.out") $(cat "$UF_TMP/sim.err")"
U device ls >"$UF_TMP/devs"
for i in 1 2 3; do grep -q "^sck-sim-$i  *device/sck/sck-sim-$i/#\$" "$UF_TMP/devs" || fail device-accounts "$(cat "$UF_TMP/devs")"; done
pass device-accounts
# entries of the queue as "SRC DATA" lines, distinct (delivery is at least once)
entries() {
	R XRANGE uf:q:sck:readings - + | awk '/^[0-9]+-[0-9]+$/ && p!="data" && p!="src" {if (d!="") print s " " d; s=d=""; p=""; next}
		p=="src"{s=$0} p=="data"{d=$0} {p=$0} END{if (d!="") print s " " d}' | sort -u
}
queued_is() { [ "$(entries | wc -l)" -ge "$1" ]; }
wait_for 60 queued_is 60 || true
sed -n '2,61p' "$UF_TMP/sim.out" | sort -u >"$UF_TMP/published"
entries >"$UF_TMP/queued"
[ "$(wc -l <"$UF_TMP/published")" = 60 ] && cmp -s "$UF_TMP/published" "$UF_TMP/queued" && pass every-message-queued ||
	fail every-message-queued "published $(wc -l <"$UF_TMP/published"), queued $(wc -l <"$UF_TMP/queued"): $(diff "$UF_TMP/published" "$UF_TMP/queued" | head -4 | tr '\n' ' ')"

# every payload by the SCK grammar; the topic says the format; CO2 (158)
# rises from 400 to 2500 ppm per kit
python3 - "$UF_TMP/queued" >"$UF_TMP/grammar" 2>&1 <<'PY' && pass payload-grammar || fail payload-grammar "$(head -5 "$UF_TMP/grammar")"
import json, re, sys
num = r"-?\d+(?:\.\d+)?"
pair = r"\s*(?:t\s*:\s*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|\d+\s*:\s*(?:%s|null))\s*" % num
raw_re = re.compile(r"^\{\s*(?:%s(?:[,\s]\s*%s)*)?\}$" % (pair, pair))
co2, bad = {}, []
for line in open(sys.argv[1]):
    src, data = line.rstrip("\n").split(" ", 1)
    m = re.fullmatch(r"device/sck/(sck-sim-\d)/readings(/raw)?", src)
    if not m:
        bad.append("topic " + src); continue
    kit, raw = m.group(1), bool(m.group(2))
    if raw != (kit in ("sck-sim-1", "sck-sim-3")):
        bad.append("kit %s format %s" % (kit, "raw" if raw else "json")); continue
    if raw:
        if not raw_re.match(data) or len(re.findall(r"t\s*:", data)) != 1:
            bad.append("raw " + data); continue
        vals = dict(re.findall(r"(\d+)\s*:\s*(%s)" % num, re.sub(r"t:\S+?Z", "", data)))
    else:
        d = json.loads(data)["data"]
        assert d and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", g["recorded_at"]) for g in d), data
        vals = {str(s["id"]): s["value"] for g in d for s in g["sensors"]}
        assert all(isinstance(v, (int, float)) for v in vals.values()), data
    if set(vals) != {"10", "55", "56", "158"}:
        bad.append("sensors " + data); continue
    co2.setdefault(kit, []).append(float(vals["158"]))
for kit, v in sorted(co2.items()):
    if len(v) != 20 or sorted(v) != sorted(set(v)) or min(v) != 400 or max(v) != 2500:
        bad.append("%s co2 %s" % (kit, v))
if sorted(co2) != ["sck-sim-1", "sck-sim-2", "sck-sim-3"]:
    bad.append("kits " + " ".join(co2))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY

# --- the same seed gives the same values; noisy stays around 1000 ---------
vals() { sed -n 's/^device[^ ]* //p' "$1" | sed 's/t:[^,]*,//; s/"recorded_at":"[^"]*"//'; }
U sim sck --devices 2 --count 15 --interval-ms 0 --co2 noisy --seed 7 --prefix rep- >"$UF_TMP/n1" 2>&1 &&
	U sim sck --devices 2 --count 15 --interval-ms 0 --co2 noisy --seed 7 --prefix rep- >"$UF_TMP/n2" 2>&1 &&
	U sim sck --devices 2 --count 15 --interval-ms 0 --co2 noisy --seed 8 --prefix rep- >"$UF_TMP/n3" 2>&1
if [ "$(vals "$UF_TMP/n1")" = "$(vals "$UF_TMP/n2")" ] && [ "$(vals "$UF_TMP/n1")" != "$(vals "$UF_TMP/n3")" ]; then
	pass seed-reproducible
else
	fail seed-reproducible "$(diff <(vals "$UF_TMP/n1") <(vals "$UF_TMP/n2") | head -3 | tr '\n' ' ')"
fi
vals "$UF_TMP/n1" | sed -n 's/.*158:\([0-9]*\)}$/\1/p' | awk '$1<850||$1>1150{bad++} {n++} END{exit !(n==30 && !bad)}' &&
	pass co2-noisy || fail co2-noisy "$(vals "$UF_TMP/n1" | head -3 | tr '\n' ' ')"

# peak: 400 up to 2500 at the middle reading, back down to 400 at the last
U sim sck --count 9 --interval-ms 0 --co2 peak --prefix peak- >"$UF_TMP/peak" 2>&1
[ "$(vals "$UF_TMP/peak" | sed -n 's/.*158:\([0-9]*\)}$/\1/p' | tr '\n' ' ')" = "400 925 1450 1975 2500 1975 1450 925 400 " ] &&
	pass co2-peak || fail co2-peak "$(cat "$UF_TMP/peak")"

# === the evaluation workloads fed by their simulators (docs/examples.md) ===
# Each simulator feeds its workflow of workflows/ as deployed (its mqtt
# route), and the workflow's own output is checked against what the test
# computes from the messages sim printed (and from the options: the pattern,
# the alarm's message, the doors' alternation).
command -v mosquitto_sub >/dev/null || {
	fail tools "mosquitto-clients not installed (apt-get install mosquitto-clients)"
	exit 0
}
for f in lights dhs dhs_stats alert fdc door_log; do
	[ -f "$UF_TOP/build/functions/$f.uf" ] || { fail build "build/functions/$f.uf missing (make all)"; exit 0; }
done
SUB= SRV=
trap 'plat_cleanup; [ -n "$SUB" ] && kill $SUB 2>/dev/null; [ -n "$SRV" ] && kill $SRV 2>/dev/null' EXIT
payloads() { R XRANGE "uf:q:$1:$2" - + | awk 'p=="data"{print} {p=$0}'; }
session_up() { # WORKFLOW: unifaasd's MQTT session for it connected, its routes subscribed
	subscribed "$1"
}
# messages of a sim output file, as "TOPIC PAYLOAD" lines
msgs() { sed -n '2,$p' "$1" | grep -v '^published '; }

# --- motion -> lights: hue commands per room, the rooms' state ---------------
U deploy "$UF_TOP/workflows/lights.yaml" >"$UF_TMP/lights.deploy" 2>&1 && session_up lights &&
	pass motion-deploy || fail motion-deploy "$(cat "$UF_TMP/lights.deploy")"
# the bulbs: on hue/+/set, with the platform's account (devices only publish);
# pattern 110 over 7 messages: on, off, on, off, on in each of the two rooms
sub_start sub-hue "$UF_TMP/hue.out" --unix "$PLAT_STATE/mqtt.sock" -u unifaasd -P "$(cat "$PLAT_STATE/mqtt.pass")" -q 1 \
	-t 'hue/+/set' -v -C 10 -W 120 || fail subscriber "$(cat "$UF_TMP/hue.out")"
SUB=$SUB_PID
U sim motion --rooms kitchen,hall --pattern 110 --count 7 --interval-ms 20 --seed 1 >"$UF_TMP/motion.out" 2>"$UF_TMP/motion.err"
rc=$?
[ $rc = 0 ] && [ "$(tail -1 "$UF_TMP/motion.out")" = "published 14, failed 0" ] && pass motion-published ||
	fail motion-published "status $rc: $(tail -2 "$UF_TMP/motion.out") $(cat "$UF_TMP/motion.err")"
U device ls >"$UF_TMP/devs"
grep -q '^wemo-sim-1  *wemo/kitchen/motion$' "$UF_TMP/devs" && grep -q '^wemo-sim-2  *wemo/hall/motion$' "$UF_TMP/devs" &&
	pass motion-accounts || fail motion-accounts "$(cat "$UF_TMP/devs")"
wait $SUB
SUB=
# expected: each room's BinaryState follows the pattern; a command at each change
msgs "$UF_TMP/motion.out" >"$UF_TMP/motion.msgs"
python3 - "$UF_TMP/motion.msgs" "$UF_TMP/hue.out" >"$UF_TMP/motion.check" 2>&1 <<'PY' && pass motion-hue-commands || fail motion-hue-commands "$(head -5 "$UF_TMP/motion.check")"
import json, re, sys
states, bad = {}, []
for line in open(sys.argv[1]):
    topic, data = line.rstrip("\n").split(" ", 1)
    room = re.fullmatch(r"wemo/(kitchen|hall)/motion", topic).group(1)
    d = json.loads(data)
    assert set(d) == {"deviceId", "BinaryState", "timestamp"} and d["BinaryState"] in (0, 1), data
    assert d["deviceId"] == {"kitchen": "wemo-sim-1", "hall": "wemo-sim-2"}[room], data
    states.setdefault(room, []).append(d["BinaryState"])
for room, s in states.items():
    if s != [1, 1, 0, 1, 1, 0, 1]:
        bad.append("%s states %s, not pattern 110" % (room, s))
want = {}
for room, s in states.items():
    on = 0
    for m in s:
        if m != on:
            want.setdefault(room, []).append('{"on":true,"bri":254}' if m else '{"on":false}')
            on = m
got = {}
for line in open(sys.argv[2]):
    topic, cmd = line.rstrip("\n").split(" ", 1)
    got.setdefault(topic.split("/")[1], []).append(cmd)
if got != want:
    bad.append("bulbs got %s, want %s" % (got, want))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
[ "$(kv lights lights:kitchen)" = '{"motion":true,"lux":null,"light":"on"}' ] &&
	[ "$(kv lights lights:hall)" = '{"motion":true,"lux":null,"light":"on"}' ] && pass motion-room-state ||
	fail motion-room-state "kitchen $(kv lights lights:kitchen) hall $(kv lights lights:hall)"

# --- weight -> dhs: the averages in KV are those of the simulated weights ----
U deploy "$UF_TOP/workflows/dhs.yaml" >"$UF_TMP/dhs.deploy" 2>&1 && session_up dhs &&
	pass weight-deploy || fail weight-deploy "$(cat "$UF_TMP/dhs.deploy")"
U sim weight --users alice,bob --devices 2 --count 12 --interval-ms 0 --seed 5 --drift 0.1 \
	--start-date 2025-11-25 >"$UF_TMP/weight.out" 2>"$UF_TMP/weight.err"
rc=$?
[ $rc = 0 ] && [ "$(tail -1 "$UF_TMP/weight.out")" = "published 24, failed 0" ] && pass weight-published ||
	fail weight-published "status $rc: $(tail -2 "$UF_TMP/weight.out") $(cat "$UF_TMP/weight.err")"
msgs "$UF_TMP/weight.out" >"$UF_TMP/weight.msgs"
# the expected averages, computed here from the published weights
python3 - "$UF_TMP/weight.msgs" >"$UF_TMP/weight.want" 2>"$UF_TMP/weight.pyerr" <<'PY' && pass weight-drift-noise || fail weight-drift-noise "$(cat "$UF_TMP/weight.pyerr")"
import datetime, json, re, sys
per, keys, n = {}, {}, 0
for line in open(sys.argv[1]):
    topic, data = line.rstrip("\n").split(" ", 1)
    dev = re.fullmatch(r"scale/(scale-sim-[12])/weight", topic).group(1)
    d = json.loads(data)
    assert set(d) == {"user", "weight_kg", "date", "fat_ratio", "deviceid"} and d["deviceid"] == dev, data
    per.setdefault(d["user"], []).append((d["date"], d["weight_kg"]))
    t = datetime.datetime.fromtimestamp(d["date"], datetime.timezone.utc)
    y, w, _ = t.isocalendar()
    for k in ("day:%s" % t.strftime("%Y-%m-%d"), "week:%d-W%02d" % (y, w), "month:%s" % t.strftime("%Y-%m")):
        keys.setdefault("dhs:%s:%s" % (d["user"], k), []).append(d["weight_kg"])
assert sorted(per) == ["alice", "bob"], per.keys()
for user, r in per.items():
    # one reading a day from 2025-11-25, 07:00-08:00 UTC
    start = datetime.datetime(2025, 11, 25, 7, tzinfo=datetime.timezone.utc).timestamp()
    assert len(r) == 12 and all(0 <= r[i][0] - start - i * 86400 < 3600 for i in range(12)), (user, r)
    # drifting by +0.1 kg a day, noise within +-0.3 kg (+0.05 for the rounding)
    ws = [w for _, w in r]
    fit = [ws[i] - 0.1 * i for i in range(12)]
    base = sum(fit) / 12
    assert 55 <= base <= 95 and all(abs(f - base) <= 0.7 for f in fit), (user, ws)
    assert len(set(fit)) > 3, ("no noise", user, ws)
for k, ws in sorted(keys.items()):
    print(k, len(ws), repr(sum(ws)))
PY
weights_done() { # every reading in its month's average
	local n=0 k
	for k in $(grep -o '^dhs:[a-z]*:month:[0-9-]*' "$UF_TMP/weight.want"); do
		n=$((n + $(kv dhs "$k" | sed -n 's/^{"n":\([0-9]*\),.*/\1/p'))) || return 1
	done
	[ "$n" = 24 ]
}
wait_for 60 weights_done || true
while read -r key n sum; do printf '%s %s %s %s\n' "$key" "$n" "$sum" "$(kv dhs "$key")"; done <"$UF_TMP/weight.want" >"$UF_TMP/weight.got"
python3 - "$UF_TMP/weight.got" >"$UF_TMP/weight.check" 2>&1 <<'PY' && pass weight-averages || fail weight-averages "$(head -4 "$UF_TMP/weight.check")"
import json, sys
bad, lines = [], open(sys.argv[1]).read().splitlines()
for line in lines:
    key, n, s, got = line.split(" ", 3)
    n, s = int(n), float(s)
    try:
        g = json.loads(got)
    except ValueError:
        bad.append("%s: %r" % (key, got)); continue
    if g["n"] != n or abs(g["sum"] - s) > 1e-6 or abs(g["avg"] - s / n) > 0.0051:
        bad.append("%s: %s, want n %d sum %.10g avg %.2f" % (key, got, n, s, s / n))
if len(lines) < 2 * (12 + 2 + 2):  # each user: 12 days, 2 ISO weeks at least, 2 months
    bad.append("only %d keys" % len(lines))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
# the same seed and options, the same messages, date and all
U sim weight --users alice,bob --devices 2 --count 12 --interval-ms 0 --seed 5 --drift 0.1 \
	--start-date 2025-11-25 >"$UF_TMP/weight2.out" 2>&1
U sim weight --users alice,bob --devices 2 --count 12 --interval-ms 0 --seed 6 --drift 0.1 \
	--start-date 2025-11-25 >"$UF_TMP/weight3.out" 2>&1
msgs "$UF_TMP/weight2.out" | cmp -s - "$UF_TMP/weight.msgs" && ! msgs "$UF_TMP/weight3.out" | cmp -s - "$UF_TMP/weight.msgs" &&
	pass weight-seed-reproducible || fail weight-seed-reproducible "$(msgs "$UF_TMP/weight2.out" | diff - "$UF_TMP/weight.msgs" | head -3)"

# --- smoke -> alert: an alert at the Nth message, at the webhook too ---------
python3 "$UF_TOP/tests/platform/egress_server.py" "$UF_TMP/hook.port" "$UF_TMP/hook.log" >"$UF_TMP/hook.out" 2>&1 &
SRV=$!
wait_for 10 test -s "$UF_TMP/hook.port" || fail smoke-server "the webhook server did not start: $(cat "$UF_TMP/hook.out")"
HOOK="http://127.0.0.1:$(cat "$UF_TMP/hook.port")/hooks/"
# workflows/alert.yaml with the webhook its comment describes
m=$(sed -e "s#image: \.\./#image: $UF_TOP/#" -e "s#env: { SMOKE_ALERT_LEVEL: 50 }#env: { SMOKE_ALERT_LEVEL: 50, ALERT_WEBHOOK_URL: \"${HOOK}webhook\" }\n    egress: [ \"$HOOK\" ]#" \
	"$UF_TOP/workflows/alert.yaml" | manifest alert)
U deploy "$m" >"$UF_TMP/alert.deploy" 2>&1 && session_up alert && pass smoke-deploy || fail smoke-deploy "$(cat "$UF_TMP/alert.deploy")"
U sim smoke --rooms kitchen,hall --count 8 --alarm-at 5 --alarm-for 2 --interval-ms 10 --seed 3 \
	>"$UF_TMP/smoke.out" 2>"$UF_TMP/smoke.err"
rc=$?
[ $rc = 0 ] && [ "$(tail -1 "$UF_TMP/smoke.out")" = "published 16, failed 0" ] && pass smoke-published ||
	fail smoke-published "status $rc: $(tail -2 "$UF_TMP/smoke.out") $(cat "$UF_TMP/smoke.err")"
# expected: per alarm, its 5th reading is the first over 50 (an alert with
# its level), its 7th the first back under (the all-clear)
msgs "$UF_TMP/smoke.out" | python3 -c '
import json, re, sys
seen, out = {}, []
for line in sys.stdin:
    topic, data = line.rstrip("\n").split(" ", 1)
    d = json.loads(data)
    dev = re.fullmatch(r"nest/(nest-sim-[12])/smoke", topic).group(1)
    assert d["device_id"] == dev and d["where_name"] == {"nest-sim-1": "kitchen", "nest-sim-2": "hall"}[dev], data
    i = seen[dev] = seen.get(dev, 0) + 1
    over = d["smoke_level"] >= 50
    assert over == (i in (5, 6)) and (d["smoke_alarm_state"] == "emergency") == over, (i, data)
    if i in (5, 7):
        out.append(json.dumps({"device": dev, "where": d["where_name"], "alert": "smoke" if over else "clear",
                               "smoke_level": d["smoke_level"], "threshold": 50}, separators=(",", ":")))
assert seen == {"nest-sim-1": 8, "nest-sim-2": 8}, seen
print("\n".join(sorted(out)))' >"$UF_TMP/smoke.want" 2>"$UF_TMP/smoke.pyerr" && pass smoke-alarm-at ||
	fail smoke-alarm-at "$(cat "$UF_TMP/smoke.pyerr")"
alerts_is() { [ "$(payloads alert alerts | wc -l)" -ge "$1" ]; }
wait_for 60 alerts_is 4 || true
[ "$(payloads alert alerts | sort)" = "$(cat "$UF_TMP/smoke.want")" ] && [ "$(wc -l <"$UF_TMP/smoke.want")" = 4 ] &&
	pass smoke-alerts || fail smoke-alerts "alerts: $(payloads alert alerts | tr '\n' ' '), want $(tr '\n' ' ' <"$UF_TMP/smoke.want")"
hooked() { sed -n 's/^WEBHOOK key=\([0-9-]*\) body=/\1 /p' "$UF_TMP/hook.log" | sort -u | cut -d' ' -f2- | sort; }
[ "$(hooked)" = "$(cat "$UF_TMP/smoke.want")" ] && pass smoke-webhook || fail smoke-webhook "the webhook got: $(cat "$UF_TMP/hook.log")"
[ "$(kv alert smoke:nest-sim-1)" = 0 ] && [ "$(kv alert smoke:nest-sim-2)" = 0 ] && pass smoke-state ||
	fail smoke-state "nest-sim-1 $(kv alert smoke:nest-sim-1), nest-sim-2 $(kv alert smoke:nest-sim-2)"

# --- door -> fdc: the openings counted, per hour of day ------------------------
U deploy "$UF_TOP/workflows/eval.yaml" >"$UF_TMP/eval.deploy" 2>&1 && session_up eval &&
	pass door-deploy || fail door-deploy "$(cat "$UF_TMP/eval.deploy")"
H0=$(date -u +%H)
T0=$(date +%s%N)
U sim door --rooms kitchen,garage --count 20 --opens-per-hour 36000 --seed 9 >"$UF_TMP/door.out" 2>"$UF_TMP/door.err"
rc=$?
T1=$(date +%s%N)
H1=$(date -u +%H)
[ $rc = 0 ] && [ "$(tail -1 "$UF_TMP/door.out")" = "published 40, failed 0" ] && pass door-published ||
	fail door-published "status $rc: $(tail -2 "$UF_TMP/door.out") $(cat "$UF_TMP/door.err")"
# each door: open, close, open, ... (10 openings); paced at 36000 an hour,
# about 100 ms apart: 10 openings take about a second, not 0 (a lower bound
# a loaded machine cannot break); the upper bound is only against pacing
# gone wrong by far (an hour read as a minute: a minute), not a speed: a
# loaded machine's CLI start and broker round trips took seconds
for r in kitchen garage; do
	[ "$(msgs "$UF_TMP/door.out" | sed -n "s#^home/$r/door ##p" | tr '\n' ' ')" = "$(printf 'open close %.0s' $(seq 10))" ] ||
		fail door-alternates "$r: $(msgs "$UF_TMP/door.out" | grep "home/$r/" | tr '\n' ' ')"
done
pass door-alternates
ms=$(((T1 - T0) / 1000000))
[ "$ms" -ge 250 ] && [ "$ms" -le 45000 ] && pass door-opens-per-hour || fail door-opens-per-hour "20 openings at 36000/h took $ms ms"
wait_for 60 kv_is eval door-log-count 20 && pass door-log-count || fail door-log-count "door-log-count $(kv eval door-log-count)"
[ "$(kv eval fdc-count)" = 20 ] && pass door-fdc-count || fail door-fdc-count "fdc-count $(kv eval fdc-count)"
sum=$(kv eval fdc-summary)
h0=$(kv eval "fdc:hour:$H0") h1=$(kv eval "fdc:hour:$H1")
python3 - "$sum" "$H0" "$H1" "${h0:-0}" "${h1:-0}" 2>/dev/null <<'EOP' && pass door-per-hour || fail door-per-hour "fdc-summary $sum, fdc:hour:$H0=$h0 fdc:hour:$H1=$h1"
import json, sys
s, h0, h1 = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
c = {h0: int(sys.argv[4]), h1: int(sys.argv[5])}
b = s["by_hour"]
ok = s["total"] == 20 and len(b) == 24 and sum(b) == 20 and sum(c.values()) == 20
ok = ok and all(b[h] == c.get(h, 0) for h in range(24))
sys.exit(0 if ok else 1)
EOP

# --- bad options: status 2, the option named ----------------------------
bad_opt() { # NAME PATTERN ARGS...
	local name=$1 pat=$2
	shift 2
	U sim "$@" >"$UF_TMP/$name.out" 2>"$UF_TMP/$name.err"
	local rc=$?
	[ $rc = 2 ] && grep -q -- "$pat" "$UF_TMP/$name.err" && pass "$name" ||
		fail "$name" "status $rc: $(head -2 "$UF_TMP/$name.err" | tr '\n' ' ')"
}
bad_opt bad-co2 "^unifaas: sim: --co2 'up': expected rising, peak, steady or noisy$" sck --co2 up
bad_opt bad-devices "^unifaas: sim: --devices '0': expected a number from 1 to 1000$" sck --devices 0
bad_opt bad-count "^unifaas: sim: --count 'many': expected a number" sck --count many
bad_opt bad-interval "^unifaas: sim: --interval-ms '-5': expected a number" sck --interval-ms -5
bad_opt bad-format "^unifaas: sim: --format 'xml': expected raw, json or mixed$" sck --format xml
bad_opt count-and-duration "^unifaas: sim: --count and --duration: give one of them$" sck --count 3 --duration 2
bad_opt bad-prefix "^unifaas: sim: --prefix 'a b'" sck --prefix 'a b'
bad_opt bad-simulator "^unifaas: sim: unknown simulator 'toaster': expected sck, motion, weight, smoke, door or slack$" toaster
bad_opt no-simulator "^unifaas: sim: missing argument$" --count 3
bad_opt kind-option "^unifaas: sim: unknown option '--rooms'" sck --rooms kitchen
bad_opt bad-pattern "^unifaas: sim: --pattern '1x0': expected 1 (motion) and 0 (none)" motion --pattern 1x0
bad_opt bad-rooms "^unifaas: sim: --rooms 'kitchen,,hall': expected NAME\[,NAME\]..." motion --rooms kitchen,,hall
bad_opt bad-room-name "^unifaas: sim: --rooms 'a/b': expected NAME" door --rooms a/b
bad_opt bad-users "^unifaas: sim: --users 'al ice': expected NAME" weight --users 'al ice'
bad_opt bad-drift "^unifaas: sim: --drift '3': expected kg per day from -2 to 2" weight --drift 3
bad_opt bad-start-date "^unifaas: sim: --start-date '2025-12-01x': expected a day as YYYY-MM-DD" weight --start-date 2025-12-01x
bad_opt no-such-date "^unifaas: sim: --start-date '2025-02-30': expected a day as YYYY-MM-DD" weight --start-date 2025-02-30
bad_opt alarm-past-count "^unifaas: sim: --alarm-at 11: past the last message (10 per alarm): lower it or raise --count$" smoke --alarm-at 11
bad_opt alarm-for-alone "^unifaas: sim: --alarm-for needs --alarm-at" smoke --alarm-for 2
bad_opt bad-alarm-at "^unifaas: sim: --alarm-at '0': expected a number from 1 to" smoke --alarm-at 0
bad_opt smoke-prefix "^unifaas: sim: --prefix 'a.b': a smoke alarm's name is its device_id" smoke --prefix a.b
bad_opt opens-and-interval "^unifaas: sim: --opens-per-hour and --interval-ms: give one of them$" door --opens-per-hour 60 --interval-ms 5
bad_opt bad-opens "^unifaas: sim: --opens-per-hour 'often': expected a number from 1 to 3600000$" door --opens-per-hour often

# --- the broker down: status 3, said so ---------------------------------
kill "$(cat "$PLAT_STATE/mosquitto.pid")" 2>/dev/null
wait_for 10 sh -c "! kill -0 $(cat "$PLAT_STATE/mosquitto.pid") 2>/dev/null" || true
U sim sck --count 1 >"$UF_TMP/down.out" 2>"$UF_TMP/down.err"
rc=$?
[ $rc = 3 ] && grep -q "^unifaas: sim: cannot reach the broker at mqtt://127.0.0.1:$PLAT_MQTT_PORT .*Connection refused: is the platform up" "$UF_TMP/down.err" &&
	pass broker-unreachable || fail broker-unreachable "status $rc: $(cat "$UF_TMP/down.err")"

finish
