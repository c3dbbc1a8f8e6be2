/*
 * entry_aarch64.S - the guest's first instruction, its exception vectors
 * (the syscall entry among them) and the image note, on aarch64.
 *
 * The whole guest runs at EL1 on SP_EL0 (EL1t).  The tender enters _start
 * with the MMU on (its page tables), SP_EL0 at a Linux-style initial stack
 * (argc, argv, envp, auxv), SP_EL1 at the top of the exception stack, every
 * interrupt masked (DAIF) and VBAR_EL1 at uf_vectors (named by the note).
 * Invariants:
 *  - every exception is taken on SP_EL1, the exception stack: a program
 *    stack that overflowed into its guard page still reaches a vector.
 *  - musl's `svc #0` (x8 = number, x0-x5 arguments, result in x0, every
 *    other register kept) is a synchronous exception from EL1 on SP_EL0:
 *    the first vector.  It saves all general and FP/SIMD registers on
 *    SP_EL1 (the compiled syscall layer may use both), calls uf_syscall
 *    on the program's stack (SPSel 0: as on x86-64, the structs it passes
 *    to hypercalls lie in memory the guest may write) and returns with
 *    ERET.  No interrupt is enabled, so nothing else can enter while it
 *    runs; a fault inside it is reported like any other.
 *  - every other exception (an abort, an undefined instruction, an
 *    alignment fault, a breakpoint, an svc inside the vectors) is reported
 *    with one UF_HC_FAULT hypercall (uf_abi.h: vector entry, ESR_EL1,
 *    ELR_EL1, FAR_EL1, SPSR_EL1, SP) from a record built at the top of the
 *    exception stack, using no stack before it: an exception stack that
 *    overflowed reports too.  It never returns: the tender ends the unit.
 *  - .note.unifaas carries UF_ABI_VERSION and the vector table's address,
 *    which the tender writes to VBAR_EL1 (common/image.c checks it is
 *    2 KiB-aligned text).
 * TLS needs nothing here: musl writes TPIDR_EL0 itself (msr tpidr_el0),
 * which EL1 may do.
 */
#include "hypercall.h"

/* uf_fault makes UF_IST_TOP with one movz (16 bits, shifted by 16) */
#if (UF_IST_TOP & 0xffff) || (UF_IST_TOP >> 32)
#error "UF_IST_TOP must be a multiple of 64 KiB below 4 GiB (uf_fault's movz)"
#endif

/* the syscall frame on SP_EL1: x0-x30, ELR, SPSR, FPSR, FPCR, q0-q31 */
#define F_ELR  248
#define F_FPSR 264
#define F_Q    288
#define FRAME  (F_Q + 32 * 16)

	.section .text.boot, "ax"
	.globl _start
_start:
	mov x29, #0
	mov x30, #0
	mov x0, sp
	bl uf_boot
1:	b 1b

	.text
	.globl uf_vectors, uf_syscall_entry
	.balign UF_VECTORS_ALIGN
uf_vectors:
uf_syscall_entry:
	/* 0x000: synchronous, from EL1 on SP_EL0: svc or a fault */
	sub sp, sp, #FRAME
	stp x0, x1, [sp]
	mrs x0, esr_el1
	lsr x0, x0, #26
	cmp x0, #0x15		/* EC 0x15: svc from AArch64 */
	b.eq uf_svc
	mov x0, #0
	b uf_fault

/* the other 15 entries report: vector N */
.macro VEC n
	.balign 0x80
	mov x0, #\n
	b uf_fault
.endm
	VEC 1
	VEC 2
	VEC 3
	VEC 4
	VEC 5
	VEC 6
	VEC 7
	VEC 8
	VEC 9
	VEC 10
	VEC 11
	VEC 12
	VEC 13
	VEC 14
	VEC 15
	.balign 0x80

