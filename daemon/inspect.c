/*
 * inspect.c - looking inside workflows through the control API (docs/api.md):
 * describe a workflow, read a queue's events (the results of a last step
 * are read this way), list, replay and purge dead letters, and the queue
 * figures of GET /v1/queues.
 *
 * Entries are shown as stored: a queue entry holds `data` and, once
 * re-queued, `origin` (the event's first id, its idempotency key),
 * `attempt` and `reason`; a dead letter (uf:dlq:<wf>:<queue>, written by the
 * tender and by units.c) holds `data origin attempts step reason time`
 * (field names and entry parsing: common/delivery.h).
 * Data that is valid UTF-8 is served as `data`, any other bytes as
 * `data_base64`, as `unifaas run` prints pushes.  An entry's `time` is the
 * millisecond part of its id: when Redis stored it (epoch ms).
 *
 * A workflow undeployed without purge is "kept": uf:state:kept holds its
 * name and uf:state:queues:<wf> its queues (registry.c writes both), so its
 * queues, dead letters and KV stay readable until it is purged or deployed
 * again.  Replay moves dead letters back to their queue with a Lua script,
 * so each entry leaves the dead-letter stream in the same step that
 * re-queues it (attempt reset, origin kept); replay and the purges are the
 * only writes here.
 *
 * Purging a queue (DELETE .../queues/Q/events?all=1|older_than_ms=N|keep=N,
 * `unifaas queues purge`) drops its oldest entries, handled or not, and
 * with all=1 its delayed events too: the operator's way to get a workflow
 * back under its storage quota.  The stream keeps its consumer groups; the
 * trim goes in steps of whole radix-tree nodes (XTRIM ~ LIMIT
 * PURGE_STEP, a command each) and ends with one exact trim, so Redis is
 * never held long however long the queue; each purge is logged
 * (what=queue-purge) and counted (unifaas_queue_trimmed_total, why=purge).
 * Entries held by running units at that moment are still handled.
 *
 * describe's recent failures and stops of each step are kept in Redis
 * (uf:state:ends:<wf>:<failed|stopped>:<step>, at most STEP_ENDS_KEPT each,
 * written by inspect_note_end), so they outlive a restart; a purge deletes
 * them with the workflow's other keys.
 *
 * Every command goes on the asynchronous connection (api_routes.h): a
 * route sends, the connection waits suspended, and the replies' callbacks
 * build the answer from data copied out of the replies, never from
 * pointers into workflows, which may be undeployed meanwhile.  Where one
 * reading needs several commands that depend on each other (queue figures,
 * replay, purge), it is one Lua script.
 */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_routes.h"
#include "backlog.h"
#include "cpu_groups.h"
#include "delivery.h"
#include "pushwin.h"
#include "logs.h"
#include "metrics.h"
#include "quota.h"
#include "rules.h"
#include "store.h"
#include "unifaasd.h"

#define PAGE_DEFAULT     100
#define PAGE_MAX         10000
#define WAIT_MAX_MS      30000
#define FOLLOW_PERIOD_MS 100 /* a follower sees a new entry within this */
#define REPLAY_ALL_MAX   100000
#define RECENT_DEAD      5

/* KEYS[1] the dead-letter stream, KEYS[2] the queue; ARGV[1] "strict" (every
 * id must be there, else nothing moves) or "all" (every entry up to the
 * newest one now, at most ARGV[2]), then the ids.  Returns {moved, first
 * missing id or "", entries left}.  An entry is deleted only after its
 * XADD succeeded. */
static const char REPLAY_LUA[] =
    "local function move(id)\n"
    "  local e = redis.call('XRANGE', KEYS[1], id, id)\n"
    "  if #e == 0 then return 0 end\n"
    "  local f, data, origin = e[1][2], '', id\n"
    "  for k = 1, #f, 2 do\n"
    "    if f[k] == '" UF_FIELD_DATA "' then data = f[k + 1]\n"
    "    elseif f[k] == '" UF_FIELD_ORIGIN "' then origin = f[k + 1] end\n"
    "  end\n"
    "  redis.call('XADD', KEYS[2], '*', '" UF_FIELD_DATA "', data, '" UF_FIELD_ORIGIN "', origin)\n"
    "  redis.call('XDEL', KEYS[1], id)\n"
    "  return 1\n"
    "end\n"
    "local moved = 0\n"
    "if ARGV[1] == 'strict' then\n"
    "  for i = 3, #ARGV do\n"
    "    if #redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i]) == 0 then return {0, ARGV[i], 0} end\n"
    "  end\n"
    "  for i = 3, #ARGV do moved = moved + move(ARGV[i]) end\n"
    "  return {moved, '', 0}\n"
    "end\n"
    "local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)\n"
    "if #last == 0 then return {0, '', 0} end\n"
    "local stop, most = last[1][1], tonumber(ARGV[2])\n"
    "while moved < most do\n"
    "  local batch = redis.call('XRANGE', KEYS[1], '-', stop, 'COUNT', math.min(500, most - moved))\n"
    "  if #batch == 0 then break end\n"
    "  for _, e in ipairs(batch) do moved = moved + move(e[1]) end\n"
    "end\n"
    "return {moved, '', #redis.call('XRANGE', KEYS[1], '-', stop, 'COUNT', 1)}\n";

/* KEYS[1]: the dead-letter stream.  Its length, then it is deleted. */
static const char PURGE_LUA[] = "local n = redis.call('XLEN', KEYS[1])\n"
                                "redis.call('DEL', KEYS[1])\n"
                                "return n\n";

/* One step of a queue purge: KEYS = the stream, ARGV = MAXLEN or MINID,
 * the bound, the step's limit.  {entries dropped, 1 when the purge is
 * done}: whole nodes while some go, then the exact rest. */
static const char PURGE_STEP_LUA[] = "local n = redis.call('XTRIM', KEYS[1], ARGV[1], '~', ARGV[2], 'LIMIT', ARGV[3])\n"
                                     "if n > 0 then return {n, 0} end\n"
                                     "return {redis.call('XTRIM', KEYS[1], ARGV[1], ARGV[2]), 1}\n";
#define PURGE_STEP    10000   /* entries one step drops at most */
#define PURGE_WAIT_MS 600000u /* a purge answers when its steps are done */

/* The figures of every queue: ARGV[1] = BACKLOG_SCAN_MAX, ARGV[2] = n, then n pairs workflow, queue of
 * deployed workflows; the queues of kept workflows (uf:state:kept, not among
 * those) are added.  Per queue: {wf, queue, deployed, XLEN, dead-letter
 * XLEN, XINFO GROUPS, unread per group, delayed re-queues waiting, delayed
 * ones moved aside as malformed (delivery.h)}.  A group's unread entries are
 * counted exactly by the scheduler's rule, BACKLOG_LUA (backlog.h; Redis's
 * lag is wrong after a restart).  A key of another type counts as empty. */
