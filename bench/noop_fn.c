/* noop_fn.c - a trivial function (bench/hcexit.sh): every event succeeds,
 * nothing is pushed, so a unit's events/s is its hypercall exits' cost. */
#include <unifaas.h>

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	(void)ctx;
	(void)ev;
	return 0;
}
