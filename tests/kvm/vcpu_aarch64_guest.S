/*
 * vcpu_aarch64_guest.S - the guest of tests/kvm/vcpu_aarch64.c, copied to
 * guest-physical 0x1000 and entered at EL1 with the MMU off.  It reports
 * what the tender set up by storing it to addresses outside guest memory,
 * each store one KVM_EXIT_MMIO: the thread pointer, the stack pointer, its
 * PC, CPACR_EL1's FP bits (by using a vector register), FAR_EL1 (set
 * here, read by the tender), makes a hypercall the way libuf does
 * (guest/hypercall.h's UF_HC_STORE), then runs an undefined instruction whose
 * vector stores ESR_EL1.  (An unaligned load on Device memory would give a
 * real data abort on hardware, but QEMU 7.2 does not fault it.)
 */
#include "hypercall.h"

	.text
	.globl vcpu_guest_start, vcpu_guest_end, vcpu_guest_store_pc
	.balign 4096
vcpu_guest_start:
	movz	x0, #0x10, lsl #16	/* 1 MiB: the first address past guest memory */
	mrs	x1, tpidr_el0
vcpu_guest_store_pc:
	str	x1, [x0]		/* exit 1: TPIDR_EL0 */
	mov	x2, sp
	str	x2, [x0, #8]		/* exit 2: SP */
	adr	x3, .
	str	x3, [x0, #16]		/* exit 3: this instruction's address */
	fmov	d0, x2			/* traps unless CPACR_EL1.FPEN is set */
	fmov	x4, d0
	str	x4, [x0, #24]		/* exit 4: SP again, through d0 */
	movz	x10, #0xbeef
	msr	far_el1, x10
	str	x10, [x0, #32]		/* exit 5: FAR_EL1 as set here */
	movz	w11, #0x2345
	UF_HC_STORE w11, x12, 3		/* exit 6: libuf's hypercall store, call 3 */
	adr	x5, vectors
	msr	vbar_el1, x5
	isb
	udf	#0			/* undefined instruction: to the vector */
1:	b	1b

	.balign 2048
vectors:
	.skip	0x200			/* current EL with SP_EL0: nothing expected */
	mrs	x9, esr_el1		/* current EL with SP_ELx, synchronous */
	str	x9, [x0, #40]		/* exit 7: ESR_EL1 */
2:	b	2b
	.balign 4096
vcpu_guest_end:
