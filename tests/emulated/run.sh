#!/usr/bin/env bash
# tests/emulated/run.sh [SUITE[=CASE,CASE...]...] - runs, side by side, the
# tender's integration suites that need no platform
# (tests/integration/SUITE.sh) and prints their PASS/FAIL lines, each suite's
# time and, as its last line, "N passed, N failed".  `make test-svm` runs it
# inside the emulated SVM machine (scripts/in-qemu.sh --hostfs svm), where
# /dev/kvm is Linux's kvm_amd, not this host's paravirtual KVM: the same
# suites, the same expected messages; `make test`'s emulated smoke set
# (tests/emulated/smoke.sh) runs it there with a few cases of the longer
# suites: SUITE=CASE,CASE runs only those cases (shell patterns, UF_PICK in
# tests/lib.sh).  UF_BUILD (default build) names the build tested.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
export UF_TOP=$top UF_BUILD=${UF_BUILD:-build}
# tells a suite it runs emulated, for the few checks of speed (not of
# behaviour) that emulation, 10-100 times slower, cannot meet
export UF_EMULATED=qemu-tcg
# boot, the libc smoke test and local KV (runtime), every fault case (faults),
# hypercall abuse, bad inputs (errors), the README's example, and one
# Redis-backed batch and its failure modes (redis_backend)
suites=${*:-hypercall_abuse faults errors redis_backend runtime run_example} # the longest first
run=$(mktemp -d /tmp/uf-emulated.XXXXXX)
export UF_RESULTS=$run/results
: >"$UF_RESULTS"
[ -e /dev/kvm ] || echo "FAIL emulated/kvm: no /dev/kvm" | tee -a "$UF_RESULTS"
echo "kvm: $(grep -m1 -o -w -e svm -e vmx -e pvm /proc/cpuinfo 2>/dev/null || echo '?') cpu, modules: $(cut -d' ' -f1 /proc/modules | grep -e '^kvm' | tr '\n' ' ')"
# one SUITE: its PASS/FAIL lines and its time
one() {
	local s=$1 cases=$2 t0=${EPOCHREALTIME/./} rc us
	mkdir -p "$run/$s"
	UF_PICK=${cases//,/ } UF_TMP=$run/$s UF_SUITE=$s timeout -k 10 "${UF_SUITE_TIMEOUT:-900}" \
		bash "tests/integration/$s.sh" </dev/null
	rc=$?
	[ $rc -eq 0 ] || echo "FAIL $s/script: tests/integration/$s.sh exited with status $rc" | tee -a "$UF_RESULTS"
	us=$((${EPOCHREALTIME/./} - t0))
	printf '== %s: %d.%d s\n' "$s" $((us / 1000000)) $((us / 100000 % 10))
}
# the suites side by side, as many as the machine has CPUs (UF_EMULATED_JOBS),
# each one's output printed whole when it ends
jobs=${UF_EMULATED_JOBS:-$(nproc)}
t_all=${EPOCHREALTIME/./}
declare -A name_of
running=0
for s in $suites; do
	cases=
	case $s in *=*)
		cases=${s#*=}
		s=${s%%=*}
		;;
	esac
	if [ ! -f "tests/integration/$s.sh" ]; then
		echo "FAIL emulated/$s: no tests/integration/$s.sh" | tee -a "$UF_RESULTS"
		continue
	fi
	if [ $running -ge "$jobs" ]; then
		wait -n -p done_pid
		cat "$run/${name_of[$done_pid]}.log"
		running=$((running - 1))
	fi
	one "$s" "$cases" >"$run/$s.log" 2>&1 &
	name_of[$!]=$s
	running=$((running + 1))
done
while [ $running -gt 0 ]; do
	wait -n -p done_pid
	cat "$run/${name_of[$done_pid]}.log"
	running=$((running - 1))
done
us=$((${EPOCHREALTIME/./} - t_all))
printf 'all suites: %d.%d s\n' $((us / 1000000)) $((us / 100000 % 10))
passed=$(grep -c '^PASS' "$UF_RESULTS")
failed=$(grep -c '^FAIL' "$UF_RESULTS")
rm -rf "$run"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
