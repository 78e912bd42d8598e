/* The hypercall channel: malformed, short, oversized and unknown messages,
 * every type with bad arguments, the access check, and a domain that does
 * not read its replies. The core must answer or end that channel, never
 * crash, never stall the others. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "common/bhtest.h"
#include "core/core_testlib.h"

struct fx {
	struct core *c;
	struct hc_conn dom0, guest;
	int dom0_peer, guest_peer;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->c = tcore_new();
	tdom_add(f->c, 0, BH_ROLE_CONTROL, true);
	tdom_add(f->c, 5, BH_ROLE_GUEST, false);
	tdom_add(f->c, 6, BH_ROLE_GUEST, false);
	tconn_open(f->c, &f->dom0, 0, false, &f->dom0_peer);
	tconn_open(f->c, &f->guest, 5, false, &f->guest_peer);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hc_conn_close(&f->dom0);
	hc_conn_close(&f->guest);
	close(f->dom0_peer);
	close(f->guest_peer);
	tcore_free(f->c);
	free(f);
	return 0;
}

static int status_of(struct hc_conn *hc, int peer, uint32_t type, const void *req, size_t len)
{
	unsigned char resp[BH_HC_MAX_PAYLOAD];
	int st = 12345;

	assert_int_equal(tcall(hc, peer, type, req, len, &st, resp, sizeof(resp), NULL, NULL), 0);
	return st;
}

static void test_unknown_type_is_enosys(void **state)
{
	struct fx *f = *state;

	assert_int_equal(status_of(&f->guest, f->guest_peer, 9999, NULL, 0), -ENOSYS);
	assert_int_equal(status_of(&f->guest, f->guest_peer, 0, NULL, 0), -ENOSYS);
	assert_int_equal(
	    status_of(&f->guest, f->guest_peer, BH_HC_VERSION_REQ | BH_HC_RESP, NULL, 0), -EINVAL);
}

static void test_short_header_ends_the_channel(void **state)
{
	struct fx *f = *state;
	char junk[15] = { 1, 2, 3 };

	for (size_t len = 0; len < sizeof(junk); len++)
		assert_int_equal(hc_dispatch(&f->guest, junk, len, NULL, 0), -EPROTO);
}

static void test_length_field_must_match(void **state)
{
	struct fx *f = *state;
	unsigned char msg[64];
	struct bh_hc_hdr h = { .type = BH_HC_VERSION_REQ, .len = 40, .seq = 1 };
	struct bh_hc_hdr r;

	memcpy(msg, &h, sizeof(h));
	assert_int_equal(hc_dispatch(&f->guest, msg, sizeof(h) + 8, NULL, 0), 0);
	assert_int_equal(recv(f->guest_peer, &r, sizeof(r), 0), (ssize_t)sizeof(r));
	assert_int_equal(r.status, -EINVAL);
	assert_int_equal(r.seq, 1);
	assert_int_equal(r.type, BH_HC_VERSION_REQ | BH_HC_RESP);
}

/* Every type in the table, with a payload one byte short of its minimum,
 * one byte too long (for fixed sizes), and all zeroes. */
static void test_every_type_with_bad_lengths(void **state)
{
	struct fx *f = *state;
	unsigned char buf[BH_HC_MAX_PAYLOAD];

	memset(buf, 0, sizeof(buf));
	for (uint32_t t = 1; t < BH_HC_TYPE_MAX; t++) {
		for (size_t len = 1; len < 600; len = len * 2 + 1) {
			int st = status_of(&f->dom0, f->dom0_peer, t, buf, len);
			assert_true(st <= 0);
		}
	}
	assert_int_equal(status_of(&f->dom0, f->dom0_peer, BH_HC_DOMCTL_GETINFO_REQ, buf, 7),
	                 -EINVAL);
	assert_int_equal(status_of(&f->dom0, f->dom0_peer, BH_HC_DOMCTL_GETINFO_REQ, buf, 9),
	                 -EINVAL);
	assert_int_equal(status_of(&f->dom0, f->dom0_peer, BH_HC_GNT_MAP_REQ, buf, 4), -EINVAL);
}

