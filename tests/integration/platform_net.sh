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
img=$(build_guest "$UF_TOP/functions/pingd.c") || { fail build-pingd "pingd.c did not build"; exit 0; }
trap plat_down EXIT
plat_up || { fail up "unifaas up failed: $(tail -5 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"; exit 0; }

m=$(manifest netwf <<EOF
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
ip -br addr show uf-br0 | grep -q '10\.77\.0\.1/24' && pass bridge-address || fail bridge-address "$(ip -br addr)"
ps -eo args | grep -- '--tap=uf-tap0' | grep -q 'NET_IP=10.77.0.2' && pass unit-gets-tap-and-ip ||
	fail unit-gets-tap-and-ip "$(ps -eo args | grep uf-hvt | grep -v grep)"
out=$(ping -c 3 -W 2 10.77.0.2 2>&1) && pass ping-unit-0 || fail ping-unit-0 "$out"
out=$(ping -c 3 -W 2 10.77.0.3 2>&1) && pass ping-unit-1 || fail ping-unit-1 "$out"
printf '%s\n' "$out" | grep -Eo 'rtt [^ ]+ = [^ ]+ ms' | sed "s/^/$UF_SUITE: /"

# a killed unit gives its device back: the replacement gets a device again and answers
pkill -9 -f -- '--tap=uf-tap0' && pass kill-net-unit || fail kill-net-unit "no unit on uf-tap0"
wait_for 10 sh -c "ps -eo args | grep -v grep | grep -q -- '--consumer=netwf.pingd.3'" &&
	out=$(ping -c 2 -W 2 10.77.0.2 2>&1) && pass replacement-answers || fail replacement-answers "$out $(U ps)"

# undeploy stops the units; their devices are free (nothing attached)
U undeploy netwf >/dev/null
wait_for 10 no_units netwf && pass net-units-stopped || fail net-units-stopped "$(U ps)"
out=$(ping -c 1 -W 1 10.77.0.2 2>&1) && fail device-released "still answering: $out" || pass device-released
plat_down
no_stray "$PLAT_STATE" >/dev/null && pass no-stray-units || fail no-stray-units "tenders left"
