/* io_uring: the only way the engine touches an image.
 *
 * The ring is created disabled and restricted to the four operations the
 * blkif protocol needs (readv, writev, fsync, fallocate) and no
 * registration op, before it is enabled: a bug elsewhere in the process
 * cannot turn it into a general I/O engine. A request's response is
 * written only from its completion: a write is acknowledged once the
 * kernel took it, a flush once fdatasync returned. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "blkback/blkback_int.h"

/* Debian's liburing 2.3 declares io_uring_register_restrictions() and
 * io_uring_enable_rings() but its shared object lacks them: call the
 * system call directly. */
static int uring_register(struct blkback *bb, unsigned op, const void *arg, unsigned n)
{
	long r = syscall(__NR_io_uring_register, bb->uring.ring_fd, op, arg, n);

	return r < 0 ? -errno : 0;
}

int bb_uring_init(struct blkback *bb)
{
	struct io_uring_params p = { .flags = IORING_SETUP_R_DISABLED };
	struct io_uring_restriction res[4] = {
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FSYNC },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FALLOCATE },
	};
	int rc;

	rc = io_uring_queue_init_params(bb->cfg.queue_depth, &bb->uring, &p);
	if (rc < 0)
		return rc;
	bb->uring_ok = true;
	bb->uring_cap = p.cq_entries;
	if ((rc = uring_register(bb, IORING_REGISTER_RESTRICTIONS, res, 4)) < 0)
		return rc;
	return uring_register(bb, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
}

void bb_uring_exit(struct blkback *bb)
{
	if (bb->uring_ok)
		io_uring_queue_exit(&bb->uring);
	bb->uring_ok = false;
}

static struct io_uring_sqe *get_sqe(struct blkback *bb)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&bb->uring);

	if (!sqe) {
		bb_uring_flush(bb);
		sqe = io_uring_get_sqe(&bb->uring);
	}
	if (sqe) {
		bb->sq_pending++;
		bb->uring_inflight++;
	}
	return sqe;
}

int bb_submit_rw(struct blkback *bb, struct bb_req *q)
{
	struct bb_vbd *v = &bb->vbd[q->ring->vbd];
	struct io_uring_sqe *sqe = get_sqe(bb);
	uint64_t off = q->sector << BLKIF_SECTOR_SHIFT;

	if (!sqe)
		return -EBUSY;
	if (q->kind == BLKIF_OP_READ)
		io_uring_prep_readv(sqe, v->fd, q->iov, q->nseg, off);
	else
		io_uring_prep_writev(sqe, v->fd, q->iov, q->nseg, off);
	io_uring_sqe_set_data(sqe, q);
	return 0;
}

int bb_submit_flush(struct blkback *bb, struct bb_req *q)
{
	struct io_uring_sqe *sqe = get_sqe(bb);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fsync(sqe, bb->vbd[q->ring->vbd].fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, q);
	return 0;
}

int bb_submit_discard(struct blkback *bb, struct bb_req *q, uint64_t off, uint64_t len)
{
	struct io_uring_sqe *sqe = get_sqe(bb);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fallocate(sqe, bb->vbd[q->ring->vbd].fd,
	                        FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	io_uring_sqe_set_data(sqe, q);
	return 0;
}

void bb_uring_flush(struct blkback *bb)
{
	if (bb->sq_pending) {
		int r = io_uring_submit(&bb->uring);
		if (r > 0)
			bb->sq_pending -= BH_MIN((uint32_t)r, bb->sq_pending);
		else if (r < 0 && r != -EAGAIN && r != -EBUSY)
			bb_log(bb, "io_uring_submit: %s", strerror(-r));
	}
}

/* What a completion means for the request, as a blkif status. */
static int16_t complete_one(struct blkback *bb, struct bb_req *q, int res)
{
	struct bb_vbd *v = &bb->vbd[q->ring->vbd];

	switch (q->kind) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		if (res < 0 || (uint64_t)res != q->bytes)
			return BLKIF_RSP_ERROR;
		/* A write that finishes after a flush failed is not acknowledged
		 * either: nothing written to this image may now be promised. */
		if (q->kind == BLKIF_OP_WRITE && v->sticky)
			return BLKIF_RSP_ERROR;
		if (q->kind == BLKIF_OP_READ) {
			v->st.reads++;
			v->st.read_bytes += q->bytes;
		} else {
			v->st.writes++;
			v->st.write_bytes += q->bytes;
		}
		return BLKIF_RSP_OKAY;
	case BLKIF_OP_FLUSH_DISKCACHE:
		if (res < 0) {
			/* Sticky: the page cache may have dropped the data, so no
			 * later flush may claim it reached the disk. */
			if (!v->sticky)
				bb_log(bb, "%s: fdatasync failed: %s; failing all later writes",
				       v->name, strerror(-res));
			v->sticky = v->sticky ? v->sticky : res;
			return BLKIF_RSP_ERROR;
		}
		if (v->sticky)
			return BLKIF_RSP_ERROR;
		v->st.flushes++;
		return BLKIF_RSP_OKAY;
	case BLKIF_OP_DISCARD:
		if (res == -EOPNOTSUPP)
			return BLKIF_RSP_EOPNOTSUPP;
		if (res < 0)
			return BLKIF_RSP_ERROR;
		v->st.discards++;
		return BLKIF_RSP_OKAY;
	}
	return BLKIF_RSP_ERROR;
}

/* Complete what finished; with wait, block for at least one completion. */
int bb_reap(struct blkback *bb, bool wait)
{
	struct io_uring_cqe *cqe;
	int n = 0;

	bb_uring_flush(bb);
	if (wait && io_uring_wait_cqe(&bb->uring, &cqe) < 0)
		return 0;
	while (io_uring_peek_cqe(&bb->uring, &cqe) == 0) {
		struct bb_req *q = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&bb->uring, cqe);
		bb->uring_inflight--;
		bb_respond(bb, q, complete_one(bb, q, res));
		n++;
	}
	return n;
}
