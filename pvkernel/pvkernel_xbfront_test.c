/* pvk_fe_follow (xbfront.h): the steps a frontend takes as its backend's
 * state changes across a driver-domain restart, with recording ops. Only
 * the "start over" write touches the store: its tests (after an early
 * ring a backend connected to but whose new offer it does not fit, and
 * the limit of three per outage) run against a real store daemon; the
 * others with none. */
#include <errno.h>
#include <string.h>

#include "common/bhtest.h"
#include "pvkernel/xbfront.h"
#include "xenstored/bhxs.h"
#include "xenstored/xs_daemon.h"

struct rec {
	char calls[256];
	int attach_rc, early_rc, check_rc;
	long long down_st;
	uint64_t down_ms;
};

static void add(struct rec *r, const char *what)
{
	strncat(r->calls, what, sizeof(r->calls) - strlen(r->calls) - 1);
}

static void r_down(void *arg, long long st)
{
	struct rec *r = arg;

	r->down_st = st;
	add(r, "down ");
}

static void r_drop(void *arg)
{
	add(arg, "drop ");
}

static int r_attach(struct bhxs *xs, void *arg)
{
	struct rec *r = arg;

	(void)xs;
	add(r, "attach ");
	return r->attach_rc;
}

static int r_early(struct bhxs *xs, void *arg)
{
	struct rec *r = arg;

	(void)xs;
	add(r, "early ");
	return r->early_rc;
}

static int r_check(struct bhxs *xs, void *arg)
{
	struct rec *r = arg;

	(void)xs;
	add(r, "check ");
	return r->check_rc;
}

static void r_up(struct bhxs *xs, void *arg, uint64_t down_ms)
{
	struct rec *r = arg;

	(void)xs;
	r->down_ms = down_ms;
	add(r, "up ");
}

static const struct pvk_fe_link_ops ops = {
	.down = r_down, .drop = r_drop, .attach = r_attach, .up = r_up
};

static const struct pvk_fe_link_ops ops_early = { .down = r_down,
	                                          .drop = r_drop,
	                                          .attach = r_attach,
	                                          .attach_early = r_early,
	                                          .check = r_check,
	                                          .up = r_up };

static void step(struct pvk_fe_link *l, struct rec *r, long long st)
{
	pvk_fe_follow(NULL, l, st, &ops, r);
}

static void step_early(struct pvk_fe_link *l, struct rec *r, long long st)
{
	pvk_fe_follow(NULL, l, st, &ops_early, r);
}

/* With attach_early: the ring is published as soon as the toolstack has
 * written the backend's directory again (Initialising), and checked
 * against the backend's offer once, at its InitWait or Connected. */
static void test_early_attach(void **state)
{
	struct pvk_fe_link l = { .phase = PVK_FE_UP };
	struct rec r = { 0 };

	step_early(&l, &r, -1);
	assert_int_equal(l.phase, PVK_FE_DOWN);
	step_early(&l, &r, XB_INITIALISING);
	assert_int_equal(l.phase, PVK_FE_JOINING);
	assert_true(l.early);
	step_early(&l, &r, XB_INITIALISING); /* a second event: kept, no second ring */
	assert_int_equal(l.phase, PVK_FE_JOINING);
	step_early(&l, &r, XB_INITWAIT);
	assert_false(l.early);
	step_early(&l, &r, XB_INITWAIT);
	step_early(&l, &r, XB_CONNECTED);
	assert_int_equal(l.phase, PVK_FE_UP);
	assert_string_equal(r.calls, "down early check up ");
}

/* The backend connected at its first look: Connected is the first offer
 * seen, checked, then up, in one step. */
static void test_early_straight_to_connected(void **state)
{
	struct pvk_fe_link l = { .phase = PVK_FE_UP };
	struct rec r = { 0 };

	step_early(&l, &r, XB_INITIALISING);
	step_early(&l, &r, XB_CONNECTED);
	assert_int_equal(l.phase, PVK_FE_UP);
	assert_int_equal(l.recoveries, 1);
	assert_string_equal(r.calls, "down early check up ");
}

/* No early ring (nothing offered yet since boot, say): the usual attach
 * at InitWait. */
static void test_early_attach_fails(void **state)
{
	struct pvk_fe_link l = { .phase = PVK_FE_UP };
	struct rec r = { .early_rc = -61 };

	step_early(&l, &r, XB_INITIALISING);
	assert_int_equal(l.phase, PVK_FE_DOWN);
	step_early(&l, &r, XB_INITWAIT);
	step_early(&l, &r, XB_CONNECTED);
	assert_string_equal(r.calls, "down early attach up ");
}

/* The offer at InitWait does not fit the early ring: it is dropped and
 * the usual attach, on the new offer, follows in the same step. */
