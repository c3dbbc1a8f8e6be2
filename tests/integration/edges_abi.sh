#!/usr/bin/env bash
# Issue 9, the guest/tender side of the edges (ABI 4), through a real
# deployed function (tests/platform/edge_fn.c) against real Redis: an
# event's source and attrs (the fields an edge writes with uf_ingress_cmd,
# common/delivery.h) reach the function; uf_mqtt_publish lands in the
# outbox uf:out:mqtt:<wf> (and through unifaasd on a subscriber) only when its
# event commits and only for topics the manifest's publish: allows (-EPERM
# otherwise); invoke replies are
# PUBLISHed on uf:reply:<wf> for ok and failed outcomes, by the tender and
# by unifaasd for a unit killed holding the event; the workflow's ACL user
# gets exactly that.  `unifaas run --source/--attrs/--publish` locally.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/edge_fn.c") || { fail build "edge_fn.c did not build"; exit 0; }

# --- local: unifaas run --source/--attrs -----------------------------------
out=$("$UNIFAAS" run --source 'device/sck/tok1/readings/raw' --attrs '{"type":"t.r"}' --event 42 "$fn" 2>"$UF_TMP/run.err")
[ "$out" = '{"queue":"out","data":"source=device/sck/tok1/readings/raw|attrs={\"type\":\"t.r\"}|data=42"}' ] &&
	pass run-source-attrs || fail run-source-attrs "$out $(cat "$UF_TMP/run.err")"
out=$("$UNIFAAS" run --event 42 "$fn" 2>"$UF_TMP/run.err")
[ "$out" = '{"queue":"out","data":"source=|attrs=|data=42"}' ] && pass run-no-source || fail run-no-source "$out $(cat "$UF_TMP/run.err")"
# publishes and replies are printed beside the pushes, event by event
out=$("$UNIFAAS" run --publish 'lights/+/set' --event pub:lights/1/set --event pub:other --event reply:hi --event pubfail:lights/2/set "$fn" 2>"$UF_TMP/run.err")
want='{"queue":"out","data":"pub=0"}
{"topic":"lights/1/set","qos":1,"data":"m-lights/1/set"}
{"queue":"out","data":"pub=-1"}
{"reply":"3","data":"hi"}'
[ "$out" = "$want" ] && pass run-publish-reply || fail run-publish-reply "$out"
grep -q 'topic="other" error=publish_not_allowed allowed="lights/+/set"' "$UF_TMP/run.err" && pass run-publish-refused-logged ||
	fail run-publish-refused-logged "$(cat "$UF_TMP/run.err")"

plat_suite_up
m=$(manifest edges <<EOF2
name: edges
functions:
  e:
    image: $fn
    listen: in
    push: [out]
    publish: ["lights/+/set", "alerts/#"]
    retries: 0
EOF2
)
U deploy "$m" >"$UF_TMP/deploy.out" 2>&1 && pass deploy || { fail deploy "$(cat "$UF_TMP/deploy.out")"; exit 0; }

# --- source and attrs from an edge's entry (uf_ingress_cmd's XADD) ---------
R XADD uf:q:edges:in '*' data d1 src 'device/sck/tok9/readings/raw' attrs '{"specversion":"1.0","type":"x"}' >/dev/null
R XADD uf:q:edges:in '*' data d2 >/dev/null # a push: no source
if wait_for 60 xlen_is uf:q:edges:out 2; then
	got=$(R --raw XRANGE uf:q:edges:out - + | grep '^source=')
	want='source=device/sck/tok9/readings/raw|attrs={"specversion":"1.0","type":"x"}|data=d1
source=|attrs=|data=d2'
	[ "$got" = "$want" ] && pass source-attrs-reach-function || fail source-attrs-reach-function "$got"
else
	fail source-attrs-reach-function "out has $(R XLEN uf:q:edges:out) entries; dlq $(R XLEN uf:dlq:edges:in)"
fi

