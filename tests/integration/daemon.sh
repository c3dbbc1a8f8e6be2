#!/usr/bin/env bash
# unifaasd's own defects (issue 8 section 2), each against a real platform:
# a hung unit keeps the reason it was killed for; the backlog survives a
# Redis restart and an AOF rewrite without going false; many env entries
# all reach the function and none shows on a command line; text a guest
# prints cannot forge fields in the daemon's key=value log.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/daemon_fn.c") || { fail build "daemon_fn.c did not build"; exit 0; }
# daemon_gone: this platform's unifaasd has exited (polled in this shell: a
# `sh -c "! pgrep -f PATTERN"` finds itself, and so waited its whole limit)
daemon_gone() { ! pgrep -f -- "unifaasd --state-dir $PLAT_STATE" >/dev/null; }
plat_suite_up
pass up

# --- a hung unit's reason is the daemon's, whatever arrives after the kill --
m=$(manifest hung <<EOF2
name: hung
functions:
  s:
    image: $fn
    listen: in
    retries: 0
    timeout_ms: 200
    scale: { max_units: 1, idle_ms: 300, grace_ms: 0 }
EOF2
)
U deploy "$m" >/dev/null
echo talk-hang | U push hung in >/dev/null
if wait_for 20 xlen_is uf:dlq:hung:in 1; then
	reason=$(R XRANGE uf:dlq:hung:in - + | grep -A1 -x reason | tail -1)
	case $reason in
	*"hung: held 1 event(s)"*) pass hung-reason-kept ;;
	*) fail hung-reason-kept "dead-letter reason: $reason" ;;
	esac
else
	fail hung-reason-kept "not dead-lettered: $(R XLEN uf:dlq:hung:in)"
fi

# --- the backlog after a Redis restart and an AOF rewrite -------------------
# Redis 7.0 restores a group's entries-read wrongly from its AOF, so its
# `lag` claims handled events are unread; the daemon must count what is
# really after the group's last-delivered id.
m=$(manifest blog <<EOF2
name: blog
functions:
  s:
    image: $fn
    listen: in
    batch: 16
    env: { SPIN: "20000000" }
    scale: { max_units: 2, events_per_unit: 100, idle_ms: 300, grace_ms: 0 }
EOF2
)
U deploy "$m" >/dev/null
for i in $(seq 3000); do echo x; done | U push blog in >/dev/null
wait_for 180 kv_is blog count 3000 && wait_for 60 drained blog in s && wait_for 60 no_units blog ||
	fail backlog-setup "count $(kv blog count), units $(units blog)"
R BGREWRITEAOF >/dev/null
wait_for 60 sh -c "[ \"\$(R INFO persistence | tr -d '\r' | grep -c '^aof_rewrite_in_progress:0')\" = 1 ]"
# events handled after the rewrite are replayed from the AOF's tail
for i in $(seq 100); do echo x; done | U push blog in >/dev/null
wait_for 120 kv_is blog count 3100 && wait_for 60 drained blog in s && wait_for 60 no_units blog ||
	fail backlog-setup "count $(kv blog count) of 3100, units $(units blog)"
U down >/dev/null 2>&1
U up >/dev/null 2>&1 || fail backlog-restart "unifaas up after down: $?"
starts_before=$(daemon_log | grep -c 'what=unit-start .*workflow=blog')
sleep 2
starts_after=$(daemon_log | grep -c 'what=unit-start .*workflow=blog')
[ "$starts_after" = "$starts_before" ] && pass backlog-restart-no-units ||
	fail backlog-restart-no-units "$((starts_after - starts_before)) unit(s) started with nothing to do; groups: $(R XINFO GROUPS uf:q:blog:in | tr '\n' ' ')"
