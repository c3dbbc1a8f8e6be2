/*
 * api.c - the control API (docs/api.md) over HTTP on loopback.
 *
 * libmicrohttpd runs inside the daemon's one libuv loop: MHD in external
 * mode with epoll, its epoll fd watched by a uv_poll and its timeouts by a
 * uv_timer, so no thread ever touches daemon state.  A request body is
 * collected whole (capped per path) before the route runs.  Log long polls
 * suspend their connection and are resumed when the step's log grows or
 * their wait is over.
 *
 * Every request but GET /v1/health needs `Authorization: Bearer <token>`
 * (compared in constant time).  Every error is JSON {"error":{code,message}}
 * with the status of docs/api.md; clients rely on `code`.
 *
 * Hostile clients (docs/api.md, "Limits"): the token, the Content-Length
 * header(s) and the route's body limit are checked as soon as the head is
 * in, and a refusal (401, 400, 413) is answered before any byte of the body
 * is read (no `100 Continue` either), so a request without the token costs
 * the daemon its head only.  Each connection is in one phase: HEAD (from
 * accept, or the end of its previous request, to the end of the request
 * head), BODY (to the end of the body) or ANSWER; HEAD and BODY have total
 * deadlines, not idle ones, and a connection past its deadline is cut.  One
 * client address holds at most CONN_PER_IP connections to the control API,
 * and ingress_conns_per_address to the ingress (devices behind one NAT).
 *
 * Paths are routed on the request line as the client sent it (MHD's URI
 * log callback hands it over before MHD decodes it): the path is split on
 * '/' first, then each segment is percent-decoded on its own, so a key's
 * "%2F" is a '/' inside the key, never a separator.  Names and keys are
 * then checked against the rules of common/rules.h; a malformed escape or
 * a decoded NUL is refused (400) naming the segment as sent.
 */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>

#include "api.h"
#include "api_routes.h"
#include "delivery.h"
#include "ingress.h"
#include "linger.h"
#include "logs.h"
#include "pushwin.h"
#include "quota.h"
#include "rules.h"
#include "store.h"
#include "tokens.h"
#include "uf_abi.h"
#include "unifaasd.h"

#define BODY_MAX_MANIFEST UF_MANIFEST_BYTES_MAX /* rules.h: the one limit */
#define BODY_MAX_EVENTS   UF_PUSH_BYTES_MAX
#define LOG_READ_MAX      (256u << 10)

/* A push's commands are answered one after another: the store's watchdog
 * cuts them only when Redis stops making progress, so the answer waits for
 * their number too (Redis answers well over 2000 XADDs a second anywhere). */
#define PUSH_WAIT_MS(events) (REDIS_WAIT_MS + (events) / 2)
#define HEALTH_WAIT_MS       500u
#define UNITS_WAIT_MS        500u /* then the cached event counts */

#define CONN_MAX         UF_SERVER_CONN_MAX
#define CONN_PER_IP      32u
#define HEAD_DEADLINE_MS 10000u /* accept (or previous request) to end of head */
#define BODY_DEADLINE_MS 30000u /* end of head to end of body: 16 MiB at 560 KB/s */
#define IDLE_TIMEOUT_S   60u    /* answering: a client that stops reading */

enum phase { PHASE_HEAD, PHASE_BODY, PHASE_ANSWER, PHASE_CUT };

/* One accepted connection (MHD's socket context). */
struct conn {
	struct conn *next;
	const char *srv; /* its server's name, for the log */
	int fd;
	enum phase phase;
	uint64_t since; /* the phase began */
	int linger;     /* a request was refused on its head: its body may still come (linger.h) */
};

struct request {
	char *path; /* the request line's path as sent, not decoded (no query) */
	int headed; /* the head is in (refuse_on_head ran) */
	char *body;
	size_t len, cap;
	int too_large;
	size_t limit;      /* of the body: what the server's admit set on the head */
	int answered;      /* refused on its head: the body is never read */
	int suspended;     /* waiting in a long poll */
	uint64_t deadline; /* of the long poll, or of the wait for Redis */
	uint64_t period;   /* run the route again every period ms (0: when the log grows) */
	uint64_t recheck;  /* next time it is run again */
	struct logfile *log;
	struct request *next_waiter;
	struct MHD_Connection *conn;
	/* An answer that waits for Redis replies (store_send): the connection
	 * is suspended until the last reply or the deadline, whichever first. */
	struct api *a;
	int calls;           /* replies still to come */
	int redis_wait;      /* suspended for them */
	int gone;            /* the connection ended first: the last reply frees this */
	int ready;           /* the answer below is complete */
	int partial_ok;      /* at the deadline, answer what is in (marked stale) */
	int undeploy, purge; /* what registry_done answers */
	unsigned status;
	json_t *doc; /* a JSON answer, or: */
	char *out;   /* a raw one */
	size_t outlen;
	const char *out_type;           /* its Content-Type, NULL: by status */
	char out_hdr[32], out_val[128]; /* one header more, "" if none */
	char what[700];                 /* the 404 message of a missing key */
	char wf[UF_NAME_BUF];           /* push: where, for the scheduler */
	char queue[UF_QUEUE_MAX + 1];
	size_t events, sent, queued;
	unsigned char *push_state;      /* push: each event's PUSH_* (in body order) */
	size_t push_answered;           /* push: replies in (they come in the order sent) */
	const char *push_at, *push_end; /* push: what of the body is not sent yet */
	int push_single, push_stop;     /* one event; no more to send (a refusal, Redis away) */
	struct pw_source src;           /* push: its place in the push window's turns (pushwin.h) */
	struct pushwin *pw;
	int push_held;                      /* push: events still to send, one of `calls` held for them */
	int missing;                        /* replies that never came */
	void (*finish)(struct request *rq); /* makes the answer from the replies */
	char first[64], last[64], refused[256];
	int again;                 /* run the route again once the replies are in */
	void *slot;                /* a route file's state across its runs */
	void (*slot_free)(void *); /* frees it with the request */
	size_t slot_size;
};

struct api {
	struct daemon *d;
	const struct api_server *srv; /* its routes: the control API's, or another server's (api_routes.h) */
	void *ctx;                    /* srv's own state */
	struct MHD_Daemon *mhd;
	uv_poll_t poll;
	uv_timer_t timer;
	struct request *waiters;
	struct conn *conns;
	struct linger_set *linger; /* closed connections whose refused body may still come */
};

/* ---- responses ---- */

static enum MHD_Result send_with(struct MHD_Connection *c, unsigned status, const char *type, const char *body,
                                 size_t len, const char *hdr, const char *value)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	if (hdr && hdr[0])
		MHD_add_response_header(r, hdr, value);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, const char *type, const char *body,
                                 size_t len, const char *offset_hdr)
{
	return send_with(c, status, type, body, len, offset_hdr ? "X-Unifaas-Offset" : NULL, offset_hdr);
}

static enum MHD_Result send_json_hdr(struct MHD_Connection *c, unsigned status, json_t *j, const char *hdr,
                                     const char *value);

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	return send_json_hdr(c, status, j, NULL, NULL);
}

static enum MHD_Result send_json_hdr(struct MHD_Connection *c, unsigned status, json_t *j, const char *hdr,
                                     const char *value)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s) { /* json_pack refuses what is not UTF-8: never leave the client without an answer */
		static const char fallback[] =
		    "{\"error\":{\"code\":\"internal\",\"message\":\"the reply could not be encoded\"}}\n";
		return send_body(c, 500, "application/json", fallback, sizeof(fallback) - 1, NULL);
	}
	size_t n = strlen(s);
	s = realloc(s, n + 2);
	s[n] = '\n';
	enum MHD_Result r = send_with(c, status, "application/json", s, n + 1, hdr, value);
	free(s);
	return r;
}

/* Replace every byte that is not part of valid UTF-8 with '?'. */
static void utf8_scrub(char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t l = uf_utf8_seq((const unsigned char *)s + i, n - i);
		if (l == 0)
			s[i++] = '?';
		else
			i += l;
	}
}

static json_t *error_doc(const char *code, const char *fmt, va_list ap)
{
	char msg[8192];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	utf8_scrub(msg); /* names from the path may be any bytes */
	return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	json_t *j = error_doc(code, fmt, ap);
	va_end(ap);
	return send_json(c, status, j);
}

/* The answer of a request waiting for Redis, kept until it is sent. */
static void answer_json(struct request *rq, unsigned status, json_t *j)
{
	json_decref(rq->doc);
	rq->status = status;
	rq->doc = j;
}

