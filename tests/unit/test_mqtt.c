/*
 * test_mqtt.c - the MQTT 3.1.1 codec of unifaasd's client
 * (daemon/mqtt_codec.c): the bytes of what it sends, checked against the
 * specification's layouts; what it parses, whole, split at every byte,
 * malformed in each way a broker (or a wire) could get wrong, and over the
 * size limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt_codec.h"

static const char *why;

static void connect_bytes(void **state)
{
	(void)state;
	uint8_t b[128];
	size_t n = mqtt_connect(b, sizeof(b), "unifaasd-co2", NULL, NULL, 20, 0);
	static const uint8_t want[] = {0x10, 24,  0,   4,   'M', 'Q', 'T', 'T', 4,   0x00, 0,   20,  0,
	                               12,   'u', 'n', 'i', 'f', 'a', 'a', 's', 'd', '-',  'c', 'o', '2'};
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(b, want, n);
	/* clean session, user name and password flags */
	n = mqtt_connect(b, sizeof(b), "x", "u", "pw", 20, 1);
	assert_int_equal(n, 2 + 10 + 3 + 3 + 4);
	assert_int_equal(b[9], 0x80 | 0x40 | 0x02);
	assert_memory_equal(b + n - 4, "\0\2pw", 4);
	/* a password without a user name is not MQTT 3.1.1; too small a buffer */
	assert_int_equal(mqtt_connect(b, sizeof(b), "x", NULL, "pw", 20, 1), 0);
	assert_int_equal(mqtt_connect(b, 10, "x", NULL, NULL, 20, 1), 0);
}

static void subscribe_bytes(void **state)
{
	(void)state;
	uint8_t b[64];
	const char *f[] = {"a/+", "b/#"};
	const uint8_t q[] = {1, 0};
	size_t n = mqtt_subscribe(b, sizeof(b), 7, f, q, 2);
	static const uint8_t want[] = {0x82, 14, 0, 7, 0, 3, 'a', '/', '+', 1, 0, 3, 'b', '/', '#', 0};
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(b, want, n);
	n = mqtt_unsubscribe(b, sizeof(b), 8, f, 1);
	static const uint8_t unsub[] = {0xa2, 7, 0, 8, 0, 3, 'a', '/', '+'};
	assert_int_equal(n, sizeof(unsub));
	assert_memory_equal(b, unsub, n);
	const uint8_t q2[] = {2};
	assert_int_equal(mqtt_subscribe(b, sizeof(b), 7, f, q2, 1), 0); /* QoS 2 is never asked for */
	assert_int_equal(mqtt_subscribe(b, sizeof(b), 0, f, q, 1), 0);  /* packet id 0 */
}

static void small_packets(void **state)
{
	(void)state;
	uint8_t b[8];
	assert_int_equal(mqtt_puback(b, sizeof(b), 0x1234), 4);
	assert_memory_equal(b, "\x40\x02\x12\x34", 4);
	assert_int_equal(mqtt_puback(b, sizeof(b), 0), 0);
	assert_int_equal(mqtt_pingreq(b, sizeof(b)), 2);
	assert_memory_equal(b, "\xc0\x00", 2);
	assert_int_equal(mqtt_disconnect(b, sizeof(b)), 2);
	assert_memory_equal(b, "\xe0\x00", 2);
}

/* A PUBLISH built by the client parses back to the same fields, whole;
 * every shorter prefix asks for more. */
static void publish_round_trip(void **state)
{
	(void)state;
	uint8_t b[400];
	char payload[200];
	memset(payload, 'p', sizeof(payload));
	size_t h = mqtt_publish_head(b, sizeof(b), "dev/1/x", 7, sizeof(payload), 1, 99, 1);
	assert_int_equal(h, 1 + 2 + 2 + 7 + 2); /* remaining length 211: two bytes */
	assert_int_equal(b[0], 0x3a);           /* PUBLISH, DUP, QoS 1 */
	memcpy(b + h, payload, sizeof(payload));
	size_t total = h + sizeof(payload);
	struct mqtt_packet p;
	for (size_t cut = 0; cut < total; cut++)
		assert_int_equal(mqtt_parse(b, cut, 4096, &p, &why), 0);
	assert_int_equal(mqtt_parse(b, total, 4096, &p, &why), (ssize_t)total);
	assert_int_equal(p.type, MQTT_PUBLISH);
	assert_int_equal(p.qos, 1);
	assert_int_equal(p.dup, 1);
	assert_int_equal(p.id, 99);
	assert_int_equal(p.topic_len, 7);
	assert_memory_equal(p.topic, "dev/1/x", 7);
	assert_int_equal(p.payload_len, sizeof(payload));
	assert_memory_equal(p.payload, payload, sizeof(payload));
	/* QoS 0: no packet id, an empty payload is a message too */
	h = mqtt_publish_head(b, sizeof(b), "t", 1, 0, 0, 0, 1);
	assert_int_equal(h, 5);
	assert_int_equal(b[0], 0x30); /* no DUP for QoS 0 */
	assert_int_equal(mqtt_parse(b, h, 4096, &p, &why), 5);
	assert_int_equal(p.qos, 0);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(mqtt_publish_head(b, sizeof(b), "t", 1, 0, 1, 0, 0), 0); /* QoS 1 needs an id */
	assert_int_equal(mqtt_publish_head(b, sizeof(b), "", 0, 0, 0, 0, 0), 0);
}

