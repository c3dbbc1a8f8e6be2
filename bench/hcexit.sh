#!/usr/bin/env bash
# bench/hcexit.sh BUILD_DIR - what one hypercall exit costs (issue 12 §1).
#
# 1. the exit round trip: bench/hc_loop.c, a guest timing loops of
#    clock_gettime (one UF_HC_TIME hypercall each); median and min/max of
#    RUNS units x 40 blocks of 500 calls.
# 2. events/s of a trivial function (bench/noop_fn.c) fed EVENTS events from
#    a file by a local uf-hvt, with --batch 1 (a pop and a commit exit per
#    event) and with the default batch (64): the median of RUNS units.
# Prints a summary; writes nothing else.  Knobs: RUNS (5), EVENTS (20000).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(cd "${1:-build}" && pwd)
RUNS=${RUNS:-5}
EVENTS=${EVENTS:-20000}
HVT=$BUILD/bin/uf-hvt
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$BUILD/bin/unifaas" build bench/hc_loop.c -o "$W/hc_loop.uf" >/dev/null
"$BUILD/bin/unifaas" build bench/noop_fn.c -o "$W/noop.uf" >/dev/null
seq 1 "$EVENTS" >"$W/events"

for _ in $(seq "$RUNS"); do
	"$HVT" "$W/hc_loop.uf" 2>&1 >/dev/null | sed -n 's/^block //p'
done | sort -n >"$W/blocks"
n=$(wc -l <"$W/blocks")
med=$(sed -n "$(((n + 1) / 2))p" "$W/blocks")
echo "hypercall exit round trip (UF_HC_TIME): median $((med / 1000)).$(printf %03d $((med % 1000))) us," \
	"min $(head -1 "$W/blocks") ns, max $(tail -1 "$W/blocks") ns ($n blocks of 500)"

evs() { # BATCH: median events/s over RUNS units
	for _ in $(seq "$RUNS"); do
		local t0 t1
		t0=$(date +%s%N)
		"$HVT" --batch "$1" --events "$W/events" "$W/noop.uf" >/dev/null 2>&1
		t1=$(date +%s%N)
		echo $((EVENTS * 1000000000 / (t1 - t0)))
	done | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}
echo "events/s of a trivial function, $EVENTS events from a file: --batch 1: $(evs 1)/s; --batch 64: $(evs 64)/s (median of $RUNS units)"
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1), kernel $(uname -r)$([ -d /sys/module/kvm_pvm ] && echo ', kvm_pvm'); $(date -u '+%Y-%m-%d %H:%M UTC'); loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
