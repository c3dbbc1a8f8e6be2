/*
 * hvt_boot.c - the state a guest sees at its first instruction.
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
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

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

static int in_regions(const struct hvt_region *r, int n, uint64_t lo, uint64_t hi)
{
	for (int i = 0; i < n; i++)
		if (lo >= r[i].lo && hi <= r[i].hi)
			return 1;
	return 0;
}

static enum page_kind page_kind(const struct hvt_layout *lay, uint64_t a)
{
	uint64_t e = a + UF_PAGE_SIZE;
	if (a == UF_GDT_ADDR)
		return PG_SUPER_RO;
	if (a >= UF_IST_LO && a < UF_IST_TOP)
		return PG_SUPER_RW;
	if (in_regions(lay->exec, lay->nexec, a, e))
		return PG_RX;
	if (in_regions(lay->ro, lay->nro, a, e))
		return PG_RO;
	if (in_regions(lay->rw, lay->nrw, a, e))
		return PG_RW;
	return PG_NONE;
}

static void region_add_rw(struct hvt_layout *lay, uint64_t lo, uint64_t hi)
{
	lay->rw[lay->nrw++] = (struct hvt_region){lo, hi};
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

int hvt_gpa_writable(const struct hvt_layout *lay, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < lay->nrw; i++)
		if (gpa >= lay->rw[i].lo && gpa <= lay->rw[i].hi && len <= lay->rw[i].hi - gpa)
			return 1;
	return 0;
}

/* The one guest-memory accessor; its rule (copy, then check) is in hvt.h. */
void *hvt_guest_ptr(struct hvt *h, uint64_t gpa, uint64_t len, int writable)
{
	if (gpa < UF_PAGE_SIZE || gpa > h->mem_size || len > h->mem_size - gpa)
		return NULL;
	if (writable && !hvt_gpa_writable(&h->lay, gpa, len))
		return NULL;
	return h->mem + gpa;
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

static uint64_t push_bytes(struct hvt *h, uint64_t *sp, const void *p, size_t n)
{
	*sp -= n;
	memcpy(h->mem + *sp, p, n);
	return *sp;
}

/* Linux-style initial stack: argc, argv, envp, auxv, as musl's start expects. */
static int build_stack(struct hvt *h, uint64_t *rsp, char *err, size_t errlen)
{
	struct hvt_layout *lay = &h->lay;
	uint64_t sp = lay->stack_top;
	const char *name = strrchr(h->opt.image, '/');
	name = name ? name + 1 : h->opt.image;

	uint64_t argv0 = push_bytes(h, &sp, name, strlen(name) + 1);
	uint64_t envp[h->opt.nenv + 1];
	for (int i = 0; i < h->opt.nenv; i++)
		envp[i] = push_bytes(h, &sp, h->opt.env[i], strlen(h->opt.env[i]) + 1);
	uint8_t rnd[16];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		snprintf(err, errlen, "getrandom failed");
		return -1;
	}
	uint64_t at_random = push_bytes(h, &sp, rnd, sizeof(rnd));
	sp &= ~7ull;
	uint64_t at_phdr = push_bytes(h, &sp, lay->phdrs, lay->phnum * sizeof(Elf64_Phdr));

	uint64_t auxv[] = {AT_PHDR,      at_phdr,  AT_PHENT,   sizeof(Elf64_Phdr), AT_PHNUM,  lay->phnum, AT_PAGESZ,
	                   UF_PAGE_SIZE, AT_ENTRY, lay->entry, AT_RANDOM,          at_random, AT_SECURE,  0,
	                   AT_NULL,      0};
	size_t words = 1 + 2 + (size_t)h->opt.nenv + 1 + sizeof(auxv) / 8;
	sp = (sp - words * 8) & ~15ull;
	if (sp < lay->stack_lo + UF_PAGE_SIZE) {
		snprintf(err, errlen, "environment does not fit on the stack");
		return -1;
	}
	uint64_t *w = (uint64_t *)(h->mem + sp);
	*w++ = 1;
	*w++ = argv0;
	*w++ = 0;
	for (int i = 0; i < h->opt.nenv; i++)
		*w++ = envp[i];
	*w++ = 0;
	memcpy(w, auxv, sizeof(auxv));
	*rsp = sp;
	return 0;
}

int hvt_boot_setup(struct hvt *h, uint64_t *rsp, char *err, size_t errlen)
{
#if !defined(__x86_64__)
	/* What follows is x86-64's (page table format, GDT, TSS, IDT).  The
	 * aarch64 tender builds and runs its vCPU (hvt_kvm_aarch64.c) but has no
	 * page tables yet: it must not run an image without W^X (issue 12 §3). */
	(void)h;
	(void)rsp;
	snprintf(err, errlen,
	         "this tender cannot boot images on aarch64 yet: its page tables and exception vectors "
	         "are not written (issue 12); run the function on an x86-64 machine");
	return -1;
#endif
	struct hvt_layout *lay = &h->lay;
	lay->stack_top = h->mem_size;
	lay->stack_lo = h->mem_size - h->opt.stack_size;
	lay->heap_start = lay->image_end;
	lay->heap_end = lay->stack_lo - UF_PAGE_SIZE; /* guard page */
	if (lay->heap_end < lay->heap_start + (64u << 10)) {
		snprintf(err, errlen,
		         "memory budget of %lu KiB leaves no room for a heap (image ends at %lu KiB, stack %lu KiB)",
		         (unsigned long)(h->mem_size >> 10), (unsigned long)(lay->image_end >> 10),
		         (unsigned long)(h->opt.stack_size >> 10));
		return -1;
	}
	region_add_rw(lay, UF_BOOTINFO_ADDR, UF_BOOTINFO_ADDR + UF_PAGE_SIZE);
	region_add_rw(lay, lay->heap_start, lay->heap_end);
	region_add_rw(lay, lay->stack_lo, lay->stack_top);

	if (build_page_tables(h, err, errlen) < 0)
		return -1;
	build_gdt_tss_idt(h);

	struct uf_bootinfo *bi = (struct uf_bootinfo *)(h->mem + UF_BOOTINFO_ADDR);
	*bi = (struct uf_bootinfo){
	    .magic = UF_BOOTINFO_MAGIC,
	    .abi_version = UF_ABI_VERSION,
	    .mem_size = h->mem_size,
	    .heap_start = lay->heap_start,
	    .heap_end = lay->heap_end,
	    .stack_lo = lay->stack_lo,
	    .stack_top = lay->stack_top,
	    .idle_ms = h->opt.idle_ms,
	    .batch_max = h->opt.batch_max,
	    .lim_writes = (uint32_t)h->opt.limits.v[UF_LIM_WRITES],
	    .lim_value_bytes = (uint32_t)h->opt.limits.v[UF_LIM_VALUE_BYTES],
	    .lim_event_bytes = (uint32_t)h->opt.limits.v[UF_LIM_EVENT_BYTES],
	    .lim_commit_bytes = (uint32_t)h->opt.limits.v[UF_LIM_COMMIT_BYTES],
	    .lim_manifest = h->opt.limits.from_manifest,
	};
	return build_stack(h, rsp, err, errlen);
}
