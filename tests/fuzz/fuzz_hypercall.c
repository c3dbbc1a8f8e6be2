/*
 * fuzz_hypercall.c - libFuzzer target for the tender's hypercall handling.
 *
 * Each input (format: fuzz_input.h) is a guest memory image plus a short
 * sequence of hypercall stores.  For every input the unit is fresh: guest memory (8 MiB,
 * laid out by the real hvt_boot_setup as in the unit tests,
 * tests/unit/support.c) is as after boot, struct hvt is reset, and a new
 * real local backend is opened with events from a small file, pushes,
 * failure reports and console to /dev/null, and a --kv file that starts
 * empty and is saved when the backend closes (so kv_save sees what the
 * guest stored).  The calls go to hvt_hypercall() one after another until
 * one ends the unit.
 *
 * What must hold, for any input:
 *  - the tender touches no host memory outside guest memory and its own
 *    allocations (ASan; guest memory itself sits between PROT_NONE guard
 *    pages, so running off either end faults);
 *  - no undefined behaviour (UBSan, non-recovering);
 *  - every pointer hvt_guest_ptr hands out lies inside guest memory, off
 *    the NULL page, and when asked for writable memory, only on pages the
 *    guest's own page tables let ring 3 write (checked by wrapping
 *    hvt_guest_ptr, linked with -Wl,--wrap=hvt_guest_ptr);
 *  - the tender writes guest memory only inside the ranges hvt_guest_ptr
 *    handed out as writable: all guest memory is read-only to the process
 *    (mprotect) except the pages of those ranges, so a stray write faults
 *    at once; within those pages, bytes outside the ranges are compared
 *    with the pristine copy after the input;
 *  - every call is either served (its ret/status field is written) or ends
 *    the unit with a UF_END_* code and a non-empty reason; a bad hypercall's
 *    reason starts "bad hypercall: "; exit and fault always end the unit;
 *  - no more than UF_BATCH_MAX events are ever in flight.
 *
 * One liberty is taken: a yield's timeout is set to 0 before the call (the
 * tender sleeps up to an hour as asked, by design, and even 1 ns costs a
 * timer-slack sleep of ~50 us).
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "hvt.h"

#define PG UF_PAGE_SIZE
#define NPAGES (UFT_MEM / PG)

static uint8_t writable_page[NPAGES]; /* ring 3 may write it, per the page tables */
static uint8_t open_page[NPAGES];     /* made writable for this input */
static struct hvt *cur;               /* the unit being fuzzed */
static struct hvt pristine;           /* after hvt_boot_setup, no backend */
static uint8_t *pristine_mem;         /* copy of its guest memory */
static char *events_path, *kv_path;
static int devnull = -1;
static int verbose; /* FUZZ_VERBOSE=1: print what each call did (to replay an input) */

/* Guest ranges the tender (or this harness) was allowed to write in this input. */
#define MAX_RANGES 256
static struct hvt_region ranges[MAX_RANGES];
static int nranges;

#define CHECK(cond, ...)                                                 \
	do {                                                             \
		if (!(cond)) {                                           \
			fprintf(stderr, "fuzz_hypercall: " __VA_ARGS__); \
			fprintf(stderr, "\n");                           \
			abort();                                         \
		}                                                        \
	} while (0)

/* Lets [lo, hi) of guest memory be written during this input. */
static void open_range(uint64_t lo, uint64_t hi)
{
	if (lo >= hi)
		return;
	CHECK(nranges < MAX_RANGES, "more than %d writable ranges in one input", MAX_RANGES);
	ranges[nranges++] = (struct hvt_region){lo, hi};
	for (uint64_t p = lo / PG; p <= (hi - 1) / PG; p++) {
		if (open_page[p])
			continue;
		CHECK(mprotect(pristine.mem + p * PG, PG, PROT_READ | PROT_WRITE) == 0, "mprotect failed");
		open_page[p] = 1;
	}
}

/* Restores every opened page from the pristine copy, checking that only the
 * opened ranges changed, and makes the pages read-only again. */
