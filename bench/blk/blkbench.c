/* blkbench: throughput and IOPS through blkfront -> blkback, against the
 * same I/O done directly with io_uring on the same image, in the same run.
 *
 *   blkbench [-s image_MiB] [-t seconds_per_run] [-r runs] [-q depth] [-d]
 *
 * The backend engine runs in its own thread (as it would in its driver
 * domain), the frontend in the main thread; between them the in-process
 * grant table and eventfd event channels of blkback/localgnt.h, so what is
 * measured is the protocol and the engine, not the core's hypercalls
 * (persistent grants make those a one-time cost anyway). -d opens the image
 * with O_DIRECT for both paths. Prints medians and the ratio per workload. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "blkback/blkback.h"
#include "blkback/localgnt.h"
#include "blkfront/blkfront.h"
#include "common/util.h"

#define FRONT 1
#define BACK  2

struct workload {
	const char *name;
	bool write, random;
	uint32_t bs;
};

static const struct workload loads[] = {
	{ "seq-read 128k", false, false, 128 << 10 },
	{ "seq-write 128k", true, false, 128 << 10 },
	{ "rand-read 4k", false, true, 4096 },
	{ "rand-write 4k", true, true, 4096 },
};

static uint64_t img_bytes = 256ull << 20;
static double run_secs = 1.0;
static int runs = 5, depth = 32;

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t next_off(const struct workload *w, uint64_t *pos, uint64_t *seed)
{
	uint64_t blocks = img_bytes / w->bs, b;

	if (w->random)
		b = rng(seed) % blocks;
	else
		b = (*pos)++ % blocks;
	return b * w->bs;
}

/* ---- direct io_uring ---------------------------------------------------- */

static double run_direct(int fd, const struct workload *w, char **bufs)
{
	struct io_uring ring;
	struct iovec iov[64];
	uint64_t pos = 0, seed = 88172645463325252ull, ops = 0;
	uint64_t end = bh_now_ns() + (uint64_t)(run_secs * 1e9), t0 = bh_now_ns();
	int inflight = 0;

	io_uring_queue_init((unsigned)depth * 2, &ring, 0);
	for (;;) {
		bool stop = bh_now_ns() >= end;
		while (!stop && inflight < depth) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			int slot = inflight++;
			iov[slot] = (struct iovec){ bufs[slot], w->bs };
			if (w->write)
				io_uring_prep_writev(sqe, fd, &iov[slot], 1,
				                     next_off(w, &pos, &seed));
			else
				io_uring_prep_readv(sqe, fd, &iov[slot], 1,
				                    next_off(w, &pos, &seed));
			io_uring_sqe_set_data(sqe, (void *)(intptr_t)slot);
		}
		if (inflight == 0)
			break;
		io_uring_submit_and_wait(&ring, 1);
		struct io_uring_cqe *cqe;
		/* completions free their slot by moving the last one down */
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			io_uring_cqe_seen(&ring, cqe);
			inflight--;
			ops++;
		}
	}
	io_uring_queue_exit(&ring);
	return (double)ops / ((double)(bh_now_ns() - t0) / 1e9);
}

/* ---- blkfront -> blkback ------------------------------------------------ */

struct pv {
	struct bh_lgnt *g;
	struct bh_levt ev;
	struct blkback *bb;
	struct blkfront *bf;
	pthread_t thr;
	atomic_bool stop;
};

static void *backend_thread(void *arg)
{
	struct pv *p = arg;

	while (!atomic_load(&p->stop)) {
		struct pollfd pf = { .fd = blkback_fd(p->bb), .events = POLLIN };
		if (poll(&pf, 1, 50) > 0)
			blkback_process(p->bb);
	}
	return NULL;
}

static void kick(void *arg, uint32_t q)
{
	(void)q;
	bh_levt_front_notify(arg);
}

static int pv_setup(struct pv *p, int fd)
{
	uint32_t refs[16], n;
	int rc, vbd;

	memset(p, 0, sizeof(*p));
	if ((rc = bh_lgnt_create(FRONT, 8192, &p->g)) < 0 || (rc = bh_levt_init(&p->ev)) < 0)
		return rc;
	struct blkback_config bc = { .gnt = &bh_lgnt_back_ops, .gnt_priv = p->g };
	if ((rc = blkback_create(&bc, &p->bb)) < 0)
		return rc;
	struct blkback_vbd_params vp = { .fd = fd, .sector_size = 512 };
	if ((vbd = blkback_add_vbd(p->bb, &vp)) < 0)
		return vbd;
	struct blkfront_config fc = { .gnt = &bh_lgnt_front_ops,
		                      .gnt_priv = p->g,
		                      .backend = BACK,
		                      .sectors = img_bytes / 512,
		                      .sector_size = 512,
		                      .ring_page_order = 0,
		                      .max_indirect_segments = 256,
		                      .flush = true,
		                      .pool_pages = 1024,
		                      .notify = kick,
		                      .arg = &p->ev };
	if ((rc = blkfront_create(&fc, &p->bf)) < 0)
		return rc;
	blkfront_ring_refs(p->bf, 0, refs, &n);
	struct blkback_ring_params rp = { .vbd = vbd,
		                          .domid = FRONT,
		                          .refs = refs,
		                          .ring_page_order = 0,
		                          .persistent = true,
		                          .evt_fd = p->ev.to_back,
		                          .evt_ack = bh_levt_back_ack,
		                          .notify = bh_levt_back_notify,
		                          .evt_arg = &p->ev };
	if ((rc = blkback_attach_ring(p->bb, &rp)) < 0)
		return rc;
	return pthread_create(&p->thr, NULL, backend_thread, p) ? -EAGAIN : 0;
}

