#!/usr/bin/env bash
# scripts/in-qemu.sh - runs a command under a real, hardware-style KVM inside
# an emulated machine (QEMU's software emulation, TCG), for testing the
# tender where users run it: x86-64 with AMD SVM, and an aarch64 board
# (Cortex-A72 with EL2 and a GICv2, as a Raspberry Pi 4).
#
#   scripts/in-qemu.sh [--hostfs [--keep PATH]] svm|arm64 DIR CMD...
#
# The machine boots Debian's kernel (the package behind linux-image-amd64 or
# linux-image-arm64, fetched with `apt-get download` and unpacked with
# `dpkg -x`, never installed) with an initramfs of busybox-static (of the
# machine's architecture), the kernel modules KVM needs (svm: irqbypass,
# ccp, kvm, kvm-amd, in the order their .modinfo depends= lines give) and a
# copy of DIR's files at /uf.  /init brings /dev/kvm up, runs CMD with
# `sh -c` (its words joined by spaces, as ssh does) in /uf, prints CMD's
# output and exit status on the serial console and powers off.  This script
# prints CMD's output (stdout and stderr together), then one line
# `in-qemu: ARCH: CMD exited with status N (...)` on stderr, and exits with
# CMD's status.  Its own failures exit 125 (with the boot log's tail), and a
# machine that outlives UF_QEMU_TIMEOUT seconds (default 600) is killed:
# exit 124.
#
# --hostfs (svm only): this machine's root filesystem is shared read-only
# with the emulated one (virtio 9p) and CMD runs chrooted in it, with fresh
# tmpfs on /tmp, /run and /var/tmp (HOME=/tmp), and DIR at /tmp/uf: the tests'
# own bash, python3, redis-server and the build tree are there as they are
# here, without copying them.  --keep PATH keeps this machine's directory
# PATH visible (read-only) where it is, also when it lies under one of the
# directories that get a fresh tmpfs (a clone in /tmp: `make test`'s smoke
# set and `make test-svm` pass the tree).  $UF_DIR names DIR's copy in both
# modes.
#
# Environment: UF_QEMU_CACHE (default ~/.cache/unifaas/qemu): the unpacked
# kernels and busybox, reused by later runs (a newer kernel in the archive is
# fetched once, on its first use; the archive is asked once a day);
# UF_QEMU_KERNEL: a kernel package to use instead (linux-image-6.1.0-57-amd64,
# linux-image-6.1.0-57-arm64:arm64); UF_QEMU_MEM (MiB, default 1024);
# UF_QEMU_SMP (default 1); UF_QEMU_TIMEOUT (s, default 600); UF_QEMU_LOG:
# keep the whole serial log there.
#
# Needs: `scripts/install-deps.sh --emulation` (qemu-system-x86,
# qemu-system-arm, cpio, and the arm64 architecture in dpkg for the arm64
# packages).  Notes: the emulated machine is 10-100 times slower than the
# real one; its timings say nothing about hardware speed.
set -uo pipefail

die() {
	echo "in-qemu: $*" >&2
	exit 125
}

hostfs="" keep=""
while [ $# -gt 0 ]; do
	case $1 in
	--hostfs) hostfs=1 ;;
	--keep)
		[ $# -ge 2 ] && [ -d "$2" ] || die "--keep: '${2:-}' is not a directory"
		keep=$(cd "$2" && pwd -P)
		shift
		;;
	*) break ;;
	esac
	shift
done
[ -n "$keep" ] && [ -z "$hostfs" ] && die "--keep works with --hostfs only"
[ $# -ge 3 ] || die "usage: scripts/in-qemu.sh [--hostfs [--keep PATH]] svm|arm64 DIR CMD..."
arch=$1 dir=$2
shift 2
cmd="$*"
[ -d "$dir" ] || die "$arch: DIR $dir is not a directory"
case $arch in
svm)
	deb_arch=amd64 qemu=qemu-system-x86_64 qemu_pkg=qemu-system-x86 console=ttyS0
	modules="irqbypass ccp kvm kvm_amd"
	[ -n "$hostfs" ] && modules="$modules virtio_pci 9pnet_virtio 9p"
	;;
arm64)
	deb_arch=arm64 qemu=qemu-system-aarch64 qemu_pkg=qemu-system-arm console=ttyAMA0
	modules="" # CONFIG_KVM=y in Debian's arm64 kernel
	[ -n "$hostfs" ] && die "arm64: --hostfs shares this machine's x86-64 programs, which an aarch64 machine cannot run"
	;;
*) die "unknown machine '$arch' (svm or arm64)" ;;
esac
command -v "$qemu" >/dev/null || die "$arch: $qemu is missing: install $qemu_pkg (scripts/install-deps.sh --emulation)"
for t in cpio objcopy apt-get apt-cache dpkg; do
	command -v $t >/dev/null || die "$arch: $t is missing: scripts/install-deps.sh --emulation installs it"
done

cache=${UF_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/unifaas/qemu}
mkdir -p "$cache" || die "cannot create the cache $cache"
cache=$(cd "$cache" && pwd)

