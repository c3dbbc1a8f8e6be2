/*
 * egress_fn.c - the function bench/egress.sh deploys: an event "N URL"
 * makes one warm-up uf_http GET of URL (connection and TLS handshake),
 * then N more, each timed with the monotonic clock inside the guest (so
 * the hypercall, the unix socket to unifaasd, its checks and libcurl are
 * all in the figure).  KV "egress" gets "n=N ok=K p50_us=.. mean_us=..
 * min_us=..": the per-call median, mean and minimum of the N calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unifaas.h>

#define MAX_CALLS 10000

static long us[MAX_CALLS];

static long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static int cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	char url[2100], body[4096];
	int n = 0, ok = 0;
	if (sscanf(ev->data, "%d %2099s", &n, url) != 2 || n < 1 || n > MAX_CALLS)
		return 1;
	uf_http_req req = {.method = "GET", .url = url};
	uf_http_resp resp = {.body = body, .cap = sizeof(body)};
	if (uf_http(ctx, &req, &resp) != 0)
		return 1;
	long sum = 0;
	for (int i = 0; i < n; i++) {
		long t0 = now_us();
		int r = uf_http(ctx, &req, &resp);
		us[i] = now_us() - t0;
		ok += r == 0 && resp.status == 200;
		sum += us[i];
	}
	qsort(us, (size_t)n, sizeof(*us), cmp);
	char out[160];
	int k = snprintf(out, sizeof(out), "n=%d ok=%d p50_us=%ld mean_us=%ld min_us=%ld", n, ok, us[n / 2], sum / n,
	                 us[0]);
	return uf_kv_set(ctx, "egress", out, (size_t)k) < 0;
}
