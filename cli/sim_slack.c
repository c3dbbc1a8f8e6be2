/*
 * sim_slack.c - `unifaas sim slack`: a local HTTP server that answers like a
 * Slack incoming webhook (/work/shared/testdata/slack/README.md), standing
 * in for Slack in the tests, in `make run`'s demo and in bench/usecase.
 *
 * A POST under --path is one message.  Its answer is decided in this order:
 * the rate limit (--rate N/S: past N accepted messages in the last S seconds,
 * 429 with Retry-After, the seconds until one leaves the window), then the
 * next scripted answer (--respond, one per request that got past the rate
 * limit, then ok forever), then, when that answer is ok, the body as Slack
 * checks it (a JSON object with a non-empty "text" string or "blocks" array,
 * as the body or, in a form, as its payload= parameter: else 400
 * invalid_payload, or 400 no_text for an object with neither).  An
 * accepted message is answered 200 `ok` (text/html, as Slack) and printed as
 * Slack would show it, one line: `[slack] HH:MM:SS BOT: TEXT`.
 *
 * Invariants: it listens on 127.0.0.1 only; every request that reached the
 * webhook path is one line of --log (receive time in epoch microseconds,
 * status, Slack's body, the Idempotency-Key), written before the answer is
 * sent, so a client that saw an answer finds its line; the script, the rate
 * window and the counts are under one mutex (a connection per thread, so a
 * `timeout:MS` answer delays no other request); SIGINT, SIGTERM and --count
 * end it with status 0 after the last answer was sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define SLACK_CMD        "sim slack"
#define SLACK_BODY_MAX   (1u << 20) /* a bigger body: 413 */
#define SLACK_SCRIPT_MAX 10000
#define SLACK_PATH_MAX   512
#define SLACK_BOT        "unifaas-bot" /* shown when the message has no "username" */

/* Slack's error answers: the body names the error, the status goes with it. */
static const struct {
	const char *name;
	unsigned status;
} slack_errors[] = {
    {"invalid_payload", 400}, {"no_text", 400},           {"action_prohibited", 403},   {"invalid_token", 403},
    {"no_service", 404},      {"channel_not_found", 404}, {"channel_is_archived", 410}, {"rollup_error", 500},
};
#define NERRORS (sizeof(slack_errors) / sizeof(slack_errors[0]))

enum answer_kind { ANS_OK, ANS_ERROR, ANS_429, ANS_TIMEOUT };

struct answer {
	enum answer_kind kind;
	unsigned status;  /* ANS_ERROR */
	const char *body; /* ANS_ERROR: Slack's error name */
	unsigned arg;     /* ANS_429: Retry-After seconds (0: none); ANS_TIMEOUT: ms */
};

struct slack {
	unsigned port;
	const char *path;
	struct answer *script;
	size_t nscript, next;
	unsigned rate_n, rate_s;
	uint64_t *window; /* the last rate_n acceptance times (us), a ring */
	size_t wlen, whead;
	FILE *log;
	unsigned long count; /* exit after this many accepted (0: never) */
	unsigned long accepted, refused;
	int stopping;
	pthread_mutex_t mu;
	pthread_cond_t stop_cv;
};

/* One request: its body as it arrives. */
struct req {
	uint64_t t_us;
	char *body;
	size_t len;
	int too_big;
};

static uint64_t now_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static int slack_uint(const char *opt, const char *v, unsigned long long min, unsigned long long max,
                      unsigned long long *out)
{
	return sim_opt_uint(SLACK_CMD, opt, v, min, max, out);
}

/* The Slack error name of a status without one given ("429", "500"). */
static const char *status_body(unsigned status)
{
	for (size_t i = 0; i < NERRORS; i++)
		if (slack_errors[i].status == status)
			return slack_errors[i].name;
	return status >= 500 ? "server_error" : "invalid_request";
}

