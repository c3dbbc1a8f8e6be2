/*
 * threshold.c - CO2 alert threshold for Smart Citizen Kit readings.
 *
 * Each event is one SCK raw payload, e.g.
 *   {t:2025-03-01T10:01:00Z,158:1450,55:23.10,56:51.00}
 * (grammar: `{`, pairs separated by commas and/or spaces, `}`; a pair is
 * the timestamp `t:YYYY-MM-DDTHH:MM:SSZ`, exactly once, or
 * `<sensor id>:<integer | decimal | null>`; spaces around `:` are allowed;
 * null values are dropped).  Sensor 158 is the SCD30's CO2 in ppm.
 *
 * Every reading is pushed, normalised to JSON, to `readings-log`.  When CO2
 * is at or above CO2_LIMIT_PPM (env, default 1000) an alert is pushed to
 * `alerts` with a level: "poor air, open a window" for 1000-2000 ppm,
 * "headaches, loss of attention" above 2000 ppm, and "above the configured
 * limit" for a limit set below 1000.  A malformed payload is logged on
 * stderr and fails the event (nothing is pushed for it).  A malformed
 * CO2_LIMIT_PPM ends the unit: no event can be judged without it.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unifaas.h>

#define SENSOR_CO2 158
#define MAX_SENSORS 64
#define TIME_LEN 20 /* YYYY-MM-DDTHH:MM:SSZ */

struct reading {
	char time[TIME_LEN + 1];
	int n;
	long id[MAX_SENSORS];
	double value[MAX_SENSORS];
};

static const char *skip_space(const char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

/* YYYY-MM-DDTHH:MM:SSZ, digits where the pattern has 9. */
static const char *parse_time(const char *p, char *out)
{
	static const char pat[] = "9999-99-99T99:99:99Z";
	for (int i = 0; i < TIME_LEN; i++) {
		if (pat[i] == '9' ? !isdigit((unsigned char)p[i]) : p[i] != pat[i])
			return NULL;
		out[i] = p[i];
	}
	out[TIME_LEN] = '\0';
	return p + TIME_LEN;
}

/* -?digits(.digits)? or null; *is_null tells which. */
static const char *parse_value(const char *p, double *v, int *is_null)
{
	const char *s = p;
	*is_null = 0;
	if (strncmp(p, "null", 4) == 0) {
		*is_null = 1;
		return p + 4;
	}
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return NULL;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	char num[64];
	if ((size_t)(p - s) >= sizeof(num))
		return NULL;
	memcpy(num, s, (size_t)(p - s));
	num[p - s] = '\0';
	*v = strtod(num, NULL);
	return isfinite(*v) ? p : NULL;
}

/* Parses a raw payload into *r; on error returns -1 with a reason in why. */
static int parse_raw(const char *s, struct reading *r, const char **why)
{
	const char *p = skip_space(s);
	r->n = 0;
	r->time[0] = '\0';
	if (*p++ != '{') {
		*why = "does not start with '{'";
		return -1;
	}
	for (;;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '}')
			break;
		if (*p == '\0') {
			*why = "ends before the closing '}'";
			return -1;
		}
		if (*p == 't') {
			if (r->time[0]) {
				*why = "has more than one timestamp";
				return -1;
			}
			p = skip_space(p + 1);
			if (*p++ != ':' || !(p = parse_time(skip_space(p), r->time))) {
				*why = "has a timestamp not of the form t:YYYY-MM-DDTHH:MM:SSZ";
				return -1;
			}
		} else {
			if (!isdigit((unsigned char)*p)) {
				*why = "has a sensor id that is not an integer";
				return -1;
			}
			char *end;
			errno = 0;
			long id = strtol(p, &end, 10);
			if (errno || end - p > 9) {
				*why = "has a sensor id that is too large";
				return -1;
			}
			p = skip_space(end);
			if (*p++ != ':') {
				*why = "has a sensor id without ':' and a value";
				return -1;
			}
			double v;
			int is_null;
			p = parse_value(skip_space(p), &v, &is_null);
			if (!p) {
				*why = "has a sensor value that is not a number or null";
				return -1;
			}
			if (!is_null) {
				if (r->n == MAX_SENSORS) {
					*why = "has more sensors than this function keeps (64)";
					return -1;
				}
				r->id[r->n] = id;
				r->value[r->n++] = v;
			}
		}
		if (*p != ' ' && *p != ',' && *p != '}') {
			*why = "has garbage after a value (pairs are separated by ',' or ' ')";
			return -1;
		}
	}
	if (*skip_space(p + 1) != '\0') {
		*why = "has text after the closing '}'";
		return -1;
	}
	if (!r->time[0]) {
		*why = "has no timestamp (t:...)";
		return -1;
	}
	return 0;
}

/* CO2_LIMIT_PPM, read once; a bad value ends the unit with a message. */
static double co2_limit(void)
{
	static double limit;
	if (limit > 0)
		return limit;
	const char *s = uf_getenv("CO2_LIMIT_PPM");
	if (!s) {
		limit = 1000;
		return limit;
	}
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !isfinite(v) || v <= 0) {
		fprintf(stderr, "threshold: CO2_LIMIT_PPM='%s' is not a positive number of ppm; fix the env\n", s);
		exit(2);
	}
	limit = v;
	return limit;
}

static const char *co2_level(double ppm)
{
	if (ppm > 2000)
		return "headaches, loss of attention";
	if (ppm >= 1000)
		return "poor air, open a window";
	return "above the configured limit";
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	struct reading r;
	const char *why;
	if (parse_raw(ev->data, &r, &why) < 0) {
		fprintf(stderr, "threshold: event %s: malformed SCK payload: %s: '%.60s'\n", ev->id, why, ev->data);
		return 1;
	}
	double limit = co2_limit();
	int co2 = -1;
	char log[2048];
	size_t o = (size_t)snprintf(log, sizeof(log), "{\"time\":\"%s\",\"sensors\":{", r.time);
	for (int i = 0; i < r.n; i++) {
		o += (size_t)snprintf(log + o, sizeof(log) - o, "%s\"%ld\":%.10g", i ? "," : "", r.id[i], r.value[i]);
		if (r.id[i] == SENSOR_CO2)
			co2 = i;
	}
	o += (size_t)snprintf(log + o, sizeof(log) - o, "}}");
	if (o >= sizeof(log)) {
		fprintf(stderr, "threshold: event %s: reading too long to log\n", ev->id);
		return 1;
	}
	int rc = uf_push(ctx, "readings-log", log, o);
	if (rc < 0 || co2 < 0 || r.value[co2] < limit)
		return rc < 0;
	char alert[256];
	int n = snprintf(alert, sizeof(alert),
			 "{\"time\":\"%s\",\"co2_ppm\":%.10g,\"limit_ppm\":%.10g,\"level\":\"%s\"}", r.time,
			 r.value[co2], limit, co2_level(r.value[co2]));
	return uf_push(ctx, "alerts", alert, (size_t)n) < 0;
}
