/*
 * secrets.c - the secret store: values a function reads as environment
 * variables (manifest `secrets: [NAME]`) that must never sit in a
 * manifest, an image, a command line, a log or an API reply.
 *
 * Where: one file a secret, <state>/secrets/<NAME>, mode 0600, in a
 * directory of mode 0700, both owned by the platform's user; NAME follows
 * the variable rule (UF_NAME_VAR: letters, digits, _), so it is always a
 * plain file name.  Not in Redis: every workflow's ACL user talks to that
 * Redis, and its AOF and any replica or dump would carry the values; a file
 * only the platform's user can read is readable by no unit (a tender gets
 * its own secrets through its environment and can open no file after its
 * seccomp filter is on).
 *
 * Invariants: a value is 1..UF_ENV_VALUE_MAX bytes without NUL (it becomes
 * an environment variable); a write is whole or absent (temporary file,
 * fsync, rename); a value leaves this file only towards a unit's
 * environment (units.c build_env) - the routes below answer names and
 * times, and log names only.  A unit reads its secrets when it starts: a
 * change reaches the units started after it, running ones keep the value
 * they started with (docs/manifest.md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api_routes.h"
#include "egress_call.h" /* eg_write_full: whole writes to a blocking fd */
#include "launch.h"
#include "rules.h"
#include "secrets.h"
#include "unifaasd.h"

static void secret_path(const struct daemon *d, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/" SECRETS_DIR "/%s", d->cfg.state_dir, name);
}

long secrets_read(const struct daemon *d, const char *name, char *buf, size_t cap)
{
	char path[4400];
	if (!uf_name_ok(UF_NAME_VAR, name, strlen(name)) || cap < UF_ENV_VALUE_MAX + 1) {
		errno = EINVAL;
		return -1;
	}
	secret_path(d, name, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	ssize_t r;
	while (n < cap && (r = read(fd, buf + n, cap - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return -1;
		}
		n += (size_t)r;
	}
	close(fd);
	if (n > UF_ENV_VALUE_MAX || memchr(buf, 0, n)) { /* written by hand past the rules */
		errno = EFBIG;
		return -1;
	}
	buf[n] = 0;
	return (long)n;
}

int secrets_check(const struct daemon *d, const struct uf_manifest *m, const char *file, char *err, size_t errlen)
{
	char path[4400];
	size_t off = 0;
	int missing = 0;
	struct stat st;
	for (size_t i = 0; i < m->nfunctions; i++) {
		const struct uf_function *f = &m->functions[i];
		for (size_t k = 0; k < f->nsecrets; k++) {
			secret_path(d, f->secrets[k], path, sizeof(path));
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
				continue;
			unsigned line = f->secret_lines ? f->secret_lines[k] : f->line;
			int n = snprintf(err + off, off < errlen ? errlen - off : 0,
			                 "%s%s:%u: functions.%s.secrets: secret '%s' is not set; set it with 'unifaas "
			                 "secret set %s' (the value on standard input)",
			                 missing ? "\n" : "", file, line, f->name, f->secrets[k], f->secrets[k]);
			if (n > 0 && off + (size_t)n < errlen)
				off += (size_t)n;
			missing++;
		}
	}
	return missing ? -1 : 0;
}

/* ---- routes ---- */

/* The value into <dir>/NAME, whole or not at all: 0, or an errno. */
static int store(const struct daemon *d, const char *name, const char *value, size_t len)
{
	char dir[4300], tmp[4400], path[4400];
	snprintf(dir, sizeof(dir), "%s/" SECRETS_DIR, d->cfg.state_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return errno;
	if (chmod(dir, 0700) < 0) /* made by hand with other modes: made private again */
		return errno;
	snprintf(tmp, sizeof(tmp), "%s/.%s.new", dir, name);
	secret_path(d, name, path, sizeof(path));
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600), e = 0;
	if (fd < 0)
		return errno;
	if (fchmod(fd, 0600) < 0 || eg_write_full(fd, value, len) < 0 || fsync(fd) < 0)
		e = errno ? errno : EIO;
	if (close(fd) < 0 && !e)
		e = errno;
	if (!e && rename(tmp, path) < 0)
		e = errno;
	if (e) {
		unlink(tmp);
		return e;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static enum MHD_Result r_set(struct api *a, struct MHD_Connection *c, struct request *rq, const char *name)
{
	size_t len;
	const char *value = api_body_of(rq, &len);
	if (len == 0)
		return api_error(c, 400, "bad_request", "secret '%s': an empty value; send the value as the body",
		                 name);
	if (len > UF_ENV_VALUE_MAX)
		return api_error(c, 413, "too_large",
		                 "secret '%s': %zu bytes, more than %u (the most a variable holds)", name, len,
		                 UF_ENV_VALUE_MAX);
	if (memchr(value, 0, len))
		return api_error(c, 400, "bad_request",
		                 "secret '%s': the value holds a NUL byte, which an environment variable cannot", name);
	int e = store(api_daemon(a), name, value, len);
	explicit_bzero((char *)value, len); /* the request's copy: not left in freed memory */
	if (e) {
		dlog("error", "what=secret op=set name=%s cause=\"%s\"", name, strerror(e));
		return api_error(c, 500, "internal", "secret '%s': cannot write it in the state dir: %s", name,
		                 strerror(e));
	}
	dlog("info", "what=secret op=set name=%s bytes=%zu", name, len);
	return api_json(c, 200, json_pack("{s:s}", "name", name));
}

static enum MHD_Result r_rm(struct api *a, struct MHD_Connection *c, const char *name)
{
	char path[4400];
	secret_path(api_daemon(a), name, path, sizeof(path));
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return api_error(c, 404, "not_found", "no secret '%s' (see 'unifaas secret ls')", name);
		return api_error(c, 500, "internal", "secret '%s': cannot remove it: %s", name, strerror(errno));
	}
	dlog("info", "what=secret op=rm name=%s", name);
	return api_json(c, 200, json_pack("{s:s}", "name", name));
}

static int by_name(const void *x, const void *y)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)x, "name")),
	              json_string_value(json_object_get(*(json_t *const *)y, "name")));
}

