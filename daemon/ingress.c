/*
 * ingress.c - the HTTP ingress: devices and webhooks POST events to a
 * workflow's routes (manifest ingress.http) on a port of its own
 * (cfg.ingress_bind:cfg.ingress_port), apart from the control API.  It is
 * a second server on api.c's machinery (api_serve): the same connection
 * phases and deadlines, per-address limits, whole bodies and answers that
 * wait for Redis.  docs/api.md "HTTP ingress" is the user's contract.
 *
 * URL: POST /<workflow><path> queues an event on the route's queue (202
 * with its id); POST /<workflow><path>/invoke?timeout_ms=N queues it with a
 * reply token and waits for its result (invoke-and-wait).  A manifest path
 * never ends in /invoke (manifest.c), so the two never meet.
 *
 * Decided on the head, before any byte of the body is read (api_server's
 * admit): the path (400 malformed, 404 unknown), the bearer token (401
 * missing or unknown, 403 another workflow's: tokens.c, from memory), the
 * method (405), a stopped workflow (503), a workflow over its storage
 * quota (507, quota.c) and the body limit (413).  Then,
 * with the body: its form by Content-Type (CloudEvents structured, binary
 * when ce-* headers are present, JSON checked, anything else raw bytes),
 * one XADD (common/delivery.h uf_ingress_cmd: data, src = the route's
 * path, attrs = the CloudEvents attributes and content type as JSON),
 * sent in its workflow's turn in the push window (pushwin.h): the event
 * waits as a copy in the request, which holds one api_hold until the XADD
 * is out; 429 when PW_WAIT_MAX of the workflow's pushes wait already.  The
 * answer (202) comes only once Redis took the event.
 *
 * Invoke: the reply token is registered before the answer waits; the
 * message on uf:reply:<wf> (one PSUBSCRIBE uf:reply:* on the store's
 * dedicated connection) or the request's deadline ends the wait, whichever
 * is first; the XADD's own reply may come before or after the message.
 * Invariant: a request is in the waiting list exactly while it holds one
 * api_hold, and leaves the list before that hold is released.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "api_routes.h"
#include "cloudevent.h"
#include "delivery.h"
#include "ingress.h"
#include "metrics.h"
#include "pushwin.h"
#include "quota.h"
#include "rules.h"
#include "secret.h"
#include "store.h"
#include "tokens.h"
#include "unifaasd.h"

#define PATH_MAX_BYTES 2048
#define SEGS_MAX       64
#define CE_HEADERS_MAX 64

const char *const ingress_outcome_names[IN_OUTCOMES] = {
    "accepted",  "invoke_ok",   "invoke_failed", "invoke_timeout", "invoke_deferred", "unauthorized",
    "forbidden", "bad_request", "stopped",       "unavailable",    "over_quota",      "busy",
};

struct ingress {
	struct daemon *d;
	struct api *srv;
	uv_timer_t timer; /* the earliest invoke deadline */
	struct inreq *waiting;
};

/* One ingress request's state (its api_slot). */
struct inreq {
	char wf[UF_NAME_BUF];
	char queue[UF_QUEUE_MAX + 1];
	char *src; /* the route's path as the manifest gives it (a copy: a redeploy may free the manifest) */
	int invoke;
	uint64_t timeout_ms;
	/* the XADD */
	char id[64];
	char refused[128];
	int replied; /* its reply came (id or refused) */
	/* invoke */
	struct ingress *in;
	struct request *rq;
	struct inreq *next;
	int waiting; /* in in->waiting, holding one api_hold */
	char token[UF_REPLY_TOKEN_MAX + 1];
	uint64_t deadline;
	int outcome; /* 0 none yet, 1 ok, 2 failed */
	char *result;
	size_t result_len;
	/* the event, waiting for its workflow's turn in the push window
	 * (pushwin.h) while held: one api_hold until its XADD is sent */
	struct pw_source pws;
	struct pushwin *pw;
	char *data, *attrs;
	size_t dlen;
	int held;
};

