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

/* Reads every token from Redis (synchronous, at start).  0, or -1 when
 * Redis did not answer (ingress then refuses every token until a restart:
 * logged). */
int tokens_load(struct daemon *d);
void tokens_free(struct daemon *d);
/* The Authorization header's token checked: the workflow it is for, or
 * NULL with *why ("missing", "unknown"). */
const char *tokens_check(struct daemon *d, const char *authorization, const char **why);
/* The control API's /v1/tokens routes (docs/api.md): seg/n as api.c split them. */
enum MHD_Result tokens_route(struct api *a, struct MHD_Connection *c, struct request *rq, const char *method,
                             char **seg, int n);

#endif