static const char QUEUES_LUA[] =
    BACKLOG_LUA "local scan\n"
                "local function len(k)\n"
                "  local n = redis.pcall('XLEN', k)\n"
                "  if type(n) == 'number' then return n end\n"
                "  return 0\n"
                "end\n"
                "local function one(wf, q, dep)\n"
                "  local k = 'uf:q:' .. wf .. ':' .. q\n"
                "  local groups = redis.pcall('XINFO', 'GROUPS', k)\n"
                "  if type(groups) ~= 'table' or groups.err then groups = {} end\n"
                "  local unread = {}\n"
                "  for i, g in ipairs(groups) do\n"
                "    local last = '0-0'\n"
                "    for j = 1, #g, 2 do\n"
                "      if g[j] == 'last-delivered-id' then last = g[j + 1] end\n"
                "    end\n"
                "    unread[i] = uf_unread(k, last, scan, 0, true)\n"
                "  end\n"
                "  local dk = '" UF_DELAY_KEY "' .. wf .. ':' .. q\n"
                "  local delayed = redis.pcall('ZCOUNT', dk, '-inf', '(+inf')\n"
                "  local aside = redis.pcall('ZCOUNT', dk, '+inf', '+inf')\n"
                "  if type(delayed) ~= 'number' then delayed = 0 end\n"
                "  if type(aside) ~= 'number' then aside = 0 end\n"
                "  return {wf, q, dep, len(k), len('uf:dlq:' .. wf .. ':' .. q), groups, unread, delayed, aside}\n"
                "end\n"
                "local out, deployed = {}, {}\n"
                "scan = tonumber(ARGV[1])\n"
                "local n = tonumber(ARGV[2])\n"
                "for i = 0, n - 1 do\n"
                "  deployed[ARGV[3 + 2 * i]] = true\n"
                "  out[#out + 1] = one(ARGV[3 + 2 * i], ARGV[4 + 2 * i], 1)\n"
                "end\n"
                "local kept = redis.call('SMEMBERS', 'uf:state:kept')\n"
                "table.sort(kept)\n"
                "for _, wf in ipairs(kept) do\n"
                "  if not deployed[wf] then\n"
                "    local qs = redis.call('SMEMBERS', 'uf:state:queues:' .. wf)\n"
                "    table.sort(qs)\n"
                "    for _, q in ipairs(qs) do out[#out + 1] = one(wf, q, 0) end\n"
                "  end\n"
                "end\n"
                "return out\n";

/* A request's state across its runs and replies (api_slot). */
struct ictx {
	struct api *a;
	int kept;       /* not deployed: 0 not asked yet, 1 kept, 2 not kept */
	json_t *queues; /* a kept workflow's queues */
	int started;    /* events: the long poll began */
	uint64_t until; /* ... and ends */
	int empty;      /* ... and the last read found nothing */
	char wf[UF_NAME_BUF], q[UF_QUEUE_MAX + 1], from[64];
	long count;
	int newest;
	json_t *list;                  /* dead letters collected from the replies */
	json_t *asked;                 /* ... of these queues, in the order sent (replies come in order) */
	size_t heard;                  /* replies to them so far */
	json_t *doc;                   /* describe: what was made before asking Redis */
	long long sum;                 /* purge: entries deleted */
	long long delayed;             /* queue purge: delayed events deleted */
	char how[16], bound[24];       /* ... MAXLEN or MINID, and its bound */
	char desc[16], desc_bound[24]; /* ... how it was asked (all, older_than_ms, keep) and its number */
	size_t ends_heard;             /* describe: replies to its unit-end reads so far */
	size_t ends_sent;              /* ... reads sent (a send that failed is not among them) */
	size_t *ends_of;               /* ... each sent read's step * 2 + (1 stopped, 0 failed), in the order
	                                  sent: replies come in that order, a failed send has none */
	int refused;                   /* a command Redis refused */
	char why[256];
};

static void ictx_free(void *p)
{
	struct ictx *x = p;
	if (!x)
		return;
	json_decref(x->queues);
	json_decref(x->list);
	json_decref(x->asked);
	json_decref(x->doc);
	free(x->ends_of);
	free(x);
}

static struct ictx *ctx_of(struct request *rq)
{
	return api_slot(rq, sizeof(struct ictx), ictx_free);
}

/* Notes why Redis refused a command (r an error reply). */
static void refused(struct ictx *x, const redisReply *r)
{
	if (!x->refused)
		snprintf(x->why, sizeof(x->why), "%s", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	x->refused = 1;
}

static int send_cmd(struct request *rq, api_reply_fn cb, int argc, const char **argv)
{
	return api_sendv(rq, cb, argc, argv, NULL);
}
/* One unit end for describe: pushed and trimmed in one step, so the list
 * never holds more than STEP_ENDS_KEPT; sent, not waited for. */
static const char END_LUA[] = "redis.call('LPUSH', KEYS[1], ARGV[1])\n"
                              "redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)\n";

void inspect_note_end(struct step *s, const char *kind, const char *reason)
{
	int stop = !strcmp(kind, UF_END_STOPPED);
	struct unit_end *e = stop ? &s->stops[s->nstops++ % STEP_ENDS_KEPT] : &s->ends[s->nends++ % STEP_ENDS_KEPT];
	e->time_ms = wall_ms();
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	if (s->wf->purged) /* its unit ends went with its purge: none written after it */
		return;
	char key[256], entry[sizeof(e->reason) + 24], most[16];
	snprintf(key, sizeof(key), UF_ENDS_KEY "%s:%s:%s", s->wf->m->name, kind, s->fn->name);
	snprintf(entry, sizeof(entry), "%llu %s", (unsigned long long)e->time_ms, e->reason);
	snprintf(most, sizeof(most), "%u", STEP_ENDS_KEPT);
	const char *argv[] = {"EVAL", END_LUA, "1", key, entry, most};
	if (store_sendv(s->wf->d->store, NULL, NULL, 6, argv, NULL) < 0)
		dlog("warn",
		     "what=unit-end workflow=%s step=%s cause=\"redis unreachable\" effect=\"describe shows it "
		     "until unifaasd restarts\"",
		     s->wf->m->name, s->fn->name);
}

/* n decimal digits at s that fit a 64-bit unsigned part of a stream id
 * (Redis refuses a larger one: it must be a 400 here, not Redis's error). */
static int id_part_ok(const char *s, size_t n)
{
	static const char max[] = "18446744073709551615";
	return n > 0 && (n < sizeof(max) - 1 || (n == sizeof(max) - 1 && memcmp(s, max, n) <= 0));
}

/* A stream entry id: MS or MS-SEQ, decimal, each part within 64 bits. */
static int id_ok(const char *s)
{
	size_t n = strspn(s, "0123456789");
	if (!id_part_ok(s, n))
		return 0;
	if (!s[n])
		return 1;
	size_t m = s[n] == '-' ? strspn(s + n + 1, "0123456789") : 0;
	return id_part_ok(s + n + 1, m) && !s[n + 1 + m];
}

static int id_cmp(const char *a, const char *b)
{
	unsigned long long am = strtoull(a, NULL, 10), bm = strtoull(b, NULL, 10);
	const char *ad = strchr(a, '-'), *bd = strchr(b, '-');
	unsigned long long as = ad ? strtoull(ad + 1, NULL, 10) : 0, bs = bd ? strtoull(bd + 1, NULL, 10) : 0;
	return am != bm ? (am < bm ? -1 : 1) : as != bs ? (as < bs ? -1 : 1) : 0;
}

/* The first id after `id`, for the next page. */
static void id_after(const char *id, char *out, size_t cap)
{
	unsigned long long ms = strtoull(id, NULL, 10);
	const char *dash = strchr(id, '-');
	unsigned long long seq = dash ? strtoull(dash + 1, NULL, 10) : 0;
	if (seq == ~0ull)
		snprintf(out, cap, "%llu-0", ms + 1);
	else
		snprintf(out, cap, "%llu-%llu", ms, seq + 1);
}

static const char *field(const redisReply *fields, const char *name, size_t *len)
{
	redisReply *v = store_field(fields, name);
	if (!v || v->type != REDIS_REPLY_STRING)
		return NULL;
	if (len)
		*len = v->len;
	return v->str;
}

static void set_data(json_t *o, const char *data, size_t len)
{
	if (uf_utf8_valid(data, len)) {
		json_object_set_new(o, "data", json_stringn(data, len));
		return;
	}
	char *b = malloc(4 * ((len + 2) / 3) + 1);
	if (!b)
		return;
	size_t n = uf_base64_encode(b, data, len);
	json_object_set_new(o, "data_base64", json_stringn(b, n));
	free(b);
}

static json_t *int_field(const redisReply *fields, const char *name)
{
	const char *v = field(fields, name, NULL);
	return json_integer(v ? (json_int_t)strtoll(v, NULL, 10) : 0);
}

/* One entry of XRANGE ([id, [field, value, ...]]) as JSON; dead letters
 * carry their queue, step and attempts, queue entries their attempt; both
 * their deferrals when they were deferred. */
static json_t *entry_json(const redisReply *e, const char *dead_queue)
{
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING)
		return NULL;
	const char *id = e->element[0]->str;
	const redisReply *f = e->element[1];
	struct uf_entry en; /* data, origin and attempt parsed as the tender and units.c do */
	uf_entry_init(&en, id);
	for (size_t i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2)
		if (f->element[i]->type == REDIS_REPLY_STRING && f->element[i + 1]->type == REDIS_REPLY_STRING)
			uf_entry_field(&en, f->element[i]->str, f->element[i]->len, f->element[i + 1]->str,
			               f->element[i + 1]->len);
	const char *reason = field(f, UF_FIELD_REASON, NULL);
	json_t *o = json_pack("{s:s,s:I,s:s%}", "id", id, "time", (json_int_t)strtoull(id, NULL, 10), "origin",
	                      en.origin, en.origin_len);
	if (!o)
		return NULL;
	if (dead_queue) {
		const char *step = field(f, UF_FIELD_STEP, NULL);
		json_object_set_new(o, "queue", json_string(dead_queue));
		json_object_set_new(o, "step", json_string(step ? step : ""));
		json_object_set_new(o, "attempts", int_field(f, UF_FIELD_ATTEMPTS));
	} else {
		json_object_set_new(o, "attempt", json_integer((json_int_t)en.attempt));
	}
	if (en.deferrals) /* put off by uf_defer this many times (delivery.h) */
		json_object_set_new(o, "deferrals", json_integer((json_int_t)en.deferrals));
	if (reason) {
		json_t *r = json_string(reason);
		json_object_set_new(o, "reason", r ? r : json_string("(not UTF-8)"));
	}
	set_data(o, en.data ? en.data : "", en.data ? en.len : 0);
	return o;
}

