/*
 * dataplane.c - the Redis data-plane tests' function: what it does depends
 * on the event's payload.  Every event first adds 1 to the KV counter "n"
 * (blind: staged, no read) and pushes its payload to `out`; then
 *   fail    returns 1 (the event fails: retried, then dead-lettered)
 *   crash   dereferences NULL (guest fault, status 3)
 *   spin    loops for ever (the CPU time limit stops it, status 4)
 *   exit    exit(0): commits so far, hands the rest of the batch back
 *   deny    also pushes to `secret` (refused unless granted)
 *   id      also pushes "ID TIME_MS" to `ids`
 *   ryw     checks read-your-writes inside the batch, pushes "ryw ok" or
 *           what went wrong to `ryw`
 * anything else just succeeds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unifaas.h>

static int ryw(uf_ctx *ctx, const uf_event *ev)
{
	char key[96], buf[64], out[160];
	size_t len = 0;
	int64_t n = 0, m = 0;
	const char *bad = NULL;
	snprintf(key, sizeof(key), "ryw:%s", ev->id);
	if (uf_kv_set(ctx, key, "v1", 2) != 0)
		bad = "set";
	else if (uf_kv_get(ctx, key, buf, sizeof(buf), &len) != 0 || len != 2 || strcmp(buf, "v1") != 0)
		bad = "get after set";
	else if (uf_kv_incr(ctx, key, 1, &n) != -EINVAL)
		bad = "incr of a non-integer";
	else if (uf_kv_del(ctx, key) != 0 || uf_kv_get(ctx, key, buf, sizeof(buf), &len) != -ENOENT)
		bad = "get after del";
	else if (uf_kv_incr(ctx, key, 5, NULL) != 0 || uf_kv_incr(ctx, key, 2, &n) != 0 || n != 7)
		bad = "incr after del";
	else if (uf_kv_get(ctx, key, buf, sizeof(buf), &len) != 0 || strcmp(buf, "7") != 0)
		bad = "get after incr";
	/* "base" holds 40 in the store: blind increments, then a read sees base + them */
	else if (uf_kv_incr(ctx, "base", 1, NULL) != 0 || uf_kv_incr(ctx, "base", 1, NULL) != 0 ||
	         uf_kv_incr(ctx, "base", 0, &m) != 0 || m != 42)
		bad = "incr of a stored value";
	int l = snprintf(out, sizeof(out), bad ? "ryw bad: %s (n=%" PRId64 " m=%" PRId64 ")" : "ryw ok", bad, n, m);
	return uf_push(ctx, "ryw", out, (size_t)l);
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	const char *d = ev->data;
	if (uf_kv_incr(ctx, "n", 1, NULL) != 0 || uf_push(ctx, "out", d, ev->len) != 0)
		return 2;
	if (strcmp(d, "fail") == 0)
		return 1;
	if (strcmp(d, "crash") == 0)
		return *(volatile int *)0;
	if (strcmp(d, "spin") == 0)
		for (;;)
			;
	if (strcmp(d, "exit") == 0)
		exit(0);
	if (strcmp(d, "deny") == 0)
		return uf_push(ctx, "secret", d, ev->len);
	if (strcmp(d, "id") == 0) {
		char s[96];
		int l = snprintf(s, sizeof(s), "%s %" PRId64, ev->id, ev->time_ms);
		return uf_push(ctx, "ids", s, (size_t)l);
	}
	if (strcmp(d, "ryw") == 0)
		return ryw(ctx, ev);
	return 0;
}
