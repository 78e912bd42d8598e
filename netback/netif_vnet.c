/* Frame parsing, software checksums and virtio_net_hdr conversion. */
#include "netback/netif_vnet.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* IPv4: header length, protocol, and whether this is a first fragment. */
static int parse_ipv4(const uint8_t *f, size_t len, struct netif_frame_info *fi)
{
	const uint8_t *ip = f + fi->l3_off;
	size_t ihl;

	if (len < (size_t)fi->l3_off + 20 || (ip[0] >> 4) != 4)
		return -EINVAL;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	if (ihl < 20 || len < fi->l3_off + ihl)
		return -EINVAL;
	memcpy(&fi->ipv4_src, ip + 12, 4);
	fi->has_ipv4_src = true;
	if (rd16(ip + 6) & 0x1fff) /* not the first fragment: no L4 header */
		return 0;
	fi->l4_proto = ip[9];
	fi->l4_off = (uint16_t)(fi->l3_off + ihl);
	return 0;
}

/* IPv6: only the fixed header; extension headers are not walked (a packet
 * with them simply gets no L4 offsets, so no offload). */
static int parse_ipv6(const uint8_t *f, size_t len, struct netif_frame_info *fi)
{
	const uint8_t *ip = f + fi->l3_off;

	if (len < (size_t)fi->l3_off + 40 || (ip[0] >> 4) != 6)
		return -EINVAL;
	fi->ipv6 = true;
	fi->l4_proto = ip[6];
	fi->l4_off = (uint16_t)(fi->l3_off + 40);
	return 0;
}

static int parse_l4(const uint8_t *f, size_t len, struct netif_frame_info *fi)
{
	if (fi->l4_proto == IPPROTO_TCP) {
		size_t doff;

		if (len < (size_t)fi->l4_off + 20)
			return -EINVAL;
		doff = (size_t)(f[fi->l4_off + 12] >> 4) * 4;
		if (doff < 20 || len < fi->l4_off + doff)
			return -EINVAL;
		fi->hdr_len = (uint16_t)(fi->l4_off + doff);
	} else if (fi->l4_proto == IPPROTO_UDP) {
		if (len < (size_t)fi->l4_off + 8)
			return -EINVAL;
		fi->hdr_len = (uint16_t)(fi->l4_off + 8);
	} else {
		fi->l4_proto = 0;
		fi->l4_off = 0;
	}
	return 0;
}

int netif_frame_parse(const uint8_t *f, size_t len, struct netif_frame_info *out)
{
	struct netif_frame_info fi = { 0 };
	int rc = 0;

	if (len < NETIF_ETH_HLEN || len > NETIF_MAX_PACKET)
		return -EINVAL;
	fi.l3_off = NETIF_ETH_HLEN;
	fi.ethertype = rd16(f + 12);
	if (fi.ethertype == 0x8100) {
		if (len < NETIF_ETH_HLEN + 4)
			return -EINVAL;
		fi.ethertype = rd16(f + 16);
		fi.l3_off += 4;
	}
	if (fi.ethertype == 0x0800)
		rc = parse_ipv4(f, len, &fi);
	else if (fi.ethertype == 0x86dd)
		rc = parse_ipv6(f, len, &fi);
	else if (fi.ethertype == 0x0806 && len >= (size_t)fi.l3_off + 28) {
		memcpy(&fi.ipv4_src, f + fi.l3_off + 14, 4); /* ARP sender IP */
		fi.has_ipv4_src = true;
	}
	if (rc == 0 && fi.l4_off)
		rc = parse_l4(f, len, &fi);
	if (rc == 0)
		*out = fi;
	return rc;
}

int netif_csum_complete(uint8_t *f, size_t len, uint16_t start, uint16_t off)
{
	uint32_t sum = 0;
	size_t i;

	if ((size_t)start + off + 2 > len)
		return -EINVAL;
	for (i = start; i + 1 < len; i += 2)
		sum += rd16(f + i);
	if (i < len)
		sum += (uint32_t)f[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	/* UDP sends an all-zero result as 0xffff; harmless for TCP too. */
	if (sum == 0)
		sum = 0xffff;
	f[start + off] = (uint8_t)(sum >> 8);
	f[start + off + 1] = (uint8_t)sum;
	return 0;
}

int netif_offload_from_vnet(const struct virtio_net_hdr *vh, struct netif_offload *out)
{
	struct netif_offload o = { 0 };

	o.csum_blank = vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	o.data_validated = o.csum_blank || (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID);
	switch (vh->gso_type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		o.gso_type = XEN_NETIF_GSO_TYPE_TCPV4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		o.gso_type = XEN_NETIF_GSO_TYPE_TCPV6;
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (o.gso_type) {
		if (!vh->gso_size)
			return -EINVAL;
		o.gso_size = vh->gso_size;
	}
	*out = o;
	return 0;
}

int netif_offload_to_vnet(const struct netif_offload *o, const uint8_t *frame, size_t len,
                          struct virtio_net_hdr *out)
{
	struct netif_frame_info fi;
	struct virtio_net_hdr vh = { 0 };

	if (o->csum_blank || o->gso_type) {
		if (netif_frame_parse(frame, len, &fi) < 0 || !fi.l4_off)
			return -EINVAL;
		if (o->gso_type &&
		    (fi.l4_proto != IPPROTO_TCP ||
		     fi.ipv6 != (o->gso_type == XEN_NETIF_GSO_TYPE_TCPV6) || !o->gso_size))
			return -EINVAL;
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.csum_start = fi.l4_off;
		vh.csum_offset = fi.l4_proto == IPPROTO_TCP ? 16 : 6;
		vh.hdr_len = fi.hdr_len;
	} else if (o->data_validated) {
		vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
	if (o->gso_type) {
		vh.gso_type = o->gso_type == XEN_NETIF_GSO_TYPE_TCPV4 ? VIRTIO_NET_HDR_GSO_TCPV4
		                                                      : VIRTIO_NET_HDR_GSO_TCPV6;
		vh.gso_size = o->gso_size;
	}
	*out = vh;
	return 0;
}
