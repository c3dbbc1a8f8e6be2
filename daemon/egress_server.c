/*
 * egress_server.c - the egress server: makes units' uf_http calls with
 * libcurl, only to the URLs their manifest's `egress:` prefixes allow.
 *
 * Why here: the tender is a static musl binary under seccomp and cannot
 * carry glibc's libcurl or open sockets after setup; the allow-list must be
 * enforced outside the guest anyway.  So each tender of a function with
 * `egress:` connects at start, before its sandbox, to <state>/egress.sock
 * (0600, in the 0700 state dir) and says hello with the secret token
 * units.c put in its environment (egress_grant); the wire format is
 * common/egress.h.  docs/tender.md has the design.
 *
 * Threads: one accept thread, and one thread per unit connection, which
 * owns a curl easy handle for the connection's life (so keep-alive
 * connections and TLS sessions are reused from one call to the next) and
 * serves its unit's requests one at a time, in order.  The libuv loop never
 * waits for any of this.  Shared state is only the grants list (token ->
 * unit, workflow, step, prefixes), under `lock`; a connection copies its
 * grant at hello and needs nothing shared afterwards except the read-only
 * settings.  dlog is one write(2) per record, safe from any thread; the
 * metrics registry is not, so calls are counted under `lock` and handed to
 * the loop thread through a uv_async (on_counted).
 *
 * Invariants: a request is served only on a connection whose hello named a
 * live grant; its URL is parsed and matched against the grant's prefixes
 * with the one rule (uf_url_parse, uf_url_allows), and libcurl is given the
 * URL rebuilt from the parsed parts, with redirects off, proxies off,
 * http/https only and certificate verification on; never more than the
 * request's capacities is sent back; every refusal and failure is one log
 * line naming the unit (a refused URL is logged whole; for a failed call
 * only its host, since an allowed URL may hold a secret such as a webhook
 * token).  The struct egress is never freed (threads may outlive
 * egress_close until their units go; the process ends soon after).
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "egress_server.h"
#include "metrics.h"
#include "store.h"
#include "unifaasd.h"

struct grant {
	struct grant *next;
	char token[UF_EG_TOKEN_LEN + 1];
	char unit[160], wf[UF_NAME_BUF], step[UF_NAME_BUF];
	char **prefixes;
	size_t n;
};

struct egress {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	pthread_t acceptor;
	pthread_mutex_t lock;
	struct grant *grants;
	uint32_t connect_ms, timeout_ms;
	uint64_t max_response;
	char *ca; /* the system bundle + egress_ca_file, or NULL: curl's default */
	size_t ca_len;
	volatile int closing;
	/* calls by outcome since the loop last took them (under lock); the
	 * loop thread moves them into the metrics registry, which is not
	 * thread-safe (on_counted) */
	uv_async_t counted;
	uint32_t by_status[1000]; /* HTTP status of an answered call */
	uint32_t refused, timeout, error;
};

/* one connection's state */
struct conn {
	struct egress *e;
	int fd;
	struct grant g; /* copied at hello */
	CURL *curl;
};

/* one call's state, shared with curl's callbacks */
struct call {
	CURL *curl;
	char *body, *hdrs;
	uint64_t cap, hcap;
	uint64_t stored, got, hstored, hfull, max;
	curl_off_t length; /* Content-Length, -1 unknown */
	int hcut, cut, too_big;
};

/* ---- grants ---------------------------------------------------------------- */

static void grant_free(struct grant *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->prefixes[i]);
	free(g->prefixes);
	g->prefixes = NULL;
	g->n = 0;
}

static int grant_copy(struct grant *dst, const struct grant *src)
{
	*dst = *src;
	dst->next = NULL;
	dst->prefixes = calloc(src->n ? src->n : 1, sizeof(char *));
	for (size_t i = 0; dst->prefixes && i < src->n; i++)
		if (!(dst->prefixes[i] = strdup(src->prefixes[i]))) {
			dst->n = i;
			grant_free(dst);
			return -1;
		}
	return dst->prefixes ? 0 : -1;
}

