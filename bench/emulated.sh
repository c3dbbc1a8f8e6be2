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
# 3. emulated Cortex-A72 (in-qemu.sh arm64, KVM at EL2 in nVHE mode):
#    bench/kvm_exit_aarch64.c (make ARCH=aarch64), a VM made as uf-hvt makes
#    it and one hypercall store's exit at the KVM level, without the
#    tender's dispatch (uf-hvt for aarch64 does not boot images yet);
# and each emulated machine's boot (QEMU start to the command, in-qemu.sh).
# Prints a table; rewrites the "Emulated: latest run" section of
# bench/RESULTS.md (NO_RESULTS=1: not).  Knobs: RUNS (30 starts per figure).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
BUILD=${1:-build}
RUNS=${RUNS:-30}
A64=build-aarch64/bench/kvm_exit_aarch64
for f in "$BUILD/bin/uf-hvt" "$BUILD/bin/unifaas" "$BUILD/functions/hello.uf" "$A64"; do
	[ -e "$f" ] || {
		echo "emulated.sh: $f is missing: run make bench-emulated" >&2
		exit 2
	}
done
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/svm" "$W/arm64"
"$BUILD/bin/unifaas" build bench/hc_loop.c -o "$W/svm/hc_loop.uf" >/dev/null
cp "$A64" "$W/arm64/"
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
./scripts/in-qemu.sh arm64 "$W/arm64" './kvm_exit_aarch64 40 500' >"$W/arm64.txt" 2>"$W/arm64.err" ||
	{
		cat "$W/arm64.txt" "$W/arm64.err" >&2
		exit 1
	}
load1=$(cut -d' ' -f1-3 /proc/loadavg)

get() { sed -n "s/^$2 //p" "$W/$1.txt" | tr -d '\r' | head -1; }
blocks() { sed -n 's/^block //p' "$W/arm64.txt" | tr -d '\r' | sort -n; }
boot_s() { sed -n 's/.*CMD started \([0-9.]*\) s after boot.*/\1 s/p' "$W/$1.err"; }
kernel() { sed -n 's/.*(kernel \([^;]*\);.*/\1/p' "$W/$1.err"; }
ms() { awk -v n="$1" 'BEGIN { printf "%.2f ms", n / 1000 }'; }
us() { awk -v n="$1" 'BEGIN { printf "%.1f us", n / 1000 }'; }
x() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx this machine", a / b }'; }
a64_median=$(blocks | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
a64_min=$(blocks | head -1)
a64_max=$(blocks | tail -1)
h_se=$(get host start_exit_us) s_se=$(get svm start_exit_us)
h_hc=$(get host hc_ns_median) s_hc=$(get svm hc_ns_median)

{
	echo "EMULATED figures: QEMU $(qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([^ ]*\).*/\1/p') TCG; they say nothing about real hardware speed."
	echo
	echo "| figure | this machine (PVM host) | emulated SVM (kvm_amd) | emulated Cortex-A72 (KVM, nVHE) |"
	echo "|---|---|---|---|"
	echo "| the machine's boot, QEMU start to the command | - | $(boot_s svm) | $(boot_s arm64) |"
	echo "| \`uf-hvt hello.uf\` start to exit, median of $RUNS | $(ms "$h_se") | $(ms "$s_se") ($(x "$s_se" "$h_se")) | - (no aarch64 boot yet) |"
	echo "| tender's VM creation (vm_us, -v), median | $(ms "$(get host vm_us)") | $(ms "$(get svm vm_us)") | $(ms "$(get arm64 vm_us)") (KVM_CREATE_VM + memory, raw) |"
	echo "| tender's vCPU setup (vcpu_us, -v), median | $(ms "$(get host vcpu_us)") | $(ms "$(get svm vcpu_us)") | $(ms "$(get arm64 vcpu_us)") (raw) |"
	echo "| tender's start to exit (total_us, -v), median | $(ms "$(get host total_us)") | $(ms "$(get svm total_us)") | first KVM_RUN to the first exit: $(ms "$(get arm64 first_exit_us)") |"
	echo "| hypercall round trip through the tender (UF_HC_TIME, hc_loop), median (min-max) of 40 x 500 | $(us "$h_hc") ($(us "$(get host hc_ns_min)")-$(us "$(get host hc_ns_max)")) | $(us "$s_hc") ($(us "$(get svm hc_ns_min)")-$(us "$(get svm hc_ns_max)")), $(x "$s_hc" "$h_hc") | - |"
	echo "| one hypercall store's MMIO exit and re-entry at the KVM level, median (min-max) of 40 x 500 | - | - | $(us "$a64_median") ($(us "$a64_min")-$(us "$a64_max")) |"
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
