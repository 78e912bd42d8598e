/* The watchdog's restart policy (backoff and crash-loop limit) and its
 * bookkeeping, without a host. The hang detection and fault injection are
 * exercised on a real host by tests/watchdog_test.sh. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/bhtest.h"
#include "toolstack/toolstack.h"
#include "toolstack/watchdog.h"

#define S  1000000000ull
#define MS 1000000ull

static void test_backoff_doubles_and_caps(void **state)
{
	(void)state;
	assert_int_equal(bhwd_backoff_ns(0), 0);
	assert_int_equal(bhwd_backoff_ns(1), 500 * MS);
	assert_int_equal(bhwd_backoff_ns(2), 1 * S);
	assert_int_equal(bhwd_backoff_ns(3), 2 * S);
	assert_int_equal(bhwd_backoff_ns(4), 4 * S);
	assert_int_equal(bhwd_backoff_ns(5), 8 * S);
	assert_int_equal(bhwd_backoff_ns(6), 8 * S);
	assert_int_equal(bhwd_backoff_ns(1000), 8 * S);
}

/* Consecutive deaths a second apart: 0, 0.5, 1, 2 s of backoff, then the
 * fifth restart within the window is refused and the domain is failed. */
static void test_policy_limit_fails_domain(void **state)
{
	struct bhwd_dom w = { 0 };
	uint64_t now = 1000 * S, delay = 99;
	const uint64_t want[] = { 0, 500 * MS, 1 * S, 2 * S };

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(bhwd_policy(&w, now, 4, 60, &delay), BHWD_RESTART);
		assert_int_equal(delay, want[i]);
		assert_false(w.failed);
		now += S;
	}
	assert_int_equal(w.nrestart, 4);
	assert_int_equal(bhwd_policy(&w, now, 4, 60, &delay), BHWD_FAIL);
	assert_true(w.failed);
	assert_int_equal(w.nrestart, 4); /* a refused restart is not counted */
}

/* Restarts older than the window no longer count, and a quiet window
 * starts the backoff afresh. */
static void test_policy_window_forgets(void **state)
{
	struct bhwd_dom w = { 0 };
	uint64_t now = 5 * S, delay;

	(void)state;
	for (unsigned i = 0; i < 3; i++, now += S)
		assert_int_equal(bhwd_policy(&w, now, 3, 10, &delay), BHWD_RESTART);
	assert_int_equal(bhwd_policy(&w, now, 3, 10, &delay), BHWD_FAIL);
	w.failed = false; /* an operator's second chance, ten quiet seconds on */
	now += 10 * S;
	assert_int_equal(bhwd_policy(&w, now, 3, 10, &delay), BHWD_RESTART);
	assert_int_equal(delay, 0);
	assert_int_equal(w.streak, 1);
}

/* 0 means the defaults: 5 restarts in 60 s. */
static void test_policy_defaults(void **state)
{
	struct bhwd_dom w = { 0 };
	uint64_t now = 100 * S, delay;

	(void)state;
	for (unsigned i = 0; i < BHWD_DEFAULT_LIMIT; i++, now += 2 * S)
		assert_int_equal(bhwd_policy(&w, now, 0, 0, &delay), BHWD_RESTART);
	assert_int_equal(bhwd_policy(&w, now, 0, 0, &delay), BHWD_FAIL);
	/* 59 s after the first restart it is still inside the window */
	w.failed = false;
	assert_int_equal(bhwd_policy(&w, 100 * S + 59 * S, 0, 0, &delay), BHWD_FAIL);
	/* and once the oldest leaves the window one more restart is allowed */
	w.failed = false;
	assert_int_equal(bhwd_policy(&w, 100 * S + 61 * S, 0, 0, &delay), BHWD_RESTART);
}

/* A limit above what the ring remembers is clamped rather than never
 * tripping. */
static void test_policy_limit_clamped(void **state)
{
	struct bhwd_dom w = { 0 };
	uint64_t now = S, delay;
	unsigned n = 0;

	(void)state;
	while (bhwd_policy(&w, now, 1000, 3600, &delay) == BHWD_RESTART && n < 100) {
		n++;
		now += MS;
	}
	assert_int_equal(n, BHWD_HISTORY - 1);
	assert_true(w.failed);
}

