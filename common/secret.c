/*
 * secret.c - random credentials for the platform (the per-workflow Redis
 * ACL passwords unifaasd makes, the Redis password and API token `unifaas
 * up` makes).
 *
 * Invariant: a secret comes from getrandom(2) or not at all.  When the
 * kernel cannot give randomness (an old kernel, a seccomp filter, an
 * interrupted read) the caller gets an error to refuse the operation with;
 * nothing guessable such as rand() or the clock is ever used instead.
 * A process that holds secrets dumps no core (uf_no_core_dumps).
 */
#include <errno.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>

#include "secret.h"

int uf_random_hex(char *out, size_t outlen, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];
	if (outlen)
		out[0] = '\0';
	if (nbytes == 0 || nbytes > sizeof(raw) || outlen < 2 * nbytes + 1) {
		errno = EINVAL;
		return -1;
	}
	size_t got = 0;
	while (got < nbytes) {
		ssize_t n = getrandom(raw + got, nbytes - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * nbytes] = '\0';
	return 0;
}

int uf_no_core_dumps(void)
{
	struct rlimit none = {0, 0};
	return setrlimit(RLIMIT_CORE, &none) == 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : -1;
}
