#!/usr/bin/env bash
# Storage quotas and a full Redis (issue 11 §2; docs/architecture.md
# "Storage quotas"), against the real platform: a workflow whose function
# sets big KV values stops at its storage_quota (its growing KV writes
# deferred with a reason naming the quota, uncounted; HTTP ingress and
# pushes 507, MQTT messages left in the broker) while another workflow
# goes on, and takes up again, losing nothing, once its keys are deleted; a
# workflow over its quota by its own backlog drains itself back under it
# and takes events again, losing none; `queues purge` drops a queue's
# oldest events, logged; a
# queue no step listens to is trimmed to its bound with a log line; Redis
# runs with maxmemory and noeviction, and when it is full its refusals are
# reported (logs, describe, metrics), the refused commit's event re-queued
# uncounted once there is room, nothing lost.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

command -v mosquitto_pub >/dev/null || {
	fail tools "mosquitto_pub not installed (apt-get install mosquitto-clients)"
	exit 0
}
fn=$(build_guest "$UF_TOP/tests/platform/quota_fn.c") || { fail build "quota_fn.c did not build"; exit 0; }
PLAT_CONF=$(printf 'quota_interval_ms=200\ntrim_interval_ms=300\nredis_maxmemory=536870912\nretain_handled=1000')
plat_suite_up
pass up
IN="http://127.0.0.1:$PLAT_INGRESS_PORT"
API="http://127.0.0.1:$PLAT_API_PORT"
ATOKEN=$(cat "$PLAT_STATE/api.token")
metrics() { curl -s -H "Authorization: Bearer $ATOKEN" "$API/metrics"; }
# storage WF FIELD: a field of describe's storage object
storage() { U describe --json "$1" | python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin)['storage']['$2']))"; }
storage_is() { [ "$(storage "$1" "$2")" = "$3" ]; }
# post TOKEN PATH DATA: the HTTP status of an ingress POST (body in $UF_TMP/body)
post() { curl -s -o "$UF_TMP/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $1" --data-binary "$3" "$IN$2"; }
bigkeys() { R --scan --pattern 'uf:kv:hog:k*' | wc -l | tr -d ' '; }
unread_is() { [ "$(R XINFO GROUPS uf:q:hog:in | awk '$0=="lag"{getline; print}')" = "$1" ]; }
backlog_of() { U describe --json "$1" | python3 -c "import json,sys; print([s['backlog'] for s in json.load(sys.stdin)['steps'] if s['name']=='$2'][0])"; }

# ---- redis-server runs with maxmemory (redis_maxmemory) and noeviction
check redis-noeviction [ "$(R CONFIG GET maxmemory-policy | tail -1)" = noeviction ]
check redis-maxmemory [ "$(R CONFIG GET maxmemory | tail -1)" = 536870912 ]

# ---- a workflow filling its storage quota with KV values, another beside it
m=$(manifest hog <<EOF
name: hog
storage_quota: 1MiB
functions:
  big:
    image: $fn
    listen: in
    batch: 1
    scale: { max_units: 1, grace_ms: 0 }
  count:
    image: $fn
    listen: mq
    env: { SEEN: "1" }
ingress:
  mqtt:
    - { topic: hog/in, queue: mq }
  http:
    - { path: /in, queue: in }
EOF
)
m2=$(manifest calm <<EOF
name: calm
functions:
  count:
    image: $fn
    listen: in
    timeout_ms: 60000
ingress:
  http:
    - { path: /in, queue: in }
EOF
)
U deploy "$m" >/dev/null && U deploy "$m2" >/dev/null || { fail deploy "hog or calm did not deploy"; exit 0; }
HOG=$(U token create hog) && CALM=$(U token create calm) || fail tokens "no ingress tokens"
U device add qsensor --topic 'hog/#' >"$UF_TMP/dev.cred" 2>&1 || fail device-add "$(cat "$UF_TMP/dev.cred")"
DEV_PASS=$(sed -n 's/^password: //p' "$UF_TMP/dev.cred")
PUB() { mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u qsensor -P "$DEV_PASS" "$@"; }
check measured wait_for 10 sh -c "[ \"\$($UNIFAAS --state-dir $PLAT_STATE describe --json hog | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"storage\"][\"measured_ms\"] > 0)')\" = True ]"
check quota-shown storage_is hog quota 1048576

# 24 values of 64 KiB, one every 200 ms: 1.5 MiB, past the 1 MiB quota
for i in $(seq 24); do echo "big:k$i:65536:200"; done | U push hog in >/dev/null
# an invoke queued behind them (taken: hog is not over yet) whose set is
# deferred for the quota answers at once, 202 "deferred" with the quota's
# reason, not "running" at its 60 s timeout
curl -s -o "$UF_TMP/invoke.body" -w '%{http_code} %{time_total}' -X POST -H "Authorization: Bearer $ATOKEN" \
	--data-binary big:inv:65536:0 "$API/v1/workflows/hog/queues/in/invoke?timeout_ms=60000" >"$UF_TMP/invoke.code" &
INVOKE_PID=$!
if wait_for 20 storage_is hog over_quota true; then
	pass over-quota
else
	fail over-quota "never over its quota: $(U describe --json hog | head -c 600)"
fi
left=$(R XINFO GROUPS uf:q:hog:in | awk '$0=="lag"{getline; print}')
written=$(bigkeys)
if [ "$written" -lt 24 ] && [ "$written" -ge 10 ]; then
	pass stopped-at-quota
else
	fail stopped-at-quota "$written of 24 values written (lag $left): not stopped near 1 MiB"
fi
# its unit goes on; the sets that would grow it are deferred, not counted,
# with the reason in the step's log
quota_line() { U logs hog/big 2>/dev/null | grep -E 'error=over_quota refused="kv set" reason="workflow over its storage quota \([0-9]+ of 1048576 bytes, storage_quota\)'; }
check kv-growth-reason wait_for 10 quota_line
delayed_some() { [ "$(R ZCARD "uf:delay:$1:$2")" -gt 0 ]; }
check kv-growth-deferred wait_for 10 delayed_some hog in
check kv-growth-uncounted [ "$(R HGET uf:stat:hog:big failed)" = "" ]
wait "$INVOKE_PID"
read -r icode itime <"$UF_TMP/invoke.code"
istatus=$(python3 -c "import json; b=json.load(open('$UF_TMP/invoke.body')); print(b.get('status'), 'storage quota' in b.get('reason', ''))" 2>/dev/null)
if [ "$icode" = 202 ] && [ "$istatus" = "deferred True" ] && [ "${itime%%.*}" -lt 40 ]; then
	pass invoke-deferred-answers-at-once
else
	fail invoke-deferred-answers-at-once "HTTP $icode after ${itime} s: $(cat "$UF_TMP/invoke.body")"
