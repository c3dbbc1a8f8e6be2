# tests/platform/lib.sh - bring a private platform up and down for a test.
#
# Sourced after tests/lib.sh.  plat_up starts redis-server, mosquitto and
# unifaasd with `unifaas up` in a fresh state dir under $UF_TMP, on ports
# claimed with uf_port so parallel runs and suites never clash; plat_down
# stops it (also on EXIT).  U runs the CLI against it, R runs redis-cli as
# the platform's admin user.  plat_pids/plat_kill find the processes this
# platform's unifaasd started (units, standby tenders): never another run's
# units of a workflow of the same name.

PLAT_STATE="$UF_TMP/$UF_SUITE.state"
PLAT_API_PORT=$(uf_port) && PLAT_MQTT_PORT=$(uf_port) && PLAT_INGRESS_PORT=$(uf_port) || {
	fail ports "no free TCP port for the platform"
	exit 0
}
export UNIFAAS_STATE=$PLAT_STATE

U() { "$UNIFAAS" --state-dir "$PLAT_STATE" "$@"; }
R() { REDISCLI_AUTH=$(cat "$PLAT_STATE/redis.pass") redis-cli --no-auth-warning -s "$PLAT_STATE/redis.sock" "$@"; }

# plat_up: a fresh platform; PLAT_CONF, when set, is written to the state
# dir's unifaasd.conf first (the user's own settings, e.g. a TAP pool's)
plat_up() {
	rm -rf "$PLAT_STATE"
	if [ -n "${PLAT_CONF:-}" ]; then
		mkdir -p -m 700 "$PLAT_STATE" && printf '%s\n' "$PLAT_CONF" >"$PLAT_STATE/unifaasd.conf" || return 1
	fi
	U up --api-port "$PLAT_API_PORT" --mqtt-port "$PLAT_MQTT_PORT" --ingress-port "$PLAT_INGRESS_PORT" \
		>"$UF_TMP/$UF_SUITE.up.log" 2>&1
}

plat_down() {
	U down >/dev/null 2>&1
}

# plat_suite_up: a suite's platform, brought down again on EXIT (with Redis
# continued first if a test stopped it: RPID, from redis_pid); when it does
# not come up, the failure is recorded and the suite ends.
RPID=
plat_cleanup() {
	[ -n "$RPID" ] && kill -CONT "$RPID" 2>/dev/null
	plat_down
}
plat_suite_up() {
	trap plat_cleanup EXIT
	plat_up || {
		fail up "unifaas up failed: $(tail -5 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"
		exit 0
	}
}
# redis_pid: the platform's redis-server
redis_pid() { cat "$PLAT_STATE/redis.pid" 2>/dev/null || cat "$PLAT_STATE/redis-server.pid"; }

# plat_pids PATTERN: pids of the processes this platform's unifaasd started
# (children of the unifaasd in $PLAT_STATE) whose command line matches the
# extended regular expression PATTERN; fails when there is none
plat_pids() {
	local d
	d=$(cat "$PLAT_STATE/unifaasd.pid" 2>/dev/null) && [ -n "$d" ] && pgrep -P "$d" -f -- "$1"
}
# plat_kill SIGNAL PATTERN: sends SIGNAL to them; fails when there is none
plat_kill() {
	local p
	p=$(plat_pids "$2") || return 1
	# shellcheck disable=SC2086
	kill -"$1" $p
}

# eq A B : true when equal (for wait_for)
eq() { [ "$1" = "$2" ]; }

