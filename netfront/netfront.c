/* bhnetfront: rings, buffers, TX and RX (see netfront.h). */
#include "netfront/netfront.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <linux/if_tun.h>

#include "bulkhead/netif.h"
#include "common/util.h"
#include "netback/netif_vnet.h"

#define NF_RING NETIF_TX_RING_SIZE
#define NF_MASK (NF_RING - 1)

struct netfront {
	struct netfront_config cfg;
	struct netfront_ops ops;
	struct bh_log log;
	struct netfront_stats st;
	bool broken;
	uint32_t tx_ring_ref, rx_ring_ref;
	void *tx_ring_page, *rx_ring_page;
	struct netif_tx_front_ring tx;
	struct netif_rx_front_ring rx;
	/* TX: one buffer page per id; a free list of ids */
	uint8_t *tx_pages;
	uint32_t tx_refs[NF_RING];
	bool tx_busy[NF_RING];
	uint16_t tx_free[NF_RING];
	unsigned tx_nfree;
	/* RX: buffer page id = ring slot & mask */
	uint8_t *rx_pages;
	uint32_t rx_refs[NF_RING];
	struct netif_rx_response rx_copy[NF_RING]; /* responses copied once */
	RING_IDX rx_copied;
};

static void nf_break(struct netfront *nf, const char *why)
{
	if (!nf->broken)
		bh_err(&nf->log, "%s: backend is broken; device stopped", why);
	nf->broken = true;
}

/* Empty rings, every TX id free, no RX response seen. */
static void nf_rings_init(struct netfront *nf)
{
	netif_tx_front_init(&nf->tx, nf->tx_ring_page, 1);
	netif_rx_front_init(&nf->rx, nf->rx_ring_page, 1);
	memset(nf->tx_busy, 0, sizeof(nf->tx_busy));
	nf->tx_nfree = 0;
	for (unsigned i = 0; i < NF_RING; i++)
		nf->tx_free[nf->tx_nfree++] = (uint16_t)(NF_RING - 1 - i);
	memset(nf->rx_copy, 0, sizeof(nf->rx_copy));
	nf->rx_copied = 0;
}

static int nf_alloc(struct netfront *nf)
{
	uint16_t be = nf->cfg.backend_domid;

	nf->tx_ring_page = nf->ops.alloc(nf->ops.ctx, be, 1, true, &nf->tx_ring_ref);
	nf->rx_ring_page = nf->ops.alloc(nf->ops.ctx, be, 1, true, &nf->rx_ring_ref);
	nf->tx_pages = nf->ops.alloc(nf->ops.ctx, be, NF_RING, false, nf->tx_refs);
	nf->rx_pages = nf->ops.alloc(nf->ops.ctx, be, NF_RING, true, nf->rx_refs);
	if (!nf->tx_ring_page || !nf->rx_ring_page || !nf->tx_pages || !nf->rx_pages)
		return -ENOMEM;
	nf_rings_init(nf);
	return 0;
}

void netfront_reset(struct netfront *nf)
{
	/* The slots too: nothing of the last connection is read again. */
	memset(nf->tx_ring_page, 0, BH_PAGE_SIZE);
	memset(nf->rx_ring_page, 0, BH_PAGE_SIZE);
	nf_rings_init(nf);
	nf->broken = false;
	nf->cfg.unbound = true;
	nf->cfg.tx_port = nf->cfg.rx_port = 0;
}

int netfront_create(const struct netfront_config *cfg, const struct netfront_ops *ops,
                    const struct bh_log *log, struct netfront **out)
{
	struct netfront *nf = calloc(1, sizeof(*nf));
	int rc;

	if (!nf)
		return -ENOMEM;
	nf->cfg = *cfg;
	if (!nf->cfg.rx_target || nf->cfg.rx_target > NF_RING)
		nf->cfg.rx_target = NF_RING;
	nf->ops = *ops;
	if (log)
		nf->log = *log;
	else
		bh_log_init(&nf->log, "netfront");
	if ((rc = nf_alloc(nf)) < 0) {
		netfront_destroy(nf);
		return rc;
	}
	if (!nf->cfg.unbound)
		netfront_flush(nf); /* post the first RX buffers */
	*out = nf;
	return 0;
}