fi
check invoke-deferred-counted sh -c "curl -s -H 'Authorization: Bearer $ATOKEN' $API/metrics | grep -q '^unifaas_ingress_messages_total{source=\"http\",outcome=\"invoke_deferred\"} 1'"
# a quota deferral is not a uf_defer: UF_DEFER_MAX (100) does not end it
# (quota_give_up_s does, tested at the end); an event already put off 99
# times by uf_defer waits on, its deferrals and attempt unchanged
R XADD uf:q:hog:in '*' data big:zz:1:0 attempt 3 deferrals 99 >/dev/null
zz_waits() { R ZRANGE uf:delay:hog:in 0 -1 | grep -a 'big:zz:1:0' | grep -a '7:attempt,1:3,' | grep -qa '9:deferrals,2:99,'; }
check quota-deferral-not-capped wait_for 10 zz_waits
sleep 1
check quota-deferral-not-dead [ "$(R XLEN uf:dlq:hog:in)" = 0 ]
sleep 1
written2=$(bigkeys)
check stays-paused [ "$written2" = "$written" ]
check describe-over sh -c "$UNIFAAS --state-dir $PLAT_STATE describe hog | grep -E '^storage: +[0-9]+ of 1048576 bytes \(storage_quota\); OVER QUOTA: refused: new events \(HTTP 507, MQTT paused\) and its units. pushes and growing KV writes'"
check ps-over sh -c "$UNIFAAS --state-dir $PLAT_STATE ps | grep -E '^hog: over quota: [0-9]+ of 1048576 bytes \(storage_quota\); refused: new events'"
check log-quota grep -qE 'what=quota workflow=hog stored=[0-9]+ quota=1048576 action=' "$PLAT_STATE/logs/unifaasd.log"

# refused at the edges, the other workflow served
code=$(post "$HOG" /hog/in x)
if [ "$code" = 507 ] && grep -q "hog" "$UF_TMP/body" && grep -q "storage_quota" "$UF_TMP/body"; then
	pass ingress-507
else
	fail ingress-507 "HTTP ingress for hog answered $code: $(cat "$UF_TMP/body")"
fi
code=$(post "$CALM" /calm/in x)
check ingress-other-202 [ "$code" = 202 ]
check other-handled wait_for 10 kv_is calm count 1
echo y | U push hog in >"$UF_TMP/push.out" 2>&1
check push-507 grep -q "over its storage quota" "$UF_TMP/push.out"
code=$(curl -s -o "$UF_TMP/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $ATOKEN" --data-binary z "$API/v1/workflows/hog/queues/in/events")
check api-push-507 [ "$code" = 507 ]
check metrics-over sh -c "curl -s -H 'Authorization: Bearer $ATOKEN' $API/metrics | grep -q '^unifaas_workflow_over_quota{workflow=\"hog\"} 1'"

# MQTT: QoS 1 messages for hog wait in the broker while it is over
for i in $(seq 20); do PUB -q 1 -t hog/in -m "m$i" || fail mqtt-publish "mosquitto_pub failed"; done
sleep 1.5
mq=$(R XLEN uf:q:hog:mq)
check mqtt-held [ "$mq" = 0 ]

# freed: its keys deleted, it takes events again and loses none.  What was
# deferred is written then, 64 KiB values (80 KiB each as Redis counts
# them) that may put it over again when few were written before the
# quota: those are deleted too, until its queue is drained and it is under
# (each key name k1..k24 is seen once in all, none lost)
keynames() { R --scan --pattern 'uf:kv:hog:k*' | sed 's/^uf:kv:hog://'; }
free_keys() { for k in $(keynames | tee -a "$UF_TMP/seen.keys"); do U kv del hog "$k" >/dev/null; done; }
: >"$UF_TMP/seen.keys"
free_keys
check under-quota wait_for 10 storage_is hog over_quota false
check log-resume grep -qE 'what=quota workflow=hog stored=[0-9]+ quota=1048576 action=resume' "$PLAT_STATE/logs/unifaasd.log"
settled_under() { free_keys; drained hog in big && storage_is hog over_quota false; }
check big-drained wait_for 40 settled_under
# each of m1..m20 handled by count (its KV record seen:mN): not their entries
# in uf:q:hog:mq, which a workflow over its quota trims once handled
# (retention.c)
seen() { for i in $(seq 20); do R EXISTS "uf:kv:hog:seen:m$i"; done | grep -c '^1$'; }
seen_all() { [ "$(seen)" = 20 ]; }
if wait_for 20 seen_all; then pass mqtt-delivered-after; else
	fail mqtt-delivered-after "$(seen) of m1..m20 handled; in uf:q:hog:mq: $(R XRANGE uf:q:hog:mq - + | grep '^m[0-9]*$' | tr '\n' ' '); unifaasd: $(grep -E 'what=mqtt.*hog|workflow=hog.*(resume|pause)|what=trim workflow=hog queue=mq' "$PLAT_STATE/logs/unifaasd.log" | tail -4 | cut -c1-200 | tr '\n' ' ')"
fi
keynames >>"$UF_TMP/seen.keys"
nseen=$(sort -u "$UF_TMP/seen.keys" | wc -l | tr -d ' ')
if [ "$nseen" = 24 ] && [ "$(sort "$UF_TMP/seen.keys" | uniq -d)" = "" ]; then
	pass none-lost
else
	fail none-lost "$nseen of the 24 values k1..k24 written ($written2 before the quota); twice: $(sort "$UF_TMP/seen.keys" | uniq -d | tr '\n' ' ')"
fi
check mqtt-counted wait_for 10 kv_is hog count 20
code=$(post "$HOG" /hog/in x)
check ingress-202-again [ "$code" = 202 ]

