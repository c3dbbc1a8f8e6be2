#!/usr/bin/env bash
# tests/run.sh - runs the whole test suite, suites side by side, and prints
# "N passed, N failed" as its last line.
#
# The jobs:
# 1. unit: the cmocka unit tests of the host-side logic (tests/unit/unit.mk);
# 2. every tests/integration/*.sh, against the real binaries and real KVM,
#    once with the normal build and once (NAME@asan) with the ASan/UBSan
#    build of the host tools - a new suite there is picked up by itself;
# 3. fuzz: a bounded run of the fuzz targets (tests/fuzz/fuzz.mk);
# 4. emulated-svm, emulated-arm64: the emulated smoke set
#    (tests/emulated/smoke.sh): a few of the tender's checks under a real KVM
#    in QEMU's emulated AMD SVM x86-64 and Cortex-A72 machines, each one
#    QEMU process on one core beside the other jobs.
#
# A SKIP line (tests/lib.sh, skip: a check this machine cannot run at all)
# is listed at the end and counted apart ("N skipped") above the last line.
#
# Most of a suite's time is waiting (for units to scale, idle timeouts, a
# restart), so UF_JOBS jobs (default 6) run at once, the longest first (by
# the times of the previous run in build/tests/times, else the estimates
# below).  Each job has a scratch directory of its own ($UF_TMP, under this
# run's directory), its own ports (uf_port in tests/lib.sh) and its own
# network namespace where it needs one, so jobs of this run and of another
# run on the same machine never meet.  A job's output is printed whole when
# it ends, its failures again at the end.  UF_ONLY="NAME..." runs only those
# jobs (e.g. UF_ONLY="cli platform@asan"); UF_KEEP=1 keeps the run's directory
# (logs, state dirs) for a look afterwards.
#
# After the jobs, any process still running from this run's directory (its
# state dirs, images, sockets) is a leak: it is named as a failure and killed.
# Nothing else is ever signalled.  Exit status is 0 only if nothing failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export UF_TOP=$top
UF_RUN=$(mktemp -d /tmp/unifaas-test.XXXXXX)
export UF_RUN
# ports claimed by any job of this run belong to this process (tests/lib.sh)
export UF_PORT_OWNER=$$
UF_TMP=$UF_RUN
. "$top/tests/lib.sh"
JOBS=${UF_JOBS:-6}
SUITE_TIMEOUT=${UF_SUITE_TIMEOUT:-900}
TIMES=$top/build/tests/times

declare -A job_of started

