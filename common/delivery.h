/*
 * delivery.h - the delivery protocol of queues (ARCHITECTURE §3), written
 * once for the two places that settle events: the tender
 * (tender/backend_redis.c), which settles each batch its guest handled,
 * and unifaasd (daemon/units.c), which settles what a unit that died still
 * held.  Both build their Redis commands here: the tender sends them in a
 * MULTI/EXEC over its hiredis context, the daemon as one EVAL per entry
 * (uf_settle_eval_cmd) over its store; nothing here does I/O except
 * uf_time_ms reading the clock.
 *
 * Keys: uf:q:<wf>:<queue> (a stream), uf:dlq:<wf>:<queue> (its dead
 * letters), uf:stat:<wf>:<step> (a hash of counters), uf:kv:<wf>:<key>.
 *
 * A queue entry holds UF_FIELD_DATA and, once re-queued, UF_FIELD_ORIGIN
 * (the id of the event's first entry: its idempotency key, whose
 * millisecond part is the event's time), UF_FIELD_ATTEMPT (failed
 * deliveries so far; absent = 0) and UF_FIELD_REASON (why the last one
 * failed).  A dead letter holds data, origin, UF_FIELD_ATTEMPTS (deliveries
 * made), UF_FIELD_STEP, reason and UF_FIELD_TIME (epoch milliseconds when it
 * was dead-lettered: uf_time_ms, the one clock of event times).
 *
 * Settling an event that was not acknowledged:
 *   counted (its handler failed, it faulted or timed out, or its unit died
 *   holding it): attempt + 1; past the step's retries it is dead-lettered,
 *   else re-queued with the new attempt and the reason, after the step's
 *   retry delay (uf_retry_delay_ms: retry_delay_ms * 2^(attempt-1), at most
 *   UF_DEFER_MAX_MS; 0 = at once);
 *   deferred (uf_defer: "not now, in N ms"): re-queued after N ms (at most
 *   UF_DEFER_MAX_MS) with its attempt unchanged, UF_FIELD_DEFERRALS + 1 and
 *   the deferral's reason; an event already deferred UF_DEFER_MAX times is
 *   counted instead, with the reason "deferred N times: <reason>";
 *   permanent (uf_fail_permanent: retrying cannot help): counted, and
 *   dead-lettered at once whatever the step's retries;
 *   not counted (handed back unhandled, or its unit was stopped by the
 *   daemon): re-queued at once with its attempt unchanged; but the event a
 *   drained unit still had in hand at the drain's deadline (launch.h) is
 *   counted, with the reason uf_drain_reason.  Every stop the daemon
 *   makes of a running unit is a drain (at a limit, undeploy, replace,
 *   overflow, shutdown: enum uf_drain_cause), so a batch handled is
 *   committed, not done again.
 * Every settled entry is acknowledged (XACK) in the same transaction (or
 * script: the daemon's settles only what its XACK acknowledged), and
 * the step's counters are raised there too: <consumer> by the events it
 * acknowledged, UF_STAT_FAILED by the counted failures, UF_STAT_DEAD by the
 * dead-lettered ones.
 *
 * Delayed re-queues: a re-queue that must wait is not added to its queue
 * but to the sorted set UF_DELAY_KEY<wf>:<queue> (uf_delay_key), in the
 * same transaction: score = when it is due (uf_time_ms clock, epoch ms),
 * member = the encoding of the XADD it stands for (uf_delay_encode: the
 * fields data, origin, src, attrs, reply, attempt, deferrals, reason, and a
 * nonce, the id of the entry settled, so no two members are equal).  So a
 * delayed event is stored with everything a re-queue keeps and survives a
 * restart as the queues do (AOF).  Nothing reads the set but unifaasd's
 * mover (daemon/delay.c): every UF_DELAY_TICK_MS it takes the due members
 * (ZRANGEBYSCORE) and moves each with one EVAL of uf_delay_move_script,
 * which XADDs the decoded entry (uf_delay_decode) to the queue only if its
 * ZREM removed the member, so a member moves once however many movers or
 * retries race.  A member that does not decode is logged and moved aside:
 * its score becomes +inf (never due; `unifaas queues` still counts it).
 * Events not due are in no stream, so no unit sees them and no backlog
 * counts them.
 *
 * A unit's Redis ACL user may send exactly UF_UNIT_COMMANDS (registry.c
 * grants them; the tender sends nothing else), on its workflow's keys, the
 * workflow's MQTT outbox UF_OUTBOX_MQTT<wf> (write only) and the channel
 * uf:reply:<wf>.
 */
