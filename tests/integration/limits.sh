#!/usr/bin/env bash
# The limits of what one event may write (common/event_limits.h; docs/
# manifest.md "limits") against real servers: each limit exceeded fails the
# event for good (dead-lettered at once, whatever `retries`: a retry would
# stage the same writes) with a reason naming the limit, its value and
# where it was set, and `dlq ls` names the function, while a transient
# failure beside it is still retried; while a value or event exactly at the
# limit passes and another workflow's events all go through; a manifest
# asking more than the node allows is refused at deploy; the HTTP ingress
# and the control API refuse an event over event_bytes (413 naming it),
# the MQTT ingress drops it with a log line; `unifaas run` enforces the
# same limits.  The function is tests/platform/limits_fn.c.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/limits_fn.c") || { fail build "limits_fn.c did not build"; exit 0; }
calm_fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || { fail build "platform_fn.c did not build"; exit 0; }

# ---- unifaas run: the same limits, the same code (no platform needed)
# (the guest's own output goes to stderr with the tender's, pushes to stdout)
run_reason() { "$UNIFAAS" run --mem 64M "$fn" --event "$1" 2>&1 >/dev/null; }
r=$(run_reason push:1001:1)
grep -q "call 1001: error -7" <<<"$r" && # -E2BIG
	grep -q "event 1 failed for good: event staged 1001 writes (pushes, publishes and KV writes), over the limit 1000 (node limits.writes_per_event); its pushes were dropped" <<<"$r" &&
	pass run-writes-over || fail run-writes-over "$r"
n=$("$UNIFAAS" run --mem 64M "$fn" --event push:1000:1 2>/dev/null | grep -c '^{"queue"')
[ "$n" = 1000 ] && pass run-writes-at-limit || fail run-writes-at-limit "$n of 1000 pushes"
r=$(run_reason kv:1048577)
grep -q "call 1: error -27" <<<"$r" && # -EFBIG
	grep -q "KV value of 1048577 bytes for key 'big', over the limit 1048576 (node limits.value_bytes)" <<<"$r" &&
	pass run-value-over || fail run-value-over "$r"
r=$("$UNIFAAS" run --mem 64M --limit event_bytes=100 "$fn" --event pub:1:101 2>&1)
grep -q "event of 101 bytes published on topic 'lim/t', over the limit 100 (node limits.event_bytes)" <<<"$r" &&
	pass run-publish-over || fail run-publish-over "$r"
r=$("$UNIFAAS" run --mem 64M --limit writes_per_event=5000 "$fn" --event x 2>&1)
grep -q "limits.writes_per_event 5000 is more than limits.batch_commit_writes 1000" <<<"$r" &&
	pass run-limit-inconsistent-refused || fail run-limit-inconsistent-refused "$r"

# the node's own limits, lowered so a small batch needs several chunks
PLAT_CONF=$'limits.writes_per_event=50\nlimits.batch_commit_writes=100'
plat_suite_up

m=$(manifest lim <<EOF
name: lim
functions:
  small:
    image: $fn
    listen: in
    push: out
    retries: 1
    memory: 64MiB
    env: { OUT: out }
    limits: { value_bytes: 1000, event_bytes: 500, writes_per_event: 20, commit_bytes: 5000 }
    scale: { max_units: 1, grace_ms: 0 }
  node:
    image: $fn
    listen: in2
    push: out2
    retries: 0
    memory: 64MiB
    env: { OUT: out2 }
    scale: { max_units: 1, grace_ms: 0 }
  sink: { image: $calm_fn, listen: out }
  sink2: { image: $calm_fn, listen: out2 }
EOF
)
U deploy "$m" >"$UF_TMP/d.out" 2>&1 || { fail deploy "lim did not deploy: $(cat "$UF_TMP/d.out")"; exit 0; }
m=$(manifest calm <<EOF
name: calm
functions:
  count: { image: $calm_fn, listen: in, scale: { max_units: 1 } }
EOF
)
U deploy "$m" >/dev/null || { fail deploy "calm did not deploy"; exit 0; }

# reasons WF QUEUE: the reason of every dead letter of the queue, one a line
reasons() { R XRANGE "uf:dlq:$1:$2" - + | awk 'p=="reason"{print} {p=$0}'; }
dlq_is() { [ "$(R XLEN "uf:dlq:$1:$2")" = "$3" ]; }