# own_pids: the processes of this run, but for this shell: those with this
# run's UF_RUN in their environment (every job and what it starts with the
# environment it has) or this run's directory in their command line or as
# working directory (servers and units, which get an environment of their own)
own_pids() {
	local p
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
		grep -qzxF "UF_RUN=$UF_RUN" "/proc/$p/environ" 2>/dev/null ||
			{ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF "$UF_RUN/" ||
			case "$(readlink "/proc/$p/cwd" 2>/dev/null)/" in "$UF_RUN"/*) ;; *) continue ;; esac
		[ -d "/proc/$p" ] && echo "$p"
	done
}

finish_run() {
	local p
	trap - INT TERM
	for p in $(own_pids); do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	uf_ports_release $$
	if [ -n "${UF_KEEP:-}" ]; then
		echo "(kept: $UF_RUN)"
	else
		rm -rf "$UF_RUN"
	fi
}
trap finish_run EXIT
trap 'exit 130' INT TERM

# The jobs, each as NAME; the estimate (seconds, measured on a 2-core machine)
# orders the first run, unknown suites count as long so they start early.
estimate() {
	local t
	t=$(awk -v n="$1" '$1 == n {print int($2)}' "$TIMES" 2>/dev/null)
	[ -n "$t" ] && {
		echo "$t"
		return
	}
	case $1 in # seconds: the wall times of a fresh clone's run (f217451, 6 at once, 2 cores, ~7 other runs beside: 22 min) / 3
	emulated-svm) echo 150 ;; # 75-145 s alone (its machine's boot, builds and checks at 10-100x slower)
	emulated-arm64) echo 90 ;; # 100 s alone from scratch: the whole aarch64 cross-build, then its machine (30 s)
	emulated-arm64-platform) echo 450 ;; # with cpu_groups: 532 s at a load of 7 (CI of b51ef7a); the longest job, started first
	daemon*) echo 143 ;;
	chains*) echo 78 ;;
	fuzz) echo 73 ;;
	unit) echo 62 ;; # with its build
	slack | slack@asan) echo 60 ;; # 167 there, most of it one wait_for stretched by load (tests/lib.sh caps that now)
	mqtt*) echo 57 ;;
	ingress_fair*) echo 20 ;;
	ingress_rate*) echo 15 ;; # 13.3-14.5 s alone: a 6-10 s phase beside calm, a 4 s one of control API pushes
	stops*) echo 50 ;; # two drain deadlines of 20 s (unit_drain_ms=20000) and a replace
	platform | platform@asan) echo 53 ;;
	ingress | ingress@asan) echo 51 ;;
	fairness*) echo 60 ;; # 2 platforms, drains of 5 s (default unit_drain_ms); 71 s alone with the drain-deadline and share phases
	co2_log* | rules*) echo 38 ;;
	faults* | errors* | defer*) echo 31 ;;
	quota* | egress* | api_limits*) echo 25 ;;
	sim | sim@asan | hypercall_abuse* | demo* | broker* | metrics*) echo 18 ;; # demo: 16-18 s alone
	workloads* | redis_backend* | runtime* | api | api@asan | secrets* | inspect* | co2 | co2@asan) echo 13 ;;
	limits* | edges_abi* | slack_sim* | ingress_tokens* | cli*) echo 9 ;;
	redis_start* | redis_stall* | edges | edges@asan | deploy_images* | platform_net* | net | net@asan) echo 5 ;;
	run_example* | local*) echo 3 ;;
	*) echo 60 ;; # a new suite: long until measured, so it starts early
	esac
}

jobs_list() {
	local s n
	[ -f tests/unit/unit.mk ] && echo unit
	[ -f tests/fuzz/fuzz.mk ] && echo fuzz
	[ -f tests/emulated/smoke.sh ] && echo emulated-svm && echo emulated-arm64
	[ -f tests/emulated/arm64_platform.sh ] && echo emulated-arm64-platform
	for s in tests/integration/*.sh; do
		n=$(basename "$s" .sh)
		echo "$n"
		[ -x build-asan/bin/uf-hvt ] && echo "$n@asan"
	done
}

# run_job NAME: runs one job in the foreground; output and results in its dir
run_job() {
	local name=$1 dir=$UF_RUN/$1 t
	mkdir -p "$dir"
	export UF_TMP=$dir UF_RESULTS=$dir/results UF_SUITE=$name
	: >"$UF_RESULTS"
	case $name in
	unit)
		if ! make -s -j2 -f tests/unit/unit.mk >"$dir/unit-build.log" 2>&1; then
			fail build "$(tail -5 "$dir/unit-build.log" | tr '\n' ' ')"
			return
		fi
		for t in build/tests/unit/test_*; do
			[ -x "$t" ] || continue
			if "$t" >"$dir/$(basename "$t").log" 2>&1; then
				pass "$(basename "$t")"
			else
				fail "$(basename "$t")" "$(grep -E 'FAILED|ERROR|Assert' "$dir/$(basename "$t").log" | head -3 | tr '\n' ' ')"
			fi
		done
		;;
	fuzz)
		if make -s -j2 -f tests/fuzz/fuzz.mk build >"$dir/fuzz.log" 2>&1 &&
			make -s -f tests/fuzz/fuzz.mk run >>"$dir/fuzz.log" 2>&1; then
			pass hypercall
		else
			fail hypercall "$(tail -5 "$dir/fuzz.log" | tr '\n' ' ')"
		fi
		;;
	emulated-*)
		# the machine's own bound (smoke.sh --bound: 1200 s for the board
		# with the platform, not SUITE_TIMEOUT: a CI of 0105ca1 cut it at
		# 900 s) comes first, so that it says where it was
		local bound
		bound=$(bash tests/emulated/smoke.sh --bound "${name#emulated-}")
		UF_SMOKE_TIMEOUT=$bound UF_BUILD=build timeout -k 10 $((bound + 30)) \
			bash tests/emulated/smoke.sh "${name#emulated-}" </dev/null
		t=$?
		[ $t -eq 124 ] && t="$t (timed out after $((bound + 30)) s)"
		[ "$t" = 0 ] || fail script "tests/emulated/smoke.sh exited with status $t"
		;;
	*)
		local build=build script=tests/integration/$name.sh
		case $name in *@asan)
			build=build-asan
			script=tests/integration/${name%@asan}.sh
			;;
		esac
		UF_BUILD=$build timeout -k 10 "$SUITE_TIMEOUT" bash "$script" </dev/null
		t=$?
		[ $t -eq 124 ] && t="$t (timed out after $SUITE_TIMEOUT s)"
		[ "$t" = 0 ] || fail script "$script exited with status $t"
		;;
	esac
}

start_job() {
	local name=$1
	started[$name]=${EPOCHREALTIME/./}
	(
		run_job "$name"
		times >"$UF_RUN/$name/cpu" # (2nd line) user and system time of what it waited for
	) >"$UF_RUN/$name.log" 2>&1 &
	job_of[$!]=$name
}

# end_job PID: prints the job's output, its time and the CPU time it took
end_job() {
	local name=${job_of[$1]} us cpu
	us=$((${EPOCHREALTIME/./} - ${started[$name]}))
	cpu=$(awk 'NR == 2 {gsub(/[ms]/, " "); printf "%.1f", $1 * 60 + $2 + $3 * 60 + $4}' "$UF_RUN/$name/cpu" 2>/dev/null)
	printf '%s %d.%d %s\n' "$name" $((us / 1000000)) $((us / 100000 % 10)) "${cpu:-?}" >>"$UF_RUN/times"
	printf '== %s (%d.%d s, CPU %s s)\n' "$name" $((us / 1000000)) $((us / 100000 % 10)) "${cpu:-?}"
	cat "$UF_RUN/$name.log"
}

# the jobs, longest first
mapfile -t todo < <(for j in $(jobs_list); do
	case " ${UF_ONLY:-$j} " in *" $j "*) echo "$(estimate "$j") $j" ;; esac
done | sort -k1,1nr -k2 | awk '{print $2}')

# Jobs of one group never run at the same time: api_limits measures
# deadlines and response times under a load it makes itself (floods, slow
# clients, the largest push), and its two builds would measure each other.
apart() {
	case $1 in
	api_limits | api_limits@asan) echo api_limits ;;
	emulated-arm64*) echo emulated-arm64 ;; # both cross-build into build-aarch64/
	*) echo "$1" ;;
	esac
}
declare -A busy
running=0
# start_next: starts the first job in todo whose group is free; fails if none is
start_next() {
	local i g
	for i in "${!todo[@]}"; do
		g=$(apart "${todo[$i]}")
		[ -n "${busy[$g]:-}" ] && continue
		busy[$g]=1
		start_job "${todo[$i]}"
		unset "todo[$i]"
		running=$((running + 1))
		return 0
	done
	return 1
}
t0=${EPOCHREALTIME/./}
while [ ${#todo[@]} -gt 0 ] || [ $running -gt 0 ]; do
	while [ $running -lt "$JOBS" ] && start_next; do :; done
	wait -n -p done_pid
	unset "busy[$(apart "${job_of[$done_pid]}")]"
	end_job "$done_pid"
	running=$((running - 1))
done
us=$((${EPOCHREALTIME/./} - t0))

# leftovers: processes of this run still there a second after every job ended
left=
none_left() { [ -z "$(own_pids)" ]; }
wait_for 1 none_left
for p in $(own_pids); do
	left="$left $p($({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | cut -c1-100))"
	kill -KILL "$p" 2>/dev/null
done
[ -n "$left" ] && echo "FAIL run/leftovers: still running after every job ended:$left" | tee -a "$UF_RUN/results"

cat "$UF_RUN"/*/results >>"$UF_RUN/results" 2>/dev/null
if [ -z "${UF_ONLY:-}" ]; then
	mkdir -p "$(dirname "$TIMES")" && sort "$UF_RUN/times" >"$TIMES"
fi
passed=$(grep -c '^PASS' "$UF_RUN/results")
failed=$(grep -c '^FAIL' "$UF_RUN/results")
skipped=$(grep -c '^SKIP' "$UF_RUN/results")
echo
printf 'all jobs: %d.%d s with %d at once\n' $((us / 1000000)) $((us / 100000 % 10)) "$JOBS"
grep '^SKIP' "$UF_RUN/results"
[ "$skipped" -gt 0 ] && echo "$skipped skipped (not run: this machine cannot run them; listed above)"
grep '^FAIL' "$UF_RUN/results"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