/* One --respond item into a; 0 or -1. */
static int parse_answer(const char *item, struct answer *a)
{
	unsigned long long v;
	char *end;
	*a = (struct answer){.kind = ANS_OK};
	if (!strcmp(item, "ok"))
		return 0;
	for (size_t i = 0; i < NERRORS; i++)
		if (!strcmp(item, slack_errors[i].name)) {
			*a = (struct answer){.kind = ANS_ERROR, .status = slack_errors[i].status, .body = item};
			return 0;
		}
	if (!strncmp(item, "timeout:", 8)) {
		errno = 0;
		v = strtoull(item + 8, &end, 10);
		if (errno || end == item + 8 || *end || item[8] == '-' || v < 1 || v > 600000)
			return -1;
		*a = (struct answer){.kind = ANS_TIMEOUT, .arg = (unsigned)v};
		return 0;
	}
	if (item[0] < '1' || item[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(item, &end, 10);
	if (errno || v < 400 || v > 599)
		return -1;
	if (v == 429) {
		unsigned long long s = 0;
		if (*end == ':') {
			const char *n = end + 1;
			s = strtoull(n, &end, 10);
			if (end == n || n[0] == '-' || s < 1 || s > 86400)
				return -1;
		}
		if (*end)
			return -1;
		*a = (struct answer){.kind = ANS_429, .status = 429, .body = "rate_limited", .arg = (unsigned)s};
		return 0;
	}
	if (*end)
		return -1;
	*a = (struct answer){.kind = ANS_ERROR, .status = (unsigned)v, .body = status_body((unsigned)v)};
	return 0;
}

/* --respond LIST into s->script; 0 or -1 after a message. */
static int parse_script(struct slack *s, char *list)
{
	size_t n = 1;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	if (n > SLACK_SCRIPT_MAX) {
		fprintf(stderr, "unifaas: %s: --respond: %zu answers, at most %d\n", SLACK_CMD, n, SLACK_SCRIPT_MAX);
		return -1;
	}
	s->script = calloc(n, sizeof(*s->script));
	if (!s->script)
		return -1;
	char *save = NULL;
	size_t i = 0;
	for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save), i++)
		if (parse_answer(item, &s->script[i]) < 0) {
			fprintf(stderr,
			        "unifaas: %s: --respond: answer %zu '%s': expected ok, a Slack error (invalid_payload, "
			        "no_text, action_prohibited, invalid_token, no_service, channel_not_found, "
			        "channel_is_archived, rollup_error), 429 or 429:SECONDS, a status 400-599, or "
			        "timeout:MS (1-600000)\n",
			        SLACK_CMD, i + 1, item);
			return -1;
		}
	if (i == 0 || i != n) {
		fprintf(stderr, "unifaas: %s: --respond '%s': an empty answer (write ok,500 with no empty item)\n",
		        SLACK_CMD, list);
		return -1;
	}
	s->nscript = i;
	return 0;
}

/* --rate N/S; 0 or -1 after a message. */
static int parse_rate(struct slack *s, const char *v)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10), sec;
	if (!errno && end != v && v[0] != '-' && *end == '/' && n >= 1 && n <= 100000) {
		const char *p = end + 1;
		sec = strtoull(p, &end, 10);
		if (!errno && end != p && p[0] != '-' && !*end && sec >= 1 && sec <= 86400) {
			s->rate_n = (unsigned)n;
			s->rate_s = (unsigned)sec;
			return 0;
		}
	}
	fprintf(stderr, "unifaas: %s: --rate '%s': expected N/S, N messages (1-100000) per S seconds (1-86400)\n",
	        SLACK_CMD, v);
	return -1;
}

static int parse_path(struct slack *s, const char *v)
{
	if (v[0] != '/' || strlen(v) > SLACK_PATH_MAX || strcspn(v, " \t\r\n?#") != strlen(v)) {
		fprintf(stderr,
		        "unifaas: %s: --path '%s': expected a URL path starting with '/' (e.g. "
		        "/services/T0/B0/XXX), no spaces, '?' or '#', at most %d bytes\n",
		        SLACK_CMD, v, SLACK_PATH_MAX);
		return -1;
	}
	s->path = v;
	return 0;
}

