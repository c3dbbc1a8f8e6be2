/*
 * sim.c - `unifaas sim KIND`: simulated devices publishing to the
 * platform's broker the way real ones do (docs/cli.md).
 *
 * The table `simulators` maps a name to a device kind (sim.h: sim_sck.c's
 * Smart Citizen Kit, sim_home.c's motion sensor, body analyzer, smoke
 * alarm and fridge door), run by the driver below, or to a command of its
 * own.  The driver parses the options every kind has and the kind's own,
 * makes each device a device account (broker.c's registry, the code of
 * `unifaas device add`) named PREFIX1..PREFIXN, its token; gives it a
 * fresh password at each run (so re-running re-keys the same accounts)
 * with the one topic filter the kind gives it, connects it with its name as
 * client id, then publishes each device's messages when they are due
 * (every --interval-ms, or when the kind says), the earliest first and
 * devices due together in their order.
 *
 * Invariants: every publish is QoS 1 and counted as published only once
 * its PUBACK came back, so "published N" is what the broker took; the run
 * is bounded (count messages per device); the values of a run depend only
 * on --seed and the options (never the clock, except timestamps and
 * weight's dates without --start-date).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <mosquitto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

#define SIM_ACK_MS     5000 /* a PUBACK later than this: a failure */
#define SIM_CONNECT_MS 5000 /* the broker reads a new account on SIGHUP: retry refusals this long */
#define SIM_OPTS_MAX   12   /* options of one simulator (cli_getopt takes 13) */

/* Every simulator: a device kind, run by the driver below, or a command of
 * its own (argv[0] its name, then the other arguments). */
static const struct {
	const char *name;
	const struct sim_kind *kind;
	int (*cmd)(int argc, char **argv);
} simulators[] = {
    {"sck", &sim_sck, NULL},     {"motion", &sim_motion, NULL}, {"weight", &sim_weight, NULL},
    {"smoke", &sim_smoke, NULL}, {"door", &sim_door, NULL},     {"slack", NULL, cmd_sim_slack},
};
#define SIM_NAMES_LIST "sck, motion, weight, smoke, door or slack"

uint64_t sim_rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double sim_rng_unit(uint64_t *s)
{
	return (double)(sim_rng_next(s) >> 11) / (double)(1ull << 52) - 1.0;
}

double sim_rng_frac(uint64_t *s)
{
	return (double)(sim_rng_next(s) >> 11) / (double)(1ull << 53);
}

void sim_utc_now(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int sim_bad(const char *opt, const char *v, const char *expected)
{
	fprintf(stderr, "unifaas: sim: %s '%s': expected %s\n", opt, v, expected);
	cli_short_usage("sim");
	return -1;
}

int sim_opt_uint(const char *cmd, const char *opt, const char *v, unsigned long long min, unsigned long long max,
                 unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n < min || n > max) {
		fprintf(stderr, "unifaas: %s: %s '%s': expected a number from %llu to %llu\n", cmd, opt, v, min, max);
		cli_short_usage(cmd);
		return -1;
	}
	*out = n;
	return 0;
}

int sim_opt_names(const char *opt, const char *v, struct sim_names *names)
{
	free(names->buf);
	*names = (struct sim_names){.buf = strdup(v)};
	if (!names->buf)
		return sim_bad(opt, v, "a shorter list (out of memory)");
	for (char *p = names->buf, *next; p; p = next) {
		size_t n = strcspn(p, ",");
		next = p[n] ? p + n + 1 : NULL;
		p[n] = 0;
		int ok = n >= 1 && n <= UF_NAME_MAX && names->n < SIM_NAMES_MAX;
		for (size_t i = 0; ok && i < n; i++)
			ok = isalnum((unsigned char)p[i]) || p[i] == '_' || p[i] == '-';
		if (!ok)
			return sim_bad(opt, v, "NAME[,NAME]... (at most 64 names, each 1..48 of A-Z a-z 0-9 _ -)");
		names->name[names->n++] = p;
	}
	return 0;
}

