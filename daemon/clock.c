/*
 * clock.c - the daemon's two clocks: now_ms (monotonic) for intervals,
 * timers and budgets; wall_ms (epoch) for times a user sees, such as an
 * event's `time`.  Nothing else in the daemon reads a clock for these.
 */
#include <time.h>

#include "delivery.h"
#include "unifaasd.h"

static uint64_t ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t now_ms(void)
{
	return ms(CLOCK_MONOTONIC);
}

uint64_t wall_ms(void)
{
	return uf_time_ms(); /* the one clock of event times (common/delivery.h) */
}
