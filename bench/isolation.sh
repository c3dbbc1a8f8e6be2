#!/usr/bin/env bash
# bench/isolation.sh [BUILD_DIR] - the noisy-neighbour bench (issue 11 §5):
# a steady workflow's push-to-handled latency and throughput alone and
# beside each flooding workflow, in one run on one private platform.
#
# The steady workflow is fdc (tests/platform/steady_fn.c) fed RATE events/s
# (default 200) for SECS seconds (default 15) over the control API by
# tests/platform/steady_load.py.  Each handled event pushes its own id in
# its commit, so its latency is the commit's stream id minus the event's
# own, both Redis's clock, to the millisecond (push written -> commit
# written).  Phases: alone, then beside each flood of
# tests/platform/isolation_lib.sh (events, pushes, kv, never-pop, memory),
# each flood preceded by a phase alone, its baseline (this machine is
# shared and drifts by 2-8x in p99 from one minute to the next, so a
# baseline from the start of the run says little about its end).  Each
# line gives p50/p99/max, the throughput, lost and doubled events, the
# control API's p99 answer time for the steady pushes, each beside the
# baseline just before with the ratio, the share of the machine's CPU in use during the
# phase (everything: this run and other work), Redis's longest event of
# the phase (LATENCY LATEST at a 1 ms threshold; and the three slowest
# commands, from SLOWLOG, when any took over 50 ms) and where the flooder was
# held (describe's line naming the limit).  Target (issue 11): p99 at most
# 2x the baseline, no event lost.  Nothing fails on a figure; the figures
# go in bench/RESULTS.md by hand.  Each phase also prints the CPU each
# cgroup took (the workflows' units, the platform's servers: /metrics, when
# unifaasd runs with CPU cgroups; ISO_CONF=cpu_cgroup=off runs without).
# And where the steady latency goes (the breakdown): its split, push ->
# handler ran (the steady unit's read: Redis answering its XREADGROUP, the
# unit woken) and handler -> commit written (steady_fn.c records the
# handler's clock), and bench/isolation_probe.py's lines: Redis's PING
# answer p50/p99/max during the phase (the pinger under SCHED_FIFO) and, per process group (redis,
# unifaasd, each workflow's units), the CPU it used and the time it spent
# runnable waiting for a CPU (ms a second, and the mean wait each time it
# was scheduled: /proc/*/schedstat).
# The node: default max_units (32), unit_memory_budget 1 GiB, flooders'
# storage_quota ISO_QUOTA (32MiB), the event flood's ISO_EV_QUOTA (16MiB,
# reached within its phase of EV_SECS, 30 s), hogs of ISO_HOG_MEM (128) MiB.
set -uo pipefail
cd "$(dirname "$0")/.."
UF_BUILD=${1:-build}
export UF_BUILD
UF_TMP=$(mktemp -d /tmp/unifaas-isolation-bench.XXXXXX)
export UF_TMP UF_SUITE=isolation-bench UF_RESULTS=$UF_TMP/results
RATE=${RATE:-200} SECS=${SECS:-10} EV_SECS=${EV_SECS:-30}
ISO_QUOTA=${ISO_QUOTA:-32MiB} ISO_EV_QUOTA=${ISO_EV_QUOTA:-16MiB} ISO_HOG_MEM=${ISO_HOG_MEM:-128}
. tests/lib.sh
. tests/platform/lib.sh
. tests/platform/isolation_lib.sh

iso_build || { echo "isolation.sh: a guest did not build" >&2; exit 1; }
trap 'iso_flood_stop events >/dev/null 2>&1; plat_down; [ -n "${KEEP:-}" ] || rm -rf "$UF_TMP"' EXIT

