/*
 * test_manifest.c - the workflow manifest parser (daemon/manifest.c).
 *
 * Valid manifests are checked field by field (every key, then every
 * default); each malformed one is checked against the exact text of the
 * messages it must produce, line numbers included, since those messages are
 * the parser's user interface.  Most cases parse with base_dir "/srv/wf"
 * and no image checks; the image and file cases use a temporary directory
 * holding an ELF-looking image, a text file and a directory.
 */
#include <limits.h>
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

#include "launch.h"
#include "admission.h"
#include "manifest.h"

static char err[8192];
static char tmp[64]; /* temporary directory with the image fixtures */

static struct uf_manifest *parse_in(const char *yaml, const char *base, int check_images)
{
	return uf_manifest_parse(yaml, strlen(yaml), "eval.yaml", base, check_images, err, sizeof(err));
}

static struct uf_manifest *parse(const char *yaml)
{
	return parse_in(yaml, "/srv/wf", 0);
}

/* yaml must be refused with exactly `want` (lines joined by '\n'). */
static void refused(const char *yaml, const char *want)
{
	struct uf_manifest *m = parse(yaml);
	if (m)
		uf_manifest_free(m);
	assert_null(m);
	assert_string_equal(err, want);
}

#define HEAD "name: eval\nfunctions:\n  fdc:\n    image: fdc.uf\n    listen: q\n"

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/test_manifest.XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	char p[PATH_MAX + 32];
	snprintf(p, sizeof(p), "%s/fdc.uf", tmp);
	write_file(p, "\177ELF\2\1\1\0", 8);
	snprintf(p, sizeof(p), "%s/text.uf", tmp);
	write_file(p, "#!/bin/sh\n", 10);
	snprintf(p, sizeof(p), "%s/dir.uf", tmp);
	return mkdir(p, 0755);
}

