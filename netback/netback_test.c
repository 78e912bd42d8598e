/* netback: the TX and RX data path against a hand-driven frontend,
 * including hostile ones. Each case builds its own vif (netbk_testrig). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "common/util.h"
#include "netback/netbk_priv.h" /* white-box: the copied-once test swaps the copy op */
#include "netback/netbk_testrig.h"

#define IP_A htonl(0x0a000001)
#define IP_B htonl(0x0a000002)

static uint8_t frame[70000], got[70000];

static void serve(struct rig *r)
{
	for (int i = 0; i < 8 && netback_round(r->nb) > 0; i++)
		;
}

/* Put a frame into TX data pages starting at page p, `per` bytes a slot,
 * and queue its requests (ids id0..). Returns slots used. */
static unsigned put_packet(struct rig *r, const uint8_t *f, size_t len, unsigned p, size_t per,
                           uint16_t id0, uint16_t first_flags)
{
	unsigned n = 0;

	for (size_t off = 0; off < len; off += per, n++) {
		size_t k = BH_MIN(per, len - off);
		uint16_t fl =
		    (uint16_t)((off + k < len ? NETTXF_more_data : 0) | (n == 0 ? first_flags : 0));

		memcpy(rig_page(r, p + n), f + off, k);
		rig_tx_req(r, r->data_refs[p + n], 0, fl, (uint16_t)(id0 + n),
		           (uint16_t)(n == 0 ? len : k));
	}
	return n;
}

/* Expect n responses with this status (extras excepted by the caller). */
static void expect_status(struct rig *r, unsigned n, int16_t status)
{
	struct netif_tx_response rsp[256];

	assert_int_equal(rig_tx_responses(r, rsp, 256), n);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(rsp[i].status, status);
}

/* A good packet still goes through: the vif keeps serving. */
static void expect_still_serving(struct rig *r)
{
	struct virtio_net_hdr vh;
	size_t len = rig_frame_tcp4(frame, 200, IP_A, 9);

	put_packet(r, frame, len, 0, 4096, 500, 0);
	rig_tx_publish(r);
	serve(r);
	expect_status(r, 1, NETIF_RSP_OKAY);
	assert_int_equal(rig_host_read(r, &vh, got, sizeof(got)), (ssize_t)len);
	assert_memory_equal(got, frame, len);
	assert_int_equal(netback_vif_state(r->vif), NETBK_VIF_CONNECTED);
}

static void test_tx_single_and_sg(void **state)
{
	struct rig r;
	struct virtio_net_hdr vh;
	size_t len = rig_frame_tcp4(frame, 9000, IP_A, 1);
	struct netif_tx_response rsp[8];

	assert_int_equal(rig_init(&r, NULL,
	                          &(struct netbk_vif_config){
	                              .features = NETBK_F_RX_COPY | NETBK_F_SG, .mtu = 9000 }),
	                 0);
	/* 9000 bytes in slots of 3000: 3 slots, ids 7, 8, 9 */
	assert_int_equal(put_packet(&r, frame, len, 0, 3000, 7, 0), 3);
	rig_tx_publish(&r);
	serve(&r);
	assert_int_equal(rig_tx_responses(&r, rsp, 8), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(rsp[i].id, 7 + i);
		assert_int_equal(rsp[i].status, NETIF_RSP_OKAY);
	}
	assert_int_equal(rig_host_read(&r, &vh, got, sizeof(got)), (ssize_t)len);
	assert_memory_equal(got, frame, len);
	assert_int_equal(vh.flags, 0);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	rig_fini(&r);
}

