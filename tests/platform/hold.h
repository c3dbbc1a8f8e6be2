/*
 * hold.h - the test functions' "wait:K" event (platform_fn.c, daemon_fn.c):
 * the unit holds its batch, asleep (no CPU), until the test sets KV key K,
 * so a test can act on a unit while it holds events however loaded the
 * machine is.  Invariant: it returns only once K exists.
 */
#ifndef UF_TEST_HOLD_H
#define UF_TEST_HOLD_H

#include <errno.h>
#include <time.h>
#include <unifaas.h>

static void hold_until(uf_ctx *ctx, const char *key)
{
	char v[8];
	size_t len;
	while (uf_kv_get(ctx, key, v, sizeof(v), &len) == -ENOENT) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

#endif
