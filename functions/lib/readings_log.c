/*
 * readings_log.c - the parsers of the CO2 workflow's log of readings
 * (lib/readings_log.h): a readings-log event, a slot's value, the index
 * lists, the device and time rules.  No I/O, no allocation; built into
 * logger.uf and log_query.uf, and on the host by the unit test and the
 * fuzz target.  JSON is read with jsmn in strict mode (lib/flatjson.h).
 */
#include "flatjson.h"
#include "readings_log.h"

#define MAX_TOKENS (8 + 2 * SCK_MAX_SENSORS * 2)

/* s[0..n) is a device token (sck.h's rule: 1..63 of [A-Za-z0-9._-]). */
int log_device_ok(const char *s, size_t n)
{
	return n > 0 && sck_token_len(s, n) == n;
}

/* s[0..n) is a reading's time as the logger keeps it: 1..39 of [0-9A-Za-z:.+-] (ISO 8601). */
int log_time_ok(const char *s, size_t n)
{
	if (n < 1 || n >= SCK_TIME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ:.+-", s[i]))
			return 0;
	return 1;
}

/*
 * Reads a slot's value s (NUL-terminated) into its k, time (cap
 * SCK_TIME_MAX) and the value's text as written (cap 32): 0, or -1 when it
 * is not what log_slot_format writes.
 */
int log_slot_parse(const char *s, long long *k, char *time, char *value)
{
	int tn, vn = -1;
	if (sscanf(s, "{\"n\":%lld,\"time\":\"%39[0-9A-Za-z:.+-]\",\"value\":%31[-+.0-9eE]}%n", k, time, value, &vn) !=
	    3)
		return -1;
	tn = (int)strlen(time);
	return vn > 0 && log_time_ok(time, (size_t)tn) && s[vn] == '\0' ? 0 : -1;
}

/*
 * Walks a JSON array of device names or sensor ids as the logger writes it
 * (["a","b"] or [1,2]: no spaces, no escapes): each call puts the next
 * element's text at *elem (length *n) and returns 1, or 0 at the end.
 * *pos starts at 0.
 */
int log_list_next(const char *list, size_t *pos, const char **elem, size_t *n)
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
int log_list_has(const char *list, const char *name, size_t n)
{
	size_t pos = 0, en;
	const char *e;
	while (log_list_next(list, &pos, &e, &en))
		if (en == n && memcmp(e, name, n) == 0)
			return 1;
	return 0;
}

/* Elements in the list. */
int log_list_count(const char *list)
{
	size_t pos = 0, en;
	const char *e;
	int c = 0;
	while (log_list_next(list, &pos, &e, &en))
		c++;
	return c;
}

static int tok_len(const jsmntok_t *t)
{
	return t->end - t->start;
}

/* The "sensors" object at t[i]: its id:value pairs into r; the index after it, or -1 with *why. */
static int parse_sensors(const char *js, const jsmntok_t *t, int n, int i, struct log_reading *r, char *why, size_t wl)
{
	if (t[i].type != JSMN_OBJECT)
		return snprintf(why, wl, "\"sensors\" is not an object of \"<id>\": value"), -1;
	int pairs = t[i].size;
	i++;
	for (int p = 0; p < pairs; p++, i += 2) {
		if (i + 1 >= n || t[i].type != JSMN_STRING)
			return snprintf(why, wl, "\"sensors\" is not an object of \"<id>\": value"), -1;
		const jsmntok_t *k = &t[i], *v = &t[i + 1];
		char idtxt[16], *end;
		int kn = tok_len(k);
		if (kn < 1 || kn > 9 || strspn(js + k->start, "0123456789") < (size_t)kn)
			return snprintf(why, wl, "sensor id '%.*s' is not an integer 0..%ld", kn > 20 ? 20 : kn,
			                js + k->start, LOG_SENSOR_MAX),
			       -1;
		memcpy(idtxt, js + k->start, (size_t)kn);
		idtxt[kn] = '\0';
		double val;
		if (v->type != JSMN_PRIMITIVE || fj_number(js, v, &val, NULL) < 0)
			return snprintf(why, wl, "sensor %s: value '%.*s' is not a number", idtxt,
			                tok_len(v) > 20 ? 20 : tok_len(v), js + v->start),
			       -1;
		if (r->n == SCK_MAX_SENSORS)
			return snprintf(why, wl, "more than %d sensors", SCK_MAX_SENSORS), -1;
		r->s[r->n].id = strtol(idtxt, &end, 10);
		r->s[r->n++].value = val;
	}
	return i;
}

int log_parse_reading(const char *js, size_t len, struct log_reading *r, char *why, size_t wl)
{
	static jsmntok_t t[MAX_TOKENS];
	jsmn_parser p;
	jsmn_init(&p);
	memset(r, 0, sizeof(*r));
	int n = jsmn_parse(&p, js, len, t, MAX_TOKENS);
	while (len > 0 && (js[len - 1] == ' ' || js[len - 1] == '\t' || js[len - 1] == '\r' || js[len - 1] == '\n'))
		len--;
	if (n < 1 || t[0].type != JSMN_OBJECT || (size_t)t[0].end != len)
		return snprintf(why, wl, "not one JSON object {\"device\",\"time\",\"sensors\":{...}}%s",
		                n == JSMN_ERROR_NOMEM ? " (too many fields)" : ""),
		       -1;
	int i = 1, have_sensors = 0;
	for (int f = 0; f < t[0].size; f++) {
		if (i + 1 >= n || t[i].type != JSMN_STRING) /* jsmn's sizes, not its tokens, said more */
			return snprintf(why, wl, "not one JSON object {\"device\",\"time\",\"sensors\":{...}}"), -1;
		const jsmntok_t *k = &t[i], *v = &t[i + 1];
		if (fj_is(js, k, "sensors")) {
			if ((i = parse_sensors(js, t, n, i + 1, r, why, wl)) < 0)
				return -1;
			have_sensors = 1;
			continue;
		}
		if (v->type == JSMN_OBJECT || v->type == JSMN_ARRAY)
			return snprintf(why, wl, "field '%.*s' is not a scalar", tok_len(k) > 20 ? 20 : tok_len(k),
			                js + k->start),
			       -1;
		if (fj_is(js, k, "device")) {
			if (v->type != JSMN_STRING || !log_device_ok(js + v->start, (size_t)tok_len(v)))
				return snprintf(why, wl, "\"device\" is not a kit token (1..%d of [A-Za-z0-9._-])",
				                SCK_TOKEN_MAX - 1),
				       -1;
			memcpy(r->device, js + v->start, (size_t)tok_len(v));
		} else if (fj_is(js, k, "time")) {
			if (v->type != JSMN_STRING || !log_time_ok(js + v->start, (size_t)tok_len(v)))
				return snprintf(why, wl, "\"time\" is not a time of 1..%d of [0-9A-Za-z:.+-]",
				                SCK_TIME_MAX - 1),
				       -1;
			memcpy(r->time, js + v->start, (size_t)tok_len(v));
		}
		i += 2;
	}
	if (!r->device[0] || !r->time[0] || !have_sensors)
		return snprintf(why, wl, "no \"%s\"", !r->device[0] ? "device" : !r->time[0] ? "time" : "sensors"), -1;
	return 0;
}
