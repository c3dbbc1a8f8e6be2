/*
 * manifest.c - workflow manifests (ARCHITECTURE §6): YAML in, a checked
 * struct uf_manifest out, or one message per problem; never half-checked.
 * Three passes, each reporting all it finds; one runs only if those before
 * it found nothing:
 *  1. libyaml loads the text (syntax errors get line:column) and walk_*()
 *     checks the node tree against the user-facing key tables (mf_top,
 *     mf_fn, ...): unknown keys with the nearest valid one, types, ranges,
 *     names, duplicates.  It records the line of every key path (the line
 *     index) and builds a canonical document shaped like struct
 *     uf_manifest: functions a list with name and line, env two lists, push
 *     always a list, memory in bytes, defaults filled in, images absolute.
 *  2. libcyaml loads that document against mf_schema into struct
 *     uf_manifest (and uf_manifest_free frees it).  libcyaml cannot express
 *     user-chosen keys (functions:, env:) or "string or list" (push:), and
 *     stops at the first error with no line: hence pass 1.  Failing here is
 *     an internal bug.
 *  3. Checks across keys on the struct: unit limits, loops, one listener per
 *     queue, ingress wiring, env/secrets, images; lines from the line index.
 * Messages: `file:line: key.path: what (hint)`, one line each, at most 50.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memrchr, PATH_MAX */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cyaml/cyaml.h>
#include <yaml.h>

#include "admission.h"
#include "egress.h"
#include "launch.h"
#include "manifest.h"
#include "topic.h"
#include "rules.h"
#include "uf_abi.h"

#define MF_MAX_ERRORS    50
#define MF_PATH_MAX      512              /* key paths in messages */
#define MF_COMPONENT_MAX 64               /* bytes of one key shown in a path */
#define MF_SHOW_MAX      40               /* bytes of a bad value quoted in a message */
#define MF_VARS_MAX      UF_FN_VARS_MAX   /* env + secrets (launch.h) */
#define MF_VALUE_MAX     UF_ENV_VALUE_MAX /* bytes of one env value */
#define MF_VAR_MAX       UF_ENV_NAME_MAX  /* bytes of a variable name */
#define MF_TOPIC_MAX     UF_TOPIC_MAX
#define MF_HTTP_PATH_MAX 1024
#define MF_UNITS_MAX     1024
#define MF_MEM_ALIGN     (2u << 20) /* the tender maps guest memory in 2 MiB pages */
#define MF_MEM_DEFAULT   (8u << 20)
#define MF_QUOTA_MIN     (UINT64_C(1) << 20) /* storage_quota: 1MiB..1024GiB */
#define MF_QUOTA_MAX     (UINT64_C(1) << 40)

/* ---- the user-facing keys ------------------------------------------------ */

enum mf_kind {
	MF_STR,       /* a string, checked by `check` */
	MF_IMAGE,     /* a path, made absolute */
	MF_UINT,      /* an integer in min..max */
	MF_SIZE,      /* bytes: 8MiB, 512KiB, 1GiB or a plain number */
	MF_BOOL,      /* true or false */
	MF_QUEUES,    /* a queue name or a list of them */
	MF_LIST,      /* a list of strings, each checked by `check` */
	MF_ENV,       /* a mapping NAME: value */
	MF_MAP,       /* a mapping with the keys `sub` */
	MF_FLAT,      /* same, but its keys land in the parent's canonical mapping */
	MF_FUNCTIONS, /* a mapping name: function */
	MF_ROUTES,    /* a list of mappings with the keys `sub` */
};

/* NULL if s[0..n) is fine, else why not ("is not a valid ..."). */
typedef const char *(*mf_check_fn)(const char *s, size_t n);

struct mf_key {
	const char *key;
	enum mf_kind kind;
	int required;
	uint64_t def, min, max; /* MF_UINT, MF_SIZE (and MF_BOOL's def) */
	uint64_t align;         /* MF_SIZE: a multiple of it (0: any) */
	const char *what;       /* what the value should be: "expected <what>" */
	const char *item;       /* MF_QUEUES, MF_LIST: what each entry should be */
	mf_check_fn check;      /* MF_STR, MF_QUEUES, MF_LIST entries */
	const struct mf_key *sub;
	const char *unserved; /* checked, then refused: the platform does not serve it yet (why, what instead) */
};

static const char *check_name(const char *s, size_t n);
static const char *check_short_name(const char *s, size_t n);
static const char *check_var(const char *s, size_t n);
static const char *check_url(const char *s, size_t n);
static const char *check_topic(const char *s, size_t n);
static const char *check_publish(const char *s, size_t n);
static const char *check_http_path(const char *s, size_t n);

#define UINT_KEY(k, d, lo, hi)                                                                                         \
	{                                                                                                              \
		.key = k, .kind = MF_UINT, .def = d, .min = lo, .max = hi, .what = "an integer"                        \
	}

static const struct mf_key mf_scale[] = {
    UINT_KEY("min_units", 0, 0, MF_UNITS_MAX),
    UINT_KEY("max_units", 4, 1, MF_UNITS_MAX),
    UINT_KEY("events_per_unit", 64, 1, 1000000),
    UINT_KEY("grace_ms", 20, 0, 3600000),
    UINT_KEY("idle_ms", 2000, 0, 3600000),
    UINT_KEY("overflow", 100000, 1, UINT32_MAX),
    UINT_KEY("lifetime_s", 0, 0, 2592000), /* 30 days; bounded by unit_lifetime_s at deploy */
    {0},
};

#define LIMIT_SIZE(k, hi)                                                                                              \
	{                                                                                                              \
		.key = k, .kind = MF_SIZE, .def = 0, .min = 1, .max = hi, .what = "a size such as 1MiB"                \
	}
/* 0 (absent): the node's; see common/event_limits.h */
static const struct mf_key mf_limits[] = {
    LIMIT_SIZE("value_bytes", UF_LIM_VALUE_BYTES_MAX),
    LIMIT_SIZE("event_bytes", UF_LIM_EVENT_BYTES_MAX),
    UINT_KEY("writes_per_event", 0, 1, UF_LIM_WRITES_MAX),
    LIMIT_SIZE("commit_bytes", UF_LIM_COMMIT_BYTES_MAX),
    {0},
};

static const struct mf_key mf_fn[] = {
    {.key = "image", .kind = MF_IMAGE, .required = 1, .what = "a path to a .uf image"},
    {.key = "listen", .kind = MF_STR, .required = 1, .what = "a queue name", .check = check_name},
    {.key = "push",
     .kind = MF_QUEUES,
     .what = "a queue name or a list of them",
     .item = "a queue name",
     .check = check_name},
    {.key = "env", .kind = MF_ENV, .what = "a mapping of NAME: value"},
    {.key = "memory",
     .kind = MF_SIZE,
     .def = MF_MEM_DEFAULT,
     .min = UF_MEM_MIN,
     .max = UF_MEM_MAX,
     .align = MF_MEM_ALIGN,
     .what = "a size such as 8MiB"},
    {.key = "scale", .kind = MF_MAP, .what = "a mapping", .sub = mf_scale},
    {.key = "limits", .kind = MF_MAP, .what = "a mapping", .sub = mf_limits},
    UINT_KEY("timeout_ms", 1000, 0, 3600000),
    UINT_KEY("batch", 64, 1, UF_BATCH_MAX),
    UINT_KEY("retries", 3, 0, 100),
    UINT_KEY("retry_delay_ms", 0, 0, UF_DEFER_MAX_MS),
    {.key = "net", .kind = MF_BOOL, .what = "true or false"},
    {.key = "publish",
     .kind = MF_LIST,
     .max = UF_PUBLISH_MAX,
     .what = "a list of MQTT topic filters",
     .item = "an MQTT topic filter",
     .check = check_publish},
    {.key = "egress", .kind = MF_LIST, .what = "a list of URL prefixes", .item = "a URL prefix", .check = check_url},
    {.key = "secrets",
     .kind = MF_LIST,
     .what = "a list of variable names",
     .item = "a variable name",
     .check = check_var},
    {0},
};

static const struct mf_key mf_mqtt[] = {
    {.key = "topic", .kind = MF_STR, .required = 1, .what = "an MQTT topic filter", .check = check_topic},
    {.key = "queue", .kind = MF_STR, .required = 1, .what = "a queue name", .check = check_name},
    UINT_KEY("qos", 1, 0, 1),
    {0},
};

static const struct mf_key mf_http[] = {
    {.key = "path", .kind = MF_STR, .required = 1, .what = "a URL path", .check = check_http_path},
    {.key = "queue", .kind = MF_STR, .required = 1, .what = "a queue name", .check = check_name},
    {0},
};

static const struct mf_key mf_ingress[] = {
    {.key = "mqtt", .kind = MF_ROUTES, .what = "a list of {topic, queue} entries", .sub = mf_mqtt},
    {.key = "http", .kind = MF_ROUTES, .what = "a list of {path, queue} entries", .sub = mf_http},
    {0},
};

