/*
 * platform_bench.c - the unifaas platform benchmark (bench/platform.sh runs it).
 *
 * Drives a running platform (redis-server, unifaasd, optionally mosquitto,
 * started by `unifaas up` in a private state dir) through its control API
 * (HTTP on loopback) and Redis (the admin password of the state dir), and
 * measures each figure beside a baseline of plain processes
 * (bench/native_fdc.c) run against the same Redis in the same run:
 *
 *   idle   CPU of unifaasd + redis-server (+ mosquitto) with workflows/eval.yaml
 *          deployed and no events, over --idle-s seconds
 *   tp     throughput of the fridge-door step (functions/fdc.uf) with 1, 2
 *          and 4 pinned units (min_units = max_units): N events XADDed in
 *          a pipeline, timed from the first XADD until the KV counter is N,
 *          N pushes are in door-opens and nothing is pending; the same with
 *          1, 2 and 4 native_fdc processes.  Runs interleaved, --tp-reps each.
 *   lat    push-to-handled latency: XADD one event, block in XREAD on
 *          door-opens until its push arrives, one at a time.  Warm: one unit
 *          already running (and one native_fdc process).  Cold: no unit
 *          running (idle_ms small; the next event waits until the daemon has
 *          reaped the last unit), against fork+exec of native_fdc --once per
 *          event and, with --runc, `runc run` of it per event.
 *   mem    for K = 1..--mem-kmax pinned units fed a steady stream
 *          (--feed-rate events/s per unit): RSS and PSS of unifaasd,
 *          redis-server and every unit's tender, and the CPU they used; the
 *          same with K native_fdc processes.  Slope per extra unit.
 *
 * CPU is utime + stime from /proc/PID/stat (10 ms ticks; windows of
 * seconds).  A unit's tender and its VM reaper (uf-hvt --fast-exit clones
 * one, sharing its memory) are both children of unifaasd: both count for
 * CPU, only the tender for memory (its mm is the reaper's).  Percentiles are
 * nearest-rank.  Nothing here fails on a slow figure; the exit status is 0
 * unless a figure could not be measured at all.
 *
 * `platform_bench subreaper -- CMD...` runs CMD as a child subreaper: the
 * detached servers `unifaas up` starts are reaped here when they exit,
 * since PID 1 on the test machines does not reap orphans.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* The targets. */
#define TARGET_TP1 20000.0
#define TARGET_TP4 50000.0
#define TARGET_WARM_P50_MS 0.3
#define TARGET_COLD_P50_MS 3.0
#define TARGET_UNIT_RSS_MIB 1.5
#define TARGET_IDLE_CPU_PCT 1.0

#define MAX_PIDS 256

/* ---- options ---------------------------------------------------------------- */

static struct {
	const char *state, *fdc, *native, *runc, *bundle, *out, *md, *work, *eval, *eval_dir, *only;
	unsigned api_port;
	unsigned tp_events, tp_reps, warm_runs, cold_runs, runc_runs, warmup, mem_kmax, idle_ms_cold, cold_gap_ms;
	double idle_s, mem_window_s, feed_rate;
} opt = {.tp_events = 40000,
	 .tp_reps = 3,
	 .warm_runs = 2000,
	 .cold_runs = 1000,
	 .runc_runs = 100,
	 .warmup = 20,
	 .mem_kmax = 10,
	 .idle_ms_cold = 10,
	 .idle_s = 10,
	 .mem_window_s = 3,
	 .feed_rate = 200};

static char token[256], password[256];
static pid_t pid_daemon, pid_redis, pid_mqtt;
static redisContext *R;
static FILE *md;
static int failures;
static long clk_tck;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "platform_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static void warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "platform_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void sleep_us(double us)
{
	if (us <= 0)
		return;
	struct timespec ts = {.tv_sec = (time_t)(us / 1e6), .tv_nsec = (long)fmod(us * 1e3, 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int want(const char *fig)
{
	return !opt.only || strstr(opt.only, fig);
}

static FILE *csv_open(const char *name, const char *header)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", opt.out, name);
	FILE *f = fopen(path, "w");
	if (!f)
		die("%s: %s", path, strerror(errno));
	fprintf(f, "%s\n", header);
	return f;
}

/* ---- statistics ----------------------------------------------------------------- */

struct stats {
	size_t n;
	double mean, min, p50, p90, p99, max;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, unsigned p)
{
	size_t k = (p * n + 99) / 100;
	return v[k ? k - 1 : 0];
}

static struct stats stats_of(const double *v, size_t n)
{
	struct stats s = {.n = n};
	if (!n)
		return s;
	double *c = malloc(n * sizeof(*c)), sum = 0;
	if (!c)
		die("out of memory");
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_double);
	for (size_t i = 0; i < n; i++)
		sum += c[i];
	s.mean = sum / (double)n, s.min = c[0], s.max = c[n - 1];
	s.p50 = pct(c, n, 50), s.p90 = pct(c, n, 90), s.p99 = pct(c, n, 99);
	free(c);
	return s;
}

static double median(double *v, size_t n)
{
	return stats_of(v, n).p50;
}

/* ---- the summary table ------------------------------------------------------------ */

struct row {
	char figure[96], value[64], baseline[96], ratio[64], target[48], within[8];
};
static struct row rows[64];
static size_t nrows;

static void add_row(const char *figure, const char *value, const char *baseline, const char *ratio,
		    const char *target, const char *within)
{
	if (nrows == sizeof(rows) / sizeof(*rows))
		return;
	struct row *r = &rows[nrows++];
	snprintf(r->figure, sizeof(r->figure), "%s", figure);
	snprintf(r->value, sizeof(r->value), "%s", value);
	snprintf(r->baseline, sizeof(r->baseline), "%s", baseline);
	snprintf(r->ratio, sizeof(r->ratio), "%s", ratio);
	snprintf(r->target, sizeof(r->target), "%s", target);
	snprintf(r->within, sizeof(r->within), "%s", within);
}

static const char *yesno(int ok)
{
	return ok ? "yes" : "no";
}

/* ---- /proc ------------------------------------------------------------------------ */

static int read_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/* utime + stime (all threads) in clock ticks; -1 if the process is gone. */
static long long proc_ticks(pid_t pid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return -1;
	const char *p = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	/* after the comm: state(3) ... utime is field 14, stime 15 */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static pid_t proc_ppid(pid_t pid, char *comm, size_t cap)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return -1;
	const char *l = strchr(buf, '('), *r = strrchr(buf, ')');
	int ppid;
	if (!l || !r || sscanf(r + 2, "%*c %d", &ppid) != 1)
		return -1;
	if (comm)
		snprintf(comm, cap, "%.*s", (int)(r - l - 1), l + 1);
	return ppid;
}

/* A "Key:   N kB" line of a /proc file, in KiB; -1 if missing. */
static long proc_kib(pid_t pid, const char *file, const char *key)
{
	char path[64], buf[8192];
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return -1;
	size_t kl = strlen(key);
	for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == ':')
			return strtol(p + kl + 1, NULL, 10);
	return -1;
}

static long long proc_ctxsw(pid_t pid)
{
	long long sum = 0;
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/task", pid);
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[384], buf[8192];
		snprintf(path, sizeof(path), "%s/%s/status", dir, e->d_name);
		if (read_text(path, buf, sizeof(buf)) < 0)
			continue;
		const char *v = strstr(buf, "voluntary_ctxt_switches:"), *nv = strstr(buf, "nonvoluntary_ctxt_switches:");
		if (v)
			sum += strtoll(v + 24, NULL, 10);
		if (nv)
			sum += strtoll(nv + 27, NULL, 10);
	}
	closedir(d);
	return sum;
}

/* Children of `parent` (their pids into out), optionally only those named comm. */
static int children_of(pid_t parent, const char *comm, pid_t *out, int cap)
{
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < cap) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char c[64];
		if (proc_ppid((pid_t)pid, c, sizeof(c)) == parent && (!comm || !strcmp(c, comm)))
			out[n++] = (pid_t)pid;
	}
	closedir(d);
	return n;
}

static pid_t read_pidfile(const char *name)
{
	char path[1200], buf[32];
	snprintf(path, sizeof(path), "%s/%s", opt.state, name);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return 0;
	pid_t p = (pid_t)strtol(buf, NULL, 10);
	return p > 0 && kill(p, 0) == 0 ? p : 0;
}

static double machine_busy_start[2];
/* /proc/stat: busy and total jiffies of all CPUs. */
static void cpu_jiffies(double out[2])
{
	char buf[512];
	unsigned long long v[8] = {0};
	if (read_text("/proc/stat", buf, sizeof(buf)) < 0 ||
	    sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &v[6], &v[7]) != 8) {
		out[0] = out[1] = 0;
		return;
	}
	out[0] = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
	out[1] = out[0] + (double)(v[3] + v[4]);
}

/* ---- CPU accounting of a set of processes ---------------------------------------- */

struct cpuset {
	const char *name;
	pid_t pid[MAX_PIDS];
	long long t0[MAX_PIDS];
	long long cs0[MAX_PIDS];
	int n;
	double ticks, ctxsw; /* after cpu_end */
};

