/*
 * test_readings_log.c - the CO2 log's parsers (functions/lib/readings_log.c)
 * on the host: a readings-log event as threshold.c pushes it is read whole;
 * each malformed one is refused naming the field (and the sensor); a slot
 * written by log_slot_format reads back, anything else is refused; the
 * index lists are walked, searched and counted; the device and time rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "readings_log.h"

static struct log_reading r;
static char why[200];

static int parse(const char *s)
{
	why[0] = '\0';
	return log_parse_reading(s, strlen(s), &r, why, sizeof(why));
}

static void reading_whole(void **state)
{
	(void)state;
	assert_int_equal(
	    parse("{\"device\":\"kit-1.a_b\",\"time\":\"2025-03-01T10:00:00Z\",\"sensors\":{\"158\":612,\"55\":22.31,"
	          "\"10\":-3.5e2}}\n"),
	    0);
	assert_string_equal(r.device, "kit-1.a_b");
	assert_string_equal(r.time, "2025-03-01T10:00:00Z");
	assert_int_equal(r.n, 3);
	assert_int_equal(r.s[0].id, 158);
	assert_true(r.s[0].value == 612);
	assert_int_equal(r.s[1].id, 55);
	assert_true(r.s[1].value == 22.31);
	assert_int_equal(r.s[2].id, 10);
	assert_true(r.s[2].value == -350);
	/* field order does not matter; other scalar fields are ignored; no sensors is a reading of none */
	assert_int_equal(parse("{\"sensors\":{},\"extra\":true,\"time\":\"2025-03-01T10:00:00.5+01:00\",\"device\":"
	                       "\"k\"}"),
	                 0);
	assert_int_equal(r.n, 0);
	assert_string_equal(r.time, "2025-03-01T10:00:00.5+01:00");
}

static void reading_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *in, *why;
	} bad[] = {
	    {"", "not one JSON object"},
	    {"[1]", "not one JSON object"},
	    {"{\"device\":\"k\"", "not one JSON object"},
	    {"{\"device\":\"k\",\"time\":\"t\",\"sensors\":{}} x", "not one JSON object"},
	    {"{\"time\":\"t\",\"sensors\":{}}", "no \"device\""},
	    {"{\"device\":\"k\",\"sensors\":{}}", "no \"time\""},
	    {"{\"device\":\"k\",\"time\":\"t\"}", "no \"sensors\""},
	    {"{\"device\":\"k/1\",\"time\":\"t\",\"sensors\":{}}", "\"device\" is not a kit token"},
	    {"{\"device\":\"\",\"time\":\"t\",\"sensors\":{}}", "\"device\" is not a kit token"},
	    {"{\"device\":7,\"time\":\"t\",\"sensors\":{}}", "\"device\" is not a kit token"},
	    {"{\"device\":\"k\",\"time\":\"2025 03\",\"sensors\":{}}", "\"time\" is not a time"},
	    {"{\"device\":\"k\",\"time\":\"0123456789012345678901234567890123456789\",\"sensors\":{}}",
	     "\"time\" is not a time"},
	    {"{\"device\":\"k\",\"time\":\"t\",\"sensors\":[1]}", "\"sensors\" is not an object"},
	    {"{\"device\":\"k\",\"time\":\"t\",\"sensors\":{\"co2\":1}}", "sensor id 'co2' is not an integer"},
	    {"{\"device\":\"k\",\"time\":\"t\",\"sensors\":{\"1234567890\":1}}", "sensor id '1234567890' is not"},
	    {"{\"device\":\"k\",\"time\":\"t\",\"sensors\":{\"158\":\"high\"}}",
	     "sensor 158: value 'high' is not a number"},
	    {"{\"device\":\"k\",\"time\":\"t\",\"sensors\":{\"158\":null}}",
	     "sensor 158: value 'null' is not a number"},
	    {"{\"device\":\"k\",\"time\":\"t\",\"sensors\":{\"158\":{}}}", "sensor 158: value '{}' is not a number"},
	    {"{\"device\":\"k\",\"time\":\"t\",\"sensors\":{},\"x\":[1]}", "field 'x' is not a scalar"},
	    /* found by fuzz_readings_log: jsmn's sizes promise more tokens than it made */
	    {"{\"n\":2,\"time\"\":t\",\"value\":-1.5e-07}\n", "not one JSON object"},
	    {"{\"device\":\"k\",\"time\":\"t\",\"sensors\":{\"1\"\":2}}", "not"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i].in) != -1 || !strstr(why, bad[i].why))
			fail_msg("'%s': got '%s', want '%s'", bad[i].in, why, bad[i].why);
	}
	/* more than SCK_MAX_SENSORS sensors */
	char big[4096];
	size_t o = (size_t)snprintf(big, sizeof(big), "{\"device\":\"k\",\"time\":\"t\",\"sensors\":{");
	for (int i = 0; i <= SCK_MAX_SENSORS; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%s\"%d\":1", i ? "," : "", i);
	snprintf(big + o, sizeof(big) - o, "}}");
	assert_int_equal(parse(big), -1);
	assert_non_null(strstr(why, "too many fields") ? why : strstr(why, "more than 64 sensors"));
}

