/*
 * sck.c - parsers of the Smart Citizen Kit's two reading formats and of its
 * topic (see sck.h for the grammar).
 *
 * Both parsers walk a cursor over exactly len bytes and stop at the first
 * error, which names the byte position (0-based) and what was expected
 * there.  Numbers are checked against their grammar before strtod reads
 * them (raw: -?digits(.digits)?; JSON: RFC 8259), so strtod's extras
 * (hex, inf, nan, exponents in raw) never slip through.  Nothing is
 * allocated; an over-long group or message is refused, never truncated.
 */
#include "sck.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cur {
	const char *s;
	size_t len, i;
	char *err;
	size_t errlen;
};

static int fail(struct cur *c, const char *fmt, ...)
{
	int o = snprintf(c->err, c->errlen, "at byte %zu: ", c->i);
	va_list ap;
	va_start(ap, fmt);
	if (o >= 0 && (size_t)o < c->errlen)
		vsnprintf(c->err + o, c->errlen - (size_t)o, fmt, ap);
	va_end(ap);
	return SCK_ERROR;
}

static int peek(const struct cur *c)
{
	return c->i < c->len ? (unsigned char)c->s[c->i] : -1;
}

static int is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static void skip_spaces(struct cur *c)
{
	while (peek(c) == ' ')
		c->i++;
}

static void skip_ws(struct cur *c) /* JSON whitespace */
{
	while (peek(c) == ' ' || peek(c) == '\t' || peek(c) == '\n' || peek(c) == '\r')
		c->i++;
}

static size_t digits(struct cur *c)
{
	size_t n = 0;
	while (is_digit(peek(c)))
		c->i++, n++;
	return n;
}

/* The number of the n bytes at start, already checked against a grammar. */
static int to_double(struct cur *c, size_t start, double *v)
{
	char num[64];
	size_t n = c->i - start;
	if (n >= sizeof(num)) {
		c->i = start;
		return fail(c, "number longer than %zu characters", sizeof(num) - 1);
	}
	memcpy(num, c->s + start, n);
	num[n] = '\0';
	*v = strtod(num, NULL);
	if (!isfinite(*v)) {
		c->i = start;
		return fail(c, "number out of range");
	}
	return 0;
}

static int add_sensor(struct cur *c, struct sck_group *g, long id, double v, size_t at)
{
	if (g->n == SCK_MAX_SENSORS) {
		c->i = at;
		return fail(c, "more than %d sensors in one reading", SCK_MAX_SENSORS);
	}
	g->s[g->n].id = id;
	g->s[g->n++].value = v;
	return 0;
}

/* A sensor id: 1..9 digits. */
static int sensor_id(struct cur *c, long *id)
{
	size_t start = c->i, n = digits(c);
	if (n == 0)
		return fail(c, "expected a sensor id (digits) or 't'");
	if (n > 9) {
		c->i = start;
		return fail(c, "sensor id longer than 9 digits");
	}
	*id = 0; /* from the digits, not strtol: the input need not end in a NUL */
	for (size_t k = start; k < c->i; k++)
		*id = *id * 10 + (c->s[k] - '0');
	return 0;
}

/* Raw timestamp: YYYY-MM-DDTHH:MM:SSZ. */
static int raw_time(struct cur *c, struct sck_group *g)
{
	static const char pat[] = "9999-99-99T99:99:99Z";
	size_t start = c->i;
	for (size_t k = 0; k < sizeof(pat) - 1; k++, c->i++) {
		int ch = peek(c);
		if (pat[k] == '9' ? !is_digit(ch) : ch != pat[k])
			return fail(c, "timestamp not of the form YYYY-MM-DDTHH:MM:SSZ");
	}
	memcpy(g->time, c->s + start, sizeof(pat) - 1);
	g->time[sizeof(pat) - 1] = '\0';
	return 0;
}

/* Raw value: -?digits(.digits)? or null (*null set). */
static int raw_value(struct cur *c, double *v, int *null)
{
	size_t start = c->i;
	*null = 0;
	if (c->len - c->i >= 4 && memcmp(c->s + c->i, "null", 4) == 0) {
		c->i += 4;
		*null = 1;
		return 0;
	}
	if (peek(c) == '-')
		c->i++;
	if (digits(c) == 0)
		return fail(c, "expected a number or null");
	if (peek(c) == '.') {
		c->i++;
		if (digits(c) == 0)
			return fail(c, "expected digits after '.'");
	}
	return to_double(c, start, v);
}

