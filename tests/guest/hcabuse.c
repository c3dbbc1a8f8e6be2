/*
 * hcabuse.c - a guest that issues raw, malformed hypercalls
 * (tests/integration/hypercall_abuse.sh).
 *
 * It defines its own main() and talks to the tender directly with stores to
 * the hypercall page (uf_abi.h), bypassing libuf's wrappers; it also tries
 * other accesses to that page and port I/O.  CASE selects one abuse:
 *
 *   addr:CALL:WHERE   call CALL (console, time, ... setfs) with its argument
 *                     struct at WHERE: null (0), unmapped (0x3000, the guard
 *                     below the exception stack), beyond (0xfffffff0), text
 *                     (the function's code), rodata, end (straddling the top
 *                     of guest memory), gdt (0x1000, supervisor-only),
 *                     pagetables (0x10000)
 *   NAME              one of the field cases in `cases` below
 *
 * A case that the tender must reject never returns.  A case that must give
 * the guest an errno prints "ret=N" and exits 0; so does a valid call.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uf_abi.h>
#include <unifaas.h>

/* Raw accesses to guest-physical = virtual address A. */
#define AT(a, type) (*(volatile type *)(uintptr_t)(a))
static inline void st32(uint64_t a, uint32_t v)
{
#if defined(__aarch64__)
	__asm__ volatile("str %w0, [%1]" ::"r"(v), "r"(a) : "memory");
#else
	__asm__ volatile("movl %0, (%1)" ::"r"(v), "r"(a) : "memory");
#endif
}

#if defined(__x86_64__)
static inline void out8(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port) : "memory");
}

static inline void out32(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port) : "memory");
}
#endif

static inline void hc(unsigned call, const volatile void *arg)
{
	st32(UF_HC_ADDR(call), (uint32_t)(uintptr_t)arg);
}

static void done(long ret)
{
	printf("ret=%ld\n", ret);
	exit(0);
}

static const struct uf_bootinfo *bi(void)
{
	return (const struct uf_bootinfo *)(uintptr_t)UF_BOOTINFO_ADDR;
}

int main(void);

/* Some addresses the guest must not be able to write through the tender. */
static const char ro_data[64] = "read-only data of hcabuse";
#define TEXT_ADDR   ((uint64_t)(uintptr_t)&main)
#define RODATA_ADDR ((uint64_t)(uintptr_t)ro_data)

static const char *call_names[UF_HC_COUNT] = {
    "console", "time", "random", "exit", "fault", "pop", "commit", "kv", "http", "net", "yield", "setfs", "topic",
};

/* Buffers in the data segment (writable). */
static char popbuf[65536] __attribute__((aligned(8)));
static char stage[4096] __attribute__((aligned(8)));
static int32_t results[UF_BATCH_MAX];

/* Pops one batch (at most `max` events) with valid arguments. */
static struct uf_hc_pop pop_ok(uint32_t max)
{
	struct uf_hc_pop p = {.buf = (uintptr_t)popbuf, .cap = sizeof(popbuf), .max_events = max};
	hc(UF_HC_POP, &p);
	if (p.status != UF_POP_OK || p.count == 0) {
		fprintf(stderr, "hcabuse: expected an event (run with --event), pop status %d count %u\n", p.status,
		        p.count);
		exit(2);
	}
	return p;
}

/* Appends a push record to `stage` at *off; returns the record's address. */
static struct uf_rec_push *put_push(size_t *off, uint32_t event, const char *q, const char *d)
{
	struct uf_rec_push *r = (void *)(stage + *off);
	r->event = event;
	r->queue_len = (uint32_t)strlen(q);
	r->data_len = strlen(d);
	char *s = stage + *off + sizeof(*r);
	memcpy(s, q, r->queue_len + 1);
	memcpy(s + r->queue_len + 1, d, r->data_len + 1);
	*off += (sizeof(*r) + r->queue_len + 1 + r->data_len + 1 + 7) & ~(size_t)7;
	return r;
}

static void commit_stage(uint32_t count, size_t len, uint32_t npush)
{
	struct uf_hc_commit c = {.results = (uintptr_t)results,
	                         .pushes = (uintptr_t)stage,
	                         .pushes_len = len,
	                         .count = count,
	                         .npush = npush};
	hc(UF_HC_COMMIT, &c);
	done(c.ret);
}

static void kv_set_ok(const char *key, const char *val)
{
	struct uf_hc_kv k = {.op = UF_KV_SET,
	                     .key_len = (uint32_t)strlen(key),
	                     .key = (uintptr_t)key,
	                     .val = (uintptr_t)val,
	                     .val_len = strlen(val)};
	hc(UF_HC_KV, &k);
	if (k.ret != 0) {
		fprintf(stderr, "hcabuse: kv set failed: %d\n", k.ret);
		exit(2);
	}
}

