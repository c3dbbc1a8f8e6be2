/*
 * hvt_dataplane.c - the data-plane hypercalls: pop, commit and kv.
 *
 * These translate between the guest's records (uf_abi.h) and the backend
 * (backend.h).  Pop writes whole event records into the guest's buffer and
 * never splits one: an event that does not fit is left for the next pop,
 * and if it is the first the guest is told the size it needs.  Guest
 * memory is copied, then checked (hvt.h: hvt_guest_ptr): commit copies the
 * staged records into tender memory once, and parses, checks and writes
 * only that copy; kv copies the key and value.  Commit parses them strictly (bounds, NULs, queue
 * names, keys, event indexes) before anything reaches the backend, so a
 * corrupt staging buffer ends the unit instead of writing garbage.  Commit
 * also enforces the unit's push grants (--push-allow) and publish filters
 * (--publish): an event that pushed to a queue it may not, or published on
 * a topic no filter matches (libuf asks first with UF_HC_TOPIC, so only a
 * guest that skips the question gets here), is failed here, with its
 * pushes, KV writes and outputs dropped, and goes the way of every failed
 * event (retry, then DLQ).  So is an event past a limit of what one event
 * may write (--limit: common/event_limits.h), whatever libuf checked
 * already, with a reason naming the limit, and for good (UF_LIMIT_RESULT:
 * dead-lettered at once, not retried); and a KV SET outside an event
 * past limits.value_bytes answers -EFBIG.
 *
 * While the workflow is over its storage quota (the backend says so:
 * common/delivery.h "Storage quota"), commit defers - not counted, with
 * the quota's reason - each acknowledged event that would grow its
 * storage (a push, a KV SET longer than the stored value, an INCRBY that
 * creates its key) and drops its records; the others commit as usual, so
 * a workflow's consumers drain its backlog.  Once the workflow has been
 * over its quota for quota_give_up_s (the backend says so too), those
 * events are failed for good instead (UF_LIMIT_RESULT: dead-lettered at
 * once, the reason naming the quota and quota_give_up_s).  A KV SET or
 * INCRBY outside an event that would grow it answers -EDQUOT.
 *
 * Which event of a batch is being handled: the guest counts the events it
 * starts in bootinfo->progress (also the CPU-time watchdog's tick), so with
 * pop_progress recorded at the pop, event progress - pop_progress - 1 is
 * the current one.  hvt_dataplane_settle() uses that when the unit ends
 * mid-batch to blame that event alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvt.h"
#include "topic.h"

#define bad(h, ...) hvt_end((h), UF_END_BAD_HYPERCALL, "bad hypercall: " __VA_ARGS__)

static uint64_t align8(uint64_t n)
{
	return (n + UF_REC_ALIGN - 1) & ~(uint64_t)(UF_REC_ALIGN - 1);
}

static uint64_t event_rec_size(const struct uf_bevent *ev)
{
	return align8(sizeof(struct uf_rec_event) + strlen(ev->id) + 1 + strlen(ev->queue) + 1 + ev->len + 1 +
	              (ev->src ? ev->src_len : 0) + 1 + (ev->attrs ? ev->attrs_len : 0) + 1);
}

static void put_event(uint8_t *dst, const struct uf_bevent *ev)
{
	struct uf_rec_event r = {
	    .id_len = (uint32_t)strlen(ev->id),
	    .queue_len = (uint32_t)strlen(ev->queue),
	    .data_len = ev->len,
	    .time_ms = ev->time_ms,
	    .src_len = ev->src ? (uint32_t)ev->src_len : 0,
	    .attrs_len = ev->attrs ? (uint32_t)ev->attrs_len : 0,
	};
	memcpy(dst, &r, sizeof(r));
	uint8_t *p = dst + sizeof(r);
	memcpy(p, ev->id, r.id_len + 1);
	p += r.id_len + 1;
	memcpy(p, ev->queue, r.queue_len + 1);
	p += r.queue_len + 1;
	memcpy(p, ev->data, ev->len);
	p[ev->len] = '\0';
	p += ev->len + 1;
	if (r.src_len)
		memcpy(p, ev->src, r.src_len);
	p[r.src_len] = '\0';
	p += r.src_len + 1;
	if (r.attrs_len)
		memcpy(p, ev->attrs, r.attrs_len);
	p[r.attrs_len] = '\0';
}

void hvt_hc_commit(struct hvt *h, void *arg);

void hvt_hc_pop(struct hvt *h, void *arg)
{
	struct uf_hc_pop *a = arg;
	if (!h->t_ready_ns)
		h->t_ready_ns = hvt_now_ns();
	if (a->max_events == 0 || a->max_events > UF_BATCH_MAX) {
		bad(h, "pop: max_events %u is not in 1..%u", a->max_events, UF_BATCH_MAX);
		return;
	}
	if (a->commit) { /* settle the batch in flight first: one exit for both */
		struct uf_hc_commit c, *g = hvt_guest_ptr(h, a->commit, sizeof(c), 1);
		if (!g) {
			bad(h, "pop: commit struct at 0x%lx (%zu bytes) is not in writable guest memory",
			    (unsigned long)a->commit, sizeof(c));
			return;
		}
		memcpy(&c, g, sizeof(c));
		hvt_hc_commit(h, &c);
		memcpy(g, &c, sizeof(c));
		if (h->ended || (h->backend && h->backend->failed))
			return;
	}
	if (h->inflight) {
		bad(h, "pop: the previous batch of %u events was not committed", h->inflight);
		return;
	}
	if (hvt_drain_asked) { /* the batch is committed: end instead of reading more */
		hvt_end(h, UF_END_EXIT, "drained: unifaasd asked the unit to end");
		return;
	}
	uint8_t *buf = hvt_guest_ptr(h, a->buf, a->cap, 1);
	if (!buf || a->cap == 0) {
		bad(h, "pop: buffer [0x%lx, +%lu) is not writable guest memory", (unsigned long)a->buf,
		    (unsigned long)a->cap);
		return;
	}
	a->count = 0;
	a->used = 0;
	a->needed = 0;
	a->status = UF_POP_OK;
	while (a->count < a->max_events) {
		const struct uf_bevent *ev;
		int r = h->backend->peek(h->backend, a->count ? 0 : a->timeout_ms, &ev);
		if (r < 0 && a->count == 0) {
			a->status = r;
			return;
		}
		if (r <= 0)
			break;
		uint64_t need = event_rec_size(ev);
		if (need > a->cap - a->used) {
			if (a->count == 0) {
				a->status = UF_POP_TOOBIG;
				a->needed = need;
			}
			break;
		}
		put_event(buf + a->used, ev);
		a->used += need;
		a->count++;
		h->backend->take(h->backend);
	}
	h->inflight = a->count;
	h->pop_progress = ((const volatile struct uf_bootinfo *)(h->mem + UF_BOOTINFO_ADDR))->progress;
	h->batch_events = a->count;
	h->batch_ticks = 0;
	if (a->count == 0 && a->status == UF_POP_OK)
		a->status = UF_POP_DRAINED;
}

