/*
 * mqtt_codec.h - the MQTT 3.1.1 packets unifaasd's client sends and
 * receives (mqtt_codec.c), as bytes: no I/O, no state, no allocation, so
 * the parser is unit-tested and fuzzed on its own (tests/unit/test_mqtt.c,
 * tests/fuzz/fuzz_mqtt.c).
 *
 * Received: CONNACK, PUBLISH (QoS 0 and 1; QoS 2 is never subscribed to),
 * PUBACK, SUBACK, UNSUBACK, PINGRESP.  Sent: CONNECT, SUBSCRIBE,
 * UNSUBSCRIBE, PUBLISH, PUBACK, PINGREQ, DISCONNECT.
 */
#ifndef UF_MQTT_CODEC_H
#define UF_MQTT_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum mqtt_type {
	MQTT_CONNECT = 1,
	MQTT_CONNACK = 2,
	MQTT_PUBLISH = 3,
	MQTT_PUBACK = 4,
	MQTT_SUBSCRIBE = 8,
	MQTT_SUBACK = 9,
	MQTT_UNSUBSCRIBE = 10,
	MQTT_UNSUBACK = 11,
	MQTT_PINGREQ = 12,
	MQTT_PINGRESP = 13,
	MQTT_DISCONNECT = 14,
};

#define MQTT_REMAINING_MAX 268435455u /* four bytes of remaining length */
#define MQTT_HEAD_MAX      5u         /* type byte and remaining length */

/* One received packet; pointers into the caller's buffer. */
struct mqtt_packet {
	uint8_t type;
	uint8_t qos, dup, retain;      /* PUBLISH */
	uint16_t id;                   /* PUBLISH with QoS 1, PUBACK, SUBACK, UNSUBACK */
	uint8_t session_present, code; /* CONNACK */
	const uint8_t *topic;          /* PUBLISH: a valid topic name (common/topic.h) */
	size_t topic_len;
	const uint8_t *payload; /* PUBLISH: the message; SUBACK: the return codes */
	size_t payload_len;
	size_t size; /* the whole packet's bytes */
	size_t skip; /* mqtt_head only: payload bytes not in the buffer */
};

/*
 * One packet at buf[0..len): the bytes it takes (> 0) with *p filled,
 * 0 if more bytes are needed, or -1 with *why when the bytes are not a
 * packet the client may receive (a protocol error: the connection must be
 * closed).  A packet larger than max is not waited for: -2 with p->size
 * its size, and for a PUBLISH whose head (topic and id) is in the buffer,
 * p->type, qos, id and topic filled, so the caller can acknowledge and drop
 * it (0 while the head is incomplete).
 */
ssize_t mqtt_parse(const uint8_t *buf, size_t len, size_t max, struct mqtt_packet *p, const char **why);

/* Builders: the packet's length, or 0 if it does not fit in cap or a
 * field is out of MQTT's range.  Strings are counted (a two-byte length). */
size_t mqtt_connect(uint8_t *buf, size_t cap, const char *client_id, const char *username, const char *password,
                    uint16_t keepalive_s, int clean);
/* n filters with their QoS (0 or 1) */
size_t mqtt_subscribe(uint8_t *buf, size_t cap, uint16_t id, const char *const *filters, const uint8_t *qos, size_t n);
size_t mqtt_unsubscribe(uint8_t *buf, size_t cap, uint16_t id, const char *const *filters, size_t n);
/* The PUBLISH's fixed and variable header, for a payload of plen bytes
 * sent right after it (id ignored for QoS 0). */
size_t mqtt_publish_head(uint8_t *buf, size_t cap, const char *topic, size_t tlen, size_t plen, int qos, uint16_t id,
                         int dup);
size_t mqtt_puback(uint8_t *buf, size_t cap, uint16_t id);
size_t mqtt_pingreq(uint8_t *buf, size_t cap);
size_t mqtt_disconnect(uint8_t *buf, size_t cap);

/* The reason a CONNACK return code names. */
const char *mqtt_connack_reason(uint8_t code);

#endif
