#!/usr/bin/env bash
# Looking inside the platform (issue 8 §5): `events`, `dlq ls|replay|purge`,
# `describe`, `logs --tail/--since` with time stamps, the `queues` figures,
# and what `undeploy` keeps or purges, through the CLI and the control API,
# against real redis-server, unifaasd and KVM.  platform_fn fails events on
# command ("fail") to make dead letters.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || { fail build "platform_fn.c did not build"; exit 0; }
plat_suite_up
W="$UF_TMP/$UF_SUITE.work"
mkdir -p "$W"

# expect NAME STATUS STDERR CMD... : CMD exits with STATUS and its stderr is
# exactly STDERR (when not empty); output in $W/NAME.out
expect() {
	local name=$1 want=$2 err=$3
	shift 3
	"$@" </dev/null >"$W/$name.out" 2>"$W/$name.err"
	local rc=$?
	if [ $rc -ne "$want" ]; then
		fail "$name" "status $rc, expected $want; stderr: $(head -c 400 "$W/$name.err" | tr '\n' ' ')"
	elif [ -n "$err" ] && [ "$(cat "$W/$name.err")" != "$err" ]; then
		fail "$name" "stderr '$(head -c 400 "$W/$name.err")', expected '$err'"
	else
		pass "$name"
	fi
}
TOKEN=$(cat "$PLAT_STATE/api.token")
API="http://127.0.0.1:$PLAT_API_PORT"
# req METHOD PATH [curl args]: prints "STATUS BODY"
req() {
	local m=$1 p=$2
	shift 2
	curl -s -o "$W/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $TOKEN" "$API$p" "$@"
	printf ' %s' "$(cat "$W/body")"
}
field() { python3 -c 'import json,sys; print(eval("json.load(sys.stdin)"+sys.argv[1]))' "$1"; }

m=$(manifest ins <<EOF
name: ins
functions:
  a:
    image: $fn
    listen: in
    push: [out]
    env: { OUT: out, ECHO: "1" }
    retries: 1
    scale: { max_units: 1, idle_ms: 300 }
EOF
)
U deploy "$m" >/dev/null || { fail deploy "$(U deploy "$m" 2>&1)"; exit 0; }

# --- events: a step's results, read back ---------------------------------------------
# nothing pushed yet: the table is its header alone (was no output at all)
expect events-empty 0 '' U events ins out
[ "$(cat "$W/events-empty.out")" = "$(printf '%-20s  %-24s  %-7s  %s' ID TIME ATTEMPT DATA)" ] &&
	pass events-empty-header || fail events-empty-header "'$(cat "$W/events-empty.out")'"
printf 'e1\ne2\ne3\n' | U push ins in >/dev/null
wait_for 60 kv_is ins count 3 || fail handled "count $(kv ins count)"
expect events 0 '' U events ins out
awk 'NR==1' "$W/events.out" | grep -Eq '^ID +TIME +ATTEMPT +DATA$' &&
	[ "$(awk 'NR>1 {print $4}' "$W/events.out" | tr '\n' ' ')" = "e1 e2 e3 " ] &&
	awk 'NR>1 {print $2}' "$W/events.out" | grep -Eq '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z$' &&
	pass events-table || fail events-table "$(cat "$W/events.out")"
expect events-count 0 '' U events ins out --count 2
next=$(sed -n 's/^(more may follow: --from \(.*\))$/\1/p' "$W/events-count.err")
[ "$(awk 'NR>1 {print $4}' "$W/events-count.out" | tr '\n' ' ')" = "e1 e2 " ] && [ -n "$next" ] &&
	pass events-page || fail events-page "$(cat "$W/events-count.out" "$W/events-count.err")"
expect events-from 0 '' U events ins out --from "$next"
[ "$(awk 'NR>1 {print $4}' "$W/events-from.out")" = e3 ] && pass events-from-next || fail events-from-next "$(cat "$W/events-from.out")"
expect events-json 0 '' U events ins out --json --count 1
python3 -c 'import json,sys; e=json.loads(open(sys.argv[1]).readline()); assert e["data"]=="e1" and e["attempt"]==0 and e["origin"]==e["id"] and e["time"]>1e12' "$W/events-json.out" &&
	pass events-json-entry || fail events-json-entry "$(cat "$W/events-json.out")"
