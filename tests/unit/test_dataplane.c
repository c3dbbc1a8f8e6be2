/*
 * test_dataplane.c - the data-plane hypercalls (tender/hvt_dataplane.c):
 * UF_HC_POP, UF_HC_COMMIT and UF_HC_KV, driven through hvt_hypercall() on a
 * struct hvt with malloc'd guest memory (support.c) and the real local
 * backend: events from a temporary file, pushes to a temporary file that
 * the tests read back.
 *
 * What is checked: pop writes records exactly as uf_abi.h describes them;
 * TOOBIG reports the size needed and consumes nothing; commit prints the
 * staged pushes as JSON lines and reports failed events; staged KV records
 * are applied in order with the commit, malformed ones end the unit; a push
 * outside --push-allow fails its event (pushes and KV writes dropped, one
 * log line); a unit that ends mid-batch has its batch settled with the
 * event the progress counter names blamed; KV get/set/incr/del follow the
 * ABI; and every malformed pop, commit or kv call ends the unit with
 * UF_END_BAD_HYPERCALL and a reason naming the call - with nothing of a
 * rejected commit reaching the output.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hvt.h"
#include "support.h"

#define EVENTS "alpha\nbeta\n\ngamma\r\n" /* three events: blank line skipped, CR dropped */

/* Guest addresses used by the tests (all in the heap). */
#define ARG   (UFT_HEAP + 0x40)
#define KEY   (UFT_HEAP + 0x100)
#define RES   (UFT_HEAP + 0x200)
#define PUSH  (UFT_HEAP + 0x400)
#define VAL   (UFT_HEAP + 0x800)
#define BUF   (UFT_HEAP + 0x1000)
#define KVREC (UFT_HEAP + 0x3000)
#define OUTS  (UFT_HEAP + 0x5000)
#define TOPIC (UFT_HEAP + 0x7000)

static int setup(void **state)
{
	struct uft_fx *fx = calloc(1, sizeof(*fx));
	if (!fx || uft_fx_open(fx, EVENTS, NULL) < 0)
		return -1;
	*state = fx;
	return 0;
}

static void hc(struct uft_fx *fx, enum uf_hc call, uint64_t arg)
{
	uft_hc(&fx->h, call, (uint32_t)arg);
}

static void assert_running(struct uft_fx *fx)
{
	if (fx->h.ended)
		fail_msg("the unit ended (code %d): %s", fx->h.end_code, fx->h.end_reason);
}

/* The unit ended as a bad hypercall, and the reason names `call`; `what` is the case. */
static void assert_bad(struct uft_fx *fx, const char *call, const char *what)
{
	char want[64];
	snprintf(want, sizeof(want), "bad hypercall: %s", call);
	if (!fx->h.ended || fx->h.end_code != UF_END_BAD_HYPERCALL ||
	    strncmp(fx->h.end_reason, want, strlen(want)) != 0)
		fail_msg("%s with %s: ended=%d code=%d (want %d) reason \"%s\" (want \"%s...\")", call, what,
		         fx->h.ended, fx->h.end_code, UF_END_BAD_HYPERCALL, fx->h.end_reason, want);
}

static char *out_text(struct uft_fx *fx)
{
	char *s = uft_slurp(fx->out, NULL);
	assert_non_null(s);
	return s;
}

static void assert_out(struct uft_fx *fx, const char *want)
{
	char *got = out_text(fx);
	if (strcmp(got, want) != 0)
		fail_msg("pushes printed:\n%s\nexpected:\n%s", got, want);
	free(got);
}

static struct uf_hc_pop pop(struct uft_fx *fx, uint64_t buf, uint64_t cap, uint32_t max)
{
	struct uf_hc_pop a = {.buf = buf, .cap = cap, .max_events = max, .status = -999, .count = 999};
	memcpy(G(fx, ARG), &a, sizeof(a));
	hc(fx, UF_HC_POP, ARG);
	memcpy(&a, G(fx, ARG), sizeof(a));
	return a;
}

static struct uf_hc_commit commit(struct uft_fx *fx, uint32_t count, const int32_t *results, uint64_t pushes,
                                  uint64_t pushes_len, uint32_t npush)
{
	if (count && results)
		memcpy(G(fx, RES), results, count * sizeof(int32_t));
	struct uf_hc_commit a = {
	    .results = RES, .pushes = pushes, .pushes_len = pushes_len, .count = count, .npush = npush, .ret = -999};
	memcpy(G(fx, ARG), &a, sizeof(a));
	hc(fx, UF_HC_COMMIT, ARG);
	memcpy(&a, G(fx, ARG), sizeof(a));
	return a;
}

/* Stages one push record at gpa; returns its padded size. */
static uint64_t stage(struct uft_fx *fx, uint64_t gpa, uint32_t event, const char *queue, const void *data,
                      uint64_t len)
{
	struct uf_rec_push r = {.event = event, .queue_len = (uint32_t)strlen(queue), .data_len = len};
	uint8_t *p = G(fx, gpa);
	memcpy(p, &r, sizeof(r));
	memcpy(p + sizeof(r), queue, r.queue_len + 1);
	memcpy(p + sizeof(r) + r.queue_len + 1, data, len);
	p[sizeof(r) + r.queue_len + 1 + len] = '\0';
	return (sizeof(r) + r.queue_len + 1 + len + 1 + 7) & ~7ull;
}

struct rec {
	struct uf_rec_event r;
	const char *id, *queue, *data, *src, *attrs;
};

