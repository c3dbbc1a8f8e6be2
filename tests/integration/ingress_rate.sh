#!/usr/bin/env bash
# The node's ingress rate shared between workflows (issue 11 §5; docs/api.md
# "Pushes under load", unifaasd.conf ingress_rate): every push goes through
# the push window (daemon/pushwin.c), which holds a workflow to
# ingress_rate * share / (the active workflows' shares) events a second
# while another workflow is pushing too, and not at all while it pushes
# alone.  Judged on Redis's own clock (each entry's stream id is the
# millisecond Redis wrote it), as upper bounds: a loaded machine can only
# make the flood slower, never faster, so load cannot fail the bound.
#   alone        workflow flood alone pushes 400 events: not held (the
#                daemon logs no hold, and they are written faster than the
#                node's whole rate would let them: a lower bound of its own,
#                not a speed a loaded machine must reach)
#   beside       calm (share 3) pushes an event every 200 ms (one process,
#                tests/platform/paced_push.py, until the test has seen
#                flood held and its other sources sent) while flood
#                (share 1) pushes 400 in one request, then 150 over MQTT:
#                while calm is active, flood writes at most its quarter of
#                ingress_rate (10/s) plus its bucket (one event); calm is
#                never held; describe and the log say flood is held and
#                why; once calm stops, flood's rest goes at once; nothing
#                lost or written twice
# Before the rate (main of 2026-12-05 04:40), flood wrote all 400 within
# ~0.1 s while calm pushed.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

command -v mosquitto_pub >/dev/null || {
	fail tools "mosquitto_pub not installed (apt-get install mosquitto-clients)"
	exit 0
}
fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || {
	fail build "platform_fn.c did not build"
	exit 0
}
RATE=40
PLAT_CONF=$(printf 'ingress_rate=%s\nretain_handled=1000000\n' $RATE) # every entry stays countable
plat_suite_up

deploy_ingress_pair "$fn" 1 3 || exit 0
U device add devflood --topic "flood/#" >"$UF_TMP/flood.cred" 2>&1 || fail device-add "$(cat "$UF_TMP/flood.cred")"
FTOK=$(U token create flood) || fail token "no ingress token for flood"

# ids WF PREFIX: "MS PAYLOAD" of WF's entries whose payload starts with PREFIX
ids() {
	R XRANGE "uf:q:$1:in" - + | awk -v p="$2" '/^[0-9]+-[0-9]+$/ {id = $0} p0 == "data" && index($0, p) == 1 {split(id, a, "-"); print a[1], $0} {p0 = $0}'
}
count() { ids "$1" "$2" | wc -l; }

# --- alone: 400 events of flood, nobody else pushing -------------------------
seq -f 'a%g' 400 | U push flood in >/dev/null || fail alone-push "unifaas push failed"
span=$(ids flood a | awk 'NR == 1 {f = $1} {l = $1} END {print l - f}')
n=$(count flood a)
echo "info: alone: $n events of flood written in $span ms (held at the node's rate they would take $((400 * 1000 / RATE)) ms)"
held_alone=$(daemon_log | grep 'what=ingress-rate workflow=flood action=held')
[ "$n" = 400 ] && [ -z "$held_alone" ] && [ "$span" -lt $((400 * 1000 / RATE)) ] && pass alone-not-held ||
	fail alone-not-held "$n of 400 in $span ms (want all, within $((400 * 1000 / RATE)) ms, the node's whole rate); held: $held_alone"

# calm, not pushing while flood may still count as pushing, is not held: its
# describe does not say no other workflow pushes (it said so, whoever pushed)
U describe calm >"$UF_TMP/describe.calm" 2>&1
grep -qx 'ingress:   not held now (only while it and another workflow push; ingress_rate 40 by share)' "$UF_TMP/describe.calm" &&
	pass alone-describe-other || fail alone-describe-other "$(grep '^ingress' "$UF_TMP/describe.calm")"

# --- beside: calm every 200 ms; flood 400 over the API, then 150 over MQTT ----
# calm_pace PREFIX: calm pushes PREFIX1.. every 200 ms, $CALM at least and
# then until $UF_TMP/PREFIX.stop exists (its answers in $UF_TMP/PREFIX.calm);
# its pid in calm
CALM=25
calm_pace() {
	python3 "$UF_TOP/tests/platform/paced_push.py" "http://127.0.0.1:$PLAT_API_PORT" "$PLAT_STATE/api.token" calm in "$1" 200 $CALM \
		"$UF_TMP/$1.stop" "$UF_TMP/$1.calm" 2>"$UF_TMP/$1.calm.err" &
	calm=$!
}
calm_pace c
calm_in() { [ "$(count calm c)" -ge 1 ]; }
wait_for 20 calm_in || fail calm-started "calm's first event not stored"
seq -f 'b%g' 400 >"$UF_TMP/b.events"
(U push flood in <"$UF_TMP/b.events" >"$UF_TMP/b.out" 2>&1; echo "rc=$?" >>"$UF_TMP/b.out") &
fpush=$!
# describe says it is held, and the log why (once)
held_shown() { U describe flood >"$UF_TMP/describe.flood" 2>&1 && grep -q 'ingress:   held to 10 events/s' "$UF_TMP/describe.flood"; }
wait_for 30 held_shown && pass beside-describe || fail beside-describe "$(grep -E '^(ingress|share)' "$UF_TMP/describe.flood")"
held_logged() { daemon_log | grep -q 'what=ingress-rate workflow=flood action=held rate=10 ingress_rate=40 share=1 active_shares=4 '; }
wait_for 30 held_logged && pass beside-log || fail beside-log "$(daemon_log | grep -m2 'ingress-rate')"
seq -f 'm%g' 150 | timeout 60 mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u devflood \
	-P "$(sed -n 's/^password: //p' "$UF_TMP/flood.cred")" -q 1 -t flood/x -l 2>"$UF_TMP/pub.err" &
