/*
 * hvt_boot.c - the state a guest sees at its first instruction, the part
 * every architecture shares: the memory layout (uf_abi.h's map: image at
 * 1 MiB, heap above it, a guard page, the stack at the top of guest memory),
 * the regions the guest may write, the one guest-memory accessor, the boot
 * info page and the Linux-style initial stack (argc, argv, envp, auxv)
 * musl's start code expects.  What the CPU needs to enforce the layout
 * (page tables, descriptor tables, exception vectors) is the architecture's:
 * hvt_boot_x86_64.c and hvt_boot_aarch64.c, one linked per ARCH
 * (sources.mk), behind hvt_boot_arch() and hvt_boot_vcpu().
 *
 * Invariants: guest virtual = guest physical; the regions listed writable
 * (bootinfo, heap, stack) are the only memory hypercalls may write
 * (hvt_gpa_writable); nothing is executable but the image's text (W^X,
 * enforced by each architecture's page tables).
 */
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "hvt.h"

int hvt_region_has(const struct hvt_region *r, int n, uint64_t lo, uint64_t hi)
{
	for (int i = 0; i < n; i++)
		if (lo >= r[i].lo && hi <= r[i].hi)
			return 1;
	return 0;
}

static void region_add_rw(struct hvt_layout *lay, uint64_t lo, uint64_t hi)
{
	lay->rw[lay->nrw++] = (struct hvt_region){lo, hi};
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

	if (hvt_boot_arch(h, err, errlen) < 0)
		return -1;

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
