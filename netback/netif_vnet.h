/* Helpers both ends of the PV network path share: parsing an Ethernet
 * frame far enough to find its L3/L4 headers, completing a partial
 * checksum in software, and converting between the virtio_net_hdr a TAP
 * with IFF_VNET_HDR speaks and netif's TX/RX flags and GSO extra info.
 *
 * Every function treats the frame as untrusted: lengths are checked
 * before each header is read, and a frame that does not parse gives
 * -EINVAL, never an out-of-bounds read. */
#ifndef BH_NETIF_VNET_H
#define BH_NETIF_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_net.h>

#include "bulkhead/netif.h"

#define NETIF_ETH_HLEN   14
#define NETIF_MAX_PACKET 65535u

/* What netif_frame_parse found. */
struct netif_frame_info {
	uint16_t ethertype; /* after one optional 802.1Q tag */
	uint16_t l3_off;
	uint16_t l4_off;  /* 0 if not TCP/UDP (or a non-first fragment) */
	uint8_t l4_proto; /* IPPROTO_TCP, IPPROTO_UDP or 0 */
	uint16_t hdr_len; /* through the TCP header (for GSO), else l4 header */
	bool ipv6;
	uint32_t ipv4_src; /* network byte order; 0 if not IPv4 / ARP */
	bool has_ipv4_src;
};

int netif_frame_parse(const uint8_t *frame, size_t len, struct netif_frame_info *out);

/* The internet checksum of the L4 header and payload, with the partial
 * (pseudo-header) sum the sender left at start+off folded in, stored at
 * start+off. Returns 0 or -EINVAL if the offsets do not fit the frame. */
int netif_csum_complete(uint8_t *frame, size_t len, uint16_t start, uint16_t off);

/* Offload state of one packet, independent of either wire format. */
struct netif_offload {
	bool csum_blank;     /* checksum field holds only the pseudo-header sum */
	bool data_validated; /* checksum known good */
	uint8_t gso_type;    /* XEN_NETIF_GSO_TYPE_* */
	uint16_t gso_size;   /* MSS */
};

/* virtio_net_hdr (from a TAP) -> offload. -EOPNOTSUPP for GSO kinds netif
 * has no name for (UDP, ECN). */
int netif_offload_from_vnet(const struct virtio_net_hdr *vh, struct netif_offload *out);
/* offload + frame -> virtio_net_hdr (to a TAP); finds csum_start/offset and
 * hdr_len in the frame. -EINVAL if the frame cannot carry that offload. */
int netif_offload_to_vnet(const struct netif_offload *o, const uint8_t *frame, size_t len,
                          struct virtio_net_hdr *out);

#endif
