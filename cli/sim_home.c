/*
 * sim_home.c - the smart-home devices of the evaluation workloads, device
 * kinds of sim.h run by sim.c (docs/cli.md, docs/examples.md):
 *
 *   motion  WeMo-style motion sensors -> wemo/<room>/motion  (workflows/lights.yaml)
 *           {"deviceId":"wemo-sim-1","BinaryState":1,"timestamp":1764892800}
 *   weight  body analyzers          -> scale/<device>/weight (workflows/dhs.yaml)
 *           {"user":"alice","weight_kg":72.4,"date":1764572400,"fat_ratio":21.5,"deviceid":"scale-sim-1"}
 *   smoke   Nest-style smoke alarms -> nest/<device>/smoke   (workflows/alert.yaml)
 *           {"device_id":"nest-sim-1","where_name":"kitchen","smoke_alarm_state":"ok","smoke_level":12}
 *   door    fridge-door sensors     -> home/<room>/door      (workflows/eval.yaml)
 *           open | close
 *
 * exactly the formats functions/lights.c, dhs.c, alert.c and fdc.c parse.
 * Each device may publish only to its own topic (its account's one
 * filter).  A device with a room takes the rooms of --rooms in turn.
 *
 * Invariants: the values depend only on --seed and the options: a motion
 * sensor's states follow --pattern; a user's weights depend on the seed,
 * the user's place in --users and the reading's number (not on which scale
 * sent it); a smoke alarm is over SMOKE_ALERT_LEVEL's default (50) exactly
 * in messages alarm_at .. alarm_at+alarm_for-1; a door's messages alternate
 * open, close, starting with open.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

enum { OPT_ROOMS = 0x200, OPT_PATTERN, OPT_USERS, OPT_DRIFT, OPT_START, OPT_ALARM_AT, OPT_ALARM_FOR, OPT_OPH };

#define DAY_S          86400
#define SMOKE_OVER_MIN 60 /* alarm levels 60..95, clear ones 0..15: either side of alert.c's 50 */
#define DOOR_OPH       6  /* default openings per hour */

static int home_option(struct sim *sim, int opt, const char *arg)
{
	unsigned long long v;
	char *end;
	switch (opt) {
	case OPT_ROOMS:
		return sim_opt_names("--rooms", arg, &sim->rooms);
	case OPT_USERS:
		return sim_opt_names("--users", arg, &sim->users);
	case OPT_PATTERN:
		if (!strcmp(arg, "random"))
			return sim->pattern = NULL, 0;
		if (!arg[0] || arg[strspn(arg, "01")] || strlen(arg) > 1000)
			return sim_bad("--pattern", arg, "1 (motion) and 0 (none), e.g. 1100, at most 1000, or random");
		sim->pattern = arg;
		return 0;
	case OPT_DRIFT:
		sim->drift_kg = strtod(arg, &end);
		if (end == arg || *end || !(sim->drift_kg >= -2 && sim->drift_kg <= 2))
			return sim_bad("--drift", arg, "kg per day from -2 to 2, e.g. -0.05");
		return 0;
	case OPT_START: {
		struct tm tm = {0}, back;
		end = strptime(arg, "%Y-%m-%d", &tm);
		int mday = tm.tm_mday;
		sim->start_day = end && !*end && tm.tm_year >= 70 && tm.tm_year <= 8000 ? timegm(&tm) : 0;
		if (!sim->start_day || !gmtime_r(&sim->start_day, &back) || back.tm_mday != mday) /* 2025-02-30 */
			return sim_bad("--start-date", arg, "a day as YYYY-MM-DD, from 1970-01-02");
		return 0;
	}
	case OPT_ALARM_AT:
		if (sim_opt_uint("sim", "--alarm-at", arg, 1, SIM_COUNT_MAX, &v) < 0)
			return -1;
		sim->alarm_at = (unsigned)v;
		return 0;
	case OPT_ALARM_FOR:
		if (sim_opt_uint("sim", "--alarm-for", arg, 1, SIM_COUNT_MAX, &v) < 0)
			return -1;
		sim->alarm_for = (unsigned)v;
		return 0;
	case OPT_OPH:
		if (sim_opt_uint("sim", "--opens-per-hour", arg, 1, 3600000, &v) < 0)
			return -1;
		sim->opens_per_hour = (unsigned)v;
		return 0;
	}
	return -1;
}

