/*
 * hvt_egress.c - uf_http: the unit's outbound HTTP(S), served by unifaasd.
 *
 * The tender has no HTTP or TLS stack (it is a static musl binary under a
 * seccomp filter; libcurl is glibc's).  With --egress SOCKET it connects,
 * before seccomp, to unifaasd's egress server (daemon/egress_server.c) and says
 * who it is with the secret token unifaasd put in its environment
 * (UF_EGRESS_TOKEN, common/egress.h; removed from the environment at once,
 * never given to the guest).  Each UF_HC_HTTP call is then one REQ message
 * and one RESP message on that socket, in the wire format of
 * common/egress.h; the daemon checks the URL against the manifest's
 * `egress:` prefixes and makes the call.  Without --egress every call
 * answers -ENOSYS; with --egress-fd N (`unifaas run --allow-egress`,
 * cli/egress_local.c) descriptor N is such a connection already, made
 * and trusted by whoever started the tender; with --egress none (a function without `egress:`)
 * every call answers -EPERM, with a line on stderr (the step's log).
 *
 * Invariants: the socket is used after seccomp only with writev, read and
 * poll (all allowed already: the sandbox needs no rule of its own); every
 * length is checked against its UF_HTTP_* limit and every buffer through
 * hvt_guest_ptr() before anything is sent (a malformed call ends the unit
 * whether or not egress is served); guest bytes are sent as they are, the
 * daemon checks them; what the daemon answers is checked
 * (uf_eg_resp_check) before a byte is written to the guest, and never more
 * than the guest's capacities.  A broken or desynchronised connection is
 * closed, and later calls answer -EIO.  egress_fd is valid only while
 * egress_on is 1.  The wait for an answer is bounded
 * (the call's timeout + HVT_EG_SLACK_MS): a wedged daemon cannot hold the
 * unit for ever.  Waiting uses no CPU, so it does not count against the
 * unit's CPU time limit.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "egress.h"
#include "hvt.h"

#define bad(h, ...)     hvt_end((h), UF_END_BAD_HYPERCALL, "bad hypercall: http: " __VA_ARGS__)
#define HVT_EG_SLACK_MS 5000u

int hvt_egress_open(struct hvt *h, char *err, size_t errlen)
{
	if (h->opt.egress_fd) { /* connected and trusted already: no hello */
		int type = 0;
		socklen_t len = sizeof(type);
		if (getsockopt(h->opt.egress_fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
			snprintf(err, errlen, "--egress-fd %d: not a stream socket", h->opt.egress_fd);
			return -1;
		}
		h->egress_fd = h->opt.egress_fd;
		h->egress_on = 1;
		return 0;
	}
	if (!h->opt.egress)
		return 0;
	if (!strcmp(h->opt.egress, "none")) {
		h->egress_none = 1;
		return 0;
	}
	const char *tok = getenv(UF_EG_TOKEN_ENV);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!tok || strlen(tok) != UF_EG_TOKEN_LEN) {
		snprintf(err, errlen, "--egress: %s is not set to the unit's token (unifaasd sets it)",
		         UF_EG_TOKEN_ENV);
		return -1;
	}
	if (strlen(h->opt.egress) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "--egress %s: socket path too long", h->opt.egress);
		return -1;
	}
	memcpy(sa.sun_path, h->opt.egress, strlen(h->opt.egress));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "--egress %s: cannot connect: %s (is unifaasd running?)", h->opt.egress,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct uf_eg_hdr hdr = {.magic = UF_EG_MAGIC, .type = UF_EG_HELLO, .len = UF_EG_TOKEN_LEN};
	struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)tok, UF_EG_TOKEN_LEN}};
	if (writev(fd, iov, 2) != (ssize_t)(sizeof(hdr) + UF_EG_TOKEN_LEN)) {
		snprintf(err, errlen, "--egress %s: cannot say hello: %s", h->opt.egress, strerror(errno));
		close(fd);
		return -1;
	}
	unsetenv(UF_EG_TOKEN_ENV);
	h->egress_fd = fd;
	h->egress_on = 1;
	return 0;
}

