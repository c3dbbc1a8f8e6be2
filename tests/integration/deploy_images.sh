#!/usr/bin/env bash
# Deploy checks each image exactly as the tender does (common/image.c, the same
# code): an image that could never run - not a unifaas image, another ABI, a
# writable and executable segment - is refused with the tender's own reason
# (status 65, like any bad manifest) and nothing is deployed.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"
trap plat_down EXIT

W="$UF_TMP/$UF_SUITE"
mkdir -p "$W"
good=$(build_guest "$UF_TOP/tests/guest/minimal.c" "$W/good.uf") || {
	fail build "tests/guest/minimal.c did not build"
	exit 0
}
cp /bin/ls "$W/ls.uf"
# another ABI: the note's version word + 1; W+X: the first PT_LOAD gets PF_W|PF_X
python3 - "$good" "$W" <<'PY'
import struct, sys
img = bytearray(open(sys.argv[1], 'rb').read())
i = img.find(b'unifaas\0')
abi = img[:]
v = struct.unpack_from('<I', abi, i + 8)[0]
struct.pack_into('<I', abi, i + 8, v + 1)
open(sys.argv[2] + '/abi.uf', 'wb').write(abi)
abi3 = img[:]  # an image built before ABI 4 (event records without source/attrs)
struct.pack_into('<I', abi3, i + 8, 3)
open(sys.argv[2] + '/abi3.uf', 'wb').write(abi3)
abi5 = img[:]  # an image built before ABI 6 (no uf_defer: its tender would misread a deferral)
struct.pack_into('<I', abi5, i + 8, 5)
open(sys.argv[2] + '/abi5.uf', 'wb').write(abi5)
abi6 = img[:]  # an image built before ABI 7 (hypercalls by port I/O, which its tender no longer opens)
struct.pack_into('<I', abi6, i + 8, 6)
open(sys.argv[2] + '/abi6.uf', 'wb').write(abi6)
wx = img[:]
phoff, = struct.unpack_from('<Q', wx, 0x20)
phnum, = struct.unpack_from('<H', wx, 0x38)
for k in range(phnum):
    o = phoff + 56 * k
    if struct.unpack_from('<I', wx, o)[0] == 1:  # PT_LOAD
        struct.pack_into('<I', wx, o + 4, 7)
        break
open(sys.argv[2] + '/wx.uf', 'wb').write(wx)
PY
chmod +x "$W"/*.uf
# what the tender says of each: deploy must say the same
for n in ls abi abi3 abi5 abi6 wx; do
	"$HVT" --event x "$W/$n.uf" </dev/null >/dev/null 2>"$W/$n.hvt"
done

if ! plat_up; then
	fail platform-up "$(tail -5 "$UF_TMP/$UF_SUITE.up.log")"
	exit 0
fi

# refused NAME IMAGE REASON_ERE: deploy of a one-function workflow running IMAGE
refused() {
	local n=$1 img=$2 re=$3
	local y="$W/$n.yaml"
	printf 'name: img-%s\nfunctions:\n  f:\n    image: %s\n    listen: in\n' "$n" "$img" >"$y"
	U deploy "$y" >"$W/$n.out" 2>"$W/$n.err"
	local rc=$? tender
	tender=$(sed -n "s|^uf-hvt: $img: ||p" "$W/$n.hvt")
	if [ $rc -ne 65 ]; then
		fail "deploy-refuses-$n" "status $rc, expected 65: $(cat "$W/$n.err")"
	elif ! grep -Eq "$re" "$W/$n.err"; then
		fail "deploy-refuses-$n" "no /$re/ in: $(cat "$W/$n.err")"
	elif [ -z "$tender" ] || ! grep -qF -- "$tender" "$W/$n.err"; then
		fail "deploy-refuses-$n" "not the tender's reason ('$tender'): $(cat "$W/$n.err")"
	elif U ls | grep -q "img-$n" || [ -e "$PLAT_STATE/images/img-$n" ] && [ -n "$(ls -A "$PLAT_STATE/images/img-$n")" ]; then
		fail "deploy-refuses-$n" "something was deployed: $(U ls) $(ls -A "$PLAT_STATE/images/img-$n")"
	else
		pass "deploy-refuses-$n"
	fi
}
refused ls "$W/ls.uf" 'functions\.f\.image: .*ls\.uf: .*(no unifaas ABI note|not a static executable)'
refused abi "$W/abi.uf" "functions\.f\.image: .*abi\.uf: image speaks unifaas ABI version [0-9]+, this tender speaks version"
refused abi3 "$W/abi3.uf" "functions\.f\.image: .*abi3\.uf: image speaks unifaas ABI version 3, this tender speaks version 7; rebuild the function with this unifaas"
refused abi5 "$W/abi5.uf" "functions\.f\.image: .*abi5\.uf: image speaks unifaas ABI version 5, this tender speaks version 7; rebuild the function with this unifaas"
refused abi6 "$W/abi6.uf" "functions\.f\.image: .*abi6\.uf: image speaks unifaas ABI version 6, this tender speaks version 7; rebuild the function with this unifaas"
refused wx "$W/wx.uf" 'functions\.f\.image: .*wx\.uf: segment [0-9]+ at 0x[0-9a-f]+ is both writable and executable \(W\^X\)'
# and a good image still deploys
printf 'name: img-good\nfunctions:\n  f:\n    image: %s\n    listen: in\n' "$good" >"$W/good.yaml"
U deploy "$W/good.yaml" >"$W/good.out" 2>&1 && pass deploy-good-image || fail deploy-good-image "$(cat "$W/good.out")"
U undeploy img-good --purge >/dev/null 2>&1
plat_down
finish