/* The fixed part of staged record i (`what`: "push", "kv", "output") at
 * off, copied into r (n bytes); 0, or -1 after ending the unit when it
 * runs past the staged len bytes. */
static int record_head(struct hvt *h, const char *what, uint32_t i, const uint8_t *p, uint64_t len, uint64_t off,
                       void *r, size_t n)
{
	if (len - off < n) {
		bad(h, "commit: %s record %u at offset %lu runs past the staged %lu bytes", what, i, (unsigned long)off,
		    (unsigned long)len);
		return -1;
	}
	memcpy(r, p + off, n);
	return 0;
}

/* A record may only name an event of the batch that its handler
 * acknowledged; 0, or -1 after ending the unit. */
static int record_event(struct hvt *h, const char *what, uint32_t i, uint32_t event, const int32_t *results,
                        uint32_t count)
{
	if (event < count && results[event] == 0)
		return 0;
	bad(h, "commit: %s record %u names event %u, which is %s", what, i, event,
	    event >= count ? "not in the batch" : "not acknowledged");
	return -1;
}

/* Where the record after one of `size` bytes at off starts (8-aligned, at
 * most len: a later record there is reported as running past). */
static uint64_t record_next(uint64_t off, uint64_t size, uint64_t len)
{
	off += align8(size);
	return off > len ? len : off;
}

/* Parse the staged pushes into `out`; returns 0, or -1 after ending the unit. */
static int parse_pushes(struct hvt *h, const uint8_t *p, uint64_t len, uint32_t npush, const int32_t *results,
                        uint32_t count, struct uf_bpush *out)
{
	uint64_t off = 0;
	for (uint32_t i = 0; i < npush; i++) {
		struct uf_rec_push r;
		if (record_head(h, "push", i, p, len, off, &r, sizeof(r)) < 0 ||
		    record_event(h, "push", i, r.event, results, count) < 0)
			return -1;
		uint64_t body = off + sizeof(r);
		if (r.queue_len > UF_QUEUE_MAX || r.data_len > len ||
		    len - body < (uint64_t)r.queue_len + 1 + r.data_len + 1) {
			bad(h, "commit: push record %u at offset %lu: lengths (queue %u, data %lu) run past the buffer",
			    i, (unsigned long)off, r.queue_len, (unsigned long)r.data_len);
			return -1;
		}
		const char *q = (const char *)p + body;
		const char *d = q + r.queue_len + 1;
		if (q[r.queue_len] != '\0' || d[r.data_len] != '\0' || !uf_queue_name_ok(q, r.queue_len)) {
			bad(h,
			    "commit: push record %u: queue name is not 1..%u of [A-Za-z0-9._-] or a terminator is "
			    "missing",
			    i, UF_QUEUE_MAX);
			return -1;
		}
		out[i] = (struct uf_bpush){
		    .event = r.event, .queue = q, .queue_len = r.queue_len, .data = d, .len = r.data_len};
		off = record_next(off, sizeof(r) + r.queue_len + 1 + r.data_len + 1, len);
	}
	return 0;
}

