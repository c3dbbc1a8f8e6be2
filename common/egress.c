/*
 * egress.c - the egress rules of egress.h: URL parsing and the allow-list
 * match (used by the manifest checker and unifaasd's egress server), and
 * the tender <-> unifaasd wire format (encoders and parsers).
 *
 * Invariants: pure (no I/O, no globals), explicit lengths; a parser never
 * reads past the length it is given and checks every sum for overflow
 * before using it.
 */
#include <stdio.h>
#include <string.h>

#include "egress.h"

static int fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -1;
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int prefix_ci(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);
	if (n < k)
		return 0;
	for (size_t i = 0; i < k; i++)
		if (lower(s[i]) != p[i])
			return 0;
	return 1;
}

/* a registered name: labels of [a-z0-9-] joined by single dots */
static int parse_name_host(const char *s, size_t n, struct uf_url *u, const char **why)
{
	if (n == 0)
		return fail(why, "has no host after the scheme");
	if (n > UF_URL_HOST_MAX)
		return fail(why, "has a host name longer than 253 bytes");
	for (size_t i = 0; i < n; i++) {
		char c = lower(s[i]);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return fail(why, "has a host with characters other than letters, digits, '-' and '.'");
		if (c == '.' && (i == 0 || i == n - 1 || s[i - 1] == '.'))
			return fail(why, "has a host with an empty label (leading, trailing or doubled '.')");
		u->host[i] = c;
	}
	u->host[n] = 0;
	return 0;
}

/* "[v6]" with only hex digits, ':' and '.' inside */
static int parse_v6_host(const char *s, size_t n, struct uf_url *u, const char **why)
{
	if (n < 3 || n > 47 || s[n - 1] != ']')
		return fail(why, "has a malformed IPv6 literal");
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
			return fail(why, "has a malformed IPv6 literal");
	for (size_t i = 0; i < n; i++)
		u->host[i] = lower(s[i]);
	u->host[n] = 0;
	return 0;
}

static int parse_port(const char *s, size_t n, struct uf_url *u, const char **why)
{
	unsigned long v = 0;
	if (n == 0 || n > 5)
		return fail(why, "has a malformed port (expected 1..65535)");
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return fail(why, "has a malformed port (expected 1..65535)");
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return fail(why, "has a malformed port (expected 1..65535)");
	u->port = (uint16_t)v;
	return 0;
}

static int parse_authority(const char *s, size_t n, struct uf_url *u, const char **why)
{
	if (memchr(s, '@', n))
		return fail(why, "has userinfo (user@host): credentials go in a header, never in the URL");
	size_t host_end = n;
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		host_end = close ? (size_t)(close - s) + 1 : n;
		if (host_end < n && s[host_end] != ':')
			return fail(why, "has a malformed IPv6 literal");
		if (parse_v6_host(s, host_end, u, why) < 0)
			return -1;
	} else {
		const char *colon = memchr(s, ':', n);
		host_end = colon ? (size_t)(colon - s) : n;
		if (parse_name_host(s, host_end, u, why) < 0)
			return -1;
	}
	u->port = u->https ? 443 : 80;
	return host_end < n ? parse_port(s + host_end + 1, n - host_end - 1, u, why) : 0;
}

/* the path before any '?': no dot segments (also %2e-encoded, and with
 * path parameters: "..;x" is ".." to Tomcat and Jetty), no encoded '/' or
 * '\', every '%' followed by two hex digits */
static int check_path(const char *p, size_t n, const char **why)
{
	size_t q = n;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '?' && q == n)
			q = i;
		if (p[i] != '%')
			continue;
		if (i + 2 >= n || !is_hex(p[i + 1]) || !is_hex(p[i + 2]))
			return fail(why, "has a '%' not followed by two hex digits");
		char a = p[i + 1], b = lower(p[i + 2]);
		if (i < q && ((a == '2' && b == 'f') || (a == '5' && b == 'c')))
			return fail(why, "has an encoded '/' or '\\' (%2f, %5c) in its path");
	}
	size_t seg = 0, dots = 0, other = 0, params = 0;
	for (size_t i = 0; i <= q; i++) {
		if (i == q || p[i] == '/') {
			if (i > seg && other == 0 && (dots == 1 || dots == 2))
				return fail(why, "has a dot segment ('.' or '..', also as '..;') in its path");
			seg = i + 1;
			dots = other = params = 0;
		} else if (params) {
			continue; /* the segment's parameters: not its name */
		} else if (p[i] == ';' || (p[i] == '%' && i + 2 < q && p[i + 1] == '3' && lower(p[i + 2]) == 'b')) {
			params = 1;
		} else if (p[i] == '.') {
			dots++;
		} else if (p[i] == '%' && i + 2 < q && p[i + 1] == '2' && lower(p[i + 2]) == 'e') {
			dots++;
			i += 2;
		} else {
			other++;
		}
	}
	return 0;
}

