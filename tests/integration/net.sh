#!/usr/bin/env bash
# Network functions: unifaasd's TAP pool (daemon/tap_pool.c, driven by
# tests/net/tapctl.c), uf-hvt --tap and functions/pingd.c answering ARP and
# ping.  Everything happens in a network namespace of its own (the script
# re-runs itself under `unshare -n`), so the host's interfaces are never
# touched and every device goes away with the namespace.
. "$(dirname "$0")/../lib.sh"

if [ "${1:-}" != --in-netns ]; then
	if ! unshare -n true 2>/dev/null; then
		fail netns "cannot create a network namespace: needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)"
		exit 0
	fi
	[ -c /dev/net/tun ] || {
		fail tun "no /dev/net/tun: the kernel's TUN/TAP driver is missing"
		exit 0
	}
	export UF_TMP UF_RESULTS UF_SUITE UF_BUILD UF_TOP
	timeout 60 unshare -n --kill-child bash "$0" --in-netns
	rc=$?
	[ $rc -eq 0 ] || fail netns-script "the namespace part exited with status $rc"
	check no-stray-tenders no_stray "$UF_TMP/pingd.uf"
	finish
	exit 0
fi

# ---- from here on, inside the private network namespace ----
bg=()
trap 'for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null' EXIT
ip link set lo up

img=$(build_guest "$UF_TOP/functions/pingd.c") || {
	fail build-pingd "pingd.c did not build"
	exit 0
}
tapctl=$UF_TMP/tapctl
san=
[ "$UF_BUILD" = build ] || san="-fsanitize=address,undefined -fno-sanitize-recover=all"
# shellcheck disable=SC2086
cc -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE $san -I"$UF_TOP/daemon" \
	"$UF_TOP/tests/net/tapctl.c" "$UF_TOP/daemon/tap_pool.c" -o "$tapctl" 2>"$UF_TMP/tapctl.err" || {
	fail build-tapctl "$(head -3 "$UF_TMP/tapctl.err")"
	exit 0
}

# The pool: three devices on uf-br0; acquire hands out the lowest free one
# with its address, EBUSY when none is free; release takes it back once.
out=$("$tapctl" uf-br0 10.77.0.1/24 3 acquire acquire acquire acquire release uf-tap1 release uf-tap1 \
	release uf-nope acquire available keep 2>&1)
want="acquire uf-tap0 10.77.0.2
acquire uf-tap1 10.77.0.3
acquire uf-tap2 10.77.0.4
acquire EBUSY
release uf-tap1 0
release uf-tap1 ENOENT
release uf-nope ENOENT
acquire uf-tap1 10.77.0.3
available 0"
[ "$out" = "$want" ] && pass pool-acquire-release-exhaustion || fail pool-acquire-release-exhaustion "$(echo "$out" | tr '\n' ' ')"
ports=$(ip -o link show master uf-br0 | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
addr=$(ip -o -4 addr show dev uf-br0 | awk '{print $4}')
[ "$ports" = "uf-tap0 uf-tap1 uf-tap2 " ] && [ "$addr" = 10.77.0.1/24 ] && ip link show uf-br0 | grep -q ',UP' &&
	pass pool-devices-on-bridge || fail pool-devices-on-bridge "ports '$ports', bridge address '$addr'"

# A unit on uf-tap0 answers ping, from the namespace's side of the bridge.
"$HVT" --tap uf-tap0 --env NET_IP=10.77.0.2 --env NET_IDLE_MS=1500 "$img" >"$UF_TMP/pingd.out" 2>"$UF_TMP/pingd.err" &
p0=$!
bg+=($p0)
wait_for 10 grep -q '^pingd: ip=' "$UF_TMP/pingd.err"
grep -q '^Seccomp:[[:space:]]*2' /proc/$p0/status && pass tender-with-tap-sandboxed ||
	fail tender-with-tap-sandboxed "$(grep Seccomp /proc/$p0/status 2>&1)"
if ping -c 3 -i 0.2 -W 1 10.77.0.2 >"$UF_TMP/ping.out" 2>&1; then
	pass ping-pingd
	echo "  $(grep rtt "$UF_TMP/ping.out")"
else
	fail ping-pingd "$(tail -3 "$UF_TMP/ping.out" | tr '\n' ' ') / $(cat "$UF_TMP/pingd.err")"
fi
mac=$(sed -n 's/^pingd: ip=[^ ]* mac=\([^ ]*\) .*/\1/p' "$UF_TMP/pingd.err")
neigh=$(ip neigh show 10.77.0.2 dev uf-br0)
case "$neigh" in
*"lladdr $mac "*) [ -n "$mac" ] && pass arp-learned || fail arp-learned "no MAC in pingd's log" ;;
*) fail arp-learned "neighbour '$neigh', pingd's MAC '$mac'" ;;
esac