/* The queues of a workflow as a JSON array of names: a deployed one's from
 * its manifest (listen_only: only the queues a step reads, the ones with
 * dead letters), a kept one's from uf:state:queues:<wf>.  NULL if Redis is
 * unreachable. */
static int has_queue(json_t *queues, const char *q)
{
	size_t i;
	json_t *v;
	json_array_foreach(queues, i, v) if (!strcmp(json_string_value(v), q)) return 1;
	return 0;
}

static void add_name(json_t *arr, const char *q)
{
	if (!has_queue(arr, q))
		json_array_append_new(arr, json_string(q));
}
struct dead {
	const char *id;
	json_t *j;
};

static int dead_cmp(const void *x, const void *y)
{
	return id_cmp(((const struct dead *)x)->id, ((const struct dead *)y)->id);
}

/* The queues of a workflow as a JSON array of names, each once: a deployed
 * one's from its manifest (listen_only: only the queues a step reads, the
 * ones with dead letters), a kept one's as its kept check read them. */
static json_t *wf_queues(struct workflow *w, struct ictx *x, int listen_only)
{
	json_t *arr = json_array();
	size_t i;
	json_t *v;
	if (!w) {
		json_array_foreach(x->queues, i, v) add_name(arr, json_string_value(v));
		return arr;
	}
	for (i = 0; i < w->m->nfunctions; i++) {
		const struct uf_function *f = &w->m->functions[i];
		add_name(arr, f->listen);
		for (size_t k = 0; !listen_only && k < f->npush; k++)
			add_name(arr, f->push[k]);
	}
	return arr;
}

/* ---- a workflow that is not deployed: kept? ---- */

static void kept_reply(redisReply *r, void *arg)
{
	struct request *rq = arg;
	struct ictx *x = ctx_of(rq);
	if (x && r && r->type == REDIS_REPLY_INTEGER)
		x->kept = r->integer == 1 ? 1 : 2;
	api_replied(rq, r);
}

static void kept_queues_reply(redisReply *r, void *arg)
{
	struct request *rq = arg;
	struct ictx *x = ctx_of(rq);
	for (size_t i = 0; x && r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_STRING)
			json_array_append_new(x->queues, json_string(r->element[i]->str));
	api_replied(rq, r);
}

enum MHD_Result inspect_route(struct api *a, struct MHD_Connection *c, struct request *rq, const char *method,
                              char **seg, int n, struct workflow *w, int *mine);

enum MHD_Result inspect_kept_route(struct api *a, struct MHD_Connection *c, struct request *rq, const char *method,
                                   char **seg, int n)
{
	struct ictx *x = ctx_of(rq);
	if (!x)
		return api_error(c, 500, "internal", "out of memory");
	if (n >= 4 && !x->kept) { /* ask Redis, then run again */
		const char *is[] = {"SISMEMBER", "uf:state:kept", seg[2]};
		char key[128];
		snprintf(key, sizeof(key), "uf:state:queues:%s", seg[2]);
		const char *qs[] = {"SMEMBERS", key};
		json_decref(x->queues);
		x->queues = json_array();
		if (send_cmd(rq, kept_reply, 3, is) < 0 || send_cmd(rq, kept_queues_reply, 2, qs) < 0)
			return api_wait_replies(a, c, rq, NULL); /* what was sent, then 503 */
		api_again(rq);
		return api_wait_replies(a, c, rq, NULL);
	}
	int mine = 0;
	if (x->kept == 1 && n == 5 && !strcmp(seg[3], "kv"))
		return api_kv(a, c, rq, method, seg[2], seg[4]);
	enum MHD_Result ret = x->kept == 1 ? inspect_route(a, c, rq, method, seg, n, NULL, &mine) : MHD_NO;
	if (mine)
		return ret;
	return api_error(
	    c, 404, "not_found", "workflow '%s' is not deployed%s", seg[2],
	    x->kept == 1
	        ? " (undeployed, its data kept: only its events, dead letters and KV are served; deploy it again to "
	          "push or run it)"
	        : "");
}

/* from= and count= of a page; -1 with err */
static int page_args(struct MHD_Connection *c, const char **from, long *count, char *err, size_t errlen)
{
	const char *f = api_arg(c, "from"), *n = api_arg(c, "count");
	char *end;
	*from = f ? f : "-";
	if (f && strcmp(f, "-") && !id_ok(f)) {
		snprintf(err, errlen, "from must be an entry id such as 1733300000000-0, got '%s'", f);
		return -1;
	}
	errno = 0;
	*count = n ? strtol(n, &end, 10) : PAGE_DEFAULT;
	if (n && (*end || end == n || errno || *count < 1 || *count > PAGE_MAX)) {
		snprintf(err, errlen, "count must be 1..%d, got '%s'", PAGE_MAX, n);
		return -1;
	}
	return 0;
}

