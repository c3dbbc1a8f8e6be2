#!/usr/bin/env bash
# Hypercall abuse: a guest issuing raw stores to the hypercall page with
# garbage, and other accesses to that page and to I/O ports (tests/guest/hcabuse.c)
# must end with status 6 and one line "bad hypercall: CALL: ..." naming the
# call, except where the ABI answers with -errno (then the guest sees it and
# exits 0).  No hypercall may write into the code, read-only data or the
# tender's structures (W^X), and no tender may be left running.
. "$(dirname "$0")/../lib.sh"

img="$UF_TMP/$UF_SUITE-hcabuse.uf"
build_guest "$UF_TOP/tests/guest/hcabuse.c" "$img" >/dev/null || {
	fail build "tests/guest/hcabuse.c did not build"
	exit 0
}
pass build

# expect NAME STATUS ERE [uf-hvt options...]: runs CASE=NAME (bounded).  For
# STATUS 0 the guest's own output (on stderr) must contain a line matching
# ERE and the tender must print no reason; otherwise the reason must be the
# one line "uf-hvt: IMAGE: <ERE...>" at the end of stderr.  A case UF_PICK leaves out
# (tests/lib.sh, uf_picked) is not run: returns 1.
expect() {
	local name=$1 want=$2 re=$3
	shift 3
	[ -n "${UF_CASES:-}" ] && uf_case output "$name" "$want" "$re" --event ev1 "$@" --env "CASE=$name" "$img" && return 0
	uf_picked "$name" || return 1
	local tag=${name//[:\/]/_}
	local out="$UF_TMP/$UF_SUITE.$tag.out" err="$UF_TMP/$UF_SUITE.$tag.err"
	timeout 20 "$HVT" --event ev1 "$@" --env "CASE=$name" "$img" </dev/null >"$out" 2>"$err"
	local rc=$? why=""
	local reasons
	reasons=$(grep -c "^uf-hvt: $img: " "$err")
	if [ $rc -ne "$want" ]; then
		why="status $rc, expected $want"
	elif [ "$want" -eq 0 ] && [ "$reasons" -ne 0 ]; then
		why="a clean exit printed a reason"
	elif [ "$want" -eq 0 ] && ! grep -Eqx "$re" "$err"; then
		why="guest output has no line /$re/"
	elif [ "$want" -ne 0 ] && [ "$reasons" -ne 1 ]; then
		why="$reasons reason lines, expected exactly 1"
	elif [ "$want" -ne 0 ] && ! tail -n 1 "$err" | grep -Eq "^uf-hvt: $img: ($re)"; then
		why="reason does not match /$re/"
	fi
	[ -z "$why" ] && ! no_stray "$img" >/dev/null && why=$(no_stray "$img")
	if [ -z "$why" ]; then
		pass "$name"
		return 0
	fi
	fail "$name" "$why; stderr: $(tail -c 300 "$err" | tr '\n' ' ')"
	return 1
}

# preflight: a valid call must work and the tender must exit, or every case
# below would only measure the 20 s timeout
if ! expect console_ok 0 'console-ok'; then
	fail preflight "a valid hypercall did not give a clean exit; skipping the rest"
	exit 0
fi

# --- the argument struct itself at a bad address, for every call ------------------
# null: 0; unmapped: 0x3000 (guard below the exception stack); beyond: 0xfffffff0;
# text: the function's code; rodata: read-only data; end: straddles the top of
# guest memory; gdt: 0x1000 (supervisor-only); pagetables: 0x10000
for call in console time random exit fault pop commit kv http net yield setfs topic; do
	for where in null unmapped beyond text rodata end gdt pagetables; do
		case $where in
		null) at=0x0 ;;
		unmapped) at=0x3000 ;;
		beyond) at=0xfffffff0 ;;
		gdt) at=0x1000 ;;
		pagetables) at=0x10000 ;;
		*) at='0x[0-9a-f]+' ;;
		esac
		expect "addr:$call:$where" 6 \
			"bad hypercall: $call: argument struct at $at \([0-9]+ bytes\) is not in writable guest memory"
	done
done

# --- console --------------------------------------------------------------------
expect console_misaligned 0 'ret=0'
expect console_fd7 0 'ret=-9'  # -EBADF
expect console_fd0 0 'ret=-9'
expect console_buf_null 6 'bad hypercall: console: buf \[0x0, \+16\) is outside guest memory'
expect console_buf_beyond 6 'bad hypercall: console: buf \[0xfffffff0, \+16\) is outside guest memory'
expect console_buf_straddle 6 'bad hypercall: console: buf \[0x7ffff0, \+32\) is outside guest memory'
expect console_buf_wrap 6 'bad hypercall: console: buf \[0xfffffffffffffff8, \+16\) is outside guest memory'
expect console_len_max1 6 'bad hypercall: console: length 1048577 exceeds 1048576'
expect console_len_huge 6 'bad hypercall: console: length 18446744073709551615 exceeds 1048576'

