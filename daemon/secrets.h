/*
 * secrets.h - the platform's secret store (secrets.c) and its API routes
 * (GET /v1/secrets, PUT|DELETE /v1/secrets/NAME).
 */
#ifndef UF_SECRETS_H
#define UF_SECRETS_H

#include <stddef.h>

struct daemon;
struct uf_manifest;

#define SECRETS_DIR "secrets" /* under the state dir, 0700; one 0600 file a secret */

/* The value of secret `name` into buf (cap >= UF_ENV_VALUE_MAX + 1),
 * NUL-terminated: its length, or -1 with errno (ENOENT: not set). */
long secrets_read(const struct daemon *d, const char *name, char *buf, size_t cap);
/* Every secret the manifest's functions name is set: 0, or -1 with one line
 * per missing secret in err (`file:line: functions.F.secrets: ...`). */
int secrets_check(const struct daemon *d, const struct uf_manifest *m, const char *file, char *err, size_t errlen);

#endif
