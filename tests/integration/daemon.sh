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
