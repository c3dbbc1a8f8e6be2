/*
 * api.c - the function API of unifaas.h on top of the hypercalls.
 *
 * A unit works in batches: one UF_HC_POP returns up to batch_max events into
 * `popbuf`; handlers run one after another; their pushes are staged in
 * `stage`; one UF_HC_COMMIT then acknowledges the successful events and
 * writes their pushes together.  So a batch costs two VM exits however many
 * events it holds.
 *
 * Invariants: `stage` holds only pushes of events that have not failed
 * (uf_fail cuts the current event's pushes off); `cur` is the index of the
 * event being handled, valid while `in_event`; bootinfo->progress counts
 * events started, which the tender watches to enforce the time limit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hypercall.h"
#include "unifaas.h"

#define POPBUF_INITIAL (64u << 10)
#define EVENT_PUSH_MAX (1u << 20) /* bytes of push records one event may stage */

struct uf_ctx {
	char *popbuf;
	uint64_t popcap;
	uf_event events[UF_BATCH_MAX];
	int32_t results[UF_BATCH_MAX];
	uint32_t count, cur;
	int in_event;
	char *stage;
	uint64_t stage_len, stage_cap;
	uint32_t npush;
	uint64_t event_stage_start; /* stage_len when the current event began */
	uint32_t event_npush_start;
};

static struct uf_ctx the_ctx;

uf_ctx *uf_context(void)
{
	return &the_ctx;
}

static uint64_t align8(uint64_t n)
{
	return (n + UF_REC_ALIGN - 1) & ~(uint64_t)(UF_REC_ALIGN - 1);
}

static void finish_event(uf_ctx *ctx)
{
	if (!ctx->in_event)
		return;
	if (ctx->results[ctx->cur] != 0) {
		ctx->stage_len = ctx->event_stage_start;
		ctx->npush = ctx->event_npush_start;
	}
	ctx->in_event = 0;
}

static void commit(uf_ctx *ctx)
{
	if (ctx->count == 0)
		return;
	struct uf_hc_commit hc = {
	    .results = (uint64_t)(uintptr_t)ctx->results,
	    .pushes = (uint64_t)(uintptr_t)ctx->stage,
	    .pushes_len = ctx->stage_len,
	    .count = ctx->count,
	    .npush = ctx->npush,
	};
	uf_hypercall(UF_HC_COMMIT, &hc);
	ctx->count = ctx->cur = 0;
	ctx->stage_len = 0;
	ctx->npush = 0;
}

/*
 * Commit what this unit has done: called when the loop ends and at exit(0).
 * Events of the batch that were never started are handed back unhandled.
 */
void uf_api_flush(void)
{
	uf_ctx *ctx = &the_ctx;
	finish_event(ctx);
	for (uint32_t i = ctx->count ? ctx->cur + 1 : 0; i < ctx->count; i++)
		ctx->results[i] = UF_RESULT_SKIPPED;
	commit(ctx);
}

static void parse_batch(uf_ctx *ctx, uint32_t count)
{
	const char *p = ctx->popbuf;
	for (uint32_t i = 0; i < count; i++) {
		const struct uf_rec_event *r = (const void *)p;
		const char *s = p + sizeof(*r);
		ctx->events[i] = (uf_event){
		    .id = s,
		    .queue = s + r->id_len + 1,
		    .data = s + r->id_len + 1 + r->queue_len + 1,
		    .len = r->data_len,
		    .time_ms = (int64_t)r->time_ms,
		};
		ctx->results[i] = 0;
		p += align8(sizeof(*r) + r->id_len + 1 + r->queue_len + 1 + r->data_len + 1);
	}
	ctx->count = count;
	ctx->cur = 0;
}

/* Fetch a new batch; returns its size, 0 if none came in time, or -errno. */
static int fetch(uf_ctx *ctx, int timeout_ms)
{
	if (!ctx->popbuf) {
		ctx->popbuf = malloc(POPBUF_INITIAL);
		if (!ctx->popbuf)
			uf_exit(UF_EXIT_OOM, 0, "no memory for the event buffer");
		ctx->popcap = POPBUF_INITIAL;
	}
	uint32_t max = uf_bootinfo()->batch_max;
	if (max == 0 || max > UF_BATCH_MAX)
		max = UF_BATCH_MAX;
	for (;;) {
		struct uf_hc_pop hc = {
		    .buf = (uint64_t)(uintptr_t)ctx->popbuf,
		    .cap = ctx->popcap,
		    .max_events = max,
		    .timeout_ms = timeout_ms < 0 ? 0 : (uint32_t)timeout_ms,
		};
		uf_hypercall(UF_HC_POP, &hc);
		if (hc.status == UF_POP_DRAINED)
			return 0;
		if (hc.status == UF_POP_TOOBIG) {
			char *nb = malloc(hc.needed);
			if (!nb)
				uf_exit(UF_EXIT_OOM, 0, "an event is larger than the free guest memory");
			free(ctx->popbuf);
			ctx->popbuf = nb;
			ctx->popcap = hc.needed;
			continue;
		}
		if (hc.status < 0)
			return hc.status;
		parse_batch(ctx, hc.count);
		return (int)hc.count;
	}
}

static void start_event(uf_ctx *ctx, uf_event *ev)
{
	*ev = ctx->events[ctx->cur];
	ctx->in_event = 1;
	ctx->event_stage_start = ctx->stage_len;
	ctx->event_npush_start = ctx->npush;
	volatile uint64_t *progress = &uf_bootinfo()->progress;
	*progress = *progress + 1;
}

