#!/usr/bin/env bash
# One rule, one definition (issue 8 §1; common/rules.h): every name or key a
# function or a manifest can produce can be read, written and deleted
# through the CLI and the API; keys travel percent-encoded and are decoded
# after the path is split; `unifaas run` reads counters as Redis does.
# A private platform, a real deployed function (tests/platform/platform_fn.c)
# writing the keys, the CLI and raw HTTP with curl.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || {
	fail build "platform_fn.c did not build"
	exit 0
}

# --- unifaas run: counters are decimal int64 exactly as Redis reads them ---
# platform_fn increments "count" blindly (the INCRBY is applied at commit)
run_count() { # VALUE: the stored value of count after one event, and the stderr
	printf '{"count":"%s"}' "$1" >"$UF_TMP/kv.json"
	timeout 20 "$UNIFAAS" run --kv "$UF_TMP/kv.json" --event x "$fn" >/dev/null 2>"$UF_TMP/run.err"
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["count"])' "$UF_TMP/kv.json"
}
for v in 007 -0 +1 ' 1' 1x 9223372036854775808; do
	got=$(run_count "$v")
	[ "$got" = "$v" ] && grep -q "not an integer" "$UF_TMP/run.err" && pass "run-incr-refuses-'$v'" ||
		fail "run-incr-refuses-'$v'" "count became '$got': $(cat "$UF_TMP/run.err")"
done
for v in 0:1 7:8 -1:0 -9223372036854775808:-9223372036854775807; do
	got=$(run_count "${v%%:*}")
	[ "$got" = "${v#*:}" ] && pass "run-incr-'${v%%:*}'" || fail "run-incr-'${v%%:*}'" "count '$got': $(cat "$UF_TMP/run.err")"
done

# the tender's names follow the same rules as the manifest's
w49=$(printf 'w%.0s' $(seq 49))
"$HVT" --redis /nonexistent --workflow "$w49" "$fn" 2>"$UF_TMP/err" >/dev/null
rc=$?
[ $rc = 2 ] && grep -q "^uf-hvt: --workflow '$w49': must be 1\.\.48 characters" "$UF_TMP/err" && pass tender-workflow-49 ||
	fail tender-workflow-49 "exit $rc: $(cat "$UF_TMP/err")"
"$HVT" --redis /nonexistent --step "$w49" "$fn" 2>"$UF_TMP/err" >/dev/null
rc=$?
[ $rc = 2 ] && grep -q "^uf-hvt: --step '$w49': must be 1\.\.48 characters" "$UF_TMP/err" && pass tender-step-49 ||
	fail tender-step-49 "exit $rc: $(cat "$UF_TMP/err")"

trap plat_down EXIT

# --- configuration: one reader, one precedence ---------------------------
# unifaasd applies <state>/unifaasd.conf over unifaas.conf; the CLI reads
# both the same way (common/config.c), so it calls the port unifaasd uses
port2=$(uf_port)
if PLAT_CONF="api_port=$port2" plat_up; then
	pass up-with-user-api-port
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port2/v1/health")" = 200 ] &&
		pass user-api-port-served || fail user-api-port-served "nothing answers on $port2"
	out=$(U ls 2>&1) && pass cli-uses-user-api-port || fail cli-uses-user-api-port "$out"
	U status | grep -qx "api_url: http://127.0.0.1:$port2" && pass status-shows-user-api-port ||
		fail status-shows-user-api-port "$(U status 2>&1 | tr '\n' ' ')"
	printf 'api_port=%s\nmax_unit=3\n' "$port2" >"$PLAT_STATE/unifaasd.conf"
	U ls >/dev/null 2>"$UF_TMP/err"
	rc=$?
	[ $rc = 1 ] && grep -q "unifaasd.conf:2: unknown key 'max_unit'" "$UF_TMP/err" && pass cli-bad-user-conf ||
		fail cli-bad-user-conf "exit $rc: $(cat "$UF_TMP/err")"
	printf 'api_port=%s\n' "$port2" >"$PLAT_STATE/unifaasd.conf"
