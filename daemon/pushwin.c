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
 * The ingress rate (pushwin.h, unifaasd.conf ingress_rate): besides its
 * commands in flight, what a workflow's pushes cost the servers (unifaasd
 * parsing them, Redis storing them, its units' reads and commits of them)
 * grows with its events a second, which the window does not bound.  Each
 * flow is active while it waits or for PW_ACTIVE_MS after it sent; while
 * two or more flows are active, each takes a turn only with a token of
 * its own bucket, filled at rate * share / (the active flows' shares) a
 * second up to PW_BURST_MS of that, and each command sent takes one.  A
 * flow active alone is not held (its bucket is kept full).  A flow whose
 * sources wait for tokens is woken by a timer when its next token is due.
 * Sources simply wait, as for any turn: a push request's answer comes
 * later, the HTTP ingress answers 429 past PW_WAIT_MAX waiting, an MQTT
 * session stops reading.  bench/RESULTS.md "The event flood's server-side
 * cost" has what it changes.
 *
 * Invariants: a source is in at most one flow's list (src->flow set while
 * it is); a flow lives while it has sources or commands in flight (each
 * sent command holds its flow) or, with a rate, is active (its bucket);
 * send is never called for a source that is not waiting, and pushwin
 * never touches a source after its send returned 0.  Replies pump: each command's own (through its call), and
 * every other reply of the store (store_on_reply), so a window full of
 * other commands cannot leave a waiting source without a turn.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "pushwin.h"
#include "pwrate.h"
#include "unifaasd.h"

#define HELD_LOG_MS 10000u /* a workflow's "held" line at most this often */

struct pw_flow {
	struct pw_flow *next;
	char wf[UF_NAME_BUF];
	struct pw_source *head, *tail; /* waiting for a turn, in turn order */
	unsigned nsrc;
	size_t calls, bytes; /* in flight */
	uint64_t active_ms;  /* it last sent (uv_now) */
	double tokens;       /* its bucket, while several flows are active */
	uint32_t share;      /* its workflow's share, as of the last refill */
	uint64_t filled_ms;  /* tokens were added up to then */
	int held;            /* its sources wait for a token */
	uint64_t logged_ms;  /* its last "held" line */
};

