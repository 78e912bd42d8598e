/* netfront: against the real netback engine (in-process grants), and
 * against a hand-driven hostile backend. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/bhtest.h"
#include "common/util.h"
#include "netback/netbk_testrig.h"
#include "netfront/netfront_memgnt.h"

static uint8_t frame[70000], got[70000];

/* A netfront (dom RIG_FE) connected to a netback vif whose device is a
 * socketpair; the rig's own raw rings are unused. */
struct pair {
	struct rig r; /* grant table, netback, host side */
	struct memgnt_view fv;
	struct netfront_ops fops;
	struct netfront *nf;
	struct netbk_vif *vif;
	int host_fd;
	uint32_t fe_tx, be_tx, fe_rx, be_rx;
};

static bool port_fired(struct memgnt *m, uint32_t port)
{
	struct pollfd pf = { .fd = memgnt_port_fd(m, port), .events = POLLIN };

	return poll(&pf, 1, 0) == 1;
}

/* UNBOUND: the rings are made first (a spare) and bound to their event
 * channels after, as the PV kernel does across a restart; nothing must
 * reach the backend before the bind. */
static void pair_init_ex(struct pair *p, bool split, uint32_t nf_features, uint32_t nb_features,
                         unsigned rx_target, bool unbound)
{
	struct netfront_config fc = { .backend_domid = RIG_BE,
		                      .features = nf_features,
		                      .rx_target = rx_target };
	struct netbk_vif_config bc = { .features = nb_features, .frontend_domid = RIG_FE };
	struct netfront_info info;
	int sv[2];

	assert_int_equal(rig_init(&p->r, NULL, NULL), 0);
	p->fv = (struct memgnt_view){ p->r.m, RIG_FE };
	netfront_memgnt_ops(&p->fv, &p->fops);
	assert_int_equal(memgnt_evtchn_pair(p->r.m, &p->fe_tx, &p->be_tx), 0);
	if (split)
		assert_int_equal(memgnt_evtchn_pair(p->r.m, &p->fe_rx, &p->be_rx), 0);
	else
		p->fe_rx = p->fe_tx, p->be_rx = p->be_tx;
	if (unbound) {
		fc.unbound = true;
		fc.features = 0;
		assert_int_equal(netfront_create(&fc, &p->fops, NULL, &p->nf), 0);
		netfront_flush(p->nf);
		assert_false(port_fired(p->r.m, p->be_tx));
		assert_false(port_fired(p->r.m, p->be_rx));
		netfront_bind(p->nf, p->fe_tx, p->fe_rx, nf_features);
		assert_true(port_fired(p->r.m, p->be_rx)); /* the first RX buffers */
	} else {
		fc.tx_port = p->fe_tx;
		fc.rx_port = p->fe_rx;
		assert_int_equal(netfront_create(&fc, &p->fops, NULL, &p->nf), 0);
	}
	netfront_info(p->nf, &info);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	p->host_fd = sv[1];
	bh_set_nonblock(p->host_fd, 1);
	bc.tap_fd = sv[0];
	bc.tx_ring_ref = info.tx_ring_ref;
	bc.rx_ring_ref = info.rx_ring_ref;
	bc.tx_port = p->be_tx;
	bc.rx_port = p->be_rx;
	assert_int_equal(netback_vif_connect(p->r.nb, &bc, &p->vif), 0);
}

static void pair_init(struct pair *p, bool split, uint32_t nf_features, uint32_t nb_features,
                      unsigned rx_target)
{
	pair_init_ex(p, split, nf_features, nb_features, rx_target, false);
}

static void pair_fini(struct pair *p)
{
	netback_vif_disconnect(p->vif);
	netfront_destroy(p->nf);
	close(p->host_fd);
	rig_fini(&p->r);
}

static void settle(struct pair *p)
{
	for (int i = 0; i < 10; i++) {
		netfront_flush(p->nf);
		netback_poll(p->r.nb, 0);
		netfront_tx_gc(p->nf);
	}
}

/* FRAME's first LEN bytes, sent by the frontend (with VH_IN, or none),
 * come out of the device whole; the header it came with in *VH_OUT. */
static void send_seen(struct pair *p, const struct virtio_net_hdr *vh_in, size_t len,
                      struct virtio_net_hdr *vh_out)
{
	assert_int_equal(netfront_send(p->nf, vh_in, frame, len), 0);
	settle(p);
	assert_int_equal(
	    rig_host_read(&(struct rig){ .host_fd = p->host_fd }, vh_out, got, sizeof(got)),
	    (ssize_t)len);
	assert_memory_equal(got, frame, len);
}

