/*
 * scheduler.c - when to start units: triggers, limits, overflow, hangs.
 *
 * Triggers: a keyspace notification that work was pushed to a queue
 * (store.c) checks the queue's steps at once when they have no unit running
 * (the cold-start path: notification to spawn in well under a millisecond);
 * steps that already run units are checked by the periodic tick, every
 * tick_ms while any unit runs or any backlog exists and every idle_tick_ms
 * otherwise, so a lost notification costs a tick, never an event.
 *
 * A check reads the step's group (XINFO GROUPS, then the backlog counted
 * from its last-delivered id: backlog.c), who holds what (XPENDING
 * summary) and each unit's oldest pending entry, all sent at once without
 * waiting (store_send); the last reply decides:
 * it asks the policy how many units it wants and starts the difference, each
 * start passing, in order: the step's max_units (inside the policy), the
 * workflow's max_units, the node's admission (slots.c: fair shares of the
 * node's max_units and unit memory, taking borrowed units back), the
 * step's grace_ms since its last start, a free TAP device (net: true, in
 * unit_start); one start at a time per step, since a unit's number comes
 * from Redis.  A step at its maximum whose backlog grew past `overflow`
 * stops its workflow.  A unit whose oldest pending event waited longer than
 * timeout_ms for each event it holds (+1 s) is hung and killed; its events
 * are settled as failed.  A unit holding nothing that has not popped for
 * idle_ms + 1 s (XINFO CONSUMERS) is stopped; a unit past its lifetime is
 * drained (check_idle, check_lifetime).
 * The deadline read last is kept, so a hung unit is killed on time also
 * while Redis does not answer (kill_overdue); one check per step is out at
 * a time, so a stalled Redis does not pile up reads.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscale.h"
#include "backlog.h"
#include "quota.h"
#include "retention.h"
#include "store.h"
#include "unifaasd.h"

static const struct scale_policy *policy = &scale_static_threshold;

/* What a check read, copied out of its replies. */
struct held {
	char name[160];
	long long n;
};

struct check {
	struct daemon *d;
	char wf[UF_NAME_BUF], step[UF_NAME_BUF];
	char queue_name[UF_QUEUE_MAX + 1];
	uint64_t serial; /* of the workflow checked: its replacement is not it */
	int calls, failed;
	int found;     /* XINFO GROUPS had the step's group (or no group at all: found 2) */
	uint64_t need; /* how far the backlog must be exact (read_backlog) */
	int exact;
	struct backlog b;
	struct held *held; /* XPENDING summary: who holds how many */
	size_t nheld;
	struct held *oldest; /* XPENDING - + 1 <unit>: idle ms of each unit's oldest entry, -1 none */
	size_t noldest;
	struct held *seen; /* XINFO CONSUMERS: ms since each consumer last read (popped) */
	size_t nseen;
	int seen_ok; /* XINFO CONSUMERS answered (and was read) */
};

/* Below its max_units a step needs its backlog only up to what max_units
 * absorb; at its maximum, exactly whenever it can be past `overflow`. */
static void backlog_needed(const struct step *s, struct check *k)
{
	const struct uf_scale *c = &s->fn->scale;
	k->exact = s->running >= c->max_units;
	k->need = k->exact ? (uint64_t)c->overflow + 1 : (uint64_t)c->max_units * c->events_per_unit + 1;
}

/* Fill s->unread, s->pending, s->backlog from the check's count. */
static void apply_backlog(struct step *s, const struct check *k)
{
	s->prev_most = s->backlog_most;
	if (k->found == 2) {
		s->unread = s->pending = s->backlog = s->backlog_most = 0;
		return;
	}
	s->unread = k->b.unread;
	s->pending = k->b.pending;
	s->backlog = k->b.unread + k->b.pending;
	s->backlog_most = k->b.most;
	if (s->fresh) { /* just resumed: no growth to compare with yet */
		s->prev_most = UINT64_MAX;
		s->fresh = 0;
	}
}

static void set_waiting(struct step *s, const char *why)
{
	if (strcmp(s->why_waiting, why))
		dlog("info", "what=scale-wait workflow=%s step=%s reason=\"%s\"", s->wf->m->name, s->fn->name, why);
	snprintf(s->why_waiting, sizeof(s->why_waiting), "%s", why);
}

