#!/usr/bin/env bash
# Faults never hurt the host: a guest that crashes, spins, exhausts its memory
# or floods its log ends with the right UF_END_* status and one clear line on
# stderr, and leaves no tender process behind.  tests/guest/faults.c does the
# misbehaving; CASE picks what.
. "$(dirname "$0")/../lib.sh"

img="$UF_TMP/$UF_SUITE-faults.uf"
build_guest "$UF_TOP/tests/guest/faults.c" "$img" >/dev/null || {
	fail build "tests/guest/faults.c did not build"
	exit 0
}
pass build

# expect NAME STATUS REASON_ERE [uf-hvt options...]
# Runs the image (bounded by timeout 20); passes when the exit status is
# STATUS, the tender's reason (the line "uf-hvt: IMAGE: ..." on stderr) is
# exactly one line matching REASON_ERE (for STATUS 0 there must be none), and
# no tender is left.  Output stays in $UF_TMP/$UF_SUITE.NAME.{out,err}.
# A case UF_PICK leaves out (tests/lib.sh, uf_picked) is not run: returns 1.
expect() {
	local name=$1 want=$2 re=$3
	shift 3
	[ -n "${UF_CASES:-}" ] && uf_case reason "$name" "$want" "$re" "$@" "$img" && return 0
	uf_picked "$name" || return 1
	local out="$UF_TMP/$UF_SUITE.$name.out" err="$UF_TMP/$UF_SUITE.$name.err"
	timeout 20 "$HVT" "$@" "$img" </dev/null >"$out" 2>"$err"
	local rc=$?
	local why=""
	local reasons
	reasons=$(grep -c "^uf-hvt: $img: " "$err")
	if [ "$rc" -ne "$want" ]; then
		why="status $rc, expected $want"
	elif [ "$want" -eq 0 ] && [ "$reasons" -ne 0 ]; then
		why="a clean exit printed a reason"
	elif [ "$want" -ne 0 ] && [ "$reasons" -ne 1 ]; then
		why="$reasons reason lines, expected exactly 1"
	elif [ "$want" -ne 0 ] && ! tail -n 1 "$err" | grep -Eq "^uf-hvt: $img: ($re)"; then
		why="reason does not match /$re/"
	elif [ "$want" -ne 0 ] && [ "$(tail -n 1 "$err" | tr -d -c '\n' | wc -c)" -ne 1 ]; then
		why="reason is not newline-terminated"
	fi
	if [ -z "$why" ] && ! no_stray "$img" >/dev/null; then
		why=$(no_stray "$img")
	fi
	if [ -z "$why" ]; then
		pass "$name"
		return 0
	fi
	fail "$name" "$why; stderr: $(tail -c 300 "$err" | tr '\n' ' ')"
	return 1
}

# preflight: a well-behaved run must end cleanly, or every case below would
# only measure the 20 s timeout
if ! expect preflight-clean-exit 0 '' --env CASE=exit0 --event x; then
	fail preflight "a clean guest does not end cleanly; skipping the rest of $UF_SUITE"
	exit 0
fi

# --- CPU exceptions: status 3 and a reason a function author understands -------
expect null-read 3 'guest fault: #PF page fault: NULL pointer dereference \(read of address 0x0\)' \
	--env CASE=null_read --event x
expect null-write 3 'guest fault: #PF page fault: NULL pointer dereference \(write of address 0x0\)' \
	--env CASE=null_write --event x
expect divide-by-zero 3 'guest fault: #DE divide error at rip 0x' --env CASE=div_zero --event x
expect invalid-opcode 3 'guest fault: #UD invalid opcode at rip 0x' --env CASE=ud2 --event x
expect stack-overflow 3 'guest fault: #PF page fault: stack overflow \(hit the guard page below the stack\)' \
	--env CASE=stack_overflow --event x
expect stack-overflow-small-stack 3 'guest fault: #PF page fault: stack overflow' \
	--stack 16K --env CASE=stack_overflow --event x
# a 3 MiB frame jumps over the 4 KiB guard page unless images are built with
# -fstack-clash-protection (each page of the frame probed as it is made)
expect stack-big-frame 3 'guest fault: #PF page fault: stack overflow \(hit the guard page below the stack\)' \
	--env CASE=big_frame --event x
