/*
 * dhs_stats.c - daily health statistics, step 2 of 2 (workflows/dhs.yaml,
 * docs/examples.md): keeps each user's daily, weekly and monthly average
 * weight in KV from the readings dhs.c pushes to `weights`
 * ({"user":"alice","date":1764572400,"weight_kg":72.4}).
 *
 * Per user and period (UTC; weeks are ISO 8601 weeks, Monday to Sunday),
 * one KV value holds the count, the sum and the average (rounded to 0.01):
 *   dhs:<user>:day:2025-12-01    {"n":2,"sum":141,"avg":70.50}
 *   dhs:<user>:week:2025-W49     {"n":4,...}
 *   dhs:<user>:month:2025-12     {"n":4,...}
 * Each reading reads and rewrites its three values, so the step runs as one
 * unit (max_units 1 in dhs.yaml): two units could overwrite each other's
 * update.  A retried event is applied once (its KV writes commit with it).
 */
#include "lib/fail.h"
#include "lib/flatjson.h"
#include <errno.h>
#include <inttypes.h>
#include <time.h>

#define MAX_TOKENS 16

/* Adds kg to the period's value at key: 0 or -errno. */
static int add_to(uf_ctx *ctx, const char *key, double kg)
{
	char buf[160];
	size_t len;
	double n = 0, sum = 0;
	int r = uf_kv_get(ctx, key, buf, sizeof(buf) - 1, &len);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0) {
		jsmntok_t t[MAX_TOKENS];
		const char *why;
		buf[len] = '\0';
		int tn = fj_parse_flat(buf, len, t, MAX_TOKENS, &why);
		for (int i = 1; tn > 0 && i + 1 < tn; i += 2) {
			if (fj_is(buf, &t[i], "n") && fj_number(buf, &t[i + 1], &n, NULL) < 0)
				return -EINVAL;
			if (fj_is(buf, &t[i], "sum") && fj_number(buf, &t[i + 1], &sum, NULL) < 0)
				return -EINVAL;
		}
		if (tn < 0)
			return -EINVAL;
	}
	n += 1;
	sum += kg;
	int w = snprintf(buf, sizeof(buf), "{\"n\":%.0f,\"sum\":%.10g,\"avg\":%.2f}", n, sum, sum / n);
	return uf_kv_set(ctx, key, buf, (size_t)w);
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	jsmntok_t t[MAX_TOKENS];
	const char *why = NULL, *js = ev->data;
	char user[65] = "";
	double kg = -1, date = -1;
	int n = fj_parse_flat(js, ev->len, t, MAX_TOKENS, &why);
	for (int i = 1; n > 0 && i + 1 < n; i += 2) {
		int vn = t[i + 1].end - t[i + 1].start;
		if (fj_is(js, &t[i], "user") && t[i + 1].type == JSMN_STRING && fj_name_ok(js + t[i + 1].start, vn, 64))
			snprintf(user, sizeof(user), "%.*s", vn, js + t[i + 1].start);
		else if (fj_is(js, &t[i], "weight_kg") && fj_number(js, &t[i + 1], &kg, NULL) < 0)
			kg = -1;
		else if (fj_is(js, &t[i], "date") && fj_number(js, &t[i + 1], &date, NULL) < 0)
			date = -1;
	}
	if (n < 0 || !user[0] || kg <= 0 || date < 0)
		return fn_fail(ctx, ev, "dhs-stats", "not a reading from dhs: %s: '%.80s'",
		               n < 0      ? why
		               : !user[0] ? "no \"user\" of 1..64 [A-Za-z0-9_-]"
		               : kg <= 0  ? "no \"weight_kg\" above 0"
		                          : "no \"date\" (seconds since the epoch)",
		               js);
	time_t secs = (time_t)date;
	struct tm tm;
	char period[3][16], key[128];
	gmtime_r(&secs, &tm);
	strftime(period[0], sizeof(period[0]), "day:%Y-%m-%d", &tm);
	strftime(period[1], sizeof(period[1]), "week:%G-W%V", &tm);
	strftime(period[2], sizeof(period[2]), "month:%Y-%m", &tm);
	for (int p = 0; p < 3; p++) {
		snprintf(key, sizeof(key), "dhs:%s:%s", user, period[p]);
		int r = add_to(ctx, key, kg);
		if (r < 0)
			return fn_fail(ctx, ev, "dhs-stats", "kv %s: %s", key, strerror(-r));
	}
	return 0;
}