static void overflow(struct daemon *d, struct step *s)
{
	struct workflow *w = s->wf;
	char why[512];
	snprintf(why, sizeof(why),
	         "step %s: backlog %llu over overflow %u with max_units %u running; ingress paused, events kept "
	         "(run 'unifaas resume %s' when the cause is fixed)",
	         s->fn->name, (unsigned long long)s->backlog, s->fn->scale.overflow, s->fn->scale.max_units,
	         w->m->name);
	dlog("error", "what=overflow workflow=%s step=%s backlog=%llu overflow=%u action=stop-workflow", w->m->name,
	     s->fn->name, (unsigned long long)s->backlog, s->fn->scale.overflow);
	registry_set_state(w, WF_STOPPED, why);
	for (size_t i = 0; i < w->m->nfunctions; i++)
		units_stop_step(&w->steps[i], STOP_OVERFLOW, why);
	(void)d;
}

static void arm_soon(struct daemon *d, uint64_t ms);

/* Units asked for (unit numbers on their way) count against the limits. */
static uint32_t starting_in(const struct workflow *w)
{
	uint32_t n = 0;
	for (size_t i = 0; i < w->m->nfunctions; i++)
		n += (uint32_t)w->steps[i].starting;
	return n;
}

/* Start what the policy wants, one limit at a time. */
static void scale_step(struct daemon *d, struct step *s)
{
	const struct uf_function *f = s->fn;
	struct scale_input in = {.backlog = s->backlog, .running = s->running, .cfg = &f->scale};
	uint32_t want = policy->wanted(&in);
	if (s->backlog > 0 && want == 0 && f->scale.max_units > 0)
		want = 1;
	/* grown for sure: past the most the previous count allowed (the count
	 * itself when exact; a lower bound says nothing about growth) */
	if (s->running >= f->scale.max_units && s->backlog > f->scale.overflow && s->backlog > s->prev_most) {
		overflow(d, s);
		return;
	}
	if (s->wf->quota_hold && want > 0) { /* quota.c: over it while Redis is full */
		char why[200];
		snprintf(why, sizeof(why),
		         "redis is full (maxmemory) and the workflow is over its storage quota: %llu of %llu bytes "
		         "(storage_quota)",
		         (unsigned long long)s->wf->stored_bytes, (unsigned long long)quota_of(s->wf));
		set_waiting(s, why);
		return;
	}
	while (s->running < want) {
		char why[256], err[512];
		if (s->starting) /* one unit number asked at a time: scheduler_start_done goes on */
			return;
		if (s->wf->running + starting_in(s->wf) >= s->wf->m->max_units) {
			snprintf(why, sizeof(why), "workflow max_units %u reached", s->wf->m->max_units);
			set_waiting(s, why);
			return;
		}
		if (!slots_admit(d, s, why, sizeof(why))) { /* node slots and memory (slots.c) */
			set_waiting(s, why);
			return;
		}
		uint64_t since = now_ms() - s->last_start_ms;
		if (s->starts && since < f->scale.grace_ms) {
			arm_soon(d, f->scale.grace_ms - since);
			return;
		}
		if (s->backoff_ms && since < s->backoff_ms) {
			snprintf(why, sizeof(why), "backing off %llu ms after %u units failed in a row",
			         (unsigned long long)s->backoff_ms, s->failures);
			set_waiting(s, why);
			arm_soon(d, s->backoff_ms - since);
			return;
		}
		if (unit_start(d, s, err, sizeof(err)) < 0)
			scheduler_start_done(d, s, -1, err);
		else
			slots_started(s->wf);
		return;
	}
}

void scheduler_start_done(struct daemon *d, struct step *s, int rc, const char *err)
{
	char why[160];
	if (rc < 0) {
		snprintf(why, sizeof(why), "cannot start a unit: %.120s", err);
		set_waiting(s, why);
		dlog("error", "what=unit-start workflow=%s step=%s cause=\"%s\"", s->wf->m->name, s->fn->name, err);
		return;
	}
	s->why_waiting[0] = 0;
	s->dirty = 1; /* more may be wanted: the next check starts them */
	arm_soon(d, 0);
}

