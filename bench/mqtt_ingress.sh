#!/usr/bin/env bash
# bench/mqtt_ingress.sh [BUILD_DIR] - MQTT QoS 1 ingress into a queue,
# beside mosquitto's own throughput to a plain subscriber (issue 9, §5).
#
# Brings up a private platform (`unifaas up`, ports from uf_port, state dir
# under a temporary directory) and a device account, then, REPS times:
#   baseline: P publishers (`mosquitto_pub -l -q 1`, N/P messages each)
#     to a plain `mosquitto_sub -q 1 -C N` (what the broker and the
#     publishers do alone), timed from the publishers' start to the
#     subscriber's exit;
#   unifaasd: the same publishers on a topic routed to a queue
#     (ingress.mqtt, QoS 1: each message acknowledged only after its XADD),
#     timed from their start until the queue holds all N (polled every
#     20 ms).
# The step that listens has max_units 1, so one unit runs beside, as it
# would.  Prints each figure, their medians and the ratio; never fails on a
# slow figure.  Knobs: N (50000), REPS (3), P (4).
set -uo pipefail
cd "$(dirname "$0")/.."
export UF_BUILD=${1:-build}
export UF_TMP=$(mktemp -d /tmp/unifaas-mqttbench.XXXXXX)
UF_SUITE=mqttbench
. tests/lib.sh
. tests/platform/lib.sh
N=${N:-50000}
REPS=${REPS:-3}
P=${P:-4}
now() { date +%s.%N; }

fn=$(build_guest tests/platform/platform_fn.c) || exit 1
plat_up || { echo "mqtt_ingress: unifaas up failed" >&2; exit 1; }
trap plat_down EXIT
PASS=$(U device add bench --topic 'bench/#' | sed -n 's/^password: //p')
SUBPASS=$(cat "$PLAT_STATE/mqtt.pass")
cat >"$UF_TMP/wf.yaml" <<Y
name: mqb
functions:
  sink: { image: $fn, listen: in, batch: 256, scale: { max_units: 1, overflow: 4000000000 } }
ingress:
  mqtt: [{ topic: bench/in, queue: in }]
Y
U deploy "$UF_TMP/wf.yaml" >/dev/null || exit 1
seq -f "m%g" "$N" >"$UF_TMP/all"
split -n "l/$P" "$UF_TMP/all" "$UF_TMP/msgs."
pub() {
	local f pids=()
	for f in "$UF_TMP"/msgs.*; do
		mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u bench -P "$PASS" -q 1 -t "$1" -l <"$f" &
		pids+=($!)
	done
	wait "${pids[@]}"
}
sleep 1

base=() ufd=()
for r in $(seq "$REPS"); do
	timeout 300 mosquitto_sub --unix "$PLAT_STATE/mqtt.sock" -u unifaasd -P "$SUBPASS" -i "bench-sub-$r" -q 1 \
		-t bench/base -C "$N" >/dev/null &
	sp=$!
	sleep 0.5
	t0=$(now)
	pub bench/base
	wait "$sp"
	t1=$(now)
	base+=("$(echo "$N / ($t1 - $t0)" | bc -l)")

	want=$((N * r))
	t0=$(now)
	pub bench/in
	end=$((SECONDS + 300))
	until [ "$(R XLEN uf:q:mqb:in)" -ge "$want" ] || [ $SECONDS -gt $end ]; do sleep 0.02; done
	t1=$(now)
	ufd+=("$(echo "$N / ($t1 - $t0)" | bc -l)")
	printf 'rep %d: mosquitto to a plain subscriber %.0f msg/s, unifaasd ingress %.0f msg/s\n' "$r" "${base[-1]}" "${ufd[-1]}"
done
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
b=$(med "${base[@]}") u=$(med "${ufd[@]}")
printf 'MQTT QoS 1, %d messages from %d publishers x %d, medians: baseline (mosquitto -> plain subscriber) %.0f msg/s; unifaasd ingress (acknowledged after XADD) %.0f msg/s; ratio %.2f; target >= 10000 msg/s: %s\n' \
	"$N" "$P" "$REPS" "$b" "$u" "$(echo "$u / $b" | bc -l)" "$(echo "$u >= 10000" | bc)"
printf 'machine: %s, %s cores; %s\n' "$(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -1)" "$(nproc)" "$(date -u '+%Y-%m-%d %H:%M UTC')"