static void answer_error(struct request *rq, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void answer_error(struct request *rq, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	answer_json(rq, status, error_doc(code, fmt, ap));
	va_end(ap);
}

enum MHD_Result api_error_hdr(struct MHD_Connection *c, unsigned status, const char *hdr, const char *value,
                              const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	json_t *j = error_doc(code, fmt, ap);
	va_end(ap);
	return send_json_hdr(c, status, j, hdr, value);
}

static enum MHD_Result unavailable(struct MHD_Connection *c)
{
	return send_error(c, 503, "unavailable", "redis is unreachable; retry later");
}

/* ---- what the other route files use (api_routes.h) ---- */

struct daemon *api_daemon(struct api *a)
{
	return a->d;
}

enum MHD_Result api_body(struct MHD_Connection *c, unsigned status, const char *type, const char *body, size_t len,
                         const char *offset_hdr)
{
	return send_body(c, status, type, body, len, offset_hdr);
}

enum MHD_Result api_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	return send_json(c, status, j);
}

enum MHD_Result api_error(struct MHD_Connection *c, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return send_error(c, status, code, "%s", msg);
}

enum MHD_Result api_unavailable(struct MHD_Connection *c)
{
	return unavailable(c);
}

/* ---- helpers ---- */

static int name_ok(enum uf_name_kind kind, const char *s)
{
	return s && uf_name_ok(kind, s, strlen(s));
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* Percent-decodes [raw, raw+n) into out, NUL-terminated (n + 1 bytes are
 * enough).  The decoded length, or -1 for a '%' not followed by two hex
 * digits. */
static ssize_t pct_decode(const char *raw, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (raw[i] != '%') {
			out[o++] = raw[i];
			continue;
		}
		int h = i + 2 < n ? hexval(raw[i + 1]) : -1, l = i + 2 < n ? hexval(raw[i + 2]) : -1;
		if (h < 0 || l < 0)
			return -1;
		out[o++] = (char)(h << 4 | l);
		i += 2;
	}
	out[o] = 0;
	return (ssize_t)o;
}

/* api_split_path (api_routes.h): segments, each decoded on its own. */
int api_split_path(const char *path, char *buf, char **seg, int max, const char **bad)
{
	int n = 0;
	for (const char *p = path; *p && n < max;) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (!len)
			break;
		ssize_t d = pct_decode(p, len, buf);
		if (d < 0 || memchr(buf, 0, (size_t)d)) {
			*bad = p;
			return -1;
		}
		seg[n++] = buf;
		buf += d + 1;
		p += len;
	}
	return n;
}

static const char *arg(struct MHD_Connection *c, const char *k)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

const char *api_arg(struct MHD_Connection *c, const char *k)
{
	return arg(c, k);
}

static int authorized(struct api *a, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	const char *tok = a->d->cfg.token;
	if (!h || strncmp(h, "Bearer ", 7))
		return 0;
	h += 7;
	size_t n = strlen(tok), m = strlen(h);
	unsigned diff = (unsigned)(n ^ m);
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)tok[i] ^ (unsigned char)(i < m ? h[i] : 0);
	return diff == 0;
}

static enum MHD_Result unauthorized(struct MHD_Connection *c)
{
	return send_error(c, 401, "unauthorized",
	                  "missing or wrong bearer token (see the api_token_file of 'unifaas status')");
}

static const char *state_name(const struct workflow *w)
{
	return w->state == WF_STOPPED ? "stopped" : "running";
}

/* ---- answers that wait for Redis ---- */

static void arm(struct api *a);
static void run(struct api *a);
static void timer_cb(uv_timer_t *t);

static void free_request(struct request *rq)
{
	if (rq->slot_free)
		rq->slot_free(rq->slot);
	free(rq->body);
	free(rq->out);
	free(rq->path);
	free(rq->push_state);
	json_decref(rq->doc);
	free(rq);
}

static void unwait(struct api *a, struct request *rq)
{
	for (struct request **p = &a->waiters; *p; p = &(*p)->next_waiter)
		if (*p == rq) {
			*p = rq->next_waiter;
			return;
		}
}

/* Whether a reply that arrives now is still wanted. */
static int live(const struct request *rq)
{
	return !rq->gone && !rq->ready;
}

/* Every reply is in, or the deadline passed: the answer is made final and
 * the connection woken; MHD sends it at its next run (handler, rq->ready). */
static void redis_done(struct request *rq)
{
	struct api *a = rq->a;
	int complete = !rq->calls && !rq->missing;
	if (rq->finish)
		rq->finish(rq); /* may decide the answer is whole (partial_ok) */
	if (!complete && !rq->partial_ok)
		answer_error(rq, 503, "unavailable",
		             rq->calls ? "redis did not answer in time; retry later"
		                       : "redis is unreachable; retry later");
	else if (!complete && rq->status == 200 && json_is_object(rq->doc))
		json_object_set_new(rq->doc, "stale", json_true()); /* from the daemon's last reading */
	rq->ready = 1;
	if (!rq->redis_wait) /* done before it was suspended: wait_redis answers */
		return;
	rq->redis_wait = 0;
	unwait(a, rq);
	MHD_resume_connection(rq->conn);
	uv_timer_start(&a->timer, timer_cb, 0, 0);
}

/* After each reply (r NULL: none came): the last one completes the answer. */
static void replied(struct request *rq, int missing)
{
	rq->calls--;
	rq->missing += missing;
	if (rq->gone) {
		if (!rq->calls)
			free_request(rq);
		return;
	}
	if (!rq->calls && !rq->ready)
		redis_done(rq);
}

static enum MHD_Result send_ready(struct MHD_Connection *c, struct request *rq);

/* Suspends the connection until the replies to the commands sent are in,
 * at most wait_ms.  Nothing sent: Redis is unreachable, answered now. */
static enum MHD_Result wait_redis(struct api *a, struct MHD_Connection *c, struct request *rq, uint64_t wait_ms)
{
	if (rq->ready)
		return send_ready(c, rq);
	if (!rq->calls) {
		if (rq->finish)
			rq->finish(rq);
		if (rq->partial_ok && rq->out && !rq->doc) /* a raw answer made without Redis */
			return send_ready(c, rq);
		if (rq->partial_ok && rq->doc) {
			if (rq->status == 200 && rq->missing) /* nothing asked (no unit): nothing stale */
				json_object_set_new(rq->doc, "stale", json_true());
			json_t *j = rq->doc;
			rq->doc = NULL;
			return send_json(c, rq->status, j);
		}
		return unavailable(c);
	}
	rq->conn = c;
	rq->redis_wait = 1;
	rq->deadline = now_ms() + wait_ms;
	rq->next_waiter = a->waiters;
	a->waiters = rq;
	MHD_suspend_connection(c);
	arm(a);
	return MHD_YES;
}

/* The answer made while the connection was suspended. */
static enum MHD_Result send_ready(struct MHD_Connection *c, struct request *rq)
{
	if (rq->doc) {
		json_t *j = rq->doc;
		rq->doc = NULL;
		return send_json_hdr(c, rq->status, j, rq->out_hdr[0] ? rq->out_hdr : NULL, rq->out_val);
	}
	const char *type = rq->out_type ? rq->out_type : rq->status == 200 ? "application/octet-stream" : "text/plain";
	return send_with(c, rq->status, type, rq->out ? rq->out : "", rq->outlen, rq->out_hdr, rq->out_val);
}

/* ---- routes ---- */

/* From memory, at once, whatever Redis does (store_healthy). */
static enum MHD_Result r_health(struct api *a, struct MHD_Connection *c)
{
	int up = store_healthy(a->d->store);
	return send_json(c, up ? 200 : 503,
	                 json_pack("{s:s,s:s,s:s}", "status", up ? "ok" : "degraded", "version", UNIFAAS_VERSION,
	                           "redis", up ? "ok" : "down"));
}

static enum MHD_Result r_status(struct api *a, struct MHD_Connection *c)
{
	struct daemon *d = a->d;
	char url[64], ingress[96];
	size_t nwf = 0;
	for (struct workflow *w = d->workflows; w; w = w->next)
		nwf++;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", d->cfg.api_port);
	snprintf(ingress, sizeof(ingress), "http://%s:%u", d->cfg.ingress_bind, d->cfg.ingress_port);
	return send_json(c, 200,
	                 json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:I}", "state_dir", d->cfg.state_dir,
	                           "redis_socket", d->cfg.redis_socket, "mqtt_url", d->cfg.mqtt_url, "api_url", url,
	                           "ingress_url", ingress, "token_file", d->cfg.token_file, "units", (int)d->running,
	                           "max_units", (int)d->cfg.max_units, "workflows", (int)nwf, "uptime_s",
	                           (json_int_t)((now_ms() - d->started_ms) / 1000)));
}

static enum MHD_Result r_list(struct api *a, struct MHD_Connection *c)
{
	json_t *arr = json_array();
	for (struct workflow *w = a->d->workflows; w; w = w->next)
		json_array_append_new(arr, json_pack("{s:s,s:i,s:i,s:s,s:s}", "name", w->m->name, "steps",
		                                     (int)w->m->nfunctions, "units", (int)w->running, "state",
		                                     state_name(w), "reason", w->reason));
	return send_json(c, 200, json_pack("{s:o}", "workflows", arr));
}

