/*
 * units.c - execution units: start, watch, stop, and settle what they held.
 *
 * A unit is one uf-hvt process reading its step's queue through the step's
 * consumer group, as consumer <wf>.<step>.<n> (n never reused).  It is
 * started with posix_spawn in its own process group (so the tender's
 * --fast-exit teardown sibling is signalled with it) and reaped here on
 * SIGCHLD with waitpid(-1): the daemon is a child subreaper, so orphans of
 * its units are reaped too, never left to a PID 1 that does not reap.
 * stdout and stderr go through pipes into the step's log, one prefixed line
 * each; the last stderr line is the tender's one-line reason for ending.
 *
 * A unit is finished when its process is reaped and both pipes are at EOF;
 * then whatever it still had pending in the group is settled: re-queued with
 * its attempt counted (after the step's retry_delay_ms, through
 * uf:delay:<wf>:<queue>: delivery.h), or dead-lettered past `retries`, when the unit died
 * of its own accord, re-queued as is when the daemon stopped it to scale,
 * undeploy or shut down.  The tender settles its own batch when the guest
 * faults, so this covers only tenders that died (kill -9) or were killed.
 * Units of a previous daemon (crash, kill -9) are found in uf:state:units
 * at start, killed, and settled the same way.
 *
 * A unit stopped at a limit (unit_drain: idle, lifetime, slot taken back)
 * or by the daemon itself (undeploy, deploy --replace, overflow, shutdown:
 * units_stop_step drains them the same way, so a batch handled is
 * committed, not done again, and an event in hand at the deadline is
 * counted with the drain's cause) carries why in stop_why, which its end
 * reason, the log, ps and describe (the step's `stops`) repeat; a drain
 * asks the tender (SIGUSR1) to end at
 * its next pop, after unit_drain_ms tells it to end now, counting the
 * event in hand as failed (UF_DRAIN_DEADLINE_SIGNAL), and kills it
 * UF_DRAIN_SETTLE_MS later (launch.h), counting all it held.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu_groups.h"
#include "delivery.h"
#include "egress_server.h"
#include "launch.h"
#include "logs.h"
#include "metrics.h"
#include "quota.h"
#include "secrets.h"
#include "standby.h"
#include "store.h"
#include "tap_pool.h"
#include "uf_abi.h"
#include "unifaasd.h"

extern char **environ;

#define MAX_ARGS  (32 + UF_PUBLISH_MAX) /* options only: the environment travels apart (launch.h) */
#define ENV_EXTRA 8                     /* credentials, unit id, spawn time, egress token, NET_IP, NET_GW, NULL */

/* A unit of this daemon by pid (id NULL) or by id, also among undeployed
 * workflows waiting for their units to end. */
struct unit *unit_find(const struct daemon *d, int pid, const char *id)
{
	struct workflow *lists[] = {d->workflows, d->retired};
	for (int l = 0; l < 2; l++)
		for (struct workflow *w = lists[l]; w; w = w->next)
			for (size_t i = 0; i < w->m->nfunctions; i++)
				for (struct unit *u = w->steps[i].units; u; u = u->next)
					if (id ? !strcmp(u->id, id) : u->pid == pid)
						return u;
	return NULL;
}

/* ---- settling pending events ---- */

/*
 * Settling runs on the loop without waiting (store_send): a chain of
 * replies per consumer, in passes of up to 256 pending entries, each entry
 * read (XRANGE) and then, only if it is still pending, re-queued or
 * dead-lettered, acked and counted in one EVAL (uf_settle_eval_cmd), and
 * when that EVAL settled a counted failure of an entry with an invoke reply
 * token, its "failed" reply PUBLISHed (delivery.h); a
 * consumer is forgotten (DELCONSUMER) once nothing is pending for it.  A
 * command that gets no reply is not repeated: what is still pending is
 * settled by a later check (settle_orphans).  An entry settled once is
 * never settled again, even by a second EVAL built from a read that saw it
 * still pending (a dropped connection's EVAL run after the retry's read,
 * which Redis 7 does not do today, or any other duplicate settle): that
 * EVAL finds it no longer pending and does nothing.
 * One chain per consumer at a time (settle_busy), so two never race on
 * one entry.
 */
struct settle {
	struct settle *next;
	struct daemon *d;
	char wf[UF_NAME_BUF], step[UF_NAME_BUF], queue[UF_QUEUE_MAX + 1];
	char consumer[160];
	char reason[512];
	int count_attempt;
	uint32_t retries, retry_delay_ms;
	int calls;        /* replies still to come in this pass */
	int pass_n;       /* entries in this pass */
	int pass_settled; /* of them, settled */
	int settled;
	int complete; /* nothing is pending for the consumer any more */
	void (*done)(void *arg, int complete);
	void *arg;
};

/* One entry being settled. */
struct settle_entry {
	struct settle *st;
	char id[64];
	uint32_t attempt; /* deliveries made, when dead */
	int dead;
	char origin[UF_ID_MAX + 1];         /* for the log line: the reply is gone by then */
	char token[UF_REPLY_TOKEN_MAX + 1]; /* its invoke reply token, "" for none */
};

static struct settle *settling; /* chains under way */

static int settle_busy(const char *consumer)
{
	for (struct settle *st = settling; st; st = st->next)
		if (!strcmp(st->consumer, consumer))
			return 1;
	return 0;
}

static void settle_pass(struct settle *st);

