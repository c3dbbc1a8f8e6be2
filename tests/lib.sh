# tests/lib.sh - helpers shared by the integration test scripts.
#
# Each script in tests/integration/ sources this file, calls `check NAME CMD...`
# or `pass NAME` / `fail NAME WHY` once per test case (`skip NAME WHY` where
# the machine cannot run it at all), and ends with `finish`.
# Results are appended to $UF_RESULTS (one "PASS name" / "FAIL name: why" line
# each) so that tests/run.sh can count them across scripts.
#
# Environment: UF_BUILD (default build) names the build directory whose
# binaries are tested; UF_TMP is a scratch directory of this suite alone
# (run.sh gives each suite its own, removed at the end), so files, state dirs
# and sockets under it never meet another suite's or another run's.
#
# Side by side: several runs on one machine, and the suites of one run in
# parallel, must not meet.  So a suite names nothing machine-wide: servers
# listen on ports from uf_port, processes are found through what is its own
# (a pid, its parent, a path under UF_TMP) and never by a pattern any other
# run's processes could match, and network devices live in a network
# namespace of the suite's own (unshare -n, see net.sh).

UF_BUILD=${UF_BUILD:-build}
UF_TOP=${UF_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
UF_BIN="$UF_TOP/$UF_BUILD/bin"
UNIFAAS="$UF_BIN/unifaas"
HVT="$UF_BIN/uf-hvt"
UF_TMP=${UF_TMP:-$(mktemp -d)}
# The ASan build's tender seccomps itself; LeakSanitizer would need ptrace at
# exit, so leaks are checked by the unit tests (no seccomp there) instead.
# verify_asan_link_order=0: a test may LD_PRELOAD a library into the ASan
# build (daemon.sh's getrandom that fails), which ASan otherwise refuses.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0:verify_asan_link_order=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
UF_RESULTS=${UF_RESULTS:-$UF_TMP/results}
UF_SUITE=${UF_SUITE:-$(basename "$0" .sh)}

pass() {
	echo "PASS $UF_SUITE/$1" | tee -a "$UF_RESULTS"
}

fail() {
	echo "FAIL $UF_SUITE/$1: $2" | tee -a "$UF_RESULTS"
}

# skip NAME WHY: a case this machine cannot run at all, whatever is installed
# (a missing package or a setup that fails is a fail, never a skip);
# tests/run.sh counts and lists skips apart from passes and failures
skip() {
	echo "SKIP $UF_SUITE/$1: $2" | tee -a "$UF_RESULTS"
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

# build_guest SRC [OUT] : builds a guest program from tests/guest into $UF_TMP.
# With UF_PREBUILT set (a machine without a compiler: the emulated aarch64
# board, tests/emulated/arm64_platform_stage.sh), copies the image of that
# name from there, built elsewhere with `unifaas build --arch`.
build_guest() {
	local src=$1 out=${2:-$UF_TMP/$(basename "$1" .c).uf}
	if [ -n "${UF_PREBUILT:-}" ]; then
		cp "$UF_PREBUILT/$(basename "$src" .c).uf" "$out" && echo "$out"
		return
	fi
	"$UNIFAAS" build "$src" -o "$out" >"$UF_TMP/build.log" 2>&1 || {
		cat "$UF_TMP/build.log" >&2
		return 1
	}
	echo "$out"
}

# hvt_arch: the architecture the tender runs images of (its ELF machine):
# x86-64 or aarch64 (the emulated board runs the suites too), for checks
# whose words are the architecture's
hvt_arch() {
	case $(od -An -tu2 -j18 -N2 "$HVT" | tr -d ' ') in
	183) echo aarch64 ;;
	*) echo x86-64 ;;
	esac
}

# no_stray IMAGE: fails (printing them) if uf-hvt processes of IMAGE remain.
# A tender's VM reaper (tender/hvt_reaper.c) outlives it by the time the VM
# takes to tear down, about a millisecond, so allow up to 10 s to go (on a
# loaded machine the reaper may wait that long to be run at all).
no_stray() {
	local left i
	for i in $(seq 200); do
		left=$(pgrep -f -- "$1" | tr '\n' ' ')
		[ -z "$left" ] && return 0
		sleep 0.05
	done
	echo "stray tender processes: $left"
	return 1
}

# uf_port: prints a TCP port for a server of this run on 127.0.0.1.  It is
# below the kernel's ephemeral range (so no outgoing connection holds it),
# nothing listens on it, and it is claimed in $UF_PORTS_DIR (a symlink named
# after the port, pointing to the owning process $UF_PORT_OWNER: run.sh, or
# the suite when run alone) so that no other suite or run picks it while the
# owner lives.  A claim whose owner is gone is stale and taken over.
UF_PORTS_DIR=${UF_PORTS_DIR:-/tmp/unifaas-test-ports}
UF_PORT_OWNER=${UF_PORT_OWNER:-$$}
uf_port() {
	local lo hi p i owner
	read -r hi _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || hi=32768
	lo=$((hi > 12000 ? hi - 10000 : 1024))
	mkdir -p "$UF_PORTS_DIR" 2>/dev/null
	for i in $(seq 1000); do
		p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
		if ln -s "$UF_PORT_OWNER" "$UF_PORTS_DIR/$p" 2>/dev/null; then
			if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
				echo "$p"
				return 0
			fi
			rm -f "$UF_PORTS_DIR/$p" # something else listens there
		elif owner=$(readlink "$UF_PORTS_DIR/$p") && [ -n "$owner" ] && [ ! -d "/proc/$owner" ]; then
			rm -f "$UF_PORTS_DIR/$p"
		fi
	done
	echo "uf_port: no free port found between $lo and $hi" >&2
	return 1
}

