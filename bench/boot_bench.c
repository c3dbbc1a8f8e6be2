/*
 * boot_bench.c - the unifaas boot benchmark harness (bench/boot.sh runs it).
 *
 * Every start is timed here, not in a shell loop: CLOCK_MONOTONIC just before
 * fork(), the child execve()s the program with stdin and stdout on /dev/null,
 * and the clock is read again when waitpid() returns.  Each experiment does a
 * few discarded warm-up runs first.  What it measures:
 *
 *   uf_hello        start-to-exit of `uf-hvt hello.uf` (stderr on /dev/null)
 *   uf_hello_fast   the same with --fast-exit (VM teardown in a sibling
 *                   reaper, collected after the timing)
 *   uf_hello_v      the same with -v; stderr is read from a pipe and the
 *                   tender's timing line gives the breakdown of each run
 *   uf_hello_nosec  the same with -v --no-seccomp (what seccomp costs)
 *   uf_ready        boot-to-ready (ready_us) of `uf-hvt -v --event 1 fib.uf`
 *   unifaas_run     start-to-exit of `unifaas run hello.uf` (the CLI's front,
 *                   with the tender linked in: what a user types), with --unifaas
 *   exec_static     fork+exec of hello.c built with musl-gcc -static
 *   runc            `runc run --bundle B ID` of that binary, one new ID a run
 *   idle RSS        `uf-hvt -v --events FIFO fib.uf` with the FIFO held open
 *                   and empty: once the tender blocks reading it (the guest
 *                   has made its first pop), VmRSS and Pss are read from
 *                   /proc; then the FIFO is closed and the unit exits
 *
 * It never fails on a slow figure: it prints the figures, the baselines, the
 * ratios and the targets (stdout, and a Markdown table with --md), and writes
 * every sample to OUT/<experiment>.tsv.  Exit status 0 unless it could not run
 * at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* The targets. */
#define TARGET_EXIT_P50_MS 2.0
#define TARGET_VS_RUNC 10.0
#define SOLO5_HVT_REF_MS 13.0 /* reference figure for Solo5 hvt hello, not measured here */
#define TARGET_VS_SOLO5 6.0
#define TARGET_READY_P50_MS 1.0
#define TARGET_RSS_KIB 1536.0
#define TARGET_IMAGE_KIB 100.0
#define TARGET_RUN_OVER_MS 0.5 /* unifaas run within this of uf-hvt alone (p50) */

/* A run during which other work used more than this share of the machine is flagged. */
#define BUSY_PCT 10.0

static int devnull_r = -1, devnull_w = -1;
static const char *out_dir;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "boot_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ---- statistics ------------------------------------------------------------ */

struct stats {
	size_t n;
	double mean, min, p50, p90, p99, max;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n): the ceil(pct/100 * n)-th value. */
static double pct(const double *v, size_t n, unsigned p)
{
	size_t k = (p * n + 99) / 100;
	return v[k ? k - 1 : 0];
}

static struct stats stats_of(const double *v, size_t n)
{
	struct stats s = {.n = n};
	if (n == 0)
		return s;
	double *c = malloc(n * sizeof(*c));
	if (!c)
		die("out of memory");
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_double);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += c[i];
	s.mean = sum / (double)n;
	s.min = c[0];
	s.max = c[n - 1];
	s.p50 = pct(c, n, 50);
	s.p90 = pct(c, n, 90);
	s.p99 = pct(c, n, 99);
	free(c);
	return s;
}

/* ---- running one child ------------------------------------------------------ */

/* The tender's -v line: "uf-hvt: IMAGE: timing: vm_us=.. load_us=.. vcpu_us=.. ready_us=.. total_us=.." */
struct timing {
	long vm, load, vcpu, ready, total;
};

static int parse_timing(const char *text, struct timing *t)
{
	const char *p = strstr(text, " timing: ");
	if (!p)
		return -1;
	return sscanf(p, " timing: vm_us=%ld load_us=%ld vcpu_us=%ld ready_us=%ld total_us=%ld", &t->vm, &t->load,
		      &t->vcpu, &t->ready, &t->total) == 5
		       ? 0
		       : -1;
}

static void read_all(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	for (;;) {
		char tmp[1024];
		ssize_t n = read(fd, len + 1 < cap ? buf + len : tmp, len + 1 < cap ? cap - 1 - len : sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len + 1 < cap)
			len += (size_t)n;
	}
	buf[len] = '\0';
}

/*
 * fork + execve + waitpid; stdin and stdout on /dev/null, stderr on /dev/null
 * or (err != NULL) read from a pipe into err.  Returns the wait status.
 */
static int run_once(char *const argv[], char *err, size_t errcap, double *wall_us)
{
	int pfd[2] = {-1, -1};
	if (err && pipe2(pfd, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	double t0 = now_us();
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (dup2(devnull_r, 0) < 0 || dup2(devnull_w, 1) < 0 || dup2(err ? pfd[1] : devnull_w, 2) < 0)
			_exit(126);
		execve(argv[0], argv, environ);
		_exit(127);
	}
	if (err) {
		close(pfd[1]);
		read_all(pfd[0], err, errcap);
		close(pfd[0]);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	*wall_us = now_us() - t0;
	/* collect the VM reapers of --fast-exit runs (siblings of the tender) */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return st;
}

/* ---- how busy the machine was with other work ------------------------------------ */

/* Busy and total jiffies over all CPUs from /proc/stat (guest time is inside user). */
static int cpu_jiffies(unsigned long long *busy, unsigned long long *total)
{
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return -1;
	unsigned long long v[8] = {0};
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		       &v[6], &v[7]);
	fclose(f);
	if (n < 4)
		return -1;
	*total = 0;
	for (int i = 0; i < 8; i++)
		*total += v[i];
	*busy = *total - v[3] - v[4]; /* minus idle and iowait */
	return 0;
}

/* CPU seconds used by this harness and every child it waited for. */
static double own_cpu_s(void)
{
	struct rusage a, b;
	getrusage(RUSAGE_SELF, &a);
	getrusage(RUSAGE_CHILDREN, &b);
	return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) +
	       (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec + b.ru_stime.tv_usec) / 1e6;
}

