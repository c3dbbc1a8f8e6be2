#!/usr/bin/env bash
# unifaasd started while Redis is not ready yet (docs/architecture.md,
# "Start-up"): it waits for Redis, then restores the deployed workflows, so
# an event pushed afterwards is handled; it neither starts with no
# workflows nor exits.  Two cases, each with unifaasd started by hand (as a
# supervisor would; `unifaas up` itself waits for Redis's PONG first):
#   loading  Redis restarted on an AOF that takes seconds to load (a 40000
#            key RDB base, key-load-delay 100 us per key): unifaasd starts
#            while Redis answers -LOADING (Redis is stopped in the middle
#            of its load until unifaasd logged that it waits, so the load
#            cannot end before unifaasd's first look however slow its
#            start; continued, Redis answers -LOADING to it)
#   stopped  Redis SIGSTOPped across unifaasd's start until unifaasd logged
#            that it waits (AUTH and PING get no answer; SIGCONT on every
#            exit path; a fixed 4 s could end before a slow start looked)
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/platform_fn.c") || { fail build "platform_fn.c did not build"; exit 0; }
plat_suite_up
m=$(manifest rs <<EOF
name: rs
functions:
  s:
    image: $fn
    listen: in
    scale: { max_units: 1, idle_ms: 500 }
EOF
)
U deploy "$m" >/dev/null || { fail deploy "rs did not deploy"; exit 0; }
echo one | U push rs in >/dev/null
wait_for 20 kv_is rs count 1 || { fail first-event "count $(kv rs count) before any restart"; exit 0; }

# daemon_stop: stops this platform's unifaasd (it stops its units)
daemon_stop() {
	local p
	p=$(cat "$PLAT_STATE/unifaasd.pid")
	kill -TERM "$p"
	wait_for 30 sh -c "! kill -0 $p 2>/dev/null"
}
# waits_since N: unifaasd logged, after line N of its log, that it waits for
# a Redis that is not ready (the first look at it was made)
waits_since() { daemon_log | tail -n +$(($1 + 1)) | grep -q 'what=redis op=wait .*state=not-ready'; }
# daemon_start: unifaasd in the background as `unifaas up` starts it
# (own session, output appended to its log, pid in unifaasd.pid)
daemon_start() {
	(cd "$PLAT_STATE" && exec setsid "$UF_BIN/unifaasd" --state-dir "$PLAT_STATE" </dev/null >>"$PLAT_STATE/logs/unifaasd.log" 2>&1) &
	echo $! >"$PLAT_STATE/unifaasd.pid"
}
daemon_alive() { kill -0 "$(cat "$PLAT_STATE/unifaasd.pid")" 2>/dev/null; }
# restored CASE N: unifaasd answers, lists rs, and handles an event pushed
# now (KV count reaches N)
restored() {
	wait_for 70 sh -c "'$UNIFAAS' --state-dir '$PLAT_STATE' ls >/dev/null 2>&1 || ! kill -0 $(cat "$PLAT_STATE/unifaasd.pid")"
	if ! U ls >/dev/null 2>&1; then
		fail "$1-answers" "unifaasd does not answer; alive: $(daemon_alive && echo yes || echo no); log: $(tail -5 "$PLAT_STATE/logs/unifaasd.log" | tr '\n' ' ')"
		return
	fi
	pass "$1-answers"
	[ "$(workflows)" = rs ] && pass "$1-restored" || fail "$1-restored" "deployed after the start: '$(workflows)'"
	echo again | U push rs in >/dev/null
	wait_for 30 kv_is rs count "$2" && pass "$1-event-handled" || fail "$1-event-handled" "count $(kv rs count), want $2"
}

# --- loading: Redis answers -LOADING at unifaasd's start --------------------
daemon_stop || fail loading-stop "unifaasd did not stop"
R EVAL "for i = 1, 40000 do redis.call('SET', 'fill:' .. i, 'x') end" 0 >/dev/null
R BGREWRITEAOF >/dev/null
wait_for 30 sh -c "REDISCLI_AUTH=\$(cat '$PLAT_STATE/redis.pass') redis-cli --no-auth-warning -s '$PLAT_STATE/redis.sock' INFO persistence | grep -q '^aof_rewrite_in_progress:0'"
R SHUTDOWN >/dev/null 2>&1
wait_for 10 sh -c "! test -S '$PLAT_STATE/redis.sock'"
redis-server "$PLAT_STATE/redis.conf" --daemonize yes --pidfile "$PLAT_STATE/redis.pid" \
	--key-load-delay 100 --loading-process-events-interval-bytes 1024 >/dev/null
if wait_for 10 sh -c "REDISCLI_AUTH=\$(cat '$PLAT_STATE/redis.pass') redis-cli --no-auth-warning -s '$PLAT_STATE/redis.sock' PING 2>&1 | grep -q LOADING"; then
	RPID=$(redis_pid)
	kill -STOP "$RPID" # the load stays where it is while unifaasd starts
	before=$(daemon_log | wc -l)
	daemon_start
	wait_for 60 waits_since "$before" || fail loading-start "unifaasd never looked at Redis: $(tail -3 "$PLAT_STATE/logs/unifaasd.log" | tr '\n' ' ')"
	kill -CONT "$RPID"
	RPID=
	R PING | grep -q LOADING && pass loading-seen || fail loading-seen "Redis had loaded before unifaasd's first look after it was continued: the case did not happen"
	restored loading 2
	daemon_log | grep 'what=redis op=wait' | grep -q 'cause="LOADING' && pass loading-logged ||
		fail loading-logged "no wait for a loading Redis in the log"
else
	fail loading-seen "Redis never answered LOADING after its restart"
fi

# --- stopped: Redis SIGSTOPped for 4 s across unifaasd's start --------------
daemon_stop || fail stopped-stop "unifaasd did not stop"
RPID=$(redis_pid)
kill -STOP "$RPID"
t0=$(date +%s)
before=$(daemon_log | wc -l)
daemon_start
wait_for 60 waits_since "$before" || fail stopped-start "unifaasd never looked at Redis: $(tail -3 "$PLAT_STATE/logs/unifaasd.log" | tr '\n' ' ')"
kill -CONT "$RPID"
RPID=
restored stopped 3
daemon_log | tail -n +$((before + 1)) | grep -q 'what=redis op=wait.*result=ready waited_ms=' &&
	pass stopped-logged || fail stopped-logged "the log does not say unifaasd waited for Redis"
daemon_alive && pass stopped-alive || fail stopped-alive "unifaasd exited ($(($(date +%s) - t0)) s after its start)"
