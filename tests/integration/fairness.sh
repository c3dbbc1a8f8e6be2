#!/usr/bin/env bash
# No workflow can take the node's unit slots or memory from the others
# (issue 11 §1, §4), on a real platform with a node of 4 unit slots.  Each
# scenario runs an offender beside the eval workflow (fdc -> door-log) and
# ends with every eval event handled (exact counts: none lost) and the
# offender held at its limit, with a message naming the limit in `ps`,
# `describe` and the daemon's log.  tests/platform/slots_fn.c misbehaves:
# units that never pop (MODE=sleep), that take memory and never pop
# (MODE=hog); platform_fn.c's "hang" event sleeps in the handler.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

slots_fn=$(build_guest "$UF_TOP/tests/platform/slots_fn.c") || { fail build "slots_fn.c did not build"; exit 0; }
fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || { fail build "platform_fn.c did not build"; exit 0; }

# eval_round N: N door openings through eval, all counted by fdc and door-log
# (the counts grow by exactly N: nothing lost, nothing counted twice)
eval_round() {
	local n=$1 name=$2 f0 d0
	f0=$(kv eval fdc-count) && f0=${f0:-0}
	d0=$(kv eval door-log-count) && d0=${d0:-0}
	for i in $(seq "$n"); do echo open; done | U push eval fridge-door >/dev/null
	if wait_for 180 kv_is eval fdc-count $((f0 + n)) && wait_for 60 kv_is eval door-log-count $((d0 + n)); then
		pass "$name"
	else
		fail "$name" "fdc-count $(kv eval fdc-count) (want $((f0 + n))), door-log-count $(kv eval door-log-count) (want $((d0 + n))); $(U ps | tail -8 | tr '\n' ' ')"
	fi
}
# deploy_wf NAME: deploys the manifest on stdin as workflow NAME (the test
# deploy-NAME fails with the CLI's message when it is refused)
deploy_wf() {
	local m out
	m=$(manifest "$1") && out=$(U deploy "$m" 2>&1) || fail "deploy-$1" "$out"
}
# refused_wf NAME TEST TEXT: the manifest on stdin is refused at deploy
# with a message holding TEXT (test TEST)
refused_wf() {
	local m out
	m=$(manifest "$1")
	if out=$(U deploy "$m" 2>&1); then
		fail "$2" "deployed: $out"
	else
		grep -qF -- "$3" <<<"$out" && pass "$2" || fail "$2" "$out"
	fi
}
# gone_wf NAME: undeploys NAME with its data, and waits until it is gone
gone_wf() {
	U undeploy "$1" --purge >/dev/null 2>&1
	wait_for 60 not_deployed "$1"
}
# never_pop NAME [SHARE]: deploys NAME (manifest share SHARE, default 1):
# a function whose main() sleeps and never pops, max_units 32, one unit
# wanted per event, with 50 events queued
never_pop() {
	deploy_wf "$1" <<EOF
name: $1
max_units: 32
share: ${2:-1}
functions:
  s:
    image: $slots_fn
    listen: in
    env: { MODE: sleep }
    scale: { max_units: 32, events_per_unit: 1, idle_ms: 600000 }
EOF
	for i in $(seq 50); do echo x; done | U push "$1" in >/dev/null
}
# log_has ERE: the daemon's log has a line matching ERE
log_has() { daemon_log | grep -Eq -- "$1"; }
ps_has() { U ps | grep -Fq -- "$1"; }
starts_of() { U describe "$1" --json | python3 -c "import json,sys; print(sum(s['starts'] for s in json.load(sys.stdin)['steps']))"; }

# --- node of 4 unit slots: equal shares of 2 for two workflows ------------
PLAT_CONF="max_units=4"
plat_suite_up
pass up
U deploy "$UF_TOP/workflows/eval.yaml" >/dev/null 2>&1 || fail deploy-eval "$(U deploy "$UF_TOP/workflows/eval.yaml" 2>&1)"