#define ALL_NF (NETFRONT_F_SG | NETFRONT_F_GSO_TCPV4 | NETFRONT_F_GSO_TCPV6 | NETFRONT_F_CSUM)
#define ALL_NB (NETBK_F_RX_COPY | NETBK_F_SG | NETBK_F_GSO_TCPV4 | NETBK_F_GSO_TCPV6)

/* The rings of a connection that is over, reset, carry the next one (the
 * PV kernel's spare after a backend restart): the same refs, empty rings,
 * nothing posted or kicked before the bind, and a packet left on the old
 * TX ring is not sent on the new connection. */
static void test_reset_for_next_connection(void **state)
{
	struct netbk_vif_config bc = { .features = ALL_NB, .frontend_domid = RIG_FE };
	struct netfront_info a, b;
	struct virtio_net_hdr vh;
	struct pair p;
	size_t len;
	int sv[2];

	(void)state;
	pair_init(&p, true, ALL_NF, ALL_NB, 0);
	len = rig_frame_tcp4(frame, 200, htonl(0x0a000001), 2);
	assert_int_equal(netfront_send(p.nf, NULL, frame, len), 0);
	settle(&p);
	assert_int_equal(
	    rig_host_read(&(struct rig){ .host_fd = p.host_fd }, &vh, got, sizeof(got)),
	    (ssize_t)len);
	/* left on the TX ring: queued, never served */
	len = rig_frame_tcp4(frame, 300, htonl(0x0a000001), 5);
	assert_int_equal(netfront_send(p.nf, NULL, frame, len), 0);
	netfront_info(p.nf, &a);
	netback_vif_disconnect(p.vif);
	close(p.host_fd);

	netfront_reset(p.nf);
	netfront_info(p.nf, &b);
	assert_int_equal(a.tx_ring_ref, b.tx_ring_ref);
	assert_int_equal(a.rx_ring_ref, b.rx_ring_ref);
	assert_int_equal(memgnt_evtchn_pair(p.r.m, &p.fe_tx, &p.be_tx), 0);
	assert_int_equal(memgnt_evtchn_pair(p.r.m, &p.fe_rx, &p.be_rx), 0);
	netfront_flush(p.nf);
	assert_false(port_fired(p.r.m, p.be_tx));
	assert_false(port_fired(p.r.m, p.be_rx));
	netfront_bind(p.nf, p.fe_tx, p.fe_rx, ALL_NF);
	assert_true(port_fired(p.r.m, p.be_rx));
	assert_false(port_fired(p.r.m, p.be_tx));
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	p.host_fd = sv[1];
	bh_set_nonblock(p.host_fd, 1);
	bc.tap_fd = sv[0];
	bc.tx_ring_ref = b.tx_ring_ref;
	bc.rx_ring_ref = b.rx_ring_ref;
	bc.tx_port = p.be_tx;
	bc.rx_port = p.be_rx;
	assert_int_equal(netback_vif_connect(p.r.nb, &bc, &p.vif), 0);
	settle(&p);
	assert_true(rig_host_read(&(struct rig){ .host_fd = p.host_fd }, &vh, got, sizeof(got)) <
	            0);

	len = rig_frame_tcp4(frame, 400, htonl(0x0a000001), 7);
	send_seen(&p, NULL, len, &vh);
	len = rig_frame_tcp4(frame, 500, htonl(0x0a000001), 8);
	assert_int_equal(rig_host_write(&(struct rig){ .host_fd = p.host_fd }, NULL, frame, len),
	                 0);
	settle(&p);
	assert_int_equal(netfront_recv(p.nf, &vh, got, sizeof(got)), (int)len);
	assert_memory_equal(got, frame, len);
	pair_fini(&p);
}

/* Rings made unbound and bound later carry packets both ways, with the
 * features given at the bind (SG: a 65000-byte GSO packet). */
