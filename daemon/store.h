/*
 * store.h - the daemon's Redis connections (store.c) and key names.
 *
 * Keys (ARCHITECTURE §3): uf:q:<wf>:<queue> streams, uf:kv:<wf>:<key>,
 * uf:dlq:<wf>:<queue>, uf:stat:<wf>:<step> (per-unit counters the tenders
 * write), and the platform's own state under uf:state:.
 */
#ifndef UF_STORE_H
#define UF_STORE_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* describe's recent unit ends: uf:state:ends:<wf>:<kind>:<step>, a list,
 * newest first, of "<epoch ms> <reason>" (inspect.c); a purge deletes them */
#define UF_ENDS_KEY "uf:state:ends:"

#define UF_NAME_BUF 80 /* a name (64) and its terminator, with room */

struct store;
/* wf and queue are NULL when everything should be checked */
typedef void (*store_notify_fn)(void *arg, const char *wf, const char *queue);

struct store *store_open(uv_loop_t *loop, const char *socket, const char *password, store_notify_fn notify, void *arg,
                         char *err, size_t errlen);
void store_close(struct store *s);
/* Start-up only (it blocks): waits until Redis answers PING with PONG.
 * Not ready yet - no socket, connection refused, no answer within 2 s (a
 * stopped Redis), -LOADING or another error reply - is retried with a
 * backoff from 50 ms to 1 s, logged once per change of cause, until
 * deadline_ms (now_ms() clock); then -1 and err names the socket and what
 * Redis last gave.  A refused password ends it at once.  store_open waits
 * so, up to STORE_READY_WAIT_MS; a Redis that answers costs one PING. */
#define STORE_READY_WAIT_MS 60000
int store_wait_ready(struct store *s, uint64_t deadline_ms, char *err, size_t errlen);
/* called (with the notify arg) when the command connection came back after
 * Redis was unreachable: state Redis does not persist must be re-applied */
void store_on_reconnect(struct store *s, void (*fn)(void *arg));
/* called (with arg) after every reply of a command from the loop, once
 * its callback returned: the push window (pushwin.c) sends more then */
void store_on_reply(struct store *s, void (*fn)(void *arg), void *arg);
/* NULL when Redis is unreachable; the caller frees the reply */
redisReply *store_cmd(struct store *s, const char *fmt, ...);
/* the same, but NULL unless the reply is an array */
redisReply *store_array(struct store *s, const char *fmt, ...);
redisReply *store_cmdv(struct store *s, int argc, const char **argv, const size_t *argvlen);
/* pipelining: append commands, then read one reply per command */
int store_append(struct store *s, const char *fmt, ...);
int store_appendv(struct store *s, int argc, const char **argv, const size_t *argvlen);
redisReply *store_reply(struct store *s);

/* Commands from the loop, which never waits for Redis: cb gets the reply,
 * or NULL when Redis made no progress on it within STORE_TIMEOUT_MS plus
 * one ms per STORE_BYTES_PER_MS bytes of the command (the connection is
 * then dropped and made again) or the connection dropped; the reply is
 * freed once cb returns.  A command is sent once and never retried here: a
 * caller that must see it done asks again later, and what it repeats is
 * idempotent.  cb may be NULL (an error reply is then logged).  -1, cb not
 * called, when Redis cannot be reached right now. */
#define STORE_TIMEOUT_MS   2000
#define STORE_BYTES_PER_MS 4096 /* a 16 MiB push may take 4 s more */
typedef void (*store_cb)(redisReply *reply, void *arg);
int store_send(struct store *s, store_cb cb, void *arg, const char *fmt, ...);
int store_sendv(struct store *s, store_cb cb, void *arg, int argc, const char **argv, const size_t *argvlen);
/* From memory, without a round trip: the command connection is up and
 * Redis has not been silent on its oldest command for half its deadline. */
int store_healthy(struct store *s);
/* Healthy and fewer than STORE_QUIET_CALLS commands waiting: periodic
 * housekeeping (trims, quota passes, the delay mover) waits for this, so
 * it never queues behind or among a large push, nor piles onto a slow
 * Redis whose every command counts against the push's deadline. */
#define STORE_QUIET_CALLS 64
int store_quiet(struct store *s);
/* The bytes of the commands sent and not answered yet.  A sender of many
 * keeps this under a window and sends more as replies come: hiredis
 * moves what is still unsent to the front of its buffer after every
 * write, so a 16 MiB pipeline handed over at once costs the loop its
 * square (seconds under ASan while Redis reads slowly). */
size_t store_backlog_bytes(const struct store *s);
/* And how many they are. */
size_t store_backlog_calls(const struct store *s);

/* The value of `name` in a flat name/value array reply (HGETALL, an XINFO
 * record, a stream entry's fields), or NULL. */
redisReply *store_field(const redisReply *pairs, const char *name);
/* One record of XINFO GROUPS; lag is -1 when Redis cannot tell. */
struct store_group {
	const char *name, *last_delivered;
	long long pending, lag;
};
void store_group(const redisReply *record, struct store_group *g);
/* The set of queues whose pushes trigger a notification: between begin and
 * end, call store_watch for every queue wanted; the others are dropped. */
void store_watch_begin(struct store *s);
void store_watch(struct store *s, const char *wf, const char *queue);
void store_watch_end(struct store *s);

/* PSUBSCRIBE pattern on a dedicated connection (one per store): fn gets
 * the channel and payload of each message.  It reconnects every 500 ms;
 * messages published while it is away are lost.  0, or -1. */
typedef void (*store_message_fn)(void *arg, const char *channel, const char *msg, size_t len);
int store_psubscribe(struct store *s, const char *pattern, store_message_fn fn, void *arg);

#endif