static void addr_case(const char *call, const char *where)
{
	unsigned n;
	for (n = 0; n < UF_HC_COUNT; n++)
		if (!strcmp(call, call_names[n]))
			break;
	if (n == UF_HC_COUNT) {
		fprintf(stderr, "hcabuse: unknown call %s\n", call);
		exit(2);
	}
	uint64_t a;
	if (!strcmp(where, "null"))
		a = 0;
	else if (!strcmp(where, "unmapped"))
		a = UF_IST_GUARD;
	else if (!strcmp(where, "beyond"))
		a = 0xfffffff0u;
	else if (!strcmp(where, "text"))
		a = TEXT_ADDR;
	else if (!strcmp(where, "rodata"))
		a = RODATA_ADDR;
	else if (!strcmp(where, "end"))
		a = bi()->mem_size - 8;
	else if (!strcmp(where, "gdt"))
		a = UF_GDT_ADDR;
	else if (!strcmp(where, "pagetables"))
		a = UF_PT_ADDR;
	else {
		fprintf(stderr, "hcabuse: unknown place %s\n", where);
		exit(2);
	}
	st32(UF_HC_ADDR(n), (uint32_t)a);
	done(-1);
}

/* ---- field cases ---------------------------------------------------------- */

static void c_console_fd7(void)
{
	struct uf_hc_console c = {.buf = (uintptr_t) "x\n", .len = 2, .fd = 7};
	hc(UF_HC_CONSOLE, &c);
	done(c.ret);
}
static void c_console_fd0(void)
{
	struct uf_hc_console c = {.buf = (uintptr_t) "x\n", .len = 2, .fd = 0};
	hc(UF_HC_CONSOLE, &c);
	done(c.ret);
}
static void c_console_ok(void)
{
	struct uf_hc_console c = {.buf = (uintptr_t) "console-ok\n", .len = 11, .fd = 1};
	hc(UF_HC_CONSOLE, &c);
	done(c.ret);
}
static void c_console_misaligned(void)
{
	/* a misaligned argument struct is fine: the tender copies it */
	static char raw[sizeof(struct uf_hc_console) + 8];
	struct uf_hc_console c = {.buf = (uintptr_t) "misaligned-ok\n", .len = 14, .fd = 1, .ret = 1};
	memcpy(raw + 3, &c, sizeof(c));
	hc(UF_HC_CONSOLE, raw + 3);
	memcpy(&c, raw + 3, sizeof(c));
	done(c.ret);
}
static void c_console_buf_null(void)
{
	struct uf_hc_console c = {.buf = 0, .len = 16, .fd = 1};
	hc(UF_HC_CONSOLE, &c);
	done(c.ret);
}
static void c_console_buf_beyond(void)
{
	struct uf_hc_console c = {.buf = 0xfffffff0u, .len = 16, .fd = 2};
	hc(UF_HC_CONSOLE, &c);
	done(c.ret);
}
static void c_console_buf_straddle(void)
{
	/* starts inside guest memory, runs past its end */
	struct uf_hc_console c = {.buf = bi()->mem_size - 16, .len = 32, .fd = 1};
	hc(UF_HC_CONSOLE, &c);
	done(c.ret);
}
static void c_console_buf_wrap(void)
{
	/* buf + len wraps around 2^64 */
	struct uf_hc_console c = {.buf = UINT64_MAX - 7, .len = 16, .fd = 1};
	hc(UF_HC_CONSOLE, &c);
	done(c.ret);
}
static void c_console_len_max1(void)
{
	struct uf_hc_console c = {.buf = (uintptr_t)popbuf, .len = UF_CONSOLE_MAX + 1, .fd = 1};
	hc(UF_HC_CONSOLE, &c);
	done(c.ret);
}
static void c_console_len_huge(void)
{
	struct uf_hc_console c = {.buf = (uintptr_t)popbuf, .len = UINT64_MAX, .fd = 1};
	hc(UF_HC_CONSOLE, &c);
	done(c.ret);
}

static void c_time_clock2(void)
{
	struct uf_hc_time t = {.clock = 2};
	hc(UF_HC_TIME, &t);
	done(t.ret);
}
static void c_time_clock_max(void)
{
	struct uf_hc_time t = {.clock = UINT32_MAX};
	hc(UF_HC_TIME, &t);
	done(t.ret);
}

