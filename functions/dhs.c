/*
 * dhs.c - daily health statistics, step 1 of 2 (workflows/dhs.yaml,
 * docs/examples.md): checks a body analyzer's weight reading and passes it
 * on, normalised, to dhs-stats (dhs_stats.c), which keeps the averages.
 *
 * Events are JSON objects, Withings-style:
 *   {"user":"alice","weight_kg":72.4,"date":1764572400}
 * "user" (1..64 of [A-Za-z0-9_-]) and "weight_kg" (a number in 1..500)
 * are required; "date" is when it was measured, seconds since the epoch
 * (0..2^40; without it, the time the platform received the event); other
 * fields (a device id, fat ratio, ...) are ignored.  Each good reading is
 * pushed to `weights` as {"user":"...","date":N,"weight_kg":W}; anything
 * else fails the event (it is retried, then dead-lettered).
 */
#include "lib/fail.h"
#include "lib/flatjson.h"
#include <inttypes.h>

#define USER_MAX   64
#define MAX_TOKENS 64

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	jsmntok_t t[MAX_TOKENS];
	const char *why = NULL;
	char user[USER_MAX + 1] = "";
	double kg = -1, date = (double)(ev->time_ms / 1000);
	int n = fj_parse_flat(ev->data, ev->len, t, MAX_TOKENS, &why);
	for (int i = 1; n > 0 && !why && i + 1 < n; i += 2) {
		const char *js = ev->data;
		const jsmntok_t *k = &t[i], *v = &t[i + 1];
		int vn = v->end - v->start;
		if (fj_is(js, k, "user")) {
			if (v->type != JSMN_STRING || !fj_name_ok(js + v->start, vn, USER_MAX))
				why = "\"user\" must be a string of 1..64 [A-Za-z0-9_-]";
			else
				snprintf(user, sizeof(user), "%.*s", vn, js + v->start);
		} else if (fj_is(js, k, "weight_kg")) {
			if (fj_number(js, v, &kg, NULL) < 0 || kg < 1 || kg > 500)
				why = "\"weight_kg\" must be a number in 1..500";
		} else if (fj_is(js, k, "date")) {
			if (fj_number(js, v, &date, NULL) < 0 || date < 0 || date > 1099511627776.0 ||
			    date != (int64_t)date)
				why = "\"date\" must be whole seconds since the epoch";
		}
	}
	if (!why && !user[0])
		why = "no \"user\"";
	if (!why && kg < 0)
		why = "no \"weight_kg\"";
	if (why)
		return fn_fail(ctx, ev, "dhs", "bad weight reading%s%s: %s: '%.80s'", *ev->source ? " from " : "",
		               ev->source, why, ev->data);
	char out[160];
	int len = snprintf(out, sizeof(out), "{\"user\":\"%s\",\"date\":%" PRId64 ",\"weight_kg\":%.10g}", user,
	                   (int64_t)date, kg);
	int r = uf_push(ctx, "weights", out, (size_t)len);
	return r < 0 ? fn_fail(ctx, ev, "dhs", "user %s: push to weights: %s", user, strerror(-r)) : 0;
}
