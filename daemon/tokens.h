/*
 * tokens.h - the HTTP ingress's bearer tokens (tokens.c).
 */
#ifndef UF_TOKENS_H
#define UF_TOKENS_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

struct daemon;
struct api;
struct request;

#define TOKEN_ID_HEX     12 /* the public part: `token ls`, `token rm` */
#define TOKEN_SECRET_HEX 64 /* 32 random bytes */
#define TOKENS_KEY       "uf:state:tokens"

#define TOKENS_RETRY_MS 1000 /* a load that failed is tried again after this */

/* Loads every token from Redis without blocking the loop (HGETALL on the
 * store's command connection): called at start and each time Redis is
 * reconnected, the reply replaces the table.  A load that gets no reply or
 * an error is tried again every TOKENS_RETRY_MS (logged once per outage).
 * Until one load succeeded, tokens_check says "not loaded" and the token
 * routes answer 503: a valid token is never called wrong. */
void tokens_load(struct daemon *d);
void tokens_free(struct daemon *d);
/* The Authorization header's token checked: the workflow it is for, or
 * NULL with *why ("missing", "not loaded", "unknown"). */
const char *tokens_check(struct daemon *d, const char *authorization, const char **why);
/* The control API's /v1/tokens routes (docs/api.md): seg/n as api.c split them. */
enum MHD_Result tokens_route(struct api *a, struct MHD_Connection *c, struct request *rq, const char *method,
                             char **seg, int n);

#endif