void netfront_destroy(struct netfront *nf)
{
	void *ctx;

	if (!nf)
		return;
	ctx = nf->ops.ctx;
	if (nf->tx_ring_page)
		nf->ops.free(ctx, nf->tx_ring_page, &nf->tx_ring_ref, 1);
	if (nf->rx_ring_page)
		nf->ops.free(ctx, nf->rx_ring_page, &nf->rx_ring_ref, 1);
	if (nf->tx_pages)
		nf->ops.free(ctx, nf->tx_pages, nf->tx_refs, NF_RING);
	if (nf->rx_pages)
		nf->ops.free(ctx, nf->rx_pages, nf->rx_refs, NF_RING);
	free(nf);
}

void netfront_bind(struct netfront *nf, uint32_t tx_port, uint32_t rx_port, uint32_t features)
{
	nf->cfg.tx_port = tx_port;
	nf->cfg.rx_port = rx_port;
	nf->cfg.features = features;
	nf->cfg.unbound = false;
	netfront_flush(nf); /* post the first RX buffers */
}

void netfront_set_features(struct netfront *nf, uint32_t features)
{
	nf->cfg.features = features;
}

void netfront_info(const struct netfront *nf, struct netfront_info *out)
{
	out->tx_ring_ref = nf->tx_ring_ref;
	out->rx_ring_ref = nf->rx_ring_ref;
}

void netfront_stats(const struct netfront *nf, struct netfront_stats *out)
{
	*out = nf->st;
}

bool netfront_broken(const struct netfront *nf)
{
	return nf->broken;
}

/* TX */

/* Before idling: ask to be notified when half of what is outstanding has
 * been answered (as Linux netfront did), not at every response: answered
 * buffers are needed back only when the ring runs short, and each
 * notification costs the pump a wake-up. True if responses arrived. */
static bool tx_final_check(struct netfront *nf)
{
	RING_IDX cons = nf->tx.rsp_cons;
	RING_IDX out = nf->tx.req_prod_pvt - cons;

	if (BH_READ_ONCE(nf->tx.sring->hdr.rsp_prod) != cons)
		return true;
	BH_WRITE_ONCE(nf->tx.sring->hdr.rsp_event, cons + (out >> 1) + 1);
	bh_mb();
	return BH_READ_ONCE(nf->tx.sring->hdr.rsp_prod) != cons;
}

void netfront_tx_gc(struct netfront *nf)
{
	RING_IDX prod;

	do {
		prod = BH_READ_ONCE(nf->tx.sring->hdr.rsp_prod);
		bh_rmb();
		if (netif_tx_front_rsp_overflow(&nf->tx, prod)) {
			nf_break(nf, "TX rsp_prod ahead of our requests");
			return;
		}
		for (; nf->tx.rsp_cons != prod; nf->tx.rsp_cons++) {
			volatile struct netif_tx_response *s =
			    &nf->tx.sring->ring[nf->tx.rsp_cons & NF_MASK].rsp;
			struct netif_tx_response r = { .id = s->id, .status = s->status };

			if (r.status == NETIF_RSP_NULL)
				continue; /* the answer to an extra-info slot */
			if (r.id >= NF_RING || !nf->tx_busy[r.id]) {
				nf->st.bad_tx_rsp++;
				continue;
			}
			nf->tx_busy[r.id] = false;
			nf->tx_free[nf->tx_nfree++] = r.id;
			if (r.status != NETIF_RSP_OKAY)
				nf->st.tx_errors++;
		}
	} while (tx_final_check(nf));
}

static struct netif_tx_request *tx_slot(struct netfront *nf)
{
	return netif_tx_front_req_slot(&nf->tx, nf->tx.req_prod_pvt++);
}

static void tx_put_gso(struct netfront *nf, const struct netif_offload *o)
{
	struct netif_extra_info ex = { .type = XEN_NETIF_EXTRA_TYPE_GSO };

	ex.u.gso.size = o->gso_size;
	ex.u.gso.type = o->gso_type;
	memcpy(tx_slot(nf), &ex, sizeof(ex));
}

