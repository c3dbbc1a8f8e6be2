/*
 * log_query.c - reads the CO2 workflow's log of readings back (step
 * `log-query` of workflows/co2.yaml, queue `log-query`), for `unifaas
 * invoke co2-monitor log-query '{...}'` and the HTTP ingress's /invoke.
 *
 * The query is one flat JSON object (an empty event is {}):
 *   {}                                   -> {"devices":["kit1",...]}
 *   {"device":"kit1"}                    -> the device's sensors, each with
 *                                           its count and its last reading
 *   {"device":"kit1","sensor":158,"last":10}
 *                                        -> the last readings (default 10, at
 *                                           most LOG_QUERY_MAX), newest first:
 *      {"device":"kit1","sensor":158,"count":N,"keep":K,"readings":[{"time":T,"value":V},...]}
 * The answer is the event's uf_reply.  A query that cannot be answered (an
 * unknown device or sensor, a malformed query) is answered too, with
 * {"error":"...", ...} naming what (and the devices or sensors there are):
 * the event commits, nothing is retried or dead-lettered for a typo.
 * It only reads KV (lib/readings_log.h's layout, written by logger.c) and
 * checks each slot's k, so it never shows a slot that is not reading k.
 */
#include <stdarg.h>

#include "lib/flatjson.h"
#include "lib/readings_log.h"

#define LOG_QUERY_MAX 10000 /* readings per answer: ~70 bytes each, well under uf_reply's 1 MiB */

/* A growing reply. */
struct out {
	char *s;
	size_t len, cap;
	int oom;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = o->oom ? 0 : vsnprintf(o->s ? o->s + o->len : NULL, o->s ? o->cap - o->len : 0, fmt, ap);
		va_end(ap);
		if (o->oom || (o->s && (size_t)n < o->cap - o->len)) {
			o->len += o->oom ? 0 : (size_t)n;
			return;
		}
		size_t cap = (o->cap + (size_t)n) * 2 + 256;
		char *s = realloc(o->s, cap);
		if (!s) {
			o->oom = 1;
			return;
		}
		o->s = s;
		o->cap = cap;
	}
}

struct query {
	char device[SCK_TOKEN_MAX];
	long sensor; /* -1: none */
	long last;
};

/* Parses the query: 0, or -1 with the reason in *why. */
static int parse(const char *js, size_t len, struct query *q, const char **why)
{
	jsmntok_t t[16];
	q->device[0] = '\0';
	q->sensor = -1;
	q->last = 10;
	while (len > 0 && (js[len - 1] == ' ' || js[len - 1] == '\n' || js[len - 1] == '\r' || js[len - 1] == '\t'))
		len--;
	if (len == 0)
		return 0;
	int n = fj_parse_flat(js, len, t, 16, why);
	for (int i = 1; i + 1 < n; i += 2) {
		const jsmntok_t *k = &t[i], *v = &t[i + 1];
		const char *s = js + v->start;
		int vn = v->end - v->start;
		double d;
		char *end;
		if (fj_is(js, k, "device")) {
			if (v->type != JSMN_STRING || !log_device_ok(s, (size_t)vn))
				return *why = "\"device\" must be a kit token (1..63 of [A-Za-z0-9._-])", -1;
			memcpy(q->device, s, (size_t)vn);
			q->device[vn] = '\0';
		} else if (fj_is(js, k, "sensor")) {
			if (v->type == JSMN_STRING && vn >= 1 && vn <= 9 && strspn(s, "0123456789") >= (size_t)vn)
				q->sensor = strtol(s, &end, 10);
			else if (fj_number(js, v, &d, NULL) == 0 && d >= 0 && d <= LOG_SENSOR_MAX && d == (long)d)
				q->sensor = (long)d;
			else
				return *why = "\"sensor\" must be a sensor id, an integer 0..999999999 (158 is CO2)",
				       -1;
		} else if (fj_is(js, k, "last")) {
			if (fj_number(js, v, &d, NULL) < 0 || d < 1 || d > LOG_QUERY_MAX || d != (long)d)
				return *why = "\"last\" must be an integer 1..10000", -1;
			q->last = (long)d;
		} else {
			return *why = "unknown field (the fields are \"device\", \"sensor\" and \"last\")", -1;
		}
	}
	if (n < 0)
		return -1;
	if (q->sensor >= 0 && !q->device[0])
		return *why = "\"sensor\" needs a \"device\"", -1;
	return 0;
}

/* The reading in ring (dev, id)'s slot for k into time and value: 0, or -1 when the slot is not reading k. */
static int read_slot(uf_ctx *ctx, const char *dev, long id, long long k, long keep, char *time, char *value)
{
	char key[LOG_KEY_MAX], val[128];
	size_t len;
	long long got;
	log_key_slot(key, dev, id, (k - 1) % keep);
	if (uf_kv_get(ctx, key, val, sizeof(val) - 1, &len) < 0)
		return -1;
	val[len] = '\0';
	return log_slot_parse(val, &got, time, value) == 0 && got == k ? 0 : -1;
}

/* The readings of (dev, id), newest first, at most last of them. */
static void answer_readings(uf_ctx *ctx, const struct query *q, long keep, struct out *o)
{
	char time[SCK_TIME_MAX], value[32];
	long long n = log_ring_count(ctx, q->device, q->sensor);
	n = n < 0 ? 0 : n;
	put(o, "{\"device\":\"%s\",\"sensor\":%ld,\"count\":%lld,\"keep\":%ld,\"readings\":[", q->device, q->sensor, n,
	    keep);
	for (long long k = n, i = 0; k >= 1 && k > n - keep && i < q->last; k--, i++) {
		if (read_slot(ctx, q->device, q->sensor, k, keep, time, value) < 0)
			break; /* written under another LOG_KEEP, or not yet */
		put(o, "%s{\"time\":\"%s\",\"value\":%s}", i ? "," : "", time, value);
	}
	put(o, "]}");
}

/* The device's sensors, each with its count and last reading. */
static void answer_sensors(uf_ctx *ctx, const char *dev, const char *sensors, long keep, struct out *o)
{
	char time[SCK_TIME_MAX], value[32];
	size_t pos = 0, en;
	const char *e;
	put(o, "{\"device\":\"%s\",\"sensors\":[", dev);
	for (int i = 0; log_list_next(sensors, &pos, &e, &en); i++) {
		long id = atol(e);
		long long n = log_ring_count(ctx, dev, id);
		n = n < 0 ? 0 : n;
		put(o, "%s{\"sensor\":%ld,\"count\":%lld", i ? "," : "", id, n);
		if (n > 0 && read_slot(ctx, dev, id, n, keep, time, value) == 0)
			put(o, ",\"last\":{\"time\":\"%s\",\"value\":%s}", time, value);
		put(o, "}");
	}
	put(o, "]}");
}

/* The LOG_KEEP the logger writes with. */
static long log_keep(uf_ctx *ctx)
{
	char val[24];
	size_t len;
	if (uf_kv_get(ctx, LOG_KEY_KEEP, val, sizeof(val) - 1, &len) < 0)
		return LOG_KEEP_DEFAULT;
	val[len] = '\0';
	long k = atol(val);
	return k >= 1 && k <= LOG_KEEP_MAX ? k : LOG_KEEP_DEFAULT;
}

static void answer(uf_ctx *ctx, const struct query *q, struct out *o)
{
	char *devices = NULL, *sensors = NULL, key[LOG_KEY_MAX], id[16];
	size_t len;
	long keep = log_keep(ctx);
	if (log_get(ctx, LOG_KEY_DEVICES, &devices, &len) < 0)
		devices = NULL;
	if (!q->device[0]) {
		put(o, "{\"devices\":%s}", devices ? devices : "[]");
		goto out;
	}
	if (!devices || !log_list_has(devices, q->device, strlen(q->device))) {
		put(o, "{\"error\":\"no readings from device '%s' in the log\",\"devices\":%s}", q->device,
		    devices ? devices : "[]");
		goto out;
	}
	log_key_sensors(key, q->device);
	if (log_get(ctx, key, &sensors, &len) < 0)
		sensors = NULL;
	snprintf(id, sizeof(id), "%ld", q->sensor);
	if (q->sensor >= 0 && (!sensors || !log_list_has(sensors, id, strlen(id))))
		put(o, "{\"error\":\"no readings of sensor %ld from device '%s' in the log\",\"sensors\":%s}",
		    q->sensor, q->device, sensors ? sensors : "[]");
	else if (q->sensor >= 0)
		answer_readings(ctx, q, keep, o);
	else
		answer_sensors(ctx, q->device, sensors ? sensors : "[]", keep, o);
out:
	free(devices);
	free(sensors);
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	struct query q;
	struct out o = {0};
	const char *why;
	if (parse(ev->data, ev->len, &q, &why) < 0) {
		put(&o, "{\"error\":\"query: ");
		for (; *why; why++)
			put(&o, "%s%c", *why == '"' ? "\\" : "", *why);
		put(&o, "\",\"example\":{\"device\":\"kit1\",\"sensor\":158,\"last\":10}}");
	} else
		answer(ctx, &q, &o);
	if (o.oom) {
		free(o.s);
		uf_fail_reason(ctx, "log-query: out of memory for the answer; ask for fewer readings (\"last\")");
		return 1;
	}
	int r = uf_reply(ctx, o.s, o.len);
	free(o.s);
	if (r < 0) {
		uf_fail_reason(ctx, "log-query: uf_reply: %s", strerror(-r));
		return 1;
	}
	return 0;
}