# fetch PKG: unpacks Debian package PKG (name[:arch]) into $cache/PKG once
# and prints that directory (run in $(...): the lock is the subshell's, so
# of two runs wanting the same package at once, one fetches, one waits)
fetch() {
	local pkg=$1 d=$cache/${1//:/_} tmp
	exec 9>"$d.lock" && flock 9 || return 1
	if [ ! -f "$d/.complete" ]; then
		tmp=$(mktemp -d "$cache/.fetch.XXXXXX") || return 1
		echo "in-qemu: fetching $pkg (once; cached in $cache)" >&2
		# as root, apt warns that _apt cannot write here: harmless
		if ! (cd "$tmp" && apt-get download -qq "$pkg" 2>&1 | { grep -v '^W: Download is performed unsandboxed' >&2 || true; } &&
			ls "$tmp"/*.deb >/dev/null 2>&1); then
			rm -rf "$tmp"
			echo "in-qemu: $arch: apt-get download $pkg failed: is the package known (apt-get update; for :arm64, dpkg --add-architecture arm64 - scripts/install-deps.sh --emulation does both)?" >&2
			return 1
		fi
		rm -rf "$d"
		mkdir -p "$d" && dpkg -x "$tmp"/*.deb "$d" && touch "$d/.complete" || {
			rm -rf "$tmp" "$d"
			echo "in-qemu: $arch: dpkg -x of $pkg failed" >&2
			return 1
		}
		rm -rf "$tmp"
	fi
	echo "$d"
}

# kernel_pkg: the real package behind linux-image-ARCH (e.g.
# linux-image-6.1.0-57-amd64), from the archive; offline, the newest cached
# (apt-cache takes seconds: the answer is kept a day in $cache/kernel-ARCH)
kernel_pkg() {
	local meta=linux-image-$deb_arch p memo=$cache/kernel-$deb_arch
	[ "$deb_arch" = amd64 ] || meta=$meta:$deb_arch
	if [ -n "$(find "$memo" -mmin -1440 2>/dev/null)" ] && p=$(cat "$memo") && [ -n "$p" ]; then
		echo "$p"
		return 0
	fi
	p=$(apt-cache show --no-all-versions "$meta" 2>/dev/null | sed -n 's/^Depends: *\(linux-image-[^ ,]*\).*/\1/p' | head -1)
	[ -n "$p" ] && echo "$p" >"$memo"
	if [ -z "$p" ]; then
		p=$(cd "$cache" && ls -d linux-image-[0-9]*-"$deb_arch"* 2>/dev/null | sort -V | tail -1)
		p=${p//_/:}
		[ -n "$p" ] || {
			echo "in-qemu: $arch: apt knows no $meta and none is cached: run apt-get update (scripts/install-deps.sh --emulation)" >&2
			return 1
		}
		echo "in-qemu: $arch: $meta unknown to apt; using the cached $p" >&2
	fi
	[ "$deb_arch" = amd64 ] || case $p in *:*) ;; *) p=$p:$deb_arch ;; esac
	echo "$p"
}

kpkg=${UF_QEMU_KERNEL:-$(kernel_pkg)} || exit 125
kdir=$(fetch "$kpkg") || exit 125
bbpkg=busybox-static
[ "$deb_arch" = amd64 ] || bbpkg=$bbpkg:$deb_arch
bbdir=$(fetch "$bbpkg") || exit 125
kernel=$(ls "$kdir"/boot/vmlinuz-* 2>/dev/null | head -1)
[ -n "$kernel" ] || die "$arch: $kpkg has no boot/vmlinuz-*"
kver=${kernel##*/vmlinuz-}
[ -x "$bbdir/bin/busybox" ] || die "$arch: $bbpkg has no bin/busybox"

work=$(mktemp -d "${TMPDIR:-/tmp}/in-qemu.XXXXXX") || die "mktemp failed"
qpid=
cleanup() {
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt,uf,lib/modules} || die "cannot stage the initramfs in $work"
cp "$bbdir/bin/busybox" "$root/bin/busybox"

# the modules, dependencies first (the package has no modules.dep: the
# order comes from each module's .modinfo depends= line)
declare -A kopath done_mod
while IFS= read -r f; do
	n=${f##*/}
	n=${n%.ko}
	kopath[${n//-/_}]=$f
done < <(find "$kdir/lib/modules" -name '*.ko')
order=()
add_mod() {
	local m=${1//-/_} d
	[ -n "${done_mod[$m]:-}" ] && return 0
	[ -n "${kopath[$m]:-}" ] || die "$arch: module $m is not in $kpkg"
	done_mod[$m]=1
	for d in $(objcopy -O binary --only-section=.modinfo "${kopath[$m]}" /dev/stdout 2>/dev/null |
		tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '); do
		add_mod "$d"
	done
	cp "${kopath[$m]}" "$root/lib/modules/$m.ko"
	order+=("$m")
}
for m in $modules; do add_mod "$m"; done
printf '%s\n' "${order[@]}" >"$root/lib/modules/order"

cp -a "$dir/." "$root/uf/" || die "$arch: cannot copy $dir"
printf '%s\n' "$cmd" >"$root/cmd"
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
# what udev would add: bash's process substitution needs /dev/fd
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
for m in $(cat /lib/modules/order); do
	insmod /lib/modules/$m.ko || echo "in-qemu: insmod $m failed"
done
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
[ -e /dev/kvm ] || echo "in-qemu: no /dev/kvm in the emulated machine: $(dmesg | grep -i kvm | tail -3)"
cmd=$(cat /cmd)
if [ -f /hostfs ]; then
	mkdir -p /host
	mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose host /host ||
		echo "in-qemu: cannot mount the host's filesystem"
	for d in proc sys dev; do mount --rbind /$d /host/$d; done
	keep=$(cat /keep)
	[ -n "$keep" ] && mkdir -p /kept && mount --bind "/host$keep" /kept
	for d in tmp run var/tmp; do mount -t tmpfs tmp /host/$d; done
	[ -n "$keep" ] && mkdir -p "/host$keep" && mount --bind /kept "/host$keep"
	mkdir -p /host/tmp/uf
	mount --bind /uf /host/tmp/uf
	echo "@@UF-BEGIN $(cut -d' ' -f1 /proc/uptime)@@"
	HOME=/tmp PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb \
		UF_DIR=/tmp/uf chroot /host /bin/sh -c "cd /tmp/uf && $cmd" </dev/null 2>&1
	rc=$?
else
	echo "@@UF-BEGIN $(cut -d' ' -f1 /proc/uptime)@@"
	(cd /uf && HOME=/tmp UF_DIR=/uf sh -c "$cmd") </dev/null 2>&1
	rc=$?
fi
echo "@@UF-STATUS $rc $(cut -d' ' -f1 /proc/uptime)@@"
sync
poweroff -f
EOF
chmod +x "$root/init"
[ -n "$hostfs" ] && touch "$root/hostfs"
printf '%s\n' "$keep" >"$root/keep"
(cd "$root" && find . | cpio -o -H newc --quiet >"$work/initrd.cpio") || die "$arch: cpio of the initramfs failed"

mem=${UF_QEMU_MEM:-1024}
smp=${UF_QEMU_SMP:-1}
case $arch in
svm)
	margs=(-accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem")
	[ -n "$hostfs" ] && margs+=(-virtfs "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap")
	;;
arm64) margs=(-M virt,virtualization=on,gic-version=2 -cpu cortex-a72 -smp "$smp" -m "$mem") ;;
esac
log=$work/serial.log
tmo=${UF_QEMU_TIMEOUT:-600}
t0=${EPOCHREALTIME/./}
timeout -k 5 "$tmo" "$qemu" "${margs[@]}" -kernel "$kernel" -initrd "$work/initrd.cpio" \
	-append "console=$console loglevel=3 panic=-1 oops=panic rdinit=/init" \
	-nodefaults -nic none -display none -serial "file:$log" -monitor none -no-reboot </dev/null >"$work/qemu.out" 2>&1 &
qpid=$!
# print CMD's output as it comes: the lines between the two markers
touch "$log"
# (a shell loop: mawk would read ahead and print nothing until much later)
tail -n +1 -f --pid=$qpid "$log" 2>/dev/null | {
	p=
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		@@UF-STATUS\ *) break ;;
		@@UF-BEGIN\ *) p=1 ;;
		*) [ -n "$p" ] && printf '%s\n' "$line" ;;
		esac
	done
	cat >/dev/null # (until the machine is gone)
}
wait $qpid
qrc=$?
qpid=
us=$((${EPOCHREALTIME/./} - t0))
[ -n "${UF_QEMU_LOG:-}" ] && cp "$log" "$UF_QEMU_LOG"
all=$(printf '%d.%d s' $((us / 1000000)) $((us / 100000 % 10)))
st=$(tr -d '\r' <"$log" | sed -n 's/^@@UF-STATUS \([0-9]*\) \([0-9.]*\)@@.*/\1 \2/p' | tail -1)
begin=$(tr -d '\r' <"$log" | sed -n 's/^@@UF-BEGIN \([0-9.]*\)@@.*/\1/p' | head -1)
if [ -z "$st" ]; then
	if [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then
		echo "in-qemu: $arch: the machine did not finish within $tmo s (UF_QEMU_TIMEOUT); the serial log's end:" >&2
		tail -n 20 "$log" | tr -d '\r' >&2
		exit 124
	fi
	echo "in-qemu: $arch: no exit status from the machine ($qemu exited $qrc after $all): $(tail -5 "$work/qemu.out" | tr '\n' ' ')" >&2
	echo "in-qemu: the serial log's end:" >&2
	tail -n 20 "$log" | tr -d '\r' >&2
	exit 125
fi
rc=${st%% *}
echo "in-qemu: $arch: CMD exited with status $rc (kernel $kver; CMD started ${begin:-?} s after boot, ended at ${st#* } s; $all in all)" >&2
exit "$rc"