static void settle_end(struct settle *st)
{
	for (struct settle **p = &settling; *p; p = &(*p)->next)
		if (*p == st) {
			*p = st->next;
			break;
		}
	if (st->settled)
		dlog("info", "what=settle unit=%s workflow=%s step=%s events=%d counted=%d reason=\"%s\"", st->consumer,
		     st->wf, st->step, st->settled, st->count_attempt, st->reason);
	if (st->done)
		st->done(st->arg, st->complete);
	free(st);
}

/* The queue or its group is gone (undeploy --purge deleted it while the
 * unit was stopping): nothing is pending for anyone, nothing to settle. */
static int no_group(const redisReply *r)
{
	return r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOGROUP", 7);
}

static void settle_forget_consumer(redisReply *r, void *arg)
{
	struct settle *st = arg;
	st->complete = (r && r->type == REDIS_REPLY_ARRAY && r->elements == 0) || no_group(r);
	if (st->complete && !no_group(r))
		store_send(st->d->store, NULL, NULL, "XGROUP DELCONSUMER uf:q:%s:%s %s %s", st->wf, st->queue, st->step,
		           st->consumer);
	else if (r) /* deleting it would drop what is left */
		dlog("warn",
		     "what=settle unit=%s workflow=%s step=%s result=incomplete effect=\"retried at the next check\"",
		     st->consumer, st->wf, st->step);
	settle_end(st);
}

/* This pass is over: another one, or forget the consumer. */
static void settle_pass_over(struct settle *st)
{
	st->settled += st->pass_settled;
	if (st->pass_n == 256 && st->pass_settled > 0) {
		settle_pass(st);
		return;
	}
	if (store_send(st->d->store, settle_forget_consumer, st, "XPENDING uf:q:%s:%s %s - + 1 %s", st->wf, st->queue,
	               st->step, st->consumer) < 0)
		settle_forget_consumer(NULL, st);
}

/* An invoke waits for this event, which its dead unit failed: tell it
 * (delivery.h), once the settle EVAL said it settled the entry. */
static void publish_failed(struct settle *st, const char *token)
{
	size_t len = uf_reply_msg(NULL, 0, token, strlen(token), UF_REPLY_FAILED, st->reason, strlen(st->reason));
	char *msg = malloc(len);
	struct uf_cmd cmd;
	if (msg && (uf_reply_msg(msg, len, token, strlen(token), UF_REPLY_FAILED, st->reason, strlen(st->reason)),
	            uf_reply_cmd(st->wf, msg, len, &cmd) == 0))
		store_sendv(st->d->store, NULL, NULL, cmd.argc, cmd.argv, cmd.len);
	free(msg);
}

static void settle_exec_reply(redisReply *r, void *arg)
{
	struct settle_entry *e = arg;
	struct settle *st = e->st;
	quota_redis_refused(st->d, st->wf, "settle", r);              /* left pending: settled again later */
	if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1) { /* 0: no longer pending, settled before */
		st->pass_settled++;
		if (e->token[0] && st->count_attempt)
			publish_failed(st, e->token);
		if (e->dead)
			dlog("warn", "what=dead-letter workflow=%s step=%s queue=%s event=%s attempts=%u reason=\"%s\"",
			     st->wf, st->step, st->queue, e->origin, e->attempt, st->reason);
	}
	free(e);
	if (--st->calls == 0)
		settle_pass_over(st);
}

/* The entry as it is in the stream: re-queue or dead-letter it, and ack it,
 * with the delivery protocol's steps (common/delivery.h), the same the
 * tender takes for the events it settles itself. */
static void settle_entry_read(redisReply *r, void *arg)
{
	struct settle_entry *e = arg;
	struct settle *st = e->st;
	struct store *db = st->d->store;
	struct uf_delivery dv = {.wf = st->wf,
	                         .queue = st->queue,
	                         .step = st->step,
	                         .retries = st->retries,
	                         .retry_delay_ms = st->retry_delay_ms};
	struct uf_entry en;
	struct uf_settle_eval ev;
	redisReply *fields = r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 ? r->element[0]->element[1] : NULL;
	if (!r) { /* no reply: left pending for a later check */
		free(e);
		if (--st->calls == 0)
			settle_pass_over(st);
		return;
	}
	uf_entry_init(&en, e->id);
	for (size_t i = 0; fields && fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2) {
		redisReply *k = fields->element[i], *v = fields->element[i + 1];
		if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING)
			uf_entry_field(&en, k->str, k->len, v->str, v->len);
	}
	snprintf(e->origin, sizeof(e->origin), "%.*s", (int)en.origin_len, en.origin);
	if (en.reply && en.reply_len <= UF_REPLY_TOKEN_MAX)
		snprintf(e->token, sizeof(e->token), "%.*s", (int)en.reply_len, en.reply);
	if (uf_settle_eval_cmd(&dv, &en, st->count_attempt, st->reason, uf_time_ms(), &ev) < 0) {
		uf_cmd_release(&ev.add);
		settle_exec_reply(NULL, e);
		return;
	}
	e->dead = ev.dead;
	e->attempt = ev.attempt;
	int sent = store_sendv(db, settle_exec_reply, e, ev.argc, ev.argv, ev.len); /* copies the arguments */
	uf_cmd_release(&ev.add);
	if (sent < 0)
		settle_exec_reply(NULL, e);
}

