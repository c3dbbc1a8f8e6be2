/*
 * slack_alert.c - posts threshold's CO2 alerts to a Slack incoming webhook
 * (step `slack-alert` of workflows/co2.yaml; docs/examples.md, CO2).
 *
 * Each event is one alert of functions/threshold.c:
 *   {"device":"kit1","level":"warning"|"danger"|"ok","ppm":1450,"time":"2026-..."}
 * ("device", "level" and "ppm" required, "time" optional, other fields
 * ignored), posted as {"text": "..."}, one readable line, to the URL in
 * SLACK_WEBHOOK_URL (a secret; the manifest's `egress:` must allow it), with
 * Content-Type application/json.  The text is escaped twice: for Slack's
 * formatting (& < > as &amp; &lt; &gt;) and for JSON.
 *
 * What each answer does (/work/shared/testdata/slack/README.md):
 *   200 `ok`                        delivered: the event commits.
 *   429 [Retry-After: S]            deferred S s (1 s without the header):
 *                                   delivered again then, not a failure, and
 *                                   the unit goes on with its other events.
 *   5xx, a timeout, a refused or    failed with Slack's status and body as the
 *   broken connection, 200 not ok   reason: retried (the manifest's retries).
 *   other 4xx (400 invalid_payload, failed for good: dead-lettered at once with
 *   403 invalid_token, 404          Slack's status and body as the reason, no
 *   channel_not_found, 410          retry (it would fail the same way): fix
 *   channel_is_archived ...), 3xx   the webhook, then `unifaas dlq replay`.
 * A malformed alert and a missing or refused webhook URL fail for good too.
 * Every attempt carries Idempotency-Key: <event id> (the platform adds it),
 * but Slack drops no duplicates: an answer lost to a timeout after Slack had
 * posted the message posts it twice.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unifaas.h>

#include "lib/fail.h"
#include "lib/flatjson.h"

#define WHO              "slack-alert" /* in its log lines and reasons */
#define MAX_TOKENS       32
#define FIELD_MAX        128  /* bytes of the device and the time */
#define HTTP_TIMEOUT_MS  5000 /* SLACK_TIMEOUT_MS (1..60000) overrides it */
#define RETRY_DEFAULT_MS 1000 /* a 429 without Retry-After */

struct alert {
	char device[FIELD_MAX + 1], time[FIELD_MAX + 1];
	const char *level;
	double ppm;
};

static const struct {
	const char *level, *icon, *title, *advice;
} levels[] = {
    {"warning", ":warning:", "CO2 warning", "Open a window."},
    {"danger", ":rotating_light:", "CO2 danger", "Air the room now."},
    {"ok", ":white_check_mark:", "CO2 back to normal", "All clear."},
};

/* A JSON string without escapes, 1..FIELD_MAX bytes, copied into out. */
static int plain_string(const char *js, const jsmntok_t *v, char *out)
{
	int n = v->end - v->start;
	if (v->type != JSMN_STRING || n < 1 || n > FIELD_MAX || memchr(js + v->start, '\\', (size_t)n))
		return -1;
	memcpy(out, js + v->start, (size_t)n);
	out[n] = 0;
	return 0;
}

/* The alert in js[0..len) into a; NULL, or what is wrong with it. */
static const char *parse_alert(const char *js, size_t len, struct alert *a)
{
	jsmntok_t t[MAX_TOKENS];
	const char *why;
	int n = fj_parse_flat(js, len, t, MAX_TOKENS, &why), has_ppm = 0;
	if (n < 0)
		return why;
	*a = (struct alert){0};
	for (int i = 1; i + 1 < n; i += 2) {
		const jsmntok_t *k = &t[i], *v = &t[i + 1];
		if (fj_is(js, k, "device") && plain_string(js, v, a->device) < 0)
			return "\"device\" is not a string of 1..128 bytes without escapes";
		if (fj_is(js, k, "time") && plain_string(js, v, a->time) < 0)
			return "\"time\" is not a string of 1..128 bytes without escapes";
		if (fj_is(js, k, "ppm") && (has_ppm = fj_number(js, v, &a->ppm, NULL) == 0) == 0)
			return "\"ppm\" is not a number";
		for (size_t l = 0; fj_is(js, k, "level") && l < sizeof(levels) / sizeof(levels[0]); l++)
			if (fj_is(js, v, levels[l].level))
				a->level = levels[l].level;
		if (fj_is(js, k, "level") && !a->level)
			return "\"level\" is not warning, danger or ok";
	}
	if (!a->device[0] || !a->level || !has_ppm)
		return "\"device\", \"level\" and \"ppm\" are required";
	return NULL;
}

/* Appends s to out (cap bytes, o used) escaped for Slack (& < >) inside a
 * JSON string (" \ and control characters); returns the new length, cap
 * when it did not fit. */
