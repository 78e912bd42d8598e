/* The frontends' pipelined handshake helpers (xbfront.h: pvk_fe_read_uints,
 * pvk_fe_put, pvk_fe_write_batch) against a real store daemon. */
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

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_read_uints),
	cmocka_unit_test(test_write_batch),
	cmocka_unit_test(test_read_too_many),
};

BH_TEST_MAIN_FIXTURES(tests, setup, teardown)
