/*
 * delivery.c - the delivery protocol's names and steps (delivery.h): field
 * names, keys, entry parsing and the commands that settle an event, used by
 * the tender and by unifaasd alike.  No I/O but the clock.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delivery.h"

const char *const uf_unit_commands[UF_UNIT_NCOMMANDS] = {
    "auth",                                   /* the unit's ACL user, at open */
    "xgroup|create",                          /* its step's group, at open (MKSTREAM) */
    "xreadgroup",                             /* pops */
    "xadd",                                   /* pushes, re-queues, dead letters */
    "xack",                                   /* settling */
    "multi",         "exec",                  /* each batch settled in one transaction */
    "get",           "set",  "incrby", "del", /* KV */
    "hincrby",                                /* uf:stat counters */
    "publish",                                /* invoke replies, uf:reply:<wf> only */
    "zadd",                                   /* delayed re-queues, uf:delay:<wf>:* */
    "strlen",                                 /* a KV value's size, over the storage quota */
};

int uf_key(char *buf, size_t cap, const char *kind, const char *wf, const char *name, size_t name_len)
{
	int n = snprintf(buf, cap, "uf:%s:%s:%.*s", kind, wf, (int)name_len, name);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

void uf_entry_init(struct uf_entry *e, const char *id)
{
	*e = (struct uf_entry){.id = id, .origin = id, .origin_len = strlen(id)};
}

static int field_is(const char *k, size_t klen, const char *name)
{
	return klen == strlen(name) && !memcmp(k, name, klen);
}

void uf_entry_field(struct uf_entry *e, const char *k, size_t klen, const char *v, size_t vlen)
{
	int64_t a;
	if (field_is(k, klen, UF_FIELD_DATA)) {
		e->data = v;
		e->len = vlen;
	} else if (field_is(k, klen, UF_FIELD_ORIGIN) && vlen > 0 && vlen <= UF_ID_MAX && !memchr(v, 0, vlen)) {
		e->origin = v;
		e->origin_len = vlen;
	} else if (field_is(k, klen, UF_FIELD_ATTEMPT) && uf_int64_parse(v, vlen, &a) == 0 && a >= 0) {
		e->attempt = a > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)a;
	} else if (field_is(k, klen, UF_FIELD_DEFERRALS) && uf_int64_parse(v, vlen, &a) == 0 && a >= 0) {
		e->deferrals = a > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)a;
	} else if (field_is(k, klen, UF_FIELD_SRC)) {
		e->src = v;
		e->src_len = vlen;
	} else if (field_is(k, klen, UF_FIELD_ATTRS)) {
		e->attrs = v;
		e->attrs_len = vlen;
	} else if (field_is(k, klen, UF_FIELD_REPLY) && vlen > 0 && vlen <= UF_REPLY_TOKEN_MAX) {
		e->reply = v;
		e->reply_len = vlen;
	}
}

static void arg(struct uf_cmd *c, const char *s, size_t len)
{
	c->argv[c->argc] = s;
	c->len[c->argc++] = len;
}

static void arg_s(struct uf_cmd *c, const char *s)
{
	arg(c, s, strlen(s));
}

/* An event's edge fields, each when present (a dead letter keeps no reply
 * token: nobody waits for it any more). */
static void edge_fields(struct uf_cmd *c, const char *src, size_t src_len, const char *attrs, size_t attrs_len,
                        const char *reply, size_t reply_len)
{
	if (src) {
		arg_s(c, UF_FIELD_SRC);
		arg(c, src, src_len);
	}
	if (attrs) {
		arg_s(c, UF_FIELD_ATTRS);
		arg(c, attrs, attrs_len);
	}
	if (reply) {
		arg_s(c, UF_FIELD_REPLY);
		arg(c, reply, reply_len);
	}
}

void uf_cmd_release(struct uf_cmd *c)
{
	free(c->member);
	c->member = NULL;
}

int uf_defer_exhausted(char *buf, size_t cap, uint32_t deferrals, const char *reason)
{
	if (deferrals < UF_DEFER_MAX)
		return 0;
	snprintf(buf, cap, "deferred %" PRIu32 " times: %s", deferrals, reason ? reason : "deferred");
	return 1;
}

