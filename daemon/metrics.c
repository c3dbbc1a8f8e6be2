/*
 * metrics.c - the registry of counters and histograms unifaasd raises as
 * things happen, and the writer of the Prometheus text exposition format
 * (version 0.0.4) that GET /metrics answers with (metrics_api.c).
 *
 * One table (families[], in enum metric_id's order) names every family
 * once: name, type, help, label names, buckets.  A series is one set of
 * label values of a family, kept in a list per family, made on first use
 * and never freed until metrics_forget/metrics_reset.  Single-threaded:
 * only the daemon's loop calls in.
 *
 * Format invariants (https://prometheus.io/docs/instrumenting/exposition_formats/):
 * each family's # HELP and # TYPE lines come once, before its samples, and
 * all of a family's samples are together; label values escape \, " and
 * newline, HELP text \ and newline; a histogram has _bucket lines with
 * cumulative counts and ascending `le` ending in le="+Inf" (equal to
 * _count), then _sum and _count.  Values are printed with %.15g, so
 * counters up to 2^53 are exact.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define BUCKETS_MAX 16

struct family {
	const char *name, *type, *help;
	const char *labels[METRIC_LABELS_MAX + 1]; /* NULL-terminated */
	double buckets[BUCKETS_MAX];               /* upper bounds, ascending; 0 ends them */
};

/* Seconds: from a millisecond to a minute. */
#define LATENCY_BUCKETS                                                                                                \
	{                                                                                                              \
		0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60                         \
	}

static const struct family families[METRIC_COUNT] = {
    [M_INGRESS_MESSAGES] = {"unifaas_ingress_messages_total",
                            "counter",
                            "Messages that reached an edge (MQTT, HTTP ingress), by source and outcome.",
                            {"source", "outcome"}},
    [M_EGRESS_CALLS] = {"unifaas_egress_calls_total",
                        "counter",
                        "Egress calls made for functions (HTTP requests, MQTT publishes), by kind and status.",
                        {"kind", "status"}},
    [M_UNIT_STARTS] = {"unifaas_unit_starts_total",
                       "counter",
                       "Units started, by workflow, step and how (spawn: a new tender; standby: a pre-started one).",
                       {"workflow", "step", "how"}},
    [M_UNIT_SPAWN] = {"unifaas_unit_spawn_seconds",
                      "histogram",
                      "Time from the daemon's decision to start a unit to its tender running the image's launch "
                      "(unit number from Redis, spawn or standby hand-over).",
                      {"workflow", "step"},
                      LATENCY_BUCKETS},
    [M_SCRAPES] = {"unifaas_scrapes_total", "counter", "GET /metrics requests answered.", {NULL}},
    [M_REDIS_REFUSALS] = {"unifaas_redis_refusals_total",
                          "counter",
                          "Writes Redis refused because it is at its maxmemory (noeviction: nothing is evicted), "
                          "by workflow (- when none) and operation.",
                          {"workflow", "op"}},
    [M_QUEUE_TRIMMED] = {"unifaas_queue_trimmed_total",
                         "counter",
                         "Queue entries the retention policy trimmed, by workflow, queue and why (handled: "
                         "handled by every listener; unread_length, unread_age: a queue no step listens to).",
                         {"workflow", "queue", "why"}},
    [M_UNIT_STOPS] = {"unifaas_unit_stops_total",
                      "counter",
                      "Units unifaasd stopped at a limit, by workflow, step and limit (idle: held no event and did "
                      "not pop for idle_ms; lifetime; reclaim: slot taken back for another workflow; "
                      "drain_timeout: still busy unit_drain_ms after a drain, told to end now, its event in hand "
                      "counted as failed).",
                      {"workflow", "step", "limit"}},
};

struct series {
	struct series *next;
	char *values[METRIC_LABELS_MAX];
	double value;                     /* counter; histogram: sum */
	uint64_t counts[BUCKETS_MAX + 1]; /* histogram: per bucket (not cumulative), the last one +Inf */
	uint64_t count;
};

static struct series *series_of[METRIC_COUNT];

static size_t nlabels(const struct family *f)
{
	size_t n = 0;
	while (n < METRIC_LABELS_MAX && f->labels[n])
		n++;
	return n;
}

static size_t nbuckets(const struct family *f)
{
	size_t n = 0;
	while (n < BUCKETS_MAX && f->buckets[n] > 0)
		n++;
	return n;
}

static void series_free(struct series *s)
{
	for (size_t i = 0; i < METRIC_LABELS_MAX; i++)
		free(s->values[i]);
	free(s);
}

/* The series of id with these values, made if new; NULL when out of memory. */
static struct series *series_get(enum metric_id id, const char *const *values)
{
	size_t n = nlabels(&families[id]);
	for (struct series *s = series_of[id]; s; s = s->next) {
		size_t i = 0;
		while (i < n && !strcmp(s->values[i], values[i] ? values[i] : ""))
			i++;
		if (i == n)
			return s;
	}
	struct series *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(s->values[i] = strdup(values[i] ? values[i] : ""))) {
			series_free(s);
			return NULL;
		}
	/* appended: samples come out in the order they first happened */
	struct series **p = &series_of[id];
	while (*p)
		p = &(*p)->next;
	*p = s;
	return s;
}

