#!/usr/bin/env bash
# uf_http end to end: a deployed function calls local HTTP(S) servers
# (tests/platform/egress_server.py) through unifaasd's egress server.  A CA
# and the servers' certificates are made here with openssl; the platform
# trusts the CA through egress_ca_file.  A second CA ("rogue") signs the
# certificate of a server the platform must not trust.  Each event's
# outcome lands in KV (tests/platform/egress_fn.c); each server logs every
# request, so "never contacted" is checked, not assumed.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"
. "$UF_TOP/tests/platform/pki.sh"

fn=$(build_guest "$UF_TOP/tests/platform/egress_fn.c") || { fail build "egress_fn.c did not build"; exit 0; }

# ---- certificates ----
P=$UF_TMP/pki
mkdir -p "$P"
if ! { pki_ca "$P" ca && pki_ca "$P" rogue && pki_cert "$P" good ca IP:127.0.0.1 DNS:localhost &&
	pki_cert "$P" bad rogue IP:127.0.0.1 DNS:localhost; }; then
	fail pki "openssl could not make the test CA and certificates"
	exit 0
fi

# ---- servers: good (trusted CA), bad (rogue CA), plain (http) ----
SRV_PIDS=()
# start_server NAME [CERT KEY]: started in this shell (not in a $(...)
# subshell, whose SRV_PIDS the EXIT trap would never see: every run left its
# three servers running), its port then read by server_port NAME
start_server() {
	python3 "$UF_TOP/tests/platform/egress_server.py" "$UF_TMP/$1.port" "$UF_TMP/$1.log" "${@:2}" \
		>"$UF_TMP/$1.out" 2>&1 &
	SRV_PIDS+=($!)
}
server_port() { wait_for 10 test -s "$UF_TMP/$1.port" && cat "$UF_TMP/$1.port"; }
start_server good "$P/good.pem" "$P/good.key"
start_server bad "$P/bad.pem" "$P/bad.key"
start_server plain
GOOD=$(server_port good) && BAD=$(server_port bad) && PLAIN=$(server_port plain) || {
	fail servers "the test servers did not start: $(cat "$UF_TMP"/*.out)"
	kill "${SRV_PIDS[@]}" 2>/dev/null
	exit 0
}
stop_servers() { kill "${SRV_PIDS[@]}" 2>/dev/null; }
contacted() { grep -c -- "$1" "$UF_TMP/$2.log"; } # PATTERN SERVER: requests that matched

# the real CA works with curl, the rogue one does not: the fixtures are right
check fixture-curl curl -sf --cacert "$P/ca.pem" "https://127.0.0.1:$GOOD/api/hello"

# ---- unifaas run --allow-egress: the same calls and rules without a platform
# (the front starts unifaas-api's egress helper on a socketpair) ----
lrun() { # NAME ARGS...: runs egress_fn locally, its KV in $UF_TMP/NAME.kv
	"$UNIFAAS" run "$fn" --kv "$UF_TMP/$1.kv" "${@:2}" >"$UF_TMP/$1.run.out" 2>&1
}
lkv() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], "-"))' "$UF_TMP/$1.kv" "$2"; }
lexpect() { # NAME TAG ERE
	local got
	got=$(lkv "$1" "$2")
	[[ $got =~ $3 ]] || { echo "$2: got '$got', expected /$3/; $(cat "$UF_TMP/$1.run.out")"; return 1; }
}
lrun local --allow-egress "https://127.0.0.1:$GOOD/local" --allow-egress "https://127.0.0.1:$BAD/" \
	--egress-ca "$P/ca.pem" --event "ok GET https://127.0.0.1:$GOOD/local/hello 4096" \
	--event "no GET https://127.0.0.1:$GOOD/elsewhere/hello 4096" --event "tls GET https://127.0.0.1:$BAD/local/x 64"
