/*
 * config.c - reads <state>/unifaas.conf, written by `unifaas up`, then the
 * optional <state>/unifaasd.conf, the user's own settings (same format; its
 * keys override; `up` never rewrites it).  Also makes the state dir's
 * subdirectories (mkdirs: logs, images).
 *
 * The file is `key=value` lines; `#` starts a comment.  Keys: redis_socket,
 * redis_password_file, api_port, mqtt_url, max_units, hvt, tick_ms,
 * idle_tick_ms, log_cap, tap_bridge, tap_cidr, tap_pool_size, prestart,
 * retain_handled, trim_interval_ms.  The API token is <state>/api.token.  An
 * unknown key or a bad value is an error naming the file and line: the daemon must not start on a configuration it half
 * understood.  Secrets are read from their files and never logged.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "unifaasd.h"

static int read_secret(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!fgets(out, (int)cap, f))
		out[0] = 0;
	fclose(f);
	out[strcspn(out, "\r\n")] = 0;
	if (!out[0]) {
		snprintf(err, errlen, "%s: empty", path);
		return -1;
	}
	return 0;
}

static int parse_num(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || n > max)
		return -1;
	*out = n;
	return 0;
}

static int set_key(struct daemon_config *c, const char *k, const char *v, char *pwfile, size_t pwcap)
{
	uint64_t n;
	if (!strcmp(k, "redis_socket"))
		return snprintf(c->redis_socket, sizeof(c->redis_socket), "%s", v) < (int)sizeof(c->redis_socket) ? 0
		                                                                                                  : -1;
	if (!strcmp(k, "redis_password_file"))
		return snprintf(pwfile, pwcap, "%s", v) < (int)pwcap ? 0 : -1;
	if (!strcmp(k, "hvt"))
		return snprintf(c->hvt, sizeof(c->hvt), "%s", v) < (int)sizeof(c->hvt) ? 0 : -1;
	if (!strcmp(k, "mqtt_url"))
		return snprintf(c->mqtt_url, sizeof(c->mqtt_url), "%s", v) < (int)sizeof(c->mqtt_url) ? 0 : -1;
	if (!strcmp(k, "api_port")) {
		if (parse_num(v, 65535, &n) < 0 || n == 0)
			return -1;
		c->api_port = (uint16_t)n;
		return 0;
	}
	if (!strcmp(k, "max_units")) {
		if (parse_num(v, 4096, &n) < 0 || n == 0)
			return -1;
		c->max_units = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "tick_ms") || !strcmp(k, "idle_tick_ms")) {
		if (parse_num(v, 60000, &n) < 0 || n < 10)
			return -1;
		*(k[0] == 't' ? &c->tick_ms : &c->idle_tick_ms) = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "tap_bridge"))
		return v[0] && snprintf(c->tap_bridge, sizeof(c->tap_bridge), "%s", v) < (int)sizeof(c->tap_bridge)
		           ? 0
		           : -1;
	if (!strcmp(k, "tap_cidr"))
		return v[0] && snprintf(c->tap_cidr, sizeof(c->tap_cidr), "%s", v) < (int)sizeof(c->tap_cidr) ? 0 : -1;
	if (!strcmp(k, "retain_handled")) {
		if (parse_num(v, 100000000, &n) < 0)
			return -1;
		c->retain_handled = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "trim_interval_ms")) {
		if (parse_num(v, 86400000, &n) < 0 || n < 100)
			return -1;
		c->trim_interval_ms = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "prestart")) {
		if (parse_num(v, 64, &n) < 0)
			return -1;
		c->prestart = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "tap_pool_size")) {
		if (parse_num(v, 1000, &n) < 0 || n == 0)
			return -1;
		c->tap_pool_size = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "log_cap")) {
		if (parse_num(v, UINT64_C(1) << 36, &n) < 0 || n < 4096)
			return -1;
		c->log_cap = n;
		return 0;
	}
	return -2;
}

/* key=value lines of `path` into c; missing file: -1 if required, else 0 */
static int parse_file(struct daemon_config *c, const char *path, int required, char *pwfile, size_t pwcap, char *err,
                      size_t errlen)
{
	char line[4400];
	FILE *f = fopen(path, "r");
	if (!f) {
		if (!required && errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
		         required ? " (run 'unifaas up', which writes it)" : "");
		return -1;
	}
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		char *k = line + strspn(line, " \t");
		if (!*k || *k == '#')
			continue;
		char *eq = strchr(k, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected key=value", path, lineno);
			rc = -1;
			break;
		}
		*eq = 0;
		int r = set_key(c, k, eq + 1, pwfile, pwcap);
		if (r < 0) {
			if (r == -2)
				snprintf(err, errlen, "%s:%d: unknown key '%s'", path, lineno, k);
			else
				snprintf(err, errlen, "%s:%d: %s: bad value '%s'", path, lineno, k, eq + 1);
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

int mkdirs(const char *path)
{
	char tmp[4200];
	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

int config_load(struct daemon_config *c, const char *state_dir, char *err, size_t errlen)
{
	char path[1200], pwfile[1024] = "";
	memset(c, 0, sizeof(*c));
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", state_dir);
	snprintf(c->redis_socket, sizeof(c->redis_socket), "%s/redis.sock", state_dir);
	snprintf(c->mqtt_url, sizeof(c->mqtt_url), "mqtt://127.0.0.1:1883");
	snprintf(c->token_file, sizeof(c->token_file), "%s/api.token", state_dir);
	snprintf(c->hvt, sizeof(c->hvt), "uf-hvt");
	c->api_port = 7380;
	c->max_units = 32;
	c->tick_ms = 100;
	c->idle_tick_ms = 1000;
	c->log_cap = 1 << 20;
	snprintf(c->tap_bridge, sizeof(c->tap_bridge), "uf-br0");
	snprintf(c->tap_cidr, sizeof(c->tap_cidr), "10.77.0.1/24");
	c->tap_pool_size = 16;
	c->prestart = 2;
	c->retain_handled = 10000;
	c->trim_interval_ms = 30000;

	snprintf(path, sizeof(path), "%s/unifaas.conf", state_dir);
	if (parse_file(c, path, 1, pwfile, sizeof(pwfile), err, errlen) < 0)
		return -1;
	/* the user's own settings, which `unifaas up` never rewrites */
	snprintf(path, sizeof(path), "%s/unifaasd.conf", state_dir);
	int rc = parse_file(c, path, 0, pwfile, sizeof(pwfile), err, errlen);
	if (rc < 0)
		return -1;
	if (pwfile[0] && read_secret(pwfile, c->redis_password, sizeof(c->redis_password), err, errlen) < 0)
		return -1;
	return read_secret(c->token_file, c->token, sizeof(c->token), err, errlen);
}