static void cpu_begin(struct cpuset *c)
{
	for (int i = 0; i < c->n; i++) {
		c->t0[i] = proc_ticks(c->pid[i]);
		c->cs0[i] = proc_ctxsw(c->pid[i]);
	}
}

static void cpu_end(struct cpuset *c)
{
	c->ticks = c->ctxsw = 0;
	for (int i = 0; i < c->n; i++) {
		long long t = proc_ticks(c->pid[i]), cs = proc_ctxsw(c->pid[i]);
		if (t >= 0 && c->t0[i] >= 0)
			c->ticks += (double)(t - c->t0[i]);
		if (cs >= 0 && c->cs0[i] >= 0)
			c->ctxsw += (double)(cs - c->cs0[i]);
	}
}

static double cpu_pct(const struct cpuset *c, double seconds)
{
	return seconds > 0 ? 100.0 * c->ticks / (double)clk_tck / seconds : 0;
}

static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- Redis ------------------------------------------------------------------------- */

static redisReply *cmd(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(R, fmt, ap);
	va_end(ap);
	if (!r)
		die("redis: %s", R->errstr);
	return r;
}

static void cmd_ok(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(R, fmt, ap);
	va_end(ap);
	if (!r)
		die("redis: %s", R->errstr);
	if (r->type == REDIS_REPLY_ERROR)
		die("redis: %s: %s", fmt, r->str);
	freeReplyObject(r);
}

static long long cmd_int(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(R, fmt, ap);
	va_end(ap);
	if (!r)
		die("redis: %s", R->errstr);
	long long v = r->type == REDIS_REPLY_INTEGER  ? r->integer
		      : r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10)
						      : 0;
	freeReplyObject(r);
	return v;
}

static redisContext *connect_redis(void)
{
	char sock[1200];
	snprintf(sock, sizeof(sock), "%s/redis.sock", opt.state);
	redisContext *c = redisConnectUnix(sock);
	if (!c || c->err)
		die("redis at %s: %s", sock, c ? c->errstr : "out of memory");
	redisReply *r = redisCommand(c, "AUTH %s", password);
	if (!r || r->type != REDIS_REPLY_STATUS)
		die("redis at %s: AUTH failed", sock);
	freeReplyObject(r);
	return c;
}

/* Units of workflow wf in uf:state:units: ids (malloc'd) and pids. */
static int units_of(const char *wf, char **ids, pid_t *pids, int cap)
{
	redisReply *r = cmd("HGETALL uf:state:units");
	int n = 0;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements && n < cap; i += 2) {
		char w[256] = "";
		int pid = 0;
		unsigned long long start;
		if (sscanf(r->element[i + 1]->str, "%d %llu %255s", &pid, &start, w) != 3 || (wf && strcmp(w, wf)))
			continue;
		if (ids)
			ids[n] = strdup(r->element[i]->str);
		if (pids)
			pids[n] = pid;
		n++;
	}
	freeReplyObject(r);
	return n;
}

static void free_ids(char **ids, int n)
{
	for (int i = 0; i < n; i++)
		free(ids[i]);
}

/*
 * Clients blocked in XREADGROUP whose ACL user is `user` (a workflow's units
 * log in as uf-wf-<wf>) or, if user is NULL, whose name begins with `prefix`
 * (native_fdc names its connection after its consumer).  A consumer that
 * blocks before its first entry is not listed by XINFO CONSUMERS (Redis 7.0),
 * so CLIENT LIST is what says a unit is up and waiting.
 */
static int blocked_readers(const char *user, const char *prefix)
{
	redisReply *r = cmd("CLIENT LIST");
	int n = 0;
	if (r->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		return 0;
	}
	char want_user[160], want_name[160];
	snprintf(want_user, sizeof(want_user), " user=%s ", user ? user : "");
	snprintf(want_name, sizeof(want_name), " name=%s", prefix ? prefix : "");
	for (char *line = r->str; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		char *flags = strstr(line, " flags=");
		int blocked = strstr(line, " cmd=xreadgroup") && flags && strchr(flags + 7, 'b') &&
			      strchr(flags + 7, 'b') < strchr(flags + 7, ' ');
		if (blocked && ((user && strstr(line, want_user)) || (!user && prefix && strstr(line, want_name))))
			n++;
		line = nl ? nl + 1 : NULL;
	}
	freeReplyObject(r);
	return n;
}

/*
 * Wait until workflow wf has exactly k units and each of them is blocked
 * reading its queue (its guest has booted and made its first pop).  0, or
 * -1 after timeout_s.
 */
static int wait_units(const char *wf, int k, double timeout_s)
{
	char user[128];
	snprintf(user, sizeof(user), "uf-wf-%s", wf);
	double end = now_us() + timeout_s * 1e6;
	while (now_us() < end) {
		if (units_of(wf, NULL, NULL, MAX_PIDS) == k && blocked_readers(user, NULL) == k)
			return 0;
		sleep_us(2000);
	}
	return -1;
}

/* ---- the control API --------------------------------------------------------------- */

static char *http(const char *method, const char *path, const char *body, size_t blen, int *status)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.api_port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("control API at 127.0.0.1:%u: %s", opt.api_port, strerror(errno));
	char head[1024];
	int hl = snprintf(head, sizeof(head),
			  "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nConnection: close\r\n"
			  "Content-Type: application/yaml\r\nContent-Length: %zu\r\n\r\n",
			  method, path, token, blen);
	if (write(fd, head, (size_t)hl) != hl || (blen && write(fd, body, blen) != (ssize_t)blen))
		die("control API: write: %s", strerror(errno));
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	for (;;) {
		if (len + 1 >= cap && !(buf = realloc(buf, cap *= 2)))
			die("out of memory");
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = 0;
	*status = 0;
	sscanf(buf, "HTTP/1.%*d %d", status);
	char *b = strstr(buf, "\r\n\r\n");
	char *out = strdup(b ? b + 4 : "");
	free(buf);
	return out;
}

/* Deploy workflow `name`: the fdc step pinned between kmin and kmax units. */
static void deploy_fdc(const char *name, unsigned kmin, unsigned kmax, unsigned idle_ms)
{
	char yaml[2048], path[1300];
	int n = snprintf(yaml, sizeof(yaml),
			 "# generated by bench/platform_bench.c\n"
			 "name: %s\n"
			 "max_units: 16\n"
			 "functions:\n"
			 "  fdc:\n"
			 "    image: %s\n"
			 "    listen: fridge-door\n"
			 "    push: door-opens\n"
			 "    memory: 8MiB\n"
			 "    batch: 256\n"
			 "    scale: { min_units: %u, max_units: %u, events_per_unit: 64, grace_ms: 0, idle_ms: %u, "
			 "overflow: 100000000 }\n"
			 "    timeout_ms: 500\n",
			 name, opt.fdc, kmin, kmax, idle_ms);
	snprintf(path, sizeof(path), "%s/%s.yaml", opt.work, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(yaml, f);
		fclose(f);
	}
	char url[512];
	snprintf(url, sizeof(url), "/v1/workflows?file=%s.yaml&replace=1", name);
	int st;
	char *resp = http("POST", url, yaml, (size_t)n, &st);
	if (st != 200 && st != 201)
		die("deploy %s: HTTP %d: %s", name, st, resp);
	free(resp);
}

static void deploy_file(const char *file, const char *dir)
{
	FILE *f = fopen(file, "r");
	if (!f)
		die("%s: %s", file, strerror(errno));
	static char yaml[1 << 16];
	size_t n = fread(yaml, 1, sizeof(yaml), f);
	fclose(f);
	const char *base = strrchr(file, '/');
	char url[2048];
	snprintf(url, sizeof(url), "/v1/workflows?file=%s&dir=%s&replace=1", base ? base + 1 : file, dir);
	int st;
	char *resp = http("POST", url, yaml, n, &st);
	if (st != 200 && st != 201)
		die("deploy %s: HTTP %d: %s", file, st, resp);
	free(resp);
}

static void undeploy(const char *name)
{
	char url[512];
	snprintf(url, sizeof(url), "/v1/workflows/%s?purge=1", name);
	int st;
	char *resp = http("DELETE", url, NULL, 0, &st);
	if (st != 200 && st != 404)
		warn("undeploy %s: HTTP %d: %s", name, st, resp);
	free(resp);
	double end = now_us() + 10e6;
	while (units_of(name, NULL, NULL, MAX_PIDS) > 0 && now_us() < end)
		sleep_us(2000);
}

/* ---- native_fdc processes ---------------------------------------------------------------- */

