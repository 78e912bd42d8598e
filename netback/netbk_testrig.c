/* The test rig of netbk_testrig.h. */
#include "netback/netbk_testrig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/util.h"

static int rig_rings(struct rig *r)
{
	r->txp = memgnt_alloc(r->m, RIG_FE, RIG_BE, 1, true, &r->txref);
	r->rxp = memgnt_alloc(r->m, RIG_FE, RIG_BE, 1, true, &r->rxref);
	r->data = memgnt_alloc(r->m, RIG_FE, RIG_BE, RIG_DATA, true, r->data_refs);
	if (!r->txp || !r->rxp || !r->data)
		return -ENOMEM;
	netif_tx_front_init(&r->tx, r->txp, 1);
	netif_rx_front_init(&r->rx, r->rxp, 1);
	return 0;
}

int rig_init(struct rig *r, struct rig *share, const struct netbk_vif_config *cfg)
{
	struct netbk_vif_config c = { .features = NETBK_F_RX_COPY | NETBK_F_SG | NETBK_F_GSO_TCPV4 |
		                                  NETBK_F_GSO_TCPV6,
		                      .frontend_domid = RIG_FE };
	int sv[2], rc;

	memset(r, 0, sizeof(*r));
	r->host_fd = -1;
	if (cfg)
		c = *cfg;
	c.frontend_domid = RIG_FE;
	if (share)
		r->m = share->m;
	else if ((rc = memgnt_create(&r->m)) < 0)
		return rc;
	r->own_m = !share;
	r->bv = (struct memgnt_view){ r->m, RIG_BE };
	r->fv = (struct memgnt_view){ r->m, RIG_FE };
	memgnt_netbk_ops(&r->bv, &r->bops);
	if ((rc = rig_rings(r)) < 0)
		return rc;
	if (memgnt_evtchn_pair(r->m, &r->fe_tx_port, &r->be_tx_port) < 0 ||
	    memgnt_evtchn_pair(r->m, &r->fe_rx_port, &r->be_rx_port) < 0)
		return -ENOSPC;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	r->host_fd = sv[1];
	bh_set_nonblock(r->host_fd, 1);
	c.tap_fd = sv[0];
	c.tx_ring_ref = r->txref;
	c.rx_ring_ref = r->rxref;
	c.tx_port = r->be_tx_port;
	c.rx_port = r->be_rx_port;
	if (share)
		r->nb = share->nb;
	else if ((rc = netback_create(&r->bops, NULL, &r->nb)) < 0)
		return rc;
	else
		r->own_nb = true;
	if ((rc = netback_vif_connect(r->nb, &c, &r->vif)) < 0)
		close(sv[0]);
	return rc;
}

void rig_fini(struct rig *r)
{
	if (r->vif)
		netback_vif_disconnect(r->vif);
	if (r->own_nb)
		netback_destroy(r->nb);
	bh_closep(&r->host_fd);
	if (r->m) {
		if (r->txp)
			memgnt_free(r->m, r->txp, &r->txref, 1);
		if (r->rxp)
			memgnt_free(r->m, r->rxp, &r->rxref, 1);
		if (r->data)
			memgnt_free(r->m, r->data, r->data_refs, RIG_DATA);
		if (r->own_m)
			memgnt_destroy(r->m);
	}
	memset(r, 0, sizeof(*r));
	r->host_fd = -1;
}

void rig_tx_req(struct rig *r, uint32_t gref, uint16_t off, uint16_t flags, uint16_t id,
                uint16_t size)
{
	struct netif_tx_request *q = netif_tx_front_req_slot(&r->tx, r->tx.req_prod_pvt++);

	*q = (struct netif_tx_request){
		.gref = gref, .offset = off, .flags = flags, .id = id, .size = size
	};
}

void rig_tx_extra(struct rig *r, const struct netif_extra_info *ex)
{
	memcpy(netif_tx_front_req_slot(&r->tx, r->tx.req_prod_pvt++), ex, sizeof(*ex));
}

