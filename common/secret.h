/*
 * secret.h - random credentials (secret.c): the platform's ACL passwords
 * and API token, made one way by unifaasd and the CLI.
 */
#ifndef UF_SECRET_H
#define UF_SECRET_H

#include <stddef.h>

/* nbytes (1..64) from the kernel's random source, as 2*nbytes lowercase
 * hex digits and a NUL in out (outlen >= 2*nbytes+1).  0, or -1 with
 * errno set and out emptied: there is no weaker fallback. */
int uf_random_hex(char *out, size_t outlen, size_t nbytes);

#endif
