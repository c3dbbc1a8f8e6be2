/*
 * retention.c - the queues' retention policy: what is trimmed, and when.
 *
 * A queue (stream uf:q:<wf>:<queue>) keeps every entry that some step
 * listening to it has not handled yet, plus the last `retain_handled`
 * entries all of them have handled (for `unifaas queues` and for looking
 * back).  Everything older is trimmed with XTRIM MINID every
 * `trim_interval_ms`, and each trim is logged with its count, so nothing
 * disappears silently.  "Handled by a step" means delivered to its group
 * and no longer pending there; a re-queued retry is a new entry, so the
 * original may go.  Dead-letter streams are never trimmed: nothing reads
 * them but people (they count to the workflow's storage quota: quota.c).
 *
 * A queue no step listens to (a push with no listener: nothing ever
 * handles its entries) is bounded instead: it keeps its newest
 * unread_max_entries entries (the manifest's, else the node's) and, when
 * unread_max_age_ms is set, none older; its oldest entries beyond that are
 * dropped (XTRIM MAXLEN, MINID), each trim logged with the count, the
 * queue and the bound (what=trim why=unread_length|unread_age).  A trim
 * of more than UNREAD_TRIM_STEP entries is made in steps of at most that
 * many a interval (XTRIM MAXLEN ~ LIMIT), so no trim holds Redis long.
 *
 * A workflow over its storage quota (quota.c) keeps none of its handled
 * entries: they would hold it over its quota while its units drain the
 * rest, so its queues are trimmed to what is not handled yet, at each
 * measurement that finds it over (retention_over_quota) as well as every
 * trim_interval_ms.
 *
 * The trim point is the oldest entry still needed by any group: its oldest
 * pending entry, or the first entry after its last-delivered id.  Entries
 * are ordered by id, so XTRIM MINID <point> cannot drop an unhandled one.
 * The reads and the trim are sent without waiting for Redis (store_send);
 * a trim that gets no answer is simply tried again next interval, and none
 * is started while Redis is away or busy (store_quiet).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "retention.h"
#include "store.h"
#include "unifaasd.h"

struct stream_id {
	unsigned long long ms, seq;
};

static int parse_id(const char *s, struct stream_id *id)
{
	return s && sscanf(s, "%llu-%llu", &id->ms, &id->seq) == 2 ? 0 : -1;
}

static int id_less(struct stream_id a, struct stream_id b)
{
	return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq);
}

/* One queue's trim: its reads and writes go out without waiting (store_send). */
struct trim {
	struct daemon *d;
	char wf[UF_NAME_BUF], queue[UF_QUEUE_MAX + 1], key[300];
	int calls, failed, found;
	uint32_t keep;         /* handled entries kept: retain_handled, or 0 over the quota */
	struct stream_id need; /* the oldest id any group still needs */
};

static void need_id(struct trim *t, struct stream_id id)
{
	if (!t->found || id_less(id, t->need))
		t->need = id;
	t->found = 1;
}

static void trimmed(redisReply *r, void *arg)
{
	struct trim *t = arg;
	if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
		const char *labels[] = {t->wf, t->queue, "handled"};
		metric_add(M_QUEUE_TRIMMED, labels, (double)r->integer);
		if (t->keep == t->d->cfg.retain_handled)
			dlog("info", "what=trim workflow=%s queue=%s entries=%lld kept_handled=%u", t->wf, t->queue,
			     r->integer, t->keep);
		else /* quota.c: its handled entries go at once */
			dlog("info", "what=trim workflow=%s queue=%s entries=%lld kept_handled=%u why=over_quota",
			     t->wf, t->queue, r->integer, t->keep);
	}
	free(t);
}

static void trim_to(struct trim *t, const char *point)
{
	if (store_send(t->d->store, trimmed, t, "XTRIM %s MINID %s", t->key, point) < 0)
		free(t);
}

