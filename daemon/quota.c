/*
 * quota.c - each workflow's stored bytes against its storage quota, and
 * Redis's refusals when it is full (docs/architecture.md "Storage quotas").
 *
 * Measuring: a pass walks the keyspace, one step a command: a short script
 * (BATCH_SCRIPT) that runs SCAN MATCH uf:* COUNT QUOTA_SCAN_COUNT and
 * MEMORY USAGE of each key found that is a workflow's - its KV keys
 * uf:kv:<wf>:*, its queues uf:q:<wf>:*, their dead letters uf:dlq:<wf>:*,
 * their delayed re-queues uf:delay:<wf>:* and its MQTT outbox - and answers the sums by workflow, so the daemon
 * gets a few numbers instead of a reply per key.  The steps are sent one
 * after the other without waiting (store_send), each about 2 ms of Redis;
 * the next pass starts quota_interval_ms after one ends, and at least
 * QUOTA_IDLE_FACTOR times its length, so measuring takes about a
 * twentieth of Redis's time at most.  Measured with 250000 keys, 50000 of
 * them a workflow's: a pass costs Redis about 0.5 s of CPU, 8% of a core
 * over time (a command per key, a pass a second, cost 37%).  A pass whose reply is lost is dropped whole and the
 * next one starts over.  A pass sums by workflow name and deploy
 * (serial): a workflow replaced or undeployed meanwhile gets nothing from
 * it.
 *
 * Over its quota (stored bytes > quota: the manifest's storage_quota, else
 * the node's, never more than Redis's maxmemory; under again at 90% of it,
 * uf_quota_is_over in delivery.h) a workflow takes no new events: the HTTP ingress and the control API answer 507
 * (quota_refuses), its MQTT session stops reading so QoS 1 messages wait in the broker (mqtt_sync).  Its units keep
 * running, so its backlog drains: the daemon sets UF_QUOTA_KEY<wf> (common/delivery.h "Storage quota"), which every
 * unit reads with each batch, and the tenders defer - not counted, back
 * after the next measurement - the events that would grow its storage
 * (pushes, growing KV writes) while acknowledgements, deletes, re-queues
 * and dead letters go on; once it has been over for quota_give_up_s
 * (over_since_ms, carried in the key), they dead-letter such events
 * instead: the one give-up rule (delivery.h uf_quota_gives_up).  The
 * moment it went over is kept in Redis too (UF_QUOTA_SINCE_KEY, Redis's
 * clock) and read back by a workflow's first pass, so neither a restart
 * of unifaasd nor a deploy --replace starts that clock again: it is
 * deleted only once the workflow is under again (at or under 90%) or
 * undeployed, and the clock runs on while it is between 90% and 100% of
 * its quota (still over).  Going over again after a pass found it under
 * sets it whatever is there (a moment left by a lost DEL is an earlier
 * time's); only a workflow's first pass keeps an older moment.
 * UF_QUOTA_KEY<wf> is refreshed each pass while over (stored bytes,
 * quota, the delay: the time to the next pass) and deleted by the first
 * pass that finds the workflow at or under its quota, which lifts
 * everything.  Each change is logged (what=quota).
 *
 * Over its quota while Redis is full (INFO memory, read with each pass:
 * used_memory >= maxmemory), its commits would be refused anyway: its
 * units are drained (SIGUSR1, unit_drain STOP_QUOTA: a batch in flight
 * commits if Redis takes it, else its events stay pending and are
 * re-queued uncounted) and none started (the scheduler says why) until
 * Redis has room or the workflow is under its quota
 * ('unifaas queues purge', 'unifaas dlq purge', 'unifaas kv del').
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
#include "retention.h"
#include "store.h"
#include "unifaasd.h"

#define QUOTA_SCAN_COUNT  1000 /* keys one SCAN step looks at: about 2 ms of Redis */
#define QUOTA_IDLE_FACTOR 20   /* a pass waits at least 20 times its length for the next */

