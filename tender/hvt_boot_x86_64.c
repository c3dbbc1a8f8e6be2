/*
 * hvt_boot_x86_64.c - what an x86-64 CPU needs to enforce the guest's
 * layout (hvt_boot.c has the part every architecture shares): the page
 * tables, the GDT, the TSS and the IDT, and the vCPU's first state.
 *
 * Memory map (guest physical = virtual, see uf_abi.h):
 *   0x0000  not mapped            NULL dereferences fault
 *   0x1000  GDT, TSS, IDT         supervisor-only
 *   0x2000  struct uf_bootinfo    read-write
 *   0x3000  not mapped            guard below the exception stack
 *   0x4000  exception (IST1) stack, supervisor-only
 *   0x10000 page tables           not mapped: the guest cannot change them
 *   1 MiB   image segments        text R+X, rodata R, data/bss R+W
 *   ...     heap                  R+W, up to the stack guard page
 *   top     stack (guard page below it), argv/envp/auxv at the very top
 *   ...     not mapped, at least 1 GiB (guest memory is at most UF_MEM_MAX)
 *   2 GiB   the hypercall page (UF_HC_PAGE)  W+NX, no memory behind it
 * The guest runs in ring 3: every page it may use carries the user bit,
 * every mapped page is non-executable except the image text, read-only
 * pages are read-only (and CR0.WP keeps them so for the exception stubs):
 * W^X holds.  The hypercall page is the one mapped page outside guest
 * memory; x86 page tables cannot map a page write-only, so a read of it is
 * possible too, but nothing is stored there: every access exits to the
 * tender (hvt_hypercall), which serves exactly one 32-bit store to a call's
 * slot and ends the unit on anything else.  No I/O port is open: the TSS
 * has no I/O permission bitmap, so IN and OUT fault (#GP) in ring 3.
 * 4 KiB page tables are used where attributes change; 2 MiB pages elsewhere.
 */
#include <stdio.h>
#include <string.h>

#include "hvt.h"

#define PTE_P  0x1ull
#define PTE_W  0x2ull
#define PTE_U  0x4ull
#define PTE_A  0x20ull
#define PTE_D  0x40ull
#define PTE_PS 0x80ull
#define PTE_NX (1ull << 63)
#define MIB2   (2ull << 20)

enum page_kind { PG_NONE, PG_RO, PG_RW, PG_RX, PG_SUPER_RO, PG_SUPER_RW };

static enum page_kind page_kind(const struct hvt_layout *lay, uint64_t a)
{
	uint64_t e = a + UF_PAGE_SIZE;
	if (a == UF_GDT_ADDR)
		return PG_SUPER_RO;
	if (a >= UF_IST_LO && a < UF_IST_TOP)
		return PG_SUPER_RW;
	if (hvt_region_has(lay->exec, lay->nexec, a, e))
		return PG_RX;
	if (hvt_region_has(lay->ro, lay->nro, a, e))
		return PG_RO;
	if (hvt_region_has(lay->rw, lay->nrw, a, e))
		return PG_RW;
	return PG_NONE;
}

static uint64_t pte_for(enum page_kind k)
{
	switch (k) {
	case PG_RX:
		return PTE_P | PTE_A | PTE_U;
	case PG_RO:
		return PTE_P | PTE_A | PTE_NX | PTE_U;
	case PG_RW:
		return PTE_P | PTE_W | PTE_A | PTE_D | PTE_NX | PTE_U;
	case PG_SUPER_RO:
		return PTE_P | PTE_A | PTE_NX;
	case PG_SUPER_RW:
		return PTE_P | PTE_W | PTE_A | PTE_D | PTE_NX;
	default:
		return 0;
	}
}

/* Page tables: one PML4, one PDPT, one PD (memory <= 1 GiB), then a PD and
 * a PT that map the hypercall page alone, then the PTs memory needs. */