# bytes that are not UTF-8 come back as data_base64
printf '\377\000A' >"$W/raw.bin"
req POST /v1/workflows/ins/queues/in/events -H 'Content-Type: application/octet-stream' --data-binary @"$W/raw.bin" >/dev/null
wait_for 60 kv_is ins count 4
req GET '/v1/workflows/ins/queues/out/events?count=10' >"$W/raw"
python3 -c 'import json,sys; b=open(sys.argv[1]).read().split(" ",1); e=json.loads(b[1])["events"]; assert b[0]=="200" and e[3]["data_base64"]=="/wBB" and "data" not in e[3], b' "$W/raw" &&
	pass events-not-utf8 || fail events-not-utf8 "$(cat "$W/raw")"
U events ins out --from "$next" | grep -q ' base64:/wBB$' && pass events-cli-not-utf8 || fail events-cli-not-utf8 "$(U events ins out 2>&1)"
# -f follows new entries
U events ins out -f >"$W/follow.out" 2>&1 &
fpid=$!
sleep 0.5
echo late | U push ins in >/dev/null
wait_for 60 grep -q ' late$' "$W/follow.out" && pass events-follow || fail events-follow "$(cat "$W/follow.out")"
kill $fpid 2>/dev/null
wait $fpid 2>/dev/null
# errors
expect events-no-workflow 4 "unifaas: events: nosuch/out: workflow 'nosuch' is not deployed" U events nosuch out
expect events-no-queue 4 "unifaas: events: ins/nope: workflow 'ins' has no queue 'nope'" U events ins nope
expect events-bad-count 2 "unifaas: events: --count '0': expected a number 1..10000" U events ins out --count 0
expect events-bad-count-word 2 "unifaas: events: --count 'ten': expected a number 1..10000" U events ins out --count ten
expect events-bad-from 2 "unifaas: events: ins/out: from must be an entry id such as 1733300000000-0, got 'x'" U events ins out --from x
got=$(req GET '/v1/workflows/ins/queues/out/events?count=10001')
[ "$got" = '400 {"error":{"code":"bad_request","message":"count must be 1..10000, got '"'10001'"'"}}' ] && pass api-events-bad-count || fail api-events-bad-count "$got"
got=$(req GET '/v1/workflows/ins/queues/out/events?wait_ms=30001')
[ "${got%% *}" = 400 ] && pass api-events-bad-wait || fail api-events-bad-wait "$got"
got=$(req PUT '/v1/workflows/ins/queues/out/events')
[ "${got%% *}" = 405 ] && pass api-events-method || fail api-events-method "$got"
got=$(req DELETE '/v1/workflows/ins/queues/out/events') # a purge must say what (quota.sh purges)
[ "${got%% *}" = 400 ] && pass api-events-purge-unsaid || fail api-events-purge-unsaid "$got"

# --- dead letters: ls, replay, purge ------------------------------------------------
printf 'fail\nfail\n' | U push ins in >/dev/null
# retries 1: each fails twice, then is dead-lettered
wait_for 60 xlen_is uf:dlq:ins:in 2 || fail dead-lettered "dlq $(R XLEN uf:dlq:ins:in)"
expect dlq-ls 0 '' U dlq ls ins
head -1 "$W/dlq-ls.out" | grep -Eq '^ID +TIME +QUEUE +STEP +EVENT +ATTEMPTS +REASON +DATA$' &&
	[ "$(grep -c ' in  *a  *[0-9]*-[0-9]*  *2  *handler returned 1  *fail$' "$W/dlq-ls.out")" = 2 ] &&
	pass dlq-ls-table || fail dlq-ls-table "$(cat "$W/dlq-ls.out")"
expect dlq-ls-queue 0 '' U dlq ls ins in --json
ids=$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["id"] for l in open(sys.argv[1])))' "$W/dlq-ls-queue.out")
# origin: the id of the event as first pushed (a dead letter's own id can be
# the same string when both were written within one millisecond)
U events ins in --json --count 10000 >"$W/in-events.out"
python3 -c 'import json,sys
first={e["id"] for e in map(json.loads, open(sys.argv[2])) if e.get("data")=="fail" and e["attempt"]==0}
assert len(open(sys.argv[1]).readlines())==2
for l in open(sys.argv[1]):
    e=json.loads(l); assert e["queue"]=="in" and e["step"]=="a" and e["attempts"]==2 and e["reason"]=="handler returned 1" and e["data"]=="fail" and e["origin"] in first and e["time"]>1e12, e' "$W/dlq-ls-queue.out" "$W/in-events.out" &&
	pass dlq-ls-fields || fail dlq-ls-fields "$(cat "$W/dlq-ls-queue.out")"
