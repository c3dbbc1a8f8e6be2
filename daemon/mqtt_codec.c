/*
 * mqtt_codec.c - MQTT 3.1.1 packets as bytes (mqtt_codec.h): the parser of
 * what the broker sends the client and the builders of what the client
 * sends.  No I/O and no allocation.
 *
 * Invariants of the parser: it never reads past buf[len); a packet it
 * returns (> 0) is whole and checked against the specification (its fixed
 * header flags, its remaining length, a PUBLISH's topic is a valid topic
 * name by common/topic.h and its packet id non-zero for QoS 1, QoS 2 and
 * the packets a server never sends to a client are errors); a packet over
 * the caller's max is reported (-2) before it is all buffered, so memory
 * never follows what the broker announces.
 */
#include <string.h>

#include "mqtt_codec.h"
#include "topic.h"

static uint16_t be16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* The remaining length at b[1..]: its bytes (1..4), 0 if incomplete, -1 if malformed. */
static int remaining(const uint8_t *b, size_t len, size_t *out)
{
	size_t v = 0;
	for (int i = 0; i < 4; i++) {
		if ((size_t)i + 1 >= len)
			return 0;
		uint8_t c = b[1 + i];
		v |= (size_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			if (i > 0 && c == 0)
				return -1; /* not the shortest form */
			*out = v;
			return i + 1;
		}
	}
	return -1;
}

/* A PUBLISH's variable header at b[0..avail) of a body of rem bytes: 1
 * parsed, 0 incomplete, -1 malformed. */
static int publish_head(const uint8_t *b, size_t avail, size_t rem, struct mqtt_packet *p, const char **why)
{
	size_t idlen = p->qos ? 2 : 0;
	if (rem < 2) {
		*why = "PUBLISH shorter than its topic length";
		return -1;
	}
	if (avail < 2)
		return 0;
	size_t tlen = be16(b);
	if (rem < 2 + tlen + idlen) {
		*why = "PUBLISH shorter than its topic and packet id";
		return -1;
	}
	if (avail < 2 + tlen + idlen)
		return 0;
	const char *rule;
	if (!uf_topic_name_ok((const char *)b + 2, tlen, &rule)) {
		*why = "PUBLISH topic is not a valid topic name";
		return -1;
	}
	p->topic = b + 2;
	p->topic_len = tlen;
	if (p->qos) {
		p->id = be16(b + 2 + tlen);
		if (!p->id) {
			*why = "PUBLISH with QoS 1 and packet id 0";
			return -1;
		}
	}
	p->payload = b + 2 + tlen + idlen;
	p->payload_len = rem - 2 - tlen - idlen;
	return 1;
}

static ssize_t bad(const char **why, const char *what)
{
	*why = what;
	return -1;
}

/* The body of a whole packet other than PUBLISH. */
static ssize_t parse_body(const uint8_t *b, size_t rem, uint8_t flags, struct mqtt_packet *p, const char **why)
{
	if (flags)
		return bad(why, "reserved flags set in the fixed header");
	switch (p->type) {
	case MQTT_CONNACK:
		if (rem != 2 || (b[0] & 0xfe))
			return bad(why, "malformed CONNACK");
		p->session_present = b[0] & 1;
		p->code = b[1];
		return 0;
	case MQTT_PUBACK:
	case MQTT_UNSUBACK:
		if (rem != 2)
			return bad(why, "PUBACK or UNSUBACK of the wrong length");
		p->id = be16(b);
		return 0;
	case MQTT_SUBACK:
		if (rem < 3)
			return bad(why, "SUBACK without return codes");
		p->id = be16(b);
		p->payload = b + 2;
		p->payload_len = rem - 2;
		for (size_t i = 0; i < p->payload_len; i++)
			if (p->payload[i] > 2 && p->payload[i] != 0x80)
				return bad(why, "SUBACK return code out of range");
		return 0;
	case MQTT_PINGRESP:
		return rem ? bad(why, "PINGRESP with a body") : 0;
	default:
		return bad(why, "a packet type a server does not send to a client");
	}
}

ssize_t mqtt_parse(const uint8_t *buf, size_t len, size_t max, struct mqtt_packet *p, const char **why)
{
	size_t rem = 0;
	memset(p, 0, sizeof(*p));
	if (len < 2)
		return 0;
	int n = remaining(buf, len, &rem);
	if (n < 0)
		return bad(why, "malformed remaining length");
	if (n == 0)
		return 0;
	size_t head = 1 + (size_t)n;
	uint8_t flags = buf[0] & 15;
	p->type = buf[0] >> 4;
	p->size = head + rem;
	if (p->type == MQTT_PUBLISH) {
		p->dup = flags >> 3 & 1;
		p->qos = flags >> 1 & 3;
		p->retain = flags & 1;
		if (p->qos > 1)
			return bad(why, p->qos == 3 ? "PUBLISH with QoS 3" : "PUBLISH with QoS 2 (never subscribed)");
		if (p->dup && !p->qos)
			return bad(why, "PUBLISH with QoS 0 and DUP set");
	} else if (p->type != MQTT_CONNACK && p->type != MQTT_PUBACK && p->type != MQTT_SUBACK &&
	           p->type != MQTT_UNSUBACK && p->type != MQTT_PINGRESP) {
		return bad(why, "a packet type a server does not send to a client");
	}
	if (p->size > max) {
		if (p->type != MQTT_PUBLISH)
			return bad(why, "a packet other than PUBLISH over the size limit");
		int h = publish_head(buf + head, len - head, rem, p, why);
		if (h <= 0)
			return h;
		p->skip = p->size - (len < p->size ? len : p->size);
		p->payload = NULL;
		p->payload_len = 0;
		return -2;
	}
	if (p->size > len)
		return 0;
	if (p->type == MQTT_PUBLISH) {
		int h = publish_head(buf + head, rem, rem, p, why);
		return h < 0 ? -1 : (ssize_t)p->size;
	}
	return parse_body(buf + head, rem, flags, p, why) < 0 ? -1 : (ssize_t)p->size;
}

