/*
 * fdc.c - fridge-door count: counts how often a fridge door is opened.
 *
 * Events are the door sensor's state changes, the payload "open" or
 * "close".  Every "open" adds one to the KV key "fdc-count" and pushes
 * {"door":"open","count":N} to the queue `door-opens`; "close" does nothing.
 * Any other payload is logged and fails the event.
 *
 * The counter is updated with uf_kv_incr, which is applied with the
 * event's acknowledgement (KV writes are part of the commit): an "open"
 * that is delivered twice (at-least-once) is still counted once.  The
 * count it reports is read once per batch and carried forward by the
 * batch's own increments; two units counting at the same time may report
 * the same number, the stored total is exact (docs/writing-functions.md).
 *
 * Usage by hour of day: every "open" also adds one to "fdc:hour:HH" (HH
 * 00..23, the UTC hour the platform received the event, shifted by
 * FDC_UTC_OFFSET_MIN minutes when set: the fridge's time zone), with
 * uf_kv_incr as well, so those counts are exact too.  The summary
 * "fdc-summary", {"total":N,"by_hour":[c00,...,c23]}, is rewritten with each
 * opening: the stored one with this hour's slot and the total set to what
 * the two increments report.  Two units counting at once may each write a
 * summary that misses the other's latest opening; the next opening of that
 * hour puts it right (the fdc:hour:HH keys are the exact figures).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unifaas.h>

#include "lib/fail.h"

#define HOURS 24

/* The hour of day (0..23) of ms since the epoch, shifted by FDC_UTC_OFFSET_MIN. */
static int hour_of(int64_t time_ms)
{
	const char *s = uf_getenv("FDC_UTC_OFFSET_MIN");
	long off = 0;
	char *end;
	if (s) {
		off = strtol(s, &end, 10);
		if (end == s || *end || off < -24 * 60 || off > 24 * 60) {
			fprintf(stderr, "fdc: FDC_UTC_OFFSET_MIN='%s' is not minutes in -1440..1440; using 0\n", s);
			off = 0;
		}
	}
	int64_t min = time_ms / 60000 + off + (int64_t)HOURS * 60;
	return (int)((min / 60) % HOURS);
}

/* Reads the stored summary's hourly counts; absent or unreadable counts as all 0. */
static void load_summary(uf_ctx *ctx, int64_t by_hour[HOURS])
{
	char buf[640];
	size_t len;
	memset(by_hour, 0, HOURS * sizeof(by_hour[0]));
	if (uf_kv_get(ctx, "fdc-summary", buf, sizeof(buf) - 1, &len) < 0)
		return;
	buf[len] = '\0';
	char *p = strstr(buf, "\"by_hour\":[");
	if (!p)
		return;
	p += strlen("\"by_hour\":[");
	for (int h = 0; h < HOURS; h++) {
		char *end;
		long long v = strtoll(p, &end, 10);
		if (end == p || v < 0)
			return;
		by_hour[h] = v;
		p = end + (*end == ',');
	}
}

/* Counts an opening in its hour and rewrites the summary; 0 or -errno. */
static int count_hour(uf_ctx *ctx, const uf_event *ev, int64_t total)
{
	int h = hour_of(ev->time_ms);
	char key[32];
	snprintf(key, sizeof(key), "fdc:hour:%02d", h);
	int64_t n, by_hour[HOURS];
	int r = uf_kv_incr(ctx, key, 1, &n);
	if (r < 0)
		return r;
	load_summary(ctx, by_hour);
	by_hour[h] = n;
	char out[640];
	int len = snprintf(out, sizeof(out), "{\"total\":%" PRId64 ",\"by_hour\":[", total);
	for (int i = 0; i < HOURS; i++)
		len += snprintf(out + len, sizeof(out) - (size_t)len, "%s%" PRId64, i ? "," : "", by_hour[i]);
	len += snprintf(out + len, sizeof(out) - (size_t)len, "]}");
	return uf_kv_set(ctx, "fdc-summary", out, (size_t)len);
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	if (strcmp(ev->data, "close") == 0)
		return 0;
	if (strcmp(ev->data, "open") != 0)
		return fn_fail(ctx, ev, "fdc", "door event%s%s: payload '%.40s' is neither \"open\" nor \"close\"",
		               *ev->source ? " from " : "", ev->source, ev->data);
	int64_t n;
	int r = uf_kv_incr(ctx, "fdc-count", 1, &n);
	if (r < 0)
		return fn_fail(ctx, ev, "fdc", "kv incr fdc-count: %s", strerror(-r));
	r = count_hour(ctx, ev, n);
	if (r < 0)
		return fn_fail(ctx, ev, "fdc", "kv: the hourly count or fdc-summary: %s", strerror(-r));
	char out[64];
	int len = snprintf(out, sizeof(out), "{\"door\":\"open\",\"count\":%" PRId64 "}", n);
	r = uf_push(ctx, "door-opens", out, (size_t)len);
	return r < 0 ? fn_fail(ctx, ev, "fdc", "push to door-opens: %s", strerror(-r)) : 0;
}
