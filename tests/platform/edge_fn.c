/*
 * edge_fn.c - the function tests/integration/edges_abi.sh deploys: the
 * guest side of issue 9's edges (ABI 4).  Per event (data):
 *   "crash"          faults (write to address 0)
 *   "fail"           the handler fails (returns 1)
 *   "hang"           sleeps forever (only a kill ends it)
 *   "pub:TOPIC"      uf_mqtt_publish(TOPIC, "m-TOPIC", qos 1), then pushes
 *                    "pub=<its return value>" to OUT
 *   "pubfail:TOPIC"  publishes (qos 0) and then fails
 *   "reply:TEXT"     uf_reply("first"), then uf_reply(TEXT): the last wins
 *   "replyfail:TEXT" uf_reply(TEXT), then fails
 *   anything else    pushes to OUT one line
 *                    "source=<ev->source>|attrs=<ev->attrs>|data=<data>",
 *                    whose lengths are checked against source_len/attrs_len
 *                    (a mismatch fails the event).
 * OUT is env OUT, default "out".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unifaas.h>

static int push_line(uf_ctx *ctx, const char *line, size_t n)
{
	const char *out = uf_getenv("OUT");
	return uf_push(ctx, out ? out : "out", line, n) < 0;
}

static const char *arg(const uf_event *ev, const char *cmd)
{
	size_t n = strlen(cmd);
	return !strncmp(ev->data, cmd, n) ? ev->data + n : NULL;
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	const char *a;
	char line[256];
	if (!strcmp(ev->data, "crash"))
		*(volatile int *)0 = 1;
	if (!strcmp(ev->data, "fail"))
		return 1;
	if (!strcmp(ev->data, "hang"))
		for (;;) {
			struct timespec ts = {1, 0};
			nanosleep(&ts, NULL);
		}
	if ((a = arg(ev, "pub:"))) {
		snprintf(line, sizeof(line), "m-%s", a);
		int r = uf_mqtt_publish(ctx, a, line, strlen(line), 1);
		return push_line(ctx, line, (size_t)snprintf(line, sizeof(line), "pub=%d", r));
	}
	if ((a = arg(ev, "pubfail:"))) {
		uf_mqtt_publish(ctx, a, "never", 5, 0);
		return 1;
	}
	if ((a = arg(ev, "reply:")))
		return uf_reply(ctx, "first", 5) < 0 || uf_reply(ctx, a, strlen(a)) < 0;
	if ((a = arg(ev, "replyfail:"))) {
		uf_reply(ctx, a, strlen(a));
		return 7;
	}
	if (!ev->source || !ev->attrs || strlen(ev->source) != ev->source_len || strlen(ev->attrs) != ev->attrs_len)
		return 2;
	size_t cap = ev->source_len + ev->attrs_len + ev->len + 32;
	char *s = malloc(cap);
	if (!s)
		return 3;
	int n = snprintf(s, cap, "source=%s|attrs=%s|data=%s", ev->source, ev->attrs, ev->data);
	int r = push_line(ctx, s, (size_t)n);
	free(s);
	return r;
}