# 1. The issue's case: a function whose main() sleeps and never pops,
#    max_units 32, with work queued: it takes every slot of the node (2 of
#    them borrowed); eval's work takes its share back.
never_pop sleeper
wait_for 60 units_is sleeper 4 && pass sleeper-borrows-idle-slots || fail sleeper-borrows-idle-slots "$(U ps)"
eval_round 300 never-pop-beside-eval-handled
if log_has 'what=unit-stop unit=sleeper\.s\.[0-9]+ .*limit=reclaim .*slot taken back for workflow eval'; then
	pass never-pop-slot-taken-back-log
else
	fail never-pop-slot-taken-back-log "$(daemon_log | grep -E 'unit-stop|slot-reclaim' | tail -3)"
fi
U describe sleeper >"$UF_TMP/desc.out"
grep -Eq '^  stopped: .* unit sleeper\.s\.[0-9]+ stopped: slot taken back for workflow eval' "$UF_TMP/desc.out" &&
	pass never-pop-describe-says-why || fail never-pop-describe-says-why "$(cat "$UF_TMP/desc.out")"
ps_has "sleeper/s: last stop: unit sleeper.s." && pass never-pop-ps-says-why || fail never-pop-ps-says-why "$(U ps)"
# once eval is idle again (its units leave after idle_ms), the sleeper may borrow the slots again
wait_for 60 units_is sleeper 4 && pass sleeper-borrows-again || fail sleeper-borrows-again "$(U ps)"
gone_wf sleeper

# 1b. min_units: 4 of a function that pops (its units wait in a pop of
#     idle_ms 600000): the units beyond its share are taken back for eval;
#     one waiting in its pop ends at once when drained (status 0, not killed)
deploy_wf warm <<EOF
name: warm
functions:
  s:
    image: $fn
    listen: in
    scale: { min_units: 4, max_units: 4, idle_ms: 600000 }
EOF
wait_for 60 units_is warm 4 && pass min-units-take-the-node || fail min-units-take-the-node "$(U ps)"
eval_round 300 min-units-beside-eval-handled
if log_has 'what=unit-stop unit=warm\.s\.[0-9]+ .*limit=reclaim action=drain'; then
	u=$(daemon_log | grep -E 'what=unit-stop unit=warm\.s\.[0-9]+ .*limit=reclaim' | head -1 | sed -E 's/.*unit=(warm\.s\.[0-9]+) .*/\1/')
	log_has "what=unit-exit unit=${u//./\\.} .*status=0 signal=0 by_daemon=1" && pass min-units-drained-cleanly ||
		fail min-units-drained-cleanly "$(daemon_log | grep -F "unit=$u " | tail -3)"
else
	fail min-units-drained-cleanly "no reclaim: $(daemon_log | grep -E 'unit-stop|slot-reclaim' | tail -3)"
fi
gone_wf warm

# 1c. Weighted shares (manifest `share`): a workflow of share 3 beside
#     eval (share 1) is guaranteed 3 of the 4 slots (4 x 3/4); it borrows
#     the 4th while eval is idle, and eval's work takes back only that one,
#     never one of the three (with equal shares it would take two).
never_pop big 3
wait_for 60 units_is big 4 && pass share-borrows-idle-slot || fail share-borrows-idle-slot "$(U ps)"
U describe big | grep -Fq 'share:     3 of 4 (guaranteed 3 units, ' && pass share-describe ||
	fail share-describe "$(U describe big | head -6)"
eval_round 300 share-beside-eval-handled
# every unit taken back from big was one beyond its 3
taken=$(daemon_log | grep -E 'what=unit-stop unit=big\.s\.[0-9]+ .*limit=reclaim')
[ -n "$taken" ] && ! grep -qv 'big held 4 units, [0-9.]* MiB; its share is 3 units' <<<"$taken" &&
	pass share-only-borrowed-taken-back || fail share-only-borrowed-taken-back "${taken:-no unit taken back}"
gone_wf big

# 2. A unit that holds no event and never pops is stopped after idle_ms
#    (+1 s; +2 s more to boot when it never popped), min_units or not;
#    min_units starts it again, with back-off.
napper_t0=${EPOCHREALTIME/./}
deploy_wf napper <<EOF
name: napper
functions:
  s:
    image: $slots_fn
    listen: in
    env: { MODE: sleep }
    scale: { min_units: 1, max_units: 1, idle_ms: 500 }
