/*
 * test_daemon.c - unit tests of unifaasd's pure logic: the static-threshold
 * scaling policy (autoscale.c), the capped and rotated unit logs (logs.c),
 * the daemon's own key=value log records (dlog.c) and the configuration
 * file (config.c).  The parts that need Redis, KVM or
 * processes are tested end to end by tests/integration/platform.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "admission.h"
#include "autoscale.h"
#include "logs.h"
#include "rules.h"
#include "unifaasd.h"

/* ---- dlog: values cannot forge fields ---- */

static const char *value(const char *v, size_t n)
{
	static char out[256];
	dlog_value(out, sizeof(out), v, n);
	return out;
}

static void dlog_values_quoted_and_escaped(void **state)
{
	(void)state;
	assert_string_equal(value("eval.fdc.3", 10), "eval.fdc.3"); /* a plain token stays bare */
	assert_string_equal(value("", 0), "\"\"");
	assert_string_equal(value("a b", 3), "\"a b\"");
	assert_string_equal(value("k=v", 3), "\"k=v\"");
	const char forged[] = "x\" level=error what=overflow";
	assert_string_equal(value(forged, strlen(forged)), "\"x\\\" level=error what=overflow\"");
	assert_string_equal(value("a\nb\tc\\", 6), "\"a\\nb\\tc\\\\\"");
	assert_string_equal(value("\x01\xff caf\xc3\xa9", 8), "\"\\x01\\xff caf\xc3\xa9\""); /* UTF-8 kept */
	assert_string_equal(value("a\0b", 3), "\"a\\x00b\"");
}

static const char *record(const char *level, const char *fmt, ...)
{
	static char line[4100];
	va_list ap;
	va_start(ap, fmt);
	dlog_format(line, sizeof(line), level, fmt, ap);
	va_end(ap);
	const char *rest = strstr(line, " level=");
	assert_non_null(rest);
	assert_int_equal(line[strlen(line) - 1], '\n');
	return rest + 1;
}

static void dlog_records(void **state)
{
	(void)state;
	const char forged[] = "done\" level=error what=overflow\nlevel=error what=fake";
	/* a value the format wraps in quotes is escaped inside them; others get their own */
	assert_string_equal(
	    record("info", "what=unit-exit unit=%s status=%lld reason=\"%s\" by=%d", "w.s.1", -1LL, forged, 0),
	    "level=info what=unit-exit unit=w.s.1 status=-1 reason=\"done\\\" level=error what=overflow\\nlevel=error "
	    "what=fake\" by=0\n");
	assert_string_equal(
	    record("warn", "cause=%s n=%zu id=%.*s x=%5u%%", forged, (size_t)7, 3, "abcdef", 42u),
	    "level=warn cause=\"done\\\" level=error what=overflow\\nlevel=error what=fake\" n=7 id=abc "
	    "x=\"   42\"%\n");
	/* a record longer than a line is cut whole: its quote is closed */
	char big[6000];
	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	const char *r = record("info", "what=x v=%s", big);
	size_t n = strlen(r);
	assert_true(n > 4000);
	assert_memory_equal(r + n - 4, "\\\"\"\n", 4); /* ...\"" then the newline */
}

/* ---- autoscale ---- */

static uint32_t want(uint64_t backlog, uint32_t min, uint32_t max, uint32_t per)
{
	struct uf_scale sc = {.min_units = min, .max_units = max, .events_per_unit = per};
	struct scale_input in = {.backlog = backlog, .running = 0, .cfg = &sc};
	return scale_static_threshold.wanted(&in);
}

