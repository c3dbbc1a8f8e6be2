#!/usr/bin/env bash
# bench/usecase.sh [BUILD_DIR] - the paper's experiment (issue 10 §5,
# `make bench-usecase`): Smart Citizen Kit readings over MQTT -> threshold
# -> slack-alert -> a local Slack-like webhook, timed from the publish to
# the webhook's receipt, cold and warm, beside Node-RED running the same
# flow on the same broker and webhook in the same run, and beside the
# paper's published figures.
#
# One private platform (`unifaas up`, own state dir and ports, as the
# tests' plat_up), one webhook (`unifaas sim slack`, which logs each
# request's receive time in epoch microseconds), one broker, three kits,
# each a device
# account publishing the raw format (the fixture line of
# /work/shared/testdata/sck/raw-valid.txt with the time and CO2 changed)
# at QoS 1:
#   unifaas-cold  workflow uc-cold: co2.yaml's threshold and slack-alert
#                 steps (logger and log-query left out), min_units 0,
#                 idle_ms COLD_IDLE_MS (10): before each reading the driver
#                 waits until uf:state:units lists no
#                 unit of it (scaled to zero), so each reading starts both
#                 units;
#   unifaas-half  workflow uc-half: threshold as in uc-cold, the alert step
#                 kept up (min_units 1): what the second cold start of
#                 uc-cold costs (not a target; for the analysis);
#   unifaas-warm  workflow uc-warm: the same steps with min_units 1 (both
#                 units kept up);
#   node-red      Node-RED (the npm package, installed by this script into
#                 NODE_RED_DIR, outside the tree) running
#                 bench/usecase-node-red.json: mqtt in -> function node
#                 (threshold.c's rule, hysteresis state in flow context) ->
#                 http request POST, keep-alive, the same message text as
#                 slack_alert.c.  It subscribes with the platform's
#                 broker account (a device account may only publish), as
#                 unifaasd does.
# Each workflow and Node-RED listen to their own kit's topic only, so a
# reading is handled by one of them.  The driver (bench/usecase_bench.c)
# publishes one reading per pipeline per round, in turn, waits for its
# alert at the webhook, and waits for the cold units to be gone and GAP_MS
# before every reading.  The CO2 value alternates 1450 / 612 ppm (limits
# 1000 and 2000, hysteresis 100), so every reading moves the device's
# level and makes an alert (a warning, then an all-clear): each reading
# takes the whole path, including threshold's KV read and write of the
# level, with nothing reset from outside between readings.
#
# Prints, per pipeline, n, mean, standard deviation, variance (ms^2),
# min, p50, p90, p99, max; the paper's figures as reference rows; the
# ratios warm / Node-RED and cold / Node-RED; and the targets (mean <= 5
# ms cold, <= 2 ms warm, warm within 1.5x of Node-RED).  Never fails on a
# slow figure.  Raw samples: bench/results/usecase-samples.csv.
# Knobs: N (100 readings per pipeline), WARMUP (4 rounds, not counted),
# GAP_MS (50), COLD_IDLE_MS (10), NODE_RED_DIR
# (${XDG_CACHE_HOME:-~/.cache}/unifaas-bench/node-red), NODE_RED_VERSION
# (the npm tag or version to install, default 4), KEEP=1 (keep the work
# dir), MONITOR=1 (record Redis's MONITOR during the run and print where
# each reading's time goes, hop by hop: bench/usecase_hops.py).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export UF_BUILD=${1:-build}
N=${N:-100}
WARMUP=${WARMUP:-4}
GAP_MS=${GAP_MS:-50}
COLD_IDLE_MS=${COLD_IDLE_MS:-10}
NODE_RED_DIR=${NODE_RED_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/unifaas-bench/node-red}
NODE_RED_VERSION=${NODE_RED_VERSION:-4}
SCK=${SCK_TESTDATA:-$ROOT/../shared/testdata/sck}
[ -d "$SCK" ] || SCK=/work/shared/testdata/sck
export UF_TMP=$(mktemp -d /tmp/unifaas-usecase-bench.XXXXXX)
export UF_SUITE=usecase-bench UF_RESULTS=$UF_TMP/results
. tests/lib.sh
. tests/platform/lib.sh
OUT=$ROOT/bench/results
mkdir -p "$OUT"
die() {
	echo "usecase.sh: $*" >&2
	exit 1
}

