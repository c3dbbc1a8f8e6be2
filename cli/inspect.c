/*
 * inspect.c - the commands that look inside a workflow (docs/cli.md):
 * `events` reads a queue (the results of a last step are read this way),
 * `dlq` lists, replays and purges dead letters, `describe` shows a
 * workflow's steps, grants, scaling, units and recent failures.
 *
 * Each is one or more calls of the control API (docs/api.md) through
 * client.c, whose api_fail() maps errors to exit codes.  Event data is
 * printed as text with control characters escaped (\n, \t, \xNN), or as
 * `base64:...` when it is not UTF-8; --json prints the API's objects as
 * they are, one entry per line for events and dead letters.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define PAGE_MAX       10000
#define FOLLOW_WAIT_MS 25000
#define DATA_SHOWN     60 /* bytes of data in a dead-letter table */

/* --- small helpers ------------------------------------------------------------------ */

static int parse_count(const char *cmd, const char *s, long *n)
{
	char *end;
	*n = strtol(s, &end, 10);
	if (*end || end == s || *n < 1 || *n > PAGE_MAX) {
		fprintf(stderr, "unifaas: %s: --count '%s': expected a number 1..%d\n", cmd, s, PAGE_MAX);
		return -1;
	}
	return 0;
}

/* epoch ms as 2026-12-04T18:20:01.123Z */
static const char *fmt_time(json_t *ms, char *buf, size_t len)
{
	long long v = (long long)json_integer_value(ms);
	time_t t = (time_t)(v / 1000);
	struct tm tm;
	char s[32];
	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03lldZ", s, v % 1000);
	return buf;
}

/* An entry's data for a terminal: text with control characters escaped,
 * at most `max` bytes of it (0: all) and "..." when cut. */
static char *shown_data(json_t *e, size_t max)
{
	const char *b64 = json_string_value(json_object_get(e, "data_base64"));
	json_t *d = json_object_get(e, "data");
	const char *s = json_string_value(d);
	size_t n = s ? json_string_length(d) : 0, o = 0;
	if (b64) {
		char *out = malloc(strlen(b64) + 8);
		if (out)
			snprintf(out, strlen(b64) + 8, "base64:%s", b64);
		return out;
	}
	char *out = malloc(4 * n + 4);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n && (!max || o < max); i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n' || c == '\t' || c == '\r' || c == '\\') {
			out[o++] = '\\';
			out[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : '\\';
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)sprintf(out + o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	if (max && o >= max && n > max)
		memcpy(out + (o = max), "...", 3), o += 3;
	out[o] = 0;
	return out;
}

static void print_entries_json(json_t *arr)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
	{
		char *s = json_dumps(e, JSON_COMPACT);
		if (s)
			printf("%s\n", s);
		free(s);
	}
}

/* GET a page; the parsed reply in *root. */
static int get_page(struct api *a, const char *path, const char *what, long timeout_s, json_t **root)
{
	struct api_reply r;
	int ex = api_call(a, &(struct api_request){.method = "GET", .path = path, .timeout_s = timeout_s}, &r);
	*root = NULL;
	if (ex != UF_EX_OK)
		return ex;
	if (r.status != 200) {
		ex = api_fail(a, what, &r);
	} else if (!(*root = json_loadb(r.body ? r.body : "", r.len, 0, NULL))) {
		fprintf(stderr, "unifaas: %s: GET %s: bad JSON from unifaasd\n", a->cmd, path);
		ex = UF_EX_ERROR;
	}
	api_reply_free(&r);
	return ex;
}

/* --- events ---------------------------------------------------------------------------- */

static void print_events(json_t *events, int json, int *header)
{
	size_t i;
	json_t *e;
	char when[40], att[24];
	if (json) {
		print_entries_json(events);
	} else {
		if (!*header && json_array_size(events)) {
			printf("%-20s  %-24s  %-7s  %s\n", "ID", "TIME", "ATTEMPT", "DATA");
			*header = 1;
		}
		json_array_foreach(events, i, e)
		{
			char *data = shown_data(e, 0);
			printf("%-20s  %-24s  %-7s  %s\n", jstr(e, "id") ? jstr(e, "id") : "-",
			       fmt_time(json_object_get(e, "time"), when, sizeof(when)),
			       jnum(e, "attempt", att, sizeof(att)) ? att : "0", data ? data : "");
			free(data);
		}
	}
	fflush(stdout);
}

