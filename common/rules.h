/*
 * rules.h - the rules that the tender, unifaasd, the CLI and the guest
 * runtime must agree on, defined once (ARCHITECTURE §8: one rule, one
 * definition).
 *
 * What lives here: name and key rules with their limits and the words that
 * describe them to users, text rules (UTF-8), the decimal integer format
 * of counters.  The ABI limits the guest also needs (UF_QUEUE_MAX,
 * UF_KEY_MAX, ...) stay in uf_abi.h and are used from here, never
 * restated.  names.c and numbers.c are also linked into libuf (the guest
 * runtime), so a key or a counter the guest accepts is exactly one the
 * tender, the daemon and the CLI accept.
 *
 * Invariants: every function here is pure (no I/O, no global state), builds
 * with glibc and with musl (the tender is a static musl binary, libuf a
 * freestanding-ish musl archive), and takes explicit lengths: names and keys
 * may come from guest memory or the network and are not NUL-terminated.
 */
#ifndef UF_RULES_H
#define UF_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "uf_abi.h"

/* Workflow and function (step) names: a unit is named <workflow>.<step>.<n>
 * and that must fit the UF_QUEUE_MAX bytes of a consumer name. */
#define UF_NAME_MAX 48u
/* The platform's MQTT account and the prefix of the client id of each of
 * its sessions (daemon/mqtt.c: UF_MQTT_PLATFORM "-<wf>" and ":outbox").  A
 * device's client id is its name (cli/broker.c), so no device name may
 * start with it. */
#define UF_MQTT_PLATFORM "unifaasd"

/* What a name names; each kind has one rule. */
enum uf_name_kind {
	UF_NAME_WORKFLOW, /* 1..UF_NAME_MAX of [A-Za-z0-9._-], not . or .. (a directory in the state dir) */
	UF_NAME_STEP,     /* 1..UF_NAME_MAX of [A-Za-z0-9._-], not . or .. (a file name there) */
	UF_NAME_QUEUE,    /* 1..UF_QUEUE_MAX of [A-Za-z0-9._-] (uf_queue_name_ok) */
	UF_NAME_KEY,      /* a KV key: uf_kv_key_ok */
	UF_NAME_DEVICE,   /* an MQTT device account: as WORKFLOW (a line of the broker's files) */
	UF_NAME_VAR,      /* an environment variable or secret: 1..UF_VAR_MAX of [A-Za-z0-9_], not a digit first */
};
/* The rules in words, for messages (uf_name_rule returns them; the unit
 * test checks the numbers against the limits). */
#define UF_NAME_RULE_SHORT "1..48 characters of A-Z a-z 0-9 . _ -, not . or .."
#define UF_NAME_RULE_QUEUE "1..128 characters of A-Z a-z 0-9 . _ -"
#define UF_NAME_RULE_KEY   "1..512 bytes of UTF-8 text without NUL"
#define UF_NAME_RULE_VAR   "a letter or _, then letters, digits or _, at most 128 characters"
#define UF_VAR_MAX         128u /* = UF_ENV_NAME_MAX of launch.h (names.c checks) */
/* Whether [s, s+n) is a valid name of that kind. */
int uf_name_ok(enum uf_name_kind kind, const char *s, size_t n);
/* The rule in words, for messages: "1..48 characters of A-Z a-z 0-9 . _ -, not . or ..". */
const char *uf_name_rule(enum uf_name_kind kind);
/* What the kind is called in messages: "workflow name", ..., "KV key". */
const char *uf_name_what(enum uf_name_kind kind);

/* Length of the valid UTF-8 sequence at s (at most n bytes, n >= 1), or 0
 * if it is not one (overlong forms, surrogates and code points past
 * U+10FFFF are invalid). */
size_t uf_utf8_seq(const unsigned char *s, size_t n);
/* Whether [s, s+n) is entirely valid UTF-8. */
int uf_utf8_valid(const char *s, size_t n);
/* A KV key: 1..UF_KEY_MAX bytes of UTF-8 text without NUL. */
int uf_kv_key_ok(const char *key, size_t n);

/* A failed event's reason (UF_OUTPUT_REASON): 1..UF_REASON_MAX bytes of
 * UTF-8 without control characters (so it stays one line in a log). */
int uf_reason_ok(const char *s, size_t n);
/* Make [s, s+n) a reason in place: each invalid UTF-8 byte and control
 * character becomes '?', and the text is cut to UF_REASON_MAX bytes at a
 * character boundary.  Returns the new length (0 only if n was 0). */
size_t uf_reason_clean(char *s, size_t n);

/* One push request of the control API (POST .../queues/Q/events) carries
 * at most UF_PUSH_EVENTS_MAX events in at most UF_PUSH_BYTES_MAX bytes;
 * unifaasd refuses more (413) and `unifaas push` splits its input into
 * requests within both. */
#define UF_PUSH_EVENTS_MAX 10000 /* plain digits: help texts print it with UF_STR */
#define UF_PUSH_BYTES_MAX  (16u << 20)

/* A manifest's size: unifaasd refuses a larger one before parsing it (413
 * on the API, manifest.c for files), and `unifaas deploy` reads no more. */
#define UF_MANIFEST_BYTES_MAX (1u << 20)
#define UF_STR_(x)            #x
#define UF_STR(x)             UF_STR_(x)

/* Base64 (RFC 4648, padded): how bytes that are not UTF-8 text travel in
 * JSON (`data_base64`, the KV file's {"base64": ...}).  out holds
 * 4 * ((len + 2) / 3) bytes; decode returns the bytes written, or -1 if
 * `in` is not base64 (out holds 3 * len / 4). */
size_t uf_base64_encode(char *out, const char *in, size_t len);
long uf_base64_decode(char *out, const char *in, size_t len);

/* A duration: digits and one unit, ms, s, m, h or d (`500ms`, `10s`, `5m`,
 * `1h`, `2d`), at most UF_DURATION_MAX_MS.  0, or -1 if s is not one. */
#define UF_DURATION_MAX_MS (366ull * 86400000ull)
int uf_duration_ms(const char *s, uint64_t *ms);

/* A counter's value or an increment: a decimal int64 exactly as Redis
 * INCRBY reads one - an optional '-', then digits without a leading zero
 * ("0" alone is zero; "-0", "007", "+1", " 1", "1 " are refused), in
 * INT64_MIN..INT64_MAX.  0 and *out set, or -1. */
int uf_int64_parse(const char *s, size_t n, int64_t *out);

#endif