/* ---- builders ---- */

/* The fixed header for rem bytes of body: its length, or 0. */
static size_t fixed(uint8_t *buf, size_t cap, uint8_t first, size_t rem)
{
	size_t n = 0;
	if (rem > MQTT_REMAINING_MAX || cap < MQTT_HEAD_MAX)
		return 0;
	buf[n++] = first;
	do {
		uint8_t c = rem & 0x7f;
		rem >>= 7;
		buf[n++] = rem ? c | 0x80 : c;
	} while (rem);
	return n;
}

static size_t put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
	return 2;
}

static size_t put_str(uint8_t *b, const char *s, size_t n)
{
	put16(b, (uint16_t)n);
	memcpy(b + 2, s, n);
	return 2 + n;
}

/* Header plus body of rem bytes fits? */
static int fits(size_t cap, size_t rem)
{
	return rem <= MQTT_REMAINING_MAX && cap >= MQTT_HEAD_MAX + rem;
}

size_t mqtt_connect(uint8_t *buf, size_t cap, const char *client_id, const char *username, const char *password,
                    uint16_t keepalive_s, int clean)
{
	size_t cl = strlen(client_id), ul = username ? strlen(username) : 0, pl = password ? strlen(password) : 0;
	if (cl > 65535 || ul > 65535 || pl > 65535 || (password && !username))
		return 0;
	size_t rem = 10 + 2 + cl + (username ? 2 + ul : 0) + (password ? 2 + pl : 0);
	if (!fits(cap, rem))
		return 0;
	size_t n = fixed(buf, cap, MQTT_CONNECT << 4, rem);
	n += put_str(buf + n, "MQTT", 4);
	buf[n++] = 4; /* protocol level 3.1.1 */
	buf[n++] = (uint8_t)((username ? 0x80 : 0) | (password ? 0x40 : 0) | (clean ? 0x02 : 0));
	n += put16(buf + n, keepalive_s);
	n += put_str(buf + n, client_id, cl);
	if (username)
		n += put_str(buf + n, username, ul);
	if (password)
		n += put_str(buf + n, password, pl);
	return n;
}

static size_t filters_packet(uint8_t *buf, size_t cap, uint8_t first, uint16_t id, const char *const *filters,
                             const uint8_t *qos, size_t n)
{
	size_t rem = 2;
	if (!n || !id)
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t fl = strlen(filters[i]);
		if (!fl || fl > 65535 || (qos && qos[i] > 1))
			return 0;
		rem += 2 + fl + (qos ? 1 : 0);
	}
	if (!fits(cap, rem))
		return 0;
	size_t len = fixed(buf, cap, first, rem);
	len += put16(buf + len, id);
	for (size_t i = 0; i < n; i++) {
		len += put_str(buf + len, filters[i], strlen(filters[i]));
		if (qos)
			buf[len++] = qos[i];
	}
	return len;
}

size_t mqtt_subscribe(uint8_t *buf, size_t cap, uint16_t id, const char *const *filters, const uint8_t *qos, size_t n)
{
	return qos ? filters_packet(buf, cap, MQTT_SUBSCRIBE << 4 | 2, id, filters, qos, n) : 0;
}

size_t mqtt_unsubscribe(uint8_t *buf, size_t cap, uint16_t id, const char *const *filters, size_t n)
{
	return filters_packet(buf, cap, MQTT_UNSUBSCRIBE << 4 | 2, id, filters, NULL, n);
}

size_t mqtt_publish_head(uint8_t *buf, size_t cap, const char *topic, size_t tlen, size_t plen, int qos, uint16_t id,
                         int dup)
{
	size_t idlen = qos ? 2 : 0;
	if (qos < 0 || qos > 1 || (qos && !id) || !tlen || tlen > 65535 || plen > MQTT_REMAINING_MAX ||
	    2 + tlen + idlen + plen > MQTT_REMAINING_MAX || cap < MQTT_HEAD_MAX + 2 + tlen + idlen)
		return 0;
	size_t n =
	    fixed(buf, cap, (uint8_t)(MQTT_PUBLISH << 4 | (dup && qos ? 8 : 0) | qos << 1), 2 + tlen + idlen + plen);
	n += put_str(buf + n, topic, tlen);
	if (qos)
		n += put16(buf + n, id);
	return n;
}

size_t mqtt_puback(uint8_t *buf, size_t cap, uint16_t id)
{
	if (cap < 4 || !id)
		return 0;
	buf[0] = MQTT_PUBACK << 4;
	buf[1] = 2;
	return 2 + put16(buf + 2, id);
}

static size_t bare(uint8_t *buf, size_t cap, uint8_t type)
{
	if (cap < 2)
		return 0;
	buf[0] = (uint8_t)(type << 4);
	buf[1] = 0;
	return 2;
}

size_t mqtt_pingreq(uint8_t *buf, size_t cap)
{
	return bare(buf, cap, MQTT_PINGREQ);
}

size_t mqtt_disconnect(uint8_t *buf, size_t cap)
{
	return bare(buf, cap, MQTT_DISCONNECT);
}

const char *mqtt_connack_reason(uint8_t code)
{
	static const char *const reasons[] = {
	    "accepted",           "unacceptable protocol version", "client identifier rejected",
	    "server unavailable", "bad user name or password",     "not authorized",
	};
	return code < sizeof(reasons) / sizeof(*reasons) ? reasons[code] : "unknown return code";
}
