/*
 * unifaas.h - the API a unifaas function is written against.
 *
 * A function is plain C linked with musl and libuf into a unikernel image
 * (`unifaas build`).  Write `uf_handle`; libuf's event loop calls it once per
 * event.  Everything else in libc (stdio, malloc, strtod, qsort, libm, time)
 * works as on Linux.  Standard output and error are the unit's log.
 *
 * Delivery is at-least-once: a handler may see the same event (same id)
 * again after a crash or a failure, so use ev->id as the idempotency key.
 *
 * Errors: functions returning int return 0 on success and a negative errno
 * value on failure (-EINVAL bad argument, -ENOENT absent key, -ENOBUFS
 * buffer too small, -EPERM not granted by the manifest, -ENOMEM, -ENOSYS
 * not available in this tender).
 *
 * Limits of one event (docs/writing-functions.md; the node's config and
 * the manifest's `limits:` set them): uf_push, uf_mqtt_publish and the KV
 * writes of an event return -EFBIG for a value (limits.value_bytes) or an
 * event (limits.event_bytes) too large, -E2BIG past the writes one event
 * may stage (limits.writes_per_event: pushes, publishes and KV writes
 * together), -ENOBUFS past the bytes its commit may write
 * (limits.commit_bytes).  From the first such error on, every staging call
 * of the event fails the same way and the event fails, whatever the
 * handler returns, with a reason naming the limit (retried, then
 * dead-lettered).
 *
 * Storage quota (docs/architecture.md "Storage quotas"): while the
 * workflow is over its storage_quota, an event that pushes, sets a KV key
 * to a value longer than the stored one or creates a key with uf_kv_incr
 * is not committed but delivered again later (not counted as a failure;
 * after 100 such deferrals it fails with the quota's reason); a uf_kv_set
 * or uf_kv_incr outside an event that would grow storage returns -EDQUOT.
 */
#ifndef UNIFAAS_H
#define UNIFAAS_H

#include <errno.h> /* the -E... codes the functions below return */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uf_ctx uf_ctx; /* opaque: the unit's connection to the platform */

typedef struct uf_event {
	const char *id;    /* unique id of the event (idempotency key), NUL-terminated */
	const char *queue; /* queue it was taken from, NUL-terminated                  */
	const char *data;  /* payload; data[len] == '\0' so text can be used as is     */
	size_t len;        /* payload length in bytes                                  */
	int64_t time_ms;   /* when the platform received it, ms since the epoch        */
	/* Where it came from: the MQTT topic or the HTTP path it arrived on
	 * (e.g. "device/sck/<token>/readings/raw"); "" for events pushed by a
	 * function, the CLI or the control API.  NUL-terminated. */
	const char *source;
	size_t source_len;
	/* Its CloudEvents attributes and content type as the text of one JSON
	 * object (e.g. {"type":"...","source":"...","datacontenttype":"..."});
	 * "" when it has none.  NUL-terminated. */
	const char *attrs;
	size_t attrs_len;
} uf_event;

/*
 * Written by the user: called once per event.  Return 0 to commit the event
 * together with everything it pushed; return non-zero to fail it: its pushes
 * are dropped and the event is retried (then dead-lettered).
 */
int uf_handle(uf_ctx *ctx, const uf_event *ev);

/*
 * Stage `len` bytes as a new event on `queue`.  Staged pushes are written
 * atomically with the acknowledgement of the current event when its handler
 * returns 0, and dropped if it fails.
 */
int uf_push(uf_ctx *ctx, const char *queue, const void *data, size_t len);

/*
 * Set the result an invoke-and-wait caller gets (POST .../invoke, `unifaas
 * invoke`): sent when the event commits, instead of the default (the JSON
 * of what it pushed).  The last call of an event wins; a failed event sends
 * its failure instead.  -EINVAL outside an event, -ENOBUFS over 1 MiB.
 */
int uf_reply(uf_ctx *ctx, const void *data, size_t len);

/*
 * Publish `len` bytes on the MQTT topic name `topic` (no '+' or '#') with
 * QoS 0 or 1, staged like a push: published only if the event commits, at
 * least once (a message can be published again if the platform stops
 * between handing it to the broker and noting that it did).  Only topics
 * matched by a filter of the function's manifest `publish:` are allowed:
 * -EPERM otherwise (the platform logs it), -EINVAL for an invalid topic
 * name or qos, -ENOBUFS over 1 MiB.
 */
int uf_mqtt_publish(uf_ctx *ctx, const char *topic, const void *data, size_t len, int qos);

