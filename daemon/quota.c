/*
 * quota.c - each workflow's stored bytes against its storage quota, and
 * Redis's refusals when it is full (docs/architecture.md "Storage quotas").
 *
 * Measuring: every quota_interval_ms one pass walks the keyspace with SCAN
 * MATCH uf:* COUNT QUOTA_SCAN_COUNT and asks MEMORY USAGE of each key that
 * is a workflow's: its KV keys uf:kv:<wf>:*, its queues uf:q:<wf>:*, their
 * dead letters uf:dlq:<wf>:* and its MQTT outbox.  Everything is sent
 * without waiting (store_send), one SCAN batch at a time, so Redis never
 * works for long on our behalf; a pass whose reply is lost is dropped
 * whole and the next one starts over.  A pass sums by workflow name and
 * deploy (serial): a workflow replaced or undeployed meanwhile gets
 * nothing from it.
 *
 * Over its quota (stored bytes > quota: the manifest's storage_quota, else
 * the node's, never more than Redis's maxmemory) a workflow takes no new
 * events: the HTTP ingress and the control API answer 507 (quota_refuses),
 * its MQTT session stops reading so QoS 1 messages wait in the broker
 * (mqtt_sync), and its units are stopped and none started (the scheduler
 * shows why), so what they would write waits in their queues instead:
 * nothing is lost and no attempt is counted.  The first pass that finds it
 * at or under its quota again lifts all of that.  Each change is logged
 * (what=quota).
 *
 * Redis full: redis-server runs with maxmemory and noeviction, so a write
 * past it is refused ("OOM ...") and nothing is evicted.  Every refusal
 * the daemon sees is logged with the workflow and the operation and
 * counted (quota_redis_refused: describe's storage.redis_refusals,
 * unifaas_redis_refusals_total); a tender's refused commit ends its unit
 * with UF_REASON_REDIS_FULL (delivery.h), counted the same by units.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "metrics.h"
#include "mqtt.h"
#include "quota.h"
#include "store.h"
#include "unifaasd.h"

#define QUOTA_SCAN_COUNT 200 /* keys one SCAN looks at: a short command */

/* One workflow's sum in a pass. */
struct tally {
	char wf[UF_NAME_BUF];
	uint64_t serial;
	uint64_t bytes;
};

struct quota_pass {
	struct daemon *d;
	struct tally *t;
	size_t n;
	char cursor[32];
	int calls;  /* replies still to come for this batch */
	int failed; /* a reply was lost: the pass is dropped */
};

/* What MEMORY USAGE of one key adds to. */
struct usage_ask {
	struct quota_pass *p;
	size_t tally;
};

uint64_t quota_of(const struct workflow *w)
{
	return uf_config_storage_quota(&w->d->cfg, w->m->storage_quota);
}

int quota_refuses(const struct workflow *w, char *msg, size_t cap)
{
	if (!w->over_quota)
		return 0;
	snprintf(msg, cap,
	         "workflow '%s' is over its storage quota: %llu of %llu bytes stored (storage_quota); it takes no "
	         "events until it is under: free some ('unifaas kv del', 'unifaas dlq purge') or raise "
	         "storage_quota in its manifest ('unifaas deploy --replace')",
	         w->m->name, (unsigned long long)w->stored_bytes, (unsigned long long)quota_of(w));
	return 1;
}

int quota_redis_refused(struct daemon *d, const char *wf, const char *op, const redisReply *r)
{
	if (!r || r->type != REDIS_REPLY_ERROR || !uf_redis_full(r->str))
		return 0;
	quota_count_refusal(d, wf, op, r->str);
	return 1;
}

/* One line per workflow and second at most, with the count so far: a
 * full Redis refuses every retry too. */
void quota_count_refusal(struct daemon *d, const char *wf, const char *op, const char *cause)
{
	static uint64_t others, others_logged_ms; /* refusals for no known workflow */
	struct workflow *w = wf ? registry_find(d, wf) : NULL;
	const char *labels[] = {wf ? wf : "-", op};
	uint64_t *logged = w ? &w->refusal_logged_ms : &others_logged_ms, now = now_ms();
	uint64_t n = w ? ++w->redis_refusals : ++others;
	metric_add(M_REDIS_REFUSALS, labels, 1);
	if (*logged && now - *logged < 1000)
		return;
	*logged = now;
	dlog("warn", "what=redis-full workflow=%s op=%s refusals=%llu cause=%s effect=%s", wf ? wf : "-", op,
	     (unsigned long long)n, cause, "the write was refused, nothing evicted (maxmemory, noeviction)");
}

/* ---- over and under ---- */

static void went_over(struct workflow *w, uint64_t quota)
{
	w->over_quota = 1;
	dlog("warn", "what=quota workflow=%s stored=%llu quota=%llu action=%s", w->m->name,
	     (unsigned long long)w->stored_bytes, (unsigned long long)quota,
	     "ingress refused (507), mqtt paused, units stopped");
	for (size_t i = 0; i < w->m->nfunctions; i++)
		units_stop_step(&w->steps[i], STOP_SCALE);
	mqtt_sync(w->d->mqtt, w->m->name);
}

