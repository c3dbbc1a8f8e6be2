/*
 * metrics_api.c - GET /metrics (Prometheus text exposition, version 0.0.4)
 * and GET /healthz on the control API (docs/api.md "Metrics").
 *
 * A scrape writes three kinds of figures, each family once with all its
 * samples together:
 *   - the registry's counters and histograms (metrics.c), raised where
 *     things happen (unit starts, ingress, egress);
 *   - the daemon's own state at the time of the answer (units by state,
 *     unit exits by kind, workflows by state);
 *   - what Redis holds, read in one round of commands sent together: the
 *     queues' figures (the EVAL GET /v1/queues sends: XLEN, pending, dead
 *     letters, unread counted by the scheduler's rule) and each step's
 *     counters hash uf:stat:<wf>:<step> (events acknowledged per unit,
 *     failed, dead-lettered, and the latency buckets the tenders count in
 *     their commits: common/delivery.h).
 * When Redis does not answer (store_healthy says it is away: not asked; or
 * no reply within the API's wait) the scrape still answers 200 with what
 * the daemon knows and unifaas_redis_up 0; /healthz says why.
 *
 * /healthz answers at once from memory and one connect: Redis from
 * store_healthy (the command connection's state, no round trip, so a
 * stopped Redis cannot hold the answer), the broker by a TCP connect to
 * mqtt_url's address and port (numeric or localhost), given at most
 * HEALTH_CONNECT_MS.  200 when both are reachable, else 503.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpu_groups.h"
#include "api_routes.h"
#include "delivery.h"
#include "metrics.h"
#include "quota.h"
#include "store.h"
#include "unifaasd.h"

#define HEALTH_CONNECT_MS 250
#define PROM_TYPE         "text/plain; version=0.0.4; charset=utf-8"

/* A scrape's replies (api_slot). */
struct scrape {
	json_t *queues; /* inspect_queue_json of each queue */
	json_t *asked;  /* [wf, step] of each HGETALL sent, in order */
	json_t *stats;  /* the replies to them: objects field -> integer */
	int queues_in;  /* the queues' reply came */
	struct api *a;
};

static void scrape_free(void *p)
{
	struct scrape *x = p;
	if (!x)
		return;
	json_decref(x->queues);
	json_decref(x->asked);
	json_decref(x->stats);
	free(x);
}

static struct scrape *scrape_of(struct request *rq)
{
	return api_slot(rq, sizeof(struct scrape), scrape_free);
}

static void queues_in(redisReply *r, void *arg)
{
	struct request *rq = arg;
	struct scrape *x = scrape_of(rq);
	if (api_live(rq) && x && r && r->type == REDIS_REPLY_ARRAY && (x->queues_in = 1))
		for (size_t i = 0; i < r->elements; i++) {
			json_t *q = inspect_queue_json(r->element[i]);
			if (q)
				json_array_append_new(x->queues, q);
		}
	api_replied(rq, r);
}

static void stat_in(redisReply *r, void *arg)
{
	struct request *rq = arg;
	struct scrape *x = scrape_of(rq);
	json_t *o = json_object();
	if (!r || r->type != REDIS_REPLY_ARRAY) { /* no figures: not a step of zeros */
		json_decref(o);
		o = json_null();
	}
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING && r->element[i + 1]->type == REDIS_REPLY_STRING)
			json_object_set_new(o, r->element[i]->str,
			                    json_integer((json_int_t)strtoll(r->element[i + 1]->str, NULL, 10)));
	if (x)
		json_array_append_new(x->stats, o);
	else
		json_decref(o);
	api_replied(rq, r);
}

/* The counters of wf/step as read, or NULL. */
static json_t *stat_of(const struct scrape *x, const char *wf, const char *step)
{
	size_t i;
	json_t *v;
	json_array_foreach(x->asked, i, v)
	{
		if (!strcmp(json_string_value(json_array_get(v, 0)), wf) &&
		    !strcmp(json_string_value(json_array_get(v, 1)), step))
			return json_is_object(json_array_get(x->stats, i)) ? json_array_get(x->stats, i) : NULL;
	}
	return NULL;
}

static const char *const WS[] = {"workflow", "step"};

/* The counters every unit of the step acknowledged (its consumer fields:
 * everything but failed, dead and the latency fields). */
static double handled(json_t *st)
{
	const char *k;
	json_t *v;
	double n = 0;
	json_object_foreach(st, k, v) if (strcmp(k, UF_STAT_FAILED) && strcmp(k, UF_STAT_DEAD) &&
	                                  strncmp(k, UF_STAT_LAT_BUCKET, strlen(UF_STAT_LAT_BUCKET)) &&
	                                  strncmp(k, UF_STAT_COLD_BUCKET, strlen(UF_STAT_COLD_BUCKET))) n +=
	    (double)json_integer_value(v);
	return n;
}

