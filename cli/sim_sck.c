/*
 * sim_sck.c - `unifaas sim sck`: simulated Smart Citizen Kits (a device
 * kind of sim.h, run by sim.c).
 *
 * Each kit has the one filter device/sck/<token>/# (its device name is its
 * token) and publishes to device/sck/<token>/readings/raw (the raw format)
 * or device/sck/<token>/readings (the JSON format), both as
 * /work/shared/testdata/sck/README.md (docs/cli.md) defines them, CO2 as
 * sensor 158, temperature 55, humidity 56, battery 10.  CO2 follows --co2;
 * the values depend only on --seed, the pattern and the count.
 */
#include <getopt.h>
#include <string.h>

#include "sim.h"

enum { OPT_CO2 = 0x200, OPT_FORMAT };

static const char *const co2_names[] = {"rising", "steady", "noisy", "peak"};

/* CO2 in ppm of reading i (0..count-1) of kit k */
static int co2_value(const struct sim *sim, struct sim_dev *k, unsigned i)
{
	switch (sim->co2) {
	case CO2_RISING: /* 400 -> 2500 ppm over the run */
		return 400 + (int)(2100.0 * i / (sim->count > 1 ? sim->count - 1 : 1) + 0.5);
	case CO2_PEAK: { /* 400 -> 2500 at the middle reading -> 400 at the last */
		double x = (double)i / (sim->count > 1 ? sim->count - 1 : 1);
		return 400 + (int)(2100.0 * (1 - (x < 0.5 ? 1 - 2 * x : 2 * x - 1)) + 0.5);
	}
	case CO2_STEADY:
		return 600 + (int)(5 * sim_rng_unit(&k->rng));
	default: /* noisy: around 1000 ppm */
		return 1000 + (int)(150 * sim_rng_unit(&k->rng));
	}
}

static void sck_message(const struct sim *sim, struct sim_dev *k, unsigned i, char *topic, size_t tlen, char *buf,
                        size_t len)
{
	char ts[32];
	sim_utc_now(ts, sizeof(ts));
	int co2 = co2_value(sim, k, i);
	double temp = 21.0 + 0.5 * sim_rng_unit(&k->rng), hum = 45.0 + 2 * sim_rng_unit(&k->rng);
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

static void sck_defaults(struct sim *sim)
{
	sim->co2 = CO2_STEADY;
	sim->format = FMT_RAW;
}

static int sck_option(struct sim *sim, int opt, const char *arg)
{
	static const char *const formats[] = {"raw", "json", "mixed"};
	if (opt == OPT_CO2) {
		for (size_t i = 0; i < sizeof(co2_names) / sizeof(co2_names[0]); i++)
			if (!strcmp(arg, co2_names[i]))
				return sim->co2 = (enum co2_pattern)i, 0;
		return sim_bad("--co2", arg, "rising, peak, steady or noisy");
	}
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (!strcmp(arg, formats[i]))
			return sim->format = (enum sim_format)i, 0;
	return sim_bad("--format", arg, "raw, json or mixed");
}

static void sck_setup(const struct sim *sim, struct sim_dev *k)
{
	snprintf(k->filter, sizeof(k->filter), "device/sck/%s/#", k->name);
	k->json = sim->format == FMT_JSON || (sim->format == FMT_MIXED && k->idx % 2);
}

static void sck_describe(const struct sim *sim, char *buf, size_t len)
{
	snprintf(buf, len, "co2 %s", co2_names[sim->co2]);
}

static const struct option sck_opts[] = {
    {"co2", required_argument, NULL, OPT_CO2}, {"format", required_argument, NULL, OPT_FORMAT}, {NULL, 0, NULL, 0}};

const struct sim_kind sim_sck = {.name = "sck",
                                 .device = "kit",
                                 .prefix = "sck-sim-",
                                 .opts = sck_opts,
                                 .defaults = sck_defaults,
                                 .option = sck_option,
                                 .setup = sck_setup,
                                 .message = sck_message,
                                 .describe = sck_describe};