#define PT_HC_PD (UF_PT_ADDR + 3 * UF_PAGE_SIZE)
#define PT_HC_PT (UF_PT_ADDR + 4 * UF_PAGE_SIZE)
static int build_page_tables(struct hvt *h, char *err, size_t errlen)
{
	uint64_t *pml4 = (uint64_t *)(h->mem + UF_PT_ADDR);
	uint64_t *pdpt = pml4 + 512;
	uint64_t *pd = pdpt + 512;
	uint64_t next_pt = UF_PT_ADDR + 5 * UF_PAGE_SIZE;
	const uint64_t table = PTE_P | PTE_W | PTE_A | PTE_U;

	_Static_assert(UF_HC_PAGE % (1ull << 30) == 0 && UF_HC_PAGE >= UF_MEM_MAX + (1ull << 30) &&
	                   UF_HC_PAGE < (512ull << 30),
	               "the hypercall page starts its own 1 GiB, under the first PDPT, clear of memory");
	pml4[0] = (UF_PT_ADDR + UF_PAGE_SIZE) | table;
	pdpt[0] = (UF_PT_ADDR + 2 * UF_PAGE_SIZE) | table;
	pdpt[UF_HC_PAGE >> 30] = PT_HC_PD | table;
	((uint64_t *)(h->mem + PT_HC_PD))[0] = PT_HC_PT | table;
	((uint64_t *)(h->mem + PT_HC_PT))[0] = UF_HC_PAGE | pte_for(PG_RW);
	for (uint64_t r = 0; r < h->mem_size / MIB2; r++) {
		uint64_t base = r * MIB2;
		int uniform = 1;
		for (uint64_t a = base; a < base + MIB2 && uniform; a += UF_PAGE_SIZE)
			uniform = page_kind(&h->lay, a) == PG_RW;
		if (uniform) {
			pd[r] = base | PTE_PS | pte_for(PG_RW);
			continue;
		}
		if (next_pt + UF_PAGE_SIZE > UF_IMAGE_BASE) {
			snprintf(err, errlen, "too many page tables for this layout");
			return -1;
		}
		uint64_t *pt = (uint64_t *)(h->mem + next_pt);
		pd[r] = next_pt | PTE_P | PTE_W | PTE_A | PTE_U;
		next_pt += UF_PAGE_SIZE;
		for (int i = 0; i < 512; i++) {
			uint64_t a = base + (uint64_t)i * UF_PAGE_SIZE;
			uint64_t bits = pte_for(page_kind(&h->lay, a));
			pt[i] = bits ? a | bits : 0;
		}
	}
	return 0;
}

/* A 64-bit TSS without an I/O permission bitmap: its base offset (0x66)
 * points past the limit, so every port is closed to ring 3 (IOPL is 0). */
#define TSS_LIMIT 0x67u

uint32_t hvt_tss_limit(void)
{
	return TSS_LIMIT;
}

static void build_gdt_tss_idt(struct hvt *h)
{
	uint64_t *gdt = (uint64_t *)(h->mem + UF_GDT_ADDR);
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffull; /* kernel 64-bit code */
	gdt[2] = 0x00cf93000000ffffull; /* kernel data */
	gdt[3] = 0;                     /* (32-bit user code: unused) */
	gdt[4] = 0x00cff3000000ffffull; /* user data, DPL 3 */
	gdt[5] = 0x00affb000000ffffull; /* user 64-bit code, DPL 3 */
	uint64_t base = UF_TSS_ADDR, limit = TSS_LIMIT;
	gdt[6] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0xbull << 40) | (1ull << 47) |
	         (((base >> 24) & 0xff) << 56);
	gdt[7] = base >> 32;

	uint8_t *tss = h->mem + UF_TSS_ADDR;
	memset(tss, 0, TSS_LIMIT + 1);
	uint64_t stack = UF_IST_TOP;
	memcpy(tss + 0x04, &stack, 8);  /* rsp0 */
	memcpy(tss + 0x24, &stack, 8);  /* ist1 */
	uint16_t iomap = TSS_LIMIT + 1; /* no bitmap */
	memcpy(tss + 0x66, &iomap, 2);

	uint8_t *idt = h->mem + UF_IDT_ADDR;
	for (int v = 0; v < 32; v++) {
		uint64_t a = h->lay.exc_handlers[v];
		uint8_t *g = idt + 16 * v;
		uint16_t lo = (uint16_t)a, mid = (uint16_t)(a >> 16), sel = UF_SEL_CODE;
		uint32_t hi = (uint32_t)(a >> 32), zero = 0;
		memcpy(g, &lo, 2);
		memcpy(g + 2, &sel, 2);
		g[4] = 1;    /* IST1 */
		g[5] = 0x8e; /* present, DPL 0, interrupt gate: ring 3 cannot `int` into it */
		memcpy(g + 6, &mid, 2);
		memcpy(g + 8, &hi, 4);
		memcpy(g + 12, &zero, 4);
	}
}

int hvt_boot_arch(struct hvt *h, char *err, size_t errlen)
{
	if (build_page_tables(h, err, errlen) < 0)
		return -1;
	build_gdt_tss_idt(h);
	return 0;
}

/* the vCPU in 64-bit mode, ring 3, at the entry point (hvt_kvm_x86_64.c) */
int hvt_boot_vcpu(struct hvt *h, uint64_t rsp, char *err, size_t errlen)
{
	return hvt_kvm_vcpu(h, h->lay.entry, rsp, err, errlen);
}