static void close_ranges(void)
{
	uint8_t *mem = pristine.mem;
	for (int i = 0; i < nranges; i++)
		memcpy(mem + ranges[i].lo, pristine_mem + ranges[i].lo, ranges[i].hi - ranges[i].lo);
	for (uint64_t p = 0; p < NPAGES; p++) {
		if (!open_page[p])
			continue;
		CHECK(memcmp(mem + p * PG, pristine_mem + p * PG, PG) == 0,
		      "guest page 0x%lx changed outside the writable ranges hvt_guest_ptr handed out",
		      (unsigned long)(p * PG));
		CHECK(mprotect(mem + p * PG, PG, PROT_READ) == 0, "mprotect failed");
		open_page[p] = 0;
	}
	nranges = 0;
}

/* ---- the hvt_guest_ptr oracle ------------------------------------------------ */

void *__real_hvt_guest_ptr(struct hvt *h, uint64_t gpa, uint64_t len, int writable);
void *__wrap_hvt_guest_ptr(struct hvt *h, uint64_t gpa, uint64_t len, int writable);

void *__wrap_hvt_guest_ptr(struct hvt *h, uint64_t gpa, uint64_t len, int writable)
{
	uint8_t *p = __real_hvt_guest_ptr(h, gpa, len, writable);
	if (!p || h != cur)
		return p;
	CHECK(p == h->mem + gpa, "hvt_guest_ptr(0x%lx) returned a pointer not at mem + gpa", (unsigned long)gpa);
	CHECK(gpa >= PG && gpa <= h->mem_size && len <= h->mem_size - gpa,
	      "hvt_guest_ptr allowed [0x%lx, +%lu) outside guest memory or on the NULL page", (unsigned long)gpa,
	      (unsigned long)len);
	if (writable && len) {
		for (uint64_t a = gpa & ~(uint64_t)(PG - 1); a < gpa + len; a += PG)
			CHECK(writable_page[a / PG],
			      "hvt_guest_ptr allowed a write to [0x%lx, +%lu): page 0x%lx is not writable by the guest",
			      (unsigned long)gpa, (unsigned long)len, (unsigned long)a);
		open_range(gpa, gpa + len);
	}
	return p;
}

/* Leaf PTE for a, from the page tables hvt_boot_setup wrote into guest memory. */
static uint64_t leaf_pte(const uint8_t *mem, uint64_t a)
{
	const uint64_t mask = 0x000ffffffffff000ull;
	uint64_t e;
	memcpy(&e, mem + UF_PT_ADDR + 8 * (a >> 39 & 511), 8);
	if (!(e & 1))
		return 0;
	memcpy(&e, mem + (e & mask) + 8 * (a >> 30 & 511), 8);
	if (!(e & 1))
		return 0;
	memcpy(&e, mem + (e & mask) + 8 * (a >> 21 & 511), 8);
	if (!(e & 1) || (e & 0x80))
		return e;
	memcpy(&e, mem + (e & mask) + 8 * (a >> 12 & 511), 8);
	return e;
}

/* ---- setup --------------------------------------------------------------------- */

static char *tmp_file(const char *what, const char *contents)
{
	const char *dir = getenv("UF_TMP"); /* tests/run.sh's scratch directory */
	if (!dir || !*dir)
		dir = getenv("TMPDIR");
	char *path;
	if (asprintf(&path, "%s/uf-fuzz-%s-XXXXXX", dir && *dir ? dir : "/tmp", what) < 0)
		abort();
	int fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp %s failed", path);
	size_t n = strlen(contents);
	CHECK(write(fd, contents, n) == (ssize_t)n, "cannot write %s", path);
	close(fd);
	return path;
}

