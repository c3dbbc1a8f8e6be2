/*
 * hypercall.h - libuf's side of the hypercall transport (uf_abi.h), and the
 * only place that knows its instruction.
 *
 * A call is one 32-bit store of the argument struct's address to the call's
 * slot in the hypercall page, UF_HC_ADDR(call).  No memory is behind that
 * page: the store exits to the tender (KVM_EXIT_MMIO), which serves the call
 * and fills the struct's out fields before the guest continues.  The
 * "memory" clobber makes the compiler write the struct before and reread it
 * after.  The store must be one plain store that KVM can decode: x86-64
 * `movl`; aarch64 `str wN, [xM]` (no writeback, no pair: the CPU reports
 * only plain loads and stores to the hypervisor with their register;
 * tests/kvm/vcpu_aarch64 checks the exit KVM gives for it).  The
 * exception stubs (entry_x86_64.S, entry_aarch64.S) store through UF_HC_STORE below.
 */
#ifndef UF_GUEST_HYPERCALL_H
#define UF_GUEST_HYPERCALL_H

#include "uf_abi.h"

#ifdef __ASSEMBLER__

/* UF_HC_STORE VAL32, ADDR64, CALL: call CALL (a number) with the address in
 * register VAL32; ADDR64 is a scratch register. */
// clang-format off
#if defined(__aarch64__)
/* VAL32 is a w register, ADDR64 an x register; UF_HC_PAGE is 1 GiB-aligned */
.macro UF_HC_STORE val, addr, call
	movz \addr, #(UF_HC_PAGE >> 16), lsl #16
	movk \addr, #(UF_HC_SLOT * \call)
	str \val, [\addr]
.endm
#else
.macro UF_HC_STORE val, addr, call
	mov $(UF_HC_PAGE + UF_HC_SLOT * \call), \addr
	movl \val, (\addr)
.endm
#endif

/* UF_IMAGE_NOTE ENTRY, TABLE: the image's .note.unifaas (uf_abi.h: the ABI
 * version, then the two addresses the tender points the CPU at) */
.macro UF_IMAGE_NOTE entry, table
	.pushsection .note.unifaas, "a"
	.balign 4
	.long 8			/* namesz: "unifaas\0" */
	.long UF_NOTE_DESC_SIZE
	.long UF_NOTE_ABI
	.asciz "unifaas"
	.balign 4
	.long UF_ABI_VERSION
	.long 0
	.quad \entry
	.quad \table
	.popsection
.endm
// clang-format on

#else

#include <stdint.h>

static inline void uf_hypercall(enum uf_hc call, void *arg)
{
#if defined(__aarch64__)
	__asm__ volatile("str %w0, [%1]"
	                 :
	                 : "r"((uint32_t)(uintptr_t)arg), "r"((uintptr_t)UF_HC_ADDR(call))
	                 : "memory");
#else
	__asm__ volatile("movl %0, (%1)"
	                 :
	                 : "r"((uint32_t)(uintptr_t)arg), "r"((uintptr_t)UF_HC_ADDR(call))
	                 : "memory");
#endif
}

static inline struct uf_bootinfo *uf_bootinfo(void)
{
	return (struct uf_bootinfo *)(uintptr_t)UF_BOOTINFO_ADDR;
}

/* Internal entry points shared between libuf's files. */
_Noreturn void uf_exit(uint32_t kind, int status, const char *msg);
long uf_memory_brk(uintptr_t addr);
long uf_memory_mmap(uintptr_t addr, uint64_t len, int prot, int flags, int fd);
long uf_memory_munmap(uintptr_t addr, uint64_t len);
void uf_memory_init(void);
void uf_api_flush(void);
struct uf_ctx;
void uf_api_fail(struct uf_ctx *ctx, int code); /* fail the current event with the handler's code */

#endif /* __ASSEMBLER__ */
#endif
