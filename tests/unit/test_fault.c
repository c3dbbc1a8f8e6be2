/*
 * test_fault.c - a guest fault's one-line reason (tender/hvt_fault.c),
 * aarch64's from synthetic fault records (ESR_EL1, FAR_EL1, ELR_EL1, SP as
 * libuf's vectors report them, uf_abi.h) checked on any host: data aborts
 * (read and write, translation and permission, NULL, the stack guard,
 * text, rodata, low memory, beyond memory), instruction aborts, undefined
 * instructions, alignment faults, breakpoints, and records no real CPU
 * makes (the guest writes the record: it must only be printed).  The
 * x86-64 reasons through UF_HC_FAULT are test_hypercall's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

#define PC 0x100456ull
#define SP 0x7fff00ull

/* ESR_EL1: class, IL (32-bit instruction), ISS */
#define ESR(ec, iss) (((uint64_t)(ec) << 26) | (1ull << 25) | (iss))
#define WNR          (1u << 6)
#define DABT         0x25 /* data abort from the same EL (EL1) */
#define IABT         0x21
#define FSC_TRANS(l) (0x04 + (l)) /* translation fault, level l */
#define FSC_AF(l)    (0x08 + (l)) /* access flag fault */
#define FSC_PERM(l)  (0x0c + (l)) /* permission fault */

/* The layout of support.h's image (text, rodata, data; heap, guard,
 * stack) as hvt_elf_load and hvt_boot_setup record it. */
static void layout(struct hvt_layout *lay)
{
	memset(lay, 0, sizeof(*lay));
	lay->exec[lay->nexec++] = (struct hvt_region){UFT_TEXT_LO, UFT_TEXT_HI};
	lay->ro[lay->nro++] = (struct hvt_region){UFT_RO_LO, UFT_RO_HI};
	lay->rw[lay->nrw++] = (struct hvt_region){UFT_DATA_LO, UFT_DATA_HI};
	lay->heap_start = UFT_HEAP;
	lay->heap_end = UFT_HEAP_END;
	lay->stack_lo = UFT_STACK_LO;
	lay->stack_top = UFT_MEM;
	lay->rw[lay->nrw++] = (struct hvt_region){UFT_HEAP, UFT_HEAP_END};
	lay->rw[lay->nrw++] = (struct hvt_region){UFT_STACK_LO, UFT_MEM};
}

static void reason(uint64_t vector, uint64_t esr, uint64_t far, uint64_t sp, char *out, size_t len)
{
	struct hvt_layout lay;
	layout(&lay);
	struct uf_hc_fault f = {.vector = vector, .error = esr, .rip = PC, .cs = far, .rflags = 0x3c4, .rsp = sp};
	hvt_fault_reason_aarch64(&lay, UFT_MEM, &f, out, len);
}

static void expect(uint64_t vector, uint64_t esr, uint64_t far, uint64_t sp, const char *want)
{
	char got[400];
	reason(vector, esr, far, sp, got, sizeof(got));
	if (strcmp(got, want))
		fail_msg("vector %lu ESR 0x%lx FAR 0x%lx:\n got  \"%s\"\n want \"%s\"", (unsigned long)vector,
		         (unsigned long)esr, (unsigned long)far, got, want);
}

static void test_data_abort_null(void **state)
{
	(void)state;
	expect(0, ESR(DABT, FSC_TRANS(3)), 0x8, SP,
	       "guest fault: data abort: NULL pointer dereference (read of address 0x8) at pc 0x100456 (sp 0x7fff00)");
	expect(0, ESR(DABT, WNR | FSC_TRANS(3)), 0x0, SP,
	       "guest fault: data abort: NULL pointer dereference (write of address 0x0) at pc 0x100456 (sp 0x7fff00)");
	/* at whatever level the walk stopped */
	expect(
	    0, ESR(DABT, FSC_TRANS(1)), 0xff8, SP,
	    "guest fault: data abort: NULL pointer dereference (read of address 0xff8) at pc 0x100456 (sp 0x7fff00)");
}

