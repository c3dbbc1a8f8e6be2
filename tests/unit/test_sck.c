/*
 * test_sck.c - the Smart Citizen Kit parsers (functions/lib/sck.c) on the
 * host: every line of the shared fixtures (../shared/testdata/sck:
 * raw-valid.txt parsed, raw-invalid.txt refused, json-valid.json parsed),
 * the corners of the grammar (spaces, missing commas, null, floats,
 * negative numbers, the timestamp anywhere, several JSON groups), malformed
 * inputs refused with the byte position named, and the topic rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sck.h"

static struct sck_msg m;
static char err[200];

/* The fixtures' directory: $UF_SCK_FIXTURES, else shared/ beside the tree. */
static const char *fixtures(void)
{
	static const char *const dirs[] = {"../shared/testdata/sck", "/work/shared/testdata/sck"};
	const char *env = getenv("UF_SCK_FIXTURES");
	if (env)
		return env;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/raw-valid.txt", dirs[i]);
		if (access(p, R_OK) == 0)
			return dirs[i];
	}
	fail_msg("SCK fixtures not found: set UF_SCK_FIXTURES to ../shared/testdata/sck");
	return NULL;
}

/* Calls fn on each non-empty line of fixture name (without its newline); the count of lines. */
static int each_line(const char *name, void (*fn)(const char *line, size_t len))
{
	char path[600], line[4096];
	snprintf(path, sizeof(path), "%s/%s", fixtures(), name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\r\n");
		if (len == 0)
			continue;
		line[len] = '\0';
		fn(line, len);
		n++;
	}
	fclose(f);
	return n;
}

static int raw(const char *s)
{
	err[0] = '\0';
	return sck_parse(SCK_RAW, s, strlen(s), &m, err, sizeof(err));
}

static int json(const char *s)
{
	err[0] = '\0';
	return sck_parse(SCK_JSON, s, strlen(s), &m, err, sizeof(err));
}

/* The value of sensor id in group g, or -12345 if absent. */
static double value(int g, long id)
{
	for (int i = 0; i < m.g[g].n; i++)
		if (m.g[g].s[i].id == id)
			return m.g[g].s[i].value;
	return -12345;
}

static void refused(int format, const char *s, const char *at, const char *why)
{
	int rc = format == SCK_RAW ? raw(s) : json(s);
	if (rc != SCK_ERROR || !strstr(err, at) || !strstr(err, why))
		fail_msg("'%s': rc %d, err '%s'; expected '%s' ... '%s'", s, rc, err, at, why);
}

static void valid_raw_line(const char *line, size_t len)
{
	if (sck_parse(SCK_RAW, line, len, &m, err, sizeof(err)) != SCK_OK)
		fail_msg("raw-valid.txt: '%s' refused: %s", line, err);
	assert_int_equal(m.ngroups, 1);
	assert_int_equal(strlen(m.g[0].time), 20);
}

static void invalid_raw_line(const char *line, size_t len)
{
	err[0] = '\0';
	if (sck_parse(SCK_RAW, line, len, &m, err, sizeof(err)) != SCK_ERROR)
		fail_msg("raw-invalid.txt: '%s' accepted", line);
	if (strncmp(err, "at byte ", 8) != 0)
		fail_msg("raw-invalid.txt: '%s': reason '%s' names no position", line, err);
}

static void valid_json_line(const char *line, size_t len)
{
	if (sck_parse(SCK_JSON, line, len, &m, err, sizeof(err)) != SCK_OK)
		fail_msg("json-valid.json: '%s' refused: %s", line, err);
	assert_true(m.ngroups >= 1);
	for (int g = 0; g < m.ngroups; g++)
		assert_true(m.g[g].time[0] && m.g[g].n >= 1);
}

static void fixtures_raw_valid(void **state)
{
	(void)state;
	assert_int_equal(each_line("raw-valid.txt", valid_raw_line), 7);
}

static void fixtures_raw_invalid(void **state)
{
	(void)state;
	assert_int_equal(each_line("raw-invalid.txt", invalid_raw_line), 7);
}

static void fixtures_json_valid(void **state)
{
	(void)state;
	assert_int_equal(each_line("json-valid.json", valid_json_line), 2);
	/* its last line: two groups of CO2 */
	assert_int_equal(m.ngroups, 2);
	assert_string_equal(m.g[0].time, "2016-06-08 10:30:00");
	assert_true(value(0, SCK_CO2) == 980 && value(1, SCK_CO2) == 1210);
}

static void raw_values(void **state)
{
	(void)state;
	assert_int_equal(raw("{t:2025-03-01T10:00:00Z,158:612,55:22.31,100:-2000.125,7:-3,8:0}"), SCK_OK);
	assert_string_equal(m.g[0].time, "2025-03-01T10:00:00Z");
	assert_int_equal(m.g[0].n, 5);
	assert_true(value(0, 158) == 612 && value(0, 55) == 22.31 && value(0, 100) == -2000.125);
	assert_true(value(0, 7) == -3 && value(0, 8) == 0);
	assert_int_equal(m.g[0].s[0].id, 158); /* in the message's order */
}