/* The options into s; -1 to run, else the exit code. */
static int slack_options(int argc, char **argv, struct slack *s)
{
	static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
	                                     {"path", required_argument, NULL, 'P'},
	                                     {"respond", required_argument, NULL, 'r'},
	                                     {"rate", required_argument, NULL, 'R'},
	                                     {"log", required_argument, NULL, 'l'},
	                                     {"count", required_argument, NULL, 'c'},
	                                     {NULL, 0, NULL, 0}};
	unsigned long long v;
	int c;
	while ((c = cli_getopt(SLACK_CMD, argc, argv, "", opts)) != -1) {
		int bad = 0;
		switch (c) {
		case 'p':
			bad = slack_uint("--port", optarg, 0, 65535, &v);
			s->port = (unsigned)v;
			break;
		case 'P':
			bad = parse_path(s, optarg);
			break;
		case 'r':
			free(s->script);
			bad = parse_script(s, optarg);
			break;
		case 'R':
			bad = parse_rate(s, optarg);
			break;
		case 'l':
			if (s->log)
				fclose(s->log);
			if (!(s->log = fopen(optarg, "a"))) {
				fprintf(stderr, "unifaas: %s: --log '%s': cannot open: %s\n", SLACK_CMD, optarg,
				        strerror(errno));
				return UF_EX_ERROR;
			}
			break;
		case 'c':
			bad = slack_uint("--count", optarg, 1, 100000000, &v);
			s->count = (unsigned long)v;
			break;
		default:
			return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
		}
		if (bad < 0)
			return UF_EX_USAGE;
	}
	if (cli_nargs(SLACK_CMD, argc, argv, 0, 0) < 0)
		return UF_EX_USAGE;
	return -1;
}

/* A JSON string of n bytes that may not be UTF-8 (bytes of invalid text as '?'). */
static json_t *json_text(const char *p, size_t n)
{
	json_t *j = json_stringn(p ? p : "", p ? n : 0);
	if (j)
		return j;
	char *copy = malloc(n + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i < n; i++)
		copy[i] = (unsigned char)p[i] < 0x80 && p[i] ? p[i] : '?';
	j = json_stringn(copy, n);
	free(copy);
	return j;
}

/* One --log line; s->mu held. */
static void log_request(struct slack *s, struct MHD_Connection *c, const struct req *r, const char *url,
                        unsigned status, const char *answer, unsigned retry_after)
{
	if (!s->log)
		return;
	const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
	const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	json_t *j = json_pack("{sI sI so so ss? ss? so}", "t_us", (json_int_t)r->t_us, "status", (json_int_t)status,
	                      "answer", json_text(answer, strlen(answer)), "path", json_text(url, strlen(url)),
	                      "idempotency_key", key, "content_type", type, "body", json_text(r->body, r->len));
	if (j && retry_after)
		json_object_set_new(j, "retry_after", json_integer(retry_after));
	char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (line) {
		fprintf(s->log, "%s\n", line);
		fflush(s->log);
	}
	free(line);
	json_decref(j);
}

/* The message as Slack shows it: "[slack] HH:MM:SS BOT: TEXT", one line. */
static void show(json_t *msg)
{
	const char *bot = json_string_value(json_object_get(msg, "username"));
	const char *text = json_string_value(json_object_get(msg, "text"));
	char stamp[16];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	printf("[slack] %s %s: ", stamp, bot && *bot ? bot : SLACK_BOT);
	if (!text || !*text)
		printf("(%zu blocks)", json_array_size(json_object_get(msg, "blocks")));
	for (const char *p = text; p && *p; p++)
		putchar((unsigned char)*p < 0x20 ? ' ' : *p);
	putchar('\n');
	fflush(stdout);
}

/* What Slack says of a body: NULL (accepted, *msg the object) or its error. */
/* A form's payload=<JSON> (Slack's other way to send a message), decoded:
 * malloc'd, NULL when the body has no payload parameter. */