static double stat_field(json_t *st, const char *k)
{
	return (double)json_integer_value(json_object_get(st, k));
}

/* A histogram of uf:stat's bucket fields prefix<i> and its sum_ms field. */
static void stat_histogram(struct mbuf *b, const char *name, const char *prefix, const char *sum_ms, const char *wf,
                           const char *step, json_t *st)
{
	static const char *const labels[] = {"workflow", "step", "le"};
	uint64_t cum = 0;
	char field[32], le[32], sample[96];
	snprintf(sample, sizeof(sample), "%s_bucket", name);
	for (unsigned i = 0; i <= UF_LAT_NBOUNDS; i++) {
		snprintf(field, sizeof(field), "%s%u", prefix, i);
		cum += (uint64_t)json_integer_value(json_object_get(st, field));
		if (i < UF_LAT_NBOUNDS)
			snprintf(le, sizeof(le), "%.15g", uf_lat_bounds_ms[i] / 1000.0);
		const char *values[] = {wf, step, i < UF_LAT_NBOUNDS ? le : "+Inf"};
		metrics_sample(b, sample, 3, labels, values, (double)cum);
	}
	const char *values[] = {wf, step};
	snprintf(sample, sizeof(sample), "%s_sum", name);
	metrics_sample(b, sample, 2, WS, values, stat_field(st, sum_ms) / 1000.0);
	snprintf(sample, sizeof(sample), "%s_count", name);
	metrics_sample(b, sample, 2, WS, values, (double)cum);
}

/* Per step, from uf:stat (steps of deployed workflows whose counters came). */
static void render_stats(struct mbuf *b, struct daemon *d, const struct scrape *x)
{
	static const struct {
		const char *name, *type, *help;
		int kind;
	} fams[] = {
	    {"unifaas_events_handled_total", "counter", "Events a step's units committed as handled (uf:stat).", 0},
	    {"unifaas_events_failed_total", "counter",
	     "Failed deliveries: a handler that failed, faulted, timed out or whose unit died holding the event.", 1},
	    {"unifaas_events_dead_lettered_total", "counter", "Events a step moved to its dead-letter stream.", 2},
	    {"unifaas_event_latency_seconds", "histogram",
	     "Event latency from its first entry in a queue (stream id) to the commit that acknowledged it as "
	     "handled, counted by the tender in the commit (retries included).",
	     3},
	    {"unifaas_unit_cold_start_seconds", "histogram",
	     "Unit cold start: from the daemon's launch of the unit (spawn or standby hand-over) to its first pop "
	     "that returned events, measured by the tender and counted in its first commit.",
	     4},
	};
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		metrics_family(b, fams[f].name, fams[f].type, fams[f].help);
		for (struct workflow *w = d->workflows; w; w = w->next)
			for (size_t i = 0; i < w->m->nfunctions; i++) {
				const char *step = w->m->functions[i].name, *values[] = {w->m->name, step};
				json_t *st = stat_of(x, w->m->name, step);
				if (!st)
					continue;
				if (fams[f].kind == 3)
					stat_histogram(b, fams[f].name, UF_STAT_LAT_BUCKET, UF_STAT_LAT_SUM_MS,
					               w->m->name, step, st);
				else if (fams[f].kind == 4)
					stat_histogram(b, fams[f].name, UF_STAT_COLD_BUCKET, UF_STAT_COLD_SUM_MS,
					               w->m->name, step, st);
				else
					metrics_sample(b, fams[f].name, 2, WS, values,
					               fams[f].kind == 0   ? handled(st)
					               : fams[f].kind == 1 ? stat_field(st, UF_STAT_FAILED)
					                                   : stat_field(st, UF_STAT_DEAD));
			}
	}
}

/* Per queue, from the EVAL of GET /v1/queues. */
static void render_queues(struct mbuf *b, const struct scrape *x)
{
	static const struct {
		const char *name, *key, *help;
	} fams[] = {
	    {"unifaas_queue_depth", "waiting",
	     "Events of the queue not yet handled: unread plus pending, of the step that is furthest behind."},
	    {"unifaas_queue_pending", "pending", "Entries delivered to a unit and not yet acknowledged."},
	    {"unifaas_queue_entries", "entries", "Entries in the queue's stream (XLEN), handled ones until trimmed."},
	    {"unifaas_queue_dead_letters", "dead", "Entries in the queue's dead-letter stream (XLEN uf:dlq:...)."},
	    {"unifaas_queue_delayed", "delayed",
	     "Events waiting to be queued again later (uf_defer, retry_delay_ms): uf:delay:... not yet due."},
	};
	static const char *const labels[] = {"workflow", "queue"};
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		size_t i;
		json_t *q;
		metrics_family(b, fams[f].name, "gauge", fams[f].help);
		json_array_foreach(x->queues, i, q)
		{
			json_t *v = json_object_get(q, fams[f].key);
			const char *values[] = {json_string_value(json_object_get(q, "workflow")),
			                        json_string_value(json_object_get(q, "queue"))};
			if (json_is_integer(v) && json_is_true(json_object_get(q, "deployed")))
				metrics_sample(b, fams[f].name, 2, labels, values, (double)json_integer_value(v));
		}
	}
}

