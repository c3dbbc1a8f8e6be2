/*
 * api.c - the function API of unifaas.h on top of the hypercalls.
 *
 * A unit works in batches: one UF_HC_POP returns up to batch_max events into
 * `popbuf`; handlers run one after another; their pushes are staged in
 * `stage`, their KV writes (set, del, incr) in `kvstage` and their outputs
 * (uf_reply, uf_mqtt_publish) in `outstage`; one UF_HC_COMMIT then
 * acknowledges the successful events and applies their pushes, KV writes
 * and outputs together.  A publish costs one more exit (UF_HC_TOPIC: the
 * tender decides whether the topic is allowed).  So a batch costs two VM exits however
 * many events it holds, plus one per KV read (uf_kv_get, or uf_kv_incr that
 * wants the result) of a key the batch has not read or written yet.
 *
 * Read-your-writes: `cache` holds, for each key the batch has written, what
 * the batch's writes make of it: a known value (after a set or del, or once
 * the committed value was fetched and the staged increments applied to it)
 * or, for a key only incremented blindly so far, the sum of the increments.
 * Reads of such a key are answered from it (fetching the committed value
 * once if needed); reads of other keys go to the tender.  The cache is a
 * function of the staged records (plus fetched values), so when an event
 * fails its records are cut off and the cache is rebuilt from the rest.
 *
 * Limits (common/event_limits.h, given by the tender in the bootinfo): each
 * staging call of an event (push, publish, KV write) is admitted first;
 * one past a limit returns its error (-EFBIG a value or event too large,
 * -E2BIG too many writes, -ENOBUFS too many bytes in the event's commit),
 * as does every later one of that event, and the event fails for good
 * (UF_LIMIT_RESULT: dead-lettered at once, as uf_fail_permanent, since a
 * retry stages the same writes) with a reason naming the limit
 * (limit_reason), whatever its handler returns or says; only uf_defer
 * still defers it.  The tender checks the same limits again at commit.
 *
 * Invariants: `stage`, `kvstage` and `outstage` hold only records of events
 * that have not failed (uf_fail cuts the current event's off); `outstage`
 * holds at most one reply per event, and one reason per failed event or
 * one deferral per deferred event (uf_defer: UF_RESULT_DEFERRED, which no
 * later failure changes; nor does a handler's return change a
 * UF_RESULT_PERMANENT, uf_fail_permanent's or a limit's, and only these
 * set them); the current event's reason and delay stay in `reason` and
 * `defer_ms` until it finishes; `cur` is the index of
 * the event being handled, valid while `in_event`; bootinfo->progress
 * counts events started, which the tender watches to enforce the time
 * limit and to tell which event a fault interrupted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_limits.h"
#include "hypercall.h"
#include "rules.h"
#include "unifaas.h"

#define POPBUF_INITIAL (64u << 10)
#define EVENT_OUT_MAX  (4u << 20) /* bytes of output records one event may stage */
#define KV_BUCKETS     64

/* What this batch's staged writes make of one key (see the top). */
struct kv_cached {
	struct kv_cached *next;
	uint32_t hash;
	int known;   /* the value is known: val/len, or absent */
	int present; /* known: the key exists */
	char *val;   /* known && present */
	size_t len;
	int64_t delta; /* !known: sum of the staged increments */
	size_t klen;
	char key[];
};

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
	char *kvstage; /* staged KV writes: struct uf_rec_kv records */
	uint64_t kvstage_len, kvstage_cap;
	uint32_t nkv;
	uint64_t event_kv_start;
	uint32_t event_nkv_start;
	char *outstage; /* staged outputs: struct uf_rec_out records */
	uint64_t outstage_len, outstage_cap;
	uint32_t nout;
	uint64_t event_out_start;
	uint32_t event_nout_start;
	char reason[UF_REASON_MAX + 4]; /* the current event's uf_fail_reason or uf_defer reason */
	size_t reason_len;
	/* the limits of what one event may stage (event_limits.h, from the
	 * bootinfo), and what the current event staged or tried to */
	struct uf_limits lim;
	int lim_loaded;
	uint64_t ev_writes, ev_bytes;
	int ev_limit; /* the first limit it went past (enum uf_limit), or -1 */
	uint64_t ev_limit_got;
	int ev_limit_published;
	char ev_limit_name[81];
	size_t ev_limit_name_len;
	uint32_t defer_ms; /* the current event's uf_defer delay */
	struct kv_cached *cache[KV_BUCKETS];
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

