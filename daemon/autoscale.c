/*
 * autoscale.c - the scaling policies (see autoscale.h).
 *
 * Only the static-threshold policy of ARCHITECTURE §4 exists today.  Scale
 * down is not a decision here: surplus units run out of events and exit by
 * themselves after idle_ms, which also keeps a unit around through short
 * gaps instead of paying a cold start for each burst.
 *
 * The node's admission policy (autoscale.h: slot_fair_share) is here too:
 * pure arithmetic on figures daemon/slots.c gathers, so it is unit-tested
 * alone.  Invariant: the shares of the running workflows (each
 * cap * share / sum of shares, rounded down) add up to at most the node's
 * capacity, so every workflow can be given its share at once by
 * taking borrowed units back.
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

/* cap.memory * weight fits 64 bits: memory is at most a machine's RAM
 * (< 2^48), weight at most UF_SHARE_MAX (admission.h) */
static struct slot_use weighted_share(struct slot_use cap, uint32_t weight, uint32_t total)
{
	weight = weight ? weight : 1;
	total = total < weight ? weight : total;
	return (struct slot_use){.units = cap.units * weight / total, .memory = cap.memory * weight / total};
}

static int fits(struct slot_use used, struct slot_use extra, uint64_t need, struct slot_use cap)
{
	return used.units + extra.units + 1 <= cap.units && used.memory + extra.memory + need <= cap.memory;
}

static enum slot_verdict fair_admit(const struct slot_input *in)
{
	struct slot_use none = {0};
	if (in->need > in->cap.memory)
		return SLOT_NEVER_MEMORY;
	int within = in->mine.units + 1 <= in->share.units && in->mine.memory + in->need <= in->share.memory;
	if (within)
		return fits(in->used, none, in->need, in->cap) ? SLOT_START : SLOT_RECLAIM;
	if (fits(in->used, in->reserved, in->need, in->cap))
		return SLOT_START;
	return in->used.units + in->reserved.units + 1 > in->cap.units ? SLOT_WAIT_UNITS : SLOT_WAIT_MEMORY;
}

const struct slot_policy slot_fair_share = {"fair-share", weighted_share, fair_admit};

const struct scale_policy *scale_policy_find(const char *name)
{
	if (!name || !strcmp(name, scale_static_threshold.name))
		return &scale_static_threshold;
	return NULL;
}