/* Parse the staged KV writes into `out`; returns 0, or -1 after ending the unit. */
static int parse_kvs(struct hvt *h, const uint8_t *p, uint64_t len, uint32_t nkv, const int32_t *results,
                     uint32_t count, struct uf_bkv *out)
{
	uint64_t off = 0;
	for (uint32_t i = 0; i < nkv; i++) {
		struct uf_rec_kv r;
		if (record_head(h, "kv", i, p, len, off, &r, sizeof(r)) < 0 ||
		    record_event(h, "kv", i, r.event, results, count) < 0)
			return -1;
		uint64_t body = off + sizeof(r);
		if (r.op != UF_KV_SET && r.op != UF_KV_INCR && r.op != UF_KV_DEL) {
			bad(h, "commit: kv record %u: unknown operation %u", i, r.op);
			return -1;
		}
		int set = r.op == UF_KV_SET;
		if (r.key_len == 0 || r.key_len > UF_KEY_MAX || r.val_len > UF_VALUE_MAX || (!set && r.val_len) ||
		    len - body < (uint64_t)r.key_len + 1 + (set ? r.val_len + 1 : 0)) {
			bad(h,
			    "commit: kv record %u at offset %lu: lengths (key %u, value %lu) are out of range or "
			    "run past the buffer",
			    i, (unsigned long)off, r.key_len, (unsigned long)r.val_len);
			return -1;
		}
		const char *k = (const char *)p + body;
		const char *v = k + r.key_len + 1;
		if (k[r.key_len] != '\0' || (set && v[r.val_len] != '\0') || !uf_kv_key_ok(k, r.key_len)) {
			bad(h, "commit: kv record %u: key is not 1..%u bytes of UTF-8 text or a terminator is missing",
			    i, UF_KEY_MAX);
			return -1;
		}
		out[i] = (struct uf_bkv){.op = r.op,
		                         .event = r.event,
		                         .key = k,
		                         .klen = r.key_len,
		                         .val = set ? v : NULL,
		                         .len = set ? r.val_len : 0,
		                         .num = r.num};
		off = record_next(off, sizeof(r) + r.key_len + 1 + (set ? r.val_len + 1 : 0), len);
	}
	return 0;
}

/* Check an output record's kind against its event: a reply (one per event)
 * or an MQTT publish of an acknowledged event, or the reason of a failed
 * one (one per event), or the delay of a deferred one (one per event);
 * seen[] has bit 1 for a reply, 2 for a reason, 4 for a deferral.
 * Returns 0, or -1 after ending the unit. */
static int out_kind_ok(struct hvt *h, uint32_t i, const struct uf_rec_out *r, const int32_t *results, uint32_t count,
                       uint8_t *seen)
{
	if (r->kind == UF_OUTPUT_DEFER) {
		if (r->event < count && results[r->event] == UF_RESULT_DEFERRED && !r->topic_len &&
		    r->delay_ms <= UF_DEFER_MAX_MS && !(seen[r->event] & 4)) {
			seen[r->event] |= 4;
			return 0;
		}
		bad(h,
		    "commit: output record %u: a deferral of event %u, which is not a deferred event of the batch, "
		    "or with a topic, a delay over %u ms, or a second one",
		    i, r->event, UF_DEFER_MAX_MS);
		return -1;
	}
	if (r->kind == UF_OUTPUT_REASON) {
		if (r->event < count && results[r->event] != 0 && results[r->event] != UF_RESULT_SKIPPED &&
		    results[r->event] != UF_RESULT_DEFERRED && !r->topic_len && !r->qos && !(seen[r->event] & 2)) {
			seen[r->event] |= 2;
			return 0;
		}
		bad(h,
		    "commit: output record %u: a reason for event %u, which is not a failed event of the batch, "
		    "or with a topic or qos, or a second one",
		    i, r->event);
		return -1;
	}
	if (record_event(h, "output", i, r->event, results, count) < 0)
		return -1;
	int mqtt = r->kind == UF_OUTPUT_MQTT;
	if ((r->kind != UF_OUTPUT_REPLY && !mqtt) || (mqtt && (r->topic_len == 0 || r->qos > 1)) ||
	    (!mqtt && (r->topic_len || r->qos || (seen[r->event] & 1)))) {
		bad(h,
		    "commit: output record %u: kind %u, topic length %u, qos %u: not a reply (one per event), "
		    "an MQTT publish (qos 0 or 1) or a failure's reason",
		    i, r->kind, r->topic_len, r->qos);
		return -1;
	}
	seen[r->event] |= !mqtt;
	return 0;
}

/* A reason record's text: 0, or -1 after ending the unit. */
static int reason_text_ok(struct hvt *h, uint32_t i, const char *d, uint64_t n)
{
	if (uf_reason_ok(d, n))
		return 0;
	bad(h, "commit: output record %u: a reason of %lu bytes is not 1..%u bytes of UTF-8 without control characters",
	    i, (unsigned long)n, UF_REASON_MAX);
	return -1;
}

/* Parse the staged outputs into `out` (*nout becomes their number) and the
 * failed events' reasons into `reasons`; returns 0, or -1 after ending the
 * unit. */
static int parse_outs(struct hvt *h, const uint8_t *p, uint64_t len, uint32_t *nout_p, const int32_t *results,
                      uint32_t count, struct uf_bout *out, const char **reasons)
{
	uint64_t off = 0;
	uint8_t seen[UF_BATCH_MAX] = {0};
	uint32_t nout = *nout_p, n = 0;
	for (uint32_t i = 0; i < nout; i++) {
		struct uf_rec_out r;
		if (record_head(h, "output", i, p, len, off, &r, sizeof(r)) < 0 ||
		    out_kind_ok(h, i, &r, results, count, seen) < 0)
			return -1;
		uint64_t body = off + sizeof(r);
		int mqtt = r.kind == UF_OUTPUT_MQTT;
		if (r.topic_len > UF_TOPIC_MAX || r.data_len > UF_OUTPUT_DATA_MAX ||
		    len - body < (uint64_t)r.topic_len + 1 + r.data_len + 1) {
			bad(h,
			    "commit: output record %u at offset %lu: lengths (topic %u, data %lu) are out of range or "
			    "run past the buffer",
			    i, (unsigned long)off, r.topic_len, (unsigned long)r.data_len);
			return -1;
		}
		const char *t = (const char *)p + body;
		const char *d = t + r.topic_len + 1;
		if (t[r.topic_len] != '\0' || d[r.data_len] != '\0' ||
		    (mqtt && !uf_topic_name_ok(t, r.topic_len, NULL))) {
			bad(h,
			    "commit: output record %u: the topic is not an MQTT topic name or a terminator is missing",
			    i);
			return -1;
		}
		off = record_next(off, sizeof(r) + r.topic_len + 1 + r.data_len + 1, len);
		if (r.kind == UF_OUTPUT_REASON || r.kind == UF_OUTPUT_DEFER) {
			if (reason_text_ok(h, i, d, r.data_len) < 0)
				return -1;
			reasons[r.event] = d;
			if (r.kind == UF_OUTPUT_REASON)
				continue;
		}
		out[n++] = (struct uf_bout){.kind = r.kind,
		                            .event = r.event,
		                            .topic = mqtt ? t : NULL,
		                            .topic_len = r.topic_len,
		                            .qos = r.kind == UF_OUTPUT_MQTT ? r.qos : 0,
		                            .delay_ms = r.kind == UF_OUTPUT_DEFER ? r.delay_ms : 0,
		                            .data = d,
		                            .len = r.data_len};
	}
	*nout_p = n;
	return 0;
}

