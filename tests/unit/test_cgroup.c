/*
 * test_cgroup.c - common/cgroup.c against a mount table and a hierarchy
 * made in a temporary directory: which hierarchy is chosen (cgroup v2 with
 * the cpu controller first, else v1's cpu, cpuacct mounted apart or with
 * it), the instance's name, what is written for a weight on v1 and v2,
 * where a pid goes, and the CPU use read back.  The real kernel's side
 * (rmdir of a group, a unit's pid in /proc/PID/cgroup) is checked by
 * tests/integration/cpu_groups.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"

static char top[256];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *read_file(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	buf[0] = 0;
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = 0;
		fclose(f);
	}
	return buf;
}

/* a fake hierarchy: dir with the files the kernel shows */
static void fake_dir(const char *dir, int v2)
{
	char p[512];
	mkdir(dir, 0755);
	snprintf(p, sizeof(p), "%s/%s", dir, v2 ? "cgroup.controllers" : "cpu.shares");
	write_file(p, v2 ? "cpuset cpu io memory pids\n" : "1024\n");
	if (v2) {
		snprintf(p, sizeof(p), "%s/cgroup.subtree_control", dir);
		write_file(p, "");
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/uf-test-cgroup.XXXXXX");
	assert_non_null(mkdtemp(top));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	return system(cmd) == 0 ? 0 : -1;
}

static void mountinfo(const char *lines)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/mountinfo", top);
	write_file(p, lines);
}

static const char *mi(void)
{
	static char p[300];
	snprintf(p, sizeof(p), "%s/mountinfo", top);
	return p;
}

static void name_is_per_state_dir(void **state)
{
	(void)state;
	char a[40], b[40], c[40];
	uf_cgroup_name("/var/lib/unifaas", a, sizeof(a));
	uf_cgroup_name("/var/lib/unifaas", b, sizeof(b));
	uf_cgroup_name("/var/lib/unifaas2", c, sizeof(c));
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), strlen(UF_CG_PREFIX) + 16);
	assert_int_equal(strncmp(a, UF_CG_PREFIX, strlen(UF_CG_PREFIX)), 0);
}

