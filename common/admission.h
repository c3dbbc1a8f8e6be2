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
 *
 * A unit's cost to the node's unit_memory_budget is its function's
 * `memory` plus UF_TENDER_OVERHEAD, the tender beside its guest.  Measured
 * (bench/tender_rss.sh, bench/RESULTS.md "Tender memory", 2026-12-05, the
 * plain static uf-hvt running as unifaasd starts it, 8 MiB guests): its own
 * resident memory, VmRSS minus the guest mapping's Rss, is 336-416 KiB
 * (idle 336-356; after 2000 events of platform_fn, fdc or fib 368-396;
 * its peak, VmHWM minus the guest's pages, 388-580 KiB; two runs), plus
 * kernel memory outside VmRSS: its page tables (VmPTE) 48-52 KiB, and for
 * its VM and vCPU about 95 KiB of slab and 44 KiB of kernel stacks (/proc/meminfo
 * with 16 idle units started: SUnreclaim +1520 KiB, KernelStack +700 KiB).
 * So 0.5-0.75 MiB in all; 1 MiB leaves a quarter or more to spare.  Not
 * counted: a commit's working set, which is transient and grows with what
 * the batch staged (the tender copies the staged records out of the guest
 * and hiredis formats one chunk of at most limits.batch_commit_bytes):
 * 7.7 MiB beside 6.4 MB of staged pushes, 19 MiB beside 1 MiB KV values.
 */
#ifndef UF_ADMISSION_H
#define UF_ADMISSION_H

#define UF_SHARE_DEFAULT 1u
#define UF_SHARE_MAX     16u

#define UF_TENDER_OVERHEAD (1u << 20) /* bytes; a whole number of MiB (messages print it so) */
_Static_assert(UF_TENDER_OVERHEAD % (1u << 20) == 0, "UF_TENDER_OVERHEAD is printed in MiB");

#endif
