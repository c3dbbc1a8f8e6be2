#!/usr/bin/env bash
# tests/emulated/run.sh [SUITE...] - runs, one after the other, the tender's
# integration suites that need no platform (tests/integration/SUITE.sh) and
# prints their PASS/FAIL lines, each suite's time and, as its last line,
# "N passed, N failed".  `make test-svm` runs it inside the emulated SVM
# machine (scripts/in-qemu.sh --hostfs svm), where /dev/kvm is Linux's
# kvm_amd, not this host's paravirtual KVM: the same suites, the same
# expected messages.  UF_BUILD (default build) names the build tested.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
export UF_TOP=$top UF_BUILD=${UF_BUILD:-build}
# boot, the libc smoke test and local KV (runtime), every fault case (faults),
# hypercall abuse, bad inputs (errors), the README's example, and one
# Redis-backed batch and its failure modes (redis_backend)
suites=${*:-runtime faults hypercall_abuse errors run_example redis_backend}
run=$(mktemp -d /tmp/uf-emulated.XXXXXX)
export UF_RESULTS=$run/results
: >"$UF_RESULTS"
[ -e /dev/kvm ] || echo "FAIL emulated/kvm: no /dev/kvm" | tee -a "$UF_RESULTS"
echo "kvm: $(grep -m1 -o -w -e svm -e vmx -e pvm /proc/cpuinfo 2>/dev/null || echo '?') cpu, modules: $(cut -d' ' -f1 /proc/modules | grep -e '^kvm' | tr '\n' ' ')"
t_all=${EPOCHREALTIME/./}
for s in $suites; do
	[ -f "tests/integration/$s.sh" ] || {
		echo "FAIL emulated/$s: no tests/integration/$s.sh" | tee -a "$UF_RESULTS"
		continue
	}
	t0=${EPOCHREALTIME/./}
	mkdir -p "$run/$s"
	UF_TMP=$run/$s UF_SUITE=$s timeout -k 10 "${UF_SUITE_TIMEOUT:-600}" bash "tests/integration/$s.sh" </dev/null
	rc=$?
	[ $rc -eq 0 ] || echo "FAIL $s/script: tests/integration/$s.sh exited with status $rc" | tee -a "$UF_RESULTS"
	us=$((${EPOCHREALTIME/./} - t0))
	printf '== %s: %d.%d s\n' "$s" $((us / 1000000)) $((us / 100000 % 10))
done
us=$((${EPOCHREALTIME/./} - t_all))
printf 'all suites: %d.%d s\n' $((us / 1000000)) $((us / 100000 % 10))
passed=$(grep -c '^PASS' "$UF_RESULTS")
failed=$(grep -c '^FAIL' "$UF_RESULTS")
rm -rf "$run"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
