/*
 * egress_server.h - unifaasd's egress server: the outbound HTTP(S) of units
 * (uf_http), made with libcurl on threads of its own (egress_server.c).
 */
#ifndef UF_EGRESS_SERVER_H
#define UF_EGRESS_SERVER_H

#include <stddef.h>
#include <uv.h>

#include "config.h"
#include "egress.h"

struct egress;

/* Listens on <state>/egress.sock; calls are counted in the metrics
 * registry from `loop`'s thread.  NULL with err. */
struct egress *egress_open(uv_loop_t *loop, const struct uf_config *c, char *err, size_t errlen);
/* The socket a unit's tender connects to (uf-hvt --egress). */
const char *egress_socket(const struct egress *e);
/* Lets unit `unit` (of wf/step) call the URLs under `prefixes` (manifest
 * `egress:`, already checked) and writes its secret token (UF_EG_TOKEN_LEN
 * hex characters and a NUL).  0, or -1 (out of memory, no randomness). */
int egress_grant(struct egress *e, const char *unit, const char *wf, const char *step, char *const *prefixes, size_t n,
                 char *token);
/* The unit is gone: its token no longer opens a connection. */
void egress_revoke(struct egress *e, const char *unit);
/* Stops accepting connections and removes the socket (calls in flight end
 * on their own threads as their units go). */
void egress_close(struct egress *e);

#endif