static void test_fault_names(void **state)
{
	enum bhwd_fault f;

	(void)state;
	assert_int_equal(bhwd_fault_parse("crash", &f), 0);
	assert_int_equal(f, BHWD_FAULT_CRASH);
	assert_string_equal(bhwd_fault_name(f), "crash");
	assert_int_equal(bhwd_fault_parse("hang", &f), 0);
	assert_int_equal(f, BHWD_FAULT_HANG);
	assert_int_equal(bhwd_fault_parse("melt", &f), -EINVAL);
	assert_int_equal(bhwd_fault_parse(NULL, &f), -EINVAL);
	/* every fault round-trips through its name */
	for (int i = 0; i < BHWD_NFAULTS; i++) {
		assert_int_equal(bhwd_fault_parse(bhwd_fault_name((enum bhwd_fault)i), &f), 0);
		assert_int_equal(f, i);
	}
	assert_int_equal(bhwd_fault_parse("drop-notify", &f), 0);
	assert_int_equal(f, BHWD_FAULT_DROP_NOTIFY);
	assert_string_equal(bhwd_fault_name(BHWD_NFAULTS), "?");
}

/* The order line the driver domain's runtime parses (driverdom/inject.c). */
static void test_order_format(void **state)
{
	char buf[96];

	(void)state;
	bhwd_order_format(buf, sizeof(buf), 7, BHWD_FAULT_CORRUPT, true, 3, 51712, 0);
	assert_string_equal(buf, "7 corrupt vbd/3/51712 0");
	bhwd_order_format(buf, sizeof(buf), 8, BHWD_FAULT_DROP_NOTIFY, false, 4, 0, 2000);
	assert_string_equal(buf, "8 drop-notify vif/4/0 2000");
}

/* The dependents of a driver domain: every guest with a device on it, each
 * named once with its devices. */
static void test_dependents(void **state)
{
	struct bh_hc_client hc = { .fd = -1 };
	struct bhtool t;
	struct bhtool_dom *g1 = calloc(1, sizeof(*g1)), *g2 = calloc(1, sizeof(*g2));
	struct bhtool_dev *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)),
	                  *c = calloc(1, sizeof(*c));
	struct xlcfg_diags dg = { 0 };
	char buf[256];

	(void)state;
	pthread_mutex_init(&hc.lock, NULL);
	bhtool_init(&t, &hc, NULL);
	assert_int_equal(xlcfg_parse_string("g1", "name=\"web\"\n", NULL, 0, &g1->cfg, &dg), 0);
	assert_int_equal(xlcfg_parse_string("g2", "name=\"other\"\n", NULL, 0, &g2->cfg, &dg), 0);
	g1->domid = 5;
	g2->domid = 6;
	a->kind = BHTOOL_VBD;
	a->backend_domid = 3;
	a->disk.vdev = strdup("xvda");
	b->kind = BHTOOL_VIF;
	b->devid = 0;
	b->backend_domid = 3;
	c->kind = BHTOOL_VBD;
	c->backend_domid = 0; /* served by dom0: not a dependent of 3 */
	c->disk.vdev = strdup("xvdb");
	a->next = b;
	g1->devs = a;
	g2->devs = c;
	g1->next = g2;
	t.doms = g1;
	assert_int_equal(bhwd_dependents(&t, 3, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "web(5) vbd xvda, web(5) vif 0");
	assert_int_equal(bhwd_dependents(&t, 0, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "other(6) vbd xvdb");
	assert_int_equal(bhwd_dependents(&t, 9, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	/* a buffer too small for all keeps what fits, terminated */
	assert_int_equal(bhwd_dependents(&t, 3, buf, 20), 1);
	assert_string_equal(buf, "web(5) vbd xvda");
	bhtool_fini(&t);
	xlcfg_diags_free(&dg);
	pthread_mutex_destroy(&hc.lock);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_backoff_doubles_and_caps),
	cmocka_unit_test(test_policy_limit_fails_domain),
	cmocka_unit_test(test_policy_window_forgets),
	cmocka_unit_test(test_policy_defaults),
	cmocka_unit_test(test_policy_limit_clamped),
	cmocka_unit_test(test_fault_names),
	cmocka_unit_test(test_order_format),
	cmocka_unit_test(test_dependents),
};

BH_TEST_MAIN(tests)
