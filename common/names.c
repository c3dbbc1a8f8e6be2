/*
 * names.c - name, key and text rules shared by tender, daemon, CLI and the
 * guest runtime (declared in rules.h; see there for the invariants).
 */
#include <stdint.h>
#include <string.h>

#include "launch.h"
#include "rules.h"

_Static_assert(UF_VAR_MAX == UF_ENV_NAME_MAX, "a variable name is an environment name");

size_t uf_utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t min, cp;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2, min = 0x80, cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, min = 0x800, cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, min = 0x10000, cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int uf_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t l = uf_utf8_seq(p + i, n - i);
		if (l == 0)
			return 0;
		i += l;
	}
	return 1;
}

int uf_kv_key_ok(const char *key, size_t n)
{
	return n > 0 && n <= UF_KEY_MAX && !memchr(key, 0, n) && uf_utf8_valid(key, n);
}

int uf_reason_ok(const char *s, size_t n)
{
	if (n == 0 || n > UF_REASON_MAX || !uf_utf8_valid(s, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

size_t uf_reason_clean(char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		const unsigned char *u = (const unsigned char *)s + i;
		size_t k = uf_utf8_seq(u, n - i);
		if (k == 0 || *u < 0x20 || *u == 0x7f) {
			s[i] = '?';
			k = 1;
		}
		if (i + k > UF_REASON_MAX)
			break;
		i += k;
	}
	return i;
}

static int var_name_ok(const char *s, size_t n)
{
	int ok = n > 0 && n <= UF_VAR_MAX && !(s[0] >= '0' && s[0] <= '9');
	for (size_t i = 0; ok && i < n; i++)
		ok = (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		     s[i] == '_';
	return ok;
}

int uf_name_ok(enum uf_name_kind kind, const char *s, size_t n)
{
	switch (kind) {
	case UF_NAME_WORKFLOW:
	case UF_NAME_STEP: /* path components in the state dir: never . or .. */
	case UF_NAME_DEVICE:
		return n <= UF_NAME_MAX && uf_queue_name_ok(s, n) &&
		       !(s[0] == '.' && (n == 1 || (n == 2 && s[1] == '.')));
	case UF_NAME_QUEUE:
		return uf_queue_name_ok(s, n);
	case UF_NAME_KEY:
		return uf_kv_key_ok(s, n);
	case UF_NAME_VAR:
		return var_name_ok(s, n);
	}
	return 0;
}

const char *uf_name_rule(enum uf_name_kind kind)
{
	switch (kind) {
	case UF_NAME_WORKFLOW:
	case UF_NAME_STEP:
	case UF_NAME_DEVICE:
		return UF_NAME_RULE_SHORT;
	case UF_NAME_QUEUE:
		return UF_NAME_RULE_QUEUE;
	case UF_NAME_KEY:
		return UF_NAME_RULE_KEY;
	case UF_NAME_VAR:
		return UF_NAME_RULE_VAR;
	}
	return "";
}

const char *uf_name_what(enum uf_name_kind kind)
{
	static const char *const what[] = {[UF_NAME_WORKFLOW] = "workflow name", [UF_NAME_STEP] = "step name",
	                                   [UF_NAME_QUEUE] = "queue name",       [UF_NAME_KEY] = "KV key",
	                                   [UF_NAME_DEVICE] = "device name",     [UF_NAME_VAR] = "variable name"};
	return (unsigned)kind < sizeof(what) / sizeof(*what) ? what[kind] : "name";
}
