/*
 * mqtt.c - unifaasd's MQTT 3.1.1 client on the daemon's libuv loop: the
 * ingress of every workflow's ingress.mqtt routes and the publisher of the
 * MQTT outbox (ARCHITECTURE §5).  Packets are built and parsed by
 * mqtt_codec.c; this file owns the connections and what is promised on
 * them.
 *
 * Ingress: one session per workflow with routes, client id
 * "unifaasd-<wf>", clean session off, each route's filter subscribed with
 * its QoS.  A PUBLISH becomes one event (uf_ingress_cmd: payload byte for
 * byte, UF_FIELD_SRC = the topic, time = the entry id) on the queue of the
 * route whose filter matches (manifest.c refuses overlapping filters, so
 * at most one does).  Nothing lost: a QoS 1 message is acknowledged
 * (PUBACK) only after Redis answered its XADD, and PUBACKs go out in the
 * order the messages came (MQTT 3.1.1 §4.6): every message waits in the
 * session's in-flight list, in arrival order, and only a done head is
 * acknowledged.  An XADD that fails drops the connection without
 * acknowledging it or anything after it; the broker sends them again on
 * the next connection (persistent session), so an event may be added
 * twice, never lost.  Each XADD goes through the push window in its
 * workflow's turns (pushwin.h): a PUBLISH that has no room is left
 * unparsed at the head of the session's read buffer and reading stops
 * (conn.held) until the turn comes, so unifaasd holds at most IN_MAX bytes
 * of a workflow's messages it has not written, the rest stays with the
 * broker (QoS 1 unacknowledged), and the session's order is kept.  A message no route matches or whose payload is over
 * MQTT_PAYLOAD_MAX is acknowledged and dropped with a log line.  A stopped
 * workflow's session is disconnected: the broker keeps its messages (up to
 * its max_queued_messages) until `resume` connects it again; so is the
 * session of a workflow over its storage quota (quota.c), until it is
 * under again.  Such a pause leaves without a duplicate (session_leave):
 * no more messages taken, the XADDs out answered and acknowledged, then
 * DISCONNECT, closed once the broker has closed; so the broker sends again
 * exactly the messages not written.  Undeploy ends the session (a
 * connection with clean session on).
 *
 * Outbox: one connection "unifaasd:outbox" (clean session; ':' is in no
 * workflow name) reads the outbox of every deployed workflow,
 * UF_OUTBOX_MQTT<wf> (struct obstream, one per workflow, kept by
 * mqtt_sync), through the consumer group OUTBOX_GROUP, up to
 * OUTBOX_STREAMS_MAX streams per XREADGROUP in turn, publishes each entry
 * with its QoS and deletes it (XACK + XDEL) after its PUBACK, or once
 * written for QoS 0.  After a new connection it first reads each stream's
 * pending entries again (from id 0): at least once.  An entry names no
 * workflow: its workflow is the stream's, and its topic must match one of
 * that workflow's publish filters, else it is refused (logged, counted,
 * deleted) - a unit's ACL user can add only to its own outbox, so a
 * guest that took over its tender publishes nowhere its workflow may not.
 *
 * The broker is reached on unifaasd's own listener, the unix socket
 * mqtt_socket (cli/broker.c: no device listener lets a client pick a
 * platform client id), or over TCP at mqtt_url when it is not set.
 *
 * Every connection reconnects with backoff (200 ms doubling to 10 s) and
 * logs once per change of state; an ingress session connects only while
 * the store is healthy (store_healthy), so while Redis is away its
 * messages wait in the broker instead of being taken and dropped.  Redis is reached only through the
 * store's asynchronous commands (store_sendv), whose replies come in the
 * order the commands were sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "metrics.h"
#include "mqtt.h"
#include "mqtt_codec.h"
#include "pushwin.h"
#include "quota.h"
#include "store.h"
#include "topic.h"
#include "unifaasd.h"

#define BACKOFF_MIN_MS     200
#define BACKOFF_MAX_MS     10000
#define KEEPALIVE_S        20
#define CONNACK_WAIT_MS    5000
#define CONN_LASTED_MS     5000  /* a connection up this long resets the backoff */
#define LEAVE_WAIT_MS      20000 /* a paused session's leave (session_leave), under the broker's 1.5 keep-alives */
#define PACKET_MAX         (MQTT_PAYLOAD_MAX + UF_TOPIC_MAX + 16) /* a whole packet buffered */
#define IN_MAX             (PACKET_MAX + 65536)
#define OUTBOX_GROUP       "unifaasd"
#define OUTBOX_WINDOW      256 /* publishes waiting for their PUBACK */
#define OUTBOX_POLL_MS     20
#define OUTBOX_STREAMS_MAX 64 /* outboxes one XREADGROUP reads; the rest on the next turns */
#define OUTBOX_CLIENT_ID   UF_MQTT_PLATFORM ":outbox"
#define SUB_ID             1 /* SUBSCRIBE and UNSUBSCRIBE packet ids */

struct conn;
struct conn_ops {
	void (*up)(struct conn *c, int session_present);
	/* 1: the packet must wait (its workflow's turn in the push window):
	 * reading stops here, and wait is called */
	int (*packet)(struct conn *c, const struct mqtt_packet *p);
	void (*down)(struct conn *c);
	void (*wait)(struct conn *c);
};

enum conn_state { C_IDLE, C_WAIT, C_CONNECTING, C_CONNACK, C_UP };