static pid_t spawn_native(const char *wf, const char *consumer, unsigned idle_ms, int once)
{
	char sock[1200], idle[16], log[1300], pw[300];
	snprintf(sock, sizeof(sock), "%s/redis.sock", opt.state);
	snprintf(idle, sizeof(idle), "%u", idle_ms);
	snprintf(log, sizeof(log), "%s/native.log", opt.work);
	snprintf(pw, sizeof(pw), "UF_REDIS_PASSWORD=%s", password);
	const char *argv[] = {opt.native,   "--redis", sock,  "--workflow", wf,   "--consumer", consumer,
			      "--idle-ms", idle,      "--batch", "256", once ? "--once" : NULL, NULL};
	char *envp[] = {pw, NULL};
	pid_t p = fork();
	if (p < 0)
		die("fork: %s", strerror(errno));
	if (p == 0) {
		int in = open("/dev/null", O_RDWR), err = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(in, 0), dup2(in, 1);
		if (err >= 0)
			dup2(err, 2);
		execve(opt.native, (char **)argv, envp);
		_exit(127);
	}
	return p;
}

static void stop_natives(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGTERM);
	for (int i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
}

/* Wait until k native_fdc processes of wf (connections named wf-N) block reading. */
static int wait_native(const char *wf, int k)
{
	char prefix[128];
	snprintf(prefix, sizeof(prefix), "%s-", wf);
	double end = now_us() + 10e6;
	while (now_us() < end) {
		if (blocked_readers(NULL, prefix) == k)
			return 0;
		sleep_us(2000);
	}
	return -1;
}

static int start_natives(const char *wf, int k, pid_t *pids)
{
	for (int i = 0; i < k; i++) {
		char name[128];
		snprintf(name, sizeof(name), "%s-%d", wf, i + 1);
		pids[i] = spawn_native(wf, name, 600000, 0);
	}
	if (wait_native(wf, k) < 0) {
		warn("%d native_fdc processes for %s did not come up (see %s/native.log)", k, wf, opt.work);
		return -1;
	}
	return 0;
}

/* ---- figure 4: idle CPU ------------------------------------------------------------------------ */

static void fig_idle(void)
{
	printf("\n== idle: CPU with workflows/eval.yaml deployed, no events, %.0f s ==\n", opt.idle_s);
	deploy_file(opt.eval, opt.eval_dir);
	sleep_us(2e6); /* let the deploy's own work settle */
	struct cpuset cs[3] = {{.name = "unifaasd"}, {.name = "redis-server"}, {.name = "mosquitto"}};
	pid_t p[3] = {pid_daemon, pid_redis, pid_mqtt};
	for (int i = 0; i < 3; i++)
		if (p[i])
			cs[i].pid[cs[i].n++] = p[i];
	for (int i = 0; i < 3; i++)
		cpu_begin(&cs[i]);
	double m0[2], m1[2];
	cpu_jiffies(m0);
	double t0 = now_us();
	sleep_us(opt.idle_s * 1e6);
	double secs = (now_us() - t0) / 1e6;
	cpu_jiffies(m1);
	FILE *csv = csv_open("platform-idle.csv", "process,pid,cpu_pct,ticks,ctxsw_per_s,seconds");
	double total = 0, daemon_redis = 0;
	for (int i = 0; i < 3; i++) {
		if (!cs[i].n)
			continue;
		cpu_end(&cs[i]);
		double pc = cpu_pct(&cs[i], secs);
		total += pc;
		if (i < 2)
			daemon_redis += pc;
		printf("  %-13s pid %-7d CPU %.2f%% of one core (%.0f ticks), %.1f context switches/s\n", cs[i].name,
		       cs[i].pid[0], pc, cs[i].ticks, cs[i].ctxsw / secs);
		fprintf(csv, "%s,%d,%.3f,%.0f,%.2f,%.2f\n", cs[i].name, cs[i].pid[0], pc, cs[i].ticks, cs[i].ctxsw / secs,
			secs);
	}
	fclose(csv);
	double mach = m1[1] > m0[1] ? 100.0 * (m1[0] - m0[0]) / (m1[1] - m0[1]) : 0;
	printf("  total %.2f%% of one core (unifaasd + redis-server %.2f%%); the whole machine was %.1f%% busy "
	       "meanwhile (other sessions' work included)\n",
	       total, daemon_redis, mach);
	char v[64], b[96], wakes[96];
	snprintf(v, sizeof(v), "%.2f%%", total);
	snprintf(b, sizeof(b), "unifaasd %.2f%%, redis %.2f%%%s", cs[0].n ? cpu_pct(&cs[0], secs) : 0,
		 cpu_pct(&cs[1], secs), cs[2].n ? ", mosquitto counted" : "");
	snprintf(wakes, sizeof(wakes), "%.0f / %.0f / %.0f ctx sw/s", cs[0].ctxsw / secs, cs[1].ctxsw / secs,
		 cs[2].n ? cs[2].ctxsw / secs : 0);
	add_row("idle CPU, eval deployed, no events (daemon + redis + mosquitto)", v, b, "-", "<= 1% of a core",
		yesno(total <= TARGET_IDLE_CPU_PCT));
	add_row("idle wake-ups (daemon / redis / mosquitto)", wakes, "-", "-", "-", "-");
	undeploy("eval");
}

/* ---- figure 1: throughput ------------------------------------------------------------------------ */

struct tp_result {
	double secs, feed_secs, rate;
	double cpu_units, cpu_redis, cpu_daemon; /* CPU seconds during the run */
};

/*
 * One run against workflow wf (units or native processes already waiting):
 * N events, timed from the first XADD until all are handled and committed.
 */
static int tp_run(const char *wf, const pid_t *unit_pids, int nunit_pids, unsigned n, struct tp_result *res)
{
	cmd_ok("DEL uf:kv:%s:fdc-count uf:q:%s:door-opens", wf, wf);
	cmd_ok("XTRIM uf:q:%s:fridge-door MAXLEN 0", wf);
	struct cpuset cu = {.name = "units"}, cr = {.name = "redis"}, cd = {.name = "daemon"};
	for (int i = 0; i < nunit_pids && cu.n < MAX_PIDS; i++)
		cu.pid[cu.n++] = unit_pids[i];
	cr.pid[cr.n++] = pid_redis;
	cd.pid[cd.n++] = pid_daemon;
	cpu_begin(&cu), cpu_begin(&cr), cpu_begin(&cd);
	char stream[256];
	snprintf(stream, sizeof(stream), "uf:q:%s:fridge-door", wf);
	double t0 = now_us();
	const unsigned chunk = 500;
	for (unsigned sent = 0; sent < n;) {
		unsigned m = n - sent < chunk ? n - sent : chunk;
		for (unsigned i = 0; i < m; i++)
			redisAppendCommand(R, "XADD %s * data open", stream);
		for (unsigned i = 0; i < m; i++) {
			redisReply *r;
			if (redisGetReply(R, (void **)&r) != REDIS_OK)
				die("redis: %s", R->errstr);
			freeReplyObject(r);
		}
		sent += m;
	}
	double tf = now_us(), t1 = 0;
	double end = tf + 60e6;
	while (now_us() < end) {
		redisAppendCommand(R, "GET uf:kv:%s:fdc-count", wf);
		redisAppendCommand(R, "XLEN uf:q:%s:door-opens", wf);
		redisAppendCommand(R, "XPENDING uf:q:%s:fridge-door fdc", wf);
		redisReply *kv, *xl, *xp;
		if (redisGetReply(R, (void **)&kv) != REDIS_OK || redisGetReply(R, (void **)&xl) != REDIS_OK ||
		    redisGetReply(R, (void **)&xp) != REDIS_OK)
			die("redis: %s", R->errstr);
		double now = now_us();
		long long count = kv->type == REDIS_REPLY_STRING ? strtoll(kv->str, NULL, 10) : 0;
		long long pend = xp->type == REDIS_REPLY_ARRAY && xp->elements >= 1 ? xp->element[0]->integer : -1;
		int done = count >= (long long)n && xl->integer >= (long long)n && pend == 0;
		freeReplyObject(kv), freeReplyObject(xl), freeReplyObject(xp);
		if (done) {
			t1 = now;
			break;
		}
		sleep_us(500);
	}
	cpu_end(&cu), cpu_end(&cr), cpu_end(&cd);
	if (!t1) {
		warn("throughput %s: %u events not all handled within 60 s", wf, n);
		return -1;
	}
	res->secs = (t1 - t0) / 1e6;
	res->feed_secs = (tf - t0) / 1e6;
	res->rate = n / res->secs;
	res->cpu_units = cu.ticks / (double)clk_tck;
	res->cpu_redis = cr.ticks / (double)clk_tck;
	res->cpu_daemon = cd.ticks / (double)clk_tck;
	return 0;
}

/* All children of unifaasd that are tenders (or their reapers) of units of wf. */
static int tender_pids(const char *wf, pid_t *out, int cap)
{
	pid_t units[MAX_PIDS], kids[MAX_PIDS];
	int nu = units_of(wf, NULL, units, MAX_PIDS), nk = children_of(pid_daemon, "uf-hvt", kids, MAX_PIDS), n = 0;
	/* a reaper is not in uf:state:units; count every uf-hvt child of the daemon for CPU when wf is NULL */
	for (int i = 0; i < nk && n < cap; i++) {
		int unit = 0;
		for (int j = 0; j < nu; j++)
			unit |= units[j] == kids[i];
		if (unit || !wf)
			out[n++] = kids[i];
	}
	/* reapers of wf's tenders: uf-hvt children that are no unit of any workflow */
	if (wf) {
		pid_t all[MAX_PIDS];
		int na = units_of(NULL, NULL, all, MAX_PIDS);
		for (int i = 0; i < nk && n < cap; i++) {
			int unit = 0;
			for (int j = 0; j < na; j++)
				unit |= all[j] == kids[i];
			if (!unit)
				out[n++] = kids[i];
		}
	}
	return n;
}

