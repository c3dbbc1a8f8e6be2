/*
 * commands.c - the commands that are calls of the control API (docs/api.md):
 * deploy, undeploy, ls, resume, push, ps, queues, logs, kv.
 *
 * Each parses its arguments, checks names the way the API does (1-64 of
 * [A-Za-z0-9._-]) so that a typo is a usage error before any request, makes
 * its request(s) through client.c and prints the answer: a table for people,
 * or with --json the API's JSON as is.  Errors go through api_fail(), which
 * owns the mapping of HTTP statuses to exit codes.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rules.h"

#define PUSH_LINES_PER_REQUEST UF_PUSH_EVENTS_MAX
#define PUSH_BYTES_PER_REQUEST (UF_PUSH_BYTES_MAX / 2) /* a line more stays within the limit */
#define LOGS_WAIT_MS           25000

/* --- small helpers ------------------------------------------------------------------ */

void table_add(struct table *t, ...)
{
	va_list ap;
	if (t->nrows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->cells = realloc(t->cells, t->cap * t->ncols * sizeof(char *));
		if (!t->cells) {
			fprintf(stderr, "unifaas: out of memory\n");
			exit(UF_EX_ERROR);
		}
	}
	va_start(ap, t);
	for (size_t c = 0; c < t->ncols; c++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->nrows * t->ncols + c] = strdup(s ? s : "-");
	}
	va_end(ap);
	t->nrows++;
}

void table_print(struct table *t)
{
	size_t w[16] = {0};
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t n = strlen(t->cells[r * t->ncols + c]);
			w[c] = n > w[c] ? n : w[c];
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c + 1 < t->ncols)
				printf("%-*s  ", (int)w[c], s);
			else
				printf("%s\n", s);
			free(t->cells[r * t->ncols + c]);
		}
	}
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && s[0] ? s : NULL;
}

const char *jnum(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_number(v))
		return NULL;
	snprintf(buf, len, "%lld", (long long)json_number_value(v));
	return buf;
}

static void print_body(const struct api_reply *r)
{
	if (r->body && r->len) {
		fwrite(r->body, 1, r->len, stdout);
		if (r->body[r->len - 1] != '\n')
			putchar('\n');
	}
}

/* Options of commands that only take --json. Returns -1 to go on, else the exit code. */
int json_opts(const char *cmd, int argc, char **argv, int *json)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	int c;
	*json = 0;
	while ((c = cli_getopt(cmd, argc, argv, "", opts)) != -1) {
		if (c == 'j')
			*json = 1;
		else
			return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
	}
	return cli_nargs(cmd, argc, argv, 0, 0) < 0 ? UF_EX_USAGE : -1;
}

/* Options of commands without any. Returns -1 to go on, else the exit code. */
static int no_opts(const char *cmd, int argc, char **argv, int min, int max)
{
	int c;
	while ((c = cli_getopt(cmd, argc, argv, "", NULL)) != -1)
		return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
	return cli_nargs(cmd, argc, argv, min, max) < 0 ? UF_EX_USAGE : -1;
}

/* GET path; 200 -> *root (parsed) or printed as is with --json. */
int get_json(struct api *a, const char *path, int json, json_t **root)
{
	struct api_reply r;
	int ex = api_call(a, &(struct api_request){.method = "GET", .path = path}, &r);
	*root = NULL;
	if (ex != UF_EX_OK)
		return ex;
	if (r.status != 200) {
		ex = api_fail(a, NULL, &r);
	} else if (json) {
		print_body(&r);
	} else {
		json_error_t err;
		*root = json_loadb(r.body ? r.body : "", r.len, 0, &err);
		if (!*root) {
			fprintf(stderr, "unifaas: %s: GET %s: bad JSON from unifaasd: %s\n", a->cmd, path, err.text);
			ex = UF_EX_ERROR;
		}
	}
	api_reply_free(&r);
	return ex;
}

const char *fmt_uptime(long long ms, char *buf, size_t len)
{
	long long s = ms / 1000;
	if (ms < 0)
		snprintf(buf, len, "-");
	else if (s < 1)
		snprintf(buf, len, "%lldms", ms);
	else if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	return buf;
}