static void quota_cb(uv_timer_t *t);

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
	uint64_t started_ms;
	int redis_full; /* INFO memory: used_memory >= maxmemory */
};

/* One SCAN step and the sizes of the workflow keys it found, summed by
 * workflow, in one command: [next cursor, wf, bytes, wf, bytes, ...]. */
static const char BATCH_SCRIPT[] =
    "local r = redis.call('SCAN', ARGV[1], 'MATCH', 'uf:*', 'COUNT', ARGV[2])\n"
    "local sums, out = {}, {r[1]}\n"
    "for _, k in ipairs(r[2]) do\n"
    "  local wf = string.match(k, '^uf:kv:([^:]+):') or string.match(k, '^uf:q:([^:]+):')\n"
    "    or string.match(k, '^uf:dlq:([^:]+):') or string.match(k, '^" UF_DELAY_KEY "([^:]+):')\n"
    "    or string.match(k, '^" UF_OUTBOX_MQTT "(.+)$')\n"
    "  if wf then\n"
    "    local n = redis.call('MEMORY', 'USAGE', k)\n"
    "    if n then sums[wf] = (sums[wf] or 0) + n end\n"
    "  end\n"
    "end\n"
    "for wf, n in pairs(sums) do out[#out + 1] = wf; out[#out + 1] = n end\n"
    "return out\n";

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
	         "events until it is at or under %llu bytes, 90%% of it (its units go on draining its queues): free "
	         "some ('unifaas queues purge', 'unifaas kv del', 'unifaas dlq purge') or raise storage_quota in its "
	         "manifest ('unifaas deploy --replace')",
	         w->m->name, (unsigned long long)w->stored_bytes, (unsigned long long)quota_of(w),
	         (unsigned long long)uf_quota_resume_at(quota_of(w)));
	return 1;
}

const char *quota_refused_what(const struct workflow *w)
{
	if (!w->over_quota)
		return NULL;
	/* the level it is under again at (uf_quota_is_over) is said, as it may be
	 * over its quota with fewer bytes than the quota stored */
	return w->quota_hold ? "new events (HTTP 507, MQTT paused) and, redis being full (maxmemory), its units: "
	                       "drained, none started; until it is at or under 90% of its quota"
	                     : "new events (HTTP 507, MQTT paused) and its units' pushes and growing KV writes "
	                       "(those events are deferred, not counted); its units keep draining its queues; "
	                       "until it is at or under 90% of its quota";
}

int quota_redis_refused(struct daemon *d, const char *wf, const char *op, const redisReply *r)
{
	if (!r || r->type != REDIS_REPLY_ERROR || !uf_redis_full(r->str))
		return 0;
	quota_count_refusal(d, wf, op, r->str);
	return 1;
}

/* The operations a refusal is logged for, each on its own: a refused
 * commit is not hidden by the ingress refusal logged just before it.  The
 * last one stands for any other. */
static const char *const REFUSAL_OPS[] = {"http-ingress", "push", "kv-write", "mqtt-ingress", "settle", "commit", "-"};
#define NOPS (sizeof REFUSAL_OPS / sizeof REFUSAL_OPS[0])
_Static_assert(NOPS <= sizeof((struct workflow *)0)->refusal_logged_ms / sizeof(uint64_t),
               "workflow.refusal_logged_ms holds a slot per REFUSAL_OPS");

static size_t refusal_op(const char *op)
{
	size_t i = 0;
	while (i < NOPS - 1 && strcmp(REFUSAL_OPS[i], op))
		i++;
	return i;
}

/* One line per workflow, operation and second at most, with the
 * workflow's count so far: a full Redis refuses every retry too. */
