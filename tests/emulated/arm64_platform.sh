#!/bin/sh
# shellcheck shell=bash # (its first lines are plain sh too: busybox runs them)
# tests/emulated/arm64_platform.sh [SUITE...] - the whole platform on the
# emulated Raspberry Pi class board (`make test-arm64-platform`:
# scripts/in-qemu.sh arm64, a Cortex-A72 with EL2, KVM in nVHE mode), run
# there in the directory tests/emulated/arm64_platform_stage.sh staged:
# unifaasd and the CLI (the aarch64 build), Debian's arm64 redis-server and
# mosquitto, units of functions built with `unifaas build --arch aarch64`
# on the x86-64 machine under the aarch64 uf-hvt.
#
# First the platform's own walk through (its checks named arm64-platform/):
# `unifaas up`, the CO2 workflow deployed from workflows/co2.yaml, simulated
# Smart Citizen Kits (`unifaas sim sck`) publishing over MQTT, every reading
# logged, a reading asked back over the HTTP ingress (curl, a token), an
# alert at a local webhook (`unifaas sim slack`), a malformed reading
# dead-lettered with its reason, and `unifaas ps`/`describe` naming the
# units.  Then each SUITE of tests/integration/ as it is (UF_BUILD=build,
# the aarch64 build; build_guest's guests prebuilt: UF_PREBUILT), timed.
#
# Started by busybox sh: sets the board up for Debian's programs (the
# dynamic loader, the libraries, PATH, /etc/passwd), then goes on in bash.
if [ -z "${BASH_VERSION:-}" ]; then
	here=$(pwd)
	ln -sf "$here/sys/lib/ld-linux-aarch64.so.1" /lib/ld-linux-aarch64.so.1
	mkdir -p /etc /var/tmp /run
	[ -f /etc/passwd ] || printf 'root:x:0:0:root:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >/etc/passwd
	[ -f /etc/group ] || printf 'root:x:0:\nnogroup:x:65534:\n' >/etc/group
	# the suites' wait_for polls every 50 ms: a board this slow wants no
	# more cgroup v2 than the kernel has (unifaasd's CPU groups need it)
	mkdir -p /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null
	export LD_LIBRARY_PATH="$here/sys/lib"
	export PATH="$here/sys/usr/bin:$here/sys/bin:$here/sys/usr/sbin:/bin"
	export UF_TOP="$here/top" HOME=/tmp LANG=C.UTF-8
	exec bash "$0" "$@"
fi
set -u
cd "$UF_TOP" || exit 1
# UF_EMULATED: wait_for gives a state UF_WAIT_SCALE (5) times as long (tests/lib.sh)
export UF_BUILD=build UF_PREBUILT="$UF_TOP/prebuilt" UF_PORTS_DIR=/tmp/ports UF_EMULATED=1
t_all=$SECONDS
np=0 nf=0
count() { # FILE: adds its PASS and FAIL lines to the totals
	np=$((np + $(grep -c '^PASS' "$1"))) nf=$((nf + $(grep -c '^FAIL' "$1")))
}