/* --publish: may the unit publish on topic t (a valid topic name)? */
static int topic_allowed(const struct hvt *h, const char *t, size_t n)
{
	if (h->opt.publish_any)
		return 1;
	for (int i = 0; i < h->opt.npublish; i++)
		if (uf_topic_match(h->opt.publish[i], strlen(h->opt.publish[i]), t, n))
			return 1;
	return 0;
}

/* One key=value line per refused publish, the first 16 of a unit; the
 * topic's first 200 bytes, control bytes and quotes shown as '?' (it stays
 * one line). */
static void log_topic_denied(struct hvt *h, const char *t, size_t n)
{
	if (h->topics_denied >= 16)
		return;
	char shown[201];
	size_t k = n < 200 ? n : 200;
	for (size_t i = 0; i < k; i++)
		shown[i] = (unsigned char)t[i] < 0x20 || t[i] == 0x7f || t[i] == '"' ? '?' : t[i];
	shown[k] = '\0';
	hvt_printf(2,
	           "uf-hvt: unit=%s workflow=%s step=%s topic=\"%s\" error=publish_not_allowed allowed=\"%.400s\"%s\n",
	           h->opt.unit ? h->opt.unit : "-", h->opt.workflow ? h->opt.workflow : "-",
	           h->opt.step ? h->opt.step : "-", shown, h->opt.publish_text ? h->opt.publish_text : "none",
	           ++h->topics_denied == 16 ? " (further refusals of this unit are not logged)" : "");
}

void hvt_hc_topic(struct hvt *h, void *arg)
{
	struct uf_hc_topic *a = arg;
	if (a->topic_len == 0 || a->topic_len > UF_TOPIC_MAX) {
		bad(h, "topic: length %u is not in 1..%u", a->topic_len, UF_TOPIC_MAX);
		return;
	}
	const char *g = hvt_guest_ptr(h, a->topic, a->topic_len, 0);
	if (!g) {
		bad(h, "topic: [0x%lx, +%u) lies outside guest memory", (unsigned long)a->topic, a->topic_len);
		return;
	}
	char *t = malloc(a->topic_len); /* copy, then check */
	if (!t) {
		hvt_end(h, UF_END_INTERNAL, "topic: out of host memory");
		return;
	}
	memcpy(t, g, a->topic_len);
	if (!uf_topic_name_ok(t, a->topic_len, NULL)) {
		a->ret = -EINVAL;
	} else if (!topic_allowed(h, t, a->topic_len)) {
		log_topic_denied(h, t, a->topic_len);
		a->ret = -EPERM;
	} else {
		a->ret = 0;
	}
	free(t);
}

static int push_allowed(const struct hvt *h, const char *q, size_t n)
{
	if (!h->opt.push_allow)
		return 1;
	for (int i = 0; i < h->opt.npush_allow; i++)
		if (strlen(h->opt.push_allow[i]) == n && memcmp(h->opt.push_allow[i], q, n) == 0)
			return 1;
	return 0;
}

/* Log a refused queue once per unit (one key=value line). */
static void log_denied(struct hvt *h, const struct uf_bpush *p)
{
	size_t n = sizeof(h->denied_logged) / sizeof(h->denied_logged[0]), i;
	for (i = 0; i < n && h->denied_logged[i][0]; i++)
		if (strlen(h->denied_logged[i]) == p->queue_len &&
		    memcmp(h->denied_logged[i], p->queue, p->queue_len) == 0)
			return;
	if (i < n) {
		memcpy(h->denied_logged[i], p->queue, p->queue_len);
		h->denied_logged[i][p->queue_len] = '\0';
	}
	hvt_printf(2, "uf-hvt: unit=%s workflow=%s step=%s queue=%.*s error=push_not_granted allowed=%s\n",
	           h->opt.unit ? h->opt.unit : "-", h->opt.workflow ? h->opt.workflow : "-",
	           h->opt.step ? h->opt.step : "-", (int)p->queue_len, p->queue, h->opt.push_allow_text);
}

static void drop_failed(const int32_t *results, struct uf_bpush *pushes, uint32_t *npush, struct uf_bkv *kvs,
                        uint32_t *nkv, struct uf_bout *outs, uint32_t *nout);

/*
 * Fail every acknowledged event that pushed to a queue outside the grants,
 * then drop the pushes and KV writes of failed events; `why` holds the
 * reasons (one buffer per event, allocated on the first refusal).
 */