#define REGISTRY_WAIT_MS 600000u /* the registry's chain ends by itself (store_send's timeout) */

/* A deploy or undeploy is over (registry_done_fn). */
static void registry_done(void *arg, int status, const char *wf, const char *err)
{
	struct request *rq = arg;
	if (!live(rq)) { /* its client is gone (rq->a may be too, at shutdown) */
		replied(rq, 0);
		return;
	}
	struct workflow *w = status == 200 || status == 201 ? registry_find(rq->a->d, wf) : NULL;
	if (rq->undeploy && status == 200) {
		answer_json(rq, 200, json_pack("{s:s,s:b}", "name", wf, "purged", rq->purge));
	} else if (w) {
		json_t *steps = json_array();
		for (size_t i = 0; i < w->m->nfunctions; i++)
			json_array_append_new(steps, json_string(w->m->functions[i].name));
		answer_json(rq, (unsigned)status, json_pack("{s:s,s:o}", "name", w->m->name, "steps", steps));
	} else {
		answer_error(rq, status >= 400 ? (unsigned)status : 500,
		             status == 404   ? "not_found"
		             : status == 409 ? "conflict"
		             : status == 503 ? "unavailable"
		                             : "internal",
		             "%s", err ? err : "the workflow went away meanwhile");
	}
	replied(rq, 0);
}

static const char *registry_code(int status)
{
	return status == 422   ? "invalid_manifest"
	       : status == 409 ? "conflict"
	       : status == 404 ? "not_found"
	       : status == 503 ? "unavailable"
	                       : "internal";
}

/* Deploy: checked and staged at once, answered once Redis took it. */
static enum MHD_Result r_deploy(struct api *a, struct MHD_Connection *c, struct request *rq)
{
	const char *file = arg(c, "file"), *dir = arg(c, "dir"), *rep = arg(c, "replace");
	char err[16384];
	int status = 0;
	if (rq->too_large)
		return send_error(c, 413, "too_large", "manifest over %u bytes", BODY_MAX_MANIFEST);
	if (dir && dir[0] != '/')
		return send_error(c, 400, "bad_request", "dir must be an absolute path, got '%s'", dir);
	rq->calls++;
	if (registry_deploy(a->d, rq->body ? rq->body : "", rq->len, file ? file : "manifest.yaml", dir ? dir : "/",
	                    rep && !strcmp(rep, "1"), registry_done, rq, err, sizeof(err), &status) < 0) {
		rq->calls--;
		return send_error(c, (unsigned)status, registry_code(status), "%s", err);
	}
	rq->partial_ok = 1; /* the registry's answer is whole */
	return wait_redis(a, c, rq, REGISTRY_WAIT_MS);
}

static enum MHD_Result r_undeploy(struct api *a, struct MHD_Connection *c, struct request *rq, const char *name)
{
	const char *p = arg(c, "purge");
	char err[512];
	int status = 0;
	rq->undeploy = 1;
	rq->purge = p && !strcmp(p, "1");
	rq->calls++;
	if (registry_undeploy(a->d, name, rq->purge, registry_done, rq, err, sizeof(err), &status) < 0) {
		rq->calls--;
		return send_error(c, (unsigned)status, registry_code(status), "%s", err);
	}
	rq->partial_ok = 1;
	return wait_redis(a, c, rq, REGISTRY_WAIT_MS);
}

static enum MHD_Result r_resume(struct api *a, struct MHD_Connection *c, struct workflow *w)
{
	if (w->state != WF_STOPPED)
		return send_error(c, 409, "conflict", "workflow '%s' is not stopped", w->m->name);
	registry_set_state(w, WF_RUNNING, NULL);
	for (size_t i = 0; i < w->m->nfunctions; i++)
		w->steps[i].fresh = 1; /* no overflow on the first check */
	dlog("info", "what=resume workflow=%s", w->m->name);
	scheduler_check_now(a->d);
	return send_json(c, 200, json_pack("{s:s,s:s}", "name", w->m->name, "state", state_name(w)));
}

static int listened(const struct workflow *w, const char *q)
{
	return uf_manifest_listener(w->m, q) != NULL;
}

/* A push's events go out through the push window (pushwin.c), in its
 * workflow's turns: the request is a source there while it has events to
 * send, and holds one of its `calls` meanwhile, so its answer waits for
 * the events not sent yet as well as for the replies. */
static void push_reply(redisReply *r, void *arg);

/* What came of each event of a push, for an answer that is not all
 * queued: the client can tell which to send again (docs/api.md). */
enum { PUSH_NOT_SENT, PUSH_UNCONFIRMED, PUSH_QUEUED, PUSH_REFUSED, PUSH_NSTATES };
static const char *const PUSH_STATE_NAMES[PUSH_NSTATES] = {"not_sent", "unconfirmed", "queued", "refused"};

/* {"queued": [[from, to], ...], "refused": ..., "unconfirmed": ...,
 * "not_sent": ...}: the events (1 for the first, in body order, empty
 * lines not counted) by what came of them, as ranges. */
static json_t *push_outcome(const struct request *rq)
{
	json_t *o = json_object();
	for (int k = 0; o && k < PUSH_NSTATES; k++) {
		json_t *ranges = json_array();
		for (size_t i = 0; ranges && i < rq->events; i++) {
			if (rq->push_state[i] != k)
				continue;
			size_t j = i;
			while (j + 1 < rq->events && rq->push_state[j + 1] == k)
				j++;
			json_array_append_new(ranges, json_pack("[I,I]", (json_int_t)i + 1, (json_int_t)j + 1));
			i = j;
		}
		json_object_set_new(o, PUSH_STATE_NAMES[k], ranges ? ranges : json_null());
	}
	return o;
}

static int push_left(const struct request *rq)
{
	return live(rq) && !rq->push_stop && rq->sent < rq->events && (rq->push_single || rq->push_at < rq->push_end);
}

/* Its connection is gone: out of the push window, its hold given up. */
static void push_drop(struct request *rq)
{
	if (!rq->push_held)
		return;
	pushwin_cancel(rq->pw, &rq->src);
	rq->push_held = 0;
	rq->calls--;
}

/* Its turn (pushwin.h): its next events while the turn has room; 1 while
 * more are to send. */
static int push_send(struct pw_source *src)
{
	struct request *rq = (struct request *)((char *)src - offsetof(struct request, src));
	size_t qlen = strlen(rq->queue);
	while (push_left(rq) && pushwin_room(rq->pw)) {
		const char *s = rq->push_at, *end = rq->push_end;
		const char *nl = rq->push_single ? end : memchr(s, '\n', (size_t)(end - s));
		size_t len = (size_t)((nl ? nl : end) - s);
		rq->push_at = (nl ? nl : end) + 1;
		if (!rq->push_single && len && s[len - 1] == '\r')
			len--;
		if (!len && !rq->push_single)
			continue;  /* empty lines are skipped */
		struct uf_cmd cmd; /* the push of the delivery protocol (common/delivery.h) */
		uf_push_cmd(rq->wf, rq->queue, qlen, s, len, &cmd);
		if (pushwin_sendv(rq->pw, push_reply, rq, cmd.argc, cmd.argv, cmd.len) < 0) {
			rq->push_stop = 1; /* the rest is not sent: the answer says how many were queued */
			break;
		}
		rq->push_state[rq->sent] = PUSH_UNCONFIRMED;
		rq->sent++;
		rq->calls++;
	}
	/* held to its workflow's ingress rate (pushwin.h), a push goes on as
	 * long as it makes progress: its deadline counts from its last turn,
	 * the last one too (the replies of what it sent get the store's time,
	 * as ingress.c's event_send; a sent event is not answered 'may be
	 * queued') */
	uint64_t until = now_ms() + PUSH_WAIT_MS(rq->events - rq->sent);
	if (rq->redis_wait && rq->deadline < until)
		rq->deadline = until;
	if (push_left(rq))
		return 1;
	rq->push_held = 0; /* out of the window now (pushwin forgets a source whose send returns 0) */
	replied(rq, 0);    /* may free rq */
	return 0;
}

