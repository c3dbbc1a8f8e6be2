/*
 * test_hypercall.c - hvt_hypercall() dispatch and the non-data-plane calls
 * (tender/hvt_hypercall.c): the transport, argument structs, console, time, random,
 * exit, fault (with the KVM stub's CR2), setfs, yield, http (hvt_egress.c:
 * malformed calls, and the wire to unifaasd over a socketpair) and net.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <sys/socket.h>
#include <unistd.h>

#include "egress.h"
#include "hvt.h"
#include "kvm_stub.h"
#include "support.h"

#define ARG (UFT_HEAP + 0x40)
#define BUF (UFT_HEAP + 0x1000)

static int setup(void **state)
{
	struct uft_fx *fx = calloc(1, sizeof(*fx));
	if (!fx || uft_fx_open(fx, NULL, NULL) < 0)
		return -1;
	stub_reset();
	*state = fx;
	return 0;
}

/* Copies the struct to ARG, makes the call through `call`'s slot, copies it back. */
#define CALL(fx, call, s)                                                                                              \
	do {                                                                                                           \
		memcpy(G((fx), ARG), &(s), sizeof(s));                                                                 \
		uft_hc(&(fx)->h, (call), (uint32_t)ARG);                                                               \
		memcpy(&(s), G((fx), ARG), sizeof(s));                                                                 \
	} while (0)

static void assert_running(struct uft_fx *fx)
{
	if (fx->h.ended)
		fail_msg("the unit ended (code %d): %s", fx->h.end_code, fx->h.end_reason);
}

static void assert_ended(struct uft_fx *fx, int code, const char *reason_part)
{
	if (!fx->h.ended || fx->h.end_code != code || !strstr(fx->h.end_reason, reason_part))
		fail_msg("ended=%d code=%d reason \"%s\"; expected code %d and \"%s\"", fx->h.ended, fx->h.end_code,
		         fx->h.end_reason, code, reason_part);
}

/* Ends a fresh unit with one access; returns nothing, the fixture says how it ended. */
static void access_ends(uint64_t gpa, uint32_t len, int is_write, int code, const char *reason_part)
{
	struct uft_fx fx;
	assert_int_equal(uft_fx_open(&fx, NULL, NULL), 0);
	memcpy(G(&fx, ARG), &(struct uf_hc_time){.clock = UF_CLOCK_MONO}, sizeof(struct uf_hc_time));
	hvt_hypercall(&fx.h, gpa, len, is_write, ARG);
	if (!fx.h.ended || fx.h.end_code != code || !strstr(fx.h.end_reason, reason_part))
		fail_msg("access to 0x%lx (%u bytes, %s): ended=%d code=%d \"%s\"; expected code %d and \"%s\"",
		         (unsigned long)gpa, len, is_write ? "store" : "read", fx.h.ended, fx.h.end_code,
		         fx.h.end_reason, code, reason_part);
	uft_fx_close(&fx);
}

/* The transport: one 32-bit store to a call's slot is a call, nothing else is. */
static void test_bad_transport(void **state)
{
	struct uft_fx *fx = *state;
	struct uf_hc_time t = {.clock = UF_CLOCK_MONO, .ret = -999};
	CALL(fx, UF_HC_TIME, t); /* the good one, for contrast */
	assert_running(fx);
	assert_int_equal(t.ret, 0);

	access_ends(UF_HC_ADDR(UF_HC_COUNT), 4, 1, UF_END_BAD_HYPERCALL,
	            "bad hypercall: store to 0x80000068 in the hypercall page, which is not a hypercall");
	static const uint64_t not_slots[] = {UF_HC_ADDR(UF_HC_TIME) + 4, UF_HC_ADDR(UF_HC_TIME) + 1,
	                                     UF_HC_ADDR(UF_HC_COUNT + 1), UF_HC_PAGE + UF_PAGE_SIZE - 4,
	                                     UF_HC_PAGE + UF_PAGE_SIZE - 8};
	for (size_t i = 0; i < sizeof(not_slots) / sizeof(not_slots[0]); i++)
		access_ends(not_slots[i], 4, 1, UF_END_BAD_HYPERCALL,
		            "in the hypercall page, which is not a hypercall");
	static const uint32_t widths[] = {1, 2, 3, 8, 16};
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
		access_ends(UF_HC_ADDR(UF_HC_TIME), widths[i], 1, UF_END_BAD_HYPERCALL,
		            "in the hypercall page (hypercalls are one 32-bit store)");
	access_ends(UF_HC_ADDR(UF_HC_TIME), 4, 0, UF_END_BAD_HYPERCALL,
	            "bad hypercall: read of 4 bytes at 0x80000008 in the hypercall page (hypercalls are one 32-bit "
	            "store)");
	/* outside the page: nothing is mapped there, so it would be a fault of the guest's */
	static const uint64_t outside[] = {
	    UF_HC_PAGE - 4, UF_HC_PAGE + UF_PAGE_SIZE, UFT_MEM, 0, UF_HC_PAGE - UF_PAGE_SIZE, UINT64_MAX - 3};
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
		access_ends(outside[i], 4, 1, UF_END_FAULT, "guest fault: access to guest-physical 0x");
}

