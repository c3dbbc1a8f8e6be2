/*
 * api_routes.h - what the control API's route files share: api.c (the HTTP
 * server, requests, workflows, push, units, logs, KV) and inspect.c (reading
 * queues, dead letters, describe, queue figures).
 *
 * A route answers with api_json/api_error/api_body and returns what they
 * return.  A route with nothing to answer yet may park its request with
 * api_wait (a long poll): the route is called again with the same request
 * when the log grows, every `period_ms` if set, and when the wait is over;
 * api_wait_over() then says to answer with what there is.
 *
 * Redis is never waited for on the loop: a route sends its commands with
 * api_sendv (each callback ends with api_replied) and returns
 * api_wait_replies; the callbacks (or `finish`, once every reply is in)
 * answer with api_answer_json/api_answer_error, or call api_again to have
 * the route run again with what they kept in its api_slot.  A reply that
 * never comes answers 503.  Nothing a callback uses may point into daemon
 * state that can go meanwhile (a workflow undeployed while Redis answers).
 */
#ifndef UF_API_ROUTES_H
#define UF_API_ROUTES_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdint.h>

struct api;
struct request;
struct logfile;
struct daemon;
struct workflow;

struct daemon *api_daemon(struct api *a);
enum MHD_Result api_body(struct MHD_Connection *c, unsigned status, const char *type, const char *body, size_t len,
                         const char *offset_hdr);