static void inreq_free(void *p)
{
	struct inreq *s = p;
	free(s->src);
	free(s->result);
	free(s->data);
	free(s->attrs);
	free(s);
}

static const redisReply came = {.type = REDIS_REPLY_STATUS}; /* a hold ended, nothing missing */

/* unifaas_ingress_messages_total{source="http",outcome} (metrics.h) */
static void count(struct ingress *in, enum ingress_outcome o)
{
	const char *labels[] = {"http", ingress_outcome_names[o]};
	(void)in;
	metric_add(M_INGRESS_MESSAGES, labels, 1);
}

/* ---- routes ---- */

/* The route of w whose path has the segments seg[0..n), or NULL. */
static const struct uf_ingress_http *match(const struct workflow *w, char **seg, int n)
{
	for (size_t r = 0; r < w->m->nhttp; r++) {
		const char *p = w->m->http[r].path;
		int i = 0;
		while (*p) {
			while (*p == '/')
				p++;
			size_t len = strcspn(p, "/");
			if (!len)
				break;
			if (i >= n || strlen(seg[i]) != len || memcmp(seg[i], p, len))
				break;
			i++;
			p += len;
		}
		p += strspn(p, "/");
		if (!*p && i == n)
			return &w->m->http[r];
	}
	return NULL;
}

static void routes_of(const struct workflow *w, char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = 0;
	for (size_t r = 0; r < w->m->nhttp && o < cap; r++)
		o += (size_t)snprintf(buf + o, cap - o, "%s/%s%s", r ? ", " : "", w->m->name, w->m->http[r].path);
	if (!w->m->nhttp)
		snprintf(buf, cap, "none (its manifest has no ingress.http)");
}

static enum MHD_Result bad(struct ingress *in, struct MHD_Connection *c, unsigned status, const char *code,
                           const char *msg)
{
	count(in, IN_BAD_REQUEST);
	return api_error(c, status, code, "%s", msg);
}

static int stopped(struct ingress *in, struct MHD_Connection *c, const struct workflow *w)
{
	if (w->state != WF_STOPPED)
		return 0;
	count(in, IN_STOPPED);
	api_error_hdr(c, 503, "Retry-After", "5", "stopped",
	              "workflow '%s' is stopped (%s): it takes no events until 'unifaas resume %s'", w->m->name,
	              w->reason, w->m->name);
	return 1;
}

/* Over its storage quota (quota.c): 507, nothing read or queued. */
static int over_quota(struct ingress *in, struct MHD_Connection *c, const struct workflow *w)
{
	char msg[512];
	if (!quota_refuses(w, msg, sizeof(msg)))
		return 0;
	count(in, IN_OVER_QUOTA);
	api_error_hdr(c, 507, "Retry-After", "10", "over_quota", "%s", msg);
	return 1;
}

/* The head is in (api_server.admit): everything that can be refused
 * before the body.  1 when answered. */
