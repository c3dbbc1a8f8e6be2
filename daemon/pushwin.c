/*
 * pushwin.c - the push window: every push unifaasd writes into Redis (the
 * control API's pushes and invokes, HTTP ingress events, MQTT ingress
 * messages) is admitted here, so no workflow's flood can fill Redis's
 * pipeline ahead of another's events (docs/api.md "Pushes under load").
 *
 * What waits ahead of a new command is what the store has sent and not had
 * answered: a turn starts only while that is under PW_WINDOW_BYTES and
 * PW_WINDOW_CALLS (store_backlog_*: every command, pushes or not), and
 * Redis works through such a window in a millisecond or two.  The window
 * is shared in turns per workflow: each workflow with sources waiting is a
 * flow, the flows take turns in a ring (flows, oldest turn first), and a
 * turn sends at most PW_TURN_BYTES and PW_TURN_CALLS of one flow, taken
 * from its sources in turn (a source that still has more goes to the back
 * of its flow).  While another workflow waits for a turn, a flow with
 * PW_SHARE_CALLS or PW_SHARE_BYTES of commands in flight is passed over
 * until replies bring it under: a workflow alone may fill the window, but
 * another workflow's event goes out at the next reply, behind at most the
 * window, and from then on the flood holds at most half of it.  N requests
 * of one workflow share that workflow's turns; they do not get N turns.
 *
 * Invariants: a source is in at most one flow's list (src->flow set while
 * it is); a flow lives while it has sources or commands in flight (each
 * sent command holds its flow); send is never called for a source that
 * is not waiting, and pushwin never touches a source after its send
 * returned 0.  Replies pump: each command's own (through its call), and
 * every other reply of the store (store_on_reply), so a window full of
 * other commands cannot leave a waiting source without a turn.
 */
#include <stdlib.h>
#include <string.h>

#include "pushwin.h"

struct pw_flow {
	struct pw_flow *next;
	char wf[UF_NAME_BUF];
	struct pw_source *head, *tail; /* waiting for a turn, in turn order */
	unsigned nsrc;
	size_t calls, bytes; /* in flight */
};

struct pushwin {
	struct store *st;
	struct pw_flow *flows; /* in turn order: the head's turn is next */
	struct pw_flow *cur;   /* whose turn it is (in send) */
	size_t turn_calls, turn_bytes;
	int pumping;
	int stalled; /* a source could send nothing: no more turns in this pump */
	int closing; /* pushwin_close: nothing is sent any more */
};

/* One command in flight: its flow's share until the reply. */
struct pw_call {
	struct pushwin *pw;
	struct pw_flow *flow;
	size_t bytes;
	store_cb cb;
	void *arg;
};

static void on_any_reply(void *arg)
{
	pushwin_pump(arg);
}

struct pushwin *pushwin_open(struct store *st)
{
	struct pushwin *pw = calloc(1, sizeof(*pw));
	if (!pw)
		return NULL;
	pw->st = st;
	store_on_reply(st, on_any_reply, pw);
	return pw;
}

static struct pw_flow *flow_of(struct pushwin *pw, const char *wf, int make)
{
	struct pw_flow **p = &pw->flows;
	for (; *p; p = &(*p)->next)
		if (!strcmp((*p)->wf, wf))
			return *p;
	if (!make || !(*p = calloc(1, sizeof(**p))))
		return NULL;
	memcpy((*p)->wf, wf, sizeof((*p)->wf));
	return *p;
}

/* A flow with nothing waiting and nothing in flight is forgotten (never
 * the one whose turn it is). */
static void flow_gc(struct pushwin *pw, struct pw_flow *f)
{
	if (f->head || f->calls || f == pw->cur)
		return;
	for (struct pw_flow **p = &pw->flows; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			free(f);
			return;
		}
}

static void flow_push(struct pw_flow *f, struct pw_source *src)
{
	src->next = NULL;
	src->flow = f;
	*(f->tail ? &f->tail->next : &f->head) = src;
	f->tail = src;
	f->nsrc++;
}

static struct pw_source *flow_pop(struct pw_flow *f)
{
	struct pw_source *src = f->head;
	f->head = src->next;
	if (!f->head)
		f->tail = NULL;
	f->nsrc--;
	src->next = NULL;
	src->flow = NULL;
	return src;
}

/* Sources still waiting get a last turn in which nothing can be sent, so
 * each gives up what it holds (a request waiting for its events). */
void pushwin_close(struct pushwin *pw)
{
	if (!pw)
		return;
	pw->closing = 1;
	while (pw->flows) {
		struct pw_flow *f = pw->flows;
		pw->cur = f;
		while (f->head) {
			struct pw_source *src = flow_pop(f);
			src->send(src); /* pushwin_sendv fails: it is done */
		}
		pw->flows = f->next;
		free(f);
	}
	free(pw);
}