int cmd_events(int argc, char **argv)
{
	static const struct option opts[] = {{"from", required_argument, NULL, 'F'},
	                                     {"count", required_argument, NULL, 'n'},
	                                     {"follow", no_argument, NULL, 'f'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {NULL, 0, NULL, 0}};
	struct api a = {0};
	char ewf[256], eq[512], efrom[128], path[1024], what[256], from[64] = "-";
	int c, follow = 0, json = 0, ex, header = 0;
	long count = 100;

	while ((c = cli_getopt("events", argc, argv, "f", opts)) != -1) {
		if (c == 'F')
			snprintf(from, sizeof(from), "%s", optarg);
		else if (c == 'n' && parse_count("events", optarg, &count) < 0)
			return UF_EX_USAGE;
		else if (c == 'f')
			follow = 1;
		else if (c == 'j')
			json = 1;
		else if (c != 'n')
			return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
	}
	if (cli_nargs("events", argc, argv, 2, 2) < 0)
		return UF_EX_USAGE;
	const char *wf = argv[optind], *q = argv[optind + 1];
	if (!cli_name_ok("events", UF_NAME_WORKFLOW, wf) || !cli_name_ok("events", UF_NAME_QUEUE, q))
		return UF_EX_USAGE;
	if ((ex = api_open(&a, "events")) != UF_EX_OK)
		goto out;
	api_escape(&a, wf, ewf, sizeof(ewf));
	api_escape(&a, q, eq, sizeof(eq));
	snprintf(what, sizeof(what), "%s/%s", wf, q);
	for (;;) {
		json_t *root;
		api_escape(&a, from, efrom, sizeof(efrom));
		snprintf(path, sizeof(path), "/v1/workflows/%s/queues/%s/events?from=%s&count=%ld%s", ewf, eq, efrom,
		         count, follow ? "&wait_ms=25000" : "");
		if ((ex = get_page(&a, path, what, FOLLOW_WAIT_MS / 1000 + 30, &root)) != UF_EX_OK)
			break;
		json_t *events = json_object_get(root, "events");
		print_events(events, json, &header);
		if (jstr(root, "next"))
			snprintf(from, sizeof(from), "%s", jstr(root, "next"));
		size_t got = json_array_size(events);
		json_decref(root);
		if (!follow) {
			if ((long)got == count)
				fprintf(stderr, "(more may follow: --from %s)\n", from);
			if (!json && !header) /* a table has its header, also when empty */
				printf("%-20s  %-24s  %-7s  %s\n", "ID", "TIME", "ATTEMPT", "DATA");
			break;
		}
	}
out:
	api_close(&a);
	return ex;
}

/* --- dlq ------------------------------------------------------------------------------- */

static int dlq_ls(struct api *a, const char *wf, const char *q, const char *from, long count, int json)
{
	char ewf[256], eq[512], efrom[128], path[1024], what[256], when[40], att[24];
	json_t *root, *e;
	size_t i;
	api_escape(a, wf, ewf, sizeof(ewf));
	api_escape(a, from ? from : "-", efrom, sizeof(efrom));
	if (q) {
		api_escape(a, q, eq, sizeof(eq));
		snprintf(path, sizeof(path), "/v1/workflows/%s/queues/%s/dlq?count=%ld%s%s", ewf, eq, count,
		         from ? "&from=" : "", from ? efrom : "");
	} else {
		snprintf(path, sizeof(path), "/v1/workflows/%s/dlq?count=%ld%s%s", ewf, count, from ? "&from=" : "",
		         from ? efrom : "");
	}
	snprintf(what, sizeof(what), "%s%s%s", wf, q ? "/" : "", q ? q : "");
	int ex = get_page(a, path, what, 60, &root);
	if (ex != UF_EX_OK)
		return ex;
	json_t *list = json_object_get(root, "dead_letters");
	if (json) {
		print_entries_json(list);
	} else {
		struct table t = {.ncols = 8};
		table_add(&t, "ID", "TIME", "QUEUE", "STEP", "EVENT", "ATTEMPTS", "REASON", "DATA");
		json_array_foreach(list, i, e)
		{
			char *data = shown_data(e, DATA_SHOWN);
			table_add(&t, jstr(e, "id"), fmt_time(json_object_get(e, "time"), when, sizeof(when)),
			          jstr(e, "queue"), jstr(e, "step"), jstr(e, "origin"),
			          jnum(e, "attempts", att, sizeof(att)), jstr(e, "reason"),
			          data && data[0] ? data : NULL);
			free(data);
		}
		table_print(&t);
	}
	if (jstr(root, "next"))
		fprintf(stderr, "(more may follow: --from %s)\n", jstr(root, "next"));
	json_decref(root);
	return UF_EX_OK;
}

/* One request whose 200 reply's number `key` is printed with fmt (%lld, then what). */
static int call_count(struct api *a, const struct api_request *req, const char *what, const char *key, const char *fmt)
{
	struct api_reply r;
	int ex = api_call(a, req, &r);
	if (ex != UF_EX_OK)
		return ex;
	if (r.status == 200) {
		json_t *root = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
		printf(fmt, (long long)json_integer_value(json_object_get(root, key)), what);
		long long left = (long long)json_integer_value(json_object_get(root, "left"));
		if (left > 0)
			fprintf(stderr, "unifaas: %s: %lld more left: run it again\n", a->cmd, left);
		json_decref(root);
	} else {
		ex = api_fail(a, what, &r);
	}
	api_reply_free(&r);
	return ex;
}

/* POST .../dlq/replay with {"ids": [...]} (none: every dead letter) */
static int dlq_replay(struct api *a, const char *wf, const char *q, char **ids, int nids)
{
	char ewf[256], eq[512], path[1024], what[256];
	json_t *arr = json_array();
	for (int i = 0; i < nids; i++)
		json_array_append_new(arr, json_string(ids[i]));
	char *body = nids ? json_dumps(json_pack("{s:o}", "ids", arr), JSON_COMPACT) : NULL;
	if (!nids)
		json_decref(arr);
	api_escape(a, wf, ewf, sizeof(ewf));
	api_escape(a, q, eq, sizeof(eq));
	snprintf(path, sizeof(path), "/v1/workflows/%s/queues/%s/dlq/replay", ewf, eq);
	snprintf(what, sizeof(what), "%s/%s", wf, q);
	int ex = call_count(a,
	                    &(struct api_request){.method = "POST",
	                                          .path = path,
	                                          .content_type = "application/json",
	                                          .body = body ? body : "",
	                                          .body_len = body ? strlen(body) : 0,
	                                          .timeout_s = 120},
	                    what, "replayed", "replayed %lld dead letters to %s\n");
	free(body);
	return ex;
}

static int dlq_purge(struct api *a, const char *wf, const char *q)
{
	char ewf[256], eq[512], path[1024], what[256];
	api_escape(a, wf, ewf, sizeof(ewf));
	if (q) {
		api_escape(a, q, eq, sizeof(eq));
		snprintf(path, sizeof(path), "/v1/workflows/%s/queues/%s/dlq", ewf, eq);
	} else {
		snprintf(path, sizeof(path), "/v1/workflows/%s/dlq", ewf);
	}
	snprintf(what, sizeof(what), "%s%s%s", wf, q ? "/" : "", q ? q : "");
	return call_count(a, &(struct api_request){.method = "DELETE", .path = path}, what, "purged",
	                  "purged %lld dead letters of %s\n");
}

/* --- queues purge ------------------------------------------------------------------------ */

/* DELETE .../queues/Q/events?all=1|older_than_ms=N|keep=N */
int queues_purge(int argc, char **argv, const struct queue_purge *pg)
{
	struct api a = {0};
	char ewf[256], eq[512], path[1024], what[256], query[48];
	uint64_t ms;
	long long keep = 0;
	char *end;
	int ex;
	if (cli_nargs("queues", argc, argv, 3, 3) < 0)
		return UF_EX_USAGE;
	const char *wf = argv[optind + 1], *q = argv[optind + 2];
	if (pg->n != 1) {
		fprintf(stderr, "unifaas: queues: purge: say what to delete with exactly one of --all (every event "
		                "of the queue, delayed ones too), --older-than DUR (events queued longer ago than "
		                "DUR) or --keep N (all but the newest N)\n");
		return UF_EX_USAGE;
	}
	if (pg->older && uf_duration_ms(pg->older, &ms) < 0) {
		fprintf(stderr,
		        "unifaas: queues: purge: --older-than '%s': expected a duration such as 500ms, 30s, 5m, "
		        "2h or 1d\n",
		        pg->older);
		return UF_EX_USAGE;
	}
	if (pg->keep && (keep = strtoll(pg->keep, &end, 10), *end || end == pg->keep || keep < 0)) {
		fprintf(stderr, "unifaas: queues: purge: --keep '%s': expected a number of entries, 0 or more\n",
		        pg->keep);
		return UF_EX_USAGE;
	}
	if (!cli_name_ok("queues", UF_NAME_WORKFLOW, wf) || !cli_name_ok("queues", UF_NAME_QUEUE, q))
		return UF_EX_USAGE;
	if (pg->all)
		snprintf(query, sizeof(query), "all=1");
	else if (pg->older)
		snprintf(query, sizeof(query), "older_than_ms=%llu", (unsigned long long)ms);
	else
		snprintf(query, sizeof(query), "keep=%lld", keep);
	if ((ex = api_open(&a, "queues")) != UF_EX_OK)
		goto out;
	api_escape(&a, wf, ewf, sizeof(ewf));
	api_escape(&a, q, eq, sizeof(eq));
	snprintf(path, sizeof(path), "/v1/workflows/%s/queues/%s/events?%s", ewf, eq, query);
	snprintf(what, sizeof(what), "%s/%s", wf, q);
	struct api_reply r;
	if ((ex = api_call(&a, &(struct api_request){.method = "DELETE", .path = path, .timeout_s = 600}, &r)) !=
	    UF_EX_OK)
		goto out;
	if (r.status == 200) {
		json_t *root = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
		printf("purged %lld events of %s", (long long)json_integer_value(json_object_get(root, "purged")),
		       what);
		if (pg->all)
			printf(" and %lld delayed ones",
			       (long long)json_integer_value(json_object_get(root, "delayed_purged")));
		printf("\n");
		json_decref(root);
	} else {
		ex = api_fail(&a, what, &r);
	}
	api_reply_free(&r);
out:
	api_close(&a);
	return ex;
}

int cmd_dlq(int argc, char **argv)
{
	static const struct option opts[] = {{"from", required_argument, NULL, 'F'},
	                                     {"count", required_argument, NULL, 'n'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {NULL, 0, NULL, 0}};
	struct api a = {0};
	const char *from = NULL;
	long count = 100;
	int c, json = 0, ex;

	while ((c = cli_getopt("dlq", argc, argv, "", opts)) != -1) {
		if (c == 'F')
			from = optarg;
		else if (c == 'n' && parse_count("dlq", optarg, &count) < 0)
			return UF_EX_USAGE;
		else if (c == 'j')
			json = 1;
		else if (c != 'n')
			return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
	}
	if (cli_nargs("dlq", argc, argv, 2, 1 << 20) < 0)
		return UF_EX_USAGE;
	const char *op = argv[optind], *wf = argv[optind + 1];
	const char *q = optind + 2 < argc ? argv[optind + 2] : NULL;
	int nargs = argc - optind, ls = !strcmp(op, "ls"), replay = !strcmp(op, "replay"), purge = !strcmp(op, "purge");
	if (!ls && !replay && !purge) {
		fprintf(stderr, "unifaas: dlq: unknown operation '%s': expected ls, replay or purge\n", op);
		return UF_EX_USAGE;
	}
	if (replay && !q) {
		fprintf(stderr,
		        "unifaas: dlq: replay: missing QUEUE (dead letters go back to the queue they came from)\n");
		return UF_EX_USAGE;
	}
	if (!replay && nargs > 3) {
		fprintf(stderr, "unifaas: dlq: %s: unexpected argument '%s'\n", op, argv[optind + 3]);
		return UF_EX_USAGE;
	}
	if (!replay && !ls && (from || json)) {
		fprintf(stderr, "unifaas: dlq: %s: --from, --count and --json are options of 'dlq ls'\n", op);
		return UF_EX_USAGE;
	}
	if (!cli_name_ok("dlq", UF_NAME_WORKFLOW, wf) || (q && !cli_name_ok("dlq", UF_NAME_QUEUE, q)))
		return UF_EX_USAGE;
	if ((ex = api_open(&a, "dlq")) != UF_EX_OK)
		goto out;
	if (ls)
		ex = dlq_ls(&a, wf, q, from, count, json);
	else if (replay)
		ex = dlq_replay(&a, wf, q, argv + optind + 3, nargs - 3);
	else
		ex = dlq_purge(&a, wf, q);
out:
	api_close(&a);
	return ex;
}

/* --- describe --------------------------------------------------------------------------- */

static void join(json_t *arr, char *buf, size_t len)
{
	size_t i, o = 0;
	json_t *v;
	buf[0] = 0;
	json_array_foreach(arr, i, v) if (o < len) o +=
	    (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", json_string_value(v));
	if (!o)
		snprintf(buf, len, "-");
}

static long long num(json_t *o, const char *key)
{
	return (long long)json_number_value(json_object_get(o, key));
}

static void describe_step(json_t *s)
{
	json_t *g = json_object_get(s, "grants"), *sc = json_object_get(s, "scale"), *u, *e;
	char push[2048], up[32], when[40];
	size_t i;
	join(json_object_get(g, "push"), push, sizeof(push));
	printf("\nstep %s\n", jstr(s, "name") ? jstr(s, "name") : "?");
	printf("  image:     %s\n", jstr(s, "image") ? jstr(s, "image") : "-");
	printf("  grants:    listen %s; push %s; kv %s; net %s\n", jstr(g, "listen") ? jstr(g, "listen") : "-", push,
	       jstr(g, "kv") ? jstr(g, "kv") : "-", json_is_true(json_object_get(g, "net")) ? "yes" : "no");
	if (json_array_size(json_object_get(g, "publish"))) { /* MQTT topic filters (uf_mqtt_publish) */
		char pub[2048];
		join(json_object_get(g, "publish"), pub, sizeof(pub));
		printf("  publish:   %s\n", pub);
	}
	printf("  scaling:   %lld..%lld units, %lld events per unit, grace %lld ms, idle %lld ms, overflow %lld, "
	       "lifetime %lld s\n",
	       num(sc, "min_units"), num(sc, "max_units"), num(sc, "events_per_unit"), num(sc, "grace_ms"),
	       num(sc, "idle_ms"), num(sc, "overflow"), num(sc, "lifetime_s"));
	printf("  limits:    memory %lld KiB, timeout %lld ms per event, retries %lld, batch %lld\n",
	       num(s, "memory") >> 10, num(s, "timeout_ms"), num(s, "retries"), num(s, "batch"));
	json_t *el = json_object_get(s, "event_limits");
	if (el) { /* common/event_limits.h: what one event may write */
		char from[256];
		join(json_object_get(el, "from_manifest"), from, sizeof(from));
		printf("  per event: %lld writes, values of %lld bytes, events of %lld bytes, %lld bytes in all "
		       "(from the manifest: %s)\n",
		       num(el, "writes_per_event"), num(el, "value_bytes"), num(el, "event_bytes"),
		       num(el, "commit_bytes"), json_array_size(json_object_get(el, "from_manifest")) ? from : "none");
	}
	if (num(s, "retry_delay_ms"))
		printf("  retries:   after %lld ms, doubled each attempt, at most an hour\n", num(s, "retry_delay_ms"));
	printf("  units:     %lld running, %lld started", num(s, "running"), num(s, "starts"));
	if (jstr(s, "waiting_reason"))
		printf(" (%s)", jstr(s, "waiting_reason"));
	printf("\n");
	json_array_foreach(json_object_get(s, "units"), i, u)
	    printf("             %s pid %lld %s %s%s%s\n", jstr(u, "id"), num(u, "pid"), jstr(u, "state"),
	           fmt_uptime(num(u, "uptime_ms"), up, sizeof(up)), jstr(u, "stop_reason") ? ": " : "",
	           jstr(u, "stop_reason") ? jstr(u, "stop_reason") : "");
	const char *k;
	json_t *v;
	printf("  exits:    ");
	if (!json_object_size(json_object_get(s, "exits")))
		printf(" none");
	json_object_foreach(json_object_get(s, "exits"), k, v) printf(" %s %lld", k, (long long)json_number_value(v));
	printf("\n");
	json_array_foreach(json_object_get(s, "recent_failures"), i, e)
	    printf("  failed:    %s %s\n", fmt_time(json_object_get(e, "time"), when, sizeof(when)), jstr(e, "reason"));
	json_array_foreach(json_object_get(s, "recent_stops"), i, e)
	    printf("  stopped:   %s %s\n", fmt_time(json_object_get(e, "time"), when, sizeof(when)), jstr(e, "reason"));
}

/* Its stored bytes against its quota (daemon/quota.c). */
static void describe_storage(json_t *st)
{
	if (!st)
		return;
	if (!num(st, "measured_ms"))
		printf("storage:   not measured yet (quota %lld bytes, storage_quota)\n", num(st, "quota"));
	else
		printf("storage:   %lld of %lld bytes (storage_quota)%s%s\n", num(st, "bytes"), num(st, "quota"),
		       json_is_true(json_object_get(st, "over_quota")) ? "; OVER QUOTA: refused: " : "",
		       json_is_true(json_object_get(st, "over_quota")) && jstr(st, "refused") ? jstr(st, "refused")
		                                                                              : "");
	if (num(st, "redis_refusals"))
		printf("redis:     %lld writes refused: redis is full (its maxmemory, redis_maxmemory)\n",
		       num(st, "redis_refusals"));
}

int cmd_describe(int argc, char **argv)
{
	struct api a = {0};
	char ewf[256], path[512], queues[4096], when[40], att[24];
	int json, ex;
	json_t *root, *s, *e;
	size_t i;

	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	int c;
	json = 0;
	while ((c = cli_getopt("describe", argc, argv, "", opts)) != -1) {
		if (c == 'j')
			json = 1;
		else
			return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
	}
	if (cli_nargs("describe", argc, argv, 1, 1) < 0)
		return UF_EX_USAGE;
	const char *wf = argv[optind];
	if (!cli_name_ok("describe", UF_NAME_WORKFLOW, wf))
		return UF_EX_USAGE;
	if ((ex = api_open(&a, "describe")) != UF_EX_OK)
		goto out;
	api_escape(&a, wf, ewf, sizeof(ewf));
	snprintf(path, sizeof(path), "/v1/workflows/%s", ewf);
	if (json) {
		ex = get_json(&a, path, 1, &root);
		goto out;
	}
	if ((ex = get_page(&a, path, wf, 60, &root)) != UF_EX_OK)
		goto out;
	join(json_object_get(root, "queues"), queues, sizeof(queues));
	printf("workflow:  %s\n", jstr(root, "name") ? jstr(root, "name") : wf);
	printf("state:     %s%s%s\n", jstr(root, "state") ? jstr(root, "state") : "?", jstr(root, "reason") ? ": " : "",
	       jstr(root, "reason") ? jstr(root, "reason") : "");
	printf("units:     %lld running (max %lld)\n", num(root, "units"), num(root, "max_units"));
	printf("queues:    %s\n", queues);
	json_t *sh = json_object_get(root, "share");
	if (sh)
		printf("share:     %lld of %lld (guaranteed %lld units, %.1f MiB of the node)\n", num(sh, "weight"),
		       num(sh, "of"), num(sh, "units"), (double)num(sh, "memory") / (1 << 20));
	describe_storage(json_object_get(root, "storage"));
	json_t *in = json_object_get(root, "ingress");
	double rate = in ? json_number_value(json_object_get(in, "rate")) : 0;
	if (in && rate > 0)
		printf("ingress:   held to %.0f events/s while other workflows push (ingress_rate %lld by share)%s\n",
		       rate, num(in, "ingress_rate"),
		       json_is_true(json_object_get(in, "held")) ? "; its pushes wait for that rate now" : "");
	else if (in && num(in, "ingress_rate"))
		printf(
		    "ingress:   not held now (only while it and another workflow push; ingress_rate %lld by share)\n",
		    num(in, "ingress_rate"));
	if (json_is_number(json_object_get(root, "cpu_seconds")))
		printf("cpu:       %.3f s used by its units (their cgroup; CPU weight by share)\n",
		       json_number_value(json_object_get(root, "cpu_seconds")));
	json_array_foreach(json_object_get(root, "steps"), i, s) describe_step(s);
	json_t *dead = json_object_get(root, "recent_dead_letters");
	printf("\nrecent dead letters:%s\n", json_array_size(dead) ? "" : " none");
	json_array_foreach(dead, i, e) printf(
	    "  %s %s %s/%s event %s after %s attempts: %s\n", fmt_time(json_object_get(e, "time"), when, sizeof(when)),
	    jstr(e, "id"), jstr(e, "queue"), jstr(e, "step"), jstr(e, "origin"), jnum(e, "attempts", att, sizeof(att)),
	    jstr(e, "reason") ? jstr(e, "reason") : "-");
	json_decref(root);
out:
	api_close(&a);
	return ex;
}