static void fig_tp(void)
{
	static const int ks[] = {1, 2, 4};
	printf("\n== tp: throughput of fdc, %u events per run, %u runs per configuration, interleaved ==\n",
	       opt.tp_events, opt.tp_reps);
	char wf[3][16], nwf[3][16];
	pid_t natives[3][4];
	for (int i = 0; i < 3; i++) {
		snprintf(wf[i], sizeof(wf[i]), "tp%d", ks[i]);
		snprintf(nwf[i], sizeof(nwf[i]), "ntp%d", ks[i]);
		deploy_fdc(wf[i], (unsigned)ks[i], (unsigned)ks[i], 600000);
	}
	for (int i = 0; i < 3; i++) {
		if (wait_units(wf[i], ks[i], 20) < 0)
			die("throughput: %d units of %s did not come up within 20 s", ks[i], wf[i]);
		if (start_natives(nwf[i], ks[i], natives[i]) < 0)
			die("throughput: native processes did not come up");
	}
	printf("  units and native processes up\n");
	FILE *csv = csv_open("platform-throughput.csv",
			     "variant,k,run,events,seconds,feed_seconds,events_per_s,cpu_units_s,cpu_redis_s,cpu_daemon_s");
	double rate[2][3][64];
	double cpu_per_kev[2][3][3][64]; /* units, redis, daemon: CPU ms per 1000 events */
	unsigned got[2][3] = {{0}};
	unsigned reps = opt.tp_reps > 64 ? 64 : opt.tp_reps;
	for (unsigned rep = 0; rep < reps; rep++)
		for (int i = 0; i < 3; i++)
			for (int v = 0; v < 2; v++) {
				/* alternate which goes first */
				int var = (rep + (unsigned)i) % 2 ? 1 - v : v;
				struct tp_result r;
				pid_t pids[MAX_PIDS];
				int np = var == 0 ? tender_pids(wf[i], pids, MAX_PIDS) : ks[i];
				if (var == 1)
					memcpy(pids, natives[i], sizeof(pid_t) * (size_t)ks[i]);
				const char *w = var == 0 ? wf[i] : nwf[i];
				if (tp_run(w, pids, np, opt.tp_events, &r) < 0) {
					failures++;
					continue;
				}
				unsigned g = got[var][i]++;
				rate[var][i][g] = r.rate;
				cpu_per_kev[var][i][0][g] = 1e6 * r.cpu_units / opt.tp_events;
				cpu_per_kev[var][i][1][g] = 1e6 * r.cpu_redis / opt.tp_events;
				cpu_per_kev[var][i][2][g] = 1e6 * r.cpu_daemon / opt.tp_events;
				printf("  %-7s K=%d run %u: %8.0f events/s (%.3f s; feeding took %.3f s); CPU s: units "
				       "%.2f, redis %.2f, daemon %.2f\n",
				       var ? "native" : "unifaas", ks[i], rep + 1, r.rate, r.secs, r.feed_secs, r.cpu_units,
				       r.cpu_redis, r.cpu_daemon);
				fprintf(csv, "%s,%d,%u,%u,%.6f,%.6f,%.1f,%.3f,%.3f,%.3f\n", var ? "native" : "unifaas",
					ks[i], rep + 1, opt.tp_events, r.secs, r.feed_secs, r.rate, r.cpu_units,
					r.cpu_redis, r.cpu_daemon);
				fflush(csv);
			}
	fclose(csv);
	printf("  medians:\n");
	for (int i = 0; i < 3; i++) {
		if (!got[0][i] || !got[1][i])
			continue;
		double u = median(rate[0][i], got[0][i]), n = median(rate[1][i], got[1][i]);
		double cu = median(cpu_per_kev[0][i][0], got[0][i]), cr = median(cpu_per_kev[0][i][1], got[0][i]);
		double nu = median(cpu_per_kev[1][i][0], got[1][i]), nr = median(cpu_per_kev[1][i][1], got[1][i]);
		double cd = median(cpu_per_kev[0][i][2], got[0][i]);
		printf("  K=%d: unifaas %.0f events/s, native %.0f events/s, unifaas/native %.2fx; CPU ms per 1000 "
		       "events: units %.1f + redis %.1f + daemon %.1f (native: processes %.1f + redis %.1f)\n",
		       ks[i], u, n, u / n, cu, cr, cd, nu, nr);
		char fig[96], v[64], b[96], ra[64], t[48], ok[8] = "-";
		snprintf(fig, sizeof(fig), "throughput, %d unit%s (median of %u)", ks[i], ks[i] > 1 ? "s" : "",
			 got[0][i]);
		snprintf(v, sizeof(v), "%.0f ev/s", u);
		snprintf(b, sizeof(b), "%d native process%s %.0f ev/s", ks[i], ks[i] > 1 ? "es" : "", n);
		snprintf(ra, sizeof(ra), "uf/native %.2fx", u / n);
		if (ks[i] == 1)
			snprintf(t, sizeof(t), ">= 20000 ev/s"), snprintf(ok, sizeof(ok), "%s", yesno(u >= TARGET_TP1));
		else if (ks[i] == 4)
			snprintf(t, sizeof(t), ">= 50000 ev/s"), snprintf(ok, sizeof(ok), "%s", yesno(u >= TARGET_TP4));
		else
			snprintf(t, sizeof(t), "-");
		add_row(fig, v, b, ra, t, ok);
		snprintf(fig, sizeof(fig), "CPU per 1000 events, %d unit%s (units + redis + daemon)", ks[i],
			 ks[i] > 1 ? "s" : "");
		snprintf(v, sizeof(v), "%.1f + %.1f + %.1f ms", cu, cr, cd);
		snprintf(b, sizeof(b), "native %.1f + redis %.1f ms", nu, nr);
		snprintf(ra, sizeof(ra), "%.2fx", (cu + cr + cd) / (nu + nr));
		add_row(fig, v, b, ra, "-", "-");
	}
	for (int i = 0; i < 3; i++) {
		undeploy(wf[i]);
		stop_natives(natives[i], ks[i]);
		cmd_ok("DEL uf:q:%s:fridge-door uf:q:%s:door-opens uf:kv:%s:fdc-count uf:stat:%s:fdc", nwf[i], nwf[i],
		       nwf[i], nwf[i]);
	}
}

/* ---- figure 2: latency ----------------------------------------------------------------------------- */

/* Last id in stream key, or "0-0". */
static void last_id(const char *key, char *id, size_t cap)
{
	redisReply *r = cmd("XREVRANGE %s + - COUNT 1", key);
	snprintf(id, cap, "0-0");
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1)
		snprintf(id, cap, "%s", r->element[0]->element[0]->str);
	freeReplyObject(r);
}

enum { ONESHOT_NONE, ONESHOT_EXEC, ONESHOT_RUNC };

static double last_xadd_wall_ms; /* CLOCK_REALTIME of the last sample's XADD, to match the daemon's log */

/*
 * One event into uf:q:<wf>:fridge-door, until its push is read from
 * door-opens (last = the id read last there; updated).  With a one-shot
 * kind, the handler is started right after the XADD.  Microseconds, or -1.
 */