static long long lookup(const struct held *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(h[i].name, name))
			return h[i].n;
	return -1;
}

static void kill_hung(struct step *s, struct unit *u, uint64_t now)
{
	long long held_for = (long long)(now - u->held_since);
	snprintf(u->last_line, sizeof(u->last_line),
	         "hung: held %lld event(s) for %lld ms, over %u ms per event (timeout_ms) + 1 s", u->held, held_for,
	         s->fn->timeout_ms);
	dlog("warn", "what=unit-hung unit=%s workflow=%s step=%s held=%lld idle_ms=%lld action=kill", u->id,
	     s->wf->m->name, s->fn->name, u->held, held_for);
	unit_stop(u, SIGKILL, STOP_HUNG);
}

/* A unit's time budget: timeout_ms per event it holds, + 1 s, from when it
 * took the oldest (its lowest pending id, as Redis last said).  The deadline
 * is kept, so a unit is killed on time also when Redis stops answering. */
static void check_hung(struct step *s, const struct check *k, uint64_t now)
{
	for (struct unit *u = s->units; u; u = u->next) {
		long long held = lookup(k->held, k->nheld, u->id), idle = lookup(k->oldest, k->noldest, u->id);
		u->held = held > 0 ? held : 0; /* GET /v1/units' "held": what its budget, if any, counts */
		if (held <= 0 || idle < 0 || !s->fn->timeout_ms) {
			u->hung_at = 0;
			continue;
		}
		u->held_since = now - (uint64_t)idle;
		u->hung_at = u->held_since + (uint64_t)held * s->fn->timeout_ms + 1000;
		if (now > u->hung_at && u->state == UNIT_RUNNING)
			kill_hung(s, u, now);
	}
}

/* Redis has not answered a check for a while: the deadlines it gave last
 * still hold (check_hung). */
static void kill_overdue(struct daemon *d, uint64_t now)
{
	for (struct workflow *w = d->workflows; w; w = w->next)
		for (size_t i = 0; i < w->m->nfunctions; i++) {
			struct step *s = &w->steps[i];
			if (now - s->read_ms < 250)
				continue;
			for (struct unit *u = s->units; u; u = u->next)
				if (u->hung_at && now > u->hung_at && u->state == UNIT_RUNNING)
					kill_hung(s, u, now);
		}
}

/* Events pending for a consumer that is no unit of ours (its tender died
 * while Redis was away, or it belonged to an earlier daemon): settle them.
 * Units of a workflow being replaced are still ours: they settle their own. */
static void settle_orphans(struct daemon *d, struct step *s, const struct check *k)
{
	for (size_t i = 0; i < k->nheld; i++) {
		if (k->held[i].n <= 0 || unit_find(d, 0, k->held[i].name))
			continue;
		char why[256];
		snprintf(why, sizeof(why), "unit %s is gone without settling its events", k->held[i].name);
		units_settle_consumer(d, s, k->held[i].name, why);
	}
}

/* A unit that holds no event and has not popped for longer than its
 * idle_ms + IDLE_MARGIN_MS is stopped, whatever its code does: it is not
 * busy with an event, it only holds a slot.  One that never popped counts
 * from its start.  (Its consumer's `idle` in XINFO CONSUMERS is the time
 * since its last XREADGROUP; a pop blocked longer than idle_ms counts as
 * not popping: the default loop never waits longer.)  Not for net: true
 * functions, which serve their TAP device from main() and need not pop. */
#define IDLE_MARGIN_MS 1000
#define BOOT_MARGIN_MS 2000 /* and one that never popped, this more to boot (a loaded machine, ASan) */

