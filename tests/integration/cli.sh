#!/usr/bin/env bash
# The `unifaas` command's contract (docs/cli.md): help and usage errors, exit
# codes, the state dir, `up`/`down`/`status` with real redis-server,
# mosquitto and unifaasd, and the API commands against the real daemon.
# Every platform of this suite lives in a state dir under $UF_TMP, on ports
# claimed with uf_port, so neither a user's platform nor another test run's
# is ever touched.
#
# `unifaas up` leaves its servers running detached; when `down` stops them
# they are nobody's children, and PID 1 here does not reap orphans.  So this
# script makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER, kept
# across exec) and bash reaps them.
if [ -z "${UF_CLI_SUBREAPER:-}" ]; then
	export UF_CLI_SUBREAPER=1
	exec perl -e 'syscall(157, 36, 1, 0, 0, 0) == 0 or die "prctl(PR_SET_CHILD_SUBREAPER): $!\n";
		exec @ARGV or die "exec: $!\n"' bash "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"

S="$UF_TMP/$UF_SUITE.state"
W="$UF_TMP/$UF_SUITE.work"
mkdir -p "$W"
U() { timeout 60 "$UNIFAAS" --state-dir "$S" "$@"; }

# leave nothing running, whatever happens
cleanup() {
	[ -d "$S" ] && timeout 60 "$UNIFAAS" --state-dir "$S" down >/dev/null 2>&1
	local f
	for f in "$S"/*.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	[ -n "${squatter:-}" ] && kill "$squatter" 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT

# expect NAME STATUS ERE CMD... : CMD must exit with STATUS and print a line
# matching ERE on stderr (no check for an empty ERE); its output is kept in
# $W/NAME.out and $W/NAME.err
expect() {
	local name=$1 want=$2 re=$3
	shift 3
	"$@" </dev/null >"$W/$name.out" 2>"$W/$name.err"
	local rc=$?
	if [ $rc -ne "$want" ]; then
		fail "$name" "status $rc, expected $want; stderr: $(head -c 400 "$W/$name.err" | tr '\n' ' ')"
	elif [ -n "$re" ] && ! grep -Eq -- "$re" "$W/$name.err"; then
		fail "$name" "stderr does not match /$re/: $(head -c 400 "$W/$name.err" | tr '\n' ' ')"
	else
		pass "$name"
		return 0
	fi
	return 1
}

# processes whose command line names the state dir (servers, units)
left_running() {
	pgrep -f -- "$S" | tr '\n' ' '
}
# none_running: nothing of it runs (a state for wait_for: its arguments are
# expanded once, so `wait_for N test -z "$(left_running)"` never polled)
none_running() { [ -z "$(left_running)" ]; }

# --- help and usage (no platform needed) ----------------------------------------------
expect help 0 '' "$UNIFAAS" help
for c in build run up down status deploy undeploy ls resume push ps queues events dlq describe logs kv version; do
	grep -q "^  $c" "$W/help.out" || fail help-lists-$c "'unifaas help' does not list $c"
done
grep -q '^Exit status: 0 ok, 1 error, 2 usage, 3 platform not running, 4 not found,' "$W/help.out" &&
	grep -q '65 invalid manifest, 69 unavailable' "$W/help.out" && pass help-exit-codes ||
	fail help-exit-codes "the exit codes are not in 'unifaas help'"
for c in up down status deploy undeploy ls resume push ps queues events dlq describe logs kv; do
	if "$UNIFAAS" "$c" --help >"$W/h1" 2>&1 && "$UNIFAAS" help "$c" >"$W/h2" 2>&1 &&
		grep -q "^usage: unifaas $c" "$W/h1" && cmp -s "$W/h1" "$W/h2"; then
		pass "help-$c"
	else
		fail "help-$c" "$(head -2 "$W/h1" | tr '\n' ' ')"
	fi
done
# docs/cli.md shows 'unifaas help' as it is and each command's usage as its
# help prints it; every line of every help fits 80 columns
python3 - "$UF_TOP/docs/cli.md" "$UNIFAAS" >"$W/helpdoc" 2>&1 <<'EOF' && pass help-matches-cli-md || fail help-matches-cli-md "$(head -5 "$W/helpdoc")"
import re, subprocess, sys
doc, U = open(sys.argv[1]).read(), sys.argv[2]
def out(*a):
    return subprocess.run([U, *a], capture_output=True, text=True).stdout
m = re.search(r"## unifaas\n\n((?:    .*\n|\n)+?)\n`unifaas help", doc)
block = "\n".join(l[4:] for l in m.group(1).rstrip("\n").split("\n")) + "\n"
bad = [] if block == out("help") else ["the '## unifaas' block is not 'unifaas help'"]
# "sim slack": a subcommand with its own help (`unifaas help sim slack`)
for u in re.finditer(r"^    (usage: unifaas (\w+(?: slack)?) .*\n(?:     +\S.*\n)*)", doc, re.M):
    want, cmd = u.group(1), u.group(2)
    if cmd == "COMMAND":
        continue
    got = out("help", *cmd.split())
    lines = want.splitlines()
    if not got.startswith("\n".join([lines[0]] + [l[4:] for l in lines[1:]]) + "\n"):
        bad.append("usage of %s: cli.md %r, help %r" % (cmd, want, got.splitlines()[:2]))
for cmd in [""] + sorted(set(re.findall(r"^  (\w+(?: slack)?) ", out("help"), re.M))):
    for l in out(*(["help", *cmd.split()] if cmd else ["help"])).splitlines():
        if len(l) > 80:
            bad.append("help %s: %d columns: %s" % (cmd, len(l), l))
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
expect help-unknown 2 "^unifaas: help: unknown command 'frob'$" "$UNIFAAS" help frob
expect unknown-option 2 "^unifaas: ps: unknown option '--bogus'$" "$UNIFAAS" ps --bogus
grep -q '^usage: unifaas ps \[--json\]$' "$W/unknown-option.err" && pass unknown-option-usage ||
	fail unknown-option-usage "no usage line: $(cat "$W/unknown-option.err")"
expect unknown-short-option 2 "^unifaas: logs: unknown option '-x'$" "$UNIFAAS" logs -x a/b
expect option-needs-value 2 "^unifaas: up: option '--api-port' needs a value$" "$UNIFAAS" up --api-port
expect bad-port 2 "^unifaas: up: --api-port 'http': expected a number from 1 to 65535$" "$UNIFAAS" up --api-port http
expect port-zero 2 "^unifaas: up: --mqtt-port '0': expected a number" "$UNIFAAS" up --mqtt-port 0
expect same-ports 2 "^unifaas: up: --api-port and --mqtt-port are both 9000: they must differ$" \
	"$UNIFAAS" up --api-port 9000 --mqtt-port 9000
expect up-extra-arg 2 "^unifaas: up: unexpected argument 'now'$" "$UNIFAAS" up now
expect deploy-no-file 2 '^unifaas: deploy: missing argument$' "$UNIFAAS" deploy
expect deploy-missing-file 2 "^unifaas: deploy: $W/none.yaml: No such file or directory$" "$UNIFAAS" deploy "$W/none.yaml"
expect deploy-directory 2 "^unifaas: deploy: $W: Is a directory$" "$UNIFAAS" deploy "$W"
# input without end is read up to its limit, not forever (deploy /dev/zero hung, growing)
expect deploy-endless 2 "^unifaas: deploy: /dev/zero: larger than 1048576 bytes; is this a manifest\?$" timeout 20 "$UNIFAAS" deploy /dev/zero
expect kv-set-endless 1 "^unifaas: kv: set wf: the value on standard input is over 16777216 bytes, the most a KV value may be$" \
	timeout 20 bash -c '"$0" kv set wf k </dev/zero' "$UNIFAAS"
expect push-one-arg 2 '^unifaas: push: missing argument$' "$UNIFAAS" push wf
expect push-bad-name 2 "^unifaas: push: workflow name 'a b' is not valid: use 1\.\.48 characters of A-Z a-z 0-9 \. _ -, not \. or \.\.$" \
	"$UNIFAAS" push 'a b' q x
expect push-bad-queue 2 "^unifaas: push: queue name 'q/../x' is not valid" "$UNIFAAS" push wf 'q/../x' x
expect long-name 2 "name '$(printf 'a%.0s' $(seq 49))' is not valid" "$UNIFAAS" undeploy "$(printf 'a%.0s' $(seq 49))"
expect logs-no-slash 2 "^unifaas: logs: 'wf': expected WORKFLOW/STEP$" "$UNIFAAS" logs wf
expect kv-bad-op 2 "^unifaas: kv: unknown operation 'put': expected get, set or del$" "$UNIFAAS" kv put wf k v
expect kv-get-extra 2 "^unifaas: kv: get: unexpected argument 'v'$" "$UNIFAAS" kv get wf k v
# a refused name or key is shown cut to 64 bytes, with its length, and its
# control and non-UTF-8 bytes as \xNN (they reached the terminal raw)
expect kv-bad-key 2 "^unifaas: kv: KV key '$(printf 'k%.0s' $(seq 64))\.\.\.' \(513 bytes\) is not valid: use 1\.\.512 bytes of UTF-8 text without NUL$" \
	"$UNIFAAS" kv get wf "$(printf 'k%.0s' $(seq 513))"
expect kv-bad-key-utf8 2 "^unifaas: kv: KV key 'a\\\\xffb' is not valid: use 1\.\.512 bytes of UTF-8 text without NUL$" "$UNIFAAS" kv get wf "$(printf 'a\377b')"
expect bad-name-control 2 "^unifaas: push: workflow name 'a\\\\x1b\[2Jb' is not valid" "$UNIFAAS" push "$(printf 'a\033[2Jb')" q x
expect resume-no-wf 2 '^unifaas: resume: missing argument$' "$UNIFAAS" resume
expect version 0 '' "$UNIFAAS" version
grep -Eq '^unifaas [0-9.]+ \(ABI [0-9]+\)$' "$W/version.out" && pass version-line || fail version-line "$(cat "$W/version.out")"

# --- where the state dir is -------------------------------------------------------------
loc() { "$UNIFAAS" status "$@" 2>/dev/null | sed -n 's/^state_dir: //p'; }
[ "$(UNIFAAS_STATE="$W/e" loc)" = "$W/e" ] && pass state-from-env || fail state-from-env "$(UNIFAAS_STATE="$W/e" loc)"
[ "$(UNIFAAS_STATE="$W/e" loc --state-dir "$W/o")" = "$W/o" ] && pass state-option-over-env ||
	fail state-option-over-env "$(UNIFAAS_STATE="$W/e" loc --state-dir "$W/o")"
[ "$(env -u UNIFAAS_STATE XDG_STATE_HOME="$W/x" "$UNIFAAS" status | sed -n 's/^state_dir: //p')" = "$W/x/unifaas" ] &&
	pass state-xdg || fail state-xdg "not under XDG_STATE_HOME"
[ "$(env -u UNIFAAS_STATE -u XDG_STATE_HOME HOME="$W/home" "$UNIFAAS" status | sed -n 's/^state_dir: //p')" = \
	"$W/home/.local/state/unifaas" ] && pass state-home || fail state-home "not under ~/.local/state"
[ "$(cd "$W" && "$UNIFAAS" --state-dir rel status | sed -n 's/^state_dir: //p')" = "$W/rel" ] &&
	pass state-made-absolute || fail state-made-absolute "relative --state-dir kept relative"

# --- platform not running ---------------------------------------------------------------
printf 'name: x\n' >"$W/x.yaml"
for c in "ps" "ls" "queues" "push wf q x" "kv get wf k" "logs wf/s" "undeploy wf" "resume wf" "deploy $W/x.yaml" \
	"events wf q" "dlq ls wf" "describe wf" \
	"status --json"; do
	# shellcheck disable=SC2086
	expect "not-running-${c%% *}" 3 "is the platform up\? run 'unifaas up'" U $c
done
expect status-not-running 3 '' U status
grep -q '^unifaasd: stopped$' "$W/status-not-running.out" && pass status-says-stopped ||
	fail status-says-stopped "$(cat "$W/status-not-running.out")"
expect down-not-running 0 '' U down
[ "$(grep -c ': not running$' "$W/down-not-running.out")" = 3 ] && pass down-says-not-running ||
	fail down-says-not-running "$(cat "$W/down-not-running.out")"
[ ! -e "$S" ] && pass down-creates-nothing || fail down-creates-nothing "down created $S"

API=$(uf_port) && MQTT=$(uf_port) && INGRESS=$(uf_port) || {
	fail free-ports "no free port found"
	exit 0
}
UP=(up --api-port "$API" --mqtt-port "$MQTT" --ingress-port "$INGRESS")

# --- up that cannot complete leaves nothing running ------------------------------------
expect up-without-unifaasd 1 "^unifaas: up: unifaasd not found at $W/no-unifaasd: No such file or directory \(run 'make', or set UNIFAAS_DAEMON\)$" \
	env UNIFAAS_DAEMON="$W/no-unifaasd" "$UNIFAAS" --state-dir "$S" "${UP[@]}"
[ -z "$(left_running)" ] && [ -z "$(ls "$S"/*.pid 2>/dev/null)" ] && pass up-without-unifaasd-nothing-left ||
	fail up-without-unifaasd-nothing-left "running: $(left_running); $(ls "$S" 2>&1 | tr '\n' ' ')"
# a daemon that exits at once: redis and mosquitto were started, and are stopped again
expect up-daemon-dies 1 '^unifaas: up: unifaasd did not start: it exited with status 1$' \
	env UNIFAAS_DAEMON=/bin/false "$UNIFAAS" --state-dir "$S" "${UP[@]}"
grep -q '^unifaas: up: stopped mosquitto again$' "$W/up-daemon-dies.err" &&
	grep -q '^unifaas: up: stopped redis again$' "$W/up-daemon-dies.err" && pass up-daemon-dies-cleanup ||
	fail up-daemon-dies-cleanup "$(cat "$W/up-daemon-dies.err" | tr '\n' ' ')"
[ -z "$(left_running)" ] && [ -z "$(ls "$S"/*.pid 2>/dev/null)" ] && pass up-daemon-dies-nothing-left ||
	fail up-daemon-dies-nothing-left "running: $(left_running)"
# a state dir that cannot be made, or whose socket path would be too long
expect up-state-not-creatable 1 "^unifaas: up: cannot create /etc/hostname/x: Not a directory$" \
	"$UNIFAAS" --state-dir /etc/hostname/x "${UP[@]}"
long="$W/$(printf 'd%.0s' $(seq 120))"
expect up-state-too-long 2 "^unifaas: up: state dir $long: too long for a unix socket path \(at most [0-9]+ characters\): use a shorter --state-dir$" \
	"$UNIFAAS" --state-dir "$long" "${UP[@]}"
[ ! -e "$long" ] && pass up-state-too-long-creates-nothing || fail up-state-too-long-creates-nothing "$long was made"
# a stale pid file naming a live process that is not unifaasd: never signalled
mkdir -p "$W/stale" && echo $$ >"$W/stale/unifaasd.pid"
expect down-stale-pid 0 '' "$UNIFAAS" --state-dir "$W/stale" down
grep -qx 'unifaasd: not running' "$W/down-stale-pid.out" && [ ! -e "$W/stale/unifaasd.pid" ] && pass down-stale-pid-ignored ||
	fail down-stale-pid-ignored "$(cat "$W/down-stale-pid.out")"
# a port that is taken, by a real second broker
mosquitto -p "$MQTT" >/dev/null 2>&1 &
squatter=$!
if wait_for 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MQTT"; then
	expect up-mqtt-port-taken 1 "^unifaas: up: port $MQTT \(MQTT\) is already in use on 127.0.0.1: another broker\? pick a free one with --mqtt-port N$" \
		U "${UP[@]}"
	expect up-api-port-taken 1 "^unifaas: up: port $MQTT \(control API\) is already in use on 127.0.0.1: pick a free one with --api-port N$" \
		U up --api-port "$MQTT" --mqtt-port "$API" --ingress-port "$INGRESS"
	[ -z "$(left_running)" ] && pass up-port-taken-nothing-left || fail up-port-taken-nothing-left "$(left_running)"
else
	fail up-port-taken "the squatting mosquitto did not listen on $MQTT"
fi
kill "$squatter" 2>/dev/null
wait "$squatter" 2>/dev/null
squatter=

if [ ! -x "$UF_BIN/unifaasd" ]; then
	fail unifaasd-built "no $UF_BIN/unifaasd: run 'make' (the rest of the suite needs it)"
	exit 0
fi

# --- up ---------------------------------------------------------------------------------
if ! expect up 0 '' U "${UP[@]}"; then
	cat "$S"/logs/*.log >&2 2>/dev/null
	exit 0
fi
for l in "state_dir: $S" "redis_socket: $S/redis.sock" "mqtt_url: mqtt://127.0.0.1:$MQTT" \
	"api_url: http://127.0.0.1:$API" "ingress_url: http://127.0.0.1:$INGRESS" "api_token_file: $S/api.token" \
	"units: 0 (max 32)" "workflows: 0"; do
	grep -qxF "$l" "$W/up.out" || fail up-prints-status "no line '$l' in: $(tr '\n' '|' <"$W/up.out")"
done
grep -Eq '^unifaasd: running \(pid [0-9]+\)$' "$W/up.out" && pass up-prints-status ||
	fail up-prints-status "$(tr '\n' '|' <"$W/up.out")"
[ "$(stat -c %a "$S")" = 700 ] && pass state-dir-0700 || fail state-dir-0700 "$(stat -c %a "$S")"
[ "$(stat -c %a "$S/redis.pass")" = 600 ] && [ "$(stat -c %a "$S/api.token")" = 600 ] &&
	grep -Eqx '[0-9a-f]{32}' "$S/redis.pass" && grep -Eqx '[0-9a-f]{64}' "$S/api.token" && pass secrets ||
	fail secrets "$(stat -c '%n %a' "$S/redis.pass" "$S/api.token" | tr '\n' ' ')"
grep -qx "requirepass $(cat "$S/redis.pass")" "$S/redis.conf" && grep -qx 'port 0' "$S/redis.conf" &&
	grep -qx 'appendonly yes' "$S/redis.conf" && grep -qx 'appendfsync everysec' "$S/redis.conf" &&
	grep -qx "unixsocket $S/redis.sock" "$S/redis.conf" && grep -qx 'unixsocketperm 700' "$S/redis.conf" &&
	grep -qx 'notify-keyspace-events Kgt' "$S/redis.conf" && pass redis-conf || fail redis-conf "$(cat "$S/redis.conf")"
grep -qx "listener $MQTT 127.0.0.1" "$S/mosquitto.conf" && pass mosquitto-conf || fail mosquitto-conf "$(cat "$S/mosquitto.conf")"
hvt=$(sed -n 's/^hvt=//p' "$S/unifaas.conf")
grep -qx "redis_socket=$S/redis.sock" "$S/unifaas.conf" && grep -qx "redis_password_file=$S/redis.pass" "$S/unifaas.conf" &&
	grep -qx "api_port=$API" "$S/unifaas.conf" && grep -qx "mqtt_url=mqtt://127.0.0.1:$MQTT" "$S/unifaas.conf" &&
	grep -qx 'max_units=32' "$S/unifaas.conf" && [ "$hvt" = "$(realpath "$HVT")" ] && pass unifaas-conf ||
	fail unifaas-conf "$(cat "$S/unifaas.conf")"
# redis wants the password; mosquitto listens on loopback
[ "$(REDISCLI_AUTH=$(cat "$S/redis.pass") redis-cli -s "$S/redis.sock" PING 2>/dev/null)" = PONG ] &&
	redis-cli -s "$S/redis.sock" PING 2>&1 | grep -q NOAUTH && pass redis-password || fail redis-password "no password needed?"
(exec 3<>"/dev/tcp/127.0.0.1/$MQTT") 2>/dev/null && pass mosquitto-listens || fail mosquitto-listens "port $MQTT"
pids=$(cat "$S"/*.pid | tr '\n' ' ')
expect up-again 0 '' U "${UP[@]}"
grep -qx 'unifaas: up: already up' "$W/up-again.out" && [ "$(cat "$S"/*.pid | tr '\n' ' ')" = "$pids" ] &&
	pass up-idempotent || fail up-idempotent "$(head -1 "$W/up-again.out"), pids $pids -> $(cat "$S"/*.pid | tr '\n' ' ')"
expect status 0 '' U status
expect status-json 0 '' U status --json
grep -q "^{.*\"api_url\": *\"http://127.0.0.1:$API\"" "$W/status-json.out" && pass status-json-is-api ||
	fail status-json-is-api "$(cat "$W/status-json.out")"
# a wrong token is refused, with a hint
cp "$S/api.token" "$W/token.saved"
echo 0000 >"$S/api.token"
expect wrong-token 1 "^unifaas: ls: .*\(the token in api.token is not the running unifaasd's" U ls
cp "$W/token.saved" "$S/api.token"

# --- a 429 (busy) from a push: status 75, the server's reason and Retry-After
# A stand-in control API that answers every request 429 as unifaasd does
# when a workflow is held to its ingress rate (docs/api.md).
F="$UF_TMP/$UF_SUITE.busy.state"
FP=$(uf_port)
mkdir -p "$F" && printf 'api_port=%s\n' "$FP" >"$F/unifaas.conf" && echo 0000 >"$F/api.token" && chmod 600 "$F/api.token"
python3 - "$FP" >"$W/busy-server.log" 2>&1 <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"error":{"code":"busy","message":"workflow \'w\' is held to 2 events/s; redis queued 0 of 1 events"}}'
        self.send_response(429)
        self.send_header("Retry-After", "7")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
busy_pid=$!
wait_for 30 curl -s -o /dev/null "http://127.0.0.1:$FP/"
expect push-busy-75 75 "^unifaas: push: w/q: workflow 'w' is held to 2 events/s; redis queued 0 of 1 events \(retry after 7 s\)$" \
	timeout 60 "$UNIFAAS" --state-dir "$F" push w q x
kill "$busy_pid" 2>/dev/null
wait "$busy_pid" 2>/dev/null

# --- the API commands -------------------------------------------------------------------
# no unit runs: nothing was asked of Redis, so nothing is stale (ps said
# "Redis did not answer in time" whenever no unit ran)
expect ps-no-units 0 '' U ps
[ ! -s "$W/ps-no-units.err" ] && [ "$(cat "$W/ps-no-units.out")" = "$(printf 'WORKFLOW  STEP  UNIT  PID  STATE  UPTIME  EVENTS')" ] &&
	pass ps-no-units-not-stale || fail ps-no-units-not-stale "$(cat "$W/ps-no-units.out" "$W/ps-no-units.err")"
U ps --json | grep -q '"stale"' && fail ps-no-units-json-not-stale "$(U ps --json)" || pass ps-no-units-json-not-stale
fdc=$(build_guest "$UF_TOP/functions/fdc.c" "$W/fdc.uf") || fail build-fdc "fdc.c did not build"
cat >"$W/w.yaml" <<'EOF'
name: clitest
functions:
  fdc:
    image: fdc.uf
    listen: door
    push: door-opens
    scale: { max_units: 2, idle_ms: 300 }
EOF
printf 'name: clitest2\nfunctions:\n  fdc:\n    image: fdc.uf\n    listn: door\n    memory: lots\n' >"$W/bad.yaml"
(cd "$W" && expect deploy-invalid 65 '^unifaas: deploy: bad.yaml:5: ' U deploy bad.yaml)
grep -q '^unifaas: deploy: bad.yaml:6: ' "$W/deploy-invalid.err" && pass deploy-invalid-every-problem ||
	fail deploy-invalid-every-problem "$(cat "$W/deploy-invalid.err")"
(cd "$W" && expect deploy 0 '' U deploy w.yaml)
grep -qx 'deployed clitest: steps fdc' "$W/deploy.out" && pass deploy-output || fail deploy-output "$(cat "$W/deploy.out")"
expect deploy-exists 1 "^unifaas: deploy: $W/w.yaml: .*--replace" U deploy "$W/w.yaml"
expect deploy-replace 0 '' U deploy "$W/w.yaml" --replace
grep -qx 'redeployed clitest: steps fdc' "$W/deploy-replace.out" && pass deploy-replace-output ||
	fail deploy-replace-output "$(cat "$W/deploy-replace.out")"
expect ls 0 '' U ls
grep -Eq '^NAME +STEPS +UNITS +STATE +REASON$' "$W/ls.out" && grep -Eq '^clitest +1 +[0-9]+ +running' "$W/ls.out" &&
	pass ls-table || fail ls-table "$(cat "$W/ls.out")"
expect ls-json 0 '' U ls --json
grep -q '^{"workflows": *\[' "$W/ls-json.out" && pass ls-json-is-api || fail ls-json-is-api "$(cat "$W/ls-json.out")"

expect push-data 0 '' U push clitest door open
grep -qx 'queued 1' "$W/push-data.out" && pass push-data-output || fail push-data-output "$(cat "$W/push-data.out")"
# 25000 lines from stdin: three requests of at most 10000
for i in $(seq 25000); do echo open; done >"$W/opens.txt"
U push clitest door <"$W/opens.txt" >"$W/push-stdin.out" 2>"$W/push-stdin.err"
[ $? = 0 ] && grep -qx 'queued 25000' "$W/push-stdin.out" && pass push-stdin ||
	fail push-stdin "$(cat "$W/push-stdin.out" "$W/push-stdin.err")"
printf 'open\n\nopen' | U push clitest door >"$W/push-blank.out" 2>&1
grep -qx 'queued 2' "$W/push-blank.out" && pass push-blank-lines-skipped || fail push-blank-lines-skipped "$(cat "$W/push-blank.out")"
expect push-empty-stdin 0 '' U push clitest door
grep -qx 'queued 0' "$W/push-empty-stdin.out" && pass push-empty-stdin-output || fail push-empty-stdin-output "$(cat "$W/push-empty-stdin.out")"
head -c $((1100 * 1024)) /dev/zero | tr '\0' a >"$W/big-event.txt"
echo >>"$W/big-event.txt"
U push clitest door <"$W/big-event.txt" >/dev/null 2>"$W/push-too-large.err"
rc=$?
[ $rc = 1 ] && grep -q '^unifaas: push: clitest/door: .*(the request is too large)$' "$W/push-too-large.err" &&
	pass push-too-large || fail push-too-large "status $rc: $(cat "$W/push-too-large.err")"
expect push-unknown-workflow 4 "^unifaas: push: nosuch/door: " U push nosuch door open

expect ps 0 '' U ps
grep -Eq '^WORKFLOW +STEP +UNIT +PID +STATE +UPTIME +EVENTS$' "$W/ps.out" && pass ps-table || fail ps-table "$(cat "$W/ps.out")"
expect ps-json 0 '' U ps --json
grep -q '^{"units": *\[' "$W/ps-json.out" && pass ps-json-is-api || fail ps-json-is-api "$(cat "$W/ps-json.out")"
# every event handled: fdc counted 25003 openings
count() { [ "$(U kv get clitest fdc-count 2>/dev/null)" = 25003 ]; }
wait_for 180 count && pass events-handled || fail events-handled "fdc-count $(U kv get clitest fdc-count 2>&1)"
expect queues 0 '' U queues
grep -Eq '^WORKFLOW +QUEUE +WAITING +PENDING +DELAYED +ENTRIES +DEAD$' "$W/queues.out" &&
	grep -Eq '^clitest +door +0 +0 +0 +25003 +0$' "$W/queues.out" && grep -Eq '^clitest +door-opens +[-0-9]+ +0 +0 +25003 ' "$W/queues.out" &&
	pass queues-table || fail queues-table "$(cat "$W/queues.out")"
expect queues-json 0 '' U queues --json
grep -q '^{"queues": *\[' "$W/queues-json.out" && pass queues-json-is-api || fail queues-json-is-api "$(cat "$W/queues-json.out")"

expect kv-set 0 '' U kv set clitest greeting 'hello world'
expect kv-get 0 '' U kv get clitest greeting
[ "$(cat "$W/kv-get.out")" = 'hello world' ] && pass kv-roundtrip || fail kv-roundtrip "$(cat "$W/kv-get.out")"
printf 'two\nlines' | U kv set clitest blob && [ "$(U kv get clitest blob | od -An -c | tr -s ' ')" = " t w o \n l i n e s \n" ] &&
	pass kv-set-stdin || fail kv-set-stdin "$(U kv get clitest blob | od -c)"
expect kv-del 0 '' U kv del clitest greeting
expect kv-get-missing 1 "^unifaas: kv: get clitest greeting: " U kv get clitest greeting
expect kv-del-missing 0 '' U kv del clitest greeting

expect undeploy-unknown 4 '^unifaas: undeploy: nosuch: ' U undeploy nosuch
expect resume-running 1 '^unifaas: resume: clitest: ' U resume clitest
expect logs-unknown-step 4 '^unifaas: logs: clitest/nosuch: ' U logs clitest/nosuch
# a bad payload makes fdc log a line; logs shows it, logs -f follows new ones
expect push-bad-payload 0 '' U push clitest door first-bad-payload
wait_for 60 bash -c "'$UNIFAAS' --state-dir '$S' logs clitest/fdc | grep -q first-bad-payload" && pass logs ||
	fail logs "$(U logs clitest/fdc 2>&1 | tail -3)"
U logs -f clitest/fdc >"$W/follow.out" 2>"$W/follow.err" &
follower=$!
sleep 0.5
U push clitest door second-bad-payload >/dev/null
wait_for 60 grep -q second-bad-payload "$W/follow.out" && kill -0 $follower 2>/dev/null && pass logs-follow ||
	fail logs-follow "$(tail -n 3 "$W/follow.out" "$W/follow.err" | tr "\n" "|")"
kill $follower 2>/dev/null
wait $follower 2>/dev/null
# what -f printed is the log as it is, nothing repeated or skipped (a failed event
# is retried, so its line is there more than once in both)
U logs clitest/fdc >"$W/full.out"
cmp -s -n "$(stat -c %s "$W/follow.out")" "$W/follow.out" "$W/full.out" && pass logs-follow-same-as-log ||
	fail logs-follow-same-as-log "$(diff "$W/follow.out" "$W/full.out" | head -5 | tr '\n' '|')"

# --- Redis lost under a running daemon: status says so, up starts it again -------------
REDISCLI_AUTH=$(cat "$S/redis.pass") redis-cli -s "$S/redis.sock" SHUTDOWN >/dev/null 2>&1
wait_for 30 test ! -S "$S/redis.sock"
expect status-redis-down 69 "^unifaas: status: unifaasd cannot reach Redis: run 'unifaas up' to start it again$" U status
grep -qx 'redis: stopped' "$W/status-redis-down.out" && pass status-shows-redis-stopped ||
	fail status-shows-redis-stopped "$(tr '\n' '|' <"$W/status-redis-down.out")"
# a command that needs Redis says so once and how to go on (was "...; retry later
# (unifaasd cannot reach Redis; retry later, or see logs/redis.log ...)")
expect kv-redis-down 69 "^unifaas: kv: get clitest fdc-count: redis is unreachable; retry later \('unifaas status' shows whether Redis runs, 'unifaas up' starts it again; its log is logs/redis.log in the state dir\)$" \
	U kv get clitest fdc-count
daemon_pid=$(cat "$S/unifaasd.pid")
expect up-completes 0 '' U up
grep -Eqx 'redis: running \(pid [0-9]+\)' "$W/up-completes.out" && [ "$(cat "$S/unifaasd.pid")" = "$daemon_pid" ] &&
	pass up-completes-half-started || fail up-completes-half-started "$(tr '\n' '|' <"$W/up-completes.out")"
wait_for 30 U status && pass status-after-redis-back || fail status-after-redis-back "$(U status 2>&1 | tail -n 2)"

# --- down, and up again with the data kept ---------------------------------------------
expect down 0 '' U down
for n in unifaasd mosquitto redis; do
	grep -Eq "^$n: stopped \(pid [0-9]+\)" "$W/down.out" || fail down-output "no '$n: stopped' in $(tr '\n' '|' <"$W/down.out")"
done
wait_for 30 none_running && [ -z "$(ls "$S"/*.pid 2>/dev/null)" ] && pass down-nothing-left ||
	fail down-nothing-left "running: $(left_running); $(ls "$S"/*.pid 2>/dev/null)"
expect status-after-down 3 '' U status
expect down-again 0 '' U down
expect ps-after-down 3 "^unifaas: ps: cannot reach unifaasd at http://127.0.0.1:$API: .*\(is the platform up\? run 'unifaas up'\)$" U ps
expect up-restart 0 '' U up
grep -qx "api_url: http://127.0.0.1:$API" "$W/up-restart.out" && grep -qx "ingress_url: http://127.0.0.1:$INGRESS" "$W/up-restart.out" &&
	pass up-keeps-ports || fail up-keeps-ports "$(cat "$W/up-restart.out")"
[ "$(U kv get clitest fdc-count 2>&1)" = 25003 ] && U ls | grep -q '^clitest ' && pass data-survives-restart ||
	fail data-survives-restart "fdc-count $(U kv get clitest fdc-count 2>&1); $(U ls 2>&1 | tr '\n' '|')"
expect undeploy-purge 0 '' U undeploy clitest --purge
grep -qx 'undeployed clitest (its queues, dead letters, KV, images and logs deleted)' "$W/undeploy-purge.out" && pass undeploy-output ||
	fail undeploy-output "$(cat "$W/undeploy-purge.out")"
expect kv-after-purge 4 '' U kv del clitest fdc-count
expect down-final 0 '' U down
wait_for 30 none_running && pass nothing-left || fail nothing-left "$(left_running)"
finish
