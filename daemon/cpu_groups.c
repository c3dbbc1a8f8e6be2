/*
 * cpu_groups.c - CPU shares between workflows (issue 11 §5): which process
 * goes into which cgroup of this instance (common/cgroup.h: the layout).
 *
 * At start unifaasd moves itself, redis-server and mosquitto (their pid
 * files in the state dir, checked by command name) into the group
 * `platform`, weighted cpu_platform_weight, and removes the workflow
 * groups a previous unifaasd of this state dir left (a crash).  Each unit
 * is moved into wf-<workflow> (weight UF_CG_WEIGHT times the workflow's
 * `share`, the weight of its unit slots: common/admission.h) right after its spawn, or, for a standby tender, before it
 * is told what to run, so the guest never runs outside its group; the tender's reaper (--fast-exit), cloned later,
 * inherits it.  A workflow's group is removed once no workflow of that name is deployed or retired; one still busy (a
 * reaper tearing a VM down) is tried again every 200 ms, and every group is removed at shutdown, when unifaasd also
 * leaves `platform` (removed then if the servers have stopped, else by `unifaas down` once they are gone, with the
 * instance's directory).
 *
 * Where no hierarchy is usable (no cpu controller, no permission,
 * cpu_cgroup=off) this is said once in the log and units run where
 * unifaasd runs; nothing else changes.  A unit that cannot be moved runs
 * anyway (logged, counted once per workflow).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admission.h"
#include "cgroup.h"
#include "cpu_groups.h"
#include "store.h"
#include "unifaasd.h"

#define RETRY_MS    200
#define RETRY_TIMES 50

struct cpu_groups {
	struct uf_cgroups g;
	uv_timer_t retry;
	struct pending { /* groups to remove, still busy */
		struct pending *next;
		char group[UF_NAME_BUF + 8];
		int tries;
	} * pending;
	int warned; /* an attach failed (logged once) */
};

static void group_of(const char *wf, char *out, size_t cap)
{
	snprintf(out, cap, UF_CG_WF_PREFIX "%s", wf);
}

/* The pid in <state>/<name>.pid if its process is named comm, else 0. */
static int service_pid(const struct daemon *d, const char *name, const char *comm)
{
	char path[1200], buf[64];
	snprintf(path, sizeof(path), "%s/%s.pid", d->cfg.state_dir, name);
	FILE *f = fopen(path, "re");
	long pid = f && fgets(buf, sizeof(buf), f) ? strtol(buf, NULL, 10) : 0;
	if (f)
		fclose(f);
	if (pid <= 1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "re");
	int ok = f && fgets(buf, sizeof(buf), f) && (buf[strcspn(buf, "\n")] = 0, !strcmp(buf, comm));
	if (f)
		fclose(f);
	return ok ? (int)pid : 0;
}

static int deployed(const struct daemon *d, const char *group)
{
	const struct workflow *lists[] = {d->workflows, d->retired};
	for (int l = 0; l < 2; l++)
		for (const struct workflow *w = lists[l]; w; w = w->next) {
			char mine[UF_NAME_BUF + 8];
			group_of(w->m->name, mine, sizeof(mine));
			if (!strcmp(mine, group))
				return 1;
		}
	return 0;
}

static void on_retry(uv_timer_t *t);

/* Removes group now, or later if still busy. */
static void remove_group(struct daemon *d, const char *group)
{
	struct cpu_groups *c = d->cpu;
	if (uf_cgroup_remove(&c->g, group) == 0 || errno == ENOENT) {
		dlog("info", "what=cpu-cgroup op=remove group=%s", group);
		return;
	}
	if (errno != EBUSY) {
		dlog("warn", "what=cpu-cgroup op=remove group=%s cause=%s", group, strerror(errno));
		return;
	}
	for (struct pending *p = c->pending; p; p = p->next)
		if (!strcmp(p->group, group))
			return;
	struct pending *p = calloc(1, sizeof(*p));
	if (!p)
		return;
	snprintf(p->group, sizeof(p->group), "%s", group);
	p->next = c->pending;
	c->pending = p;
	if (!uv_is_active((uv_handle_t *)&c->retry))
		uv_timer_start(&c->retry, on_retry, RETRY_MS, RETRY_MS);
}

static void on_retry(uv_timer_t *t)
{
	struct daemon *d = t->data;
	struct cpu_groups *c = d->cpu;
	for (struct pending **pp = &c->pending; *pp;) {
		struct pending *p = *pp;
		int gone = deployed(d, p->group) || uf_cgroup_remove(&c->g, p->group) == 0 || errno == ENOENT;
		if (!gone && ++p->tries >= RETRY_TIMES)
			dlog("warn",
			     "what=cpu-cgroup op=remove group=%s cause=\"still busy after %d s\" fix=\"left to "
			     "the next shutdown\"",
			     p->group, RETRY_MS * RETRY_TIMES / 1000);
		if (gone || p->tries >= RETRY_TIMES) {
			*pp = p->next;
			free(p);
		} else
			pp = &p->next;
	}
	if (!c->pending)
		uv_timer_stop(&c->retry);
}

static void stale_one(void *arg, const char *group)
{
	struct daemon *d = arg;
	if (!strncmp(group, UF_CG_WF_PREFIX, strlen(UF_CG_WF_PREFIX)) && !deployed(d, group))
		remove_group(d, group);
}

static void attach_service(struct daemon *d, const char *name, const char *comm)
{
	char err[1024];
	int pid = service_pid(d, name, comm);
	if (pid && uf_cgroup_attach(&d->cpu->g, UF_CG_PLATFORM, pid, err, sizeof(err)) < 0)
		dlog("warn", "what=cpu-cgroup op=attach service=%s cause=%s", name, err);
}

