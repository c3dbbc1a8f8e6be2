/*
 * door_log.c - the second step of the eval workflow (workflows/eval.yaml):
 * logs every door opening that fdc pushes to `door-opens`.
 *
 * Each event adds one to the KV key "door-log-count" and prints one line,
 * `door-log: event <id> #<count>: <payload>`, to the unit's log.  It pushes
 * nothing, so it needs no queue but the one it listens to.  Like fdc's
 * counter, the count is at-least-once: a redelivered event counts twice.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unifaas.h>

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	int64_t n;
	int r = uf_kv_incr(ctx, "door-log-count", 1, &n);
	if (r < 0) {
		fprintf(stderr, "door-log: event %s: kv incr door-log-count: %s\n", ev->id, strerror(-r));
		return 1;
	}
	printf("door-log: event %s #%" PRId64 ": %.200s\n", ev->id, n, ev->data);
	return 0;
}
