/*
 * ingress.h - the HTTP ingress (ingress.c, docs/api.md "HTTP ingress").
 */
#ifndef UF_INGRESS_H
#define UF_INGRESS_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

struct daemon;
struct api;
struct request;
struct workflow;

/* Listens on cfg.ingress_bind:cfg.ingress_port and subscribes to the
 * invoke reply channels.  NULL with err. */
struct ingress *ingress_open(struct daemon *d, char *err, size_t errlen);
/* Answers every invoke still waiting (202), then stops listening. */
void ingress_close(struct ingress *in);

/* Invoke-and-wait of an event on a workflow's queue, for both servers:
 * queues it with a reply token and answers 200/502 with its result, or
 * 202 with its id at timeout_ms.  src/attrs may be NULL. */
enum MHD_Result ingress_invoke(struct api *a, struct MHD_Connection *c, struct request *rq, struct workflow *w,
                               const char *queue, const char *data, size_t len, const char *src, const char *attrs,
                               uint64_t timeout_ms);
/* timeout_ms=N of an invoke (default and maximum: INVOKE_*_MS): 0, or -1
 * with a message in err. */
#define INVOKE_DEFAULT_MS 10000u
#define INVOKE_MAX_MS     60000u
int ingress_timeout_arg(const char *v, uint64_t *ms, char *err, size_t errlen);

/* Requests answered, by outcome: the label `outcome` of
 * unifaas_ingress_messages_total{source="http"} (docs/api.md). */
enum ingress_outcome {
	IN_ACCEPTED,        /* 202 queued */
	IN_INVOKE_OK,       /* 200 */
	IN_INVOKE_FAIL,     /* 502 */
	IN_INVOKE_LATE,     /* 202 at the timeout */
	IN_INVOKE_DEFERRED, /* 202 at once: deferred for the storage quota */
	IN_UNAUTHORIZED,    /* 401 */
	IN_FORBIDDEN,       /* 403 */
	IN_BAD_REQUEST,     /* 400, 404, 405, 413, 415 */
	IN_STOPPED,         /* 503: workflow stopped */
	IN_UNAVAILABLE,     /* 503: Redis */
	IN_OVER_QUOTA,      /* 507: the workflow over its storage quota, or Redis full (quota.c) */
	IN_BUSY,            /* 429: PW_WAIT_MAX of its pushes wait for their turn already (pushwin.h) */
	IN_OUTCOMES
};
extern const char *const ingress_outcome_names[IN_OUTCOMES];

#endif