/* One raw pair, t:TIME or ID:VALUE, at the cursor. */
static int raw_pair(struct cur *c, struct sck_group *g)
{
	size_t at = c->i;
	if (peek(c) == 't') {
		if (g->time[0])
			return fail(c, "a second timestamp (one per message)");
		c->i++;
		skip_spaces(c);
		if (peek(c) != ':')
			return fail(c, "expected ':' after 't'");
		c->i++;
		skip_spaces(c);
		return raw_time(c, g);
	}
	long id = 0; /* (gcc -O1 without sanitizers: maybe-uninitialized) */
	double v;
	int null;
	if (sensor_id(c, &id) < 0)
		return SCK_ERROR;
	skip_spaces(c);
	if (peek(c) != ':')
		return fail(c, "expected ':' after sensor id %ld", id);
	c->i++;
	skip_spaces(c);
	if (raw_value(c, &v, &null) < 0)
		return SCK_ERROR;
	return null ? 0 : add_sensor(c, g, id, v, at);
}

static int parse_raw(struct cur *c, struct sck_msg *m)
{
	struct sck_group *g = &m->g[0];
	skip_spaces(c);
	if (peek(c) != '{')
		return fail(c, "expected '{'");
	c->i++;
	skip_spaces(c);
	while (peek(c) != '}') {
		if (peek(c) < 0)
			return fail(c, "message ends before its closing '}'");
		if (raw_pair(c, g) < 0)
			return SCK_ERROR;
		size_t sep = c->i;
		skip_spaces(c);
		if (peek(c) == ',') {
			c->i++;
			skip_spaces(c);
			if (peek(c) == '}')
				return fail(c, "expected a pair after ','");
		}
		if (peek(c) < 0)
			return fail(c, "message ends before its closing '}'");
		if (c->i == sep && peek(c) != '}')
			return fail(c, "expected ',', ' ' or '}' after a pair");
	}
	c->i++;
	while (peek(c) == ' ' || peek(c) == '\r' || peek(c) == '\n')
		c->i++;
	if (c->i < c->len)
		return fail(c, "text after the closing '}'");
	if (!g->time[0])
		return fail(c, "no timestamp (t:YYYY-MM-DDTHH:MM:SSZ) in the message");
	m->ngroups = 1;
	return SCK_OK;
}

/* A JSON string; its raw text (escapes kept) into out if out is not NULL. */
static int json_string(struct cur *c, char *out, size_t cap)
{
	if (peek(c) != '"')
		return fail(c, "expected a string");
	size_t start = ++c->i;
	for (;;) {
		int ch = peek(c);
		if (ch < 0)
			return fail(c, "string not closed");
		if (ch < 0x20)
			return fail(c, "control character in a string");
		if (ch == '"')
			break;
		c->i += ch == '\\' ? 2 : 1;
	}
	size_t n = c->i - start;
	if (out && n >= cap) {
		c->i = start;
		return fail(c, "string longer than %zu bytes", cap - 1);
	}
	if (out) {
		memcpy(out, c->s + start, n);
		out[n] = '\0';
	}
	c->i++;
	return 0;
}

/* A JSON number (RFC 8259); *integer says whether it had no fraction or exponent. */
static int json_number(struct cur *c, double *v, int *integer)
{
	size_t start = c->i;
	*integer = 1;
	if (peek(c) == '-')
		c->i++;
	if (peek(c) == '0')
		c->i++;
	else if (digits(c) == 0)
		return fail(c, "expected a number");
	if (peek(c) == '.') {
		c->i++, *integer = 0;
		if (digits(c) == 0)
			return fail(c, "expected digits after '.'");
	}
	if (peek(c) == 'e' || peek(c) == 'E') {
		c->i++, *integer = 0;
		if (peek(c) == '+' || peek(c) == '-')
			c->i++;
		if (digits(c) == 0)
			return fail(c, "expected digits in the exponent");
	}
	return to_double(c, start, v);
}

