#!/usr/bin/env bash
# bench/edges.sh [BUILD_DIR] - the edges' benchmark of issue 9 (§5), one
# command: each edge beside its baseline measured in the same run.
#   HTTP ingress events/s (wrk, keep-alive) beside bare XADD on the same
#     Redis (bench/http_ingress.sh);
#   MQTT QoS 1 ingress messages/s beside mosquitto to a plain subscriber
#     (bench/mqtt_ingress.sh);
#   egress round trip (uf_http in the guest) beside curl to the same local
#     HTTPS server (bench/egress.sh).
# Each part brings up its own private platform and prints its figures and
# their ratio; this script prints them one after another, then the summary
# lines together.  Figures are recorded by hand in bench/RESULTS.md with the
# machine and the date; no figure fails anything.  `make bench-edges`.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
out=$(mktemp -d /tmp/unifaas-edges-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
for part in http_ingress mqtt_ingress egress; do
	echo "== $part"
	./bench/$part.sh "$B" 2>&1 | tee "$out/$part"
done
echo
echo "== summary ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -1))"
grep -h -E '^(HTTP ingress|bare XADD|ratio HTTP|targets)' "$out/http_ingress"
grep -h -E '^MQTT QoS 1' "$out/mqtt_ingress"
grep -h -E '^(per call|target)' "$out/egress"