static void test_tx_gso_and_csum(void **state)
{
	struct rig r;
	struct virtio_net_hdr vh;
	struct netif_extra_info ex = { .type = XEN_NETIF_EXTRA_TYPE_GSO };
	struct netif_tx_response rsp[32];
	size_t len = rig_frame_tcp4(frame, 20000, IP_A, 2);
	unsigned n = 0;

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	ex.u.gso.size = 1448;
	ex.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
	/* first slot, then the extra, then the other fragments */
	memcpy(rig_page(&r, 0), frame, 4096);
	rig_tx_req(&r, r.data_refs[0], 0, NETTXF_more_data | NETTXF_extra_info | NETTXF_csum_blank,
	           1, (uint16_t)len);
	rig_tx_extra(&r, &ex);
	for (size_t off = 4096; off < len; off += 4096) {
		size_t k = BH_MIN((size_t)4096, len - off);

		n++;
		memcpy(rig_page(&r, n), frame + off, k);
		rig_tx_req(&r, r.data_refs[n], 0, off + k < len ? NETTXF_more_data : 0,
		           (uint16_t)(1 + n), (uint16_t)k);
	}
	rig_tx_publish(&r);
	serve(&r);
	assert_int_equal(rig_tx_responses(&r, rsp, 32), n + 2);
	assert_int_equal(rsp[0].status, NETIF_RSP_OKAY);
	assert_int_equal(rsp[1].status, NETIF_RSP_NULL); /* the extra slot */
	for (unsigned i = 2; i < n + 2; i++)
		assert_int_equal(rsp[i].status, NETIF_RSP_OKAY);
	assert_int_equal(rig_host_read(&r, &vh, got, sizeof(got)), (ssize_t)len);
	assert_memory_equal(got, frame, len);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(vh.gso_size, 1448);
	assert_int_equal(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(vh.csum_start, 34);
	assert_int_equal(vh.csum_offset, 16);
	assert_int_equal(vh.hdr_len, 54);
	/* csum_blank alone: NEEDS_CSUM, no GSO */
	len = rig_frame_tcp4(frame, 300, IP_A, 3);
	put_packet(&r, frame, len, 0, 4096, 40, NETTXF_csum_blank);
	rig_tx_publish(&r);
	serve(&r);
	expect_status(&r, 1, NETIF_RSP_OKAY);
	assert_int_equal(rig_host_read(&r, &vh, got, sizeof(got)), (ssize_t)len);
	assert_int_equal(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(vh.gso_type, 0);
	rig_fini(&r);
}

/* Hostile TX: each case is answered with ERROR on every slot, then a good
 * packet still passes. */
static void hostile(void (*queue)(struct rig *), unsigned slots)
{
	struct rig r;
	struct netbk_vif_stats st;
	struct virtio_net_hdr vh;

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	queue(&r);
	rig_tx_publish(&r);
	serve(&r);
	expect_status(&r, slots, NETIF_RSP_ERROR);
	assert_int_equal(rig_host_read(&r, &vh, got, sizeof(got)), -1); /* nothing sent */
	netback_vif_stats(r.vif, &st);
	assert_int_equal(st.tx_errors, 1);
	expect_still_serving(&r);
	rig_fini(&r);
}

static void q_zero_frag(struct rig *r)
{
	rig_frame_tcp4(frame, 1000, IP_A, 4);
	memcpy(rig_page(r, 0), frame, 1000);
	rig_tx_req(r, r->data_refs[0], 0, NETTXF_more_data, 1, 1000);
	rig_tx_req(r, r->data_refs[1], 0, NETTXF_more_data, 2, 0);
	rig_tx_req(r, r->data_refs[2], 0, 0, 3, 100);
}

static void test_tx_zero_length_fragment(void **state)
{
	hostile(q_zero_frag, 3);
}

static void q_cross_page(struct rig *r)
{
	rig_frame_tcp4(frame, 1000, IP_A, 4);
	rig_tx_req(r, r->data_refs[0], 3500, 0, 1, 1000); /* 3500 + 1000 > 4096 */
}

static void test_tx_fragment_crossing_page(void **state)
{
	hostile(q_cross_page, 1);
}

static void q_too_many(struct rig *r)
{
	/* 19 data slots: one more than XEN_NETBK_LEGACY_SLOTS_MAX */
	rig_tx_req(r, r->data_refs[0], 0, NETTXF_more_data, 0, 19 * 100);
	for (uint16_t i = 1; i < 19; i++)
		rig_tx_req(r, r->data_refs[i], 0, i < 18 ? NETTXF_more_data : 0, i, 100);
}

static void test_tx_too_many_slots(void **state)
{
	hostile(q_too_many, 19);
}

static void q_size_mismatch(struct rig *r)
{
	/* the fragments after the first add up to more than the total */
	rig_tx_req(r, r->data_refs[0], 0, NETTXF_more_data, 1, 500);
	rig_tx_req(r, r->data_refs[1], 0, NETTXF_more_data, 2, 400);
	rig_tx_req(r, r->data_refs[2], 0, 0, 3, 400);
}

static void test_tx_total_disagrees(void **state)
{
	hostile(q_size_mismatch, 3);
}

static void q_tiny_slots(struct rig *r)
{
	/* 60 bytes in 60 one-byte slots */
	rig_tx_req(r, r->data_refs[0], 0, NETTXF_more_data, 0, 60);
	for (uint16_t i = 1; i < 60; i++)
		rig_tx_req(r, r->data_refs[i % 32], i, i < 59 ? NETTXF_more_data : 0, i, 1);
}

static void test_tx_many_tiny_slots(void **state)
{
	hostile(q_tiny_slots, 60);
}

static void q_bad_gref(struct rig *r)
{
	rig_tx_req(r, 7777, 0, 0, 1, 100); /* never granted */
}

static void test_tx_bad_grant_ref(void **state)
{
	hostile(q_bad_gref, 1);
}

static void q_short(struct rig *r)
{
	memset(rig_page(r, 0), 0xaa, 64);
	rig_tx_req(r, r->data_refs[0], 0, 0, 1, 6); /* not even an Ethernet header */
}

static void test_tx_runt(void **state)
{
	hostile(q_short, 1);
}

static void test_tx_unknown_extra(void **state)
{
	struct rig r;
	struct netif_extra_info ex = { .type = 9 };
	struct netif_tx_response rsp[4];

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	rig_frame_tcp4(frame, 100, IP_A, 5);
	memcpy(rig_page(&r, 0), frame, 100);
	rig_tx_req(&r, r.data_refs[0], 0, NETTXF_extra_info, 1, 100);
	rig_tx_extra(&r, &ex);
	rig_tx_publish(&r);
	serve(&r);
	assert_int_equal(rig_tx_responses(&r, rsp, 4), 2);
	assert_int_equal(rsp[0].status, NETIF_RSP_ERROR);
	assert_int_equal(rsp[1].status, NETIF_RSP_NULL);
	expect_still_serving(&r);
	rig_fini(&r);
}

/* Requests are copied once: the frontend rewriting the ring while the
 * backend copies the data changes nothing. The hook runs inside the grant
 * copy, i.e. after the backend has parsed the packet. */
static struct netbk_gntmap_ops real_ops;
static struct rig *hook_rig;

static unsigned hook_calls;

static void scribble_ring(void)
{
	for (unsigned i = 0; i < NETIF_TX_RING_SIZE; i++) {
		struct netif_tx_request *q = &hook_rig->tx.sring->ring[i].req;

		q->size = 60000;
		q->offset = 4000;
		q->gref = 5;
		q->flags = NETTXF_more_data;
		q->id = 999;
	}
	hook_calls++;
}

static int evil_copy(void *ctx, uint16_t domid, bool to_grant, struct netbk_gntcopy_seg *s,
                     unsigned n)
{
	scribble_ring();
	return real_ops.copy(real_ops.ctx, domid, to_grant, s, n);
}

static int evil_pages(void *ctx, uint16_t domid, bool writable, const uint32_t *refs, unsigned n,
                      uint8_t **out)
{
	scribble_ring();
	return real_ops.pages(real_ops.ctx, domid, writable, refs, n, out);
}

/* Both data paths: grant copies (ops without pages) and in place. */
static void tx_copied_once(bool in_place)
{
	struct rig r;
	struct virtio_net_hdr vh;
	struct netif_tx_response rsp[4];
	size_t len = rig_frame_tcp4(frame, 1400, IP_A, 6);

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	hook_rig = &r;
	hook_calls = 0;
	real_ops = r.bops;
	/* white-box: swap the engine's data ops */
	r.nb->ops.copy = evil_copy;
	r.nb->ops.pages = in_place ? evil_pages : NULL;
	put_packet(&r, frame, len, 0, 1000, 11, 0);
	rig_tx_publish(&r);
	netback_round(r.nb);
	assert_int_equal(rig_tx_responses(&r, rsp, 4), 2);
	assert_int_equal(rsp[0].id, 11);
	assert_int_equal(rsp[1].id, 12);
	assert_int_equal(rsp[0].status, NETIF_RSP_OKAY);
	assert_int_equal(rig_host_read(&r, &vh, got, sizeof(got)), (ssize_t)len);
	assert_memory_equal(got, frame, len);
	assert_int_equal(hook_calls, 1);
	rig_fini(&r);
}

static void test_tx_requests_copied_once(void **state)
{
	tx_copied_once(false);
}

static void test_tx_requests_copied_once_in_place(void **state)
{
	tx_copied_once(true);
}

/* A frontend whose req_prod runs more than a ring ahead is stopped; a
 * second vif on the same backend goes on. */
static void on_broken(void *arg, struct netbk_vif *vif, const char *why)
{
	*(struct netbk_vif **)arg = vif;
}

static void test_tx_req_prod_overflow(void **state)
{
	struct rig a, b;
	struct netbk_vif *reported = NULL;

	assert_int_equal(rig_init(&a, NULL, NULL), 0);
	assert_int_equal(rig_init(&b, &a, NULL), 0);
	netback_set_broken_cb(a.nb, on_broken, &reported);
	a.tx.sring->hdr.req_prod = NETIF_TX_RING_SIZE + 5;
	netback_round(a.nb);
	assert_int_equal(netback_vif_state(a.vif), NETBK_VIF_BROKEN);
	assert_ptr_equal(reported, a.vif);             /* reported to the control path */
	assert_int_equal(a.tx.sring->hdr.rsp_prod, 0); /* nothing answered */
	expect_still_serving(&b);
	rig_fini(&b);
	rig_fini(&a);
}

static void test_tx_half_published_packet_waits(void **state)
{
	struct rig r;
	struct netif_tx_response rsp[4];
	size_t len = rig_frame_tcp4(frame, 1400, IP_A, 7);

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	put_packet(&r, frame, len, 0, 1000, 1, 0);
	r.tx.req_prod_pvt--; /* publish only the first slot */
	rig_tx_publish(&r);
	serve(&r);
	assert_int_equal(rig_tx_responses(&r, rsp, 4), 0);
	assert_int_equal(r.tx.sring->hdr.req_event, 2); /* wake me at the next slot */
	r.tx.req_prod_pvt++;
	rig_tx_publish(&r);
	serve(&r);
	expect_status(&r, 2, NETIF_RSP_OKAY);
	rig_fini(&r);
}

/* Anti-spoofing: only the allowed source IPv4 / ARP sender passes. */
static void send_expect(struct rig *r, size_t len, int16_t status)
{
	put_packet(r, frame, len, 0, 4096, 1, 0);
	rig_tx_publish(r);
	serve(r);
	expect_status(r, 1, status);
}

static void test_tx_antispoof(void **state)
{
	struct rig r;
	struct netbk_vif_stats st;
	struct virtio_net_hdr vh;
	struct netbk_vif_config c = { .features = NETBK_F_RX_COPY, .ips = { IP_A }, .nr_ips = 1 };

	assert_int_equal(rig_init(&r, NULL, &c), 0);
	send_expect(&r, rig_frame_tcp4(frame, 100, IP_B, 1), NETIF_RSP_DROPPED);
	send_expect(&r, rig_frame_arp(frame, IP_B), NETIF_RSP_DROPPED);
	send_expect(&r, rig_frame_tcp4(frame, 100, IP_A, 1), NETIF_RSP_OKAY);
	send_expect(&r, rig_frame_arp(frame, IP_A), NETIF_RSP_OKAY);
	send_expect(&r, rig_frame_ipv6(frame, 80), NETIF_RSP_OKAY);
	netback_vif_stats(r.vif, &st);
	assert_int_equal(st.tx_spoofed, 2);
	assert_int_equal(st.tx_packets, 3);
	for (int i = 0; i < 3; i++)
		assert_true(rig_host_read(&r, &vh, got, sizeof(got)) > 0);
	assert_int_equal(rig_host_read(&r, &vh, got, sizeof(got)), -1);
	rig_fini(&r);
}

static void test_tx_mtu(void **state)
{
	struct rig r;
	struct netbk_vif_config c = { .features = NETBK_F_RX_COPY | NETBK_F_SG, .mtu = 1500 };

	assert_int_equal(rig_init(&r, NULL, &c), 0);
	send_expect(&r, rig_frame_tcp4(frame, 1514, IP_A, 1), NETIF_RSP_OKAY);
	put_packet(&r, frame, rig_frame_tcp4(frame, 1600, IP_A, 1), 0, 4096, 1, 0);
	rig_tx_publish(&r);
	serve(&r);
	expect_status(&r, 1, NETIF_RSP_ERROR);
	rig_fini(&r);
}

/* RX: a response in the slot of its request, with its id; flags in the RX
 * bit order; a GSO extra after the first response. */
static int counting_copy(void *ctx, uint16_t domid, bool to_grant, struct netbk_gntcopy_seg *s,
                         unsigned n)
{
	hook_calls++;
	return real_ops.copy(real_ops.ctx, domid, to_grant, s, n);
}

static void rx_placement_and_flags(unsigned posted)
{
	struct rig r;
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		                     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		                     .gso_size = 1400,
		                     .csum_start = 34,
		                     .csum_offset = 16 };
	size_t len = rig_frame_tcp4(frame, 10000, IP_B, 8);
	struct netif_rx_response rsp[8];
	struct netif_extra_info ex;

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	r.vif->rx_warm_left = 0; /* in place from the first packet */
	real_ops = r.bops;
	hook_calls = 0;
	r.nb->ops.copy = counting_copy; /* white-box: which path placed it */
	rig_rx_post(&r, posted, 100);
	assert_int_equal(rig_host_write(&r, &vh, frame, len), 0);
	serve(&r);
	if (posted >= 17)
		assert_int_equal(hook_calls, 0); /* read in place */
	else
		assert_int_equal(hook_calls, 3); /* a grant copy per data slot */
	/* 10000 bytes: 3 data slots + 1 extra */
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 4);
	for (int i = 0; i < 4; i++)
		rsp[i] = r.rx.sring->ring[i].rsp;
	assert_int_equal(rsp[0].id, 100);
	assert_int_equal(rsp[0].status, 4096);
	assert_int_equal(rsp[0].flags, NETRXF_more_data | NETRXF_extra_info | NETRXF_csum_blank |
	                                   NETRXF_data_validated);
	memcpy(&ex, &rsp[1], sizeof(ex));
	assert_int_equal(ex.type, XEN_NETIF_EXTRA_TYPE_GSO);
	assert_int_equal(ex.u.gso.size, 1400);
	assert_int_equal(ex.u.gso.type, XEN_NETIF_GSO_TYPE_TCPV4);
	assert_int_equal(rsp[2].id, 102);
	assert_int_equal(rsp[2].status, 4096);
	assert_int_equal(rsp[2].flags, NETRXF_more_data);
	assert_int_equal(rsp[3].id, 103);
	assert_int_equal(rsp[3].status, 10000 - 8192);
	assert_int_equal(rsp[3].flags, 0);
	/* data: slot 0 -> page RIG_DATA/2, slot 2 -> +2, slot 3 -> +3 */
	assert_memory_equal(rig_page(&r, RIG_DATA / 2), frame, 4096);
	assert_memory_equal(rig_page(&r, RIG_DATA / 2 + 2), frame + 4096, 4096);
	assert_memory_equal(rig_page(&r, RIG_DATA / 2 + 3), frame + 8192, 10000 - 8192);
	rig_fini(&r);
}

