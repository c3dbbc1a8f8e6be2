/*
 * tap_pool.h - unifaasd's pool of TAP devices for network functions.
 *
 * A network function's unit gets one TAP device of its own; uf-hvt attaches
 * to it with --tap NAME and the unit speaks raw Ethernet on it.  The pool
 * owns `size` persistent TAP devices, PREFIX0 .. PREFIX<size-1> (uf-tap0 ..
 * by default), all ports of one bridge that carries the host's address of
 * the pool's subnet.
 * Unit i's address is the host address + 1 + i (host 10.77.0.1/24: uf-tap0
 * is 10.77.0.2, uf-tap1 10.77.0.3, ...), so a device always means the same
 * address, and (uf-hvt derives the MAC from the device name) the same MAC.
 *
 * Invariants:
 *   - every device of the pool exists, is up, is a port of the bridge, and
 *     is either free or handed out by exactly one tap_pool_acquire not yet
 *     released;
 *   - the caller releases a device only after the unit's tender has exited
 *     (and been reaped): the kernel lets one process attach at a time, so a
 *     device released early would make the next unit fail with "busy";
 *   - the pool does not route or NAT: the units reach the host (the bridge
 *     address) and each other, nothing else.
 * Nothing here blocks for long or needs an event loop: plain ioctls on a
 * socket and /dev/net/tun, and one rtnetlink request per deleted device.
 * Pools in one network namespace need their own bridge, subnet and prefix;
 * not thread-safe.
 * Needs CAP_NET_ADMIN (and /dev/net/tun).
 */
#ifndef UF_TAP_POOL_H
#define UF_TAP_POOL_H

#include <net/if.h>
#include <stddef.h>

#define TAP_POOL_PREFIX     "uf-tap" /* the default prefix of the device names */
#define TAP_POOL_PREFIX_MAX 11u      /* so PREFIX999 fits in IFNAMSIZ - 1 */
#define TAP_POOL_MAX        1000u

struct tap_pool;

/*
 * Creates the bridge `bridge` if it does not exist, gives it the address
 * and prefix of `cidr` ("10.77.0.1/24": the host's address, prefix 8..30)
 * and brings it up; then creates (or takes over, if left from an earlier
 * run and free) the persistent TAP devices PREFIX0.. (`name_prefix` NULL:
 * TAP_POOL_PREFIX; else 1..TAP_POOL_PREFIX_MAX characters, none of them
 * '/', ':' or white space) and makes each a port of the bridge, up.  `size` is 1..TAP_POOL_MAX and the units' addresses
 * must fit in the subnet below its broadcast address.  NULL on failure,
 * with a message in err naming the device, the operation and the cause;
 * what this call created is removed again.
 */
struct tap_pool *tap_pool_open(const char *bridge, const char *cidr, const char *name_prefix, unsigned size, char *err,
                               size_t errlen);

/* Hands out the free device with the lowest number: its name and the unit's
 * IPv4 address (dotted quad).  0, or -EBUSY when every device is in use. */
int tap_pool_acquire(struct tap_pool *p, char name[IFNAMSIZ], char ip[16]);

/* Returns the device `name` to the pool.  0, or -ENOENT if it is not a
 * device of this pool or not in use. */
int tap_pool_release(struct tap_pool *p, const char *name);

/* Devices not in use. */
unsigned tap_pool_available(const struct tap_pool *p);

/*
 * Frees the pool.  With destroy, also deletes its TAP devices (a unit still
 * attached loses its device) and the bridge if this pool created it; a
 * bridge that existed before is left, without the pool's devices.  0, or -1
 * with err naming the first device that could not be deleted (the others are
 * still tried).  Without destroy the devices stay for the next tap_pool_open.
 */
int tap_pool_close(struct tap_pool *p, int destroy, char *err, size_t errlen);

#endif
