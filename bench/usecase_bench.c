/*
 * usecase_bench.c - the driver of bench/usecase.sh (issue 10 §5): times
 * Smart Citizen Kit readings from their MQTT publish to their alert's
 * arrival at a local webhook.
 *
 * Each pipeline (--pipe) is one kit: a device account that publishes raw
 * readings at QoS 1 to device/sck/<device>/readings/raw, and whatever
 * listens there (a unifaas workflow threshold -> slack-alert, or Node-RED's
 * flow) ends in a POST to the webhook.  The webhook appends one JSON line
 * per request to --hook-log, holding its receive time in epoch
 * microseconds (--time-field); the driver waits for the line (inotify, no
 * polling loop on the shared cores) whose body names the reading's device
 * and timestamp.  Latency = receive time - the CLOCK_REALTIME read just
 * before mosquitto_publish(), both on this machine's clock.
 *
 * Rounds: each round publishes one reading per pipeline, one at a time,
 * in the order given (so every pipeline sees the same machine within a few
 * hundred ms).  Before each reading the driver waits until no unit of a
 * cold pipeline's workflow (or of its step: WORKFLOW/STEP) is listed in
 * uf:state:units (the daemon has reaped it: scaled to zero), then
 * --gap-ms more, so nothing of the last reading (a unit's exit, VM
 * teardown) runs under the next one.  The CO2
 * value alternates between --high and --low, so each reading moves the
 * device's level (threshold's hysteresis state) and produces an alert:
 * a warning at high, an all-clear at low.
 *
 * Output: one CSV line per sample (--csv), and per pipeline n, mean,
 * standard deviation, variance, min, p50, p90, p99, max (nearest rank).
 * It never fails on a slow figure; it exits 1 only when a reading's alert
 * never arrives (--timeout-ms) or a connection fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#define MAX_PIPES 8

struct pipe {
	char label[64], device[64], wf[64];
	int cold;
	struct mosquitto *m;
	volatile int connected;
	double *lat_ms;
	int n;
};

static struct {
	int mqtt_port, n, warmup, gap_ms, timeout_ms, high, low;
	const char *hook_log, *time_field, *redis_sock, *redis_pass_file, *csv, *tmpl;
} opt = {.n = 100, .warmup = 4, .gap_ms = 50, .timeout_ms = 15000, .high = 1450, .low = 612, .time_field = "t_us"};

static struct pipe pipes[MAX_PIPES];
static int npipes;
static redisContext *rc;
static FILE *hook;
static int ino = -1;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "usecase_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("%s: %s", path, strerror(errno));
	static char buf[4][256];
	static int k;
	char *b = buf[k++ % 4];
	if (!fgets(b, sizeof(buf[0]), f))
		die("%s: empty", path);
	fclose(f);
	b[strcspn(b, "\r\n")] = 0;
	return b;
}

/* ---- the cold pipelines' units, from uf:state:units ---- */

/* Units of workflow wf ("WF" or "WF/STEP": of that step only). */
static int units_of(const char *wf)
{
	char want[64], *step = NULL;
	snprintf(want, sizeof(want), "%s", wf);
	if ((step = strchr(want, '/')))
		*step++ = 0;
	redisReply *r = redisCommand(rc, "HGETALL uf:state:units");
	if (!r || r->type != REDIS_REPLY_ARRAY)
		die("HGETALL uf:state:units: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : rc->errstr);
	int n = 0;
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		char w[256] = "", st[256] = "";
		int pid;
		unsigned long long start;
		if (sscanf(r->element[i + 1]->str, "%d %llu %255s %255s", &pid, &start, w, st) == 4 &&
		    !strcmp(w, want) && (!step || !strcmp(st, step)))
			n++;
	}
	freeReplyObject(r);
	return n;
}

/* Until no cold pipeline's workflow has a unit, then gap_ms more. */
static void quiet(void)
{
	long long end = now_us() + 20000000LL;
	for (int i = 0; i < npipes; i++) {
		if (!pipes[i].cold)
			continue;
		while (units_of(pipes[i].wf) > 0) {
			if (now_us() > end)
				die("%s: units of %s still running after 20 s", pipes[i].label, pipes[i].wf);
			sleep_ms(2);
		}
	}
	sleep_ms(opt.gap_ms);
}

