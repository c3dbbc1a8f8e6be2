/*
 * mqtt.h - unifaasd's MQTT client (mqtt.c): ingress of the workflows'
 * ingress.mqtt routes and the publisher of the MQTT outbox.
 */
#ifndef UF_MQTT_H
#define UF_MQTT_H

struct daemon;
struct mqtt;

/* The largest MQTT payload taken as an event: a larger message is
 * acknowledged and dropped with a log line.  Messages are counted in
 * unifaas_ingress_messages_total{source="mqtt", outcome} (accepted,
 * unrouted, too_large, store_failed: not acknowledged, sent again by the
 * broker) and outbox entries in unifaas_egress_calls_total{kind="mqtt",
 * status} (published; refused: no valid topic, QoS or data, or a topic
 * outside its workflow's publish filters). */
#define MQTT_PAYLOAD_MAX (1u << 20)

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

#endif