const char *uf_drain_reason(char *buf, size_t cap, int cause, uint32_t drain_ms)
{
	static const char *const why[UF_DRAIN_NCAUSES] = {
	    [UF_DRAIN_ASKED] = "unifaasd asked it to end",
	    [UF_DRAIN_LIFETIME] = "lifetime_s reached",
	    [UF_DRAIN_RECLAIM] = "its slot taken back for another workflow",
	    [UF_DRAIN_QUOTA] = "its workflow over its storage quota while redis is full",
	    [UF_DRAIN_UNDEPLOY] = "its workflow undeployed or replaced",
	    [UF_DRAIN_SHUTDOWN] = "unifaasd shutting down",
	    [UF_DRAIN_OVERFLOW] = "its workflow stopped at a step's overflow",
	};
	char ms[24] = "";
	if (drain_ms)
		snprintf(ms, sizeof(ms), "%" PRIu32 " ms ", drain_ms);
	snprintf(buf, cap,
	         "drain deadline: its unit was drained (%s) and was still handling it %slater (unit_drain_ms)",
	         why[cause >= 0 && cause < UF_DRAIN_NCAUSES ? cause : UF_DRAIN_ASKED], ms);
	return buf;
}

uint32_t uf_retry_delay_ms(uint32_t base_ms, uint32_t attempt)
{
	uint64_t ms = base_ms;
	for (uint32_t i = 1; i < attempt && ms < UF_DEFER_MAX_MS; i++)
		ms *= 2;
	return attempt == 0 ? 0 : ms > UF_DEFER_MAX_MS ? UF_DEFER_MAX_MS : (uint32_t)ms;
}

int uf_delay_key(char *buf, size_t cap, const char *wf, const char *queue)
{
	return uf_key(buf, cap, "delay", wf, queue, strlen(queue));
}

/* Turns the XADD in out into the ZADD of a re-queue due at due_ms, with the
 * settled entry's id as the member's nonce: 0, or -1. */
static int delay_cmd(const struct uf_delivery *d, const char *nonce, uint64_t due_ms, struct uf_cmd *out)
{
	size_t len;
	char *m = uf_delay_encode(out, nonce, &len);
	if (!m || uf_delay_key(out->key, sizeof(out->key), d->wf, d->queue) < 0) {
		free(m);
		return -1;
	}
	out->member = m;
	snprintf(out->num[2], sizeof(out->num[2]), "%" PRIu64, due_ms);
	out->argc = 0;
	arg_s(out, "ZADD");
	arg_s(out, out->key);
	arg_s(out, out->num[2]);
	arg(out, m, len);
	return 0;
}

int uf_settle_cmd(const struct uf_delivery *d, const struct uf_entry *e, int how, uint32_t defer_ms, const char *reason,
                  uint64_t time_ms, struct uf_cmd *out)
{
	uint32_t deferrals = e->deferrals, delay = 0;
	out->argc = 0;
	out->member = NULL;
	if (how == UF_SETTLE_DEFERRED && uf_defer_exhausted(out->why, sizeof(out->why), deferrals, reason)) {
		reason = out->why; /* put off too often: a failure */
		how = UF_SETTLE_FAILED;
	}
	int counted = how == UF_SETTLE_FAILED || how == UF_SETTLE_PERMANENT;
	if (how == UF_SETTLE_WAIT) /* the quota's: neither a failure nor a uf_defer */
		delay = defer_ms > UF_DEFER_MAX_MS ? UF_DEFER_MAX_MS : defer_ms;
	uint32_t attempt = e->attempt + (counted ? 1 : 0);
	int dead = counted && (attempt > d->retries || how == UF_SETTLE_PERMANENT);
	if (how == UF_SETTLE_DEFERRED) {
		deferrals++;
		delay = defer_ms > UF_DEFER_MAX_MS ? UF_DEFER_MAX_MS : defer_ms;
	} else if (counted && !dead) {
		delay = uf_retry_delay_ms(d->retry_delay_ms, attempt);
	}
	if (uf_key(out->key, sizeof(out->key), dead ? "dlq" : "q", d->wf, d->queue, strlen(d->queue)) < 0)
		return -1;
	snprintf(out->num[0], sizeof(out->num[0]), "%" PRIu32, attempt);
	snprintf(out->num[1], sizeof(out->num[1]), "%" PRIu64, time_ms);
	snprintf(out->num[2], sizeof(out->num[2]), "%" PRIu32, deferrals);
	arg_s(out, "XADD");
	arg_s(out, out->key);
	arg_s(out, "*");
	arg_s(out, UF_FIELD_DATA);
	arg(out, e->data ? e->data : "", e->data ? e->len : 0);
	arg_s(out, UF_FIELD_ORIGIN);
	arg(out, e->origin, e->origin_len);
	edge_fields(out, e->src, e->src_len, e->attrs, e->attrs_len, dead ? NULL : e->reply, e->reply_len);
	arg_s(out, dead ? UF_FIELD_ATTEMPTS : UF_FIELD_ATTEMPT);
	arg_s(out, out->num[0]);
	if (deferrals) {
		arg_s(out, UF_FIELD_DEFERRALS);
		arg_s(out, out->num[2]);
	}
	if (dead) {
		arg_s(out, UF_FIELD_STEP);
		arg_s(out, d->step);
	}
	if (reason) {
		arg_s(out, UF_FIELD_REASON);
		arg_s(out, reason);
	}
	if (dead) {
		arg_s(out, UF_FIELD_TIME);
		arg_s(out, out->num[1]);
	}
	int flags = (dead ? UF_SETTLED_DEAD : 0) | (counted ? UF_SETTLED_COUNTED : 0);
	if (!delay)
		return flags;
	return delay_cmd(d, e->id, time_ms + delay, out) < 0 ? -1 : flags | UF_SETTLED_LATER;
}

