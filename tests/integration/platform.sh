#!/usr/bin/env bash
# The platform end to end (issue 3): `unifaas up` with real redis-server,
# mosquitto and unifaasd; workflows deployed through the control API; units
# started, scaled and stopped by the daemon.  Every case asserts exact KV
# totals and queue states, and counts retries where at-least-once delivery
# can repeat work.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || { fail build "platform_fn.c did not build"; exit 0; }
plat_suite_up
pass up

# --- the issue's session: eval workflow, two chained steps ---------------
U deploy "$UF_TOP/workflows/eval.yaml" >"$UF_TMP/d.out" 2>&1 && pass deploy-eval || fail deploy-eval "$(cat "$UF_TMP/d.out")"
for i in $(seq 1000); do echo open; done | U push eval fridge-door >/dev/null
if wait_for 90 kv_is eval fdc-count 1000 && wait_for 90 kv_is eval door-log-count 1000; then
	pass chained-1000
else
	fail chained-1000 "fdc-count $(kv eval fdc-count), door-log-count $(kv eval door-log-count)"
fi
[ "$(R XLEN uf:q:eval:door-opens)" = 1000 ] && pass chained-pushes || fail chained-pushes "door-opens $(R XLEN uf:q:eval:door-opens)"
U ps | grep -q '^eval' && pass ps-shows-units || fail ps-shows-units "$(U ps)"
U queues | grep -Eq '^eval +fridge-door +0 +0 +0 +1000 +0' && pass queues-table || fail queues-table "$(U queues)"
U logs eval/door-log | grep -Eq '^20[0-9-]{8}T[0-9:]{8}\.[0-9]{3}Z eval\.door-log\.[0-9]+ \| door-log: event' && pass logs-prefixed ||
	fail logs-prefixed "$(U logs eval/door-log | head -3)"
# scale to zero after idle_ms (2 s)
wait_for 30 no_units eval && pass scale-to-zero || fail scale-to-zero "$(U ps)"

