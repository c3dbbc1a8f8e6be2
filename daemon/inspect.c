/*
 * inspect.c - looking inside workflows through the control API (docs/api.md):
 * describe a workflow, read a queue's events (the results of a last step
 * are read this way), list, replay and purge dead letters, and the queue
 * figures of GET /v1/queues.
 *
 * Entries are shown as stored: a queue entry holds `data` and, once
 * re-queued, `origin` (the event's first id, its idempotency key),
 * `attempt` and `reason`; a dead letter (uf:dlq:<wf>:<queue>, written by the
 * tender and by units.c) holds `data origin attempts step reason time`.
 * Data that is valid UTF-8 is served as `data`, any other bytes as
 * `data_base64`, as `unifaas run` prints pushes.  An entry's `time` is the
 * millisecond part of its id: when Redis stored it (epoch ms).
 *
 * A workflow undeployed without purge is "kept": uf:state:kept holds its
 * name and uf:state:queues:<wf> its queues (registry.c writes both), so its
 * queues, dead letters and KV stay readable until it is purged or deployed
 * again.  Replay moves dead letters back to their queue with a Lua script,
 * so each entry leaves the dead-letter stream in the same step that
 * re-queues it (attempt reset, origin kept); nothing else here writes.
 */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_routes.h"
#include "backlog.h"
#include "rules.h"
#include "store.h"
#include "unifaasd.h"

#define PAGE_DEFAULT     100
#define PAGE_MAX         10000
#define WAIT_MAX_MS      30000
#define FOLLOW_PERIOD_MS 100 /* a follower sees a new entry within this */
#define REPLAY_BATCH     500
#define RECENT_DEAD      5

/* KEYS[1] the dead-letter stream, KEYS[2] the queue; ARGV[1] "strict" (every
 * id must be there, else nothing moves) or "lenient" (missing ids skipped),
 * then the ids.  Returns {moved, first missing id or ""}.  An entry is
 * deleted only after its XADD succeeded. */
static const char REPLAY_LUA[] =
    "local strict = ARGV[1] == 'strict'\n"
    "if strict then\n"
    "  for i = 2, #ARGV do\n"
    "    if #redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i]) == 0 then return {0, ARGV[i]} end\n"
    "  end\n"
    "end\n"
    "local moved = 0\n"
    "for i = 2, #ARGV do\n"
    "  local e = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])\n"
    "  if #e == 1 then\n"
    "    local f, data, origin = e[1][2], '', ARGV[i]\n"
    "    for k = 1, #f, 2 do\n"
    "      if f[k] == 'data' then data = f[k + 1] elseif f[k] == 'origin' then origin = f[k + 1] end\n"
    "    end\n"
    "    redis.call('XADD', KEYS[2], '*', 'data', data, 'origin', origin)\n"
    "    redis.call('XDEL', KEYS[1], ARGV[i])\n"
    "    moved = moved + 1\n"
    "  end\n"
    "end\n"
    "return {moved, ''}\n";

/* ---- small helpers ---- */

int inspect_kept(struct daemon *d, const char *wf)
{
	redisReply *r = store_cmd(d->store, "SISMEMBER uf:state:kept %s", wf);
	int kept = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
	if (r)
		freeReplyObject(r);
	return kept;
}

void inspect_note_end(struct step *s, const char *reason)
{
	struct unit_end *e = &s->ends[s->nends++ % STEP_ENDS_KEPT];
	e->time_ms = wall_ms();
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
}