static void cache_clear(uf_ctx *ctx)
{
	for (int i = 0; i < KV_BUCKETS; i++) {
		while (ctx->cache[i]) {
			struct kv_cached *e = ctx->cache[i];
			ctx->cache[i] = e->next;
			free(e->val);
			free(e);
		}
	}
}

static void cache_replay(uf_ctx *ctx);
static int stage_out(uf_ctx *ctx, uint32_t kind, const char *topic, size_t tlen, uint32_t qos, const void *data,
                     size_t len);

/* The event went past a limit: its reason names it (whatever the handler
 * said), with the writes or bytes it tried to stage in all. */
static void limit_reason(uf_ctx *ctx)
{
	uint64_t got = ctx->ev_limit == UF_LIM_WRITES         ? ctx->ev_writes
	               : ctx->ev_limit == UF_LIM_COMMIT_BYTES ? ctx->ev_bytes
	                                                      : ctx->ev_limit_got;
	ctx->reason_len =
	    (size_t)uf_limit_reason(ctx->reason, sizeof(ctx->reason), &ctx->lim, (enum uf_limit)ctx->ev_limit, got,
	                            ctx->ev_limit_published, ctx->ev_limit_name, ctx->ev_limit_name_len);
	ctx->results[ctx->cur] = UF_LIMIT_RESULT;
}

static void finish_event(uf_ctx *ctx)
{
	if (!ctx->in_event)
		return;
	if (ctx->ev_limit >= 0 && ctx->results[ctx->cur] != UF_RESULT_DEFERRED) /* deferred: its writes go anyway */
		limit_reason(ctx);
	if (ctx->results[ctx->cur] != 0) {
		ctx->stage_len = ctx->event_stage_start;
		ctx->npush = ctx->event_npush_start;
		ctx->outstage_len = ctx->event_out_start;
		ctx->nout = ctx->event_nout_start;
		if (ctx->nkv != ctx->event_nkv_start) {
			ctx->kvstage_len = ctx->event_kv_start;
			ctx->nkv = ctx->event_nkv_start;
			cache_replay(ctx);
		}
		if (ctx->results[ctx->cur] == UF_RESULT_DEFERRED) /* without memory for it: 0 ms, "deferred" */
			(void)stage_out(ctx, UF_OUTPUT_DEFER, NULL, 0, ctx->defer_ms,
			                ctx->reason_len ? ctx->reason : "deferred",
			                ctx->reason_len ? ctx->reason_len : 8);
		else if (ctx->reason_len) /* without memory for it: "handler returned N" */
			(void)stage_out(ctx, UF_OUTPUT_REASON, NULL, 0, 0, ctx->reason, ctx->reason_len);
	}
	ctx->in_event = 0;
}

/* The commit of the batch in flight; 0 if there is none. */
static int commit_args(uf_ctx *ctx, struct uf_hc_commit *hc)
{
	if (ctx->count == 0)
		return 0;
	*hc = (struct uf_hc_commit){
	    .results = (uint64_t)(uintptr_t)ctx->results,
	    .pushes = (uint64_t)(uintptr_t)ctx->stage,
	    .pushes_len = ctx->stage_len,
	    .count = ctx->count,
	    .npush = ctx->npush,
	    .kv = (uint64_t)(uintptr_t)ctx->kvstage,
	    .kv_len = ctx->kvstage_len,
	    .nkv = ctx->nkv,
	    .outs = (uint64_t)(uintptr_t)ctx->outstage,
	    .outs_len = ctx->outstage_len,
	    .nout = ctx->nout,
	};
	return 1;
}

