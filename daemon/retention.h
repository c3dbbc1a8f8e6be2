/*
 * retention.h - trimming handled entries off the queues (retention.c).
 */
#ifndef UF_RETENTION_H
#define UF_RETENTION_H

struct daemon;

/* One pass over every deployed workflow's listened queues. */
void retention_run(struct daemon *d);

#endif