/* Fewer requests posted than the largest packet takes: copied in. */
static void test_rx_placement_and_flags(void **state)
{
	rx_placement_and_flags(8);
}

/* Enough posted: read from the device straight into the buffers. */
static void test_rx_placement_and_flags_in_place(void **state)
{
	rx_placement_and_flags(RIG_DATA / 2);
}

/* In place, a packet larger than a page without GSO (a jumbo frame) still
 * takes consecutive requests, and a small one the first. */
static void test_rx_in_place_no_gso(void **state)
{
	struct rig r;
	struct virtio_net_hdr vh = { 0 };
	size_t len = rig_frame_tcp4(frame, 9000, IP_B, 3), small;
	struct netif_rx_response rsp[4];

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	rig_rx_post(&r, RIG_DATA / 2, 200);
	assert_int_equal(rig_host_write(&r, &vh, frame, len), 0);
	serve(&r);
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 3);
	for (int i = 0; i < 3; i++) {
		rsp[i] = r.rx.sring->ring[i].rsp;
		assert_int_equal(rsp[i].id, 200 + i);
		assert_memory_equal(rig_page(&r, RIG_DATA / 2 + i), frame + i * 4096,
		                    BH_MIN(len - (size_t)i * 4096, (size_t)4096));
	}
	assert_int_equal(rsp[0].status, 4096);
	assert_int_equal(rsp[0].flags, NETRXF_more_data);
	assert_int_equal(rsp[1].flags, NETRXF_more_data);
	assert_int_equal(rsp[2].status, (int)(len - 8192));
	assert_int_equal(rsp[2].flags, 0);
	/* the next packet, 100 bytes, in the next request */
	rig_rx_post(&r, 3, 300);
	small = rig_frame_tcp4(frame, 100, IP_B, 4);
	assert_int_equal(rig_host_write(&r, &vh, frame, small), 0);
	serve(&r);
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 4);
	rsp[3] = r.rx.sring->ring[3].rsp;
	assert_int_equal(rsp[3].id, 203);
	assert_int_equal(rsp[3].status, (int)small);
	assert_memory_equal(rig_page(&r, RIG_DATA / 2 + 3), frame, small);
	rig_fini(&r);
}

