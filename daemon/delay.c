/*
 * delay.c - the mover of delayed re-queues (common/delivery.h, "Delayed
 * re-queues"): an event a handler deferred (uf_defer), or a failure its
 * step retries after retry_delay_ms, waits in the sorted set
 * uf:delay:<wf>:<queue>, scored by when it is due; this file moves each due
 * member into its queue, where units see it like any re-queue.
 *
 * Every UF_DELAY_TICK_MS, for each listened queue of each deployed
 * workflow: the due members, oldest first, at most DELAY_BATCH of them and
 * DELAY_BYTES in all unless the first alone is larger (DUE_SCRIPT: an event
 * may be megabytes, and the moves send each member back), then, for
 * each member, one EVAL of uf_delay_move_script (XADD only if its ZREM
 * removed the member: a member moves once, whatever races), a full batch
 * followed at once by another read.  Members are decoded here, with the
 * encoding's one definition (uf_delay_decode); one that does not decode is
 * logged and moved aside (score +inf: never due again, still counted by
 * `unifaas queues`, deleted by a purge) instead of being retried for ever.
 * Everything goes through the store's asynchronous interface: the loop
 * never waits for Redis, and a tick whose reads are still out (Redis slow
 * or away) is skipped, so passes never pile up.  A move that gets no reply
 * is simply found due again next tick (the script makes that harmless).
 *
 * Undeploy without purge flushes a workflow's sets into their queues
 * (delay_flush: due or not) once its last unit has ended and its Redis user
 * is deleted, so its delayed events are kept with its queues; a purge
 * deletes the sets with the rest of its keys (registry.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delay.h"
#include "delivery.h"
#include "store.h"
#include "unifaasd.h"

#define DELAY_BATCH 128
#define DELAY_BYTES (4u << 20)

/* KEYS[1] the delay set; ARGV: max score, DELAY_BATCH, DELAY_BYTES.  Returns
 * {more, member...}: the due members that fit, more = 1 when others may be
 * due (the batch or the byte budget was full). */
static const char DUE_SCRIPT[] =
    "local m = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))\n"
    "local out, bytes, budget = {0}, 0, tonumber(ARGV[3])\n"
    "for i, v in ipairs(m) do\n"
    "  if i > 1 and bytes + #v > budget then out[1] = 1 break end\n"
    "  out[#out + 1] = v\n"
    "  bytes = bytes + #v\n"
    "end\n"
    "if #m == tonumber(ARGV[2]) then out[1] = 1 end\n"
    "return out\n";

/* One pass over one delay set. */
struct pass {
	struct daemon *d;
	char wf[UF_NAME_BUF], queue[UF_QUEUE_MAX + 1], key[UF_QUEUE_MAX + 96];
	int flush;       /* every member, due or not (an undeploy) */
	int calls;       /* replies still to come */
	long long moved; /* members this pass moved */
	long long asked; /* moves sent */
	int more;        /* the read was a full batch: read again after the moves */
};

static void pass_read(struct pass *p);

static void pass_over(struct pass *p)
{
	if (p->moved)
		dlog("info", "what=delay-move workflow=%s queue=%s events=%lld flush=%d", p->wf, p->queue, p->moved,
		     p->flush);
	if (p->more && p->moved) { /* a full batch that moved something: there may be more due */
		p->moved = p->asked = 0;
		p->more = 0;
		pass_read(p);
		return;
	}
	if (!p->flush)
		p->d->delay_busy--;
	free(p);
}

static void pass_release(struct pass *p)
{
	if (--p->calls == 0)
		pass_over(p);
}

static void moved(redisReply *r, void *arg)
{
	struct pass *p = arg;
	if (r && r->type == REDIS_REPLY_INTEGER)
		p->moved += r->integer == 1;
	else if (r && r->type == REDIS_REPLY_ERROR) /* the script put the member aside */
		dlog("error", "what=delay-move workflow=%s queue=%s error=xadd_refused cause=%s effect=\"moved aside\"",
		     p->wf, p->queue, r->str);
	pass_release(p);
}