/* The simulator named on the command line: the first argument that is
 * neither an option nor an option's value (every option of sim but --help
 * takes one), or NULL. */
static const char *sim_named(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			return i + 1 < argc ? argv[i + 1] : NULL;
		if (a[0] != '-' || !a[1])
			return a;
		if (strcmp(a, "--help") && strcmp(a, "-h") && !strchr(a, '='))
			i++;
	}
	return NULL;
}

/* The options every device kind has. */
static int sim_common_option(struct sim *sim, int c, const char *arg, unsigned long long *duration)
{
	unsigned long long v;
	switch (c) {
	case 'n':
		if (sim_opt_uint("sim", "--devices", arg, 1, SIM_DEVICES_MAX, &v) < 0)
			return -1;
		sim->devices = (unsigned)v;
		sim->have_devices = 1;
		return 0;
	case 'i':
		if (sim_opt_uint("sim", "--interval-ms", arg, 0, 3600000, &v) < 0)
			return -1;
		sim->interval_ms = (unsigned)v;
		sim->have_interval = 1;
		return 0;
	case 'm':
		if (sim_opt_uint("sim", "--count", arg, 1, SIM_COUNT_MAX, &v) < 0)
			return -1;
		sim->count = (unsigned)v;
		return 0;
	case 'd':
		return sim_opt_uint("sim", "--duration", arg, 1, 86400, duration);
	case 's':
		if (sim_opt_uint("sim", "--seed", arg, 0, UINT64_MAX, &v) < 0)
			return -1;
		sim->seed = v;
		return 0;
	case 'p':
		sim->prefix = arg;
		return 0;
	}
	return -1;
}

/* The devices' names P1..PN must be device names, not the platform's. */
static int sim_check_prefix(const struct sim *sim)
{
	char name[UF_NAME_MAX + 32];
	int n = snprintf(name, sizeof(name), "%s%u", sim->prefix, sim->devices);
	if (n < 0 || (size_t)n >= sizeof(name) || !cli_name_ok("sim", UF_NAME_DEVICE, name)) {
		fprintf(stderr,
		        "unifaas: sim: --prefix '%s': the device names (%s1..%s%u) must be valid device names\n",
		        sim->prefix, sim->prefix, sim->prefix, sim->devices);
		return -1;
	}
	if (!strncmp(name, UF_MQTT_PLATFORM, strlen(UF_MQTT_PLATFORM))) {
		fprintf(stderr, "unifaas: sim: --prefix '%s': names starting with '%s' are the platform's\n",
		        sim->prefix, UF_MQTT_PLATFORM);
		return -1;
	}
	return 0;
}

/* The options of kind k (or, with k NULL, only the common ones: for --help
 * and the messages) into sim.  -1 to run, else the exit code (UF_EX_USAGE,
 * or UF_EX_OK after --help). */
