# tests/platform/isolation_lib.sh - the noisy-neighbour scenarios (issue 11
# §5), shared by tests/integration/isolation.sh (small numbers, exact
# counts) and bench/isolation.sh (figures).  Sourced after
# tests/platform/lib.sh, with the platform up.
#
# The steady workflow `steady`: fdc (tests/platform/steady_fn.c, fdc with a
# record of each handled event's id in queue `done`) on queue fridge-door,
# fed at a fixed rate by tests/platform/steady_load.py.  Beside it, one
# flooding workflow at a time, each bounded by one of the node's limits:
#   events     evflood: pushes at the full rate of two senders (10000 events
#              a request); bounded by its share of the node's ingress_rate
#              (docs/api.md), its storage_quota (ISO_QUOTA) at ingress
#              (507) and its share of the unit slots
#   pushes     pushflood: events that stage 43000 pushes each (past
#              limits.writes_per_event: dead-lettered, nothing written) and
#              events of 1000 pushes (at the limit: written in chunks of
#              limits.batch_commit_writes)
#   kv         kvflood: values of 1 MiB under new keys, 4 a request;
#              bounded by its storage_quota (ISO_QUOTA): its growing
#              KV writes are deferred and its pushes refused (507)
#   never-pop  sleeper: units that never pop (max_units 32, idle_ms 10 min),
#              with work queued before the steady load starts, so they hold
#              every slot; bounded by the fair slots (taken back)
#   memory     hog: units of ISO_HOG_MEM MiB touching most of it and never
#              popping; bounded by memory admission (unit_memory_budget)
#              and the fair share
# Knobs (environment): ISO_KINDS (the floods to run, in order), ISO_QUOTA (flooders' storage_quota, default 8MiB;
# ISO_EV_QUOTA the event flood's, default ISO_QUOTA),
# ISO_HOG_MEM (default 32), ISO_FEED_PAUSE (seconds between two requests of
# the pushes and kv feeders, default 0.5).

ISO_KINDS=${ISO_KINDS:-events pushes kv never-pop memory}
ISO_QUOTA=${ISO_QUOTA:-8MiB}
ISO_HOG_MEM=${ISO_HOG_MEM:-32}
ISO_FEED_PAUSE=${ISO_FEED_PAUSE:-0.5}
ISO_FEEDERS=

# iso_build: the guest images (ISO_STEADY_FN, ISO_LIMITS_FN, ISO_QUOTA_FN, ISO_SLOTS_FN)
iso_build() {
	ISO_STEADY_FN=$(build_guest "$UF_TOP/tests/platform/steady_fn.c") &&
		ISO_LIMITS_FN=$(build_guest "$UF_TOP/tests/platform/limits_fn.c") &&
		ISO_QUOTA_FN=$(build_guest "$UF_TOP/tests/platform/quota_fn.c") &&
		ISO_SLOTS_FN=$(build_guest "$UF_TOP/tests/platform/slots_fn.c")
}

iso_deploy_steady() {
	local m
	m=$(manifest steady <<EOF
name: steady
functions:
  fdc:
    image: $ISO_STEADY_FN
    listen: fridge-door
    push: [door-opens, done]
    memory: 8MiB
    scale: { max_units: 4, events_per_unit: 64, grace_ms: 20, idle_ms: 2000 }
    timeout_ms: 500
EOF
)
	U deploy "$m" >/dev/null
}

# iso_steady RATE SECONDS [WAIT_S]: the steady load; prints steady_load.py's line
iso_steady() {
	python3 "$UF_TOP/tests/platform/steady_load.py" "http://127.0.0.1:$PLAT_API_PORT" "$PLAT_STATE/api.token" \
		steady fridge-door "$1" "$2" "$PLAT_STATE" uf:q:steady:done "${3:-60}"
}

# iso_wf KIND: the flooding workflow of KIND
iso_wf() {
	case $1 in
	events) echo evflood ;;
	pushes) echo pushflood ;;
	kv) echo kvflood ;;
	never-pop) echo sleeper ;;
	memory) echo hog ;;
	esac
}

iso_manifest() {
	case $1 in
	events) cat <<EOF
name: evflood
storage_quota: ${ISO_EV_QUOTA:-$ISO_QUOTA}
functions:
  f: { image: $ISO_LIMITS_FN, listen: in, scale: { max_units: 32 } }
EOF
		;;
	pushes) cat <<EOF
name: pushflood
storage_quota: 64MiB
functions:
  f:
    image: $ISO_LIMITS_FN
    listen: in
    push: o
    batch: 4
    retries: 0
    memory: 64MiB
    timeout_ms: 60000
    env: { OUT: o }
    scale: { max_units: 32 }
EOF
		;;
	kv) cat <<EOF
name: kvflood
storage_quota: $ISO_QUOTA
functions:
  f: { image: $ISO_QUOTA_FN, listen: in, memory: 8MiB, scale: { max_units: 32 } }
EOF
		;;
	never-pop) cat <<EOF
name: sleeper
max_units: 32
functions:
  s:
    image: $ISO_SLOTS_FN
    listen: in
    env: { MODE: sleep }
    scale: { max_units: 32, events_per_unit: 1, idle_ms: 600000 }
EOF
		;;
	memory) cat <<EOF
name: hog
max_units: 32
functions:
  h:
    image: $ISO_SLOTS_FN
    listen: in
    memory: ${ISO_HOG_MEM}MiB
    env: { MODE: hog, HOG_MB: "$((ISO_HOG_MEM * 3 / 4))" }
    scale: { max_units: 32, events_per_unit: 1, idle_ms: 600000 }