static void c_random_ok(void)
{
	char b[UF_RANDOM_MAX];
	struct uf_hc_random r = {.buf = (uintptr_t)b, .len = sizeof(b)};
	hc(UF_HC_RANDOM, &r);
	done(r.ret);
}
static void c_random_len(void)
{
	struct uf_hc_random r = {.buf = (uintptr_t)popbuf, .len = UF_RANDOM_MAX + 1};
	hc(UF_HC_RANDOM, &r);
	done(r.ret);
}
static void c_random_len_huge(void)
{
	struct uf_hc_random r = {.buf = (uintptr_t)popbuf, .len = UINT64_MAX};
	hc(UF_HC_RANDOM, &r);
	done(r.ret);
}
static void random_into(uint64_t a, uint64_t len)
{
	struct uf_hc_random r = {.buf = a, .len = len};
	hc(UF_HC_RANDOM, &r);
	done(r.ret);
}
static void c_random_null(void)
{
	random_into(0, 16);
}
static void c_random_beyond(void)
{
	random_into(0xfffffff0u, 16);
}
static void c_random_text(void)
{
	random_into(TEXT_ADDR, 16);
}
static void c_random_rodata(void)
{
	random_into(RODATA_ADDR, 16);
}
static void c_random_gdt(void)
{
	random_into(UF_GDT_ADDR, 16);
} /* GDT/TSS: supervisor-only */
static void c_random_idt(void)
{
	random_into(UF_IDT_ADDR, 16);
}
static void c_random_ist(void)
{
	random_into(UF_IST_TOP - 64, 16);
} /* exception stack */
static void c_random_pagetables(void)
{
	random_into(UF_PT_ADDR, 16);
}
static void c_random_guard(void)
{
	random_into(bi()->stack_lo - 64, 16);
} /* stack guard page */
static void c_random_cross_guard(void)
{
	random_into(bi()->heap_end - 8, 16);
} /* heap end into guard */

static void c_exit_kind(void)
{
	struct uf_hc_exit e = {.kind = 7, .status = 0};
	hc(UF_HC_EXIT, &e);
	done(-1);
}
static void c_exit_msg_beyond(void)
{
	struct uf_hc_exit e = {.kind = UF_EXIT_ABORT, .status = 6, .msg = 0xfffffff0u, .msg_len = 64};
	hc(UF_HC_EXIT, &e);
	done(-1);
}
static void c_exit_msg_null_page(void)
{
	struct uf_hc_exit e = {.kind = UF_EXIT_ABORT, .status = 6, .msg = 8, .msg_len = 64};
	hc(UF_HC_EXIT, &e);
	done(-1);
}
static void c_exit_msg_len_huge(void)
{
	/* a valid message with an absurd length: the tender reads at most 256 bytes */
	static char msg[300];
	memset(msg, 'm', sizeof(msg));
	struct uf_hc_exit e = {.kind = UF_EXIT_ABORT, .status = 6, .msg = (uintptr_t)msg, .msg_len = UINT64_MAX};
	hc(UF_HC_EXIT, &e);
	done(-1);
}
static void c_exit_msg_newline(void)
{
	/* the reason the tender prints must stay one line, whatever the guest says */
	static const char msg[] = "first line\nuf-hvt: forged: exited with status 0\r\x1b[2K";
	struct uf_hc_exit e = {.kind = UF_EXIT_ABORT, .status = 6, .msg = (uintptr_t)msg, .msg_len = sizeof(msg) - 1};
	hc(UF_HC_EXIT, &e);
	done(-1);
}
static void c_exit_status7(void)
{
	struct uf_hc_exit e = {.kind = UF_EXIT_NORMAL, .status = 7};
	hc(UF_HC_EXIT, &e);
	done(-1);
}

static void fault_at(uint32_t a)
{
	st32(UF_HC_ADDR(UF_HC_FAULT), a);
	done(-1);
}
static void c_fault_ist_end(void)
{
	fault_at(UF_IST_TOP - 8);
} /* runs past the exception stack */
static void c_fault_below_ist(void)
{
	fault_at(UF_IST_LO - 8);
} /* starts below it */
static void c_fault_stack(void)
{
	/* a fake fault frame on the guest's own stack: not the exception stack */
	volatile struct uf_hc_fault f = {.vector = 14};
	hc(UF_HC_FAULT, &f);
	done(-1);
}

