/*
 * ingress.c - the commands of the HTTP ingress (docs/cli.md): `token`
 * (create, ls, rm: the bearer tokens devices send, through the control
 * API's /v1/tokens) and `invoke` (one event queued and its result waited
 * for, through POST /v1/workflows/WF/queues/Q/invoke).
 *
 * `token create` prints the token alone on stdout, for scripts to read;
 * it is never shown again.  `invoke` prints the result on stdout and says
 * by its status what came of the event: UF_EX_OK committed, UF_EX_FAILED
 * the handler failed, UF_EX_RUNNING no result within the timeout.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "rules.h"

static int token_create(struct api *a, const char *wf)
{
	char ewf[256], path[320];
	struct api_reply r;
	api_escape(a, wf, ewf, sizeof(ewf));
	snprintf(path, sizeof(path), "/v1/tokens?workflow=%s", ewf);
	int ex = api_call(a, &(struct api_request){.method = "POST", .path = path}, &r);
	if (ex != UF_EX_OK)
		return ex;
	if (r.status == 201) {
		json_t *root = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
		const char *tok = jstr(root, "token");
		if (tok)
			printf("%s\n", tok);
		else
			ex = UF_EX_ERROR;
		json_decref(root);
	} else {
		ex = api_fail(a, wf, &r);
	}
	api_reply_free(&r);
	return ex;
}

static int token_ls(struct api *a, const char *wf, int json)
{
	char ewf[256], path[320], when[32];
	json_t *root, *t;
	size_t i;
	struct table tab = {.ncols = 3};
	snprintf(path, sizeof(path), "/v1/tokens");
	if (wf && api_escape(a, wf, ewf, sizeof(ewf)) == 0)
		snprintf(path, sizeof(path), "/v1/tokens?workflow=%s", ewf);
	int ex = get_json(a, path, json, &root);
	if (ex != UF_EX_OK || !root)
		return ex;
	table_add(&tab, "ID", "WORKFLOW", "CREATED");
	json_array_foreach(json_object_get(root, "tokens"), i, t)
	{
		time_t s = (time_t)(json_integer_value(json_object_get(t, "created_ms")) / 1000);
		struct tm tm;
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&s, &tm));
		table_add(&tab, jstr(t, "id"), jstr(t, "workflow"), when);
	}
	table_print(&tab);
	json_decref(root);
	return UF_EX_OK;
}

static int token_rm(struct api *a, const char *id)
{
	char eid[256], path[320];
	struct api_reply r;
	api_escape(a, id, eid, sizeof(eid));
	snprintf(path, sizeof(path), "/v1/tokens/%s", eid);
	int ex = api_call(a, &(struct api_request){.method = "DELETE", .path = path}, &r);
	if (ex == UF_EX_OK && r.status != 200)
		ex = api_fail(a, id, &r);
	api_reply_free(&r);
	return ex;
}

int cmd_token(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct api a;
	int c, json = 0, ex;
	while ((c = cli_getopt("token", argc, argv, "", opts)) != -1) {
		if (c == 'h')
			return UF_EX_OK;
		if (c != 'j')
			return UF_EX_USAGE;
		json = 1;
	}
	if (cli_nargs("token", argc, argv, 1, 2) < 0)
		return UF_EX_USAGE;
	const char *sub = argv[optind], *arg = optind + 1 < argc ? argv[optind + 1] : NULL;
	int create = !strcmp(sub, "create"), ls = !strcmp(sub, "ls"), rm = !strcmp(sub, "rm");
	if (!create && !ls && !rm) {
		fprintf(stderr, "unifaas: token: '%s': expected create, ls or rm\n", sub);
		cli_short_usage("token");
		return UF_EX_USAGE;
	}
	if ((create || rm) && !arg) {
		fprintf(stderr, "unifaas: token: %s needs %s\n", sub,
		        create ? "a workflow: token create WF" : "an id: token rm ID");
		return UF_EX_USAGE;
	}
	if (arg && !rm && !cli_name_ok("token", UF_NAME_WORKFLOW, arg))
		return UF_EX_USAGE;
	if ((ex = api_open(&a, "token")) == UF_EX_OK)
		ex = create ? token_create(&a, arg) : ls ? token_ls(&a, arg, json) : token_rm(&a, arg);
	api_close(&a);
	return ex;
}

/* The answer of an invoke: its result, or what came of the event. */
static int invoke_answer(struct api *a, const char *what, const struct api_reply *r)
{
	char msg[8192];
	json_t *root =
	    r->status == 202 || r->status == 502 ? json_loadb(r->body ? r->body : "", r->len, 0, NULL) : NULL;
	int ex = UF_EX_OK;
	if (r->status == 200) {
		fwrite(r->body ? r->body : "", 1, r->len, stdout);
		if (r->len && r->body[r->len - 1] != '\n')
			putchar('\n');
	} else if (r->status == 202 && jstr(root, "reason")) { /* deferred for the storage quota */
		fprintf(stderr, "unifaas: invoke: %s: event %s is deferred, kept in its queue: %s\n", what,
		        jstr(root, "id") ? jstr(root, "id") : "?", jstr(root, "reason"));
		ex = UF_EX_RUNNING;
	} else if (r->status == 202) {
		fprintf(stderr,
		        "unifaas: invoke: %s: event %s is still running after %s ms ('unifaas events' shows "
		        "what it pushes)\n",
		        what, jstr(root, "id") ? jstr(root, "id") : "?",
		        jnum(root, "timeout_ms", msg, sizeof(msg)) ? msg : "?");
		ex = UF_EX_RUNNING;
	} else if (r->status == 502) {
		fprintf(stderr, "unifaas: invoke: %s: event %s failed: %s (it is retried or dead-lettered as usual)\n",
		        what, jstr(root, "id") ? jstr(root, "id") : "?", api_error_message(r, msg, sizeof(msg)));
		ex = UF_EX_FAILED;
	} else if (r->status == 409) {
		fprintf(stderr, "unifaas: invoke: %s: %s ('unifaas resume' restarts it)\n", what,
		        api_error_message(r, msg, sizeof(msg)));
		ex = UF_EX_ERROR;
	} else {
		ex = api_fail(a, what, r);
	}
	json_decref(root);
	return ex;
}

