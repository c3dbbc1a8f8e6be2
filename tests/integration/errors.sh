#!/usr/bin/env bash
# Bad inputs to the tools: every one is refused with a clear message and the
# right status (2 for usage errors and bad images), quickly, leaving nothing
# running and nothing changed.
. "$(dirname "$0")/../lib.sh"

img="$UF_TMP/$UF_SUITE-minimal.uf"
build_guest "$UF_TOP/tests/guest/minimal.c" "$img" >/dev/null || {
	fail build "tests/guest/minimal.c did not build"
	exit 0
}
pass build
# the tender's architecture (its ELF machine): the image checks are in its words
# (the emulated aarch64 board runs this suite too: tests/emulated/arm64_platform.sh)
case $(hvt_arch) in
aarch64) ARCH_HERE=aarch64 ARCH_OTHER=x86-64 EM_OTHER=62 BUILD_OTHER=x86_64 DEB_OTHER=amd64 ;;
*) ARCH_HERE=x86-64 ARCH_OTHER=aarch64 EM_OTHER=183 BUILD_OTHER=aarch64 DEB_OTHER=arm64 ;;
esac

# expect_err NAME STATUS ERE CMD... : CMD (bounded) must exit with STATUS and
# print a line matching ERE on stderr (no check for an empty ERE); stdout and
# stderr are kept in $UF_TMP/$UF_SUITE.NAME.{out,err}
expect_err() {
	local name=$1 want=$2 re=$3
	shift 3
	local out="$UF_TMP/$UF_SUITE.$name.out" err="$UF_TMP/$UF_SUITE.$name.err"
	timeout 20 "$@" </dev/null >"$out" 2>"$err"
	local rc=$?
	if [ $rc -ne "$want" ]; then
		fail "$name" "status $rc, expected $want; stderr: $(head -c 300 "$err" | tr '\n' ' ')"
	elif [ -n "$re" ] && ! grep -Eq -- "$re" "$err"; then
		fail "$name" "stderr does not match /$re/: $(head -c 300 "$err" | tr '\n' ' ')"
	elif ! no_stray "$UF_TMP/$UF_SUITE" >/dev/null; then
		fail "$name" "a process of this suite is still running"
	else
		pass "$name"
		return 0
	fi
	return 1
}

# --- the image argument -------------------------------------------------------------
expect_err no-image 2 '^uf-hvt: expected one IMAGE argument$' "$HVT"
grep -q '^usage: uf-hvt' "$UF_TMP/$UF_SUITE.no-image.err" && pass no-image-usage ||
	fail no-image-usage "no usage text on stderr"
expect_err two-images 2 '^uf-hvt: expected one IMAGE argument$' "$HVT" "$img" "$img"
expect_err missing-image 2 "^uf-hvt: $UF_TMP/nonexistent.uf: cannot open: No such file or directory$" \
	"$HVT" "$UF_TMP/nonexistent.uf"
expect_err directory-image 2 "^uf-hvt: $UF_TMP: not a regular file$" "$HVT" "$UF_TMP"
printf 'this is not an ELF file\n' >"$UF_TMP/text.uf"
expect_err text-image 2 "^uf-hvt: $UF_TMP/text.uf: not an ELF file$" "$HVT" "$UF_TMP/text.uf"
: >"$UF_TMP/empty.uf"
expect_err empty-image 2 "^uf-hvt: $UF_TMP/empty.uf: (not an ELF file|.*empty)" "$HVT" "$UF_TMP/empty.uf"
head -c $((5 << 20)) /dev/zero >"$UF_TMP/big.uf"
expect_err image-larger-than-memory 2 "^uf-hvt: $UF_TMP/big.uf: image of 5242880 bytes is larger than the memory budget$" \
	"$HVT" --mem 4M "$UF_TMP/big.uf"