check local-200 lexpect local ok '^ret=0 status=200 len=12 hlen=[1-9][0-9]* sum=[0-9]+ xtest=key=1 body=hello egress ms=[0-9]+$'
check local-denied lexpect local no '^ret=-1 status=0'
check local-denied-not-contacted test "$(contacted /elsewhere/ good)" = 0
check local-denied-said grep -q "unifaas: egress: denied https://127.0.0.1:$GOOD/elsewhere/hello" "$UF_TMP/local.run.out"
check local-tls-error lexpect local tls '^ret=-71 status=0'
lrun local2 --event "x GET https://127.0.0.1:$GOOD/local/hello 4096"
check local-enosys-without-allow lexpect local2 x '^ret=-38 status=0'
bad_prefix() {
	"$UNIFAAS" run "$fn" --allow-egress "https://u@127.0.0.1/" --event x >"$UF_TMP/bp.out" 2>&1
	[ $? = 2 ] && grep -q "unifaas: run: --allow-egress 'https://u@127.0.0.1/': has userinfo" "$UF_TMP/bp.out"
}
check local-bad-prefix bad_prefix

PLAT_CONF="egress_ca_file=$P/ca.pem
egress_timeout_ms=6000
egress_connect_timeout_ms=1000
egress_max_response=262144"
trap 'plat_cleanup; stop_servers' EXIT
plat_up || {
	fail up "unifaas up failed: $(tail -5 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"
	exit 0
}

m=$(manifest eg <<EOF
name: eg
functions:
  call:
    image: $fn
    listen: in
    timeout_ms: 20000 # CPU per event; held over 21 s (the hung check) is over the 6 s egress limit
    memory: 8MiB
    batch: 1
    egress:
      - https://127.0.0.1:$GOOD/api
      - https://localhost:$GOOD/x/
      - https://127.0.0.1:$BAD/
      - https://127.0.0.1:$PLAIN/
    scale: { max_units: 1, idle_ms: 20000 }
EOF
)
U deploy "$m" >/dev/null || { fail deploy "the egress workflow did not deploy: $(U deploy "$m" 2>&1)"; exit 0; }

# call TAG METHOD URL CAP [TIMEOUT]: pushes the event and waits for its outcome
call() {
	echo "$*" | U push eg in >/dev/null && wait_for 60 kv eg "$1" && kv eg "$1"
}
# expect TAG PATTERN: the outcome of TAG matches the extended regex PATTERN
expect() {
	local got
	got=$(kv eg "$1")
	[[ $got =~ $2 ]] || { echo "$1: got '$got', expected /$2/"; return 1; }
}

# ---- 200 with body and headers; the event id arrives as Idempotency-Key ----
call ok GET "https://127.0.0.1:$GOOD/api/hello" 4096 >/dev/null
check get-200-body-headers expect ok '^ret=0 status=200 len=12 hlen=[1-9][0-9]* sum=[0-9]+ xtest=key=[0-9]+-[0-9]+ body=hello egress ms=[0-9]+$'
call post POST "https://127.0.0.1:$GOOD/api/post" 4096 >/dev/null
check post-body-and-headers expect post '^ret=0 status=200 .* body=POST ping X-From=egress_fn ms=[0-9]+$'

