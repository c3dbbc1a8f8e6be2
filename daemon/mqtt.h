/*
 * mqtt.h - unifaasd's MQTT client (mqtt.c): ingress of the workflows'
 * ingress.mqtt routes and the publisher of the MQTT outbox.
 */
#ifndef UF_MQTT_H
#define UF_MQTT_H

#include <stdint.h>

struct daemon;
struct mqtt;

/* The largest MQTT payload taken as an event: a larger message is
 * acknowledged and dropped with a log line (counted as oversize). */
#define MQTT_PAYLOAD_MAX (1u << 20)

/* Counters since start, by outcome (for /metrics). */
struct mqtt_stats {
	uint64_t received;       /* PUBLISH packets from the broker */
	uint64_t queued;         /* added to their queue (acknowledged after) */
	uint64_t unrouted;       /* no route of the workflow matched: acknowledged, dropped */
	uint64_t oversize;       /* payload over MQTT_PAYLOAD_MAX: acknowledged, dropped */
	uint64_t store_failed;   /* Redis did not take it: not acknowledged, redelivered */
	uint64_t published;      /* outbox entries the broker took (PUBACK, or written for QoS 0) */
	uint64_t outbox_invalid; /* outbox entries without a valid topic or QoS: dropped */
	uint64_t reconnects;     /* connections made again after one was lost */
};

/* The client, from d->cfg (mqtt_url, mqtt_username, the password read by
 * config.c): sessions for the deployed workflows with routes, and the
 * outbox publisher.  NULL if mqtt_url cannot be used (logged). */
struct mqtt *mqtt_open(struct daemon *d);
/* Workflow wf was deployed, replaced, undeployed, stopped or resumed:
 * its session follows (connected while deployed with routes and running;
 * disconnected, its messages kept by the broker, while stopped; ended
 * with a clean session once undeployed). */
void mqtt_sync(struct mqtt *m, const char *wf);
/* Shutdown: every connection sends DISCONNECT and closes (sessions kept). */
void mqtt_close(struct mqtt *m);
const struct mqtt_stats *mqtt_stats(const struct mqtt *m);

#endif