# an ELF that is not a unifaas image: /bin/true is a PIE (ET_DYN) ...
expect_err host-binary 2 "^uf-hvt: /bin/true: (ELF type 3 is not a static executable|no unifaas ABI note)" "$HVT" /bin/true
# ... and a static ET_EXEC without the note
printf 'int main(void) { return 0; }\n' >"$UF_TMP/plain.c"
# (prebuilt where there is no compiler: UF_PREBUILT, the emulated board)
if { [ -n "${UF_PREBUILT:-}" ] && cp "$UF_PREBUILT/plain" "$UF_TMP/plain" 2>"$UF_TMP/plain.log"; } ||
	{ [ -z "${UF_PREBUILT:-}" ] && musl-gcc -static -no-pie -o "$UF_TMP/plain" "$UF_TMP/plain.c" 2>"$UF_TMP/plain.log"; }; then
	expect_err static-non-unifaas-elf 2 "^uf-hvt: $UF_TMP/plain: no unifaas ABI note \(.note.unifaas\): not a unifaas image; build it with 'unifaas build'$" \
		"$HVT" "$UF_TMP/plain"
else
	fail static-non-unifaas-elf "cannot build the static test binary: $(head -3 "$UF_TMP/plain.log")"
fi

# --- hostile or damaged images: copies of a good image with one field changed -----------
# patch NAME PYTHON-STATEMENTS: b is the image as a bytearray, note the offset of
# the .note.unifaas header, phoff the program header table's; helpers u16/u32/u64
patch() {
	python3 - "$img" "$UF_TMP/$1.uf" "$2" <<'PY'
import struct, sys
src, dst, code = sys.argv[1:4]
b = bytearray(open(src, 'rb').read())
pat = b'\x08\0\0\0\x18\0\0\0\x01\0\0\0unifaas\0'
assert b.count(pat) == 1, "the ABI note must occur exactly once"
note = b.find(pat)
phoff = struct.unpack_from('<Q', b, 32)[0]
def u16(o, v): struct.pack_into('<H', b, o, v)
def u32(o, v): struct.pack_into('<I', b, o, v)
def u64(o, v): struct.pack_into('<Q', b, o, v)
def vaddr_to_off(va):
    for i in range(struct.unpack_from('<H', b, 56)[0]):
        t, f, off, v, p, fs = struct.unpack_from('<IIQQQQ', b, phoff + 56 * i)
        if t == 1 and v <= va < v + fs:
            return off + va - v
    raise SystemExit("address not in the file")
exec(code)
open(dst, 'wb').write(b)
PY
}
bad_image() { # NAME ERE PATCH
	if patch "$1" "$3"; then
		expect_err "$1" 2 "^uf-hvt: $UF_TMP/$1.uf: ($2)" "$HVT" "$UF_TMP/$1.uf"
	else
		fail "$1" "could not patch the image"
	fi
}
bad_image abi-version 'image speaks unifaas ABI version 1, this tender speaks version 7; rebuild the function with this unifaas$' \
	'u32(note + 20, 1)'
# an image built for ABI 6 makes its hypercalls with OUTs to I/O ports, which
# this tender no longer opens: refused before it runs, not a #GP on its first call
bad_image abi-6-port-io 'image speaks unifaas ABI version 6, this tender speaks version 7; rebuild the function with this unifaas$' \
	'u32(note + 20, 6)'
bad_image abi-version-max 'image speaks unifaas ABI version 4294967295, this tender speaks version 7' \
	'u32(note + 20, 0xffffffff)'
