/*
 * hvt_hypercall.c - serves the guest's hypercalls (uf_abi.h).
 *
 * One entry point, hvt_hypercall(), is called for every access of the guest
 * outside its memory (KVM_EXIT_MMIO).  The transport (uf_abi.h) is one
 * 32-bit store to a call's slot in the hypercall page: anything else there
 * (a read, another width, an offset that is no call's slot) is a bad
 * hypercall, and an access anywhere else is a guest fault.  It then copies
 * the argument struct out of guest memory (after hvt_guest_ptr has checked
 * it), runs the call's handler on the copy and copies the struct back.  Handlers check every pointer and length the
 * struct carries before use.  Any malformed call ends the unit with
 * UF_END_BAD_HYPERCALL and a message naming the call and the field; the
 * tender itself never reads or writes outside guest memory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hvt.h"

#define bad(h, ...) hvt_end((h), UF_END_BAD_HYPERCALL, "bad hypercall: " __VA_ARGS__)

static const void *in_buf(struct hvt *h, const char *call, const char *field, uint64_t gpa, uint64_t len)
{
	const void *p = len ? hvt_guest_ptr(h, gpa, len, 0) : h->mem;
	if (!p)
		bad(h, "%s: %s [0x%lx, +%lu) is outside guest memory", call, field, (unsigned long)gpa,
		    (unsigned long)len);
	return p;
}

static void *out_buf(struct hvt *h, const char *call, const char *field, uint64_t gpa, uint64_t len)
{
	void *p = len ? hvt_guest_ptr(h, gpa, len, 1) : h->mem;
	if (!p)
		bad(h, "%s: %s [0x%lx, +%lu) is not writable guest memory", call, field, (unsigned long)gpa,
		    (unsigned long)len);
	return p;
}

static void hc_console(struct hvt *h, void *arg)
{
	struct uf_hc_console *a = arg;
	if (a->fd != 1 && a->fd != 2) {
		a->ret = -EBADF;
		return;
	}
	if (a->len > UF_CONSOLE_MAX) {
		bad(h, "console: length %lu exceeds %u", (unsigned long)a->len, UF_CONSOLE_MAX);
		return;
	}
	const void *p = in_buf(h, "console", "buf", a->buf, a->len);
	if (!p)
		return;
	hvt_write_all(h->console_fd, p, a->len);
	a->ret = 0;
}

static void hc_time(struct hvt *h, void *arg)
{
	struct uf_hc_time *a = arg;
	struct timespec ts;
	if (a->clock != UF_CLOCK_WALL && a->clock != UF_CLOCK_MONO) {
		bad(h, "time: unknown clock %u", a->clock);
		return;
	}
	clock_gettime(a->clock == UF_CLOCK_WALL ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
	a->ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	a->ret = 0;
}

static void hc_random(struct hvt *h, void *arg)
{
	struct uf_hc_random *a = arg;
	if (a->len > UF_RANDOM_MAX) {
		bad(h, "random: length %lu exceeds %u", (unsigned long)a->len, UF_RANDOM_MAX);
		return;
	}
	void *p = out_buf(h, "random", "buf", a->buf, a->len);
	if (!p)
		return;
	a->ret = getrandom(p, a->len, 0) == (ssize_t)a->len ? 0 : -EIO;
}

static void hc_exit(struct hvt *h, void *arg)
{
	struct uf_hc_exit *a = arg;
	char msg[257] = "";
	if (a->msg) {
		uint64_t n = a->msg_len > 256 ? 256 : a->msg_len;
		const char *p = in_buf(h, "exit", "msg", a->msg, n);
		if (!p)
			return;
		/* the reason is one line of plain text: no control bytes from the guest */
		for (uint64_t i = 0; i < n; i++)
			msg[i] = ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) ? '?' : p[i];
		msg[n] = '\0';
	}
	switch (a->kind) {
	case UF_EXIT_NORMAL:
		if (a->status == 0)
			hvt_end(h, UF_END_EXIT, "exited with status 0");
		else
			hvt_end(h, UF_END_ERROR, "function error: exited with status %d", a->status);
		break;
	case UF_EXIT_ABORT:
		hvt_end(h, UF_END_ERROR, "function error: %s (signal %d)", msg[0] ? msg : "aborted", a->status);
		break;
	case UF_EXIT_OOM:
		hvt_end(h, UF_END_OOM, "out of memory: %s (budget %lu MiB; raise it with --mem)",
		        msg[0] ? msg : "guest runtime could not allocate", (unsigned long)(h->mem_size >> 20));
		break;
	default:
		bad(h, "exit: unknown kind %u", a->kind);
	}
}

enum access { ACC_READ, ACC_WRITE, ACC_EXEC };

#if defined(__aarch64__)
#define HVT_LOW_MEMORY "access to the runtime's protected low memory (the guard pages around the boot info)"
#else
#define HVT_LOW_MEMORY "access to the runtime's protected low memory (descriptor tables, exception stack)"
#endif