#ifndef UF_DELIVERY_H
#define UF_DELIVERY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rules.h"

#define UF_FIELD_DATA      "data"
#define UF_FIELD_ORIGIN    "origin"
#define UF_FIELD_ATTEMPT   "attempt"
#define UF_FIELD_REASON    "reason"
#define UF_FIELD_ATTEMPTS  "attempts"
#define UF_FIELD_STEP      "step"
#define UF_FIELD_TIME      "time"
#define UF_FIELD_DEFERRALS "deferrals" /* times uf_defer put it off (absent = 0) */
#define UF_DELAY_KEY       "uf:delay:" /* + <wf>:<queue>: delayed re-queues (a sorted set) */
#define UF_DELAY_TICK_MS   50u         /* how often unifaasd moves due entries */
/* Edges (ARCHITECTURE §5): where an event came from, kept byte for byte
 * through re-queues and into its dead letter.  SRC: the MQTT topic or the
 * HTTP path it arrived on (absent for pushes); ATTRS: a JSON object of its
 * CloudEvents attributes and content type (absent when none); REPLY: the
 * token of an invoke-and-wait request waiting for its result (below). */
#define UF_FIELD_SRC       "src"
#define UF_FIELD_ATTRS     "attrs"
#define UF_FIELD_REPLY     "reply"
#define UF_REPLY_TOKEN_MAX 64u /* bytes of a reply token: [A-Za-z0-9_-] */

/*
 * Invoke-and-wait (POST .../invoke): unifaasd adds the event with a REPLY
 * token and listens on the channel uf:reply:<wf>.  Whoever settles an event
 * that carries a token PUBLISHes, in the same transaction as the settle,
 * one message "<token>\n<outcome>\n<body>" to that channel:
 *   outcome "ok": committed; body is what the handler set with uf_reply, or
 *     else {"pushes":[{"queue":Q,"data":S}...]} (S a JSON string when the
 *     data is UTF-8, else "data_base64") of what it pushed;
 *   outcome "failed": the attempt failed (body: the reason); the event is
 *     still retried or dead-lettered as usual;
 *   outcome "deferred": the tender put it off for its workflow's storage
 *     quota (UF_SETTLE_WAIT; body: uf_quota_reason): it is kept, handled
 *     once the workflow is under its quota or dead-lettered at
 *     quota_give_up_s, and the request answers at once instead of at its
 *     timeout.  Sent with every such deferral; only the first finds a
 *     listener.
 * Nobody listening is fine: the waiting request then answers 202.
 */
#define UF_REPLY_CHANNEL  "uf:reply:" /* + <wf> */
#define UF_REPLY_OK       "ok"
#define UF_REPLY_FAILED   "failed"
#define UF_REPLY_DEFERRED "deferred"
/* (uf_reply_msg and uf_reply_cmd below build the message and its PUBLISH.) */

/*
 * MQTT egress (uf_mqtt_publish): a publish staged by a handler is added, in
 * its event's commit, to its workflow's outbox, the stream
 * UF_OUTBOX_MQTT<wf>, with the fields below; unifaasd's MQTT client
 * publishes each entry and deletes it once the broker has it (PUBACK for
 * QoS 1): at least once, and only for events that committed.  The tender
 * checks the topic against the function's publish filters before it stages
 * anything (common/topic.h); unifaasd checks it again, against the union
 * of the publish filters of the workflow the stream's key names (an entry
 * names no workflow: a unit's ACL user may add to its own outbox only), and
 * refuses an entry outside them.  Undeploy deletes the outbox.
 */
#define UF_OUTBOX_MQTT     "uf:out:mqtt:" /* + <wf> */
#define UF_OUT_FIELD_STEP  "step"
#define UF_OUT_FIELD_TOPIC "topic"
#define UF_OUT_FIELD_QOS   "qos"
#define UF_OUT_FIELD_DATA  "data"
#define UF_OUT_FIELD_EVENT "event" /* the origin id of the event that published */