static void push_reply(redisReply *r, void *arg)
{
	struct request *rq = arg;
	/* the store answers one connection's commands in order, a lost one
	 * with NULL: this reply is for the push_answered-th event sent */
	size_t ev = rq->push_answered++;
	if (live(rq) && r && ev < rq->sent)
		rq->push_state[ev] = r->type == REDIS_REPLY_STRING ? PUSH_QUEUED : PUSH_REFUSED;
	if (live(rq) && r && r->type == REDIS_REPLY_STRING) {
		if (!rq->first[0])
			snprintf(rq->first, sizeof(rq->first), "%s", r->str);
		snprintf(rq->last, sizeof(rq->last), "%s", r->str);
		rq->queued++;
	} else if (live(rq) && r && !rq->refused[0]) {
		snprintf(rq->refused, sizeof(rq->refused), "%s",
		         r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		quota_redis_refused(rq->a->d, rq->wf, "push", r);
	}
	if (!r || r->type != REDIS_REPLY_STRING)
		rq->push_stop = 1; /* refused or lost: what is not sent yet stays so */
	replied(rq, !r);
}

/* An answer that is not "all queued" says which events were, so that a
 * retry duplicates none: queued, first, last and events (push_outcome). */
static void push_outcome_attach(struct request *rq)
{
	json_t *o = push_outcome(rq);
	json_object_set_new(rq->doc, "queued", json_integer((json_int_t)rq->queued));
	json_object_set_new(rq->doc, "events", o ? o : json_null());
	if (rq->queued) {
		json_object_set_new(rq->doc, "first", json_string(rq->first));
		json_object_set_new(rq->doc, "last", json_string(rq->last));
	}
}

/* Every XADD answered (or not in time): 202 only when all were queued. */
static void push_finish(struct request *rq)
{
	if (rq->queued)
		scheduler_poke(rq->a->d, rq->wf, rq->queue);
	if (rq->queued == rq->events) {
		answer_json(
		    rq, 202,
		    json_pack("{s:I,s:s,s:s}", "queued", (json_int_t)rq->queued, "first", rq->first, "last", rq->last));
		rq->partial_ok = 1; /* the answer is whole whatever else is late */
		return;
	}
	int held = 0; /* its workflow waits for tokens now, not for Redis (a stalled Redis: the 503 below) */
	double rate = rq->push_stop || rq->sent == rq->events ? 0 : pushwin_rate(rq->pw, rq->wf, &held);
	if (rate > 0 && held) { /* its deadline came while its workflow waited for turns held to its ingress rate */
		answer_error(rq, 429, "busy",
		             "workflow '%s' is held to %.0f events/s while other workflows push (its share of "
		             "ingress_rate %llu; docs/api.md, pushes under load) and the request's deadline came "
		             "before its turn: redis queued %zu of %zu events%s%s%s%s; retry the rest after a second",
		             rq->wf, rate, (unsigned long long)rq->a->d->cfg.ingress_rate, rq->queued, rq->events,
		             rq->queued ? ", ids " : "", rq->first, rq->queued ? " .. " : "", rq->last);
		api_answer_header(rq, "Retry-After", "1");
		push_outcome_attach(rq);
		rq->partial_ok = 1;
		return;
	}
	int full = uf_redis_full(rq->refused); /* maxmemory: 507, as over a quota */
	answer_error(rq, full ? 507 : 503, full ? "redis_full" : "unavailable",
	             "redis queued %zu of %zu events (%s)%s%s%s%s; send again only the events listed under "
	             "\"refused\" and \"not_sent\" (\"unconfirmed\" ones may be queued: look before sending them "
	             "again)",
	             rq->queued, rq->events,
	             rq->refused[0]                           ? rq->refused
	             : rq->sent < rq->events && rq->push_stop ? "redis is unreachable"
	             : rq->sent < rq->events
	                 ? "their turn to be written did not come in time: redis is slow or unreachable"
	                 : "no answer in time: the unconfirmed ones may be queued",
	             rq->queued ? ", ids " : "", rq->first, rq->queued ? " .. " : "", rq->last);
	push_outcome_attach(rq);
	rq->partial_ok = 1; /* this 503 says it all */
}

static enum MHD_Result r_push(struct api *a, struct MHD_Connection *c, struct request *rq, struct workflow *w,
                              const char *q)
{
	struct daemon *d = a->d;
	if (rq->too_large)
		return send_error(c, 413, "too_large", "events over %u bytes in one request", BODY_MAX_EVENTS);
	if (!listened(w, q))
		return send_error(c, 404, "not_found", "no step of workflow '%s' listens to queue '%s'", w->m->name, q);
	if (w->state == WF_STOPPED)
		return send_error(c, 409, "stopped", "workflow '%s' is stopped: %s", w->m->name, w->reason);
	char over[512];
	if (quota_refuses(w, over, sizeof(over)))
		return send_error(c, 507, "over_quota", "%s", over);
	const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	int single = type && !strncmp(type, "application/octet-stream", 24);
	const char *p = rq->body ? rq->body : "", *end = p + rq->len;
	size_t n = 0;
	struct uf_limits lim; /* event_limits.h: what the queue's listener takes */
	char where[64];
	uf_queue_limits(w->m, q, &d->cfg.limits, &lim);
	uf_limit_where(where, sizeof(where), &lim, UF_LIM_EVENT_BYTES);
	/* check every event before queueing any */
	for (const char *s = p; s < end;) {
		const char *nl = single ? end : memchr(s, '\n', (size_t)(end - s));
		size_t len = (size_t)((nl ? nl : end) - s);
		size_t text = !single && len && s[len - 1] == '\r' ? len - 1 : len;
		if (text > lim.v[UF_LIM_EVENT_BYTES])
			return send_error(c, 413, "too_large", "event %zu is %zu bytes, over the limit %llu (%s)",
			                  n + 1, text, (unsigned long long)lim.v[UF_LIM_EVENT_BYTES], where);
		n += single || text > 0; /* empty lines are skipped, as below */
		s += len + 1;
		if (n > UF_PUSH_EVENTS_MAX)
			return send_error(c, 413, "too_large",
			                  "more than %u events in one request (the limit per push request); "
			                  "send them in several requests, as 'unifaas push' does",
			                  UF_PUSH_EVENTS_MAX);
	}
	snprintf(rq->wf, sizeof(rq->wf), "%s", w->m->name);
	snprintf(rq->queue, sizeof(rq->queue), "%s", q);
	rq->events = single ? 1 : n;
	if (!(rq->push_state = calloc(rq->events ? rq->events : 1, 1))) /* all PUSH_NOT_SENT */
		return send_error(c, 500, "internal", "out of memory for a push of %zu events", rq->events);
	rq->finish = push_finish;
	rq->push_at = p;
	rq->push_end = end;
	rq->push_single = single;
	rq->pw = d->pushwin;
	rq->push_held = 1;
	rq->calls++; /* the hold: released once every event is sent (push_send) */
	pushwin_enter(rq->pw, &rq->src, rq->wf, push_send);
	return wait_redis(a, c, rq, PUSH_WAIT_MS(rq->events));
}

/* POST /v1/workflows/WF/queues/Q/invoke?timeout_ms=N: the body is one
 * event; ingress.c waits for its result. */
static enum MHD_Result r_invoke(struct api *a, struct MHD_Connection *c, struct request *rq, struct workflow *w,
                                const char *q)
{
	char err[256];
	uint64_t ms;
	if (rq->too_large)
		return send_error(c, 413, "too_large", "an event over %u bytes", BODY_MAX_MANIFEST);
	if (!listened(w, q))
		return send_error(c, 404, "not_found", "no step of workflow '%s' listens to queue '%s'", w->m->name, q);
	if (w->state == WF_STOPPED)
		return send_error(c, 409, "stopped", "workflow '%s' is stopped: %s", w->m->name, w->reason);
	char over[512];
	if (quota_refuses(w, over, sizeof(over)))
		return send_error(c, 507, "over_quota", "%s", over);
	if (ingress_timeout_arg(arg(c, "timeout_ms"), &ms, err, sizeof(err)) < 0)
		return send_error(c, 400, "bad_request", "%s", err);
	struct uf_limits lim; /* event_limits.h: what the queue's listener takes */
	uf_queue_limits(w->m, q, &a->d->cfg.limits, &lim);
	if (rq->len > lim.v[UF_LIM_EVENT_BYTES]) {
		char where[64];
		uf_limit_where(where, sizeof(where), &lim, UF_LIM_EVENT_BYTES);
		return send_error(c, 413, "too_large", "event of %zu bytes, over the limit %llu (%s)", rq->len,
		                  (unsigned long long)lim.v[UF_LIM_EVENT_BYTES], where);
	}
	return ingress_invoke(a, c, rq, w, q, rq->body ? rq->body : "", rq->len, NULL, NULL, ms);
}

json_t *api_step_exits(const struct step *s)
{
	static const char *names[UF_END_NET + 1] = {"clean", "error",         "usage",    "fault", "timeout",
	                                            "oom",   "bad_hypercall", "internal", "net"};
	json_t *exits = json_object();
	for (int k = 0; k <= UF_END_NET; k++)
		if (s->exits[k])
			json_object_set_new(exits, names[k], json_integer((json_int_t)s->exits[k]));
	if (s->killed)
		json_object_set_new(exits, "killed", json_integer((json_int_t)s->killed));
	return exits;
}

/* A reply that fills part of a JSON answer: what it fills. */
struct part {
	struct request *rq;
	json_t *obj; /* a reference of its own */
	int kind;
};

static int ask_part(struct daemon *d, struct request *rq, store_cb cb, json_t *obj, int kind, const char *fmt,
                    const char *wf, const char *name)
{
	struct part *pt = calloc(1, sizeof(*pt));
	if (!pt) {
		rq->missing++;
		return -1;
	}
	*pt = (struct part){.rq = rq, .obj = json_incref(obj), .kind = kind};
	if (store_send(d->store, cb, pt, fmt, wf, name) < 0) {
		json_decref(pt->obj);
		free(pt);
		rq->missing++; /* the answer lacks this part */
		return -1;
	}
	rq->calls++;
	return 0;
}

static void part_done(struct part *pt, const redisReply *r)
{
	struct request *rq = pt->rq;
	json_decref(pt->obj);
	free(pt);
	replied(rq, !r);
}

/* uf:stat:<wf>:<step> (HGETALL): each unit's acknowledged events. */
static void units_reply(redisReply *r, void *arg)
{
	struct part *pt = arg;
	if (live(pt->rq) && r && r->type == REDIS_REPLY_ARRAY) {
		size_t i;
		json_t *e;
		json_array_foreach(pt->obj, i, e)
		{
			const char *id = json_string_value(json_object_get(e, "id"));
			redisReply *v = id ? store_field(r, id) : NULL;
			if (!v || v->type != REDIS_REPLY_STRING)
				continue;
			long long ev = strtoll(v->str, NULL, 10);
			json_object_set_new(e, "events", json_integer(ev));
			struct unit *u = unit_find(pt->rq->a->d, 0, id);
			if (u) /* what the next answer shows if Redis is slow then */
				u->events = (uint64_t)ev;
		}
	}
	part_done(pt, r);
}

static json_t *step_json(struct workflow *w, struct step *s)
{
	const char *reason = w->state == WF_STOPPED ? w->reason : s->why_waiting;
	const char *stop = s->nstops ? s->stops[(s->nstops - 1) % STEP_ENDS_KEPT].reason : "";
	return json_pack("{s:s,s:s,s:i,s:i,s:s,s:s,s:I,s:I,s:o,s:s}", "workflow", w->m->name, "step", s->fn->name,
	                 "units", (int)s->running, "max_units", (int)s->fn->scale.max_units, "state", state_name(w),
	                 "reason", reason, "starts", (json_int_t)s->starts, "backlog", (json_int_t)s->backlog, "exits",
	                 api_step_exits(s), "last_stop", stop);
}

/* The units as the daemon knows them; each one's event count from Redis,
 * or, when Redis does not answer within UNITS_WAIT_MS, the last one read
 * (the answer is then marked "stale"). */
static enum MHD_Result r_units(struct api *a, struct MHD_Connection *c, struct request *rq)
{
	struct daemon *d = a->d;
	json_t *units = json_array(), *steps = json_array(), *over = json_array();
	uint64_t now = now_ms();
	answer_json(rq, 200, json_pack("{s:o,s:o,s:o}", "units", units, "steps", steps, "over_quota", over));
	for (struct workflow *w = d->workflows; w; w = w->next) /* quota.c */
		if (quota_refused_what(w))
			json_array_append_new(over,
			                      json_pack("{s:s,s:I,s:I,s:s}", "workflow", w->m->name, "bytes",
			                                (json_int_t)w->stored_bytes, "quota", (json_int_t)quota_of(w),
			                                "refused", quota_refused_what(w)));
	rq->partial_ok = 1;
	for (struct workflow *w = d->workflows; w; w = w->next)
		for (size_t i = 0; i < w->m->nfunctions; i++) {
			struct step *s = &w->steps[i];
			json_t *mine = json_array();
			for (struct unit *u = s->units; u; u = u->next) {
				json_t *e =
				    json_pack("{s:s,s:s,s:s,s:i,s:s,s:I,s:I,s:I,s:s}", "id", u->id, "workflow",
				              w->m->name, "step", s->fn->name, "pid", u->pid, "state",
				              u->state == UNIT_RUNNING ? "running" : "stopping", "uptime_ms",
				              (json_int_t)(now - u->started_ms), "events", (json_int_t)u->events,
				              "held", (json_int_t)u->held, "stop_reason", u->stop_why);
				json_array_append(units, e);
				json_array_append_new(mine, e);
			}
			if (s->units)
				ask_part(d, rq, units_reply, mine, 0, "HGETALL uf:stat:%s:%s", w->m->name, s->fn->name);
			json_decref(mine);
			json_array_append_new(steps, step_json(w, s));
		}
	return wait_redis(a, c, rq, UNITS_WAIT_MS);
}

static void wake_waiters(struct logfile *l, void *arg)
{
	struct api *a = arg;
	int woke = 0;
	for (struct request **p = &a->waiters; *p;) {
		struct request *rq = *p;
		if (rq->log == l) {
			*p = rq->next_waiter;
			rq->suspended = 0;
			MHD_resume_connection(rq->conn);
			woke = 1;
		} else {
			p = &rq->next_waiter;
		}
	}
	/* MHD does not wake its epoll fd for a resumed connection: run it now */
	if (woke) {
		run(a);
		arm(a);
	}
}

const char *api_body_of(const struct request *rq, size_t *len)
{
	*len = rq->len;
	return rq->body ? rq->body : "";
}

int api_wait_over(const struct request *rq)
{
	return rq->deadline && now_ms() >= rq->deadline;
}

enum MHD_Result api_wait(struct api *a, struct request *rq, struct MHD_Connection *c, uint64_t wait_ms,
                         uint64_t period_ms, struct logfile *log)
{
	uint64_t now = now_ms();
	if (log)
		logfile_on_append(log, wake_waiters, a);
	if (!rq->deadline)
		rq->deadline = now + wait_ms;
	rq->period = period_ms;
	rq->recheck = period_ms ? now + period_ms : 0;
	rq->log = log;
	rq->conn = c;
	rq->suspended = 1;
	rq->next_waiter = a->waiters;
	a->waiters = rq;
	MHD_suspend_connection(c);
	arm(a);
	return MHD_YES;
}

int api_sendv(struct request *rq, store_cb cb, int argc, const char **argv, const size_t *lens)
{
	if (store_sendv(rq->a->d->store, cb, rq, argc, argv, lens) < 0)
		return -1;
	rq->calls++;
	return 0;
}

void api_replied(struct request *rq, const redisReply *r)
{
	replied(rq, !r);
}

int api_live(const struct request *rq)
{
	return live(rq);
}

void api_answer_json(struct request *rq, unsigned status, json_t *j)
{
	answer_json(rq, status, j);
}

void api_answer_text(struct request *rq, unsigned status, const char *type, char *body, size_t len)
{
	json_decref(rq->doc);
	rq->doc = NULL;
	free(rq->out);
	rq->status = status;
	rq->out = body;
	rq->outlen = len;
	rq->out_type = type;
}

void api_answer_error(struct request *rq, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	answer_error(rq, status, code, "%s", msg);
}

void api_wait_more(struct request *rq, uint64_t ms)
{
	uint64_t at = now_ms() + ms;
	if (rq->redis_wait && rq->deadline < at)
		rq->deadline = at;
}

void api_answer_header(struct request *rq, const char *hdr, const char *value)
{
	snprintf(rq->out_hdr, sizeof(rq->out_hdr), "%s", hdr);
	snprintf(rq->out_val, sizeof(rq->out_val), "%s", value);
}

void api_partial_ok(struct request *rq)
{
	rq->partial_ok = 1;
}

void api_again(struct request *rq)
{
	rq->again = 1;
}

void *api_slot(struct request *rq, size_t size, void (*slot_free)(void *))
{
	if (rq->slot && (rq->slot_size != size || rq->slot_free != slot_free)) {
		/* another route file's (inspect.c looked at this request first) */
		if (rq->slot_free)
			rq->slot_free(rq->slot);
		rq->slot = NULL;
	}
	if (!rq->slot && (rq->slot = calloc(1, size))) {
		rq->slot_free = slot_free;
		rq->slot_size = size;
	}
	return rq->slot;
}

enum MHD_Result api_wait_replies(struct api *a, struct MHD_Connection *c, struct request *rq,
                                 void (*finish)(struct request *rq))
{
	return api_wait_replies_for(a, c, rq, finish, REDIS_WAIT_MS);
}

enum MHD_Result api_wait_replies_for(struct api *a, struct MHD_Connection *c, struct request *rq,
                                     void (*finish)(struct request *rq), uint64_t wait_ms)
{
	rq->finish = finish;
	rq->recheck = rq->period = 0;
	return wait_redis(a, c, rq, wait_ms);
}

void api_answer_whole(struct request *rq)
{
	rq->partial_ok = 1;
}

void api_hold(struct request *rq)
{
	rq->calls++;
}

struct api *api_of(struct request *rq)
{
	return rq->a;
}

int api_too_large(const struct request *rq)
{
	return rq->too_large;
}

void api_answer_raw(struct request *rq, unsigned status, const char *type, const char *body, size_t len,
                    const char *hdr, const char *value)
{
	json_decref(rq->doc);
	rq->doc = NULL;
	free(rq->out);
	rq->out = malloc(len ? len : 1);
	if (rq->out)
		memcpy(rq->out, body, len);
	rq->outlen = rq->out ? len : 0;
	rq->status = status;
	rq->out_type = type;
	snprintf(rq->out_hdr, sizeof(rq->out_hdr), "%s", hdr ? hdr : "");
	snprintf(rq->out_val, sizeof(rq->out_val), "%s", value ? value : "");
}

/* Where a log read starts: offset=N, or tail=N lines and/or since=DURATION
 * (lines newer than that), which the reply's offset then replaces. */
static int log_offset(struct MHD_Connection *c, struct step *s, long long *off, char *err, size_t errlen)
{
	const char *o = arg(c, "offset"), *t = arg(c, "tail"), *since = arg(c, "since");
	char *end;
	errno = 0;
	*off = o ? strtoll(o, &end, 10) : 0;
	if (o && (*end || end == o || errno == ERANGE)) {
		snprintf(err, errlen, "offset must be an integer, got '%s'", o);
		return -1;
	}
	unsigned long long tail = t ? strtoull(t, &end, 10) : 0;
	if (t && (*end || end == t || t[0] == '-' || tail < 1 || tail > 1000000)) {
		snprintf(err, errlen, "tail must be a number of lines 1..1000000, got '%s'", t);
		return -1;
	}
	uint64_t ago = 0;
	if (since && uf_duration_ms(since, &ago) < 0) {
		snprintf(err, errlen, "since must be a duration such as 30s, 5m, 1h or 2d, at most %llud, got '%s'",
		         UF_DURATION_MAX_MS / 86400000ull, since);
		return -1;
	}
	if (o && (t || since)) {
		snprintf(err, errlen, "offset cannot be combined with tail or since");
		return -1;
	}
	uint64_t start, now = wall_ms();
	if ((t || since) && logfile_start(s->log, tail, since ? (ago < now ? now - ago : 1) : 0, &start) == 0)
		*off = (long long)start;
	return 0;
}

static enum MHD_Result r_logs(struct api *a, struct MHD_Connection *c, struct request *rq, struct step *s)
{
	const char *w = arg(c, "wait_ms");
	char *end, why[256];
	long long off;
	if (log_offset(c, s, &off, why, sizeof(why)) < 0)
		return send_error(c, 400, "bad_request", "%s", why);
	long long wait = w ? strtoll(w, &end, 10) : 0;
	if (w && (*end || end == w || wait < 0 || wait > 30000))
		return send_error(c, 400, "bad_request", "wait_ms must be 0..30000, got '%s'", w);
	char *buf = malloc(LOG_READ_MAX);
	if (!buf)
		return MHD_NO;
	uint64_t next = 0;
	ssize_t n = logfile_read(s->log, off, buf, LOG_READ_MAX, &next);
	if (n == 0 && wait > 0 && !api_wait_over(rq)) {
		free(buf);
		return api_wait(a, rq, c, (uint64_t)wait, 0, s->log);
	}
	char hdr[32];
	snprintf(hdr, sizeof(hdr), "%llu", (unsigned long long)next);
	enum MHD_Result r = send_body(c, 200, "text/plain; charset=utf-8", buf, n > 0 ? (size_t)n : 0, hdr);
	free(buf);
	return r;
}

static void kv_get_reply(redisReply *r, void *arg)
{
	struct request *rq = arg;
	if (live(rq) && r && r->type == REDIS_REPLY_STRING && (rq->out = malloc(r->len ? r->len : 1))) {
		memcpy(rq->out, r->str, r->len);
		rq->outlen = r->len;
		rq->status = 200;
	} else if (live(rq) && r && r->type == REDIS_REPLY_NIL) {
		answer_error(rq, 404, "key_not_found", "%s", rq->what);
	} else if (live(rq) && r) {
		answer_error(rq, 503, "unavailable", "redis refused the read: %s",
		             r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	}
	replied(rq, !r);
}

static void kv_write_reply(redisReply *r, void *arg)
{
	struct request *rq = arg;
	if (live(rq) && quota_redis_refused(rq->a->d, rq->wf, "kv-write", r))
		answer_error(rq, 507, "redis_full", "redis is full (its maxmemory) and refused the write: %s", r->str);
	else if (live(rq) && r && r->type == REDIS_REPLY_ERROR)
		answer_error(rq, 503, "unavailable", "redis refused the write: %s", r->str);
	else if (live(rq) && r)
		rq->status = 204;
	replied(rq, !r);
}

static enum MHD_Result r_kv(struct api *a, struct MHD_Connection *c, struct request *rq, const char *method,
                            const char *wf, const char *key)
{
	struct store *st = a->d->store;
	int sent;
	if (!name_ok(UF_NAME_KEY, key)) /* the message shows the key scrubbed: it may not be UTF-8 */
		return send_error(c, 400, "bad_request", "bad KV key '%s': " UF_NAME_RULE_KEY, key);
	if (!strcmp(method, "PUT") && rq->too_large)
		return send_error(c, 413, "too_large", "KV value over %u bytes", BODY_MAX_EVENTS);
	snprintf(rq->what, sizeof(rq->what), "no key '%s' in workflow '%s'", key, wf);
	snprintf(rq->wf, sizeof(rq->wf), "%s", wf);
	struct workflow *w = registry_find(a->d, wf);
	char over[512];
	if (!strcmp(method, "PUT") && w && quota_refuses(w, over, sizeof(over))) /* DELETE frees: always taken */
		return send_error(c, 507, "over_quota", "%s", over);
	if (!strcmp(method, "GET"))
		sent = store_send(st, kv_get_reply, rq, "GET uf:kv:%s:%b", wf, key, strlen(key));
	else if (!strcmp(method, "PUT"))
		sent = store_send(st, kv_write_reply, rq, "SET uf:kv:%s:%b %b", wf, key, strlen(key),
		                  rq->body ? rq->body : "", rq->len);
	else
		sent = store_send(st, kv_write_reply, rq, "DEL uf:kv:%s:%b", wf, key, strlen(key));
	rq->calls += sent == 0;
	return wait_redis(a, c, rq, REDIS_WAIT_MS);
}

static struct step *find_step(struct workflow *w, const char *name)
{
	for (size_t i = 0; i < w->m->nfunctions; i++)
		if (!strcmp(w->steps[i].fn->name, name))
			return &w->steps[i];
	return NULL;
}

#define METHOD_IS(m) (!strcmp(method, m))

enum MHD_Result api_kv(struct api *a, struct MHD_Connection *c, struct request *rq, const char *method, const char *wf,
                       const char *key)
{
	if (!METHOD_IS("GET") && !METHOD_IS("PUT") && !METHOD_IS("DELETE"))
		return send_error(c, 405, "method_not_allowed", "GET, PUT or DELETE");
	return r_kv(a, c, rq, method, wf, key);
}

/* A query argument that decodes to a NUL byte would be read cut short
 * (count=1%00x as 1, dir=/a%00/b as /a): its name goes to *cls. */
static enum MHD_Result nul_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size, const char *value,
                               size_t value_size)
{
	(void)kind;
	if (strlen(key) == key_size && (!value || strlen(value) == value_size))
		return MHD_YES;
	*(const char **)cls = key;
	return MHD_NO;
}

const char *api_query_nul(struct MHD_Connection *c)
{
	const char *nul = NULL;
	MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, nul_arg, &nul);
	return nul;
}

