#!/usr/bin/env bash
# bench/http_ingress.sh [BUILD_DIR] - HTTP ingress requests/s (wrk, keep-alive)
# beside a bare XADD loop on the same Redis (redis-benchmark): the design's
# limit, since each accepted request is one XADD.
#
# Brings up a private platform, deploys a workflow with one route whose step
# never starts a unit (its image copy is removed after the deploy), so the
# figure is the ingress alone: wrk's requests go head -> token check ->
# XADD -> 202, and no unit competes for the two cores.  wrk: C keep-alive
# connections (default 16, within the per-address limit of 32) posting a
# BYTES-byte body (default 64) for D seconds (default 10), after a 2 s
# warm-up.  Baselines on the platform's Redis socket, the same payload:
# redis-benchmark XADD with C clients and no pipelining (each client one
# XADD at a time, as each HTTP connection has one request at a time) and
# with -P 16 (pipelined: the most XADDs Redis takes here).  Prints the
# three figures and the ratios; the issue's targets are >= 20000 events/s
# and >= 50% of the bare XADD figure.  Checks that wrk saw no error status
# and that the stream grew by at least what wrk counted.  Never fails on a
# slow figure.  Knobs: C, D, BYTES, N (redis-benchmark requests, 200000).
set -uo pipefail
cd "$(dirname "$0")/.."
UF_BUILD=${1:-build}
export UF_BUILD
UF_TMP=$(mktemp -d /tmp/unifaas-ingress-bench.XXXXXX)
export UF_TMP UF_SUITE=ingress-bench UF_RESULTS=$UF_TMP/results
C=${C:-16} D=${D:-10} BYTES=${BYTES:-64} N=${N:-200000}
. tests/lib.sh
. tests/platform/lib.sh
command -v wrk >/dev/null || { echo "http_ingress.sh: wrk not found (scripts/install-deps.sh installs it)" >&2; exit 1; }

fn=$(build_guest tests/platform/platform_fn.c) || { echo "http_ingress.sh: platform_fn.c did not build" >&2; exit 1; }
trap 'plat_down; rm -rf "$UF_TMP"' EXIT
plat_up || { echo "http_ingress.sh: unifaas up failed" >&2; exit 1; }
m=$(manifest ibench <<EOM
name: ibench
functions:
  s: { image: $fn, listen: in, scale: { max_units: 1 } }
ingress:
  http: [{ path: /in, queue: in }]
EOM
)
U deploy "$m" >/dev/null && rm -f "$PLAT_STATE/images/ibench/s.uf" || { echo "http_ingress.sh: deploy failed" >&2; exit 1; }
TOKEN=$(U token create ibench) || { echo "http_ingress.sh: token create failed" >&2; exit 1; }
BODY=$(head -c "$BYTES" /dev/zero | tr '\0' 'x')
cat >"$UF_TMP/post.lua" <<EOL
wrk.method = "POST"
wrk.body = "$BODY"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Content-Type"] = "application/octet-stream"
EOL
URL="http://127.0.0.1:$PLAT_INGRESS_PORT/ibench/in"
wrk -t1 -c"$C" -d2s -s "$UF_TMP/post.lua" "$URL" >/dev/null 2>&1 # warm-up
# CPU time (utime+stime, clock ticks) of a process
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
DPID=$(cat "$PLAT_STATE/unifaasd.pid") RPID=$(redis_pid)
before=$(R XLEN uf:q:ibench:in)
d0=$(ticks "$DPID") r0=$(ticks "$RPID") t0=$(date +%s%N)
wrk -t2 -c"$C" -d"${D}s" --latency -s "$UF_TMP/post.lua" "$URL" >"$UF_TMP/wrk.out" 2>&1
d1=$(ticks "$DPID") r1=$(ticks "$RPID") t1=$(date +%s%N)
after=$(R XLEN uf:q:ibench:in)
cat "$UF_TMP/wrk.out"
hz=$(getconf CLK_TCK)
cpu() { awk -v a="$1" -v b="$2" -v hz="$hz" -v ns=$((t1 - t0)) 'BEGIN {printf "%.0f%%", (b - a) / hz / (ns / 1e9) * 100}'; }
http=$(awk '/^Requests\/sec:/ {print $2}' "$UF_TMP/wrk.out")
reqs=$(awk '/requests in/ {print $1}' "$UF_TMP/wrk.out")
bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$UF_TMP/wrk.out")
[ -z "$bad" ] || echo "http_ingress.sh: WARNING: $bad responses were not 2xx" >&2
[ $((after - before)) -ge "${reqs:-0}" ] || echo "http_ingress.sh: WARNING: wrk counted $reqs, the stream grew by $((after - before))" >&2

# redis-benchmark's figure for one XADD of the same payload
xadd() {
	REDISCLI_AUTH=$(cat "$PLAT_STATE/redis.pass") redis-benchmark -s "$PLAT_STATE/redis.sock" -a "$(cat "$PLAT_STATE/redis.pass")" \
		-n "$N" -c "$C" -P "$1" -q XADD uf:bench:xadd '*' data "$BODY" 2>/dev/null |
		tr '\r' '\n' | awk '/requests per second/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) {print $i; exit}}'
}
x1=$(xadd 1)
x16=$(xadd 16)
R DEL uf:bench:xadd >/dev/null
echo
printf 'HTTP ingress (wrk -c%s, %s-byte body, keep-alive): %s requests/s (%s in %ss; stream +%s)\n' "$C" "$BYTES" "$http" "$reqs" "$D" "$((after - before))"
printf 'CPU during the wrk run (of one core): unifaasd %s, redis-server %s (wrk and the rest share the other)\n' "$(cpu "$d0" "$d1")" "$(cpu "$r0" "$r1")"
printf 'bare XADD, redis-benchmark -c%s -P1:  %s/s\n' "$C" "$x1"
printf 'bare XADD, redis-benchmark -c%s -P16: %s/s (pipelined: the design limit)\n' "$C" "$x16"
awk -v h="$http" -v a="$x1" -v b="$x16" 'BEGIN {
	printf "ratio HTTP / XADD -P1: %.2f; HTTP / XADD -P16: %.2f\n", h / a, h / b
	printf "targets: >= 20000 events/s (%s), >= 50%% of bare XADD (%s vs -P16)\n", (h >= 20000 ? "met" : "missed"), (h >= b / 2 ? "met" : "missed") }'
printf 'machine: %s, %s cores; load before: %s\n' "$(uname -srm)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
