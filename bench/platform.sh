#!/usr/bin/env bash
# bench/platform.sh BUILD_DIR - the unifaas platform benchmark (`make bench-platform`).
#
# Brings up a private platform (`unifaas up` in its own state dir under /tmp,
# its own API and MQTT ports), then runs bench/platform_bench.c against it:
# idle CPU, throughput of the fridge-door step with 1/2/4 units,
# push-to-handled latency warm and cold, memory and CPU with 1..10 busy
# units.  Every figure is printed beside its baseline from the same run
# (bench/native_fdc.c, a plain process doing fdc's Redis work; fork+exec of
# it per event; runc of it per event) with the ratio and the issue's target.
# It never fails on a slow figure.  The platform is stopped at the end, and
# everything the run started is reaped (the script runs under
# `platform_bench subreaper`: PID 1 here does not reap orphans).
#
# Output: the printed summary, bench/results/platform-*.csv (raw samples and
# per-run figures), bench/results/platform-summary.txt, and a dated section
# appended to bench/RESULTS.md (NO_RESULTS=1: leave it alone).
#
# Knobs (environment): TP_EVENTS (40000), TP_REPS (3), WARM_RUNS (2000),
# COLD_RUNS (1000), RUNC_RUNS (100; 0 = no runc baseline), COLD_IDLE_MS
# (10: idle_ms of the cold step), COLD_GAP_MS (0: pause between the last
# unit's disappearance from uf:state:units and the next cold event), IDLE_S (10), MEM_KMAX (10), MEM_WINDOW_S
# (3), FEED_RATE (200 events/s per unit), ONLY (idle,tp,lat,mem), API_PORT
# (random), MANUAL_UP=1 (start redis-server and unifaasd by hand instead of
# `unifaas up`; no mosquitto then), KEEP=1 (keep the work dir).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
CC=${CC:-cc}

if [ -z "${PB_WORK:-}" ]; then
	for f in "$BUILD/bin/unifaas" "$BUILD/bin/unifaasd" "$BUILD/bin/uf-hvt" "$BUILD/functions/fdc.uf"; do
		[ -e "$f" ] || { echo "platform.sh: $f is missing: run make first" >&2; exit 2; }
	done
	PB_WORK=$(mktemp -d /tmp/unifaas-pbench.XXXXXX)
	export PB_WORK
	# Snapshot what is measured, so that a rebuild of BUILD during the run changes nothing.
	mkdir -p "$PB_WORK/bin" "$PB_WORK/bundle/rootfs"
	cp "$BUILD/bin/unifaas" "$BUILD/bin/unifaasd" "$BUILD/bin/uf-hvt" "$PB_WORK/bin/"
	cp "$BUILD/functions/fdc.uf" "$PB_WORK/fdc.uf"
	$CC -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE bench/platform_bench.c -o "$PB_WORK/platform_bench" \
		-lhiredis -lm
	# The baseline process is built like the tender: musl, static, the same hiredis.
	musl-gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static -idirafter /usr/include \
		-idirafter /usr/include/x86_64-linux-gnu bench/native_fdc.c tender/glibc_compat.c \
		/usr/lib/x86_64-linux-gnu/libhiredis.a -o "$PB_WORK/native_fdc"
	exec "$PB_WORK/platform_bench" subreaper -- "$ROOT/bench/platform.sh" "$BUILD"
fi

# ---- from here on, under the subreaper ----
W=$PB_WORK
SD=$W/state
CLI=$W/bin/unifaas
OUT=$ROOT/bench/results
mkdir -p "$OUT"
MANUAL=${MANUAL_UP:-0}
UP_VIA=