int egress_grant(struct egress *e, const char *unit, const char *wf, const char *step, char *const *prefixes, size_t n,
                 char *token)
{
	unsigned char rnd[UF_EG_TOKEN_LEN / 2];
	struct grant g = {0}, *p = e ? malloc(sizeof(*p)) : NULL;
	if (!p || getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		goto fail;
	for (size_t i = 0; i < sizeof(rnd); i++)
		sprintf(g.token + 2 * i, "%02x", rnd[i]);
	snprintf(g.unit, sizeof(g.unit), "%s", unit);
	snprintf(g.wf, sizeof(g.wf), "%s", wf);
	snprintf(g.step, sizeof(g.step), "%s", step);
	g.prefixes = (char **)prefixes;
	g.n = n;
	if (grant_copy(p, &g) < 0)
		goto fail;
	memcpy(token, g.token, sizeof(g.token));
	pthread_mutex_lock(&e->lock);
	p->next = e->grants;
	e->grants = p;
	pthread_mutex_unlock(&e->lock);
	return 0;
fail:
	free(p);
	return -1;
}

void egress_revoke(struct egress *e, const char *unit)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	for (struct grant **p = &e->grants; *p; p = &(*p)->next)
		if (!strcmp((*p)->unit, unit)) {
			struct grant *g = *p;
			*p = g->next;
			grant_free(g);
			free(g);
			break;
		}
	pthread_mutex_unlock(&e->lock);
}