static int json_literal(struct cur *c, const char *word)
{
	size_t n = strlen(word);
	if (c->len - c->i < n || memcmp(c->s + c->i, word, n) != 0)
		return fail(c, "expected a JSON value");
	c->i += n;
	return 0;
}

/* Skips any JSON value (members the format does not use), depth-bounded. */
static int json_skip(struct cur *c, int depth)
{
	double v;
	int integer, ch = peek(c);
	if (depth > 32)
		return fail(c, "nested deeper than 32 levels");
	if (ch == '"')
		return json_string(c, NULL, 0);
	if (ch == 't' || ch == 'f' || ch == 'n')
		return json_literal(c, ch == 't' ? "true" : ch == 'f' ? "false" : "null");
	if (ch != '{' && ch != '[')
		return json_number(c, &v, &integer);
	int close = ch == '{' ? '}' : ']';
	c->i++;
	skip_ws(c);
	if (peek(c) == close)
		return c->i++, 0;
	for (;;) {
		if (close == '}') {
			if (json_string(c, NULL, 0) < 0)
				return SCK_ERROR;
			skip_ws(c);
			if (peek(c) != ':')
				return fail(c, "expected ':' after a member name");
			c->i++;
			skip_ws(c);
		}
		if (json_skip(c, depth + 1) < 0)
			return SCK_ERROR;
		skip_ws(c);
		if (peek(c) == close)
			return c->i++, 0;
		if (peek(c) != ',')
			return fail(c, "expected ',' or '%c'", close);
		c->i++;
		skip_ws(c);
	}
}

/*
 * Walks a JSON object, calling member(c, name, arg) with the cursor on each
 * member's value; member must consume the value.
 */
static int json_object(struct cur *c, int (*member)(struct cur *, const char *, void *), void *arg)
{
	char name[32];
	if (peek(c) != '{')
		return fail(c, "expected '{'");
	c->i++;
	skip_ws(c);
	if (peek(c) == '}')
		return c->i++, 0;
	for (;;) {
		size_t at = c->i;
		if (json_string(c, NULL, 0) < 0)
			return SCK_ERROR;
		size_t n = c->i - at - 2;
		snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), c->s + at + 1);
		if (n >= sizeof(name))
			name[0] = '\0'; /* no member we know is that long */
		skip_ws(c);
		if (peek(c) != ':')
			return fail(c, "expected ':' after \"%s\"", name);
		c->i++;
		skip_ws(c);
		if (member(c, name, arg) < 0)
			return SCK_ERROR;
		skip_ws(c);
		if (peek(c) == '}')
			return c->i++, 0;
		if (peek(c) != ',')
			return fail(c, "expected ',' or '}'");
		c->i++;
		skip_ws(c);
	}
}

/* Walks a JSON array, calling item(c, arg) on each element. */
static int json_array(struct cur *c, int (*item)(struct cur *, void *), void *arg, const char *what)
{
	if (peek(c) != '[')
		return fail(c, "expected '[' (%s)", what);
	c->i++;
	skip_ws(c);
	if (peek(c) == ']')
		return c->i++, 0;
	for (;;) {
		if (item(c, arg) < 0)
			return SCK_ERROR;
		skip_ws(c);
		if (peek(c) == ']')
			return c->i++, 0;
		if (peek(c) != ',')
			return fail(c, "expected ',' or ']' in %s", what);
		c->i++;
		skip_ws(c);
	}
}

struct sensor_in {
	int has_id, has_value, null;
	long id;
	double value;
};

static int sensor_member(struct cur *c, const char *name, void *arg)
{
	struct sensor_in *s = arg;
	int integer;
	if (strcmp(name, "id") == 0) {
		double v;
		size_t at = c->i;
		if (json_number(c, &v, &integer) < 0)
			return SCK_ERROR;
		if (!integer || v < 0 || v > 999999999) {
			c->i = at;
			return fail(c, "sensor id not an integer of 0..999999999");
		}
		s->id = (long)v, s->has_id = 1;
		return 0;
	}
	if (strcmp(name, "value") == 0) {
		s->has_value = 1;
		if (peek(c) == 'n')
			return s->null = 1, json_literal(c, "null");
		return json_number(c, &s->value, &integer);
	}
	return json_skip(c, 0);
}

