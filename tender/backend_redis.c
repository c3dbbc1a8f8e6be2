/*
 * backend_redis.c - the tender's data plane against Redis (ARCHITECTURE §3).
 *
 * One unit reads one queue, the stream uf:q:<wf>:<queue>, through the
 * consumer group named after its step, as its own consumer.  The entry
 * fields, their parsing and the commands that settle an event are the
 * delivery protocol of common/delivery.h, which unifaasd uses too for the
 * events of units that died: an entry holds "data" and, when it was
 * re-queued, "origin" (the id of the event's first entry: the idempotency
 * key the handler sees as ev->id, and whose millisecond part is
 * ev->time_ms) and "attempt" (failed deliveries so far; absent = 0).
 *
 * A batch is settled by MULTI/EXECs of whole events, in order: each holds
 * at most limits.batch_commit_writes commands and batch_commit_bytes bytes
 * of the events it settles (common/event_limits.h; one event alone may
 * pass them by its settlement and reply, never by its writes, which the
 * per-event limits keep within them).  So Redis, single-threaded, is never
 * held by one commit for longer than a chunk takes (bench/stall.sh), and
 * an event's acknowledgement and all its writes are in one MULTI/EXEC:
 * all or nothing.  A unit that dies between two EXECs has settled the
 * events of the chunks before (written and acknowledged) and nothing of
 * the rest, which stay pending and are re-queued by unifaasd like those of
 * any dead unit: each event is still written exactly once per successful
 * delivery and delivered at least once.  What one MULTI/EXEC holds, for
 * the events it settles:
 *   XADD uf:q:<wf>:<q> * data ..   each push of the acknowledged events
 *   XADD uf:out:mqtt:<wf> * step .. topic .. qos .. data .. event <origin>
 *                                  each MQTT publish they staged (the outbox
 *                                  unifaasd's MQTT client empties)
 *   SET / INCRBY / DEL uf:kv:<wf>:<key>   their staged KV writes, in order
 *                                  (adjacent INCRBYs of one key merged)
 *   a failed event (handler error, uf_fail, refused push, or the guest's
 *   fault or time limit while handling it), with n = attempt + 1:
 *     n > retries: XADD uf:dlq:<wf>:<queue> * data .. origin .. attempts n
 *                  step .. reason .. time <ms>
 *     else:        XADD uf:q:<wf>:<queue> * data .. origin .. attempt n reason ..
 *   an event handed back (never handled, or handled but its commit lost to a
 *   fault of a later event): XADD uf:q:<wf>:<queue> * data .. origin .. attempt
 *   (unchanged)
 *   a deferred event (uf_defer): the same with deferrals + 1 and its reason
 *   (past UF_DEFER_MAX deferrals: a failed event, "deferred N times: ..")
 *   a re-queue that waits (a deferral's delay, or --retry-delay-ms for a
 *   failure): ZADD uf:delay:<wf>:<queue> <due ms> <the XADD, encoded> instead
 *   of the XADD (delivery.h; unifaasd moves it to the queue when due)
 *   XACK of every event it settles, whatever its outcome
 *   HINCRBY uf:stat:<wf>:<step> <consumer> <acknowledged ok>, failed <n>,
 *   dead <n> (each only when non-zero; failed counts every failed delivery,
 *   dead those of them dead-lettered)
 *   PUBLISH uf:reply:<wf> "<token>\n<outcome>\n<body>" for each acknowledged
 *   or failed event whose entry carries a reply token (an invoke waits):
 *   ok + its uf_reply (or the JSON of its pushes), failed + the reason
 * (the stats and replies of a chunk's events go in its MULTI/EXEC, the
 * unit's cold start in the first).  So after a unit ends, none of its
 * events is pending, unless the tender
 * itself died (kill -9, a lost connection): entries pending for a consumer
 * whose unit is gone are the orchestrator's to settle (XAUTOCLAIM, then
 * re-queue or dead-letter them as above).  KV writes a handler stages are
 * part of its event's commit; reads (GET) go to Redis at once.
 *
 * Keys touched: uf:q:<wf>:*, uf:kv:<wf>:*, uf:dlq:<wf>:*, uf:stat:<wf>:*, uf:delay:<wf>:* (ZADD),
 * uf:out:mqtt:<wf> (XADD only).
 * Commands used: exactly uf_unit_commands (common/delivery.c), which the
 * workflow's Redis ACL user is granted and nothing more: AUTH, XGROUP
 * CREATE, XREADGROUP, XACK, XADD, MULTI, EXEC, GET, SET, INCRBY, DEL,
 * HINCRBY, PUBLISH, ZADD, STRLEN (uf:reply:<wf> only; the outbox uf:out:mqtt:<wf> write only;
 * uf:quota:<wf> GET only).
 * Connection: a unix socket, opened before the tender's seccomp; a password
 * comes from the environment (UF_REDIS_USER, UF_REDIS_PASSWORD), never argv.
 * On any Redis failure the backend records why in b.failed and answers -EIO;
 * the tender then ends the unit (UF_END_INTERNAL) with that reason.  A
 * write Redis refuses because it is at its maxmemory (an "OOM" error: a
 * commit is then discarded whole, EXECABORT) gets the reason
 * UF_REASON_REDIS_FULL (delivery.h), which unifaasd reads to re-queue the
 * events uncounted.
 *
 * Storage quota (delivery.h): every XREADGROUP is followed, in the same
 * write, by GET uf:quota:<wf>, so each batch comes with whether the
 * workflow is over its quota, at no extra round trip (Redis answers the
 * GET once the read is answered: the state is as fresh as the batch).
 * While it is over, the tender asks the stored lengths of the keys a
 * commit sets (STRLEN, pipelined: one round trip, only then) to tell the
 * writes that grow storage from those that do not (hvt_dataplane.c).
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "delivery.h"
#include "hvt.h"
#include "launch.h"
#include "uf_abi.h"

struct redis_be {
	struct uf_backend b;
	redisContext *c;
	const char *socket, *user; /* for messages */
	int authing;               /* an AUTH reply is still to be read */
	const char *wf, *queue, *group, *consumer;
	struct uf_delivery dv; /* wf, queue, group and retries, for the protocol's commands */
	char stream[UF_QUEUE_MAX + 256];
	uint32_t count;                     /* entries asked for per read */
	uint64_t chunk_bytes, chunk_writes; /* a commit's MULTI/EXEC: at most these, whole events */
	redisReply *batch;                  /* the last XREADGROUP reply */
	size_t next;                        /* next entry of it to hand out */
	int batch_taken;                    /* an entry of `batch` is in flight: keep it on the next read */
	redisReply *held[UF_BATCH_MAX + 1]; /* earlier replies in-flight entries point into */
	uint32_t nheld;
	struct uf_bevent pending;
	struct uf_entry pending_entry; /* its strings live in a held reply */
	int have_pending;
	struct uf_entry inflight[UF_BATCH_MAX];
	uint32_t ninflight;
	redisReply *kv_reply;             /* keeps a GET value alive until the next call */
	uint64_t spawn_ms;                /* UF_SPAWN_ENV: when unifaasd launched this unit (0: not known) */
	uint64_t first_pop_ms;            /* when the first entries came (0: none yet) */
	int cold_sent;                    /* the cold start was counted */
	unsigned dead_logged;             /* dead letters logged (log_dead: the first 16) */
	char quota_key[UF_NAME_MAX + 16]; /* uf:quota:<wf> (delivery.h) */
	int over_quota;                   /* as read with the last batch */
	uint32_t quota_retry_ms;          /* ... and the delay of a refused event */
	int quota_give_up;                /* ... or whether it is dead-lettered (uf_quota_gives_up) */
	char quota_why[UF_REASON_MAX];    /* ... and its reason */
	char why[512];
};