/* After a commit: nothing in flight, nothing staged. */
static void committed(uf_ctx *ctx)
{
	ctx->count = ctx->cur = 0;
	ctx->stage_len = 0;
	ctx->npush = 0;
	ctx->kvstage_len = 0;
	ctx->nkv = 0;
	ctx->outstage_len = 0;
	ctx->nout = 0;
	cache_clear(ctx);
}

static void commit(uf_ctx *ctx)
{
	struct uf_hc_commit hc;
	if (!commit_args(ctx, &hc))
		return;
	uf_hypercall(UF_HC_COMMIT, &hc);
	committed(ctx);
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
		const char *data = s + r->id_len + 1 + r->queue_len + 1, *src = data + r->data_len + 1;
		ctx->events[i] = (uf_event){
		    .id = s,
		    .queue = s + r->id_len + 1,
		    .data = data,
		    .len = r->data_len,
		    .time_ms = (int64_t)r->time_ms,
		    .source = src,
		    .source_len = r->src_len,
		    .attrs = src + r->src_len + 1,
		    .attrs_len = r->attrs_len,
		};
		ctx->results[i] = 0;
		p += align8(sizeof(*r) + r->id_len + 1 + r->queue_len + 1 + r->data_len + 1 + r->src_len + 1 +
		            r->attrs_len + 1);
	}
	ctx->count = count;
	ctx->cur = 0;
}

/* Settle the batch in flight (if any) and fetch a new one, in one
 * hypercall; returns its size, 0 if none came in time, or -errno. */
static int fetch(uf_ctx *ctx, int timeout_ms)
{
	struct uf_hc_commit hc_commit;
	int settle = commit_args(ctx, &hc_commit);
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
		    .commit = settle ? (uint64_t)(uintptr_t)&hc_commit : 0,
		};
		uf_hypercall(UF_HC_POP, &hc);
		if (settle) { /* settled, whatever the pop says */
			committed(ctx);
			settle = 0;
		}
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

/* The limits the tender gave (0: a tender without them: the defaults). */
static void load_limits(uf_ctx *ctx)
{
	const volatile struct uf_bootinfo *bi = uf_bootinfo();
	uf_limits_defaults(&ctx->lim);
	uint32_t given[UF_LIM_EVENT_COUNT] = {
	    [UF_LIM_VALUE_BYTES] = bi->lim_value_bytes,
	    [UF_LIM_EVENT_BYTES] = bi->lim_event_bytes,
	    [UF_LIM_WRITES] = bi->lim_writes,
	    [UF_LIM_COMMIT_BYTES] = bi->lim_commit_bytes,
	};
	for (int i = 0; i < UF_LIM_EVENT_COUNT; i++)
		if (given[i])
			ctx->lim.v[i] = given[i];
	ctx->lim.from_manifest = bi->lim_manifest;
	ctx->lim_loaded = 1;
}

static int limit_errno(int which)
{
	return which == UF_LIM_WRITES         ? -UF_LIMIT_ERRNO_WRITES
	       : which == UF_LIM_COMMIT_BYTES ? -UF_LIMIT_ERRNO_COMMIT
	                                      : -UF_LIMIT_ERRNO_VALUE;
}

/*
 * One more write of the current event, of `bytes` bytes in its commit; its
 * item (a value or an event of item_len bytes, named name) checked against
 * limit `item` (-1: none).  0, or the error of the first limit the event
 * went past (event_limits.h): from then on every staging call of the event
 * fails with it, and the event fails with its reason (limit_reason).
 */
