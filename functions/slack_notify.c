/*
 * slack_notify.c - posts each event to a Slack incoming webhook.
 *
 * Made to follow threshold.c (workflows/co2-slack.yaml): each event is one
 * alert, e.g. {"time":"2025-03-01T10:01:00Z","co2_ppm":1450,...}, sent as
 * the message {"text": "CO2 alert: <the event>"}.  The webhook URL comes
 * from SLACK_WEBHOOK_URL (a secret: `unifaas secret set SLACK_WEBHOOK_URL`,
 * manifest `secrets:`; it must be under one of the manifest's `egress:`
 * prefixes).  A call that fails or is not answered 2xx fails the event, so
 * it is retried (then dead-lettered); every attempt carries the header
 * Idempotency-Key: <event id> (the platform adds it), but Slack does not
 * drop duplicates, so the post is the handler's last step: only a crash
 * or a failed commit after it repeats a message.
 */
#include <stdio.h>
#include <string.h>
#include <unifaas.h>

/* JSON string contents: quotes, backslashes and control bytes escaped */
static size_t json_text(char *out, size_t cap, const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 7 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, cap - o, "\\%c", c);
		else if (c < 0x20)
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = 0;
	return o;
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	const char *url = uf_getenv("SLACK_WEBHOOK_URL");
	if (!url) {
		fprintf(stderr, "slack_notify: SLACK_WEBHOOK_URL is not set (unifaas secret set SLACK_WEBHOOK_URL)\n");
		return 1;
	}
	char text[2048], msg[2200], answer[256];
	json_text(text, sizeof(text), ev->data, ev->len);
	int n = snprintf(msg, sizeof(msg), "{\"text\":\"CO2 alert: %s\"}", text);
	uf_http_req req = {
	    .method = "POST",
	    .url = url,
	    .headers = "Content-Type: application/json\r\n",
	    .body = msg,
	    .body_len = (size_t)n,
	    .timeout_ms = 5000,
	};
	uf_http_resp resp = {.body = answer, .cap = sizeof(answer)};
	int r = uf_http(ctx, &req, &resp);
	if (r < 0) {
		fprintf(stderr, "slack_notify: event %s: uf_http: %s\n", ev->id, strerror(-r));
		return 1;
	}
	if (resp.status < 200 || resp.status > 299) {
		fprintf(stderr, "slack_notify: event %s: webhook answered %d: %.*s\n", ev->id, resp.status,
		        (int)(resp.len < sizeof(answer) ? resp.len : sizeof(answer)), answer);
		return 1;
	}
	return 0;
}
