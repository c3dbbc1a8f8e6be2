/*
 * test_net.c - the NET hypercall (tender/hvt_net.c) and --mac parsing.
 *
 * The TAP device is replaced by one end of a SOCK_SEQPACKET socketpair,
 * which like a TAP descriptor carries one frame per read and write; the
 * test plays the network on the other end.  Every malformed argument must
 * end the unit with UF_END_BAD_HYPERCALL and a message naming the field;
 * well-formed calls report results in ret.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hvt.h"
#include "support.h"

#define ARG (UFT_HEAP + 0x40)
#define BUF (UFT_HEAP + 0x1000)

static const uint8_t MAC[6] = {0x02, 0x75, 0x66, 1, 2, 3};

struct net_fx {
	struct uft_fx fx;
	int peer; /* the network's end */
};

static int setup(void **state)
{
	struct net_fx *n = calloc(1, sizeof(*n));
	int sv[2];
	if (!n || uft_fx_open(&n->fx, NULL, NULL) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return -1;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	hvt_net_attach_fd(&n->fx.h, sv[0], MAC);
	n->peer = sv[1];
	*state = n;
	return 0;
}

static int teardown(void **state)
{
	struct net_fx *n = *state;
	hvt_net_close(&n->fx.h);
	close(n->peer);
	uft_fx_close(&n->fx);
	free(n);
	return 0;
}

static void call(struct uft_fx *fx, struct uf_hc_net *a)
{
	memcpy(G(fx, ARG), a, sizeof(*a));
	uft_hc(&fx->h, UF_HC_NET, (uint32_t)ARG);
	memcpy(a, G(fx, ARG), sizeof(*a));
}

static void assert_running(struct uft_fx *fx)
{
	if (fx->h.ended)
		fail_msg("the unit ended (code %d): %s", fx->h.end_code, fx->h.end_reason);
}

/* A fresh attached unit makes the call, which must be malformed. */
static void assert_bad(struct uf_hc_net a, const char *reason_part)
{
	struct uft_fx fx;
	int sv[2];
	assert_int_equal(uft_fx_open(&fx, NULL, NULL), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(send(sv[1], "0123456789abcdef", 16, 0), 16); /* a frame to read, if it got that far */
	hvt_net_attach_fd(&fx.h, sv[0], MAC);
	call(&fx, &a);
	if (!fx.h.ended || fx.h.end_code != UF_END_BAD_HYPERCALL || !strstr(fx.h.end_reason, reason_part))
		fail_msg("op %u buf 0x%lx len %lu: ended=%d code=%d \"%s\"; expected \"%s\"", a.op,
			 (unsigned long)a.buf, (unsigned long)a.len, fx.h.ended, fx.h.end_code, fx.h.end_reason,
			 reason_part);
	hvt_net_close(&fx.h);
	close(sv[1]);
	uft_fx_close(&fx);
}

static void test_without_tap_enosys(void **state)
{
	(void)state;
	struct uft_fx fx;
	assert_int_equal(uft_fx_open(&fx, NULL, NULL), 0);
	static const uint32_t ops[] = {UF_NET_READ, UF_NET_WRITE, UF_NET_MAC, 77};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct uf_hc_net a = {.op = ops[i], .buf = 0, .len = 99999999, .ret = -999};
		call(&fx, &a);
		assert_int_equal(a.ret, -ENOSYS);
	}
	assert_running(&fx);
	uft_fx_close(&fx);
}

static void test_mac(void **state)
{
	struct net_fx *n = *state;
	struct uf_hc_net a = {.op = UF_NET_MAC, .buf = BUF, .len = 6, .ret = -999};
	call(&n->fx, &a);
	assert_running(&n->fx);
	assert_int_equal(a.ret, 0);
	assert_memory_equal(G(&n->fx, BUF), MAC, 6);
	assert_bad((struct uf_hc_net){.op = UF_NET_MAC, .buf = BUF, .len = 5}, "net: mac: length 5 is not 6");
	assert_bad((struct uf_hc_net){.op = UF_NET_MAC, .buf = UFT_RO_LO, .len = 6},
		   "net: mac: buf [0x102000, +6) is not writable");
	assert_bad((struct uf_hc_net){.op = UF_NET_MAC, .buf = 0, .len = 6}, "is not writable");
	assert_bad((struct uf_hc_net){.op = 3, .buf = BUF, .len = 6}, "bad hypercall: net: unknown op 3");
}

static void test_write(void **state)
{
	struct net_fx *n = *state;
	uint8_t frame[UF_NET_FRAME_MAX];
	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7);
	memcpy(G(&n->fx, BUF), frame, sizeof(frame));
	static const uint64_t lens[] = {UF_NET_FRAME_MIN, 60, UF_NET_FRAME_MAX};
	for (size_t i = 0; i < 3; i++) {
		struct uf_hc_net a = {.op = UF_NET_WRITE, .buf = BUF, .len = lens[i], .ret = -999};
		call(&n->fx, &a);
		assert_running(&n->fx);
		assert_int_equal(a.ret, 0);
		uint8_t got[2048];
		assert_int_equal(recv(n->peer, got, sizeof(got), MSG_DONTWAIT), (ssize_t)lens[i]);
		assert_memory_equal(got, frame, lens[i]);
	}
	/* from read-only memory: fine, the tender only reads it */
	struct uf_hc_net a = {.op = UF_NET_WRITE, .buf = UFT_RO_LO, .len = 64, .ret = -999};
	call(&n->fx, &a);
	assert_int_equal(a.ret, 0);
	/* the network end is gone: -EIO, the unit goes on */
	close(n->peer);
	n->peer = -1;
	signal(SIGPIPE, SIG_IGN);
	a = (struct uf_hc_net){.op = UF_NET_WRITE, .buf = BUF, .len = 64, .ret = -999};
	call(&n->fx, &a);
	assert_int_equal(a.ret, -EIO);
	assert_running(&n->fx);

	assert_bad((struct uf_hc_net){.op = UF_NET_WRITE, .buf = BUF, .len = 13},
		   "bad hypercall: net: write: frame length 13 is not 14..1518");
	assert_bad((struct uf_hc_net){.op = UF_NET_WRITE, .buf = BUF, .len = 1519}, "frame length 1519 is not");
	assert_bad((struct uf_hc_net){.op = UF_NET_WRITE, .buf = BUF, .len = UINT64_MAX}, "frame length");
	assert_bad((struct uf_hc_net){.op = UF_NET_WRITE, .buf = 0, .len = 64},
		   "net: write: buf [0x0, +64) is outside guest memory");
	assert_bad((struct uf_hc_net){.op = UF_NET_WRITE, .buf = UFT_MEM - 32, .len = 64}, "outside guest memory");
}

