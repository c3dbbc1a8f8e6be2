/*
 * steady_fn.c - the steady workflow of the noisy-neighbour test and bench
 * (tests/integration/isolation.sh, bench/isolation.sh; issue 11 §5): fdc
 * (functions/fdc.c, compiled in whole) with a record of each event it
 * handled.  After fdc's own work, every handled event pushes its own id to
 * the queue of env DONE (default "done").  That push is written in the
 * event's commit, so the pushed entry's stream id is the millisecond Redis
 * wrote the commit, by the same clock as the event's own id (the XADD of
 * its push): commit id - event id is the event's push-to-handled latency,
 * to the millisecond, and the entries of DONE name exactly the events
 * handled (an event handled twice, at-least-once, appears twice).  The
 * pushed payload is "ID US": US is the wall clock (the host's, through
 * the tender) in microseconds when the handler ran, which splits that
 * latency into push -> handler (the unit's read) and handler -> commit
 * written (bench/isolation.sh's breakdown).
 */
#include <stdio.h>
#include <time.h>

#define uf_handle fdc_handle
#include "../../functions/fdc.c"
#undef uf_handle

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	const char *done = uf_getenv("DONE");
	int r = fdc_handle(ctx, ev);
	if (r != 0)
		return r;
	struct timespec ts;
	char rec[160];
	clock_gettime(CLOCK_REALTIME, &ts);
	int n = snprintf(rec, sizeof(rec), "%s %lld", ev->id, (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	return uf_push(ctx, done ? done : "done", rec, (size_t)n) < 0;
}
