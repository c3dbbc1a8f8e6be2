/*
 * limits_fn.c - the function tests/integration/limits.sh deploys (and runs
 * with `unifaas run`) to go past each limit of what one event may write
 * (common/event_limits.h).  What it does depends on the event:
 *   "push:N:S"    pushes N events of S bytes to the queue of env OUT (default "out")
 *   "pub:N:S"     publishes N messages of S bytes on topic "lim/t"
 *   "kv:S"        sets KV key "big" to S bytes
 *   "incr:N"      increments N KV keys "k0".."k<N-1>"
 *   "fail"        fails (uf_fail_reason "transient: try again"): a failure a
 *                 retry may get past, retried as usual
 *   anything else counts itself in KV "count"
 * The first staging call that fails is reported on stdout (the step's log),
 * "call I: error E" with I counted from 1 and E the negative errno, and the
 * handler then goes on making the calls it was asked for and returns 0:
 * the platform, not the handler, must fail the event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unifaas.h>

static void report(int *first, unsigned i, int r)
{
	if (r < 0 && !*first) {
		printf("call %u: error %d\n", i, r);
		*first = 1;
	}
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	unsigned long n = 0, sz = 0;
	int first = 0;
	const char *out = uf_getenv("OUT");
	char *buf = NULL;
	if ((sscanf(ev->data, "push:%lu:%lu", &n, &sz) == 2 || sscanf(ev->data, "pub:%lu:%lu", &n, &sz) == 2 ||
	     sscanf(ev->data, "kv:%lu", &sz) == 1) &&
	    !(buf = malloc(sz + 1)))
		return 1;
	if (sscanf(ev->data, "push:%lu:%lu", &n, &sz) == 2) {
		memset(buf, 'p', sz);
		for (unsigned long i = 0; i < n; i++)
			report(&first, (unsigned)i + 1, uf_push(ctx, out ? out : "out", buf, sz));
	} else if (sscanf(ev->data, "pub:%lu:%lu", &n, &sz) == 2) {
		memset(buf, 'm', sz);
		for (unsigned long i = 0; i < n; i++)
			report(&first, (unsigned)i + 1, uf_mqtt_publish(ctx, "lim/t", buf, sz, 0));
	} else if (sscanf(ev->data, "kv:%lu", &sz) == 1) {
		memset(buf, 'v', sz);
		report(&first, 1, uf_kv_set(ctx, "big", buf, sz));
	} else if (sscanf(ev->data, "incr:%lu", &n) == 1) {
		for (unsigned long i = 0; i < n; i++) {
			char key[32];
			snprintf(key, sizeof(key), "k%lu", i);
			report(&first, (unsigned)i + 1, uf_kv_incr(ctx, key, 1, NULL));
		}
	} else if (!strcmp(ev->data, "fail")) {
		uf_fail_reason(ctx, "transient: try again");
		return 1;
	} else if (uf_kv_incr(ctx, "count", 1, NULL) < 0) {
		return 1;
	}
	free(buf);
	fflush(stdout);
	return 0;
}
