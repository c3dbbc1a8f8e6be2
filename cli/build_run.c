/*
 * build_run.c - the local commands: `build` and `run`.
 *
 * `build` turns C sources into a unikernel image (musl-gcc, libuf, the image
 * linker script); `run` executes an image once as a local unit: it execs
 * uf-hvt, which parses the run options itself.
 *
 * Resources are found relative to this executable: BIN/../lib/unifaas holds
 * libuf.a, uf.ld and include/ (the same layout in the build tree and after
 * `make install`), BIN/uf-hvt is the tender.  UNIFAAS_LIBDIR and
 * UNIFAAS_TENDER override them.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define GUEST_CC "musl-gcc"

static int file_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

int cmd_build(int argc, char **argv)
{
	const char *out = NULL;
	const char *srcs[256];
	int nsrc = 0;
	char *args[512];
	int na = 0;
	char inc[PATH_MAX + 64], ld[PATH_MAX + 64], lib[PATH_MAX + 64];
	const char *ldir = cli_libdir();

	snprintf(lib, sizeof(lib), "%s/libuf.a", ldir);
	if (!file_exists(lib)) {
		fprintf(stderr, "unifaas: build: runtime not found at %s (run 'make', or set UNIFAAS_LIBDIR)\n", lib);
		return 2;
	}
	snprintf(inc, sizeof(inc), "-I%s/include", ldir);
	snprintf(ld, sizeof(ld), "-Wl,-T,%s/uf.ld", ldir);
	args[na++] = GUEST_CC;
	static const char *base[] = {"-std=gnu11", "-O2", "-static", "-fno-pie", "-no-pie", "-nostartfiles",
	                             "-ffunction-sections", "-fdata-sections", "-fno-asynchronous-unwind-tables",
	                             /* a frame larger than the 4 KiB guard page below the
	                              * stack must hit it, not jump over it into the heap */
	                             "-fstack-clash-protection", "-Wl,--gc-sections", "-Wl,-z,max-page-size=4096",
	                             "-Wl,--build-id=none", "-Wl,-z,noexecstack"};
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		args[na++] = (char *)base[i];
	args[na++] = inc;
	args[na++] = ld;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			cli_help("build", stdout);
			return 0;
		}
		if (strcmp(argv[i], "-o") == 0) {
			if (++i == argc) {
				fprintf(stderr, "unifaas: build: -o needs a file name\n");
				return 2;
			}
			out = argv[i];
		} else if (argv[i][0] == '-') {
			if (na > 400) {
				fprintf(stderr, "unifaas: build: too many options\n");
				return 2;
			}
			args[na++] = argv[i];
		} else {
			if (nsrc == 256) {
				fprintf(stderr, "unifaas: build: more than 256 sources\n");
				return 2;
			}
			if (!file_exists(argv[i])) {
				fprintf(stderr, "unifaas: build: %s: %s\n", argv[i], strerror(errno));
				return 2;
			}
			srcs[nsrc++] = argv[i];
		}
	}
	if (nsrc == 0) {
		fprintf(stderr, "unifaas: build: no source files given\n");
		cli_help("build", stderr);
		return 2;
	}
	char defout[PATH_MAX];
	if (!out) {
		snprintf(defout, sizeof(defout), "%s", srcs[0]);
		char *dot = strrchr(defout, '.');
		if (dot && !strchr(dot, '/'))
			*dot = '\0';
		strncat(defout, ".uf", sizeof(defout) - strlen(defout) - 1);
		out = defout;
	}
	for (int i = 0; i < nsrc; i++)
		args[na++] = (char *)srcs[i];
	args[na++] = "-Wl,--start-group";
	args[na++] = lib;
	args[na++] = "-lm";
	args[na++] = "-lc";
	args[na++] = "-Wl,--end-group";
	args[na++] = "-o";
	args[na++] = (char *)out;
	args[na] = NULL;

	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "unifaas: build: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		execvp(GUEST_CC, args);
		fprintf(stderr, "unifaas: build: cannot run %s: %s (install musl-tools: scripts/install-deps.sh)\n",
		        GUEST_CC, strerror(errno));
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "unifaas: build: compiling %s failed\n", srcs[0]);
		return 1;
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	char tender[PATH_MAX + 16];
	cli_tender_path(tender, sizeof(tender));
	argv[0] = tender;
	(void)argc;
	execv(tender, argv);
	fprintf(stderr, "unifaas: run: cannot start the tender %s: %s\n", tender, strerror(errno));
	return 7;
}