/* Redis is full: redis-server runs with maxmemory and noeviction (`unifaas
 * up`), so a write past it is refused with an error reply starting with
 * "OOM" and nothing is evicted.  A tender whose commit is refused so ends
 * its unit with a reason holding UF_REASON_REDIS_FULL (nothing of the batch
 * was written, its events stay pending); unifaasd, seeing that reason,
 * re-queues them without counting an attempt (not the function's fault)
 * once Redis takes writes again, and counts the refusal for the workflow. */
#define UF_REASON_REDIS_FULL "redis is full (maxmemory)"
/* Is this Redis error reply's text such a refusal? */
static inline int uf_redis_full(const char *err)
{
	return err && !strncmp(err, "OOM ", 4);
}

/*
 * Storage quota (daemon/quota.c): while a workflow is over its
 * storage_quota, unifaasd keeps the string UF_QUOTA_KEY<wf> =
 * "<stored> <quota> <retry_ms> <over_s> <give_up_s>" (uf_quota_value) and
 * deletes it once the
 * workflow is under again.  A unit reads it with each XREADGROUP (sent
 * right after it, so no extra round trip; the unit's ACL user may GET that
 * one key and write none of it), and while it is there the tender's commit
 * defers each event that would grow the workflow's storage - one that
 * pushes, sets a KV key to a value longer than the one stored (STRLEN), or
 * creates a key by INCRBY - instead of committing it: not counted
 * (UF_SETTLE_WAIT: re-queued after retry_ms, when unifaasd has measured
 * again, its attempt and deferrals unchanged: a quota deferral is not a
 * uf_defer and UF_DEFER_MAX does not bound it).  One rule ends it: once
 * the workflow has been over its quota for give_up_s (the node's
 * quota_give_up_s) or more, as of the last measurement, such an event is
 * dead-lettered at once (uf_fail_permanent's path) with the reason
 * uf_quota_reason, which names both.  So an event waits for room at most
 * quota_give_up_s plus one measurement, however often it comes back.
 * What does not grow it goes on: acknowledgements (retention then trims
 * the handled entries), DEL, the re-queues and dead letters of failed
 * events (the event moves), deferrals (likewise) and MQTT publishes (the
 * outbox empties as the broker takes them).  So a workflow whose backlog
 * put it over its quota drains itself back under it.
 */
#define UF_QUOTA_KEY "uf:quota:" /* + <wf> */
/* UF_QUOTA_SINCE_KEY<wf>: when the workflow went over its quota (Redis's
 * TIME, ms), kept while it is over so that the give-up clock survives a
 * restart of unifaasd and a deploy --replace; deleted once it is under
 * again and when it is undeployed.  unifaasd's alone: no unit reads it. */
#define UF_QUOTA_SINCE_KEY "uf:quota-since:" /* + <wf> */
/* The one over/under rule, with hysteresis: a workflow goes over its quota
 * when a measurement finds more than `quota` bytes stored, and is under
 * again only once one finds at most uf_quota_resume_at(quota), 90% of it.
 * So a workflow at its quota does not flip between refused (507) and
 * taken with each measurement: once refused, it takes events again only
 * with a tenth of its quota free. */
static inline uint64_t uf_quota_resume_at(uint64_t quota)
{
	return quota - quota / 10;
}
static inline int uf_quota_is_over(int was_over, uint64_t stored, uint64_t quota)
{
	return was_over ? stored > uf_quota_resume_at(quota) : stored > quota;
}
/* What UF_QUOTA_KEY<wf> says. */
struct uf_quota_state {
	uint64_t stored, quota; /* bytes, as last measured */
	uint32_t retry_ms;      /* a deferred event comes back after this (<= UF_DEFER_MAX_MS) */
	uint32_t over_s;        /* the workflow has been over its quota this long, as last measured */
	uint32_t give_up_s;     /* quota_give_up_s (config.h) */
};
/* The value of UF_QUOTA_KEY<wf> into buf: its length (>= cap: cut). */
size_t uf_quota_value(char *buf, size_t cap, const struct uf_quota_state *q);
/* Parses such a value (n bytes): 0, or -1 if it is malformed. */
int uf_quota_parse(const char *s, size_t n, struct uf_quota_state *q);
/* The give-up rule: is an event refused for the quota dead-lettered now
 * (over for give_up_s or more), rather than deferred? */
static inline int uf_quota_gives_up(const struct uf_quota_state *q)
{
	return q->over_s >= q->give_up_s;
}
/* The reason an event refused for the quota is deferred or dead-lettered
 * with (uf_quota_gives_up), into buf. */
