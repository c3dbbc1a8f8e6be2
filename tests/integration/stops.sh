#!/usr/bin/env bash
# The daemon's own stops of a running unit - deploy --replace, undeploy,
# shutdown - are drains, as the stops at a limit are (fairness.sh): the
# unit commits the batch it is handling (nothing done twice), an event
# still in hand at unit_drain_ms is counted with the drain's cause in its
# reason (retried, then dead-lettered: nothing cycles uncounted), and the
# log says why.  Before, such a unit was sent SIGTERM: its handled,
# uncommitted batch was done again by the next unit and the event in hand
# re-queued uncounted, without a reason.  tests/platform/platform_fn.c:
# "hang" sleeps in the handler; ECHO prints each event it counts.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || { fail build "platform_fn.c did not build"; exit 0; }

PLAT_CONF="unit_drain_ms=20000"
plat_suite_up
pass up

# held_manifest NAME SPIN RETRIES: one step, one unit, batches of 8
held_manifest() {
	manifest "$1" <<EOF2
name: $1
functions:
  s:
    image: $fn
    listen: in
    timeout_ms: 0
    retries: $3
    batch: 8
    env: { ECHO: "1", SPIN: "$2" }
    scale: { max_units: 1, idle_ms: 600000 }
EOF2
}
# echoed WF: how many events the units of WF/s printed (one line each)
echoed() { U logs "$1/s" 2>/dev/null | grep -c 'event [0-9-]*: '; }
echoed_ge() { [ "$(echoed "$1")" -ge "$2" ]; }
# echoed_twice WF: the ids printed more than once (done again)
echoed_twice() { U logs "$1/s" 2>/dev/null | grep -o 'event [0-9-]*: ' | sort | uniq -d; }
log_has() { daemon_log | grep -Eq -- "$1"; }

# 1. deploy --replace while a unit handles a batch of 16 slow events: the
#    old unit is drained (SIGUSR1), commits its batch and ends; the new one
#    does the rest.  Every event is done once, none counted as failed.
m=$(held_manifest slow 300000000 3)
U deploy "$m" >/dev/null 2>&1 || fail deploy-slow "$(U deploy "$m" 2>&1)"
for i in $(seq 16); do echo "e$i"; done | U push slow in >/dev/null
if wait_for 60 echoed_ge slow 1; then
	out=$(U deploy --replace "$m" 2>&1) || fail replace-slow "$out"
	if wait_for 120 kv_is slow count 16; then
		sleep 1
		twice=$(echoed_twice slow)
		[ -z "$twice" ] && [ "$(kv slow count)" = 16 ] && [ "$(R HGET uf:stat:slow:s failed)" = "" ] &&
			pass replace-commits-batch-in-hand ||
			fail replace-commits-batch-in-hand "done twice: $(echo $twice), count $(kv slow count), failed $(R HGET uf:stat:slow:s failed)"
	else
		fail replace-commits-batch-in-hand "count $(kv slow count) (want 16): $(U ps | tail -3 | tr '\n' ' ')"
	fi
else
	fail replace-commits-batch-in-hand "no event handled: $(U ps | tail -3 | tr '\n' ' ')"
fi
log_has 'what=unit-stop unit=slow\.s\.1 .*cause=undeploy action=drain reason="workflow replaced \(deploy --replace\)"' &&
	pass replace-drain-logged || fail replace-drain-logged "$(daemon_log | grep 'slow\.s\.1' | tail -3)"
log_has 'what=unit-exit unit=slow\.s\.1 .*status=0 signal=0 by_daemon=1' &&
	pass replace-drained-unit-ends-cleanly || fail replace-drained-unit-ends-cleanly "$(daemon_log | grep 'slow\.s\.1' | tail -3)"

# 2. deploy --replace while a unit hangs in an event (retries 0): at
#    unit_drain_ms the event in hand is counted and dead-lettered with the
#    drain's cause; the three events handled before it in its batch are
#    handed back uncounted and done by the next unit.
m=$(held_manifest held 0 0)
U deploy "$m" >/dev/null 2>&1 || fail deploy-held "$(U deploy "$m" 2>&1)"
printf '%s\n' x x x hang | U push held in >/dev/null
if wait_for 60 echoed_ge held 3; then
	out=$(U deploy --replace "$m" 2>&1) || fail replace-held "$out"
	want='drain deadline: its unit was drained (its workflow undeployed or replaced) and was still handling it 20000 ms later (unit_drain_ms)'
	if wait_for 60 xlen_is uf:dlq:held:in 1 && wait_for 30 kv_is held count 3; then
		dl=$(R XRANGE uf:dlq:held:in - + | awk 'p=="data"{d=$0} p=="reason"{r=$0} {p=$0} END {print d ": " r}')
		[ "$dl" = "hang: $want" ] && [ "$(R HGET uf:stat:held:s failed)" = 1 ] && pass replace-counts-event-in-hand ||
			fail replace-counts-event-in-hand "dead letter '$dl', failed $(R HGET uf:stat:held:s failed)"
	else
		fail replace-counts-event-in-hand "$(R XLEN uf:dlq:held:in) dead letters (want 1), count $(kv held count) (want 3); pending: $(R XPENDING uf:q:held:in s | head -1)"
	fi
else
	fail replace-counts-event-in-hand "the unit did not reach the hanging event: $(echoed held) events printed"
fi

# 3. shutdown ('unifaas down') drains too: a unit hanging in an event is
#    told to end at unit_drain_ms, the event counted (log: end-now); down
#    waits for that (unit_drain_ms + 1 s + 10 s) instead of killing unifaasd
printf '%s\n' hang | U push held in >/dev/null
wait_for 30 holds held in s || fail shutdown-hold "no unit holds the event: $(U ps | tail -3 | tr '\n' ' ')"
out=$(U down 2>&1)
grep -qx 'unifaasd: stopped (pid [0-9]*)' <<<"$out" && pass down-waits-for-drain || fail down-waits-for-drain "$out"
log_has 'what=unit-stop unit=held\.s\.[0-9]+ .*cause=shutdown action=drain reason="unifaasd is shutting down"' &&
	log_has 'what=unit-stop unit=held\.s\.[0-9]+ .*action=end-now reason="unifaasd is shutting down; still busy after 20000 ms' &&
	pass shutdown-drains-units || fail shutdown-drains-units "$(daemon_log | grep -E 'unit-stop|shutdown' | tail -4)"
