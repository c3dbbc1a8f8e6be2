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
 * original may go.  Queues no step listens to (a push with no listener),
 * and dead-letter streams, are never trimmed: nothing reads them but people.
 *
 * The trim point is the oldest entry still needed by any group: its oldest
 * pending entry, or the first entry after its last-delivered id.  Entries
 * are ordered by id, so XTRIM MINID <point> cannot drop an unhandled one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The oldest id any group of `key` still needs; -1 if unknown or none. */
static int oldest_needed(struct store *st, const char *key, struct stream_id *need)
{
	redisReply *r = store_array(st, "XINFO GROUPS %s", key);
	int found = 0;
	for (size_t g = 0; r && g < r->elements; g++) {
		struct store_group grp;
		struct stream_id id;
		store_group(r->element[g], &grp);
		if (grp.pending > 0) {
			redisReply *p = store_array(st, "XPENDING %s %s", key, grp.name ? grp.name : "");
			int ok = p && p->elements == 4 && p->element[1]->type == REDIS_REPLY_STRING &&
			         parse_id(p->element[1]->str, &id) == 0;
			if (p)
				freeReplyObject(p);
			if (!ok)
				goto unknown;
		} else {
			if (parse_id(grp.last_delivered, &id) < 0)
				goto unknown;
			id.seq++; /* what comes after the last delivered one */
		}
		if (!found || id_less(id, *need))
			*need = id;
		found = 1;
	}
	if (r)
		freeReplyObject(r);
	return found ? 0 : -1;
unknown:
	freeReplyObject(r);
	return -1;
}

static void trim_queue(struct daemon *d, const char *wf, const char *queue)
{
	char key[300], point[64];
	struct stream_id need;
	snprintf(key, sizeof(key), "uf:q:%s:%s", wf, queue);
	if (oldest_needed(d->store, key, &need) < 0)
		return;
	uint32_t keep = d->cfg.retain_handled;
	snprintf(point, sizeof(point), "%llu-%llu", need.ms, need.seq);
	redisReply *r = NULL;
	if (keep) { /* the oldest of the `keep` handled entries just before `need` */
		r = store_array(d->store, "XREVRANGE %s (%s - COUNT %u", key, point, keep);
		int enough = r && r->elements == keep;
		if (enough)
			snprintf(point, sizeof(point), "%s", r->element[keep - 1]->element[0]->str);
		if (r)
			freeReplyObject(r);
		if (!enough) /* no more handled entries than are kept */
			return;
	}
	r = store_cmd(d->store, "XTRIM %s MINID %s", key, point);
	if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
		dlog("info", "what=trim workflow=%s queue=%s entries=%lld kept_handled=%u", wf, queue, r->integer,
		     d->cfg.retain_handled);
	if (r)
		freeReplyObject(r);
}

void retention_run(struct daemon *d)
{
	for (struct workflow *w = d->workflows; w; w = w->next)
		for (size_t i = 0; i < w->m->nfunctions; i++) {
			const char *q = w->m->functions[i].listen;
			int seen = 0; /* one trim per queue, however many steps listen */
			for (size_t j = 0; j < i && !seen; j++)
				seen = !strcmp(w->m->functions[j].listen, q);
			if (!seen)
				trim_queue(d, w->m->name, q);
		}
}