static int sim_options(int argc, char **argv, const struct sim_kind *k, struct sim *sim)
{
	static const struct option common[] = {
	    {"devices", required_argument, NULL, 'n'}, {"interval-ms", required_argument, NULL, 'i'},
	    {"count", required_argument, NULL, 'm'},   {"duration", required_argument, NULL, 'd'},
	    {"seed", required_argument, NULL, 's'},    {"prefix", required_argument, NULL, 'p'}};
	struct option opts[SIM_OPTS_MAX + 1];
	size_t n = 0;
	unsigned long long duration = 0;
	int c, have_count = 0;

	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		opts[n++] = common[i];
	for (size_t i = 0; k && k->opts[i].name && n < SIM_OPTS_MAX; i++)
		opts[n++] = k->opts[i];
	opts[n] = (struct option){NULL, 0, NULL, 0};
	*sim = (struct sim){.kind = k,
	                    .devices = 1,
	                    .interval_ms = 1000,
	                    .count = 10,
	                    .seed = (uint64_t)time(NULL),
	                    .prefix = k ? k->prefix : ""};
	if (k && k->defaults)
		k->defaults(sim);
	while ((c = cli_getopt("sim", argc, argv, "", opts)) != -1) {
		if (c == 'h' || c == '?')
			return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
		have_count |= c == 'm';
		if (c >= 0x200 ? k->option(sim, c, optarg) : sim_common_option(sim, c, optarg, &duration))
			return UF_EX_USAGE;
	}
	if (cli_nargs("sim", argc, argv, 1, 1) < 0 || !k)
		return UF_EX_USAGE;
	if (duration && have_count) {
		fprintf(stderr, "unifaas: sim: --count and --duration: give one of them\n");
		return UF_EX_USAGE;
	}
	if (duration && !k->gap_ms) {
		if (sim->interval_ms == 0) {
			fprintf(stderr, "unifaas: sim: --duration needs an --interval-ms above 0\n");
			return UF_EX_USAGE;
		}
		unsigned long long m = duration * 1000 / sim->interval_ms;
		sim->count = m < 1 ? 1 : m > SIM_COUNT_MAX ? SIM_COUNT_MAX : (unsigned)m;
	}
	if ((k->check && k->check(sim, duration) < 0) || sim_check_prefix(sim) < 0)
		return UF_EX_USAGE;
	return -1;
}

/* mqtt://HOST:PORT (mqtt_url) into sim; 0 or -1 after printing. */
static int sim_broker(const char *url, struct sim *sim)
{
	const char *h = url + strlen("mqtt://"), *colon;
	if (strncmp(url, "mqtt://", 7) || !(colon = strrchr(h, ':')) || colon == h ||
	    (size_t)(colon - h) >= sizeof(sim->host) || (sim->port = atoi(colon + 1)) <= 0 || sim->port > 65535) {
		fprintf(stderr, "unifaas: sim: mqtt_url '%s' in unifaas.conf: expected mqtt://HOST:PORT\n", url);
		return -1;
	}
	snprintf(sim->host, sizeof(sim->host), "%.*s", (int)(colon - h), h);
	if (sim->host[0] == '[' && sim->host[strlen(sim->host) - 1] == ']') { /* [v6] */
		memmove(sim->host, sim->host + 1, strlen(sim->host));
		sim->host[strlen(sim->host) - 1] = 0;
	}
	return 0;
}

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	(void)m;
	((struct sim_dev *)obj)->connack = rc;
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
	(void)m;
	((struct sim_dev *)obj)->acked = mid;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects device d; retries a refused login while the broker reads its
 * new account.  0, or -1 after printing why. */
static int dev_connect(const struct sim *sim, struct sim_dev *d, const char *pass, const char *url)
{
	long long end = now_ms() + SIM_CONNECT_MS;
	int rc;
	if (!(d->m = mosquitto_new(d->name, true, d))) {
		fprintf(stderr, "unifaas: sim: %s: cannot make an MQTT client: %s\n", d->name, strerror(errno));
		return -1;
	}
	mosquitto_connect_callback_set(d->m, on_connect);
	mosquitto_publish_callback_set(d->m, on_publish);
	mosquitto_username_pw_set(d->m, d->name, pass);
	for (;;) {
		d->connack = -1;
		rc = mosquitto_connect(d->m, sim->host, sim->port, 60);
		if (rc != MOSQ_ERR_SUCCESS) {
			fprintf(stderr,
			        "unifaas: sim: cannot reach the broker at %s (mqtt_url in the state dir's "
			        "unifaas.conf): %s: "
			        "%s\n",
			        url, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc), UF_HINT_UP);
			return -1;
		}
		while (d->connack < 0 && now_ms() < end)
			if (mosquitto_loop(d->m, 100, 1) != MOSQ_ERR_SUCCESS && d->connack < 0)
				break;
		if (d->connack == 0)
			return 0;
		if (now_ms() >= end)
			break;
		mosquitto_disconnect(d->m);
		usleep(100 * 1000);
	}
	fprintf(stderr, "unifaas: sim: %s: the broker at %s refused the connection: %s\n", d->name, url,
	        d->connack < 0 ? "no CONNACK" : mosquitto_connack_string(d->connack));
	return -1;
}

