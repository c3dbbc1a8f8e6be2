/*
 * topic.c - MQTT topic names and filters: validity and matching (topic.h).
 * Pure functions, no I/O; built with musl for the tender and with the host
 * compiler for unifaasd and the CLI.
 */
#include <string.h>

#include "rules.h"
#include "topic.h"

static int common_ok(const char *s, size_t n, const char **why)
{
	if (n == 0 || n > UF_TOPIC_MAX) {
		*why = "must be 1..65535 bytes";
		return 0;
	}
	if (memchr(s, 0, n) || !uf_utf8_valid(s, n)) {
		*why = "must be UTF-8 without NUL";
		return 0;
	}
	return 1;
}

int uf_topic_name_ok(const char *s, size_t n, const char **why)
{
	const char *w = NULL;
	int ok = common_ok(s, n, &w);
	if (ok && (memchr(s, '+', n) || memchr(s, '#', n))) {
		w = "must not contain the wildcards '+' or '#'";
		ok = 0;
	}
	if (why)
		*why = w;
	return ok;
}

int uf_topic_filter_ok(const char *s, size_t n, const char **why)
{
	const char *w = NULL;
	int ok = common_ok(s, n, &w);
	for (size_t i = 0; ok && i < n; i++) {
		int starts = i == 0 || s[i - 1] == '/', ends = i + 1 == n || s[i + 1] == '/';
		if ((s[i] == '+' && !(starts && ends)) || (s[i] == '#' && !(starts && i + 1 == n))) {
			w = "'+' and '#' must fill a whole level, '#' only the last";
			ok = 0;
		}
	}
	if (why)
		*why = w;
	return ok;
}

int uf_topic_match(const char *f, size_t flen, const char *t, size_t tlen)
{
	if (tlen && t[0] == '$' && flen && (f[0] == '+' || f[0] == '#'))
		return 0; /* $SYS/... is never matched by a leading wildcard */
	size_t i = 0, j = 0;
	for (;;) {
		/* one level of each: f[i..fe), t[j..te) */
		size_t fe = i, te = j;
		while (fe < flen && f[fe] != '/')
			fe++;
		while (te < tlen && t[te] != '/')
			te++;
		if (fe - i == 1 && f[i] == '#')
			return 1; /* the rest, including the parent level itself */
		if (j > tlen)
			return 0; /* the topic ended; the filter goes on */
		if (!(fe - i == 1 && f[i] == '+') && (fe - i != te - j || memcmp(f + i, t + j, fe - i)))
			return 0;
		if (fe == flen || te == tlen) {
			if (fe == flen && te == tlen)
				return 1;
			/* "a/#" matches "a": the filter's next level is a lone '#' */
			return te == tlen && fe + 2 == flen && f[fe + 1] == '#';
		}
		i = fe + 1;
		j = te + 1;
	}
}

/* One level of s[*i..) (ended when *i > n): its end. */
static size_t level_end(const char *s, size_t n, size_t i)
{
	while (i < n && s[i] != '/')
		i++;
	return i;
}

static int is_level(const char *s, size_t i, size_t e, char c)
{
	return e - i == 1 && s[i] == c;
}

int uf_topic_filters_overlap(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, j = 0;
	for (int level = 0;; level++) {
		int aend = i > alen, bend = j > blen;
		size_t ae = aend ? i : level_end(a, alen, i), be = bend ? j : level_end(b, blen, j);
		int ahash = !aend && is_level(a, i, ae, '#'), bhash = !bend && is_level(b, j, be, '#');
		int aplus = !aend && is_level(a, i, ae, '+'), bplus = !bend && is_level(b, j, be, '+');
		/* a leading wildcard never matches a topic starting with '$' */
		int adollar = level == 0 && !aend && ae > i && a[i] == '$';
		int bdollar = level == 0 && !bend && be > j && b[j] == '$';
		if (aend && bend)
			return 1;
		if (ahash || bhash) /* the rest, and the parent level ("a/#" matches "a") */
			return !((ahash || aplus) && bdollar) && !((bhash || bplus) && adollar);
		if (aend || bend)
			return 0;
		if ((aplus && bdollar) || (bplus && adollar))
			return 0;
		if (!aplus && !bplus && (ae - i != be - j || memcmp(a + i, b + j, ae - i)))
			return 0;
		i = ae + 1;
		j = be + 1;
	}
}