static void test_bad_arguments_are_refused(void **state)
{
	struct fx *f = *state;
	struct bh_hc_domid d = { .domid = 4000 };
	struct bh_hc_gnt_alloc ga = { .domid = 6, .count = 0 };
	struct bh_hc_gnt_refs gr = { .count = 3 };
	struct bh_hc_evtchn ev = { .port = 77 };
	struct bh_hc_create cr = { 0 };

	assert_int_equal(status_of(&f->dom0, f->dom0_peer, BH_HC_DOMCTL_GETINFO_REQ, &d, sizeof(d)),
	                 -ESRCH);
	assert_int_equal(status_of(&f->guest, f->guest_peer, BH_HC_GNT_ALLOC_REQ, &ga, sizeof(ga)),
	                 -EINVAL);
	ga.count = BH_GNT_MAX_BATCH + 1;
	assert_int_equal(status_of(&f->guest, f->guest_peer, BH_HC_GNT_ALLOC_REQ, &ga, sizeof(ga)),
	                 -EINVAL);
	/* a count that disagrees with the payload length */
	assert_int_equal(status_of(&f->guest, f->guest_peer, BH_HC_GNT_END_REQ, &gr, 8 + 4),
	                 -EINVAL);
	assert_int_equal(
	    status_of(&f->guest, f->guest_peer, BH_HC_EVTCHN_CLOSE_REQ, &ev, sizeof(ev)), -EINVAL);
	assert_int_equal(
	    status_of(&f->guest, f->guest_peer, BH_HC_EVTCHN_GET_FDS_REQ, &ev, sizeof(ev)),
	    -EINVAL);
	/* create: unterminated name, bad role, missing image */
	memset(cr.name, 'x', sizeof(cr.name));
	assert_int_equal(
	    status_of(&f->dom0, f->dom0_peer, BH_HC_DOMCTL_CREATE_REQ, &cr, sizeof(cr)), -EINVAL);
	strcpy(cr.name, "ok");
	cr.role = 9;
	assert_int_equal(
	    status_of(&f->dom0, f->dom0_peer, BH_HC_DOMCTL_CREATE_REQ, &cr, sizeof(cr)), -EINVAL);
	cr.role = BH_ROLE_GUEST;
	cr.vcpus = 1;
	cr.mem_kb = 65536;
	strcpy(cr.image, "../../bin/sh");
	assert_int_equal(
	    status_of(&f->dom0, f->dom0_peer, BH_HC_DOMCTL_CREATE_REQ, &cr, sizeof(cr)), -EINVAL);
}

/* Only a privileged domain controls other domains; everyone acts on itself. */
static void test_access_check(void **state)
{
	struct fx *f = *state;
	struct bh_hc_domid other = { .domid = 6 }, self = { .domid = BH_DOMID_SELF };
	struct bh_hc_create cr = {
		.role = BH_ROLE_GUEST, .vcpus = 1, .mem_kb = 65536, .flags = BH_CREATE_HOST_IMAGE
	};
	struct bh_hc_evtchn ev = { .dom = 6, .remote_dom = 5 };
	uint64_t denials = bh_policy_denials(f->c->policy);

	strcpy(cr.name, "x");
	strcpy(cr.image, "/bin/true");
	assert_int_equal(
	    status_of(&f->guest, f->guest_peer, BH_HC_DOMCTL_GETINFO_REQ, &other, sizeof(other)),
	    -EACCES);
	assert_int_equal(
	    status_of(&f->guest, f->guest_peer, BH_HC_DOMCTL_GETINFO_REQ, &self, sizeof(self)), 0);
	assert_int_equal(
	    status_of(&f->guest, f->guest_peer, BH_HC_DOMCTL_PAUSE_REQ, &other, sizeof(other)),
	    -EACCES);
	assert_int_equal(
	    status_of(&f->guest, f->guest_peer, BH_HC_DOMCTL_DESTROY_REQ, &other, sizeof(other)),
	    -EACCES);
	assert_int_equal(
	    status_of(&f->guest, f->guest_peer, BH_HC_DOMCTL_CREATE_REQ, &cr, sizeof(cr)), -EACCES);
	assert_int_equal(
	    status_of(&f->guest, f->guest_peer, BH_HC_EVTCHN_ALLOC_UNBOUND_REQ, &ev, sizeof(ev)),
	    -EACCES);
	assert_int_equal(status_of(&f->guest, f->guest_peer, BH_HC_SYSCTL_INFO_REQ, NULL, 0),
	                 -EACCES);
	assert_true(bh_policy_denials(f->c->policy) >= denials + 6);
	/* a host path image is for the administrator only, even for dom0 */
	assert_int_equal(
	    status_of(&f->dom0, f->dom0_peer, BH_HC_DOMCTL_CREATE_REQ, &cr, sizeof(cr)), -EPERM);
	/* dom0 may look at anyone */
	assert_int_equal(
	    status_of(&f->dom0, f->dom0_peer, BH_HC_DOMCTL_GETINFO_REQ, &other, sizeof(other)), 0);
}