static void test_unbound_then_bind(void **state)
{
	struct pair p;
	struct virtio_net_hdr gso = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		                      .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		                      .gso_size = 1448,
		                      .csum_start = 34,
		                      .csum_offset = 16 },
	                      vh, none = { 0 };
	size_t len;
	struct iovec iov[2];

	(void)state;
	pair_init_ex(&p, true, ALL_NF, ALL_NB, 0, true);
	len = rig_frame_tcp4(frame, 65000, htonl(0x0a000001), 2);
	send_seen(&p, &gso, len, &vh);
	len = rig_frame_tcp4(frame, 100, htonl(0x0a000001), 3);
	iov[0] = (struct iovec){ &none, sizeof(none) };
	iov[1] = (struct iovec){ frame, len };
	assert_true(writev(p.host_fd, iov, 2) > 0);
	settle(&p);
	assert_int_equal(netfront_recv(p.nf, &vh, got, sizeof(got)), (int)len);
	assert_memory_equal(got, frame, len);
	pair_fini(&p);
}

static void test_roundtrip_small_and_gso(void **state)
{
	struct pair p;
	struct virtio_net_hdr gso = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		                      .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		                      .gso_size = 1448,
		                      .csum_start = 34,
		                      .csum_offset = 16 },
	                      vh;
	size_t len;
	struct iovec iov[2];
	struct netfront_stats st;

	pair_init(&p, true, ALL_NF, ALL_NB, 0);
	/* frontend -> device */
	len = rig_frame_tcp4(frame, 100, htonl(0x0a000001), 1);
	send_seen(&p, NULL, len, &vh);
	len = rig_frame_tcp4(frame, 65000, htonl(0x0a000001), 2);
	send_seen(&p, &gso, len, &vh);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(vh.gso_size, 1448);
	/* device -> frontend, the same GSO packet back */
	iov[0] = (struct iovec){ &gso, sizeof(gso) };
	iov[1] = (struct iovec){ frame, len };
	assert_true(writev(p.host_fd, iov, 2) > 0);
	assert_true(port_fired(p.r.m, p.fe_rx) == false);
	settle(&p);
	assert_true(port_fired(p.r.m, p.fe_rx)); /* split: the RX channel */
	memset(&vh, 0, sizeof(vh));
	assert_int_equal(netfront_recv(p.nf, &vh, got, sizeof(got)), (int)len);
	assert_memory_equal(got, frame, len);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(vh.gso_size, 1448);
	assert_int_equal(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(vh.csum_start, 34);
	assert_int_equal(netfront_recv(p.nf, &vh, got, sizeof(got)), 0);
	netfront_stats(p.nf, &st);
	assert_int_equal(st.tx_packets, 2);
	assert_int_equal(st.rx_packets, 1);
	assert_int_equal(st.tx_errors + st.rx_errors + st.bad_tx_rsp, 0);
	pair_fini(&p);
}

static void test_rx_buffers_bounded(void **state)
{
	struct pair p;
	size_t len = rig_frame_tcp4(frame, 200, htonl(0x0a000001), 3);
	struct iovec iov[2] = { { &(struct virtio_net_hdr){ 0 }, 10 }, { frame, len } };
	struct netbk_vif_stats st;
	int n = 0, r;

	pair_init(&p, false, ALL_NF, ALL_NB, 32);
	settle(&p);
	/* 32 posted: the backend can place 32, the rest wait in its queue */
	for (int i = 0; i < 100; i++)
		assert_true(writev(p.host_fd, iov, 2) > 0);
	netback_poll(p.r.nb, 0);
	netback_vif_stats(p.vif, &st);
	assert_int_equal(st.rx_packets, 32);
	assert_int_equal(st.rx_queued, 68);
	while ((r = netfront_recv(p.nf, &(struct virtio_net_hdr){ 0 }, got, sizeof(got))) > 0)
		n++;
	assert_int_equal(n, 32);
	settle(&p); /* reposting lets the rest through */
	while (netfront_recv(p.nf, &(struct virtio_net_hdr){ 0 }, got, sizeof(got)) > 0)
		n++;
	settle(&p);
	while (netfront_recv(p.nf, &(struct virtio_net_hdr){ 0 }, got, sizeof(got)) > 0)
		n++;
	settle(&p);
	while (netfront_recv(p.nf, &(struct virtio_net_hdr){ 0 }, got, sizeof(got)) > 0)
		n++;
	assert_int_equal(n, 100);
	pair_fini(&p);
}

static void test_tx_ring_full_is_eagain(void **state)
{
	struct pair p;
	size_t len = rig_frame_tcp4(frame, 100, htonl(0x0a000001), 4);
	int sent = 0;

	pair_init(&p, false, ALL_NF, ALL_NB, 0);
	while (netfront_send(p.nf, NULL, frame, len) == 0)
		sent++;
	assert_int_equal(sent, 256);
	assert_int_equal(netfront_send(p.nf, NULL, frame, len), -EAGAIN);
	/* without SG a multi-page packet is refused */
	pair_fini(&p);
	pair_init(&p, false, NETFRONT_F_CSUM, ALL_NB, 0);
	assert_int_equal(netfront_send(p.nf, NULL, frame, 5000), -EMSGSIZE);
	pair_fini(&p);
}

