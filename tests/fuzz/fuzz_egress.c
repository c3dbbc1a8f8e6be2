/*
 * fuzz_egress.c - libFuzzer target for the egress rules (common/egress.c):
 * the request parser unifaasd runs on what a tender sends, the response
 * check the tender runs on what unifaasd answers, the URL parser and
 * allow-list match, and the header-line check.
 *
 * Invariants checked beyond "no crash, no out-of-bounds read": a parsed
 * request's parts lie inside the input, back to back; a URL that parses is
 * rebuilt (uf_url_format) into text that parses again to the same host,
 * port, scheme and path, which the same prefixes allow (what libcurl is
 * given is what was checked); a URL allowed by a prefix has the prefix's
 * host, port and scheme.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "egress.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

static void fuzz_url(const char *s, size_t n)
{
	static const char *prefixes[] = {"https://hooks.slack.com/services/", "https://a:8443/x", "http://10.0.0.2",
	                                 "https://[::1]/", "https://a/x?k="};
	struct uf_url u, v;
	char out[UF_HTTP_URL_MAX + 32];
	if (uf_url_parse(s, n, &u, NULL) < 0)
		return;
	check(u.path_len >= 1 && u.path[0] == '/');
	size_t k = uf_url_format(&u, out, sizeof(out));
	check(k > 0);
	check(uf_url_parse(out, k, &v, NULL) == 0 || k > UF_HTTP_URL_MAX);
	if (k <= UF_HTTP_URL_MAX)
		check(v.https == u.https && v.port == u.port && !strcmp(v.host, u.host) && v.path_len == u.path_len &&
		      !memcmp(v.path, u.path, u.path_len));
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++) {
		struct uf_url p;
		check(uf_url_parse(prefixes[i], strlen(prefixes[i]), &p, NULL) == 0);
		if (!uf_url_allows(&p, &u))
			continue;
		check(p.https == u.https && p.port == u.port && !strcmp(p.host, u.host));
		if (k <= UF_HTTP_URL_MAX)
			check(uf_url_allows(&p, &v));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	switch (data[0] % 4) {
	case 0: {
		struct uf_eg_req r;
		if (uf_eg_req_parse(p, n, &r, NULL) == 0) {
			const char *end = p + n;
			check(r.method == p + sizeof(r.f) && r.url == r.method + r.f.method_len);
			check((const char *)r.body + r.f.body_len == end);
			fuzz_url(r.url, r.f.url_len);
		}
		break;
	}
	case 1: {
		struct uf_eg_resp_fixed f;
		if (n < sizeof(f) + 16)
			return 0;
		memcpy(&f, p, sizeof(f));
		uint64_t caps[2];
		memcpy(caps, p + sizeof(f), 16);
		uint64_t len = n - sizeof(f) - 16;
		if (uf_eg_resp_check(&f, len, caps[0], caps[1], NULL) == 0)
			check(f.body_len <= caps[0] && f.headers_len <= caps[1] &&
			      sizeof(f) + f.body_len + f.headers_len == len);
		break;
	}
	case 2:
		fuzz_url(p, n);
		break;
	default: {
		const char *why;
		if (uf_eg_header_line_ok(p, n, &why))
			check(!memchr(p, '\r', n) && !memchr(p, '\n', n) && memchr(p, ':', n));
	}
	}
	return 0;
}
