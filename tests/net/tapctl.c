/*
 * tapctl.c - test driver for daemon/tap_pool.c (tests/integration/net.sh).
 *
 *   tapctl BRIDGE CIDR SIZE COMMAND...
 *
 * Opens the pool, runs the commands in order in this one process, printing
 * one line per command, and exits 0 if every command did what it says:
 *   acquire         print "acquire NAME IP", or "acquire EBUSY"
 *   release NAME    print "release NAME 0" or "release NAME ENOENT"
 *   available       print "available N"
 *   keep            close the pool, leaving its devices (must be last)
 *   destroy         close the pool, deleting its devices (must be last)
 * Without keep or destroy the pool is closed with destroy at the end.
 * A failed open prints the pool's message on stderr and exits 3.
 * TAPCTL_PREFIX in the environment: the prefix of the device names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap_pool.h"

int main(int argc, char **argv)
{
	char err[512];
	if (argc < 4) {
		fprintf(stderr, "usage: tapctl BRIDGE CIDR SIZE COMMAND...\n");
		return 2;
	}
	struct tap_pool *p = tap_pool_open(argv[1], argv[2], getenv("TAPCTL_PREFIX"),
	                                   (unsigned)strtoul(argv[3], NULL, 10), err, sizeof(err));
	if (!p) {
		fprintf(stderr, "%s\n", err);
		return 3;
	}
	int destroy = 1;
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "acquire") == 0) {
			char name[IFNAMSIZ], ip[16];
			if (tap_pool_acquire(p, name, ip) == 0)
				printf("acquire %s %s\n", name, ip);
			else
				printf("acquire EBUSY\n");
		} else if (strcmp(argv[i], "release") == 0 && i + 1 < argc) {
			int r = tap_pool_release(p, argv[++i]);
			printf("release %s %s\n", argv[i], r == 0 ? "0" : r == -ENOENT ? "ENOENT" : "?");
		} else if (strcmp(argv[i], "available") == 0) {
			printf("available %u\n", tap_pool_available(p));
		} else if (strcmp(argv[i], "keep") == 0) {
			destroy = 0;
		} else if (strcmp(argv[i], "destroy") == 0) {
			destroy = 1;
		} else {
			fprintf(stderr, "tapctl: unknown command '%s'\n", argv[i]);
			tap_pool_close(p, 0, err, sizeof(err));
			return 2;
		}
	}
	if (tap_pool_close(p, destroy, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 4;
	}
	return 0;
}
