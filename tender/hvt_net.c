/*
 * hvt_net.c - the unit's network: raw Ethernet frames on a TAP device.
 *
 * With --tap NAME the tender attaches, before seccomp, to the existing TAP
 * device NAME (unifaasd's TAP pool creates them persistent, on a bridge);
 * it never creates one.  The UF_HC_NET hypercall then reads one frame (with
 * a timeout: the vCPU waits in poll(), using no CPU), writes one frame, or
 * reports the unit's MAC address.  Without --tap every NET call answers
 * -ENOSYS.
 *
 * Invariants: the device descriptor is non-blocking and close-on-exec; after
 * seccomp it is used only with read, write and poll (all already allowed,
 * so the sandbox needs no rule of its own); every guest buffer goes through
 * hvt_guest_ptr() with the length the call is allowed, and a frame is copied
 * to the guest only when it fits whole.  A frame read counts, for the CPU
 * time limit, as a new event: a network function has no queue to pop, and a
 * unit that keeps reading frames is not hung.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hvt.h"

#define bad(h, ...) hvt_end((h), UF_END_BAD_HYPERCALL, "bad hypercall: net: " __VA_ARGS__)

/* A locally administered unicast MAC, 02:75:66 ("uf") and a hash of the name,
 * so a unit on a given device always has the same MAC (and ARP caches stay
 * right from one unit to the next). */
static void mac_from_name(const char *name, uint8_t mac[6])
{
	uint32_t x = 2166136261u; /* FNV-1a */
	for (const char *p = name; *p; p++)
		x = (x ^ (uint8_t)*p) * 16777619u;
	mac[0] = 0x02;
	mac[1] = 0x75;
	mac[2] = 0x66;
	mac[3] = (uint8_t)(x >> 16);
	mac[4] = (uint8_t)(x >> 8);
	mac[5] = (uint8_t)x;
}

int hvt_net_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;
	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (s[3 * i + 2] != (i == 5 ? '\0' : ':'))
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	if (mac[0] & 1)
		return -1; /* multicast */
	static const uint8_t zero[6];
	return memcmp(mac, zero, 6) ? 0 : -1;
}

void hvt_net_attach_fd(struct hvt *h, int fd, const uint8_t mac[6])
{
	h->net.fd = fd;
	memcpy(h->net.mac, mac, 6);
	h->net.attached = 1;
}

int hvt_net_open(struct hvt *h, char *err, size_t errlen)
{
	const char *name = h->opt.tap;
	if (strlen(name) == 0 || strlen(name) >= IFNAMSIZ) {
		snprintf(err, errlen, "tap '%s': a device name is 1..%d characters", name, IFNAMSIZ - 1);
		return -1;
	}
	if (if_nametoindex(name) == 0) {
		snprintf(err, errlen,
		         "tap %s: no such network device (create it first: unifaasd's TAP pool does, or "
		         "`ip tuntap add dev %s mode tap`)",
		         name, name);
		return -1;
	}
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "tap %s: cannot open /dev/net/tun: %s", name, strerror(errno));
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		const char *why = e == EBUSY    ? "busy: another unit (process) is attached to it"
		                  : e == EINVAL ? "not a TAP device (a TUN, multi-queue or other kind of device)"
		                  : e == EPERM  ? "not allowed to attach (needs CAP_NET_ADMIN, or to be the device's owner)"
		                                : strerror(e);
		snprintf(err, errlen, "tap %s: %s", name, why);
		close(fd);
		return -1;
	}
	/* TUNSETIFF creates a device that does not exist: if NAME vanished since
	 * the check above, the device now attached is a new one of ours, not
	 * persistent and on no bridge.  Closing it deletes it again. */
	if (ioctl(fd, TUNGETIFF, &ifr) < 0 || !(ifr.ifr_flags & IFF_PERSIST)) {
		snprintf(err, errlen, "tap %s: no such network device (it vanished while the unit attached)", name);
		close(fd);
		return -1;
	}
	uint8_t mac[6];
	if (h->opt.mac_set)
		memcpy(mac, h->opt.mac, 6);
	else
		mac_from_name(name, mac);
	hvt_net_attach_fd(h, fd, mac);
	return 0;
}

void hvt_net_close(struct hvt *h)
{
	if (h->net.attached)
		close(h->net.fd);
	h->net.attached = 0;
}

