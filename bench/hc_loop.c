/*
 * hc_loop.c - the hypercall exit round trip (bench/hcexit.sh).
 *
 * libuf serves clock_gettime with one UF_HC_TIME hypercall, so a loop of
 * them is a loop of VM exits: each costs the exit, the tender's dispatch
 * and validation, the host's clock_gettime (tens of ns) and the re-entry.
 * It times BLOCKS blocks of PER calls each (env, defaults 40 x 500) and
 * prints each block's mean per call in ns, one a line ("block NS"); the
 * script takes their median and spread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long env_or(const char *name, long dflt)
{
	const char *v = getenv(name);
	return v && *v ? atol(v) : dflt;
}

int main(void)
{
	long blocks = env_or("BLOCKS", 40), per = env_or("PER", 500);
	struct timespec t0, t, t1;
	for (long b = 0; b < blocks; b++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < per; i++)
			clock_gettime(CLOCK_MONOTONIC, &t);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long ns = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
		printf("block %ld\n", ns / (per + 1));
	}
	return 0;
}
