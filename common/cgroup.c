/*
 * cgroup.c - the CPU cgroups of one unifaas instance (cgroup.h says the
 * layout and the rules).  Plain files and directories under a cgroup
 * mount: every write is one small write(2) of a whole value, as the
 * kernel wants it; nothing is cached, so the CLI and the daemon see the
 * same tree.  Builds with glibc and musl like the rest of common/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"

const char *uf_cgroup_kind_name(enum uf_cg_kind k)
{
	return k == UF_CG_V2 ? "v2" : k == UF_CG_V1 ? "v1" : "none";
}

void uf_cgroup_name(const char *state_dir, char *out, size_t cap)
{
	char abs[PATH_MAX];
	const char *p = realpath(state_dir, abs) ? abs : state_dir;
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	snprintf(out, cap, UF_CG_PREFIX "%016llx", (unsigned long long)h);
}

/* Writes text to dir/file in one write.  0, or -1 with errno. */
static int put(const char *dir, const char *file, const char *text)
{
	char path[800];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	/* as a shell's `echo N > file`: O_CREAT and O_TRUNC do nothing to a
	 * cgroup's files, which exist with their directory (and let the unit
	 * test use a plain directory) */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	size_t n = strlen(text);
	ssize_t w = write(fd, text, n);
	int e = errno;
	close(fd);
	errno = e;
	return w == (ssize_t)n ? 0 : -1;
}

/* Reads dir/file (at most cap - 1 bytes).  Its length, or -1. */
static ssize_t get(const char *dir, const char *file, char *buf, size_t cap)
{
	char path[800];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n;
}

static int has_file(const char *dir, const char *file)
{
	char path[800];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return access(path, F_OK) == 0;
}

/* word is one of the words of list (separated by any of seps) */
static int has_word(const char *list, const char *word, const char *seps)
{
	size_t n = strlen(word);
	for (const char *p = list; *p; p += strcspn(p, seps), p += strspn(p, seps))
		if (strcspn(p, seps) == n && !strncmp(p, word, n))
			return 1;
	return 0;
}

/* A cgroup2 directory whose children may get the cpu controller. */
static int v2_offers_cpu(const char *dir)
{
	char c[512];
	return get(dir, "cgroup.controllers", c, sizeof(c)) >= 0 && has_word(c, "cpu", " \n");
}

/* mountinfo's octal escapes (\040 for a space) undone in place */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++)
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else
			*o++ = *s;
	*o = 0;
}

/* The mount points of the cgroup2 hierarchy, of v1's cpu controller and of
 * v1's cpuacct controller ("" where there is none). */
static void find_mounts(const char *mountinfo, char *v2, char *cpu, char *acct, size_t cap)
{
	char line[4096];
	v2[0] = cpu[0] = acct[0] = 0;
	FILE *f = fopen(mountinfo ? mountinfo : "/proc/self/mountinfo", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char *fld[5], *save = NULL, *dash = strstr(line, " - ");
		if (!dash)
			continue;
		*dash = 0;
		char *tail = dash + 3, *p = line;
		int n = 0;
		for (char *t; n < 5 && (t = strtok_r(p, " ", &save)); p = NULL)
			fld[n++] = t;
		char *fstype = strtok_r(tail, " ", &save), *source = strtok_r(NULL, " ", &save),
		     *opts = strtok_r(NULL, " \n", &save);
		if (n < 5 || !fstype || !source || !opts)
			continue;
		unescape(fld[4]);
		if (!strcmp(fstype, "cgroup2") && !v2[0])
			snprintf(v2, cap, "%s", fld[4]);
		else if (!strcmp(fstype, "cgroup") && has_word(opts, "cpu", ",") && !cpu[0])
			snprintf(cpu, cap, "%s", fld[4]);
		if (!strcmp(fstype, "cgroup") && has_word(opts, "cpuacct", ",") && !acct[0])
			snprintf(acct, cap, "%s", fld[4]);
	}
	if (f)
		fclose(f);
}

/* The instance's directories under base (v1: with acct_base, "" for the
 * same hierarchy or none). */
