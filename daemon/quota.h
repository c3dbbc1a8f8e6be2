/*
 * quota.h - workflows' storage quotas and Redis's refusals (quota.c).
 */
#ifndef UF_QUOTA_H
#define UF_QUOTA_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

struct daemon;
struct workflow;

/* Measures every workflow every quota_interval_ms (a timer on the loop). */
void quota_start(struct daemon *d);
void quota_stop(struct daemon *d);
/* w's storage quota in bytes (manifest, else the node's; at most maxmemory). */
uint64_t quota_of(const struct workflow *w);
/* 1 with msg (naming the workflow, its usage, its quota and the key) when w
 * is over its quota and takes no events; else 0. */
int quota_refuses(const struct workflow *w, char *msg, size_t cap);
/* While w is over its quota, what it is refused (one phrase, for describe
 * and ps); NULL when it is not. */
const char *quota_refused_what(const struct workflow *w);
/* 1 when r is Redis refusing a write because it is full (maxmemory): the
 * refusal is then logged and counted for wf (NULL: none known) and op. */
int quota_redis_refused(struct daemon *d, const char *wf, const char *op, const redisReply *r);
/* Logs and counts one such refusal (a tender's, from its reason). */
void quota_count_refusal(struct daemon *d, const char *wf, const char *op, const char *cause);

#endif
