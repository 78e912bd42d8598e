/* Fuzz target: TX request parsing and serving with hostile requests.
 *
 * Input: byte 0 = how many of the requests to publish (the rest stay
 * unpublished, so half-published packets happen), byte 1 = MTU selector,
 * then 12-byte netif_tx_request records. A gref with the top bit set is
 * replaced by one of the frontend's real grants so that copies succeed.
 * Checked: nothing crashes; every response answers the request in its
 * slot (same id), with a known status; the vif never answers more than
 * was published. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "netback/netbk_testrig.h"

static void check(struct rig *r, const struct netif_tx_request *reqs, unsigned published)
{
	RING_IDX prod = r->tx.sring->hdr.rsp_prod;

	if (prod > published)
		abort();
	for (RING_IDX i = 0; i < prod; i++) {
		struct netif_tx_response rsp = r->tx.sring->ring[i].rsp;

		if (rsp.status != NETIF_RSP_OKAY && rsp.status != NETIF_RSP_ERROR &&
		    rsp.status != NETIF_RSP_DROPPED && rsp.status != NETIF_RSP_NULL)
			abort();
		if (rsp.status != NETIF_RSP_NULL && rsp.id != reqs[i].id)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[70000];
	struct netif_tx_request reqs[NETIF_TX_RING_SIZE];
	struct netbk_vif_config c = { .features = NETBK_F_RX_COPY | NETBK_F_SG | NETBK_F_GSO_TCPV4 |
		                                  NETBK_F_GSO_TCPV6 };
	struct virtio_net_hdr vh;
	struct rig r;
	unsigned n, published;

	if (size < 2)
		return 0;
	n = (unsigned)BH_MIN((size - 2) / sizeof(reqs[0]), (size_t)NETIF_TX_RING_SIZE);
	published = BH_MIN(data[0], n);
	c.mtu = data[1] & 1 ? 9000 : 1500;
	memcpy(reqs, data + 2, n * sizeof(reqs[0]));
	if (rig_init(&r, NULL, &c) < 0)
		abort();
	for (unsigned i = 0; i < RIG_DATA / 2; i++)
		memset(rig_page(&r, i), (int)i, 4096);
	for (unsigned i = 0; i < n; i++) {
		if (reqs[i].gref & 0x80000000u)
			reqs[i].gref = r.data_refs[reqs[i].gref % RIG_DATA];
		r.tx.sring->ring[i].req = reqs[i];
	}
	r.tx.req_prod_pvt = published;
	rig_tx_publish(&r);
	for (int i = 0; i < 4; i++) {
		netback_round(r.nb);
		while (rig_host_read(&r, &vh, buf, sizeof(buf)) >= 0)
			;
	}
	check(&r, reqs, published);
	rig_fini(&r);
	return 0;
}
