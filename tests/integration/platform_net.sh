#!/usr/bin/env bash
# A network function on the platform: a workflow whose step declares
# `net: true` gets a TAP device from unifaasd's pool for each unit, with its
# address in NET_IP; the host pings it.  The whole platform runs in a network
# namespace of its own (the script re-runs itself under `unshare -n`), so the
# bridge and devices never touch the host and vanish with the namespace.
. "$(dirname "$0")/../lib.sh"

if [ "${1:-}" != --in-netns ]; then
	if ! unshare -n true 2>/dev/null; then
		fail netns "cannot create a network namespace: needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)"
		exit 0
	fi
	export UF_TMP UF_RESULTS UF_SUITE UF_BUILD UF_TOP
	timeout 120 unshare -n --kill-child bash "$0" --in-netns
	rc=$?
	[ $rc -eq 0 ] || fail netns-script "the namespace part exited with status $rc"
	exit 0
fi

# ---- inside the private network namespace ----
ip link set lo up
. "$UF_TOP/tests/platform/lib.sh"
img=$(build_guest "$UF_TOP/functions/pingd.c") || {
	fail build-pingd "pingd.c did not build"
	exit 0
}
# The pool's bridge, subnet and size are this run's own (unifaasd.conf), not
# the defaults: the namespace already keeps them apart from every other run,
# and this checks that unifaasd takes them from its configuration.
br=ufbr$RANDOM pfx=uft$RANDOM-
net=10.$((RANDOM % 200 + 20)).$((RANDOM % 250))
host=$net.1 ip0=$net.2 ip1=$net.3 tap0=${pfx}0 tap1=${pfx}1
PLAT_CONF=$(printf 'tap_bridge=%s\ntap_cidr=%s/24\ntap_pool_size=2\ntap_prefix=%s\n' "$br" "$host" "$pfx")
trap plat_down EXIT
plat_up || {
	fail up "unifaas up failed: $(tail -5 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"
	exit 0
}

m=$(
	manifest netwf <<EOF
name: netwf
functions:
  pingd:
    image: $img
    listen: control
    net: true
    scale: { min_units: 2, max_units: 2 }
EOF
)
U deploy "$m" >"$UF_TMP/d.out" 2>&1 && pass deploy-net || fail deploy-net "$(cat "$UF_TMP/d.out")"
wait_for 10 units_is netwf 2 && pass net-units-started || fail net-units-started "$(U ps)"
# the pool's bridge carries the host address; each unit has its own device and address
[ "$(ip -o -4 addr show dev "$br" 2>/dev/null | awk '{print $4}')" = "$host/24" ] && pass bridge-address ||
	fail bridge-address "$(ip -br addr)"
# unit_on DEVICE: the pid of this platform's unit attached to DEVICE
unit_on() { plat_pids "--tap=$1( |$)"; }
out=$(ping -c 3 -W 2 "$ip0" 2>&1) && pass ping-unit-0 || fail ping-unit-0 "$out"
# the unit attached to $tap0 is the one that answers as the first address:
# the MAC the host learnt for it is behind the bridge port $tap0
mac0=$(ip neigh show "$ip0" dev "$br" | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}')
[ -n "$(unit_on "$tap0")" ] && [ -n "$mac0" ] && bridge fdb show dev "$tap0" | grep -qi "^$mac0 " &&
	pass unit-gets-tap-and-ip || fail unit-gets-tap-and-ip "MAC of $ip0 '$mac0'; $tap0: $(bridge fdb show dev "$tap0" | tr '\n' ' ')"
out=$(ping -c 3 -W 2 "$ip1" 2>&1) && pass ping-unit-1 || fail ping-unit-1 "$out"
printf '%s\n' "$out" | grep -Eo 'rtt [^ ]+ = [^ ]+ ms' | sed "s/^/$UF_SUITE: /"

# A TAP device has carrier while a process is attached to it, none when free
# (read with ip: /sys shows the namespace it was mounted in, not this one).
# attached DEVICE: a process holds it; in_pool DEVICE: it is still there, a
# port of the pool's bridge, up, and free
attached() { ip -o link show dev "$1" 2>/dev/null | grep -q '[<,]LOWER_UP[,>]'; }
in_pool() {
	local l
	l=$(ip -o link show dev "$1" 2>/dev/null) && [[ $l =~ [\<,]NO-CARRIER[,\>] && $l =~ [\<,]UP[,\>] && $l == *" master $br "* ]]
}
attached "$tap0" && attached "$tap1" && pass devices-attached ||
	fail devices-attached "$(ip -o link show | grep "$pfx" | cut -d' ' -f2- | tr '\n' ' ')"

# a killed unit gives its device back: the replacement gets that device again and answers
# (the replacement is found by its device and pid, not by its unit number:
# numbers are handed out per start, and a start may fail and be retried)
killed=$(unit_on "$tap0")
replaced() { local p; p=$(unit_on "$tap0") && [ "$p" != "$killed" ]; }
plat_kill 9 "--tap=$tap0( |$)" && pass kill-net-unit || fail kill-net-unit "no unit on $tap0"
out=
wait_for 10 replaced && out=$(ping -c 2 -W 2 "$ip0" 2>&1) && pass replacement-answers ||
	fail replacement-answers "${out:-no new unit on $tap0} $(U ps) $(grep -E 'unit-(start|exit)' "$PLAT_STATE/logs/unifaasd.log" | tail -4)"

# undeploy stops the units; their devices are back in the pool: still ports of
# the bridge, nothing attached, and handed out again to the next units
U undeploy netwf >/dev/null
wait_for 10 no_units netwf && pass net-units-stopped || fail net-units-stopped "$(U ps)"
wait_for 10 in_pool "$tap0" && wait_for 10 in_pool "$tap1" && pass device-released ||
	fail device-released "$(ip -o link show | grep "$pfx" | cut -d' ' -f2- | tr '\n' ' ')"
U deploy "$m" >"$UF_TMP/d2.out" 2>&1 && wait_for 10 units_is netwf 2 && wait_for 10 unit_on "$tap0" &&
	wait_for 10 unit_on "$tap1" && out=$(ping -c 1 -W 2 "$ip1" 2>&1) && pass devices-handed-out-again ||
	fail devices-handed-out-again "$(cat "$UF_TMP/d2.out") $(U ps) ${out:-}"
plat_down
no_stray "$PLAT_STATE" >/dev/null && pass no-stray-units || fail no-stray-units "tenders left"
