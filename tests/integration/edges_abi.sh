#!/usr/bin/env bash
# Issue 9, the guest/tender side of the edges (ABI 4), through a real
# deployed function (tests/platform/edge_fn.c) against real Redis: an
# event's source and attrs (the fields an edge writes with uf_ingress_cmd,
# common/delivery.h) reach the function; `unifaas run --source/--attrs`
# gives them locally.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

fn=$(build_guest "$UF_TOP/tests/platform/edge_fn.c") || { fail build "edge_fn.c did not build"; exit 0; }

# --- local: unifaas run --source/--attrs -----------------------------------
out=$("$UNIFAAS" run --source 'device/sck/tok1/readings/raw' --attrs '{"type":"t.r"}' --event 42 "$fn" 2>"$UF_TMP/run.err")
[ "$out" = '{"queue":"out","data":"source=device/sck/tok1/readings/raw|attrs={\"type\":\"t.r\"}|data=42"}' ] &&
	pass run-source-attrs || fail run-source-attrs "$out $(cat "$UF_TMP/run.err")"
out=$("$UNIFAAS" run --event 42 "$fn" 2>"$UF_TMP/run.err")
[ "$out" = '{"queue":"out","data":"source=|attrs=|data=42"}' ] && pass run-no-source || fail run-no-source "$out $(cat "$UF_TMP/run.err")"

plat_suite_up
m=$(manifest edges <<EOF2
name: edges
functions:
  e:
    image: $fn
    listen: in
    push: [out]
    retries: 0
EOF2
)
U deploy "$m" >"$UF_TMP/deploy.out" 2>&1 && pass deploy || { fail deploy "$(cat "$UF_TMP/deploy.out")"; exit 0; }

# --- source and attrs from an edge's entry (uf_ingress_cmd's XADD) ---------
R XADD uf:q:edges:in '*' data d1 src 'device/sck/tok9/readings/raw' attrs '{"specversion":"1.0","type":"x"}' >/dev/null
R XADD uf:q:edges:in '*' data d2 >/dev/null # a push: no source
if wait_for 30 xlen_is uf:q:edges:out 2; then
	got=$(R --raw XRANGE uf:q:edges:out - + | grep '^source=')
	want='source=device/sck/tok9/readings/raw|attrs={"specversion":"1.0","type":"x"}|data=d1
source=|attrs=|data=d2'
	[ "$got" = "$want" ] && pass source-attrs-reach-function || fail source-attrs-reach-function "$got"
else
	fail source-attrs-reach-function "out has $(R XLEN uf:q:edges:out) entries; dlq $(R XLEN uf:dlq:edges:in)"
fi

finish