static void enforce_grants(struct hvt *h, int32_t *results, const char **reasons, char (**why)[320],
                           struct uf_bpush *pushes, uint32_t *npush, struct uf_bkv *kvs, uint32_t *nkv,
                           struct uf_bout *outs, uint32_t *nout)
{
	int refused = 0;
	for (uint32_t i = 0; i < *nout; i++) {
		struct uf_bout *p = &outs[i];
		if (p->kind != UF_OUTPUT_MQTT || results[p->event] != 0 || topic_allowed(h, p->topic, p->topic_len))
			continue;
		if (!*why && !(*why = calloc(UF_BATCH_MAX, sizeof(**why)))) {
			hvt_end(h, UF_END_INTERNAL, "commit: out of host memory");
			return;
		}
		snprintf((*why)[p->event], sizeof(**why), "publish to topic '%.*s' not allowed (publish: %s)",
		         (int)(p->topic_len > 120 ? 120 : p->topic_len), p->topic,
		         h->opt.publish_text ? h->opt.publish_text : "none");
		results[p->event] = 1;
		reasons[p->event] = (*why)[p->event];
		log_topic_denied(h, p->topic, p->topic_len);
		refused = 1;
	}
	for (uint32_t i = 0; i < *npush; i++) {
		struct uf_bpush *p = &pushes[i];
		if (results[p->event] != 0 || push_allowed(h, p->queue, p->queue_len))
			continue;
		if (!*why && !(*why = calloc(UF_BATCH_MAX, sizeof(**why)))) {
			hvt_end(h, UF_END_INTERNAL, "commit: out of host memory");
			return;
		}
		char *w = (*why)[p->event];
		int o = snprintf(w, sizeof(**why), "push to queue '%.*s' not granted (allowed: ", (int)p->queue_len,
		                 p->queue);
		if (h->opt.npush_allow == 0 && o < (int)sizeof(**why))
			o += snprintf(w + o, sizeof(**why) - (size_t)o, "none");
		for (int k = 0; k < h->opt.npush_allow && o < (int)sizeof(**why); k++)
			o += snprintf(w + o, sizeof(**why) - (size_t)o, "%s%s", k ? ", " : "", h->opt.push_allow[k]);
		if (o < (int)sizeof(**why))
			snprintf(w + o, sizeof(**why) - (size_t)o, ")");
		results[p->event] = 1;
		reasons[p->event] = w;
		log_denied(h, p);
		refused = 1;
	}
	if (refused)
		drop_failed(results, pushes, npush, kvs, nkv, outs, nout);
}

/* Remember event e's failure reason (the first wins); 0, or -1 after
 * ending the unit (no host memory for the reasons). */
static int refuse(struct hvt *h, uint32_t e, int32_t *results, const char **reasons, char (**why)[320])
{
	if (!*why && !(*why = calloc(UF_BATCH_MAX, sizeof(**why)))) {
		hvt_end(h, UF_END_INTERNAL, "commit: out of host memory");
		return -1;
	}
	results[e] = 1;
	reasons[e] = (*why)[e];
	return 0;
}

/* One line per refusal, the first 16 of a unit. */
static void log_limit(struct hvt *h, const char *reason)
{
	if (h->limits_logged >= 16)
		return;
	hvt_printf(2, "uf-hvt: unit=%s workflow=%s step=%s error=limit_exceeded reason=\"%s\"%s\n",
	           h->opt.unit ? h->opt.unit : "-", h->opt.workflow ? h->opt.workflow : "-",
	           h->opt.step ? h->opt.step : "-", reason,
	           ++h->limits_logged == 16 ? " (further refusals of this unit are not logged)" : "");
}

/* Fail acknowledged event e for limit `which` (event_limits.h), if it is not failed yet. */
static int over(struct hvt *h, uint32_t e, enum uf_limit which, uint64_t got, int published, const char *name, size_t n,
                int32_t *results, const char **reasons, char (**why)[320])
{
	if (results[e] != 0)
		return 0;
	if (refuse(h, e, results, reasons, why) < 0)
		return -1;
	results[e] = UF_LIMIT_RESULT; /* for good: a retry stages the same writes */
	uf_limit_reason((*why)[e], sizeof(**why), &h->opt.limits, which, got, published, name, n);
	log_limit(h, (*why)[e]);
	return 1;
}

/*
 * The limits of what one event may write (common/event_limits.h), checked on the
 * staged records whatever the guest's runtime checked already: an event
 * with a value or an event larger than allowed, more writes (pushes, MQTT
 * publishes, KV writes) or more bytes in all is failed with a reason that
 * names the limit, and its records are dropped.
 */