void rig_tx_publish(struct rig *r)
{
	netif_tx_front_push(&r->tx);
}

unsigned rig_tx_responses(struct rig *r, struct netif_tx_response *out, unsigned cap)
{
	RING_IDX prod = BH_READ_ONCE(r->tx.sring->hdr.rsp_prod);
	unsigned n = 0;

	bh_rmb();
	for (; r->tx.rsp_cons != prod && n < cap; r->tx.rsp_cons++)
		out[n++] = r->tx.sring->ring[r->tx.rsp_cons & (NETIF_TX_RING_SIZE - 1)].rsp;
	return n;
}

void rig_rx_post(struct rig *r, unsigned n, uint16_t id_base)
{
	for (unsigned i = 0; i < n; i++) {
		struct netif_rx_request *q = netif_rx_front_req_slot(&r->rx, r->rx.req_prod_pvt++);

		q->id = (uint16_t)(id_base + i);
		q->gref = r->data_refs[RIG_DATA / 2 + i % (RIG_DATA / 2)];
	}
	netif_rx_front_push(&r->rx);
}

uint8_t *rig_page(struct rig *r, unsigned i)
{
	return r->data + (size_t)i * 4096;
}

ssize_t rig_host_read(struct rig *r, struct virtio_net_hdr *vh, uint8_t *buf, size_t cap)
{
	struct iovec iov[2] = { { vh, sizeof(*vh) }, { buf, cap } };
	ssize_t n = readv(r->host_fd, iov, 2);

	return n < (ssize_t)sizeof(*vh) ? -1 : n - (ssize_t)sizeof(*vh);
}

int rig_host_write(struct rig *r, const struct virtio_net_hdr *vh, const uint8_t *buf, size_t len)
{
	static const struct virtio_net_hdr none;
	struct iovec iov[2] = { { (void *)(vh ? vh : &none), sizeof(*vh) }, { (void *)buf, len } };

	return writev(r->host_fd, iov, 2) < 0 ? -errno : 0;
}

static void eth_hdr(uint8_t *b, uint16_t type)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 2 },
	                     src[6] = { 0x00, 0x16, 0x3e, 0, 0, 1 };

	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	b[12] = (uint8_t)(type >> 8);
	b[13] = (uint8_t)type;
}

size_t rig_frame_tcp4(uint8_t *b, size_t len, uint32_t src, uint8_t seed)
{
	uint32_t dst = htonl(0x0a000063);
	uint16_t tot = (uint16_t)(len - 14);

	memset(b, 0, 54);
	eth_hdr(b, 0x0800);
	b[14] = 0x45;
	b[16] = (uint8_t)(tot >> 8);
	b[17] = (uint8_t)tot;
	b[22] = 64;
	b[23] = 6; /* TCP */
	memcpy(b + 26, &src, 4);
	memcpy(b + 30, &dst, 4);
	b[34] = 0x30; /* ports 12345 -> 80 */
	b[35] = 0x39;
	b[37] = 80;
	b[46] = 0x50; /* data offset 5 */
	b[47] = 0x18;
	for (size_t i = 54; i < len; i++)
		b[i] = (uint8_t)(seed + i * 7);
	return len;
}

size_t rig_frame_arp(uint8_t *b, uint32_t sender)
{
	memset(b, 0, 42);
	eth_hdr(b, 0x0806);
	b[15] = 1;    /* Ethernet */
	b[16] = 0x08; /* IPv4 */
	b[18] = 6;
	b[19] = 4;
	b[21] = 1; /* request */
	memcpy(b + 28, &sender, 4);
	return 42;
}

size_t rig_frame_ipv6(uint8_t *b, size_t len)
{
	memset(b, 0, len);
	eth_hdr(b, 0x86dd);
	b[14] = 0x60;
	b[20] = 59; /* no next header */
	return len;
}