static void test_data_abort_translation_and_permission(void **state)
{
	(void)state;
	/* permission: mapped, the access not allowed */
	expect(0, ESR(DABT, WNR | FSC_PERM(3)), UFT_TEXT_LO + 0x20, SP,
	       "guest fault: data abort: write to the function's own code (text is read-only) (write of address "
	       "0x100020) at pc 0x100456 (sp 0x7fff00)");
	expect(0, ESR(DABT, WNR | FSC_PERM(3)), UFT_RO_LO + 0x20, SP,
	       "guest fault: data abort: write to read-only data (write of address 0x102020) at pc 0x100456 (sp "
	       "0x7fff00)");
	/* translation: nothing mapped there */
	expect(0, ESR(DABT, FSC_TRANS(3)), UF_PT_ADDR, SP,
	       "guest fault: data abort: access to unmapped memory (read of address 0x10000) at pc 0x100456 (sp "
	       "0x7fff00)");
	expect(0, ESR(DABT, WNR | FSC_TRANS(2)), UFT_MEM + 0x1000, SP,
	       "guest fault: data abort: access beyond the guest memory budget (write of address 0x801000) at pc "
	       "0x100456 (sp 0x7fff00)");
	expect(0, ESR(DABT, FSC_TRANS(3)), 0x3008, SP,
	       "guest fault: data abort: access to the runtime's protected low memory (the guard pages around the "
	       "boot info) (read of address 0x3008) at pc 0x100456 (sp 0x7fff00)");
	/* an access flag fault is a mapped page's too */
	expect(0, ESR(DABT, WNR | FSC_AF(3)), UFT_RO_LO, SP,
	       "guest fault: data abort: write to read-only data (write of address 0x102000) at pc 0x100456 (sp "
	       "0x7fff00)");
	/* another status: said as a number */
	expect(0, ESR(DABT, 0x10), 0x200000, SP,
	       "guest fault: data abort: fault status 0x10 (read of address 0x200000) at pc 0x100456 (sp 0x7fff00)");
}

static void test_stack_guard(void **state)
{
	(void)state;
	/* a prologue's store pair below the stack: SP and the address in the guard page */
	uint64_t sp = UFT_STACK_LO - 16;
	char want[300];
	snprintf(want, sizeof(want),
	         "guest fault: data abort: stack overflow (hit the guard page below the stack) (write of address "
	         "0x%lx) at pc 0x100456 (sp 0x%lx)",
	         (unsigned long)sp, (unsigned long)sp);
	expect(0, ESR(DABT, WNR | FSC_TRANS(3)), sp, sp, want);
	/* the guard page's lowest byte too, from the exception stack's vector
	 * (a fault inside the syscall layer taken on SP_EL1) */
	snprintf(want, sizeof(want),
	         "guest fault: data abort: stack overflow (hit the guard page below the stack) (read of address "
	         "0x%lx) at pc 0x100456 (sp 0x%lx)",
	         (unsigned long)(UFT_STACK_LO - 0x1000), (unsigned long)(UFT_STACK_LO - 0x1000));
	expect(4, ESR(DABT, FSC_TRANS(3)), UFT_STACK_LO - 0x1000, UFT_STACK_LO - 0x1000, want);
	/* just below the guard: not the stack's */
	expect(0, ESR(DABT, FSC_TRANS(3)), UFT_HEAP_END - 8, SP,
	       "guest fault: data abort: access to unmapped memory (read of address 0x7beff8) at pc 0x100456 (sp "
	       "0x7fff00)");
}