/* ---- delayed members: "uf1:" then netstrings "<len>:<bytes>," ---- */

#define DELAY_MAGIC "uf1:"

char *uf_delay_encode(const struct uf_cmd *xadd, const char *nonce, size_t *len)
{
	size_t n = sizeof(DELAY_MAGIC) - 1 + strlen(nonce) + 24;
	for (int i = 3; i < xadd->argc; i++)
		n += xadd->len[i] + 24;
	char *m = malloc(n), *p = m;
	if (!m)
		return NULL;
	p += sprintf(p, DELAY_MAGIC "%zu:%s,", strlen(nonce), nonce);
	for (int i = 3; i < xadd->argc; i++) {
		p += sprintf(p, "%zu:", xadd->len[i]);
		memcpy(p, xadd->argv[i], xadd->len[i]);
		p += xadd->len[i];
		*p++ = ',';
	}
	*len = (size_t)(p - m);
	return m;
}

/* One netstring at *p (before end): its bytes and length, *p past it; -1
 * if it is not one (a length with a leading zero or past the end). */
static int netstring(const char **p, const char *end, const char **s, size_t *n)
{
	const char *q = *p;
	size_t len = 0;
	if (q >= end || *q < '0' || *q > '9' || (*q == '0' && q + 1 < end && q[1] != ':'))
		return -1;
	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		if (len > (size_t)(end - q))
			return -1;
		len = len * 10 + (size_t)(*q - '0');
	}
	if (q >= end || *q != ':' || len + 2 > (size_t)(end - q) || q[1 + len] != ',')
		return -1;
	*s = q + 1;
	*n = len;
	*p = q + 2 + len;
	return 0;
}

static const char *const delay_fields[] = {UF_FIELD_DATA,  UF_FIELD_ORIGIN,  UF_FIELD_SRC,    UF_FIELD_ATTRS,
                                           UF_FIELD_REPLY, UF_FIELD_ATTEMPT, UF_FIELD_REASON, UF_FIELD_DEFERRALS};

static int delay_field_ok(const char *k, size_t n)
{
	for (size_t i = 0; i < sizeof(delay_fields) / sizeof(*delay_fields); i++)
		if (field_is(k, n, delay_fields[i]))
			return 1;
	return 0;
}