/* Reads a whole file, at most max bytes: NULL with errno EFBIG past them
 * (/dev/zero, a log given by mistake), so nothing unbounded is read. */
char *read_all(FILE *f, size_t max, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
		if (n > max) {
			free(buf);
			errno = EFBIG;
			return NULL;
		}
		if (n == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	if (!buf || ferror(f)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* --- deploy, undeploy, ls, resume --------------------------------------------------- */

int cmd_deploy(int argc, char **argv)
{
	static const struct option opts[] = {{"replace", no_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
	struct api a;
	struct api_reply r;
	int c, replace = 0, ex;
	char absfile[PATH_MAX], efile[3 * PATH_MAX], edir[3 * PATH_MAX], path[7 * PATH_MAX];
	size_t len;

	while ((c = cli_getopt("deploy", argc, argv, "", opts)) != -1) {
		if (c == 'r')
			replace = 1;
		else
			return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
	}
	if (cli_nargs("deploy", argc, argv, 1, 1) < 0)
		return UF_EX_USAGE;
	const char *file = argv[optind];
	FILE *f = fopen(file, "re");
	if (!f || !realpath(file, absfile)) {
		fprintf(stderr, "unifaas: deploy: %s: %s\n", file, strerror(errno));
		if (f)
			fclose(f);
		return UF_EX_USAGE;
	}
	char *yaml = read_all(f, UF_MANIFEST_BYTES_MAX, &len);
	fclose(f);
	if (!yaml && errno == EFBIG) {
		fprintf(stderr, "unifaas: deploy: %s: larger than %u bytes; is this a manifest?\n", file,
		        UF_MANIFEST_BYTES_MAX);
		return UF_EX_USAGE;
	}
	if (!yaml) {
		fprintf(stderr, "unifaas: deploy: %s: %s\n", file, strerror(errno));
		return UF_EX_USAGE;
	}
	if ((ex = api_open(&a, "deploy")) != UF_EX_OK)
		goto out;
	if (api_escape(&a, file, efile, sizeof(efile)) < 0 ||
	    api_escape(&a, dirname(absfile), edir, sizeof(edir)) < 0) {
		fprintf(stderr, "unifaas: deploy: %s: path too long\n", file);
		ex = UF_EX_USAGE;
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/workflows?file=%s&dir=%s%s", efile, edir, replace ? "&replace=1" : "");
	ex = api_call(&a,
	              &(struct api_request){.method = "POST",
	                                    .path = path,
	                                    .content_type = "application/yaml",
	                                    .body = yaml,
	                                    .body_len = len,
	                                    .timeout_s = 120},
	              &r);
	if (ex != UF_EX_OK)
		goto out;
	if (r.status == 200 || r.status == 201) {
		json_t *root = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
		json_t *steps = json_object_get(root, "steps"), *s;
		size_t i;
		printf("%s %s:", r.status == 201 ? "deployed" : "redeployed",
		       jstr(root, "name") ? jstr(root, "name") : "?");
		json_array_foreach(steps, i, s) printf("%s %s", i ? "," : " steps", json_string_value(s));
		printf("\n");
		json_decref(root);
	} else if (r.status == 409) {
		char msg[1024];
		api_error_message(&r, msg, sizeof(msg));
		fprintf(stderr, "unifaas: deploy: %s: %s%s\n", file, msg,
		        strstr(msg, "--replace") ? "" : " (to redeploy it, add --replace)");
		ex = UF_EX_ERROR;
	} else {
		ex = api_fail(&a, file, &r);
	}
	api_reply_free(&r);
out:
	free(yaml);
	api_close(&a);
	return ex;
}

int cmd_undeploy(int argc, char **argv)
{
	static const struct option opts[] = {{"purge", no_argument, NULL, 'p'}, {NULL, 0, NULL, 0}};
	struct api a;
	struct api_reply r;
	int c, purge = 0, ex;
	char ewf[256], path[512];

	while ((c = cli_getopt("undeploy", argc, argv, "", opts)) != -1) {
		if (c == 'p')
			purge = 1;
		else
			return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
	}
	if (cli_nargs("undeploy", argc, argv, 1, 1) < 0 || !cli_name_ok("undeploy", UF_NAME_WORKFLOW, argv[optind]))
		return UF_EX_USAGE;
	const char *wf = argv[optind];
	if ((ex = api_open(&a, "undeploy")) != UF_EX_OK)
		goto out;
	api_escape(&a, wf, ewf, sizeof(ewf));
	snprintf(path, sizeof(path), "/v1/workflows/%s%s", ewf, purge ? "?purge=1" : "");
	if ((ex = api_call(&a, &(struct api_request){.method = "DELETE", .path = path, .timeout_s = 60}, &r)) !=
	    UF_EX_OK)
		goto out;
	if (r.status == 200) {
		json_t *root = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
		printf("undeployed %s%s\n", wf,
		       json_is_true(json_object_get(root, "purged"))
		           ? " (its queues, dead letters, KV, images and logs deleted)"
		           : " (its queues, dead letters and KV kept: 'undeploy --purge' deletes them)");
		json_decref(root);
	} else {
		ex = api_fail(&a, wf, &r);
	}
	api_reply_free(&r);
out:
	api_close(&a);
	return ex;
}

int cmd_ls(int argc, char **argv)
{
	struct api a;
	json_t *root, *w;
	struct table t = {.ncols = 5};
	int json, ex = json_opts("ls", argc, argv, &json);
	size_t i;
	char b1[32], b2[32];

	if (ex >= 0)
		return ex;
	if ((ex = api_open(&a, "ls")) == UF_EX_OK && (ex = get_json(&a, "/v1/workflows", json, &root)) == UF_EX_OK &&
	    root) {
		table_add(&t, "NAME", "STEPS", "UNITS", "STATE", "REASON");
		json_array_foreach(json_object_get(root, "workflows"), i, w)
		    table_add(&t, jstr(w, "name"), jnum(w, "steps", b1, sizeof(b1)), jnum(w, "units", b2, sizeof(b2)),
		              jstr(w, "state"), jstr(w, "reason"));
		table_print(&t);
		json_decref(root);
	}
	api_close(&a);
	return ex;
}

int cmd_resume(int argc, char **argv)
{
	struct api a;
	struct api_reply r;
	char ewf[256], path[512];
	int ex = no_opts("resume", argc, argv, 1, 1);

	if (ex >= 0)
		return ex;
	const char *wf = argv[optind];
	if (!cli_name_ok("resume", UF_NAME_WORKFLOW, wf))
		return UF_EX_USAGE;
	if ((ex = api_open(&a, "resume")) != UF_EX_OK)
		goto out;
	api_escape(&a, wf, ewf, sizeof(ewf));
	snprintf(path, sizeof(path), "/v1/workflows/%s/resume", ewf);
	if ((ex = api_call(&a, &(struct api_request){.method = "POST", .path = path}, &r)) != UF_EX_OK)
		goto out;
	if (r.status == 200) {
		json_t *root = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
		printf("resumed %s: %s\n", wf, jstr(root, "state") ? jstr(root, "state") : "running");
		json_decref(root);
	} else {
		ex = api_fail(&a, wf, &r);
	}
	api_reply_free(&r);
out:
	api_close(&a);
	return ex;
}

/* --- push ----------------------------------------------------------------------------- */

/* One request; adds what was queued to *queued. */
static int push_one(struct api *a, const char *path, const char *ctype, const char *body, size_t len,
                    unsigned long long *queued, const char *what)
{
	struct api_reply r;
	int ex = api_call(
	    a,
	    &(struct api_request){
	        .method = "POST", .path = path, .content_type = ctype, .body = body, .body_len = len, .timeout_s = 300},
	    &r);
	if (ex != UF_EX_OK)
		return ex;
	if (r.status == 202 || r.status == 200) {
		json_t *root = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
		*queued += (unsigned long long)json_integer_value(json_object_get(root, "queued"));
		json_decref(root);
	} else if (r.status == 409) {
		char msg[1024];
		fprintf(stderr, "unifaas: push: %s: %s (see 'unifaas ps'; 'unifaas resume' restarts it)\n", what,
		        api_error_message(&r, msg, sizeof(msg)));
		ex = UF_EX_ERROR;
	} else {
		/* a push cut short says how many it queued (docs/api.md) */
		json_t *root = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
		*queued += (unsigned long long)json_integer_value(json_object_get(root, "queued"));
		json_decref(root);
		ex = api_fail(a, what, &r);
	}
	api_reply_free(&r);
	return ex;
}

static int push_stdin(struct api *a, const char *path, const char *what, unsigned long long *queued)
{
	size_t cap = 1 << 16, len = 0, lines = 0, linecap = 0;
	char *buf = malloc(cap), *line = NULL;
	ssize_t n;
	int ex = UF_EX_OK;

	if (!buf)
		return UF_EX_ERROR;
	while (ex == UF_EX_OK && (n = getline(&line, &linecap, stdin)) >= 0) {
		if (n == 0 || line[0] == '\n')
			continue;
		if (len + (size_t)n + 1 > cap) {
			while (len + (size_t)n + 1 > cap)
				cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				fprintf(stderr, "unifaas: push: out of memory\n");
				ex = UF_EX_ERROR;
				break;
			}
			buf = nb;
		}
		memcpy(buf + len, line, (size_t)n);
		len += (size_t)n;
		if (line[n - 1] != '\n')
			buf[len++] = '\n';
		if (++lines == PUSH_LINES_PER_REQUEST || len >= PUSH_BYTES_PER_REQUEST) {
			ex = push_one(a, path, "text/plain", buf, len, queued, what);
			len = lines = 0;
		}
	}
	if (ex == UF_EX_OK && ferror(stdin)) {
		fprintf(stderr, "unifaas: push: reading standard input: %s\n", strerror(errno));
		ex = UF_EX_ERROR;
	}
	if (ex == UF_EX_OK && lines)
		ex = push_one(a, path, "text/plain", buf, len, queued, what);
	free(line);
	free(buf);
	return ex;
}

int cmd_push(int argc, char **argv)
{
	struct api a;
	char ewf[256], eq[256], path[600], what[200];
	unsigned long long queued = 0;
	int ex = no_opts("push", argc, argv, 2, 3);

	if (ex >= 0)
		return ex;
	const char *wf = argv[optind], *queue = argv[optind + 1], *data = optind + 2 < argc ? argv[optind + 2] : NULL;
	if (!cli_name_ok("push", UF_NAME_WORKFLOW, wf) || !cli_name_ok("push", UF_NAME_QUEUE, queue))
		return UF_EX_USAGE;
	if ((ex = api_open(&a, "push")) != UF_EX_OK)
		goto out;
	api_escape(&a, wf, ewf, sizeof(ewf));
	api_escape(&a, queue, eq, sizeof(eq));
	snprintf(path, sizeof(path), "/v1/workflows/%s/queues/%s/events", ewf, eq);
	snprintf(what, sizeof(what), "%s/%s", wf, queue);
	if (data)
		ex = push_one(&a, path, "application/octet-stream", data, strlen(data), &queued, what);
	else
		ex = push_stdin(&a, path, what, &queued);
	if (ex == UF_EX_OK)
		printf("queued %llu\n", queued);
	else if (queued)
		fprintf(stderr, "unifaas: push: %llu events were queued before the error\n", queued);
out:
	api_close(&a);
	return ex;
}

/* --- ps, queues ----------------------------------------------------------------------- */

int cmd_ps(int argc, char **argv)
{
	struct api a;
	json_t *root, *u, *s;
	struct table t = {.ncols = 7};
	int json, ex = json_opts("ps", argc, argv, &json);
	size_t i;
	char pid[32], up[32], ev[32];

	if (ex >= 0)
		return ex;
	if ((ex = api_open(&a, "ps")) != UF_EX_OK || (ex = get_json(&a, "/v1/units", json, &root)) != UF_EX_OK || !root)
		goto out;
	table_add(&t, "WORKFLOW", "STEP", "UNIT", "PID", "STATE", "UPTIME", "EVENTS");
	json_array_foreach(json_object_get(root, "units"), i, u)
	{
		json_t *ms = json_object_get(u, "uptime_ms");
		table_add(&t, jstr(u, "workflow"), jstr(u, "step"), jstr(u, "id"), jnum(u, "pid", pid, sizeof(pid)),
		          jstr(u, "state"),
		          json_is_number(ms) ? fmt_uptime((long long)json_number_value(ms), up, sizeof(up)) : NULL,
		          jnum(u, "events", ev, sizeof(ev)));
	}
	table_print(&t);
	/* units being stopped at a limit, and which */
	json_array_foreach(json_object_get(root, "units"), i, u) if (jstr(u, "stop_reason"))
	    printf("%s: stopping: %s\n", jstr(u, "id"), jstr(u, "stop_reason"));
	/* steps that are not running, and why; the last unit stopped at a limit */
	json_array_foreach(json_object_get(root, "steps"), i, s)
	{
		const char *state = jstr(s, "state"), *reason = jstr(s, "reason"), *stop = jstr(s, "last_stop");
		const char *wf = jstr(s, "workflow") ? jstr(s, "workflow") : "?",
		           *st = jstr(s, "step") ? jstr(s, "step") : "?";
		if ((state && strcmp(state, "stopped") == 0) || reason)
			printf("%s/%s: %s%s%s\n", wf, st, state ? state : "?", reason ? ": " : "",
			       reason ? reason : "");
		if (stop)
			printf("%s/%s: last stop: %s\n", wf, st, stop);
	}
	/* workflows over their storage quota, and what they are refused */
	json_array_foreach(json_object_get(root, "over_quota"), i, s)
	    printf("%s: over quota: %lld of %lld bytes (storage_quota); refused: %s\n", jstr(s, "workflow"),
	           (long long)json_integer_value(json_object_get(s, "bytes")),
	           (long long)json_integer_value(json_object_get(s, "quota")), jstr(s, "refused"));
	if (json_is_true(json_object_get(root, "stale")))
		fprintf(stderr, "unifaas: ps: Redis did not answer in time: EVENTS are the counts last read\n");
	json_decref(root);
out:
	api_close(&a);
	return ex;
}

int cmd_queues(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
	                                     {"all", no_argument, NULL, 'a'},
	                                     {"older-than", required_argument, NULL, 'o'},
	                                     {"keep", required_argument, NULL, 'k'},
	                                     {NULL, 0, NULL, 0}};
	struct api a;
	json_t *root, *q;
	struct table t = {.ncols = 7};
	struct queue_purge pg = {0};
	int json = 0, ex, c;
	size_t i;
	char wait[32], pend[32], ent[32], dead[32], delayed[48], kept[4096] = "";

	while ((c = cli_getopt("queues", argc, argv, "", opts)) != -1) {
		if (c == 'j')
			json = 1;
		else if (c == 'a')
			pg.n++, pg.all = 1;
		else if (c == 'o')
			pg.n++, pg.older = optarg;
		else if (c == 'k')
			pg.n++, pg.keep = optarg;
		else
			return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
	}
	if (optind < argc && !strcmp(argv[optind], "purge"))
		return json ? (fprintf(stderr, "unifaas: queues: purge: --json is an option of 'queues' alone\n"),
		               UF_EX_USAGE)
		            : queues_purge(argc, argv, &pg);
	if (pg.n) {
		fprintf(stderr, "unifaas: queues: --all, --older-than and --keep are options of 'queues purge'\n");
		return UF_EX_USAGE;
	}
	if (cli_nargs("queues", argc, argv, 0, 0) < 0)
		return UF_EX_USAGE;
	if ((ex = api_open(&a, "queues")) != UF_EX_OK || (ex = get_json(&a, "/v1/queues", json, &root)) != UF_EX_OK ||
	    !root)
		goto out;
	table_add(&t, "WORKFLOW", "QUEUE", "WAITING", "PENDING", "DELAYED", "ENTRIES", "DEAD");
	json_array_foreach(json_object_get(root, "queues"), i, q)
	{
		const char *wf = jstr(q, "workflow");
		/* delayed: deferred (uf_defer) or retried after retry_delay_ms, not due yet */
		long long aside = (long long)json_number_value(json_object_get(q, "delayed_aside"));
		snprintf(delayed, sizeof(delayed), "%lld", (long long)json_number_value(json_object_get(q, "delayed")));
		if (aside)
			snprintf(delayed + strlen(delayed), sizeof(delayed) - strlen(delayed), " (+%lld malformed)",
			         aside);
		table_add(&t, wf, jstr(q, "queue"), jnum(q, "waiting", wait, sizeof(wait)),
		          jnum(q, "pending", pend, sizeof(pend)), delayed, jnum(q, "entries", ent, sizeof(ent)),
		          jnum(q, "dead", dead, sizeof(dead)));
		char line[200];
		snprintf(line, sizeof(line), "%s: undeployed, its queues, dead letters and KV kept\n", wf ? wf : "?");
		if (json_is_false(json_object_get(q, "deployed")) && !strstr(kept, line) &&
		    strlen(kept) + strlen(line) < sizeof(kept))
			strcat(kept, line);
	}
	table_print(&t);
	fputs(kept, stdout);
	json_decref(root);
out:
	api_close(&a);
	return ex;
}

/* --- logs, kv ------------------------------------------------------------------------- */

/* --tail N and --since DURATION as the first request's query, or -1. */
static int logs_start(const char *tail, const char *since, char *q, size_t len)
{
	char *end;
	uint64_t ms;
	long long n = tail ? strtoll(tail, &end, 10) : 1;
	if (tail && (*end || end == tail || n < 1 || n > 1000000)) {
		fprintf(stderr, "unifaas: logs: --tail '%s': expected a number of lines 1..1000000\n", tail);
		return -1;
	}
	if (since && uf_duration_ms(since, &ms) < 0) {
		fprintf(stderr,
		        "unifaas: logs: --since '%s': expected a duration such as 500ms, 10s, 5m, 1h or 2d, at most "
		        "%llud\n",
		        since, UF_DURATION_MAX_MS / 86400000ull);
		return -1;
	}
	snprintf(q, len, "%s%s%s%s%s", tail ? "tail=" : "", tail ? tail : "", tail && since ? "&" : "",
	         since ? "since=" : "", since ? since : "");
	return 0;
}

int cmd_logs(int argc, char **argv)
{
	static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
	                                     {"tail", required_argument, NULL, 't'},
	                                     {"since", required_argument, NULL, 's'},
	                                     {NULL, 0, NULL, 0}};
	struct api a;
	struct api_reply r;
	char ewf[256], estep[256], path[900], wf[128], start[128] = "";
	const char *tail = NULL, *since = NULL;
	int c, follow = 0, ex;
	long long offset = 0;

	while ((c = cli_getopt("logs", argc, argv, "f", opts)) != -1) {
		if (c == 'f')
			follow = 1;
		else if (c == 't')
			tail = optarg;
		else if (c == 's')
			since = optarg;
		else
			return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
	}
	if (cli_nargs("logs", argc, argv, 1, 1) < 0 || logs_start(tail, since, start, sizeof(start)) < 0)
		return UF_EX_USAGE;
	const char *arg = argv[optind], *slash = strchr(arg, '/');
	if (!slash) {
		fprintf(stderr, "unifaas: logs: '%s': expected WORKFLOW/STEP\n", arg);
		return UF_EX_USAGE;
	}
	snprintf(wf, sizeof(wf), "%.*s", (int)(slash - arg < 127 ? slash - arg : 127), arg);
	if (!cli_name_ok("logs", UF_NAME_WORKFLOW, wf) || !cli_name_ok("logs", UF_NAME_STEP, slash + 1))
		return UF_EX_USAGE;
	if ((ex = api_open(&a, "logs")) != UF_EX_OK)
		goto out;
	api_escape(&a, wf, ewf, sizeof(ewf));
	api_escape(&a, slash + 1, estep, sizeof(estep));
	/* without -f: read until a reply is empty, so the whole log (or its
	 * --tail/--since part) is printed, not its first 256 KiB */
	for (int first = 1;; first = 0) {
		int n = snprintf(path, sizeof(path), "/v1/workflows/%s/steps/%s/logs?", ewf, estep);
		if (first && start[0])
			snprintf(path + n, sizeof(path) - (size_t)n, "%s%s", start, follow ? "&wait_ms=25000" : "");
		else
			snprintf(path + n, sizeof(path) - (size_t)n, "offset=%lld%s", offset,
			         follow ? "&wait_ms=25000" : "");
		ex = api_call(&a,
		              &(struct api_request){
		                  .method = "GET", .path = path, .sink = stdout, .timeout_s = LOGS_WAIT_MS / 1000 + 30},
		              &r);
		if (ex != UF_EX_OK)
			break;
		if (r.status != 200) {
			ex = api_fail(&a, arg, &r);
			api_reply_free(&r);
			break;
		}
		offset = r.offset >= 0 ? r.offset : offset + (long long)r.len;
		size_t got = r.len;
		api_reply_free(&r);
		if (!follow && got == 0)
			break;
	}
out:
	api_close(&a);
	return ex;
}

int cmd_kv(int argc, char **argv)
{
	struct api a;
	struct api_reply r;
	int ex = no_opts("kv", argc, argv, 3, 4);
	/* a key travels percent-encoded: up to 3 bytes per byte */
	char ewf[3 * UF_NAME_MAX + 1], ekey[3 * UF_KEY_MAX + 1], path[sizeof(ewf) + sizeof(ekey) + 32],
	    what[UF_KEY_MAX + UF_NAME_MAX + 16];
	char *value = NULL;
	size_t vlen = 0;

	if (ex >= 0)
		return ex;
	const char *op = argv[optind], *wf = argv[optind + 1], *key = argv[optind + 2];
	int nargs = argc - optind;
	if (strcmp(op, "get") != 0 && strcmp(op, "set") != 0 && strcmp(op, "del") != 0) {
		fprintf(stderr, "unifaas: kv: unknown operation '%s': expected get, set or del\n", op);
		return UF_EX_USAGE;
	}
	if (nargs == 4 && strcmp(op, "set") != 0) {
		fprintf(stderr, "unifaas: kv: %s: unexpected argument '%s'\n", op, argv[optind + 3]);
		return UF_EX_USAGE;
	}
	if (!cli_name_ok("kv", UF_NAME_WORKFLOW, wf) || !cli_name_ok("kv", UF_NAME_KEY, key))
		return UF_EX_USAGE;
	if (strcmp(op, "set") == 0 && nargs == 3) {
		value = read_all(stdin, UF_PUSH_BYTES_MAX, &vlen);
		if (!value && errno == EFBIG) {
			fprintf(
			    stderr,
			    "unifaas: kv: set %s: the value on standard input is over %u bytes, the most a KV value "
			    "may be\n",
			    wf, UF_PUSH_BYTES_MAX);
			return UF_EX_ERROR;
		}
		if (!value) {
			fprintf(stderr, "unifaas: kv: set: reading standard input: %s\n", strerror(errno));
			return UF_EX_ERROR;
		}
	}
	if ((ex = api_open(&a, "kv")) != UF_EX_OK)
		goto out;
	api_escape(&a, wf, ewf, sizeof(ewf));
	api_escape(&a, key, ekey, sizeof(ekey));
	snprintf(path, sizeof(path), "/v1/workflows/%s/kv/%s", ewf, ekey);
	snprintf(what, sizeof(what), "%s %s %s", op, wf, key);
	struct api_request req = {.path = path};
	if (op[0] == 'g') {
		req.method = "GET";
	} else if (op[0] == 'd') {
		req.method = "DELETE";
	} else {
		req.method = "PUT";
		req.content_type = "application/octet-stream";
		req.body = value ? value : argv[optind + 3];
		req.body_len = value ? vlen : strlen(argv[optind + 3]);
	}
	if ((ex = api_call(&a, &req, &r)) != UF_EX_OK)
		goto out;
	if (op[0] == 'g' && r.status == 200) {
		if (r.len)
			fwrite(r.body, 1, r.len, stdout);
		putchar('\n');
	} else if (op[0] != 'g' && (r.status == 204 || r.status == 200)) {
		/* done, nothing to say */
	} else {
		ex = api_fail(&a, what, &r);
		/* a missing key is an ordinary answer of `get`, not a missing
		 * object; a missing workflow is (status 4) */
		if (ex == UF_EX_NOT_FOUND && api_error_is(&r, "key_not_found"))
			ex = UF_EX_ERROR;
	}
	api_reply_free(&r);
out:
	free(value);
	api_close(&a);
	return ex;
}
