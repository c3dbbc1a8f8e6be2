/*
 * store.c - the daemon's connections to Redis.
 *
 * Three connections over the unix socket, all authenticated as the
 * platform's own user: a synchronous one, used only before the loop runs
 * (restore and cleanup at start; reads, so its one retry after a broken
 * connection cannot do anything twice); an asynchronous one for every
 * command from the loop (store_send: the loop never waits for a reply, a
 * command is never retried, and when Redis makes no progress - the oldest
 * command waiting gets no reply within STORE_TIMEOUT_MS, plus the time its
 * size allows (STORE_BYTES_PER_MS), counted from when it was sent or from
 * the reply before it, whichever is later - the connection is dropped, so
 * every caller hears NULL and carries on; it is made again at most every
 * 200 ms.  A busy Redis working through a 16 MiB push is not a stalled
 * one: the deadline follows what Redis is working on, and the watchdog
 * reads what Redis already answered before it judges, since a loop late
 * itself - a loaded machine - runs its timers before it reads); and an asynchronous one subscribed to
 * the keyspace channels (event `xadd`) of the
 * queues the scheduler watches: only queues with a listening step that has
 * no unit, because a notification per event of a busy queue would cost the
 * daemon ~10% of a core at 20k events/s for nothing.  Any may drop when
 * redis-server restarts: a synchronous command reconnects once
 * (at most every 200 ms) and otherwise returns NULL; the subscriber
 * reconnects every 500 ms and, once back, asks for a full check, because
 * notifications sent while it was away are lost (the periodic check covers
 * them anyway: a missed notification costs a tick, never an event).
 *
 * A channel subscription (store_psubscribe: invoke-and-wait's replies)
 * has a dedicated connection of its own, so a burst of keyspace messages
 * never delays a reply and a reply pattern never mixes with the watch
 * set.  It reconnects every 500 ms; what is published while it is away is
 * lost (its waiters answer at their timeouts).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delivery.h"
#include "quota.h"
#include "store.h"
#include "unifaasd.h"

#define CHANNEL_PREFIX "__keyspace@0__:"

/* A queue whose keyspace channel we want to hear (see store_watch). */
struct watch {
	struct watch *next;
	char channel[256]; /* __keyspace@0__:uf:q:<wf 48>:<queue 128> */
	int subscribed;    /* a SUBSCRIBE was sent on the current connection */
	int wanted;        /* still wanted after the last store_watch_end */
};

/* A command sent on the asynchronous connection, waiting for its reply;
 * kept in send order, so the oldest is first. */
struct call {
	struct call *next, *prev;
	struct store *s;
	store_cb cb;
	void *arg;
	uint64_t sent_ms;
	uint64_t allow_ms; /* STORE_TIMEOUT_MS plus what its size allows */
	size_t bytes;      /* the command's size */
	char op[24];       /* the command's name, for the log */
};

/* A pattern subscription on a connection of its own (store_psubscribe). */
struct psub {
	struct store *s;
	char pattern[128];
	store_message_fn fn;
	void *arg;
	redisAsyncContext *ac;
	uv_timer_t retry;
};

struct store {
	uv_loop_t *loop;
	struct psub *psub;     /* at most one: the reply channels */
	redisAsyncContext *ac; /* commands from the loop */
	uv_timer_t ac_timer;   /* watchdog of the oldest call; reconnect */
	uint64_t ac_attempt_ms;
	int ac_was_down;
	int ac_ready;    /* authenticated */
	int open_timers; /* while closing */
	struct call *calls, *calls_last;
	size_t ncalls;          /* calls waiting for their reply */
	size_t nbytes;          /* and their commands' bytes */
	uint64_t last_reply_ms; /* Redis's last sign of progress */
	char socket[4096];
	char password[256];
	redisContext *c;
	uint64_t last_attempt_ms;
	redisAsyncContext *sub;
	uv_timer_t sub_retry;
	store_notify_fn notify;
	void *arg;
	void (*reconnected)(void *arg);
	void (*replied)(void *arg); /* after every reply (store_on_reply) */
	void *replied_arg;
	int closing;
	int was_down;
	int refused;     /* the last AUTH got an error reply: the password is wrong */
	char cause[256]; /* why the last connect_sync failed */
	struct watch *watches;
};

