/*
 * memory.c - the guest's heap: brk and anonymous mmap over one region.
 *
 * The tender gives the guest [heap_start, heap_end) in the boot info; every
 * page there is mapped read-write, non-executable.  brk grows up from
 * heap_start; mmap takes runs of free pages searching down from heap_end, so
 * the two meet only when memory is exhausted, and then both fail with
 * -ENOMEM (malloc returns NULL; nothing crashes).
 *
 * Invariants: `used` has a bit per heap page that brk or mmap owns; memory
 * handed out by mmap is zero: pages never used are zero from the host, pages
 * given back by munmap are marked `dirty` and cleared when reused.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "hypercall.h"

#define MAX_PAGES (UF_MEM_MAX / UF_PAGE_SIZE)
#define WORD_BITS 64

static uint64_t used[MAX_PAGES / WORD_BITS];
static uint64_t dirty[MAX_PAGES / WORD_BITS];
static uintptr_t heap_start, cur_brk;
static uint64_t npages;

static int bit_get(const uint64_t *map, uint64_t i)
{
	return (int)((map[i / WORD_BITS] >> (i % WORD_BITS)) & 1);
}

static void bit_set(uint64_t *map, uint64_t i, int v)
{
	if (v)
		map[i / WORD_BITS] |= 1ull << (i % WORD_BITS);
	else
		map[i / WORD_BITS] &= ~(1ull << (i % WORD_BITS));
}

void uf_memory_init(void)
{
	const struct uf_bootinfo *bi = uf_bootinfo();
	heap_start = cur_brk = (uintptr_t)bi->heap_start;
	npages = (bi->heap_end - bi->heap_start) / UF_PAGE_SIZE;
	if (npages > MAX_PAGES)
		npages = MAX_PAGES;
}

static uint64_t page_of(uintptr_t a)
{
	return (a - heap_start) / UF_PAGE_SIZE;
}

static void claim(uint64_t first, uint64_t n)
{
	for (uint64_t i = first; i < first + n; i++) {
		if (bit_get(dirty, i)) {
			memset((void *)(heap_start + i * UF_PAGE_SIZE), 0, UF_PAGE_SIZE);
			bit_set(dirty, i, 0);
		}
		bit_set(used, i, 1);
	}
}

long uf_memory_brk(uintptr_t addr)
{
	uintptr_t end = heap_start + npages * UF_PAGE_SIZE;
	if (addr < heap_start || addr > end)
		return (long)cur_brk;
	uint64_t have = page_of(cur_brk + UF_PAGE_SIZE - 1);
	uint64_t want = page_of(addr + UF_PAGE_SIZE - 1);
	for (uint64_t i = have; i < want; i++)
		if (bit_get(used, i))
			return (long)cur_brk; /* would run into an mmap region */
	if (want > have)
		claim(have, want - have);
	for (uint64_t i = want; i < have; i++) {
		bit_set(used, i, 0);
		bit_set(dirty, i, 1);
	}
	cur_brk = addr;
	return (long)cur_brk;
}

long uf_memory_mmap(uintptr_t addr, uint64_t len, int prot, int flags, int fd)
{
	(void)addr;
	(void)prot;
	if (!(flags & MAP_ANONYMOUS) || fd != -1)
		return -ENODEV; /* no files in a unit */
	if (flags & MAP_FIXED)
		return -EINVAL;
	if (len == 0)
		return -EINVAL;
	uint64_t n = (len + UF_PAGE_SIZE - 1) / UF_PAGE_SIZE;
	uint64_t lowest = page_of(cur_brk + UF_PAGE_SIZE - 1);
	uint64_t run = 0;
	for (uint64_t i = npages; i-- > lowest;) {
		run = bit_get(used, i) ? 0 : run + 1;
		if (run == n) {
			claim(i, n);
			return (long)(heap_start + i * UF_PAGE_SIZE);
		}
	}
	return -ENOMEM;
}

long uf_memory_munmap(uintptr_t addr, uint64_t len)
{
	if (addr % UF_PAGE_SIZE || addr < heap_start || len == 0)
		return -EINVAL;
	uint64_t first = page_of(addr);
	uint64_t n = (len + UF_PAGE_SIZE - 1) / UF_PAGE_SIZE;
	if (first + n > npages)
		return -EINVAL;
	for (uint64_t i = first; i < first + n; i++) {
		if (bit_get(used, i))
			bit_set(dirty, i, 1);
		bit_set(used, i, 0);
	}
	return 0;
}
