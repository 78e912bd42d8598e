/* TX framing: turn a run of copied requests into one packet or a verdict.
 *
 * The layout (protocol-facts §3.3): a first request whose size is the
 * total, extra-info slots while the first (then each extra's MORE flag)
 * says so, then fragments while NETTXF_more_data is set on the previous
 * data slot. Every check here is on the private copy. */
#include "netback/netbk_priv.h"

#include <errno.h>
#include <string.h>

static const struct netif_tx_request *slot(const struct netif_tx_request *ring, uint32_t mask,
                                           RING_IDX i)
{
	return &ring[i & mask];
}

static void fail(struct netbk_txpkt *pkt, const char *why)
{
	if (pkt->status == NETIF_RSP_OKAY) {
		pkt->status = NETIF_RSP_ERROR;
		pkt->why = why;
	}
}

static void take_extra(struct netbk_txpkt *pkt, const struct netif_tx_request *req, bool *more)
{
	struct netif_extra_info ex;

	memcpy(&ex, req, sizeof(ex));
	*more = ex.flags & XEN_NETIF_EXTRA_FLAG_MORE;
	switch (ex.type) {
	case XEN_NETIF_EXTRA_TYPE_GSO:
		if (pkt->off.gso_type)
			fail(pkt, "second GSO extra");
		else if (ex.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
		         ex.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6)
			fail(pkt, "unknown GSO type");
		else if (!ex.u.gso.size)
			fail(pkt, "GSO size 0");
		pkt->off.gso_type = ex.u.gso.type;
		pkt->off.gso_size = ex.u.gso.size;
		break;
	case XEN_NETIF_EXTRA_TYPE_MCAST_ADD:
	case XEN_NETIF_EXTRA_TYPE_MCAST_DEL:
	case XEN_NETIF_EXTRA_TYPE_HASH:
		break; /* understood; no multicast filter or hash here */
	default:
		fail(pkt, "unknown extra type");
	}
}

/* Check the data slots once the whole chain is known. */
static void check_frags(struct netbk_txpkt *pkt, unsigned max_frame)
{
	uint32_t rest = 0;
	unsigned i;

	if (pkt->nfrags > XEN_NETBK_LEGACY_SLOTS_MAX) {
		fail(pkt, "too many slots");
		return;
	}
	for (i = 1; i < pkt->nfrags; i++)
		rest += pkt->frags[i].size;
	if (pkt->total < NETIF_ETH_HLEN)
		fail(pkt, "packet shorter than an Ethernet header");
	else if (rest >= pkt->total)
		fail(pkt, "fragment sizes exceed the total");
	else if (!pkt->off.gso_type && pkt->total > max_frame)
		fail(pkt, "packet larger than the MTU");
	if (pkt->status != NETIF_RSP_OKAY)
		return;
	pkt->frags[0].size = (uint16_t)(pkt->total - rest); /* the first slot's own share */
	for (i = 0; i < pkt->nfrags; i++) {
		if (!pkt->frags[i].size)
			fail(pkt, "zero-length fragment");
		else if ((uint32_t)pkt->frags[i].offset + pkt->frags[i].size > XEN_NETIF_PAGE)
			fail(pkt, "fragment crosses its page");
	}
	if ((pkt->frags[0].flags & NETTXF_csum_blank) && pkt->off.gso_type == 0)
		pkt->off.csum_blank = true;
	if (pkt->off.gso_type)
		pkt->off.csum_blank = true; /* GSO implies a partial checksum */
	pkt->off.data_validated = pkt->frags[0].flags & (NETTXF_data_validated | NETTXF_csum_blank);
}

int netbk_tx_parse(const struct netif_tx_request *ring, uint32_t mask, RING_IDX start,
                   unsigned avail, unsigned max_frame, struct netbk_txpkt *pkt)
{
	const struct netif_tx_request *req;
	unsigned n = 0, limit = mask + 1;
	bool more_extra, more_data;

	memset(pkt, 0, offsetof(struct netbk_txpkt, ids));
	if (avail == 0)
		return -EAGAIN;
	req = slot(ring, mask, start);
	pkt->total = req->size;
	pkt->frags[pkt->nfrags++] = *req;
	pkt->ids[n] = req->id;
	pkt->extra[n++] = false;
	more_extra = req->flags & NETTXF_extra_info;
	more_data = req->flags & NETTXF_more_data;
	while (more_extra) {
		if (n == limit)
			return -EPROTO;
		if (n == avail)
			return -EAGAIN;
		req = slot(ring, mask, start + n);
		pkt->ids[n] = req->id;
		pkt->extra[n++] = true;
		take_extra(pkt, req, &more_extra);
	}
	while (more_data) {
		if (n == limit)
			return -EPROTO;
		if (n == avail)
			return -EAGAIN;
		req = slot(ring, mask, start + n);
		if (pkt->nfrags < XEN_NETBK_LEGACY_SLOTS_MAX)
			pkt->frags[pkt->nfrags] = *req;
		pkt->nfrags++;
		pkt->ids[n] = req->id;
		pkt->extra[n++] = false;
		more_data = req->flags & NETTXF_more_data;
	}
	pkt->nslots = n;
	check_frags(pkt, max_frame);
	return 0;
}