static void enforce_limits(struct hvt *h, int32_t *results, const char **reasons, char (**why)[320], uint32_t count,
                           struct uf_bpush *pushes, uint32_t *npush, struct uf_bkv *kvs, uint32_t *nkv,
                           struct uf_bout *outs, uint32_t *nout)
{
	const uint64_t *lim = h->opt.limits.v;
	uint64_t writes[UF_BATCH_MAX] = {0}, bytes[UF_BATCH_MAX] = {0};
	int refused = 0, r = 0;
	for (uint32_t i = 0; r >= 0 && i < *npush; i++) {
		const struct uf_bpush *p = &pushes[i];
		writes[p->event]++;
		bytes[p->event] += p->queue_len + p->len;
		if (p->len > lim[UF_LIM_EVENT_BYTES])
			refused |= r = over(h, p->event, UF_LIM_EVENT_BYTES, p->len, 0, p->queue, p->queue_len, results,
			                    reasons, why);
	}
	for (uint32_t i = 0; r >= 0 && i < *nout; i++) {
		const struct uf_bout *o = &outs[i];
		if (o->kind != UF_OUTPUT_MQTT)
			continue;
		writes[o->event]++;
		bytes[o->event] += o->topic_len + o->len;
		if (o->len > lim[UF_LIM_EVENT_BYTES])
			refused |= r = over(h, o->event, UF_LIM_EVENT_BYTES, o->len, 1, o->topic, o->topic_len, results,
			                    reasons, why);
	}
	for (uint32_t i = 0; r >= 0 && i < *nkv; i++) {
		const struct uf_bkv *k = &kvs[i];
		writes[k->event]++;
		bytes[k->event] += k->klen + k->len;
		if (k->op == UF_KV_SET && k->len > lim[UF_LIM_VALUE_BYTES])
			refused |= r =
			    over(h, k->event, UF_LIM_VALUE_BYTES, k->len, 0, k->key, k->klen, results, reasons, why);
	}
	for (uint32_t e = 0; r >= 0 && e < count; e++) {
		if (writes[e] > lim[UF_LIM_WRITES])
			refused |= r = over(h, e, UF_LIM_WRITES, writes[e], 0, NULL, 0, results, reasons, why);
		else if (bytes[e] > lim[UF_LIM_COMMIT_BYTES])
			refused |= r = over(h, e, UF_LIM_COMMIT_BYTES, bytes[e], 0, NULL, 0, results, reasons, why);
	}
	if (r >= 0 && refused)
		drop_failed(results, pushes, npush, kvs, nkv, outs, nout);
}

/* Does a KV write of `len` bytes (op) grow a key now `stored` bytes long? */
static int kv_grows(uint32_t op, size_t len, uint64_t stored)
{
	return (op == UF_KV_SET && len > stored) || (op == UF_KV_INCR && stored == 0);
}

/* One line per quota deferral, the first 16 of a unit. */
static void log_quota(struct hvt *h, const char *what, const char *reason)
{
	if (h->quota_logged >= 16)
		return;
	hvt_printf(2, "uf-hvt: unit=%s workflow=%s step=%s error=over_quota refused=\"%s\" reason=\"%s\"%s\n",
	           h->opt.unit ? h->opt.unit : "-", h->opt.workflow ? h->opt.workflow : "-",
	           h->opt.step ? h->opt.step : "-", what, reason,
	           ++h->quota_logged == 16 ? " (further refusals of this unit are not logged)" : "");
}

/* Which acknowledged events grow the workflow's storage (grows[e], with
 * what[e] saying how): 0, or -1 if the stored lengths could not be read. */
static int growing(struct uf_backend *b, const int32_t *results, const struct uf_bpush *pushes, uint32_t npush,
                   const struct uf_bkv *kvs, uint32_t nkv, int *grows, const char **what)
{
	for (uint32_t i = 0; i < npush; i++)
		if (results[pushes[i].event] == 0 && !grows[pushes[i].event])
			grows[pushes[i].event] = 1, what[pushes[i].event] = "push";
	if (!nkv || !b->kv_lens)
		return 0;
	uint64_t *lens = calloc(nkv, sizeof(*lens));
	if (!lens || b->kv_lens(b, kvs, nkv, lens) < 0) {
		free(lens);
		return -1;
	}
	for (uint32_t i = 0; i < nkv; i++)
		if (results[kvs[i].event] == 0 && !grows[kvs[i].event] && kv_grows(kvs[i].op, kvs[i].len, lens[i]))
			grows[kvs[i].event] = 1, what[kvs[i].event] = kvs[i].op == UF_KV_SET ? "kv set" : "kv incr";
	free(lens);
	return 0;
}

static void drop_failed(const int32_t *results, struct uf_bpush *pushes, uint32_t *npush, struct uf_bkv *kvs,
                        uint32_t *nkv, struct uf_bout *outs, uint32_t *nout);

/* Over the storage quota: defer the acknowledged events that would grow
 * it (see the top of this file); outs has room for one more output per
 * event (the deferral's). */
static void enforce_quota(struct hvt *h, int32_t *results, const char **reasons, uint32_t count,
                          struct uf_bpush *pushes, uint32_t *npush, struct uf_bkv *kvs, uint32_t *nkv,
                          struct uf_bout *outs, uint32_t *nout)
{
	struct uf_backend *b = h->backend;
	const char *why, *what[UF_BATCH_MAX] = {0};
	uint32_t retry_ms;
	int grows[UF_BATCH_MAX] = {0}, deferred = 0, give_up = 0;
	if (!b->over_quota || !b->over_quota(b, &why, &retry_ms, &give_up))
		return;
	if (growing(b, results, pushes, *npush, kvs, *nkv, grows, what) < 0)
		return; /* the backend failed: its commit fails too */
	for (uint32_t e = 0; e < count; e++) {
		if (!grows[e] || results[e] != 0)
			continue;
		results[e] = give_up ? UF_LIMIT_RESULT : UF_RESULT_DEFERRED; /* over for quota_give_up_s: for good */
		reasons[e] = why;
		log_quota(h, what[e], why);
		deferred = 1;
	}
	if (!deferred)
		return;
	drop_failed(results, pushes, npush, kvs, nkv, outs, nout);
	for (uint32_t e = 0; e < count; e++)
		if (grows[e] && results[e] == UF_RESULT_DEFERRED)
			outs[(*nout)++] =
			    (struct uf_bout){.kind = UF_OUTPUT_DEFER, .event = e, .delay_ms = retry_ms, .quota = 1};
}