static int admit(struct api *a, struct MHD_Connection *c, const char *url, const char *method, struct request *rq,
                 size_t *limit)
{
	struct ingress *in = api_ctx(a);
	struct daemon *d = in->d;
	char buf[PATH_MAX_BYTES + 8], *seg[SEGS_MAX], msg[PATH_MAX_BYTES + 512];
	const char *badseg = NULL, *why;
	if (strlen(url) >= PATH_MAX_BYTES) {
		bad(in, c, 414, "uri_too_long", "the path is over 2048 bytes");
		return 1;
	}
	int n = api_split_path(url, buf, seg, SEGS_MAX, &badseg);
	if (n < 0) {
		snprintf(msg, sizeof(msg),
		         "path segment '%.*s': a '%%' must be followed by two hex digits, and %%00 is not allowed",
		         (int)strcspn(badseg, "/"), badseg);
		bad(in, c, 400, "bad_request", msg);
		return 1;
	}
	const char *wf = tokens_check(d, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"), &why);
	if (!wf && !strcmp(why, "not loaded")) {
		count(in, IN_UNAVAILABLE);
		api_error_hdr(c, 503, "Retry-After", "1", "unavailable",
		              "tokens not loaded yet; retry (unifaasd has not read them from Redis since it "
		              "started; it keeps trying)");
		return 1;
	}
	if (!wf) {
		count(in, IN_UNAUTHORIZED);
		api_error_hdr(c, 401, "WWW-Authenticate", "Bearer", "unauthorized",
		              !strcmp(why, "missing")
		                  ? "no bearer token: send 'Authorization: Bearer TOKEN' with a token of the "
		                    "workflow ('unifaas token create WF' makes one)"
		                  : "unknown or revoked bearer token ('unifaas token ls' lists the tokens)");
		return 1;
	}
	if (n == 0 || strcmp(seg[0], wf)) {
		count(in, IN_FORBIDDEN);
		api_error(c, 403, "forbidden",
		          "this token is for workflow '%s', not for %s%s%s: use its routes, /%s/...", wf,
		          n ? "'" : "the path '", n ? seg[0] : url, "'", wf);
		return 1;
	}
	struct workflow *w = registry_find(d, wf);
	if (!w) {
		snprintf(msg, sizeof(msg), "workflow '%s' is not deployed", wf);
		bad(in, c, 404, "not_found", msg);
		return 1;
	}
	int invoke = 0;
	const struct uf_ingress_http *r = match(w, seg + 1, n - 1);
	if (!r && n >= 2 && !strcmp(seg[n - 1], "invoke") && (r = match(w, seg + 1, n - 2)))
		invoke = 1;
	if (!r) {
		char routes[1024];
		routes_of(w, routes, sizeof(routes));
		snprintf(msg, sizeof(msg),
		         "no route %s; the routes of workflow '%s': %s (add /invoke to wait for the result)", url, wf,
		         routes);
		bad(in, c, 404, "not_found", msg);
		return 1;
	}
	if (strcmp(method, "POST")) {
		count(in, IN_BAD_REQUEST);
		api_error_hdr(c, 405, "Allow", "POST", "method_not_allowed", "%s %s: a route takes POST only", method,
		              url);
		return 1;
	}
	if (stopped(in, c, w) || over_quota(in, c, w))
		return 1;
	struct inreq *s = api_slot(rq, sizeof(*s), inreq_free);
	if (!s) {
		api_error(c, 500, "internal", "out of memory");
		return 1;
	}
	snprintf(s->wf, sizeof(s->wf), "%s", wf);
	snprintf(s->queue, sizeof(s->queue), "%s", r->queue);
	if (!(s->src = strdup(r->path))) {
		api_error(c, 500, "internal", "out of memory");
		return 1;
	}
	s->invoke = invoke;
	const char *nul = api_query_nul(c);
	if (nul) {
		snprintf(msg, sizeof(msg),
		         "query argument '%s': a NUL byte (%%00) is not allowed in a query; remove it", nul);
		bad(in, c, 400, "bad_request", msg);
		return 1;
	}
	if (invoke) {
		char err[256];
		if (ingress_timeout_arg(api_arg(c, "timeout_ms"), &s->timeout_ms, err, sizeof(err)) < 0) {
			bad(in, c, 400, "bad_request", err);
			return 1;
		}
	}
	*limit = d->cfg.ingress_body_max;
	return 0;
}

int ingress_timeout_arg(const char *v, uint64_t *ms, char *err, size_t errlen)
{
	int64_t n;
	*ms = INVOKE_DEFAULT_MS;
	if (!v)
		return 0;
	if (uf_int64_parse(v, strlen(v), &n) < 0 || n < 0 || n > INVOKE_MAX_MS) {
		snprintf(err, errlen, "timeout_ms must be a number of milliseconds 0..%u, got '%s'", INVOKE_MAX_MS, v);
		return -1;
	}
	*ms = (uint64_t)n;
	return 0;
}

/* ---- bodies ---- */

struct ce_headers {
	const char *names[CE_HEADERS_MAX], *values[CE_HEADERS_MAX];
	size_t n;
	int over;
};

static enum MHD_Result ce_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct ce_headers *h = cls;
	if (strncasecmp(key, "ce-", 3))
		return MHD_YES;
	if (h->n == CE_HEADERS_MAX) {
		h->over = 1;
		return MHD_NO;
	}
	h->names[h->n] = key;
	h->values[h->n++] = value;
	return MHD_YES;
}