static int tx_check(struct netfront *nf, const struct virtio_net_hdr *vh, size_t len,
                    struct netif_offload *o, unsigned *nfrags)
{
	static const struct virtio_net_hdr none;

	if (len < NETIF_ETH_HLEN || len > NETIF_MAX_PACKET)
		return -EMSGSIZE;
	if (netif_offload_from_vnet(vh ? vh : &none, o) < 0)
		return -EINVAL;
	*nfrags = (unsigned)((len + XEN_NETIF_PAGE - 1) / XEN_NETIF_PAGE);
	if (*nfrags > 1 && !(nf->cfg.features & NETFRONT_F_SG))
		return -EMSGSIZE;
	/* A segmentation the backend does not take (never offered, or
	 * narrowed by netfront_set_features after a restart while the
	 * guest's stack still had such packets queued) is not put on the
	 * ring: a Linux netback takes a malformed request as fatal. */
	if ((o->gso_type == XEN_NETIF_GSO_TYPE_TCPV4 &&
	     !(nf->cfg.features & NETFRONT_F_GSO_TCPV4)) ||
	    (o->gso_type == XEN_NETIF_GSO_TYPE_TCPV6 && !(nf->cfg.features & NETFRONT_F_GSO_TCPV6)))
		return -EOPNOTSUPP;
	if (*nfrags > XEN_NETBK_LEGACY_SLOTS_MAX)
		return -EMSGSIZE;
	return 0;
}

/* The id of the i-th page of the next packet (the top of the free list). */
static uint16_t tx_peek_id(const struct netfront *nf, unsigned i)
{
	return nf->tx_free[nf->tx_nfree - 1 - i];
}

static bool tx_room(struct netfront *nf, unsigned slots, unsigned pages)
{
	if (netif_tx_front_free(&nf->tx) >= slots && nf->tx_nfree >= pages)
		return true;
	netfront_tx_gc(nf);
	return netif_tx_front_free(&nf->tx) >= slots && nf->tx_nfree >= pages;
}

/* Queue the requests of a packet already in the pages tx_peek_id(0..). */
static void tx_queue(struct netfront *nf, const struct netif_offload *o, unsigned nfrags,
                     size_t len)
{
	for (unsigned i = 0; i < nfrags; i++) {
		uint16_t id = nf->tx_free[--nf->tx_nfree];
		size_t n = BH_MIN(len - (size_t)i * XEN_NETIF_PAGE, XEN_NETIF_PAGE);
		struct netif_tx_request *req = tx_slot(nf);

		nf->tx_busy[id] = true;
		*req = (struct netif_tx_request){ .gref = nf->tx_refs[id],
			                          .id = id,
			                          .size = (uint16_t)(i ? n : len) };
		if (i + 1 < nfrags)
			req->flags |= NETTXF_more_data;
		if (i == 0 && o->csum_blank)
			req->flags |= NETTXF_csum_blank | NETTXF_data_validated;
		else if (i == 0 && o->data_validated)
			req->flags |= NETTXF_data_validated;
		if (i == 0 && o->gso_type) {
			req->flags |= NETTXF_extra_info;
			tx_put_gso(nf, o);
		}
	}
	nf->st.tx_packets++;
	nf->st.tx_bytes += len;
}

int netfront_send(struct netfront *nf, const struct virtio_net_hdr *vh, const uint8_t *frame,
                  size_t len)
{
	struct netif_offload o;
	unsigned nfrags;
	int rc;

	if (nf->broken)
		return -EPIPE;
	if ((rc = tx_check(nf, vh, len, &o, &nfrags)) < 0) {
		nf->st.tx_errors++;
		return rc;
	}
	if (!tx_room(nf, nfrags + (o.gso_type ? 1 : 0), nfrags)) {
		nf->st.tx_busy++;
		return -EAGAIN;
	}
	for (unsigned i = 0; i < nfrags; i++)
		memcpy(nf->tx_pages + (size_t)tx_peek_id(nf, i) * XEN_NETIF_PAGE,
		       frame + (size_t)i * XEN_NETIF_PAGE,
		       BH_MIN(len - (size_t)i * XEN_NETIF_PAGE, XEN_NETIF_PAGE));
	tx_queue(nf, &o, nfrags, len);
	return 0;
}

