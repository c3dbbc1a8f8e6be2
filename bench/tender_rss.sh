#!/usr/bin/env bash
# bench/tender_rss.sh [BUILD_DIR] - what a unit's tender costs the host
# beside its guest's memory (issue 11 §4: memory admission counts each
# unit as its function's `memory` + UF_TENDER_OVERHEAD, common/admission.h).
#
# Brings up a private platform and runs one unit (min_units 1) of each
# function below as unifaasd starts it (the plain build: a static uf-hvt,
# its Redis backend, seccomp), feeds it events, and reads its tender's
# /proc/PID/smaps and status while it waits in its next pop:
#   guest_kib     Rss of the guest memory mapping (the `memory` bytes,
#                 mapped MAP_NORESERVE: only the pages the guest touched)
#   tender_kib    VmRSS minus guest_kib: the tender's own resident memory
#                 (its binary, heap, stacks, kvm_run, hiredis buffers)
#   peak_kib      VmHWM minus guest_kib: the tender's peak beside the
#                 guest's pages now resident (an upper bound of its own
#                 peak: the guest's pages only grow)
#   pte_kib       VmPTE: the page tables of the tender's address space
#                 (kernel memory, not in VmRSS)
# The VM's kernel structures (struct kvm, the vCPU, KVM's page tables of
# the guest) are not in any of these; they are estimated in RESULTS.md.
# A unit's teardown sibling (--fast-exit) shares the tender's address
# space: counted once.  Figures go in bench/RESULTS.md by hand.
set -uo pipefail
cd "$(dirname "$0")/.."
UF_BUILD=${1:-build}
export UF_BUILD
UF_TMP=$(mktemp -d /tmp/unifaas-tender-rss.XXXXXX)
export UF_TMP UF_SUITE=tender-rss UF_RESULTS=$UF_TMP/results
. tests/lib.sh
. tests/platform/lib.sh
N=${N:-2000}

plat_fn=$(build_guest tests/platform/platform_fn.c) || { echo "tender_rss.sh: platform_fn.c did not build" >&2; exit 1; }
lim_fn=$(build_guest tests/platform/limits_fn.c) || { echo "tender_rss.sh: limits_fn.c did not build" >&2; exit 1; }
trap 'plat_down; rm -rf "$UF_TMP"' EXIT
plat_up || { echo "tender_rss.sh: the platform did not come up: $(tail -3 "$UF_TMP/$UF_SUITE.up.log")" >&2; exit 1; }

# tender WF: the pid of the workflow's unit's tender (the leader of its process group)
tender() {
	local p
	for p in $(plat_pids "--consumer=$1\."); do
		[ "$(ps -o pgid= -p "$p" | tr -d ' ')" = "$p" ] && echo "$p" && return 0
	done
	return 1
}
# measure WF MEMORY_KIB: one line of figures of its tender
measure() {
	local pid=$1 mem=$2
	awk -v mem="$mem" '
		FILENAME ~ /smaps$/ && /^[0-9a-f]+-[0-9a-f]+ / { cur = 0 }
		FILENAME ~ /smaps$/ && $1 == "Size:" && $2 == mem { cur = 1 }
		FILENAME ~ /smaps$/ && $1 == "Rss:" && cur { guest += $2; cur = 0 }
		FILENAME ~ /status$/ && $1 == "VmRSS:" { rss = $2 }
		FILENAME ~ /status$/ && $1 == "VmHWM:" { hwm = $2 }
		FILENAME ~ /status$/ && $1 == "VmPTE:" { pte = $2 }
		END { printf "guest_kib %d tender_kib %d peak_kib %d pte_kib %d vmrss_kib %d vmhwm_kib %d\n",
		      guest, rss - guest, hwm - guest, pte, rss, hwm }' "/proc/$pid/smaps" "/proc/$pid/status"
}
# run NAME IMAGE MEMORY_MIB BATCH EVENTS_CMD: deploys NAME, feeds it what
# EVENTS_CMD prints (one event a line), waits until its queue is drained,
# and prints its tender's figures
run() {
	local wf=$1 img=$2 mib=$3 batch=$4 gen=$5 m pid
	m=$(manifest "$wf" <<EOF
name: $wf
functions:
  s:
    image: $img
    listen: in
    push: out
    memory: ${mib}MiB
    batch: $batch
    timeout_ms: 10000
    env: { OUT: out }
    scale: { min_units: 1, max_units: 1, idle_ms: 600000 }
EOF
)
	U deploy "$m" >/dev/null || { echo "$wf: not deployed: $(U deploy "$m" 2>&1)"; return; }
	wait_for 20 units_is "$wf" 1 || { echo "$wf: no unit"; return; }
	pid=$(tender "$wf") || { echo "$wf: no tender found"; return; }
	[ "$gen" = none ] || eval "$gen" | U push "$wf" in >/dev/null
	wait_for 120 drained "$wf" in s || echo "$wf: not drained in 120 s"
	sleep 0.5
	printf '%-12s memory_mib %-3s %s\n' "$wf" "$mib" "$(measure "$pid" $((mib * 1024)))"
	U undeploy "$wf" --purge >/dev/null 2>&1
	wait_for 20 not_deployed "$wf"
}

echo "tender RSS beside guest memory ($UF_BUILD, $(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null))"
run idle "$plat_fn" 8 64 none
run count "$plat_fn" 8 64 "seq $N"
run fdc "$UF_BIN/../functions/fdc.uf" 8 64 "for i in \$(seq $N); do echo open; done"
run fib "$UF_BIN/../functions/fib.uf" 8 64 "for i in \$(seq $N); do echo 20; done"
# the commit path's copies: each event stages 100 pushes of 1000 bytes
# (a batch of 64: 6.4 MB of staged records copied into the tender)
run pushes "$lim_fn" 64 64 "yes push:100:1000 | head -n 256"
# a 1 MiB KV value per event (value_bytes at its default)
run kvbig "$lim_fn" 64 64 "yes kv:1048576 | head -n 64"
