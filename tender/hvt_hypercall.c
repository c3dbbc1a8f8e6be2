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

/* hvt_fault.c formats the reason; the address of an x86-64 page fault is
 * CR2, which the tender reads itself (uf_abi.h). */
static void hc_fault(struct hvt *h, void *arg)
{
	char why[400];
#if defined(__aarch64__)
	hvt_fault_reason_aarch64(&h->lay, h->mem_size, arg, why, sizeof(why));
#else
	hvt_fault_reason_x86_64(&h->lay, h->mem_size, arg, hvt_kvm_cr2(h), why, sizeof(why));
#endif
	hvt_end(h, UF_END_FAULT, "%s", why);
}

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