/* 0 accepted (or no password), -1 refused, -2 no answer (Redis stopped or
 * gone: not a verdict on the password). */
static int authenticate(redisContext *c, const char *password)
{
	if (!password[0])
		return 0;
	redisReply *r = redisCommand(c, "AUTH %s", password);
	int rc = !r ? -2 : r->type == REDIS_REPLY_STATUS ? 0 : -1;
	if (r)
		freeReplyObject(r);
	return rc;
}

static int connect_sync(struct store *s)
{
	struct timeval tv = {.tv_sec = 2};
	s->last_attempt_ms = now_ms();
	redisContext *c = redisConnectUnixWithTimeout(s->socket, tv);
	if (!c || c->err) {
		snprintf(s->cause, sizeof(s->cause), "%s", c ? c->errstr : "out of memory");
		if (!s->was_down)
			dlog("warn", "what=redis op=connect socket=%s cause=\"%s\"", s->socket, s->cause);
		s->was_down = 1;
		redisFree(c);
		return -1;
	}
	redisSetTimeout(c, tv);
	fcntl(c->fd, F_SETFD, FD_CLOEXEC); /* never inherited by a unit */
	int auth = authenticate(c, s->password);
	if (auth < 0) {
		s->refused = auth == -1;
		snprintf(s->cause, sizeof(s->cause), "%s",
		         auth == -1 ? "password refused" : "no answer to AUTH within 2 s");
		dlog(auth == -1 ? "error" : "warn", "what=redis op=auth socket=%s cause=\"%s\"", s->socket, s->cause);
		s->was_down = 1;
		redisFree(c);
		return -1;
	}
	s->refused = 0;
	int again = s->was_down;
	s->was_down = 0;
	s->c = c;
	if (again) {
		dlog("info", "what=redis op=connect socket=%s result=reconnected", s->socket);
		if (s->reconnected)
			s->reconnected(s->arg);
	}
	return 0;
}

static int ensure(struct store *s)
{
	if (s->c && !s->c->err)
		return 0;
	if (s->c) {
		redisFree(s->c);
		s->c = NULL;
		s->was_down = 1;
	}
	if (now_ms() - s->last_attempt_ms < 200)
		return -1;
	return connect_sync(s);
}

redisReply *store_cmdv(struct store *s, int argc, const char **argv, const size_t *argvlen)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (ensure(s) < 0)
			return NULL;
		redisReply *r = redisCommandArgv(s->c, argc, argv, argvlen);
		if (r)
			return r;
		dlog("warn", "what=redis op=%s cause=\"%s\"", argv[0], s->c->errstr);
		redisFree(s->c);
		s->c = NULL;
		s->was_down = 1;
		s->last_attempt_ms = 0; /* one immediate reconnect */
	}
	return NULL;
}

static redisReply *vcmd(struct store *s, const char *fmt, va_list ap)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (ensure(s) < 0)
			return NULL;
		va_list copy;
		va_copy(copy, ap);
		redisReply *r = redisvCommand(s->c, fmt, copy);
		va_end(copy);
		if (r)
			return r;
		dlog("warn", "what=redis op=command cause=\"%s\"", s->c->errstr);
		redisFree(s->c);
		s->c = NULL;
		s->was_down = 1;
		s->last_attempt_ms = 0;
	}
	return NULL;
}

redisReply *store_cmd(struct store *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = vcmd(s, fmt, ap);
	va_end(ap);
	return r;
}

redisReply *store_array(struct store *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = vcmd(s, fmt, ap);
	va_end(ap);
	if (r && r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		r = NULL;
	}
	return r;
}

redisReply *store_field(const redisReply *pairs, const char *name)
{
	for (size_t i = 0; pairs && pairs->type == REDIS_REPLY_ARRAY && i + 1 < pairs->elements; i += 2)
		if (pairs->element[i]->type == REDIS_REPLY_STRING && !strcmp(pairs->element[i]->str, name))
			return pairs->element[i + 1];
	return NULL;
}