printf '%s\n' push:20:1 push:21:1 push:1:500 push:1:501 kv:1000 kv:1001 push:10:497 push:11:497 fail | U push lim in >/dev/null
printf '%s\n' push:51:1 | U push lim in2 >/dev/null
seq 1 300 | U push calm in >/dev/null
wait_for 90 dlq_is lim in 5 && wait_for 30 dlq_is lim in2 1 && wait_for 30 drained lim in small ||
	fail settle "dead letters: in $(R XLEN uf:dlq:lim:in), in2 $(R XLEN uf:dlq:lim:in2)"
rs=$(reasons lim in)
for want in "event staged 21 writes (pushes, publishes and KV writes), over the limit 20 (manifest limits.writes_per_event)" \
	"event of 501 bytes pushed to queue 'out', over the limit 500 (manifest limits.event_bytes)" \
	"KV value of 1001 bytes for key 'big', over the limit 1000 (manifest limits.value_bytes)" \
	"event's commit would write 5500 bytes, over the limit 5000 (manifest limits.commit_bytes)"; do
	name=$(cut -d' ' -f1-3 <<<"$want" | tr -c 'a-z0-9\n' -)
	grep -qxF "$want" <<<"$rs" && pass "dead-lettered-$name" || fail "dead-lettered-$name" "reasons: $rs"
done
U describe lim >"$UF_TMP/describe" 2>&1
grep -qF "over the limit 5000 (manifest limits.commit_bytes)" "$UF_TMP/describe" &&
	grep -qF "per event: 20 writes, values of 1000 bytes, events of 500 bytes, 5000 bytes in all (from the manifest: value_bytes, event_bytes, writes_per_event, commit_bytes)" "$UF_TMP/describe" &&
	grep -qF "per event: 50 writes, values of 1048576 bytes, events of 1048576 bytes, 4194304 bytes in all (from the manifest: none)" "$UF_TMP/describe" &&
	pass describe-names-limit || fail describe-names-limit "$(cat "$UF_TMP/describe")"
# "ATTEMPTS REASON" of each dead letter of lim/in, one a line (`dlq ls --json`: one object a line)
dead_attempts() { U dlq ls lim in --json | python3 -c "import json,sys; [print(e['attempts'], e['reason']) for e in map(json.loads, sys.stdin)]"; }
# over a limit: dead-lettered at once (1 attempt, though retries: 1);
# the transient failure beside them: retried once, then dead-lettered (2)
att=$(dead_attempts | grep -v transient | cut -d' ' -f1 | sort -u | tr '\n' ' ')
[ "$att" = "1 " ] && pass over-limit-dead-lettered-at-once || fail over-limit-dead-lettered-at-once "$(dead_attempts)"
dead_attempts | grep -qxF '2 transient: try again' && pass transient-failure-still-retried ||
	fail transient-failure-still-retried "$(dead_attempts)"
U dlq ls lim in >"$UF_TMP/dlq.out" 2>&1
grep -E ' small +[0-9]+-[0-9]+ +1 +event staged 21 writes \(pushes, publishes and KV writes\), over the limit 20 \(manifest limits\.writes_per_event\)' "$UF_TMP/dlq.out" >/dev/null &&
	pass dlq-ls-names-function-and-limit || fail dlq-ls-names-function-and-limit "$(cat "$UF_TMP/dlq.out")"
reasons lim in2 | grep -qxF "event staged 51 writes (pushes, publishes and KV writes), over the limit 50 (node limits.writes_per_event)" &&
	pass node-limit-named || fail node-limit-named "$(reasons lim in2)"
# at the limits: 20 + 1 + 10 pushes went through, none of a failed event's
xlen_is uf:q:lim:out 31 && pass at-limit-pushes-pass || fail at-limit-pushes-pass "out has $(R XLEN uf:q:lim:out) entries, not 31"
xlen_is uf:q:lim:out2 0 && pass failed-event-pushes-dropped || fail failed-event-pushes-dropped "out2 has $(R XLEN uf:q:lim:out2)"
[ "$(R STRLEN uf:kv:lim:big)" = 1000 ] && pass at-limit-value-passes || fail at-limit-value-passes "big is $(R STRLEN uf:kv:lim:big) bytes"
wait_for 90 kv_is calm count 300 && dlq_is calm in 0 && pass other-workflow-unharmed ||
	fail other-workflow-unharmed "calm counted $(kv calm count) of 300, $(R XLEN uf:dlq:calm:in) dead letters"

