/*
 * fib.c - the Fibonacci benchmark (docs/examples.md): for each event, the
 * index n (decimal digits, 0..92, optionally as {"n":N}), it computes
 * fib(n) by the naive recursion (the usual FaaS CPU benchmark: its cost
 * doubles with n's growth by about 1.6), pushes {"n":N,"fib":F} to
 * `results` and sets the same JSON as the invoke reply (`unifaas invoke`).
 * fib(92) is the largest that fits in int64; anything else is not an index
 * and fails the event with the reason (uf_fail_reason).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unifaas.h>

#include "lib/fail.h"

#define FIB_MAX 92

static int64_t fib(int n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/* The index in s[0..len): "N" or {"n":N}, N of 1..2 digits in 0..FIB_MAX; -1 if not. */
static int parse_index(const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	int json = end - p > 5 && memcmp(p, "{\"n\":", 5) == 0 && end[-1] == '}';
	if (json) {
		p += 5;
		end--;
	}
	if (end - p < 1 || end - p > 2)
		return -1;
	int n = 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (*p - '0');
	}
	return n <= FIB_MAX ? n : -1;
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	int n = parse_index(ev->data, ev->len);
	if (n < 0)
		return fn_fail(ctx, ev, "fib", "'%.40s' is not an index 0..%d (\"N\" or {\"n\":N})", ev->data, FIB_MAX);
	char out[64];
	int len = snprintf(out, sizeof out, "{\"n\":%d,\"fib\":%lld}", n, (long long)fib(n));
	int r = uf_push(ctx, "results", out, (size_t)len);
	if (r < 0)
		return fn_fail(ctx, ev, "fib", "push to results: %s", strerror(-r));
	r = uf_reply(ctx, out, (size_t)len);
	return r < 0 ? fn_fail(ctx, ev, "fib", "uf_reply: %s", strerror(-r)) : 0;
}
