#!/usr/bin/env bash
# demo.sh BUILD_DIR - runs every example function as a unikernel, then the
# platform (`make run`).
#
# Each step prints a heading, the `unifaas run` command it runs, the pushes
# the unit committed (stdout, JSON lines) and the unit's log (stderr, marked
# with "|").  A step states the exit status it expects: 0 for the normal runs,
# 4 for the run that shows the CPU time limit.  The script ends with a
# one-line summary and exits 1 if any step ended otherwise.
# Sample events come from functions/testdata/, so only this tree is needed.
# The platform part runs the README's session on a private state dir and
# ports (so it never touches a platform the user already runs): `unifaas up`
# (redis-server, mosquitto, unifaasd), deploy workflows/eval.yaml, push 1000
# events, then 100 more from a device account over MQTT (QoS 1) and 100 over
# the HTTP ingress with a token, read the counters, ps, queues, logs,
# `unifaas down`.
set -u

if [ $# -ne 1 ] || [ ! -x "$1/bin/unifaas" ]; then
	echo "usage: demo.sh BUILD_DIR   (BUILD_DIR/bin/unifaas must exist: run 'make' first)" >&2
	exit 2
fi
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath --relative-to="$top" "$1")
cd "$top" || exit 2
uf=$build/bin/unifaas
img=$build/functions
data=functions/testdata
tmp=$(mktemp -d /tmp/unifaas-demo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

steps=0 unexpected=0 pushes=0

# step WANT_STATUS unifaas run ARGS... : runs one unit and shows what it did.
# With SHOW=N only the first N pushes are printed (the rest are counted).
step() {
	local want=$1 show=${SHOW:-1000} rc n
	shift
	printf '$ %s\n' "$*"
	"$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	n=$(wc -l <"$tmp/out")
	head -n "$show" "$tmp/out" | sed 's/^/  /'
	[ "$n" -gt "$show" ] && echo "  ... $((n - show)) more pushes, the last one: $(tail -n 1 "$tmp/out")"
	sed 's/^/  | /' "$tmp/err"
	steps=$((steps + 1))
	pushes=$((pushes + n))
	if [ "$rc" -eq "$want" ]; then
		echo "  -> exit status $rc (expected)"
	else
		echo "  -> exit status $rc, expected $want: UNEXPECTED"
		unexpected=$((unexpected + 1))
	fi
}

heading() {
	printf '\n== %s\n' "$*"
}

heading "hello: a main() that prints and exits (its stdout is the unit's log)"
step 0 "$uf" run "$img/hello.uf"

heading "fib: one event per number, each result pushed to 'results'"
step 0 "$uf" run "$img/fib.uf" --event 10 --event 20 --event 30

heading "fib: fib(45) under a 100 ms CPU time limit per event is stopped"
step 4 "$uf" run "$img/fib.uf" --timeout-ms 100 --event 45

heading "fdc: a burst of 200 fridge-door events, the count kept in a KV file"
for _ in $(seq 100); do printf 'open\nclose\n'; done >"$tmp/door.txt"
SHOW=2 step 0 "$uf" run "$img/fdc.uf" --kv "$tmp/fdc-kv.json" --events "$tmp/door.txt"
[ -f "$tmp/fdc-kv.json" ] && echo "  KV file after the unit ended: $(tr -d '\n ' <"$tmp/fdc-kv.json")"

heading "fdc: a second unit with the same KV file goes on counting"
step 0 "$uf" run "$img/fdc.uf" --kv "$tmp/fdc-kv.json" --event open --event close --event open

heading "threshold: a kit's raw readings rising past 1000 and 2000 ppm and falling back (the last line is malformed)"
step 0 "$uf" run "$img/threshold.uf" --source device/sck/kit1/readings/raw --events "$data/sck-raw.txt"

heading "threshold: the same readings with CO2_WARN_PPM=1500: one danger alert, one all-clear"
step 0 "$uf" run "$img/threshold.uf" --env CO2_WARN_PPM=1500 --source device/sck/kit1/readings/raw --events "$data/sck-raw.txt"

heading "threshold: an older kit's JSON readings (several groups in one message; an empty and a malformed one)"
step 0 "$uf" run "$img/threshold.uf" --source device/sck/kit2/readings --events "$data/sck-json.txt"

heading "lights: motion and lux events of two rooms, state per room in KV"
step 0 "$uf" run "$img/lights.uf" --kv "$tmp/lights-kv.json" --events "$data/lights.txt"

# show ARGS...: prints and runs one `unifaas ARGS` on the demo's platform
show() {
	printf '$ unifaas %s\n' "$*"
	U "$@" 2>&1 | sed 's/^/  /'
	[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "  -> FAILED"; unexpected=$((unexpected + 1)); }
}

heading "the platform: events through Redis, units started and stopped by unifaasd"
state=$tmp/state
U() { "$uf" --state-dir "$state" "$@"; }
trap 'U down >/dev/null 2>&1; rm -rf "$tmp"' EXIT
show up --api-port 7388 --mqtt-port 18883 --ingress-port 7387
show deploy workflows/eval.yaml
printf '$ for i in $(seq 1000); do echo open; done | unifaas push eval fridge-door\n'
for _ in $(seq 1000); do echo open; done | U push eval fridge-door 2>&1 | sed 's/^/  /'
total=1000
heading "the edges: a door sensor over MQTT, another over HTTP, into the same queue"
printf '$ unifaas device add fridge-sensor --topic home/+/door\n'
U device add fridge-sensor --topic 'home/+/door' >"$tmp/dev" 2>&1
sed 's/^password: .*/password: (hidden here)/; s/^/  /' "$tmp/dev"
pass=$(sed -n 's/^password: //p' "$tmp/dev")
# the workflow's MQTT session subscribes just after the deploy: a message
# published before its SUBACK would find no subscriber
for _ in $(seq 100); do
	grep -q 'client=unifaasd-eval .*result=connected' "$state/logs/unifaasd.log" 2>/dev/null && break
	sleep 0.05
done
sleep 0.2
if command -v mosquitto_pub >/dev/null && [ -n "$pass" ]; then
	printf '$ for i in $(seq 100); do echo open; done | mosquitto_pub -p 18883 -u fridge-sensor -P ... -q 1 -t home/kitchen/door -l\n'
	for _ in $(seq 100); do echo open; done |
		mosquitto_pub -p 18883 -u fridge-sensor -P "$pass" -q 1 -t home/kitchen/door -l 2>&1 | sed 's/^/  /'
	total=$((total + 100))
else
	echo "  -> no mosquitto_pub (apt-get install mosquitto-clients) or no device password: UNEXPECTED"
	unexpected=$((unexpected + 1))
fi
printf '$ token=$(unifaas token create eval)\n'
token=$(U token create eval 2>"$tmp/tok.err") || sed 's/^/  /' "$tmp/tok.err"
printf '$ for i in $(seq 100); do curl -s -H "Authorization: Bearer $token" --data-binary open http://127.0.0.1:7387/eval/door; done\n'
ok=0
for _ in $(seq 100); do
	code=$(curl -s -o "$tmp/ing" -w '%{http_code}' -H "Authorization: Bearer $token" --data-binary open \
		http://127.0.0.1:7387/eval/door)
	[ "$code" = 202 ] && ok=$((ok + 1))
done
echo "  the last answer: $(cat "$tmp/ing")"
echo "  -> $ok of 100 answered 202"
total=$((total + ok))
[ "$ok" = 100 ] || unexpected=$((unexpected + 1))
for _ in $(seq 200); do
	[ "$(U kv get eval door-log-count 2>/dev/null)" = "$total" ] && break
	sleep 0.05
done
show ps
show kv get eval fdc-count
show kv get eval door-log-count
show queues
printf '$ unifaas logs eval/door-log | tail -n 3\n'
U logs eval/door-log | tail -n 3 | sed 's/^/  /'
count=$(U kv get eval fdc-count 2>/dev/null)
logged=$(U kv get eval door-log-count 2>/dev/null)
if [ "$count" = "$total" ] && [ "$logged" = "$total" ]; then
	echo "  -> $total events in (1000 pushed, the rest from the devices), $count counted by fdc, $logged logged by door-log"
else
	echo "  -> fdc counted ${count:-nothing} and door-log logged ${logged:-nothing} of $total: UNEXPECTED"
	unexpected=$((unexpected + 1))
fi
echo "  (units exit after idle_ms = 2 s of empty queue)"
sleep 2.5
show ps
show down

echo
if [ "$unexpected" -eq 0 ]; then
	echo "demo: $steps units run, $pushes pushes, every exit status as expected; platform session as expected"
	exit 0
fi
echo "demo: $steps units run, $unexpected unexpected results"
exit 1
