/*
 * logger.c - keeps every Smart Citizen Kit reading, per device and sensor,
 * in KV (workflows/co2.yaml, step `logger` on `readings-log`).
 *
 * Each event is one timestamp group as threshold.c pushes it:
 *   {"device":"kit1","time":"2025-03-01T10:00:00Z","sensors":{"158":612,"55":22.5}}
 * and each of its sensor values becomes one reading in the ring of that
 * device and sensor, laid out as lib/readings_log.h says (log:<dev>:<id>:n
 * counts them, slot (k-1) mod LOG_KEEP holds reading k, log:devices and
 * log:<dev>:sensors index what there is).  Retention: the last LOG_KEEP
 * readings of each device's sensor (env, default 1440, a day at the kit's
 * one reading a minute); for at most LOG_MAX_DEVICES devices (default 64)
 * and 64 sensors per device, a reading of one more is failed with the reason (dead-lettered: raise
 * the limit and replay it).
 *
 * Idempotency: a reading is identified by its device, sensor and time (a
 * kit that publishes a message again, a broker's QoS 1 resend, an event
 * pushed twice); the marker log:<dev>:<id>:t:<time> says it is logged, so
 * it is skipped the second time (and a line says so).  A marker goes with
 * its slot, so once a ring is full a reading older than the one it would
 * replace is skipped too: it is outside what the log keeps (a duplicate of
 * a reading already gone, or one that came very late).  Times compare as
 * text, which orders the kits' ISO 8601 UTC times.  All writes are
 * staged with the event and commit with it: a failed or retried event
 * leaves nothing half-written.  The ring's count is read, then raised
 * with uf_kv_incr: the step runs one unit (max_units 1), else two units
 * could take the same k.  Malformed input fails the event with a reason naming
 * the field; a malformed LOG_KEEP or LOG_MAX_DEVICES ends the unit.
 */
#include "lib/fail.h"
#include "lib/readings_log.h"

static long keep, max_devices;

/* The env limits, read once; a malformed one ends the unit. */
static void read_env(void)
{
	if (keep)
		return;
	keep = log_env_int("LOG_KEEP", LOG_KEEP_DEFAULT, LOG_KEEP_MAX);
	max_devices = log_env_int("LOG_MAX_DEVICES", LOG_MAX_DEVICES_DEFAULT, LOG_MAX_DEVICES_MAX);
	if (keep < 0 || max_devices < 0) {
		fprintf(stderr,
		        "logger: env LOG_KEEP='%s' (1..%d), LOG_MAX_DEVICES='%s' (1..%d): not an integer in range; fix "
		        "the manifest's env\n",
		        uf_getenv("LOG_KEEP") ? uf_getenv("LOG_KEEP") : "", LOG_KEEP_MAX,
		        uf_getenv("LOG_MAX_DEVICES") ? uf_getenv("LOG_MAX_DEVICES") : "", LOG_MAX_DEVICES_MAX);
		exit(2);
	}
}

/*
 * Adds the names[0..n) not in it yet to the JSON array in key (created if
 * absent), in one write; fails when that would make it hold more than max
 * (what names the limit).  quote: the elements are strings.
 */
static int list_add(uf_ctx *ctx, const uf_event *ev, const char *key, char names[][SCK_TOKEN_MAX], int n, int quote,
                    long max, const char *what)
{
	char *list = NULL, *out = NULL;
	size_t len = 0, o;
	int r = log_get(ctx, key, &list, &len), count, added = 0;
	if (r < 0 && r != -ENOENT)
		goto fail;
	count = list ? log_list_count(list) : 0;
	if (!(out = malloc(len + (size_t)n * (SCK_TOKEN_MAX + 4) + 4)) && (r = -ENOMEM))
		goto fail;
	o = count ? len - 1 : 1; /* the old elements, without their ']' */
	memcpy(out, count ? list : "[", o);
	for (int i = 0; i < n; i++) {
		out[o] = '\0';
		if (log_list_has(out, names[i], strlen(names[i])))
			continue;
		if (count + ++added > max) {
			fn_fail(ctx, ev, "logger", "%s: %s already holds %ld, the most it keeps; raise %s", names[i],
			        key, max, what);
			goto out;
		}
		o += (size_t)sprintf(out + o, "%s%s%s%s", o > 1 ? "," : "", quote ? "\"" : "", names[i],
		                     quote ? "\"" : "");
	}
	out[o++] = ']';
	if (added && (r = uf_kv_set(ctx, key, out, o)) < 0)
		goto fail;
	free(list);
	free(out);
	return 0;
fail:
	fn_fail(ctx, ev, "logger", "kv %s: %s", key, strerror(-r));
out:
	free(list);
	free(out);
	return -1;
}

enum { LOGGED, DUPLICATE, TOO_OLD };

/* The time of the reading in slot key into time: 0, 1 when the slot holds none, or -errno. */
static int slot_time(uf_ctx *ctx, const char *slot_key, char *time)
{
	char val[128], value[32];
	size_t len;
	long long k;
	int r = uf_kv_get(ctx, slot_key, val, sizeof(val) - 1, &len);
	if (r == -ENOENT || r == -ENOBUFS)
		return 1; /* not the logger's: overwritten all the same */
	if (r < 0)
		return r;
	val[len] = '\0';
	return log_slot_parse(val, &k, time, value) < 0 ? 1 : 0;
}