/* A stream entry id: MS or MS-SEQ, decimal. */
static int id_ok(const char *s)
{
	size_t n = strspn(s, "0123456789");
	if (n == 0 || n > 20)
		return 0;
	if (!s[n])
		return 1;
	size_t m = s[n] == '-' ? strspn(s + n + 1, "0123456789") : 0;
	return m > 0 && m <= 20 && !s[n + 1 + m];
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
 * carry their queue, step and attempts, queue entries their attempt. */
static json_t *entry_json(const redisReply *e, const char *dead_queue)
{
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING)
		return NULL;
	const char *id = e->element[0]->str;
	const redisReply *f = e->element[1];
	size_t dlen = 0;
	const char *data = field(f, "data", &dlen), *origin = field(f, "origin", NULL),
	           *reason = field(f, "reason", NULL);
	json_t *o = json_pack("{s:s,s:I,s:s}", "id", id, "time", (json_int_t)strtoull(id, NULL, 10), "origin",
	                      origin ? origin : id);
	if (!o)
		return NULL;
	if (dead_queue) {
		const char *step = field(f, "step", NULL);
		json_object_set_new(o, "queue", json_string(dead_queue));
		json_object_set_new(o, "step", json_string(step ? step : ""));
		json_object_set_new(o, "attempts", int_field(f, "attempts"));
	} else {
		json_object_set_new(o, "attempt", int_field(f, "attempt"));
	}
	if (reason) {
		json_t *r = json_string(reason);
		json_object_set_new(o, "reason", r ? r : json_string("(not UTF-8)"));
	}
	set_data(o, data ? data : "", dlen);
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

/* The queues of a workflow as a JSON array of names, each once: a deployed
 * one's from its manifest (listen_only: only the queues a step reads, the
 * ones with dead letters), a kept one's from uf:state:queues:<wf>.  NULL if
 * Redis is unreachable. */
static json_t *wf_queues(struct daemon *d, struct workflow *w, const char *wf, int listen_only)
{
	json_t *arr = json_array();
	if (w) {
		for (size_t i = 0; i < w->m->nfunctions; i++) {
			const struct uf_function *f = &w->m->functions[i];
			add_name(arr, f->listen);
			for (size_t k = 0; !listen_only && k < f->npush; k++)
				add_name(arr, f->push[k]);
		}
		return arr;
	}
	redisReply *r = store_array(d->store, "SMEMBERS uf:state:queues:%s", wf);
	if (!r) {
		json_decref(arr);
		return NULL;
	}
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_STRING)
			add_name(arr, r->element[i]->str);
	freeReplyObject(r);
	return arr;
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

static enum MHD_Result r_events(struct api *a, struct MHD_Connection *c, struct request *rq, const char *wf,
                                const char *q)
{
	struct daemon *d = api_daemon(a);
	const char *from, *w = api_arg(c, "wait_ms");
	long count;
	char err[256], *end;
	if (page_args(c, &from, &count, err, sizeof(err)) < 0)
		return api_error(c, 400, "bad_request", "%s", err);
	long wait = w ? strtol(w, &end, 10) : 0;
	if (w && (*end || end == w || wait < 0 || wait > WAIT_MAX_MS))
		return api_error(c, 400, "bad_request", "wait_ms must be 0..%d, got '%s'", WAIT_MAX_MS, w);
	redisReply *r = store_array(d->store, "XRANGE uf:q:%s:%s %s + COUNT %ld", wf, q, from, count);
	if (!r)
		return api_unavailable(c);
	if (r->elements == 0 && wait > 0 && !api_wait_over(rq)) {
		freeReplyObject(r);
		return api_wait(a, rq, c, (uint64_t)wait, FOLLOW_PERIOD_MS, NULL);
	}
	json_t *events = json_array();
	char next[64];
	snprintf(next, sizeof(next), "%s", from);
	for (size_t i = 0; i < r->elements; i++) {
		json_t *e = entry_json(r->element[i], NULL);
		if (e)
			json_array_append_new(events, e);
		id_after(r->element[i]->element[0]->str, next, sizeof(next));
	}
	freeReplyObject(r);
	return api_json(c, 200,
	                json_pack("{s:s,s:s,s:o,s:s}", "workflow", wf, "queue", q, "events", events, "next", next));
}

/* ---- dead letters ---- */

struct dead {
	const char *id;
	json_t *j;
};

static int dead_cmp(const void *x, const void *y)
{
	return id_cmp(((const struct dead *)x)->id, ((const struct dead *)y)->id);
}

/* Up to `count` dead letters of `queues` from `from` on (newest first and
 * `from` ignored when newest), merged in id order; *next set when more
 * may follow.  NULL if Redis is unreachable. */
static json_t *dead_letters(struct daemon *d, const char *wf, json_t *queues, const char *from, long count, int newest,
                            char *next, size_t nextlen)
{
	size_t nd = 0, cap = 0, i;
	struct dead *all = NULL;
	redisReply **replies = calloc(json_array_size(queues) + 1, sizeof(*replies));
	json_t *v, *out = NULL;
	if (!replies)
		return NULL;
	json_array_foreach(queues, i, v)
	{
		const char *q = json_string_value(v);
		redisReply *r = newest
		                    ? store_array(d->store, "XREVRANGE uf:dlq:%s:%s + - COUNT %ld", wf, q, count)
		                    : store_array(d->store, "XRANGE uf:dlq:%s:%s %s + COUNT %ld", wf, q, from, count);
		if (!r)
			goto out;
		replies[i] = r;
		for (size_t k = 0; k < r->elements; k++) {
			json_t *e = entry_json(r->element[k], q);
			if (!e)
				continue;
			if (nd == cap) {
				struct dead *n = realloc(all, (cap = cap ? 2 * cap : 64) * sizeof(*all));
				if (!n) {
					json_decref(e);
					goto out;
				}
				all = n;
			}
			all[nd++] = (struct dead){json_string_value(json_object_get(e, "id")), e};
		}
	}
	if (nd > 1) /* all is NULL when there is none: qsort wants an array */
		qsort(all, nd, sizeof(*all), dead_cmp);
	out = json_array();
	next[0] = 0;
	for (size_t k = 0; k < nd; k++) {
		size_t at = newest ? nd - 1 - k : k;
		if ((long)k < count)
			json_array_append(out, all[at].j);
		if ((long)k == count - 1 && !newest)
			id_after(all[at].id, next, nextlen);
	}
out:
	for (size_t k = 0; k < nd; k++)
		json_decref(all[k].j);
	free(all);
	for (i = 0; i < json_array_size(queues); i++)
		if (replies[i])
			freeReplyObject(replies[i]);
	free(replies);
	return out;
}

static enum MHD_Result r_dead_list(struct api *a, struct MHD_Connection *c, const char *wf, json_t *queues)
{
	const char *from;
	long count;
	char err[256], next[64] = "";
	if (page_args(c, &from, &count, err, sizeof(err)) < 0)
		return api_error(c, 400, "bad_request", "%s", err);
	json_t *list = dead_letters(api_daemon(a), wf, queues, from, count, 0, next, sizeof(next));
	if (!list)
		return api_unavailable(c);
	json_t *o = json_pack("{s:s,s:o}", "workflow", wf, "dead_letters", list);
	if (next[0])
		json_object_set_new(o, "next", json_string(next));
	return api_json(c, 200, o);
}

static enum MHD_Result r_dead_purge(struct api *a, struct MHD_Connection *c, const char *wf, json_t *queues)
{
	struct daemon *d = api_daemon(a);
	long long purged = 0;
	size_t i;
	json_t *v;
	json_array_foreach(queues, i, v)
	{
		const char *q = json_string_value(v);
		store_append(d->store, "MULTI");
		store_append(d->store, "XLEN uf:dlq:%s:%s", wf, q);
		store_append(d->store, "DEL uf:dlq:%s:%s", wf, q);
		store_append(d->store, "EXEC");
		int ok = 1;
		for (int k = 0; k < 4; k++) {
			redisReply *r = store_reply(d->store);
			if (!r)
				return api_unavailable(c);
			if (k == 3 && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
			    r->element[0]->type == REDIS_REPLY_INTEGER)
				purged += r->element[0]->integer;
			else if (k == 3)
				ok = 0;
			freeReplyObject(r);
		}
		if (!ok)
			return api_error(c, 503, "unavailable", "redis refused to delete uf:dlq:%s:%s", wf, q);
	}
	dlog("info", "what=dlq-purge workflow=%s entries=%lld", wf, purged);
	return api_json(c, 200, json_pack("{s:s,s:I}", "workflow", wf, "purged", (json_int_t)purged));
}

/* One EVAL of the replay script: moved entries, or -1 (Redis down or
 * refusing, with err), or -2 with the missing id in err. */
static long long replay_ids(struct daemon *d, const char *wf, const char *q, const char **ids, size_t n, int strict,
                            char *err, size_t errlen)
{
	char dlq[256], key[256];
	snprintf(dlq, sizeof(dlq), "uf:dlq:%s:%s", wf, q);
	snprintf(key, sizeof(key), "uf:q:%s:%s", wf, q);
	const char **argv = calloc(n + 6, sizeof(*argv));
	if (!argv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t argc = 0;
	argv[argc++] = "EVAL";
	argv[argc++] = REPLAY_LUA;
	argv[argc++] = "2";
	argv[argc++] = dlq;
	argv[argc++] = key;
	argv[argc++] = strict ? "strict" : "lenient";
	for (size_t i = 0; i < n; i++)
		argv[argc++] = ids[i];
	redisReply *r = store_cmdv(d->store, (int)argc, argv, NULL);
	free(argv);
	long long moved = -1;
	if (!r)
		snprintf(err, errlen, "redis is unreachable; retry later");
	else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_INTEGER) {
		moved = r->element[0]->integer;
		if (r->element[1]->type == REDIS_REPLY_STRING && r->element[1]->len) {
			snprintf(err, errlen, "%s", r->element[1]->str);
			moved = -2;
		}
	} else {
		snprintf(err, errlen, "redis refused the replay: %s",
		         r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
	}
	if (r)
		freeReplyObject(r);
	return moved;
}

/* Every dead letter there was when the replay began, in batches. */
static long long replay_all(struct daemon *d, const char *wf, const char *q, char *err, size_t errlen)
{
	redisReply *last = store_array(d->store, "XREVRANGE uf:dlq:%s:%s + - COUNT 1", wf, q);
	if (!last) {
		snprintf(err, errlen, "redis is unreachable; retry later");
		return -1;
	}
	char end[64] = "";
	if (last->elements == 1)
		snprintf(end, sizeof(end), "%s", last->element[0]->element[0]->str);
	freeReplyObject(last);
	long long total = 0;
	while (end[0]) {
		redisReply *r = store_array(d->store, "XRANGE uf:dlq:%s:%s - %s COUNT %d", wf, q, end, REPLAY_BATCH);
		if (!r) {
			snprintf(err, errlen, "redis is unreachable; retry later");
			return -1;
		}
		const char *ids[REPLAY_BATCH];
		size_t n = 0;
		for (size_t i = 0; i < r->elements && n < REPLAY_BATCH; i++)
			ids[n++] = r->element[i]->element[0]->str;
		long long moved = n ? replay_ids(d, wf, q, ids, n, 0, err, errlen) : 0;
		freeReplyObject(r);
		if (moved < 0)
			return -1;
		total += moved;
		if (n < REPLAY_BATCH || moved == 0)
			break;
	}
	return total;
}

static enum MHD_Result r_dead_replay(struct api *a, struct MHD_Connection *c, const char *body, size_t len,
                                     struct workflow *w, const char *wf, const char *q)
{
	struct daemon *d = api_daemon(a);
	json_error_t jerr;
	json_t *root = len ? json_loadb(body, len, 0, &jerr) : NULL, *ids = json_object_get(root, "ids"), *v;
	char err[512];
	long long moved;
	size_t i;
	if (len && (!root || (ids && !json_is_array(ids)))) {
		json_decref(root);
		return api_error(c, 400, "bad_request", "body must be {\"ids\": [\"ID\", ...]} or empty (every one)");
	}
	if (json_array_size(ids) > PAGE_MAX) {
		json_decref(root);
		return api_error(c, 400, "bad_request", "at most %d ids in one replay", PAGE_MAX);
	}
	if (json_array_size(ids)) {
		const char **list = calloc(json_array_size(ids), sizeof(*list));
		if (!list) {
			json_decref(root);
			return api_error(c, 500, "internal", "out of memory");
		}
		json_array_foreach(ids, i, v)
		{
			const char *id = json_string_value(v);
			if (!id || !id_ok(id)) {
				enum MHD_Result ret =
				    api_error(c, 400, "bad_request",
				              "bad dead letter id '%s': expected MS-SEQ such as 1733300000000-0",
				              id ? id : "(not a string)");
				free(list);
				json_decref(root);
				return ret;
			}
			list[i] = id;
		}
		moved = replay_ids(d, wf, q, list, json_array_size(ids), 1, err, sizeof(err));
		free(list);
	} else {
		moved = replay_all(d, wf, q, err, sizeof(err));
	}
	json_decref(root);
	if (moved == -2)
		return api_error(c, 404, "not_found",
		                 "no dead letter '%s' in queue '%s' of workflow '%s'; nothing was replayed", err, q,
		                 wf);
	if (moved < 0)
		return api_error(c, 503, "unavailable", "%s", err);
	if (moved && w)
		scheduler_poke(d, wf, q);
	dlog("info", "what=dlq-replay workflow=%s queue=%s entries=%lld", wf, q, moved);
	return api_json(c, 200, json_pack("{s:s,s:s,s:I}", "workflow", wf, "queue", q, "replayed", (json_int_t)moved));
}

/* ---- describe: GET /v1/workflows/{wf} ---- */

static json_t *step_json(struct step *s)
{
	const struct uf_function *f = s->fn;
	const struct uf_scale *sc = &f->scale;
	json_t *push = json_array(), *units = json_array(), *ends = json_array();
	uint64_t now = now_ms();
	for (size_t k = 0; k < f->npush; k++)
		json_array_append_new(push, json_string(f->push[k]));
	for (struct unit *u = s->units; u; u = u->next)
		json_array_append_new(units, json_pack("{s:s,s:i,s:s,s:I}", "id", u->id, "pid", u->pid, "state",
		                                       u->state == UNIT_RUNNING ? "running" : "stopping", "uptime_ms",
		                                       (json_int_t)(now - u->started_ms)));
	uint32_t kept = s->nends < STEP_ENDS_KEPT ? s->nends : STEP_ENDS_KEPT;
	for (uint32_t k = 0; k < kept; k++) { /* newest first */
		const struct unit_end *e = &s->ends[(s->nends - 1 - k) % STEP_ENDS_KEPT];
		json_t *r = json_string(e->reason);
		json_array_append_new(ends, json_pack("{s:I,s:o}", "time", (json_int_t)e->time_ms, "reason",
		                                      r ? r : json_string("(not UTF-8)")));
	}
	char kv[128];
	snprintf(kv, sizeof(kv), "uf:kv:%s:*", s->wf->m->name);
	return json_pack("{s:s,s:s,s:s,s:o,s:{s:s,s:O,s:s,s:b},s:{s:i,s:i,s:i,s:i,s:i,s:i},s:i,s:i,s:i,s:b,s:I,"
	                 "s:i,s:o,s:I,s:I,s:s,s:o,s:o}",
	                 "name", f->name, "image", s->image, "listen", f->listen, "push", push, "grants", "listen",
	                 f->listen, "push", push, "kv", kv, "net", f->net, "scale", "min_units", (int)sc->min_units,
	                 "max_units", (int)sc->max_units, "events_per_unit", (int)sc->events_per_unit, "grace_ms",
	                 (int)sc->grace_ms, "idle_ms", (int)sc->idle_ms, "overflow", (int)sc->overflow, "timeout_ms",
	                 (int)f->timeout_ms, "retries", (int)f->retries, "batch", (int)f->batch, "net", f->net,
	                 "memory", (json_int_t)f->memory, "running", (int)s->running, "units", units, "starts",
	                 (json_int_t)s->starts, "backlog", (json_int_t)s->backlog, "waiting_reason", s->why_waiting,
	                 "exits", api_step_exits(s), "recent_failures", ends);
}

static enum MHD_Result r_describe(struct api *a, struct MHD_Connection *c, struct workflow *w)
{
	json_t *steps = json_array();
	for (size_t i = 0; i < w->m->nfunctions; i++)
		json_array_append_new(steps, step_json(&w->steps[i]));
	json_t *listened = wf_queues(api_daemon(a), w, w->m->name, 1);
	char next[64];
	json_t *dead = dead_letters(api_daemon(a), w->m->name, listened, "-", RECENT_DEAD, 1, next, sizeof(next));
	json_decref(listened);
	return api_json(c, 200,
	                json_pack("{s:s,s:s,s:s,s:i,s:i,s:o,s:o,s:o}", "name", w->m->name, "state",
	                          w->state == WF_STOPPED ? "stopped" : "running", "reason", w->reason, "max_units",
	                          (int)w->m->max_units, "units", (int)w->running, "queues",
	                          wf_queues(api_daemon(a), w, w->m->name, 0), "steps", steps, "recent_dead_letters",
	                          dead ? dead : json_array()));
}

/* ---- the router ---- */

enum MHD_Result inspect_route(struct api *a, struct MHD_Connection *c, struct request *rq, const char *method,
                              char **seg, int n, struct workflow *w, int *mine)
{
	const char *wf = seg[2], *q = n >= 5 ? seg[4] : NULL;
	int get = !strcmp(method, "GET"), del = !strcmp(method, "DELETE"), post = !strcmp(method, "POST");
	int events = n == 6 && !strcmp(seg[3], "queues") && !strcmp(seg[5], "events") && get;
	int qdead = n == 6 && !strcmp(seg[3], "queues") && !strcmp(seg[5], "dlq");
	int replay = n == 7 && !strcmp(seg[3], "queues") && !strcmp(seg[5], "dlq") && !strcmp(seg[6], "replay");
	int wdead = n == 4 && !strcmp(seg[3], "dlq");
	*mine = 1;
	if (n == 3 && get && w)
		return r_describe(a, c, w);
	if (!events && !qdead && !replay && !wdead) {
		*mine = 0;
		return MHD_NO;
	}
	if ((qdead || wdead) && !get && !del)
		return api_error(c, 405, "method_not_allowed", "GET or DELETE");
	if (replay && !post)
		return api_error(c, 405, "method_not_allowed", "POST only");
	if (q && !uf_queue_name_ok(q, strlen(q)))
		return api_error(c, 400, "bad_request", "bad queue name '%s'", q);
	json_t *queues = wf_queues(api_daemon(a), w, wf, 0);
	if (!queues)
		return api_unavailable(c);
	enum MHD_Result ret;
	if (q && !has_queue(queues, q)) {
		ret = api_error(c, 404, "not_found", "workflow '%s' has no queue '%s'", wf, q);
	} else if (events) {
		ret = r_events(a, c, rq, wf, q);
	} else if (replay) {
		size_t len;
		const char *body = api_body_of(rq, &len);
		ret = r_dead_replay(a, c, body, len, w, wf, q);
	} else {
		json_t *which = q ? json_pack("[s]", q) : wf_queues(api_daemon(a), w, wf, 1);
		ret = !which ? api_unavailable(c) : get ? r_dead_list(a, c, wf, which) : r_dead_purge(a, c, wf, which);
		json_decref(which);
	}
	json_decref(queues);
	return ret;
}

/* ---- GET /v1/queues ---- */

static long long xlen(struct daemon *d, const char *key_fmt, const char *wf, const char *q)
{
	redisReply *r = store_cmd(d->store, key_fmt, wf, q);
	long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	if (r)
		freeReplyObject(r);
	return v;
}

/* A queue's figures: `entries` counts stream entries (handled ones and
 * re-queued copies included, until retention trims them); `waiting` counts
 * events not yet handled (each once: a re-queued event's older entries are
 * acknowledged), null when no step reads the queue. */
static json_t *queue_json(struct daemon *d, const char *wf, const char *q, int deployed)
{
	json_t *groups = json_array();
	long long waiting = -1, pending = 0;
	redisReply *r = store_array(d->store, "XINFO GROUPS uf:q:%s:%s", wf, q);
	for (size_t i = 0; r && i < r->elements; i++) {
		struct store_group g;
		struct backlog b;
		char key[300];
		store_group(r->element[i], &g);
		snprintf(key, sizeof(key), "uf:q:%s:%s", wf, q);
		/* counted, not Redis's lag (wrong after a Redis restart: backlog.c) */
		long long unread =
		    g.name && backlog_count(d->store, key, g.name, 0, 1, &b) == 0 ? (long long)b.unread : 0;
		json_array_append_new(groups, json_pack("{s:s,s:I,s:I,s:I}", "step", g.name ? g.name : "", "pending",
		                                        (json_int_t)g.pending, "lag", (json_int_t)unread, "waiting",
		                                        (json_int_t)(unread + g.pending)));
		pending += g.pending;
		if (unread + g.pending > waiting)
			waiting = unread + g.pending;
	}
	if (r)
		freeReplyObject(r);
	json_t *o = json_pack("{s:s,s:s,s:b,s:I,s:I,s:o,s:I}", "workflow", wf, "queue", q, "deployed", deployed,
	                      "entries", (json_int_t)xlen(d, "XLEN uf:q:%s:%s", wf, q), "pending", (json_int_t)pending,
	                      "groups", groups, "dead", (json_int_t)xlen(d, "XLEN uf:dlq:%s:%s", wf, q));
	json_object_set_new(o, "waiting", waiting >= 0 ? json_integer((json_int_t)waiting) : json_null());
	return o;
}

static void add_queues(struct daemon *d, json_t *arr, struct workflow *w, const char *wf)
{
	json_t *qs = wf_queues(d, w, wf, 0), *v;
	size_t i;
	json_array_foreach(qs, i, v) json_array_append_new(arr, queue_json(d, wf, json_string_value(v), w != NULL));
	json_decref(qs);
}

enum MHD_Result inspect_queues(struct api *a, struct MHD_Connection *c)
{
	struct daemon *d = api_daemon(a);
	redisReply *kept = store_array(d->store, "SMEMBERS uf:state:kept");
	if (!kept)
		return api_unavailable(c);
	json_t *arr = json_array();
	for (struct workflow *w = d->workflows; w; w = w->next)
		add_queues(d, arr, w, w->m->name);
	for (size_t i = 0; i < kept->elements; i++)
		if (kept->element[i]->type == REDIS_REPLY_STRING && !registry_find(d, kept->element[i]->str))
			add_queues(d, arr, NULL, kept->element[i]->str);
	freeReplyObject(kept);
	return api_json(c, 200, json_pack("{s:o}", "queues", arr));
}