int uf_delay_decode(const char *wf, const char *queue, const char *member, size_t n, struct uf_cmd *out,
                    const char **why)
{
	const char *p = member, *end = member + n, *s;
	size_t len;
	out->argc = 0;
	out->member = NULL;
	*why = "the queue or workflow name is not valid";
	if (!uf_name_ok(UF_NAME_WORKFLOW, wf, strlen(wf)) || !uf_name_ok(UF_NAME_QUEUE, queue, strlen(queue)) ||
	    uf_key(out->key, sizeof(out->key), "q", wf, queue, strlen(queue)) < 0)
		return -1;
	arg_s(out, "XADD");
	arg_s(out, out->key);
	arg_s(out, "*");
	*why = "not made by uf_delay_encode (no uf1: header, or a nonce that is not 1..64 bytes)";
	if (n < sizeof(DELAY_MAGIC) - 1 || memcmp(p, DELAY_MAGIC, sizeof(DELAY_MAGIC) - 1))
		return -1;
	p += sizeof(DELAY_MAGIC) - 1;
	if (netstring(&p, end, &s, &len) < 0 || len == 0 || len > UF_ID_MAX)
		return -1;
	while (p < end) {
		const char *k, *v;
		size_t klen, vlen;
		*why = "a part is not a netstring, or a field has no value";
		if (netstring(&p, end, &k, &klen) < 0 || netstring(&p, end, &v, &vlen) < 0)
			return -1;
		*why = "an unknown field, or more fields than an entry has";
		if (!delay_field_ok(k, klen) || out->argc + 2 > UF_CMD_ARGS)
			return -1;
		arg(out, k, klen);
		arg(out, v, vlen);
	}
	*why = "no data field first";
	if (out->argc < 5 || !field_is(out->argv[3], out->len[3], UF_FIELD_DATA))
		return -1;
	return 0;
}

const char uf_delay_move_script[] = "if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
                                    "local r = redis.pcall('XADD', KEYS[2], unpack(ARGV, 2))\n"
                                    "if type(r) == 'table' and r.err then\n"
                                    "  redis.call('ZADD', KEYS[1], '+inf', ARGV[1])\n"
                                    "  return r\n"
                                    "end\n"
                                    "return 1\n";

int uf_push_cmd(const char *wf, const char *queue, size_t queue_len, const char *data, size_t len, struct uf_cmd *out)
{
	out->argc = 0;
	if (uf_key(out->key, sizeof(out->key), "q", wf, queue, queue_len) < 0)
		return -1;
	arg_s(out, "XADD");
	arg_s(out, out->key);
	arg_s(out, "*");
	arg_s(out, UF_FIELD_DATA);
	arg(out, data, len);
	return 0;
}

int uf_ack_cmd(const struct uf_delivery *d, const char *id, struct uf_cmd *out)
{
	out->argc = 0;
	if (uf_key(out->key, sizeof(out->key), "q", d->wf, d->queue, strlen(d->queue)) < 0)
		return -1;
	arg_s(out, "XACK");
	arg_s(out, out->key);
	arg_s(out, d->step);
	arg_s(out, id);
	return 0;
}

int uf_count_cmd(const struct uf_delivery *d, const char *field, uint64_t n, struct uf_cmd *out)
{
	out->argc = 0;
	if (uf_key(out->key, sizeof(out->key), "stat", d->wf, d->step, strlen(d->step)) < 0)
		return -1;
	snprintf(out->num[0], sizeof(out->num[0]), "%" PRIu64, n);
	arg_s(out, "HINCRBY");
	arg_s(out, out->key);
	arg_s(out, field);
	arg_s(out, out->num[0]);
	return 0;
}

/* Lua 5.1 (Redis): unpack, not table.unpack.  Pending (for any consumer)
 * is read first and the XADD is the first write: a Redis out of memory
 * refuses a script's first write when it grows memory (XADD, not XACK) and
 * then nothing is done, as a MULTI/EXEC refused at OOM; later writes are
 * not refused, so no entry is acked without its re-queue.  Atomic, so it is
 * the same as XACK-then-XADD-if-acked.  The write is an XADD (re-queue,
 * dead letter) or a ZADD (a delayed re-queue), nothing else. */
const char uf_settle_script[] =
    "if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then return 0 end\n"
    "local n = tonumber(ARGV[4])\n"
    "if ARGV[3] ~= 'XADD' and ARGV[3] ~= 'ZADD' then return redis.error_reply('settle: not XADD or ZADD') end\n"
    "if n > 0 then redis.call(ARGV[3], KEYS[2], unpack(ARGV, 5, 4 + n)) end\n"
    "if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) ~= 1 then return redis.error_reply('settle: XACK') end\n"
    "for i = 5 + n, #ARGV do redis.call('HINCRBY', KEYS[3], ARGV[i], 1) end\n"
    "return 1\n";