/* The first packets after connect (rx_warm_left) go by the copying path,
 * a page each rather than RX in place's RX_SLOTS, and each is pushed to
 * the frontend before the next one is placed; then RX in place. */
static struct rig *warm_rig;
static unsigned warm_seen_prod[4];

static int warm_copy(void *ctx, uint16_t domid, bool to_grant, struct netbk_gntcopy_seg *s,
                     unsigned n)
{
	if (hook_calls < 4)
		warm_seen_prod[hook_calls] = warm_rig->rx.sring->hdr.rsp_prod;
	hook_calls++;
	return real_ops.copy(real_ops.ctx, domid, to_grant, s, n);
}

static void test_rx_warm_up(void **state)
{
	struct rig r;
	size_t len = rig_frame_tcp4(frame, 200, IP_B, 5);

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	assert_int_equal(r.vif->rx_warm_left, NETBK_RX_WARM); /* a new vif warms up */
	r.vif->rx_warm_left = 2;
	real_ops = r.bops;
	hook_calls = 0;
	warm_rig = &r;
	r.nb->ops.copy = warm_copy;
	rig_rx_post(&r, 30, 100);
	for (int i = 0; i < 3; i++)
		assert_int_equal(rig_host_write(&r, NULL, frame, len), 0);
	serve(&r);
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 3);
	assert_int_equal(hook_calls, 2); /* two copied; the third read in place */
	assert_int_equal(warm_seen_prod[0], 0);
	assert_int_equal(warm_seen_prod[1], 1); /* the first was out before the second */
	assert_int_equal(r.vif->rx_warm_left, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r.rx.sring->ring[i].rsp.id, 100 + i);
		assert_int_equal(r.rx.sring->ring[i].rsp.status, (int)len);
		assert_memory_equal(rig_page(&r, RIG_DATA / 2 + i), frame, len);
	}
	rig_fini(&r);
}

/* ops->prefetch: a batch of TX requests is offered as read-only refs
 * from netback's own copy, during the first NETBK_TX_PREFETCH requests;
 * RX, warming up, offers the first NETBK_RX_WARM_PREFETCH posted buffers
 * as writable refs before the first packet is placed, and the next ones
 * when a round has used those up and has more than one packet; the data
 * still moves through the pages and copy paths. */
static struct {
	unsigned rx_calls, tx_calls, tx_n, rx_n;
	uint32_t tx_refs[8], rx_refs[NETBK_RX_WARM_PREFETCH];
	struct rig *rig;
	RING_IDX rx_rsp_prod; /* the RX responses published at the last RX offer */
} pf;

static void rec_prefetch(void *ctx, uint16_t domid, bool writable, const uint32_t *refs, unsigned n)
{
	if (writable) {
		pf.rx_calls++;
		pf.rx_n = n;
		pf.rx_rsp_prod = pf.rig->rx.sring->hdr.rsp_prod;
		memcpy(pf.rx_refs, refs,
		       BH_MIN(n, (unsigned)NETBK_RX_WARM_PREFETCH) * sizeof(refs[0]));
		return;
	}
	pf.tx_calls++;
	pf.tx_n = n;
	memcpy(pf.tx_refs, refs, BH_MIN(n, 8u) * sizeof(refs[0]));
}

