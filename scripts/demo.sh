#!/usr/bin/env bash
# demo.sh BUILD_DIR - `make run`: the live demo.  A private platform (a state
# dir and ports of its own, so a platform the user already runs is never
# touched) runs the CO2 use case end to end, then each evaluation
# workload once, then goes down:
#   1. `unifaas up`;
#   2. workflows/co2.yaml deployed (threshold -> slack-alert, logger,
#      log-query), its secret SLACK_WEBHOOK_URL pointing at `unifaas sim
#      slack`, a local webhook answering like Slack; the deployed manifest is
#      a copy whose slack-alert egress: prefix is that webhook's instead of
#      https://hooks.slack.com/services/ (said on screen);
#   3. `unifaas sim sck --co2 peak`: a kit whose CO2 rises past 1000 and 2000
#      ppm and falls back; the webhook's messages are printed as they arrive,
#      each after the reading it names (live below);
#   4. the logger's readings (log-query through `unifaas invoke`, `kv get`),
#      then a malformed reading dead-lettered with its reason;
#   5. lights, fdc, alert, dhs and fib, each deployed, fed by its simulator
#      (or push, HTTP, invoke) and its output shown;
#   6. the units ending once their queues stay empty (scale to zero);
#   7. `unifaas down`.
# With SLACK_WEBHOOK_URL set (and not empty) in the environment, the alerts
# go to that real Slack webhook: co2.yaml is deployed with its own egress
# prefix, no local webhook is started, and step 3 checks that slack-alert
# handled every alert without a failure (what Slack shows is not seen here).
# The platform's ports are the first free from 7388 (API), 18883 (MQTT) and
# 7387 (HTTP ingress), or DEMO_PORTS="API MQTT INGRESS"; its state dir is
# under $TMPDIR (default /tmp), removed at the end.
# Every step checks what it printed (counts, values, order); the last line
# is a one-line summary, and the exit status is 1 if any check failed
# (2 for a bad invocation).  `make run-local` (scripts/demo-local.sh) runs
# the example functions locally with `unifaas run`, no platform.
set -u

if [ $# -ne 1 ] || [ ! -x "$1/bin/unifaas" ]; then
	echo "usage: demo.sh BUILD_DIR   (BUILD_DIR/bin/unifaas must exist: run 'make' first)" >&2
	exit 2
fi
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath --relative-to="$top" "$1")
cd "$top" || exit 2
uf=$build/bin/unifaas
tmp=$(mktemp -d "${TMPDIR:-/tmp}/unifaas-demo.XXXXXX") || exit 2
state=$tmp/state
U() { "$uf" --state-dir "$state" "$@"; }
# kv_is WF KEY VALUE: the KV key holds VALUE (a state for wait_until)
kv_is() { [ "$(U kv get "$1" "$2" 2>/dev/null)" = "$3" ]; }

