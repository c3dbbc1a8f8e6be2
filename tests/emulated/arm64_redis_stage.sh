#!/usr/bin/env bash
# tests/emulated/arm64_redis_stage.sh DIR - puts Debian's arm64 redis-server
# and redis-cli, with every shared library they load and the dynamic
# loader, into DIR/redis/, for the Redis-backed batch that
# tests/emulated/arm64_rig.sh runs on the emulated aarch64 board (which has
# busybox only).  The packages are fetched once with `apt-get download`
# (dpkg's arm64 architecture: scripts/install-deps.sh --arm64) and unpacked
# with `dpkg -x`, never installed, into $UF_QEMU_CACHE/redis-arm64 (as
# scripts/in-qemu.sh does with its kernels); glibc, libssl, libzstd,
# libstdc++ and libatomic come from the arm64 packages the cross build
# installed.  On the board: lib/ld-linux-aarch64.so.1 --library-path lib
# redis-server ... (redis-server is redis-check-rdb, which serves when its
# name says redis-server, as Debian's symlink does).
set -uo pipefail
dir=${1:?usage: arm64_redis_stage.sh DIR}
cache=${UF_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/unifaas/qemu}/redis-arm64
pkgs="redis-tools:arm64 libjemalloc2:arm64 liblzf1:arm64 libsystemd0:arm64 libcap2:arm64 libgcrypt20:arm64 liblz4-1:arm64 liblzma5:arm64 libgpg-error0:arm64"
die() {
	echo "arm64_redis_stage.sh: $*" >&2
	exit 1
}
if [ ! -f "$cache/.complete" ]; then
	rm -rf "$cache" && mkdir -p "$cache/debs" || die "cannot create $cache"
	echo "arm64_redis_stage.sh: fetching $pkgs (once; cached in $cache)" >&2
	# shellcheck disable=SC2086 # the package list, word by word
	(cd "$cache/debs" && apt-get download -qq $pkgs 2>&1 | { grep -v '^W: Download is performed unsandboxed' >&2 || true; }) &&
		ls "$cache"/debs/redis-tools_*.deb >/dev/null 2>&1 ||
		die "apt-get download of the arm64 Redis packages failed: is dpkg's arm64 architecture added and apt updated (scripts/install-deps.sh --arm64)?"
	for d in "$cache"/debs/*.deb; do dpkg -x "$d" "$cache/root" || die "dpkg -x $d failed"; done
	touch "$cache/.complete"
fi
out=$dir/redis
rm -rf "$out" && mkdir -p "$out/lib" || die "cannot create $out"
cp "$cache/root/usr/bin/redis-check-rdb" "$out/redis-server" && cp "$cache/root/usr/bin/redis-cli" "$out/" ||
	die "the redis-tools package has no redis-check-rdb or redis-cli"
cp -L "$cache"/root/usr/lib/aarch64-linux-gnu/*.so.* "$cache"/root/lib/aarch64-linux-gnu/*.so.* "$out/lib/" 2>/dev/null
for l in ld-linux-aarch64.so.1 libc.so.6 libm.so.6 libssl.so.3 libcrypto.so.3 libzstd.so.1; do
	cp -L "/lib/aarch64-linux-gnu/$l" "$out/lib/" || die "/lib/aarch64-linux-gnu/$l is missing (scripts/install-deps.sh --arm64)"
done
for l in libstdc++.so.6 libgcc_s.so.1 libatomic.so.1; do
	cp -L "/usr/aarch64-linux-gnu/lib/$l" "$out/lib/" || die "/usr/aarch64-linux-gnu/lib/$l is missing (gcc-aarch64-linux-gnu)"
done
