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
 * A check reads the step's group (XINFO GROUPS: lag + pending = backlog),
 * asks the policy how many units it wants and starts the difference, each
 * start passing, in order: the step's max_units (inside the policy), the
 * workflow's max_units, the node's max_units, the step's grace_ms since its
 * last start, a free TAP device (net: true, in unit_start).  A step at its
 * maximum whose backlog grew past `overflow` stops its workflow.  A unit
 * whose oldest pending event waited longer than timeout_ms for each event
 * it holds (+1 s) is hung and killed; its events are settled as failed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscale.h"
#include "retention.h"
#include "store.h"
#include "unifaasd.h"

static const struct scale_policy *policy = &scale_static_threshold;

/* Fill s->lag, s->pending, s->backlog from XINFO GROUPS; -1 if unknown. */
static int read_backlog(struct daemon *d, struct step *s)
{
	redisReply *r = store_array(d->store, "XINFO GROUPS uf:q:%s:%s", s->wf->m->name, s->fn->listen);
	int rc = -1;
	if (!r)
		return -1;
	for (size_t i = 0; i < r->elements; i++) {
		struct store_group g;
		store_group(r->element[i], &g);
		if (!g.name || strcmp(g.name, s->fn->name))
			continue;
		s->lag = g.lag < 0 ? 1 : (uint64_t)g.lag; /* Redis cannot tell (after deletions): assume work */
		s->pending = (uint64_t)g.pending;
		s->prev_backlog = s->backlog;
		s->backlog = s->lag + s->pending;
		if (s->fresh) { /* just resumed: no growth to compare with yet */
			s->prev_backlog = s->backlog;
			s->fresh = 0;
		}
		rc = 0;
	}
	if (rc < 0 && r->elements == 0) {
		s->lag = s->pending = s->backlog = 0;
		rc = 0;
	}
	freeReplyObject(r);
	return rc;
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
		units_stop_step(&w->steps[i], STOP_OVERFLOW);
	(void)d;
}

static void arm_soon(struct daemon *d, uint64_t ms);

/* Start what the policy wants, one limit at a time. */
static void scale_step(struct daemon *d, struct step *s)
{
	const struct uf_function *f = s->fn;
	struct scale_input in = {.backlog = s->backlog, .running = s->running, .cfg = &f->scale};
	uint32_t want = policy->wanted(&in);
	if (s->backlog > 0 && want == 0 && f->scale.max_units > 0)
		want = 1;
	if (s->running >= f->scale.max_units && s->backlog > f->scale.overflow && s->backlog > s->prev_backlog) {
		overflow(d, s);
		return;
	}
	while (s->running < want) {
		char why[160], err[512];
		if (s->wf->running >= s->wf->m->max_units) {
			snprintf(why, sizeof(why), "workflow max_units %u reached", s->wf->m->max_units);
			set_waiting(s, why);
			return;
		}
		if (d->running >= d->cfg.max_units) {
			snprintf(why, sizeof(why), "node max_units %u reached", d->cfg.max_units);
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
		if (unit_start(d, s, err, sizeof(err)) < 0) {
			snprintf(why, sizeof(why), "cannot start a unit: %.120s", err);
			set_waiting(s, why);
			dlog("error", "what=unit-start workflow=%s step=%s cause=\"%s\"", s->wf->m->name, f->name, err);
			return;
		}
		s->why_waiting[0] = 0;
	}
}

/* How many events `consumer` holds, from an XPENDING summary reply. */
static long long held_by(const redisReply *summary, const char *consumer)
{
	const redisReply *cs = summary->element[3];
	for (size_t i = 0; cs->type == REDIS_REPLY_ARRAY && i < cs->elements; i++)
		if (!strcmp(cs->element[i]->element[0]->str, consumer))
			return strtoll(cs->element[i]->element[1]->str, NULL, 10);
	return 0;
}

/* Kill units whose oldest pending event is older than its time budget:
 * timeout_ms per event they hold, + 1 s.  Only entries idle longer than
 * the smallest budget (one event) are fetched, so a healthy step costs one
 * short reply per tick. */
static void check_hung(struct daemon *d, struct step *s, const redisReply *summary)
{
	if (!s->fn->timeout_ms || !s->running)
		return;
	redisReply *r = store_array(d->store, "XPENDING uf:q:%s:%s %s IDLE %u - + 1000", s->wf->m->name, s->fn->listen,
	                            s->fn->name, s->fn->timeout_ms + 1000);
	if (!r)
		return;
	for (struct unit *u = s->units; u; u = u->next) {
		long long held = held_by(summary, u->id), oldest = 0;
		for (size_t i = 0; i < r->elements; i++) {
			redisReply *e = r->element[i];
			if (e->elements >= 4 && !strcmp(e->element[1]->str, u->id) && e->element[2]->integer > oldest)
				oldest = e->element[2]->integer;
		}
		long long limit = held * (long long)s->fn->timeout_ms + 1000;
		if (held && oldest > limit && u->state == UNIT_RUNNING) {
			snprintf(u->last_line, sizeof(u->last_line),
			         "hung: held %lld event(s) for %lld ms, over %u ms per event (timeout_ms) + 1 s", held,
			         oldest, s->fn->timeout_ms);
			dlog("warn", "what=unit-hung unit=%s workflow=%s step=%s held=%lld idle_ms=%lld action=kill",
			     u->id, s->wf->m->name, s->fn->name, held, oldest);
			unit_stop(u, SIGKILL, STOP_HUNG);
		}
	}
	freeReplyObject(r);
}

/* Events pending for a consumer that is no unit of ours (its tender died
 * while Redis was away, or it belonged to an earlier daemon): settle them.
 * Units of a workflow being replaced are still ours: they settle their own. */
static void settle_orphans(struct daemon *d, struct step *s, const redisReply *summary)
{
	const redisReply *cs = summary->element[3];
	for (size_t i = 0; cs->type == REDIS_REPLY_ARRAY && i < cs->elements; i++) {
		const char *name = cs->element[i]->element[0]->str;
		if (unit_find(d, 0, name))
			continue;
		char why[256];
		snprintf(why, sizeof(why), "unit %s is gone without settling its events", name);
		units_settle_consumer(d, s, name, why);
	}
}

/* The checks that need the group's pending entries: one summary for both. */
static void check_pending(struct daemon *d, struct step *s)
{
	if (!s->pending)
		return;
	redisReply *r = store_array(d->store, "XPENDING uf:q:%s:%s %s", s->wf->m->name, s->fn->listen, s->fn->name);
	if (r && r->elements == 4) {
		check_hung(d, s, r);
		settle_orphans(d, s, r);
	}
	if (r)
		freeReplyObject(r);
}

static void check_step(struct daemon *d, struct step *s)
{
	s->dirty = 0;
	if (s->wf->state != WF_RUNNING || d->stopping)
		return;
	if (read_backlog(d, s) < 0)
		return;
	check_pending(d, s);
	if (s->wf->state == WF_RUNNING)
		scale_step(d, s);
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
