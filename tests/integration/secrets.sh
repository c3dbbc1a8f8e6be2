#!/usr/bin/env bash
# Secrets (issue 9 §3; daemon/secrets.c, docs/manifest.md "secrets"):
# `unifaas secret set` (value on stdin) / ls / rm, and a function reading
# its secret through uf_getenv (tests/platform/platform_fn.c "getenv:N").
# The value must appear in no argv (ps -ef, /proc/<tender>/cmdline), no
# log, no API reply (describe, GET /v1/workflows/WF, secret ls), not in the
# manifest stored in Redis, and in no file of the state dir but its own
# (Redis's AOF included).  A deploy naming a secret not set fails naming it
# with its file:line; names follow the variable rule; a changed secret
# reaches the units started after the change.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || { fail build "platform_fn.c did not build"; exit 0; }
plat_suite_up
PORT=$PLAT_API_PORT
TOKEN=$(cat "$PLAT_STATE/api.token")
V1="v1-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
V2="v2-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

printf '%s\n' "$V1" | U secret set SLACK_URL && pass set || fail set "secret set failed"
ls_out=$(U secret ls) ls_json=$(U secret ls --json)
grep -q '^SLACK_URL ' <<<"$ls_out" && ! grep -q "$V1" <<<"$ls_out$ls_json" &&
	python3 -c 'import json,sys; s=json.loads(sys.argv[1])["secrets"]; assert [x["name"] for x in s]==["SLACK_URL"] and set(s[0])=={"name","set","set_ms"}' "$ls_json" &&
	pass ls-names-only || fail ls-names-only "$ls_out $ls_json"
mode=$(stat -c '%a' "$PLAT_STATE/secrets/SLACK_URL") dmode=$(stat -c '%a' "$PLAT_STATE/secrets")
[ "$mode" = 600 ] && [ "$dmode" = 700 ] && pass store-private || fail store-private "file $mode, dir $dmode"
[ "$(cat "$PLAT_STATE/secrets/SLACK_URL")" = "$V1" ] && pass newline-dropped || fail newline-dropped "stored '$(cat "$PLAT_STATE/secrets/SLACK_URL")'"

# from a terminal the value is read with echo off; interrupted there (^C),
# the terminal gets its echo back (it stayed off: what the user typed next
# was not shown)
tty_echo_after_int() {
	python3 - "$UNIFAAS" "$PLAT_STATE" <<'PY'
import os, pty, signal, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "--state-dir", sys.argv[2], "secret", "set", "TTYTEST"])
buf, end = b"", time.time() + 10
while b"not shown" not in buf and time.time() < end:
    buf += os.read(fd, 100)
os.kill(pid, signal.SIGINT)
_, st = os.waitpid(pid, 0)
echo = termios.tcgetattr(fd)[3] & termios.ECHO
print("prompt" if b"not shown" in buf else "no-prompt", "echo" if echo else "no-echo", "sigint" if os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGINT else "status")
PY
}
out=$(tty_echo_after_int 2>&1)
[ "$out" = "prompt echo sigint" ] && [ ! -e "$PLAT_STATE/secrets/TTYTEST" ] && pass tty-echo-restored-on-interrupt ||
	fail tty-echo-restored-on-interrupt "$out"

# names: the variable rule, in the CLI and in the API
for bad in 9lives a-b 'a b' ''; do
	out=$(printf x | U secret set "$bad" 2>&1)
	rc=$?
	[ $rc = 2 ] && grep -q "letter or _" <<<"$out" && pass "name-refused-'$bad'" || fail "name-refused-'$bad'" "rc $rc: $out"
done
code=$(curl -s -o "$UF_TMP/put.json" -w '%{http_code}' -X PUT --data-binary x -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/secrets/bad-name")
[ "$code" = 400 ] && pass api-name-refused || fail api-name-refused "$code $(cat "$UF_TMP/put.json")"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary x "http://127.0.0.1:$PORT/v1/secrets/OK")
[ "$code" = 401 ] && pass api-needs-token || fail api-needs-token "$code"
out=$(U secret set OTHER "$V2" 2>&1)
rc=$?
[ $rc = 2 ] && grep -q "standard input" <<<"$out" && [ ! -e "$PLAT_STATE/secrets/OTHER" ] && pass value-never-from-argv || fail value-never-from-argv "rc $rc: $out"
head -c 5000 /dev/zero | tr '\0' x | U secret set BIG >/dev/null 2>&1
[ ! -e "$PLAT_STATE/secrets/BIG" ] && pass over-4096-refused || fail over-4096-refused "a 5000-byte secret was stored"