# --- the walk through ------------------------------------------------------
walk() {
	export UF_TMP=/tmp/walk UF_SUITE=arm64-platform
	mkdir -p "$UF_TMP"
	. tests/lib.sh
	. tests/platform/lib.sh
	t0=$SECONDS
	plat_suite_up
	pass "up ($((SECONDS - t0)) s)"
	U status >"$UF_TMP/status" 2>&1 && grep -q '^unifaasd:.*running\|^daemon' "$UF_TMP/status" ||
		echo "(status: $(tr '\n' ' ' <"$UF_TMP/status"))"
	"$UNIFAAS" sim slack --port 0 --path /services/T0/B0/XXX >"$UF_TMP/slack.out" 2>&1 &
	SLACK_PID=$!
	trap 'kill $SLACK_PID 2>/dev/null; plat_cleanup' EXIT
	wait_for 20 grep -q '^sim slack: listening on ' "$UF_TMP/slack.out" && pass webhook-up || fail webhook-up "$(cat "$UF_TMP/slack.out")"
	SLACK_URL=$(sed -n 's/^sim slack: listening on //p' "$UF_TMP/slack.out")
	printf '%s' "$SLACK_URL" | U secret set SLACK_WEBHOOK_URL >/dev/null
	# co2.yaml as it is, but for the webhook's prefix (the simulator's)
	sed -e "s|https://hooks.slack.com/services/|${SLACK_URL%/services/*}/services/|" \
		-e "s|\.\./build/|$UF_TOP/build/|" workflows/co2.yaml >"$UF_TMP/co2.yaml"
	t0=$SECONDS
	U deploy "$UF_TMP/co2.yaml" >"$UF_TMP/deploy.log" 2>&1 && pass "deploy-co2 ($((SECONDS - t0)) s)" || fail deploy-co2 "$(cat "$UF_TMP/deploy.log")"
	# the images are the aarch64 ones unifaas build --arch aarch64 made
	# (e_machine, bytes 18-19 of the ELF header: 0xb7, EM_AARCH64)
	em=$(for f in threshold logger log_query slack_alert; do od -An -tx1 -j18 -N2 "build/functions/$f.uf"; done | tr -d ' \n')
	[ "$em" = b700b700b700b700 ] && pass images-aarch64 || fail images-aarch64 "e_machine $em"
	# the kits publish once unifaasd's session has its routes (SUBACK
	# logged): the broker drops a message no subscription takes (a CI beside
	# other work published first and waited 17 min for readings never kept)
	subscribed co2-monitor && pass co2-subscribed || fail co2-subscribed "no SUBACK logged for co2-monitor's session: $(grep 'what=mqtt' "$PLAT_STATE/logs/unifaasd.log" | tail -3 | tr '\n' ' ')"
	# two kits x 6 readings a second apart (the log knows a reading by its
	# time), rising to 2500 ppm: raw and JSON
	t0=$SECONDS
	U sim sck --devices 2 --count 6 --interval-ms 1000 --co2 rising --format mixed --seed 3 --prefix pi- \
		>"$UF_TMP/sck.out" 2>&1 && pass sim-sck-published || fail sim-sck-published "$(tail -3 "$UF_TMP/sck.out")"
	logged() { R XLEN uf:q:co2-monitor:readings-log; }
	logged_is() { [ "$(logged)" = "$1" ]; }
	wait_for 120 logged_is 12 && pass "readings-logged ($((SECONDS - t0)) s)" || fail readings-logged "$(logged) of 12"
	# an alert per kit at 1000 and 2000 ppm, each posted to the webhook
	slack_n() { grep -c '^\[slack\]' "$UF_TMP/slack.out"; }
	slack_is() { [ "$(slack_n)" = "$1" ]; }
	wait_for 120 slack_is 4 && grep -q ': :warning: CO2 warning on pi-1: ' "$UF_TMP/slack.out" &&
		grep -q ': :rotating_light: CO2 danger on pi-2: ' "$UF_TMP/slack.out" && pass "alerts-at-webhook ($((SECONDS - t0)) s)" ||
		fail alerts-at-webhook "$(slack_n) posts: $(grep '^\[slack\]' "$UF_TMP/slack.out" | tr '\n' '|')"
	# over the HTTP ingress: log-query answers from what logger kept
	wait_for 120 drained co2-monitor readings-log logger || fail logger-drained "$(R XINFO GROUPS uf:q:co2-monitor:readings-log | tr '\n' ' ')"
	TOK=$(U token create co2-monitor 2>"$UF_TMP/tok.err") || fail token "$(cat "$UF_TMP/tok.err")"
	t0=$SECONDS
	got=$(curl -s -m 60 -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
		--data-binary '{"device":"pi-1","sensor":158,"last":6}' \
		"http://127.0.0.1:$PLAT_INGRESS_PORT/co2-monitor/log-query/invoke?timeout_ms=30000")
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); r=d.get("result",d); r=json.loads(r) if isinstance(r,str) else r; assert len(r["readings"])==6, r' "$got" 2>"$UF_TMP/q.err" &&
		pass "http-log-query ($((SECONDS - t0)) s)" || fail http-log-query "$got $(tail -1 "$UF_TMP/q.err")"
	# a malformed reading: dead-lettered with threshold's reason
	U device add pi-bad --topic 'device/sck/pi-bad/#' >"$UF_TMP/bad.cred" 2>&1
	mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u pi-bad -P "$(sed -n 's/^password: //p' "$UF_TMP/bad.cred")" -q 1 \
		-t device/sck/pi-bad/readings/raw -m '{t:2025-03-01 10:00:00,158:600}' || fail mqtt-publish "mosquitto_pub failed"
	dlq_is() { [ "$(R XLEN uf:dlq:co2-monitor:readings)" = 1 ]; }
	wait_for 60 dlq_is && U dlq ls co2-monitor readings 2>&1 | grep -q 'device pi-bad topic device/sck/pi-bad/readings/raw: malformed SCK raw payload' &&
		pass malformed-dead-lettered || fail malformed-dead-lettered "$(U dlq ls co2-monitor readings 2>&1 | tail -3)"
	# what a user looks at: `ps` while a unit runs (a good reading from the
	# same kit starts one; it stays idle_ms, 2 s, after its work)
	mosquitto_pub -h 127.0.0.1 -p "$PLAT_MQTT_PORT" -u pi-bad -P "$(sed -n 's/^password: //p' "$UF_TMP/bad.cred")" -q 1 \
		-t device/sck/pi-bad/readings/raw -m '{t:2025-03-01T10:00:00Z,158:500}' || fail mqtt-publish "mosquitto_pub failed"
	ps_shows() { U ps >"$UF_TMP/ps" 2>&1 && grep -q '^co2-monitor ' "$UF_TMP/ps"; }
	wait_for 30 ps_shows
	echo "--- unifaas ps"
	cat "$UF_TMP/ps"
	grep -q '^co2-monitor ' "$UF_TMP/ps" && ! grep -q 'crash\|fault' "$UF_TMP/ps" && pass ps || fail ps "$(cat "$UF_TMP/ps")"
	U describe co2-monitor >"$UF_TMP/describe" 2>&1
	echo "--- unifaas describe co2-monitor"
	cat "$UF_TMP/describe"
	grep -q 'threshold' "$UF_TMP/describe" && grep -q 'slack-alert' "$UF_TMP/describe" && pass describe || fail describe "$(head -5 "$UF_TMP/describe")"
	kill $SLACK_PID 2>/dev/null
	plat_down
}
if [ "${UF_WALK:-1}" != 0 ]; then
	(walk) 2>&1 | tee /tmp/walk.out
	count /tmp/walk.out
	echo "arm64-platform: the walk through took $((SECONDS - t_all)) s"
fi

# --- the suites, unchanged -------------------------------------------------
for s in "$@"; do
	t0=$SECONDS
	rm -rf "/tmp/suite.$s" && mkdir -p "/tmp/suite.$s"
	UF_TMP=/tmp/suite.$s UF_RESULTS=/tmp/suite.$s/results timeout "${UF_SUITE_TIMEOUT:-900}" \
		bash "tests/integration/$s.sh" 2>&1 | tee "/tmp/suite.$s.out" | grep -E '^(PASS|FAIL|SKIP) '
	rc=${PIPESTATUS[0]}
	count "/tmp/suite.$s.out"
	[ $rc -eq 124 ] && { echo "FAIL $s/timeout: the suite outlived ${UF_SUITE_TIMEOUT:-900} s"; nf=$((nf + 1)); }
	echo "arm64-platform: suite $s: $(grep -c '^PASS' "/tmp/suite.$s.out") passed, $(grep -c '^FAIL' "/tmp/suite.$s.out") failed in $((SECONDS - t0)) s"
done
echo "arm64-platform: $np passed, $nf failed in $((SECONDS - t_all)) s on the emulated board"
[ $nf -eq 0 ]
