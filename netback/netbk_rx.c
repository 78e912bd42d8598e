/* RX: packets from the packet device into the frontend's posted buffers.
 *
 * Packets read from the device wait in a bounded queue until the
 * frontend has posted enough RX requests; when the queue is full new
 * packets are dropped (counted), so a frontend that stops posting buffers
 * costs at most NETBK_RXQ_MAX_PKTS / NETBK_RXQ_MAX_BYTES of memory.
 *
 * Placement (rx-copy): a packet takes one request per 4 KiB of data plus
 * one for a GSO extra, which follows the first data response. Each
 * response goes in the slot of the request it answers, with that
 * request's id. */
#include "netback/netbk_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

void netbk_rxq_flush(struct netbk_vif *vif)
{
	struct netbk_rxq_pkt *p;

	while ((p = vif->rxq_head)) {
		vif->rxq_head = p->next;
		free(p);
	}
	vif->rxq_tail = NULL;
	vif->st.rx_queued = vif->st.rx_queued_bytes = 0;
}

static void rxq_push(struct netbk_vif *vif, const uint8_t *buf, size_t n)
{
	size_t len = n - sizeof(struct virtio_net_hdr);
	struct netbk_rxq_pkt *p;

	if (vif->st.rx_queued >= NETBK_RXQ_MAX_PKTS ||
	    vif->st.rx_queued_bytes + len > NETBK_RXQ_MAX_BYTES ||
	    !(p = malloc(sizeof(*p) + len))) {
		vif->st.rx_dropped++;
		return;
	}
	memcpy(&p->vh, buf, sizeof(p->vh));
	memcpy(p->data, buf + sizeof(p->vh), len);
	p->len = len;
	p->next = NULL;
	if (vif->rxq_tail)
		vif->rxq_tail->next = p;
	else
		vif->rxq_head = p;
	vif->rxq_tail = p;
	vif->st.rx_queued++;
	vif->st.rx_queued_bytes += len;
	if (vif->st.rx_queued > vif->st.rx_queue_max_seen)
		vif->st.rx_queue_max_seen = vif->st.rx_queued;
}

/* One packet wherever it sits: the device buffer or a queue entry. */
struct rx_view {
	struct virtio_net_hdr *vh;
	uint8_t *data;
	size_t len;
};

enum { RX_PLACED, RX_DROPPED, RX_NO_ROOM };

static struct netif_rx_request rx_take_req(struct netbk_vif *vif)
{
	volatile struct netif_rx_request *s =
	    &vif->rx.sring->ring[vif->rx.req_cons++ & (NETIF_RX_RING_SIZE - 1)].req;
	struct netif_rx_request r = { .id = s->id, .gref = s->gref };

	return r;
}

/* Decide the packet's offload as the frontend can take it; false: drop.
 * A checksum finished here is marked so in vh, so that doing this twice
 * (the packet waited in the queue) is harmless. */
static bool rx_offload(struct netbk_vif *vif, struct rx_view *v, struct netif_offload *o)
{
	uint32_t f = vif->cfg.features;

	if (netif_offload_from_vnet(v->vh, o) < 0)
		return false;
	if (o->gso_type == XEN_NETIF_GSO_TYPE_TCPV4 && !(f & NETBK_F_GSO_TCPV4))
		return false;
	if (o->gso_type == XEN_NETIF_GSO_TYPE_TCPV6 && !(f & NETBK_F_GSO_TCPV6))
		return false;
	if (o->csum_blank && !o->gso_type && (f & NETBK_F_NO_CSUM)) {
		/* the frontend cannot finish checksums: do it here */
		if (netif_csum_complete(v->data, v->len, v->vh->csum_start, v->vh->csum_offset) < 0)
			return false;
		v->vh->flags = VIRTIO_NET_HDR_F_DATA_VALID;
		o->csum_blank = false;
	}
	return true;
}

static unsigned rx_slots_needed(const struct rx_view *v, const struct netif_offload *o)
{
	return (unsigned)((v->len + XEN_NETIF_PAGE - 1) / XEN_NETIF_PAGE) + (o->gso_type ? 1 : 0);
}

static void rx_put_extra(struct netbk_vif *vif, const struct netif_offload *o)
{
	struct netif_extra_info ex = { .type = XEN_NETIF_EXTRA_TYPE_GSO };

	rx_take_req(vif); /* the extra overlays this slot; its id is not used */
	ex.u.gso.size = o->gso_size;
	ex.u.gso.type = o->gso_type;
	memcpy(netif_rx_back_rsp_slot(&vif->rx, vif->rx.rsp_prod_pvt++), &ex, sizeof(ex));
}

static uint16_t rx_first_flags(const struct netif_offload *o)
{
	uint16_t f = 0;

	if (o->csum_blank)
		f |= NETRXF_csum_blank | NETRXF_data_validated;
	else if (o->data_validated)
		f |= NETRXF_data_validated;
	if (o->gso_type)
		f |= NETRXF_extra_info;
	return f;
}