static void test_first_end_wins(void **state)
{
	struct uft_fx *fx = *state;
	struct uf_hc_time t = {.clock = 99};
	CALL(fx, UF_HC_TIME, t);
	assert_ended(fx, UF_END_BAD_HYPERCALL, "bad hypercall: time: unknown clock 99");
	struct uf_hc_exit e = {.kind = UF_EXIT_NORMAL};
	CALL(fx, UF_HC_EXIT, e);
	assert_ended(fx, UF_END_BAD_HYPERCALL, "time: unknown clock 99");
}

static void test_every_call_checks_its_argument_struct(void **state)
{
	(void)state;
	for (unsigned c = 0; c < UF_HC_COUNT; c++) {
		if (c == UF_HC_FAULT)
			continue; /* lives on the exception stack: test_fault_argument_on_exception_stack */
		static const uint64_t bad_args[] = {
		    0, 8, UFT_TEXT_LO, UFT_RO_LO, UF_GDT_ADDR, UF_PT_ADDR, UFT_HEAP_END, UFT_MEM - 8, 0xffffffffu};
		for (size_t i = 0; i < sizeof(bad_args) / sizeof(bad_args[0]); i++) {
			struct uft_fx fx;
			assert_int_equal(uft_fx_open(&fx, NULL, NULL), 0);
			uft_hc(&fx.h, c, (uint32_t)bad_args[i]);
			if (!fx.h.ended || fx.h.end_code != UF_END_BAD_HYPERCALL ||
			    !strstr(fx.h.end_reason, "argument struct"))
				fail_msg("call %u with its struct at 0x%lx: ended=%d code=%d \"%s\"", c,
				         (unsigned long)bad_args[i], fx.h.ended, fx.h.end_code, fx.h.end_reason);
			uft_fx_close(&fx);
		}
	}
}

static void test_console(void **state)
{
	struct uft_fx *fx = *state;
	memcpy(G(fx, BUF), "hello\n", 6);
	struct uf_hc_console c = {.buf = BUF, .len = 6, .fd = 1, .ret = -999};
	CALL(fx, UF_HC_CONSOLE, c);
	assert_running(fx);
	assert_int_equal(c.ret, 0);
	c = (struct uf_hc_console){.buf = UFT_RO_LO, .len = 0, .fd = 2, .ret = -999}; /* read-only is fine */
	CALL(fx, UF_HC_CONSOLE, c);
	assert_int_equal(c.ret, 0);
	char *out = uft_slurp(fx->console, NULL);
	assert_string_equal(out, "hello\n");
	free(out);

	static const uint32_t bad_fds[] = {0, 3, 255, UINT32_MAX};
	for (size_t i = 0; i < sizeof(bad_fds) / sizeof(bad_fds[0]); i++) {
		c = (struct uf_hc_console){.buf = BUF, .len = 6, .fd = bad_fds[i], .ret = -999};
		CALL(fx, UF_HC_CONSOLE, c);
		assert_running(fx);
		assert_int_equal(c.ret, -EBADF);
	}

	c = (struct uf_hc_console){.buf = BUF, .len = UF_CONSOLE_MAX + 1, .fd = 1};
	CALL(fx, UF_HC_CONSOLE, c);
	assert_ended(fx, UF_END_BAD_HYPERCALL, "bad hypercall: console: length 1048577 exceeds 1048576");
}