static const struct mf_key mf_top[] = {
    {.key = "name", .kind = MF_STR, .required = 1, .what = "a workflow name", .check = check_short_name},
    UINT_KEY("max_units", 16, 1, MF_UNITS_MAX),
    UINT_KEY("share", UF_SHARE_DEFAULT, 1, UF_SHARE_MAX), /* common/admission.h */
    {.key = "storage_quota",                              /* 0: the node's storage_quota (daemon/quota.c) */
     .kind = MF_SIZE,
     .min = MF_QUOTA_MIN,
     .max = MF_QUOTA_MAX,
     .what = "a size such as 64MiB"},
    UINT_KEY("unread_max_entries", 0, 1, UINT64_C(1) << 40), /* 0: the node's (retention.c) */
    UINT_KEY("unread_max_age_ms", 0, 1, UINT64_C(1) << 40),
    {.key = "functions", .kind = MF_FUNCTIONS, .required = 1, .what = "a mapping of function names"},
    {.key = "ingress", .kind = MF_FLAT, .what = "a mapping with mqtt: and http:", .sub = mf_ingress},
    {0},
};

/* ---- the canonical document, as libcyaml loads it ------------------------ */

static const cyaml_schema_value_t mf_string = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

#define STRINGS(key, st, member, count)                                                                                \
	CYAML_FIELD_SEQUENCE_COUNT(key, CYAML_FLAG_POINTER, st, member, count, &mf_string, 0, CYAML_UNLIMITED)

static const cyaml_schema_field_t mf_scale_fields[] = {
    CYAML_FIELD_UINT("min_units", CYAML_FLAG_DEFAULT, struct uf_scale, min_units),
    CYAML_FIELD_UINT("max_units", CYAML_FLAG_DEFAULT, struct uf_scale, max_units),
    CYAML_FIELD_UINT("events_per_unit", CYAML_FLAG_DEFAULT, struct uf_scale, events_per_unit),
    CYAML_FIELD_UINT("grace_ms", CYAML_FLAG_DEFAULT, struct uf_scale, grace_ms),
    CYAML_FIELD_UINT("idle_ms", CYAML_FLAG_DEFAULT, struct uf_scale, idle_ms),
    CYAML_FIELD_UINT("overflow", CYAML_FLAG_DEFAULT, struct uf_scale, overflow),
    CYAML_FIELD_UINT("lifetime_s", CYAML_FLAG_DEFAULT, struct uf_scale, lifetime_s),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t mf_limits_fields[] = {
    CYAML_FIELD_UINT("value_bytes", CYAML_FLAG_DEFAULT, struct uf_fn_limits, value_bytes),
    CYAML_FIELD_UINT("event_bytes", CYAML_FLAG_DEFAULT, struct uf_fn_limits, event_bytes),
    CYAML_FIELD_UINT("writes_per_event", CYAML_FLAG_DEFAULT, struct uf_fn_limits, writes_per_event),
    CYAML_FIELD_UINT("commit_bytes", CYAML_FLAG_DEFAULT, struct uf_fn_limits, commit_bytes),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t mf_function_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct uf_function, name, 1, UF_QUEUE_MAX),
    CYAML_FIELD_STRING_PTR("image", CYAML_FLAG_POINTER, struct uf_function, image, 1, PATH_MAX - 1),
    CYAML_FIELD_STRING_PTR("listen", CYAML_FLAG_POINTER, struct uf_function, listen, 1, UF_QUEUE_MAX),
    STRINGS("push", struct uf_function, push, npush),
    STRINGS("env_keys", struct uf_function, env_keys, nenv),
    STRINGS("env_values", struct uf_function, env_values, nenv),
    STRINGS("egress", struct uf_function, egress, negress),
    STRINGS("publish", struct uf_function, publish, npublish),
    STRINGS("secrets", struct uf_function, secrets, nsecrets),
    CYAML_FIELD_UINT("memory", CYAML_FLAG_DEFAULT, struct uf_function, memory),
    CYAML_FIELD_UINT("timeout_ms", CYAML_FLAG_DEFAULT, struct uf_function, timeout_ms),
    CYAML_FIELD_UINT("batch", CYAML_FLAG_DEFAULT, struct uf_function, batch),
    CYAML_FIELD_UINT("retries", CYAML_FLAG_DEFAULT, struct uf_function, retries),
    CYAML_FIELD_UINT("retry_delay_ms", CYAML_FLAG_DEFAULT, struct uf_function, retry_delay_ms),
    CYAML_FIELD_BOOL("net", CYAML_FLAG_DEFAULT, struct uf_function, net),
    CYAML_FIELD_MAPPING("scale", CYAML_FLAG_DEFAULT, struct uf_function, scale, mf_scale_fields),
    CYAML_FIELD_MAPPING("limits", CYAML_FLAG_DEFAULT, struct uf_function, limits, mf_limits_fields),
    CYAML_FIELD_UINT("line", CYAML_FLAG_DEFAULT, struct uf_function, line),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t mf_function = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct uf_function, mf_function_fields),
};

static const cyaml_schema_field_t mf_mqtt_fields[] = {
    CYAML_FIELD_STRING_PTR("topic", CYAML_FLAG_POINTER, struct uf_ingress_mqtt, topic, 1, MF_TOPIC_MAX),
    CYAML_FIELD_STRING_PTR("queue", CYAML_FLAG_POINTER, struct uf_ingress_mqtt, queue, 1, UF_QUEUE_MAX),
    CYAML_FIELD_UINT("qos", CYAML_FLAG_DEFAULT, struct uf_ingress_mqtt, qos),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t mf_mqtt_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct uf_ingress_mqtt, mf_mqtt_fields),
};

static const cyaml_schema_field_t mf_http_fields[] = {
    CYAML_FIELD_STRING_PTR("path", CYAML_FLAG_POINTER, struct uf_ingress_http, path, 1, MF_HTTP_PATH_MAX),
    CYAML_FIELD_STRING_PTR("queue", CYAML_FLAG_POINTER, struct uf_ingress_http, queue, 1, UF_QUEUE_MAX),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t mf_http_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct uf_ingress_http, mf_http_fields),
};

static const cyaml_schema_field_t mf_manifest_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct uf_manifest, name, 1, UF_QUEUE_MAX),
    CYAML_FIELD_UINT("max_units", CYAML_FLAG_DEFAULT, struct uf_manifest, max_units),
    CYAML_FIELD_UINT("share", CYAML_FLAG_DEFAULT, struct uf_manifest, share),
    CYAML_FIELD_UINT("storage_quota", CYAML_FLAG_DEFAULT, struct uf_manifest, storage_quota),
    CYAML_FIELD_UINT("unread_max_entries", CYAML_FLAG_DEFAULT, struct uf_manifest, unread_max_entries),
    CYAML_FIELD_UINT("unread_max_age_ms", CYAML_FLAG_DEFAULT, struct uf_manifest, unread_max_age_ms),
    CYAML_FIELD_SEQUENCE_COUNT("functions", CYAML_FLAG_POINTER, struct uf_manifest, functions, nfunctions, &mf_function,
                               1, CYAML_UNLIMITED),
    CYAML_FIELD_SEQUENCE_COUNT("mqtt", CYAML_FLAG_POINTER, struct uf_manifest, mqtt, nmqtt, &mf_mqtt_entry, 0,
                               CYAML_UNLIMITED),
    CYAML_FIELD_SEQUENCE_COUNT("http", CYAML_FLAG_POINTER, struct uf_manifest, http, nhttp, &mf_http_entry, 0,
                               CYAML_UNLIMITED),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t mf_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct uf_manifest, mf_manifest_fields),
};

static const cyaml_config_t mf_free_config = {
    .mem_fn = cyaml_mem,
    .log_level = CYAML_LOG_ERROR,
};

/* ---- parse state, messages, line index ------------------------------------ */

struct mf_line {
	char *path;
	unsigned line;
};

struct mf_ctx {
	const char *file;
	char *err;
	size_t errlen, used;
	unsigned nerr, dropped;
	int full; /* err has no room for another line */
	yaml_document_t *in;
	unsigned char *walked; /* input collections already walked: aliases */
	yaml_document_t out;   /* the canonical document (pass 1 -> 2) */
	int out_live, oom;
	struct mf_line *lines;
	size_t nlines, linecap;
	int lines_sorted; /* by path, once the walk is over (line_of) */
	char path[MF_PATH_MAX];
	size_t pathlen;
	char base[PATH_MAX];          /* absolute; relative images are resolved against it */
	const struct uf_limits *node; /* the node's limits, the ceiling of a function's (NULL: none) */
};

/*
 * Appends one finished message line to the caller's buffer.  Lines go in
 * whole; once one does not fit, it and all later ones are dropped (counted in
 * `dropped`).  Only a first line that alone is too long is cut.
 */