static void test_prefetch_hints(void **state)
{
	struct rig r;
	struct virtio_net_hdr vh = { 0 };
	size_t len = rig_frame_tcp4(frame, 200, IP_A, 9);

	memset(&pf, 0, sizeof(pf));
	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	pf.rig = &r;
	r.nb->ops.prefetch = rec_prefetch;
	/* two packets published together: one batch of their two refs */
	put_packet(&r, frame, len, 0, 4096, 10, 0);
	put_packet(&r, frame, len, 1, 4096, 11, 0);
	rig_tx_publish(&r);
	serve(&r);
	assert_int_equal(pf.tx_calls, 1);
	assert_int_equal(pf.tx_n, 2);
	assert_int_equal(pf.tx_refs[0], r.data_refs[0]);
	assert_int_equal(pf.tx_refs[1], r.data_refs[1]);
	expect_status(&r, 2, NETIF_RSP_OKAY);
	assert_int_equal(rig_host_read(&r, &vh, got, sizeof(got)), (ssize_t)len);
	assert_memory_equal(got, frame, len);
	/* one packet alone: nothing to batch */
	put_packet(&r, frame, len, 2, 4096, 12, 0);
	rig_tx_publish(&r);
	serve(&r);
	assert_int_equal(pf.tx_calls, 1);
	expect_status(&r, 1, NETIF_RSP_OKAY);
	/* RX warming up: the first NETBK_RX_WARM_FIRST posted buffers,
	 * offered before the first packet is placed (none of the round's
	 * three is out yet) */
	assert_int_equal(pf.rx_calls, 0); /* nothing posted in the TX rounds */
	rig_rx_post(&r, 40, 100);
	len = rig_frame_tcp4(frame, 100, IP_B, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(rig_host_write(&r, &vh, frame, len), 0);
	serve(&r);
	assert_int_equal(pf.rx_calls, 1);
	assert_int_equal(pf.rx_n, NETBK_RX_WARM_FIRST);
	assert_int_equal(pf.rx_rsp_prod, 0);
	for (int i = 0; i < NETBK_RX_WARM_FIRST; i++)
		assert_int_equal(pf.rx_refs[i], r.data_refs[RIG_DATA / 2 + i]);
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 3);
	assert_memory_equal(rig_page(&r, RIG_DATA / 2 + 2), frame, len);
	/* those cover the first four; the 5th, the round's second packet,
	 * offers the next 16 from itself on (the round's first went alone) */
	for (int i = 0; i < 3; i++)
		assert_int_equal(rig_host_write(&r, &vh, frame, len), 0);
	serve(&r);
	assert_int_equal(pf.rx_calls, 2);
	assert_int_equal(pf.rx_n, NETBK_RX_WARM_PREFETCH);
	assert_int_equal(pf.rx_rsp_prod, 4);
	for (int i = 0; i < NETBK_RX_WARM_PREFETCH; i++)
		assert_int_equal(pf.rx_refs[i], r.data_refs[RIG_DATA / 2 + 4 + i]);
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 6);
	/* warm no more: nothing is offered ahead */
	r.vif->rx_warm_left = 0;
	assert_int_equal(rig_host_write(&r, &vh, frame, len), 0);
	serve(&r);
	assert_int_equal(pf.rx_calls, 2);
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 7);
	rig_fini(&r);
}

static void test_rx_gso_needs_feature(void **state)
{
	struct rig r;
	struct netbk_vif_stats st;
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		                     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		                     .gso_size = 1400,
		                     .csum_start = 34,
		                     .csum_offset = 16 };
	size_t len = rig_frame_tcp4(frame, 5000, IP_B, 8);

	assert_int_equal(
	    rig_init(&r, NULL,
	             &(struct netbk_vif_config){ .features = NETBK_F_RX_COPY | NETBK_F_SG }),
	    0);
	rig_rx_post(&r, 8, 0);
	assert_int_equal(rig_host_write(&r, &vh, frame, len), 0);
	serve(&r);
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 0);
	netback_vif_stats(r.vif, &st);
	assert_int_equal(st.rx_dropped, 1);
	rig_fini(&r);
}

/* With an RX wait set, too few buffers for the largest packet leave the
 * packet in the device (nothing copied, nothing queued) and ask the
 * frontend for a notification at 17 posted; once posted it goes in place. */
static void test_rx_waits_for_buffers(void **state)
{
	struct rig r;
	struct netbk_vif_stats st;
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		                     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		                     .gso_size = 1400,
		                     .csum_start = 34,
		                     .csum_offset = 16 };
	size_t len = rig_frame_tcp4(frame, 10000, IP_B, 8);

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	r.vif->rx_warm_left = 0; /* in place from the first packet */
	netback_set_rx_wait(r.nb, 10000);
	rig_rx_post(&r, 8, 100);
	assert_int_equal(rig_host_write(&r, &vh, frame, len), 0);
	serve(&r);
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 0);
	assert_true(netback_vif_rx_blocked(r.vif));
	assert_int_equal(r.rx.sring->hdr.req_event, 17);
	netback_vif_stats(r.vif, &st);
	assert_int_equal(st.rx_queued, 0);
	/* the notification the frontend gets to send, and its buffers */
	rig_rx_post(&r, 9, 108);
	serve(&r);
	assert_false(netback_vif_rx_blocked(r.vif));
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 4);
	assert_int_equal(r.rx.sring->ring[0].rsp.id, 100);
	assert_int_equal(r.rx.sring->ring[3].rsp.status, 10000 - 8192);
	assert_memory_equal(rig_page(&r, RIG_DATA / 2 + 3), frame + 8192, 10000 - 8192);
	rig_fini(&r);
}

/* A frontend still short of buffers when the wait is over gets the
 * bounded queue, as without a wait. */
static void test_rx_wait_ends(void **state)
{
	struct rig r;
	struct netbk_vif_stats st;
	size_t len = rig_frame_tcp4(frame, 1000, IP_B, 9);

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	r.vif->rx_warm_left = 0; /* in place from the first packet */
	netback_set_rx_wait(r.nb, 20);
	for (int i = 0; i < 5; i++)
		assert_int_equal(rig_host_write(&r, NULL, frame, len), 0);
	serve(&r);
	assert_true(netback_vif_rx_blocked(r.vif));
	netback_vif_stats(r.vif, &st);
	assert_int_equal(st.rx_queued, 0);
	usleep(30000);
	serve(&r);
	assert_false(netback_vif_rx_blocked(r.vif));
	netback_vif_stats(r.vif, &st);
	assert_int_equal(st.rx_queued, 5);
	rig_rx_post(&r, 5, 0);
	serve(&r);
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 5);
	rig_fini(&r);
}

/* A frontend that posts no RX buffers: packets are queued up to a bound,
 * then dropped; memory stays bounded; buffers posted later get the
 * queued packets. */