m=$(manifest sec <<EOF
name: sec
functions:
  s:
    image: $fn
    listen: in
    secrets:
      - SLACK_URL
      - NOT_SET_YET
    scale: { max_units: 1, idle_ms: 600000, grace_ms: 0 } # the unit stays until the test ends it
EOF
)
out=$(U deploy "$m" 2>&1)
rc=$?
[ $rc != 0 ] && grep -q "sec.yaml:8: functions.s.secrets: secret 'NOT_SET_YET' is not set" <<<"$out" && ! grep -q SLACK_URL <<<"$out" &&
	not_deployed sec && pass deploy-missing-secret-fails || fail deploy-missing-secret-fails "rc $rc: $out"
sed -i '/NOT_SET_YET/d' "$m"
U deploy "$m" >/dev/null || fail deploy "sec did not deploy"
echo getenv:SLACK_URL | U push sec in >/dev/null
wait_for 20 kv_is sec env:SLACK_URL "$V1" && pass function-reads-secret || fail function-reads-secret "env:SLACK_URL is '$(kv sec env:SLACK_URL)'"

# nowhere else
tpid=$(plat_pids '--consumer=sec\.s\.' | head -1)
leaks=
ps -ef >"$UF_TMP/ps.txt" # (a pipe would list grep, whose argv holds the value)
grep -q -- "$V1" "$UF_TMP/ps.txt" && leaks="$leaks ps"
[ -n "$tpid" ] && tr '\0' ' ' <"/proc/$tpid/cmdline" | grep -q -- "$V1" && leaks="$leaks cmdline"
[ -n "$tpid" ] || leaks="$leaks no-tender-found"
U describe sec --json | grep -q -- "$V1" && leaks="$leaks describe-json"
U describe sec | grep -q -- "$V1" && leaks="$leaks describe"
curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/workflows/sec" | grep -q -- "$V1" && leaks="$leaks api-workflow"
curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/secrets" | grep -q -- "$V1" && leaks="$leaks api-secrets"
R HGET uf:state:wf:sec yaml | grep -q -- "$V1" && leaks="$leaks stored-manifest"
[ -z "$leaks" ] && pass value-nowhere-else || fail value-nowhere-else "found in:$leaks"
# the function wrote the value into its own KV on purpose: without that key,
# no file of the state dir (logs, images, Redis's AOF rewritten) holds it
R DEL uf:kv:sec:env:SLACK_URL >/dev/null
# (the rewrite waited for, not slept on: a loaded machine outlasted a 1 s
# sleep; the old AOF files go once it is done, so the files are looked at
# until none holds the value, and a leak stays one however long it is given)
R BGREWRITEAOF >/dev/null 2>&1
rewritten() { R INFO persistence | tr -d '\r' | grep -qx 'aof_rewrite_in_progress:0' && R INFO persistence | tr -d '\r' | grep -qx 'aof_rewrite_scheduled:0'; }
leaks() { grep -rl --binary-files=text -- "$V1" "$PLAT_STATE" 2>/dev/null | grep -v "^$PLAT_STATE/secrets/SLACK_URL$"; }
wait_for 30 rewritten && wait_for 30 eval '[ -z "$(leaks)" ]'
files=$(leaks)
[ -z "$files" ] && pass not-in-any-state-file || fail not-in-any-state-file "$files"