static void check_idle(struct step *s, const struct check *k, uint64_t now)
{
	if (s->fn->net) /* a network function's work is frames, not pops (pingd): lifetime and shares bound it */
		return;
	for (struct unit *u = s->units; k->seen_ok && u; u = u->next) {
		if (u->state != UNIT_RUNNING || lookup(k->held, k->nheld, u->id) > 0)
			continue;
		long long idle = lookup(k->seen, k->nseen, u->id);
		int never = idle < 0;
		if (never)
			idle = (long long)(now - u->started_ms);
		if (idle <= (long long)s->fn->scale.idle_ms + IDLE_MARGIN_MS + (never ? BOOT_MARGIN_MS : 0))
			continue;
		char msg[256];
		snprintf(msg, sizeof(msg), "idle %lld ms without popping%s, over idle_ms %u + %d ms (idle_ms)", idle,
		         never ? " (never popped; 2000 ms more to boot)" : "", s->fn->scale.idle_ms, IDLE_MARGIN_MS);
		unit_drain(u, STOP_IDLE, msg);
	}
}

/* Every unit ends after its lifetime (the step's lifetime_s, else the
 * node's unit_lifetime_s): drained, and replaced by the next check if the
 * step still wants it.  This also bounds a unit that holds an event for
 * ever (timeout_ms: 0 and a handler that sleeps). */
static void check_lifetime(struct daemon *d, struct step *s, uint64_t now)
{
	uint32_t life = d->cfg.unit_lifetime_s; /* a step's own only lowers it (a restored one too) */
	int own = s->fn->scale.lifetime_s && s->fn->scale.lifetime_s < life;
	if (own)
		life = s->fn->scale.lifetime_s;
	for (struct unit *u = s->units; u; u = u->next) {
		if (u->state != UNIT_RUNNING || now - u->started_ms <= (uint64_t)life * 1000)
			continue;
		char msg[256];
		snprintf(msg, sizeof(msg), "lifetime %u s reached (%s)", life, own ? "lifetime_s" : "unit_lifetime_s");
		unit_drain(u, STOP_LIFETIME, msg);
	}
}

static void check_free(struct check *k)
{
	free(k->held);
	free(k->oldest);
	free(k->seen);
	free(k);
}

/* Every read of a check is in (or failed): decide for the step. */
static void check_decide(struct check *k)
{
	struct daemon *d = k->d;
	struct step *s = registry_find_step(d, k->wf, k->step, k->serial);
	uint64_t now = now_ms();
	if (s)
		s->checking = 0;
	if (!s || k->failed || !k->found || s->wf->state != WF_RUNNING || d->stopping) {
		check_free(k);
		return;
	}
	s->read_ms = now;
	apply_backlog(s, k);
	check_hung(s, k, now);
	check_idle(s, k, now);
	check_lifetime(d, s, now);
	settle_orphans(d, s, k);
	if (s->wf->state == WF_RUNNING)
		scale_step(d, s);
	check_free(k);
}

static void check_release(struct check *k)
{
	if (--k->calls == 0)
		check_decide(k);
}

static void check_replied(struct check *k, const redisReply *r)
{
	k->failed |= !r;
	check_release(k);
}

static void backlog_read(const struct backlog *b, void *arg)
{
	struct check *k = arg;
	if (b)
		k->b = *b;
	k->failed |= !b;
	check_release(k);
}

/* The step's group: its last-delivered id and pending count, from which
 * the backlog is counted (backlog.c; Redis's lag is not trusted). */
static void groups_read(redisReply *r, void *arg)
{
	struct check *k = arg;
	struct store_group g = {0};
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && !k->found; i++) {
		store_group(r->element[i], &g);
		k->found = g.name && g.last_delivered && !strcmp(g.name, k->step);
	}
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 0)
		k->found = 2;
	if (k->found == 1) {
		char key[300];
		snprintf(key, sizeof(key), "uf:q:%s:%s", k->wf, k->queue_name);
		k->calls++;
		/* what retention keeps handled, and room for the pending (backlog.h) */
		uint64_t cap = (uint64_t)k->d->cfg.retain_handled + 4096;
		if (backlog_ask(k->d->store, key, g.last_delivered, (uint64_t)g.pending, k->need, k->exact, cap,
		                backlog_read, k) < 0) {
			k->failed = 1;
			k->calls--;
		}
	}
	check_replied(k, r);
}