# --- uf_mqtt_publish: the outbox, only when the event commits --------------
# unifaasd publishes the outbox (daemon/mqtt.c) and deletes each entry the
# broker took: a subscriber (the platform's account) sees what committed
sub_start sub-lights "$UF_TMP/sub.out" --unix "$PLAT_STATE/mqtt.sock" -u unifaasd -P "$(cat "$PLAT_STATE/mqtt.pass")" -q 1 -v \
	-t 'lights/#' -t 'other/#' -W 60 || fail subscriber "$(cat "$UF_TMP/sub.out")"
subpid=$SUB_PID
got_pub() { grep -qx "$1" "$UF_TMP/sub.out"; }
R XADD uf:q:edges:in '*' data pub:lights/7/set >/dev/null
if wait_for 60 got_pub "lights/7/set m-lights/7/set" && wait_for 30 xlen_is uf:out:mqtt:edges 0; then
	pass publish-reaches-subscriber
else
	fail publish-reaches-subscriber "subscriber: $(cat "$UF_TMP/sub.out"); outbox $(R XLEN uf:out:mqtt:edges)"
fi
R XADD uf:q:edges:in '*' data pubfail:lights/8/set >/dev/null
R XADD uf:q:edges:in '*' data pub:other/topic >/dev/null
R XADD uf:q:edges:in '*' data pub:lights/+/set >/dev/null
R XADD uf:q:edges:in '*' data pub:lights/9/set >/dev/null # after the others: once it is there, they would be too
if wait_for 60 xlen_is uf:dlq:edges:in 1 && wait_for 60 drained edges in e && wait_for 60 got_pub "lights/9/set m-lights/9/set"; then
	[ "$(wc -l <"$UF_TMP/sub.out")" = 2 ] && pass publish-not-on-failure || fail publish-not-on-failure "subscriber: $(cat "$UF_TMP/sub.out")"
	pubs=$(R --raw XRANGE uf:q:edges:out - + | grep '^pub=' | tr '\n' ' ')
	[ "$pubs" = "pub=0 pub=-1 pub=-22 pub=0 " ] && pass publish-eperm-einval || fail publish-eperm-einval "$pubs"
else
	fail publish-not-on-failure "dlq $(R XLEN uf:dlq:edges:in); subscriber: $(cat "$UF_TMP/sub.out")"