/*
 * Logs one reading as reading k of its ring, in slot (k-1) mod keep, unless
 * its marker says it is logged (DUPLICATE) or the ring is full and it is
 * older than the reading it would replace (TOO_OLD: outside what the log
 * keeps; also what a duplicate of a reading gone from the ring is).
 * LOGGED, DUPLICATE, TOO_OLD, or -1 (reason set).
 */
static int log_one(uf_ctx *ctx, const uf_event *ev, const struct log_reading *rd, const struct sck_sensor *s)
{
	char seen[LOG_KEY_MAX], key[LOG_KEY_MAX], val[128], old[SCK_TIME_MAX];
	size_t len;
	long long k;
	log_key_seen(seen, rd->device, s->id, rd->time);
	int r = uf_kv_get(ctx, seen, val, sizeof(val), &len);
	if (r == 0 || r == -ENOBUFS)
		return DUPLICATE;
	if (r != -ENOENT)
		goto fail;
	k = log_ring_count(ctx, rd->device, s->id) + 1;
	if (k < 1 && (r = (int)(k - 1)) < 0)
		goto fail;
	log_key_slot(key, rd->device, s->id, (k - 1) % keep);
	if (k > keep && (r = slot_time(ctx, key, old)) < 0)
		goto fail;
	if (k > keep && r == 0) {
		if (strcmp(rd->time, old) < 0)
			return TOO_OLD;
		log_key_seen(val, rd->device, s->id, old);
		if ((r = uf_kv_del(ctx, val)) < 0)
			goto fail;
	}
	log_key_count(val, rd->device, s->id);
	if ((r = uf_kv_incr(ctx, val, 1, NULL)) < 0)
		goto fail;
	int n = log_slot_format(val, sizeof(val), k, rd->time, s->value);
	if ((r = uf_kv_set(ctx, key, val, (size_t)n)) < 0)
		goto fail;
	n = snprintf(val, sizeof(val), "%lld", k);
	if ((r = uf_kv_set(ctx, seen, val, (size_t)n)) < 0)
		goto fail;
	return LOGGED;
fail:
	fn_fail(ctx, ev, "logger", "device %s sensor %ld time %s: kv: %s", rd->device, s->id, rd->time, strerror(-r));
	return -1;
}

/* log:keep says the LOG_KEEP this unit writes with (for log_query), checked once per unit. */
static int record_keep(uf_ctx *ctx, const uf_event *ev)
{
	static int known;
	char buf[24];
	size_t len;
	if (known)
		return 0;
	int r = uf_kv_get(ctx, LOG_KEY_KEEP, buf, sizeof(buf) - 1, &len);
	if (r == 0) {
		buf[len] = '\0';
		if (atol(buf) == keep)
			return known = 1, 0;
	}
	int n = snprintf(buf, sizeof(buf), "%ld", keep);
	r = uf_kv_set(ctx, LOG_KEY_KEEP, buf, (size_t)n);
	return r < 0 ? fn_fail(ctx, ev, "logger", "kv set %s: %s", LOG_KEY_KEEP, strerror(-r)), -1 : 0;
}

/* The device in log:devices, its sensors in log:<dev>:sensors. */
static int add_to_index(uf_ctx *ctx, const uf_event *ev, const struct log_reading *rd)
{
	static char names[SCK_MAX_SENSORS][SCK_TOKEN_MAX];
	char key[LOG_KEY_MAX];
	snprintf(names[0], sizeof(names[0]), "%s", rd->device);
	if (list_add(ctx, ev, LOG_KEY_DEVICES, names, 1, 1, max_devices, "LOG_MAX_DEVICES") < 0)
		return -1;
	for (int i = 0; i < rd->n; i++)
		snprintf(names[i], sizeof(names[i]), "%ld", rd->s[i].id);
	log_key_sensors(key, rd->device);
	return list_add(ctx, ev, key, names, rd->n, 0, LOG_MAX_SENSORS, "the sensors a device may have (64)");
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	static struct log_reading rd;
	char why[160];
	read_env();
	if (log_parse_reading(ev->data, ev->len, &rd, why, sizeof(why)) < 0)
		return fn_fail(ctx, ev, "logger", "bad %s event: %s: '%.80s'", ev->queue, why, ev->data);
	if (rd.n == 0)
		return 0;
	if (record_keep(ctx, ev) < 0 || add_to_index(ctx, ev, &rd) < 0)
		return 1;
	int skipped[3] = {0};
	for (int i = 0; i < rd.n; i++) {
		int r = log_one(ctx, ev, &rd, &rd.s[i]);
		if (r < 0)
			return 1;
		skipped[r]++;
	}
	if (skipped[DUPLICATE] || skipped[TOO_OLD])
		printf(
		    "logger: event %s: device %s time %s: %d of %d readings skipped: %d already logged, %d older than "
		    "the last %ld kept\n",
		    ev->id, rd.device, rd.time, skipped[DUPLICATE] + skipped[TOO_OLD], rd.n, skipped[DUPLICATE],
		    skipped[TOO_OLD], keep);
	return 0;
}