/* XPENDING summary: [count, min, max, [[consumer, n], ...]] */
static void summary_read(redisReply *r, void *arg)
{
	struct check *k = arg;
	const redisReply *cs = r && r->type == REDIS_REPLY_ARRAY && r->elements == 4 ? r->element[3] : NULL;
	size_t n = cs && cs->type == REDIS_REPLY_ARRAY ? cs->elements : 0;
	if (n && (k->held = calloc(n, sizeof(*k->held))))
		for (size_t i = 0; i < n; i++) {
			snprintf(k->held[k->nheld].name, sizeof(k->held->name), "%s", cs->element[i]->element[0]->str);
			k->held[k->nheld++].n = strtoll(cs->element[i]->element[1]->str, NULL, 10);
		}
	check_replied(k, r);
}

/* XINFO CONSUMERS: [[name, N, pending, N, idle, MS, ...], ...] */
static void consumers_read(redisReply *r, void *arg)
{
	struct check *k = arg;
	size_t n = r && r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
	k->seen_ok = r && r->type == REDIS_REPLY_ARRAY;
	if (n && !(k->seen = calloc(n, sizeof(*k->seen))))
		k->seen_ok = 0;
	if (k->seen)
		for (size_t i = 0; i < n; i++) {
			const redisReply *c = r->element[i];
			const char *name = NULL;
			long long idle = -1;
			for (size_t j = 0; c->type == REDIS_REPLY_ARRAY && j + 1 < c->elements; j += 2) {
				const redisReply *key = c->element[j], *v = c->element[j + 1];
				if (key->type != REDIS_REPLY_STRING)
					continue;
				if (!strcmp(key->str, "name") && v->type == REDIS_REPLY_STRING)
					name = v->str;
				else if (!strcmp(key->str, "idle") && v->type == REDIS_REPLY_INTEGER)
					idle = v->integer;
			}
			if (!name || idle < 0)
				continue;
			snprintf(k->seen[k->nseen].name, sizeof(k->seen->name), "%s", name);
			k->seen[k->nseen++].n = idle;
		}
	check_replied(k, r);
}

/* One unit's oldest pending entry: [[id, consumer, idle, deliveries]] */
struct oldest_ask {
	struct check *k;
	size_t i;
};

static void oldest_read(redisReply *r, void *arg)
{
	struct oldest_ask *o = arg;
	struct check *k = o->k;
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements >= 3)
		k->oldest[o->i].n = r->element[0]->element[2]->integer;
	free(o);
	check_replied(k, r);
}

static int ask(struct check *k, store_cb cb, void *arg, const char *fmt, const char *consumer)
{
	if (store_send(k->d->store, cb, arg, fmt, k->wf, k->queue_name, k->step, consumer) < 0) {
		k->failed = 1;
		return -1;
	}
	k->calls++;
	return 0;
}

/* A step's check: its reads go out together, without waiting; the last
 * reply decides (check_decide).  One check per step at a time. */
static void check_step(struct daemon *d, struct step *s)
{
	s->dirty = 0;
	if (s->wf->state != WF_RUNNING || d->stopping || s->checking)
		return;
	struct check *k = calloc(1, sizeof(*k));
	if (!k || (s->running && !(k->oldest = calloc(s->running, sizeof(*k->oldest))))) {
		free(k);
		return;
	}
	k->d = d;
	k->serial = s->wf->serial;
	snprintf(k->wf, sizeof(k->wf), "%s", s->wf->m->name);
	snprintf(k->step, sizeof(k->step), "%s", s->fn->name);
	snprintf(k->queue_name, sizeof(k->queue_name), "%s", s->fn->listen);
	backlog_needed(s, k);
	k->calls = 1; /* held while asking */
	ask(k, groups_read, k, "XINFO GROUPS uf:q:%s:%s", NULL);
	ask(k, summary_read, k, "XPENDING uf:q:%s:%s %s", NULL);
	if (s->running)
		ask(k, consumers_read, k, "XINFO CONSUMERS uf:q:%s:%s %s", NULL);
	for (struct unit *u = s->units; u && s->fn->timeout_ms && k->noldest < s->running; u = u->next) {
		struct oldest_ask *o = calloc(1, sizeof(*o));
		if (!o)
			break;
		*o = (struct oldest_ask){.k = k, .i = k->noldest};
		snprintf(k->oldest[k->noldest].name, sizeof(k->oldest->name), "%s", u->id);
		k->oldest[k->noldest++].n = -1;
		if (ask(k, oldest_read, o, "XPENDING uf:q:%s:%s %s - + 1 %s", u->id) < 0)
			free(o);
	}
	s->checking = 1;
	check_release(k);
}