for f in "$UNIFAAS" "$UF_BUILD/functions/threshold.uf"; do
	[ -e "$f" ] || die "$f is missing: run make first"
done
command -v node >/dev/null && command -v npm >/dev/null ||
	die "node and npm are needed for the Node-RED baseline (Debian: apt-get install nodejs npm)"

# ---- Node-RED, installed once into a cache outside the tree ----
NR_JS=$NODE_RED_DIR/node_modules/node-red/red.js
if [ ! -f "$NR_JS" ]; then
	echo "usecase.sh: installing node-red@$NODE_RED_VERSION from the npm registry into $NODE_RED_DIR" >&2
	mkdir -p "$NODE_RED_DIR" && (cd "$NODE_RED_DIR" &&
		npm install --no-audit --no-fund --omit=dev --loglevel=error "node-red@$NODE_RED_VERSION" >&2) ||
		die "npm install node-red failed"
fi
NR_VER=$(node -p "require('$NODE_RED_DIR/node_modules/node-red/package.json').version")

# ---- the driver ----
DRV=$UF_TMP/usecase_bench
cc -std=gnu11 -O2 -Wall -Wextra -Werror bench/usecase_bench.c -o "$DRV" -lmosquitto -lhiredis -lm ||
	die "bench/usecase_bench.c did not build (libmosquitto-dev, libhiredis-dev)"

# ---- the steps measured: co2.yaml's threshold and the step listening on its alerts (slack-alert) ----
SRC_WF=workflows/co2.yaml

