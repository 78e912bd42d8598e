/* The frontends' pipelined handshake helpers (xbfront.h: pvk_fe_read_uints,
 * pvk_fe_put, pvk_fe_write_batch), and pvk_fe_follow's one write (a
 * frontend asking its backend to start over), against a real store
 * daemon. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/bhtest.h"
#include "pvkernel/xbfront.h"
#include "xenstored/bhxs.h"
#include "xenstored/xs_daemon.h"

static struct xs_daemon D;

static int setup(void **state)
{
	return xs_daemon_start(&D, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	return xs_daemon_stop(&D) == 0 ? 0 : -1;
}

/* Present, missing (the default) and not a number (the default, and that
 * key's error returned) in one batch. */
static void test_read_uints(void **state)
{
	struct bhxs *xs;
	unsigned long long a = 0, b = 0, c = 0;

	assert_int_equal(bhxs_open_socket(D.sock, &xs), 0);
	assert_int_equal(bhxs_write_str(xs, 0, "/be/feature-sg", "1"), 0);
	assert_int_equal(bhxs_write_str(xs, 0, "/be/sectors", "2048"), 0);
	struct pvk_fe_key k[] = { { "feature-sg", 7, &a },
		                  { "missing", 9, &b },
		                  { "sectors", 0, &c } };
	assert_int_equal(pvk_fe_read_uints(xs, "/be", k, 3), 0);
	assert_int_equal(a, 1);
	assert_int_equal(b, 9);
	assert_int_equal(c, 2048);
	assert_int_equal(k[1].rc, 0);

	assert_int_equal(bhxs_write_str(xs, 0, "/be/feature-sg", "yes"), 0);
	assert_int_equal(pvk_fe_read_uints(xs, "/be", k, 3), -EINVAL);
	assert_int_equal(k[0].rc, -EINVAL);
	assert_int_equal(a, 7); /* the default, not what was there before */
	assert_int_equal(k[2].rc, 0);
	assert_int_equal(c, 2048); /* the keys after it are still read */
	bhxs_close(xs);
}

/* The writes land in the order put, the state last; more than the batch
 * holds is refused whole, nothing written. */
static void test_write_batch(void **state)
{
	struct bhxs *xs;
	struct pvk_fe_batch *b = calloc(1, sizeof(*b));
	char *v = NULL;
	size_t len;

	assert_non_null(b);
	assert_int_equal(bhxs_open_socket(D.sock, &xs), 0);
	pvk_fe_put(b, "/fe", "ring-ref", "%u", 8u);
	pvk_fe_put(b, "/fe", "protocol", "%s", "x86_64-abi");
	pvk_fe_put(b, "/fe", "state", "%u", XB_INITIALISED);
	assert_int_equal(pvk_fe_write_batch(xs, b), 0);
	assert_int_equal(bhxs_read(xs, 0, "/fe/ring-ref", &v, &len), 0);
	assert_string_equal(v, "8");
	free(v);
	assert_int_equal(bhxs_read(xs, 0, "/fe/state", &v, &len), 0);
	assert_string_equal(v, "3");
	free(v);

	memset(b, 0, sizeof(*b));
	for (int i = 0; i <= PVK_FE_BATCH_MAX; i++)
		pvk_fe_put(b, "/big", "k", "%d", i);
	assert_int_equal(b->n, PVK_FE_BATCH_MAX);
	assert_int_equal(pvk_fe_write_batch(xs, b), -E2BIG);
	assert_int_equal(bhxs_read(xs, 0, "/big/k", &v, &len), -ENOENT);
	free(b);
	bhxs_close(xs);
}

/* Too many keys for one batch: refused before anything is sent. */
static void test_read_too_many(void **state)
{
	struct bhxs *xs;
	unsigned long long v[PVK_FE_BATCH_MAX + 1];
	struct pvk_fe_key k[PVK_FE_BATCH_MAX + 1];

	assert_int_equal(bhxs_open_socket(D.sock, &xs), 0);
	for (int i = 0; i <= PVK_FE_BATCH_MAX; i++)
		k[i] = (struct pvk_fe_key){ "k", 0, &v[i] };
	assert_int_equal(pvk_fe_read_uints(xs, "/be", k, PVK_FE_BATCH_MAX + 1), -E2BIG);
	bhxs_close(xs);
}

/* ---- starting over (pvk_fe_follow's write of our state) ---- */

struct calls {
	char s[128];
	int check_rc;
};

static void c_add(void *arg, const char *what)
{
	struct calls *c = arg;

	strncat(c->s, what, sizeof(c->s) - strlen(c->s) - 1);
}

static void c_down(void *arg, long long st)
{
	(void)st;
	c_add(arg, "down ");
}

