/*
 * tap_pool.c - the pool of TAP devices on a bridge (see tap_pool.h).
 *
 * Set-up uses the classic ioctls, which need no library and no `ip` binary:
 * SIOCBRADDBR / SIOCBRADDIF for the bridge and its ports, SIOCSIFADDR,
 * SIOCSIFNETMASK and SIOCSIFFLAGS for the address and the up flag, and
 * TUNSETIFF + TUNSETPERSIST on /dev/net/tun to create a TAP device that
 * outlives the descriptor.  Deletion is one rtnetlink RTM_DELLINK per
 * device: unlike clearing TUNSETPERSIST it works while a unit is attached,
 * and unlike SIOCBRDELBR it does not need the bridge down first.
 *
 * Bookkeeping is an array of devices with an in-use flag; acquire takes the
 * lowest free one, so the same few devices (and addresses) are reused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap_pool.h"

struct tap_dev {
	char name[IFNAMSIZ];
	char ip[16];
	int created; /* by this pool (not taken over from an earlier run) */
	int in_use;
};

struct tap_pool {
	int sock; /* AF_INET datagram socket, for the interface ioctls */
	char bridge[IFNAMSIZ];
	int created_bridge;
	unsigned size;
	struct tap_dev dev[];
};

/* "tap pool: OP NAME: cause", with the fix for a missing privilege. */
static void fail_on(char *err, size_t errlen, const char *op, const char *name, int e)
{
	snprintf(err, errlen, "tap pool: %s %s: %s%s", op, name, strerror(e),
	         e == EPERM || e == EACCES ? " (needs CAP_NET_ADMIN: run unifaasd as root or grant it the capability)"
	                                   : "");
}

static void ifr_init(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
}

static int set_up(int sock, const char *name)
{
	struct ifreq ifr;
	ifr_init(&ifr, name);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(sock, SIOCSIFFLAGS, &ifr);
}

static int set_ipv4(int sock, const char *name, unsigned long req, uint32_t addr)
{
	struct ifreq ifr;
	ifr_init(&ifr, name);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(addr)};
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	return ioctl(sock, req, &ifr);
}

/* Deletes a network device with one RTM_DELLINK; 0 or -errno. */
static int del_link(const char *name)
{
	unsigned idx = if_nametoindex(name);
	if (idx == 0)
		return -ENODEV;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
	    .nh = {.nlmsg_len = sizeof(req),
	           .nlmsg_type = RTM_DELLINK,
	           .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
	           .nlmsg_seq = 1},
	    .ifi = {.ifi_family = AF_UNSPEC, .ifi_index = (int)idx},
	};
	int rc = -EIO;
	if (send(fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req)) {
		rc = -errno;
		goto out;
	}
	char buf[1024];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	const struct nlmsghdr *nh = (const void *)buf;
	if (n >= (ssize_t)(sizeof(*nh) + sizeof(struct nlmsgerr)) && nh->nlmsg_type == NLMSG_ERROR)
		rc = ((const struct nlmsgerr *)NLMSG_DATA(nh))->error; /* 0: the ack */
	else if (n < 0)
		rc = -errno;
out:
	close(fd);
	return rc;
}

/* Creates the persistent TAP device d->name, or takes over a free one of that name. */
static int make_tap(struct tap_dev *d, char *err, size_t errlen)
{
	int existed = if_nametoindex(d->name) != 0;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fail_on(err, errlen, "open /dev/net/tun for", d->name, errno);
		return -1;
	}
	struct ifreq ifr;
	ifr_init(&ifr, d->name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		if (e == EBUSY)
			snprintf(err, errlen,
			         "tap pool: take over %s: busy (a unit of an earlier unifaasd still runs on it)",
			         d->name);
		else if (e == EINVAL && existed)
			snprintf(err, errlen,
			         "tap pool: take over %s: a device of that name exists and is not a TAP device",
			         d->name);
		else
			fail_on(err, errlen, existed ? "take over" : "create TAP device", d->name, e);
		close(fd);
		return -1;
	}
	if (ioctl(fd, TUNSETPERSIST, 1) < 0) {
		fail_on(err, errlen, "make persistent", d->name, errno);
		close(fd); /* a device we just created goes away with the descriptor */
		return -1;
	}
	close(fd);
	d->created = !existed;
	return 0;
}