static int fail(struct redis_be *r, const char *what, const redisReply *rep)
{
	if (!r->c->err && rep && rep->type == REDIS_REPLY_ERROR && uf_redis_full(rep->str)) {
		/* maxmemory, noeviction (delivery.h): nothing of it was written */
		snprintf(r->why, sizeof(r->why),
		         "redis: %s: refused, " UF_REASON_REDIS_FULL ": it wrote nothing, its events stay pending "
		         "and are re-queued uncounted (%s)",
		         what, rep->str);
		r->b.failed = r->why;
		return -EIO;
	}
	snprintf(r->why, sizeof(r->why), "redis: %s: %s", what,
	         r->c->err                               ? r->c->errstr
	         : rep && rep->type == REDIS_REPLY_ERROR ? rep->str
	                                                 : "unexpected reply");
	r->b.failed = r->why;
	return -EIO;
}

/* The entries array of an XREADGROUP reply for our one stream, or NULL. */
static redisReply *entries_of(redisReply *rep)
{
	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 1)
		return NULL;
	redisReply *s = rep->element[0];
	if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 || s->element[1]->type != REDIS_REPLY_ARRAY)
		return NULL;
	return s->element[1];
}

static void release_batch(struct redis_be *r)
{
	if (r->batch && r->batch_taken && r->nheld < UF_BATCH_MAX + 1)
		r->held[r->nheld++] = r->batch;
	else
		freeReplyObject(r->batch);
	r->batch = NULL;
	r->batch_taken = 0;
	r->next = 0;
}

/* The reply to the GET uf:quota:<wf> that follows each XREADGROUP. */
static int quota_read(struct redis_be *r)
{
	redisReply *rep = NULL;
	struct uf_quota_state q;
	if (redisGetReply(r->c, (void **)&rep) != REDIS_OK || !rep || rep->type == REDIS_REPLY_ERROR) {
		int e = fail(r, "GET (storage quota)", rep);
		freeReplyObject(rep);
		return e;
	}
	r->over_quota = rep->type == REDIS_REPLY_STRING && uf_quota_parse(rep->str, rep->len, &q) == 0;
	if (r->over_quota) {
		r->quota_retry_ms = q.retry_ms;
		r->quota_give_up = uf_quota_gives_up(&q);
		uf_quota_reason(r->quota_why, sizeof(r->quota_why), &q);
	}
	freeReplyObject(rep);
	return 0;
}

static int redis_over_quota(struct uf_backend *b, const char **why, uint32_t *retry_ms, int *give_up)
{
	struct redis_be *r = (struct redis_be *)b;
	*why = r->quota_why;
	*retry_ms = r->quota_retry_ms;
	*give_up = r->quota_give_up;
	return r->over_quota;
}

/* STRLEN of each key, pipelined: one round trip. */
static int redis_kv_lens(struct uf_backend *b, const struct uf_bkv *kvs, uint32_t n, uint64_t *lens)
{
	struct redis_be *r = (struct redis_be *)b;
	int rc = 0;
	for (uint32_t i = 0; i < n; i++)
		redisAppendCommand(r->c, "STRLEN uf:kv:%s:%b", r->wf, kvs[i].key, kvs[i].klen);
	for (uint32_t i = 0; i < n; i++) {
		redisReply *rep = NULL;
		if (redisGetReply(r->c, (void **)&rep) != REDIS_OK || !rep) {
			rc = rc ? rc : fail(r, "STRLEN", rep);
			freeReplyObject(rep);
			break;
		}
		if (rep->type == REDIS_REPLY_INTEGER)
			lens[i] = rep->integer > 0 ? (uint64_t)rep->integer : 0;
		else /* WRONGTYPE: not a KV string, left to the write to refuse */
			lens[i] = UINT64_MAX;
		freeReplyObject(rep);
	}
	return rc;
}

