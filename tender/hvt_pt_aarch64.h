/*
 * hvt_pt_aarch64.h - an aarch64 guest's stage-1 page tables
 * (hvt_pt_aarch64.c says how they are laid out).
 */
#ifndef UF_HVT_PT_AARCH64_H
#define UF_HVT_PT_AARCH64_H

#include <stddef.h>
#include <stdint.h>

enum hvt_pt_kind { HVT_PT_NONE, HVT_PT_RO, HVT_PT_RW, HVT_PT_RX };

/* Writes the tables at UF_PT_ADDR in mem (guest memory of mem_size bytes),
 * asking kind() what each 4 KiB page is; -1 with err if they do not fit. */
int hvt_pt_aarch64_build(uint8_t *mem, uint64_t mem_size, enum hvt_pt_kind (*kind)(void *ctx, uint64_t addr), void *ctx,
                         char *err, size_t errlen);
/* the level-3 descriptor of a page of this kind at addr (0: not mapped) */
uint64_t hvt_pt_aarch64_desc(enum hvt_pt_kind k, uint64_t addr);
/* what the vCPU's MAIR_EL1, TCR_EL1 and SCTLR_EL1 hold with these tables
 * (TTBR0_EL1 = UF_PT_ADDR) */
extern const uint64_t hvt_pt_aarch64_mair, hvt_pt_aarch64_tcr, hvt_pt_aarch64_sctlr;

struct hvt;
/* hvt_kvm_aarch64.c: the MMU on with these tables (MAIR, TCR, TTBR0, SCTLR) */
int hvt_kvm_aarch64_mmu(struct hvt *h, char *err, size_t errlen);
/* hvt_kvm_aarch64.c: after hvt_kvm_vcpu (EL1h on SP_EL1), run on SP_EL0 =
 * sp_el0 instead (EL1t, DAIF masked) with the exception vectors at vbar */
int hvt_kvm_aarch64_enter(struct hvt *h, uint64_t sp_el0, uint64_t vbar, char *err, size_t errlen);

#endif
