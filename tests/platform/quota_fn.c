/*
 * quota_fn.c - the function tests/integration/quota.sh deploys (storage
 * quotas, Redis full, unread queues).  What it does depends on the event:
 *   "big:KEY:N:MS"  sleeps MS ms, then sets KV key KEY to N bytes (N at most
 *                   1 MiB): a workflow that fills its storage quota
 *   "gate:GATE:KEY" waits while KV key GATE exists (at most 60 s), then
 *                   sets KV key KEY to "1": its commit comes after the test
 *                   deletes GATE, whatever the load (a DEL is taken by a
 *                   full Redis, a SET is not)
 *   anything        counts it in KV "count"; when env SEEN is set, also sets
 *                   KV key "seen:<event>" (a record of each event that a
 *                   queue's retention cannot trim); when env OUT is set,
 *                   pushes the event on to that queue
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unifaas.h>

static char value[1 << 20];

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	char key[128];
	long n, ms;
	if (sscanf(ev->data, "big:%127[^:]:%ld:%ld", key, &n, &ms) == 3 && n >= 0 && n <= (long)sizeof(value)) {
		nap(ms);
		memset(value, 'x', (size_t)n);
		return uf_kv_set(ctx, key, value, (size_t)n) < 0;
	}
	char gate[128];
	if (sscanf(ev->data, "gate:%127[^:]:%127s", gate, key) == 2) {
		char v[8];
		size_t len;
		for (int i = 0; i < 1200 && uf_kv_get(ctx, gate, v, sizeof(v), &len) == 0; i++)
			nap(50);
		return uf_kv_set(ctx, key, "1", 1) < 0;
	}
	if (uf_kv_incr(ctx, "count", 1, NULL) < 0)
		return 1;
	if (uf_getenv("SEEN")) {
		snprintf(key, sizeof(key), "seen:%.100s", ev->data);
		if (uf_kv_set(ctx, key, "1", 1) < 0)
			return 1;
	}
	const char *out = uf_getenv("OUT");
	return out && uf_push(ctx, out, ev->data, ev->len) < 0;
}