void uf_quota_reason(char *buf, size_t cap, const struct uf_quota_state *q);

#define UF_STAT_FAILED "failed"
#define UF_STAT_DEAD   "dead"

/*
 * Event latency, received -> committed (GET /metrics): in each commit the
 * tender counts every event it acknowledges as handled in one bucket of
 * uf:stat:<wf>:<step>, the field UF_STAT_LAT_BUCKET "<i>" (i: the index of
 * the first bound in uf_lat_bounds_ms the latency is not above, or
 * UF_LAT_NBOUNDS for over the last one: not cumulative), and adds it to
 * UF_STAT_LAT_SUM_MS.  Received = the millisecond part of the event's
 * origin id (when its first entry was added to a queue); committed = the
 * tender's uf_time_ms when it sends the commit.  Both wall clocks of the
 * same host.
 */
#define UF_LAT_NBOUNDS     15
#define UF_STAT_LAT_BUCKET "lat:"
#define UF_STAT_LAT_SUM_MS "lat:sum_ms"
extern const uint32_t uf_lat_bounds_ms[UF_LAT_NBOUNDS];
/* Cold start, in the same buckets: from unifaasd's launch of a unit
 * (UF_SPAWN_ENV of launch.h) to the first pop that gave it an event, as
 * the tender's clock says; counted once per unit, in its first commit. */
#define UF_STAT_COLD_BUCKET "cold:"
#define UF_STAT_COLD_SUM_MS "cold:sum_ms"
/* the bucket of a latency of ms milliseconds (0..UF_LAT_NBOUNDS) */
unsigned uf_lat_bucket(uint64_t ms);
/* the latency in ms of an event whose origin id is `origin` (n bytes),
 * committed at now_ms; 0 if the id is malformed or in the future */
uint64_t uf_lat_ms(const char *origin, size_t n, uint64_t now_ms);

/* The commands a unit sends, as ACL rules name them (lower case). */
#define UF_UNIT_NCOMMANDS 15
extern const char *const uf_unit_commands[UF_UNIT_NCOMMANDS];

/* uf:<kind>:<wf>:<name> into buf (kind "q", "dlq", "stat", "kv", "delay"); the
 * length, or -1 if it does not fit. */
int uf_key(char *buf, size_t cap, const char *kind, const char *wf, const char *name, size_t name_len);

/* One stream entry, parsed; its strings point into the caller's reply. */
struct uf_entry {
	const char *id;
	const char *origin; /* the entry's own id when it has none */
	size_t origin_len;
	const char *data; /* NULL: no data field (not an event) */
	size_t len;
	uint32_t attempt;
	uint32_t deferrals;              /* UF_FIELD_DEFERRALS */
	const char *src, *attrs, *reply; /* NULL when absent (UF_FIELD_SRC, ...) */
	size_t src_len, attrs_len, reply_len;
};
/* Starts an entry `id` (NUL-terminated): origin = id, no data, attempt 0. */
void uf_entry_init(struct uf_entry *e, const char *id);
/* Takes one field/value pair of the entry into e; unknown fields and
 * malformed values (an origin that is not 1..UF_ID_MAX bytes without NUL,
 * an attempt or deferrals that is not a decimal integer) are ignored. */
void uf_entry_field(struct uf_entry *e, const char *k, size_t klen, const char *v, size_t vlen);

/* One Redis command as an argument vector, with room for the strings it
 * builds (key, numbers, a composed reason, a delayed entry's member: the
 * one thing malloc'd, freed by uf_cmd_release). */
#define UF_CMD_ARGS 28
struct uf_cmd {
	int argc;
	const char *argv[UF_CMD_ARGS];
	size_t len[UF_CMD_ARGS];
	char key[2 * UF_QUEUE_MAX + 16];
	char num[3][24];
	char why[UF_REASON_MAX + 48];
	char *member; /* NULL, or malloc'd */
};
void uf_cmd_release(struct uf_cmd *c);

/* Where one step's units deliver. */
struct uf_delivery {
	const char *wf, *queue, *step; /* step: the consumer group */
	uint32_t retries;              /* failed deliveries re-queued before the dead letter */
	uint32_t retry_delay_ms;       /* manifest retry_delay_ms: 0 = re-queue a failure at once */
};