# uf_ports_release OWNER: drops the port claims of OWNER (run.sh, at its end)
uf_ports_release() {
	local f
	for f in "$UF_PORTS_DIR"/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "$1" ] && rm -f "$f"
	done
	return 0
}

# wait_for SECONDS CMD... : polls CMD every 50 ms, SECONDS*20 times, until it
# succeeds.  Wait for the state a test needs this way, never with a fixed
# sleep that a loaded machine outlasts (suites run side by side).  A CMD
# slow on a loaded machine stretches the wait (more time for the platform
# too), but to 3*SECONDS of wall time at most: a python3 CMD taking 1 s
# once made `wait_for 20` of a state already gone last 460 s.  Under
# emulation (UF_EMULATED: tests/emulated/run.sh), where everything is 10-100
# times slower and slower still beside other work, a state gets UF_WAIT_SCALE
# (default 5) times as long: in a loaded CI the emulated SVM machine's tender
# took over 30 s to reach its sandbox.
wait_for() {
	local t=$1 i end
	[ -n "${UF_EMULATED:-}" ] && t=$((t * ${UF_WAIT_SCALE:-5}))
	end=$((SECONDS + 3 * t))
	shift
	for i in $(seq $((t * 20))); do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
	return 1
}

# timed CMD...: runs CMD; sets TIMED_MS to its wall time and TIMED_CPU_MS to
# the user+system CPU time of CMD and of what it waited for; returns CMD's
# status.  Bound the time a piece of work takes by its CPU time: suites run
# side by side (and beside other work), and on a loaded machine the wall time
# of the same work grows with the load.
timed() {
	local t0=${EPOCHREALTIME/./} rc
	(
		"$@"
		rc=$?
		times >"$UF_TMP/.timed.$BASHPID" && mv "$UF_TMP/.timed.$BASHPID" "$UF_TMP/.timed"
		exit $rc
	)
	rc=$?
	TIMED_MS=$(((${EPOCHREALTIME/./} - t0) / 1000))
	TIMED_CPU_MS=$(awk 'NR == 2 {gsub(/[ms]/, " "); printf "%d", ($1 * 60 + $2 + $3 * 60 + $4) * 1000}' "$UF_TMP/.timed" 2>/dev/null)
	TIMED_CPU_MS=${TIMED_CPU_MS:-0}
	return $rc
}

# uf_picked NAME: whether the case NAME is to run.  Every case runs unless
# UF_PICK is set: a list of shell patterns (e.g. "preflight* null-read")
# naming the only cases to run, for a smoke set (tests/emulated/smoke.sh).
# A suite honours it in its expect helper (a case left out returns 1 there,
# so a check that depends on the case is left out too) and calls
# uf_pick_end before its checks that are not selectable cases.
uf_picked() {
	local pats p
	[ -z "${UF_PICK:-}" ] && return 0
	read -ra pats <<<"$UF_PICK"
	for p in "${pats[@]}"; do
		# shellcheck disable=SC2053 # a pattern, on purpose
		[[ $1 == $p ]] && return 0
	done
	return 1
}

# uf_pick_end: with UF_PICK set, ends the suite here: the rest of it is
# not made of selectable cases; checks before it that are not cases of an
# expect helper run whatever UF_PICK names (redis_backend.sh's first batch)
uf_pick_end() {
	[ -z "${UF_PICK:-}" ] && return 0
	finish
	exit 0
}

finish() {
	:
}

# Listing mode (UF_CASES=FILE; tests/emulated/arm64_cases.sh): a suite whose
# `expect` cases are to run on another machine (the emulated aarch64 board,
# which has no bash, python3 or compiler) appends each case to FILE with
# uf_case instead of running it; nothing is built or run (the tender and
# the CLI are /bin/true) and the suite's other checks are discarded.
if [ -n "${UF_CASES:-}" ]; then
	HVT=/bin/true
	UNIFAAS=/bin/true
	UF_RESULTS=/dev/null
	build_guest() { echo "${2:-$UF_TMP/$(basename "$1" .c).uf}"; }
	no_stray() { return 0; }
fi
# uf_case KIND NAME STATUS ERE ARG...: one line of FILE, its fields and the
# tender's arguments separated by tabs (the image and $UF_TMP as IMG and TMP)
uf_case() {
	local a line
	line="$UF_SUITE	$1	$2	$3	$4"
	shift 4
	for a in "$@"; do
		case $a in *.uf) a=IMG ;; esac
		a=${a//$UF_TMP/TMP}
		line+="	$a"
	done
	printf '%s\n' "$line" >>"$UF_CASES"
}