static int add_port(struct tap_pool *p, struct tap_dev *d, char *err, size_t errlen)
{
	struct ifreq ifr;
	ifr_init(&ifr, p->bridge);
	ifr.ifr_ifindex = (int)if_nametoindex(d->name);
	/* EBUSY: already a port (of this bridge, when taken over from an earlier run) */
	if (ioctl(p->sock, SIOCBRADDIF, &ifr) < 0 && errno != EBUSY) {
		int e = errno;
		if (e == EOPNOTSUPP || e == EINVAL)
			snprintf(err, errlen, "tap pool: add %s to bridge %s: %s is not a bridge", d->name, p->bridge,
			         p->bridge);
		else
			fail_on(err, errlen, "add to the bridge:", d->name, e);
		return -1;
	}
	if (set_up(p->sock, d->name) < 0) {
		fail_on(err, errlen, "bring up", d->name, errno);
		return -1;
	}
	return 0;
}

/* "a.b.c.d/n" -> host address and prefix length (8..30). */
static int parse_cidr(const char *cidr, uint32_t *addr, unsigned *prefix)
{
	char ip[16];
	const char *slash = strchr(cidr, '/');
	if (!slash || (size_t)(slash - cidr) >= sizeof(ip))
		return -1;
	memcpy(ip, cidr, (size_t)(slash - cidr));
	ip[slash - cidr] = '\0';
	struct in_addr in;
	char *end;
	errno = 0;
	unsigned long n = strtoul(slash + 1, &end, 10);
	if (inet_pton(AF_INET, ip, &in) != 1 || errno || end == slash + 1 || *end || n < 8 || n > 30)
		return -1;
	*addr = ntohl(in.s_addr);
	*prefix = (unsigned)n;
	return 0;
}

/* The driver of a network device ("bridge", "tun", ...), or "" if it has none to tell. */
static void driver_of(int sock, const char *name, char *drv, size_t len)
{
	struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
	struct ifreq ifr;
	ifr_init(&ifr, name);
	ifr.ifr_data = (void *)&info;
	if (ioctl(sock, SIOCETHTOOL, &ifr) < 0)
		info.driver[0] = '\0';
	snprintf(drv, len, "%.*s", (int)sizeof(info.driver), info.driver);
}

static int setup_bridge(struct tap_pool *p, uint32_t host, uint32_t mask, char *err, size_t errlen)
{
	if (if_nametoindex(p->bridge) != 0) {
		char drv[40];
		driver_of(p->sock, p->bridge, drv, sizeof(drv));
		if (strcmp(drv, "bridge") != 0) {
			snprintf(err, errlen,
			         "tap pool: bridge %s: a device of that name exists and is not a bridge%s%s%s",
			         p->bridge, drv[0] ? " (driver " : "", drv, drv[0] ? ")" : "");
			return -1;
		}
	} else {
		if (ioctl(p->sock, SIOCBRADDBR, p->bridge) < 0) {
			fail_on(err, errlen, "create bridge", p->bridge, errno);
			return -1;
		}
		p->created_bridge = 1;
	}
	if (set_ipv4(p->sock, p->bridge, SIOCSIFADDR, host) < 0 ||
	    set_ipv4(p->sock, p->bridge, SIOCSIFNETMASK, mask) < 0) {
		fail_on(err, errlen, "set the address of bridge", p->bridge, errno);
		return -1;
	}
	if (set_up(p->sock, p->bridge) < 0) {
		fail_on(err, errlen, "bring up bridge", p->bridge, errno);
		return -1;
	}
	return 0;
}

/* A prefix of device names: 1..TAP_POOL_PREFIX_MAX characters that the
 * kernel takes in a name (no '/', ':' or white space). */
static int prefix_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > TAP_POOL_PREFIX_MAX)
		return 0;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s <= ' ' || *s == 0x7f)
			return 0;
	return 1;
}

