/*
 * net.c - raw Ethernet frames for network functions (unifaas.h, uf_net_*).
 *
 * Each call is one UF_HC_NET hypercall on a struct on the stack; the frame
 * goes straight from or to the caller's buffer (the tender copies it, no
 * buffering here).  Arguments the tender would treat as a malformed call
 * (and end the unit for) are refused here with -EINVAL instead, so a
 * function's mistake is an error it can see.  A read that waits without
 * limit is a loop of the tender's longest waits.
 */
#include <errno.h>
#include <stdint.h>

#include "hypercall.h"
#include "unifaas.h"

_Static_assert(UF_NET_FRAME_MAX <= UF_NET_BUF_MAX, "a read buffer holds any frame");

int uf_net_mac(uint8_t mac[6])
{
	if (!mac)
		return -EINVAL;
	struct uf_hc_net hc = {.op = UF_NET_MAC, .buf = (uint64_t)(uintptr_t)mac, .len = 6};
	uf_hypercall(UF_HC_NET, &hc);
	return hc.ret;
}

int uf_net_read(void *buf, size_t cap, int timeout_ms)
{
	if (!buf || cap == 0)
		return -EINVAL;
	struct uf_hc_net hc = {
	    .op = UF_NET_READ,
	    .buf = (uint64_t)(uintptr_t)buf,
	    .len = cap > UF_NET_BUF_MAX ? UF_NET_BUF_MAX : cap,
	    .timeout_ms = timeout_ms < 0 ? UF_NET_WAIT_MAX : (uint32_t)timeout_ms,
	};
	for (;;) {
		hc.ret = -ENOSYS;
		uf_hypercall(UF_HC_NET, &hc);
		if (hc.ret != 0 || timeout_ms >= 0)
			return hc.ret;
	}
}

int uf_net_write(const void *frame, size_t len)
{
	if (!frame || len < UF_NET_FRAME_MIN || len > UF_NET_FRAME_MAX)
		return -EINVAL;
	struct uf_hc_net hc = {.op = UF_NET_WRITE, .buf = (uint64_t)(uintptr_t)frame, .len = len};
	uf_hypercall(UF_HC_NET, &hc);
	return hc.ret;
}
