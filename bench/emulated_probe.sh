#!/usr/bin/env bash
# bench/emulated_probe.sh BUILD_DIR HC_LOOP_IMAGE RUNS - the x86-64 figures of
# bench/emulated.sh, measured wherever it runs: on this machine (the PVM
# host) and, through in-qemu.sh --hostfs, inside the emulated SVM machine,
# with the same binaries.  Prints "key value" lines:
#   start_exit_us  median start-to-exit of `uf-hvt hello.uf` (hyperfine -N,
#                  RUNS runs after 3 warm-ups: no shell in the timing)
#   vm_us vcpu_us total_us  medians of the tender's own breakdown (uf-hvt -v's
#                  timing line) over RUNS runs
#   hc_ns_median hc_ns_min hc_ns_max  the hypercall exit round trip through
#                  the tender (bench/hc_loop.c: 40 blocks of 500 UF_HC_TIME
#                  calls, the mean per call of each block)
set -euo pipefail
build=$1 hc_loop=$2 runs=$3
hvt=$build/bin/uf-hvt hello=$build/functions/hello.uf
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

hyperfine -N --style none -w 3 -r "$runs" --export-json "$w/h.json" "$hvt $hello" >/dev/null 2>&1
python3 -c 'import json, sys; print("start_exit_us %d" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1e6))' "$w/h.json"
for _ in $(seq "$runs"); do
	"$hvt" -v "$hello" 2>&1 >/dev/null | sed -n 's/.*: timing: //p'
done >"$w/timing"
for k in vm_us vcpu_us total_us; do
	echo "$k $(tr ' ' '\n' <"$w/timing" | sed -n "s/^$k=//p" | median)"
done
"$hvt" "$hc_loop" 2>&1 >/dev/null | sed -n 's/^block //p' >"$w/blocks"
echo "hc_ns_median $(median <"$w/blocks")"
echo "hc_ns_min $(sort -n "$w/blocks" | head -1)"
echo "hc_ns_max $(sort -n "$w/blocks" | tail -1)"