/* --rooms: default kitchen; given, one device per room unless --devices */
static int home_rooms(struct sim *sim)
{
	if (!sim->rooms.n)
		return sim_opt_names("--rooms", "kitchen", &sim->rooms);
	if (!sim->have_devices)
		sim->devices = sim->rooms.n;
	return 0;
}

/* Joins names into buf ("kitchen,hall"). */
static void names_join(const struct sim_names *names, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < names->n && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "," : "", names->name[i]);
}

/* --- motion: WeMo motion sensors for lights.c -------------------------- */

static void motion_defaults(struct sim *sim)
{
	sim->pattern = "10";
}

static int motion_check(struct sim *sim, unsigned long long duration_s)
{
	(void)duration_s;
	return home_rooms(sim);
}

static void motion_setup(const struct sim *sim, struct sim_dev *d)
{
	(void)sim;
	snprintf(d->filter, sizeof(d->filter), "wemo/%s/motion", d->room);
}

static void motion_message(const struct sim *sim, struct sim_dev *d, unsigned i, char *topic, size_t tlen, char *buf,
                           size_t len)
{
	int on = sim->pattern ? sim->pattern[i % strlen(sim->pattern)] == '1' : (int)(sim_rng_next(&d->rng) & 1);
	snprintf(topic, tlen, "wemo/%s/motion", d->room);
	snprintf(buf, len, "{\"deviceId\":\"%s\",\"BinaryState\":%d,\"timestamp\":%lld}", d->name, on,
	         (long long)time(NULL));
}

static void motion_describe(const struct sim *sim, char *buf, size_t len)
{
	char rooms[96];
	names_join(&sim->rooms, rooms, sizeof(rooms));
	snprintf(buf, len, "rooms %s, pattern %s", rooms, sim->pattern ? sim->pattern : "random");
}

/* --- weight: body analyzers for dhs.c ----------------------------------- */

static void weight_defaults(struct sim *sim)
{
	sim->drift_kg = -0.05;
}

/* Readings per user in the run, the last user's maybe one fewer. */
static unsigned weight_per_user(const struct sim *sim)
{
	unsigned long long total = (unsigned long long)sim->count * sim->devices;
	return (unsigned)((total + sim->users.n - 1) / sim->users.n);
}

static int weight_check(struct sim *sim, unsigned long long duration_s)
{
	(void)duration_s;
	if (!sim->users.n && sim_opt_names("--users", "alice", &sim->users) < 0)
		return -1;
	if (!sim->start_day) { /* the last reading today */
		time_t today = time(NULL) / DAY_S * DAY_S;
		sim->start_day = today - (time_t)(weight_per_user(sim) - 1) * DAY_S;
	}
	return 0;
}

static void weight_setup(const struct sim *sim, struct sim_dev *d)
{
	(void)sim;
	snprintf(d->filter, sizeof(d->filter), "scale/%s/weight", d->name);
}

/* Reading n of user u: the user weighs in every morning (07:00-08:00 UTC)
 * from start_day; the weight starts at 55..95 kg, drifts by --drift a day,
 * with +-0.3 kg of noise, shown to 0.1 kg as a scale does. */
static void weight_message(const struct sim *sim, struct sim_dev *d, unsigned i, char *topic, size_t tlen, char *buf,
                           size_t len)
{
	unsigned long long g = (unsigned long long)i * sim->devices + d->idx;
	unsigned u = (unsigned)(g % sim->users.n), n = (unsigned)(g / sim->users.n);
	uint64_t user_rng = sim->seed * 1000003u + 0x5157u * (u + 1), r = user_rng ^ (0x9e3779b97f4a7c15ull * (n + 1));
	double base = 55 + 40 * sim_rng_frac(&user_rng), fat = 18 + 10 * sim_rng_frac(&user_rng);
	double kg = round((base + sim->drift_kg * n + 0.3 * sim_rng_unit(&r)) * 10) / 10;
	long long date =
	    (long long)sim->start_day + (long long)n * DAY_S + 7 * 3600 + (long long)(3600 * sim_rng_frac(&r));
	kg = kg < 1 ? 1 : kg > 500 ? 500 : kg;
	snprintf(topic, tlen, "scale/%s/weight", d->name);
	snprintf(buf, len, "{\"user\":\"%s\",\"weight_kg\":%.1f,\"date\":%lld,\"fat_ratio\":%.1f,\"deviceid\":\"%s\"}",
	         sim->users.name[u], kg, date, fat + 0.2 * sim_rng_unit(&r), d->name);
}

