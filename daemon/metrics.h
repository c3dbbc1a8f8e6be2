/*
 * metrics.h - unifaasd's metrics registry (metrics.c) and the Prometheus
 * text exposition format (version 0.0.4) it writes for GET /metrics.
 *
 * Counters and histograms that code raises as things happen are declared
 * once, in metrics.c's table (enum metric_id below, in the same order),
 * each with a fixed list of label names; a series (one set of label
 * values) is made on its first use.  Figures read at scrape time from the
 * daemon's state and Redis (queue depth, units by state) are written by
 * the scrape (metrics_api.c) with metrics_family/metrics_sample, so every
 * line goes through one writer and one escaping rule.
 *
 * To add a metric: an enum value here, a row in metrics.c's table (name,
 * type, help, labels, buckets), a line in docs/api.md "Metrics", and a
 * call to metric_add/metric_observe where the thing happens.
 */
#ifndef UF_METRICS_H
#define UF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRIC_LABELS_MAX 4

enum metric_id {
	M_INGRESS_MESSAGES, /* counter {source, outcome}: edge messages (mqtt, http) and what came of them */
	M_EGRESS_CALLS,     /* counter {kind, status}: egress calls (http, mqtt) by result */
	M_UNIT_STARTS,      /* counter {workflow, step, how}: units started (how: spawn, standby) */
	M_UNIT_SPAWN,       /* histogram {workflow, step}: start decision to tender running, seconds */
	M_SCRAPES,          /* counter {}: GET /metrics answered */
	M_REDIS_REFUSALS,   /* counter {workflow, op}: writes Redis refused, being full (quota.c) */
	M_QUEUE_TRIMMED,    /* counter {workflow, queue, why}: entries retention.c trimmed */
	M_UNIT_STOPS,       /* counter {workflow, step, limit}: units stopped at a limit (units.c unit_drain) */
	METRIC_COUNT
};

/* Raise a counter (or add to a gauge) by v; values: one per label, in
 * the table's order (NULL when it has none).  Out of memory: dropped. */
void metric_add(enum metric_id id, const char *const *values, double v);
/* One observation of a histogram. */
void metric_observe(enum metric_id id, const char *const *values, double v);
/* Drop every series whose label `label` equals `value` (a workflow
 * undeployed: its series go with it). */
void metrics_forget(const char *label, const char *value);
/* Frees every series (shutdown, tests). */
void metrics_reset(void);

/* A growing text buffer; len excludes the NUL kept at buf[len]. */
struct mbuf {
	char *buf;
	size_t len, cap;
	int oom; /* an append failed: the text is incomplete */
};
void mbuf_printf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The # HELP and # TYPE lines of a family (type "counter", "gauge",
 * "histogram"). */
void metrics_family(struct mbuf *b, const char *name, const char *type, const char *help);
/* One sample line: name{labels[0]="values[0]",...} value; n labels. */
void metrics_sample(struct mbuf *b, const char *name, size_t n, const char *const *labels, const char *const *values,
                    double v);
/* Every family of the registry, in the table's order. */
void metrics_render(struct mbuf *b);

/* A label value or HELP text escaped as the format says: \ as \\, newline
 * as \n, and (label values only) " as \".  The length written, out always
 * NUL-terminated; cut (never mid-escape) if cap is too small. */
size_t metrics_escape(char *out, size_t cap, const char *s, int label_value);

#endif
