/*
 * sim.h - what the device simulators of `unifaas sim` share (docs/cli.md).
 *
 * sim.c owns the command: it picks the simulator by name, parses the
 * options every MQTT simulator has (--devices, --interval-ms, --count,
 * --duration, --seed, --prefix), makes the device accounts, connects the
 * devices and publishes, at QoS 1, the messages a kind writes, each at the
 * time the kind says.  A kind (struct sim_kind) says only what its devices
 * are: its own options, each device's topic filter, each message's topic
 * and payload, and, if not every --interval-ms, when each is due.
 * sim_sck.c is the Smart Citizen Kit; sim_home.c the smart-home devices of
 * the evaluation workloads (motion, weight, smoke, door).
 *
 * Invariants: a message counts as published only once its PUBACK came
 * back; a run is bounded (count messages per device); the values of a run
 * depend only on --seed and the options, never on the clock (only
 * timestamps do, and weight's dates without --start-date).
 */
#ifndef UF_CLI_SIM_H
#define UF_CLI_SIM_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "cli.h"

#define SIM_DEVICES_MAX 1000
#define SIM_COUNT_MAX   1000000
#define SIM_NAMES_MAX   64 /* rooms or users in one list */

/* A comma-separated list of names (--rooms, --users). */
struct sim_names {
	char *buf;
	const char *name[SIM_NAMES_MAX];
	unsigned n;
};

struct sim_dev {
	char name[UF_NAME_MAX + 1];
	char filter[UF_NAME_MAX + 64];
	struct mosquitto *m;
	uint64_t rng;
	unsigned idx;      /* 0..devices-1 */
	const char *room;  /* kinds with --rooms: this device's */
	int json;          /* sck: sends the JSON format */
	unsigned sent;     /* messages sent (published or failed) */
	long long due_ms;  /* when its next message is due */
	long long rest_ms; /* door: the wait after the close that ends this opening */
	int connack;       /* -1 waiting, else the CONNACK's code */
	int acked;         /* the mid of the last PUBACK */
};

enum co2_pattern { CO2_RISING, CO2_STEADY, CO2_NOISY, CO2_PEAK };
enum sim_format { FMT_RAW, FMT_JSON, FMT_MIXED };

struct sim {
	const struct sim_kind *kind;
	unsigned devices, interval_ms, count;
	int have_devices, have_interval; /* given on the command line */
	uint64_t seed;
	const char *prefix;
	char host[256];
	int port;
	/* sck (sim_sck.c) */
	enum co2_pattern co2;
	enum sim_format format;
	/* motion, door, smoke (sim_home.c) */
	struct sim_names rooms;
	const char *pattern;          /* motion: of '1' and '0', or NULL: random */
	struct sim_names users;       /* weight */
	double drift_kg;              /* weight: per day */
	time_t start_day;             /* weight: the first reading's day (00:00 UTC), or 0: so the last is today */
	unsigned alarm_at, alarm_for; /* smoke: messages */
	unsigned opens_per_hour;      /* door: 0 with --interval-ms */
};

struct sim_kind {
	const char *name;   /* sck */
	const char *device; /* what a device is, for the banner: "kit" */
	const char *prefix; /* the default of --prefix */
	/* its own options: getopt_long entries whose val is at least 0x200 */
	const struct option *opts;
	/* sets the kind's defaults in sim, before the options */
	void (*defaults)(struct sim *sim);
	/* one of its options: 0, or -1 after printing why */
	int (*option)(struct sim *sim, int opt, const char *arg);
	/* after all options: checks them together, may set sim->devices and
	 * sim->count; 0, or -1 after printing why */
	int (*check)(struct sim *sim, unsigned long long duration_s);
	/* device d's topic filter into d->filter, and its room or format */
	void (*setup)(const struct sim *sim, struct sim_dev *d);
	/* message i (0..count-1) of device d: its topic and payload */
	void (*message)(const struct sim *sim, struct sim_dev *d, unsigned i, char *topic, size_t tlen, char *buf,
	                size_t len);
	/* optional: ms from message i-1 of d to message i (default --interval-ms) */
	long long (*gap_ms)(const struct sim *sim, struct sim_dev *d, unsigned i);
	/* the kind's part of the banner ("co2 rising"), into buf */
	void (*describe)(const struct sim *sim, char *buf, size_t len);
};

extern const struct sim_kind sim_sck, sim_motion, sim_weight, sim_smoke, sim_door;

/* splitmix64: small, and the same numbers everywhere for one seed */
uint64_t sim_rng_next(uint64_t *s);
/* uniform in [-1, 1] */
double sim_rng_unit(uint64_t *s);
/* uniform in [0, 1) */
double sim_rng_frac(uint64_t *s);
/* v, a list NAME[,NAME]... of 1..48 of [A-Za-z0-9_-], into *names; else -1
 * after saying so with opt */
int sim_opt_names(const char *opt, const char *v, struct sim_names *names);
/* "--opt 'v': expected ..." and the short usage; always -1 */
int sim_bad(const char *opt, const char *v, const char *expected);
/* The current time, UTC, as 2026-12-04T22:44:28Z. */
void sim_utc_now(char *buf, size_t len);

#endif