/* A connection's socket: TCP, or the broker's unix socket (mqtt_socket). */
union conn_handle {
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

/* One connection to the broker, made again while wanted. */
struct conn {
	struct mqtt *m;
	const struct conn_ops *ops;
	void *owner;
	char client_id[UF_NAME_BUF + 16];
	int clean, want;
	int needs_redis; /* connects only while the store is healthy (an ingress session) */
	int redis_waits; /* turns waited for it: logged once, after a second */
	enum conn_state state;
	uv_stream_t *tcp; /* per attempt (a union conn_handle): freed once closed */
	uv_connect_t connect_req;
	uv_timer_t timer; /* backoff, CONNACK wait, keep-alive */
	uint64_t gen;     /* connections made: what was sent on an older one is void */
	uint64_t backoff_ms;
	int was_down;         /* logged as down, not logged up since */
	int ever_up;          /* a CONNACK came once: "reconnected" from then on */
	int log_suback;       /* the next SUBACK is logged (after a logged connect, or new routes) */
	uint64_t up_ms;       /* when the current connection's CONNACK came */
	char last_cause[128]; /* the last drop logged: the same again on a connection that did not last is quiet */
	int ping_out;         /* a PINGREQ without its PINGRESP yet */
	uint8_t *in;          /* bytes received, not yet a whole packet */
	size_t inlen, incap;
	size_t skip;  /* bytes of an oversize packet still to drop */
	uint8_t *out; /* bytes to write at the end of this loop turn */
	size_t outlen, outcap;
	struct conn *next_out; /* on m->flush_list while outlen > 0 */
	int queued_out;
	int held;     /* a packet waits at in + inoff; reading is stopped */
	int leaving;  /* session_leave: 1 its XADDs out, 2 DISCONNECT sent: the broker closes */
	size_t inoff; /* where parsing goes on while held (0 otherwise) */
};

/* A received message waiting for its XADD, in arrival order. */
struct inflight {
	struct inflight *next;
	struct session *s; /* NULL once the session is gone: freed by its reply */
	uint64_t gen;
	uint16_t id;
	uint8_t qos;
	int state; /* 0 waiting, 1 done (acknowledge), -1 failed */
};

struct session {
	struct session *next;
	struct mqtt *m;
	char wf[UF_NAME_BUF];
	struct conn c;
	int ending;  /* undeployed: a clean connection, then freed */
	char **subs; /* filters subscribed (or to be) on this session */
	uint8_t *subs_qos;
	size_t nsubs;
	char **stale; /* filters subscribed once, no longer routed: unsubscribed at connect */
	size_t nstale;
	struct inflight *head, *tail;
	struct pw_source pws; /* its place in the push window's turns (pushwin.h) */
	int in_turn;          /* its messages may be sent (pushwin_room) */
	uint64_t unrouted_logged;
	char xadd_err[64]; /* why the connection's first failed XADD failed */
};

/* An entry of an outbox: "<key> <id>" (OBREF_BUF). */
#define OBKEY_BUF (sizeof(UF_OUTBOX_MQTT) + UF_NAME_BUF)
#define OBREF_BUF (OBKEY_BUF + UF_ID_MAX + 2)

/* An outbox entry published with QoS 1, waiting for its PUBACK. */
struct pending_pub {
	uint16_t id; /* 0: free slot */
	char entry[OBREF_BUF];
};

/* One workflow's outbox, read while the workflow is deployed. */
struct obstream {
	struct obstream *next;
	char wf[UF_NAME_BUF];
	char key[OBKEY_BUF];
	int group_ok;
	uint64_t group_retry_ms; /* a failed XGROUP CREATE is not sent again before */
	int rewind;              /* reading this connection's pending entries from last_id */
	char last_id[UF_ID_MAX + 1];
};

struct outbox {
	struct conn c;
	int reading;       /* an XREADGROUP, or XGROUP CREATEs (their number), out */
	uint64_t read_gen; /* on this connection */
	struct obstream *streams;
	size_t turn; /* streams read so far: where the next read starts */
	struct pending_pub slots[OUTBOX_WINDOW];
	unsigned used;
	uint16_t next_id;
	uv_timer_t poll;
	char **done; /* entries the broker took (or refused ones), deleted at the end of this turn */
	size_t ndone, capdone;
};

/* A write whose completion acknowledges QoS 0 outbox entries. */
struct wreq {
	uv_write_t req;
	struct conn *c;
	uint64_t gen;
	uint8_t *buf;
	char **q0; /* outbox entries written with QoS 0 */
	size_t nq0;
};

struct mqtt {
	struct daemon *d;
	struct sockaddr_storage addr;
	char sock[108];                  /* the broker's unix socket (mqtt_socket), "" for TCP to addr */
	char url[256];                   /* where the broker is, for logs */
	const char *username, *password; /* NULL: anonymous */
	struct session *sessions;
	struct outbox ob;
	uv_check_t flush; /* writes what a loop turn queued, once */
	struct conn *flush_list;
	char **q0; /* QoS 0 entries in the next write of the outbox */
	size_t nq0, capq0;
	uint64_t unrouted, oversize; /* dropped so far (their log lines are thinned) */
	int closing;
};

static void count_in(const char *outcome)
{
	const char *v[] = {"mqtt", outcome};
	metric_add(M_INGRESS_MESSAGES, v, 1);
}

static void count_out(const char *status, size_t n)
{
	const char *v[] = {"mqtt", status};
	metric_add(M_EGRESS_CALLS, v, (double)n);
}

/* ---- connections ---- */

static void conn_start(struct conn *c);
static void conn_drop(struct conn *c, const char *why);
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);
static void parse_input(struct conn *c);

static void tcp_closed(uv_handle_t *h)
{
	free(h);
}

/* Queued for the end of this loop turn (m->flush). */
static int conn_out(struct conn *c, const void *a, size_t alen, const void *b, size_t blen)
{
	if (c->state != C_UP && c->state != C_CONNACK)
		return -1;
	size_t need = c->outlen + alen + blen;
	if (need > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		while (cap < need)
			cap *= 2;
		uint8_t *n = realloc(c->out, cap);
		if (!n)
			return -1;
		c->out = n;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, a, alen);
	if (blen)
		memcpy(c->out + c->outlen + alen, b, blen);
	c->outlen = need;
	if (!c->queued_out) {
		c->queued_out = 1;
		c->next_out = c->m->flush_list;
		c->m->flush_list = c;
	}
	return 0;
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void ack_q0(struct mqtt *m, char **ids, size_t n);

static void on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	if (status == 0 && w->nq0)
		ack_q0(w->c->m, w->q0, w->nq0);
	else if (status < 0 && w->c->gen == w->gen && w->c->state >= C_CONNACK)
		conn_drop(w->c, uv_strerror(status));
	free_strs(w->q0, w->nq0);
	free(w->buf);
	free(w);
}

static void conn_flush(struct conn *c)
{
	c->queued_out = 0;
	if (!c->outlen || !c->tcp || c->state < C_CONNACK)
		return;
	struct wreq *w = calloc(1, sizeof(*w));
	if (!w) {
		conn_drop(c, "out of memory");
		return;
	}
	w->c = c;
	w->gen = c->gen;
	w->buf = c->out;
	uv_buf_t b = uv_buf_init((char *)c->out, (unsigned)c->outlen);
	c->out = NULL;
	c->outlen = c->outcap = 0;
	if (&c->m->ob.c == c && c->m->nq0) { /* the QoS 0 entries in these bytes */
		w->q0 = c->m->q0;
		w->nq0 = c->m->nq0;
		c->m->q0 = NULL;
		c->m->nq0 = c->m->capq0 = 0;
	}
	int rc = uv_write(&w->req, c->tcp, &b, 1, on_written);
	if (rc < 0) {
		free_strs(w->q0, w->nq0);
		free(w->buf);
		free(w);
		conn_drop(c, uv_strerror(rc));
	}
}

static void on_flush(uv_check_t *h)
{
	struct mqtt *m = h->data;
	while (m->flush_list) {
		struct conn *c = m->flush_list;
		m->flush_list = c->next_out;
		conn_flush(c);
	}
}

static void backoff_cb(uv_timer_t *t)
{
	conn_start(t->data);
}

/* The connection is gone (or given up): reconnect later if still wanted. */
static void conn_close(struct conn *c)
{
	if (c->tcp) {
		uv_close((uv_handle_t *)c->tcp, tcp_closed);
		c->tcp = NULL;
	}
	if (c->queued_out) { /* unlink from the flush list */
		for (struct conn **p = &c->m->flush_list; *p; p = &(*p)->next_out)
			if (*p == c) {
				*p = c->next_out;
				break;
			}
		c->queued_out = 0;
	}
	free(c->out);
	c->out = NULL;
	c->outlen = c->outcap = 0;
	c->inlen = c->skip = c->inoff = 0;
	c->ping_out = 0;
	c->held = 0;
	c->leaving = 0;
	int was_up = c->state >= C_CONNACK;
	c->state = C_IDLE;
	c->gen++;
	uv_timer_stop(&c->timer);
	if (was_up && c->ops->down)
		c->ops->down(c);
	if (c->want && !c->m->closing) {
		c->state = C_WAIT;
		uv_timer_start(&c->timer, backoff_cb, c->backoff_ms, 0);
		c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
	}
}

/* Logged once per change of state: a connection that drops again for the
 * same cause before it lasted CONN_LASTED_MS (Redis still loading, a
 * broker refusing) is quiet, and its backoff keeps growing. */
