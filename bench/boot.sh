#!/usr/bin/env bash
# bench/boot.sh BUILD_DIR - the unifaas boot benchmark (`make bench` runs it).
#
# Builds the C harness (bench/boot_bench.c) and the baselines (functions/hello.c
# as a static musl binary, and a minimal runc bundle holding only that binary),
# then runs the harness: start-to-exit of hello.uf (by uf-hvt, and by
# `unifaas run`, which execs it), boot-to-ready of fib.uf,
# the same hello under fork+exec and under `runc run`, the RSS of an idle unit
# and the image sizes.  Raw samples and the full output go to bench/out/; the
# summary is printed, and the "Latest run" section of bench/RESULTS.md is
# rewritten.  A benchmark never fails on a slow figure: it only prints.
#
# Knobs (environment): RUNS (default 1000), RUNC_RUNS (200), WARMUP (10),
# RSS_RUNS (5), ORDER=blocks to run each experiment back to back instead of
# interleaved, NO_RESULTS=1 to leave bench/RESULTS.md alone.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
OUT=$PWD/bench/out
WORK=$BUILD/bench
RUNS=${RUNS:-1000}
RUNC_RUNS=${RUNC_RUNS:-200}
WARMUP=${WARMUP:-10}
RSS_RUNS=${RSS_RUNS:-5}
ORDER_ARGS=()
[ "${ORDER:-interleaved}" = blocks ] && ORDER_ARGS=(--blocks)
CC=${CC:-cc}

HVT=$BUILD/bin/uf-hvt
UNIFAAS=$BUILD/bin/unifaas
HELLO=$BUILD/functions/hello.uf
FIB=$BUILD/functions/fib.uf
for f in "$HVT" "$UNIFAAS" "$HELLO" "$FIB"; do
	[ -e "$f" ] || { echo "boot.sh: $f is missing: run make first" >&2; exit 2; }
done

