#!/usr/bin/env bash
# The noisy-neighbour test (issue 11 §5), on a real platform of 8 unit
# slots and a unit memory budget of 256 MiB: the steady workflow (fdc,
# tests/platform/steady_fn.c) fed at 50 events/s for 3 s over the control
# API, alone and then beside each flooding workflow of
# tests/platform/isolation_lib.sh (events, pushes, KV bytes, units that
# never pop, memory hogs).  Each round passes when every steady event was
# handled exactly once (its id in the commit record `done`; fdc-count grows
# by exactly the events pushed) and the flooder is held at its limit, with
# `unifaas describe` and the daemon's log naming the limit.  Latencies and
# throughputs are printed, never judged (bench/isolation.sh measures them).
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"
. "$UF_TOP/tests/platform/isolation_lib.sh"

iso_build || { fail build "a guest of the isolation test did not build"; exit 0; }
# ISO_CONF: more unifaasd.conf lines (e.g. a limit raised out of the way, to
# see the test fail)
PLAT_CONF=$(printf 'max_units=8\nunit_memory_budget=268435456\nquota_interval_ms=200\n%s' "${ISO_CONF:-}")
plat_suite_up
trap 'iso_flood_stop events >/dev/null 2>&1; plat_cleanup' EXIT
pass up
ISO_QUOTA=2MiB
ISO_HOG_MEM=32
iso_deploy_steady || { fail deploy-steady "$(U deploy "$UF_TMP/steady.yaml" 2>&1)"; exit 0; }
RATE=50 SECS=3

# steady_round NAME: the steady load; passes when nothing is lost or doubled
steady_round() {
	local name=$1 c0 line n
	c0=$(kv steady fdc-count) && c0=${c0:-0}
	line=$(iso_steady "$RATE" "$SECS" 60 2>"$UF_TMP/steady.err")
	echo "  $name: $line" >&2
	n=$(sed -n 's/.*pushed=\([0-9]*\).*/\1/p' <<<"$line")
	if [ -n "$n" ] && [ "$n" -eq $((RATE * SECS)) ] && grep -q " refused=0 handled=$n lost=0 dup=0 " <<<"$line" &&
		wait_for 30 kv_is steady fdc-count $((c0 + n)); then
		pass "$name-steady-all-handled"
	else
		fail "$name-steady-all-handled" "$line; fdc-count $(kv steady fdc-count) (want $((c0 + n))); $(cat "$UF_TMP/steady.err")"
	fi
}

steady_round alone
for kind in $ISO_KINDS; do
	iso_flood_start "$kind" || {
		fail "$kind-flood-started" "see above"
		continue
	}
	steady_round "$kind"
	# the quota is measured every quota_interval_ms: give the flooder time to reach it
	if wait_for 60 iso_held "$kind"; then
		pass "$kind-flooder-held"
		iso_held "$kind" | sed 's/^/    /' >&2
	else
		fail "$kind-flooder-held" "$(iso_held "$kind")"
	fi
	[ -s "$UF_TMP/feed.$kind" ] && echo "    feeder answers: $(iso_feed_codes "$kind")" >&2
	iso_flood_stop "$kind"
done
steady_round alone-after
check daemon-alive kill -0 "$(cat "$PLAT_STATE/unifaasd.pid")"
