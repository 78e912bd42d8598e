/* The baseline: the same I/O issued directly with io_uring on the image,
 * one submit-and-wait system call per batch. */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "bench/blk/paths.h"

struct direct {
	struct io_uring ring;
	int fd;
	struct iovec iov[BB_MAX_DEPTH];
};

static int d_submit(void *p, int slot, bool write, uint64_t off, void *buf, uint32_t len)
{
	struct direct *d = p;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	if (!sqe)
		return -EAGAIN;
	d->iov[slot] = (struct iovec){ buf, len };
	if (write)
		io_uring_prep_writev(sqe, d->fd, &d->iov[slot], 1, off);
	else
		io_uring_prep_readv(sqe, d->fd, &d->iov[slot], 1, off);
	io_uring_sqe_set_data(sqe, (void *)(intptr_t)slot);
	return 0;
}

static int d_wait(void *p, int *slots, int max, uint64_t *errors)
{
	struct direct *d = p;
	struct io_uring_cqe *cqe;
	int n = 0, rc;

	if ((rc = io_uring_submit_and_wait(&d->ring, 1)) < 0)
		return rc;
	while (n < max && io_uring_peek_cqe(&d->ring, &cqe) == 0) {
		if (cqe->res < 0)
			(*errors)++;
		slots[n++] = (int)(intptr_t)io_uring_cqe_get_data(cqe);
		io_uring_cqe_seen(&d->ring, cqe);
	}
	return n;
}

int bb_direct_open(int fd, struct bb_target *t)
{
	struct direct *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	if ((rc = io_uring_queue_init(BB_MAX_DEPTH * 2, &d->ring, 0)) < 0) {
		free(d);
		return rc;
	}
	d->fd = fd;
	*t = (struct bb_target){ .p = d, .submit = d_submit, .wait = d_wait };
	return 0;
}

void bb_direct_close(struct bb_target *t)
{
	struct direct *d = t->p;

	io_uring_queue_exit(&d->ring);
	free(d);
}