static void raw_separators(void **state)
{
	(void)state;
	/* spaces only, spaces around ':', a comma with spaces, a leading and trailing space */
	assert_int_equal(raw("{ 158 : 700 t : 2025-03-01T10:00:00Z 55:1 ,56 :2 }"), SCK_OK);
	assert_int_equal(m.g[0].n, 3);
	assert_true(value(0, 158) == 700 && value(0, 56) == 2);
	assert_int_equal(raw("  {t:2025-03-01T10:00:00Z}\r\n"), SCK_OK); /* a timestamp alone: no readings */
	assert_int_equal(m.g[0].n, 0);
}

static void raw_timestamp_anywhere(void **state)
{
	(void)state;
	const char *const msgs[] = {"{t:2025-03-01T10:00:00Z,158:1}", "{158:1,t:2025-03-01T10:00:00Z,55:2}",
	                            "{158:1 55:2 t:2025-03-01T10:00:00Z}"};
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		assert_int_equal(raw(msgs[i]), SCK_OK);
		assert_string_equal(m.g[0].time, "2025-03-01T10:00:00Z");
		assert_true(value(0, 158) == 1);
	}
}

static void raw_null_dropped(void **state)
{
	(void)state;
	assert_int_equal(raw("{t:2025-03-01T10:04:00Z,158:null,55:22.8, 56 : null}"), SCK_OK);
	assert_int_equal(m.g[0].n, 1);
	assert_true(value(0, 158) == -12345 && value(0, 55) == 22.8);
}

static void raw_malformed(void **state)
{
	(void)state;
	refused(SCK_RAW, "", "at byte 0", "expected '{'");
	refused(SCK_RAW, "158:600", "at byte 0", "expected '{'");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z,158:600", "at byte 31", "before its closing '}'");
	refused(SCK_RAW, "{158:600}", "at byte 9", "no timestamp");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z,t:2025-03-01T10:00:01Z}", "at byte 24", "second timestamp");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00,158:1}", "at byte 22", "YYYY-MM-DDTHH:MM:SSZ");
	refused(SCK_RAW, "{t 2025-03-01T10:00:00Z}", "at byte 3", "expected ':' after 't'");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z,158 600}", "at byte 28", "expected ':' after sensor id 158");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z,158:}", "at byte 28", "expected a number or null");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z,158:1.}", "at byte 30", "digits after '.'");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z,158:.5}", "at byte 28", "expected a number");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z,158:1e3}", "at byte 29", "after a pair");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z,158:+1}", "at byte 28", "expected a number");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z,158:nul}", "at byte 28", "expected a number");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z,-158:1}", "at byte 24", "sensor id");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z,1234567890:1}", "at byte 24", "longer than 9 digits");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z,,158:1}", "at byte 24", "sensor id");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z,158:1,}", "at byte 30", "pair after ','");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z,158:1} x", "at byte 31", "text after");
	refused(SCK_RAW, "{t:2025-03-01T10:00:00Z;158:1}", "at byte 23", "after a pair");
	char big[16 + 65 * 8] = "{t:2025-03-01T10:00:00Z";
	for (int i = 0; i < 65; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), ",%d:1", i);
	strcat(big, "}");
	refused(SCK_RAW, big, "at byte", "more than 64 sensors");
	const char nul[] = "{t:2025-03-01T10:00:00Z,158:1\0}";
	assert_int_equal(sck_parse(SCK_RAW, nul, sizeof(nul) - 1, &m, err, sizeof(err)), SCK_ERROR);
	assert_non_null(strstr(err, "at byte 29: NUL"));
}

/* The parsers read len bytes, never up to a NUL (a buffer of exactly len under ASan). */
static void unterminated(void **state)
{
	(void)state;
	const char *const msgs[] = {
	    "{2", "{t:2025-03-01T10:00:00Z,158:612}", "{158:1.5", "{\"data\":[{\"id\":1", "{\"data\":[]}", "{t"};
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		size_t len = strlen(msgs[i]);
		char *exact = malloc(len);
		assert_non_null(exact);
		memcpy(exact, msgs[i], len);
		sck_parse(SCK_RAW, exact, len, &m, err, sizeof(err));
		sck_parse(SCK_JSON, exact, len, &m, err, sizeof(err));
		free(exact);
	}
	assert_int_equal(sck_parse(SCK_RAW, "{t:2025-03-01T10:00:00Z,158:612}", 32, &m, err, sizeof(err)), SCK_OK);
	assert_true(value(0, 158) == 612);
}