void cpu_groups_open(struct daemon *d)
{
	char err[1024];
	struct cpu_groups *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	d->cpu = c;
	uv_timer_init(d->loop, &c->retry);
	c->retry.data = d;
	if (uf_cgroup_locate(&c->g, d->cfg.cpu_cgroup, d->cfg.state_dir, NULL, err, sizeof(err)) < 0 ||
	    uf_cgroup_make(&c->g, UF_CG_PLATFORM, d->cfg.cpu_platform_weight, err, sizeof(err)) < 0 ||
	    uf_cgroup_attach(&c->g, UF_CG_PLATFORM, getpid(), err, sizeof(err)) < 0) {
		if (err[0])
			dlog("warn",
			     "what=cpu-cgroups result=off cause=%s fix=\"units share the CPU without per-workflow "
			     "weights; set cpu_cgroup in unifaasd.conf to a cgroup directory delegated to you, or "
			     "cpu_cgroup=off to silence this\"",
			     err);
		else
			dlog("info", "what=cpu-cgroups result=off cause=\"cpu_cgroup=off\"");
		if (c->g.kind != UF_CG_NONE) /* made but unusable: what was made goes */
			uf_cgroup_remove_all(&c->g);
		c->g.kind = UF_CG_NONE;
		return;
	}
	attach_service(d, "redis", "redis-server");
	attach_service(d, "mosquitto", "mosquitto");
	uf_cgroup_each(&c->g, stale_one, d);
	dlog("info", "what=cpu-cgroups result=on kind=%s dir=%s acct=%s platform_weight=%u workflow_weight=%u",
	     uf_cgroup_kind_name(c->g.kind), c->g.cpu, c->g.acct[0] ? c->g.acct : "-", d->cfg.cpu_platform_weight,
	     UF_CG_WEIGHT);
}

int cpu_groups_on(const struct daemon *d)
{
	return d->cpu && d->cpu->g.kind != UF_CG_NONE;
}

/* A workflow's CPU weight: its share of the node (common/admission.h), as
 * for the unit slots. */
static unsigned weight_of(const struct workflow *w)
{
	return UF_CG_WEIGHT * (w->m->share ? w->m->share : UF_SHARE_DEFAULT);
}

void cpu_groups_attach(struct daemon *d, const struct workflow *w, int pid)
{
	char group[UF_NAME_BUF + 8], err[1024];
	const char *wf = w->m->name;
	if (!cpu_groups_on(d))
		return;
	struct cpu_groups *c = d->cpu;
	group_of(wf, group, sizeof(group));
	unsigned weight = weight_of(w);
	int rc = uf_cgroup_attach(&c->g, group, pid, err, sizeof(err));
	if (rc == 0 && uf_cgroup_weigh(&c->g, group, weight) < 0) /* a redeploy may change its share */
		dlog("warn", "what=cpu-cgroup op=weigh group=%s weight=%u cause=%s", group, weight, strerror(errno));
	if (rc < 0 && errno == ENOENT) { /* first unit of the workflow (or its group was removed) */
		rc = uf_cgroup_make(&c->g, group, weight, err, sizeof(err));
		if (rc == 0) {
			dlog("info", "what=cpu-cgroup op=make group=%s weight=%u", group, weight);
			rc = uf_cgroup_attach(&c->g, group, pid, err, sizeof(err));
		}
	}
	if (rc < 0 && errno != ESRCH && !c->warned++)
		dlog("warn",
		     "what=cpu-cgroup op=attach workflow=%s pid=%d cause=%s fix=\"the unit runs outside its "
		     "workflow's CPU share; logged once\"",
		     wf, pid, err);
}

void cpu_groups_gone(struct daemon *d, const char *wf)
{
	char group[UF_NAME_BUF + 8];
	if (!cpu_groups_on(d))
		return;
	group_of(wf, group, sizeof(group));
	if (!deployed(d, group))
		remove_group(d, group);
}

int cpu_groups_usage_us(const struct daemon *d, const char *wf, uint64_t *us)
{
	char group[UF_NAME_BUF + 8];
	if (!cpu_groups_on(d))
		return -1;
	if (wf)
		group_of(wf, group, sizeof(group));
	return uf_cgroup_usage_us(&d->cpu->g, wf ? group : UF_CG_PLATFORM, us);
}

static void close_one(void *arg, const char *group)
{
	struct daemon *d = arg;
	if (strncmp(group, UF_CG_WF_PREFIX, strlen(UF_CG_WF_PREFIX)))
		return;
	/* every unit is reaped by now; a reaper may still be tearing its VM down */
	for (int i = 0; i < 50; i++) {
		if (uf_cgroup_remove(&d->cpu->g, group) == 0 || errno != EBUSY)
			return;
		usleep(20000);
	}
	dlog("warn", "what=cpu-cgroup op=remove group=%s cause=\"a process is still in it\"", group);
}

static void free_on_close(uv_handle_t *h)
{
	free(h->data);
}

void cpu_groups_close(struct daemon *d)
{
	struct cpu_groups *c = d->cpu;
	if (!c)
		return;
	if (c->g.kind != UF_CG_NONE) {
		uf_cgroup_each(&c->g, close_one, d);
		/* out of platform, which goes with the instance's directory if
		 * redis-server and mosquitto have stopped too (else `down` removes them) */
		if (uf_cgroup_leave(&c->g, getpid()) == 0 && uf_cgroup_remove(&c->g, UF_CG_PLATFORM) == 0)
			uf_cgroup_remove_all(&c->g);
	}
	while (c->pending) {
		struct pending *p = c->pending;
		c->pending = p->next;
		free(p);
	}
	uv_timer_stop(&c->retry);
	c->retry.data = c;
	uv_close((uv_handle_t *)&c->retry, free_on_close);
	d->cpu = NULL;
}