static enum MHD_Result invalid_event(struct ingress *in, struct MHD_Connection *c, const struct ce_event *ev)
{
	count(in, IN_BAD_REQUEST);
	json_t *j = json_pack("{s:{s:s,s:s,s:s}}", "error", "code", "invalid_cloudevent", "message", ev->err,
	                      "attribute", ev->attr);
	return api_json(c, 400, j);
}

/* The body as an event: data and dlen (the body itself, or ev's payload for a
 * CloudEvent) and ev->attrs (NULL: none).  -1 when
 * answered (400, 415). */
static int read_body(struct ingress *in, struct MHD_Connection *c, const char *body, size_t len, struct ce_event *ev,
                     const char **data, size_t *dlen)
{
	const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	struct ce_headers h = {0};
	MHD_get_connection_values(c, MHD_HEADER_KIND, ce_header, &h);
	memset(ev, 0, sizeof(*ev));
	if (type && !strncasecmp(type, "application/cloudevents-batch", 29)) {
		count(in, IN_BAD_REQUEST);
		api_error(c, 415, "unsupported_media_type",
		          "CloudEvents batch mode is not served: send one event a request");
		return -1;
	}
	if (type && !strncasecmp(type, "application/cloudevents", 23)) {
		if (ce_structured(body, len, ev) < 0) {
			invalid_event(in, c, ev);
			ce_event_free(ev);
			return -1;
		}
		*data = ev->data ? ev->data : "";
		*dlen = ev->len;
		return 0;
	}
	if (h.n || h.over) {
		if (h.over) {
			snprintf(ev->attr, sizeof(ev->attr), "ce-*");
			snprintf(ev->err, sizeof(ev->err), "more than %d ce-* headers", CE_HEADERS_MAX);
		}
		if (h.over || ce_binary(h.names, h.values, h.n, type, body, len, ev) < 0) {
			invalid_event(in, c, ev);
			ce_event_free(ev);
			return -1;
		}
		*data = ev->data ? ev->data : "";
		*dlen = ev->len;
		return 0;
	}
	if (type && ce_type_is_json(type)) {
		json_error_t je;
		json_t *j = json_loadb(body, len, JSON_DECODE_ANY, &je);
		if (!j) {
			count(in, IN_BAD_REQUEST);
			api_error(c, 400, "bad_json", "the body is not JSON (Content-Type %s): line %d, column %d: %s",
			          type, je.line, je.column, je.text);
			return -1;
		}
		json_decref(j);
	}
	if (type) {
		json_t *s = json_string(type);
		if (!s) {
			count(in, IN_BAD_REQUEST);
			api_error(c, 400, "bad_request", "the Content-Type header is not UTF-8");
			return -1;
		}
		ev->attrs = json_pack("{s:o}", "datacontenttype", s);
	}
	*data = body; /* kept byte for byte: no copy */
	*dlen = len;
	return 0;
}

/* ---- queueing and waiting ---- */