static int admit(uf_ctx *ctx, uint64_t bytes, int item, uint64_t item_len, int published, const char *name, size_t n)
{
	ctx->ev_writes++;
	ctx->ev_bytes += bytes;
	if (ctx->ev_limit < 0) {
		if (item >= 0 && item_len > ctx->lim.v[item]) {
			ctx->ev_limit = item;
			ctx->ev_limit_got = item_len;
			ctx->ev_limit_published = published;
			ctx->ev_limit_name_len = n > 80 ? 80 : n;
			memcpy(ctx->ev_limit_name, name, ctx->ev_limit_name_len);
		} else if (ctx->ev_writes > ctx->lim.v[UF_LIM_WRITES]) {
			ctx->ev_limit = UF_LIM_WRITES;
		} else if (ctx->ev_bytes > ctx->lim.v[UF_LIM_COMMIT_BYTES]) {
			ctx->ev_limit = UF_LIM_COMMIT_BYTES;
		}
	}
	if (ctx->ev_limit < 0)
		return 0;
	if (ctx->results[ctx->cur] != UF_RESULT_DEFERRED) /* deferred stays deferred */
		ctx->results[ctx->cur] = UF_LIMIT_RESULT;
	return limit_errno(ctx->ev_limit);
}

static void start_event(uf_ctx *ctx, uf_event *ev)
{
	if (!ctx->lim_loaded)
		load_limits(ctx);
	ctx->ev_writes = ctx->ev_bytes = 0;
	ctx->ev_limit = -1;
	*ev = ctx->events[ctx->cur];
	ctx->in_event = 1;
	ctx->event_stage_start = ctx->stage_len;
	ctx->event_npush_start = ctx->npush;
	ctx->event_kv_start = ctx->kvstage_len;
	ctx->event_nkv_start = ctx->nkv;
	ctx->event_out_start = ctx->outstage_len;
	ctx->event_nout_start = ctx->nout;
	ctx->reason_len = 0;
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
	int n = fetch(ctx, timeout_ms); /* also commits the batch that ended */
	if (n <= 0)
		return n;
	start_event(ctx, ev);
	return 1;
}

void uf_fail(uf_ctx *ctx)
{
	uf_api_fail(ctx, 1);
}

/* The reason text of fmt/ap into ctx->reason, cleaned (rules.h). */
static void set_reason(uf_ctx *ctx, const char *fmt, va_list ap)
{
	int n = vsnprintf(ctx->reason, sizeof(ctx->reason), fmt, ap);
	size_t len = n < 0 ? 0 : (size_t)n >= sizeof(ctx->reason) ? sizeof(ctx->reason) - 1 : (size_t)n;
	ctx->reason_len = uf_reason_clean(ctx->reason, len);
}

int uf_fail_reason(uf_ctx *ctx, const char *fmt, ...)
{
	if (!ctx || !fmt || !ctx->in_event)
		return -EINVAL;
	if (ctx->results[ctx->cur] == UF_RESULT_DEFERRED) /* deferred stays deferred */
		return 0;
	va_list ap;
	va_start(ap, fmt);
	set_reason(ctx, fmt, ap);
	va_end(ap);
	if (ctx->results[ctx->cur] == 0)
		ctx->results[ctx->cur] = 1;
	return 0;
}

int uf_fail_permanent(uf_ctx *ctx, const char *fmt, ...)
{
	if (!ctx || !fmt || !ctx->in_event)
		return -EINVAL;
	if (ctx->results[ctx->cur] == UF_RESULT_DEFERRED) /* deferred stays deferred */
		return 0;
	va_list ap;
	va_start(ap, fmt);
	set_reason(ctx, fmt, ap);
	va_end(ap);
	ctx->results[ctx->cur] = UF_RESULT_PERMANENT;
	return 0;
}

int uf_defer(uf_ctx *ctx, uint32_t delay_ms, const char *fmt, ...)
{
	if (!ctx || !fmt || !ctx->in_event)
		return -EINVAL;
	va_list ap;
	va_start(ap, fmt);
	set_reason(ctx, fmt, ap);
	va_end(ap);
	ctx->defer_ms = delay_ms > UF_DEFER_MAX_MS ? UF_DEFER_MAX_MS : delay_ms;
	ctx->results[ctx->cur] = UF_RESULT_DEFERRED;
	return 0;
}