mkdir -p "$OUT" "$WORK/snap"
rm -f "$OUT"/*.tsv "$OUT"/*.txt "$OUT"/*.md

# Benchmark a snapshot, so that a rebuild of BUILD during the run changes nothing.
# The CLI's front runs the tender linked into it (an exec of this uf-hvt only
# with UNIFAAS_TENDER set); both are copied so a rebuild changes neither.
cp "$HVT" "$UNIFAAS" "$HELLO" "$FIB" "$WORK/snap/"
HVT=$WORK/snap/uf-hvt
UNIFAAS=$WORK/snap/unifaas
HELLO=$WORK/snap/hello.uf
FIB=$WORK/snap/fib.uf

# The harness, and hello.c as a static Linux binary (it only uses printf).
$CC -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE bench/boot_bench.c -o "$WORK/boot_bench"
musl-gcc -static -O2 functions/hello.c -o "$WORK/hello-static"

# A minimal OCI bundle: rootfs holds only the static binary; config.json is
# `runc spec` with args = /hello and terminal = false.
RUNC_ARGS=()
RUNC=$(command -v runc || true)
if [ -n "$RUNC" ] && [ "$(id -u)" -eq 0 ]; then
	B=$WORK/runc-bundle
	rm -rf "$B"
	mkdir -p "$B/rootfs"
	cp "$WORK/hello-static" "$B/rootfs/hello"
	(cd "$B" && "$RUNC" spec)
	sed -i -e 's/"terminal": true/"terminal": false/' -e 's/^\(\s*\)"sh"$/\1"\/hello"/' "$B/config.json"
	if grep -q '"terminal": false' "$B/config.json" && grep -q '"/hello"' "$B/config.json" &&
		"$RUNC" run --bundle "$B" "ufbench-check-$$" </dev/null >/dev/null 2>"$OUT/runc-check.txt"; then
		RUNC_ARGS=(--runc "$RUNC" --bundle "$B")
	else
		echo "boot.sh: runc cannot run the bundle (see bench/out/runc-check.txt); no runc baseline" >&2
	fi
else
	echo "boot.sh: runc baseline needs runc and root; skipped" >&2
fi

# Other work on the machine inflates every figure: say so before starting.
cpu_busy_pct() {
	local a b
	read -r _ a1 a2 a3 a4 a5 a6 a7 a8 _ </proc/stat
	sleep 1
	read -r _ b1 b2 b3 b4 b5 b6 b7 b8 _ </proc/stat
	a=$((b1 + b2 + b3 + b6 + b7 + b8 - a1 - a2 - a3 - a6 - a7 - a8))
	b=$((a + b4 + b5 - a4 - a5))
	echo $((b > 0 ? 100 * a / b : 0))
}
BUSY=$(cpu_busy_pct)
if [ "$BUSY" -gt 10 ]; then
	echo "boot.sh: WARNING: the machine is ${BUSY}% busy before the benchmark starts; figures will be inflated" >&2
	ps -eo pid,pcpu,etime,args --sort=-pcpu | head -6 >&2
fi

if [ -d /sys/module/kvm_pvm ]; then
	KVM_KIND="KVM through kvm_pvm (PVM: nested, the host is itself a VM; hypercall exits ~37 us, VM creation ~0.5 ms)"
elif grep -qw hypervisor /proc/cpuinfo; then
	KVM_KIND="nested KVM (the host is itself a VM)"
else
	KVM_KIND="KVM on bare metal"
fi

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "kvm: $KVM_KIND"
	echo "cpu busy before start: ${BUSY}% (1 s sample); loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "nproc: $(nproc)"
	echo "cpu: $(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1)"
	echo "kernel: $(uname -r)"
	echo "uf-hvt: $HVT ($(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
} >"$OUT/machine.txt"

"$WORK/boot_bench" --hvt "$HVT" --unifaas "$UNIFAAS" --hello "$HELLO" --fib "$FIB" --static "$WORK/hello-static" \
	"${RUNC_ARGS[@]}" --out "$OUT" --runs "$RUNS" --runc-runs "$RUNC_RUNS" --warmup "$WARMUP" \
	--rss-runs "$RSS_RUNS" "${ORDER_ARGS[@]}" --md "$OUT/summary.md" | tee "$OUT/summary.txt"
echo
cat "$OUT/machine.txt"
echo "raw samples: bench/out/*.tsv"

[ "${NO_RESULTS:-0}" = 1 ] && exit 0

# Rewrite the section between the markers in bench/RESULTS.md; the rest of the
# file (notes, analysis) is left as it is.
RES=bench/RESULTS.md
BEGIN='<!-- boot.sh: latest run begins -->'
END='<!-- boot.sh: latest run ends -->'
SECTION=$(mktemp)
{
	echo "$BEGIN"
	echo "## Latest run"
	echo
	echo "- Date: $(sed -n 's/^date: //p' "$OUT/machine.txt")"
	echo "- Machine: $(nproc) cores, $(sed -n 's/^cpu: //p' "$OUT/machine.txt"), kernel $(uname -r), $KVM_KIND"
	echo "- Tree: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- tender guest include 2>/dev/null || echo ' (tender/guest modified)')"
	echo "- Runs: $RUNS per experiment ($((RUNS / 2)) for --no-seccomp), $RUNC_RUNS runc, $RSS_RUNS idle units;" \
		"$WARMUP warm-up runs discarded each (3 for runc); ${ORDER:-interleaved}"
	echo
	cat "$OUT/summary.md"
	echo "$END"
} >"$SECTION"
if [ -f "$RES" ] && grep -qF "$BEGIN" "$RES" && grep -qF "$END" "$RES"; then
	awk -v b="$BEGIN" -v e="$END" -v f="$SECTION" '
		$0 == b { while ((getline l < f) > 0) print l; skip = 1; next }
		$0 == e { skip = 0; next }
		!skip { print }' "$RES" >"$RES.tmp"
	mv "$RES.tmp" "$RES"
else
	{ [ -f "$RES" ] && cat "$RES" && echo; cat "$SECTION"; } >"$RES.tmp"
	mv "$RES.tmp" "$RES"
fi
rm -f "$SECTION"
echo "bench/RESULTS.md updated"
