#!/bin/sh
# tests/emulated/arm64_rig.sh - run by busybox sh inside the emulated
# Raspberry Pi class machine (`make test-arm64`: scripts/in-qemu.sh arm64,
# QEMU's virt board with EL2, a Cortex-A72 and a GICv2): the rig that the
# aarch64 tender will be tested in.  Checks the machine is what a Pi 4 is
# to KVM (nVHE hypervisor, A72, GICv2) and that /dev/kvm is there, then
# runs the aarch64 tender's KVM layer test (tests/kvm/vcpu_aarch64.c) when
# given it; the tender's own suites join once the aarch64 port runs images
# (issue 12 §3).
p=0 f=0
ok() { echo "PASS arm64/$1"; p=$((p + 1)); }
ko() { echo "FAIL arm64/$1: $2"; f=$((f + 1)); }
[ "$(uname -m)" = aarch64 ] && ok machine || ko machine "uname -m: $(uname -m)"
grep -q '^CPU part.*0xd08' /proc/cpuinfo && ok cortex-a72 || ko cortex-a72 "$(grep -m1 '^CPU part' /proc/cpuinfo)"
# nVHE, as on a Pi 4 (VHE would be "VHE mode initialized successfully")
dmesg | grep -q 'kvm \[1\]: Hyp mode initialized successfully' && ok kvm-nvhe ||
	ko kvm-nvhe "$(dmesg | grep -i kvm | tail -3 | tr '\n' ' ')"
dmesg | grep -q 'kvm \[1\]: vgic' && ok kvm-vgic-v2 || ko kvm-vgic-v2 "$(dmesg | grep -i -e gic | tail -3 | tr '\n' ' ')"
[ -c /dev/kvm ] && ok dev-kvm || ko dev-kvm "no /dev/kvm"
# the tender's KVM layer and seccomp filter for aarch64 (make test-arm64 copies it here)
if [ -x ./vcpu_aarch64 ]; then
	out=$(./vcpu_aarch64 2>&1)
	rc=$?
	echo "$out" | grep -v '^PASS'
	[ $rc -eq 0 ] && ok tender-kvm-vcpu || ko tender-kvm-vcpu "status $rc"
fi
echo "$p passed, $f failed"
[ $f -eq 0 ]
