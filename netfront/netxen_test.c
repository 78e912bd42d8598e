/* netfront and netback in two real sandboxed domains of a real core: the
 * rings, grant copies and event channels go through the ioctl/ layer and
 * the core's grant tables. Frames go out through netfront, netback's
 * device echoes them, and they come back; netback's data-page mappings
 * are reused across frames and dropped at the disconnect. Needs root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "tests/harness.h"

static int setup(void **state)
{
	struct th_host *h = calloc(1, sizeof(*h));

	if (geteuid() != 0) {
		free(h);
		*state = NULL;
		return 0;
	}
	assert_int_equal(th_host_start(h, NULL), 0);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct th_host *h = *state;

	if (h) {
		assert_int_equal(th_host_stop(h), 0);
		free(h);
	}
	return 0;
}

static void test_echo_between_domains(void **state)
{
	struct th_host *h = *state;
	struct bh_hc_create_resp r;
	struct bh_dominfo d;
	unsigned tx, rx, port;
	char a[3][16];

	if (!h)
		skip();
	const char *fe[] = { th_prog("netxen_probe"), "front", "61", NULL };
	assert_int_equal(th_create(h, "nf", BH_ROLE_GUEST, 64, 0, 60, fe, &r), 0);
	char *log = th_wait_log(h, "nf", "VIF ", 20000);
	assert_non_null(log);
	assert_int_equal(sscanf(strstr(log, "VIF "), "VIF %u %u %u", &tx, &rx, &port), 3);
	free(log);
	snprintf(a[0], sizeof(a[0]), "%u", tx);
	snprintf(a[1], sizeof(a[1]), "%u", rx);
	snprintf(a[2], sizeof(a[2]), "%u", port);
	const char *be[] = { th_prog("netxen_probe"), "back", "60", a[0], a[1], a[2], NULL };
	assert_int_equal(th_create(h, "nb", BH_ROLE_DRIVER, 64, 0, 61, be, &r), 0);
	assert_int_equal(th_wait_end(h, 60, 30000, &d), 0);
	assert_int_equal(th_wait_end(h, 61, 30000, &d), 0);
	char *flog = th_log(h, "nf"), *blog = th_log(h, "nb");

	print_message("frontend:\n%sbackend:\n%s", flog, blog);
	assert_non_null(strstr(flog, "ECHO OK"));
	assert_non_null(strstr(blog, "CONNECTED"));
	/* Each data page is mapped once, not per copy: netfront reuses its TX
	 * page for every frame here (hits), and the disconnect unmapped all. */
	unsigned long long maps, hits, unmaps;
	unsigned live;
	char *pm = strstr(blog, "PMAP ");
	assert_non_null(pm);
	assert_int_equal(sscanf(pm, "PMAP maps %llu hits %llu unmaps %llu live %u", &maps, &hits,
	                        &unmaps, &live),
	                 4);
	assert_true(hits >= 16);
	assert_true(maps <= 2ull * 32 + 4); /* at most one RX and one TX page per frame */
	assert_int_equal(unmaps, maps);
	assert_int_equal(live, 0);
	free(flog);
	free(blog);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_echo_between_domains),
};

BH_TEST_MAIN_FIXTURES(tests, setup, teardown)