/* How an event that was not acknowledged is settled (top of this file). */
/* UF_SETTLE_WAIT: re-queued after defer_ms with attempt and deferrals
 * unchanged (the storage quota's deferral, "Storage quota" above). */
enum {
	UF_SETTLE_HANDBACK = 0,
	UF_SETTLE_FAILED = 1,
	UF_SETTLE_DEFERRED = 2,
	UF_SETTLE_PERMANENT = 3,
	UF_SETTLE_WAIT = 4
};
/* What a settle did (uf_settle_cmd's return value, or-ed). */
#define UF_SETTLED_DEAD    1 /* dead-lettered */
#define UF_SETTLED_COUNTED 2 /* a failed delivery (attempt + 1) */
#define UF_SETTLED_LATER   4 /* a delayed re-queue: ZADD to UF_DELAY_KEY */

/* An event deferred `deferrals` times already is not deferred again but
 * fails: then its reason "deferred N times: <reason>" into buf (cap
 * bytes) and 1; else 0. */
int uf_defer_exhausted(char *buf, size_t cap, uint32_t deferrals, const char *reason);

/* Why a unit was drained (launch.h: SIGUSR1's value). */
enum uf_drain_cause {
	UF_DRAIN_ASKED = 0,
	UF_DRAIN_LIFETIME,
	UF_DRAIN_RECLAIM,
	UF_DRAIN_QUOTA,
	UF_DRAIN_UNDEPLOY, /* its workflow undeployed or replaced (deploy --replace) */
	UF_DRAIN_SHUTDOWN, /* unifaasd ending (SIGTERM, 'unifaas down') */
	UF_DRAIN_OVERFLOW, /* its workflow stopped at a step's overflow */
	UF_DRAIN_NCAUSES
};
/* The reason of the event a drained unit still had in hand at the drain's
 * deadline (cause: SIGUSR1's value, out of range = UF_DRAIN_ASKED;
 * drain_ms: unit_drain_ms, 0 = not known) into buf: "drain deadline: its
 * unit was drained (lifetime_s reached) and was still handling it 5000 ms
 * later (unit_drain_ms)".  Returns buf. */
const char *uf_drain_reason(char *buf, size_t cap, int cause, uint32_t drain_ms);

/* The retry delay of a failure that makes `attempt` failed deliveries
 * (1 for the first): base_ms * 2^(attempt-1), at most UF_DEFER_MAX_MS. */
uint32_t uf_retry_delay_ms(uint32_t base_ms, uint32_t attempt);

/* The command that settles e (see the top of this file): how
 * (UF_SETTLE_*), defer_ms (UF_SETTLE_DEFERRED: the delay asked for),
 * reason (NULL: none), time_ms the settle's time (a dead letter's time,
 * a delayed entry's due time from it).  An XADD to the queue or its dead
 * letters, or, when the re-queue waits, a ZADD to UF_DELAY_KEY<wf>:<queue>
 * (out->member malloc'd: uf_cmd_release).  Returns UF_SETTLED_* flags, or
 * -1 if a name does not fit or there is no memory for the member. */
int uf_settle_cmd(const struct uf_delivery *d, const struct uf_entry *e, int how, uint32_t defer_ms, const char *reason,
                  uint64_t time_ms, struct uf_cmd *out);

/* UF_DELAY_KEY<wf>:<queue> into buf: its length, or -1 if it does not fit. */
int uf_delay_key(char *buf, size_t cap, const char *wf, const char *queue);
/* The member standing for `xadd` (an XADD key * <field value>... as
 * uf_settle_cmd builds it), with nonce: malloc'd, *len bytes; NULL without
 * memory.  Each part as a netstring "<len>:<bytes>,", after "uf1:". */
char *uf_delay_encode(const struct uf_cmd *xadd, const char *nonce, size_t *len);
/* The XADD uf:q:<wf>:<queue> * <fields> that delivers `member` (n bytes;
 * out's field strings point into it); 0, or -1 with *why saying what is
 * malformed (a member not made by uf_delay_encode, an unknown field, a
 * bad name). */
int uf_delay_decode(const char *wf, const char *queue, const char *member, size_t n, struct uf_cmd *out,
                    const char **why);
/* The mover's script: KEYS = the delay set, the queue; ARGV = the member,
 * then the XADD's arguments after its key ('*', fields).  1 if it moved
 * the member (ZREM removed it, then XADD), 0 if another move had; an XADD
 * Redis refuses puts the member back at +inf (moved aside) and is an error
 * reply. */