/* Offloads narrowed on a live connection (netfront_set_features, as the
 * PV kernel does when a restarted backend offers fewer): what is still
 * offered goes through, a segmentation no longer offered and a
 * multi-page packet without SG are refused (counted as errors), nothing
 * of them reaches the backend. */
static void test_features_narrowed(void **state)
{
	struct pair p;
	struct virtio_net_hdr gso4 = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		                       .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		                       .gso_size = 1448,
		                       .csum_start = 34,
		                       .csum_offset = 16 },
	                      vh;
	struct netfront_stats st;
	size_t big = rig_frame_tcp4(frame, 65000, htonl(0x0a000001), 7), small;

	pair_init(&p, false, ALL_NF, ALL_NB, 0);
	send_seen(&p, &gso4, big, &vh); /* offered: goes */
	netfront_set_features(p.nf, NETFRONT_F_CSUM | NETFRONT_F_SG);
	assert_int_equal(netfront_send(p.nf, &gso4, frame, big), -EOPNOTSUPP);
	small = rig_frame_tcp4(frame, 100, htonl(0x0a000001), 8);
	send_seen(&p, NULL, small, &vh); /* the next packet is the small one */
	netfront_set_features(p.nf, NETFRONT_F_CSUM);
	big = rig_frame_tcp4(frame, 5000, htonl(0x0a000001), 9);
	assert_int_equal(netfront_send(p.nf, NULL, frame, big), -EMSGSIZE);
	settle(&p);
	assert_true(rig_host_read(&(struct rig){ .host_fd = p.host_fd }, &vh, got, sizeof(got)) <=
	            0);
	netfront_stats(p.nf, &st);
	assert_int_equal(st.tx_packets, 2);
	assert_int_equal(st.tx_errors, 2);
	pair_fini(&p);
}

/* A hostile backend: the test writes the responses by hand. */
struct hostile {
	struct pair p;
	struct netif_tx_sring *tx;
	struct netif_rx_sring *rx;
};

static void hostile_init(struct hostile *h)
{
	struct netfront_info info;

	pair_init(&h->p, false, ALL_NF, ALL_NB, 0);
	netback_vif_disconnect(h->p.vif); /* from now on the test is the backend */
	h->p.vif = NULL;
	netfront_info(h->p.nf, &info);
	h->tx = h->p.r.bops.map_ring(h->p.r.bops.ctx, RIG_FE, info.tx_ring_ref);
	h->rx = h->p.r.bops.map_ring(h->p.r.bops.ctx, RIG_FE, info.rx_ring_ref);
	assert_non_null(h->tx);
	assert_non_null(h->rx);
}

static void hostile_fini(struct hostile *h)
{
	netfront_destroy(h->p.nf);
	close(h->p.host_fd);
	rig_fini(&h->p.r);
}

static void test_hostile_tx_responses(void **state)
{
	struct hostile h;
	struct netfront_stats st;
	size_t len = rig_frame_tcp4(frame, 100, htonl(0x0a000001), 5);
	uint16_t id;

	hostile_init(&h);
	assert_int_equal(netfront_send(h.p.nf, NULL, frame, len), 0);
	netfront_flush(h.p.nf);
	id = h.tx->ring[0].req.id;
	h.tx->ring[0].rsp = (struct netif_tx_response){ .id = 300, .status = 0 };    /* range */
	h.tx->ring[1].rsp = (struct netif_tx_response){ .id = id ^ 1, .status = 0 }; /* idle */
	h.tx->ring[2].rsp = (struct netif_tx_response){ .id = id, .status = 0 };     /* good */
	h.tx->ring[3].rsp = (struct netif_tx_response){ .id = id, .status = 0 };     /* twice */
	h.tx->hdr.rsp_prod = 4;
	netfront_tx_gc(h.p.nf);
	netfront_stats(h.p.nf, &st);
	assert_int_equal(st.bad_tx_rsp, 3);
	assert_false(netfront_broken(h.p.nf));
	/* responses far ahead of our requests: the device stops */
	h.tx->hdr.rsp_prod = 4 + 1000;
	netfront_tx_gc(h.p.nf);
	assert_true(netfront_broken(h.p.nf));
	assert_int_equal(netfront_send(h.p.nf, NULL, frame, len), -EPIPE);
	hostile_fini(&h);
}