/* Read one packet from the TAP straight into free TX pages (no bounce
 * buffer). 1 queued, 0 nothing to read, -1 dropped. */
static int tx_read_tap(struct netfront *nf, int tap_fd)
{
	enum { MAXP = XEN_NETBK_LEGACY_SLOTS_MAX - 1 }; /* 17 pages hold 64 KiB + */
	struct virtio_net_hdr vh;
	struct iovec iov[MAXP + 1] = { { &vh, sizeof(vh) } };
	struct netif_offload o;
	unsigned nfrags;
	ssize_t r;

	for (unsigned i = 0; i < MAXP; i++)
		iov[i + 1] =
		    (struct iovec){ nf->tx_pages + (size_t)tx_peek_id(nf, i) * XEN_NETIF_PAGE,
			            XEN_NETIF_PAGE };
	r = readv(tap_fd, iov, MAXP + 1);
	if (r < 0)
		return 0;
	if ((size_t)r <= sizeof(vh) || tx_check(nf, &vh, (size_t)r - sizeof(vh), &o, &nfrags) < 0) {
		nf->st.tx_errors++;
		return -1;
	}
	tx_queue(nf, &o, nfrags, (size_t)r - sizeof(vh));
	return 1;
}

/* RX */

static void rx_post(struct netfront *nf)
{
	while (nf->rx.req_prod_pvt - nf->rx.rsp_cons < nf->cfg.rx_target) {
		RING_IDX i = nf->rx.req_prod_pvt++;
		struct netif_rx_request *req = netif_rx_front_req_slot(&nf->rx, i);

		req->id = (uint16_t)(i & NF_MASK);
		req->gref = nf->rx_refs[i & NF_MASK];
	}
}

void netfront_flush(struct netfront *nf)
{
	bool rx_kick, tx_kick;

	if (nf->broken || nf->cfg.unbound)
		return;
	rx_post(nf);
	rx_kick = netif_rx_front_push(&nf->rx);
	tx_kick = netif_tx_front_push(&nf->tx);
	if (nf->cfg.rx_port != nf->cfg.tx_port) {
		if (rx_kick)
			nf->ops.notify(nf->ops.ctx, nf->cfg.rx_port);
		if (tx_kick)
			nf->ops.notify(nf->ops.ctx, nf->cfg.tx_port);
	} else if (rx_kick || tx_kick) {
		nf->ops.notify(nf->ops.ctx, nf->cfg.tx_port);
	}
}

/* Copy responses published up to prod out of the ring, once each. */
static void rx_copy_new(struct netfront *nf, RING_IDX prod)
{
	for (; nf->rx_copied != prod; nf->rx_copied++) {
		volatile struct netif_rx_response *s =
		    &nf->rx.sring->ring[nf->rx_copied & NF_MASK].rsp;
		struct netif_rx_response *d = &nf->rx_copy[nf->rx_copied & NF_MASK];

		d->id = s->id;
		d->offset = s->offset;
		d->flags = s->flags;
		d->status = s->status;
	}
}

static struct netif_rx_response rx_rsp(struct netfront *nf, RING_IDX i)
{
	return nf->rx_copy[i & NF_MASK];
}

/* Slots of the packet at rsp_cons, 0 if not all published. The chain is
 * bounded so a backend cannot make us walk forever. */
static unsigned rx_span(struct netfront *nf, RING_IDX prod)
{
	RING_IDX i = nf->rx.rsp_cons;
	struct netif_rx_response r, e;
	bool more_extra;

	if (i == prod)
		return 0;
	r = rx_rsp(nf, i++);
	more_extra = r.flags & NETRXF_extra_info;
	while (more_extra) {
		if (i == prod)
			return 0;
		e = rx_rsp(nf, i++); /* an extra-info slot: flags byte at offset 1 */
		more_extra = ((const uint8_t *)&e)[1] & XEN_NETIF_EXTRA_FLAG_MORE;
		if (i - nf->rx.rsp_cons > XEN_NETBK_LEGACY_SLOTS_MAX + 2)
			return i - nf->rx.rsp_cons;
	}
	while (r.flags & NETRXF_more_data) {
		if (i == prod)
			return 0;
		r = rx_rsp(nf, i++);
		if (i - nf->rx.rsp_cons > XEN_NETBK_LEGACY_SLOTS_MAX + 2)
			return i - nf->rx.rsp_cons;
	}
	return i - nf->rx.rsp_cons;
}