static void acks_parsed(void **state)
{
	(void)state;
	struct mqtt_packet p;
	assert_int_equal(mqtt_parse((const uint8_t *)"\x20\x02\x01\x00", 4, 64, &p, &why), 4);
	assert_int_equal(p.type, MQTT_CONNACK);
	assert_int_equal(p.session_present, 1);
	assert_int_equal(p.code, 0);
	assert_int_equal(mqtt_parse((const uint8_t *)"\x20\x02\x00\x05", 4, 64, &p, &why), 4);
	assert_int_equal(p.code, 5);
	assert_string_equal(mqtt_connack_reason(p.code), "not authorized");
	assert_int_equal(mqtt_parse((const uint8_t *)"\x40\x02\xab\xcd", 4, 64, &p, &why), 4);
	assert_int_equal(p.type, MQTT_PUBACK);
	assert_int_equal(p.id, 0xabcd);
	assert_int_equal(mqtt_parse((const uint8_t *)"\x90\x04\x00\x01\x01\x80", 6, 64, &p, &why), 6);
	assert_int_equal(p.type, MQTT_SUBACK);
	assert_int_equal(p.payload_len, 2);
	assert_int_equal(p.payload[1], 0x80);
	assert_int_equal(mqtt_parse((const uint8_t *)"\xb0\x02\x00\x02", 4, 64, &p, &why), 4);
	assert_int_equal(p.type, MQTT_UNSUBACK);
	assert_int_equal(mqtt_parse((const uint8_t *)"\xd0\x00", 2, 64, &p, &why), 2);
	assert_int_equal(p.type, MQTT_PINGRESP);
	/* two packets in one buffer: the first is taken alone */
	assert_int_equal(mqtt_parse((const uint8_t *)"\xd0\x00\x40\x02\x00\x01", 6, 64, &p, &why), 2);
}

static void refused(const char *bytes, size_t n, const char *want)
{
	struct mqtt_packet p;
	why = NULL;
	assert_int_equal(mqtt_parse((const uint8_t *)bytes, n, 1024, &p, &why), -1);
	assert_non_null(why);
	if (want)
		assert_string_equal(why, want);
}

static void malformed(void **state)
{
	(void)state;
	refused("\x30\xff\xff\xff\xff\x01", 6, "malformed remaining length"); /* five length bytes */
	refused("\x30\x80\x00", 3, "malformed remaining length");             /* not the shortest form */
	refused("\x36\x03\x00\x01t", 5, "PUBLISH with QoS 3");
	refused("\x34\x05\x00\x01t\x00\x01", 7, "PUBLISH with QoS 2 (never subscribed)");
	refused("\x32\x05\x00\x01t\x00\x00", 7, "PUBLISH with QoS 1 and packet id 0");
	refused("\x38\x03\x00\x01t", 5, "PUBLISH with QoS 0 and DUP set"); /* MQTT-3.3.1-2 */
	refused("\x30\x03\x00\x05t", 5, "PUBLISH shorter than its topic and packet id");
	refused("\x30\x01\x00", 3, "PUBLISH shorter than its topic length");
	refused("\x30\x03\x00\x01+", 5, "PUBLISH topic is not a valid topic name");
	refused("\x30\x04\x00\x02\x00x", 6, "PUBLISH topic is not a valid topic name");    /* NUL */
	refused("\x30\x04\x00\x02\xc3\x28", 6, "PUBLISH topic is not a valid topic name"); /* bad UTF-8 */
	refused("\x30\x02\x00\x00", 4, "PUBLISH topic is not a valid topic name");         /* empty */
	refused("\x20\x03\x00\x00\x00", 5, "malformed CONNACK");
	refused("\x20\x02\x02\x00", 4, "malformed CONNACK");
	refused("\x41\x02\x00\x01", 4, "reserved flags set in the fixed header");
	refused("\x40\x03\x00\x01\x00", 5, "PUBACK or UNSUBACK of the wrong length");
	refused("\x90\x02\x00\x01", 4, "SUBACK without return codes");
	refused("\x90\x03\x00\x01\x03", 5, "SUBACK return code out of range");
	refused("\xd0\x01\x00", 3, "PINGRESP with a body");
	refused("\x10\x00", 2, "a packet type a server does not send to a client");         /* CONNECT */
	refused("\x82\x00", 2, "a packet type a server does not send to a client");         /* SUBSCRIBE */
	refused("\x50\x02\x00\x01", 4, "a packet type a server does not send to a client"); /* PUBREC */
	refused("\x00\x00", 2, "a packet type a server does not send to a client");
	refused("\xf0\x00", 2, "a packet type a server does not send to a client");
}

/* Over the limit: the head of a PUBLISH is enough to acknowledge it, and
 * the parser says so before the payload arrives. */
static void oversize(void **state)
{
	(void)state;
	uint8_t b[64];
	struct mqtt_packet p;
	size_t h = mqtt_publish_head(b, sizeof(b), "big", 3, 100000, 1, 5, 0);
	assert_int_equal(mqtt_parse(b, 3, 1000, &p, &why), 0); /* head incomplete */
	assert_int_equal(mqtt_parse(b, h, 1000, &p, &why), -2);
	assert_int_equal(p.type, MQTT_PUBLISH);
	assert_int_equal(p.id, 5);
	assert_int_equal(p.topic_len, 3);
	assert_null(p.payload);
	assert_int_equal(p.size, h + 100000);
	assert_int_equal(p.skip, 100000);
	/* a SUBACK over the limit is an error, not something to skip */
	assert_int_equal(mqtt_parse((const uint8_t *)"\x90\x83\x01", 3, 64, &p, &why), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(connect_bytes),      cmocka_unit_test(subscribe_bytes), cmocka_unit_test(small_packets),
	    cmocka_unit_test(publish_round_trip), cmocka_unit_test(acks_parsed),     cmocka_unit_test(malformed),
	    cmocka_unit_test(oversize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
