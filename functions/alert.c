/*
 * alert.c - smoke alarms: an alert when a smoke alarm's reading goes over a
 * threshold, an all-clear when it is back under (docs/examples.md, Alert).
 *
 * Events are Nest-style JSON readings of one smoke alarm:
 *   {"device_id":"nest-protect-1","where_name":"Kitchen",
 *    "smoke_alarm_state":"ok","smoke_level":12}
 * "device_id" (1..64 of [A-Za-z0-9_-]) and "smoke_level" (a number >= 0)
 * are required; "where_name" (a string, at most 64 bytes) and
 * "smoke_alarm_state" ("ok", "warning" or "emergency") are optional; other
 * fields are ignored.  A reading is over when smoke_level >= SMOKE_ALERT_LEVEL
 * (env, default 50) or the alarm itself says "emergency".
 *
 * Each alarm's state (0 clear, 1 alerting) is the KV value
 * "smoke:<device_id>": only a change is announced, so an alarm that keeps
 * reporting smoke alerts once.  On a change the function pushes
 *   {"device":"...","where":"...","alert":"smoke"|"clear","smoke_level":N,"threshold":T}
 * to the queue `alerts` and, when ALERT_WEBHOOK_URL is set (the manifest's
 * `egress:` must allow it), POSTs the same JSON there with uf_http; an
 * answer other than 2xx fails the event (it is retried: the receiver drops
 * repeats by the Idempotency-Key header).  Malformed JSON fails the event.
 */
#include "lib/fail.h"
#include "lib/flatjson.h"
#include <errno.h>

#define NAME_MAX_LEN 64
#define MAX_TOKENS   64

struct reading {
	char device[NAME_MAX_LEN + 1];
	char where[NAME_MAX_LEN + 1];
	double level;
	int has_level;
	int emergency;
};

/* A place name: printable ASCII without '"' or '\' (so it goes into JSON as is). */
static int where_ok(const char *s, int n)
{
	if (n > NAME_MAX_LEN)
		return 0;
	for (int i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

static void copy_tok(char *dst, const char *js, const jsmntok_t *t)
{
	int n = t->end - t->start;
	memcpy(dst, js + t->start, (size_t)n);
	dst[n] = '\0';
}

/* One field of the reading; -1 with *why on a bad value. */
static int parse_field(const char *js, const jsmntok_t *k, const jsmntok_t *v, struct reading *r, const char **why)
{
	int n = v->end - v->start;
	if (fj_is(js, k, "device_id")) {
		if (v->type != JSMN_STRING || !fj_name_ok(js + v->start, n, NAME_MAX_LEN))
			return *why = "\"device_id\" must be a string of 1..64 [A-Za-z0-9_-]", -1;
		copy_tok(r->device, js, v);
	} else if (fj_is(js, k, "where_name")) {
		if (v->type != JSMN_STRING || !where_ok(js + v->start, n))
			return *why = "\"where_name\" must be a string of at most 64 printable characters", -1;
		copy_tok(r->where, js, v);
	} else if (fj_is(js, k, "smoke_level")) {
		if (fj_number(js, v, &r->level, NULL) < 0 || r->level < 0)
			return *why = "\"smoke_level\" must be a number >= 0", -1;
		r->has_level = 1;
	} else if (fj_is(js, k, "smoke_alarm_state")) {
		if (!fj_is(js, v, "ok") && !fj_is(js, v, "warning") && !fj_is(js, v, "emergency"))
			return *why = "\"smoke_alarm_state\" must be \"ok\", \"warning\" or \"emergency\"", -1;
		r->emergency = fj_is(js, v, "emergency");
	}
	return 0;
}

/* Parses a reading; on error returns -1 with the reason in *why. */
static int parse_reading(const char *js, size_t len, struct reading *r, const char **why)
{
	jsmntok_t t[MAX_TOKENS];
	memset(r, 0, sizeof(*r));
	int n = fj_parse_flat(js, len, t, MAX_TOKENS, why);
	if (n < 0)
		return -1;
	for (int i = 1; i + 1 < n; i += 2)
		if (parse_field(js, &t[i], &t[i + 1], r, why) < 0)
			return -1;
	if (!r->device[0])
		return *why = "no \"device_id\"", -1;
	if (!r->has_level)
		return *why = "no \"smoke_level\"", -1;
	return 0;
}

/* POSTs the alert to ALERT_WEBHOOK_URL when set; 0, or 1 (the event fails). */
static int webhook(uf_ctx *ctx, const uf_event *ev, const char *json, size_t len)
{
	const char *url = uf_getenv("ALERT_WEBHOOK_URL");
	if (!url || !*url)
		return 0;
	char body[256];
	uf_http_req req = {.method = "POST",
	                   .url = url,
	                   .headers = "Content-Type: application/json\r\n",
	                   .body = json,
	                   .body_len = len,
	                   .timeout_ms = 5000};
	uf_http_resp resp = {.body = body, .cap = sizeof(body)};
	int r = uf_http(ctx, &req, &resp);
	if (r < 0)
		return fn_fail(ctx, ev, "alert", "webhook POST to ALERT_WEBHOOK_URL: %s (egress: must allow it)",
		               strerror(-r));
	if (resp.status < 200 || resp.status > 299)
		return fn_fail(ctx, ev, "alert", "webhook ALERT_WEBHOOK_URL answered %d: %.80s", resp.status,
		               resp.len < resp.cap ? body : "");
	return 0;
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	struct reading rd;
	const char *why;
	if (parse_reading(ev->data, ev->len, &rd, &why) < 0)
		return fn_fail(ctx, ev, "alert", "bad smoke alarm reading%s%s: %s: '%.80s'",
		               *ev->source ? " from " : "", ev->source, why, ev->data);
	char key[NAME_MAX_LEN + 16], state[8] = "0";
	size_t slen = 0;
	snprintf(key, sizeof(key), "smoke:%s", rd.device);
	int r = uf_kv_get(ctx, key, state, sizeof(state) - 1, &slen);
	if (r < 0 && r != -ENOENT)
		return fn_fail(ctx, ev, "alert", "kv get %s: %s", key, strerror(-r));
	double limit = fj_env_number("SMOKE_ALERT_LEVEL", 50, "alert");
	int was = r == 0 && slen == 1 && state[0] == '1';
	int over = rd.level >= limit || rd.emergency;
	if (over == was)
		return 0;
	r = uf_kv_set(ctx, key, over ? "1" : "0", 1);
	if (r < 0)
		return fn_fail(ctx, ev, "alert", "kv set %s: %s", key, strerror(-r));
	char out[320];
	int n =
	    snprintf(out, sizeof(out),
	             "{\"device\":\"%s\",\"where\":\"%s\",\"alert\":\"%s\",\"smoke_level\":%.10g,\"threshold\":%.10g}",
	             rd.device, rd.where, over ? "smoke" : "clear", rd.level, limit);
	if ((r = uf_push(ctx, "alerts", out, (size_t)n)) < 0)
		return fn_fail(ctx, ev, "alert", "device %s: push to alerts: %s", rd.device, strerror(-r));
	return webhook(ctx, ev, out, (size_t)n);
}