static void c_pop_max0(void)
{
	struct uf_hc_pop p = {.buf = (uintptr_t)popbuf, .cap = sizeof(popbuf), .max_events = 0};
	hc(UF_HC_POP, &p);
	done(p.status);
}
static void c_pop_max1000(void)
{
	struct uf_hc_pop p = {.buf = (uintptr_t)popbuf, .cap = sizeof(popbuf), .max_events = 1000};
	hc(UF_HC_POP, &p);
	done(p.status);
}
static void c_pop_max257(void)
{
	struct uf_hc_pop p = {.buf = (uintptr_t)popbuf, .cap = sizeof(popbuf), .max_events = UF_BATCH_MAX + 1};
	hc(UF_HC_POP, &p);
	done(p.status);
}
static void pop_into(uint64_t buf, uint64_t cap)
{
	struct uf_hc_pop p = {.buf = buf, .cap = cap, .max_events = 1};
	hc(UF_HC_POP, &p);
	done(p.status);
}
static void c_pop_buf_null(void)
{
	pop_into(0, 4096);
}
static void c_pop_buf_text(void)
{
	pop_into(TEXT_ADDR, 4096);
}
static void c_pop_buf_rodata(void)
{
	pop_into(RODATA_ADDR, 64);
}
static void c_pop_buf_beyond(void)
{
	pop_into(0xfffffff0u, 4096);
}
static void c_pop_cap0(void)
{
	pop_into((uintptr_t)popbuf, 0);
}
static void c_pop_cap_huge(void)
{
	pop_into((uintptr_t)popbuf, UINT64_MAX);
}
static void c_pop_twice(void)
{
	pop_ok(1);
	pop_ok(1); /* the first batch was never committed */
	done(-1);
}
static void c_pop_small(void)
{
	/* a buffer too small for the event: the tender says how much it needs */
	struct uf_hc_pop p = {.buf = (uintptr_t)popbuf, .cap = 8, .max_events = 1};
	hc(UF_HC_POP, &p);
	printf("status=%d needed=%lu count=%u\n", p.status, (unsigned long)p.needed, p.count);
	done(p.status);
}

static void c_commit_count_mismatch(void)
{
	struct uf_hc_commit c = {.results = (uintptr_t)results, .count = 5};
	hc(UF_HC_COMMIT, &c);
	done(c.ret);
}
static void c_commit_count_mismatch_inflight(void)
{
	pop_ok(1);
	struct uf_hc_commit c = {.results = (uintptr_t)results, .count = 2};
	hc(UF_HC_COMMIT, &c);
	done(c.ret);
}
static void c_commit_npush_overflow(void)
{
	pop_ok(1);
	struct uf_hc_commit c = {
	    .results = (uintptr_t)results, .pushes = (uintptr_t)stage, .pushes_len = 16, .count = 1, .npush = 10};
	hc(UF_HC_COMMIT, &c);
	done(c.ret);
}
static void c_commit_results_null(void)
{
	pop_ok(1);
	struct uf_hc_commit c = {.results = 0, .count = 1};
	hc(UF_HC_COMMIT, &c);
	done(c.ret);
}
static void c_commit_results_beyond(void)
{
	pop_ok(1);
	struct uf_hc_commit c = {.results = bi()->mem_size - 2, .count = 1};
	hc(UF_HC_COMMIT, &c);
	done(c.ret);
}
static void c_commit_pushes_beyond(void)
{
	pop_ok(1);
	struct uf_hc_commit c = {
	    .results = (uintptr_t)results, .pushes = 0xfffff000u, .pushes_len = 64, .count = 1, .npush = 1};
	hc(UF_HC_COMMIT, &c);
	done(c.ret);
}
static void c_commit_pushes_len_huge(void)
{
	pop_ok(1);
	struct uf_hc_commit c = {.results = (uintptr_t)results,
	                         .pushes = (uintptr_t)stage,
	                         .pushes_len = UINT64_MAX,
	                         .count = 1,
	                         .npush = 1};
	hc(UF_HC_COMMIT, &c);
	done(c.ret);
}
/* ABI 4: output records and the TOPIC call */
static void c_commit_outs_beyond(void)
{
	pop_ok(1);
	struct uf_hc_commit c = {
	    .results = (uintptr_t)results, .outs = 0xfffff000u, .outs_len = 64, .count = 1, .nout = 1};
	hc(UF_HC_COMMIT, &c);
	done(c.ret);
}
static void c_commit_out_past(void)
{
	pop_ok(1);
	struct uf_rec_out r = {.kind = UF_OUTPUT_MQTT, .topic_len = 3, .qos = 1, .data_len = 4096};
	memcpy(stage, &r, sizeof(r));
	memcpy(stage + sizeof(r), "a/b\0data", 9);
	struct uf_hc_commit c = {
	    .results = (uintptr_t)results, .outs = (uintptr_t)stage, .outs_len = 40, .count = 1, .nout = 1};
	hc(UF_HC_COMMIT, &c);
	done(c.ret);
}
static void c_topic_beyond(void)
{
	struct uf_hc_topic t = {.topic = bi()->mem_size - 2, .topic_len = 8};
	hc(UF_HC_TOPIC, &t);
	done(t.ret);
}
static void c_topic_len0(void)
{
	struct uf_hc_topic t = {.topic = (uintptr_t)stage, .topic_len = 0};
	hc(UF_HC_TOPIC, &t);
	done(t.ret);
}
static void c_topic_wildcard(void)
{
	memcpy(stage, "a/+", 3);
	struct uf_hc_topic t = {.topic = (uintptr_t)stage, .topic_len = 3};
	hc(UF_HC_TOPIC, &t);
	done(t.ret);
}
static void c_commit_push_event_range(void)
{
	pop_ok(1);
	size_t off = 0;
	put_push(&off, 0, "good", "first");
	put_push(&off, 5, "out", "names event 5");
	commit_stage(1, off, 2);
}
static void c_commit_push_failed_event(void)
{
	pop_ok(1);
	results[0] = 1; /* event 0 failed, yet a push names it */
	size_t off = 0;
	put_push(&off, 0, "out", "pushed by a failed event");
	commit_stage(1, off, 1);
}
static void c_commit_push_data_len(void)
{
	pop_ok(1);
	size_t off = 0;
	put_push(&off, 0, "good", "first");
	struct uf_rec_push *r = put_push(&off, 0, "out", "x");
	r->data_len = 1u << 30;
	commit_stage(1, off, 2);
}
static void c_commit_push_data_len_max(void)
{
	pop_ok(1);
	size_t off = 0;
	struct uf_rec_push *r = put_push(&off, 0, "out", "x");
	r->data_len = UINT64_MAX - 8; /* + 2 would wrap */
	commit_stage(1, off, 1);
}
static void c_commit_push_queue_len(void)
{
	pop_ok(1);
	size_t off = 0;
	struct uf_rec_push *r = put_push(&off, 0, "out", "x");
	r->queue_len = UINT32_MAX;
	commit_stage(1, off, 1);
}
static void c_commit_push_no_nul(void)
{
	pop_ok(1);
	size_t off = 0;
	struct uf_rec_push *r = put_push(&off, 0, "out", "data");
	((char *)(r + 1))[r->queue_len + 1 + r->data_len] = 'X'; /* data terminator overwritten */
	commit_stage(1, off, 1);
}
static void c_commit_push_bad_queue(void)
{
	pop_ok(1);
	size_t off = 0;
	put_push(&off, 0, "bad queue\"name", "x");
	commit_stage(1, off, 1);
}
static void c_commit_push_empty_queue(void)
{
	pop_ok(1);
	size_t off = 0;
	put_push(&off, 0, "", "x");
	commit_stage(1, off, 1);
}
static void c_commit_push_truncated(void)
{
	pop_ok(1);
	size_t off = 0;
	put_push(&off, 0, "good", "first");
	/* two records claimed, the second's header cut short */
	commit_stage(1, off + 8, 2);
}
static void c_commit_ok(void)
{
	pop_ok(1);
	size_t off = 0;
	put_push(&off, 0, "good", "committed");
	commit_stage(1, off, 1);
}
static void c_commit_nothing(void)
{
	/* nothing in flight, nothing committed: a no-op, not an error */
	struct uf_hc_commit c = {0};
	hc(UF_HC_COMMIT, &c);
	done(c.ret);
}