static void conn_drop(struct conn *c, const char *why)
{
	if (c->state == C_UP && now_ms() - c->up_ms >= CONN_LASTED_MS) {
		c->last_cause[0] = 0;
		c->backoff_ms = BACKOFF_MIN_MS;
	}
	if (strncmp(why, c->last_cause, sizeof(c->last_cause) - 1)) {
		dlog("warn", "what=mqtt op=connect client=%s broker=%s cause=\"%s\" retry_ms=%llu", c->client_id,
		     c->m->url, why, (unsigned long long)c->backoff_ms);
		snprintf(c->last_cause, sizeof(c->last_cause), "%s", why);
		c->was_down = 1;
	}
	conn_close(c);
}

static void keepalive_cb(uv_timer_t *t)
{
	struct conn *c = t->data;
	uint8_t b[2];
	if (c->state == C_CONNACK) {
		conn_drop(c, "no CONNACK in 5 s");
		return;
	}
	if (c->ping_out && !c->held) { /* held: its PINGRESP may wait unread behind a message */
		conn_drop(c, "no PINGRESP within the keep-alive");
		return;
	}
	c->ping_out = 1;
	conn_out(c, b, mqtt_pingreq(b, sizeof(b)), NULL, 0);
	uv_timer_start(&c->timer, keepalive_cb, KEEPALIVE_S * 1000 / 2, 0);
}

/* A leave (session_leave) that did not end in LEAVE_WAIT_MS. */
static void leave_late_cb(uv_timer_t *t)
{
	char why[128];
	snprintf(why, sizeof(why),
	         "pause: not left in %d s (redis or the broker slow): written messages may come again",
	         LEAVE_WAIT_MS / 1000);
	conn_drop(t->data, why);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;
	(void)hint;
	if (c->incap - c->inlen < 65536) { /* room for a read; a whole packet fits in IN_MAX */
		size_t cap = c->incap ? c->incap * 2 : 131072;
		cap = cap < c->inlen + 65536 ? c->inlen + 65536 : cap;
		cap = cap > IN_MAX ? IN_MAX : cap;
		uint8_t *n = cap > c->incap ? realloc(c->in, cap) : NULL;
		if (n) {
			c->in = n;
			c->incap = cap;
		}
	}
	*buf = uv_buf_init((char *)c->in + c->inlen, (unsigned)(c->incap - c->inlen));
}

static int handle_packet(struct conn *c, const struct mqtt_packet *p)
{
	if (p->type == MQTT_PINGRESP) {
		c->ping_out = 0;
		return 0;
	}
	if (c->state == C_CONNACK) {
		if (p->type != MQTT_CONNACK) {
			conn_drop(c, "first packet is not CONNACK");
			return 0;
		}
		if (p->code) {
			char why[96];
			snprintf(why, sizeof(why), "broker refused: %s", mqtt_connack_reason(p->code));
			conn_drop(c, why);
			return 0;
		}
		c->state = C_UP;
		c->up_ms = now_ms();
		if (c->was_down || !c->ever_up) {
			dlog("info", "what=mqtt op=connect client=%s broker=%s result=%s session_present=%u",
			     c->client_id, c->m->url, c->ever_up ? "reconnected" : "connected", p->session_present);
			c->log_suback = 1;
		}
		c->was_down = 0;
		c->ever_up = 1;
		uv_timer_start(&c->timer, keepalive_cb, KEEPALIVE_S * 1000 / 2, 0);
		c->ops->up(c, p->session_present);
		return 0;
	}
	if (c->leaving && p->type == MQTT_PUBLISH)
		return 0; /* not taken, not acknowledged: the broker sends it again on the next connection */
	return c->ops->packet(c, p);
}

/* Every whole packet in c->in; an oversize PUBLISH is handed on with no
 * payload (p->payload NULL) and its bytes dropped as they come. */
static void parse_input(struct conn *c)
{
	size_t off = c->inoff;
	uint64_t gen = c->gen;
	int held = 0;
	while (c->gen == gen && off < c->inlen) {
		if (c->skip) {
			size_t n = c->inlen - off < c->skip ? c->inlen - off : c->skip;
			off += n;
			c->skip -= n;
			continue;
		}
		struct mqtt_packet p;
		const char *why = "malformed packet";
		ssize_t n = mqtt_parse(c->in + off, c->inlen - off, PACKET_MAX, &p, &why);
		if (n == 0)
			break;
		if (n == -1) {
			char msg[128];
			snprintf(msg, sizeof(msg), "protocol error: %s", why);
			conn_drop(c, msg);
			return;
		}
		if (n == -2) { /* the head only: acknowledge and drop the rest (never waits) */
			handle_packet(c, &p);
			size_t have = c->inlen - off;
			c->skip = p.size - have;
			off = c->inlen;
			continue;
		}
		if (handle_packet(c, &p)) {
			held = 1; /* it stays at the head of c->in */
			break;
		}
		off += (size_t)n;
	}
	if (c->gen != gen)
		return;
	if (held) {
		c->inoff = off; /* parsed on from there in its turns: no move per message */
	} else {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
		c->inoff = 0;
	}
	if (held && !c->held) {
		c->held = 1;
		uv_read_stop(c->tcp); /* what follows stays with the broker (and the socket) */
	} else if (!held && c->held) {
		c->held = 0;
		if (uv_read_start(c->tcp, on_alloc, on_read) < 0) {
			conn_drop(c, "cannot read again");
			return;
		}
	}
	if (held && c->ops->wait)
		c->ops->wait(c);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = st->data;
	(void)buf;
	if (n < 0 && c->leaving == 2) { /* the broker took the DISCONNECT, and all before it */
		conn_close(c);
		return;
	}
	if (n < 0) {
		conn_drop(c, n == UV_EOF ? "closed by the broker" : uv_strerror((int)n));
		return;
	}
	c->inlen += (size_t)n;
	parse_input(c);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	uint8_t b[512];
	if (status == UV_ECANCELED || !c->tcp || req->handle != c->tcp)
		return;
	if (status < 0) {
		conn_drop(c, uv_strerror(status));
		return;
	}
	c->tcp->data = c;
	c->state = C_CONNACK;
	size_t n = mqtt_connect(b, sizeof(b), c->client_id, c->m->username, c->m->password, KEEPALIVE_S, c->clean);
	if (!n || uv_read_start(c->tcp, on_alloc, on_read) < 0) {
		conn_drop(c, "cannot start the session");
		return;
	}
	conn_out(c, b, n, NULL, 0);
	uv_timer_start(&c->timer, keepalive_cb, CONNACK_WAIT_MS, 0);
}

static void conn_start(struct conn *c)
{
	if (c->state != C_IDLE && c->state != C_WAIT)
		return;
	uv_timer_stop(&c->timer);
	/* an ingress session with Redis away would take messages only to
	 * drop them unacknowledged: it waits (the broker keeps them) */
	if (c->needs_redis && !store_healthy(c->m->d->store)) {
		if (++c->redis_waits == 1000 / BACKOFF_MIN_MS)
			dlog("warn",
			     "what=mqtt op=connect client=%s cause=\"redis unreachable\" effect=\"messages wait in the "
			     "broker's session\"",
			     c->client_id);
		c->was_down |= c->redis_waits >= 1000 / BACKOFF_MIN_MS;
		c->state = C_WAIT;
		uv_timer_start(&c->timer, backoff_cb, BACKOFF_MIN_MS, 0);
		return;
	}
	c->redis_waits = 0;
	c->state = C_CONNECTING;
	union conn_handle *h = calloc(1, sizeof(*h));
	struct mqtt *m = c->m;
	int rc = !h ? UV_ENOMEM : m->sock[0] ? uv_pipe_init(m->d->loop, &h->pipe, 0) : uv_tcp_init(m->d->loop, &h->tcp);
	if (rc < 0) {
		free(h);
		conn_drop(c, uv_strerror(rc));
		return;
	}
	c->tcp = (uv_stream_t *)h;
	c->tcp->data = c;
	c->connect_req.data = c;
	if (m->sock[0]) {
		uv_pipe_connect(&c->connect_req, &h->pipe, m->sock, on_connect);
		return;
	}
	uv_tcp_nodelay(&h->tcp, 1);
	rc = uv_tcp_connect(&c->connect_req, &h->tcp, (const struct sockaddr *)&m->addr, on_connect);
	if (rc < 0)
		conn_drop(c, uv_strerror(rc));
}