void store_group(const redisReply *record, struct store_group *g)
{
	redisReply *name = store_field(record, "name"), *last = store_field(record, "last-delivered-id");
	redisReply *pending = store_field(record, "pending"), *lag = store_field(record, "lag");
	g->name = name && name->type == REDIS_REPLY_STRING ? name->str : NULL;
	g->last_delivered = last && last->type == REDIS_REPLY_STRING ? last->str : NULL;
	g->pending = pending && pending->type == REDIS_REPLY_INTEGER ? pending->integer : 0;
	g->lag = lag && lag->type == REDIS_REPLY_INTEGER ? lag->integer : -1;
}

int store_append(struct store *s, const char *fmt, ...)
{
	if (ensure(s) < 0)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	int rc = redisvAppendCommand(s->c, fmt, ap);
	va_end(ap);
	return rc == REDIS_OK ? 0 : -1;
}

int store_appendv(struct store *s, int argc, const char **argv, const size_t *argvlen)
{
	if (ensure(s) < 0)
		return -1;
	return redisAppendCommandArgv(s->c, argc, argv, argvlen) == REDIS_OK ? 0 : -1;
}

redisReply *store_reply(struct store *s)
{
	if (!s->c)
		return NULL;
	void *r = NULL;
	if (redisGetReply(s->c, &r) != REDIS_OK) {
		dlog("warn", "what=redis op=reply cause=\"%s\"", s->c->errstr);
		redisFree(s->c);
		s->c = NULL;
		s->was_down = 1;
		return NULL;
	}
	return r;
}

/* One readiness probe on the synchronous connection: 0 when Redis answers
 * PING with PONG; else -1 and what it got in s->cause (LOADING, no answer,
 * no socket...), or -2 when it refused the password. */
static int probe(struct store *s)
{
	s->last_attempt_ms = 0; /* the caller paces the attempts */
	if (ensure(s) < 0)
		return s->refused ? -2 : -1;
	redisReply *r = redisCommand(s->c, "PING");
	int ok = r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG");
	if (!ok)
		snprintf(s->cause, sizeof(s->cause), "%s",
		         !r                             ? "no answer to PING within 2 s"
		         : r->type == REDIS_REPLY_ERROR ? r->str
		                                        : "PING not answered PONG");
	if (r)
		freeReplyObject(r);
	if (!r) { /* a stopped Redis: the next attempt connects again */
		redisFree(s->c);
		s->c = NULL;
		s->was_down = 1;
	}
	return ok ? 0 : -1;
}

/* The kind of a cause, for logging once per change: LOADING's text, a
 * timeout's, a refused connection's are each stable; only the first word
 * of an error reply is kept. */
static size_t cause_kind(const char *cause)
{
	size_t n = strcspn(cause, " ");
	return isupper((unsigned char)cause[0]) && cause[1] && isupper((unsigned char)cause[1]) ? n : strlen(cause);
}

int store_wait_ready(struct store *s, uint64_t deadline_ms, char *err, size_t errlen)
{
	uint64_t t0 = now_ms();
	unsigned pause_ms = 50;
	char seen[sizeof(s->cause)] = "";
	for (;;) {
		int rc = probe(s);
		if (rc == 0) {
			if (seen[0])
				dlog("info", "what=redis op=wait socket=%s result=ready waited_ms=%llu", s->socket,
				     (unsigned long long)(now_ms() - t0));
			return 0;
		}
		if (rc == -2) {
			snprintf(
			    err, errlen,
			    "redis at %s refused unifaasd's password: redis_password in unifaas.conf does not match "
			    "Redis's ACL (run 'unifaas down', then 'unifaas up')",
			    s->socket);
			return -1;
		}
		size_t k = cause_kind(s->cause);
		if (k != cause_kind(seen) || strncmp(seen, s->cause, k)) {
			dlog("warn",
			     "what=redis op=wait socket=%s state=not-ready cause=\"%s\" retry=until-ready bound_ms=%u",
			     s->socket, s->cause, STORE_READY_WAIT_MS);
			snprintf(seen, sizeof(seen), "%s", s->cause);
		}
		if (now_ms() + pause_ms >= deadline_ms) {
			snprintf(err, errlen,
			         "redis at %s not ready after %llu ms (last: %s): check that redis-server runs and has "
			         "loaded its data (state dir's logs/redis.log), then start unifaasd again",
			         s->socket, (unsigned long long)(now_ms() - t0), s->cause);
			return -1;
		}
		usleep(pause_ms * 1000);
		pause_ms = pause_ms * 2 > 1000 ? 1000 : pause_ms * 2;
	}
}

