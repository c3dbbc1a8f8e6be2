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
 * checks the hello and then serves its unit's requests one at a time, in
 * order, with egress_call.c (libcurl, one easy handle for the connection's
 * life: keep-alive connections and TLS sessions are reused).  The libuv loop never
 * waits for any of this.  Shared state is only the grants list (token ->
 * unit, workflow, step, prefixes), under `lock`; a connection copies its
 * grant at hello and needs nothing shared afterwards except the read-only
 * settings.  dlog is one write(2) per record, safe from any thread; the
 * metrics registry is not, so calls are counted under `lock` and handed to
 * the loop thread through a uv_async (on_counted).
 *
 * Invariants: a request is served only on a connection whose hello named a
 * live grant, against that grant's prefixes (egress_call.c says how); each
 * of egress_call.c's notes is one log line naming the unit, and showing of
 * a URL its origin only (uf_url_loggable: a path may hold a secret).  The struct egress is never freed (threads may
 * outlive egress_close until their units go; the process ends soon after).
 */
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

#include "egress_call.h"
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
	struct eg_settings set; /* its ca is ours (eg_load_ca) */
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

/* ---- connections ------------------------------------------------------------ */

static int hello(struct conn *c)
{
	struct uf_eg_hdr h;
	char token[UF_EG_TOKEN_LEN];
	const char *why = "unknown token";
	struct timeval tv = {.tv_sec = 10};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (eg_read_full(c->fd, &h, sizeof(h)) < 0 || uf_eg_hdr_check(&h, &why) < 0 || h.type != UF_EG_HELLO ||
	    eg_read_full(c->fd, token, sizeof(token)) < 0 || grant_find(c->e, token, &c->g) < 0) {
		dlog("warn", "what=egress-refused op=hello cause=%s", h.type == UF_EG_HELLO ? why : "no hello");
		return -1;
	}
	tv.tv_sec = 0;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

/* the egress_call.c notes, as daemon log lines */
static void note(void *arg, const struct eg_caller *c, const struct eg_note *n)
{
	(void)arg;
	char url[UF_URL_HOST_MAX + 96];
	if (!strcmp(n->kind, "denied")) {
		uf_url_loggable(n->url, n->url_len, url, sizeof(url));
		dlog("warn", "what=egress-denied unit=%s workflow=%s step=%s url=\"%s\" cause=%s", c->unit, c->wf,
		     c->step, url, n->cause);
	} else if (!strcmp(n->kind, "refused"))
		dlog("warn", "what=egress-refused unit=%s workflow=%s step=%s host=%s cause=%s", c->unit, c->wf,
		     c->step, n->host, n->cause);
	else
		dlog("warn", "what=egress-failed unit=%s workflow=%s step=%s host=%s:%u errno=%d cause=%s", c->unit,
		     c->wf, c->step, n->host, n->port, n->err, n->cause);
}

static void counted(void *arg, const struct uf_eg_resp_fixed *f)
{
	count_call(arg, f);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	const char *why = NULL;
	if (hello(c) == 0) {
		struct eg_caller caller = {c->g.unit, c->g.wf, c->g.step, c->g.prefixes, c->g.n};
		struct eg_hooks hooks = {note, counted, c->e};
		if (eg_serve(c->fd, &caller, &c->e->set, &hooks, &why) < 0)
			dlog("warn", "what=egress-refused unit=%s op=request cause=%s action=disconnect", c->g.unit,
			     why);
	}
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

/* egress_ca_file: trusted in addition to the system's bundle (curl's) */
struct egress *egress_open(uv_loop_t *loop, const struct uf_config *c, char *err, size_t errlen)
{
	struct egress *e = calloc(1, sizeof(*e));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!e || eg_init() < 0) {
		snprintf(err, errlen, "out of memory");
		free(e);
		return NULL;
	}
	pthread_mutex_init(&e->lock, NULL);
	e->fd = -1;
	e->set.connect_ms = c->egress_connect_timeout_ms;
	e->set.timeout_ms = c->egress_timeout_ms;
	e->set.max_response = c->egress_max_response;
	char *ca = NULL;
	if (eg_load_ca(c->egress_ca_file, &ca, &e->set.ca_len, err, errlen) < 0) {
		snprintf(err + strlen(err), errlen - strlen(err), " (egress_ca_file)");
		goto fail;
	}
	e->set.ca = ca;
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
	free((char *)e->set.ca);
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