# --- scale up under a burst, limits and grace -----------------------------
m=$(manifest burst <<EOF
name: burst
max_units: 3
functions:
  a:
    image: $fn
    listen: in-a
    env: { SPIN: "200000" }
    batch: 16
    timeout_ms: 10000
    scale: { max_units: 4, events_per_unit: 50, grace_ms: 300, idle_ms: 300 }
  b:
    image: $fn
    listen: in-b
    env: { SPIN: "200000" }
    batch: 16
    scale: { max_units: 4, events_per_unit: 50, grace_ms: 300, idle_ms: 300 }
EOF
)
U deploy "$m" >/dev/null
# a's first event holds its unit's batch until uf:kv:burst:go exists
# (platform_fn.c wait:K), so a's backlog is there to scale on however the
# pushes and the units' work interleave: at a load, one unit of each step
# kept up with the pushes (CI of fb25335: at most 1 unit at once).  b's
# events come once a has scaled: before, b's units could take the
# workflow's 3 slots while a's first unit held, until it was killed as
# hung (timeout_ms 10 s a held event here: 160 s for its batch)
# (a second unit may handle the rest in half a second: seen in the daemon's
# log, where a start of a while a's first unit holds is 2 units at once)
{ echo wait:go; for i in $(seq 2000); do echo x; done; } | U push burst in-a >/dev/null
a_starts_ge() { [ "$(daemon_log | grep -c 'what=unit-start .*workflow=burst step=a ')" -ge "$1" ]; }
wait_for 30 a_starts_ge 2 && pass burst-step-scaled || fail burst-step-scaled "step a never had 2 units at once: $(U ps)"
for i in $(seq 2000); do echo x; done | U push burst in-b >/dev/null
R SET uf:kv:burst:go 1 >/dev/null
wait_for 180 kv_is burst count 4000 && pass burst-all-handled || fail burst-all-handled "count $(kv burst count)"
# from the daemon's log: the most units of `burst` alive at once, and the
# smallest gap between two starts of one step
daemon_log | awk '/what=unit-start/ && /workflow=burst/ {n++; if (n>max) max=n} /what=unit-exit/ && /workflow=burst/ {n--} END {print max+0}' >"$UF_TMP/max"
max=$(cat "$UF_TMP/max")
[ "$max" -ge 2 ] && pass burst-scaled-up || fail burst-scaled-up "at most $max unit(s) at once"
[ "$max" -le 3 ] && pass workflow-limit || fail workflow-limit "$max units at once, workflow max_units 3"
gap=$(daemon_log | python3 -c '
import sys, re, datetime
last = {}; gap = 10**9
for l in sys.stdin:
    if "what=unit-start" not in l or "workflow=burst" not in l: continue
    t = datetime.datetime.strptime(re.search(r"time=(\S+)Z", l).group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
    s = re.search(r"step=(\S+)", l).group(1)
    if s in last: gap = min(gap, (t - last[s]) * 1000)
    last[s] = t
print(int(gap))')
[ "$gap" -ge 270 ] && pass grace-period || fail grace-period "two starts of one step ${gap} ms apart, grace_ms 300 (log times: +-10 ms)"
wait_for 30 no_units burst && pass burst-scale-to-zero || fail burst-scale-to-zero "$(U ps)"

# --- kill -9 of a unit in the middle of a batch ---------------------------
# The work lasts (400 events of SPIN 5000000: ~3 s of CPU) so that the unit
# is still there at kill_holding's first look on a loaded machine (1000 events
# of 1000000 were done before it at a load of 25, CI of 7fa45b5)
m=$(manifest k9 <<EOF
name: k9
functions:
  s:
    image: $fn
    listen: in
    push: [out]
    env: { SPIN: "5000000", OUT: out }
    batch: 64
    retries: 5
    scale: { max_units: 1, idle_ms: 500 }
EOF
)
U deploy "$m" >/dev/null
# the last event holds its batch until uf:kv:k9:go exists (platform_fn.c
# wait:K), so a unit that does the rest before kill_holding's first look is
# still killed holding a batch (the work alone can be outlasted by the look)
{ for i in $(seq 400); do echo "e$i"; done; echo wait:go; } | U push k9 in >/dev/null
R MONITOR >"$UF_TMP/k9.monitor" 2>&1 & # the daemon's settle, as Redis received it
monitor=$!
kill_holding k9 in s && pass kill-unit || fail kill-unit "no unit holding a batch to kill"
R SET uf:kv:k9:go 1 >/dev/null
if wait_for 180 kv_is k9 count 400 && wait_for 30 drained k9 in s; then
	pass kill-unit-every-event
else
	fail kill-unit-every-event "count $(kv k9 count) of 400"
fi
# KV writes and pushes are committed with the ack: a killed batch left no trace,
# so the retry did not count anything twice; the retried entries carry attempt
retried=$(R XRANGE uf:q:k9:in - + | grep -c '^attempt$')
[ "$retried" -gt 0 ] && pass kill-unit-retried || fail kill-unit-retried "no entry was re-queued"
[ "$(R XLEN uf:q:k9:out)" = 400 ] && pass kill-unit-no-duplicates ||
	fail kill-unit-no-duplicates "out has $(R XLEN uf:q:k9:out) entries for 400 events ($retried retried)"
[ "$(R XLEN uf:dlq:k9:in)" = 0 ] && pass kill-unit-nothing-dead || fail kill-unit-nothing-dead "$(R XLEN uf:dlq:k9:in) dead"
# The daemon's settle of the killed unit's entries, sent again as it was
# (what a retry on a new connection does when Redis runs the first one late,
# after the retry read the entries as still pending): it re-queues and counts
# nothing more.  Its commands are those that re-queued to uf:q:k9:in: an EVAL
# (or, before, a MULTI..EXEC block) from the MONITOR capture.
kill "$monitor" 2>/dev/null
wait "$monitor" 2>/dev/null
awk '{ sub(/^[0-9.]+ \[[^]]*\] /, "") }
	/^"MULTI"/ { blk = $0 "\n"; inblk = 1; next }
	inblk { blk = blk $0 "\n"; if (/^"XADD" "uf:q:k9:in"/) requeue = 1
		if (/^"EXEC"/) { if (requeue) printf "%s", blk; inblk = requeue = 0 }; next }
	/^"EVAL" .* "uf:q:k9:in" "uf:q:k9:in" / { print }' "$UF_TMP/k9.monitor" >"$UF_TMP/k9.settle"
n_settle=$(grep -c -e '^"EVAL"' -e '^"EXEC"' "$UF_TMP/k9.settle")
last=$(R XREVRANGE uf:q:k9:in + - COUNT 1 | head -1)
failed=$(R HGET uf:stat:k9:s failed)
R <"$UF_TMP/k9.settle" >"$UF_TMP/k9.replay" 2>&1
again=$(R XRANGE uf:q:k9:in "($last" + | grep -c -x origin)
if [ "$n_settle" -gt 0 ] && [ "$failed" -gt 0 ] && [ "$again" = 0 ] && [ "$(R HGET uf:stat:k9:s failed)" = "$failed" ]; then
	pass settle-twice-once
else
	fail settle-twice-once "$n_settle settle command(s) sent again: $again more re-queued, failed $failed -> $(R HGET uf:stat:k9:s failed)"
fi

# --- kill -9 of unifaasd: restart, old units cleaned, every event handled --
for i in $(seq 400); do echo "f$i"; done | U push k9 in >/dev/null
wait_for 10 units_is k9 1
sleep 0.5
pkill -9 -f -- "unifaasd --state-dir $PLAT_STATE" && pass kill-daemon || fail kill-daemon "no unifaasd"
sleep 0.2
U up >/dev/null 2>&1 && pass daemon-restarted || fail daemon-restarted "unifaas up after kill -9: $?"
if wait_for 180 kv_is k9 count 800 && wait_for 30 drained k9 in s; then
	pass kill-daemon-every-event
else
	fail kill-daemon-every-event "count $(kv k9 count) of 800"
fi
[ "$(R XLEN uf:q:k9:out)" = 800 ] && pass kill-daemon-no-duplicates || fail kill-daemon-no-duplicates "out $(R XLEN uf:q:k9:out)"
daemon_log | grep -q 'what=restore workflow=k9' && pass daemon-restored-workflows || fail daemon-restored-workflows "no restore line"
[ "$(R HLEN uf:state:units)" -le 1 ] && pass no-leaked-unit-records || fail no-leaked-unit-records "$(R HGETALL uf:state:units | tr '\n' ' ')"

# --- redis-server restart while units work --------------------------------
for i in $(seq 400); do echo "g$i"; done | U push k9 in >/dev/null
wait_for 10 units_is k9 1
sleep 0.5
R SHUTDOWN >/dev/null 2>&1
sleep 0.5
U up >/dev/null 2>&1 && pass redis-restarted || fail redis-restarted "unifaas up after redis shutdown"
if wait_for 180 kv_is k9 count 1200 && wait_for 30 drained k9 in s; then
	pass redis-restart-every-event
else
	fail redis-restart-every-event "count $(kv k9 count) of 1200"
fi
[ "$(R XLEN uf:q:k9:out)" = 1200 ] && pass redis-restart-no-duplicates || fail redis-restart-no-duplicates "out $(R XLEN uf:q:k9:out)"

# --- failures, dead letters, hung units ----------------------------------
m=$(manifest bad <<EOF
name: bad
functions:
  s:
    image: $fn
    listen: in
    push: [out]
    env: { OUT: out }
    batch: 1
    retries: 2
    timeout_ms: 200
    scale: { max_units: 1, idle_ms: 300, grace_ms: 0 }
EOF
)
U deploy "$m" >/dev/null
printf '%s\n' ok1 fail ok2 crash ok3 ungranted ok4 hang ok5 | U push bad in >/dev/null
if wait_for 90 xlen_is uf:dlq:bad:in 4 && wait_for 30 kv_is bad count 5; then
	pass failures-dead-lettered
else
	fail failures-dead-lettered "dead $(R XLEN uf:dlq:bad:in), count $(kv bad count)"
fi
dlq=$(R XRANGE uf:dlq:bad:in - +)
for d in fail crash ungranted hang; do
	printf '%s\n' "$dlq" | grep -qx "$d" && pass "dead-$d" || fail "dead-$d" "not in the dead-letter stream"
done
printf '%s\n' "$dlq" | grep -q "not granted" && pass dead-reason-grant || fail dead-reason-grant "$dlq"
printf '%s\n' "$dlq" | grep -q "hung" && pass dead-reason-hung || fail dead-reason-hung "$dlq"
[ "$(printf '%s\n' "$dlq" | grep -A1 -x attempts | grep -c -x 3)" = 4 ] && pass dead-after-retries ||
	fail dead-after-retries "$(printf '%s\n' "$dlq" | grep -A1 -x attempts | tr '\n' ' ')"
daemon_log | grep -q 'what=unit-hung unit=bad.s' && pass hung-unit-killed || fail hung-unit-killed "no unit-hung line"
[ "$(R XLEN uf:q:bad:secret)" = 0 ] && pass ungranted-not-written || fail ungranted-not-written "secret has entries"
U queues | grep -Eq '^bad +in .* 4$' && pass queues-shows-dead || fail queues-shows-dead "$(U queues)"

# --- overflow stops the workflow; resume restarts it ----------------------
m=$(manifest ovf <<EOF
name: ovf
functions:
  s:
    image: $fn
    listen: in
    env: { SPIN: "1000000" }
    batch: 8
    scale: { max_units: 1, overflow: 500, idle_ms: 300 }
EOF
)
U deploy "$m" >/dev/null
# pushed faster than one unit handles them (2000 in one request: past the
# overflow whatever the unit's and the pusher's speed on a loaded machine),
# until the daemon stops the workflow
accepted=0
for r in $(seq 5); do
	out=$(for i in $(seq 2000); do echo x; done | U push ovf in 2>/dev/null) || break
	accepted=$((accepted + ${out#queued }))
	sleep 0.1
done
if wait_for 30 sh -c "\"$UNIFAAS\" --state-dir \"$PLAT_STATE\" ls | grep -q 'ovf.*stopped'"; then
	pass overflow-stops
else
	fail overflow-stops "$(U ls)"
fi
U ps | grep -q 'overflow' && pass overflow-reason-shown || fail overflow-reason-shown "$(U ps)"
echo x | U push ovf in >/dev/null 2>"$UF_TMP/p.err"
rc=$?
[ $rc -ne 0 ] && grep -q stopped "$UF_TMP/p.err" && pass overflow-refuses-push || fail overflow-refuses-push "rc $rc: $(cat "$UF_TMP/p.err")"
U resume ovf >/dev/null && pass resume || fail resume "resume failed"
wait_for 180 kv_is ovf count "$accepted" && pass overflow-nothing-lost || fail overflow-nothing-lost "count $(kv ovf count) of $accepted"

# --- malformed manifests: clear errors, nothing deployed ------------------
before=$(workflows) || fail manifest-nothing-deployed "cannot list the workflows"
printf 'name: typo\nfunctions:\n  s:\n    image: %s\n    listn: in\n' "$fn" >"$UF_TMP/typo.yaml"
U deploy "$UF_TMP/typo.yaml" >"$UF_TMP/t.out" 2>&1
rc=$?
[ $rc = 65 ] && grep -q "typo.yaml:5: .*unknown key 'listn' (did you mean 'listen'?)" "$UF_TMP/t.out" && pass manifest-typo ||
	fail manifest-typo "rc $rc: $(cat "$UF_TMP/t.out")"
printf 'name: noimg\nfunctions:\n  s:\n    image: /nonexistent.uf\n    listen: in\n' >"$UF_TMP/noimg.yaml"
U deploy "$UF_TMP/noimg.yaml" >"$UF_TMP/t.out" 2>&1
rc=$?
[ $rc = 65 ] && grep -q "noimg.yaml:4" "$UF_TMP/t.out" && pass manifest-missing-image || fail manifest-missing-image "rc $rc: $(cat "$UF_TMP/t.out")"
[ -n "$before" ] && [ "$(workflows)" = "$before" ] && pass manifest-nothing-deployed || fail manifest-nothing-deployed "$(U ls)"

# --- grants enforced by Redis too: the workflow's ACL user ---------------
pass_k9=$(R HGET uf:state:wf:k9 acl_pass)
out=$(redis-cli --no-auth-warning -s "$PLAT_STATE/redis.sock" --user uf-wf-k9 --pass "$pass_k9" GET uf:kv:eval:fdc-count 2>&1)
printf '%s' "$out" | grep -q NOPERM && pass acl-other-workflow-denied || fail acl-other-workflow-denied "$out"
out=$(redis-cli --no-auth-warning -s "$PLAT_STATE/redis.sock" --user uf-wf-k9 --pass "$pass_k9" GET uf:kv:k9:count 2>&1)
[ "$out" = 1200 ] && pass acl-own-workflow-allowed || fail acl-own-workflow-allowed "$out"

# --- pre-started tenders: cold starts use them; if they fail, units start anyway
daemon_log | grep -q 'what=unit-start .* standby=1' && pass cold-start-uses-standby ||
	fail cold-start-uses-standby "no unit started from a standby"
cat >"$UF_TMP/hvt-no-standby" <<EOF
#!/bin/sh
[ "\$1" = --standby ] && { echo "standby refused by the test" >&2; exit 1; }
exec "$HVT" "\$@"
EOF
chmod +x "$UF_TMP/hvt-no-standby"
printf 'hvt=%s\nretain_handled=100\ntrim_interval_ms=300\n' "$UF_TMP/hvt-no-standby" >"$PLAT_STATE/unifaasd.conf"
pkill -TERM -f -- "unifaasd --state-dir $PLAT_STATE"
# (a function, not `sh -c "! pgrep ..."`: that sh's own command line holds
# the pattern, so the wait always ran its 30 s)
daemon_gone() { ! pgrep -f -- "unifaasd --state-dir $PLAT_STATE" >/dev/null; }
wait_for 30 daemon_gone || fail standby-restart "unifaasd still running 30 s after SIGTERM"
U up >/dev/null 2>&1
for i in $(seq 100); do echo open; done | U push eval fridge-door >/dev/null
wait_for 90 kv_is eval fdc-count 1100 && pass standby-failing-units-still-start ||
	fail standby-failing-units-still-start "fdc-count $(kv eval fdc-count)"
daemon_log | grep -q 'what=standby op=pause' && pass standby-failures-pause-pool || fail standby-failures-pause-pool "no pause"
daemon_log | grep 'what=standby op=exit' | grep -q 'standby refused by the test' && pass standby-failure-logged ||
	fail standby-failure-logged "$(daemon_log | grep 'what=standby' | head -3)"
# retention (same daemon settings): handled entries beyond the last 100 are
# trimmed and logged; entries not handled yet are never trimmed
if wait_for 30 xlen_is uf:q:eval:fridge-door 100 && wait_for 30 xlen_is uf:q:eval:door-opens 100; then
	pass retention-trims-handled
else
	fail retention-trims-handled "fridge-door $(R XLEN uf:q:eval:fridge-door), door-opens $(R XLEN uf:q:eval:door-opens)"
fi
daemon_log | grep -q 'what=trim workflow=eval queue=fridge-door entries=[0-9]* kept_handled=100' && pass retention-logged ||
	fail retention-logged "no trim line"
m=$(manifest ret <<EOF
name: ret
functions:
  s:
    image: $fn
    listen: in
    env: { SPIN: "1000000" }
    batch: 8
    scale: { max_units: 1, idle_ms: 300 }
EOF
)
U deploy "$m" >/dev/null
for i in $(seq 1000); do echo x; done | U push ret in >/dev/null
low=ok
for i in $(seq 20); do
	sleep 0.1
	# the length first: what is unhandled only shrinks, so a length read before
	# it must still cover it (read after, handled and trimmed meanwhile, not)
	len=$(R XLEN uf:q:ret:in)
	unhandled=$(R XINFO GROUPS uf:q:ret:in | awk '$0=="pending"{getline; p=$0} $0=="lag"{getline; print p+$0}')
	[ "$len" -ge "$unhandled" ] || low="length $len < $unhandled unhandled"
done
[ "$low" = ok ] && wait_for 90 kv_is ret count 1000 && pass retention-keeps-unhandled ||
	fail retention-keeps-unhandled "$low; count $(kv ret count)"
rm -f "$PLAT_STATE/unifaasd.conf"

# --- undeploy --purge removes its data; down leaves nothing running -------
U undeploy k9 --purge >/dev/null && [ "$(R EXISTS uf:q:k9:in uf:kv:k9:count)" = 0 ] && pass undeploy-purge ||
	fail undeploy-purge "keys left: $(R KEYS 'uf:*:k9:*' | tr '\n' ' ')"
plat_down
# (a unit's VM reaper outlives its tender by the VM's teardown: looked at
# until gone, as no_stray does, not once right after down)
nothing_left() { ! pgrep -f -- "$PLAT_STATE" >/dev/null; }
wait_for 10 nothing_left
left=$(pgrep -f -- "$PLAT_STATE" | tr '\n' ' ')
[ -z "$left" ] && pass down-nothing-left || fail down-nothing-left "still running: $left"
no_stray "$PLAT_STATE" >/dev/null && pass no-stray-units || fail no-stray-units "tenders left"
