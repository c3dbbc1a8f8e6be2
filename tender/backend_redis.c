/*
 * backend_redis.c - the tender's data plane against Redis (ARCHITECTURE §3).
 *
 * One unit reads one queue, the stream uf:q:<workflow>:<queue>, through the
 * consumer group named after its step, as its own consumer.  An event is a
 * stream entry with a field "data"; its id is the entry id (the idempotency
 * key) and its receive time the id's millisecond part.  A commit is one
 * MULTI/EXEC: XADD of every push of the acknowledged events, then XACK of
 * those events, so a unit that dies before EXEC has written nothing and
 * acknowledged nothing: its events stay pending in the group, to be claimed
 * again.  Failed and skipped events are not acknowledged either.  KV keys
 * live at uf:kv:<workflow>:<key>.
 *
 * Not here yet (issue 3): claiming other consumers' stale pending events
 * (XAUTOCLAIM), retry limits and the dead-letter stream, per-step grants.
 * Connection: a unix socket, opened before the tender's seccomp; a password
 * comes from the environment (UF_REDIS_USER, UF_REDIS_PASSWORD), never argv.
 * On any Redis failure the backend records why in b.failed and answers -EIO;
 * the tender then ends the unit (UF_END_INTERNAL) with that reason.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "uf_abi.h"

struct inflight {
	char id[UF_ID_MAX + 1];
};

struct redis_be {
	struct uf_backend b;
	redisContext *c;
	const char *wf, *queue, *group, *consumer;
	char stream[UF_QUEUE_MAX + 256];
	uint32_t count;    /* entries asked for per read */
	redisReply *batch; /* the last XREADGROUP reply */
	size_t next;       /* next entry of it to hand out */
	struct uf_bevent pending;
	int have_pending;
	struct inflight inflight[UF_BATCH_MAX];
	uint32_t ninflight;
	redisReply *kv_reply; /* keeps a GET value alive until the next call */
	char why[256];
};

static int fail(struct redis_be *r, const char *what, const redisReply *rep)
{
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

static int read_batch(struct redis_be *r, uint32_t timeout_ms)
{
	freeReplyObject(r->batch);
	r->batch = NULL;
	r->next = 0;
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
	redisReply *rep = redisCommandArgv(r->c, argc, argv, NULL);
	if (!rep || rep->type == REDIS_REPLY_ERROR) {
		int e = fail(r, "XREADGROUP", rep);
		freeReplyObject(rep);
		return e;
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
	return 0;
}

/* Entry i of the batch as an event; -1 if it is not id + [fields] with "data". */
static int entry_event(struct redis_be *r, redisReply *e)
{
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
	    e->element[0]->len > UF_ID_MAX)
		return -1;
	redisReply *f = e->element[1];
	r->pending = (struct uf_bevent){.id = e->element[0]->str, .queue = r->queue};
	r->pending.time_ms = strtoull(e->element[0]->str, NULL, 10);
	if (f->type != REDIS_REPLY_ARRAY)
		return -1;
	for (size_t i = 0; i + 1 < f->elements; i += 2)
		if (f->element[i]->type == REDIS_REPLY_STRING && strcmp(f->element[i]->str, "data") == 0 &&
		    f->element[i + 1]->type == REDIS_REPLY_STRING) {
			r->pending.data = f->element[i + 1]->str;
			r->pending.len = f->element[i + 1]->len;
			return 0;
		}
	return -1;
}

static int redis_peek(struct uf_backend *b, uint32_t timeout_ms, const struct uf_bevent **ev)
{
	struct redis_be *r = (struct redis_be *)b;
	while (!r->have_pending) {
		redisReply *es = entries_of(r->batch);
		if (!es || r->next >= es->elements) {
			/* a pop's later events are only those already there */
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
	snprintf(r->inflight[r->ninflight++].id, UF_ID_MAX + 1, "%s", r->pending.id);
	r->have_pending = 0;
}

static int redis_commit(struct uf_backend *b, const int32_t *results, uint32_t count, const struct uf_bpush *pushes,
                        uint32_t npush)
{
	struct redis_be *r = (struct redis_be *)b;
	int queued = 0, rc = 0;
	redisAppendCommand(r->c, "MULTI");
	for (uint32_t i = 0; i < npush; i++, queued++)
		redisAppendCommand(r->c, "XADD uf:q:%s:%b * data %b", r->wf, pushes[i].queue, pushes[i].queue_len,
		                   pushes[i].data, pushes[i].len);
	const char *argv[3 + UF_BATCH_MAX] = {"XACK", r->stream, r->group};
	int argc = 3;
	for (uint32_t i = 0; i < count && i < r->ninflight; i++)
		if (results[i] == 0)
			argv[argc++] = r->inflight[i].id;
	if (argc > 3) {
		redisAppendCommandArgv(r->c, argc, argv, NULL);
		queued++;
	}
	redisAppendCommand(r->c, "EXEC");
	for (int i = 0; i < queued + 2; i++) {
		redisReply *rep = NULL;
		if (redisGetReply(r->c, (void **)&rep) != REDIS_OK || !rep || rep->type == REDIS_REPLY_ERROR ||
		    (i == queued + 1 && rep->type != REDIS_REPLY_ARRAY))
			rc = rc ? rc : fail(r, "commit (MULTI/EXEC)", rep);
		freeReplyObject(rep);
		if (r->c->err)
			break;
	}
	r->ninflight = 0;
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

static void redis_close(struct uf_backend *b, int ran)
{
	(void)ran; /* nothing is kept locally: unacknowledged events stay pending in Redis */
	struct redis_be *r = (struct redis_be *)b;
	freeReplyObject(r->batch);
	freeReplyObject(r->kv_reply);
	redisFree(r->c);
	free(r);
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
	                           .close = redis_close};
	r->wf = o->workflow;
	r->queue = o->queue;
	r->group = o->group;
	r->consumer = o->consumer;
	r->count = o->count;
	snprintf(r->stream, sizeof(r->stream), "uf:q:%s:%s", o->workflow, o->queue);
	r->c = redisConnectUnix(o->socket);
	if (!r->c || r->c->err) {
		snprintf(err, errlen, "redis at %s: %s", o->socket, r->c ? r->c->errstr : "out of memory");
		goto fail;
	}
	const char *user = getenv("UF_REDIS_USER"), *pass = getenv("UF_REDIS_PASSWORD");
	if (pass) {
		redisReply *rep =
		    user ? redisCommand(r->c, "AUTH %s %s", user, pass) : redisCommand(r->c, "AUTH %s", pass);
		int ok = rep && rep->type == REDIS_REPLY_STATUS;
		snprintf(err, errlen, "redis at %s: AUTH: %s", o->socket,
		         rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "failed");
		freeReplyObject(rep);
		if (!ok)
			goto fail;
	}
	/* the group may already exist (BUSYGROUP): every other error is fatal */
	redisReply *rep = redisCommand(r->c, "XGROUP CREATE %s %s 0 MKSTREAM", r->stream, r->group);
	if (!rep || (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "BUSYGROUP", 9) != 0)) {
		snprintf(err, errlen, "redis: XGROUP CREATE %s %s: %s", r->stream, r->group,
		         rep ? rep->str : r->c->errstr);
		freeReplyObject(rep);
		goto fail;
	}
	freeReplyObject(rep);
	return &r->b;
fail:
	redisFree(r->c);
	free(r);
	return NULL;
}