void quota_count_refusal(struct daemon *d, const char *wf, const char *op, const char *cause)
{
	static uint64_t others, others_logged_ms[NOPS]; /* refusals for no known workflow */
	struct workflow *w = wf ? registry_find(d, wf) : NULL;
	const char *labels[] = {wf ? wf : "-", op};
	size_t k = refusal_op(op);
	uint64_t *logged = w ? &w->refusal_logged_ms[k] : &others_logged_ms[k], now = now_ms();
	uint64_t n = w ? ++w->redis_refusals : ++others;
	metric_add(M_REDIS_REFUSALS, labels, 1);
	if (*logged && now - *logged < 1000)
		return;
	*logged = now;
	dlog("warn", "what=redis-full workflow=%s op=%s refusals=%llu cause=%s effect=%s", wf ? wf : "-", op,
	     (unsigned long long)n, cause, "the write was refused, nothing evicted (maxmemory, noeviction)");
}

/* ---- over and under ---- */

/* UF_QUOTA_KEY<wf>: set while over (refreshed: the units' reason and
 * delay), deleted once under (and at the first pass, in case a previous
 * daemon left it). */
static void quota_key_sync(struct workflow *w, uint64_t quota, uint32_t retry_ms)
{
	struct daemon *d = w->d;
	char v[120];
	if (w->over_quota) {
		uint64_t over_s = (now_ms() - w->over_since_ms) / 1000;
		struct uf_quota_state q = {.stored = w->stored_bytes,
		                           .quota = quota,
		                           .retry_ms = retry_ms,
		                           .over_s = over_s > UINT32_MAX ? UINT32_MAX : (uint32_t)over_s,
		                           .give_up_s = d->cfg.quota_give_up_s};
		uf_quota_value(v, sizeof(v), &q);
		store_send(d->store, NULL, NULL, "SET " UF_QUOTA_KEY "%s %s", w->m->name, v);
		w->quota_key = 1;
	} else if (w->quota_key != 2) {
		store_send(d->store, NULL, NULL, "DEL " UF_QUOTA_KEY "%s", w->m->name);
		w->quota_key = 2;
	}
}

/* UF_QUOTA_SINCE_KEY<wf>: ARGV[1] "1" sets it to Redis's TIME if it is
 * not there (went over at its first pass: an older moment there is this
 * time's, kept by a daemon before or a workflow replaced), "2" sets it
 * whatever is there (went over after a pass found it under: a moment
 * there is an earlier time's, left by a DEL that was lost); answers how
 * long ago it was set (ms), or -1 if it is not there. */
static const char SINCE_SCRIPT[] = "local s = redis.call('GET', KEYS[1])\n"
                                   "local t = redis.call('TIME')\n"
                                   "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
                                   "if ARGV[1] == '2' or (not s and ARGV[1] == '1') then\n"
                                   "  redis.call('SET', KEYS[1], string.format('%d', now))\n"
                                   "  return 0\n"
                                   "end\n"
                                   "if not s then return -1 end\n"
                                   "local age = now - (tonumber(s) or now)\n"
                                   "if age < 0 then age = 0 end\n"
                                   "return age\n";

/* A workflow named in a reply: it may be gone or replaced meanwhile. */
struct since_ask {
	struct daemon *d;
	char wf[UF_NAME_BUF];
	uint64_t serial;
};

/* The age of its UF_QUOTA_SINCE_KEY: its give-up clock, counted from
 * then (a restored one also makes it over as of its next pass). */
static void since_in(redisReply *r, void *arg)
{
	struct since_ask *a = arg;
	struct workflow *w = registry_find(a->d, a->wf);
	if (w && w->serial == a->serial && r && r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
		uint64_t age = (uint64_t)r->integer, now = now_ms();
		uint64_t since = age < now ? now - age : 0;
		if (!w->over_quota) {
			w->over_restored = 1;
			w->over_since_ms = since;
		} else if (since < w->over_since_ms) {
			w->over_since_ms = since;
		}
	}
	free(a);
}

