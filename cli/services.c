/*
 * services.c - the platform's processes: `up`, `down`, `status`.
 *
 * `up` writes the state dir (state.c describes it: configs, secrets, data,
 * logs), then starts three servers, in order, each only once the previous
 * one answers: redis-server (AUTH + PING over its unix socket), mosquitto
 * (a TCP connect) and unifaasd (GET /v1/health says 200).  Each runs
 * detached (own session, stdin /dev/null, output to logs/NAME.log, cwd the
 * state dir) and its pid is kept in NAME.pid.  A server already running is
 * left alone, so `up` is idempotent and completes a half-started platform;
 * config files are written only when none of the servers runs.  If one does
 * not start, `up` shows why (its exit status and the tail of its log) and
 * stops the servers it started itself.  A Redis that answers LOADING is
 * alive and reading its AOF, however long that takes on a slow machine: `up`
 * waits for it (READY_TIMEOUT_MS counts only silence), never stops it.
 *
 * A pid file is trusted only if its process is alive (not a zombie: PID 1
 * may not reap here) and has the expected command name, so a stale file
 * never makes us signal an unrelated process.
 *
 * `down` stops unifaasd (it stops its units), mosquitto, then Redis with
 * SHUTDOWN (the AOF is fsynced and kept); SIGKILL after 10 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "cli.h"
#include "config.h"
#include "launch.h"
#include "secret.h"

#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS  10000

enum { SVC_REDIS, SVC_MQTT, SVC_DAEMON, NSVC };

struct service {
	const char *name; /* pid file, log file, messages */
	const char *comm; /* its /proc/PID/comm */
};

static const struct service services[NSVC] = {
    {"redis", "redis-server"},
    {"mosquitto", "mosquitto"},
    {"unifaasd", "unifaasd"},
};

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Alive (running or sleeping, not a zombie) and named comm. */
static int proc_alive(pid_t pid, const char *comm)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (state_read_small(path, buf, sizeof(buf)) < 0)
		return 0;
	char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	if (!open || !close || close[1] != ' ')
		return 0;
	if (close[2] == 'Z' || close[2] == 'X' || close[2] == 'x')
		return 0;
	*close = '\0';
	return strncmp(open + 1, comm, 15) == 0;
}

/* The pid of a running service, or 0. */
static pid_t svc_pid(const struct cli_state *st, int i)
{
	char path[PATH_MAX + 32], buf[32];
	snprintf(path, sizeof(path), "%s/%s.pid", st->dir, services[i].name);
	if (state_read_small(path, buf, sizeof(buf)) < 0)
		return 0;
	long pid = strtol(buf, NULL, 10);
	if (pid <= 1 || pid > 0x7fffffff)
		return 0;
	return proc_alive((pid_t)pid, services[i].comm) ? (pid_t)pid : 0;
}

int services_pid(const struct cli_state *st, const char *name)
{
	for (int i = 0; i < NSVC; i++)
		if (strcmp(services[i].name, name) == 0)
			return (int)svc_pid(st, i);
	return 0;
}

static void svc_forget(const struct cli_state *st, int i)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s.pid", st->dir, services[i].name);
	unlink(path);
}

static int make_dir(const char *cmd, const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "unifaas: %s: cannot create %s: %s\n", cmd, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* mkdir -p, each new level 0700; the last one is made 0700 whatever it was. */
static int make_state_dir(const char *cmd, const char *dir)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", dir);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (make_dir(cmd, p) < 0)
			return -1;
		*s = '/';
	}
	if (make_dir(cmd, p) < 0)
		return -1;
	if (chmod(p, 0700) < 0) {
		fprintf(stderr, "unifaas: %s: %s: %s\n", cmd, p, strerror(errno));
		return -1;
	}
	return 0;
}

