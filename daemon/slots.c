/*
 * slots.c - node admission: may a step start a unit now, given the node's
 * unit slots (max_units) and unit memory (unit_memory_budget)?
 *
 * The figures are gathered here and the decision is the admission policy's
 * (autoscale.h, slot_fair_share: shares weighted by each workflow's
 * manifest `share` (common/admission.h), borrowing, taking back).
 * Every unit counts from the moment its number is asked for until it is
 * gone: starting, running and stopping units all hold their slot and their
 * memory (its function's `memory` plus UF_TENDER_OVERHEAD, the tender
 * itself: common/admission.h says how it was measured).
 *
 * Taking back: when a workflow within its share cannot start a unit, the
 * newest running units of the workflows most beyond their own share are
 * drained (unit_drain, STOP_RECLAIM) until what they free covers the
 * start, and the waiting workflow holds a reservation (reserve_ms,
 * reserve_mem) so that a borrower does not take the freed slot first.
 * The reservation ends when the workflow starts a unit, or after
 * unit_drain_ms + RESERVE_SLACK_MS (the drained units are gone by then: a
 * later check asks again).  No new units are taken back for a workflow
 * while its reservation stands.
 *
 * Invariant: a workflow's units within its share are never taken back,
 * and shares add up to at most the node's capacity.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admission.h"
#include "autoscale.h"
#include "launch.h"
#include "unifaasd.h"

/* A reservation outlives the drains it waits for by this much: a drained
 * unit is gone UF_DRAIN_SETTLE_MS after unit_drain_ms at the latest (then
 * killed: launch.h). */
#define RESERVE_SLACK_MS 2000
_Static_assert(RESERVE_SLACK_MS > UF_DRAIN_SETTLE_MS, "a reservation ends before the drained units are gone");

static const struct slot_policy *policy = &slot_fair_share;

uint64_t slots_unit_memory(const struct uf_function *f)
{
	return f->memory + UF_TENDER_OVERHEAD; /* measured: common/admission.h */
}

uint64_t slots_memory_budget(const struct uf_config *c)
{
	if (c->unit_memory_budget)
		return c->unit_memory_budget;
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || size <= 0)
		return UINT64_C(1) << 30; /* not known: 1 GiB */
	return (uint64_t)pages * (uint64_t)size / 2;
}

/* "3.8 GiB", "512 MiB", "900 KiB" */
static void fmt_bytes(uint64_t n, char *out, size_t cap)
{
	if (n >= (UINT64_C(1) << 30))
		snprintf(out, cap, "%.1f GiB", (double)n / (1 << 30));
	else if (n >= (1u << 20))
		snprintf(out, cap, "%.1f MiB", (double)n / (1 << 20));
	else
		snprintf(out, cap, "%llu KiB", (unsigned long long)(n >> 10));
}

/* A workflow's weight in the shares (its manifest's share, admission.h). */
static uint32_t weight(const struct workflow *w)
{
	return w->m->share ? w->m->share : UF_SHARE_DEFAULT;
}

/* The running workflows' weights added up (at least 1). */
static uint32_t total_weight(const struct daemon *d)
{
	uint32_t n = 0;
	for (const struct workflow *w = d->workflows; w; w = w->next)
		n += w->state == WF_RUNNING ? weight(w) : 0;
	return n ? n : 1;
}

static struct slot_use capacity(const struct daemon *d)
{
	return (struct slot_use){.units = d->cfg.max_units, .memory = d->unit_memory};
}

/* w's guaranteed share of the node */
static struct slot_use share_of(const struct daemon *d, const struct workflow *w)
{
	return policy->share(capacity(d), weight(w), total_weight(d));
}

/* What w's units hold; only_running: leave out units already stopping
 * (what could still be taken back). */
static struct slot_use held_by(const struct workflow *w, int only_running)
{
	struct slot_use u = {0};
	for (size_t i = 0; i < w->m->nfunctions; i++) {
		const struct step *s = &w->steps[i];
		uint64_t mem = slots_unit_memory(s->fn);
		for (const struct unit *x = s->units; x; x = x->next)
			if (!only_running || x->state == UNIT_RUNNING) {
				u.units++;
				u.memory += mem;
			}
		if (s->starting) {
			u.units++;
			u.memory += mem;
		}
	}
	return u;
}

