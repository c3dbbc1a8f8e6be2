/*
 * test_egress.c - the egress rules of common/egress.h: the allow-list
 * match (confusable hosts, ports, schemes, dot segments, userinfo, segment
 * boundaries) and the tender <-> unifaasd wire parsers (every length that
 * does not add up, every limit, every byte of a valid message truncated or
 * flipped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "egress.h"

/* whether prefix allows url (both must parse, or the answer is "no") */
static int allows(const char *prefix, const char *url)
{
	struct uf_url p, u;
	if (uf_url_parse(prefix, strlen(prefix), &p, NULL) < 0)
		fail_msg("prefix %s does not parse", prefix);
	if (uf_url_parse(url, strlen(url), &u, NULL) < 0)
		return 0;
	return uf_url_allows(&p, &u);
}

static const char *refusal(const char *url)
{
	struct uf_url u;
	const char *why = NULL;
	return uf_url_parse(url, strlen(url), &u, &why) < 0 ? why : NULL;
}

static void test_allow_list(void **state)
{
	(void)state;
	const char *slack = "https://hooks.slack.com/services/T0/B0/XX";
	assert_true(allows(slack, slack));
	assert_true(allows("https://hooks.slack.com", "https://hooks.slack.com/services/x"));
	assert_true(allows("https://hooks.slack.com", "https://HOOKS.Slack.com/"));
	assert_true(allows("https://hooks.slack.com", "https://hooks.slack.com:443/a"));
	assert_true(allows("HTTPS://hooks.slack.com/", "https://hooks.slack.com/a?b=c"));
	/* confusable hosts */
	assert_false(allows("https://hooks.slack.com", "https://hooks.slack.com.evil.example/"));
	assert_false(allows("https://hooks.slack.com", "https://evilhooks.slack.com/"));
	assert_false(allows("https://hooks.slack.com", "https://hooks.slack.com@evil.example/"));
	assert_false(allows("https://hooks.slack.com", "https://evil.example#@hooks.slack.com/"));
	assert_false(allows("https://hooks.slack.com", "https://evil.example\\@hooks.slack.com/"));
	assert_false(allows("https://hooks.slack.com", "https://hooks.slack.com./"));
	assert_false(allows("https://hooks.slack.com", "https://hooks%2eslack.com/"));
	/* ports and schemes */
	assert_false(allows("https://a", "https://a:8443/"));
	assert_true(allows("https://a:8443", "https://a:8443/x"));
	assert_false(allows("https://a", "http://a/"));
	assert_false(allows("https://a:80", "http://a:80/"));
	assert_true(allows("http://bulb.local/api", "http://bulb.local/api/lights"));
	assert_false(allows("http://a", "https://a/"));
	/* paths: segment boundaries and dot segments */
	assert_true(allows("https://a/x", "https://a/x"));
	assert_true(allows("https://a/x", "https://a/x/y"));
	assert_true(allows("https://a/x", "https://a/x?q=1"));
	assert_false(allows("https://a/x", "https://a/xy"));
	assert_false(allows("https://a/x/", "https://a/x"));
	assert_false(allows("https://a/x/", "https://a/x/../y"));
	assert_false(allows("https://a/x/", "https://a/x/./../y"));
	assert_false(allows("https://a/x/", "https://a/x/%2e%2e/y"));
	assert_false(allows("https://a/x/", "https://a/x/.%2E/y"));
	assert_false(allows("https://a/x/", "https://a/x/..%2fy"));
	assert_false(allows("https://a/x/", "https://a/x/%2F../y"));
	assert_false(allows("https://a/x/", "https://a/x/.."));
	/* a dot segment with path parameters: Tomcat and Jetty read "..;/" as "../" */
	assert_false(allows("https://a/x/", "https://a/x/..;/y"));
	assert_false(allows("https://a/x/", "https://a/x/..;jsessionid=1/y"));
	assert_false(allows("https://a/x/", "https://a/x/.%2e;/y"));
	assert_false(allows("https://a/x/", "https://a/x/..%3B/y"));
	assert_false(allows("https://a/x/", "https://a/x/.;"));
	assert_true(allows("https://a/x/", "https://a/x/y;v=1"));
	assert_true(allows("https://a/x/", "https://a/x/;/y"));
	assert_true(allows("https://a/x/", "https://a/x/...;/y"));
	assert_true(allows("https://a/x/", "https://a/x/...y"));
	assert_true(allows("https://a/x/", "https://a/x/y?p=../z"));
	assert_true(allows("https://a/x?k=", "https://a/x?k=v"));
	assert_false(allows("https://a/X", "https://a/x"));
	/* IPv6 literals */
	assert_true(allows("https://[::1]:8443/", "https://[::1]:8443/a"));
	assert_false(allows("https://[::1]/", "https://[::2]/a"));
	/* refusals, with their reasons */
	assert_non_null(refusal("https://u:p@a/"));
	assert_non_null(refusal("ftp://a/"));
	assert_non_null(refusal("https:/a"));
	assert_non_null(refusal("https://a/b c"));
	assert_non_null(refusal("https://a/\x01"));
	assert_non_null(refusal("https://a/\xc3\xa9"));
	assert_non_null(refusal("https://a:/"));
	assert_non_null(refusal("https://a:65536/"));
	assert_non_null(refusal("https://a?x"));
	assert_non_null(refusal("https://a/%zz"));
	assert_non_null(refusal("https://a/%2"));
	assert_non_null(refusal("https://[::1/"));
	assert_non_null(refusal("https://[::1]x/"));
	assert_null(refusal("https://a/%41"));
	char longer[UF_HTTP_URL_MAX + 2];
	memset(longer, 'a', sizeof(longer) - 1);
	memcpy(longer, "https://a/", 10);
	longer[sizeof(longer) - 1] = 0;
	assert_non_null(refusal(longer));
	longer[sizeof(longer) - 2] = 0;
	assert_null(refusal(longer));
}