static void pv_teardown(struct pv *p)
{
	atomic_store(&p->stop, true);
	pthread_join(p->thr, NULL);
	blkback_destroy(p->bb);
	blkfront_destroy(p->bf);
	bh_levt_dispose(&p->ev);
	bh_lgnt_destroy(p->g);
}

static double run_pv(struct pv *p, const struct workload *w, char **bufs)
{
	uint64_t pos = 0, seed = 88172645463325252ull, ops = 0;
	uint64_t end = bh_now_ns() + (uint64_t)(run_secs * 1e9), t0 = bh_now_ns();
	struct iovec iov[64];
	int free_slots[64], nfree = depth;
	struct blkfront_cpl cpl[64];

	for (int i = 0; i < depth; i++)
		free_slots[i] = i;
	for (;;) {
		bool stop = bh_now_ns() >= end;
		while (!stop && nfree > 0) {
			int s = free_slots[--nfree];
			iov[s] = (struct iovec){ bufs[s], w->bs };
			struct blkfront_io io = { .op = w->write ? BLKFRONT_WRITE : BLKFRONT_READ,
				                  .sector = next_off(w, &pos, &seed) / 512,
				                  .iov = &iov[s],
				                  .iovcnt = 1,
				                  .cookie = (void *)(intptr_t)s };
			if (blkfront_submit(p->bf, &io) < 0) {
				nfree++;
				break;
			}
		}
		if (blkfront_inflight(p->bf) == 0)
			break;
		struct pollfd pf = { .fd = p->ev.to_front, .events = POLLIN };
		poll(&pf, 1, 100);
		bh_levt_front_ack(&p->ev);
		int n = blkfront_reap(p->bf, cpl, 64);
		for (int i = 0; i < n; i++) {
			if (cpl[i].status)
				fprintf(stderr, "I/O error %d\n", cpl[i].status);
			free_slots[nfree++] = (int)(intptr_t)cpl[i].cookie;
			ops++;
		}
	}
	return (double)ops / ((double)(bh_now_ns() - t0) / 1e9);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int prefill(int fd)
{
	char *b = malloc(1 << 20);

	for (size_t i = 0; i < 1 << 20; i++)
		b[i] = (char)(i * 13);
	for (uint64_t off = 0; off < img_bytes; off += 1 << 20)
		if (pwrite(fd, b, 1 << 20, (off_t)off) != 1 << 20) {
			free(b);
			return -errno;
		}
	free(b);
	return fdatasync(fd) < 0 ? -errno : 0;
}

int main(int argc, char **argv)
{
	bool direct = false;
	int opt;

	while ((opt = getopt(argc, argv, "s:t:r:q:d")) != -1) {
		switch (opt) {
		case 's':
			img_bytes = strtoull(optarg, NULL, 10) << 20;
			break;
		case 't':
			run_secs = atof(optarg);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 'q':
			depth = atoi(optarg);
			break;
		case 'd':
			direct = true;
			break;
		default:
			fprintf(stderr,
			        "usage: blkbench [-s MiB] [-t secs] [-r runs] [-q depth] [-d]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > 50 || depth < 1 || depth > 64 || img_bytes < (1 << 20))
		return fprintf(stderr, "blkbench: bad arguments\n"), 2;
	char path[] = "/tmp/blkbench-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, (off_t)img_bytes) < 0 || prefill(fd) < 0)
		return perror("image"), 1;
	if (direct) {
		close(fd);
		if ((fd = open(path, O_RDWR | O_DIRECT)) < 0)
			return perror("O_DIRECT"), 1;
	}
	unlink(path);
	char *bufs[64];
	for (int i = 0; i < depth; i++)
		if (posix_memalign((void **)&bufs[i], 4096, 128 << 10) != 0)
			return 1;
	struct pv pv;
	int rc = pv_setup(&pv, fd);
	if (rc < 0)
		return fprintf(stderr, "setup: %s\n", strerror(-rc)), 1;
	printf("image %llu MiB%s, queue depth %d, %d runs of %.1f s each; medians\n",
	       (unsigned long long)(img_bytes >> 20), direct ? " (O_DIRECT)" : " (page cache)",
	       depth, runs, run_secs);
	printf("%-16s %14s %14s %14s %14s %7s\n", "workload", "blkif IOPS", "blkif MiB/s",
	       "io_uring IOPS", "io_uring MiB/s", "ratio");
	for (size_t k = 0; k < BH_ARRAY_SIZE(loads); k++) {
		const struct workload *w = &loads[k];
		double a[50], b[50];
		/* interleaved, so drift in the machine hits both alike */
		for (int r = 0; r < runs; r++) {
			a[r] = run_pv(&pv, w, bufs);
			b[r] = run_direct(fd, w, bufs);
		}
		double ma = median(a, runs), mb = median(b, runs);
		printf("%-16s %14.0f %14.1f %14.0f %14.1f %7.2f\n", w->name, ma,
		       ma * w->bs / (1 << 20), mb, mb * w->bs / (1 << 20), ma / mb);
	}
	pv_teardown(&pv);
	for (int i = 0; i < depth; i++)
		free(bufs[i]);
	close(fd);
	return 0;
}
