# tests/platform/lib.sh - bring a private platform up and down for a test.
#
# Sourced after tests/lib.sh.  plat_up starts redis-server, mosquitto and
# unifaasd with `unifaas up` in a fresh state dir under $UF_TMP, on ports
# derived from the suite's pid so parallel or leftover platforms never clash;
# plat_down stops it (also on EXIT).  U runs the CLI against it, R runs
# redis-cli as the platform's admin user.

PLAT_STATE="$UF_TMP/$UF_SUITE.state"
PLAT_API_PORT=$((20000 + ($$ % 20000) * 2))
PLAT_MQTT_PORT=$((PLAT_API_PORT + 1))
export UNIFAAS_STATE=$PLAT_STATE

U() { "$UNIFAAS" --state-dir "$PLAT_STATE" "$@"; }
R() { REDISCLI_AUTH=$(cat "$PLAT_STATE/redis.pass") redis-cli --no-auth-warning -s "$PLAT_STATE/redis.sock" "$@"; }

plat_up() {
	rm -rf "$PLAT_STATE"
	U up --api-port "$PLAT_API_PORT" --mqtt-port "$PLAT_MQTT_PORT" >"$UF_TMP/$UF_SUITE.up.log" 2>&1
}

plat_down() {
	U down >/dev/null 2>&1
}

# wait_for SECONDS CMD... : polls CMD every 50 ms until it succeeds
wait_for() {
	local t=$1 i
	shift
	for i in $(seq $((t * 20))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
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
daemon_log() { cat "$PLAT_STATE/logs/unifaasd.log"; }

# manifest NAME: writes a manifest from stdin into $UF_TMP and echoes its path
manifest() {
	cat >"$UF_TMP/$1.yaml"
	echo "$UF_TMP/$1.yaml"
}