bad_image note-name 'no unifaas ABI note' 'b[note + 12] = ord("U")'
bad_image elf32 "not an $ARCH_HERE little-endian ELF64 image\$" 'b[4] = 1'
bad_image big-endian "not an $ARCH_HERE little-endian ELF64 image\$" 'b[5] = 2'
# an image built for the other architecture (aarch64, a Raspberry Pi; or x86-64)
bad_image other-arch "image built for $ARCH_OTHER, but this machine runs $ARCH_HERE images; build the function for $ARCH_HERE \\('unifaas build' on this machine\\)\$" "u16(18, $EM_OTHER)"
bad_image other-machine "not an $ARCH_HERE little-endian ELF64 image \\(ELF machine 243\\)\$" 'u16(18, 243)'
bad_image elf-dyn 'ELF type 3 is not a static executable \(ET_EXEC\)' 'u16(16, 3)'
bad_image truncated-headers 'program header table is missing, truncated or has more than 64 entries$' 'del b[200:]'
bad_image truncated-body 'note segment [0-9]+ lies outside the file$|segment [0-9]+: file contents lie outside the file$' \
	'del b[4096:]'
bad_image no-phdrs 'program header table is missing' 'u16(56, 0)'
bad_image too-many-phdrs 'program header table is missing, truncated or has more than 64 entries$' 'u16(56, 65)'
bad_image phoff-beyond-file 'program header table is missing' 'u64(32, 1 << 40)'
bad_image note-beyond-file 'note segment 4 lies outside the file$' 'u64(phoff + 4 * 56 + 8, 1 << 40)'
bad_image segment-wx 'segment 0 at 0x100000 is both writable and executable \(W\^X\)$' 'u32(phoff + 4, 7)'
bad_image segment-low 'segment 0 at 0x1000 is below 0x100000 or overlaps the previous one$' 'u64(phoff + 16, 0x1000)'
bad_image segment-unaligned 'segment 0 at 0x100010 is not page-aligned$' 'u64(phoff + 16, 0x100010)'
bad_image segment-huge 'segment 2 ends at 0x[0-9a-f]+, beyond the 8 MiB memory budget$' 'u64(phoff + 2 * 56 + 40, 1 << 30)'
bad_image segment-wraps 'segment 2 at 0x[0-9a-f]+ is below 0x100000 or overlaps' 'u64(phoff + 2 * 56 + 40, (1 << 64) - 0x1000)'
bad_image segment-filesz 'segment 1: file contents lie outside the file$' 'u64(phoff + 56 + 32, 1 << 40)'
bad_image entry-not-text 'entry point 0x2000 is not in an executable segment$' 'u64(24, 0x2000)'
if [ $ARCH_HERE = aarch64 ]; then # the note's addresses: VBAR_EL1's vectors, no table (common/image.c)
	bad_image vectors-not-text 'exception vectors 0x0 named by the note are not 2 KiB of an executable segment, 2 KiB-aligned$' \
		'u64(note + 28, 0)'
	bad_image vectors-unaligned 'exception vectors 0x[0-9a-f]+ named by the note are not 2 KiB of an executable segment, 2 KiB-aligned$' \
		'u64(note + 28, struct.unpack_from("<Q", b, note + 28)[0] + 8)'
	bad_image exception-table 'the note names an exception table \(0x100000\), which aarch64 images do not have$' \
		'u64(note + 36, 0x100000)'
else
	bad_image syscall-entry 'syscall entry 0x0 named by the note is not in an executable segment$' 'u64(note + 28, 0)'
	bad_image exception-table 'exception table 0x100000 named by the note is not in read-only data$' 'u64(note + 36, 0x100000)'
	bad_image exception-handler 'exception handler 3 at 0x2000 is not in an executable segment$' \
		'u64(vaddr_to_off(struct.unpack_from("<Q", b, note + 36)[0]) + 3 * 8, 0x2000)'
fi

# --- options ------------------------------------------------------------------------
for m in 3M 5M 2G abc 0 -2M 8X ''; do
	expect_err "mem-${m:-empty}" 2 "^uf-hvt: --mem '$m': must be a multiple of 2M between 4M and 1G$" "$HVT" --mem "$m" "$img"
done
# the limits themselves are accepted
expect_err mem-4M 0 '' "$HVT" --mem 4M "$img" && grep -qx 'minimal ok' "$UF_TMP/$UF_SUITE.mem-4M.err" &&
	pass mem-4M-runs || fail mem-4M-runs "$(cat "$UF_TMP/$UF_SUITE.mem-4M.err")"