static int teardown(void **state)
{
	(void)state;
	char p[PATH_MAX + 32];
	static const char *const names[] = {"fdc.uf", "text.uf", "eval.yaml", "sub/eval.yaml"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmp, names[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/dir.uf", tmp);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/sub", tmp);
	rmdir(p);
	return rmdir(tmp);
}

/* ---- valid manifests --------------------------------------------------------- */

static const char full_yaml[] = "# every key\n"
                                "name: co2-monitor\n"
                                "max_units: 12\n"
                                "functions:\n"
                                "  threshold:\n"
                                "    image: threshold.uf\n"
                                "    listen: readings\n"
                                "    push: [alerts, readings-log]\n"
                                "    env: { CO2_LIMIT_PPM: 1000, MODE: \"strict\", HEX: 0x10, EMPTY: \"\" }\n"
                                "    memory: 16MiB\n"
                                "    scale:\n"
                                "      min_units: 1\n"
                                "      max_units: 6\n"
                                "      events_per_unit: 32\n"
                                "      grace_ms: 50\n"
                                "      idle_ms: 5000\n"
                                "      overflow: 2000\n"
                                "    timeout_ms: 500\n"
                                "    batch: 128\n"
                                "    retries: 5\n"
                                "    net: true\n"
                                "    publish: [\"lights/+/set\", \"alerts/#\"]\n"
                                "  slack-alert:\n"
                                "    image: /opt/uf/slack_alert.uf\n"
                                "    listen: alerts\n"
                                "share: 3\n";

static void test_full(void **state)
{
	(void)state;
	struct uf_manifest *m = parse(full_yaml);
	assert_non_null(m);
	assert_string_equal(err, "");
	assert_string_equal(m->name, "co2-monitor");
	assert_int_equal(m->max_units, 12);
	assert_int_equal(m->share, 3);
	assert_int_equal(m->nfunctions, 2);

	const struct uf_function *f = &m->functions[0];
	assert_string_equal(f->name, "threshold");
	assert_int_equal(f->line, 5);
	assert_string_equal(f->image, "/srv/wf/threshold.uf");
	assert_string_equal(f->listen, "readings");
	assert_int_equal(f->npush, 2);
	assert_string_equal(f->push[0], "alerts");
	assert_string_equal(f->push[1], "readings-log");
	assert_int_equal(f->npublish, 2);
	assert_string_equal(f->publish[0], "lights/+/set");
	assert_string_equal(f->publish[1], "alerts/#");
	assert_int_equal(f->nenv, 4);
	assert_string_equal(f->env_keys[0], "CO2_LIMIT_PPM");
	assert_string_equal(f->env_values[0], "1000");
	assert_string_equal(f->env_keys[1], "MODE");
	assert_string_equal(f->env_values[1], "strict");
	assert_string_equal(f->env_keys[2], "HEX");
	assert_string_equal(f->env_values[2], "0x10");
	assert_string_equal(f->env_keys[3], "EMPTY");
	assert_string_equal(f->env_values[3], "");
	assert_int_equal(f->memory, 16u << 20);
	assert_int_equal(f->scale.min_units, 1);
	assert_int_equal(f->scale.max_units, 6);
	assert_int_equal(f->scale.events_per_unit, 32);
	assert_int_equal(f->scale.grace_ms, 50);
	assert_int_equal(f->scale.idle_ms, 5000);
	assert_int_equal(f->scale.overflow, 2000);
	assert_int_equal(f->timeout_ms, 500);
	assert_int_equal(f->batch, 128);
	assert_int_equal(f->retries, 5);
	assert_int_equal(f->net, 1);
	assert_int_equal(f->negress, 0);
	assert_int_equal(f->nsecrets, 0);

	f = &m->functions[1];
	assert_string_equal(f->name, "slack-alert");
	assert_int_equal(f->line, 23);
	assert_string_equal(f->image, "/opt/uf/slack_alert.uf");
	assert_int_equal(m->nmqtt, 0);
	assert_int_equal(m->nhttp, 0);

	assert_ptr_equal(uf_manifest_listener(m, "alerts"), &m->functions[1]);
	assert_ptr_equal(uf_manifest_listener(m, "readings"), &m->functions[0]);
	assert_null(uf_manifest_listener(m, "readings-log"));
	uf_manifest_free(m);
}

static void test_defaults(void **state)
{
	(void)state;
	struct uf_manifest *m = parse(HEAD);
	assert_non_null(m);
	assert_int_equal(m->max_units, 16);
	assert_int_equal(m->share, UF_SHARE_DEFAULT);
	assert_int_equal(m->nmqtt, 0);
	assert_int_equal(m->nhttp, 0);
	const struct uf_function *f = &m->functions[0];
	assert_string_equal(f->image, "/srv/wf/fdc.uf");
	assert_int_equal(f->line, 3);
	assert_int_equal(f->npush, 0);
	assert_int_equal(f->nenv, 0);
	assert_int_equal(f->negress, 0);
	assert_int_equal(f->nsecrets, 0);
	assert_int_equal(f->memory, 8u << 20);
	assert_int_equal(f->timeout_ms, 1000);
	assert_int_equal(f->batch, 64);
	assert_int_equal(f->retries, 3);
	assert_int_equal(f->net, 0);
	assert_int_equal(f->scale.min_units, 0);
	assert_int_equal(f->scale.max_units, 4);
	assert_int_equal(f->scale.events_per_unit, 64);
	assert_int_equal(f->scale.grace_ms, 20);
	assert_int_equal(f->scale.idle_ms, 2000);
	assert_int_equal(f->scale.overflow, 100000);
	uf_manifest_free(m);
}

/* Every key of the design is served now (egress, secrets, ingress.mqtt,
 * ingress.http): a manifest with all of them is accepted; a key marked
 * .unserved in manifest.c would be refused with why, its value still
 * checked. */
static void test_unserved_keys(void **state)
{
	(void)state;
	struct uf_manifest *m = parse(HEAD "    egress: [\"https://hooks.slack.com/\"]\n"
	                                   "    secrets: [SLACK_WEBHOOK_URL]\n"
	                                   "ingress:\n"
	                                   "  mqtt:\n"
	                                   "    - { topic: \"device/sck/+/readings/raw\", queue: q }\n"
	                                   "  http: [{ path: /readings, queue: q }]\n");
	assert_non_null(m);
	uf_manifest_free(m);
	refused(HEAD "    secrets: [\"no-dash\"]\n",
	        "eval.yaml:6: functions.fdc.secrets: 'no-dash' is not a valid variable name (" UF_NAME_RULE_VAR ")");
}

/* push: one name alone; empty optional collections; sizes in every unit; ./ images. */
static void test_shorthands(void **state)
{
	(void)state;
	struct uf_manifest *m = parse("name: eval\n"
	                              "functions:\n"
	                              "  a:\n"
	                              "    image: ./img/a.uf\n"
	                              "    listen: q\n"
	                              "    push: out\n"
	                              "    env:\n"
	                              "    scale:\n"
	                              "    memory: 4096 KiB\n"
	                              "    net: False\n"
	                              "  b:\n"
	                              "    image: b.uf\n"
	                              "    listen: r\n"
	                              "    memory: 1GiB\n"
	                              "  c:\n"
	                              "    image: c.uf\n"
	                              "    listen: s\n"
	                              "    memory: 6291456\n");
	assert_non_null(m);
	assert_string_equal(m->functions[0].image, "/srv/wf/img/a.uf");
	assert_int_equal(m->functions[0].npush, 1);
	assert_string_equal(m->functions[0].push[0], "out");
	assert_int_equal(m->functions[0].nenv, 0);
	assert_int_equal(m->functions[0].scale.max_units, 4);
	assert_int_equal(m->functions[0].memory, 4u << 20);
	assert_int_equal(m->functions[0].net, 0);
	assert_int_equal(m->functions[1].memory, 1u << 30);
	assert_int_equal(m->functions[2].memory, 6u << 20);
	uf_manifest_free(m);
}

/* Aliases of scalars are fine (a queue name written once). */
static void test_scalar_alias(void **state)
{
	(void)state;
	struct uf_manifest *m = parse("name: eval\n"
	                              "functions:\n"
	                              "  a:\n"
	                              "    image: a.uf\n"
	                              "    listen: &q readings\n"
	                              "  b:\n"
	                              "    image: b.uf\n"
	                              "    listen: other\n"
	                              "    push: *q\n");
	assert_non_null(m);
	assert_string_equal(m->functions[1].push[0], "readings");
	uf_manifest_free(m);
}

/* ---- malformed: keys -------------------------------------------------------- */

static void test_unknown_key_suggested(void **state)
{
	(void)state;
	refused("name: eval\nfunctions:\n  fdc:\n    image: fdc.uf\n    listn: fridge-door\n",
	        "eval.yaml:5: functions.fdc: unknown key 'listn' (did you mean 'listen'?)");
}

static void test_unknown_key_plain(void **state)
{
	(void)state;
	refused(HEAD "colour: blue\n", "eval.yaml:6: unknown key 'colour'");
}

static void test_unknown_key_nested(void **state)
{
	(void)state;
	refused(HEAD "    scale: { max_unit: 3, Grace_ms: 1 }\n",
	        "eval.yaml:6: functions.fdc.scale: unknown key 'max_unit' (did you mean 'max_units'?)\n"
	        "eval.yaml:6: functions.fdc.scale: unknown key 'Grace_ms' (did you mean 'grace_ms'?)");
}

static void test_unknown_ingress(void **state)
{
	(void)state;
	refused(HEAD "ingress:\n  htp: []\n  mqtt: [{ topik: a, queue: q }]\n",
	        "eval.yaml:7: ingress: unknown key 'htp' (did you mean 'http'?)\n"
	        "eval.yaml:8: ingress.mqtt[0]: unknown key 'topik' (did you mean 'topic'?)");
}

static void test_missing_required(void **state)
{
	(void)state;
	refused("name: eval\nfunctions:\n  fdc:\n    listen: q\n",
	        "eval.yaml:3: functions.fdc: missing required key 'image'");
	refused("# a comment\nmax_units: 3\n",
	        "eval.yaml:2: missing required key 'name'\neval.yaml:2: missing required key 'functions'");
	refused(HEAD "ingress:\n  http: [{ path: /x }]\n",
	        "eval.yaml:7: ingress.http[0]: missing required key 'queue'");
}

static void test_duplicate_key(void **state)
{
	(void)state;
	refused("name: eval\nname: other\nfunctions:\n  fdc:\n    image: fdc.uf\n    listen: q\n",
	        "eval.yaml:2: duplicate key 'name' (first at line 1)");
	refused(HEAD "    image: other.uf\n", "eval.yaml:6: functions.fdc: duplicate key 'image' (first at line 4)");
}

static void test_duplicate_function(void **state)
{
	(void)state;
	refused(HEAD "  fdc:\n    image: b.uf\n    listen: r\n",
	        "eval.yaml:6: functions: duplicate function 'fdc' (first at line 3)");
}

static void test_non_scalar_key(void **state)
{
	(void)state;
	refused(HEAD "? [a, b]\n: 1\n", "eval.yaml:6: a key must be a plain name, got a list");
}

/* ---- malformed: types and ranges ----------------------------------------------- */

static void test_wrong_type_integer(void **state)
{
	(void)state;
	refused("name: eval\nfunctions:\n  fdc:\n    image: fdc.uf\n    listen: q\n    scale:\n"
	        "      max_units: four\n",
	        "eval.yaml:7: functions.fdc.scale.max_units: expected an integer, got 'four'");
	refused(HEAD "    timeout_ms: [1]\n", "eval.yaml:6: functions.fdc.timeout_ms: expected an integer, got a list");
	refused(HEAD "    retries:\n", "eval.yaml:6: functions.fdc.retries: expected an integer, got nothing");
	refused(HEAD "    batch: 1.5\n", "eval.yaml:6: functions.fdc.batch: expected an integer, got '1.5'");
	refused("name: eval\nshare: 17\nfunctions:\n  fdc:\n    image: fdc.uf\n    listen: q\n",
	        "eval.yaml:2: share: 17 is out of range (1..16)");
	refused("name: eval\nshare: 0\nfunctions:\n  fdc:\n    image: fdc.uf\n    listen: q\n",
	        "eval.yaml:2: share: 0 is out of range (1..16)");
}

static void test_wrong_type_structure(void **state)
{
	(void)state;
	refused("name: eval\nfunctions: [fdc]\n",
	        "eval.yaml:2: functions: expected a mapping of function names, got a list");
	refused("name: eval\nfunctions:\n  fdc:\n", "eval.yaml:3: functions.fdc: expected a mapping with image: and "
	                                            "listen:, got nothing");
	refused("name: eval\nfunctions:\n  fdc:\n    image: fdc.uf\n    listen: [a, b]\n",
	        "eval.yaml:5: functions.fdc.listen: expected a queue name, got a list");
	refused(HEAD "    scale: 4\n", "eval.yaml:6: functions.fdc.scale: expected a mapping, got '4'");
	refused(HEAD "    env: [A=1]\n",
	        "eval.yaml:6: functions.fdc.env: expected a mapping of NAME: value, got a list");
	refused(HEAD "    egress: https://x/\n",
	        "eval.yaml:6: functions.fdc.egress: expected a list of URL prefixes, got 'https://x/'");
	refused(HEAD "ingress:\n  mqtt: { topic: a, queue: q }\n",
	        "eval.yaml:7: ingress.mqtt: expected a list of {topic, queue} entries, got a mapping");
	refused(HEAD "ingress:\n  http: [/x]\n",
	        "eval.yaml:7: ingress.http[0]: expected a mapping {path, queue}, got '/x'");
	refused("name: [eval]\nfunctions:\n  fdc:\n    image: fdc.uf\n    listen: q\n",
	        "eval.yaml:1: name: expected a workflow name, got a list");
}

static void test_wrong_type_list_entry(void **state)
{
	(void)state;
	refused(HEAD "    push: [ok, { a: 1 }]\n    secrets:\n      - [X]\n",
	        "eval.yaml:6: functions.fdc.push: expected a queue name, got a mapping\n"
	        "eval.yaml:8: functions.fdc.secrets: expected a variable name, got a list");
}

static void test_wrong_type_bool(void **state)
{
	(void)state;
	refused(HEAD "    net: yes\n", "eval.yaml:6: functions.fdc.net: expected true or false, got 'yes'");
}

static void test_out_of_range(void **state)
{
	(void)state;
	refused(HEAD "    batch: 2000\n    retries: -1\n    timeout_ms: 99999999999999999999999\n",
	        "eval.yaml:6: functions.fdc.batch: 2000 is out of range (1..256)\n"
	        "eval.yaml:7: functions.fdc.retries: -1 is out of range (0..100)\n"
	        "eval.yaml:8: functions.fdc.timeout_ms: 99999999999999999999999 is out of range (0..3600000)");
	refused(HEAD "    scale: { max_units: 0, events_per_unit: 0 }\n",
	        "eval.yaml:6: functions.fdc.scale.max_units: 0 is out of range (1..1024)\n"
	        "eval.yaml:6: functions.fdc.scale.events_per_unit: 0 is out of range (1..1000000)");
	refused("max_units: 0\n" HEAD, "eval.yaml:1: max_units: 0 is out of range (1..1024)");
}

/* storage_quota and the unread-queue bounds (daemon/quota.c, retention.c):
 * absent is 0 (the node's), a size of any alignment, in range. */
static void test_storage_keys(void **state)
{
	(void)state;
	struct uf_manifest *m = parse(HEAD);
	assert_non_null(m);
	assert_int_equal(m->storage_quota, 0);
	assert_int_equal(m->unread_max_entries, 0);
	assert_int_equal(m->unread_max_age_ms, 0);
	uf_manifest_free(m);
	m = parse("storage_quota: 3 MiB\nunread_max_entries: 50\nunread_max_age_ms: 60000\n" HEAD);
	assert_non_null(m);
	assert_int_equal(m->storage_quota, 3u << 20);
	assert_int_equal(m->unread_max_entries, 50);
	assert_int_equal(m->unread_max_age_ms, 60000);
	uf_manifest_free(m);
	m = parse("storage_quota: 1572864\n" HEAD); /* 1.5 MiB: no 2 MiB steps here */
	assert_non_null(m);
	assert_int_equal(m->storage_quota, 1572864);
	uf_manifest_free(m);
	refused("storage_quota: 512KiB\n" HEAD, "eval.yaml:1: storage_quota: '512KiB' is out of range (1MiB..1024GiB)");
	refused("storage_quota: 0\n" HEAD, "eval.yaml:1: storage_quota: '0' is out of range (1MiB..1024GiB)");
	refused("storage_quota: lots\n" HEAD, "eval.yaml:1: storage_quota: expected a size such as 64MiB, got 'lots'");
	refused("unread_max_entries: 0\n" HEAD,
	        "eval.yaml:1: unread_max_entries: 0 is out of range (1..1099511627776)");
}

static void test_bad_size(void **state)
{
	(void)state;
	refused(HEAD "    memory: 8MB\n", "eval.yaml:6: functions.fdc.memory: unknown size unit 'MB' in '8MB' (use "
	                                  "KiB, MiB or GiB, e.g. 8MiB)");
	refused(HEAD "    memory: big\n", "eval.yaml:6: functions.fdc.memory: expected a size such as 8MiB, got 'big'");
	refused(HEAD "    memory: 2MiB\n", "eval.yaml:6: functions.fdc.memory: '2MiB' is out of range (4MiB..1GiB)");
	refused(HEAD "    memory: 2GiB\n", "eval.yaml:6: functions.fdc.memory: '2GiB' is out of range (4MiB..1GiB)");
	refused(HEAD "    memory: 5MiB\n", "eval.yaml:6: functions.fdc.memory: '5MiB' is not a multiple of 2MiB");
	refused(HEAD "    memory: 99999999999999999999GiB\n",
	        "eval.yaml:6: functions.fdc.memory: '99999999999999999999GiB' is out of range (4MiB..1GiB)");
}

/* ---- malformed: names and strings --------------------------------------------- */

static void test_bad_names(void **state)
{
	(void)state;
	refused(
	    "name: my eval\n"
	    "functions:\n"
	    "  fdc!:\n"
	    "    image: fdc.uf\n"
	    "    listen: q\n"
	    "  b:\n"
	    "    image: b.uf\n"
	    "    listen: \"a/b\"\n"
	    "    push: [ok, \"\"]\n",
	    "eval.yaml:1: name: 'my eval' is not a valid name (1..48 characters of A-Z a-z 0-9 . _ -, not . or ..)\n"
	    "eval.yaml:3: functions: 'fdc!' is not a valid name (1..48 characters of A-Z a-z 0-9 . _ -, not . or ..)\n"
	    "eval.yaml:8: functions.b.listen: 'a/b' is not a valid name (1..128 characters of A-Z a-z 0-9 . _ -)\n"
	    "eval.yaml:9: functions.b.push: '' is not a valid name (1..128 characters of A-Z a-z 0-9 . _ -)");
}

static void test_long_name_cut(void **state)
{
	(void)state;
	char yaml[512];
	snprintf(yaml, sizeof(yaml), "name: %0130d\nfunctions:\n  fdc:\n    image: fdc.uf\n    listen: q\n", 7);
	refused(yaml, "eval.yaml:1: name: '0000000000000000000000000000000000000000...' is not a valid name (1..48 "
	              "characters of A-Z a-z 0-9 . _ -, not . or ..)");
	/* a unit is <workflow>.<function>.<n>, a consumer name of at most 128: 48 + 48 fit, 49 does not */
	snprintf(yaml, sizeof(yaml), "name: %048d\nfunctions:\n  %048d:\n    image: fdc.uf\n    listen: q\n", 7, 8);
	struct uf_manifest *m = uf_manifest_parse(yaml, strlen(yaml), "eval.yaml", "/tmp", 0, NULL, 0);
	assert_non_null(m);
	uf_manifest_free(m);
	snprintf(yaml, sizeof(yaml), "name: w\nfunctions:\n  %049d:\n    image: fdc.uf\n    listen: q\n", 8);
	refused(yaml,
	        "eval.yaml:3: functions: '0000000000000000000000000000000000000000...' is not a valid name (1..48 "
	        "characters of A-Z a-z 0-9 . _ -, not . or ..)");
}

static void test_nul_and_control_bytes(void **state)
{
	(void)state;
	refused(HEAD "    env: { A: \"x\\0y\" }\n", "eval.yaml:6: functions.fdc.env.A: contains a NUL byte");
	/* a key with a newline is reported on one line */
	refused(HEAD "    \"lis\\nten\": q\n",
	        "eval.yaml:6: functions.fdc: unknown key 'lis?ten' (did you mean 'listen'?)");
}

static void test_env_and_secrets(void **state)
{
	(void)state;
	refused(HEAD "    env:\n      A:\n      B: [x]\n      9X: 1\n      A: 2\n    secrets: [OK, \"no-dash\", OK]\n",
	        "eval.yaml:7: functions.fdc.env.A: expected a value (\"\" for empty), got nothing\n"
	        "eval.yaml:8: functions.fdc.env.B: expected a value (\"\" for empty), got a list\n"
	        "eval.yaml:9: functions.fdc.env: '9X' is not a valid variable name (" UF_NAME_RULE_VAR ")\n"
	        "eval.yaml:10: functions.fdc.env: duplicate variable 'A' (first at line 7)\n"
	        "eval.yaml:11: functions.fdc.secrets: 'no-dash' is not a valid variable name (" UF_NAME_RULE_VAR ")\n"
	        "eval.yaml:11: functions.fdc.secrets: duplicate entry 'OK' (also at line 11)");
	refused(
	    HEAD "    env: { TOKEN: x }\n    secrets: [TOKEN]\n",
	    "eval.yaml:7: functions.fdc.secrets: 'TOKEN' is also set in env (line 6); a variable comes from one place");
}

static void test_bad_publish(void **state)
{
	(void)state;
	refused(HEAD "    publish: [\"a/#/b\", \"x+\", \"ok/+\", \"ok/+\"]\n",
	        "eval.yaml:6: functions.fdc.publish: 'a/#/b' is not a valid MQTT topic filter ('+' and '#' must fill "
	        "a whole level, '#' only the last)\n"
	        "eval.yaml:6: functions.fdc.publish: 'x+' is not a valid MQTT topic filter ('+' and '#' must fill a "
	        "whole level, '#' only the last)\n"
	        "eval.yaml:6: functions.fdc.publish: duplicate entry 'ok/+' (also at line 6)");
	char yaml[4096];
	int n = snprintf(yaml, sizeof(yaml), HEAD "    publish: [");
	for (int i = 0; i < UF_PUBLISH_MAX + 1; i++)
		n += snprintf(yaml + n, sizeof(yaml) - (size_t)n, "%sa/%d", i ? ", " : "", i);
	snprintf(yaml + n, sizeof(yaml) - (size_t)n, "]\n");
	refused(yaml, "eval.yaml:6: functions.fdc.publish: 33 entries, at most 32 allowed");
}

static void test_bad_egress(void **state)
{
	(void)state;
	refused(HEAD "    egress: [\"ftp://x/\", \"https://\", \"https:///x\", \"https://a b/\"]\n",
	        "eval.yaml:6: functions.fdc.egress: 'ftp://x/' does not start with https:// or http://\n"
	        "eval.yaml:6: functions.fdc.egress: 'https://' has no host after the scheme\n"
	        "eval.yaml:6: functions.fdc.egress: 'https:///x' has no host after the scheme\n"
	        "eval.yaml:6: functions.fdc.egress: 'https://a b/' contains a space, a control byte, a backslash or a "
	        "non-ASCII byte (percent-encode it)");
	refused(HEAD "    egress: [\"https://u@hooks.slack.com/\", \"https://a/x/../y\", \"https://a/%2e%2E/y\",\n"
	             "             \"https://a:0/\", \"https://a..b/\", \"https://a/#f\"]\n",
	        "eval.yaml:6: functions.fdc.egress: 'https://u@hooks.slack.com/' has userinfo (user@host): "
	        "credentials go in a header, never in the URL\n"
	        "eval.yaml:6: functions.fdc.egress: 'https://a/x/../y' has a dot segment ('.' or '..', also as '..;') "
	        "in its path\n"
	        "eval.yaml:6: functions.fdc.egress: 'https://a/%2e%2E/y' has a dot segment ('.' or '..', also as "
	        "'..;') in its path\n"
	        "eval.yaml:7: functions.fdc.egress: 'https://a:0/' has a malformed port (expected 1..65535)\n"
	        "eval.yaml:7: functions.fdc.egress: 'https://a..b/' has a host with an empty label (leading, "
	        "trailing or doubled '.')\n"
	        "eval.yaml:7: functions.fdc.egress: 'https://a/#f' has a fragment ('#')");
}

static void test_bad_routes(void **state)
{
	(void)state;
	refused(HEAD "ingress:\n"
	             "  mqtt:\n"
	             "    - { topic: \"a/#/b\", queue: q }\n"
	             "    - { topic: \"a/b+\", queue: q }\n"
	             "  http:\n"
	             "    - { path: x, queue: q }\n"
	             "    - { path: \"/x?y=1\", queue: q }\n",
	        "eval.yaml:8: ingress.mqtt[0].topic: 'a/#/b' is not a valid MQTT topic filter ('+' "
	        "and '#' must fill a "
	        "whole level, '#' only the last)\n"
	        "eval.yaml:9: ingress.mqtt[1].topic: 'a/b+' is not a valid MQTT topic filter ('+' "
	        "and '#' must fill a "
	        "whole level, '#' only the last)\n"
	        "eval.yaml:11: ingress.http[0].path: 'x' does not start with '/'\n"
	        "eval.yaml:12: ingress.http[1].path: '/x?y=1' is not a plain URL path (no "
	        "spaces, '?', '#' or control "
	        "characters; at most 1024 bytes)");
}

/* ingress.http is served: routes parse; a path that is '/' alone, holds a
 * '%' or ends in /invoke (the invoke-and-wait suffix) is refused. */
static void test_http_routes(void **state)
{
	(void)state;
	struct uf_manifest *m =
	    parse(HEAD "ingress:\n  http: [{ path: /readings, queue: q }, { path: /a/b/, queue: q }]\n");
	assert_non_null(m);
	assert_int_equal(m->nhttp, 2);
	assert_string_equal(m->http[0].path, "/readings");
	assert_string_equal(m->http[1].queue, "q");
	uf_manifest_free(m);
	refused(
	    HEAD "ingress:\n  http:\n    - { path: /, queue: q }\n    - { path: /a%20b, queue: q }\n"
	         "    - { path: /x/invoke/, queue: q }\n",
	    "eval.yaml:8: ingress.http[0].path: '/' is '/' alone: name the route, such as /readings (the URL is "
	    "/<workflow><path>)\n"
	    "eval.yaml:9: ingress.http[1].path: '/a%20b' holds a '%': write the path as it reads, unescaped (clients "
	    "may escape it)\n"
	    "eval.yaml:10: ingress.http[2].path: '/x/invoke/' ends in /invoke, which is reserved: POST "
	    "<path>/invoke waits for the event's result");
}

/* ---- malformed: wiring and limits ---------------------------------------------- */

static void test_min_above_max(void **state)
{
	(void)state;
	refused(HEAD "    scale: { min_units: 5, max_units: 2 }\n"
	             "  b:\n"
	             "    image: b.uf\n"
	             "    listen: r\n"
	             "    scale:\n"
	             "      min_units: 6\n",
	        "eval.yaml:6: functions.fdc.scale.min_units: 5 is more than max_units (2)\n"
	        "eval.yaml:11: functions.b.scale.min_units: 6 is more than max_units (4, the default)");
}

static void test_workflow_units(void **state)
{
	(void)state;
	refused("name: eval\nmax_units: 2\n"
	        "functions:\n"
	        "  a: { image: a.uf, listen: q, scale: { min_units: 2 } }\n"
	        "  b: { image: b.uf, listen: r, scale: { min_units: 1 } }\n",
	        "eval.yaml:2: max_units: the functions' min_units add up to 3, more than the workflow's max_units "
	        "(2)");
}

static void test_push_to_own_queue(void **state)
{
	(void)state;
	refused(HEAD "    push:\n      - out\n      - q\n",
	        "eval.yaml:8: functions.fdc.push: 'q' is the queue this function listens to (its events would loop "
	        "forever)");
	refused(HEAD "    push: q\n",
	        "eval.yaml:6: functions.fdc.push: 'q' is the queue this function listens to (its events would loop "
	        "forever)");
}

static void test_duplicate_push(void **state)
{
	(void)state;
	refused(HEAD "    push: [a, b,\n      a]\n",
	        "eval.yaml:7: functions.fdc.push: duplicate entry 'a' (also at line 6)");
}

static void test_two_listeners(void **state)
{
	(void)state;
	refused(HEAD "  b:\n    image: b.uf\n    listen: q\n",
	        "eval.yaml:8: functions.b.listen: queue 'q' already feeds function 'fdc' (line 3); one queue feeds "
	        "one function (push to a second queue to fan out)");
}

/* The cross-key ingress checks (a queue with no listener, an MQTT filter
 * given twice or overlapping another, an HTTP route without a listener). */
static void test_ingress_without_listener(void **state)
{
	(void)state;
	refused("name: eval\n"
	        "functions:\n"
	        "  fdc: { image: fdc.uf, listen: readings }\n"
	        "ingress:\n"
	        "  mqtt:\n"
	        "    - { topic: a/b, queue: reading }\n"
	        "    - { topic: a/b, queue: readings }\n"
	        "    - { topic: a/+, queue: readings }\n"
	        "    - { topic: x/#, queue: readings }\n",
	        "eval.yaml:6: ingress.mqtt[0].queue: no function listens to 'reading', so its events would pile up "
	        "unread (did you mean 'readings'?)\n"
	        "eval.yaml:7: ingress.mqtt[1].topic: 'a/b' is already routed by ingress.mqtt[0]\n"
	        "eval.yaml:8: ingress.mqtt[2].topic: 'a/+' overlaps 'a/b' of ingress.mqtt[0] (a message on both would "
	        "be taken twice; make the filters disjoint)\n"
	        "eval.yaml:8: ingress.mqtt[2].topic: 'a/+' overlaps 'a/b' of ingress.mqtt[1] (a message on both would "
	        "be taken twice; make the filters disjoint)");
	refused(
	    "name: eval\n"
	    "functions:\n"
	    "  fdc: { image: fdc.uf, listen: readings }\n"
	    "ingress:\n"
	    "  http:\n"
	    "    - path: /x\n"
	    "      queue: other\n",
	    "eval.yaml:7: ingress.http[0].queue: no function listens to 'other', so its events would pile up unread "
	    "(add a function with listen: other)");
	refused(HEAD "ingress:\n  mqtt: [{ topic: y/+, queue: q, qos: 2 }]\n",
	        "eval.yaml:7: ingress.mqtt[0].qos: 2 is out of range (0..1)");
}

/* ingress.mqtt routes: qos defaults to 1, 0 is kept. */
static void test_mqtt_routes(void **state)
{
	(void)state;
	struct uf_manifest *m = parse("name: eval\n"
	                              "functions:\n"
	                              "  fdc: { image: fdc.uf, listen: readings }\n"
	                              "  alarm: { image: fdc.uf, listen: alarms }\n"
	                              "ingress:\n"
	                              "  mqtt:\n"
	                              "    - { topic: device/sck/+/readings/raw, queue: readings }\n"
	                              "    - { topic: alarm/#, queue: alarms, qos: 0 }\n");
	assert_non_null(m);
	assert_int_equal(m->nmqtt, 2);
	assert_string_equal(m->mqtt[0].topic, "device/sck/+/readings/raw");
	assert_string_equal(m->mqtt[0].queue, "readings");
	assert_int_equal(m->mqtt[0].qos, 1);
	assert_string_equal(m->mqtt[1].topic, "alarm/#");
	assert_int_equal(m->mqtt[1].qos, 0);
	uf_manifest_free(m);
}

static void test_no_functions(void **state)
{
	(void)state;
	refused("name: eval\nfunctions: {}\n", "eval.yaml:2: functions: no functions (a workflow needs at least one)");
}

/* ---- malformed: the document itself --------------------------------------------- */

static void test_syntax_error(void **state)
{
	(void)state;
	refused(
	    "name: eval\nfunctions:\n  fdc:\n    image: fdc.uf\n   listen: q\n",
	    "eval.yaml:5:4: YAML syntax error: did not find expected key (while parsing a block mapping at line 3)");
	refused("name: eval\nfunctions: [a, b\n",
	        "eval.yaml:3:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at "
	        "line 2)");
	refused("name: \"eval\n", "eval.yaml:2:1: YAML syntax error: found unexpected end of stream (while scanning a "
	                          "quoted scalar at line 1)");
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	refused("name: eval\nfunctions:\n  a:\n    image: \xff\n",
	        "eval.yaml:4:12: YAML syntax error: invalid leading UTF-8 octet");
}

static void test_empty(void **state)
{
	(void)state;
	struct uf_manifest *m = uf_manifest_parse("", 0, "eval.yaml", "/srv/wf", 0, err, sizeof(err));
	assert_null(m);
	assert_string_equal(err, "eval.yaml:1: empty manifest (expected a mapping with name: and functions:)");
	m = uf_manifest_parse(NULL, 0, NULL, "/srv/wf", 0, err, sizeof(err));
	assert_null(m);
	assert_string_equal(err, "manifest:1: empty manifest (expected a mapping with name: and functions:)");
	refused("# only a comment\n\n", "eval.yaml:1: empty manifest (expected a mapping with name: and functions:)");
}

static void test_not_a_mapping(void **state)
{
	(void)state;
	refused("- name: eval\n", "eval.yaml:1: a manifest is a mapping (name:, functions:, ...), got a list");
	refused("\n\nhello\n", "eval.yaml:3: a manifest is a mapping (name:, functions:, ...), got 'hello'");
}

static void test_two_documents(void **state)
{
	(void)state;
	refused(HEAD "---\nname: other\n", "eval.yaml:7: a second YAML document (one manifest per file)");
}

static void test_alias_of_mapping(void **state)
{
	(void)state;
	refused(HEAD "  b: *f\n" /* undefined alias */, "eval.yaml:6:6: YAML syntax error: found undefined alias");
	refused("name: eval\nfunctions:\n  a: &f\n    image: a.uf\n    listen: q\n  b: *f\n",
	        "eval.yaml:6: functions.b: aliases of lists or mappings are not supported (write the value out)");
	refused("name: eval\nfunctions: &f\n  a: *f\n",
	        "eval.yaml:3: functions.a: aliases of lists or mappings are not supported (write the value out)");
}

static void test_too_large(void **state)
{
	(void)state;
	struct uf_manifest *m = uf_manifest_parse("", (2u << 20), "eval.yaml", "/srv/wf", 0, err, sizeof(err));
	assert_null(m);
	assert_string_equal(err, "eval.yaml: larger than 1048576 bytes; is this a manifest?");
}

/* Hostile shapes are refused before the document is built, in a time
 * that does not grow with depth squared (before: 200 KB of '[' took 45 s,
 * 50,000 unknown keys 10.7 s). */
static char *repeat(const char *head, const char *unit, size_t times, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * times + tl + 1);
	assert_non_null(s);
	memcpy(s, head, hl);
	for (size_t i = 0; i < times; i++)
		memcpy(s + hl + i * ul, unit, ul);
	memcpy(s + hl + ul * times, tail, tl + 1);
	return s;
}

