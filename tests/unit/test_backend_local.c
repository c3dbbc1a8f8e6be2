/*
 * test_backend_local.c - the local run-mode backend (tender/backend_local.c)
 * through its struct uf_backend interface: events from --event values and
 * a file, commit output and failure reports, the in-memory KV store
 * (set/get/incr/del), the --kv JSON file (load, errors, save round-trip),
 * and uf_json_escape.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"
#include "support.h"

static char err[1024];

struct bk {
	struct uf_backend *b;
	char *out, *errf;
	int out_fd, err_fd;
};

/* Opens a local backend; events/nevents are --event values, file an --events file. */
static int bk_open(struct bk *k, const char **events, int nevents, const char *events_file, const char *kv_file)
{
	memset(k, 0, sizeof(*k));
	k->out = uft_tmpname();
	k->errf = uft_tmpname();
	k->out_fd = uft_open_out(k->out);
	k->err_fd = uft_open_out(k->errf);
	struct uf_local_opts o = {.events = events, .nevents = nevents, .events_file = events_file,
				  .kv_file = kv_file, .queue = "orders", .out_fd = k->out_fd, .err_fd = k->err_fd};
	err[0] = '\0';
	k->b = uf_local_backend_open(&o, err, sizeof(err));
	return k->b ? 0 : -1;
}

/* Closes as the tender does at the end of a unit that ran (ran = 1). */
static void bk_close_ran(struct bk *k, int ran)
{
	if (k->b)
		k->b->close(k->b, ran);
	k->b = NULL;
	close(k->out_fd);
	close(k->err_fd);
}

static void bk_close(struct bk *k)
{
	bk_close_ran(k, 1);
}

#define assert_err_contains(s)                                                   \
	do {                                                                     \
		if (!strstr(err, (s)))                                           \
			fail_msg("error \"%s\" does not contain \"%s\"", err, (s)); \
	} while (0)

/* ---- events ------------------------------------------------------------------ */

static void expect_event(struct uf_backend *b, const char *id, const void *data, size_t len)
{
	const struct uf_bevent *ev = NULL;
	assert_int_equal(b->peek(b, 0, &ev), 1);
	assert_non_null(ev);
	assert_string_equal(ev->id, id);
	assert_string_equal(ev->queue, "orders");
	assert_int_equal(ev->len, len);
	assert_memory_equal(ev->data, data, len);
	assert_int_equal(ev->data[len], '\0');
	assert_true(ev->time_ms > 1600000000000ull);
	/* peeking again does not consume */
	const struct uf_bevent *again = NULL;
	assert_int_equal(b->peek(b, 0, &again), 1);
	assert_string_equal(again->id, id);
	b->take(b);
}

static void test_events_values_then_file(void **state)
{
	(void)state;
	static const char file[] = "f1\n\n\r\nf 2 with spaces\r\nnul\0inside\n{\"json\":1}";
	char *path = uft_tmpfile(file, sizeof(file) - 1);
	const char *events[] = {"e1", ""};
	struct bk k;
	assert_int_equal(bk_open(&k, events, 2, path, NULL), 0);
	expect_event(k.b, "1", "e1", 2);
	expect_event(k.b, "2", "", 0); /* an empty --event is an event; blank file lines are not */
	expect_event(k.b, "3", "f1", 2);
	expect_event(k.b, "4", "f 2 with spaces", 15);
	expect_event(k.b, "5", "nul\0inside", 10);
	expect_event(k.b, "6", "{\"json\":1}", 10); /* last line without a newline */
	const struct uf_bevent *ev;
	assert_int_equal(k.b->peek(k.b, 1000, &ev), 0);
	assert_int_equal(k.b->peek(k.b, 0, &ev), 0);
	int32_t res[6] = {0};
	assert_int_equal(k.b->commit(k.b, res, NULL, 6, NULL, 0, NULL, 0, NULL, 0), 0);
	bk_close(&k);
}

static void test_events_file_missing(void **state)
{
	(void)state;
	struct bk k;
	assert_int_equal(bk_open(&k, NULL, 0, "/nonexistent/events.txt", NULL), -1);
	assert_err_contains("events file /nonexistent/events.txt: No such file or directory");
	bk_close(&k);
}

