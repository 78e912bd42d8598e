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
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

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

/* Reads the frontend's RX req_prod into *PROD; a producer more than a
 * ring ahead stops the vif (false). */
static bool rx_read_prod(struct netbk_vif *vif, RING_IDX *prod)
{
	*prod = BH_READ_ONCE(vif->rx.sring->hdr.req_prod);
	bh_rmb();
	if (netif_rx_back_req_overflow(&vif->rx, *prod)) {
		netbk_vif_break(vif, "RX req_prod more than a ring ahead");
		return false;
	}
	return true;
}

/* Asks to be kicked once NEED requests past req_cons are posted, then
 * reads req_prod again (buffers posted meanwhile sent no kick). */
static bool rx_want(struct netbk_vif *vif, unsigned need, RING_IDX *prod)
{
	BH_WRITE_ONCE(vif->rx.sring->hdr.req_event, vif->rx.req_cons + need);
	bh_mb();
	return rx_read_prod(vif, prod);
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
		if (!rx_want(vif, need, prod) || netif_rx_back_unconsumed(&vif->rx, *prod) < need)
			return RX_NO_ROOM;
	}
	rx_place(vif, v, &o);
	return RX_PLACED;
}

/* A packet placed during the warm-up (rx_warm_left): pushed and signalled
 * now, so that the frontend takes it while the next one's pages are
 * mapped. After a driver-domain restart every page is new and the first
 * packets through, a guest's backlog and the answers it waits for, went
 * to the frontend together at the round's end: ~1.3 ms later per hop. */
static void rx_warm_push(struct netbk_vif *vif)
{
	struct netbk_gntmap_ops *ops = &vif->nb->ops;

	if (!vif->rx_warm_left)
		return;
	vif->rx_warm_left--;
	if (netif_rx_back_push(&vif->rx) && !netbk_vif_deaf(vif))
		ops->notify(ops->ctx, vif->cfg.rx_port);
}

/* Offers the next N (at most NETBK_RX_WARM_PREFETCH) posted buffers from
 * req_cons to ops->prefetch as one batch (writable refs, from netback's
 * view of the ring: the frontend may rewrite them, and a ref it changes
 * is only mapped in vain). */
static void rx_warm_offer(struct netbk_vif *vif, RING_IDX prod, unsigned n_max)
{
	struct netbk_gntmap_ops *ops = &vif->nb->ops;
	uint32_t refs[NETBK_RX_WARM_PREFETCH];
	RING_IDX from = vif->rx.req_cons, to;
	unsigned n = 0;

	to = from + BH_MIN(netif_rx_back_unconsumed(&vif->rx, prod),
	                   BH_MIN(n_max, (unsigned)NETBK_RX_WARM_PREFETCH));
	for (RING_IDX i = from; i != to; i++)
		refs[n++] = vif->rx.sring->ring[i & (NETIF_RX_RING_SIZE - 1)].req.gref;
	vif->rx_warm_pf = to;
	if (n > 1)
		ops->prefetch(ops->ctx, vif->cfg.frontend_domid, true, refs, n);
}

/* The first round that finds buffers posted after a connect (netfront
 * posts its first ones before it goes Connected, so normally the round
 * right after the connect) offers the first NETBK_RX_WARM_FIRST of them,
 * before it serves any TX: after a driver domain's restart the first
 * packets through, a guest's backlog and then the answers it waits for,
 * each waited for a call to the core to map the page it landed in. A
 * few, not a full batch: each page mapped costs ~10 us in the driver
 * domain and a few in the core, and the first packets are a handful (a
 * gratuitous ARP, a probe or two, their answers). */
void netbk_rx_warm_begin(struct netbk_vif *vif)
{
	RING_IDX prod;

	if (vif->rx_warm_begun || vif->state != NETBK_VIF_CONNECTED || !vif->rx_warm_left ||
	    !vif->nb->ops.prefetch)
		return;
	if (!rx_read_prod(vif, &prod) || !netif_rx_back_unconsumed(&vif->rx, prod))
		return;
	vif->rx_warm_begun = true;
	rx_warm_offer(vif, prod, NETBK_RX_WARM_FIRST);
}

/* Warming up, a backlog (a guest's packets held while we were away) costs
 * a map per packet: once the first few are used up, the next
 * NETBK_RX_WARM_PREFETCH posted buffers are offered to ops->prefetch
 * together (one call to the core instead of one each; ~17 us a page in a
 * batch against ~60-120 us alone, measured on this PVM). Called with a
 * packet in hand that is not the round's first (MOVED): the first one
 * goes alone and at once, its single map being the quickest way to it,
 * and the batch is mapped while the frontend takes it. A lone packet
 * costs no batch. */
