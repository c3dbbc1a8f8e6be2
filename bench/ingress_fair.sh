#!/usr/bin/env bash
# bench/ingress_fair.sh [BUILD_DIR] - one workflow's HTTP ingress latency
# alone and beside another workflow's flood over HTTP and over MQTT, in one
# run on one private platform (issue 11 §2: every push goes through the
# push window, daemon/pushwin.c).
#
# Two workflows whose steps never start a unit (their image copies are
# removed after the deploy, as bench/http_ingress.sh does), so the figures
# are the ingress and Redis alone: `calm` is probed by bench/ingress_probe.py
# (one 16-byte POST every 10 ms on a kept-alive connection, timed to its
# 202: the event is in Redis); `flood` floods.  Phases of SECS seconds
# (default 8), each flood preceded by a phase alone (its baseline: this
# machine is shared and drifts):
#   http    wrk, C connections (default 120) posting 64-byte events
#   mqtt1   mosquitto_pub, QoS 1, as fast as the broker takes them (the
#           broker sends unifaasd up to max_inflight_messages, 1000)
#   mqtt0   the same at QoS 0 (no acknowledgement: nothing but TCP holds
#           the flood back)
# With STALL=1 Redis is stopped for 100 ms in every 500 ms during both the
# baseline and the flood (a slow disk, a fork for a rewrite): what the
# flood had the daemon send while Redis was away is then what calm's event
# waits behind.  Each line: calm's mean/p50/p90/p99/max alone and beside
# the flood, the ratios of the means and of the p90s, and the flood's
# events stored.  Run it with the build before and after a change to
# compare (bench/RESULTS.md).  Nothing fails on a figure.
set -uo pipefail
cd "$(dirname "$0")/.."
UF_BUILD=${1:-build}
export UF_BUILD
UF_TMP=$(mktemp -d /tmp/unifaas-ingress-fair.XXXXXX)
export UF_TMP UF_SUITE=ingress-fair-bench UF_RESULTS=$UF_TMP/results
SECS=${SECS:-8} C=${C:-120} STALL=${STALL:-0}
. tests/lib.sh
. tests/platform/lib.sh
for t in wrk mosquitto_pub; do
	command -v $t >/dev/null || { echo "ingress_fair.sh: $t not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
fn=$(build_guest tests/platform/platform_fn.c) || { echo "ingress_fair.sh: platform_fn.c did not build" >&2; exit 1; }
trap 'plat_down; rm -rf "$UF_TMP"' EXIT
plat_up || { echo "ingress_fair.sh: unifaas up failed" >&2; exit 1; }
for wf in calm flood; do
	m=$(manifest $wf <<EOM
name: $wf
functions:
  s: { image: $fn, listen: in, scale: { max_units: 1 } }
ingress:
  http: [{ path: /in, queue: in }]
  mqtt:
    - { topic: "$wf/q1/#", queue: in, qos: 1 }
    - { topic: "$wf/q0/#", queue: in, qos: 0 }
EOM
)
	U deploy "$m" >/dev/null && rm -f "$PLAT_STATE/images/$wf/s.uf" || { echo "ingress_fair.sh: deploy $wf failed" >&2; exit 1; }
done
CTOK=$(U token create calm) && FTOK=$(U token create flood) || { echo "ingress_fair.sh: token create failed" >&2; exit 1; }
U device add flooder --topic 'flood/#' >"$UF_TMP/dev.cred" 2>&1 || { echo "ingress_fair.sh: device add failed" >&2; exit 1; }
DEV_PASS=$(sed -n 's/^password: //p' "$UF_TMP/dev.cred")
cat >"$UF_TMP/post.lua" <<EOL
wrk.method = "POST"
wrk.body = "$(head -c 64 /dev/zero | tr '\0' 'x')"
wrk.headers["Authorization"] = "Bearer $FTOK"
wrk.headers["Content-Type"] = "application/octet-stream"
EOL
seq -f 'flood-event-%08g' 200000 >"$UF_TMP/msgs"

RP=$(redis_pid)
RPID=$RP # plat_down continues it
# probe: calm's figures over SECS (Redis stalled in turn with STALL=1)
probe() {
	local sp=
	if [ "$STALL" = 1 ]; then
		python3 -c 'import os,signal,sys,time
pid, end = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
try:
    while time.monotonic() < end:
        os.kill(pid, signal.SIGSTOP); time.sleep(0.1)
        os.kill(pid, signal.SIGCONT); time.sleep(0.4)
finally:
    os.kill(pid, signal.SIGCONT)' "$RP" "$SECS" &
		sp=$!
	fi
	python3 bench/ingress_probe.py "$PLAT_INGRESS_PORT" /calm/in "$CTOK" "$SECS" 2>>"$UF_TMP/probe.err"
	[ -z "$sp" ] || wait "$sp"
}
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
stored() { R XINFO STREAM uf:q:flood:in 2>/dev/null | awk 'p=="entries-added"{print; exit} {p=$0}'; }
# flood KIND: floods until killed (its pid in FPID)
flood() {
	case $1 in
	http) wrk -t2 -c"$C" -d"$((SECS + 2))s" -s "$UF_TMP/post.lua" "http://127.0.0.1:$PLAT_INGRESS_PORT/flood/in" >"$UF_TMP/wrk.out" 2>&1 & ;;
	mqtt1 | mqtt0)
		(
			trap 'kill $pub 2>/dev/null; exit 0' TERM
			while :; do
				mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u flooder -P "$DEV_PASS" -q "${1#mqtt}" \
					-t "flood/q${1#mqtt}/x" -l <"$UF_TMP/msgs" 2>/dev/null &
				pub=$!
				wait $pub || sleep 0.1
			done
		) & ;;
	esac
	FPID=$!
}
echo "calm's HTTP ingress latency, ms (build $UF_BUILD, STALL=$STALL, ${SECS}s a phase)"
printf '%-6s %-38s %-38s %s\n' phase "alone: mean p50 p90 p99 max" "beside the flood" "mean, p90 ratio; flood events stored"
figs() { echo "$(field mean_ms "$1") $(field p50_ms "$1") $(field p90_ms "$1") $(field p99_ms "$1") $(field max_ms "$1") (n=$(field n "$1") err=$(field errors "$1"))"; }
ratio() { awk -v a="$(field "$1" "$2")" -v b="$(field "$1" "$3")" 'BEGIN {printf "%.2fx", (a > 0) ? b / a : 0}'; }
for kind in http mqtt1 mqtt0; do
	base=$(probe)
	s0=$(stored)
	flood $kind
	sleep 1 # the flood under way
	with=$(probe)
	kill "$FPID" 2>/dev/null # wrk, or the publisher loop (which ends its mosquitto_pub)
	wait "$FPID" 2>/dev/null
	s1=$(stored)
	printf '%-6s %-38s %-38s %s %s; %s\n' "$kind" "$(figs "$base")" "$(figs "$with")" "$(ratio mean_ms "$base" "$with")" \
		"$(ratio p90_ms "$base" "$with")" "$((${s1:-0} - ${s0:-0}))"
	sleep 2 # what the flood left in flight is written
done
if [ -s "$UF_TMP/probe.err" ]; then
	echo "probe errors:" >&2
	head -3 "$UF_TMP/probe.err" >&2
fi