int cmd_invoke(int argc, char **argv)
{
	static const struct option opts[] = {{"timeout-ms", required_argument, NULL, 't'}, {NULL, 0, NULL, 0}};
	struct api a;
	struct api_reply r = {0};
	char ewf[256], eq[256], path[700], what[200];
	const char *timeout = "10000";
	char *buf = NULL;
	size_t len = 0;
	int c, ex;
	while ((c = cli_getopt("invoke", argc, argv, "", opts)) != -1) {
		if (c == 'h')
			return UF_EX_OK;
		if (c != 't')
			return UF_EX_USAGE;
		timeout = optarg;
	}
	if (cli_nargs("invoke", argc, argv, 2, 3) < 0)
		return UF_EX_USAGE;
	const char *wf = argv[optind], *queue = argv[optind + 1], *data = optind + 2 < argc ? argv[optind + 2] : NULL;
	char *end;
	long t = strtol(timeout, &end, 10);
	if (*end || end == timeout || t < 0 || t > 60000) {
		fprintf(stderr, "unifaas: invoke: --timeout-ms '%s': expected 0..60000\n", timeout);
		return UF_EX_USAGE;
	}
	if (!cli_name_ok("invoke", UF_NAME_WORKFLOW, wf) || !cli_name_ok("invoke", UF_NAME_QUEUE, queue))
		return UF_EX_USAGE;
	if (!data && !(buf = read_all(stdin, UF_MANIFEST_BYTES_MAX, &len))) {
		fprintf(stderr, "unifaas: invoke: standard input: %s\n",
		        errno == EFBIG ? "over 1 MiB, the most one event may be" : strerror(errno));
		return UF_EX_USAGE;
	}
	if ((ex = api_open(&a, "invoke")) != UF_EX_OK)
		goto out;
	api_escape(&a, wf, ewf, sizeof(ewf));
	api_escape(&a, queue, eq, sizeof(eq));
	snprintf(path, sizeof(path), "/v1/workflows/%s/queues/%s/invoke?timeout_ms=%ld", ewf, eq, t);
	snprintf(what, sizeof(what), "%s/%s", wf, queue);
	ex = api_call(&a,
	              &(struct api_request){.method = "POST",
	                                    .path = path,
	                                    .content_type = "application/octet-stream",
	                                    .body = data ? data : buf,
	                                    .body_len = data ? strlen(data) : len,
	                                    .timeout_s = t / 1000 + 30},
	              &r);
	if (ex == UF_EX_OK)
		ex = invoke_answer(&a, what, &r);
	api_reply_free(&r);
out:
	api_close(&a);
	free(buf);
	return ex;
}