static void test_rx_no_buffers_bounded(void **state)
{
	struct rig r;
	struct netbk_vif_stats st;
	size_t len = rig_frame_tcp4(frame, 1000, IP_B, 9);
	unsigned sent = 0;

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	for (int round = 0; round < 100; round++) {
		for (int i = 0; i < 50; i++)
			if (rig_host_write(&r, NULL, frame, len) == 0)
				sent++;
		serve(&r);
		netback_vif_stats(r.vif, &st);
		assert_true(st.rx_queued <= NETBK_RXQ_MAX_PKTS);
		assert_true(st.rx_queued_bytes <= NETBK_RXQ_MAX_BYTES);
	}
	assert_int_equal(sent, 5000);
	netback_vif_stats(r.vif, &st);
	assert_int_equal(st.rx_queued, NETBK_RXQ_MAX_PKTS);
	assert_int_equal(st.rx_dropped, 5000 - NETBK_RXQ_MAX_PKTS);
	rig_rx_post(&r, 16, 0);
	serve(&r);
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 16);
	netback_vif_stats(r.vif, &st);
	assert_int_equal(st.rx_packets, 16);
	rig_fini(&r);
}

/* The backend as a driver domain runs it with no timer: only when its
 * event channel fired, then rounds until nothing moves. True if kicked. */
static bool serve_if_kicked(struct rig *r, uint32_t be_port)
{
	struct pollfd pf = { .fd = r->bops.port_fd(r->bops.ctx, be_port), .events = POLLIN };

	if (poll(&pf, 1, 0) != 1)
		return false;
	r->bops.port_ack(r->bops.ctx, be_port);
	while (netback_round(r->nb) > 0)
		;
	return true;
}

/* A frontend that notifies only as req_event asks (RING_PUSH_REQUESTS_AND_
 * CHECK_NOTIFY) gets every packet served at once, never left for a timer:
 * netback re-arms req_event whenever it runs dry, also after stopping on
 * its budget (1 here) with work left. */
static void test_tx_served_by_notifications_alone(void **state)
{
	struct rig r;
	struct virtio_net_hdr vh;
	struct netif_tx_response rsp[256];
	unsigned sent = 0, kicks = 0, answered = 0, delivered = 0;
	uint16_t id = 0;

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	netback_set_budget(r.nb, 1);
	for (int it = 0; it < 120; it++) {
		unsigned batch = 1 + (unsigned)it % 4; /* 1..4 packets a push */

		for (unsigned k = 0; k < batch; k++, sent++) {
			size_t len = rig_frame_tcp4(frame, 300 + sent % 700, IP_A, (uint8_t)sent);

			put_packet(&r, frame, len, sent % (RIG_DATA / 2), 4096, id++, 0);
		}
		if (netif_tx_front_push(&r.tx))
			memgnt_notify(r.m, r.fe_tx_port);
		kicks += serve_if_kicked(&r, r.be_tx_port);
		answered += rig_tx_responses(&r, rsp, 256);
		/* everything published so far is answered and on the device */
		assert_int_equal(answered, sent);
		while (rig_host_read(&r, &vh, got, sizeof(got)) > 0)
			delivered++;
		assert_int_equal(delivered, sent);
	}
	assert_int_equal(kicks, 120); /* one notification per push: none missed */
	rig_fini(&r);
}

/* RX: packets wait for buffers; a frontend posting buffers one at a time
 * and notifying only as req_event asks gets each packet as soon as its
 * buffers are there (a 6000-byte one needs two: no kick for the first). */
static void test_rx_buffers_posted_by_notifications_alone(void **state)
{
	struct rig r;
	struct netbk_vif_stats st;
	size_t small = rig_frame_tcp4(frame, 1000, IP_B, 3);
	unsigned kicks = 0;

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(rig_host_write(&r, NULL, frame, small), 0);
	small = rig_frame_tcp4(frame, 6000, IP_B, 4);
	assert_int_equal(rig_host_write(&r, NULL, frame, small), 0);
	while (netback_round(r.nb) > 0)
		;
	netback_vif_stats(r.vif, &st);
	assert_int_equal(st.rx_queued, 11);
	for (unsigned i = 0; i < 12; i++) {
		struct netif_rx_request *q = netif_rx_front_req_slot(&r.rx, r.rx.req_prod_pvt++);

		q->id = (uint16_t)i;
		q->gref = r.data_refs[RIG_DATA / 2 + i];
		if (netif_rx_front_push(&r.rx))
			memgnt_notify(r.m, r.fe_rx_port);
		kicks += serve_if_kicked(&r, r.be_rx_port);
		/* slots answered: every buffer posted, but the big packet's first */
		assert_int_equal(BH_READ_ONCE(r.rx.sring->hdr.rsp_prod), i == 10 ? 10 : i + 1);
	}
	assert_int_equal(kicks, 11);
	netback_vif_stats(r.vif, &st);
	assert_int_equal(st.rx_packets, 11);
	assert_int_equal(st.rx_queued, 0);
	rig_fini(&r);
}

/* A flood on one vif does not starve another: per-vif budget, round robin. */
static void test_fair_round_robin(void **state)
{
	struct rig a, b;
	struct netif_tx_response rsp[256];
	size_t len = rig_frame_tcp4(frame, 100, IP_A, 10);

	assert_int_equal(rig_init(&a, NULL, NULL), 0);
	assert_int_equal(rig_init(&b, &a, NULL), 0);
	netback_set_budget(a.nb, 16);
	memcpy(rig_page(&a, 0), frame, len);
	for (int i = 0; i < 250; i++)
		rig_tx_req(&a, a.data_refs[0], 0, 0, (uint16_t)i, (uint16_t)len);
	rig_tx_publish(&a);
	for (int i = 0; i < 1000; i++)
		memgnt_notify(a.m, a.fe_tx_port); /* a notification storm */
	put_packet(&b, frame, len, 0, 4096, 1, 0);
	put_packet(&b, frame, len, 1, 4096, 2, 0);
	rig_tx_publish(&b);
	netback_round(a.nb);
	assert_int_equal(rig_tx_responses(&b, rsp, 256), 2);
	assert_int_equal(rig_tx_responses(&a, rsp, 256), 16);
	/* netback_poll finishes a's backlog in more rounds */
	for (int i = 0; i < 50 && a.tx.sring->hdr.rsp_prod != 250; i++)
		netback_poll(a.nb, 0);
	assert_int_equal(a.tx.sring->hdr.rsp_prod, 250);
	rig_fini(&b);
	rig_fini(&a);
}

