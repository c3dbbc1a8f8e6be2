/*
 * json_text.c - JSON text the tender writes: string escaping (base64 for
 * bytes that are not UTF-8 is common/text.c's).
 *
 * Invariants: uf_json_escape always produces valid JSON string contents,
 * whatever the input bytes (a byte that is not part of valid UTF-8 becomes
 * a \u00XX escape, so the output is valid but that byte is not preserved);
 * callers that must keep arbitrary bytes check uf_utf8_valid first and write
 * base64 instead.  Output buffers must hold 6 bytes per input byte
 * (escape) or 4 per 3 plus 4 (base64).
 */
#include <stdint.h>
#include <string.h>

#include "backend.h"

size_t uf_json_escape(char *out, const char *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		size_t l = uf_utf8_seq(p + i, len - i);
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			out[o++] = '\\';
			out[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
		} else if (c < 0x20 || c == 0x7f || l == 0) {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[c >> 4];
			out[o + 5] = hex[c & 15];
			o += 6;
		} else {
			memcpy(out + o, p + i, l);
			o += l;
			i += l;
			continue;
		}
		i++;
	}
	return o;
}

size_t uf_json_data(char *out, const char *data, size_t len)
{
	int text = uf_utf8_valid(data, len);
	const char *field = text ? "\"data\":\"" : "\"data_base64\":\"";
	size_t o = strlen(field);
	memcpy(out, field, o);
	o += text ? uf_json_escape(out + o, data, len) : uf_base64_encode(out + o, data, len);
	out[o++] = '"';
	return o;
}

/* ---- reading a KV file: a JSON object of values ---------------------------- */

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>
#include <stdio.h>
#include <stdlib.h>