static void test_format(void **state)
{
	(void)state;
	struct uf_url u;
	char out[64];
	const char *s = "HTTPS://Hooks.Slack.com/services/x?a=1";
	assert_int_equal(uf_url_parse(s, strlen(s), &u, NULL), 0);
	assert_int_not_equal(uf_url_format(&u, out, sizeof(out)), 0);
	assert_string_equal(out, "https://hooks.slack.com:443/services/x?a=1");
	assert_int_equal(uf_url_format(&u, out, 10), 0);
	s = "http://10.0.0.2";
	assert_int_equal(uf_url_parse(s, strlen(s), &u, NULL), 0);
	uf_url_format(&u, out, sizeof(out));
	assert_string_equal(out, "http://10.0.0.2:80/");
}

/* a refused URL in a log line: its origin, never its path or query */
static void test_loggable(void **state)
{
	(void)state;
	char out[128];
	const char *s = "https://Hooks.Slack.com/services/T0/B0/SECRETTOKEN?k=SECRET2";
	uf_url_loggable(s, strlen(s), out, sizeof(out));
	assert_string_equal(out, "https://hooks.slack.com:443/... (path of 37 bytes not shown)");
	s = "https://user:SECRET@hooks.slack.com/x"; /* refused by the parser: nothing of it */
	uf_url_loggable(s, strlen(s), out, sizeof(out));
	assert_string_equal(out, "(a URL of 37 bytes, not shown)");
	uf_url_loggable(s, strlen(s), out, 8);
	assert_string_equal(out, "(a URL ");
}

/* a request message as the tender builds it */
static size_t build_req(char *buf, const char *method, const char *url, const char *hdrs, const char *id,
                        const char *body)
{
	struct uf_eg_req_fixed f = {
	    .method_len = (uint32_t)strlen(method),
	    .url_len = (uint32_t)strlen(url),
	    .headers_len = (uint32_t)strlen(hdrs),
	    .id_len = (uint32_t)strlen(id),
	    .body_len = strlen(body),
	    .resp_cap = 100,
	    .headers_cap = 50,
	};
	struct uf_eg_hdr h;
	assert_int_equal(uf_eg_req_head(&h, &f, NULL), 0);
	assert_int_equal(uf_eg_hdr_check(&h, NULL), 0);
	size_t n = 0;
	memcpy(buf + n, &f, sizeof(f)), n += sizeof(f);
	memcpy(buf + n, method, f.method_len), n += f.method_len;
	memcpy(buf + n, url, f.url_len), n += f.url_len;
	memcpy(buf + n, hdrs, f.headers_len), n += f.headers_len;
	memcpy(buf + n, id, f.id_len), n += f.id_len;
	memcpy(buf + n, body, f.body_len), n += f.body_len;
	assert_int_equal(n, h.len);
	return n;
}