#define NF_MAX_IOV (XEN_NETBK_LEGACY_SLOTS_MAX + 2)

/* Validate the packet spanning n slots and point iov at its data in the
 * RX pages; its length, or -EBADMSG if anything is off. */
static int rx_assemble(struct netfront *nf, unsigned n, struct netif_offload *o, struct iovec *iov,
                       unsigned *niov)
{
	size_t len = 0;
	bool first = true, extras = false;
	int rc = 0;

	memset(o, 0, sizeof(*o));
	*niov = 0;
	for (unsigned k = 0; k < n; k++) {
		RING_IDX i = nf->rx.rsp_cons + k;
		struct netif_rx_response r = rx_rsp(nf, i);

		if (extras) {
			struct netif_extra_info ex;

			memcpy(&ex, &r, sizeof(ex));
			extras = ex.flags & XEN_NETIF_EXTRA_FLAG_MORE;
			if (ex.type == XEN_NETIF_EXTRA_TYPE_GSO &&
			    (ex.u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4 ||
			     ex.u.gso.type == XEN_NETIF_GSO_TYPE_TCPV6) &&
			    ex.u.gso.size) {
				o->gso_type = ex.u.gso.type;
				o->gso_size = ex.u.gso.size;
			} else if (ex.type == XEN_NETIF_EXTRA_TYPE_NONE ||
			           ex.type >= XEN_NETIF_EXTRA_TYPE_MAX) {
				rc = -EBADMSG;
			}
			continue;
		}
		if (r.id != (i & NF_MASK) || r.status < 0 ||
		    (uint32_t)r.offset + (uint16_t)r.status > XEN_NETIF_PAGE ||
		    (k + 1 == n && (r.flags & NETRXF_more_data)) || *niov == NF_MAX_IOV) {
			rc = -EBADMSG;
			continue;
		}
		iov[(*niov)++] =
		    (struct iovec){ nf->rx_pages + (size_t)r.id * XEN_NETIF_PAGE + r.offset,
			            (size_t)r.status };
		len += (size_t)r.status;
		if (first) {
			o->csum_blank = r.flags & NETRXF_csum_blank;
			o->data_validated = r.flags & NETRXF_data_validated;
			extras = r.flags & NETRXF_extra_info;
			first = false;
		}
	}
	if (rc == 0 && (len < NETIF_ETH_HLEN || len > NETIF_MAX_PACKET || !*niov))
		rc = -EBADMSG;
	return rc ? rc : (int)len;
}

/* The next complete packet: its length with iov/vh filled and *nslots to
 * consume once the data is used; 0 if none is complete; -EBADMSG (already
 * consumed and counted) or -EPIPE. The headers must sit in the first
 * fragment, as every backend puts them. */
static int rx_next(struct netfront *nf, struct virtio_net_hdr *vh, struct iovec *iov,
                   unsigned *niov, unsigned *nslots)
{
	RING_IDX prod;
	struct netif_offload o;
	int len;

	if (nf->broken)
		return -EPIPE;
	prod = BH_READ_ONCE(nf->rx.sring->hdr.rsp_prod);
	bh_rmb();
	if (netif_rx_front_rsp_overflow(&nf->rx, prod) ||
	    (RING_IDX)(prod - nf->rx.rsp_cons) >
	        (RING_IDX)(nf->rx.req_prod_pvt - nf->rx.rsp_cons)) {
		nf_break(nf, "RX rsp_prod ahead of our requests");
		return -EPIPE;
	}
	rx_copy_new(nf, prod);
	if (!(*nslots = rx_span(nf, prod)))
		return 0;
	len = rx_assemble(nf, *nslots, &o, iov, niov);
	if (len >= 0 && netif_offload_to_vnet(&o, iov[0].iov_base, iov[0].iov_len, vh) < 0)
		len = -EBADMSG;
	if (len < 0) {
		nf->rx.rsp_cons += *nslots;
		nf->st.rx_bad_rsp++;
		nf->st.rx_errors++;
		return -EBADMSG;
	}
	nf->st.rx_packets++;
	nf->st.rx_bytes += (size_t)len;
	return len;
}

