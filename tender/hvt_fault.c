/*
 * hvt_fault.c - a guest fault's one-line reason (UF_HC_FAULT, uf_abi.h
 * says what the record holds on each architecture): what happened, and
 * for a bad memory access what the address means in the words a function
 * author needs (NULL, the stack guard, the function's own code, read-only
 * data, beyond its memory), then where: "guest fault: data abort: NULL
 * pointer dereference (write of address 0x0) at pc 0x100456 (sp 0x7fff00)".
 *
 * Invariants: pure (reads the layout and the record, writes only out);
 * both architectures' formatters are built on every host, so the unit
 * tests check the aarch64 words on x86-64 with synthetic records.  Every
 * field of the record is the guest's: it is only printed, never used as an
 * index or a pointer.
 */
#include <stdio.h>
#include <string.h>

#include "hvt.h"

enum access { ACC_READ, ACC_WRITE, ACC_EXEC };

static const char *const access_name[] = {"read", "write", "execute"};

/* What a faulting access to address a means; protection: the page was
 * mapped, the access not allowed; low: what the pages under the page
 * tables are on this architecture. */
static void describe_access(const struct hvt_layout *lay, uint64_t mem_size, const char *low, uint64_t a,
                            enum access acc, int protection, char *out, size_t len)
{
	const char *what;
	if (a < UF_PAGE_SIZE)
		what = "NULL pointer dereference";
	else if (a < UF_PT_ADDR)
		what = low;
	else if (a >= lay->stack_lo - UF_PAGE_SIZE && a < lay->stack_lo)
		what = "stack overflow (hit the guard page below the stack)";
	else if (acc == ACC_WRITE && hvt_region_has(lay->exec, lay->nexec, a, a + 1))
		what = "write to the function's own code (text is read-only)";
	else if (acc == ACC_WRITE && hvt_region_has(lay->ro, lay->nro, a, a + 1))
		what = "write to read-only data";
	else if (acc == ACC_EXEC && protection)
		what = "execute of non-executable memory";
	else if (a >= mem_size)
		what = "access beyond the guest memory budget";
	else
		what = "access to unmapped memory";
	snprintf(out, len, "%s (%s of address 0x%lx)", what, access_name[acc], (unsigned long)a);
}

/* ---- aarch64 ---- */

/* ESR_EL1's exception class, in words (ARM ARM D17.2.37) */
static const char *class_name(uint32_t ec)
{
	switch (ec) {
	case 0x00:
		return "undefined instruction";
	case 0x07:
		return "FP/SIMD access trapped";
	case 0x0e:
		return "illegal execution state";
	case 0x15:
		return "supervisor call (svc) inside the runtime's exception handler";
	case 0x18:
		return "trapped system register access";
	case 0x20:
	case 0x21:
		return "instruction abort";
	case 0x22:
		return "PC alignment fault";
	case 0x24:
	case 0x25:
		return "data abort";
	case 0x26:
		return "SP alignment fault";
	case 0x2c:
		return "floating-point exception";
	case 0x2f:
		return "SError";
	case 0x30:
	case 0x31:
		return "breakpoint";
	case 0x32:
	case 0x33:
		return "software step";
	case 0x34:
	case 0x35:
		return "watchpoint";
	case 0x3c:
		return "breakpoint instruction (brk)";
	default:
		return "exception";
	}
}

#define AARCH64_LOW_MEMORY "access to the runtime's protected low memory (the guard pages around the boot info)"

/* An abort: its status code (ISS[5:0]) and, for translation, access-flag
 * and permission faults, what the address (FAR_EL1) means. */