expect write-own-code 3 "guest fault: #PF page fault: write to the function's own code \(text is read-only\) \(write of address 0x" \
	--env CASE=write_code --event x
expect write-rodata 3 'guest fault: #PF page fault: write to read-only data \(write of address 0x' \
	--env CASE=write_rodata --event x
expect exec-heap 3 'guest fault: #PF page fault: execute of non-executable memory \(execute of address 0x' \
	--env CASE=exec_heap --event x
expect exec-stack 3 'guest fault: #PF page fault: execute of non-executable memory \(execute of address 0x' \
	--env CASE=exec_stack --event x
expect exec-data 3 'guest fault: #PF page fault: execute of non-executable memory \(execute of address 0x' \
	--env CASE=exec_data --event x
expect access-beyond-memory 3 'guest fault: #PF page fault: access beyond the guest memory budget \(write of address 0x7ff00000\)' \
	--env CASE=beyond_memory --event x
expect read-gdt 3 'guest fault: #PF page fault: .*\(read of address 0x1000\)' --env CASE=read_gdt --event x
expect write-pagetables 3 'guest fault: #PF page fault: .*\(write of address 0x10000\)' \
	--env CASE=write_pagetables --event x
expect noncanonical-address 3 'guest fault: #GP general protection' --env CASE=noncanonical --event x
expect garbage-stack-pointer 3 'guest fault: #PF page fault: NULL pointer dereference \(write of address 0x0\) at rip 0x[0-9a-f]+ \(rsp 0x8\)' \
	--env CASE=bad_rsp --event x
# privileged instructions from ring 3
for c in hlt cli wrmsr lidt mov_cr3; do
	expect "privileged-$c" 3 'guest fault: #GP general protection' --env CASE=$c --event x
done
# (UF_PICK selects among the cases above; the rest run only in the whole suite)
uf_pick_end
expect iret-to-ring0 3 'guest fault: #GP general protection: error code 0x8 ' --env CASE=iret_ring0 --event x
expect load-kernel-segment 3 'guest fault: #GP general protection: error code 0x10 ' --env CASE=load_kernel_ds --event x
# Software interrupts cannot enter the ring-0 gates (DPL 0).  Hardware (Intel
# SDM vol. 3A 6.12.1.1 and 6.13, AMD APM vol. 2 "Selector-Error Code") raises #GP
# with the gate's IDT error code, vector * 8 + 2 (IDT bit): 0x1a for int3,
# 0x402 for int 0x80.  PVM's KVM (the host this is built on) reports #BP
# and #UD instead.  QEMU 7.2's emulation (make test-svm) encodes vector * 16
# + 2 (0x32, 0x802), which no hardware does: accepted only there.
gp_int() { # VECTOR: the #GP reasons an `int VECTOR` from ring 3 may end with
	printf '#GP general protection: error code 0x%x ' $(($1 * 8 + 2))
	[ -n "${UF_EMULATED:-}" ] && printf '|#GP general protection: error code 0x%x ' $(($1 * 16 + 2))
}
expect int3 3 "guest fault: (#BP breakpoint |$(gp_int 3))" --env CASE=int3 --event x
expect int-0x80 3 "guest fault: (#UD invalid opcode |$(gp_int 0x80))" --env CASE=int_0x80 --event x

# the same through `unifaas run` (the tender linked into the CLI's front)
timeout 20 "$UNIFAAS" run --env CASE=div_zero --event x "$img" </dev/null >/dev/null 2>"$UF_TMP/$UF_SUITE.run.err"
rc=$?
if [ $rc -eq 3 ] && grep -q "^uf-hvt: $img: guest fault: #DE divide error" "$UF_TMP/$UF_SUITE.run.err" && no_stray "$img"; then
	pass unifaas-run-fault
else
	fail unifaas-run-fault "status $rc: $(tail -2 "$UF_TMP/$UF_SUITE.run.err" | tr '\n' ' ')"
fi

# a crash ends the unit; events committed before it keep their pushes
if expect crash-after-commit 3 'guest fault: #PF page fault: NULL pointer dereference' \
	--batch 1 --env CASE=crash_on --event a --event crash --event c; then
	got=$(cat "$UF_TMP/$UF_SUITE.crash-after-commit.out")
	[ "$got" = '{"queue":"seen","data":"a"}' ] && pass crash-after-commit-output ||
		fail crash-after-commit-output "stdout: $got"
