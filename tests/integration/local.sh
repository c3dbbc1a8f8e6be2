#!/usr/bin/env bash
# The local commands: `unifaas` is a small front (cli/front.c) that serves
# build, run, new, help and version without the API half (lib/unifaas/
# unifaas-api, which loads libcurl); and `unifaas new NAME` writes a function
# and manifest that build, deploy and handle a pushed event as they are.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"
trap plat_down EXIT

W="$UF_TMP/$UF_SUITE"
mkdir -p "$W"

# --- the front needs nothing of the API half ------------------------------------
# A copy of the front alone in BIN/, with the runtime but no unifaas-api beside
# it: the local commands work; an API command says what is missing.
mkdir -p "$W/tree/bin" "$W/tree/lib/unifaas"
cp "$UNIFAAS" "$HVT" "$W/tree/bin/"
cp -r "$UF_TOP/$UF_BUILD/lib/unifaas/include" "$UF_TOP/$UF_BUILD/lib/unifaas/libuf.a" \
	"$UF_TOP/$UF_BUILD/lib/unifaas/uf.ld" "$W/tree/lib/unifaas/"
F="$W/tree/bin/unifaas"
"$F" --version | grep -Eq '^unifaas [0-9.]+ \(ABI [0-9]+\)$' && pass front-version || fail front-version "$("$F" --version 2>&1)"
"$F" --help | grep -q '^  new NAME' && "$F" help deploy | grep -q '^usage: unifaas deploy' &&
	pass front-help || fail front-help "$("$F" help deploy 2>&1 | head -3)"
hello=$(build_guest "$UF_TOP/functions/hello.c" "$W/hello.uf")
out=$("$F" run --event x "$hello" 2>&1 </dev/null)
[ $? -eq 0 ] && [ "$out" = 'Hello from a unifaas unikernel!' ] && pass front-run || fail front-run "$out"
(cd "$W" && "$F" new alone >/dev/null && "$F" build alone/alone.c) && [ -s "$W/alone/alone.uf" ] &&
	pass front-new-build || fail front-new-build "new or build failed without the API half"
"$F" ps >/dev/null 2>"$W/ps.err"
rc=$?
[ $rc -eq 1 ] && grep -q "^unifaas: cannot start $W/tree/bin/../lib/unifaas/unifaas-api: No such file" "$W/ps.err" &&
	pass front-api-missing || fail front-api-missing "status $rc: $(cat "$W/ps.err")"
# and the front links neither the HTTP client nor the API's JSON library (the
# plain build links nothing at all; the ASan one hiredis, for the tender)
if readelf -d "$UNIFAAS" 2>/dev/null | grep -E 'NEEDED.*(curl|jansson)'; then
	fail front-no-http-client "$(readelf -d "$UNIFAAS" | grep NEEDED | tr '\n' ' ')"
else
	pass front-no-http-client
fi
# the API half still serves every command with the same arguments (global option first)
"$UNIFAAS" --state-dir "$W/none" status >/dev/null 2>&1
[ $? -eq 3 ] && pass api-half-state-dir || fail api-half-state-dir "status through the front: $?"

# --- unifaas new ------------------------------------------------------------------
cd "$W" || exit 1
"$UNIFAAS" new greet >"$W/new.out" 2>&1 && [ -f greet/greet.c ] && [ -f greet/greet.yaml ] &&
	pass new-writes || fail new-writes "$(cat "$W/new.out")"
cp greet/greet.c "$W/greet.c.orig"
"$UNIFAAS" new greet >/dev/null 2>"$W/new2.err"
rc=$?
[ $rc -eq 1 ] && grep -q "cannot create directory greet: File exists" "$W/new2.err" && cmp -s greet/greet.c "$W/greet.c.orig" &&
	pass new-no-overwrite || fail new-no-overwrite "status $rc: $(cat "$W/new2.err")"
bad_ok=1
for bad in ../x .hidden -x 'a b' "$(printf 'n%.0s' $(seq 49))"; do
	"$UNIFAAS" new -- "$bad" >/dev/null 2>"$W/new3.err"
	rc=$?
	if [ $rc -ne 2 ] || ! grep -q "is not a valid function name" "$W/new3.err" || [ -e "$bad" ]; then
		fail "new-bad-name" "'$bad': status $rc: $(cat "$W/new3.err")"
		bad_ok=0
		break
	fi
done
[ $bad_ok = 1 ] && pass new-bad-name
"$UNIFAAS" build greet/greet.c -Wall -Wextra -Werror >"$W/build.log" 2>&1 && [ -s greet/greet.uf ] &&
	pass new-builds || fail new-builds "$(head -5 "$W/build.log")"
out=$("$UNIFAAS" run greet/greet.uf --event hi </dev/null 2>/dev/null)
[ "$out" = '{"queue":"replies","data":"greet got hi"}' ] && pass new-runs || fail new-runs "$out"

if ! plat_up; then
	fail platform-up "$(tail -5 "$UF_TMP/$UF_SUITE.up.log")"
	exit 0
fi
U deploy greet/greet.yaml >"$W/deploy.out" 2>&1 && pass new-deploys || fail new-deploys "$(cat "$W/deploy.out")"
U push greet requests hello >/dev/null 2>&1 || fail new-push "push failed"
if wait_for 60 xlen_is uf:q:greet:replies 1; then
	got=$(R XRANGE uf:q:greet:replies - + | tr '\n' ' ')
	[[ "$got" == *"greet got hello"* ]] && pass new-handles-event || fail new-handles-event "replies: $got"
else
	fail new-handles-event "no reply in uf:q:greet:replies after 60 s; $(daemon_log | tail -3 | tr '\n' ' ')"
fi
U undeploy greet --purge >/dev/null 2>&1
plat_down
finish