static void settle_pending_read(redisReply *r, void *arg)
{
	struct settle *st = arg;
	st->pass_n = r && r->type == REDIS_REPLY_ARRAY ? (int)r->elements : 0;
	st->pass_settled = 0;
	if (!r || r->type != REDIS_REPLY_ARRAY) { /* Redis away: a later check settles what is left */
		st->complete = no_group(r);
		settle_end(st);
		return;
	}
	st->calls = 1; /* held until every entry is asked for */
	for (size_t i = 0; i < r->elements; i++) {
		struct settle_entry *e = calloc(1, sizeof(*e));
		if (!e)
			break;
		e->st = st;
		snprintf(e->id, sizeof(e->id), "%s", r->element[i]->element[0]->str);
		if (store_send(st->d->store, settle_entry_read, e, "XRANGE uf:q:%s:%s %s %s", st->wf, st->queue, e->id,
		               e->id) < 0) {
			free(e);
			break;
		}
		st->calls++;
	}
	if (--st->calls == 0)
		settle_pass_over(st);
}

static void settle_pass(struct settle *st)
{
	if (store_send(st->d->store, settle_pending_read, st, "XPENDING uf:q:%s:%s %s - + 256 %s", st->wf, st->queue,
	               st->step, st->consumer) < 0)
		settle_pending_read(NULL, st);
}

/* Settle everything `consumer` still has pending in the step's group, then
 * forget the consumer; done(arg) when over, whatever came of it.
 * count_attempt: whether this counts as a failed delivery. */
static void settle(struct daemon *d, struct step *s, const char *consumer, int count_attempt, const char *reason,
                   void (*done)(void *arg, int complete), void *arg)
{
	struct settle *st = calloc(1, sizeof(*st));
	if (!st || settle_busy(consumer)) {
		free(st);
		if (done)
			done(arg, 0);
		return;
	}
	*st = (struct settle){.d = d,
	                      .count_attempt = count_attempt,
	                      .retries = s->fn->retries,
	                      .retry_delay_ms = s->fn->retry_delay_ms,
	                      .done = done,
	                      .arg = arg};
	snprintf(st->wf, sizeof(st->wf), "%s", s->wf->m->name);
	snprintf(st->step, sizeof(st->step), "%s", s->fn->name);
	snprintf(st->queue, sizeof(st->queue), "%s", s->fn->listen);
	snprintf(st->consumer, sizeof(st->consumer), "%s", consumer);
	snprintf(st->reason, sizeof(st->reason), "%s", reason);
	st->next = settling;
	settling = st;
	settle_pass(st);
}

void units_settle_consumer(struct daemon *d, struct step *s, const char *consumer, const char *reason)
{
	settle(d, s, consumer, 1, reason, NULL, NULL);
}

/* ---- finishing a unit ---- */

static void forget(struct daemon *d, struct unit *u)
{
	struct step *s = u->step;
	for (struct unit **p = &s->units; *p; p = &(*p)->next)
		if (*p == u) {
			*p = u->next;
			break;
		}
	s->running--;
	s->wf->running--;
	d->running--;
	store_send(d->store, NULL, NULL, "HDEL uf:state:units %s", u->id);
	if (u->tap[0] && d->taps)
		tap_pool_release(d->taps, u->tap);
}

static void describe_end(struct unit *u, char *out, size_t cap)
{
	if (u->stop_why[0]) /* stopped at a limit: the limit is the reason */
		snprintf(out, cap, "unit %s stopped: %s", u->id, u->stop_why);
	else if (u->term_signal)
		snprintf(out, cap, "unit %s killed by signal %d (%s)%s%s", u->id, u->term_signal,
		         strsignal(u->term_signal), u->stop_reason == STOP_HUNG ? ": " : "",
		         u->stop_reason == STOP_HUNG ? u->last_line : "");
	else
		snprintf(out, cap, "unit %s ended with status %lld: %s", u->id, (long long)u->exit_status,
		         u->last_line[0] ? u->last_line : "no reason given");
}

static void kill_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

static void settled(void *arg, int complete);

static void finish(struct unit *u)
{
	struct step *s = u->step;
	struct daemon *d = s->wf->d;
	char reason[512];
	describe_end(u, reason, sizeof(reason));
	egress_revoke(d->egress, u->id);
	int by_us = u->stop_reason != STOP_NONE && u->stop_reason != STOP_HUNG;
	int clean = !u->term_signal && u->exit_status == 0;
	if (!u->term_signal && u->exit_status >= 0 && u->exit_status <= UF_END_NET)
		s->exits[u->exit_status]++;
	else
		s->killed++;
	dlog(clean ? "info" : "warn",
	     "what=unit-exit unit=%s workflow=%s step=%s status=%lld signal=%d by_daemon=%d reason=\"%s\"", u->id,
	     s->wf->m->name, s->fn->name, (long long)u->exit_status, u->term_signal, by_us,
	     u->last_line[0] ? u->last_line : "-");
	if (!(clean || by_us))
		inspect_note_end(s, UF_END_FAILED, reason);
	if (u->stop_why[0])
		inspect_note_end(s, UF_END_STOPPED, reason);
	/* a drained unit that did not end even when told to at its deadline
	 * (launch.h: stuck in a host call) has everything it held counted as
	 * failed, so no event can hold a slot in unit after unit; one that did
	 * end then settled its batch itself, counting only the event in hand */
	u->failed = !(clean || by_us) || u->drain_killed;
	/* its commit refused by a full Redis (delivery.h): not the function's
	 * fault, its events are re-queued uncounted */
	u->redis_full = u->failed && strstr(u->last_line, UF_REASON_REDIS_FULL) != NULL;
	if (u->redis_full)
		quota_count_refusal(d, s->wf->m->name, "commit", u->last_line);
	snprintf(u->end_reason, sizeof(u->end_reason), "%s", reason);
	/* a unit that keeps failing must not be restarted in a tight loop; nor
	 * one that never pops (min_units would start it again at once) */
	if (!u->failed && u->stop_reason != STOP_IDLE) {
		s->failures = 0;
		s->backoff_ms = 0;
	} else {
		s->failures++;
		s->backoff_ms = s->failures < 2 ? 0 : s->backoff_ms ? s->backoff_ms * 2 : 100;
		if (s->backoff_ms > 30000)
			s->backoff_ms = 30000;
	}
	settle(d, s, u->id, u->failed && !u->redis_full, u->end_reason, settled, u);
}