static void static_threshold(void **state)
{
	(void)state;
	assert_int_equal(want(0, 0, 4, 64), 0);     /* scale to zero */
	assert_int_equal(want(0, 2, 4, 64), 2);     /* min_units kept warm */
	assert_int_equal(want(1, 0, 4, 64), 1);     /* any backlog: one unit */
	assert_int_equal(want(64, 0, 4, 64), 1);    /* exactly one unit's worth */
	assert_int_equal(want(65, 0, 4, 64), 2);    /* ceil */
	assert_int_equal(want(10000, 0, 4, 64), 4); /* clamped to max */
	assert_int_equal(want(UINT64_MAX, 0, 7, 1), 7);
	assert_int_equal(want(5, 0, 4, 0), 4); /* per = 0 treated as 1 */
	assert_ptr_equal(scale_policy_find(NULL), &scale_static_threshold);
	assert_ptr_equal(scale_policy_find("static-threshold"), &scale_static_threshold);
	assert_null(scale_policy_find("static-treshold"));
}

/* ---- node admission: fair unit slots and memory (slot_fair_share) ---- */

#define MIB (UINT64_C(1) << 20)

static enum slot_verdict admit(uint64_t used_units, uint64_t used_mem, uint64_t mine_units, uint64_t mine_mem,
                               uint64_t res_units, uint64_t res_mem, uint32_t nwf, uint64_t need)
{
	struct slot_use cap = {.units = 4, .memory = 100 * MIB};
	struct slot_input in = {.cap = cap,
	                        .used = {used_units, used_mem},
	                        .share = slot_fair_share.share(cap, 1, nwf),
	                        .mine = {mine_units, mine_mem},
	                        .reserved = {res_units, res_mem},
	                        .need = need};
	return slot_fair_share.admit(&in);
}

static void fair_share(void **state)
{
	(void)state;
	struct slot_use cap = {.units = 32, .memory = 4096 * MIB};
	struct slot_use s = slot_fair_share.share(cap, 1, 3);
	assert_int_equal(s.units, 10); /* rounded down: the rest is borrowed like idle slots */
	assert_int_equal(s.memory, 4096 * MIB / 3);
	assert_int_equal(slot_fair_share.share(cap, 1, 0).units, 32); /* no workflow running: as one */
	assert_int_equal(slot_fair_share.share(cap, 0, 0).units, 32); /* weight 0 (an old manifest): 1 */
	/* the case: 2 workflows on 4 slots, one holds all 4 */
	assert_int_equal(admit(0, 0, 0, 0, 0, 0, 2, 9 * MIB), SLOT_START);
	assert_int_equal(admit(4, 36 * MIB, 0, 0, 0, 0, 2, 9 * MIB), SLOT_RECLAIM);      /* within its share */
	assert_int_equal(admit(3, 27 * MIB, 3, 27 * MIB, 0, 0, 2, 9 * MIB), SLOT_START); /* borrows a free slot */
	assert_int_equal(admit(4, 36 * MIB, 4, 36 * MIB, 0, 0, 2, 9 * MIB), SLOT_WAIT_UNITS);
	/* a free slot held for a workflow waiting within its share: no borrowing it */
	assert_int_equal(admit(3, 27 * MIB, 2, 18 * MIB, 1, 9 * MIB, 2, 9 * MIB), SLOT_WAIT_UNITS);
	/* ... but a start within the share takes it */
	assert_int_equal(admit(3, 27 * MIB, 1, 9 * MIB, 1, 9 * MIB, 2, 9 * MIB), SLOT_START);
	/* memory: 3 units of 33 MiB fill 99 of 100 MiB; a 4th waits, a unit
	 * of the other workflow (within its 50 MiB) takes memory back */
	assert_int_equal(admit(2, 66 * MIB, 2, 66 * MIB, 0, 0, 2, 33 * MIB), SLOT_START);
	assert_int_equal(admit(3, 99 * MIB, 3, 99 * MIB, 0, 0, 2, 33 * MIB), SLOT_WAIT_MEMORY);
	assert_int_equal(admit(3, 99 * MIB, 0, 0, 0, 0, 2, 9 * MIB), SLOT_RECLAIM);
	assert_int_equal(admit(0, 0, 0, 0, 0, 0, 2, 101 * MIB), SLOT_NEVER_MEMORY);
	/* more memory per unit than a share: never within it, so it borrows */
	assert_int_equal(admit(0, 0, 0, 0, 0, 0, 2, 60 * MIB), SLOT_START);
	assert_int_equal(admit(1, 60 * MIB, 0, 0, 0, 0, 2, 60 * MIB), SLOT_WAIT_MEMORY);
}

