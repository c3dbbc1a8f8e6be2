#!/usr/bin/env bash
# tests/run.sh - runs the whole test suite and prints "N passed, N failed".
#
# 1. unit tests (cmocka) of the host-side logic, built by tests/unit/unit.mk;
# 2. integration and fault tests (tests/integration/*.sh) against the real
#    binaries and real KVM, first with the normal build, then with the
#    ASan/UBSan build of the host tools;
# 3. a bounded run of the hypercall-validation fuzz target.
# Exit status is 0 only if nothing failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export UF_TOP=$top
export UF_TMP=$(mktemp -d /tmp/unifaas-test.XXXXXX)
export UF_RESULTS=$UF_TMP/results
: >"$UF_RESULTS"
trap 'rm -rf "$UF_TMP"' EXIT

run_suite() { # BUILD SCRIPT
	local build=$1 script=$2 name
	name=$(basename "$script" .sh)
	[ "$build" = build ] || name="$name@asan"
	echo "== $name"
	UF_BUILD=$build UF_SUITE=$name bash "$script" || echo "FAIL $name: script exited $?" >>"$UF_RESULTS"
}

if [ -f tests/unit/unit.mk ]; then
	echo "== unit"
	if make -s -f tests/unit/unit.mk >"$UF_TMP/unit-build.log" 2>&1; then
		for t in build/tests/unit/test_*; do
			[ -x "$t" ] || continue
			n=$(basename "$t")
			if "$t" >"$UF_TMP/$n.log" 2>&1; then
				echo "PASS unit/$n" | tee -a "$UF_RESULTS"
			else
				echo "FAIL unit/$n: $(grep -E 'FAILED|ERROR|Assert' "$UF_TMP/$n.log" | head -3 | tr '\n' ' ')" | tee -a "$UF_RESULTS"
			fi
		done
	else
		echo "FAIL unit/build: $(tail -5 "$UF_TMP/unit-build.log" | tr '\n' ' ')" | tee -a "$UF_RESULTS"
	fi
fi

for s in tests/integration/*.sh; do
	run_suite build "$s"
done
if [ -x build-asan/bin/uf-hvt ]; then
	for s in tests/integration/*.sh; do
		run_suite build-asan "$s"
	done
fi

if [ -f tests/fuzz/fuzz.mk ]; then
	echo "== fuzz"
	if make -s -f tests/fuzz/fuzz.mk run >"$UF_TMP/fuzz.log" 2>&1; then
		echo "PASS fuzz/hypercall" | tee -a "$UF_RESULTS"
	else
		echo "FAIL fuzz/hypercall: $(tail -5 "$UF_TMP/fuzz.log" | tr '\n' ' ')" | tee -a "$UF_RESULTS"
	fi
fi

passed=$(grep -c '^PASS' "$UF_RESULTS")
failed=$(grep -c '^FAIL' "$UF_RESULTS")
echo
grep '^FAIL' "$UF_RESULTS" || true
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
