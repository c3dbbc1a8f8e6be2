/*
 * edge_fn.c - the function tests/integration/edges_abi.sh deploys: the
 * guest side of issue 9's edges (ABI 4).  Per event:
 *   "crash"        faults (write to address 0)
 *   "fail"         the handler fails (returns 1)
 *   anything else  pushes to env OUT (default "out") one line
 *                  "source=<ev->source>|attrs=<ev->attrs>|data=<data>",
 *                  whose lengths are checked against source_len/attrs_len
 *                  (a mismatch fails the event).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unifaas.h>

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	if (!strcmp(ev->data, "crash"))
		*(volatile int *)0 = 1;
	if (!strcmp(ev->data, "fail"))
		return 1;
	if (!ev->source || !ev->attrs || strlen(ev->source) != ev->source_len || strlen(ev->attrs) != ev->attrs_len)
		return 2;
	const char *out = uf_getenv("OUT");
	size_t cap = ev->source_len + ev->attrs_len + ev->len + 32;
	char *line = malloc(cap);
	if (!line)
		return 3;
	int n = snprintf(line, cap, "source=%s|attrs=%s|data=%s", ev->source, ev->attrs, ev->data);
	int r = uf_push(ctx, out ? out : "out", line, (size_t)n);
	free(line);
	return r < 0;
}