# ---- outside the allow-list: -EPERM (1), the server never contacted ----
call other GET "https://127.0.0.1:$GOOD/other/hello" 4096 >/dev/null
check denied-eperm expect other '^ret=-1 status=0'
check denied-not-contacted test "$(contacted /other/ good)" = 0
check denied-logged grep -qF "workflow=eg step=call url=\"https://127.0.0.1:$GOOD/... (path of 12 bytes not shown)\"" "$PLAT_STATE/logs/unifaasd.log"
# ... by its origin only: a refused URL may hold a secret too (a webhook's
# token is its path; e.g. a webhook secret and an egress: prefix that differ)
check denied-path-not-logged bash -c "! grep -q /other/hello '$PLAT_STATE/logs/unifaasd.log'"
# confusable host, dot segments (plain and encoded), userinfo
call conf GET "https://localhost.evil.example:$GOOD/x/hello" 4096 >/dev/null
check confusable-host expect conf '^ret=-1 status=0'
call dots GET "https://localhost:$GOOD/x/../api/hello" 4096 >/dev/null
check dot-segments expect dots '^ret=-1 status=0'
call edots GET "https://localhost:$GOOD/x/%2e%2E/api/hello" 4096 >/dev/null
check encoded-dot-segments expect edots '^ret=-1 status=0'
call semidots GET "https://localhost:$GOOD/x/..;/api/hello" 4096 >/dev/null
check dot-segment-with-parameters expect semidots '^ret=-1 status=0'
call user GET "https://user@localhost:$GOOD/x/hello" 4096 >/dev/null
check userinfo expect user '^ret=-1 status=0'
check dots-not-contacted test "$(grep -c -E '\.\.|%2e|/api/hello.*user' "$UF_TMP/good.log")" = 0
# inside the /x/ prefix by host name: allowed
call xok GET "https://localhost:$GOOD/x/hello" 4096 >/dev/null
check prefix-by-name expect xok '^ret=0 status=200 .* body=hello egress ms=[0-9]+$'

# ---- http:// refused when the prefix says https:// ----
call plain GET "http://127.0.0.1:$PLAIN/hello" 4096 >/dev/null
check http-refused expect plain '^ret=-1 status=0'
check http-not-contacted test "$(contacted /hello plain)" = 0

# ---- a certificate from another CA: -EPROTO (71), never the body ----
call tls GET "https://127.0.0.1:$BAD/hello" 4096 >/dev/null
check tls-error expect tls '^ret=-71 status=0 len=0 hlen=0 sum=0 xtest=- body=- ms=[0-9]+$'
check tls-logged grep -q "what=egress-failed unit=eg\.call\.[0-9]* .*host=127.0.0.1:$BAD errno=71 cause=.*certificate" "$PLAT_STATE/logs/unifaasd.log"

# ---- a server that hangs: -ETIMEDOUT (110) within egress_timeout_ms (6 s),
# timed by the function itself around the call: never before the limit,
# and after it by no more than a loaded machine adds (6 s: the limit is 6 s,
# not 1.5, so that a per-call limit of 300 ms stays apart from it by more
# than that; with 1.5 s the bounds left a loaded machine 1.1-1.5 s) ----
took() { sed -n 's/.* ms=\([0-9]*\)$/\1/p' <<<"$(kv eg "$1")"; }
call hang GET "https://127.0.0.1:$GOOD/api/hang" 4096 >/dev/null
check hang-timeout expect hang '^ret=-110 status=0'
check hang-bounded test "$(took hang)" -ge 5900 -a "$(took hang)" -lt 12000
# a per-call limit below the platform's
call hang2 GET "https://127.0.0.1:$GOOD/api/hang" 4096 300 >/dev/null
check hang-per-call-timeout expect hang2 '^ret=-110 status=0'
check hang-per-call-bounded test "$(took hang2)" -ge 250 -a "$(took hang2)" -lt 5000
# the unit and the daemon are fine: the same unit answers the next call
call after GET "https://127.0.0.1:$GOOD/api/hello" 4096 >/dev/null
check after-hang expect after '^ret=0 status=200'
check after-hang-same-unit test "$(grep -c 'what=unit-start unit=eg.call' "$PLAT_STATE/logs/unifaasd.log")" = 1

# ---- sizes: truncated to the guest's buffer, full length reported; past
# egress_max_response (256 KiB): -EFBIG (27), with or without Content-Length
sum4k=$(python3 -c 'print(sum(i % 251 for i in range(4096)) % 2**32)')
call big GET "https://127.0.0.1:$GOOD/api/big?n=100000" 4096 >/dev/null
check big-truncated expect big "^ret=0 status=200 len=100000 hlen=[0-9]+ sum=$sum4k "
sum100k=$(python3 -c 'print(sum(i % 251 for i in range(100000)) % 2**32)')
call stream GET "https://127.0.0.1:$GOOD/api/stream?n=100000" 200000 >/dev/null
check stream-whole expect stream "^ret=0 status=200 len=100000 hlen=[0-9]+ sum=$sum100k "
call huge GET "https://127.0.0.1:$GOOD/api/big?n=300000" 4096 >/dev/null
check over-cap-efbig expect huge '^ret=-27 status=0'
call hugestream GET "https://127.0.0.1:$GOOD/api/stream?n=300000" 4096 >/dev/null
check over-cap-stream-efbig expect hugestream '^ret=-27 status=0'