/* constant time in the token's bytes */
static int token_eq(const char *a, const char *b)
{
	unsigned char d = 0;
	for (size_t i = 0; i < UF_EG_TOKEN_LEN; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static int grant_find(struct egress *e, const char *token, struct grant *out)
{
	int rc = -1;
	pthread_mutex_lock(&e->lock);
	for (struct grant *g = e->grants; g; g = g->next)
		if (token_eq(g->token, token)) {
			rc = grant_copy(out, g);
			break;
		}
	pthread_mutex_unlock(&e->lock);
	return rc;
}

/* ---- metrics: unifaas_egress_calls_total{kind="http",status} ------------------ */

static void count_call(struct egress *e, const struct uf_eg_resp_fixed *f)
{
	pthread_mutex_lock(&e->lock);
	if (f->ret == 0)
		e->by_status[f->status < 1000 && f->status >= 0 ? f->status : 0]++;
	else if (f->ret == -EPERM || f->ret == -EINVAL)
		e->refused++;
	else if (f->ret == -ETIMEDOUT)
		e->timeout++;
	else
		e->error++;
	pthread_mutex_unlock(&e->lock);
	uv_async_send(&e->counted);
}

static void add_calls(const char *status, uint32_t n)
{
	const char *labels[] = {"http", status};
	if (n)
		metric_add(M_EGRESS_CALLS, labels, n);
}

static void on_counted(uv_async_t *a)
{
	struct egress *e = a->data;
	uint32_t by_status[1000], refused, timeout, error;
	pthread_mutex_lock(&e->lock);
	memcpy(by_status, e->by_status, sizeof(by_status));
	memset(e->by_status, 0, sizeof(e->by_status));
	refused = e->refused;
	timeout = e->timeout;
	error = e->error;
	e->refused = e->timeout = e->error = 0;
	pthread_mutex_unlock(&e->lock);
	for (int i = 0; i < 1000; i++) {
		char st[8];
		snprintf(st, sizeof(st), "%d", i);
		add_calls(st, by_status[i]);
	}
	add_calls("refused", refused);
	add_calls("timeout", timeout);
	add_calls("error", error);
}

/* ---- socket I/O ------------------------------------------------------------ */

static int read_full(int fd, void *buf, size_t len)
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

static int write_full(int fd, const void *buf, size_t len)
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

/* ---- one call ------------------------------------------------------------- */

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

static void configure(struct conn *c, const struct uf_eg_req *r, const char *url, struct curl_slist *hdrs,
                      struct call *k, char *errbuf)
{
	struct egress *e = c->e;
	CURL *h = c->curl;
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
		struct curl_blob blob = {.data = e->ca, .len = e->ca_len, .flags = CURL_BLOB_NOCOPY};
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

static void log_denied(struct conn *c, const struct uf_eg_req *r, const char *cause)
{
	dlog("warn", "what=egress-denied unit=%s workflow=%s step=%s url=%.*s cause=%s", c->g.unit, c->g.wf, c->g.step,
	     (int)r->f.url_len, r->url, cause);
}

/* the URL rebuilt from its parsed parts into url, when a prefix allows it */
static int allowed(struct conn *c, const struct uf_eg_req *r, char *url, size_t cap, struct uf_url *u)
{
	const char *why = NULL;
	if (uf_url_parse(r->url, r->f.url_len, u, &why) < 0) {
		log_denied(c, r, why);
		return 0;
	}
	for (size_t i = 0; i < c->g.n; i++) {
		struct uf_url p;
		if (uf_url_parse(c->g.prefixes[i], strlen(c->g.prefixes[i]), &p, NULL) == 0 && uf_url_allows(&p, u))
			return uf_url_format(u, url, cap) != 0;
	}
	log_denied(c, r,
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
		dlog("warn", "what=egress-refused unit=%s workflow=%s step=%s host=%s cause=%s", c->g.unit, c->g.wf,
		     c->g.step, u.host, why);
		curl_slist_free_all(hdrs);
		f->ret = -EINVAL;
		return;
	}
	configure(c, r, url, hdrs, k, errbuf);
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
	dlog("warn", "what=egress-failed unit=%s workflow=%s step=%s host=%s:%u errno=%d cause=%s", c->g.unit, c->g.wf,
	     c->g.step, u.host, (unsigned)u.port, -f->ret,
	     k->too_big  ? "response body larger than egress_max_response"
	     : errbuf[0] ? errbuf
	                 : curl_easy_strerror(rc));
}

static int answer(struct conn *c, const struct uf_eg_req *r)
{
	struct call k = {
	    .curl = c->curl, .cap = r->f.resp_cap, .hcap = r->f.headers_cap, .max = c->e->max_response, .length = -1};
	struct uf_eg_resp_fixed f = {.ret = -EIO};
	k.body = malloc(k.cap ? k.cap : 1);
	k.hdrs = malloc(k.hcap ? k.hcap : 1);
	if (k.body && k.hdrs)
		serve(c, r, &k, &f);
	if (f.ret != 0)
		f.body_len = f.headers_len = 0;
	count_call(c->e, &f);
	struct uf_eg_hdr h = {.magic = UF_EG_MAGIC, .type = UF_EG_RESP, .len = sizeof(f) + f.headers_len + f.body_len};
	int rc = write_full(c->fd, &h, sizeof(h)) || write_full(c->fd, &f, sizeof(f)) ||
	         write_full(c->fd, k.hdrs, f.headers_len) || write_full(c->fd, k.body, f.body_len);
	free(k.body);
	free(k.hdrs);
	return rc ? -1 : 0;
}

/* ---- connections ------------------------------------------------------------ */

static int hello(struct conn *c)
{
	struct uf_eg_hdr h;
	char token[UF_EG_TOKEN_LEN];
	const char *why = "unknown token";
	struct timeval tv = {.tv_sec = 10};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (read_full(c->fd, &h, sizeof(h)) < 0 || uf_eg_hdr_check(&h, &why) < 0 || h.type != UF_EG_HELLO ||
	    read_full(c->fd, token, sizeof(token)) < 0 || grant_find(c->e, token, &c->g) < 0) {
		dlog("warn", "what=egress-refused op=hello cause=%s", h.type == UF_EG_HELLO ? why : "no hello");
		return -1;
	}
	tv.tv_sec = 0;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct uf_eg_hdr h;
	char *buf = NULL;
	if (hello(c) < 0 || !(c->curl = curl_easy_init()))
		goto out;
	while (read_full(c->fd, &h, sizeof(h)) == 0) {
		struct uf_eg_req r;
		const char *why = "not a request";
		if (uf_eg_hdr_check(&h, &why) < 0 || h.type != UF_EG_REQ || !(buf = malloc(h.len)) ||
		    read_full(c->fd, buf, h.len) < 0 || uf_eg_req_parse(buf, h.len, &r, &why) < 0) {
			dlog("warn", "what=egress-refused unit=%s op=request cause=%s action=disconnect", c->g.unit,
			     why);
			break;
		}
		if (answer(c, &r) < 0)
			break;
		free(buf);
		buf = NULL;
	}
out:
	free(buf);
	if (c->curl)
		curl_easy_cleanup(c->curl);
	grant_free(&c->g);
	close(c->fd);
	free(c);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct egress *e = arg;
	while (!e->closing) {
		int fd = accept4(e->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (e->closing)
				break;
			if (errno != EINTR && errno != ECONNABORTED)
				usleep(100000); /* out of descriptors: try again soon */
			continue;
		}
		struct conn *c = calloc(1, sizeof(*c));
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (c) {
			c->e = e;
			c->fd = fd;
		}
		if (!c || pthread_create(&t, &at, conn_main, c) != 0) {
			dlog("warn", "what=egress-refused op=accept cause=\"cannot start a thread\"");
			free(c);
			close(fd);
		}
		pthread_attr_destroy(&at);
	}
	return NULL;
}

/* ---- setup ------------------------------------------------------------------- */

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
static int load_ca(struct egress *e, const char *extra, char *err, size_t errlen)
{
	char *sys = NULL;
	CURL *h = curl_easy_init();
	if (!extra[0])
		return h ? (curl_easy_cleanup(h), 0) : 0;
	if (h)
		curl_easy_getinfo(h, CURLINFO_CAINFO, &sys);
	int rc = sys ? slurp(sys, &e->ca, &e->ca_len, err, errlen) : 0;
	if (h)
		curl_easy_cleanup(h);
	if (rc == 0 && slurp(extra, &e->ca, &e->ca_len, err, errlen) < 0)
		rc = -1;
	if (rc < 0)
		snprintf(err + strlen(err), errlen - strlen(err), " (egress_ca_file)");
	return rc;
}

struct egress *egress_open(uv_loop_t *loop, const struct uf_config *c, char *err, size_t errlen)
{
	struct egress *e = calloc(1, sizeof(*e));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!e || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "out of memory");
		free(e);
		return NULL;
	}
	pthread_mutex_init(&e->lock, NULL);
	e->fd = -1;
	e->connect_ms = c->egress_connect_timeout_ms;
	e->timeout_ms = c->egress_timeout_ms;
	e->max_response = c->egress_max_response;
	if (load_ca(e, c->egress_ca_file, err, errlen) < 0)
		goto fail;
	if (snprintf(e->path, sizeof(e->path), "%s/egress.sock", c->state_dir) >= (int)sizeof(e->path)) {
		snprintf(err, errlen, "%s/egress.sock: path longer than a unix socket allows; use a shorter state dir",
		         c->state_dir);
		goto fail;
	}
	memcpy(sa.sun_path, e->path, strlen(e->path));
	unlink(e->path);
	mode_t old = umask(077);
	e->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int bad = e->fd < 0 || bind(e->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(e->fd, 64) < 0;
	umask(old);
	if (bad || pthread_create(&e->acceptor, NULL, accept_main, e) != 0) {
		snprintf(err, errlen, "%s: cannot listen: %s", e->path, strerror(errno));
		goto fail;
	}
	uv_async_init(loop, &e->counted, on_counted);
	e->counted.data = e;
	return e;
fail:
	if (e->fd >= 0)
		close(e->fd);
	free(e->ca);
	free(e);
	return NULL;
}

const char *egress_socket(const struct egress *e)
{
	return e ? e->path : "none";
}

void egress_close(struct egress *e)
{
	if (!e || e->closing)
		return;
	e->closing = 1;
	shutdown(e->fd, SHUT_RDWR); /* wakes accept() */
	pthread_join(e->acceptor, NULL);
	close(e->fd);
	unlink(e->path);
}