backlog=$(U ps --json | python3 -c "import json,sys; print([s['backlog'] for s in json.load(sys.stdin)['steps'] if s['workflow']=='blog'][0])")
[ "$backlog" = 0 ] && pass backlog-restart-zero || fail backlog-restart-zero "backlog $backlog after a restart with every event handled"
lag=$(U queues --json | python3 -c "import json,sys; print([g['lag'] for q in json.load(sys.stdin)['queues'] if q['workflow']=='blog' for g in q['groups']][0])")
[ "$lag" = 0 ] && pass backlog-restart-queues-lag || fail backlog-restart-queues-lag "unifaas queues shows lag $lag"
# a real backlog after the restart (Redis's lag is unknown until a reader
# reaches the end of the stream) is counted, and scales the step to its max.
# The units hold their batches (wait:go, one every 16 events: a unit's
# batch, however it is cut, reaches one) until the test has seen both, so
# at most 4 batches are taken from the backlog however fast they are: read
# once the daemon counted it (a fixed second was outlasted on a loaded
# machine), it is between 1000 and 2000
for i in $(seq 2000); do case $i in 1 | 17 | 33 | 49) echo wait:go ;; *) echo slow ;; esac; done | U push blog in >/dev/null
blog_backlog() { U ps --json | python3 -c "import json,sys; print([s['backlog'] for s in json.load(sys.stdin)['steps'] if s['workflow']=='blog'][0])"; }
backlog_counted() { [ "$(blog_backlog)" -ge 1000 ]; }
wait_for 30 backlog_counted
backlog=$(blog_backlog)
[ "$backlog" -ge 1000 ] && [ "$backlog" -le 2000 ] && pass backlog-restart-counted ||
	fail backlog-restart-counted "backlog $backlog with 2000 events pushed, at most 64 of them taken; groups: $(R XINFO GROUPS uf:q:blog:in | tr '\n' ' ')"
# (the failure says what the scheduler saw and the daemon logged: 0 units
# after 5 s once in a CI at a load of ~10, not reproduced; held units stay)
wait_for 30 units_is blog 2 && pass backlog-restart-scales ||
	fail backlog-restart-scales "$(units blog) unit(s) for a backlog of $backlog, max_units 2; step: $(U ps --json | python3 -c "import json,sys; print([s for s in json.load(sys.stdin)['steps'] if s['workflow']=='blog'])"); log: $(daemon_log | grep -E 'workflow=blog|what=(standby|start|restore)' | tail -8 | tr '\n' ' ')"
R SET uf:kv:blog:go 1 >/dev/null
U undeploy blog >/dev/null

# an overflow limit above what is counted one by one (backlog.c's
# BACKLOG_SCAN_MAX, 2048): the backlog is still exact when it decides
m=$(manifest bigovf <<EOF2
name: bigovf
functions:
  s:
    image: $fn
    listen: in
    batch: 1
    env: { SPIN: "200000000" }
    scale: { max_units: 1, overflow: 3000, idle_ms: 300 }
EOF2
)
U deploy "$m" >/dev/null
# the unit holds its first event (wait:go) until the test has seen the stop,
# so none of the 3100 is handled before the daemon decides (its SPIN alone
# left that to the machine's load)
{ echo wait:go; for i in $(seq 2899); do echo slow; done; } | U push bigovf in >/dev/null
sleep 0.5 # (two pushes, as they come: not a condition of the check)
for i in $(seq 200); do echo slow; done | U push bigovf in >/dev/null
if wait_for 60 sh -c "\"$UNIFAAS\" --state-dir \"$PLAT_STATE\" ls | grep -q 'bigovf.*stopped'"; then
	why=$(U ls --json | python3 -c "import json,sys; print([w['reason'] for w in json.load(sys.stdin)['workflows'] if w['name']=='bigovf'][0])")
	n=$(printf '%s' "$why" | sed -n 's/.*backlog \([0-9]*\) over overflow 3000.*/\1/p')
	[ -n "$n" ] && [ "$n" -gt 3000 ] && [ "$n" -le 3100 ] && pass overflow-past-scan || fail overflow-past-scan "reason: $why"
else
	fail overflow-past-scan "not stopped: $(U ls | grep bigovf)"
fi
R SET uf:kv:bigovf:go 1 >/dev/null
U undeploy bigovf >/dev/null

