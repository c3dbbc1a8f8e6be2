/*
 * libc_smoke.c - exercises the parts of musl a function relies on, through
 * libuf's syscall layer: stdio with floats, malloc/realloc/free, strtod,
 * qsort, string, libm, time, getrandom, TLS (errno), env, KV, jsmn.
 * Prints one "ok NAME" line per check on stdout and exits non-zero on the
 * first failure; runtime.sh checks the lines.
 */
#include <errno.h>
#include <jsmn.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unifaas.h>

#define CHECK(name, cond)                                                                                              \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			printf("FAIL %s (line %d)\n", name, __LINE__);                                                 \
			exit(1);                                                                                       \
		}                                                                                                      \
		printf("ok %s\n", name);                                                                               \
	} while (0)

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static __thread int tls_counter = 5;

int main(void)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%.3f %g %e", 3.14159, 0.5, 12345.678);
	CHECK("printf-float", strcmp(buf, "3.142 0.5 1.234568e+04") == 0);
	CHECK("strtod", fabs(strtod("1450.25", NULL) - 1450.25) < 1e-9);
	CHECK("libm", fabs(sqrt(2.0) - 1.41421356) < 1e-6 && fabs(sin(0.0)) < 1e-12 && fabs(exp(1.0) - 2.71828) < 1e-4);

	int v[] = {5, 3, 9, 1, 7};
	qsort(v, 5, sizeof v[0], cmp_int);
	CHECK("qsort", v[0] == 1 && v[4] == 9);

	char *p = malloc(100);
	CHECK("malloc", p != NULL);
	memset(p, 'x', 100);
	p = realloc(p, 100000);
	CHECK("realloc", p != NULL && p[99] == 'x');
	free(p);
	void *big = malloc(3 << 20);
	CHECK("malloc-3MiB", big != NULL);
	memset(big, 1, 3 << 20);
	free(big);
	void *again = calloc(1, 3 << 20);
	CHECK("calloc-zeroed-after-free", again && ((char *)again)[12345] == 0 && ((char *)again)[(3 << 20) - 1] == 0);
	free(again);

	struct timespec t1, t2;
	CHECK("clock_gettime", clock_gettime(CLOCK_MONOTONIC, &t1) == 0);
	CHECK("time", time(NULL) > 1700000000);
	struct timespec d = {0, 2000000};
	nanosleep(&d, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	long ns = (t2.tv_sec - t1.tv_sec) * 1000000000L + (t2.tv_nsec - t1.tv_nsec);
	CHECK("nanosleep", ns >= 2000000);

	unsigned char r1[32] = {0}, r2[32] = {0};
	CHECK("getrandom",
	      getrandom(r1, sizeof r1, 0) == 32 && getrandom(r2, sizeof r2, 0) == 32 && memcmp(r1, r2, 32) != 0);

	errno = 0;
	CHECK("errno-tls", strtol("99999999999999999999", NULL, 10) == LONG_MAX && errno == ERANGE);
	tls_counter++;
	CHECK("thread-local", tls_counter == 6);

	const char *lim = uf_getenv("CO2_LIMIT_PPM");
	CHECK("getenv", lim && strcmp(lim, "1000") == 0);
	CHECK("getenv-absent", uf_getenv("NOPE") == NULL);

	jsmn_parser jp;
	jsmntok_t tok[8];
	jsmn_init(&jp);
	const char *js = "{\"co2\":1450}";
	CHECK("jsmn", jsmn_parse(&jp, js, strlen(js), tok, 8) == 3);

	uf_ctx *ctx = uf_context();
	int64_t n = 0;
	CHECK("kv-incr", uf_kv_incr(ctx, "count", 41, &n) == 0 && n == 41);
	CHECK("kv-incr-again", uf_kv_incr(ctx, "count", 1, &n) == 0 && n == 42);
	CHECK("kv-set", uf_kv_set(ctx, "name", "room-2.14", 9) == 0);
	size_t len = 0;
	CHECK("kv-get",
	      uf_kv_get(ctx, "name", buf, sizeof buf, &len) == 0 && len == 9 && strcmp(buf, "room-2.14") == 0);
	CHECK("kv-get-small", uf_kv_get(ctx, "name", buf, 4, &len) == -ENOBUFS && len == 9);
	CHECK("kv-incr-nonint", uf_kv_incr(ctx, "name", 1, &n) == -EINVAL);
	CHECK("kv-del", uf_kv_del(ctx, "name") == 0 && uf_kv_get(ctx, "name", buf, sizeof buf, &len) == -ENOENT);
	CHECK("kv-bad-key", uf_kv_set(ctx, "", "x", 1) == -EINVAL);
	CHECK("push-outside-event", uf_push(ctx, "q", "x", 1) == -EINVAL);

	uf_event ev;
	CHECK("pop", uf_pop(ctx, &ev, 0) == 1 && strcmp(ev.data, "first") == 0 && strcmp(ev.queue, "input") == 0 &&
	                 strcmp(ev.id, "1") == 0 && ev.len == 5);
	CHECK("push-bad-queue", uf_push(ctx, "bad queue", "x", 1) == -EINVAL);
	CHECK("push", uf_push(ctx, "out", ev.data, ev.len) == 0);
	CHECK("pop-second", uf_pop(ctx, &ev, 0) == 1 && strcmp(ev.data, "second") == 0);
	uf_push(ctx, "out", "dropped", 7);
	uf_fail(ctx);
	/* own loop: uf_fail_reason fails the event with a reason, cleaned
	 * (control characters and invalid UTF-8 become '?') */
	CHECK("pop-third", uf_pop(ctx, &ev, 0) == 1 && strcmp(ev.data, "third") == 0);
	uf_push(ctx, "out", "dropped", 7);
	CHECK("fail-reason", uf_fail_reason(ctx, "bad\nline %s \xff %d", ev.data, 7) == 0);
	/* cut to 1 KiB at a character boundary: 600 two-byte characters give 512 */
	static char e_acute[1201];
	for (int i = 0; i < 600; i++)
		memcpy(e_acute + 2 * i, "\xc3\xa9", 2);
	CHECK("pop-fourth", uf_pop(ctx, &ev, 0) == 1 && strcmp(ev.data, "fourth") == 0);
	CHECK("fail-reason-long", uf_fail_reason(ctx, "%s", e_acute) == 0);
	CHECK("pop-drained", uf_pop(ctx, &ev, 0) == 0);
	CHECK("fail-reason-outside-event", uf_fail_reason(ctx, "x") == -EINVAL);
	CHECK("defer-outside-event", uf_defer(ctx, 10, "x") == -EINVAL);
	CHECK("fail-permanent-outside-event", uf_fail_permanent(ctx, "x") == -EINVAL);
	uf_http_resp resp = {0};
	uf_http_req req = {.method = "GET", .url = "https://example.invalid/"};
	CHECK("http-enosys", uf_http(ctx, &req, &resp) == -ENOSYS);
	return 0;
}
