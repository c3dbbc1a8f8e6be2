#!/usr/bin/env bash
# `make run` (issue 10, section 4): scripts/demo.sh, the live demo, run as a
# user runs it, on a platform of its own (its ports from uf_port, its state
# dir under $UF_TMP).  It must end with status 0 and its summary line, the
# three CO2 alerts (warning, danger, all clear) must have reached the local
# webhook as Slack messages while the kit's readings were being published,
# and nothing it started may be left running.  A SLACK_WEBHOOK_URL outside
# co2.yaml's egress prefix makes it stop early with status 1, naming the
# prefix, its platform down.  scripts/demo-local.sh (`make run-local`)
# ends with status 0.  Under the ASan job the demo runs the ASan binaries
# with the images of build/ (the ASan build has none of its own).
. "$(dirname "$0")/../lib.sh"

bd=$UF_TMP/demo-build
mkdir -p "$bd"
ln -s "$UF_TOP/$UF_BUILD/bin" "$bd/bin"
ln -s "$UF_TOP/build/functions" "$bd/functions"
[ -f "$bd/functions/threshold.uf" ] || { fail build "build/functions/threshold.uf missing (make all)"; exit 0; }

# left_running: processes started by a demo (their command line names its dir under $UF_TMP)
left_running() { pgrep -f -- "$UF_TMP/unifaas-demo" | tr '\n' ' '; }

run_demo() { # OUT [NAME=VALUE...]: runs demo.sh into OUT (SLACK_WEBHOOK_URL unset unless given), prints its status
	local out=$1
	shift
	env -u SLACK_WEBHOOK_URL TMPDIR="$UF_TMP" DEMO_PORTS="$(uf_port) $(uf_port) $(uf_port)" "$@" \
		"$UF_TOP/scripts/demo.sh" "$bd" >"$out" 2>&1 </dev/null
	echo $?
}

# --- the demo, as `make run` runs it --------------------------------------
rc=$(run_demo "$UF_TMP/demo.out")
last=$(tail -n 1 "$UF_TMP/demo.out")
[ "$rc" = 0 ] && [[ "$last" == "demo: all "*" checks passed in "* ]] && ! grep -q 'NOT SEEN' "$UF_TMP/demo.out" &&
	pass demo-passes || fail demo-passes "status $rc: $(grep 'NOT SEEN' "$UF_TMP/demo.out" | head -3) $last"

# the webhook's messages, printed between the kit's readings (live), in order
sed -n '/^== 3\./,/^== 4\./p' "$UF_TMP/demo.out" >"$UF_TMP/co2.out"
msgs=$(grep -c '^ *\[slack\] ' "$UF_TMP/co2.out")
order=$(grep -o '^ *\[slack\] .*CO2 [a-z ]*on' "$UF_TMP/co2.out" | sed 's/.*CO2 \([a-z]*\).*/\1/' | tr '\n' ' ')
[ "$msgs" = 3 ] && [ "$order" = "warning danger back " ] && pass demo-alerts-at-webhook ||
	fail demo-alerts-at-webhook "$msgs messages, levels '$order': $(grep '\[slack\]' "$UF_TMP/co2.out")"
# printed as they arrived, not after the run: the warning (at 1450 ppm on the
# way up, the 3rd of 9 readings a second) before the kit's last reading
# (400, 6 s later), and each message after the reading it names ("at T")
# (the kit prints a reading once acknowledged, maybe after its alert reached
# the webhook: the demo holds such a message for the reading's line)
awk '/readings\/raw \{t:/ { t = $2; sub(/^\{t:/, "", t); sub(/,.*/, "", t); seen[t] = 1 }
	/\[slack\].* ppm at / { t = $0; sub(/.* ppm at /, "", t); sub(/\. .*/, "", t); if (!seen[t]) bad = bad " " NR }
	/\[slack\].*CO2 warning/ { w = NR } /158:400}/ { p = NR } /\[slack\].*back to normal/ { c = NR }
	END { exit !(w && p && c && w < p && p < c && bad == "") }' "$UF_TMP/co2.out" && pass demo-alerts-live ||
	fail demo-alerts-live "$(grep -n 'slack\]\|158:' "$UF_TMP/co2.out" | tr '\n' ' ')"
grep -q '^   The demo deploys a copy of workflows/co2.yaml' "$UF_TMP/demo.out" &&
	grep -q 'egress: \[ "http://127.0.0.1:[0-9]*/services/" \]   (in workflows/co2.yaml: \[ "https://hooks.slack.com/services/" \])' "$UF_TMP/demo.out" &&
	pass demo-says-manifest-copy || fail demo-says-manifest-copy "$(grep -n 'copy\|egress' "$UF_TMP/demo.out")"
left=$(left_running)
[ -z "$left" ] && [ -z "$(ls -d "$UF_TMP"/unifaas-demo.* 2>/dev/null)" ] && pass demo-cleans-up ||
	fail demo-cleans-up "left running: $left; dirs: $(ls -d "$UF_TMP"/unifaas-demo.* 2>/dev/null)"

# --- a Slack URL the manifest's egress would refuse -------------------------
rc=$(run_demo "$UF_TMP/bad-url.out" SLACK_WEBHOOK_URL=https://hooks.example.com/services/T0/B0/x)
[ "$rc" = 1 ] && grep -q 'NOT SEEN: SLACK_WEBHOOK_URL under workflows/co2.yaml.s egress: prefix https://hooks.slack.com/services/' "$UF_TMP/bad-url.out" &&
	grep -q '^demo: 1 of .* checks failed in .*: slack-url$' "$UF_TMP/bad-url.out" && grep -q 'unifaasd: stopped' "$UF_TMP/bad-url.out" &&
	[ -z "$(left_running)" ] && pass demo-bad-slack-url ||
	fail demo-bad-slack-url "status $rc: $(tail -n 4 "$UF_TMP/bad-url.out" | tr '\n' ' ')"

# --- make run-local ---------------------------------------------------------
"$UF_TOP/scripts/demo-local.sh" "$bd" >"$UF_TMP/local.out" 2>&1 </dev/null
rc=$?
[ "$rc" = 0 ] && tail -n 1 "$UF_TMP/local.out" | grep -q 'every exit status as expected' && pass demo-local ||
	fail demo-local "status $rc: $(tail -n 2 "$UF_TMP/local.out" | tr '\n' ' ')"
