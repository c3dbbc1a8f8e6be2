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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "delivery.h"
#include "rules.h"
#include "topic.h"

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
	/* workflow and step names are path components of the state dir
	 * (images/WF/STEP.uf, logs/WF/STEP.log): "." and ".." would escape it */
	assert_true(uf_name_ok(UF_NAME_DEVICE, fill('d', UF_NAME_MAX), UF_NAME_MAX));
	assert_false(uf_name_ok(UF_NAME_DEVICE, fill('d', UF_NAME_MAX + 1), UF_NAME_MAX + 1));
	/* a device name is a line of mosquitto's files and a level of its default filter */
	const char *dev_bad[] = {"", ".", "..", "a b", "a/b", "a:b", "a#", "a+b", "a\n"};
	for (size_t i = 0; i < sizeof(dev_bad) / sizeof(*dev_bad); i++)
		assert_false(uf_name_ok(UF_NAME_DEVICE, dev_bad[i], strlen(dev_bad[i])));
	assert_true(uf_name_ok(UF_NAME_DEVICE, "sck-kitchen.2", 13));
	for (int k = UF_NAME_WORKFLOW; k <= UF_NAME_STEP; k++) {
		assert_false(uf_name_ok((enum uf_name_kind)k, ".", 1));
		assert_false(uf_name_ok((enum uf_name_kind)k, "..", 2));
		assert_true(uf_name_ok((enum uf_name_kind)k, "...", 3));
		assert_true(uf_name_ok((enum uf_name_kind)k, ".a", 2));
	}
	const char *bad[] = {"a b", "a/b", "a:b", "é"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_false(uf_name_ok(UF_NAME_WORKFLOW, bad[i], strlen(bad[i])));
		assert_false(uf_name_ok(UF_NAME_QUEUE, bad[i], strlen(bad[i])));
		assert_true(uf_name_ok(UF_NAME_KEY, bad[i], strlen(bad[i]))); /* any UTF-8 is a key */
	}
}