static void kv_call(uint32_t op, uint32_t key_len, uint64_t key, uint64_t val, uint64_t val_len)
{
	struct uf_hc_kv k = {.op = op, .key_len = key_len, .key = key, .val = val, .val_len = val_len};
	hc(UF_HC_KV, &k);
	printf("val_len=%lu\n", (unsigned long)k.val_len);
	done(k.ret);
}
static char kvbuf[256];
#define KEY  "hcabuse-key"
#define KEYP ((uintptr_t)KEY)
static void c_kv_keylen0(void)
{
	kv_call(UF_KV_GET, 0, KEYP, (uintptr_t)kvbuf, 16);
}
static void c_kv_keylen513(void)
{
	kv_call(UF_KV_SET, UF_KEY_MAX + 1, (uintptr_t)popbuf, (uintptr_t)kvbuf, 1);
}
static void c_kv_keylen100000(void)
{
	kv_call(UF_KV_GET, 100000, (uintptr_t)popbuf, (uintptr_t)kvbuf, 16);
}
static void c_kv_key_null(void)
{
	kv_call(UF_KV_GET, 3, 0, (uintptr_t)kvbuf, 16);
}
static void c_kv_key_beyond(void)
{
	kv_call(UF_KV_DEL, 16, 0xfffffff8u, 0, 0);
}
static void c_kv_op9(void)
{
	kv_call(9, 11, KEYP, (uintptr_t)kvbuf, 16);
}
static void c_kv_get_text(void)
{
	kv_set_ok(KEY, "0123456789abcdef");
	kv_call(UF_KV_GET, 11, KEYP, TEXT_ADDR, 16); /* would overwrite the code */
}
static void c_kv_get_rodata(void)
{
	kv_set_ok(KEY, "0123456789abcdef");
	kv_call(UF_KV_GET, 11, KEYP, RODATA_ADDR, 16);
}
static void c_kv_get_pagetables(void)
{
	kv_set_ok(KEY, "0123456789abcdef");
	kv_call(UF_KV_GET, 11, KEYP, UF_PT_ADDR, 16);
}
static void c_kv_get_beyond(void)
{
	kv_set_ok(KEY, "0123456789abcdef");
	kv_call(UF_KV_GET, 11, KEYP, bi()->mem_size - 8, 16);
}
static void c_kv_get_cap_huge(void)
{
	kv_set_ok(KEY, "0123456789abcdef");
	kv_call(UF_KV_GET, 11, KEYP, (uintptr_t)kvbuf, UINT64_MAX);
}
static void c_kv_get_absent_text(void)
{
	/* even for an absent key the buffer is checked first */
	kv_call(UF_KV_GET, 11, KEYP, TEXT_ADDR, 16);
}
static void c_kv_set_len_huge(void)
{
	kv_call(UF_KV_SET, 11, KEYP, (uintptr_t)kvbuf, UF_VALUE_MAX + 1ull);
}
static void c_kv_set_val_beyond(void)
{
	kv_call(UF_KV_SET, 11, KEYP, 0xfffff000u, 64);
}
static void c_kv_set_val_null(void)
{
	kv_call(UF_KV_SET, 11, KEYP, 0, 64);
}
static void c_kv_get_absent(void)
{
	kv_call(UF_KV_GET, 11, KEYP, (uintptr_t)kvbuf, 16);
}
static void c_kv_roundtrip(void)
{
	kv_set_ok(KEY, "0123456789abcdef");
	kv_call(UF_KV_GET, 11, KEYP, (uintptr_t)kvbuf, 4); /* short buffer: val_len says 16 */
}