fi
# in one batch nothing was committed yet: nothing may appear
if expect crash-in-batch 3 'guest fault: #PF page fault: NULL pointer dereference' \
	--env CASE=crash_on --event a --event crash --event c; then
	[ ! -s "$UF_TMP/$UF_SUITE.crash-in-batch.out" ] && pass crash-in-batch-output ||
		fail crash-in-batch-output "stdout: $(cat "$UF_TMP/$UF_SUITE.crash-in-batch.out")"
fi

# --- time limit -----------------------------------------------------------------
# The CPU-time timer must stop with the vCPU: a tick during teardown once wrote
# through the unmapped kvm_run page (SIGSEGV in 5-12% of such runs).  A
# faulting guest with a 1 ms limit, 200 times: status 3 every time.  Under
# QEMU's software emulation (UF_EMULATED, tests/emulated/run.sh) the guest
# does not always reach its fault within 1 ms of CPU time: there the time
# limit (status 4) ends it as cleanly, and the teardown is the same.
bad=""
for i in $(seq 200); do
	timeout 20 "$HVT" --timeout-ms 1 --env CASE=null_read --event x "$img" </dev/null >/dev/null 2>/dev/null
	rc=$?
	[ $rc -eq 4 ] && [ -n "${UF_EMULATED:-}" ] && rc=3
	[ $rc -ne 3 ] && bad+="run $i: status $rc; "
done
[ -z "$bad" ] && pass timer-after-teardown-200 || fail timer-after-teardown-200 "${bad:0:300}"
# (never stopped early: at least 200 ms; stopped soon: bounded in CPU time,
# which unlike the wall time does not grow with the machine's load)
timed expect timeout-spin 4 'time limit: event 1 used more than 200 ms of CPU time' \
	--timeout-ms 200 --env CASE=spin --event x
if [ "$TIMED_MS" -ge 200 ] && [ "$TIMED_CPU_MS" -lt 2000 ]; then
	pass timeout-spin-wall-time
else
	fail timeout-spin-wall-time "took $TIMED_MS ms, $TIMED_CPU_MS ms of CPU (expected >= 200 ms, < 2000 ms of CPU)"
fi
# the limit is per event, not per unit: three events of ~120 ms each pass
expect timeout-per-event 0 '' --timeout-ms 200 --env CASE=burn --event 120 --event 120 --event 120 &&
	{ [ "$(grep -c burnt "$UF_TMP/$UF_SUITE.timeout-per-event.out")" -eq 3 ] && pass timeout-per-event-output ||
		fail timeout-per-event-output "stdout: $(cat "$UF_TMP/$UF_SUITE.timeout-per-event.out")"; }
# The guest itself counts the events it starts (bootinfo->progress, guest-
# writable); a spinning guest that bumps the counter must still be stopped.
timed timeout 60 "$HVT" --timeout-ms 200 --env CASE=forge_progress --event x "$img" </dev/null >/dev/null \
	2>"$UF_TMP/$UF_SUITE.forge.err"
rc=$?
if [ $rc -eq 4 ] && [ "$TIMED_CPU_MS" -lt 2000 ] && grep -q "time limit" "$UF_TMP/$UF_SUITE.forge.err"; then
	pass timeout-forged-progress
else
	fail timeout-forged-progress "status $rc after $TIMED_CPU_MS ms of CPU: a guest that writes bootinfo->progress evades --timeout-ms 200"
fi
# ... also when the batch holds several events (the cap is then one limit per event)
timed timeout 60 "$HVT" --timeout-ms 200 --env CASE=forge_progress --event a --event b --event c --event d --event e "$img" \
	</dev/null >/dev/null 2>"$UF_TMP/$UF_SUITE.forge5.err"
rc=$?
if [ $rc -eq 4 ] && [ "$TIMED_CPU_MS" -lt 4000 ] && grep -q "time limit" "$UF_TMP/$UF_SUITE.forge5.err"; then
	pass timeout-forged-progress-batch
else
	fail timeout-forged-progress-batch "status $rc after $TIMED_CPU_MS ms of CPU: $(tail -1 "$UF_TMP/$UF_SUITE.forge5.err")"