static void resettle(uv_timer_t *t)
{
	struct unit *u = t->data;
	settle(u->step->wf->d, u->step, u->id, u->failed && !u->redis_full, u->end_reason, settled, u);
}

/* What the unit held is settled: it is gone.  While Redis does not answer,
 * the unit stays (exited) and its settling is tried again every 500 ms, so
 * its events get its reason; a shutdown does not wait for that (what is
 * left is settled by the next start, from uf:state:units). */
static void settled(void *arg, int complete)
{
	struct unit *u = arg;
	struct step *s = u->step;
	struct daemon *d = s->wf->d;
	if (!complete && !d->stopping) {
		uv_timer_start(&u->kill_timer, resettle, 500, 0);
		return;
	}
	forget(d, u);
	uv_timer_stop(&u->kill_timer);
	uv_close((uv_handle_t *)&u->kill_timer, kill_timer_closed);
	if (s->wf->removed)
		registry_unit_gone(s->wf);
	else
		scheduler_poke(d, s->wf->m->name, s->fn->listen);
	if (u->reclaim_for[0]) /* its slot was taken back for that workflow */
		scheduler_poke(d, u->reclaim_for, NULL);
	scheduler_units_changed(d);
	daemon_maybe_finish(d); /* the last unit of a shutdown may end here */
}

static void handle_done(struct unit *u)
{
	if (--u->open_handles == 0)
		finish(u);
}

static void pipe_closed(uv_handle_t *h)
{
	handle_done(h->data);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	static char chunk[65536];
	(void)h;
	*buf = uv_buf_init(chunk, sizeof(chunk));
}

/* A unit's line goes to its step's log; the last stderr line is kept as
 * its reason for ending, unless the daemon already wrote why it killed it
 * (hung): what the unit printed before dying must not replace that. */
static void emit(struct unit *u, int is_err, const char *line, size_t len)
{
	logfile_line(u->step->log, u->id, line, len);
	if (is_err && len && u->stop_reason != STOP_HUNG) {
		size_t n = len < sizeof(u->last_line) - 1 ? len : sizeof(u->last_line) - 1;
		memcpy(u->last_line, line, n);
		u->last_line[n] = 0;
	}
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct unit *u = st->data;
	int is_err = st == (uv_stream_t *)&u->err;
	char *acc = is_err ? u->errbuf : u->outbuf;
	size_t *alen = is_err ? &u->errlen : &u->outlen;
	if (nread < 0) {
		if (*alen)
			emit(u, is_err, acc, *alen);
		*alen = 0;
		uv_close((uv_handle_t *)st, pipe_closed);
		return;
	}
	const char *p = buf->base, *end = buf->base + nread;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		while (n) { /* a line longer than the buffer is cut into pieces */
			size_t room = sizeof(u->outbuf) - *alen, k = n < room ? n : room;
			memcpy(acc + *alen, p, k);
			*alen += k;
			p += k;
			n -= k;
			if (*alen == sizeof(u->outbuf)) {
				emit(u, is_err, acc, *alen);
				*alen = 0;
			}
		}
		if (nl) {
			emit(u, is_err, acc, *alen);
			*alen = 0;
			p = nl + 1;
		}
	}
}

/* ---- starting ---- */