static double lat_sample(const char *wf, char *last, size_t cap, int oneshot, unsigned seq)
{
	char in[256], out[256];
	snprintf(in, sizeof(in), "uf:q:%s:fridge-door", wf);
	snprintf(out, sizeof(out), "uf:q:%s:door-opens", wf);
	pid_t child = 0;
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	last_xadd_wall_ms = (double)wall.tv_sec * 1e3 + (double)wall.tv_nsec / 1e6;
	double t0 = now_us();
	redisReply *r = cmd("XADD %s * data open", in);
	freeReplyObject(r);
	if (oneshot == ONESHOT_EXEC) {
		child = spawn_native(wf, "oneshot", 5000, 1);
	} else if (oneshot == ONESHOT_RUNC) {
		char id[64];
		snprintf(id, sizeof(id), "ufpb-%d-%u", getpid(), seq);
		child = fork();
		if (child == 0) {
			int nul = open("/dev/null", O_RDWR);
			dup2(nul, 0), dup2(nul, 1), dup2(nul, 2);
			execl(opt.runc, "runc", "run", "--bundle", opt.bundle, id, (char *)NULL);
			_exit(127);
		}
	}
	r = cmd("XREAD COUNT 1 BLOCK 10000 STREAMS %s %s", out, last);
	double t1 = now_us();
	int ok = r->type == REDIS_REPLY_ARRAY && r->elements == 1;
	if (ok)
		snprintf(last, cap, "%s", r->element[0]->element[1]->element[0]->element[0]->str);
	freeReplyObject(r);
	if (child > 0) {
		int st;
		waitpid(child, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			ok = 0;
	}
	return ok ? t1 - t0 : -1;
}

static void print_dist(FILE *f, const char *name, const double *v, size_t n)
{
	struct stats s = stats_of(v, n);
	fprintf(f, "| %s | %zu | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", name, s.n, s.mean / 1e3, s.min / 1e3,
		s.p50 / 1e3, s.p90 / 1e3, s.p99 / 1e3, s.max / 1e3);
}

static char dist_md[8192];
static size_t dist_len;

static void add_dist(const char *name, const double *v, size_t n)
{
	struct stats s = stats_of(v, n);
	printf("  %-44s n=%-5zu mean %.3f  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f ms\n", name, s.n, s.mean / 1e3,
	       s.p50 / 1e3, s.p90 / 1e3, s.p99 / 1e3, s.max / 1e3);
	FILE *f = fmemopen(dist_md + dist_len, sizeof(dist_md) - dist_len, "w");
	if (f) {
		print_dist(f, name, v, n);
		dist_len += (size_t)ftell(f);
		fclose(f);
	}
}

static void write_samples(FILE *csv, const char *kind, const double *v, const double *wall, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(csv, "%s,%zu,%.1f,%.3f\n", kind, i, v[i], wall ? wall[i] : 0);
}

/* Wait until no unit is running on the node (uf:state:units is empty). */
static int wait_no_units(double timeout_s)
{
	double end = now_us() + timeout_s * 1e6;
	while (now_us() < end) {
		if (cmd_int("HLEN uf:state:units") == 0)
			return 0;
		sleep_us(500);
	}
	return -1;
}

/*
 * Unit starts of workflow wf in the daemon's log (<state>/logs/unifaasd.log,
 * lines "time=YYYY-MM-DDTHH:MM:SS.mmmZ ... what=unit-start ... workflow=wf"),
 * as Unix ms, in file order (ascending).
 */
static size_t log_unit_starts(const char *wf, double *out, size_t cap)
{
	char path[1200], line[2048], want[160];
	snprintf(path, sizeof(path), "%s/logs/unifaasd.log", opt.state);
	snprintf(want, sizeof(want), " workflow=%s ", wf);
	FILE *f = fopen(path, "r");
	size_t n = 0;
	if (!f)
		return 0;
	while (n < cap && fgets(line, sizeof(line), f)) {
		if (!strstr(line, " what=unit-start ") || !strstr(line, want))
			continue;
		struct tm tm = {0};
		int ms;
		if (sscanf(line, "time=%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
			   &tm.tm_min, &tm.tm_sec, &ms) != 7)
			continue;
		tm.tm_year -= 1900, tm.tm_mon -= 1;
		out[n++] = (double)timegm(&tm) * 1e3 + ms;
	}
	fclose(f);
	return n;
}

/*
 * Split each cold sample at the daemon's unit-start log line: XADD -> unit
 * started (trigger: notification, check, spawn; 1 ms log resolution), and
 * unit started -> push read (exec, boot, handling, commit).
 */
static char split_value[64], split_note[96]; /* the summary row, added after the cold rows */

static void cold_breakdown(const double *lat, const double *wall, size_t n)
{
	size_t cap = n * 2 + 64, ns;
	double *starts = malloc(cap * sizeof(double)), *trig = malloc(n * sizeof(double)),
	       *rest = malloc(n * sizeof(double));
	ns = log_unit_starts("latc", starts, cap);
	size_t m = 0, slow = 0, j = 0;
	for (size_t i = 0; i < n && ns; i++) {
		/* the first start logged at or after the XADD (the log has ms, the XADD sub-ms) */
		while (j < ns && starts[j] < wall[i] - 1.0)
			j++;
		if (j == ns)
			break;
		double t = starts[j] - wall[i];
		if (t < 0)
			t = 0;
		trig[m] = t * 1e3, rest[m] = lat[i] - t * 1e3;
		slow += trig[m] > 20e3;
		m++;
	}
	if (m) {
		add_dist("cold, of which XADD -> unit-start (log, 1 ms)", trig, m);
		add_dist("cold, of which unit-start -> push read", rest, m);
		struct stats st = stats_of(trig, m), sr = stats_of(rest, m);
		snprintf(split_value, sizeof(split_value), "%.1f ms / %.1f ms", st.p50 / 1e3, sr.p50 / 1e3);
		snprintf(split_note, sizeof(split_note), "%zu of %zu samples waited > 20 ms for the start", slow, m);
		printf("  %zu of %zu cold samples waited more than 20 ms between XADD and the daemon's unit-start\n", slow,
		       m);
	} else {
		printf("  (no unit-start lines of latc found in %s/logs/unifaasd.log: no cold breakdown)\n", opt.state);
	}
	free(starts), free(trig), free(rest);
}

static void fig_lat(void)
{
	printf("\n== lat: push-to-handled latency ==\n");
	FILE *csv = csv_open("platform-latency.csv", "kind,sample,us,xadd_unix_ms");
	char last[2][64];

	/* a reference: one Redis round trip from here */
	double *ping = malloc(sizeof(double) * 1000);
	for (int i = 0; i < 1000; i++) {
		double t0 = now_us();
		freeReplyObject(cmd("PING"));
		ping[i] = now_us() - t0;
	}
	add_dist("redis PING round trip (reference)", ping, 1000);
	struct stats sping = stats_of(ping, 1000);
	free(ping);

	/* warm: one unit of latw, one native process of nlatw, sampled alternately */
	deploy_fdc("latw", 1, 1, 600000);
	pid_t nat;
	if (wait_units("latw", 1, 20) < 0 || start_natives("nlatw", 1, &nat) < 0)
		die("latency: warm unit or native process did not come up");
	last_id("uf:q:latw:door-opens", last[0], sizeof(last[0]));
	last_id("uf:q:nlatw:door-opens", last[1], sizeof(last[1]));
	double *w[2] = {malloc(sizeof(double) * opt.warm_runs), malloc(sizeof(double) * opt.warm_runs)};
	size_t nw[2] = {0, 0};
	for (unsigned i = 0; i < opt.warm_runs + opt.warmup; i++)
		for (int v = 0; v < 2; v++) {
			int var = i % 2 ? 1 - v : v;
			double us = lat_sample(var ? "nlatw" : "latw", last[var], sizeof(last[var]), ONESHOT_NONE, i);
			if (us < 0) {
				warn("warm %s sample %u: no push within 10 s", var ? "native" : "unit", i);
				if (++failures >= 3)
					die("latency: giving up after %d failed samples", failures);
				continue;
			}
			if (i >= opt.warmup)
				w[var][nw[var]++] = us;
		}
	write_samples(csv, "warm_unifaas", w[0], NULL, nw[0]);
	write_samples(csv, "warm_native", w[1], NULL, nw[1]);
	add_dist("warm, unifaas (1 unit running)", w[0], nw[0]);
	add_dist("warm, native_fdc process", w[1], nw[1]);
	struct stats sw = stats_of(w[0], nw[0]), sn = stats_of(w[1], nw[1]);
	undeploy("latw");
	stop_natives(&nat, 1);

	/* cold */
	deploy_fdc("latc", 0, 1, opt.idle_ms_cold);
	if (wait_no_units(30) < 0)
		die("latency: units still running before the cold runs");
	last_id("uf:q:latc:door-opens", last[0], sizeof(last[0]));
	last_id("uf:q:nlatc:door-opens", last[1], sizeof(last[1]));
	cmd_ok("DEL uf:q:nlatc:fridge-door");
	cmd_ok("XGROUP CREATE uf:q:nlatc:fridge-door fdc $ MKSTREAM");
	double *c[2] = {malloc(sizeof(double) * opt.cold_runs), malloc(sizeof(double) * opt.cold_runs)};
	double *cw = malloc(sizeof(double) * opt.cold_runs);
	size_t nc[2] = {0, 0};
	unsigned cold_warm = opt.warmup < 5 ? opt.warmup : 5;
	double tc0 = now_us();
	for (unsigned i = 0; i < opt.cold_runs + cold_warm; i++)
		for (int v = 0; v < 2; v++) {
			int var = i % 2 ? 1 - v : v;
			if (var == 0 && wait_no_units(10) < 0) {
				warn("cold sample %u: a unit is still running after 10 s", i);
				failures++;
				continue;
			}
			if (var == 0)
				sleep_us(opt.cold_gap_ms * 1e3);
			double us = lat_sample(var ? "nlatc" : "latc", last[var], sizeof(last[var]),
					       var ? ONESHOT_EXEC : ONESHOT_NONE, i);
			if (us < 0) {
				warn("cold %s sample %u failed", var ? "fork+exec" : "unit", i);
				if (++failures >= 10)
					die("latency: giving up after %d failed samples", failures);
				continue;
			}
			if (i >= cold_warm) {
				if (var == 0)
					cw[nc[0]] = last_xadd_wall_ms;
				c[var][nc[var]++] = us;
			}
		}
	double cold_secs = (now_us() - tc0) / 1e6;
	write_samples(csv, "cold_unifaas", c[0], cw, nc[0]);
	write_samples(csv, "cold_forkexec", c[1], NULL, nc[1]);
	add_dist("cold, unifaas (trigger + spawn + boot)", c[0], nc[0]);
	add_dist("cold, fork+exec native_fdc --once", c[1], nc[1]);
	cold_breakdown(c[0], cw, nc[0]);
	struct stats sc = stats_of(c[0], nc[0]), sf = stats_of(c[1], nc[1]), sr = {0};
	printf("  (cold runs took %.1f s: %.1f ms per pair, mostly waiting for the unit's idle exit and reap)\n",
	       cold_secs, 1e3 * cold_secs / (opt.cold_runs + cold_warm));

	if (opt.runc && opt.bundle && opt.runc_runs) {
		double *rc = malloc(sizeof(double) * opt.runc_runs);
		size_t nr = 0;
		cmd_ok("DEL uf:q:nlatr:fridge-door");
		cmd_ok("XGROUP CREATE uf:q:nlatr:fridge-door fdc $ MKSTREAM");
		last_id("uf:q:nlatr:door-opens", last[1], sizeof(last[1]));
		for (unsigned i = 0; i < opt.runc_runs + 3; i++) {
			double us = lat_sample("nlatr", last[1], sizeof(last[1]), ONESHOT_RUNC, i);
			if (us < 0) {
				warn("cold runc sample %u failed", i);
				failures++;
				if (i == 0) {
					warn("runc cannot run the bundle %s: no runc baseline", opt.bundle);
					break;
				}
				continue;
			}
			if (i >= 3)
				rc[nr++] = us;
		}
		write_samples(csv, "cold_runc", rc, NULL, nr);
		add_dist("cold, runc run native_fdc --once", rc, nr);
		sr = stats_of(rc, nr);
		free(rc);
	}
	fclose(csv);
	undeploy("latc");

	char v[64], b[96], ra[64];
	snprintf(v, sizeof(v), "%.3f ms", sw.p50 / 1e3);
	snprintf(b, sizeof(b), "native process %.3f ms", sn.p50 / 1e3);
	snprintf(ra, sizeof(ra), "uf/native %.2fx", sw.p50 / sn.p50);
	add_row("warm push-to-handled p50", v, b, ra, "<= 0.3 ms", yesno(sw.p50 / 1e3 <= TARGET_WARM_P50_MS));
	snprintf(v, sizeof(v), "%.3f ms", sw.p99 / 1e3);
	snprintf(b, sizeof(b), "native process %.3f ms", sn.p99 / 1e3);
	snprintf(ra, sizeof(ra), "uf/native %.2fx", sw.p99 / sn.p99);
	add_row("warm push-to-handled p99", v, b, ra, "-", "-");
	snprintf(v, sizeof(v), "%.3f ms", sc.p50 / 1e3);
	if (sr.n)
		snprintf(b, sizeof(b), "fork+exec %.3f ms; runc %.3f ms", sf.p50 / 1e3, sr.p50 / 1e3);
	else
		snprintf(b, sizeof(b), "fork+exec %.3f ms", sf.p50 / 1e3);
	if (sr.n)
		snprintf(ra, sizeof(ra), "uf/exec %.2fx; runc/uf %.1fx", sc.p50 / sf.p50, sr.p50 / sc.p50);
	else
		snprintf(ra, sizeof(ra), "uf/exec %.2fx", sc.p50 / sf.p50);
	add_row("cold push-to-handled p50", v, b, ra, "<= 3 ms", yesno(sc.p50 / 1e3 <= TARGET_COLD_P50_MS));
	snprintf(v, sizeof(v), "%.3f ms", sc.p99 / 1e3);
	if (sr.n)
		snprintf(b, sizeof(b), "fork+exec %.3f ms; runc %.3f ms", sf.p99 / 1e3, sr.p99 / 1e3);
	else
		snprintf(b, sizeof(b), "fork+exec %.3f ms", sf.p99 / 1e3);
	snprintf(ra, sizeof(ra), "uf/exec %.2fx", sc.p99 / sf.p99);
	add_row("cold push-to-handled p99", v, b, ra, "-", "-");
	if (split_value[0])
		add_row("cold p50 split: XADD->unit-start / start->handled", split_value, split_note, "-", "-", "-");
	snprintf(v, sizeof(v), "%.3f ms", sping.p50 / 1e3);
	add_row("redis round trip p50 (reference)", v, "-", "-", "-", "-");
	free(w[0]), free(w[1]), free(c[0]), free(c[1]), free(cw);
}

/* ---- figure 3: memory and CPU with K busy units ------------------------------------------------------ */

struct mem_point {
	double rss[4], pss[4]; /* KiB: daemon, redis, units (or natives), mosquitto */
	double cpu[4];         /* % of one core, same order */
	double self_cpu, secs, events_min, events_max, backlog;
};

static void mem_sample(pid_t pid, double *rss, double *pss)
{
	long r = proc_kib(pid, "status", "VmRSS"), p = proc_kib(pid, "smaps_rollup", "Pss");
	if (r > 0)
		*rss += (double)r;
	if (p > 0)
		*pss += (double)p;
}

/* Per-consumer handled counts from uf:stat:<wf>:fdc into counts[] (by order of names). */
static void stat_counts(const char *wf, char **names, int n, double *counts)
{
	for (int i = 0; i < n; i++)
		counts[i] = (double)cmd_int("HGET uf:stat:%s:fdc %s", wf, names[i]);
}

/*
 * Feed wf at `rate` events/s for warm + window seconds; over the window,
 * CPU of the sets and the handled counts per consumer; memory in the middle.
 */
static void mem_measure(const char *wf, int k, pid_t *unit_pids, char **names, int native, struct mem_point *mp)
{
	double rate = opt.feed_rate * k, warm = 1.0, win = opt.mem_window_s;
	struct cpuset cs[4] = {{.name = "daemon"}, {.name = "redis"}, {.name = "units"}, {.name = "mosquitto"}};
	cs[0].pid[cs[0].n++] = pid_daemon;
	cs[1].pid[cs[1].n++] = pid_redis;
	if (pid_mqtt)
		cs[3].pid[cs[3].n++] = pid_mqtt;
	if (native)
		for (int i = 0; i < k; i++)
			cs[2].pid[cs[2].n++] = unit_pids[i];
	else
		cs[2].n = tender_pids(wf, cs[2].pid, MAX_PIDS);
	char stream[256];
	snprintf(stream, sizeof(stream), "uf:q:%s:fridge-door", wf);
	double c0[MAX_PIDS], c1[MAX_PIDS];
	double t0 = now_us(), next = t0, owed = 0, self0 = 0, tw0 = 0;
	int phase = 0; /* 0 warm, 1 window before memory, 2 after memory */
	memset(mp, 0, sizeof(*mp));
	for (;;) {
		double now = now_us();
		if (phase == 0 && now - t0 >= warm * 1e6) {
			for (int i = 0; i < 4; i++)
				cpu_begin(&cs[i]);
			stat_counts(wf, names, k, c0);
			self0 = self_cpu_s();
			tw0 = now;
			phase = 1;
		}
		if (phase == 1 && now - tw0 >= win * 0.5e6) {
			pid_t ps[3] = {pid_daemon, pid_redis, pid_mqtt};
			for (int i = 0; i < 3; i++)
				if (ps[i])
					mem_sample(ps[i], &mp->rss[i == 2 ? 3 : i], &mp->pss[i == 2 ? 3 : i]);
			for (int i = 0; i < k; i++)
				mem_sample(unit_pids[i], &mp->rss[2], &mp->pss[2]);
			phase = 2;
		}
		if (phase == 2 && now - tw0 >= win * 1e6)
			break;
		/* this tick's events */
		owed += rate * 0.01;
		unsigned m = (unsigned)owed;
		owed -= m;
		for (unsigned i = 0; i < m; i++)
			redisAppendCommand(R, "XADD %s * data open", stream);
		for (unsigned i = 0; i < m; i++) {
			redisReply *r;
			if (redisGetReply(R, (void **)&r) != REDIS_OK)
				die("redis: %s", R->errstr);
			freeReplyObject(r);
		}
		next += 10000;
		sleep_us(next - now_us());
	}
	double tw1 = now_us();
	for (int i = 0; i < 4; i++)
		cpu_end(&cs[i]);
	stat_counts(wf, names, k, c1);
	mp->secs = (tw1 - tw0) / 1e6;
	mp->self_cpu = 100.0 * (self_cpu_s() - self0) / mp->secs;
	for (int i = 0; i < 4; i++)
		mp->cpu[i] = cpu_pct(&cs[i], mp->secs);
	mp->events_min = 1e18, mp->events_max = 0;
	for (int i = 0; i < k; i++) {
		double e = c1[i] - c0[i];
		mp->events_min = e < mp->events_min ? e : mp->events_min;
		mp->events_max = e > mp->events_max ? e : mp->events_max;
	}
	mp->events_min /= mp->secs, mp->events_max /= mp->secs;
	redisReply *r = cmd("XINFO GROUPS %s", stream);
	for (size_t g = 0; r->type == REDIS_REPLY_ARRAY && g < r->elements; g++) {
		redisReply *grp = r->element[g];
		for (size_t i = 0; i + 1 < grp->elements; i += 2)
			if ((!strcmp(grp->element[i]->str, "pending") || !strcmp(grp->element[i]->str, "lag")) &&
			    grp->element[i + 1]->type == REDIS_REPLY_INTEGER)
				mp->backlog += (double)grp->element[i + 1]->integer;
	}
	freeReplyObject(r);
}

/* Least-squares slope of y over x = 1..n. */
static double slope(const double *y, int n)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	for (int i = 0; i < n; i++) {
		double x = i + 1;
		sx += x, sy += y[i], sxx += x * x, sxy += x * y[i];
	}
	double d = n * sxx - sx * sx;
	return d ? (n * sxy - sx * sy) / d : 0;
}