/* weighted shares (manifest `share`, common/admission.h): cap * w / sum,
 * rounded down, never more than the node together */
static void weighted_share(void **state)
{
	(void)state;
	struct slot_use cap = {.units = 4, .memory = 100 * MIB};
	struct slot_use s = slot_fair_share.share(cap, 3, 4); /* share 3 beside share 1 */
	assert_int_equal(s.units, 3);
	assert_int_equal(s.memory, 75 * MIB);
	assert_int_equal(slot_fair_share.share(cap, 1, 4).units, 1);
	assert_int_equal(slot_fair_share.share(cap, UF_SHARE_MAX, UF_SHARE_MAX + 2).units, 3); /* 4*16/18 */
	assert_int_equal(slot_fair_share.share(cap, 5, 2).units, 4); /* total below weight: as alone */
	/* the guarantees of any mix of weights add up to at most the node */
	for (uint32_t a = 1; a <= UF_SHARE_MAX; a++)
		for (uint32_t b = 1; b <= UF_SHARE_MAX; b++)
			for (uint32_t c = 1; c <= UF_SHARE_MAX; c += 5) {
				uint32_t t = a + b + c;
				struct slot_use x = slot_fair_share.share(cap, a, t),
				                y = slot_fair_share.share(cap, b, t),
				                z = slot_fair_share.share(cap, c, t);
				assert_true(x.units + y.units + z.units <= cap.units);
				assert_true(x.memory + y.memory + z.memory <= cap.memory);
			}
	/* within a share of 3 of 4 slots: a third unit starts by taking one back */
	struct slot_input in = {.cap = cap,
	                        .used = {4, 40 * MIB},
	                        .share = slot_fair_share.share(cap, 3, 4),
	                        .mine = {2, 20 * MIB},
	                        .need = 10 * MIB};
	assert_int_equal(slot_fair_share.admit(&in), SLOT_RECLAIM);
	in.share = slot_fair_share.share(cap, 1, 2); /* equal shares: 2 each, the third borrows */
	assert_int_equal(slot_fair_share.admit(&in), SLOT_WAIT_UNITS);
}

/* ---- logs ---- */

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/uf-test-daemon.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static int appended;
static void count_append(struct logfile *l, void *arg)
{
	(void)l;
	(void)arg;
	appended++;
}

static void log_lines_and_offsets(void **state)
{
	(void)state;
	char path[128], err[256], buf[256];
	uint64_t next;
	snprintf(path, sizeof(path), "%s/logs/wf/step.log", dir); /* directories made on open */
	struct logfile *l = logfile_open(path, 1 << 20, err, sizeof(err));
	assert_non_null(l);
	logfile_on_append(l, count_append, NULL);
	logfile_line(l, "wf.s.1", "hello", 5);
	logfile_line(l, "wf.s.2", "world\r", 6); /* a CR before the newline is dropped */
	assert_int_equal(appended, 2);
	ssize_t n = logfile_read(l, 0, buf, sizeof(buf), &next);
	/* each line: the UTC time it was received, then the unit id */
	assert_int_equal(n, 2 * 25 + strlen("wf.s.1 | hello\nwf.s.2 | world\n"));
	assert_true(buf[4] == '-' && buf[10] == 'T' && buf[19] == '.' && buf[23] == 'Z' && buf[24] == ' ');
	assert_memory_equal(buf + 25, "wf.s.1 | hello\n", 15);
	assert_memory_equal(buf + 40 + 25, "wf.s.2 | world\n", 15);
	assert_int_equal(next, n);
	assert_int_equal(logfile_read(l, (int64_t)next, buf, sizeof(buf), &next), 0); /* nothing new */
	n = logfile_read(l, -6, buf, sizeof(buf), &next);                             /* the last 6 bytes */
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "world\n", 6);
	assert_int_equal(logfile_end(l), next);
	logfile_close(l);
	l = NULL;
}

