/*
 * autoscale.c - the scaling policies (see autoscale.h).
 *
 * Only the static-threshold policy of ARCHITECTURE §4 exists today.  Scale
 * down is not a decision here: surplus units run out of events and exit by
 * themselves after idle_ms, which also keeps a unit around through short
 * gaps instead of paying a cold start for each burst.
 */
#include <string.h>

#include "autoscale.h"

static uint32_t static_threshold(const struct scale_input *in)
{
	const struct uf_scale *c = in->cfg;
	uint64_t per = c->events_per_unit ? c->events_per_unit : 1;
	uint64_t want = (in->backlog + per - 1) / per;
	if (want < c->min_units)
		want = c->min_units;
	if (want > c->max_units)
		want = c->max_units;
	return (uint32_t)want;
}

const struct scale_policy scale_static_threshold = {"static-threshold", static_threshold};

const struct scale_policy *scale_policy_find(const char *name)
{
	if (!name || !strcmp(name, scale_static_threshold.name))
		return &scale_static_threshold;
	return NULL;
}