fi
kill "$subpid" 2>/dev/null
grep -q 'workflow=edges step=e topic="other/topic" error=publish_not_allowed allowed="lights/+/set, alerts/#"' \
	"$PLAT_STATE"/logs/edges* "$PLAT_STATE"/logs/*/* 2>/dev/null && pass publish-refusal-logged ||
	fail publish-refusal-logged "$(U logs edges/e 2>&1 | tail -3)"

# --- describe shows the publish filters among the grants ---------------------
U describe edges | grep -qx '  publish:   lights/+/set, alerts/#' &&
	[ "$(U describe edges --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["steps"][0]["grants"]["publish"])')" = "['lights/+/set', 'alerts/#']" ] &&
	pass describe-publish || fail describe-publish "$(U describe edges | grep -A3 grants)"

# --- the unit's ACL: exactly its keys, its outbox write only, its reply channel
acl=$(R ACL GETUSER uf-wf-edges | tr '\n' ' ')
case "$acl" in
*'channels &uf:reply:edges selectors commands -@all +xadd keys %W~uf:out:mqtt:edges channels'*) pass acl-outbox-channel ;;
*) fail acl-outbox-channel "$acl" ;;
esac
grep -q ' +publish' <<<"$acl" && ! grep -q '&\*' <<<"$acl" && pass acl-publish-command || fail acl-publish-command "$acl"
# what Redis 7.0 makes of those rules (ACL DRYRUN): its own outbox is write
# only, another workflow's (or the old shared one) not even that, the reply
# channel is the workflow's own
dry() { R ACL DRYRUN uf-wf-edges "$@" 2>&1; }
# (GET, DEL, XACK and XADD elsewhere are granted: only the key is refused)
[ "$(dry XADD uf:out:mqtt:edges '*' topic t)" = OK ] && [ "$(dry PUBLISH uf:reply:edges m)" = OK ] &&
	dry GET uf:out:mqtt:edges | grep -q "no permissions to access the 'uf:out:mqtt:edges' key" &&
	dry DEL uf:out:mqtt:edges | grep -q "no permissions to access the 'uf:out:mqtt:edges' key" &&
	dry XACK uf:out:mqtt:edges unifaasd 1-0 | grep -q "no permissions to access the 'uf:out:mqtt:edges' key" &&
	dry XADD uf:out:mqtt:other '*' topic t | grep -q "no permissions to access the 'uf:out:mqtt:other' key" &&
	dry XADD uf:out:mqtt '*' topic t | grep -q "no permissions to access the 'uf:out:mqtt' key" &&
	dry XADD uf:q:other:in '*' data x | grep -q "no permissions to access the 'uf:q:other:in' key" &&
	dry PUBLISH uf:reply:other m | grep -q "no permissions to access the 'uf:reply:other' channel" &&
	dry SUBSCRIBE uf:reply:edges | grep -q "no permissions to run the 'subscribe' command" &&
	pass acl-dryrun || fail acl-dryrun "$(dry XADD uf:out:mqtt:other '*' topic t) / $(dry DEL uf:out:mqtt:edges) / $(dry PUBLISH uf:reply:other m)"
# for real, as the workflow's own user: a forged entry in another workflow's
# outbox is refused by Redis (NOPERM), and nothing lands there
forged=$(REDISCLI_AUTH= redis-cli --no-auth-warning -s "$PLAT_STATE/redis.sock" --user uf-wf-edges \
	--pass "$(R HGET uf:state:wf:edges acl_pass)" XADD uf:out:mqtt:other '*' topic lights/1/set qos 1 data forged 2>&1)
grep -q "^NOPERM" <<<"$forged" && [ "$(R EXISTS uf:out:mqtt:other)" = 0 ] && pass forged-other-outbox-noperm ||
	fail forged-other-outbox-noperm "$forged"

# --- invoke replies on uf:reply:edges ---------------------------------------
R --raw SUBSCRIBE uf:reply:edges >"$UF_TMP/replies" 2>&1 &
sub=$!
wait_for 30 grep -q subscribe "$UF_TMP/replies" || true
R XADD uf:q:edges:in '*' data reply:hello reply tok1 >/dev/null
R XADD uf:q:edges:in '*' data replyfail:z reply tok2 >/dev/null
R XADD uf:q:edges:in '*' data plain reply tok3 >/dev/null
R XADD uf:q:edges:in '*' data crash reply tok4 >/dev/null
has() { python3 -c 'import sys; sys.exit(0 if sys.argv[2] in open(sys.argv[1]).read() else 1)' "$UF_TMP/replies" "$1"; }
# each reply waited for by itself: one batch may hold them all, and the
# fault of tok4's event hands back the others, answered after it
wait_for 60 has $'tok1\nok\nhello\n' && pass reply-ok-uf-reply || fail reply-ok-uf-reply "$(cat "$UF_TMP/replies")"
wait_for 60 has $'tok2\nfailed\nhandler returned 7\n' && pass reply-failed || fail reply-failed "$(cat "$UF_TMP/replies")"
wait_for 60 has $'tok3\nok\n{"pushes":[{"queue":"out","data":"source=|attrs=|data=plain"}]}\n' && pass reply-ok-pushes ||
	fail reply-ok-pushes "$(cat "$UF_TMP/replies")"
wait_for 60 has $'tok4\nfailed\nguest fault' && pass reply-fault-failed || fail reply-fault-failed "$(cat "$UF_TMP/replies")"
# a unit killed (SIGKILL) while it holds a tokened event: unifaasd settles it and replies
R XADD uf:q:edges:in '*' data hang reply tok5 >/dev/null
if wait_for 60 holds edges in e && plat_kill KILL '--consumer=edges\.e\.'; then
	wait_for 60 has $'tok5\nfailed\n' && pass reply-killed-unit-failed || fail reply-killed-unit-failed "$(cat "$UF_TMP/replies")"
else
	fail reply-killed-unit-failed "no unit held the event"
fi
kill "$sub" 2>/dev/null

finish
