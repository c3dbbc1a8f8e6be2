/*
 * egress_call.c - makes one unit's uf_http calls with libcurl (egress_call.h).
 *
 * A connection is served by one thread (unifaasd) or process (`unifaas
 * run`'s helper) with one curl easy handle for its life, so keep-alive
 * connections and TLS sessions to the same server are reused between
 * calls; requests are answered one at a time, in order.
 *
 * Invariants: each request's URL is parsed and matched against the
 * caller's prefixes with the one rule (uf_url_parse, uf_url_allows), and
 * libcurl is given the URL rebuilt from the parsed parts (so it connects to
 * exactly the host checked), with redirects off, proxies off, http/https
 * only and certificate verification on; request header lines are checked
 * one by one and Idempotency-Key: <event id> added; never more than the
 * request's capacities is sent back; every refusal and failure is one note
 * for the caller's log (a refused URL whole; a failed call by host and port
 * only, since an allowed URL may hold a secret such as a webhook token).
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egress_call.h"

/* one call's state, shared with curl's callbacks */
struct call {
	CURL *curl;
	char *body, *hdrs;
	uint64_t cap, hcap;
	uint64_t stored, got, hstored, hfull, max;
	curl_off_t length; /* Content-Length, -1 unknown */
	int hcut, cut, too_big;
};

/* ---- socket I/O ---------------------------------------------------------- */

int eg_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int eg_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- one call ----------------------------------------------------------- */

static size_t on_header(char *b, size_t sz, size_t nm, void *arg)
{
	struct call *c = arg;
	size_t len = sz * nm;
	if (len >= 5 && !memcmp(b, "HTTP/", 5)) { /* a new response (after 1xx): start again */
		c->hstored = c->hfull = 0;
		c->hcut = 0;
		return len;
	}
	if (len <= 2 && (b[0] == '\r' || b[0] == '\n'))
		return len;
	if (!c->hcut && c->hstored + len <= c->hcap) {
		memcpy(c->hdrs + c->hstored, b, len);
		c->hstored += len;
	} else {
		c->hcut = 1; /* whole lines only */
	}
	c->hfull += len;
	return len;
}

static size_t on_body(char *b, size_t sz, size_t nm, void *arg)
{
	struct call *c = arg;
	size_t len = sz * nm;
	if (c->got == 0 && curl_easy_getinfo(c->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &c->length) != CURLE_OK)
		c->length = -1;
	if ((c->length >= 0 && (uint64_t)c->length > c->max) || c->got + len > c->max) {
		c->too_big = 1;
		return 0;
	}
	uint64_t room = c->cap - c->stored, k = len < room ? len : room;
	memcpy(c->body + c->stored, b, k);
	c->stored += k;
	c->got += len;
	/* the guest's buffer is full and the full length is known: stop here */
	if (c->stored == c->cap && c->length >= 0 && c->got < (uint64_t)c->length) {
		c->cut = 1;
		return 0;
	}
	return len;
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
		return -EPROTO;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	default:
		return -EIO;
	}
}

/* the request's header lines, checked, plus the idempotency key */
static int make_headers(const struct uf_eg_req *r, struct curl_slist **list, const char **why)
{
	char line[UF_HTTP_HEADERS_MAX + 1];
	const char *p = r->headers, *end = r->headers + r->f.headers_len;
	*list = curl_slist_append(NULL, "Expect:"); /* no 100-continue round trip */
	while (*list && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		const char *next = eol ? eol + 1 : end;
		if (eol && n && p[n - 1] == '\r')
			n--;
		if (!eol && n == 0)
			break;
		if (!uf_eg_header_line_ok(p, n, why))
			return -1;
		memcpy(line, p, n);
		line[n] = 0;
		*list = curl_slist_append(*list, line);
		p = next;
	}
	if (*list && r->f.id_len) {
		snprintf(line, sizeof(line), "Idempotency-Key: %.*s", (int)r->f.id_len, r->id);
		*list = curl_slist_append(*list, line);
	}
	if (!*list)
		*why = "out of memory";
	return *list ? 0 : -1;
}