/* malformed http calls end the unit, whether or not egress is served */
static void c_http_garbage(void)
{
	struct uf_hc_http h = {.method = 0xdead0000u,
	                       .method_len = UINT64_MAX,
	                       .url = 0,
	                       .url_len = 5,
	                       .resp = TEXT_ADDR,
	                       .resp_cap = 1u << 30};
	hc(UF_HC_HTTP, &h);
	done(h.ret);
}
static const char http_get[] = "GEThttp://example.com/";
static void c_http_resp_text(void)
{
	struct uf_hc_http h = {.method = (uintptr_t)http_get,
	                       .method_len = 3,
	                       .url = (uintptr_t)http_get + 3,
	                       .url_len = 19,
	                       .resp = TEXT_ADDR,
	                       .resp_cap = 16};
	hc(UF_HC_HTTP, &h);
	done(h.ret);
}
static void c_http_url_beyond(void)
{
	struct uf_hc_http h = {.method = (uintptr_t)http_get, .method_len = 3, .url = 0xfffffff0u, .url_len = 19};
	hc(UF_HC_HTTP, &h);
	done(h.ret);
}
static void c_http_headers_long(void)
{
	struct uf_hc_http h = {.method = (uintptr_t)http_get,
	                       .method_len = 3,
	                       .url = (uintptr_t)http_get + 3,
	                       .url_len = 19,
	                       .headers = (uintptr_t)http_get,
	                       .headers_len = UF_HTTP_HEADERS_MAX + 1};
	hc(UF_HC_HTTP, &h);
	done(h.ret);
}
static void c_net_enosys(void)
{
	struct uf_hc_net n = {.op = 77, .buf = TEXT_ADDR, .len = UINT64_MAX};
	hc(UF_HC_NET, &n);
	done(n.ret);
}
static void c_http_api(void)
{
	uf_http_req req = {.method = "GET", .url = "http://example.com/"};
	char body[64];
	uf_http_resp resp = {.body = body, .cap = sizeof(body)};
	done(uf_http(uf_context(), &req, &resp));
}

static void c_yield_short(void)
{
	struct uf_hc_yield y = {.timeout_ns = 1000};
	hc(UF_HC_YIELD, &y);
	done(y.ret);
}

static void c_setfs_beyond(void)
{
	struct uf_hc_setfs s = {.base = 0xfffffff0u};
	hc(UF_HC_SETFS, &s);
	done(s.ret);
}
static void c_setfs_huge(void)
{
	struct uf_hc_setfs s = {.base = 1ull << 63};
	hc(UF_HC_SETFS, &s);
	done(s.ret);
}