EOF
if wait_for 60 log_has 'what=unit-stop unit=napper\.s\.1 .*limit=idle .*idle [0-9]+ ms without popping \(never popped; 2000 ms more to boot\), over idle_ms 500 \+ 1000 ms \(idle_ms\)'; then
	pass idle-unit-stopped
else
	fail idle-unit-stopped "$(daemon_log | grep napper | tail -3)"
fi
# the unit keeps coming back (3 starts, waited for), never in a tight
# loop: each life lasts 3.5 s at least (idle_ms 500 + 1 s + 2 s to boot),
# so in E s since the deploy it started E / 3.5 + 1 times at most.  (A
# count after a fixed 12 s grew with how late a loaded machine saw the
# first stop, and shrank with its slower starts)
starts_ge() { [ "$(starts_of napper)" -ge "$1" ]; }
wait_for 60 starts_ge 3
n=$(starts_of napper)
elapsed_ms=$(((${EPOCHREALTIME/./} - napper_t0) / 1000))
[ "$n" -ge 3 ] && [ "$n" -le $((elapsed_ms / 3500 + 1)) ] && pass min-units-restarted-with-backoff ||
	fail min-units-restarted-with-backoff "$n starts in $elapsed_ms ms (want 3 .. $((elapsed_ms / 3500 + 1)))"
U describe napper | grep -Eq '^  stopped: .* unit napper\.s\.[0-9]+ stopped: idle [0-9]+ ms without popping .*\(idle_ms\)' &&
	pass idle-describe-says-why || fail idle-describe-says-why "$(U describe napper)"
gone_wf napper

# 3. timeout_ms: 0 and a handler that sleeps for ever: the units hold their
#    events, which no time limit ends.  Slots beyond the share are taken
#    back; each unit ends at its lifetime (drained, then told to end now
#    after unit_drain_ms), and its event counts as a failed delivery:
#    dead-lettered after `retries`, not held in unit after unit.
deploy_wf sleepy <<EOF
name: sleepy
functions:
  s:
    image: $fn
    listen: in
    timeout_ms: 0
    retries: 1
    batch: 1
    scale: { max_units: 4, events_per_unit: 1, idle_ms: 500, lifetime_s: 3 }
EOF
for i in 1 2 3 4; do echo hang; done | U push sleepy in >/dev/null
wait_for 60 units_is sleepy 4 && pass sleepy-holds-slots || fail sleepy-holds-slots "$(U ps)"
eval_round 300 timeout-0-beside-eval-handled
wait_for 180 xlen_is uf:dlq:sleepy:in 4 && pass timeout-0-dead-lettered || fail timeout-0-dead-lettered "dead letters $(R XLEN uf:dlq:sleepy:in); $(U ps)"
log_has 'what=unit-stop unit=sleepy\.s\.[0-9]+ .*limit=lifetime .*lifetime 3 s reached \(lifetime_s\)' &&
	pass lifetime-log || fail lifetime-log "$(daemon_log | grep -E 'unit-stop.*sleepy' | tail -3)"
R XRANGE uf:dlq:sleepy:in - + | grep -qxF 'drain deadline: its unit was drained (lifetime_s reached) and was still handling it 5000 ms later (unit_drain_ms)' &&
	pass lifetime-dead-letter-reason || fail lifetime-dead-letter-reason "$(R XRANGE uf:dlq:sleepy:in - + COUNT 1 | tr '\n' ' ')"
wait_for 60 no_units sleepy && pass sleepy-gone || fail sleepy-gone "$(U ps)"
metric() { curl -s -H "Authorization: Bearer $(cat "$PLAT_STATE/api.token")" "http://127.0.0.1:$PLAT_API_PORT/metrics" | grep -E "^$1 " | awk '{print $2}'; }
m1=$(metric 'unifaas_unit_stops_total\{workflow="sleepy",step="s",limit="lifetime"\}')
m2=$(metric 'unifaas_unit_stops_total\{workflow="sleepy",step="s",limit="drain_timeout"\}')
[ "${m1:-0}" -ge 2 ] && [ "${m2:-0}" -ge 2 ] && pass stops-counted ||
	fail stops-counted "lifetime ${m1:-none}, drain_timeout ${m2:-none}: $(curl -s -H "Authorization: Bearer $(cat "$PLAT_STATE/api.token")" "http://127.0.0.1:$PLAT_API_PORT/metrics" | grep unit_stops)"