/* ---- GET /v1/workflows/{wf}/queues/{q}/events ---- */

static json_t *events_doc(struct ictx *x, const redisReply *r)
{
	json_t *events = json_array();
	char next[64];
	snprintf(next, sizeof(next), "%s", x->from);
	for (size_t i = 0; r && i < r->elements; i++) {
		json_t *e = entry_json(r->element[i], NULL);
		if (e) {
			json_array_append_new(events, e);
			id_after(r->element[i]->element[0]->str, next, sizeof(next));
		}
	}
	return json_pack("{s:s,s:s,s:o,s:s}", "workflow", x->wf, "queue", x->q, "events", events, "next", next);
}

static void events_reply(redisReply *r, void *arg)
{
	struct request *rq = arg;
	struct ictx *x = ctx_of(rq);
	if (!api_live(rq) || !r || !x) {
		/* gone, or no reply: api.c answers 503 */
	} else if (r->type != REDIS_REPLY_ARRAY) {
		api_answer_error(rq, 503, "unavailable", "redis refused XRANGE: %s",
		                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	} else if (r->elements == 0 && x->until && now_ms() < x->until) {
		x->empty = 1; /* wait for one: the route runs again */
		api_again(rq);
	} else {
		api_answer_json(rq, 200, events_doc(x, r));
	}
	api_replied(rq, r);
}

static enum MHD_Result r_events(struct api *a, struct MHD_Connection *c, struct request *rq, const char *wf,
                                const char *q)
{
	struct ictx *x = ctx_of(rq);
	const char *from, *w = api_arg(c, "wait_ms");
	long count;
	char err[256], *end, cnt[24];
	if (page_args(c, &from, &count, err, sizeof(err)) < 0)
		return api_error(c, 400, "bad_request", "%s", err);
	long wait = w ? strtol(w, &end, 10) : 0;
	if (w && (*end || end == w || wait < 0 || wait > WAIT_MAX_MS))
		return api_error(c, 400, "bad_request", "wait_ms must be 0..%d, got '%s'", WAIT_MAX_MS, w);
	uint64_t now = now_ms();
	if (!x->started) {
		x->started = 1;
		x->until = wait ? now + (uint64_t)wait : 0;
	}
	snprintf(x->wf, sizeof(x->wf), "%s", wf);
	snprintf(x->q, sizeof(x->q), "%s", q);
	snprintf(x->from, sizeof(x->from), "%s", from);
	if (x->empty) { /* nothing yet: look again every FOLLOW_PERIOD_MS until the wait is over */
		x->empty = 0;
		if (now < x->until)
			return api_wait(a, rq, c, x->until - now, FOLLOW_PERIOD_MS, NULL);
		return api_json(c, 200, events_doc(x, NULL));
	}
	char key[256];
	snprintf(key, sizeof(key), "uf:q:%s:%s", wf, q);
	snprintf(cnt, sizeof(cnt), "%ld", count);
	const char *argv[] = {"XRANGE", key, from, "+", "COUNT", cnt};
	send_cmd(rq, events_reply, 6, argv);
	return api_wait_replies(a, c, rq, NULL);
}

/* ---- dead letters ---- */

static void dead_reply(redisReply *r, void *arg)
{
	struct request *rq = arg;
	struct ictx *x = ctx_of(rq);
	const char *q = x ? json_string_value(json_array_get(x->asked, x->heard++)) : NULL;
	if (api_live(rq) && r && x && r->type != REDIS_REPLY_ARRAY)
		refused(x, r);
	for (size_t i = 0; api_live(rq) && q && r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		json_t *e = entry_json(r->element[i], q);
		if (e)
			json_array_append_new(x->list, e);
	}
	api_replied(rq, r);
}

/* x->list (entries of every queue) in id order, the first x->count (the
 * newest, newest first, with x->newest); *next when more may follow. */
static json_t *dead_merged(struct ictx *x, char *next, size_t nextlen)
{
	size_t n = json_array_size(x->list), i;
	struct dead *all = calloc(n ? n : 1, sizeof(*all));
	json_t *out = json_array(), *e;
	next[0] = 0;
	if (!all)
		return out;
	json_array_foreach(x->list, i, e) all[i] = (struct dead){json_string_value(json_object_get(e, "id")), e};
	qsort(all, n, sizeof(*all), dead_cmp);
	for (size_t k = 0; k < n && (long)k < x->count; k++) {
		size_t at = x->newest ? n - 1 - k : k;
		json_array_append(out, all[at].j);
		if ((long)k == x->count - 1 && !x->newest)
			id_after(all[at].id, next, nextlen);
	}
	free(all);
	return out;
}

static void dead_list_finish(struct request *rq)
{
	struct ictx *x = ctx_of(rq);
	char next[64];
	if (!x || x->refused) {
		if (x)
			api_answer_error(rq, 503, "unavailable", "redis refused to read dead letters: %s", x->why);
		return;
	}
	json_t *o = json_pack("{s:s,s:o}", "workflow", x->wf, "dead_letters", dead_merged(x, next, sizeof(next)));
	if (next[0])
		json_object_set_new(o, "next", json_string(next));
	api_answer_json(rq, 200, o);
}

/* Sends one XRANGE (or XREVRANGE, newest) per queue; the replies fill x->list. */
static int send_dead_reads(struct request *rq, struct ictx *x, json_t *queues, const char *from)
{
	size_t i;
	json_t *v;
	char cnt[24];
	snprintf(cnt, sizeof(cnt), "%ld", x->count);
	json_decref(x->list);
	json_decref(x->asked);
	x->list = json_array();
	x->asked = json_array();
	x->heard = 0;
	json_array_foreach(queues, i, v)
	{
		json_array_append(x->asked, v);
		char key[256];
		snprintf(key, sizeof(key), "uf:dlq:%s:%s", x->wf, json_string_value(v));
		const char *fwd[] = {"XRANGE", key, from, "+", "COUNT", cnt};
		const char *back[] = {"XREVRANGE", key, "+", "-", "COUNT", cnt};
		if (send_cmd(rq, dead_reply, 6, x->newest ? back : fwd) < 0)
			return -1;
	}
	return 0;
}

static enum MHD_Result r_dead_list(struct api *a, struct MHD_Connection *c, struct request *rq, const char *wf,
                                   json_t *queues)
{
	struct ictx *x = ctx_of(rq);
	const char *from;
	char err[256];
	if (page_args(c, &from, &x->count, err, sizeof(err)) < 0)
		return api_error(c, 400, "bad_request", "%s", err);
	snprintf(x->wf, sizeof(x->wf), "%s", wf);
	send_dead_reads(rq, x, queues, from);
	return api_wait_replies(a, c, rq, dead_list_finish);
}

static void purge_reply(redisReply *r, void *arg)
{
	struct request *rq = arg;
	struct ictx *x = ctx_of(rq);
	if (x && r && r->type == REDIS_REPLY_INTEGER)
		x->sum += r->integer;
	else if (x && r)
		refused(x, r);
	api_replied(rq, r);
}

static void purge_finish(struct request *rq)
{
	struct ictx *x = ctx_of(rq);
	if (!x)
		return;
	dlog("info", "what=dlq-purge workflow=%s entries=%lld", x->wf, x->sum);
	if (x->refused)
		api_answer_error(rq, 503, "unavailable", "redis refused to delete dead letters: %s", x->why);
	else
		api_answer_json(rq, 200, json_pack("{s:s,s:I}", "workflow", x->wf, "purged", (json_int_t)x->sum));
}

static enum MHD_Result r_dead_purge(struct api *a, struct MHD_Connection *c, struct request *rq, const char *wf,
                                    json_t *queues)
{
	struct ictx *x = ctx_of(rq);
	size_t i;
	json_t *v;
	snprintf(x->wf, sizeof(x->wf), "%s", wf);
	json_array_foreach(queues, i, v)
	{
		char key[256];
		snprintf(key, sizeof(key), "uf:dlq:%s:%s", wf, json_string_value(v));
		const char *argv[] = {"EVAL", PURGE_LUA, "1", key};
		if (send_cmd(rq, purge_reply, 4, argv) < 0)
			break;
	}
	return api_wait_replies(a, c, rq, purge_finish);
}

static void replay_reply(redisReply *r, void *arg)
{
	struct request *rq = arg;
	struct ictx *x = ctx_of(rq);
	if (!api_live(rq) || !r || !x) {
		/* gone, or no reply: api.c answers 503 */
	} else if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_INTEGER ||
	           r->element[1]->type != REDIS_REPLY_STRING || r->element[2]->type != REDIS_REPLY_INTEGER) {
		api_answer_error(rq, 503, "unavailable", "redis refused the replay: %s",
		                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	} else if (r->element[1]->len) {
		api_answer_error(rq, 404, "not_found",
		                 "no dead letter '%s' in queue '%s' of workflow '%s'; nothing was replayed",
		                 r->element[1]->str, x->q, x->wf);
	} else {
		long long moved = r->element[0]->integer;
		if (moved)
			scheduler_poke(api_daemon(x->a), x->wf, x->q); /* by name: safe if it went meanwhile */
		dlog("info", "what=dlq-replay workflow=%s queue=%s entries=%lld", x->wf, x->q, moved);
		api_answer_json(rq, 200,
		                json_pack("{s:s,s:s,s:I,s:I}", "workflow", x->wf, "queue", x->q, "replayed",
		                          (json_int_t)moved, "left", (json_int_t)r->element[2]->integer));
	}
	api_replied(rq, r);
}

static enum MHD_Result r_dead_replay(struct api *a, struct MHD_Connection *c, struct request *rq, const char *wf,
                                     const char *q)
{
	struct ictx *x = ctx_of(rq);
	size_t len, i, nids;
	const char *body = api_body_of(rq, &len);
	json_error_t jerr;
	json_t *root = len ? json_loadb(body, len, 0, &jerr) : NULL, *ids = json_object_get(root, "ids"), *v;
	enum MHD_Result ret;
	char dlq[256], key[256], most[24];
	/* Only an empty body replays every dead letter: a body that names no id
	 * (a typo'd key, an empty list, another shape) is refused, never taken
	 * for "all". */
	if (len &&
	    (!json_is_object(root) || json_object_size(root) != 1 || !json_is_array(ids) || !json_array_size(ids))) {
		json_decref(root);
		return api_error(c, 400, "bad_request",
		                 "replay body must be {\"ids\": [\"ID\", ...]} with 1..%d ids, or empty to "
		                 "replay every dead letter of the queue",
		                 PAGE_MAX);
	}
	if ((nids = json_array_size(ids)) > PAGE_MAX) {
		json_decref(root);
		return api_error(c, 400, "bad_request", "at most %d ids in one replay", PAGE_MAX);
	}
	const char **argv = calloc(nids + 8, sizeof(*argv)) /* 7 before the ids */;
	if (!argv) {
		json_decref(root);
		return api_error(c, 500, "internal", "out of memory");
	}
	snprintf(dlq, sizeof(dlq), "uf:dlq:%s:%s", wf, q);
	snprintf(key, sizeof(key), "uf:q:%s:%s", wf, q);
	snprintf(most, sizeof(most), "%d", REPLAY_ALL_MAX);
	size_t argc = 0;
	argv[argc++] = "EVAL";
	argv[argc++] = REPLAY_LUA;
	argv[argc++] = "2";
	argv[argc++] = dlq;
	argv[argc++] = key;
	argv[argc++] = nids ? "strict" : "all";
	argv[argc++] = most;
	json_array_foreach(ids, i, v)
	{
		const char *id = json_string_value(v);
		if (!id || !id_ok(id)) {
			ret = api_error(c, 400, "bad_request",
			                "bad dead letter id '%s': expected MS-SEQ such as 1733300000000-0",
			                id ? id : "(not a string)");
			free(argv);
			json_decref(root);
			return ret;
		}
		argv[argc++] = id;
	}
	x->a = a;
	snprintf(x->wf, sizeof(x->wf), "%s", wf);
	snprintf(x->q, sizeof(x->q), "%s", q);
	api_sendv(rq, replay_reply, (int)argc, argv, NULL);
	free(argv);
	json_decref(root);
	return api_wait_replies(a, c, rq, NULL);
}

/* ---- describe: GET /v1/workflows/{wf} ---- */

/* The limits of one event in force for the step's units (event_limits.h):
 * {"value_bytes": N, ..., "from_manifest": ["writes_per_event", ...]}. */
static json_t *event_limits_json(const struct step *s)
{
	struct uf_limits lim;
	uf_function_limits(s->fn, &s->wf->d->cfg.limits, &lim, NULL);
	json_t *o = json_object(), *from = json_array();
	for (int i = 0; i < UF_LIM_EVENT_COUNT; i++) {
		json_object_set_new(o, uf_limit_info[i].name, json_integer((json_int_t)lim.v[i]));
		if (lim.from_manifest & (1u << i))
			json_array_append_new(from, json_string(uf_limit_info[i].name));
	}
	json_object_set_new(o, "from_manifest", from);
	return o;
}

/* A step's ring of unit ends (newest first) as {time, reason} objects. */
static void ends_json(json_t *list, const struct unit_end *ring, uint32_t n)
{
	uint32_t kept = n < STEP_ENDS_KEPT ? n : STEP_ENDS_KEPT;
	for (uint32_t k = 0; k < kept; k++) {
		const struct unit_end *e = &ring[(n - 1 - k) % STEP_ENDS_KEPT];
		json_t *r = json_string(e->reason);
		json_array_append_new(list, json_pack("{s:I,s:o}", "time", (json_int_t)e->time_ms, "reason",
		                                      r ? r : json_string("(not UTF-8)")));
	}
}

static json_t *step_json(struct step *s)
{
	const struct uf_function *f = s->fn;
	const struct uf_scale *sc = &f->scale;
	json_t *push = json_array(), *units = json_array(), *ends = json_array();
	uint64_t now = now_ms();
	for (size_t k = 0; k < f->npush; k++)
		json_array_append_new(push, json_string(f->push[k]));
	json_t *publish = json_array();
	for (size_t k = 0; k < f->npublish; k++)
		json_array_append_new(publish, json_string(f->publish[k]));
	for (struct unit *u = s->units; u; u = u->next)
		json_array_append_new(units, json_pack("{s:s,s:i,s:s,s:I,s:s}", "id", u->id, "pid", u->pid, "state",
		                                       u->state == UNIT_RUNNING ? "running" : "stopping", "uptime_ms",
		                                       (json_int_t)(now - u->started_ms), "stop_reason", u->stop_why));
	json_t *stops = json_array(); /* both from memory, merged with Redis's copy (ends_reply) */
	ends_json(ends, s->ends, s->nends);
	ends_json(stops, s->stops, s->nstops);
	char kv[128];
	snprintf(kv, sizeof(kv), "uf:kv:%s:*", s->wf->m->name);
	json_t *j = json_pack(
	    "{s:s,s:s,s:s,s:o,s:{s:s,s:O,s:s,s:b,s:o},s:{s:i,s:i,s:i,s:i,s:i,s:i,s:i},s:i,s:i,s:i,s:b,s:I,"
	    "s:i,s:o,s:I,s:I,s:s,s:o,s:o,s:o}",
	    "name", f->name, "image", s->image, "listen", f->listen, "push", push, "grants", "listen", f->listen,
	    "push", push, "kv", kv, "net", f->net, "publish", publish, "scale", "min_units", (int)sc->min_units,
	    "max_units", (int)sc->max_units, "events_per_unit", (int)sc->events_per_unit, "grace_ms", (int)sc->grace_ms,
	    "idle_ms", (int)sc->idle_ms, "overflow", (int)sc->overflow, "lifetime_s",
	    (int)(sc->lifetime_s && sc->lifetime_s < s->wf->d->cfg.unit_lifetime_s ? sc->lifetime_s
	                                                                           : s->wf->d->cfg.unit_lifetime_s),
	    "timeout_ms", (int)f->timeout_ms, "retries", (int)f->retries, "batch", (int)f->batch, "net", f->net,
	    "memory", (json_int_t)f->memory, "running", (int)s->running, "units", units, "starts",
	    (json_int_t)s->starts, "backlog", (json_int_t)s->backlog, "waiting_reason", s->why_waiting, "exits",
	    api_step_exits(s), "recent_failures", ends, "recent_stops", stops);
	if (j) {
		json_object_set_new(j, "event_limits", event_limits_json(s));
		json_object_set_new(j, "retry_delay_ms", json_integer((json_int_t)f->retry_delay_ms));
	}
	return j;
}

static void describe_finish(struct request *rq)
{
	struct ictx *x = ctx_of(rq);
	char next[64];
	if (!x || !x->doc)
		return;
	json_object_set_new(x->doc, "recent_dead_letters", dead_merged(x, next, sizeof(next)));
	api_answer_json(rq, 200, json_incref(x->doc));
}

/* Its stored bytes and quota (quota.c); measured_ms 0: not measured yet. */
static json_t *storage_json(const struct workflow *w)
{
	json_t *o = json_pack("{s:I,s:I,s:b,s:I,s:I}", "bytes", (json_int_t)w->stored_bytes, "quota",
	                      (json_int_t)quota_of(w), "over_quota", w->over_quota, "measured_ms",
	                      (json_int_t)w->stored_ms, "redis_refusals", (json_int_t)w->redis_refusals);
	if (quota_refused_what(w))
		json_object_set_new(o, "refused", json_string(quota_refused_what(w)));
	return o;
}

/* Its guaranteed part of the node (slots.c): weight, of the running
 * workflows' total, and what that guarantees. */
static json_t *share_json(const struct workflow *w)
{
	uint32_t weight, total;
	struct slot_use s = slots_share(w->d, w, &weight, &total);
	return json_pack("{s:i,s:i,s:I,s:I}", "weight", (int)weight, "of", (int)total, "units", (json_int_t)s.units,
	                 "memory", (json_int_t)s.memory);
}

static int end_newer(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "time"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "time"));
	return (x < y) - (x > y);
}

