/*
 * sim.c - `unifaas sim sck`: simulated Smart Citizen Kits publishing their
 * readings to the platform's broker the way a kit does.
 *
 * Each kit is a device account (broker.c's registry, the code of `unifaas
 * device add`) named PREFIX1..PREFIXN, its token; the simulator gives it a
 * fresh password at each run (so re-running re-keys the same accounts) with
 * the one filter device/sck/<token>/#, connects with the token as client id
 * and publishes to device/sck/<token>/readings/raw (the raw format) or
 * device/sck/<token>/readings (the JSON format), both as
 * /work/shared/testdata/sck/README.md (docs/cli.md) defines them, CO2 as
 * sensor 158.
 *
 * Invariants: every publish is QoS 1 and counted as published only once
 * its PUBACK came back, so "published N" is what the broker took; the run
 * is bounded (count readings per kit); the values of a run depend only on
 * --seed, the pattern and the count (never the clock, except the
 * timestamps).
 */
#include <errno.h>
#include <getopt.h>
#include <mosquitto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define SIM_DEVICES_MAX 1000
#define SIM_ACK_MS      5000 /* a PUBACK later than this: a failure */
#define SIM_CONNECT_MS  5000 /* the broker reads a new account on SIGHUP: retry refusals this long */

enum co2_pattern { CO2_RISING, CO2_STEADY, CO2_NOISY, CO2_PEAK };
static const char *const co2_names[] = {"rising", "steady", "noisy", "peak"};
enum sim_format { FMT_RAW, FMT_JSON, FMT_MIXED };

struct kit {
	char name[UF_NAME_MAX + 1];
	char filter[UF_NAME_MAX + 32];
	struct mosquitto *m;
	uint64_t rng;
	int connack; /* -1 waiting, else the CONNACK's code */
	int acked;   /* the mid of the last PUBACK */
	int json;
};

struct sim {
	unsigned devices, interval_ms, count;
	enum co2_pattern co2;
	enum sim_format format;
	uint64_t seed;
	const char *prefix;
	char host[256];
	int port;
};

/* splitmix64: small, and the same numbers everywhere for one seed */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* uniform in [-1, 1] */
static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) / (double)(1ull << 52) - 1.0;
}

/* CO2 in ppm of reading k (0..n-1) */
static int co2_value(const struct sim *sim, struct kit *k, unsigned i)
{
	switch (sim->co2) {
	case CO2_RISING: /* 400 -> 2500 ppm over the run */
		return 400 + (int)(2100.0 * i / (sim->count > 1 ? sim->count - 1 : 1) + 0.5);
	case CO2_PEAK: { /* 400 -> 2500 at the middle reading -> 400 at the last */
		double x = (double)i / (sim->count > 1 ? sim->count - 1 : 1);
		return 400 + (int)(2100.0 * (1 - (x < 0.5 ? 1 - 2 * x : 2 * x - 1)) + 0.5);
	}
	case CO2_STEADY:
		return 600 + (int)(5 * rng_unit(&k->rng));
	default: /* noisy: around 1000 ppm */
		return 1000 + (int)(150 * rng_unit(&k->rng));
	}
}

/* The payload of reading i of kit k into buf, its topic into topic. */
static void reading(const struct sim *sim, struct kit *k, unsigned i, char *topic, size_t tlen, char *buf, size_t len)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	int co2 = co2_value(sim, k, i);
	double temp = 21.0 + 0.5 * rng_unit(&k->rng), hum = 45.0 + 2 * rng_unit(&k->rng);
	int battery = 100 - (int)(i / 10 % 100);
	if (k->json) {
		snprintf(topic, tlen, "device/sck/%s/readings", k->name);
		snprintf(buf, len,
		         "{\"data\":[{\"recorded_at\":\"%s\",\"sensors\":[{\"id\":158,\"value\":%d},"
		         "{\"id\":55,\"value\":%.2f},{\"id\":56,\"value\":%.2f},{\"id\":10,\"value\":%d}]}]}",
		         ts, co2, temp, hum, battery);
	} else {
		snprintf(topic, tlen, "device/sck/%s/readings/raw", k->name);
		snprintf(buf, len, "{t:%s,10:%d,55:%.2f,56:%.2f,158:%d}", ts, battery, temp, hum, co2);
	}
}

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	(void)m;
	((struct kit *)obj)->connack = rc;
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
	(void)m;
	((struct kit *)obj)->acked = mid;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects kit k; retries a refused login while the broker reads its new
 * account.  0, or -1 after printing why. */