int uf_url_parse(const char *s, size_t n, struct uf_url *u, const char **why)
{
	memset(u, 0, sizeof(*u));
	if (n > UF_HTTP_URL_MAX)
		return fail(why, "is longer than 2048 bytes");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '\\')
			return fail(why, "contains a space, a control byte, a backslash or a non-ASCII byte "
			                 "(percent-encode it)");
	}
	size_t i;
	if (prefix_ci(s, n, "https://"))
		u->https = 1, i = 8;
	else if (prefix_ci(s, n, "http://"))
		i = 7;
	else
		return fail(why, "does not start with https:// or http://");
	if (memchr(s, '#', n))
		return fail(why, "has a fragment ('#')");
	size_t a = i;
	while (a < n && s[a] != '/' && s[a] != '?')
		a++;
	if (parse_authority(s + i, a - i, u, why) < 0)
		return -1;
	if (a < n && s[a] == '?')
		return fail(why, "has a query without a path (write host/?query)");
	u->path = a < n ? s + a : "/";
	u->path_len = a < n ? n - a : 1;
	return check_path(u->path, u->path_len, why);
}

int uf_url_allows(const struct uf_url *prefix, const struct uf_url *url)
{
	const struct uf_url *p = prefix, *u = url;
	if (p->https != u->https || p->port != u->port || strcmp(p->host, u->host))
		return 0;
	if (u->path_len < p->path_len || memcmp(u->path, p->path, p->path_len))
		return 0;
	if (u->path_len == p->path_len || p->path[p->path_len - 1] == '/' || memchr(p->path, '?', p->path_len))
		return 1;
	char next = u->path[p->path_len];
	return next == '/' || next == '?';
}

size_t uf_url_format(const struct uf_url *u, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s://%s:%u%.*s", u->https ? "https" : "http", u->host, (unsigned)u->port,
	                 (int)u->path_len, u->path);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void uf_url_loggable(const char *s, size_t n, char *out, size_t cap)
{
	struct uf_url u;
	if (uf_url_parse(s, n, &u, NULL) == 0)
		snprintf(out, cap, "%s://%s:%u/... (path of %zu bytes not shown)", u.https ? "https" : "http", u.host,
		         (unsigned)u.port, u.path_len);
	else
		snprintf(out, cap, "(a URL of %zu bytes, not shown)", n);
}

/* ---- the wire ------------------------------------------------------------ */

int uf_eg_hdr_check(const struct uf_eg_hdr *h, const char **why)
{
	if (h->magic != UF_EG_MAGIC)
		return fail(why, "bad magic");
	uint64_t max = h->type == UF_EG_HELLO  ? UF_EG_TOKEN_LEN
	               : h->type == UF_EG_REQ  ? UF_EG_REQ_MAX
	               : h->type == UF_EG_RESP ? UF_EG_RESP_MAX
	                                       : 0;
	if (!max)
		return fail(why, "unknown message type");
	if (h->len > max || (h->type == UF_EG_HELLO && h->len != UF_EG_TOKEN_LEN))
		return fail(why, "payload length out of bounds");
	return 0;
}