# --- time -----------------------------------------------------------------------
expect time_clock2 6 'bad hypercall: time: unknown clock 2'
expect time_clock_max 6 'bad hypercall: time: unknown clock 4294967295'

# --- random: bounded, and never into memory the guest may not write ----------------
expect random_ok 0 'ret=0'
expect random_len 6 'bad hypercall: random: length 257 exceeds 256'
expect random_len_huge 6 'bad hypercall: random: length 18446744073709551615 exceeds 256'
for c in null beyond text rodata gdt idt ist pagetables guard cross_guard; do
	expect "random_$c" 6 'bad hypercall: random: buf \[0x[0-9a-f]+, \+16\) is not writable guest memory'
done

# --- exit -------------------------------------------------------------------------
expect exit_kind 6 'bad hypercall: exit: unknown kind 7'
expect exit_msg_beyond 6 'bad hypercall: exit: msg \[0xfffffff0, \+64\) is outside guest memory'
expect exit_msg_null_page 6 'bad hypercall: exit: msg \[0x8, \+64\) is outside guest memory'
expect exit_msg_len_huge 1 'function error: m{256} \(signal 6\)$'
expect exit_status7 1 'function error: exited with status 7'
# The guest's message is part of the reason line: a newline or control
# characters in it must not split the reason or forge another tender line.
if uf_picked exit_msg_newline; then
	timeout 20 "$HVT" --env CASE=exit_msg_newline "$img" </dev/null >/dev/null 2>"$UF_TMP/$UF_SUITE.newline.err"
	rc=$?
	lines=$(wc -l <"$UF_TMP/$UF_SUITE.newline.err")
	if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && ! grep -q $'^uf-hvt: forged\|\r\|\x1b' "$UF_TMP/$UF_SUITE.newline.err"; then
		pass exit_msg_newline
	else
		fail exit_msg_newline "status $rc, $lines lines on stderr: the guest's exit message is printed raw: $(cat -v "$UF_TMP/$UF_SUITE.newline.err" | tr '\n' '|')"
	fi
fi

# --- fault: only the frame the exception stubs push on the exception stack -------
expect fault_ist_end 6 'bad hypercall: fault: argument struct at 0xfff8 \(56 bytes\) is not in writable guest memory'
expect fault_below_ist 6 'bad hypercall: fault: argument struct at 0x3ff8 \(56 bytes\) is not in writable guest memory'
expect fault_stack 6 'bad hypercall: fault: argument struct at 0x[0-9a-f]+ \(56 bytes\) is not in writable guest memory'

# --- pop ------------------------------------------------------------------------
expect pop_max0 6 'bad hypercall: pop: max_events 0 is not in 1..256'
expect pop_max1000 6 'bad hypercall: pop: max_events 1000 is not in 1..256'
expect pop_max257 6 'bad hypercall: pop: max_events 257 is not in 1..256'
for c in buf_null buf_text buf_rodata buf_beyond cap0 cap_huge; do
	expect "pop_$c" 6 'bad hypercall: pop: buffer \[0x[0-9a-f]+, \+[0-9]+\) is not writable guest memory'
done
expect pop_twice 6 'bad hypercall: pop: the previous batch of 1 events was not committed'
expect pop_small 0 'status=2 needed=48 count=0'