void uf_api_fail(uf_ctx *ctx, int code)
{
	if (ctx && ctx->in_event && ctx->results[ctx->cur] != UF_RESULT_DEFERRED &&
	    ctx->results[ctx->cur] != UF_RESULT_PERMANENT) /* a failure's return keeps them */
		ctx->results[ctx->cur] =
		    code == 0 || code == UF_RESULT_SKIPPED || code == UF_RESULT_DEFERRED || code == UF_RESULT_PERMANENT
		        ? 1
		        : code;
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
	int lr = admit(ctx, qlen + len, UF_LIM_EVENT_BYTES, len, 0, queue, qlen);
	if (lr < 0)
		return lr;
	uint64_t rec = align8(sizeof(struct uf_rec_push) + qlen + 1 + len + 1);
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

static uint64_t out_rec_size(const struct uf_rec_out *r)
{
	return align8(sizeof(*r) + r->topic_len + 1 + r->data_len + 1);
}

/* Remove the current event's reply record, if it staged one. */
static void drop_reply(uf_ctx *ctx)
{
	for (uint64_t off = ctx->event_out_start; off < ctx->outstage_len;) {
		struct uf_rec_out *r = (void *)(ctx->outstage + off);
		uint64_t n = out_rec_size(r);
		if (r->kind == UF_OUTPUT_REPLY) {
			memmove(ctx->outstage + off, ctx->outstage + off + n, ctx->outstage_len - off - n);
			ctx->outstage_len -= n;
			ctx->nout--;
			return;
		}
		off += n;
	}
}

/* Append one output record for the current event. */
static int stage_out(uf_ctx *ctx, uint32_t kind, const char *topic, size_t tlen, uint32_t qos, const void *data,
                     size_t len)
{
	struct uf_rec_out r = {
	    .kind = kind, .event = ctx->cur, .topic_len = (uint32_t)tlen, .qos = qos, .data_len = len};
	uint64_t rec = out_rec_size(&r);
	if (len > UF_OUTPUT_DATA_MAX || ctx->outstage_len - ctx->event_out_start + rec > EVENT_OUT_MAX)
		return -ENOBUFS;
	if (ctx->outstage_len + rec > ctx->outstage_cap) {
		uint64_t cap = ctx->outstage_cap ? ctx->outstage_cap : 4096;
		while (cap < ctx->outstage_len + rec)
			cap *= 2;
		char *ns = realloc(ctx->outstage, cap);
		if (!ns)
			return -ENOMEM;
		ctx->outstage = ns;
		ctx->outstage_cap = cap;
	}
	char *p = ctx->outstage + ctx->outstage_len;
	memcpy(p, &r, sizeof(r));
	p += sizeof(r);
	if (tlen)
		memcpy(p, topic, tlen);
	p[tlen] = '\0';
	p += tlen + 1;
	if (len)
		memcpy(p, data, len);
	p[len] = '\0';
	ctx->outstage_len += rec;
	ctx->nout++;
	return 0;
}

int uf_reply(uf_ctx *ctx, const void *data, size_t len)
{
	if (!ctx || (!data && len) || !ctx->in_event)
		return -EINVAL;
	if (len > UF_OUTPUT_DATA_MAX)
		return -ENOBUFS;
	drop_reply(ctx); /* the last reply wins */
	return stage_out(ctx, UF_OUTPUT_REPLY, NULL, 0, 0, data, len);
}

int uf_mqtt_publish(uf_ctx *ctx, const char *topic, const void *data, size_t len, int qos)
{
	if (!ctx || !topic || (!data && len) || (qos != 0 && qos != 1) || !ctx->in_event)
		return -EINVAL;
	size_t tlen = strlen(topic);
	if (tlen == 0 || tlen > 65535)
		return -EINVAL;
	if (len > UF_OUTPUT_DATA_MAX)
		return -ENOBUFS;
	struct uf_hc_topic hc = {.topic = (uint64_t)(uintptr_t)topic, .topic_len = (uint32_t)tlen};
	uf_hypercall(UF_HC_TOPIC, &hc); /* the tender decides: -EINVAL, -EPERM */
	if (hc.ret < 0)
		return hc.ret;
	int lr = admit(ctx, tlen + len, UF_LIM_EVENT_BYTES, len, 1, topic, tlen);
	if (lr < 0)
		return lr;
	return stage_out(ctx, UF_OUTPUT_MQTT, topic, tlen, (uint32_t)qos, data, len);
}

/* A key's length if it is a valid KV key (rules.h: uf_kv_key_ok), else 0. */
static size_t key_len(const char *key)
{
	size_t n = key ? strlen(key) : 0;
	return uf_kv_key_ok(key, n) ? n : 0;
}

static int kv_hypercall(uint32_t op, const char *key, size_t klen, struct uf_hc_kv *hc)
{
	hc->op = op;
	hc->key = (uint64_t)(uintptr_t)key;
	hc->key_len = (uint32_t)klen;
	uf_hypercall(UF_HC_KV, hc);
	return hc->ret;
}

static uint32_t key_hash(const char *k, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 16777619u;
	return h;
}

static struct kv_cached *cache_find(uf_ctx *ctx, const char *key, size_t klen, int create)
{
	uint32_t h = key_hash(key, klen);
	struct kv_cached **b = &ctx->cache[h % KV_BUCKETS];
	for (struct kv_cached *e = *b; e; e = e->next)
		if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
			return e;
	if (!create)
		return NULL;
	struct kv_cached *e = calloc(1, sizeof(*e) + klen + 1);
	if (!e)
		return NULL;
	e->hash = h;
	e->klen = klen;
	memcpy(e->key, key, klen);
	e->next = *b;
	*b = e;
	return e;
}

/* Make e's value `val` (NULL: absent); -ENOMEM leaves it as it was. */
static int cache_set(struct kv_cached *e, const char *val, size_t len)
{
	char *v = NULL;
	if (val) {
		v = malloc(len + 1);
		if (!v)
			return -ENOMEM;
		memcpy(v, val, len);
		v[len] = '\0';
	}
	free(e->val);
	e->val = v;
	e->len = len;
	e->known = 1;
	e->present = val != NULL;
	e->delta = 0;
	return 0;
}

/* Add `by` to a known value: -EINVAL if it is not an integer, -ERANGE on overflow. */
static int cache_add(struct kv_cached *e, int64_t by, int64_t *result)
{
	int64_t v = 0;
	if (e->present && uf_int64_parse(e->val, e->len, &v) < 0)
		return -EINVAL;
	if (__builtin_add_overflow(v, by, &v))
		return -ERANGE;
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRId64, v);
	int r = cache_set(e, buf, (size_t)n);
	if (r == 0 && result)
		*result = v;
	return r;
}