static void refused_fast(char *yaml, const char *want)
{
	clock_t t0 = clock();
	refused(yaml, want);
	/* CPU time, under ASan: 10 to 45 s before, at most 2.3 s now (0.05 s without ASan) */
	assert_true(clock() - t0 < 5 * CLOCKS_PER_SEC);
	free(yaml);
}

/* name: value lines for env variables K<from>..K<to-1>, after `head` */
static char *env_vars(const char *head, size_t from, size_t to, const char *tail)
{
	size_t cap = strlen(head) + (to - from) * 24 + strlen(tail) + 1, n = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	n += (size_t)snprintf(s, cap, "%s", head);
	for (size_t i = from; i < to; i++)
		n += (size_t)snprintf(s + n, cap - n, "      K%zu: 1\n", i);
	snprintf(s + n, cap - n, "%s", tail);
	return s;
}

static void test_nesting_limit(void **state)
{
	(void)state;
	/* the top-level mapping is one level: 31 more are fine, 32 more are not */
	refused_fast(
	    repeat("name: x\nfunctions: ", "[", 31, "\n"),
	    "eval.yaml:3:1: YAML syntax error: did not find expected node content (while parsing a flow node at "
	    "line 3)");
	refused_fast(repeat("name: x\nfunctions: ", "[", 32, "\n"),
	             "eval.yaml:2: lists and mappings nested more than 32 deep; a manifest needs 6 at most (is this a "
	             "manifest?)");
	refused_fast(repeat("name: x\nfunctions: ", "[", 200000, "\n"),
	             "eval.yaml:2: lists and mappings nested more than 32 deep; a manifest needs 6 at most (is this a "
	             "manifest?)");
	refused_fast(repeat("name: x\nfunctions:\n", "- ", 100000, "x\n"),
	             "eval.yaml:3: lists and mappings nested more than 32 deep; a manifest needs 6 at most (is this a "
	             "manifest?)");
	refused_fast(repeat("name: x\nfunctions: ", "{a: ", 40, "\n"),
	             "eval.yaml:2: lists and mappings nested more than 32 deep; a manifest needs 6 at most (is this a "
	             "manifest?)");
}