# ---- over its quota by its own backlog: its unit drains it back under, and
# it takes events again, none lost; calm is served throughout
m5=$(manifest drain <<EOF
name: drain
storage_quota: 1MiB
functions:
  count:
    image: $fn
    listen: in
    timeout_ms: 60000
    scale: { max_units: 1, grace_ms: 0 }
ingress:
  http:
    - { path: /in, queue: in }
EOF
)
U deploy "$m5" >/dev/null || fail deploy-drain "drain did not deploy"
DRAIN=$(U token create drain) || fail token-drain "no ingress token for drain"
U kv set drain count 0 >/dev/null && U kv set drain gate 1 >/dev/null || fail drain-kv "kv set drain failed"
U push drain in <<<"gate:gate:opened" >/dev/null
check drain-held wait_for 20 holds drain in count
# 300 events of 4 KiB behind the held one: about 1.3 MiB, past its 1 MiB quota
python3 -c "print('\n'.join('%04d' % i + 'x' * 4092 for i in range(300)))" | U push drain in >/dev/null
check drain-over wait_for 20 storage_is drain over_quota true
code=$(post "$DRAIN" /drain/in x)
check drain-ingress-507 [ "$code" = 507 ]
calm0=$(kv calm count)
code=$(post "$CALM" /calm/in x)
check drain-other-202 [ "$code" = 202 ]
check drain-other-handled wait_for 10 kv_is calm count $((calm0 + 1))
U kv del drain gate >/dev/null || fail drain-gate "kv del drain gate failed"
check drain-all-handled wait_for 30 kv_is drain count 300
check drain-under wait_for 30 storage_is drain over_quota false
check drain-trim-log grep -qE 'what=trim workflow=drain queue=in entries=[0-9]+ kept_handled=0 why=over_quota' "$PLAT_STATE/logs/unifaasd.log"
code=$(post "$DRAIN" /drain/in x)
check drain-ingress-again [ "$code" = 202 ]
check drain-none-lost wait_for 10 kv_is drain count 301
check drain-gate-event wait_for 20 kv_is drain opened 1
check drain-no-dead [ "$(R XLEN uf:dlq:drain:in)-$(R HGET uf:stat:drain:count failed)" = 0- ]
code=$(post "$CALM" /calm/in x)
check drain-other-after wait_for 10 kv_is calm count $((calm0 + 2))

# ---- queues purge: the oldest events of a queue, handled or not, logged
m6=$(manifest purged <<EOF
name: purged
functions:
  count:
    image: $fn
    listen: in
    timeout_ms: 60000
    scale: { max_units: 1, grace_ms: 0 }
EOF
)
U deploy "$m6" >/dev/null || fail deploy-purged "purged did not deploy"
U kv set purged gate 1 >/dev/null
U push purged in <<<"gate:gate:opened" >/dev/null
check purge-held wait_for 20 holds purged in count
seq 100 | sed 's/^/p/' | U push purged in >/dev/null
st=0
U queues purge purged in >"$UF_TMP/purge.out" 2>&1 || st=$?
check purge-needs-flag sh -c "[ $st = 2 ] && grep -q -- '--older-than DUR' '$UF_TMP/purge.out'"
U queues purge purged in --keep 10 >"$UF_TMP/purge.out" 2>&1
check purge-keep grep -qx 'purged 91 events of purged/in' "$UF_TMP/purge.out"
check purge-keep-left xlen_is uf:q:purged:in 10
check purge-log grep -qE 'what=queue-purge workflow=purged queue=in entries=91 delayed=0 how=keep bound=10' "$PLAT_STATE/logs/unifaasd.log"
check purge-metric sh -c "curl -s -H 'Authorization: Bearer $ATOKEN' $API/metrics | grep -q '^unifaas_queue_trimmed_total{workflow=\"purged\",queue=\"in\",why=\"purge\"} 91'"
U kv del purged gate >/dev/null
check purge-rest-handled wait_for 20 kv_is purged count 10
U kv set purged gate 1 >/dev/null
U push purged in <<<"gate:gate:opened2" >/dev/null
check purge-held-2 wait_for 20 holds purged in count
seq 5 | sed 's/^/o/' | U push purged in >/dev/null
sleep 3
seq 3 | sed 's/^/n/' | U push purged in >/dev/null
# the bound: just over o5's age, read from its id and Redis's clock, so the
# n's stay younger than it for 3 s more (a fixed --older-than 1s purged the
# n's too when pushing them and starting the purge took over 1 s under load)
o5_ms=$(R XRANGE uf:q:purged:in - + | awk 'p=="data" && $0=="o5" {split(id, a, "-"); print a[1]} /^[0-9]+-[0-9]+$/ {id=$0} {p=$0}')
now_ms=$(R TIME | awk 'NR==1 {s=$0} NR==2 {printf "%.0f\n", s * 1000 + int($0 / 1000)}')
U queues purge purged in --older-than "$((now_ms - o5_ms - 100))ms" >"$UF_TMP/purge.out" 2>&1
check purge-older grep -qE '^purged [0-9]+ events of purged/in$' "$UF_TMP/purge.out"
data_of() { R XRANGE "uf:q:purged:in" - + | awk 'p=="data"{print} {p=$0}' | tr '\n' ' '; }
left=$(data_of)
[ "$left" = "n1 n2 n3 " ] && pass purge-older-left ||
	fail purge-older-left "left after --older-than $((now_ms - o5_ms - 100))ms: $left"
U kv del purged gate >/dev/null
check purge-older-handled wait_for 20 kv_is purged count 13
api_del() { curl -s -o "$UF_TMP/body" -w '%{http_code}' -X DELETE -H "Authorization: Bearer $ATOKEN" "$API/v1/workflows/purged/queues/$1"; }
check purge-api-no-flag sh -c "[ $(api_del in/events) = 400 ] && grep -q 'exactly one of' '$UF_TMP/body'"
check purge-api-bad-keep [ "$(api_del 'in/events?keep=-1')" = 400 ]
check purge-api-all sh -c "[ $(api_del 'in/events?all=1') = 200 ] && grep -qE '\"delayed_purged\": *0' '$UF_TMP/body'"
check purge-all-empty xlen_is uf:q:purged:in 0
st=0
U queues purge purged nope --all >/dev/null 2>&1 || st=$?
check purge-unknown-queue [ "$st" = 4 ]

# ---- a queue no step listens to keeps its newest unread_max_entries
m3=$(manifest unread <<EOF
name: unread
unread_max_entries: 50
functions:
  fwd:
    image: $fn
    listen: in
    push: sink
    env: { OUT: sink }
    scale: { max_units: 1 }
EOF
)
U deploy "$m3" >/dev/null || fail deploy-unread "unread did not deploy"
seq 200 | sed 's/^/e/' | U push unread in >/dev/null
check unread-handled wait_for 20 kv_is unread count 200
check unread-trimmed wait_for 10 xlen_is uf:q:unread:sink 50
check unread-newest-kept [ "$(R XRANGE uf:q:unread:sink - + COUNT 1 | awk 'p=="data"{print; exit} {p=$0}')" = e151 ]
check unread-log grep -qE 'what=trim workflow=unread queue=sink entries=[0-9]+ why=unread_length bound=50' "$PLAT_STATE/logs/unifaasd.log"
check unread-metric sh -c "curl -s -H 'Authorization: Bearer $ATOKEN' $API/metrics | grep -qE '^unifaas_queue_trimmed_total\{workflow=\"unread\",queue=\"sink\",why=\"unread_length\"\} 150'"

