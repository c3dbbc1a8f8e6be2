/*
 * defer_fn.c - the function tests/integration/defer.sh deploys: delayed
 * retries (uf_defer, manifest retry_delay_ms).  Times are measured from
 * the event's time (ev->time_ms: when its first entry was queued), which a
 * deferral or a re-queue keeps.  What it does depends on the event:
 *   "wait:MS:TAG"  defers itself (uf_defer, reason "not before MS ms")
 *                  until MS ms after its time; then pushes
 *                  "TAG <elapsed ms>" to queue "done".  A push and a KV
 *                  write staged before the deferral must never appear.
 *   "gate:K:MS:TAG" while KV key K does not exist, stages as "wait" does
 *                  and defers itself by MS ms (reason "not before MS ms"),
 *                  each time it comes; once K exists, pushes "TAG <elapsed
 *                  ms>" to "done": deferred however soon or late a loaded
 *                  machine hands it over, and handled when the test says
 *   "set:K"        sets KV key K to "1" (opens gate K), pushes nothing.
 *   "always:TAG"   defers itself by 1 ms, every time ("busy TAG").
 *   "fail:TAG"     fails with the reason "failing TAG".
 *   "hold:MS:TAG"  until MS ms after its time, spins (its unit is killed
 *                  holding it); then pushes "TAG <elapsed ms>" to "done".
 *   anything else  pushes "TAG <elapsed ms>" (TAG = the data) to "done".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unifaas.h>

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int done(uf_ctx *ctx, const char *tag, const uf_event *ev)
{
	char out[160];
	int n = snprintf(out, sizeof(out), "%s %lld", tag, now_ms() - ev->time_ms);
	return uf_push(ctx, "done", out, (size_t)n) < 0;
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	long long ms = 0;
	char tag[64] = "";
	if (sscanf(ev->data, "wait:%lld:%63s", &ms, tag) == 2) {
		long long left = ev->time_ms + ms - now_ms();
		if (left > 0) {
			uf_push(ctx, "done", "staged-before-defer", 19); /* dropped with the deferral */
			uf_kv_incr(ctx, "staged", 1, NULL);
			return uf_defer(ctx, (uint32_t)left, "not before %lld ms", ms) == 0 ? 0 : 1;
		}
		uf_kv_incr(ctx, tag, 1, NULL);
		return done(ctx, tag, ev);
	}
	char key[64];
	if (sscanf(ev->data, "gate:%63[^:]:%lld:%63s", key, &ms, tag) == 3) {
		char v[8];
		size_t len;
		if (uf_kv_get(ctx, key, v, sizeof(v), &len) == -ENOENT) {
			uf_push(ctx, "done", "staged-before-defer", 19); /* dropped with the deferral */
			uf_kv_incr(ctx, "staged", 1, NULL);
			return uf_defer(ctx, (uint32_t)ms, "not before %lld ms", ms) == 0 ? 0 : 1;
		}
		uf_kv_incr(ctx, tag, 1, NULL);
		return done(ctx, tag, ev);
	}
	if (sscanf(ev->data, "set:%63s", key) == 1)
		return uf_kv_set(ctx, key, "1", 1) < 0;
	if (sscanf(ev->data, "always:%63s", tag) == 1) {
		uf_defer(ctx, 1, "busy %s", tag);
		return 1; /* deferred stays deferred, whatever is returned */
	}
	if (sscanf(ev->data, "fail:%63s", tag) == 1)
		return uf_fail_reason(ctx, "failing %s", tag) == 0 ? 1 : 2;
	if (sscanf(ev->data, "hold:%lld:%63s", &ms, tag) == 2) {
		while (now_ms() < ev->time_ms + ms)
			;
		return done(ctx, tag, ev);
	}
	snprintf(tag, sizeof(tag), "%.63s", ev->data);
	return done(ctx, tag, ev);
}