/* Hear pushes to every queue that has a listening step with no unit: the
 * cold-start trigger.  Busy queues are left to the tick. */
static void update_watches(struct daemon *d)
{
	store_watch_begin(d->store);
	for (struct workflow *w = d->workflows; w; w = w->next)
		for (size_t i = 0; i < w->m->nfunctions; i++)
			if (w->state == WF_RUNNING && w->steps[i].running == 0)
				store_watch(d->store, w->m->name, w->steps[i].fn->listen);
	store_watch_end(d->store);
}

void scheduler_units_changed(struct daemon *d)
{
	update_watches(d);
}

static void check_all(struct daemon *d, int only_dirty)
{
	for (struct workflow *w = d->workflows; w; w = w->next)
		for (size_t i = 0; i < w->m->nfunctions; i++)
			if (!only_dirty || w->steps[i].dirty)
				check_step(d, &w->steps[i]);
	update_watches(d);
}

static int any_work(struct daemon *d)
{
	if (d->running)
		return 1;
	for (struct workflow *w = d->workflows; w; w = w->next)
		for (size_t i = 0; i < w->m->nfunctions; i++)
			if (w->steps[i].backlog && w->state == WF_RUNNING)
				return 1;
	return 0;
}

static void tick_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	kill_overdue(d, now_ms());
	check_all(d, 0);
	uv_timer_start(&d->tick, tick_cb, any_work(d) ? d->cfg.tick_ms : d->cfg.idle_tick_ms, 0);
}

static void soon_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	check_all(d, 1);
}

static void arm_soon(struct daemon *d, uint64_t ms)
{
	for (struct workflow *w = d->workflows; w; w = w->next)
		for (size_t i = 0; i < w->m->nfunctions; i++)
			if (w->state == WF_RUNNING &&
			    (w->steps[i].backlog || w->steps[i].running < w->steps[i].fn->scale.min_units))
				w->steps[i].dirty = 1;
	if (!uv_is_active((uv_handle_t *)&d->soon) || uv_timer_get_due_in(&d->soon) > ms)
		uv_timer_start(&d->soon, soon_cb, ms, 0);
}

void scheduler_poke(struct daemon *d, const char *wf, const char *queue)
{
	int cold = 0;
	for (struct workflow *w = d->workflows; w; w = w->next) {
		if (wf && strcmp(w->m->name, wf))
			continue;
		for (size_t i = 0; i < w->m->nfunctions; i++) {
			struct step *s = &w->steps[i];
			if (queue && strcmp(s->fn->listen, queue))
				continue;
			s->dirty = 1;
			cold |= s->running == 0;
		}
	}
	/* a step with no unit is checked now; busy ones wait for the tick */
	if (cold && !uv_is_active((uv_handle_t *)&d->soon))
		uv_timer_start(&d->soon, soon_cb, 0, 0);
	if (uv_timer_get_due_in(&d->tick) > d->cfg.tick_ms)
		uv_timer_start(&d->tick, tick_cb, d->cfg.tick_ms, 0);
}

void scheduler_check_now(struct daemon *d)
{
	check_all(d, 0);
}

static void trim_cb(uv_timer_t *t)
{
	retention_run(t->data);
}

void scheduler_start(struct daemon *d)
{
	uv_timer_init(d->loop, &d->tick);
	uv_timer_init(d->loop, &d->soon);
	uv_timer_init(d->loop, &d->trim);
	d->tick.data = d->soon.data = d->trim.data = d;
	uv_timer_start(&d->tick, tick_cb, 0, 0);
	uv_timer_start(&d->trim, trim_cb, d->cfg.trim_interval_ms, d->cfg.trim_interval_ms);
}