static void line_col(const char *js, size_t pos, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < pos; i++) {
		if (js[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

static int hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(s[i]);
		if (h < 0)
			return -1;
		v = v << 4 | (uint32_t)h;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decodes the JSON string body [s, s+n) into out (n bytes suffice); -1 if bad. */
static long json_unescape(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20)
			return -1; /* control bytes must be escaped in JSON */
		if (s[i] != '\\') {
			out[o++] = s[i];
			continue;
		}
		if (++i == n)
			return -1;
		const char *simple = strchr("\"\\/bfnrt", s[i]);
		if (simple && s[i]) {
			out[o++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
			continue;
		}
		uint32_t cp, lo;
		if (s[i] != 'u' || i + 4 >= n + 0 || hex4(s + i + 1, &cp) < 0)
			return -1;
		i += 4;
		if (cp >= 0xd800 && cp <= 0xdbff) { /* a surrogate pair */
			if (i + 6 >= n || s[i + 1] != '\\' || s[i + 2] != 'u' || hex4(s + i + 3, &lo) < 0 ||
			    lo < 0xdc00 || lo > 0xdfff)
				return -1;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			i += 6;
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			return -1;
		}
		o += put_utf8(out + o, cp);
	}
	return (long)o;
}

static int fail_at(const char *path, const char *js, size_t pos, char *err, size_t errlen, const char *what)
{
	int line, col;
	line_col(js, pos, &line, &col);
	snprintf(err, errlen, "kv file %s:%d:%d: %s", path, line, col, what);
	return -1;
}

/*
 * jsmn checks tokens, not the separators between them: it accepts
 * {"a":1,} or {,"a":1}.  So the text between two tokens is checked here:
 * [from, to) must be white space around exactly the separator `sep`
 * (0 for none).
 */
static int gap_ok(const char *js, size_t from, size_t to, char sep)
{
	int seen = sep == 0;
	for (size_t i = from; i < to; i++) {
		char c = js[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c != sep || seen)
			return 0;
		seen = 1;
	}
	return seen;
}

/* Where a token's text begins and ends, quotes included for strings. */
static size_t tok_lo(const jsmntok_t *t)
{
	return (size_t)t->start - (t->type == JSMN_STRING);
}

static size_t tok_hi(const jsmntok_t *t)
{
	return (size_t)t->end + (t->type == JSMN_STRING);
}

/* Index of the token after the subtree rooted at t[i]. */
static int skip_tokens(const jsmntok_t *t, int i)
{
	int next = i + 1;
	for (int c = 0; c < t[i].size; c++)
		next = skip_tokens(t, next);
	return next;
}

/*
 * Checks the separators of the object at t[i] (and of objects inside it):
 * '{' key ':' value (',' key ':' value)* '}'.  Returns the index after it,
 * or -1 with *bad set to the offending position.
 */
static int object_ok(const char *js, const jsmntok_t *t, int i, size_t *bad)
{
	size_t prev = (size_t)t[i].start + 1; /* after '{' */
	int k = i + 1;
	for (int pair = 0; pair < t[i].size; pair++) {
		const jsmntok_t *key = &t[k], *val = &t[k + 1];
		if (!gap_ok(js, prev, tok_lo(key), pair ? ',' : 0)) {
			*bad = prev;
			return -1;
		}
		if (key->size != 1 || !gap_ok(js, tok_hi(key), tok_lo(val), ':')) {
			/* point at what stands where the value should be */
			size_t pos = tok_hi(key);
			while (js[pos] == ' ' || js[pos] == '\t' || js[pos] == '\n' || js[pos] == '\r' ||
			       js[pos] == ':')
				pos++;
			*bad = pos;
			return -1;
		}
		int next = k + 2;
		if (val->type == JSMN_OBJECT) {
			next = object_ok(js, t, k + 1, bad);
			if (next < 0)
				return -1;
		} else if (val->type == JSMN_ARRAY) {
			next = skip_tokens(t, k + 1);
		}
		prev = tok_hi(val);
		k = next;
	}
	if (!gap_ok(js, prev, (size_t)t[i].end - 1, 0)) {
		*bad = prev;
		return -1;
	}
	return k;
}

int uf_json_kv_parse(const char *path, const char *js, size_t len, uf_kv_entry_fn fn, void *arg, char *err,
                     size_t errlen)
{
	jsmn_parser p;
	jsmn_init(&p);
	int n = jsmn_parse(&p, js, len, NULL, 0);
	if (n < 0)
		return fail_at(path, js, p.pos, err, errlen,
		               n == JSMN_ERROR_PART ? "unexpected end of the JSON text" : "invalid JSON");
	jsmntok_t *t = calloc((size_t)n + 1, sizeof(*t));
	char *key = malloc(len + 1), *val = malloc(len + 1);
	int rc = -1;
	if (!t || !key || !val) {
		snprintf(err, errlen, "kv file %s: out of memory", path);
		goto out;
	}
	jsmn_init(&p);
	n = jsmn_parse(&p, js, len, t, (unsigned)n);
	if (n < 0) {
		fail_at(path, js, p.pos, err, errlen,
		        n == JSMN_ERROR_PART ? "unexpected end of the JSON text" : "invalid JSON");
		goto out;
	}
	if (n < 1 || t[0].type != JSMN_OBJECT) {
		snprintf(err, errlen, "kv file %s: expected a JSON object of string values", path);
		goto out;
	}
	if (skip_tokens(t, 0) != n) {
		fail_at(path, js, (size_t)t[0].end, err, errlen, "text after the JSON object");
		goto out;
	}
	size_t bad = 0;
	for (int k = 0; k < n; k++) {
		if (t[k].type == JSMN_STRING &&
		    json_unescape(js + t[k].start, (size_t)(t[k].end - t[k].start), val) < 0) {
			fail_at(path, js, (size_t)t[k].start, err, errlen,
			        "invalid string (bad escape or control byte)");
			goto out;
		}
	}
	if (object_ok(js, t, 0, &bad) < 0) {
		fail_at(path, js, bad, err, errlen, "expected \"key\": value pairs separated by commas");
		goto out;
	}
	int i = 1;
	for (int pair = 0; pair < t[0].size; pair++) {
		jsmntok_t *k = &t[i], *v = &t[i + 1];
		if (k->type != JSMN_STRING || k->size != 1) {
			/* point at what stands where the value should be */
			size_t pos = (size_t)k->end + 1;
			while (pos < len && (js[pos] == ' ' || js[pos] == '\t' || js[pos] == '\n' || js[pos] == '\r' ||
			                     js[pos] == ':'))
				pos++;
			fail_at(path, js, pos, err, errlen, "expected \"key\": value");
			goto out;
		}
		int next = skip_tokens(t, i);
		long kl = json_unescape(js + k->start, (size_t)(k->end - k->start), key);
		if (kl < 0) {
			fail_at(path, js, (size_t)k->start, err, errlen, "invalid string escape in key");
			goto out;
		}
		key[kl] = '\0';
		long vl = -1;
		if (v->type == JSMN_STRING) {
			vl = json_unescape(js + v->start, (size_t)(v->end - v->start), val);
		} else if (v->type == JSMN_PRIMITIVE) {
			size_t pl = (size_t)(v->end - v->start);
			const char *s = js + v->start;
			size_t d = s[0] == '-' ? 1 : 0;
			size_t first = d;
			while (d < pl && s[d] >= '0' && s[d] <= '9')
				d++;
			int leading_zero = s[first] == '0' && pl > first + 1;
			if (d == pl && pl > first && pl < 20 && !leading_zero) {
				memcpy(val, s, pl);
				vl = (long)pl;
			}
		} else if (v->type == JSMN_OBJECT && v->size == 1 && t[i + 2].type == JSMN_STRING &&
		           t[i + 2].end - t[i + 2].start == 6 && memcmp(js + t[i + 2].start, "base64", 6) == 0 &&
		           t[i + 3].type == JSMN_STRING) {
			vl = uf_base64_decode(val, js + t[i + 3].start, (size_t)(t[i + 3].end - t[i + 3].start));
		}
		i = next;
		if (vl < 0) {
			snprintf(err, errlen,
			         "kv file %s: key '%.40s': value must be a string, an integer or {\"base64\": \"...\"}",
			         path, key);
			goto out;
		}
		const char *why = fn(arg, key, (size_t)kl, val, (size_t)vl);
		if (why) {
			fail_at(path, js, (size_t)k->start, err, errlen, why);
			goto out;
		}
	}
	rc = 0;
out:
	free(t);
	free(key);
	free(val);
	return rc;
}