static int read_batch(struct redis_be *r, uint32_t timeout_ms)
{
	release_batch(r);
	char count[16], block[16];
	snprintf(count, sizeof(count), "%u", r->count);
	snprintf(block, sizeof(block), "%u", timeout_ms);
	const char *argv[] = {"XREADGROUP", "GROUP", r->group,  r->consumer, "COUNT", count,
	                      "BLOCK",      block,   "STREAMS", r->stream,   ">"};
	int argc = 11;
	if (timeout_ms == 0) { /* BLOCK 0 would wait for ever: leave it out */
		argv[6] = "STREAMS", argv[7] = r->stream, argv[8] = ">";
		argc = 9;
	}
	redisReply *rep = NULL;
	redisAppendCommandArgv(r->c, argc, argv, NULL);
	redisAppendCommand(r->c, "GET %s", r->quota_key);
	if (redisGetReply(r->c, (void **)&rep) != REDIS_OK)
		rep = NULL;
	if (!rep || rep->type == REDIS_REPLY_ERROR) {
		int e = fail(r, "XREADGROUP", rep);
		freeReplyObject(rep);
		return e;
	}
	if (quota_read(r) < 0) {
		freeReplyObject(rep);
		return -EIO;
	}
	if (rep->type == REDIS_REPLY_NIL) {
		freeReplyObject(rep);
		return 0;
	}
	if (!entries_of(rep)) {
		int e = fail(r, "XREADGROUP reply", rep);
		freeReplyObject(rep);
		return e;
	}
	r->batch = rep;
	if (!r->first_pop_ms && entries_of(rep)->elements)
		r->first_pop_ms = uf_time_ms();
	return 0;
}

/* Entry e as an event; -1 if it is not id + [fields] with "data". */
static int entry_event(struct redis_be *r, redisReply *e)
{
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
	    e->element[0]->len > UF_ID_MAX)
		return -1;
	redisReply *f = e->element[1];
	struct uf_entry *en = &r->pending_entry;
	uf_entry_init(en, e->element[0]->str);
	if (f->type != REDIS_REPLY_ARRAY)
		return -1;
	for (size_t i = 0; i + 1 < f->elements; i += 2) {
		redisReply *k = f->element[i], *v = f->element[i + 1];
		if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING)
			uf_entry_field(en, k->str, k->len, v->str, v->len);
	}
	if (!en->data)
		return -1;
	r->pending = (struct uf_bevent){.id = en->origin,
	                                .queue = r->queue,
	                                .data = en->data,
	                                .len = en->len,
	                                .time_ms = strtoull(en->origin, NULL, 10),
	                                .src = en->src,
	                                .src_len = en->src_len,
	                                .attrs = en->attrs,
	                                .attrs_len = en->attrs_len};
	return 0;
}

static int redis_peek(struct uf_backend *b, uint32_t timeout_ms, const struct uf_bevent **ev)
{
	struct redis_be *r = (struct redis_be *)b;
	while (!r->have_pending) {
		redisReply *es = entries_of(r->batch);
		if (!es || r->next >= es->elements) {
			/* a pop's later events are only those already there; when the
			 * last read got fewer than it asked for there were no more, so
			 * asking again would cost a round trip for nothing */
			if (r->ninflight && es && es->elements < r->count)
				return 0;
			int e = read_batch(r, r->ninflight ? 0 : timeout_ms);
			if (e < 0)
				return e;
			es = entries_of(r->batch);
			if (!es || es->elements == 0)
				return 0;
		}
		redisReply *e = es->element[r->next++];
		if (entry_event(r, e) == 0)
			r->have_pending = 1;
		else if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 && e->element[0]->type == REDIS_REPLY_STRING)
			/* not an event (no "data" field): acknowledge it so it cannot block the queue */
			freeReplyObject(redisCommand(r->c, "XACK %s %s %s", r->stream, r->group, e->element[0]->str));
	}
	*ev = &r->pending;
	return 1;
}

static void redis_take(struct uf_backend *b)
{
	struct redis_be *r = (struct redis_be *)b;
	r->inflight[r->ninflight++] = r->pending_entry;
	r->batch_taken = 1;
	r->have_pending = 0;
}

/* Queue the KV writes of events [lo, hi), merging adjacent INCRBYs of one
 * key; kv_of[j] is the write that queued command j stands for (for error
 * messages). */
static int append_kvs(struct redis_be *r, const struct uf_bkv *kvs, uint32_t nkv, uint32_t lo, uint32_t hi,
                      uint32_t *kv_of)
{
	int queued = 0;
	for (uint32_t i = 0; i < nkv; i++) {
		const struct uf_bkv *k = &kvs[i];
		if (k->event < lo || k->event >= hi)
			continue;
		kv_of[queued++] = i;
		if (k->op == UF_KV_SET) {
			redisAppendCommand(r->c, "SET uf:kv:%s:%b %b", r->wf, k->key, k->klen, k->val, k->len);
		} else if (k->op == UF_KV_DEL) {
			redisAppendCommand(r->c, "DEL uf:kv:%s:%b", r->wf, k->key, k->klen);
		} else {
			int64_t by = k->num, sum;
			while (i + 1 < nkv && kvs[i + 1].op == UF_KV_INCR && kvs[i + 1].event >= lo &&
			       kvs[i + 1].event < hi && kvs[i + 1].klen == k->klen &&
			       memcmp(kvs[i + 1].key, k->key, k->klen) == 0 &&
			       !__builtin_add_overflow(by, kvs[i + 1].num, &sum))
				by = sum, i++;
			char num[24];
			int n = snprintf(num, sizeof(num), "%" PRId64, by);
			redisAppendCommand(r->c, "INCRBY uf:kv:%s:%b %b", r->wf, k->key, k->klen, num, (size_t)n);
		}
	}
	return queued;
}