/* list (newest first, at most STEP_ENDS_KEPT) with e added unless it is
 * there already (the same time and reason: noted in memory and in Redis) */
static void end_merge(json_t *list, json_t *e)
{
	size_t i, n = 0;
	json_t *v, *all[STEP_ENDS_KEPT + 1];
	json_array_foreach(list, i, v)
	{
		if (json_equal(v, e) || n == STEP_ENDS_KEPT)
			break;
		all[n++] = json_incref(v);
	}
	if (i < json_array_size(list)) { /* there already (or, never, more than kept) */
		while (n)
			json_decref(all[--n]);
		json_decref(e);
		return;
	}
	all[n++] = e;
	qsort(all, n, sizeof(*all), end_newer);
	json_array_clear(list);
	for (i = 0; i < n; i++)
		if (i < STEP_ENDS_KEPT)
			json_array_append_new(list, all[i]);
		else
			json_decref(all[i]);
}

/* A unit-end list (LRANGE of UF_ENDS_KEY...): the step and kind it is for
 * are those its send noted in ends_of (replies come in the order sent; a
 * send that failed noted none, so no later reply lands under another
 * step); each entry "<epoch ms> <reason>", merged into what the daemon has
 * in memory (ends noted before a restart are only in Redis; one Redis
 * refused, full, only in memory). */
