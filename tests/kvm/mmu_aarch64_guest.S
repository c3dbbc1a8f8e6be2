/*
 * mmu_aarch64_guest.S - the guest of tests/kvm/mmu_aarch64.c, at 0x1000,
 * entered at EL1 with the MMU on (tender/hvt_pt_aarch64.c's tables): 0x1000
 * R+X, 0x20000 R+W, 0x21000 R, the rest of its 2 MiB unmapped.  It reports
 * through 64-bit stores to the hypercall page (mapped Device: each one
 * exits): a write and read of the R+W page, a read of the R page, then four
 * faults, each reported by the vector (ESR_EL1 then FAR_EL1) and skipped:
 * a store to the R page, a store to its own text, a jump into the R+W page,
 * a load from an unmapped address.
 */
#include "uf_abi.h"

	.text
	.globl mmu_guest_start, mmu_guest_end
	.balign 4096
mmu_guest_start:
	movz	x0, #(UF_HC_PAGE >> 16), lsl #16
	adr	x5, vectors
	msr	vbar_el1, x5
	isb
	movz	x1, #0x2, lsl #16	/* 0x20000: R+W */
	movz	w2, #0x1111
	str	w2, [x1]
	ldr	w3, [x1]
	str	x3, [x0]		/* exit: 0x1111 */
	movk	x1, #0x1000		/* 0x21000: R */
	ldr	w3, [x1]
	str	x3, [x0, #8]		/* exit: what the test put there */
	str	w2, [x1]		/* permission fault: read-only */
	adr	x1, mmu_guest_start
	str	w2, [x1]		/* permission fault: text is not writable */
	movz	x1, #0x2, lsl #16
	blr	x1			/* instruction abort: R+W is not executable */
	movz	x1, #0x30, lsl #16	/* 0x300000: past memory, unmapped */
	ldr	w3, [x1]		/* translation fault */
	str	xzr, [x0, #16]		/* exit: done */
1:	b	1b

	.balign 2048
vectors:
	.skip	0x200			/* current EL with SP_EL0: not used */
	mrs	x9, esr_el1		/* current EL with SP_ELx, synchronous */
	str	x9, [x0, #24]		/* exit: ESR_EL1 */
	mrs	x8, far_el1
	str	x8, [x0, #32]		/* exit: FAR_EL1 */
	lsr	x10, x9, #26
	cmp	x10, #0x21		/* instruction abort: back to the caller */
	b.eq	2f
	mrs	x10, elr_el1		/* else past the faulting instruction */
	add	x10, x10, #4
	msr	elr_el1, x10
	eret
2:	msr	elr_el1, x30
	eret
	.balign 4096
mmu_guest_end:
