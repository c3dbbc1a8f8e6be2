/*
 * threshold.c - CO2 alerts from Smart Citizen Kit readings (workflows/co2.yaml).
 *
 * Each event is one kit message as it arrived over MQTT: ev->source is its
 * topic, device/sck/<token>/readings/raw (raw format) or .../readings
 * (JSON), parsed by lib/sck.c.  Every timestamp group is pushed, as JSON
 * {"device","time","sensors":{"<id>":value,...}}, to `readings-log`.
 *
 * CO2 (sensor 158, ppm) moves the device's level, kept in KV under
 * co2:<token>:level as "0" ok, "1" warning, "2" danger.  The level rises
 * when the CO2 reaches CO2_WARN_PPM (default 1000) or CO2_DANGER_PPM (2000)
 * and falls only when the CO2 goes below a limit minus CO2_HYSTERESIS_PPM
 * (100), so a sensor hovering around a limit moves once.  Each rise pushes
 * an alert to `alerts`, {"device","level":"warning"|"danger","ppm","time"};
 * the fall back to ok pushes {"level":"ok"} (the all-clear); a fall from
 * danger to warning pushes nothing.
 *
 * A malformed payload or a topic that is not a kit's fails the event
 * (retried, then dead-lettered) with one stderr line naming the device,
 * the topic and the parse error, which is also the dead letter's reason
 * (uf_fail_reason: "device <token> topic <topic>: <parse error>"); a JSON message without data is dropped
 * (committed, nothing pushed).  A malformed limit in env ends the unit:
 * no reading can be judged without it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unifaas.h>

#include "lib/fail.h"
#include "lib/sck.h"

enum { LEVEL_OK, LEVEL_WARN, LEVEL_DANGER };
static const char *const level_name[] = {"ok", "warning", "danger"};

struct limits {
	double warn, danger, hyst;
};

static double env_ppm(const char *name, double dflt)
{
	const char *s = uf_getenv(name);
	if (!s)
		return dflt;
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !isfinite(v) || v < 0) {
		fprintf(stderr, "threshold: env %s='%s' is not a number of ppm >= 0; fix the manifest's env\n", name,
		        s);
		exit(2);
	}
	return v;
}

/* The limits, read once; inconsistent ones end the unit with a message. */
static const struct limits *limits(void)
{
	static struct limits l;
	static int read;
	if (read)
		return &l;
	l.warn = env_ppm("CO2_WARN_PPM", 1000);
	l.danger = env_ppm("CO2_DANGER_PPM", 2000);
	l.hyst = env_ppm("CO2_HYSTERESIS_PPM", 100);
	if (!(l.warn > 0 && l.warn < l.danger && l.hyst < l.warn)) {
		fprintf(stderr,
		        "threshold: env CO2_WARN_PPM=%g, CO2_DANGER_PPM=%g, CO2_HYSTERESIS_PPM=%g: need 0 < warn < "
		        "danger and hysteresis < warn; fix the manifest's env\n",
		        l.warn, l.danger, l.hyst);
		exit(2);
	}
	read = 1;
	return &l;
}

/* The level after a reading of ppm at level cur: up at a limit, down below it minus the hysteresis. */
static int next_level(const struct limits *l, int cur, double ppm)
{
	int up = ppm >= l->danger ? LEVEL_DANGER : ppm >= l->warn ? LEVEL_WARN : LEVEL_OK;
	int down = ppm >= l->danger - l->hyst ? LEVEL_DANGER : ppm >= l->warn - l->hyst ? LEVEL_WARN : LEVEL_OK;
	return cur < up ? up : cur > down ? down : cur;
}

/* Pushes group g to readings-log: 0, or 1 (the event fails, with the reason). */
static int log_group(uf_ctx *ctx, const uf_event *ev, const char *dev, const struct sck_group *g)
{
	char out[4096];
	size_t o = (size_t)snprintf(out, sizeof(out), "{\"device\":\"%s\",\"time\":\"%s\",\"sensors\":{", dev, g->time);
	for (int i = 0; i < g->n && o < sizeof(out); i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s\"%ld\":%.10g", i ? "," : "", g->s[i].id,
		                      g->s[i].value);
	if (o < sizeof(out))
		o += (size_t)snprintf(out + o, sizeof(out) - o, "}}");
	if (o >= sizeof(out))
		return fn_fail(ctx, ev, "threshold",
		               "device %s time %s: a reading of %d sensors does not fit %zu bytes", dev, g->time, g->n,
		               sizeof(out));
	int r = uf_push(ctx, "readings-log", out, o);
	return r < 0 ? fn_fail(ctx, ev, "threshold", "device %s: push to readings-log: %s", dev, strerror(-r)) : 0;
}

/* Moves the device's level with group g's CO2, if it has one; alerts on a change that matters.  0, or 1 (failed). */
static int judge(uf_ctx *ctx, const uf_event *ev, const char *dev, const struct sck_group *g, int *level)
{
	double ppm = NAN;
	for (int i = 0; i < g->n; i++)
		if (g->s[i].id == SCK_CO2)
			ppm = g->s[i].value;
	if (isnan(ppm))
		return 0;
	int next = next_level(limits(), *level, ppm);
	int was = *level;
	*level = next;
	if (next <= was && !(next == LEVEL_OK && was != LEVEL_OK))
		return 0;
	char out[256];
	int n = snprintf(out, sizeof(out), "{\"device\":\"%s\",\"level\":\"%s\",\"ppm\":%.10g,\"time\":\"%s\"}", dev,
	                 level_name[next], ppm, g->time);
	int r = uf_push(ctx, "alerts", out, (size_t)n);
	return r < 0 ? fn_fail(ctx, ev, "threshold", "device %s: push to alerts: %s", dev, strerror(-r)) : 0;
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	static struct sck_msg m; /* 16 KiB: not on the stack */
	char dev[SCK_TOKEN_MAX], err[200], key[SCK_TOKEN_MAX + 16], val[8];
	enum sck_format f;
	if (sck_topic(ev->source, ev->source_len, dev, &f, err, sizeof(err)) < 0) {
		fprintf(stderr, "threshold: event %s: %s\n", ev->id, err);
		uf_fail_reason(ctx, "topic %s: %s", ev->source, err);
		return 1;
	}
	int rc = sck_parse(f, ev->data, ev->len, &m, err, sizeof(err));
	if (rc == SCK_ERROR) {
		fprintf(stderr, "threshold: event %s: device %s topic %s: malformed SCK %s payload: %s\n", ev->id, dev,
		        ev->source, f == SCK_RAW ? "raw" : "JSON", err);
		uf_fail_reason(ctx, "device %s topic %s: malformed SCK %s payload: %s", dev, ev->source,
		               f == SCK_RAW ? "raw" : "JSON", err);
		return 1;
	}
	if (rc == SCK_EMPTY) {
		fprintf(stderr, "threshold: event %s: device %s topic %s: no data, dropped\n", ev->id, dev, ev->source);
		return 0;
	}
	snprintf(key, sizeof(key), "co2:%s:level", dev);
	size_t vlen;
	int level = LEVEL_OK;
	rc = uf_kv_get(ctx, key, val, sizeof(val), &vlen);
	if (rc == 0 && vlen == 1 && val[0] >= '0' && val[0] <= '2')
		level = val[0] - '0';
	int was = level;
	for (int i = 0; i < m.ngroups; i++)
		if (log_group(ctx, ev, dev, &m.g[i]) || judge(ctx, ev, dev, &m.g[i], &level))
			return 1;
	if (level != was) {
		val[0] = (char)('0' + level);
		if ((rc = uf_kv_set(ctx, key, val, 1)) < 0)
			return fn_fail(ctx, ev, "threshold", "device %s: kv set %s: %s", dev, key, strerror(-rc));
	}
	return 0;
}
