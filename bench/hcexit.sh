#!/usr/bin/env bash
# bench/hcexit.sh BUILD_DIR [OTHER_BUILD_DIR] - what one hypercall exit costs
# (issue 12 §1; `make bench-hcexit`).
#
# 1. the exit round trip: bench/hc_loop.c, a guest timing loops of
#    clock_gettime (one UF_HC_TIME hypercall each): median, min and max of
#    RUNS units x 40 blocks of 500 calls.
# 2. events/s of a trivial function (bench/noop_fn.c) fed EVENTS events from
#    a file by a local uf-hvt (start to exit), with --batch 1 (one pop exit
#    per event: each pop settles the previous event) and with the default
#    batch (64): the median of RUNS units.
# With a second build dir (another tree's build, e.g. before a change) the
# two are run alternately, unit by unit, so load on the machine falls on
# both alike; each build's own `unifaas build` makes its images.
# Prints a summary; writes nothing else.  Knobs: RUNS (5), EVENTS (20000).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
EVENTS=${EVENTS:-20000}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
seq 1 "$EVENTS" >"$W/events"
DIRS=()
for d in "${1:-build}" ${2:+"$2"}; do
	d=$(cd "$d" && pwd)
	k=${#DIRS[@]}
	DIRS+=("$d")
	"$d/bin/unifaas" build bench/hc_loop.c -o "$W/$k-hc_loop.uf" >/dev/null
	"$d/bin/unifaas" build bench/noop_fn.c -o "$W/$k-noop.uf" >/dev/null
done

evs() { # K BATCH: events/s of one unit
	local t0 t1
	t0=$(date +%s%N)
	"${DIRS[$1]}/bin/uf-hvt" --batch "$2" --events "$W/events" "$W/$1-noop.uf" >/dev/null 2>&1
	t1=$(date +%s%N)
	echo $((EVENTS * 1000000000 / (t1 - t0)))
}
for _ in $(seq "$RUNS"); do
	for k in "${!DIRS[@]}"; do
		"${DIRS[$k]}/bin/uf-hvt" "$W/$k-hc_loop.uf" 2>&1 >/dev/null | sed -n 's/^block //p' >>"$W/$k-blocks"
		evs "$k" 1 >>"$W/$k-b1"
		evs "$k" 64 >>"$W/$k-b64"
	done
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
us() { awk -v n="$1" 'BEGIN { printf "%.1f us", n / 1000 }'; }
for k in "${!DIRS[@]}"; do
	d=${DIRS[$k]}
	echo "${d}: $(git -C "$d/.." rev-parse --short HEAD 2>/dev/null || echo '?'), ABI $("$d/bin/unifaas" version | sed -n 's/.*(ABI \([0-9]*\)).*/\1/p')"
	echo "  hypercall exit round trip (UF_HC_TIME): median $(us "$(median "$W/$k-blocks")"), min $(us "$(sort -n "$W/$k-blocks" | head -1)"), max $(us "$(sort -n "$W/$k-blocks" | tail -1)") ($(wc -l <"$W/$k-blocks") blocks of 500)"
	echo "  trivial function, $EVENTS events: --batch 1 $(median "$W/$k-b1") events/s, --batch 64 $(median "$W/$k-b64") events/s (median of $RUNS units)"
done
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1), kernel $(uname -r)$([ -d /sys/module/kvm_pvm ] && echo ', KVM through kvm_pvm'); $(date -u '+%Y-%m-%d %H:%M UTC'); loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
