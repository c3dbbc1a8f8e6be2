/*
 * dlog.c - the daemon's own log: one record per line on stderr (the state
 * dir's unifaasd.log), `time=... level=... key=value ...`.
 *
 * Every record goes through dlog(), and every value in it through one
 * escaper, so text that came from outside (a unit's last line, a Redis
 * error, a manifest's file name) can never add a field or a line: the
 * format's literal text is the daemon's own (keys, fixed words); each
 * conversion (%s, %d, ...) is a value, written bare when it is a plain
 * token (printable ASCII without space, '"', '=' or '\') and otherwise
 * quoted, with '"' and '\' escaped, \n \r \t, other control bytes and
 * invalid UTF-8 as \xHH (valid UTF-8 is kept).  A conversion the format
 * already wraps in quotes (`reason="%s"`) is escaped inside them.  One
 * record is one write(2).  Conversions: d i u x X o c s p and %%, with
 * flags, width, precision (also `*`) and the length modifiers hh h l ll z
 * j t.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rules.h"
#include "unifaasd.h"

#define DLOG_LINE_MAX 4096

struct out {
	char *buf;
	size_t len, cap; /* cap keeps room for a closing quote and the newline */
};

static void put(struct out *o, const char *s, size_t n)
{
	if (n > o->cap - o->len)
		n = o->cap - o->len;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static int plain(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] <= ' ' || v[i] > '~' || v[i] == '"' || v[i] == '=' || v[i] == '\\')
			return 0;
	return n > 0;
}

/* v escaped for the inside of a quoted value; whole escapes only */
static void put_escaped(struct out *o, const char *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)v[i];
		char e[8];
		size_t k = 1, el;
		if (c == '"' || c == '\\')
			el = (size_t)snprintf(e, sizeof(e), "\\%c", c);
		else if (c == '\n' || c == '\r' || c == '\t')
			el = (size_t)snprintf(e, sizeof(e), "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
		else if (c >= 0x80 && (k = uf_utf8_seq((const unsigned char *)v + i, n - i)) > 0)
			el = 0; /* a valid UTF-8 sequence, copied as is */
		else if (c < 0x20 || c >= 0x7f)
			k = 1, el = (size_t)snprintf(e, sizeof(e), "\\x%02x", c);
		else
			e[0] = (char)c, el = 1;
		size_t need = el ? el : k;
		if (o->cap - o->len < need)
			return;
		if (el)
			put(o, e, el);
		else
			put(o, v + i, k);
		i += k;
	}
}

void dlog_value(char *out, size_t cap, const char *v, size_t n)
{
	struct out o = {out, 0, cap > 2 ? cap - 2 : 0};
	if (cap == 0)
		return;
	if (plain(v, n)) {
		put(&o, v, n);
	} else {
		put(&o, "\"", 1);
		put_escaped(&o, v, n);
		o.cap += 1;
		put(&o, "\"", 1);
	}
	out[o.len < cap ? o.len : cap - 1] = '\0';
}

/* One conversion at *f (just past '%'): formats its argument into val. */
static size_t convert(const char **f, va_list *ap, char *val, size_t cap)
{
	char spec[32] = "%";
	size_t sl = 1;
	const char *p = *f;
	int star[2] = {-1, -1}, nstar = 0;
	while (*p && strchr("-+ #0123456789.*", *p) && sl < 16) {
		if (*p == '*' && nstar < 2)
			star[nstar++] = va_arg(*ap, int);
		spec[sl++] = *p++;
	}
	int longs = 0, sizet = 0, shorts = 0;
	while (*p && strchr("hlzjt", *p) && sl < 24) {
		longs += *p == 'l' || *p == 'j';
		sizet |= *p == 'z' || *p == 't';
		shorts += *p == 'h';
		spec[sl++] = *p++;
	}
	char conv = *p ? *p++ : 's';
	spec[sl++] = conv;
	spec[sl] = '\0';
	*f = p;
	int n;
#define FMT(arg)                                                                                                       \
	(nstar == 2 ? snprintf(val, cap, spec, star[0], star[1], arg)                                                  \
	 : nstar    ? snprintf(val, cap, spec, star[0], arg)                                                           \
	            : snprintf(val, cap, spec, arg))
	if (conv == 's') {
		const char *s = va_arg(*ap, const char *);
		n = FMT(s ? s : "(null)");
	} else if (conv == 'p') {
		n = FMT(va_arg(*ap, void *));
	} else if (conv == 'c') {
		n = FMT(va_arg(*ap, int));
	} else if (strchr("diuxXo", conv)) {
		int sgn = conv == 'd' || conv == 'i';
		if (sizet)
			n = sgn ? FMT(va_arg(*ap, ssize_t)) : FMT(va_arg(*ap, size_t));
		else if (longs >= 2)
			n = sgn ? FMT(va_arg(*ap, long long)) : FMT(va_arg(*ap, unsigned long long));
		else if (longs == 1)
			n = sgn ? FMT(va_arg(*ap, long)) : FMT(va_arg(*ap, unsigned long));
		else
			n = sgn ? FMT(va_arg(*ap, int)) : FMT(va_arg(*ap, unsigned int));
		(void)shorts; /* promoted to int */
	} else {
		n = snprintf(val, cap, "?%c", conv);
	}
#undef FMT
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* A record cut at the line's limit: drop a half-written escape and close
 * an open quote, so that it still parses. */
static void close_cut(char *line, size_t *len)
{
	int inq = 0;
	for (size_t i = 0; i < *len; i++) {
		if (inq && line[i] == '\\') {
			size_t need = line[i + 1 < *len ? i + 1 : i] == 'x' ? 4 : 2;
			if (i + need > *len) {
				*len = i;
				break;
			}
			i += need - 1;
		} else if (line[i] == '"') {
			inq = !inq;
		}
	}
	if (inq)
		line[(*len)++] = '"';
}

void dlog_format(char *line, size_t cap, const char *level, const char *fmt, va_list ap)
{
	char ts[40];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	struct out o = {line, 0, cap > 2 ? cap - 2 : 0};
	char head[96], val[DLOG_LINE_MAX], esc[DLOG_LINE_MAX];
	int hn = snprintf(head, sizeof(head), "time=%s.%03ldZ level=", ts, now.tv_nsec / 1000000);
	put(&o, head, (size_t)hn);
	dlog_value(esc, sizeof(esc), level, strlen(level));
	put(&o, esc, strlen(esc));
	put(&o, " ", 1);
	va_list aq;
	va_copy(aq, ap);
	for (const char *f = fmt; *f;) {
		if (*f != '%') {
			size_t n = strcspn(f, "%");
			put(&o, f, n);
			f += n;
			continue;
		}
		if (f[1] == '%') {
			put(&o, "%", 1);
			f += 2;
			continue;
		}
		f++;
		size_t vn = convert(&f, &aq, val, sizeof(val));
		if (o.len && line[o.len - 1] == '"' && *f == '"') /* already quoted by the format */
			put_escaped(&o, val, vn);
		else {
			dlog_value(esc, sizeof(esc), val, vn);
			put(&o, esc, strlen(esc));
		}
	}
	va_end(aq);
	if (o.len == o.cap)
		close_cut(line, &o.len);
	line[o.len++] = '\n';
	line[o.len] = '\0';
}

void dlog(const char *level, const char *fmt, ...)
{
	char line[DLOG_LINE_MAX + 2];
	va_list ap;
	va_start(ap, fmt);
	dlog_format(line, sizeof(line), level, fmt, ap);
	va_end(ap);
	ssize_t w = write(2, line, strlen(line));
	(void)w; /* nowhere else to say it */
}