static void slots(void **state)
{
	(void)state;
	char v[128], time[SCK_TIME_MAX], value[32];
	long long k;
	int n = log_slot_format(v, sizeof(v), 1441, "2025-03-01T10:00:00Z", 22.31);
	assert_string_equal(v, "{\"n\":1441,\"time\":\"2025-03-01T10:00:00Z\",\"value\":22.31}");
	assert_int_equal(n, (int)strlen(v));
	assert_int_equal(log_slot_parse(v, &k, time, value), 0);
	assert_true(k == 1441);
	assert_string_equal(time, "2025-03-01T10:00:00Z");
	assert_string_equal(value, "22.31");
	log_slot_format(v, sizeof(v), 2, "t", -1.5e-7);
	assert_int_equal(log_slot_parse(v, &k, time, value), 0);
	assert_string_equal(value, "-1.5e-07");
	static const char *const bad[] = {"",
	                                  "x",
	                                  "{\"n\":1,\"time\":\"t\",\"value\":1",
	                                  "{\"n\":1,\"time\":\"t\",\"value\":1}x",
	                                  "{\"n\":1,\"time\":\"a b\",\"value\":1}",
	                                  "{\"n\":1,\"time\":\"\",\"value\":1}",
	                                  "{\"time\":\"t\",\"n\":1,\"value\":1}",
	                                  "{\"n\":1,\"time\":\"t\",\"value\":\"1\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (log_slot_parse(bad[i], &k, time, value) != -1)
			fail_msg("slot '%s' accepted", bad[i]);
}

static void lists(void **state)
{
	(void)state;
	const char *devs = "[\"kit1\",\"kit10\",\"k.2\"]", *ids = "[158,55]", *e;
	size_t pos = 0, n;
	assert_int_equal(log_list_next(devs, &pos, &e, &n), 1);
	assert_true(n == 4 && memcmp(e, "kit1", 4) == 0);
	assert_int_equal(log_list_next(devs, &pos, &e, &n), 1);
	assert_true(n == 5 && memcmp(e, "kit10", 5) == 0);
	assert_int_equal(log_list_next(devs, &pos, &e, &n), 1);
	assert_true(n == 3 && memcmp(e, "k.2", 3) == 0);
	assert_int_equal(log_list_next(devs, &pos, &e, &n), 0);
	assert_int_equal(log_list_count(devs), 3);
	assert_true(log_list_has(devs, "kit1", 4));
	assert_false(log_list_has(devs, "kit", 3)); /* a prefix is not an element */
	assert_false(log_list_has(devs, "kit2", 4));
	assert_true(log_list_has(ids, "55", 2));
	assert_false(log_list_has(ids, "5", 1));
	assert_false(log_list_has(ids, "158,55", 6));
	assert_int_equal(log_list_count("[]"), 0);
	assert_int_equal(log_list_count(""), 0);
	assert_int_equal(log_list_count("[7]"), 1);
}

static void rules(void **state)
{
	(void)state;
	assert_true(log_device_ok("kit1", 4));
	assert_true(log_device_ok("012345678901234567890123456789012345678901234567890123456789012", 63));
	assert_false(log_device_ok("0123456789012345678901234567890123456789012345678901234567890123", 64));
	assert_false(log_device_ok("", 0));
	assert_false(log_device_ok("a/b", 3));
	assert_false(log_device_ok("a b", 3));
	assert_false(log_device_ok("a\0b", 3));
	assert_true(log_time_ok("2025-03-01T10:00:00Z", 20));
	assert_true(log_time_ok("2025-03-01T10:00:00.123+01:00", 29));
	assert_false(log_time_ok("2025-03-01 10:00:00", 19));
	assert_false(log_time_ok("t\"", 2));
	assert_false(log_time_ok("t\0", 2));
	assert_false(log_time_ok("", 0));
	assert_false(log_time_ok("0123456789012345678901234567890123456789", 40));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reading_whole), cmocka_unit_test(reading_malformed),
	    cmocka_unit_test(slots),         cmocka_unit_test(lists),
	    cmocka_unit_test(rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