/* The `keep` handled entries just before `need`: the oldest of them is the point. */
static void kept_read(redisReply *r, void *arg)
{
	struct trim *t = arg;
	uint32_t keep = t->keep;
	char point[64];
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != keep) { /* no more handled entries than are kept */
		free(t);
		return;
	}
	snprintf(point, sizeof(point), "%s", r->element[keep - 1]->element[0]->str);
	trim_to(t, point);
}

/* Every group's need is known: trim up to it, keeping t->keep. */
static void needs_known(struct trim *t)
{
	uint32_t keep = t->keep;
	char point[64];
	if (t->failed || !t->found) {
		free(t);
		return;
	}
	snprintf(point, sizeof(point), "%llu-%llu", t->need.ms, t->need.seq);
	if (!keep)
		trim_to(t, point);
	else if (store_send(t->d->store, kept_read, t, "XREVRANGE %s (%s - COUNT %u", t->key, point, keep) < 0)
		free(t);
}

static void trim_release(struct trim *t)
{
	if (--t->calls == 0)
		needs_known(t);
}

/* XPENDING summary of a group with pending entries: its oldest one. */
static void oldest_pending(redisReply *r, void *arg)
{
	struct trim *t = arg;
	struct stream_id id;
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 4 && r->element[1]->type == REDIS_REPLY_STRING &&
	    parse_id(r->element[1]->str, &id) == 0)
		need_id(t, id);
	else
		t->failed = 1;
	trim_release(t);
}

static void groups_read(redisReply *r, void *arg)
{
	struct trim *t = arg;
	t->failed |= !r || r->type != REDIS_REPLY_ARRAY;
	for (size_t g = 0; !t->failed && g < r->elements; g++) {
		struct store_group grp;
		struct stream_id id;
		store_group(r->element[g], &grp);
		if (grp.pending > 0) {
			if (store_send(t->d->store, oldest_pending, t, "XPENDING %s %s", t->key,
			               grp.name ? grp.name : "") < 0)
				t->failed = 1;
			else
				t->calls++;
		} else if (parse_id(grp.last_delivered, &id) < 0) {
			t->failed = 1;
		} else {
			id.seq++; /* what comes after the last delivered one */
			need_id(t, id);
		}
	}
	trim_release(t);
}

static void trim_queue(struct daemon *d, const char *wf, const char *queue, uint32_t keep)
{
	struct trim *t = calloc(1, sizeof(*t));
	if (!t)
		return;
	t->d = d;
	t->keep = keep;
	snprintf(t->wf, sizeof(t->wf), "%s", wf);
	snprintf(t->queue, sizeof(t->queue), "%s", queue);
	snprintf(t->key, sizeof(t->key), "uf:q:%s:%s", wf, queue);
	t->calls = 1;
	if (store_send(d->store, groups_read, t, "XINFO GROUPS %s", t->key) < 0)
		free(t);
}

/* ---- queues no step listens to ---- */

#define UNREAD_TRIM_STEP 10000 /* entries one trim of an unread queue drops at most */

struct unread {
	struct daemon *d;
	char wf[UF_NAME_BUF], queue[UF_QUEUE_MAX + 1], key[300];
	uint64_t max, age_ms; /* its bounds */
	const char *why;      /* of the trim under way */
	uint64_t bound;
};

static void unread_trimmed(redisReply *r, void *arg);

static void unread_age(struct unread *u)
{
	if (!u->age_ms) {
		free(u);
		return;
	}
	uint64_t now = wall_ms(), min = now > u->age_ms ? now - u->age_ms : 0;
	u->why = "unread_age";
	u->bound = u->age_ms;
	if (store_send(u->d->store, unread_trimmed, u, "XTRIM %s MINID %llu-0", u->key, (unsigned long long)min) < 0)
		free(u);
}