static void test_commit_output_and_failures(void **state)
{
	(void)state;
	const char *events[] = {"a", "b", "c"};
	struct bk k;
	assert_int_equal(bk_open(&k, events, 3, NULL, NULL), 0);
	const struct uf_bevent *ev;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(k.b->peek(k.b, 0, &ev), 1);
		k.b->take(k.b);
	}
	struct uf_bpush pushes[] = {
		{.event = 0, .queue = "out", .queue_len = 3, .data = "x\"y", .len = 3},
		{.event = 2, .queue = "o.2", .queue_len = 3, .data = "line\nbreak\\", .len = 11},
	};
	int32_t res[3] = {0, 42, 0};
	assert_int_equal(k.b->commit(k.b, res, NULL, 3, pushes, 2, NULL, 0, NULL, 0), 0);
	char *out = uft_slurp(k.out, NULL);
	assert_string_equal(out, "{\"queue\":\"out\",\"data\":\"x\\\"y\"}\n"
				 "{\"queue\":\"o.2\",\"data\":\"line\\nbreak\\\\\"}\n");
	free(out);
	char *e = uft_slurp(k.errf, NULL);
	if (!strstr(e, "event 2 failed: handler returned 42; its pushes were dropped"))
		fail_msg("failure report: \"%s\"", e);
	assert_null(strstr(e, "event 1 failed"));
	assert_null(strstr(e, "event 3 failed"));
	free(e);
	bk_close(&k);
}

static void test_commit_skipped_events(void **state)
{
	(void)state;
	const char *events[] = {"a", "b"};
	struct bk k;
	assert_int_equal(bk_open(&k, events, 2, NULL, NULL), 0);
	const struct uf_bevent *ev;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(k.b->peek(k.b, 0, &ev), 1);
		k.b->take(k.b);
	}
	int32_t res[2] = {UF_RESULT_OK, UF_RESULT_SKIPPED};
	assert_int_equal(k.b->commit(k.b, res, NULL, 2, NULL, 0, NULL, 0, NULL, 0), 0);
	char *e = uft_slurp(k.errf, NULL);
	if (!strstr(e, "event 2 was not handled"))
		fail_msg("report for a skipped event: \"%s\"", e);
	assert_null(strstr(e, "failed"));
	free(e);
	bk_close(&k);
}

static void test_close_with_events_in_flight(void **state)
{
	(void)state;
	const char *events[] = {"a", "b"};
	struct bk k;
	assert_int_equal(bk_open(&k, events, 2, NULL, NULL), 0);
	const struct uf_bevent *ev;
	assert_int_equal(k.b->peek(k.b, 0, &ev), 1);
	k.b->take(k.b);
	assert_int_equal(k.b->peek(k.b, 0, &ev), 1); /* pending, not taken */
	bk_close(&k);                                /* LeakSanitizer checks the rest */
}

/* ---- kv ------------------------------------------------------------------------ */

static void expect_val(struct uf_backend *b, const char *key, size_t klen, const void *val, size_t len)
{
	const char *v = NULL;
	size_t n = 12345;
	int r = b->kv_get(b, key, klen, &v, &n);
	if (r != 0)
		fail_msg("get '%.*s': %d", (int)klen, key, r);
	assert_int_equal(n, len);
	assert_memory_equal(v, val, len);
}

static void expect_absent(struct uf_backend *b, const char *key, size_t klen)
{
	const char *v;
	size_t n;
	assert_int_equal(b->kv_get(b, key, klen, &v, &n), -ENOENT);
}