/* ---- hiredis on the libuv loop ----
 *
 * hiredis's own libuv adapter (adapters/libuv.h, 0.14) drops a poll event
 * that comes with an error status, and libuv reports a connection reset by
 * the server (Redis shut down with commands of ours unread) as exactly that,
 * after stopping the poll: the context is then never read again and never
 * hears that it is dead.  This is that adapter with the error read, which
 * makes hiredis see the reset and disconnect. */
struct uv_events {
	uv_poll_t poll;
	redisAsyncContext *ac;
	int events;
};

static void ev_poll(uv_poll_t *h, int status, int events)
{
	struct uv_events *p = h->data;
	if (status < 0)
		events = UV_READABLE; /* the read fails, and hiredis disconnects */
	if (p->ac && (events & UV_READABLE))
		redisAsyncHandleRead(p->ac);
	if (p->ac && (events & UV_WRITABLE))
		redisAsyncHandleWrite(p->ac);
}

static void ev_update(struct uv_events *p, int add, int flag)
{
	p->events = add ? p->events | flag : p->events & ~flag;
	if (p->events)
		uv_poll_start(&p->poll, p->events, ev_poll);
	else
		uv_poll_stop(&p->poll);
}

static void ev_add_read(void *d)
{
	ev_update(d, 1, UV_READABLE);
}

static void ev_del_read(void *d)
{
	ev_update(d, 0, UV_READABLE);
}

static void ev_add_write(void *d)
{
	ev_update(d, 1, UV_WRITABLE);
}

static void ev_del_write(void *d)
{
	ev_update(d, 0, UV_WRITABLE);
}

static void ev_closed(uv_handle_t *h)
{
	free(h->data);
}

static void ev_cleanup(void *d)
{
	struct uv_events *p = d;
	p->ac = NULL;
	uv_close((uv_handle_t *)&p->poll, ev_closed);
}

static int attach(redisAsyncContext *ac, uv_loop_t *loop)
{
	struct uv_events *p = calloc(1, sizeof(*p));
	if (!p)
		return -1;
	if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
		free(p);
		return -1;
	}
	p->ac = ac;
	p->poll.data = p;
	ac->ev.addRead = ev_add_read;
	ac->ev.delRead = ev_del_read;
	ac->ev.addWrite = ev_add_write;
	ac->ev.delWrite = ev_del_write;
	ac->ev.cleanup = ev_cleanup;
	ac->ev.data = p;
	return 0;
}

/* ---- commands from the loop ---- */

static void ac_connect(struct store *s);
static void ac_down(struct store *s, const char *why);

static void call_unlink(struct store *s, struct call *c)
{
	*(c->prev ? &c->prev->next : &s->calls) = c->next;
	*(c->next ? &c->next->prev : &s->calls_last) = c->prev;
	s->ncalls--;
	s->nbytes -= c->bytes;
}

static void on_call_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	(void)ac;
	struct call *c = privdata;
	redisReply *r = reply;
	c->s->last_reply_ms = now_ms();
	call_unlink(c->s, c);
	if (c->cb)
		c->cb(r, c->arg);
	else if (r && r->type == REDIS_REPLY_ERROR && uf_redis_full(r->str))
		quota_count_refusal(c->s->arg, NULL, c->op, r->str); /* a write nobody waits for */
	else if (r && r->type == REDIS_REPLY_ERROR)
		dlog("warn", "what=redis op=%s cause=\"%s\"", c->op, r->str);
	struct store *s = c->s;
	free(c);
	if (s->replied)
		s->replied(s->replied_arg);
}

/* When the oldest waiting call is overdue: Redis answers in order, so it
 * started on that call when the call was sent or when the reply before it
 * came, whichever is later. */
static uint64_t oldest_deadline(const struct store *s)
{
	const struct call *c = s->calls;
	uint64_t from = c->sent_ms > s->last_reply_ms ? c->sent_ms : s->last_reply_ms;
	return from + c->allow_ms;
}