static void conn_init(struct mqtt *m, struct conn *c, const char *id, const struct conn_ops *ops, void *owner)
{
	memset(c, 0, sizeof(*c));
	c->m = m;
	c->ops = ops;
	c->owner = owner;
	c->backoff_ms = BACKOFF_MIN_MS;
	snprintf(c->client_id, sizeof(c->client_id), "%s", id);
	uv_timer_init(m->d->loop, &c->timer);
	c->timer.data = c;
}

/* Wanted or not: connects, or sends DISCONNECT and closes. */
static void conn_want(struct conn *c, int want)
{
	c->want = want;
	if (want) {
		conn_start(c);
		return;
	}
	if (c->state >= C_CONNACK && c->tcp) {
		/* what is queued (PUBACKs) and DISCONNECT, written now if the
		 * socket takes them (closing cancels a pending uv_write): else
		 * the broker sends the unacknowledged messages again */
		uint8_t b[2];
		conn_out(c, b, mqtt_disconnect(b, sizeof(b)), NULL, 0);
		uv_buf_t buf = uv_buf_init((char *)c->out, (unsigned)c->outlen);
		uv_try_write(c->tcp, &buf, 1);
	}
	if (c->state != C_IDLE)
		conn_close(c);
	c->backoff_ms = BACKOFF_MIN_MS;
}

static void timer_free(uv_handle_t *h)
{
	free(h->data);
}

/* ---- ingress sessions ---- */

static void session_free(struct session *s);

static struct session *session_of(struct conn *c)
{
	return c->owner;
}

static void session_leave_on(struct session *s);

/* Acknowledge the done messages at the head, in order; a failed head
 * drops the connection (it and what follows come again). */
static void session_flush(struct session *s)
{
	while (s->head && s->head->state) {
		struct inflight *f = s->head;
		if (f->gen == s->c.gen && f->state < 0) {
			char why[128];
			snprintf(why, sizeof(why), "redis did not take a message (%.40s): not acknowledged, sent again",
			         s->xadd_err[0] ? s->xadd_err : "unreachable");
			s->xadd_err[0] = 0;
			conn_drop(&s->c, why);
			continue; /* its gen is now old: dropped below */
		}
		if (f->gen == s->c.gen && f->qos) {
			uint8_t b[4];
			conn_out(&s->c, b, mqtt_puback(b, sizeof(b), f->id), NULL, 0);
		}
		s->head = f->next;
		if (!s->head)
			s->tail = NULL;
		free(f);
	}
	if (s->c.leaving == 1)
		session_leave_on(s);
}