# ---- and none older than unread_max_age_ms
m4=$(manifest aged <<EOF
name: aged
unread_max_age_ms: 1000
functions:
  fwd:
    image: $fn
    listen: in
    push: sink
    env: { OUT: sink }
EOF
)
U deploy "$m4" >/dev/null || fail deploy-aged "aged did not deploy"
seq 10 | U push aged in >/dev/null
check aged-handled wait_for 20 kv_is aged count 10
check aged-trimmed wait_for 10 xlen_is uf:q:aged:sink 0
check aged-log grep -qE 'what=trim workflow=aged queue=sink entries=[0-9]+ why=unread_age bound=1000' "$PLAT_STATE/logs/unifaasd.log"

# ---- one over/under rule with hysteresis (common/delivery.h
# uf_quota_is_over): over above the quota, under again only at or below
# 90% of it, so a workflow near its quota is not refused and taken by turns
# with each measurement.  Values of 110000 bytes (about 110-115 KB each as
# Redis counts them): 10 are over 1 MiB, 9 are under 1 MiB but over 90% of
# it, 8 are under 90%.
m7=$(manifest edge <<EOF
name: edge
storage_quota: 1MiB
functions:
  count:
    image: $fn
    listen: in
EOF
)
U deploy "$m7" >/dev/null || fail deploy-edge "edge did not deploy"
val=$(head -c 110000 /dev/zero | tr '\0' v)
for i in $(seq 10); do U kv set edge "v$i" "$val" >/dev/null || fail edge-kv "kv set edge v$i failed"; done
check edge-over wait_for 10 storage_is edge over_quota true
apipush() { curl -s -o "$UF_TMP/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $ATOKEN" --data-binary "$2" "$API/v1/workflows/$1/queues/in/events"; }
U kv del edge v10 >/dev/null
# in_band WF: between 90% and 100% of a 1 MiB quota
in_band() { b=$(storage "$1" bytes); [ "$b" -le 1048576 ] && [ "$b" -gt 943719 ]; }
if wait_for 10 in_band edge; then
	codes=""
	for i in 1 2 3 4 5; do codes="$codes$(apipush edge x) $(storage edge over_quota) "; sleep 0.3; done
	[ "$codes" = "$(printf '507 true %.0s' 1 2 3 4 5)" ] && grep -q 'at or under 943719 bytes, 90% of it' "$UF_TMP/body" &&
		pass quota-hysteresis-holds || fail quota-hysteresis-holds "$(storage edge bytes) bytes stored: $codes; $(cat "$UF_TMP/body")"
	# ps says why a workflow with fewer bytes than its quota is over
	U ps >"$UF_TMP/ps.out"
	grep -qE '^edge: over quota: [0-9]+ of 1048576 bytes \(storage_quota\); refused: new events .*; until it is at or under 90% of its quota$' "$UF_TMP/ps.out" &&
		pass quota-hysteresis-ps-says-level || fail quota-hysteresis-ps-says-level "$(grep '^edge' "$UF_TMP/ps.out")"
else
	fail quota-hysteresis-holds "never between 943719 and 1048576 bytes: $(storage edge bytes)"
fi
U kv del edge v9 >/dev/null
check quota-hysteresis-under-at-90 wait_for 10 storage_is edge over_quota false
code=$(apipush edge x)
check quota-hysteresis-takes-again [ "$code" = 202 ]
check quota-hysteresis-log grep -qE 'what=quota workflow=edge stored=[0-9]+ quota=1048576 action=resume' "$PLAT_STATE/logs/unifaasd.log"

# ---- the give-up clock (uf:quota-since:<wf>, quota_give_up_s) follows the
# same hysteresis: it keeps counting while the workflow hovers between 90%
# and 100% of its quota (it is still over), and starts again when it went
# under (at or under 90%: the key is deleted) and then over again - also
# when a moment of its last time over was left in Redis (a DEL lost with a
# connection): the daemon saw it under, so that moment is not this time's.
# Asserted on Redis's clock, as bounds that load cannot break.
m10=$(sed "s/^name: edge$/name: hover/" "$m7" | manifest hover)
U deploy "$m10" >/dev/null || fail deploy-hover "hover did not deploy"
for i in $(seq 10); do U kv set hover "v$i" "$val" >/dev/null || fail hover-kv "kv set hover v$i failed"; done
check hover-over wait_for 10 storage_is hover over_quota true
since() { R GET uf:quota-since:hover; }
hover_over_s() { R GET uf:quota:hover | awk '{print $4}'; }
over_ge() { [ "$(hover_over_s)" -ge "$1" ] 2>/dev/null; }
redis_ms() { R TIME | awk 'NR==1 {s=$0} NR==2 {printf "%.0f\n", s * 1000 + int($0 / 1000)}'; }
check hover-over-2s wait_for 20 over_ge 2
s0=$(since) o0=$(hover_over_s)
U kv del hover v10 >/dev/null
if wait_for 10 in_band hover; then
	# one more measurement after the one that found it in the band
	m1=$(storage hover measured_ms)
	measured_after() { [ "$(storage hover measured_ms)" -gt "$1" ]; }
	wait_for 10 measured_after "$m1"
	s1=$(since) o1=$(hover_over_s) b1=$(storage hover bytes) over1=$(storage hover over_quota)
	[ -n "$s0" ] && [ "$s1" = "$s0" ] && [ "$over1" = true ] && [ "${o1:-0}" -ge "$o0" ] &&
		pass give-up-clock-kept-in-band ||
		fail give-up-clock-kept-in-band "over ${o0} s since $s0, then at $b1 bytes (between 90% and 100%): over_quota $over1, over ${o1} s since '$s1'"
else
	fail give-up-clock-kept-in-band "never between 943719 and 1048576 bytes: $(storage hover bytes)"
fi
U kv del hover v9 >/dev/null
check hover-under wait_for 10 storage_is hover over_quota false
no_since() { [ -z "$(since)" ]; }
wait_for 10 no_since && pass give-up-clock-deleted-under ||
	fail give-up-clock-deleted-under "under again, uf:quota-since:hover still says $(since) (its first time over: $s0)"
# a moment left from its first time over, as a DEL lost with a connection
# would leave it; then over again
R SET uf:quota-since:hover "$s0" >/dev/null
t1=$(redis_ms)
U kv set hover v9 "$val" >/dev/null && U kv set hover v10 "$val" >/dev/null || fail hover-kv2 "kv set hover failed"
check hover-over-again wait_for 10 storage_is hover over_quota true
since_from() { [ "$(since)" -ge "$1" ] 2>/dev/null; }
if wait_for 10 since_from "$t1"; then pass give-up-clock-restarts-after-under; else
	fail give-up-clock-restarts-after-under "over again at or after $t1 (Redis ms), uf:quota-since:hover says $(since) (its first time: $s0)"
fi
# the first value the units read counts from then (at most the time since
# t1, a second for rounding), not from its first time over
has_over_s() { [ -n "$(hover_over_s)" ]; }
wait_for 10 has_over_s
o2=$(hover_over_s) t2=$(redis_ms)
[ -n "$o2" ] && [ $((o2 * 1000)) -le $((t2 - t1 + 1000)) ] && pass give-up-clock-units-read-restart ||
	fail give-up-clock-units-read-restart "uf:quota:hover says over ${o2} s, $((t2 - t1)) ms after it went over again"