/* Publishes one message at QoS 1 and waits for its PUBACK.  0, or -1 after
 * printing why (the caller counts a failure and reconnects). */
static int dev_publish(struct sim_dev *d, const char *topic, const char *payload)
{
	int mid, rc = mosquitto_publish(d->m, &mid, topic, (int)strlen(payload), payload, 1, false);
	long long end = now_ms() + SIM_ACK_MS;
	while (rc == MOSQ_ERR_SUCCESS && d->acked != mid && now_ms() < end)
		rc = mosquitto_loop(d->m, 100, 1);
	if (d->acked == mid)
		return 0;
	fprintf(stderr, "unifaas: sim: %s: publish to %s failed: %s\n", d->name, topic,
	        rc != MOSQ_ERR_SUCCESS ? mosquitto_strerror(rc) : "no PUBACK within 5 s");
	return -1;
}

/* Waits until the monotonic time `until` while the clients keep their connections. */
static void sim_wait(struct sim_dev *devs, unsigned n, long long until)
{
	while (now_ms() < until) {
		for (unsigned i = 0; i < n; i++)
			mosquitto_loop(devs[i].m, 0, 1);
		long long left = until - now_ms();
		if (left > 0)
			usleep((useconds_t)(left > 50 ? 50 : left) * 1000);
	}
}

/* The device whose next message is due first (the first of those due
 * together), or NULL when every device has sent all its messages. */
static struct sim_dev *sim_next(const struct sim *sim, struct sim_dev *devs)
{
	struct sim_dev *next = NULL;
	for (unsigned i = 0; i < sim->devices; i++)
		if (devs[i].sent < sim->count && (!next || devs[i].due_ms < next->due_ms))
			next = &devs[i];
	return next;
}

/* Sends every device's messages, each printed as 'TOPIC PAYLOAD' once
 * acknowledged; the number that failed. */
static unsigned long sim_publish_all(const struct sim *sim, struct sim_dev *devs)
{
	char topic[UF_NAME_MAX + 128], payload[512];
	unsigned long published = 0, failed = 0;
	long long start = now_ms();
	struct sim_dev *d;
	for (unsigned i = 0; i < sim->devices; i++)
		devs[i].due_ms = start;
	while ((d = sim_next(sim, devs))) {
		sim_wait(devs, sim->devices, d->due_ms);
		sim->kind->message(sim, d, d->sent, topic, sizeof(topic), payload, sizeof(payload));
		if (dev_publish(d, topic, payload) == 0) {
			published++;
			printf("%s %s\n", topic, payload);
		} else {
			failed++;
			mosquitto_reconnect(d->m);
		}
		fflush(stdout);
		if (++d->sent < sim->count)
			d->due_ms += sim->kind->gap_ms ? sim->kind->gap_ms(sim, d, d->sent) : sim->interval_ms;
	}
	printf("published %lu, failed %lu\n", published, failed);
	return failed;
}

/* Makes the device accounts and connects them: the exit code of a failure, or -1. */
static int sim_connect_all(const struct sim *sim, const struct cli_state *st, struct sim_dev *devs)
{
	char **names = calloc(sim->devices, sizeof(*names)), **filters = calloc(sim->devices, sizeof(*filters));
	char(*pass)[DEVICE_PASS_LEN] = calloc(sim->devices, sizeof(*pass));
	int ex = UF_EX_ERROR;
	if (!names || !filters || !pass) {
		fprintf(stderr, "unifaas: sim: out of memory\n");
		goto out;
	}
	for (unsigned i = 0; i < sim->devices; i++) {
		names[i] = devs[i].name;
		filters[i] = devs[i].filter;
	}
	if (broker_devices_rekey("sim", st, names, filters, sim->devices, pass) < 0)
		goto out;
	ex = UF_EX_NOT_RUNNING;
	for (unsigned i = 0; i < sim->devices; i++)
		if (dev_connect(sim, &devs[i], pass[i], st->mqtt_url) < 0)
			goto out;
	ex = -1;
out:
	if (pass)
		memset(pass, 0, sim->devices * sizeof(*pass));
	free(names);
	free(filters);
	free(pass);
	return ex;
}

