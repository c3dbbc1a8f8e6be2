#!/usr/bin/env bash
# The guest runtime: musl's libc through libuf's syscall layer, the function
# API in an own-loop function, and KV persistence with --kv.
. "$(dirname "$0")/../lib.sh"

img=$(build_guest "$UF_TOP/tests/guest/libc_smoke.c") || { fail build "libc_smoke.c did not build"; exit 0; }
echo '{"count":"0"}' >"$UF_TMP/kv.json"
timeout 20 "$HVT" --env CO2_LIMIT_PPM=1000 --kv "$UF_TMP/kv.json" --event first --event second --event third \
	--event fourth "$img" \
	>"$UF_TMP/out" 2>"$UF_TMP/err"
rc=$?
[ $rc -eq 0 ] && pass libc-smoke-exit || fail libc-smoke-exit "status $rc: $(tail -3 "$UF_TMP/err")"
for c in printf-float strtod libm qsort malloc realloc malloc-3MiB calloc-zeroed-after-free clock_gettime time \
	nanosleep getrandom errno-tls thread-local getenv getenv-absent jsmn kv-incr kv-incr-again kv-set kv-get \
	kv-get-small kv-incr-nonint kv-del kv-bad-key push-outside-event pop push-bad-queue push pop-second \
	pop-third fail-reason pop-fourth fail-reason-long pop-drained fail-reason-outside-event defer-outside-event http-enosys; do
	grep -qx "ok $c" "$UF_TMP/err" && pass "$c" || fail "$c" "$(grep -m1 FAIL "$UF_TMP/err")"
done
# pushes of the failed second event must not appear; the first's must
[ "$(cat "$UF_TMP/out")" = '{"queue":"out","data":"first"}' ] && pass commit-semantics ||
	fail commit-semantics "stdout: $(cat "$UF_TMP/out")"
grep -q 'event 2 failed: handler returned 1;' "$UF_TMP/err" && pass failed-event-reported || fail failed-event-reported "no report"
# uf_fail_reason: the reason replaces "handler returned N", cleaned and cut to 1 KiB
grep -qxF 'uf-hvt: event 3 failed: bad?line third ? 7; its pushes were dropped' "$UF_TMP/err" &&
	pass fail-reason-reported || fail fail-reason-reported "$(grep 'event 3' "$UF_TMP/err")"
long=$(python3 -c 'print("\u00e9" * 512)')
grep -qxF "uf-hvt: event 4 failed: $long; its pushes were dropped" "$UF_TMP/err" &&
	pass fail-reason-cut || fail fail-reason-cut "$(grep 'event 4' "$UF_TMP/err" | wc -c) bytes"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d=={"count":"42"} else 1)' "$UF_TMP/kv.json" &&
	pass kv-file-saved || fail kv-file-saved "$(cat "$UF_TMP/kv.json")"
fib=$(build_guest "$UF_TOP/functions/fib.c") || fail build-fib "fib.c did not build"

# An event larger than the unit's free memory ends it as out of memory (5),
# and the same event fits once the budget is raised.
python3 -c "print('x' * (6 << 20))" >"$UF_TMP/big.txt"
timeout 20 "$HVT" --mem 4M --events "$UF_TMP/big.txt" "$fib" >/dev/null 2>"$UF_TMP/oom.err"
rc=$?
[ $rc -eq 5 ] && grep -q 'out of memory: an event is larger than the free guest memory' "$UF_TMP/oom.err" &&
	pass oom-big-event || fail oom-big-event "status $rc: $(cat "$UF_TMP/oom.err")"
timeout 20 "$HVT" --mem 16M --events "$UF_TMP/big.txt" "$fib" >/dev/null 2>&1 &&
	pass big-event-fits || fail big-event-fits "status $?"

# Edge cases of the function API (tests/guest/api_edges.c).
edges=$(build_guest "$UF_TOP/tests/guest/api_edges.c") || fail build-api-edges "api_edges.c did not build"
printf 'a\nb\nc\n' >"$UF_TMP/abc"
timeout 20 "$HVT" --env CASE=exit-mid-batch --events "$UF_TMP/abc" "$edges" >"$UF_TMP/e.out" 2>"$UF_TMP/e.err"
rc=$?
[ $rc -eq 0 ] && [ "$(cat "$UF_TMP/e.out")" = '{"queue":"out","data":"a"}' ] &&
	grep -q 'event 2 was not handled' "$UF_TMP/e.err" && grep -q 'event 3 was not handled' "$UF_TMP/e.err" &&
	pass exit-mid-batch-hands-back || fail exit-mid-batch-hands-back "status $rc: $(cat "$UF_TMP/e.out" "$UF_TMP/e.err")"
timed timeout 60 "$HVT" --env CASE=cheat-progress --timeout-ms 100 --event x "$edges" >/dev/null 2>"$UF_TMP/e.err"
rc=$?
# bounded, not forever: 2 s of CPU here, UF_WAIT_SCALE times that under emulation
# (the emulated SVM machine spent 2.5 s of CPU starting and ending the tender)
cheat_cpu_max=2000
[ -n "${UF_EMULATED:-}" ] && cheat_cpu_max=$((cheat_cpu_max * ${UF_WAIT_SCALE:-5}))
[ $rc -eq 4 ] && grep -q 'batch of 1 event used' "$UF_TMP/e.err" && [ "$TIMED_CPU_MS" -lt $cheat_cpu_max ] &&
	pass faked-progress-still-limited ||
	fail faked-progress-still-limited "status $rc after $TIMED_CPU_MS ms of CPU: $(cat "$UF_TMP/e.err")"