extern const char uf_delay_move_script[];
/* The XADD of a new event (a push): data on uf:q:<wf>:<queue>. */
int uf_push_cmd(const char *wf, const char *queue, size_t queue_len, const char *data, size_t len, struct uf_cmd *out);
/* The XADD of an event from an edge: data, and src, attrs and reply when
 * not NULL, on uf:q:<wf>:<queue>. */
int uf_ingress_cmd(const char *wf, const char *queue, size_t queue_len, const char *data, size_t len, const char *src,
                   size_t src_len, const char *attrs, size_t attrs_len, const char *reply, size_t reply_len,
                   struct uf_cmd *out);
/* XACK of one entry of the step's group. */
int uf_ack_cmd(const struct uf_delivery *d, const char *id, struct uf_cmd *out);
/* HINCRBY uf:stat:<wf>:<step> field n. */
int uf_count_cmd(const struct uf_delivery *d, const char *field, uint64_t n, struct uf_cmd *out);
/* The reply message "<token>\n<outcome>\n<body>" into buf when it fits
 * (cap bytes); returns its length either way (allocate that, call again). */
size_t uf_reply_msg(char *buf, size_t cap, const char *token, size_t token_len, const char *outcome, const char *body,
                    size_t body_len);
/* PUBLISH uf:reply:<wf> msg; -1 if the name does not fit.  msg must
 * outlive out. */
int uf_reply_cmd(const char *wf, const char *msg, size_t len, struct uf_cmd *out);
/* The outbox of workflow wf, UF_OUTBOX_MQTT<wf>, into buf: its length, or
 * -1 if it does not fit. */
int uf_outbox_key(char *buf, size_t cap, const char *wf);
/* XADD uf:out:mqtt:<wf> * step .. topic .. qos .. data .. event <origin>:
 * one staged publish of a committing event (strings must outlive out);
 * -1 if the key does not fit. */
int uf_outbox_cmd(const struct uf_delivery *d, const char *topic, size_t topic_len, uint32_t qos, const char *data,
                  size_t len, const char *origin, size_t origin_len, struct uf_cmd *out);

/*
 * The settle of one entry by unifaasd (a unit that died holding it), as one
 * EVAL of uf_settle_script: only if the entry is still pending does the
 * script add the re-queue or dead letter uf_settle_cmd builds, acknowledge
 * it (XACK) and raise the counters (UF_STAT_FAILED when
 * counted, UF_STAT_DEAD when dead-lettered; an entry without data is only
 * acknowledged).  So settling an entry twice - a retry after a lost reply,
 * two settles racing - re-queues and counts it once.  The reply is 1 if
 * this call settled it, 0 if it was no longer pending.  The tender keeps its
 * MULTI/EXEC: its commit is never retried and its ACL user has no EVAL.
 *
 * Script: KEYS = queue stream, where the write goes, stat hash; ARGV =
 * group, id, the write ("XADD" or "ZADD"), n, its n arguments after the
 * key, counter fields.
 */
extern const char uf_settle_script[];
#define UF_SETTLE_ARGS (8 + UF_CMD_ARGS + 2)
struct uf_settle_eval {
	int argc;
	const char *argv[UF_SETTLE_ARGS];
	size_t len[UF_SETTLE_ARGS];
	int dead;           /* 1 if it dead-letters the event */
	int settled;        /* UF_SETTLED_* of uf_settle_cmd (0 for an entry without data) */
	uint32_t attempt;   /* the attempt it records (deliveries made, if dead) */
	struct uf_cmd add;  /* the XADD or ZADD, whose key and fields it carries */
	struct uf_cmd ack;  /* its key: the queue */
	struct uf_cmd stat; /* its key: the counters */
	char n[12];
};
/* EVAL uf_settle_script for e (counted or not, reason, time_ms as
 * uf_settle_cmd); 0, or -1 if a name does not fit (or no memory).
 * uf_cmd_release(&out->add) once sent. */
int uf_settle_eval_cmd(const struct uf_delivery *d, const struct uf_entry *e, int counted, const char *reason,
                       uint64_t time_ms, struct uf_settle_eval *out);

/* Now, in milliseconds since the epoch: the clock of event times. */
uint64_t uf_time_ms(void);

#endif
