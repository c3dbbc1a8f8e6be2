/*
 * test_rules.c - the shared rulebook (common/rules.h): name and key rules
 * at their limits, the words that describe them, UTF-8, and the integer
 * format of counters, checked against what Redis INCRBY accepts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

static char buf[UF_KEY_MAX + 8];

static const char *fill(char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = 0;
	return buf;
}

static void names_at_their_limits(void **state)
{
	(void)state;
	assert_true(uf_name_ok(UF_NAME_WORKFLOW, fill('w', UF_NAME_MAX), UF_NAME_MAX));
	assert_false(uf_name_ok(UF_NAME_WORKFLOW, fill('w', UF_NAME_MAX + 1), UF_NAME_MAX + 1));
	assert_true(uf_name_ok(UF_NAME_STEP, fill('s', UF_NAME_MAX), UF_NAME_MAX));
	assert_false(uf_name_ok(UF_NAME_STEP, fill('s', UF_NAME_MAX + 1), UF_NAME_MAX + 1));
	assert_true(uf_name_ok(UF_NAME_QUEUE, fill('q', UF_QUEUE_MAX), UF_QUEUE_MAX));
	assert_false(uf_name_ok(UF_NAME_QUEUE, fill('q', UF_QUEUE_MAX + 1), UF_QUEUE_MAX + 1));
	assert_true(uf_name_ok(UF_NAME_KEY, fill('k', UF_KEY_MAX), UF_KEY_MAX));
	assert_false(uf_name_ok(UF_NAME_KEY, fill('k', UF_KEY_MAX + 1), UF_KEY_MAX + 1));
	for (int k = UF_NAME_WORKFLOW; k <= UF_NAME_KEY; k++)
		assert_false(uf_name_ok((enum uf_name_kind)k, "", 0));
	assert_true(uf_name_ok(UF_NAME_QUEUE, "a-b_c.D9", 8));
	const char *bad[] = {"a b", "a/b", "a:b", "é"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_false(uf_name_ok(UF_NAME_WORKFLOW, bad[i], strlen(bad[i])));
		assert_false(uf_name_ok(UF_NAME_QUEUE, bad[i], strlen(bad[i])));
		assert_true(uf_name_ok(UF_NAME_KEY, bad[i], strlen(bad[i]))); /* any UTF-8 is a key */
	}
}

static void keys_are_utf8_without_nul(void **state)
{
	(void)state;
	const char *good[] = {"avg:kitchen", "device/kitchen/avg", "a b", "café/größe", "\x01", "%00", "𝄞"};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_true(uf_kv_key_ok(good[i], strlen(good[i])));
	assert_false(uf_kv_key_ok("a\0b", 3));
	const char *bad[] = {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\xc3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_false(uf_kv_key_ok(bad[i], strlen(bad[i])));
}

/* The words of each rule name its limit: one number, read the same everywhere. */
static void rule_words_match_the_limits(void **state)
{
	(void)state;
	char want[32];
	snprintf(want, sizeof(want), "1..%u ", UF_NAME_MAX);
	assert_non_null(strstr(uf_name_rule(UF_NAME_WORKFLOW), want));
	assert_non_null(strstr(uf_name_rule(UF_NAME_STEP), want));
	snprintf(want, sizeof(want), "1..%u ", UF_QUEUE_MAX);
	assert_non_null(strstr(uf_name_rule(UF_NAME_QUEUE), want));
	snprintf(want, sizeof(want), "1..%u ", UF_KEY_MAX);
	assert_non_null(strstr(uf_name_rule(UF_NAME_KEY), want));
	assert_string_equal(uf_name_what(UF_NAME_KEY), "KV key");
	assert_string_equal(uf_name_what(UF_NAME_QUEUE), "queue name");
}

static void int64_as_redis_reads_it(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int ok;
		int64_t v;
	} cases[] = {
	    {"0", 1, 0},
	    {"7", 1, 7},
	    {"-1", 1, -1},
	    {"9223372036854775807", 1, INT64_MAX},
	    {"-9223372036854775808", 1, INT64_MIN},
	    {"9223372036854775808", 0, 0},
	    {"-9223372036854775809", 0, 0},
	    {"007", 0, 0},
	    {"00", 0, 0},
	    {"-0", 0, 0},
	    {"-007", 0, 0},
	    {"+1", 0, 0},
	    {" 1", 0, 0},
	    {"1 ", 0, 0},
	    {"1x", 0, 0},
	    {"-", 0, 0},
	    {"", 0, 0},
	    {"12345678901234567890", 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int64_t v = 42;
		int r = uf_int64_parse(cases[i].s, strlen(cases[i].s), &v);
		if (cases[i].ok) {
			assert_int_equal(r, 0);
			assert_true(v == cases[i].v);
		} else {
			assert_int_equal(r, -1);
			assert_true(v == 42); /* untouched */
		}
	}
	int64_t v;
	assert_int_equal(uf_int64_parse("12", 1, &v), 0); /* explicit length: "1" */
	assert_true(v == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(names_at_their_limits),
	    cmocka_unit_test(keys_are_utf8_without_nul),
	    cmocka_unit_test(rule_words_match_the_limits),
	    cmocka_unit_test(int64_as_redis_reads_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
