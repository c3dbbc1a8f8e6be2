/*
 * daemon_fn.c - the function tests/integration/daemon.sh deploys to probe
 * unifaasd's own defects.  What it does depends on the event:
 *   "talk-hang"  writes "still waiting" to stderr without a newline, then
 *                sleeps forever (only the daemon can stop it)
 *   "forge"      prints the text of env FORGE on stderr, as a guest trying
 *                to forge fields in the daemon's key=value log would
 *   "env"        checks its environment: variables E000..E<N-1> (N = env
 *                ENV_COUNT), each holding ENV_LEN bytes of the letter
 *                'a' + index % 26; sets KV "env-ok" to how many matched and
 *                "env-total" to how many variables it has in all
 *   "slow"       burns env SPIN=N loop iterations, then counts as below
 *   "wait:K"     sleeps (no CPU used) until KV key K exists, then succeeds
 *                uncounted: the unit holds its batch until the test says
 *   anything     counts it in KV "count"
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unifaas.h>

#include "hold.h"

extern char **environ;

static int check_env(uf_ctx *ctx)
{
	const char *cs = uf_getenv("ENV_COUNT"), *ls = uf_getenv("ENV_LEN");
	long count = cs ? atol(cs) : 0, len = ls ? atol(ls) : 0, ok = 0, total = 0;
	for (char **e = environ; *e; e++)
		total++;
	for (long i = 0; i < count; i++) {
		char name[8];
		snprintf(name, sizeof(name), "E%03ld", i);
		const char *v = uf_getenv(name);
		int good = v && (long)strlen(v) == len;
		for (long k = 0; good && k < len; k++)
			good = v[k] == 'a' + i % 26;
		ok += good;
	}
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld", ok);
	if (uf_kv_set(ctx, "env-ok", buf, (size_t)n) < 0)
		return 1;
	n = snprintf(buf, sizeof(buf), "%ld", total);
	return uf_kv_set(ctx, "env-total", buf, (size_t)n) < 0;
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	if (!strcmp(ev->data, "talk-hang")) {
		fputs("still waiting", stderr);
		for (;;) {
			struct timespec ts = {1, 0};
			nanosleep(&ts, NULL);
		}
	}
	if (!strcmp(ev->data, "forge")) {
		const char *text = uf_getenv("FORGE");
		fprintf(stderr, "%s\n", text ? text : "");
		return 0;
	}
	if (!strcmp(ev->data, "env"))
		return check_env(ctx);
	if (!strncmp(ev->data, "wait:", 5)) {
		hold_until(ctx, ev->data + 5);
		return 0;
	}
	const char *spin = strcmp(ev->data, "slow") ? NULL : uf_getenv("SPIN");
	for (volatile long i = 0, n = spin ? atol(spin) : 0; i < n; i++)
		;
	return uf_kv_incr(ctx, "count", 1, NULL) < 0;
}
