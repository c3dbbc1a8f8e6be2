/*
 * client.c - the CLI's HTTP client of the control API (docs/api.md).
 *
 * One curl easy handle per command, reused for every request so that a long
 * `push` keeps one connection.  The API URL comes from the state dir's
 * unifaas.conf (api_port=), the bearer token from <state>/api.token.
 *
 * What can go wrong maps onto the CLI's exit codes in one place:
 * no state dir or nothing listening -> 3 (platform not running), a 404 -> 4,
 * 422 -> 65 (invalid manifest), 503 -> 69 (unavailable), 429 -> 75 (busy:
 * retry, after its Retry-After), 400 -> 2 (the
 * daemon refused an argument), anything else -> 1.  Error bodies are
 * {"error":{"code":...,"message":...}}; the message is shown to the user.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"

int api_open(struct api *a, const char *cmd)
{
	char path[PATH_MAX + 16];
	struct stat sb;

	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	if (state_locate(cmd, &a->st) < 0)
		return UF_EX_ERROR;
	if (stat(a->st.dir, &sb) < 0) {
		if (errno == ENOENT) {
			fprintf(stderr, "unifaas: %s: no platform state in %s (%s)\n", cmd, a->st.dir, UF_HINT_UP);
			return UF_EX_NOT_RUNNING;
		}
		fprintf(stderr, "unifaas: %s: state dir %s: %s\n", cmd, a->st.dir, strerror(errno));
		return UF_EX_ERROR;
	}
	char err[PATH_MAX + 256];
	if (state_load(&a->st, err, sizeof(err)) < 0) {
		int e = errno;
		fprintf(stderr, "unifaas: %s: %s\n", cmd, err);
		return e == ENOENT ? UF_EX_NOT_RUNNING : UF_EX_ERROR;
	}
	if (state_read_small(state_path(&a->st, "api.token", path, sizeof(path)), a->token, sizeof(a->token)) < 0) {
		int e = errno;
		fprintf(stderr, "unifaas: %s: %s: %s%s\n", cmd, path, strerror(e),
		        e == ENOENT   ? " (is the platform up? run 'unifaas up')"
		        : e == EACCES ? " (the platform belongs to another user; use --state-dir)"
		                      : "");
		return e == ENOENT ? UF_EX_NOT_RUNNING : UF_EX_ERROR;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(a->curl = curl_easy_init())) {
		fprintf(stderr, "unifaas: %s: cannot initialise libcurl\n", cmd);
		return UF_EX_ERROR;
	}
	return UF_EX_OK;
}

void api_close(struct api *a)
{
	if (a->curl)
		curl_easy_cleanup(a->curl);
	a->curl = NULL;
	memset(a->token, 0, sizeof(a->token));
}

void api_reply_free(struct api_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

struct sink_ctx {
	CURL *curl;
	struct api_reply *reply;
	FILE *sink;
	size_t cap;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct sink_ctx *c = arg;
	struct api_reply *r = c->reply;
	size_t len = size * n;
	long status = 0;

	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (c->sink && status >= 200 && status < 300) {
		if (fwrite(data, 1, len, c->sink) != len || fflush(c->sink) != 0)
			return 0;
		r->len += len; /* counted, not kept */
		return len;
	}
	if (r->len + len + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		while (cap < r->len + len + 1)
			cap *= 2;
		char *nb = realloc(r->body, cap);
		if (!nb)
			return 0;
		r->body = nb;
		c->cap = cap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct api_reply *r = arg;
	size_t len = size * n;
	static const char name[] = "X-Unifaas-Offset:", retry[] = "Retry-After:";

	if (len > sizeof(name) && strncasecmp(data, name, sizeof(name) - 1) == 0)
		r->offset = strtoll(data + sizeof(name) - 1, NULL, 10);
	else if (len > sizeof(retry) && strncasecmp(data, retry, sizeof(retry) - 1) == 0)
		r->retry_after = strtol(data + sizeof(retry) - 1, NULL, 10);
	return len;
}

