/* The console pump against an in-process ring page (conspump.h), with a
 * pipe or a real pty standing for init's console, and the test playing
 * the console backend through common/consring.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "common/consring.h"
#include "common/util.h"
#include "pvkernel/conspump.h"

#define FIFO (16u * 1024)

struct fx {
	struct bh_cons_intf ring;
	struct pvk_conspump p;
	int kicks;
	int pipe[2]; /* [1]: what init writes; [0]: the pump's "pty master" */
};

static void kick(void *arg)
{
	((struct fx *)arg)->kicks++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(pvk_conspump_init(&f->p, &f->ring, -1, FIFO, kick, f), 0);
	assert_int_equal(pipe2(f->pipe, O_NONBLOCK | O_CLOEXEC), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pvk_conspump_dispose(&f->p);
	close(f->pipe[0]);
	close(f->pipe[1]);
	free(f);
	return 0;
}

/* What the backend sees. */
static size_t back_read_all(struct fx *f, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n < cap && (r = bh_cons_back_read(&f->ring, buf + n, cap - n)) > 0)
		n += (size_t)r;
	return n;
}

static void test_output_reaches_the_ring_and_kicks(void **state)
{
	struct fx *f = *state;
	char buf[64];

	assert_int_equal(write(f->pipe[1], "hello\n", 6), 6);
	assert_int_equal(pvk_conspump_from_fd(&f->p, f->pipe[0]), 6);
	assert_int_equal(f->kicks, 1);
	assert_int_equal(pvk_conspump_pending(&f->p), 0);
	assert_int_equal(back_read_all(f, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "hello\n", 6);
	assert_int_equal(pvk_conspump_from_fd(&f->p, f->pipe[0]), -EAGAIN);
}

/* No backend consumes: the ring fills, then the FIFO up to its bound, then
 * the pump stops taking from the pty. Once the backend reads, every byte
 * arrives in order. */
static void test_full_ring_buffers_then_pushes_back_without_loss(void **state)
{
	struct fx *f = *state;
	size_t total = 0, limit = BH_CONS_OUT_SIZE + FIFO - PVK_CONS_KMSG_RESERVE;
	char chunk[1000];
	unsigned char seq = 0;

	for (;;) {
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = (char)seq++;
		ssize_t w = write(f->pipe[1], chunk, sizeof(chunk));
		if (w <= 0)
			break;
		seq = (unsigned char)(seq - (sizeof(chunk) - (size_t)w));
		while (pvk_conspump_from_fd(&f->p, f->pipe[0]) > 0) {
		}
		if (pvk_conspump_room(&f->p) == 0)
			break;
	}
	assert_int_equal(pvk_conspump_room(&f->p), 0);
	assert_int_equal(pvk_conspump_pending(&f->p), FIFO - PVK_CONS_KMSG_RESERVE);
	assert_int_equal(pvk_conspump_from_fd(&f->p, f->pipe[0]), 0); /* back pressure */
	/* a kernel message still fits in the reserve */
	assert_int_equal(pvk_conspump_kmsg(&f->p, "K", 1), 1);
	/* the backend drains; everything arrives in sequence */
	unsigned char expect = 0;
	char *buf = malloc(limit + 8);
	size_t got;
	do {
		got = back_read_all(f, buf, limit + 8);
		for (size_t i = 0; i < got; i++) {
			if (total + i == limit) {
				assert_int_equal(buf[i], 'K');
				continue;
			}
			assert_int_equal((unsigned char)buf[i], expect);
			expect++;
		}
		total += got;
		pvk_conspump_flush(&f->p);
	} while (got > 0);
	assert_int_equal(total, limit + 1);
	assert_int_equal(pvk_conspump_pending(&f->p), 0);
	free(buf);
}

static void test_kmsg_that_does_not_fit_is_refused_whole(void **state)
{
	struct fx *f = *state;
	char *big = calloc(1, BH_CONS_OUT_SIZE + FIFO + 1);

	assert_int_equal(pvk_conspump_kmsg(&f->p, big, BH_CONS_OUT_SIZE), BH_CONS_OUT_SIZE);
	assert_int_equal(pvk_conspump_kmsg(&f->p, big, FIFO + 1), 0);
	assert_int_equal(pvk_conspump_pending(&f->p), 0);
	free(big);
}

/* A backend that moves out_cons past out_prod: the ring is refused from
 * then on (nothing written beyond it) and output goes to the sink. */
static void test_corrupt_ring_is_refused_for_the_sink(void **state)
{
	struct bh_cons_intf ring = { .out_cons = 100, .out_prod = 0 };
	struct pvk_conspump p;
	int sink[2], in[2];
	char b[16];

	assert_int_equal(pipe2(sink, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(pipe2(in, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(pvk_conspump_init(&p, &ring, sink[1], FIFO, NULL, NULL), 0);
	assert_int_equal(write(in[1], "x", 1), 1);
	assert_int_equal(pvk_conspump_from_fd(&p, in[0]), 1);
	assert_true(p.corrupt);
	assert_null(p.ring);
	assert_int_equal(ring.out_prod, 0);
	assert_int_equal(pvk_conspump_flush(&p), 0);
	assert_int_equal(read(sink[0], b, sizeof(b)), 1);
	assert_int_equal(b[0], 'x');
	/* and input from a ring gone bad is never read */
	ring.in_prod = 5000;
	assert_int_equal(pvk_conspump_to_fd(&p, in[1]), 0);
	assert_int_equal(read(in[0], b, sizeof(b)), -1);
	pvk_conspump_dispose(&p);
	bh_close_fds(sink, 2);
	bh_close_fds(in, 2);
}

static void test_corrupt_in_ring_is_refused(void **state)
{
	struct fx *f = *state;

	f->ring.in_prod = 5000;
	assert_int_equal(pvk_conspump_to_fd(&f->p, f->pipe[1]), -EIO);
	assert_true(f->p.corrupt);
	assert_int_equal(f->ring.in_cons, 0);
}

/* Input: the backend writes `in`, the pump moves it to the pty; with the
 * pty full it is stashed, not lost, and taken off the ring only as the
 * stash empties. */
static void test_input_reaches_the_pty_with_a_stash(void **state)
{
	struct fx *f = *state;
	char buf[2048];
	int kicks;

	assert_int_equal(bh_cons_back_write(&f->ring, "ls\n", 3), 3);
	kicks = f->kicks;
	assert_int_equal(pvk_conspump_to_fd(&f->p, f->pipe[1]), 3);
	assert_int_equal(f->kicks, kicks + 1);
	assert_int_equal(read(f->pipe[0], buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "ls\n", 3);
	/* fill the pipe so the next write cannot go through */
	memset(buf, 'p', sizeof(buf));
	while (write(f->pipe[1], buf, sizeof(buf)) > 0) {
	}
	assert_int_equal(bh_cons_back_write(&f->ring, "abc", 3), 3);
	assert_int_equal(pvk_conspump_to_fd(&f->p, f->pipe[1]), 0);
	assert_true(pvk_conspump_in_pending(&f->p));
	assert_int_equal(f->ring.in_cons, 6); /* taken off the ring into the stash */
	while (read(f->pipe[0], buf, sizeof(buf)) > 0) {
	}
	assert_int_equal(pvk_conspump_to_fd(&f->p, f->pipe[1]), 3);
	assert_false(pvk_conspump_in_pending(&f->p));
	assert_int_equal(read(f->pipe[0], buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "abc", 3);
}

/* A real pty master: after the last slave descriptor closes, reading
 * says EIO, which the pump passes on. */
static void test_pty_hangup_is_reported(void **state)
{
	struct fx *f = *state;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK), s;
	char buf[16];

	assert_true(m >= 0);
	assert_int_equal(unlockpt(m), 0);
	s = open(ptsname(m), O_RDWR | O_NOCTTY);
	assert_true(s >= 0);
	assert_int_equal(write(s, "hi", 2), 2);
	close(s);
	usleep(20000);
	ssize_t r = pvk_conspump_from_fd(&f->p, m);
	/* "hi" comes through (with the tty's \r\n rules not involved) */
	if (r == 2) {
		assert_int_equal(back_read_all(f, buf, sizeof(buf)), 2);
		r = pvk_conspump_from_fd(&f->p, m);
	}
	assert_int_equal(r, -EIO);
	close(m);
}

/* Without a ring the console is a sink descriptor. */
static void test_no_ring_writes_to_the_sink(void **state)
{
	struct pvk_conspump p;
	int pp[2];
	char buf[32];

	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	assert_int_equal(pvk_conspump_init(&p, NULL, pp[1], FIFO, NULL, NULL), 0);
	assert_int_equal(pvk_conspump_kmsg(&p, "boot\n", 5), 5);
	assert_int_equal(read(pp[0], buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "boot\n", 5);
	assert_int_equal(pvk_conspump_to_fd(&p, pp[1]), 0);
	pvk_conspump_dispose(&p);
	close(pp[0]);
	close(pp[1]);
	assert_int_equal(pvk_conspump_init(&p, NULL, -1, PVK_CONS_KMSG_RESERVE, NULL, NULL),
	                 -EINVAL);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_output_reaches_the_ring_and_kicks, setup, teardown),
	cmocka_unit_test_setup_teardown(test_full_ring_buffers_then_pushes_back_without_loss, setup,
	                                teardown),
	cmocka_unit_test_setup_teardown(test_kmsg_that_does_not_fit_is_refused_whole, setup,
	                                teardown),
	cmocka_unit_test(test_corrupt_ring_is_refused_for_the_sink),
	cmocka_unit_test_setup_teardown(test_corrupt_in_ring_is_refused, setup, teardown),
	cmocka_unit_test_setup_teardown(test_input_reaches_the_pty_with_a_stash, setup, teardown),
	cmocka_unit_test_setup_teardown(test_pty_hangup_is_reported, setup, teardown),
	cmocka_unit_test(test_no_ring_writes_to_the_sink),
};

BH_TEST_MAIN(tests)