static void eval_arg(struct uf_settle_eval *s, const char *a, size_t len)
{
	s->argv[s->argc] = a;
	s->len[s->argc++] = len;
}

int uf_settle_eval_cmd(const struct uf_delivery *d, const struct uf_entry *e, int counted, const char *reason,
                       uint64_t time_ms, struct uf_settle_eval *out)
{
	out->argc = 0;
	out->dead = 0;
	out->settled = 0;
	out->attempt = e->attempt;
	out->add.argc = 0;
	out->add.member = NULL;
	if (uf_ack_cmd(d, e->id, &out->ack) < 0 || uf_count_cmd(d, UF_STAT_FAILED, 1, &out->stat) < 0)
		return -1;
	if (e->data) { /* an entry without data is no event: only acknowledged */
		int how = counted ? UF_SETTLE_FAILED : UF_SETTLE_HANDBACK;
		int f = uf_settle_cmd(d, e, how, 0, reason, time_ms, &out->add);
		if (f < 0)
			return -1;
		out->settled = f;
		out->dead = (f & UF_SETTLED_DEAD) != 0;
		out->attempt = e->attempt + (counted ? 1 : 0);
	}
	int nadd = out->add.argc ? out->add.argc - 2 : 0; /* XADD key * <fields>, ZADD key score member */
	snprintf(out->n, sizeof(out->n), "%d", nadd);
	eval_arg(out, "EVAL", 4);
	eval_arg(out, uf_settle_script, sizeof(uf_settle_script) - 1);
	eval_arg(out, "3", 1);
	eval_arg(out, out->ack.argv[1], out->ack.len[1]);
	eval_arg(out, out->add.argc ? out->add.argv[1] : out->ack.argv[1],
	         out->add.argc ? out->add.len[1] : out->ack.len[1]);
	eval_arg(out, out->stat.argv[1], out->stat.len[1]);
	eval_arg(out, d->step, strlen(d->step));
	eval_arg(out, e->id, strlen(e->id));
	eval_arg(out, out->add.argc ? out->add.argv[0] : "XADD", 4);
	eval_arg(out, out->n, strlen(out->n));
	for (int i = 2; i < out->add.argc; i++)
		eval_arg(out, out->add.argv[i], out->add.len[i]);
	if (counted && e->data)
		eval_arg(out, UF_STAT_FAILED, strlen(UF_STAT_FAILED));
	if (out->dead)
		eval_arg(out, UF_STAT_DEAD, strlen(UF_STAT_DEAD));
	return 0;
}

const uint32_t uf_lat_bounds_ms[UF_LAT_NBOUNDS] = {1,   2,    5,    10,   25,    50,    100,  250,
                                                   500, 1000, 2500, 5000, 10000, 30000, 60000};

unsigned uf_lat_bucket(uint64_t ms)
{
	unsigned i = 0;
	while (i < UF_LAT_NBOUNDS && ms > uf_lat_bounds_ms[i])
		i++;
	return i;
}

uint64_t uf_lat_ms(const char *origin, size_t n, uint64_t now_ms)
{
	uint64_t t = 0;
	size_t i = 0;
	for (; i < n && i < 20 && origin[i] >= '0' && origin[i] <= '9'; i++)
		t = t * 10 + (uint64_t)(origin[i] - '0');
	if (i == 0 || (i < n && origin[i] != '-') || t > now_ms)
		return 0;
	return now_ms - t;
}

uint64_t uf_time_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int uf_ingress_cmd(const char *wf, const char *queue, size_t queue_len, const char *data, size_t len, const char *src,
                   size_t src_len, const char *attrs, size_t attrs_len, const char *reply, size_t reply_len,
                   struct uf_cmd *out)
{
	if (uf_push_cmd(wf, queue, queue_len, data, len, out) < 0)
		return -1;
	edge_fields(out, src, src_len, attrs, attrs_len, reply, reply_len);
	return 0;
}