static void test_list_shows_an_unprivileged_caller_only_itself(void **state)
{
	struct fx *f = *state;
	struct bh_hc_list_req req = { .first_domid = 0 };
	unsigned char resp[BH_HC_MAX_PAYLOAD];
	struct bh_hc_list_resp hdr;
	int st;

	assert_int_equal(tcall(&f->guest, f->guest_peer, BH_HC_DOMCTL_LIST_REQ, &req, sizeof(req),
	                       &st, resp, sizeof(resp), NULL, NULL),
	                 0);
	assert_int_equal(st, 0);
	memcpy(&hdr, resp, sizeof(hdr));
	assert_int_equal(hdr.count, 1);
	assert_int_equal(((struct bh_dominfo *)(resp + sizeof(hdr)))->domid, 5);
	assert_int_equal(tcall(&f->dom0, f->dom0_peer, BH_HC_DOMCTL_LIST_REQ, &req, sizeof(req),
	                       &st, resp, sizeof(resp), NULL, NULL),
	                 0);
	memcpy(&hdr, resp, sizeof(hdr));
	assert_int_equal(hdr.count, 3);
}

static void test_descriptors_in_requests_are_refused_and_closed(void **state)
{
	struct fx *f = *state;
	struct bh_hc_hdr h = { .type = BH_HC_VERSION_REQ, .seq = 3 }, r;
	int fds[2], p[2];

	assert_int_equal(pipe(p), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	assert_int_equal(hc_dispatch(&f->guest, &h, sizeof(h), fds, 2), 0);
	assert_int_equal(recv(f->guest_peer, &r, sizeof(r), 0), (ssize_t)sizeof(r));
	assert_int_equal(r.status, -EINVAL);
	assert_int_equal(fcntl(p[0], F_GETFD), -1); /* the core closed them */
}

/* Random datagrams, many of them well-formed headers of real types with
 * random payloads: every one answered or refused, nothing crashes. */
static void test_random_bytes(void **state)
{
	struct fx *f = *state;
	unsigned char msg[2048], resp[BH_HC_MAX_MSG];
	unsigned seed = 12345;

	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)rand_r(&seed) % sizeof(msg);
		for (size_t j = 0; j < len; j++)
			msg[j] = (unsigned char)rand_r(&seed);
		if (len >= sizeof(struct bh_hc_hdr) && (i & 1)) {
			struct bh_hc_hdr h = { .type = (uint32_t)rand_r(&seed) % BH_HC_TYPE_MAX,
				               .len = (uint32_t)(len - sizeof(h)) };
			memcpy(msg, &h, sizeof(h));
		}
		struct hc_conn *hc = (i & 2) ? &f->dom0 : &f->guest;
		int peer = (i & 2) ? f->dom0_peer : f->guest_peer;
		int rc = hc_dispatch(hc, msg, len, NULL, 0);
		if (rc == 0) {
			int fds[BH_MAX_FDS_PER_MSG];
			size_t n = 0;
			assert_true(bh_recv_fds(peer, resp, sizeof(resp), fds, BH_MAX_FDS_PER_MSG,
			                        &n) >= (ssize_t)sizeof(struct bh_hc_hdr));
			bh_close_fds(fds, n);
		} else {
			assert_true(len < sizeof(struct bh_hc_hdr));
		}
	}
	/* still serving */
	assert_int_equal(status_of(&f->guest, f->guest_peer, BH_HC_VERSION_REQ, NULL, 0), 0);
}