static void test_console_outside_memory(void **state)
{
	struct uft_fx *fx = *state;
	struct uf_hc_console c = {.buf = UFT_MEM - 4, .len = 8, .fd = 1};
	CALL(fx, UF_HC_CONSOLE, c);
	assert_ended(fx, UF_END_BAD_HYPERCALL, "bad hypercall: console: buf");
}

static void test_time(void **state)
{
	struct uft_fx *fx = *state;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t wall = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	struct uf_hc_time t = {.clock = UF_CLOCK_WALL, .ret = -999};
	CALL(fx, UF_HC_TIME, t);
	assert_int_equal(t.ret, 0);
	assert_true(t.ns >= wall && t.ns < wall + 10000000000ull);
	struct uf_hc_time m1 = {.clock = UF_CLOCK_MONO}, m2 = {.clock = UF_CLOCK_MONO};
	CALL(fx, UF_HC_TIME, m1);
	CALL(fx, UF_HC_TIME, m2);
	assert_true(m2.ns >= m1.ns);
	assert_running(fx);
	t.clock = 2;
	CALL(fx, UF_HC_TIME, t);
	assert_ended(fx, UF_END_BAD_HYPERCALL, "bad hypercall: time: unknown clock 2");
}

static void test_random(void **state)
{
	struct uft_fx *fx = *state;
	memset(G(fx, BUF), 0, 512);
	struct uf_hc_random r = {.buf = BUF, .len = UF_RANDOM_MAX, .ret = -999};
	CALL(fx, UF_HC_RANDOM, r);
	assert_running(fx);
	assert_int_equal(r.ret, 0);
	int nonzero = 0;
	for (unsigned i = 0; i < UF_RANDOM_MAX; i++)
		nonzero += G(fx, BUF)[i] != 0;
	assert_true(nonzero > 200);
	assert_int_equal(G(fx, BUF)[UF_RANDOM_MAX], 0);

	struct uft_fx f2;
	assert_int_equal(uft_fx_open(&f2, NULL, NULL), 0);
	r = (struct uf_hc_random){.buf = UFT_TEXT_LO, .len = 16};
	CALL(&f2, UF_HC_RANDOM, r);
	assert_ended(&f2, UF_END_BAD_HYPERCALL, "bad hypercall: random: buf");
	uft_fx_close(&f2);

	r = (struct uf_hc_random){.buf = BUF, .len = UF_RANDOM_MAX + 1};
	CALL(fx, UF_HC_RANDOM, r);
	assert_ended(fx, UF_END_BAD_HYPERCALL, "bad hypercall: random: length 257 exceeds 256");
}