# ---- redirects are returned, not followed ----
call redir GET "https://127.0.0.1:$GOOD/api/redirect" 4096 >/dev/null
check redirect-not-followed expect redir '^ret=0 status=302 len=0'

# ---- a function without egress: gets -EPERM, and its log says so ----
m2=$(manifest noeg <<EOF
name: noeg
functions:
  call:
    image: $fn
    listen: in
EOF
)
U deploy "$m2" >/dev/null
echo "n GET https://127.0.0.1:$GOOD/api/hello 4096" | U push noeg in >/dev/null
wait_for 60 kv noeg n
check no-egress-list-eperm test "$(kv noeg n | cut -d' ' -f1)" = ret=-1
check no-egress-not-contacted test "$(contacted /api/hello good)" = 3
check no-egress-path-not-logged bash -c "grep -qF 'egress denied: https://127.0.0.1:$GOOD/... (path of 10 bytes not shown)' '$PLAT_STATE/logs/noeg/call.log' && ! grep -q /api/hello '$PLAT_STATE/logs/noeg/call.log'"

# ---- functions/slack_alert.c, its webhook URL a secret, posts an alert over TLS ----
notify=$(build_guest "$UF_TOP/functions/slack_alert.c")
printf '%s' "https://127.0.0.1:$GOOD/hooks/T0/B0/webhook" | U secret set SLACK_WEBHOOK_URL >/dev/null
m3=$(manifest slack <<EOF
name: slack
functions:
  notify:
    image: $notify
    listen: alerts
    egress: [ "https://127.0.0.1:$GOOD/hooks/" ]
    secrets: [ SLACK_WEBHOOK_URL ]
    timeout_ms: 7000
EOF
)
U deploy "$m3" >/dev/null || fail slack-deploy "$(U deploy "$m3" 2>&1)"
echo '{"device":"kit1","level":"warning","ppm":1450,"time":"2025-03-01T10:01:00Z"}' | U push slack alerts >/dev/null
posted() { grep -F 'body={"text":":warning: CO2 warning on kit1: 1450 ppm at 2025-03-01T10:01:00Z. Open a window."}' "$UF_TMP/good.log" | grep -Eq '^WEBHOOK key=[0-9]+-[0-9]+ '; }
check slack-alert-posts wait_for 60 posted
check slack-alert-handled wait_for 60 drained slack alerts notify
# the example workflow passes every check, now that its secret is set
example_deploys() { U deploy "$UF_TOP/workflows/co2.yaml" && U undeploy co2-monitor; }
check example-co2-deploys example_deploys

# ---- unifaas_egress_calls_total counts the calls by outcome (GET /metrics) ----
metric() { # STATUS: the counter's value for kind http
	curl -s --max-time 5 -H "Authorization: Bearer $(cat "$PLAT_STATE/api.token")" \
		"http://127.0.0.1:$PLAT_API_PORT/metrics" |
		awk -v s="$1" '$1 == "unifaas_egress_calls_total{kind=\"http\",status=\"" s "\"}" {print $2}'
}
metrics_ok() {
	local want="200=7 302=1 refused=7 timeout=2 error=3" got="" k
	for k in 200 302 refused timeout error; do got="$got $k=$(metric $k)"; done
	[ "${got# }" = "$want" ] || { echo "metrics: $got, expected $want"; return 1; }
}
check metrics-egress-calls metrics_ok

check daemon-alive kill -0 "$(cat "$PLAT_STATE/unifaasd.pid")"
check sanitizer-clean bash -c "! grep -E 'AddressSanitizer|runtime error' '$PLAT_STATE/logs/unifaasd.log'"
finish