gone_wf sleepy

# 3b. Only the event in hand at the drain's deadline is charged: a batch
#     of 8 with "hang" fourth, retries 0, lifetime 2 s.  The tender, told
#     to end at unit_drain_ms, counts the hanging event as failed (dead-
#     lettered, the reason naming the drain) and hands back the other 7 -
#     the 3 it had handled but not committed and the 4 it had not reached -
#     uncounted: the next unit handles them.
deploy_wf batchy <<EOF
name: batchy
functions:
  s:
    image: $fn
    listen: in
    timeout_ms: 0
    retries: 0
    batch: 8
    scale: { max_units: 1, idle_ms: 60000, lifetime_s: 2 }
EOF
printf '%s\n' x x x hang x x x x | U push batchy in >/dev/null
if wait_for 120 xlen_is uf:dlq:batchy:in 1 && wait_for 60 kv_is batchy count 7; then
	sleep 1
	dl=$(R XRANGE uf:dlq:batchy:in - + | awk 'p=="data"{d=$0} p=="reason"{r=$0} {p=$0} END {print d ": " r}')
	failed=$(R HGET uf:stat:batchy:s failed)
	[ "$dl" = "hang: drain deadline: its unit was drained (lifetime_s reached) and was still handling it 5000 ms later (unit_drain_ms)" ] &&
		xlen_is uf:dlq:batchy:in 1 && kv_is batchy count 7 && [ "$failed" = 1 ] && pass drain-deadline-charges-event-in-hand-only ||
		fail drain-deadline-charges-event-in-hand-only "dead letter '$dl', $(R XLEN uf:dlq:batchy:in) dead letters, count $(kv batchy count), failed $failed"
else
	fail drain-deadline-charges-event-in-hand-only "$(R XLEN uf:dlq:batchy:in) dead letters, count $(kv batchy count) (want 1 and 7)"
fi
log_has 'what=unit-stop unit=batchy\.s\.1 .*action=end-now reason="lifetime 2 s reached \(lifetime_s\); still busy after 5000 ms \(unit_drain_ms\)"' &&
	pass drain-deadline-log || fail drain-deadline-log "$(daemon_log | grep 'batchy\.s\.1' | tail -3)"
gone_wf batchy

# 3d. The drain's last resort: a unit that answers neither the drain nor
#     its deadline (here stopped with SIGSTOP, as one stuck in a host call)
#     is killed UF_DRAIN_SETTLE_MS (1 s) after the deadline, and all it
#     held counts as failed (retries 0: all 3 dead-lettered), the reason
#     naming both steps.
deploy_wf stuck <<EOF
name: stuck
functions:
  s:
    image: $fn
    listen: in
    timeout_ms: 0
    retries: 0
    batch: 8
    scale: { max_units: 1, idle_ms: 60000, lifetime_s: 2 }
EOF
printf '%s\n' x hang x | U push stuck in >/dev/null
# the unit is stopped once it holds the 3 events (waited for: a fixed 0.5 s
# after its start could stop it before it read them)
pending_is() { [ "$(R XPENDING "uf:q:$1:$2" "$3" | head -1)" = "$4" ]; }
if wait_for 60 plat_pids '--consumer=stuck\.s\.1' && wait_for 60 pending_is stuck in s 3; then
	plat_kill STOP '--consumer=stuck\.s\.1'
	wait_for 120 xlen_is uf:dlq:stuck:in 3 &&
		[ "$(R XRANGE uf:dlq:stuck:in - + | grep -cF 'lifetime 2 s reached (lifetime_s); still busy after 5000 ms (unit_drain_ms); killed 1000 ms later')" = 3 ] &&
		pass drain-unanswered-killed-all-counted ||
		fail drain-unanswered-killed-all-counted "$(R XLEN uf:dlq:stuck:in) dead letters: $(R XRANGE uf:dlq:stuck:in - + COUNT 1 | tr '\n' ' ')"