cpu_mark() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
# cpu_busy MARK: the share of the machine's CPU in use since MARK, in %
cpu_busy() {
	local b0 t0 b1 t1
	read -r b0 t0 <<<"$1"
	read -r b1 t1 <<<"$(cpu_mark)"
	echo $(((b1 - b0) * 100 / (t1 - t0 + 1)))
}
field() { sed -n "s/.* $1=\([0-9.-]*\).*/\1/p; s/^$1=\([0-9.-]*\).*/\1/p" <<<"$2" | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'; }

# cpu_secs: "WF=SECONDS ..." and "platform=SECONDS", the CPU time each
# workflow's units and the platform's servers used so far (their cgroups:
# /metrics), nothing without CPU cgroups
cpu_secs() {
	curl -s --max-time 10 -H "Authorization: Bearer $(cat "$PLAT_STATE/api.token")" "http://127.0.0.1:$PLAT_API_PORT/metrics" |
		sed -n 's/^unifaas_workflow_cpu_seconds_total{workflow="\([^"]*\)"} \(.*\)/\1=\2/p; s/^unifaas_platform_cpu_seconds_total \(.*\)/platform=\1/p' | tr '\n' ' '
}
# cpu_share BEFORE AFTER SECS: each group's CPU in the interval, in % of one core
cpu_share() {
	awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, "="); t0[kv[1]] = kv[2] }
		n = split(b, y, " "); for (i = 1; i <= n; i++) { split(y[i], kv, "="); printf "%s%s %.0f%%", (i > 1 ? ", " : ""), kv[1], (kv[2] - t0[kv[1]]) * 100 / s } }'
}

# cmd_time BEFORE AFTER SECS: the top commands by the time Redis spent in
# them between two INFO commandstats, in ms a second of SECS, and calls a second
cmd_time() {
	awk -F'[:,=]' -v s="$3" 'FNR == NR && /^cmdstat_/ { c0[$1] = $3; u0[$1] = $5; next }
		/^cmdstat_/ { d = ($5 - u0[$1]) / 1000 / s; n = ($3 - c0[$1]) / s; if (d > 0.5) printf "%.0f %s %.0f ms/s (%.0f/s)\n", d, substr($1, 9), d, n }' "$1" "$2" |
		sort -rn | head -6 | cut -d' ' -f2- | paste -sd, | sed 's/,/, /g'
}