int netfront_recv(struct netfront *nf, struct virtio_net_hdr *vh_out, uint8_t *buf, size_t cap)
{
	struct iovec iov[NF_MAX_IOV];
	unsigned niov, nslots;
	size_t off = 0;
	int len = rx_next(nf, vh_out, iov, &niov, &nslots);

	if (len <= 0)
		return len;
	nf->rx.rsp_cons += nslots;
	if ((size_t)len > cap) {
		nf->st.rx_errors++;
		return -EMSGSIZE;
	}
	for (unsigned i = 0; i < niov; i++) {
		memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return len;
}

/* The pump */

static int pump_tx(struct netfront *nf, int tap_fd)
{
	int moved = 0, r;

	netfront_tx_gc(nf);
	while (moved < 64 &&
	       tx_room(nf, XEN_NETBK_LEGACY_SLOTS_MAX + 1, XEN_NETBK_LEGACY_SLOTS_MAX)) {
		if ((r = tx_read_tap(nf, tap_fd)) == 0)
			break;
		moved++;
		if (moved % 16 == 0)
			netfront_flush(nf); /* let the backend start early */
	}
	return moved;
}

/* RX pages go to the TAP with one writev, no bounce buffer. */
static int pump_rx(struct netfront *nf, int tap_fd)
{
	struct virtio_net_hdr vh;
	struct iovec iov[NF_MAX_IOV + 1];
	unsigned niov, nslots;
	int moved = 0, len;

	do {
		while ((len = rx_next(nf, &vh, iov + 1, &niov, &nslots)) != 0) {
			if (len == -EPIPE)
				return -EPIPE;
			if (len > 0) {
				iov[0] = (struct iovec){ &vh, sizeof(vh) };
				if (writev(tap_fd, iov, (int)niov + 1) < 0)
					nf->st.rx_errors++;
				nf->rx.rsp_cons += nslots;
			}
			/* Give the buffers back at once: a 64 KiB packet takes 17
			 * of 256 slots, and netback waits for room while we hand
			 * the previous packets to the guest's stack. Reposting
			 * costs a notification only when netback asked for one. */
			moved++;
			netfront_flush(nf);
		}
	} while (netif_rx_front_final_check(&nf->rx));
	return moved;
}

int netfront_pump(struct netfront *nf, int tap_fd, int timeout_ms)
{
	struct pollfd pf[3] = {
		{ .fd = tap_fd, .events = POLLIN },
		{ .fd = nf->ops.port_fd(nf->ops.ctx, nf->cfg.tx_port), .events = POLLIN },
		{ .fd = nf->ops.port_fd(nf->ops.ctx, nf->cfg.rx_port), .events = POLLIN },
	};
	unsigned n = nf->cfg.rx_port != nf->cfg.tx_port ? 3 : 2;
	int r, tx, rx;

	if (nf->broken)
		return -EPIPE;
	if (netif_tx_front_free(&nf->tx) <= XEN_NETBK_LEGACY_SLOTS_MAX + 1)
		pf[0].events = 0; /* no room: leave packets in the TAP */
	r = poll(pf, n, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	for (unsigned i = 1; i < n; i++)
		if (pf[i].revents & POLLIN)
			nf->ops.port_ack(nf->ops.ctx, i == 1 ? nf->cfg.tx_port : nf->cfg.rx_port);
	tx = pump_tx(nf, tap_fd);
	rx = pump_rx(nf, tap_fd);
	netfront_flush(nf);
	if (rx < 0)
		return rx;
	return tx + rx;
}

unsigned netfront_tap_offloads(uint32_t features)
{
	unsigned f = 0;

	if (!(features & NETFRONT_F_CSUM))
		return 0;
	f |= TUN_F_CSUM;
	if (features & NETFRONT_F_GSO_TCPV4)
		f |= TUN_F_TSO4;
	if (features & NETFRONT_F_GSO_TCPV6)
		f |= TUN_F_TSO6;
	return f;
}