expect_err mem-1G 0 '' "$HVT" --mem 1G "$img"
for t in abc -5 4294967296 1.5 ''; do
	expect_err "timeout-${t:-empty}" 2 "^uf-hvt: --timeout-ms '$t': not a number of milliseconds$" \
		"$HVT" --timeout-ms "$t" "$img"
done
expect_err idle-bad 2 "^uf-hvt: --idle-ms 'x': not a number of milliseconds$" "$HVT" --idle-ms x "$img"
for n in 0 257 -1 x; do
	expect_err "batch-$n" 2 "^uf-hvt: --batch '$n': must be 1..256$" "$HVT" --batch "$n" "$img"
done
expect_err env-no-equals 2 "^uf-hvt: --env 'FOO': expected KEY=VALUE$" "$HVT" --env FOO "$img"
expect_err env-no-key 2 "^uf-hvt: --env '=x': expected KEY=VALUE$" "$HVT" --env =x "$img"
expect_err stack-unaligned 2 "^uf-hvt: --stack '5000': must be a multiple of 4K between 16K and 64M$" \
	"$HVT" --stack 5000 "$img"
expect_err stack-over-half 2 '^uf-hvt: --stack .*must be at most half of --mem' "$HVT" --stack 8M "$img"
expect_err queue-bad 2 "^uf-hvt: --queue 'a/b': must be 1..128 of \[A-Za-z0-9._-\]$" "$HVT" --queue a/b "$img"
expect_err unknown-option 2 "unknown option '--frobnicate'" "$HVT" --frobnicate "$img"
expect_err missing-option-value 2 "option '--mem' needs a value" "$HVT" --mem
expect_err events-missing 2 "^uf-hvt: events file $UF_TMP/nonexistent.events: No such file or directory$" \
	"$HVT" --events "$UF_TMP/nonexistent.events" "$img"
expect_err help 0 '' "$HVT" --help && grep -q '^usage: uf-hvt' "$UF_TMP/$UF_SUITE.help.out" &&
	pass help-on-stdout || fail help-on-stdout "no usage on stdout"

# --- --kv files: refused with file:line:col, and left exactly as they were ---------------
kv_bad() { # NAME CONTENT ERE
	local f="$UF_TMP/$UF_SUITE.$1.json"
	printf '%s' "$2" >"$f"
	cp "$f" "$f.orig"
	expect_err "$1" 2 "^uf-hvt: kv file $f($3)" "$HVT" --kv "$f" "$img" &&
		{ cmp -s "$f" "$f.orig" && pass "$1-unchanged" || fail "$1-unchanged" "the file was rewritten: $(head -c 100 "$f")"; }
}
kv_bad kv-syntax $'{\n  "a": "1",\n  "b": \n}\n' ":[34]:[0-9]+: "
kv_bad kv-truncated '{"a": "1"' ':1:[0-9]+: '
# jsmn tokenises leniently; the tender checks what lies between the tokens
kv_bad kv-trailing-comma '{"a": "x",}' ':1:10: expected "key": value pairs separated by commas'
kv_bad kv-leading-comma '{,"a": "x"}' ':1:2: expected "key": value pairs'
kv_bad kv-double-comma '{"a": "x",, "b": "y"}' ':1:10: expected "key": value pairs'
kv_bad kv-missing-colon '{"a" "b"}' ':1:6: '
kv_bad kv-raw-newline $'{"a": "x\ny"}' ':1:8: invalid string'
kv_bad kv-leading-zero '{"a": 007}' ": key 'a': value must be a string, an integer or "
kv_bad kv-trailing-text '{"a": "b"} x' ':1:12: '
kv_bad kv-duplicate '{"a": "1", "a": "2"}' ':1:[0-9]+: duplicate object key'
kv_bad kv-array '[1, 2]' ': expected a JSON object of string values$'
kv_bad kv-string '"just a string"' ': expected a JSON object of string values$|:1:[0-9]+: '
kv_bad kv-nested '{"a": {"b": "c"}}' ": key 'a': value must be a string, an integer or "
kv_bad kv-real '{"a": 1.5}' ": key 'a': value must be a string, an integer or "
kv_bad kv-empty-key '{"": "x"}' ":1:[0-9]+: key is not 1..512 bytes of UTF-8 text without NUL"
# a unit that cannot start does not create the --kv file
expect_err kv-not-created-on-failed-start 2 "^uf-hvt: $UF_TMP/nonexistent.uf: cannot open" \
	"$HVT" --kv "$UF_TMP/$UF_SUITE.new-kv.json" "$UF_TMP/nonexistent.uf" &&
	{ [ ! -e "$UF_TMP/$UF_SUITE.new-kv.json" ] && pass kv-not-created-on-failed-start-no-file ||
		fail kv-not-created-on-failed-start-no-file "the kv file was created"; }
