/* The PV path in one process: the backend engine in its own thread (as it
 * would run in its driver domain), blkfront in the caller's thread, the
 * in-process grant table and eventfd event channels of blkback/localgnt.h
 * between them. What is measured is the protocol, the engine and the
 * frontend's copies, not the core's hypercalls. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/blk/paths.h"
#include "blkback/blkback.h"
#include "blkback/localgnt.h"
#include "blkfront/blkfront.h"

#define FRONT 1
#define BACK  2

struct pvlocal {
	struct bh_lgnt *g;
	struct bh_levt ev;
	struct blkback *bb;
	struct blkfront *bf;
	int vbd;
	pthread_t thr;
	bool thr_ok;
	atomic_bool stop;
	bool batch;
	bool zc; /* I/O from lent pool buffers (blkfront_buf_alloc) */
	struct iovec iov[BB_MAX_DEPTH];
	void *zbuf[BB_MAX_DEPTH];
	uint32_t zlen[BB_MAX_DEPTH];
};

int bb_engine_cpu = -1;
long bb_front_sleep_ns;

static void *backend_thread(void *arg)
{
	struct pvlocal *p = arg;

	if (bb_engine_cpu >= 0) {
		cpu_set_t cs;
		CPU_ZERO(&cs);
		CPU_SET(bb_engine_cpu, &cs);
		pthread_setaffinity_np(pthread_self(), sizeof(cs), &cs);
	}

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

static int l_submit(void *pp, int slot, bool write, uint64_t off, void *buf, uint32_t len)
{
	struct pvlocal *p = pp;

	if (p->zc) {
		/* The slot's own lent buffer stands in for the caller's. */
		if (p->zlen[slot] < len) {
			if (p->zbuf[slot])
				blkfront_buf_free(p->bf, p->zbuf[slot], p->zlen[slot]);
			p->zlen[slot] = 0;
			if (!(p->zbuf[slot] = blkfront_buf_alloc(p->bf, 0, len)))
				return -ENOMEM;
			p->zlen[slot] = len;
		}
		buf = p->zbuf[slot];
	}
	p->iov[slot] = (struct iovec){ buf, len };
	struct blkfront_io io = { .op = write ? BLKFRONT_WRITE : BLKFRONT_READ,
		                  .sector = off / 512,
		                  .iov = &p->iov[slot],
		                  .iovcnt = 1,
		                  .cookie = (void *)(intptr_t)slot };
	if (p->batch)
		blkfront_plug(p->bf);
	return blkfront_submit(p->bf, &io);
}

static void l_commit(void *pp)
{
	struct pvlocal *p = pp;

	blkfront_unplug(p->bf);
}

static int l_wait(void *pp, int *slots, int max, uint64_t *errors)
{
	struct pvlocal *p = pp;
	struct blkfront_cpl cpl[BB_MAX_DEPTH];
	int n;

	if (bb_front_sleep_ns) {
		/* -H: a hybrid poll by hand: sleep through most of the I/O,
		 * then let blkfront_reap spin for the rest (see blkbench.c);
		 * unconditional, so meant for O_DIRECT (-m direct). */
		struct timespec ts = { 0, bb_front_sleep_ns };
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	}
	for (;;) {
		n = blkfront_reap(p->bf, cpl, BH_MIN(max, BB_MAX_DEPTH));
		if (n > 0 || blkfront_broken(p->bf))
			break;
		struct pollfd pf = { .fd = p->ev.to_front, .events = POLLIN };
		if (poll(&pf, 1, 5000) == 0)
			return -ETIMEDOUT;
		bh_levt_front_ack(&p->ev);
	}
	if (n == 0)
		return blkfront_broken(p->bf);
	for (int i = 0; i < n; i++) {
		if (cpl[i].status)
			(*errors)++;
		slots[i] = (int)(intptr_t)cpl[i].cookie;
	}
	return n;
}

int bb_local_open(int fd, uint64_t img, uint32_t poll_ns, bool zc, bool no_hybrid,
                  struct bb_target *t)
{
	struct pvlocal *p = calloc(1, sizeof(*p));
	uint32_t refs[16], n;
	int rc;

	if (!p)
		return -ENOMEM;
	*t = (struct bb_target){ .p = p, .submit = l_submit, .commit = l_commit, .wait = l_wait };
	p->batch = getenv("BLKBENCH_NOBATCH") == NULL;
	p->zc = zc;
	p->ev.to_back = p->ev.to_front = -1;
	if ((rc = bh_lgnt_create(FRONT, 8192, &p->g)) < 0 || (rc = bh_levt_init(&p->ev)) < 0)
		goto fail;
	struct blkback_config bc = { .gnt = &bh_lgnt_back_ops,
		                     .gnt_priv = p->g,
		                     .poll_ns = poll_ns,
		                     /* every pool page stays mapped */
		                     .max_persistent = 4096 };
	if ((rc = blkback_create(&bc, &p->bb)) < 0)
		goto fail;
	struct blkback_vbd_params vp = { .fd = fd, .sector_size = 512 };
	if ((rc = p->vbd = blkback_add_vbd(p->bb, &vp)) < 0)
		goto fail;
	/* What blkfront-probe asks for: one page ring, 256 indirect segments
	 * (a 1 MiB I/O is one request), a 4 MiB pool (8 MiB with zero-copy:
	 * the lent buffers come out of it). */
	struct blkfront_config fc = { .gnt = &bh_lgnt_front_ops,
		                      .gnt_priv = p->g,
		                      .backend = BACK,
		                      .sectors = img / 512,
		                      .sector_size = 512,
		                      .max_indirect_segments = 256,
		                      .flush = true,
		                      .pool_pages = zc ? 2048 : 1024,
		                      .poll_ns = poll_ns,
		                      .no_hybrid = no_hybrid,
		                      .notify = kick,
		                      .arg = &p->ev };
	if ((rc = blkfront_create(&fc, &p->bf)) < 0)
		goto fail;
	blkfront_ring_refs(p->bf, 0, refs, &n);
	struct blkback_ring_params rp = { .vbd = p->vbd,
		                          .domid = FRONT,
		                          .refs = refs,
		                          .persistent = true,
		                          .evt_fd = p->ev.to_back,
		                          .evt_ack = bh_levt_back_ack,
		                          .notify = bh_levt_back_notify,
		                          .evt_arg = &p->ev };
	if ((rc = blkback_attach_ring(p->bb, &rp)) < 0)
		goto fail;
	if (pthread_create(&p->thr, NULL, backend_thread, p) != 0) {
		rc = -EAGAIN;
		goto fail;
	}
	p->thr_ok = true;
	return 0;
fail:
	bb_local_close(t);
	return rc;
}

void bb_local_poll_report(struct bb_target *t, const char *name)
{
	struct pvlocal *p = t->p;
	struct blkfront_stats st;

	blkfront_stats(p->bf, &st);
	printf("%s: frontend waits: %llu timed sleeps (%llu then found a response, %llu "
	       "fell back to the event), %llu left to the event; median wait now %.1f us\n",
	       name, (unsigned long long)st.poll_sleeps, (unsigned long long)st.poll_hits,
	       (unsigned long long)st.poll_misses, (unsigned long long)st.poll_events,
	       blkfront_wait_median(p->bf, 0) / 1000.0);
}

void bb_local_maps(struct bb_target *t, uint64_t *persistent, uint64_t *transient)
{
	struct pvlocal *p = t->p;
	struct blkback_stats st;

	blkback_vbd_stats(p->bb, p->vbd, &st);
	*persistent = st.persistent_maps;
	*transient = st.transient_maps;
}

void bb_local_close(struct bb_target *t)
{
	struct pvlocal *p = t->p;

	if (!p)
		return;
	if (p->thr_ok) {
		atomic_store(&p->stop, true);
		pthread_join(p->thr, NULL);
	}
	blkback_destroy(p->bb);
	blkfront_destroy(p->bf);
	if (p->ev.to_back >= 0)
		bh_levt_dispose(&p->ev);
	bh_lgnt_destroy(p->g);
	free(p);
	t->p = NULL;
}