static void put_rx(struct hostile *h, unsigned slot, uint16_t id, uint16_t off, uint16_t flags,
                   int16_t status)
{
	h->rx->ring[slot].rsp =
	    (struct netif_rx_response){ .id = id, .offset = off, .flags = flags, .status = status };
}

static void test_hostile_rx_responses(void **state)
{
	struct hostile h;
	struct netfront_stats st;
	struct virtio_net_hdr vh;
	struct netif_extra_info bad = { .type = 7 };

	hostile_init(&h);
	put_rx(&h, 0, 0, 0, 0, 60);     /* good */
	put_rx(&h, 1, 9, 0, 0, 60);     /* id of another slot */
	put_rx(&h, 2, 2, 4000, 0, 200); /* crosses the page */
	put_rx(&h, 3, 3, 0, 0, -1);     /* error status */
	put_rx(&h, 4, 4, 0, 0, 5);      /* runt */
	put_rx(&h, 5, 5, 0, NETRXF_extra_info, 60);
	memcpy(&h.rx->ring[6], &bad, sizeof(bad)); /* unknown extra type */
	put_rx(&h, 7, 7, 0, 0, 60);                /* good again */
	h.rx->hdr.rsp_prod = 8;
	assert_int_equal(netfront_recv(h.p.nf, &vh, got, sizeof(got)), 60);
	for (int i = 0; i < 5; i++)
		assert_int_equal(netfront_recv(h.p.nf, &vh, got, sizeof(got)), -EBADMSG);
	assert_int_equal(netfront_recv(h.p.nf, &vh, got, sizeof(got)), 60);
	assert_int_equal(netfront_recv(h.p.nf, &vh, got, sizeof(got)), 0);
	netfront_stats(h.p.nf, &st);
	assert_int_equal(st.rx_bad_rsp, 5);
	assert_int_equal(st.rx_packets, 2);
	/* responses for buffers never posted */
	h.rx->hdr.rsp_prod = 8 + 300;
	assert_int_equal(netfront_recv(h.p.nf, &vh, got, sizeof(got)), -EPIPE);
	assert_true(netfront_broken(h.p.nf));
	hostile_fini(&h);
}

/* The pump: TAP stand-in (socketpair) <-> rings <-> netback device. */
static void test_pump(void **state)
{
	struct pair p;
	int guest[2];
	size_t len = rig_frame_tcp4(frame, 1000, htonl(0x0a000001), 6);
	struct iovec iov[2] = { { &(struct virtio_net_hdr){ 0 }, 10 }, { frame, len } };
	struct virtio_net_hdr vh;

	pair_init(&p, false, ALL_NF, ALL_NB, 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, guest), 0);
	bh_set_nonblock(guest[0], 1);
	bh_set_nonblock(guest[1], 1);
	/* guest kernel sends: guest[1] -> pump -> netback -> host */
	assert_true(writev(guest[1], iov, 2) > 0);
	/* host sends: host -> netback -> pump -> guest[1] */
	assert_true(writev(p.host_fd, iov, 2) > 0);
	for (int i = 0; i < 10; i++) {
		netfront_pump(p.nf, guest[0], 1);
		netback_poll(p.r.nb, 1);
	}
	assert_int_equal(
	    rig_host_read(&(struct rig){ .host_fd = p.host_fd }, &vh, got, sizeof(got)),
	    (ssize_t)len);
	assert_memory_equal(got, frame, len);
	assert_int_equal(rig_host_read(&(struct rig){ .host_fd = guest[1] }, &vh, got, sizeof(got)),
	                 (ssize_t)len);
	assert_memory_equal(got, frame, len);
	close(guest[0]);
	close(guest[1]);
	pair_fini(&p);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_unbound_then_bind),
	cmocka_unit_test(test_reset_for_next_connection),
	cmocka_unit_test(test_roundtrip_small_and_gso),
	cmocka_unit_test(test_rx_buffers_bounded),
	cmocka_unit_test(test_tx_ring_full_is_eagain),
	cmocka_unit_test(test_features_narrowed),
	cmocka_unit_test(test_hostile_tx_responses),
	cmocka_unit_test(test_hostile_rx_responses),
	cmocka_unit_test(test_pump),
};

BH_TEST_MAIN(tests)
