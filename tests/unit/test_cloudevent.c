/*
 * test_cloudevent.c - the CloudEvents rules of the HTTP ingress
 * (daemon/cloudevent.c): every line of the shared fixtures
 * (../shared/testdata/cloudevents, read line by line: valid.jsonl accepted
 * with its attributes and payload as kept, invalid.jsonl refused naming
 * the attribute), binary mode from ce-* headers, and the edges of the
 * rules (RFC 3339, base64, extension names and values, data by type).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cloudevent.h"

/* The fixtures' directory: $UF_CE_FIXTURES, else shared/ beside the tree. */
static const char *fixtures(void)
{
	static const char *const dirs[] = {"../shared/testdata/cloudevents", "/work/shared/testdata/cloudevents"};
	const char *env = getenv("UF_CE_FIXTURES");
	if (env)
		return env;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/valid.jsonl", dirs[i]);
		if (access(p, R_OK) == 0)
			return dirs[i];
	}
	fail_msg("CloudEvents fixtures not found (set UF_CE_FIXTURES)");
	return NULL;
}

/* Calls fn on every non-empty line of the fixture file; the line count. */
static int each_line(const char *file, void (*fn)(const char *line, size_t len))
{
	char path[600], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int count = 0;
	snprintf(path, sizeof(path), "%s/%s", fixtures(), file);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (!n)
			continue;
		fn(line, (size_t)n);
		count++;
	}
	free(line);
	fclose(f);
	return count;
}

static void valid_line(const char *line, size_t len)
{
	struct ce_event ev;
	json_t *src = json_loadb(line, len, 0, NULL);
	assert_non_null(src);
	if (ce_structured(line, len, &ev) < 0)
		fail_msg("refused a valid line: %s: %s (%s)", line, ev.err, ev.attr);
	const char *k;
	json_t *v;
	json_object_foreach(src, k, v)
	{
		if (!strcmp(k, "data") || !strcmp(k, "data_base64"))
			assert_null(json_object_get(ev.attrs, k));
		else
			assert_true(json_equal(v, json_object_get(ev.attrs, k)));
	}
	json_t *data = json_object_get(src, "data");
	if (json_object_get(src, "data_base64")) {
		assert_non_null(ev.data);
	} else if (data) {
		json_t *kept = json_loadb(ev.data, ev.len, JSON_DECODE_ANY, NULL);
		assert_true(json_equal(kept, data));
		json_decref(kept);
	} else {
		assert_int_equal(ev.len, 0);
	}
	json_decref(src);
	ce_event_free(&ev);
}

static void invalid_line(const char *line, size_t len)
{
	struct ce_event ev;
	if (ce_structured(line, len, &ev) == 0)
		fail_msg("accepted an invalid line: %s", line);
	assert_true(ev.attr[0] != 0);
	json_t *src = json_loadb(line, len, 0, NULL);
	if (!src) { /* not JSON: the body, with its position */
		assert_string_equal(ev.attr, "body");
		assert_non_null(strstr(ev.err, "column"));
	} else { /* the attribute is named in the message, and is absent or in the line */
		char quoted[80];
		snprintf(quoted, sizeof(quoted), "'%s'", ev.attr);
		assert_non_null(strstr(ev.err, quoted));
		assert_true(json_object_get(src, ev.attr) || strstr(ev.err, "required"));
	}
	json_decref(src);
	ce_event_free(&ev);
}

static void test_fixtures(void **state)
{
	(void)state;
	assert_true(each_line("valid.jsonl", valid_line) > 0);
	assert_true(each_line("invalid.jsonl", invalid_line) > 0);
}

static void refused_as(const char *json, const char *attr)
{
	struct ce_event ev;
	if (ce_structured(json, strlen(json), &ev) == 0)
		fail_msg("accepted: %s", json);
	if (strcmp(ev.attr, attr))
		fail_msg("%s: names '%s', not '%s' (%s)", json, ev.attr, attr, ev.err);
	ce_event_free(&ev);
}

#define CE_HEAD "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"/s\",\"id\":\"1\""