fi
no_stray "$img" >/dev/null && pass timeout-forged-progress-no-stray || fail timeout-forged-progress-no-stray "$(no_stray "$img")"

# --- memory budget: malloc fails cleanly, nothing crashes -------------------------
# prints "huge=null big=null got=BYTES small=BYTES" (1 MiB blocks, then 4 KiB blocks)
got_mem() { sed -n 's/^huge=null big=null got=\([0-9]*\) small=\([0-9]*\)$/\1 \2/p' "$1"; }
MiB=$((1 << 20))
if expect malloc-over-budget 0 '' --env CASE=malloc_huge --event x; then
	read -r got8 small8 < <(got_mem "$UF_TMP/$UF_SUITE.malloc-over-budget.err")
	# 8 MiB budget: the image (from 1 MiB) and the 256 KiB stack leave under 7 MiB
	if [ -n "$got8" ] && [ "$got8" -ge $((5 * MiB)) ] && [ $((got8 + small8)) -lt $((7 * MiB)) ]; then
		pass malloc-over-budget-amount
	else
		fail malloc-over-budget-amount "$(head -c 200 "$UF_TMP/$UF_SUITE.malloc-over-budget.err")"
	fi
fi
if expect malloc-over-budget-16M 0 '' --mem 16M --env CASE=malloc_huge --event x; then
	read -r got16 small16 < <(got_mem "$UF_TMP/$UF_SUITE.malloc-over-budget-16M.err")
	if [ -n "$got16" ] && [ "$got16" -ge $((13 * MiB)) ] && [ $((got16 + small16)) -lt $((15 * MiB)) ] &&
		[ -n "${got8:-}" ] && [ $((got16 - got8)) -ge $((7 * MiB)) ] && [ $((got16 - got8)) -le $((9 * MiB)) ]; then
		pass malloc-over-budget-16M-amount
	else
		fail malloc-over-budget-16M-amount "8M: ${got8:-?}, 16M: $(head -c 200 "$UF_TMP/$UF_SUITE.malloc-over-budget-16M.err")"
	fi
fi
# an event larger than the whole budget: the runtime cannot take it (status 5)
head -c $((10 * MiB)) /dev/zero | tr '\0' 'e' >"$UF_TMP/$UF_SUITE.big-event"
echo >>"$UF_TMP/$UF_SUITE.big-event"
expect event-over-budget 5 'out of memory: an event is larger than the free guest memory \(budget 8 MiB; raise it with --mem\)' \
	--env CASE=exit0 --events "$UF_TMP/$UF_SUITE.big-event"
# input without a line end (/dev/zero): the tender buffers a line up to the
# budget, not forever (it grew to 4 GiB in 4 s and was killed at 20 s)
expect endless-line 5 'out of memory: an event is larger than the free guest memory \(budget 8 MiB; raise it with --mem\)' \
	--env CASE=exit0 --events /dev/zero

# --- printing megabytes: every byte arrives (the unit's log is the tender's stderr) -
if expect print-8MiB-printf 0 '' --env CASE=print_lines --event x; then
	e="$UF_TMP/$UF_SUITE.print-8MiB-printf.err"
	bytes=$(wc -c <"$e")
	lines=$(wc -l <"$e")
	first=$(head -n 1 "$e")
	if [ "$bytes" -eq 8388608 ] && [ "$lines" -eq 8192 ] && [ "${#first}" -eq 1023 ] &&
		[ "${first:0:9}" = 00000000x ] && [ "$(tail -n 1 "$e" | cut -c1-9)" = 00008191x ] &&
		[ ! -s "$UF_TMP/$UF_SUITE.print-8MiB-printf.out" ]; then
		pass print-8MiB-printf-bytes
	else
		fail print-8MiB-printf-bytes "$bytes bytes, $lines lines, first line ${#first} chars"
	fi