static void add(struct slot_use *a, struct slot_use b)
{
	a->units += b.units;
	a->memory += b.memory;
}

static int reserving(const struct daemon *d, const struct workflow *w, uint64_t now)
{
	return w->reserve_ms && now - w->reserve_ms < (uint64_t)d->cfg.unit_drain_ms + RESERVE_SLACK_MS;
}

/* The newest running unit of w, or NULL. */
static struct unit *newest(struct workflow *w)
{
	struct unit *best = NULL;
	for (size_t i = 0; i < w->m->nfunctions; i++)
		for (struct unit *u = w->steps[i].units; u; u = u->next)
			if (u->state == UNIT_RUNNING && (!best || u->started_ms > best->started_ms))
				best = u;
	return best;
}

/* The workflow most beyond its own share (in units when units are short,
 * else in memory) that still has a running unit beyond it, or NULL. */
static struct workflow *victim(struct daemon *d, const struct workflow *for_wf, int short_units)
{
	struct workflow *best = NULL;
	uint64_t most = 0;
	for (struct workflow *w = d->workflows; w; w = w->next) {
		if (w == for_wf)
			continue;
		struct slot_use h = held_by(w, 1), share = share_of(d, w);
		uint64_t over = short_units ? (h.units > share.units ? h.units - share.units : 0)
		                            : (h.memory > share.memory ? h.memory - share.memory : 0);
		if (over > most && newest(w)) {
			most = over;
			best = w;
		}
	}
	return best;
}

/* Drain borrowed units until the start of `need` bytes fits; how many. */
static int take_back(struct daemon *d, struct workflow *w, struct slot_use used, uint64_t need)
{
	struct slot_use cap = capacity(d);
	int n = 0;
	while (used.units + 1 > cap.units || used.memory + need > cap.memory) {
		struct workflow *v = victim(d, w, used.units + 1 > cap.units);
		struct unit *u = v ? newest(v) : NULL;
		if (!u)
			break;
		struct slot_use h = held_by(v, 1), share = share_of(d, v);
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "slot taken back for workflow %s (%s held %llu units, %.0f MiB; its share is %llu units, %.0f "
		         "MiB of node max_units %u, unit_memory_budget)",
		         w->m->name, v->m->name, (unsigned long long)h.units, (double)h.memory / (1 << 20),
		         (unsigned long long)share.units, (double)share.memory / (1 << 20), d->cfg.max_units);
		snprintf(u->reclaim_for, sizeof(u->reclaim_for), "%s", w->m->name);
		unit_drain(u, STOP_RECLAIM, msg);
		used.units--;
		used.memory -= slots_unit_memory(u->step->fn);
		n++;
	}
	return n;
}

