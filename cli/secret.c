/*
 * secret.c - `unifaas secret set|ls|rm`: the platform's secret store
 * (daemon/secrets.c) over the control API.
 *
 * A value is read from standard input only, never from the command line
 * (every user sees argv in `ps`): piped or redirected, one trailing
 * newline dropped (`echo x | unifaas secret set N` stores "x"); from a
 * terminal, one line read with echo off (turned back on also when a
 * signal such as ^C ends the command there).  Nothing here prints a value.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "launch.h"
#include "rules.h"

static struct termios tty_saved; /* the terminal as it was, for on_stop */

/* A signal that ends us while echo is off gives the terminal its echo back. */
static void on_stop(int sig)
{
	tcsetattr(0, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One line from the terminal, not echoed. */
static char *read_tty(size_t *len)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa = {.sa_handler = on_stop}, prev[sizeof(sigs) / sizeof(*sigs)];
	struct termios quiet;
	char *line = malloc(UF_ENV_VALUE_MAX + 2);
	if (!line || tcgetattr(0, &tty_saved) < 0) {
		free(line);
		return NULL;
	}
	quiet = tty_saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	fprintf(stderr, "value (not shown): ");
	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
		sigaction(sigs[i], &sa, &prev[i]);
	tcsetattr(0, TCSAFLUSH, &quiet);
	char *got = fgets(line, UF_ENV_VALUE_MAX + 2, stdin);
	tcsetattr(0, TCSAFLUSH, &tty_saved);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
		sigaction(sigs[i], &prev[i], NULL);
	fputc('\n', stderr);
	if (!got) {
		free(line);
		errno = errno ? errno : EIO;
		return NULL;
	}
	*len = strlen(line);
	return line;
}

/* One request about secret `name`: 0 on a 200, else the exit code. */
static int ask(struct api *a, const char *name, const struct api_request *req)
{
	struct api_reply r;
	int ex = api_call(a, req, &r);
	if (ex != UF_EX_OK)
		return ex;
	if (r.status != 200)
		ex = api_fail(a, name, &r);
	api_reply_free(&r);
	return ex;
}

static int secret_set(struct api *a, const char *name)
{
	size_t len = 0;
	char path[256];
	char *value = isatty(0) ? read_tty(&len) : read_all(stdin, UF_ENV_VALUE_MAX + 2, &len);
	if (!value) {
		fprintf(stderr, "unifaas: secret: set %s: %s\n", name,
		        errno == EFBIG ? "the value on standard input is over 4096 bytes, the most a secret holds"
		                       : strerror(errno));
		return UF_EX_ERROR;
	}
	if (len && value[len - 1] == '\n')
		len--;
	if (len && value[len - 1] == '\r')
		len--;
	snprintf(path, sizeof(path), "/v1/secrets/%s", name);
	int ex = ask(a, name,
	             &(struct api_request){.method = "PUT",
	                                   .path = path,
	                                   .content_type = "application/octet-stream",
	                                   .body = value,
	                                   .body_len = len});
	explicit_bzero(value, len);
	free(value);
	return ex;
}

static int secret_rm(struct api *a, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "/v1/secrets/%s", name);
	return ask(a, name, &(struct api_request){.method = "DELETE", .path = path});
}

static int secret_ls(struct api *a, int json)
{
	json_t *root = NULL, *s;
	size_t i;
	int ex = get_json(a, "/v1/secrets", json, &root);
	if (ex != UF_EX_OK || json)
		return ex;
	struct table t = {.ncols = 2};
	table_add(&t, "NAME", "SET");
	json_array_foreach(json_object_get(root, "secrets"), i, s) table_add(&t, jstr(s, "name"), jstr(s, "set"));
	table_print(&t);
	json_decref(root);
	return UF_EX_OK;
}

int cmd_secret(int argc, char **argv)
{
	struct api a;
	int json = 0, c;
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	while ((c = cli_getopt("secret", argc, argv, "", opts)) != -1) {
		if (c != 'j')
			return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
		json = 1;
	}
	if (cli_nargs("secret", argc, argv, 1, 3) < 0)
		return UF_EX_USAGE;
	const char *op = argv[optind], *name = argv[optind + 1];
	int nargs = argc - optind, ls = !strcmp(op, "ls");
	if (!ls && strcmp(op, "set") && strcmp(op, "rm")) {
		fprintf(stderr, "unifaas: secret: unknown operation '%s': expected set, ls or rm\n", op);
		return UF_EX_USAGE;
	}
	if (!strcmp(op, "set") && nargs == 3) {
		fprintf(stderr,
		        "unifaas: secret: set %s: the value is read from standard input, never from the "
		        "command line (which every user sees in ps): printf %%s VALUE | unifaas secret set %s\n",
		        name, name);
		return UF_EX_USAGE;
	}
	if (nargs != (ls ? 1 : 2)) {
		fprintf(stderr, "unifaas: secret: usage: secret set NAME | secret ls [--json] | secret rm NAME\n");
		return UF_EX_USAGE;
	}
	if (!ls && !cli_name_ok("secret", UF_NAME_VAR, name))
		return UF_EX_USAGE;
	int ex = api_open(&a, "secret");
	if (ex != UF_EX_OK)
		return ex;
	ex = ls ? secret_ls(&a, json) : op[0] == 's' ? secret_set(&a, name) : secret_rm(&a, name);
	api_close(&a);
	return ex;
}