else
	fail drain-unanswered-killed-all-counted "no unit holding the 3 events: $(U ps); pending $(R XPENDING uf:q:stuck:in s | head -1)"
fi
gone_wf stuck

# 3c. A slot taken back from a unit whose event never ends: the event in
#     hand at the drain's deadline counts (retries 0: dead-lettered, the
#     reason naming the reclaim), rather than being handed back to cycle
#     through unit after unit while slots are taken back.
deploy_wf slowpoke <<EOF
name: slowpoke
functions:
  s:
    image: $fn
    listen: in
    timeout_ms: 0
    retries: 0
    batch: 1
    scale: { max_units: 4, events_per_unit: 1, idle_ms: 500 }
EOF
for i in 1 2 3 4; do echo hang; done | U push slowpoke in >/dev/null
wait_for 60 units_is slowpoke 4 || fail slowpoke-holds-slots "$(U ps)"
eval_round 300 reclaim-drain-beside-eval-handled
reclaimed() { R XRANGE uf:dlq:slowpoke:in - + | grep -cxF 'drain deadline: its unit was drained (its slot taken back for another workflow) and was still handling it 5000 ms later (unit_drain_ms)'; }
reclaimed_2() { [ "$(reclaimed)" -ge 2 ]; }
wait_for 90 reclaimed_2 && pass reclaim-drain-deadline-dead-lettered ||
	fail reclaim-drain-deadline-dead-lettered "$(reclaimed) dead letters naming the reclaim; $(R XRANGE uf:dlq:slowpoke:in - + COUNT 1 | tr '\n' ' ')"
gone_wf slowpoke

# 4. a unit that pops is drained at its lifetime: it ends cleanly (status
#    0, not killed) and min_units replaces it; no event is lost or repeated
deploy_wf steady <<EOF
name: steady
functions:
  s:
    image: $fn
    listen: in
    scale: { min_units: 1, max_units: 1, idle_ms: 60000, lifetime_s: 2 }
EOF
for i in $(seq 10); do echo x; done | U push steady in >/dev/null
wait_for 60 kv_is steady count 10 || fail steady-first-events "count $(kv steady count)"
if wait_for 60 log_has 'what=unit-exit unit=steady\.s\.1 .*status=0 signal=0 by_daemon=1'; then
	log_has 'what=unit-stop unit=steady\.s\.1 .*limit=lifetime action=drain reason="lifetime 2 s reached \(lifetime_s\)"' &&
		pass lifetime-drained-cleanly || fail lifetime-drained-cleanly "$(daemon_log | grep 'steady\.s\.1' | tail -3)"
else
	fail lifetime-drained-cleanly "$(daemon_log | grep 'steady\.s\.1' | tail -3)"
fi
wait_for 60 log_has 'what=unit-start unit=steady\.s\.2 ' && pass lifetime-replaced || fail lifetime-replaced "$(U ps)"
for i in $(seq 10); do echo x; done | U push steady in >/dev/null
wait_for 60 kv_is steady count 20 && sleep 1 && kv_is steady count 20 && pass lifetime-no-event-lost || fail lifetime-no-event-lost "count $(kv steady count), want 20"
gone_wf steady

# 5. a function's lifetime_s is bounded by the node's unit_lifetime_s
refused_wf longlived lifetime-over-node-refused "functions.s.scale.lifetime_s: 7200 s is more than the node's unit_lifetime_s (3600 s)" <<EOF
name: longlived
functions:
  s:
    image: $fn
    listen: in
    scale: { lifetime_s: 7200 }
EOF
plat_down