int slots_admit(struct daemon *d, struct step *s, char *why, size_t cap)
{
	struct workflow *w = s->wf;
	uint64_t now = now_ms();
	struct slot_input in = {.cap = capacity(d), .need = slots_unit_memory(s->fn)};
	in.share = share_of(d, w);
	for (const struct workflow *x = d->workflows; x; x = x->next) {
		struct slot_use h = held_by(x, 0);
		add(&in.used, h);
		if (x == w)
			in.mine = h;
		else if (reserving(d, x, now))
			add(&in.reserved, (struct slot_use){.units = 1, .memory = x->reserve_mem});
	}
	for (const struct workflow *x = d->retired; x; x = x->next) /* undeployed, units still ending */
		add(&in.used, held_by(x, 0));
	char used[32], total[32], need[32];
	fmt_bytes(in.used.memory + in.reserved.memory, used, sizeof(used));
	fmt_bytes(in.cap.memory, total, sizeof(total));
	fmt_bytes(in.need, need, sizeof(need));
	switch (policy->admit(&in)) {
	case SLOT_START:
		return 1;
	case SLOT_NEVER_MEMORY:
		snprintf(why, cap, "a unit needs %s, more than the node's whole unit memory of %s (unit_memory_budget)",
		         need, total);
		return 0;
	case SLOT_WAIT_UNITS:
		snprintf(why, cap,
		         "node max_units %u reached (%llu units here, beyond this workflow's share of %llu; %llu held "
		         "for workflows within theirs)",
		         d->cfg.max_units, (unsigned long long)in.mine.units, (unsigned long long)in.share.units,
		         (unsigned long long)in.reserved.units);
		return 0;
	case SLOT_WAIT_MEMORY:
		snprintf(why, cap, "node unit memory %s of %s in use, needs %s (unit_memory_budget)", used, total,
		         need);
		return 0;
	case SLOT_RECLAIM:
		break;
	}
	if (reserving(d, w, now)) {
		snprintf(why, cap, "waiting for units taken back from workflows beyond their share");
		return 0;
	}
	int n = take_back(d, w, in.used, in.need);
	if (n) {
		w->reserve_ms = now;
		w->reserve_mem = in.need;
		dlog("info", "what=slot-reclaim workflow=%s step=%s units=%d share_units=%llu", w->m->name, s->fn->name,
		     n, (unsigned long long)in.share.units);
		snprintf(why, cap, "taking back %d unit(s) from workflows beyond their share (within this one's share)",
		         n);
	} else if (in.used.units + 1 > in.cap.units) {
		snprintf(why, cap, "node max_units %u reached (no workflow holds units beyond its share)",
		         d->cfg.max_units);
	} else {
		snprintf(why, cap,
		         "node unit memory %s of %s in use, needs %s (unit_memory_budget; no workflow holds "
		         "memory beyond its share)",
		         used, total, need);
	}
	return 0;
}

struct slot_use slots_share(const struct daemon *d, const struct workflow *w, uint32_t *weight_out, uint32_t *total_out)
{
	*weight_out = weight(w);
	*total_out = total_weight(d);
	return share_of(d, w);
}

void slots_started(struct workflow *w)
{
	w->reserve_ms = 0;
	w->reserve_mem = 0;
}

int slots_check_deploy(const struct daemon *d, const struct uf_manifest *m, char *err, size_t errlen)
{
	uint64_t sum = 0;
	char total[32], need[32];
	fmt_bytes(d->unit_memory, total, sizeof(total));
	for (size_t i = 0; i < m->nfunctions; i++) {
		const struct uf_function *f = &m->functions[i];
		uint64_t one = slots_unit_memory(f), min = (uint64_t)f->scale.min_units * one;
		uint32_t units = f->scale.min_units ? f->scale.min_units : 1;
		if ((uint64_t)units * one > d->unit_memory) {
			fmt_bytes((uint64_t)units * one, need, sizeof(need));
			snprintf(
			    err, errlen,
			    "workflow %s: function %s: %u unit(s) of memory %llu MiB (+%u MiB for the tender) need %s, "
			    "more than the node's unit_memory_budget of %s: lower memory or min_units, or raise "
			    "unit_memory_budget in unifaasd.conf",
			    m->name, f->name, units, (unsigned long long)(f->memory >> 20), UF_TENDER_OVERHEAD >> 20,
			    need, total);
			return -1;
		}
		sum += min;
	}
	if (sum > d->unit_memory) {
		char parts[512] = "";
		size_t n = 0;
		for (size_t i = 0; i < m->nfunctions && n < sizeof(parts); i++) {
			const struct uf_function *f = &m->functions[i];
			if (f->scale.min_units)
				n += (size_t)snprintf(parts + n, sizeof(parts) - n, "%s%s %u x %llu MiB", n ? ", " : "",
				                      f->name, f->scale.min_units,
				                      (unsigned long long)(slots_unit_memory(f) >> 20));
		}
		fmt_bytes(sum, need, sizeof(need));
		snprintf(
		    err, errlen,
		    "workflow %s: the functions' min_units * memory (+%u MiB each for the tender) add up to %s (%s), "
		    "more than the node's unit_memory_budget of %s: lower min_units or memory, or raise "
		    "unit_memory_budget in unifaasd.conf",
		    m->name, UF_TENDER_OVERHEAD >> 20, need, parts, total);
		return -1;
	}
	return 0;
}
