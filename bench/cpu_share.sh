#!/usr/bin/env bash
# bench/cpu_share.sh [BUILD_DIR] - what the CPU shares per workflow do
# (issue 11 §5, docs/architecture.md "CPU shares"): two workflows running
# the same CPU-bound function (functions/fib.c, fib(N) per event, N =
# FIB_N, 30 by default), `many` with MANY units (8) and `one` with one
# unit, both with more work queued than they can do, measured for SECS
# seconds (10), once with CPU cgroups (the default) and once with
# cpu_cgroup=off, each on a private platform.  Prints, per workflow, the
# events handled per second and (with cgroups) the CPU its units took, and
# many's share of the two.  Equal weights should split the CPU about
# evenly whatever the number of units; without them each unit is one
# process and `many` takes about MANY/(MANY+1) of it.  The machine is
# shared with whatever else runs: only the split between the two is the
# figure.  Never pass/fail; figures go in bench/RESULTS.md by hand.
set -uo pipefail
cd "$(dirname "$0")/.."
UF_BUILD=${1:-build}
export UF_BUILD
UF_TMP=$(mktemp -d /tmp/unifaas-cpushare-bench.XXXXXX)
export UF_TMP UF_SUITE=cpushare-bench UF_RESULTS=$UF_TMP/results
MANY=${MANY:-8} SECS=${SECS:-10} FIB_N=${FIB_N:-30} QUEUED=${QUEUED:-20000}
. tests/lib.sh
. tests/platform/lib.sh
trap 'plat_down; [ -n "${KEEP:-}" ] || rm -rf "$UF_TMP"' EXIT
FIB="$UF_TOP/$UF_BUILD/functions/fib.uf"
[ -f "$FIB" ] || { echo "cpu_share.sh: $FIB missing: make all" >&2; exit 1; }

deploy() { # NAME UNITS
	local m
	m=$(manifest "$1" <<EOF
name: $1
functions:
  fib:
    image: $FIB
    listen: numbers
    push: results
    memory: 8MiB
    retries: 0
    timeout_ms: 10000
    scale: { min_units: $2, max_units: $2, events_per_unit: 1, grace_ms: 0, idle_ms: 60000 }
EOF
)
	U deploy "$m" >/dev/null && awk -v n="$FIB_N" -v q="$QUEUED" 'BEGIN { for (i = 0; i < q; i++) print n }' | U push "$1" numbers >/dev/null
}
cpu_of() { # the workflows' CPU seconds (/metrics), "many=S one=S", nothing without cgroups
	curl -s --max-time 10 -H "Authorization: Bearer $(cat "$PLAT_STATE/api.token")" "http://127.0.0.1:$PLAT_API_PORT/metrics" |
		sed -n 's/^unifaas_workflow_cpu_seconds_total{workflow="\([^"]*\)"} \(.*\)/\1=\2/p' | tr '\n' ' '
}
val() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }

run() { # CONF LABEL
	PLAT_CONF=$(printf 'max_units=%d\n%s' $((MANY + 4)) "$1")
	plat_up || { echo "cpu_share.sh: unifaas up failed: $(tail -3 "$UF_TMP/$UF_SUITE.up.log")" >&2; return 1; }
	deploy many "$MANY" && deploy one 1 || {
		echo "cpu_share.sh: deploy failed" >&2
		plat_down
		return 1
	}
	wait_for 30 units_is many "$MANY"
	wait_for 30 units_is one 1
	sleep 2
	local r0m r0o r1m r1o c0 c1 t0 t1
	r0m=$(R XLEN uf:q:many:results) r0o=$(R XLEN uf:q:one:results) c0=$(cpu_of) t0=$(date +%s.%N)
	sleep "$SECS"
	r1m=$(R XLEN uf:q:many:results) r1o=$(R XLEN uf:q:one:results) c1=$(cpu_of) t1=$(date +%s.%N)
	awk -v l="$2" -v m=$((r1m - r0m)) -v o=$((r1o - r0o)) -v t="$(echo "$t1 - $t0" | bc)" \
		-v cm0="$(val many "$c0")" -v cm1="$(val many "$c1")" -v co0="$(val one "$c0")" -v co1="$(val one "$c1")" -v n="$MANY" 'BEGIN {
		printf "%-9s many (%d units) %7.1f ev/s   one (1 unit) %7.1f ev/s   many'"'"'s share of the events %.2f", l, n, m / t, o / t, (m + o) ? m / (m + o) : 0
		if (cm1 != "") printf "   cpu: many %.0f%%, one %.0f%% of a core, many'"'"'s share %.2f", (cm1 - cm0) * 100 / t, (co1 - co0) * 100 / t, (cm1 - cm0) / ((cm1 - cm0) + (co1 - co0) + 1e-9)
		printf "\n" }'
	plat_down
}

echo "== cpu shares ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), build $UF_BUILD, $(git rev-parse --short HEAD 2>/dev/null))"
echo "   fib($FIB_N) per event, $SECS s measured, $QUEUED events queued for each workflow"
run "" "cgroups"
run "cpu_cgroup=off" "no cgroups"
echo "   load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
