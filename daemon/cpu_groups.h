/*
 * cpu_groups.h - CPU shares between workflows: each workflow's units in a
 * cgroup of their own, the platform's servers in another (cpu_groups.c).
 */
#ifndef CPU_GROUPS_H
#define CPU_GROUPS_H

#include <stdint.h>

struct daemon;

/* At start, after the restore: the platform group, the servers in it,
 * stale workflow groups removed; logs once when no hierarchy is usable. */
void cpu_groups_open(struct daemon *d);
/* 1 when units get per-workflow groups */
int cpu_groups_on(const struct daemon *d);
/* Moves a unit's tender (pid) into its workflow's group, made on first use,
 * weighted by the workflow's share. */
struct workflow;
void cpu_groups_attach(struct daemon *d, const struct workflow *w, int pid);
/* A workflow of this name was freed: its group goes when none is left. */
void cpu_groups_gone(struct daemon *d, const char *wf);
/* CPU time used by a workflow's units (wf NULL: the platform's servers), in
 * µs since its group was made: 0, or -1 (no groups, no accounting). */
int cpu_groups_usage_us(const struct daemon *d, const char *wf, uint64_t *us);
/* At shutdown, every unit reaped: the workflow groups removed. */
void cpu_groups_close(struct daemon *d);

#endif