static void test_early_ring_does_not_fit(void **state)
{
	struct pvk_fe_link l = { .phase = PVK_FE_UP };
	struct rec r = { .check_rc = -95 };

	step_early(&l, &r, XB_INITIALISING);
	step_early(&l, &r, XB_INITWAIT);
	assert_int_equal(l.phase, PVK_FE_JOINING);
	assert_false(l.early);
	step_early(&l, &r, XB_CONNECTED);
	assert_string_equal(r.calls, "down early check drop attach up ");
}

/* Gone again while the early ring waits: dropped; the next rewrite of
 * the directory publishes another. */
static void test_early_backend_dies_again(void **state)
{
	struct pvk_fe_link l = { .phase = PVK_FE_UP };
	struct rec r = { 0 };

	step_early(&l, &r, XB_INITIALISING);
	step_early(&l, &r, -1);
	assert_int_equal(l.phase, PVK_FE_DOWN);
	assert_false(l.early);
	step_early(&l, &r, XB_INITIALISING);
	step_early(&l, &r, XB_CONNECTED);
	assert_string_equal(r.calls, "down early drop early check up ");
}

/* The toolstack's restart, as the store shows it: gone, Initialising,
 * InitWait, then Connected once the frontend published its new ring. */
static void test_restart_in_place(void **state)
{
	struct pvk_fe_link l = { .phase = PVK_FE_UP };
	struct rec r = { 0 };

	step(&l, &r, XB_CONNECTED); /* the watch's first event: nothing */
	assert_string_equal(r.calls, "");
	step(&l, &r, -1);
	assert_int_equal(l.phase, PVK_FE_DOWN);
	assert_int_equal(r.down_st, -1);
	step(&l, &r, XB_INITIALISING);
	step(&l, &r, XB_INITWAIT);
	assert_int_equal(l.phase, PVK_FE_JOINING);
	step(&l, &r, XB_INITWAIT); /* a second event: no second ring */
	step(&l, &r, XB_CONNECTED);
	assert_int_equal(l.phase, PVK_FE_UP);
	assert_int_equal(l.recoveries, 1);
	assert_string_equal(r.calls, "down attach up ");
	assert_true(r.down_ms < 10000);
}

/* Events coalesced: the first one seen is already InitWait. */
static void test_straight_to_initwait(void **state)
{
	struct pvk_fe_link l = { .phase = PVK_FE_UP };
	struct rec r = { 0 };

	step(&l, &r, XB_INITWAIT);
	assert_string_equal(r.calls, "down attach ");
	assert_int_equal(r.down_st, XB_INITWAIT);
	assert_int_equal(l.phase, PVK_FE_JOINING);
}

/* A failed attach (say the backend dropped a required feature) waits
 * for the next InitWait; the backend dying during the handshake drops
 * the new ring and waits again; only the first step is a "down". */
static void test_attach_fails_and_backend_dies_again(void **state)
{
	struct pvk_fe_link l = { .phase = PVK_FE_UP };
	struct rec r = { .attach_rc = -95 };

	step(&l, &r, XB_CLOSING);
	step(&l, &r, XB_INITWAIT);
	assert_int_equal(l.phase, PVK_FE_DOWN);
	r.attach_rc = 0;
	step(&l, &r, XB_INITWAIT);
	assert_int_equal(l.phase, PVK_FE_JOINING);
	step(&l, &r, -1); /* gone again: not a refusal, no start over */
	assert_int_equal(l.phase, PVK_FE_DOWN);
	assert_int_equal(l.retries, 0);
	step(&l, &r, XB_INITWAIT);
	step(&l, &r, XB_CONNECTED);
	assert_string_equal(r.calls, "down attach attach drop attach up ");
	assert_int_equal(l.recoveries, 1);
}

/* Connected seen while down (a stale event) does not bring it up. */
static void test_connected_while_down_is_ignored(void **state)
{
	struct pvk_fe_link l = { .phase = PVK_FE_DOWN };
	struct rec r = { 0 };

	step(&l, &r, XB_CONNECTED);
	assert_int_equal(l.phase, PVK_FE_DOWN);
	assert_string_equal(r.calls, "");
}

static void test_state_names(void **state)
{
	assert_string_equal(pvk_fe_state_name(-1), "gone");
	assert_string_equal(pvk_fe_state_name(XB_INITIALISING), "Initialising");
	assert_string_equal(pvk_fe_state_name(XB_CLOSING), "Closing");
	assert_string_equal(pvk_fe_state_name(99), "invalid");
}

/* ---- starting over: pvk_fe_follow's one write, against a real store ---- */

static struct xs_daemon D;

static int store_up(void **state)
{
	return xs_daemon_start(&D, NULL) == 0 ? 0 : -1;
}

static int store_down(void **state)
{
	return xs_daemon_stop(&D) == 0 ? 0 : -1;
}

/* Our state as the store has it (relative: dom0's directory here, as
 * the connection is dom0's), or -1 when it is not there. */
