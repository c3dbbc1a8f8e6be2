/*
 * gen_corpus.c - writes the seed corpus of fuzz_hypercall (tests/fuzz/corpus/)
 * in the input format of fuzz_input.h: well-formed pop, commit, kv, console
 * and other calls, so the fuzzer starts from inputs that get past the
 * argument checks.  `make -f tests/fuzz/fuzz.mk corpus` rebuilds it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_input.h"

#define H(off) (FUZZ_HEAP + (off))

struct seed {
	uint8_t desc[FUZZ_MAX_CALLS][FUZZ_CALL_BYTES];
	unsigned n;
	uint8_t img[FUZZ_IMAGE_MAX];
	size_t len;
};

static const char *dir;

static void call(struct seed *s, unsigned c, uint64_t gpa)
{
	if (s->n == FUZZ_MAX_CALLS)
		abort();
	uint32_t v = (uint32_t)gpa;
	s->desc[s->n][0] = fuzz_sel(c);
	memcpy(&s->desc[s->n][1], &v, 4);
	s->n++;
}

static void put(struct seed *s, uint64_t gpa, const void *p, size_t n)
{
	if (gpa < FUZZ_HEAP || gpa + n > FUZZ_HEAP + FUZZ_IMAGE_MAX)
		abort();
	memcpy(s->img + (gpa - FUZZ_HEAP), p, n);
	if (gpa - FUZZ_HEAP + n > s->len)
		s->len = gpa - FUZZ_HEAP + n;
}

static uint64_t push_rec(struct seed *s, uint64_t gpa, uint32_t event, const char *q, const char *d, uint64_t dlen)
{
	struct uf_rec_push r = {.event = event, .queue_len = (uint32_t)strlen(q), .data_len = dlen};
	put(s, gpa, &r, sizeof(r));
	put(s, gpa + sizeof(r), q, r.queue_len + 1);
	put(s, gpa + sizeof(r) + r.queue_len + 1, d, dlen);
	put(s, gpa + sizeof(r) + r.queue_len + 1 + dlen, "", 1);
	return (sizeof(r) + r.queue_len + 1 + dlen + 1 + 7) & ~7ull;
}

static uint64_t out_rec(struct seed *s, uint64_t gpa, uint32_t kind, uint32_t event, const char *topic, uint32_t qos,
                        const char *d)
{
	struct uf_rec_out r = {
	    .kind = kind, .event = event, .topic_len = (uint32_t)strlen(topic), .qos = qos, .data_len = strlen(d)};
	put(s, gpa, &r, sizeof(r));
	put(s, gpa + sizeof(r), topic, r.topic_len + 1);
	put(s, gpa + sizeof(r) + r.topic_len + 1, d, r.data_len + 1);
	return (sizeof(r) + r.topic_len + 1 + r.data_len + 1 + 7) & ~7ull;
}

static void pop(struct seed *s, uint64_t at, uint64_t buf, uint64_t cap, uint32_t max)
{
	struct uf_hc_pop a = {.buf = buf, .cap = cap, .max_events = max};
	put(s, at, &a, sizeof(a));
	call(s, UF_HC_POP, at);
}

static void commit(struct seed *s, uint64_t at, uint32_t count, const int32_t *res, uint64_t pushes, uint64_t len,
                   uint32_t npush)
{
	struct uf_hc_commit a = {
	    .results = H(0x3000), .pushes = pushes, .pushes_len = len, .count = count, .npush = npush};
	if (count)
		put(s, H(0x3000), res, count * sizeof(int32_t));
	put(s, at, &a, sizeof(a));
	call(s, UF_HC_COMMIT, at);
}

/* a commit of `count` acknowledged events with output records at H(0x2400) */
static void commit_outs(struct seed *s, uint64_t at, uint32_t count, const int32_t *res, uint64_t len, uint32_t nout)
{
	struct uf_hc_commit a = {
	    .results = H(0x3000), .count = count, .outs = H(0x2400), .outs_len = len, .nout = nout};
	put(s, H(0x3000), res, count * sizeof(int32_t));
	put(s, at, &a, sizeof(a));
	call(s, UF_HC_COMMIT, at);
}