static enum MHD_Result route(struct api *a, struct MHD_Connection *c, const char *url, const char *method,
                             struct request *rq)
{
	char path[2048 + 8], *seg[8] = {0};
	const char *bad = NULL;
	if (strlen(url) >= 2048)
		return send_error(c, 400, "bad_request", "path too long");
	int n = api_split_path(url, path, seg, 8, &bad);
	if (n < 0)
		return send_error(c, 400, "bad_request",
		                  "path segment '%.*s': a '%%' must be followed by two hex digits, and no name or "
		                  "key may hold a NUL byte (%%00)",
		                  (int)strcspn(bad, "/"), bad);
	if (n == 1 && !strcmp(seg[0], "healthz")) /* metrics_api.c */
		return METHOD_IS("GET") ? metrics_healthz(a, c) : send_error(c, 405, "method_not_allowed", "GET only");
	if (n == 1 && !strcmp(seg[0], "metrics")) {
		if (!authorized(a, c))
			return unauthorized(c);
		return METHOD_IS("GET") ? metrics_scrape(a, c, rq)
		                        : send_error(c, 405, "method_not_allowed", "GET only");
	}
	if (n < 2 || strcmp(seg[0], "v1"))
		return send_error(c, 404, "not_found", "no such path: %s", url);
	if (n == 2 && !strcmp(seg[1], "health"))
		return METHOD_IS("GET") ? r_health(a, c) : send_error(c, 405, "method_not_allowed", "GET only");
	if (!authorized(a, c)) /* refused on the head already (refuse_on_head) */
		return unauthorized(c);
	const char *nul = api_query_nul(c);
	if (nul)
		return send_error(c, 400, "bad_request",
		                  "query argument '%s': a NUL byte (%%00) is not allowed in a query; remove it", nul);
	if (n == 2 && !strcmp(seg[1], "status"))
		return METHOD_IS("GET") ? r_status(a, c) : send_error(c, 405, "method_not_allowed", "GET only");
	if (n == 2 && !strcmp(seg[1], "units"))
		return METHOD_IS("GET") ? r_units(a, c, rq) : send_error(c, 405, "method_not_allowed", "GET only");
	if (n == 2 && !strcmp(seg[1], "queues"))
		return METHOD_IS("GET") ? inspect_queues(a, c, rq)
		                        : send_error(c, 405, "method_not_allowed", "GET only");
	if (!strcmp(seg[1], "secrets")) /* secrets.c */
		return secrets_route(a, c, rq, method, seg, n);
	if (!strcmp(seg[1], "tokens"))
		return tokens_route(a, c, rq, method, seg, n);
	if (strcmp(seg[1], "workflows"))
		return send_error(c, 404, "not_found", "no such path: %s", url);
	if (n == 2) {
		if (METHOD_IS("GET"))
			return r_list(a, c);
		if (METHOD_IS("POST"))
			return r_deploy(a, c, rq);
		return send_error(c, 405, "method_not_allowed", "GET or POST");
	}
	if (!name_ok(UF_NAME_WORKFLOW, seg[2]))
		return send_error(c, 400, "bad_request", "bad workflow name '%s': " UF_NAME_RULE_SHORT, seg[2]);
	struct workflow *w = registry_find(a->d, seg[2]);
	int mine = 0;
	if (!w && n == 3 && METHOD_IS("DELETE")) /* registry.c also purges a kept workflow */
		return r_undeploy(a, c, rq, seg[2]);
	if (!w) /* undeployed without purge: its queues, dead letters and KV stay readable */
		return inspect_kept_route(a, c, rq, method, seg, n);
	enum MHD_Result ret = inspect_route(a, c, rq, method, seg, n, w, &mine);
	if (mine)
		return ret;
	if (n == 3)
		return METHOD_IS("DELETE") ? r_undeploy(a, c, rq, seg[2])
		                           : send_error(c, 405, "method_not_allowed", "GET or DELETE");
	if (n == 4 && !strcmp(seg[3], "resume"))
		return METHOD_IS("POST") ? r_resume(a, c, w) : send_error(c, 405, "method_not_allowed", "POST only");
	if (n == 6 && !strcmp(seg[3], "queues") && !strcmp(seg[5], "events")) {
		if (!name_ok(UF_NAME_QUEUE, seg[4]))
			return send_error(c, 400, "bad_request", "bad queue name '%s': " UF_NAME_RULE_QUEUE, seg[4]);
		return METHOD_IS("POST") ? r_push(a, c, rq, w, seg[4])
		                         : send_error(c, 405, "method_not_allowed", "GET, POST or DELETE");
	}
	if (n == 6 && !strcmp(seg[3], "queues") && !strcmp(seg[5], "invoke")) {
		if (!name_ok(UF_NAME_QUEUE, seg[4]))
			return send_error(c, 400, "bad_request", "bad queue name '%s': " UF_NAME_RULE_QUEUE, seg[4]);
		return METHOD_IS("POST") ? r_invoke(a, c, rq, w, seg[4])
		                         : send_error(c, 405, "method_not_allowed", "POST only");
	}
	if (n == 6 && !strcmp(seg[3], "steps") && !strcmp(seg[5], "logs")) {
		struct step *s = find_step(w, seg[4]);
		if (!s)
			return send_error(c, 404, "not_found", "workflow '%s' has no step '%s'", w->m->name, seg[4]);
		return METHOD_IS("GET") ? r_logs(a, c, rq, s) : send_error(c, 405, "method_not_allowed", "GET only");
	}
	if (n == 5 && !strcmp(seg[3], "kv")) {
		if (!METHOD_IS("GET") && !METHOD_IS("PUT") && !METHOD_IS("DELETE"))
			return send_error(c, 405, "method_not_allowed", "GET, PUT or DELETE");
		return r_kv(a, c, rq, method, w->m->name, seg[4]);
	}
	return send_error(c, 404, "not_found", "no such path: %s", url);
}