struct probe {
	unsigned long long busy, total;
	double cpu, wall;
	int ok;
};

static struct probe probe_start(void)
{
	struct probe p;
	p.ok = cpu_jiffies(&p.busy, &p.total) == 0;
	p.cpu = own_cpu_s();
	p.wall = now_us();
	return p;
}

/*
 * Percent of the machine's CPU capacity used during the probe by anything but
 * this harness and its children (-1 if unknown); *all gets the whole busy share.
 */
static double probe_others(const struct probe *p, double *all)
{
	struct probe q = probe_start();
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (!p->ok || !q.ok || q.total <= p->total || ncpu <= 0)
		return -1;
	double busy = (double)(q.busy - p->busy) / (double)(q.total - p->total) * 100;
	double own = (q.cpu - p->cpu) / ((q.wall - p->wall) / 1e6 * (double)ncpu) * 100;
	if (all)
		*all = busy;
	return busy > own ? busy - own : 0;
}

/* ---- experiments -------------------------------------------------------------- */

enum { C_WALL, C_VM, C_LOAD, C_VCPU, C_READY, C_TOTAL, C_RUN, C_OVER, NCOL };
static const char *const col_name[NCOL] = {"wall_us", "vm_us",    "load_us", "vcpu_us",
					   "ready_us", "total_us", "run_us",  "wall_minus_total_us"};

struct exp {
	const char *name; /* file name in OUT */
	char **argv;
	int runs, warmup;
	int timing;  /* -v: parse the timing line */
	int id_slot; /* >= 0: argv[id_slot] is set to a new container id each run */
	/* results */
	int ok, failed, ran, done, ids;
	FILE *raw;
	char first_failure[512];
	double *col[NCOL];
	struct stats st[NCOL];
};

