/*
 * egress_fn.c - the function tests/integration/egress.sh deploys: one
 * uf_http call per event, its outcome kept in KV for the test to read.
 * An event is "TAG METHOD URL CAP [TIMEOUT_MS]": the call is made with a
 * body buffer of CAP bytes (and 4 KiB for the headers) and, for POST, the
 * body "ping".  KV TAG gets "ret=R status=S len=L hlen=H sum=C xtest=X
 * body=B": the return value, status, full body and header lengths, the sum
 * of the body bytes received (mod 2^32), the value of the X-Test response
 * header (or -) and the first 64 bytes of the body (or -); then " ms=T",
 * how long the call took (monotonic clock, in the guest).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unifaas.h>

static char body[1 << 20], hdrs[4096];

/* the value of response header `name`, up to its CRLF, or "-" */
static void header(const char *h, size_t n, const char *name, char *out, size_t cap)
{
	size_t k = strlen(name);
	snprintf(out, cap, "-");
	for (const char *p = h; p && p < h + n;) {
		if (!strncasecmp(p, name, k) && p[k] == ':') {
			const char *v = p + k + 1 + (p[k + 1] == ' ');
			size_t vl = strcspn(v, "\r\n");
			snprintf(out, cap, "%.*s", (int)vl, v);
			return;
		}
		p = strstr(p, "\r\n");
		p = p ? p + 2 : NULL;
	}
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	char tag[64], method[16], url[2100];
	unsigned long cap = 0, timeout = 0;
	if (sscanf(ev->data, "%63s %15s %2099s %lu %lu", tag, method, url, &cap, &timeout) < 4 || cap > sizeof(body))
		return 1;
	uf_http_req req = {.method = method, .url = url, .timeout_ms = (unsigned)timeout};
	if (!strcmp(method, "POST")) {
		req.body = "ping";
		req.body_len = 4;
		req.headers = "Content-Type: text/plain\r\nX-From: egress_fn\r\n";
	}
	uf_http_resp resp = {.body = cap ? body : NULL, .cap = cap, .headers = hdrs, .headers_cap = sizeof(hdrs)};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = uf_http(ctx, &req, &resp);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	unsigned sum = 0;
	size_t got = r == 0 ? (resp.len < cap ? resp.len : cap) : 0;
	for (size_t i = 0; i < got; i++)
		sum += (unsigned char)body[i];
	char xtest[128], out[512];
	header(hdrs, r == 0 ? (resp.headers_len < sizeof(hdrs) ? resp.headers_len : 0) : 0, "X-Test", xtest,
	       sizeof(xtest));
	int n = snprintf(out, sizeof(out), "ret=%d status=%d len=%zu hlen=%zu sum=%u xtest=%s body=%.*s ms=%ld", r,
	                 r == 0 ? resp.status : 0, r == 0 ? resp.len : 0, r == 0 ? resp.headers_len : 0, sum, xtest,
	                 got ? (int)(got < 64 ? got : 64) : 1, got ? body : "-", ms);
	return uf_kv_set(ctx, tag, out, (size_t)n) < 0;
}