static void cleanup(void)
{
	if (events_path)
		unlink(events_path);
	if (kv_path)
		unlink(kv_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* events of several sizes; the 3000-byte one does not fit small pop buffers */
	char big[3001];
	memset(big, 'x', 3000);
	big[3000] = '\0';
	char *events;
	if (asprintf(&events, "first\n{\"n\":42}\n\nwith \"quotes\" and \\ backslash\r\n%s\nlast\n", big) < 0)
		abort();
	events_path = tmp_file("events", events);
	free(events);
	kv_path = tmp_file("kv", "");
	atexit(cleanup);
	verbose = getenv("FUZZ_VERBOSE") && atoi(getenv("FUZZ_VERBOSE")) > 0;
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CHECK(devnull >= 0, "cannot open /dev/null");

	/* the unit every input starts from */
	CHECK(uft_hvt_init(&pristine, UFT_MEM, NULL, devnull) == 0, "uft_hvt_init failed");
	pristine.backend->close(pristine.backend, 0);
	pristine.backend = NULL;
	/* its memory moves to a mapping between two PROT_NONE guard pages */
	uint8_t *map = mmap(NULL, UFT_MEM + 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(map != MAP_FAILED, "mmap failed");
	uint8_t *mem = map + PG;
	CHECK(mprotect(mem, UFT_MEM, PROT_READ | PROT_WRITE) == 0, "mprotect failed");
	memcpy(mem, pristine.mem, UFT_MEM);
	free(pristine.mem);
	pristine.mem = mem;
	pristine_mem = malloc(UFT_MEM);
	CHECK(pristine_mem, "out of memory");
	memcpy(pristine_mem, mem, UFT_MEM);
	CHECK(mprotect(mem, UFT_MEM, PROT_READ) == 0, "mprotect failed");
	/* the page-table oracle */
	for (uint64_t a = 0; a < UFT_MEM; a += PG)
		writable_page[a / PG] = (leaf_pte(mem, a) & 7) == 7; /* present, writable, user */
	return 0;
}

/* ---- one input ------------------------------------------------------------------ */

struct callinfo {
	size_t size; /* argument struct */
	int ret_off; /* offset of the int32 ret/status field; -1: the call always ends the unit */
};

static const struct callinfo calls[UF_HC_COUNT] = {
	[UF_HC_CONSOLE] = {sizeof(struct uf_hc_console), offsetof(struct uf_hc_console, ret)},
	[UF_HC_TIME] = {sizeof(struct uf_hc_time), offsetof(struct uf_hc_time, ret)},
	[UF_HC_RANDOM] = {sizeof(struct uf_hc_random), offsetof(struct uf_hc_random, ret)},
	[UF_HC_EXIT] = {sizeof(struct uf_hc_exit), -1},
	[UF_HC_FAULT] = {sizeof(struct uf_hc_fault), -1},
	[UF_HC_POP] = {sizeof(struct uf_hc_pop), offsetof(struct uf_hc_pop, status)},
	[UF_HC_COMMIT] = {sizeof(struct uf_hc_commit), offsetof(struct uf_hc_commit, ret)},
	[UF_HC_KV] = {sizeof(struct uf_hc_kv), offsetof(struct uf_hc_kv, ret)},
	[UF_HC_HTTP] = {sizeof(struct uf_hc_http), offsetof(struct uf_hc_http, ret)},
	[UF_HC_NET] = {sizeof(struct uf_hc_net), offsetof(struct uf_hc_net, ret)},
	[UF_HC_YIELD] = {sizeof(struct uf_hc_yield), offsetof(struct uf_hc_yield, ret)},
	[UF_HC_SETFS] = {sizeof(struct uf_hc_setfs), offsetof(struct uf_hc_setfs, ret)},
	[UF_HC_TOPIC] = {sizeof(struct uf_hc_topic), offsetof(struct uf_hc_topic, ret)},
};

#define SENTINEL 0x5eed5eed

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned ncalls = data[0] % FUZZ_MAX_CALLS + 1;
	if (size < 1 + (size_t)ncalls * FUZZ_CALL_BYTES)
		return 0;
	const uint8_t *desc = data + 1;
	const uint8_t *image = desc + ncalls * FUZZ_CALL_BYTES;
	size_t image_len = size - 1 - ncalls * FUZZ_CALL_BYTES;
	if (image_len > FUZZ_IMAGE_MAX)
		image_len = FUZZ_IMAGE_MAX;

	/* a fresh unit: empty KV file, events from the top */
	CHECK(truncate(kv_path, 0) == 0, "cannot truncate %s", kv_path);
	struct uf_local_opts lo = {.events_file = events_path, .kv_file = kv_path, .queue = "input",
				   .out_fd = devnull, .err_fd = devnull};
	static struct hvt h;
	char err[512];
	h = pristine;
	h.backend = uf_local_backend_open(&lo, err, sizeof(err));
	CHECK(h.backend, "uf_local_backend_open: %s", err);
	open_range(FUZZ_HEAP, FUZZ_HEAP + image_len);
	memcpy(h.mem + FUZZ_HEAP, image, image_len);
	cur = &h;

	for (unsigned i = 0; i < ncalls && !h.ended; i++) {
		uint64_t addr = fuzz_addr(desc[i * FUZZ_CALL_BYTES]);
		uint32_t value;
		memcpy(&value, desc + i * FUZZ_CALL_BYTES + 1, 4);
		const struct callinfo *ci = NULL;
		uint8_t *arg = NULL;
		if (addr >= UF_HC_PAGE && (addr - UF_HC_PAGE) % UF_HC_SLOT == 0 &&
		    (addr - UF_HC_PAGE) / UF_HC_SLOT < UF_HC_COUNT) {
			unsigned n = (unsigned)((addr - UF_HC_PAGE) / UF_HC_SLOT);
			ci = &calls[n];
			arg = __real_hvt_guest_ptr(&h, value, ci->size, 1);
			if (arg) /* the harness writes here */
				open_range(value, value + ci->size);
			if (arg && n == UF_HC_YIELD) {
				uint64_t ns = 0;
				memcpy(arg, &ns, 8);
			}
			if (arg && ci->ret_off >= 0) {
				int32_t s = SENTINEL;
				memcpy(arg + ci->ret_off, &s, 4);
			}
		}

		hvt_hypercall(&h, addr, 4, 1, value);

		if (verbose) {
			int32_t ret = 0;
			if (arg && ci->ret_off >= 0)
				memcpy(&ret, arg + ci->ret_off, 4);
			fprintf(stderr, "call %u: at 0x%lx value 0x%x: %s%s ret %d inflight %u\n", i,
				(unsigned long)addr, value,
				h.ended ? "ended: " : "served", h.ended ? h.end_reason : "", ret, h.inflight);
		}
		CHECK(h.inflight <= UF_BATCH_MAX, "%u events in flight", h.inflight);
		if (h.ended) {
			CHECK(h.end_code >= UF_END_EXIT && h.end_code <= UF_END_INTERNAL, "end code %d", h.end_code);
			CHECK(h.end_reason[0] != '\0', "the unit ended (code %d) without a reason", h.end_code);
			CHECK(memchr(h.end_reason, '\0', sizeof(h.end_reason)) != NULL, "reason not terminated");
			if (h.end_code == UF_END_BAD_HYPERCALL)
				CHECK(strncmp(h.end_reason, "bad hypercall: ", 15) == 0, "bad hypercall reason \"%s\"",
				      h.end_reason);
			break;
		}
		/* not ended: it was a call, with a valid struct, and it was served */
		CHECK(ci && arg, "store to 0x%lx of 0x%x neither served nor ended the unit", (unsigned long)addr,
		      value);
		CHECK(ci->ret_off >= 0, "call at 0x%lx did not end the unit", (unsigned long)addr);
		int32_t ret;
		memcpy(&ret, arg + ci->ret_off, 4);
		CHECK(ret != SENTINEL, "call at 0x%lx with 0x%x returned without an answer", (unsigned long)addr,
		      value);
	}

	cur = NULL;
	h.backend->close(h.backend, 1); /* kv_save runs here */
	close_ranges();
	return 0;
}