static void set_method(CURL *h, const struct uf_eg_req *r)
{
	char m[UF_HTTP_METHOD_MAX + 1];
	snprintf(m, sizeof(m), "%.*s", (int)r->f.method_len, r->method);
	if (!strcmp(m, "GET") && !r->f.body_len) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		return;
	}
	if (!strcmp(m, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		return;
	}
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->f.body_len);
	curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, r->f.body_len ? (const char *)r->body : "");
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
}

static void configure(CURL *h, const struct eg_settings *e, const struct uf_eg_req *r, const char *url,
                      struct curl_slist *hdrs, struct call *k, char *errbuf)
{
	uint32_t t = r->f.timeout_ms && r->f.timeout_ms < e->timeout_ms ? r->f.timeout_ms : e->timeout_ms;
	curl_easy_reset(h); /* keeps the connection cache: keep-alive survives */
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)e->connect_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)t);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (e->ca) {
		struct curl_blob blob = {.data = (void *)e->ca, .len = e->ca_len, .flags = CURL_BLOB_NOCOPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "unifaas/" UNIFAAS_VERSION);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, k);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, k);
	set_method(h, r);
}

/* one connection's state */
struct conn {
	int fd;
	CURL *curl;
	const struct eg_caller *c;
	const struct eg_settings *s;
	const struct eg_hooks *h;
};

static void note(struct conn *c, const struct eg_note *n)
{
	if (c->h->note)
		c->h->note(c->h->arg, c->c, n);
}

static void note_denied(struct conn *c, const struct uf_eg_req *r, const char *cause)
{
	note(c, &(struct eg_note){.kind = "denied", .url = r->url, .url_len = r->f.url_len, .cause = cause});
}

/* the URL rebuilt from its parsed parts into url, when a prefix allows it */
static int allowed(struct conn *c, const struct uf_eg_req *r, char *url, size_t cap, struct uf_url *u)
{
	const char *why = NULL;
	if (uf_url_parse(r->url, r->f.url_len, u, &why) < 0) {
		note_denied(c, r, why);
		return 0;
	}
	for (size_t i = 0; i < c->c->n; i++) {
		struct uf_url p;
		if (uf_url_parse(c->c->prefixes[i], strlen(c->c->prefixes[i]), &p, NULL) == 0 && uf_url_allows(&p, u))
			return uf_url_format(u, url, cap) != 0;
	}
	note_denied(c, r,
	            u->https ? "no egress prefix of the manifest matches it"
	                     : "no egress prefix of the manifest matches it (plain http:// needs a prefix that says "
	                       "http://)");
	return 0;
}

/* Serves one request into k and f; body/headers buffers are k's. */
static void serve(struct conn *c, const struct uf_eg_req *r, struct call *k, struct uf_eg_resp_fixed *f)
{
	char url[UF_HTTP_URL_MAX + 16], errbuf[CURL_ERROR_SIZE] = "";
	struct uf_url u;
	struct curl_slist *hdrs = NULL;
	const char *why = NULL;
	if (!allowed(c, r, url, sizeof(url), &u)) {
		f->ret = -EPERM;
		return;
	}
	if (make_headers(r, &hdrs, &why) < 0) {
		note(c, &(struct eg_note){.kind = "refused", .host = u.host, .port = u.port, .cause = why});
		curl_slist_free_all(hdrs);
		f->ret = -EINVAL;
		return;
	}
	configure(c->curl, c->s, r, url, hdrs, k, errbuf);
	CURLcode rc = curl_easy_perform(c->curl);
	curl_slist_free_all(hdrs);
	long status = 0;
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && k->cut)) {
		f->ret = 0;
		f->status = (int32_t)status;
		f->body_full = k->cut ? (uint64_t)k->length : k->got;
		f->headers_full = k->hfull;
		f->body_len = k->stored;
		f->headers_len = k->hstored;
		return;
	}
	f->ret = k->too_big ? -EFBIG : curl_errno(rc);
	note(c, &(struct eg_note){.kind = "failed",
	                          .host = u.host,
	                          .port = u.port,
	                          .err = -f->ret,
	                          .cause = k->too_big  ? "response body larger than egress_max_response"
	                                   : errbuf[0] ? errbuf
	                                               : curl_easy_strerror(rc)});
}