/* Rebuild the cache from the staged records (after a failed event's were cut off). */
static void cache_replay(uf_ctx *ctx)
{
	cache_clear(ctx);
	for (uint64_t off = 0; off < ctx->kvstage_len;) {
		const struct uf_rec_kv *r = (const void *)(ctx->kvstage + off);
		const char *k = (const char *)(r + 1);
		struct kv_cached *e = cache_find(ctx, k, r->key_len, 1);
		if (e && r->op == UF_KV_SET)
			cache_set(e, k + r->key_len + 1, r->val_len);
		else if (e && r->op == UF_KV_DEL)
			cache_set(e, NULL, 0);
		else if (e && e->known)
			cache_add(e, r->num, NULL);
		else if (e)
			e->delta += r->num; /* checked for overflow when it was staged */
		off += align8(sizeof(*r) + r->key_len + 1 + (r->op == UF_KV_SET ? r->val_len + 1 : 0));
	}
}

/*
 * Fetch the committed value of e's key and apply the staged increments to
 * it.  Increments Redis will refuse at commit (the value is not an integer,
 * or the sum overflows) leave it as it is, as they will leave the store.
 */
static int cache_fetch(uf_ctx *ctx, struct kv_cached *e)
{
	(void)ctx;
	char small[64], *buf = small;
	uint64_t cap = sizeof(small);
	for (;;) {
		struct uf_hc_kv hc = {.val = (uint64_t)(uintptr_t)buf, .val_len = cap};
		int r = kv_hypercall(UF_KV_GET, e->key, e->klen, &hc);
		if (r < 0 && r != -ENOENT) {
			if (buf != small)
				free(buf);
			return r;
		}
		if (r == 0 && hc.val_len > cap) { /* grew: fetch again with room for it */
			if (buf != small)
				free(buf);
			cap = hc.val_len;
			if (!(buf = malloc(cap)))
				return -ENOMEM;
			continue;
		}
		int64_t delta = e->delta;
		r = cache_set(e, r == 0 ? buf : NULL, r == 0 ? hc.val_len : 0);
		if (buf != small)
			free(buf);
		if (r == 0 && delta)
			cache_add(e, delta, NULL);
		return r;
	}
}