static void ends_reply(redisReply *r, void *arg)
{
	struct request *rq = arg;
	struct ictx *x = ctx_of(rq);
	size_t k = x && x->ends_heard < x->ends_sent ? x->ends_of[x->ends_heard++] : SIZE_MAX;
	json_t *step = k != SIZE_MAX ? json_array_get(json_object_get(x->doc, "steps"), k / 2) : NULL;
	json_t *list = json_object_get(step, k % 2 ? "recent_stops" : "recent_failures");
	if (api_live(rq) && r && x && r->type != REDIS_REPLY_ARRAY)
		refused(x, r);
	for (size_t i = 0; api_live(rq) && list && r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *e = r->element[i];
		char *end;
		unsigned long long ms = e->type == REDIS_REPLY_STRING ? strtoull(e->str, &end, 10) : 0;
		if (!ms || *end != ' ')
			continue;
		json_t *why = json_stringn(end + 1, e->len - (size_t)(end + 1 - e->str));
		end_merge(list, json_pack("{s:I,s:o}", "time", (json_int_t)ms, "reason",
		                          why ? why : json_string("(not UTF-8)")));
	}
	api_replied(rq, r);
}

/* Sends one LRANGE per step and kind (failed, stopped) of its unit ends,
 * noting in ends_of which each sent one is for: -1 if one or more could
 * not be sent (those steps show what memory holds), 0 if all were. */
static int send_end_reads(struct request *rq, struct ictx *x, const struct workflow *w)
{
	char most[16];
	int rc = 0;
	snprintf(most, sizeof(most), "%d", STEP_ENDS_KEPT - 1);
	x->ends_heard = x->ends_sent = 0;
	free(x->ends_of);
	x->ends_of = calloc(w->m->nfunctions * 2 + 1, sizeof(*x->ends_of));
	if (!x->ends_of)
		return -1;
	for (size_t i = 0; i < w->m->nfunctions; i++)
		for (int k = 0; k < 2; k++) {
			char key[256];
			snprintf(key, sizeof(key), UF_ENDS_KEY "%s:%s:%s", w->m->name,
			         k ? UF_END_STOPPED : UF_END_FAILED, w->steps[i].fn->name);
			const char *argv[] = {"LRANGE", key, "0", most};
			x->ends_of[x->ends_sent] = i * 2 + (size_t)k; /* kept only if sent */
			if (send_cmd(rq, ends_reply, 4, argv) < 0)
				rc = -1;
			else
				x->ends_sent++;
		}
	return rc;
}