static int err_append(struct mf_ctx *c, const char *msg)
{
	size_t n = strlen(msg), sep = c->used > 0;
	if (!c->err || c->errlen == 0 || c->full)
		return -1;
	if (c->used + sep + n >= c->errlen) {
		c->full = c->used > 0;
		if (c->full)
			return -1;
		n = c->errlen - 1;
	}
	if (sep)
		c->err[c->used++] = '\n';
	memcpy(c->err + c->used, msg, n);
	c->used += n;
	c->err[c->used] = '\0';
	return 0;
}

static size_t clamp(int n, size_t cap)
{
	return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* `file:line[:col]: path: message`; line 0, col 0 and an empty path are left out. */
static void mf_verr(struct mf_ctx *c, unsigned line, unsigned col, const char *path, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	c->nerr++;
	if (c->nerr > MF_MAX_ERRORS) {
		c->dropped++;
		return;
	}
	if (line && col)
		n = clamp(snprintf(msg, sizeof(msg), "%s:%u:%u: ", c->file, line, col), sizeof(msg));
	else if (line)
		n = clamp(snprintf(msg, sizeof(msg), "%s:%u: ", c->file, line), sizeof(msg));
	else
		n = clamp(snprintf(msg, sizeof(msg), "%s: ", c->file), sizeof(msg));
	if (path && *path)
		n += clamp(snprintf(msg + n, sizeof(msg) - n, "%s: ", path), sizeof(msg) - n);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	for (char *p = msg; *p; p++) /* one problem, one line */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (err_append(c, msg) < 0)
		c->dropped++;
}

__attribute__((format(printf, 4, 5))) static void mf_err(struct mf_ctx *c, unsigned line, const char *path,
                                                         const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mf_verr(c, line, 0, path, fmt, ap);
	va_end(ap);
}

/* A YAML syntax error: file:line:column. */
__attribute__((format(printf, 4, 5))) static void mf_err_col(struct mf_ctx *c, unsigned line, unsigned col,
                                                             const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mf_verr(c, line, col, NULL, fmt, ap);
	va_end(ap);
}

/* An error about the key path being walked. */
__attribute__((format(printf, 3, 4))) static void walk_err(struct mf_ctx *c, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mf_verr(c, line, 0, c->path, fmt, ap);
	va_end(ap);
}

/* Appends ".key" (or "key" at the top) to the current path; returns the old length. */
static size_t path_key(struct mf_ctx *c, const char *key, size_t n)
{
	size_t old = c->pathlen;
	if (n > MF_COMPONENT_MAX)
		n = MF_COMPONENT_MAX;
	int r = snprintf(c->path + old, sizeof(c->path) - old, "%s%.*s", old ? "." : "", (int)n, key);
	c->pathlen = old + clamp(r, sizeof(c->path) - old);
	return old;
}

static size_t path_index(struct mf_ctx *c, size_t i)
{
	size_t old = c->pathlen;
	int r = snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", i);
	c->pathlen = old + clamp(r, sizeof(c->path) - old);
	return old;
}

static void path_pop(struct mf_ctx *c, size_t old)
{
	c->pathlen = old;
	c->path[old] = '\0';
}

/* Remembers the line of the current key path, for the checks of pass 3. */
static void index_line(struct mf_ctx *c, unsigned line)
{
	if (c->oom)
		return;
	if (c->nlines == c->linecap) {
		size_t cap = c->linecap ? 2 * c->linecap : 64;
		struct mf_line *l = realloc(c->lines, cap * sizeof(*l));
		if (!l) {
			c->oom = 1;
			return;
		}
		c->lines = l;
		c->linecap = cap;
	}
	char *p = strdup(c->path);
	if (!p) {
		c->oom = 1;
		return;
	}
	c->lines[c->nlines++] = (struct mf_line){p, line};
	c->lines_sorted = 0;
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mf_line *)a)->path, ((const struct mf_line *)b)->path);
}

/* The line recorded for a key path, or `fallback`.  Used after the walk
 * (which records each path once): the index is sorted on first use, so
 * each look-up is a binary search, not a scan of every key. */
__attribute__((format(printf, 3, 4))) static unsigned line_of(struct mf_ctx *c, unsigned fallback, const char *fmt, ...)
{
	char path[MF_PATH_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (!c->lines_sorted && c->nlines)
		qsort(c->lines, c->nlines, sizeof(*c->lines), line_cmp);
	c->lines_sorted = 1;
	struct mf_line key = {path, 0},
	               *hit = c->nlines ? bsearch(&key, c->lines, c->nlines, sizeof(key), line_cmp) : NULL;
	return hit ? hit->line : fallback;
}

/* ---- small helpers -------------------------------------------------------- */

static unsigned line_at(const yaml_node_t *n)
{
	return (unsigned)n->start_mark.line + 1;
}

static const char *text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static int is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	const char *s = text(n);
	return n->data.scalar.length == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/* 'value' as quoted in messages, cut to MF_SHOW_MAX bytes. */
static const char *quote(const char *s, size_t n, char *buf, size_t len)
{
	if (n > MF_SHOW_MAX)
		snprintf(buf, len, "'%.*s...'", MF_SHOW_MAX, s);
	else
		snprintf(buf, len, "'%.*s'", (int)n, s);
	return buf;
}

/* What a node is, for "got ..." in messages. */
static const char *describe(const yaml_node_t *n, char *buf, size_t len)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (is_null(n))
		return "nothing";
	return quote(text(n), n->data.scalar.length, buf, len);
}

static void type_err(struct mf_ctx *c, unsigned line, const char *what, const yaml_node_t *got)
{
	char buf[MF_SHOW_MAX + 8];
	walk_err(c, line, "expected %s, got %s", what, describe(got, buf, sizeof(buf)));
}

static size_t levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[MF_COMPONENT_MAX + 1];
	if (la > MF_COMPONENT_MAX || lb > MF_COMPONENT_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/*
 * The candidate nearest to `s`: within edit distance 2 and less than a whole
 * rewrite, or of which `s` is a prefix of 3 or more bytes; else NULL.
 */
static const char *nearest(const char *s, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t bestd = 3;
	for (size_t i = 0; i < n; i++) {
		size_t d = levenshtein(s, cands[i]);
		if (strlen(s) >= 3 && !strncmp(s, cands[i], strlen(s)))
			d = 1; /* a prefix: mem -> memory */
		if (d < bestd && d < strlen(cands[i])) {
			best = cands[i];
			bestd = d;
		}
	}
	return best;
}

/* ---- value checks --------------------------------------------------------- */

/* Queue names, and workflow and function names: the rules of rules.h. */
static const char *check_name(const char *s, size_t n)
{
	return uf_name_ok(UF_NAME_QUEUE, s, n) ? NULL : "is not a valid name (" UF_NAME_RULE_QUEUE ")";
}

static const char *check_short_name(const char *s, size_t n)
{
	return uf_name_ok(UF_NAME_WORKFLOW, s, n) ? NULL : "is not a valid name (" UF_NAME_RULE_SHORT ")";
}

static const char *check_var(const char *s, size_t n)
{
	return uf_name_ok(UF_NAME_VAR, s, n) ? NULL : "is not a valid variable name (" UF_NAME_RULE_VAR ")";
}

static int has_space_or_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return 1;
	return 0;
}

/* An egress prefix: the one URL rule (common/egress.h), so a prefix the
 * manifest accepts is one the egress server can match. */
static const char *check_url(const char *s, size_t n)
{
	struct uf_url u;
	const char *why;
	return uf_url_parse(s, n, &u, &why) < 0 ? why : NULL;
}

/* MQTT topic filter: the one rule (common/topic.h). */
static const char *check_topic(const char *s, size_t n)
{
	static char msg[128]; /* the manifest is checked on one thread */
	const char *why;
	if (uf_topic_filter_ok(s, n, &why))
		return NULL;
	snprintf(msg, sizeof(msg), "is not a valid MQTT topic filter (%s)", why);
	return msg;
}

/* A publish: filter: a topic filter the tender takes on its command line. */
static const char *check_publish(const char *s, size_t n)
{
	if (n > UF_PUBLISH_LEN)
		return "is longer than 1024 bytes";
	return check_topic(s, n);
}

static const char *check_http_path(const char *s, size_t n)
{
	if (n == 0 || s[0] != '/')
		return "does not start with '/'";
	if (n > MF_HTTP_PATH_MAX || has_space_or_control(s, n) || memchr(s, '?', n) || memchr(s, '#', n))
		return "is not a plain URL path (no spaces, '?', '#' or control characters; at most 1024 bytes)";
	if (memchr(s, '%', n))
		return "holds a '%': write the path as it reads, unescaped (clients may escape it)";
	size_t end = n;
	while (end > 1 && s[end - 1] == '/')
		end--;
	if (end == 1)
		return "is '/' alone: name the route, such as /readings (the URL is /<workflow><path>)";
	if (end >= 7 && !memcmp(s + end - 7, "/invoke", 7))
		return "ends in /invoke, which is reserved: POST <path>/invoke waits for the event's result";
	return NULL;
}

/* ---- the canonical document ---------------------------------------------- */

