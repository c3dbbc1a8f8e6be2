/*
 * platform_fn.c - the function the platform tests deploy (tests/integration/
 * platform.sh).  What it does depends on the event:
 *   "crash"      faults (write to address 0)
 *   "fail"       the handler fails (returns 1)
 *   "hang"       sleeps forever (no CPU used: only the daemon can stop it)
 *   "wait:K"     sleeps (no CPU used) until KV key K exists, then succeeds
 *                uncounted: the unit holds its batch until the test says
 *                (a kill while it holds cannot miss, however loaded)
 *   "ungranted"  pushes to queue "secret", which no manifest grants
 *   "set:K=V"    sets KV key K (any key a function may write: ':', '/',
 *                spaces, UTF-8) to V
 *   "getenv:N"   sets KV key "env:N" to uf_getenv(N), or to "(unset)"
 *   anything     counts it in KV "count" and, when env OUT is set, pushes
 *                the event on to that queue
 * env SPIN=N burns N loop iterations per event, so batches take long enough
 * to be killed in the middle; env ECHO set prints each event it counts
 * (`event ID: DATA`, into the step's log).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unifaas.h>

#include "hold.h"

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	if (!strcmp(ev->data, "crash"))
		*(volatile int *)0 = 1;
	if (!strcmp(ev->data, "fail"))
		return 1;
	if (!strcmp(ev->data, "hang"))
		for (;;) {
			struct timespec ts = {1, 0};
			nanosleep(&ts, NULL);
		}
	if (!strncmp(ev->data, "wait:", 5)) {
		hold_until(ctx, ev->data + 5);
		return 0;
	}
	if (!strcmp(ev->data, "ungranted"))
		return uf_push(ctx, "secret", ev->data, ev->len) < 0;
	if (!strncmp(ev->data, "getenv:", 7)) {
		char key[200];
		const char *v = uf_getenv(ev->data + 7);
		snprintf(key, sizeof(key), "env:%s", ev->data + 7);
		return uf_kv_set(ctx, key, v ? v : "(unset)", strlen(v ? v : "(unset)")) < 0;
	}
	const char *eq = strchr(ev->data, '=');
	if (!strncmp(ev->data, "set:", 4) && eq) {
		char key[600];
		size_t n = (size_t)(eq - ev->data) - 4;
		if (n >= sizeof(key))
			return 1;
		memcpy(key, ev->data + 4, n);
		key[n] = '\0';
		return uf_kv_set(ctx, key, eq + 1, strlen(eq + 1)) < 0;
	}
	const char *spin = uf_getenv("SPIN");
	for (volatile long i = 0, n = spin ? atol(spin) : 0; i < n; i++)
		;
	if (uf_kv_incr(ctx, "count", 1, NULL) < 0)
		return 1;
	if (uf_getenv("ECHO"))
		printf("event %s: %s\n", ev->id, ev->data);
	const char *out = uf_getenv("OUT");
	if (out && uf_push(ctx, out, ev->data, ev->len) < 0)
		return 1;
	return 0;
}