/* Queue the latency counts of the events acknowledged as handled (results
 * 0): one HINCRBY per bucket used and one of the sum (delivery.h).  The
 * number of commands queued. */
static int append_latency(struct redis_be *r, const struct uf_entry *ents, const int32_t *results, uint32_t n,
                          uint64_t tms)
{
	uint32_t in[UF_LAT_NBOUNDS + 1] = {0};
	uint64_t sum = 0;
	int queued = 0;
	struct uf_cmd cmd;
	char field[32];
	for (uint32_t i = 0; i < n; i++) {
		if (results[i] != 0)
			continue;
		uint64_t ms = uf_lat_ms(ents[i].origin, ents[i].origin_len, tms);
		in[uf_lat_bucket(ms)]++;
		sum += ms;
	}
	for (unsigned b = 0; b <= UF_LAT_NBOUNDS; b++) {
		snprintf(field, sizeof(field), UF_STAT_LAT_BUCKET "%u", b);
		if (in[b] && uf_count_cmd(&r->dv, field, in[b], &cmd) == 0) {
			redisAppendCommandArgv(r->c, cmd.argc, cmd.argv, cmd.len);
			queued++;
		}
	}
	if (queued && uf_count_cmd(&r->dv, UF_STAT_LAT_SUM_MS, sum, &cmd) == 0) {
		redisAppendCommandArgv(r->c, cmd.argc, cmd.argv, cmd.len);
		queued++;
	}
	return queued;
}

/* Queue the unit's cold start (delivery.h), once, in its first commit after
 * its first events came.  The number of commands queued. */
static int append_cold_start(struct redis_be *r)
{
	struct uf_cmd cmd;
	char field[32];
	if (r->cold_sent || !r->spawn_ms || !r->first_pop_ms)
		return 0;
	r->cold_sent = 1;
	uint64_t ms = r->first_pop_ms > r->spawn_ms ? r->first_pop_ms - r->spawn_ms : 0;
	snprintf(field, sizeof(field), UF_STAT_COLD_BUCKET "%u", uf_lat_bucket(ms));
	if (uf_count_cmd(&r->dv, field, 1, &cmd) < 0)
		return 0;
	redisAppendCommandArgv(r->c, cmd.argc, cmd.argv, cmd.len);
	if (uf_count_cmd(&r->dv, UF_STAT_COLD_SUM_MS, ms, &cmd) < 0)
		return 1;
	redisAppendCommandArgv(r->c, cmd.argc, cmd.argv, cmd.len);
	return 2;
}

/* {"pushes":[{"queue":Q,"data":S}...]} of event ev's pushes (malloc'd,
 * *len bytes): an invoke's result when its handler set no uf_reply. */
static char *pushes_json(const struct uf_bpush *pushes, uint32_t npush, uint32_t ev, size_t *len)
{
	size_t cap = 16;
	for (uint32_t i = 0; i < npush; i++)
		if (pushes[i].event == ev)
			cap += 16 + 6 * pushes[i].queue_len + UF_JSON_DATA_MAX(pushes[i].len);
	char *s = malloc(cap);
	if (!s)
		return NULL;
	size_t o = (size_t)sprintf(s, "{\"pushes\":[");
	int first = 1;
	for (uint32_t i = 0; i < npush; i++) {
		if (pushes[i].event != ev)
			continue;
		o += (size_t)sprintf(s + o, "%s{\"queue\":\"", first ? "" : ",");
		o += uf_json_escape(s + o, pushes[i].queue, pushes[i].queue_len);
		memcpy(s + o, "\",", 2);
		o += 2;
		o += uf_json_data(s + o, pushes[i].data, pushes[i].len);
		s[o++] = '}';
		first = 0;
	}
	memcpy(s + o, "]}", 2);
	*len = o + 2;
	return s;
}

/* Is event ev deferred for the storage quota (UF_SETTLE_WAIT), not by uf_defer? */
static int quota_wait(const struct uf_bout *outs, uint32_t nout, uint32_t ev)
{
	for (uint32_t k = 0; k < nout; k++)
		if (outs[k].kind == UF_OUTPUT_DEFER && outs[k].event == ev)
			return outs[k].quota;
	return 0;
}

/*
 * Queue the invoke replies of the settled events that carry a reply token
 * (delivery.h): one PUBLISH uf:reply:<wf> each, "ok" with the event's
 * uf_reply or else the JSON of its pushes, "failed" with the reason,
 * "deferred" with the quota's reason for an event put off for the storage
 * quota; an event handed back or put off by uf_defer (it will be delivered
 * again) sends none.  The number
 * of commands queued.  A reply the tender has no memory for is logged and
 * left out (the waiting request answers 202, as when it times out).
 */
