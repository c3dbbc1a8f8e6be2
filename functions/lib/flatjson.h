/*
 * flatjson.h - the flat-JSON-event helpers the example functions share
 * (lights.c, alert.c): one JSON object of scalar fields, parsed with jsmn in
 * strict mode.  Header-only (static inline functions: unused ones cost nothing and raise no warning), so a
 * function that includes it is still built from its one .c file.
 *
 * Invariants: fj_parse_flat accepts exactly one object whose values are all
 * scalars (no nesting), followed by nothing but whitespace; on success key
 * tokens are at odd indexes 1, 3, ... and their values right after.  Names
 * checked by fj_name_ok are 1..max of [A-Za-z0-9_-], safe in KV keys, MQTT
 * topic levels and JSON strings without escaping.
 */
#ifndef UF_FUNCTIONS_FLATJSON_H
#define UF_FUNCTIONS_FLATJSON_H

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unifaas.h>

/* The token is the JSON string s. */
static inline int fj_is(const char *js, const jsmntok_t *t, const char *s)
{
	size_t n = strlen(s);
	return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n && memcmp(js + t->start, s, n) == 0;
}

/* true or false into *out; -1 for anything else. */
static inline int fj_bool(const char *js, const jsmntok_t *t, int *out)
{
	if (t->type != JSMN_PRIMITIVE)
		return -1;
	if (t->end - t->start == 4 && memcmp(js + t->start, "true", 4) == 0)
		*out = 1;
	else if (t->end - t->start == 5 && memcmp(js + t->start, "false", 5) == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* A finite JSON number read whole by strtod, or null (*is_null) when is_null is given. */
static inline int fj_number(const char *js, const jsmntok_t *t, double *out, int *is_null)
{
	char buf[64];
	int n = t->end - t->start;
	if (t->type != JSMN_PRIMITIVE || n <= 0 || n >= (int)sizeof(buf))
		return -1;
	memcpy(buf, js + t->start, (size_t)n);
	buf[n] = '\0';
	if (is_null) {
		*is_null = strcmp(buf, "null") == 0;
		if (*is_null)
			return 0;
	}
	if (buf[0] != '-' && (buf[0] < '0' || buf[0] > '9'))
		return -1; /* true, false, null */
	char *end;
	*out = strtod(buf, &end);
	return *end || !isfinite(*out) ? -1 : 0;
}

/* s[0..n) is a name of 1..max of [A-Za-z0-9_-]. */
static inline int fj_name_ok(const char *s, int n, int max)
{
	if (n < 1 || n > max)
		return 0;
	for (int i = 0; i < n; i++)
		if (!s[i] || !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", s[i]))
			return 0;
	return 1;
}

/*
 * Parses js[0..len) as one flat object into t[0..max): the token count, or
 * -1 with the reason in *why.
 */
static inline int fj_parse_flat(const char *js, size_t len, jsmntok_t *t, unsigned max, const char **why)
{
	jsmn_parser p;
	jsmn_init(&p);
	int n = jsmn_parse(&p, js, len, t, max);
	if (n < 1 || t[0].type != JSMN_OBJECT) {
		*why = n == JSMN_ERROR_NOMEM   ? "too many fields"
		       : n == JSMN_ERROR_PART  ? "incomplete JSON"
		       : n == JSMN_ERROR_INVAL ? "invalid JSON"
		                               : "not a JSON object";
		return -1;
	}
	size_t end = (size_t)t[0].end;
	while (end < len && (js[end] == ' ' || js[end] == '\t' || js[end] == '\r' || js[end] == '\n'))
		end++;
	if (end != len || n != 1 + 2 * t[0].size) {
		*why = end != len ? "text after the JSON object" : "nested objects and arrays are not expected";
		return -1;
	}
	return n;
}

/* The environment variable name as a number, def when unset; `who` names the function in the log. */
static inline double fj_env_number(const char *name, double def, const char *who)
{
	const char *s = uf_getenv(name);
	char *end;
	double v = s ? strtod(s, &end) : def;
	if (s && (end == s || *end || !isfinite(v))) {
		fprintf(stderr, "%s: %s='%s' is not a number; using %g\n", who, name, s, def);
		return def;
	}
	return v;
}

#endif
