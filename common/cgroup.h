/*
 * cgroup.h - the CPU cgroups of one unifaas instance (issue 11 §5), used by
 * unifaasd (daemon/cpu_groups.c: who goes where) and by `unifaas down`
 * (which removes what is left once every server has stopped).
 *
 * One instance = one state dir.  Its groups live in one directory of the
 * cpu hierarchy, named unifaas-<16 hex digits of a hash of the state dir's
 * absolute path> (uf_cgroup_name): two platforms on one machine never share
 * or remove each other's groups, and a restart of the same state dir finds
 * (and cleans) what a crash of the previous one left.  In it:
 *   platform      unifaasd, redis-server, mosquitto (and standby tenders)
 *   wf-<name>     the units of workflow <name>
 * weighted as its unit slots are (cpu.weight 100 times the workflow's
 * `share`, 1 by default, on cgroup v2; cpu.shares 1024 times it on v1), the
 * platform's set apart (cpu_platform_weight): when several have work, each
 * gets its share of the CPU, whatever the number of its units.
 * The instance's directory weighs what its groups weigh together (set
 * again as groups come and go), so against the machine's other processes
 * the platform counts as its servers and one process per workflow, not as
 * one process in all.
 *
 * Hierarchies: cgroup v2 (cpu.weight; CPU use from cpu.stat's usage_usec),
 * or cgroup v1's cpu controller (cpu.shares; CPU use from cpuacct.usage,
 * in the cpuacct hierarchy, which may be mounted apart: then the same
 * groups are made there too).  Nothing here keeps state but the paths, so
 * the CLI can remove an instance the daemon made.
 */
#ifndef UF_CGROUP_H
#define UF_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#define UF_CG_PREFIX           "unifaas-"
#define UF_CG_PLATFORM         "platform"
#define UF_CG_WF_PREFIX        "wf-"
#define UF_CG_WEIGHT           100 /* a workflow's weight, in cgroup v2 cpu.weight units */
#define UF_CG_WEIGHT_MAX       10000
#define UF_CG_PLATFORM_DEFAULT 200 /* cpu_platform_weight's default: bench/RESULTS.md "CPU shares" */

enum uf_cg_kind { UF_CG_NONE, UF_CG_V1, UF_CG_V2 };

struct uf_cgroups {
	enum uf_cg_kind kind;
	char cpu[600];  /* the instance's directory where the weights are set (v1 cpu, or v2) */
	char acct[600]; /* v1 only: the instance's directory in a cpuacct hierarchy mounted apart, or "" */
	char name[40];  /* unifaas-<hash> */
};

/* The instance's directory name for state_dir (made absolute, symlinks
 * resolved, when it exists): "unifaas-" and 16 lowercase hex digits. */
void uf_cgroup_name(const char *state_dir, char *out, size_t cap);

/* Where the instance's groups go for the setting `spec` ("auto": the
 * cgroup v2 mount if its root offers the cpu controller, else cgroup v1's
 * cpu controller; "off"; or the absolute path of a cgroup directory, v1
 * or v2, delegated to us) and the mount table `mountinfo`
 * (/proc/self/mountinfo when NULL).  Nothing is created.  0, or -1 with
 * err saying why there is none (g->kind UF_CG_NONE); "off" is -1 with err "". */
int uf_cgroup_locate(struct uf_cgroups *g, const char *spec, const char *state_dir, const char *mountinfo, char *err,
                     size_t errlen);

/* Makes the instance's directory (v2: the cpu controller enabled for its
 * children) and in it `group` with weight (v2 cpu.weight units; v1 gets
 * weight * 1024 / 100 shares).  An existing one is kept, its weight set
 * again.  0, or -1 with err naming the path and the cause. */
int uf_cgroup_make(const struct uf_cgroups *g, const char *group, unsigned weight, char *err, size_t errlen);

/* Sets group's weight (as uf_cgroup_make) when it differs, and the
 * instance's.  0, or -1 with errno. */
int uf_cgroup_weigh(const struct uf_cgroups *g, const char *group, unsigned weight);

/* Moves process pid (all its threads) into group.  0, or -1 with errno
 * (ENOENT: the group is gone, ESRCH: the process) and err. */
int uf_cgroup_attach(const struct uf_cgroups *g, const char *group, int pid, char *err, size_t errlen);

/* Moves process pid out of the instance, into the directory the instance's
 * is in (what a process leaving, such as unifaasd at its end, does so its
 * group can go).  0, or -1 with errno. */
int uf_cgroup_leave(const struct uf_cgroups *g, int pid);

/* CPU time the group's processes used since it was made, in µs: 0, or -1
 * (no accounting on this host, or the group is gone). */
int uf_cgroup_usage_us(const struct uf_cgroups *g, const char *group, uint64_t *us);

/* Removes group (empty of processes).  0, or -1 with errno (EBUSY: a
 * process is still in it; ENOENT: not there). */
int uf_cgroup_remove(const struct uf_cgroups *g, const char *group);

/* Calls fn for each group of the instance (the names of its directories). */
void uf_cgroup_each(const struct uf_cgroups *g, void (*fn)(void *arg, const char *group), void *arg);

/* Removes every group of the instance and its directory: the groups still
 * holding a process are left.  The number of directories left. */
int uf_cgroup_remove_all(const struct uf_cgroups *g);

/* "v1" / "v2" / "none" */
const char *uf_cgroup_kind_name(enum uf_cg_kind k);

#endif