static void describe_status(int st, char *buf, size_t cap)
{
	if (WIFEXITED(st))
		snprintf(buf, cap, "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, cap, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, cap, "wait status 0x%x", st);
}

static void exp_open(struct exp *e)
{
	for (int c = 0; c < NCOL; c++)
		if (!(e->col[c] = calloc((size_t)(e->runs > 0 ? e->runs : 1), sizeof(double))))
			die("out of memory");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s.tsv", out_dir, e->name);
	if (!(e->raw = fopen(path, "w")))
		die("%s: %s", path, strerror(errno));
	fprintf(e->raw, "# %s:", e->name);
	for (char **a = e->argv; *a; a++)
		fprintf(e->raw, " %s", *a);
	fprintf(e->raw, "\nrun\tstatus");
	for (int c = 0; c < NCOL; c++)
		if (c == C_WALL || e->timing)
			fprintf(e->raw, "\t%s", col_name[c]);
	fprintf(e->raw, "\n");
}

/* One start of the experiment: run i < 0 is a warm-up run and is not recorded. */
static void exp_run(struct exp *e, int i)
{
	char idbuf[64], errbuf[4096];
	if (e->id_slot >= 0) {
		snprintf(idbuf, sizeof(idbuf), "ufbench-%d-%d", (int)getpid(), e->ids++);
		e->argv[e->id_slot] = idbuf;
	}
	double wall;
	errbuf[0] = '\0';
	int st = run_once(e->argv, e->timing ? errbuf : NULL, sizeof(errbuf), &wall);
	if (i < 0)
		return;
	e->ran++;
	struct timing t = {0};
	int good = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (good && e->timing && parse_timing(errbuf, &t) < 0) {
		good = 0;
		if (!e->first_failure[0])
			snprintf(e->first_failure, sizeof(e->first_failure), "run %d: no timing line on stderr", i);
	}
	if (!good) {
		e->failed++;
		if (!e->first_failure[0]) {
			char d[64];
			describe_status(st, d, sizeof(d));
			char *nl = strchr(errbuf, '\n');
			if (nl)
				*nl = '\0';
			snprintf(e->first_failure, sizeof(e->first_failure), "run %d: %s%s%.400s", i, d,
				 errbuf[0] ? ": " : "", errbuf);
		}
		fprintf(e->raw, "%d\t%d\t%.1f\n", i, st, wall);
		return;
	}
	double row[NCOL] = {
		[C_WALL] = wall,
		[C_VM] = (double)t.vm,
		[C_LOAD] = (double)t.load,
		[C_VCPU] = (double)t.vcpu,
		[C_READY] = (double)t.ready,
		[C_TOTAL] = (double)t.total,
		[C_RUN] = (double)(t.total - t.vm - t.load - t.vcpu),
		[C_OVER] = wall - (double)t.total,
	};
	for (int c = 0; c < NCOL; c++)
		e->col[c][e->ok] = row[c];
	e->ok++;
	fprintf(e->raw, "%d\t0", i);
	for (int c = 0; c < NCOL; c++)
		if (c == C_WALL || e->timing)
			fprintf(e->raw, "\t%.1f", row[c]);
	fprintf(e->raw, "\n");
}

static void exp_close(struct exp *e)
{
	fclose(e->raw);
	e->raw = NULL;
	for (int c = 0; c < NCOL; c++)
		e->st[c] = stats_of(e->col[c], (size_t)e->ok);
	if (e->first_failure[0])
		fprintf(stderr, "boot_bench: %s: %d of %d runs failed; first: %s\n", e->name, e->failed, e->ran,
			e->first_failure);
}

/*
 * Runs the experiments.  Interleaved (the default): each one's warm-up runs,
 * then rounds in which every experiment starts once (those with fewer runs
 * spread evenly over the rounds; the order rotates each round), so
 * that all of them see the same machine: on this nested host the speed drifts
 * by 20% and more from one few-second window to the next.  Blocks: each
 * experiment's runs back to back, one experiment after the other.
 */
static void run_all(struct exp **ex, int n, int interleave)
{
	int rounds = 0;
	for (int k = 0; k < n; k++) {
		if (ex[k]->runs < 0)
			ex[k]->runs = 0;
		if (ex[k]->runs > rounds)
			rounds = ex[k]->runs;
		exp_open(ex[k]);
	}
	double t0 = now_us();
	if (interleave) {
		fprintf(stderr, "boot_bench: interleaved, %d rounds:", rounds);
		for (int k = 0; k < n; k++)
			fprintf(stderr, " %s %d (+%d warm-up)%s", ex[k]->name, ex[k]->runs, ex[k]->warmup, k + 1 < n ? "," : "");
		fprintf(stderr, " ...");
		for (int k = 0; k < n; k++)
			for (int i = -ex[k]->warmup; i < 0; i++)
				exp_run(ex[k], i);
		for (int r = 0; r < rounds; r++)
			for (int j = 0; j < n; j++) {
				struct exp *e = ex[(r + j) % n];
				int due = (int)(((long long)(r + 1) * e->runs) / rounds);
				if (e->done < due)
					exp_run(e, e->done++);
			}
		fprintf(stderr, " %.1f s\n", (now_us() - t0) / 1e6);
	} else {
		for (int k = 0; k < n; k++) {
			struct exp *e = ex[k];
			double t1 = now_us();
			fprintf(stderr, "boot_bench: %-14s %d runs (+%d warm-up) ...", e->name, e->runs, e->warmup);
			for (int i = -e->warmup; i < e->runs; i++)
				exp_run(e, i);
			fprintf(stderr, " %.1f s\n", (now_us() - t1) / 1e6);
		}
	}
	for (int k = 0; k < n; k++)
		exp_close(ex[k]);
}

/* ---- idle unit RSS -------------------------------------------------------------- */

struct rss {
	int ok;
	long vmrss, rssanon, rssfile, rssshmem, vmhwm; /* KiB, /proc/PID/status */
	long pss, pss_anon, pss_file;                  /* KiB, /proc/PID/smaps_rollup */
	long ready_us;                                 /* from the timing line after exit */
	double wait_us;                                /* start until the tender blocked reading the FIFO */
	char note[512];
};

static long proc_field(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Is PID blocked in read(2) on the FIFO?  /proc/PID/syscall: "0 0xFD ..." while in read. */
static int blocked_on(pid_t pid, const char *fifo_real)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	unsigned long nr, argfd;
	if (sscanf(buf, "%lu 0x%lx", &nr, &argfd) != 2 || nr != 0 /* __NR_read on x86-64 */)
		return 0;
	char link[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/%d/fd/%lu", (int)pid, argfd);
	ssize_t l = readlink(path, link, sizeof(link) - 1);
	if (l <= 0)
		return 0;
	link[l] = '\0';
	return strcmp(link, fifo_real) == 0;
}

static void idle_rss(const char *hvt, const char *fib, const char *fifo, struct rss *r)
{
	memset(r, 0, sizeof(*r));
	r->ready_us = -1;
	unlink(fifo);
	if (mkfifo(fifo, 0600) < 0) {
		snprintf(r->note, sizeof(r->note), "mkfifo %.300s: %s", fifo, strerror(errno));
		return;
	}
	char fifo_real[PATH_MAX];
	if (!realpath(fifo, fifo_real))
		snprintf(fifo_real, sizeof(fifo_real), "%s", fifo);
	/* O_RDWR: the FIFO has a writer (so the tender's open does not block) and never sees EOF */
	int wfd = open(fifo, O_RDWR | O_CLOEXEC);
	if (wfd < 0) {
		snprintf(r->note, sizeof(r->note), "open %.300s: %s", fifo, strerror(errno));
		unlink(fifo);
		return;
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	char *argv[] = {(char *)hvt, "-v", "--events", fifo_real, (char *)fib, NULL};
	double t0 = now_us();
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (dup2(devnull_r, 0) < 0 || dup2(devnull_w, 1) < 0 || dup2(pfd[1], 2) < 0)
			_exit(126);
		execve(argv[0], argv, environ);
		_exit(127);
	}
	close(pfd[1]);
	int st, exited = 0, ready = 0;
	while (now_us() - t0 < 5e6) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			exited = 1;
			break;
		}
		if (blocked_on(pid, fifo_real)) {
			ready = 1;
			break;
		}
		usleep(200);
	}
	r->wait_us = now_us() - t0;
	if (ready) {
		usleep(20000); /* let it settle; nothing should change while it is blocked */
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		r->vmrss = proc_field(path, "VmRSS");
		r->rssanon = proc_field(path, "RssAnon");
		r->rssfile = proc_field(path, "RssFile");
		r->rssshmem = proc_field(path, "RssShmem");
		r->vmhwm = proc_field(path, "VmHWM");
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
		r->pss = proc_field(path, "Pss");
		r->pss_anon = proc_field(path, "Pss_Anon");
		r->pss_file = proc_field(path, "Pss_File");
		r->ok = r->vmrss > 0;
		if (!blocked_on(pid, fifo_real))
			snprintf(r->note, sizeof(r->note), "the unit was no longer blocked after reading /proc");
	} else if (!exited) {
		snprintf(r->note, sizeof(r->note), "the unit did not block on the FIFO within 5 s");
		kill(pid, SIGKILL);
	}
	close(wfd); /* EOF: the unit's pop drains and the unit exits */
	char errbuf[4096];
	read_all(pfd[0], errbuf, sizeof(errbuf));
	close(pfd[0]);
	if (!exited)
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR)
				die("waitpid: %s", strerror(errno));
	struct timing t;
	if (parse_timing(errbuf, &t) == 0)
		r->ready_us = t.ready;
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) && !r->note[0]) {
		char d[64];
		describe_status(st, d, sizeof(d));
		char *nl = strchr(errbuf, '\n');
		if (nl)
			*nl = '\0';
		snprintf(r->note, sizeof(r->note), "unit ended with %s: %.300s", d, errbuf);
	}
	unlink(fifo);
}

