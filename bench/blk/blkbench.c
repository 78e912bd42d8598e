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
#include "bench/blk/workload.h"
#include "common/util.h"

#define FRONT 1
#define BACK  2

static uint64_t img_bytes = 256ull << 20;
static double run_secs = 1.0;
static int runs = 5, depth = 32;

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

static double run_pv(struct pv *p, const struct bb_workload *w, char **bufs)
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
				                  .sector =
				                      bb_next_off(w, img_bytes, &pos, &seed) / 512,
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
	if (fd < 0 || ftruncate(fd, (off_t)img_bytes) < 0 || bb_prefill(fd, img_bytes) < 0)
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
	/* warm up: the backend maps the persistent grants on first use */
	double keep = run_secs;
	run_secs = 0.3;
	for (size_t k = 0; k < BB_NLOADS; k++)
		run_pv(&pv, &bb_loads[k], bufs);
	run_secs = keep;
	for (size_t k = 0; k < BB_NLOADS; k++) {
		const struct bb_workload *w = &bb_loads[k];
		double a[50], b[50];
		/* interleaved, so drift in the machine hits both alike */
		for (int r = 0; r < runs; r++) {
			a[r] = run_pv(&pv, w, bufs);
			b[r] = bb_run_direct(fd, w, bufs, depth, run_secs, img_bytes);
		}
		double ma = bb_median(a, runs), mb = bb_median(b, runs);
		printf("%-16s %14.0f %14.1f %14.0f %14.1f %7.2f\n", w->name, ma,
		       ma * w->bs / (1 << 20), mb, mb * w->bs / (1 << 20), ma / mb);
	}
	pv_teardown(&pv);
	for (int i = 0; i < depth; i++)
		free(bufs[i]);
	close(fd);
	return 0;
}
