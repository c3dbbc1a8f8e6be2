/*
 * fuzz_readings_log.c - libFuzzer target of the CO2 log's parsers
 * (functions/lib/readings_log.c).  Each input is parsed as a readings-log
 * event, as a slot's value and as an index list.  Invariants: no crash,
 * leak or undefined behaviour; an accepted event has a device and a time
 * that pass their rules (so they fit in KV keys as they are) and at most
 * SCK_MAX_SENSORS finite values with ids 0..LOG_SENSOR_MAX; a refused one
 * says why; a slot that parses, formatted again, parses to the same k,
 * time and value (when its value is as %.10g writes it); a list's walk
 * stays inside the input.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "readings_log.h"

static struct log_reading r;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[200] = "", *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (log_parse_reading(s, size, &r, why, sizeof(why)) == 0) {
		if (!log_device_ok(r.device, strlen(r.device)) || !log_time_ok(r.time, strlen(r.time)) || r.n < 0 ||
		    r.n > SCK_MAX_SENSORS)
			abort();
		for (int i = 0; i < r.n; i++)
			if (!isfinite(r.s[i].value) || r.s[i].id < 0 || r.s[i].id > LOG_SENSOR_MAX)
				abort();
	} else if (!why[0]) {
		abort();
	}
	long long k;
	char time[SCK_TIME_MAX], value[32], back[128];
	if (log_slot_parse(s, &k, time, value) == 0) {
		if (!log_time_ok(time, strlen(time)))
			abort();
		double v = strtod(value, NULL);
		log_slot_format(back, sizeof(back), k, time, v);
		char again[32];
		snprintf(again, sizeof(again), "%.10g", v);
		long long k2;
		char time2[SCK_TIME_MAX], value2[32];
		if (strcmp(again, value) == 0 && (log_slot_parse(back, &k2, time2, value2) != 0 || k2 != k ||
		                                  strcmp(time2, time) != 0 || strcmp(value2, value) != 0))
			abort();
	}
	size_t pos = 0, n;
	const char *e;
	for (int i = 0; log_list_next(s, &pos, &e, &n); i++)
		if (e < s || e + n > s + size || pos > size || i > (int)size)
			abort();
	free(s);
	return 0;
}