/* svc #0: x0-x1 are saved at [sp]; uf_syscall(x8, x0, ..., x5) */
uf_svc:
	stp x2, x3, [sp, #16]
	stp x4, x5, [sp, #32]
	stp x6, x7, [sp, #48]
	stp x8, x9, [sp, #64]
	stp x10, x11, [sp, #80]
	stp x12, x13, [sp, #96]
	stp x14, x15, [sp, #112]
	stp x16, x17, [sp, #128]
	stp x18, x19, [sp, #144]
	stp x20, x21, [sp, #160]
	stp x22, x23, [sp, #176]
	stp x24, x25, [sp, #192]
	stp x26, x27, [sp, #208]
	stp x28, x29, [sp, #224]
	str x30, [sp, #240]
	mrs x9, elr_el1
	mrs x10, spsr_el1
	stp x9, x10, [sp, #F_ELR]
	mrs x9, fpsr
	mrs x10, fpcr
	stp x9, x10, [sp, #F_FPSR]
	add x9, sp, #F_Q
	stp q0, q1, [x9, #0]
	stp q2, q3, [x9, #32]
	stp q4, q5, [x9, #64]
	stp q6, q7, [x9, #96]
	stp q8, q9, [x9, #128]
	stp q10, q11, [x9, #160]
	stp q12, q13, [x9, #192]
	stp q14, q15, [x9, #224]
	stp q16, q17, [x9, #256]
	stp q18, q19, [x9, #288]
	stp q20, q21, [x9, #320]
	stp q22, q23, [x9, #352]
	stp q24, q25, [x9, #384]
	stp q26, q27, [x9, #416]
	stp q28, q29, [x9, #448]
	stp q30, q31, [x9, #480]
	mov x6, x5
	mov x5, x4
	mov x4, x3
	mov x3, x2
	mov x2, x1
	ldr x1, [sp]
	mov x0, x8
	msr spsel, #0		/* the call runs on the program's stack, as on x86-64 */
	bl uf_syscall
	msr spsel, #1		/* back on SP_EL1, at the frame */
	add x9, sp, #F_Q
	ldp q0, q1, [x9, #0]
	ldp q2, q3, [x9, #32]
	ldp q4, q5, [x9, #64]
	ldp q6, q7, [x9, #96]
	ldp q8, q9, [x9, #128]
	ldp q10, q11, [x9, #160]
	ldp q12, q13, [x9, #192]
	ldp q14, q15, [x9, #224]
	ldp q16, q17, [x9, #256]
	ldp q18, q19, [x9, #288]
	ldp q20, q21, [x9, #320]
	ldp q22, q23, [x9, #352]
	ldp q24, q25, [x9, #384]
	ldp q26, q27, [x9, #416]
	ldp q28, q29, [x9, #448]
	ldp q30, q31, [x9, #480]
	ldp x9, x10, [sp, #F_FPSR]
	msr fpsr, x9
	msr fpcr, x10
	ldp x9, x10, [sp, #F_ELR]
	msr elr_el1, x9
	msr spsr_el1, x10
	ldr x1, [sp, #8]	/* x0 holds the result */
	ldp x2, x3, [sp, #16]
	ldp x4, x5, [sp, #32]
	ldp x6, x7, [sp, #48]
	ldp x8, x9, [sp, #64]
	ldp x10, x11, [sp, #80]
	ldp x12, x13, [sp, #96]
	ldp x14, x15, [sp, #112]
	ldp x16, x17, [sp, #128]
	ldp x18, x19, [sp, #144]
	ldp x20, x21, [sp, #160]
	ldp x22, x23, [sp, #176]
	ldp x24, x25, [sp, #192]
	ldp x26, x27, [sp, #208]
	ldp x28, x29, [sp, #224]
	ldr x30, [sp, #240]
	add sp, sp, #FRAME
	eret

/* x0: the vector entry.  struct uf_hc_fault at the top of the exception
 * stack (whatever SP_EL1 was: this never returns), then UF_HC_FAULT. */
uf_fault:
	mov x1, sp		/* entries 4-7 came from SP_EL1 */
	cmp x0, #4
	b.hs 1f
	mrs x1, sp_el0		/* entries 0-3: the program's stack */
1:	movz x2, #(UF_IST_TOP >> 16), lsl #16
	sub sp, x2, #64
	mrs x2, esr_el1
	mrs x3, elr_el1
	mrs x4, far_el1
	mrs x5, spsr_el1
	stp x0, x2, [sp]	/* vector, error = ESR_EL1 */
	stp x3, x4, [sp, #16]	/* rip = ELR_EL1, cs = FAR_EL1 */
	stp x5, x1, [sp, #32]	/* rflags = SPSR_EL1, rsp = SP */
	str xzr, [sp, #48]	/* ss */
	mov x6, sp
2:	UF_HC_STORE w6, x7, 4	/* 4: UF_HC_FAULT */
	b 2b

	UF_IMAGE_NOTE uf_vectors, 0	/* no exception table on aarch64 */

	.section .note.GNU-stack, "", @progbits