/* set: 0 asks, 1 sets it unless there, 2 sets it (SINCE_SCRIPT) */
static void since_ask(struct workflow *w, int set)
{
	struct since_ask *a = calloc(1, sizeof(*a));
	if (!a)
		return; /* it counts from now: at worst as before */
	a->d = w->d;
	a->serial = w->serial;
	snprintf(a->wf, sizeof(a->wf), "%s", w->m->name);
	if (store_send(w->d->store, since_in, a, "EVAL %s 1 " UF_QUOTA_SINCE_KEY "%s %d", SINCE_SCRIPT, w->m->name,
	               set) < 0)
		free(a);
}

/* Over its quota while Redis is full: its units drained, none started. */
static void hold(struct workflow *w, int on, uint64_t quota)
{
	if (w->quota_hold == on)
		return;
	w->quota_hold = on;
	dlog(on ? "warn" : "info", "what=quota workflow=%s stored=%llu quota=%llu action=%s", w->m->name,
	     (unsigned long long)w->stored_bytes, (unsigned long long)quota,
	     on ? "redis is full (maxmemory): units drained, none started" : "redis has room: units may start");
	if (!on) {
		scheduler_check_now(w->d);
		return;
	}
	char msg[200];
	snprintf(msg, sizeof(msg),
	         "redis is full (maxmemory) and the workflow is over its storage quota (%llu of %llu bytes)",
	         (unsigned long long)w->stored_bytes, (unsigned long long)quota);
	for (size_t i = 0; i < w->m->nfunctions; i++)
		for (struct unit *u = w->steps[i].units; u; u = u->next)
			unit_drain(u, STOP_QUOTA, msg);
}

static void went_over(struct workflow *w, uint64_t quota)
{
	w->over_quota = 1;
	if (!w->over_restored) {
		w->over_since_ms = now_ms();
		/* kept in Redis; at its first pass (quota_key 0) an older moment
		 * found there is this time's, else a pass found it under since */
		since_ask(w, w->quota_key ? 2 : 1);
	}
	dlog("warn", "what=quota workflow=%s stored=%llu quota=%llu action=%s", w->m->name,
	     (unsigned long long)w->stored_bytes, (unsigned long long)quota,
	     "ingress refused (507), mqtt paused, pushes and growing kv writes deferred; units keep draining");
	mqtt_sync(w->d->mqtt, w->m->name);
}

static void went_under(struct workflow *w, uint64_t quota)
{
	w->over_quota = 0;
	store_send(w->d->store, NULL, NULL, "DEL " UF_QUOTA_SINCE_KEY "%s", w->m->name);
	dlog("info", "what=quota workflow=%s stored=%llu quota=%llu action=resume", w->m->name,
	     (unsigned long long)w->stored_bytes, (unsigned long long)quota);
	mqtt_sync(w->d->mqtt, w->m->name);
	scheduler_check_now(w->d);
}

static void pass_apply(struct quota_pass *p, uint32_t retry_ms)
{
	for (size_t i = 0; i < p->n; i++) {
		struct workflow *w = registry_find(p->d, p->t[i].wf);
		if (!w || w->serial != p->t[i].serial)
			continue;
		uint64_t quota = quota_of(w);
		w->stored_bytes = p->t[i].bytes;
		w->stored_ms = wall_ms();
		int was = w->over_quota || w->over_restored;
		int over = uf_quota_is_over(was, w->stored_bytes, quota);
		if (over && !w->over_quota)
			went_over(w, quota);
		else if (!over && was)
			went_under(w, quota);
		w->over_restored = 0;
		quota_key_sync(w, quota, retry_ms);
		hold(w, w->over_quota && p->redis_full, quota);
		if (w->over_quota) /* its handled entries go at once (retention.c) */
			retention_over_quota(p->d, w);
	}
}

/* "used_memory:N" and "maxmemory:N" of INFO memory: is Redis full? */
static void info_in(redisReply *r, void *arg)
{
	struct quota_pass *p = arg;
	const char *u, *m;
	if (!r || r->type != REDIS_REPLY_STRING || !(u = strstr(r->str, "\nused_memory:")) ||
	    !(m = strstr(r->str, "\nmaxmemory:")))
		return;
	unsigned long long used = strtoull(u + 13, NULL, 10), max = strtoull(m + 11, NULL, 10);
	p->redis_full = max > 0 && used >= max;
}

