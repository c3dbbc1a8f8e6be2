/*
 * kvm_exit_aarch64_guest.S - the guest of bench/kvm_exit_aarch64.c, copied
 * to guest-physical 0x1000 and entered at EL1 with the MMU off: libuf's
 * hypercall store (guest/hypercall.h's UF_HC_STORE, call 1) in a loop, so
 * that each KVM_RUN the host makes is one MMIO exit and one re-entry.
 */
#include "hypercall.h"

	.text
	.globl exit_guest_start, exit_guest_end
	.balign 4096
exit_guest_start:
	movz	w11, #0x2345
1:	UF_HC_STORE w11, x12, 1
	b	1b
	.balign 4096
exit_guest_end:
