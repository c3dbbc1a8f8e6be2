/*
 * loop.c - the default main(): libuf's event loop around uf_handle.
 *
 * Kept in a file of its own so that a function that defines main() itself
 * (and drives uf_pop) does not pull this one from libuf.a.  The loop ends
 * when no event arrives within the unit's idle time (bootinfo idle_ms); the
 * last batch is committed by uf_pop before it waits.
 */
#include "hypercall.h"
#include "unifaas.h"

int main(void)
{
	uf_ctx *ctx = uf_context();
	uf_event ev;
	int rc;
	int idle = (int)uf_bootinfo()->idle_ms;
	while ((rc = uf_pop(ctx, &ev, idle)) > 0) {
		int r = uf_handle(ctx, &ev);
		if (r != 0)
			uf_api_fail(ctx, r);
	}
	uf_api_flush();
	return rc < 0 ? 1 : 0;
}
