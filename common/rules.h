/*
 * rules.h - the rules that the tender, unifaasd and the CLI must agree on,
 * defined once (ARCHITECTURE §8: one rule, one definition).
 *
 * What lives here: name and key rules, text rules (UTF-8), and whatever
 * else two components would otherwise each write down.  The ABI limits the
 * guest also needs (UF_QUEUE_MAX, UF_KEY_MAX, ...) stay in uf_abi.h and are
 * used from here, never restated.
 *
 * Invariants: every function here is pure (no I/O, no global state), builds
 * with glibc and with musl (the tender is a static musl binary), and takes
 * explicit lengths: names and keys may come from guest memory or the
 * network and are not NUL-terminated.
 */
#ifndef UF_RULES_H
#define UF_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "uf_abi.h"

/* Length of the valid UTF-8 sequence at s (at most n bytes, n >= 1), or 0
 * if it is not one (overlong forms, surrogates and code points past
 * U+10FFFF are invalid). */
size_t uf_utf8_seq(const unsigned char *s, size_t n);
/* Whether [s, s+n) is entirely valid UTF-8. */
int uf_utf8_valid(const char *s, size_t n);
/* A KV key: 1..UF_KEY_MAX bytes of UTF-8 text without NUL. */
int uf_kv_key_ok(const char *key, size_t n);

/* One push request of the control API (POST .../queues/Q/events) carries
 * at most UF_PUSH_EVENTS_MAX events in at most UF_PUSH_BYTES_MAX bytes;
 * unifaasd refuses more (413) and `unifaas push` splits its input into
 * requests within both. */
#define UF_PUSH_EVENTS_MAX 10000 /* plain digits: help texts print it with UF_STR */
#define UF_PUSH_BYTES_MAX  (16u << 20)
#define UF_STR_(x)         #x
#define UF_STR(x)          UF_STR_(x)

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

#endif