static char *form_payload(const char *body, size_t len)
{
	const char *p = body, *end = body + len;
	while (p && p < end && strncmp(p, "payload=", 8)) {
		p = memchr(p, '&', (size_t)(end - p));
		p = p ? p + 1 : NULL;
	}
	if (!p || p >= end)
		return NULL;
	p += 8;
	const char *amp = memchr(p, '&', (size_t)(end - p));
	size_t n = (size_t)((amp ? amp : end) - p);
	char *v = malloc(n + 1);
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++)
		v[i] = p[i] == '+' ? ' ' : p[i];
	v[n] = 0;
	MHD_http_unescape(v);
	return v;
}

static const char *check_body(const struct req *r, const char *type, json_t **msg)
{
	char *form = type && !strncasecmp(type, "application/x-www-form-urlencoded", 33) && r->body
	                 ? form_payload(r->body, r->len)
	                 : NULL;
	json_t *j = form ? json_loads(form, JSON_REJECT_DUPLICATES, NULL)
	                 : json_loadb(r->body ? r->body : "", r->len, JSON_REJECT_DUPLICATES, NULL);
	const char *err = NULL;
	free(form);
	if (!json_is_object(j)) {
		err = "invalid_payload";
	} else {
		json_t *text = json_object_get(j, "text"), *blocks = json_object_get(j, "blocks");
		if ((text && !json_is_string(text)) || (blocks && !json_is_array(blocks)))
			err = "invalid_payload";
		else if (json_string_length(text) == 0 && json_array_size(blocks) == 0)
			err = "no_text";
	}
	if (err)
		json_decref(j);
	else
		*msg = j;
	return err;
}

/* Whether the rate limit refuses a message now; *retry the seconds to wait.  s->mu held. */
static int rate_limited(struct slack *s, uint64_t now, unsigned *retry)
{
	if (!s->rate_n || s->wlen < s->rate_n)
		return 0;
	uint64_t oldest = s->window[s->whead], span = (uint64_t)s->rate_s * 1000000u;
	if (now - oldest >= span)
		return 0;
	*retry = (unsigned)((oldest + span - now + 999999) / 1000000);
	return 1;
}