static void unread_trimmed(redisReply *r, void *arg)
{
	struct unread *u = arg;
	if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
		const char *labels[] = {u->wf, u->queue, u->why};
		metric_add(M_QUEUE_TRIMMED, labels, (double)r->integer);
		dlog("warn", "what=trim workflow=%s queue=%s entries=%lld why=%s bound=%llu cause=%s", u->wf, u->queue,
		     r->integer, u->why, (unsigned long long)u->bound,
		     "no step listens to the queue: its oldest entries are dropped");
	}
	if (r && !strcmp(u->why, "unread_length"))
		unread_age(u);
	else
		free(u);
}

static void unread_len(redisReply *r, void *arg)
{
	struct unread *u = arg;
	if (!r || r->type != REDIS_REPLY_INTEGER || (uint64_t)r->integer <= u->max) {
		if (r && r->type == REDIS_REPLY_INTEGER)
			unread_age(u);
		else
			free(u);
		return;
	}
	uint64_t excess = (uint64_t)r->integer - u->max;
	int sent;
	u->why = "unread_length";
	u->bound = u->max;
	if (excess <= UNREAD_TRIM_STEP)
		sent = store_send(u->d->store, unread_trimmed, u, "XTRIM %s MAXLEN %llu", u->key,
		                  (unsigned long long)u->max);
	else /* whole radix-tree nodes, a step at a time: the rest next interval */
		sent = store_send(u->d->store, unread_trimmed, u, "XTRIM %s MAXLEN ~ %llu LIMIT %d", u->key,
		                  (unsigned long long)u->max, UNREAD_TRIM_STEP);
	if (sent < 0)
		free(u);
}

static void trim_unread(struct daemon *d, const struct workflow *w, const char *queue)
{
	struct unread *u = calloc(1, sizeof(*u));
	if (!u)
		return;
	u->d = d;
	u->max = w->m->unread_max_entries ? w->m->unread_max_entries : d->cfg.unread_max_entries;
	u->age_ms = w->m->unread_max_age_ms ? w->m->unread_max_age_ms : d->cfg.unread_max_age_ms;
	snprintf(u->wf, sizeof(u->wf), "%s", w->m->name);
	snprintf(u->queue, sizeof(u->queue), "%s", queue);
	snprintf(u->key, sizeof(u->key), "uf:q:%s:%s", w->m->name, queue);
	if (store_send(d->store, unread_len, u, "XLEN %s", u->key) < 0)
		free(u);
}

/* Each queue a step of w pushes to and none listens to, once. */
static void unread_queues(struct daemon *d, const struct workflow *w)
{
	for (size_t i = 0; i < w->m->nfunctions; i++)
		for (size_t p = 0; p < w->m->functions[i].npush; p++) {
			const char *q = w->m->functions[i].push[p];
			int seen = uf_manifest_listener(w->m, q) != NULL;
			for (size_t j = 0; j <= i && !seen; j++)
				for (size_t k = 0; k < (j < i ? w->m->functions[j].npush : p) && !seen; k++)
					seen = !strcmp(w->m->functions[j].push[k], q);
			if (!seen)
				trim_unread(d, w, q);
		}
}

/* Each queue a step of w listens to, once, keeping retain_handled
 * handled entries (none while w is over its storage quota). */
static void listened_queues(struct daemon *d, const struct workflow *w)
{
	for (size_t i = 0; i < w->m->nfunctions; i++) {
		const char *q = w->m->functions[i].listen;
		int seen = 0; /* one trim per queue, however many steps listen */
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(w->m->functions[j].listen, q);
		if (!seen)
			trim_queue(d, w->m->name, q, w->over_quota ? 0 : d->cfg.retain_handled);
	}
}

void retention_run(struct daemon *d)
{
	if (!store_quiet(d->store))
		return; /* Redis is away or busy (a large push): next interval */
	for (struct workflow *w = d->workflows; w; w = w->next)
		unread_queues(d, w);
	for (struct workflow *w = d->workflows; w; w = w->next)
		listened_queues(d, w);
}

void retention_over_quota(struct daemon *d, const struct workflow *w)
{
	if (store_quiet(d->store))
		listened_queues(d, w);
}