NR_PID=
HOOK_PID=
cleanup() {
	[ -n "$NR_PID" ] && kill "$NR_PID" 2>/dev/null
	[ -n "$HOOK_PID" ] && kill "$HOOK_PID" 2>/dev/null
	[ -n "${MON_PID:-}" ] && kill "$MON_PID" 2>/dev/null
	plat_down
	wait 2>/dev/null
	[ "${KEEP:-0}" = 1 ] && echo "usecase.sh: work dir kept: $UF_TMP" >&2 || rm -rf "$UF_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the webhook: `unifaas sim slack` (a Slack-like local webhook; its log has t_us, the receive time) ----
HOOK_LOG=$UF_TMP/hook.log
: >"$HOOK_LOG"
HOOK_PORT=$(uf_port) || die "no free port for the webhook"
"$UNIFAAS" sim slack --port "$HOOK_PORT" --log "$HOOK_LOG" >"$UF_TMP/hook.out" 2>&1 &
HOOK_PID=$!
HOOK_URL="http://127.0.0.1:$HOOK_PORT/services/T000/B000/bench"
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$HOOK_PORT/" || die "the webhook did not start: $(cat "$UF_TMP/hook.out")"

# ---- the platform ----
plat_up || die "unifaas up failed: $(tail -5 "$UF_TMP/$UF_SUITE.up.log")"
printf %s "$HOOK_URL" | U secret set SLACK_WEBHOOK_URL >/dev/null || die "secret set failed"
for d in uc-cold uc-half uc-warm uc-nodered; do
	U device add "$d" --topic "device/sck/$d/#" | sed -n 's/^password: //p' >"$UF_TMP/$d.pass"
	[ -s "$UF_TMP/$d.pass" ] || die "device add $d failed"
done

# manifest WF DEVICE MODE: co2.yaml's threshold and its alert step, routed to
# DEVICE's raw topic, scaled for MODE, posting to the webhook
manifest_for() {
	python3 - "$SRC_WF" "$1" "$2" "$3" "$ROOT/$UF_BUILD" "http://127.0.0.1:$HOOK_PORT/" "$COLD_IDLE_MS" <<'PY'
import sys, yaml
src, name, dev, mode, build, hook, cold_idle = sys.argv[1:]
m = yaml.safe_load(open(src))
fns = m["functions"]
alert = [k for k, f in fns.items() if f.get("listen") == "alerts"]
if "threshold" not in fns or len(alert) != 1:
    sys.exit("%s: want a threshold step and one step listening on alerts" % src)
m = {"name": name,
     "ingress": {"mqtt": [{"topic": "device/sck/%s/readings/raw" % dev, "queue": "readings"}]},
     "functions": {k: fns[k] for k in ("threshold", alert[0])}}
for k, f in m["functions"].items():
    f["image"] = f["image"].replace("../build/", build + "/")
    s = dict(f.get("scale") or {})
    s["max_units"] = 1
    if mode == "cold" or mode == "half" and k == "threshold":
        s.update(min_units=0, idle_ms=int(cold_idle), grace_ms=0)
    else:
        s.update(min_units=1, idle_ms=3600000)
    f["scale"] = s
    if "egress" in f:
        f["egress"] = [hook]
yaml.safe_dump(m, sys.stdout, sort_keys=False)
PY
}
for mode in cold half warm; do
	manifest_for "uc-$mode" "uc-$mode" "$mode" >"$UF_TMP/uc-$mode.yaml" || die "no manifest from $SRC_WF"
	U deploy "$UF_TMP/uc-$mode.yaml" >/dev/null || die "deploy uc-$mode failed: $(cat "$UF_TMP/uc-$mode.yaml")"
done
ALERT_STEP=$(sed -n '/^functions:/,$p' "$UF_TMP/uc-warm.yaml" | sed -n 's/^  \([a-z-]*\):$/\1/p' | tail -1)
wait_for 30 units_is uc-warm 2 || die "the warm units did not come up"
wait_for 30 units_is uc-half 1 || die "uc-half's alert unit did not come up"

# ---- Node-RED ----
NRU=$UF_TMP/node-red
mkdir -p "$NRU"
cp bench/usecase-node-red.json "$NRU/flows.json"
python3 - "$NRU/flows_cred.json" "$PLAT_STATE/mqtt.pass" <<'PY'
import json, sys
json.dump({"uc.broker": {"user": "unifaasd", "password": open(sys.argv[2]).read().strip()}}, open(sys.argv[1], "w"))
PY
cat >"$NRU/settings.js" <<EOF
module.exports = {
    flowFile: 'flows.json',
    credentialSecret: false,
    uiHost: '127.0.0.1',
    uiPort: $(uf_port),
    httpAdminRoot: false,
    httpNodeRoot: false,
    logging: { console: { level: 'info', metrics: false, audit: false } },
    contextStorage: { default: { module: 'memory' } },
};
EOF
UC_MQTT_PORT=$PLAT_MQTT_PORT UC_TOPIC=device/sck/uc-nodered/readings/raw UC_HOOK_URL=$HOOK_URL \
	CO2_WARN_PPM=1000 CO2_DANGER_PPM=2000 CO2_HYSTERESIS_PPM=100 \
	node "$NR_JS" --userDir "$NRU" --settings "$NRU/settings.js" >"$UF_TMP/node-red.log" 2>&1 &
NR_PID=$!
wait_for 60 grep -q "Connected to broker" "$UF_TMP/node-red.log" ||
	die "Node-RED did not connect to the broker: $(tail -20 "$UF_TMP/node-red.log")"
sleep 0.5 # its subscription

# ---- the run ----
TMPL=$(sed -n '2p' "$SCK/raw-valid.txt" | sed -e 's/t:[0-9TZ:-]*/t:%T/' -e 's/158:[0-9.]*/158:%C/')
case $TMPL in *%T*%C*) ;; *) die "no raw template from $SCK/raw-valid.txt line 2: $TMPL" ;; esac
MON_PID=
if [ "${MONITOR:-0}" = 1 ]; then
	REDISCLI_AUTH=$(cat "$PLAT_STATE/redis.pass") redis-cli --no-auth-warning -s "$PLAT_STATE/redis.sock" MONITOR \
		>"$UF_TMP/monitor.txt" &
	MON_PID=$!
fi
stat() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }
busy() { echo "$1 $2" | awk '{b = $3 - $1; i = $4 - $2; printf "%.0f%%", (b + i > 0 ? 100 * b / (b + i) : 0)}'; }
# what the machine does without us: 2 s with everything up and idle
cpu0=$(stat)
sleep 2
cpu1=$(stat)
bg=$(busy "$cpu0" "$cpu1")
load0=$(cut -d' ' -f1-3 /proc/loadavg)
cpu0=$(stat)
t0=$SECONDS
"$DRV" --mqtt-port "$PLAT_MQTT_PORT" --hook-log "$HOOK_LOG" --template "$TMPL" --n "$N" --warmup "$WARMUP" \
	--gap-ms "$GAP_MS" --redis-sock "$PLAT_STATE/redis.sock" --redis-pass-file "$PLAT_STATE/redis.pass" \
	--csv "$OUT/usecase-samples.csv" \
	--pipe "unifaas-cold,uc-cold,$UF_TMP/uc-cold.pass,uc-cold,cold" \
	--pipe "unifaas-half,uc-half,$UF_TMP/uc-half.pass,uc-half/threshold,cold" \
	--pipe "unifaas-warm,uc-warm,$UF_TMP/uc-warm.pass,uc-warm,warm" \
	--pipe "node-red,uc-nodered,$UF_TMP/uc-nodered.pass,-,warm" >"$UF_TMP/drv.out"