static void rx_warm_prefetch(struct netbk_vif *vif, RING_IDX prod, int moved)
{
	if (!moved || !vif->rx_warm_left || !vif->nb->ops.prefetch ||
	    (int32_t)(vif->rx_warm_pf - vif->rx.req_cons) > 0)
		return;
	rx_warm_offer(vif, prod, NETBK_RX_WARM_PREFETCH);
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

		rx_warm_prefetch(vif, *prod, moved);
		if (rx_try(vif, &v, prod) == RX_NO_ROOM)
			break;
		rxq_pop(vif);
		rx_warm_push(vif);
		moved++;
	}
	return moved;
}

/* RX in place: with enough requests posted for the largest packet, the
 * device is read (readv) straight into the frontend's buffers, not into
 * pktbuf and then copied. The packet's size is known only after the read,
 * so the pages are laid out for a GSO packet (data in requests 0, 2, 3,
 * ...; request 1 takes the extra); a large non-GSO packet (rare: jumbo
 * frames) is moved down one page each afterwards. Requests are read once,
 * here, and answered from that copy. */
#define RX_DATA_PAGES ((NETIF_MAX_PACKET + XEN_NETIF_PAGE - 1) / XEN_NETIF_PAGE)
#define RX_SLOTS      (RX_DATA_PAGES + 1)

enum { RX_EMPTY = RX_NO_ROOM + 1, RX_COPY, RX_SHORT };

static void rx_answer_in_place(struct netbk_vif *vif, const struct netif_rx_request *req,
                               size_t len, const struct netif_offload *o)
{
	size_t done = 0;
	unsigned s = 0;

	while (done < len) {
		uint16_t n = (uint16_t)BH_MIN(len - done, XEN_NETIF_PAGE);
		struct netif_rx_response rsp = { .id = req[s].id, .status = (int16_t)n };

		done += n;
		if (done < len)
			rsp.flags |= NETRXF_more_data;
		if (s == 0)
			rsp.flags |= rx_first_flags(o);
		*netif_rx_back_rsp_slot(&vif->rx, vif->rx.rsp_prod_pvt++) = rsp;
		vif->rx.req_cons++;
		if (s++ == 0 && o->gso_type) {
			struct netif_extra_info ex = { .type = XEN_NETIF_EXTRA_TYPE_GSO };

			ex.u.gso.size = o->gso_size;
			ex.u.gso.type = o->gso_type;
			memcpy(netif_rx_back_rsp_slot(&vif->rx, vif->rx.rsp_prod_pvt++), &ex,
			       sizeof(ex));
			vif->rx.req_cons++;
			s++;
		}
	}
	vif->st.rx_packets++;
	vif->st.rx_bytes += len;
}

/* One packet from the device in place: RX_PLACED, RX_DROPPED, RX_EMPTY
 * (nothing to read), RX_SHORT (too few requests posted) or RX_COPY (one
 * of them not usable: the copying path takes this packet). */
static int rx_read_in_place(struct netbk_vif *vif, RING_IDX *prod)
{
	const size_t hl = sizeof(struct virtio_net_hdr);
	struct netbk_gntmap_ops *ops = &vif->nb->ops;
	struct netif_rx_request req[RX_SLOTS];
	uint32_t refs[RX_SLOTS];
	uint8_t *pages[RX_SLOTS];
	struct iovec iov[RX_DATA_PAGES + 1];
	struct rx_view v = { (struct virtio_net_hdr *)vif->pktbuf, NULL, 0 };
	struct netif_offload o;
	size_t npages;
	ssize_t r;

	if (netif_rx_back_unconsumed(&vif->rx, *prod) < RX_SLOTS) {
		if (!rx_read_prod(vif, prod))
			return RX_NO_ROOM;
		if (netif_rx_back_unconsumed(&vif->rx, *prod) < RX_SLOTS)
			return RX_SHORT;
	}
	for (unsigned i = 0; i < RX_SLOTS; i++) {
		volatile struct netif_rx_request *q =
		    &vif->rx.sring->ring[(vif->rx.req_cons + i) & (NETIF_RX_RING_SIZE - 1)].req;

		req[i] = (struct netif_rx_request){ .id = q->id, .gref = q->gref };
		refs[i] = req[i].gref;
	}
	if (ops->pages(ops->ctx, vif->cfg.frontend_domid, true, refs, RX_SLOTS, pages) < 0)
		return RX_COPY;
	for (unsigned i = 0; i < RX_SLOTS; i++)
		if (!pages[i])
			return RX_COPY; /* answered with an error by the copying path */
	iov[0] = (struct iovec){ vif->pktbuf, hl };
	iov[1] = (struct iovec){ pages[0], XEN_NETIF_PAGE };
	for (unsigned k = 1; k < RX_DATA_PAGES; k++)
		iov[k + 1] = (struct iovec){ pages[k + 1], XEN_NETIF_PAGE };
	r = readv(vif->cfg.tap_fd, iov, RX_DATA_PAGES + 1);
	if (r < 0)
		return RX_EMPTY; /* EAGAIN, or a device error the poll loop reports */
	if ((size_t)r <= hl + NETIF_ETH_HLEN || (size_t)r > hl + NETIF_MAX_PACKET) {
		vif->st.rx_errors++;
		return RX_DROPPED;
	}
	v.len = (size_t)r - hl;
	if (!rx_offload(vif, &v, &o)) {
		vif->st.rx_dropped++;
		return RX_DROPPED;
	}
	npages = (v.len + XEN_NETIF_PAGE - 1) / XEN_NETIF_PAGE;
	if (!o.gso_type)
		for (size_t k = 1; k < npages; k++)
			memcpy(pages[k], pages[k + 1],
			       BH_MIN(v.len - k * XEN_NETIF_PAGE, XEN_NETIF_PAGE));
	rx_answer_in_place(vif, req, v.len, &o);
	return RX_PLACED;
}