static int answer(struct conn *c, const struct uf_eg_req *r)
{
	struct call k = {
	    .curl = c->curl, .cap = r->f.resp_cap, .hcap = r->f.headers_cap, .max = c->s->max_response, .length = -1};
	struct uf_eg_resp_fixed f = {.ret = -EIO};
	k.body = malloc(k.cap ? k.cap : 1);
	k.hdrs = malloc(k.hcap ? k.hcap : 1);
	if (k.body && k.hdrs)
		serve(c, r, &k, &f);
	if (f.ret != 0)
		f.body_len = f.headers_len = 0;
	if (c->h->counted)
		c->h->counted(c->h->arg, &f);
	struct uf_eg_hdr h = {.magic = UF_EG_MAGIC, .type = UF_EG_RESP, .len = sizeof(f) + f.headers_len + f.body_len};
	int rc = eg_write_full(c->fd, &h, sizeof(h)) || eg_write_full(c->fd, &f, sizeof(f)) ||
	         eg_write_full(c->fd, k.hdrs, f.headers_len) || eg_write_full(c->fd, k.body, f.body_len);
	free(k.body);
	free(k.hdrs);
	return rc ? -1 : 0;
}

int eg_serve(int fd, const struct eg_caller *caller, const struct eg_settings *s, const struct eg_hooks *hooks,
             const char **why)
{
	struct conn c = {.fd = fd, .c = caller, .s = s, .h = hooks, .curl = curl_easy_init()};
	struct uf_eg_hdr h;
	char *buf = NULL;
	int rc = -1;
	*why = "out of memory";
	if (!c.curl)
		return -1;
	for (;;) {
		struct uf_eg_req r;
		if (eg_read_full(fd, &h, sizeof(h)) < 0) {
			rc = 0; /* the unit is gone */
			break;
		}
		*why = "not a request";
		if (uf_eg_hdr_check(&h, why) < 0 || h.type != UF_EG_REQ || !(buf = malloc(h.len)) ||
		    eg_read_full(fd, buf, h.len) < 0 || uf_eg_req_parse(buf, h.len, &r, why) < 0 || answer(&c, &r) < 0)
			break;
		free(buf);
		buf = NULL;
	}
	free(buf);
	curl_easy_cleanup(c.curl);
	return rc;
}

int eg_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

/* ---- the CA bundle -------------------------------------------------------- */

static int slurp(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		char *p = realloc(*buf, *len + n + 2);
		if (!p) {
			fclose(f);
			snprintf(err, errlen, "%s: out of memory", path);
			return -1;
		}
		*buf = p;
		memcpy(*buf + *len, tmp, n);
		*len += n;
		(*buf)[(*len)++] = '\n';
	}
	fclose(f);
	return 0;
}

/* egress_ca_file: trusted in addition to the system's bundle (curl's) */
int eg_load_ca(const char *extra, char **ca, size_t *len, char *err, size_t errlen)
{
	char *sys = NULL;
	*ca = NULL;
	*len = 0;
	if (!extra[0])
		return 0;
	CURL *h = curl_easy_init();
	if (h)
		curl_easy_getinfo(h, CURLINFO_CAINFO, &sys);
	int rc = sys ? slurp(sys, ca, len, err, errlen) : 0;
	if (h)
		curl_easy_cleanup(h);
	if (rc == 0 && slurp(extra, ca, len, err, errlen) < 0)
		rc = -1;
	if (rc < 0) {
		free(*ca);
		*ca = NULL;
	}
	return rc;
}