static void test_key_limit(void **state)
{
	(void)state;
	/* HEAD and env: 6 keys; K0 is on line 7 */
	refused_fast(env_vars(HEAD "    env:\n", 0, 20000 - 6, ""),
	             "eval.yaml:3: functions.fdc: 19994 env variables and secrets, more than 255");
	refused_fast(env_vars(HEAD "    env:\n", 0, 20000 - 5, ""),
	             "eval.yaml:20001: more than 20000 keys (is this a manifest?)");
	refused_fast(env_vars(HEAD "    env:\n", 0, 50000, ""),
	             "eval.yaml:20001: more than 20000 keys (is this a manifest?)");
	refused_fast(repeat(HEAD, "k: 1\n", 50000, ""), "eval.yaml:20001: more than 20000 keys (is this a manifest?)");
}

/* Duplicate checks are linear and still name the first of each key. */
static void test_many_keys_duplicates_in_order(void **state)
{
	(void)state;
	refused_fast(env_vars(HEAD "    env:\n", 0, 18000, "      K0: 2\n      K17999: 3\n"),
	             "eval.yaml:18007: functions.fdc.env: duplicate variable 'K0' (first at line 7)\n"
	             "eval.yaml:18008: functions.fdc.env: duplicate variable 'K17999' (first at line 18006)");
}

