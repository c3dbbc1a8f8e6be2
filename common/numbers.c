/*
 * numbers.c - the decimal integer format of KV counters (rules.h): what
 * Redis INCRBY accepts as a stored value or an increment, and so what the
 * guest runtime, `unifaas run`'s local store, the daemon and the CLI
 * accept.  Pure; linked into the tender, unifaasd, the CLI and libuf.
 */
#include <stdint.h>

#include "rules.h"

int uf_int64_parse(const char *s, size_t n, int64_t *out)
{
	size_t i = n > 0 && s[0] == '-' ? 1 : 0;
	if (n == i || n - i > 19 || (s[i] == '0' && n != 1))
		return -1;
	uint64_t v = 0, lim = i ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (size_t j = i; j < n; j++) {
		if (s[j] < '0' || s[j] > '9' || v > (lim - (uint64_t)(s[j] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[j] - '0');
	}
	*out = i ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}