static void kv(struct seed *s, uint64_t at, uint32_t op, const char *key, size_t klen, uint64_t val, uint64_t val_len,
               int64_t num)
{
	uint64_t kaddr = at + 0x2800; /* keys live in their own area */
	put(s, kaddr, key, klen);
	struct uf_hc_kv a = {
	    .op = op, .key_len = (uint32_t)klen, .key = kaddr, .val = val, .val_len = val_len, .num = num};
	put(s, at, &a, sizeof(a));
	call(s, UF_HC_KV, at);
}

static void emit(const char *name, struct seed *s)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(1);
	}
	uint8_t n = (uint8_t)(s->n - 1);
	fwrite(&n, 1, 1, f);
	fwrite(s->desc, FUZZ_CALL_BYTES, s->n, f);
	fwrite(s->img, 1, s->len, f);
	fclose(f);
	memset(s, 0, sizeof(*s));
}

int main(int argc, char **argv)
{
	dir = argc > 1 ? argv[1] : "tests/fuzz/corpus";
	mkdir(dir, 0755);
	static struct seed s;
	int32_t ok[8] = {0};

	pop(&s, H(0x40), H(0x1000), 4096, 8);
	emit("pop", &s);

	/* pop two, push one for each, commit */
	pop(&s, H(0x40), H(0x1000), 4096, 2);
	uint64_t off = push_rec(&s, H(0x2000), 0, "results", "{\"ok\":true}", 11);
	off += push_rec(&s, H(0x2000) + off, 1, "out.q-1_2", "line\n\"quoted\"\\", 14);
	commit(&s, H(0x80), 2, ok, H(0x2000), off, 2);
	emit("pop-commit-pushes", &s);

	/* too small a buffer, then a big one; one event fails */
	pop(&s, H(0x40), H(0x1000), 16, 8);
	pop(&s, H(0x80), H(0x1000), 8192, UF_BATCH_MAX);
	int32_t res[5] = {0, 1, 0, 0, 0};
	off = push_rec(&s, H(0x2000), 2, "q", "", 0);
	commit(&s, H(0xc0), 5, res, H(0x2000), off, 1);
	emit("toobig-then-batch", &s);

	/* drain the input: pop/commit until DRAINED */
	pop(&s, H(0x40), H(0x1000), 8192, 3);
	commit(&s, H(0x80), 3, ok, 0, 0, 0);
	pop(&s, H(0xc0), H(0x1000), 8192, 3);
	commit(&s, H(0x100), 2, ok, 0, 0, 0);
	pop(&s, H(0x140), H(0x1000), 8192, 3);
	commit(&s, H(0x180), 0, ok, 0, 0, 0);
	emit("drain", &s);

	/* kv: set, incr, get, get too small, del, get absent */
	put(&s, H(0x800), "41", 2);
	kv(&s, H(0x40), UF_KV_SET, "counter", 7, H(0x800), 2, 0);
	kv(&s, H(0x80), UF_KV_INCR, "counter", 7, 0, 0, 1);
	kv(&s, H(0xc0), UF_KV_GET, "counter", 7, H(0x900), 64, 0);
	kv(&s, H(0x100), UF_KV_GET, "counter", 7, H(0x900), 1, 0);
	kv(&s, H(0x140), UF_KV_DEL, "counter", 7, 0, 0, 0);
	kv(&s, H(0x180), UF_KV_GET, "counter", 7, H(0x900), 64, 0);
	emit("kv", &s);

	/* kv values that kv_save must escape */
	put(&s, H(0x800), "quote\" back\\ nl\n ctl\x01 del\x7f utf8 \xc3\xa9", 33);
	kv(&s, H(0x40), UF_KV_SET, "esc", 3, H(0x800), 33, 0);
	kv(&s, H(0x80), UF_KV_SET, "k\"ey\\", 5, H(0x800), 5, 0);
	kv(&s, H(0xc0), UF_KV_SET, "empty", 5, 0, 0, 0);
	kv(&s, H(0x100), UF_KV_INCR, "n", 1, 0, 0, INT64_MAX);
	kv(&s, H(0x140), UF_KV_INCR, "n", 1, 0, 0, 1);
	emit("kv-escapes", &s);

	/* the small calls */
	put(&s, H(0x800), "hello, console\n", 15);
	struct uf_hc_console con = {.buf = H(0x800), .len = 15, .fd = 1};
	put(&s, H(0x40), &con, sizeof(con));
	call(&s, UF_HC_CONSOLE, H(0x40));
	struct uf_hc_time t = {.clock = UF_CLOCK_MONO};
	put(&s, H(0x80), &t, sizeof(t));
	call(&s, UF_HC_TIME, H(0x80));
	struct uf_hc_random r = {.buf = H(0x900), .len = 32};
	put(&s, H(0xc0), &r, sizeof(r));
	call(&s, UF_HC_RANDOM, H(0xc0));
	struct uf_hc_yield y = {.timeout_ns = 100};
	put(&s, H(0x100), &y, sizeof(y));
	call(&s, UF_HC_YIELD, H(0x100));
	struct uf_hc_setfs fs = {.base = H(0x4000)};
	put(&s, H(0x140), &fs, sizeof(fs));
	call(&s, UF_HC_SETFS, H(0x140));
	struct uf_hc_http http = {0};
	put(&s, H(0x180), &http, sizeof(http));
	call(&s, UF_HC_HTTP, H(0x180));
	struct uf_hc_net net = {0};
	put(&s, H(0x200), &net, sizeof(net));
	call(&s, UF_HC_NET, H(0x200));
	struct uf_hc_console con2 = {.buf = H(0x800), .len = 5, .fd = 2};
	put(&s, H(0x240), &con2, sizeof(con2));
	call(&s, UF_HC_CONSOLE, H(0x240));
	emit("small-calls", &s);

	put(&s, H(0x800), "assertion failed: x > 0", 23);
	struct uf_hc_exit ex = {.kind = UF_EXIT_ABORT, .status = 6, .msg = H(0x800), .msg_len = 23};
	put(&s, H(0x40), &ex, sizeof(ex));
	call(&s, UF_HC_EXIT, H(0x40));
	emit("exit-abort", &s);

	call(&s, UF_HC_FAULT, UF_IST_TOP - sizeof(struct uf_hc_fault));
	put(&s, H(0), "", 1);
	emit("fault", &s);

	/* a commit whose second push record runs past the staged bytes */
	pop(&s, H(0x40), H(0x1000), 4096, 2);
	off = push_rec(&s, H(0x2000), 0, "out", "payload", 7);
	uint64_t off2 = push_rec(&s, H(0x2000) + off, 1, "out", "second", 6);
	commit(&s, H(0x80), 2, ok, H(0x2000), off + off2 - 6, 2); /* data NUL cut off */
	emit("commit-truncated", &s);
	/* lengths that make gpa + len wrap around 2^64: must be refused */
	pop(&s, H(0x40), H(0x1000), 4096, 2);
	off = push_rec(&s, H(0x2000), 0, "out", "x", 1);
	commit(&s, H(0x80), 2, ok, H(0x2000), (uint64_t)0 - H(0x2000) + 32, 2);
	emit("wrap-commit", &s);
	pop(&s, H(0x40), H(0x1000), (uint64_t)0 - H(0x1000) + 4096, 8);
	emit("wrap-pop", &s);
	kv(&s, H(0x40), UF_KV_GET, "k", 1, H(0x900), (uint64_t)0 - H(0x900) + 64, 0);
	emit("wrap-kv-get", &s);

	/* ABI 4: ask for a topic, then commit a publish and a reply */
	put(&s, H(0x800), "lights/1/set", 12);
	struct uf_hc_topic tp = {.topic = H(0x800), .topic_len = 12};
	put(&s, H(0x240), &tp, sizeof(tp));
	pop(&s, H(0x40), H(0x1000), 4096, 2);
	call(&s, UF_HC_TOPIC, H(0x240));
	off = out_rec(&s, H(0x2400), UF_OUTPUT_MQTT, 0, "lights/1/set", 1, "on");
	off += out_rec(&s, H(0x2400) + off, UF_OUTPUT_REPLY, 1, "", 0, "{\"ok\":true}");
	commit_outs(&s, H(0x80), 2, ok, off, 2);
	emit("commit-outputs", &s);
	/* the same with the second record's data NUL cut off */
	pop(&s, H(0x40), H(0x1000), 4096, 2);
	off = out_rec(&s, H(0x2400), UF_OUTPUT_MQTT, 0, "a/b", 0, "x");
	uint64_t off3 = out_rec(&s, H(0x2400) + off, UF_OUTPUT_REPLY, 1, "", 0, "reply");
	commit_outs(&s, H(0x80), 2, ok, off + off3 - 3, 2);
	emit("commit-outputs-truncated", &s);

	/* ABI 5: a failed event's reason beside an acknowledged event's reply */
	int32_t one_failed[2] = {0, 1};
	pop(&s, H(0x40), H(0x1000), 4096, 2);
	off = out_rec(&s, H(0x2400), UF_OUTPUT_REPLY, 0, "", 0, "{\"ok\":true}");
	off += out_rec(&s, H(0x2400) + off, UF_OUTPUT_REASON, 1, "", 0, "device kit4 topic t: at byte 13");
	commit_outs(&s, H(0x80), 2, one_failed, off, 2);
	emit("commit-reason", &s);
	/* malformed: a reason for an acknowledged event, one with a control character */
	pop(&s, H(0x40), H(0x1000), 4096, 2);
	off = out_rec(&s, H(0x2400), UF_OUTPUT_REASON, 0, "", 0, "not failed");
	commit_outs(&s, H(0x80), 2, one_failed, off, 1);
	emit("commit-reason-acked", &s);
	pop(&s, H(0x40), H(0x1000), 4096, 2);
	off = out_rec(&s, H(0x2400), UF_OUTPUT_REASON, 1, "", 0, "two\nlines");
	commit_outs(&s, H(0x80), 2, one_failed, off, 1);
	emit("commit-reason-control", &s);

	/* ABI 6: a deferred event (uf_defer) beside an acknowledged one's reply */
	int32_t one_deferred[2] = {0, UF_RESULT_DEFERRED};
	pop(&s, H(0x40), H(0x1000), 4096, 2);
	off = out_rec(&s, H(0x2400), UF_OUTPUT_REPLY, 0, "", 0, "{\"ok\":true}");
	off += out_rec(&s, H(0x2400) + off, UF_OUTPUT_DEFER, 1, "", 300, "429 Retry-After 0.3");
	commit_outs(&s, H(0x80), 2, one_deferred, off, 2);
	emit("commit-defer", &s);
	/* malformed: a deferral of an acknowledged event */
	pop(&s, H(0x40), H(0x1000), 4096, 2);
	off = out_rec(&s, H(0x2400), UF_OUTPUT_DEFER, 0, "", 300, "not deferred");
	commit_outs(&s, H(0x80), 2, one_deferred, off, 1);
	emit("commit-defer-acked", &s);

	/* uf_fail_permanent: a failed event dead-lettered at once, with its reason */
	int32_t one_permanent[2] = {0, UF_RESULT_PERMANENT};
	pop(&s, H(0x40), H(0x1000), 4096, 2);
	off = out_rec(&s, H(0x2400), UF_OUTPUT_REASON, 1, "", 0, "slack answered 404 channel_not_found");
	commit_outs(&s, H(0x80), 2, one_permanent, off, 1);
	emit("commit-permanent", &s);
	return 0;
}