void metric_add(enum metric_id id, const char *const *values, double v)
{
	struct series *s = id < METRIC_COUNT ? series_get(id, values) : NULL;
	if (s)
		s->value += v;
}

void metric_observe(enum metric_id id, const char *const *values, double v)
{
	struct series *s = id < METRIC_COUNT ? series_get(id, values) : NULL;
	if (!s)
		return;
	const struct family *f = &families[id];
	size_t nb = nbuckets(f), b = 0;
	while (b < nb && v > f->buckets[b])
		b++;
	s->counts[b]++;
	s->count++;
	s->value += v;
}

void metrics_forget(const char *label, const char *value)
{
	for (int id = 0; id < METRIC_COUNT; id++) {
		size_t n = nlabels(&families[id]), k = 0;
		while (k < n && strcmp(families[id].labels[k], label))
			k++;
		if (k == n)
			continue;
		for (struct series **p = &series_of[id]; *p;) {
			struct series *s = *p;
			if (!strcmp(s->values[k], value)) {
				*p = s->next;
				series_free(s);
			} else {
				p = &s->next;
			}
		}
	}
}

void metrics_reset(void)
{
	for (int id = 0; id < METRIC_COUNT; id++)
		while (series_of[id]) {
			struct series *s = series_of[id];
			series_of[id] = s->next;
			series_free(s);
		}
}

/* ---- the text format ---- */

static int mbuf_room(struct mbuf *b, size_t need)
{
	if (b->oom)
		return -1;
	if (b->len + need + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + need + 1)
		cap *= 2;
	char *p = realloc(b->buf, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->buf = p;
	b->cap = cap;
	return 0;
}

void mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || mbuf_room(b, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

size_t metrics_escape(char *out, size_t cap, const char *s, int label_value)
{
	size_t o = 0;
	if (!cap)
		return 0;
	for (; *s; s++) {
		const char *rep = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : *s == '"' && label_value ? "\\\"" : NULL;
		size_t k = rep ? 2 : 1;
		if (o + k >= cap)
			break;
		if (rep)
			memcpy(out + o, rep, 2);
		else
			out[o] = *s;
		o += k;
	}
	out[o] = 0;
	return o;
}

void metrics_family(struct mbuf *b, const char *name, const char *type, const char *help)
{
	char esc[1024];
	metrics_escape(esc, sizeof(esc), help, 0);
	mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, esc, name, type);
}

/* name{l="v",...} with an extra label (le) when extra_name is set. */
static void sample_head(struct mbuf *b, const char *name, size_t n, const char *const *labels,
                        const char *const *values, const char *extra_name, const char *extra_value)
{
	char esc[1024];
	mbuf_printf(b, "%s", name);
	for (size_t i = 0; i < n + (extra_name != NULL); i++) {
		const char *l = i < n ? labels[i] : extra_name, *v = i < n ? values[i] : extra_value;
		metrics_escape(esc, sizeof(esc), v ? v : "", 1);
		mbuf_printf(b, "%s%s=\"%s\"", i ? "," : "{", l, esc);
	}
	if (n || extra_name)
		mbuf_printf(b, "}");
}

void metrics_sample(struct mbuf *b, const char *name, size_t n, const char *const *labels, const char *const *values,
                    double v)
{
	sample_head(b, name, n, labels, values, NULL, NULL);
	mbuf_printf(b, " %.15g\n", v);
}

static void render_histogram(struct mbuf *b, const struct family *f, const struct series *s)
{
	size_t n = nlabels(f), nb = nbuckets(f);
	char name[160], le[32];
	const char *const *values = (const char *const *)s->values;
	uint64_t cum = 0;
	snprintf(name, sizeof(name), "%s_bucket", f->name);
	for (size_t i = 0; i <= nb; i++) {
		cum += s->counts[i];
		if (i < nb)
			snprintf(le, sizeof(le), "%.15g", f->buckets[i]);
		sample_head(b, name, n, f->labels, values, "le", i < nb ? le : "+Inf");
		mbuf_printf(b, " %llu\n", (unsigned long long)cum);
	}
	snprintf(name, sizeof(name), "%s_sum", f->name);
	metrics_sample(b, name, n, f->labels, values, s->value);
	snprintf(name, sizeof(name), "%s_count", f->name);
	metrics_sample(b, name, n, f->labels, values, (double)s->count);
}

void metrics_render(struct mbuf *b)
{
	for (int id = 0; id < METRIC_COUNT; id++) {
		const struct family *f = &families[id];
		metrics_family(b, f->name, f->type, f->help);
		for (const struct series *s = series_of[id]; s; s = s->next)
			if (!strcmp(f->type, "histogram"))
				render_histogram(b, f, s);
			else
				metrics_sample(b, f->name, nlabels(f), f->labels, (const char *const *)s->values,
				               s->value);
	}
}