static int place(struct uf_cgroups *g, enum uf_cg_kind kind, const char *base, const char *acct_base, char *err,
                 size_t errlen)
{
	g->kind = kind;
	if (snprintf(g->cpu, sizeof(g->cpu), "%s/%s", base, g->name) >= (int)sizeof(g->cpu) ||
	    snprintf(g->acct, sizeof(g->acct), "%s%s%s", acct_base, acct_base[0] ? "/" : "",
	             acct_base[0] ? g->name : "") >= (int)sizeof(g->acct)) {
		snprintf(err, errlen, "cgroup path too long: %s", base);
		g->kind = UF_CG_NONE;
		return -1;
	}
	return 0;
}

int uf_cgroup_locate(struct uf_cgroups *g, const char *spec, const char *state_dir, const char *mountinfo, char *err,
                     size_t errlen)
{
	char v2[512], cpu[512], acct[512];
	memset(g, 0, sizeof(*g));
	err[0] = 0;
	uf_cgroup_name(state_dir, g->name, sizeof(g->name));
	if (!strcmp(spec, "off"))
		return -1;
	find_mounts(mountinfo, v2, cpu, acct, sizeof(v2));
	if (strcmp(spec, "auto")) { /* a directory given */
		if (spec[0] != '/') {
			snprintf(err, errlen, "cpu_cgroup '%s': not 'auto', 'off' or an absolute path", spec);
			return -1;
		}
		if (has_file(spec, "cgroup.controllers")) {
			if (!v2_offers_cpu(spec)) {
				char parent[512];
				snprintf(parent, sizeof(parent), "%s", spec);
				char *slash = strrchr(parent, '/');
				if (slash && slash != parent)
					*slash = 0;
				snprintf(
				    err, errlen,
				    "%s/cgroup.controllers: no cpu controller there: enable it with `echo +cpu > "
				    "%s/cgroup.subtree_control` (and so up to the root), or with systemd delegate it "
				    "(Delegate=yes in the unit whose cgroup this is)",
				    spec, parent);
				return -1;
			}
			return place(g, UF_CG_V2, spec, "", err, errlen);
		}
		if (has_file(spec, "cpu.shares"))
			return place(g, UF_CG_V1, spec, "", err,
			             errlen); /* CPU use only if cpuacct is mounted with it */
		snprintf(err, errlen,
		         "%s: not a cgroup directory with the cpu controller (no cpu.shares, no "
		         "cgroup.controllers)",
		         spec);
		return -1;
	}
	if (v2[0] && v2_offers_cpu(v2))
		return place(g, UF_CG_V2, v2, "", err, errlen);
	if (cpu[0])
		return place(g, UF_CG_V1, cpu, strcmp(cpu, acct) && acct[0] ? acct : "", err, errlen);
	snprintf(err, errlen, "no cgroup hierarchy offers the cpu controller (%s)",
	         v2[0] ? "cgroup2 is mounted at its root without it, and no cgroup v1 cpu mount"
	               : "no cgroup2 and no cgroup v1 cpu mount in /proc/self/mountinfo");
	return -1;
}