/* Append one KV record for the current event. */
static int stage_kv(uf_ctx *ctx, uint32_t op, const char *key, size_t klen, const void *val, size_t len, int64_t num)
{
	uint64_t rec = align8(sizeof(struct uf_rec_kv) + klen + 1 + (op == UF_KV_SET ? len + 1 : 0));
	if (ctx->kvstage_len + rec > ctx->kvstage_cap) {
		uint64_t cap = ctx->kvstage_cap ? ctx->kvstage_cap : 4096;
		while (cap < ctx->kvstage_len + rec)
			cap *= 2;
		char *ns = realloc(ctx->kvstage, cap);
		if (!ns)
			return -ENOMEM;
		ctx->kvstage = ns;
		ctx->kvstage_cap = cap;
	}
	char *p = ctx->kvstage + ctx->kvstage_len;
	*(struct uf_rec_kv *)p = (struct uf_rec_kv){
	    .op = op, .event = ctx->cur, .key_len = (uint32_t)klen, .val_len = op == UF_KV_SET ? len : 0, .num = num};
	p += sizeof(struct uf_rec_kv);
	memcpy(p, key, klen + 1);
	if (op == UF_KV_SET) {
		p += klen + 1;
		if (len)
			memcpy(p, val, len);
		p[len] = '\0';
	}
	ctx->kvstage_len += rec;
	ctx->nkv++;
	return 0;
}

int uf_kv_get(uf_ctx *ctx, const char *key, void *buf, size_t cap, size_t *len)
{
	size_t klen = key_len(key);
	if (!ctx || (!buf && cap) || !klen)
		return -EINVAL;
	struct kv_cached *e = cache_find(ctx, key, klen, 0);
	if (e) { /* written by this batch: answer from what it wrote */
		int r = e->known ? 0 : cache_fetch(ctx, e);
		if (r < 0)
			return r;
		if (!e->present)
			return -ENOENT;
		memcpy(buf, e->val, e->len < cap ? e->len : cap);
		if (len)
			*len = e->len;
		if (e->len > cap)
			return -ENOBUFS;
		if (e->len < cap)
			((char *)buf)[e->len] = '\0';
		return 0;
	}
	struct uf_hc_kv hc = {.val = (uint64_t)(uintptr_t)buf, .val_len = cap};
	int r = kv_hypercall(UF_KV_GET, key, klen, &hc);
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
	size_t klen = key_len(key);
	if (!ctx || (!val && len) || len > UF_VALUE_MAX || !klen)
		return -EINVAL;
	if (!ctx->in_event) { /* no event to commit it with: at once */
		struct uf_hc_kv hc = {.val = (uint64_t)(uintptr_t)val, .val_len = len};
		return kv_hypercall(UF_KV_SET, key, klen, &hc);
	}
	int r = admit(ctx, klen + len, UF_LIM_VALUE_BYTES, len, 0, key, klen);
	if (r < 0)
		return r;
	struct kv_cached *e = cache_find(ctx, key, klen, 1);
	if (!e || cache_set(e, val ? val : "", len) < 0)
		return -ENOMEM;
	r = stage_kv(ctx, UF_KV_SET, key, klen, val, len, 0);
	if (r < 0)
		cache_replay(ctx);
	return r;
}