/* Credit-based rate limit: throughput within 10% of the setting. */
static void test_tx_rate_limit(void **state)
{
	const uint64_t rate = 2000000; /* bytes per second: a window fits the socket buffer */
	struct netbk_vif_config c = { .features = NETBK_F_RX_COPY | NETBK_F_SG,
		                      .rate_bytes = rate / 20,
		                      .rate_usec = 50000 }; /* xl's default window */
	struct rig r;
	struct virtio_net_hdr vh;
	struct netif_tx_response rsp[256];
	size_t len = rig_frame_tcp4(frame, 1500, IP_A, 11);
	uint64_t bytes = 0, t0, t;
	unsigned inflight = 0;
	uint16_t id = 0;
	ssize_t n;

	assert_int_equal(rig_init(&r, NULL, &c), 0);
	memcpy(rig_page(&r, 0), frame, len);
	t0 = bh_now_ns();
	do {
		while (inflight < 200) {
			rig_tx_req(&r, r.data_refs[0], 0, 0, id++, (uint16_t)len);
			inflight++;
		}
		rig_tx_publish(&r);
		netback_poll(r.nb, 50);
		inflight -= rig_tx_responses(&r, rsp, 256);
		while ((n = rig_host_read(&r, &vh, got, sizeof(got))) > 0)
			bytes += (uint64_t)n;
		t = bh_now_ns();
	} while (t - t0 < 1500000000ull);
	double measured = (double)bytes * 1e9 / (double)(t - t0);
	print_message("rate %.0f B/s for a setting of %llu B/s\n", measured,
	              (unsigned long long)rate);
	assert_true(measured > 0.9 * (double)rate && measured < 1.1 * (double)rate);
	rig_fini(&r);
}

/* RX into a buffer the frontend never granted: ERROR in that response,
 * and the next packet into good buffers is fine. */
static void test_rx_bad_grant(void **state)
{
	struct rig r;
	struct netbk_vif_stats st;
	size_t len = rig_frame_tcp4(frame, 300, IP_B, 12);
	struct netif_rx_request *q;

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	q = netif_rx_front_req_slot(&r.rx, r.rx.req_prod_pvt++);
	q->id = 77;
	q->gref = 7777;
	netif_rx_front_push(&r.rx);
	assert_int_equal(rig_host_write(&r, NULL, frame, len), 0);
	serve(&r);
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 1);
	assert_int_equal(r.rx.sring->ring[0].rsp.id, 77);
	assert_int_equal(r.rx.sring->ring[0].rsp.status, NETIF_RSP_ERROR);
	rig_rx_post(&r, 1, 5);
	assert_int_equal(rig_host_write(&r, NULL, frame, len), 0);
	serve(&r);
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 2);
	assert_int_equal(r.rx.sring->ring[1].rsp.status, (int16_t)len);
	netback_vif_stats(r.vif, &st);
	assert_int_equal(st.rx_errors, 1);
	assert_int_equal(st.rx_packets, 1);
	rig_fini(&r);
}

/* RX req_prod more than a ring ahead: stopped, like TX. */
static void test_rx_req_prod_overflow(void **state)
{
	struct rig r;
	size_t len = rig_frame_tcp4(frame, 300, IP_B, 14);

	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	r.rx.sring->hdr.req_prod = NETIF_RX_RING_SIZE + 44;
	assert_int_equal(rig_host_write(&r, NULL, frame, len), 0);
	serve(&r);
	assert_int_equal(netback_vif_state(r.vif), NETBK_VIF_BROKEN);
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 0);
	rig_fini(&r);
}