static void fig_mem(void)
{
	unsigned kmax = opt.mem_kmax > 16 ? 16 : opt.mem_kmax;
	printf("\n== mem: memory and CPU with K busy units, K = 1..%u, %.0f events/s per unit, %.1f s windows ==\n",
	       kmax, opt.feed_rate, opt.mem_window_s);
	FILE *csv = csv_open("platform-memcpu.csv",
			     "variant,k,rss_daemon_kib,rss_redis_kib,rss_units_kib,rss_mosquitto_kib,pss_daemon_kib,"
			     "pss_redis_kib,pss_units_kib,pss_mosquitto_kib,cpu_daemon_pct,cpu_redis_pct,cpu_units_pct,"
			     "cpu_mosquitto_pct,cpu_driver_pct,seconds,events_per_s_per_unit_min,"
			     "events_per_s_per_unit_max,backlog_at_end");
	double tot_rss[2][16], tot_pss[2][16], unit_rss[2][16], unit_pss[2][16], tot_cpu[2][16];
	char prev[32] = "";
	for (unsigned k = 1; k <= kmax; k++) {
		for (int var = 0; var < 2; var++) {
			char wf[32];
			pid_t pids[MAX_PIDS];
			char *names[MAX_PIDS];
			int n;
			struct mem_point mp;
			if (var == 0) {
				if (prev[0])
					undeploy(prev);
				snprintf(wf, sizeof(wf), "mem%u", k);
				deploy_fdc(wf, k, k, 600000);
				if (wait_units(wf, (int)k, 30) < 0)
					die("mem: %u units of %s did not come up", k, wf);
				n = units_of(wf, names, pids, MAX_PIDS);
				mem_measure(wf, (int)k, pids, names, 0, &mp);
				free_ids(names, n);
				snprintf(prev, sizeof(prev), "%s", wf);
			} else {
				snprintf(wf, sizeof(wf), "nmem%u", k);
				if (start_natives(wf, (int)k, pids) < 0)
					die("mem: native processes did not come up");
				for (unsigned i = 0; i < k; i++) {
					char nm[64];
					snprintf(nm, sizeof(nm), "%s-%u", wf, i + 1);
					names[i] = strdup(nm);
				}
				mem_measure(wf, (int)k, pids, names, 1, &mp);
				free_ids(names, (int)k);
				stop_natives(pids, (int)k);
				cmd_ok("DEL uf:q:%s:fridge-door uf:q:%s:door-opens uf:kv:%s:fdc-count uf:stat:%s:fdc", wf,
				       wf, wf, wf);
			}
			/* platform total: unifaasd + redis + units (mosquitto apart); native: redis + processes */
			double trss = (var == 0 ? mp.rss[0] : 0) + mp.rss[1] + mp.rss[2];
			double tpss = (var == 0 ? mp.pss[0] : 0) + mp.pss[1] + mp.pss[2];
			double tcpu = (var == 0 ? mp.cpu[0] : 0) + mp.cpu[1] + mp.cpu[2];
			tot_rss[var][k - 1] = trss, tot_pss[var][k - 1] = tpss, tot_cpu[var][k - 1] = tcpu;
			unit_rss[var][k - 1] = mp.rss[2], unit_pss[var][k - 1] = mp.pss[2];
			if (var == 0)
				printf("  unifaas K=%-2u RSS %7.0f KiB (daemon %.0f, redis %.0f, units %.0f) PSS %7.0f KiB; "
				       "CPU %5.1f%% (daemon %.1f, redis %.1f, units %.1f; mosquitto %.1f, feeder %.1f); "
				       "%.0f-%.0f ev/s per unit, backlog %.0f\n",
				       k, trss, mp.rss[0], mp.rss[1], mp.rss[2], tpss, tcpu, mp.cpu[0], mp.cpu[1], mp.cpu[2],
				       mp.cpu[3], mp.self_cpu, mp.events_min, mp.events_max, mp.backlog);
			else
				printf("  native  K=%-2u RSS %7.0f KiB (redis %.0f, processes %.0f) PSS %7.0f KiB; CPU %5.1f%% "
				       "(redis %.1f, processes %.1f; daemon %.1f, feeder %.1f); %.0f-%.0f ev/s per process, "
				       "backlog %.0f\n",
				       k, trss, mp.rss[1], mp.rss[2], tpss, tcpu, mp.cpu[1], mp.cpu[2], mp.cpu[0], mp.self_cpu,
				       mp.events_min, mp.events_max, mp.backlog);
			fprintf(csv, "%s,%u,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.1f,%.1f,%.0f\n",
				var ? "native" : "unifaas", k, var ? 0 : mp.rss[0], mp.rss[1], mp.rss[2], mp.rss[3],
				var ? 0 : mp.pss[0], mp.pss[1], mp.pss[2], mp.pss[3], var ? 0 : mp.cpu[0], mp.cpu[1],
				mp.cpu[2], mp.cpu[3], mp.self_cpu, mp.secs, mp.events_min, mp.events_max, mp.backlog);
			fflush(csv);
		}
	}
	if (prev[0])
		undeploy(prev);
	fclose(csv);
	int n = (int)kmax;
	double s_rss = slope(tot_rss[0], n), s_pss = slope(tot_pss[0], n), s_urss = slope(unit_rss[0], n),
	       s_upss = slope(unit_pss[0], n), n_rss = slope(tot_rss[1], n), n_pss = slope(tot_pss[1], n),
	       s_cpu = slope(tot_cpu[0], n), n_cpu = slope(tot_cpu[1], n);
	printf("  slope per extra unit (least squares over K=1..%d): unifaas RSS %.0f KiB, PSS %.0f KiB (units alone: "
	       "RSS %.0f, PSS %.0f); native RSS %.0f KiB, PSS %.0f KiB; CPU %.2f%% vs native %.2f%% per unit\n",
	       n, s_rss, s_pss, s_urss, s_upss, n_rss, n_pss, s_cpu, n_cpu);
	char v[64], b[96], ra[64], f[96];
	snprintf(v, sizeof(v), "%.0f KiB", s_rss);
	snprintf(b, sizeof(b), "native process %.0f KiB", n_rss);
	snprintf(ra, sizeof(ra), "uf/native %.2fx", n_rss > 0 ? s_rss / n_rss : 0);
	add_row("RSS per extra busy unit (slope, K=1..10)", v, b, ra, "<= 1.5 MiB",
		yesno(s_rss / 1024 <= TARGET_UNIT_RSS_MIB));
	snprintf(v, sizeof(v), "%.0f KiB", s_pss);
	snprintf(b, sizeof(b), "native process %.0f KiB", n_pss);
	snprintf(ra, sizeof(ra), "uf/native %.2fx", n_pss > 0 ? s_pss / n_pss : 0);
	add_row("PSS per extra busy unit (slope)", v, b, ra, "<= 1.5 MiB", yesno(s_pss / 1024 <= TARGET_UNIT_RSS_MIB));
	snprintf(f, sizeof(f), "total RSS at K=1 / K=%d (daemon + redis + units)", n);
	snprintf(v, sizeof(v), "%.1f / %.1f MiB", tot_rss[0][0] / 1024, tot_rss[0][n - 1] / 1024);
	snprintf(b, sizeof(b), "redis + natives %.1f / %.1f MiB", tot_rss[1][0] / 1024, tot_rss[1][n - 1] / 1024);
	snprintf(ra, sizeof(ra), "%.2fx at K=%d", tot_rss[0][n - 1] / tot_rss[1][n - 1], n);
	add_row(f, v, b, ra, "-", "-");
	snprintf(f, sizeof(f), "CPU at K=1 / K=%d, %.0f ev/s per unit (daemon + redis + units)", n, opt.feed_rate);
	snprintf(v, sizeof(v), "%.1f%% / %.1f%%", tot_cpu[0][0], tot_cpu[0][n - 1]);
	snprintf(b, sizeof(b), "redis + natives %.1f%% / %.1f%%", tot_cpu[1][0], tot_cpu[1][n - 1]);
	snprintf(ra, sizeof(ra), "%.2fx at K=%d", tot_cpu[1][n - 1] > 0 ? tot_cpu[0][n - 1] / tot_cpu[1][n - 1] : 0, n);
	add_row(f, v, b, ra, "-", "-");
	snprintf(v, sizeof(v), "%.2f%%", s_cpu);
	snprintf(b, sizeof(b), "native process %.2f%%", n_cpu);
	snprintf(ra, sizeof(ra), "%.2fx", n_cpu > 0 ? s_cpu / n_cpu : 0);
	add_row("CPU per extra busy unit (slope, % of a core)", v, b, ra, "-", "-");
}

