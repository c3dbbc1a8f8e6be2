/*
 * front.c - the `unifaas` executable users run: a static musl program, like
 * the tender, that serves the local commands (build, run, new, help,
 * version) itself and execs the API half (main.c) for the others.
 *
 * Why two programs: linked with libcurl (and through it GnuTLS, Kerberos,
 * LDAP: 30+ shared libraries), `unifaas run hello.uf` took 8-9 ms against
 * 1.5-3.5 ms for uf-hvt alone, all of it spent loading libraries before the
 * exec.  Measured here (p50 of 400 starts of hello.uf, same run): through a
 * static musl exec wrapper +0.01-0.05 ms over uf-hvt; through a dynamic
 * glibc wrapper with no library at all +0.2-0.4 ms (ld.so and glibc's
 * start-up, whose CPUID probing traps on this virtualised host).  dlopen of
 * libcurl on demand needs the dynamic glibc program, so it would spend most
 * of the 0.5 ms budget before doing anything; a static front does not.
 *
 * `run` does not even exec uf-hvt: the tender is linked in, and run's
 * arguments go to hvt_main() as they would from uf-hvt's main().  With the
 * exec, on this shared machine under load (other work 83% of the CPU), the
 * front cost +0.13 ms paired run by run and +0.67 ms between the p50s (an
 * exec costs more the busier the host); without it, -0.02..+0.03 ms paired
 * (500 pairs, three rounds).  With UNIFAAS_TENDER set, `run` execs that
 * tender instead.
 *
 * The API half gets the same argv (global --state-dir included), so it
 * parses exactly what the user typed.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hvt.h"

static int exec_api(char **argv)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/../%s/unifaas-api", cli_bindir, CLI_API_DIR);
	execv(path, argv);
	fprintf(stderr, "unifaas: cannot start %s: %s (run 'make', or reinstall unifaas)\n", path, strerror(errno));
	return UF_EX_ERROR;
}

int main(int argc, char **argv)
{
	char **all = argv;
	int r = cli_start(&argc, &argv);
	if (r >= 0)
		return r;
	if (strcmp(argv[0], "build") == 0)
		return cmd_build(argc, argv);
	if (strcmp(argv[0], "run") == 0 && cli_egress_local(&argc, &argv) < 0) /* --allow-egress */
		return UF_EX_USAGE;
	if (strcmp(argv[0], "run") == 0 && !getenv("UNIFAAS_TENDER")) {
		argv[0] = "uf-hvt"; /* the tender, linked in: no second exec */
		return hvt_main(argc, argv);
	}
	if (strcmp(argv[0], "run") == 0)
		return cmd_run(argc, argv); /* execs $UNIFAAS_TENDER */
	if (strcmp(argv[0], "new") == 0)
		return cmd_new(argc, argv);
	return exec_api(all);
}