static void ac_timer_cb(uv_timer_t *t)
{
	struct store *s = t->data;
	uint64_t now = now_ms();
	if (!s->ac) {
		ac_connect(s);
		return;
	}
	if (s->calls && now >= oldest_deadline(s)) {
		/* the loop itself may have been late (a loaded machine: timers run
		 * before the loop reads its sockets): what Redis already answered
		 * is progress, read it before judging Redis stalled */
		redisAsyncHandleRead(s->ac); /* may drop the connection: ac_down */
		if (!s->ac)
			return;
		now = now_ms();
	}
	if (s->calls && now >= oldest_deadline(s)) {
		if (!s->ac_was_down)
			dlog("warn", "what=redis op=%s cause=\"no reply in %llu ms\" action=reconnect", s->calls->op,
			     (unsigned long long)s->calls->allow_ms);
		redisAsyncContext *ac = s->ac;
		ac_down(s, "no reply");
		redisAsyncFree(ac); /* every waiting call hears NULL */
		return;
	}
	if (s->calls)
		uv_timer_start(&s->ac_timer, ac_timer_cb, oldest_deadline(s) - now, 0);
}

static void ac_down(struct store *s, const char *why)
{
	if (!s->ac_was_down)
		dlog("warn", "what=redis op=connect socket=%s cause=\"%s\" retry_ms=200", s->socket, why);
	s->ac = NULL;
	s->ac_ready = 0;
	s->ac_was_down = 1;
	if (!s->closing)
		uv_timer_start(&s->ac_timer, ac_timer_cb, 200, 0);
}

static void on_ac_disconnect(const redisAsyncContext *ac, int status)
{
	struct store *s = ac->data;
	if (s->ac == ac) /* not one we dropped ourselves */
		ac_down(s, status == REDIS_OK ? "closed" : ac->errstr);
}

static void on_ac_connect(const redisAsyncContext *ac, int status)
{
	struct store *s = ac->data;
	if (status != REDIS_OK && s->ac == ac)
		ac_down(s, ac->errstr); /* hiredis frees the context */
}

/* The AUTH reply: the connection is usable, again or for the first time. */
static void on_ac_auth(redisReply *r, void *arg)
{
	struct store *s = arg;
	if (!r || r->type == REDIS_REPLY_ERROR) {
		if (r)
			dlog("error", "what=redis op=auth socket=%s cause=\"%s\"", s->socket, r->str);
		return;
	}
	s->ac_ready = 1;
	if (s->ac_was_down) {
		s->ac_was_down = 0;
		dlog("info", "what=redis op=connect socket=%s result=reconnected", s->socket);
		if (s->reconnected)
			s->reconnected(s->arg);
	}
}

