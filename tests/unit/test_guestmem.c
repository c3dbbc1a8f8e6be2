/*
 * test_guestmem.c - hvt_guest_ptr / hvt_gpa_writable (tender/hvt_boot.c):
 * the one place that decides which guest addresses a hypercall may read or
 * write, and its agreement with the page tables hvt_boot_setup builds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hvt.h"
#include "support.h"

#define PG UF_PAGE_SIZE

static int setup(void **state)
{
	struct hvt *h = calloc(1, sizeof(*h));
	if (!h || uft_hvt_init(h, UFT_MEM, NULL, -1) < 0)
		return -1;
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct hvt *h = *state;
	uft_hvt_free(h);
	free(h);
	return 0;
}

static void test_layout_from_boot_setup(void **state)
{
	struct hvt *h = *state;
	assert_int_equal(h->lay.heap_start, UFT_HEAP);
	assert_int_equal(h->lay.heap_end, UFT_HEAP_END);
	assert_int_equal(h->lay.stack_lo, UFT_STACK_LO);
	assert_int_equal(h->lay.stack_top, UFT_MEM);
	const struct uf_bootinfo *bi = (const void *)(h->mem + UF_BOOTINFO_ADDR);
	assert_int_equal(bi->magic, UF_BOOTINFO_MAGIC);
	assert_int_equal(bi->abi_version, UF_ABI_VERSION);
	assert_int_equal(bi->mem_size, UFT_MEM);
	assert_int_equal(bi->heap_start, UFT_HEAP);
	assert_int_equal(bi->heap_end, UFT_HEAP_END);
}

static void test_null_page_refused(void **state)
{
	struct hvt *h = *state;
	for (int w = 0; w <= 1; w++) {
		assert_null(hvt_guest_ptr(h, 0, 1, w));
		assert_null(hvt_guest_ptr(h, 0, 0, w));
		assert_null(hvt_guest_ptr(h, 8, 8, w));
		assert_null(hvt_guest_ptr(h, PG - 1, 1, w));
		assert_null(hvt_guest_ptr(h, PG - 1, 2, w));
	}
	/* the first byte after the NULL page is guest memory (read-only GDT) */
	assert_ptr_equal(hvt_guest_ptr(h, PG, 1, 0), h->mem + PG);
}

static void test_bounds(void **state)
{
	struct hvt *h = *state;
	uint64_t m = h->mem_size;
	assert_ptr_equal(hvt_guest_ptr(h, m - 1, 1, 0), h->mem + m - 1);
	assert_ptr_equal(hvt_guest_ptr(h, m - 8, 8, 1), h->mem + m - 8); /* top of the stack */
	assert_ptr_equal(hvt_guest_ptr(h, PG, m - PG, 0), h->mem + PG); /* all of it */
	assert_null(hvt_guest_ptr(h, PG, m - PG + 1, 0));
	assert_null(hvt_guest_ptr(h, m - 1, 2, 0));
	assert_null(hvt_guest_ptr(h, m - 8, 9, 1));
	assert_null(hvt_guest_ptr(h, m, 1, 0));
	assert_null(hvt_guest_ptr(h, m + 1, 0, 0));
	assert_null(hvt_guest_ptr(h, m + PG, 8, 0));
	assert_null(hvt_guest_ptr(h, 1ull << 32, 8, 0));
	assert_null(hvt_guest_ptr(h, UINT64_MAX, 1, 0));
	assert_null(hvt_guest_ptr(h, UINT64_MAX, 0, 0));
}

static void test_overflow_of_gpa_plus_len(void **state)
{
	struct hvt *h = *state;
	/* gpa + len wraps around to a small, "valid-looking" end */
	for (int w = 0; w <= 1; w++) {
		assert_null(hvt_guest_ptr(h, UFT_HEAP, UINT64_MAX, w));
		assert_null(hvt_guest_ptr(h, UFT_HEAP, UINT64_MAX - UFT_HEAP + 1 + 16, w));
		assert_null(hvt_guest_ptr(h, UFT_HEAP, (uint64_t)0 - UFT_HEAP, w));
		assert_null(hvt_guest_ptr(h, UINT64_MAX - 7, 16, w));
		assert_null(hvt_guest_ptr(h, 1ull << 63, 1ull << 63, w));
	}
	struct hvt_layout lay = {.nrw = 1, .rw = {{0x200000, 0x300000}}};
	assert_false(hvt_gpa_writable(&lay, 0x200000, UINT64_MAX));
	assert_false(hvt_gpa_writable(&lay, 0x2ff000, UINT64_MAX - 0x2ff000 + 0x1000 + 1));
	assert_false(hvt_gpa_writable(&lay, UINT64_MAX, 2));
}

