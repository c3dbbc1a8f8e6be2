/*
 * standby.c - pre-started tenders, so a cold start skips exec and VM setup.
 *
 * The daemon keeps `prestart` tenders running as `uf-hvt --standby`: each
 * has made its VM and vCPU and waits on a pipe for the unit it is to
 * become (tender/hvt_standby.c).  unit_start takes one when there is one,
 * writes the unit's arguments and environment into the pipe and closes it;
 * the pool is refilled a few milliseconds later, off the start's critical
 * path.  A standby holds no workflow state, so one pool serves every step.
 *
 * Invariants: a standby is in the list from its spawn until it is taken or
 * reaped; its stdout/stderr pipes are only read once it is a unit; closing
 * its request pipe without writing releases it (it exits 0).  Standbys that
 * keep dying young (no /dev/kvm, a broken uf-hvt) pause the pool for 30 s
 * instead of respawning in a loop; units then start the plain way.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launch.h"
#include "standby.h"
#include "unifaasd.h"

#define REFILL_DELAY_MS 5
#define YOUNG_MS        1000
#define PAUSE_MS        30000

struct standby {
	struct standby *next;
	int pid;
	int in, out, err; /* our ends: request (write), stdout, stderr (read) */
	uint64_t started_ms;
};

struct standby_pool {
	struct daemon *d;
	struct standby *list;
	uint32_t count, want;
	uint32_t young_deaths;
	uint64_t paused_until;
	uv_timer_t refill;
};

static int spawn_one(struct standby_pool *p)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	struct standby *s = calloc(1, sizeof(*s));
	if (!s || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		goto fail;
	/* the blank argument is room for the unit's command line (ps shows it) */
	static char pad[2048];
	if (!pad[0])
		memset(pad, ' ', sizeof(pad) - 1);
	char *argv[] = {p->d->cfg.hvt, "--standby", pad, NULL}, *envp[] = {NULL};
	pid_t pid;
	int e = spawn_tender(argv, envp, in[0], out[1], err[1], &pid);
	if (e) {
		dlog("error", "what=standby op=spawn hvt=%s cause=\"%s\"", argv[0], strerror(e));
		goto fail;
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	*s = (struct standby){
	    .next = p->list, .pid = pid, .in = in[1], .out = out[0], .err = err[0], .started_ms = now_ms()};
	p->list = s;
	p->count++;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	free(s);
	return -1;
}

static void refill_cb(uv_timer_t *t)
{
	struct standby_pool *p = t->data;
	uint64_t now = now_ms();
	if (p->d->stopping)
		return;
	if (now < p->paused_until) { /* a take or a death re-armed us early */
		uv_timer_start(&p->refill, refill_cb, p->paused_until - now, 0);
		return;
	}
	while (p->count < p->want)
		if (spawn_one(p) < 0)
			break;
}

static void refill_soon(struct standby_pool *p, uint64_t ms)
{
	if (p->want && !p->d->stopping)
		uv_timer_start(&p->refill, refill_cb, ms, 0);
}

struct standby_pool *standby_open(struct daemon *d, uint32_t want)
{
	struct standby_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->d = d;
	p->want = want;
	uv_timer_init(d->loop, &p->refill);
	p->refill.data = p;
	refill_soon(p, 0);
	return p;
}

int standby_take(struct standby_pool *p, int *pid, int *in, int *out, int *err)
{
	struct standby *s = p ? p->list : NULL;
	if (!s)
		return -1;
	p->list = s->next;
	p->count--;
	*pid = s->pid;
	*in = s->in;
	*out = s->out;
	*err = s->err;
	free(s);
	refill_soon(p, REFILL_DELAY_MS);
	return 0;
}

/* Write one token: tag byte, text, NUL. */
static void put(char *buf, size_t *n, char tag, const char *text)
{
	size_t len = strlen(text);
	buf[(*n)++] = tag;
	memcpy(buf + *n, text, len + 1);
	*n += len + 1;
}

/* The launch request (launch.h): the options, then the environment. */
int standby_launch(int in, char *const argv[], char *const envp[])
{
	size_t n = strlen(UF_LAUNCH_MAGIC), need = n;
	for (int i = 1; argv[i]; i++)
		need += strlen(argv[i]) + 2;
	for (int i = 0; envp[i]; i++)
		need += strlen(envp[i]) + 2;
	if (need > UF_LAUNCH_MAX)
		return -E2BIG;
	char *buf = malloc(need);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, UF_LAUNCH_MAGIC, n);
	for (int i = 1; argv[i]; i++)
		put(buf, &n, 'A', argv[i]);
	for (int i = 0; envp[i]; i++)
		put(buf, &n, 'E', envp[i]);
	int rc = 0;
	for (size_t off = 0; off < n;) {
		ssize_t w = write(in, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)w;
	}
	free(buf);
	return rc;
}

int standby_reaped(struct standby_pool *p, int pid, int status)
{
	for (struct standby **pp = p ? &p->list : NULL; pp && *pp; pp = &(*pp)->next) {
		struct standby *s = *pp;
		if (s->pid != pid)
			continue;
		char why[512] = "";
		int fl = fcntl(s->err, F_GETFL);
		if (fl >= 0 && fcntl(s->err, F_SETFL, fl | O_NONBLOCK) == 0) {
			ssize_t r = read(s->err, why, sizeof(why) - 1);
			why[r > 0 ? r : 0] = 0;
			why[strcspn(why, "\n")] = 0;
		}
		int young = now_ms() - s->started_ms < YOUNG_MS;
		if (!p->d->stopping)
			dlog("warn", "what=standby op=exit pid=%d status=%d reason=\"%s\"", pid, status,
			     why[0] ? why : "-");
		close(s->in);
		close(s->out);
		close(s->err);
		*pp = s->next;
		free(s);
		p->count--;
		p->young_deaths = young ? p->young_deaths + 1 : 0;
		if (p->young_deaths >= 3) {
			p->paused_until = now_ms() + PAUSE_MS;
			p->young_deaths = 0;
			dlog("error",
			     "what=standby op=pause ms=%d cause=\"standby tenders keep failing; units start without "
			     "them\"",
			     PAUSE_MS);
			refill_soon(p, PAUSE_MS);
		} else {
			refill_soon(p, REFILL_DELAY_MS);
		}
		return 1;
	}
	return 0;
}

uint32_t standby_count(const struct standby_pool *p)
{
	return p ? p->count : 0;
}

void standby_release_all(struct standby_pool *p)
{
	if (!p)
		return;
	uv_timer_stop(&p->refill);
	for (struct standby *s = p->list; s; s = s->next)
		if (s->in >= 0) {
			close(s->in); /* end of file: the standby exits 0 */
			s->in = -1;
		}
}

static void pool_closed(uv_handle_t *h)
{
	free(h->data);
}

void standby_close(struct standby_pool *p)
{
	if (!p)
		return;
	while (p->list) {
		struct standby *s = p->list;
		p->list = s->next;
		if (s->in >= 0)
			close(s->in);
		close(s->out);
		close(s->err);
		kill(-s->pid, SIGKILL);
		free(s);
	}
	uv_close((uv_handle_t *)&p->refill, pool_closed);
}