int uf_kv_incr(uf_ctx *ctx, const char *key, int64_t by, int64_t *out)
{
	size_t klen = key_len(key);
	if (!ctx || !klen)
		return -EINVAL;
	if (!ctx->in_event) {
		struct uf_hc_kv hc = {.num = by};
		int r = kv_hypercall(UF_KV_INCR, key, klen, &hc);
		if (r == 0 && out)
			*out = hc.num;
		return r;
	}
	int r = admit(ctx, klen, -1, 0, 0, NULL, 0);
	if (r < 0)
		return r;
	struct kv_cached *e = cache_find(ctx, key, klen, 1);
	if (!e)
		return -ENOMEM;
	if (!e->known && !out) { /* blind: no need to read the value */
		int64_t d;
		if (__builtin_add_overflow(e->delta, by, &d))
			return -ERANGE;
		e->delta = d;
	} else {
		if (!e->known && (r = cache_fetch(ctx, e)) < 0)
			return r;
		if ((r = cache_add(e, by, out)) < 0)
			return r;
	}
	r = stage_kv(ctx, UF_KV_INCR, key, klen, NULL, 0, by);
	if (r < 0)
		cache_replay(ctx);
	return r;
}

int uf_kv_del(uf_ctx *ctx, const char *key)
{
	size_t klen = key_len(key);
	if (!ctx || !klen)
		return -EINVAL;
	if (!ctx->in_event) {
		struct uf_hc_kv hc = {0};
		return kv_hypercall(UF_KV_DEL, key, klen, &hc);
	}
	int r = admit(ctx, klen, -1, 0, 0, NULL, 0);
	if (r < 0)
		return r;
	struct kv_cached *e = cache_find(ctx, key, klen, 1);
	if (!e || cache_set(e, NULL, 0) < 0)
		return -ENOMEM;
	r = stage_kv(ctx, UF_KV_DEL, key, klen, NULL, 0, 0);
	if (r < 0)
		cache_replay(ctx);
	return r;
}

const char *uf_getenv(const char *name)
{
	return getenv(name);
}

int uf_http(uf_ctx *ctx, const uf_http_req *req, uf_http_resp *resp)
{
	if (!ctx || !req || !resp || !req->method || !req->url || (!req->body && req->body_len) ||
	    (!resp->body && resp->cap) || (!resp->headers && resp->headers_cap))
		return -EINVAL;
	const char *id = ctx->in_event ? ctx->events[ctx->cur].id : NULL;
	struct uf_hc_http hc = {
	    .method = (uint64_t)(uintptr_t)req->method,
	    .method_len = strlen(req->method),
	    .url = (uint64_t)(uintptr_t)req->url,
	    .url_len = strlen(req->url),
	    .headers = (uint64_t)(uintptr_t)req->headers,
	    .headers_len = req->headers ? strlen(req->headers) : 0,
	    .body = (uint64_t)(uintptr_t)req->body,
	    .body_len = req->body_len,
	    .event_id = (uint64_t)(uintptr_t)id,
	    .event_id_len = id ? strlen(id) : 0,
	    .resp = (uint64_t)(uintptr_t)resp->body,
	    .resp_cap = resp->cap,
	    .resp_headers = (uint64_t)(uintptr_t)resp->headers,
	    .resp_headers_cap = resp->headers_cap,
	    .timeout_ms = req->timeout_ms,
	};
	uf_hypercall(UF_HC_HTTP, &hc);
	if (hc.ret < 0)
		return hc.ret;
	resp->status = hc.status;
	resp->len = hc.resp_len;
	resp->headers_len = hc.resp_headers_len;
	if (hc.resp_len < resp->cap)
		resp->body[hc.resp_len] = '\0';
	if (hc.resp_headers_len < resp->headers_cap)
		resp->headers[hc.resp_headers_len] = '\0';
	return 0;
}
