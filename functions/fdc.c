/*
 * fdc.c - fridge-door count: counts how often a fridge door is opened.
 *
 * Events are the door sensor's state changes, the payload "open" or
 * "close".  Every "open" adds one to the KV key "fdc-count" and pushes
 * {"door":"open","count":N} to the queue `door-opens`; "close" does nothing.
 * Any other payload is logged and fails the event.
 *
 * The counter is updated with uf_kv_incr, which is applied with the
 * event's acknowledgement (KV writes are part of the commit): an "open"
 * that is delivered twice (at-least-once) is still counted once.  The
 * count it reports is read once per batch and carried forward by the
 * batch's own increments; two units counting at the same time may report
 * the same number, the stored total is exact (docs/writing-functions.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unifaas.h>

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	if (strcmp(ev->data, "close") == 0)
		return 0;
	if (strcmp(ev->data, "open") != 0) {
		fprintf(stderr, "fdc: event %s: payload '%.40s' is neither \"open\" nor \"close\"\n", ev->id,
			ev->data);
		return 1;
	}
	int64_t n;
	int r = uf_kv_incr(ctx, "fdc-count", 1, &n);
	if (r < 0) {
		fprintf(stderr, "fdc: event %s: kv incr fdc-count: %s\n", ev->id, strerror(-r));
		return 1;
	}
	char out[64];
	int len = snprintf(out, sizeof(out), "{\"door\":\"open\",\"count\":%" PRId64 "}", n);
	return uf_push(ctx, "door-opens", out, (size_t)len);
}
