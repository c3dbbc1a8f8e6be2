/*
 * backend.h - what a tender serves the data-plane hypercalls against.
 *
 * The tender turns UF_HC_POP / UF_HC_COMMIT / UF_HC_KV into calls on one
 * backend.  `unifaas run` uses the local backend (backend_local.c): events
 * from the command line, a file or stdin, pushes printed as JSON lines, KV
 * in memory and optionally a JSON file.  The Redis backend (backend_redis.c,
 * uf-hvt --redis) implements the same calls against streams and consumer
 * groups, so an image runs unchanged under both.
 *
 * Contract: peek() returns the next undelivered event without consuming it
 * (waiting up to timeout_ms for the first); take() moves it into the
 * in-flight batch; commit() settles the whole in-flight batch in order:
 * results[i] == 0 acknowledges event i, and `pushes`, `kvs` and `outs`
 * (only of acknowledged events) are written with the acknowledgements,
 * atomically;
 * UF_RESULT_SKIPPED hands event i back unchanged; UF_RESULT_DEFERRED puts
 * it off (its UF_OUTPUT_DEFER output, if any, gives the delay; reasons[i]
 * the reason); any other value fails it, reasons[i] (or NULL: "handler
 * returned N") saying why.  What a failure or
 * a hand-back means is the backend's: the Redis backend re-queues or
 * dead-letters in the same transaction (backend_redis.c), the local one
 * reports on stderr.
 */
#ifndef UF_BACKEND_H
#define UF_BACKEND_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rules.h"

struct uf_bevent {
	const char *id;
	const char *queue;
	const char *data;
	size_t len;
	uint64_t time_ms;
	const char *src, *attrs; /* where it came from (uf_rec_event); NULL: none */
	size_t src_len, attrs_len;
};

struct uf_bpush {
	uint32_t event;
	const char *queue;
	size_t queue_len;
	const char *data;
	size_t len;
};

/* A staged KV write (uf_rec_kv): SET val/len, INCR num, DEL. */
struct uf_bkv {
	uint32_t op; /* UF_KV_SET, UF_KV_INCR, UF_KV_DEL */
	uint32_t event;
	const char *key;
	size_t klen;
	const char *val;
	size_t len;
	int64_t num;
};

/* A staged output (uf_rec_out): a reply, an MQTT publish, or the deferral
 * of a deferred event (its reason is also reasons[event]). */
struct uf_bout {
	uint32_t kind; /* UF_OUTPUT_REPLY, UF_OUTPUT_MQTT, UF_OUTPUT_DEFER */
	uint32_t event;
	const char *topic; /* MQTT: a valid topic name the unit may use */
	size_t topic_len;
	uint32_t qos;      /* MQTT: 0 or 1 */
	uint32_t delay_ms; /* DEFER: 0..UF_DEFER_MAX_MS */
	int quota;         /* DEFER: the storage quota's (UF_SETTLE_WAIT), not the guest's uf_defer */
	const char *data;
	size_t len;
};

struct uf_backend {
	/* 1: *ev is the next event; 0: none within timeout_ms; <0: -errno */
	int (*peek)(struct uf_backend *b, uint32_t timeout_ms, const struct uf_bevent **ev);
	void (*take)(struct uf_backend *b);
	int (*commit)(struct uf_backend *b, const int32_t *results, const char *const *reasons, uint32_t count,
	              const struct uf_bpush *pushes, uint32_t npush, const struct uf_bkv *kvs, uint32_t nkv,
	              const struct uf_bout *outs, uint32_t nout);
	/* GET: *val points to backend-owned bytes valid until the next call */
	int (*kv_get)(struct uf_backend *b, const char *key, size_t klen, const char **val, size_t *len);
	int (*kv_set)(struct uf_backend *b, const char *key, size_t klen, const char *val, size_t len);
	int (*kv_incr)(struct uf_backend *b, const char *key, size_t klen, int64_t by, int64_t *out);
	int (*kv_del)(struct uf_backend *b, const char *key, size_t klen);
	/* optional (NULL: never over): 1 while the workflow is over its storage
	 * quota as read with the last batch (common/delivery.h "Storage
	 * quota"), with *why the reason an event refused for it is deferred or
	 * dead-lettered with, *retry_ms when a deferred one is delivered again
	 * and *give_up whether it is dead-lettered instead (uf_quota_gives_up);
	 * else 0 */
	int (*over_quota)(struct uf_backend *b, const char **why, uint32_t *retry_ms, int *give_up);
	/* optional: the stored length of the key of each of kvs[0..n) into
	 * lens (0: no such key); 0, or -errno (failed set) */
	int (*kv_lens)(struct uf_backend *b, const struct uf_bkv *kvs, uint32_t n, uint64_t *lens);
	/* optional: finish opening (replies to requests sent by open); called
	 * once after the VM is set up, before the guest runs; -1 with err */
	int (*ready)(struct uf_backend *b, char *err, size_t errlen);
	/* set with a reason when the backend itself failed (connection lost):
	 * the tender then ends the unit as an internal error */
	const char *failed;
	/* 1: when the unit ends with a batch in flight, the tender settles it
	 * (hvt_dataplane_settle: the culprit fails, the rest are handed back);
	 * 0: it is dropped (local runs: nothing to hand back to) */
	int settle_on_end;
	/* called once at the end, whatever the reason; ran is 0 when the unit
	 * never started (setup failed), so nothing it did needs keeping */
	void (*close)(struct uf_backend *b, int ran);
};