/* ---- admission: what is decided on the head, before the body ---- */

/* The path's segments (at most max; empty ones skipped), as route() sees them. */
static int segments(const char *url, const char **seg, int max)
{
	int n = 0;
	for (const char *p = url; *p && n < max;) {
		while (*p == '/')
			p++;
		if (*p)
			seg[n++] = p;
		while (*p && *p != '/')
			p++;
	}
	return n;
}

static int seg_is(const char *seg, const char *name)
{
	size_t n = strlen(name);
	return !strncmp(seg, name, n) && (seg[n] == '/' || !seg[n]);
}

/* Events and KV values may be large; everything else is a manifest or less.
 * /v1/workflows/WF/queues/Q/events and /v1/workflows/WF/kv/KEY (the raw
 * path: a key's %2F is no separator). */
static size_t body_limit(const char *url)
{
	const char *seg[7];
	int n = segments(url, seg, 7);
	int events = n == 6 && seg_is(seg[3], "queues") && seg_is(seg[5], "events");
	int kv = n == 5 && seg_is(seg[3], "kv");
	return events || kv ? BODY_MAX_EVENTS : BODY_MAX_MANIFEST;
}

static int needs_token(const char *url)
{
	const char *seg[3];
	int n = segments(url, seg, 3);
	return !(n == 2 && seg_is(seg[0], "v1") && seg_is(seg[1], "health")) && !(n == 1 && seg_is(seg[0], "healthz"));
}