for i in $(seq 10); do U kv del hover "v$i" >/dev/null; done
U undeploy hover >/dev/null 2>&1

# ---- a control-API push that is cut short (Redis full in its middle)
# answers which of its events were queued, refused or not sent, so that a
# retry sends only those (no event queued twice): 4000 events of 1000 bytes
# into a Redis given room for about 1 MB of them.  Its unit never pops
# (slots_fn MODE=sleep), so no commit or re-queue adds to the stream and
# its entries-added counts exactly what the push queued.
sleep_fn=$(build_guest "$UF_TOP/tests/platform/slots_fn.c") || fail build-slots-fn "slots_fn.c did not build"
m8=$(manifest part <<EOF
name: part
functions:
  count:
    image: $sleep_fn
    listen: in
    env: { MODE: sleep }
    scale: { max_units: 1 }
EOF
)
U deploy "$m8" >/dev/null || fail deploy-part "part did not deploy"
added() { R XINFO STREAM uf:q:part:in | awk '$0=="entries-added"{getline; print}'; }
apipush part x >/dev/null
a0=$(added)
used=$(R INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
R CONFIG SET maxmemory $((used + 1000000)) >/dev/null
python3 -c "print('\n'.join('%04d' % i + 'p' * 996 for i in range(4000)))" >"$UF_TMP/part.txt"
code=$(curl -s -o "$UF_TMP/part.body" -w '%{http_code}' -X POST -H "Authorization: Bearer $ATOKEN" --data-binary @"$UF_TMP/part.txt" "$API/v1/workflows/part/queues/in/events")
R CONFIG SET maxmemory 536870912 >/dev/null
a1=$(added)
verdict=$(python3 - "$UF_TMP/part.body" "$((a1 - a0))" <<'PY'
import json, sys
b = json.load(open(sys.argv[1])); written = int(sys.argv[2])
ev = b.get('events') or {}
seen = []
for k in ('queued', 'refused', 'unconfirmed', 'not_sent'):
    for lo, hi in ev.get(k, []):
        seen += range(lo, hi + 1)
nq = sum(hi - lo + 1 for lo, hi in ev.get('queued', []))
ok = (sorted(seen) == list(range(1, 4001)) and nq == b.get('queued') == written and 0 < written < 4000
      and ev.get('queued', [[0]])[0][0] == 1 and not ev.get('unconfirmed'))
print('ok' if ok else 'bad: %d written, %s' % (written, json.dumps(b)[:600]))
PY
)
[ "$code" = 507 ] && [ "$verdict" = ok ] && pass push-partial-says-which || fail push-partial-says-which "HTTP $code, $verdict"

# ---- MQTT over the quota boundary: a stream of distinct QoS 1 messages
# flowing while the workflow goes over its quota four times (each time its
# session pauses with messages taken, some with their XADD out; they wait
# in the broker meanwhile) and under again: each message is queued exactly
# once, in the order published, none lost.  Its unit never pops (slots_fn
# MODE=sleep), so its queue keeps every entry it was given.
m9=$(manifest mqx <<EOF
name: mqx
storage_quota: 4MiB
functions:
  hold:
    image: $sleep_fn
    listen: mq
    env: { MODE: sleep }
    scale: { max_units: 1 }
ingress:
  mqtt:
    - { topic: mqx/in, queue: mq }
EOF
)
U deploy "$m9" >/dev/null || fail deploy-mqx "mqx did not deploy"
U device add mqxdev --topic 'mqx/#' >"$UF_TMP/mqx.cred" 2>&1 || fail device-add-mqx "$(cat "$UF_TMP/mqx.cred")"
MQX_PASS=$(sed -n 's/^password: //p' "$UF_TMP/mqx.cred")
check mqx-subscribed wait_for 20 grep -qE 'what=mqtt op=subscribe workflow=mqx .*result=subscribed' "$PLAT_STATE/logs/unifaasd.log"
# mq_stream_start WF TOPIC: one mosquitto_pub -l (QoS 1, device mqxdev)
# publishing e00001, e00002, ... to TOPIC (about 5000 a second at most)
# until $UF_TMP/WF.stop exists (at most 100000: 3 MB of queue), then 200
# more; how many so far into WF.sent, in all into WF.n (mq_stream_end)
mq_stream_start() {
	rm -f "$UF_TMP/$1.fifo" "$UF_TMP/$1.stop" "$UF_TMP/$1.n" "$UF_TMP/$1.sent" && mkfifo "$UF_TMP/$1.fifo"
	mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u mqxdev -P "$MQX_PASS" -q 1 -t "$2" -l \
		<"$UF_TMP/$1.fifo" >"$UF_TMP/$1.pub.log" 2>&1 &
	MQ_PUB=$!
	(
		n=0
		exec 7>"$UF_TMP/$1.fifo"
		while [ ! -e "$UF_TMP/$1.stop" ] && [ "$n" -lt 100000 ]; do
			for j in $(seq 100); do n=$((n + 1)) && printf 'e%05d\n' "$n" >&7; done
			echo "$n" >"$UF_TMP/$1.sent"
			sleep 0.02
		done
		for j in $(seq 200); do n=$((n + 1)) && printf 'e%05d\n' "$n" >&7; done
		exec 7>&-
		echo "$n" >"$UF_TMP/$1.n"
	) &
	MQ_STREAM=$!
}
# mq_stream_end WF: stops it; how many it published into MQ_N
mq_stream_end() {
	touch "$UF_TMP/$1.stop"
	wait "$MQ_STREAM"
	wait "$MQ_PUB" || fail "$1-publish" "mosquitto_pub: $(tail -3 "$UF_TMP/$1.pub.log")"
	MQ_N=$(cat "$UF_TMP/$1.n")
}
# mq_sent_ge WF N: it has published at least N
mq_sent_ge() { [ "$(cat "$UF_TMP/$1.sent" 2>/dev/null || echo 0)" -ge "$2" ]; }
# mq_data WF: the data of uf:q:WF:mq's entries, in order
mq_data() { R XRANGE "uf:q:$1:mq" - + | awk 'p=="data"{print} {p=$0}'; }
# mq_verdict WF N [EXTRA]: "ok" when uf:q:WF:mq holds e00001..eN and
# "end", each once, in that order; with EXTRA, each at least once and at
# most twice, at most EXTRA entries more, first ones in that order (the
# at-least-once bound); else what is wrong
mq_verdict() {
	mq_data "$1" | python3 -c "
import sys, collections
got = [l.rstrip('\\n') for l in sys.stdin]
want = ['e%05d' % i for i in range(1, $2 + 1)] + ['end']
c = collections.Counter(got)
twice = sorted(k for k, v in c.items() if v > 1)
lost = [k for k in want if k not in c]
first = list(dict.fromkeys(got))
ok = got == want if '${3:-}' == '' else (
    first == want and max(c.values()) <= 2 and len(got) - len(want) <= int('${3:-0}'))
print('ok' if ok else '%d entries for %d messages; twice: %d %s; lost: %d %s; in order: %s' % (
    len(got), len(want), len(twice), ' '.join(twice[:8]), len(lost), ' '.join(lost[:8]),
    [k for k in got if k != 'end'] == sorted(k for k in got if k != 'end')))"
}
mq_stream_start mqx mqx/in
mqx_len() { R XLEN uf:q:mqx:mq; }
mqx_grown() { [ "$(mqx_len)" -ge "$1" ]; }
check mqx-flowing wait_for 20 mqx_grown 100
# over by 28000 small KV keys (about 5 MB as Redis counts them), set at
# once while messages flow (each measurement takes several steps, messages
# coming meanwhile), and under again once they are deleted; each time
# about 8000 messages wait in the broker first, so that the next time
# over comes while the session takes them at full speed (neither wait is
# a condition: they only make a pause with XADDs out likely)
pauses() { grep -cE 'what=mqtt op=pause workflow=mqx .*cause="?over its storage quota' "$PLAT_STATE/logs/unifaasd.log"; }
pauses_are() { [ "$(pauses)" = "$1" ]; }
mqx_cycles=ok
for c in 1 2 3 4; do
	R EVAL "for i = 1, 28000 do redis.call('SET', 'uf:kv:mqx:s' .. i, string.rep('x', 100)) end" 0 >/dev/null
	wait_for 20 pauses_are "$c" || mqx_cycles="pause $c not logged (pauses: $(pauses))"
	[ "$c" = 4 ] && break
	wait_for 20 mq_sent_ge mqx $(($(cat "$UF_TMP/mqx.sent") + 8000))
	R EVAL "for i = 1, 28000 do redis.call('DEL', 'uf:kv:mqx:s' .. i) end" 0 >/dev/null
	wait_for 20 storage_is mqx over_quota false || mqx_cycles="not under after pause $c"
done
[ "$mqx_cycles" = ok ] && pass mqx-paused-4-times || fail mqx-paused-4-times "$mqx_cycles"
mq_stream_end mqx
nmq=$MQ_N
nq=$(R XLEN uf:q:mqx:mq)
[ "$nq" -lt "$nmq" ] && pass mqx-waited-in-broker || fail mqx-waited-in-broker "$nq of $nmq messages queued while over its quota"
R EVAL "for i = 1, 28000 do redis.call('DEL', 'uf:kv:mqx:s' .. i) end" 0 >/dev/null
check mqx-under wait_for 10 storage_is mqx over_quota false
# the last one, published once all others were with the broker: the
# session's messages come in order, so all came once it has
mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u mqxdev -P "$MQX_PASS" -q 1 -t mqx/in -m end ||
	fail mqx-publish-end "mosquitto_pub failed"
mq_end() { mq_data "$1" | grep -qx end; }
check mqx-end-queued wait_for 120 mq_end mqx
verdict=$(mq_verdict mqx "$nmq")
[ "$verdict" = ok ] && pass mqx-each-once-in-order || fail mqx-each-once-in-order "$verdict"
U undeploy mqx >/dev/null 2>&1

# ---- MQTT while Redis is full (maxmemory, noeviction): a stream of QoS 1
# messages whose XADDs Redis refuses ("OOM") from some point on, then room
# again: none lost, in order.  A refused XADD ends the connection without
# acknowledging it or anything after it, so a message written after a
# refused one (room came back between them) is queued twice: at least
# once, and at most the messages in flight more (the broker's
# max_inflight_messages, 1000; docs/architecture.md "MQTT ingress").
m11=$(sed -e 's/^name: mqx$/name: mqf/' -e '/^storage_quota:/d' -e 's|topic: mqx/in|topic: mqx/full|' "$m9" | manifest mqf)
U deploy "$m11" >/dev/null || fail deploy-mqf "mqf did not deploy"
check mqf-subscribed wait_for 20 grep -qE 'what=mqtt op=subscribe workflow=mqf .*result=subscribed' "$PLAT_STATE/logs/unifaasd.log"
mq_stream_start mqf mqx/full
mqf_grown() { [ "$(R XLEN uf:q:mqf:mq)" -ge "$1" ]; }
check mqf-flowing wait_for 20 mqf_grown 100
used=$(R INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
R CONFIG SET maxmemory $((used / 2)) >/dev/null
check mqf-refused wait_for 20 grep -qE 'what=redis-full workflow=mqf op=mqtt-ingress' "$PLAT_STATE/logs/unifaasd.log"
# more messages while it is full (not a condition)
wait_for 20 mq_sent_ge mqf $(($(cat "$UF_TMP/mqf.sent") + 2000))
R CONFIG SET maxmemory 536870912 >/dev/null
mq_stream_end mqf
mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u mqxdev -P "$MQX_PASS" -q 1 -t mqx/full -m end ||
	fail mqf-publish-end "mosquitto_pub failed"
check mqf-end-queued wait_for 120 mq_end mqf
verdict=$(mq_verdict mqf "$MQ_N" 1000)
[ "$verdict" = ok ] && pass mqf-none-lost-in-order || fail mqf-none-lost-in-order "$verdict"
U undeploy mqf >/dev/null 2>&1

# ---- Redis full: every write refused is reported, nothing lost
# calm's event is held by its unit until the gate is deleted (a DEL is taken
# by a full Redis): its commit comes once Redis is full, whatever the load
U kv set calm gate 1 >/dev/null || fail gate "kv set calm gate failed"
U push calm in <<<"gate:gate:napped" >/dev/null
check nap-held wait_for 20 holds calm in count
# drain over its quota again, its unit holding an event: with Redis full
# too, its units are drained (SIGUSR1) and none started until Redis has room
U kv set drain gate 1 >/dev/null || fail drain-gate2 "kv set drain gate failed"
U push drain in <<<"gate:gate:opened3" >/dev/null
check full-drain-held wait_for 20 holds drain in count
python3 -c "print('\n'.join('%04d' % i + 'y' * 4092 for i in range(300)))" | U push drain in >/dev/null
check full-drain-over wait_for 20 storage_is drain over_quota true
full=$(R INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
R CONFIG SET maxmemory $((full / 2)) >/dev/null
code=$(post "$CALM" /calm/in x)
if [ "$code" = 507 ] && grep -q "redis is full" "$UF_TMP/body"; then
	pass full-ingress-507
else
	fail full-ingress-507 "HTTP ingress with Redis full answered $code: $(cat "$UF_TMP/body")"
fi
echo y | U push calm in >"$UF_TMP/push.out" 2>&1
check full-push-refused grep -q "OOM" "$UF_TMP/push.out"
check full-log-ingress grep -qE 'what=redis-full workflow=calm op=http-ingress' "$PLAT_STATE/logs/unifaasd.log"
U kv del calm gate >"$UF_TMP/gate.out" 2>&1 || fail gate-del "kv del with Redis full: $(cat "$UF_TMP/gate.out")"
full_lines() { grep 'what=redis-full' "$PLAT_STATE/logs/unifaasd.log" | sed 's/ effect=.*//' | tail -n 6 | tr '\n' '|'; }
if wait_for 20 grep -qE 'what=redis-full workflow=calm op=commit' "$PLAT_STATE/logs/unifaasd.log"; then
	pass full-commit-log
else
	fail full-commit-log "no op=commit line in 20 s; napped='$(kv calm napped)'; redis-full lines: $(full_lines)"
fi
check full-describe sh -c "$UNIFAAS --state-dir $PLAT_STATE describe calm | grep -q 'redis is full'"
refusals=$(storage calm redis_refusals)
if [ "${refusals:-0}" -ge 3 ] 2>/dev/null; then
	pass full-refusals-counted
else
	fail full-refusals-counted "describe calm: storage.redis_refusals=$refusals, not at least 3 (ingress, push, commit)"
fi
refmetric=$(metrics | grep '^unifaas_redis_refusals_total')
if grep -qE '^unifaas_redis_refusals_total\{workflow="calm",op="commit"\} [1-9]' <<<"$refmetric"; then
	pass full-metric
else
	fail full-metric "no commit refusal for calm in /metrics: $(tr '\n' '|' <<<"$refmetric")"
fi
napped=$(kv calm napped)
if [ -z "$napped" ]; then
	pass full-nothing-written
else
	fail full-nothing-written "calm's refused commit wrote napped='$napped' while Redis was full"
fi
PUB -q 1 -t hog/in -m full1 || fail mqtt-publish-full "mosquitto_pub failed"
check full-mqtt-log wait_for 10 grep -qE 'what=redis-full workflow=hog op=mqtt-ingress' "$PLAT_STATE/logs/unifaasd.log"
check full-quota-drained wait_for 10 grep -qE 'what=unit-stop unit=drain\.count\.[0-9]+ workflow=drain step=count limit=quota action=drain reason="?redis is full \(maxmemory\) and the workflow is over its storage quota' "$PLAT_STATE/logs/unifaasd.log"
check full-quota-log grep -qE 'what=quota workflow=drain stored=[0-9]+ quota=1048576 action="?redis is full \(maxmemory\): units drained, none started' "$PLAT_STATE/logs/unifaasd.log"
check full-quota-waiting wait_for 15 sh -c "$UNIFAAS --state-dir $PLAT_STATE ps | grep -q '^drain/count: running: redis is full (maxmemory) and the workflow is over its storage quota'"
starts() { grep -c 'what=unit-start unit=drain\.' "$PLAT_STATE/logs/unifaasd.log"; }
n0=$(starts)
sleep 2
check full-quota-none-started [ "$(starts)" = "$n0" ]
R CONFIG SET maxmemory 536870912 >/dev/null
U kv del drain gate >/dev/null || fail drain-gate3 "kv del drain gate failed"
check full-drain-all-handled wait_for 30 kv_is drain count 601
check full-drain-under wait_for 30 storage_is drain over_quota false
check full-drain-no-dead [ "$(R XLEN uf:dlq:drain:in)-$(R HGET uf:stat:drain:count failed)" = 0- ]
check full-mqtt-kept wait_for 20 sh -c "R() { REDISCLI_AUTH=\$(cat '$PLAT_STATE/redis.pass') redis-cli --no-auth-warning -s '$PLAT_STATE/redis.sock' \"\$@\"; }; R XRANGE uf:q:hog:mq - + | grep -qx full1"
check full-event-kept wait_for 20 kv_is calm napped 1
check full-uncounted [ "$(R HGET uf:stat:calm:count failed)" = "" ]
check full-no-dead [ "$(R XLEN uf:dlq:calm:in)" = 0 ]
check sanitizer-clean sh -c "! grep -E 'AddressSanitizer|runtime error' '$PLAT_STATE/logs/unifaasd.log'"

# ---- the give-up rule: once a workflow has been over its quota for
# quota_give_up_s (4 s here), its events that would grow it are
# dead-lettered at once, the reason naming both limits; before that they
# wait (the reason says how long it has been over).  Measured from the log
# line saying it went over.
plat_down
PLAT_CONF=$(printf 'quota_interval_ms=200\nquota_give_up_s=4')
plat_up || { fail up-give-up "unifaas up failed: $(tail -5 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"; exit 0; }
m6=$(manifest stuck <<EOF
name: stuck
storage_quota: 1MiB
functions:
  big:
    image: $fn
    listen: in
    batch: 1
    retries: 5
    scale: { max_units: 1, grace_ms: 0 }
EOF
)
U deploy "$m6" >/dev/null || fail deploy-stuck "stuck did not deploy"
for i in $(seq 24); do echo "big:k$i:65536:200"; done | U push stuck in >/dev/null
check give-up-over wait_for 20 storage_is stuck over_quota true
wait_line() { U logs stuck/big 2>/dev/null | grep -qE 'error=over_quota refused="kv set" reason="workflow over its storage quota \([0-9]+ of 1048576 bytes, storage_quota\) for [0-3] s: its pushes and growing KV writes wait until it is under, dead-lettered once it has been over for quota_give_up_s \(4 s\)'; }
check give-up-waits-first wait_for 20 wait_line
gave_up() { [ "$(R XLEN uf:dlq:stuck:in)" -gt 0 ] 2>/dev/null; }
# when WF first went over (ms, the daemon's log line saying so)
went_over_ms() {
	python3 -c "
import re, datetime
for l in open('$PLAT_STATE/logs/unifaasd.log'):
    if 'what=quota workflow=$1 ' in l and 'ingress refused' in l:
        t = re.search(r'time=(\S+?)Z', l).group(1)
        print(int(datetime.datetime.fromisoformat(t).replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))
        break"
}
if wait_for 30 gave_up; then
	dl=$(R XRANGE uf:dlq:stuck:in - + COUNT 1)
	reason=$(awk 'p=="reason"{print} {p=$0}' <<<"$dl")
	t_dead=$(awk 'p=="time"{print} {p=$0}' <<<"$dl")
	attempts=$(awk 'p=="attempts"{print} {p=$0}' <<<"$dl")
	t_over=$(went_over_ms stuck)
	if grep -qE '^workflow over its storage quota \([0-9]+ of 1048576 bytes, storage_quota\) for [0-9]+ s, quota_give_up_s is 4 s: its events that push or grow KV are dead-lettered' <<<"$reason" &&
		[ "$attempts" = 1 ] && [ $((t_dead - ${t_over:-0})) -ge 3900 ]; then
		pass give-up-dead-lettered-after-quota_give_up_s
	else
		fail give-up-dead-lettered-after-quota_give_up_s "reason '$reason', attempts $attempts, dead-lettered $((t_dead - ${t_over:-0})) ms after going over (want >= 4000)"
	fi
else
	fail give-up-dead-lettered-after-quota_give_up_s "nothing dead-lettered 30 s after going over: $(U logs stuck/big 2>/dev/null | tail -2)"
fi
stuck_keys() { R --scan --pattern 'uf:kv:stuck:k*' | wc -l | tr -d ' '; }
n=$(stuck_keys)
if [ "$n" -ge 10 ] && [ "$n" -lt 24 ]; then pass give-up-others-written; else fail give-up-others-written "$n values written"; fi
check give-up-all-settled wait_for 20 drained stuck in big
total=$(($(stuck_keys) + $(R XLEN uf:dlq:stuck:in)))
[ "$total" = 24 ] && pass give-up-nothing-lost || fail give-up-nothing-lost "$(stuck_keys) written + $(R XLEN uf:dlq:stuck:in) dead-lettered, not 24"
check give-up-sanitizer-clean sh -c "! grep -E 'AddressSanitizer|runtime error' '$PLAT_STATE/logs/unifaasd.log'"

# ---- the give-up clock survives a restart of unifaasd: the moment a
# workflow went over is kept in Redis (uf:quota-since:<wf>), so the new
# daemon counts on from it.  Restarted once it has been over 2 s: the
# first value it writes says at least that (an old daemon's said 0), and
# the event is dead-lettered at most quota_give_up_s plus the restart plus
# a measurement and a unit's start after going over (before: >= 2 s + the
# restart + 4 s).  Times: the dead letter's id (Redis's clock) and the log
# line saying it went over.
# the least over_s WF's quota key says (from FROM) until it dead-letters
# more than DEAD events (at most 30 s), polled every 0.1 s: each value
# stands for a second.  Not only until its first dead letter: at a load
# the old daemon may have given up before the restart (CI-like run beside
# busy loops: over 8 s, 10 dead letters when it was read)
least_over_s() {
	local least=$2 o i
	for i in $(seq 300); do
		o=$(R GET "uf:quota:$1" | awk '{print $4}')
		[ -n "$o" ] && [ "$o" -lt "$least" ] && least=$o
		[ "$(R XLEN "uf:dlq:$1:in")" -gt "$3" ] 2>/dev/null && break
		sleep 0.1
	done
	echo "$least"
}
m7=$(sed "s/^name: stuck$/name: clock/" "$m6" | manifest clock)
U deploy "$m7" >/dev/null || fail deploy-clock "clock did not deploy"
for i in $(seq 24); do echo "big:k$i:65536:200"; done | U push clock in >/dev/null
check clock-over wait_for 20 storage_is clock over_quota true
over_s() { R GET uf:quota:clock | awk '{print $4}'; }
over_2s() { [ "$(over_s)" -ge 2 ] 2>/dev/null; }
check clock-over-2s wait_for 20 over_2s
before=$(over_s) dead_before=$(R XLEN uf:dlq:clock:in)
t_down=$(date +%s%3N)
U down >/dev/null 2>&1
U up >/dev/null 2>&1 || fail clock-restart "unifaas up after down: $?"
t_up=$(date +%s%3N)
least=$(least_over_s clock "$before" "$dead_before")
[ "$least" -ge "$before" ] && pass give-up-clock-survives-restart ||
	fail give-up-clock-survives-restart "over ${before} s before the restart, the new daemon said ${least} s (dead letters before: $dead_before)"
t_dead=$(R XRANGE uf:dlq:clock:in - + COUNT 1 | head -1 | cut -d- -f1)
t_over=$(went_over_ms clock)
# a unit started late after the restart (load) is not the clock's fault:
# the bound counts from that start too
t_unit=$(python3 -c "
import re, datetime
last = 0
for l in open('$PLAT_STATE/logs/unifaasd.log'):
    if 'what=unit-start ' in l and ' workflow=clock ' in l:
        t = re.search(r'time=(\S+?)Z', l).group(1)
        ms = int(datetime.datetime.fromisoformat(t).replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
        if ms <= ${t_dead:-0}: last = ms
print(last)")
late=$((t_unit > t_up ? t_unit - t_up : 0))
bound=$((4000 + t_up - t_down + 1500 + late))
if [ -n "$t_dead" ] && [ -n "$t_over" ] && [ $((t_dead - t_over)) -le "$bound" ]; then
	pass give-up-clock-bound-after-restart
else
	fail give-up-clock-bound-after-restart "dead-lettered $((${t_dead:-0} - ${t_over:-0})) ms after going over, want <= $bound (quota_give_up_s + the restart + 1.5 s + ${late} ms the unit started after it)"
fi
check give-up-clock-kept [ -n "$(R GET uf:quota-since:clock)" ]
U undeploy clock >/dev/null 2>&1
check give-up-clock-cleared wait_for 10 sh -c "[ -z \"\$(REDISCLI_AUTH=\$(cat '$PLAT_STATE/redis.pass') redis-cli --no-auth-warning -s '$PLAT_STATE/redis.sock' GET uf:quota-since:clock)\" ]"
# ... and a deploy --replace (a new workflow in the daemon) likewise
m8=$(sed "s/^name: stuck$/name: clockr/" "$m6" | manifest clockr)
U deploy "$m8" >/dev/null || fail deploy-clockr "clockr did not deploy"
for i in $(seq 24); do echo "big:k$i:65536:200"; done | U push clockr in >/dev/null
overr_s() { R GET uf:quota:clockr | awk '{print $4}'; }
overr_2s() { [ "$(overr_s)" -ge 2 ] 2>/dev/null; }
check clockr-over-2s wait_for 20 overr_2s
before=$(overr_s) dead_before=$(R XLEN uf:dlq:clockr:in)
U deploy --replace "$m8" >/dev/null || fail replace-clockr "clockr was not replaced"
least=$(least_over_s clockr "$before" "$dead_before")
[ "$least" -ge "$before" ] && pass give-up-clock-survives-replace ||
	fail give-up-clock-survives-replace "over ${before} s before deploy --replace, then ${least} s (dead letters before: $dead_before)"
U undeploy clockr >/dev/null 2>&1
check give-up-clock-sanitizer-clean sh -c "! grep -E 'AddressSanitizer|runtime error' '$PLAT_STATE/logs/unifaasd.log'"