static void xadd_done(redisReply *r, void *arg)
{
	struct inflight *f = arg;
	struct session *s = f->s;
	if (!s) { /* the session ended meanwhile */
		free(f);
		return;
	}
	if (r && r->type == REDIS_REPLY_STRING) {
		f->state = 1;
		count_in("accepted");
	} else {
		f->state = -1;
		count_in("store_failed");
		quota_redis_refused(s->m->d, s->wf, "mqtt-ingress", r);
		if (f->gen == s->c.gen) /* the first of this connection: it drops with this cause */
			snprintf(s->xadd_err, sizeof(s->xadd_err), "%s",
			         r && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
	}
	session_flush(s);
}

static struct inflight *inflight_add(struct session *s, const struct mqtt_packet *p, int state)
{
	struct inflight *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->s = s;
	f->gen = s->c.gen;
	f->id = p->id;
	f->qos = p->qos;
	f->state = state;
	*(s->tail ? &s->tail->next : &s->head) = f;
	s->tail = f;
	return f;
}

/* The queue of the route matching topic, or NULL. */
static const char *route(const struct workflow *w, const uint8_t *topic, size_t tlen)
{
	for (size_t i = 0; w && i < w->m->nmqtt; i++)
		if (uf_topic_match(w->m->mqtt[i].topic, strlen(w->m->mqtt[i].topic), (const char *)topic, tlen))
			return w->m->mqtt[i].queue;
	return NULL;
}

static int session_message(struct session *s, const struct mqtt_packet *p)
{
	struct mqtt *m = s->m;
	struct workflow *w = registry_find(m->d, s->wf);
	const char *queue = s->ending ? NULL : route(w, p->topic, p->topic_len);
	/* over the listener's limits.event_bytes (event_limits.h): dropped and
	 * logged, as a payload over MQTT_PAYLOAD_MAX (docs/api.md says why) */
	struct uf_limits lim;
	char cause[160] = "payload over 1 MiB (MQTT_PAYLOAD_MAX)";
	uf_queue_limits(w && queue ? w->m : NULL, queue ? queue : "", &m->d->cfg.limits, &lim);
	int big = !p->payload || p->payload_len > MQTT_PAYLOAD_MAX;
	if (!big && queue && p->payload_len > lim.v[UF_LIM_EVENT_BYTES]) {
		char where[64];
		uf_limit_where(where, sizeof(where), &lim, UF_LIM_EVENT_BYTES);
		snprintf(cause, sizeof(cause), "event of %zu bytes, over the limit %llu (%s)", (size_t)p->payload_len,
		         (unsigned long long)lim.v[UF_LIM_EVENT_BYTES], where);
		big = 1;
	}
	if (big || !queue) { /* acknowledged (in order) and dropped */
		uint64_t n = big ? ++m->oversize : ++m->unrouted;
		count_in(big ? "too_large" : "unrouted");
		if (big || n - s->unrouted_logged >= 1000 || !s->unrouted_logged) {
			dlog("warn", "what=mqtt-ingress workflow=%s topic=%.*s action=dropped cause=\"%s\" count=%llu",
			     s->wf, (int)p->topic_len, (const char *)p->topic,
			     big ? cause : "no route matches the topic", (unsigned long long)n);
			if (!big)
				s->unrouted_logged = n;
		}
		if (!inflight_add(s, p, 1))
			conn_drop(&s->c, "out of memory");
		session_flush(s);
		return 0;
	}
	if (!s->in_turn || !pushwin_room(m->d->pushwin))
		return 1; /* its workflow's turn first */
	struct uf_cmd cmd;
	struct inflight *f = NULL;
	if (uf_ingress_cmd(s->wf, queue, strlen(queue), (const char *)p->payload, p->payload_len,
	                   (const char *)p->topic, p->topic_len, NULL, 0, NULL, 0, &cmd) < 0 ||
	    !(f = inflight_add(s, p, 0))) {
		conn_drop(&s->c, "cannot build the event");
		return 0;
	}
	if (pushwin_sendv(m->d->pushwin, xadd_done, f, cmd.argc, cmd.argv, cmd.len) < 0) {
		f->state = -1;
		count_in("store_failed");
		session_flush(s);
	}
	return 0;
}

/* The broker's SUBACK of the session's filters, logged as what it granted:
 * result=subscribed (every filter), partly (some refused, 0x80) or refused
 * (none granted), naming the refused ones; a filter the SUBACK has no code
 * for counts as refused.  Each refused filter is an error line as well. */
static void suback_log(struct session *s, const struct mqtt_packet *p)
{
	struct conn *c = &s->c;
	size_t refused = 0;
	char names[512] = "";
	for (size_t i = 0; i < s->nsubs; i++)
		if (i >= p->payload_len || p->payload[i] == 0x80) {
			size_t at = strlen(names);
			if (at + 1 < sizeof(names))
				snprintf(names + at, sizeof(names) - at, "%s%s", refused ? "," : "", s->subs[i]);
			refused++;
			dlog("error", "what=mqtt op=subscribe workflow=%s filter=%s cause=\"refused by the broker\"",
			     s->wf, s->subs[i]);
		}
	/* from here the broker keeps the granted routes' messages for the
	 * session (logged as the connection is: once per change) */
	if (c->log_suback && !refused)
		dlog("info", "what=mqtt op=subscribe workflow=%s client=%s filters=%zu refused=0 result=subscribed",
		     s->wf, c->client_id, s->nsubs);
	else if (c->log_suback)
		dlog("error",
		     "what=mqtt op=subscribe workflow=%s client=%s filters=%zu refused=%zu result=%s "
		     "refused_topics=\"%s\"",
		     s->wf, c->client_id, s->nsubs, refused, refused < s->nsubs ? "partly" : "refused", names);
	c->log_suback = 0;
}

static int session_packet(struct conn *c, const struct mqtt_packet *p)
{
	struct session *s = session_of(c);
	if (p->type == MQTT_PUBLISH) {
		return session_message(s, p);
	} else if (p->type == MQTT_SUBACK) {
		suback_log(s, p);
	}
	return 0;
}

static void session_subscribe(struct session *s)
{
	size_t cap = 16;
	for (size_t i = 0; i < s->nsubs; i++)
		cap += 3 + strlen(s->subs[i]);
	for (size_t i = 0; i < s->nstale; i++)
		cap += 2 + strlen(s->stale[i]);
	uint8_t *b = malloc(cap + 2 * MQTT_HEAD_MAX);
	if (!b)
		return;
	size_t n = s->nsubs ? mqtt_subscribe(b, cap, SUB_ID, (const char *const *)s->subs, s->subs_qos, s->nsubs) : 0;
	n += s->nstale ? mqtt_unsubscribe(b + n, cap + 2 * MQTT_HEAD_MAX - n, SUB_ID + 1, (const char *const *)s->stale,
	                                  s->nstale)
	               : 0;
	if (n)
		conn_out(&s->c, b, n, NULL, 0);
	free(b);
	free_strs(s->stale, s->nstale);
	s->stale = NULL;
	s->nstale = 0;
}

static void session_up(struct conn *c, int session_present)
{
	struct session *s = session_of(c);
	(void)session_present;
	if (s->ending) { /* the clean connection ended the session: done */
		dlog("info", "what=mqtt op=end-session workflow=%s client=%s result=ended", s->wf, c->client_id);
		conn_want(c, 0);
		session_free(s);
		return;
	}
	session_subscribe(s);
}

static void session_down(struct conn *c)
{
	struct session *s = session_of(c);
	/* in-flight messages of the old connection are dropped as their replies
	 * come; the one that waited for a turn is gone with its bytes */
	pushwin_cancel(s->m->d->pushwin, &s->pws);
}

/* A message waits for its workflow's turn (conn_ops.wait). */
static void session_wait(struct conn *c)
{
	struct session *s = session_of(c);
	if (!s->in_turn) /* in its turn, pushwin keeps its place */
		pushwin_ready(s->m->d->pushwin, &s->pws);
}

/* Its workflow's turn (pushwin.h): its waiting messages, read on while the
 * turn has room; 1 while one still waits. */
static int session_send(struct pw_source *p)
{
	struct session *s = (struct session *)((char *)p - offsetof(struct session, pws));
	if (s->c.state != C_UP || !s->c.held)
		return 0;
	s->in_turn = 1;
	parse_input(&s->c);
	s->in_turn = 0;
	return s->c.state == C_UP && s->c.held;
}

static const struct conn_ops session_ops = {session_up, session_packet, session_down, session_wait};

/*
 * A session paused (its workflow stopped, or over its storage quota) leaves
 * so that the broker sends again exactly the messages that were not
 * written: it takes no more (a PUBLISH read from here on, or held for its
 * turn, is dropped unacknowledged), waits for the replies of the XADDs it
 * has out, acknowledges those written (in order, session_flush), sends
 * DISCONNECT after the PUBACKs, and closes only once the broker has closed
 * its end, so it has read them all.  Closing at once lost the PUBACKs of
 * messages written in Redis (replies still out, or PUBACKs unread by a
 * broker that failed writing to a closed socket): the broker sent them
 * again, and they were queued twice.  At most LEAVE_WAIT_MS, then it is
 * closed anyway (logged: those messages may come twice).  Wanted again
 * meanwhile, it connects again once it has left.
 */
static void session_leave(struct session *s)
{
	struct conn *c = &s->c;
	c->want = 0;
	c->backoff_ms = BACKOFF_MIN_MS;
	if (c->leaving)
		return;
	if (c->state != C_UP || s->m->closing) {
		conn_want(c, 0);
		return;
	}
	c->leaving = 1;
	pushwin_cancel(s->m->d->pushwin, &s->pws);
	uv_timer_start(&c->timer, leave_late_cb, LEAVE_WAIT_MS, 0);
	if (c->held) { /* the held PUBLISH and what follows are read and dropped */
		c->held = 0;
		if (uv_read_start(c->tcp, on_alloc, on_read) < 0) {
			conn_drop(c, "cannot read again");
			return;
		}
		parse_input(c);
	}
	if (c->leaving == 1)
		session_leave_on(s);
}

/* Leaving, once no XADD of this connection is out: DISCONNECT, behind the
 * PUBACKs. */
static void session_leave_on(struct session *s)
{
	uint8_t b[2];
	for (struct inflight *f = s->head; f; f = f->next)
		if (f->gen == s->c.gen && !f->state)
			return;
	if (conn_out(&s->c, b, mqtt_disconnect(b, sizeof(b)), NULL, 0) < 0) {
		conn_drop(&s->c, "cannot send DISCONNECT");
		return;
	}
	s->c.leaving = 2;
}

static struct session *session_find(struct mqtt *m, const char *wf)
{
	for (struct session *s = m->sessions; s; s = s->next)
		if (!strcmp(s->wf, wf))
			return s;
	return NULL;
}

static void session_free(struct session *s)
{
	for (struct session **p = &s->m->sessions; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	pushwin_cancel(s->m->d->pushwin, &s->pws);
	for (struct inflight *f = s->head; f; f = f->next)
		f->s = NULL; /* freed by their replies; done ones now */
	while (s->head && s->head->state) {
		struct inflight *f = s->head;
		s->head = f->next;
		free(f);
	}
	free_strs(s->subs, s->nsubs);
	free(s->subs_qos);
	free_strs(s->stale, s->nstale);
	free(s->c.in);
	s->c.timer.data = s;
	uv_close((uv_handle_t *)&s->c.timer, timer_free);
}

/* The routes of w become the session's subscriptions; filters no longer
 * routed are unsubscribed at the next connection. */
static int session_routes(struct session *s, const struct workflow *w)
{
	size_t n = w->m->nmqtt;
	char **subs = calloc(n ? n : 1, sizeof(*subs));
	uint8_t *qos = calloc(n ? n : 1, 1);
	if (!subs || !qos)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (!(subs[i] = strdup(w->m->mqtt[i].topic)))
			goto fail;
		qos[i] = (uint8_t)w->m->mqtt[i].qos;
	}
	for (size_t i = 0; i < s->nsubs; i++) {
		size_t j = 0;
		while (j < n && strcmp(subs[j], s->subs[i]))
			j++;
		char **st = j < n ? NULL : realloc(s->stale, (s->nstale + 1) * sizeof(*st));
		if (st) {
			s->stale = st;
			s->stale[s->nstale++] = s->subs[i];
			s->subs[i] = NULL;
		}
	}
	free_strs(s->subs, s->nsubs);
	free(s->subs_qos);
	s->subs = subs;
	s->subs_qos = qos;
	s->nsubs = n;
	return 0;
fail:
	free_strs(subs, n);
	free(qos);
	return -1;
}

static struct session *session_new(struct mqtt *m, const char *wf)
{
	struct session *s = calloc(1, sizeof(*s));
	char id[UF_NAME_BUF + 16];
	if (!s)
		return NULL;
	s->m = m;
	snprintf(s->wf, sizeof(s->wf), "%s", wf);
	snprintf(id, sizeof(id), UF_MQTT_PLATFORM "-%s", wf);
	conn_init(m, &s->c, id, &session_ops, s);
	pushwin_source_init(&s->pws, wf, session_send);
	s->c.needs_redis = 1;
	s->next = m->sessions;
	m->sessions = s;
	return s;
}

static void outbox_track(struct mqtt *m, const char *wf, int want);

void mqtt_sync(struct mqtt *m, const char *wf)
{
	if (!m || m->closing)
		return;
	struct workflow *w = registry_find(m->d, wf);
	outbox_track(m, wf, w != NULL);
	struct session *s = session_find(m, wf);
	int routed = w && w->m->nmqtt > 0;
	if (!routed) {
		if (!s)
			return;
		/* undeployed (or no routes left): end the session with a clean connection */
		conn_want(&s->c, 0);
		s->ending = 1;
		s->c.clean = 1;
		s->c.needs_redis = 0;
		conn_want(&s->c, 1);
		return;
	}
	if (!s && !(s = session_new(m, wf))) {
		dlog("error", "what=mqtt workflow=%s cause=\"out of memory\"", wf);
		return;
	}
	if (s->ending) { /* deployed again before the old session ended */
		conn_want(&s->c, 0);
		s->ending = 0;
		s->c.needs_redis = 1;
	}
	s->c.clean = 0;
	if (session_routes(s, w) < 0)
		dlog("error", "what=mqtt workflow=%s cause=\"out of memory\"", wf);
	int run = w->state == WF_RUNNING && !w->over_quota && !m->d->stopping; /* over: quota.c */
	if (run && s->c.state == C_UP && !s->c.leaving) {
		s->c.log_suback = 1;
		session_subscribe(s); /* a replace: the new routes at once */
	}
	if (!run && s->c.want)
		dlog("info",
		     "what=mqtt op=pause workflow=%s client=%s cause=%s effect=\"messages wait in the broker's "
		     "session\"",
		     wf, s->c.client_id, w->over_quota ? "over its storage quota" : "stopped");
	if (run)
		conn_want(&s->c, 1);
	else
		session_leave(s);
}

/* ---- outbox ---- */

static void outbox_read(struct outbox *ob);

static struct mqtt *outbox_mqtt(struct outbox *ob)
{
	return ob->c.m;
}

static struct obstream *stream_find(struct outbox *ob, const char *key)
{
	for (struct obstream *s = ob->streams; s; s = s->next)
		if (!strcmp(s->key, key))
			return s;
	return NULL;
}

static void deleted(redisReply *r, void *arg)
{
	(void)arg;
	if (!r || r->type == REDIS_REPLY_ERROR)
		dlog("warn", "what=mqtt-outbox op=delete cause=\"%s\" effect=\"published again later\"",
		     r ? r->str : "no reply from redis");
}

/* XACK and XDEL of entries the broker has ("<key> <id>" each): one
 * command of each per outbox. */
static void outbox_delete(struct mqtt *m, char **refs, size_t n)
{
	const char **argv = calloc(n + 3, sizeof(*argv));
	char *used = calloc(n ? n : 1, 1), key[OBKEY_BUF];
	for (size_t i = 0; argv && used && i < n; i++) {
		size_t kl = strcspn(refs[i], " ");
		int argc = 3;
		if (used[i] || kl >= sizeof(key) || !refs[i][kl])
			continue;
		memcpy(key, refs[i], kl);
		key[kl] = 0;
		for (size_t j = i; j < n; j++)
			if (!used[j] && !strncmp(refs[j], key, kl) && refs[j][kl] == ' ') {
				used[j] = 1;
				argv[argc++] = refs[j] + kl + 1;
			}
		argv[0] = "XACK";
		argv[1] = key;
		argv[2] = OUTBOX_GROUP;
		store_sendv(m->d->store, deleted, NULL, argc, argv, NULL);
		argv[1] = "XDEL";
		argv[2] = key;
		store_sendv(m->d->store, deleted, NULL, argc - 1, argv + 1, NULL);
	}
	free(argv);
	free(used);
}

static void ack_q0(struct mqtt *m, char **refs, size_t n)
{
	count_out("published", n);
	outbox_delete(m, refs, n);
	outbox_read(&m->ob);
}

static int push_str(char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		char **nv = realloc(*v, c * sizeof(**v));
		if (!nv)
			return -1;
		*v = nv;
		*cap = c;
	}
	if (!((*v)[*n] = strdup(s)))
		return -1;
	++*n;
	return 0;
}

