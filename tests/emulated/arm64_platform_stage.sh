#!/usr/bin/env bash
# tests/emulated/arm64_platform_stage.sh DIR SUITE... - stages, in DIR, the
# whole platform for the emulated aarch64 board (`make test-arm64-platform`,
# tests/emulated/arm64_platform.sh runs there): the board has busybox only.
#
#   DIR/sys/  Debian's arm64 userland the platform and its tests need:
#             redis-server and redis-cli, mosquitto and mosquitto_pub, bash,
#             curl and python3 (the suites' tools), unpacked from Debian's
#             arm64 packages (`apt-get download`, `dpkg -x`, never
#             installed; fetched once into $UF_QEMU_CACHE/platform-arm64),
#             and in DIR/sys/lib every shared library they and unifaasd
#             load (the ELF NEEDED closure, from those packages or from the
#             :arm64 libraries the cross build installed) with the dynamic
#             loader.  On the board: /lib/ld-linux-aarch64.so.1 points there
#             and LD_LIBRARY_PATH=DIR/sys/lib.
#   DIR/top/  a tree laid out like the repository (UF_TOP): tests/lib.sh,
#             tests/platform/, the SUITEs from tests/integration/, workflows/
#             and build/ holding the aarch64 build (build-aarch64/: bin/,
#             lib/unifaas/unifaas-api, functions/), so that the suites run
#             unchanged with UF_BUILD=build.  The guests the suites build with
#             build_guest (tests/*/*.c, functions/*.c) are built here with
#             `unifaas build --arch aarch64` into top/prebuilt/ (UF_PREBUILT:
#             the board has no compiler).
#   DIR/arm64_platform.sh  the script the board runs.
set -uo pipefail
dir=${1:?usage: arm64_platform_stage.sh DIR SUITE...}
shift
top_src=$(cd "$(dirname "$0")/../.." && pwd)
cache=${UF_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/unifaas/qemu}/platform-arm64
# what the platform runs (redis, mosquitto) and what the suites call (bash,
# curl, python3, and coreutils and procps: GNU date +%N, pgrep -f with an
# extended regular expression, ahead of busybox)
pkgs="redis-tools libjemalloc2 liblzf1 mosquitto mosquitto-clients libmosquitto1 libcjson1 libdlt2 libwebsockets17 libwrap0 libev4 libuv1
	bash curl python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libexpat1 libffi8
	coreutils procps libproc2-0 libncursesw6 libacl1 libattr1 libgmp10 libselinux1 libpcre2-8-0
	libtinfo6 libsystemd0 libcap2 libgcrypt20 libgpg-error0 liblz4-1 liblzma5 libbz2-1.0 libuuid1"