# A second unit: --mac chooses the MAC; two units answer side by side.  It
# stays (no idle exit) until the attach failures below have been checked
# against it, however slowly they run on a loaded machine.
"$HVT" --tap uf-tap1 --mac 02:00:00:00:00:42 --env NET_IP=10.77.0.3 --env NET_IDLE_MS=60000 "$img" \
	>/dev/null 2>"$UF_TMP/pingd1.err" &
p1=$!
bg+=($p1)
wait_for 10 grep -q '^pingd: ip=' "$UF_TMP/pingd1.err"
ping -c 1 -W 1 10.77.0.3 >/dev/null 2>&1 && ip neigh show 10.77.0.3 | grep -q 'lladdr 02:00:00:00:00:42 ' &&
	pass second-unit-own-mac || fail second-unit-own-mac "$(ip neigh show 10.77.0.3) / $(cat "$UF_TMP/pingd1.err")"

# Attach failures: status 8 (UF_END_NET) and a message naming device and
# cause; a device with an owner refuses a tender that is neither the owner
# nor has CAP_NET_ADMIN.
tap_refused() { # NAME DEVICE EXPECTED-MESSAGE
	local out rc
	out=$(timeout 10 "$HVT" --tap "$2" --env NET_IP=10.77.0.9 "$img" 2>&1)
	rc=$?
	[ $rc -eq 8 ] && [[ "$out" == *"$3"* ]] && pass "$1" || fail "$1" "status $rc: $out"
}
tap_refused tap-busy uf-tap1 "tap uf-tap1: busy: another unit (process) is attached to it"
tap_refused tap-missing uf-nope "tap uf-nope: no such network device"
tap_refused tap-not-a-tap uf-br0 "tap uf-br0: not a TAP device"
tap_refused tap-name-too-long uf-a-name-too-long "a device name is 1..15 characters"
ip tuntap add dev uf-owned mode tap user 65534
out=$(timeout 10 setpriv --bounding-set=-net_admin "$HVT" --tap uf-owned --env NET_IP=10.77.0.9 "$img" 2>&1)
rc=$?
[ $rc -eq 8 ] && [[ "$out" == *"tap uf-owned: not allowed to attach (needs CAP_NET_ADMIN"* ]] &&
	pass tap-not-allowed || fail tap-not-allowed "status $rc: $out"
ip link del uf-owned
ip link show uf-nope >/dev/null 2>&1 && fail tap-missing-not-created "uf-hvt created uf-nope" ||
	pass tap-missing-not-created
out=$(timeout 10 "$HVT" --tap uf-tap2 --mac 01:00:5e:00:00:01 "$img" 2>&1)
rc=$?
[ $rc -eq 2 ] && [[ "$out" == *"--mac '01:00:5e:00:00:01': expected a unicast MAC"* ]] && pass bad-mac ||
	fail bad-mac "status $rc: $out"
out=$(timeout 10 "$HVT" --env NET_IP=10.77.0.9 "$img" 2>&1)
rc=$?
[ $rc -eq 1 ] && [[ "$out" == *"pingd: no network device: Function not implemented"* ]] && pass no-tap-enosys ||
	fail no-tap-enosys "status $rc: $out"

kill "$p1"
# The unit ends by itself after 1.5 s without a frame, with status 0.
wait "$p0"
rc=$?
[ $rc -eq 0 ] && grep -q 'arp_replies=1 echo_replies=3 dropped=0' "$UF_TMP/pingd.err" && pass pingd-idle-exit ||
	fail pingd-idle-exit "status $rc: $(cat "$UF_TMP/pingd.err")"