got=$(req GET /v1/workflows/ins/dlq)
[ "$(printf '%s' "${got#* }" | field '["dead_letters"].__len__()')" = 2 ] && pass api-dlq-list || fail api-dlq-list "$got"
# replay of an id that is not there replays nothing
first=${ids%% *}
expect dlq-replay-missing 4 "unifaas: dlq: ins/in: no dead letter '1-1' in queue 'in' of workflow 'ins'; nothing was replayed" U dlq replay ins in "$first" 1-1
[ "$(R XLEN uf:dlq:ins:in)" = 2 ] && pass dlq-replay-missing-atomic || fail dlq-replay-missing-atomic "dlq $(R XLEN uf:dlq:ins:in)"
# only an empty body replays every dead letter: a body naming no id (a typo'd
# key, an empty list, another shape) is refused and moves nothing
for body in '{"idz":["1-1"]}' '{"ids":[]}' '[]' '{}' '"x"' '{"ids":["1-1"],"all":true}'; do
	got=$(req POST /v1/workflows/ins/queues/in/dlq/replay --data-binary "$body")
	[ "${got%% *}" = 400 ] && [ "$(R XLEN uf:dlq:ins:in)" = 2 ] && pass "api-dlq-replay-no-ids $body" ||
		fail "api-dlq-replay-no-ids $body" "$got; dlq $(R XLEN uf:dlq:ins:in)"
done
# ids past 64 bits are refused as ids (400), not sent to Redis (was 503)
expect dlq-replay-id-overflow 2 "unifaas: dlq: ins/in: bad dead letter id '99999999999999999999-1': expected MS-SEQ such as 1733300000000-0" U dlq replay ins in 99999999999999999999-1
expect events-from-overflow 2 "unifaas: events: ins/out: from must be an entry id such as 1733300000000-0, got '18446744073709551616-0'" U events ins out --from 18446744073709551616-0
expect events-from-max 0 '' U events ins out --from 18446744073709551615-18446744073709551615
expect dlq-replay-bad-id 2 "unifaas: dlq: ins/in: bad dead letter id 'x': expected MS-SEQ such as 1733300000000-0" U dlq replay ins in x
expect dlq-replay-no-queue 2 "unifaas: dlq: replay: missing QUEUE (dead letters go back to the queue they came from)" U dlq replay ins
expect dlq-bad-op 2 "unifaas: dlq: unknown operation 'rm': expected ls, replay or purge" U dlq rm ins
expect dlq-no-workflow 4 "unifaas: dlq: nosuch: workflow 'nosuch' is not deployed" U dlq ls nosuch
expect dlq-no-queue 4 "unifaas: dlq: ins/nope: workflow 'ins' has no queue 'nope'" U dlq ls ins nope
expect dlq-bad-count 2 "unifaas: dlq: --count '-1': expected a number 1..10000" U dlq ls ins --count -1
# replay one: it is queued again with its attempt reset and origin kept, and dead-lettered again after 2 tries
n0=$(R XLEN uf:q:ins:in)
expect dlq-replay-one 0 '' U dlq replay ins in "$first"
[ "$(cat "$W/dlq-replay-one.out")" = "replayed 1 dead letters to ins/in" ] && pass dlq-replay-output || fail dlq-replay-output "$(cat "$W/dlq-replay-one.out")"
origin=$(R XRANGE uf:dlq:ins:in - + | sed -n 4p)
R XRANGE uf:q:ins:in - + | tail -6 >"$W/requeued"
[ "$(R XLEN uf:q:ins:in)" -gt "$n0" ] && grep -qx "$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["origin"])' "$W/dlq-ls-queue.out")" "$W/requeued" &&
	pass dlq-replay-requeued || fail dlq-replay-requeued "$(cat "$W/requeued")"
wait_for 60 xlen_is uf:dlq:ins:in 2 && [ "$(R XRANGE uf:dlq:ins:in - + COUNT 1 | sed -n 1p)" != "$first" ] &&
	pass dlq-replayed-fails-again || fail dlq-replayed-fails-again "dlq $(R XLEN uf:dlq:ins:in)"
# replay all: gone from the dead letters; purge
expect dlq-replay-all 0 '' U dlq replay ins in
grep -qx 'replayed 2 dead letters to ins/in' "$W/dlq-replay-all.out" && pass dlq-replay-all-output || fail dlq-replay-all-output "$(cat "$W/dlq-replay-all.out")"
wait_for 60 xlen_is uf:dlq:ins:in 2
expect dlq-purge 0 '' U dlq purge ins in
[ "$(cat "$W/dlq-purge.out")" = "purged 2 dead letters of ins/in" ] && [ "$(R EXISTS uf:dlq:ins:in)" = 0 ] &&
	pass dlq-purged || fail dlq-purged "$(cat "$W/dlq-purge.out"); exists $(R EXISTS uf:dlq:ins:in)"
got=$(req DELETE /v1/workflows/ins/dlq)
[ "$got" = '200 {"workflow":"ins","purged":0}' ] && pass api-dlq-purge-all || fail api-dlq-purge-all "$got"
got=$(req POST /v1/workflows/ins/queues/in/dlq/replay --data-binary '{"ids":5}')
[ "${got%% *}" = 400 ] && pass api-dlq-replay-bad-body || fail api-dlq-replay-bad-body "$got"

# --- queues: events waiting vs stream entries -----------------------------------------
# 2 events failed twice each (retries 1): 2 + 2 re-queued copies, all handled
[ "$(R XINFO GROUPS uf:q:ins:in | wc -l)" -gt 0 ] || true
U queues --json >"$W/q.json"
python3 -c 'import json,sys
q={x["queue"]:x for x in json.load(open(sys.argv[1]))["queues"] if x["workflow"]=="ins"}
assert q["in"]["waiting"]==0 and q["in"]["entries"]>q["out"]["entries"] and q["out"]["waiting"] is None, q' "$W/q.json" &&
	pass queues-waiting-vs-entries || fail queues-waiting-vs-entries "$(cat "$W/q.json")"
U queues >"$W/q.out"
head -1 "$W/q.out" | grep -Eq '^WORKFLOW +QUEUE +WAITING +PENDING +DELAYED +ENTRIES +DEAD$' && grep -Eq '^ins +out +- +0 +0 +[0-9]+ +0$' "$W/q.out" &&
	pass queues-table || fail queues-table "$(cat "$W/q.out")"

# --- logs: time stamps, --tail, --since, the whole log -------------------------------
expect logs 0 '' U logs ins/a
grep -Eq '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z ins\.a\.[0-9]+ \| ' "$W/logs.out" && pass logs-time-stamped || fail logs-time-stamped "$(head -3 "$W/logs.out")"
expect logs-tail 0 '' U logs ins/a --tail 2
[ "$(wc -l <"$W/logs-tail.out")" = 2 ] && [ "$(cat "$W/logs-tail.out")" = "$(tail -2 "$W/logs.out")" ] && pass logs-tail-last || fail logs-tail-last "$(cat "$W/logs-tail.out")"
expect logs-since-0 0 '' U logs ins/a --since 0s
[ ! -s "$W/logs-since-0.out" ] && pass logs-since-none || fail logs-since-none "$(cat "$W/logs-since-0.out")"
expect logs-since-1h 0 '' U logs ins/a --since 1h
[ -s "$W/logs.out" ] && cmp -s "$W/logs-since-1h.out" "$W/logs.out" && pass logs-since-all || fail logs-since-all "$(diff "$W/logs-since-1h.out" "$W/logs.out" | head -3)"
# --tail with -f: the last line, then new ones
U logs ins/a --tail 1 -f >"$W/tailf.out" 2>&1 &
tpid=$!
wait_for 30 test -s "$W/tailf.out"
echo tailf | U push ins in >/dev/null
wait_for 60 grep -q ': tailf$' "$W/tailf.out" && [ "$(head -1 "$W/tailf.out")" = "$(tail -1 "$W/logs.out")" ] &&
	[ "$(wc -l <"$W/tailf.out")" = 2 ] && pass logs-tail-follow || fail logs-tail-follow "$(cat "$W/tailf.out")"
kill $tpid 2>/dev/null
wait $tpid 2>/dev/null
expect logs-bad-since 2 "unifaas: logs: --since '5x': expected a duration such as 500ms, 10s, 5m, 1h or 2d, at most 366d" U logs ins/a --since 5x
# past the limit: the message gives it (was the same 'such as' line, no bound)
expect logs-since-too-long 2 "unifaas: logs: --since '367d': expected a duration such as 500ms, 10s, 5m, 1h or 2d, at most 366d" U logs ins/a --since 367d
expect logs-since-max 0 '' U logs ins/a --since 366d
got=$(req GET '/v1/workflows/ins/steps/a/logs?since=367d')
[ "$got" = "400 {\"error\":{\"code\":\"bad_request\",\"message\":\"since must be a duration such as 30s, 5m, 1h or 2d, at most 366d, got '367d'\"}}" ] &&
	pass api-logs-since-too-long || fail api-logs-since-too-long "$got"
expect logs-bad-tail 2 "unifaas: logs: --tail '0': expected a number of lines 1..1000000" U logs ins/a --tail 0
expect logs-no-workflow 4 "unifaas: logs: nosuch/a: workflow 'nosuch' is not deployed" U logs nosuch/a
got=$(req GET '/v1/workflows/ins/steps/a/logs?since=soon')
[ "${got%% *}" = 400 ] && pass api-logs-bad-since || fail api-logs-bad-since "$got"
# more than the 256 KiB one read returns: the whole log, its end included
big=$(manifest big <<EOF
name: big
functions:
  b:
    image: $fn
    listen: in
    env: { ECHO: "1" }
    scale: { idle_ms: 300 }
EOF
)
U deploy "$big" >/dev/null
for i in $(seq 120); do printf 'line-%04d-%s\n' "$i" "$(head -c 2500 /dev/zero | tr '\0' y)"; done | U push big in >/dev/null
wait_for 90 kv_is big count 120
U logs big/b >"$W/big.log"
[ "$(wc -c <"$W/big.log")" -gt 262144 ] && [ "$(tail -1 "$W/big.log")" = "$(U logs big/b --tail 1)" ] && pass logs-whole || fail logs-whole "$(wc -c <"$W/big.log") bytes"

# --- describe ----------------------------------------------------------------------------
printf 'fail\nfail\n' | U push ins in >/dev/null
wait_for 60 xlen_is uf:dlq:ins:in 2
expect describe 0 '' U describe ins
grep -qx 'workflow:  ins' "$W/describe.out" && grep -qx '  grants:    listen in; push out; kv uf:kv:ins:\*; net no' "$W/describe.out" &&
	grep -q '^  scaling:   0..1 units' "$W/describe.out" && grep -q '^recent dead letters:' "$W/describe.out" &&
	pass describe-text || fail describe-text "$(cat "$W/describe.out")"
expect describe-json 0 '' U describe ins --json
python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); s=d["steps"][0]
assert s["grants"]=={"listen":"in","push":["out"],"kv":"uf:kv:ins:*","net":False,"publish":[]}, s["grants"]
assert s["scale"]["max_units"]==1 and s["retries"]==1 and d["queues"]==["in","out"]
assert len(d["recent_dead_letters"])==2 and d["recent_dead_letters"][0]["reason"]=="handler returned 1"' "$W/describe-json.out" &&
	pass describe-json-fields || fail describe-json-fields "$(cat "$W/describe-json.out")"
# (the ASan build's tender is killed by seccomp as it exits: signal 31)
echo crash | U push ins in >/dev/null
wait_for 60 bash -c "'$UNIFAAS' --state-dir '$PLAT_STATE' describe ins | grep -Eq '^  failed:    [0-9TZ:.-]+ unit ins\.a\.[0-9]+ (ended with status 3: .*guest fault|killed by signal 31)'" &&
	pass describe-unit-failure ||
	fail describe-unit-failure "$(U describe ins)"
# the failures are kept in Redis, at most 5 a step, newest first: a restart of the
# platform keeps them (they lived in unifaasd's memory: gone after a restart)
printf 'crash\ncrash\ncrash\n' | U push ins in >/dev/null
wait_for 120 xlen_is uf:dlq:ins:in 6 || fail crash-setup "dead letters: $(R XLEN uf:dlq:ins:in)"
U down >/dev/null 2>&1
U up >/dev/null 2>&1 || fail describe-restart-up "$(tail -3 "$PLAT_STATE/logs/unifaasd.log")"
U describe ins --json >"$W/describe-restart.out"
python3 -c 'import json,re,sys
f=json.load(open(sys.argv[1]))["steps"][0]["recent_failures"]
assert len(f)==5, f
assert all(re.match(r"unit ins\.a\.[0-9]+ (ended with status 3: .*guest fault|killed by signal 31)", e["reason"]) for e in f), f
assert [e["time"] for e in f]==sorted((e["time"] for e in f), reverse=True), f' "$W/describe-restart.out" &&
	pass describe-failures-after-restart || fail describe-failures-after-restart "$(cat "$W/describe-restart.out")"
# a queue one step pushes to and the next reads is listed once
U deploy "$UF_TOP/workflows/eval.yaml" >/dev/null
[ "$(U describe eval --json | field '["queues"]')" = "['fridge-door', 'door-opens']" ] &&
	[ "$(U queues | grep -c '^eval ')" = 2 ] && pass queues-listed-once || fail queues-listed-once "$(U queues)"
U undeploy eval --purge >/dev/null
expect describe-no-workflow 4 "unifaas: describe: nosuch: workflow 'nosuch' is not deployed" U describe nosuch

# --- Redis stalled: the reading routes answer 503 (69), never hang ----------------------
# (they wait for Redis on the asynchronous connection, at most 2.5 s; the bound here is
# looser while other parts of unifaasd still make synchronous calls from the loop)
rpid=$(cat "$PLAT_STATE/redis.pid")
trap 'kill -CONT $rpid 2>/dev/null; plat_down' EXIT
kill -STOP "$rpid"
for c in "queues" "events ins out" "dlq ls ins" "describe ins"; do
	t0=$(date +%s%N)
	# shellcheck disable=SC2086
	U $c >/dev/null 2>"$W/stall.err"
	rc=$? ms=$((($(date +%s%N) - t0) / 1000000))
	echo "  ${c%% *} answered in $ms ms with Redis stopped"
	[ $rc = 69 ] && [ $ms -lt 30000 ] && grep -q 'redis' "$W/stall.err" && pass "stalled-${c%% *}" ||
		fail "stalled-${c%% *}" "status $rc after $ms ms: $(cat "$W/stall.err")"
done
kill -CONT "$rpid"
trap plat_down EXIT
wait_for 30 U queues && U events ins out --count 1 | grep -q ' e1$' && pass after-stall || fail after-stall "$(U queues 2>&1)"

# --- undeploy keeps queues, dead letters and KV readable; --purge removes everything ----
wait_for 60 no_units ins
expect undeploy-keep 0 '' U undeploy ins
grep -qx "undeployed ins (its queues, dead letters and KV kept: 'undeploy --purge' deletes them)" "$W/undeploy-keep.out" &&
	pass undeploy-keep-output || fail undeploy-keep-output "$(cat "$W/undeploy-keep.out")"
U queues >"$W/kept.out"
grep -Eq '^ins +in ' "$W/kept.out" && grep -Eq '^ins +out ' "$W/kept.out" && grep -qx 'ins: undeployed, its queues, dead letters and KV kept' "$W/kept.out" &&
	pass kept-queues || fail kept-queues "$(cat "$W/kept.out")"
# kept across a restart of the platform (the state is in Redis)
U down >/dev/null 2>&1
U up >/dev/null 2>&1 || fail kept-restart-up "$(tail -3 "$PLAT_STATE/logs/unifaasd.log")"
U queues | grep -qx 'ins: undeployed, its queues, dead letters and KV kept' && pass kept-after-restart ||
	fail kept-after-restart "$(U queues 2>&1)"
expect kept-events 0 '' U events ins out --count 1
grep -q ' e1$' "$W/kept-events.out" && pass kept-events-read || fail kept-events-read "$(cat "$W/kept-events.out")"
expect kept-kv 0 '' U kv get ins count
[ "$(cat "$W/kept-kv.out")" -ge 5 ] && pass kept-kv-read || fail kept-kv-read "$(cat "$W/kept-kv.out")"
expect kept-dlq 0 '' U dlq ls ins
[ "$(grep -c 'handler returned 1' "$W/kept-dlq.out")" = 2 ] && pass kept-dlq-read || fail kept-dlq-read "$(cat "$W/kept-dlq.out")"
expect kept-no-describe 4 "unifaas: describe: ins: workflow 'ins' is not deployed" U describe ins
# the message says what still works (KV is also written) and how to push again
expect kept-no-push 4 "unifaas: push: ins/in: workflow 'ins' is not deployed (undeployed, its data kept: only its events, dead letters and KV are served; deploy it again to push or run it)" U push ins in x
expect kept-undeploy-again 4 "unifaas: undeploy: ins: workflow 'ins' is not deployed (undeployed earlier, its data kept: --purge deletes it)" U undeploy ins
# "." and ".." are no workflow or step names: as path components they put a
# workflow's images and logs outside its directory, and its purge deleted
# every file of the state dir (api.token, redis.pass, unifaas.conf) or of logs/
cp "$fn" "$W/dots.uf"
for n in . ..; do
	printf 'name: "%s"\nfunctions:\n  a:\n    image: dots.uf\n    listen: q\n' "$n" >"$W/wf-dot.yaml"
	expect "deploy-workflow-named-$n" 65 '' U deploy "$W/wf-dot.yaml"
	printf 'name: dots\nfunctions:\n  "%s":\n    image: dots.uf\n    listen: q\n' "$n" >"$W/step-dot.yaml"
	expect "deploy-step-named-$n" 65 '' U deploy "$W/step-dot.yaml"
	got=$(req GET "/v1/workflows/$n" --path-as-is)
	[ "${got%% *}" = 400 ] && pass "api-workflow-named-$n" || fail "api-workflow-named-$n" "$got"
	expect "undeploy-named-$n" 2 '' U undeploy "$n" --purge
done
[ -f "$PLAT_STATE/api.token" ] && [ -f "$PLAT_STATE/unifaas.conf" ] && [ -f "$PLAT_STATE/logs/unifaasd.log" ] &&
	[ -z "$(ls "$PLAT_STATE"/*.uf "$PLAT_STATE"/*.log 2>/dev/null)" ] && pass dot-names-state-intact ||
	fail dot-names-state-intact "$(ls "$PLAT_STATE" | tr '\n' ' ')"
expect purge-kept 0 '' U undeploy ins --purge
[ "$(R --scan --pattern 'uf:*:ins:*' | wc -l)" = 0 ] && [ "$(R SISMEMBER uf:state:kept ins)" = 0 ] &&
	[ ! -e "$PLAT_STATE/images/ins" ] && [ ! -e "$PLAT_STATE/logs/ins" ] && ! U queues | grep -q '^ins ' &&
	pass purge-kept-removes-all || fail purge-kept-removes-all "$(R --scan --pattern 'uf:*:ins:*' | head -3) $(ls "$PLAT_STATE/images" "$PLAT_STATE/logs")"
# ... and its unit numbers (uf:state:seq's field ins.a)
no_numbers() { ! R HKEYS uf:state:seq | grep -q "^$1\."; }
wait_for 30 no_numbers ins &&
	pass purge-kept-forgets-numbers || fail purge-kept-forgets-numbers "$(R HKEYS uf:state:seq | tr '\n' ' ')"
expect purged-events 4 "unifaas: events: ins/out: workflow 'ins' is not deployed" U events ins out
expect purged-kv 4 '' U kv set ins k v
# --purge of a deployed workflow: queues, KV, dead letters, counters, images, logs
[ -e "$PLAT_STATE/images/big" ] && [ -e "$PLAT_STATE/logs/big" ] && [ "$(R EXISTS uf:stat:big:b)" = 1 ] || fail purge-setup "big has no images, logs or counters"
expect purge-deployed 0 '' U undeploy big --purge
[ "$(R --scan --pattern 'uf:*:big:*' | wc -l)" = 0 ] && [ ! -e "$PLAT_STATE/images/big" ] && [ ! -e "$PLAT_STATE/logs/big" ] &&
	grep -qx 'undeployed big (its queues, dead letters, KV, images and logs deleted)' "$W/purge-deployed.out" &&
	pass purge-deployed-removes-all || fail purge-deployed-removes-all "$(R --scan --pattern 'uf:*:big:*' | head -3); $(ls "$PLAT_STATE/images" "$PLAT_STATE/logs")"
wait_for 30 no_numbers big &&
	pass purge-deployed-forgets-numbers || fail purge-deployed-forgets-numbers "$(R HKEYS uf:state:seq | tr '\n' ' ')"
# a unit id <wf>.<step>.<n> is ambiguous: workflow amb's step x.y and workflow
# amb.x's step y both number their units in the field amb.x.y; purging amb must
# not reset the numbers amb.x still uses, deployed or kept
amb() {
	manifest "$1" <<EOF
name: $1
functions:
  $2:
    image: $fn
    listen: in
    scale: { max_units: 1, idle_ms: 300 }
EOF
}
U deploy "$(amb amb x.y)" >/dev/null && U deploy "$(amb amb.x y)" >/dev/null || fail amb-setup "amb or amb.x did not deploy"
echo e1 | U push amb in >/dev/null && echo e1 | U push amb.x in >/dev/null
wait_for 60 kv_is amb count 1 && wait_for 60 kv_is amb.x count 1 && wait_for 60 no_units amb && wait_for 60 no_units amb.x ||
	fail amb-setup "amb: $(kv amb count), amb.x: $(kv amb.x count)"
# (the purge's forgetting is done before it answers: sent before the command its
# answer waits for, on the same connection)
U undeploy amb --purge >/dev/null
[ "$(R HGET uf:state:seq amb.x.y)" -ge 2 ] && pass purge-keeps-others-numbers ||
	fail purge-keeps-others-numbers "uf:state:seq amb.x.y = '$(R HGET uf:state:seq amb.x.y)'"
U deploy "$(amb amb x.y)" >/dev/null && U undeploy amb.x >/dev/null && U undeploy amb --purge >/dev/null
[ "$(R HGET uf:state:seq amb.x.y)" -ge 2 ] && pass purge-keeps-kept-numbers ||
	fail purge-keeps-kept-numbers "uf:state:seq amb.x.y = '$(R HGET uf:state:seq amb.x.y)'"
U undeploy amb.x --purge >/dev/null
wait_for 30 no_numbers amb && pass purge-last-forgets-numbers || fail purge-last-forgets-numbers "$(R HKEYS uf:state:seq | tr '\n' ' ')"
# a unit still ending after its workflow's purge writes nothing of it: here
# drained at its lifetime while it holds its batch (platform_fn.c wait:K, the
# key never set), so it ends at the purge's SIGTERM, noting a stop
U deploy "$(manifest late <<EOF
name: late
functions:
  s:
    image: $fn
    listen: in
    scale: { max_units: 1, idle_ms: 60000, lifetime_s: 1 }
EOF
)" >/dev/null || fail late-setup "late did not deploy"
echo wait:go | U push late in >/dev/null
late_drained() { daemon_log | grep -q 'what=unit-stop unit=late\.s\.[0-9]* .*limit=lifetime'; }
wait_for 60 late_drained || fail late-setup "late's unit not drained at its lifetime: $(daemon_log | grep -m3 'late\.s')"
U undeploy late --purge >/dev/null
late_ended() { daemon_log | grep -q 'what=unit-exit unit=late\.s\.'; }
wait_for 60 late_ended && sleep 1 # a late write has landed by then (the sleep only gives a leak time to show)
[ -z "$(R --scan --pattern 'uf:*:late:*')" ] && pass purge-then-unit-end-leaves-nothing ||
	fail purge-then-unit-end-leaves-nothing "$(R --scan --pattern 'uf:*:late:*' | head -3 | tr '\n' ' ')"
# deploying a kept workflow again ends its kept state
U deploy "$m" >/dev/null && U undeploy ins >/dev/null && U deploy "$m" >/dev/null
[ "$(R SISMEMBER uf:state:kept ins)" = 0 ] && U queues --json | grep -q '"workflow":"ins","queue":"in","deployed":true' &&
	pass redeploy-not-kept || fail redeploy-not-kept "kept $(R SISMEMBER uf:state:kept ins)"
finish