static void test_kv_set_get_del(void **state)
{
	(void)state;
	struct bk k;
	assert_int_equal(bk_open(&k, NULL, 0, NULL, NULL), 0);
	struct uf_backend *b = k.b;
	expect_absent(b, "a", 1);
	assert_int_equal(b->kv_set(b, "a", 1, "one", 3), 0);
	assert_int_equal(b->kv_set(b, "ab", 2, "two", 3), 0);
	assert_int_equal(b->kv_set(b, "a\0b", 3, "nul-key", 7), -EINVAL); /* keys are text */
	assert_int_equal(b->kv_set(b, "a\xff", 2, "bad-utf8", 8), -EINVAL);
	assert_int_equal(b->kv_set(b, "a\xc3\xa9", 3, "utf8-key", 8), 0);
	expect_val(b, "a", 1, "one", 3);
	expect_val(b, "ab", 2, "two", 3);
	expect_val(b, "a\xc3\xa9", 3, "utf8-key", 8);
	assert_int_equal(b->kv_set(b, "a", 1, "uno!", 4), 0); /* overwrite */
	expect_val(b, "a", 1, "uno!", 4);
	assert_int_equal(b->kv_set(b, "e", 1, "", 0), 0);
	expect_val(b, "e", 1, "", 0);
	assert_int_equal(b->kv_del(b, "a", 1), 0);
	expect_absent(b, "a", 1);
	expect_val(b, "ab", 2, "two", 3);
	assert_int_equal(b->kv_del(b, "a", 1), -ENOENT);
	/* many keys: chains in every bucket */
	char key[32], val[32];
	for (int i = 0; i < 5000; i++) {
		int kl = snprintf(key, sizeof(key), "key-%d", i), vl = snprintf(val, sizeof(val), "%d", i * 7);
		assert_int_equal(b->kv_set(b, key, (size_t)kl, val, (size_t)vl), 0);
	}
	for (int i = 0; i < 5000; i += 2) {
		int kl = snprintf(key, sizeof(key), "key-%d", i);
		assert_int_equal(b->kv_del(b, key, (size_t)kl), 0);
	}
	for (int i = 0; i < 5000; i++) {
		int kl = snprintf(key, sizeof(key), "key-%d", i), vl = snprintf(val, sizeof(val), "%d", i * 7);
		if (i % 2)
			expect_val(b, key, (size_t)kl, val, (size_t)vl);
		else
			expect_absent(b, key, (size_t)kl);
	}
	bk_close(&k);
}

static void test_kv_incr(void **state)
{
	(void)state;
	struct bk k;
	assert_int_equal(bk_open(&k, NULL, 0, NULL, NULL), 0);
	struct uf_backend *b = k.b;
	int64_t out = 777;
	assert_int_equal(b->kv_incr(b, "n", 1, 5, &out), 0); /* absent counts as 0 */
	assert_int_equal(out, 5);
	assert_int_equal(b->kv_incr(b, "n", 1, -12, &out), 0);
	assert_int_equal(out, -7);
	expect_val(b, "n", 1, "-7", 2);
	assert_int_equal(b->kv_incr(b, "n", 1, 0, &out), 0);
	assert_int_equal(out, -7);

	/* not integers: -EINVAL, value and out untouched */
	static const char *not_int[] = {"abc", "12abc", "", "1.5", "0x10", "--1", "1 2", "12 "};
	for (size_t i = 0; i < sizeof(not_int) / sizeof(not_int[0]); i++) {
		assert_int_equal(b->kv_set(b, "s", 1, not_int[i], strlen(not_int[i])), 0);
		out = 777;
		int r = b->kv_incr(b, "s", 1, 1, &out);
		if (r != -EINVAL)
			fail_msg("incr of \"%s\" returned %d, expected -EINVAL", not_int[i], r);
		assert_int_equal(out, 777);
		expect_val(b, "s", 1, not_int[i], strlen(not_int[i]));
	}

	/* overflow: -ERANGE, value untouched */
	assert_int_equal(b->kv_set(b, "max", 3, "9223372036854775807", 19), 0);
	assert_int_equal(b->kv_incr(b, "max", 3, 1, &out), -ERANGE);
	assert_int_equal(b->kv_incr(b, "max", 3, INT64_MAX, &out), -ERANGE);
	expect_val(b, "max", 3, "9223372036854775807", 19);
	assert_int_equal(b->kv_incr(b, "max", 3, INT64_MIN, &out), 0);
	assert_int_equal(out, -1);
	assert_int_equal(b->kv_set(b, "min", 3, "-9223372036854775808", 20), 0);
	assert_int_equal(b->kv_incr(b, "min", 3, -1, &out), -ERANGE);
	assert_int_equal(b->kv_incr(b, "min", 3, INT64_MIN, &out), -ERANGE);
	expect_val(b, "min", 3, "-9223372036854775808", 20);
	assert_int_equal(b->kv_incr(b, "min", 3, INT64_MAX, &out), 0);
	assert_int_equal(out, -1);
	assert_int_equal(b->kv_incr(b, "fresh", 5, INT64_MIN, &out), 0);
	assert_int_equal(out, INT64_MIN);
	expect_val(b, "fresh", 5, "-9223372036854775808", 20);
	/* a number outside int64 cannot be incremented either */
	assert_int_equal(b->kv_set(b, "big", 3, "9223372036854775808", 19), 0);
	assert_true(b->kv_incr(b, "big", 3, 1, &out) < 0);
	expect_val(b, "big", 3, "9223372036854775808", 19);
	bk_close(&k);
}