static int append_replies(struct redis_be *r, const struct uf_entry *ents, uint32_t lo, uint32_t hi,
                          const int32_t *results, const char *const *reasons, const struct uf_bpush *pushes,
                          uint32_t npush, const struct uf_bout *outs, uint32_t nout)
{
	int queued = 0;
	for (uint32_t i = lo; i < hi; i++) {
		const struct uf_entry *e = &ents[i];
		char why[UF_REASON_MAX + 48], *own = NULL;
		const char *reason = reasons && reasons[i] ? reasons[i] : NULL;
		int wait = results[i] == UF_RESULT_DEFERRED && quota_wait(outs, nout, i);
		if (!e->reply || results[i] == UF_RESULT_SKIPPED ||
		    (results[i] == UF_RESULT_DEFERRED && !wait &&
		     !uf_defer_exhausted(why, sizeof(why), e->deferrals, reason)))
			continue; /* delivered again: its reply comes then */
		const char *body = NULL, *outcome = wait         ? UF_REPLY_DEFERRED
		                                    : results[i] ? UF_REPLY_FAILED
		                                                 : UF_REPLY_OK;
		size_t blen = 0;
		if (wait) { /* kept for the quota: the caller hears why now */
			body = reason ? reason : "deferred";
			blen = strlen(body);
		} else if (results[i] == UF_RESULT_DEFERRED) { /* deferred too often: failed, why says so */
			body = why;
			blen = strlen(body);
		} else if (results[i] != 0) {
			snprintf(why, sizeof(why), "handler returned %d", results[i]);
			body = reason ? reason : why;
			blen = strlen(body);
		}
		for (uint32_t k = 0; !body && k < nout; k++)
			if (outs[k].kind == UF_OUTPUT_REPLY && outs[k].event == i)
				body = outs[k].data, blen = outs[k].len;
		if (!body)
			body = own = pushes_json(pushes, npush, i, &blen);
		size_t mlen = body ? uf_reply_msg(NULL, 0, e->reply, e->reply_len, outcome, body, blen) : 0;
		char *msg = body ? malloc(mlen) : NULL;
		struct uf_cmd cmd;
		if (msg && (uf_reply_msg(msg, mlen, e->reply, e->reply_len, outcome, body, blen),
		            uf_reply_cmd(r->wf, msg, mlen, &cmd) == 0)) {
			redisAppendCommandArgv(r->c, cmd.argc, cmd.argv, cmd.len);
			queued++;
		} else {
			hvt_printf(2,
			           "uf-hvt: unit=%s workflow=%s step=%s event=%.*s error=reply_not_sent cause=\"out of "
			           "host memory\"\n",
			           r->consumer, r->wf, r->group, (int)e->origin_len, e->origin);
		}
		free(msg);
		free(own);
	}
	return queued;
}

/* The delay the DEFER output of event ev asks for (0 if it has none). */
static uint32_t defer_ms(const struct uf_bout *outs, uint32_t nout, uint32_t ev)
{
	for (uint32_t k = 0; k < nout; k++)
		if (outs[k].kind == UF_OUTPUT_DEFER && outs[k].event == ev)
			return outs[k].delay_ms;
	return 0;
}

/* One MULTI/EXEC: the settlement of events [lo, hi) of the batch with
 * every write they staged (see the top of this file). */
/* One line per dead letter a commit wrote, the first 16 of a unit, in the
 * step's log: the reason a function or a limit of one event gave (the
 * runtime refuses a staging call past a limit and fails the event itself,
 * so nothing else on the host names that limit). */
static void log_dead(struct redis_be *r, const struct uf_entry *ents, const uint32_t *dead_of, const char *const *why,
                     uint32_t ndead)
{
	for (uint32_t i = 0; i < ndead && r->dead_logged < 16; i++) {
		const struct uf_entry *e = &ents[dead_of[i]];
		hvt_printf(2,
		           "uf-hvt: unit=%s what=dead-letter workflow=%s step=%s queue=%s event=%.*s attempts=%u "
		           "reason=\"%s\"%s\n",
		           r->consumer, r->wf, r->group, r->queue, (int)e->origin_len, e->origin, e->attempt + 1,
		           why[i] ? why[i] : "-",
		           ++r->dead_logged == 16 ? " (further dead letters of this unit are not logged)" : "");
	}
}

