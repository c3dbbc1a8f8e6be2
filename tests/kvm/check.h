/*
 * check.h - the one PASS/FAIL line of the tests/kvm programs: define
 * KVM_TEST (the test's name, e.g. "mmu-aarch64") before including it.
 */
#ifndef UF_TESTS_KVM_CHECK_H
#define UF_TESTS_KVM_CHECK_H

#include <stdio.h>

static int failed;

static void check(int ok, const char *what, unsigned long long got, unsigned long long want)
{
	printf("%s " KVM_TEST " %s (got 0x%llx, want 0x%llx)\n", ok ? "PASS" : "FAIL", what, got, want);
	failed |= !ok;
}

#endif