/* Each workflow's stored bytes and quota (quota.c), and Redis's maxmemory. */
static void render_storage(struct mbuf *b, struct daemon *d)
{
	static const char *const l[] = {"workflow"};
	static const struct {
		const char *name, *help;
	} fams[] = {
	    {"unifaas_workflow_stored_bytes", "Bytes a workflow's keys hold in Redis (KV, queues, dead letters, "
	                                      "delayed re-queues, outbox: MEMORY USAGE), as last measured."},
	    {"unifaas_workflow_storage_quota_bytes", "A workflow's storage quota (storage_quota)."},
	    {"unifaas_workflow_over_quota", "1 while a workflow is over its storage quota: it takes no new events and "
	                                    "its growing writes are deferred."},
	};
	for (size_t f = 0; f < sizeof(fams) / sizeof(*fams); f++) {
		metrics_family(b, fams[f].name, "gauge", fams[f].help);
		for (struct workflow *w = d->workflows; w; w = w->next) {
			const char *v[] = {w->m->name};
			double x = f == 0 ? (double)w->stored_bytes : f == 1 ? (double)quota_of(w) : w->over_quota;
			metrics_sample(b, fams[f].name, 1, l, v, x);
		}
	}
	uint64_t us;
	metrics_family(b, "unifaas_workflow_cpu_seconds_total", "counter",
	               "CPU time a workflow's units used, from their cgroup (absent without CPU cgroups).");
	for (struct workflow *w = d->workflows; w; w = w->next) {
		const char *v[] = {w->m->name};
		if (cpu_groups_usage_us(d, w->m->name, &us) == 0)
			metrics_sample(b, "unifaas_workflow_cpu_seconds_total", 1, l, v, (double)us / 1e6);
	}
	if (cpu_groups_usage_us(d, NULL, &us) == 0) {
		metrics_family(b, "unifaas_platform_cpu_seconds_total", "counter",
		               "CPU time unifaasd, redis-server and mosquitto used (their cgroup).");
		metrics_sample(b, "unifaas_platform_cpu_seconds_total", 0, NULL, NULL, (double)us / 1e6);
	}
	metrics_family(b, "unifaas_redis_maxmemory_bytes", "gauge",
	               "redis-server's maxmemory (noeviction: writes past it are refused).");
	metrics_sample(b, "unifaas_redis_maxmemory_bytes", 0, NULL, NULL, (double)uf_config_maxmemory(&d->cfg));
}

/* From the daemon's state: units by state, their exits, workflows by state. */
static void render_units(struct mbuf *b, struct daemon *d)
{
	static const char *const lstate[] = {"workflow", "step", "state"}, *const lkind[] = {"workflow", "step",
	                                                                                     "kind"};
	metrics_family(b, "unifaas_units", "gauge", "Units of a step, by state (running, stopping).");
	for (struct workflow *w = d->workflows; w; w = w->next)
		for (size_t i = 0; i < w->m->nfunctions; i++) {
			double n[2] = {0, 0};
			for (struct unit *u = w->steps[i].units; u; u = u->next)
				n[u->state == UNIT_STOPPING]++;
			for (int k = 0; k < 2; k++) {
				const char *values[] = {w->m->name, w->steps[i].fn->name, k ? "stopping" : "running"};
				metrics_sample(b, "unifaas_units", 3, lstate, values, n[k]);
			}
		}
	metrics_family(b, "unifaas_unit_exits_total", "counter",
	               "Units that ended, by how (the tender's exit status, UF_END_* of uf_abi.h: clean, error, "
	               "usage, fault, timeout, oom, bad_hypercall, internal, net; or killed by a signal).");
	for (struct workflow *w = d->workflows; w; w = w->next)
		for (size_t i = 0; i < w->m->nfunctions; i++) {
			json_t *exits = api_step_exits(&w->steps[i]), *v;
			const char *kind;
			json_object_foreach(exits, kind, v)
			{
				const char *values[] = {w->m->name, w->steps[i].fn->name, kind};
				metrics_sample(b, "unifaas_unit_exits_total", 3, lkind, values,
				               (double)json_integer_value(v));
			}
			json_decref(exits);
		}
	render_storage(b, d);
	double wf[2] = {0, 0};
	for (struct workflow *w = d->workflows; w; w = w->next)
		wf[w->state == WF_STOPPED]++;
	metrics_family(b, "unifaas_workflows", "gauge", "Deployed workflows, by state (running, stopped).");
	for (int k = 0; k < 2; k++) {
		const char *const l[] = {"state"}, *values[] = {k ? "stopped" : "running"};
		metrics_sample(b, "unifaas_workflows", 1, l, values, wf[k]);
	}
}