struct tap_pool *tap_pool_open(const char *bridge, const char *cidr, const char *name_prefix, unsigned size, char *err,
                               size_t errlen)
{
	uint32_t host;
	unsigned prefix;
	if (!name_prefix)
		name_prefix = TAP_POOL_PREFIX;
	if (!bridge || strlen(bridge) == 0 || strlen(bridge) >= IFNAMSIZ) {
		snprintf(err, errlen, "tap pool: bridge '%s': a device name is 1..%d characters", bridge ? bridge : "",
		         IFNAMSIZ - 1);
		return NULL;
	}
	if (!prefix_ok(name_prefix)) {
		snprintf(err, errlen,
		         "tap pool: prefix '%s': 1..%u characters, none of them '/', ':' or white space (tap_prefix)",
		         name_prefix, TAP_POOL_PREFIX_MAX);
		return NULL;
	}
	if (!cidr || parse_cidr(cidr, &host, &prefix) < 0) {
		snprintf(err, errlen,
		         "tap pool: subnet '%s': expected the host's address and prefix, e.g. 10.77.0.1/24",
		         cidr ? cidr : "");
		return NULL;
	}
	uint32_t mask = ~0u << (32 - prefix), net = host & mask, bcast = net | ~mask;
	if (host == net || host == bcast) {
		snprintf(err, errlen, "tap pool: subnet %s: the host address is the network or broadcast address",
		         cidr);
		return NULL;
	}
	if (size == 0 || size > TAP_POOL_MAX || (uint64_t)host + size >= bcast) {
		snprintf(err, errlen,
		         "tap pool: %u devices: must be 1..%u and their addresses (after %s) fit in the subnet", size,
		         TAP_POOL_MAX, cidr);
		return NULL;
	}
	struct tap_pool *p = calloc(1, sizeof(*p) + size * sizeof(p->dev[0]));
	if (!p) {
		snprintf(err, errlen, "tap pool: out of memory");
		return NULL;
	}
	snprintf(p->bridge, sizeof(p->bridge), "%s", bridge);
	p->sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (p->sock < 0) {
		fail_on(err, errlen, "open a socket for", bridge, errno);
		free(p);
		return NULL;
	}
	if (setup_bridge(p, host, mask, err, errlen) < 0)
		goto fail;
	for (unsigned i = 0; i < size; i++) {
		struct tap_dev *d = &p->dev[i];
		snprintf(d->name, sizeof(d->name), "%s%u", name_prefix, i);
		struct in_addr in = {.s_addr = htonl(host + 1 + i)};
		inet_ntop(AF_INET, &in, d->ip, sizeof(d->ip));
		p->size = i + 1; /* so that the clean-up below sees it */
		if (make_tap(d, err, errlen) < 0 || add_port(p, d, err, errlen) < 0)
			goto fail;
	}
	return p;
fail:
	for (unsigned i = 0; i < p->size; i++)
		if (p->dev[i].created)
			del_link(p->dev[i].name);
	if (p->created_bridge)
		del_link(p->bridge);
	close(p->sock);
	free(p);
	return NULL;
}

int tap_pool_acquire(struct tap_pool *p, char name[IFNAMSIZ], char ip[16])
{
	for (unsigned i = 0; i < p->size; i++) {
		struct tap_dev *d = &p->dev[i];
		if (d->in_use)
			continue;
		d->in_use = 1;
		memcpy(name, d->name, IFNAMSIZ);
		memcpy(ip, d->ip, 16);
		return 0;
	}
	return -EBUSY;
}

int tap_pool_release(struct tap_pool *p, const char *name)
{
	for (unsigned i = 0; i < p->size; i++) {
		struct tap_dev *d = &p->dev[i];
		if (strcmp(d->name, name) == 0) {
			if (!d->in_use)
				return -ENOENT;
			d->in_use = 0;
			return 0;
		}
	}
	return -ENOENT;
}

unsigned tap_pool_available(const struct tap_pool *p)
{
	unsigned n = 0;
	for (unsigned i = 0; i < p->size; i++)
		n += !p->dev[i].in_use;
	return n;
}

int tap_pool_close(struct tap_pool *p, int destroy, char *err, size_t errlen)
{
	int rc = 0;
	if (!p)
		return 0;
	for (unsigned i = 0; destroy && i < p->size; i++) {
		int r = del_link(p->dev[i].name);
		if (r < 0 && r != -ENODEV && rc == 0) {
			fail_on(err, errlen, "delete", p->dev[i].name, -r);
			rc = -1;
		}
	}
	if (destroy && p->created_bridge) {
		int r = del_link(p->bridge);
		if (r < 0 && r != -ENODEV && rc == 0) {
			fail_on(err, errlen, "delete bridge", p->bridge, -r);
			rc = -1;
		}
	}
	close(p->sock);
	free(p);
	return rc;
}
