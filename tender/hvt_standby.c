/*
 * hvt_standby.c - a tender started before it knows what it will run.
 *
 * `uf-hvt --standby` does the image-independent half of a boot - exec,
 * /dev/kvm, KVM_CREATE_VM, KVM_CREATE_VCPU, ~0.6 ms here - and then waits
 * on stdin for a launch request from unifaasd: the options and image of the
 * unit it is to become, and the environment it needs (the workflow's Redis
 * credentials, which never appear on a command line).  From there it boots
 * exactly like a tender started with those arguments.
 *
 * The request (common/launch.h): UF_LAUNCH_MAGIC, then tokens each ending
 * in a NUL byte, "A" followed by one argument or "E" followed by
 * NAME=VALUE (the credentials and the function's environment, which never
 * appear on a command line), then end of file.  Invariants: nothing guest-
 * or workflow-specific happens before the request is complete; a request
 * is at most UF_LAUNCH_MAX bytes and TOKENS_MAX arguments; end of
 * file before any byte means the daemon let the standby go (exit 0); stdin
 * is /dev/null once the request is read.  `uf-hvt --standby [PADDING]`: the
 * optional blank argument only makes room for the unit's command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hvt.h"
#include "launch.h"

#define TOKENS_MAX 256
#define ARGS_SHOWN (64u << 10) /* bytes of arguments written over the command line */

static char req[UF_LAUNCH_MAX];
static char *args[TOKENS_MAX + 2];

/* Reads stdin to end of file; the length, or -1. */
static ssize_t read_request(void)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = read(0, req + n, sizeof(req) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return (ssize_t)n;
		n += (size_t)r;
		if (n == sizeof(req)) {
			errno = 0; /* too long, not a read error */
			return -1;
		}
	}
}

/*
 * Let ps and /proc/PID/cmdline show the unit's arguments, not "--standby",
 * so a unit can be found by its options (its environment is not shown).
 * The arguments are written over the standby's own command line, which
 * unifaasd pads with a long blank argument for the purpose; what does not
 * fit is cut.
 */
static void show_args(int na, int orig_argc, char **orig_argv)
{
	char *start = orig_argv[0], *end = orig_argv[orig_argc - 1] + strlen(orig_argv[orig_argc - 1]) + 1;
	size_t room = (size_t)(end - start), n = 0;
	static char cmdline[ARGS_SHOWN];
	for (int i = 0; i < na; i++) {
		size_t len = strlen(args[i]) + 1;
		if (n + len > sizeof(cmdline))
			break;
		memcpy(cmdline + n, args[i], len);
		n += len;
	}
	if (n > room)
		n = room;
	memcpy(start, cmdline, n);
	memset(start + n, 0, room - n);
	if (n)
		start[n - 1] = '\0';
}

int hvt_standby_wait(int *argc, char ***argv, char *err, size_t errlen)
{
	ssize_t n = read_request();
	if (n == 0)
		return 0;
	if (n < 0) {
		snprintf(err, errlen, "standby: launch request: %s",
		         errno ? strerror(errno) : "over UF_LAUNCH_MAX bytes (common/launch.h)");
		return -1;
	}
	size_t m = strlen(UF_LAUNCH_MAGIC);
	if ((size_t)n < m || memcmp(req, UF_LAUNCH_MAGIC, m) != 0 || req[n - 1] != '\0') {
		snprintf(err, errlen, "standby: malformed launch request (%zd bytes)", n);
		return -1;
	}
	int na = 0, orig_argc = *argc;
	char **orig_argv = *argv;
	args[na++] = strdup((*argv)[0]);
	if (!args[0]) {
		snprintf(err, errlen, "standby: out of memory");
		return -1;
	}
	for (char *p = req + m; p < req + n; p += strlen(p) + 1) {
		if (p[0] == 'A' && na < TOKENS_MAX) {
			args[na++] = p + 1;
		} else if (p[0] == 'E' && strchr(p + 1, '=') && p[1] != '=') {
			char *eq = strchr(p, '=');
			*eq = '\0';
			int rc = setenv(p + 1, eq + 1, 1);
			*eq = '=';
			if (rc < 0) {
				snprintf(err, errlen, "standby: setenv: %s", strerror(errno));
				return -1;
			}
		} else {
			snprintf(err, errlen, "standby: malformed launch request token '%.40s'", p);
			return -1;
		}
	}
	args[na] = NULL;
	show_args(na, orig_argc, orig_argv);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		close(null);
	}
	*argc = na;
	*argv = args;
	return 1;
}