n=$(timeout 20 "$HVT" --env CASE=push-limit --events "$UF_TMP/abc" --event 4 --event 5 --event 6 --event 7 "$edges" | wc -l)
[ "$n" = 7 ] && pass push-limit-per-event || fail push-limit-per-event "$n of 7 pushes"
out=$(timeout 20 "$HVT" --limit commit_bytes=1M --env CASE=push-too-much --event x "$edges" 2>&1)
grep -q 'push-too-much: ENOBUFS' <<<"$out" &&
	grep -q "event 1 failed for good: event's commit would write 1200018 bytes, over the limit 1048576 (node limits.commit_bytes)" <<<"$out" &&
	pass push-over-commit-bytes-enobufs || fail push-over-commit-bytes-enobufs "no ENOBUFS or no reason: $out"
timeout 20 "$HVT" --env CASE=code --event x "$edges" 2>&1 | grep -q 'handler returned 7' &&
	pass failure-code-reported || fail failure-code-reported "code not reported"
timeout 20 "$UNIFAAS" run "$fib" </dev/null >/dev/null 2>&1 && pass stdin-dev-null || fail stdin-dev-null "status $?"

# A unit waiting for its first event: the tender is sandboxed and holds only
# its stdio and the three KVM descriptors.  It runs with --fast-exit, so its
# VM reaper (tender/hvt_reaper.c) is checked too: a sibling of the tender,
# sandboxed, holding only the KVM descriptors and a pidfd of the tender,
# gone once the tender is.
# The tender is started by this shell (which reaps both), with every
# inherited descriptor above 2 closed and a 120 s alarm as a watchdog (300 s
# under emulation, UF_EMULATED: beside other work the emulated machine took
# longer than 20 s to get the tender to its sandbox, and the alarm ended it;
# 20 s was also little for the looks below on a machine at a load of 25).
watchdog=120
[ -n "${UF_EMULATED:-}" ] && watchdog=300
rm -f "$UF_TMP/in"
mkfifo "$UF_TMP/in"
python3 -c 'import os, signal, sys; os.closerange(3, 4096); signal.alarm(int(sys.argv[1])); os.execv(sys.argv[2], sys.argv[2:])' \
	"$watchdog" "$HVT" --fast-exit --events "$UF_TMP/in" "$fib" >"$UF_TMP/fifo.out" 2>&1 &
hvt=$!
exec 7>"$UF_TMP/in"
# set up: the tender sandboxed (after its VM and reaper) and the reaper too
# (waited for: a fixed delay is outlasted on a loaded machine)
set_up() {
	local p
	grep -q '^Seccomp:[[:space:]]*2' "/proc/$hvt/status" || return 1
	for p in $(pgrep -P $$); do
		[ "$p" != "$hvt" ] && [ "$(readlink "/proc/$p/exe")" = "$(readlink -f "$HVT")" ] &&
			grep -q '^Seccomp:[[:space:]]*2' "/proc/$p/status" && return 0
	done
	return 1
}
wait_for 30 set_up
st=/proc/$hvt/status
if grep -q '^Seccomp:[[:space:]]*2' "$st" && grep -q '^NoNewPrivs:[[:space:]]*1' "$st"; then
	pass seccomp-active
else
	fail seccomp-active "$(grep -E 'Seccomp|NoNewPrivs' "$st" | tr '\n' ' ')"
fi
fds=$(ls -l /proc/$hvt/fd | awk 'NR>1 {print $NF}' | sort | tr '\n' ' ')
case "$fds" in
*anon_inode:kvm-vcpu* ) n=$(ls /proc/$hvt/fd | wc -l)
	# stdin, stdout, stderr, the events FIFO, /dev/kvm, the VM, the vCPU
	[ "$n" -eq 7 ] && pass fds-minimal || fail fds-minimal "$n fds: $fds" ;;
*) fail fds-minimal "no vcpu fd: $fds" ;;
esac
reaper=""
for p in $(pgrep -P $$); do
	[ "$p" != "$hvt" ] && [ "$(readlink /proc/$p/exe 2>/dev/null)" = "$(readlink -f "$HVT")" ] && reaper=$p
done
rfds=$(ls -l /proc/$reaper/fd 2>/dev/null | awk 'NR>1 {print $NF}' | sort | tr '\n' ' ')
if [ -n "$reaper" ] && [ "$rfds" = "/dev/kvm anon_inode:[pidfd] anon_inode:kvm-vcpu:0 anon_inode:kvm-vm " ] &&
	grep -q '^Seccomp:[[:space:]]*2' /proc/$reaper/status; then
	pass reaper-confined
else
	fail reaper-confined "reaper '$reaper' fds: $rfds"
fi
echo 7 >&7
exec 7>&-
wait $hvt
rc=$?
[ $rc -eq 0 ] && grep -q '"fib\\":13' "$UF_TMP/fifo.out" && pass fifo-event-then-eof ||
	fail fifo-event-then-eof "status $rc: $(cat "$UF_TMP/fifo.out")"
gone=0
for i in $(seq 200); do # 10 s: its VM's teardown, on a loaded machine
	[ -n "$reaper" ] && [ ! -d "/proc/$reaper" ] && { gone=1; break; }
	wait "$reaper" 2>/dev/null
	sleep 0.05
done
[ $gone = 1 ] && pass reaper-gone-after-exit || fail reaper-gone-after-exit "reaper '$reaper' still there"
finish