# --- a function's environment: all of it arrives, none of it on a command line
# 253 variables of 4096 bytes (the manifest's most per value) + ENV_COUNT and
# ENV_LEN: the manifest's 255; once through a standby tender, once started plain
env_manifest() { # NAME
	python3 - "$1" "$fn" <<'PY'
import sys
name, image = sys.argv[1], sys.argv[2]
print("name: %s\nfunctions:\n  s:\n    image: %s\n    listen: in\n    scale: { max_units: 1, idle_ms: 600000 }\n    env:" % (name, image))
print('      ENV_COUNT: "253"\n      ENV_LEN: "4096"')
for i in range(253):
    print('      E%03d: "%s"' % (i, chr(ord('a') + i % 26) * 4096))
PY
}
env_case() { # NAME LABEL
	env_manifest "$1" >"$UF_TMP/$1.yaml"
	U deploy "$UF_TMP/$1.yaml" >"$UF_TMP/$1.out" 2>&1 || { fail "env-$2-deploy" "$(head -c 300 "$UF_TMP/$1.out")"; return; }
	echo env | U push "$1" in >/dev/null
	if wait_for 60 kv_is "$1" env-ok 253; then
		[ "$(kv "$1" env-total)" = 255 ] && pass "env-$2-all-255" || fail "env-$2-all-255" "the function has $(kv "$1" env-total) variables, 255 expected"
	else
		fail "env-$2-all-255" "env-ok $(kv "$1" env-ok) of 253 (env-total $(kv "$1" env-total))"
	fi
	local pids leaked="" p
	pids=$(plat_pids "--workflow=$1( |$)") # this platform's only: daemon@asan deploys the same beside it
	[ -n "$pids" ] || { fail "env-$2-not-in-cmdline" "no tender of $1 running"; return; }
	for p in $pids; do
		tr '\0' ' ' <"/proc/$p/cmdline" | grep -Eq 'E000|ENV_COUNT|aaaaaaaaaaaaaaaa' && leaked="$leaked $p"
	done
	[ -z "$leaked" ] && pass "env-$2-not-in-cmdline" || fail "env-$2-not-in-cmdline" "env values in the command line of$leaked: $(tr '\0' ' ' <"/proc/${leaked# }/cmdline" | head -c 200)"
	U undeploy "$1" >/dev/null
}
env_case envs standby
daemon_log | grep 'what=unit-start unit=envs\.' | grep -q 'standby=1' || fail env-standby-used "the unit did not start from a standby"
printf 'prestart=0\n' >"$PLAT_STATE/unifaasd.conf"
pkill -TERM -f -- "unifaasd --state-dir $PLAT_STATE"
wait_for 60 daemon_gone
U up >/dev/null 2>&1
env_case envp plain
daemon_log | grep 'what=unit-start unit=envp\.' | grep -q 'standby=0' || fail env-plain-used "the unit started from a standby"
rm -f "$PLAT_STATE/unifaasd.conf"
pkill -TERM -f -- "unifaasd --state-dir $PLAT_STATE"
wait_for 60 daemon_gone
U up >/dev/null 2>&1

# --- a guest's text cannot forge fields in the daemon's key=value log -------
m=$(manifest forge <<EOF2
name: forge
functions:
  s:
    image: $fn
    listen: in
    env: { FORGE: 'done" level=error what=overflow workflow=forged \\ end' }
    scale: { max_units: 1, idle_ms: 200 }
EOF2
)
U deploy "$m" >/dev/null
echo forge | U push forge in >/dev/null
wait_for 60 sh -c "grep -q 'what=unit-exit unit=forge.s' '$PLAT_STATE/logs/unifaasd.log'"
out=$(python3 - "$PLAT_STATE/logs/unifaasd.log" <<'PY'
import re, sys
text = 'done" level=error what=overflow workflow=forged \\ end'
bare = r'[^\s"=\\]+'
quoted = r'"(?:[^"\\\x00-\x1f]|\\["\\nrt]|\\x[0-9a-f]{2})*"'
field = re.compile(r'([a-z_]+)=(%s|%s)(?: |$)' % (quoted, bare))
def unquote(v):
    if not v.startswith('"'):
        return v
    return re.sub(r'\\(x[0-9a-f]{2}|.)', lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == 'x' and len(m.group(1)) == 3 else {'n': '\n', 'r': '\r', 't': '\t'}.get(m.group(1), m.group(1)), v[1:-1])
records, bad = [], []
for n, line in enumerate(open(sys.argv[1], encoding='utf-8', errors='surrogateescape'), 1):
    line = line.rstrip('\n')
    pos, rec = 0, {}
    while pos < len(line):
        m = field.match(line, pos)
        if not m or m.group(1) in rec:
            bad.append('%d: %s' % (n, line[:160]))
            break
        rec[m.group(1)] = unquote(m.group(2))
        pos = m.end()
    records.append(rec)
hits = [r for r in records if any(text in v for v in r.values())]
print('unparsed=%d forged_records=%d forged_workflow=%d fields=%s' % (len(bad), len(hits),
      sum(r.get('workflow') == 'forged' for r in records), ','.join(k for k, v in hits[0].items() if text in v) if hits else '-'))
for b in bad[:3]:
    print('  ' + b)
PY
)
case $out in
"unparsed=0 forged_records=1 forged_workflow=0 fields=reason") pass log-values-escaped ;;
*) fail log-values-escaped "$out" ;;
esac
U undeploy forge >/dev/null