cleanup() {
	set +e
	if [ -f "$SD/unifaasd.pid" ] || [ -f "$SD/redis.pid" ]; then
		if [ "$UP_VIA" = cli ]; then
			"$CLI" --state-dir "$SD" down >/dev/null 2>&1
		fi
		for p in unifaasd mosquitto redis; do
			[ -f "$SD/$p.pid" ] || continue
			pid=$(cat "$SD/$p.pid")
			kill -0 "$pid" 2>/dev/null || continue
			kill "$pid" 2>/dev/null
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$pid" 2>/dev/null
		done
	fi
	[ "${KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

manual_up() {
	mkdir -p "$SD/redis" "$SD/logs"
	chmod 700 "$SD"
	head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SD/redis.pass"
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SD/api.token"
	chmod 600 "$SD/redis.pass" "$SD/api.token"
	cat >"$SD/redis.conf" <<-EOF
		port 0
		unixsocket $SD/redis.sock
		unixsocketperm 700
		requirepass $(cat "$SD/redis.pass")
		appendonly yes
		appendfsync everysec
		dir $SD/redis
		notify-keyspace-events Kgt
		daemonize no
		logfile $SD/logs/redis.log
	EOF
	cat >"$SD/unifaas.conf" <<-EOF
		redis_socket=$SD/redis.sock
		redis_password_file=$SD/redis.pass
		api_port=$API_PORT
		hvt=$W/bin/uf-hvt
	EOF
	redis-server "$SD/redis.conf" &
	echo $! >"$SD/redis.pid"
	for _ in $(seq 100); do [ -S "$SD/redis.sock" ] && break; sleep 0.1; done
	"$W/bin/unifaasd" --state-dir "$SD" 2>"$SD/logs/unifaasd.log" &
	echo $! >"$SD/unifaasd.pid"
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$API_PORT/v1/health" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "platform.sh: unifaasd did not answer on port $API_PORT; its log:" >&2
	tail -20 "$SD/logs/unifaasd.log" >&2
	return 1
}

# A free-looking pair of ports; `unifaas up` refuses taken ones, so retry.
started=0
for try in 1 2 3 4 5; do
	API_PORT=${API_PORT:-$((20000 + RANDOM % 20000))}
	MQTT_PORT=$((API_PORT + 1))
	rm -rf "$SD"
	if [ "$MANUAL" != 1 ] && "$CLI" --state-dir "$SD" up --api-port "$API_PORT" --mqtt-port "$MQTT_PORT" \
		>"$W/up.txt" 2>&1; then
		UP_VIA=cli
		started=1
		break
	fi
	if [ "$MANUAL" != 1 ]; then
		echo "platform.sh: 'unifaas up' failed (try $try):" >&2
		cat "$W/up.txt" >&2
		if ! grep -qi "port" "$W/up.txt"; then
			echo "platform.sh: bringing the platform up by hand instead (no mosquitto)" >&2
			MANUAL=1
		fi
	fi
	if [ "$MANUAL" = 1 ]; then
		rm -rf "$SD"
		if manual_up; then
			UP_VIA=manual
			started=1
			break
		fi
	fi
	unset API_PORT
done
[ "$started" = 1 ] || { echo "platform.sh: could not bring the platform up" >&2; exit 1; }
echo "platform.sh: platform up ($UP_VIA) in $SD, API port $API_PORT"

# runc baseline: a bundle whose rootfs holds only the static native_fdc, with
# the state dir bind-mounted (for the Redis socket).
RUNC_ARGS=()
RUNC_RUNS=${RUNC_RUNS:-100}
RUNC=$(command -v runc || true)
if [ "$RUNC_RUNS" -gt 0 ] && [ -n "$RUNC" ] && [ "$(id -u)" -eq 0 ]; then
	B=$W/bundle
	cp "$W/native_fdc" "$B/rootfs/native_fdc"
	mkdir -p "$B/rootfs$SD"
	(cd "$B" && rm -f config.json && "$RUNC" spec)
	PASS=$(cat "$SD/redis.pass")
	sed -i -e 's/"terminal": true/"terminal": false/' \
		-e "s|^\(\s*\)\"sh\"\$|\1\"/native_fdc\", \"--redis\", \"$SD/redis.sock\", \"--workflow\", \"nlatr\", \"--consumer\", \"runc\", \"--once\", \"--idle-ms\", \"5000\"|" \
		-e "s|^\(\s*\)\"TERM=xterm\"|\1\"TERM=xterm\", \"UF_REDIS_PASSWORD=$PASS\"|" \
		-e "s|^\(\s*\)\"mounts\": \[|&\n\1\1{\"destination\": \"$SD\", \"type\": \"bind\", \"source\": \"$SD\", \"options\": [\"rbind\", \"rw\"]},|" \
		"$B/config.json"
	if grep -q '"/native_fdc"' "$B/config.json" && grep -q UF_REDIS_PASSWORD "$B/config.json" &&
		grep -q "\"destination\": \"$SD\"" "$B/config.json"; then
		RUNC_ARGS=(--runc "$RUNC" --bundle "$B")
	else
		echo "platform.sh: could not write the runc bundle's config.json; no runc baseline" >&2
	fi
else
	echo "platform.sh: runc baseline needs runc and root (and RUNC_RUNS > 0); skipped" >&2
fi

if [ -d /sys/module/kvm_pvm ]; then
	KVM_KIND="KVM through kvm_pvm (PVM: nested; hypercall exits ~37 us)"
elif grep -qw hypervisor /proc/cpuinfo; then
	KVM_KIND="nested KVM"
else
	KVM_KIND="KVM on bare metal"
fi
DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
TREE="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
DIRTY=$(git status --porcelain -- tender guest daemon include cli 2>/dev/null | awk '{print $2}' | tr '\n' ' ')

set +e
"$W/platform_bench" run --state "$SD" --api-port "$API_PORT" --fdc "$W/fdc.uf" --native "$W/native_fdc" \
	--work "$W" --out "$OUT" --md "$W/summary.md" --eval "$ROOT/workflows/eval.yaml" --eval-dir "$ROOT/workflows" \
	"${RUNC_ARGS[@]}" --runc-runs "$RUNC_RUNS" \
	--tp-events "${TP_EVENTS:-40000}" --tp-reps "${TP_REPS:-3}" --warm-runs "${WARM_RUNS:-2000}" \
	--cold-runs "${COLD_RUNS:-1000}" --cold-idle-ms "${COLD_IDLE_MS:-10}" --cold-gap-ms "${COLD_GAP_MS:-0}" --idle-s "${IDLE_S:-10}" \
	--mem-kmax "${MEM_KMAX:-10}" --mem-window-s "${MEM_WINDOW_S:-3}" --feed-rate "${FEED_RATE:-200}" \
	${ONLY:+--only "$ONLY"} | tee "$OUT/platform-summary.txt"
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 0 ] || echo "platform.sh: some samples failed (status $rc); figures are from the rest" >&2
if [ -s "$SD/logs/unifaasd.log" ] && grep -q 'level=error' "$SD/logs/unifaasd.log" 2>/dev/null; then
	echo "platform.sh: unifaasd logged errors:" >&2
	grep 'level=error' "$SD/logs/unifaasd.log" | tail -5 >&2
fi

[ "${NO_RESULTS:-0}" = 1 ] && exit 0
[ -s "$W/summary.md" ] || exit 0
{
	echo
	echo "## Platform benchmark, $DATE (bench/platform.sh)"
	echo
	echo "- Machine: $(nproc) cores, $(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1), kernel $(uname -r), $KVM_KIND; loadavg before $LOAD_BEFORE"
	echo "- Tree: $TREE${DIRTY:+ with uncommitted changes in: $DIRTY}"
	echo "- Platform: started by $([ "$UP_VIA" = cli ] && echo "'unifaas up' (redis-server, mosquitto, unifaasd)" || echo "hand (redis-server, unifaasd; no mosquitto)")"
	echo "- Knobs: TP_EVENTS=${TP_EVENTS:-40000} TP_REPS=${TP_REPS:-3} WARM_RUNS=${WARM_RUNS:-2000} COLD_RUNS=${COLD_RUNS:-1000} RUNC_RUNS=$RUNC_RUNS COLD_IDLE_MS=${COLD_IDLE_MS:-10} COLD_GAP_MS=${COLD_GAP_MS:-0} IDLE_S=${IDLE_S:-10} MEM_KMAX=${MEM_KMAX:-10} MEM_WINDOW_S=${MEM_WINDOW_S:-3} FEED_RATE=${FEED_RATE:-200}${ONLY:+ ONLY=$ONLY}"
	echo "- Raw figures: bench/results/platform-*.csv"
	echo
	cat "$W/summary.md"
} >>bench/RESULTS.md
echo "bench/RESULTS.md: section appended"