# a change reaches the units started after it; the running one keeps its value
printf '%s' "$V2" | U secret set SLACK_URL || fail set2 "second set failed"
echo getenv:SLACK_URL | U push sec in >/dev/null
wait_for 20 kv_is sec env:SLACK_URL "$V1" && pass running-unit-keeps-value || fail running-unit-keeps-value "'$(kv sec env:SLACK_URL)'"
plat_kill TERM '--consumer=sec\.s\.' 2>/dev/null
wait_for 20 no_units sec
echo getenv:SLACK_URL | U push sec in >/dev/null
wait_for 20 kv_is sec env:SLACK_URL "$V2" && pass new-unit-gets-new-value || fail new-unit-gets-new-value "'$(kv sec env:SLACK_URL)'"
daemon_log | grep -q -- "$V2" && fail log-clean "the daemon log holds the value" || pass log-clean

# rm: the next deploy fails naming it; a unit that must start says why
plat_kill TERM '--consumer=sec\.s\.' 2>/dev/null
wait_for 20 no_units sec
U secret rm SLACK_URL && [ ! -e "$PLAT_STATE/secrets/SLACK_URL" ] && pass rm || fail rm "secret rm failed"
U secret rm SLACK_URL 2>/dev/null
[ $? = 4 ] && pass rm-missing-not-found || fail rm-missing-not-found "rm of a missing secret did not exit 4"
out=$(U deploy --replace "$m" 2>&1)
rc=$?
[ $rc != 0 ] && grep -q "secret 'SLACK_URL' is not set" <<<"$out" && pass deploy-after-rm-fails || fail deploy-after-rm-fails "rc $rc: $out"
echo getenv:SLACK_URL | U push sec in >/dev/null
wait_for 30 sh -c "grep -q \"what=unit-start workflow=sec step=s cause=.*secret 'SLACK_URL'\" '$PLAT_STATE/logs/unifaasd.log'" &&
	pass start-without-secret-says-why || fail start-without-secret-says-why "$(daemon_log | grep 'what=unit-start workflow=sec' | tail -2)"

# the same through a tender spawned for the unit (no standby: prestart=0)
plat_down
# (under 'ulimit -c unlimited', for the core dump case below)
(ulimit -c unlimited && PLAT_CONF=prestart=0 plat_up) || { fail up2 "the platform without standbys did not come up"; exit 0; }
printf '%s' "$V1" | U secret set SLACK_URL && U deploy "$m" >/dev/null || fail deploy-spawned "set or deploy failed"
echo getenv:SLACK_URL | U push sec in >/dev/null
wait_for 20 kv_is sec env:SLACK_URL "$V1" && daemon_log | grep 'what=unit-start unit=sec\.' | grep -q 'standby=0' &&
	pass spawned-unit-reads-secret || fail spawned-unit-reads-secret "'$(kv sec env:SLACK_URL)' $(daemon_log | grep 'what=unit-start unit=sec' | head -1)"
tpid=$(plat_pids '--consumer=sec\.s\.' | head -1)
ps -ef >"$UF_TMP/ps.txt"
[ -n "$tpid" ] && ! grep -q -- "$V1" "$UF_TMP/ps.txt" && ! tr '\0' ' ' <"/proc/$tpid/cmdline" | grep -q -- "$V1" &&
	pass spawned-not-in-argv || fail spawned-not-in-argv "tender '$tpid'"

# no core dump carries the value: unifaasd and the tender set their core
# limit to 0 and are not dumpable, so a tender that crashes writes no core
# even though the platform was started under 'ulimit -c unlimited'
dpid=$(cat "$PLAT_STATE/unifaasd.pid")
no_core_limit() { grep -Eq '^Max core file size +0 +0 ' "/proc/$1/limits"; }
[ -n "$tpid" ] && no_core_limit "$tpid" && no_core_limit "$dpid" && pass core-limit-zero ||
	fail core-limit-zero "tender: $(grep core "/proc/$tpid/limits"); unifaasd: $(grep core "/proc/$dpid/limits")"
cwd=$(readlink "/proc/$tpid/cwd")
kill -SEGV "$tpid"
wait_for 10 sh -c "! kill -0 $tpid 2>/dev/null"
sleep 1
cores=$(find "$PLAT_STATE" "$cwd" -maxdepth 1 -name 'core*' -type f 2>/dev/null)
[ -z "$cores" ] && pass crash-dumps-no-core ||
	fail crash-dumps-no-core "core files: $cores$(grep -l --binary-files=text -- "$V1" $cores >/dev/null && echo ', holding the value')"
finish