# --- commit: strict parsing, nothing reaches the queues on a bad batch -------------
commit_bad() { # NAME ERE
	if expect "$1" 6 "$2"; then
		[ ! -s "$UF_TMP/$UF_SUITE.$1.out" ] && pass "$1-nothing-pushed" ||
			fail "$1-nothing-pushed" "stdout: $(head -c 200 "$UF_TMP/$UF_SUITE.$1.out")"
	fi
}
commit_bad commit_count_mismatch 'bad hypercall: commit: count 5 but 0 events are in flight'
commit_bad commit_count_mismatch_inflight 'bad hypercall: commit: count 2 but 1 events are in flight'
commit_bad commit_npush_overflow 'bad hypercall: commit: 10 push records cannot fit in 16 bytes'
commit_bad commit_results_null 'bad hypercall: commit: results buffer lies outside guest memory'
commit_bad commit_results_beyond 'bad hypercall: commit: results buffer lies outside guest memory'
commit_bad commit_pushes_beyond 'bad hypercall: commit: pushes buffer lies outside guest memory'
commit_bad commit_pushes_len_huge 'bad hypercall: commit: pushes buffer lies outside guest memory'
commit_bad commit_outs_beyond 'bad hypercall: commit: outputs buffer lies outside guest memory'
commit_bad commit_out_past 'bad hypercall: commit: output record 0 at offset 0: lengths \(topic 3, data 4096\) are out of range or run past the buffer'
expect topic_beyond 6 'bad hypercall: topic: \[0x[0-9a-f]+, \+8\) lies outside guest memory'
expect topic_len0 6 'bad hypercall: topic: length 0 is not in 1..65535'
expect topic_wildcard 0 'ret=-22'
commit_bad commit_push_event_range 'bad hypercall: commit: push record 1 names event 5, which is not in the batch'
commit_bad commit_push_failed_event 'bad hypercall: commit: push record 0 names event 0, which is (failed|not acknowledged)'
commit_bad commit_push_data_len 'bad hypercall: commit: push record 1 at offset 32: lengths \(queue 3, data 1073741824\) run past the buffer'
commit_bad commit_push_data_len_max 'bad hypercall: commit: push record 0 at offset 0: lengths \(queue 3, data 18446744073709551607\) run past the buffer'
commit_bad commit_push_queue_len 'bad hypercall: commit: push record 0 at offset 0: lengths \(queue 4294967295, data 1\) run past the buffer'
commit_bad commit_push_no_nul 'bad hypercall: commit: push record 0: queue name is not 1..128 of \[A-Za-z0-9._-\] or a terminator is missing'
commit_bad commit_push_bad_queue 'bad hypercall: commit: push record 0: queue name is not'
commit_bad commit_push_empty_queue 'bad hypercall: commit: push record 0: queue name is not'
commit_bad commit_push_truncated 'bad hypercall: commit: push record 1 at offset 32 runs past the staged 40 bytes'
if expect commit_ok 0 'ret=0'; then
	[ "$(cat "$UF_TMP/$UF_SUITE.commit_ok.out")" = '{"queue":"good","data":"committed"}' ] &&
		pass commit_ok-pushed || fail commit_ok-pushed "stdout: $(cat "$UF_TMP/$UF_SUITE.commit_ok.out")"
fi
expect commit_nothing 0 'ret=0'

# --- kv ---------------------------------------------------------------------------
expect kv_keylen0 6 'bad hypercall: kv: key length 0 is not in 1..512'
expect kv_keylen513 6 'bad hypercall: kv: key length 513 is not in 1..512'
expect kv_keylen100000 6 'bad hypercall: kv: key length 100000 is not in 1..512'
expect kv_key_null 6 'bad hypercall: kv: key \[0x0, \+3\) lies outside guest memory'
expect kv_key_beyond 6 'bad hypercall: kv: key \[0xfffffff8, \+16\) lies outside guest memory'
expect kv_op9 6 'bad hypercall: kv: unknown operation 9'
for c in rodata pagetables beyond absent_text; do
	expect "kv_get_$c" 6 'bad hypercall: kv get: buffer \[0x[0-9a-f]+, \+16\) is not writable guest memory'
done
expect kv_get_cap_huge 6 'bad hypercall: kv get: buffer \[0x[0-9a-f]+, \+18446744073709551615\) is not writable guest memory'
expect kv_set_len_huge 6 'bad hypercall: kv set: value length 16777217 exceeds 16777216'
expect kv_set_val_beyond 6 'bad hypercall: kv set: value \[0xfffff000, \+64\) lies outside guest memory'
expect kv_set_val_null 6 'bad hypercall: kv set: value \[0x0, \+64\) lies outside guest memory'
expect kv_get_absent 0 'ret=-2' # -ENOENT
expect kv_roundtrip 0 'val_len=16'
# a unit ended by a bad hypercall still saves its KV store (the value set
# before the refused GET into the code is there)
echo '{"before":"1"}' >"$UF_TMP/$UF_SUITE.kv.json"
if expect kv_get_text 6 'bad hypercall: kv get: buffer' --kv "$UF_TMP/$UF_SUITE.kv.json"; then
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d=={"before":"1","hcabuse-key":"0123456789abcdef"} else 1)' \
		"$UF_TMP/$UF_SUITE.kv.json" && pass kv-saved-after-bad-hypercall ||
		fail kv-saved-after-bad-hypercall "$(cat "$UF_TMP/$UF_SUITE.kv.json")"