fpub=$!
# and 100 HTTP ingress requests at once, one event each: each waits for
# its turn (202 once written) or is answered 429 (Retry-After) past 64
# waiting or when its deadline comes while flood is held, never 503
seq -f 'h%g' 100 | xargs -P 100 -I{} curl -s -m 120 -o "$UF_TMP/h.{}" -w '{} %{http_code} %header{retry-after}\n' -H "Authorization: Bearer $FTOK" \
	--data-binary {} "http://127.0.0.1:$PLAT_INGRESS_PORT/flood/in" >"$UF_TMP/http.codes" 2>&1 &
fhttp=$!
curl -s -m 120 -H "Authorization: Bearer $FTOK" --data-binary h0 "http://127.0.0.1:$PLAT_INGRESS_PORT/flood/in" >"$UF_TMP/http.one" 2>&1
touch "$UF_TMP/c.stop" # calm was active through all of the above: it may stop now
wait "$calm"
wait "$fpush"
wait "$fhttp"
wait "$fpub" || fail mqtt-publish "mosquitto_pub: $(head -c 300 "$UF_TMP/pub.err")"
H=$(grep -c ' 202$' "$UF_TMP/http.codes")
flood_all() { [ "$(count flood b)" -ge 400 ] && [ "$(count flood m)" -ge 150 ] && [ "$(count flood h)" -ge "$H" ]; }
wait_for 60 flood_all || true