struct pushwin {
	struct store *st;
	struct pw_flow *flows; /* in turn order: the head's turn is next */
	struct pw_flow *cur;   /* whose turn it is (in send) */
	size_t turn_calls, turn_bytes;
	int pumping;
	int stalled; /* a source could send nothing: no more turns in this pump */
	int closing; /* pushwin_close: nothing is sent any more */
	/* the ingress rate */
	uv_loop_t *loop;
	uv_timer_t *timer; /* wakes flows waiting for a token */
	uint64_t rate;     /* events a second; 0: none */
	pw_share_fn share_of;
	void *share_arg;
	uint64_t active_shares; /* of the active flows, as of the last refill */
	unsigned nactive;
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

static void timer_free(uv_handle_t *h)
{
	free(h);
}

static void on_timer(uv_timer_t *t)
{
	pushwin_pump(t->data);
}

struct pushwin *pushwin_open(struct store *st, uv_loop_t *loop, uint64_t rate, pw_share_fn share_of, void *arg)
{
	struct pushwin *pw = calloc(1, sizeof(*pw));
	if (!pw || !(pw->timer = malloc(sizeof(*pw->timer)))) {
		free(pw);
		return NULL;
	}
	pw->st = st;
	pw->loop = loop;
	pw->rate = rate;
	pw->share_of = share_of;
	pw->share_arg = arg;
	uv_timer_init(loop, pw->timer);
	pw->timer->data = pw;
	store_on_reply(st, on_any_reply, pw);
	return pw;
}

static int active(const struct pw_flow *f, uint64_t now)
{
	return f->head || f->calls || now - f->active_ms < PW_ACTIVE_MS;
}

static uint32_t share(const struct pushwin *pw, const struct pw_flow *f)
{
	uint32_t s = pw->share_of ? pw->share_of(pw->share_arg, f->wf) : 0;
	return s ? s : UF_SHARE_DEFAULT;
}

/* f's rate now (events a second), 0 when it is not held: no rate, or the
 * only active flow. */
static double flow_rate(const struct pushwin *pw, const struct pw_flow *f)
{
	if (!pw->rate || pw->nactive < 2 || !pw->active_shares)
		return 0; /* share_of not asked */
	return pw_rate(pw->rate, share(pw, f), pw->nactive, pw->active_shares);
}

/* Counts the active flows and their shares, and fills every bucket up to
 * now (a flow not held keeps a full one for when it is). */
static void refill(struct pushwin *pw)
{
	if (!pw->rate)
		return;
	uint64_t now = uv_now(pw->loop), shares = 0;
	unsigned n = 0;
	for (struct pw_flow *f = pw->flows; f; f = f->next) {
		f->share = share(pw, f); /* one look-up a flow a refill (share_of walks the workflows) */
		if (active(f, now)) {
			n++;
			shares += f->share;
		}
	}
	pw->nactive = n;
	pw->active_shares = shares;
	for (struct pw_flow *f = pw->flows; f; f = f->next) {
		f->tokens = pw_refill(f->tokens, pw_rate(pw->rate, f->share, n, shares), pw->rate, now - f->filled_ms);
		f->filled_ms = now;
	}
}

/* f may send one more event as far as the rate goes */
static int rate_room(const struct pushwin *pw, const struct pw_flow *f)
{
	return !flow_rate(pw, f) || f->tokens >= 1;
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
	(*p)->filled_ms = pw->loop ? uv_now(pw->loop) : 0;
	(*p)->tokens = 1;
	return *p;
}

/* A flow with nothing waiting and nothing in flight is forgotten (never
 * the one whose turn it is). */
static void flow_gc(struct pushwin *pw, struct pw_flow *f)
{
	if (f->head || f->calls || f == pw->cur || (pw->rate && active(f, uv_now(pw->loop))))
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
	uv_close((uv_handle_t *)pw->timer, timer_free);
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

void pushwin_source_init(struct pw_source *src, const char *wf, int (*send)(struct pw_source *src))
{
	*src = (struct pw_source){.send = send};
	snprintf(src->wf, sizeof(src->wf), "%s", wf);
}

void pushwin_enter(struct pushwin *pw, struct pw_source *src, const char *wf, int (*send)(struct pw_source *src))
{
	pushwin_source_init(src, wf, send);
	pushwin_ready(pw, src);
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
	       share_room(pw, pw->cur) && rate_room(pw, pw->cur);
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
	if (pw->rate) {
		pw->cur->active_ms = uv_now(pw->loop);
		if (flow_rate(pw, pw->cur))
			pw->cur->tokens -= 1;
	}
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
		if ((*p)->head && share_room(pw, *p) && rate_room(pw, *p))
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

static void log_held(struct pushwin *pw, struct pw_flow *f, double r)
{
	uint64_t now = uv_now(pw->loop);
	if (f->held || (f->logged_ms && now - f->logged_ms < HELD_LOG_MS))
		return;
	f->logged_ms = now;
	dlog("info",
	     "what=ingress-rate workflow=%s action=held rate=%llu ingress_rate=%llu share=%u active_shares=%llu "
	     "reason=\"its pushes wait for their turn: %llu events/s while %u workflows push (ingress_rate * share / "
	     "their shares); HTTP ingress 429 past %u waiting, MQTT paused\"",
	     f->wf, (unsigned long long)(r + 0.5), (unsigned long long)pw->rate, share(pw, f),
	     (unsigned long long)pw->active_shares, (unsigned long long)(r + 0.5), pw->nactive, PW_WAIT_MAX);
}

double pushwin_rate(struct pushwin *pw, const char *wf, int *held)
{
	refill(pw);
	for (const struct pw_flow *f = pw->flows; f; f = f->next)
		if (!strcmp(f->wf, wf)) {
			*held = f->held;
			return flow_rate(pw, f);
		}
	*held = 0;
	return 0;
}

/* Flows wait for tokens: the timer pumps when the first is due; forgets
 * the flows no longer active. */
static void wake_later(struct pushwin *pw)
{
	if (!pw->rate || pw->closing)
		return;
	double due = -1;
	for (struct pw_flow *f = pw->flows, *next; f; f = next) {
		next = f->next;
		double r = flow_rate(pw, f);
		int held = f->head && r && f->tokens < 1;
		if (held) {
			double ms = pw_token_due_ms(f->tokens, r);
			if (due < 0 || ms < due)
				due = ms;
			log_held(pw, f, r);
		}
		f->held = held;
		flow_gc(pw, f);
	}
	/* a flow inactive later changes the others' rates: look again then */
	if (due < 0 && pw->nactive >= 2)
		due = PW_ACTIVE_MS;
	if (due >= 0)
		uv_timer_start(pw->timer, on_timer, (uint64_t)due + 1, 0);
}

void pushwin_pump(struct pushwin *pw)
{
	if (pw->pumping)
		return; /* a send's own callbacks: the running pump goes on */
	pw->pumping = 1;
	pw->stalled = 0;
	refill(pw);
	struct pw_flow *f;
	while (!pw->stalled && window_room(pw) && (f = next_turn(pw)))
		turn(pw, f);
	pw->pumping = 0;
	wake_later(pw);
}
