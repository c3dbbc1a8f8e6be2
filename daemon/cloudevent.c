/*
 * cloudevent.c - CloudEvents 1.0 (https://cloudevents.io, spec v1.0.2,
 * the JSON format and the HTTP binding), what the HTTP ingress accepts.
 *
 * Rules checked (the same in both modes; ../shared/testdata/cloudevents
 * holds the fixtures): specversion is "1.0"; id, source and type are
 * non-empty strings, source a URI-reference (no spaces or control
 * characters); time, when given, is RFC 3339; dataschema a non-empty URI;
 * datacontenttype and subject strings; extension names are a-z and 0-9
 * only; an extension value is a string, integer or boolean; data and
 * data_base64 are mutually exclusive and data_base64 is base64.  Every
 * refusal names the attribute.
 *
 * The payload kept: data_base64 decoded; data that is a string with a
 * datacontenttype that is not JSON, as its text; any other data as compact
 * JSON; no data, nothing.  The attributes (everything but data and
 * data_base64) are kept as given, as one JSON object.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cloudevent.h"

#define ATTR_NAME_MAX 63

static int refuse(struct ce_event *ev, const char *attr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct ce_event *ev, const char *attr, const char *fmt, ...)
{
	va_list ap;
	snprintf(ev->attr, sizeof(ev->attr), "%s", attr);
	va_start(ap, fmt);
	vsnprintf(ev->err, sizeof(ev->err), fmt, ap);
	va_end(ap);
	return -1;
}

int ce_type_is_json(const char *t)
{
	if (!t)
		return 0;
	size_t n = strcspn(t, ";");
	while (n && t[n - 1] == ' ')
		n--;
	return (n == 16 && !strncasecmp(t, "application/json", 16)) || (n == 9 && !strncasecmp(t, "text/json", 9)) ||
	       (n > 5 && !strncasecmp(t + n - 5, "+json", 5));
}

static int digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int num(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
static int rfc3339(const char *s)
{
	if (strlen(s) < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
	    (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
	    s[16] != ':' || !digits(s + 17, 2))
		return 0;
	int mo = num(s + 5, 2), d = num(s + 8, 2), h = num(s + 11, 2), mi = num(s + 14, 2), se = num(s + 17, 2);
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return 0;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && !p[1])
		return 1;
	return (*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) && !p[6] &&
	       num(p + 1, 2) <= 23 && num(p + 4, 2) <= 59;
}

static int uri_chars_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 0;
	return 1;
}

static int scheme(const char *s)
{
	if (!isalpha((unsigned char)*s))
		return 0;
	while (isalnum((unsigned char)*s) || *s == '+' || *s == '-' || *s == '.')
		s++;
	return *s == ':';
}

static int name_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > ATTR_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9')))
			return 0;
	return 1;
}

static int required_string(struct ce_event *ev, json_t *attrs, const char *k, const char *what)
{
	json_t *v = json_object_get(attrs, k);
	if (!v)
		return refuse(ev, k, "attribute '%s' is required (%s)", k, what);
	if (!json_is_string(v))
		return refuse(ev, k, "attribute '%s' must be a string (%s)", k, what);
	if (!json_string_length(v))
		return refuse(ev, k, "attribute '%s' must not be empty (%s)", k, what);
	return 0;
}

/* The rules of every attribute (the top of this file). */
static int check_attrs(json_t *attrs, struct ce_event *ev)
{
	const char *k;
	json_t *v;
	if (required_string(ev, attrs, "specversion", "\"1.0\"") < 0)
		return -1;
	if (strcmp(json_string_value(json_object_get(attrs, "specversion")), "1.0"))
		return refuse(ev, "specversion", "attribute 'specversion' is '%s': only \"1.0\" is served",
		              json_string_value(json_object_get(attrs, "specversion")));
	if (required_string(ev, attrs, "id", "unique per source") < 0 ||
	    required_string(ev, attrs, "source", "a URI-reference such as /device/42") < 0 ||
	    required_string(ev, attrs, "type", "such as com.example.reading") < 0)
		return -1;
	if (!uri_chars_ok(json_string_value(json_object_get(attrs, "source"))))
		return refuse(ev, "source",
		              "attribute 'source' is not a URI-reference (no spaces or control characters)");
	json_object_foreach(attrs, k, v)
	{
		if (!name_ok(k))
			return refuse(ev, k, "attribute name '%s': CloudEvents names are 1-%d of a-z and 0-9 only", k,
			              ATTR_NAME_MAX);
		if (!strcmp(k, "time")) {
			if (!json_is_string(v) || !rfc3339(json_string_value(v)))
				return refuse(ev, k,
				              "attribute 'time' must be an RFC 3339 timestamp such as "
				              "2025-03-01T10:01:00Z");
		} else if (!strcmp(k, "dataschema")) {
			if (!json_is_string(v) || !scheme(json_string_value(v)) || !uri_chars_ok(json_string_value(v)))
				return refuse(ev, k, "attribute 'dataschema' must be an absolute URI");
		} else if (!strcmp(k, "datacontenttype") || !strcmp(k, "subject")) {
			if (!json_is_string(v) || !json_string_length(v))
				return refuse(ev, k, "attribute '%s' must be a non-empty string", k);
		} else if (!json_is_string(v) && !json_is_integer(v) && !json_is_boolean(v)) {
			return refuse(ev, k, "attribute '%s': an extension's value is a string, integer or boolean", k);
		}
	}
	return 0;
}