expect_err kv-unopenable 2 "^uf-hvt: kv file $UF_TMP/no/such/dir.json: cannot prepare its replacement in $UF_TMP/no/such: No such file or directory$" \
	"$HVT" --kv "$UF_TMP/no/such/dir.json" "$img"

# --- unifaas ------------------------------------------------------------------------
expect_err unifaas-no-command 2 '^usage: unifaas COMMAND' "$UNIFAAS"
expect_err unifaas-unknown-command 2 "^unifaas: unknown command 'frobnicate'$" "$UNIFAAS" frobnicate
expect_err unifaas-version 0 '' "$UNIFAAS" version && grep -q '(ABI 7)' "$UF_TMP/$UF_SUITE.unifaas-version.out" &&
	pass unifaas-version-abi || fail unifaas-version-abi "$(cat "$UF_TMP/$UF_SUITE.unifaas-version.out")"
expect_err build-missing-file 2 "^unifaas: build: $UF_TMP/nonexistent.c: No such file or directory$" \
	"$UNIFAAS" build "$UF_TMP/nonexistent.c" -o "$UF_TMP/never.uf"
[ ! -e "$UF_TMP/never.uf" ] && pass build-missing-file-no-output || fail build-missing-file-no-output "an image was written"
expect_err build-no-sources 2 '^unifaas: build: no source files given$' "$UNIFAAS" build
expect_err build-o-without-name 2 '^unifaas: build: -o needs a file name$' "$UNIFAAS" build "$UF_TOP/tests/guest/minimal.c" -o
# --arch: another machine's image needs its cross compiler and runtime, each named when missing
expect_err build-arch-unknown 2 "^unifaas: build: --arch sparc: not an architecture unifaas builds for \\(x86_64 or aarch64\\)$" \
	"$UNIFAAS" build --arch sparc "$UF_TOP/tests/guest/minimal.c" -o "$UF_TMP/never.uf"
expect_err build-arch-no-cross-compiler 2 "^unifaas: build: --arch $BUILD_OTHER: the cross compiler $BUILD_OTHER-linux-musl-gcc is not installed: install it with scripts/install-deps.sh --$DEB_OTHER " \
	env PATH=/nonexistent "$UNIFAAS" build --arch $BUILD_OTHER "$UF_TOP/tests/guest/minimal.c" -o "$UF_TMP/never.uf"