static int out_scalar(struct mf_ctx *c, const char *s, size_t n, yaml_scalar_style_t style)
{
	if (c->oom)
		return 0;
	int id = yaml_document_add_scalar(&c->out, NULL, (yaml_char_t *)s, (int)n, style);
	if (!id)
		c->oom = 1;
	return id;
}

static int out_str(struct mf_ctx *c, const char *s, size_t n)
{
	return out_scalar(c, s, n, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

static int out_uint(struct mf_ctx *c, uint64_t u)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)u);
	return out_scalar(c, buf, (size_t)n, YAML_PLAIN_SCALAR_STYLE);
}

static int out_collection(struct mf_ctx *c, int mapping)
{
	if (c->oom)
		return 0;
	int id = mapping ? yaml_document_add_mapping(&c->out, NULL, YAML_BLOCK_MAPPING_STYLE)
	                 : yaml_document_add_sequence(&c->out, NULL, YAML_BLOCK_SEQUENCE_STYLE);
	if (!id)
		c->oom = 1;
	return id;
}

static void out_pair(struct mf_ctx *c, int map, const char *key, int value)
{
	int k = out_scalar(c, key, strlen(key), YAML_PLAIN_SCALAR_STYLE);
	if (!c->oom && map && k && value && !yaml_document_append_mapping_pair(&c->out, map, k, value))
		c->oom = 1;
}

static void out_item(struct mf_ctx *c, int seq, int value)
{
	if (!c->oom && seq && value && !yaml_document_append_sequence_item(&c->out, seq, value))
		c->oom = 1;
}

/* ---- pass 1: walking the user's document ---------------------------------- */

static void walk_mapping(struct mf_ctx *c, const struct mf_key *tab, yaml_node_t *m, unsigned line, int out);

static yaml_node_t *node(struct mf_ctx *c, int id)
{
	return yaml_document_get_node(c->in, id);
}

/*
 * Every list or mapping is walked once; a second visit means an alias (which
 * could make the tree a cycle or blow it up), so those are refused.
 */
static int enter(struct mf_ctx *c, yaml_node_t *n, unsigned line)
{
	if (n->type == YAML_SCALAR_NODE)
		return 0;
	size_t i = (size_t)(n - c->in->nodes.start);
	if (c->walked[i]) {
		walk_err(c, line, "aliases of lists or mappings are not supported (write the value out)");
		return -1;
	}
	c->walked[i] = 1;
	return 0;
}

struct key_ref {
	const char *s;
	size_t len, j;
};

static int key_ref_cmp(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	int d = memcmp(x->s, y->s, x->len);
	return d ? d : x->j < y->j ? -1 : x->j > y->j;
}

/*
 * For each pair j of mapping m, the index of the first pair with the same
 * scalar key (j itself when it is the first or not a scalar): sorted once,
 * O(n log n), where comparing each key with all before it took 10.7 s for
 * 50,000 keys.  NULL when out of memory (c->oom set).
 */
static size_t *first_keys(struct mf_ctx *c, yaml_node_t *m, size_t n)
{
	struct key_ref *refs = calloc(n ? n : 1, sizeof(*refs));
	size_t *first = calloc(n ? n : 1, sizeof(*first)), k = 0;
	if (!refs || !first) {
		free(refs);
		free(first);
		c->oom = 1;
		return NULL;
	}
	for (size_t j = 0; j < n; j++) {
		yaml_node_t *kn = node(c, m->data.mapping.pairs.start[j].key);
		first[j] = j;
		if (kn && kn->type == YAML_SCALAR_NODE)
			refs[k++] = (struct key_ref){text(kn), kn->data.scalar.length, j};
	}
	qsort(refs, k, sizeof(*refs), key_ref_cmp);
	for (size_t i = 1; i < k; i++)
		if (refs[i].len == refs[i - 1].len && !memcmp(refs[i].s, refs[i - 1].s, refs[i].len))
			first[refs[i].j] = first[refs[i - 1].j];
	free(refs);
	return first;
}

/* Checks the key of pair j: a scalar, not a repeat (first: from
 * first_keys).  Returns it, or NULL (reported). */
static yaml_node_t *pair_key(struct mf_ctx *c, yaml_node_t *m, size_t j, const size_t *first, const char *noun)
{
	yaml_node_t *k = node(c, m->data.mapping.pairs.start[j].key);
	char buf[MF_SHOW_MAX + 8];
	if (!k)
		return NULL;
	if (k->type != YAML_SCALAR_NODE) {
		walk_err(c, line_at(k), "a %s must be a plain name, got %s", noun, describe(k, buf, sizeof(buf)));
		return NULL;
	}
	if (first[j] != j) {
		yaml_node_t *f = node(c, m->data.mapping.pairs.start[first[j]].key);
		walk_err(c, line_at(k), "duplicate %s %s (first at line %u)", noun,
		         quote(text(k), k->data.scalar.length, buf, sizeof(buf)), line_at(f));
		return NULL;
	}
	return k;
}

/* A string value: a scalar, not null, no NUL byte.  0, or -1 (reported). */
static int get_string(struct mf_ctx *c, const struct mf_key *k, yaml_node_t *v, unsigned line)
{
	if (v->type != YAML_SCALAR_NODE || is_null(v)) {
		type_err(c, line, k->what, v);
		return -1;
	}
	if (memchr(text(v), '\0', v->data.scalar.length)) {
		walk_err(c, line, "contains a NUL byte");
		return -1;
	}
	return 0;
}

/* A string checked by k->check; returns its canonical node, or 0. */
static int walk_string(struct mf_ctx *c, const struct mf_key *k, yaml_node_t *v, unsigned line)
{
	char buf[MF_SHOW_MAX + 8];
	if (get_string(c, k, v, line) < 0)
		return 0;
	const char *why = k->check ? k->check(text(v), v->data.scalar.length) : NULL;
	if (why) {
		walk_err(c, line, "%s %s", quote(text(v), v->data.scalar.length, buf, sizeof(buf)), why);
		return 0;
	}
	return out_str(c, text(v), v->data.scalar.length);
}

static int walk_image(struct mf_ctx *c, const struct mf_key *k, yaml_node_t *v, unsigned line)
{
	char path[PATH_MAX];
	if (get_string(c, k, v, line) < 0)
		return 0;
	const char *s = text(v);
	if (*s == '\0') {
		type_err(c, line, k->what, v);
		return 0;
	}
	while (s[0] == '.' && s[1] == '/')
		s += 2;
	int n = s[0] == '/' ? snprintf(path, sizeof(path), "%s", s)
	                    : snprintf(path, sizeof(path), "%s%s%s", c->base, strcmp(c->base, "/") ? "/" : "", s);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		walk_err(c, line, "the path is longer than %d bytes", PATH_MAX - 1);
		return 0;
	}
	return out_str(c, path, (size_t)n);
}

/* Decimal digits only; *neg for a leading '-'.  -1 if not a number, 1 on overflow. */
static int parse_u64(const char *s, size_t n, uint64_t *out, size_t *used, int *neg)
{
	size_t i = 0;
	uint64_t u = 0;
	int over = 0;
	*neg = n > 0 && s[0] == '-';
	i = (size_t)*neg;
	if (i == n || s[i] < '0' || s[i] > '9')
		return -1;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		if (u > (UINT64_MAX - 9) / 10)
			over = 1;
		u = u * 10 + (uint64_t)(s[i] - '0');
	}
	*out = u;
	*used = i;
	return over;
}

static int walk_uint(struct mf_ctx *c, const struct mf_key *k, yaml_node_t *v, unsigned line)
{
	uint64_t u;
	size_t used;
	int neg;
	if (!v)
		return out_uint(c, k->def);
	if (v->type != YAML_SCALAR_NODE || is_null(v)) {
		type_err(c, line, k->what, v);
		return 0;
	}
	const char *s = text(v);
	size_t n = v->data.scalar.length;
	int r = parse_u64(s, n, &u, &used, &neg);
	if (r < 0 || used != n) {
		type_err(c, line, k->what, v);
		return 0;
	}
	if (r > 0 || neg || u < k->min || u > k->max) {
		walk_err(c, line, "%.*s is out of range (%llu..%llu)", (int)(n > 24 ? 24 : n), s,
		         (unsigned long long)k->min, (unsigned long long)k->max);
		return 0;
	}
	return out_uint(c, u);
}

/* n bytes as the manifest would write it: 1GiB, 8MiB, 512KiB or 100. */
static const char *size_text(char *buf, size_t len, uint64_t n)
{
	unsigned long long u = (unsigned long long)n;
	if (n && n % (1u << 30) == 0)
		snprintf(buf, len, "%lluGiB", u >> 30);
	else if (n && n % (1u << 20) == 0)
		snprintf(buf, len, "%lluMiB", u >> 20);
	else if (n && n % (1u << 10) == 0)
		snprintf(buf, len, "%lluKiB", u >> 10);
	else
		snprintf(buf, len, "%llu", u);
	return buf;
}