/* ---- MQTT ---- */

static void on_connect(struct mosquitto *m, void *arg, int rcode)
{
	(void)m;
	struct pipe *p = arg;
	if (rcode)
		fprintf(stderr, "usecase_bench: %s: broker refused device %s: %s\n", p->label, p->device,
		        mosquitto_connack_string(rcode));
	p->connected = rcode ? -1 : 1;
}

static void pipe_connect(struct pipe *p, const char *pass)
{
	p->m = mosquitto_new(p->device, true, p);
	if (!p->m)
		die("mosquitto_new: %s", strerror(errno));
	mosquitto_connect_callback_set(p->m, on_connect);
	mosquitto_username_pw_set(p->m, p->device, pass);
	int r = mosquitto_connect(p->m, "127.0.0.1", opt.mqtt_port, 60);
	if (r != MOSQ_ERR_SUCCESS)
		die("%s: connect to 127.0.0.1:%d: %s", p->label, opt.mqtt_port, mosquitto_strerror(r));
	if ((r = mosquitto_loop_start(p->m)) != MOSQ_ERR_SUCCESS)
		die("mosquitto_loop_start: %s", mosquitto_strerror(r));
	for (int i = 0; i < 1000 && !p->connected; i++)
		sleep_ms(10);
	if (p->connected != 1)
		die("%s: device %s not connected to the broker", p->label, p->device);
}

/* The reading: the template with %T the time and %C the CO2 ppm. */
static int reading(char *out, size_t cap, const char *ts, int co2)
{
	size_t o = 0;
	for (const char *s = opt.tmpl; *s && o + 32 < cap; s++) {
		if (s[0] == '%' && s[1] == 'T') {
			o += (size_t)snprintf(out + o, cap - o, "%s", ts);
			s++;
		} else if (s[0] == '%' && s[1] == 'C') {
			o += (size_t)snprintf(out + o, cap - o, "%d", co2);
			s++;
		} else
			out[o++] = *s;
	}
	out[o] = 0;
	return (int)o;
}

/* ---- the webhook's log ---- */

/* The receive time of the next line naming device and ts, or -1 at the timeout. */
static long long wait_hook(const char *device, const char *ts, long long deadline_us)
{
	char line[8192];
	for (;;) {
		while (fgets(line, sizeof(line), hook)) {
			if (!strchr(line, '\n')) { /* a line still being written: read it again whole */
				fseek(hook, -(long)strlen(line), SEEK_CUR);
				break;
			}
			if (!strstr(line, device) || !strstr(line, ts))
				continue;
			char key[80];
			snprintf(key, sizeof(key), "\"%s\":", opt.time_field);
			char *k = strstr(line, key);
			if (!k)
				die("webhook log line without \"%s\": %s", opt.time_field, line);
			return strtoll(k + strlen(key), NULL, 10);
		}
		clearerr(hook);
		long long left = deadline_us - now_us();
		if (left <= 0)
			return -1;
		struct pollfd pf = {.fd = ino, .events = POLLIN};
		if (poll(&pf, 1, (int)(left / 1000) + 1) > 0) {
			char ev[4096];
			if (read(ino, ev, sizeof(ev)) < 0 && errno != EAGAIN)
				die("inotify read: %s", strerror(errno));
		}
	}
}

/* ---- statistics ---- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct stats {
	double mean, sd, var, min, p50, p90, p99, max;
	int n;
};

static double rank(const double *s, int n, double q)
{
	int k = (int)ceil(q * n);
	return s[k < 1 ? 0 : k - 1];
}

static struct stats stats_of(const double *v, int n)
{
	struct stats st = {.n = n};
	if (!n)
		return st;
	double *s = malloc(sizeof(double) * (size_t)n), sum = 0, sq = 0;
	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_d);
	for (int i = 0; i < n; i++)
		sum += s[i];
	st.mean = sum / n;
	for (int i = 0; i < n; i++)
		sq += (s[i] - st.mean) * (s[i] - st.mean);
	st.var = n > 1 ? sq / (n - 1) : 0; /* sample variance, ms^2 */
	st.sd = sqrt(st.var);
	st.min = s[0];
	st.max = s[n - 1];
	st.p50 = rank(s, n, 0.50);
	st.p90 = rank(s, n, 0.90);
	st.p99 = rank(s, n, 0.99);
	free(s);
	return st;
}