if command -v aarch64-linux-musl-gcc >/dev/null; then
	expect_err build-arch-no-runtime 2 "^unifaas: build: --arch aarch64: the aarch64 runtime is not at $UF_TMP/norun/libuf.a: build it with 'make runtime-aarch64' " \
		env UNIFAAS_LIBDIR="$UF_TMP/norun" "$UNIFAAS" build --arch aarch64 "$UF_TOP/tests/guest/minimal.c" -o "$UF_TMP/never.uf"
	# with the runtime of `make ARCH=aarch64` (where it was built): an aarch64
	# image, which this machine's tender refuses by its architecture
	a64=$UF_TOP/build-aarch64/lib/unifaas
	if [ -f "$a64/libuf.a" ] &&
		expect_err build-arch-aarch64 0 '' env UNIFAAS_LIBDIR="$a64" "$UNIFAAS" build --arch aarch64 "$UF_TOP/functions/hello.c" -o "$UF_TMP/hello-a64.uf"; then
		expect_err build-arch-aarch64-refused 2 "^uf-hvt: $UF_TMP/hello-a64.uf: image built for aarch64, but this machine runs x86-64 images" \
			"$HVT" "$UF_TMP/hello-a64.uf"
	fi
fi
# -o naming a source would replace the user's C file with the image: refused, source intact
cp "$UF_TOP/tests/guest/minimal.c" "$UF_TMP/mine.c"
expect_err build-output-is-source 2 "^unifaas: build: -o $UF_TMP/mine.c is the source $UF_TMP/mine.c: the image would replace it; name the image NAME.uf$" \
	"$UNIFAAS" build "$UF_TMP/mine.c" -o "$UF_TMP/mine.c"
cmp -s "$UF_TMP/mine.c" "$UF_TOP/tests/guest/minimal.c" && pass build-output-is-source-kept ||
	fail build-output-is-source-kept "the source was overwritten"
(cd "$UF_TMP" && expect_err build-output-is-source-other-path 2 "^unifaas: build: -o ./mine.c is the source mine.c: " \
	"$UNIFAAS" build mine.c -o ./mine.c)
# a file that is not a source gcc would take for linker input ("linker input
# file unused", "cannot find ...o"): named as such before anything runs
printf 'junk\n' >"$UF_TMP/notes.txt"
expect_err build-not-a-source 2 "^unifaas: build: $UF_TMP/notes.txt: not a source unifaas build takes \(C \.c, assembler \.S or \.s, objects \.o, archives \.a\)$" \
	"$UNIFAAS" build "$UF_TMP/notes.txt" -o "$UF_TMP/notes.uf"
