/*
 * linger.c - the lingering close (see linger.h): each lingering socket has
 * a poll handle (reads and drops what comes) and a timer (LINGER_MS); the
 * first of end of file, an error, LINGER_BYTES_MAX or the timer ends it.
 * An ended socket's two handles are closed; the last close callback
 * closes the fd and frees it.  The set itself is freed by
 * linger_close_all once its sockets are gone.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>

#include "linger.h"

struct lingering {
	struct lingering *next;
	struct linger_set *set;
	uv_poll_t poll;
	uv_timer_t timer;
	int fd;
	int handles; /* open handles: the fd is closed when the last one is */
	int ended;
	size_t dropped;
};

struct linger_set {
	uv_loop_t *loop;
	struct lingering *list;
	unsigned n;
	int closing; /* linger_close_all ran: freed with its last socket */
};

struct linger_set *linger_open(uv_loop_t *loop)
{
	struct linger_set *ls = calloc(1, sizeof(*ls));
	if (ls)
		ls->loop = loop;
	return ls;
}

unsigned linger_count(const struct linger_set *ls)
{
	return ls ? ls->n : 0;
}

static void handle_closed(uv_handle_t *h)
{
	struct lingering *g = h->data;
	if (--g->handles)
		return;
	struct linger_set *ls = g->set;
	close(g->fd);
	free(g);
	if (--ls->n == 0 && ls->closing)
		free(ls);
}

static void end(struct lingering *g)
{
	if (g->ended)
		return;
	g->ended = 1;
	for (struct lingering **p = &g->set->list; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			break;
		}
	uv_poll_stop(&g->poll);
	uv_timer_stop(&g->timer);
	uv_close((uv_handle_t *)&g->poll, handle_closed);
	uv_close((uv_handle_t *)&g->timer, handle_closed);
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	static char sink[65536];
	struct lingering *g = p->data;
	(void)events;
	if (status < 0) {
		end(g);
		return;
	}
	for (size_t turn = 0; turn < LINGER_TURN_BYTES;) {
		ssize_t n = read(g->fd, sink, sizeof(sink));
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* more later */
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* the client closed (or is gone) */
			end(g);
			return;
		}
		turn += (size_t)n;
		g->dropped += (size_t)n;
		if (g->dropped >= LINGER_BYTES_MAX) {
			end(g);
			return;
		}
	}
}

static void on_late(uv_timer_t *t)
{
	end(t->data);
}

void linger_take(struct linger_set *ls, int fd)
{
	struct lingering *g = NULL;
	shutdown(fd, SHUT_WR); /* the answer is out: then end of file */
	if (!ls || ls->closing || ls->n >= LINGER_MAX || !(g = calloc(1, sizeof(*g))))
		goto fail;
	g->set = ls;
	g->fd = fd;
	if (uv_poll_init_socket(ls->loop, &g->poll, fd) < 0)
		goto fail;
	g->handles = 1;
	uv_timer_init(ls->loop, &g->timer);
	g->handles = 2;
	g->poll.data = g->timer.data = g;
	g->next = ls->list;
	ls->list = g;
	ls->n++;
	if (uv_poll_start(&g->poll, UV_READABLE, on_readable) < 0 ||
	    uv_timer_start(&g->timer, on_late, LINGER_MS, 0) < 0)
		end(g);
	return;
fail:
	close(fd);
	free(g);
}

void linger_close_all(struct linger_set *ls)
{
	if (!ls)
		return;
	ls->closing = 1;
	while (ls->list)
		end(ls->list);
	if (ls->n == 0)
		free(ls);
}
