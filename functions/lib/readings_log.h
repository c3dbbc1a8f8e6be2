/*
 * readings_log.h - the CO2 workflow's log of readings in KV: its key names,
 * its slot format and its retention, shared by the function that writes it
 * (logger.c) and the one that reads it back (log_query.c).  The parsers
 * are in lib/readings_log.c (no I/O: tests/unit/test_readings_log.c and
 * tests/fuzz/fuzz_readings_log.c build them on the host); the key names and
 * the KV helpers are static inline here.  Each image is built with
 * `unifaas build F.c lib/sck.c lib/readings_log.c`.  docs/examples.md
 * documents the keys for users.
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

/* One readings-log event: a device's sensor values at one time. */
struct log_reading {
	char device[SCK_TOKEN_MAX];
	char time[SCK_TIME_MAX];
	int n;
	struct sck_sensor s[SCK_MAX_SENSORS];
};

/*
 * Parses a readings-log event, as threshold.c pushes it, into r:
 *   {"device":"kit1","time":"2025-03-01T10:00:00Z","sensors":{"158":612,"55":22.5}}
 * (other scalar fields ignored): 0, or -1 with the reason in why (naming
 * the field and, for a sensor, its id).
 */
int log_parse_reading(const char *js, size_t len, struct log_reading *r, char *why, size_t wl);

/* s[0..n) is a device token (sck.h's rule: 1..63 of [A-Za-z0-9._-]). */
int log_device_ok(const char *s, size_t n);

/* s[0..n) is a reading's time as the logger keeps it: 1..39 of [0-9A-Za-z:.+-] (ISO 8601). */
int log_time_ok(const char *s, size_t n);

/*
 * Reads a slot's value s (NUL-terminated) into its k, time (cap
 * SCK_TIME_MAX) and the value's text as written (cap 32): 0, or -1 when it
 * is not what log_slot_format writes.
 */
int log_slot_parse(const char *s, long long *k, char *time, char *value);

/*
 * Walks a JSON array of device names or sensor ids as the logger writes it
 * (["a","b"] or [1,2]: no spaces, no escapes): each call puts the next
 * element's text at *elem (length *n) and returns 1, or 0 at the end.
 * *pos starts at 0.
 */
int log_list_next(const char *list, size_t *pos, const char **elem, size_t *n);

/* The list holds the element name[0..n) (as text: "kit1" or "158"). */
int log_list_has(const char *list, const char *name, size_t n);

/* Elements in the list. */
int log_list_count(const char *list);

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

#endif