static long long fe_state(struct bhxs *xs)
{
	return pvk_fe_read_state(xs, "device/vif/0");
}

/* A backend that connected to a ring published ahead, on an offer the
 * ring does not fit (its new features differ): the ring is dropped and
 * the frontend writes its state back to Initialising, which the backend
 * takes as a request to start over; at its InitWait the usual attach
 * follows, on the new offer, and at its Connected the link is up. */
static void test_start_over_after_unfit_early_ring(void **state)
{
	struct pvk_fe_link l = { .phase = PVK_FE_UP, .fe = "device/vif/0", .be = "/be" };
	struct rec r = { .check_rc = -EOPNOTSUPP };
	struct bhxs *xs;

	assert_int_equal(bhxs_open_socket(D.sock, &xs), 0);
	assert_int_equal(bhxs_write_str(xs, 0, "device/vif/0/state", "4"), 0);
	pvk_fe_follow(xs, &l, XB_INITIALISING, &ops_early, &r);
	assert_int_equal(l.phase, PVK_FE_JOINING);
	assert_true(l.early);
	assert_int_equal(fe_state(xs), XB_CONNECTED); /* nothing written yet */

	pvk_fe_follow(xs, &l, XB_CONNECTED, &ops_early, &r);
	assert_int_equal(l.phase, PVK_FE_DOWN);
	assert_false(l.early);
	assert_int_equal(l.retries, 1);
	assert_int_equal(fe_state(xs), XB_INITIALISING);

	/* No second early ring in this outage (an Initialising seen now
	 * changes nothing); at the backend's InitWait the usual attach. */
	pvk_fe_follow(xs, &l, XB_INITIALISING, &ops_early, &r);
	assert_int_equal(l.phase, PVK_FE_DOWN);
	pvk_fe_follow(xs, &l, XB_INITWAIT, &ops_early, &r);
	assert_int_equal(l.phase, PVK_FE_JOINING);
	pvk_fe_follow(xs, &l, XB_CONNECTED, &ops_early, &r);
	assert_int_equal(l.phase, PVK_FE_UP);
	assert_int_equal(l.recoveries, 1);
	assert_string_equal(r.calls, "down early check drop attach up ");
	bhxs_close(xs);
}

/* A backend that keeps refusing the new ring (Closing after each
 * handshake) is asked to start over three times in one outage, then left
 * alone; the next outage asks again. */
static void test_start_over_at_most_three_times(void **state)
{
	struct pvk_fe_link l = { .phase = PVK_FE_UP, .fe = "device/vif/0", .be = "/be" };
	struct rec r = { 0 };
	struct bhxs *xs;

	assert_int_equal(bhxs_open_socket(D.sock, &xs), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(bhxs_write_str(xs, 0, "device/vif/0/state", "4"), 0);
		pvk_fe_follow(xs, &l, XB_INITWAIT, &ops_early, &r);
		assert_int_equal(l.phase, PVK_FE_JOINING);
		pvk_fe_follow(xs, &l, XB_CLOSING, &ops_early, &r);
		assert_int_equal(l.phase, PVK_FE_DOWN);
		assert_int_equal(fe_state(xs), i < 3 ? XB_INITIALISING : XB_CONNECTED);
	}
	/* Back for good, then gone again: a new outage, asked again. */
	pvk_fe_follow(xs, &l, XB_INITWAIT, &ops_early, &r);
	pvk_fe_follow(xs, &l, XB_CONNECTED, &ops_early, &r);
	assert_int_equal(l.phase, PVK_FE_UP);
	pvk_fe_follow(xs, &l, -1, &ops_early, &r);
	pvk_fe_follow(xs, &l, XB_INITWAIT, &ops_early, &r);
	assert_int_equal(bhxs_write_str(xs, 0, "device/vif/0/state", "4"), 0);
	pvk_fe_follow(xs, &l, XB_CLOSING, &ops_early, &r);
	assert_int_equal(fe_state(xs), XB_INITIALISING);
	bhxs_close(xs);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_restart_in_place),
	cmocka_unit_test(test_straight_to_initwait),
	cmocka_unit_test(test_attach_fails_and_backend_dies_again),
	cmocka_unit_test(test_connected_while_down_is_ignored),
	cmocka_unit_test(test_state_names),
	cmocka_unit_test(test_early_attach),
	cmocka_unit_test(test_early_straight_to_connected),
	cmocka_unit_test(test_early_attach_fails),
	cmocka_unit_test(test_early_ring_does_not_fit),
	cmocka_unit_test(test_early_backend_dies_again),
	cmocka_unit_test_setup_teardown(test_start_over_after_unfit_early_ring, store_up,
	                                store_down),
	cmocka_unit_test_setup_teardown(test_start_over_at_most_three_times, store_up, store_down),
};

BH_TEST_MAIN(tests)