/* ---- a pass ---- */

static void pass_end(struct quota_pass *p, int whole)
{
	struct daemon *d = p->d;
	/* the next pass: quota_interval_ms after this one, and at least
	 * QUOTA_IDLE_FACTOR times its length, however many keys Redis holds */
	uint64_t took = now_ms() - p->started_ms, wait = d->cfg.quota_interval_ms;
	if (took * QUOTA_IDLE_FACTOR > wait)
		wait = took * QUOTA_IDLE_FACTOR;
	if (whole) /* a deferred event comes back once the next pass is done */
		pass_apply(p, (uint32_t)(wait + took < UF_DEFER_MAX_MS ? wait + took : UF_DEFER_MAX_MS));
	if (d->quota_pass == p)
		d->quota_pass = NULL;
	free(p->t);
	free(p);
	if (!d->stopping)
		uv_timer_start(&d->quota_timer, quota_cb, wait, 0);
}

static void scan_next(struct quota_pass *p);

static void batch_in(redisReply *r, void *arg)
{
	struct quota_pass *p = arg;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_STRING) {
		if (r && r->type == REDIS_REPLY_ERROR)
			dlog("warn", "what=quota op=measure cause=%s effect=\"measured again next time\"", r->str);
		pass_end(p, 0); /* part of a sum is no sum: the next pass starts over */
		return;
	}
	for (size_t i = 1; i + 1 < r->elements; i += 2) {
		const redisReply *wf = r->element[i], *n = r->element[i + 1];
		for (size_t t = 0; wf->type == REDIS_REPLY_STRING && n->type == REDIS_REPLY_INTEGER && t < p->n; t++)
			if (!strcmp(p->t[t].wf, wf->str))
				p->t[t].bytes += n->integer > 0 ? (uint64_t)n->integer : 0;
	}
	snprintf(p->cursor, sizeof(p->cursor), "%s", r->element[0]->str);
	if (!strcmp(p->cursor, "0"))
		pass_end(p, 1);
	else
		scan_next(p);
}

static void scan_next(struct quota_pass *p)
{
	if (store_send(p->d->store, batch_in, p, "EVAL %s 0 %s %d", BATCH_SCRIPT, p->cursor, QUOTA_SCAN_COUNT) < 0)
		pass_end(p, 0);
}

static void quota_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	size_t n = 0, i = 0;
	if (d->stopping)
		return;
	for (struct workflow *w = d->workflows; w; w = w->next)
		n++;
	struct quota_pass *p = calloc(1, sizeof(*p));
	if (!p || !n || !store_quiet(d->store) || !(p->t = calloc(n, sizeof(*p->t)))) {
		free(p); /* nothing to measure, or Redis is away or busy: next time */
		uv_timer_start(&d->quota_timer, quota_cb, d->cfg.quota_interval_ms, 0);
		return;
	}
	p->d = d;
	p->n = n;
	p->started_ms = now_ms();
	for (struct workflow *w = d->workflows; w; w = w->next, i++) {
		snprintf(p->t[i].wf, sizeof(p->t[i].wf), "%s", w->m->name);
		p->t[i].serial = w->serial;
		if (!w->quota_key && !w->over_quota) /* its first pass: was it over before? (answered first) */
			since_ask(w, 0);
	}
	snprintf(p->cursor, sizeof(p->cursor), "0");
	d->quota_pass = p;
	store_send(d->store, info_in, p, "INFO memory"); /* answered before the first step */
	scan_next(p);
}

void quota_start(struct daemon *d)
{
	uv_timer_init(d->loop, &d->quota_timer);
	d->quota_timer.data = d;
	uv_timer_start(&d->quota_timer, quota_cb, d->cfg.quota_interval_ms, 0);
}

void quota_stop(struct daemon *d)
{
	uv_timer_stop(&d->quota_timer);
}