/* 8MiB, 512KiB, 1GiB (one space allowed before the unit) or plain bytes. */
static int walk_size(struct mf_ctx *c, const struct mf_key *k, yaml_node_t *v, unsigned line)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {{"", 1}, {"KiB", 1u << 10}, {"MiB", 1u << 20}, {"GiB", 1u << 30}};
	char buf[MF_SHOW_MAX + 8];
	uint64_t u, mult = 0;
	size_t used;
	int neg;
	if (!v)
		return out_uint(c, k->def);
	if (v->type != YAML_SCALAR_NODE || is_null(v) || strlen(text(v)) != v->data.scalar.length ||
	    parse_u64(text(v), v->data.scalar.length, &u, &used, &neg) < 0 || neg) {
		type_err(c, line, k->what, v);
		return 0;
	}
	const char *s = text(v), *unit = s + used + (s[used] == ' ');
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(unit, units[i].unit))
			mult = units[i].mult;
	if (!mult) {
		walk_err(c, line, "unknown size unit '%.16s' in %s (use KiB, MiB or GiB, e.g. 8MiB)", unit,
		         quote(s, v->data.scalar.length, buf, sizeof(buf)));
		return 0;
	}
	if (u > k->max / mult || u * mult < k->min) {
		char lo[32], hi[32];
		walk_err(c, line, "%s is out of range (%s..%s)", quote(s, v->data.scalar.length, buf, sizeof(buf)),
		         size_text(lo, sizeof(lo), k->min), size_text(hi, sizeof(hi), k->max));
		return 0;
	}
	if (k->align && (u * mult) % k->align) {
		walk_err(c, line, "%s is not a multiple of 2MiB", quote(s, v->data.scalar.length, buf, sizeof(buf)));
		return 0;
	}
	return out_uint(c, u * mult);
}

static int walk_bool(struct mf_ctx *c, const struct mf_key *k, yaml_node_t *v, unsigned line)
{
	static const char *const yes[] = {"true", "True", "TRUE"}, *const no[] = {"false", "False", "FALSE"};
	if (!v)
		return out_scalar(c, "false", 5, YAML_PLAIN_SCALAR_STYLE);
	for (size_t i = 0; v->type == YAML_SCALAR_NODE && strlen(text(v)) == v->data.scalar.length && i < 3; i++) {
		if (!strcmp(text(v), yes[i]))
			return out_scalar(c, "true", 4, YAML_PLAIN_SCALAR_STYLE);
		if (!strcmp(text(v), no[i]))
			return out_scalar(c, "false", 5, YAML_PLAIN_SCALAR_STYLE);
	}
	type_err(c, line, k->what, v);
	return 0;
}

/* Item j of sequence s repeats an earlier one: its index, or -1. */
static long earlier_item(struct mf_ctx *c, yaml_node_t *s, size_t j)
{
	yaml_node_item_t *it = s->data.sequence.items.start;
	yaml_node_t *b = node(c, it[j]);
	for (size_t i = 0; b && b->type == YAML_SCALAR_NODE && i < j; i++) {
		yaml_node_t *a = node(c, it[i]);
		if (a && a->type == YAML_SCALAR_NODE && a->data.scalar.length == b->data.scalar.length &&
		    !memcmp(text(a), text(b), b->data.scalar.length))
			return (long)i;
	}
	return -1;
}

/* A list of checked strings (or, for push:, one string alone). */
static int walk_list(struct mf_ctx *c, const struct mf_key *k, yaml_node_t *v, unsigned line)
{
	char buf[MF_SHOW_MAX + 8];
	struct mf_key entry = *k;
	int seq = out_collection(c, 0);
	entry.what = k->item;
	if (!v || is_null(v))
		return seq;
	if (v->type == YAML_SCALAR_NODE && k->kind == MF_QUEUES) {
		size_t old = path_index(c, 0);
		index_line(c, line);
		path_pop(c, old);
		out_item(c, seq, walk_string(c, k, v, line));
		return seq;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		type_err(c, line, k->what, v);
		return seq;
	}
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (k->max && n > k->max)
		walk_err(c, line, "%zu entries, at most %llu allowed", n, (unsigned long long)k->max);
	for (size_t j = 0; j < n; j++) {
		yaml_node_t *item = node(c, v->data.sequence.items.start[j]);
		if (!item)
			continue;
		unsigned il = line_at(item);
		size_t old = path_index(c, j);
		index_line(c, il);
		path_pop(c, old);
		long i = earlier_item(c, v, j);
		if (i >= 0) {
			walk_err(c, il, "duplicate entry %s (also at line %u)",
			         quote(text(item), item->data.scalar.length, buf, sizeof(buf)),
			         line_at(node(c, v->data.sequence.items.start[i])));
			continue;
		}
		out_item(c, seq, walk_string(c, &entry, item, il));
	}
	return seq;
}

/* env: NAME: value, into the two canonical lists env_keys and env_values. */
static void walk_env(struct mf_ctx *c, const struct mf_key *k, yaml_node_t *v, unsigned line, int out)
{
	static const struct mf_key val = {.key = "value", .kind = MF_STR, .what = "a value (\"\" for empty)"};
	char buf[MF_SHOW_MAX + 8];
	int keys = out_collection(c, 0), values = out_collection(c, 0);
	out_pair(c, out, "env_keys", keys);
	out_pair(c, out, "env_values", values);
	if (!v || is_null(v))
		return;
	if (v->type != YAML_MAPPING_NODE) {
		type_err(c, line, k->what, v);
		return;
	}
	size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	size_t *first = first_keys(c, v, n);
	for (size_t j = 0; first && j < n; j++) {
		yaml_node_t *kn = pair_key(c, v, j, first, "variable");
		yaml_node_t *vn = node(c, v->data.mapping.pairs.start[j].value);
		if (!kn || !vn)
			continue;
		const char *why = check_var(text(kn), kn->data.scalar.length);
		if (why) {
			walk_err(c, line_at(kn), "%s %s", quote(text(kn), kn->data.scalar.length, buf, sizeof(buf)),
			         why);
			continue;
		}
		size_t old = path_key(c, text(kn), kn->data.scalar.length);
		index_line(c, line_at(kn));
		if (get_string(c, &val, vn, line_at(kn)) < 0) {
			/* reported */
		} else if (vn->data.scalar.length > MF_VALUE_MAX) {
			walk_err(c, line_at(kn), "the value is longer than %d bytes", MF_VALUE_MAX);
		} else {
			out_item(c, keys, out_str(c, text(kn), kn->data.scalar.length));
			out_item(c, values, out_str(c, text(vn), vn->data.scalar.length));
		}
		path_pop(c, old);
	}
	free(first);
}

/* ingress.mqtt / ingress.http: a list of mappings. */
static int walk_routes(struct mf_ctx *c, const struct mf_key *k, yaml_node_t *v, unsigned line)
{
	int seq = out_collection(c, 0);
	if (!v || is_null(v))
		return seq;
	if (v->type != YAML_SEQUENCE_NODE) {
		type_err(c, line, k->what, v);
		return seq;
	}
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (k->max && n > k->max)
		walk_err(c, line, "%zu entries, at most %llu allowed", n, (unsigned long long)k->max);
	for (size_t j = 0; j < n; j++) {
		yaml_node_t *item = node(c, v->data.sequence.items.start[j]);
		if (!item)
			continue;
		size_t old = path_index(c, j);
		index_line(c, line_at(item));
		if (item->type != YAML_MAPPING_NODE)
			type_err(c, line_at(item),
			         k->sub == mf_mqtt ? "a mapping {topic, queue}" : "a mapping {path, queue}", item);
		else if (enter(c, item, line_at(item)) == 0) {
			int map = out_collection(c, 1);
			walk_mapping(c, k->sub, item, line_at(item), map);
			out_item(c, seq, map);
		}
		path_pop(c, old);
	}
	return seq;
}

/* functions: name: {...}, into a canonical list whose entries carry name and line. */
static int walk_functions(struct mf_ctx *c, const struct mf_key *k, yaml_node_t *v, unsigned line)
{
	char buf[MF_SHOW_MAX + 8];
	int seq = out_collection(c, 0);
	if (v->type != YAML_MAPPING_NODE || is_null(v)) {
		type_err(c, line, k->what, v);
		return seq;
	}
	size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	if (n == 0)
		walk_err(c, line, "no functions (a workflow needs at least one)");
	size_t *first = first_keys(c, v, n);
	for (size_t j = 0; first && j < n; j++) {
		yaml_node_t *kn = pair_key(c, v, j, first, "function");
		yaml_node_t *fn = node(c, v->data.mapping.pairs.start[j].value);
		if (!kn || !fn)
			continue;
		unsigned fl = line_at(kn);
		if (check_short_name(text(kn), kn->data.scalar.length)) {
			walk_err(c, fl, "%s %s", quote(text(kn), kn->data.scalar.length, buf, sizeof(buf)),
			         check_short_name(text(kn), kn->data.scalar.length));
			continue;
		}
		size_t old = path_key(c, text(kn), kn->data.scalar.length);
		index_line(c, fl);
		if (fn->type != YAML_MAPPING_NODE)
			type_err(c, fl, "a mapping with image: and listen:", fn);
		else if (enter(c, fn, fl) == 0) {
			int map = out_collection(c, 1);
			out_pair(c, map, "name", out_str(c, text(kn), kn->data.scalar.length));
			out_pair(c, map, "line", out_uint(c, fl));
			walk_mapping(c, mf_fn, fn, fl, map);
			out_item(c, seq, map);
		}
		path_pop(c, old);
	}
	free(first);
	return seq;
}

