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
/* A caller that needs no exact figure, only whether the backlog reaches
 * `need`, has up to this many counted one by one (about 1 ms per 1000)
 * rather than the other side (up to retain_handled + 4096 entries): a
 * step below its max_units (32 x 64 events_per_unit: need 2049) beside a
 * flood paid 0.1-0.5 s of Redis a check for the other side. */
#define BACKLOG_NEED_SCAN_MAX 8192

/*
 * The rule, once, as a Lua function run inside Redis by the scheduler
 * (backlog_ask) and by `unifaas queues` (inspect.c):
 *   uf_unread(key, last, scan, need, exact, cap) -> unread, exact [, most]
 * counts the entries of stream `key` after the group's last-delivered id
 * `last`, one by one up to `scan`.  Past that, when the caller needs an
 * exact figure (`exact`, or `need` above `scan`), the other side is
 * counted: XLEN minus the entries up to `last` (handled entries retention
 * keeps, plus the pending ones), unless the stream is shorter than `need`
 * (the backlog cannot reach it: a lower bound, at most XLEN, is returned),
 * or the other side has `cap` entries or more (cap nil: no cap): then the
 * lower bound too.  A step that handles a flood reads hundreds of
 * thousands of entries between two trims of what it handled; counting
 * them one by one held Redis 2.6-3.0 s a script, every check
 * (bench/isolation.sh's event flood); the cap bounds one count to about
 * cap / 1000 ms.  `exact` in the result is 1 when unread is exact, 0 when
 * a lower bound.
 */
#define BACKLOG_LUA                                                                                                    \
	"local function uf_unread(k, last, scan, need, exact, cap)\n"                                                  \
	"  local n = #redis.call('XRANGE', k, '(' .. last, '+', 'COUNT', scan)\n"                                      \
	"  if n < scan then return n, 1 end\n"                                                                         \
	"  if not (exact or need > scan) then return n, 0 end\n"                                                       \
	"  local len = redis.call('XLEN', k)\n"                                                                        \
	"  if len < need then return n, 0, len end\n"                                                                  \
	"  local upto = #redis.call('XRANGE', k, '-', last, 'COUNT', cap or len + 1)\n"                                \
	"  if cap and upto >= cap then return n, 0, len end\n"                                                         \
	"  return math.max(len - upto, 0), 1\n"                                                                        \
	"end\n"

struct backlog {
	uint64_t unread;  /* entries after the group's last-delivered id */
	uint64_t pending; /* delivered, not acknowledged */
	int exact;        /* 0: unread is a lower bound */
	uint64_t most;    /* unread + pending is at most this (UINT64_MAX: not known) */
};

/* Counts the backlog of a group of stream `key` from its last-delivered id
 * `last` and pending count (XINFO GROUPS), on the loop's asynchronous
 * connection, counting at most `cap` entries on the other side (uf_unread).
 * Unread entries are exact below `need`; at or past it they are a lower
 * bound (`exact` 0) unless the caller asks for `exact`, and even then a
 * lower bound when the stream is shorter than `need` (so the backlog
 * cannot reach it).  `done` is called once with the count, or NULL when
 * Redis did not answer; -1 (and no call) when the first command could not
 * be sent.  One EVAL of BACKLOG_LUA. */
typedef void (*backlog_fn)(const struct backlog *b, void *arg);
int backlog_ask(struct store *st, const char *key, const char *last, uint64_t pending, uint64_t need, int exact,
                uint64_t cap, backlog_fn done, void *arg);

#endif