/* ---- reporting -------------------------------------------------------------------- */

static void test_many_errors_together(void **state)
{
	(void)state;
	refused("nme: eval\n"
	        "max_units: lots\n"
	        "functions:\n"
	        "  fdc:\n"
	        "    image: fdc.uf\n"
	        "    listn: q\n"
	        "    batch: 0\n"
	        "    memory: 8 MB\n"
	        "    scale: { idle: 5 }\n"
	        "  bad name:\n"
	        "    image: x.uf\n",
	        "eval.yaml:1: unknown key 'nme' (did you mean 'name'?)\n"
	        "eval.yaml:2: max_units: expected an integer, got 'lots'\n"
	        "eval.yaml:6: functions.fdc: unknown key 'listn' (did you mean 'listen'?)\n"
	        "eval.yaml:7: functions.fdc.batch: 0 is out of range (1..256)\n"
	        "eval.yaml:8: functions.fdc.memory: unknown size unit 'MB' in '8 MB' (use KiB, MiB or GiB, e.g. 8MiB)\n"
	        "eval.yaml:9: functions.fdc.scale: unknown key 'idle' (did you mean 'idle_ms'?)\n"
	        "eval.yaml:10: functions: 'bad name' is not a valid name (1..48 characters of A-Z a-z 0-9 . _ -, not . "
	        "or ..)");
}