# --- every key of the design is served: ingress deploys (no key refused) --
printf 'name: routed\nfunctions:\n  s:\n    image: %s\n    listen: in\ningress:\n  mqtt: [{ topic: a/b, queue: in }]\n  http: [{ path: /in, queue: in }]\n' "$fn" >"$UF_TMP/routed.yaml"
U deploy "$UF_TMP/routed.yaml" >"$UF_TMP/us.out" 2>&1
rc=$?
[ $rc = 0 ] && ! not_deployed routed && pass ingress-deploys || fail ingress-deploys "rc $rc: $(cat "$UF_TMP/us.out")"
U undeploy routed >/dev/null

# --- no randomness, no credentials: deploy and up are refused -------------
printf '#include <errno.h>\n#include <sys/types.h>\nssize_t getrandom(void *b, size_t n, unsigned f) { (void)b; (void)n; (void)f; errno = ENOSYS; return -1; }\n' >"$UF_TMP/norandom.c"
cc -shared -fPIC -o "$UF_TMP/norandom.so" "$UF_TMP/norandom.c"
norandom_asan="$ASAN_OPTIONS:verify_asan_link_order=0" # the ASan build: preloaded before its runtime
pkill -TERM -f -- "unifaasd --state-dir $PLAT_STATE"
wait_for 60 daemon_gone
LD_PRELOAD=$UF_TMP/norandom.so ASAN_OPTIONS=$norandom_asan U up >/dev/null 2>&1
m=$(manifest norand <<EOF2
name: norand
functions:
  s:
    image: $fn
    listen: in
EOF2
)
U deploy "$m" >"$UF_TMP/nr.out" 2>&1
rc=$?
[ $rc != 0 ] && grep -q "cannot make a password for the workflow's Redis user: getrandom: Function not implemented" "$UF_TMP/nr.out" &&
	not_deployed norand && pass no-random-deploy-refused || fail no-random-deploy-refused "rc $rc: $(cat "$UF_TMP/nr.out"); $(U ls | grep norand)"
LD_PRELOAD=$UF_TMP/norandom.so ASAN_OPTIONS=$norandom_asan "$UNIFAAS" --state-dir "$UF_TMP/norandom.state" up --api-port 1 >"$UF_TMP/nr.out" 2>&1
rc=$?
[ $rc != 0 ] && grep -q "cannot make a random .*getrandom: Function not implemented" "$UF_TMP/nr.out" &&
	! pgrep -f -- "$UF_TMP/norandom.state" >/dev/null && pass no-random-up-refused || fail no-random-up-refused "rc $rc: $(cat "$UF_TMP/nr.out")"
pkill -TERM -f -- "unifaasd --state-dir $PLAT_STATE"
wait_for 60 daemon_gone
U up >/dev/null 2>&1