static void describe_abort(const struct hvt_layout *lay, uint64_t mem_size, const struct uf_hc_fault *f,
                           enum access acc, char *out, size_t len)
{
	uint32_t fsc = f->error & 0x3f;
	uint64_t far = f->cs;
	if ((fsc & 0x3c) == 0x04 || (fsc & 0x3c) == 0x08 || (fsc & 0x3c) == 0x0c)
		describe_access(lay, mem_size, AARCH64_LOW_MEMORY, far, acc, (fsc & 0x3c) != 0x04, out, len);
	else if (fsc == 0x21)
		snprintf(out, len, "alignment fault (%s of address 0x%lx)", access_name[acc], (unsigned long)far);
	else
		snprintf(out, len, "fault status 0x%x (%s of address 0x%lx)", fsc, access_name[acc],
		         (unsigned long)far);
}

void hvt_fault_reason_aarch64(const struct hvt_layout *lay, uint64_t mem_size, const struct uf_hc_fault *f, char *out,
                              size_t len)
{
	uint32_t ec = (uint32_t)(f->error >> 26) & 0x3f;
	char detail[200] = "";
	const char *name = class_name(ec);
	if (f->vector % 4 != 0)
		name = f->vector % 4 == 3 ? "SError" : "interrupt";
	else if (ec == 0x20 || ec == 0x21)
		describe_abort(lay, mem_size, f, ACC_EXEC, detail, sizeof(detail));
	else if (ec == 0x24 || ec == 0x25)
		describe_abort(lay, mem_size, f, (f->error >> 6) & 1 ? ACC_WRITE : ACC_READ, detail, sizeof(detail));
	else if (ec == 0x22)
		snprintf(detail, sizeof(detail), "execute of address 0x%lx", (unsigned long)f->cs);
	else if (ec == 0x3c)
		snprintf(detail, sizeof(detail), "brk #%lu", (unsigned long)(f->error & 0xffff));
	else if (!strcmp(name, "exception"))
		snprintf(detail, sizeof(detail), "class 0x%x, ESR_EL1 0x%lx", ec, (unsigned long)f->error);
	snprintf(out, len, "guest fault: %s%s%s at pc 0x%lx (sp 0x%lx)", name, detail[0] ? ": " : "", detail,
	         (unsigned long)f->rip, (unsigned long)f->rsp);
}

/* ---- x86-64 ---- */

static const char *vector_name(uint64_t v)
{
	static const char *names[32] = {
	    [0] = "#DE divide error",
	    [1] = "#DB debug",
	    [2] = "NMI",
	    [3] = "#BP breakpoint",
	    [4] = "#OF overflow",
	    [5] = "#BR bound range",
	    [6] = "#UD invalid opcode",
	    [7] = "#NM device not available",
	    [8] = "#DF double fault",
	    [10] = "#TS invalid TSS",
	    [11] = "#NP segment not present",
	    [12] = "#SS stack-segment fault",
	    [13] = "#GP general protection",
	    [14] = "#PF page fault",
	    [16] = "#MF x87 floating point",
	    [17] = "#AC alignment check",
	    [18] = "#MC machine check",
	    [19] = "#XM SIMD floating point",
	    [21] = "#CP control protection",
	};
	return v < 32 && names[v] ? names[v] : "reserved exception";
}

#define X86_64_LOW_MEMORY "access to the runtime's protected low memory (descriptor tables, exception stack)"

void hvt_fault_reason_x86_64(const struct hvt_layout *lay, uint64_t mem_size, const struct uf_hc_fault *f, uint64_t cr2,
                             char *out, size_t len)
{
	char detail[200] = "";
	if (f->vector == 14)
		describe_access(lay, mem_size, X86_64_LOW_MEMORY, cr2,
		                (f->error & 0x10)  ? ACC_EXEC
		                : (f->error & 0x2) ? ACC_WRITE
		                                   : ACC_READ,
		                f->error & 0x1, detail, sizeof(detail));
	else if (f->vector == 13 || f->vector == 12 || f->vector == 8)
		snprintf(detail, sizeof(detail), "error code 0x%lx", (unsigned long)f->error);
	snprintf(out, len, "guest fault: %s%s%s at rip 0x%lx (rsp 0x%lx)", vector_name(f->vector),
	         detail[0] ? ": " : "", detail, (unsigned long)f->rip, (unsigned long)f->rsp);
}