static void usage(void)
{
	fprintf(stderr, "usage: usecase_bench --mqtt-port P --hook-log FILE --template RAW [--time-field NAME]\n"
	                "         [--n N] [--warmup N] [--gap-ms MS] [--timeout-ms MS] [--high PPM] [--low PPM]\n"
	                "         [--redis-sock PATH --redis-pass-file FILE] [--csv FILE]\n"
	                "         --pipe LABEL,DEVICE,PASSFILE,WORKFLOW[/STEP]|-,cold|warm ...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"mqtt-port", 1, 0, 'p'},  {"hook-log", 1, 0, 'l'},   {"template", 1, 0, 'T'},
	    {"time-field", 1, 0, 'f'}, {"n", 1, 0, 'n'},          {"warmup", 1, 0, 'w'},
	    {"gap-ms", 1, 0, 'g'},     {"timeout-ms", 1, 0, 't'}, {"high", 1, 0, 'H'},
	    {"low", 1, 0, 'L'},        {"redis-sock", 1, 0, 's'}, {"redis-pass-file", 1, 0, 'P'},
	    {"csv", 1, 0, 'c'},        {"pipe", 1, 0, 'x'},       {0, 0, 0, 0}};
	const char *passfile[MAX_PIPES];
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			opt.mqtt_port = atoi(optarg);
			break;
		case 'l':
			opt.hook_log = optarg;
			break;
		case 'T':
			opt.tmpl = optarg;
			break;
		case 'f':
			opt.time_field = optarg;
			break;
		case 'n':
			opt.n = atoi(optarg);
			break;
		case 'w':
			opt.warmup = atoi(optarg);
			break;
		case 'g':
			opt.gap_ms = atoi(optarg);
			break;
		case 't':
			opt.timeout_ms = atoi(optarg);
			break;
		case 'H':
			opt.high = atoi(optarg);
			break;
		case 'L':
			opt.low = atoi(optarg);
			break;
		case 's':
			opt.redis_sock = optarg;
			break;
		case 'P':
			opt.redis_pass_file = optarg;
			break;
		case 'c':
			opt.csv = optarg;
			break;
		case 'x': {
			if (npipes == MAX_PIPES)
				die("at most %d --pipe", MAX_PIPES);
			struct pipe *p = &pipes[npipes];
			static char pf[MAX_PIPES][1024];
			char mode[16] = "";
			if (sscanf(optarg, "%63[^,],%63[^,],%1023[^,],%63[^,],%15s", p->label, p->device, pf[npipes],
			           p->wf, mode) != 5 ||
			    (strcmp(mode, "cold") && strcmp(mode, "warm")))
				die("--pipe %s: want LABEL,DEVICE,PASSFILE,WORKFLOW[/STEP]|-,cold|warm", optarg);
			p->cold = !strcmp(mode, "cold");
			passfile[npipes] = pf[npipes];
			npipes++;
			break;
		}
		default:
			usage();
		}
	}
	if (!opt.mqtt_port || !opt.hook_log || !opt.tmpl || !npipes || opt.n < 1)
		usage();

	mosquitto_lib_init();
	int any_cold = 0;
	for (int i = 0; i < npipes; i++)
		any_cold |= pipes[i].cold;
	if (any_cold) {
		if (!opt.redis_sock || !opt.redis_pass_file)
			die("a cold pipeline needs --redis-sock and --redis-pass-file");
		rc = redisConnectUnix(opt.redis_sock);
		if (!rc || rc->err)
			die("redis at %s: %s", opt.redis_sock, rc ? rc->errstr : "out of memory");
		redisReply *r = redisCommand(rc, "AUTH %s", read_file(opt.redis_pass_file));
		if (!r || r->type != REDIS_REPLY_STATUS)
			die("redis at %s: AUTH failed", opt.redis_sock);
		freeReplyObject(r);
	}
	hook = fopen(opt.hook_log, "r");
	if (!hook)
		die("%s: %s", opt.hook_log, strerror(errno));
	fseek(hook, 0, SEEK_END);
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino < 0 || inotify_add_watch(ino, opt.hook_log, IN_MODIFY) < 0)
		die("inotify on %s: %s", opt.hook_log, strerror(errno));
	for (int i = 0; i < npipes; i++) {
		pipe_connect(&pipes[i], read_file(passfile[i]));
		pipes[i].lat_ms = calloc((size_t)opt.n, sizeof(double));
	}
	FILE *csv = opt.csv ? fopen(opt.csv, "w") : NULL;
	if (opt.csv && !csv)
		die("%s: %s", opt.csv, strerror(errno));
	if (csv)
		fprintf(csv, "pipeline,round,warmup,co2,publish_us,receive_us,latency_ms\n");

	time_t base = 1740787200; /* 2025-03-01T00:00:00Z: one reading a minute from there */
	int failed = 0;
	for (int round = 0; round < opt.warmup + opt.n; round++) {
		char ts[32], msg[2048];
		time_t t = base + (time_t)round * 60;
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		int co2 = round % 2 ? opt.low : opt.high;
		int len = reading(msg, sizeof(msg), ts, co2);
		for (int i = 0; i < npipes; i++) {
			struct pipe *p = &pipes[i];
			char topic[128];
			snprintf(topic, sizeof(topic), "device/sck/%s/readings/raw", p->device);
			quiet();
			long long t0 = now_us();
			int r = mosquitto_publish(p->m, NULL, topic, len, msg, 1, false);
			if (r != MOSQ_ERR_SUCCESS)
				die("%s: publish: %s", p->label, mosquitto_strerror(r));
			long long t1 = wait_hook(p->device, ts, t0 + (long long)opt.timeout_ms * 1000);
			if (t1 < 0) {
				fprintf(stderr,
				        "usecase_bench: %s: round %d (%s, %d ppm): no alert at the webhook in %d ms\n",
				        p->label, round, ts, co2, opt.timeout_ms);
				failed++;
				continue;
			}
			double ms = (double)(t1 - t0) / 1000.0;
			if (csv)
				fprintf(csv, "%s,%d,%d,%d,%lld,%lld,%.3f\n", p->label, round, round < opt.warmup, co2,
				        t0, t1, ms);
			if (round >= opt.warmup)
				p->lat_ms[p->n++] = ms;
		}
	}
	if (csv)
		fclose(csv);

	printf("| pipeline | n | mean | sd | variance | min | p50 | p90 | p99 | max |\n");
	printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
	for (int i = 0; i < npipes; i++) {
		struct stats s = stats_of(pipes[i].lat_ms, pipes[i].n);
		printf(
		    "| %s | %d | %.3f ms | %.3f ms | %.3f ms^2 | %.3f ms | %.3f ms | %.3f ms | %.3f ms | %.3f ms |\n",
		    pipes[i].label, s.n, s.mean, s.sd, s.var, s.min, s.p50, s.p90, s.p99, s.max);
		printf("STAT %s n=%d mean=%.3f sd=%.3f var=%.3f min=%.3f p50=%.3f p90=%.3f p99=%.3f max=%.3f\n",
		       pipes[i].label, s.n, s.mean, s.sd, s.var, s.min, s.p50, s.p90, s.p99, s.max);
	}
	for (int i = 0; i < npipes; i++) {
		mosquitto_disconnect(pipes[i].m);
		mosquitto_loop_stop(pipes[i].m, false);
		mosquitto_destroy(pipes[i].m);
	}
	mosquitto_lib_cleanup();
	return failed ? 1 : 0;
}
