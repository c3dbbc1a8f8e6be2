#!/usr/bin/env bash
# GET /metrics and GET /healthz (docs/api.md "Metrics"): a private platform,
# a real deployed function (tests/platform/platform_fn.c), events pushed
# through it, the scrape parsed whole by a strict checker of the text
# format (tests/platform/promtext.py) and its figures compared with the
# truth read from Redis, the KV the function wrote and the daemon's log;
# /healthz with Redis stopped (SIGSTOP, as redis_stall does) and with
# mosquitto killed.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || { fail build "platform_fn.c did not build"; exit 0; }
plat_suite_up
PORT=$PLAT_API_PORT
TOKEN=$(cat "$PLAT_STATE/api.token")
scrape() { curl -s --max-time 10 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/metrics" >"$UF_TMP/scrape.txt"; }
# figures NAME{labels}: the value of that series in the last parsed scrape
fig() { awk -v k="$1" '$1==k {print $2}' "$UF_TMP/scrape.parsed"; }
parse() { python3 "$UF_TOP/tests/platform/promtext.py" "$UF_TMP/scrape.txt" >"$UF_TMP/scrape.parsed" 2>"$UF_TMP/scrape.err"; }

m=$(manifest met <<EOF
name: met
functions:
  s:
    image: $fn
    listen: in
    retries: 0
    scale: { max_units: 1, idle_ms: 500, grace_ms: 0 }
EOF
)
U deploy "$m" >/dev/null || { fail deploy "met did not deploy"; exit 0; }
for i in $(seq 20); do echo "ev$i"; done | U push met in >/dev/null
printf 'fail\ncrash\n' | U push met in >/dev/null
wait_for 60 sh -c "[ \"\$(REDISCLI_AUTH=\$(cat '$PLAT_STATE/redis.pass') redis-cli --no-auth-warning -s '$PLAT_STATE/redis.sock' XLEN uf:dlq:met:in)\" = 2 ]" &&
	wait_for 60 drained met in s && wait_for 60 kv_is met count 20 || fail events "the events were not all handled: count $(kv met count), dlq $(R XLEN uf:dlq:met:in)"
wait_for 60 no_units met # every unit ended (its exit counted)

# the unit holding "hang" keeps step h busy: what it has not handled waits
m2=$(manifest met2 <<EOF
name: met2
functions:
  h:
    image: $fn
    listen: in
    batch: 1
    timeout_ms: 60000
    scale: { max_units: 1, idle_ms: 60000, grace_ms: 0 }
EOF
)
U deploy "$m2" >/dev/null || fail deploy2 "met2 did not deploy"
echo hang | U push met2 in >/dev/null
wait_for 30 holds met2 in h || fail held "the unit did not take the hang event"
for i in $(seq 7); do echo "w$i"; done | U push met2 in >/dev/null

# HTTP ingress (daemon/ingress.c counts each request): 3 accepted, 1 without a token
m3=$(manifest meti <<EOF
name: meti
functions:
  s: { image: $fn, listen: in }
ingress:
  http: [{ path: /m, queue: in }]
EOF
)
U deploy "$m3" >/dev/null || fail deploy3 "meti did not deploy"
ITOK=$(U token create meti)
for i in 1 2 3; do curl -s -o /dev/null -X POST -H "Authorization: Bearer $ITOK" --data-binary "i$i" "http://127.0.0.1:$PLAT_INGRESS_PORT/meti/m"; done
curl -s -o /dev/null -X POST --data-binary x "http://127.0.0.1:$PLAT_INGRESS_PORT/meti/m"

code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/metrics")
[ "$code" = 401 ] && pass metrics-needs-token || fail metrics-needs-token "status $code without a token"
scrape
ctype=$(curl -s -o /dev/null -w '%{content_type}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/metrics")
case "$ctype" in text/plain*version=0.0.4*) pass metrics-content-type ;; *) fail metrics-content-type "$ctype" ;; esac
if parse; then pass metrics-format-strict; else fail metrics-format-strict "$(head -5 "$UF_TMP/scrape.err" | tr '\n' ' ')"; fi

