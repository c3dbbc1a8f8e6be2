/*
 * egress.h - outbound HTTP(S) of functions (uf_http): the rules the tender,
 * unifaasd and the manifest checker share, defined once.
 *
 * 1. The allow-list rule.  A URL is allowed when one of the function's
 *    manifest `egress:` prefixes matches it component by component, never
 *    as a string: same scheme (an https:// prefix never allows http://),
 *    same host (lower-cased; `hooks.slack.com` never matches
 *    `hooks.slack.com.evil.example`), same port (defaults 443 and 80), and
 *    the URL's path starts with the prefix's path at a segment boundary
 *    (`/x` allows `/x`, `/x/y` and `/x?q`, not `/xy`; a prefix ending in
 *    '/' or holding a '?' matches as written).  URLs with userinfo
 *    (`user@host`), a fragment, dot segments (`/a/../b`, also %2e-encoded
 *    or with path parameters, `/a/..;x/b`),
 *    an encoded '/' or '\' (%2f, %5c), a backslash, spaces or control bytes
 *    are refused outright, so no server can read a path differently from
 *    the one checked.  unifaasd gives libcurl the URL rebuilt from the
 *    parsed parts (uf_url_format), never the guest's text.
 *
 * 2. The wire format between a tender and unifaasd's egress server, over a
 *    unix stream socket the tender connects to before it sandboxes itself.
 *    Every message is a struct uf_eg_hdr (magic, type, payload length)
 *    then the payload:
 *      HELLO  tender -> daemon, once, first: the unit's secret token
 *             (UF_EG_TOKEN_LEN hex characters, from its environment).
 *      REQ    tender -> daemon: struct uf_eg_req_fixed, then method, URL,
 *             header lines, event id and body, back to back.
 *      RESP   daemon -> tender, one per REQ, in order: struct
 *             uf_eg_resp_fixed, then the header lines and the body bytes
 *             returned (at most the capacities the REQ gave).
 *    Both ends run on one host: fields are in host byte order.
 *
 * Invariants: pure functions (no I/O), explicit lengths (bytes may come
 * from guest memory), builds with glibc and musl.  The parsers accept only
 * what the encoders can produce; tests/unit/test_egress.c and the fuzz
 * target check them.
 */
#ifndef UF_EGRESS_H
#define UF_EGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "uf_abi.h"

/* ---- URLs and the allow-list ---------------------------------------------- */

#define UF_URL_HOST_MAX 253u

struct uf_url {
	int https;                      /* 1 https, 0 http */
	char host[UF_URL_HOST_MAX + 3]; /* lower case; an IPv6 literal keeps its brackets */
	uint16_t port;                  /* explicit, or 443 / 80 */
	const char *path;               /* into the parsed text: "/..." with the query; "/" if empty */
	size_t path_len;
};

/* Parses [s, s+n) as an absolute http(s) URL under the rules above: 0, or
 * -1 with *why (static text: "has userinfo (user@host)", ...). */
int uf_url_parse(const char *s, size_t n, struct uf_url *u, const char **why);

/* Whether `url` is allowed by `prefix` (both parsed). */
int uf_url_allows(const struct uf_url *prefix, const struct uf_url *url);

/* "https://host:port/path" into out (cap bytes); the length, or 0 if it
 * does not fit. */
size_t uf_url_format(const struct uf_url *u, char *out, size_t cap);

/* What a log line may show of the URL [s, s+n) a function called:
 * "https://host:port/... (path of N bytes not shown)" when it parses, else
 * "(a URL of N bytes, not shown)".  Never its path or query, which may hold
 * a secret (a Slack webhook's token is its path) even when the URL is
 * refused.  Into out (cap bytes, always NUL-terminated when cap > 0). */
void uf_url_loggable(const char *s, size_t n, char *out, size_t cap);

/* ---- the wire -------------------------------------------------------------- */

#define UF_EG_MAGIC     0x47454655u /* "UFEG" */
#define UF_EG_HELLO     1u
#define UF_EG_REQ       2u
#define UF_EG_RESP      3u
#define UF_EG_TOKEN_LEN 64u /* hex characters: 32 random bytes */
#define UF_EG_TOKEN_ENV "UF_EGRESS_TOKEN"

struct uf_eg_hdr {
	uint32_t magic; /* UF_EG_MAGIC */
	uint32_t type;  /* UF_EG_* */
	uint64_t len;   /* payload bytes that follow */
};

struct uf_eg_req_fixed {
	uint32_t method_len, url_len, headers_len, id_len;
	uint64_t body_len;
	uint64_t resp_cap;    /* most body bytes to return */
	uint64_t headers_cap; /* most header-line bytes to return */
	uint32_t timeout_ms;  /* 0: the server's default */
	uint32_t pad;
};

struct uf_eg_resp_fixed {
	int32_t ret;                      /* 0 or -errno */
	int32_t status;                   /* HTTP status, with ret 0 */
	uint64_t body_full, headers_full; /* full lengths */
	uint64_t body_len, headers_len;   /* bytes that follow: headers, then body */
};

/* A request as parsed: pointers into the payload. */
struct uf_eg_req {
	struct uf_eg_req_fixed f;
	const char *method, *url, *headers, *id;
	const void *body;
};

/* The longest payloads either side accepts. */
#define UF_EG_REQ_MAX                                                                                                  \
	(sizeof(struct uf_eg_req_fixed) + UF_HTTP_METHOD_MAX + UF_HTTP_URL_MAX + UF_HTTP_HEADERS_MAX + UF_ID_MAX +     \
	 UF_HTTP_BODY_MAX)
#define UF_EG_RESP_MAX (sizeof(struct uf_eg_resp_fixed) + UF_HTTP_RESP_HEADERS_MAX + UF_HTTP_RESP_MAX)

/* A message header as read: 0, or -1 with *why (bad magic, unknown type,
 * payload longer than that type allows). */
int uf_eg_hdr_check(const struct uf_eg_hdr *h, const char **why);

/* Fills hdr + fixed for a request whose parts have these lengths; 0, or -1
 * with *why when a length is past its UF_HTTP_* limit. */
int uf_eg_req_head(struct uf_eg_hdr *hdr, struct uf_eg_req_fixed *f, const char **why);

/* A REQ payload [p, p+len): 0 and *r, or -1 with *why.  Checks the lengths
 * add up, each within its limit, the method 1..16 of A-Z, the event id
 * printable ASCII without spaces.  The URL and header lines are checked by
 * the server (uf_url_parse, uf_eg_header_line_ok). */
int uf_eg_req_parse(const void *p, size_t len, struct uf_eg_req *r, const char **why);

/* The fixed part of a RESP payload of `len` bytes answering a request with
 * these capacities: 0, or -1 with *why. */
int uf_eg_resp_check(const struct uf_eg_resp_fixed *f, uint64_t len, uint64_t resp_cap, uint64_t headers_cap,
                     const char **why);

/* One request header line (without its CRLF): "Name: value", Name a token,
 * the value printable (tab allowed), and not a header the platform sets or
 * that would change where the request goes (Host, Content-Length,
 * Transfer-Encoding, Connection, Expect, Idempotency-Key).  1 or 0 with *why. */
int uf_eg_header_line_ok(const char *s, size_t n, const char **why);

#endif