/* data_base64 into ev->data; -1 when it is not base64. */
static int base64(const char *s, size_t n, struct ce_event *ev)
{
	if (n % 4)
		return -1;
	ev->data = malloc(n / 4 * 3 + 1);
	if (!ev->data)
		return -1;
	int got = n ? EVP_DecodeBlock((unsigned char *)ev->data, (const unsigned char *)s, (int)n) : 0;
	if (got < 0)
		return -1;
	size_t pad = n && s[n - 1] == '=' ? (n > 1 && s[n - 2] == '=' ? 2 : 1) : 0;
	ev->len = (size_t)got - pad;
	return 0;
}

static int set_data(json_t *root, struct ce_event *ev)
{
	json_t *data = json_object_get(root, "data"), *b64 = json_object_get(root, "data_base64");
	if (data && b64)
		return refuse(ev, "data_base64", "'data' and 'data_base64' are both given: send one of them");
	if (b64) {
		if (!json_is_string(b64) || base64(json_string_value(b64), json_string_length(b64), ev) < 0)
			return refuse(ev, "data_base64", "'data_base64' is not base64 (RFC 4648, padded)");
		return 0;
	}
	if (!data)
		return 0;
	const char *type = json_string_value(json_object_get(root, "datacontenttype"));
	if (json_is_string(data) && type && !ce_type_is_json(type)) {
		ev->len = json_string_length(data);
		ev->data = malloc(ev->len + 1);
		if (ev->data)
			memcpy(ev->data, json_string_value(data), ev->len);
	} else {
		ev->data = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
		ev->len = ev->data ? strlen(ev->data) : 0;
	}
	return ev->data ? 0 : refuse(ev, "data", "out of memory");
}

int ce_structured(const char *body, size_t len, struct ce_event *ev)
{
	json_error_t je;
	memset(ev, 0, sizeof(*ev));
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return refuse(ev, "body", "the body is not a JSON CloudEvent: line %d, column %d: %s", je.line,
		              je.column, je.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return refuse(ev, "body", "the body is not a JSON object: a structured CloudEvent is one");
	}
	ev->attrs = json_deep_copy(root);
	json_object_del(ev->attrs, "data");
	json_object_del(ev->attrs, "data_base64");
	int rc = check_attrs(ev->attrs, ev) < 0 || set_data(root, ev) < 0 ? -1 : 0;
	json_decref(root);
	return rc;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

int ce_binary(const char *const *names, const char *const *values, size_t n, const char *content_type, const char *body,
              size_t len, struct ce_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->attrs = json_object();
	for (size_t i = 0; i < n; i++) {
		char name[ATTR_NAME_MAX + 8], value[4096];
		const char *v = values[i] ? values[i] : "";
		size_t o = 0;
		snprintf(name, sizeof(name), "%s", names[i] + 3);
		for (char *p = name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		const char *who = name[0] ? name : names[i]; /* "ce-" alone: no name to give */
		for (size_t j = 0; v[j]; j++) {
			int h = v[j] == '%' ? hexval(v[j + 1]) : 0, l = v[j] == '%' && h >= 0 ? hexval(v[j + 2]) : 0;
			if (o + 1 >= sizeof(value))
				return refuse(ev, who, "header '%s': over %zu bytes", names[i], sizeof(value) - 1);
			if (v[j] != '%') {
				value[o++] = v[j];
				continue;
			}
			if (h < 0 || l < 0 || (h << 4 | l) == 0)
				return refuse(ev, who,
				              "header '%s': a '%%' must be followed by two hex digits (not %%00)",
				              names[i]);
			value[o++] = (char)(h << 4 | l);
			j += 2;
		}
		value[o] = 0;
		if (strlen(names[i]) <= 3 || !name_ok(name))
			return refuse(ev, who, "header '%s': CloudEvents names are 1-%d of a-z and 0-9 only", names[i],
			              ATTR_NAME_MAX);
		json_t *s = json_stringn(value, o);
		if (!s)
			return refuse(ev, who, "header '%s': its value is not UTF-8 once percent-decoded", names[i]);
		json_object_set_new(ev->attrs, name, s);
	}
	if (content_type) {
		json_t *s = json_string(content_type);
		if (!s)
			return refuse(ev, "datacontenttype", "Content-Type is not UTF-8");
		json_object_set_new(ev->attrs, "datacontenttype", s);
	}
	if (check_attrs(ev->attrs, ev) < 0)
		return -1;
	if (len && !(ev->data = malloc(len)))
		return refuse(ev, "data", "out of memory");
	if (len)
		memcpy(ev->data, body, len);
	ev->len = len;
	return 0;
}

void ce_event_free(struct ce_event *ev)
{
	json_decref(ev->attrs);
	free(ev->data);
	ev->attrs = NULL;
	ev->data = NULL;
}
