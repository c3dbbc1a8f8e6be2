/*
 * fuzz_sck.c - libFuzzer target of the Smart Citizen Kit parsers
 * (functions/lib/sck.c).  Each input is parsed as raw, then as JSON, then
 * as a topic.  Invariants: no crash, leak or undefined behaviour; an
 * accepted message has 1..SCK_MAX_GROUPS groups, each with a timestamp
 * and at most SCK_MAX_SENSORS finite values (raw: one group, a 20-byte
 * timestamp); a refused one says "at byte N: " with N within the input
 * (or just past it); an accepted topic's token is 1..63 bytes.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sck.h"

static struct sck_msg m;

static void check(enum sck_format f, const char *s, size_t len)
{
	char err[200] = "";
	int rc = sck_parse(f, s, len, &m, err, sizeof(err));
	if (rc == SCK_ERROR) {
		char *end;
		if (strncmp(err, "at byte ", 8) != 0 || strtoul(err + 8, &end, 10) > len + 1 || strncmp(end, ": ", 2))
			abort();
		return;
	}
	if (rc == SCK_EMPTY) {
		if (f != SCK_JSON || m.ngroups != 0)
			abort();
		return;
	}
	if (rc != SCK_OK || m.ngroups < 1 || m.ngroups > SCK_MAX_GROUPS || (f == SCK_RAW && m.ngroups != 1))
		abort();
	for (int g = 0; g < m.ngroups; g++) {
		size_t tl = strnlen(m.g[g].time, SCK_TIME_MAX);
		if (tl == 0 || tl == SCK_TIME_MAX || (f == SCK_RAW && tl != 20))
			abort();
		if (m.g[g].n < 0 || m.g[g].n > SCK_MAX_SENSORS)
			abort();
		for (int i = 0; i < m.g[g].n; i++)
			if (!isfinite(m.g[g].s[i].value) || m.g[g].s[i].id < 0)
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	check(SCK_RAW, s, size);
	check(SCK_JSON, s, size);
	char tok[SCK_TOKEN_MAX], err[200];
	enum sck_format f;
	if (sck_topic(s, size, tok, &f, err, sizeof(err)) == 0 && (tok[0] == '\0' || strlen(tok) >= SCK_TOKEN_MAX))
		abort();
	return 0;
}
