/*
 * pwrate.h - the ingress rate's arithmetic (pushwin.c), free of I/O so it
 * is unit-tested (tests/unit/test_pwrate.c): each workflow's token bucket
 * while two or more workflows push.  Times are milliseconds of one
 * monotonic clock; rates are events a second.
 *
 * Invariants: a flow is held only while at least two flows are active and
 * ingress_rate is set; its rate is ingress_rate * share / the active
 * flows' shares; its bucket holds at most PW_BURST_MS of that, never less
 * than one token; a flow not held keeps a full bucket of ingress_rate.
 */
#ifndef UF_PWRATE_H
#define UF_PWRATE_H

#include <stdint.h>

#include "pushwin.h"

/* A flow's rate (events a second), 0 when it is not held: no ingress_rate,
 * fewer than two active flows, or no shares counted. */
static inline double pw_rate(uint64_t ingress_rate, uint32_t share, unsigned nactive, uint64_t active_shares)
{
	if (!ingress_rate || nactive < 2 || !active_shares)
		return 0;
	return (double)ingress_rate * share / (double)active_shares;
}

/* The bucket's size at rate r: PW_BURST_MS of it, at least one token. */
static inline double pw_burst(double r)
{
	double b = r * PW_BURST_MS / 1000.0;
	return b < 1 ? 1 : b;
}

/* The bucket after elapsed_ms at rate r (0: not held, so full at
 * ingress_rate's size), capped at its size. */
static inline double pw_refill(double tokens, double r, uint64_t ingress_rate, uint64_t elapsed_ms)
{
	double b = pw_burst(r ? r : (double)ingress_rate);
	double t = r ? tokens + r * (double)elapsed_ms / 1000.0 : b;
	return t > b ? b : t;
}

/* Milliseconds until a bucket of `tokens` (< 1) at rate r (> 0) holds one. */
static inline double pw_token_due_ms(double tokens, double r)
{
	return (1 - tokens) * 1000.0 / r;
}

#endif
