/* TX: packets from the frontend to the packet device.
 *
 * Requests are copied out of the shared ring once (tx_copy) as soon as
 * they are published, then parsed and served from the copy only. A packet
 * is consumed whole: every slot it spans gets exactly one response, data
 * slots the packet's status, extra-info slots NETIF_RSP_NULL. */
#include "netback/netbk_priv.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include "common/util.h"

/* Copy the newly published requests; false if the frontend is hostile. */
static bool tx_copy_new(struct netbk_vif *vif)
{
	RING_IDX prod = BH_READ_ONCE(vif->tx.sring->hdr.req_prod);
	uint32_t n;

	bh_rmb();
	if (netif_tx_back_req_overflow(&vif->tx, prod)) {
		netbk_vif_break(vif, "TX req_prod more than a ring ahead");
		return false;
	}
	n = netif_tx_back_unconsumed(&vif->tx, prod);
	if ((RING_IDX)(vif->tx.req_cons + n - vif->tx_copied) > NETIF_TX_RING_SIZE) {
		netbk_vif_break(vif, "TX req_prod moved backwards");
		return false;
	}
	uint32_t refs[NETIF_TX_RING_SIZE];
	unsigned nrefs = 0;
	bool extra = false;

	for (RING_IDX i = vif->tx_copied; i != vif->tx.req_cons + n; i++) {
		volatile struct netif_tx_request *s =
		    &vif->tx.sring->ring[i & (NETIF_TX_RING_SIZE - 1)].req;
		struct netif_tx_request *d = &vif->tx_copy[i & (NETIF_TX_RING_SIZE - 1)];

		d->gref = s->gref;
		d->offset = s->offset;
		d->flags = s->flags;
		d->id = s->id;
		d->size = s->size;
		if (extra)
			extra = false; /* an extra-info slot: no ref in it */
		else
			refs[nrefs++] = d->gref; /* from our copy */
		if (d->flags & NETTXF_extra_info)
			extra = true;
	}
	vif->tx_copied = vif->tx.req_cons + n;
	/* A new frontend's (or a restarted backend's) first packets each
	 * named pages not mapped yet: map a batch's together. (An extra slot
	 * that starts this batch, its request in the last one, is taken for a
	 * ref: a hint only, one that fails leaves the batch to pages.) */
	if (vif->tx_prefetch_left && nrefs > 1 && vif->nb->ops.prefetch && vif->nb->ops.pages) {
		vif->nb->ops.prefetch(vif->nb->ops.ctx, vif->cfg.frontend_domid, false, refs,
		                      nrefs);
		vif->tx_prefetch_left -= BH_MIN(vif->tx_prefetch_left, nrefs);
	}
	return true;
}

static void tx_respond(struct netbk_vif *vif, const struct netbk_txpkt *pkt, int16_t status)
{
	for (unsigned i = 0; i < pkt->nslots; i++) {
		struct netif_tx_response *r =
		    netif_tx_back_rsp_slot(&vif->tx, vif->tx.rsp_prod_pvt++);

		r->id = pkt->ids[i];
		r->status = pkt->extra[i] ? NETIF_RSP_NULL : status;
		if (__builtin_expect(vif->fault_corrupt, 0)) {
			r->id ^= 0x8000; /* injected: past any ring's ids */
			vif->fault_corrupt = false;
		}
	}
	vif->tx.req_cons += pkt->nslots;
}

/* Gather the fragments into pktbuf after the vnet header. */
static int tx_gather(struct netbk_vif *vif, const struct netbk_txpkt *pkt)
{
	struct netbk_gntcopy_seg segs[XEN_NETBK_LEGACY_SLOTS_MAX];
	uint8_t *p = vif->pktbuf + sizeof(struct virtio_net_hdr);
	struct netbk_gntmap_ops *ops = &vif->nb->ops;
	unsigned i;

	for (i = 0; i < pkt->nfrags; i++) {
		segs[i] = (struct netbk_gntcopy_seg){ .ref = pkt->frags[i].gref,
			                              .offset = pkt->frags[i].offset,
			                              .len = pkt->frags[i].size,
			                              .local = p };
		p += pkt->frags[i].size;
	}
	if (ops->copy(ops->ctx, vif->cfg.frontend_domid, false, segs, pkt->nfrags) < 0)
		return -EIO;
	for (i = 0; i < pkt->nfrags; i++)
		if (segs[i].status)
			return -EPERM;
	return 0;
}

/* In place (ops->pages): the packet's first NETBK_TX_HEAD bytes, which
 * hold every header the filters and the offload look at, are copied into
 * pktbuf after the vnet header; iov gets that private copy first, then the
 * rest of the data straight from the frontend's pages, for one writev. The
 * headers checked are the headers sent: a frontend that rewrites its pages
 * meanwhile changes only its own payload. Returns the bytes in the head. */