static void c_drop(void *arg)
{
	c_add(arg, "drop ");
}

static int c_attach(struct bhxs *xs, void *arg)
{
	(void)xs;
	c_add(arg, "attach ");
	return 0;
}

static int c_early(struct bhxs *xs, void *arg)
{
	(void)xs;
	c_add(arg, "early ");
	return 0;
}

static int c_check(struct bhxs *xs, void *arg)
{
	(void)xs;
	c_add(arg, "check ");
	return ((struct calls *)arg)->check_rc;
}

static void c_up(struct bhxs *xs, void *arg, uint64_t down_ms)
{
	(void)xs;
	(void)down_ms;
	c_add(arg, "up ");
}

static const struct pvk_fe_link_ops follow_ops = { .down = c_down,
	                                           .drop = c_drop,
	                                           .attach = c_attach,
	                                           .attach_early = c_early,
	                                           .check = c_check,
	                                           .up = c_up };

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
	struct calls c = { .check_rc = -EOPNOTSUPP };
	struct bhxs *xs;

	assert_int_equal(bhxs_open_socket(D.sock, &xs), 0);
	assert_int_equal(bhxs_write_str(xs, 0, "device/vif/0/state", "4"), 0);
	pvk_fe_follow(xs, &l, XB_INITIALISING, &follow_ops, &c);
	assert_int_equal(l.phase, PVK_FE_JOINING);
	assert_true(l.early);
	assert_int_equal(fe_state(xs), XB_CONNECTED); /* nothing written yet */

	pvk_fe_follow(xs, &l, XB_CONNECTED, &follow_ops, &c);
	assert_int_equal(l.phase, PVK_FE_DOWN);
	assert_false(l.early);
	assert_int_equal(l.retries, 1);
	assert_int_equal(fe_state(xs), XB_INITIALISING);

	/* No second early ring in this outage (an Initialising seen now
	 * changes nothing); at the backend's InitWait the usual attach. */
	pvk_fe_follow(xs, &l, XB_INITIALISING, &follow_ops, &c);
	assert_int_equal(l.phase, PVK_FE_DOWN);
	pvk_fe_follow(xs, &l, XB_INITWAIT, &follow_ops, &c);
	assert_int_equal(l.phase, PVK_FE_JOINING);
	pvk_fe_follow(xs, &l, XB_CONNECTED, &follow_ops, &c);
	assert_int_equal(l.phase, PVK_FE_UP);
	assert_int_equal(l.recoveries, 1);
	assert_string_equal(c.s, "down early check drop attach up ");
	bhxs_close(xs);
}

/* A backend that keeps refusing the new ring (Closing after each
 * handshake) is asked to start over three times in one outage, then left
 * alone; the next outage asks again. */
static void test_start_over_at_most_three_times(void **state)
{
	struct pvk_fe_link l = { .phase = PVK_FE_UP, .fe = "device/vif/0", .be = "/be" };
	struct calls c = { 0 };
	struct bhxs *xs;

	assert_int_equal(bhxs_open_socket(D.sock, &xs), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(bhxs_write_str(xs, 0, "device/vif/0/state", "4"), 0);
		pvk_fe_follow(xs, &l, XB_INITWAIT, &follow_ops, &c);
		assert_int_equal(l.phase, PVK_FE_JOINING);
		pvk_fe_follow(xs, &l, XB_CLOSING, &follow_ops, &c);
		assert_int_equal(l.phase, PVK_FE_DOWN);
		assert_int_equal(fe_state(xs), i < 3 ? XB_INITIALISING : XB_CONNECTED);
	}
	/* Back for good, then gone again: a new outage, asked again. */
	pvk_fe_follow(xs, &l, XB_INITWAIT, &follow_ops, &c);
	pvk_fe_follow(xs, &l, XB_CONNECTED, &follow_ops, &c);
	assert_int_equal(l.phase, PVK_FE_UP);
	pvk_fe_follow(xs, &l, -1, &follow_ops, &c);
	pvk_fe_follow(xs, &l, XB_INITWAIT, &follow_ops, &c);
	assert_int_equal(bhxs_write_str(xs, 0, "device/vif/0/state", "4"), 0);
	pvk_fe_follow(xs, &l, XB_CLOSING, &follow_ops, &c);
	assert_int_equal(fe_state(xs), XB_INITIALISING);
	bhxs_close(xs);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_read_uints),
	cmocka_unit_test(test_write_batch),
	cmocka_unit_test(test_read_too_many),
	cmocka_unit_test(test_start_over_after_unfit_early_ring),
	cmocka_unit_test(test_start_over_at_most_three_times),
};

BH_TEST_MAIN_FIXTURES(tests, setup, teardown)