static void test_writes_to_protected_memory_refused(void **state)
{
	struct hvt *h = *state;
	static const struct {
		uint64_t gpa, len;
		const char *what;
	} no[] = {
		{UF_GDT_ADDR, 8, "GDT"},
		{UF_TSS_ADDR, 8, "TSS"},
		{UF_TSS_ADDR + 0x60, 8, "TSS (I/O map base)"},
		{UF_HC_PAGE, 4, "hypercall page (no memory behind it)"},
		{UF_IDT_ADDR, 16, "IDT"},
		{UF_IST_GUARD, 8, "IST guard page"},
		{UF_IST_LO, 8, "exception stack"},
		{UF_IST_TOP - 8, 8, "top of the exception stack"},
		{UF_PT_ADDR, 8, "PML4"},
		{UF_PT_ADDR + 0x2000, 8, "page directory"},
		{UFT_TEXT_LO, 1, "text"},
		{UFT_TEXT_HI - 1, 1, "last byte of text"},
		{UFT_RO_LO, 8, "rodata"},
		{UFT_RO_HI - 4, 4, "end of rodata"},
		{UFT_RO_HI - 4, 8, "rodata into data"},
		{UFT_DATA_LO - 4, 8, "rodata/data straddle"},
		{UF_BOOTINFO_ADDR + PG - 4, 8, "bootinfo into IST guard"},
		{UFT_HEAP_END - 8, 16, "heap into stack guard"},
		{UFT_HEAP_END, 8, "stack guard page"},
		{UFT_STACK_LO - 1, 2, "guard into stack"},
		{0x80000, 8, "unused low memory"},
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		void *p = hvt_guest_ptr(h, no[i].gpa, no[i].len, 1);
		if (p)
			fail_msg("write to %s [0x%lx, +%lu) was allowed", no[i].what, (unsigned long)no[i].gpa,
				 (unsigned long)no[i].len);
		assert_false(hvt_gpa_writable(&h->lay, no[i].gpa, no[i].len));
	}
	/* the same places are readable (the tender may copy from them) unless outside memory */
	assert_non_null(hvt_guest_ptr(h, UFT_TEXT_LO, 16, 0));
	assert_non_null(hvt_guest_ptr(h, UFT_RO_LO, 16, 0));
	assert_non_null(hvt_guest_ptr(h, UF_GDT_ADDR, 8, 0));
}

static void test_writable_memory_allowed(void **state)
{
	struct hvt *h = *state;
	static const struct {
		uint64_t gpa, len;
	} yes[] = {
		{UF_BOOTINFO_ADDR, sizeof(struct uf_bootinfo)},
		{UF_BOOTINFO_ADDR, PG},
		{UFT_DATA_LO, 8},
		{UFT_DATA_LO, UFT_DATA_HI - UFT_DATA_LO},
		{UFT_HEAP, 64},
		{UFT_HEAP + 3, 5}, /* unaligned is fine */
		{UFT_HEAP, UFT_HEAP_END - UFT_HEAP},
		{UFT_HEAP_END - 8, 8},
		{UFT_STACK_LO, 8},
		{UFT_STACK_LO, UFT_STACK},
		{UFT_MEM - 1, 1},
		{UFT_HEAP, 0},
	};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		uint8_t *p = hvt_guest_ptr(h, yes[i].gpa, yes[i].len, 1);
		if (p != h->mem + yes[i].gpa)
			fail_msg("write to [0x%lx, +%lu) was refused", (unsigned long)yes[i].gpa,
				 (unsigned long)yes[i].len);
		assert_non_null(hvt_guest_ptr(h, yes[i].gpa, yes[i].len, 0));
	}
}

static void test_gpa_writable_region_edges(void **state)
{
	(void)state;
	struct hvt_layout lay = {.nrw = 2, .rw = {{0x200000, 0x201000}, {0x300000, 0x310000}}};
	assert_true(hvt_gpa_writable(&lay, 0x200000, 0x1000));
	assert_true(hvt_gpa_writable(&lay, 0x200fff, 1));
	assert_true(hvt_gpa_writable(&lay, 0x201000, 0)); /* empty range at the end */
	assert_false(hvt_gpa_writable(&lay, 0x200fff, 2));
	assert_false(hvt_gpa_writable(&lay, 0x1fffff, 1));
	assert_false(hvt_gpa_writable(&lay, 0x201000, 1));
	assert_false(hvt_gpa_writable(&lay, 0x200000, 0x100001)); /* spans the gap */
	assert_true(hvt_gpa_writable(&lay, 0x30ffff, 1));
	assert_false(hvt_gpa_writable(&lay, 0x310000, 1));
	struct hvt_layout empty = {0};
	assert_false(hvt_gpa_writable(&empty, 0x200000, 1));
}

