#!/usr/bin/env bash
# bench/emulated.sh [BUILD_DIR] - boot and hypercall exit figures under the
# emulated hardware-virtualised KVMs (`make bench-emulated`), beside this
# machine's (the PVM host's) from the same run.
#
# EMULATED: QEMU's software emulation (TCG) runs the emulated machines 10-100
# times slower than real hardware and with costs of its own (every exit of
# the nested guest goes through the emulated hypervisor); these figures say
# nothing about the speed of real SVM, VMX or aarch64 hardware.  They say
# what the emulated test runs (make test-svm, test-arm64, make test's smoke
# set) cost, and how the costs are split there.
#
# 1. this machine: bench/emulated_probe.sh (uf-hvt hello.uf start to exit,
#    the tender's -v breakdown, the hypercall round trip of bench/hc_loop.c);
# 2. emulated SVM (scripts/in-qemu.sh --hostfs svm, kvm_amd): the same probe
#    with the same binaries;
# 3. emulated Cortex-A72 (in-qemu.sh arm64, KVM at EL2 in nVHE mode; busybox
#    there, no hyperfine): the aarch64 uf-hvt's -v breakdown of hello.uf and
#    the round trip of hc_loop.c built with `unifaas build --arch aarch64`;
# and each emulated machine's boot (QEMU start to the command, in-qemu.sh).
# Prints a table; rewrites the "Emulated: latest run" section of
# bench/RESULTS.md (NO_RESULTS=1: not).  Knobs: RUNS (30 starts per figure).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
BUILD=${1:-build}
RUNS=${RUNS:-30}
A64=(build-aarch64/bin/uf-hvt build-aarch64/functions/hello.uf)
for f in "$BUILD/bin/uf-hvt" "$BUILD/bin/unifaas" "$BUILD/functions/hello.uf" "${A64[@]}"; do
	[ -e "$f" ] || {
		echo "emulated.sh: $f is missing: run make bench-emulated" >&2
		exit 2
	}
done
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/svm" "$W/arm64"
"$BUILD/bin/unifaas" build bench/hc_loop.c -o "$W/svm/hc_loop.uf" >/dev/null
"$BUILD/bin/unifaas" build --arch aarch64 bench/hc_loop.c -o "$W/arm64/hc_loop.uf" >/dev/null
cp "${A64[@]}" "$W/arm64/"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
date=$(date -u '+%Y-%m-%d %H:%M UTC')

echo "emulated.sh: this machine ..." >&2
bash bench/emulated_probe.sh "$BUILD" "$W/svm/hc_loop.uf" "$RUNS" >"$W/host.txt"
echo "emulated.sh: emulated SVM ..." >&2
./scripts/in-qemu.sh --hostfs --keep "$top" svm "$W/svm" \
	"cd '$top' && bash bench/emulated_probe.sh '$BUILD' \$UF_DIR/hc_loop.uf $RUNS" >"$W/svm.txt" 2>"$W/svm.err" ||
	{
		cat "$W/svm.txt" "$W/svm.err" >&2
		exit 1
	}
echo "emulated.sh: emulated Cortex-A72 ..." >&2
./scripts/in-qemu.sh arm64 "$W/arm64" "for i in \$(seq $RUNS); do ./uf-hvt -v hello.uf 2>&1 >/dev/null | sed -n 's/.*: timing: /timing /p'; done;
	./uf-hvt hc_loop.uf 2>&1 >/dev/null | sed -n 's/^block /hcblock /p'" >"$W/arm64.raw" 2>"$W/arm64.err" ||
	{
		cat "$W/arm64.raw" "$W/arm64.err" >&2
		exit 1
	}
load1=$(cut -d' ' -f1-3 /proc/loadavg)
# the aarch64 lines into the probe's keys
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
tr -d '\r' <"$W/arm64.raw" >"$W/a64"
{
	for k in vm_us vcpu_us total_us; do
		echo "$k $(sed -n 's/^timing //p' "$W/a64" | tr ' ' '\n' | sed -n "s/^$k=//p" | median)"
	done
	sed -n 's/^hcblock //p' "$W/a64" | sort -n >"$W/hc"
	echo "hc_ns_median $(median <"$W/hc")"
	echo "hc_ns_min $(head -1 "$W/hc")"
	echo "hc_ns_max $(tail -1 "$W/hc")"
} >"$W/arm64.txt"

