/*
 * pingd.c - a network function: answers ARP requests for its IPv4 address
 * and ICMP echo requests (ping) sent to it, on its raw Ethernet port.
 *
 * Environment: NET_IP, the unit's address (e.g. 10.77.0.2; the platform's
 * TAP pool gives it); NET_IDLE_MS, stop after that many ms without a frame
 * (unset or 0: run until stopped).  Runs its own loop in main(): a network
 * function listens to no queue.  Frames it does not understand are ignored;
 * a request with a bad checksum is dropped, as a host would.
 *
 *   uf-hvt --tap uf-tap0 --env NET_IP=10.77.0.2 build/functions/pingd.uf
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unifaas.h>

#define ETH_HLEN     14
#define ETH_MIN      60 /* shortest frame on the wire, without FCS */
#define ETYPE_ARP    0x0806
#define ETYPE_IPV4   0x0800
#define ARP_LEN      28
#define IP_PROTO_ICMP 1
#define ICMP_ECHO_REPLY   0
#define ICMP_ECHO_REQUEST 8

struct pingd {
	uint8_t mac[6];
	uint8_t ip[4];
	unsigned long arp_replies, echo_replies, dropped;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The Internet checksum (RFC 1071) of [p, +len): 0 over data that carries a right one. */
static uint16_t inet_sum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	for (; len > 1; p += 2, len -= 2)
		sum += get16(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void send_frame(struct pingd *d, uint8_t *f, size_t len)
{
	if (len < ETH_MIN) {
		memset(f + len, 0, ETH_MIN - len);
		len = ETH_MIN;
	}
	int r = uf_net_write(f, len);
	if (r < 0)
		fprintf(stderr, "pingd: write of a %zu-byte frame: %s\n", len, strerror(-r));
	(void)d;
}

/* An ARP request "who has our IP?" becomes, in place, the reply. */
static void on_arp(struct pingd *d, uint8_t *f, size_t len)
{
	uint8_t *a = f + ETH_HLEN;
	if (len < ETH_HLEN + ARP_LEN || get16(a) != 1 || get16(a + 2) != ETYPE_IPV4 || a[4] != 6 || a[5] != 4 ||
	    get16(a + 6) != 1 || memcmp(a + 24, d->ip, 4) != 0)
		return;
	uint8_t sha[6], spa[4];
	memcpy(sha, a + 8, 6);
	memcpy(spa, a + 14, 4);
	put16(a + 6, 2); /* reply */
	memcpy(a + 8, d->mac, 6);
	memcpy(a + 14, d->ip, 4);
	memcpy(a + 18, sha, 6);
	memcpy(a + 24, spa, 4);
	memcpy(f, sha, 6);
	memcpy(f + 6, d->mac, 6);
	send_frame(d, f, ETH_HLEN + ARP_LEN);
	d->arp_replies++;
}

/* An ICMP echo request to our IP becomes, in place, the echo reply. */
static void on_ipv4(struct pingd *d, uint8_t *f, size_t len)
{
	uint8_t *ip = f + ETH_HLEN;
	if (len < ETH_HLEN + 20 || (ip[0] >> 4) != 4 || memcmp(f, d->mac, 6) != 0)
		return;
	size_t ihl = (size_t)(ip[0] & 0xf) * 4, total = get16(ip + 2);
	if (ihl < 20 || total < ihl + 8 || ETH_HLEN + total > len || memcmp(ip + 16, d->ip, 4) != 0 ||
	    ip[9] != IP_PROTO_ICMP || (get16(ip + 6) & 0x3fff) != 0 /* a fragment */)
		return;
	uint8_t *icmp = ip + ihl;
	size_t icmp_len = total - ihl;
	if (inet_sum(ip, ihl) != 0 || inet_sum(icmp, icmp_len) != 0) {
		d->dropped++;
		return;
	}
	if (icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0)
		return;
	/* reply without the request's IP options, if it had any */
	uint8_t src[4];
	memcpy(src, ip + 12, 4);
	if (ihl > 20)
		memmove(ip + 20, icmp, icmp_len);
	icmp = ip + 20;
	icmp[0] = ICMP_ECHO_REPLY;
	put16(icmp + 2, 0);
	put16(icmp + 2, inet_sum(icmp, icmp_len));
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + icmp_len));
	put16(ip + 6, 0x4000); /* don't fragment */
	ip[8] = 64;            /* TTL */
	memcpy(ip + 12, d->ip, 4);
	memcpy(ip + 16, src, 4);
	put16(ip + 10, 0);
	put16(ip + 10, inet_sum(ip, 20));
	memcpy(f, f + 6, 6);
	memcpy(f + 6, d->mac, 6);
	send_frame(d, f, ETH_HLEN + 20 + icmp_len);
	d->echo_replies++;
}

int main(void)
{
	struct pingd d = {0};
	const char *ip = uf_getenv("NET_IP");
	if (!ip || inet_pton(AF_INET, ip, d.ip) != 1) {
		fprintf(stderr, "pingd: NET_IP '%s': not an IPv4 address (set it with --env NET_IP=10.77.0.2)\n",
		        ip ? ip : "");
		return 2;
	}
	const char *idle_s = uf_getenv("NET_IDLE_MS");
	int idle_ms = idle_s ? atoi(idle_s) : 0;
	int r = uf_net_mac(d.mac);
	if (r < 0) {
		fprintf(stderr, "pingd: no network device: %s (run the unit with --tap NAME)\n", strerror(-r));
		return 1;
	}
	printf("pingd: ip=%s mac=%02x:%02x:%02x:%02x:%02x:%02x idle_ms=%d\n", ip, d.mac[0], d.mac[1], d.mac[2],
	       d.mac[3], d.mac[4], d.mac[5], idle_ms);
	/* room for an ETH_MIN frame built from a shorter one */
	static uint8_t frame[UF_NET_FRAME_MAX + ETH_MIN];
	for (;;) {
		int n = uf_net_read(frame, UF_NET_FRAME_MAX, idle_ms > 0 ? idle_ms : -1);
		if (n == 0)
			break; /* idle */
		if (n == -EMSGSIZE)
			continue;
		if (n < 0) {
			fprintf(stderr, "pingd: read: %s\n", strerror(-n));
			return 1;
		}
		if ((size_t)n < ETH_HLEN)
			continue;
		uint16_t type = get16(frame + 12);
		if (type == ETYPE_ARP)
			on_arp(&d, frame, (size_t)n);
		else if (type == ETYPE_IPV4)
			on_ipv4(&d, frame, (size_t)n);
	}
	printf("pingd: idle for %d ms: arp_replies=%lu echo_replies=%lu dropped=%lu\n", idle_ms, d.arp_replies,
	       d.echo_replies, d.dropped);
	return 0;
}