static void outbox_flush_done(struct outbox *ob)
{
	outbox_delete(outbox_mqtt(ob), ob->done, ob->ndone);
	free_strs(ob->done, ob->ndone);
	ob->done = NULL;
	ob->ndone = ob->capdone = 0;
}

static const char *field_str(const redisReply *fields, const char *name, size_t *len)
{
	redisReply *v = store_field(fields, name);
	if (!v || v->type != REDIS_REPLY_STRING)
		return NULL;
	*len = v->len;
	return v->str;
}

/* Whether a step of w may publish to topic: the union of its steps'
 * publish filters (what the tender checked before staging it). */
static int topic_allowed(const struct workflow *w, const char *topic, size_t tlen)
{
	for (size_t i = 0; w && i < w->m->nfunctions; i++)
		for (size_t k = 0; k < w->m->functions[i].npublish; k++) {
			const char *f = w->m->functions[i].publish[k];
			if (uf_topic_match(f, strlen(f), topic, tlen))
				return 1;
		}
	return 0;
}

/* A refused entry: counted, logged (its topic printable and cut short: a
 * unit wrote it) and deleted. */
static void outbox_refuse(struct outbox *ob, const struct obstream *s, const char *ref, const char *topic, size_t tlen,
                          const char *why)
{
	char shown[129];
	size_t n = topic ? (tlen < sizeof(shown) - 1 ? tlen : sizeof(shown) - 1) : 0;
	for (size_t i = 0; i < n; i++)
		shown[i] = (unsigned char)topic[i] < 0x20 || topic[i] == '"' || topic[i] == 0x7f ? '?' : topic[i];
	shown[n] = 0;
	count_out("refused", 1);
	dlog("error", "what=mqtt-outbox workflow=%s entry=%s topic=\"%s\" action=dropped cause=\"%s\"", s->wf,
	     ref + strlen(s->key) + 1, shown, why);
	push_str(&ob->done, &ob->ndone, &ob->capdone, ref);
}