# phase NAME: one steady run; prints its line (ratios against BASE, the
# last phase alone; a phase alone sets it)
BASE=
phase() {
	local name=$1 mark line held=${2:-}
	mark=$(cpu_mark)
	local cg0 cg1 t0
	cg0=$(cpu_secs) t0=$(date +%s.%N)
	R INFO commandstats >"$UF_TMP/cmdstats.0"
	R CONFIG SET latency-monitor-threshold 1 >/dev/null
	R LATENCY RESET >/dev/null
	R CONFIG SET slowlog-log-slower-than "${ISO_SLOW_US:-5000}" >/dev/null
	R CONFIG SET slowlog-max-len 1024 >/dev/null
	R SLOWLOG RESET >/dev/null
	chrt -f 50 python3 bench/isolation_probe.py ping "$PLAT_STATE" "${PHASE_SECS:-$SECS}" >"$UF_TMP/ping.out" 2>&1 &
	local ping=$!
	python3 bench/isolation_probe.py sched "$PLAT_STATE" "${PHASE_SECS:-$SECS}" >"$UF_TMP/sched.out" 2>&1 &
	local probe=$!
	line=$(iso_steady "$RATE" "${PHASE_SECS:-$SECS}" 90 2>"$UF_TMP/steady.err")
	wait "$probe" "$ping"
	local busy p50 p99 mx thr lost dup push
	busy=$(cpu_busy "$mark")
	R INFO commandstats >"$UF_TMP/cmdstats.1"
	cg1=$(cpu_secs)
	# Redis's own longest event of the phase (LATENCY LATEST, threshold 1 ms)
	local rmax
	rmax=$(R --json LATENCY LATEST | python3 -c 'import json,sys; l=json.load(sys.stdin) or [["-",0,0,0]]; m=max(l, key=lambda e: e[3]); print("%s ms (%s)" % (m[3], m[0]))')
	p50=$(field p50_ms "$line") p99=$(field p99_ms "$line") mx=$(field max_ms "$line")
	thr=$(field throughput_per_s "$line") lost=$(field lost "$line") dup=$(field dup "$line")
	push=$(field push_p99_ms "$line")
	[ "$name" = alone ] && BASE=$line
	printf '%-11s p50 %4s ms (%s)  p99 %5s ms (%s)  max %5s ms  %6s ev/s (%s)  pushed %s lost %s dup %s  push p99 %6s ms (%s)  cpu %s%%  redis max %s\n' \
		"$name" "$p50" "$(ratio "$p50" "$(field p50_ms "$BASE")")" "$p99" "$(ratio "$p99" "$(field p99_ms "$BASE")")" "$mx" \
		"$thr" "$(ratio "$thr" "$(field throughput_per_s "$BASE")")" "$(field pushed "$line")" "$lost" "$dup" \
		"$push" "$(ratio "$push" "$(field push_p99_ms "$BASE")")" "$busy" "$rmax"
	printf '            split p50/p99 ms: push -> handler %s/%s, handler -> commit %s/%s; %s\n' \
		"$(field read_p50_ms "$line")" "$(field read_p99_ms "$line")" "$(field commit_p50_ms "$line")" \
		"$(field commit_p99_ms "$line")" "$(cat "$UF_TMP/ping.out")"
	echo "            runnable, waiting for a CPU: $(cat "$UF_TMP/sched.out")"
	[ -n "$cg1" ] && echo "            cpu by cgroup (% of one core): $(cpu_share "$cg0" "$cg1" "$(echo "$(date +%s.%N) - $t0" | bc)")"
	# Redis's time in commands during the phase, by command (INFO commandstats)
	echo "            redis in commands (ms a second): $(cmd_time "$UF_TMP/cmdstats.0" "$UF_TMP/cmdstats.1" "${PHASE_SECS:-$SECS}")"
	[ -s "$UF_TMP/steady.err" ] && sed 's/^/            /' "$UF_TMP/steady.err"
	# the commands Redis logged over ISO_SLOW_US (default 5 ms) by name
	# (EVALSHA/FCALL by their first key), the slowest three, and which client sent them
	R --json SLOWLOG GET 1024 | python3 -c '
import json, sys
l = json.load(sys.stdin) or []
by = {}
for e in l:
    a = e[3]
    k = a[0].upper() + (" " + a[3] if a[0].upper() in ("EVALSHA", "EVAL", "FCALL") and len(a) > 3 else "")
    n, t, m = by.get(k, (0, 0, 0))
    by[k] = (n + 1, t + e[2], max(m, e[2]))
if by:
    print("            redis commands over %s ms: %s" % (sys.argv[1], ", ".join("%s %d (max %.1f ms)" % (k, v[0], v[2] / 1000) for k, v in sorted(by.items(), key=lambda x: -x[1][1]))))
for e in sorted(l, key=lambda e: -e[2])[:3]:
    print("            redis slowlog: %.1f ms %s (client %s)" % (e[2] / 1000, " ".join(e[3][:4])[:80], e[5]))' "$(((${ISO_SLOW_US:-5000}) / 1000))"
	return 0
}

echo "== isolation ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), build $UF_BUILD, $(git rev-parse --short HEAD 2>/dev/null))"
echo "   steady: fdc at $RATE events/s for $SECS s a phase ($EV_SECS s beside the event flood); ratios against 'alone'${ISO_CONF:+; unifaasd.conf: $ISO_CONF}"
# ISO_CONF: more unifaasd.conf lines (cpu_cgroup=off: the same run without CPU cgroups)
PLAT_CONF=$(printf 'unit_memory_budget=1073741824\nquota_interval_ms=200\n%s' "${ISO_CONF:-}")
plat_up || { echo "isolation.sh: unifaas up failed: $(tail -3 "$UF_TMP/$UF_SUITE.up.log")" >&2; exit 1; }
iso_deploy_steady || { echo "isolation.sh: deploy steady failed" >&2; exit 1; }
iso_steady 50 2 >/dev/null 2>&1 # warm-up: a unit started, the first events handled
phase alone
for kind in $ISO_KINDS; do
	[ "$kind" = events ] || phase alone
	iso_flood_start "$kind" || continue
	# the event flood runs longer, so that it reaches its quota inside the phase
	if [ "$kind" = events ]; then PHASE_SECS=$EV_SECS phase "$kind"; else phase "$kind"; fi
	if h=$(iso_held "$kind"); then
		sed 's/^/            held: /' <<<"$h" | cut -c1-220
	else
		echo "            NOT held at a limit: $(cut -c1-300 <<<"$h")"
	fi
	[ -s "$UF_TMP/feed.$kind" ] && echo "            flood requests answered: $(iso_feed_codes "$kind")"
	iso_flood_stop "$kind"
done
phase alone
echo "   load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
