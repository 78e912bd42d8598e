/* The baseline: the same I/O issued directly with io_uring. */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench/blk/workload.h"
#include "common/util.h"

double bb_run_direct(int fd, const struct bb_workload *w, char **bufs, int depth, double secs,
                     uint64_t img)
{
	struct io_uring ring;
	struct iovec iov[64];
	int free_slots[64], nfree = depth, inflight = 0;
	uint64_t pos = 0, seed = BB_SEED, ops = 0;
	uint64_t t0 = bh_now_ns(), end = t0 + (uint64_t)(secs * 1e9);

	if (io_uring_queue_init((unsigned)depth * 2, &ring, 0) < 0)
		return 0;
	for (int i = 0; i < depth; i++)
		free_slots[i] = i;
	for (;;) {
		bool stop = bh_now_ns() >= end;
		while (!stop && nfree > 0) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			int s = free_slots[--nfree];
			iov[s] = (struct iovec){ bufs[s], w->bs };
			uint64_t off = bb_next_off(w, img, &pos, &seed);
			if (w->write)
				io_uring_prep_writev(sqe, fd, &iov[s], 1, off);
			else
				io_uring_prep_readv(sqe, fd, &iov[s], 1, off);
			io_uring_sqe_set_data(sqe, (void *)(intptr_t)s);
			inflight++;
		}
		if (inflight == 0)
			break;
		io_uring_submit_and_wait(&ring, 1);
		struct io_uring_cqe *cqe;
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			free_slots[nfree++] = (int)(intptr_t)io_uring_cqe_get_data(cqe);
			io_uring_cqe_seen(&ring, cqe);
			inflight--;
			ops++;
		}
	}
	io_uring_queue_exit(&ring);
	return (double)ops / ((double)(bh_now_ns() - t0) / 1e9);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bb_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int bb_prefill(int fd, uint64_t img)
{
	char *b = malloc(1 << 20);

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < 1 << 20; i++)
		b[i] = (char)(i * 13);
	for (uint64_t off = 0; off < img; off += 1 << 20)
		if (pwrite(fd, b, 1 << 20, (off_t)off) != 1 << 20) {
			free(b);
			return -EIO;
		}
	free(b);
	return fdatasync(fd) < 0 ? -errno : 0;
}