static int kit_connect(const struct sim *sim, struct kit *k, const char *pass, const char *url)
{
	long long end = now_ms() + SIM_CONNECT_MS;
	int rc;
	if (!(k->m = mosquitto_new(k->name, true, k))) {
		fprintf(stderr, "unifaas: sim: %s: cannot make an MQTT client: %s\n", k->name, strerror(errno));
		return -1;
	}
	mosquitto_connect_callback_set(k->m, on_connect);
	mosquitto_publish_callback_set(k->m, on_publish);
	mosquitto_username_pw_set(k->m, k->name, pass);
	for (;;) {
		k->connack = -1;
		rc = mosquitto_connect(k->m, sim->host, sim->port, 60);
		if (rc != MOSQ_ERR_SUCCESS) {
			fprintf(stderr,
			        "unifaas: sim: cannot reach the broker at %s (mqtt_url in the state dir's "
			        "unifaas.conf): %s: "
			        "%s\n",
			        url, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc), UF_HINT_UP);
			return -1;
		}
		while (k->connack < 0 && now_ms() < end)
			if (mosquitto_loop(k->m, 100, 1) != MOSQ_ERR_SUCCESS && k->connack < 0)
				break;
		if (k->connack == 0)
			return 0;
		if (now_ms() >= end)
			break;
		mosquitto_disconnect(k->m);
		usleep(100 * 1000);
	}
	fprintf(stderr, "unifaas: sim: %s: the broker at %s refused the connection: %s\n", k->name, url,
	        k->connack < 0 ? "no CONNACK" : mosquitto_connack_string(k->connack));
	return -1;
}

/* Publishes one message at QoS 1 and waits for its PUBACK.  0, or -1 after
 * printing why (the caller counts a failure and reconnects). */
static int kit_publish(struct kit *k, const char *topic, const char *payload)
{
	int mid, rc = mosquitto_publish(k->m, &mid, topic, (int)strlen(payload), payload, 1, false);
	long long end = now_ms() + SIM_ACK_MS;
	while (rc == MOSQ_ERR_SUCCESS && k->acked != mid && now_ms() < end)
		rc = mosquitto_loop(k->m, 100, 1);
	if (k->acked == mid)
		return 0;
	fprintf(stderr, "unifaas: sim: %s: publish to %s failed: %s\n", k->name, topic,
	        rc != MOSQ_ERR_SUCCESS ? mosquitto_strerror(rc) : "no PUBACK within 5 s");
	return -1;
}