/* What a faulting access to address a means, in the words a function
 * author needs; protection: the page was mapped, the access not allowed. */
static void describe_access(struct hvt *h, uint64_t a, enum access acc, int protection, char *out, size_t len)
{
	static const char *const access_name[] = {"read", "write", "execute"};
	const struct hvt_layout *lay = &h->lay;
	const char *what;
	if (a < UF_PAGE_SIZE)
		what = "NULL pointer dereference";
	else if (a < UF_PT_ADDR)
		what = HVT_LOW_MEMORY;
	else if (a >= lay->stack_lo - UF_PAGE_SIZE && a < lay->stack_lo)
		what = "stack overflow (hit the guard page below the stack)";
	else if (acc == ACC_WRITE && hvt_region_has(lay->exec, lay->nexec, a, a + 1))
		what = "write to the function's own code (text is read-only)";
	else if (acc == ACC_WRITE && hvt_region_has(lay->ro, lay->nro, a, a + 1))
		what = "write to read-only data";
	else if (acc == ACC_EXEC && protection)
		what = "execute of non-executable memory";
	else if (a >= h->mem_size)
		what = "access beyond the guest memory budget";
	else
		what = "access to unmapped memory";
	snprintf(out, len, "%s (%s of address 0x%lx)", what, access_name[acc], (unsigned long)a);
}

#if defined(__aarch64__)
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

/* An abort: its status code (ISS[5:0]) and, for translation, access-flag
 * and permission faults, what the address means. */
static void describe_abort(struct hvt *h, const struct uf_hc_fault *f, enum access acc, char *out, size_t len)
{
	static const char *const access_name[] = {"read", "write", "execute"};
	uint32_t fsc = f->error & 0x3f;
	uint64_t far = f->cs;
	if ((fsc & 0x3c) == 0x04 || (fsc & 0x3c) == 0x08 || (fsc & 0x3c) == 0x0c)
		describe_access(h, far, acc, (fsc & 0x3c) != 0x04, out, len);
	else if (fsc == 0x21)
		snprintf(out, len, "alignment fault (%s of address 0x%lx)", access_name[acc], (unsigned long)far);
	else
		snprintf(out, len, "fault status 0x%x (%s of address 0x%lx)", fsc, access_name[acc],
		         (unsigned long)far);
}

/* uf_abi.h says what an aarch64 fault record holds. */
static void hc_fault(struct hvt *h, void *arg)
{
	const struct uf_hc_fault *f = arg;
	uint32_t ec = (uint32_t)(f->error >> 26) & 0x3f;
	char detail[200] = "";
	const char *name = class_name(ec);
	if (f->vector % 4 != 0)
		name = f->vector % 4 == 3 ? "SError" : "interrupt";
	else if (ec == 0x20 || ec == 0x21)
		describe_abort(h, f, ACC_EXEC, detail, sizeof(detail));
	else if (ec == 0x24 || ec == 0x25)
		describe_abort(h, f, (f->error >> 6) & 1 ? ACC_WRITE : ACC_READ, detail, sizeof(detail));
	else if (ec == 0x22)
		snprintf(detail, sizeof(detail), "execute of address 0x%lx", (unsigned long)f->cs);
	else if (ec == 0x3c)
		snprintf(detail, sizeof(detail), "brk #%lu", (unsigned long)(f->error & 0xffff));
	else if (!strcmp(name, "exception"))
		snprintf(detail, sizeof(detail), "class 0x%x, ESR_EL1 0x%lx", ec, (unsigned long)f->error);
	hvt_end(h, UF_END_FAULT, "guest fault: %s%s%s at pc 0x%lx (sp 0x%lx)", name, detail[0] ? ": " : "", detail,
	        (unsigned long)f->rip, (unsigned long)f->rsp);
}
#else
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

/* uf_abi.h says what an x86-64 fault record holds; the address is CR2. */
static void hc_fault(struct hvt *h, void *arg)
{
	const struct uf_hc_fault *f = arg;
	char detail[200] = "";
	if (f->vector == 14)
		describe_access(h, hvt_kvm_cr2(h),
		                (f->error & 0x10)  ? ACC_EXEC
		                : (f->error & 0x2) ? ACC_WRITE
		                                   : ACC_READ,
		                f->error & 0x1, detail, sizeof(detail));
	else if (f->vector == 13 || f->vector == 12 || f->vector == 8)
		snprintf(detail, sizeof(detail), "error code 0x%lx", (unsigned long)f->error);
	hvt_end(h, UF_END_FAULT, "guest fault: %s%s%s at rip 0x%lx (rsp 0x%lx)", vector_name(f->vector),
	        detail[0] ? ": " : "", detail, (unsigned long)f->rip, (unsigned long)f->rsp);
}
#endif