/* env keys and secret names: one rule for the manifest, the CLI and the API */
static void variable_names(void **state)
{
	(void)state;
	const char *good[] = {"A", "_", "SLACK_URL", "a9", "_9x"};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_true(uf_name_ok(UF_NAME_VAR, good[i], strlen(good[i])));
	const char *bad[] = {"", "9A", "a-b", "a b", "a.b", "a=b", "é", "a\n", "../x", "a/b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_false(uf_name_ok(UF_NAME_VAR, bad[i], strlen(bad[i])));
	assert_true(uf_name_ok(UF_NAME_VAR, fill('V', UF_VAR_MAX), UF_VAR_MAX));
	assert_false(uf_name_ok(UF_NAME_VAR, fill('V', UF_VAR_MAX + 1), UF_VAR_MAX + 1));
	char want[32];
	snprintf(want, sizeof(want), "at most %u", UF_VAR_MAX);
	assert_non_null(strstr(uf_name_rule(UF_NAME_VAR), want));
	assert_string_equal(uf_name_what(UF_NAME_VAR), "variable name");
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

/* A failure's reason: checked by the tender, made by libuf's uf_fail_reason. */
static void reasons_checked_and_cleaned(void **state)
{
	(void)state;
	const char *ok = "device kit4 topic t: at byte 13 \xe2\x80\x94";
	assert_true(uf_reason_ok(ok, strlen(ok)));
	assert_false(uf_reason_ok("", 0));
	assert_false(uf_reason_ok("a\nb", 3));
	assert_false(uf_reason_ok("a\x7f", 2));
	assert_false(uf_reason_ok("a\xc3", 2));
	static char big[UF_REASON_MAX + 8];
	memset(big, 'x', sizeof(big));
	assert_true(uf_reason_ok(big, UF_REASON_MAX));
	assert_false(uf_reason_ok(big, UF_REASON_MAX + 1));
	char s[] = "ok\n\xff\xc3\xa9\x01\xc3";
	size_t n = uf_reason_clean(s, sizeof(s) - 1);
	assert_int_equal(n, 8);
	assert_memory_equal(s, "ok??\xc3\xa9??", 8);
	assert_true(uf_reason_ok(s, n));
	/* cut at a character boundary: a 2-byte character straddling the limit goes */
	memcpy(big + UF_REASON_MAX - 1, "\xc3\xa9", 2);
	n = uf_reason_clean(big, UF_REASON_MAX + 1);
	assert_int_equal(n, UF_REASON_MAX - 1);
	assert_true(uf_reason_ok(big, n));
	assert_int_equal(uf_reason_clean(big, 0), 0);
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
	snprintf(want, sizeof(want), "1..%u ", UF_NAME_MAX);
	assert_non_null(strstr(uf_name_rule(UF_NAME_DEVICE), want));
	assert_string_equal(uf_name_what(UF_NAME_DEVICE), "device name");
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

/* The command as one string, arguments joined by spaces. */
static const char *joined(const struct uf_cmd *c)
{
	static char out[1024];
	size_t o = 0;
	for (int i = 0; i < c->argc; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%.*s", i ? " " : "", (int)c->len[i], c->argv[i]);
	return out;
}

static void entry_fields_parsed_once(void **state)
{
	(void)state;
	struct uf_entry e;
	uf_entry_init(&e, "5-1");
	uf_entry_field(&e, "data", 4, "a\0b", 3);
	uf_entry_field(&e, "attempt", 7, "2", 1);
	uf_entry_field(&e, "origin", 6, "1-0", 3);
	uf_entry_field(&e, "reason", 6, "x", 1);
	assert_int_equal(e.len, 3);
	assert_memory_equal(e.data, "a\0b", 3);
	assert_int_equal(e.attempt, 2);
	assert_int_equal(e.origin_len, 3);
	assert_memory_equal(e.origin, "1-0", 3);
	uf_entry_init(&e, "7-0"); /* malformed values are ignored: origin stays the id */
	uf_entry_field(&e, "origin", 6, "a\0b", 3);
	uf_entry_field(&e, "attempt", 7, "007", 3);
	assert_string_equal(e.origin, "7-0");
	assert_int_equal(e.attempt, 0);
	assert_null(e.data);
}

/* Entry 5-1, a re-queued event: data "open", origin 1-0, attempt 1. */
static void entry_5_1(struct uf_entry *e)
{
	uf_entry_init(e, "5-1");
	uf_entry_field(e, "data", 4, "open", 4);
	uf_entry_field(e, "origin", 6, "1-0", 3);
	uf_entry_field(e, "attempt", 7, "1", 1);
}

static void settle_commands(void **state)
{
	(void)state;
	struct uf_delivery d = {.wf = "eval", .queue = "in", .step = "fdc", .retries = 2};
	struct uf_entry e;
	struct uf_cmd c;
	entry_5_1(&e);
	assert_int_equal(uf_settle_cmd(&d, &e, 1, 0, "boom", 42, &c), UF_SETTLED_COUNTED); /* attempt 2 <= 2 retries */
	assert_string_equal(joined(&c), "XADD uf:q:eval:in * data open origin 1-0 attempt 2 reason boom");
	assert_int_equal(uf_settle_cmd(&d, &e, 0, 0, NULL, 42, &c), 0); /* handed back: unchanged */
	assert_string_equal(joined(&c), "XADD uf:q:eval:in * data open origin 1-0 attempt 1");
	uf_entry_field(&e, "attempt", 7, "2", 1);
	assert_int_equal(uf_settle_cmd(&d, &e, 1, 0, "boom", 1796000000123ull, &c),
	                 UF_SETTLED_DEAD | UF_SETTLED_COUNTED);
	assert_string_equal(
	    joined(&c),
	    "XADD uf:dlq:eval:in * data open origin 1-0 attempts 3 step fdc reason boom time 1796000000123");
	assert_int_equal(uf_settle_cmd(&d, &e, 0, 0, "stopped", 42, &c), 0); /* not counted: never dead */
	assert_int_equal(uf_push_cmd("eval", "out", 3, "x y", 3, &c), 0);
	assert_string_equal(joined(&c), "XADD uf:q:eval:out * data x y");
	assert_int_equal(uf_ack_cmd(&d, "5-1", &c), 0);
	assert_string_equal(joined(&c), "XACK uf:q:eval:in fdc 5-1");
	assert_int_equal(uf_count_cmd(&d, UF_STAT_DEAD, 3, &c), 0);
	assert_string_equal(joined(&c), "HINCRBY uf:stat:eval:fdc dead 3");
}

/* The daemon's settle of one entry, as one EVAL: the script is the one
 * definition, keys and arguments come from the same steps as the tender's
 * XADD, XACK and HINCRBY (script text left out of the joined string). */
static const char *joined_eval(const struct uf_settle_eval *s)
{
	static char out[1024];
	size_t o = 0;
	for (int i = 0; i < s->argc; i++)
		if (i != 1)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%.*s", i ? " " : "", (int)s->len[i],
			                      s->argv[i]);
	return out;
}

static void settle_eval_commands(void **state)
{
	(void)state;
	struct uf_delivery d = {.wf = "eval", .queue = "in", .step = "fdc", .retries = 2};
	struct uf_entry e;
	struct uf_settle_eval s;
	entry_5_1(&e);
	assert_int_equal(uf_settle_eval_cmd(&d, &e, 1, "unit died", 42, &s), 0);
	assert_string_equal(s.argv[1], uf_settle_script);
	assert_int_equal(s.len[1], strlen(uf_settle_script));
	assert_non_null(strstr(uf_settle_script,
	                       "if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then return 0"));
	assert_string_equal(joined_eval(&s), "EVAL 3 uf:q:eval:in uf:q:eval:in uf:stat:eval:fdc fdc 5-1 XADD 9 * data "
	                                     "open origin 1-0 attempt 2 reason unit died failed");
	assert_int_equal(s.dead, 0);
	assert_int_equal(s.attempt, 2);
	uf_entry_field(&e, "attempt", 7, "2", 1); /* past the retries: dead letter, counted twice */
	assert_int_equal(uf_settle_eval_cmd(&d, &e, 1, "unit died", 1796000000123ull, &s), 0);
	assert_string_equal(joined_eval(&s),
	                    "EVAL 3 uf:q:eval:in uf:dlq:eval:in uf:stat:eval:fdc fdc 5-1 XADD 13 * data open origin "
	                    "1-0 attempts 3 step fdc reason unit died time 1796000000123 failed dead");
	assert_int_equal(s.dead, 1);
	assert_int_equal(s.attempt, 3);
	assert_int_equal(uf_settle_eval_cmd(&d, &e, 0, "stopped", 42, &s), 0); /* not counted: no counter */
	assert_string_equal(joined_eval(&s), "EVAL 3 uf:q:eval:in uf:q:eval:in uf:stat:eval:fdc fdc 5-1 XADD 9 * data "
	                                     "open origin 1-0 attempt 2 reason stopped");
	uf_entry_init(&e, "6-0"); /* no data: no event, only acknowledged */
	assert_int_equal(uf_settle_eval_cmd(&d, &e, 1, "unit died", 42, &s), 0);
	assert_string_equal(joined_eval(&s), "EVAL 3 uf:q:eval:in uf:q:eval:in uf:stat:eval:fdc fdc 6-0 XADD 0");
	char big[UF_QUEUE_MAX * 3];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	d.queue = big; /* a key that does not fit */
	assert_int_equal(uf_settle_eval_cmd(&d, &e, 1, "unit died", 42, &s), -1);
}

/* A deferral (uf_defer): not counted, deferrals + 1, the reason kept, and
 * the re-queue waits in uf:delay:<wf>:<queue> scored by its due time; past
 * UF_DEFER_MAX it is a counted failure "deferred N times: ...". */
static void settle_deferred(void **state)
{
	(void)state;
	struct uf_delivery d = {.wf = "eval", .queue = "in", .step = "fdc", .retries = 2};
	struct uf_entry e;
	struct uf_cmd c, x;
	const char *why;
	entry_5_1(&e);
	assert_int_equal(uf_settle_cmd(&d, &e, UF_SETTLE_DEFERRED, 300, "429", 1000, &c), UF_SETTLED_LATER);
	assert_int_equal(c.argc, 4);
	assert_string_equal(c.argv[0], "ZADD");
	assert_string_equal(c.argv[1], "uf:delay:eval:in");
	assert_string_equal(c.argv[2], "1300");
	assert_int_equal(uf_delay_decode("eval", "in", c.argv[3], c.len[3], &x, &why), 0);
	assert_string_equal(joined(&x), "XADD uf:q:eval:in * data open origin 1-0 attempt 1 deferrals 1 reason 429");
	uf_cmd_release(&c);
	/* no delay: a re-queue at once, still a deferral */
	assert_int_equal(uf_settle_cmd(&d, &e, UF_SETTLE_DEFERRED, 0, "now", 1000, &c), 0);
	assert_string_equal(joined(&c), "XADD uf:q:eval:in * data open origin 1-0 attempt 1 deferrals 1 reason now");
	/* a delay past the cap is cut to it */
	assert_int_equal(uf_settle_cmd(&d, &e, UF_SETTLE_DEFERRED, UINT32_MAX, "x", 1000, &c), UF_SETTLED_LATER);
	assert_string_equal(c.argv[2], "3601000");
	uf_cmd_release(&c);
	/* the UF_DEFER_MAX+1st deferral fails */
	e.deferrals = UF_DEFER_MAX;
	assert_int_equal(uf_settle_cmd(&d, &e, UF_SETTLE_DEFERRED, 300, "429", 1000, &c), UF_SETTLED_COUNTED);
	assert_string_equal(
	    joined(&c),
	    "XADD uf:q:eval:in * data open origin 1-0 attempt 2 deferrals 100 reason deferred 100 times: 429");
	e.attempt = 2;
	assert_int_equal(uf_settle_cmd(&d, &e, UF_SETTLE_DEFERRED, 300, "429", 1000, &c),
	                 UF_SETTLED_COUNTED | UF_SETTLED_DEAD);
	assert_string_equal(joined(&c), "XADD uf:dlq:eval:in * data open origin 1-0 attempts 3 deferrals 100 step fdc "
	                                "reason deferred 100 times: 429 time 1000");
	/* deferrals are read back from an entry */
	uf_entry_field(&e, "deferrals", 9, "7", 1);
	assert_int_equal(e.deferrals, 7);
}

/* uf_fail_permanent: a counted failure dead-lettered at once, whatever the
 * retries left, and never delayed (retry_delay_ms is for re-queues). */
static void settle_permanent(void **state)
{
	(void)state;
	struct uf_delivery d = {.wf = "w", .queue = "q", .step = "s", .retries = 5, .retry_delay_ms = 250};
	struct uf_entry e;
	struct uf_cmd c;
	uf_entry_init(&e, "7-1");
	uf_entry_field(&e, "data", 4, "x", 1);
	assert_int_equal(uf_settle_cmd(&d, &e, UF_SETTLE_PERMANENT, 0, "slack answered 404 channel_not_found", 99, &c),
	                 UF_SETTLED_DEAD | UF_SETTLED_COUNTED);
	assert_string_equal(joined(&c), "XADD uf:dlq:w:q * data x origin 7-1 attempts 1 step s reason slack answered "
	                                "404 channel_not_found time 99");
	/* the same failure as an ordinary one: re-queued, after the delay */
	assert_int_equal(uf_settle_cmd(&d, &e, UF_SETTLE_FAILED, 0, "boom", 99, &c),
	                 UF_SETTLED_COUNTED | UF_SETTLED_LATER);
	uf_cmd_release(&c);
}

/* The reason of the event a drained unit held at its deadline: the cause
 * and unit_drain_ms when known; an unknown cause is "asked to end". */
static void drain_reason(void **state)
{
	(void)state;
	char b[256];
	assert_string_equal(uf_drain_reason(b, sizeof(b), UF_DRAIN_LIFETIME, 5000),
	                    "drain deadline: its unit was drained (lifetime_s reached) and was still handling it "
	                    "5000 ms later (unit_drain_ms)");
	assert_string_equal(uf_drain_reason(b, sizeof(b), UF_DRAIN_RECLAIM, 0),
	                    "drain deadline: its unit was drained (its slot taken back for another workflow) and was "
	                    "still handling it later (unit_drain_ms)");
	assert_non_null(strstr(uf_drain_reason(b, sizeof(b), UF_DRAIN_QUOTA, 1),
	                       "(its workflow over its storage quota while redis is full)"));
	assert_non_null(
	    strstr(uf_drain_reason(b, sizeof(b), UF_DRAIN_UNDEPLOY, 1), "(its workflow undeployed or replaced)"));
	assert_non_null(strstr(uf_drain_reason(b, sizeof(b), UF_DRAIN_SHUTDOWN, 1), "(unifaasd shutting down)"));
	assert_non_null(strstr(uf_drain_reason(b, sizeof(b), UF_DRAIN_OVERFLOW, 1), "(its workflow stopped at a step"));
	assert_non_null(strstr(uf_drain_reason(b, sizeof(b), 99, 1), "(unifaasd asked it to end)"));
	assert_non_null(strstr(uf_drain_reason(b, sizeof(b), -1, 1), "(unifaasd asked it to end)"));
	assert_int_equal(strlen(uf_drain_reason(b, 20, UF_DRAIN_LIFETIME, 1)), 19);
}

/* retry_delay_ms: a counted failure waits base * 2^(attempt-1), capped; a
 * dead letter and a hand-back never wait. */
static void settle_retry_delay(void **state)
{
	(void)state;
	assert_int_equal(uf_retry_delay_ms(100, 1), 100);
	assert_int_equal(uf_retry_delay_ms(100, 2), 200);
	assert_int_equal(uf_retry_delay_ms(100, 4), 800);
	assert_int_equal(uf_retry_delay_ms(0, 5), 0);
	assert_int_equal(uf_retry_delay_ms(1000, 40), UF_DEFER_MAX_MS);
	assert_int_equal(uf_retry_delay_ms(UF_DEFER_MAX_MS, 1), UF_DEFER_MAX_MS);
	struct uf_delivery d = {.wf = "w", .queue = "q", .step = "s", .retries = 3, .retry_delay_ms = 250};
	struct uf_entry e;
	struct uf_cmd c;
	entry_5_1(&e); /* attempt 1: this failure makes 2 -> 500 ms */
	assert_int_equal(uf_settle_cmd(&d, &e, UF_SETTLE_FAILED, 0, "boom", 10000, &c),
	                 UF_SETTLED_COUNTED | UF_SETTLED_LATER);
	assert_string_equal(c.argv[0], "ZADD");
	assert_string_equal(c.argv[2], "10500");
	uf_cmd_release(&c);
	assert_int_equal(uf_settle_cmd(&d, &e, UF_SETTLE_HANDBACK, 0, NULL, 10000, &c), 0);
	assert_string_equal(c.argv[0], "XADD");
	e.attempt = 3;
	assert_int_equal(uf_settle_cmd(&d, &e, UF_SETTLE_FAILED, 0, "boom", 10000, &c),
	                 UF_SETTLED_COUNTED | UF_SETTLED_DEAD);
	assert_string_equal(c.argv[1], "uf:dlq:w:q");
	/* the daemon's settle of a dead unit's event waits the same way */
	struct uf_settle_eval s;
	e.attempt = 0;
	assert_int_equal(uf_settle_eval_cmd(&d, &e, 1, "unit died", 10000, &s), 0);
	assert_int_equal(s.settled, UF_SETTLED_COUNTED | UF_SETTLED_LATER);
	assert_string_equal(s.argv[4], "uf:delay:w:q");
	assert_string_equal(s.argv[8], "ZADD");
	assert_string_equal(s.argv[9], "2");
	assert_string_equal(s.argv[10], "10250");
	uf_cmd_release(&s.add);
}

/* The member encoding: what uf_settle_cmd's XADD holds comes back byte for
 * byte (binary data, every edge field); anything else is refused with why. */
static void delay_member_encoding(void **state)
{
	(void)state;
	struct uf_entry e;
	struct uf_cmd c, x;
	const char *why;
	struct uf_delivery d = {.wf = "w", .queue = "q", .step = "s", .retries = 3};
	uf_entry_init(&e, "9-3");
	uf_entry_field(&e, "data", 4, "a,b:\0c", 6);
	uf_entry_field(&e, "src", 3, "t/1", 3);
	uf_entry_field(&e, "attrs", 5, "{\"a\":1}", 7);
	uf_entry_field(&e, "reply", 5, "tok", 3);
	struct uf_cmd now;
	assert_int_equal(uf_settle_cmd(&d, &e, UF_SETTLE_DEFERRED, 0, "r", 1, &now), 0);
	assert_int_equal(uf_settle_cmd(&d, &e, UF_SETTLE_DEFERRED, 5, "r", 1, &c), UF_SETTLED_LATER);
	assert_int_equal(uf_delay_decode("w", "q", c.argv[3], c.len[3], &x, &why), 0);
	assert_null(x.member); /* points into the member: nothing to release */
	assert_int_equal(x.argc, now.argc);
	for (int i = 0; i < x.argc; i++) {
		assert_int_equal(x.len[i], now.len[i]);
		assert_memory_equal(x.argv[i], now.argv[i], now.len[i]);
	}
	assert_memory_equal(c.argv[3], "uf1:3:9-3,4:data,6:a,b:\0c,", 26);
	/* a cut inside a part is refused (one after a whole pair is a shorter
	 * member), and so is garbage */
	for (size_t n = 0; n < c.len[3]; n++)
		if ((n == 0 || c.argv[3][n - 1] != ',') && uf_delay_decode("w", "q", c.argv[3], n, &x, &why) == 0)
			fail_msg("a cut at %zu decodes: %.*s", n, (int)n, c.argv[3]);
	const char *bad[] = {"",
	                     "uf2:3:9-3,4:data,1:x,",
	                     "uf1:0:,4:data,1:x,",
	                     "uf1:3:9-3,",              /* no fields */
	                     "uf1:3:9-3,4:data,",       /* a field without a value */
	                     "uf1:3:9-3,4:evil,1:x,",   /* an unknown field */
	                     "uf1:3:9-3,6:origin,1:x,", /* data not first */
	                     "uf1:3:9-3,4:data,01:x,",  /* a leading zero */
	                     "uf1:3:9-3,4:data,99999999999999999999:x,",
	                     "uf1:3:9-3,4:data,1:x;", /* no comma */
	                     "uf1:3:9-3,4:data,1:x,trailing"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		why = NULL;
		assert_int_equal(uf_delay_decode("w", "q", bad[i], strlen(bad[i]), &x, &why), -1);
		assert_non_null(why);
	}
	/* names are checked: the key is made here, never taken from the member */
	assert_int_equal(uf_delay_decode("w", "a:b", c.argv[3], c.len[3], &x, &why), -1);
	assert_int_equal(uf_delay_decode("w*", "q", c.argv[3], c.len[3], &x, &why), -1);
	uf_cmd_release(&c);
	/* the move script removes before it adds, and only adds what it removed */
	assert_non_null(strstr(uf_delay_move_script, "if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end"));
}

/* The one clock of event times is the epoch in ms (a dead letter's time). */
static void event_time_is_epoch_ms(void **state)
{
	(void)state;
	uint64_t t = uf_time_ms();
	assert_true(t > 1700000000000ull && t < 4102444800000ull);
}

static void unit_commands_are_what_units_send(void **state)
{
	(void)state;
	const char *want[] = {"auth", "xgroup|create", "xreadgroup", "xadd",    "xack",    "multi", "exec",  "get",
	                      "set",  "incrby",        "del",        "hincrby", "publish", "zadd",  "strlen"};
	assert_int_equal(UF_UNIT_NCOMMANDS, sizeof(want) / sizeof(*want));
	for (size_t i = 0; i < UF_UNIT_NCOMMANDS; i++)
		assert_string_equal(uf_unit_commands[i], want[i]);
}

/* The storage quota key's value (delivery.h): written by unifaasd, read by
 * the tender; a malformed one is not taken for "over". */
static void quota_value_round_trip(void **state)
{
	(void)state;
	char v[120], why[600];
	struct uf_quota_state q = {.stored = 1324789,
	                           .quota = 1048576,
	                           .retry_ms = 1200,
	                           .over_s = 7,
	                           .give_up_s = 300},
	                      r;
	size_t n = uf_quota_value(v, sizeof(v), &q);
	assert_string_equal(v, "1324789 1048576 1200 7 300");
	assert_int_equal(uf_quota_parse(v, n, &r), 0);
	assert_int_equal(r.stored, 1324789);
	assert_int_equal(r.quota, 1048576);
	assert_int_equal(r.retry_ms, 1200);
	assert_int_equal(r.over_s, 7);
	assert_int_equal(r.give_up_s, 300);
	const char *bad[] = {"",          "1 2",        "1 2 3",           "1 2 3 4",           "1 2 3 4 5 6",
	                     "a b c d e", "1 2 3 4 5x", "1 2 3600001 4 5", "1 2 3 4294967296 5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(uf_quota_parse(bad[i], strlen(bad[i]), &r), -1);
	/* the give-up rule: deferred below quota_give_up_s, dead-lettered from it on */
	assert_false(uf_quota_gives_up(&q));
	uf_quota_reason(why, sizeof(why), &q);
	assert_non_null(
	    strstr(why, "workflow over its storage quota (1324789 of 1048576 bytes, storage_quota) for 7 s: "));
	assert_non_null(strstr(why, "dead-lettered once it has been over for quota_give_up_s (300 s)"));
	assert_true(uf_reason_ok(why, strlen(why)));
	q.over_s = 300;
	assert_true(uf_quota_gives_up(&q));
	uf_quota_reason(why, sizeof(why), &q);
	assert_non_null(strstr(why, "for 300 s, quota_give_up_s is 300 s: its events that push or grow KV are "
	                            "dead-lettered"));
	assert_true(uf_reason_ok(why, strlen(why)));
}

/* A quota deferral (UF_SETTLE_WAIT) re-queues after its delay with the
 * attempt and deferrals unchanged, however many deferrals the event has:
 * UF_DEFER_MAX bounds uf_defer, not the quota. */
static void settle_wait_not_counted(void **state)
{
	(void)state;
	struct uf_delivery d = {.wf = "w", .queue = "q", .step = "s", .retries = 3};
	struct uf_entry e;
	struct uf_cmd c;
	uf_entry_init(&e, "1-1");
	e.deferrals = UF_DEFER_MAX;
	e.attempt = 1;
	int f = uf_settle_cmd(&d, &e, UF_SETTLE_WAIT, 1500, "over quota", 1000, &c);
	assert_int_equal(f, UF_SETTLED_LATER);
	assert_string_equal(c.num[2], "2500"); /* due at time + delay */
	assert_non_null(strstr(c.member, "7:attempt,1:1,"));
	assert_non_null(strstr(c.member, "9:deferrals,3:100,"));
	uf_cmd_release(&c);
	f = uf_settle_cmd(&d, &e, UF_SETTLE_DEFERRED, 1500, "later", 1000, &c);
	assert_true(f & UF_SETTLED_COUNTED); /* uf_defer past UF_DEFER_MAX: a failure */
	uf_cmd_release(&c);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* unifaasd.conf over unifaas.conf over the defaults, for every reader. */
static void config_precedence(void **state)
{
	(void)state;
	char dir[] = "/tmp/uf-config-XXXXXX", path[64], err[512];
	struct uf_config c;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/unifaas.conf", dir);
	write_file(path, "api_port=7400\nmax_units=8\nmqtt_url=mqtt://127.0.0.1:1999\n");
	assert_int_equal(uf_config_load(&c, dir, err, sizeof(err)), 0);
	assert_int_equal(c.api_port, 7400);
	assert_int_equal(c.max_units, 8);
	assert_int_equal(c.tick_ms, 100); /* a default */
	assert_int_equal(uf_config_mqtt_port(&c), 1999);
	snprintf(path, sizeof(path), "%s/unifaasd.conf", dir);
	write_file(path, "# mine\napi_port=7411\n");
	assert_int_equal(uf_config_load(&c, dir, err, sizeof(err)), 0);
	assert_int_equal(c.api_port, 7411);
	assert_int_equal(c.max_units, 8);
	write_file(path, "api_port=0\n");
	assert_int_equal(uf_config_load(&c, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unifaasd.conf:1: api_port: bad value '0'"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/unifaas.conf", dir);
	unlink(path);
	assert_int_equal(uf_config_load(&c, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unifaas.conf: No such file or directory"));
	rmdir(dir);
}

/* The node's limits (event_limits.h) in the config: limits.NAME=N, in
 * range, and an event's writes fit one commit chunk. */
static void config_limits(void **state)
{
	(void)state;
	char dir[] = "/tmp/uf-config-XXXXXX", path[64], err[512];
	struct uf_config c;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/unifaas.conf", dir);
	write_file(path, "api_port=7400\n");
	assert_int_equal(uf_config_load(&c, dir, err, sizeof(err)), 0);
	assert_int_equal(c.limits.v[UF_LIM_WRITES], 1000); /* the defaults */
	assert_int_equal(c.limits.v[UF_LIM_VALUE_BYTES], 1u << 20);
	snprintf(path, sizeof(path), "%s/unifaasd.conf", dir);
	write_file(path, "limits.writes_per_event=10\nlimits.value_bytes=100\n");
	assert_int_equal(uf_config_load(&c, dir, err, sizeof(err)), 0);
	assert_int_equal(c.limits.v[UF_LIM_WRITES], 10);
	assert_int_equal(c.limits.v[UF_LIM_VALUE_BYTES], 100);
	write_file(path, "limits.writes_per_event=0\n");
	assert_int_equal(uf_config_load(&c, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unifaasd.conf:1: limits.writes_per_event: bad value '0' (expected 1..1000000"));
	write_file(path, "limits.pushes=5\n");
	assert_int_equal(uf_config_load(&c, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown key 'limits.pushes'"));
	write_file(path, "limits.writes_per_event=5000\n"); /* more than a chunk (batch_commit_writes 1000) */
	assert_int_equal(uf_config_load(&c, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "limits.writes_per_event 5000 is more than limits.batch_commit_writes 1000"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/unifaas.conf", dir);
	unlink(path);
	rmdir(dir);
}

/* The reason an event past a limit fails with names the limit, its value
 * and where it was set; a name cut at 80 bytes stays valid UTF-8. */
static void limit_reasons(void **state)
{
	(void)state;
	struct uf_limits l;
	char buf[UF_REASON_MAX + 1], key[200];
	uf_limits_defaults(&l);
	uf_limit_reason(buf, sizeof(buf), &l, UF_LIM_WRITES, 43001, 0, NULL, 0);
	assert_string_equal(buf, "event staged 43001 writes (pushes, publishes and KV writes), over the limit 1000 "
	                         "(node limits.writes_per_event)");
	uint64_t fn[UF_LIM_EVENT_COUNT] = {[UF_LIM_VALUE_BYTES] = 10, [UF_LIM_WRITES] = 5000};
	uint32_t capped;
	struct uf_limits f;
	uf_limits_apply(&f, &l, fn, &capped);
	assert_int_equal(f.v[UF_LIM_VALUE_BYTES], 10);
	assert_int_equal(f.v[UF_LIM_WRITES], 1000); /* over the node's: capped */
	assert_int_equal(capped, 1u << UF_LIM_WRITES);
	uf_limit_reason(buf, sizeof(buf), &f, UF_LIM_VALUE_BYTES, 11, 0, "k", 1);
	assert_string_equal(buf, "KV value of 11 bytes for key 'k', over the limit 10 (manifest limits.value_bytes)");
	for (int i = 0; i < 100; i++)
		memcpy(key + 2 * i, "\xc3\xa9", 2); /* é: byte 80 ends one, 81 would cut the next */
	int n = uf_limit_reason(buf, sizeof(buf), &f, UF_LIM_EVENT_BYTES, 2, 1, key + 1, 199);
	assert_true(uf_reason_ok(buf, (size_t)n));
	assert_int_equal(uf_limit_find("commit_bytes", 12), UF_LIM_COMMIT_BYTES);
	assert_int_equal(uf_limit_find("commit", 6), -1);
	assert_int_equal(uf_limits_check(&l, buf, sizeof(buf)), 0);
}

/* MQTT topic rules (common/topic.h), against MQTT 3.1.1 section 4.7's examples. */
static int match(const char *f, const char *t)
{
	return uf_topic_match(f, strlen(f), t, strlen(t));
}

/* Two filters overlap when one topic name matches both: each pair is
 * checked both ways, and against a topic both match where they do. */
static int overlap(const char *a, const char *b)
{
	int ab = uf_topic_filters_overlap(a, strlen(a), b, strlen(b));
	assert_int_equal(ab, uf_topic_filters_overlap(b, strlen(b), a, strlen(a)));
	return ab;
}

static void topic_overlap(void **state)
{
	(void)state;
	assert_true(overlap("a/b", "a/b"));
	assert_true(overlap("a/+", "a/b"));
	assert_true(overlap("a/#", "a")); /* "a" matches both */
	assert_true(match("a/#", "a") && match("a", "a"));
	assert_true(overlap("#", "x/y"));
	assert_true(overlap("+/b", "a/+"));
	assert_true(match("+/b", "a/b") && match("a/+", "a/b"));
	assert_true(overlap("alarm/#", "alarm/+/x"));
	assert_true(overlap("+", "#"));
	assert_true(overlap("/+", "+/x"));
	assert_false(overlap("a/b", "a/c"));
	assert_false(overlap("a/+", "a/b/c"));
	assert_false(overlap("a/+", "a"));
	assert_false(overlap("dev/+/readings", "alarm/#"));
	assert_false(overlap("dev/+/readings", "burst/+"));
	assert_false(overlap("a/b/#", "a/c/#"));
	assert_false(overlap("ab", "a"));
	/* a leading wildcard never matches a topic starting with '$' */
	assert_false(overlap("#", "$SYS/#"));
	assert_false(overlap("+/broker", "$SYS/broker"));
	assert_true(overlap("$SYS/#", "$SYS/broker"));
	assert_true(overlap("a/#", "a/$x")); /* only the first level is special */
}

static void topic_rules(void **state)
{
	(void)state;
	const char *why = NULL;
	static const char *good_filters[] = {
	    "#", "+", "+/+", "/+", "a/#", "a/+/c", "sport/tennis/#", "device/sck/+/readings/raw", "a//b"};
	static const char *bad_filters[] = {"", "a#", "a/#/b", "a+", "+a/b", "a/b+", "sport/tennis#"};
	for (size_t i = 0; i < sizeof(good_filters) / sizeof(*good_filters); i++)
		assert_true(uf_topic_filter_ok(good_filters[i], strlen(good_filters[i]), NULL));
	for (size_t i = 0; i < sizeof(bad_filters) / sizeof(*bad_filters); i++) {
		assert_false(uf_topic_filter_ok(bad_filters[i], strlen(bad_filters[i]), &why));
		assert_non_null(why);
	}
	assert_true(uf_topic_name_ok("device/sck/abc/readings/raw", 27, NULL));
	assert_false(uf_topic_name_ok("a/+/b", 5, &why));
	assert_string_equal(why, "must not contain the wildcards '+' or '#'");
	assert_false(uf_topic_name_ok("a\0b", 3, NULL));
	assert_false(uf_topic_name_ok("\xff", 1, &why));
	assert_true(match("sport/tennis/player1/#", "sport/tennis/player1"));
	assert_true(match("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
	assert_true(match("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
	assert_true(match("sport/#", "sport"));
	assert_true(match("#", "a/b/c"));
	assert_true(match("sport/tennis/+", "sport/tennis/player1"));
	assert_false(match("sport/tennis/+", "sport/tennis/player1/ranking"));
	assert_false(match("sport/+", "sport"));
	assert_true(match("sport/+", "sport/"));
	assert_true(match("+/+", "/finance"));
	assert_true(match("/+", "/finance"));
	assert_false(match("+", "/finance"));
	assert_false(match("#", "$SYS/broker"));
	assert_false(match("+/broker", "$SYS/broker"));
	assert_true(match("$SYS/#", "$SYS/broker"));
	assert_true(match("device/sck/+/readings/raw", "device/sck/tok123/readings/raw"));
	assert_false(match("device/sck/+/readings/raw", "device/sck/tok123/readings"));
	assert_false(match("a/b", "a/bc"));
	assert_false(match("a/bc", "a/b"));
	assert_true(match("a//b", "a//b"));
	assert_false(match("a/b/c", "a/b"));
}

/* Edge fields travel through a re-queue; a dead letter drops the reply token. */
/* The invoke reply message and its PUBLISH, and the outbox XADD (delivery.h). */
static void reply_and_outbox_commands(void **state)
{
	(void)state;
	char buf[64];
	size_t n = uf_reply_msg(NULL, 0, "tok", 3, UF_REPLY_OK, "{\"a\":1}", 7);
	assert_int_equal(n, 3 + 1 + 2 + 1 + 7); /* asked with no room: only the length */
	assert_int_equal(uf_reply_msg(buf, sizeof(buf), "tok", 3, UF_REPLY_OK, "{\"a\":1}", 7), n);
	assert_memory_equal(buf, "tok\nok\n{\"a\":1}", n);
	assert_int_equal(uf_reply_msg(buf, sizeof(buf), "t", 1, UF_REPLY_FAILED, "", 0), 9);
	assert_memory_equal(buf, "t\nfailed\n", 9);
	struct uf_cmd c;
	assert_int_equal(uf_reply_cmd("wf", buf, 9, &c), 0);
	assert_int_equal(c.argc, 3);
	assert_string_equal(c.argv[0], "PUBLISH");
	assert_string_equal(c.argv[1], "uf:reply:wf");
	assert_int_equal(c.len[2], 9);
	char wf[sizeof(c.key)];
	memset(wf, 'w', sizeof(wf) - 1);
	wf[sizeof(wf) - 1] = 0;
	assert_int_equal(uf_reply_cmd(wf, buf, 9, &c), -1); /* the channel does not fit */
	struct uf_delivery d = {.wf = "wf", .queue = "q", .step = "st"};
	assert_int_equal(uf_outbox_cmd(&d, "a/b", 3, 1, "on\0x", 4, "17-0", 4, &c), 0);
	const char *want[] = {"XADD", "uf:out:mqtt:wf", "*",     "step",  "st",  "topic", "a/b", "qos",
	                      "1",    "data",           "on\0x", "event", "17-0"};
	assert_int_equal(c.argc, 13);
	for (int i = 0; i < 13; i++) {
		size_t len = i == 10 ? 4 : strlen(want[i]);
		assert_int_equal(c.len[i], len);
		assert_memory_equal(c.argv[i], want[i], len);
	}
	d.wf = wf; /* a workflow's outbox key that does not fit: refused, not cut */
	assert_int_equal(uf_outbox_cmd(&d, "a/b", 3, 1, "x", 1, "17-0", 4, &c), -1);
	char key[32];
	assert_int_equal(uf_outbox_key(key, sizeof(key), "co2"), 15);
	assert_string_equal(key, "uf:out:mqtt:co2");
	assert_int_equal(uf_outbox_key(key, 15, "co2"), -1);
}

static void edge_fields_kept(void **state)
{
	(void)state;
	struct uf_entry e;
	uf_entry_init(&e, "1-0");
	uf_entry_field(&e, "data", 4, "x", 1);
	uf_entry_field(&e, "src", 3, "device/sck/t/readings/raw", 25);
	uf_entry_field(&e, "attrs", 5, "{}", 2);
	uf_entry_field(&e, "reply", 5, "tok", 3);
	struct uf_delivery d = {.wf = "w", .queue = "q", .step = "s", .retries = 1};
	struct uf_cmd c;
	assert_int_equal(uf_settle_cmd(&d, &e, 1, 0, "boom", 5, &c), UF_SETTLED_COUNTED);
	int src = 0, reply = 0;
	for (int i = 0; i + 1 < c.argc; i++) {
		src |= c.len[i] == 3 && !memcmp(c.argv[i], "src", 3) && c.len[i + 1] == 25;
		reply |= c.len[i] == 5 && !memcmp(c.argv[i], "reply", 5);
	}
	assert_true(src && reply);
	e.attempt = 1;
	assert_int_equal(uf_settle_cmd(&d, &e, 1, 0, "boom", 5, &c), UF_SETTLED_DEAD | UF_SETTLED_COUNTED);
	src = reply = 0;
	for (int i = 0; i + 1 < c.argc; i++) {
		src |= c.len[i] == 3 && !memcmp(c.argv[i], "src", 3);
		reply |= c.len[i] == 5 && !memcmp(c.argv[i], "reply", 5);
	}
	assert_true(src && !reply);
	assert_int_equal(uf_ingress_cmd("w", "q", 1, "d", 1, "/readings", 9, NULL, 0, NULL, 0, &c), 0);
	assert_int_equal(c.argc, 7);
	assert_memory_equal(c.argv[5], "src", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(names_at_their_limits),
	    cmocka_unit_test(variable_names),
	    cmocka_unit_test(keys_are_utf8_without_nul),
	    cmocka_unit_test(rule_words_match_the_limits),
	    cmocka_unit_test(int64_as_redis_reads_it),
	    cmocka_unit_test(entry_fields_parsed_once),
	    cmocka_unit_test(settle_commands),
	    cmocka_unit_test(settle_eval_commands),
	    cmocka_unit_test(settle_deferred),
	    cmocka_unit_test(settle_permanent),
	    cmocka_unit_test(drain_reason),
	    cmocka_unit_test(settle_retry_delay),
	    cmocka_unit_test(delay_member_encoding),
	    cmocka_unit_test(event_time_is_epoch_ms),
	    cmocka_unit_test(unit_commands_are_what_units_send),
	    cmocka_unit_test(quota_value_round_trip),
	    cmocka_unit_test(settle_wait_not_counted),
	    cmocka_unit_test(config_precedence),
	    cmocka_unit_test(config_limits),
	    cmocka_unit_test(limit_reasons),
	    cmocka_unit_test(topic_rules),
	    cmocka_unit_test(reasons_checked_and_cleaned),
	    cmocka_unit_test(topic_overlap),
	    cmocka_unit_test(edge_fields_kept),
	    cmocka_unit_test(reply_and_outbox_commands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