/* Made now (the workflow may be gone when Redis answers); the last dead
 * letters and unit ends are added from the replies. */
static enum MHD_Result r_describe(struct api *a, struct MHD_Connection *c, struct request *rq, struct workflow *w)
{
	struct ictx *x = ctx_of(rq);
	json_t *steps = json_array();
	for (size_t i = 0; i < w->m->nfunctions; i++)
		json_array_append_new(steps, step_json(&w->steps[i]));
	json_decref(x->doc);
	x->doc =
	    json_pack("{s:s,s:s,s:s,s:i,s:i,s:o,s:o}", "name", w->m->name, "state",
	              w->state == WF_STOPPED ? "stopped" : "running", "reason", w->reason, "max_units",
	              (int)w->m->max_units, "units", (int)w->running, "queues", wf_queues(w, x, 0), "steps", steps);
	json_object_set_new(x->doc, "storage", storage_json(w));
	uint64_t cpu_us;
	if (cpu_groups_usage_us(w->d, w->m->name, &cpu_us) == 0) /* its units' CPU time (cpu_groups.c) */
		json_object_set_new(x->doc, "cpu_seconds", json_real((double)cpu_us / 1e6));
	json_object_set_new(x->doc, "share", share_json(w));
	int held;
	double rate = pushwin_rate(w->d->pushwin, w->m->name, &held);
	json_object_set_new(
	    x->doc, "ingress",
	    json_pack("{s:I,s:f,s:b}", "ingress_rate", (json_int_t)w->d->cfg.ingress_rate, "rate", rate, "held", held));
	snprintf(x->wf, sizeof(x->wf), "%s", w->m->name);
	x->count = RECENT_DEAD;
	x->newest = 1;
	json_t *listened = wf_queues(w, x, 1);
	send_dead_reads(rq, x, listened, "-");
	json_decref(listened);
	if (send_end_reads(rq, x, w) < 0)
		dlog("warn",
		     "what=describe workflow=%s cause=\"redis unreachable\" effect=\"unit ends noted before unifaasd "
		     "started are left out of recent_failures/recent_stops\"",
		     w->m->name);
	return api_wait_replies(a, c, rq, describe_finish);
}

/* ---- purging a queue ---- */

static void queue_purge_finish(struct request *rq)
{
	struct ictx *x = ctx_of(rq);
	if (!x)
		return;
	const char *labels[] = {x->wf, x->q, "purge"};
	if (x->sum + x->delayed > 0)
		metric_add(M_QUEUE_TRIMMED, labels, (double)(x->sum + x->delayed));
	dlog("warn", "what=queue-purge workflow=%s queue=%s entries=%lld delayed=%lld how=%s bound=%s", x->wf, x->q,
	     x->sum, x->delayed, x->desc, x->desc_bound);
	if (x->refused)
		dlog("warn", "what=queue-purge workflow=%s queue=%s cause=%s effect=%s", x->wf, x->q, x->why,
		     "the purge stopped: the entries counted above are gone, the rest stay");
	if (x->refused)
		api_answer_error(rq, 503, "unavailable", "redis refused the purge after %lld entries: %s", x->sum,
		                 x->why);
	else
		api_answer_json(rq, 200,
		                json_pack("{s:s,s:s,s:I,s:I}", "workflow", x->wf, "queue", x->q, "purged",
		                          (json_int_t)x->sum, "delayed_purged", (json_int_t)x->delayed));
}

static int purge_step(struct request *rq, struct ictx *x);

static void purge_step_reply(redisReply *r, void *arg)
{
	struct request *rq = arg;
	struct ictx *x = ctx_of(rq);
	if (x && r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_INTEGER &&
	    r->element[1]->type == REDIS_REPLY_INTEGER) {
		x->sum += r->element[0]->integer;
		if (!r->element[1]->integer && api_live(rq)) /* more to go: the next step before this one ends */
			purge_step(rq, x);
	} else if (x && r) {
		refused(x, r);
	}
	api_replied(rq, r);
}

static int purge_step(struct request *rq, struct ictx *x)
{
	char key[300], step[16];
	snprintf(key, sizeof(key), "uf:q:%s:%s", x->wf, x->q);
	snprintf(step, sizeof(step), "%d", PURGE_STEP);
	const char *argv[] = {"EVAL", PURGE_STEP_LUA, "1", key, x->how, x->bound, step};
	return send_cmd(rq, purge_step_reply, 7, argv);
}

static void delayed_purged(redisReply *r, void *arg)
{
	struct request *rq = arg;
	struct ictx *x = ctx_of(rq);
	if (x && r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_INTEGER)
		x->delayed += r->element[0]->integer;
	else if (x && r)
		refused(x, r);
	api_replied(rq, r);
}

/* all=1, older_than_ms=N or keep=N, exactly one, into x; 0 or -1 with err. */
static int purge_args(struct MHD_Connection *c, struct ictx *x, char *err, size_t errlen)
{
	const char *all = api_arg(c, "all"), *older = api_arg(c, "older_than_ms"), *keep = api_arg(c, "keep");
	int64_t n = 0;
	if ((all != NULL) + (older != NULL) + (keep != NULL) != 1) {
		snprintf(
		    err, errlen,
		    "say what to purge, with exactly one of all=1 (every entry and delayed event), "
		    "older_than_ms=N (entries queued more than N ms ago) or keep=N (all but the newest N entries)");
		return -1;
	}
	if (all && strcmp(all, "1")) {
		snprintf(err, errlen, "all='%s': expected all=1", all);
		return -1;
	}
	const char *v = older ? older : keep;
	if (v && (uf_int64_parse(v, strlen(v), &n) < 0 || n < 0 || (older && (uint64_t)n > UF_DURATION_MAX_MS))) {
		snprintf(err, errlen, "%s='%s': expected a number 0..%llu", older ? "older_than_ms" : "keep", v,
		         older ? (unsigned long long)UF_DURATION_MAX_MS : (unsigned long long)INT64_MAX);
		return -1;
	}
	uint64_t now = wall_ms();
	snprintf(x->how, sizeof(x->how), "%s", older ? "MINID" : "MAXLEN");
	if (older)
		snprintf(x->bound, sizeof(x->bound), "%llu-0",
		         (unsigned long long)(now > (uint64_t)n ? now - (uint64_t)n : 0));
	else
		snprintf(x->bound, sizeof(x->bound), "%lld", (long long)n);
	snprintf(x->desc, sizeof(x->desc), "%s", all ? "all" : older ? "older_than_ms" : "keep");
	snprintf(x->desc_bound, sizeof(x->desc_bound), "%s", all ? "-" : v);
	return 0;
}

static enum MHD_Result r_queue_purge(struct api *a, struct MHD_Connection *c, struct request *rq, const char *wf,
                                     const char *q)
{
	struct ictx *x = ctx_of(rq);
	char err[320], dkey[300];
	if (purge_args(c, x, err, sizeof(err)) < 0)
		return api_error(c, 400, "bad_request", "%s", err);
	snprintf(x->wf, sizeof(x->wf), "%s", wf);
	snprintf(x->q, sizeof(x->q), "%s", q);
	if (!strcmp(x->desc, "all")) { /* its delayed events go too (UNLINK: freed off the loop) */
		uf_delay_key(dkey, sizeof(dkey), wf, q);
		const char *argv[] = {"EVAL", "return {redis.call('ZCARD', KEYS[1]), redis.call('UNLINK', KEYS[1])}",
		                      "1", dkey};
		send_cmd(rq, delayed_purged, 4, argv);
	}
	purge_step(rq, x);
	return api_wait_replies_for(a, c, rq, queue_purge_finish, PURGE_WAIT_MS);
}