/* Over the storage quota, would this KV write outside an event grow it? */
static int kv_refused(struct uf_backend *b, uint32_t op, const char *key, size_t klen, size_t len)
{
	const char *why;
	uint32_t retry_ms;
	uint64_t stored = 0;
	int give_up;
	struct uf_bkv k = {.op = op, .key = key, .klen = klen, .len = len};
	if (!b->over_quota || !b->over_quota(b, &why, &retry_ms, &give_up) || !b->kv_lens)
		return 0;
	return b->kv_lens(b, &k, 1, &stored) == 0 && kv_grows(op, len, stored);
}

/* Drop the pushes, KV writes and outputs of failed and deferred events
 * (the deferral of a deferred event stays: it holds the delay). */
static void drop_failed(const int32_t *results, struct uf_bpush *pushes, uint32_t *npush, struct uf_bkv *kvs,
                        uint32_t *nkv, struct uf_bout *outs, uint32_t *nout)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < *npush; i++)
		if (results[pushes[i].event] == 0)
			pushes[n++] = pushes[i];
	*npush = n;
	n = 0;
	for (uint32_t i = 0; i < *nkv; i++)
		if (results[kvs[i].event] == 0)
			kvs[n++] = kvs[i];
	*nkv = n;
	n = 0;
	for (uint32_t i = 0; i < *nout; i++)
		if (results[outs[i].event] == 0 ||
		    (outs[i].kind == UF_OUTPUT_DEFER && results[outs[i].event] == UF_RESULT_DEFERRED))
			outs[n++] = outs[i];
	*nout = n;
}

void hvt_hc_commit(struct hvt *h, void *arg)
{
	struct uf_hc_commit *a = arg;
	if (a->count != h->inflight) {
		bad(h, "commit: count %u but %u events are in flight", a->count, h->inflight);
		return;
	}
	if (a->npush > a->pushes_len / sizeof(struct uf_rec_push)) {
		bad(h, "commit: %u push records cannot fit in %lu bytes", a->npush, (unsigned long)a->pushes_len);
		return;
	}
	if (a->nkv > a->kv_len / sizeof(struct uf_rec_kv)) {
		bad(h, "commit: %u kv records cannot fit in %lu bytes", a->nkv, (unsigned long)a->kv_len);
		return;
	}
	if (a->nout > a->outs_len / sizeof(struct uf_rec_out)) {
		bad(h, "commit: %u output records cannot fit in %lu bytes", a->nout, (unsigned long)a->outs_len);
		return;
	}
	const void *res_g = hvt_guest_ptr(h, a->results, (uint64_t)a->count * sizeof(int32_t), 0);
	const uint8_t *push_g = a->pushes_len ? hvt_guest_ptr(h, a->pushes, a->pushes_len, 0) : NULL;
	const uint8_t *kv_g = a->kv_len ? hvt_guest_ptr(h, a->kv, a->kv_len, 0) : NULL;
	const uint8_t *out_g = a->outs_len ? hvt_guest_ptr(h, a->outs, a->outs_len, 0) : NULL;
	if ((a->count && !res_g) || (a->pushes_len && !push_g) || (a->kv_len && !kv_g) || (a->outs_len && !out_g)) {
		bad(h, "commit: %s buffer lies outside guest memory",
		    a->count && !res_g         ? "results"
		    : a->pushes_len && !push_g ? "pushes"
		    : a->kv_len && !kv_g       ? "kv"
		                               : "outputs");
		return;
	}
	int32_t results[UF_BATCH_MAX];
	const char *reasons[UF_BATCH_MAX] = {0};
	char(*why)[320] = NULL;
	memcpy(results, res_g ? res_g : (const void *)results, (size_t)a->count * sizeof(int32_t));
	/* copy, then check: the records are copied out of guest memory once, and
	 * only the copies are parsed, checked against the grants and written */
	uint8_t *push_c = a->pushes_len ? malloc(a->pushes_len) : NULL;
	uint8_t *kv_c = a->kv_len ? malloc(a->kv_len) : NULL;
	uint8_t *out_c = a->outs_len ? malloc(a->outs_len) : NULL;
	struct uf_bpush *pushes = a->npush ? calloc(a->npush, sizeof(*pushes)) : NULL;
	struct uf_bkv *kvs = a->nkv ? calloc(a->nkv, sizeof(*kvs)) : NULL;
	/* room for a deferral per event besides the guest's outputs (enforce_quota) */
	struct uf_bout *outs = calloc((size_t)a->nout + a->count + 1, sizeof(*outs));
	if ((a->npush && !pushes) || (a->nkv && !kvs) || !outs || (a->pushes_len && !push_c) || (a->kv_len && !kv_c) ||
	    (a->outs_len && !out_c)) {
		hvt_end(h, UF_END_INTERNAL, "commit: out of host memory for %u pushes, %u kv writes and %u outputs",
		        a->npush, a->nkv, a->nout);
		goto out;
	}
	if (push_c)
		memcpy(push_c, push_g, a->pushes_len);
	if (kv_c)
		memcpy(kv_c, kv_g, a->kv_len);
	if (out_c)
		memcpy(out_c, out_g, a->outs_len);
	uint32_t npush = a->npush, nkv = a->nkv, nout = a->nout;
	if (parse_pushes(h, push_c, a->pushes_len, npush, results, a->count, pushes) < 0 ||
	    parse_kvs(h, kv_c, a->kv_len, nkv, results, a->count, kvs) < 0 ||
	    parse_outs(h, out_c, a->outs_len, &nout, results, a->count, outs, reasons) < 0)
		goto out;
	enforce_grants(h, results, reasons, &why, pushes, &npush, kvs, &nkv, outs, &nout);
	if (!h->ended)
		enforce_limits(h, results, reasons, &why, a->count, pushes, &npush, kvs, &nkv, outs, &nout);
	if (!h->ended)
		enforce_quota(h, results, reasons, a->count, pushes, &npush, kvs, &nkv, outs, &nout);
	if (h->ended)
		goto out;
	a->ret = h->backend->commit(h->backend, results, reasons, a->count, pushes, npush, kvs, nkv, outs, nout);
	h->inflight = 0;
out:
	free(pushes);
	free(kvs);
	free(outs);
	free(push_c);
	free(kv_c);
	free(out_c);
	free(why);
}