kv() { U kv get "$1" "$2" 2>/dev/null; }
kv_is() { [ "$(kv "$1" "$2")" = "$3" ]; }
# units WF [STEP]: how many units run
units() { U ps --json | python3 -c "import json,sys; u=json.load(sys.stdin)['units']; print(sum(1 for x in u if x['workflow']=='$1' and ('${2:-}'=='' or x['step']=='${2:-}')))"; }
units_is() { [ "$(units "$1")" = "$2" ]; }
xlen_is() { [ "$(R XLEN "$1")" = "$2" ]; }
no_units() { [ "$(units "$1")" = 0 ]; }
drained() { # WF QUEUE STEP: nothing lagging or pending
	[ "$(R XINFO GROUPS "uf:q:$1:$2" | awk -v s="$3" '$0=="name"{getline; n=$0} $0=="pending"{getline; p=$0} $0=="lag"{getline; if (n==s) print p+$0}')" = 0 ]
}
# holds WF QUEUE STEP: a unit of STEP holds events not acknowledged yet
holds() { [ "$(R XPENDING "uf:q:$1:$2" "$3" | head -1)" -gt 0 ]; }
# kill_holding WF QUEUE STEP [CMD...]: SIGKILLs the unit of STEP (one unit)
# while it holds a batch.  The unit is stopped first and killed only if it
# holds events then (CMD, if given, runs while it is stopped); else it is
# continued and stopped again at once, so it cannot run through its work
# between two looks (a unit handles 1000 events in about a second, a look at
# Redis takes a good part of that on a loaded machine).  Fails if that does
# not happen within 60 s.
kill_holding() {
	local wf=$1 q=$2 st=$3 re="--consumer=$1\\.$3\\." end=$((SECONDS + 60)) tries=0 found=0
	shift 3
	while [ $SECONDS -lt $end ]; do
		tries=$((tries + 1))
		if plat_kill STOP "$re" 2>/dev/null; then
			found=$((found + 1))
			if holds "$wf" "$q" "$st"; then
				[ $# -eq 0 ] || "$@"
				plat_kill KILL "$re"
				return
			fi
			plat_kill CONT "$re" 2>/dev/null
		else
			sleep 0.02 # no unit (yet)
		fi
	done
	echo "kill_holding $wf $q $st: $tries tries, a unit stopped $found times, never holding events" >&2
	return 1
}
# workflows: the names of the deployed workflows, one a line (not the rest of
# `unifaas ls`, whose units and state change by themselves)
workflows() { U ls --json | python3 -c 'import json,sys; print("\n".join(sorted(w["name"] for w in json.load(sys.stdin)["workflows"])))'; }
# not_deployed WF: the list of deployed workflows could be read and WF is not
# in it (`! U ls | grep WF` also passes when the daemon does not answer)
not_deployed() {
	local w
	w=$(workflows) && ! grep -qxF -- "$1" <<<"$w"
}
daemon_log() { cat "$PLAT_STATE/logs/unifaasd.log"; }
# subscribed WF: unifaasd's MQTT session of WF has its routes subscribed
# (the broker's SUBACK, logged): from then on the broker keeps their
# messages for it (a fixed sleep after the connection was outlasted by a
# loaded machine, and a message published before is not kept)
subscribed() { wait_for 30 grep -q "what=mqtt op=subscribe workflow=$1 .*result=subscribed" "$PLAT_STATE/logs/unifaasd.log"; }
# sub_start ID OUT ARGS...: a test's subscriber (mosquitto_sub ARGS, client
# ID, output in OUT) in the background, its pid in SUB_PID, that gets every
# message on its filters published after sub_start returns: its session is
# made and subscribed first (clean session off; -E returns at the SUBACK),
# then the subscriber connects to it, and sub_start returns once the broker
# logged that connection (a fixed sleep for the SUBACK was a timing
# assertion; a message published before the subscription is not kept)
sub_start() {
	local id=$1 out=$2
	shift 2
	mosquitto_sub -i "$id" -c -E "$@" >"$out" 2>&1 || return 1
	mosquitto_sub -i "$id" -c "$@" >"$out" 2>&1 &
	SUB_PID=$!
	# its second connection (ID is the test's: one sub_start each)
	wait_for 10 sh -c "[ \"\$(grep -c 'as $id (' '$PLAT_STATE/logs/mosquitto.log')\" -ge 2 ]"
}

# manifest NAME: writes a manifest from stdin into $UF_TMP and echoes its path
manifest() {
	cat >"$UF_TMP/$1.yaml"
	echo "$UF_TMP/$1.yaml"
}

# deploy_ingress_pair IMAGE [FLOOD_SHARE CALM_SHARE]: deploys the workflows
# flood and calm of the push-window suites (ingress_fair.sh, ingress_rate.sh):
# each one step of IMAGE on queue "in" (one unit), fed by the HTTP ingress
# (/in) and MQTT (WF/#, QoS 1), with `share:` when given; their manifests
# are $UF_TMP/flood.yaml and $UF_TMP/calm.yaml.  A deploy that fails is
# recorded (check "deploy") and the helper fails.
deploy_ingress_pair() {
	local img=$1 wf share m
	for wf in "flood:${2:-}" "calm:${3:-}"; do
		share=${wf#*:} wf=${wf%%:*}
		m=$(manifest "$wf" <<EOF2
name: $wf
$([ -n "$share" ] && echo "share: $share")
functions:
  s:
    image: $img
    listen: in
    scale: { max_units: 1 }
ingress:
  http: [{ path: /in, queue: in }]
  mqtt: [{ topic: "$wf/#", queue: in, qos: 1 }]
EOF2
)
		U deploy "$m" >/dev/null || {
			fail deploy "$wf did not deploy: $(U deploy "$m" 2>&1)"
			return 1
		}
	done
}