else
	fail up-with-user-api-port "$(tail -3 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"
fi
plat_down

plat_up || {
	fail up "unifaas up failed: $(tail -5 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"
	exit 0
}
TOKEN=$(cat "$PLAT_STATE/api.token")
API=http://127.0.0.1:$PLAT_API_PORT
# req METHOD PATH [curl args...]: prints "STATUS CODE" (CODE: the error code, or -)
req() {
	local m=$1 p=$2 status
	shift 2
	status=$(curl -s -o "$UF_TMP/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $TOKEN" "$@" "$API$p")
	printf '%s %s' "$status" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["code"])' "$UF_TMP/body" 2>/dev/null || echo -)"
}
expect() { # NAME "STATUS CODE" METHOD PATH [curl args...]
	local name=$1 want=$2 got
	shift 2
	got=$(req "$@")
	[ "$got" = "$want" ] && pass "$name" || fail "$name" "want $want, got $got: $(head -c 300 "$UF_TMP/body")"
}

q100=$(printf 'q%.0s' $(seq 100))
m=$(manifest keys <<EOF
name: keys
functions:
  s:
    image: $fn
    listen: in
    scale: { max_units: 1, idle_ms: 300, grace_ms: 0 }
  long:
    image: $fn
    listen: $q100
    scale: { max_units: 1, idle_ms: 300, grace_ms: 0 }
EOF
)
U deploy "$m" >/dev/null || {
	fail deploy "$(U deploy --replace "$m" 2>&1)"
	exit 0
}

# --- keys a function writes, read, written and deleted through the CLI ----
keys=('avg:kitchen' . - 'device/kitchen/avg' 'a b' 'café/größe' '100%' 'q?x&y#z' '..' 'tab	in')
for k in "${keys[@]}"; do
	printf 'set:%s=v-%s\n' "$k" "$k"
done | U push keys in >/dev/null
for k in "${keys[@]}"; do
	if wait_for 20 kv_is keys "$k" "v-$k"; then
		pass "cli-get-function-key '$k'"
	else
		fail "cli-get-function-key '$k'" "got '$(kv keys "$k")', redis has '$(R GET "uf:kv:keys:$k")'"
	fi
	U kv set keys "$k" "new $k" && [ "$(R GET "uf:kv:keys:$k")" = "new $k" ] && pass "cli-set '$k'" ||
		fail "cli-set '$k'" "redis has '$(R GET "uf:kv:keys:$k")'"
	U kv del keys "$k" && [ "$(R EXISTS "uf:kv:keys:$k")" = 0 ] && pass "cli-del '$k'" ||
		fail "cli-del '$k'" "still there"
done
# a key ".." is a key, not a dot segment (which made `kv del keys ..` a DELETE of the workflow)
if U ls | grep -q '^keys '; then pass cli-dot-keys-keep-workflow; else
	fail cli-dot-keys-keep-workflow "workflow keys is gone"
	U deploy "$m" >/dev/null
fi
long=$(printf 'k%.0s' $(seq 512))
U kv set keys "$long" 1 && [ "$(R GET "uf:kv:keys:$long")" = 1 ] && pass cli-key-512 || fail cli-key-512 "not set"
long=$(printf 'é%.0s' $(seq 256)) # 512 bytes, 1536 when percent-encoded
U kv set keys "$long" 2 && [ "$(U kv get keys "$long")" = 2 ] && pass cli-key-512-utf8 || fail cli-key-512-utf8 "not set"
U kv set keys "k$long" 1 2>/dev/null
[ $? = 2 ] && pass cli-key-513-usage || fail cli-key-513-usage "not refused as usage"

# --- exit status: a missing workflow is 4 for every kv operation ----------
for op in get set del; do
	if [ $op = set ]; then U kv set nosuchwf k v 2>/dev/null; else U kv $op nosuchwf k 2>/dev/null; fi
	rc=$?
	[ $rc = 4 ] && pass "kv-$op-unknown-workflow-4" || fail "kv-$op-unknown-workflow-4" "exit $rc"