/* One key's value (v NULL: the key is absent), added to canonical mapping `out`. */
static void walk_value(struct mf_ctx *c, const struct mf_key *k, yaml_node_t *v, unsigned line, int out)
{
	if (v && enter(c, v, line) < 0)
		return;
	switch (k->kind) {
	case MF_STR:
		out_pair(c, out, k->key, walk_string(c, k, v, line));
		break;
	case MF_IMAGE:
		out_pair(c, out, k->key, walk_image(c, k, v, line));
		break;
	case MF_UINT:
		out_pair(c, out, k->key, walk_uint(c, k, v, line));
		break;
	case MF_SIZE:
		out_pair(c, out, k->key, walk_size(c, k, v, line));
		break;
	case MF_BOOL:
		out_pair(c, out, k->key, walk_bool(c, k, v, line));
		break;
	case MF_QUEUES:
	case MF_LIST:
		out_pair(c, out, k->key, walk_list(c, k, v, line));
		break;
	case MF_ENV:
		walk_env(c, k, v, line, out);
		break;
	case MF_ROUTES:
		out_pair(c, out, k->key, walk_routes(c, k, v, line));
		break;
	case MF_FUNCTIONS:
		out_pair(c, out, k->key, walk_functions(c, k, v, line));
		break;
	case MF_MAP:
	case MF_FLAT:
		if (v && !is_null(v) && v->type != YAML_MAPPING_NODE) {
			type_err(c, line, k->what, v);
			break;
		}
		int map = k->kind == MF_FLAT ? out : out_collection(c, 1);
		walk_mapping(c, k->sub, v && !is_null(v) ? v : NULL, line, map);
		if (k->kind == MF_MAP)
			out_pair(c, out, k->key, map);
		break;
	}
}

/* Reports an unknown key; returns the index of the key it suggests, or -1. */
static int unknown_key(struct mf_ctx *c, const struct mf_key *tab, const yaml_node_t *kn)
{
	const char *cands[32] = {0}; /* (gcc -O1 without sanitizers: maybe-uninitialized) */
	char buf[MF_SHOW_MAX + 8];
	size_t n = 0;
	for (; tab[n].key && n < 32; n++)
		cands[n] = tab[n].key;
	const char *near = nearest(text(kn), cands, n);
	quote(text(kn), kn->data.scalar.length, buf, sizeof(buf));
	if (!near) {
		walk_err(c, line_at(kn), "unknown key %s", buf);
		return -1;
	}
	walk_err(c, line_at(kn), "unknown key %s (did you mean '%s'?)", buf, near);
	for (size_t i = 0; i < n; i++)
		if (cands[i] == near)
			return (int)i;
	return -1;
}

/*
 * Mapping m (NULL: absent, all defaults) against table tab; `line` is where
 * the mapping's key is, for "missing required key".
 */
static void walk_mapping(struct mf_ctx *c, const struct mf_key *tab, yaml_node_t *m, unsigned line, int out)
{
	uint32_t seen = 0, suggested = 0; /* no "missing 'listen'" after "did you mean 'listen'?" */
	size_t n = m ? (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start) : 0;
	size_t *first = n ? first_keys(c, m, n) : NULL;

	for (size_t j = 0; first && j < n; j++) {
		yaml_node_t *kn = pair_key(c, m, j, first, "key");
		yaml_node_t *vn = node(c, m->data.mapping.pairs.start[j].value);
		if (!kn || !vn)
			continue;
		size_t i = 0;
		while (tab[i].key && strcmp(tab[i].key, text(kn)))
			i++;
		if (!tab[i].key || strlen(text(kn)) != kn->data.scalar.length) {
			int near = unknown_key(c, tab, kn);
			if (near >= 0)
				suggested |= 1u << near;
			continue;
		}
		seen |= 1u << i;
		size_t old = path_key(c, tab[i].key, strlen(tab[i].key));
		index_line(c, line_at(kn));
		if (tab[i].unserved) /* its value is still checked: all the problems at once */
			walk_err(c, line_at(kn), "not served by this version of unifaas (%s)", tab[i].unserved);
		walk_value(c, &tab[i], vn, line_at(kn), out);
		path_pop(c, old);
	}
	free(first);
	for (size_t i = 0; tab[i].key; i++) {
		if (seen & (1u << i))
			continue;
		if (tab[i].required) {
			if (!(suggested & (1u << i)))
				walk_err(c, line, "missing required key '%s'", tab[i].key);
			continue;
		}
		size_t old = path_key(c, tab[i].key, strlen(tab[i].key));
		walk_value(c, &tab[i], NULL, line, out);
		path_pop(c, old);
	}
}

/* ---- pass 0: YAML syntax --------------------------------------------------- */

static void syntax_err(struct mf_ctx *c, const yaml_parser_t *p, const char *yaml, size_t len)
{
	unsigned line = (unsigned)p->problem_mark.line + 1, col = (unsigned)p->problem_mark.column + 1;
	const char *problem = p->problem ? p->problem : "malformed YAML";
	if (p->error == YAML_READER_ERROR) { /* marks are not set: count lines up to the offset */
		line = 1, col = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++, col++)
			if (yaml[i] == '\n')
				line++, col = 0;
	}
	if (p->error == YAML_MEMORY_ERROR)
		mf_err(c, 0, NULL, "out of memory reading the YAML");
	else if (p->context)
		mf_err_col(c, line, col, "YAML syntax error: %s (%s at line %u)", problem, p->context,
		           (unsigned)p->context_mark.line + 1);
	else
		mf_err_col(c, line, col, "YAML syntax error: %s", problem);
}

/*
 * The manifest's shape, from libyaml's event stream before the document is
 * built: how deep lists and mappings nest, and how many mapping keys there
 * are in all.  The walk stops at the first level past the limit, so a
 * hostile input costs what its first UF_MANIFEST_DEPTH_MAX levels cost
 * (libyaml's time per token grows with the depth: 200 KB of '[' took 45 s
 * to load).  A syntax error is left for load_yaml to report.
 */
static int check_shape(struct mf_ctx *c, const char *yaml, size_t len)
{
	yaml_parser_t p;
	yaml_event_t e;
	struct {
		int mapping;
		size_t nodes; /* in a mapping, even ones are keys */
	} open[UF_MANIFEST_DEPTH_MAX + 1];
	size_t depth = 0, keys = 0;
	int rc = 0, done = 0;

	if (!yaml_parser_initialize(&p)) {
		mf_err(c, 0, NULL, "out of memory reading the YAML");
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
	while (!done && rc == 0 && yaml_parser_parse(&p, &e)) {
		unsigned line = (unsigned)e.start_mark.line + 1;
		int node = e.type == YAML_SCALAR_EVENT || e.type == YAML_ALIAS_EVENT ||
		           e.type == YAML_SEQUENCE_START_EVENT || e.type == YAML_MAPPING_START_EVENT;
		if (node && depth && open[depth - 1].mapping && open[depth - 1].nodes++ % 2 == 0 &&
		    ++keys > UF_MANIFEST_KEYS_MAX) {
			mf_err(c, line, NULL, "more than %u keys (is this a manifest?)", UF_MANIFEST_KEYS_MAX);
			rc = -1;
		} else if (e.type == YAML_SEQUENCE_START_EVENT || e.type == YAML_MAPPING_START_EVENT) {
			if (depth == UF_MANIFEST_DEPTH_MAX) {
				mf_err(
				    c, line, NULL,
				    "lists and mappings nested more than %u deep; a manifest needs 6 at most (is this "
				    "a manifest?)",
				    UF_MANIFEST_DEPTH_MAX);
				rc = -1;
			} else {
				open[depth].mapping = e.type == YAML_MAPPING_START_EVENT;
				open[depth++].nodes = 0;
			}
		} else if ((e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT) && depth) {
			depth--;
		}
		done = e.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&p);
	return rc;
}

/* Loads the one document of the text into *doc; -1 (reported) if it cannot. */
static int load_yaml(struct mf_ctx *c, const char *yaml, size_t len, yaml_document_t *doc)
{
	yaml_parser_t p;
	yaml_document_t extra;
	int rc = -1;

	if (!yaml_parser_initialize(&p)) {
		mf_err(c, 0, NULL, "out of memory reading the YAML");
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&p, doc)) {
		syntax_err(c, &p, yaml, len);
		goto out;
	}
	if (!yaml_parser_load(&p, &extra)) {
		syntax_err(c, &p, yaml, len);
		yaml_document_delete(doc);
		goto out;
	}
	yaml_node_t *second = yaml_document_get_root_node(&extra);
	if (second)
		mf_err(c, line_at(second), NULL, "a second YAML document (one manifest per file)");
	yaml_document_delete(&extra);
	if (second) {
		yaml_document_delete(doc);
		goto out;
	}
	rc = 0;
out:
	yaml_parser_delete(&p);
	return rc;
}