static uint64_t epoch_ms(void)
{
	return (uint64_t)time(NULL) * 1000;
}

/* Where the last N lines, or the lines since a time, begin (logs --tail, --since). */
static void log_start_tail_and_since(void **state)
{
	(void)state;
	char path[128], err[256], buf[256], line[32];
	uint64_t start, next;
	snprintf(path, sizeof(path), "%s/tail.log", dir);
	struct logfile *l = logfile_open(path, 1 << 20, err, sizeof(err));
	assert_non_null(l);
	assert_int_equal(logfile_start(l, 3, 0, &start), 0); /* empty: the end */
	assert_int_equal(start, 0);
	for (int i = 0; i < 10; i++) {
		int len = snprintf(line, sizeof(line), "line %d", i);
		logfile_line(l, "u", line, (size_t)len);
	}
	assert_int_equal(logfile_start(l, 2, 0, &start), 0);
	ssize_t n = logfile_read(l, (int64_t)start, buf, sizeof(buf) - 1, &next);
	buf[n] = 0;
	assert_int_equal(n, 2 * (25 + strlen("u | line 8\n")));
	assert_non_null(strstr(buf, "u | line 8\n"));
	assert_null(strstr(buf, "line 7"));
	assert_int_equal(logfile_start(l, 100, 0, &start), 0); /* more than there are: all */
	assert_int_equal(start, 0);
	assert_int_equal(logfile_start(l, 0, epoch_ms() + 60000, &start), 0); /* since the future: none */
	assert_int_equal(start, logfile_end(l));
	assert_int_equal(logfile_start(l, 0, epoch_ms() - 60000, &start), 0); /* since a minute ago: all */
	assert_int_equal(start, 0);
	assert_int_equal(logfile_start(l, 4, epoch_ms() - 60000, &start), 0); /* both: the later start */
	assert_int_equal(logfile_end(l) - start, 4 * (25 + strlen("u | line 8\n")));
	logfile_close(l);
}