/* Copy one packet into posted buffers and answer them. */
static void rx_place(struct netbk_vif *vif, const struct rx_view *v, const struct netif_offload *o)
{
	struct netbk_gntmap_ops *ops = &vif->nb->ops;
	size_t done = 0;
	bool first = true, ok = true;

	while (done < v->len) {
		struct netif_rx_request req = rx_take_req(vif);
		RING_IDX slot = vif->rx.rsp_prod_pvt++;
		uint16_t n = (uint16_t)BH_MIN(v->len - done, XEN_NETIF_PAGE);
		struct netbk_gntcopy_seg seg = { .ref = req.gref,
			                         .len = n,
			                         .local = v->data + done };
		struct netif_rx_response rsp = { .id = req.id, .status = (int16_t)n };

		if (ops->copy(ops->ctx, vif->cfg.frontend_domid, true, &seg, 1) < 0 || seg.status) {
			rsp.status = NETIF_RSP_ERROR;
			ok = false;
		}
		done += n;
		if (done < v->len)
			rsp.flags |= NETRXF_more_data;
		if (first)
			rsp.flags |= rx_first_flags(o);
		*netif_rx_back_rsp_slot(&vif->rx, slot) = rsp;
		if (first && o->gso_type)
			rx_put_extra(vif, o);
		first = false;
	}
	if (ok) {
		vif->st.rx_packets++;
		vif->st.rx_bytes += v->len;
	} else {
		vif->st.rx_errors++;
	}
}

/* Place one packet if the frontend has posted enough buffers. */
static int rx_try(struct netbk_vif *vif, struct rx_view *v, RING_IDX *prod)
{
	struct netif_offload o;
	unsigned need;

	if (!rx_offload(vif, v, &o)) {
		vif->st.rx_dropped++;
		return RX_DROPPED;
	}
	need = rx_slots_needed(v, &o);
	if (netif_rx_back_unconsumed(&vif->rx, *prod) < need) {
		/* wait for buffers: be kicked when enough have been posted */
		BH_WRITE_ONCE(vif->rx.sring->hdr.req_event, vif->rx.req_cons + need);
		bh_mb();
		*prod = BH_READ_ONCE(vif->rx.sring->hdr.req_prod);
		bh_rmb();
		if (netif_rx_back_req_overflow(&vif->rx, *prod)) {
			netbk_vif_break(vif, "RX req_prod more than a ring ahead");
			return RX_NO_ROOM;
		}
		if (netif_rx_back_unconsumed(&vif->rx, *prod) < need)
			return RX_NO_ROOM;
	}
	rx_place(vif, v, &o);
	return RX_PLACED;
}

static void rxq_pop(struct netbk_vif *vif)
{
	struct netbk_rxq_pkt *p = vif->rxq_head;

	vif->rxq_head = p->next;
	if (!vif->rxq_head)
		vif->rxq_tail = NULL;
	vif->st.rx_queued--;
	vif->st.rx_queued_bytes -= p->len;
	free(p);
}

/* Queued packets first, in order; returns packets handled. */
static int rx_drain_queue(struct netbk_vif *vif, unsigned budget, RING_IDX *prod)
{
	int moved = 0;

	while (vif->rxq_head && (unsigned)moved < budget && vif->state == NETBK_VIF_CONNECTED) {
		struct netbk_rxq_pkt *p = vif->rxq_head;
		struct rx_view v = { &p->vh, p->data, p->len };

		if (rx_try(vif, &v, prod) == RX_NO_ROOM)
			break;
		rxq_pop(vif);
		moved++;
	}
	return moved;
}

/* Read from the device; a packet goes straight into the ring when nothing
 * waits before it, else into the queue. */
static int rx_read_device(struct netbk_vif *vif, unsigned budget, RING_IDX *prod)
{
	const size_t hl = sizeof(struct virtio_net_hdr);
	int moved = 0;

	for (unsigned i = 0; i < budget && vif->state == NETBK_VIF_CONNECTED; i++) {
		ssize_t r = read(vif->cfg.tap_fd, vif->pktbuf, NETBK_PKTBUF);
		struct rx_view v = { (struct virtio_net_hdr *)vif->pktbuf, vif->pktbuf + hl,
			             (size_t)r - hl };

		if (r < 0)
			break; /* EAGAIN, or a device error the poll loop reports */
		if ((size_t)r <= hl + NETIF_ETH_HLEN || (size_t)r > hl + NETIF_MAX_PACKET) {
			vif->st.rx_errors++;
			continue;
		}
		if (!vif->rxq_head && rx_try(vif, &v, prod) != RX_NO_ROOM) {
			moved++;
			continue;
		}
		rxq_push(vif, vif->pktbuf, (size_t)r);
	}
	return moved;
}

int netbk_rx_serve(struct netbk_vif *vif, unsigned budget)
{
	struct netbk_gntmap_ops *ops = &vif->nb->ops;
	RING_IDX prod;
	int moved;

	if (vif->state != NETBK_VIF_CONNECTED)
		return 0;
	prod = BH_READ_ONCE(vif->rx.sring->hdr.req_prod);
	bh_rmb();
	if (netif_rx_back_req_overflow(&vif->rx, prod)) {
		netbk_vif_break(vif, "RX req_prod more than a ring ahead");
		return 0;
	}
	moved = rx_drain_queue(vif, budget, &prod);
	moved += rx_read_device(vif, budget, &prod);
	if (moved && netif_rx_back_push(&vif->rx) && !netbk_vif_deaf(vif))
		ops->notify(ops->ctx, vif->cfg.rx_port);
	vif->rx_more = vif->rxq_head && (unsigned)moved >= budget;
	return moved;
}