fi

# --- http: malformed calls end the unit (status 6) even in a local run, where a
# valid call answers -ENOSYS (no egress server); net without a TAP device: -ENOSYS
expect http_garbage 6 'bad hypercall: http: method_len 18446744073709551615 is not 1..16'
expect http_resp_text 6 'bad hypercall: http: resp \[0x[0-9a-f]+, \+16\) is not writable guest memory'
expect http_url_beyond 6 'bad hypercall: http: url \[0xfffffff0, \+19\) is outside guest memory'
expect http_headers_long 6 'bad hypercall: http: headers_len 16385 exceeds 16384'
expect net_enosys 0 'ret=-38'
expect http_api 0 'ret=-38'

# --- yield, setfs -------------------------------------------------------------------
expect yield_short 0 'ret=0'
expect setfs_beyond 6 'bad hypercall: setfs: base 0xfffffff0 is outside guest memory'
expect setfs_huge 6 'bad hypercall: setfs: base 0x8000000000000000 is outside guest memory'

# --- accesses to the hypercall page that are not one 32-bit store to a call's slot --
# (UF_HC_PAGE 0x80000000, slots 8 bytes apart): each ends the unit, naming it
expect mmio_slot_count 6 'bad hypercall: store to 0x80000068 in the hypercall page, which is not a hypercall'
expect mmio_misaligned 6 'bad hypercall: store to 0x80000004 in the hypercall page, which is not a hypercall'
expect mmio_last 6 'bad hypercall: store to 0x80000ffc in the hypercall page, which is not a hypercall'
expect mmio_st8 6 'bad hypercall: store of 1 bytes at 0x80000000 in the hypercall page \(hypercalls are one 32-bit store\)'
expect mmio_st16 6 'bad hypercall: store of 2 bytes at 0x80000018 in the hypercall page'
expect mmio_st64 6 'bad hypercall: store of 8 bytes at 0x80000000 in the hypercall page'
expect mmio_read 6 'bad hypercall: read of 4 bytes at 0x80000000 in the hypercall page'
# read-modify-write instructions read first
expect mmio_add 6 'bad hypercall: read of 4 bytes at 0x80000008 in the hypercall page'
expect mmio_xchg 6 'bad hypercall: read of 4 bytes at 0x80000008 in the hypercall page'
# KVM splits a 16-byte store into 8-byte ones: the first is refused
expect mmio_sse 6 'bad hypercall: store of (8|16) bytes at 0x80000008 in the hypercall page'
# an x87 store, which KVM cannot emulate: where the guest's CPL is 0 to KVM
# (PVM) it says so and the tender names the page; where it is 3 (VMX, SVM)
# KVM raises #UD in the guest
if uf_picked mmio_x87; then
	x87=$(timeout 20 "$HVT" --event ev1 --env CASE=mmio_x87 "$img" </dev/null 2>&1 >/dev/null)
	rc=$?
	case "$rc:$x87" in
	"6:uf-hvt: $img: bad hypercall: an instruction KVM cannot emulate touched the hypercall page at rip 0x"*" (hypercalls are one 32-bit store)" | \
		"3:uf-hvt: $img: guest fault: #UD invalid opcode at rip 0x"*) pass mmio_x87 ;;
	*) fail mmio_x87 "status $rc: $x87" ;;
	esac
fi
# a string store: the first element is a call, the second (slot + 4) is none
expect mmio_rep_stosl 6 'bad hypercall: store to 0x8000000c in the hypercall page, which is not a hypercall'
# the page alone is mapped: around it is unmapped, and it is never executable
expect mmio_straddle 3 'guest fault: #PF page fault: access beyond the guest memory budget \(write of address 0x80001000\)'
expect mmio_below 3 'guest fault: #PF page fault: access beyond the guest memory budget \(write of address 0x7ffffffc\)'
expect mmio_above 3 'guest fault: #PF page fault: access beyond the guest memory budget \(write of address 0x80001000\)'
expect mmio_exec 3 'guest fault: #PF page fault: execute of non-executable memory \(execute of address 0x80000000\) at rip 0x80000000'

# --- I/O ports: none is open (no I/O permission bitmap since ABI 7): the CPU
# raises #GP in the guest before any VM exit, even for ABI 6's hypercall ports
for c in out32_500 out8_3f8 out32_cf8 in8_60 rep_outsl; do
	expect "port_$c" 3 'guest fault: #GP general protection: error code 0x0 at rip'
done

no_stray "$img" >/dev/null && pass no-stray-tenders || fail no-stray-tenders "$(no_stray "$img")"
finish