static int settle_chunk(struct redis_be *r, const struct uf_entry *ents, uint32_t lo, uint32_t hi,
                        const int32_t *results, const char *const *reasons, const struct uf_bpush *pushes,
                        uint32_t npush, const struct uf_bkv *kvs, uint32_t nkv, const struct uf_bout *outs,
                        uint32_t nout, uint64_t tms)
{
	uint32_t *kv_of = nkv ? malloc(nkv * sizeof(*kv_of)) : NULL;
	if (nkv && !kv_of) {
		snprintf(r->why, sizeof(r->why), "commit: out of host memory for %u kv writes", nkv);
		r->b.failed = r->why;
		return -ENOMEM;
	}
	int queued = 0, rc = 0;
	uint32_t nok = 0, nfail = 0, ndead = 0, n = hi - lo;
	uint32_t dead_of[UF_BATCH_MAX]; /* the events dead-lettered, for log_dead */
	const char *dead_why[UF_BATCH_MAX];
	struct uf_cmd cmd;
	char why[64];
	redisAppendCommand(r->c, "MULTI");
	for (uint32_t i = 0; i < npush; i++) { /* names checked at the hypercall: the key fits */
		if (pushes[i].event < lo || pushes[i].event >= hi)
			continue;
		uf_push_cmd(r->wf, pushes[i].queue, pushes[i].queue_len, pushes[i].data, pushes[i].len, &cmd);
		redisAppendCommandArgv(r->c, cmd.argc, cmd.argv, cmd.len);
		queued++;
	}
	for (uint32_t i = 0; i < nout; i++) { /* the publishes of the acknowledged events: the outbox */
		const struct uf_bout *o = &outs[i];
		if (o->kind != UF_OUTPUT_MQTT || o->event < lo || o->event >= hi)
			continue;
		uf_outbox_cmd(&r->dv, o->topic, o->topic_len, o->qos, o->data, o->len, ents[o->event].origin,
		              ents[o->event].origin_len, &cmd);
		redisAppendCommandArgv(r->c, cmd.argc, cmd.argv, cmd.len);
		queued++;
	}
	int kv_first = queued;
	int nkvq = append_kvs(r, kvs, nkv, lo, hi, kv_of);
	queued += nkvq;
	for (uint32_t i = lo; i < hi; i++) {
		const struct uf_entry *e = &ents[i];
		if (results[i] == 0) {
			nok++;
			continue;
		}
		int how = results[i] == UF_RESULT_SKIPPED ? UF_SETTLE_HANDBACK
		          : results[i] == UF_RESULT_DEFERRED
		              ? (quota_wait(outs, nout, i) ? UF_SETTLE_WAIT : UF_SETTLE_DEFERRED)
		          : results[i] == UF_RESULT_PERMANENT ? UF_SETTLE_PERMANENT
		                                              : UF_SETTLE_FAILED;
		const char *reason = reasons && reasons[i] ? reasons[i] : NULL;
		if (how != UF_SETTLE_DEFERRED && how != UF_SETTLE_WAIT && how != UF_SETTLE_HANDBACK && !reason) {
			snprintf(why, sizeof(why), "handler returned %d", results[i]);
			reason = why;
		}
		if ((how == UF_SETTLE_DEFERRED || how == UF_SETTLE_WAIT) && !reason)
			reason = "deferred";
		int f = uf_settle_cmd(&r->dv, e, how, defer_ms(outs, nout, i), reason, tms, &cmd);
		if (f < 0) { /* no memory for a delayed member: the batch stays pending */
			rc = -ENOMEM;
			snprintf(r->why, sizeof(r->why), "commit: out of host memory for a delayed re-queue");
			r->b.failed = r->why;
			break;
		}
		nfail += (f & UF_SETTLED_COUNTED) != 0;
		if (f & UF_SETTLED_DEAD) {
			dead_of[ndead] = i;
			dead_why[ndead++] = reason;
		}
		redisAppendCommandArgv(r->c, cmd.argc, cmd.argv, cmd.len);
		uf_cmd_release(&cmd);
		queued++;
	}
	if (rc) { /* nothing was sent yet: drop what is buffered, the connection is given up */
		free(kv_of);
		return rc;
	}
	if (n) {
		const char *argv[3 + UF_BATCH_MAX] = {"XACK", r->stream, r->group};
		for (uint32_t i = 0; i < n; i++)
			argv[3 + i] = ents[lo + i].id;
		redisAppendCommandArgv(r->c, 3 + (int)n, argv, NULL);
		queued++;
	}
	const char *fields[3] = {r->consumer, UF_STAT_FAILED, UF_STAT_DEAD};
	uint32_t counts[3] = {nok, nfail, ndead};
	for (int f = 0; f < 3; f++) {
		if (!counts[f] || uf_count_cmd(&r->dv, fields[f], counts[f], &cmd) < 0)
			continue;
		redisAppendCommandArgv(r->c, cmd.argc, cmd.argv, cmd.len);
		queued++;
	}
	queued += append_latency(r, ents + lo, results + lo, n, tms);
	queued += append_cold_start(r);
	queued += append_replies(r, ents, lo, hi, results, reasons, pushes, npush, outs, nout);
	redisAppendCommand(r->c, "EXEC");
	for (int i = 0; i < queued + 2; i++) {
		redisReply *rep = NULL;
		if (redisGetReply(r->c, (void **)&rep) != REDIS_OK || !rep) {
			rc = rc ? rc : fail(r, "commit (MULTI/EXEC)", rep);
			freeReplyObject(rep);
			break;
		}
		if (i < queued + 1) { /* +OK, then QUEUED (or the error that aborts the EXEC) */
			if (rep->type == REDIS_REPLY_ERROR)
				rc = rc ? rc : fail(r, "commit (MULTI/EXEC)", rep);
		} else if (rep->type != REDIS_REPLY_ARRAY || rep->elements != (size_t)queued) {
			rc = rc ? rc : fail(r, "commit (MULTI/EXEC)", rep);
		} else {
			for (int j = 0; j < queued; j++) {
				const redisReply *x = rep->element[j];
				if (x->type != REDIS_REPLY_ERROR)
					continue;
				if (j < kv_first || j >= kv_first + nkvq) {
					rc = rc ? rc : fail(r, "commit (MULTI/EXEC)", x);
					continue;
				}
				/* a KV write Redis refused (INCRBY of a value that is not an
				 * integer): EXEC applied the rest; report it, as the local
				 * backend does */
				const struct uf_bkv *k = &kvs[kv_of[j - kv_first]];
				hvt_printf(2,
				           "uf-hvt: unit=%s workflow=%s step=%s event=%s error=kv_write_failed op=%s "
				           "key=%.*s reason=\"%s\"\n",
				           r->consumer, r->wf, r->group, k->event < hi ? ents[k->event].origin : "-",
				           k->op == UF_KV_SET   ? "set"
				           : k->op == UF_KV_DEL ? "del"
				                                : "incr",
				           (int)(k->klen > 80 ? 80 : k->klen), k->key, x->str);
			}
		}
		freeReplyObject(rep);
		if (r->c->err)
			break;
	}
	free(kv_of);
	if (rc == 0)
		log_dead(r, ents, dead_of, dead_why, ndead);
	return rc;
}