/* Local run mode. */
struct uf_local_opts {
	const char **events; /* --event values */
	int nevents;
	const char *events_file; /* --events FILE, "-" for stdin */
	const char *kv_file;     /* --kv FILE, may be NULL */
	const char *queue;       /* queue name the events come from */
	const char *source;      /* --source: every event's source (NULL: none) */
	const char *attrs;       /* --attrs: every event's attrs (NULL: none) */
	int out_fd;              /* where pushes go as JSON lines */
	int err_fd;              /* where failures are reported */
	size_t line_max;         /* the guest memory budget: a longer line cannot be an event */
};
struct uf_backend *uf_local_backend_open(const struct uf_local_opts *o, char *err, size_t errlen);

/* kvfile.c: the --kv file, replaced atomically (write a temporary file,
 * fsync, rename, fsync the directory) by a helper forked before seccomp.
 * kvf_open before the sandbox (mode: the new file's); then exactly one of
 * kvf_commit (0, or -1 with errno: the old file is left as it was) or
 * kvf_abandon. */
struct kvf {
	int tmp_fd, sock;
	pid_t helper;
	char tmp_name[NAME_MAX + 1];
};
int kvf_open(struct kvf *f, const char *path, mode_t mode, char *err, size_t errlen);
int kvf_commit(struct kvf *f, const char *buf, size_t len);
void kvf_abandon(struct kvf *f);

/* Redis data plane (backend_redis.c). */
struct uf_redis_opts {
	const char *socket;   /* unix socket of redis-server */
	const char *workflow; /* key namespace */
	const char *queue;    /* the stream this unit reads */
	const char *group;    /* consumer group: the step */
	const char *consumer; /* this unit */
	uint32_t count;       /* entries per read */
	uint32_t retries;     /* failed deliveries re-queued before the DLQ */
	uint64_t chunk_bytes; /* a commit's MULTI/EXEC writes at most this (whole events) */
	uint64_t chunk_writes;
	uint32_t retry_delay_ms; /* a failure's re-queue waits this, doubled per attempt (delivery.h) */
};
struct uf_backend *uf_redis_backend_open(const struct uf_redis_opts *o, char *err, size_t errlen);

/* json_text.c: JSON output (see there); UTF-8 and key rules: common/rules.h. */
size_t uf_json_escape(char *out, const char *in, size_t len); /* out: 6 * len bytes */
/* "data":"<text>" for UTF-8 data, else "data_base64":"<base64>" (as
 * CloudEvents); out: UF_JSON_DATA_MAX(len) bytes.  Its length. */
#define UF_JSON_DATA_MAX(len) (6 * (size_t)(len) + 20)
size_t uf_json_data(char *out, const char *data, size_t len);
/* Called per entry of a KV file; returns NULL, or why the entry is refused. */
typedef const char *(*uf_kv_entry_fn)(void *arg, const char *key, size_t klen, const char *val, size_t vlen);
/* Parses a KV file (a JSON object); errors name path:line:col. */
int uf_json_kv_parse(const char *path, const char *js, size_t len, uf_kv_entry_fn fn, void *arg, char *err,
                     size_t errlen);

#endif
