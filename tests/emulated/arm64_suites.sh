#!/bin/sh
# tests/emulated/arm64_suites.sh CASES - run by busybox sh inside the
# emulated Cortex-A72 (make test-arm64, in the directory the rig runs in):
# the tender's suites that need no servers, with the aarch64 tender and
# images: every case of faults.sh and hypercall_abuse.sh and the checks of
# runtime.sh's libc smoke test (with the local KV store), as listed from
# those suites by tests/emulated/arm64_cases.sh, with the same statuses and
# the same reasons in aarch64's words (STATUS may be "3|6": either).  A case passes as it would in its
# suite: KIND reason - the status, and for a non-zero one exactly one
# reason line "uf-hvt: IMAGE: ..." matching ERE; KIND output - the status,
# the reason likewise, and for status 0 no reason and a line of the
# guest's output matching ERE whole; KIND libc - the smoke test's line.
# Prints PASS/FAIL lines and, last, "arm64 suites: N passed, N failed".
cases=${1:?usage: arm64_suites.sh CASES}
tab=$(printf '\t')
p=0 f=0
ok() { echo "PASS arm64/$1"; p=$((p + 1)); }
ko() { echo "FAIL arm64/$1: $2"; f=$((f + 1)); }
image_of() {
	case $1 in
	faults) echo faults.uf ;;
	hypercall_abuse) echo hcabuse.uf ;;
	runtime) echo libc_smoke.uf ;;
	esac
}
t=/tmp/arm64-suites
mkdir -p $t
# runtime.sh's libc smoke run (its command line, with the same events)
echo '{"count":"0"}' >$t/kv.json
timeout 60 ./uf-hvt --env CO2_LIMIT_PPM=1000 --kv $t/kv.json --event first --event second --event third \
	--event fourth libc_smoke.uf </dev/null >$t/libc.out 2>$t/libc.err
libc_rc=$?
[ $libc_rc -eq 0 ] && ok runtime/libc-smoke-exit || ko runtime/libc-smoke-exit "status $libc_rc: $(tail -3 $t/libc.err)"
[ "$(cat $t/libc.out)" = '{"queue":"out","data":"first"}' ] && ok runtime/commit-semantics ||
	ko runtime/commit-semantics "stdout: $(cat $t/libc.out)"
grep -q '"count": *"42"' $t/kv.json && ok runtime/kv-file-saved || ko runtime/kv-file-saved "$(cat $t/kv.json)"

# one case: SUITE KIND NAME STATUS ERE ARG...
one() {
	suite=$1 kind=$2 name=$3 want=$4 re=$5
	shift 5
	img=$(image_of "$suite")
	if [ "$kind" = libc ]; then
		grep -qx "$re" $t/libc.err && ok "$suite/$name" || ko "$suite/$name" "$(grep -m1 FAIL $t/libc.err)"
		return
	fi
	n=$#
	while [ $n -gt 0 ]; do
		a=$1
		shift
		case $a in
		IMG) a=$img ;;
		TMP/*) a=$t/${a#TMP/} ;;
		esac
		set -- "$@" "$a"
		n=$((n - 1))
	done
	timeout 60 ./uf-hvt "$@" </dev/null >$t/out 2>$t/err
	rc=$?
	reasons=$(grep -c "^uf-hvt: $img: " $t/err)
	why=
	if ! case "|$want|" in *"|$rc|"*) true ;; *) false ;; esac then
		why="status $rc, expected $want"
	elif [ "$rc" -eq 0 ] && [ "$reasons" -ne 0 ]; then
		why="a clean exit printed a reason"
	elif [ "$rc" -eq 0 ] && [ "$kind" = output ] && ! grep -Eqx "$re" $t/err; then
		why="guest output has no line /$re/"
	elif [ "$rc" -ne 0 ] && [ "$reasons" -ne 1 ]; then
		why="$reasons reason lines, expected exactly 1"
	elif [ "$rc" -ne 0 ] && ! tail -n 1 $t/err | grep -Eq "^uf-hvt: $img: ($re)"; then
		why="reason does not match /$re/"
	fi
	[ -z "$why" ] && ok "$suite/$name" || ko "$suite/$name" "$why; stderr: $(tail -c 300 $t/err | tr '\n' ' ')"
}
while IFS= read -r line; do
	old=$IFS
	IFS=$tab
	set -f
	set -- $line
	set +f
	IFS=$old
	one "$@"
done <"$cases"
# the last tender's VM reaper outlives it by its VM's teardown: looked at
# until gone, up to 60 s (a single look after 2 s was little for an
# emulated machine beside other work)
i=0
while :; do
	left=
	for d in /proc/[0-9]*; do
		case $(readlink $d/exe 2>/dev/null) in */uf-hvt) left="$left ${d#/proc/}" ;; esac
	done
	[ -z "$left" ] || [ $i -ge 120 ] && break
	sleep 0.5
	i=$((i + 1))
done
[ -z "$left" ] && ok no-stray-tenders || ko no-stray-tenders "uf-hvt processes left: $left"
echo "arm64 suites: $p passed, $f failed"
[ $f -eq 0 ]