static void test_read(void **state)
{
	struct net_fx *n = *state;
	/* nothing waiting: 0 at once, or after the timeout */
	struct uf_hc_net a = {.op = UF_NET_READ, .buf = BUF, .len = 2048, .timeout_ms = 0, .ret = -999};
	call(&n->fx, &a);
	assert_int_equal(a.ret, 0);
	uint64_t t0 = hvt_now_ns();
	a = (struct uf_hc_net){.op = UF_NET_READ, .buf = BUF, .len = 2048, .timeout_ms = 50, .ret = -999};
	call(&n->fx, &a);
	uint64_t waited_ms = (hvt_now_ns() - t0) / 1000000u;
	assert_int_equal(a.ret, 0);
	assert_true(waited_ms >= 45 && waited_ms < 1000);

	/* one frame, copied whole */
	assert_int_equal(send(n->peer, "frame-one-0123456789", 20, 0), 20);
	a = (struct uf_hc_net){.op = UF_NET_READ, .buf = BUF, .len = 2048, .ret = -999};
	call(&n->fx, &a);
	assert_int_equal(a.ret, 20);
	assert_memory_equal(G(&n->fx, BUF), "frame-one-0123456789", 20);

	/* longer than the buffer: -EMSGSIZE, nothing written, the next frame is intact */
	memset(G(&n->fx, BUF), 0x55, 32);
	assert_int_equal(send(n->peer, "a-frame-longer-than-16", 22, 0), 22);
	assert_int_equal(send(n->peer, "next-frame-xyz", 14, 0), 14);
	a = (struct uf_hc_net){.op = UF_NET_READ, .buf = BUF, .len = 16, .ret = -999};
	call(&n->fx, &a);
	assert_int_equal(a.ret, -EMSGSIZE);
	assert_int_equal(G(&n->fx, BUF)[0], 0x55);
	a = (struct uf_hc_net){.op = UF_NET_READ, .buf = BUF, .len = 16, .ret = -999};
	call(&n->fx, &a);
	assert_int_equal(a.ret, 14);
	assert_memory_equal(G(&n->fx, BUF), "next-frame-xyz", 14);

	/* a frame that arrives while the unit waits wakes it */
	pid_t pid = fork();
	if (pid == 0) {
		usleep(30000);
		_exit(send(n->peer, "late-frame-0123", 15, 0) == 15 ? 0 : 1);
	}
	t0 = hvt_now_ns();
	a = (struct uf_hc_net){.op = UF_NET_READ, .buf = BUF, .len = 2048, .timeout_ms = 5000, .ret = -999};
	call(&n->fx, &a);
	waited_ms = (hvt_now_ns() - t0) / 1000000u;
	int st;
	waitpid(pid, &st, 0);
	assert_int_equal(a.ret, 15);
	assert_true(waited_ms < 2000);
	assert_running(&n->fx);

	assert_bad((struct uf_hc_net){.op = UF_NET_READ, .buf = BUF, .len = 0},
		   "bad hypercall: net: read: buffer length 0 is not 1..65536");
	assert_bad((struct uf_hc_net){.op = UF_NET_READ, .buf = BUF, .len = UF_NET_BUF_MAX + 1},
		   "buffer length 65537 is not");
	assert_bad((struct uf_hc_net){.op = UF_NET_READ, .buf = UFT_TEXT_LO, .len = 64},
		   "net: read: buf [0x100000, +64) is not writable guest memory");
	assert_bad((struct uf_hc_net){.op = UF_NET_READ, .buf = UFT_HEAP_END - 8, .len = 64}, "is not writable");
}