wait
bg=()

# Closing with destroy deletes the devices; a bridge the pool did not create
# (uf-br0 exists since the first tapctl) stays.  A pool that created its
# bridge deletes it too.
"$tapctl" uf-br0 10.77.0.1/24 3 destroy >/dev/null 2>"$UF_TMP/destroy.err"
rc=$?
left=$(ip -o link show | grep -c 'uf-tap')
[ $rc -eq 0 ] && [ "$left" = 0 ] && ip link show uf-br0 >/dev/null 2>&1 && pass pool-destroy-keeps-foreign-bridge ||
	fail pool-destroy-keeps-foreign-bridge "status $rc, $left devices left: $(cat "$UF_TMP/destroy.err")"
"$tapctl" uf-br9 10.79.0.1/24 2 acquire destroy >/dev/null 2>"$UF_TMP/destroy.err"
rc=$?
[ $rc -eq 0 ] && ! ip link show uf-br9 >/dev/null 2>&1 && [ "$(ip -o link show | grep -c 'uf-tap')" = 0 ] &&
	pass pool-destroy-removes-all || fail pool-destroy-removes-all "status $rc: $(ip -o link show | cut -d' ' -f2 | tr '\n' ' ')"

# Pool errors name the object and the cause, and leave no device behind.
pool_refused() { # NAME EXPECTED-MESSAGE TAPCTL-ARGS...
	local name=$1 want=$2 out rc before
	shift 2
	before=$(ip -o link show | awk -F': ' '{print $2}')
	out=$("$@" 2>&1)
	rc=$?
	[ $rc -eq 3 ] && [[ "$out" == *"$want"* ]] && [ "$(ip -o link show | awk -F': ' '{print $2}')" = "$before" ] &&
		pass "$name" || fail "$name" "status $rc: $out"
}
pool_refused pool-no-cap-net-admin "tap pool: create bridge uf-br8: Operation not permitted (needs CAP_NET_ADMIN" \
	setpriv --bounding-set=-net_admin "$tapctl" uf-br8 10.78.0.1/24 2
pool_refused pool-bad-subnet "tap pool: subnet '10.78.0.1': expected the host's address and prefix" \
	"$tapctl" uf-br8 10.78.0.1 2
pool_refused pool-too-many "tap pool: 254 devices: must be 1..1000" "$tapctl" uf-br8 10.78.0.1/24 254
pool_refused pool-not-a-bridge "tap pool: bridge lo: a device of that name exists and is not a bridge" \
	"$tapctl" lo 10.78.0.1/24 2
ip -o -4 addr show dev lo | grep -q 10.78 && fail pool-not-a-bridge-untouched "lo got the pool's address" ||
	pass pool-not-a-bridge-untouched
# Two pools in one namespace: each its own bridge, subnet and device prefix
# (unifaasd's tap_prefix); a prefix that cannot make device names is refused.
out=$(TAPCTL_PREFIX=t7- "$tapctl" uf-br7 10.79.0.1/24 2 acquire acquire keep 2>&1)
ports=$(ip -o link show master uf-br7 | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
[ "$out" = "$(printf 'acquire t7-0 10.79.0.2\nacquire t7-1 10.79.0.3')" ] && [ "$ports" = "t7-0 t7-1 " ] &&
	pass pool-prefix || fail pool-prefix "$out / ports '$ports'"
TAPCTL_PREFIX=t7- "$tapctl" uf-br7 10.79.0.1/24 2 destroy >/dev/null 2>&1
pool_refused pool-prefix-too-long "tap pool: prefix 'abcdefghijkl': 1..11 characters, none of them '/', ':' or white space" \
	env TAPCTL_PREFIX=abcdefghijkl "$tapctl" uf-br8 10.78.0.1/24 2
pool_refused pool-prefix-slash "tap pool: prefix 'a/b': 1..11 characters" env TAPCTL_PREFIX=a/b "$tapctl" uf-br8 10.78.0.1/24 2
ip tuntap add dev uf-tap0 mode tun 2>/dev/null
pool_refused pool-name-taken "tap pool: take over uf-tap0: a device of that name exists and is not a TAP device" \
	"$tapctl" uf-br8 10.78.0.1/24 2
finish