static void test_instruction_abort(void **state)
{
	(void)state;
	expect(0, ESR(IABT, FSC_PERM(3)), UFT_HEAP + 0x10, SP,
	       "guest fault: instruction abort: execute of non-executable memory (execute of address 0x104010) at "
	       "pc 0x100456 (sp 0x7fff00)");
	expect(0, ESR(IABT, FSC_PERM(3)), UFT_RO_LO, SP,
	       "guest fault: instruction abort: execute of non-executable memory (execute of address 0x102000) at "
	       "pc 0x100456 (sp 0x7fff00)");
	/* a jump through a NULL function pointer: translation, not permission */
	expect(0, ESR(IABT, FSC_TRANS(3)), 0x0, SP,
	       "guest fault: instruction abort: NULL pointer dereference (execute of address 0x0) at pc 0x100456 "
	       "(sp 0x7fff00)");
	expect(0, ESR(IABT, FSC_TRANS(3)), UF_PT_ADDR + 0x40, SP,
	       "guest fault: instruction abort: access to unmapped memory (execute of address 0x10040) at pc "
	       "0x100456 (sp 0x7fff00)");
	/* WnR means nothing in an instruction abort's syndrome */
	expect(0, ESR(IABT, WNR | FSC_PERM(3)), UFT_TEXT_LO, SP,
	       "guest fault: instruction abort: execute of non-executable memory (execute of address 0x100000) at "
	       "pc 0x100456 (sp 0x7fff00)");
}

static void test_undefined_alignment_breakpoint(void **state)
{
	(void)state;
	expect(0, ESR(0x00, 0), 0, SP, "guest fault: undefined instruction at pc 0x100456 (sp 0x7fff00)");
	expect(0, ESR(DABT, WNR | 0x21), 0x104003, SP,
	       "guest fault: data abort: alignment fault (write of address 0x104003) at pc 0x100456 (sp 0x7fff00)");
	expect(0, ESR(0x26, 0), 0, 0x7ffef8, "guest fault: SP alignment fault at pc 0x100456 (sp 0x7ffef8)");
	expect(0, ESR(0x22, 0), 0x100457, SP,
	       "guest fault: PC alignment fault: execute of address 0x100457 at pc 0x100456 (sp 0x7fff00)");
	expect(0, ESR(0x3c, 1000), 0, SP,
	       "guest fault: breakpoint instruction (brk): brk #1000 at pc 0x100456 (sp 0x7fff00)");
	expect(4, ESR(0x15, 0), 0, 0x4f00,
	       "guest fault: supervisor call (svc) inside the runtime's exception handler at pc 0x100456 (sp 0x4f00)");
}

/* The guest writes the record: any values are only printed, and a reason
 * never overflows the buffer it is given. */
static void test_records_no_cpu_makes(void **state)
{
	(void)state;
	expect(1, 0, 0, SP, "guest fault: interrupt at pc 0x100456 (sp 0x7fff00)");
	expect(7, 0, 0, SP, "guest fault: SError at pc 0x100456 (sp 0x7fff00)");
	expect(0, ESR(0x3f, 0x1ffffff), 0, SP,
	       "guest fault: exception: class 0x3f, ESR_EL1 0xffffffff at pc 0x100456 (sp 0x7fff00)");
	char got[400];
	reason(UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, got, sizeof(got));
	assert_non_null(strstr(got, "guest fault: SError at pc 0x100456 (sp 0xffffffffffffffff)"));
	for (uint64_t ec = 0; ec < 64; ec++)
		for (uint64_t fsc = 0; fsc < 64; fsc += 7) {
			char small[24];
			memset(small, 'x', sizeof(small));
			reason(0, ESR(ec, WNR | fsc), UINT64_MAX - fsc, 0, small, sizeof(small) - 4);
			assert_int_equal(strlen(small), sizeof(small) - 5);
			assert_memory_equal(small + sizeof(small) - 4, "xxxx", 4);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_data_abort_null),
	    cmocka_unit_test(test_data_abort_translation_and_permission),
	    cmocka_unit_test(test_stack_guard),
	    cmocka_unit_test(test_instruction_abort),
	    cmocka_unit_test(test_undefined_alignment_breakpoint),
	    cmocka_unit_test(test_records_no_cpu_makes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