static void test_too_many_errors(void **state)
{
	(void)state;
	char yaml[4096] = HEAD;
	for (int i = 0; i < 60; i++)
		snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml), "    x%d: 1\n", i);
	struct uf_manifest *m = parse(yaml);
	assert_null(m);
	assert_non_null(strstr(err, "eval.yaml:55: functions.fdc: unknown key 'x49'\n"
	                            "eval.yaml: 10 more problems not shown"));
	assert_null(strstr(err, "'x50'"));
}

static void test_truncated_buffer(void **state)
{
	(void)state;
	char small[24];
	memset(small, 'z', sizeof(small));
	struct uf_manifest *m = uf_manifest_parse(HEAD "    listn: q\n", strlen(HEAD) + 13, "eval.yaml", "/srv/wf", 0,
	                                          small, sizeof(small));
	assert_null(m);
	assert_string_equal(small, "eval.yaml:6: functions.");
	m = uf_manifest_parse("x: [", 4, "eval.yaml", "/srv/wf", 0, NULL, 0);
	assert_null(m);

	/* whole lines only, and room is made for the count of the rest */
	char mid[120];
	const char *yaml = HEAD "    x1: 1\n    x2: 1\n    x3: 1\n";
	m = uf_manifest_parse(yaml, strlen(yaml), "eval.yaml", "/srv/wf", 0, mid, sizeof(mid));
	assert_null(m);
	assert_string_equal(mid, "eval.yaml:6: functions.fdc: unknown key 'x1'\neval.yaml: 2 more problems not shown");
}