static void v1_cpu_and_cpuacct_apart(void **state)
{
	(void)state;
	char cpu[300], acct[300], line[2048], err[256];
	snprintf(cpu, sizeof(cpu), "%s/cpu", top);
	snprintf(acct, sizeof(acct), "%s/cpuacct", top);
	snprintf(line, sizeof(line),
	         "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	         "32 31 0:29 / %s rw,relatime - cgroup cgroup rw,cpu\n"
	         "33 31 0:30 / %s rw,relatime - cgroup cgroup rw,cpuacct\n"
	         "41 31 0:38 / /nonexistent/unified rw,relatime - cgroup2 cgroup2 rw\n",
	         cpu, acct);
	mountinfo(line);
	fake_dir(cpu, 0);
	mkdir(acct, 0755);
	struct uf_cgroups g;
	assert_int_equal(uf_cgroup_locate(&g, "auto", "/s", mi(), err, sizeof(err)), 0);
	assert_int_equal(g.kind, UF_CG_V1);
	assert_true(!strncmp(g.cpu, cpu, strlen(cpu)) && strstr(g.cpu, g.name));
	assert_true(!strncmp(g.acct, acct, strlen(acct)));
	assert_int_equal(uf_cgroup_make(&g, "wf-a", 100, err, sizeof(err)), 0);
	char p[800];
	snprintf(p, sizeof(p), "%s/wf-a/cpu.shares", g.cpu);
	assert_string_equal(read_file(p), "1024");
	assert_int_equal(uf_cgroup_make(&g, UF_CG_PLATFORM, 250, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/platform/cpu.shares", g.cpu);
	assert_string_equal(read_file(p), "2560");
	snprintf(p, sizeof(p), "%s/cpu.shares", g.cpu); /* the instance: its groups together */
	assert_string_equal(read_file(p), "3584");
	/* a workflow's share raised on a redeploy: its weight and the instance's again */
	assert_int_equal(uf_cgroup_weigh(&g, "wf-a", 300), 0);
	snprintf(p, sizeof(p), "%s/wf-a/cpu.shares", g.cpu);
	assert_string_equal(read_file(p), "3072");
	snprintf(p, sizeof(p), "%s/cpu.shares", g.cpu);
	assert_string_equal(read_file(p), "5632");
	assert_int_equal(uf_cgroup_attach(&g, "wf-a", 4242, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/wf-a/cgroup.procs", g.acct); /* in both hierarchies */
	assert_string_equal(read_file(p), "4242");
	snprintf(p, sizeof(p), "%s/wf-a/cpuacct.usage", g.acct);
	write_file(p, "2500000000\n");
	uint64_t us = 0;
	assert_int_equal(uf_cgroup_usage_us(&g, "wf-a", &us), 0);
	assert_int_equal(us, 2500000);
	/* a group never made: attach says ENOENT (the daemon makes it then) */
	assert_int_equal(uf_cgroup_attach(&g, "wf-b", 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "wf-b/cgroup.procs"));
}

static void v2_preferred_when_it_offers_cpu(void **state)
{
	(void)state;
	char v2[300], cpu[300], line[2048], err[256];
	snprintf(v2, sizeof(v2), "%s/unified", top);
	snprintf(cpu, sizeof(cpu), "%s/cpu", top);
	snprintf(line, sizeof(line),
	         "32 31 0:29 / %s rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
	         "41 31 0:38 / %s rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n",
	         cpu, v2);
	mountinfo(line);
	fake_dir(cpu, 0);
	fake_dir(v2, 1);
	struct uf_cgroups g;
	assert_int_equal(uf_cgroup_locate(&g, "auto", "/s", mi(), err, sizeof(err)), 0);
	assert_int_equal(g.kind, UF_CG_V2);
	assert_string_equal(g.acct, "");
	/* the instance dir: the cpu controller enabled in the base and in it */
	char inst[700], p[800];
	snprintf(inst, sizeof(inst), "%s", g.cpu);
	mkdir(inst, 0755);
	snprintf(p, sizeof(p), "%s/cgroup.subtree_control", inst);
	write_file(p, "");
	assert_int_equal(uf_cgroup_make(&g, "wf-a", 100, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/cgroup.subtree_control", v2);
	assert_string_equal(read_file(p), "+cpu");
	snprintf(p, sizeof(p), "%s/cgroup.subtree_control", inst);
	assert_string_equal(read_file(p), "+cpu");
	snprintf(p, sizeof(p), "%s/wf-a/cpu.weight", inst);
	assert_string_equal(read_file(p), "100");
	snprintf(p, sizeof(p), "%s/wf-a/cpu.stat", inst);
	write_file(p, "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n");
	uint64_t us = 0;
	assert_int_equal(uf_cgroup_usage_us(&g, "wf-a", &us), 0);
	assert_int_equal(us, 1234567);

	/* without cpu in its controllers, v1's cpu (with cpuacct) is used */
	snprintf(p, sizeof(p), "%s/cgroup.controllers", v2);
	write_file(p, "cpuset io memory\n");
	assert_int_equal(uf_cgroup_locate(&g, "auto", "/s", mi(), err, sizeof(err)), 0);
	assert_int_equal(g.kind, UF_CG_V1);
	assert_string_equal(g.acct, ""); /* co-mounted: one tree */
}

static void none_usable_says_why(void **state)
{
	(void)state;
	char err[256];
	struct uf_cgroups g;
	mountinfo("41 31 0:38 / /nonexistent/unified rw,relatime - cgroup2 cgroup2 rw\n");
	assert_int_equal(uf_cgroup_locate(&g, "auto", "/s", mi(), err, sizeof(err)), -1);
	assert_int_equal(g.kind, UF_CG_NONE);
	assert_non_null(strstr(err, "cpu controller"));
	assert_int_equal(uf_cgroup_locate(&g, "off", "/s", mi(), err, sizeof(err)), -1);
	assert_string_equal(err, "");
	assert_int_equal(uf_cgroup_locate(&g, "relative/dir", "/s", mi(), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "absolute path"));
	assert_int_equal(uf_cgroup_locate(&g, top, "/s", mi(), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a cgroup directory"));
	/* a delegated v2 directory given by path */
	char d[300];
	snprintf(d, sizeof(d), "%s/delegated", top);
	fake_dir(d, 1);
	assert_int_equal(uf_cgroup_locate(&g, d, "/s", mi(), err, sizeof(err)), 0);
	assert_int_equal(g.kind, UF_CG_V2);
	assert_int_equal(strncmp(g.cpu, d, strlen(d)), 0);
	assert_int_equal(uf_cgroup_make(&(struct uf_cgroups){.kind = UF_CG_NONE}, "x", 100, err, sizeof(err)), -1);
}

static void mount_point_escapes(void **state)
{
	(void)state;
	char dir[300], esc[400], line[1024], err[256];
	snprintf(dir, sizeof(dir), "%s/cpu dir", top);
	snprintf(esc, sizeof(esc), "%s/cpu\\040dir", top);
	snprintf(line, sizeof(line), "32 31 0:29 / %s rw,relatime shared:9 - cgroup cgroup rw,cpuacct,cpu\n", esc);
	mountinfo(line);
	fake_dir(dir, 0);
	struct uf_cgroups g;
	assert_int_equal(uf_cgroup_locate(&g, "auto", "/s", mi(), err, sizeof(err)), 0);
	assert_int_equal(g.kind, UF_CG_V1);
	assert_int_equal(strncmp(g.cpu, dir, strlen(dir)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(name_is_per_state_dir),
	    cmocka_unit_test_setup_teardown(v1_cpu_and_cpuacct_apart, setup, teardown),
	    cmocka_unit_test_setup_teardown(v2_preferred_when_it_offers_cpu, setup, teardown),
	    cmocka_unit_test_setup_teardown(none_usable_says_why, setup, teardown),
	    cmocka_unit_test_setup_teardown(mount_point_escapes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
