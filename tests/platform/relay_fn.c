/*
 * relay_fn.c - the function tests/integration/edges.sh deploys: the whole
 * path of issue 9 in one handler.  Each event, from a device over MQTT or a
 * client over HTTP, is relayed out by both edges: POSTed with uf_http to the
 * URL in the secret RELAY_URL (an HTTPS server of the test), then published
 * with uf_mqtt_publish on relay/out.  The relayed text is
 * "src=<source> type=<CloudEvents type or -> data=<payload>".  A call that
 * does not answer 200 fails the event (retried), so what is published was
 * also delivered to the server.
 */
#include <stdio.h>
#include <string.h>
#include <unifaas.h>

/* the value of "type" in the attributes JSON, or "-" (enough for a test) */
static void ce_type(const uf_event *ev, char *out, size_t cap)
{
	const char *t = ev->attrs ? strstr(ev->attrs, "\"type\":\"") : NULL;
	snprintf(out, cap, "-");
	if (t) {
		t += 8;
		snprintf(out, cap, "%.*s", (int)strcspn(t, "\""), t);
	}
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	const char *url = uf_getenv("RELAY_URL");
	char type[128], text[1024], resp_body[64];
	if (!url)
		return 2;
	ce_type(ev, type, sizeof(type));
	int n = snprintf(text, sizeof(text), "src=%s type=%s data=%.*s", ev->source[0] ? ev->source : "-", type,
	                 (int)(ev->len < 512 ? ev->len : 512), ev->data);
	uf_http_req req = {.method = "POST",
	                   .url = url,
	                   .headers = "Content-Type: text/plain\r\n",
	                   .body = text,
	                   .body_len = (size_t)n};
	uf_http_resp resp = {.body = resp_body, .cap = sizeof(resp_body)};
	int r = uf_http(ctx, &req, &resp);
	if (r < 0 || resp.status != 200) {
		fprintf(stderr, "relay: POST failed: ret=%d status=%d\n", r, resp.status);
		return 1;
	}
	r = uf_mqtt_publish(ctx, "relay/out", text, (size_t)n, 1);
	if (r < 0) {
		fprintf(stderr, "relay: publish failed: %d\n", r);
		return 1;
	}
	return 0;
}