done
U kv get keys no-such-key 2>/dev/null
rc=$?
[ $rc = 1 ] && pass kv-get-missing-key-1 || fail kv-get-missing-key-1 "exit $rc"

# --- names: the manifest's limits are the CLI's ----------------------------
out=$(U push keys "$q100" hello 2>&1) && printf '%s' "$out" | grep -q 'queued 1' && pass cli-push-queue-100 ||
	fail cli-push-queue-100 "$out"
U push keys "q$(printf 'q%.0s' $(seq 128))" x 2>/dev/null
[ $? = 2 ] && pass cli-push-queue-129-usage || fail cli-push-queue-129-usage "not refused"
U kv get "$(printf 'w%.0s' $(seq 49))" k 2>"$UF_TMP/err"
[ $? = 2 ] && grep -q '1\.\.48 characters' "$UF_TMP/err" && pass cli-workflow-49-usage ||
	fail cli-workflow-49-usage "$(cat "$UF_TMP/err")"

# --- the workflow's Redis user: exactly the commands units send -----------
# (the keys above were written by units of "keys" under that user)
AUTHU() { REDISCLI_AUTH=$(R HGET uf:state:wf:keys acl_pass) redis-cli --no-auth-warning --user uf-wf-keys -s "$PLAT_STATE/redis.sock" "$@" 2>&1; }
for c in "GET uf:kv:keys:x" "XADD uf:q:keys:unread * data acl-check" "HINCRBY uf:stat:keys:s probe 0"; do
	# shellcheck disable=SC2086
	out=$(AUTHU $c)
	case $out in *NOPERM*) fail "acl-allows ${c%% *}" "$out" ;; *) pass "acl-allows ${c%% *}" ;; esac
done
for c in "KEYS uf:kv:keys:x" "FLUSHDB" "CONFIG GET maxmemory" "XPENDING uf:q:keys:in s" "XAUTOCLAIM uf:q:keys:in s c 0 0" \
	"XRANGE uf:q:keys:in - +" "PING" "DISCARD" "EVAL return 1 0"; do
	# shellcheck disable=SC2086
	out=$(AUTHU $c)
	case $out in *NOPERM*) pass "acl-refuses ${c%% *}" ;; *) fail "acl-refuses ${c%% *}" "$out" ;; esac
done
[ "$(R DBSIZE)" -gt 0 ] && pass acl-flushdb-did-nothing || fail acl-flushdb-did-nothing "database empty"

# --- a dead letter written by unifaasd: epoch-ms time, the right id logged -
m2=$(manifest dl <<EOF
name: dl
functions:
  s:
    image: $fn
    listen: in
    retries: 1
    timeout_ms: 60000
    scale: { max_units: 1, idle_ms: 300, grace_ms: 0 }
EOF
)
U deploy "$m2" >/dev/null
t_push=$(date +%s%3N)
echo hang | U push dl in >/dev/null
id=$(R XRANGE uf:q:dl:in - + | head -1)
# killed twice: re-queued with its origin, then dead-lettered (the origin
# then comes from the entry's fields, which the log line must not read
# after their reply is freed)
kill_holder() { wait_for 30 holds dl in s && plat_kill 9 '--consumer=dl\.s\.' 2>/dev/null; }
if kill_holder && wait_for 20 xlen_is uf:q:dl:in 2 &&
	kill_holder && wait_for 20 xlen_is uf:dlq:dl:in 1; then
	pass daemon-dead-letter
	now=$(date +%s%3N)
	t=$(R XRANGE uf:dlq:dl:in - + | grep -A1 -x time | tail -1)
	o=$(R XRANGE uf:dlq:dl:in - + | grep -A1 -x origin | tail -1)
	# epoch ms: written between the push and now, by this machine's clock
	# (a bound of 10 s behind now was a timing: the look comes late under load)
	[ -n "$t" ] && [ "$t" -ge "$t_push" ] && [ "$t" -le "$now" ] && pass daemon-dead-letter-epoch-time ||
		fail daemon-dead-letter-epoch-time "time '$t', pushed at $t_push, now $now"
	[ "$o" = "$id" ] && pass daemon-dead-letter-origin || fail daemon-dead-letter-origin "origin '$o', event $id"
	wait_for 30 grep -q "what=dead-letter workflow=dl step=s queue=in event=\"\?$id\"\? " "$PLAT_STATE/logs/unifaasd.log" &&
		pass daemon-dead-letter-log-id || fail daemon-dead-letter-log-id "$(grep dead-letter "$PLAT_STATE/logs/unifaasd.log")"
	[ "$(R XRANGE uf:dlq:dl:in - + | grep -A1 -x attempts | tail -1)" = 2 ] && pass daemon-dead-letter-attempts ||
		fail daemon-dead-letter-attempts "$(R XRANGE uf:dlq:dl:in - + | tr '\n' ' ')"
	[ "$(R HGET uf:stat:dl:s dead)" = 1 ] && [ "$(R HGET uf:stat:dl:s failed)" = 2 ] && pass daemon-dead-letter-counted ||
		fail daemon-dead-letter-counted "$(R HGETALL uf:stat:dl:s | tr '\n' ' ')"