static int sensor_item(struct cur *c, void *arg)
{
	struct sck_group *g = arg;
	struct sensor_in s = {0};
	size_t at = c->i;
	if (json_object(c, sensor_member, &s) < 0)
		return SCK_ERROR;
	if (!s.has_id || !s.has_value) {
		c->i = at;
		return fail(c, "sensor without \"%s\"", s.has_id ? "value" : "id");
	}
	return s.null ? 0 : add_sensor(c, g, s.id, s.value, at);
}

static int group_member(struct cur *c, const char *name, void *arg)
{
	struct sck_group *g = arg;
	if (strcmp(name, "recorded_at") == 0)
		return json_string(c, g->time, sizeof(g->time));
	if (strcmp(name, "sensors") == 0)
		return json_array(c, sensor_item, g, "\"sensors\"");
	return json_skip(c, 0);
}

static int group_item(struct cur *c, void *arg)
{
	struct sck_msg *m = arg;
	size_t at = c->i;
	if (m->ngroups == SCK_MAX_GROUPS)
		return fail(c, "more than %d groups in one message", SCK_MAX_GROUPS);
	struct sck_group *g = &m->g[m->ngroups];
	g->time[0] = '\0';
	g->n = 0;
	if (json_object(c, group_member, g) < 0)
		return SCK_ERROR;
	if (!g->time[0]) {
		c->i = at;
		return fail(c, "group without \"recorded_at\"");
	}
	m->ngroups++;
	return 0;
}

struct msg_in {
	struct sck_msg *m;
	int seen; /* a "data" member was read */
};

static int msg_member(struct cur *c, const char *name, void *arg)
{
	struct msg_in *in = arg;
	if (strcmp(name, "data") != 0)
		return json_skip(c, 0);
	if (in->seen++)
		return fail(c, "a second \"data\"");
	if (peek(c) == 'n') /* "data": null, a message without data */
		return json_literal(c, "null");
	return json_array(c, group_item, in->m, "\"data\"");
}

static int parse_json(struct cur *c, struct sck_msg *m)
{
	struct msg_in in = {m, 0};
	skip_ws(c);
	if (json_object(c, msg_member, &in) < 0)
		return SCK_ERROR;
	skip_ws(c);
	if (c->i < c->len)
		return fail(c, "text after the closing '}'");
	return m->ngroups ? SCK_OK : SCK_EMPTY;
}

int sck_parse(enum sck_format f, const char *s, size_t len, struct sck_msg *m, char *err, size_t errlen)
{
	struct cur c = {s, len, 0, err, errlen};
	const char *nul = memchr(s, '\0', len);
	m->ngroups = 0;
	m->g[0].time[0] = '\0';
	m->g[0].n = 0;
	if (nul) {
		c.i = (size_t)(nul - s);
		return fail(&c, "NUL byte in the message");
	}
	return f == SCK_RAW ? parse_raw(&c, m) : parse_json(&c, m);
}

size_t sck_token_len(const char *s, size_t len)
{
	size_t t = 0;
	for (; t < len && s[t] != '/'; t++) {
		char ch = s[t];
		if (t == SCK_TOKEN_MAX - 1 || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		                                (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return t;
}

int sck_topic(const char *topic, size_t len, char *token, enum sck_format *f, char *err, size_t errlen)
{
	static const char pre[] = "device/sck/";
	size_t n = sizeof(pre) - 1, t;
	if (len < n || memcmp(topic, pre, n) != 0)
		goto fail;
	t = sck_token_len(topic + n, len - n);
	const char *rest = topic + n + t;
	size_t rlen = len - n - t;
	if (t == 0)
		goto fail;
	if (rlen == 9 && memcmp(rest, "/readings", 9) == 0)
		*f = SCK_JSON;
	else if (rlen == 13 && memcmp(rest, "/readings/raw", 13) == 0)
		*f = SCK_RAW;
	else
		goto fail;
	memcpy(token, topic + n, t);
	token[t] = '\0';
	return 0;
fail:
	snprintf(err, errlen,
	         "source '%.*s' is not a kit's readings topic device/sck/<token>/readings[/raw] (token: 1..%d of "
	         "[A-Za-z0-9._-])",
	         (int)(len > 120 ? 120 : len), topic, SCK_TOKEN_MAX - 1);
	return -1;
}