/* Names and when each was set; never a value. */
static enum MHD_Result r_list(struct api *a, struct MHD_Connection *c)
{
	char dir[4300], path[4400];
	snprintf(dir, sizeof(dir), "%s/" SECRETS_DIR, api_daemon(a)->cfg.state_dir);
	json_t *list = json_array();
	DIR *dh = opendir(dir);
	struct dirent *de;
	while (dh && list && (de = readdir(dh))) {
		struct stat st;
		if (!uf_name_ok(UF_NAME_VAR, de->d_name, strlen(de->d_name)))
			continue; /* ., .., temporary files */
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		char when[32];
		struct tm tm;
		gmtime_r(&st.st_mtim.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_array_append_new(list,
		                      json_pack("{s:s,s:s,s:I}", "name", de->d_name, "set", when, "set_ms",
		                                (json_int_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000));
	}
	if (dh)
		closedir(dh);
	else if (errno != ENOENT) {
		json_decref(list);
		return api_error(c, 500, "internal", "cannot read %s: %s", dir, strerror(errno));
	}
	size_t n = json_array_size(list);
	json_t **items = n ? calloc(n, sizeof(*items)) : NULL;
	for (size_t i = 0; items && i < n; i++)
		items[i] = json_incref(json_array_get(list, i));
	if (items) {
		qsort(items, n, sizeof(*items), by_name);
		json_array_clear(list);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(list, items[i]);
		free(items);
	}
	return api_json(c, 200, json_pack("{s:o}", "secrets", list));
}

enum MHD_Result secrets_route(struct api *a, struct MHD_Connection *c, struct request *rq, const char *method,
                              char **seg, int n)
{
	if (n == 2)
		return !strcmp(method, "GET") ? r_list(a, c) : api_error(c, 405, "method_not_allowed", "GET only");
	if (n != 3)
		return api_error(c, 404, "not_found", "no such path under /v1/secrets");
	if (!uf_name_ok(UF_NAME_VAR, seg[2], strlen(seg[2])))
		return api_error(c, 400, "bad_request", "bad secret name '%s': " UF_NAME_RULE_VAR, seg[2]);
	if (!strcmp(method, "PUT"))
		return r_set(a, c, rq, seg[2]);
	if (!strcmp(method, "DELETE"))
		return r_rm(a, c, seg[2]);
	return api_error(c, 405, "method_not_allowed", "PUT or DELETE");
}
