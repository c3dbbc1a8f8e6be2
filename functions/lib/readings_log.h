/*
 * readings_log.h - the CO2 workflow's log of readings in KV: its key names,
 * its slot format and its retention, shared by the function that writes it
 * (logger.c) and the one that reads it back (log_query.c).  Header-only
 * (static inline), like flatjson.h; each image is built with lib/sck.c for
 * the device-token rule.  docs/examples.md documents the keys for users.
 *
 * Keys (in the workflow's KV; <dev> a kit's token, <id> a sensor id):
 *   log:devices          the devices with readings, a JSON array ["kit1",...]
 *   log:<dev>:sensors    that device's sensors, a JSON array [158,55,...]
 *   log:<dev>:<id>:n     readings of that sensor logged so far (k = 1, 2, ...)
 *   log:<dev>:<id>:<s>   slot s = (k-1) mod LOG_KEEP: {"n":k,"time":T,"value":V}
 *   log:<dev>:<id>:t:<T> k: the reading at time T is logged (idempotency)
 *   log:keep             the LOG_KEEP the logger writes with
 * Invariants: a ring holds at most LOG_KEEP slots and LOG_KEEP time markers
 * (a marker is deleted when its slot is overwritten), so a device's sensor
 * keeps at most 2 * LOG_KEEP + 1 keys; reading k is in slot (k-1) mod keep
 * and names its k, so a reader checks what it finds (a slot written under
 * another LOG_KEEP does not pass for reading k).
 */
#ifndef UF_FUNCTIONS_READINGS_LOG_H
#define UF_FUNCTIONS_READINGS_LOG_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unifaas.h>

#include "sck.h"

#define LOG_KEEP_DEFAULT        1440 /* a day of readings at the kit's one a minute */
#define LOG_KEEP_MAX            1000000
#define LOG_MAX_DEVICES_DEFAULT 64
#define LOG_MAX_DEVICES_MAX     10000
#define LOG_MAX_SENSORS         SCK_MAX_SENSORS /* per device */
#define LOG_SENSOR_MAX          999999999L      /* sensor ids are 0..this */
#define LOG_KEY_DEVICES         "log:devices"
#define LOG_KEY_KEEP            "log:keep"
#define LOG_KEY_MAX             (8 + SCK_TOKEN_MAX + 12 + SCK_TIME_MAX)

/* s[0..n) is a device token (sck.h's rule: 1..63 of [A-Za-z0-9._-]). */
static inline int log_device_ok(const char *s, size_t n)
{
	return n > 0 && sck_token_len(s, n) == n;
}

/* s[0..n) is a reading's time as the logger keeps it: 1..39 of [0-9A-Za-z:.+-] (ISO 8601). */
static inline int log_time_ok(const char *s, size_t n)
{
	if (n < 1 || n >= SCK_TIME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ:.+-", s[i]))
			return 0;
	return 1;
}

static inline void log_key_sensors(char *k, const char *dev)
{
	snprintf(k, LOG_KEY_MAX, "log:%s:sensors", dev);
}
static inline void log_key_count(char *k, const char *dev, long id)
{
	snprintf(k, LOG_KEY_MAX, "log:%s:%ld:n", dev, id);
}
static inline void log_key_slot(char *k, const char *dev, long id, long long slot)
{
	snprintf(k, LOG_KEY_MAX, "log:%s:%ld:%lld", dev, id, slot);
}
static inline void log_key_seen(char *k, const char *dev, long id, const char *time)
{
	snprintf(k, LOG_KEY_MAX, "log:%s:%ld:t:%s", dev, id, time);
}

/* A slot's value for reading k; its length (< cap for cap >= 96). */
static inline int log_slot_format(char *out, size_t cap, long long k, const char *time, double value)
{
	return snprintf(out, cap, "{\"n\":%lld,\"time\":\"%s\",\"value\":%.10g}", k, time, value);
}

/*
 * Reads a slot's value s (NUL-terminated) into its k, time (cap
 * SCK_TIME_MAX) and the value's text as written (cap 32): 0, or -1 when it
 * is not what log_slot_format writes.
 */
static inline int log_slot_parse(const char *s, long long *k, char *time, char *value)
{
	int tn, vn;
	if (sscanf(s, "{\"n\":%lld,\"time\":\"%39[0-9A-Za-z:.+-]\",\"value\":%31[-+.0-9eE]}%n", k, time, value, &vn) !=
	    3)
		return -1;
	tn = (int)strlen(time);
	return log_time_ok(time, (size_t)tn) && s[vn] == '\0' ? 0 : -1;
}

/* The env variable name as an integer in 1..max, def when unset; -1 when it is not one. */
static inline long log_env_int(const char *name, long def, long max)
{
	const char *s = uf_getenv(name);
	if (!s)
		return def;
	char *end;
	long v = strtol(s, &end, 10);
	return end == s || *end || v < 1 || v > max ? -1 : v;
}

/*
 * The value of key in a malloc'd, NUL-terminated buffer (*len its length):
 * 0, -ENOENT when absent, another -errno.  *out is NULL unless 0.
 */
static inline int log_get(uf_ctx *ctx, const char *key, char **out, size_t *len)
{
	size_t cap = 256;
	*out = NULL;
	for (;;) {
		char *b = malloc(cap + 1);
		if (!b)
			return -ENOMEM;
		int r = uf_kv_get(ctx, key, b, cap, len);
		if (r == -ENOBUFS && *len < ((size_t)1 << 30)) {
			free(b);
			cap = *len;
			continue;
		}
		if (r < 0) {
			free(b);
			return r;
		}
		b[*len] = '\0';
		*out = b;
		return 0;
	}
}

/* How many readings ring (dev, id) has had: >= 0 (0: none), or -errno. */
static inline long long log_ring_count(uf_ctx *ctx, const char *dev, long id)
{
	char key[LOG_KEY_MAX], val[24];
	size_t len;
	log_key_count(key, dev, id);
	int r = uf_kv_get(ctx, key, val, sizeof(val) - 1, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	val[len] = '\0';
	return atoll(val);
}

/*
 * Walks a JSON array of device names or sensor ids as the logger writes it
 * (["a","b"] or [1,2]: no spaces, no escapes): each call puts the next
 * element's text at *elem (length *n) and returns 1, or 0 at the end.
 * *pos starts at 0.
 */
static inline int log_list_next(const char *list, size_t *pos, const char **elem, size_t *n)
{
	size_t p = *pos;
	if (p == 0 && list[p] == '[')
		p++;
	if (list[p] == ',')
		p++;
	if (list[p] == ']' || !list[p])
		return 0;
	if (list[p] == '"')
		p++;
	size_t start = p;
	while (list[p] && list[p] != '"' && list[p] != ',' && list[p] != ']')
		p++;
	*elem = list + start;
	*n = p - start;
	if (list[p] == '"')
		p++;
	*pos = p;
	return 1;
}

/* The list holds the element name[0..n) (as text: "kit1" or "158"). */
static inline int log_list_has(const char *list, const char *name, size_t n)
{
	size_t pos = 0, en;
	const char *e;
	while (log_list_next(list, &pos, &e, &en))
		if (en == n && memcmp(e, name, n) == 0)
			return 1;
	return 0;
}

/* Elements in the list. */
static inline int log_list_count(const char *list)
{
	size_t pos = 0, en;
	const char *e;
	int c = 0;
	while (log_list_next(list, &pos, &e, &en))
		c++;
	return c;
}

#endif