static void ac_connect(struct store *s)
{
	s->ac_attempt_ms = now_ms();
	redisAsyncContext *ac = redisAsyncConnectUnix(s->socket);
	if (!ac || ac->err) {
		ac_down(s, ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		return;
	}
	ac->data = s;
	fcntl(ac->c.fd, F_SETFD, FD_CLOEXEC); /* never inherited by a unit */
	if (attach(ac, s->loop) < 0) {
		redisAsyncFree(ac);
		ac_down(s, "out of memory");
		return;
	}
	redisAsyncSetConnectCallback(ac, on_ac_connect);
	redisAsyncSetDisconnectCallback(ac, on_ac_disconnect);
	s->ac = ac;
	if (s->password[0])
		store_send(s, on_ac_auth, s, "AUTH %s", s->password);
	else
		store_send(s, on_ac_auth, s, "PING");
}

static int call_start(struct store *s, struct call *c, store_cb cb, void *arg, const char *op, size_t bytes)
{
	c->s = s;
	c->cb = cb;
	c->arg = arg;
	c->sent_ms = now_ms();
	c->allow_ms = STORE_TIMEOUT_MS + bytes / STORE_BYTES_PER_MS;
	c->bytes = bytes;
	if (!s->calls)
		s->last_reply_ms = c->sent_ms; /* idle until now, not stalled */
	snprintf(c->op, sizeof(c->op), "%.*s", (int)strcspn(op, " "), op);
	c->prev = s->calls_last;
	*(s->calls_last ? &s->calls_last->next : &s->calls) = c;
	s->calls_last = c;
	s->ncalls++;
	s->nbytes += c->bytes;
	if (!uv_is_active((uv_handle_t *)&s->ac_timer))
		uv_timer_start(&s->ac_timer, ac_timer_cb, c->allow_ms, 0);
	return 0;
}

int store_send(struct store *s, store_cb cb, void *arg, const char *fmt, ...)
{
	if (!s->ac || s->closing)
		return -1;
	struct call *c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	char *cmd = NULL;
	va_list ap;
	va_start(ap, fmt);
	int len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	if (len < 0 || redisAsyncFormattedCommand(s->ac, on_call_reply, c, cmd, (size_t)len) != REDIS_OK) {
		redisFreeCommand(cmd);
		free(c);
		return -1;
	}
	redisFreeCommand(cmd);
	return call_start(s, c, cb, arg, fmt, (size_t)len);
}

int store_healthy(struct store *s)
{
	if (!s->ac || !s->ac_ready)
		return 0;
	if (!s->calls)
		return 1;
	uint64_t from = s->calls->sent_ms > s->last_reply_ms ? s->calls->sent_ms : s->last_reply_ms;
	return now_ms() - from < s->calls->allow_ms / 2;
}

size_t store_backlog_bytes(const struct store *s)
{
	return s->nbytes;
}

size_t store_backlog_calls(const struct store *s)
{
	return s->ncalls;
}

int store_quiet(struct store *s)
{
	return store_healthy(s) && s->ncalls < STORE_QUIET_CALLS;
}

int store_sendv(struct store *s, store_cb cb, void *arg, int argc, const char **argv, const size_t *argvlen)
{
	if (!s->ac || s->closing)
		return -1;
	struct call *c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	if (redisAsyncCommandArgv(s->ac, on_call_reply, c, argc, argv, argvlen) != REDIS_OK) {
		free(c);
		return -1;
	}
	size_t bytes = 0;
	for (int i = 0; i < argc; i++)
		bytes += argvlen ? argvlen[i] : strlen(argv[i]);
	return call_start(s, c, cb, arg, argv[0], bytes);
}

/* ---- keyspace notifications ---- */

static void sub_connect(struct store *s);

/* A keyspace message of a watched queue (`message <channel> xadd`), or the
 * confirmation that the watch is in place (`subscribe <channel> <n>`): an
 * event pushed while the watch was being set up sent no notification, so
 * the confirmation asks for one check of the queue as well. */
static void on_message(redisAsyncContext *ac, void *reply, void *arg)
{
	(void)ac;
	struct store *s = arg;
	redisReply *r = reply;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING)
		return;
	const char *kind = r->element[0]->str;
	if (!strcmp(kind, "message")) {
		if (r->element[2]->type != REDIS_REPLY_STRING || strcmp(r->element[2]->str, "xadd"))
			return;
	} else if (strcmp(kind, "subscribe")) {
		return;
	}
	if (strncmp(r->element[1]->str, CHANNEL_PREFIX "uf:q:", strlen(CHANNEL_PREFIX) + 5))
		return;
	char wf[UF_NAME_BUF];
	const char *rest = r->element[1]->str + strlen(CHANNEL_PREFIX) + 5, *colon = strchr(rest, ':');
	if (!colon || (size_t)(colon - rest) >= sizeof(wf))
		return;
	memcpy(wf, rest, (size_t)(colon - rest));
	wf[colon - rest] = 0;
	s->notify(s->arg, wf, colon + 1);
}

static void sub_retry_cb(uv_timer_t *t)
{
	sub_connect(t->data);
}

static void on_sub_disconnect(const redisAsyncContext *ac, int status)
{
	struct store *s = ac->data;
	s->sub = NULL;
	for (struct watch *w = s->watches; w; w = w->next)
		w->subscribed = 0;
	if (s->closing)
		return;
	dlog("warn", "what=redis op=subscribe cause=\"%s\" retry_ms=500", status == REDIS_OK ? "closed" : ac->errstr);
	uv_timer_start(&s->sub_retry, sub_retry_cb, 500, 0);
}

static void on_sub_connect(const redisAsyncContext *ac, int status)
{
	struct store *s = ac->data;
	if (status == REDIS_OK)
		return;
	s->sub = NULL; /* hiredis frees the context */
	if (!s->closing)
		uv_timer_start(&s->sub_retry, sub_retry_cb, 500, 0);
}

/* The daemon's own channel: its first reply means the subscription
 * connection is (again) up, and anything missed while it was down is
 * picked up by one full check. */