/*
 * A value with a NUL byte after the digits is not an integer either.
 * parse_int64 copies the value into a C string and strtoll stops at the
 * NUL, so "5\0x" (3 bytes) is taken for 5 and overwritten with "6".
 */
static void test_kv_incr_value_with_nul_is_not_integer(void **state)
{
	(void)state;
	struct bk k;
	assert_int_equal(bk_open(&k, NULL, 0, NULL, NULL), 0);
	struct uf_backend *b = k.b;
	assert_int_equal(b->kv_set(b, "v", 1, "5\0x", 3), 0);
	int64_t out = 777;
	int r = b->kv_incr(b, "v", 1, 1, &out);
	if (r != -EINVAL)
		fail_msg("incr of the 3-byte value \"5\\0x\" returned %d (out=%ld), expected -EINVAL "
			 "(tender/backend_local.c parse_int64 stops at the NUL)", r, (long)out);
	expect_val(b, "v", 1, "5\0x", 3);
	bk_close(&k);
}

/* ---- the --kv file --------------------------------------------------------------- */

static void test_kv_file_load(void **state)
{
	(void)state;
	static const char json[] = "{\n  \"a\": \"x\",\n  \"n\": 42,\n  \"neg\": -7,\n"
				   "  \"esc\": \"q\\\"\\\\\\n\\u0001\",\n  \"utf\": \"\xc3\xa9\",\n  \"empty\": \"\"\n}\n";
	char *path = uft_tmpfile(json, sizeof(json) - 1);
	struct bk k;
	if (bk_open(&k, NULL, 0, NULL, path) < 0)
		fail_msg("open: %s", err);
	struct uf_backend *b = k.b;
	expect_val(b, "a", 1, "x", 1);
	expect_val(b, "n", 1, "42", 2);
	expect_val(b, "neg", 3, "-7", 2);
	expect_val(b, "esc", 3, "q\"\\\n\x01", 5);
	expect_val(b, "utf", 3, "\xc3\xa9", 2);
	expect_val(b, "empty", 5, "", 0);
	int64_t out;
	assert_int_equal(b->kv_incr(b, "n", 1, 1, &out), 0);
	assert_int_equal(out, 43);
	bk_close(&k);
}

static void test_kv_file_bad_json(void **state)
{
	(void)state;
	static const char json[] = "{\n  \"a\": ,\n}\n";
	char *path = uft_tmpfile(json, sizeof(json) - 1);
	struct bk k;
	assert_int_equal(bk_open(&k, NULL, 0, NULL, path), -1);
	char want[600];
	snprintf(want, sizeof(want), "kv file %s:2:8: ", path); /* line 2, column 8: the comma */
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, want);
	bk_close(&k);
	/* the store it could not read is left as it was */
	char *after = uft_slurp(path, NULL);
	assert_string_equal(after, json);
	free(after);
}