/* A member that does not decode: logged, and moved aside (never due). */
static void set_aside(struct pass *p, const redisReply *m, const char *why)
{
	char head[64];
	size_t n = m->len < 40 ? m->len : 40;
	for (size_t i = 0; i < n; i++)
		head[i] = m->str[i] >= 0x20 && m->str[i] < 0x7f ? m->str[i] : '?';
	head[n] = '\0';
	dlog("error",
	     "what=delay-move workflow=%s queue=%s error=malformed_member bytes=%zu head=%s cause=%s "
	     "effect=\"moved aside (score +inf): purge the workflow, or ZREM it\"",
	     p->wf, p->queue, m->len, head, why);
	const char *argv[] = {"ZADD", p->key, "XX", "+inf", m->str};
	size_t len[] = {4, strlen(p->key), 2, 4, m->len};
	if (store_sendv(p->d->store, NULL, NULL, 5, argv, len) < 0)
		dlog("warn", "what=delay-move workflow=%s queue=%s cause=\"redis unreachable\"", p->wf, p->queue);
}

/* One member: the EVAL that moves it, sent. */
static void move_one(struct pass *p, const redisReply *m)
{
	struct uf_cmd x;
	const char *why;
	if (m->type != REDIS_REPLY_STRING || uf_delay_decode(p->wf, p->queue, m->str, m->len, &x, &why) < 0) {
		if (m->type == REDIS_REPLY_STRING)
			set_aside(p, m, why);
		return;
	}
	const char *argv[4 + 1 + UF_CMD_ARGS];
	size_t len[4 + 1 + UF_CMD_ARGS];
	int argc = 0;
	argv[argc] = "EVAL", len[argc++] = 4;
	argv[argc] = uf_delay_move_script, len[argc++] = strlen(uf_delay_move_script);
	argv[argc] = "2", len[argc++] = 1;
	argv[argc] = p->key, len[argc++] = strlen(p->key);
	argv[argc] = x.argv[1], len[argc++] = x.len[1];
	argv[argc] = m->str, len[argc++] = m->len;
	for (int i = 2; i < x.argc; i++) /* '*', then the fields */
		argv[argc] = x.argv[i], len[argc++] = x.len[i];
	if (store_sendv(p->d->store, moved, p, argc, argv, len) == 0) {
		p->calls++;
		p->asked++;
	}
}

static void due_read(redisReply *r, void *arg)
{
	struct pass *p = arg;
	p->calls = 1; /* held until every move is sent */
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_INTEGER) {
		for (size_t i = 1; i < r->elements; i++)
			move_one(p, r->element[i]);
		p->more = r->element[0]->integer == 1;
	}
	pass_release(p);
}

static void pass_read(struct pass *p)
{
	char max[32];
	if (p->flush)
		snprintf(max, sizeof(max), "(+inf"); /* not the members set aside */
	else
		snprintf(max, sizeof(max), "%llu", (unsigned long long)uf_time_ms());
	if (store_send(p->d->store, due_read, p, "EVAL %s 1 %s %s %d %u", DUE_SCRIPT, p->key, max, DELAY_BATCH,
	               DELAY_BYTES) < 0) {
		p->calls = 1;
		pass_release(p);
	}
}

static void pass_start(struct daemon *d, const char *wf, const char *queue, int flush)
{
	struct pass *p = calloc(1, sizeof(*p));
	if (!p)
		return;
	p->d = d;
	p->flush = flush;
	snprintf(p->wf, sizeof(p->wf), "%s", wf);
	snprintf(p->queue, sizeof(p->queue), "%s", queue);
	if (uf_delay_key(p->key, sizeof(p->key), wf, queue) < 0) {
		free(p);
		return;
	}
	if (!flush)
		d->delay_busy++;
	pass_read(p);
}

/* Each listened queue of w once, however many steps listen to it. */
static void each_queue(struct daemon *d, struct workflow *w, int flush)
{
	for (size_t i = 0; i < w->m->nfunctions; i++) {
		const char *q = w->m->functions[i].listen;
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(w->m->functions[j].listen, q);
		if (!seen)
			pass_start(d, w->m->name, q, flush);
	}
}

static void tick(uv_timer_t *t)
{
	struct daemon *d = t->data;
	/* the last tick's passes are still out, or Redis is busy (store_quiet) */
	if (d->delay_busy || !store_quiet(d->store))
		return;
	for (struct workflow *w = d->workflows; w; w = w->next)
		each_queue(d, w, 0);
}

void delay_start(struct daemon *d)
{
	uv_timer_init(d->loop, &d->delay);
	d->delay.data = d;
	uv_timer_start(&d->delay, tick, UF_DELAY_TICK_MS, UF_DELAY_TICK_MS);
}

void delay_stop(struct daemon *d)
{
	uv_timer_stop(&d->delay);
}

void delay_flush(struct daemon *d, const char *wf, const char *queue)
{
	pass_start(d, wf, queue, 1);
}