# ---- a batch's commit in chunks of at most batch_commit_writes (100)
# commands of whole events: 64 events of 20 pushes (21 writes each with
# their settlement) in one batch take at most 4 events (80 pushes) per
# MULTI/EXEC, and every push lands
m=$(manifest chunk <<EOF
name: chunk
functions:
  c: { image: $fn, listen: in, push: out, batch: 64, env: { OUT: out }, scale: { max_units: 1 } }
  sink: { image: $calm_fn, listen: out }
EOF
)
U deploy "$m" >/dev/null || fail deploy "chunk did not deploy"
R MONITOR >"$UF_TMP/monitor" 2>/dev/null &
MON=$!
# its OK: from then on every command is in the feed (a 0.3 s sleep was
# outlasted on a loaded machine, and XADDs before it were not counted)
wait_for 30 grep -q '^OK' "$UF_TMP/monitor" || fail monitor "redis-cli MONITOR did not start"
yes push:20:1 | head -n 64 | U push chunk in >/dev/null
# the most pushes of one MULTI/EXEC: the longest run of XADDs to the out
# queue (Redis runs a transaction's commands together; MONITOR shows them in
# order), and how many there were in all
longest_run() { awk '/"XADD" "uf:q:chunk:out"/ {n++; if (n > m) m = n; next} {n = 0} END {print m + 0}' "$UF_TMP/monitor"; }
xadds_seen() { [ "$(grep -c '"XADD" "uf:q:chunk:out"' "$UF_TMP/monitor")" -ge 1280 ]; }
if wait_for 60 drained chunk in c && wait_for 30 xlen_is uf:q:chunk:out 1280; then
	wait_for 30 xadds_seen # the feed reaches the file after Redis ran them
	kill "$MON"
	run=$(longest_run) all=$(grep -c '"XADD" "uf:q:chunk:out"' "$UF_TMP/monitor")
	[ "$all" = 1280 ] && [ "$run" -le 100 ] && [ "$run" -ge 20 ] && pass commit-in-chunks ||
		fail commit-in-chunks "$all pushes, up to $run in one MULTI/EXEC (at most 100)"
else
	kill "$MON"
	fail commit-in-chunks "out has $(R XLEN uf:q:chunk:out) of 1280 pushes"
fi

# ---- at least once across chunks: a unit killed (SIGKILL) in the middle
# of a chunked commit has settled the events of the chunks before, written
# nothing of the rest, which unifaasd hands out again: every event's 20
# pushes land exactly once, none lost, none twice
m=$(manifest crash <<EOF
name: crash
functions:
  c: { image: $fn, listen: in, push: out, batch: 256, memory: 64MiB, env: { OUT: out }, scale: { max_units: 1 } }
EOF
)
U deploy "$m" >/dev/null || fail deploy "crash did not deploy"
yes push:20:1000 | head -n 256 | U push crash in >/dev/null
killed= end=$((SECONDS + 60))
while [ $SECONDS -lt $end ]; do
	n=$(R XLEN uf:q:crash:out)
	if [ "$n" -gt 0 ] && [ "$n" -lt 5120 ]; then
		plat_kill KILL '--consumer=crash\.c\.' 2>/dev/null && killed=$n
		break
	fi
	[ "$n" -ge 5120 ] && break
done
if [ -z "$killed" ]; then
	echo "info: chunked-commit-killed: the commit ended before a look at Redis caught it midway (not tested this run)"
elif wait_for 60 drained crash in c && wait_for 10 xlen_is uf:q:crash:out 5120 && sleep 1 && xlen_is uf:q:crash:out 5120 &&
	dlq_is crash in 0; then
	pass chunked-commit-killed-at-least-once
	echo "info: killed with $killed of 5120 pushes written"
else
	fail chunked-commit-killed-at-least-once "killed at $killed; out has $(R XLEN uf:q:crash:out) of 5120, $(R XLEN uf:dlq:crash:in) dead letters"
fi

# ---- deploy: a function asking more than the node allows is refused
m=$(manifest greedy <<EOF
name: greedy
functions:
  g:
    image: $fn
    listen: in
    limits:
      writes_per_event: 5000
EOF
)
out=$(U deploy "$m" 2>&1)
grep -qF "greedy.yaml:7: functions.g.limits.writes_per_event: 5000 is more than this node allows (50: limits.writes_per_event in unifaasd.conf)" <<<"$out" &&
	not_deployed greedy && pass deploy-over-node-refused || fail deploy-over-node-refused "$out"