static void test_kv_file_bad_contents(void **state)
{
	(void)state;
	static const struct {
		const char *json, *want;
	} cases[] = {
		{"[1, 2]", "expected a JSON object of string values"},
		{"\"just a string\"", ""}, /* jansson refuses a non-container top level itself */
		{"{\"k\": 1.5}", "key 'k': value must be a string, an integer or {\"base64\": \"...\"}"},
		{"{\"k\": true}", "key 'k': value must be a string, an integer or {\"base64\": \"...\"}"},
		{"{\"k\": null}", "key 'k': value must be a string, an integer or {\"base64\": \"...\"}"},
		{"{\"k\": [\"a\"]}", "key 'k': value must be a string, an integer or {\"base64\": \"...\"}"},
		{"{\"k\": {\"a\": \"b\"}}", "key 'k': value must be a string, an integer or {\"base64\": \"...\"}"},
		{"{\"k\": \"a\", \"k\": \"b\"}", "duplicate object key"},
		{"{\"\": \"empty key\"}", "key is not 1..512 bytes of UTF-8 text without NUL"},
		{"{\"a\": \"1\"} trailing", "kv file"},
		{"{", "kv file"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = uft_tmpfile(cases[i].json, strlen(cases[i].json));
		struct bk k;
		if (bk_open(&k, NULL, 0, NULL, path) != -1)
			fail_msg("kv file %s was accepted", cases[i].json);
		if (!strstr(err, cases[i].want) || strncmp(err, "kv file ", 8) != 0)
			fail_msg("kv file %s: error \"%s\" lacks \"%s\"", cases[i].json, err, cases[i].want);
		bk_close(&k);
		char *after = uft_slurp(path, NULL);
		assert_string_equal(after, cases[i].json); /* not overwritten */
		free(after);
	}
	/* a 513-byte key */
	char json[600];
	memset(json, 'k', sizeof(json));
	json[0] = '{';
	json[1] = '"';
	json[2 + 513] = '"';
	memcpy(json + 2 + 514, ":\"v\"}", 6);
	char *path = uft_tmpfile(json, strlen(json));
	struct bk k;
	assert_int_equal(bk_open(&k, NULL, 0, NULL, path), -1);
	assert_err_contains("key is not 1..512 bytes of UTF-8 text without NUL");
	bk_close(&k);
}

static void test_kv_file_unopenable(void **state)
{
	(void)state;
	struct bk k;
	assert_int_equal(bk_open(&k, NULL, 0, NULL, "/nonexistent/dir/kv.json"), -1);
	assert_err_contains("kv file /nonexistent/dir/kv.json: ");
	assert_err_contains("No such file or directory");
	bk_close(&k);
}

/* Parses a saved kv file with jansson; fails the test if it is not an object of strings. */
static json_t *load_saved(const char *path)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (!root)
		fail_msg("saved kv file is not JSON: %d:%d: %s", je.line, je.column, je.text);
	assert_true(json_is_object(root));
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) assert_true(json_is_string(v));
	return root;
}

static void test_kv_file_created_and_saved(void **state)
{
	(void)state;
	char *path = uft_tmpname(); /* does not exist yet */
	struct bk k;
	assert_int_equal(bk_open(&k, NULL, 0, NULL, path), 0);
	assert_int_equal(k.b->kv_set(k.b, "k", 1, "v", 1), 0);
	int64_t out;
	assert_int_equal(k.b->kv_incr(k.b, "hits", 4, 3, &out), 0);
	bk_close(&k);
	json_t *root = load_saved(path);
	assert_int_equal(json_object_size(root), 2);
	assert_string_equal(json_string_value(json_object_get(root, "k")), "v");
	assert_string_equal(json_string_value(json_object_get(root, "hits")), "3");
	json_decref(root);

	/* an empty store saves as an empty object, and a smaller store truncates the file */
	assert_int_equal(bk_open(&k, NULL, 0, NULL, path), 0);
	assert_int_equal(k.b->kv_del(k.b, "k", 1), 0);
	assert_int_equal(k.b->kv_del(k.b, "hits", 4), 0);
	bk_close(&k);
	root = load_saved(path);
	assert_int_equal(json_object_size(root), 0);
	json_decref(root);
	assert_int_equal(bk_open(&k, NULL, 0, NULL, path), 0);
	bk_close(&k);
}

