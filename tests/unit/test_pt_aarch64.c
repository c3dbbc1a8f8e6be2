/*
 * test_pt_aarch64.c - an aarch64 guest's page tables (tender/hvt_pt_aarch64.c),
 * checked descriptor by descriptor on any host; tests/kvm/mmu_aarch64.c
 * checks what a real Cortex-A72 makes of them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hvt_pt_aarch64.h"
#include "uf_abi.h"

#define MIB    (1ull << 20)
#define PXN    (1ull << 53)
#define UXN    (1ull << 54)
#define RO_BIT (1ull << 7)
#define AF     (1ull << 10)
#define ATTR   (7ull << 2)
#define ADDR   0x0000fffffffff000ull

#define CODE 0x100000ull /* R+X */
#define DATA 0x101000ull /* R */

static enum hvt_pt_kind kind(void *ctx, uint64_t a)
{
	(void)ctx;
	if (a < 0x100000)
		return HVT_PT_NONE;
	return a == CODE ? HVT_PT_RX : a == DATA ? HVT_PT_RO : HVT_PT_RW;
}

static enum hvt_pt_kind mixed(void *ctx, uint64_t a)
{
	(void)ctx;
	return (a >> 12) % 2 ? HVT_PT_RO : HVT_PT_RW;
}

static uint64_t entry(const uint8_t *mem, uint64_t table, unsigned i)
{
	uint64_t e;
	memcpy(&e, mem + table + 8 * i, 8);
	return e;
}

/* walks the tables for va: its leaf descriptor (0 if unmapped) and level */
static uint64_t walk(const uint8_t *mem, uint64_t va, int *level)
{
	uint64_t e = entry(mem, UF_PT_ADDR, (unsigned)(va >> 30) & 511);
	*level = 1;
	if ((e & 3) != 3)
		return 0;
	e = entry(mem, e & ADDR, (unsigned)(va >> 21) & 511);
	*level = 2;
	if ((e & 3) == 1 || (e & 3) == 0)
		return e;
	e = entry(mem, e & ADDR, (unsigned)(va >> 12) & 511);
	*level = 3;
	return e;
}

static void test_pages(void **state)
{
	(void)state;
	uint64_t size = 4 * MIB;
	uint8_t *mem = calloc(1, size);
	char err[128];
	assert_int_equal(hvt_pt_aarch64_build(mem, size, kind, NULL, err, sizeof(err)), 0);
	int level;
	/* text: executable at EL1 only, read-only */
	uint64_t e = walk(mem, CODE, &level);
	assert_int_equal(level, 3);
	assert_int_equal(e & ADDR, CODE);
	assert_true((e & 3) == 3 && (e & AF) && (e & RO_BIT) && (e & UXN) && !(e & PXN));
	/* rodata: read-only, never executable */
	e = walk(mem, DATA, &level);
	assert_true((e & 3) == 3 && (e & RO_BIT) && (e & UXN) && (e & PXN));
	/* data in the same 2 MiB: writable, never executable */
	e = walk(mem, DATA + 0x1000, &level);
	assert_int_equal(level, 3);
	assert_true((e & 3) == 3 && !(e & RO_BIT) && (e & UXN) && (e & PXN));
	/* below the image: unmapped, NULL included */
	assert_int_equal(walk(mem, 0, &level), 0);
	assert_int_equal(walk(mem, 0xff000, &level), 0);
	/* an all-writable 2 MiB: one block */
	e = walk(mem, 2 * MIB + 0x5000, &level);
	assert_int_equal(level, 2);
	assert_true((e & 3) == 1 && (e & ADDR) == 2 * MIB && !(e & RO_BIT) && (e & PXN) && (e & UXN));
	/* past memory: unmapped */
	assert_int_equal(walk(mem, size, &level), 0);
	assert_int_equal(walk(mem, 1ull << 30, &level), 0);
	/* the hypercall page: Device (MAIR attribute 1), writable, never executable */
	e = walk(mem, UF_HC_ADDR(3), &level);
	assert_int_equal(level, 3);
	assert_true((e & ADDR) == UF_HC_PAGE && (e & ATTR) == (1 << 2) && !(e & RO_BIT) && (e & PXN) && (e & UXN));
	assert_int_equal(walk(mem, UF_HC_PAGE + UF_PAGE_SIZE, &level), 0);
	free(mem);
}

static void test_refusals(void **state)
{
	(void)state;
	char err[128];
	uint8_t *mem = calloc(1, 4 * MIB);
	assert_int_equal(hvt_pt_aarch64_build(mem, 3 * MIB, kind, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a multiple of 2 MiB"));
	free(mem);
	/* a GiB whose every 2 MiB needs its own L3 table: more than fit below the image */
	uint64_t size = UF_MEM_MAX;
	mem = calloc(1, size);
	assert_int_equal(hvt_pt_aarch64_build(mem, size, mixed, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "too many page tables for this layout");
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pages),
	    cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests_name("pt_aarch64", tests, NULL, NULL);
}