EOF
		;;
	esac
}

# iso_events KIND: one request's events of KIND's feeder (stdout)
iso_events() {
	case $1 in
	events) yes flood | head -n 10000 ;;
	pushes) printf '%s\n' push:43000:1 push:1000:1 push:43000:1 push:1000:1 ;;
	kv) for i in 1 2 3 4; do echo "big:k$RANDOM$RANDOM$i:1048576:0"; done ;;
	*) yes x | head -n 100 ;;
	esac
}

# iso_feed KIND PAUSE: POSTs KIND's events to its workflow's queue `in`
# through the control API until killed, PAUSE seconds between requests;
# each answer's HTTP status is appended to $UF_TMP/feed.KIND
iso_feed() {
	local wf tok
	wf=$(iso_wf "$1") && tok=$(cat "$PLAT_STATE/api.token") || return 1
	while :; do
		iso_events "$1" >"$UF_TMP/feed.$1.$BASHPID"
		curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer $tok" -H 'Content-Type: text/plain' \
			--data-binary @"$UF_TMP/feed.$1.$BASHPID" "http://127.0.0.1:$PLAT_API_PORT/v1/workflows/$wf/queues/in/events" \
			>>"$UF_TMP/feed.$1"
		[ "$2" = 0 ] || sleep "$2"
	done
}

# iso_flood_start KIND: deploys KIND's workflow and starts its flood.
# events, pushes, kv: feeders run until iso_flood_stop (two at full rate for
# events); never-pop, memory: 100 events pushed once, then waits until the
# flooder holds units (up to 20 s) and the steady workflow has none.
iso_flood_start() {
	local wf m
	wf=$(iso_wf "$1")
	m=$(iso_manifest "$1" | manifest "$wf")
	: >"$UF_TMP/feed.$1"
	U deploy "$m" >"$UF_TMP/deploy.$wf" 2>&1 || {
		echo "isolation: deploy $wf: $(cat "$UF_TMP/deploy.$wf")" >&2
		return 1
	}
	case $1 in
	events)
		iso_feed "$1" 0 &
		ISO_FEEDERS="$!"
		iso_feed "$1" 0 &
		ISO_FEEDERS="$ISO_FEEDERS $!"
		;;
	pushes | kv)
		iso_feed "$1" "$ISO_FEED_PAUSE" &
		ISO_FEEDERS="$!"
		;;
	*)
		wait_for 60 no_units steady
		iso_events "$1" | U push "$wf" in >/dev/null
		wait_for 60 iso_units_ge "$wf" 2
		sleep 2
		;;
	esac
	sleep 2
}

iso_units_ge() { [ "$(units "$1")" -ge "$2" ]; }

# iso_flood_stop KIND: stops the feeders, undeploys the flooder (purged)
iso_flood_stop() {
	local wf p
	wf=$(iso_wf "$1")
	for p in $ISO_FEEDERS; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ISO_FEEDERS=
	U undeploy --purge "$wf" >/dev/null 2>&1
	wait_for 30 not_deployed "$wf"
}

# iso_feed_codes KIND: the feeder's answers, "N x CODE" each
iso_feed_codes() { sort "$UF_TMP/feed.$1" | uniq -c | awk '{printf "%s%s x %s", (NR > 1 ? ", " : ""), $1, $2}'; }

# iso_held KIND: prints where the flooder is held at its limit: the lines of
# `unifaas describe` and of the log that name the limit (the daemon's; the
# step's for the limits of one event, which the tender enforces); fails
# when either is missing
iso_held() {
	local wf d l re
	wf=$(iso_wf "$1")
	case $1 in
	events) d='\(storage_quota\)' l="what=quota workflow=$wf .*quota=|what=ingress-rate workflow=$wf action=held" ;;
	kv) d='\(storage_quota\)' l="what=quota workflow=$wf .*quota=" ;;
	pushes) d='over the limit 1000 \(node limits\.writes_per_event\)' l="what=dead-letter workflow=$wf .*reason=.*over the limit 1000 \\(node limits\\.writes_per_event\\)" ;;
	never-pop) d="slot taken back for workflow steady" l="what=unit-stop unit=$wf\\.s\\.[0-9]+ .*limit=reclaim .*slot taken back for workflow steady" ;;
	memory) d='node unit memory .* \(unit_memory_budget\)' l="what=scale-wait workflow=$wf step=h reason=\"node unit memory .*\(unit_memory_budget\)" ;;
	esac
	U describe "$wf" >"$UF_TMP/describe.$wf" 2>&1
	re=$(grep -E -m1 -- "$d" "$UF_TMP/describe.$wf") || {
		echo "describe $wf names no limit (want /$d/): $(tr '\n' ' ' <"$UF_TMP/describe.$wf" | head -c 1500)"
		return 1
	}
	echo "describe: $(sed 's/^ *//' <<<"$re")"
	# an event past a limit of one event is dead-lettered by its unit, whose
	# line is in the step's log (which unifaasd writes); the other limits
	# are unifaasd's own
	if [ "$1" = pushes ]; then
		cat "$PLAT_STATE/logs/$wf/f.log" >"$UF_TMP/log.$wf" 2>&1
	else
		daemon_log >"$UF_TMP/log.$wf"
	fi
	re=$(grep -E -m1 -- "$l" "$UF_TMP/log.$wf") || {
		echo "the log names no limit for $wf (want /$l/): $(grep -F "$wf" "$UF_TMP/log.$wf" | tail -3 | tr '\n' ' ')"
		return 1
	}
	echo "log: $(cut -c1-300 <<<"$re")"
}