static void scrape_finish(struct request *rq)
{
	struct scrape *x = scrape_of(rq);
	struct mbuf b = {0};
	if (!x || !x->a)
		return;
	int whole = x->queues_in && json_array_size(x->stats) == json_array_size(x->asked);
	for (size_t i = 0; whole && i < json_array_size(x->stats); i++)
		whole = json_is_object(json_array_get(x->stats, i));
	metrics_render(&b);
	metrics_family(&b, "unifaas_redis_up", "gauge",
	               "1 if Redis answered every read of this scrape; 0 if not, and the figures read from Redis "
	               "(queues, events, latency, cold starts) are missing from it.");
	metrics_sample(&b, "unifaas_redis_up", 0, NULL, NULL, whole);
	render_units(&b, api_daemon(x->a));
	render_queues(&b, x);
	render_stats(&b, api_daemon(x->a), x);
	if (b.oom) {
		free(b.buf);
		api_answer_error(rq, 500, "internal", "out of memory writing the metrics");
		return;
	}
	api_answer_text(rq, 200, PROM_TYPE, b.buf, b.len);
}

enum MHD_Result metrics_scrape(struct api *a, struct MHD_Connection *c, struct request *rq)
{
	struct daemon *d = api_daemon(a);
	struct scrape *x = scrape_of(rq);
	if (!x || (!x->queues && !(x->queues = json_array())) || (!x->asked && !(x->asked = json_array())) ||
	    (!x->stats && !(x->stats = json_array())))
		return api_error(c, 500, "internal", "out of memory");
	x->a = a;
	api_partial_ok(rq); /* without Redis: what the daemon knows, and unifaas_redis_up 0 */
	metric_add(M_SCRAPES, NULL, 1);
	if (store_healthy(d->store) && inspect_queues_send(a, rq, queues_in) == 0)
		for (struct workflow *w = d->workflows; w; w = w->next)
			for (size_t i = 0; i < w->m->nfunctions; i++) {
				char key[2 * UF_NAME_BUF + 16];
				snprintf(key, sizeof(key), "uf:stat:%s:%s", w->m->name, w->m->functions[i].name);
				const char *argv[] = {"HGETALL", key};
				if (api_sendv(rq, stat_in, 2, argv, NULL) < 0)
					break;
				json_array_append_new(x->asked, json_pack("[ss]", w->m->name, w->m->functions[i].name));
			}
	return api_wait_replies(a, c, rq, scrape_finish);
}

/* ---- /healthz ---- */

/* Whether a TCP connection to the broker opens within HEALTH_CONNECT_MS;
 * why not in why. */
static int broker_reachable(const char *url, unsigned port, char *why, size_t cap)
{
	char host[256];
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t n = strcspn(p, ":/");
	snprintf(host, sizeof(host), "%.*s", (int)n, p);
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (!port || inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		snprintf(why, cap, "mqtt_url '%s' has no numeric IPv4 address and port", url);
		return 0;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), ok = 0, e = 0;
	if (fd < 0) {
		snprintf(why, cap, "socket: %s", strerror(errno));
		return 0;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		ok = 1;
	else if (errno == EINPROGRESS) {
		struct pollfd pf = {.fd = fd, .events = POLLOUT};
		socklen_t len = sizeof(e);
		if (poll(&pf, 1, HEALTH_CONNECT_MS) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0)
			ok = e == 0;
		else
			e = ETIMEDOUT;
	} else
		e = errno;
	if (!ok)
		snprintf(why, cap, "connect %s:%u: %s", host, port, strerror(e));
	close(fd);
	return ok;
}

enum MHD_Result metrics_healthz(struct api *a, struct MHD_Connection *c)
{
	struct daemon *d = api_daemon(a);
	char why[320] = "";
	int redis = store_healthy(d->store);
	int mqtt = broker_reachable(d->cfg.mqtt_url, uf_config_mqtt_port(&d->cfg), why, sizeof(why));
	json_t *j = json_pack("{s:s,s:{s:b},s:{s:b,s:s}}", "status", redis && mqtt ? "ok" : "degraded", "redis", "ok",
	                      redis, "mqtt", "ok", mqtt, "url", d->cfg.mqtt_url);
	if (j && !redis)
		json_object_set_new(
		    json_object_get(j, "redis"), "error",
		    json_string("redis does not answer (stopped, or busy past half the store's deadline)"));
	if (j && !mqtt)
		json_object_set_new(json_object_get(j, "mqtt"), "error", json_string(why));
	return api_json(c, redis && mqtt ? 200 : 503, j);
}
