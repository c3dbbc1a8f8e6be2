/*
 * fuzz_mqtt.c - libFuzzer target for the MQTT packet parser of unifaasd's
 * client (daemon/mqtt_codec.c, mqtt_parse), which reads what arrives from
 * the broker's socket.
 *
 * Each input is a byte stream, parsed packet after packet as the client
 * does, with a small size limit (so the oversize path is reached too).
 * What must hold, for any input:
 *  - no memory error or undefined behaviour (ASan, UBSan);
 *  - a packet taken (> 0) is whole: its size is what was taken, within
 *    the input and the limit; a PUBLISH's topic is a valid topic name and
 *    its topic and payload lie inside the packet; its QoS is 0 or 1 and a
 *    QoS 1 packet id is not 0; a PUBLISH rebuilt from its fields
 *    (mqtt_publish_head + payload; the client never sets RETAIN) is the
 *    same bytes;
 *  - an error (-1) says why; an oversize packet (-2) is over the limit,
 *    and only a PUBLISH is;
 *  - 0 (more bytes needed) only while a packet is not all there.
 * A broken promise aborts, so libFuzzer saves the input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt_codec.h"
#include "topic.h"

#define LIMIT 512

static void need(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_mqtt: broken promise: %s\n", what);
		abort();
	}
}

static int inside(const uint8_t *p, size_t n, const uint8_t *lo, size_t len)
{
	return p >= lo && p + n <= lo + len;
}

static void check_publish(const uint8_t *pkt, const struct mqtt_packet *p)
{
	uint8_t head[LIMIT + 16];
	need(p->qos <= 1, "QoS 0 or 1");
	need(!p->qos || p->id, "a QoS 1 packet id is not 0");
	need(uf_topic_name_ok((const char *)p->topic, p->topic_len, NULL), "a valid topic name");
	need(inside(p->topic, p->topic_len, pkt, p->size), "the topic inside the packet");
	need(inside(p->payload, p->payload_len, pkt, p->size), "the payload inside the packet");
	size_t h = mqtt_publish_head(head, sizeof(head), (const char *)p->topic, p->topic_len, p->payload_len, p->qos,
	                             p->id, p->dup);
	need(h > 0, "a parsed PUBLISH can be built again");
	need(h + p->payload_len == p->size, "rebuilt to the same size (the shortest remaining length)");
	need((head[0] | p->retain) == pkt[0] && !memcmp(head + 1, pkt + 1, h - 1), "rebuilt to the same head bytes");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	while (off < size) {
		struct mqtt_packet p;
		const char *why = NULL;
		ssize_t n = mqtt_parse(data + off, size - off, LIMIT, &p, &why);
		if (n == 0) {
			need(p.size == 0 || p.size > size - off || p.type == MQTT_PUBLISH, "0 only while incomplete");
			break;
		}
		if (n == -1) {
			need(why && *why, "an error says why");
			break;
		}
		if (n == -2) {
			need(p.size > LIMIT && p.type == MQTT_PUBLISH, "only a PUBLISH over the limit is skipped");
			need(p.topic && uf_topic_name_ok((const char *)p.topic, p.topic_len, NULL),
			     "its topic is valid");
			need(!p.payload, "no payload for a skipped packet");
			if (p.size > size - off)
				break;
			off += p.size;
			continue;
		}
		need((size_t)n == p.size && (size_t)n <= size - off && (size_t)n <= LIMIT, "a whole packet");
		if (p.type == MQTT_PUBLISH)
			check_publish(data + off, &p);
		off += (size_t)n;
	}
	return 0;
}