/* Accesses to the hypercall page that are not one 32-bit store to a slot. */
static void c_mmio_slot_count(void)
{
	st32(UF_HC_ADDR(UF_HC_COUNT), (uint32_t)(uintptr_t)popbuf); /* past the last call */
	done(-1);
}
static void c_mmio_misaligned(void)
{
	st32(UF_HC_ADDR(UF_HC_CONSOLE) + 4, (uint32_t)(uintptr_t)popbuf);
	done(-1);
}
static void c_mmio_last(void)
{
	st32(UF_HC_PAGE + UF_PAGE_SIZE - 4, (uint32_t)(uintptr_t)popbuf);
	done(-1);
}
static void c_mmio_st8(void)
{
	AT(UF_HC_ADDR(UF_HC_CONSOLE), uint8_t) = 0x10;
	done(-1);
}
static void c_mmio_st16(void)
{
	AT(UF_HC_ADDR(UF_HC_EXIT), uint16_t) = 0x2000;
	done(-1);
}
static void c_mmio_st64(void)
{
	static struct uf_hc_console c = {.len = 1, .fd = 1};
	c.buf = (uintptr_t) "x";
	AT(UF_HC_ADDR(UF_HC_CONSOLE), uint64_t) = (uintptr_t)&c;
	done(-1);
}
static void c_mmio_read(void)
{
	done((long)AT(UF_HC_ADDR(UF_HC_CONSOLE), uint32_t));
}
#if defined(__x86_64__)
static void c_mmio_add(void)
{
	/* a read-modify-write: the read comes first */
	__asm__ volatile("addl $1, (%0)" ::"r"((uint64_t)UF_HC_ADDR(UF_HC_TIME)) : "memory");
	done(-1);
}
static void c_mmio_xchg(void)
{
	uint32_t v = (uint32_t)(uintptr_t)popbuf;
	__asm__ volatile("xchgl %0, (%1)" : "+r"(v) : "r"((uint64_t)UF_HC_ADDR(UF_HC_TIME)) : "memory");
	done(-1);
}
static void c_mmio_sse(void)
{
	/* a 16-byte store */
	static struct uf_hc_time t = {.clock = UF_CLOCK_MONO};
	uint64_t w[2] __attribute__((aligned(16))) = {(uintptr_t)&t, (uintptr_t)&t};
	__asm__ volatile("movdqa (%0), %%xmm0\n\tmovdqu %%xmm0, (%1)" ::"r"(w), "r"((uint64_t)UF_HC_ADDR(UF_HC_TIME))
	                 : "xmm0", "memory");
	done(-1);
}
static void c_mmio_x87(void)
{
	/* a store KVM's instruction emulator does not know */
	float f = 1.0f;
	__asm__ volatile("flds %1\n\tfstps %0" : "=m"(AT(UF_HC_ADDR(UF_HC_TIME), uint32_t)) : "m"(f));
	done(-1);
}
static void c_mmio_rep_stosl(void)
{
	/* a string store of two valid time-struct addresses from the time slot:
	 * the first is a call; the second lands at slot + 4, which is none */
	static struct uf_hc_time t = {.clock = UF_CLOCK_MONO};
	void *dst = (void *)(uintptr_t)UF_HC_ADDR(UF_HC_TIME);
	unsigned long cnt = 2;
	__asm__ volatile("rep stosl" : "+D"(dst), "+c"(cnt) : "a"((uint32_t)(uintptr_t)&t) : "memory");
	done(-1);
}
#else
static void c_mmio_stp(void)
{
	/* a store pair: the CPU gives the hypervisor no syndrome to decode it by */
	static struct uf_hc_time t = {.clock = UF_CLOCK_MONO};
	uint32_t v = (uint32_t)(uintptr_t)&t;
	__asm__ volatile("stp %w0, %w0, [%1]" ::"r"(v), "r"((uint64_t)UF_HC_ADDR(UF_HC_TIME)) : "memory");
	done(-1);
}
static void c_mmio_str_post(void)
{
	/* a store with writeback: no syndrome either */
	static struct uf_hc_time t = {.clock = UF_CLOCK_MONO};
	uint64_t a = UF_HC_ADDR(UF_HC_TIME);
	__asm__ volatile("str %w1, [%0], #4" : "+r"(a) : "r"((uint32_t)(uintptr_t)&t) : "memory");
	done(-1);
}
#endif
static void c_mmio_straddle(void)
{
	/* 8 bytes from the page's last 4: the next page is not mapped */
	AT(UF_HC_PAGE + UF_PAGE_SIZE - 4, uint64_t) = 1;
	done(-1);
}
static void c_mmio_below(void)
{
	st32(UF_HC_PAGE - 4, 1);
	done(-1);
}
static void c_mmio_above(void)
{
	st32(UF_HC_PAGE + UF_PAGE_SIZE, 1);
	done(-1);
}
static void c_mmio_exec(void)
{
	((void (*)(void))(uintptr_t)UF_HC_PAGE)();
	done(-1);
}
#if defined(__x86_64__)
/* No I/O port is open: the CPU refuses them (#GP) before the tender sees anything. */
static void c_port_out32_500(void)
{
	out32(0x500, (uint32_t)(uintptr_t)popbuf); /* ABI 6's console port */
	done(-1);
}
static void c_port_out8_3f8(void)
{
	out8(0x3f8, 'A');
	done(-1);
}
static void c_port_out32_cf8(void)
{
	out32(0xcf8, 0x80000000u);
	done(-1);
}
static void c_port_in8_60(void)
{
	uint8_t v;
	__asm__ volatile("inb $0x60, %0" : "=a"(v));
	done(v);
}
static void c_port_rep_outsl(void)
{
	static uint32_t words[2];
	const void *src = words;
	unsigned long cnt = 2;
	__asm__ volatile("rep outsl" : "+S"(src), "+c"(cnt) : "d"((uint16_t)0x501) : "memory");
	done(-1);
}
#endif