/* The store is replaced, never rewritten in place: when writing the new
 * version fails (here: RLIMIT_FSIZE, EFBIG), the old file is left whole and
 * no temporary file is left beside it. */
static void test_kv_file_save_fails_old_survives(void **state)
{
	(void)state;
	char old[4096];
	int n = snprintf(old, sizeof(old), "{\"keep\": \"%0*d\"}", 3000, 7);
	char *path = uft_tmpfile(old, (size_t)n);
	struct bk k;
	assert_int_equal(bk_open(&k, NULL, 0, NULL, path), 0);
	assert_int_equal(k.b->kv_set(k.b, "k", 1, "v", 1), 0);

	struct rlimit was, small = {.rlim_cur = 1024, .rlim_max = RLIM_INFINITY};
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
	small.rlim_max = was.rlim_max;
	void (*sig)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	bk_close(&k);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
	signal(SIGXFSZ, sig);

	size_t len;
	char *after = uft_slurp(path, &len);
	assert_int_equal(len, (size_t)n);
	assert_memory_equal(after, old, (size_t)n);
	free(after);
	char *msg = uft_slurp(k.errf, NULL);
	if (!strstr(msg, "cannot save: File too large (the file is as it was)"))
		fail_msg("stderr: %s", msg);
	free(msg);
	/* nothing but the store in its directory's view of it: no .NAME.XXXXXX */
	char dir[4096], pattern[4200];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	snprintf(pattern, sizeof(pattern), ".%s.", slash + 1);
	DIR *d = opendir(dir);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		if (strncmp(e->d_name, pattern, strlen(pattern)) == 0)
			fail_msg("temporary file left: %s/%s", dir, e->d_name);
	closedir(d);
}

/* A unit that never ran (setup failed) leaves the --kv file as it found it. */
static void test_kv_file_untouched_when_unit_never_ran(void **state)
{
	(void)state;
	char *fresh = uft_tmpname();
	struct bk k;
	assert_int_equal(bk_open(&k, NULL, 0, NULL, fresh), 0);
	assert_int_equal(k.b->kv_set(k.b, "k", 1, "v", 1), 0);
	bk_close_ran(&k, 0);
	assert_int_equal(access(fresh, F_OK), -1); /* created by the open, removed again */

	static const char json[] = "{\"keep\": \"me\"}";
	char *path = uft_tmpfile(json, sizeof(json) - 1);
	assert_int_equal(bk_open(&k, NULL, 0, NULL, path), 0);
	assert_int_equal(k.b->kv_set(k.b, "k", 1, "v", 1), 0);
	assert_int_equal(k.b->kv_del(k.b, "keep", 4), 0);
	bk_close_ran(&k, 0);
	char *after = uft_slurp(path, NULL);
	assert_string_equal(after, json);
	free(after);
}