/* Every Content-Length header of the request: how many, and whether they agree. */
struct lengths {
	unsigned count;
	int differ;
	const char *first;
};

static enum MHD_Result count_length(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct lengths *l = cls;
	if (strcasecmp(key, "Content-Length"))
		return MHD_YES;
	if (l->count++ == 0)
		l->first = value;
	else if (strcmp(l->first, value ? value : ""))
		l->differ = 1;
	return MHD_YES;
}

/* The control API's admission: its token, and its body limit by path. */
static int api_admit(struct api *a, struct MHD_Connection *c, const char *url, const char *method, struct request *rq,
                     size_t *limit)
{
	(void)method;
	(void)rq;
	if (needs_token(url) && !authorized(a, c)) {
		unauthorized(c);
		return 1;
	}
	*limit = body_limit(url);
	return 0;
}

/* Called once the head is in: refuse now what would be refused anyway, so
 * the body of a refused request is never read: Content-Length headers that
 * differ, what the server's admit refuses (a token), a Content-Length that
 * is no byte count or is over the limit admit set.  1 when answered. */
static int refuse_on_head(struct api *a, struct MHD_Connection *c, const char *url, const char *method,
                          struct request *rq)
{
	struct lengths l = {0};
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_length, &l);
	if (l.differ) {
		send_error(c, 400, "bad_request", "%u Content-Length headers that differ: send one", l.count);
		return 1;
	}
	size_t limit = 0;
	if (a->srv->admit(a, c, url, method, rq, &limit))
		return 1;
	rq->limit = limit;
	if (l.first) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(l.first, &end, 10);
		if (l.first[0] < '0' || l.first[0] > '9' || *end || errno == ERANGE) {
			send_error(c, 400, "bad_request", "Content-Length '%s' is not a byte count", l.first);
			return 1;
		}
		if (n > limit) {
			send_error(c, 413, "too_large", "body of %llu bytes, over the %zu bytes this path takes", n,
			           limit);
			return 1;
		}
		if (n && (rq->body = malloc((size_t)n + 1))) /* else grown as it comes */
			rq->cap = (size_t)n + 1;
	}
	return 0;
}

/* ---- connections and their deadlines ---- */

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i ? i->socket_context : NULL;
}

