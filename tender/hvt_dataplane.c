/*
 * hvt_dataplane.c - the data-plane hypercalls: pop, commit and kv.
 *
 * These translate between the guest's records (uf_abi.h) and the backend
 * (backend.h).  Pop writes whole event records into the guest's buffer and
 * never splits one: an event that does not fit is left for the next pop,
 * and if it is the first the guest is told the size it needs.  Commit
 * parses the staged push records strictly (bounds, NULs, queue names,
 * event indexes) before anything reaches the backend, so a corrupt staging
 * buffer ends the unit instead of writing garbage to a queue.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvt.h"

#define bad(h, ...) hvt_end((h), UF_END_BAD_HYPERCALL, "bad hypercall: " __VA_ARGS__)

static uint64_t align8(uint64_t n)
{
	return (n + UF_REC_ALIGN - 1) & ~(uint64_t)(UF_REC_ALIGN - 1);
}

static uint64_t event_rec_size(const struct uf_bevent *ev)
{
	return align8(sizeof(struct uf_rec_event) + strlen(ev->id) + 1 + strlen(ev->queue) + 1 + ev->len + 1);
}

static void put_event(uint8_t *dst, const struct uf_bevent *ev)
{
	struct uf_rec_event r = {
	    .id_len = (uint32_t)strlen(ev->id),
	    .queue_len = (uint32_t)strlen(ev->queue),
	    .data_len = ev->len,
	    .time_ms = ev->time_ms,
	};
	memcpy(dst, &r, sizeof(r));
	uint8_t *p = dst + sizeof(r);
	memcpy(p, ev->id, r.id_len + 1);
	p += r.id_len + 1;
	memcpy(p, ev->queue, r.queue_len + 1);
	p += r.queue_len + 1;
	memcpy(p, ev->data, ev->len);
	p[ev->len] = '\0';
}

void hvt_hc_pop(struct hvt *h, void *arg)
{
	struct uf_hc_pop *a = arg;
	if (!h->t_ready_ns)
		h->t_ready_ns = hvt_now_ns();
	if (a->max_events == 0 || a->max_events > UF_BATCH_MAX) {
		bad(h, "pop: max_events %u is not in 1..%u", a->max_events, UF_BATCH_MAX);
		return;
	}
	if (h->inflight) {
		bad(h, "pop: the previous batch of %u events was not committed", h->inflight);
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
	h->batch_events = a->count;
	h->batch_ticks = 0;
	if (a->count == 0 && a->status == UF_POP_OK)
		a->status = UF_POP_DRAINED;
}

/* Parse the staged pushes into `out`; returns 0, or -1 after ending the unit. */
static int parse_pushes(struct hvt *h, const uint8_t *p, uint64_t len, uint32_t npush, const int32_t *results,
                        uint32_t count, struct uf_bpush *out)
{
	uint64_t off = 0;
	for (uint32_t i = 0; i < npush; i++) {
		struct uf_rec_push r;
		if (len - off < sizeof(r)) {
			bad(h, "commit: push record %u at offset %lu runs past the staged %lu bytes", i,
			    (unsigned long)off, (unsigned long)len);
			return -1;
		}
		memcpy(&r, p + off, sizeof(r));
		uint64_t body = off + sizeof(r);
		if (r.event >= count || results[r.event] != 0) {
			bad(h, "commit: push record %u names event %u, which is %s", i, r.event,
			    r.event >= count ? "not in the batch" : "not acknowledged");
			return -1;
		}
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
		off += align8(sizeof(r) + r.queue_len + 1 + r.data_len + 1);
		if (off > len)
			off = len;
	}
	return 0;
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
	const void *res_g = hvt_guest_ptr(h, a->results, (uint64_t)a->count * sizeof(int32_t), 0);
	const uint8_t *push_g = a->pushes_len ? hvt_guest_ptr(h, a->pushes, a->pushes_len, 0) : NULL;
	if ((a->count && !res_g) || (a->pushes_len && !push_g)) {
		bad(h, "commit: %s buffer lies outside guest memory", res_g || !a->count ? "pushes" : "results");
		return;
	}
	int32_t results[UF_BATCH_MAX];
	memcpy(results, res_g ? res_g : (const void *)results, (size_t)a->count * sizeof(int32_t));
	struct uf_bpush *pushes = a->npush ? calloc(a->npush, sizeof(*pushes)) : NULL;
	if (a->npush && !pushes) {
		hvt_end(h, UF_END_INTERNAL, "commit: out of host memory for %u pushes", a->npush);
		return;
	}
	if (parse_pushes(h, push_g, a->pushes_len, a->npush, results, a->count, pushes) == 0) {
		a->ret = h->backend->commit(h->backend, results, a->count, pushes, a->npush);
		h->inflight = 0;
	}
	free(pushes);
}

void hvt_hc_kv(struct hvt *h, void *arg)
{
	struct uf_hc_kv *a = arg;
	struct uf_backend *b = h->backend;
	if (a->key_len == 0 || a->key_len > UF_KEY_MAX) {
		bad(h, "kv: key length %u is not in 1..%u", a->key_len, UF_KEY_MAX);
		return;
	}
	const char *key = hvt_guest_ptr(h, a->key, a->key_len, 0);
	if (!key) {
		bad(h, "kv: key [0x%lx, +%u) lies outside guest memory", (unsigned long)a->key, a->key_len);
		return;
	}
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
		const char *val = a->val_len ? hvt_guest_ptr(h, a->val, a->val_len, 0) : "";
		if (!val) {
			bad(h, "kv set: value [0x%lx, +%lu) lies outside guest memory", (unsigned long)a->val,
			    (unsigned long)a->val_len);
			return;
		}
		a->ret = b->kv_set(b, key, a->key_len, val, a->val_len);
		return;
	}
	case UF_KV_INCR:
		a->ret = b->kv_incr(b, key, a->key_len, a->num, &a->num);
		return;
	case UF_KV_DEL:
		a->ret = b->kv_del(b, key, a->key_len);
		return;
	default:
		bad(h, "kv: unknown operation %u", a->op);
	}
}