int api_call(struct api *a, const struct api_request *req, struct api_reply *reply)
{
	char url[4096], auth[300], ctype[128], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct sink_ctx ctx = {.curl = a->curl, .reply = reply, .sink = req->sink};
	CURL *c = a->curl;
	long timeout = req->timeout_s ? req->timeout_s : 60;

	memset(reply, 0, sizeof(*reply));
	reply->offset = -1;
	reply->retry_after = -1;
	int n = snprintf(url, sizeof(url), "%s%s", a->st.api_url, req->path);
	if (n < 0 || (size_t)n >= sizeof(url)) { /* never send a cut path: it may name something else */
		fprintf(stderr, "unifaas: %s: request path of %zu bytes is too long\n", a->cmd, strlen(req->path));
		return UF_EX_USAGE;
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", a->token);
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (req->content_type) {
		snprintf(ctype, sizeof(ctype), "Content-Type: %s", req->content_type);
		hdrs = curl_slist_append(hdrs, ctype);
	}
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* the path as built: a key "." or ".." is a key, not a dot segment to
	 * squash (kv del WF .. would otherwise DELETE /v1/workflows/WF) */
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &ctx);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, reply);
	if (strcmp(req->method, "GET") != 0) {
		if (strcmp(req->method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
		if (req->body || strcmp(req->method, "DELETE") != 0) {
			curl_easy_setopt(c, CURLOPT_POST, 1L);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		}
	}
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(hdrs);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
	if (rc == CURLE_OK)
		return UF_EX_OK;
	api_reply_free(reply);
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_COULDNT_CONNECT: {
		long oserr = 0;
		curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
		fprintf(stderr, "unifaas: %s: cannot reach unifaasd at %s: %s (%s)\n", a->cmd, a->st.api_url,
		        oserr ? strerror((int)oserr) : why, UF_HINT_UP);
	}
		return UF_EX_NOT_RUNNING;
	case CURLE_OPERATION_TIMEDOUT:
		fprintf(stderr, "unifaas: %s: unifaasd at %s did not answer in %ld s (see %s/logs/unifaasd.log)\n",
		        a->cmd, a->st.api_url, timeout, a->st.dir);
		return UF_EX_UNAVAILABLE;
	case CURLE_WRITE_ERROR:
		if (req->sink && ferror(req->sink)) {
			fprintf(stderr, "unifaas: %s: writing the output: %s\n", a->cmd, strerror(errno));
			return UF_EX_ERROR;
		}
		/* fall through */
	default:
		fprintf(stderr, "unifaas: %s: %s %s: %s\n", a->cmd, req->method, url, why);
		return UF_EX_ERROR;
	}
}

static json_t *error_object(const struct api_reply *r)
{
	if (!r->body)
		return NULL;
	json_t *root = json_loadb(r->body, r->len, 0, NULL);
	if (!root)
		return NULL;
	json_t *err = json_object_get(root, "error");
	if (!json_is_object(err)) {
		json_decref(root);
		return NULL;
	}
	json_incref(err);
	json_decref(root);
	return err;
}

int api_error_is(const struct api_reply *r, const char *code)
{
	json_t *err = error_object(r);
	const char *c = err ? json_string_value(json_object_get(err, "code")) : NULL;
	int is = c && !strcmp(c, code);
	json_decref(err);
	return is;
}

const char *api_error_message(const struct api_reply *r, char *buf, size_t len)
{
	json_t *err = error_object(r);
	const char *msg = err ? json_string_value(json_object_get(err, "message")) : NULL;
	if (msg)
		snprintf(buf, len, "%s", msg);
	else if (r->body && r->len)
		snprintf(buf, len, "%.*s", (int)strcspn(r->body, "\n"), r->body);
	else
		snprintf(buf, len, "HTTP status %ld", r->status);
	json_decref(err);
	size_t n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return buf;
}

int api_fail(struct api *a, const char *what, const struct api_reply *r)
{
	char msg[8192], retry[48];
	const char *hint = "";
	int ex = UF_EX_ERROR;

	api_error_message(r, msg, sizeof(msg));
	switch (r->status) {
	case 400:
		ex = UF_EX_USAGE;
		break;
	case 401:
		hint =
		    " (the token in api.token is not the running unifaasd's: restart with 'unifaas down; unifaas up')";
		break;
	case 404:
		ex = UF_EX_NOT_FOUND;
		break;
	case 413:
		hint = " (the request is too large)";
		break;
	case 422: /* every problem of the manifest, one per line */
		for (char *line = strtok(msg, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(stderr, "unifaas: %s: %s\n", a->cmd, line);
		return UF_EX_DATAERR;
	case 429: /* busy or held to its ingress rate: nothing of the request was done */
		ex = UF_EX_TEMPFAIL;
		if (r->retry_after >= 0)
			snprintf(retry, sizeof(retry), " (retry after %ld s)", r->retry_after);
		else
			snprintf(retry, sizeof(retry), " (retry later)");
		hint = retry;
		break;
	case 500:
		hint = " (a bug in unifaasd: its log is logs/unifaasd.log in the state dir)";
		break;
	case 503:
		ex = UF_EX_UNAVAILABLE;
		hint = " ('unifaas status' shows whether Redis runs, 'unifaas up' starts it again; its log is "
		       "logs/redis.log in the state dir)";
		break;
	}
	fprintf(stderr, "unifaas: %s: %s%s%s%s\n", a->cmd, what ? what : "", what ? ": " : "", msg, hint);
	return ex;
}

int api_escape(struct api *a, const char *s, char *buf, size_t len)
{
	char *e = curl_easy_escape(a->curl, s, 0);
	if (!e)
		return -1;
	int n = snprintf(buf, len, "%s", e);
	curl_free(e);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

int api_health(unsigned port, long timeout_ms)
{
	char url[64];
	long status = 0;
	CURL *c;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(c = curl_easy_init()))
		return 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/health", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return (int)status;
}