/* One entry of s: published, or refused if it cannot or may not be. */
static void outbox_publish(struct outbox *ob, const struct obstream *s, const redisReply *entry)
{
	struct mqtt *m = outbox_mqtt(ob);
	const redisReply *fields = entry->element[1];
	char ref[OBREF_BUF];
	size_t tlen = 0, dlen = 0, qlen = 0;
	const char *topic = field_str(fields, UF_OUT_FIELD_TOPIC, &tlen),
	           *data = field_str(fields, UF_OUT_FIELD_DATA, &dlen);
	const char *q = field_str(fields, UF_OUT_FIELD_QOS, &qlen);
	int qos = q && qlen == 1 && (q[0] == '0' || q[0] == '1') ? q[0] - '0' : -1;
	uint8_t head[MQTT_HEAD_MAX + 4 + UF_TOPIC_MAX];
	snprintf(ref, sizeof(ref), "%s %s", s->key, entry->element[0]->str);
	if (!topic || !data || qos < 0 || !uf_topic_name_ok(topic, tlen, NULL) || dlen > MQTT_REMAINING_MAX / 2) {
		outbox_refuse(ob, s, ref, topic, tlen, "no valid topic, qos (0 or 1) or data");
		return;
	}
	/* the workflow is the stream's, never what the entry says */
	if (!topic_allowed(registry_find(m->d, s->wf), topic, tlen)) {
		outbox_refuse(ob, s, ref, topic, tlen, "topic outside the workflow's publish filters");
		return;
	}
	uint16_t pid = 0;
	if (qos) {
		unsigned slot = 0;
		while (slot < OUTBOX_WINDOW && ob->slots[slot].id)
			slot++;
		if (slot == OUTBOX_WINDOW)
			return; /* not reached: reads stop at the window */
		do
			pid = ++ob->next_id;
		while (!pid);
		ob->slots[slot].id = pid;
		snprintf(ob->slots[slot].entry, sizeof(ob->slots[slot].entry), "%s", ref);
		ob->used++;
	}
	size_t n = mqtt_publish_head(head, sizeof(head), topic, tlen, dlen, qos, pid, 0);
	conn_out(&ob->c, head, n, data, dlen);
	if (!qos)
		push_str(&m->q0, &m->nq0, &m->capq0, ref);
}

static void outbox_poll_cb(uv_timer_t *t)
{
	struct outbox *ob = t->data;
	outbox_flush_done(ob);
	outbox_read(ob);
}

/* The consumer group of one outbox, made (XGROUP CREATE ... MKSTREAM). */
struct obgroup_req {
	struct outbox *ob;
	char key[OBKEY_BUF];
};

static void group_made(redisReply *r, void *arg)
{
	struct obgroup_req *g = arg;
	struct outbox *ob = g->ob;
	struct obstream *s = stream_find(ob, g->key);
	int ok = r && (r->type != REDIS_REPLY_ERROR || !strncmp(r->str, "BUSYGROUP", 9));
	ob->reading--;
	if (s) {
		s->group_ok = ok;
		s->group_retry_ms = ok ? 0 : now_ms() + 1000;
	}
	if (!ok)
		dlog("warn", "what=mqtt-outbox op=xgroup key=%s cause=\"%s\" retry_ms=1000", g->key,
		     r ? r->str : "no reply from redis");
	free(g);
	if (!ob->reading)
		uv_timer_start(&ob->poll, outbox_poll_cb, 0, 0);
}

/* Groups not made yet (a new workflow, or Redis lost them): asked for;
 * the number of requests sent. */
static int outbox_make_groups(struct outbox *ob)
{
	struct store *st = outbox_mqtt(ob)->d->store;
	uint64_t now = now_ms();
	int sent = 0;
	for (struct obstream *s = ob->streams; s; s = s->next) {
		struct obgroup_req *g = s->group_ok || s->group_retry_ms > now ? NULL : calloc(1, sizeof(*g));
		if (!g)
			continue;
		g->ob = ob;
		snprintf(g->key, sizeof(g->key), "%s", s->key);
		if (store_send(st, group_made, g, "XGROUP CREATE %s %s 0 MKSTREAM", s->key, OUTBOX_GROUP) < 0) {
			s->group_retry_ms = now + 1000;
			free(g);
			continue;
		}
		ob->reading++;
		sent++;
	}
	return sent;
}

/* One stream block [key, entries] of an XREADGROUP reply; the entries it
 * held. */
static size_t outbox_got_stream(struct outbox *ob, const redisReply *b)
{
	if (b->type != REDIS_REPLY_ARRAY || b->elements != 2 || b->element[0]->type != REDIS_REPLY_STRING ||
	    b->element[1]->type != REDIS_REPLY_ARRAY)
		return 0;
	struct obstream *s = stream_find(ob, b->element[0]->str);
	const redisReply *entries = b->element[1];
	if (!s) /* undeployed meanwhile: its outbox is deleted */
		return 0;
	if (s->rewind && !entries->elements)
		s->rewind = 0;
	for (size_t i = 0; i < entries->elements; i++) {
		const redisReply *e = entries->element[i];
		char ref[OBREF_BUF];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		if (s->rewind)
			snprintf(s->last_id, sizeof(s->last_id), "%s", e->element[0]->str);
		if (e->element[1]->type == REDIS_REPLY_ARRAY) { /* else deleted since: acknowledged below */
			outbox_publish(ob, s, e);
		} else {
			snprintf(ref, sizeof(ref), "%s %s", s->key, e->element[0]->str);
			push_str(&ob->done, &ob->ndone, &ob->capdone, ref);
		}
	}
	return entries->elements;
}

static void outbox_got(redisReply *r, void *arg)
{
	struct outbox *ob = arg;
	ob->reading = 0;
	if (ob->c.state != C_UP || ob->read_gen != ob->c.gen) {
		outbox_read(ob); /* a new connection reads its pending entries from the start */
		return;
	}
	if (r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOGROUP", 7)) {
		for (struct obstream *s = ob->streams; s; s = s->next)
			s->group_ok = 0; /* made again (BUSYGROUP for those that have it) */
		outbox_read(ob);
		return;
	}
	if (!r || r->type == REDIS_REPLY_ERROR) {
		uv_timer_start(&ob->poll, outbox_poll_cb, 1000, 0);
		return;
	}
	size_t got = 0;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		got += outbox_got_stream(ob, r->element[i]);
	outbox_flush_done(ob);
	int rewind = 0;
	for (struct obstream *s = ob->streams; s; s = s->next)
		rewind |= s->rewind && s->group_ok;
	if (got || rewind)
		outbox_read(ob);
	else
		uv_timer_start(&ob->poll, outbox_poll_cb, OUTBOX_POLL_MS, 0);
}

/* One XREADGROUP over up to OUTBOX_STREAMS_MAX outboxes, taken in turn:
 * new entries (">"), or this connection's pending ones after last_id. */
