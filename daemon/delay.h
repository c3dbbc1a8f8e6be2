/*
 * delay.h - moving delayed re-queues into their queues when due (delay.c).
 */
#ifndef UF_DELAY_H
#define UF_DELAY_H

struct daemon;

/* The mover's timer, every UF_DELAY_TICK_MS (common/delivery.h). */
void delay_start(struct daemon *d);
void delay_stop(struct daemon *d);
/* Moves every member of uf:delay:<wf>:<queue>, due or not, into the queue
 * (an undeploy that keeps the workflow's queues). */
void delay_flush(struct daemon *d, const char *wf, const char *queue);

#endif
