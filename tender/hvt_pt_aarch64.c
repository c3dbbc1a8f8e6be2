/*
 * hvt_pt_aarch64.c - the stage-1 page tables of an aarch64 guest at EL1
 * (issue 12: what hvt_boot.c's page tables are on x86-64), and the
 * translation registers that go with them.
 *
 * 4 KiB granule, 39-bit virtual addresses (TCR_EL1.T0SZ = 25): the walk
 * starts at level 1, one L1 entry per GiB.  Guest virtual = guest physical.
 * L1[0] covers memory (at most UF_MEM_MAX = 1 GiB): 2 MiB blocks where a
 * region is all read-write, else an L3 table of 4 KiB pages.  The hypercall
 * page UF_HC_PAGE gets its own L1 entry, L2 and L3 tables and is the one
 * Device-nGnRnE page (every access exits to the tender, in program order).
 * Everything else is unmapped (a translation fault).  W^X: only R+X pages
 * are executable at EL1 (PXN clear); every page is UXN (nothing runs at
 * EL0); read-only pages have AP[2] set; SCTLR_EL1.WXN makes every writable
 * page execute-never in hardware as well.
 *
 * Invariants: pure (writes only the tables, in guest memory at UF_PT_ADDR,
 * below UF_IMAGE_BASE), builds on any host, so the unit tests check it on
 * x86-64.
 */
#include <stdio.h>
#include <string.h>

#include "hvt_pt_aarch64.h"
#include "uf_abi.h"

#define D_TABLE  3ull        /* L1/L2 entry pointing to the next level */
#define D_BLOCK  1ull        /* L2 entry mapping 2 MiB */
#define D_PAGE   3ull        /* L3 entry mapping 4 KiB */
#define A_NORMAL (0ull << 2) /* MAIR attribute 0 */
#define A_DEVICE (1ull << 2) /* MAIR attribute 1 */
#define A_RO     (1ull << 7) /* AP[2]: read-only */
#define A_SH     (3ull << 8) /* inner shareable */
#define A_AF     (1ull << 10)
#define A_PXN    (1ull << 53)
#define A_UXN    (1ull << 54)
#define MIB2     (2ull << 20)

static uint64_t attrs(enum hvt_pt_kind k)
{
	switch (k) {
	case HVT_PT_RX:
		return A_NORMAL | A_RO | A_SH | A_AF | A_UXN;
	case HVT_PT_RO:
		return A_NORMAL | A_RO | A_SH | A_AF | A_UXN | A_PXN;
	case HVT_PT_RW:
		return A_NORMAL | A_SH | A_AF | A_UXN | A_PXN;
	default:
		return 0;
	}
}

uint64_t hvt_pt_aarch64_desc(enum hvt_pt_kind k, uint64_t addr)
{
	uint64_t a = attrs(k);
	return a ? addr | D_PAGE | a : 0;
}

int hvt_pt_aarch64_build(uint8_t *mem, uint64_t mem_size, enum hvt_pt_kind (*kind)(void *ctx, uint64_t addr), void *ctx,
                         char *err, size_t errlen)
{
	_Static_assert(UF_HC_PAGE % (1ull << 30) == 0 && UF_HC_PAGE >= UF_MEM_MAX && UF_HC_PAGE < (512ull << 30),
	               "the hypercall page starts its own GiB inside the 39-bit address space");
	if (mem_size > UF_MEM_MAX || mem_size % MIB2) {
		snprintf(err, errlen, "memory of %lu bytes is not a multiple of 2 MiB up to 1 GiB",
		         (unsigned long)mem_size);
		return -1;
	}
	uint64_t l1a = UF_PT_ADDR, l2a = l1a + UF_PAGE_SIZE, hc_l2a = l2a + UF_PAGE_SIZE,
	         hc_l3a = hc_l2a + UF_PAGE_SIZE, next = hc_l3a + UF_PAGE_SIZE;
	memset(mem + l1a, 0, next - l1a);
	uint64_t *l1 = (uint64_t *)(mem + l1a), *l2 = (uint64_t *)(mem + l2a);
	l1[0] = l2a | D_TABLE;
	l1[UF_HC_PAGE >> 30] = hc_l2a | D_TABLE;
	((uint64_t *)(mem + hc_l2a))[0] = hc_l3a | D_TABLE;
	((uint64_t *)(mem + hc_l3a))[0] = UF_HC_PAGE | D_PAGE | A_DEVICE | A_AF | A_UXN | A_PXN;
	for (uint64_t r = 0; r < mem_size / MIB2; r++) {
		uint64_t base = r * MIB2;
		int uniform = 1;
		for (uint64_t a = base; a < base + MIB2 && uniform; a += UF_PAGE_SIZE)
			uniform = kind(ctx, a) == HVT_PT_RW;
		if (uniform) {
			l2[r] = base | D_BLOCK | attrs(HVT_PT_RW);
			continue;
		}
		if (next + UF_PAGE_SIZE > UF_IMAGE_BASE) {
			snprintf(err, errlen, "too many page tables for this layout");
			return -1;
		}
		uint64_t *l3 = (uint64_t *)(mem + next);
		l2[r] = next | D_TABLE;
		next += UF_PAGE_SIZE;
		for (int i = 0; i < 512; i++) {
			uint64_t a = base + (uint64_t)i * UF_PAGE_SIZE;
			l3[i] = hvt_pt_aarch64_desc(kind(ctx, a), a);
		}
	}
	return 0;
}

/* MAIR_EL1: attribute 0 Normal write-back, attribute 1 Device-nGnRnE */
const uint64_t hvt_pt_aarch64_mair = 0xff;
/* TCR_EL1: T0SZ 25 (39 bits), walks write-back inner shareable, 4 KiB
 * granule, no TTBR1 walks (EPD1), 36-bit physical addresses */
const uint64_t hvt_pt_aarch64_tcr = 25 | (1ull << 8) | (1ull << 10) | (3ull << 12) | (1ull << 23) | (1ull << 32);
/* SCTLR_EL1: the ARMv8.0 RES1 bits, MMU, caches, stack alignment, WXN */
const uint64_t hvt_pt_aarch64_sctlr =
    0x30d00800ull | (1ull << 0) | (1ull << 2) | (1ull << 3) | (1ull << 12) | (1ull << 19);
