/*
 * test_secret.c - random credentials (common/secret.c): they come from
 * getrandom(2) or not at all.  This file defines getrandom itself, so the
 * executable's definition is the one secret.c calls: each test makes the
 * kernel's answer fail, come short or be interrupted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "secret.h"

static int fail_with;  /* errno of every call, 0: none */
static int interrupts; /* calls that fail with EINTR first */
static size_t at_most; /* bytes per call, 0: all asked */
static int calls;

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
	calls++;
	if (fail_with) {
		errno = fail_with;
		return -1;
	}
	if (interrupts) {
		interrupts--;
		errno = EINTR;
		return -1;
	}
	if (at_most && len > at_most)
		len = at_most;
	return syscall(SYS_getrandom, buf, len, flags);
}

static int reset(void **state)
{
	(void)state;
	fail_with = interrupts = calls = 0;
	at_most = 0;
	return 0;
}

static void hex_of_the_size_asked(void **state)
{
	(void)state;
	char a[65], b[65];
	assert_int_equal(uf_random_hex(a, sizeof(a), 32), 0);
	assert_int_equal(uf_random_hex(b, sizeof(b), 32), 0);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	assert_string_not_equal(a, b);
}

static void failure_is_an_error_never_a_weaker_secret(void **state)
{
	(void)state;
	char out[65] = "previous";
	int errs[] = {ENOSYS, EPERM, EAGAIN};
	for (size_t i = 0; i < sizeof(errs) / sizeof(*errs); i++) {
		fail_with = errs[i];
		errno = 0;
		assert_int_equal(uf_random_hex(out, sizeof(out), 32), -1);
		assert_int_equal(errno, errs[i]);
		assert_string_equal(out, ""); /* nothing half-made is left to use */
	}
}

static void interrupted_and_short_reads_are_completed(void **state)
{
	(void)state;
	char out[129];
	interrupts = 2;
	at_most = 5;
	assert_int_equal(uf_random_hex(out, sizeof(out), 64), 0);
	assert_int_equal(strlen(out), 128);
	assert_int_equal(calls, 2 + 13); /* 64 bytes, 5 at a time */
}

static void sizes_out_of_range_refused(void **state)
{
	(void)state;
	char out[200];
	assert_int_equal(uf_random_hex(out, 64, 32), -1); /* no room for the NUL */
	assert_int_equal(errno, EINVAL);
	assert_int_equal(uf_random_hex(out, sizeof(out), 0), -1);
	assert_int_equal(uf_random_hex(out, sizeof(out), 65), -1);
	assert_int_equal(calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(hex_of_the_size_asked, reset),
	    cmocka_unit_test_setup(failure_is_an_error_never_a_weaker_secret, reset),
	    cmocka_unit_test_setup(interrupted_and_short_reads_are_completed, reset),
	    cmocka_unit_test_setup(sizes_out_of_range_refused, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