/* A program in $PATH (or /usr/sbin, /sbin, where Debian puts mosquitto). */
static int find_program(const char *name, char *out, size_t len)
{
	const char *env = getenv("PATH");
	char path[4096];
	snprintf(path, sizeof(path), "%s:/usr/sbin:/sbin:/usr/local/sbin", env ? env : "/usr/bin:/bin");
	for (char *save = NULL, *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", d, name);
		if (d[0] == '/' && access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

struct up_plan {
	struct cli_state st;
	char exe[NSVC][PATH_MAX]; /* absolute paths of the programs */
	char hvt[PATH_MAX];
	char redis_pass[80];
	pid_t pid[NSVC];            /* running (started now or before) */
	int started[NSVC];          /* started by this `up` */
	unsigned conf_api_port;     /* the api_port= up writes; st.api_port is unifaasd's, after unifaasd.conf */
	unsigned conf_ingress_port; /* the same for ingress_port= */
};

/* The programs up starts, found before anything is started. */
static int find_programs(struct up_plan *p)
{
	char buf[PATH_MAX + 16];
	const char *env = getenv("UNIFAAS_DAEMON");

	if (find_program("redis-server", p->exe[SVC_REDIS], sizeof(p->exe[0])) < 0) {
		fprintf(stderr, "unifaas: up: redis-server not found in PATH (install redis-server: "
		                "scripts/install-deps.sh)\n");
		return -1;
	}
	if (find_program("mosquitto", p->exe[SVC_MQTT], sizeof(p->exe[0])) < 0) {
		fprintf(stderr, "unifaas: up: mosquitto not found in PATH or /usr/sbin (install mosquitto: "
		                "scripts/install-deps.sh)\n");
		return -1;
	}
	if (env && env[0])
		snprintf(buf, sizeof(buf), "%s", env);
	else
		snprintf(buf, sizeof(buf), "%s/unifaasd", cli_bindir);
	if (access(buf, X_OK) < 0 || !realpath(buf, p->exe[SVC_DAEMON])) {
		fprintf(stderr, "unifaas: up: unifaasd not found at %s: %s (run 'make', or set UNIFAAS_DAEMON)\n", buf,
		        strerror(errno));
		return -1;
	}
	cli_tender_path(buf, sizeof(buf));
	if (access(buf, X_OK) < 0 || !realpath(buf, p->hvt)) {
		fprintf(stderr, "unifaas: up: the tender uf-hvt is not at %s: %s (run 'make', or set UNIFAAS_TENDER)\n",
		        buf, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_configs(struct up_plan *p, unsigned max_units)
{
	struct cli_state *st = &p->st;
	char path[PATH_MAX + 32], token[160], text[4 * PATH_MAX + 1024];
	struct passwd *pw = getpwuid(geteuid());

	if (state_secret("up", st, "redis.pass", 16, p->redis_pass, sizeof(p->redis_pass)) < 0 ||
	    state_secret("up", st, "api.token", 32, token, sizeof(token)) < 0)
		return -1;
	memset(token, 0, sizeof(token));
	snprintf(text, sizeof(text),
	         "# written by 'unifaas up'; rewritten at each start\n"
	         "port 0\n"
	         "unixsocket %s/redis.sock\n"
	         "unixsocketperm 700\n"
	         "requirepass %s\n"
	         "appendonly yes\n"
	         "appendfsync everysec\n"
	         "# writes past maxmemory are refused (OOM), never evicted: unifaasd and the\n"
	         "# tenders report each refusal (docs/architecture.md \"Storage quotas\")\n"
	         "maxmemory %llu\n"
	         "maxmemory-policy noeviction\n"
	         "dir %s/redis\n"
	         "notify-keyspace-events Kgt\n"
	         "daemonize no\n"
	         "logfile %s/logs/redis.log\n",
	         st->dir, p->redis_pass, st->redis_maxmemory, st->dir, st->dir);
	if (state_write_file("up", state_path(st, "redis.conf", path, sizeof(path)), 0600, text) < 0)
		return -1;
	if (broker_write_config(st, pw ? pw->pw_name : "root") < 0)
		return -1;
	snprintf(text, sizeof(text),
	         "redis_socket=%s/redis.sock\n"
	         "redis_password_file=%s/redis.pass\n"
	         "api_port=%u\n"
	         "ingress_port=%u\n"
	         "mqtt_url=mqtt://127.0.0.1:%u\n"
	         "mqtt_socket=%s/" BROKER_SOCKET "\n"
	         "mqtt_username=" UF_MQTT_PLATFORM "\n"
	         "mqtt_password_file=%s/mqtt.pass\n"
	         "max_units=%u\n"
	         "hvt=%s\n",
	         st->dir, st->dir, p->conf_api_port, p->conf_ingress_port, st->mqtt_port, st->dir, st->dir, max_units,
	         p->hvt);
	return state_write_file("up", state_path(st, "unifaas.conf", path, sizeof(path)), 0600, text);
}

/* Is 127.0.0.1:port free to listen on? */
static int port_free(unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	int ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno != EADDRINUSE;
	close(fd);
	return ok;
}

static int tcp_connects(unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static redisContext *redis_connect(const struct cli_state *st, const char *pass)
{
	char sock[PATH_MAX + 16];
	struct timeval tv = {0, 500000};
	redisContext *c = redisConnectUnixWithTimeout(state_path(st, "redis.sock", sock, sizeof(sock)), tv);
	if (!c || c->err) {
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	redisReply *r = redisCommand(c, "AUTH %s", pass);
	int ok = r && r->type == REDIS_REPLY_STATUS;
	if (r)
		freeReplyObject(r);
	if (!ok) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* 1: Redis answers PONG; READY_LOADING: it answers that it is still
 * loading its data set; 0: no answer. */
#define READY_LOADING 2
static int redis_ready(const struct cli_state *st, const char *pass)
{
	redisContext *c = redis_connect(st, pass);
	if (!c)
		return 0;
	redisReply *r = redisCommand(c, "PING");
	int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
	if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "LOADING", 7) == 0)
		ok = READY_LOADING;
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return ok;
}

static int svc_ready(const struct up_plan *p, int i)
{
	switch (i) {
	case SVC_REDIS:
		return redis_ready(&p->st, p->redis_pass);
	case SVC_MQTT:
		return tcp_connects(p->st.mqtt_port);
	default:
		return api_health(p->st.api_port, 1000) == 200;
	}
}

/* fork + setsid + exec, output appended to logs/NAME.log. */
static pid_t spawn(const struct cli_state *st, int i, char *const argv[])
{
	char log[PATH_MAX + 32];
	snprintf(log, sizeof(log), "%s/logs/%s.log", st->dir, services[i].name);
	int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (lfd < 0 || nfd < 0) {
		fprintf(stderr, "unifaas: up: %s: %s\n", lfd < 0 ? log : "/dev/null", strerror(errno));
		if (lfd >= 0)
			close(lfd);
		if (nfd >= 0)
			close(nfd);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		setsid();
		umask(077);
		if (dup2(nfd, 0) < 0 || dup2(lfd, 1) < 0 || dup2(lfd, 2) < 0 || chdir(st->dir) < 0)
			_exit(127);
		execv(argv[0], argv);
		dprintf(2, "unifaas: up: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int e = errno;
	close(lfd);
	close(nfd);
	if (pid < 0)
		fprintf(stderr, "unifaas: up: fork: %s\n", strerror(e));
	return pid;
}

static void show_log_tail(const struct cli_state *st, int i)
{
	char path[PATH_MAX + 32], line[1024];
	char *lines[10] = {0};
	int n = 0;
	snprintf(path, sizeof(path), "%s/logs/%s.log", st->dir, services[i].name);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		free(lines[n % 10]);
		lines[n % 10] = strdup(line);
		n++;
	}
	fclose(f);
	if (n == 0)
		return;
	fprintf(stderr, "unifaas: up: last lines of %s:\n", path);
	for (int k = n > 10 ? n - 10 : 0; k < n; k++) {
		const char *l = lines[k % 10];
		fprintf(stderr, "  %s%s", l ? l : "", l && l[strlen(l) - 1] == '\n' ? "" : "\n");
	}
	for (int k = 0; k < 10; k++)
		free(lines[k]);
}

/* Stops one process: SIGTERM, then SIGKILL after timeout_ms. Reaps it if it
 * is our child. 0 once it is gone, -1 if it cannot be signalled. */
static int stop_pid(pid_t pid, const char *comm, int own_child, long timeout_ms, int *killed)
{
	int sig = SIGTERM;
	*killed = 0;
	for (int round = 0; round < 2; round++) {
		if (kill(pid, sig) < 0 && errno != ESRCH)
			return -1;
		for (long t0 = now_ms(); now_ms() - t0 < timeout_ms;) {
			if (own_child && waitpid(pid, NULL, WNOHANG) == pid)
				return 0;
			if (!own_child && !proc_alive(pid, comm))
				return 0;
			sleep_ms(20);
		}
		sig = SIGKILL;
		*killed = 1;
		timeout_ms = 2000;
	}
	return -1;
}

/* Waits until service i answers, or its process exits, or it stays silent
 * for READY_TIMEOUT_MS (a Redis loading its AOF is not silent). */
static int wait_ready(struct up_plan *p, int i)
{
	int st, told = 0;
	for (long t0 = now_ms(); now_ms() - t0 < READY_TIMEOUT_MS;) {
		int ready = svc_ready(p, i);
		if (ready == READY_LOADING) {
			if (!told++)
				fprintf(stderr, "unifaas: up: %s is loading its data (AOF); waiting for it\n",
				        services[i].name);
			t0 = now_ms();
		} else if (ready)
			return 0;
		if (p->started[i] && waitpid(p->pid[i], &st, WNOHANG) == p->pid[i]) {
			p->started[i] = 0;
			p->pid[i] = 0;
			svc_forget(&p->st, i);
			if (WIFEXITED(st))
				fprintf(stderr, "unifaas: up: %s did not start: it exited with status %d\n",
				        services[i].name, WEXITSTATUS(st));
			else
				fprintf(stderr, "unifaas: up: %s did not start: killed by signal %d\n",
				        services[i].name, WTERMSIG(st));
			return -1;
		}
		sleep_ms(50);
	}
	fprintf(stderr, "unifaas: up: %s did not answer within %d s\n", services[i].name, READY_TIMEOUT_MS / 1000);
	return -1;
}

static int start_service(struct up_plan *p, int i)
{
	char conf[PATH_MAX + 32], pidpath[PATH_MAX + 32], pidtext[32];
	char *argv[5] = {p->exe[i], NULL, NULL, NULL, NULL};

	switch (i) {
	case SVC_REDIS:
		state_path(&p->st, "redis.conf", conf, sizeof(conf));
		argv[1] = conf;
		break;
	case SVC_MQTT:
		argv[1] = "-c";
		state_path(&p->st, "mosquitto.conf", conf, sizeof(conf));
		argv[2] = conf;
		break;
	default:
		argv[1] = "--state-dir";
		argv[2] = p->st.dir;
		break;
	}
	pid_t pid = spawn(&p->st, i, argv);
	if (pid < 0)
		return -1;
	p->pid[i] = pid;
	p->started[i] = 1;
	snprintf(pidpath, sizeof(pidpath), "%s/%s.pid", p->st.dir, services[i].name);
	snprintf(pidtext, sizeof(pidtext), "%d\n", (int)pid);
	if (state_write_file("up", pidpath, 0600, pidtext) < 0)
		return -1;
	if (wait_ready(p, i) < 0) {
		show_log_tail(&p->st, i);
		return -1;
	}
	return 0;
}

static void stop_started(struct up_plan *p)
{
	int killed;
	for (int i = NSVC - 1; i >= 0; i--) {
		if (!p->started[i])
			continue;
		if (stop_pid(p->pid[i], services[i].comm, 1, STOP_TIMEOUT_MS, &killed) < 0)
			fprintf(stderr, "unifaas: up: cannot stop %s (pid %d): %s\n", services[i].name, (int)p->pid[i],
			        strerror(errno));
		else
			fprintf(stderr, "unifaas: up: stopped %s again\n", services[i].name);
		svc_forget(&p->st, i);
		p->started[i] = 0;
	}
}

/* The `status` lines; returns the exit code of `status`. */
static int print_status(const struct cli_state *st_in)
{
	struct cli_state st = *st_in;
	char err[PATH_MAX + 256];
	int have_conf = state_load(&st, err, sizeof(err)) == 0;
	char path[PATH_MAX + 16];
	pid_t pid[NSVC];

	printf("state_dir: %s\n", st.dir);
	printf("redis_socket: %s\n", state_path(&st, "redis.sock", path, sizeof(path)));
	printf("mqtt_url: %s\n", have_conf && st.mqtt_url[0] ? st.mqtt_url : "-");
	if (have_conf)
		broker_print_urls(&st);
	printf("api_url: %s\n", have_conf ? st.api_url : "-");
	printf("ingress_url: %s\n", have_conf ? st.ingress_url : "-");
	printf("api_token_file: %s\n", state_path(&st, "api.token", path, sizeof(path)));
	for (int i = 0; i < NSVC; i++) {
		pid[i] = svc_pid(&st, i);
		if (pid[i])
			printf("%s: running (pid %d)\n", services[i].name, (int)pid[i]);
		else
			printf("%s: stopped\n", services[i].name);
	}
	fflush(stdout);
	if (!pid[SVC_DAEMON])
		return UF_EX_NOT_RUNNING;
	if (have_conf && api_health(st.api_port, 5000) == 503) {
		fprintf(stderr, "unifaas: status: unifaasd cannot reach Redis%s\n",
		        pid[SVC_REDIS] ? "; see logs/redis.log in the state dir"
		                       : ": run 'unifaas up' to start it again");
		return UF_EX_UNAVAILABLE;
	}

	struct api a;
	struct api_reply r = {0};
	int ex = api_open(&a, "status");
	if (ex == UF_EX_OK)
		ex = api_call(&a, &(struct api_request){.method = "GET", .path = "/v1/status", .timeout_s = 10}, &r);
	if (ex == UF_EX_NOT_RUNNING)
		ex = UF_EX_UNAVAILABLE; /* the process runs, its API does not answer */
	if (ex == UF_EX_OK && r.status != 200)
		ex = api_fail(&a, "GET /v1/status", &r);
	else if (ex == UF_EX_OK) {
		json_t *root = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
		json_int_t units = json_integer_value(json_object_get(root, "units"));
		json_int_t max = json_integer_value(json_object_get(root, "max_units"));
		json_int_t wfs = json_integer_value(json_object_get(root, "workflows"));
		printf("units: %lld (max %lld)\n", (long long)units, (long long)max);
		printf("workflows: %lld\n", (long long)wfs);
		json_decref(root);
	}
	api_reply_free(&r);
	api_close(&a);
	return ex;
}

static int parse_uint(const char *opt, const char *v, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n < min || n > max) {
		fprintf(stderr, "unifaas: up: %s '%s': expected a number from %u to %u\n", opt, v, min, max);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

/* The ports and limit to start with: the options, else those of the last
 * start (unifaas.conf), else the defaults. */
static int choose_ports(struct up_plan *p, const struct cli_state *prev, int have_prev, unsigned opt[4],
                        unsigned *max_units)
{
	p->st.api_port = opt[0] ? opt[0] : have_prev ? prev->api_port : 7380;
	p->st.mqtt_port = opt[1] ? opt[1] : have_prev && prev->mqtt_port ? prev->mqtt_port : 1883;
	*max_units = opt[2] ? opt[2] : have_prev && prev->max_units ? prev->max_units : 32;
	p->st.ingress_port = opt[3] ? opt[3] : have_prev && prev->ingress_port ? prev->ingress_port : 7381;
	if (p->st.api_port == p->st.mqtt_port) {
		fprintf(stderr, "unifaas: up: the API and MQTT ports are both %u: pick another with %s\n",
		        p->st.api_port, opt[0] ? "--mqtt-port N" : "--api-port N");
		return -1;
	}
	if (p->st.ingress_port == p->st.api_port || p->st.ingress_port == p->st.mqtt_port) {
		fprintf(stderr, "unifaas: up: the HTTP ingress port %u is also the %s port: pick another with %s\n",
		        p->st.ingress_port, p->st.ingress_port == p->st.api_port ? "API" : "MQTT",
		        opt[3] ? "--api-port N or --mqtt-port N" : "--ingress-port N");
		return -1;
	}
	snprintf(p->st.api_url, sizeof(p->st.api_url), "http://127.0.0.1:%u", p->st.api_port);
	return 0;
}

/* unifaasd applies the user's unifaasd.conf over the unifaas.conf written
 * here (common/config.h): the API port it sets is the one to check and wait
 * for, and the one every later command calls. */
static int user_overrides(struct up_plan *p, const unsigned opt[4], unsigned *max_units)
{
	char err[PATH_MAX + 256];
	p->conf_api_port = p->st.api_port;
	p->conf_ingress_port = p->st.ingress_port;
	p->st.max_units = *max_units;
	if (state_user_overrides(&p->st, err, sizeof(err)) < 0) {
		fprintf(stderr, "unifaas: up: %s\n", err);
		return -1;
	}
	if (opt[0] && p->st.api_port != opt[0])
		fprintf(stderr, "unifaas: up: api_port=%u in %s/unifaasd.conf overrides --api-port %u\n",
		        p->st.api_port, p->st.dir, opt[0]);
	if (p->st.api_port == p->st.mqtt_port) {
		fprintf(stderr, "unifaas: up: api_port=%u in %s/unifaasd.conf is also the MQTT port\n", p->st.api_port,
		        p->st.dir);
		return -1;
	}
	return 0;
}

int cmd_up(int argc, char **argv)
{
	static const struct option opts[] = {{"api-port", required_argument, NULL, 'a'},
	                                     {"mqtt-port", required_argument, NULL, 'm'},
	                                     {"max-units", required_argument, NULL, 'u'},
	                                     {"ingress-port", required_argument, NULL, 'i'},
	                                     {NULL, 0, NULL, 0}};
	struct up_plan p;
	struct cli_state prev;
	unsigned opt[4] = {0, 0, 0, 0}, max_units = 32; /* api, mqtt port, max units, ingress port; 0: not given */
	int c, running = 0;
	char path[PATH_MAX + 32];

	memset(&p, 0, sizeof(p));
	while ((c = cli_getopt("up", argc, argv, "", opts)) != -1) {
		if (c == 'h')
			return UF_EX_OK;
		if (c == 'a' && parse_uint("--api-port", optarg, 1, 65535, &opt[0]) == 0)
			continue;
		if (c == 'm' && parse_uint("--mqtt-port", optarg, 1, 65535, &opt[1]) == 0)
			continue;
		if (c == 'u' && parse_uint("--max-units", optarg, 1, 100000, &opt[2]) == 0)
			continue;
		if (c == 'i' && parse_uint("--ingress-port", optarg, 1, 65535, &opt[3]) == 0)
			continue;
		return UF_EX_USAGE;
	}
	if (cli_nargs("up", argc, argv, 0, 0) < 0)
		return UF_EX_USAGE;
	if (opt[0] && opt[0] == opt[1]) {
		fprintf(stderr, "unifaas: up: --api-port and --mqtt-port are both %u: they must differ\n", opt[0]);
		return UF_EX_USAGE;
	}
	if (state_locate("up", &p.st) < 0)
		return UF_EX_ERROR;
	struct sockaddr_un sun;
	_Static_assert(sizeof(BROKER_SOCKET) <= sizeof("redis.sock"), "mqtt.sock: its path is checked here");
	if (strlen(p.st.dir) + sizeof("/redis.sock") > sizeof(sun.sun_path)) {
		fprintf(stderr,
		        "unifaas: up: state dir %s: too long for a unix socket path (at most %zu characters): "
		        "use a shorter --state-dir\n",
		        p.st.dir, sizeof(sun.sun_path) - sizeof("/redis.sock"));
		return UF_EX_USAGE;
	}
	for (const char *ch = p.st.dir; *ch; ch++) /* its paths are written bare into redis.conf, mosquitto.conf */
		if ((unsigned char)*ch <= ' ' || *ch == 0x7f || *ch == '"' || *ch == '\'') {
			fprintf(stderr, "unifaas: up: state dir ");
			cli_show_name(stderr, p.st.dir);
			fprintf(stderr,
			        ": has a space, a control character or a quote, which redis.conf and "
			        "mosquitto.conf cannot hold: use a --state-dir (or UNIFAAS_STATE) without them\n");
			return UF_EX_USAGE;
		}
	if (find_programs(&p) < 0)
		return UF_EX_ERROR;

	prev = p.st;
	char err[PATH_MAX + 256];
	int have_prev = state_load(&prev, err, sizeof(err)) == 0;
	for (int i = 0; i < NSVC; i++)
		running += (p.pid[i] = svc_pid(&p.st, i)) != 0;
	if (running == NSVC && have_prev && api_health(prev.api_port, 2000) == 200) {
		printf("unifaas: up: already up\n");
		if ((opt[0] && opt[0] != prev.api_port) || (opt[1] && opt[1] != prev.mqtt_port) ||
		    (opt[2] && opt[2] != prev.max_units) || (opt[3] && opt[3] != prev.ingress_port))
			fprintf(stderr,
			        "unifaas: up: options ignored: the platform runs already (run 'unifaas down' first "
			        "to change them)\n");
		return print_status(&prev) == UF_EX_OK ? UF_EX_OK : UF_EX_ERROR;
	}
	if (running) {
		/* complete a half-started platform with the config it has */
		if (!have_prev || state_read_small(state_path(&p.st, "redis.pass", path, sizeof(path)), p.redis_pass,
		                                   sizeof(p.redis_pass)) < 0) {
			fprintf(stderr,
			        "unifaas: up: some servers run but %s/unifaas.conf or redis.pass is missing: "
			        "run 'unifaas down' first\n",
			        p.st.dir);
			return UF_EX_ERROR;
		}
		p.st = prev;
		if ((opt[0] && opt[0] != prev.api_port) || (opt[1] && opt[1] != prev.mqtt_port) ||
		    (opt[2] && opt[2] != prev.max_units) || (opt[3] && opt[3] != prev.ingress_port))
			fprintf(
			    stderr,
			    "unifaas: up: keeping api port %u, mqtt port %u and max units %u of the running servers "
			    "(run 'unifaas down' first to change them)\n",
			    prev.api_port, prev.mqtt_port, prev.max_units);
	} else if (choose_ports(&p, &prev, have_prev, opt, &max_units) < 0) {
		return UF_EX_USAGE;
	} else if (user_overrides(&p, opt, &max_units) < 0 || broker_check_config(&p.st) < 0) {
		return UF_EX_ERROR;
	}
	if (!p.pid[SVC_MQTT] && !port_free(p.st.mqtt_port)) {
		fprintf(stderr,
		        "unifaas: up: port %u (MQTT) is already in use on 127.0.0.1: another broker? "
		        "pick a free one with --mqtt-port N\n",
		        p.st.mqtt_port);
		return UF_EX_ERROR;
	}
	if (!p.pid[SVC_MQTT] && p.st.mqtt_tls_port && !port_free(p.st.mqtt_tls_port)) {
		fprintf(stderr,
		        "unifaas: up: port %u (mqtt_tls_port in unifaasd.conf) is already in use: pick another\n",
		        p.st.mqtt_tls_port);
		return UF_EX_ERROR;
	}
	if (!p.pid[SVC_DAEMON] && !port_free(p.st.ingress_port)) {
		fprintf(stderr,
		        "unifaas: up: port %u (HTTP ingress) is already in use on 127.0.0.1: "
		        "pick a free one with --ingress-port N\n",
		        p.st.ingress_port);
		return UF_EX_ERROR;
	}
	if (!p.pid[SVC_DAEMON] && !port_free(p.st.api_port)) {
		fprintf(stderr,
		        "unifaas: up: port %u (control API) is already in use on 127.0.0.1: "
		        "pick a free one with --api-port N\n",
		        p.st.api_port);
		return UF_EX_ERROR;
	}
	if (make_state_dir("up", p.st.dir) < 0 || make_dir("up", state_path(&p.st, "logs", path, sizeof(path))) < 0 ||
	    make_dir("up", state_path(&p.st, "redis", path, sizeof(path))) < 0 ||
	    make_dir("up", state_path(&p.st, "mosquitto", path, sizeof(path))) < 0)
		return UF_EX_ERROR;
	if (!running && write_configs(&p, max_units) < 0)
		return UF_EX_ERROR;
	for (int i = 0; i < NSVC; i++) {
		if (p.pid[i] && wait_ready(&p, i) == 0)
			continue;
		if (p.pid[i]) {
			fprintf(stderr,
			        "unifaas: up: %s runs (pid %d) but does not answer: run 'unifaas down', then "
			        "'unifaas up'\n",
			        services[i].name, (int)p.pid[i]);
			stop_started(&p);
			return UF_EX_ERROR;
		}
		if (start_service(&p, i) < 0) {
			stop_started(&p);
			return UF_EX_ERROR;
		}
	}
	return print_status(&p.st) == UF_EX_OK ? UF_EX_OK : UF_EX_ERROR;
}

/* Redis: SHUTDOWN (fsyncs and keeps the AOF); a signal if that fails. */
static int stop_redis(const struct cli_state *st, pid_t pid, int *killed)
{
	char path[PATH_MAX + 16], pass[80];
	*killed = 0;
	if (state_read_small(state_path(st, "redis.pass", path, sizeof(path)), pass, sizeof(pass)) == 0) {
		redisContext *c = redis_connect(st, pass);
		memset(pass, 0, sizeof(pass));
		if (c) {
			redisReply *r = redisCommand(c, "SHUTDOWN");
			if (r) {
				fprintf(stderr, "unifaas: down: redis SHUTDOWN: %s\n", r->str ? r->str : "refused");
				freeReplyObject(r);
			}
			redisFree(c);
			for (long t0 = now_ms(); now_ms() - t0 < STOP_TIMEOUT_MS; sleep_ms(20))
				if (!proc_alive(pid, "redis-server"))
					return 0;
		}
	}
	return stop_pid(pid, "redis-server", 0, STOP_TIMEOUT_MS, killed);
}

/* Every server stopped: what is left of unifaasd's CPU cgroups goes
 * (common/cgroup.h; unifaasd removed the workflows' own at its shutdown,
 * unless it crashed). */
static void remove_cpu_groups(struct cli_state *st)
{
	struct uf_cgroups g;
	char err[256];
	/* where they are: unifaasd.conf's cpu_cgroup (down reads no other setting) */
	if (!st->cpu_cgroup[0] && state_load(st, err, sizeof(err)) < 0)
		st->cpu_cgroup[0] = 0;
	if (uf_cgroup_locate(&g, st->cpu_cgroup[0] ? st->cpu_cgroup : "auto", st->dir, NULL, err, sizeof(err)) < 0)
		return;
	if (access(g.cpu, F_OK) < 0)
		return;
	int left = uf_cgroup_remove_all(&g);
	for (int i = 0; left && i < 60; i++) { /* a server just reaped may count in its group a moment longer */
		sleep_ms(50);
		left = uf_cgroup_remove_all(&g);
	}
	if (left)
		fprintf(stderr,
		        "unifaas: down: %d cgroup(s) of %s still hold a process (a unit of a unifaasd that "
		        "crashed?): left in place\n",
		        left, g.cpu);
}

/* How long unifaasd may take to end: it drains its units first (their
 * batches committed; one still busy unit_drain_ms later is told to end,
 * and killed UF_DRAIN_SETTLE_MS after that: launch.h), then STOP_TIMEOUT_MS. */
static long daemon_stop_ms(const struct cli_state *st)
{
	struct uf_config c;
	char err[512];
	if (uf_config_load(&c, st->dir, err, sizeof(err)) < 0)
		uf_config_defaults(&c, st->dir);
	return STOP_TIMEOUT_MS + (long)c.unit_drain_ms + UF_DRAIN_SETTLE_MS;
}

int cmd_down(int argc, char **argv)
{
	struct cli_state st;
	int c, ex = UF_EX_OK;
	static const int order[NSVC] = {SVC_DAEMON, SVC_MQTT, SVC_REDIS};

	while ((c = cli_getopt("down", argc, argv, "", NULL)) != -1)
		return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
	if (cli_nargs("down", argc, argv, 0, 0) < 0)
		return UF_EX_USAGE;
	if (state_locate("down", &st) < 0)
		return UF_EX_ERROR;
	for (int k = 0; k < NSVC; k++) {
		int i = order[k], killed = 0, rc;
		pid_t pid = svc_pid(&st, i);
		if (!pid) {
			printf("%s: not running\n", services[i].name);
			svc_forget(&st, i);
			continue;
		}
		long wait_ms = i == SVC_DAEMON ? daemon_stop_ms(&st) : STOP_TIMEOUT_MS;
		if (i == SVC_REDIS)
			rc = stop_redis(&st, pid, &killed);
		else
			rc = stop_pid(pid, services[i].comm, 0, wait_ms, &killed);
		if (rc < 0) {
			fprintf(stderr, "unifaas: down: cannot stop %s (pid %d): %s\n", services[i].name, (int)pid,
			        strerror(errno));
			ex = UF_EX_ERROR;
			continue;
		}
		if (killed)
			printf("%s: stopped (pid %d), killed: it did not stop within %ld s\n", services[i].name,
			       (int)pid, (wait_ms + 999) / 1000);
		else
			printf("%s: stopped (pid %d)\n", services[i].name, (int)pid);
		svc_forget(&st, i);
	}
	if (ex == UF_EX_OK)
		remove_cpu_groups(&st);
	return ex;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct cli_state st;
	int c, json = 0;

	while ((c = cli_getopt("status", argc, argv, "", opts)) != -1) {
		if (c == 'j')
			json = 1;
		else
			return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
	}
	if (cli_nargs("status", argc, argv, 0, 0) < 0)
		return UF_EX_USAGE;
	if (json) {
		struct api a;
		struct api_reply r;
		int ex = api_open(&a, "status");
		if (ex == UF_EX_OK)
			ex = api_call(&a, &(struct api_request){.method = "GET", .path = "/v1/status"}, &r);
		if (ex == UF_EX_OK) {
			if (r.status == 200)
				printf("%s%s", r.body ? r.body : "", r.len && r.body[r.len - 1] == '\n' ? "" : "\n");
			else
				ex = api_fail(&a, "GET /v1/status", &r);
			api_reply_free(&r);
		}
		api_close(&a);
		return ex;
	}
	if (state_locate("status", &st) < 0)
		return UF_EX_ERROR;
	return print_status(&st);
}
