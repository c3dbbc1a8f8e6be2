#!/usr/bin/env bash
# The HTTP ingress (docs/api.md "HTTP ingress"), with real curl over
# loopback against a private platform: tokens (401/403, checked on the
# head before the body), routes (404/405, malformed paths), bodies (raw
# bytes kept byte for byte, JSON, CloudEvents structured and binary: every
# line of the shared fixtures), limits (413 on Content-Length and on a
# chunked body), a stopped workflow (503), invoke-and-wait (202 at the
# timeout, 200/502 from a reply published on uf:reply:<wf>, the CLI's exit
# status), end to end through a deployed function (uf_reply, a failing
# handler, a CloudEvent's source and attributes in the guest), and that
# nothing refused is queued.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

CE=${UF_CE_FIXTURES:-$UF_TOP/../shared/testdata/cloudevents}
[ -f "$CE/valid.jsonl" ] || CE=/work/shared/testdata/cloudevents
fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || {
	fail build "platform_fn.c did not build"
	exit 0
}
plat_suite_up
IN=http://127.0.0.1:$PLAT_INGRESS_PORT

m=$(manifest ing <<EOF
name: ing
functions:
  s:
    image: $fn
    listen: readings
  t:
    image: $fn
    listen: other
ingress:
  http:
    - { path: /readings, queue: readings }
    - { path: /a/b/, queue: other }
EOF
)
U deploy "$m" >/dev/null || {
	fail deploy "ing did not deploy: $(U deploy "$m" 2>&1)"
	exit 0
}
m2=$(manifest ing2 <<EOF
name: ing2
functions:
  s: { image: $fn, listen: in }
ingress:
  http: [{ path: /in, queue: in }]
EOF
)
U deploy "$m2" >/dev/null || fail deploy2 "ing2 did not deploy"

U status | grep -qx "ingress_url: $IN" && pass status-ingress-url || fail status-ingress-url "$(U status)"

# --- tokens ------------------------------------------------------------------
U token create ing >"$UF_TMP/tok.out" 2>"$UF_TMP/tok.err"
TOK=$(cat "$UF_TMP/tok.out")
[ "$(wc -l <"$UF_TMP/tok.out")" = 1 ] && grep -Eqx '[0-9a-f]{12}\.[0-9a-f]{64}' "$UF_TMP/tok.out" &&
	pass token-create-prints-token-alone || fail token-create-prints-token-alone "$(cat "$UF_TMP/tok.out" "$UF_TMP/tok.err")"
TOK2=$(U token create ing2)
ID=${TOK%%.*}
U token ls >"$UF_TMP/ls.out"
grep -Eq "^$ID +ing +" "$UF_TMP/ls.out" && ! grep -q "${TOK#*.}" "$UF_TMP/ls.out" && ! grep -q "${TOK2#*.}" "$UF_TMP/ls.out" &&
	pass token-ls-no-secret || fail token-ls-no-secret "$(cat "$UF_TMP/ls.out")"
! R HGETALL uf:state:tokens | grep -q "${TOK#*.}" && pass token-stored-hashed || fail token-stored-hashed "the secret is in Redis"
U token create nosuchwf >/dev/null 2>&1
[ $? = 4 ] && pass token-create-unknown-workflow || fail token-create-unknown-workflow "status not 4"

