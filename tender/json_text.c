/*
 * json_text.c - JSON text the tender writes: string escaping, and base64 for
 * bytes that are not UTF-8.
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

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
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
		size_t l = utf8_seq(p + i, n - i);
		if (l == 0)
			return 0;
		i += l;
	}
	return 1;
}

int uf_kv_key_ok(const char *key, size_t n)
{
	return n > 0 && n <= 512 && !memchr(key, 0, n) && uf_utf8_valid(key, n);
}

size_t uf_json_escape(char *out, const char *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		size_t l = utf8_seq(p + i, len - i);
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

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t uf_base64_encode(char *out, const char *in, size_t len)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0, i = 0;
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	return o;
}

long uf_base64_decode(char *out, const char *in, size_t len)
{
	size_t o = 0;
	uint32_t v = 0;
	int bits = 0;
	if (len % 4)
		return -1;
	for (size_t i = 0; i < len; i++) {
		const char *c = strchr(b64, in[i]);
		if (in[i] == '=') {
			if (i < len - 2 || (i == len - 2 && in[len - 1] != '='))
				return -1;
			break;
		}
		if (!c || !in[i])
			return -1;
		v = v << 6 | (uint32_t)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)(v >> bits);
		}
	}
	return (long)o;
}