static void on_hello(redisAsyncContext *ac, void *reply, void *arg)
{
	(void)ac;
	struct store *s = arg;
	redisReply *r = reply;
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_STRING &&
	    !strcmp(r->element[0]->str, "subscribe"))
		s->notify(s->arg, NULL, NULL);
}

static void subscribe(struct store *s, struct watch *w)
{
	if (s->sub && redisAsyncCommand(s->sub, on_message, s, "SUBSCRIBE %s", w->channel) == REDIS_OK)
		w->subscribed = 1;
}

static void sub_connect(struct store *s)
{
	redisAsyncContext *ac = redisAsyncConnectUnix(s->socket);
	if (!ac || ac->err) {
		if (ac)
			redisAsyncFree(ac);
		uv_timer_start(&s->sub_retry, sub_retry_cb, 500, 0);
		return;
	}
	ac->data = s;
	fcntl(ac->c.fd, F_SETFD, FD_CLOEXEC);
	if (attach(ac, s->loop) < 0) {
		redisAsyncFree(ac);
		uv_timer_start(&s->sub_retry, sub_retry_cb, 500, 0);
		return;
	}
	redisAsyncSetConnectCallback(ac, on_sub_connect);
	redisAsyncSetDisconnectCallback(ac, on_sub_disconnect);
	if (s->password[0])
		redisAsyncCommand(ac, NULL, NULL, "AUTH %s", s->password);
	redisAsyncCommand(ac, on_hello, s, "SUBSCRIBE uf:daemon");
	s->sub = ac;
	for (struct watch *w = s->watches; w; w = w->next)
		subscribe(s, w);
}

/* ---- a pattern subscription (store_psubscribe) ---- */

static void psub_connect(struct psub *p);

static void psub_retry_cb(uv_timer_t *t)
{
	psub_connect(t->data);
}

static void psub_later(struct psub *p)
{
	p->ac = NULL;
	if (!p->s->closing)
		uv_timer_start(&p->retry, psub_retry_cb, 500, 0);
}

static void on_psub_disconnect(const redisAsyncContext *ac, int status)
{
	struct psub *p = ac->data;
	if (!p->s->closing)
		dlog("warn", "what=redis op=psubscribe pattern=%s cause=\"%s\" retry_ms=500", p->pattern,
		     status == REDIS_OK ? "closed" : ac->errstr);
	psub_later(p);
}

static void on_psub_connect(const redisAsyncContext *ac, int status)
{
	if (status != REDIS_OK)
		psub_later(ac->data); /* hiredis frees the context */
}

/* pmessage <pattern> <channel> <payload> */
static void on_pmessage(redisAsyncContext *ac, void *reply, void *arg)
{
	(void)ac;
	struct psub *p = arg;
	redisReply *r = reply;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4 || r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "pmessage") || r->element[2]->type != REDIS_REPLY_STRING ||
	    r->element[3]->type != REDIS_REPLY_STRING)
		return;
	p->fn(p->arg, r->element[2]->str, r->element[3]->str, r->element[3]->len);
}

static void psub_connect(struct psub *p)
{
	redisAsyncContext *ac = redisAsyncConnectUnix(p->s->socket);
	if (!ac || ac->err) {
		if (ac)
			redisAsyncFree(ac);
		psub_later(p);
		return;
	}
	ac->data = p;
	fcntl(ac->c.fd, F_SETFD, FD_CLOEXEC);
	if (attach(ac, p->s->loop) < 0) {
		redisAsyncFree(ac);
		psub_later(p);
		return;
	}
	redisAsyncSetConnectCallback(ac, on_psub_connect);
	redisAsyncSetDisconnectCallback(ac, on_psub_disconnect);
	if (p->s->password[0])
		redisAsyncCommand(ac, NULL, NULL, "AUTH %s", p->s->password);
	redisAsyncCommand(ac, on_pmessage, p, "PSUBSCRIBE %s", p->pattern);
	p->ac = ac;
}

int store_psubscribe(struct store *s, const char *pattern, store_message_fn fn, void *arg)
{
	if (s->psub || strlen(pattern) >= sizeof(s->psub->pattern))
		return -1;
	struct psub *p = calloc(1, sizeof(*p));
	if (!p)
		return -1;
	p->s = s;
	snprintf(p->pattern, sizeof(p->pattern), "%s", pattern);
	p->fn = fn;
	p->arg = arg;
	uv_timer_init(s->loop, &p->retry);
	p->retry.data = p;
	s->psub = p;
	psub_connect(p);
	return 0;
}

