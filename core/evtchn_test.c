/* Event-channel semantics (Xen's), on in-memory domains. Notifications are
 * eventfd writes between the domains: the core is not on that path. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "core/core_testlib.h"

struct end {
	uint32_t port;
	int fds[2]; /* receive, send */
};

static void get_fds(struct domain *d, struct end *e)
{
	size_t n;

	assert_int_equal(evtchn_port_fds(d, e->port, e->fds, &n), 0);
	assert_int_equal(n, 2);
}

static void close_end(struct end *e)
{
	bh_close_fds(e->fds, 2);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static uint64_t consume(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void notify(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

/* a allocates an unbound port for b; b binds it. */
static void connect_pair(struct tfx *f, struct end *ea, struct end *eb)
{
	assert_int_equal(evtchn_alloc_unbound(f->a, 2, &ea->port), 0);
	assert_int_equal(evtchn_bind_interdomain(f->b, 1, ea->port, &eb->port), 0);
	get_fds(f->a, ea);
	get_fds(f->b, eb);
}

static void test_notify_both_ways(void **state)
{
	struct tfx *f = *state;
	struct end a, b;

	connect_pair(f, &a, &b);
	assert_false(readable(a.fds[0]) || readable(b.fds[0]));
	notify(a.fds[1]);
	assert_true(readable(b.fds[0]));
	assert_false(readable(a.fds[0]));
	assert_int_equal(consume(b.fds[0]), 1);
	notify(b.fds[1]);
	assert_true(readable(a.fds[0]));
	close_end(&a);
	close_end(&b);
}

static void test_only_the_named_domain_may_bind(void **state)
{
	struct tfx *f = *state;
	uint32_t port, p2;

	assert_int_equal(evtchn_alloc_unbound(f->a, 2, &port), 0);
	assert_int_equal(evtchn_bind_interdomain(f->x, 1, port, &p2), -EPERM);
	assert_int_equal(evtchn_bind_interdomain(f->b, 1, port + 50, &p2), -EINVAL);
	assert_int_equal(evtchn_bind_interdomain(f->b, 9, port, &p2), -ESRCH);
	assert_int_equal(evtchn_bind_interdomain(f->b, 1, port, &p2), 0);
	/* bound now: nobody else binds it again */
	assert_int_equal(evtchn_bind_interdomain(f->b, 1, port, &p2), -EINVAL);
}

static void test_status(void **state)
{
	struct tfx *f = *state;
	struct bh_hc_evtchn_resp st;
	struct end a, b;

	assert_int_equal(evtchn_alloc_unbound(f->a, 2, &a.port), 0);
	assert_int_equal(evtchn_status(f->a, a.port, &st), 0);
	assert_int_equal(st.status, BH_EVTCHNSTAT_UNBOUND);
	assert_int_equal(st.remote_dom, 2);
	assert_int_equal(evtchn_bind_interdomain(f->b, 1, a.port, &b.port), 0);
	assert_int_equal(evtchn_status(f->a, a.port, &st), 0);
	assert_int_equal(st.status, BH_EVTCHNSTAT_INTERDOMAIN);
	assert_int_equal(st.remote_port, b.port);
	assert_int_equal(evtchn_status(f->a, a.port + 1, &st), 0);
	assert_int_equal(st.status, BH_EVTCHNSTAT_CLOSED);
	assert_int_equal(evtchn_status(f->a, 0, &st), -EINVAL);
	assert_int_equal(evtchn_status(f->a, 100000, &st), -EINVAL);
}

static void test_close_reverts_peer_to_unbound_and_rebind_reuses(void **state)
{
	struct tfx *f = *state;
	struct bh_hc_evtchn_resp st;
	struct end a, b, b2;

	connect_pair(f, &a, &b);
	assert_int_equal(evtchn_close(f->b, b.port), 0);
	assert_int_equal(evtchn_close(f->b, b.port), -EINVAL);
	assert_int_equal(evtchn_status(f->a, a.port, &st), 0);
	assert_int_equal(st.status, BH_EVTCHNSTAT_UNBOUND);
	assert_int_equal(st.remote_dom, 2);
	/* the survivor was woken so that it notices */
	assert_true(readable(a.fds[0]));
	consume(a.fds[0]);
	/* b binds again: a's descriptors still work */
	assert_int_equal(evtchn_bind_interdomain(f->b, 1, a.port, &b2.port), 0);
	get_fds(f->b, &b2);
	notify(a.fds[1]);
	assert_true(readable(b2.fds[0]));
	notify(b2.fds[1]);
	assert_true(readable(a.fds[0]));
	close_end(&a);
	close_end(&b);
	close_end(&b2);
}

static void test_peer_death_closes_the_port(void **state)
{
	struct tfx *f = *state;
	struct bh_hc_evtchn_resp st;
	struct end a, b;

	connect_pair(f, &a, &b);
	tdom_die(f->b);
	assert_int_equal(evtchn_status(f->a, a.port, &st), 0);
	assert_int_equal(st.status, BH_EVTCHNSTAT_UNBOUND);
	/* Binding from a dead domain is impossible; notify goes nowhere. */
	notify(a.fds[1]);
	close_end(&a);
	close_end(&b);
}

static void test_port_limit(void **state)
{
	struct tfx *f = *state;
	uint32_t port;

	f->a->et.max = 3;
	for (int i = 0; i < 3; i++)
		assert_int_equal(evtchn_alloc_unbound(f->a, 2, &port), 0);
	assert_int_equal(evtchn_alloc_unbound(f->a, 2, &port), -ENOSPC);
	assert_int_equal(evtchn_close(f->a, 2), 0);
	assert_int_equal(evtchn_alloc_unbound(f->a, 2, &port), 0);
	assert_int_equal(port, 2);
}

/* A storm on one channel is absorbed by its eventfd counter: the core is
 * not involved and another channel is not affected. */
static void test_notification_storm_is_isolated(void **state)
{
	struct tfx *f = *state;
	struct end a, b, x, b2;

	connect_pair(f, &a, &b);
	assert_int_equal(evtchn_alloc_unbound(f->x, 2, &x.port), 0);
	assert_int_equal(evtchn_bind_interdomain(f->b, 3, x.port, &b2.port), 0);
	get_fds(f->x, &x);
	get_fds(f->b, &b2);
	for (int i = 0; i < 200000; i++)
		notify(a.fds[1]);
	assert_int_equal(consume(b.fds[0]), 200000);
	assert_false(readable(b2.fds[0]));
	notify(x.fds[1]);
	assert_true(readable(b2.fds[0]));
	close_end(&a);
	close_end(&b);
	close_end(&x);
	close_end(&b2);
}

static void test_virq_dom_exc(void **state)
{
	struct tfx *f = *state;
	uint32_t port, p2;
	int fds[2];
	size_t n;

	assert_int_equal(evtchn_bind_virq(f->a, 99, &port), -EINVAL);
	assert_int_equal(evtchn_bind_virq(f->a, BH_VIRQ_DOM_EXC, &port), 0);
	assert_int_equal(evtchn_bind_virq(f->a, BH_VIRQ_DOM_EXC, &p2), -EEXIST);
	assert_int_equal(evtchn_port_fds(f->a, port, fds, &n), 0);
	assert_int_equal(n, 1);
	assert_false(readable(fds[0]));
	evtchn_raise_virq(f->c, BH_VIRQ_DOM_EXC);
	assert_true(readable(fds[0]));
	close(fds[0]);
}

static void test_loopback_channel(void **state)
{
	struct tfx *f = *state;
	struct end a, a2;

	assert_int_equal(evtchn_alloc_unbound(f->a, 1, &a.port), 0);
	assert_int_equal(evtchn_bind_interdomain(f->a, 1, a.port, &a2.port), 0);
	get_fds(f->a, &a);
	get_fds(f->a, &a2);
	notify(a.fds[1]);
	assert_true(readable(a2.fds[0]));
	assert_false(readable(a.fds[0]));
	close_end(&a);
	close_end(&a2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tfx_setup, tfx_teardown)
static const struct CMUnitTest tests[] = {
	T(test_notify_both_ways),
	T(test_only_the_named_domain_may_bind),
	T(test_status),
	T(test_close_reverts_peer_to_unbound_and_rebind_reuses),
	T(test_peer_death_closes_the_port),
	T(test_port_limit),
	T(test_notification_storm_is_isolated),
	T(test_virq_dom_exc),
	T(test_loopback_channel),
};

BH_TEST_MAIN(tests)