static void test_kv_save_roundtrip(void **state)
{
	(void)state;
	static const struct {
		const char *k, *v;
	} kvs[] = {
		{"plain", "value"},
		{"quote\"key", "say \"hi\""},
		{"back\\slash", "C:\\dir\\"},
		{"ctl", "\x01\x02\x1f\x7f\b\f"},
		{"ws", "line1\nline2\r\n\ttab"},
		{"utf8 \xe2\x82\xac", "\xf0\x9f\x98\x80 caf\xc3\xa9"},
		{"html", "</script><!--"},
		{"json", "{\"nested\": [1, 2, {\"a\": null}]}"},
		{"num", "-12"},
		{"empty", ""},
	};
	char *path = uft_tmpfile("{}", 2);
	struct bk k;
	assert_int_equal(bk_open(&k, NULL, 0, NULL, path), 0);
	for (size_t i = 0; i < sizeof(kvs) / sizeof(kvs[0]); i++)
		assert_int_equal(k.b->kv_set(k.b, kvs[i].k, strlen(kvs[i].k), kvs[i].v, strlen(kvs[i].v)), 0);
	char big[70000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(' ' + i % 90);
	assert_int_equal(k.b->kv_set(k.b, "big", 3, big, sizeof(big)), 0);
	assert_int_equal(k.b->kv_set(k.b, "gone", 4, "x", 1), 0);
	assert_int_equal(k.b->kv_del(k.b, "gone", 4), 0);
	bk_close(&k);

	json_t *root = load_saved(path);
	assert_int_equal(json_object_size(root), sizeof(kvs) / sizeof(kvs[0]) + 1);
	json_decref(root);

	if (bk_open(&k, NULL, 0, NULL, path) < 0)
		fail_msg("reloading the saved store: %s", err);
	for (size_t i = 0; i < sizeof(kvs) / sizeof(kvs[0]); i++)
		expect_val(k.b, kvs[i].k, strlen(kvs[i].k), kvs[i].v, strlen(kvs[i].v));
	expect_val(k.b, "big", 3, big, sizeof(big));
	expect_absent(k.b, "gone", 4);
	int64_t out;
	assert_int_equal(k.b->kv_incr(k.b, "num", 3, 2, &out), 0);
	assert_int_equal(out, -10);
	bk_close(&k);
}

/*
 * KV values (and keys) come from the guest and may be any bytes: the store
 * the tender saves must be one it can load again.  Today a value with a NUL
 * byte is saved as "\u0000", which kv_load's json_loadfd refuses without
 * JSON_ALLOW_NUL; a byte >= 0x80 that is not UTF-8 is written raw, which
 * no JSON parser accepts; a key with a NUL cannot be a jansson object key.
 * The next run of the unit then fails to start ("kv file ...: ...").
 */
static void roundtrip_one(const char *what, const char *key, size_t klen, const char *val, size_t vlen)
{
	char *path = uft_tmpname();
	struct bk k;
	assert_int_equal(bk_open(&k, NULL, 0, NULL, path), 0);
	assert_int_equal(k.b->kv_set(k.b, key, klen, val, vlen), 0);
	bk_close(&k);
	if (bk_open(&k, NULL, 0, NULL, path) < 0) {
		char *saved = uft_slurp(path, NULL);
		fail_msg("%s: the saved store cannot be loaded again: %s (saved: %s)", what, err, saved);
	}
	expect_val(k.b, key, klen, val, vlen);
	bk_close(&k);
}

static void test_kv_save_roundtrip_nul_in_value(void **state)
{
	(void)state;
	roundtrip_one("value with a NUL byte", "bin", 3, "a\0b", 3);
}

static void test_kv_save_roundtrip_non_utf8_value(void **state)
{
	(void)state;
	roundtrip_one("value with bytes 0xff 0xfe", "bin", 3, "\xff\xfe", 2);
}

static void test_kv_save_roundtrip_nul_in_key(void **state)
{
	(void)state;
	/* keys are text: one with a NUL byte is refused, so it is never saved */
	char *path = uft_tmpname();
	struct bk k;
	assert_int_equal(bk_open(&k, NULL, 0, NULL, path), 0);
	assert_int_equal(k.b->kv_set(k.b, "a\0b", 3, "v", 1), -EINVAL);
	bk_close(&k);
}

/* ---- uf_json_escape ----------------------------------------------------------------- */

static void expect_escape(const char *in, size_t len, const char *want)
{
	char *out = malloc(6 * len + 1); /* the documented worst case, exactly: ASan catches more */
	assert_non_null(out);
	size_t n = uf_json_escape(out, in, len);
	assert_true(n <= 6 * len);
	out[n] = '\0';
	if (n != strlen(want) || memcmp(out, want, n) != 0)
		fail_msg("escape of %zu bytes gave \"%s\", expected \"%s\"", len, out, want);
	free(out);
}

static void test_json_escape(void **state)
{
	(void)state;
	expect_escape("", 0, "");
	expect_escape("plain text 123", 14, "plain text 123");
	expect_escape("\"", 1, "\\\"");
	expect_escape("\\", 1, "\\\\");
	expect_escape("a\"b\\c", 5, "a\\\"b\\\\c");
	expect_escape("\n\t\r", 3, "\\n\\t\\r");
	expect_escape("\0", 1, "\\u0000");
	expect_escape("a\0b", 3, "a\\u0000b");
	expect_escape("\x01\x1f", 2, "\\u0001\\u001f");
	expect_escape("\b\f", 2, "\\u0008\\u000c");
	expect_escape("\x7f", 1, "\\u007f");
	expect_escape("\x1b[0m", 4, "\\u001b[0m");
	expect_escape("caf\xc3\xa9 \xe2\x82\xac", 9, "caf\xc3\xa9 \xe2\x82\xac"); /* UTF-8 passes through */
	expect_escape("/</script>", 10, "/</script>");
	/* worst case: every byte a control byte */
	char ctl[64];
	memset(ctl, 1, sizeof(ctl));
	char want[6 * 64 + 1] = "";
	for (int i = 0; i < 64; i++)
		strcat(want, "\\u0001");
	expect_escape(ctl, sizeof(ctl), want);
}

/* Every valid UTF-8 string escapes to a JSON string that decodes to it. */
static void test_json_escape_roundtrips_through_jansson(void **state)
{
	(void)state;
	char in[160];
	size_t n = 0;
	for (int c = 0; c < 128; c++)
		in[n++] = (char)c;
	memcpy(in + n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
	n += 9;
	char out[6 * sizeof(in) + 3];
	out[0] = '"';
	size_t o = 1 + uf_json_escape(out + 1, in, n);
	out[o++] = '"';
	json_error_t je;
	json_t *s = json_loadb(out, o, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!s)
		fail_msg("escaped text is not a JSON string: %s", je.text);
	assert_int_equal(json_string_length(s), n);
	assert_memory_equal(json_string_value(s), in, n);
	json_decref(s);
}

/*
 * Pushes are printed as JSON lines, whatever bytes the guest staged.  A byte
 * >= 0x80 that is not part of valid UTF-8 is copied raw by uf_json_escape,
 * so the line is not JSON (RFC 8259 requires UTF-8).
 */
static void test_json_escape_output_is_json_for_any_bytes(void **state)
{
	(void)state;
	int bad = 0, first = -1;
	for (int c = 0; c < 256; c++) {
		char in = (char)c, out[8] = "\"";
		size_t o = 1 + uf_json_escape(out + 1, &in, 1);
		out[o++] = '"';
		json_t *s = json_loadb(out, o, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		if (!s) {
			bad++;
			if (first < 0)
				first = c;
		}
		json_decref(s);
	}
	if (bad)
		fail_msg("%d single bytes (the first 0x%02x) escape to text that is not a JSON string", bad, first);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_values_then_file),
		cmocka_unit_test(test_events_file_missing),
		cmocka_unit_test(test_commit_output_and_failures),
		cmocka_unit_test(test_commit_skipped_events),
		cmocka_unit_test(test_close_with_events_in_flight),
		cmocka_unit_test(test_kv_set_get_del),
		cmocka_unit_test(test_kv_incr),
		cmocka_unit_test(test_kv_incr_value_with_nul_is_not_integer),
		cmocka_unit_test(test_kv_file_load),
		cmocka_unit_test(test_kv_file_save_fails_old_survives),
		cmocka_unit_test(test_kv_file_bad_json),
		cmocka_unit_test(test_kv_file_bad_contents),
		cmocka_unit_test(test_kv_file_unopenable),
		cmocka_unit_test(test_kv_file_created_and_saved),
		cmocka_unit_test(test_kv_file_untouched_when_unit_never_ran),
		cmocka_unit_test(test_kv_save_roundtrip),
		cmocka_unit_test(test_kv_save_roundtrip_nul_in_value),
		cmocka_unit_test(test_kv_save_roundtrip_non_utf8_value),
		cmocka_unit_test(test_kv_save_roundtrip_nul_in_key),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_json_escape_roundtrips_through_jansson),
		cmocka_unit_test(test_json_escape_output_is_json_for_any_bytes),
	};
	return cmocka_run_group_tests_name("backend_local", tests, NULL, NULL);
}