static char *fmt_dup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_dup(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* argv for uf-hvt; every string allocated (freed by the caller).  envp: the
 * unit's environment (build_env), whose variables the guest's stack holds. */
static int build_argv(struct daemon *d, struct step *s, struct unit *u, char **argv, char *const *envp)
{
	const struct uf_function *f = s->fn;
	int n = 0;
	uint32_t batch = f->batch > 256 ? 256 : f->batch;
	size_t plen = 1;
	for (size_t i = 0; i < f->npush; i++)
		plen += strlen(f->push[i]) + 1;
	char *allow = calloc(1, plen);
	for (size_t i = 0; allow && i < f->npush; i++) {
		strcat(allow, i ? "," : "");
		strcat(allow, f->push[i]);
	}
	argv[n++] = fmt_dup("%s", d->cfg.hvt);
	argv[n++] = fmt_dup("--redis=%s", d->cfg.redis_socket);
	argv[n++] = fmt_dup("--workflow=%s", s->wf->m->name);
	argv[n++] = fmt_dup("--queue=%s", f->listen);
	argv[n++] = fmt_dup("--step=%s", f->name);
	argv[n++] = fmt_dup("--consumer=%s", u->id);
	argv[n++] = fmt_dup("--batch=%u", batch);
	argv[n++] = fmt_dup("--idle-ms=%u", f->scale.idle_ms);
	argv[n++] = fmt_dup("--timeout-ms=%u", f->timeout_ms);
	argv[n++] = fmt_dup("--mem=%lluK", (unsigned long long)(f->memory >> 10));
	argv[n++] = fmt_dup("--retries=%u", f->retries);
	if (f->retry_delay_ms)
		argv[n++] = fmt_dup("--retry-delay-ms=%u", f->retry_delay_ms);
	argv[n++] = fmt_dup("--push-allow=%s", allow ? allow : ""); /* empty: no queue */
	argv[n++] = fmt_dup("--fast-exit");
	for (size_t i = 0; i < f->npublish && i < UF_PUBLISH_MAX; i++) /* none: no topic */
		argv[n++] = fmt_dup("--publish=%s", f->publish[i]);
	free(allow);
	/* what one event may write, and a commit's chunks (event_limits.h) */
	struct uf_limits lim;
	uf_function_limits(f, &d->cfg.limits, &lim, NULL);
	for (int i = 0; i < UF_LIM_COUNT; i++)
		argv[n++] = fmt_dup("--%slimit=%s=%llu", lim.from_manifest & (1u << i) ? "manifest-" : "",
		                    uf_limit_info[i].name, (unsigned long long)lim.v[i]);
	/* the environment sits on the guest's stack: make room for it */
	size_t env = 0, pre = strlen(UF_FN_ENV_PREFIX);
	for (size_t i = 0; envp[i]; i++)
		if (!strncmp(envp[i], UF_FN_ENV_PREFIX, pre))
			env += strlen(envp[i]) - pre + 1 + 8;
	if (env > (16u << 10))
		argv[n++] = fmt_dup("--stack=%zuK", (UF_STACK_DEFAULT + env + 4095) / 4096 * 4);
	if (u->tap[0])
		argv[n++] = fmt_dup("--tap=%s", u->tap);
	/* uf_http: through the egress server, or refused (no egress: list) */
	argv[n++] = f->negress ? fmt_dup("--egress=%s", egress_socket(d->egress)) : fmt_dup("--egress=none");
	argv[n++] = fmt_dup("%s", s->image);
	argv[n] = NULL;
	for (int i = 0; i < n; i++)
		if (!argv[i])
			return -1;
	return n;
}

static void free_argv(char **argv)
{
	for (int i = 0; argv[i]; i++)
		free(argv[i]);
}

/* The tender's environment (never its argv, launch.h): the workflow's
 * Redis credentials, the unit's id, its egress token (egress_server.c) if
 * the function has `egress:`, and the function's variables and secrets
 * (read from the store now: secrets.c), each as UF_ENV_KEY=VALUE (NET_IP
 * and NET_GW too for a unit with a TAP device).  NULL-terminated,
 * nenv + nsecrets + ENV_EXTRA entries; -1 with err (a secret removed since
 * the deploy, or out of memory). */
static int build_env(struct daemon *d, const struct step *s, const struct unit *u, const char *egress_token,
                     char **envp, char *err, size_t errlen)
{
	const struct uf_function *f = s->fn;
	size_t n = 0;
	envp[n++] = fmt_dup("UF_REDIS_USER=%s", s->wf->acl_user);
	envp[n++] = fmt_dup("UF_REDIS_PASSWORD=%s", s->wf->acl_pass);
	envp[n++] = fmt_dup("UF_UNIT=%s", u->id);
	envp[n++] = fmt_dup(UF_SPAWN_ENV "=%llu", (unsigned long long)uf_time_ms());
	if (egress_token)
		envp[n++] = fmt_dup(UF_EG_TOKEN_ENV "=%s", egress_token);
	if (u->tap[0]) {
		char gw[32];
		snprintf(gw, sizeof(gw), "%s", d->cfg.tap_cidr);
		gw[strcspn(gw, "/")] = 0;
		envp[n++] = fmt_dup(UF_FN_ENV_PREFIX "NET_IP=%s", u->ip);
		envp[n++] = fmt_dup(UF_FN_ENV_PREFIX "NET_GW=%s", gw);
	}
	for (size_t i = 0; i < f->nenv; i++)
		envp[n++] = fmt_dup(UF_FN_ENV_PREFIX "%s=%s", f->env_keys[i], f->env_values[i]);
	int rc = 0;
	char *value = malloc(UF_ENV_VALUE_MAX + 1);
	for (size_t i = 0; value && i < f->nsecrets && !rc; i++) {
		if (secrets_read(d, f->secrets[i], value, UF_ENV_VALUE_MAX + 1) < 0) {
			snprintf(err, errlen, "secret '%s': %s; set it with 'unifaas secret set %s'", f->secrets[i],
			         errno == ENOENT ? "not set (removed since the deploy)" : strerror(errno),
			         f->secrets[i]);
			rc = 1;
			break;
		}
		envp[n++] = fmt_dup(UF_FN_ENV_PREFIX "%s=%s", f->secrets[i], value);
	}
	if (value)
		explicit_bzero(value, UF_ENV_VALUE_MAX + 1);
	else
		rc = 1;
	free(value);
	envp[n] = NULL;
	for (size_t i = 0; i < n; i++)
		rc |= !envp[i];
	if (rc && !err[0])
		snprintf(err, errlen, "out of memory");
	for (size_t i = 0; rc && i < n; i++) {
		free(envp[i]);
		envp[i] = NULL;
	}
	return -rc;
}

static void free_env(char **envp)
{
	for (int i = 0; envp && envp[i]; i++) { /* secrets and credentials: not left in freed memory */
		explicit_bzero(envp[i], strlen(envp[i]));
		free(envp[i]);
	}
	free(envp);
}

/* A pre-started tender becomes the unit: 0, or -1 (start one the plain way). */
static int launch_standby(struct daemon *d, struct unit *u, char **argv, char **envp, int *outfd, int *errfd)
{
	int pid, in;
	if (standby_take(d->standbys, &pid, &in, outfd, errfd) < 0)
		return -1;
	cpu_groups_attach(d, u->step->wf, pid); /* before the guest runs */
	int e = standby_launch(in, argv, envp);
	close(in);
	if (e < 0) { /* it died under us: its exit is reaped as a stray child */
		dlog("warn", "what=standby op=launch unit=%s pid=%d cause=\"%s\"", u->id, pid, strerror(-e));
		kill(-pid, SIGKILL);
		close(*outfd);
		close(*errfd);
		return -1;
	}
	u->pid = pid;
	u->standby = 1;
	return 0;
}

int spawn_tender(char *const argv[], char *const envp[], int in, int out, int err, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	if (in >= 0)
		posix_spawn_file_actions_adddup2(&fa, in, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* nothing of ours leaks in */
	posix_spawnattr_init(&at);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int e = posix_spawn(pid, argv[0], &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return e;
}

/* Starts the tender: a standby if one is ready, else posix_spawn.  On
 * success, outfd and errfd are our read ends of its stdout and stderr. */
static int spawn(struct daemon *d, struct step *s, struct unit *u, int *outfd, int *errfd, char *err, size_t errlen)
{
	char *argv[MAX_ARGS] = {0}, **envp = calloc(s->fn->nenv + s->fn->nsecrets + ENV_EXTRA, sizeof(*envp));
	char token[UF_EG_TOKEN_LEN + 1];
	int rc = -1, out[2] = {-1, -1}, errp[2] = {-1, -1}, egress = s->fn->negress > 0;
	err[0] = 0;
	if (egress &&
	    egress_grant(d->egress, u->id, s->wf->m->name, s->fn->name, s->fn->egress, s->fn->negress, token) < 0) {
		snprintf(err, errlen, "cannot grant egress: out of memory or randomness");
		goto out;
	}
	if (!envp || build_env(d, s, u, egress ? token : NULL, envp, err, errlen) < 0 ||
	    build_argv(d, s, u, argv, envp) < 0) {
		if (!err[0])
			snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (launch_standby(d, u, argv, envp, outfd, errfd) == 0) {
		rc = 0;
		goto out;
	}
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}
	pid_t pid;
	int e = spawn_tender(argv, envp, -1, out[1], errp[1], &pid);
	if (e) {
		snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(e));
		goto out;
	}
	u->pid = pid;
	cpu_groups_attach(d, s->wf, pid);
	*outfd = out[0];
	*errfd = errp[0];
	out[0] = errp[0] = -1;
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (rc < 0 && egress)
		egress_revoke(d->egress, u->id);
	explicit_bzero(token, sizeof(token));
	free_argv(argv);
	free_env(envp);
	return rc;
}

/* From /proc/PID/stat: the state letter (field 3) and the start time
 * (field 22), which with the pid names one process for good (pids are
 * reused).  Start time 0 if the process is gone. */
static unsigned long long proc_stat(int pid, char *state)
{
	char path[64], stat[1024];
	unsigned long long start = 0;
	*state = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = pid > 0 ? fopen(path, "r") : NULL;
	if (!f)
		return 0;
	if (fgets(stat, sizeof(stat), f)) {
		const char *p = strrchr(stat, ')'); /* the command name may hold spaces */
		if (p && p[1] == ' ')
			*state = p[2];
		for (int i = 0; p && i < 20; i++)
			p = strchr(p + 1, ' ');
		if (p)
			start = strtoull(p + 1, NULL, 10);
	}
	fclose(f);
	return start;
}

static unsigned long long proc_start_time(int pid)
{
	char state;
	return proc_stat(pid, &state);
}

/* pid is still the process that started at `start`, and not a zombie */
static int proc_running(int pid, unsigned long long start)
{
	char state;
	return proc_stat(pid, &state) == start && state != 'Z' && state != 'X';
}

static void record(struct daemon *d, struct unit *u)
{
	char val[256];
	snprintf(val, sizeof(val), "%d %llu %s %s", u->pid, proc_start_time(u->pid), u->step->wf->m->name,
	         u->step->fn->name);
	store_send(d->store, NULL, NULL, "HSET uf:state:units %s %s", u->id, val);
}

/* A TAP device for a net: true unit; the pool is made on first use. */
static int acquire_tap(struct daemon *d, struct unit *u, char *err, size_t errlen)
{
	char why[512];
	if (!d->taps && !(d->taps = tap_pool_open(d->cfg.tap_bridge, d->cfg.tap_cidr, d->cfg.tap_prefix,
	                                          d->cfg.tap_pool_size, why, sizeof(why)))) {
		snprintf(err, errlen, "TAP pool: %s", why);
		return -1;
	}
	if (tap_pool_acquire(d->taps, u->tap, u->ip) < 0) {
		snprintf(err, errlen, "no free TAP device (all %u of the pool in use)", d->cfg.tap_pool_size);
		u->tap[0] = 0;
		return -1;
	}
	return 0;
}

/* A start waiting for its unit number. */
struct start {
	struct daemon *d;
	char wf[UF_NAME_BUF], step[UF_NAME_BUF];
	uint64_t serial;   /* of the workflow asked for: a replacement is not it */
	uint64_t asked_ns; /* unit_start was called (uv_hrtime) */
};

static int launch(struct daemon *d, struct step *s, uint64_t seq, uint64_t asked_ns, char *err, size_t errlen)
{
	int outfd = -1, errfd = -1;
	struct unit *u = calloc(1, sizeof(*u));
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	u->step = s;
	s->seq = seq;
	snprintf(u->id, sizeof(u->id), "%s.%s.%llu", s->wf->m->name, s->fn->name, (unsigned long long)s->seq);
	if (s->fn->net && acquire_tap(d, u, err, errlen) < 0) {
		free(u);
		return -1;
	}
	if (spawn(d, s, u, &outfd, &errfd, err, errlen) < 0)
		goto fail;
	uv_pipe_init(d->loop, &u->out, 0);
	uv_pipe_init(d->loop, &u->err, 0);
	uv_pipe_open(&u->out, outfd);
	uv_pipe_open(&u->err, errfd);
	u->out.data = u->err.data = u;
	uv_read_start((uv_stream_t *)&u->out, alloc_cb, on_read);
	uv_read_start((uv_stream_t *)&u->err, alloc_cb, on_read);
	uv_timer_init(d->loop, &u->kill_timer);
	u->kill_timer.data = u;
	u->open_handles = 3;
	u->started_ms = now_ms();
	u->next = s->units;
	s->units = u;
	s->running++;
	s->wf->running++;
	d->running++;
	s->starts++;
	s->last_start_ms = u->started_ms;
	record(d, u);
	const char *how[] = {s->wf->m->name, s->fn->name, u->standby ? "standby" : "spawn"};
	metric_add(M_UNIT_STARTS, how, 1);
	metric_observe(M_UNIT_SPAWN, how, (double)(uv_hrtime() - asked_ns) / 1e9);
	dlog("info", "what=unit-start unit=%s workflow=%s step=%s pid=%d standby=%d tap=%s", u->id, s->wf->m->name,
	     s->fn->name, u->pid, u->standby, u->tap[0] ? u->tap : "-");
	return 0;
fail:
	if (u->tap[0])
		tap_pool_release(d->taps, u->tap);
	free(u);
	return -1;
}

/* The unit's number came: start it, unless its step went away meanwhile. */
static void numbered(redisReply *r, void *arg)
{
	struct start *st = arg;
	struct daemon *d = st->d;
	struct step *s = registry_find_step(d, st->wf, st->step, st->serial);
	char err[640];
	if (s)
		s->starting = 0;
	if (s && !d->stopping && s->wf->state == WF_RUNNING) {
		if (!r || r->type != REDIS_REPLY_INTEGER)
			scheduler_start_done(d, s, -1, r ? "redis refused a unit number" : "redis did not answer");
		else
			scheduler_start_done(d, s, launch(d, s, (uint64_t)r->integer, st->asked_ns, err, sizeof(err)),
			                     err);
	}
	free(st);
}

/* Unit numbers are never reused, across daemon restarts too (until the
 * workflow is purged, registry.c forget_numbers): each comes from Redis
 * (HINCRBY, not retried), and the unit starts when it is in.
 * 0: asked (scheduler_start_done follows); -1 with err. */
int unit_start(struct daemon *d, struct step *s, char *err, size_t errlen)
{
	struct start *st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->d = d;
	st->serial = s->wf->serial;
	st->asked_ns = uv_hrtime();
	snprintf(st->wf, sizeof(st->wf), "%s", s->wf->m->name);
	snprintf(st->step, sizeof(st->step), "%s", s->fn->name);
	if (store_send(d->store, numbered, st, "HINCRBY uf:state:seq %s.%s 1", st->wf, st->step) < 0) {
		free(st);
		snprintf(err, errlen, "redis is unreachable");
		return -1;
	}
	s->starting = 1;
	return 0;
}

/* ---- stopping and reaping ---- */

static void kill_cb(uv_timer_t *t);

/* A drained unit still there at its deadline (launch.h): told to end now,
 * counting the event in hand; UF_DRAIN_SETTLE_MS later, killed (0: kill
 * it now). */
static int drain_deadline(struct unit *u)
{
	uint32_t ms = u->step->wf->d->cfg.unit_drain_ms;
	size_t n = strlen(u->stop_why);
	const char *labels[] = {u->step->wf->m->name, u->step->fn->name, "drain_timeout"};
	if (u->drain_stage == 2) {
		snprintf(u->stop_why + n, sizeof(u->stop_why) - n, "; killed %u ms later", UF_DRAIN_SETTLE_MS);
		u->drain_killed = 1;
		dlog("warn", "what=unit-stop unit=%s workflow=%s step=%s action=kill reason=\"%s\"", u->id,
		     u->step->wf->m->name, u->step->fn->name, u->stop_why);
		return 0;
	}
	snprintf(u->stop_why + n, sizeof(u->stop_why) - n, "; still busy after %u ms (unit_drain_ms)", ms);
	u->drain_stage = 2;
	metric_add(M_UNIT_STOPS, labels, 1);
	dlog("warn", "what=unit-stop unit=%s workflow=%s step=%s action=end-now reason=\"%s\"", u->id,
	     u->step->wf->m->name, u->step->fn->name, u->stop_why);
	if (sigqueue(u->pid, UF_DRAIN_DEADLINE_SIGNAL, (union sigval){.sival_int = (int)ms}) < 0)
		return 0;
	uv_timer_start(&u->kill_timer, kill_cb, UF_DRAIN_SETTLE_MS, 0);
	return 1;
}

static void kill_cb(uv_timer_t *t)
{
	struct unit *u = t->data;
	if (u->exited)
		return;
	if (u->drain_stage && drain_deadline(u))
		return;
	kill(-u->pid, SIGKILL);
}

static const char *stop_name(int why)
{
	switch (why) {
	case STOP_IDLE:
		return "idle";
	case STOP_LIFETIME:
		return "lifetime";
	case STOP_QUOTA:
		return "quota";
	case STOP_RECLAIM:
		return "reclaim";
	case STOP_UNDEPLOY:
		return "undeploy";
	case STOP_SHUTDOWN:
		return "shutdown";
	default:
		return "overflow";
	}
}

/* A stop at one of the unit's limits (counted in unifaas_unit_stops_total),
 * not one of the daemon's own (undeploy, replace, overflow, shutdown). */
static int at_limit(int why)
{
	return why == STOP_IDLE || why == STOP_LIFETIME || why == STOP_QUOTA || why == STOP_RECLAIM;
}

static int drain_cause(int why)
{
	switch (why) {
	case STOP_LIFETIME:
		return UF_DRAIN_LIFETIME;
	case STOP_RECLAIM:
		return UF_DRAIN_RECLAIM;
	case STOP_QUOTA:
		return UF_DRAIN_QUOTA;
	case STOP_UNDEPLOY:
		return UF_DRAIN_UNDEPLOY;
	case STOP_SHUTDOWN:
		return UF_DRAIN_SHUTDOWN;
	case STOP_OVERFLOW:
		return UF_DRAIN_OVERFLOW;
	default:
		return UF_DRAIN_ASKED;
	}
}

void unit_drain(struct unit *u, int why, const char *msg)
{
	struct step *s = u->step;
	struct daemon *d = s->wf->d;
	if (u->exited || u->state != UNIT_RUNNING)
		return;
	snprintf(u->stop_why, sizeof(u->stop_why), "%s", msg);
	const char *labels[] = {s->wf->m->name, s->fn->name, stop_name(why)};
	if (at_limit(why))
		metric_add(M_UNIT_STOPS, labels, 1);
	dlog(at_limit(why) ? "warn" : "info", "what=unit-stop unit=%s workflow=%s step=%s %s=%s action=%s reason=%s",
	     u->id, s->wf->m->name, s->fn->name, at_limit(why) ? "limit" : "cause", stop_name(why),
	     why == STOP_IDLE ? "stop" : "drain", msg);
	if (why == STOP_IDLE) { /* it holds nothing and does not pop: nothing to drain */
		unit_stop(u, SIGTERM, why);
		return;
	}
	u->stop_reason = why;
	u->state = UNIT_STOPPING;
	u->drain_stage = 1;
	/* the tender, not its teardown sibling: commit, then end (launch.h, hvt_main.c) */
	sigqueue(u->pid, SIGUSR1, (union sigval){.sival_int = drain_cause(why)});
	uv_timer_start(&u->kill_timer, kill_cb, d->cfg.unit_drain_ms, 0);
}

void unit_stop(struct unit *u, int sig, int why)
{
	if (u->exited)
		return;
	if (u->stop_reason == STOP_NONE || why == STOP_HUNG)
		u->stop_reason = why;
	u->state = UNIT_STOPPING;
	kill(-u->pid, sig);
	if (sig != SIGKILL)
		uv_timer_start(&u->kill_timer, kill_cb, 2000, 0);
}

void units_stop_step(struct step *s, int why, const char *msg)
{
	for (struct unit *u = s->units; u; u = u->next)
		unit_drain(u, why, msg); /* one already stopping goes on as it was */
}

void units_reap(struct daemon *d)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct unit *u = unit_find(d, pid, NULL);
		if (!u) { /* a standby, a teardown sibling, or an orphan we adopted */
			standby_reaped(d->standbys, pid, WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
			continue;
		}
		u->exited = 1;
		u->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		u->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		kill(-pid, SIGKILL); /* anything left in its group */
		handle_done(u);
	}
}

/* Units recorded by a previous daemon: kill them and settle their events. */
int units_cleanup_previous(struct daemon *d, char *err, size_t errlen)
{
	redisReply *r = store_cmd(d->store, "HGETALL uf:state:units");
	if (!r || r->type != REDIS_REPLY_ARRAY) { /* nothing done yet: main.c reads again */
		snprintf(err, errlen, "HGETALL uf:state:units: %s",
		         r && r->type == REDIS_REPLY_ERROR ? r->str : "no answer from redis");
		if (r)
			freeReplyObject(r);
		return -1;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const char *id = r->element[i]->str;
		int pid = 0;
		unsigned long long start = 0, now_start = 0;
		char wf[UF_NAME_BUF] = "", step[UF_NAME_BUF] = "";
		sscanf(r->element[i + 1]->str, "%d %llu %79s %79s", &pid, &start, wf, step);
		now_start = proc_start_time(pid);
		int alive = now_start && now_start == start;
		if (alive) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			/* not our child: wait (up to 1 s) until it is gone or a zombie,
			 * so no EXEC of it can land after its events are settled */
			for (int t = 0; t < 100 && proc_running(pid, start); t++)
				usleep(10000);
		}
		struct step *s = registry_find_step(d, wf, step, 0);
		if (s) /* it may have been mid-event: count it (settled once the loop runs) */
			settle(d, s, id, 1, "unit lost when the previous unifaasd ended", NULL, NULL);
		dlog("info", "what=cleanup unit=%s pid=%d alive=%d action=%s", id, pid, alive,
		     alive ? "killed" : "none");
		store_send(d->store, NULL, NULL, "HDEL uf:state:units %s", id);
	}
	freeReplyObject(r);
	return 0;
}
