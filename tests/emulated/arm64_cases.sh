#!/usr/bin/env bash
# tests/emulated/arm64_cases.sh OUT - writes to OUT the cases `make
# test-arm64` runs with the aarch64 tender on the emulated Cortex-A72
# (tests/emulated/arm64_suites.sh runs them there: that machine has busybox
# but no bash, python3 or compiler).  The cases and their expected statuses
# and reasons are the x86-64 suites' own: faults.sh and hypercall_abuse.sh
# list their `expect` cases (tests/lib.sh, listing mode) and runtime.sh's
# libc smoke test its checks; then the x86-64 words of a reason become the
# aarch64 words for the same fault (below), the cases only x86-64 has are
# left out, and the cases only aarch64 has are added.  One line a case,
# tab-separated: SUITE KIND NAME STATUS ERE ARG... (KIND: reason, output or
# libc; IMG in ARG... is the suite's image).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: arm64_cases.sh OUT}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/x86"
for s in faults hypercall_abuse; do
	mkdir -p "$tmp/$s"
	UF_CASES=$tmp/x86 UF_TMP=$tmp/$s UF_SUITE=$s UF_TOP=$top bash "$top/tests/integration/$s.sh" >/dev/null 2>&1
done
grep -q '^faults' "$tmp/x86" && grep -q '^hypercall_abuse' "$tmp/x86" || {
	echo "arm64_cases.sh: the suites listed no cases" >&2
	exit 1
}
# Left out, x86-64's alone: divide error (an aarch64 sdiv by zero gives 0),
# #GP (privileged instructions from ring 3, segments, software interrupts:
# the aarch64 guest runs at EL1, and has neither), and the hypercall page
# touched by x86 instructions (read-modify-write, SSE, x87, string stores)
# or I/O ports (aarch64 has none).
x86_only='#DE divide error|#GP general protection|#BP breakpoint'
x86_names='mmio_add|mmio_xchg|mmio_sse|mmio_x87|mmio_rep_stosl|port_.*'
# The same fault in aarch64's words (tender/hvt_hypercall.c): a page fault
# is a data abort, or an instruction abort when it was an execute; #UD an
# undefined instruction; the program counter is pc, the stack pointer sp.
# bad_rsp: x86-64's guest sets RSP to 8, aarch64's SP to 16 (SP must stay
# 16-aligned), each then storing just below: the same NULL write.
# Left out too: cases whose input is a file the suite writes (--events
# TMP/...).  (An empty ERE becomes "-": busybox's read would merge two tabs.)
awk -F'\t' -v OFS='\t' -v x="$x86_only" -v n="^($x86_names)\$" '$5 ~ x || $3 ~ n || /\t--events\tTMP\// { next }
	$5 == "" { $5 = "-" } { print }' "$tmp/x86" |
	sed -e 's/#PF page fault: execute of non-executable memory/instruction abort: execute of non-executable memory/' \
		-e 's/#PF page fault/data abort/g' -e 's/#UD invalid opcode/undefined instruction/g' \
		-e 's/at rip 0x/at pc 0x/g' -e 's/\\(rsp 0x8\\)/\\(sp 0x10\\)/g' >"$out.tmp"
# mmio_straddle, an 8-byte store at the hypercall page's last 4 bytes: on
# aarch64 it is an unaligned access to Device memory, an alignment fault on
# hardware (ARM ARM B2.5.2); QEMU 7.2 does not check that alignment and
# hands the store to KVM, which reports it: the tender ends the unit with a
# bad hypercall naming it.  Both are accepted (STATUS 3|6).
t='	'
awk -F'\t' -v OFS='\t' '$3 == "mmio_straddle" {
	$4 = "3|6"
	$5 = "guest fault: data abort: alignment fault \\(write of address 0x80000ffc\\)|bad hypercall: store of 8 bytes at 0x80000ffc in the hypercall page"
} { print }' "$out.tmp" >"$out"
rm -f "$out.tmp"
# aarch64's own cases (tests/guest/faults.c, hcabuse.c)
{
	echo "faults${t}reason${t}brk${t}3${t}guest fault: breakpoint instruction \\(brk\\): brk #42 at pc 0x${t}--env${t}CASE=brk${t}--event${t}x${t}IMG"
	echo "faults${t}reason${t}unaligned-exclusive${t}3${t}guest fault: data abort: alignment fault \\(read of address 0x[0-9a-f]*3\\) at pc 0x${t}--env${t}CASE=unaligned_exclusive${t}--event${t}x${t}IMG"
	echo "faults${t}reason${t}pc-misaligned${t}3${t}guest fault: PC alignment fault: execute of address 0x[0-9a-f]*2 at pc 0x${t}--env${t}CASE=pc_misaligned${t}--event${t}x${t}IMG"
	for c in stp str_post; do
		echo "hypercall_abuse${t}output${t}mmio_$c${t}6${t}bad hypercall: an access KVM cannot decode \\(a store pair or with writeback\\) at 0x80000008 in the hypercall page \\(hypercalls are one 32-bit store\\)${t}--event${t}ev1${t}--env${t}CASE=mmio_$c${t}IMG"
	done
} >>"$out"
# runtime.sh's libc smoke test: the checks its guest prints ("ok NAME")
awk '/^for c in printf-float/ { on = 1 } on { print; if (/; do$/) exit }' "$top/tests/integration/runtime.sh" |
	tr -d '\\' | tr ' \t' '\n\n' | grep -v -e '^$' -e '^for$' -e '^c$' -e '^in$' | sed 's/;$//; /^do$/d' |
	while read -r c; do echo "runtime${t}libc${t}$c${t}0${t}ok $c"; done >>"$out"
echo "arm64_cases.sh: $(wc -l <"$out") cases ($(grep -c "	libc	" "$out") libc checks) from the x86-64 suites into $out" >&2