# ---- control API: an event over the listener's event_bytes is refused whole (413)
head -c 501 /dev/zero | tr '\0' a >"$UF_TMP/e501"
head -c 500 /dev/zero | tr '\0' a >"$UF_TMP/e500"
before=$(R XLEN uf:q:lim:in)
out=$( (cat "$UF_TMP/e500"; echo; cat "$UF_TMP/e501"; echo) | U push lim in 2>&1)
grep -q "event 2 is 501 bytes, over the limit 500 (manifest limits.event_bytes)" <<<"$out" &&
	[ "$(R XLEN uf:q:lim:in)" = "$before" ] && pass api-push-over-413 || fail api-push-over-413 "$out"
U push lim in <"$UF_TMP/e500" >/dev/null && pass api-push-at-limit || fail api-push-at-limit "refused"

# ---- HTTP ingress: 413 naming the limit; MQTT: dropped with a log line
m=$(manifest edge <<EOF
name: edge
functions:
  e: { image: $calm_fn, listen: in, limits: { event_bytes: 500 } }
ingress:
  http: [{ path: /in, queue: in }]
  mqtt: [{ topic: "lim/+", queue: in }]
EOF
)
U deploy "$m" >/dev/null || fail deploy "edge did not deploy"
TOK=$(U token create edge)
code=$(curl -s -o "$UF_TMP/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOK" \
	--data-binary @"$UF_TMP/e501" "http://127.0.0.1:$PLAT_INGRESS_PORT/edge/in")
[ "$code" = 413 ] && grep -q "event of 501 bytes, over the limit 500 (manifest limits.event_bytes)" "$UF_TMP/body" &&
	pass ingress-http-over-413 || fail ingress-http-over-413 "$code $(cat "$UF_TMP/body")"
code=$(curl -s -o "$UF_TMP/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOK" \
	--data-binary @"$UF_TMP/e500" "http://127.0.0.1:$PLAT_INGRESS_PORT/edge/in")
[ "$code" = 202 ] && pass ingress-http-at-limit || fail ingress-http-at-limit "$code $(cat "$UF_TMP/body")"
if command -v mosquitto_pub >/dev/null; then
	U device add limdev --topic 'lim/#' >"$UF_TMP/dev.cred" 2>&1
	DEV_PASS=$(sed -n 's/^password: //p' "$UF_TMP/dev.cred")
	subscribed edge
	mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u limdev -P "$DEV_PASS" -q 1 -t lim/x -f "$UF_TMP/e501"
	mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u limdev -P "$DEV_PASS" -q 1 -t lim/x -f "$UF_TMP/e500"
	wait_for 30 sh -c "grep -q 'what=mqtt-ingress workflow=edge topic=lim/x action=dropped cause=\"event of 501 bytes, over the limit 500 (manifest limits.event_bytes)\"' '$PLAT_STATE/logs/unifaasd.log'" &&
		wait_for 30 kv_is edge count 2 && pass mqtt-over-dropped-logged ||
		fail mqtt-over-dropped-logged "count $(kv edge count); $(daemon_log | grep mqtt-ingress | tail -2)"
else
	fail tools "mosquitto_pub not installed"
fi

# ---- a node that lowers its limits after a deploy: the workflow is still
# restored (not refused), its units get the node's limit, the log says so
printf '%s\n' 'limits.writes_per_event=10' 'limits.batch_commit_writes=100' >"$PLAT_STATE/unifaasd.conf"
plat_down
U up --api-port "$PLAT_API_PORT" --mqtt-port "$PLAT_MQTT_PORT" --ingress-port "$PLAT_INGRESS_PORT" >"$UF_TMP/up2.log" 2>&1 ||
	fail restart "$(tail -3 "$UF_TMP/up2.log")"
grep -q 'what=restore workflow=lim step=small limit=limits.writes_per_event cause="the manifest asks more than this node allows: its units get the node.s 10"' "$PLAT_STATE/logs/unifaasd.log" &&
	pass lowered-node-restores-and-logs || fail lowered-node-restores-and-logs "$(grep 'what=restore' "$PLAT_STATE/logs/unifaasd.log" | tail -3)"
echo push:11:1 | U push lim in >/dev/null
wait_for 30 dlq_is lim in 6 && reasons lim in | grep -qxF "event staged 11 writes (pushes, publishes and KV writes), over the limit 10 (node limits.writes_per_event)" &&
	pass lowered-node-limit-applies || fail lowered-node-limit-applies "$(reasons lim in | tail -2)"
finish