/* A read starts a new event for the CPU time limit, unless a popped batch is in flight. */
static void test_read_counts_as_event(void **state)
{
	struct net_fx *n = *state;
	struct hvt *h = &n->fx.h;
	h->batch_ticks = 5;
	h->stalled_ticks = 3;
	h->batch_events = 0;
	struct uf_hc_net a = {.op = UF_NET_READ, .buf = BUF, .len = 2048};
	call(&n->fx, &a);
	assert_int_equal(h->batch_ticks, 0);
	assert_int_equal(h->stalled_ticks, 0);
	assert_int_equal(h->batch_events, 1);
	h->inflight = 2;
	h->batch_events = 2;
	h->batch_ticks = 5;
	call(&n->fx, &a);
	assert_int_equal(h->batch_ticks, 5);
	assert_int_equal(h->batch_events, 2);
	h->inflight = 0;
}

static void test_parse_mac(void **state)
{
	(void)state;
	uint8_t m[6];
	assert_int_equal(hvt_net_parse_mac("02:00:5e:10:AB:ff", m), 0);
	static const uint8_t want[6] = {0x02, 0x00, 0x5e, 0x10, 0xab, 0xff};
	assert_memory_equal(m, want, 6);
	static const char *bad[] = {"", "02:00:5e:10:ab", "02:00:5e:10:ab:ff:00", "01:00:5e:10:ab:ff" /* multicast */,
				    "00:00:00:00:00:00", "02-00-5e-10-ab-ff", "02:00:5e:10:ab:fg", "2:00:5e:10:ab:ff0",
				    "02:00:5e:10:ab:f ", "ff:ff:ff:ff:ff:ff"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hvt_net_parse_mac(bad[i], m) == 0)
			fail_msg("'%s' accepted as a MAC", bad[i]);
}

static void test_open_errors(void **state)
{
	(void)state;
	struct hvt h;
	memset(&h, 0, sizeof(h));
	char err[512];
	h.opt.tap = "uf-no-such-tap";
	assert_int_equal(hvt_net_open(&h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tap uf-no-such-tap: no such network device"));
	h.opt.tap = "a-name-too-long-for-linux";
	assert_int_equal(hvt_net_open(&h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a device name is 1..15 characters"));
	h.opt.tap = "";
	assert_int_equal(hvt_net_open(&h, err, sizeof(err)), -1);
	assert_int_equal(h.net.attached, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_without_tap_enosys),
		T(test_mac),
		T(test_write),
		T(test_read),
		T(test_read_counts_as_event),
		cmocka_unit_test(test_parse_mac),
		cmocka_unit_test(test_open_errors),
	};
	return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