/* A frame read starts a new event for the CPU time limit (hvt_main.c). */
static void count_as_event(struct hvt *h)
{
	if (h->inflight)
		return; /* a popped batch keeps its own budget */
	h->batch_events = 1;
	h->batch_ticks = 0;
	h->stalled_ticks = 0;
}

/* Waits up to ms for the device to be readable: 1, 0 on timeout, -1 on error. */
static int wait_readable(int fd, uint32_t ms)
{
	uint64_t deadline = hvt_now_ns() + (uint64_t)ms * 1000000u;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now = hvt_now_ns();
		int left = now >= deadline ? 0 : (int)((deadline - now + 999999u) / 1000000u);
		int r = poll(&pfd, 1, left);
		if (r >= 0)
			return r > 0;
		if (errno != EINTR)
			return -1;
	}
}

static void net_read(struct hvt *h, struct uf_hc_net *a)
{
	if (a->len == 0 || a->len > UF_NET_BUF_MAX) {
		bad(h, "read: buffer length %lu is not 1..%u", (unsigned long)a->len, UF_NET_BUF_MAX);
		return;
	}
	uint8_t *dst = hvt_guest_ptr(h, a->buf, a->len, 1);
	if (!dst) {
		bad(h, "read: buf [0x%lx, +%lu) is not writable guest memory", (unsigned long)a->buf,
		    (unsigned long)a->len);
		return;
	}
	count_as_event(h);
	/* larger than any buffer the guest may offer, so a longer frame is
	 * recognised as such rather than cut to fit */
	uint8_t frame[UF_NET_BUF_MAX + 64];
	uint32_t ms = a->timeout_ms > UF_NET_WAIT_MAX ? UF_NET_WAIT_MAX : a->timeout_ms;
	ssize_t n = read(h->net.fd, frame, sizeof(frame));
	if (n < 0 && errno == EAGAIN && ms > 0) {
		int r = wait_readable(h->net.fd, ms);
		if (r > 0)
			n = read(h->net.fd, frame, sizeof(frame));
		else if (r < 0)
			errno = EIO;
	}
	if (n < 0) {
		a->ret = errno == EAGAIN || errno == EINTR ? 0 : -EIO;
		return;
	}
	if ((uint64_t)n > a->len) {
		a->ret = -EMSGSIZE;
		return;
	}
	memcpy(dst, frame, (size_t)n);
	a->ret = (int32_t)n;
}

static void net_write(struct hvt *h, struct uf_hc_net *a)
{
	if (a->len < UF_NET_FRAME_MIN || a->len > UF_NET_FRAME_MAX) {
		bad(h, "write: frame length %lu is not %u..%u", (unsigned long)a->len, UF_NET_FRAME_MIN,
		    UF_NET_FRAME_MAX);
		return;
	}
	const void *src = hvt_guest_ptr(h, a->buf, a->len, 0);
	if (!src) {
		bad(h, "write: buf [0x%lx, +%lu) is outside guest memory", (unsigned long)a->buf,
		    (unsigned long)a->len);
		return;
	}
	ssize_t n = write(h->net.fd, src, a->len);
	if (n == (ssize_t)a->len)
		a->ret = 0;
	else
		a->ret = n < 0 && (errno == EAGAIN || errno == ENOBUFS) ? -EAGAIN : -EIO;
}

void hvt_hc_net(struct hvt *h, void *arg)
{
	struct uf_hc_net *a = arg;
	if (!h->net.attached) {
		a->ret = -ENOSYS;
		return;
	}
	switch (a->op) {
	case UF_NET_READ:
		net_read(h, a);
		break;
	case UF_NET_WRITE:
		net_write(h, a);
		break;
	case UF_NET_MAC: {
		if (a->len != 6) {
			bad(h, "mac: length %lu is not 6", (unsigned long)a->len);
			return;
		}
		uint8_t *dst = hvt_guest_ptr(h, a->buf, 6, 1);
		if (!dst) {
			bad(h, "mac: buf [0x%lx, +6) is not writable guest memory", (unsigned long)a->buf);
			return;
		}
		memcpy(dst, h->net.mac, 6);
		a->ret = 0;
		break;
	}
	default:
		bad(h, "unknown op %u", a->op);
	}
}
