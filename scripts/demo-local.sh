#!/usr/bin/env bash
# demo-local.sh BUILD_DIR - `make run-local`: every example function run
# once as a unikernel on this machine with `unifaas run`, no platform
# (`make run` is the platform's live demo, scripts/demo.sh).
#
# Each step prints a heading, the `unifaas run` command it runs, the pushes
# the unit committed (stdout, JSON lines) and the unit's log (stderr, marked
# with "|").  A step states the exit status it expects: 0 for the normal runs,
# 4 for the run that shows the CPU time limit.  The script ends with a
# one-line summary and exits 1 if any step ended otherwise.
# Sample events come from functions/testdata/, so only this tree is needed.
set -u

if [ $# -ne 1 ] || [ ! -x "$1/bin/unifaas" ]; then
	echo "usage: demo-local.sh BUILD_DIR   (BUILD_DIR/bin/unifaas must exist: run 'make' first)" >&2
	exit 2
fi
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath --relative-to="$top" "$1")
cd "$top" || exit 2
uf=$build/bin/unifaas
img=$build/functions
data=functions/testdata
tmp=$(mktemp -d /tmp/unifaas-demo-local.XXXXXX)
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

echo
if [ "$unexpected" -eq 0 ]; then
	echo "demo-local: $steps units run, $pushes pushes, every exit status as expected"
	exit 0
fi
echo "demo-local: $steps units run, $unexpected unexpected results"
exit 1