void pushwin_ready(struct pushwin *pw, struct pw_source *src)
{
	if (src->flow)
		return;
	struct pw_flow *f = flow_of(pw, src->wf, 1);
	if (!f)
		return; /* out of memory: it is given a turn when it asks again */
	flow_push(f, src);
	pushwin_pump(pw);
}

void pushwin_cancel(struct pushwin *pw, struct pw_source *src)
{
	struct pw_flow *f = src->flow;
	if (!f)
		return;
	struct pw_source *prev = NULL;
	for (struct pw_source *s = f->head; s; prev = s, s = s->next)
		if (s == src) {
			*(prev ? &prev->next : &f->head) = s->next;
			if (f->tail == s)
				f->tail = prev;
			f->nsrc--;
			break;
		}
	src->next = NULL;
	src->flow = NULL;
	flow_gc(pw, f);
}

unsigned pushwin_waiting(const struct pushwin *pw, const char *wf)
{
	for (const struct pw_flow *f = pw->flows; f; f = f->next)
		if (!strcmp(f->wf, wf))
			return f->nsrc;
	return 0;
}

static int window_room(const struct pushwin *pw)
{
	return store_backlog_bytes(pw->st) < PW_WINDOW_BYTES && store_backlog_calls(pw->st) < PW_WINDOW_CALLS;
}

/* Within its share, or alone: no other workflow waits for a turn. */
static int share_room(const struct pushwin *pw, const struct pw_flow *f)
{
	if (f->calls < PW_SHARE_CALLS && f->bytes < PW_SHARE_BYTES)
		return 1;
	for (const struct pw_flow *o = pw->flows; o; o = o->next)
		if (o != f && o->head)
			return 0;
	return 1;
}

int pushwin_room(const struct pushwin *pw)
{
	if (!pw->cur)
		return 0;
	if (!pw->turn_calls || pw->closing)
		return 1; /* the first of a turn, whatever its size */
	return pw->turn_calls < PW_TURN_CALLS && pw->turn_bytes < PW_TURN_BYTES && window_room(pw) &&
	       share_room(pw, pw->cur);
}

static void call_reply(redisReply *r, void *arg)
{
	struct pw_call *c = arg;
	struct pushwin *pw = c->pw;
	c->flow->calls--;
	c->flow->bytes -= c->bytes;
	flow_gc(pw, c->flow);
	if (c->cb)
		c->cb(r, c->arg);
	free(c);
	/* the store pumps after every reply (store_on_reply) */
}

int pushwin_sendv(struct pushwin *pw, store_cb cb, void *arg, int argc, const char **argv, const size_t *lens)
{
	struct pw_call *c = pw->cur && !pw->closing ? malloc(sizeof(*c)) : NULL;
	if (!c)
		return -1;
	size_t bytes = 0;
	for (int i = 0; i < argc; i++)
		bytes += lens ? lens[i] : strlen(argv[i]);
	*c = (struct pw_call){.pw = pw, .flow = pw->cur, .bytes = bytes, .cb = cb, .arg = arg};
	if (store_sendv(pw->st, call_reply, c, argc, argv, lens) < 0) {
		free(c);
		return -1;
	}
	pw->cur->calls++;
	pw->cur->bytes += bytes;
	pw->turn_calls++;
	pw->turn_bytes += bytes;
	return 0;
}

/* The first flow in turn order that has sources waiting and room in its
 * share, moved to the back of the ring (its turn is taken now). */
static struct pw_flow *next_turn(struct pushwin *pw)
{
	struct pw_flow **p = &pw->flows, *f = NULL;
	for (; *p; p = &(*p)->next)
		if ((*p)->head && share_room(pw, *p))
			break;
	if (!(f = *p))
		return NULL;
	*p = f->next;
	f->next = NULL;
	while (*p)
		p = &(*p)->next;
	*p = f;
	return f;
}

/* One turn of f: its sources in turn while the turn has room. */
static void turn(struct pushwin *pw, struct pw_flow *f)
{
	pw->cur = f;
	pw->turn_calls = pw->turn_bytes = 0;
	while (f->head && pushwin_room(pw)) {
		struct pw_source *src = flow_pop(f);
		size_t before = pw->turn_calls;
		int more = src->send(src); /* 0: src may be gone */
		if (more && !src->flow)
			flow_push(f, src); /* to the back of its flow */
		if (more && pw->turn_calls == before) {
			pw->stalled = 1; /* sent nothing (Redis unreachable): the next reply pumps */
			break;
		}
	}
	pw->cur = NULL;
	flow_gc(pw, f);
}

void pushwin_pump(struct pushwin *pw)
{
	if (pw->pumping)
		return; /* a send's own callbacks: the running pump goes on */
	pw->pumping = 1;
	pw->stalled = 0;
	struct pw_flow *f;
	while (!pw->stalled && window_room(pw) && (f = next_turn(pw)))
		turn(pw, f);
	pw->pumping = 0;
}