/* ---- images and files ----------------------------------------------------------- */

static void test_images(void **state)
{
	(void)state;
	char want[4 * PATH_MAX];
	struct uf_manifest *m = parse_in("name: eval\nfunctions:\n  fdc:\n    image: fdc.uf\n    listen: q\n", tmp, 1);
	assert_non_null(m);
	uf_manifest_free(m);

	m = parse_in("name: eval\n"
	             "functions:\n"
	             "  a: { image: missing.uf, listen: a }\n"
	             "  b: { image: text.uf, listen: b }\n"
	             "  c:\n"
	             "    listen: c\n"
	             "    image: dir.uf\n"
	             "  d: { image: /nonexistent/d.uf, listen: d }\n",
	             tmp, 1);
	assert_null(m);
	snprintf(want, sizeof(want),
	         "eval.yaml:3: functions.a.image: %s/missing.uf: No such file or directory (relative paths are "
	         "resolved against %s)\n"
	         "eval.yaml:4: functions.b.image: %s/text.uf: not an ELF image (build it with `unifaas build`)\n"
	         "eval.yaml:7: functions.c.image: %s/dir.uf: not a regular file\n"
	         "eval.yaml:8: functions.d.image: /nonexistent/d.uf: No such file or directory",
	         tmp, tmp, tmp, tmp);
	assert_string_equal(err, want);
}