static void test_wire_req(void **state)
{
	(void)state;
	char buf[1024];
	struct uf_eg_req r;
	const char *why = NULL;
	size_t n = build_req(buf, "POST", "https://a/x", "A: b\r\n", "1700000000000-0", "{}");
	assert_int_equal(uf_eg_req_parse(buf, n, &r, &why), 0);
	assert_memory_equal(r.method, "POST", 4);
	assert_memory_equal(r.url, "https://a/x", 11);
	assert_memory_equal(r.headers, "A: b\r\n", 6);
	assert_memory_equal(r.id, "1700000000000-0", 15);
	assert_memory_equal(r.body, "{}", 2);
	/* every truncation and every extension is refused */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(uf_eg_req_parse(buf, k, &r, &why), -1);
	assert_int_equal(uf_eg_req_parse(buf, n + 1, &r, &why), -1);
	/* bad method, bad id */
	n = build_req(buf, "post", "https://a/x", "", "", "");
	assert_int_equal(uf_eg_req_parse(buf, n, &r, &why), -1);
	n = build_req(buf, "GET", "https://a/x", "", "a b", "");
	assert_int_equal(uf_eg_req_parse(buf, n, &r, &why), -1);
	/* lengths past their limits, even when they add up */
	struct uf_eg_req_fixed f = {.method_len = 3, .url_len = UF_HTTP_URL_MAX + 1};
	struct uf_eg_hdr h;
	assert_int_equal(uf_eg_req_head(&h, &f, &why), -1);
	f = (struct uf_eg_req_fixed){.method_len = 3, .url_len = 1, .body_len = UINT64_MAX - 10};
	memcpy(buf, &f, sizeof(f));
	assert_int_equal(uf_eg_req_parse(buf, sizeof(f) + 4, &r, &why), -1);
	f = (struct uf_eg_req_fixed){.method_len = 3, .url_len = 1, .resp_cap = UF_HTTP_RESP_MAX + 1};
	assert_int_equal(uf_eg_req_head(&h, &f, &why), -1);
	f = (struct uf_eg_req_fixed){.method_len = 0, .url_len = 1};
	assert_int_equal(uf_eg_req_head(&h, &f, &why), -1);
	/* headers of messages */
	h = (struct uf_eg_hdr){.magic = UF_EG_MAGIC, .type = UF_EG_HELLO, .len = UF_EG_TOKEN_LEN};
	assert_int_equal(uf_eg_hdr_check(&h, &why), 0);
	h.len = UF_EG_TOKEN_LEN - 1;
	assert_int_equal(uf_eg_hdr_check(&h, &why), -1);
	h = (struct uf_eg_hdr){.magic = UF_EG_MAGIC ^ 1, .type = UF_EG_REQ, .len = 10};
	assert_int_equal(uf_eg_hdr_check(&h, &why), -1);
	h = (struct uf_eg_hdr){.magic = UF_EG_MAGIC, .type = 9, .len = 10};
	assert_int_equal(uf_eg_hdr_check(&h, &why), -1);
	h = (struct uf_eg_hdr){.magic = UF_EG_MAGIC, .type = UF_EG_REQ, .len = UF_EG_REQ_MAX + 1};
	assert_int_equal(uf_eg_hdr_check(&h, &why), -1);
}

static void test_wire_resp(void **state)
{
	(void)state;
	const char *why;
	struct uf_eg_resp_fixed f = {
	    .ret = 0, .status = 200, .body_full = 5000, .headers_full = 20, .body_len = 100, .headers_len = 20};
	uint64_t len = sizeof(f) + 120;
	assert_int_equal(uf_eg_resp_check(&f, len, 100, 50, &why), 0);
	assert_int_equal(uf_eg_resp_check(&f, len + 1, 100, 50, &why), -1);
	assert_int_equal(uf_eg_resp_check(&f, len, 99, 50, &why), -1); /* more than the capacity */
	assert_int_equal(uf_eg_resp_check(&f, len, 100, 19, &why), -1);
	assert_int_equal(uf_eg_resp_check(&f, 4, 100, 50, &why), -1);
	f.body_full = 99; /* more returned than there was */
	assert_int_equal(uf_eg_resp_check(&f, len, 100, 50, &why), -1);
	f.body_full = 100;
	f.status = 42;
	assert_int_equal(uf_eg_resp_check(&f, len, 100, 50, &why), -1);
	f = (struct uf_eg_resp_fixed){.ret = 1};
	assert_int_equal(uf_eg_resp_check(&f, sizeof(f), 100, 50, &why), -1);
	f = (struct uf_eg_resp_fixed){.ret = -1};
	assert_int_equal(uf_eg_resp_check(&f, sizeof(f), 100, 50, &why), 0);
}

static void test_header_lines(void **state)
{
	(void)state;
	const char *why;
#define OK(s) uf_eg_header_line_ok(s, strlen(s), &why)
	assert_true(OK("Content-Type: application/json"));
	assert_true(OK("X-A:"));
	assert_true(OK("Authorization: Bearer x\ty"));
	assert_false(OK("Host: evil.example"));
	assert_false(OK("host: evil.example"));
	assert_false(OK("Idempotency-Key: x"));
	assert_false(OK("Transfer-Encoding: chunked"));
	assert_false(OK("Content-Length: 5"));
	assert_false(OK("No colon"));
	assert_false(OK(": empty name"));
	assert_false(OK("Bad Name: x"));
	assert_false(OK("X: a\rb"));
	assert_false(OK("X: a\nInjected: b"));
#undef OK
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_allow_list), cmocka_unit_test(test_format),       cmocka_unit_test(test_wire_req),
	    cmocka_unit_test(test_wire_resp),  cmocka_unit_test(test_header_lines), cmocka_unit_test(test_loggable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