# post PATH [curl args...]: prints "STATUS BODY" (token TOK unless -H given first)
post() {
	local p=$1
	shift
	curl -s -o "$UF_TMP/body" -w '%{http_code}' -X POST "$@" "$IN$p" >"$UF_TMP/code"
	printf '%s %s' "$(cat "$UF_TMP/code")" "$(tr -d '\n' <"$UF_TMP/body")"
}
code_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["error"]["code"])' 2>/dev/null; }
# expect NAME "STATUS CODE" PATH [curl args...]
expect() {
	local name=$1 want=$2 got
	shift 2
	got=$(post "$@")
	local status=${got%% *} body=${got#* }
	[ "$status $(printf '%s' "$body" | code_of)" = "$want" ] && pass "$name" || fail "$name" "want $want, got $got"
}
AUTH=(-H "Authorization: Bearer $TOK")
len0=$(R XLEN uf:q:ing:readings)

expect no-token "401 unauthorized" /ing/readings --data-binary x
expect unknown-token "401 unauthorized" /ing/readings -H "Authorization: Bearer ${ID}.$(printf '0%.0s' $(seq 64))" --data-binary x
expect malformed-token "401 unauthorized" /ing/readings -H "Authorization: Bearer nope" --data-binary x
expect other-workflows-token "403 forbidden" /ing/readings -H "Authorization: Bearer $TOK2" --data-binary x
curl -s -D "$UF_TMP/h401" -o /dev/null -X POST "$IN/ing/readings" --data-binary x
grep -qi '^WWW-Authenticate: Bearer' "$UF_TMP/h401" && pass 401-www-authenticate || fail 401-www-authenticate "$(cat "$UF_TMP/h401")"

# refused on the head: the answer comes while the body is never sent
raw_head() { # HEADERS...: the status line of a request whose 5 MB body never comes
	exec 3<>"/dev/tcp/127.0.0.1/$PLAT_INGRESS_PORT" || return 1
	printf 'POST /ing/readings HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n%s\r\n' "$*" >&3
	timeout 20 head -1 <&3 | tr -d '\r'
	exec 3<&-
}
[ "$(raw_head)" = "HTTP/1.1 401 Unauthorized" ] && pass 401-before-body || fail 401-before-body "$(raw_head)"
raw_head "Authorization: Bearer $TOK"$'\r\n' | grep -q "^HTTP/1.1 413 " &&
	pass 413-on-content-length-before-body || fail 413-on-content-length-before-body "$(raw_head "Authorization: Bearer $TOK"$'\r\n')"

expect unknown-path "404 not_found" /ing/nope "${AUTH[@]}" --data-binary x
expect workflow-only "404 not_found" /ing "${AUTH[@]}" --data-binary x
expect bad-percent "400 bad_request" /ing/read%zzings "${AUTH[@]}" --data-binary x
expect percent-nul "400 bad_request" /ing/read%00ings "${AUTH[@]}" --data-binary x
got=$(curl -s -D "$UF_TMP/h405" -o "$UF_TMP/body" -w '%{http_code}' "${AUTH[@]}" "$IN/ing/readings")
[ "$got" = 405 ] && grep -qi '^Allow: POST' "$UF_TMP/h405" && [ "$(code_of <"$UF_TMP/body")" = method_not_allowed ] &&
	pass get-is-405 || fail get-is-405 "$got $(cat "$UF_TMP/h405" "$UF_TMP/body")"
# what a refused request names: the route list, the token's workflow
post /ing/nope "${AUTH[@]}" --data-binary x | grep -q "/ing/readings" && pass 404-lists-routes || fail 404-lists-routes "$(post /ing/nope "${AUTH[@]}" --data-binary x)"
[ "$(R XLEN uf:q:ing:readings)" = "$len0" ] && pass refused-nothing-queued || fail refused-nothing-queued "$len0 -> $(R XLEN uf:q:ing:readings)"

# --- bodies ---------------------------------------------------------------------
# entry ID FIELD: a field of the queue entry (raw bytes to stdout)
entry() { R --raw XRANGE "uf:q:ing:$3" "$1" "$1" | awk -v f="$2" 'p{print; exit} $0==f{p=1}'; }
id_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' 2>/dev/null; }

printf 'a\0b\377c\n' >"$UF_TMP/bin"
got=$(post /ing/readings "${AUTH[@]}" -H "Content-Type: application/octet-stream" --data-binary @"$UF_TMP/bin")
id=$(printf '%s' "${got#* }" | id_of)
if [ "${got%% *}" = 202 ] && [ -n "$id" ]; then
	R --raw XRANGE uf:q:ing:readings "$id" "$id" >"$UF_TMP/entry"
	python3 - "$UF_TMP/entry" "$UF_TMP/bin" <<'EOF' && pass raw-bytes-kept || fail raw-bytes-kept "$(cat -v "$UF_TMP/entry")"
import sys
e = open(sys.argv[1], 'rb').read()
want = open(sys.argv[2], 'rb').read()
assert b'\ndata\n' + want in e, e
assert b'\nsrc\n/readings\n' in e, e
assert b'{"datacontenttype":"application/octet-stream"}' in e, e
EOF
else
	fail raw-bytes-kept "$got"
fi
got=$(post /ing/a/b "${AUTH[@]}" --data-binary "x")
id=$(printf '%s' "${got#* }" | id_of)
[ "${got%% *}" = 202 ] && [ "$(entry "$id" src other)" = "/a/b/" ] && pass second-route-and-src || fail second-route-and-src "$got"
got=$(post /ing/a%2Fb "${AUTH[@]}" --data-binary "x")
[ "${got%% *}" = 404 ] && pass escaped-slash-is-no-separator || fail escaped-slash-is-no-separator "$got"
got=$(post /ing/%72eadings "${AUTH[@]}" --data-binary "x")
[ "${got%% *}" = 202 ] && pass escaped-path-matches || fail escaped-path-matches "$got"
got=$(post /ing/readings "${AUTH[@]}" -H "Content-Type: application/json" --data-binary '{"co2": 1450}')
id=$(printf '%s' "${got#* }" | id_of)
[ "${got%% *}" = 202 ] && [ "$(entry "$id" data readings)" = '{"co2": 1450}' ] && pass json-body || fail json-body "$got"
got=$(post /ing/readings "${AUTH[@]}" -H "Content-Type: application/json" --data-binary '{"co2": ')
[ "${got%% *}" = 400 ] && [ "$(printf '%s' "${got#* }" | code_of)" = bad_json ] && grep -q 'column' <<<"$got" &&
	pass bad-json-400 || fail bad-json-400 "$got"

# every line of the shared CloudEvents fixtures, structured mode
n=0 bad=0
while IFS= read -r line || [ -n "$line" ]; do
	[ -z "$line" ] && continue
	n=$((n + 1))
	got=$(post /ing/readings "${AUTH[@]}" -H "Content-Type: application/cloudevents+json" --data-binary "$line")
	id=$(printf '%s' "${got#* }" | id_of)
	if [ "${got%% *}" != 202 ] || [ -z "$id" ]; then
		bad=1
		fail "ce-valid-$n" "$line -> $got"
		continue
	fi
	R --raw XRANGE uf:q:ing:readings "$id" "$id" >"$UF_TMP/entry"
	python3 - "$UF_TMP/entry" "$line" <<'EOF' || { bad=1; fail "ce-valid-$n-entry" "$line -> $(cat "$UF_TMP/entry")"; }
import base64, json, sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')
f = dict(zip(lines[1::2], lines[2::2]))
ev = json.loads(sys.argv[2])
attrs = json.loads(f[b'attrs'])
for k, v in ev.items():
    if k not in ('data', 'data_base64'):
        assert attrs[k] == v, (k, attrs)
assert 'data' not in attrs and 'data_base64' not in attrs
if 'data_base64' in ev:
    assert f[b'data'] == base64.b64decode(ev['data_base64']), f
elif 'data' in ev:
    assert json.loads(f[b'data']) == ev['data'], f
else:
    assert f[b'data'] == b'', f
assert f[b'src'] == b'/readings'
EOF
done <"$CE/valid.jsonl"
[ $n -gt 0 ] && [ $bad = 0 ] && pass "ce-valid-all-$n-lines-202" || fail ce-valid-all "$n lines, some failed"

len1=$(R XLEN uf:q:ing:readings)
n=0 bad=0
while IFS= read -r line || [ -n "$line" ]; do
	[ -z "$line" ] && continue
	n=$((n + 1))
	got=$(post /ing/readings "${AUTH[@]}" -H "Content-Type: application/cloudevents+json" --data-binary "$line")
	# 400 invalid_cloudevent naming the attribute at fault: one the line lacks or
	# holds (with the rule it breaks), or "body" (not JSON: the position)
	python3 - "$line" "${got%% *}" "${got#* }" <<'EOF' || { bad=1; fail "ce-invalid-$n" "$line -> $got"; }
import json, sys
line, status, body = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
err = body['error']
assert status == '400' and err['code'] == 'invalid_cloudevent', (status, err)
attr = err['attribute']
assert attr and "'%s'" % attr in err['message'] or attr == 'body', err
try:
    ev = json.loads(line)
except ValueError:
    assert attr == 'body' and 'column' in err['message'], err
    sys.exit(0)
required = ('specversion', 'id', 'source', 'type')
if attr in required and attr not in ev:
    assert 'required' in err['message'], err
else:
    assert attr in ev, (attr, ev)
EOF
done <"$CE/invalid.jsonl"
[ $n -gt 0 ] && [ $bad = 0 ] && pass "ce-invalid-all-$n-lines-400-naming-attribute" || fail ce-invalid-all "$n lines, some failed"
[ "$(R XLEN uf:q:ing:readings)" = "$len1" ] && pass ce-invalid-nothing-queued || fail ce-invalid-nothing-queued "$len1 -> $(R XLEN uf:q:ing:readings)"

# binary mode: ce-* headers, the body is the data
got=$(post /ing/readings "${AUTH[@]}" -H "ce-specversion: 1.0" -H "ce-type: com.example.t" -H "ce-id: b1" \
	-H "ce-source: /dev/1" -H "ce-subject: caf%C3%A9" -H "ce-sensorid: 7" -H "Content-Type: text/plain" --data-binary "hello")
id=$(printf '%s' "${got#* }" | id_of)
attrs=$(entry "$id" attrs readings)
[ "${got%% *}" = 202 ] && [ "$(entry "$id" data readings)" = hello ] &&
	python3 -c 'import json,sys; a=json.loads(sys.argv[1]); assert a=={"specversion":"1.0","type":"com.example.t","id":"b1","source":"/dev/1","subject":"café","sensorid":"7","datacontenttype":"text/plain"}, a' "$attrs" &&
	pass ce-binary || fail ce-binary "$got: $attrs"
got=$(post /ing/readings "${AUTH[@]}" -H "ce-specversion: 1.0" -H "ce-type: t" -H "ce-source: /x" --data-binary "x")
[ "${got%% *}" = 400 ] && grep -q '"attribute":"id"' <<<"$got" && pass ce-binary-missing-id || fail ce-binary-missing-id "$got"
got=$(post /ing/readings "${AUTH[@]}" -H "ce-specversion: 1.0" -H "ce-type: t" -H "ce-id: 1" -H "ce-source: /x" -H "ce-subject: a%zz" --data-binary "x")
[ "${got%% *}" = 400 ] && grep -q "ce-subject" <<<"$got" && pass ce-binary-bad-percent || fail ce-binary-bad-percent "$got"
got=$(post /ing/readings "${AUTH[@]}" -H "ce-specversion: 0.3" -H "ce-type: t" -H "ce-id: 1" -H "ce-source: /x" --data-binary "x")
[ "${got%% *}" = 400 ] && grep -q '"attribute":"specversion"' <<<"$got" && pass ce-binary-specversion || fail ce-binary-specversion "$got"

# the body limit (ingress_body_max, 1 MiB): on a chunked body, once it is over
head -c $((1024 * 1024 + 1)) /dev/zero >"$UF_TMP/big"
got=$(post /ing/readings "${AUTH[@]}" -H "Transfer-Encoding: chunked" --data-binary @"$UF_TMP/big")
[ "${got%% *}" = 413 ] && [ "$(printf '%s' "${got#* }" | code_of)" = too_large ] && pass 413-chunked || fail 413-chunked "$got"
head -c $((1024 * 1024)) /dev/zero >"$UF_TMP/max"
got=$(post /ing/readings "${AUTH[@]}" --data-binary @"$UF_TMP/max")
[ "${got%% *}" = 202 ] && pass body-at-limit-202 || fail body-at-limit-202 "${got:0:200}"

# --- invoke and wait ------------------------------------------------------------------
# a workflow whose unit never starts (its image copy removed), so only the
# replies this test publishes reach the waiting requests
m3=$(manifest inv <<EOF
name: inv
functions:
  s: { image: $fn, listen: in }
ingress:
  http: [{ path: /in, queue: in }]
EOF
)
U deploy "$m3" >/dev/null && rm -f "$PLAT_STATE/images/inv/s.uf" || fail deploy3 "inv did not deploy"
TOK3=$(U token create inv)
A3=(-H "Authorization: Bearer $TOK3")
got=$(post "/inv/in/invoke?timeout_ms=300" "${A3[@]}" --data-binary x)
[ "${got%% *}" = 202 ] && python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["status"]=="running" and d["id"]' "${got#* }" &&
	pass invoke-timeout-202 || fail invoke-timeout-202 "$got"
expect invoke-bad-timeout "400 bad_request" "/inv/in/invoke?timeout_ms=soon" "${A3[@]}" --data-binary x
expect invoke-timeout-over-max "400 bad_request" "/inv/in/invoke?timeout_ms=60001" "${A3[@]}" --data-binary x
expect invoke-timeout-nul "400 bad_request" "/inv/in/invoke?timeout_ms=1%00x" "${A3[@]}" --data-binary x

# newest_tok: the reply token of the newest entry of inv/in
newest_tok() { R --raw XREVRANGE uf:q:inv:in + - COUNT 1 | awk 'p{print; exit} $0=="reply"{p=1}'; }
# reply_to OUTCOME BODY: once an entry newer than the one of last_tok (read
# before the request started) is there, publishes its reply
reply_to() {
	local tok="" i
	for i in $(seq 600); do
		tok=$(newest_tok)
		[ -n "$tok" ] && [ "$tok" != "$last_tok" ] && break
		sleep 0.05
	done
	R PUBLISH uf:reply:inv "$(printf '%s\n%s\n%s' "$tok" "$1" "$2")" >/dev/null
}
last_tok=$(newest_tok)
post "/inv/in/invoke?timeout_ms=60000" "${A3[@]}" --data-binary ping >"$UF_TMP/inv1" &
p=$!
reply_to ok '{"pushes":[{"queue":"out","data":"pong"}]}'
wait $p
got=$(cat "$UF_TMP/inv1")
[ "$got" = '200 {"pushes":[{"queue":"out","data":"pong"}]}' ] && pass invoke-ok-200 || fail invoke-ok-200 "$got"
last_tok=$(newest_tok)
post "/inv/in/invoke?timeout_ms=60000" "${A3[@]}" --data-binary ping >"$UF_TMP/inv2" &
p=$!
reply_to failed "handler returned 3"
wait $p
got=$(cat "$UF_TMP/inv2")
[ "${got%% *}" = 502 ] && [ "$(printf '%s' "${got#* }" | code_of)" = handler_failed ] && grep -q "handler returned 3" <<<"$got" &&
	pass invoke-failed-502 || fail invoke-failed-502 "$got"
# a reply for another workflow's channel, or another token, wakes nobody
post "/inv/in/invoke?timeout_ms=700" "${A3[@]}" --data-binary ping >"$UF_TMP/inv3" &
p=$!
sleep 0.3
R PUBLISH uf:reply:ing "$(printf 'x\nok\nwrong')" >/dev/null
wait $p
[ "$(cut -d' ' -f1 <"$UF_TMP/inv3")" = 202 ] && pass invoke-other-reply-ignored || fail invoke-other-reply-ignored "$(cat "$UF_TMP/inv3")"

# a client that leaves while its invoke waits: the wait ends at its
# timeout and the daemon carries on (its state is freed then: ASan build)
curl -s -m 0.3 -o /dev/null -X POST "${A3[@]}" --data-binary x "$IN/inv/in/invoke?timeout_ms=800"
last_tok=$(newest_tok)
curl -s -m 0.3 -o /dev/null -X POST "${A3[@]}" --data-binary x "$IN/inv/in/invoke?timeout_ms=5000" &
sleep 0.5
reply_to ok "too late" # its reply comes after the client left
sleep 0.6
got=$(post "/inv/in/invoke?timeout_ms=100" "${A3[@]}" --data-binary x)
[ "${got%% *}" = 202 ] && ! grep -q "Sanitizer\|runtime error" "$PLAT_STATE/logs/unifaasd.log" && pass invoke-client-gone ||
	fail invoke-client-gone "$got $(grep -A3 Sanitizer "$PLAT_STATE/logs/unifaasd.log" | head -5)"

# Redis stopped: 503 'unavailable' within the store's deadline, nothing
# accepted before is lost, and the ingress takes events again once it is back
before=$(R XLEN uf:q:ing:readings)
rp=$(redis_pid)
kill -STOP "$rp"
RPID=$rp
got=$(post /ing/readings "${AUTH[@]}" -m 60 --data-binary x)
kill -CONT "$rp"
RPID=
[ "${got%% *}" = 503 ] && [ "$(printf '%s' "${got#* }" | code_of)" = unavailable ] && pass redis-stopped-503 || fail redis-stopped-503 "$got"
wait_for 30 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer $TOK' --data-binary y $IN/ing/readings)\" = 202 ]" &&
	[ "$(R XLEN uf:q:ing:readings)" -ge "$((before + 1))" ] && pass redis-back-202 || fail redis-back-202 "$(post /ing/readings "${AUTH[@]}" --data-binary y)"

# the CLI: the result on stdout, and the exit status says what came of it
last_tok=$(newest_tok)
U invoke inv in hello >"$UF_TMP/cli1" 2>&1 &
p=$!
reply_to ok "the result"
wait $p
rc=$?
[ $rc = 0 ] && [ "$(cat "$UF_TMP/cli1")" = "the result" ] && pass cli-invoke-ok || fail cli-invoke-ok "rc $rc: $(cat "$UF_TMP/cli1")"
last_tok=$(newest_tok)
U invoke inv in hello >"$UF_TMP/cli2" 2>&1 &
p=$!
reply_to failed "it broke"
wait $p
rc=$?
[ $rc = 5 ] && grep -q "it broke" "$UF_TMP/cli2" && pass cli-invoke-failed || fail cli-invoke-failed "rc $rc: $(cat "$UF_TMP/cli2")"
U invoke inv in hello --timeout-ms 200 >"$UF_TMP/cli3" 2>&1
rc=$?
[ $rc = 75 ] && grep -q "still running" "$UF_TMP/cli3" && pass cli-invoke-still-running || fail cli-invoke-still-running "rc $rc: $(cat "$UF_TMP/cli3")"
U invoke inv nosuch hello >/dev/null 2>&1
[ $? = 4 ] && pass cli-invoke-unknown-queue || fail cli-invoke-unknown-queue "status not 4"

# --- end to end through a deployed function (tests/platform/edge_fn.c) -------------
efn=$(build_guest "$UF_TOP/tests/platform/edge_fn.c") || fail build-edge-fn "edge_fn.c did not build"
m5=$(manifest e2e <<EOF
name: e2e
functions:
  s: { image: $efn, listen: in, push: [out], retries: 0 }
  sink: { image: $efn, listen: out, env: { OUT: none } }
ingress:
  http: [{ path: /in, queue: in }]
EOF
)
U deploy "$m5" >/dev/null || fail deploy5 "e2e did not deploy: $(U deploy "$m5" 2>&1)"
A5=(-H "Authorization: Bearer $(U token create e2e)")
got=$(post "/e2e/in/invoke?timeout_ms=30000" "${A5[@]}" --data-binary "reply:hello")
[ "$got" = "200 hello" ] && pass e2e-invoke-uf-reply || fail e2e-invoke-uf-reply "$got"
got=$(post "/e2e/in/invoke?timeout_ms=30000" "${A5[@]}" --data-binary "fail")
[ "${got%% *}" = 502 ] && [ "$(printf '%s' "${got#* }" | code_of)" = handler_failed ] && pass e2e-invoke-failed-502 ||
	fail e2e-invoke-failed-502 "$got"
# a CloudEvent reaches the function with its source (the route) and attributes
ce='{"specversion":"1.0","type":"t.door","source":"/door/1","id":"e1","datacontenttype":"text/plain","data":"open"}'
got=$(post "/e2e/in/invoke?timeout_ms=30000" "${A5[@]}" -H "Content-Type: application/cloudevents+json" --data-binary "$ce")
python3 - "${got%% *}" "${got#* }" <<'EOF' && pass e2e-cloudevent-reaches-function || fail e2e-cloudevent-reaches-function "$got"
import json, sys
status, body = sys.argv[1], json.loads(sys.argv[2])
assert status == '200', status
line = body['pushes'][0]['data']
src, attrs, data = line.split('|', 2)
assert src == 'source=/in' and data == 'data=open', line
a = json.loads(attrs[len('attrs='):])
assert a['id'] == 'e1' and a['source'] == '/door/1' and a['datacontenttype'] == 'text/plain' and 'data' not in a, a
EOF
out=$(U invoke e2e in "reply:from the cli" --timeout-ms 30000 2>&1)
[ "$out" = "from the cli" ] && pass e2e-cli-invoke || fail e2e-cli-invoke "$out"

# --- counted by outcome (GET /metrics) --------------------------------------------------
curl -s -H "Authorization: Bearer $(cat "$PLAT_STATE/api.token")" "http://127.0.0.1:$PLAT_API_PORT/metrics" >"$UF_TMP/metrics"
grep -Eq '^unifaas_ingress_messages_total\{source="http",outcome="accepted"\} [1-9]' "$UF_TMP/metrics" &&
	grep -Eq '^unifaas_ingress_messages_total\{source="http",outcome="unauthorized"\} [1-9]' "$UF_TMP/metrics" &&
	grep -Eq '^unifaas_ingress_messages_total\{source="http",outcome="invoke_ok"\} [1-9]' "$UF_TMP/metrics" &&
	pass metrics-by-outcome || fail metrics-by-outcome "$(grep ingress "$UF_TMP/metrics")"

# --- revoked, and kept across a restart ------------------------------------------------
U token rm "${TOK2%%.*}" >/dev/null && expect token-rm-401 "401 unauthorized" /ing2/in -H "Authorization: Bearer $TOK2" --data-binary x
U token rm "${TOK2%%.*}" >/dev/null 2>&1
[ $? = 4 ] && pass token-rm-unknown || fail token-rm-unknown "status not 4"
kill -TERM "$(cat "$PLAT_STATE/unifaasd.pid")"
wait_for 30 sh -c "! kill -0 $(cat "$PLAT_STATE/unifaasd.pid") 2>/dev/null"
U up >/dev/null 2>&1 || fail restart "unifaas up after stopping unifaasd"
got=$(post /ing/readings "${AUTH[@]}" --data-binary x)
[ "${got%% *}" = 202 ] && pass token-survives-restart || fail token-survives-restart "$got"

# --- a stopped (overflowed) workflow answers 503 and queues nothing -------------------
m4=$(manifest ovf <<EOF
name: ovf
functions:
  s:
    image: $fn
    listen: in
    env: { SPIN: "1000000" }
    batch: 8
    scale: { max_units: 1, overflow: 500, idle_ms: 300 }
ingress:
  http: [{ path: /in, queue: in }]
EOF
)
U deploy "$m4" >/dev/null
TOK4=$(U token create ovf)
for r in $(seq 5); do
	for i in $(seq 2000); do echo x; done | U push ovf in >/dev/null 2>&1 || break
	sleep 0.1
done
if wait_for 30 sh -c "\"$UNIFAAS\" --state-dir \"$PLAT_STATE\" ls | grep -q 'ovf.*stopped'"; then
	len=$(R XLEN uf:q:ovf:in)
	got=$(curl -s -D "$UF_TMP/h503" -o "$UF_TMP/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOK4" --data-binary x "$IN/ovf/in")
	[ "$got" = 503 ] && grep -qi '^Retry-After:' "$UF_TMP/h503" && [ "$(code_of <"$UF_TMP/body")" = stopped ] &&
		grep -q "unifaas resume ovf" "$UF_TMP/body" && [ "$(R XLEN uf:q:ovf:in)" = "$len" ] &&
		pass stopped-503 || fail stopped-503 "$got $(cat "$UF_TMP/body")"
else
	fail stopped-503 "ovf did not stop: $(U ls)"
fi

# --- ingress_body_max from unifaasd.conf ------------------------------------------------
printf 'ingress_body_max=100\n' >"$PLAT_STATE/unifaasd.conf"
U down >/dev/null 2>&1
U up >/dev/null 2>&1 || fail body-max-restart "unifaas up with ingress_body_max=100"
got=$(post /ing/readings "${AUTH[@]}" --data-binary "$(head -c 101 /dev/zero | tr '\0' x)")
got2=$(post /ing/readings "${AUTH[@]}" --data-binary "$(head -c 100 /dev/zero | tr '\0' x)")
[ "${got%% *}" = 413 ] && [ "${got2%% *}" = 202 ] && pass body-max-config || fail body-max-config "101: $got; 100: $got2"