static void psub_timer_closed(uv_handle_t *h)
{
	struct psub *p = h->data;
	struct store *s = p->s;
	free(p);
	if (--s->open_timers == 0)
		free(s);
}

struct store *store_open(uv_loop_t *loop, const char *socket, const char *password, store_notify_fn notify, void *arg,
                         char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	snprintf(s->socket, sizeof(s->socket), "%s", socket);
	snprintf(s->password, sizeof(s->password), "%s", password);
	s->notify = notify;
	s->arg = arg;
	if (store_wait_ready(s, now_ms() + STORE_READY_WAIT_MS, err, errlen) < 0) {
		if (s->c)
			redisFree(s->c);
		free(s);
		return NULL;
	}
	uv_timer_init(loop, &s->sub_retry);
	s->sub_retry.data = s;
	uv_timer_init(loop, &s->ac_timer);
	s->ac_timer.data = s;
	ac_connect(s);
	/* the daemon's triggers: stream keyspace events (K: keyspace, t: stream) */
	redisReply *r = store_cmd(s, "CONFIG SET notify-keyspace-events Kt");
	if (!r || r->type == REDIS_REPLY_ERROR)
		dlog("warn", "what=redis op=config cause=\"%s\" effect=\"triggers only by periodic check\"",
		     r ? r->str : "no reply");
	if (r)
		freeReplyObject(r);
	sub_connect(s);
	return s;
}

void store_watch_begin(struct store *s)
{
	for (struct watch *w = s->watches; w; w = w->next)
		w->wanted = 0;
}

void store_watch(struct store *s, const char *wf, const char *queue)
{
	char channel[sizeof(((struct watch *)0)->channel)];
	snprintf(channel, sizeof(channel), CHANNEL_PREFIX "uf:q:%s:%s", wf, queue);
	for (struct watch *w = s->watches; w; w = w->next)
		if (!strcmp(w->channel, channel)) {
			w->wanted = 1;
			if (!w->subscribed)
				subscribe(s, w);
			return;
		}
	struct watch *w = calloc(1, sizeof(*w));
	if (!w)
		return; /* the periodic check still sees the queue */
	snprintf(w->channel, sizeof(w->channel), "%s", channel);
	w->wanted = 1;
	w->next = s->watches;
	s->watches = w;
	subscribe(s, w);
}

void store_watch_end(struct store *s)
{
	for (struct watch **p = &s->watches; *p;) {
		struct watch *w = *p;
		if (w->wanted) {
			p = &w->next;
			continue;
		}
		if (w->subscribed && s->sub)
			redisAsyncCommand(s->sub, NULL, NULL, "UNSUBSCRIBE %s", w->channel);
		*p = w->next;
		free(w);
	}
}

void store_on_reconnect(struct store *s, void (*fn)(void *arg))
{
	s->reconnected = fn;
}

void store_on_reply(struct store *s, void (*fn)(void *arg), void *arg)
{
	s->replied = fn;
	s->replied_arg = arg;
}

/* Both timers closed: the store is freed. */
static void timer_closed(uv_handle_t *h)
{
	struct store *s = h->data;
	if (--s->open_timers == 0)
		free(s);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->closing = 1;
	while (s->watches) {
		struct watch *w = s->watches;
		s->watches = w->next;
		free(w);
	}
	if (s->sub)
		redisAsyncDisconnect(s->sub);
	if (s->ac) {
		redisAsyncContext *ac = s->ac;
		s->ac = NULL;
		redisAsyncFree(ac); /* waiting calls hear NULL */
	}
	if (s->c)
		redisFree(s->c);
	s->open_timers = 2 + (s->psub != NULL);
	if (s->psub) {
		if (s->psub->ac)
			redisAsyncDisconnect(s->psub->ac);
		uv_close((uv_handle_t *)&s->psub->retry, psub_timer_closed);
	}
	uv_close((uv_handle_t *)&s->sub_retry, timer_closed);
	uv_close((uv_handle_t *)&s->ac_timer, timer_closed);
}