/* Too few buffers posted for in place: leave the packets in the device
 * (its own queue is bounded) and ask to be notified once enough are
 * posted, for up to nb->rx_wait_ns; a frontend still short after that is
 * slow or stuck and gets the bounded queue. RX_SHORT: wait; RX_PLACED:
 * enough were posted meanwhile, try again; RX_EMPTY: nothing to wait
 * with; RX_COPY: do not wait. */
static int rx_wait(struct netbk_vif *vif, RING_IDX *prod, uint64_t now)
{
	uint64_t wait = vif->nb->rx_wait_ns;
	struct pollfd pf = { .fd = vif->cfg.tap_fd, .events = POLLIN };

	if (!wait)
		return RX_COPY;
	/* nothing pending: not waiting for anything, keep watching the device */
	if (poll(&pf, 1, 0) == 0)
		return RX_EMPTY;
	if (!vif->rx_wait_ns)
		vif->rx_wait_ns = now;
	else if (now - vif->rx_wait_ns >= wait)
		return RX_COPY;
	if (!rx_want(vif, RX_SLOTS, prod))
		return RX_SHORT;
	if (netif_rx_back_unconsumed(&vif->rx, *prod) >= RX_SLOTS)
		return RX_PLACED;
	vif->rx_blocked = true;
	return RX_SHORT;
}

/* Read from the device; a packet goes straight into the ring when nothing
 * waits before it, else into the queue. */
static int rx_read_device(struct netbk_vif *vif, unsigned budget, RING_IDX *prod, uint64_t now)
{
	const size_t hl = sizeof(struct virtio_net_hdr);
	/* in place needs the frontend to finish checksums itself (rx_offload
	 * completes them in a linear buffer otherwise) */
	bool in_place = vif->nb->ops.pages && !(vif->cfg.features & NETBK_F_NO_CSUM);
	int moved = 0;

	for (unsigned i = 0; i < budget && vif->state == NETBK_VIF_CONNECTED; i++) {
		/* warming up: a packet maps the page it needs, not RX_SLOTS */
		if (in_place && !vif->rxq_head && !vif->rx_warm_left) {
			int k = rx_read_in_place(vif, prod);

			if (k == RX_EMPTY || vif->state != NETBK_VIF_CONNECTED)
				break;
			if (k == RX_PLACED || k == RX_DROPPED) {
				if (k == RX_PLACED)
					vif->rx_wait_ns = 0;
				moved++;
				continue;
			}
			if (k == RX_SHORT && (k = rx_wait(vif, prod, now)) != RX_COPY) {
				if (k == RX_SHORT || k == RX_EMPTY)
					break;
				i--; /* buffers came meanwhile: in place after all */
				continue;
			}
		}
		ssize_t r = read(vif->cfg.tap_fd, vif->pktbuf, NETBK_PKTBUF);
		struct rx_view v = { (struct virtio_net_hdr *)vif->pktbuf, vif->pktbuf + hl,
			             (size_t)r - hl };

		if (r < 0)
			break; /* EAGAIN, or a device error the poll loop reports */
		if ((size_t)r <= hl + NETIF_ETH_HLEN || (size_t)r > hl + NETIF_MAX_PACKET) {
			vif->st.rx_errors++;
			continue;
		}
		if (!vif->rxq_head)
			rx_warm_prefetch(vif, *prod, moved);
		if (!vif->rxq_head && rx_try(vif, &v, prod) != RX_NO_ROOM) {
			rx_warm_push(vif);
			moved++;
			continue;
		}
		rxq_push(vif, vif->pktbuf, (size_t)r);
	}
	return moved;
}

int netbk_rx_serve(struct netbk_vif *vif, unsigned budget, uint64_t now_ns)
{
	struct netbk_gntmap_ops *ops = &vif->nb->ops;
	RING_IDX prod;
	int moved;

	if (vif->state != NETBK_VIF_CONNECTED)
		return 0;
	if (!rx_read_prod(vif, &prod))
		return 0;
	moved = rx_drain_queue(vif, budget, &prod);
	vif->rx_blocked = false;
	moved += rx_read_device(vif, budget, &prod, now_ns);
	if (moved && netif_rx_back_push(&vif->rx) && !netbk_vif_deaf(vif))
		ops->notify(ops->ctx, vif->cfg.rx_port);
	vif->rx_more = vif->rxq_head && (unsigned)moved >= budget;
	return moved;
}
