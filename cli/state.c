/*
 * state.c - the platform's state directory, seen from the CLI.
 *
 * One directory (mode 0700) holds everything of a running platform:
 *
 *   unifaas.conf     key=value lines unifaasd reads (redis_socket=,
 *                    redis_password_file=, api_port=, mqtt_url=, max_units=,
 *                    hvt=); the CLI reads api_port= and mqtt_url= back
 *   api.token        the control API's bearer token (0600)
 *   redis.pass       Redis's password (0600); redis.conf, redis.sock, redis/
 *   mosquitto.conf   and mosquitto/ (persistence)
 *   logs/NAME.log    each server's output; NAME.pid its pid
 *
 * Where it is: --state-dir, else $UNIFAAS_STATE, else
 * $XDG_STATE_HOME/unifaas, else ~/.local/state/unifaas; always made
 * absolute, since the servers get it in their config files.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int set_dir(const char *cmd, struct cli_state *st, const char *base, const char *suffix)
{
	char cwd[PATH_MAX];
	int n;

	if (base[0] == '/') {
		n = snprintf(st->dir, sizeof(st->dir), "%s%s", base, suffix);
	} else {
		if (!getcwd(cwd, sizeof(cwd))) {
			fprintf(stderr, "unifaas: %s: current directory: %s\n", cmd, strerror(errno));
			return -1;
		}
		n = snprintf(st->dir, sizeof(st->dir), "%s/%s%s", cwd, base, suffix);
	}
	if (n < 0 || (size_t)n >= sizeof(st->dir)) {
		fprintf(stderr, "unifaas: %s: state dir %s%s: path too long\n", cmd, base, suffix);
		return -1;
	}
	while (n > 1 && st->dir[n - 1] == '/')
		st->dir[--n] = '\0';
	return 0;
}

int state_locate(const char *cmd, struct cli_state *st)
{
	const char *env;

	memset(st, 0, sizeof(*st));
	if (cli_state_opt) {
		if (!cli_state_opt[0]) {
			fprintf(stderr, "unifaas: %s: --state-dir needs a directory\n", cmd);
			return -1;
		}
		return set_dir(cmd, st, cli_state_opt, "");
	}
	env = getenv("UNIFAAS_STATE");
	if (env && env[0])
		return set_dir(cmd, st, env, "");
	env = getenv("XDG_STATE_HOME");
	if (env && env[0] == '/')
		return set_dir(cmd, st, env, "/unifaas");
	env = getenv("HOME");
	if (!env || !env[0]) {
		struct passwd *pw = getpwuid(getuid());
		env = pw ? pw->pw_dir : NULL;
	}
	if (!env) {
		fprintf(stderr,
		        "unifaas: %s: no home directory to keep the state in: set UNIFAAS_STATE or use "
		        "--state-dir\n",
		        cmd);
		return -1;
	}
	return set_dir(cmd, st, env, "/.local/state/unifaas");
}

const char *state_path(const struct cli_state *st, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", st->dir, name);
	return buf;
}

int state_read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	return 0;
}

static unsigned parse_port(const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > 65535)
		return 0;
	return (unsigned)v;
}

int state_load(struct cli_state *st)
{
	char path[PATH_MAX + 16], line[PATH_MAX + 64];
	FILE *f = fopen(state_path(st, "unifaas.conf", path, sizeof(path)), "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *eq = strchr(line, '=');
		if (!eq || line[0] == '#')
			continue;
		*eq = '\0';
		const char *v = eq + 1;
		if (strcmp(line, "api_port") == 0) {
			st->api_port = parse_port(v);
		} else if (strcmp(line, "mqtt_url") == 0) {
			snprintf(st->mqtt_url, sizeof(st->mqtt_url), "%s", v);
			const char *colon = strrchr(v, ':');
			st->mqtt_port = colon ? parse_port(colon + 1) : 0;
		} else if (strcmp(line, "max_units") == 0) {
			st->max_units = (unsigned)strtoul(v, NULL, 10);
		}
	}
	fclose(f);
	if (!st->api_port) {
		errno = EINVAL;
		return -1;
	}
	snprintf(st->api_url, sizeof(st->api_url), "http://127.0.0.1:%u", st->api_port);
	return 0;
}