/* ---- main ------------------------------------------------------------------------------------------ */

static volatile pid_t reaper_child;

static void forward_signal(int sig)
{
	if (reaper_child > 0)
		kill(reaper_child, sig);
}

static int cmd_subreaper(int argc, char **argv)
{
	if (argc < 1)
		die("subreaper: no command");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		die("subreaper: prctl: %s", strerror(errno));
	signal(SIGINT, SIG_IGN); /* the terminal's ^C reaches the command itself */
	pid_t child = fork();
	if (child > 0) {
		/* TERM and HUP go on to the command, which stops its platform; we stay to reap */
		reaper_child = child;
		struct sigaction sa = {.sa_handler = forward_signal};
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
	}
	if (child == 0) {
		signal(SIGINT, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "platform_bench: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int status = 0, st;
	pid_t p;
	while ((p = wait(&st)) != -1 || errno == EINTR)
		if (p == child) {
			status = st;
			break;
		}
	/* whatever the command left behind: TERM, a grace, KILL, reap */
	pid_t left[MAX_PIDS];
	int n = children_of(getpid(), NULL, left, MAX_PIDS);
	for (int i = 0; i < n; i++) {
		fprintf(stderr, "platform_bench: subreaper: stopping left-over pid %d\n", left[i]);
		kill(left[i], SIGTERM);
	}
	double end = now_us() + 3e6;
	while (n && now_us() < end) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		n = children_of(getpid(), NULL, left, MAX_PIDS);
		sleep_us(20000);
	}
	for (int i = 0; i < n; i++)
		kill(left[i], SIGKILL);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void read_secret(const char *name, char *out, size_t cap)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", opt.state, name);
	if (read_text(path, out, cap) < 0)
		die("%s: %s", path, strerror(errno));
	out[strcspn(out, "\r\n")] = 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: platform_bench subreaper -- CMD [ARGS...]\n"
		"       platform_bench run --state DIR --api-port N --fdc IMAGE --native PATH --work DIR --out DIR\n"
		"              [--md FILE] [--eval FILE --eval-dir DIR] [--runc PATH --bundle DIR] [--only LIST]\n"
		"              [--tp-events N] [--tp-reps N] [--warm-runs N] [--cold-runs N] [--runc-runs N]\n"
		"              [--warmup N] [--cold-idle-ms N] [--idle-s S] [--mem-kmax N] [--mem-window-s S]\n"
		"              [--feed-rate EV_PER_S_PER_UNIT] [--cold-gap-ms N]\n"
		"LIST: any of idle,tp,lat,mem (default all)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "subreaper")) {
		int i = 2;
		if (i < argc && !strcmp(argv[i], "--"))
			i++;
		return cmd_subreaper(argc - i, argv + i);
	}
	if (argc < 2 || strcmp(argv[1], "run"))
		usage();
	static const struct option lo[] = {
	    {"state", 1, 0, 's'},      {"api-port", 1, 0, 'p'},     {"fdc", 1, 0, 'f'},
	    {"native", 1, 0, 'n'},     {"work", 1, 0, 'w'},         {"out", 1, 0, 'o'},
	    {"md", 1, 0, 'm'},         {"eval", 1, 0, 'e'},         {"eval-dir", 1, 0, 'E'},
	    {"runc", 1, 0, 'r'},       {"bundle", 1, 0, 'b'},       {"only", 1, 0, 'O'},
	    {"tp-events", 1, 0, 1},    {"tp-reps", 1, 0, 2},        {"warm-runs", 1, 0, 3},
	    {"cold-runs", 1, 0, 4},    {"runc-runs", 1, 0, 5},      {"warmup", 1, 0, 6},
	    {"cold-idle-ms", 1, 0, 7}, {"idle-s", 1, 0, 8},         {"mem-kmax", 1, 0, 9},
	    {"mem-window-s", 1, 0, 10}, {"feed-rate", 1, 0, 11},    {"cold-gap-ms", 1, 0, 12},
	    {0, 0, 0, 0}};
	int o;
	optind = 2;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		unsigned u = optarg ? (unsigned)strtoul(optarg, NULL, 10) : 0;
		double d = optarg ? strtod(optarg, NULL) : 0;
		switch (o) {
		case 's': opt.state = optarg; break;
		case 'p': opt.api_port = u; break;
		case 'f': opt.fdc = optarg; break;
		case 'n': opt.native = optarg; break;
		case 'w': opt.work = optarg; break;
		case 'o': opt.out = optarg; break;
		case 'm': opt.md = optarg; break;
		case 'e': opt.eval = optarg; break;
		case 'E': opt.eval_dir = optarg; break;
		case 'r': opt.runc = optarg; break;
		case 'b': opt.bundle = optarg; break;
		case 'O': opt.only = optarg; break;
		case 1: opt.tp_events = u; break;
		case 2: opt.tp_reps = u; break;
		case 3: opt.warm_runs = u; break;
		case 4: opt.cold_runs = u; break;
		case 5: opt.runc_runs = u; break;
		case 6: opt.warmup = u; break;
		case 7: opt.idle_ms_cold = u; break;
		case 8: opt.idle_s = d; break;
		case 9: opt.mem_kmax = u; break;
		case 10: opt.mem_window_s = d; break;
		case 11: opt.feed_rate = d; break;
		case 12: opt.cold_gap_ms = u; break;
		default: usage();
		}
	}
	if (!opt.state || !opt.api_port || !opt.fdc || !opt.native || !opt.work || !opt.out)
		usage();
	if (opt.tp_events < 1 || opt.tp_reps < 1 || opt.warm_runs < 1 || opt.cold_runs < 1 || opt.mem_kmax < 2)
		die("--tp-events, --tp-reps, --warm-runs, --cold-runs must be >= 1, --mem-kmax >= 2");
	clk_tck = sysconf(_SC_CLK_TCK);
	read_secret("api.token", token, sizeof(token));
	read_secret("redis.pass", password, sizeof(password));
	pid_daemon = read_pidfile("unifaasd.pid");
	pid_redis = read_pidfile("redis.pid");
	pid_mqtt = read_pidfile("mosquitto.pid");
	if (!pid_daemon || !pid_redis)
		die("%s: unifaasd.pid and redis.pid must name running processes (is the platform up?)", opt.state);
	R = connect_redis();
	cpu_jiffies(machine_busy_start);
	double t0 = now_us();
	printf("platform_bench: unifaasd pid %d, redis-server pid %d, mosquitto pid %d, API 127.0.0.1:%u\n",
	       pid_daemon, pid_redis, pid_mqtt, opt.api_port);

	if (want("idle") && opt.eval)
		fig_idle();
	if (want("tp"))
		fig_tp();
	if (want("lat"))
		fig_lat();
	if (want("mem"))
		fig_mem();

	double m1[2];
	cpu_jiffies(m1);
	double secs = (now_us() - t0) / 1e6;
	double busy = m1[1] > machine_busy_start[1]
			  ? 100.0 * (m1[0] - machine_busy_start[0]) / (m1[1] - machine_busy_start[1])
			  : 0;
	printf("\n== summary (%.0f s; the machine was %.0f%% busy over the run, all processes) ==\n", secs, busy);
	printf("%-62s | %-18s | %-40s | %-24s | %-16s | %s\n", "Figure", "unifaas", "Baseline (same run)", "Ratio",
	       "Target", "Within");
	for (size_t i = 0; i < nrows; i++)
		printf("%-62s | %-18s | %-40s | %-24s | %-16s | %s\n", rows[i].figure, rows[i].value, rows[i].baseline,
		       rows[i].ratio, rows[i].target, rows[i].within);
	if (opt.md && (md = fopen(opt.md, "w"))) {
		fprintf(md, "Run took %.0f s; the machine (%ld CPUs) was %.0f%% busy over it, all processes "
			    "counted.\n\n",
			secs, sysconf(_SC_NPROCESSORS_ONLN), busy);
		fprintf(md, "| Figure | unifaas | Baseline (same run) | Ratio | Target | Within target |\n");
		fprintf(md, "|---|---|---|---|---|---|\n");
		for (size_t i = 0; i < nrows; i++)
			fprintf(md, "| %s | %s | %s | %s | %s | %s |\n", rows[i].figure, rows[i].value, rows[i].baseline,
				rows[i].ratio, rows[i].target, rows[i].within);
		if (dist_len) {
			fprintf(md, "\nLatency distributions (ms; nearest-rank percentiles):\n\n");
			fprintf(md, "| Measurement | n | mean | min | p50 | p90 | p99 | max |\n");
			fprintf(md, "|---|---|---|---|---|---|---|---|\n");
			fwrite(dist_md, 1, dist_len, md);
		}
		fclose(md);
	}
	return failures ? 1 : 0;
}