/* Leaf page-table entry for a, walking the tables hvt_boot_setup built. */
static uint64_t leaf_pte(struct hvt *h, uint64_t a)
{
	const uint64_t *pml4 = (const uint64_t *)(h->mem + UF_PT_ADDR);
	const uint64_t mask = 0x000ffffffffff000ull;
	uint64_t e = pml4[a >> 39 & 511];
	if (!(e & 1))
		return 0;
	const uint64_t *pdpt = (const uint64_t *)(h->mem + (e & mask));
	e = pdpt[a >> 30 & 511];
	if (!(e & 1))
		return 0;
	const uint64_t *pd = (const uint64_t *)(h->mem + (e & mask));
	e = pd[a >> 21 & 511];
	if (!(e & 1) || (e & 0x80))
		return e;
	const uint64_t *pt = (const uint64_t *)(h->mem + (e & mask));
	return pt[a >> 12 & 511];
}

/*
 * The hypercall check and the MMU must agree: the tender writes exactly the
 * pages the guest itself could write in ring 3, and no page is both
 * writable and executable.
 */
static void test_gpa_writable_matches_page_tables(void **state)
{
	struct hvt *h = *state;
	int exec_pages = 0;
	for (uint64_t a = 0; a < h->mem_size; a += PG) {
		uint64_t e = leaf_pte(h, a);
		int present = e & 1, w = !!(e & 2), u = !!(e & 4), nx = !!(e >> 63);
		int user_writable = present && w && u;
		int hc_writable = hvt_guest_ptr(h, a, PG, 1) != NULL;
		if (user_writable != hc_writable)
			fail_msg("page 0x%lx: ring 3 %s write it but the hypercall check %s", (unsigned long)a,
				 user_writable ? "can" : "cannot", hc_writable ? "allows it" : "refuses");
		if (present && w && !nx)
			fail_msg("page 0x%lx is writable and executable", (unsigned long)a);
		if (present && !nx) {
			exec_pages++;
			assert_true(a >= UFT_TEXT_LO && a < UFT_TEXT_HI);
		}
	}
	assert_int_equal(exec_pages, (UFT_TEXT_HI - UFT_TEXT_LO) / PG);
	assert_int_equal(leaf_pte(h, 0) & 1, 0);             /* NULL page unmapped   */
	assert_int_equal(leaf_pte(h, UF_PT_ADDR) & 1, 0);    /* page tables unmapped */
	assert_int_equal(leaf_pte(h, UF_GDT_ADDR) & 4, 0);   /* GDT supervisor-only  */
	assert_int_equal(leaf_pte(h, UFT_HEAP_END) & 1, 0);  /* stack guard          */
}

/*
 * Outside guest memory the page tables map exactly one page, the hypercall
 * page: present, ring 3, writable, not executable (a store there exits to the
 * tender).  Every table entry of the 4-level walk is visited.
 */
static void test_only_the_hypercall_page_is_mapped_outside_memory(void **state)
{
	struct hvt *h = *state;
	const uint64_t mask = 0x000ffffffffff000ull;
	const uint64_t *pml4 = (const uint64_t *)(h->mem + UF_PT_ADDR);
	int outside = 0;
	for (uint64_t i4 = 0; i4 < 512; i4++) {
		if (!(pml4[i4] & 1))
			continue;
		const uint64_t *pdpt = (const uint64_t *)(h->mem + (pml4[i4] & mask));
		for (uint64_t i3 = 0; i3 < 512; i3++) {
			if (!(pdpt[i3] & 1))
				continue;
			assert_int_equal(pdpt[i3] & 0x80, 0); /* no 1 GiB pages */
			const uint64_t *pd = (const uint64_t *)(h->mem + (pdpt[i3] & mask));
			for (uint64_t i2 = 0; i2 < 512; i2++) {
				uint64_t a = i4 << 39 | i3 << 30 | i2 << 21;
				if (!(pd[i2] & 1))
					continue;
				if (pd[i2] & 0x80) {
					assert_true(a + (2u << 20) <= h->mem_size);
					continue;
				}
				const uint64_t *pt = (const uint64_t *)(h->mem + (pd[i2] & mask));
				for (uint64_t i1 = 0; i1 < 512; i1++) {
					uint64_t e = pt[i1], va = a | i1 << 12;
					if (!(e & 1) || va < h->mem_size)
						continue;
					outside++;
					assert_int_equal(va, UF_HC_PAGE);
					assert_int_equal(e & mask, UF_HC_PAGE);
					assert_int_equal(e & 0x7, 0x7); /* present, writable, user */
					assert_int_equal(e >> 63, 1);   /* not executable          */
				}
			}
		}
	}
	assert_int_equal(outside, 1);
	assert_int_equal(leaf_pte(h, UF_HC_PAGE - PG) & 1, 0);
	assert_int_equal(leaf_pte(h, UF_HC_PAGE + PG) & 1, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout_from_boot_setup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_page_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow_of_gpa_plus_len, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes_to_protected_memory_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writable_memory_allowed, setup, teardown),
		cmocka_unit_test(test_gpa_writable_region_edges),
		cmocka_unit_test_setup_teardown(test_gpa_writable_matches_page_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_the_hypercall_page_is_mapped_outside_memory, setup, teardown),
	};
	return cmocka_run_group_tests_name("guestmem", tests, NULL, NULL);
}
