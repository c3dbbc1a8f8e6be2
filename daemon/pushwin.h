/*
 * pushwin.h - the one admission path of unifaasd's pushes into Redis
 * (pushwin.c): the control API's pushes and invokes, HTTP ingress events
 * and MQTT ingress messages all go through it, in per-workflow turns.
 *
 * A source is whatever has events to write in order: a push request, an
 * ingress request, an MQTT session.  It embeds a struct pw_source, sets
 * it up with pushwin_source_init (its `send` and `wf`), and calls
 * pushwin_ready when it has something to send (pushwin_enter: both).
 * When its turn comes, pushwin calls send(src); send writes its next
 * commands with pushwin_sendv while pushwin_room says the turn has room,
 * and returns 1 if it has more to send (it keeps its place in its
 * workflow's turns), 0 if not (it is out; pushwin never touches it again,
 * so send may free it).  A source that goes away first calls
 * pushwin_cancel.  Commands of one source go out in the order it sends
 * them, on the store's one connection: Redis writes them in that order.
 */
#ifndef UF_PUSHWIN_H
#define UF_PUSHWIN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "store.h"

/* The window: commands sent and not answered (all of the store's, pushes
 * or not).  A new turn starts only below both. */
#define PW_WINDOW_BYTES (64u << 10)
#define PW_WINDOW_CALLS 128u
/* One workflow's share: its commands in flight while another workflow
 * waits for a turn (alone, a workflow may fill the window). */
#define PW_SHARE_BYTES (32u << 10)
#define PW_SHARE_CALLS 64u
/* A turn: at most this much of one workflow before the next workflow's. */
#define PW_TURN_BYTES (8u << 10)
#define PW_TURN_CALLS 32u

/* The node's ingress rate (unifaasd.conf ingress_rate, events a second:
 * each command a source sends is one event).  A workflow alone - no other
 * workflow has sent within PW_ACTIVE_MS or is waiting - is not limited;
 * while several are, each gets ingress_rate * share / (the shares of
 * those workflows) a second, in a token bucket holding PW_BURST_MS of it
 * (at least one event).  0: no limit. */
#define PW_ACTIVE_MS 1000u
#define PW_BURST_MS  100u

struct pushwin;
struct pw_flow;

struct pw_source {
	int (*send)(struct pw_source *src); /* the owner's: see above */
	char wf[UF_NAME_BUF];               /* the owner's: whose turns it takes */
	/* pushwin's */
	struct pw_source *next;
	struct pw_flow *flow; /* non-NULL while it waits for a turn */
};

/* share_of(arg, wf): the workflow's `share` (common/admission.h), or 0
 * when none is deployed under that name (then UF_SHARE_DEFAULT). */
typedef uint32_t (*pw_share_fn)(void *arg, const char *wf);
struct pushwin *pushwin_open(struct store *st, uv_loop_t *loop, uint64_t rate, pw_share_fn share_of, void *arg);
/* After store_close: the replies it handed out are in. */
void pushwin_close(struct pushwin *pw);
/* src has something to send: it joins its workflow's turns (if not in
 * them) and may be given one at once (send is called before this returns). */
void pushwin_ready(struct pushwin *pw, struct pw_source *src);
/* Sets src up as a source of workflow wf whose turns send takes (the
 * owner's part of struct pw_source), out of any turn. */
void pushwin_source_init(struct pw_source *src, const char *wf, int (*send)(struct pw_source *src));
/* pushwin_source_init, then pushwin_ready: a one-off source (a push
 * request, an ingress request) with its events to send. */
void pushwin_enter(struct pushwin *pw, struct pw_source *src, const char *wf, int (*send)(struct pw_source *src));
/* src goes away: out of the turns. */
void pushwin_cancel(struct pushwin *pw, struct pw_source *src);
/* Turns while the window has room (the store's replies call it too). */
void pushwin_pump(struct pushwin *pw);
/* In send: whether the turn has room for one more command (the first
 * command of a turn always has). */
int pushwin_room(const struct pushwin *pw);
/* In send: one command of the turn's workflow (store_sendv): 0, or -1
 * when Redis cannot be reached right now (cb is then never called). */
int pushwin_sendv(struct pushwin *pw, store_cb cb, void *arg, int argc, const char **argv, const size_t *lens);
/* Sources of workflow wf waiting for a turn (the HTTP ingress refuses
 * more than PW_WAIT_MAX with 429). */
#define PW_WAIT_MAX 64u
unsigned pushwin_waiting(const struct pushwin *pw, const char *wf);
/* The events a second workflow wf is held to now (0: not held: no
 * ingress_rate, or it is the only workflow pushing); *held: its pushes
 * wait for that rate right now (describe). */
double pushwin_rate(struct pushwin *pw, const char *wf, int *held);

#endif
