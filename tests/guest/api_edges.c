/*
 * api_edges.c - edge cases of the function API, chosen by the CASE env var:
 *   exit-mid-batch  handle the first event of a batch, then exit(0): the
 *                   events never reached must be handed back, not acked;
 *   cheat-progress  spin while bumping bootinfo->progress itself: the
 *                   tender's per-batch CPU cap must still stop it;
 *   push-limit      every event pushes 200 KB: fine per event even though
 *                   a batch stages more than 1 MiB in total;
 *   push-too-much   one event pushes more than 1 MiB (run with --limit
 *                   commit_bytes=1M): -ENOBUFS, and the event fails;
 *   code            the handler returns 7: the failure report says 7.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uf_abi.h>
#include <unifaas.h>

static char big[200000];

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	const char *c = uf_getenv("CASE");
	if (strcmp(c, "exit-mid-batch") == 0) {
		uf_push(ctx, "out", ev->data, ev->len);
		exit(0);
	}
	if (strcmp(c, "cheat-progress") == 0) {
		volatile uint64_t *progress = &((struct uf_bootinfo *)(uintptr_t)UF_BOOTINFO_ADDR)->progress;
		for (;;)
			*progress = *progress + 1;
	}
	if (strcmp(c, "push-limit") == 0) {
		memset(big, 'a', sizeof big);
		return uf_push(ctx, "out", big, sizeof big) == 0 ? 0 : 1;
	}
	if (strcmp(c, "push-too-much") == 0) {
		int r = 0;
		for (int i = 0; i < 6 && r == 0; i++)
			r = uf_push(ctx, "out", big, sizeof big);
		printf("push-too-much: %s\n", r == -ENOBUFS ? "ENOBUFS" : "other");
		return 0;
	}
	if (strcmp(c, "code") == 0)
		return 7;
	return 0;
}