/* ---- reporting ------------------------------------------------------------------ */

static long file_size(const char *path)
{
	struct stat s;
	return stat(path, &s) == 0 ? (long)s.st_size : -1;
}

/* "1.234 ms", or "n/a" when there is no figure. */
static const char *ms(char *buf, size_t cap, int have, double us)
{
	if (have)
		snprintf(buf, cap, "%.3f ms", us / 1e3);
	else
		snprintf(buf, cap, "n/a");
	return buf;
}

static const char *within(int known, int ok)
{
	return !known ? "n/a" : ok ? "yes" : "no";
}

static void print_dist(FILE *f, const char *label, const struct exp *e, int col, int md)
{
	const struct stats *s = &e->st[col];
	if (s->n == 0) {
		fprintf(f, md ? "| %s | 0 | | | | | | |\n" : "  %-34s %5d  (no successful runs)\n", label, 0);
		return;
	}
	fprintf(f, md ? "| %s | %zu | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n"
		      : "  %-34s %5zu %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f\n",
		label, s->n, s->mean / 1e3, s->min / 1e3, s->p50 / 1e3, s->p90 / 1e3, s->p99 / 1e3, s->max / 1e3);
}

static int median_rss(struct rss *r, int n, long (*get)(const struct rss *), long *out)
{
	long v[64];
	int k = 0;
	for (int i = 0; i < n && k < 64; i++)
		if (r[i].ok)
			v[k++] = get(&r[i]);
	if (k == 0)
		return 0;
	for (int i = 1; i < k; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			long x = v[j];
			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	out[0] = v[(k - 1) / 2];
	out[1] = v[0];
	out[2] = v[k - 1];
	return k;
}
static long g_vmrss(const struct rss *r) { return r->vmrss; }
static long g_pss(const struct rss *r) { return r->pss; }
static long g_anon(const struct rss *r) { return r->rssanon; }
static long g_file(const struct rss *r) { return r->rssfile; }
static long g_pssanon(const struct rss *r) { return r->pss_anon; }

static void usage(void)
{
	fprintf(stderr,
		"usage: boot_bench --hvt UF-HVT --hello HELLO.UF --fib FIB.UF --static HELLO-STATIC --out DIR\n"
		"                  [--runc RUNC --bundle DIR] [--runs N] [--runc-runs N] [--warmup N]\n"
		"                  [--rss-runs N] [--md FILE] [--blocks] [--unifaas UNIFAAS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *hvt = NULL, *hello = NULL, *fib = NULL, *stat_hello = NULL, *runc = NULL, *bundle = NULL,
		   *md_path = NULL, *unifaas = NULL;
	int runs = 1000, runc_runs = 200, warmup = 10, rss_runs = 5, interleave = 1;
	static const struct option lo[] = {
		{"hvt", 1, 0, 'H'},  {"hello", 1, 0, 'e'}, {"fib", 1, 0, 'f'},       {"static", 1, 0, 's'},
		{"runc", 1, 0, 'r'}, {"bundle", 1, 0, 'b'}, {"out", 1, 0, 'o'},      {"runs", 1, 0, 'n'},
		{"runc-runs", 1, 0, 'c'}, {"warmup", 1, 0, 'w'}, {"rss-runs", 1, 0, 'R'}, {"md", 1, 0, 'm'},
		{"blocks", 0, 0, 'B'}, {"unifaas", 1, 0, 'U'}, {0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'H': hvt = optarg; break;
		case 'e': hello = optarg; break;
		case 'f': fib = optarg; break;
		case 's': stat_hello = optarg; break;
		case 'r': runc = optarg; break;
		case 'b': bundle = optarg; break;
		case 'o': out_dir = optarg; break;
		case 'n': runs = atoi(optarg); break;
		case 'c': runc_runs = atoi(optarg); break;
		case 'w': warmup = atoi(optarg); break;
		case 'R': rss_runs = atoi(optarg); break;
		case 'm': md_path = optarg; break;
		case 'B': interleave = 0; break;
		case 'U': unifaas = optarg; break;
		default: usage();
		}
	}
	if (!hvt || !hello || !fib || !stat_hello || !out_dir || optind != argc || rss_runs > 64)
		usage();
	if (!runc || !bundle)
		runc_runs = 0;
	devnull_r = open("/dev/null", O_RDONLY | O_CLOEXEC);
	devnull_w = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (devnull_r < 0 || devnull_w < 0)
		die("/dev/null: %s", strerror(errno));

	char *a_hello[] = {(char *)hvt, (char *)hello, NULL};
	char *a_hello_v[] = {(char *)hvt, "-v", (char *)hello, NULL};
	char *a_hello_fast[] = {(char *)hvt, "--fast-exit", (char *)hello, NULL};
	char *a_hello_ns[] = {(char *)hvt, "-v", "--no-seccomp", (char *)hello, NULL};
	char *a_ready[] = {(char *)hvt, "-v", "--event", "1", (char *)fib, NULL};
	char *a_static[] = {(char *)stat_hello, NULL};
	char *a_noop[] = {(char *)hvt, "--help", NULL};
	char *a_runc[] = {(char *)runc, "run", "--bundle", (char *)bundle, NULL, NULL};
	char *a_run[] = {(char *)unifaas, "run", (char *)hello, NULL};
	struct exp e_hello = {.name = "uf_hello", .argv = a_hello, .runs = runs, .warmup = warmup, .id_slot = -1};
	struct exp e_hello_fast = {.name = "uf_hello_fast", .argv = a_hello_fast, .runs = runs, .warmup = warmup, .id_slot = -1};
	struct exp e_hello_v = {.name = "uf_hello_v", .argv = a_hello_v, .runs = runs, .warmup = warmup, .timing = 1, .id_slot = -1};
	struct exp e_hello_ns = {.name = "uf_hello_nosec", .argv = a_hello_ns, .runs = runs / 2, .warmup = warmup, .timing = 1, .id_slot = -1};
	struct exp e_ready = {.name = "uf_ready", .argv = a_ready, .runs = runs, .warmup = warmup, .timing = 1, .id_slot = -1};
	struct exp e_noop = {.name = "uf_hvt_help", .argv = a_noop, .runs = runs, .warmup = warmup, .id_slot = -1};
	struct exp e_static = {.name = "exec_static", .argv = a_static, .runs = runs, .warmup = warmup, .id_slot = -1};
	struct exp e_runc = {.name = "runc", .argv = a_runc, .runs = runc_runs, .warmup = runc_runs ? 3 : 0, .id_slot = 4};
	struct exp e_run = {.name = "unifaas_run", .argv = a_run, .runs = unifaas ? runs : 0, .warmup = unifaas ? warmup : 0, .id_slot = -1};

	/*
	 * The timed starts.  runc comes last, on its own: every container leaves
	 * kernel work behind (namespace and cgroup teardown in kworkers) that
	 * would otherwise land on the unikernel runs.  The idle-unit RSS comes
	 * after them (it is not timing-sensitive).
	 */
	/*
	 * The order (rotated each round, so cyclic) decides what ran just before
	 * each experiment, and a unit's VM leaves teardown work behind it: on
	 * 2026-12-04, unifaas_run placed right after uf_hello came out 0.67-0.75 ms
	 * slower than it at p50 (three runs), right after uf_hvt_help 0.18 ms.  So uf_hello
	 * and unifaas_run, compared with each other, each come right after a start
	 * without a VM (exec_static, uf_hvt_help; both run every round).
	 */
	struct exp *timed[] = {&e_static, &e_hello, &e_noop, &e_run, &e_hello_fast, &e_ready, &e_hello_v, &e_hello_ns};
	struct exp *last[] = {&e_runc};
	struct probe pr1 = probe_start();
	run_all(timed, (int)(sizeof(timed) / sizeof(timed[0])), interleave);
	double busy1 = 0, others1 = probe_others(&pr1, &busy1), wall1 = (now_us() - pr1.wall) / 1e6;
	struct probe pr2 = probe_start();
	run_all(last, 1, 0);
	double busy2 = 0, others2 = probe_others(&pr2, &busy2), wall2 = (now_us() - pr2.wall) / 1e6;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int have_load = others1 >= 0;

	struct rss rs[64];
	char fifo[PATH_MAX];
	snprintf(fifo, sizeof(fifo), "%s/idle.fifo", out_dir);
	fprintf(stderr, "boot_bench: idle RSS     %d units ...", rss_runs);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/idle_rss.tsv", out_dir);
	FILE *raw = fopen(path, "w");
	if (!raw)
		die("%s: %s", path, strerror(errno));
	fprintf(raw, "# idle unit: %s -v --events FIFO %s (FIFO open, empty)\n"
		     "unit\tok\tVmRSS_kB\tRssAnon_kB\tRssFile_kB\tRssShmem_kB\tVmHWM_kB\tPss_kB\tPss_Anon_kB\tPss_File_kB\t"
		     "ready_us\tblocked_after_us\tnote\n",
		hvt, fib);
	int rss_fail = 0;
	for (int i = 0; i < rss_runs; i++) {
		idle_rss(hvt, fib, fifo, &rs[i]);
		struct rss *r = &rs[i];
		rss_fail += !r->ok;
		fprintf(raw, "%d\t%d\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%.0f\t%s\n", i, r->ok, r->vmrss, r->rssanon,
			r->rssfile, r->rssshmem, r->vmhwm, r->pss, r->pss_anon, r->pss_file, r->ready_us, r->wait_us,
			r->note);
		if (r->note[0])
			fprintf(stderr, "\nboot_bench: idle unit %d: %s", i, r->note);
	}
	fclose(raw);
	fprintf(stderr, " %d failed\n", rss_fail);

	long m_rss[3] = {0}, m_pss[3] = {0}, m_anon[3] = {0}, m_file[3] = {0}, m_pssanon[3] = {0};
	int nrss = median_rss(rs, rss_runs, g_vmrss, m_rss);
	median_rss(rs, rss_runs, g_pss, m_pss);
	median_rss(rs, rss_runs, g_anon, m_anon);
	median_rss(rs, rss_runs, g_file, m_file);
	median_rss(rs, rss_runs, g_pssanon, m_pssanon);

	long sz_hello = file_size(hello), sz_fib = file_size(fib), sz_static = file_size(stat_hello);

	/* unifaas run - uf-hvt, run by run: the two start once in each round of the
	 * interleaved order, so run i of each saw the same moment of the machine
	 * (only when neither had a failed run, which would shift the pairs) */
	struct stats run_paired = {0};
	if (e_run.ok > 0 && e_run.ok == e_hello.ok && !e_run.failed && !e_hello.failed && interleave) {
		double *d = malloc((size_t)e_run.ok * sizeof(*d));
		if (!d)
			die("out of memory");
		for (int i = 0; i < e_run.ok; i++)
			d[i] = e_run.col[C_WALL][i] - e_hello.col[C_WALL][i];
		run_paired = stats_of(d, (size_t)e_run.ok);
		free(d);
	}

	/* ---- the figures ---- */
	const struct stats *uf = &e_hello.st[C_WALL], *fe = &e_static.st[C_WALL], *rc = &e_runc.st[C_WALL],
			   *rd = &e_ready.st[C_READY];
	int have_uf = uf->n > 0, have_fe = fe->n > 0, have_rc = rc->n > 0, have_rd = rd->n > 0;
	double r_runc = have_uf && have_rc ? rc->p50 / uf->p50 : 0;
	double r_fe = have_uf && have_fe ? fe->p50 / uf->p50 : 0;
	double r_runc99 = have_uf && have_rc ? rc->p99 / uf->p99 : 0;
	double r_solo5 = have_uf ? SOLO5_HVT_REF_MS * 1e3 / uf->p50 : 0;

	for (int md = 0; md <= 1; md++) {
		FILE *f = stdout;
		if (md) {
			if (!md_path)
				break;
			if (!(f = fopen(md_path, "w")))
				die("%s: %s", md_path, strerror(errno));
		}
		if (!md) {
			printf("\n== unifaas boot benchmark ==\n");
			printf("runs: %d per experiment (%d for --no-seccomp), %d runc, %d idle units; %d warm-up "
			       "runs discarded each (3 for runc); times in ms\n",
			       runs, runs / 2, runc_runs, rss_runs, warmup);
		}
		if (have_load) {
			int busy = others1 > BUSY_PCT || (e_runc.runs > 0 && others2 > BUSY_PCT);
			fprintf(f, md ? "CPU use (%ld CPUs): unikernel and fork+exec runs (%s, %.0f s) %.0f%% of the machine, of "
					"which other work about %.0f%%; runc runs (%.0f s) %.0f%%, other work about %.0f%%.%s\n\n"
				      : "CPU use (%ld CPUs): unikernel and fork+exec runs (%s, %.0f s) %.0f%% of the machine, of "
					"which other work ~%.0f%%;\n  runc runs (%.0f s) %.0f%%, other work ~%.0f%%%s\n",
				ncpu, interleave ? "interleaved" : "in blocks", wall1, busy1, others1, wall2, busy2, others2,
				busy ? (md ? " **Other work used more than 10% of the machine: the figures are inflated.**"
					   : "\n  WARNING: other work used more than 10% of the machine; the figures are inflated")
				     : "");
		}
		if (!md)
			printf("\nfigures, baselines, ratios and targets\n");
		const char *fmt_row = md ? "| %s | %s | %s | %s | %s | %s |\n" : "  %-34s %-11s %-34s %-32s %-12s %s\n";
		if (md)
			fprintf(f, "| Figure | unifaas | Baseline | Ratio | Target | Within target |\n"
				   "|---|---|---|---|---|---|\n");
		else
			fprintf(f, fmt_row, "figure", "unifaas", "baseline", "ratio", "target", "within");
		char a[64], b[96], r[64], t[64];
		/* start-to-exit p50 */
		char m1[32], m2[32];
		ms(a, sizeof(a), have_uf, uf->p50);
		snprintf(b, sizeof(b), "fork+exec %s; runc %s", ms(m1, sizeof(m1), have_fe, fe->p50),
			 ms(m2, sizeof(m2), have_rc, rc->p50));
		snprintf(r, sizeof(r), "runc/uf %.1fx; fork+exec/uf %.2fx", r_runc, r_fe);
		snprintf(t, sizeof(t), "<= %.0f ms", TARGET_EXIT_P50_MS);
		fprintf(f, fmt_row, "start-to-exit p50 (hello)", a, b, r, t,
			within(have_uf, uf->p50 <= TARGET_EXIT_P50_MS * 1e3));
		ms(a, sizeof(a), have_uf, uf->p99);
		snprintf(b, sizeof(b), "fork+exec %s; runc %s", ms(m1, sizeof(m1), have_fe, fe->p99),
			 ms(m2, sizeof(m2), have_rc, rc->p99));
		snprintf(r, sizeof(r), "runc/uf %.1fx (p99)", r_runc99);
		fprintf(f, fmt_row, "start-to-exit p99 (hello)", a, b, r, "-", "-");
		{ /* what a user types: unifaas run, beside uf-hvt alone and runc from the same run */
			const struct stats *ur = &e_run.st[C_WALL];
			int have_ur = ur->n > 0 && have_uf;
			ms(a, sizeof(a), have_ur, ur->p50);
			snprintf(b, sizeof(b), "uf-hvt %s; runc %s", ms(m1, sizeof(m1), have_uf, uf->p50),
				 ms(m2, sizeof(m2), have_rc, rc->p50));
			snprintf(r, sizeof(r), "run/uf %.2fx (%+.3f ms; paired %+.3f ms); runc/run %.1fx",
				 have_ur ? ur->p50 / uf->p50 : 0.0, have_ur ? (ur->p50 - uf->p50) / 1e3 : 0.0,
				 run_paired.p50 / 1e3, have_ur && have_rc ? rc->p50 / ur->p50 : 0.0);
			snprintf(t, sizeof(t), "<= uf-hvt + %.1f ms", TARGET_RUN_OVER_MS);
			/* the target is on the p50s; the paired difference (run i of each,
			 * same round) is printed beside it, being less exposed to drift */
			fprintf(f, fmt_row, "unifaas run p50 (hello)", a, b, r, t,
				within(have_ur, ur->p50 - uf->p50 <= TARGET_RUN_OVER_MS * 1e3));
		}
		const struct stats *uff = &e_hello_fast.st[C_WALL];
		ms(a, sizeof(a), uff->n > 0, uff->p50);
		snprintf(b, sizeof(b), "fork+exec %s; runc %s", ms(m1, sizeof(m1), have_fe, fe->p50),
			 ms(m2, sizeof(m2), have_rc, rc->p50));
		snprintf(r, sizeof(r), "runc/uf %.1fx", uff->p50 > 0 ? rc->p50 / uff->p50 : 0.0);
		snprintf(t, sizeof(t), "<= %.0f ms", TARGET_EXIT_P50_MS);
		fprintf(f, fmt_row, "start-to-exit p50 (--fast-exit)", a, b, r, t,
			within(uff->n > 0, uff->p50 <= TARGET_EXIT_P50_MS * 1e3));
		snprintf(a, sizeof(a), "%.1fx", r_runc);
		snprintf(b, sizeof(b), "runc p50 %s", ms(m2, sizeof(m2), have_rc, rc->p50));
		snprintf(t, sizeof(t), ">= %.0fx", TARGET_VS_RUNC);
		fprintf(f, fmt_row, "speed-up vs runc (p50)", a, b, "runc/uf", t, within(have_uf && have_rc, r_runc >= TARGET_VS_RUNC));
		snprintf(a, sizeof(a), "%.1fx", r_solo5);
		snprintf(b, sizeof(b), "Solo5 hvt ~%.0f ms (reference, not measured)", SOLO5_HVT_REF_MS);
		snprintf(t, sizeof(t), ">= %.0fx", TARGET_VS_SOLO5);
		fprintf(f, fmt_row, "speed-up vs Solo5 hvt (p50)", a, b, "solo5/uf", t, within(have_uf, r_solo5 >= TARGET_VS_SOLO5));
		ms(a, sizeof(a), have_rd, rd->p50);
		snprintf(t, sizeof(t), "<= %.0f ms", TARGET_READY_P50_MS);
		fprintf(f, fmt_row, "boot-to-ready p50 (fib, ready_us)", a, "-", "-", t,
			within(have_rd, rd->p50 <= TARGET_READY_P50_MS * 1e3));
		ms(a, sizeof(a), have_rd, rd->p99);
		fprintf(f, fmt_row, "boot-to-ready p99 (fib, ready_us)", a, "-", "-", "-", "-");
		snprintf(a, sizeof(a), "%.2f MiB", (double)m_rss[0] / 1024);
		snprintf(b, sizeof(b), "Pss %.2f MiB", (double)m_pss[0] / 1024);
		snprintf(t, sizeof(t), "<= %.1f MiB", TARGET_RSS_KIB / 1024);
		fprintf(f, fmt_row, "idle unit VmRSS (median)", nrss ? a : "n/a", nrss ? b : "-", "-", t,
			within(nrss, (double)m_rss[0] <= TARGET_RSS_KIB));
		snprintf(a, sizeof(a), "%.2f MiB", (double)m_pss[0] / 1024);
		fprintf(f, fmt_row, "idle unit Pss (median)", nrss ? a : "n/a", "-", "-", t,
			within(nrss, (double)m_pss[0] <= TARGET_RSS_KIB));
		snprintf(a, sizeof(a), "%.1f KiB", (double)sz_hello / 1024);
		snprintf(b, sizeof(b), "static musl hello %.1f KiB", (double)sz_static / 1024);
		snprintf(r, sizeof(r), "%.2fx", sz_static > 0 ? (double)sz_hello / (double)sz_static : 0);
		snprintf(t, sizeof(t), "<= %.0f KiB", TARGET_IMAGE_KIB);
		fprintf(f, fmt_row, "hello.uf image size", a, b, r, t,
			within(sz_hello >= 0, (double)sz_hello <= TARGET_IMAGE_KIB * 1024));
		snprintf(a, sizeof(a), "%.1f KiB", (double)sz_fib / 1024);
		fprintf(f, fmt_row, "fib.uf image size", a, "-", "-", "-", "-");

		if (md)
			fprintf(f, "\nImage sizes in bytes: hello.uf %ld, fib.uf %ld, static musl hello %ld.\n", sz_hello,
				sz_fib, sz_static);
		else
			fprintf(f, "  (bytes: hello.uf %ld, fib.uf %ld, static musl hello %ld)\n", sz_hello, sz_fib,
				sz_static);

		/* distributions */
		if (md)
			fprintf(f, "\nDistributions (ms; nearest-rank percentiles; failed runs excluded):\n\n"
				   "| Measurement | n | mean | min | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|---|\n");
		else
			fprintf(f, "\ndistributions, ms (nearest-rank percentiles; failed runs excluded)\n  %-34s %5s %8s %8s %8s "
				   "%8s %8s %8s\n",
				"measurement", "n", "mean", "min", "p50", "p90", "p99", "max");
		print_dist(f, "start-to-exit, uf-hvt hello.uf", &e_hello, C_WALL, md);
		print_dist(f, "start-to-exit, unifaas run hello.uf", &e_run, C_WALL, md);
		if (run_paired.n)
			fprintf(f, md ? "| %s | %zu | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n"
				      : "  %-34s %5zu %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f\n",
				"unifaas run - uf-hvt, paired", run_paired.n, run_paired.mean / 1e3, run_paired.min / 1e3,
				run_paired.p50 / 1e3, run_paired.p90 / 1e3, run_paired.p99 / 1e3, run_paired.max / 1e3);
		print_dist(f, "same, uf-hvt --fast-exit", &e_hello_fast, C_WALL, md);
		print_dist(f, "start-to-exit, static fork+exec", &e_static, C_WALL, md);
		print_dist(f, "start-to-exit, static runc run", &e_runc, C_WALL, md);
		print_dist(f, "boot-to-ready, fib.uf (ready_us)", &e_ready, C_READY, md);
		print_dist(f, "start-to-exit, fib.uf --event 1", &e_ready, C_WALL, md);
		print_dist(f, "start-to-exit, uf-hvt -v hello.uf", &e_hello_v, C_WALL, md);
		print_dist(f, "same, --no-seccomp", &e_hello_ns, C_WALL, md);
		print_dist(f, "uf-hvt --help (no VM)", &e_noop, C_WALL, md);

		/* breakdown */
		if (md)
			fprintf(f, "\nWhere start-to-exit goes (`uf-hvt -v hello.uf`, %d runs; %d with --no-seccomp), "
				   "ms:\n\n| Part | p50 | mean | p50, --no-seccomp | mean, --no-seccomp |\n|---|---|---|---|---|\n",
				e_hello_v.ok, e_hello_ns.ok);
		else
			fprintf(f, "\nbreakdown of start-to-exit (uf-hvt -v hello.uf), ms\n  %-58s %8s %8s %10s %10s\n", "part",
				"p50", "mean", "p50 nosec", "mean nosec");
		static const struct {
			int col;
			const char *what;
		} parts[] = {
			{C_VM, "vm_us: open /dev/kvm, KVM_CREATE_VM, memory slot"},
			{C_LOAD, "load_us: ELF load, page tables, boot state"},
			{C_VCPU, "vcpu_us: vCPU, registers, reaper (+ seccomp)"},
			{C_RUN, "guest run to exit (total_us - the three above)"},
			{C_TOTAL, "total_us: tender main() to its timing line"},
			{C_OVER, "exec, libc start-up, VM teardown, exit (wall - total_us)"},
			{C_WALL, "wall: fork to waitpid"},
		};
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
			const struct stats *s = &e_hello_v.st[parts[i].col], *n = &e_hello_ns.st[parts[i].col];
			fprintf(f, md ? "| %s | %.3f | %.3f | %.3f | %.3f |\n" : "  %-58s %8.3f %8.3f %10.3f %10.3f\n",
				parts[i].what, s->p50 / 1e3, s->mean / 1e3, n->p50 / 1e3, n->mean / 1e3);
		}
		{
			const struct stats *o = &e_hello_v.st[C_OVER], *n = &e_noop.st[C_WALL];
			const char *fmt = md ? "| %s | %.3f | %.3f | | |\n" : "  %-58s %8.3f %8.3f\n";
			fprintf(f, fmt, md ? "of which: tender exec, libc start-up, exit without a VM (`uf-hvt --help`)"
					   : "  of which exec+libc start+exit, no VM (uf-hvt --help)",
				n->p50 / 1e3, n->mean / 1e3);
			fprintf(f, fmt, md ? "rest: VM teardown (closing the VM fd), unmapping guest memory (difference)"
					   : "  rest: VM teardown, unmap (difference)",
				(o->p50 - n->p50) / 1e3, (o->mean - n->mean) / 1e3);
		}
		if (md)
			fprintf(f, "\nIdle unit (`uf-hvt -v --events FIFO fib.uf`, FIFO open and empty), median of %d units "
				   "[min, max], KiB: VmRSS %ld [%ld, %ld] (RssAnon %ld, RssFile %ld); Pss %ld [%ld, %ld] "
				   "(Pss_Anon %ld).\n",
				nrss, m_rss[0], m_rss[1], m_rss[2], m_anon[0], m_file[0], m_pss[0], m_pss[1], m_pss[2],
				m_pssanon[0]);
		else
			fprintf(f, "\nidle unit (fib.uf blocked on an empty FIFO), median of %d [min, max] KiB:\n"
				   "  VmRSS %ld [%ld, %ld]  RssAnon %ld  RssFile %ld\n  Pss %ld [%ld, %ld]  Pss_Anon %ld\n",
				nrss, m_rss[0], m_rss[1], m_rss[2], m_anon[0], m_file[0], m_pss[0], m_pss[1], m_pss[2],
				m_pssanon[0]);

		struct exp *all[] = {&e_hello, &e_run, &e_static, &e_runc, &e_ready, &e_hello_v, &e_hello_ns, &e_noop};
		int any = 0;
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			if (all[i]->failed) {
				if (!any++)
					fprintf(f, md ? "\nFailed runs (excluded above):\n\n" : "\nfailed runs (excluded above)\n");
				fprintf(f, md ? "- %s: %d of %d; first: %s\n" : "  %s: %d of %d; first: %s\n", all[i]->name,
					all[i]->failed, all[i]->ran, all[i]->first_failure);
			}
		if (rss_fail)
			fprintf(f, md ? "- idle RSS: %d of %d units failed (see idle_rss.tsv)\n"
				      : "  idle RSS: %d of %d units failed (see idle_rss.tsv)\n",
				rss_fail, rss_runs);
		if (!have_rc)
			fprintf(f, md ? "\nrunc baseline: not run.\n" : "\nrunc baseline: not run\n");
		if (md)
			fclose(f);
	}
	struct exp *every[] = {&e_hello, &e_run, &e_ready, &e_static, &e_hello_v, &e_hello_ns, &e_noop, &e_runc};
	for (size_t i = 0; i < sizeof(every) / sizeof(every[0]); i++)
		for (int k = 0; k < NCOL; k++)
			free(every[i]->col[k]);
	return 0;
}