# what the compiler and the linker say (a machine that builds functions: not
# the emulated board, whose functions are built on x86-64, UF_PREBUILT)
if [ -z "${UF_PREBUILT:-}" ]; then
	printf '#include <unifaas.h>\nint uf_handle(uf_ctx *c, const uf_event *e) {\n\treturn 0\n}\n' >"$UF_TMP/syntax.c"
	if expect_err build-syntax-error 1 "^unifaas: build: compiling $UF_TMP/syntax.c failed$" \
		"$UNIFAAS" build "$UF_TMP/syntax.c" -o "$UF_TMP/syntax.uf"; then
		# the compiler's own diagnostic, with file and line, reaches the user
		grep -Eq "^$UF_TMP/syntax.c:3:[0-9]+: error: expected .*;" "$UF_TMP/$UF_SUITE.build-syntax-error.err" &&
			pass build-syntax-error-diagnostic || fail build-syntax-error-diagnostic "$(head -5 "$UF_TMP/$UF_SUITE.build-syntax-error.err")"
		[ ! -e "$UF_TMP/syntax.uf" ] && pass build-syntax-error-no-output || fail build-syntax-error-no-output "an image was written"
	fi
	printf '#include <stdio.h>\nint helper(void) { return 1; }\n' >"$UF_TMP/nohandler.c"
	if expect_err build-no-handler 1 "^unifaas: build: $UF_TMP/nohandler.c: no uf_handle and no main: define int uf_handle" \
		"$UNIFAAS" build "$UF_TMP/nohandler.c" -o "$UF_TMP/nohandler.uf"; then
		! grep -q 'undefined reference' "$UF_TMP/$UF_SUITE.build-no-handler.err" && pass build-no-handler-no-linker-noise ||
			fail build-no-handler-no-linker-noise "$(head -3 "$UF_TMP/$UF_SUITE.build-no-handler.err")"
	fi
	# a failed build names its stage and leaves the previous image as it was, and
	# no temporary file beside it
	mkdir -p "$UF_TMP/keep"
	"$UNIFAAS" build "$UF_TOP/tests/guest/minimal.c" -o "$UF_TMP/keep/f.uf" >/dev/null 2>&1
	cp "$UF_TMP/keep/f.uf" "$UF_TMP/good.uf"
	printf '#include <unifaas.h>\nint missing(void);\nint uf_handle(uf_ctx *c, const uf_event *e) { (void)c; (void)e; return missing(); }\n' \
		>"$UF_TMP/linkerr.c"
	if expect_err build-link-error 1 "^unifaas: build: linking $UF_TMP/keep/f.uf failed$" \
		"$UNIFAAS" build "$UF_TMP/linkerr.c" -o "$UF_TMP/keep/f.uf"; then
		grep -q "undefined reference to .missing" "$UF_TMP/$UF_SUITE.build-link-error.err" && pass build-link-error-diagnostic ||
			fail build-link-error-diagnostic "$(head -3 "$UF_TMP/$UF_SUITE.build-link-error.err")"
		! grep -q 'compiling' "$UF_TMP/$UF_SUITE.build-link-error.err" && pass build-link-error-not-compile ||
			fail build-link-error-not-compile "a link error is called a compile error"
	fi
	cmp -s "$UF_TMP/keep/f.uf" "$UF_TMP/good.uf" && pass build-link-error-keeps-image ||
		fail build-link-error-keeps-image "the previous image was removed or changed"
	expect_err build-compile-error-keeps 1 "^unifaas: build: compiling $UF_TMP/syntax.c failed$" \
		"$UNIFAAS" build "$UF_TMP/syntax.c" -o "$UF_TMP/keep/f.uf"
	cmp -s "$UF_TMP/keep/f.uf" "$UF_TMP/good.uf" && pass build-compile-error-keeps-image ||
		fail build-compile-error-keeps-image "the previous image was removed or changed"
	[ "$(ls -A "$UF_TMP/keep")" = f.uf ] && pass build-no-temporary-left || fail build-no-temporary-left "$(ls -A "$UF_TMP/keep" | tr '\n' ' ')"
	"$UNIFAAS" build "$UF_TOP/tests/guest/minimal.c" -o "$UF_TMP/keep/f.uf" >/dev/null 2>&1 && [ -x "$UF_TMP/keep/f.uf" ] &&
		[ "$(ls -A "$UF_TMP/keep")" = f.uf ] && pass build-replaces-image || fail build-replaces-image "$(ls -lA "$UF_TMP/keep")"
	# unifaas.h brings what its documented error codes need
	printf '#include <unifaas.h>\nint uf_handle(uf_ctx *c, const uf_event *e) { (void)e; return uf_push(c, "q", "x", 1) == -EPERM; }\n' \
		>"$UF_TMP/errnos.c"
	expect_err build-errno-codes 0 '' "$UNIFAAS" build "$UF_TMP/errnos.c" -Wall -Werror -o "$UF_TMP/errnos.uf"
else
	skip build-compile "no compiler on this machine (UF_PREBUILT: its functions are cross-built elsewhere)"
fi
expect_err run-missing-image 2 "^uf-hvt: $UF_TMP/nonexistent.uf: cannot open: No such file or directory$" \
	"$UNIFAAS" run "$UF_TMP/nonexistent.uf"
expect_err run-bad-option 2 "^uf-hvt: --mem '3M': must be a multiple of 2M" "$UNIFAAS" run --mem 3M "$img"

no_stray "$UF_TMP/$UF_SUITE" >/dev/null && pass no-stray-processes ||
	fail no-stray-processes "$(pgrep -af -- "$UF_TMP/$UF_SUITE")"
finish
