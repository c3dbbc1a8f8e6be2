/*
 * hypercall.h - libuf's side of the hypercall transport (uf_abi.h).
 *
 * One OUT of the argument struct's address to the call's port; the tender
 * fills the struct's out fields before the guest continues.  The "memory"
 * clobber makes the compiler write the struct before and reread it after.
 */
#ifndef UF_GUEST_HYPERCALL_H
#define UF_GUEST_HYPERCALL_H

#include <stdint.h>

#include "uf_abi.h"

static inline void uf_hypercall(enum uf_hc call, void *arg)
{
	__asm__ volatile("outl %0, %1" : : "a"((uint32_t)(uintptr_t)arg), "Nd"(UF_HC_PORT(call)) : "memory");
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

#endif