static void test_rules(void **state)
{
	(void)state;
	struct ce_event ev;
	static const char *const good[] = {
	    CE_HEAD ",\"time\":\"2025-03-01T10:01:00.123+01:00\"}",
	    CE_HEAD ",\"time\":\"2025-03-01t10:01:00z\"}",
	    CE_HEAD ",\"dataschema\":\"https://x/s.json\",\"subject\":\"a\",\"ext1\":7,\"flag\":true}",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (ce_structured(good[i], strlen(good[i]), &ev) < 0)
			fail_msg("refused %s: %s", good[i], ev.err);
		ce_event_free(&ev);
	}
	refused_as(CE_HEAD ",\"time\":\"2025-13-01T00:00:00Z\"}", "time");
	refused_as(CE_HEAD ",\"time\":\"2025-03-01 10:01:00Z\"}", "time");
	refused_as(CE_HEAD ",\"dataschema\":\"relative/path\"}", "dataschema");
	refused_as(CE_HEAD ",\"ext\":{\"a\":1}}", "ext");
	refused_as(CE_HEAD ",\"ext_1\":\"x\"}", "ext_1");
	refused_as(CE_HEAD ",\"data_base64\":\"abc\"}", "data_base64");
	refused_as("{\"specversion\":\"0.3\",\"type\":\"t\",\"source\":\"/s\",\"id\":\"1\"}", "specversion");
	refused_as("{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"a b\",\"id\":\"1\"}", "source");
	refused_as("[1]", "body");
	/* data by type: base64 decoded, a string of a non-JSON type as its text,
	 * a string of a JSON type (or none) as JSON */
	static const struct {
		const char *json, *data;
	} kept[] = {
	    {CE_HEAD ",\"data_base64\":\"aGVsbG8=\"}", "hello"},
	    {CE_HEAD ",\"data_base64\":\"YQ==\"}", "a"},
	    {CE_HEAD ",\"datacontenttype\":\"text/plain\",\"data\":\"a\\u00e9\"}", "a\xc3\xa9"},
	    {CE_HEAD ",\"datacontenttype\":\"application/json\",\"data\":\"a\"}", "\"a\""},
	    {CE_HEAD ",\"data\":{\"co2\":1450}}", "{\"co2\":1450}"},
	};
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		assert_int_equal(ce_structured(kept[i].json, strlen(kept[i].json), &ev), 0);
		assert_int_equal(ev.len, strlen(kept[i].data));
		assert_memory_equal(ev.data, kept[i].data, ev.len);
		ce_event_free(&ev);
	}
}

static void test_binary(void **state)
{
	(void)state;
	struct ce_event ev;
	const char *names[] = {"ce-specversion", "CE-Type", "ce-id", "ce-source", "ce-subject"};
	const char *values[] = {"1.0", "t", "42", "/dev/1", "caf%C3%A9 %25"};
	assert_int_equal(ce_binary(names, values, 5, "text/plain", "hi", 2, &ev), 0);
	assert_string_equal(json_string_value(json_object_get(ev.attrs, "type")), "t");
	assert_string_equal(json_string_value(json_object_get(ev.attrs, "subject")), "caf\xc3\xa9 %");
	assert_string_equal(json_string_value(json_object_get(ev.attrs, "datacontenttype")), "text/plain");
	assert_int_equal(ev.len, 2);
	assert_memory_equal(ev.data, "hi", 2);
	ce_event_free(&ev);

	values[4] = "a%zz";
	assert_int_equal(ce_binary(names, values, 5, NULL, "", 0, &ev), -1);
	assert_string_equal(ev.attr, "subject");
	assert_non_null(strstr(ev.err, "ce-subject"));
	ce_event_free(&ev);
	values[4] = "a%00";
	assert_int_equal(ce_binary(names, values, 5, NULL, "", 0, &ev), -1);
	ce_event_free(&ev);
	assert_int_equal(ce_binary(names, values, 2, NULL, "", 0, &ev), -1); /* no id, no source */
	assert_string_equal(ev.attr, "id");
	ce_event_free(&ev);
	const char *bad_names[5] = {"ce-specversion", "ce-type", "ce-id", "ce-source", "ce-bad-ext"};
	values[4] = "x";
	assert_int_equal(ce_binary(bad_names, values, 5, NULL, "", 0, &ev), -1);
	assert_string_equal(ev.attr, "bad-ext");
	ce_event_free(&ev);
	/* a header "ce-" alone has no attribute name: the header is named (found by fuzz_cloudevent) */
	bad_names[4] = "ce-";
	assert_int_equal(ce_binary(bad_names, values, 5, NULL, "", 0, &ev), -1);
	assert_string_equal(ev.attr, "ce-");
	ce_event_free(&ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixtures),
	    cmocka_unit_test(test_rules),
	    cmocka_unit_test(test_binary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