/*
 * For functions that run their own loop in main() instead of uf_handle:
 * finishes the current event (committing its pushes unless uf_fail was
 * called) and waits up to timeout_ms for the next one.
 * Returns 1 with *ev filled, 0 when no event came in time (or the input is
 * exhausted), or a negative errno.  ev's pointers stay valid until the next
 * uf_pop.  uf_context() gives the ctx in main().
 */
int uf_pop(uf_ctx *ctx, uf_event *ev, int timeout_ms);
uf_ctx *uf_context(void);
/* Mark the current event failed (own-loop functions; uf_handle returns instead). */
void uf_fail(uf_ctx *ctx);

/*
 * Mark the current event failed and say why, printf-style: the text becomes
 * the reason of its re-queue or dead letter (`unifaas dlq`, `unifaas
 * events`) and of its failure in a local run, instead of "handler returned
 * N".  Cut to 1 KiB (UF_REASON_MAX); invalid UTF-8 and control characters
 * become '?'.  The last call of an event wins; the event stays failed
 * whatever uf_handle then returns.  Own-loop functions call it instead of
 * uf_fail.  Returns 0, or -EINVAL outside an event.
 */
int uf_fail_reason(uf_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * As uf_fail_reason, for a failure that retrying cannot help (a malformed
 * event, a request the far side refuses for good, such as Slack's 404
 * channel_not_found): the event is dead-lettered at once, after this one
 * attempt, whatever the step's `retries`, with the reason (fix the cause,
 * then `unifaas dlq replay`).  A later uf_fail_reason keeps it permanent;
 * a deferred event stays deferred.  Returns 0, or -EINVAL outside an event.
 */
