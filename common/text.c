/*
 * text.c - encodings and small syntaxes that tender, daemon and CLI share
 * (declared in rules.h): base64 for bytes that are not UTF-8 text (the
 * `data_base64` of `unifaas run` and of the control API, the KV file's
 * {"base64": ...}), and durations such as `10s` or `5m` (`unifaas logs
 * --since`, the API's `since=`).  Pure functions, no I/O.
 */
#include <stdint.h>
#include <string.h>

#include "rules.h"

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

int uf_duration_ms(const char *s, uint64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
	uint64_t n = 0;
	size_t i = 0;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		if (n > (UF_DURATION_MAX_MS - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0)
		return -1;
	for (size_t u = 0; u < sizeof(units) / sizeof(*units); u++)
		if (!strcmp(s + i, units[u].unit)) {
			if (n > UF_DURATION_MAX_MS / units[u].ms)
				return -1;
			*ms = n * units[u].ms;
			return 0;
		}
	return -1;
}
