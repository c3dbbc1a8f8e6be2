/*
 * test_pwrate.c - unit tests of the ingress rate's arithmetic
 * (daemon/pwrate.h, used by pushwin.c): each workflow's token bucket
 * while several push - the rate by share, refill, the burst cap, a
 * workflow alone not held, share changes, and no overflow with the
 * largest ingress_rate or a long idle time.  The I/O around it (turns,
 * the timer) is tested end to end by tests/integration/ingress_rate.sh
 * and ingress_fair.sh.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pwrate.h"

#define NEAR(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-6 * (fabs((double)(b)) + 1))

/* a workflow alone, or no ingress_rate, is not held: its bucket is full */
static void alone_not_held(void **state)
{
	(void)state;
	assert_true(pw_rate(1000, 1, 1, 1) == 0);
	assert_true(pw_rate(0, 1, 3, 3) == 0);
	assert_true(pw_rate(1000, 1, 2, 0) == 0);
	/* not held: full at ingress_rate's burst (100 ms of 1000/s), whatever it held */
	NEAR(pw_refill(0, 0, 1000, 0), 100);
	NEAR(pw_refill(-3, 0, 1000, 5), 100);
}

/* ingress_rate * share / the active shares */
static void rate_by_share(void **state)
{
	(void)state;
	NEAR(pw_rate(1000, 1, 2, 2), 500);
	NEAR(pw_rate(1000, 3, 2, 4), 750);
	NEAR(pw_rate(1000, 1, 2, 4), 250);
	/* a third workflow joins: the others' rates drop */
	NEAR(pw_rate(1000, 3, 3, 5), 600);
	NEAR(pw_rate(1000, 1, 3, 5), 200);
}

/* tokens come at the rate, up to PW_BURST_MS of it, never fewer than one */
static void refill_and_cap(void **state)
{
	(void)state;
	NEAR(pw_refill(0, 500, 1000, 10), 5);
	NEAR(pw_refill(2.5, 500, 1000, 1), 3);
	NEAR(pw_refill(0, 500, 1000, 1000), 50); /* capped: 100 ms of 500/s */
	NEAR(pw_burst(500), 50);
	NEAR(pw_burst(5), 1); /* a slow flow may still send one */
	NEAR(pw_refill(0, 5, 1000, 10000), 1);
	NEAR(pw_refill(0.5, 5, 1000, 0), 0.5);
	/* the next token: half a token at 500/s is 1 ms away */
	NEAR(pw_token_due_ms(0.5, 500), 1);
	NEAR(pw_token_due_ms(0, 5), 200);
}

/* a share change caps a bucket filled at the old rate to the new size */
static void share_change_caps(void **state)
{
	(void)state;
	double t = pw_refill(0, 0, 1000, 0); /* alone: 100 */
	double r = pw_rate(1000, 1, 2, 4);   /* another with 3 shares comes: 250/s */
	t = pw_refill(t, r, 1000, 0);
	NEAR(t, 25);
}

/* Two flows of shares 1 and 3 push as fast as their buckets let them for
 * 10 s, a millisecond a step: they send about 1:3 of ingress_rate. */
static void simulated_split(void **state)
{
	(void)state;
	const uint32_t share[2] = {1, 3};
	double tokens[2] = {1, 1};
	uint64_t sent[2] = {0, 0};
	for (int ms = 0; ms < 10000; ms++)
		for (int i = 0; i < 2; i++) {
			tokens[i] = pw_refill(tokens[i], pw_rate(1000, share[i], 2, 4), 1000, 1);
			while (tokens[i] >= 1)
				tokens[i] -= 1, sent[i]++;
		}
	assert_in_range(sent[0], 2490, 2510);
	assert_in_range(sent[1], 7490, 7510);
}

/* the largest ingress_rate (2^32), the largest shares and a long idle
 * time stay finite and within the cap */
static void no_overflow(void **state)
{
	(void)state;
	uint64_t max = UINT64_C(1) << 32;
	double r = pw_rate(max, UINT32_MAX, 2, (uint64_t)UINT32_MAX * 2);
	NEAR(r, (double)max / 2);
	double t = pw_refill(0, r, max, UINT64_MAX);
	assert_true(isfinite(t));
	NEAR(t, pw_burst(r));
	r = pw_rate(1, 1, 1000, (uint64_t)UINT32_MAX * 1000); /* a tiny rate */
	assert_true(r > 0);
	t = pw_refill(0, r, 1, UINT64_MAX);
	NEAR(t, 1);
	assert_true(isfinite(pw_token_due_ms(0, r)));
	assert_true(pw_token_due_ms(0, r) > 0);
	NEAR(pw_refill(0, 0, max, UINT64_MAX), pw_burst((double)max));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(alone_not_held),    cmocka_unit_test(rate_by_share),   cmocka_unit_test(refill_and_cap),
	    cmocka_unit_test(share_change_caps), cmocka_unit_test(simulated_split), cmocka_unit_test(no_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
