/*
 * push_then_crash.c - pushes each event's data to `out`; the event "crash"
 * dereferences NULL after pushing.  Shows that a batch whose unit dies
 * commits nothing: no push reaches a queue and no event is acknowledged.
 */
#include <string.h>
#include <unifaas.h>

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	uf_push(ctx, "out", ev->data, ev->len);
	if (strcmp(ev->data, "crash") == 0)
		*(volatile int *)0 = 1;
	return strcmp(ev->data, "fail") == 0;
}