static void test_exit(void **state)
{
	(void)state;
	static const struct {
		struct uf_hc_exit e;
		const char *msg;
		int code;
		const char *reason;
	} cases[] = {
	    {{.kind = UF_EXIT_NORMAL, .status = 0}, NULL, UF_END_EXIT, "exited with status 0"},
	    {{.kind = UF_EXIT_NORMAL, .status = 3}, NULL, UF_END_ERROR, "function error: exited with status 3"},
	    {{.kind = UF_EXIT_ABORT, .status = 6},
	     "assertion failed",
	     UF_END_ERROR,
	     "function error: assertion failed (signal 6)"},
	    {{.kind = UF_EXIT_ABORT, .status = 6}, NULL, UF_END_ERROR, "function error: aborted (signal 6)"},
	    {{.kind = UF_EXIT_OOM}, "malloc(1G)", UF_END_OOM, "out of memory: malloc(1G) (budget 8 MiB"},
	    {{.kind = UF_EXIT_OOM}, NULL, UF_END_OOM, "guest runtime could not allocate"},
	    {{.kind = 7}, NULL, UF_END_BAD_HYPERCALL, "bad hypercall: exit: unknown kind 7"},
	    {{.kind = UF_EXIT_ABORT, .msg = UFT_MEM - 2, .msg_len = 8},
	     NULL,
	     UF_END_BAD_HYPERCALL,
	     "bad hypercall: exit: msg"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct uft_fx fx;
		assert_int_equal(uft_fx_open(&fx, NULL, NULL), 0);
		struct uf_hc_exit e = cases[i].e;
		if (cases[i].msg) {
			memcpy(G(&fx, BUF), cases[i].msg, strlen(cases[i].msg));
			e.msg = BUF;
			e.msg_len = strlen(cases[i].msg);
		}
		CALL(&fx, UF_HC_EXIT, e);
		assert_ended(&fx, cases[i].code, cases[i].reason);
		uft_fx_close(&fx);
	}
}

static void test_exit_long_message_truncated(void **state)
{
	struct uft_fx *fx = *state;
	memset(G(fx, BUF), 'm', 4096);
	struct uf_hc_exit e = {.kind = UF_EXIT_ABORT, .status = 6, .msg = BUF, .msg_len = 4096};
	CALL(fx, UF_HC_EXIT, e);
	assert_int_equal(fx->h.end_code, UF_END_ERROR);
	assert_true(strlen(fx->h.end_reason) < sizeof(fx->h.end_reason));
	assert_non_null(strstr(fx->h.end_reason, "mmmm"));
}

/* The fault struct is read from the exception stack, where libuf's stubs push it. */
static void fault(struct uft_fx *fx, uint64_t vector, uint64_t error, uint64_t at)
{
	struct uf_hc_fault f = {
	    .vector = vector, .error = error, .rip = 0x100456, .cs = UF_SEL_UCODE, .rsp = 0x7fff00, .ss = UF_SEL_UDATA};
	memcpy(G(fx, at), &f, sizeof(f));
	uft_hc(&fx->h, UF_HC_FAULT, (uint32_t)at);
}

static void test_fault_messages(void **state)
{
	(void)state;
	static const struct {
		uint64_t vector, error, cr2;
		const char *reason;
	} cases[] = {
	    {14, 0x4, 0x10,
	     "guest fault: #PF page fault: NULL pointer dereference (read of address 0x10) at rip 0x100456"},
	    {14, 0x6, UFT_STACK_LO - 8,
	     "stack overflow (hit the guard page below the stack) (write of address 0x7bfff8)"},
	    {14, 0x7, UFT_TEXT_LO + 0x20, "write to the function's own code (text is read-only)"},
	    {14, 0x7, UFT_RO_LO + 0x20, "write to read-only data"},
	    {14, 0x15, UFT_HEAP + 0x10, "execute of non-executable memory (execute of address"},
	    {14, 0x4, UFT_MEM + 0x1000, "access beyond the guest memory budget"},
	    {14, 0x4, UF_PT_ADDR, "access to unmapped memory"},
	    {14, 0x6, UF_TSS_ADDR, "access to the runtime's protected low memory"},
	    {13, 0x18, 0, "guest fault: #GP general protection: error code 0x18 at rip 0x100456 (rsp 0x7fff00)"},
	    {0, 0, 0, "guest fault: #DE divide error at rip 0x100456"},
	    {6, 0, 0, "#UD invalid opcode"},
	    {15, 0, 0, "reserved exception"},
	    {1000, 0, 0, "reserved exception"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct uft_fx fx;
		assert_int_equal(uft_fx_open(&fx, NULL, NULL), 0);
		stub_cr2 = cases[i].cr2;
		fault(&fx, cases[i].vector, cases[i].error, UF_IST_TOP - sizeof(struct uf_hc_fault));
		assert_ended(&fx, UF_END_FAULT, cases[i].reason);
		uft_fx_close(&fx);
	}
}

static void test_fault_argument_on_exception_stack(void **state)
{
	(void)state;
	/* anywhere but the exception stack (even writable memory) is a bad hypercall */
	static const uint64_t bad[] = {UFT_HEAP, UF_IST_LO - 8, UF_IST_TOP - 8, UF_IST_TOP,
	                               0,        UFT_MEM - 8,   0xfffffff0u};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct uft_fx fx;
		assert_int_equal(uft_fx_open(&fx, NULL, NULL), 0);
		uft_hc(&fx.h, UF_HC_FAULT, (uint32_t)bad[i]);
		if (!fx.h.ended || fx.h.end_code != UF_END_BAD_HYPERCALL ||
		    !strstr(fx.h.end_reason, "bad hypercall: fault"))
			fail_msg("fault struct at 0x%lx: code %d \"%s\"", (unsigned long)bad[i], fx.h.end_code,
			         fx.h.end_reason);
		uft_fx_close(&fx);
	}
	struct uft_fx fx;
	assert_int_equal(uft_fx_open(&fx, NULL, NULL), 0);
	fault(&fx, 3, 0, UF_IST_LO);
	assert_ended(&fx, UF_END_FAULT, "#BP breakpoint");
	uft_fx_close(&fx);
}

static void test_setfs(void **state)
{
	struct uft_fx *fx = *state;
	struct uf_hc_setfs s = {.base = UFT_HEAP + 0x123, .ret = -999};
	CALL(fx, UF_HC_SETFS, s);
	assert_running(fx);
	assert_int_equal(s.ret, 0);
	assert_int_equal(stub_fs_base, UFT_HEAP + 0x123);
	stub_set_fs_rc = -1;
	CALL(fx, UF_HC_SETFS, s);
	assert_int_equal(s.ret, -EIO);
	s.base = UFT_MEM;
	CALL(fx, UF_HC_SETFS, s);
	assert_ended(fx, UF_END_BAD_HYPERCALL, "bad hypercall: setfs: base 0x800000 is outside guest memory");
	assert_int_equal(stub_set_fs_calls, 2);
}

static void test_yield_http_net(void **state)
{
	struct uft_fx *fx = *state;
	struct uf_hc_yield y = {.timeout_ns = 1000, .ret = -999};
	CALL(fx, UF_HC_YIELD, y);
	assert_int_equal(y.ret, 0);
	memcpy(G(fx, BUF), "GEThttps://a/", 13);
	struct uf_hc_http http = {.method = BUF, .method_len = 3, .url = BUF + 3, .url_len = 10, .ret = -999};
	CALL(fx, UF_HC_HTTP, http);
	assert_int_equal(http.ret, -ENOSYS); /* no --egress: local runs */
	struct uf_hc_net net = {.ret = -999};
	CALL(fx, UF_HC_NET, net);
	assert_int_equal(net.ret, -ENOSYS);
	assert_running(fx);
}

/* a valid request: method and URL at BUF, buffers after them */
static struct uf_hc_http http_req(struct uft_fx *fx)
{
	memcpy(G(fx, BUF), "POSThttps://a/x{}A: b\r\n1-0", 27);
	return (struct uf_hc_http){.method = BUF,
	                           .method_len = 4,
	                           .url = BUF + 4,
	                           .url_len = 11,
	                           .body = BUF + 15,
	                           .body_len = 2,
	                           .headers = BUF + 17,
	                           .headers_len = 6,
	                           .event_id = BUF + 23,
	                           .event_id_len = 3,
	                           .resp = BUF + 0x100,
	                           .resp_cap = 8,
	                           .resp_headers = BUF + 0x200,
	                           .resp_headers_cap = 16,
	                           .ret = -999};
}

/* Each malformed length or pointer ends the unit, with or without egress. */
static void test_http_malformed(void **state)
{
	(void)state;
	static const struct {
		int field;
		uint64_t value;
		const char *reason;
	} cases[] = {
	    {0, 0, "http: method_len 0"},
	    {0, UF_HTTP_METHOD_MAX + 1, "http: method_len 17"},
	    {1, 0, "http: url_len 0"},
	    {1, UF_HTTP_URL_MAX + 1, "http: url_len 2049"},
	    {2, UF_HTTP_HEADERS_MAX + 1, "http: headers_len"},
	    {3, UF_HTTP_BODY_MAX + 1, "http: body_len"},
	    {4, UF_ID_MAX + 1, "http: event_id_len"},
	    {5, 0xfffff000u, "http: url [0xfffff000"},
	    {6, 0xfffff000u, "http: resp [0xfffff000"},
	    {7, 0xfffff000u, "http: resp_headers [0xfffff000"},
	    {8, 0xfffff000u, "http: body [0xfffff000"},
	    {9, 0x1000u, "http: resp [0x1000"}, /* the GDT: readable by nobody, writable by nobody */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct uft_fx f;
		assert_int_equal(uft_fx_open(&f, NULL, NULL), 0);
		struct uf_hc_http a = http_req(&f);
		uint64_t v = cases[i].value;
		switch (cases[i].field) {
		case 0:
			a.method_len = v;
			break;
		case 1:
			a.url_len = v;
			break;
		case 2:
			a.headers_len = v;
			break;
		case 3:
			a.body_len = v;
			break;
		case 4:
			a.event_id_len = v;
			break;
		case 5:
			a.url = v;
			break;
		case 6:
			a.resp = v;
			break;
		case 7:
			a.resp_headers = v;
			break;
		case 8:
			a.body = v;
			break;
		case 9:
			a.resp = v;
			break;
		}
		CALL(&f, UF_HC_HTTP, a);
		assert_ended(&f, UF_END_BAD_HYPERCALL, cases[i].reason);
		uft_fx_close(&f);
	}
}

/* With an egress connection (a socketpair; this test answers as unifaasd
 * would, the answer queued before the call): the request on the wire is
 * the guest's, the answer lands in the guest's buffers within their
 * capacities, full lengths reported. */
static void test_http_over_socket(void **state)
{
	struct uft_fx *fx = *state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct uf_eg_resp_fixed r = {
	    .status = 201, .body_full = 100, .headers_full = 30, .body_len = 8, .headers_len = 14};
	struct uf_eg_hdr h = {.magic = UF_EG_MAGIC, .type = UF_EG_RESP, .len = sizeof(r) + 22};
	assert_int_equal(write(sv[1], &h, sizeof(h)), sizeof(h));
	assert_int_equal(write(sv[1], &r, sizeof(r)), sizeof(r));
	assert_int_equal(write(sv[1],
	                       "X-A: 1\r\nB: 2\r\n"
	                       "bodybody",
	                       22),
	                 22);
	fx->h.egress_on = 1;
	fx->h.egress_fd = sv[0];
	struct uf_hc_http a = http_req(fx);
	CALL(fx, UF_HC_HTTP, a);
	assert_running(fx);
	assert_int_equal(a.ret, 0);
	assert_int_equal(a.status, 201);
	assert_int_equal(a.resp_len, 100);
	assert_int_equal(a.resp_headers_len, 30);
	assert_memory_equal(G(fx, BUF + 0x100), "bodybody", 8);
	assert_memory_equal(G(fx, BUF + 0x200), "X-A: 1\r\nB: 2\r\n", 14);
	char req[512];
	assert_int_equal(read(sv[1], &h, sizeof(h)), sizeof(h));
	assert_int_equal(uf_eg_hdr_check(&h, NULL), 0);
	assert_int_equal(read(sv[1], req, h.len), (ssize_t)h.len);
	struct uf_eg_req q;
	assert_int_equal(uf_eg_req_parse(req, h.len, &q, NULL), 0);
	assert_memory_equal(q.url, "https://a/x", 11);
	assert_memory_equal(q.id, "1-0", 3);
	assert_int_equal(q.f.resp_cap, 8);
	/* an answer past the guest's capacity: refused, connection dropped */
	r.body_len = 9;
	h.len = sizeof(r) + 23;
	assert_int_equal(write(sv[1], &h, sizeof(h)), sizeof(h));
	assert_int_equal(write(sv[1], &r, sizeof(r)), sizeof(r));
	a = http_req(fx);
	CALL(fx, UF_HC_HTTP, a);
	assert_running(fx);
	assert_int_equal(a.ret, -EIO);
	assert_int_equal(fx->h.egress_on, 0);
	a = http_req(fx);
	CALL(fx, UF_HC_HTTP, a);
	assert_int_equal(a.ret, -EIO);
	close(sv[1]);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, uft_fx_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_bad_transport),
	    T(test_first_end_wins),
	    cmocka_unit_test(test_every_call_checks_its_argument_struct),
	    T(test_console),
	    T(test_console_outside_memory),
	    T(test_time),
	    T(test_random),
	    cmocka_unit_test(test_exit),
	    T(test_exit_long_message_truncated),
	    cmocka_unit_test(test_fault_messages),
	    cmocka_unit_test(test_fault_argument_on_exception_stack),
	    T(test_setfs),
	    T(test_yield_http_net),
	    cmocka_unit_test(test_http_malformed),
	    T(test_http_over_socket),
	};
	return cmocka_run_group_tests_name("hypercall", tests, NULL, NULL);
}