ids calm c >"$UF_TMP/calm.ids"
ids flood '' | awk '$2 ~ /^[bmh]/' >"$UF_TMP/flood.ids"
# The flood's entries written while calm was active: between two of calm's
# entries less than 500 ms apart (calm pushed within PW_ACTIVE_MS, 1000 ms,
# by the daemon's clock: Redis's ids come later by the store's latency,
# which a loaded machine varies, so half of it is left for that); each gap
# longer than that lets the flood's bucket refill (one event more).
res=$(awk -v rate=$RATE 'FNR == NR {c[++n] = $1; next} {f[++m] = $1}
	END {
		for (i = 1; i < n; i++) {
			g = c[i + 1] - c[i]
			if (g >= 500) { skipped++; continue }
			d += g
			for (j = 1; j <= m; j++) if (f[j] > c[i] && f[j] <= c[i + 1]) k++
		}
		bound = rate * 1 / 4 * d / 1000 + 1 * (1 + skipped) + 2
		printf "%d %.0f %d %d\n", k, bound, d, skipped
	}' "$UF_TMP/calm.ids" "$UF_TMP/flood.ids")
read -r k bound d skipped <<<"$res"
echo "info: beside: flood wrote $k events in the $d ms calm was active ($skipped gaps of calm over 500 ms left out); its quarter of $RATE/s allows $bound"
[ "$d" -ge 1000 ] || fail beside-judged "calm active only $d ms (its pushes came further apart than 500 ms: load?)"
[ "$d" -ge 1000 ] && { [ "$k" -le "$bound" ] && pass beside-flood-held || fail beside-flood-held "flood wrote $k events in $d ms beside calm (at most $bound: 10/s and its bucket)"; }
# calm never waited for a token: each of its pushes answered 202 and stored
# (its 5/s is under its 30/s)
pushed=$(wc -l <"$UF_TMP/c.calm")
[ "$pushed" -ge $CALM ] && [ "$(count calm c)" = "$pushed" ] && ! grep -qv ' 202$' "$UF_TMP/c.calm" && pass beside-calm-all ||
	fail beside-calm-all "calm: $(count calm c) of $pushed stored; not 202: $(grep -v ' 202$' "$UF_TMP/c.calm" | head -3 | tr '\n' ' ') $(head -c 200 "$UF_TMP/c.calm.err")"
# work-conserving: once calm stopped, flood's rest went through; nothing lost or doubled
got=$(ids flood '' | awk '$2 ~ /^[bm]/ {print $2}' | sort | uniq -c | awk '$1 == 1 {one++} $1 > 1 {dup++} END {print one + 0, dup + 0}')
[ "$got" = "550 0" ] && grep -q 'rc=0' "$UF_TMP/b.out" && pass beside-flood-all-once ||
	fail beside-flood-all-once "distinct once / doubled: $got of 550; push: $(tr '\n' ' ' <"$UF_TMP/b.out" | head -c 300)"
# HTTP: each 202 stored once, each other answer a 429 not stored
echo "info: HTTP ingress answers: $(awk '{print $2}' "$UF_TMP/http.codes" | sort | uniq -c | tr '\n' ' ')"
ids flood h | awk '{print $2}' | sort | uniq -c | awk '{print $2, $1}' >"$UF_TMP/http.stored"
bad=$(awk 'FNR == NR {n[$1] = $2; next} ($2 == 202 && n[$1] != 1) || ($2 != 202 && ($2 != 429 || $3 != 1 || n[$1])) {print}' \
	"$UF_TMP/http.stored" "$UF_TMP/http.codes" | head -5)
[ -z "$bad" ] && [ "$(wc -l <"$UF_TMP/http.codes")" = 100 ] && pass beside-http-each-once ||
	fail beside-http-each-once "answer / stored: $bad ($(wc -l <"$UF_TMP/http.codes") answers; $(cat "$UF_TMP/h.$(awk '$2 != 202 && $2 != 429 {print $1; exit}' "$UF_TMP/http.codes")" 2>/dev/null | head -c 300))"
# a 429 names the limit: the rate it is held to, or the 64 waiting
r429=$(awk '$2 == 429 {print $1; exit}' "$UF_TMP/http.codes")
[ -z "$r429" ] || grep -Eq 'held to 10 events/s|waiting for their turn' "$UF_TMP/h.$r429" && pass beside-http-429-reason ||
	fail beside-http-429-reason "$(cat "$UF_TMP/h.$r429")"

# --- api-held: calm replaced with share 16, so flood (share 1) is held to
# 40 / 17 = 2 events/s while calm pushes; 28 control API pushes of flood at
# once (the control API takes 32 connections of one address), one event
# each, share those: the later ones wait past a push's deadline (2.5 s).  Each is answered 202 and stored once,
# or 429 busy naming the rate, with Retry-After and nothing stored: never 503
# "redis is unreachable" (what they were answered before)
sed 's/^share: 3$/share: 16/' "$UF_TMP/calm.yaml" >"$UF_TMP/calm16.yaml"
U deploy --replace "$UF_TMP/calm16.yaml" >"$UF_TMP/replace.out" 2>&1 && grep -qx 'share: 16' "$UF_TMP/calm16.yaml" ||
	fail api-held-replace "calm not replaced with share 16: $(head -c 300 "$UF_TMP/replace.out")"
touch "$UF_TMP/d.stop" # $CALM pushes, no more
calm_pace d
calm_again() { [ "$(count calm d)" -ge 1 ]; }
wait_for 20 calm_again || fail api-held-calm "calm's first event not stored"
ATOK=$(cat "$PLAT_STATE/api.token")
seq -f 'p%g' 28 | xargs -P 28 -I{} curl -s -m 120 -o "$UF_TMP/p.{}" -w '{} %{http_code} %header{retry-after}\n' \
	-H "Authorization: Bearer $ATOK" -H 'Content-Type: application/octet-stream' --data-binary {} \
	"http://127.0.0.1:$PLAT_API_PORT/v1/workflows/flood/queues/in/events" >"$UF_TMP/api.codes" 2>&1
wait "$calm"
echo "info: api-held: control API answers: $(awk '{print $2}' "$UF_TMP/api.codes" | sort | uniq -c | tr '\n' ' ')"
ids flood p | awk '{print $2}' | sort | uniq -c | awk '{print $2, $1}' >"$UF_TMP/api.stored"
bad=$(awk 'FNR == NR {n[$1] = $2; next} ($2 == 202 && n[$1] != 1) || ($2 != 202 && ($2 != 429 || $3 != 1 || n[$1])) {print}' \
	"$UF_TMP/api.stored" "$UF_TMP/api.codes" | head -3)
[ -z "$bad" ] && [ "$(wc -l <"$UF_TMP/api.codes")" = 28 ] && pass api-held-each-once-or-429 ||
	fail api-held-each-once-or-429 "answer / stored: $bad ($(wc -l <"$UF_TMP/api.codes") answers; $(cat "$UF_TMP/p.$(awk '$2 != 202 && $2 != 429 {print $1; exit}' "$UF_TMP/api.codes")" 2>/dev/null | head -c 300))"
p429=$(awk '$2 == 429 {print $1; exit}' "$UF_TMP/api.codes")
[ -z "$p429" ] || grep -q "workflow 'flood' is held to 2 events/s .*ingress_rate 40.*redis queued 0 of 1 events; retry the rest after a second" "$UF_TMP/p.$p429" &&
	pass api-held-429-reason || fail api-held-429-reason "$(cat "$UF_TMP/p.$p429")"