static size_t put_text(char *out, size_t cap, size_t o, const char *s)
{
	for (; *s && o < cap; s++) {
		unsigned char c = (unsigned char)*s;
		const char *rep = c == '&'    ? "&amp;"
		                  : c == '<'  ? "&lt;"
		                  : c == '>'  ? "&gt;"
		                  : c == '"'  ? "\\\""
		                  : c == '\\' ? "\\\\"
		                              : NULL;
		char u[8];
		if (!rep && c < 0x20) {
			snprintf(u, sizeof(u), "\\u%04x", c);
			rep = u;
		}
		size_t n = rep ? strlen(rep) : 1;
		if (o + n >= cap)
			return cap;
		memcpy(out + o, rep ? rep : s, n);
		o += n;
	}
	return o;
}

/* The Slack message of alert a: {"text": "..."}; its length, 0 if it did not fit. */
static size_t message(const struct alert *a, char *out, size_t cap)
{
	size_t l = 0, o;
	while (strcmp(levels[l].level, a->level))
		l++;
	char ppm[32], when[FIELD_MAX + 8];
	snprintf(ppm, sizeof(ppm), "%.10g", a->ppm);
	snprintf(when, sizeof(when), a->time[0] ? " at %s" : "", a->time);
	if (cap < 16)
		return 0;
	memcpy(out, "{\"text\":\"", 9); /* JSON, not text: as is */
	o = 9;
	const char *parts[] = {levels[l].icon, " ",  levels[l].title, " on ", a->device, ": ", ppm, " ppm",
	                       when,           ". ", levels[l].advice};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && o < cap; i++)
		o = put_text(out, cap, o, parts[i]);
	if (o + 3 > cap)
		return 0;
	memcpy(out + o, "\"}", 3);
	return o + 2;
}

/* Retry-After's seconds in milliseconds from the header lines, else the default. */
static unsigned retry_after_ms(const char *headers)
{
	for (const char *h = headers; h && *h; h = strchr(h, '\n') ? strchr(h, '\n') + 1 : "") {
		if (strncasecmp(h, "Retry-After:", 12))
			continue;
		char *end;
		unsigned long s = strtoul(h + 12, &end, 10);
		if (end != h + 12 && (*end == '\r' || *end == '\n' || *end == 0 || *end == ' '))
			return s > 3600 ? 3600000u : (unsigned)s * 1000u;
	}
	return RETRY_DEFAULT_MS; /* absent, or an HTTP date */
}

/* What Slack's answer means for the event (top of this file). */
static int settle(uf_ctx *ctx, const uf_event *ev, const uf_http_resp *r)
{
	int n = (int)(r->len < r->cap ? r->len : r->cap > 0 ? r->cap - 1 : 0);
	const char *body = r->body;
	if (r->status == 200 && n == 2 && !memcmp(body, "ok", 2))
		return 0;
	if (r->status == 429) {
		unsigned ms = retry_after_ms(r->headers);
		fprintf(stderr, "%s: event %s: slack answered 429 %.*s: again in %u ms\n", WHO, ev->id, n, body, ms);
		uf_defer(ctx, ms, "%s: slack answered 429 %.*s: again in %u ms", WHO, n, body, ms);
		return 0; /* deferred: not a failure */
	}
	if (r->status >= 500 || (r->status >= 200 && r->status < 300))
		return fn_fail(ctx, ev, WHO, "slack answered %d %.*s: retried", r->status, n, body);
	return fn_fail_permanent(ctx, ev, WHO,
	                         "slack answered %d %.*s: not retried (check the webhook, then unifaas dlq replay)",
	                         r->status, n, body);
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	const char *url = uf_getenv("SLACK_WEBHOOK_URL"), *why;
	struct alert a;
	char msg[1024], answer[256], headers[1024];
	if (!url || !*url)
		return fn_fail_permanent(ctx, ev, WHO,
		                         "SLACK_WEBHOOK_URL is not set: unifaas secret set SLACK_WEBHOOK_URL, "
		                         "redeploy, then unifaas dlq replay");
	if ((why = parse_alert(ev->data, ev->len, &a)))
		return fn_fail_permanent(ctx, ev, WHO, "malformed alert: %s", why);
	size_t len = message(&a, msg, sizeof(msg));
	if (!len)
		return fn_fail_permanent(ctx, ev, WHO, "the alert's message is over %zu bytes", sizeof(msg));
	double timeout = fj_env_number("SLACK_TIMEOUT_MS", HTTP_TIMEOUT_MS, WHO);
	uf_http_req req = {
	    .method = "POST",
	    .url = url,
	    .headers = "Content-Type: application/json\r\n",
	    .body = msg,
	    .body_len = len,
	    .timeout_ms = timeout >= 1 && timeout <= 60000 ? (unsigned)timeout : HTTP_TIMEOUT_MS,
	};
	uf_http_resp resp = {.body = answer, .cap = sizeof(answer), .headers = headers, .headers_cap = sizeof(headers)};
	int r = uf_http(ctx, &req, &resp);
	if (r == -EPERM || r == -EINVAL || r == -ENOSYS)
		return fn_fail_permanent(ctx, ev, WHO,
		                         "the webhook URL cannot be called (%s): is it under the step's egress: "
		                         "prefixes? Fix it, then unifaas dlq replay",
		                         strerror(-r));
	if (r < 0)
		return fn_fail(ctx, ev, WHO, "slack: %s: retried", strerror(-r));
	return settle(ctx, ev, &resp);
}