void hvt_egress_close(struct hvt *h)
{
	if (h->egress_on)
		close(h->egress_fd);
	h->egress_on = 0;
}

/* The connection is unusable: close it; later calls answer -EIO. */
static int broken(struct hvt *h, const char *why)
{
	hvt_printf(2, "uf-hvt: egress: %s: connection to unifaasd closed; uf_http answers -EIO from now on\n", why);
	hvt_egress_close(h);
	h->egress_broken = 1;
	return -EIO;
}

static int write_iov(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++, n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* len bytes before deadline (ms, monotonic): 0, -ETIMEDOUT, or -EIO */
static int read_full(int fd, void *buf, size_t len, uint64_t deadline_ms)
{
	char *p = buf;
	while (len > 0) {
		uint64_t now = hvt_now_ns() / 1000000u;
		if (now >= deadline_ms)
			return -ETIMEDOUT;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, (int)(deadline_ms - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -ETIMEDOUT : -EIO;
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int check_lengths(struct hvt *h, struct uf_hc_http *a)
{
	if (a->method_len == 0 || a->method_len > UF_HTTP_METHOD_MAX)
		return bad(h, "method_len %lu is not 1..%u", (unsigned long)a->method_len, UF_HTTP_METHOD_MAX), -1;
	if (a->url_len == 0 || a->url_len > UF_HTTP_URL_MAX)
		return bad(h, "url_len %lu is not 1..%u", (unsigned long)a->url_len, UF_HTTP_URL_MAX), -1;
	if (a->headers_len > UF_HTTP_HEADERS_MAX)
		return bad(h, "headers_len %lu exceeds %u", (unsigned long)a->headers_len, UF_HTTP_HEADERS_MAX), -1;
	if (a->body_len > UF_HTTP_BODY_MAX)
		return bad(h, "body_len %lu exceeds %u", (unsigned long)a->body_len, UF_HTTP_BODY_MAX), -1;
	if (a->event_id_len > UF_ID_MAX)
		return bad(h, "event_id_len %lu exceeds %u", (unsigned long)a->event_id_len, UF_ID_MAX), -1;
	/* a bigger buffer is fine: only what the platform returns is used */
	if (a->resp_cap > UF_HTTP_RESP_MAX)
		a->resp_cap = UF_HTTP_RESP_MAX;
	if (a->resp_headers_cap > UF_HTTP_RESP_HEADERS_MAX)
		a->resp_headers_cap = UF_HTTP_RESP_HEADERS_MAX;
	if (a->timeout_ms > UF_HTTP_TIMEOUT_MAX)
		a->timeout_ms = UF_HTTP_TIMEOUT_MAX;
	return 0;
}

/* guest buffers, each checked; NULL after hvt_end */
struct hc_bufs {
	const void *method, *url, *headers, *body, *id;
	void *resp, *resp_headers;
};

static const void *in(struct hvt *h, const char *field, uint64_t gpa, uint64_t len)
{
	const void *p = len ? hvt_guest_ptr(h, gpa, len, 0) : h->mem;
	if (!p)
		bad(h, "%s [0x%lx, +%lu) is outside guest memory", field, (unsigned long)gpa, (unsigned long)len);
	return p;
}

static void *out(struct hvt *h, const char *field, uint64_t gpa, uint64_t len)
{
	void *p = len ? hvt_guest_ptr(h, gpa, len, 1) : h->mem;
	if (!p)
		bad(h, "%s [0x%lx, +%lu) is not writable guest memory", field, (unsigned long)gpa, (unsigned long)len);
	return p;
}

static int check_bufs(struct hvt *h, const struct uf_hc_http *a, struct hc_bufs *b)
{
	b->method = in(h, "method", a->method, a->method_len);
	b->url = b->method ? in(h, "url", a->url, a->url_len) : NULL;
	b->headers = b->url ? in(h, "headers", a->headers, a->headers_len) : NULL;
	b->body = b->headers ? in(h, "body", a->body, a->body_len) : NULL;
	b->id = b->body ? in(h, "event_id", a->event_id, a->event_id_len) : NULL;
	b->resp = b->id ? out(h, "resp", a->resp, a->resp_cap) : NULL;
	b->resp_headers = b->resp ? out(h, "resp_headers", a->resp_headers, a->resp_headers_cap) : NULL;
	return b->resp_headers ? 0 : -1;
}

static int exchange(struct hvt *h, struct uf_hc_http *a, const struct hc_bufs *b)
{
	struct uf_eg_req_fixed f = {
	    .method_len = (uint32_t)a->method_len,
	    .url_len = (uint32_t)a->url_len,
	    .headers_len = (uint32_t)a->headers_len,
	    .id_len = (uint32_t)a->event_id_len,
	    .body_len = a->body_len,
	    .resp_cap = a->resp_cap,
	    .headers_cap = a->resp_headers_cap,
	    .timeout_ms = a->timeout_ms,
	};
	struct uf_eg_hdr hdr;
	const char *why;
	if (uf_eg_req_head(&hdr, &f, &why) < 0)
		return broken(h, why);
	struct iovec iov[7] = {
	    {&hdr, sizeof(hdr)},
	    {&f, sizeof(f)},
	    {(void *)b->method, a->method_len},
	    {(void *)b->url, a->url_len},
	    {(void *)b->headers, a->headers_len},
	    {(void *)b->id, a->event_id_len},
	    {(void *)b->body, a->body_len},
	};
	if (write_iov(h->egress_fd, iov, 7) < 0)
		return broken(h, "cannot send the request");
	uint64_t deadline =
	    hvt_now_ns() / 1000000u + (a->timeout_ms ? a->timeout_ms : UF_HTTP_TIMEOUT_MAX) + HVT_EG_SLACK_MS;
	struct uf_eg_resp_fixed r;
	int e = read_full(h->egress_fd, &hdr, sizeof(hdr), deadline);
	if (e == 0 && (uf_eg_hdr_check(&hdr, &why) < 0 || hdr.type != UF_EG_RESP))
		return broken(h, "malformed answer");
	if (e == 0)
		e = read_full(h->egress_fd, &r, sizeof(r), deadline);
	if (e == 0 && uf_eg_resp_check(&r, hdr.len, a->resp_cap, a->resp_headers_cap, &why) < 0)
		return broken(h, why);
	if (e == 0)
		e = read_full(h->egress_fd, b->resp_headers, r.headers_len, deadline);
	if (e == 0)
		e = read_full(h->egress_fd, b->resp, r.body_len, deadline);
	if (e < 0)
		return broken(h, e == -ETIMEDOUT ? "no answer in time" : "connection lost"),
		       e == -ETIMEDOUT ? -ETIMEDOUT : -EIO;
	a->status = r.ret == 0 ? r.status : 0;
	a->resp_len = r.ret == 0 ? r.body_full : 0;
	a->resp_headers_len = r.ret == 0 ? r.headers_full : 0;
	return r.ret;
}

/* --egress none: the function's manifest has no egress: list */
static void deny_none(struct uf_hc_http *a, const struct hc_bufs *b)
{
	char url[UF_URL_HOST_MAX + 96]; /* its origin only: the path may hold a secret; one line of plain text */
	uf_url_loggable(b->url, a->url_len, url, sizeof(url));
	hvt_printf(2, "uf-hvt: egress denied: %s: the function's manifest has no egress: list\n", url);
	a->ret = -EPERM;
}

void hvt_hc_http(struct hvt *h, void *arg)
{
	struct uf_hc_http *a = arg;
	struct hc_bufs b;
	a->status = 0;
	a->resp_len = a->resp_headers_len = 0;
	if (check_lengths(h, a) < 0 || check_bufs(h, a, &b) < 0)
		return;
	if (h->egress_none) {
		deny_none(a, &b);
		return;
	}
	if (!h->egress_on) {
		a->ret = h->egress_broken ? -EIO : -ENOSYS;
		return;
	}
	a->ret = exchange(h, a, &b);
}