static void rate_note(struct slack *s, uint64_t now)
{
	if (!s->rate_n)
		return;
	if (s->wlen < s->rate_n) {
		s->window[(s->whead + s->wlen++) % s->rate_n] = now;
		return;
	}
	s->window[s->whead] = now;
	s->whead = (s->whead + 1) % s->rate_n;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body, unsigned retry_after,
                             int close)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html");
	char ra[16];
	if (retry_after) {
		snprintf(ra, sizeof(ra), "%u", retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Holds a `timeout:MS` request, or less if the simulator stops; s->mu held. */
static void hold(struct slack *s, unsigned ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!s->stopping && pthread_cond_timedwait(&s->stop_cv, &s->mu, &until) != ETIMEDOUT)
		;
}

/* A whole message at the webhook path: its answer, under s->mu. */
static enum MHD_Result answer_message(struct slack *s, struct MHD_Connection *c, const char *url, struct req *r)
{
	unsigned retry = 0;
	json_t *msg = NULL;
	struct answer a = {.kind = ANS_OK};
	pthread_mutex_lock(&s->mu);
	if (rate_limited(s, now_us(), &retry))
		a = (struct answer){.kind = ANS_429, .status = 429, .body = "rate_limited", .arg = retry};
	else if (s->next < s->nscript)
		a = s->script[s->next++];
	if (a.kind == ANS_OK &&
	    (a.body =
	         check_body(r, MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE), &msg)))
		a = (struct answer){.kind = ANS_ERROR, .status = 400, .body = a.body};
	if (a.kind == ANS_TIMEOUT) {
		log_request(s, c, r, url, 0, "timeout", 0);
		s->refused++;
		hold(s, a.arg);
		pthread_mutex_unlock(&s->mu);
		return MHD_NO; /* the connection closed without an answer */
	}
	if (a.kind != ANS_OK) {
		log_request(s, c, r, url, a.status, a.body, a.arg);
		s->refused++;
		pthread_mutex_unlock(&s->mu);
		return reply(c, a.status, a.body, a.arg, 0);
	}
	rate_note(s, now_us());
	log_request(s, c, r, url, 200, "ok", 0);
	show(msg);
	json_decref(msg);
	int last = s->count && ++s->accepted == s->count;
	if (!s->count)
		s->accepted++;
	pthread_mutex_unlock(&s->mu);
	enum MHD_Result ret = reply(c, 200, "ok", 0, last);
	if (last)
		kill(getpid(), SIGUSR1); /* main() waits for this answer to leave, then ends */
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct slack *s = cls;
	struct req *r = *con_cls;
	(void)version;
	if (!r) {
		if (!(r = calloc(1, sizeof(*r))))
			return MHD_NO;
		r->t_us = now_us();
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_size) {
		char *b = r->too_big || r->len + *upload_size > SLACK_BODY_MAX
		              ? NULL
		              : realloc(r->body, r->len + *upload_size + 1);
		if (b) {
			memcpy(b + r->len, upload, *upload_size);
			r->len += *upload_size;
			b[r->len] = 0;
			r->body = b;
		} else {
			r->too_big = 1;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	unsigned status = 0;
	const char *body = NULL;
	if (strncmp(url, s->path, strlen(s->path)))
		status = 404, body = "no_service";
	else if (strcmp(method, "POST"))
		status = 405, body = "invalid_method";
	else if (r->too_big)
		status = 413, body = "request_too_large";
	else
		return answer_message(s, c, url, r);
	pthread_mutex_lock(&s->mu);
	log_request(s, c, r, url, status, body, 0);
	s->refused++;
	pthread_mutex_unlock(&s->mu);
	return reply(c, status, body, 0, 0);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	struct req *r = *con_cls;
	(void)cls, (void)c, (void)t;
	if (r)
		free(r->body);
	free(r);
	*con_cls = NULL;
}

/* A listening socket on 127.0.0.1:port (0: any free port), its port into *bound. */
static int listen_loopback(unsigned port, unsigned *bound)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t alen = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		fprintf(stderr, "unifaas: %s: cannot listen on 127.0.0.1:%u: %s (pick another --port, or 0 for any)\n",
		        SLACK_CMD, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*bound = ntohs(a.sin_port);
	return fd;
}

/* Waits (up to 2 s) until no connection is open: the last answer has left. */
static void drain(struct MHD_Daemon *d)
{
	for (int i = 0; i < 200; i++) {
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (!info || info->num_connections == 0)
			return;
		usleep(10000);
	}
}

int cmd_sim_slack(int argc, char **argv)
{
	struct slack s = {.path = "/services/", .mu = PTHREAD_MUTEX_INITIALIZER, .stop_cv = PTHREAD_COND_INITIALIZER};
	struct MHD_Daemon *d = NULL;
	sigset_t sigs;
	int sig, fd = -1, ex = slack_options(argc, argv, &s);
	if (ex >= 0)
		goto out;
	ex = UF_EX_ERROR;
	if (s.rate_n && !(s.window = calloc(s.rate_n, sizeof(*s.window))))
		goto out;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before the server's threads: only sigwait below sees them */
	if ((fd = listen_loopback(s.port, &s.port)) < 0)
		goto out;
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, on_request,
	                     &s, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
	                     MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "unifaas: %s: the HTTP server did not start on 127.0.0.1:%u\n", SLACK_CMD, s.port);
		goto out;
	}
	fd = -1; /* the server's now */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("sim slack: listening on http://127.0.0.1:%u%s\n", s.port, s.path);
	if (sigwait(&sigs, &sig) == 0 && sig == SIGUSR1)
		drain(d);
	pthread_mutex_lock(&s.mu);
	s.stopping = 1;
	pthread_cond_broadcast(&s.stop_cv);
	pthread_mutex_unlock(&s.mu);
	MHD_stop_daemon(d);
	printf("sim slack: %lu accepted, %lu refused\n", s.accepted, s.refused);
	ex = UF_EX_OK;
out:
	if (fd >= 0)
		close(fd);
	if (s.log)
		fclose(s.log);
	free(s.window);
	free(s.script);
	return ex;
}