static void hc_yield(struct hvt *h, void *arg)
{
	(void)h;
	struct uf_hc_yield *a = arg;
	uint64_t ns = a->timeout_ns;
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
	if (ts.tv_sec > 3600)
		ts.tv_sec = 3600;
	nanosleep(&ts, NULL);
	a->ret = 0;
}

static void hc_setfs(struct hvt *h, void *arg)
{
	struct uf_hc_setfs *a = arg;
	if (a->base >= h->mem_size) {
		bad(h, "setfs: base 0x%lx is outside guest memory", (unsigned long)a->base);
		return;
	}
	a->ret = hvt_kvm_set_fs(h, a->base) < 0 ? -EIO : 0;
}

/* hvt_dataplane.c */
void hvt_hc_pop(struct hvt *h, void *arg);
void hvt_hc_commit(struct hvt *h, void *arg);
void hvt_hc_kv(struct hvt *h, void *arg);
void hvt_hc_topic(struct hvt *h, void *arg);

static const struct {
	const char *name;
	size_t size;
	void (*fn)(struct hvt *h, void *arg);
	int supervisor; /* argument lives on the exception stack, read-only here */
} calls[UF_HC_COUNT] = {
    [UF_HC_CONSOLE] = {"console", sizeof(struct uf_hc_console), hc_console},
    [UF_HC_TIME] = {"time", sizeof(struct uf_hc_time), hc_time},
    [UF_HC_RANDOM] = {"random", sizeof(struct uf_hc_random), hc_random},
    [UF_HC_EXIT] = {"exit", sizeof(struct uf_hc_exit), hc_exit},
    [UF_HC_FAULT] = {"fault", sizeof(struct uf_hc_fault), hc_fault, 1},
    [UF_HC_POP] = {"pop", sizeof(struct uf_hc_pop), hvt_hc_pop},
    [UF_HC_COMMIT] = {"commit", sizeof(struct uf_hc_commit), hvt_hc_commit},
    [UF_HC_KV] = {"kv", sizeof(struct uf_hc_kv), hvt_hc_kv},
    [UF_HC_HTTP] = {"http", sizeof(struct uf_hc_http), hvt_hc_http}, /* hvt_egress.c */
    [UF_HC_NET] = {"net", sizeof(struct uf_hc_net), hvt_hc_net},     /* hvt_net.c */
    [UF_HC_YIELD] = {"yield", sizeof(struct uf_hc_yield), hc_yield},
    [UF_HC_SETFS] = {"setfs", sizeof(struct uf_hc_setfs), hc_setfs},
    [UF_HC_TOPIC] = {"topic", sizeof(struct uf_hc_topic), hvt_hc_topic},
};

/* The transport: which call an access to guest-physical `gpa` is, or -1
 * (and the unit ended) when it is none. */
static int call_of(struct hvt *h, uint64_t gpa, uint32_t len, int is_write)
{
	if (gpa < UF_HC_PAGE || gpa - UF_HC_PAGE >= UF_PAGE_SIZE) {
		hvt_end(h, UF_END_FAULT,
		        "guest fault: access to guest-physical 0x%lx outside guest memory at rip 0x%lx",
		        (unsigned long)gpa, (unsigned long)hvt_kvm_rip(h));
		return -1;
	}
	if (!is_write || len != 4) {
		bad(h, "%s of %u bytes at 0x%lx in the hypercall page (hypercalls are one 32-bit store)",
		    is_write ? "store" : "read", len, (unsigned long)gpa);
		return -1;
	}
	uint64_t off = gpa - UF_HC_PAGE;
	if (off % UF_HC_SLOT || off / UF_HC_SLOT >= UF_HC_COUNT) {
		bad(h, "store to 0x%lx in the hypercall page, which is not a hypercall", (unsigned long)gpa);
		return -1;
	}
	return (int)(off / UF_HC_SLOT);
}

void hvt_hypercall(struct hvt *h, uint64_t gpa, uint32_t len, int is_write, uint32_t value)
{
	int n = call_of(h, gpa, len, is_write);
	if (n < 0)
		return;
	uint64_t arg[32]; /* aligned copy: the guest's struct may be misaligned */
	void *p = calls[n].supervisor
	              ? (value >= UF_IST_LO && value + calls[n].size <= UF_IST_TOP ? h->mem + value : NULL)
	              : hvt_guest_ptr(h, value, calls[n].size, 1);
	if (!p) {
		bad(h, "%s: argument struct at 0x%x (%zu bytes) is not in writable guest memory", calls[n].name, value,
		    calls[n].size);
		return;
	}
	memcpy(arg, p, calls[n].size);
	calls[n].fn(h, arg);
	if (h->backend && h->backend->failed)
		hvt_end(h, UF_END_INTERNAL, "%s", h->backend->failed);
	if (!calls[n].supervisor)
		memcpy(p, arg, calls[n].size);
}