static void json_groups(void **state)
{
	(void)state;
	assert_int_equal(json(" {\"version\":2, \"data\" : [ {\"sensors\":[{\"value\":-1.5e2,\"id\":158,\"x\":[1,{}]},"
	                      "{\"id\":55,\"value\":null}], \"recorded_at\":\"2025-03-01T10:00:00Z\"},\n"
	                      "{\"recorded_at\":\"2025-03-01T10:01:00Z\",\"sensors\":[]}]} "),
	                 SCK_OK);
	assert_int_equal(m.ngroups, 2);
	assert_int_equal(m.g[0].n, 1);
	assert_true(value(0, 158) == -150);
	assert_string_equal(m.g[1].time, "2025-03-01T10:01:00Z");
	assert_int_equal(m.g[1].n, 0);
}

static void json_empty_dropped(void **state)
{
	(void)state;
	assert_int_equal(json("{\"data\":[]}"), SCK_EMPTY);
	assert_int_equal(json("{}"), SCK_EMPTY);
	assert_int_equal(json("{\"data\":null,\"id\":7}"), SCK_EMPTY);
}

static void json_malformed(void **state)
{
	(void)state;
	refused(SCK_JSON, "", "at byte 0", "expected '{'");
	refused(SCK_JSON, "[]", "at byte 0", "expected '{'");
	refused(SCK_JSON, "{\"data\":{}}", "at byte 8", "expected '['");
	refused(SCK_JSON, "{\"data\":[{\"sensors\":[]}]}", "at byte 9", "without \"recorded_at\"");
	refused(SCK_JSON, "{\"data\":[{\"recorded_at\":\"t\",\"sensors\":[{\"id\":158}]}]}", "at byte 39",
	        "without \"value\"");
	refused(SCK_JSON, "{\"data\":[{\"recorded_at\":\"t\",\"sensors\":[{\"id\":1.5,\"value\":1}]}]}", "at byte 45",
	        "sensor id not an integer");
	refused(SCK_JSON, "{\"data\":[{\"recorded_at\":\"t\",\"sensors\":[{\"id\":1,\"value\":\"1\"}]}]}", "at byte 55",
	        "expected a number");
	refused(SCK_JSON, "{\"data\":[{\"recorded_at\":\"t\",\"sensors\":[{\"id\":1,\"value\":01}]}]}", "at byte 56",
	        "expected ',' or '}'");
	refused(SCK_JSON, "{\"data\":[{\"recorded_at\":\"t\",\"sensors\":[{\"id\":1,\"value\":1}]}", "at byte 59",
	        "expected ',' or ']' in \"data\"");
	refused(SCK_JSON, "{\"data\":[{\"recorded_at\":7}]}", "at byte 24", "expected a string");
	refused(SCK_JSON, "{\"data\":[{\"recorded_at\":\"t}]}", "at byte 29", "string not closed");
	refused(SCK_JSON, "{\"data\":[],\"data\":[]}", "at byte 18", "a second \"data\"");
	refused(SCK_JSON, "{\"data\":[]} {}", "at byte 12", "text after");
	refused(SCK_JSON, "{\"data\":[], \"x\": tru}", "at byte 17", "expected a JSON value");
	char deep[200] = "{\"x\":";
	for (int i = 0; i < 40; i++)
		strcat(deep, "[");
	refused(SCK_JSON, deep, "at byte", "deeper than 32");
}

static void topics(void **state)
{
	(void)state;
	char tok[SCK_TOKEN_MAX];
	enum sck_format f;
	const char *t = "device/sck/a1B2-c3_d.4/readings/raw";
	assert_int_equal(sck_topic(t, strlen(t), tok, &f, err, sizeof(err)), 0);
	assert_string_equal(tok, "a1B2-c3_d.4");
	assert_int_equal(f, SCK_RAW);
	t = "device/sck/kit2/readings";
	assert_int_equal(sck_topic(t, strlen(t), tok, &f, err, sizeof(err)), 0);
	assert_string_equal(tok, "kit2");
	assert_int_equal(f, SCK_JSON);
	const char *const bad[] = {
	    "",
	    "device/sck//readings",
	    "device/sck/kit1/hello",
	    "device/sck/kit1/readings/raw/x",
	    "device/sck/kit1/readings/",
	    "device/sck/ki\"t/readings",
	    "devices/sck/kit1/readings",
	    "device/sck/kit1",
	    "device/sck/0123456789012345678901234567890123456789012345678901234567890123/readings"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sck_topic(bad[i], strlen(bad[i]), tok, &f, err, sizeof(err)) != -1 || !strstr(err, "not a kit's"))
			fail_msg("topic '%s' accepted (%s)", bad[i], err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fixtures_raw_valid),
	    cmocka_unit_test(fixtures_raw_invalid),
	    cmocka_unit_test(fixtures_json_valid),
	    cmocka_unit_test(raw_values),
	    cmocka_unit_test(raw_separators),
	    cmocka_unit_test(raw_timestamp_anywhere),
	    cmocka_unit_test(raw_null_dropped),
	    cmocka_unit_test(raw_malformed),
	    cmocka_unit_test(unterminated),
	    cmocka_unit_test(json_groups),
	    cmocka_unit_test(json_empty_dropped),
	    cmocka_unit_test(json_malformed),
	    cmocka_unit_test(topics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
