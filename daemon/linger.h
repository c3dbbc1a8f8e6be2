/*
 * linger.h - a lingering close for the HTTP servers' connections (api.c).
 *
 * A request refused on its head (401, 413, 400: api.c refuse_on_head) is
 * answered before its body is read.  Closed at once with that body coming,
 * the socket answers the client's next bytes with a reset, and a client
 * still sending (curl with a 20 MB body, seen at a load of 20-33) fails its
 * send and loses the answer it was sent.  So such a socket is handed here
 * instead: its sending side is shut (the client reads the answer, then
 * end of file), and what the client still sends is read and dropped until
 * it closes, for at most LINGER_MS and LINGER_BYTES_MAX, as nginx's and
 * Apache's lingering close do.
 *
 * Invariants: a socket handed over is owned here and closed exactly once
 * (at its end of file, an error, a limit, or linger_close_all); at most
 * LINGER_MAX sockets linger at once (past that one is closed at once, as
 * before); one read turn drops at most LINGER_TURN_BYTES, so a client
 * sending flat out cannot hold the loop.
 */
#ifndef UF_LINGER_H
#define UF_LINGER_H

#include <uv.h>

#define LINGER_MS         2000u
#define LINGER_BYTES_MAX  (32u << 20) /* twice the largest body a path takes (UF_PUSH_BYTES_MAX) */
#define LINGER_TURN_BYTES (256u << 10)
#define LINGER_MAX        256u

struct linger_set;

struct linger_set *linger_open(uv_loop_t *loop);
/* Takes fd (a socket of its own, e.g. a dup of one the HTTP server closes);
 * closes it at once when it cannot linger. */
void linger_take(struct linger_set *ls, int fd);
/* How many sockets linger now. */
unsigned linger_count(const struct linger_set *ls);
/* Closes every lingering socket and frees the set once its handles are
 * closed (at shutdown; ls is not used after). */
void linger_close_all(struct linger_set *ls);

#endif