/* ---- the router ---- */

enum MHD_Result inspect_route(struct api *a, struct MHD_Connection *c, struct request *rq, const char *method,
                              char **seg, int n, struct workflow *w, int *mine)
{
	const char *wf = seg[2], *q = n >= 5 ? seg[4] : NULL;
	int get = !strcmp(method, "GET"), del = !strcmp(method, "DELETE"), post = !strcmp(method, "POST");
	int events = n == 6 && !strcmp(seg[3], "queues") && !strcmp(seg[5], "events") && get;
	int qpurge = n == 6 && !strcmp(seg[3], "queues") && !strcmp(seg[5], "events") && del;
	int qdead = n == 6 && !strcmp(seg[3], "queues") && !strcmp(seg[5], "dlq");
	int replay = n == 7 && !strcmp(seg[3], "queues") && !strcmp(seg[5], "dlq") && !strcmp(seg[6], "replay");
	int wdead = n == 4 && !strcmp(seg[3], "dlq");
	struct ictx *x = ctx_of(rq);
	*mine = 1;
	if (!x)
		return api_error(c, 500, "internal", "out of memory");
	if (n == 3 && get && w)
		return r_describe(a, c, rq, w);
	if (!events && !qpurge && !qdead && !replay && !wdead) {
		*mine = 0;
		return MHD_NO;
	}
	if ((qdead || wdead) && !get && !del)
		return api_error(c, 405, "method_not_allowed", "GET or DELETE");
	if (replay && !post)
		return api_error(c, 405, "method_not_allowed", "POST only");
	if (q && !uf_name_ok(UF_NAME_QUEUE, q, strlen(q)))
		return api_error(c, 400, "bad_request", "bad queue name '%s'", q);
	json_t *queues = wf_queues(w, x, 0);
	enum MHD_Result ret;
	if (q && !has_queue(queues, q)) {
		ret = api_error(c, 404, "not_found", "workflow '%s' has no queue '%s'", wf, q);
	} else if (events) {
		ret = r_events(a, c, rq, wf, q);
	} else if (qpurge) {
		ret = r_queue_purge(a, c, rq, wf, q);
	} else if (replay) {
		ret = r_dead_replay(a, c, rq, wf, q);
	} else {
		json_t *which = q ? json_pack("[s]", q) : wf_queues(w, x, 1);
		ret = get ? r_dead_list(a, c, rq, wf, which) : r_dead_purge(a, c, rq, wf, which);
		json_decref(which);
	}
	json_decref(queues);
	return ret;
}

/* ---- GET /v1/queues ---- */

/* A queue's figures from QUEUES_LUA's record: `entries` counts stream
 * entries (handled ones and re-queued copies included, until retention
 * trims them); `waiting` counts events not yet handled (each once: a
 * re-queued event's older entries are acknowledged), null when no step
 * reads the queue; `delayed` counts events waiting in its delay set
 * (uf_defer, retry_delay_ms) and `delayed_aside` the set's malformed
 * members moved aside by the mover. */
json_t *inspect_queue_json(const redisReply *rec)
{
	if (rec->type != REDIS_REPLY_ARRAY || rec->elements != 9 || rec->element[0]->type != REDIS_REPLY_STRING ||
	    rec->element[1]->type != REDIS_REPLY_STRING)
		return NULL;
	const redisReply *gs = rec->element[5], *unread = rec->element[6];
	json_t *groups = json_array();
	long long waiting = -1, pending = 0;
	for (size_t i = 0; gs->type == REDIS_REPLY_ARRAY && i < gs->elements; i++) {
		struct store_group g;
		store_group(gs->element[i], &g);
		long long u = unread->type == REDIS_REPLY_ARRAY && i < unread->elements &&
		                      unread->element[i]->type == REDIS_REPLY_INTEGER
		                  ? unread->element[i]->integer
		                  : 0;
		/* "lag": counted, not Redis's (wrong after a Redis restart: backlog.c) */
		json_array_append_new(groups, json_pack("{s:s,s:I,s:I,s:I}", "step", g.name ? g.name : "", "pending",
		                                        (json_int_t)g.pending, "lag", (json_int_t)u, "waiting",
		                                        (json_int_t)(u + g.pending)));
		pending += g.pending;
		if (u + g.pending > waiting)
			waiting = u + g.pending;
	}
	json_t *o =
	    json_pack("{s:s,s:s,s:b,s:I,s:I,s:o,s:I}", "workflow", rec->element[0]->str, "queue", rec->element[1]->str,
	              "deployed", rec->element[2]->integer == 1, "entries", (json_int_t)rec->element[3]->integer,
	              "pending", (json_int_t)pending, "groups", groups, "dead", (json_int_t)rec->element[4]->integer);
	if (o) {
		json_object_set_new(o, "waiting", waiting >= 0 ? json_integer((json_int_t)waiting) : json_null());
		json_object_set_new(o, "delayed", json_integer((json_int_t)rec->element[7]->integer));
		json_object_set_new(o, "delayed_aside", json_integer((json_int_t)rec->element[8]->integer));
	}
	return o;
}

static void queues_reply(redisReply *r, void *arg)
{
	struct request *rq = arg;
	if (api_live(rq) && r && r->type == REDIS_REPLY_ARRAY) {
		json_t *arr = json_array();
		for (size_t i = 0; i < r->elements; i++) {
			json_t *q = inspect_queue_json(r->element[i]);
			if (q)
				json_array_append_new(arr, q);
		}
		api_answer_json(rq, 200, json_pack("{s:o}", "queues", arr));
	} else if (api_live(rq) && r) {
		api_answer_error(rq, 503, "unavailable", "redis refused to list queues: %s",
		                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	}
	api_replied(rq, r);
}

int inspect_queues_send(struct api *a, struct request *rq, api_reply_fn cb)
{
	struct daemon *d = api_daemon(a);
	json_t *args = json_array(), *v;
	size_t n = 0, i;
	for (struct workflow *w = d->workflows; w; w = w->next) {
		json_t *qs = wf_queues(w, NULL, 0);
		json_array_foreach(qs, i, v)
		{
			json_array_append_new(args, json_string(w->m->name));
			json_array_append(args, v);
			n++;
		}
		json_decref(qs);
	}
	const char **argv = calloc(2 * n + 6, sizeof(*argv));
	char count[24], scan[24];
	int rc = -1;
	if (!argv)
		goto out;
	snprintf(count, sizeof(count), "%zu", n);
	snprintf(scan, sizeof(scan), "%d", BACKLOG_SCAN_MAX);
	size_t argc = 0;
	argv[argc++] = "EVAL";
	argv[argc++] = QUEUES_LUA;
	argv[argc++] = "0";
	argv[argc++] = scan;
	argv[argc++] = count;
	json_array_foreach(args, i, v) argv[argc++] = json_string_value(v);
	rc = api_sendv(rq, cb, (int)argc, argv, NULL);
out:
	free(argv);
	json_decref(args);
	return rc;
}

enum MHD_Result inspect_queues(struct api *a, struct MHD_Connection *c, struct request *rq)
{
	inspect_queues_send(a, rq, queues_reply);
	return api_wait_replies(a, c, rq, NULL);
}