fi
if expect print-8MiB-fwrite 0 '' --mem 32M --env CASE=print_fwrite --event x; then
	want=$(python3 -c '
import hashlib
n = 8 << 20
print(hashlib.sha256(bytes(10 if i % 64 == 63 else 97 + (i // 64) % 26 for i in range(n))).hexdigest())')
	have=$(sha256sum <"$UF_TMP/$UF_SUITE.print-8MiB-fwrite.err" | cut -d' ' -f1)
	bytes=$(wc -c <"$UF_TMP/$UF_SUITE.print-8MiB-fwrite.err")
	[ "$bytes" -eq 8388608 ] && [ "$have" = "$want" ] && pass print-8MiB-fwrite-bytes ||
		fail print-8MiB-fwrite-bytes "$bytes bytes, sha256 $have"
fi

# the readers going away is not the unit's problem: no SIGPIPE, status 0
timeout 20 "$HVT" --env CASE=print_lines --event x "$img" </dev/null >/dev/null 2> >(head -c 1000 >/dev/null)
rc=$?
[ $rc -eq 0 ] && no_stray "$img" >/dev/null && pass log-reader-gone || fail log-reader-gone "status $rc"
many=()
for i in $(seq 1000); do many+=(--event "g$i"); done
timeout 20 "$HVT" --env CASE=handler_fail "${many[@]}" "$img" </dev/null 2>/dev/null |
	head -c 100 >/dev/null
rc=${PIPESTATUS[0]}
[ $rc -eq 0 ] && no_stray "$img" >/dev/null && pass push-reader-gone || fail push-reader-gone "status $rc"

# --- ending on purpose ------------------------------------------------------------
expect abort 1 'function error: abort\(\) called \(signal 6\)' --env CASE=abort --event x
expect exit-3 1 'function error: exited with status 3' --env CASE=exit3 --event x
expect exit-0 0 '' --env CASE=exit0 --event x
# a failed handler: its pushes are dropped and it is reported; the others commit
if expect handler-fails 0 '' --env CASE=handler_fail --event good1 --event bad2 --event good3; then
	o="$UF_TMP/$UF_SUITE.handler-fails.out"
	want='{"queue":"results","data":"from-good1"}
{"queue":"audit","data":"1"}
{"queue":"results","data":"from-good3"}
{"queue":"audit","data":"3"}'
	[ "$(cat "$o")" = "$want" ] && pass handler-fails-pushes || fail handler-fails-pushes "stdout: $(cat "$o")"
	grep -qx 'uf-hvt: event 2 failed: handler returned 1; its pushes were dropped' \
		"$UF_TMP/$UF_SUITE.handler-fails.err" && pass handler-fails-reported ||
		fail handler-fails-reported "stderr: $(cat "$UF_TMP/$UF_SUITE.handler-fails.err")"
fi
# the same one event per batch
if expect handler-fails-batch1 0 '' --batch 1 --env CASE=handler_fail --event bad1 --event good2; then
	o="$UF_TMP/$UF_SUITE.handler-fails-batch1.out"
	want='{"queue":"results","data":"from-good2"}
{"queue":"audit","data":"2"}'
	[ "$(cat "$o")" = "$want" ] && grep -q 'event 1 failed' "$UF_TMP/$UF_SUITE.handler-fails-batch1.err" &&
		pass handler-fails-batch1-pushes || fail handler-fails-batch1-pushes "stdout: $(cat "$o")"
fi

# --- what a running tender holds ---------------------------------------------------
# inspect_fds NAME [extra uf-hvt options]: starts a guest that sleeps 2 s (with a
# 200 ms CPU limit, which sleeping must not trip), and while it sleeps checks
# that the tender holds only stdio, /dev/kvm, the VM, the vCPU (and the --kv
# file) and runs under seccomp.  Inherited descriptors are closed first, so
# that the check sees only what the tender opened itself.
inspect_fds() {
	local name=$1 kv=$2
	shift 2
	local err="$UF_TMP/$UF_SUITE.$name.err" out="$UF_TMP/$UF_SUITE.$name.out"
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
		done
		exec timeout 20 "$HVT" --timeout-ms 200 ${kv:+--kv "$kv"} "$@" --env CASE=sleep --env SLEEP_S=5 --event x "$img" \
			</dev/null >"$out" 2>"$err"
	) &
	local tpid=$! hpid=""
	wait_for 10 grep -q 'faults: sleeping' "$err"
	hpid=$(pgrep -P "$tpid" -x uf-hvt | head -n 1)
	local fds="" seccomp=""
	if [ -n "$hpid" ]; then
		# one readlink for all of them, while the guest sleeps 5 s (a fork
		# each took over 2 s in all at a load of 25: the tender had woken
		# and was closing them, CI of 7fa45b5)
		local f all=()
		for f in /proc/$hpid/fd/*; do
			[ "${f##*/}" -le 2 ] || all+=("$f")
		done
		[ ${#all[@]} -eq 0 ] || fds=$(readlink "${all[@]}")$'\n'
		seccomp=$(awk '/^Seccomp:/ {print $2}' /proc/$hpid/status)
	fi
	wait "$tpid"
	local rc=$?
	local want="anon_inode:kvm-vcpu:0
anon_inode:kvm-vm
/dev/kvm"
	# with --kv: the new version of the file, beside it, and the socket to the
	# helper that renames it over the file at the end (tender/kvfile.c)
	[ -n "$kv" ] && want+=$'\n'"$(dirname "$kv")/.$(basename "$kv").XXXXXX"$'\n'"socket"
	want=$(sort <<<"$want")
	fds=$(sed -e 's/\.[A-Za-z0-9]\{6\}$/.XXXXXX/' -e 's/^socket:\[[0-9]*\]$/socket/' <<<"${fds%$'\n'}" | sort)
	if [ -z "$hpid" ]; then
		fail "$name" "could not find the running tender (status $rc)"
	elif [ "$fds" != "$want" ]; then
		fail "$name" "descriptors: $(tr '\n' ' ' <<<"$fds")"
	elif [ "$seccomp" != 2 ]; then
		fail "$name" "Seccomp: '$seccomp', expected 2 (filter)"
	elif [ $rc -ne 0 ] || ! grep -q 'faults: woke up' "$err"; then
		fail "$name" "status $rc (sleeping must not count against --timeout-ms): $(tail -2 "$err" | tr '\n' ' ')"
	elif ! no_stray "$img" >/dev/null; then
		fail "$name" "$(no_stray "$img")"
	else
		pass "$name"
	fi
}
inspect_fds tender-descriptors ""
echo '{"k":"v"}' >"$UF_TMP/$UF_SUITE.kv.json"
inspect_fds tender-descriptors-kv "$UF_TMP/$UF_SUITE.kv.json"

# --- the --kv file is replaced, never rewritten in place ----------------------------
# A tender killed while it writes the new store (here by SIGXFSZ: a 1 KiB file
# size limit and a 3 KiB store) leaves the old file whole and no temporary file.
kvd="$UF_TMP/$UF_SUITE.kvdir"
mkdir -p "$kvd"
printf '{"pad": "%03000d", "fdc-count": "41"}' 7 >"$kvd/kv.json"
cp "$kvd/kv.json" "$UF_TMP/$UF_SUITE.kv.orig"
fdc=$(build_guest "$UF_TOP/functions/fdc.c" "$UF_TMP/$UF_SUITE-fdc.uf")
{ (ulimit -f 1 && exec timeout 20 "$HVT" --kv "$kvd/kv.json" --event open "$fdc" </dev/null >/dev/null 2>&1); } 2>/dev/null
rc=$?
left() { [ "$(ls -A "$kvd")" = kv.json ]; }
settled() { # the helper removes the temporary file once it sees the tender gone
	wait_for 30 left # (2 s was a bound on how soon a loaded machine runs it)
}
if [ $rc -eq 0 ]; then
	fail kv-killed-while-saving "status 0: the tender was not stopped by the file size limit"
elif ! cmp -s "$kvd/kv.json" "$UF_TMP/$UF_SUITE.kv.orig"; then
	fail kv-killed-while-saving "status $rc; the old store was changed: $(head -c 100 "$kvd/kv.json")"
elif ! settled; then
	fail kv-killed-while-saving "temporary file left: $(ls -A "$kvd" | tr '\n' ' ')"
else
	pass kv-killed-while-saving
fi
timeout 20 "$HVT" --kv "$kvd/kv.json" --event open "$fdc" </dev/null >/dev/null 2>&1
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["fdc-count"] != "42" or len(d["pad"]) != 3000)' "$kvd/kv.json" &&
	left && pass kv-saved-whole || fail kv-saved-whole "$(head -c 100 "$kvd/kv.json"); $(ls -A "$kvd" | tr '\n' ' ')"

no_stray "$img" >/dev/null && pass no-stray-tenders || fail no-stray-tenders "$(no_stray "$img")"
finish