static void durations(void **state)
{
	(void)state;
	uint64_t ms;
	assert_int_equal(uf_duration_ms("500ms", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(uf_duration_ms("10s", &ms), 0);
	assert_int_equal(ms, 10000);
	assert_int_equal(uf_duration_ms("5m", &ms), 0);
	assert_int_equal(ms, 300000);
	assert_int_equal(uf_duration_ms("1h", &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(uf_duration_ms("2d", &ms), 0);
	assert_int_equal(ms, 2 * 86400000ull);
	assert_int_equal(uf_duration_ms("0s", &ms), 0);
	assert_int_equal(ms, 0);
	const char *bad[] = {"", "s", "10", "5x", "-5s", "1.5h", "10 s", "367d", "99999999999999999999s", "1hh"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(uf_duration_ms(bad[i], &ms), -1);
}

static void log_rotation_keeps_two_files(void **state)
{
	(void)state;
	char path[128], old[140], err[256], buf[8192], line[64];
	uint64_t next;
	struct stat st;
	snprintf(path, sizeof(path), "%s/rot.log", dir);
	snprintf(old, sizeof(old), "%s.1", path);
	struct logfile *l = logfile_open(path, 4096, err, sizeof(err));
	assert_non_null(l);
	for (int i = 0; i < 1000; i++) { /* ~19 KB through a 4 KiB cap */
		int len = snprintf(line, sizeof(line), "line %04d", i);
		logfile_line(l, "u", line, (size_t)len);
	}
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size <= 4096);
	assert_int_equal(stat(old, &st), 0);
	assert_true(st.st_size <= 4096);
	/* offset 0 fell out of the kept window: reading starts at the oldest kept byte */
	ssize_t n = logfile_read(l, 0, buf, sizeof(buf) - 1, &next);
	assert_true(n > 0);
	buf[n] = 0;
	assert_non_null(strstr(buf, "u | line "));
	/* reading on from there reaches the newest line */
	uint64_t end = logfile_end(l);
	while (next < end) {
		n = logfile_read(l, (int64_t)next, buf, sizeof(buf) - 1, &next);
		assert_true(n > 0);
	}
	buf[n] = 0;
	assert_non_null(strstr(buf, "u | line 0999\n"));
	logfile_close(l);
	/* reopened, the offsets continue from the kept files */
	l = logfile_open(path, 4096, err, sizeof(err));
	assert_non_null(l);
	assert_int_equal(logfile_end(l), end - (end - logfile_end(l)));
	n = logfile_read(l, -14, buf, sizeof(buf), &next);
	assert_int_equal(n, 14);
	assert_memory_equal(buf, "u | line 0999\n", 14);
	logfile_close(l);
}

static void log_open_error_names_path(void **state)
{
	(void)state;
	char err[256];
	assert_null(logfile_open("/proc/uf-no/such.log", 4096, err, sizeof(err)));
	assert_non_null(strstr(err, "/proc/uf-no"));
}

/* ---- config ---- */

static void write_file(const char *name, const char *text)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void config_reads_every_key(void **state)
{
	(void)state;
	struct uf_config c;
	char err[512], conf[1024];
	snprintf(conf, sizeof(conf),
	         "# written by unifaas up\nredis_socket=/x/redis.sock\nredis_password_file=%s/pw\napi_port=7399\n"
	         "mqtt_url=mqtt://127.0.0.1:1884\nmax_units=9\nhvt=/opt/uf-hvt\ntick_ms=50\nidle_tick_ms=2000\n"
	         "log_cap=8192\ntap_bridge=br9\ntap_cidr=10.9.0.1/24\ntap_pool_size=4\n"
	         "ingress_conns_per_address=256\nredis_maxmemory=1048576\nstorage_quota=2097152\n"
	         "unread_max_entries=7\nunread_max_age_ms=9000\nquota_interval_ms=250\n",
	         dir);
	write_file("unifaas.conf", conf);
	write_file("pw", "secret\n");
	write_file("api.token", "tok\n");
	assert_int_equal(config_load(&c, dir, err, sizeof(err)), 0);
	assert_string_equal(c.redis_socket, "/x/redis.sock");
	assert_string_equal(c.redis_password, "secret");
	assert_string_equal(c.token, "tok");
	assert_int_equal(c.api_port, 7399);
	assert_string_equal(c.mqtt_url, "mqtt://127.0.0.1:1884");
	assert_int_equal(c.max_units, 9);
	assert_string_equal(c.hvt, "/opt/uf-hvt");
	assert_int_equal(c.tick_ms, 50);
	assert_int_equal(c.idle_tick_ms, 2000);
	assert_int_equal(c.log_cap, 8192);
	assert_string_equal(c.tap_bridge, "br9");
	assert_string_equal(c.tap_cidr, "10.9.0.1/24");
	assert_int_equal(c.tap_pool_size, 4);
	assert_int_equal(c.ingress_conns_per_address, UF_SERVER_CONN_MAX);
	assert_int_equal(c.unread_max_entries, 7);
	assert_int_equal(c.unread_max_age_ms, 9000);
	assert_int_equal(c.quota_interval_ms, 250);
	/* maxmemory at least what Redis needs; a quota never past it */
	assert_int_equal(uf_config_maxmemory(&c), UF_MAXMEMORY_FLOOR);
	assert_int_equal(uf_config_storage_quota(&c, 0), 2u << 20);
	assert_int_equal(uf_config_storage_quota(&c, 1u << 20), 1u << 20);
	assert_int_equal(uf_config_storage_quota(&c, 8u << 20), UF_MAXMEMORY_FLOOR);
}

static void config_defaults(void **state)
{
	(void)state;
	struct uf_config c;
	char err[512];
	write_file("unifaas.conf", "\n");
	write_file("api.token", "tok\n");
	assert_int_equal(config_load(&c, dir, err, sizeof(err)), 0);
	assert_int_equal(c.api_port, 7380);
	assert_int_equal(c.max_units, 32);
	assert_int_equal(c.ingress_conns_per_address, 128);
	assert_int_equal(c.storage_quota, 256u << 20);
	assert_int_equal(c.unread_max_entries, 100000);
	assert_int_equal(c.redis_maxmemory, 0);
	assert_true(uf_config_maxmemory(&c) >= UF_MAXMEMORY_MIN); /* a quarter of the RAM */
	assert_int_equal(uf_config_storage_quota(&c, 0), 256u << 20);
	assert_int_equal(uf_config_storage_quota(&c, 5u << 20), 5u << 20);
	assert_string_equal(c.redis_password, "");
	assert_non_null(strstr(c.redis_socket, "/redis.sock"));
}

static void expect_config_error(const char *conf, const char *want)
{
	struct uf_config c;
	char err[512];
	write_file("unifaas.conf", conf);
	write_file("api.token", "tok\n");
	assert_int_equal(config_load(&c, dir, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static void config_errors_name_line(void **state)
{
	(void)state;
	expect_config_error("api_port=7380\nmax_unit=3\n", "unifaas.conf:2: unknown key 'max_unit'");
	expect_config_error("api_port=99999\n", "unifaas.conf:1: api_port: bad value '99999'");
	expect_config_error("max_units=0\n", "unifaas.conf:1: max_units: bad value '0'");
	expect_config_error("tick_ms=5\n", "tick_ms: bad value '5'");
	expect_config_error("ingress_conns_per_address=257\n", "ingress_conns_per_address: bad value '257'");
	expect_config_error("ingress_conns_per_address=0\n", "ingress_conns_per_address: bad value '0'");
	expect_config_error("no equals sign\n", "unifaas.conf:1: expected key=value");
	expect_config_error("storage_quota=1000\n", "storage_quota: bad value '1000'");
	expect_config_error("quota_interval_ms=10\n", "quota_interval_ms: bad value '10'");
	expect_config_error("redis_password_file=/nonexistent/pw\n", "/nonexistent/pw: No such file or directory");
	write_file("api.token", "");
	struct uf_config c;
	char err[512];
	write_file("unifaas.conf", "\n");
	write_file("api.token", "\n");
	assert_int_equal(config_load(&c, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "api.token: empty"));
	assert_int_equal(config_load(&c, "/nonexistent-state", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "run 'unifaas up'"));
}

static void config_user_file_overrides(void **state)
{
	(void)state;
	struct uf_config c;
	char err[512];
	write_file("unifaas.conf", "max_units=9\n");
	write_file("api.token", "tok\n");
	write_file("unifaasd.conf", "# mine\nprestart=0\nmax_units=3\n");
	assert_int_equal(config_load(&c, dir, err, sizeof(err)), 0);
	assert_int_equal(c.prestart, 0);
	assert_int_equal(c.max_units, 3);
	write_file("unifaasd.conf", "prestart=99\n");
	assert_int_equal(config_load(&c, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unifaasd.conf:1: prestart: bad value '99'"));
	char path[160];
	snprintf(path, sizeof(path), "%s/unifaasd.conf", dir);
	unlink(path);
	assert_int_equal(config_load(&c, dir, err, sizeof(err)), 0);
	assert_int_equal(c.prestart, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(dlog_values_quoted_and_escaped),
	    cmocka_unit_test(dlog_records),
	    cmocka_unit_test(static_threshold),
	    cmocka_unit_test(fair_share),
	    cmocka_unit_test(weighted_share),
	    cmocka_unit_test(log_lines_and_offsets),
	    cmocka_unit_test(log_rotation_keeps_two_files),
	    cmocka_unit_test(log_start_tail_and_since),
	    cmocka_unit_test(durations),
	    cmocka_unit_test(log_open_error_names_path),
	    cmocka_unit_test(config_reads_every_key),
	    cmocka_unit_test(config_defaults),
	    cmocka_unit_test(config_errors_name_line),
	    cmocka_unit_test(config_user_file_overrides),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
