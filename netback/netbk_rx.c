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

/* Read up to budget packets from the device into the queue. */
static void rx_read_device(struct netbk_vif *vif, unsigned budget)
{
	for (unsigned i = 0; i < budget; i++) {
		ssize_t r = read(vif->cfg.tap_fd, vif->pktbuf, NETBK_PKTBUF);

		if (r < 0)
			return; /* EAGAIN, or a device error the poll loop reports */
		if ((size_t)r <= sizeof(struct virtio_net_hdr) + NETIF_ETH_HLEN ||
		    (size_t)r > sizeof(struct virtio_net_hdr) + NETIF_MAX_PACKET) {
			vif->st.rx_errors++;
			continue;
		}
		rxq_push(vif, vif->pktbuf, (size_t)r);
	}
}

static struct netif_rx_request rx_take_req(struct netbk_vif *vif)
{
	volatile struct netif_rx_request *s =
	    &vif->rx.sring->ring[vif->rx.req_cons++ & (NETIF_RX_RING_SIZE - 1)].req;
	struct netif_rx_request r = { .id = s->id, .gref = s->gref };

	return r;
}

/* Decide the packet's offload as the frontend can take it; false: drop. */
static bool rx_offload(struct netbk_vif *vif, struct netbk_rxq_pkt *p, struct netif_offload *o)
{
	uint32_t f = vif->cfg.features;

	if (netif_offload_from_vnet(&p->vh, o) < 0)
		return false;
	if (o->gso_type == XEN_NETIF_GSO_TYPE_TCPV4 && !(f & NETBK_F_GSO_TCPV4))
		return false;
	if (o->gso_type == XEN_NETIF_GSO_TYPE_TCPV6 && !(f & NETBK_F_GSO_TCPV6))
		return false;
	if (o->csum_blank && !o->gso_type && (f & NETBK_F_NO_CSUM)) {
		/* the frontend cannot finish checksums: do it here */
		if (netif_csum_complete(p->data, p->len, p->vh.csum_start, p->vh.csum_offset) < 0)
			return false;
		o->csum_blank = false;
	}
	return true;
}

static unsigned rx_slots_needed(const struct netbk_rxq_pkt *p, const struct netif_offload *o)
{
	return (unsigned)((p->len + XEN_NETIF_PAGE - 1) / XEN_NETIF_PAGE) + (o->gso_type ? 1 : 0);
}

static void rx_put_extra(struct netbk_vif *vif, const struct netif_offload *o)
{
	struct netif_extra_info ex = { .type = XEN_NETIF_EXTRA_TYPE_GSO };

	rx_take_req(vif); /* the extra overlays this slot; its id is not used */
	ex.u.gso.size = o->gso_size;
	ex.u.gso.type = o->gso_type;
	memcpy(netif_rx_back_rsp_slot(&vif->rx, vif->rx.rsp_prod_pvt++), &ex, sizeof(ex));
}

/* Copy one queued packet into posted buffers and answer them. */
static void rx_place(struct netbk_vif *vif, struct netbk_rxq_pkt *p, const struct netif_offload *o)
{
	struct netbk_gntmap_ops *ops = &vif->nb->ops;
	size_t done = 0;
	bool first = true, ok = true;

	while (done < p->len) {
		struct netif_rx_request req = rx_take_req(vif);
		RING_IDX slot = vif->rx.rsp_prod_pvt++;
		uint16_t n = (uint16_t)BH_MIN(p->len - done, XEN_NETIF_PAGE);
		struct netbk_gntcopy_seg seg = { .ref = req.gref,
			                         .len = n,
			                         .local = p->data + done };
		struct netif_rx_response rsp = { .id = req.id, .status = (int16_t)n };

		if (ops->copy(ops->ctx, vif->cfg.frontend_domid, true, &seg, 1) < 0 || seg.status) {
			rsp.status = NETIF_RSP_ERROR;
			ok = false;
		}
		done += n;
		if (done < p->len)
			rsp.flags |= NETRXF_more_data;
		if (first) {
			if (o->csum_blank)
				rsp.flags |= NETRXF_csum_blank | NETRXF_data_validated;
			else if (o->data_validated)
				rsp.flags |= NETRXF_data_validated;
			if (o->gso_type)
				rsp.flags |= NETRXF_extra_info;
		}
		*netif_rx_back_rsp_slot(&vif->rx, slot) = rsp;
		if (first && o->gso_type)
			rx_put_extra(vif, o);
		first = false;
	}
	if (ok) {
		vif->st.rx_packets++;
		vif->st.rx_bytes += p->len;
	} else {
		vif->st.rx_errors++;
	}
}

/* Place queued packets while buffers last; true if one was moved. */
static int rx_drain_queue(struct netbk_vif *vif, unsigned budget)
{
	RING_IDX prod = BH_READ_ONCE(vif->rx.sring->hdr.req_prod);
	int moved = 0;

	bh_rmb();
	if (netif_rx_back_req_overflow(&vif->rx, prod)) {
		netbk_vif_break(vif, "RX req_prod more than a ring ahead");
		return 0;
	}
	while (vif->rxq_head && (unsigned)moved < budget) {
		struct netbk_rxq_pkt *p = vif->rxq_head;
		struct netif_offload o;
		bool keep = rx_offload(vif, p, &o);
		unsigned need = rx_slots_needed(p, &o);

		if (keep && netif_rx_back_unconsumed(&vif->rx, prod) < need) {
			/* wait for buffers: be kicked when the next ones arrive */
			BH_WRITE_ONCE(vif->rx.sring->hdr.req_event, vif->rx.req_cons + need);
			bh_mb();
			prod = BH_READ_ONCE(vif->rx.sring->hdr.req_prod);
			if (netif_rx_back_unconsumed(&vif->rx, prod) < need)
				break;
		}
		if (keep)
			rx_place(vif, p, &o);
		else
			vif->st.rx_dropped++;
		vif->rxq_head = p->next;
		if (!vif->rxq_head)
			vif->rxq_tail = NULL;
		vif->st.rx_queued--;
		vif->st.rx_queued_bytes -= p->len;
		free(p);
		moved++;
	}
	return moved;
}

int netbk_rx_serve(struct netbk_vif *vif, unsigned budget)
{
	struct netbk_gntmap_ops *ops = &vif->nb->ops;
	int moved;

	if (vif->state != NETBK_VIF_CONNECTED)
		return 0;
	rx_read_device(vif, budget);
	moved = rx_drain_queue(vif, budget);
	if (moved && netif_rx_back_push(&vif->rx))
		ops->notify(ops->ctx, vif->cfg.rx_port);
	vif->rx_more = vif->rxq_head && (unsigned)moved == budget;
	return moved;
}