checks=0 failed=() bg=() platform_up=0 start=$SECONDS
cleanup() {
	local p
	for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
	[ "$platform_up" = 1 ] && U down >/dev/null 2>&1
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

# heading TITLE [LINE...]: a step's title and what the user is about to see
heading() {
	printf '\n== %s\n' "$1"
	shift
	[ $# -gt 0 ] && printf '   %s\n' "$@"
}
# shown ARGS...: the command line ARGS as a shell would take it back
shown() {
	local a out=
	for a in "$@"; do
		[[ "$a" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]] || a="'$a'"
		out+="${out:+ }$a"
	done
	printf '%s\n' "$out"
}
# say ARGS...: prints and runs one `unifaas ARGS`, its output indented
say() {
	printf '$ unifaas %s' "$(shown "$@")"
	echo
	U "$@" 2>&1 | sed 's/^/  /'
	return "${PIPESTATUS[0]}"
}
# check NAME WHAT STATUS [SAW]: one check of what a step showed
check() {
	checks=$((checks + 1))
	if [ "$3" -eq 0 ]; then
		echo "  -> ok: $2"
	else
		echo "  -> NOT SEEN: $2${4:+ (saw: $4)}"
		failed+=("$1")
	fi
}
# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds (CMD's
# arguments are expanded once, at the call: a state to poll is a function)
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@" 2>/dev/null; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}
# free_port FROM [TAKEN...]: the first port from FROM on that nothing on
# 127.0.0.1 listens on and that is not one of TAKEN
free_port() {
	local p=$1
	shift
	while [[ " $* " == *" $p "* ]] || (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
		p=$((p + 1))
	done
	echo "$p"
}
# manifest FILE [SED-EXPR...]: the manifest to deploy: FILE itself, or a
# copy in the demo's dir with SED-EXPRs applied and, for a BUILD_DIR other
# than build/, the images' ../build/ made BUILD_DIR (a copy's relative
# paths would resolve against its own dir)
manifest() {
	local src=$1 out
	shift
	if [ "$build" = build ] && [ $# -eq 0 ]; then
		echo "$src"
		return
	fi
	out=$tmp/$(basename "$src")
	local args=(-e "s|\.\./build/|$top/$build/|") e
	for e in "$@"; do args+=(-e "$e"); done
	sed "${args[@]}" "$src" >"$out" && echo "$out"
}
# mqtt_ready WF: waits until unifaasd's MQTT session of WF has subscribed
# its routes (the broker's SUBACK, logged): a message published before
# finds no subscriber and is dropped (a fixed sleep after the connection
# was outlasted by a loaded machine)
mqtt_ready() {
	wait_until 30 grep -q "what=mqtt op=subscribe workflow=$1 .*result=subscribed" "$state/logs/unifaasd.log"
}
# live SCK_OUT HOOK_OUT DONE: prints the kit's readings (SCK_OUT, indented
# 2) and the webhook's messages (HOOK_OUT from its 2nd line, indented 6) as
# they come, until DONE exists and all is printed.  The kit prints a reading
# once the broker acknowledged it, which can be after the alert it caused
# reached the webhook: a message naming a reading ("on KIT: N ppm at T")
# waits for that reading's line, so the screen shows causes first.
live() {
	local ns=0 nh=1 done='' s h line kit t
	while :; do
		[ -e "$3" ] && done=1
		s=$(wc -l <"$1")
		[ "$s" -gt "$ns" ] && sed -n "$((ns + 1)),${s}p" "$1" | sed 's/^/  /'
		ns=$s
		h=$(wc -l <"$2")
		while [ "$nh" -lt "$h" ]; do
			line=$(sed -n "$((nh + 1))p" "$2")
			kit=$(sed -n 's/.* on \([^ :]*\): [0-9.]* ppm at \([^ ]*[^. ]\)\..*/\1/p' <<<"$line")
			t=$(sed -n 's/.* on \([^ :]*\): [0-9.]* ppm at \([^ ]*[^. ]\)\..*/\2/p' <<<"$line")
			[ -z "$done" ] && [ -n "$t" ] && ! head -n "$ns" "$1" | grep -qF "device/sck/$kit/readings/raw {t:$t," && break
			printf '      %s\n' "$line"
			nh=$((nh + 1))
		done
		[ -n "$done" ] && return 0
		sleep 0.1
	done
}
# the end: down, one line, the status
finish() {
	if [ "$platform_up" = 1 ]; then
		heading "7. Down" "unifaas down stops unifaasd (and the units), mosquitto and redis-server;" \
			"the demo's state dir $state is removed."
		say down
		check down "the platform stopped" $?
		platform_up=0
	fi
	echo
	local t=$((SECONDS - start))
	if [ ${#failed[@]} -eq 0 ]; then
		echo "demo: all $checks checks passed in $t s (CO2 alerts $alert_path, readings logged, a bad one dead-lettered, lights, fdc, alert, dhs and fib)"
		exit 0
	fi
	echo "demo: ${#failed[@]} of $checks checks failed in $t s: ${failed[*]}"
	exit 1
}

slack_url=${SLACK_WEBHOOK_URL:-}
alert_path="at the local webhook"
[ -n "$slack_url" ] && alert_path="sent to Slack"

# ---- 1. the platform ----
if [ -n "${DEMO_PORTS:-}" ]; then
	read -r api_port mqtt_port ingress_port _ <<<"$DEMO_PORTS"
else
	api_port=$(free_port 7388)
	mqtt_port=$(free_port 18883 "$api_port")
	ingress_port=$(free_port 7387 "$api_port" "$mqtt_port")
fi
heading "1. A private platform" \
	"unifaas up starts redis-server, mosquitto and unifaasd with their state in $state" \
	"and ports of their own, so a platform you already run is not touched."
say up --api-port "$api_port" --mqtt-port "$mqtt_port" --ingress-port "$ingress_port"
rc=$?
check up "the platform is up" $rc
[ "$rc" -eq 0 ] || finish
platform_up=1

# ---- 2. the CO2 workflow and its webhook ----
co2_src=workflows/co2.yaml
prefix=$(sed -n 's|^ *egress: *\[ *"\(https://hooks.slack.com/[^"]*\)".*|\1|p' "$co2_src")
if [ -z "$prefix" ]; then
	check co2-prefix "$co2_src's slack-alert egress: [ \"https://hooks.slack.com/...\" ]" 1 "no such line: the demo cannot point it at a webhook"
	finish
fi
if [ -z "$slack_url" ]; then
	heading "2. The CO2 workflow, with a local webhook standing in for Slack" \
		"Kits publish readings over MQTT; threshold raises an alert at 1000 and 2000 ppm and an" \
		"all-clear when CO2 falls back; slack-alert posts each alert to the webhook in the secret" \
		"SLACK_WEBHOOK_URL; logger keeps every reading, log-query reads them back." \
		"No Slack here: 'unifaas sim slack' answers like a Slack incoming webhook on 127.0.0.1 and" \
		"prints each message as Slack would show it (set SLACK_WEBHOOK_URL to use your Slack)."
	printf '$ unifaas sim slack --port 0 &\n'
	"$uf" sim slack --port 0 >"$tmp/hook.out" 2>&1 &
	bg+=($!)
	wait_until 30 grep -q '^sim slack: listening on ' "$tmp/hook.out"
	hook=$(sed -n 's/^sim slack: listening on \(http[^ ]*\)/\1/p' "$tmp/hook.out")
	sed 's/^/  /' "$tmp/hook.out"
	[ -n "$hook" ] && hook_prefix=$hook && hook=${hook}T0000/B0000/demo
	check webhook "the local webhook listens" "$([ -n "$hook" ]; echo $?)" "$(head -c 300 "$tmp/hook.out")"
	[ -n "$hook" ] || finish
	echo "   The demo deploys a copy of $co2_src whose slack-alert may reach that webhook:"
	echo "     egress: [ \"$hook_prefix\" ]   (in $co2_src: [ \"$prefix\" ])"
	co2=$(manifest "$co2_src" "s|\"$prefix\"|\"$hook_prefix\"|")
else
	heading "2. The CO2 workflow, alerts to your Slack" \
		"Kits publish readings over MQTT; threshold raises an alert at 1000 and 2000 ppm and an" \
		"all-clear when CO2 falls back; slack-alert posts each alert to SLACK_WEBHOOK_URL from" \
		"your environment (a Slack incoming webhook); logger keeps every reading."
	hook=$slack_url
	if [[ "$hook" != "$prefix"* ]]; then
		check slack-url "SLACK_WEBHOOK_URL under $co2_src's egress: prefix $prefix" 1 "a URL outside it: slack-alert could not post there"
		finish
	fi
	co2=$(manifest "$co2_src")
fi
printf '$ printf %%s "%s" | unifaas secret set SLACK_WEBHOOK_URL\n' "$([ -z "$slack_url" ] && echo "$hook" || echo '$SLACK_WEBHOOK_URL')"
printf %s "$hook" | U secret set SLACK_WEBHOOK_URL 2>&1 | sed 's/^/  /'
say deploy "$co2"
check co2-deploy "co2-monitor deployed" $?
mqtt_ready co2-monitor

# ---- 3. a kit's CO2 peak, the alerts live ----
if [ -z "$slack_url" ]; then
	heading "3. A kit's CO2 rises past 1000 and 2000 ppm and falls back" \
		"'unifaas sim sck' plays a Smart Citizen Kit (its own device account) publishing a raw reading" \
		"a second over MQTT; each [slack] line is a message reaching the webhook as it arrives, shown" \
		"after the reading it names: a warning at the first reading >= 1000 ppm, danger at >= 2000," \
		"all clear below 900."
	: >"$tmp/sck.out"
	live "$tmp/sck.out" "$tmp/hook.out" "$tmp/sck.done" &
	bg+=($!)
else
	heading "3. A kit's CO2 rises past 1000 and 2000 ppm and falls back" \
		"'unifaas sim sck' plays a Smart Citizen Kit (its own device account) publishing a raw reading" \
		"a second over MQTT; the alerts go to your Slack channel as they come: a warning at the first" \
		"reading >= 1000 ppm, danger at >= 2000, all clear below 900 (the demo checks that" \
		"slack-alert got Slack's 200 ok for each)."
fi
printf '$ unifaas sim sck --co2 peak --count 9 --interval-ms 1000\n'
if [ -z "$slack_url" ]; then
	U sim sck --co2 peak --count 9 --interval-ms 1000 >"$tmp/sck.out" 2>&1
else
	U sim sck --co2 peak --count 9 --interval-ms 1000 2>&1 | tee "$tmp/sck.out" | sed -u 's/^/  /'
fi
# the alerts the readings call for, and the ones threshold pushed
kit=$(sed -n 's|^device/sck/\([^/]*\)/readings.*|\1|p' "$tmp/sck.out" | head -n 1)
# what the use case calls for: a warning at the first reading >= 1000 ppm,
# danger at the first >= 2000, the all-clear at the first after it < 900
want=$(sed -n 's/.*[{,]158:\([0-9.]*\)}.*/\1/p' "$tmp/sck.out" | awk '
	!w && $1 >= 1000 { print "warning", $1; w = 1 }
	w && !d && $1 >= 2000 { print "danger", $1; d = 1 }
	d && !o && $1 < 900 { print "ok", $1; o = 1 }')
# the last alert may be on its way still: the webhook's messages (or the
# alerts) first, then the checks
if [ -z "$slack_url" ]; then
	hook_has() { [ "$(grep -c '^\[slack\]' "$tmp/hook.out")" -ge "$1" ]; }
	wait_until 60 hook_has "$(echo "$want" | wc -l)"
	touch "$tmp/sck.done"
	wait "${bg[-1]}" 2>/dev/null
fi
check sck-sim "9 readings published" "$(grep -q '^published 9, failed 0' "$tmp/sck.out"; echo $?)" "$(tail -n 1 "$tmp/sck.out")"
# (first attempts only: a retried alert is queued again as a copy)
alerts() {
	U events co2-monitor alerts --json | grep '"attempt":0,' |
		sed -n 's/.*\\"level\\":\\"\([a-z]*\)\\",\\"ppm\\":\([0-9.]*\).*/\1 \2/p'
}
alerts_ge() { [ "$(alerts | wc -l)" -ge "$1" ]; }
wait_until 60 alerts_ge 3
got=$(alerts)
say events co2-monitor alerts
check co2-alerts "threshold pushed: $(echo "$want" | tr '\n' ';' | sed 's/;$//; s/;/, /g')" \
	"$([ -n "$want" ] && [ "$got" = "$want" ]; echo $?)" "$(echo "$got" | tr '\n' ' ')"
if [ -z "$slack_url" ]; then
	# each message names the kit and the ppm of its alert, in order
	seen=$(grep '^\[slack\].*'"$kit" "$tmp/hook.out" | sed -n 's/.*[^0-9.]\([0-9.]\{1,\}\) ppm.*/\1/p')
	check slack "the 3 alerts arrived at the webhook, in order" \
		"$([ "$seen" = "$(echo "$want" | cut -d' ' -f2)" ]; echo $?)" "$(grep -c '^\[slack\]' "$tmp/hook.out") messages"
else
	# no window on Slack from here: slack-alert handled every alert, none failed
	alerts_done() {
		U queues --json | python3 -c 'import json,sys
q=[q for q in json.load(sys.stdin)["queues"] if q["workflow"]=="co2-monitor" and q["queue"]=="alerts"][0]
sys.exit(0 if q["waiting"]==0 and q["pending"]==0 and q["dead"]==0 and q["entries"]>=3 else 1)'
	}
	wait_until 30 alerts_done
	rc=$?
	printf '$ unifaas queues | grep -E %s\n' "'QUEUE|alerts'"
	U queues 2>&1 | grep -E 'QUEUE|alerts' | sed 's/^/  /'
	say logs co2-monitor/slack-alert --tail 5
	check slack "slack-alert posted the 3 alerts to Slack (200 ok), none failed or dead-lettered" $rc
fi

# ---- 4. the log of readings, a bad reading ----
heading "4. The logger kept every reading; a malformed one goes to the dead-letter queue" \
	"log-query answers from the readings logger keeps in KV (unifaas invoke waits for its answer)."
say invoke co2-monitor log-query "{\"device\":\"$kit\",\"sensor\":158,\"last\":3}"
U invoke co2-monitor log-query "{\"device\":\"$kit\",\"sensor\":158,\"last\":9}" >"$tmp/log.json" 2>&1
say kv get co2-monitor "log:$kit:158:n"
# every reading is logged once: one per device, sensor and time (a second
# one at the same time, to the second, would be taken for a resend)
times=$(sed -n 's/.*{t:\([^,]*\),.*/\1/p' "$tmp/sck.out" | sort -u | wc -l)
logged=$(python3 -c 'import json,sys; print(" ".join("%g" % r["value"] for r in reversed(json.load(open(sys.argv[1]))["readings"])))' "$tmp/log.json" 2>/dev/null)
published=$(sed -n 's/.*{t:\([^,]*\),.*[{,]158:\([0-9.]*\)}.*/\1 \2/p' "$tmp/sck.out" | sort -s -u -k1,1 | awk '{ printf "%s%g", (NR > 1 ? " " : ""), $2 }')
check log "the $times readings published, logged in order: $published" \
	"$([ -n "$logged" ] && [ "$logged" = "$published" ] && [ "$(U kv get co2-monitor "log:$kit:158:n")" = "$times" ]; echo $?)" "$logged"
echo "   A kit with a fault sends a truncated reading (a device account of its own):"
printf '$ unifaas device add kit-broken --topic %s\n' "'device/sck/kit-broken/#'"
U device add kit-broken --topic 'device/sck/kit-broken/#' >"$tmp/dev" 2>&1
sed 's/^password: .*/password: (hidden here)/; s/^/  /' "$tmp/dev"
pass=$(sed -n 's/^password: //p' "$tmp/dev")
bad='{t:2026-12-04T10:00:00Z,10:100,158:12'
printf "\$ mosquitto_pub -p %s -u kit-broken -P ... -q 1 -t device/sck/kit-broken/readings/raw -m '%s'\n" "$mqtt_port" "$bad"
mosquitto_pub -p "$mqtt_port" -u kit-broken -P "$pass" -q 1 -t device/sck/kit-broken/readings/raw -m "$bad" 2>&1 | sed 's/^/  /'
echo "   threshold fails it, tries once more (retries: 1), then dead-letters it with the reason:"
wait_until 60 sh -c "'$uf' --state-dir '$state' dlq ls co2-monitor readings | grep -q kit-broken"
say dlq ls co2-monitor readings
reason='device kit-broken topic device/sck/kit-broken/readings/raw: malformed SCK raw payload'
check dlq "the bad reading dead-lettered, its reason naming device, topic and parse error" \
	"$(U dlq ls co2-monitor readings 2>&1 | grep -qF "$reason"; echo $?)"

# ---- 5. the evaluation workloads ----
heading "5. The evaluation workloads, each once" \
	"The paper's smart-home functions: each is deployed, fed by a simulated device over MQTT" \
	"(unifaas sim), a push, an HTTP post or an invoke, and its output shown."

heading "5a. lights: motion sensors -> bulb commands over MQTT (workflows/lights.yaml)" \
	"A bulb (mosquitto_sub, subscribed to hue/+/set) prints the commands it gets."
say deploy "$(manifest workflows/lights.yaml)"
mqtt_ready lights
# the bulb is ready once a probe it subscribed to came back (a fixed sleep
# for its SUBACK was outlasted by a loaded machine: the commands went by)
mosquitto_sub --unix "$state/mqtt.sock" -u unifaasd -P "$(cat "$state/mqtt.pass")" -t 'hue/+/set' -t demo/bulb-probe \
	-v -W 60 >"$tmp/bulbs.all" 2>&1 &
bulbs=$!
bg+=($bulbs)
bulb_probe() {
	mosquitto_pub --unix "$state/mqtt.sock" -u unifaasd -P "$(cat "$state/mqtt.pass")" -t demo/bulb-probe -m ready &&
		grep -q '^demo/bulb-probe ready' "$tmp/bulbs.all"
}
wait_until 30 bulb_probe
say sim motion --rooms kitchen,hall --pattern 10 --count 2 --interval-ms 300
bulbs_ge() { [ "$(grep -c '^hue/' "$tmp/bulbs.all")" -ge "$1" ]; }
wait_until 60 bulbs_ge 4
kill "$bulbs" 2>/dev/null
wait "$bulbs" 2>/dev/null
grep '^hue/' "$tmp/bulbs.all" >"$tmp/bulbs"
echo "   the bulbs got:"
sed 's/^/      /' "$tmp/bulbs"
check lights "kitchen and hall on at motion, off without" "$(sort "$tmp/bulbs" | diff -q - <(sort <<'EOF'
hue/hall/set {"on":false}
hue/hall/set {"on":true,"bri":254}
hue/kitchen/set {"on":false}
hue/kitchen/set {"on":true,"bri":254}
EOF
) >/dev/null; echo $?)" "$(wc -l <"$tmp/bulbs") commands"

heading "5b. fdc: fridge-door openings counted, by hour of day (workflows/eval.yaml: fdc -> door-log)" \
	"Openings come three ways: a simulated door over MQTT, unifaas push, and an HTTP post with a token."
say deploy "$(manifest workflows/eval.yaml)"
mqtt_ready eval
say sim door --rooms kitchen --count 6 --interval-ms 100
printf '$ printf "open\\nclose\\nopen\\n" | unifaas push eval fridge-door\n'
printf 'open\nclose\nopen\n' | U push eval fridge-door 2>&1 | sed 's/^/  /'
token=$(U token create eval 2>/dev/null)
printf '$ curl -H "Authorization: Bearer $(unifaas token create eval)" --data-binary open http://127.0.0.1:%s/eval/door\n' "$ingress_port"
curl -s -H "Authorization: Bearer $token" --data-binary open "http://127.0.0.1:$ingress_port/eval/door" | sed 's/^/  /'
wait_until 60 kv_is eval door-log-count 6
say kv get eval fdc-count
say kv get eval fdc-summary
say kv get eval door-log-count
hour=$((10#$(date -u +%H)))
check fdc "6 openings counted (3 by MQTT, 2 pushed, 1 posted), in this hour's slot, and logged" \
	"$([ "$(U kv get eval fdc-count)" = 6 ] && [ "$(U kv get eval door-log-count)" = 6 ] &&
		U kv get eval fdc-summary | python3 -c 'import json,sys; s=json.load(sys.stdin); h=int(sys.argv[1]); sys.exit(0 if s["total"]==6 and (s["by_hour"][h]==6 or s["by_hour"][(h-1)%24]+s["by_hour"][h]==6) else 1)' "$hour"; echo $?)"

heading "5c. alert: a smoke alarm over its threshold -> an alert, then the all-clear (workflows/alert.yaml)" \
	"A simulated Nest alarm reads ok, then emergency for two readings, then ok again."
say deploy "$(manifest workflows/alert.yaml)"
mqtt_ready alert
say sim smoke --count 6 --alarm-at 3 --alarm-for 2 --interval-ms 200
smoke() { U events alert alerts --json | grep '"attempt":0,' | sed -n 's/.*\\"alert\\":\\"\([a-z]*\)\\".*/\1/p' | tr '\n' ' '; }
smoke_is() { [ "$(smoke)" = "$1" ]; }
wait_until 60 smoke_is "smoke clear "
say events alert alerts
check alert "one smoke alert, then one clear" "$([ "$(smoke)" = "smoke clear " ]; echo $?)" "$(smoke)"

heading "5d. dhs: weight readings -> daily, weekly and monthly averages (workflows/dhs.yaml: dhs -> dhs-stats)" \
	"A simulated scale weighs alice and bob once a day for three days (from 29 Nov 2025)."
say deploy "$(manifest workflows/dhs.yaml)"
mqtt_ready dhs
U sim weight --users alice,bob --count 6 --interval-ms 0 --seed 5 --start-date 2025-11-29 >"$tmp/weights" 2>&1
printf '$ unifaas sim weight --users alice,bob --count 6 --interval-ms 0 --seed 5 --start-date 2025-11-29\n'
sed 's/^/  /' "$tmp/weights"
# alice's week 48 (Sat 29 and Sun 30 Nov), from what the scale published
w48=$(grep '"user":"alice"' "$tmp/weights" | head -n 2 | sed -n 's/.*"weight_kg":\([0-9.]*\).*/\1/p' |
	awk '{ s += $1 } END { printf "{\"n\":2,\"sum\":%g,\"avg\":%.2f}", s, s / 2 }')
wait_until 60 kv_is dhs dhs:alice:week:2025-W48 "$w48"
say kv get dhs dhs:alice:week:2025-W48
say kv get dhs dhs:alice:month:2025-12
say kv get dhs dhs:bob:day:2025-11-30
check dhs "alice's week 48 average from her two readings: $w48" \
	"$([ "$(U kv get dhs dhs:alice:week:2025-W48)" = "$w48" ]; echo $?)"

heading "5e. fib: the value at an index, waited for with unifaas invoke (workflows/fib.yaml)" \
	"A bad index fails: invoke exits 5 with the function's reason."
say deploy "$(manifest workflows/fib.yaml)"
say invoke fib numbers 30
fib30=$(U invoke fib numbers 30 2>&1)
say invoke fib numbers 93
rc=$?
echo "  (exit status $rc)"
check fib "fib(30) = 832040; index 93 refused with status 5" \
	"$([ "$fib30" = '{"n":30,"fib":832040}' ] && [ "$rc" = 5 ]; echo $?)" "$fib30, status $rc"

heading "6. Scale to zero" \
	"Each unit ends after idle_ms (2 s in these manifests) with its queue empty; the next event" \
	"starts one again (a cold start of a few ms)."
say ps
wait_until 60 sh -c "'$uf' --state-dir '$state' ps --json | grep -q '\"units\":\\[\\]'"
rc=$?
say ps
check idle "every unit ended once its queue stayed empty" $rc
finish