static void outbox_read(struct outbox *ob)
{
	struct store *st = outbox_mqtt(ob)->d->store;
	const char *argv[7 + 2 * OUTBOX_STREAMS_MAX];
	struct obstream *sel[OUTBOX_STREAMS_MAX];
	size_t nsel = 0, nok = 0;
	char count[16];
	if (ob->c.state != C_UP || ob->reading || outbox_mqtt(ob)->closing)
		return;
	uv_timer_stop(&ob->poll);
	if (outbox_make_groups(ob))
		return; /* read when they are made */
	unsigned room = OUTBOX_WINDOW - ob->used;
	if (room < OUTBOX_WINDOW / 4)
		return; /* PUBACKs read more */
	for (struct obstream *s = ob->streams; s; s = s->next)
		nok += s->group_ok;
	size_t start = nok ? ob->turn % nok : 0, i = 0;
	for (struct obstream *s = ob->streams; s; s = s->next) /* from start, then round to it */
		if (s->group_ok && i++ >= start && nsel < OUTBOX_STREAMS_MAX)
			sel[nsel++] = s;
	i = 0;
	for (struct obstream *s = ob->streams; s && i < start; s = s->next)
		if (s->group_ok && i++ < start && nsel < OUTBOX_STREAMS_MAX)
			sel[nsel++] = s;
	if (!nsel) {
		uv_timer_start(&ob->poll, outbox_poll_cb, ob->streams ? 1000 : OUTBOX_POLL_MS, 0);
		return;
	}
	ob->turn += nsel;
	snprintf(count, sizeof(count), "%u", room / (unsigned)nsel);
	const char *head[] = {"XREADGROUP", "GROUP", OUTBOX_GROUP, "unifaasd", "COUNT", count, "STREAMS"};
	memcpy(argv, head, sizeof(head));
	for (size_t i = 0; i < nsel; i++) {
		argv[7 + i] = sel[i]->key;
		argv[7 + nsel + i] = sel[i]->rewind ? sel[i]->last_id : ">";
	}
	ob->read_gen = ob->c.gen;
	if (store_sendv(st, outbox_got, ob, 7 + 2 * (int)nsel, argv, NULL) == 0)
		ob->reading = 1;
	else
		uv_timer_start(&ob->poll, outbox_poll_cb, 1000, 0);
}

/* The outbox of workflow wf is read while it is deployed (want). */
static void outbox_track(struct mqtt *m, const char *wf, int want)
{
	struct outbox *ob = &m->ob;
	char key[OBKEY_BUF];
	if (uf_outbox_key(key, sizeof(key), wf) < 0)
		return;
	struct obstream **p = &ob->streams;
	while (*p && strcmp((*p)->key, key))
		p = &(*p)->next;
	if (!want && *p) {
		struct obstream *s = *p;
		*p = s->next;
		free(s);
	} else if (want && !*p) {
		struct obstream *s = calloc(1, sizeof(*s));
		if (!s) {
			dlog("error", "what=mqtt-outbox workflow=%s cause=\"out of memory\"", wf);
			return;
		}
		snprintf(s->wf, sizeof(s->wf), "%s", wf);
		snprintf(s->key, sizeof(s->key), "%s", key);
		s->rewind = 1; /* entries read by an earlier run of unifaasd, not acknowledged */
		snprintf(s->last_id, sizeof(s->last_id), "0");
		*p = s;
		outbox_read(ob);
	}
}

static void outbox_up(struct conn *c, int session_present)
{
	struct outbox *ob = c->owner;
	(void)session_present;
	for (struct obstream *s = ob->streams; s; s = s->next) {
		s->rewind = 1;
		snprintf(s->last_id, sizeof(s->last_id), "0");
	}
	outbox_read(ob);
}

static int outbox_packet(struct conn *c, const struct mqtt_packet *p)
{
	struct outbox *ob = c->owner;
	if (p->type != MQTT_PUBACK)
		return 0;
	for (unsigned i = 0; i < OUTBOX_WINDOW; i++)
		if (ob->slots[i].id == p->id) {
			ob->slots[i].id = 0;
			ob->used--;
			push_str(&ob->done, &ob->ndone, &ob->capdone, ob->slots[i].entry);
			count_out("published", 1);
			break;
		}
	if (ob->ndone >= 64) {
		outbox_flush_done(ob);
		outbox_read(ob);
	} else {
		uv_timer_start(&ob->poll, outbox_poll_cb, 0, 0); /* the rest of this turn's PUBACKs first */
	}
	return 0;
}

static void outbox_down(struct conn *c)
{
	struct outbox *ob = c->owner;
	memset(ob->slots, 0, sizeof(ob->slots)); /* still pending in Redis: read again */
	ob->used = 0;
	free_strs(c->m->q0, c->m->nq0);
	c->m->q0 = NULL;
	c->m->nq0 = c->m->capq0 = 0;
}

static const struct conn_ops outbox_ops = {outbox_up, outbox_packet, outbox_down, NULL};

/* ---- the client ---- */

static int parse_url(struct mqtt *m, const char *url)
{
	char host[200];
	unsigned port = 1883;
	const char *p = strncmp(url, "mqtt://", 7) ? NULL : url + 7;
	if (!p)
		return -1;
	size_t hl = p[0] == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":/");
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, p, hl);
	host[hl] = 0;
	if (p[hl] == ':' && sscanf(p + hl + 1, "%u", &port) != 1)
		return -1;
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	struct sockaddr_in *a4 = (struct sockaddr_in *)&m->addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&m->addr;
	if (uv_ip4_addr(host, (int)port, a4) == 0)
		return 0;
	if (host[0] == '[') {
		host[hl - 1] = 0;
		return uv_ip6_addr(host + 1, (int)port, a6) == 0 ? 0 : -1;
	}
	return -1;
}

struct mqtt *mqtt_open(struct daemon *d)
{
	struct mqtt *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->d = d;
	if (d->cfg.mqtt_socket[0]) { /* the platform's own listener (cli/broker.c) */
		if (strlen(d->cfg.mqtt_socket) >= sizeof(m->sock)) {
			dlog("error",
			     "what=mqtt op=open broker=%s cause=\"mqtt_socket is longer than a unix socket path "
			     "(%zu bytes)\" effect=\"no MQTT ingress or egress\"",
			     d->cfg.mqtt_socket, sizeof(m->sock) - 1);
			free(m);
			return NULL;
		}
		snprintf(m->sock, sizeof(m->sock), "%s", d->cfg.mqtt_socket);
		snprintf(m->url, sizeof(m->url), "unix:%s", d->cfg.mqtt_socket);
	} else if (parse_url(m, d->cfg.mqtt_url) < 0) {
		dlog("error",
		     "what=mqtt op=open broker=%s cause=\"mqtt_url is not mqtt://IP:PORT\" effect=\"no MQTT ingress or "
		     "egress\"",
		     d->cfg.mqtt_url);
		free(m);
		return NULL;
	} else {
		snprintf(m->url, sizeof(m->url), "%s", d->cfg.mqtt_url);
	}
	m->username = d->cfg.mqtt_username[0] ? d->cfg.mqtt_username : NULL;
	m->password = m->username && d->cfg.mqtt_password[0] ? d->cfg.mqtt_password : NULL;
	uv_check_init(d->loop, &m->flush);
	m->flush.data = m;
	uv_check_start(&m->flush, on_flush);
	conn_init(m, &m->ob.c, OUTBOX_CLIENT_ID, &outbox_ops, &m->ob);
	m->ob.c.clean = 1;
	uv_timer_init(d->loop, &m->ob.poll);
	m->ob.poll.data = &m->ob;
	for (struct workflow *w = d->workflows; w; w = w->next)
		mqtt_sync(m, w->m->name);
	conn_want(&m->ob.c, 1);
	return m;
}

void mqtt_close(struct mqtt *m)
{
	if (!m)
		return;
	for (struct session *s = m->sessions; s; s = s->next)
		conn_want(&s->c, 0);
	conn_want(&m->ob.c, 0);
	m->closing = 1;
	on_flush(&m->flush);
}
