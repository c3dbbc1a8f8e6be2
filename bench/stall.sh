#!/usr/bin/env bash
# bench/stall.sh [BUILD_DIR] - the longest time one flooding workflow keeps
# Redis from answering anyone else (issue 11 §3, "no giant transactions").
#
# Brings up a private platform and runs each scenario with a PING loop
# beside it (bench/ping_probe.py: one PING at a time on the platform's Redis
# socket, from before the events are pushed until the workflow has settled
# them); prints the longest PING and the p99, and the longest command Redis
# itself recorded (LATENCY LATEST, "command", threshold 1 ms).  Scenarios:
#   idle      nothing runs: the baseline of this machine
#   flood     the issue's: 64 events in one batch, each pushing 43,000
#             1-byte events (limits_fn "push:43000:1").  Before limits (main
#             at ce767a6): one MULTI/EXEC of 2.75M XADDs.  With them: each
#             event goes past limits.writes_per_event (1000) and is
#             dead-lettered, nothing of it written
#   at-limit  64 events of 1000 pushes each (64,000): allowed, written in
#             chunks of at most limits.batch_commit_writes (1000) commands
#   raised    (builds with limits) the flood on a node that raised
#             limits.writes_per_event and batch_commit_writes to 43000: 64
#             MULTI/EXECs of 43,000 XADDs, what an operator buys with them
# Works with a build from before the limits (BUILD_DIR of main at
# ce767a6: `raised` is skipped there).  Figures go in bench/RESULTS.md by
# hand; nothing fails on a figure.
set -uo pipefail
cd "$(dirname "$0")/.."
UF_BUILD=${1:-build}
export UF_BUILD
UF_TMP=$(mktemp -d /tmp/unifaas-stall-bench.XXXXXX)
export UF_TMP UF_SUITE=stall-bench UF_RESULTS=$UF_TMP/results
. tests/lib.sh
. tests/platform/lib.sh
EVENTS=${EVENTS:-64} PUSHES=${PUSHES:-43000}

fn=$(build_guest tests/platform/limits_fn.c) || { echo "stall.sh: limits_fn.c did not build" >&2; exit 1; }
trap 'kill "$PROBE" 2>/dev/null; plat_down; rm -rf "$UF_TMP"' EXIT
PROBE=
has_limits() { "$UF_BIN/uf-hvt" --help 2>&1 | grep -q -- '--limit NAME=N'; }

probe_start() {
	R CONFIG SET latency-monitor-threshold 1 >/dev/null
	R LATENCY RESET >/dev/null
	nice -n -10 python3 bench/ping_probe.py "$PLAT_STATE/redis.sock" "$PLAT_STATE/redis.pass" >"$UF_TMP/probe.out" &
	PROBE=$!
	sleep 0.5
}
# probe_stop NAME: prints the scenario's line
probe_stop() {
	kill "$PROBE"
	wait "$PROBE"
	PROBE=
	local cmd
	cmd=$(R LATENCY LATEST | awk 'p=="command"{getline; getline; print; exit} {p=$0}')
	printf '%-9s %s redis_command_max_ms %s\n' "$1" "$(cat "$UF_TMP/probe.out")" "${cmd:-0}"
}

# flood NAME N P: a workflow whose one unit takes N events in one batch,
# each pushing P 1-byte events, pushed while no unit runs; waits until
# they are settled (written or dead-lettered)
flood() {
	local wf=$1 n=$2 p=$3 m
	m=$(manifest "$wf" <<EOM
name: $wf
functions:
  f:
    image: $fn
    listen: in
    push: o
    batch: 64
    retries: 0
    memory: 256MiB
    timeout_ms: 600000
    env: { OUT: o }
    scale: { max_units: 1, grace_ms: 0 }
EOM
)
	U deploy "$m" >/dev/null || { echo "stall.sh: deploy $wf failed: $(U deploy "$m" 2>&1)" >&2; return 1; }
	yes "push:$p:1" | head -n "$n" >"$UF_TMP/events"
	probe_start
	U push "$wf" in <"$UF_TMP/events" >/dev/null
	sleep 0.5
	wait_for 600 drained "$wf" in f || echo "stall.sh: $wf not settled in 600 s" >&2
	probe_stop "$wf"
	echo "          (queue o: $(R XLEN "uf:q:$wf:o") entries, dead letters: $(R XLEN "uf:dlq:$wf:in"))"
	U undeploy --purge "$wf" >/dev/null
}

echo "== stall ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, build $UF_BUILD, $(git rev-parse --short HEAD 2>/dev/null))"
plat_up || { echo "stall.sh: unifaas up failed" >&2; exit 1; }
probe_start
sleep 3
probe_stop idle
flood flood "$EVENTS" "$PUSHES"
flood at-limit "$EVENTS" 1000
plat_down
if has_limits; then
	PLAT_CONF=$'limits.writes_per_event=43000\nlimits.batch_commit_writes=43000'
	plat_up || { echo "stall.sh: unifaas up (raised limits) failed" >&2; exit 1; }
	flood raised "$EVENTS" "$PUSHES"
fi
