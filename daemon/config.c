/*
 * config.c - unifaasd's configuration: the files are read by the one reader
 * of common/config.c (defaults, then <state>/unifaas.conf written by
 * `unifaas up`, then the user's <state>/unifaasd.conf, whose keys override;
 * the CLI reads them the same way), then the secrets: the Redis password
 * from redis_password_file, the broker's from mqtt_password_file and the API token from <state>/api.token, read
 * from their files and never logged.  Also makes the state dir's
 * subdirectories (mkdirs: logs, images).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int config_load(struct uf_config *c, const char *state_dir, char *err, size_t errlen)
{
	if (uf_config_load(c, state_dir, err, errlen) < 0)
		return -1;
	if (c->redis_password_file[0] &&
	    read_secret(c->redis_password_file, c->redis_password, sizeof(c->redis_password), err, errlen) < 0)
		return -1;
	/* absent (a state dir without a broker account): the broker refuses
	 * the client, which logs it; unifaasd still serves everything else */
	if (c->mqtt_password_file[0] && access(c->mqtt_password_file, F_OK) == 0 &&
	    read_secret(c->mqtt_password_file, c->mqtt_password, sizeof(c->mqtt_password), err, errlen) < 0)
		return -1;
	return read_secret(c->token_file, c->token, sizeof(c->token), err, errlen);
}