int uf_pop(uf_ctx *ctx, uf_event *ev, int timeout_ms)
{
	if (!ctx || !ev)
		return -EINVAL;
	if (ctx->in_event) {
		finish_event(ctx);
		if (ctx->cur + 1 < ctx->count) {
			ctx->cur++;
			start_event(ctx, ev);
			return 1;
		}
	}
	commit(ctx);
	int n = fetch(ctx, timeout_ms);
	if (n <= 0)
		return n;
	start_event(ctx, ev);
	return 1;
}

void uf_fail(uf_ctx *ctx)
{
	uf_api_fail(ctx, 1);
}

void uf_api_fail(uf_ctx *ctx, int code)
{
	if (ctx && ctx->in_event)
		ctx->results[ctx->cur] = code == 0 || code == UF_RESULT_SKIPPED ? 1 : code;
}

int uf_push(uf_ctx *ctx, const char *queue, const void *data, size_t len)
{
	if (!ctx || !queue || (!data && len))
		return -EINVAL;
	if (!ctx->in_event)
		return -EINVAL;
	size_t qlen = strlen(queue);
	if (!uf_queue_name_ok(queue, qlen))
		return -EINVAL;
	uint64_t rec = align8(sizeof(struct uf_rec_push) + qlen + 1 + len + 1);
	if (ctx->stage_len - ctx->event_stage_start + rec > EVENT_PUSH_MAX)
		return -ENOBUFS;
	if (ctx->stage_len + rec > ctx->stage_cap) {
		uint64_t cap = ctx->stage_cap ? ctx->stage_cap : 4096;
		while (cap < ctx->stage_len + rec)
			cap *= 2;
		char *ns = realloc(ctx->stage, cap);
		if (!ns)
			return -ENOMEM;
		ctx->stage = ns;
		ctx->stage_cap = cap;
	}
	char *p = ctx->stage + ctx->stage_len;
	struct uf_rec_push *r = (void *)p;
	r->event = ctx->cur;
	r->queue_len = (uint32_t)qlen;
	r->data_len = len;
	p += sizeof(*r);
	memcpy(p, queue, qlen + 1);
	p += qlen + 1;
	if (len)
		memcpy(p, data, len);
	p[len] = '\0';
	ctx->stage_len += rec;
	ctx->npush++;
	return 0;
}

static int kv_call(uint32_t op, const char *key, struct uf_hc_kv *hc)
{
	if (!key)
		return -EINVAL;
	size_t klen = strlen(key);
	if (klen == 0 || klen > UF_KEY_MAX)
		return -EINVAL;
	hc->op = op;
	hc->key = (uint64_t)(uintptr_t)key;
	hc->key_len = (uint32_t)klen;
	uf_hypercall(UF_HC_KV, hc);
	return hc->ret;
}

int uf_kv_get(uf_ctx *ctx, const char *key, void *buf, size_t cap, size_t *len)
{
	if (!ctx || (!buf && cap))
		return -EINVAL;
	struct uf_hc_kv hc = {.val = (uint64_t)(uintptr_t)buf, .val_len = cap};
	int r = kv_call(UF_KV_GET, key, &hc);
	if (r < 0)
		return r;
	if (len)
		*len = hc.val_len;
	if (hc.val_len > cap)
		return -ENOBUFS;
	if (hc.val_len < cap)
		((char *)buf)[hc.val_len] = '\0';
	return 0;
}

int uf_kv_set(uf_ctx *ctx, const char *key, const void *val, size_t len)
{
	if (!ctx || (!val && len) || len > UF_VALUE_MAX)
		return -EINVAL;
	struct uf_hc_kv hc = {.val = (uint64_t)(uintptr_t)val, .val_len = len};
	return kv_call(UF_KV_SET, key, &hc);
}

int uf_kv_incr(uf_ctx *ctx, const char *key, int64_t by, int64_t *out)
{
	if (!ctx)
		return -EINVAL;
	struct uf_hc_kv hc = {.num = by};
	int r = kv_call(UF_KV_INCR, key, &hc);
	if (r == 0 && out)
		*out = hc.num;
	return r;
}

int uf_kv_del(uf_ctx *ctx, const char *key)
{
	if (!ctx)
		return -EINVAL;
	struct uf_hc_kv hc = {0};
	return kv_call(UF_KV_DEL, key, &hc);
}

const char *uf_getenv(const char *name)
{
	return getenv(name);
}

int uf_http(uf_ctx *ctx, const uf_http_req *req, uf_http_resp *resp)
{
	if (!ctx || !req || !resp || !req->method || !req->url || (!req->body && req->body_len))
		return -EINVAL;
	struct uf_hc_http hc = {
	    .method = (uint64_t)(uintptr_t)req->method,
	    .method_len = strlen(req->method),
	    .url = (uint64_t)(uintptr_t)req->url,
	    .url_len = strlen(req->url),
	    .headers = (uint64_t)(uintptr_t)req->headers,
	    .headers_len = req->headers ? strlen(req->headers) : 0,
	    .body = (uint64_t)(uintptr_t)req->body,
	    .body_len = req->body_len,
	    .resp = (uint64_t)(uintptr_t)resp->body,
	    .resp_cap = resp->cap,
	};
	uf_hypercall(UF_HC_HTTP, &hc);
	if (hc.ret < 0)
		return hc.ret;
	resp->status = hc.status;
	resp->len = hc.resp_len;
	return 0;
}