else
	fail daemon-dead-letter "dead $(R XLEN uf:dlq:dl:in), pending $(R XPENDING uf:q:dl:in s | head -1)"
fi

# --- the API: split first, then decode; NUL and bad UTF-8 refused ---------
R SET 'uf:kv:keys:device/kitchen/avg' 21.5 >/dev/null
got=$(curl -s -H "Authorization: Bearer $TOKEN" "$API/v1/workflows/keys/kv/device%2Fkitchen%2Favg")
[ "$got" = 21.5 ] && pass api-key-with-%2F || fail api-key-with-%2F "$got"
got=$(curl -s -H "Authorization: Bearer $TOKEN" "$API/v1/workflows/keys/kv/device%2fkitchen%2favg")
[ "$got" = 21.5 ] && pass api-key-with-%2f || fail api-key-with-%2f "$got"
expect api-%2f-no-separator "400 bad_request" GET /v1/workflows/keys%2fkv%2fx
expect api-%2F-no-separator-queue "400 bad_request" POST /v1/workflows/keys/queues/in%2Fx/events --data-binary x
expect api-key-nul "400 bad_request" GET /v1/workflows/keys/kv/a%00b
grep -q "'a%00b'" "$UF_TMP/body" && pass api-key-nul-named || fail api-key-nul-named "$(cat "$UF_TMP/body")"
expect api-key-nul-put "400 bad_request" PUT /v1/workflows/keys/kv/%00 --data-binary x
expect api-key-not-utf8 "400 bad_request" GET /v1/workflows/keys/kv/%FFabc
expect api-key-overlong-utf8 "400 bad_request" GET /v1/workflows/keys/kv/%C0%AF
expect api-key-surrogate "400 bad_request" GET /v1/workflows/keys/kv/%ED%A0%80
expect api-key-bad-escape "400 bad_request" GET /v1/workflows/keys/kv/a%zz
expect api-key-cut-escape "400 bad_request" GET /v1/workflows/keys/kv/a%2
expect api-missing-key "404 key_not_found" GET /v1/workflows/keys/kv/no-such-key
expect api-missing-workflow "404 not_found" GET /v1/workflows/nosuchwf/kv/k
got=$(req PUT /v1/workflows/keys/kv/a%20b%3Ac%01 --data-binary v)
[ "$got" = "204 -" ] && [ "$(R GET $'uf:kv:keys:a b:c\x01')" = v ] && pass api-key-space-colon-control ||
	fail api-key-space-colon-control "$got"
[ "$(R EXISTS 'uf:kv:keys:a')" = 0 ] && pass api-key-not-cut || fail api-key-not-cut "uf:kv:keys:a exists"

finish