/* Through the real socket path: an oversized datagram ends that channel;
 * a domain that floods requests without reading replies is throttled while
 * another domain is still served. */
static void run_loop(struct core *c, int turns)
{
	for (int i = 0; i < turns; i++)
		event_base_loop(c->base, EVLOOP_NONBLOCK);
}

static void test_oversized_datagram_ends_only_that_channel(void **state)
{
	struct fx *f = *state;
	struct hc_conn a, b;
	int pa, pb;
	static unsigned char big[BH_HC_MAX_MSG + 100];
	struct bh_hc_hdr h = { .type = BH_HC_VERSION_REQ, .seq = 9 }, r;

	tconn_open(f->c, &a, 5, false, &pa);
	tconn_open(f->c, &b, 6, false, &pb);
	int fa = a.fd, fb = b.fd;
	assert_int_equal(hc_conn_open(f->c, &a, fa, false, 5, 0), 0);
	assert_int_equal(hc_conn_open(f->c, &b, fb, false, 6, 0), 0);
	memcpy(big, &h, sizeof(h));
	assert_true(send(pa, big, sizeof(big), 0) > 0);
	assert_true(send(pb, &h, sizeof(h), 0) > 0);
	run_loop(f->c, 4);
	assert_int_equal(a.fd, -1); /* ended */
	assert_int_equal(recv(pa, &r, sizeof(r), MSG_DONTWAIT), 0);
	assert_int_equal(recv(pb, &r, sizeof(r), MSG_DONTWAIT), (ssize_t)sizeof(r));
	assert_int_equal(r.status, 0);
	hc_conn_close(&b);
	close(pa);
	close(pb);
}

static void test_flooding_domain_does_not_stall_others(void **state)
{
	struct fx *f = *state;
	struct hc_conn a, b;
	int pa, pb, sent = 0;
	struct bh_hc_hdr h = { .type = BH_HC_VERSION_REQ }, r;

	tconn_open(f->c, &a, 5, false, &pa);
	tconn_open(f->c, &b, 6, false, &pb);
	int fa = a.fd, fb = b.fd;
	hc_conn_open(f->c, &a, fa, false, 5, 0);
	hc_conn_open(f->c, &b, fb, false, 6, 0);
	/* a keeps writing requests and never reads a reply */
	bh_set_nonblock(pa, 1);
	for (int i = 0; i < 100000 && !a.out; i++) {
		while (send(pa, &h, sizeof(h), MSG_DONTWAIT) > 0)
			sent++;
		run_loop(f->c, 1);
	}
	assert_true(sent > 0);
	assert_non_null(a.out); /* a reply is parked, a is no longer read */
	assert_true(send(pb, &h, sizeof(h), 0) > 0);
	run_loop(f->c, 4);
	assert_int_equal(recv(pb, &r, sizeof(r), MSG_DONTWAIT), (ssize_t)sizeof(r));
	assert_int_equal(r.status, 0);
	hc_conn_close(&a);
	hc_conn_close(&b);
	close(pa);
	close(pb);
}

/* UPLINK: only the control domain (or the administrator), only for a
 * driver domain; the driver domain may not ask for itself, a guest may not
 * get one. Without a process the request is recorded for the domain's next
 * start (no interface is made here: these domains have no namespace). */