/* takes j; a reply jansson cannot encode becomes a 500 */
enum MHD_Result api_json(struct MHD_Connection *c, unsigned status, json_t *j);
enum MHD_Result api_error(struct MHD_Connection *c, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
enum MHD_Result api_unavailable(struct MHD_Connection *c);
/* the name of a query argument that decodes to a NUL byte (read cut short
 * otherwise: timeout_ms=1%00x as 1), or NULL */
const char *api_query_nul(struct MHD_Connection *c);
/* a query argument, or NULL */
const char *api_arg(struct MHD_Connection *c, const char *k);
/* the request's body (collected whole before the route runs) */
const char *api_body_of(const struct request *rq, size_t *len);
/* how a step's units ended: {"clean":N,"fault":N,"killed":N,...} */
struct step;
json_t *api_step_exits(const struct step *s);
int api_wait_over(const struct request *rq);
enum MHD_Result api_wait(struct api *a, struct request *rq, struct MHD_Connection *c, uint64_t wait_ms,
                         uint64_t period_ms, struct logfile *log);

#include <hiredis/hiredis.h>
typedef void (*api_reply_fn)(redisReply *reply, void *rq);
int api_sendv(struct request *rq, api_reply_fn cb, int argc, const char **argv, const size_t *lens);
void api_replied(struct request *rq, const redisReply *r);
/* whether a reply arriving now is still wanted */
int api_live(const struct request *rq);
void api_answer_json(struct request *rq, unsigned status, json_t *j);
void api_answer_error(struct request *rq, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* what a request waits for a reply: store_send answers within its timeout
 * (STORE_TIMEOUT_MS, store.h) */
#define REDIS_WAIT_MS (STORE_TIMEOUT_MS + 500)
/* a request waiting for its replies waits at least ms more from now */
void api_wait_more(struct request *rq, uint64_t ms);
/* one header more on the answer made (json or raw), e.g. Retry-After */
void api_answer_header(struct request *rq, const char *hdr, const char *value);
void api_again(struct request *rq);
/* the route's finish makes a whole answer also when replies are missing */
void api_partial_ok(struct request *rq);
/* a raw answer; takes body (malloc'd); type: its Content-Type */
void api_answer_text(struct request *rq, unsigned status, const char *type, char *body, size_t len);
/* the route's state, zeroed when first asked for; slot_free (non-NULL) frees
 * it with the request.  Asked with another size or slot_free (another route
 * file looked at the request first), the old one is freed for a new one. */
void *api_slot(struct request *rq, size_t size, void (*slot_free)(void *));
enum MHD_Result api_wait_replies(struct api *a, struct MHD_Connection *c, struct request *rq,
                                 void (*finish)(struct request *rq));
/*
 * Another HTTP server on api.c's machinery (connections, head and body
 * deadlines, per-address limits, bodies collected whole, suspend/resume,
 * answers that wait for Redis): the HTTP ingress (ingress.c).  admit runs
 * once the head is in, after the Content-Length headers were found to
 * agree: it answers now and returns 1 (the body is never read), or returns
 * 0 with *limit, the body's byte limit (a larger Content-Length is 413 at
 * once, a larger body 413 once in: rq's api_too_large).  route runs once the
 * body is in, as the control API's.
 */
struct api_server {
	const char *name;        /* in log lines: what=<name>-deadline */
	const char *port_option; /* the option of 'unifaas up' that moves its port */
	int (*admit)(struct api *a, struct MHD_Connection *c, const char *url, const char *method, struct request *rq,
	             size_t *limit);
	enum MHD_Result (*route)(struct api *a, struct MHD_Connection *c, const char *url, const char *method,
	                         struct request *rq);
};
/* per_address: connections one client address may hold (at most UF_SERVER_CONN_MAX) */
struct api *api_serve(struct daemon *d, const struct api_server *srv, void *ctx, const char *addr, unsigned port,
                      unsigned per_address, char *err, size_t errlen);
void *api_ctx(struct api *a);
/* the body went over the limit admit set (its bytes were not kept) */
int api_too_large(const struct request *rq);
/* an error answer with one header more (Allow, Retry-After, WWW-Authenticate) */
enum MHD_Result api_error_hdr(struct MHD_Connection *c, unsigned status, const char *hdr, const char *value,
                              const char *code, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Splits the raw path on '/' (empty segments skipped) and percent-decodes
 * each segment into buf (strlen(path) + 8 bytes): the number of segments
 * (at most max), or -1 with *bad the segment as sent when one has a '%' not
 * followed by two hex digits or decodes to a NUL. */
int api_split_path(const char *path, char *buf, char **seg, int max, const char **bad);
/* A raw answer made while waiting (type NULL: application/octet-stream),
 * with one header more when hdr is set. */
void api_answer_raw(struct request *rq, unsigned status, const char *type, const char *body, size_t len,
                    const char *hdr, const char *value);
/* A reply that comes from elsewhere than api_sendv (a message on a
 * channel): counted as one more the answer waits for; api_replied (r
 * non-NULL when it came) ends it. */
void api_hold(struct request *rq);
/* api_wait_replies with a wait of its own (ms) before the answer is made
 * with what came: finish then sets it (and api_answer_whole). */
enum MHD_Result api_wait_replies_for(struct api *a, struct MHD_Connection *c, struct request *rq,
                                     void (*finish)(struct request *rq), uint64_t wait_ms);
/* what finish answered is whole, whatever replies are missing */
void api_answer_whole(struct request *rq);
struct api *api_of(struct request *rq);

/* api.c's KV route, for a kept workflow */
enum MHD_Result api_kv(struct api *a, struct MHD_Connection *c, struct request *rq, const char *method, const char *wf,
                       const char *key);

/* inspect.c: the routes it serves.  inspect_route answers the request and
 * sets *mine, or leaves *mine 0 for api.c's own routes.  w is the deployed
 * workflow named seg[2], or NULL when it is only kept (undeployed without
 * purge: its queues, dead letters and KV are still readable). */
enum MHD_Result inspect_route(struct api *a, struct MHD_Connection *c, struct request *rq, const char *method,
                              char **seg, int n, struct workflow *w, int *mine);
enum MHD_Result inspect_queues(struct api *a, struct MHD_Connection *c, struct request *rq);
/* a workflow that is not deployed: its KV and the reading routes if it is
 * kept (undeployed without purge), else 404 */
enum MHD_Result inspect_kept_route(struct api *a, struct MHD_Connection *c, struct request *rq, const char *method,
                                   char **seg, int n);

/* inspect.c: GET /v1/queues's one EVAL, its reply to cb (an array of
 * records, each made JSON by inspect_queue_json: workflow, queue,
 * deployed, entries, pending, dead, waiting, groups); -1 if not sent */
int inspect_queues_send(struct api *a, struct request *rq, api_reply_fn cb);
json_t *inspect_queue_json(const redisReply *rec);

/* secrets.c: /v1/secrets (n == 2) and /v1/secrets/NAME (n == 3) */
enum MHD_Result secrets_route(struct api *a, struct MHD_Connection *c, struct request *rq, const char *method,
                              char **seg, int n);

/* metrics_api.c: GET /metrics (Prometheus text) and GET /healthz */
enum MHD_Result metrics_scrape(struct api *a, struct MHD_Connection *c, struct request *rq);
enum MHD_Result metrics_healthz(struct api *a, struct MHD_Connection *c);

#endif