size_t uf_reply_msg(char *buf, size_t cap, const char *token, size_t token_len, const char *outcome, const char *body,
                    size_t body_len)
{
	size_t olen = strlen(outcome), n = token_len + 1 + olen + 1 + body_len;
	if (n > cap)
		return n;
	memcpy(buf, token, token_len);
	buf[token_len] = '\n';
	memcpy(buf + token_len + 1, outcome, olen);
	buf[token_len + 1 + olen] = '\n';
	if (body_len)
		memcpy(buf + token_len + 1 + olen + 1, body, body_len);
	return n;
}

int uf_reply_cmd(const char *wf, const char *msg, size_t len, struct uf_cmd *out)
{
	out->argc = 0;
	int n = snprintf(out->key, sizeof(out->key), UF_REPLY_CHANNEL "%s", wf);
	if (n < 0 || (size_t)n >= sizeof(out->key))
		return -1;
	arg_s(out, "PUBLISH");
	arg_s(out, out->key);
	arg(out, msg, len);
	return 0;
}

int uf_outbox_key(char *buf, size_t cap, const char *wf)
{
	int n = snprintf(buf, cap, UF_OUTBOX_MQTT "%s", wf);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

int uf_outbox_cmd(const struct uf_delivery *d, const char *topic, size_t topic_len, uint32_t qos, const char *data,
                  size_t len, const char *origin, size_t origin_len, struct uf_cmd *out)
{
	out->argc = 0;
	if (uf_outbox_key(out->key, sizeof(out->key), d->wf) < 0)
		return -1;
	snprintf(out->num[0], sizeof(out->num[0]), "%" PRIu32, qos);
	arg_s(out, "XADD");
	arg_s(out, out->key);
	arg_s(out, "*");
	arg_s(out, UF_OUT_FIELD_STEP);
	arg_s(out, d->step);
	arg_s(out, UF_OUT_FIELD_TOPIC);
	arg(out, topic, topic_len);
	arg_s(out, UF_OUT_FIELD_QOS);
	arg_s(out, out->num[0]);
	arg_s(out, UF_OUT_FIELD_DATA);
	arg(out, data, len);
	arg_s(out, UF_OUT_FIELD_EVENT);
	arg(out, origin, origin_len);
	return 0;
}

size_t uf_quota_value(char *buf, size_t cap, const struct uf_quota_state *q)
{
	int n = snprintf(buf, cap, "%" PRIu64 " %" PRIu64 " %" PRIu32 " %" PRIu32 " %" PRIu32, q->stored, q->quota,
	                 q->retry_ms, q->over_s, q->give_up_s);
	return n < 0 ? cap : (size_t)n;
}

int uf_quota_parse(const char *s, size_t n, struct uf_quota_state *q)
{
	char buf[120], end;
	unsigned long long a, b, c, o, g;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu %llu %llu %llu%c", &a, &b, &c, &o, &g, &end) != 5 || c > UF_DEFER_MAX_MS ||
	    o > UINT32_MAX || g > UINT32_MAX)
		return -1;
	*q = (struct uf_quota_state){
	    .stored = a, .quota = b, .retry_ms = (uint32_t)c, .over_s = (uint32_t)o, .give_up_s = (uint32_t)g};
	return 0;
}

void uf_quota_reason(char *buf, size_t cap, const struct uf_quota_state *q)
{
	if (uf_quota_gives_up(q))
		snprintf(buf, cap,
		         "workflow over its storage quota (%" PRIu64 " of %" PRIu64
		         " bytes, storage_quota) for %" PRIu32 " s, quota_give_up_s is %" PRIu32
		         " s: its events that push or grow KV are dead-lettered until "
		         "it is under; free space ('unifaas queues purge', 'unifaas kv del', 'unifaas dlq purge') or "
		         "raise storage_quota",
		         q->stored, q->quota, q->over_s, q->give_up_s);
	else
		snprintf(buf, cap,
		         "workflow over its storage quota (%" PRIu64 " of %" PRIu64
		         " bytes, storage_quota) for %" PRIu32
		         " s: its pushes and growing KV writes wait until it is under, dead-lettered once it has been "
		         "over for quota_give_up_s (%" PRIu32 " s); free space ('unifaas queues purge', 'unifaas kv "
		         "del', 'unifaas dlq purge') or raise storage_quota",
		         q->stored, q->quota, q->over_s, q->give_up_s);
}