/*
 * Settle `n` entries (results as for commit()) in as few MULTI/EXECs as the
 * chunk limits allow (see the top of this file): each holds whole events,
 * at most chunk_writes commands and chunk_bytes bytes unless one event
 * alone is larger (the per-event limits keep it within them).  A chunk
 * that fails stops the rest, whose events stay pending.
 */
static int settle(struct redis_be *r, const struct uf_entry *ents, uint32_t n, const int32_t *results,
                  const char *const *reasons, const struct uf_bpush *pushes, uint32_t npush, const struct uf_bkv *kvs,
                  uint32_t nkv, const struct uf_bout *outs, uint32_t nout)
{
	uint64_t w[UF_BATCH_MAX] = {0}, b[UF_BATCH_MAX] = {0}, tms = uf_time_ms();
	for (uint32_t i = 0; i < n; i++) { /* its settlement (and the data of a re-queue), its reply */
		w[i] = 1 + (ents[i].reply != NULL);
		b[i] = results[i] ? ents[i].len : 0;
	}
	for (uint32_t i = 0; i < npush; i++)
		if (pushes[i].event < n)
			w[pushes[i].event]++, b[pushes[i].event] += pushes[i].queue_len + pushes[i].len;
	for (uint32_t i = 0; i < nout; i++)
		if (outs[i].event < n)
			w[outs[i].event] += outs[i].kind == UF_OUTPUT_MQTT,
			    b[outs[i].event] += outs[i].topic_len + outs[i].len;
	for (uint32_t i = 0; i < nkv; i++)
		if (kvs[i].event < n)
			w[kvs[i].event]++, b[kvs[i].event] += kvs[i].klen + kvs[i].len;
	uint32_t lo = 0;
	int rc;
	do {
		uint32_t hi = lo;
		uint64_t cw = 0, cb = 0;
		while (hi < n && (hi == lo || (cw + w[hi] <= r->chunk_writes && cb + b[hi] <= r->chunk_bytes)))
			cw += w[hi], cb += b[hi], hi++;
		rc = settle_chunk(r, ents, lo, hi, results, reasons, pushes, npush, kvs, nkv, outs, nout, tms);
		lo = hi;
	} while (rc == 0 && lo < n);
	return rc;
}

static void free_held(struct redis_be *r)
{
	for (uint32_t i = 0; i < r->nheld; i++)
		freeReplyObject(r->held[i]);
	r->nheld = 0;
}

static int redis_commit(struct uf_backend *b, const int32_t *results, const char *const *reasons, uint32_t count,
                        const struct uf_bpush *pushes, uint32_t npush, const struct uf_bkv *kvs, uint32_t nkv,
                        const struct uf_bout *outs, uint32_t nout)
{
	struct redis_be *r = (struct redis_be *)b;
	uint32_t n = count < r->ninflight ? count : r->ninflight;
	int rc = settle(r, r->inflight, n, results, reasons, pushes, npush, kvs, nkv, outs, nout);
	r->ninflight = 0;
	free_held(r);
	r->batch_taken = 0;
	return rc;
}

static redisReply *kv_command(struct redis_be *r, const char *fmt, const char *key, size_t klen, const void *v,
                              size_t vlen)
{
	freeReplyObject(r->kv_reply);
	r->kv_reply = redisCommand(r->c, fmt, r->wf, key, klen, v, vlen);
	return r->kv_reply;
}

static int redis_kv_get(struct uf_backend *b, const char *key, size_t klen, const char **val, size_t *len)
{
	struct redis_be *r = (struct redis_be *)b;
	redisReply *rep = kv_command(r, "GET uf:kv:%s:%b", key, klen, NULL, 0);
	if (!rep || rep->type == REDIS_REPLY_ERROR)
		return fail(r, "GET", rep);
	if (rep->type == REDIS_REPLY_NIL)
		return -ENOENT;
	*val = rep->str;
	*len = rep->len;
	return 0;
}

static int redis_kv_set(struct uf_backend *b, const char *key, size_t klen, const char *val, size_t len)
{
	struct redis_be *r = (struct redis_be *)b;
	redisReply *rep = kv_command(r, "SET uf:kv:%s:%b %b", key, klen, val, len);
	return !rep || rep->type == REDIS_REPLY_ERROR ? fail(r, "SET", rep) : 0;
}

static int redis_kv_incr(struct uf_backend *b, const char *key, size_t klen, int64_t by, int64_t *out)
{
	struct redis_be *r = (struct redis_be *)b;
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", (long long)by);
	redisReply *rep = kv_command(r, "INCRBY uf:kv:%s:%b %b", key, klen, num, (size_t)n);
	if (rep && rep->type == REDIS_REPLY_ERROR && strstr(rep->str, "not an integer"))
		return -EINVAL;
	if (rep && rep->type == REDIS_REPLY_ERROR && strstr(rep->str, "overflow"))
		return -ERANGE;
	if (!rep || rep->type != REDIS_REPLY_INTEGER)
		return fail(r, "INCRBY", rep);
	*out = rep->integer;
	return 0;
}

static int redis_kv_del(struct uf_backend *b, const char *key, size_t klen)
{
	struct redis_be *r = (struct redis_be *)b;
	redisReply *rep = kv_command(r, "DEL uf:kv:%s:%b", key, klen, NULL, 0);
	if (!rep || rep->type != REDIS_REPLY_INTEGER)
		return fail(r, "DEL", rep);
	return rep->integer ? 0 : -ENOENT;
}

/*
 * Entries read from Redis (so pending for this consumer) but never handed to
 * the guest: hand them back, re-queued unchanged, so that a unit that ends
 * leaves nothing pending behind it.
 */
