/* fib.c - computes fib(n) for each event "n" and pushes the result to `results`. */
#include <stdio.h>
#include <stdlib.h>
#include <unifaas.h>

static long fib(int n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	char out[64];
	int n = atoi(ev->data);
	int len = snprintf(out, sizeof out, "{\"n\":%d,\"fib\":%ld}", n, fib(n));
	return uf_push(ctx, "results", out, (size_t)len);
}
