#!/usr/bin/env bash
# unifaasd's own defects (issue 8 section 2), each against a real platform:
# a hung unit keeps the reason it was killed for; the backlog survives a
# Redis restart and an AOF rewrite without going false; many env entries
# all reach the function and none shows on a command line; text a guest
# prints cannot forge fields in the daemon's key=value log.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/daemon_fn.c") || { fail build "daemon_fn.c did not build"; exit 0; }
trap plat_down EXIT
plat_up || { fail up "unifaas up failed: $(tail -5 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"; exit 0; }
pass up

# --- a hung unit's reason is the daemon's, whatever arrives after the kill --
m=$(manifest hung <<EOF2
name: hung
functions:
  s:
    image: $fn
    listen: in
    retries: 0
    timeout_ms: 200
    scale: { max_units: 1, idle_ms: 300, grace_ms: 0 }
EOF2
)
U deploy "$m" >/dev/null
echo talk-hang | U push hung in >/dev/null
if wait_for 20 xlen_is uf:dlq:hung:in 1; then
	reason=$(R XRANGE uf:dlq:hung:in - + | grep -A1 -x reason | tail -1)
	case $reason in
	*"hung: held 1 event(s)"*) pass hung-reason-kept ;;
	*) fail hung-reason-kept "dead-letter reason: $reason" ;;
	esac
else
	fail hung-reason-kept "not dead-lettered: $(R XLEN uf:dlq:hung:in)"
fi

# --- keys the platform does not serve yet are refused, not ignored --------
printf 'name: unserved\nfunctions:\n  s:\n    image: %s\n    listen: in\ningress:\n  http: [{ path: /in, queue: in }]\n' "$fn" >"$UF_TMP/unserved.yaml"
U deploy "$UF_TMP/unserved.yaml" >"$UF_TMP/us.out" 2>&1
rc=$?
[ $rc = 65 ] && grep -q "unserved.yaml:6: ingress: not served by this version of unifaas (MQTT and HTTP routes" "$UF_TMP/us.out" &&
	! U ls | grep -q unserved && pass unserved-key-refused || fail unserved-key-refused "rc $rc: $(cat "$UF_TMP/us.out")"

# --- no randomness, no credentials: deploy and up are refused -------------
printf '#include <errno.h>\n#include <sys/types.h>\nssize_t getrandom(void *b, size_t n, unsigned f) { (void)b; (void)n; (void)f; errno = ENOSYS; return -1; }\n' >"$UF_TMP/norandom.c"
cc -shared -fPIC -o "$UF_TMP/norandom.so" "$UF_TMP/norandom.c"
pkill -TERM -f -- "unifaasd --state-dir $PLAT_STATE"
wait_for 10 sh -c "! pgrep -f -- 'unifaasd --state-dir $PLAT_STATE'"
LD_PRELOAD=$UF_TMP/norandom.so U up >/dev/null 2>&1
m=$(manifest norand <<EOF2
name: norand
functions:
  s:
    image: $fn
    listen: in
EOF2
)
U deploy "$m" >"$UF_TMP/nr.out" 2>&1
rc=$?
[ $rc != 0 ] && grep -q "cannot make a password for the workflow's Redis user: getrandom: Function not implemented" "$UF_TMP/nr.out" &&
	! U ls | grep -q norand && pass no-random-deploy-refused || fail no-random-deploy-refused "rc $rc: $(cat "$UF_TMP/nr.out"); $(U ls | grep norand)"
LD_PRELOAD=$UF_TMP/norandom.so "$UNIFAAS" --state-dir "$UF_TMP/norandom.state" up --api-port 1 >"$UF_TMP/nr.out" 2>&1
rc=$?
[ $rc != 0 ] && grep -q "cannot make a random .*getrandom: Function not implemented" "$UF_TMP/nr.out" &&
	! pgrep -f -- "$UF_TMP/norandom.state" >/dev/null && pass no-random-up-refused || fail no-random-up-refused "rc $rc: $(cat "$UF_TMP/nr.out")"
pkill -TERM -f -- "unifaasd --state-dir $PLAT_STATE"
wait_for 10 sh -c "! pgrep -f -- 'unifaasd --state-dir $PLAT_STATE'"
U up >/dev/null 2>&1
