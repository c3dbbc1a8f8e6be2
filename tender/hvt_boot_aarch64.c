/*
 * hvt_boot_aarch64.c - what an aarch64 CPU needs to enforce the guest's
 * layout (hvt_boot.c has the part every architecture shares): the stage-1
 * page tables (hvt_pt_aarch64.c) and the vCPU's first state.
 *
 * Memory map (guest physical = virtual, uf_abi.h):
 *   0x0000  not mapped            NULL dereferences fault
 *   0x1000  not mapped            (x86's descriptor tables)
 *   0x2000  struct uf_bootinfo    read-write
 *   0x3000  not mapped            guard below the exception stack
 *   0x4000  exception stack       read-write, SP_EL1 starts at UF_IST_TOP
 *   0x10000 page tables           not mapped: the guest cannot change them
 *   1 MiB   image segments        text R+X, rodata R, data/bss R+W
 *   ...     heap, guard page, stack (argv/envp/auxv at its top)
 *   2 GiB   the hypercall page    Device-nGnRnE, no memory behind it
 * The guest runs at EL1 (there is no EL0 code) on SP_EL0 (PSTATE EL1t), so
 * that every exception switches to SP_EL1, the exception stack: a stack
 * overflow into the guard page still reaches libuf's vector, which
 * reports it.  VBAR_EL1 is libuf's vector table, named by the image's note
 * (common/image.c checks it is 2 KiB-aligned text); musl's `svc #0` is
 * taken there too.  Every exception is masked (DAIF): no interrupt ever
 * reaches the guest.  W^X: only text is executable (hvt_pt_aarch64.c);
 * at EL1 the guest's own code could turn its MMU off (SCTLR_EL1) and lift
 * that for itself, which KVM lets no tender trap: stage 2 and the
 * hypercall checks are what confine it (docs/tender.md "W^X").
 */
#include <stdio.h>

#include "hvt.h"
#include "hvt_pt_aarch64.h"

static enum hvt_pt_kind page_kind(void *ctx, uint64_t a)
{
	const struct hvt_layout *lay = ctx;
	uint64_t e = a + UF_PAGE_SIZE;
	if (a >= UF_IST_LO && a < UF_IST_TOP)
		return HVT_PT_RW;
	if (hvt_region_has(lay->exec, lay->nexec, a, e))
		return HVT_PT_RX;
	if (hvt_region_has(lay->ro, lay->nro, a, e))
		return HVT_PT_RO;
	if (hvt_region_has(lay->rw, lay->nrw, a, e))
		return HVT_PT_RW;
	return HVT_PT_NONE;
}

int hvt_boot_arch(struct hvt *h, char *err, size_t errlen)
{
	return hvt_pt_aarch64_build(h->mem, h->mem_size, page_kind, &h->lay, err, errlen);
}

/* EL1t at the entry point: SP_EL0 the initial stack, SP_EL1 the exception
 * stack, VBAR_EL1 libuf's vectors, the MMU on with the tables above. */
int hvt_boot_vcpu(struct hvt *h, uint64_t rsp, char *err, size_t errlen)
{
	if (hvt_kvm_vcpu(h, h->lay.entry, UF_IST_TOP, err, errlen) < 0 ||
	    hvt_kvm_aarch64_enter(h, rsp, h->lay.note.syscall_entry, err, errlen) < 0)
		return -1;
	return hvt_kvm_aarch64_mmu(h, err, errlen);
}