/* Sleeps ms while the clients keep their connections. */
static void sim_wait(struct kit *kits, unsigned n, unsigned ms)
{
	long long end = now_ms() + ms;
	while (now_ms() < end) {
		for (unsigned i = 0; i < n; i++)
			mosquitto_loop(kits[i].m, 0, 1);
		long long left = end - now_ms();
		if (left > 0)
			usleep((useconds_t)(left > 50 ? 50 : left) * 1000);
	}
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

static int opt_uint(const char *opt, const char *v, unsigned long long min, unsigned long long max,
                    unsigned long long *out)
{
	return sim_opt_uint("sim", opt, v, min, max, out);
}

/* --devices N --interval-ms T --co2 P --count M --duration S --format F
 * --seed S --prefix P into sim.  -1 to run, else the exit code (UF_EX_USAGE,
 * or UF_EX_OK after --help). */
static int sim_options(int argc, char **argv, struct sim *sim)
{
	static const struct option opts[] = {{"devices", required_argument, NULL, 'n'},
	                                     {"interval-ms", required_argument, NULL, 'i'},
	                                     {"co2", required_argument, NULL, 'c'},
	                                     {"count", required_argument, NULL, 'm'},
	                                     {"duration", required_argument, NULL, 'd'},
	                                     {"format", required_argument, NULL, 'f'},
	                                     {"seed", required_argument, NULL, 's'},
	                                     {"prefix", required_argument, NULL, 'p'},
	                                     {NULL, 0, NULL, 0}};
	unsigned long long v, duration = 0;
	int c, have_count = 0;

	*sim = (struct sim){.devices = 1,
	                    .interval_ms = 1000,
	                    .count = 10,
	                    .co2 = CO2_STEADY,
	                    .format = FMT_RAW,
	                    .seed = (uint64_t)time(NULL),
	                    .prefix = "sck-sim-"};
	while ((c = cli_getopt("sim", argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'n':
			if (opt_uint("--devices", optarg, 1, SIM_DEVICES_MAX, &v) < 0)
				return UF_EX_USAGE;
			sim->devices = (unsigned)v;
			break;
		case 'i':
			if (opt_uint("--interval-ms", optarg, 0, 3600000, &v) < 0)
				return UF_EX_USAGE;
			sim->interval_ms = (unsigned)v;
			break;
		case 'm':
			if (opt_uint("--count", optarg, 1, 1000000, &v) < 0)
				return UF_EX_USAGE;
			sim->count = (unsigned)v;
			have_count = 1;
			break;
		case 'd':
			if (opt_uint("--duration", optarg, 1, 86400, &duration) < 0)
				return UF_EX_USAGE;
			break;
		case 's':
			if (opt_uint("--seed", optarg, 0, UINT64_MAX, &v) < 0)
				return UF_EX_USAGE;
			sim->seed = v;
			break;
		case 'c':
			if (!strcmp(optarg, "rising"))
				sim->co2 = CO2_RISING;
			else if (!strcmp(optarg, "steady"))
				sim->co2 = CO2_STEADY;
			else if (!strcmp(optarg, "noisy"))
				sim->co2 = CO2_NOISY;
			else if (!strcmp(optarg, "peak"))
				sim->co2 = CO2_PEAK;
			else {
				fprintf(stderr, "unifaas: sim: --co2 '%s': expected rising, peak, steady or noisy\n",
				        optarg);
				return UF_EX_USAGE;
			}
			break;
		case 'f':
			if (!strcmp(optarg, "raw"))
				sim->format = FMT_RAW;
			else if (!strcmp(optarg, "json"))
				sim->format = FMT_JSON;
			else if (!strcmp(optarg, "mixed"))
				sim->format = FMT_MIXED;
			else {
				fprintf(stderr, "unifaas: sim: --format '%s': expected raw, json or mixed\n", optarg);
				return UF_EX_USAGE;
			}
			break;
		case 'p':
			sim->prefix = optarg;
			break;
		default:
			return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
		}
	}
	if (duration && have_count) {
		fprintf(stderr, "unifaas: sim: --count and --duration: give one of them\n");
		return UF_EX_USAGE;
	}
	if (duration) {
		if (sim->interval_ms == 0) {
			fprintf(stderr, "unifaas: sim: --duration needs an --interval-ms above 0\n");
			return UF_EX_USAGE;
		}
		unsigned long long n = duration * 1000 / sim->interval_ms;
		sim->count = n < 1 ? 1 : n > 1000000 ? 1000000 : (unsigned)n;
	}
	if (cli_nargs("sim", argc, argv, 1, 1) < 0)
		return UF_EX_USAGE;
	if (strcmp(argv[optind], "sck")) {
		fprintf(stderr, "unifaas: sim: unknown simulator '%s': expected sck\n", argv[optind]);
		return UF_EX_USAGE;
	}
	char name[UF_NAME_MAX + 32];
	int n = snprintf(name, sizeof(name), "%s%u", sim->prefix, sim->devices);
	if (n < 0 || (size_t)n >= sizeof(name) || !cli_name_ok("sim", UF_NAME_DEVICE, name)) {
		fprintf(stderr,
		        "unifaas: sim: --prefix '%s': the device names (%s1..%s%u) must be valid device names\n",
		        sim->prefix, sim->prefix, sim->prefix, sim->devices);
		return UF_EX_USAGE;
	}
	if (!strncmp(name, UF_MQTT_PLATFORM, strlen(UF_MQTT_PLATFORM))) {
		fprintf(stderr, "unifaas: sim: --prefix '%s': names starting with '%s' are the platform's\n",
		        sim->prefix, UF_MQTT_PLATFORM);
		return UF_EX_USAGE;
	}
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

int cmd_sim(int argc, char **argv)
{
	struct sim sim;
	struct cli_state st;
	char err[512], topic[UF_NAME_MAX + 64], payload[512];
	char **names = NULL, **filters = NULL, (*pass)[DEVICE_PASS_LEN] = NULL;
	struct kit *kits = NULL;
	unsigned long published = 0, failed = 0;
	if (argc > 1 && !strcmp(argv[1], "slack")) /* sim_slack.c */
		return cmd_sim_slack(argc - 1, argv + 1);
	int ex = sim_options(argc, argv, &sim);
	if (ex >= 0)
		return ex;
	if (state_locate("sim", &st) < 0)
		return UF_EX_NOT_RUNNING;
	if (state_load(&st, err, sizeof(err)) < 0) {
		fprintf(stderr, "unifaas: sim: %s\n", err);
		return UF_EX_NOT_RUNNING;
	}
	if (sim_broker(st.mqtt_url, &sim) < 0)
		return UF_EX_ERROR;
	ex = UF_EX_ERROR;
	kits = calloc(sim.devices, sizeof(*kits));
	names = calloc(sim.devices, sizeof(*names));
	filters = calloc(sim.devices, sizeof(*filters));
	pass = calloc(sim.devices, sizeof(*pass));
	if (!kits || !names || !filters || !pass)
		goto out;
	for (unsigned i = 0; i < sim.devices; i++) {
		struct kit *k = &kits[i];
		snprintf(k->name, sizeof(k->name), "%s%u", sim.prefix, i + 1);
		snprintf(k->filter, sizeof(k->filter), "device/sck/%s/#", k->name);
		k->rng = sim.seed * 1000003u + i;
		k->json = sim.format == FMT_JSON || (sim.format == FMT_MIXED && i % 2);
		names[i] = k->name;
		filters[i] = k->filter;
	}
	if (broker_devices_rekey("sim", &st, names, filters, sim.devices, pass) < 0)
		goto out;
	mosquitto_lib_init();
	for (unsigned i = 0; i < sim.devices; i++)
		if (kit_connect(&sim, &kits[i], pass[i], st.mqtt_url) < 0) {
			ex = UF_EX_NOT_RUNNING;
			goto out;
		}
	printf("sim sck: %u kit%s (%s1..%s%u), %u readings each, every %u ms, co2 %s, seed %llu, broker %s\n",
	       sim.devices, sim.devices == 1 ? "" : "s", sim.prefix, sim.prefix, sim.devices, sim.count,
	       sim.interval_ms, co2_names[sim.co2], (unsigned long long)sim.seed, st.mqtt_url);
	fflush(stdout);
	for (unsigned r = 0; r < sim.count; r++) {
		if (r && sim.interval_ms)
			sim_wait(kits, sim.devices, sim.interval_ms);
		for (unsigned i = 0; i < sim.devices; i++) {
			struct kit *k = &kits[i];
			reading(&sim, k, r, topic, sizeof(topic), payload, sizeof(payload));
			if (kit_publish(k, topic, payload) == 0) {
				published++;
				printf("%s %s\n", topic, payload);
			} else {
				failed++;
				mosquitto_reconnect(k->m);
			}
			fflush(stdout);
		}
	}
	printf("published %lu, failed %lu\n", published, failed);
	ex = failed ? UF_EX_ERROR : UF_EX_OK;
out:
	if (kits)
		for (unsigned i = 0; i < sim.devices; i++)
			if (kits[i].m) {
				mosquitto_disconnect(kits[i].m);
				mosquitto_destroy(kits[i].m);
			}
	if (pass)
		memset(pass, 0, sim.devices * sizeof(*pass));
	free(kits);
	free(names);
	free(filters);
	free(pass);
	mosquitto_lib_cleanup();
	return ex;
}