static void went_under(struct workflow *w, uint64_t quota)
{
	w->over_quota = 0;
	dlog("info", "what=quota workflow=%s stored=%llu quota=%llu action=resume", w->m->name,
	     (unsigned long long)w->stored_bytes, (unsigned long long)quota);
	mqtt_sync(w->d->mqtt, w->m->name);
	scheduler_check_now(w->d);
}

static void pass_apply(struct quota_pass *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct workflow *w = registry_find(p->d, p->t[i].wf);
		if (!w || w->serial != p->t[i].serial)
			continue;
		uint64_t quota = quota_of(w);
		w->stored_bytes = p->t[i].bytes;
		w->stored_ms = wall_ms();
		if (!w->over_quota && w->stored_bytes > quota)
			went_over(w, quota);
		else if (w->over_quota && w->stored_bytes <= quota)
			went_under(w, quota);
	}
}

/* ---- a pass ---- */

static void pass_end(struct quota_pass *p)
{
	if (!p->failed)
		pass_apply(p);
	if (p->d->quota_pass == p)
		p->d->quota_pass = NULL;
	free(p->t);
	free(p);
}

static void scan_next(struct quota_pass *p);

static void batch_release(struct quota_pass *p)
{
	if (--p->calls > 0)
		return;
	if (p->failed || !strcmp(p->cursor, "0"))
		pass_end(p);
	else
		scan_next(p);
}

static void usage_in(redisReply *r, void *arg)
{
	struct usage_ask *a = arg;
	struct quota_pass *p = a->p;
	if (!r)
		p->failed = 1;
	else if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) /* nil: the key went meanwhile */
		p->t[a->tally].bytes += (uint64_t)r->integer;
	free(a);
	batch_release(p);
}

/* The tally of the workflow key k belongs to, or -1. */
static long tally_of(const struct quota_pass *p, const char *k)
{
	static const char *const kinds[] = {"uf:kv:", "uf:q:", "uf:dlq:", UF_OUTBOX_MQTT};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
		size_t kl = strlen(kinds[i]);
		if (strncmp(k, kinds[i], kl))
			continue;
		const char *wf = k + kl;
		size_t n = strcmp(kinds[i], UF_OUTBOX_MQTT) ? strcspn(wf, ":") : strlen(wf);
		if (!wf[n] && strcmp(kinds[i], UF_OUTBOX_MQTT))
			return -1; /* no ':' after the name: not a key of this kind */
		for (size_t t = 0; t < p->n; t++)
			if (strlen(p->t[t].wf) == n && !memcmp(p->t[t].wf, wf, n))
				return (long)t;
		return -1;
	}
	return -1;
}

static void scan_in(redisReply *r, void *arg)
{
	struct quota_pass *p = arg;
	p->calls = 1; /* held until every key of the batch is asked for */
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		p->failed = 1;
		batch_release(p);
		return;
	}
	snprintf(p->cursor, sizeof(p->cursor), "%s", r->element[0]->str);
	const redisReply *keys = r->element[1];
	for (size_t i = 0; i < keys->elements && !p->failed; i++) {
		const redisReply *k = keys->element[i];
		long t = k->type == REDIS_REPLY_STRING ? tally_of(p, k->str) : -1;
		struct usage_ask *a = t >= 0 ? malloc(sizeof(*a)) : NULL;
		if (!a)
			continue;
		*a = (struct usage_ask){.p = p, .tally = (size_t)t};
		if (store_send(p->d->store, usage_in, a, "MEMORY USAGE %b", k->str, k->len) < 0) {
			free(a);
			p->failed = 1;
		} else {
			p->calls++;
		}
	}
	batch_release(p);
}

static void scan_next(struct quota_pass *p)
{
	p->calls = 1;
	if (store_send(p->d->store, scan_in, p, "SCAN %s MATCH uf:* COUNT %d", p->cursor, QUOTA_SCAN_COUNT) < 0) {
		p->failed = 1;
		pass_end(p);
	}
}

static void quota_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	size_t n = 0, i = 0;
	if (d->quota_pass || d->stopping || !store_healthy(d->store))
		return; /* the last pass is still out, or Redis is away: next time */
	for (struct workflow *w = d->workflows; w; w = w->next)
		n++;
	struct quota_pass *p = calloc(1, sizeof(*p));
	if (!p || !n || !(p->t = calloc(n, sizeof(*p->t)))) {
		free(p);
		return;
	}
	p->d = d;
	p->n = n;
	for (struct workflow *w = d->workflows; w; w = w->next, i++) {
		snprintf(p->t[i].wf, sizeof(p->t[i].wf), "%s", w->m->name);
		p->t[i].serial = w->serial;
	}
	snprintf(p->cursor, sizeof(p->cursor), "0");
	d->quota_pass = p;
	scan_next(p);
}

void quota_start(struct daemon *d)
{
	uv_timer_init(d->loop, &d->quota_timer);
	d->quota_timer.data = d;
	uv_timer_start(&d->quota_timer, quota_cb, d->cfg.quota_interval_ms, d->cfg.quota_interval_ms);
}

void quota_stop(struct daemon *d)
{
	uv_timer_stop(&d->quota_timer);
}