static void hand_back_unread(struct redis_be *r)
{
	redisReply *es = entries_of(r->batch);
	if (!es || r->b.failed || r->c->err)
		return;
	struct uf_entry ents[UF_BATCH_MAX];
	int32_t results[UF_BATCH_MAX];
	uint32_t n = 0;
	for (size_t i = r->have_pending ? r->next - 1 : r->next; i < es->elements && n < UF_BATCH_MAX; i++) {
		if (entry_event(r, es->element[i]) < 0)
			continue;
		ents[n] = r->pending_entry;
		results[n++] = UF_RESULT_SKIPPED;
	}
	r->have_pending = 0;
	if (n && settle(r, ents, n, results, NULL, NULL, 0, NULL, 0, NULL, 0) < 0)
		hvt_printf(2, "uf-hvt: %s; %u events read but not handled stay pending\n", r->why, n);
}

static void redis_close(struct uf_backend *b, int ran)
{
	struct redis_be *r = (struct redis_be *)b;
	if (ran)
		hand_back_unread(r);
	free_held(r);
	freeReplyObject(r->batch);
	freeReplyObject(r->kv_reply);
	redisFree(r->c);
	free(r);
}

/* The replies to what uf_redis_backend_open sent: -1 with err if refused. */
static int redis_ready(struct uf_backend *b, char *err, size_t errlen)
{
	struct redis_be *r = (struct redis_be *)b;
	redisReply *rep = NULL;
	if (r->authing) {
		if (redisGetReply(r->c, (void **)&rep) != REDIS_OK)
			rep = NULL;
		int ok = rep && rep->type == REDIS_REPLY_STATUS;
		snprintf(err, errlen, "redis at %s: AUTH%s%s: %s (check UF_REDIS_USER and UF_REDIS_PASSWORD)",
		         r->socket, r->user ? " as " : "", r->user ? r->user : "",
		         rep && rep->type == REDIS_REPLY_ERROR ? rep->str
		         : r->c->err                           ? r->c->errstr
		                                               : "failed");
		freeReplyObject(rep);
		if (!ok)
			return -1;
	}
	/* the group may already exist (BUSYGROUP): every other error is fatal */
	if (redisGetReply(r->c, (void **)&rep) != REDIS_OK)
		rep = NULL;
	if (!rep || (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "BUSYGROUP", 9) != 0)) {
		snprintf(err, errlen, "redis: XGROUP CREATE %s %s: %s", r->stream, r->group,
		         rep ? rep->str : r->c->errstr);
		freeReplyObject(rep);
		return -1;
	}
	freeReplyObject(rep);
	return 0;
}

struct uf_backend *uf_redis_backend_open(const struct uf_redis_opts *o, char *err, size_t errlen)
{
	struct redis_be *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->b = (struct uf_backend){.peek = redis_peek,
	                           .take = redis_take,
	                           .commit = redis_commit,
	                           .kv_get = redis_kv_get,
	                           .kv_set = redis_kv_set,
	                           .kv_incr = redis_kv_incr,
	                           .kv_del = redis_kv_del,
	                           .ready = redis_ready,
	                           .over_quota = redis_over_quota,
	                           .kv_lens = redis_kv_lens,
	                           .close = redis_close};
	r->b.settle_on_end = 1;
	r->dv = (struct uf_delivery){.wf = o->workflow,
	                             .queue = o->queue,
	                             .step = o->group,
	                             .retries = o->retries,
	                             .retry_delay_ms = o->retry_delay_ms};
	r->wf = o->workflow;
	r->queue = o->queue;
	r->group = o->group;
	r->consumer = o->consumer;
	r->count = o->count;
	r->chunk_bytes = o->chunk_bytes ? o->chunk_bytes : UINT64_MAX;
	r->chunk_writes = o->chunk_writes ? o->chunk_writes : UINT64_MAX;
	uf_key(r->stream, sizeof(r->stream), "q", o->workflow, o->queue, strlen(o->queue));
	snprintf(r->quota_key, sizeof(r->quota_key), UF_QUOTA_KEY "%s", o->workflow);
	r->c = redisConnectUnix(o->socket);
	if (!r->c || r->c->err) {
		snprintf(err, errlen, "redis at %s: %s", o->socket, r->c ? r->c->errstr : "out of memory");
		goto fail;
	}
	/* AUTH and XGROUP CREATE are sent now and their replies read in
	 * redis_ready(), after the VM is set up: the round trips overlap the
	 * KVM work instead of adding to the boot */
	const char *user = getenv("UF_REDIS_USER"), *pass = getenv("UF_REDIS_PASSWORD"), *sp = getenv(UF_SPAWN_ENV);
	r->spawn_ms = sp ? strtoull(sp, NULL, 10) : 0;
	r->socket = o->socket;
	r->user = user;
	r->authing = pass != NULL;
	int ok = REDIS_OK;
	if (pass)
		ok = user ? redisAppendCommand(r->c, "AUTH %s %s", user, pass)
		          : redisAppendCommand(r->c, "AUTH %s", pass);
	if (ok == REDIS_OK)
		ok = redisAppendCommand(r->c, "XGROUP CREATE %s %s 0 MKSTREAM", r->stream, r->group);
	for (int done = 0; ok == REDIS_OK && !done;)
		ok = redisBufferWrite(r->c, &done);
	if (ok != REDIS_OK) {
		snprintf(err, errlen, "redis at %s: %s", o->socket, r->c->errstr);
		goto fail;
	}
	return &r->b;
fail:
	redisFree(r->c);
	free(r);
	return NULL;
}