static int lengths_ok(const struct uf_eg_req_fixed *f, const char **why)
{
	if (f->method_len == 0 || f->method_len > UF_HTTP_METHOD_MAX)
		return fail(why, "method length out of bounds");
	if (f->url_len == 0 || f->url_len > UF_HTTP_URL_MAX)
		return fail(why, "URL length out of bounds");
	if (f->headers_len > UF_HTTP_HEADERS_MAX)
		return fail(why, "header lines too long");
	if (f->id_len > UF_ID_MAX)
		return fail(why, "event id too long");
	if (f->body_len > UF_HTTP_BODY_MAX)
		return fail(why, "body too long");
	if (f->resp_cap > UF_HTTP_RESP_MAX || f->headers_cap > UF_HTTP_RESP_HEADERS_MAX)
		return fail(why, "response capacity out of bounds");
	if (f->timeout_ms > UF_HTTP_TIMEOUT_MAX)
		return fail(why, "timeout out of bounds");
	return 0;
}

static uint64_t req_payload_len(const struct uf_eg_req_fixed *f)
{
	return sizeof(*f) + (uint64_t)f->method_len + f->url_len + f->headers_len + f->id_len + f->body_len;
}

int uf_eg_req_head(struct uf_eg_hdr *hdr, struct uf_eg_req_fixed *f, const char **why)
{
	if (lengths_ok(f, why) < 0)
		return -1;
	f->pad = 0;
	*hdr = (struct uf_eg_hdr){.magic = UF_EG_MAGIC, .type = UF_EG_REQ, .len = req_payload_len(f)};
	return 0;
}

int uf_eg_req_parse(const void *p, size_t len, struct uf_eg_req *r, const char **why)
{
	memset(r, 0, sizeof(*r));
	if (len < sizeof(r->f))
		return fail(why, "request shorter than its fixed part");
	memcpy(&r->f, p, sizeof(r->f));
	if (lengths_ok(&r->f, why) < 0) /* bounded lengths: the sum cannot overflow */
		return -1;
	if (req_payload_len(&r->f) != len)
		return fail(why, "request lengths do not add up to its size");
	const char *c = (const char *)p + sizeof(r->f);
	r->method = c;
	r->url = c += r->f.method_len;
	r->headers = c += r->f.url_len;
	r->id = c += r->f.headers_len;
	r->body = c + r->f.id_len;
	for (uint32_t i = 0; i < r->f.method_len; i++)
		if (r->method[i] < 'A' || r->method[i] > 'Z')
			return fail(why, "method is not 1..16 letters A-Z");
	for (uint32_t i = 0; i < r->f.id_len; i++)
		if (r->id[i] <= 0x20 || r->id[i] >= 0x7f)
			return fail(why, "event id is not printable ASCII without spaces");
	return 0;
}

int uf_eg_resp_check(const struct uf_eg_resp_fixed *f, uint64_t len, uint64_t resp_cap, uint64_t headers_cap,
                     const char **why)
{
	if (len < sizeof(*f))
		return fail(why, "response shorter than its fixed part");
	if (f->ret > 0 || f->ret < -4095 || (f->ret == 0 && (f->status < 100 || f->status > 999)))
		return fail(why, "response status out of bounds");
	if (f->body_len > resp_cap || f->headers_len > headers_cap || f->body_len > f->body_full ||
	    f->headers_len > f->headers_full)
		return fail(why, "response lengths past the request's capacities");
	if (sizeof(*f) + f->body_len + f->headers_len != len)
		return fail(why, "response lengths do not add up to its size");
	return 0;
}

static int tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int name_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && prefix_ci(s, n, name);
}

int uf_eg_header_line_ok(const char *s, size_t n, const char **why)
{
	static const char *reserved[] = {"host",       "content-length", "transfer-encoding",
	                                 "connection", "expect",         "idempotency-key"};
	const char *colon = memchr(s, ':', n);
	if (!colon || colon == s)
		return fail(why, "a header line is not 'Name: value'"), 0;
	size_t k = (size_t)(colon - s);
	for (size_t i = 0; i < k; i++)
		if (!tchar(s[i]))
			return fail(why, "a header name has a character that is not allowed"), 0;
	for (size_t i = k + 1; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return fail(why, "a header value has a control byte (lines end in \\r\\n)"), 0;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(*reserved); i++)
		if (name_is(s, k, reserved[i]))
			return fail(why, "a header the platform sets itself (Host, Content-Length, Transfer-Encoding, "
			                 "Connection, Expect, Idempotency-Key)"),
			       0;
	return 1;
}