static int tx_gather_iov(struct netbk_vif *vif, const struct netbk_txpkt *pkt, struct iovec *iov,
                         unsigned *niov)
{
	struct netbk_gntmap_ops *ops = &vif->nb->ops;
	uint8_t *pages[XEN_NETBK_LEGACY_SLOTS_MAX];
	uint32_t refs[XEN_NETBK_LEGACY_SLOTS_MAX];
	uint8_t *head = vif->pktbuf + sizeof(struct virtio_net_hdr);
	size_t want = BH_MIN((size_t)pkt->total, (size_t)NETBK_TX_HEAD), got = 0;
	unsigned i, n = 1;

	for (i = 0; i < pkt->nfrags; i++)
		refs[i] = pkt->frags[i].gref;
	if (ops->pages(ops->ctx, vif->cfg.frontend_domid, false, refs, pkt->nfrags, pages) < 0)
		return -EIO;
	for (i = 0; i < pkt->nfrags; i++) {
		const uint8_t *src;
		size_t len = pkt->frags[i].size, take;

		if (!pages[i] || (uint32_t)pkt->frags[i].offset + len > XEN_NETIF_PAGE)
			return -EPERM;
		src = pages[i] + pkt->frags[i].offset;
		take = BH_MIN(len, want - got);
		memcpy(head + got, src, take);
		got += take;
		if (take < len)
			iov[n++] = (struct iovec){ (void *)(src + take), len - take };
	}
	iov[0] = (struct iovec){ vif->pktbuf, sizeof(struct virtio_net_hdr) + got };
	*niov = n;
	return (int)got;
}

/* Copy, filter and send one well-formed packet; the status to answer. */
static int16_t tx_send(struct netbk_vif *vif, const struct netbk_txpkt *pkt)
{
	uint8_t *frame = vif->pktbuf + sizeof(struct virtio_net_hdr);
	struct iovec iov[XEN_NETBK_LEGACY_SLOTS_MAX + 1];
	unsigned niov = 1;
	size_t seen = pkt->total; /* bytes of the frame in pktbuf */
	struct virtio_net_hdr vh;
	int rc;
	ssize_t r;

	if (vif->nb->ops.pages)
		rc = tx_gather_iov(vif, pkt, iov, &niov);
	else
		rc = tx_gather(vif, pkt);
	if (rc < 0) {
		netbk_warn_bad(vif, "bad grant reference");
		vif->st.tx_errors++;
		return NETIF_RSP_ERROR;
	}
	if (vif->nb->ops.pages)
		seen = (size_t)rc;
	else
		iov[0] = (struct iovec){ vif->pktbuf, sizeof(vh) + pkt->total };
	if (netbk_spoofed(vif, frame, seen)) {
		vif->st.tx_spoofed++;
		return NETIF_RSP_DROPPED;
	}
	if (netif_offload_to_vnet(&pkt->off, frame, seen, &vh) < 0) {
		vif->st.tx_errors++;
		return NETIF_RSP_ERROR;
	}
	memcpy(vif->pktbuf, &vh, sizeof(vh));
	r = writev(vif->cfg.tap_fd, iov, (int)niov);
	if (r < 0) {
		vif->st.tx_dropped++; /* device full or down: like a full qdisc */
		return NETIF_RSP_DROPPED;
	}
	vif->st.tx_packets++;
	vif->st.tx_bytes += pkt->total;
	return NETIF_RSP_OKAY;
}

/* Parse and serve the next packet: 1 served, 0 must wait, <0 broken. */
static int tx_one(struct netbk_vif *vif, struct netbk_txpkt *pkt, uint64_t now_ns)
{
	unsigned avail = vif->tx_copied - vif->tx.req_cons;
	unsigned mtu = vif->cfg.mtu ? vif->cfg.mtu : 1500;
	int16_t status;
	int rc;

	rc = netbk_tx_parse(vif->tx_copy, NETIF_TX_RING_SIZE - 1, vif->tx.req_cons, avail,
	                    mtu + NETIF_ETH_HLEN + 4, pkt);
	if (rc == -EAGAIN)
		return 0;
	if (rc < 0) {
		netbk_vif_break(vif, "TX packet chain longer than the ring");
		return rc;
	}
	if (pkt->status == NETIF_RSP_OKAY && !netbk_credit_take(vif, pkt->total, now_ns)) {
		vif->tx_rate_blocked = true;
		return 0;
	}
	if (pkt->status != NETIF_RSP_OKAY) {
		netbk_warn_bad(vif, pkt->why);
		vif->st.tx_errors++;
		status = pkt->status;
	} else {
		status = tx_send(vif, pkt);
	}
	tx_respond(vif, pkt, status);
	return 1;
}

/* Before idling: be woken by the first request past what we copied; true
 * if one arrived meanwhile. (The ring's own final check counts slots of a
 * half-published packet as work and would spin.) */
static bool tx_final_check(struct netbk_vif *vif)
{
	BH_WRITE_ONCE(vif->tx.sring->hdr.req_event, vif->tx_copied + 1);
	bh_mb();
	return BH_READ_ONCE(vif->tx.sring->hdr.req_prod) != vif->tx_copied;
}

static void tx_push(struct netbk_vif *vif)
{
	struct netbk_gntmap_ops *ops = &vif->nb->ops;

	if (netif_tx_back_push(&vif->tx) && !netbk_vif_deaf(vif))
		ops->notify(ops->ctx, vif->cfg.tx_port);
}

int netbk_tx_serve(struct netbk_vif *vif, unsigned budget, uint64_t now_ns)
{
	static __thread struct netbk_txpkt pkt;
	int done = 0, rc = 0;

	vif->tx_more = false;
	vif->tx_rate_blocked = false;
	while (vif->state == NETBK_VIF_CONNECTED) {
		if (!tx_copy_new(vif))
			break;
		if ((unsigned)done == budget) {
			vif->tx_more = vif->tx_copied != vif->tx.req_cons;
			break;
		}
		rc = tx_one(vif, &pkt, now_ns);
		if (rc > 0) {
			done++;
			continue;
		}
		if (rc < 0 || vif->tx_rate_blocked)
			break;
		/* waiting for more slots: ask for a kick, then look again */
		if (!tx_final_check(vif))
			break;
	}
	if (done)
		tx_push(vif);
	return done;
}
