#!/usr/bin/env bash
# `unifaas sim sck` (issue 10, section 3): simulated Smart Citizen Kits
# publish real-format readings over MQTT QoS 1 with their own device
# accounts to the broker of a real platform; a workflow routes both SCK
# topics into a queue.  Every message sim says it published is in the
# queue, with its kit's topic as the source; every payload parses by the
# grammar of /work/shared/testdata/sck/README.md (docs/cli.md); the values
# follow --co2 and --seed; bad options fail with status 2 naming them; an
# unreachable broker with status 3.
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
wait_for 10 sh -c "grep -q 'client=unifaasd-sck .*result=connected' '$PLAT_STATE/logs/unifaasd.log'" &&
	pass session-connected || fail session-connected "$(daemon_log | grep mqtt | tail -3)"
sleep 0.3 # SUBACK

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
wait_for 15 queued_is 60 || true
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
bad_opt bad-simulator "^unifaas: sim: unknown simulator 'toaster': expected sck$" toaster
bad_opt no-simulator "^unifaas: sim: missing argument$" --count 3

# --- the broker down: status 3, said so ---------------------------------
kill "$(cat "$PLAT_STATE/mosquitto.pid")" 2>/dev/null
wait_for 10 sh -c "! kill -0 $(cat "$PLAT_STATE/mosquitto.pid") 2>/dev/null" || true
U sim sck --count 1 >"$UF_TMP/down.out" 2>"$UF_TMP/down.err"
rc=$?
[ $rc = 3 ] && grep -q "^unifaas: sim: cannot reach the broker at mqtt://127.0.0.1:$PLAT_MQTT_PORT .*Connection refused: is the platform up" "$UF_TMP/down.err" &&
	pass broker-unreachable || fail broker-unreachable "status $rc: $(cat "$UF_TMP/down.err")"

finish