/* mkdir that keeps an existing directory */
static int mkdir_keep(const char *path)
{
	return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* What weight (v2 cpu.weight units) is written as in g's hierarchy. */
static void weight_text(const struct uf_cgroups *g, unsigned weight, char *val, size_t cap)
{
	unsigned shares = weight * 1024 / UF_CG_WEIGHT;
	snprintf(val, cap, "%u", g->kind == UF_CG_V2 ? weight : shares < 2 ? 2 : shares);
}

/* What a failed write or mkdir at path means for the user: the cause, and
 * for a permission error whose fix (delegation). */
static void say_fail(char *err, size_t errlen, const char *path, const char *op, int e)
{
	int denied = e == EACCES || e == EPERM || e == EROFS;
	snprintf(err, errlen, "%s: cannot %s: %s%s", path, op, strerror(e),
	         denied ? " (unifaasd may not write this cgroup: run it as root, or delegate a cgroup to its user - "
	                  "systemd: Delegate=yes in the unit that runs `unifaas up` - and set cpu_cgroup to that "
	                  "cgroup's directory)"
	                : "");
	errno = e;
}

/* v2's "no internal processes" rule: below the root, a cgroup whose
 * processes stay cannot give its children the cpu controller (the kernel
 * takes +cpu there, a threaded controller, but the children's own +cpu
 * then fails: EOPNOTSUPP).  A delegated base (where systemd starts
 * `unifaas up`, so unifaasd, redis-server and mosquitto) holds only the
 * service's processes: each is moved into the instance's platform group,
 * a leaf, in a few rounds (one forked meanwhile).  0, or -1 with err
 * naming the file, the processes left and the fix. */
static int vacate(const struct uf_cgroups *g, const char *base, char *err, size_t errlen)
{
	char plat[800], procs[4096];
	snprintf(plat, sizeof(plat), "%s/" UF_CG_PLATFORM, g->cpu);
	for (int round = 0; round < 5; round++) {
		if (get(base, "cgroup.procs", procs, sizeof(procs)) < 0) {
			snprintf(plat, sizeof(plat), "%s/cgroup.procs", base);
			say_fail(err, errlen, plat, "read it", errno);
			return -1;
		}
		if (!procs[strspn(procs, " \n")])
			return 0;
		/* a base left with cpu on (the service stopped without `down`: systemd
		 * kills its cgroup) took its new processes as a thread root, into whose
		 * domain children none may move: cpu off first, the instance's then
		 * the base's (make_in turns it on again, and the weights are set again) */
		if (round == 0) {
			put(g->cpu, "cgroup.subtree_control", "-cpu");
			put(base, "cgroup.subtree_control", "-cpu");
		}
		if (mkdir_keep(plat) < 0) {
			say_fail(err, errlen, plat, "create it", errno);
			return -1;
		}
		char *p = procs, *end;
		for (long pid; (pid = strtol(p, &end, 10)) > 0; p = end) {
			char val[24];
			snprintf(val, sizeof(val), "%ld", pid);
			put(plat, "cgroup.procs", val); /* one gone meanwhile: ESRCH, nothing to move */
		}
	}
	procs[200] = 0;
	for (char *p = procs; *p; p++)
		*p = *p == '\n' ? ' ' : *p;
	for (size_t n = strlen(procs); n && procs[n - 1] == ' ';)
		procs[--n] = 0;
	snprintf(err, errlen,
	         "%s/cgroup.procs: processes unifaas could not move into %s: %s (below the root, cgroup v2 lets a "
	         "cgroup hold processes or give its children the cpu controller, not both): move them out of %s, or "
	         "give unifaas an empty cgroup directory (cpu_cgroup)",
	         base, plat, procs, base);
	errno = EBUSY;
	return -1;
}

static int make_in(const struct uf_cgroups *g, const char *top, int weights, const char *group, unsigned weight,
                   char *err, size_t errlen)
{
	char dir[800], val[32];
	if (mkdir_keep(top) < 0) {
		say_fail(err, errlen, top, "create it", errno);
		return -1;
	}
	if (g->kind == UF_CG_V2 && weights) { /* the instance's children get the cpu controller */
		char parent[600], sub[512];
		snprintf(parent, sizeof(parent), "%s", top);
		*strrchr(parent, '/') = 0;
		/* the root may hold processes (cgroup.type is not there); a base below it may not */
		if (has_file(parent, "cgroup.type") && vacate(g, parent, err, errlen) < 0)
			return -1;
		/* the base may have it on already */
		if (get(parent, "cgroup.subtree_control", sub, sizeof(sub)) < 0 || !has_word(sub, "cpu", " \n")) {
			if (put(parent, "cgroup.subtree_control", "+cpu") < 0) {
				snprintf(dir, sizeof(dir), "%s/cgroup.subtree_control", parent);
				say_fail(err, errlen, dir, "write +cpu", errno);
				return -1;
			}
		}
		if (put(top, "cgroup.subtree_control", "+cpu") < 0) {
			snprintf(dir, sizeof(dir), "%s/cgroup.subtree_control", top);
			say_fail(err, errlen, dir, "write +cpu", errno);
			return -1;
		}
	}
	snprintf(dir, sizeof(dir), "%s/%s", top, group);
	if (mkdir_keep(dir) < 0) {
		say_fail(err, errlen, dir, "create it", errno);
		return -1;
	}
	if (!weights)
		return 0;
	weight_text(g, weight, val, sizeof(val));
	if (put(dir, g->kind == UF_CG_V2 ? "cpu.weight" : "cpu.shares", val) < 0) {
		char file[900];
		snprintf(file, sizeof(file), "%s/%s", dir, g->kind == UF_CG_V2 ? "cpu.weight" : "cpu.shares");
		say_fail(err, errlen, file, "write its weight", errno);
		return -1;
	}
	return 0;
}

/* The instance's own weight: its groups' together (see cgroup.h). */
static void reweigh(const struct uf_cgroups *g)
{
	const char *file = g->kind == UF_CG_V2 ? "cpu.weight" : "cpu.shares";
	unsigned long long sum = 0, max = g->kind == UF_CG_V2 ? 10000 : 262144;
	DIR *dir = opendir(g->cpu);
	for (struct dirent *e; dir && (e = readdir(dir));) {
		char sub[900], val[32];
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", g->cpu, e->d_name);
		if (get(sub, file, val, sizeof(val)) > 0)
			sum += strtoull(val, NULL, 10);
	}
	if (dir)
		closedir(dir);
	if (sum) {
		char val[32];
		snprintf(val, sizeof(val), "%llu", sum < max ? sum : max);
		put(g->cpu, file, val);
	}
}

int uf_cgroup_weigh(const struct uf_cgroups *g, const char *group, unsigned weight)
{
	char dir[800], want[32], have[32];
	const char *file = g->kind == UF_CG_V2 ? "cpu.weight" : "cpu.shares";
	if (g->kind == UF_CG_NONE) {
		errno = ENOTSUP;
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/%s", g->cpu, group);
	weight_text(g, weight < 1 || weight > UF_CG_WEIGHT_MAX ? UF_CG_WEIGHT : weight, want, sizeof(want));
	if (get(dir, file, have, sizeof(have)) > 0 && strtoul(have, NULL, 10) == strtoul(want, NULL, 10))
		return 0;
	if (put(dir, file, want) < 0)
		return -1;
	reweigh(g);
	return 0;
}

int uf_cgroup_make(const struct uf_cgroups *g, const char *group, unsigned weight, char *err, size_t errlen)
{
	if (g->kind == UF_CG_NONE) {
		snprintf(err, errlen, "no cpu cgroups");
		errno = ENOTSUP;
		return -1;
	}
	if (weight < 1 || weight > UF_CG_WEIGHT_MAX)
		weight = UF_CG_WEIGHT;
	if (make_in(g, g->cpu, 1, group, weight, err, errlen) < 0)
		return -1;
	reweigh(g);
	return g->acct[0] ? make_in(g, g->acct, 0, group, 0, err, errlen) : 0;
}

static int attach_in(const char *top, const char *group, int pid, char *err, size_t errlen)
{
	char dir[800], val[24];
	snprintf(dir, sizeof(dir), "%s/%s", top, group);
	snprintf(val, sizeof(val), "%d", pid);
	if (put(dir, "cgroup.procs", val) == 0)
		return 0;
	int e = errno;
	snprintf(err, errlen, "%s/cgroup.procs: cannot move pid %d: %s", dir, pid, strerror(e));
	errno = e;
	return -1;
}

int uf_cgroup_attach(const struct uf_cgroups *g, const char *group, int pid, char *err, size_t errlen)
{
	if (g->kind == UF_CG_NONE) {
		snprintf(err, errlen, "no cpu cgroups");
		errno = ENOTSUP;
		return -1;
	}
	if (attach_in(g->cpu, group, pid, err, errlen) < 0)
		return -1;
	return g->acct[0] ? attach_in(g->acct, group, pid, err, errlen) : 0;
}

int uf_cgroup_leave(const struct uf_cgroups *g, int pid)
{
	const char *tops[] = {g->cpu, g->acct};
	char val[24];
	int rc = 0;
	snprintf(val, sizeof(val), "%d", pid);
	for (int t = 0; t < 2 && g->kind != UF_CG_NONE; t++) {
		char base[600];
		snprintf(base, sizeof(base), "%s", tops[t]);
		char *slash = strrchr(base, '/');
		if (!base[0] || !slash)
			continue;
		*slash = 0;
		rc |= put(base[0] ? base : "/", "cgroup.procs", val);
	}
	return rc;
}

int uf_cgroup_usage_us(const struct uf_cgroups *g, const char *group, uint64_t *us)
{
	char dir[800], buf[1024];
	if (g->kind == UF_CG_NONE)
		return -1;
	snprintf(dir, sizeof(dir), "%s/%s", g->kind == UF_CG_V1 && g->acct[0] ? g->acct : g->cpu, group);
	if (g->kind == UF_CG_V2) {
		if (get(dir, "cpu.stat", buf, sizeof(buf)) < 0)
			return -1;
		const char *p = strstr(buf, "usage_usec ");
		if (!p)
			return -1;
		*us = strtoull(p + 11, NULL, 10);
		return 0;
	}
	if (get(dir, "cpuacct.usage", buf, sizeof(buf)) <= 0) /* ns */
		return -1;
	*us = strtoull(buf, NULL, 10) / 1000;
	return 0;
}

static int remove_in(const char *top, const char *group)
{
	char dir[800];
	snprintf(dir, sizeof(dir), "%s/%s", top, group);
	return rmdir(dir);
}

int uf_cgroup_remove(const struct uf_cgroups *g, const char *group)
{
	if (g->kind == UF_CG_NONE) {
		errno = ENOENT;
		return -1;
	}
	int rc = remove_in(g->cpu, group), e = errno;
	if (g->acct[0] && remove_in(g->acct, group) < 0 && errno != ENOENT && !rc) {
		rc = -1;
		e = errno;
	}
	if (!rc)
		reweigh(g);
	errno = e;
	return rc;
}

void uf_cgroup_each(const struct uf_cgroups *g, void (*fn)(void *arg, const char *group), void *arg)
{
	const char *tops[] = {g->cpu, g->acct};
	for (int t = 0; t < 2 && g->kind != UF_CG_NONE; t++) {
		DIR *dir = tops[t][0] ? opendir(tops[t]) : NULL;
		for (struct dirent *e; dir && (e = readdir(dir));) {
			if (e->d_type != DT_DIR || e->d_name[0] == '.')
				continue;
			char probe[900];
			/* the cpuacct tree's groups are the cpu tree's: named once */
			snprintf(probe, sizeof(probe), "%s/%s", g->cpu, e->d_name);
			if (t == 0 || access(probe, F_OK) < 0)
				fn(arg, e->d_name);
		}
		if (dir)
			closedir(dir);
	}
}

struct remove_all {
	const struct uf_cgroups *g;
	int left;
};

static void remove_one(void *arg, const char *group)
{
	struct remove_all *st = arg;
	st->left += uf_cgroup_remove(st->g, group) < 0 && errno != ENOENT;
}

/* v2: a base below the root (a delegated cgroup: only the root has no
 * cgroup.type) left without children gets its cpu controller back off,
 * as it was before the instance vacated it (vacate): systemd can then put
 * the service's next processes there again (a cgroup that gives its
 * children a controller can take no process). */
static void give_back(const struct uf_cgroups *g)
{
	char base[600];
	snprintf(base, sizeof(base), "%s", g->cpu);
	char *slash = strrchr(base, '/');
	if (!slash || slash == base)
		return;
	*slash = 0;
	if (!has_file(base, "cgroup.type"))
		return;
	DIR *dir = opendir(base);
	int children = 0;
	for (struct dirent *e; dir && (e = readdir(dir));)
		children += e->d_type == DT_DIR && e->d_name[0] != '.';
	if (dir)
		closedir(dir);
	if (dir && !children)
		put(base, "cgroup.subtree_control", "-cpu");
}

int uf_cgroup_remove_all(const struct uf_cgroups *g)
{
	struct remove_all st = {g, 0};
	if (g->kind == UF_CG_NONE)
		return 0;
	uf_cgroup_each(g, remove_one, &st);
	if (rmdir(g->cpu) < 0 && errno != ENOENT)
		st.left++;
	else if (g->kind == UF_CG_V2)
		give_back(g);
	if (g->acct[0] && rmdir(g->acct) < 0 && errno != ENOENT)
		st.left++;
	return st.left;
}