/* ---- pass 2: libcyaml ------------------------------------------------------- */

struct mf_buf {
	char *data;
	size_t len, cap;
};

static int buf_write(void *data, unsigned char *bytes, size_t size)
{
	struct mf_buf *b = data;
	if (b->len + size > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + size)
			cap *= 2;
		char *p = realloc(b->data, cap);
		if (!p)
			return 0;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, bytes, size);
	b->len += size;
	return 1;
}

static void cyaml_log_to(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	char *log = ctx;
	size_t used = strlen(log);
	(void)level;
	if (used < 255)
		vsnprintf(log + used, 256 - used, fmt, args);
}

/* Emits the canonical document and loads it with libcyaml; NULL (reported) on failure. */
static struct uf_manifest *load_canonical(struct mf_ctx *c)
{
	struct mf_buf b = {0};
	struct uf_manifest *m = NULL;
	yaml_emitter_t em;
	char log[256] = "";
	cyaml_config_t cfg = {.log_fn = cyaml_log_to,
	                      .log_ctx = log,
	                      .mem_fn = cyaml_mem,
	                      .log_level = CYAML_LOG_ERROR,
	                      .flags = CYAML_CFG_NO_ALIAS};

	if (!yaml_emitter_initialize(&em)) {
		mf_err(c, 0, NULL, "out of memory");
		goto out;
	}
	yaml_emitter_set_output(&em, buf_write, &b);
	yaml_emitter_set_width(&em, -1);
	yaml_emitter_set_unicode(&em, 1);
	c->out_live = 0; /* yaml_emitter_dump consumes the document, even when it fails */
	int ok = yaml_emitter_dump(&em, &c->out) && yaml_emitter_close(&em);
	yaml_emitter_delete(&em);
	if (!ok) {
		mf_err(c, 0, NULL, "internal error: cannot emit the canonical manifest (out of memory?)");
		goto out;
	}
	cyaml_err_t e = cyaml_load_data((const uint8_t *)b.data, b.len, &cfg, &mf_schema, (cyaml_data_t **)&m, NULL);
	if (e != CYAML_OK) {
		for (char *p = log; *p; p++)
			if (*p == '\n')
				*p = ' ';
		mf_err(c, 0, NULL, "internal error: libcyaml: %s%s%s", cyaml_strerror(e), *log ? ": " : "", log);
		m = NULL;
	}
out:
	free(b.data);
	return m;
}

/* ---- pass 3: checks across keys -------------------------------------------- */

static void check_units(struct mf_ctx *c, const struct uf_manifest *m)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < m->nfunctions; i++) {
		const struct uf_function *f = &m->functions[i];
		sum += f->scale.min_units;
		if (f->scale.min_units <= f->scale.max_units)
			continue;
		unsigned fl = line_of(c, f->line, "functions.%s.scale", f->name);
		int dflt = !line_of(c, 0, "functions.%s.scale.max_units", f->name);
		mf_err(c, line_of(c, fl, "functions.%s.scale.min_units", f->name), "",
		       "functions.%s.scale.min_units: %u is more than max_units (%u%s)", f->name, f->scale.min_units,
		       f->scale.max_units, dflt ? ", the default" : "");
	}
	if (sum > m->max_units)
		mf_err(c, line_of(c, line_of(c, 1, "functions"), "max_units"), "max_units",
		       "the functions' min_units add up to %llu, more than the workflow's max_units (%u)",
		       (unsigned long long)sum, m->max_units);
}

static void fn_limits(const struct uf_function *f, uint64_t v[UF_LIM_EVENT_COUNT])
{
	v[UF_LIM_VALUE_BYTES] = f->limits.value_bytes;
	v[UF_LIM_EVENT_BYTES] = f->limits.event_bytes;
	v[UF_LIM_WRITES] = f->limits.writes_per_event;
	v[UF_LIM_COMMIT_BYTES] = f->limits.commit_bytes;
}

void uf_function_limits(const struct uf_function *f, const struct uf_limits *node, struct uf_limits *out,
                        uint32_t *capped)
{
	uint64_t v[UF_LIM_EVENT_COUNT];
	fn_limits(f, v);
	uf_limits_apply(out, node, v, capped);
}

void uf_queue_limits(const struct uf_manifest *m, const char *queue, const struct uf_limits *node,
                     struct uf_limits *out)
{
	const struct uf_function *f = m ? uf_manifest_listener(m, queue) : NULL;
	if (f) {
		uf_function_limits(f, node, out, NULL);
	} else {
		*out = *node;
		out->from_manifest = 0;
	}
}

/* A function's limits: each at most the node's, and consistent together
 * (its value and event sizes within its commit_bytes). */
static void check_limits(struct mf_ctx *c, const struct uf_function *f)
{
	uint64_t v[UF_LIM_EVENT_COUNT];
	fn_limits(f, v);
	if (!c->node)
		return;
	int over = 0;
	for (int i = 0; i < UF_LIM_EVENT_COUNT; i++) {
		if (v[i] <= c->node->v[i])
			continue;
		over = 1;
		const char *name = uf_limit_info[i].name;
		mf_err(c,
		       line_of(c, line_of(c, f->line, "functions.%s.limits", f->name), "functions.%s.limits.%s",
		               f->name, name),
		       "",
		       "functions.%s.limits.%s: %llu is more than this node allows (%llu: limits.%s in unifaasd.conf)",
		       f->name, name, (unsigned long long)v[i], (unsigned long long)c->node->v[i], name);
	}
	struct uf_limits in_force;
	char why[256];
	uf_limits_apply(&in_force, c->node, v, NULL);
	if (!over && uf_limits_check(&in_force, why, sizeof(why)) < 0)
		mf_err(c, line_of(c, f->line, "functions.%s.limits", f->name), "", "functions.%s.limits: %s", f->name,
		       why);
}

static void check_wiring(struct mf_ctx *c, const struct uf_manifest *m)
{
	for (size_t i = 0; i < m->nfunctions; i++) {
		const struct uf_function *f = &m->functions[i];
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->functions[j].listen, f->listen))
				mf_err(c, line_of(c, f->line, "functions.%s.listen", f->name), "",
				       "functions.%s.listen: queue '%s' already feeds function '%s' (line %u); one "
				       "queue feeds one function (push to a second queue to fan out)",
				       f->name, f->listen, m->functions[j].name, m->functions[j].line);
		for (size_t p = 0; p < f->npush; p++)
			if (!strcmp(f->push[p], f->listen))
				mf_err(c, line_of(c, f->line, "functions.%s.push[%zu]", f->name, p), "",
				       "functions.%s.push: '%s' is the queue this function listens to (its events "
				       "would loop forever)",
				       f->name, f->push[p]);
	}
}

/* Every ingress queue needs a listener, and a route is given once. */
static void check_route(struct mf_ctx *c, const struct uf_manifest *m, const char *kind, size_t i, const char *queue)
{
	const char *cands[64];
	size_t n = 0;
	if (uf_manifest_listener(m, queue))
		return;
	for (size_t f = 0; f < m->nfunctions && n < 64; f++)
		cands[n++] = m->functions[f].listen;
	const char *near = nearest(queue, cands, n);
	char hint[UF_QUEUE_MAX + 32];
	if (near)
		snprintf(hint, sizeof(hint), "did you mean '%s'?", near);
	else
		snprintf(hint, sizeof(hint), "add a function with listen: %s", queue);
	mf_err(c, line_of(c, 0, "ingress.%s[%zu].queue", kind, i), "",
	       "ingress.%s[%zu].queue: no function listens to '%s', so its events would pile up unread (%s)", kind, i,
	       queue, hint);
}

static void check_ingress(struct mf_ctx *c, const struct uf_manifest *m)
{
	for (size_t i = 0; i < m->nmqtt; i++) {
		check_route(c, m, "mqtt", i, m->mqtt[i].queue);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->mqtt[j].topic, m->mqtt[i].topic))
				mf_err(c, line_of(c, 0, "ingress.mqtt[%zu].topic", i), "",
				       "ingress.mqtt[%zu].topic: '%s' is already routed by ingress.mqtt[%zu]", i,
				       m->mqtt[i].topic, j);
			else if (uf_topic_filters_overlap(m->mqtt[j].topic, strlen(m->mqtt[j].topic), m->mqtt[i].topic,
			                                  strlen(m->mqtt[i].topic)))
				mf_err(c, line_of(c, 0, "ingress.mqtt[%zu].topic", i), "",
				       "ingress.mqtt[%zu].topic: '%s' overlaps '%s' of ingress.mqtt[%zu] (a message on "
				       "both "
				       "would be taken twice; make the filters disjoint)",
				       i, m->mqtt[i].topic, m->mqtt[j].topic, j);
	}
	for (size_t i = 0; i < m->nhttp; i++) {
		check_route(c, m, "http", i, m->http[i].queue);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->http[j].path, m->http[i].path))
				mf_err(c, line_of(c, 0, "ingress.http[%zu].path", i), "",
				       "ingress.http[%zu].path: '%s' is already routed by ingress.http[%zu]", i,
				       m->http[i].path, j);
	}
}