W='{step="s",workflow="met"}'
starts=$(daemon_log | grep -c 'what=unit-start unit=met\.s\.')
got=$(($(fig 'unifaas_unit_starts_total{how="spawn",step="s",workflow="met"}' || echo 0) + $(fig 'unifaas_unit_starts_total{how="standby",step="s",workflow="met"}' | grep . || echo 0)))
[ "$starts" -ge 1 ] && [ "$got" = "$starts" ] && pass unit-starts-counted || fail unit-starts-counted "metrics $got, daemon log $starts"
cold=$(fig "unifaas_unit_cold_start_seconds_count$W")
[ "${cold:-0}" -ge 1 ] && [ "$cold" -le "$starts" ] && pass cold-starts-counted || fail cold-starts-counted "cold starts '$cold', unit starts $starts"
check handled-equals-kv [ "$(fig "unifaas_events_handled_total$W")" = 20 ]
check latency-count-equals-handled [ "$(fig "unifaas_event_latency_seconds_count$W")" = 20 ]
check latency-inf-bucket [ "$(fig 'unifaas_event_latency_seconds_bucket{le="+Inf",step="s",workflow="met"}')" = 20 ]
check failed-counted [ "$(fig "unifaas_events_failed_total$W")" = 2 ]
check dead-counted [ "$(fig "unifaas_events_dead_lettered_total$W")" = 2 ]
check dead-letters-equal-xlen [ "$(fig 'unifaas_queue_dead_letters{queue="in",workflow="met"}')" = "$(R XLEN uf:dlq:met:in)" ]
check fault-exit-counted [ "$(fig 'unifaas_unit_exits_total{kind="fault",step="s",workflow="met"}')" = 1 ]
check drained-depth-zero [ "$(fig 'unifaas_queue_depth{queue="in",workflow="met"}')" = 0 ]
# met2: the held event and the 7 behind it
Q='{queue="in",workflow="met2"}'
truth=$(U queues --json | python3 -c 'import json,sys; print([q["waiting"] for q in json.load(sys.stdin)["queues"] if q["workflow"]=="met2"][0])')
d="$(fig "unifaas_queue_depth$Q")"
[ "$d" = 8 ] && [ "$truth" = 8 ] && pass depth-is-backlog || fail depth-is-backlog "metrics $d, unifaas queues $truth, pushed 8"
check pending-is-xpending [ "$(fig "unifaas_queue_pending$Q")" = "$(R XPENDING uf:q:met2:in h | head -1)" ]
check entries-is-xlen [ "$(fig "unifaas_queue_entries$Q")" = "$(R XLEN uf:q:met2:in)" ]
check http-ingress-accepted [ "$(fig 'unifaas_ingress_messages_total{outcome="accepted",source="http"}')" = 3 ]
check http-ingress-unauthorized [ "$(fig 'unifaas_ingress_messages_total{outcome="unauthorized",source="http"}')" = 1 ]
check units-running [ "$(fig 'unifaas_units{state="running",step="h",workflow="met2"}')" = 1 ]
check redis-up [ "$(fig "unifaas_redis_up{}")" = 1 ]

# /healthz: both reachable, then Redis stopped, then the broker gone
hz() { curl -s -o "$UF_TMP/hz.json" -w '%{http_code} %{time_total}' --max-time 5 "http://127.0.0.1:$PORT/healthz"; }
hzf() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j[sys.argv[2]]["ok"])' "$UF_TMP/hz.json" "$1"; }
read -r code t <<<"$(hz)"
[ "$code" = 200 ] && [ "$(hzf redis)" = True ] && [ "$(hzf mqtt)" = True ] && pass healthz-ok || fail healthz-ok "$code $(cat "$UF_TMP/hz.json")"
RPID=$(redis_pid)
kill -STOP "$RPID"
worst=0 code=
for i in $(seq 30); do
	read -r code t <<<"$(hz)"
	ms=$(python3 -c "print(int(float('$t')*1000))")
	[ "$ms" -gt "$worst" ] && worst=$ms
	[ "$code" = 503 ] && break
	sleep 0.1
done
redis_ok=$(hzf redis) mqtt_ok=$(hzf mqtt)
# /metrics meanwhile: at once, what the daemon knows, and unifaas_redis_up 0
# ("at once": under 2 s, what a scrape that waited for Redis would take at
# the least (the store gives up after 2 s); 1 s was a speed a loaded
# machine could miss)
mcode=$(curl -s -o "$UF_TMP/scrape.txt" -w '%{http_code} %{time_total}' --max-time 10 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/metrics")
kill -CONT "$RPID"
read -r mc mt <<<"$mcode"
parse && [ "$mc" = 200 ] && [ "$(fig "unifaas_redis_up{}")" = 0 ] && [ "$(fig 'unifaas_units{state="running",step="h",workflow="met2"}')" = 1 ] &&
	! grep -q '^unifaas_queue_depth{' "$UF_TMP/scrape.txt" && python3 -c "import sys; sys.exit(float('$mt') >= 2)" &&
	pass metrics-without-redis || fail metrics-without-redis "status $mc in ${mt}s: $(head -3 "$UF_TMP/scrape.err") $(grep redis_up "$UF_TMP/scrape.txt")"
echo "info: healthz with Redis stopped: $code after $i tries, slowest answer $worst ms"
[ "$code" = 503 ] && [ "$redis_ok" = False ] && [ "$mqtt_ok" = True ] && pass healthz-redis-stopped || fail healthz-redis-stopped "$code $(cat "$UF_TMP/hz.json")"
[ "$worst" -lt 1000 ] && pass healthz-prompt-redis-stopped || fail healthz-prompt-redis-stopped "slowest answer $worst ms"
wait_for 30 sh -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/healthz | grep -q 200" || fail healthz-redis-back "not 200 after SIGCONT"
kill "$(cat "$PLAT_STATE/mosquitto.pid")"
wait_for 30 sh -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/healthz | grep -q 503"
read -r code t <<<"$(hz)"
[ "$code" = 503 ] && [ "$(hzf mqtt)" = False ] && [ "$(hzf redis)" = True ] && grep -q "$PLAT_MQTT_PORT" "$UF_TMP/hz.json" &&
	pass healthz-broker-down || fail healthz-broker-down "$code $(cat "$UF_TMP/hz.json")"
finish
