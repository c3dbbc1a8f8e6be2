# tests/lib.sh - helpers shared by the integration test scripts.
#
# Each script in tests/integration/ sources this file, calls `check NAME CMD...`
# or `pass NAME` / `fail NAME WHY` once per test case, and ends with `finish`.
# Results are appended to $UF_RESULTS (one "PASS name" / "FAIL name: why" line
# each) so that tests/run.sh can count them across scripts.
#
# Environment: UF_BUILD (default build) names the build directory whose
# binaries are tested; UF_TMP is a scratch directory removed by run.sh.

UF_BUILD=${UF_BUILD:-build}
UF_TOP=${UF_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
UF_BIN="$UF_TOP/$UF_BUILD/bin"
UNIFAAS="$UF_BIN/unifaas"
HVT="$UF_BIN/uf-hvt"
UF_TMP=${UF_TMP:-$(mktemp -d)}
# The ASan build's tender seccomps itself; LeakSanitizer would need ptrace at
# exit, so leaks are checked by the unit tests (no seccomp there) instead.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
UF_RESULTS=${UF_RESULTS:-$UF_TMP/results}
UF_SUITE=${UF_SUITE:-$(basename "$0" .sh)}

pass() {
	echo "PASS $UF_SUITE/$1" | tee -a "$UF_RESULTS"
}

fail() {
	echo "FAIL $UF_SUITE/$1: $2" | tee -a "$UF_RESULTS"
}

# check NAME CMD... : passes when CMD exits 0
check() {
	local name=$1
	shift
	local out
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "$(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')"
	fi
}

# build_guest SRC [OUT] : builds a guest program from tests/guest into $UF_TMP
build_guest() {
	local src=$1 out=${2:-$UF_TMP/$(basename "$1" .c).uf}
	"$UNIFAAS" build "$src" -o "$out" >"$UF_TMP/build.log" 2>&1 || {
		cat "$UF_TMP/build.log" >&2
		return 1
	}
	echo "$out"
}

# no_stray IMAGE: fails (printing them) if uf-hvt processes of IMAGE remain.
# A tender's VM reaper (tender/hvt_reaper.c) outlives it by the time the VM
# takes to tear down, about a millisecond, so allow up to 2 s to go.
no_stray() {
	local left i
	for i in $(seq 40); do
		left=$(pgrep -f -- "$1" | tr '\n' ' ')
		[ -z "$left" ] && return 0
		sleep 0.05
	done
	echo "stray tender processes: $left"
	return 1
}

finish() {
	:
}
