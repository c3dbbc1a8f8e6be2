#!/usr/bin/env bash
# Issue 9's "done when", end to end with real servers only: a device account
# publishes a Smart Citizen reading over MQTT (QoS 1) and a client posts a
# CloudEvent over HTTP; both reach one function (tests/platform/relay_fn.c),
# whose uf_http reaches a local HTTPS server (a CA made here by openssl, the
# URL held in a secret) and whose uf_mqtt_publish reaches a subscriber.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"
. "$UF_TOP/tests/platform/pki.sh"

command -v mosquitto_sub >/dev/null || {
	fail tools "mosquitto_sub not installed (apt-get install mosquitto-clients)"
	exit 0
}
fn=$(build_guest "$UF_TOP/tests/platform/relay_fn.c") || { fail build "relay_fn.c did not build"; exit 0; }
FIX=${UF_FIXTURES:-$UF_TOP/../shared/testdata}
[ -f "$FIX/cloudevents/valid.jsonl" ] || FIX=/work/shared/testdata
P=$UF_TMP/pki
pki_ca "$P" ca && pki_cert "$P" srv ca IP:127.0.0.1 || { fail pki "openssl could not make the test CA"; exit 0; }

python3 "$UF_TOP/tests/platform/egress_server.py" "$UF_TMP/srv.port" "$UF_TMP/srv.log" "$P/srv.pem" "$P/srv.key" \
	>"$UF_TMP/srv.out" 2>&1 &
SRV=$!
SUB=
trap 'plat_cleanup; kill $SRV $SUB 2>/dev/null' EXIT
wait_for 30 test -s "$UF_TMP/srv.port" || { fail server "the HTTPS server did not start: $(cat "$UF_TMP/srv.out")"; exit 0; }
HOOK="https://127.0.0.1:$(cat "$UF_TMP/srv.port")/hooks/"

PLAT_CONF="egress_ca_file=$P/ca.pem"
plat_up || { fail up "unifaas up failed: $(tail -5 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"; exit 0; }
printf '%swebhook\n' "$HOOK" | U secret set RELAY_URL || fail secret "secret set failed"
m=$(manifest relay <<EOM
name: relay
functions:
  relay:
    image: $fn
    listen: in
    egress: [ "$HOOK" ]
    secrets: [ RELAY_URL ]
    publish: [ "relay/#" ]
    timeout_ms: 5000
ingress:
  mqtt:
    - { topic: "device/sck/+/readings/raw", queue: in }
  http:
    - { path: /ce, queue: in }
EOM
)
U deploy "$m" >"$UF_TMP/deploy.out" 2>&1 && pass deploy || { fail deploy "$(cat "$UF_TMP/deploy.out")"; exit 0; }
U device add sck1 --topic 'device/sck/+/readings/raw' >"$UF_TMP/dev" || fail device-add "device add failed"
DEV_PASS=$(sed -n 's/^password: //p' "$UF_TMP/dev")
TOKEN=$(U token create relay) || fail token "token create failed"

# the subscriber: the platform's account, on the topic the function publishes
sub_start sub-relay "$UF_TMP/sub.out" --unix "$PLAT_STATE/mqtt.sock" -u unifaasd -P "$(cat "$PLAT_STATE/mqtt.pass")" -q 1 \
	-t 'relay/#' -v -C 2 -W 60 || fail subscriber "$(cat "$UF_TMP/sub.out")"
SUB=$SUB_PID
# subscribed, not only connected: a reading published between the two finds
# no subscriber and is dropped by the broker
subscribed relay || fail session "unifaasd's MQTT session for relay did not subscribe its route: $(daemon_log | grep mqtt | tail -3)"

# in: a Smart Citizen Kit's raw reading over MQTT, and a CloudEvent over HTTP
READING=$(head -1 "$FIX/sck/raw-valid.txt")
mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u sck1 -P "$DEV_PASS" -q 1 \
	-t device/sck/aA1234/readings/raw -m "$READING" && pass device-publishes || fail device-publishes "mosquitto_pub failed"
CE=$(head -1 "$FIX/cloudevents/valid.jsonl")
code=$(curl -s -o "$UF_TMP/ce.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/cloudevents+json' --data-binary "$CE" "http://127.0.0.1:$PLAT_INGRESS_PORT/relay/ce")
[ "$code" = 202 ] && pass cloudevent-accepted || fail cloudevent-accepted "$code $(cat "$UF_TMP/ce.out")"

# out: both relayed over HTTPS to the server, and published to the subscriber
wait_for 60 sh -c "[ \"\$(grep -c '^WEBHOOK ' '$UF_TMP/srv.log' 2>/dev/null)\" -ge 2 ]"
grep -q "^WEBHOOK key=[0-9]*-[0-9]* body=src=device/sck/aA1234/readings/raw type=- data=" "$UF_TMP/srv.log" &&
	grep -qF "data=$READING" "$UF_TMP/srv.log" &&
	pass mqtt-event-reached-https || fail mqtt-event-reached-https "server saw: $(cat "$UF_TMP/srv.log")"
grep -q '^WEBHOOK key=[0-9]*-[0-9]* body=src=/ce type=me.smartcitizen.reading data=' "$UF_TMP/srv.log" &&
	pass cloudevent-reached-https || fail cloudevent-reached-https "server saw: $(cat "$UF_TMP/srv.log")"
wait $SUB
SUB=
grep -q "^relay/out src=device/sck/aA1234/readings/raw type=- data=" "$UF_TMP/sub.out" &&
	grep -q '^relay/out src=/ce type=me.smartcitizen.reading data=' "$UF_TMP/sub.out" &&
	pass published-to-subscriber || fail published-to-subscriber "subscriber got: $(cat "$UF_TMP/sub.out")"
wait_for 10 sh -c "[ \"\$(REDISCLI_AUTH=\$(cat '$PLAT_STATE/redis.pass') redis-cli --no-auth-warning -s '$PLAT_STATE/redis.sock' XLEN uf:out:mqtt:relay)\" = 0 ]"
[ "$(R XLEN uf:out:mqtt:relay)" = 0 ] && pass outbox-drained || fail outbox-drained "uf:out:mqtt:relay holds $(R XLEN uf:out:mqtt:relay)"
# the secret's value went to the function only
! grep -rq "hooks/webhook" "$PLAT_STATE/logs" && pass secret-not-logged || fail secret-not-logged "$(grep -r hooks/webhook "$PLAT_STATE/logs" | head -2)"
