/*
 * backlog.h - what a step has not handled yet, counted from its queue
 * (backlog.c), never taken from Redis's `lag`.
 */
#ifndef UF_BACKLOG_H
#define UF_BACKLOG_H

#include <stdint.h>

struct store;

/* Unread entries counted one by one before the count switches to the
 * other side of the group's last-delivered id (see backlog.c). */
#define BACKLOG_SCAN_MAX 2048

struct backlog {
	uint64_t unread;  /* entries after the group's last-delivered id */
	uint64_t pending; /* delivered, not acknowledged */
	int exact;        /* 0: unread is a lower bound */
	uint64_t most;    /* unread + pending is at most this (UINT64_MAX: not known) */
};

/* Counts the backlog of a group of stream `key` from its last-delivered id
 * `last` and pending count (XINFO GROUPS), on the loop's asynchronous connection.
 * Unread entries are exact below `need`; at or past it they are a lower
 * bound (`exact` 0) unless the caller asks for `exact`, and even then a
 * lower bound when the stream is shorter than `need` (so the backlog
 * cannot reach it).  `done` is called once with the count, or NULL when
 * Redis did not answer; -1 (and no call) when the first command could not
 * be sent. */
typedef void (*backlog_fn)(const struct backlog *b, void *arg);
int backlog_ask(struct store *st, const char *key, const char *last, uint64_t pending, uint64_t need, int exact,
                backlog_fn done, void *arg);

#endif
