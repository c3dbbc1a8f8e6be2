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

/*
 * Node admission (slots.c gathers the figures, the scheduler acts): may a
 * workflow start one more unit on the node?  A unit takes one of the
 * node's max_units slots and its function's memory (plus the tender's
 * overhead) from the node's unit_memory_budget.  Every running workflow
 * is guaranteed a share of both in proportion to its manifest's `share`
 * (common/admission.h; equal by default); a unit within its
 * workflow's share starts whenever it fits in what is free, and when it
 * does not, units other workflows hold beyond their share are taken back
 * (SLOT_RECLAIM).  A unit beyond the share borrows: it starts only if it
 * fits in what is free after what workflows waiting within their share
 * have reserved, and is the first taken back.
 */
struct slot_use {
	uint64_t units;
	uint64_t memory; /* bytes */
};

struct slot_input {
	struct slot_use cap;      /* the node: max_units, unit_memory_budget */
	struct slot_use used;     /* all units on the node (starting, running, stopping) */
	struct slot_use share;    /* this workflow's guaranteed share */
	struct slot_use mine;     /* this workflow's units (stopping ones too) */
	struct slot_use reserved; /* held for other workflows waiting within their share */
	uint64_t need;            /* memory of the unit to start */
};

enum slot_verdict {
	SLOT_START,        /* it fits: start it */
	SLOT_WAIT_UNITS,   /* a borrow that does not fit in the free slots */
	SLOT_WAIT_MEMORY,  /* a borrow that does not fit in the free memory */
	SLOT_RECLAIM,      /* within its share and it does not fit: take borrowed units back */
	SLOT_NEVER_MEMORY, /* more memory than the whole budget */
};

struct slot_policy {
	const char *name;
	/* the guaranteed share of a running workflow of weight `weight` (its
	 * manifest's share) among running workflows whose weights add up to
	 * `total` (common/admission.h); weight 0 counts as 1, total below
	 * weight as weight */
	struct slot_use (*share)(struct slot_use cap, uint32_t weight, uint32_t total);
	enum slot_verdict (*admit)(const struct slot_input *in);
};

/* weighted shares: cap * weight / total of slots and of memory (rounded
 * down; what is left over is borrowed like any idle slot) */
extern const struct slot_policy slot_fair_share;

#endif
