/*
 * event_limits.c - the per-event and per-commit limits (event_limits.h): their table,
 * the consistency rule between them, and the reason text an event over
 * one fails with.  Pure: no I/O, no global state but the constant table;
 * linked into unifaasd, the CLI, the tender (musl) and libuf.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "event_limits.h"
#include "rules.h"
#include "uf_abi.h"

_Static_assert(UF_LIM_VALUE_BYTES_MAX == UF_VALUE_MAX, "a value limit past the ABI's");

const struct uf_limit_info uf_limit_info[UF_LIM_COUNT] = {
    [UF_LIM_VALUE_BYTES] = {"value_bytes", 1u << 20, 1, UF_LIM_VALUE_BYTES_MAX, 1, "bytes of one KV value"},
    [UF_LIM_EVENT_BYTES] = {"event_bytes", 1u << 20, 1, UF_LIM_EVENT_BYTES_MAX, 1,
                            "bytes of one event's data (pushed, published, or at ingress)"},
    [UF_LIM_WRITES] = {"writes_per_event", 1000, 1, UF_LIM_WRITES_MAX, 0,
                       "writes one event may stage: pushes, MQTT publishes and KV writes together"},
    [UF_LIM_COMMIT_BYTES] = {"commit_bytes", 4u << 20, 1, UF_LIM_COMMIT_BYTES_MAX, 1,
                             "bytes one event's commit may write (data, values, keys, queue names, topics)"},
    [UF_LIM_BATCH_BYTES] = {"batch_commit_bytes", 4u << 20, 1, 1u << 30, 1,
                            "bytes of one MULTI/EXEC of a batch's commit (node only)"},
    [UF_LIM_BATCH_WRITES] = {"batch_commit_writes", 1000, 1, 10000000, 0,
                             "writes of one MULTI/EXEC of a batch's commit (node only)"},
};

void uf_limits_defaults(struct uf_limits *l)
{
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < UF_LIM_COUNT; i++)
		l->v[i] = uf_limit_info[i].def;
}

int uf_limit_find(const char *name, size_t n)
{
	for (int i = 0; i < UF_LIM_COUNT; i++)
		if (strlen(uf_limit_info[i].name) == n && memcmp(uf_limit_info[i].name, name, n) == 0)
			return i;
	return -1;
}

/* a must be at most b: 0, or -1 with why */
static int at_most(const struct uf_limits *l, enum uf_limit a, enum uf_limit b, char *why, size_t whylen)
{
	if (l->v[a] <= l->v[b])
		return 0;
	snprintf(why, whylen, "limits.%s %llu is more than limits.%s %llu (one event's writes must fit one commit)",
	         uf_limit_info[a].name, (unsigned long long)l->v[a], uf_limit_info[b].name,
	         (unsigned long long)l->v[b]);
	return -1;
}

int uf_limits_check(const struct uf_limits *l, char *why, size_t whylen)
{
	for (int i = 0; i < UF_LIM_COUNT; i++) {
		const struct uf_limit_info *k = &uf_limit_info[i];
		if (l->v[i] < k->min || l->v[i] > k->max) {
			snprintf(why, whylen, "limits.%s %llu is out of range (%llu..%llu)", k->name,
			         (unsigned long long)l->v[i], (unsigned long long)k->min, (unsigned long long)k->max);
			return -1;
		}
	}
	if (at_most(l, UF_LIM_WRITES, UF_LIM_BATCH_WRITES, why, whylen) < 0 ||
	    at_most(l, UF_LIM_COMMIT_BYTES, UF_LIM_BATCH_BYTES, why, whylen) < 0 ||
	    at_most(l, UF_LIM_VALUE_BYTES, UF_LIM_COMMIT_BYTES, why, whylen) < 0 ||
	    at_most(l, UF_LIM_EVENT_BYTES, UF_LIM_COMMIT_BYTES, why, whylen) < 0)
		return -1;
	return 0;
}

void uf_limits_apply(struct uf_limits *out, const struct uf_limits *node, const uint64_t fn[UF_LIM_EVENT_COUNT],
                     uint32_t *capped)
{
	*out = *node;
	out->from_manifest = 0;
	if (capped)
		*capped = 0;
	for (int i = 0; i < UF_LIM_EVENT_COUNT; i++) {
		if (!fn[i])
			continue;
		if (fn[i] > node->v[i] && capped)
			*capped |= 1u << i;
		if (fn[i] <= node->v[i]) {
			out->v[i] = fn[i];
			out->from_manifest |= 1u << i;
		}
	}
}

int uf_limit_where(char *buf, size_t len, const struct uf_limits *l, enum uf_limit which)
{
	return snprintf(buf, len, "%s limits.%s", l->from_manifest & (1u << which) ? "manifest" : "node",
	                uf_limit_info[which].name);
}

int uf_limit_reason(char *buf, size_t len, const struct uf_limits *l, enum uf_limit which, uint64_t got, int published,
                    const char *name, size_t n)
{
	char where[64];
	uf_limit_where(where, sizeof(where), l, which);
	int shown = (int)(n > 80 ? 80 : n), o;
	unsigned long long g = (unsigned long long)got, lim = (unsigned long long)l->v[which];
	switch (which) {
	case UF_LIM_VALUE_BYTES:
		o = snprintf(buf, len, "KV value of %llu bytes for key '%.*s', over the limit %llu (%s)", g, shown,
		             name ? name : "", lim, where);
		break;
	case UF_LIM_EVENT_BYTES:
		o = snprintf(buf, len, "event of %llu bytes %s '%.*s', over the limit %llu (%s)", g,
		             published ? "published on topic" : "pushed to queue", shown, name ? name : "", lim, where);
		break;
	case UF_LIM_WRITES:
		o = snprintf(buf, len,
		             "event staged %llu writes (pushes, publishes and KV writes), over the limit %llu (%s)", g,
		             lim, where);
		break;
	default:
		o = snprintf(buf, len, "event's commit would write %llu bytes, over the limit %llu (%s)", g, lim,
		             where);
		break;
	}
	if (o < 0)
		return 0;
	/* a reason is one line of UTF-8 (rules.h): the key was cut at 80 bytes */
	size_t end = (size_t)o < len ? (size_t)o : len ? len - 1 : 0;
	end = uf_reason_clean(buf, end);
	if (end < len)
		buf[end] = '\0';
	return (int)end;
}
