/*
 * retention.h - trimming handled entries off the queues (retention.c).
 */
#ifndef UF_RETENTION_H
#define UF_RETENTION_H

struct daemon;
struct workflow;

/* One pass over every deployed workflow's listened queues. */
void retention_run(struct daemon *d);

/* Trims the queues w listens to now, keeping no handled entries (w is
 * over its storage quota: quota.c, each measurement). */
void retention_over_quota(struct daemon *d, const struct workflow *w);

#endif