void hvt_dataplane_settle(struct hvt *h)
{
	struct uf_backend *b = h->backend;
	if (!h->inflight || !b->settle_on_end || b->failed)
		return;
	int32_t results[UF_BATCH_MAX];
	const char *reasons[UF_BATCH_MAX] = {0};
	for (uint32_t i = 0; i < h->inflight; i++)
		results[i] = UF_RESULT_SKIPPED;
	switch (h->end_code) {
	case UF_END_ERROR:
	case UF_END_FAULT:
	case UF_END_TIMEOUT:
	case UF_END_OOM:
	case UF_END_BAD_HYPERCALL: {
		/* the guest's doing: blame the event it was handling */
		uint64_t p = ((const volatile struct uf_bootinfo *)(h->mem + UF_BOOTINFO_ADDR))->progress;
		uint64_t started = p - h->pop_progress;
		uint32_t c = started == 0 ? 0 : started > h->inflight ? h->inflight - 1 : (uint32_t)(started - 1);
		results[c] = 1;
		reasons[c] = h->end_reason;
		break;
	}
	default: /* a clean exit without commit, or the host's failure: hand all back */
		break;
	}
	if (b->commit(b, results, reasons, h->inflight, NULL, 0, NULL, 0, NULL, 0) < 0)
		hvt_printf(2, "uf-hvt: %s: the batch in flight could not be settled (%s); its events stay pending\n",
		           h->opt.image, b->failed ? b->failed : "backend error");
	h->inflight = 0;
}

void hvt_hc_kv(struct hvt *h, void *arg)
{
	struct uf_hc_kv *a = arg;
	struct uf_backend *b = h->backend;
	if (a->key_len == 0 || a->key_len > UF_KEY_MAX) {
		bad(h, "kv: key length %u is not in 1..%u", a->key_len, UF_KEY_MAX);
		return;
	}
	const char *key_g = hvt_guest_ptr(h, a->key, a->key_len, 0);
	if (!key_g) {
		bad(h, "kv: key [0x%lx, +%u) lies outside guest memory", (unsigned long)a->key, a->key_len);
		return;
	}
	char key[UF_KEY_MAX]; /* copy, then check */
	memcpy(key, key_g, a->key_len);
	if (!uf_kv_key_ok(key, a->key_len)) {
		a->ret = -EINVAL; /* keys are text: UTF-8 without NUL */
		return;
	}
	switch (a->op) {
	case UF_KV_GET: {
		const char *val;
		size_t len;
		void *out = a->val_len ? hvt_guest_ptr(h, a->val, a->val_len, 1) : NULL;
		if (a->val_len && !out) {
			bad(h, "kv get: buffer [0x%lx, +%lu) is not writable guest memory", (unsigned long)a->val,
			    (unsigned long)a->val_len);
			return;
		}
		a->ret = b->kv_get(b, key, a->key_len, &val, &len);
		if (a->ret == 0) {
			if (out)
				memcpy(out, val, len < a->val_len ? len : a->val_len);
			a->val_len = len;
		}
		return;
	}
	case UF_KV_SET: {
		if (a->val_len > UF_VALUE_MAX) {
			bad(h, "kv set: value length %lu exceeds %u", (unsigned long)a->val_len, UF_VALUE_MAX);
			return;
		}
		if (a->val_len > h->opt.limits.v[UF_LIM_VALUE_BYTES]) { /* limits.value_bytes: no event to fail */
			a->ret = -UF_LIMIT_ERRNO_VALUE;
			return;
		}
		const char *val_g = a->val_len ? hvt_guest_ptr(h, a->val, a->val_len, 0) : "";
		if (!val_g) {
			bad(h, "kv set: value [0x%lx, +%lu) lies outside guest memory", (unsigned long)a->val,
			    (unsigned long)a->val_len);
			return;
		}
		if (kv_refused(b, UF_KV_SET, key, a->key_len, a->val_len)) { /* over the storage quota */
			a->ret = -EDQUOT;
			return;
		}
		char *val = malloc(a->val_len + 1);
		if (!val) {
			hvt_end(h, UF_END_INTERNAL, "kv set: out of host memory for a value of %lu bytes",
			        (unsigned long)a->val_len);
			return;
		}
		memcpy(val, val_g, a->val_len);
		a->ret = b->kv_set(b, key, a->key_len, val, a->val_len);
		free(val);
		return;
	}
	case UF_KV_INCR:
		if (kv_refused(b, UF_KV_INCR, key, a->key_len, 0)) {
			a->ret = -EDQUOT;
			return;
		}
		a->ret = b->kv_incr(b, key, a->key_len, a->num, &a->num);
		return;
	case UF_KV_DEL:
		a->ret = b->kv_del(b, key, a->key_len);
		return;
	default:
		bad(h, "kv: unknown operation %u", a->op);
	}
}