drc=$?
secs=$((SECONDS - t0))
load1=$(cut -d' ' -f1-3 /proc/loadavg)
cpu1=$(stat)
busy=$(busy "$cpu0" "$cpu1")
if [ -n "$MON_PID" ]; then
	kill "$MON_PID" 2>/dev/null
	MON_PID=
	python3 bench/usecase_hops.py "$UF_TMP/monitor.txt" "$OUT/usecase-samples.csv" "$ALERT_STEP" >"$UF_TMP/hops.txt" 2>&1
fi

# ---- the report ----
echo "== bench/usecase.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
echo "tree $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench/results' 2>/dev/null || echo ' + changes'); workflow steps from $SRC_WF (threshold, $ALERT_STEP); webhook: unifaas sim slack; Node-RED $NR_VER on Node.js $(node --version)"
echo "N=$N readings per pipeline after $WARMUP warm-up rounds, GAP_MS=$GAP_MS, COLD_IDLE_MS=$COLD_IDLE_MS; run took ${secs}s; other work kept the machine $bg busy (2 s just before, platform and Node-RED idle), $busy over the run (ours included); load average before $load0, after $load1"
echo
grep -v '^STAT' "$UF_TMP/drv.out"
awk '
/^STAT/ { l = $2; for (i = 3; i <= NF; i++) { split($i, kv, "="); v[l, kv[1]] = kv[2] } }
END {
	printf "| paper: UniFaaS (reference, not measured) | - | 192.640 ms | 20.79 ms (\"variance\") | - | - | - | - | - | - |\n"
	printf "| paper: OpenWhisk (reference, not measured) | - | 534.260 ms | 227.83 ms (\"variance\") | - | - | - | - | - | - |\n"
	print ""
	nm = v["node-red", "mean"]; np = v["node-red", "p50"]
	if (nm > 0) {
		printf "ratio unifaas-warm / node-red: mean %.2fx, p50 %.2fx\n", v["unifaas-warm", "mean"] / nm, v["unifaas-warm", "p50"] / np
		printf "ratio unifaas-cold / node-red: mean %.2fx, p50 %.2fx\n", v["unifaas-cold", "mean"] / nm, v["unifaas-cold", "p50"] / np
		printf "ratio paper UniFaaS / unifaas-warm (mean): %.0fx; paper OpenWhisk / node-red (mean): %.0fx\n", 192.64 / v["unifaas-warm", "mean"], 534.26 / nm
	}
	printf "targets: cold mean <= 5 ms: %s (%.3f ms); warm mean <= 2 ms: %s (%.3f ms); warm mean within 1.5x of node-red: %s (%.2fx)\n",
		v["unifaas-cold", "mean"] <= 5 ? "met" : "NOT met", v["unifaas-cold", "mean"],
		v["unifaas-warm", "mean"] <= 2 ? "met" : "NOT met", v["unifaas-warm", "mean"],
		(nm > 0 && v["unifaas-warm", "mean"] <= 1.5 * nm) ? "met" : "NOT met", (nm > 0 ? v["unifaas-warm", "mean"] / nm : 0)
}' "$UF_TMP/drv.out"
echo "(sd and variance: sample standard deviation in ms and its square in ms^2; the paper's \"variance\" in ms is read as a standard deviation)"
if [ -f "$UF_TMP/hops.txt" ]; then
	echo
	echo "== where the time goes (MONITOR=1: Redis's MONITOR was on during the run, so the figures above are a little inflated)"
	cat "$UF_TMP/hops.txt"
fi
[ "$drc" = 0 ] || echo "usecase.sh: some readings got no alert (driver status $drc); see above" >&2
exit 0
