/*
 * state.c - the platform's state directory, seen from the CLI.
 *
 * One directory (mode 0700) holds everything of a running platform:
 *
 *   unifaas.conf     key=value lines unifaasd reads (redis_socket=,
 *                    redis_password_file=, api_port=, mqtt_url=, max_units=,
 *                    hvt=), written by `up`
 *   unifaasd.conf    the user's own settings, same format, never rewritten;
 *                    its keys override unifaas.conf's.  Both are read by
 *                    common/config.c, for unifaasd and the CLI alike, so an
 *                    api_port set there is the port the CLI calls
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
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "secret.h"

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

static void state_set(struct cli_state *st, const struct uf_config *c)
{
	st->api_port = c->api_port;
	st->max_units = c->max_units;
	st->mqtt_port = uf_config_mqtt_port(c);
	snprintf(st->mqtt_url, sizeof(st->mqtt_url), "%s", c->mqtt_url);
	snprintf(st->api_url, sizeof(st->api_url), "http://127.0.0.1:%u", st->api_port);
	snprintf(st->mqtt_bind, sizeof(st->mqtt_bind), "%s", c->mqtt_bind);
	st->mqtt_tls_port = c->mqtt_tls_port;
	snprintf(st->mqtt_tls_cert, sizeof(st->mqtt_tls_cert), "%s", c->mqtt_tls_cert);
	snprintf(st->mqtt_tls_key, sizeof(st->mqtt_tls_key), "%s", c->mqtt_tls_key);
	st->ingress_port = c->ingress_port;
	st->redis_maxmemory = uf_config_maxmemory(c);
	snprintf(st->cpu_cgroup, sizeof(st->cpu_cgroup), "%s", c->cpu_cgroup);
	snprintf(st->ingress_url, sizeof(st->ingress_url), "http://%s:%u", c->ingress_bind, c->ingress_port);
}

int state_load(struct cli_state *st, char *err, size_t errlen)
{
	struct uf_config c;
	if (uf_config_load(&c, st->dir, err, errlen) < 0)
		return -1;
	state_set(st, &c);
	return 0;
}

int state_user_overrides(struct cli_state *st, char *err, size_t errlen)
{
	struct uf_config c;
	char path[PATH_MAX + 16];
	uf_config_defaults(&c, st->dir);
	c.api_port = (uint16_t)st->api_port;
	c.ingress_port = (uint16_t)st->ingress_port;
	c.max_units = st->max_units;
	snprintf(c.mqtt_url, sizeof(c.mqtt_url), "%s", st->mqtt_url);
	if (uf_config_read(&c, state_path(st, "unifaasd.conf", path, sizeof(path)), 0, err, errlen) < 0)
		return -1;
	unsigned mqtt_port = st->mqtt_port; /* the broker up starts listens there, whatever unifaasd calls */
	state_set(st, &c);
	st->mqtt_port = mqtt_port;
	return 0;
}

int state_write_file(const char *cmd, const char *path, mode_t mode, const char *text)
{
	char tmp[PATH_MAX + 16];
	size_t len = strlen(text);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || fchmod(fd, mode) < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
		fprintf(stderr, "unifaas: %s: writing %s: %s\n", cmd, tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		fprintf(stderr, "unifaas: %s: %s: %s\n", cmd, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int state_secret(const char *cmd, const struct cli_state *st, const char *name, size_t nbytes, char *out, size_t outlen)
{
	char path[PATH_MAX + 16];

	state_path(st, name, path, sizeof(path));
	if (state_read_small(path, out, outlen) == 0 && out[0]) {
		chmod(path, 0600);
		return 0;
	}
	if (uf_random_hex(out, outlen, nbytes) < 0) {
		fprintf(stderr, "unifaas: %s: cannot make a random %s: getrandom: %s\n", cmd, name, strerror(errno));
		return -1;
	}
	char text[2 * 64 + 2];
	snprintf(text, sizeof(text), "%s\n", out);
	return state_write_file(cmd, path, 0600, text);
}
