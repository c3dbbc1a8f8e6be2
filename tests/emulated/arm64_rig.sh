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
# the tender's KVM layer and seccomp filter, and an aarch64 guest's page
# tables (make test-arm64 copies the tests here)
for t in vcpu mmu; do
	[ -x ./${t}_aarch64 ] || continue
	out=$(./${t}_aarch64 2>&1)
	rc=$?
	echo "$out" | grep -v '^PASS'
	[ $rc -eq 0 ] && ok tender-kvm-$t || ko tender-kvm-$t "status $rc"
done
# the aarch64 uf-hvt: an x86-64 image is refused naming both architectures;
# an aarch64 one (hello.uf's copy with e_machine 183) passes the image check
# and is refused because the tender cannot boot images yet (issue 12)
if [ -x ./uf-hvt ]; then
	out=$(./uf-hvt hello.uf 2>&1)
	rc=$?
	want="uf-hvt: hello.uf: image built for x86-64, but this machine runs aarch64 images; build the function for aarch64 ('unifaas build' on this machine)"
	[ $rc -eq 2 ] && [ "$out" = "$want" ] && ok tender-refuses-x86-64-image || ko tender-refuses-x86-64-image "status $rc: $out"
	out=$(./uf-hvt hello-aarch64.uf 2>&1)
	rc=$?
	case "$rc $out" in
	"2 uf-hvt: hello-aarch64.uf: this tender cannot boot images on aarch64 yet"*) ok tender-no-boot-yet ;;
	*) ko tender-no-boot-yet "status $rc: $out" ;;
	esac
fi
echo "$p passed, $f failed"
[ $f -eq 0 ]
