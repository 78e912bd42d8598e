/* The console ring helpers: wrap-around, full rings, and corrupt indices
 * written by a hostile peer. */
#include <errno.h>
#include <string.h>

#include "common/bhtest.h"
#include "common/consring.h"

static void test_round_trip_with_wrap(void **state)
{
	static struct bh_cons_intf c;
	char buf[5000], out[5000];

	(void)state;
	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)('a' + i % 26);
	size_t sent = 0, got = 0;
	while (got < sizeof(buf)) {
		ssize_t w = bh_cons_guest_write(&c, buf + sent, sizeof(buf) - sent);
		assert_true(w >= 0);
		sent += (size_t)w;
		ssize_t r = bh_cons_back_read(&c, out + got, 700);
		assert_true(r >= 0);
		got += (size_t)r;
	}
	assert_memory_equal(buf, out, sizeof(buf));
}

static void test_full_ring_takes_no_more(void **state)
{
	static struct bh_cons_intf c;
	char buf[4096] = { 0 };

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(bh_cons_guest_write(&c, buf, sizeof(buf)), BH_CONS_OUT_SIZE);
	assert_int_equal(bh_cons_guest_write(&c, buf, 1), 0);
	assert_int_equal(bh_cons_back_write(&c, buf, sizeof(buf)), BH_CONS_IN_SIZE);
	assert_int_equal(bh_cons_guest_read(&c, buf, sizeof(buf)), BH_CONS_IN_SIZE);
}

static void test_corrupt_indices_are_refused(void **state)
{
	static struct bh_cons_intf c;
	char buf[64];

	(void)state;
	memset(&c, 0, sizeof(c));
	c.out_prod = 100000; /* the guest claims more than the ring holds */
	assert_int_equal(bh_cons_back_read(&c, buf, sizeof(buf)), -EIO);
	assert_int_equal(c.out_cons, 0);
	c.in_cons = 5000; /* the guest consumed past what we produced */
	assert_int_equal(bh_cons_back_write(&c, "x", 1), -EIO);
	assert_int_equal(c.in_prod, 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_round_trip_with_wrap),
	cmocka_unit_test(test_full_ring_takes_no_more),
	cmocka_unit_test(test_corrupt_indices_are_refused),
};

BH_TEST_MAIN(tests)
