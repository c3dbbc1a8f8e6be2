/*
 * admission.h - the figures of node admission (issue 11 §1, §4) that the
 * manifest, unifaasd's slots (daemon/slots.c, autoscale.c) and the docs
 * share: a workflow's weight in the node's fair shares, and what a unit
 * costs the node's unit memory beside its guest.
 *
 * Shares: each running workflow is guaranteed cap * share / S of the
 * node's unit slots and unit memory (rounded down), S being the sum of the
 * shares of the running workflows; so the guarantees add up to at most the
 * node's capacity whatever the weights.  `share` is the manifest's
 * top-level key (UF_SHARE_DEFAULT when absent), 1..UF_SHARE_MAX: a
 * workflow of share 3 beside one of share 1 is guaranteed three quarters.
 * Borrowing idle slots and taking them back do not depend on it.
 */
#ifndef UF_ADMISSION_H
#define UF_ADMISSION_H

#define UF_SHARE_DEFAULT 1u
#define UF_SHARE_MAX     16u

#endif