static void check_vars(struct mf_ctx *c, struct uf_function *f)
{
	if (f->nsecrets && (f->secret_lines = calloc(f->nsecrets, sizeof(*f->secret_lines))))
		for (size_t s = 0; s < f->nsecrets; s++)
			f->secret_lines[s] = line_of(c, f->line, "functions.%s.secrets[%zu]", f->name, s);
	if (f->nenv + f->nsecrets > MF_VARS_MAX)
		mf_err(c, f->line, "", "functions.%s: %zu env variables and secrets, more than %d", f->name,
		       f->nenv + f->nsecrets, MF_VARS_MAX);
	for (size_t s = 0; s < f->nsecrets; s++)
		for (size_t e = 0; e < f->nenv; e++)
			if (!strcmp(f->secrets[s], f->env_keys[e]))
				mf_err(c, line_of(c, f->line, "functions.%s.secrets[%zu]", f->name, s), "",
				       "functions.%s.secrets: '%s' is also set in env (line %u); a variable comes from "
				       "one place",
				       f->name, f->secrets[s],
				       line_of(c, f->line, "functions.%s.env.%s", f->name, f->env_keys[e]));
}

/* With check_images: the image exists, is a regular readable file, and is ELF. */
static void check_image(struct mf_ctx *c, const struct uf_function *f)
{
	unsigned line = line_of(c, f->line, "functions.%s.image", f->name);
	char hint[PATH_MAX + 64] = "";
	unsigned char magic[4];
	struct stat st;
	size_t bl = strlen(c->base);

	if (!strncmp(f->image, c->base, bl) && f->image[bl] == '/')
		snprintf(hint, sizeof(hint), " (relative paths are resolved against %s)", c->base);
	int fd = open(f->image, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		mf_err(c, line, "", "functions.%s.image: %s: %s%s", f->name, f->image, strerror(errno), hint);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		mf_err(c, line, "", "functions.%s.image: %s: not a regular file", f->name, f->image);
	else if (pread(fd, magic, 4, 0) != 4 || memcmp(magic, "\177ELF", 4))
		mf_err(c, line, "", "functions.%s.image: %s: not an ELF image (build it with `unifaas build`)", f->name,
		       f->image);
	close(fd);
}

/* ---- the API ------------------------------------------------------------------ */

/* c->base: base_dir, else the directory of file; made absolute. */
static int set_base(struct mf_ctx *c, const char *file, const char *base_dir)
{
	char dir[PATH_MAX], cwd[PATH_MAX];
	const char *slash = file ? strrchr(file, '/') : NULL;
	if (base_dir && *base_dir)
		snprintf(dir, sizeof(dir), "%s", base_dir);
	else if (slash)
		snprintf(dir, sizeof(dir), "%.*s", slash == file ? 1 : (int)(slash - file), file);
	else
		snprintf(dir, sizeof(dir), ".");
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	if (dir[0] == '/') {
		snprintf(c->base, sizeof(c->base), "%s", dir);
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd))) {
		mf_err(c, 0, NULL, "cannot resolve image paths: getcwd: %s", strerror(errno));
		return -1;
	}
	const char *rel = dir;
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	int r = !strcmp(rel, ".") ? snprintf(c->base, sizeof(c->base), "%s", cwd)
	                          : snprintf(c->base, sizeof(c->base), "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", rel);
	if (r < 0 || (size_t)r >= sizeof(c->base)) {
		mf_err(c, 0, NULL, "cannot resolve image paths: the base directory's path is too long");
		return -1;
	}
	return 0;
}

/* Pass 1 over a loaded document; fills c->out. 0 if it found no problem. */
static int walk_document(struct mf_ctx *c, yaml_document_t *doc)
{
	char buf[MF_SHOW_MAX + 8];
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (!root) {
		mf_err(c, 1, NULL, "empty manifest (expected a mapping with name: and functions:)");
		return -1;
	}
	if (root->type != YAML_MAPPING_NODE) {
		mf_err(c, line_at(root), NULL, "a manifest is a mapping (name:, functions:, ...), got %s",
		       describe(root, buf, sizeof(buf)));
		return -1;
	}
	c->in = doc;
	c->walked = calloc((size_t)(doc->nodes.top - doc->nodes.start), 1);
	if (!c->walked || !yaml_document_initialize(&c->out, NULL, NULL, NULL, 1, 1)) {
		mf_err(c, 0, NULL, "out of memory");
		return -1;
	}
	c->out_live = 1;
	c->walked[root - doc->nodes.start] = 1;
	int top = out_collection(c, 1);
	walk_mapping(c, mf_top, root, line_at(root), top);
	if (c->oom)
		mf_err(c, 0, NULL, "out of memory");
	return c->nerr ? -1 : 0;
}

/* "N more problems not shown", if it fits: room is kept for it when lines are dropped for space. */
static void finish_errors(struct mf_ctx *c)
{
	char msg[PATH_MAX + 64];
	if (!c->dropped || !c->err || c->errlen == 0)
		return;
	snprintf(msg, sizeof(msg), "%s: %u more problem%s not shown", c->file, c->dropped, c->dropped > 1 ? "s" : "");
	while (c->used > 0 && c->used + 1 + strlen(msg) >= c->errlen) { /* make room: drop whole lines */
		char *nl = memrchr(c->err, '\n', c->used);
		c->used = nl ? (size_t)(nl - c->err) : 0;
		c->err[c->used] = '\0';
		c->dropped++;
		snprintf(msg, sizeof(msg), "%s: %u more problems not shown", c->file, c->dropped);
	}
	c->full = 0;
	err_append(c, msg);
}

struct uf_manifest *uf_manifest_parse(const char *yaml, size_t len, const char *file, const char *base_dir,
                                      int check_images, char *err, size_t errlen)
{
	return uf_manifest_parse_node(yaml, len, file, base_dir, check_images, NULL, err, errlen);
}

struct uf_manifest *uf_manifest_parse_node(const char *yaml, size_t len, const char *file, const char *base_dir,
                                           int check_images, const struct uf_limits *node, char *err, size_t errlen)
{
	struct mf_ctx c = {.file = file ? file : "manifest", .err = err, .errlen = errlen, .node = node};
	struct uf_manifest *m = NULL;
	yaml_document_t doc;
	int have_doc = 0;

	if (err && errlen)
		err[0] = '\0';
	if (len > UF_MANIFEST_BYTES_MAX) {
		mf_err(&c, 0, NULL, "larger than %u bytes; is this a manifest?", UF_MANIFEST_BYTES_MAX);
		goto out;
	}
	if (check_shape(&c, yaml ? yaml : "", yaml ? len : 0) < 0 || set_base(&c, file, base_dir) < 0 ||
	    load_yaml(&c, yaml ? yaml : "", yaml ? len : 0, &doc) < 0)
		goto out;
	have_doc = 1;
	if (walk_document(&c, &doc) < 0)
		goto out;
	m = load_canonical(&c);
	if (!m)
		goto out;
	check_units(&c, m);
	check_wiring(&c, m);
	check_ingress(&c, m);
	for (size_t i = 0; i < m->nfunctions; i++) {
		check_vars(&c, &m->functions[i]);
		check_limits(&c, &m->functions[i]);
		if (check_images)
			check_image(&c, &m->functions[i]);
	}
	if (c.nerr) {
		uf_manifest_free(m);
		m = NULL;
	}
out:
	finish_errors(&c);
	if (c.out_live)
		yaml_document_delete(&c.out);
	if (have_doc)
		yaml_document_delete(&doc);
	for (size_t i = 0; i < c.nlines; i++)
		free(c.lines[i].path);
	free(c.lines);
	free(c.walked);
	return m;
}

struct uf_manifest *uf_manifest_load(const char *path, int check_images, char *err, size_t errlen)
{
	struct uf_manifest *m = NULL;
	char *buf = NULL;
	struct stat st;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO must not block us */

	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > UF_MANIFEST_BYTES_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes; is this a manifest?", path, UF_MANIFEST_BYTES_MAX);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	m = uf_manifest_parse(buf, n, path, NULL, check_images, err, errlen);
out:
	free(buf);
	close(fd);
	return m;
}

void uf_manifest_free(struct uf_manifest *m)
{
	for (size_t i = 0; m && i < m->nfunctions; i++) { /* not cyaml's: made after the load */
		free(m->functions[i].secret_lines);
		m->functions[i].secret_lines = NULL;
	}
	if (m)
		cyaml_free(&mf_free_config, &mf_schema, m, 0);
}

const struct uf_function *uf_manifest_listener(const struct uf_manifest *m, const char *queue)
{
	for (size_t i = 0; i < m->nfunctions; i++)
		if (!strcmp(m->functions[i].listen, queue))
			return &m->functions[i];
	return NULL;
}
