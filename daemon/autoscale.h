/*
 * autoscale.h - scaling policies: how many units a step wants.
 *
 * A policy sees one step's backlog (entries not yet acknowledged: unread +
 * pending), how many units it runs and its scale settings, and answers how
 * many units it wants.  The scheduler clamps nothing itself beyond the
 * limits checked in order (step, workflow, node, grace, TAP), so a policy
 * must keep its answer within [min_units, max_units].
 */
#ifndef UF_AUTOSCALE_H
#define UF_AUTOSCALE_H

#include <stdint.h>

#include "manifest.h"

struct scale_input {
	uint64_t backlog;
	uint32_t running;
	const struct uf_scale *cfg;
};

struct scale_policy {
	const char *name;
	uint32_t (*wanted)(const struct scale_input *in);
};

/* ceil(backlog / events_per_unit) within [min_units, max_units], and at
 * least one unit while there is any backlog */
extern const struct scale_policy scale_static_threshold;

const struct scale_policy *scale_policy_find(const char *name);

#endif
