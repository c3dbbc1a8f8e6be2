/*
 * event_limits.h - what one event may write, and how much one commit writes to
 * Redis at a time (issue 11 §2, §3): the limits, their defaults, ranges
 * and names, defined once for unifaasd (config, manifest, ingress), the
 * tender (hvt_dataplane.c checks a commit, backend_redis.c cuts a batch's
 * commit in chunks) and libuf (a staging call over a limit fails at once).
 *
 * Where a limit comes from: the node's config (`limits.<name>=N` in
 * unifaasd.conf; the defaults below) is both the default and the ceiling;
 * a function's manifest may set the per-event ones (functions.F.limits.
 * <name>) to any value up to the node's: deploy refuses more.  unifaasd
 * hands the tender the values in force (uf-hvt --limit, --manifest-limit),
 * and the tender hands the per-event ones to the guest in its bootinfo.
 *
 * What happens past one: the staging call returns an error to the guest
 * (UF_LIMIT_ERRNO) and its event fails for good (UF_LIMIT_RESULT) with a
 * reason naming the limit, its value and where it was set
 * (uf_limit_reason), its other staged writes dropped: it is dead-lettered
 * at once, whatever the step's retries, since a retry would stage the same
 * writes and fail the same way (a failure that can pass on a retry, a
 * Redis that refuses a write, is not a limit: delivery.h).  libuf and the
 * tender's commit check (hvt_dataplane.c) both fail it so.
 *
 * Invariants: pure (no I/O); builds with glibc and musl, and into libuf
 * (COMMON_GUEST).  Every per-event limit is at most the batch chunk it must
 * fit in (uf_limits_check), so one event's writes always go to Redis in
 * one MULTI/EXEC.
 */
#ifndef UF_EVENT_LIMITS_H
#define UF_EVENT_LIMITS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "uf_abi.h"

enum uf_limit {
	UF_LIM_VALUE_BYTES,                      /* bytes of one KV value (uf_kv_set) */
	UF_LIM_EVENT_BYTES,                      /* bytes of one event's data: pushed, published, or at ingress */
	UF_LIM_WRITES,                           /* writes one event may stage: pushes, MQTT publishes, KV writes */
	UF_LIM_COMMIT_BYTES,                     /* bytes one event's commit may write (data, values, keys, names) */
	UF_LIM_EVENT_COUNT,                      /* the limits above are per event: a manifest may lower them */
	UF_LIM_BATCH_BYTES = UF_LIM_EVENT_COUNT, /* bytes of one MULTI/EXEC of a batch's commit */
	UF_LIM_BATCH_WRITES,                     /* writes (commands) of one MULTI/EXEC */
	UF_LIM_COUNT
};

/* How an event past a limit fails (its result, uf_abi.h): for good, as
 * uf_fail_permanent, settled UF_SETTLE_PERMANENT (delivery.h). */
#define UF_LIMIT_RESULT UF_RESULT_PERMANENT

/* The error a staging call over each limit returns to the guest. */
#define UF_LIMIT_ERRNO_VALUE  EFBIG   /* one value or event too large */
#define UF_LIMIT_ERRNO_WRITES E2BIG   /* too many writes in one event */
#define UF_LIMIT_ERRNO_COMMIT ENOBUFS /* the event's commit is full */

/* The ranges (the manifest's key table uses them too). */
#define UF_LIM_VALUE_BYTES_MAX  (16u << 20) /* = UF_VALUE_MAX */
#define UF_LIM_EVENT_BYTES_MAX  (16u << 20) /* = UF_PUSH_BYTES_MAX, a push request */
#define UF_LIM_WRITES_MAX       1000000u
#define UF_LIM_COMMIT_BYTES_MAX (1u << 30)

struct uf_limit_info {
	const char *name; /* "value_bytes": limits.value_bytes in the config and the manifest */
	uint64_t def, min, max;
	int bytes;        /* a size (the manifest takes 1MiB etc.) */
	const char *what; /* for docs and messages */
};
extern const struct uf_limit_info uf_limit_info[UF_LIM_COUNT];

/* The values in force; bit i of from_manifest: limit i was set by the
 * function's manifest (for the reason's text), else it is the node's. */
struct uf_limits {
	uint64_t v[UF_LIM_COUNT];
	uint32_t from_manifest;
};

void uf_limits_defaults(struct uf_limits *l);
/* The limit called `name` (n bytes, "value_bytes"), or -1. */
int uf_limit_find(const char *name, size_t n);
/* Whether the values are consistent: each in its range, and an event's
 * writes fit one chunk (writes_per_event <= batch_commit_writes,
 * commit_bytes <= batch_commit_bytes, event_bytes and value_bytes <=
 * commit_bytes).  0, or -1 with why ("limits.commit_bytes 9000000 is more
 * than limits.batch_commit_bytes 4194304"). */
int uf_limits_check(const struct uf_limits *l, char *why, size_t whylen);
/* The node's limits l with a function's per-event values fn[] (0: not
 * set) applied: out = l, then each set value (at most the node's) with its
 * from_manifest bit.  A value over the node's is capped to it (a node whose
 * limit was lowered after a deploy); *capped then has that limit's bit. */
void uf_limits_apply(struct uf_limits *out, const struct uf_limits *node, const uint64_t fn[UF_LIM_EVENT_COUNT],
                     uint32_t *capped);
/* "manifest limits.writes_per_event" or "node limits.writes_per_event". */
int uf_limit_where(char *buf, size_t len, const struct uf_limits *l, enum uf_limit which);

/*
 * The reason an event fails with (one line, <= UF_REASON_MAX):
 *   value:   "KV value of 2000000 bytes for key 'k', over the limit 1048576 (node limits.value_bytes)"
 *   event:   "event of 2000000 bytes pushed to queue 'q', over the limit ..." (published: "on topic 't'")
 *   writes:  "event staged 43001 writes (pushes, publishes and KV writes), over the limit 1000 (...)"
 *   commit:  "event's commit would write 5000000 bytes, over the limit 4194304 (...)"
 * `name` is the key, queue or topic (n bytes, cut to 80), NULL for the
 * others.  Returns the length written.
 */
int uf_limit_reason(char *buf, size_t len, const struct uf_limits *l, enum uf_limit which, uint64_t got, int published,
                    const char *name, size_t n);

#endif