static void set_phase(struct MHD_Connection *c, enum phase p)
{
	struct conn *k = conn_of(c);
	if (k && k->phase != PHASE_CUT && k->phase != p) {
		k->phase = p;
		k->since = now_ms();
	}
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
	struct api *a = cls;
	struct conn *k = *socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!(k = calloc(1, sizeof(*k))))
			return; /* no deadline for this one: MHD's idle timeout still applies */
		k->fd = i ? i->connect_fd : -1;
		k->srv = a->srv->name;
		k->phase = PHASE_HEAD;
		k->since = now_ms();
		k->next = a->conns;
		a->conns = k;
		*socket_context = k;
		return;
	}
	/* (called before MHD closes its fd: a copy lingers, linger.h; a
	 * connection cut at its deadline does not) */
	int fd = k && k->linger && k->phase != PHASE_CUT && k->fd >= 0 ? fcntl(k->fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (fd >= 0)
		linger_take(a->linger, fd);
	for (struct conn **p = &a->conns; k && *p; p = &(*p)->next)
		if (*p == k) {
			*p = k->next;
			free(k);
			break;
		}
	*socket_context = NULL;
}

static uint64_t deadline_of(const struct conn *k)
{
	if (k->phase == PHASE_HEAD)
		return k->since + HEAD_DEADLINE_MS;
	if (k->phase == PHASE_BODY)
		return k->since + BODY_DEADLINE_MS;
	return UINT64_MAX;
}

/* A connection past its deadline: a best-effort 408, then both directions
 * shut, which MHD sees as the client gone and cleans up. */
static void cut(struct conn *k)
{
	static const char reply[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
	dlog("warn", "what=%s-deadline phase=%s deadline_ms=%u action=close", k->srv,
	     k->phase == PHASE_HEAD ? "head" : "body", k->phase == PHASE_HEAD ? HEAD_DEADLINE_MS : BODY_DEADLINE_MS);
	if (send(k->fd, reply, sizeof(reply) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* its buffer is full or it is gone: closing is all we can do */
	}
	shutdown(k->fd, SHUT_RDWR);
	k->phase = PHASE_CUT;
}

static void cut_late(struct api *a, uint64_t now)
{
	for (struct conn *k = a->conns; k; k = k->next)
		if (k->fd >= 0 && now >= deadline_of(k))
			cut(k);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	(void)version;
	struct api *a = cls;
	struct request *rq = *con_cls;
	if (!rq || !rq->path)
		return MHD_NO; /* uri_seen could not allocate */
	url = rq->path;        /* MHD's url is decoded before the split: route the path as sent */
	if (!rq->headed) {     /* the head is in */
		rq->headed = 1;
		set_phase(c, PHASE_BODY);
		if ((rq->answered = refuse_on_head(a, c, url, method, rq))) {
			set_phase(c, PHASE_ANSWER);
			struct conn *k = conn_of(c);
			if (k)
				k->linger = 1;
		}
		return MHD_YES;
	}
	if (rq->answered) { /* MHD does not pass a refused body on; be sure */
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (rq->too_large || rq->len + n > rq->limit) {
			rq->too_large = 1;
			return MHD_YES;
		}
		if (rq->len + n + 1 > rq->cap) {
			size_t cap = (rq->len + n + 1) * 2;
			char *b = realloc(rq->body, cap);
			if (!b)
				return MHD_NO;
			rq->body = b;
			rq->cap = cap;
		}
		memcpy(rq->body + rq->len, upload, n);
		rq->len += n;
		rq->body[rq->len] = 0;
		return MHD_YES;
	}
	set_phase(c, PHASE_ANSWER);
	if (rq->ready && rq->again && !rq->status) { /* the route goes on with what its replies left */
		rq->ready = rq->again = rq->missing = 0;
		rq->deadline = rq->recheck = rq->period = 0;
		rq->finish = NULL;
		return a->srv->route(a, c, url, method, rq);
	}
	if (rq->ready) /* made while suspended, waiting for Redis */
		return send_ready(c, rq);
	return a->srv->route(a, c, url, method, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)toe;
	struct api *a = cls;
	struct request *rq = *con_cls;
	set_phase(c, PHASE_HEAD); /* the next request on this connection */
	if (!rq)
		return;
	unwait(a, rq);
	*con_cls = NULL;
	push_drop(rq);
	if (rq->calls) { /* replies still to come: the last one frees it */
		rq->gone = 1;
		free(rq->body);
		rq->body = NULL;
		return;
	}
	free_request(rq);
}

/* MHD's URI log callback: the request line's URI before MHD decodes it.
 * Its result becomes the request's con_cls. */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)c;
	struct request *rq = calloc(1, sizeof(*rq));
	if (rq && !(rq->path = strndup(uri, strcspn(uri, "?")))) {
		free(rq);
		return NULL;
	}
	if (rq)
		rq->a = cls;
	return rq;
}

/* ---- the loop glue ---- */

static void run(struct api *a)
{
	uint64_t now = now_ms();
	cut_late(a, now);
	for (struct request **p = &a->waiters; *p;) {
		struct request *rq = *p;
		if (now >= rq->deadline || (rq->recheck && now >= rq->recheck)) {
			*p = rq->next_waiter;
			rq->suspended = 0;
			if (rq->redis_wait)
				redis_done(rq); /* with what came in time */
			else
				MHD_resume_connection(rq->conn);
		} else {
			p = &rq->next_waiter;
		}
	}
	MHD_run(a->mhd);
}

static void timer_cb(uv_timer_t *t)
{
	struct api *a = t->data;
	run(a);
	arm(a);
}

static void arm(struct api *a)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;
	uint64_t due = UINT64_MAX, now = now_ms();
	if (MHD_get_timeout(a->mhd, &ms) == MHD_YES)
		due = ms;
	for (struct request *rq = a->waiters; rq; rq = rq->next_waiter) {
		uint64_t due_at = rq->recheck && rq->recheck < rq->deadline ? rq->recheck : rq->deadline;
		uint64_t left = due_at > now ? due_at - now : 0;
		if (left < due)
			due = left;
	}
	for (struct conn *k = a->conns; k; k = k->next) {
		uint64_t at = deadline_of(k), left = at > now ? at - now : 0;
		if (at != UINT64_MAX && left < due)
			due = left;
	}
	if (due == UINT64_MAX)
		uv_timer_stop(&a->timer);
	else
		uv_timer_start(&a->timer, timer_cb, due, 0);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	struct api *a = p->data;
	run(a);
	arm(a);
}

static const struct api_server control_api = {
    .name = "api", .port_option = "--api-port N", .admit = api_admit, .route = route};

struct api *api_serve(struct daemon *d, const struct api_server *srv, void *ctx, const char *addr, unsigned port,
                      unsigned per_address, char *err, size_t errlen)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		snprintf(err, errlen, "'%s' is not an IPv4 address to listen on", addr);
		return NULL;
	}
	struct api *a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->d = d;
	a->srv = srv;
	a->ctx = ctx;
	a->linger = linger_open(d->loop); /* NULL: such connections are closed at once */
	a->mhd = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, handler, a,
	    MHD_OPTION_SOCK_ADDR, &sin, MHD_OPTION_NOTIFY_COMPLETED, completed, a, MHD_OPTION_NOTIFY_CONNECTION,
	    on_connection, a, MHD_OPTION_URI_LOG_CALLBACK, uri_seen, a, MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_LIMIT, CONN_MAX, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_address, MHD_OPTION_END);
	if (!a->mhd) {
		snprintf(err, errlen, "cannot listen on %s:%u (port in use? choose another with 'unifaas up %s')", addr,
		         port, srv->port_option);
		linger_close_all(a->linger);
		free(a);
		return NULL;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	uv_poll_init(d->loop, &a->poll, info->epoll_fd);
	uv_timer_init(d->loop, &a->timer);
	a->poll.data = a->timer.data = a;
	uv_poll_start(&a->poll, UV_READABLE, poll_cb);
	arm(a);
	return a;
}

struct api *api_open(struct daemon *d, char *err, size_t errlen)
{
	return api_serve(d, &control_api, NULL, "127.0.0.1", d->cfg.api_port, CONN_PER_IP, err, errlen);
}

void *api_ctx(struct api *a)
{
	return a->ctx;
}

static void free_api(uv_handle_t *h)
{
	free(h->data);
}

static void api_timer_closed(uv_handle_t *h)
{
	struct api *a = h->data;
	uv_close((uv_handle_t *)&a->poll, free_api);
}

void api_close(struct api *a)
{
	if (!a)
		return;
	struct workflow *lists[] = {a->d->workflows, a->d->retired};
	for (int l = 0; l < 2 && a->srv == &control_api; l++) /* units still write lines: nobody to wake */
		for (struct workflow *w = lists[l]; w; w = w->next)
			for (size_t i = 0; i < w->m->nfunctions; i++)
				logfile_on_append(w->steps[i].log, NULL, NULL);
	for (struct request *rq = a->waiters; rq; rq = rq->next_waiter)
		MHD_resume_connection(rq->conn);
	a->waiters = NULL;
	MHD_stop_daemon(a->mhd);
	linger_close_all(a->linger);
	uv_poll_stop(&a->poll);
	uv_timer_stop(&a->timer);
	uv_close((uv_handle_t *)&a->timer, api_timer_closed);
}