die() {
	echo "arm64_platform_stage.sh: $*" >&2
	exit 1
}
mkdir -p "${cache%/*}" && exec 9>"$cache.lock" || die "cannot create $cache.lock"
flock 9
if [ ! -f "$cache/.complete" ] || [ "$(cat "$cache/.complete")" != "$(echo $pkgs)" ]; then
	rm -rf "$cache" && mkdir -p "$cache/debs" || die "cannot create $cache"
	list=""
	for p in $pkgs; do list="$list $p:arm64"; done
	echo "arm64_platform_stage.sh: fetching$list (once; cached in $cache)" >&2
	# shellcheck disable=SC2086 # the package list, word by word
	(cd "$cache/debs" && apt-get download -qq $list 2>&1 | { grep -v '^W: Download is performed unsandboxed' >&2 || true; }) &&
		ls "$cache"/debs/mosquitto_*.deb >/dev/null 2>&1 ||
		die "apt-get download of the arm64 packages failed: is dpkg's arm64 architecture added and apt updated (scripts/install-deps.sh --arm64)?"
	for d in "$cache"/debs/*.deb; do dpkg -x "$d" "$cache/root" || die "dpkg -x $d failed"; done
	echo $pkgs >"$cache/.complete"
fi
flock -u 9

rm -rf "$dir" && mkdir -p "$dir/sys/lib" "$dir/top/tests/integration" "$dir/top/build" "$dir/top/prebuilt" || die "cannot create $dir"
cp -a "$cache/root/." "$dir/sys/" || die "cannot copy $cache/root"
rm -rf "$dir/sys/usr/share/doc" "$dir/sys/usr/share/man" "$dir/sys/usr/share/locale" "$dir/sys/usr/lib/python3.11/test" "$dir/sys/etc/init.d"
# python3's modules no test imports, whose libraries are not staged
rm -f "$dir"/sys/usr/lib/python3.11/lib-dynload/{_sqlite3,_curses,_curses_panel,readline,_dbm,_gdbm,_tkinter}.*.so
# Debian's redis-server package is one symlink: redis-check-rdb serves when
# its name says redis-server (and `unifaas up` knows it by that comm)
ln -sf redis-check-rdb "$dir/sys/usr/bin/redis-server"
ln -sf python3.11 "$dir/sys/usr/bin/python3"

# the shared libraries: every NEEDED of every ELF file staged, transitively
search="$dir/sys/usr/lib/aarch64-linux-gnu $dir/sys/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu /lib/aarch64-linux-gnu /usr/aarch64-linux-gnu/lib"
declare -A have
needed() { aarch64-linux-gnu-readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
todo=()
while IFS= read -r f; do
	case $(head -c 4 "$f" 2>/dev/null | od -An -c | tr -d ' ') in 177ELF) todo+=("$f") ;; esac
done < <(find "$dir/sys" -type f \( -perm -u+x -o -name '*.so*' \) ! -path "$dir/sys/lib/*"; echo "$top_src/build-aarch64/bin/unifaasd"; echo "$top_src/build-aarch64/lib/unifaas/unifaas-api")
missing=""
while [ ${#todo[@]} -gt 0 ]; do
	f=${todo[0]}
	todo=("${todo[@]:1}")
	for l in $(needed "$f"); do
		[ -n "${have[$l]:-}" ] && continue
		have[$l]=1
		src=""
		for s in $search; do
			[ -e "$s/$l" ] && src=$s/$l && break
		done
		[ -n "$src" ] || { missing="$missing $l"; continue; }
		cp -L "$src" "$dir/sys/lib/$l" && todo+=("$dir/sys/lib/$l")
	done
done
[ -z "$missing" ] || die "no arm64 build of$missing among the staged packages or /usr/lib/aarch64-linux-gnu: add its package to \$pkgs"
cp -L /lib/aarch64-linux-gnu/ld-linux-aarch64.so.1 "$dir/sys/lib/" ||
	die "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1 is missing (scripts/install-deps.sh --arm64)"

# the repository's tree, with the aarch64 build as build/
b=$top_src/build-aarch64
for f in bin/unifaas bin/unifaasd bin/uf-hvt lib/unifaas/unifaas-api; do
	[ -x "$b/$f" ] || die "$b/$f is missing (make ARCH=aarch64)"
done
mkdir -p "$dir/top/build/lib/unifaas" && cp -a "$b/bin" "$b/functions" "$dir/top/build/" &&
	cp "$b/lib/unifaas/unifaas-api" "$dir/top/build/lib/unifaas/" &&
	cp -a "$top_src/workflows" "$dir/top/" && cp "$top_src/tests/lib.sh" "$dir/top/tests/" &&
	mkdir -p "$dir/top/functions" && cp -a "$top_src/functions/testdata" "$dir/top/functions/" &&
	cp -a "$top_src/tests/platform" "$top_src/tests/guest" "$dir/top/tests/" || die "cannot copy the tree into $dir/top"
# a static aarch64 program that is not a unifaas image (errors.sh's static-non-unifaas-elf)
printf 'int main(void) { return 0; }\n' >"$dir/plain.c" &&
	aarch64-linux-musl-gcc -static -no-pie -o "$dir/top/prebuilt/plain" "$dir/plain.c" && rm "$dir/plain.c" ||
	die "aarch64-linux-musl-gcc cannot build a static program (scripts/install-deps.sh --arm64)"
for s in "$@"; do
	cp "$top_src/tests/integration/$s.sh" "$dir/top/tests/integration/" || die "no suite tests/integration/$s.sh"
	# the guests the suite builds, built here for aarch64
	for g in $(sed -nE 's#.*build_guest "\$UF_TOP/((tests/[a-z]*|functions)/[a-z_0-9]*\.c)".*#\1#p' "$top_src/tests/integration/$s.sh" | sort -u); do
		o=$dir/top/prebuilt/$(basename "$g" .c).uf
		[ -f "$o" ] && continue
		UNIFAAS_LIBDIR="$b/lib/unifaas" "$top_src/build/bin/unifaas" build --arch aarch64 "$top_src/$g" -o "$o" >"$dir/build.log" 2>&1 ||
			die "unifaas build --arch aarch64 $g failed: $(tail -3 "$dir/build.log")"
	done
done
# the fixtures some suites read beside the tree (ingress.sh's CloudEvents)
for t in "$top_src/../shared/testdata" /work/shared/testdata; do
	[ -d "$t/cloudevents" ] || continue
	mkdir -p "$dir/shared/testdata" && cp -a "$t/cloudevents" "$dir/shared/testdata/" || die "cannot copy $t/cloudevents"
	break
done
cp "$top_src/tests/emulated/arm64_platform.sh" "$dir/" || die "cannot copy arm64_platform.sh"
echo "arm64_platform_stage.sh: $(du -sh "$dir" | cut -f1) staged in $dir" >&2