static uint16_t l4_sum(const uint8_t *f, size_t len)
{
	/* TCP checksum over pseudo-header + segment; 0 when the field is right */
	uint32_t sum = 0;
	size_t l4 = 34, n = len - l4;

	for (int i = 26; i < 34; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	sum += 6 + (uint32_t)n;
	for (size_t i = l4; i + 1 < len; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	if (n & 1)
		sum += (uint32_t)f[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A frontend with feature-no-csum-offload gets finished checksums. */
static void test_rx_csum_completed_for_no_csum_frontend(void **state)
{
	struct rig r;
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		                     .csum_start = 34,
		                     .csum_offset = 16 };
	size_t len = rig_frame_tcp4(frame, 777, IP_B, 13);
	uint32_t partial = 0;

	assert_int_equal(
	    rig_init(&r, NULL,
	             &(struct netbk_vif_config){ .features = NETBK_F_RX_COPY | NETBK_F_NO_CSUM }),
	    0);
	/* the sender leaves the pseudo-header sum in the field, as Linux does */
	for (int i = 26; i < 34; i += 2)
		partial += (uint32_t)(frame[i] << 8 | frame[i + 1]);
	partial += 6 + (uint32_t)(len - 34);
	while (partial >> 16)
		partial = (partial & 0xffff) + (partial >> 16);
	frame[50] = (uint8_t)(partial >> 8);
	frame[51] = (uint8_t)partial;
	rig_rx_post(&r, 1, 0);
	assert_int_equal(rig_host_write(&r, &vh, frame, len), 0);
	serve(&r);
	assert_int_equal(r.rx.sring->hdr.rsp_prod, 1);
	assert_int_equal(r.rx.sring->ring[0].rsp.flags & NETRXF_csum_blank, 0);
	assert_int_equal(l4_sum(rig_page(&r, RIG_DATA / 2), len), 0);
	rig_fini(&r);
}

/* bh inject's hooks: a bogus TX id once; a deaf vif is not served until
 * its time is up; a closed channel for good. */
static void test_injected_faults(void **state)
{
	struct rig r;
	struct netif_tx_response rsp[4];
	size_t len = rig_frame_tcp4(frame, 200, IP_A, 3);

	(void)state;
	assert_int_equal(
	    rig_init(&r, NULL, &(struct netbk_vif_config){ .features = NETBK_F_RX_COPY }), 0);
	assert_int_equal(netback_vif_inject(r.vif, NETBK_FAULT_CORRUPT, 0), 0);
	put_packet(&r, frame, len, 0, 4096, 11, 0);
	rig_tx_publish(&r);
	serve(&r);
	assert_int_equal(rig_tx_responses(&r, rsp, 4), 1);
	assert_int_equal(rsp[0].id, 11 ^ 0x8000);
	assert_int_equal(rsp[0].status, NETIF_RSP_OKAY);
	assert_int_equal(rig_host_read(&r, &(struct virtio_net_hdr){ 0 }, got, sizeof(got)),
	                 (ssize_t)len);
	expect_still_serving(&r); /* with its right id: once only */
	assert_int_equal(netback_vif_inject(r.vif, NETBK_FAULT_DROP_NOTIFY, 200), 0);
	put_packet(&r, frame, len, 0, 4096, 12, 0);
	rig_tx_publish(&r);
	serve(&r);
	assert_int_equal(rig_tx_responses(&r, rsp, 4), 0);
	usleep(200000);
	serve(&r);
	assert_int_equal(rig_tx_responses(&r, rsp, 4), 1);
	assert_int_equal(rsp[0].id, 12);
	assert_int_equal(rig_host_read(&r, &(struct virtio_net_hdr){ 0 }, got, sizeof(got)),
	                 (ssize_t)len);
	assert_int_equal(netback_vif_inject(r.vif, NETBK_FAULT_CLOSE_CHANNEL, 0), 0);
	put_packet(&r, frame, len, 0, 4096, 13, 0);
	rig_tx_publish(&r);
	serve(&r);
	assert_int_equal(rig_tx_responses(&r, rsp, 4), 0);
	assert_int_equal(netback_vif_inject(NULL, NETBK_FAULT_CORRUPT, 0), -ENOTCONN);
	rig_fini(&r);
}

/* ops->map_rings: both rings in one call at connect (map_ring not used),
 * unmapped with one unmap_ring of the TX page; a failure fails the
 * connect. */
static struct {
	struct netbk_gntmap_ops real;
	unsigned pairs, singles, unmaps;
	void *tx, *unmapped;
	bool fail;
} rp;

static void *rp_map_ring(void *ctx, uint16_t domid, uint32_t ref)
{
	rp.singles++;
	return rp.real.map_ring(ctx, domid, ref);
}

static int rp_map_rings(void *ctx, uint16_t domid, uint32_t tx_ref, uint32_t rx_ref, void **tx,
                        void **rx)
{
	rp.pairs++;
	if (rp.fail)
		return -EPERM;
	*tx = rp.tx = rp.real.map_ring(ctx, domid, tx_ref);
	*rx = rp.real.map_ring(ctx, domid, rx_ref);
	return *tx && *rx ? 0 : -EPERM;
}

static void rp_unmap_ring(void *ctx, void *page)
{
	rp.unmaps++;
	rp.unmapped = page;
	rp.real.unmap_ring(ctx, page);
}

static void test_rings_mapped_together(void **state)
{
	struct rig r;
	struct netbk_gntmap_ops ops;
	struct netback *nb;
	struct netbk_vif *vif;
	struct netbk_vif_config c;
	int sv[2];

	memset(&rp, 0, sizeof(rp));
	assert_int_equal(rig_init(&r, NULL, NULL), 0);
	rp.real = ops = r.bops;
	ops.map_ring = rp_map_ring;
	ops.map_rings = rp_map_rings;
	ops.unmap_ring = rp_unmap_ring;
	assert_int_equal(netback_create(&ops, NULL, &nb), 0);
	c = r.vif->cfg;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	c.tap_fd = sv[0];
	assert_int_equal(netback_vif_connect(nb, &c, &vif), 0);
	assert_int_equal(rp.pairs, 1);
	assert_int_equal(rp.singles, 0);
	netback_vif_disconnect(vif);
	close(sv[1]);
	assert_int_equal(rp.unmaps, 1);
	assert_ptr_equal(rp.unmapped, rp.tx);
	/* a pair that cannot be mapped: no vif */
	rp.fail = true;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	c.tap_fd = sv[0];
	assert_int_equal(netback_vif_connect(nb, &c, &vif), -EPERM);
	assert_int_equal(rp.singles, 0);
	close(sv[0]); /* the caller keeps its TAP on failure */
	netback_destroy(nb);
	rig_fini(&r);
}

static void test_config_checks(void **state)
{
	struct rig r;
	struct netbk_vif_config c = { .features = NETBK_F_SG }; /* no rx-copy */

	assert_int_equal(rig_init(&r, NULL, &c), -EOPNOTSUPP);
	rig_fini(&r);
	c.features = NETBK_F_RX_COPY;
	c.rate_bytes = 1000; /* without an interval */
	assert_int_equal(rig_init(&r, NULL, &c), -EINVAL);
	rig_fini(&r);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_tx_single_and_sg),
	cmocka_unit_test(test_injected_faults),
	cmocka_unit_test(test_tx_gso_and_csum),
	cmocka_unit_test(test_tx_zero_length_fragment),
	cmocka_unit_test(test_tx_fragment_crossing_page),
	cmocka_unit_test(test_tx_too_many_slots),
	cmocka_unit_test(test_tx_total_disagrees),
	cmocka_unit_test(test_tx_many_tiny_slots),
	cmocka_unit_test(test_tx_bad_grant_ref),
	cmocka_unit_test(test_tx_runt),
	cmocka_unit_test(test_tx_unknown_extra),
	cmocka_unit_test(test_tx_requests_copied_once),
	cmocka_unit_test(test_tx_requests_copied_once_in_place),
	cmocka_unit_test(test_tx_req_prod_overflow),
	cmocka_unit_test(test_tx_half_published_packet_waits),
	cmocka_unit_test(test_tx_antispoof),
	cmocka_unit_test(test_tx_mtu),
	cmocka_unit_test(test_rx_placement_and_flags),
	cmocka_unit_test(test_rx_placement_and_flags_in_place),
	cmocka_unit_test(test_rx_in_place_no_gso),
	cmocka_unit_test(test_rx_warm_up),
	cmocka_unit_test(test_prefetch_hints),
	cmocka_unit_test(test_rx_gso_needs_feature),
	cmocka_unit_test(test_rx_no_buffers_bounded),
	cmocka_unit_test(test_rx_waits_for_buffers),
	cmocka_unit_test(test_rx_wait_ends),
	cmocka_unit_test(test_tx_served_by_notifications_alone),
	cmocka_unit_test(test_rx_buffers_posted_by_notifications_alone),
	cmocka_unit_test(test_fair_round_robin),
	cmocka_unit_test(test_tx_rate_limit),
	cmocka_unit_test(test_rx_bad_grant),
	cmocka_unit_test(test_rx_req_prod_overflow),
	cmocka_unit_test(test_rx_csum_completed_for_no_csum_frontend),
	cmocka_unit_test(test_rings_mapped_together),
	cmocka_unit_test(test_config_checks),
};

BH_TEST_MAIN(tests)