get() { sed -n "s/^$2 //p" "$W/$1.txt" | tr -d '\r' | head -1; }
boot_s() { sed -n 's/.*CMD started \([0-9.]*\) s after boot.*/\1 s/p' "$W/$1.err"; }
kernel() { sed -n 's/.*(kernel \([^;]*\);.*/\1/p' "$W/$1.err"; }
ms() { awk -v n="$1" 'BEGIN { printf "%.2f ms", n / 1000 }'; }
us() { awk -v n="$1" 'BEGIN { printf "%.1f us", n / 1000 }'; }
x() { awk -v a="$1" -v b="$2" 'BEGIN { r = a / b; printf(r < 10 ? "%.1fx" : "%.0fx", r) }'; }
# row TITLE KEY FORMAT: the figure on the three machines, each emulated one
# with its ratio to this machine's
row() {
	local h s a
	h=$(get host "$2") s=$(get svm "$2") a=$(get arm64 "$2")
	printf '| %s | %s | %s (%s) | %s (%s) |\n' "$1" "$($3 "$h")" "$($3 "$s")" "$(x "$s" "$h")" "$($3 "$a")" "$(x "$a" "$h")"
}
spread() { echo "$(us "$(get "$1" "$2"_min)")-$(us "$(get "$1" "$2"_max)")"; }

{
	echo "EMULATED figures: QEMU $(qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([^ ]*\).*/\1/p') TCG; they say nothing about real hardware speed. In brackets: times this machine's figure."
	echo
	echo "| figure | this machine (PVM host) | emulated SVM (kvm_amd) | emulated Cortex-A72 (KVM, nVHE) |"
	echo "|---|---|---|---|"
	echo "| the machine's boot, QEMU start to the command | - | $(boot_s svm) | $(boot_s arm64) |"
	echo "| \`uf-hvt hello.uf\` start to exit, median of $RUNS (hyperfine) | $(ms "$(get host start_exit_us)") | $(ms "$(get svm start_exit_us)") ($(x "$(get svm start_exit_us)" "$(get host start_exit_us)")) | - |"
	row "tender: VM and memory (\`-v\` vm_us), median of $RUNS" vm_us ms
	row "tender: vCPU set-up (vcpu_us)" vcpu_us ms
	row "tender: start to exit of hello.uf (total_us)" total_us ms
	row "hypercall round trip through the tender (UF_HC_TIME, hc_loop), median of 40 blocks of 500" hc_ns_median us
	echo "| the same, fastest and slowest block | $(spread host hc_ns) | $(spread svm hc_ns) | $(spread arm64 hc_ns) |"
	echo
	echo "- Date: $date; tree $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- tender guest bench 2>/dev/null || echo ' (modified)')"
	echo "- This machine: $(nproc) cores, $(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1), kernel $(uname -r)$([ -d /sys/module/kvm_pvm ] && echo ', KVM through kvm_pvm'); loadavg $load0 at the start, $load1 at the end"
	echo "- Emulated: SVM \`-accel tcg -cpu max\`, 1 CPU, kernel $(kernel svm); Cortex-A72 \`-M virt,virtualization=on,gic-version=2\`, 1 CPU, kernel $(kernel arm64)"
} >"$W/table.md"
cat "$W/table.md"

[ "${NO_RESULTS:-0}" = 1 ] && exit 0
RES=bench/RESULTS.md
BEGIN='<!-- emulated.sh: latest run begins -->'
END='<!-- emulated.sh: latest run ends -->'
{
	echo "$BEGIN"
	echo "### Emulated: latest run (\`make bench-emulated\`, bench/emulated.sh)"
	echo
	cat "$W/table.md"
	echo "$END"
} >"$W/section"
if grep -qF "$BEGIN" "$RES" && grep -qF "$END" "$RES"; then
	awk -v b="$BEGIN" -v e="$END" -v f="$W/section" '
		$0 == b { while ((getline l < f) > 0) print l; skip = 1; next }
		$0 == e { skip = 0; next }
		!skip { print }' "$RES" >"$RES.tmp"
	mv "$RES.tmp" "$RES"
else
	{
		cat "$RES"
		echo
		cat "$W/section"
	} >"$RES.tmp"
	mv "$RES.tmp" "$RES"
fi
echo "bench/RESULTS.md updated"
