#!/bin/sh
# tests/emulated/arm64_rig.sh [smoke] - run by busybox sh inside the
# emulated Raspberry Pi class machine (`make test-arm64`: scripts/in-qemu.sh
# arm64, QEMU's virt board with EL2, a Cortex-A72 and a GICv2).  Checks the
# machine is what a Pi 4 is to KVM (nVHE hypervisor, A72, GICv2) and that
# /dev/kvm is there, runs the aarch64 tender's KVM layer tests
# (tests/kvm/vcpu_aarch64.c, mmu_aarch64.c), boots hello.uf, then the
# tender's suites (arm64_suites.sh with the cases arm64_cases.sh listed);
# `smoke` (make test-arm64-smoke) runs of those only one fault and one
# local-KV batch; both run one Redis-backed batch (redis_backend.sh's
# first) against Debian's arm64 redis-server.
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
# an aarch64 one boots (hello.uf, built by `make ARCH=aarch64`)
if [ -x ./uf-hvt ]; then
	out=$(./uf-hvt hello-x86_64.uf 2>&1)
	rc=$?
	want="uf-hvt: hello-x86_64.uf: image built for x86-64, but this machine runs aarch64 images; build the function for aarch64 ('unifaas build' on this machine)"
	[ $rc -eq 2 ] && [ "$out" = "$want" ] && ok tender-refuses-x86-64-image || ko tender-refuses-x86-64-image "status $rc: $out"
	out=$(./uf-hvt --event world hello.uf 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [ "$out" = "Hello from a unifaas unikernel!" ] && ok hello || ko hello "status $rc: $out"
	# the same unit through a standby tender (VM and vCPU made first, then
	# the launch request on stdin: common/launch.h), as unifaasd starts units
	out=$(printf 'UFLAUNCH1\nA--event\0Aworld\0Ahello.uf\0' | ./uf-hvt --standby 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [ "$out" = "Hello from a unifaas unikernel!" ] && ok hello-standby || ko hello-standby "status $rc: $out"
fi
# the tender's suites (arm64_suites.sh): all of their cases, or with
# `smoke` one fault and the libc smoke test's batch with the local KV store;
# counted with the checks above in the one summary line
if [ -f cases ]; then
	set=cases
	if [ "${1:-}" = smoke ]; then
		grep -e '^faults	reason	null-read	' -e '^runtime	' cases >cases.smoke
		set=cases.smoke
	fi
	sh arm64_suites.sh $set >/tmp/arm64-suites.out 2>&1
	rc=$?
	cat /tmp/arm64-suites.out
	p=$((p + $(grep -c '^PASS' /tmp/arm64-suites.out)))
	f=$((f + $(grep -c '^FAIL' /tmp/arm64-suites.out)))
	[ $rc -eq 0 ] || grep -q '^FAIL' /tmp/arm64-suites.out || ko suites "arm64_suites.sh exited with status $rc"
fi
# redis_backend.sh's first batch (its checks, in busybox's words): 1000
# events through one unit of fdc.uf against a redis-server on this board
# (Debian's arm64 build, staged by arm64_redis_stage.sh)
if [ -d redis ] && [ -f fdc.uf ]; then
	L="./redis/lib/ld-linux-aarch64.so.1 --library-path ./redis/lib"
	rd=/tmp/arm64-redis
	mkdir -p $rd
	$L ./redis/redis-server --port 0 --unixsocket $rd/redis.sock --save '' --appendonly no --daemonize yes \
		--pidfile $rd/redis.pid --dir $rd >$rd/start.log 2>&1
	R() { $L ./redis/redis-cli -s $rd/redis.sock "$@"; }
	i=0
	while [ ! -S $rd/redis.sock ] && [ $i -lt 600 ]; do # up to 60 s: an emulated machine beside other work
		sleep 0.1
		i=$((i + 1))
	done
	i=0
	while [ $i -lt 1000 ]; do
		echo "XADD uf:q:eval:fridge-door * data open"
		i=$((i + 1))
	done | R >/dev/null
	timeout 120 ./uf-hvt --redis $rd/redis.sock --workflow eval --queue fridge-door --step fdc fdc.uf >/dev/null 2>$rd/r.err
	rc=$?
	[ $rc -eq 0 ] && [ "$(R GET uf:kv:eval:fdc-count)" = 1000 ] && ok redis_backend/count-1000 ||
		ko redis_backend/count-1000 "status $rc, count $(R GET uf:kv:eval:fdc-count): $(cat $rd/r.err $rd/start.log | tail -3)"
	[ "$(R XPENDING uf:q:eval:fridge-door fdc | head -1)" = 0 ] && ok redis_backend/all-acknowledged ||
		ko redis_backend/all-acknowledged "pending: $(R XPENDING uf:q:eval:fridge-door fdc | head -1)"
	[ "$(R XLEN uf:q:eval:door-opens)" = 1000 ] && ok redis_backend/pushes-written ||
		ko redis_backend/pushes-written "$(R XLEN uf:q:eval:door-opens)"
	R XRANGE uf:q:eval:door-opens - + COUNT 1 | grep -q '"count":1}' && ok redis_backend/push-content ||
		ko redis_backend/push-content "$(R XRANGE uf:q:eval:door-opens - + COUNT 1 | tr '\n' ' ')"
	# (not in the smoke set) redis_backend.sh's crash mid-batch: the event
	# being handled is re-queued with attempt 1 and the fault (in aarch64's
	# words) as reason, the others unchanged; nothing written or pending
	if [ "${1:-}" != smoke ] && [ -f dataplane.uf ]; then
		printf 'XADD uf:q:w3:in * data %s\n' a b crash d | R >/dev/null
		timeout 120 ./uf-hvt --redis $rd/redis.sock --workflow w3 --queue in --step s --idle-ms 0 dataplane.uf \
			>/dev/null 2>$rd/c.err
		rc=$?
		q=$(R XRANGE uf:q:w3:in - + | tr '\n' ' ')
		pend=$(R XPENDING uf:q:w3:in s | head -1)
		[ $rc -eq 3 ] && [ "$(R XLEN uf:q:w3:out)" = 0 ] && [ "$pend" = 0 ] && [ "$(R XLEN uf:q:w3:in)" = 8 ] &&
			ok redis_backend/crash-commits-nothing ||
			ko redis_backend/crash-commits-nothing "status $rc, out $(R XLEN uf:q:w3:out), pending $pend, in $(R XLEN uf:q:w3:in): $(tail -2 $rd/c.err)"
		echo "$q" | grep -Eq "data crash origin [0-9-]+ attempt 1 reason guest fault: data abort: NULL pointer dereference" &&
			echo "$q" | grep -Eq "data a origin [0-9-]+ attempt 0 [0-9]" && echo "$q" | grep -Eq "data d origin [0-9-]+ attempt 0( |$)" &&
			ok redis_backend/crash-culprit-requeued || ko redis_backend/crash-culprit-requeued "stream: $q"
		[ -z "$(R GET uf:kv:w3:n)" ] && ok redis_backend/crash-kv-not-committed ||
			ko redis_backend/crash-kv-not-committed "n = $(R GET uf:kv:w3:n)"
	fi
	R shutdown nosave >/dev/null 2>&1
fi
echo "$p passed, $f failed"
[ $f -eq 0 ]