# --- memory admission: a unit budget of 100 MiB ---------------------------
# hog units: 32 MiB of guest memory (+1 MiB counted for the tender), each
# touching 24 MiB of it.  Two workflows: 50 MiB guaranteed each; the hog
# borrows up to 99 MiB (3 units) and waits for a 4th with the reason shown.
PLAT_CONF="max_units=8
unit_memory_budget=104857600"
plat_up || { fail up-memory "$(tail -5 "$UF_TMP/$UF_SUITE.up.log")"; exit 0; }
pass up-memory
U deploy "$UF_TOP/workflows/eval.yaml" >/dev/null 2>&1 || fail deploy-eval-memory "$(U deploy "$UF_TOP/workflows/eval.yaml" 2>&1)"
deploy_wf hog <<EOF
name: hog
max_units: 32
functions:
  h:
    image: $slots_fn
    listen: in
    memory: 32MiB
    env: { MODE: hog, HOG_MB: "24" }
    scale: { max_units: 32, events_per_unit: 1, idle_ms: 600000 }
EOF
for i in $(seq 20); do echo x; done | U push hog in >/dev/null
wait_for 60 units_is hog 3 && pass hog-three-units || fail hog-three-units "$(U ps)"
sleep 1
units_is hog 3 && pass hog-no-fourth || fail hog-no-fourth "$(U ps)"
wait_for 30 ps_has "hog/h: running: node unit memory 99.0 MiB of 100.0 MiB in use, needs 33.0 MiB (unit_memory_budget)" &&
	pass hog-waits-with-reason || fail hog-waits-with-reason "$(U ps)"
U describe hog | grep -Fq "node unit memory 99.0 MiB of 100.0 MiB in use, needs 33.0 MiB (unit_memory_budget)" &&
	pass hog-describe-reason || fail hog-describe-reason "$(U describe hog)"
# what the host gives the hog's tenders stays within the budget (each
# tender leads its process group; its VM teardown sibling in that group
# shares its address space: counted once)
hog_rss() {
	local p r rss=0
	for p in $(plat_pids '--consumer=hog\.h\.'); do
		[ "$(ps -o pgid= -p "$p" | tr -d ' ')" = "$p" ] || continue
		r=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null) && rss=$((rss + ${r:-0}))
	done
	echo "$rss"
}
# (read once the three have touched their memory: waited for, as a unit
# of a loaded machine may still be at it)
hog_touched() { [ "$(hog_rss)" -gt $((3 * 20 * 1024)) ]; }
wait_for 60 hog_touched
rss=$(hog_rss)
[ "$rss" -gt $((3 * 20 * 1024)) ] && [ "$rss" -le $((100 * 1024)) ] && pass hog-host-memory-bounded ||
	fail hog-host-memory-bounded "hog tenders hold $rss KiB resident (budget 102400 KiB)"
eval_round 300 hog-beside-eval-handled
log_has 'what=unit-stop unit=hog\.h\.[0-9]+ .*limit=reclaim .*slot taken back for workflow eval' &&
	pass hog-memory-taken-back || fail hog-memory-taken-back "$(daemon_log | grep -E 'unit-stop|slot-reclaim' | tail -3)"

# deploy refuses what can never fit: 4 units of 32 MiB at least
refused_wf bighog min-units-memory-refused "workflow bighog: function h: 4 unit(s) of memory 32 MiB (+1 MiB for the tender) need 132.0 MiB, more than the node's unit_memory_budget of 100.0 MiB" <<EOF
name: bighog
functions:
  h:
    image: $slots_fn
    listen: in
    memory: 32MiB
    scale: { min_units: 4, max_units: 4 }
EOF
not_deployed bighog && pass min-units-memory-not-deployed || fail min-units-memory-not-deployed "$(U ls)"
# two functions that fit alone and not together
refused_wf twohogs min-units-sum-refused "workflow twohogs: the functions' min_units * memory (+1 MiB each for the tender) add up to 104.0 MiB (a 2 x 33 MiB, b 2 x 19 MiB), more than the node's unit_memory_budget of 100.0 MiB" <<EOF
name: twohogs
functions:
  a:
    image: $slots_fn
    listen: in-a
    memory: 32MiB
    scale: { min_units: 2, max_units: 2 }
  b:
    image: $slots_fn
    listen: in-b
    memory: 18MiB
    scale: { min_units: 2, max_units: 2 }
EOF