static void weight_describe(const struct sim *sim, char *buf, size_t len)
{
	char users[96], day[16];
	struct tm tm;
	names_join(&sim->users, users, sizeof(users));
	gmtime_r(&sim->start_day, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	snprintf(buf, len, "users %s, drift %+.3g kg/day, from %s", users, sim->drift_kg, day);
}

/* --- smoke: Nest smoke alarms for alert.c ------------------------------- */

static int smoke_check(struct sim *sim, unsigned long long duration_s)
{
	(void)duration_s;
	if (sim->alarm_for && !sim->alarm_at) {
		fprintf(stderr, "unifaas: sim: --alarm-for needs --alarm-at (the message the alarm starts at)\n");
		return -1;
	}
	if (sim->alarm_at > sim->count) {
		fprintf(
		    stderr,
		    "unifaas: sim: --alarm-at %u: past the last message (%u per alarm): lower it or raise --count\n",
		    sim->alarm_at, sim->count);
		return -1;
	}
	/* the device name is the reading's device_id: alert.c takes [A-Za-z0-9_-] */
	if (sim->prefix[strspn(sim->prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")]) {
		fprintf(stderr,
		        "unifaas: sim: --prefix '%s': a smoke alarm's name is its device_id: only A-Z a-z 0-9 _ -\n",
		        sim->prefix);
		return -1;
	}
	return home_rooms(sim);
}

static void smoke_setup(const struct sim *sim, struct sim_dev *d)
{
	(void)sim;
	snprintf(d->filter, sizeof(d->filter), "nest/%s/smoke", d->name);
}

static void smoke_message(const struct sim *sim, struct sim_dev *d, unsigned i, char *topic, size_t tlen, char *buf,
                          size_t len)
{
	unsigned nth = i + 1;
	int over = sim->alarm_at && nth >= sim->alarm_at && (!sim->alarm_for || nth - sim->alarm_at < sim->alarm_for);
	int level = over ? SMOKE_OVER_MIN + (int)(35 * sim_rng_frac(&d->rng)) : (int)(16 * sim_rng_frac(&d->rng));
	snprintf(topic, tlen, "nest/%s/smoke", d->name);
	snprintf(buf, len,
	         "{\"device_id\":\"%s\",\"where_name\":\"%s\",\"smoke_alarm_state\":\"%s\",\"smoke_level\":%d}",
	         d->name, d->room, over ? "emergency" : "ok", level);
}

static void smoke_describe(const struct sim *sim, char *buf, size_t len)
{
	if (!sim->alarm_at)
		snprintf(buf, len, "no alarm");
	else if (sim->alarm_for)
		snprintf(buf, len, "alarm at message %u for %u", sim->alarm_at, sim->alarm_for);
	else
		snprintf(buf, len, "alarm from message %u", sim->alarm_at);
}

/* --- door: fridge doors for fdc.c --------------------------------------- */

static int door_check(struct sim *sim, unsigned long long duration_s)
{
	if (sim->opens_per_hour && sim->have_interval) {
		fprintf(stderr, "unifaas: sim: --opens-per-hour and --interval-ms: give one of them\n");
		return -1;
	}
	if (!sim->have_interval && !sim->opens_per_hour)
		sim->opens_per_hour = DOOR_OPH;
	if (duration_s) { /* an opening and its closing per cycle */
		unsigned long long m = sim->opens_per_hour ? 2 * (duration_s * sim->opens_per_hour / 3600)
		                       : sim->interval_ms  ? duration_s * 1000 / sim->interval_ms
		                                           : 0;
		if (!sim->opens_per_hour && !sim->interval_ms) {
			fprintf(stderr, "unifaas: sim: --duration needs an --interval-ms above 0\n");
			return -1;
		}
		sim->count = m < 1 ? 1 : m > SIM_COUNT_MAX ? SIM_COUNT_MAX : (unsigned)m;
	}
	return home_rooms(sim);
}

static void door_setup(const struct sim *sim, struct sim_dev *d)
{
	(void)sim;
	snprintf(d->filter, sizeof(d->filter), "home/%s/door", d->room);
}

/* With --opens-per-hour R the openings come at random (a Poisson process:
 * exponential gaps, R an hour on average), each door staying open for 10
 * to 30% of the time to the next. */
static long long door_gap_ms(const struct sim *sim, struct sim_dev *d, unsigned i)
{
	if (!sim->opens_per_hour)
		return sim->interval_ms;
	if (i % 2 == 0) /* an opening: the rest of the cycle */
		return d->rest_ms;
	double cycle = -log(1 - sim_rng_frac(&d->rng)) * 3600000.0 / sim->opens_per_hour;
	long long open = llround(cycle * (0.1 + 0.2 * sim_rng_frac(&d->rng)));
	d->rest_ms = llround(cycle) - open;
	return open;
}

static void door_message(const struct sim *sim, struct sim_dev *d, unsigned i, char *topic, size_t tlen, char *buf,
                         size_t len)
{
	(void)sim;
	snprintf(topic, tlen, "home/%s/door", d->room);
	snprintf(buf, len, "%s", i % 2 ? "close" : "open");
}

static void door_describe(const struct sim *sim, char *buf, size_t len)
{
	char rooms[96];
	names_join(&sim->rooms, rooms, sizeof(rooms));
	if (sim->opens_per_hour)
		snprintf(buf, len, "rooms %s, %u opens per hour", rooms, sim->opens_per_hour);
	else
		snprintf(buf, len, "rooms %s, every %u ms", rooms, sim->interval_ms);
}

/* --- the kinds ---------------------------------------------------------- */

static const struct option motion_opts[] = {{"rooms", required_argument, NULL, OPT_ROOMS},
                                            {"pattern", required_argument, NULL, OPT_PATTERN},
                                            {NULL, 0, NULL, 0}};
static const struct option weight_opts[] = {{"users", required_argument, NULL, OPT_USERS},
                                            {"drift", required_argument, NULL, OPT_DRIFT},
                                            {"start-date", required_argument, NULL, OPT_START},
                                            {NULL, 0, NULL, 0}};
static const struct option smoke_opts[] = {{"rooms", required_argument, NULL, OPT_ROOMS},
                                           {"alarm-at", required_argument, NULL, OPT_ALARM_AT},
                                           {"alarm-for", required_argument, NULL, OPT_ALARM_FOR},
                                           {NULL, 0, NULL, 0}};
static const struct option door_opts[] = {{"rooms", required_argument, NULL, OPT_ROOMS},
                                          {"opens-per-hour", required_argument, NULL, OPT_OPH},
                                          {NULL, 0, NULL, 0}};

const struct sim_kind sim_motion = {.name = "motion",
                                    .device = "motion sensor",
                                    .prefix = "wemo-sim-",
                                    .opts = motion_opts,
                                    .defaults = motion_defaults,
                                    .option = home_option,
                                    .check = motion_check,
                                    .setup = motion_setup,
                                    .message = motion_message,
                                    .describe = motion_describe};
const struct sim_kind sim_weight = {.name = "weight",
                                    .device = "scale",
                                    .prefix = "scale-sim-",
                                    .opts = weight_opts,
                                    .defaults = weight_defaults,
                                    .option = home_option,
                                    .check = weight_check,
                                    .setup = weight_setup,
                                    .message = weight_message,
                                    .describe = weight_describe};
const struct sim_kind sim_smoke = {.name = "smoke",
                                   .device = "smoke alarm",
                                   .prefix = "nest-sim-",
                                   .opts = smoke_opts,
                                   .option = home_option,
                                   .check = smoke_check,
                                   .setup = smoke_setup,
                                   .message = smoke_message,
                                   .describe = smoke_describe};
const struct sim_kind sim_door = {.name = "door",
                                  .device = "door",
                                  .prefix = "door-sim-",
                                  .opts = door_opts,
                                  .option = home_option,
                                  .check = door_check,
                                  .setup = door_setup,
                                  .message = door_message,
                                  .gap_ms = door_gap_ms,
                                  .describe = door_describe};
