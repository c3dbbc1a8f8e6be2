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

# held_manifest NAME SPIN RETRIES [RETRY_DELAY_MS]: one step, one unit, batches of 8
held_manifest() {
	manifest "$1" <<EOF2
name: $1
functions:
  s:
    image: $fn
    listen: in
    timeout_ms: 0
    retries: $3
    retry_delay_ms: ${4:-0}
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
wait_for 30 log_has 'what=unit-exit unit=slow\.s\.1 .*status=0 signal=0 by_daemon=1' &&
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

# ---- undeploy (drainacl: keep these checks in this block) ----
# Undeploy drains the units and keeps the workflow's Redis user until the
# last of them has ended: a unit commits the batch it handled, nothing is
# re-queued and nothing is done again when the workflow is deployed again.
# Then the user goes (ACL DELUSER) and the delayed events join the queues.
# Before, the user was deleted at once: the batch could not be committed,
# its events were re-queued ("workflow undeployed") and handled again.
# acl_user WF: the workflow's Redis ACL user exists
acl_user() { R ACL LIST | grep -q "^user uf-wf-$1 "; }
no_acl_user() { ! acl_user "$1"; }
# entries WF: the data of each entry of WF's queue "in", oldest first
entries() { R XRANGE "uf:q:$1:in" - + | awk 'p=="data"{printf "%s ", $0} {p=$0}'; }
entries_is() { [ "$(entries "$1")" = "$2" ]; }
# handled_twice WF: the data of the events WF/s counted more than once
handled_twice() { U logs "$1/s" 2>/dev/null | grep -o 'event [0-9-]*: .*' | sed 's/^event [0-9-]*: //' | sort | uniq -d; }
handled() { U logs "$1/s" 2>/dev/null | grep -q "^.*event [0-9-]*: $2\$"; }
unit_exit_logged() { log_has "what=unit-exit unit=$1\\.s\\.$2 "; }
# undeploy_manifest NAME RETRIES: held_manifest's, a failure waits an hour
undeploy_manifest() { held_manifest "$1" 0 "$2" 3600000; }

# (a) started first, judged after (c) (it takes unit_drain_ms): a unit hanging
#     in an event when its workflow is undeployed is told to end at
#     unit_drain_ms and settles its batch itself, the user still there: the
#     event in hand is counted and dead-lettered (retries 0) with the
#     drain's cause, as for deploy --replace (before, without its user, it
#     could not: the daemon re-queued the whole batch uncounted)
mh=$(undeploy_manifest undh 0)
U deploy "$mh" >/dev/null 2>&1 || fail deploy-undh "$(U deploy "$mh" 2>&1)"
printf '%s\n' x hang | U push undh in >/dev/null
undh_ok=
if wait_for 60 echoed_ge undh 1 && wait_for 30 holds undh in s; then
	out=$(U undeploy undh 2>&1) && undh_ok=1 || fail undeploy-undh "$out"
else
	fail undeploy-deadline-counts-event-in-hand "the unit did not reach the hanging event: $(echoed undh) events printed"
fi

# (b) the unit holds its batch (wait:go, last) when its workflow is
#     undeployed; it is released through the kept KV (R SET)
m=$(undeploy_manifest und 3)
U deploy "$m" >/dev/null 2>&1 || fail deploy-und "$(U deploy "$m" 2>&1)"
printf '%s\n' u1 u2 fail u3 wait:go | U push und in >/dev/null
if wait_for 60 echoed_ge und 3 && wait_for 30 holds und in s; then
	out=$(U undeploy und 2>&1) || fail undeploy-und "$out"
	acl_user und && holds und in s && pass undeploy-keeps-user-while-draining ||
		fail undeploy-keeps-user-while-draining "user: $(R ACL LIST | grep -c 'uf-wf-und '), pending $(R XPENDING uf:q:und:in s | head -1)"
	# as api.md and cli.md say: ps lists deployed workflows' units only;
	# the draining one is counted in status's units (it holds its slot)
	st_units=$(U status --json | python3 -c "import json,sys; print(json.load(sys.stdin)['units'])")
	[ "$(units und)" = 0 ] && [ "$st_units" -ge 1 ] && holds und in s && pass undeploy-draining-unit-counted ||
		fail undeploy-draining-unit-counted "ps lists $(units und) unit(s) of und (want 0), status units '$st_units' (want >= 1)"
	R SET uf:kv:und:go 1 >/dev/null
	if wait_for 60 unit_exit_logged und 1 && wait_for 30 no_acl_user und; then
		pass undeploy-user-gone-after-units
	else
		fail undeploy-user-gone-after-units "user: $(R ACL LIST | grep -c 'uf-wf-und '); $(daemon_log | grep 'und\.s\.1' | tail -2)"
	fi
	# the retry of "fail" (it waited in uf:delay) joins the queue after
	# DELUSER; nothing else is added: the batch was committed
	want='u1 u2 fail u3 wait:go fail '
	if wait_for 30 entries_is und "$want"; then
		twice=$(handled_twice und)
		[ "$(kv und count)" = 3 ] && [ -z "$twice" ] && [ "$(R XLEN uf:dlq:und:in)" = 0 ] &&
			[ "$(R HGET uf:stat:und:s failed)" = 1 ] && [ "$(R ZCARD uf:delay:und:in)" = 0 ] &&
			[ "$(R XPENDING uf:q:und:in s | head -1)" = 0 ] && ! log_has 'what=settle unit=und\.s\.1 ' &&
			pass undeploy-commits-batch-in-hand ||
			fail undeploy-commits-batch-in-hand "count $(kv und count) (want 3), twice: $(echo $twice), $(R XLEN uf:dlq:und:in) dead, failed $(R HGET uf:stat:und:s failed), delayed $(R ZCARD uf:delay:und:in); $(daemon_log | grep 'what=settle unit=und\.s\.1' | tail -1)"
	else
		fail undeploy-commits-batch-in-hand "queue: '$(entries und)' (want '$want'); $(daemon_log | grep 'what=settle unit=und\.s\.1' | tail -1)"
	fi
	# deployed again: the next event is the only one counted (the retry of
	# "fail" fails again, uncounted in KV)
	U deploy "$m" >/dev/null 2>&1 || fail redeploy-und "$(U deploy "$m" 2>&1)"
	echo after | U push und in >/dev/null
	if wait_for 60 handled und after; then
		wait_for 30 kv_is und count 4 # printed before its commit: counted once committed
		twice=$(handled_twice und)
		[ "$(kv und count)" = 4 ] && [ -z "$twice" ] && pass redeploy-handles-nothing-again ||
			fail redeploy-handles-nothing-again "count $(kv und count) (want 4), handled twice: $(echo $twice)"
	else
		fail redeploy-handles-nothing-again "'after' not handled: $(U ps | tail -2 | tr '\n' ' ')"
	fi
	# a purge deletes the user at once, its unit still running: a unit
	# still ending cannot write what the purge deleted
	out=$(U undeploy und --purge 2>&1) || fail purge-und "$out"
	no_acl_user und && pass purge-deletes-user-at-once ||
		fail purge-deletes-user-at-once "user still there after the purge answered"
else
	fail undeploy-commits-batch-in-hand "the unit did not reach wait:go: $(echoed und) events printed"
fi

# (c) deployed again while the undeployed unit still drains: the two share
#     the user (as with deploy --replace), so both work: the old unit
#     commits its batch after the new deploy set the user, and its end does
#     not delete the new deployment's user.  (go is set right after the
#     deploy, far inside unit_drain_ms however loaded the machine is.)
m=$(undeploy_manifest unds 3)
U deploy "$m" >/dev/null 2>&1 || fail deploy-unds "$(U deploy "$m" 2>&1)"
printf '%s\n' s1 wait:go | U push unds in >/dev/null
if wait_for 60 echoed_ge unds 1 && wait_for 30 holds unds in s; then
	out=$(U undeploy unds 2>&1) || fail undeploy-unds "$out"
	out=$(U deploy "$m" 2>&1) || fail redeploy-unds "$out"
	R SET uf:kv:unds:go 1 >/dev/null
	echo s2 | U push unds in >/dev/null
	if ! wait_for 60 unit_exit_logged unds 1; then
		fail redeploy-while-draining "the old unit did not end: $(daemon_log | grep 'unds\.s\.1' | tail -2)"
	else
		echo s3 | U push unds in >/dev/null
		if wait_for 60 handled unds s2 && wait_for 60 handled unds s3; then
			wait_for 30 kv_is unds count 3 # printed before its commit: counted once committed
			twice=$(handled_twice unds)
			[ "$(kv unds count)" = 3 ] && [ -z "$twice" ] && acl_user unds && [ "$(R XLEN uf:q:unds:in)" = 4 ] &&
				! log_has 'what=settle unit=unds\.s\.1 ' && pass redeploy-while-draining ||
				fail redeploy-while-draining "count $(kv unds count) (want 3), twice: $(echo $twice), user $(R ACL LIST | grep -c 'uf-wf-unds '), $(R XLEN uf:q:unds:in) entries (want 4); $(daemon_log | grep 'what=settle unit=unds\.s\.1' | tail -1)"
		else
			fail redeploy-while-draining "s2, s3 not handled by the new deployment: $(U ps | tail -2 | tr '\n' ' ')"
		fi
	fi
	U undeploy unds --purge >/dev/null 2>&1
else
	fail redeploy-while-draining "the unit did not reach wait:go: $(echoed unds) events printed"
fi

# (a), judged
if [ -n "$undh_ok" ]; then
	want='drain deadline: its unit was drained (its workflow undeployed or replaced) and was still handling it 20000 ms later (unit_drain_ms)'
	if wait_for 60 xlen_is uf:dlq:undh:in 1 && wait_for 30 no_acl_user undh; then
		dl=$(R XRANGE uf:dlq:undh:in - + | awk 'p=="data"{d=$0} p=="reason"{r=$0} {p=$0} END {print d ": " r}')
		[ "$dl" = "hang: $want" ] && [ "$(R HGET uf:stat:undh:s failed)" = 1 ] &&
			pass undeploy-deadline-counts-event-in-hand ||
			fail undeploy-deadline-counts-event-in-hand "dead letter '$dl', failed $(R HGET uf:stat:undh:s failed)"
	else
		fail undeploy-deadline-counts-event-in-hand "$(R XLEN uf:dlq:undh:in) dead letters (want 1), user $(R ACL LIST | grep -c 'uf-wf-undh '); $(daemon_log | grep 'undh\.s\.1' | tail -2)"
	fi
fi
# (d) last, once (a) is judged: unifaasd killed (-9) while an undeployed
#     unit drains: the next one kills the unit (cleanup) and deletes the
#     kept workflow's user, which Redis (not restarted) still had
m=$(undeploy_manifest undr 3)
U deploy "$m" >/dev/null 2>&1 || fail deploy-undr "$(U deploy "$m" 2>&1)"
echo wait:go | U push undr in >/dev/null
if wait_for 60 holds undr in s; then
	out=$(U undeploy undr 2>&1) || fail undeploy-undr "$out"
	undr_kept=$(acl_user undr && echo yes)
	dpid=$(cat "$PLAT_STATE/unifaasd.pid")
	kill -9 "$dpid"
	dgone() { ! kill -0 "$dpid" 2>/dev/null; }
	wait_for 15 dgone || fail restart-deletes-kept-user "unifaasd $dpid still there after kill -9"
	U up >/dev/null 2>&1 || fail restart-undr-up "$(tail -3 "$PLAT_STATE/logs/unifaasd.log")"
	[ "$undr_kept" = yes ] && wait_for 30 no_acl_user undr && log_has 'what=cleanup unit=undr\.s\.1 .*action=killed' &&
		pass restart-deletes-kept-user ||
		fail restart-deletes-kept-user "user kept while draining: ${undr_kept:-no}, now: $(R ACL LIST | grep -c 'uf-wf-undr '); $(daemon_log | grep 'undr' | tail -2)"
else
	fail restart-deletes-kept-user "the unit did not hold wait:go"
fi

# ---- end of the undeploy block ----

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
