/*
 * secret.h - random credentials (secret.c): the platform's ACL passwords
 * and API token, made one way by unifaasd and the CLI; and keeping the
 * secrets a process holds out of core dumps.
 */
#ifndef UF_SECRET_H
#define UF_SECRET_H

#include <stddef.h>

/* nbytes (1..64) from the kernel's random source, as 2*nbytes lowercase
 * hex digits and a NUL in out (outlen >= 2*nbytes+1).  0, or -1 with
 * errno set and out emptied: there is no weaker fallback. */
int uf_random_hex(char *out, size_t outlen, size_t nbytes);

/* This process dumps no core: its core limit is set to 0 and it is made
 * not dumpable (which also holds with a core_pattern pipe, where the limit
 * is not applied, and keeps other processes of the user out of its
 * /proc/PID/environ and memory).  For unifaasd and the tender, which hold
 * credentials, secrets and guest memory.  0, or -1 with errno. */
int uf_no_core_dumps(void);

#endif
