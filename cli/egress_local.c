/*
 * egress_local.c - uf_http for `unifaas run`: the front's half.
 *
 * unifaasd serves a unit's uf_http on the platform (daemon/egress_server.c).
 * A local run has no unifaasd, so `unifaas run --allow-egress PREFIX ...`
 * starts one helper of its own: the glibc API half (unifaas-api, which has
 * libcurl) in its internal egress-serve mode (egress_serve.c), on one end
 * of a socketpair; the tender, linked into the front, gets the other end
 * with --egress-fd.  The wire and the rules are the platform's (common/
 * egress.h, daemon/egress_call.c), so a local call is checked and made as
 * a deployed one would be.  Without --allow-egress nothing is started and
 * uf_http answers -ENOSYS, as before.
 *
 * Invariants: the prefixes are checked here with the manifest's rule
 * (uf_url_parse) before anything starts; the options this file serves are
 * taken out of the arguments the tender sees; the helper ends when the
 * tender does (end of file on its socket).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "egress.h"

#define LOCAL_PREFIXES_MAX 64

/* the value of option `name` at argv[*i] (--name V or --name=V), else NULL */
static const char *opt_value(char **argv, int argc, int *i, const char *name)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] || *i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static int start_helper(const char *ca, const char **prefixes, int n, int *fd)
{
	char path[PATH_MAX + 64];
	const char *args[LOCAL_PREFIXES_MAX + 5];
	int sv[2], k = 0;
	snprintf(path, sizeof(path), "%s/../%s/unifaas-api", cli_bindir, CLI_API_DIR);
	if (access(path, X_OK) < 0) {
		fprintf(stderr, "unifaas: run: --allow-egress needs %s: %s (run 'make', or reinstall unifaas)\n", path,
		        strerror(errno));
		return -1;
	}
	args[k++] = path;
	args[k++] = CLI_EGRESS_SERVE;
	if (ca) {
		args[k++] = "--ca";
		args[k++] = ca;
	}
	for (int i = 0; i < n; i++)
		args[k++] = prefixes[i];
	args[k] = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		fprintf(stderr, "unifaas: run: socketpair: %s\n", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		if (dup2(sv[1], 3) < 0)
			_exit(1);
		execv(path, (char *const *)args);
		fprintf(stderr, "unifaas: run: cannot start %s: %s\n", path, strerror(errno));
		_exit(1);
	}
	close(sv[1]);
	if (pid < 0) {
		fprintf(stderr, "unifaas: run: fork: %s\n", strerror(errno));
		close(sv[0]);
		return -1;
	}
	fcntl(sv[0], F_SETFD, 0); /* kept if the tender is exec'd (UNIFAAS_TENDER) */
	*fd = sv[0];
	return 0;
}

int cli_egress_local(int *argc, char ***argv)
{
	static const char *prefixes[LOCAL_PREFIXES_MAX];
	static char fdopt[32];
	const char *ca = NULL, *v;
	int n = 0, out = 0, fd;
	char **in = *argv, **args = calloc((size_t)*argc + 2, sizeof(char *));
	if (!args)
		return -1;
	args[out++] = in[0];
	args[out++] = NULL; /* --egress-fd, or dropped */
	for (int i = 1; i < *argc; i++) {
		if (!strcmp(in[i], "--")) {
			while (i < *argc)
				args[out++] = in[i++];
			break;
		}
		if ((v = opt_value(in, *argc, &i, "--allow-egress"))) {
			struct uf_url u;
			const char *why;
			if (uf_url_parse(v, strlen(v), &u, &why) < 0 || n == LOCAL_PREFIXES_MAX) {
				fprintf(stderr, "unifaas: run: --allow-egress '%s': %s\n", v,
				        n == LOCAL_PREFIXES_MAX ? "more than 64 prefixes" : why);
				return -1;
			}
			prefixes[n++] = v;
		} else if ((v = opt_value(in, *argc, &i, "--egress-ca"))) {
			ca = v;
		} else {
			args[out++] = in[i];
		}
	}
	if (n == 0 && ca) {
		fprintf(stderr, "unifaas: run: --egress-ca needs --allow-egress (no egress is served without it)\n");
		return -1;
	}
	if (n && start_helper(ca, prefixes, n, &fd) < 0)
		return -1;
	if (n) {
		snprintf(fdopt, sizeof(fdopt), "--egress-fd=%d", fd);
		args[1] = fdopt;
	} else {
		memmove(args + 1, args + 2, (size_t)(out - 2) * sizeof(char *));
		out--;
	}
	args[out] = NULL;
	*argc = out;
	*argv = args;
	return 0;
}