static void test_uplink_policy_and_arguments(void **state)
{
	struct fx *f = *state;
	struct bh_hc_device_uplink u = { .domid = 7 };
	struct bh_hc_device_uplink_resp r;
	struct hc_conn drv, adm;
	int dpeer, apeer, st;

	tdom_add(f->c, 7, BH_ROLE_DRIVER, false);
	tconn_open(f->c, &drv, 7, false, &dpeer);
	tconn_open(f->c, &adm, 0, true, &apeer);
	/* the driver domain itself, for itself or by DOMID_SELF: denied */
	assert_int_equal(status_of(&drv, dpeer, BH_HC_DEVICE_UPLINK_REQ, &u, sizeof(u)), -EACCES);
	u.domid = BH_DOMID_SELF;
	assert_int_equal(status_of(&drv, dpeer, BH_HC_DEVICE_UPLINK_REQ, &u, sizeof(u)), -EACCES);
	/* a guest asking, and dom0 asking for a guest: denied */
	u.domid = 7;
	assert_int_equal(
	    status_of(&f->guest, f->guest_peer, BH_HC_DEVICE_UPLINK_REQ, &u, sizeof(u)), -EACCES);
	u.domid = 5;
	assert_int_equal(status_of(&f->dom0, f->dom0_peer, BH_HC_DEVICE_UPLINK_REQ, &u, sizeof(u)),
	                 -EACCES);
	assert_null(f->c->doms[5]->uplink);
	/* bad arguments */
	u.domid = 7;
	u.host_ipv4 = htonl(0x0a000001);
	u.host_prefixlen = 33;
	assert_int_equal(status_of(&f->dom0, f->dom0_peer, BH_HC_DEVICE_UPLINK_REQ, &u, sizeof(u)),
	                 -EINVAL);
	u.host_prefixlen = 24;
	memcpy(u.host_ifname, "eth0 x", 7); /* not an interface name */
	assert_int_equal(status_of(&f->dom0, f->dom0_peer, BH_HC_DEVICE_UPLINK_REQ, &u, sizeof(u)),
	                 -EINVAL);
	memset(u.host_ifname, 'a', sizeof(u.host_ifname)); /* no NUL */
	assert_int_equal(status_of(&f->dom0, f->dom0_peer, BH_HC_DEVICE_UPLINK_REQ, &u, sizeof(u)),
	                 -EINVAL);
	memset(u.host_ifname, 0, sizeof(u.host_ifname));
	u.mtu = 20;
	assert_int_equal(status_of(&f->dom0, f->dom0_peer, BH_HC_DEVICE_UPLINK_REQ, &u, sizeof(u)),
	                 -EINVAL);
	u.mtu = 0;
	u.flags = 1;
	assert_int_equal(status_of(&f->dom0, f->dom0_peer, BH_HC_DEVICE_UPLINK_REQ, &u, sizeof(u)),
	                 -EINVAL);
	u.flags = 0;
	assert_null(f->c->doms[7]->uplink);
	/* dom0 for the driver domain: recorded, with the default names */
	assert_int_equal(tcall(&f->dom0, f->dom0_peer, BH_HC_DEVICE_UPLINK_REQ, &u, sizeof(u), &st,
	                       &r, sizeof(r), NULL, NULL),
	                 0);
	assert_int_equal(st, 0);
	assert_string_equal(r.host_ifname, "bhup7");
	assert_int_equal(r.host_ifindex, 0);
	assert_non_null(f->c->doms[7]->uplink);
	assert_string_equal(f->c->doms[7]->uplink->dom_ifname, "uplink0");
	/* the administrator too; a second request replaces the first */
	bh_strlcpy(u.host_ifname, "up-nic", sizeof(u.host_ifname));
	assert_int_equal(status_of(&adm, apeer, BH_HC_DEVICE_UPLINK_REQ, &u, sizeof(u)), 0);
	assert_string_equal(f->c->doms[7]->uplink->host_ifname, "up-nic");
	hc_conn_close(&drv);
	close(dpeer);
	close(apeer);
	close(adm.fd); /* hc_conn_close would free an admin connection */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
static const struct CMUnitTest tests[] = {
	T(test_unknown_type_is_enosys),
	T(test_short_header_ends_the_channel),
	T(test_length_field_must_match),
	T(test_every_type_with_bad_lengths),
	T(test_bad_arguments_are_refused),
	T(test_access_check),
	T(test_list_shows_an_unprivileged_caller_only_itself),
	T(test_descriptors_in_requests_are_refused_and_closed),
	T(test_random_bytes),
	T(test_oversized_datagram_ends_only_that_channel),
	T(test_flooding_domain_does_not_stall_others),
	T(test_uplink_policy_and_arguments),
};

BH_TEST_MAIN(tests)