/* Parses the record at p, checking its terminators; returns its padded size. */
static uint64_t parse_rec(const uint8_t *p, struct rec *out)
{
	memcpy(&out->r, p, sizeof(out->r));
	const char *s = (const char *)p + sizeof(out->r);
	out->id = s;
	assert_int_equal(s[out->r.id_len], '\0');
	assert_int_equal(strlen(out->id), out->r.id_len);
	s += out->r.id_len + 1;
	out->queue = s;
	assert_int_equal(s[out->r.queue_len], '\0');
	s += out->r.queue_len + 1;
	out->data = s;
	assert_int_equal(s[out->r.data_len], '\0');
	s += out->r.data_len + 1;
	out->src = s;
	assert_int_equal(s[out->r.src_len], '\0');
	assert_int_equal(strlen(out->src), out->r.src_len);
	s += out->r.src_len + 1;
	out->attrs = s;
	assert_int_equal(s[out->r.attrs_len], '\0');
	assert_int_equal(strlen(out->attrs), out->r.attrs_len);
	uint64_t n = sizeof(out->r) + out->r.id_len + 1 + out->r.queue_len + 1 + out->r.data_len + 1 + out->r.src_len +
	             1 + out->r.attrs_len + 1;
	return (n + UF_REC_ALIGN - 1) & ~(uint64_t)(UF_REC_ALIGN - 1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- pop ---------------------------------------------------------------------- */

static void test_pop_fills_records(void **state)
{
	struct uft_fx *fx = *state;
	memset(G(fx, BUF), 0xaa, 4096);
	uint64_t t0 = now_ms();
	struct uf_hc_pop a = pop(fx, BUF, 4096, 8);
	uint64_t t1 = now_ms();
	assert_running(fx);
	assert_int_equal(a.status, UF_POP_OK);
	assert_int_equal(a.count, 3);
	assert_int_equal(a.needed, 0);
	assert_int_equal(a.used, 3 * 48); /* 32 + "1\0" + "input\0" + "alpha\0" + "\0\0" = 48, ... */
	assert_int_equal(fx->h.inflight, 3);
	assert_true(fx->h.t_ready_ns != 0); /* boot-to-ready is stamped at the first pop */

	static const char *data[] = {"alpha", "beta", "gamma"}, *ids[] = {"1", "2", "3"};
	uint64_t off = 0;
	for (int i = 0; i < 3; i++) {
		struct rec r;
		assert_int_equal(off % UF_REC_ALIGN, 0);
		off += parse_rec(G(fx, BUF + off), &r);
		assert_string_equal(r.id, ids[i]);
		assert_string_equal(r.queue, "input");
		assert_int_equal(r.r.queue_len, 5);
		assert_int_equal(r.r.data_len, strlen(data[i]));
		assert_memory_equal(r.data, data[i], r.r.data_len);
		assert_true(r.r.time_ms >= t0 && r.r.time_ms <= t1);
		assert_int_equal(r.r.src_len, 0); /* no source: empty strings */
		assert_int_equal(r.r.attrs_len, 0);
	}
	assert_int_equal(off, a.used);
	for (uint64_t i = a.used; i < 4096; i++) /* nothing written past `used` */
		if (G(fx, BUF)[i] != 0xaa)
			fail_msg("pop wrote byte %lu, past used=%lu", (unsigned long)i, (unsigned long)a.used);

	int32_t ok[3] = {0, 0, 0};
	struct uf_hc_commit c = commit(fx, 3, ok, 0, 0, 0);
	assert_running(fx);
	assert_int_equal(c.ret, 0);
	assert_int_equal(fx->h.inflight, 0);
	assert_out(fx, "");

	a = pop(fx, BUF, 4096, 8); /* input exhausted */
	assert_running(fx);
	assert_int_equal(a.status, UF_POP_DRAINED);
	assert_int_equal(a.count, 0);
	assert_int_equal(a.used, 0);
	assert_int_equal(fx->h.inflight, 0);
}

static void test_pop_max_events(void **state)
{
	struct uft_fx *fx = *state;
	struct uf_hc_pop a = pop(fx, BUF, 4096, 2);
	assert_int_equal(a.status, UF_POP_OK);
	assert_int_equal(a.count, 2);
	assert_int_equal(fx->h.inflight, 2);
	int32_t ok[2] = {0, 0};
	commit(fx, 2, ok, 0, 0, 0);
	a = pop(fx, BUF, 4096, UF_BATCH_MAX);
	assert_running(fx);
	assert_int_equal(a.count, 1);
	struct rec r;
	parse_rec(G(fx, BUF), &r);
	assert_string_equal(r.id, "3");
	assert_string_equal(r.data, "gamma");
}

static void test_pop_toobig(void **state)
{
	struct uft_fx *fx = *state;
	struct uf_hc_pop a = pop(fx, BUF, 47, 8);
	assert_running(fx);
	assert_int_equal(a.status, UF_POP_TOOBIG);
	assert_int_equal(a.needed, 48);
	assert_int_equal(a.count, 0);
	assert_int_equal(a.used, 0);
	assert_int_equal(fx->h.inflight, 0);
	/* nothing was consumed: the same event fits a buffer of `needed` bytes */
	a = pop(fx, BUF, a.needed, 8);
	assert_running(fx);
	assert_int_equal(a.status, UF_POP_OK);
	assert_int_equal(a.count, 1);
	assert_int_equal(a.used, 48);
	struct rec r;
	parse_rec(G(fx, BUF), &r);
	assert_string_equal(r.id, "1");
	assert_string_equal(r.data, "alpha");
}

static void test_pop_partial_batch(void **state)
{
	struct uft_fx *fx = *state;
	/* room for one record and most of the second: only whole records are written */
	memset(G(fx, BUF), 0xaa, 128);
	struct uf_hc_pop a = pop(fx, BUF, 95, 8);
	assert_running(fx);
	assert_int_equal(a.status, UF_POP_OK);
	assert_int_equal(a.count, 1);
	assert_int_equal(a.needed, 0);
	assert_int_equal(a.used, 48);
	assert_int_equal(G(fx, BUF)[48], 0xaa);
	int32_t ok[1] = {0};
	commit(fx, 1, ok, 0, 0, 0);
	a = pop(fx, BUF, 4096, 8);
	assert_int_equal(a.count, 2);
	struct rec r;
	parse_rec(G(fx, BUF), &r);
	assert_string_equal(r.id, "2");
}

static void test_pop_record_into_last_bytes_of_heap(void **state)
{
	struct uft_fx *fx = *state;
	/* a buffer ending exactly at the stack guard page is fine */
	struct uf_hc_pop a = pop(fx, UFT_HEAP_END - 48, 48, 1);
	assert_running(fx);
	assert_int_equal(a.count, 1);
	struct rec r;
	parse_rec(G(fx, UFT_HEAP_END - 48), &r);
	assert_string_equal(r.data, "alpha");
}

/* ABI 4: an event's source and attrs follow its data, each NUL-terminated */
static void test_pop_source_and_attrs(void **state)
{
	(void)state;
	struct uft_fx fx;
	const char *src = "device/sck/tok123/readings/raw", *attrs = "{\"type\":\"org.example.reading\"}";
	assert_int_equal(uft_fx_open_src(&fx, "alpha\nbeta\n", NULL, UFT_MEM, src, attrs), 0);
	memset(G(&fx, BUF), 0xaa, 4096);
	struct uf_hc_pop a = pop(&fx, BUF, 4096, 8);
	assert_running(&fx);
	assert_int_equal(a.count, 2);
	uint64_t off = 0;
	for (int i = 0; i < 2; i++) {
		struct rec r;
		off += parse_rec(G(&fx, BUF + off), &r);
		assert_string_equal(r.data, i ? "beta" : "alpha");
		assert_int_equal(r.r.src_len, strlen(src));
		assert_string_equal(r.src, src);
		assert_int_equal(r.r.attrs_len, strlen(attrs));
		assert_string_equal(r.attrs, attrs);
	}
	assert_int_equal(off, a.used);
	/* each record grows by both: 32 + "1\0" 2 + "input\0" 6 + "alpha\0" 6 + 31 + 31 = 108 -> 112 */
	assert_int_equal(a.used, 112 + 112);
	int32_t ok[2] = {0, 0};
	commit(&fx, 2, ok, 0, 0, 0);
	uft_fx_close(&fx);
}

static void test_pop_unaligned_arg_struct(void **state)
{
	struct uft_fx *fx = *state;
	struct uf_hc_pop a = {.buf = BUF, .cap = 4096, .max_events = 8};
	memcpy(G(fx, ARG + 3), &a, sizeof(a));
	hc(fx, UF_HC_POP, ARG + 3);
	assert_running(fx);
	memcpy(&a, G(fx, ARG + 3), sizeof(a));
	assert_int_equal(a.count, 3);
	assert_int_equal(a.status, UF_POP_OK);
}

static void test_pop_drained_without_events(void **state)
{
	(void)state;
	struct uft_fx fx;
	assert_int_equal(uft_fx_open(&fx, NULL, NULL), 0);
	struct uf_hc_pop a = pop(&fx, BUF, 4096, 8);
	assert_running(&fx);
	assert_int_equal(a.status, UF_POP_DRAINED);
	assert_int_equal(a.count, 0);
	assert_int_equal(fx.h.inflight, 0);
	uft_fx_close(&fx);
}

/* Each case: a fresh unit, one malformed pop, which must end the unit. */
static void test_pop_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		uint64_t buf, cap;
		uint32_t max;
		uint64_t arg;
		int pop_first; /* pop once (leaving events in flight) before the bad call */
	} cases[] = {
	    {"max_events 0", BUF, 4096, 0, ARG, 0},
	    {"max_events 257", BUF, 4096, UF_BATCH_MAX + 1, ARG, 0},
	    {"max_events 2^32-1", BUF, 4096, UINT32_MAX, ARG, 0},
	    {"cap 0", BUF, 0, 1, ARG, 0},
	    {"buffer in text", UFT_TEXT_LO, 4096, 1, ARG, 0},
	    {"buffer in rodata", UFT_RO_LO, 256, 1, ARG, 0},
	    {"buffer in the GDT page", UF_GDT_ADDR, 256, 1, ARG, 0},
	    {"buffer in the page tables", UF_PT_ADDR, 4096, 1, ARG, 0},
	    {"buffer on the NULL page", 0, 4096, 1, ARG, 0},
	    {"buffer at 8", 8, 4096, 1, ARG, 0},
	    {"buffer into the stack guard", UFT_HEAP_END - 64, 128, 1, ARG, 0},
	    {"buffer past memory", UFT_MEM - 64, 128, 1, ARG, 0},
	    {"buffer beyond memory", UFT_MEM + 4096, 128, 1, ARG, 0},
	    {"cap wraps", BUF, UINT64_MAX - BUF + 2, 1, ARG, 0},
	    {"cap 2^64-1", BUF, UINT64_MAX, 1, ARG, 0},
	    {"batch still in flight", BUF, 4096, 1, ARG, 1},
	    {"argument struct in rodata", BUF, 4096, 1, UFT_RO_LO, 0},
	    {"argument struct in text", BUF, 4096, 1, UFT_TEXT_LO + 8, 0},
	    {"argument struct on the NULL page", BUF, 4096, 1, 0, 0},
	    {"argument struct across the end of memory", BUF, 4096, 1, UFT_MEM - 16, 0},
	    {"argument struct beyond memory", BUF, 4096, 1, 0xfffffff0u, 0},
	    {"argument struct on the exception stack", BUF, 4096, 1, UF_IST_LO, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct uft_fx fx;
		assert_int_equal(uft_fx_open(&fx, EVENTS, NULL), 0);
		if (cases[i].pop_first) {
			pop(&fx, BUF, 4096, 1);
			assert_running(&fx);
		}
		struct uf_hc_pop a = {.buf = cases[i].buf, .cap = cases[i].cap, .max_events = cases[i].max};
		uint8_t *argp = hvt_guest_ptr(&fx.h, cases[i].arg, sizeof(a), 0);
		if (argp)
			memcpy(argp, &a, sizeof(a));
		hc(&fx, UF_HC_POP, cases[i].arg);
		assert_bad(&fx, "pop", cases[i].name);
		uft_fx_close(&fx);
	}
}

/* ---- commit ---------------------------------------------------------------- */

static void test_commit_prints_pushes(void **state)
{
	struct uft_fx *fx = *state;
	struct uf_hc_pop a = pop(fx, BUF, 4096, 2);
	assert_int_equal(a.count, 2);
	uint64_t off = 0;
	off += stage(fx, PUSH + off, 0, "out", "hello \"x\"\n\\", 11);
	off += stage(fx, PUSH + off, 1, "q.2-_Z9", "", 0);
	off += stage(fx, PUSH + off, 0, "bin", "a\0b\x01\t\x7f", 6);
	int32_t ok[2] = {0, 0};
	struct uf_hc_commit c = commit(fx, 2, ok, PUSH, off, 3);
	assert_running(fx);
	assert_int_equal(c.ret, 0);
	assert_int_equal(fx->h.inflight, 0);
	assert_out(fx, "{\"queue\":\"out\",\"data\":\"hello \\\"x\\\"\\n\\\\\"}\n"
	               "{\"queue\":\"q.2-_Z9\",\"data\":\"\"}\n"
	               "{\"queue\":\"bin\",\"data\":\"a\\u0000b\\u0001\\t\\u007f\"}\n");
	char *err = uft_slurp(fx->err, NULL);
	assert_string_equal(err, "");
	free(err);
}

/* The limits of what one event may write (event_limits.h) hold at commit
 * whatever the guest's runtime checked: an event past one fails for good
 * with a reason naming it, its pushes dropped; the other events commit. */
static void test_commit_limits(void **state)
{
	struct uft_fx *fx = *state;
	assert_int_equal(pop(fx, BUF, 4096, 3).count, 3);
	fx->h.opt.limits.v[UF_LIM_WRITES] = 2;
	fx->h.opt.limits.v[UF_LIM_EVENT_BYTES] = 4;
	fx->h.opt.limits.from_manifest = 1u << UF_LIM_EVENT_BYTES;
	uint64_t off = 0;
	off += stage(fx, PUSH + off, 0, "out", "a", 1);
	off += stage(fx, PUSH + off, 0, "out", "b", 1);
	off += stage(fx, PUSH + off, 0, "out", "c", 1);     /* a third write: over 2 */
	off += stage(fx, PUSH + off, 1, "out", "dddd", 4);  /* at the limit: passes */
	off += stage(fx, PUSH + off, 2, "out", "eeeee", 5); /* over 4 bytes */
	int32_t ok[3] = {0, 0, 0};
	struct uf_hc_commit c = commit(fx, 3, ok, PUSH, off, 5);
	assert_running(fx);
	assert_int_equal(c.ret, 0);
	assert_out(fx, "{\"queue\":\"out\",\"data\":\"dddd\"}\n");
	char *err = uft_slurp(fx->err, NULL);
	/* for good (UF_LIMIT_RESULT): dead-lettered at once, a retry would fail the same way */
	assert_non_null(strstr(err, "failed for good: event staged 3 writes (pushes, publishes and KV writes), over "
	                            "the limit 2 (node limits.writes_per_event)"));
	assert_non_null(strstr(
	    err,
	    "failed for good: event of 5 bytes pushed to queue 'out', over the limit 4 (manifest limits.event_bytes)"));
	free(err);
}

/* A pop that carries the commit of the batch in flight (uf_hc_pop.commit):
 * the batch is settled first, then the next one returned - one exit. */
static void test_pop_commits_previous_batch(void **state)
{
	struct uft_fx *fx = *state;
	assert_int_equal(pop(fx, BUF, 4096, 2).count, 2);
	uint64_t len = stage(fx, PUSH, 1, "out", "b", 1);
	int32_t ok[2] = {0, 0};
	memcpy(G(fx, RES), ok, sizeof(ok));
	struct uf_hc_commit c = {
	    .results = RES, .pushes = PUSH, .pushes_len = len, .count = 2, .npush = 1, .ret = -999};
	memcpy(G(fx, KEY), &c, sizeof(c));
	struct uf_hc_pop a = {.buf = BUF, .cap = 4096, .max_events = 8, .commit = KEY};
	memcpy(G(fx, ARG), &a, sizeof(a));
	hc(fx, UF_HC_POP, ARG);
	assert_running(fx);
	memcpy(&a, G(fx, ARG), sizeof(a));
	memcpy(&c, G(fx, KEY), sizeof(c));
	assert_int_equal(c.ret, 0); /* the commit's answer is written back */
	assert_int_equal(a.status, UF_POP_OK);
	assert_int_equal(a.count, 1); /* the third event */
	assert_int_equal(fx->h.inflight, 1);
	assert_out(fx, "{\"queue\":\"out\",\"data\":\"b\"}\n");
}

static void test_pop_commit_malformed(void **state)
{
	(void)state;
	for (int m = 0; m < 2; m++) {
		struct uft_fx fx;
		assert_int_equal(uft_fx_open(&fx, EVENTS, NULL), 0);
		assert_int_equal(pop(&fx, BUF, 4096, 2).count, 2);
		struct uf_hc_commit c = {.results = RES, .count = m == 0 ? 1 : 2};
		memcpy(G(&fx, KEY), &c, sizeof(c));
		/* m 0: the commit's count is wrong; m 1: the commit struct is not in guest memory */
		struct uf_hc_pop a = {.buf = BUF, .cap = 4096, .max_events = 8, .commit = m == 0 ? KEY : 0xfffff000ull};
		memcpy(G(&fx, ARG), &a, sizeof(a));
		hc(&fx, UF_HC_POP, ARG);
		assert_int_equal(fx.h.end_code, UF_END_BAD_HYPERCALL);
		assert_non_null(strstr(fx.h.end_reason, m == 0 ? "commit: count 1 but 2 events are in flight"
		                                               : "pop: commit struct at 0xfffff000"));
		uft_fx_close(&fx);
	}
}

static void test_commit_pushes_len_with_slack(void **state)
{
	struct uft_fx *fx = *state;
	pop(fx, BUF, 4096, 1);
	/* the last record need not be padded, and trailing staged bytes are ignored */
	uint64_t n = stage(fx, PUSH, 0, "q", "abc", 3); /* 16 + 2 + 4 = 22 -> 24 */
	int32_t ok[1] = {0};
	struct uf_hc_commit c = commit(fx, 1, ok, PUSH, 22, 1);
	assert_running(fx);
	assert_int_equal(c.ret, 0);
	assert_out(fx, "{\"queue\":\"q\",\"data\":\"abc\"}\n");
	assert_int_equal(n, 24);
}

static void test_commit_failed_event(void **state)
{
	struct uft_fx *fx = *state;
	pop(fx, BUF, 4096, 2);
	uint64_t n = stage(fx, PUSH, 0, "results", "{\"ok\":true}", 11);
	int32_t res[2] = {0, -3};
	struct uf_hc_commit c = commit(fx, 2, res, PUSH, n, 1);
	assert_running(fx);
	assert_int_equal(c.ret, 0);
	assert_int_equal(fx->h.inflight, 0);
	assert_out(fx, "{\"queue\":\"results\",\"data\":\"{\\\"ok\\\":true}\"}\n");
	char *err = uft_slurp(fx->err, NULL);
	if (!strstr(err, "event 2 failed: handler returned -3"))
		fail_msg("failure report: \"%s\"", err);
	assert_null(strstr(err, "event 1 failed"));
	free(err);
}

static void test_commit_empty_batch(void **state)
{
	struct uft_fx *fx = *state;
	struct uf_hc_commit c = commit(fx, 0, NULL, 0, 0, 0);
	assert_running(fx);
	assert_int_equal(c.ret, 0);
}

enum mal {
	M_COUNT_LOW,
	M_COUNT_HIGH,
	M_NPUSH_TOO_MANY,
	M_RESULTS_NULL,
	M_RESULTS_OUTSIDE,
	M_PUSHES_OUTSIDE,
	M_PUSHES_WRAP,
	M_EVENT_NOT_IN_BATCH,
	M_EVENT_FAILED,
	M_QUEUE_TOO_LONG,
	M_QUEUE_EMPTY,
	M_DATA_PAST,
	M_DATA_HUGE,
	M_QUEUE_NO_NUL,
	M_DATA_NO_NUL,
	M_QUEUE_SPACE,
	M_QUEUE_SLASH,
	M_QUEUE_UTF8,
	M_SECOND_TRUNCATED,
	M_SECOND_HEADER_PAST,
	M_SECOND_BAD_EVENT,
	M_NO_POP,
	M_COUNT
};

static const char *mal_name[M_COUNT] = {
    "count below the batch",
    "count above the batch",
    "npush too many for pushes_len",
    "results at NULL",
    "results outside memory",
    "pushes outside memory",
    "pushes_len wraps",
    "push names event 2 of 2",
    "push names a failed event",
    "queue_len 129",
    "empty queue name",
    "data_len past the buffer",
    "data_len 2^64-1",
    "queue not NUL-terminated",
    "data not NUL-terminated",
    "queue with a space",
    "queue with a slash",
    "queue with UTF-8",
    "second record's lengths past the buffer",
    "second record's header past the buffer",
    "second record names a failed event",
    "commit with nothing popped",
};

/*
 * Each case: a fresh unit, two events popped, one good push staged, then one
 * thing broken.  The unit must end as a bad commit, and nothing - not even
 * the good push before the broken one - may reach the output.
 */
static void test_commit_malformed(void **state)
{
	(void)state;
	for (int m = 0; m < M_COUNT; m++) {
		struct uft_fx fx;
		assert_int_equal(uft_fx_open(&fx, EVENTS, NULL), 0);
		if (m != M_NO_POP)
			assert_int_equal(pop(&fx, BUF, 4096, 2).count, 2);
		int32_t res[2] = {0, 0};
		uint32_t count = m == M_NO_POP ? 1 : 2, npush = 1;
		uint64_t pushes = PUSH;
		uint64_t len = stage(&fx, PUSH, 0, "out", "payload", 7); /* 16 + 4 + 8 = 28 -> 32 */
		struct uf_rec_push *r = (struct uf_rec_push *)G(&fx, PUSH);
		char *q = (char *)G(&fx, PUSH + 16);
		switch (m) {
		case M_COUNT_LOW:
			count = 1;
			break;
		case M_COUNT_HIGH:
			count = 3;
			break;
		case M_NPUSH_TOO_MANY:
			npush = 3;
			break; /* 3 * 16 > 32 */
		case M_RESULTS_NULL:
			break; /* below: results = 0 */
		case M_RESULTS_OUTSIDE:
			break;
		case M_PUSHES_OUTSIDE:
			pushes = UFT_MEM - 16;
			break;
		case M_PUSHES_WRAP:
			len = UINT64_MAX - PUSH + 17;
			break;
		case M_EVENT_NOT_IN_BATCH:
			r->event = 2;
			break;
		case M_EVENT_FAILED:
			res[0] = 1;
			break;
		case M_QUEUE_TOO_LONG:
			r->queue_len = UF_QUEUE_MAX + 1;
			memset(q, 'a', UF_QUEUE_MAX + 1);
			q[UF_QUEUE_MAX + 1] = '\0';
			r->data_len = 0;
			q[UF_QUEUE_MAX + 2] = '\0';
			len = 16 + UF_QUEUE_MAX + 3;
			break;
		case M_QUEUE_EMPTY:
			len = stage(&fx, PUSH, 0, "", "x", 1);
			break;
		case M_DATA_PAST:
			r->data_len = 16;
			break;
		case M_DATA_HUGE:
			r->data_len = UINT64_MAX;
			break;
		case M_QUEUE_NO_NUL:
			q[3] = 'x';
			break;
		case M_DATA_NO_NUL:
			q[4 + 7] = 'x';
			break;
		case M_QUEUE_SPACE:
			len = stage(&fx, PUSH, 0, "a b", "x", 1);
			break;
		case M_QUEUE_SLASH:
			len = stage(&fx, PUSH, 0, "a/b", "x", 1);
			break;
		case M_QUEUE_UTF8:
			len = stage(&fx, PUSH, 0, "caf\xc3\xa9", "x", 1);
			break;
		case M_SECOND_TRUNCATED:
			stage(&fx, PUSH + len, 1, "out", "second", 6);
			len += 16 + 4 + 6; /* the second record's data terminator is cut off */
			npush = 2;
			break;
		case M_SECOND_HEADER_PAST:
			npush = 2; /* 2 * 16 <= 32, but the first record takes all 32 bytes */
			break;
		case M_SECOND_BAD_EVENT:
			len += stage(&fx, PUSH + len, 1, "out", "second", 6);
			res[1] = 7;
			npush = 2;
			break;
		}
		memcpy(G(&fx, RES), res, sizeof(res));
		struct uf_hc_commit a = {.results = m == M_RESULTS_NULL      ? 0
		                                    : m == M_RESULTS_OUTSIDE ? UFT_MEM - 4
		                                                             : RES,
		                         .pushes = pushes,
		                         .pushes_len = len,
		                         .count = count,
		                         .npush = npush};
		memcpy(G(&fx, ARG), &a, sizeof(a));
		hc(&fx, UF_HC_COMMIT, ARG);
		assert_bad(&fx, "commit", mal_name[m]);
		char *out = out_text(&fx);
		if (out[0])
			fail_msg("commit with %s was rejected but printed: %s", mal_name[m], out);
		free(out);
		uft_fx_close(&fx);
	}
}

/* ---- staged KV writes -------------------------------------------------------- */

/* Stages one KV record at gpa; returns its padded size. */
static uint64_t stage_kv(struct uft_fx *fx, uint64_t gpa, uint32_t op, uint32_t event, const char *key, const char *val,
                         int64_t num)
{
	struct uf_rec_kv r = {
	    .op = op, .event = event, .key_len = (uint32_t)strlen(key), .val_len = val ? strlen(val) : 0, .num = num};
	uint8_t *p = G(fx, gpa);
	memcpy(p, &r, sizeof(r));
	memcpy(p + sizeof(r), key, r.key_len + 1);
	uint64_t n = sizeof(r) + r.key_len + 1;
	if (op == UF_KV_SET) {
		memcpy(p + n, val, r.val_len + 1);
		n += r.val_len + 1;
	}
	return (n + 7) & ~7ull;
}

/* Commits a (results, count, ret filled in here) with these results. */
static struct uf_hc_commit commit_with(struct uft_fx *fx, const int32_t *results, struct uf_hc_commit a)
{
	memcpy(G(fx, RES), results, a.count * sizeof(int32_t));
	a.results = RES;
	a.ret = -999;
	memcpy(G(fx, ARG), &a, sizeof(a));
	hc(fx, UF_HC_COMMIT, ARG);
	memcpy(&a, G(fx, ARG), sizeof(a));
	return a;
}

static struct uf_hc_commit commit_kv(struct uft_fx *fx, uint32_t count, const int32_t *results, uint64_t pushes,
                                     uint64_t pushes_len, uint32_t npush, uint64_t kvs, uint64_t kv_len, uint32_t nkv)
{
	return commit_with(fx, results,
	                   (struct uf_hc_commit){.pushes = pushes,
	                                         .pushes_len = pushes_len,
	                                         .count = count,
	                                         .npush = npush,
	                                         .kv = kvs,
	                                         .kv_len = kv_len,
	                                         .nkv = nkv});
}

static struct uf_hc_kv kv(struct uft_fx *fx, uint32_t op, const char *key, uint64_t val, uint64_t val_len, int64_t num);

static void expect_kv(struct uft_fx *fx, const char *key, const char *want)
{
	struct uf_hc_kv a = kv(fx, UF_KV_GET, key, BUF, 64, 0);
	if (!want) {
		assert_int_equal(a.ret, -ENOENT);
		return;
	}
	assert_int_equal(a.ret, 0);
	assert_int_equal(a.val_len, strlen(want));
	assert_memory_equal(G(fx, BUF), want, a.val_len);
}

static void test_commit_applies_kv_in_order(void **state)
{
	struct uft_fx *fx = *state;
	assert_int_equal(pop(fx, BUF, 4096, 3).count, 3);
	/* event 1 failed, so libuf sent none of its records (one would be refused:
	 * test_commit_kv_malformed); the rest apply in order */
	uint64_t off = 0;
	off += stage_kv(fx, KVREC + off, UF_KV_INCR, 0, "n", NULL, 5);
	off += stage_kv(fx, KVREC + off, UF_KV_SET, 0, "s", "first", 0);
	off += stage_kv(fx, KVREC + off, UF_KV_SET, 2, "s", "second", 0);
	off += stage_kv(fx, KVREC + off, UF_KV_DEL, 2, "gone", NULL, 0);
	off += stage_kv(fx, KVREC + off, UF_KV_INCR, 2, "n", NULL, -2);
	off += stage_kv(fx, KVREC + off, UF_KV_INCR, 2, "s", NULL, 1); /* not an integer: reported, skipped */
	memcpy(G(fx, VAL), "x", 1);
	kv(fx, UF_KV_SET, "gone", VAL, 1, 0); /* at once, before the commit */
	int32_t res[3] = {0, 4, 0};
	struct uf_hc_commit c = commit_kv(fx, 3, res, 0, 0, 0, KVREC, off, 6);
	assert_running(fx);
	assert_int_equal(c.ret, 0);
	expect_kv(fx, "n", "3");
	expect_kv(fx, "s", "second");
	expect_kv(fx, "gone", NULL);
	char *err = uft_slurp(fx->err, NULL);
	if (!strstr(err, "uf-hvt: event 3: kv incr 's': the value is not an integer; not applied\n") ||
	    !strstr(err, "event 2 failed: handler returned 4"))
		fail_msg("reports: \"%s\"", err);
	free(err);
}

enum kvmal {
	K_EVENT_FAILED,
	K_EVENT_OUT,
	K_OP,
	K_KEY_EMPTY,
	K_KEY_LONG,
	K_KEY_UTF8,
	K_KEY_NO_NUL,
	K_VAL_PAST,
	K_VAL_ON_DEL,
	K_NKV_TOO_MANY,
	K_OUTSIDE,
	K_VAL_HUGE,
	K_COUNT
};
static const char *kvmal_name[K_COUNT] = {
    "kv record of a failed event",
    "kv record of event 2 of 2",
    "kv op 7",
    "empty key",
    "key_len 513",
    "key not UTF-8",
    "key not NUL-terminated",
    "value past the buffer",
    "value on a DEL",
    "nkv too many",
    "kv buffer outside memory",
    "val_len 2^64-1",
};

/* Each case: two events, one good push and one good KV record, then one thing broken. */
static void test_commit_kv_malformed(void **state)
{
	(void)state;
	for (int m = 0; m < K_COUNT; m++) {
		struct uft_fx fx;
		assert_int_equal(uft_fx_open(&fx, EVENTS, NULL), 0);
		assert_int_equal(pop(&fx, BUF, 4096, 2).count, 2);
		int32_t res[2] = {0, 0};
		uint64_t plen = stage(&fx, PUSH, 0, "out", "payload", 7);
		uint64_t len = stage_kv(&fx, KVREC, UF_KV_INCR, 0, "good", NULL, 1);
		struct uf_rec_kv *r = (struct uf_rec_kv *)G(&fx, KVREC + len);
		uint64_t kvs = KVREC;
		uint32_t nkv = 2;
		len += stage_kv(&fx, KVREC + len, UF_KV_SET, 1, "key", "value", 0);
		char *k = (char *)(r + 1);
		switch (m) {
		case K_EVENT_FAILED:
			res[1] = 1;
			break;
		case K_EVENT_OUT:
			r->event = 2;
			break;
		case K_OP:
			r->op = 7;
			break;
		case K_KEY_EMPTY:
			r->key_len = 0;
			break;
		case K_KEY_LONG:
			r->key_len = UF_KEY_MAX + 1;
			len += 600;
			break;
		case K_KEY_UTF8:
			k[1] = (char)0xff;
			break;
		case K_KEY_NO_NUL:
			k[3] = 'x';
			break;
		case K_VAL_PAST:
			r->val_len = 64;
			break;
		case K_VAL_ON_DEL:
			r->op = UF_KV_DEL;
			break;
		case K_NKV_TOO_MANY:
			nkv = 5;
			break;
		case K_OUTSIDE:
			kvs = UFT_MEM - 16;
			break;
		case K_VAL_HUGE:
			r->val_len = UINT64_MAX;
			break;
		}
		struct uf_hc_commit c = commit_kv(&fx, 2, res, PUSH, plen, 1, kvs, len, nkv);
		(void)c;
		assert_bad(&fx, "commit", kvmal_name[m]);
		char *out = out_text(&fx);
		if (out[0])
			fail_msg("commit with %s was rejected but printed: %s", kvmal_name[m], out);
		free(out);
		expect_kv(&fx, "good", NULL);
		uft_fx_close(&fx);
	}
}

/* ---- grants ---------------------------------------------------------------- */

static void test_commit_push_not_granted(void **state)
{
	struct uft_fx *fx = *state;
	static const char *allow[] = {"out", "other"};
	fx->h.opt.push_allow = allow;
	fx->h.opt.npush_allow = 2;
	fx->h.opt.push_allow_text = "out,other";
	fx->h.opt.unit = "u1";
	fx->h.opt.workflow = "wf";
	fx->h.opt.step = "st";
	int saved = dup(2);
	int log_fd = uft_open_out(fx->console);
	dup2(log_fd, 2);
	for (int round = 0; round < 2; round++) { /* logged once, however often refused */
		assert_int_equal(pop(fx, BUF, 4096, 1 + round).count, 1 + round);
		uint64_t off = 0;
		off += stage(fx, PUSH + off, 0, "out", "fine", 4);
		off += stage(fx, PUSH + off, 0, "secret", "no", 2);
		if (round)
			off += stage(fx, PUSH + off, 1, "other", "ok", 2);
		uint64_t kl = stage_kv(fx, KVREC, UF_KV_INCR, 0, "n", NULL, 1);
		int32_t res[2] = {0, 0};
		struct uf_hc_commit c = commit_kv(fx, 1 + round, res, PUSH, off, 2 + round, KVREC, kl, 1);
		assert_running(fx);
		assert_int_equal(c.ret, 0);
	}
	dup2(saved, 2);
	close(saved);
	close(log_fd);
	assert_out(fx, "{\"queue\":\"other\",\"data\":\"ok\"}\n");
	expect_kv(fx, "n", NULL);
	char *err = uft_slurp(fx->err, NULL);
	if (!strstr(
	        err,
	        "event 1 failed: push to queue 'secret' not granted (allowed: out, other); its pushes were dropped"))
		fail_msg("failure report: \"%s\"", err);
	free(err);
	char *log = uft_slurp(fx->console, NULL);
	assert_string_equal(
	    log, "uf-hvt: unit=u1 workflow=wf step=st queue=secret error=push_not_granted allowed=out,other\n");
	free(log);
}

/* ---- outputs (ABI 4): uf_reply, uf_mqtt_publish ------------------------------ */

/* Stages one output record at gpa; returns its padded size. */
static uint64_t stage_out(struct uft_fx *fx, uint64_t gpa, uint32_t kind, uint32_t event, const char *topic,
                          uint32_t qos, const char *data)
{
	struct uf_rec_out r = {
	    .kind = kind, .event = event, .topic_len = (uint32_t)strlen(topic), .qos = qos, .data_len = strlen(data)};
	uint8_t *p = G(fx, gpa);
	memcpy(p, &r, sizeof(r));
	memcpy(p + sizeof(r), topic, r.topic_len + 1);
	memcpy(p + sizeof(r) + r.topic_len + 1, data, r.data_len + 1);
	return (sizeof(r) + r.topic_len + 1 + r.data_len + 1 + 7) & ~7ull;
}

static struct uf_hc_commit commit_outs(struct uft_fx *fx, uint32_t count, const int32_t *results, uint64_t pushes,
                                       uint64_t pushes_len, uint32_t npush, uint64_t outs, uint64_t outs_len,
                                       uint32_t nout)
{
	return commit_with(fx, results,
	                   (struct uf_hc_commit){.pushes = pushes,
	                                         .pushes_len = pushes_len,
	                                         .count = count,
	                                         .npush = npush,
	                                         .outs = outs,
	                                         .outs_len = outs_len,
	                                         .nout = nout});
}

static int32_t topic_call(struct uft_fx *fx, const char *topic, uint32_t len)
{
	memcpy(G(fx, TOPIC), topic, len); /* len bytes: a topic may hold a NUL */
	struct uf_hc_topic a = {.topic = TOPIC, .topic_len = len, .ret = -999};
	memcpy(G(fx, ARG), &a, sizeof(a));
	hc(fx, UF_HC_TOPIC, ARG);
	memcpy(&a, G(fx, ARG), sizeof(a));
	return a.ret;
}

static const char *publish_filters[] = {"lights/+/set", "alerts/#"};
static void allow_publish(struct uft_fx *fx)
{
	fx->h.opt.publish = publish_filters;
	fx->h.opt.npublish = 2;
	fx->h.opt.publish_text = (char *)"lights/+/set, alerts/#";
}

/* Committed outputs are printed after their event's pushes (local backend);
 * those of a failed event are never present. */
static void test_commit_outputs(void **state)
{
	struct uft_fx *fx = *state;
	allow_publish(fx);
	assert_int_equal(pop(fx, BUF, 4096, 3).count, 3);
	uint64_t pl = stage(fx, PUSH, 0, "out", "p0", 2);
	uint64_t ol = stage_out(fx, OUTS, UF_OUTPUT_MQTT, 0, "lights/1/set", 1, "on");
	ol += stage_out(fx, OUTS + ol, UF_OUTPUT_REPLY, 0, "", 0, "{\"r\":0}");
	ol += stage_out(fx, OUTS + ol, UF_OUTPUT_MQTT, 2, "alerts/x/y", 0, "\xff\x01");
	int32_t res[3] = {0, 5, 0};
	struct uf_hc_commit c = commit_outs(fx, 3, res, PUSH, pl, 1, OUTS, ol, 3);
	assert_running(fx);
	assert_int_equal(c.ret, 0);
	assert_out(fx, "{\"queue\":\"out\",\"data\":\"p0\"}\n"
	               "{\"topic\":\"lights/1/set\",\"qos\":1,\"data\":\"on\"}\n"
	               "{\"reply\":\"1\",\"data\":\"{\\\"r\\\":0}\"}\n"
	               "{\"topic\":\"alerts/x/y\",\"qos\":0,\"data_base64\":\"/wE=\"}\n");
}

/* A failed event's reason (UF_OUTPUT_REASON) replaces "handler returned N"
 * in its failure; UF_REASON_MAX bytes of UTF-8 are accepted; an event
 * without one still reports its code. */
static void test_commit_reason(void **state)
{
	struct uft_fx *fx = *state;
	assert_int_equal(pop(fx, BUF, 4096, 3).count, 3);
	static char longest[UF_REASON_MAX + 1];
	memset(longest, 'b', UF_REASON_MAX - 2);
	memcpy(longest + UF_REASON_MAX - 2, "\xc3\xa9", 2); /* ends in a 2-byte character */
	uint64_t ol = stage_out(fx, OUTS, UF_OUTPUT_REPLY, 0, "", 0, "r0");
	ol += stage_out(fx, OUTS + ol, UF_OUTPUT_REASON, 1, "", 0, "device kit4 topic t/x: at byte 13 \xe2\x80\x94 ");
	ol += stage_out(fx, OUTS + ol, UF_OUTPUT_REASON, 2, "", 0, longest);
	int32_t res[3] = {0, 7, -2};
	struct uf_hc_commit c = commit_outs(fx, 3, res, 0, 0, 0, OUTS, ol, 3);
	assert_running(fx);
	assert_int_equal(c.ret, 0);
	assert_out(fx, "{\"reply\":\"1\",\"data\":\"r0\"}\n");
	char *err = uft_slurp(fx->err, NULL);
	char want[UF_REASON_MAX + 64];
	snprintf(want, sizeof(want), "event 3 failed: %s;", longest);
	if (!strstr(err, "event 2 failed: device kit4 topic t/x: at byte 13 \xe2\x80\x94 ;") || !strstr(err, want) ||
	    strstr(err, "handler returned"))
		fail_msg("failure report: \"%s\"", err);
	free(err);
}

/* A permanent failure (uf_fail_permanent, UF_RESULT_PERMANENT) takes its
 * reason like any failure; the local run says it failed for good. */
static void test_commit_permanent(void **state)
{
	struct uft_fx *fx = *state;
	assert_int_equal(pop(fx, BUF, 4096, 2).count, 2);
	uint64_t ol = stage_out(fx, OUTS, UF_OUTPUT_REASON, 0, "", 0, "slack answered 404 channel_not_found");
	int32_t res[2] = {UF_RESULT_PERMANENT, 0};
	struct uf_hc_commit c = commit_outs(fx, 2, res, 0, 0, 0, OUTS, ol, 1);
	assert_running(fx);
	assert_int_equal(c.ret, 0);
	char *err = uft_slurp(fx->err, NULL);
	if (!strstr(err, "event 1 failed for good: slack answered 404 channel_not_found;") || strstr(err, "event 2"))
		fail_msg("failure report: \"%s\"", err);
	free(err);
}

/* A deferred event (ABI 6, uf_defer): nothing of it is committed, the local
 * backend reports it and hands it out again when due, with its id and
 * data; a deferral without its record is 0 ms, "deferred". */
static void test_commit_defer(void **state)
{
	struct uft_fx *fx = *state;
	assert_int_equal(pop(fx, BUF, 4096, 3).count, 3);
	uint64_t pl = stage(fx, PUSH, 1, "out", "p1", 2);
	uint64_t ol = stage_out(fx, OUTS, UF_OUTPUT_DEFER, 0, "", 0, "429 Retry-After 0");
	int32_t res[3] = {UF_RESULT_DEFERRED, 0, UF_RESULT_DEFERRED};
	struct uf_hc_commit c = commit_outs(fx, 3, res, PUSH, pl, 1, OUTS, ol, 1);
	assert_running(fx);
	assert_int_equal(c.ret, 0);
	assert_out(fx, "{\"queue\":\"out\",\"data\":\"p1\"}\n");
	char *err = uft_slurp(fx->err, NULL);
	if (!strstr(err, "event 1 deferred for 0 ms (deferral 1 of at most 100): 429 Retry-After 0;") ||
	    !strstr(err, "event 3 deferred for 0 ms (deferral 1 of at most 100): deferred;") || strstr(err, "failed"))
		fail_msg("deferral report: \"%s\"", err);
	free(err);
	struct uf_hc_pop p = pop(fx, BUF, 4096, 3); /* both again (due at once), oldest due first or not */
	assert_int_equal(p.status, UF_POP_OK);
	assert_int_equal(p.count, 2);
	struct rec a, b;
	uint64_t off = parse_rec(G(fx, BUF), &a);
	parse_rec(G(fx, BUF + off), &b);
	int first_is_1 = !strcmp(a.id, "1");
	assert_string_equal(first_is_1 ? a.data : b.data, "alpha");
	assert_string_equal(first_is_1 ? b.id : a.id, "3");
	assert_string_equal(first_is_1 ? b.data : a.data, "gamma");
}

/* A publish on a topic no filter allows, staged without asking (UF_HC_TOPIC),
 * fails its event at commit: nothing of it is written. */
static void test_commit_publish_not_allowed(void **state)
{
	struct uft_fx *fx = *state;
	allow_publish(fx);
	int saved = dup(2), log_fd = uft_open_out(fx->console);
	dup2(log_fd, 2);
	assert_int_equal(pop(fx, BUF, 4096, 2).count, 2);
	uint64_t pl = stage(fx, PUSH, 0, "out", "p0", 2);
	pl += stage(fx, PUSH + pl, 1, "out", "p1", 2);
	uint64_t ol = stage_out(fx, OUTS, UF_OUTPUT_MQTT, 0, "lights/1/set", 1, "fine");
	ol += stage_out(fx, OUTS + ol, UF_OUTPUT_MQTT, 1, "lights/1/other", 1, "no");
	int32_t res[2] = {0, 0};
	struct uf_hc_commit c = commit_outs(fx, 2, res, PUSH, pl, 2, OUTS, ol, 2);
	dup2(saved, 2);
	close(saved);
	close(log_fd);
	assert_running(fx);
	assert_int_equal(c.ret, 0);
	assert_out(fx, "{\"queue\":\"out\",\"data\":\"p0\"}\n"
	               "{\"topic\":\"lights/1/set\",\"qos\":1,\"data\":\"fine\"}\n");
	char *err = uft_slurp(fx->err, NULL);
	if (!strstr(err, "event 2 failed: publish to topic 'lights/1/other' not allowed (publish: lights/+/set, "
	                 "alerts/#)"))
		fail_msg("failure report: \"%s\"", err);
	free(err);
	char *log = uft_slurp(fx->console, NULL);
	if (!strstr(log, "topic=\"lights/1/other\" error=publish_not_allowed allowed=\"lights/+/set, alerts/#\""))
		fail_msg("log: \"%s\"", log);
	free(log);
}

/* UF_HC_TOPIC: 0 allowed, -EPERM not allowed (nothing allowed without
 * --publish, outside a local run), -EINVAL not a topic name; a bad length or
 * pointer ends the unit. */
static void test_topic_call(void **state)
{
	struct uft_fx *fx = *state;
	int saved = dup(2), log_fd = uft_open_out(fx->console);
	dup2(log_fd, 2);
	assert_int_equal(topic_call(fx, "lights/1/set", 12), -EPERM); /* no --publish */
	allow_publish(fx);
	assert_int_equal(topic_call(fx, "lights/1/set", 12), 0);
	assert_int_equal(topic_call(fx, "alerts/a/b/c", 12), 0);
	assert_int_equal(topic_call(fx, "lights/1/2/set", 14), -EPERM);
	assert_int_equal(topic_call(fx, "lights/+/set", 12), -EINVAL); /* a filter, not a name */
	assert_int_equal(topic_call(fx, "alerts/\0x", 9), -EINVAL);
	assert_int_equal(topic_call(fx, "x/\n\"y", 5), -EPERM); /* logged on one line */
	fx->h.opt.publish_any = 1;
	assert_int_equal(topic_call(fx, "any/topic", 9), 0);
	dup2(saved, 2);
	close(saved);
	close(log_fd);
	assert_running(fx);
	char *log = uft_slurp(fx->console, NULL);
	if (!strstr(log, "topic=\"lights/1/set\" error=publish_not_allowed allowed=\"none\"\n") ||
	    !strstr(log, "topic=\"x/??y\" error=publish_not_allowed allowed=\"lights/+/set, alerts/#\"\n"))
		fail_msg("log: \"%s\"", log);
	free(log);
	topic_call(fx, "x", 0);
	assert_bad(fx, "topic", "length 0");
	uft_fx_close(fx);
	assert_int_equal(uft_fx_open(fx, EVENTS, NULL), 0);
	struct uf_hc_topic a = {.topic = UFT_MEM - 4, .topic_len = 12};
	memcpy(G(fx, ARG), &a, sizeof(a));
	hc(fx, UF_HC_TOPIC, ARG);
	assert_bad(fx, "topic", "a topic past guest memory");
}

enum {
	O_EVENT_FAILED,
	O_EVENT_OUT,
	O_KIND,
	O_REPLY_TOPIC,
	O_REPLY_TWICE,
	O_QOS,
	O_TOPIC_EMPTY,
	O_TOPIC_WILDCARD,
	O_TOPIC_NO_NUL,
	O_DATA_PAST,
	O_DATA_HUGE,
	O_NOUT_TOO_MANY,
	O_OUTSIDE,
	O_REASON_ACKED,
	O_REASON_SKIPPED,
	O_REASON_TWICE,
	O_REASON_TOPIC,
	O_REASON_EMPTY,
	O_REASON_CONTROL,
	O_REASON_UTF8,
	O_REASON_LONG,
	O_DEFER_ACKED,
	O_DEFER_FAILED,
	O_DEFER_TWICE,
	O_DEFER_TOPIC,
	O_DEFER_TOO_LONG,
	O_DEFER_EMPTY,
	O_REASON_DEFERRED,
	O_COUNT
};
static const char *const omal_name[O_COUNT] = {"an output of a failed event",
                                               "an output of an event outside the batch",
                                               "an unknown kind",
                                               "a reply with a topic",
                                               "two replies for one event",
                                               "qos 2",
                                               "an MQTT output without topic",
                                               "a topic with a wildcard",
                                               "a topic without its NUL",
                                               "data past the buffer",
                                               "a huge data length",
                                               "more records than fit",
                                               "records outside guest memory",
                                               "a reason of an acknowledged event",
                                               "a reason of an event handed back",
                                               "two reasons for one event",
                                               "a reason with a topic",
                                               "an empty reason",
                                               "a reason with a newline",
                                               "a reason that is not UTF-8",
                                               "a reason over UF_REASON_MAX",
                                               "a deferral of an acknowledged event",
                                               "a deferral of a failed event",
                                               "two deferrals for one event",
                                               "a deferral with a topic",
                                               "a deferral over UF_DEFER_MAX_MS",
                                               "a deferral without a reason",
                                               "a failure's reason for a deferred event"};

/* Every malformed output record ends the unit with UF_END_BAD_HYPERCALL and
 * writes nothing (not even the well-formed records before it). */
static void test_commit_outputs_malformed(void **state)
{
	(void)state;
	for (int m = 0; m < O_COUNT; m++) {
		struct uft_fx fx;
		assert_int_equal(uft_fx_open(&fx, EVENTS, NULL), 0);
		allow_publish(&fx);
		assert_int_equal(pop(&fx, BUF, 4096, 2).count, 2);
		int32_t res[2] = {0, 0};
		uint64_t pl = stage(&fx, PUSH, 0, "out", "payload", 7);
		uint64_t ol = stage_out(&fx, OUTS, UF_OUTPUT_REPLY, 0, "", 0, "good"), first = ol;
		struct uf_rec_out *r = (struct uf_rec_out *)G(&fx, OUTS + ol);
		ol += stage_out(&fx, OUTS + ol, UF_OUTPUT_MQTT, 1, "alerts/1", 1, "x");
		char *t = (char *)(r + 1);
		uint64_t outs = OUTS;
		uint32_t nout = 2;
		switch (m) {
		case O_EVENT_FAILED:
			res[1] = 1;
			break;
		case O_EVENT_OUT:
			r->event = 2;
			break;
		case O_KIND:
			r->kind = 99;
			break;
		case O_REPLY_TOPIC:
			r->kind = UF_OUTPUT_REPLY;
			break;
		case O_REPLY_TWICE: /* well-formed, but event 0 already has its reply */
			ol = first + stage_out(&fx, OUTS + first, UF_OUTPUT_REPLY, 0, "", 0, "again");
			break;
		case O_QOS:
			r->qos = 2;
			break;
		case O_TOPIC_EMPTY:
			r->topic_len = 0;
			break;
		case O_TOPIC_WILDCARD:
			t[7] = '#';
			break;
		case O_TOPIC_NO_NUL:
			t[8] = 'x';
			break;
		case O_DATA_PAST:
			r->data_len = 64;
			break;
		case O_DATA_HUGE:
			r->data_len = UINT64_MAX - 4;
			break;
		case O_NOUT_TOO_MANY:
			nout = 5;
			break;
		case O_OUTSIDE:
			outs = UFT_MEM - 16;
			break;
		}
		if (m >= O_DEFER_ACKED) { /* the second record: event 1's deferral */
			res[1] = m == O_DEFER_ACKED ? 0 : m == O_DEFER_FAILED ? 1 : UF_RESULT_DEFERRED;
			uint32_t kind = m == O_REASON_DEFERRED ? UF_OUTPUT_REASON : UF_OUTPUT_DEFER;
			ol = first + stage_out(&fx, OUTS + first, kind, 1, m == O_DEFER_TOPIC ? "t" : "",
			                       m == O_DEFER_TOO_LONG ? UF_DEFER_MAX_MS + 1 : 10,
			                       m == O_DEFER_EMPTY ? "" : "429");
			if (m == O_DEFER_TWICE) {
				ol += stage_out(&fx, OUTS + ol, UF_OUTPUT_DEFER, 1, "", 5, "again");
				nout = 3;
			}
		} else if (m >= O_REASON_ACKED) { /* the second record: event 1's reason */
			static char long_reason[UF_REASON_MAX + 2];
			memset(long_reason, 'a', UF_REASON_MAX + 1);
			const char *why = m == O_REASON_EMPTY     ? ""
			                  : m == O_REASON_CONTROL ? "line\nbreak"
			                  : m == O_REASON_UTF8    ? "bad \xc3("
			                  : m == O_REASON_LONG    ? long_reason
			                                          : "parse error";
			res[1] = m == O_REASON_ACKED ? 0 : m == O_REASON_SKIPPED ? UF_RESULT_SKIPPED : 1;
			ol = first +
			     stage_out(&fx, OUTS + first, UF_OUTPUT_REASON, 1, m == O_REASON_TOPIC ? "t" : "", 0, why);
			if (m == O_REASON_TWICE) {
				ol += stage_out(&fx, OUTS + ol, UF_OUTPUT_REASON, 1, "", 0, "again");
				nout = 3;
			}
		}
		commit_outs(&fx, 2, res, PUSH, pl, 1, outs, ol, nout);
		assert_bad(&fx, "commit", omal_name[m]);
		char *out = out_text(&fx);
		if (out[0])
			fail_msg("commit with %s was rejected but printed: %s", omal_name[m], out);
		free(out);
		uft_fx_close(&fx);
	}
}

/* ---- copy, then check: guest memory changed after the checks ---------------- */

/*
 * A guest can change its memory while the tender works on it (another vCPU,
 * or a device later).  This backend rewrites the staged records in guest
 * memory at the last moment - after the commit was parsed, checked and
 * granted, just before it is written - as such a guest would, then lets the
 * real backend write.  What is written must be what was checked.
 */
static struct uft_fx *tamper_fx;
static struct uf_backend *tamper_real;
static uint64_t tamper_push_off, tamper_kv_off;

static int tamper_commit(struct uf_backend *b, const int32_t *results, const char *const *reasons, uint32_t count,
                         const struct uf_bpush *pushes, uint32_t npush, const struct uf_bkv *kvs, uint32_t nkv,
                         const struct uf_bout *outs, uint32_t nout)
{
	(void)b;
	uint8_t *push = G(tamper_fx, PUSH + tamper_push_off + sizeof(struct uf_rec_push));
	memcpy(push, "sec", 3);      /* queue "out" -> "sec": not granted */
	memcpy(push + 4, "EVIL", 4); /* data "fine" -> "EVIL" */
	uint8_t *kv = G(tamper_fx, KVREC + tamper_kv_off + sizeof(struct uf_rec_kv));
	memcpy(kv, "k2", 2);       /* key "k1" -> "k2" */
	memcpy(kv + 3, "EVIL", 4); /* value "good" -> "EVIL" */
	return tamper_real->commit(tamper_real, results, reasons, count, pushes, npush, kvs, nkv, outs, nout);
}

static void test_commit_uses_copy_not_guest_memory(void **state)
{
	struct uft_fx *fx = *state;
	static const char *allow[] = {"out"};
	fx->h.opt.push_allow = allow;
	fx->h.opt.npush_allow = 1;
	fx->h.opt.push_allow_text = "out";
	assert_int_equal(pop(fx, BUF, 4096, 1).count, 1);
	tamper_push_off = 0;
	uint64_t off = stage(fx, PUSH, 0, "out", "fine", 4);
	tamper_kv_off = 0;
	uint64_t kl = stage_kv(fx, KVREC, UF_KV_SET, 0, "k1", "good", 0);
	struct uf_backend wrap = *fx->h.backend;
	wrap.commit = tamper_commit;
	tamper_fx = fx;
	tamper_real = fx->h.backend;
	fx->h.backend = &wrap;
	int32_t res[1] = {0};
	struct uf_hc_commit c = commit_kv(fx, 1, res, PUSH, off, 1, KVREC, kl, 1);
	fx->h.backend = tamper_real;
	assert_running(fx);
	assert_int_equal(c.ret, 0);
	assert_out(fx, "{\"queue\":\"out\",\"data\":\"fine\"}\n");
	expect_kv(fx, "k1", "good");
	expect_kv(fx, "k2", NULL);
}

/* The same for the KV call: the key is checked (UTF-8, no NUL), then used. */
static int tamper_kv_set(struct uf_backend *b, const char *key, size_t klen, const char *val, size_t len)
{
	(void)b;
	memcpy(G(tamper_fx, KEY), "\0\xff", 2); /* a key that would have been refused */
	memcpy(G(tamper_fx, VAL), "EVIL", 4);
	return tamper_real->kv_set(tamper_real, key, klen, val, len);
}

static void test_kv_uses_copy_not_guest_memory(void **state)
{
	struct uft_fx *fx = *state;
	memcpy(G(fx, VAL), "good", 4);
	struct uf_backend wrap = *fx->h.backend;
	wrap.kv_set = tamper_kv_set;
	tamper_fx = fx;
	tamper_real = fx->h.backend;
	fx->h.backend = &wrap;
	struct uf_hc_kv a = kv(fx, UF_KV_SET, "k1", VAL, 4, 0);
	fx->h.backend = tamper_real;
	assert_running(fx);
	assert_int_equal(a.ret, 0);
	expect_kv(fx, "k1", "good");
}

/*
 * Over the storage quota (common/delivery.h "Storage quota"): the events
 * that would grow the workflow's storage - a push, a KV set longer than the
 * stored value, an incr that creates its key - are deferred with the
 * backend's reason and delay, their writes dropped; the rest commit.  A KV
 * set outside an event that would grow it answers -EDQUOT.
 */
static struct uf_backend *quota_real;
static int32_t quota_results[UF_BATCH_MAX];
static const char *quota_reasons[UF_BATCH_MAX];
static uint32_t quota_delay[UF_BATCH_MAX], quota_npush, quota_nkv;
static int quota_wait[UF_BATCH_MAX], quota_give_up; /* the DEFER's quota flag; what over_quota says */

static int quota_over(struct uf_backend *b, const char **why, uint32_t *retry_ms, int *give_up)
{
	(void)b;
	*why = "workflow over its storage quota (9 of 8 bytes, storage_quota)";
	*retry_ms = 250;
	*give_up = quota_give_up;
	return 1;
}

static int quota_lens(struct uf_backend *b, const struct uf_bkv *kvs, uint32_t n, uint64_t *lens)
{
	(void)b;
	for (uint32_t i = 0; i < n; i++) /* stored: k1 5 bytes, n 1 byte, nothing else */
		lens[i] = kvs[i].klen == 2 && !memcmp(kvs[i].key, "k1", 2)  ? 5
		          : kvs[i].klen == 1 && !memcmp(kvs[i].key, "n", 1) ? 1
		                                                            : 0;
	return 0;
}

static int quota_commit(struct uf_backend *b, const int32_t *results, const char *const *reasons, uint32_t count,
                        const struct uf_bpush *pushes, uint32_t npush, const struct uf_bkv *kvs, uint32_t nkv,
                        const struct uf_bout *outs, uint32_t nout)
{
	(void)b;
	for (uint32_t i = 0; i < count; i++)
		quota_results[i] = results[i], quota_reasons[i] = reasons[i], quota_delay[i] = UINT32_MAX,
		quota_wait[i] = 0;
	for (uint32_t i = 0; i < nout; i++)
		if (outs[i].kind == UF_OUTPUT_DEFER)
			quota_delay[outs[i].event] = outs[i].delay_ms, quota_wait[outs[i].event] = outs[i].quota;
	quota_npush = npush;
	quota_nkv = nkv;
	return quota_real->commit(quota_real, results, reasons, count, pushes, npush, kvs, nkv, outs, nout);
}

static int quota_kv_set(struct uf_backend *b, const char *key, size_t klen, const char *val, size_t len)
{
	(void)b;
	return quota_real->kv_set(quota_real, key, klen, val, len);
}

static void commit_over_quota(struct uft_fx *fx, int give_up)
{
	quota_give_up = give_up;
	assert_int_equal(pop(fx, BUF, 4096, 3).count, 3);
	struct uf_backend wrap = *fx->h.backend; /* each call it makes goes to the real one */
	wrap.commit = quota_commit;
	wrap.kv_set = quota_kv_set;
	wrap.over_quota = quota_over;
	wrap.kv_lens = quota_lens;
	quota_real = fx->h.backend;
	fx->h.backend = &wrap;
	uint64_t pl = stage(fx, PUSH, 0, "out", "p0", 2);                /* event 0 pushes: deferred */
	uint64_t kl = stage_kv(fx, KVREC, UF_KV_SET, 1, "k1", "abc", 0); /* 3 bytes over 5: taken */
	kl += stage_kv(fx, KVREC + kl, UF_KV_INCR, 1, "n", NULL, 2);     /* an existing counter: taken */
	kl += stage_kv(fx, KVREC + kl, UF_KV_SET, 2, "k2", "xyz", 0);    /* a new key: deferred */
	int32_t res[3] = {0, 0, 0};
	struct uf_hc_commit c = commit_kv(fx, 3, res, PUSH, pl, 1, KVREC, kl, 3);
	/* outside an event: a new key is refused, a shorter value taken */
	memcpy(G(fx, VAL), "long value", 10);
	struct uf_hc_kv grow = kv(fx, UF_KV_SET, "k9", VAL, 10, 0), shrink = kv(fx, UF_KV_SET, "k1", VAL, 2, 0);
	fx->h.backend = quota_real;
	assert_running(fx);
	assert_int_equal(c.ret, 0);
	/* deferred (UF_SETTLE_WAIT: the DEFER says it is the quota's), or, over
	 * for quota_give_up_s, failed for good: no DEFER, dead-lettered at once */
	int32_t refused = give_up ? UF_LIMIT_RESULT : UF_RESULT_DEFERRED;
	uint32_t delay = give_up ? UINT32_MAX : 250;
	assert_int_equal(quota_results[0], refused);
	assert_int_equal(quota_results[1], 0);
	assert_int_equal(quota_results[2], refused);
	assert_string_equal(quota_reasons[0], "workflow over its storage quota (9 of 8 bytes, storage_quota)");
	assert_int_equal(quota_delay[0], delay);
	assert_int_equal(quota_delay[2], delay);
	assert_int_equal(quota_wait[0], !give_up);
	assert_int_equal(quota_npush, 0);
	assert_int_equal(quota_nkv, 2);
	assert_out(fx, "");
	expect_kv(fx, "k2", NULL);
	assert_int_equal(grow.ret, -EDQUOT);
	assert_int_equal(shrink.ret, 0);
	expect_kv(fx, "k9", NULL);
	expect_kv(fx, "k1", "lo");
}

static void test_commit_over_quota(void **state)
{
	commit_over_quota(*state, 0);
}

static void test_commit_over_quota_gives_up(void **state)
{
	commit_over_quota(*state, 1);
}

/* ---- settling a batch when the unit ends mid-batch -------------------------- */

static void settle_case(uint64_t started, int end_code, const char *want_err)
{
	struct uft_fx fx;
	assert_int_equal(uft_fx_open(&fx, EVENTS, NULL), 0);
	struct uf_bootinfo *bi = (struct uf_bootinfo *)G(&fx, UF_BOOTINFO_ADDR);
	bi->progress = 10;
	assert_int_equal(pop(&fx, BUF, 4096, 3).count, 3);
	bi->progress = 10 + started;
	hvt_end(&fx.h, end_code, "guest fault: #PF page fault");
	fx.h.backend->settle_on_end = 1; /* as the Redis backend; the local one reports */
	hvt_dataplane_settle(&fx.h);
	assert_int_equal(fx.h.inflight, 0);
	char *err = uft_slurp(fx.err, NULL);
	if (strcmp(err, want_err) != 0)
		fail_msg("progress +%lu, end %d: reports\n%s\nexpected\n%s", (unsigned long)started, end_code, err,
		         want_err);
	free(err);
	uft_fx_close(&fx);
}

static void test_settle_blames_current_event(void **state)
{
	(void)state;
	const char *skip1 = "uf-hvt: event 1 was not handled: the unit exited before reaching it\n";
	const char *skip2 = "uf-hvt: event 2 was not handled: the unit exited before reaching it\n";
	const char *skip3 = "uf-hvt: event 3 was not handled: the unit exited before reaching it\n";
	const char *f = "uf-hvt: event %d failed: guest fault: #PF page fault; its pushes were dropped\n";
	char want[512], fail2[128], fail1[128], fail3[128];
	snprintf(fail1, sizeof(fail1), f, 1);
	snprintf(fail2, sizeof(fail2), f, 2);
	snprintf(fail3, sizeof(fail3), f, 3);
	snprintf(want, sizeof(want), "%s%s%s", skip1, fail2, skip3);
	settle_case(2, UF_END_FAULT, want); /* the second event was being handled */
	snprintf(want, sizeof(want), "%s%s%s", fail1, skip2, skip3);
	settle_case(1, UF_END_TIMEOUT, want);
	settle_case(0, UF_END_FAULT, want); /* before the first started: the first */
	snprintf(want, sizeof(want), "%s%s%s", skip1, skip2, fail3);
	settle_case(99, UF_END_ERROR, want); /* a faked counter: clamped to the last */
	snprintf(want, sizeof(want), "%s%s%s", skip1, skip2, skip3);
	settle_case(2, UF_END_EXIT, want); /* a clean end without commit: all handed back */
	settle_case(2, UF_END_INTERNAL, want);
}

static void test_settle_not_for_local_runs(void **state)
{
	struct uft_fx *fx = *state;
	assert_int_equal(pop(fx, BUF, 4096, 3).count, 3);
	hvt_end(&fx->h, UF_END_FAULT, "guest fault");
	hvt_dataplane_settle(&fx->h);
	assert_int_equal(fx->h.inflight, 3); /* the local backend does not settle: nothing reported */
	char *err = uft_slurp(fx->err, NULL);
	assert_string_equal(err, "");
	free(err);
}

/* ---- kv -------------------------------------------------------------------- */

static struct uf_hc_kv kv(struct uft_fx *fx, uint32_t op, const char *key, uint64_t val, uint64_t val_len, int64_t num)
{
	size_t kl = strlen(key);
	memcpy(G(fx, KEY), key, kl);
	struct uf_hc_kv a = {
	    .op = op, .key_len = (uint32_t)kl, .key = KEY, .val = val, .val_len = val_len, .num = num, .ret = -999};
	memcpy(G(fx, ARG), &a, sizeof(a));
	hc(fx, UF_HC_KV, ARG);
	memcpy(&a, G(fx, ARG), sizeof(a));
	return a;
}

static void test_kv_set_get_del(void **state)
{
	struct uft_fx *fx = *state;
	memcpy(G(fx, VAL), "hello", 5);
	struct uf_hc_kv a = kv(fx, UF_KV_SET, "user:1", VAL, 5, 0);
	assert_running(fx);
	assert_int_equal(a.ret, 0);

	memset(G(fx, BUF), 0xaa, 64);
	a = kv(fx, UF_KV_GET, "user:1", BUF, 64, 0);
	assert_running(fx);
	assert_int_equal(a.ret, 0);
	assert_int_equal(a.val_len, 5);
	assert_memory_equal(G(fx, BUF), "hello", 5);
	assert_int_equal(G(fx, BUF)[5], 0xaa);

	/* too small a buffer: a prefix is copied, val_len says the full size */
	memset(G(fx, BUF), 0xaa, 64);
	a = kv(fx, UF_KV_GET, "user:1", BUF, 2, 0);
	assert_int_equal(a.ret, 0);
	assert_int_equal(a.val_len, 5);
	assert_memory_equal(G(fx, BUF), "he", 2);
	assert_int_equal(G(fx, BUF)[2], 0xaa);

	/* capacity 0: size query, no buffer needed */
	a = kv(fx, UF_KV_GET, "user:1", 0, 0, 0);
	assert_running(fx);
	assert_int_equal(a.ret, 0);
	assert_int_equal(a.val_len, 5);

	a = kv(fx, UF_KV_GET, "user:2", BUF, 64, 0);
	assert_int_equal(a.ret, -ENOENT);
	assert_int_equal(a.val_len, 64);

	a = kv(fx, UF_KV_DEL, "user:1", 0, 0, 0);
	assert_int_equal(a.ret, 0);
	a = kv(fx, UF_KV_GET, "user:1", BUF, 64, 0);
	assert_int_equal(a.ret, -ENOENT);
	a = kv(fx, UF_KV_DEL, "user:1", 0, 0, 0);
	assert_int_equal(a.ret, -ENOENT);

	/* empty values exist */
	a = kv(fx, UF_KV_SET, "empty", 0, 0, 0);
	assert_int_equal(a.ret, 0);
	a = kv(fx, UF_KV_GET, "empty", BUF, 64, 0);
	assert_int_equal(a.ret, 0);
	assert_int_equal(a.val_len, 0);
	assert_running(fx);
}

static void test_kv_key_and_value_may_be_read_only(void **state)
{
	struct uft_fx *fx = *state;
	/* keys and SET values are only read: text and rodata are fine */
	memcpy(G(fx, UFT_RO_LO), "constkey", 8);
	memcpy(G(fx, UFT_TEXT_LO), "\x90\x90\xc3", 3);
	struct uf_hc_kv a = {.op = UF_KV_SET, .key_len = 8, .key = UFT_RO_LO, .val = UFT_TEXT_LO, .val_len = 3};
	memcpy(G(fx, ARG), &a, sizeof(a));
	hc(fx, UF_HC_KV, ARG);
	assert_running(fx);
	a = kv(fx, UF_KV_GET, "constkey", BUF, 16, 0);
	assert_int_equal(a.ret, 0);
	assert_int_equal(a.val_len, 3);
	assert_memory_equal(G(fx, BUF), "\x90\x90\xc3", 3);
}

static void test_kv_incr(void **state)
{
	struct uft_fx *fx = *state;
	struct uf_hc_kv a = kv(fx, UF_KV_INCR, "n", 0, 0, 5);
	assert_int_equal(a.ret, 0);
	assert_int_equal(a.num, 5);
	a = kv(fx, UF_KV_INCR, "n", 0, 0, -7);
	assert_int_equal(a.ret, 0);
	assert_int_equal(a.num, -2);
	a = kv(fx, UF_KV_GET, "n", BUF, 16, 0);
	assert_int_equal(a.val_len, 2);
	assert_memory_equal(G(fx, BUF), "-2", 2);

	memcpy(G(fx, VAL), "abc", 3);
	kv(fx, UF_KV_SET, "s", VAL, 3, 0);
	a = kv(fx, UF_KV_INCR, "s", 0, 0, 1);
	assert_int_equal(a.ret, -EINVAL);

	memcpy(G(fx, VAL), "9223372036854775807", 19);
	kv(fx, UF_KV_SET, "max", VAL, 19, 0);
	a = kv(fx, UF_KV_INCR, "max", 0, 0, 1);
	assert_int_equal(a.ret, -ERANGE);
	a = kv(fx, UF_KV_INCR, "max", 0, 0, 0);
	assert_int_equal(a.ret, 0);
	assert_int_equal(a.num, INT64_MAX);
	assert_running(fx);
}

/* UF_VALUE_MAX is enforced even when guest memory could hold more. */
static void test_kv_set_value_max(void **state)
{
	(void)state;
	struct uft_fx fx;
	assert_int_equal(uft_fx_open_mem(&fx, NULL, NULL, 64ull << 20), 0);
	fx.h.opt.limits.v[UF_LIM_VALUE_BYTES] = UF_VALUE_MAX; /* limits.value_bytes at its most */
	assert_true(fx.h.lay.heap_end - UFT_HEAP > UF_VALUE_MAX + 1ull);
	memset(G(&fx, UFT_HEAP + 0x10000), 'v', UF_VALUE_MAX + 1ull);
	struct uf_hc_kv a = kv(&fx, UF_KV_SET, "big", UFT_HEAP + 0x10000, UF_VALUE_MAX, 0);
	assert_running(&fx);
	assert_int_equal(a.ret, 0);
	a = kv(&fx, UF_KV_GET, "big", 0, 0, 0);
	assert_int_equal(a.val_len, UF_VALUE_MAX);
	kv(&fx, UF_KV_SET, "big", UFT_HEAP + 0x10000, UF_VALUE_MAX + 1ull, 0);
	assert_bad(&fx, "kv set: value length 16777217 exceeds 16777216", "a value of UF_VALUE_MAX + 1 bytes");
	uft_fx_close(&fx);
}

/* limits.value_bytes holds for a KV write outside an event too: -EFBIG. */
static void test_kv_set_value_limit(void **state)
{
	struct uft_fx *fx = *state;
	fx->h.opt.limits.v[UF_LIM_VALUE_BYTES] = 3;
	memcpy(G(fx, VAL), "abcd", 4);
	assert_int_equal(kv(fx, UF_KV_SET, "k", VAL, 3, 0).ret, 0);
	assert_int_equal(kv(fx, UF_KV_SET, "k", VAL, 4, 0).ret, -EFBIG);
	assert_running(fx);
}

static void test_kv_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		uint32_t op, key_len;
		uint64_t key, val, val_len, arg;
	} cases[] = {
	    {"key_len 0", UF_KV_GET, 0, KEY, BUF, 16, ARG},
	    {"key_len 513", UF_KV_SET, UF_KEY_MAX + 1, KEY, VAL, 1, ARG},
	    {"key_len 2^32-1", UF_KV_DEL, UINT32_MAX, KEY, 0, 0, ARG},
	    {"key on the NULL page", UF_KV_GET, 4, 16, BUF, 16, ARG},
	    {"key across the end of memory", UF_KV_INCR, 8, UFT_MEM - 4, 0, 0, ARG},
	    {"key beyond memory", UF_KV_DEL, 8, UFT_MEM + 4096, 0, 0, ARG},
	    {"get buffer in text", UF_KV_GET, 3, KEY, UFT_TEXT_LO, 16, ARG},
	    {"get buffer in rodata", UF_KV_GET, 3, KEY, UFT_RO_LO, 16, ARG},
	    {"get buffer in the IDT", UF_KV_GET, 3, KEY, UF_IDT_ADDR, 16, ARG},
	    {"get buffer across the end of memory", UF_KV_GET, 3, KEY, UFT_MEM - 8, 16, ARG},
	    {"get buffer with wrapping length", UF_KV_GET, 3, KEY, BUF, UINT64_MAX - BUF + 2, ARG},
	    {"set value longer than UF_VALUE_MAX", UF_KV_SET, 3, KEY, UFT_HEAP, UF_VALUE_MAX + 1ull, ARG},
	    {"set value across the end of memory", UF_KV_SET, 3, KEY, UFT_MEM - 8, 16, ARG},
	    {"set value on the NULL page", UF_KV_SET, 3, KEY, 0, 16, ARG},
	    {"unknown op 4", 4, 3, KEY, 0, 0, ARG},
	    {"unknown op 2^32-1", UINT32_MAX, 3, KEY, 0, 0, ARG},
	    {"argument struct in rodata", UF_KV_GET, 3, KEY, BUF, 16, UFT_RO_LO + 8},
	    {"argument struct in the stack guard", UF_KV_GET, 3, KEY, BUF, 16, UFT_HEAP_END + 8},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct uft_fx fx;
		assert_int_equal(uft_fx_open(&fx, NULL, NULL), 0);
		memcpy(G(&fx, KEY), "key", 3);
		struct uf_hc_kv a = {.op = cases[i].op,
		                     .key_len = cases[i].key_len,
		                     .key = cases[i].key,
		                     .val = cases[i].val,
		                     .val_len = cases[i].val_len};
		uint8_t *argp = hvt_guest_ptr(&fx.h, cases[i].arg, sizeof(a), 0);
		if (argp)
			memcpy(argp, &a, sizeof(a));
		hc(&fx, UF_HC_KV, cases[i].arg);
		assert_bad(&fx, "kv", cases[i].name);
		uft_fx_close(&fx);
	}
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, uft_fx_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_pop_fills_records),
	    T(test_pop_max_events),
	    T(test_pop_toobig),
	    T(test_pop_partial_batch),
	    T(test_pop_record_into_last_bytes_of_heap),
	    cmocka_unit_test(test_pop_source_and_attrs),
	    T(test_pop_unaligned_arg_struct),
	    cmocka_unit_test(test_pop_drained_without_events),
	    cmocka_unit_test(test_pop_malformed),
	    cmocka_unit_test(test_pop_commit_malformed),
	    T(test_commit_prints_pushes),
	    T(test_commit_limits),
	    T(test_kv_set_value_limit),
	    T(test_pop_commits_previous_batch),
	    T(test_commit_pushes_len_with_slack),
	    T(test_commit_failed_event),
	    T(test_commit_empty_batch),
	    cmocka_unit_test(test_commit_malformed),
	    T(test_commit_applies_kv_in_order),
	    cmocka_unit_test(test_commit_kv_malformed),
	    T(test_commit_push_not_granted),
	    T(test_commit_outputs),
	    T(test_commit_reason),
	    T(test_commit_permanent),
	    T(test_commit_defer),
	    T(test_commit_over_quota),
	    T(test_commit_over_quota_gives_up),
	    T(test_commit_publish_not_allowed),
	    T(test_topic_call),
	    cmocka_unit_test(test_commit_outputs_malformed),
	    T(test_commit_uses_copy_not_guest_memory),
	    T(test_kv_uses_copy_not_guest_memory),
	    cmocka_unit_test(test_settle_blames_current_event),
	    T(test_settle_not_for_local_runs),
	    T(test_kv_set_get_del),
	    T(test_kv_key_and_value_may_be_read_only),
	    T(test_kv_incr),
	    cmocka_unit_test(test_kv_set_value_max),
	    cmocka_unit_test(test_kv_malformed),
	};
	return cmocka_run_group_tests_name("dataplane", tests, NULL, NULL);
}