static void xadd_reply(redisReply *r, void *arg)
{
	struct request *rq = arg;
	struct inreq *s = api_slot(rq, sizeof(*s), inreq_free);
	if (s && r && r->type == REDIS_REPLY_STRING) {
		snprintf(s->id, sizeof(s->id), "%s", r->str);
		s->replied = 1;
	} else if (s && r) {
		snprintf(s->refused, sizeof(s->refused), "%s",
		         r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		s->replied = 1;
		quota_redis_refused(api_daemon(api_of(rq)), s->wf, "http-ingress", r);
	}
	api_replied(rq, r);
}

/* Its workflow's turn (pushwin.h): the XADD of the event (delivery.h),
 * which takes over the request's hold.  Never more to send: 0. */
static int event_send(struct pw_source *p)
{
	struct inreq *s = (struct inreq *)((char *)p - offsetof(struct inreq, pws));
	struct request *rq = s->rq;
	struct uf_cmd cmd;
	s->held = 0;
	if (!api_live(rq)) {            /* answered meanwhile (its deadline) or gone: not sent */
		api_replied(rq, &came); /* may free s */
		return 0;
	}
	if (uf_ingress_cmd(s->wf, s->queue, strlen(s->queue), s->data, s->dlen, s->src, s->src ? strlen(s->src) : 0,
	                   s->attrs, s->attrs ? strlen(s->attrs) : 0, s->invoke ? s->token : NULL,
	                   s->invoke ? strlen(s->token) : 0, &cmd) < 0 ||
	    pushwin_sendv(s->pw, xadd_reply, rq, cmd.argc, cmd.argv, cmd.len) < 0) {
		snprintf(s->refused, sizeof(s->refused), "redis is unreachable");
		s->replied = 1;
		api_replied(rq, &came);
		return 0;
	}
	/* sent late in its wait (held to its ingress rate): its reply gets the
	 * store's own time still, so a sent event is not answered "may be queued" */
	api_wait_more(rq, REDIS_WAIT_MS);
	return 0;
}

/* The event waits for its workflow's turn in the push window, a copy of
 * it kept: 0, or -1 (out of memory). */
static int queue_event(struct request *rq, struct inreq *s, const char *data, size_t len, const char *attrs)
{
	struct daemon *d = api_daemon(api_of(rq));
	if (!(s->data = malloc(len ? len : 1)) || (attrs && !(s->attrs = strdup(attrs))))
		return -1;
	memcpy(s->data, data, len);
	s->dlen = len;
	s->rq = rq;
	s->pw = d->pushwin;
	s->held = 1;
	api_hold(rq);
	pushwin_enter(s->pw, &s->pws, s->wf, event_send); /* may send it at once */
	return 0;
}

/* Its workflow has PW_WAIT_MAX pushes waiting for their turn already: 429,
 * nothing queued.  1 when answered. */
static int busy(struct ingress *in, struct MHD_Connection *c, const char *wf)
{
	unsigned n = pushwin_waiting(in->d->pushwin, wf);
	if (n < PW_WAIT_MAX)
		return 0;
	count(in, IN_BUSY);
	int held;
	double rate = pushwin_rate(in->d->pushwin, wf, &held);
	char why[160] = "";
	if (held)
		snprintf(why, sizeof(why),
		         ", held to %.0f events/s while other workflows push (its share of ingress_rate %llu)", rate,
		         (unsigned long long)in->d->cfg.ingress_rate);
	api_error_hdr(c, 429, "Retry-After", "1", "busy",
	              "workflow '%s' has %u pushes waiting for their turn to be written to Redis (at most %u%s; "
	              "docs/api.md, pushes under load): nothing was queued; retry after a second",
	              wf, n, PW_WAIT_MAX, why);
	return 1;
}

/* No id: the answer says why (503). 1 when it did. */
static int not_queued(struct request *rq, struct inreq *s, struct ingress *in)
{
	if (s->id[0])
		return 0;
	if (uf_redis_full(s->refused)) {
		count(in, IN_OVER_QUOTA);
		api_answer_error(
		    rq, 507, "redis_full",
		    "redis is full (its maxmemory, redis_maxmemory in unifaasd.conf) and refused the event "
		    "for workflow '%s'; nothing was queued: retry later",
		    s->wf);
		api_answer_whole(rq);
		return 1;
	}
	int held = 0; /* its workflow waits for tokens now, not for Redis (a stalled Redis: the 503 below) */
	double rate = pushwin_rate(in->d->pushwin, s->wf, &held);
	if (s->held && rate > 0 && held) { /* its deadline came while its workflow waited for its rate's tokens */
		count(in, IN_BUSY);
		api_answer_error(rq, 429, "busy",
		                 "workflow '%s' is held to %.0f events/s while other workflows push (its share of "
		                 "ingress_rate %llu; docs/api.md, pushes under load) and the event waited for its turn "
		                 "until the request's deadline: nothing was queued; retry after a second",
		                 s->wf, rate, (unsigned long long)in->d->cfg.ingress_rate);
		api_answer_header(rq, "Retry-After", "1");
		api_answer_whole(rq);
		return 1;
	}
	count(in, IN_UNAVAILABLE);
	if (s->held) /* its deadline came before its workflow's turn */
		api_answer_error(rq, 503, "unavailable",
		                 "the event waited for its workflow's turn to be written to Redis until the request's "
		                 "deadline (Redis is slow or workflow '%s' pushes more than Redis takes); nothing was "
		                 "queued: retry later",
		                 s->wf);
	else if (s->refused[0])
		api_answer_error(rq, 503, "unavailable",
		                 "redis refused the event (%s); nothing was queued: retry later", s->refused);
	else
		api_answer_error(rq, 503, "unavailable",
		                 "redis did not confirm the event in time: it may be queued; retry later (the same "
		                 "event twice is the at-least-once case)");
	api_answer_whole(rq);
	return 1;
}

static void accept_finish(struct request *rq)
{
	struct inreq *s = api_slot(rq, sizeof(*s), inreq_free);
	struct ingress *in = api_daemon(api_of(rq))->ingress;
	if (!s || not_queued(rq, s, in))
		return;
	count(in, IN_ACCEPTED);
	scheduler_poke(api_daemon(api_of(rq)), s->wf, s->queue);
	char body[sizeof(s->id) + 16]; /* a stream id: digits and '-', nothing to escape */
	int n = snprintf(body, sizeof(body), "{\"id\":\"%s\"}\n", s->id);
	api_answer_raw(rq, 202, "application/json", body, (size_t)n, NULL, NULL);
	api_answer_whole(rq);
}

static void invoke_finish(struct request *rq)
{
	struct inreq *s = api_slot(rq, sizeof(*s), inreq_free);
	struct ingress *in = api_daemon(api_of(rq))->ingress;
	if (!s || not_queued(rq, s, in))
		return;
	scheduler_poke(api_daemon(api_of(rq)), s->wf, s->queue);
	if (s->outcome == 1) {
		json_t *j = json_loadb(s->result ? s->result : "", s->result_len, JSON_DECODE_ANY, NULL);
		count(in, IN_INVOKE_OK);
		api_answer_raw(rq, 200, j ? "application/json" : "application/octet-stream", s->result ? s->result : "",
		               s->result_len, "X-Unifaas-Event", s->id);
		json_decref(j);
	} else if (s->outcome == 2) {
		count(in, IN_INVOKE_FAIL);
		json_t *reason = json_stringn(s->result ? s->result : "", s->result_len);
		api_answer_json(rq, 502,
		                json_pack("{s:{s:s,s:o},s:s}", "error", "code", "handler_failed", "message",
		                          reason ? reason : json_string("(a reason that is not UTF-8)"), "id", s->id));
	} else if (s->outcome == 3) { /* kept, not failed: a retry would queue it twice */
		count(in, IN_INVOKE_DEFERRED);
		json_t *reason = json_stringn(s->result ? s->result : "", s->result_len);
		api_answer_json(rq, 202,
		                json_pack("{s:s,s:s,s:o,s:I}", "id", s->id, "status", "deferred", "reason",
		                          reason ? reason : json_string("(a reason that is not UTF-8)"), "timeout_ms",
		                          (json_int_t)s->timeout_ms));
	} else {
		count(in, IN_INVOKE_LATE);
		api_answer_json(rq, 202,
		                json_pack("{s:s,s:s,s:I}", "id", s->id, "status", "running", "timeout_ms",
		                          (json_int_t)s->timeout_ms));
	}
	api_answer_whole(rq);
}

static void arm(struct ingress *in);

/* Leaves the waiting list and releases its hold (which may free rq). */
static void unwait(struct ingress *in, struct inreq *s, int came_)
{
	for (struct inreq **p = &in->waiting; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	s->waiting = 0;
	api_replied(s->rq, came_ ? &came : NULL);
}

static void timer_cb(uv_timer_t *t)
{
	struct ingress *in = t->data;
	uint64_t now = now_ms();
	for (struct inreq *s = in->waiting, *next; s; s = next) {
		next = s->next;
		if (now >= s->deadline)
			unwait(in, s, 1);
	}
	arm(in);
}

static void arm(struct ingress *in)
{
	uint64_t due = UINT64_MAX, now = now_ms();
	for (struct inreq *s = in->waiting; s; s = s->next)
		if (s->deadline < due)
			due = s->deadline;
	if (due == UINT64_MAX)
		uv_timer_stop(&in->timer);
	else
		uv_timer_start(&in->timer, timer_cb, due > now ? due - now : 0, 0);
}

/* A message on uf:reply:<wf>: "<token>\n<outcome>\n<body>" (delivery.h). */
static void on_reply(void *arg, const char *channel, const char *msg, size_t len)
{
	struct ingress *in = arg;
	const char *wf = channel + strlen(UF_REPLY_CHANNEL), *nl = memchr(msg, '\n', len);
	if (!nl)
		return;
	const char *outcome = nl + 1, *nl2 = memchr(outcome, '\n', len - (size_t)(outcome - msg));
	size_t toklen = (size_t)(nl - msg);
	for (struct inreq *s = in->waiting; s; s = s->next) {
		if (strlen(s->token) != toklen || memcmp(s->token, msg, toklen) || strcmp(s->wf, wf))
			continue;
		size_t olen = nl2 ? (size_t)(nl2 - outcome) : len - (size_t)(outcome - msg);
		const char *body = nl2 ? nl2 + 1 : msg + len;
		s->outcome = olen == strlen(UF_REPLY_OK) && !memcmp(outcome, UF_REPLY_OK, olen)               ? 1
		             : olen == strlen(UF_REPLY_DEFERRED) && !memcmp(outcome, UF_REPLY_DEFERRED, olen) ? 3
		                                                                                              : 2;
		s->result_len = len - (size_t)(body - msg);
		if ((s->result = malloc(s->result_len + 1)))
			memcpy(s->result, body, s->result_len);
		else
			s->result_len = 0;
		unwait(in, s, 1);
		arm(in);
		return;
	}
}

enum MHD_Result ingress_invoke(struct api *a, struct MHD_Connection *c, struct request *rq, struct workflow *w,
                               const char *queue, const char *data, size_t len, const char *src, const char *attrs,
                               uint64_t timeout_ms)
{
	struct daemon *d = api_daemon(a);
	struct ingress *in = d->ingress;
	struct inreq *s = api_slot(rq, sizeof(*s), inreq_free);
	if (!s || !in)
		return api_error(c, 500, "internal", "out of memory");
	if (queue != s->queue) { /* the control API's invoke: no route of its own */
		snprintf(s->wf, sizeof(s->wf), "%s", w->m->name);
		snprintf(s->queue, sizeof(s->queue), "%s", queue);
	}
	if (busy(in, c, s->wf))
		return MHD_YES;
	s->invoke = 1;
	s->timeout_ms = timeout_ms;
	if (uf_random_hex(s->token, sizeof(s->token), 16) < 0)
		return api_error(c, 500, "internal", "no random bytes from the kernel (getrandom) for the reply token");
	if (src && !s->src && !(s->src = strdup(src)))
		return api_error(c, 500, "internal", "out of memory");
	if (queue_event(rq, s, data, len, attrs) < 0)
		return api_error(c, 500, "internal", "out of memory");
	/* the XADD is queued or out; its event cannot be handled before this returns */
	s->in = in;
	s->rq = rq;
	s->deadline = now_ms() + timeout_ms;
	s->waiting = 1;
	s->next = in->waiting;
	in->waiting = s;
	api_hold(rq);
	arm(in);
	return api_wait_replies_for(a, c, rq, invoke_finish, timeout_ms + STORE_TIMEOUT_MS + 1000);
}

static enum MHD_Result route(struct api *a, struct MHD_Connection *c, const char *url, const char *method,
                             struct request *rq)
{
	(void)url;
	(void)method;
	struct ingress *in = api_ctx(a);
	struct inreq *s = api_slot(rq, sizeof(*s), inreq_free);
	if (!s || !s->wf[0])
		return api_error(c, 500, "internal", "the request lost its route");
	if (api_too_large(rq))
		return bad(in, c, 413, "too_large", "the body is over the ingress limit (ingress_body_max)");
	struct workflow *w = registry_find(in->d, s->wf);
	if (!w)
		return bad(in, c, 404, "not_found", "the workflow was undeployed meanwhile");
	if (stopped(in, c, w) || over_quota(in, c, w))
		return MHD_YES;
	size_t len;
	const char *body = api_body_of(rq, &len);
	struct ce_event ev;
	const char *data = "";
	size_t dlen = 0;
	if (read_body(in, c, body, len, &ev, &data, &dlen) < 0)
		return MHD_YES;
	struct uf_limits lim;
	uf_queue_limits(w->m, s->queue, &in->d->cfg.limits, &lim);
	if (dlen > lim.v[UF_LIM_EVENT_BYTES]) { /* event_limits.h: what the listener takes */
		char where[64], msg[200];
		uf_limit_where(where, sizeof(where), &lim, UF_LIM_EVENT_BYTES);
		snprintf(msg, sizeof(msg), "event of %zu bytes, over the limit %llu (%s)", dlen,
		         (unsigned long long)lim.v[UF_LIM_EVENT_BYTES], where);
		ce_event_free(&ev);
		return bad(in, c, 413, "too_large", msg);
	}
	char *attrs = ev.attrs ? json_dumps(ev.attrs, JSON_COMPACT) : NULL;
	enum MHD_Result ret;
	if (s->invoke) {
		ret = ingress_invoke(a, c, rq, w, s->queue, data, dlen, s->src, attrs, s->timeout_ms);
	} else if (busy(in, c, s->wf)) {
		ret = MHD_YES;
	} else if (queue_event(rq, s, data, dlen, attrs) < 0) {
		ret = api_error(c, 500, "internal", "out of memory");
	} else {
		ret = api_wait_replies(a, c, rq, accept_finish);
	}
	free(attrs);
	ce_event_free(&ev);
	return ret;
}

static const struct api_server ingress_server = {
    .name = "ingress", .port_option = "--ingress-port N", .admit = admit, .route = route};

struct ingress *ingress_open(struct daemon *d, char *err, size_t errlen)
{
	struct ingress *in = calloc(1, sizeof(*in));
	if (!in) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	in->d = d;
	d->ingress = in;
	if (!(in->srv = api_serve(d, &ingress_server, in, d->cfg.ingress_bind, d->cfg.ingress_port,
	                          d->cfg.ingress_conns_per_address, err, errlen))) {
		d->ingress = NULL;
		free(in);
		return NULL;
	}
	uv_timer_init(d->loop, &in->timer);
	in->timer.data = in;
	if (store_psubscribe(d->store, UF_REPLY_CHANNEL "*", on_reply, in) < 0)
		dlog("error", "what=ingress op=psubscribe cause=\"cannot subscribe\" effect=\"invokes answer 202\"");
	return in;
}

static void timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void ingress_close(struct ingress *in)
{
	if (!in)
		return;
	while (in->waiting)
		unwait(in, in->waiting, 1);
	api_close(in->srv);
	in->d->ingress = NULL;
	uv_close((uv_handle_t *)&in->timer, timer_closed);
}