/* Runs the devices of sim->kind; the exit code. */
static int sim_run(struct sim *sim)
{
	const struct sim_kind *k = sim->kind;
	struct cli_state st;
	char err[512], what[160];
	struct sim_dev *devs = NULL;
	int ex;
	if (state_locate("sim", &st) < 0)
		return UF_EX_NOT_RUNNING;
	if (state_load(&st, err, sizeof(err)) < 0) {
		fprintf(stderr, "unifaas: sim: %s\n", err);
		return UF_EX_NOT_RUNNING;
	}
	if (sim_broker(st.mqtt_url, sim) < 0)
		return UF_EX_ERROR;
	if (!(devs = calloc(sim->devices, sizeof(*devs)))) {
		fprintf(stderr, "unifaas: sim: out of memory\n");
		return UF_EX_ERROR;
	}
	for (unsigned i = 0; i < sim->devices; i++) {
		struct sim_dev *d = &devs[i];
		snprintf(d->name, sizeof(d->name), "%s%u", sim->prefix, i + 1);
		d->idx = i;
		d->rng = sim->seed * 1000003u + i;
		d->room = sim->rooms.n ? sim->rooms.name[i % sim->rooms.n] : NULL;
		k->setup(sim, d);
	}
	mosquitto_lib_init();
	if ((ex = sim_connect_all(sim, &st, devs)) >= 0)
		goto out;
	k->describe(sim, what, sizeof(what));
	printf("sim %s: %u %s%s (%s1..%s%u), %u messages each, ", k->name, sim->devices, k->device,
	       sim->devices == 1 ? "" : "s", sim->prefix, sim->prefix, sim->devices, sim->count);
	if (!k->gap_ms)
		printf("every %u ms, ", sim->interval_ms);
	printf("%s, seed %llu, broker %s\n", what, (unsigned long long)sim->seed, st.mqtt_url);
	fflush(stdout);
	ex = sim_publish_all(sim, devs) ? UF_EX_ERROR : UF_EX_OK;
out:
	for (unsigned i = 0; i < sim->devices; i++)
		if (devs[i].m) {
			mosquitto_disconnect(devs[i].m);
			mosquitto_destroy(devs[i].m);
		}
	free(devs);
	mosquitto_lib_cleanup();
	return ex;
}

/* Runs a simulator that is a command of its own with argv[0] its name and
 * the other arguments after it. */
static int sim_command(int (*cmd)(int, char **), const char *name, int argc, char **argv)
{
	char **args = calloc((size_t)argc + 1, sizeof(*args));
	int n = 1, ex;
	if (!args) {
		fprintf(stderr, "unifaas: sim: out of memory\n");
		return UF_EX_ERROR;
	}
	args[0] = (char *)name;
	for (int i = 1; i < argc; i++)
		if (argv[i] != name)
			args[n++] = argv[i];
	ex = cmd(n, args);
	free(args);
	return ex;
}

int cmd_sim(int argc, char **argv)
{
	const char *name = sim_named(argc, argv);
	struct sim sim;
	size_t i = 0, n = sizeof(simulators) / sizeof(simulators[0]);
	while (name && i < n && strcmp(simulators[i].name, name))
		i++;
	if (name && i == n) {
		fprintf(stderr, "unifaas: sim: unknown simulator '%s': expected " SIM_NAMES_LIST "\n", name);
		cli_short_usage("sim");
		return UF_EX_USAGE;
	}
	if (name && simulators[i].cmd)
		return sim_command(simulators[i].cmd, name, argc, argv);
	int ex = sim_options(argc, argv, name ? simulators[i].kind : NULL, &sim);
	if (ex < 0)
		ex = sim_run(&sim);
	free(sim.rooms.buf);
	free(sim.users.buf);
	return ex;
}