/* clang-format off */
#define C(n) {#n, c_##n}
static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	C(console_fd7), C(console_fd0), C(console_ok), C(console_misaligned), C(console_buf_null),
	C(console_buf_beyond), C(console_buf_straddle), C(console_buf_wrap), C(console_len_max1),
	C(console_len_huge), C(time_clock2), C(time_clock_max), C(random_ok), C(random_len),
	C(random_len_huge), C(random_null), C(random_beyond), C(random_text), C(random_rodata),
	C(random_gdt), C(random_idt), C(random_ist), C(random_pagetables), C(random_guard),
	C(random_cross_guard), C(exit_kind), C(exit_msg_beyond), C(exit_msg_null_page), C(exit_msg_len_huge),
	C(exit_msg_newline), C(exit_status7), C(fault_ist_end), C(fault_below_ist), C(fault_stack),
	C(pop_max0), C(pop_max1000), C(pop_max257), C(pop_buf_null), C(pop_buf_text), C(pop_buf_rodata),
	C(pop_buf_beyond), C(pop_cap0), C(pop_cap_huge), C(pop_twice), C(pop_small),
	C(commit_count_mismatch), C(commit_count_mismatch_inflight), C(commit_npush_overflow),
	C(commit_results_null), C(commit_results_beyond), C(commit_pushes_beyond), C(commit_pushes_len_huge),
	C(commit_outs_beyond), C(commit_out_past), C(topic_beyond), C(topic_len0), C(topic_wildcard),
	C(commit_push_event_range), C(commit_push_failed_event), C(commit_push_data_len),
	C(commit_push_data_len_max), C(commit_push_queue_len), C(commit_push_no_nul),
	C(commit_push_bad_queue), C(commit_push_empty_queue), C(commit_push_truncated), C(commit_ok),
	C(commit_nothing), C(kv_keylen0), C(kv_keylen513), C(kv_keylen100000), C(kv_key_null),
	C(kv_key_beyond), C(kv_op9), C(kv_get_text), C(kv_get_rodata), C(kv_get_pagetables),
	C(kv_get_beyond), C(kv_get_cap_huge), C(kv_get_absent_text), C(kv_set_len_huge),
	C(kv_set_val_beyond), C(kv_set_val_null), C(kv_get_absent), C(kv_roundtrip), C(http_garbage), C(http_resp_text), C(http_url_beyond), C(http_headers_long),
	C(net_enosys), C(http_api), C(yield_short), C(setfs_beyond), C(setfs_huge), C(mmio_slot_count),
	C(mmio_misaligned), C(mmio_last), C(mmio_st8), C(mmio_st16), C(mmio_st64), C(mmio_read),
	C(mmio_straddle), C(mmio_below), C(mmio_above), C(mmio_exec),
#if defined(__x86_64__)
	C(mmio_add), C(mmio_xchg), C(mmio_sse), C(mmio_x87), C(mmio_rep_stosl),
	C(port_out32_500), C(port_out8_3f8), C(port_out32_cf8), C(port_rep_outsl), C(port_in8_60),
#else
	C(mmio_stp), C(mmio_str_post),
#endif
};
#undef C
/* clang-format on */

int main(void)
{
	const char *c = getenv("CASE");
	if (!c) {
		fprintf(stderr, "hcabuse: set CASE\n");
		return 2;
	}
	if (!strncmp(c, "addr:", 5)) {
		char call[32];
		const char *colon = strchr(c + 5, ':');
		if (!colon || (size_t)(colon - c - 5) >= sizeof(call)) {
			fprintf(stderr, "hcabuse: bad CASE %s\n", c);
			return 2;
		}
		memcpy(call, c + 5, (size_t)(colon - c - 5));
		call[colon - c - 5] = '\0';
		addr_case(call, colon + 1);
	}
	if (!strcmp(c, "list")) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(c, cases[i].name))
			cases[i].fn();
	fprintf(stderr, "hcabuse: unknown CASE %s\n", c);
	return 2;
}