int uf_fail_permanent(uf_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * "Not now: deliver this event again in delay_ms."  The current event is
 * not committed (its pushes, KV writes, replies and publishes are dropped,
 * as for a failure) and is delivered again no earlier than delay_ms from
 * now (cut to UF_DEFER_MAX_MS, an hour), to this step, with the same id and
 * data; the unit goes on with its other events meanwhile.  It is not a
 * failed delivery: its attempt is unchanged and it does not count towards
 * `retries`.  The reason, printf-style and cleaned as uf_fail_reason's,
 * is recorded on the delayed entry (`unifaas events`).  An event may be
 * deferred UF_DEFER_MAX (100) times; the next uf_defer fails it instead,
 * with the reason "deferred 100 times: <reason>" (retried or dead-lettered
 * as any failure).  A deferred event stays deferred whatever the handler
 * then does or returns.  Typical use: an HTTP 429 with Retry-After.
 * `unifaas run` prints the deferral and delivers the event again after the
 * delay, within the run.  Returns 0, or -EINVAL outside an event.
 */
int uf_defer(uf_ctx *ctx, uint32_t delay_ms, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Key-value store, namespaced per workflow.  Keys are UTF-8 text (1..512
 * bytes, no NUL); values are byte strings.
 * Writes (set, del, incr) made while handling an event are staged and
 * applied with the event's acknowledgement, atomically, like its pushes: a
 * failed or crashed attempt applies none, a retried event's apply once.
 * Reads see the batch's own writes; reads of other keys see the store.
 * uf_kv_incr with out reads the key's stored value once per batch and
 * reports it plus this batch's increments (the INCRBY is applied at commit,
 * so concurrent units never lose an increment, but may report equal
 * values); with out NULL it reads nothing and costs no VM exit.  Inside an
 * event uf_kv_del returns 0 (absent or not); a staged write the store
 * refuses at commit (an increment of a non-integer, a full local store) is
 * logged and skipped.  Outside an event (main before the first uf_pop) KV
 * calls take effect at once; -ENOSPC when the store is full (`unifaas
 * run` keeps at most 64 MiB).
 * uf_kv_get copies at most cap bytes into buf and sets *len to the full
 * length of the value (so a caller can retry with a bigger buffer; the
 * return is -ENOBUFS when cap was too small).  A value shorter than cap is
 * NUL-terminated.  uf_kv_incr treats the value as a decimal int64 (absent =
 * 0), adds `by` and stores the result in *out when out is not NULL.
 */
int uf_kv_get(uf_ctx *ctx, const char *key, void *buf, size_t cap, size_t *len);
int uf_kv_set(uf_ctx *ctx, const char *key, const void *val, size_t len);
int uf_kv_incr(uf_ctx *ctx, const char *key, int64_t by, int64_t *out);
int uf_kv_del(uf_ctx *ctx, const char *key);

/* The function's environment (manifest `env`, `--env K=V`); NULL if unset. */
const char *uf_getenv(const char *name);

/*
 * Outbound HTTP(S) to URLs the manifest's `egress:` prefixes allow
 * (docs/writing-functions.md).  unifaasd makes the call with TLS
 * verification on; the unit itself has no network access.  The event
 * being handled travels as the header `Idempotency-Key: <event id>`: a
 * call is a side effect a failed (retried) event cannot undo, so the
 * receiver should use the key to drop duplicates.
 * Returns 0 with status, headers and body filled in (any HTTP status,
 * also 4xx/5xx; redirects are not followed: a 3xx comes back with its
 * Location header), or -EPERM (URL not allowed), -EINVAL (bad method, URL
 * or header line), -ETIMEDOUT, -EPROTO (TLS handshake or certificate
 * check failed), -ECONNREFUSED, -EHOSTUNREACH, -EFBIG (response body past
 * the platform's cap), -EIO, -ENOSYS (`unifaas run` without --allow-egress).
 * resp->len and resp->headers_len are the full lengths, which exceed cap
 * and headers_cap when the response did not fit (the bytes that fit are
 * returned, truncated).  A body shorter than cap is NUL-terminated, and
 * so are the headers.
 */
typedef struct uf_http_req {
	const char *method;  /* "GET", "POST", ...                          */
	const char *url;     /* must match an `egress` prefix                 */
	const char *headers; /* "Name: value\r\n" lines, or NULL              */
	const void *body;
	size_t body_len;
	unsigned timeout_ms; /* whole call; 0: the platform's default (capped) */
} uf_http_req;
typedef struct uf_http_resp {
	int status;         /* HTTP status code                                */
	char *body;         /* caller's buffer (may be NULL with cap 0)         */
	size_t cap;         /* its capacity                                    */
	size_t len;         /* full body length (may exceed cap)               */
	char *headers;      /* buffer for "Name: value\r\n" lines, or NULL     */
	size_t headers_cap; /* its capacity                                    */
	size_t headers_len; /* full length of the header lines (may exceed cap) */
} uf_http_resp;
int uf_http(uf_ctx *ctx, const uf_http_req *req, uf_http_resp *resp);

/*
 * Network functions (manifest `net: true`; `uf-hvt --tap NAME`): the unit
 * has one Ethernet port, a TAP device on the platform's bridge, and sends
 * and receives raw frames on it.  A frame is destination MAC (6 bytes),
 * source MAC (6), EtherType (2, big-endian) and payload: no preamble, no
 * FCS.  There is no IP stack in libuf: the function speaks ARP, IP, ...
 * itself (functions/pingd.c answers ARP and ping).  The unit's IPv4 address
 * is in its environment, NET_IP (the platform's bridge is NET_IP's .1).
 * Without a TAP device every call returns -ENOSYS.
 *
 * uf_net_mac:   copies the unit's MAC address (locally administered,
 *               fixed for a given device) into mac.  0 or -errno.
 * uf_net_read:  waits up to timeout_ms for one frame (0: only looks;
 *               negative: waits without limit) and copies it into buf.
 *               Returns the frame's length, 0 if none came in time,
 *               -EMSGSIZE if it was longer than cap (that frame is dropped:
 *               a cap of UF_NET_FRAME_MAX always suffices on the platform's
 *               1500-byte links), -EINVAL if cap is 0 or buf NULL, -EIO if
 *               the device failed.  cap above UF_NET_BUF_MAX is used as
 *               UF_NET_BUF_MAX.
 * uf_net_write: sends one frame of len bytes, UF_NET_FRAME_MIN (14, a bare
 *               header) to UF_NET_FRAME_MAX (1518).  0, -EINVAL for a
 *               length outside those bounds, -EAGAIN if the device's queue
 *               is full (the frame is dropped, as on a busy link), -EIO.
 *
 * Every call is one VM exit; reading blocks the unit (using no CPU) until a
 * frame or the timeout.  For the CPU time limit each uf_net_read starts a
 * new event.
 */
#define UF_NET_FRAME_MIN 14u
#define UF_NET_FRAME_MAX 1518u
#define UF_NET_BUF_MAX   65536u
int uf_net_mac(uint8_t mac[6]);
int uf_net_read(void *buf, size_t cap, int timeout_ms);
int uf_net_write(const void *frame, size_t len);

#ifdef __cplusplus
}
#endif
#endif