static void test_load_file(void **state)
{
	(void)state;
	char path[PATH_MAX + 32], want[2 * PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/sub", tmp);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sub/eval.yaml", tmp);
	const char yaml[] = "name: eval\nfunctions:\n  fdc:\n    image: ../fdc.uf\n    listen: q\n";
	write_file(path, yaml, sizeof(yaml) - 1);

	struct uf_manifest *m = uf_manifest_load(path, 1, err, sizeof(err));
	assert_non_null(m);
	snprintf(want, sizeof(want), "%s/sub/../fdc.uf", tmp);
	assert_string_equal(m->functions[0].image, want);
	uf_manifest_free(m);

	/* a relative file name: images resolve against cwd + its directory */
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmp), 0);
	m = uf_manifest_load("sub/eval.yaml", 1, err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	assert_non_null(m);
	assert_string_equal(m->functions[0].image, want);
	uf_manifest_free(m);

	const char bad[] = "name: eval\nfunctions:\n  fdc:\n    image: ../fdc.uf\n    listen: q\n    mem: 8MiB\n";
	write_file(path, bad, sizeof(bad) - 1);
	m = uf_manifest_load(path, 1, err, sizeof(err));
	assert_null(m);
	snprintf(want, sizeof(want), "%s:6: functions.fdc: unknown key 'mem' (did you mean 'memory'?)", path);
	assert_string_equal(err, want);

	snprintf(path, sizeof(path), "%s/none.yaml", tmp);
	m = uf_manifest_load(path, 0, err, sizeof(err));
	assert_null(m);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_string_equal(err, want);

	m = uf_manifest_load(tmp, 0, err, sizeof(err));
	assert_null(m);
	snprintf(want, sizeof(want), "%s: not a regular file", tmp);
	assert_string_equal(err, want);

	snprintf(path, sizeof(path), "%s/fifo.yaml", tmp); /* must not block */
	assert_int_equal(mkfifo(path, 0600), 0);
	m = uf_manifest_load(path, 0, err, sizeof(err));
	unlink(path);
	assert_null(m);
	snprintf(want, sizeof(want), "%s: not a regular file", path);
	assert_string_equal(err, want);
}

/* functions.F.limits: sizes and counts in range, absent = 0 (the node's);
 * with the node's limits (deploy), none may be more than the node's. */
static void test_limits(void **state)
{
	(void)state;
	const char *y = HEAD "    limits: { value_bytes: 64KiB, writes_per_event: 10 }\n";
	struct uf_manifest *m = parse(y);
	assert_non_null(m);
	assert_int_equal(m->functions[0].limits.value_bytes, 64u << 10);
	assert_int_equal(m->functions[0].limits.writes_per_event, 10);
	assert_int_equal(m->functions[0].limits.commit_bytes, 0);
	struct uf_limits node, in_force;
	uf_limits_defaults(&node);
	uf_function_limits(&m->functions[0], &node, &in_force, NULL);
	assert_int_equal(in_force.v[UF_LIM_WRITES], 10);
	assert_int_equal(in_force.v[UF_LIM_EVENT_BYTES], 1u << 20);
	assert_int_equal(in_force.from_manifest, (1u << UF_LIM_VALUE_BYTES) | (1u << UF_LIM_WRITES));
	uf_manifest_free(m);
	refused(HEAD "    limits: { value_bytes: 32MiB }\n",
	        "eval.yaml:6: functions.fdc.limits.value_bytes: '32MiB' is out of range (1..16MiB)");
	refused(HEAD "    limits: { writes: 3 }\n",
	        "eval.yaml:6: functions.fdc.limits: unknown key 'writes' (did you mean 'writes_per_event'?)");
	const char *over = HEAD "    limits:\n      writes_per_event: 5000\n";
	node.v[UF_LIM_WRITES] = 100;
	m = uf_manifest_parse_node(over, strlen(over), "eval.yaml", "/srv/wf", 0, &node, err, sizeof(err));
	assert_null(m);
	assert_string_equal(err, "eval.yaml:7: functions.fdc.limits.writes_per_event: 5000 is more than this node "
	                         "allows (100: limits.writes_per_event in unifaasd.conf)");
	m = uf_manifest_parse(over, strlen(over), "eval.yaml", "/srv/wf", 0, err, sizeof(err)); /* a restore */
	assert_non_null(m);
	uf_manifest_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_nesting_limit),
	    cmocka_unit_test(test_key_limit),
	    cmocka_unit_test(test_many_keys_duplicates_in_order),
	    cmocka_unit_test(test_unserved_keys),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_shorthands),
	    cmocka_unit_test(test_scalar_alias),
	    cmocka_unit_test(test_unknown_key_suggested),
	    cmocka_unit_test(test_unknown_key_plain),
	    cmocka_unit_test(test_unknown_key_nested),
	    cmocka_unit_test(test_unknown_ingress),
	    cmocka_unit_test(test_missing_required),
	    cmocka_unit_test(test_duplicate_key),
	    cmocka_unit_test(test_duplicate_function),
	    cmocka_unit_test(test_non_scalar_key),
	    cmocka_unit_test(test_wrong_type_integer),
	    cmocka_unit_test(test_wrong_type_structure),
	    cmocka_unit_test(test_wrong_type_list_entry),
	    cmocka_unit_test(test_wrong_type_bool),
	    cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_bad_size),
	    cmocka_unit_test(test_storage_keys),
	    cmocka_unit_test(test_bad_names),
	    cmocka_unit_test(test_long_name_cut),
	    cmocka_unit_test(test_nul_and_control_bytes),
	    cmocka_unit_test(test_env_and_secrets),
	    cmocka_unit_test(test_bad_publish),
	    cmocka_unit_test(test_bad_egress),
	    cmocka_unit_test(test_bad_routes),
	    cmocka_unit_test(test_http_routes),
	    cmocka_unit_test(test_min_above_max),
	    cmocka_unit_test(test_workflow_units),
	    cmocka_unit_test(test_push_to_own_queue),
	    cmocka_unit_test(test_duplicate_push),
	    cmocka_unit_test(test_two_listeners),
	    cmocka_unit_test(test_ingress_without_listener),
	    cmocka_unit_test(test_mqtt_routes),
	    cmocka_unit_test(test_no_functions),
	    cmocka_unit_test(test_syntax_error),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_not_a_mapping),
	    cmocka_unit_test(test_two_documents),
	    cmocka_unit_test(test_alias_of_mapping),
	    cmocka_unit_test(test_too_large),
	    cmocka_unit_test(test_many_errors_together),
	    cmocka_unit_test(test_too_many_errors),
	    cmocka_unit_test(test_truncated_buffer),
	    cmocka_unit_test(test_images),
	    cmocka_unit_test(test_load_file),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
