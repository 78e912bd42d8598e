/* blkfront against the real blkback engine in the same process (the
 * in-process grant table in between), and against a hostile backend
 * written by hand into the shared ring. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "blkback/blkback.h"
#include "blkback/localgnt.h"
#include "blkfront/blkfront.h"
#include "bulkhead/blkif.h"
#include "common/bhtest.h"
#include "common/spinpoll.h"
#include "common/util.h"

#define FRONT     9
#define BACK      4
#define IMG_BYTES (8u << 20)

struct fx {
	struct bh_lgnt *g;
	char path[512];
	int img;
	struct blkback *bb;
	int vbd;
	struct blkfront *bf;
	struct bh_levt ev[4];
	int ring[4];
	uint32_t nq;
	int done[64];
	int status[64];
};

/* poll_ns for both sides of the next fx_new() (only the frontend's with
 * fx_back_no_poll). */
static uint32_t fx_poll_ns;
static bool fx_back_no_poll;

static void kick(void *arg, uint32_t q)
{
	struct fx *f = arg;

	bh_levt_front_notify(&f->ev[q]);
}

static void attach_rings(struct fx *f, uint32_t order)
{
	for (uint32_t q = 0; q < f->nq; q++) {
		uint32_t refs[16], n;
		assert_int_equal(blkfront_ring_refs(f->bf, q, refs, &n), 0);
		assert_int_equal(n, 1u << order);
		struct blkback_ring_params p = { .vbd = f->vbd,
			                         .domid = FRONT,
			                         .refs = refs,
			                         .ring_page_order = order,
			                         .persistent = true,
			                         .evt_fd = f->ev[q].to_back,
			                         .evt_ack = bh_levt_back_ack,
			                         .notify = bh_levt_back_notify,
			                         .evt_arg = &f->ev[q] };
		f->ring[q] = blkback_attach_ring(f->bb, &p);
		assert_true(f->ring[q] >= 0);
	}
}

static struct fx *fx_new(uint32_t nq, uint32_t order, bool ro, bool with_backend)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *dir = bh_test_tmpdir("blkfront");

	snprintf(f->path, sizeof(f->path), "%s/disk.img", dir);
	free(dir);
	f->img = open(f->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_int_equal(ftruncate(f->img, IMG_BYTES), 0);
	assert_int_equal(bh_lgnt_create(FRONT, 16384, &f->g), 0);
	f->nq = nq;
	for (uint32_t q = 0; q < nq; q++)
		assert_int_equal(bh_levt_init(&f->ev[q]), 0);
	struct blkback_config bc = { .gnt = &bh_lgnt_back_ops,
		                     .gnt_priv = f->g,
		                     .poll_ns = fx_back_no_poll ? 0 : fx_poll_ns };
	assert_int_equal(blkback_create(&bc, &f->bb), 0);
	struct blkback_vbd_params vp = {
		.fd = f->img, .sector_size = 512, .readonly = ro, .discard = true
	};
	f->vbd = blkback_add_vbd(f->bb, &vp);
	struct blkback_features ft;
	blkback_features(f->bb, &ft);
	struct blkfront_config fc = { .gnt = &bh_lgnt_front_ops,
		                      .gnt_priv = f->g,
		                      .backend = BACK,
		                      .sectors = blkback_vbd_sectors(f->bb, f->vbd),
		                      .sector_size = 512,
		                      .readonly = ro,
		                      .ring_page_order = order,
		                      .nr_queues = nq,
		                      .max_indirect_segments = ft.max_indirect_segments,
		                      .flush = ft.flush,
		                      .discard = ft.discard,
		                      .poll_ns = fx_poll_ns,
		                      .notify = kick,
		                      .arg = f };
	assert_int_equal(blkfront_create(&fc, &f->bf), 0);
	if (with_backend)
		attach_rings(f, order);
	return f;
}

static void fx_free(struct fx *f)
{
	blkback_destroy(f->bb);
	blkfront_destroy(f->bf);
	assert_int_equal(bh_lgnt_live_maps(f->g), 0);
	for (uint32_t q = 0; q < f->nq; q++)
		bh_levt_dispose(&f->ev[q]);
	bh_lgnt_destroy(f->g);
	close(f->img);
	unlink(f->path);
	free(f);
}

/* Run the backend and reap until nothing is in flight. */
static void drain(struct fx *f)
{
	struct blkfront_cpl c[16];

	for (int i = 0; i < 1000 && blkfront_inflight(f->bf); i++) {
		struct pollfd p = { .fd = blkback_fd(f->bb), .events = POLLIN };
		poll(&p, 1, 10);
		blkback_process(f->bb);
		int n = blkfront_reap(f->bf, c, 16);
		for (int k = 0; k < n; k++) {
			intptr_t idx = (intptr_t)c[k].cookie;
			f->done[idx]++;
			f->status[idx] = c[k].status;
		}
	}
	assert_int_equal(blkfront_inflight(f->bf), 0);
}

static int io(struct fx *f, enum blkfront_op op, uint64_t sector, void *buf, size_t len,
              intptr_t idx)
{
	struct iovec v = { buf, len };
	struct blkfront_io r = { .op = op,
		                 .sector = sector,
		                 .iov = &v,
		                 .iovcnt = len ? 1 : 0,
		                 .nr_sectors = op == BLKFRONT_DISCARD ? len / 512 : 0,
		                 .cookie = (void *)idx };
	if (op == BLKFRONT_DISCARD)
		r.iovcnt = 0;
	return blkfront_submit(f->bf, &r);
}

static void test_scatter_write_then_read(void **state)
{
	struct fx *f = fx_new(1, 0, false, true);
	char a[1536], b[2560], c[4096], back[8192], img[8192];

	(void)state;
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	memset(c, 'c', sizeof(c));
	struct iovec v[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct blkfront_io w = {
		.op = BLKFRONT_WRITE, .sector = 100, .iov = v, .iovcnt = 3, .cookie = (void *)1
	};
	assert_int_equal(blkfront_submit(f->bf, &w), 0);
	drain(f);
	assert_int_equal(f->done[1], 1);
	assert_int_equal(f->status[1], 0);
	assert_int_equal(pread(f->img, img, 8192, 100 * 512), 8192);
	assert_int_equal(img[0], 'a');
	assert_int_equal(img[1535], 'a');
	assert_int_equal(img[1536], 'b');
	assert_int_equal(img[4096], 'c');
	assert_int_equal(img[8191], 'c');
	memset(back, 0, sizeof(back));
	assert_int_equal(io(f, BLKFRONT_READ, 100, back, 8192, 2), 0);
	drain(f);
	assert_int_equal(f->status[2], 0);
	assert_memory_equal(back, img, 8192);
	fx_free(f);
}

/* 256 KiB I/Os (indirect) over two queues of two-page rings. */
static void test_large_io_two_queues(void **state)
{
	struct fx *f = fx_new(2, 1, false, true);
	size_t len = 64 * 4096;
	char *w = malloc(len * 4), *r = calloc(1, len * 4);

	(void)state;
	assert_true(blkfront_max_io_bytes(f->bf) >= len);
	for (size_t i = 0; i < len * 4; i++)
		w[i] = (char)(i * 131 / 7);
	for (int k = 0; k < 4; k++)
		assert_int_equal(io(f, BLKFRONT_WRITE, k * 512, w + k * len, len, k), 0);
	drain(f);
	assert_int_equal(io(f, BLKFRONT_FLUSH, 0, NULL, 0, 10), 0);
	drain(f);
	assert_int_equal(f->status[10], 0);
	for (int k = 0; k < 4; k++)
		assert_int_equal(io(f, BLKFRONT_READ, k * 512, r + k * len, len, 20 + k), 0);
	drain(f);
	for (int k = 0; k < 4; k++)
		assert_int_equal(f->status[20 + k], 0);
	assert_memory_equal(w, r, len * 4);
	struct blkback_stats st;
	blkback_vbd_stats(f->bb, f->vbd, &st);
	assert_int_equal(st.writes, 4);
	assert_int_equal(st.flushes, 1);
	free(w);
	free(r);
	fx_free(f);
}

static void test_discard_and_refusals(void **state)
{
	struct fx *f = fx_new(1, 0, false, true);
	char buf[4096];

	(void)state;
	memset(buf, 1, sizeof(buf));
	assert_int_equal(io(f, BLKFRONT_WRITE, 0, buf, 4096, 1), 0);
	drain(f);
	assert_int_equal(io(f, BLKFRONT_DISCARD, 0, NULL, 4096, 2), 0);
	drain(f);
	assert_int_equal(f->status[2], 0);
	assert_int_equal(io(f, BLKFRONT_READ, 0, buf, 4096, 3), 0);
	drain(f);
	assert_int_equal(buf[0], 0);
	/* refused before reaching the ring */
	assert_int_equal(io(f, BLKFRONT_READ, 0, buf, 100, 4), -EINVAL);
	assert_int_equal(io(f, BLKFRONT_READ, IMG_BYTES / 512 - 1, buf, 1024, 4), -EINVAL);
	assert_int_equal(io(f, 77, 0, buf, 512, 4), -EINVAL);
	/* the ring fills: -EAGAIN until completions are reaped */
	int ok = 0, r;
	while ((r = io(f, BLKFRONT_READ, 0, buf, 512, 5)) == 0)
		ok++;
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(ok, 32);
	drain(f);
	assert_int_equal(f->done[5], 32);
	fx_free(f);
}

static void test_readonly_refuses_writes(void **state)
{
	struct fx *f = fx_new(1, 0, true, true);
	char buf[512] = { 0 };

	(void)state;
	assert_int_equal(io(f, BLKFRONT_WRITE, 0, buf, 512, 1), -EROFS);
	assert_int_equal(io(f, BLKFRONT_READ, 0, buf, 512, 1), 0);
	drain(f);
	assert_int_equal(f->status[1], 0);
	fx_free(f);
}

/* Reaping exactly as many completions as asked for still re-arms the
 * response event: the next response is signalled. */
static void test_reap_of_exactly_max_rearms_the_event(void **state)
{
	struct fx *f = fx_new(1, 0, false, true);
	struct blkfront_cpl c[4];
	char buf[512];
	eventfd_t v;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(io(f, BLKFRONT_READ, 0, buf, 512, i), 0);
	int got = 0;
	for (int i = 0; i < 200 && got < 4; i++) {
		struct pollfd p = { .fd = blkback_fd(f->bb), .events = POLLIN };
		poll(&p, 1, 10);
		blkback_process(f->bb);
		/* reap once all four were answered, asking for exactly four */
		if (i > 20)
			got += blkfront_reap(f->bf, c, 4 - got);
	}
	assert_int_equal(got, 4);
	eventfd_read(f->ev[0].to_front, &v); /* clear */
	assert_int_equal(io(f, BLKFRONT_READ, 0, buf, 512, 5), 0);
	for (int i = 0; i < 50; i++) {
		struct pollfd p = { .fd = blkback_fd(f->bb), .events = POLLIN };
		poll(&p, 1, 10);
		blkback_process(f->bb);
	}
	struct pollfd p = { .fd = f->ev[0].to_front, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 0), 1);
	drain(f);
	fx_free(f);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* Plugged submissions stay unpublished (the backend sees and is told
 * nothing) until unplug, which publishes the burst with one event. */
static void test_plug_publishes_on_unplug(void **state)
{
	struct fx *f = fx_new(1, 0, false, true);
	char w[8][4096], r[8][4096];
	eventfd_t v;

	(void)state;
	blkback_process(f->bb); /* the attach's first look: arms req_event */
	blkfront_plug(f->bf);
	for (int i = 0; i < 8; i++) {
		memset(w[i], 'A' + i, sizeof(w[i]));
		assert_int_equal(io(f, BLKFRONT_WRITE, (uint64_t)i * 8, w[i], 4096, i), 0);
	}
	assert_false(readable(f->ev[0].to_back));
	blkback_process(f->bb);
	struct blkback_stats st;
	blkback_vbd_stats(f->bb, f->vbd, &st);
	assert_int_equal(st.writes, 0);
	assert_int_equal(blkfront_inflight(f->bf), 8);
	blkfront_unplug(f->bf);
	assert_true(readable(f->ev[0].to_back));
	assert_int_equal(eventfd_read(f->ev[0].to_back, &v), 0);
	assert_int_equal(v, 1); /* one event for the burst */
	drain(f);
	for (int i = 0; i < 8; i++)
		assert_int_equal(f->status[i], 0);
	blkback_vbd_stats(f->bb, f->vbd, &st);
	assert_int_equal(st.writes, 8);
	/* unplug with nothing new is a no-op; unplugged submit publishes */
	blkfront_unplug(f->bf);
	for (int i = 0; i < 8; i++)
		assert_int_equal(io(f, BLKFRONT_READ, (uint64_t)i * 8, r[i], 4096, 10 + i), 0);
	drain(f);
	for (int i = 0; i < 8; i++)
		assert_memory_equal(r[i], w[i], 4096);
	fx_free(f);
}

/* With poll_ns, reap arms rsp_event only when it returns 0: after a
 * non-zero reap the backend sends no event; after a 0 it does. */
static void test_polling_reap_arms_only_when_empty(void **state)
{
	fx_poll_ns = 1000;
	struct fx *f = fx_new(1, 0, false, true);
	struct blkfront_cpl c[8];
	char buf[4096];
	eventfd_t v;

	fx_poll_ns = 0;
	(void)state;
	memset(buf, 7, sizeof(buf));
	assert_int_equal(io(f, BLKFRONT_WRITE, 0, buf, 4096, 1), 0);
	drain(f); /* its last reap returned 1: not armed */
	eventfd_read(f->ev[0].to_front, &v);
	assert_int_equal(io(f, BLKFRONT_READ, 0, buf, 4096, 2), 0);
	blkback_process(f->bb);
	assert_false(readable(f->ev[0].to_front));
	assert_int_equal(blkfront_reap(f->bf, c, 8), 1);
	/* nothing in flight: returns 0 at once, armed */
	assert_int_equal(blkfront_reap(f->bf, c, 8), 0);
	assert_int_equal(io(f, BLKFRONT_READ, 0, buf, 4096, 3), 0);
	blkback_process(f->bb);
	assert_true(readable(f->ev[0].to_front));
	assert_int_equal(blkfront_reap(f->bf, c, 8), 1);
	assert_int_equal(buf[4095], 7);
	fx_free(f);
}

/* blkfront_spin after a reap that took a response without arming (the
 * polling mode): when it gives up it arms rsp_event, so the backend's next
 * response is signalled and a caller sleeping on the channel wakes. */
static void test_spin_arms_before_giving_up(void **state)
{
	fx_poll_ns = 20000;
	struct fx *f = fx_new(1, 0, false, true);
	struct blkfront_cpl c[8];
	char buf[4096];
	eventfd_t v;

	fx_poll_ns = 0;
	(void)state;
	memset(buf, 5, sizeof(buf));
	assert_int_equal(io(f, BLKFRONT_WRITE, 0, buf, 4096, 1), 0);
	drain(f); /* its last reap returned 1: not armed */
	eventfd_read(f->ev[0].to_front, &v);
	/* nothing in flight: nothing to wait for */
	assert_false(blkfront_spin(f->bf));
	assert_int_equal(io(f, BLKFRONT_READ, 0, buf, 4096, 2), 0);
	/* the backend has not run: the spin runs out, arms and says wait */
	uint64_t t0 = bh_now_ns();
	assert_false(blkfront_spin(f->bf));
	assert_true(bh_now_ns() - t0 < 1000000000ull);
	blkback_process(f->bb);
	assert_true(readable(f->ev[0].to_front));
	assert_true(blkfront_spin(f->bf)); /* a response waits: true at once */
	assert_int_equal(blkfront_reap(f->bf, c, 8), 1);
	assert_int_equal(c[0].status, 0);
	fx_free(f);
}

struct poller {
	struct fx *f;
	atomic_bool stop;
};

static void *backend_loop(void *arg)
{
	struct poller *p = arg;

	while (!atomic_load(&p->stop)) {
		struct pollfd pf = { .fd = blkback_fd(p->f->bb), .events = POLLIN };
		if (poll(&pf, 1, 10) > 0)
			blkback_process(p->f->bb);
	}
	return NULL;
}

/* Both sides polling, backend in its own thread, plugged bursts: every
 * byte written comes back, nothing is lost between polling and arming. */
static void test_polling_threads_plugged_bursts(void **state)
{
	fx_poll_ns = 20000;
	struct fx *f = fx_new(1, 0, false, true);
	struct poller p = { .f = f };
	pthread_t t;
	char *w = malloc(256 * 4096), *r = calloc(256, 4096);
	struct blkfront_cpl c[32];

	fx_poll_ns = 0;
	(void)state;
	for (size_t i = 0; i < 256 * 4096; i++)
		w[i] = (char)(i * 7 + i / 4096);
	assert_int_equal(pthread_create(&t, NULL, backend_loop, &p), 0);
	for (int pass = 0; pass < 2; pass++) {
		char *buf = pass ? r : w;
		int next = 0, done = 0;
		while (done < 256) {
			blkfront_plug(f->bf);
			while (next < 256 &&
			       io(f, pass ? BLKFRONT_READ : BLKFRONT_WRITE, (uint64_t)next * 8,
			          buf + (size_t)next * 4096, 4096, next) == 0)
				next++;
			blkfront_unplug(f->bf);
			int n = blkfront_reap(f->bf, c, 32);
			if (n == 0) {
				struct pollfd pf = { .fd = f->ev[0].to_front, .events = POLLIN };
				assert_int_equal(poll(&pf, 1, 5000), 1);
				bh_levt_front_ack(&f->ev[0]);
			}
			for (int k = 0; k < n; k++)
				assert_int_equal(c[k].status, 0);
			done += n;
		}
	}
	atomic_store(&p.stop, true);
	pthread_join(t, NULL);
	assert_memory_equal(w, r, 256 * 4096);
	free(w);
	free(r);
	fx_free(f);
}

/* Lent pool buffers go to the backend without the copy, and the bytes
 * land in (and come back from) the image all the same; an iovec that is
 * not page aligned in one still works, through the copy. */
static void test_lent_buffers_zero_copy(void **state)
{
	struct fx *f = fx_new(1, 0, false, true);
	size_t len = 64 * 4096;
	char *img = malloc(len);

	(void)state;
	char *w = blkfront_buf_alloc(f->bf, 0, len), *r = blkfront_buf_alloc(f->bf, 0, len);
	assert_non_null(w);
	assert_non_null(r);
	assert_true(w != r);
	assert_null(blkfront_buf_alloc(f->bf, 0, (size_t)1 << 30));
	assert_null(blkfront_buf_alloc(f->bf, 3, 4096));
	for (size_t i = 0; i < len; i++)
		w[i] = (char)(i * 13 + 5);
	assert_int_equal(io(f, BLKFRONT_WRITE, 64, w, len, 1), 0);
	drain(f);
	assert_int_equal(f->status[1], 0);
	assert_int_equal(pread(f->img, img, len, 64 * 512), (ssize_t)len);
	assert_memory_equal(img, w, len);
	memset(r, 0, len);
	assert_int_equal(io(f, BLKFRONT_READ, 64, r, len, 2), 0);
	drain(f);
	assert_memory_equal(r, w, len);
	struct blkfront_stats st;
	blkfront_stats(f->bf, &st);
	assert_int_equal(st.zero_copy, 2);
	/* not page aligned: the copying path */
	memset(r, 0, len);
	assert_int_equal(io(f, BLKFRONT_READ, 64, r + 512, 4096, 3), 0);
	drain(f);
	assert_int_equal(f->status[3], 0);
	assert_memory_equal(r + 512, w, 4096);
	blkfront_stats(f->bf, &st);
	assert_int_equal(st.zero_copy, 2);
	blkfront_buf_free(f->bf, w, len);
	blkfront_buf_free(f->bf, r, len);
	/* the pages are back in the pool: large copied I/Os still fit */
	char *big = malloc(len);
	assert_int_equal(io(f, BLKFRONT_READ, 64, big, len, 4), 0);
	drain(f);
	assert_memory_equal(big, img, len);
	free(big);
	free(img);
	fx_free(f);
}

/* A hand-written backend on queue 0's ring. */
struct evil {
	struct blkif_back_ring br;
	void *area, *cookie;
};

static void evil_attach(struct fx *f, struct evil *e)
{
	uint32_t refs[16], n;

	blkfront_ring_refs(f->bf, 0, refs, &n);
	assert_int_equal(bh_lgnt_back_ops.map(f->g, FRONT, refs, n, true, &e->area, &e->cookie), 0);
	blkif_back_attach(&e->br, e->area, n, 0);
}

static void evil_respond(struct evil *e, uint64_t id, uint8_t op, int16_t st)
{
	struct blkif_response *r = blkif_back_rsp_slot(&e->br, e->br.rsp_prod_pvt);

	*r = (struct blkif_response){ .id = id, .operation = op, .status = st };
	e->br.rsp_prod_pvt++;
	blkif_back_push(&e->br);
}

static void evil_detach(struct fx *f, struct evil *e)
{
	bh_lgnt_back_ops.unmap(f->g, e->cookie, e->area, 1);
}

static int reap_all(struct fx *f)
{
	struct blkfront_cpl c[64];
	int n = blkfront_reap(f->bf, c, 64);

	for (int k = 0; k < n; k++) {
		intptr_t idx = (intptr_t)c[k].cookie;
		f->done[idx]++;
		f->status[idx] = c[k].status;
	}
	return n;
}

enum evil_kind { BAD_ID, DUP_ID, BAD_OP, OVERRUN };

static void hostile_backend(enum evil_kind kind)
{
	struct fx *f = fx_new(1, 0, false, false);
	struct evil e;
	char buf[512];

	evil_attach(f, &e);
	for (int i = 0; i < 3; i++)
		assert_int_equal(io(f, BLKFRONT_READ, 0, buf, 512, i), 0);
	/* one good response first */
	struct blkif_request q0;
	memcpy(&q0, &e.br.sring->ring[0].req, sizeof(q0));
	evil_respond(&e, q0.id, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	assert_int_equal(reap_all(f), 1);
	switch (kind) {
	case BAD_ID:
		evil_respond(&e, 1000, BLKIF_OP_READ, 0);
		break;
	case DUP_ID:
		evil_respond(&e, q0.id, BLKIF_OP_READ, 0);
		break;
	case BAD_OP:
		evil_respond(&e, e.br.sring->ring[1].req.id, BLKIF_OP_WRITE, 0);
		break;
	case OVERRUN:
		BH_WRITE_ONCE(e.br.sring->hdr.rsp_prod, 1 + 40);
		break;
	}
	/* the two requests still in flight fail; the device is broken */
	assert_int_equal(reap_all(f), 2);
	assert_int_equal(f->done[1] + f->done[2], 2);
	assert_int_equal(f->status[1], -EIO);
	assert_int_equal(f->status[2], -EIO);
	assert_int_equal(blkfront_broken(f->bf), -EIO);
	assert_int_equal(blkfront_inflight(f->bf), 0);
	assert_int_equal(io(f, BLKFRONT_READ, 0, buf, 512, 3), -EIO);
	assert_int_equal(reap_all(f), 0);
	struct blkfront_stats st;
	blkfront_stats(f->bf, &st);
	assert_int_equal(st.bad_responses, 1);
	evil_detach(f, &e);
	fx_free(f);
}

static void test_response_with_unknown_id_breaks_device(void **state)
{
	(void)state;
	hostile_backend(BAD_ID);
}

static void test_duplicate_response_breaks_device(void **state)
{
	(void)state;
	hostile_backend(DUP_ID);
}

static void test_response_with_wrong_op_breaks_device(void **state)
{
	(void)state;
	hostile_backend(BAD_OP);
}

static void test_rsp_prod_overrun_breaks_device(void **state)
{
	(void)state;
	hostile_backend(OVERRUN);
}

/* The backend took the requests and died before answering; after
 * requeue_all a new backend serves them all, data intact. */
static void test_requeue_all_after_backend_death(void **state)
{
	struct fx *f = fx_new(1, 0, false, false);
	struct evil dead;
	char w[4][4096], r[4096];

	(void)state;
	evil_attach(f, &dead);
	for (int k = 0; k < 4; k++) {
		memset(w[k], 'k' + k, 4096);
		assert_int_equal(io(f, BLKFRONT_WRITE, k * 8, w[k], 4096, k), 0);
	}
	/* it consumed them, answered one, and died */
	dead.br.req_cons = 4;
	struct blkif_request q0;
	memcpy(&q0, &dead.br.sring->ring[0].req, sizeof(q0));
	evil_respond(&dead, q0.id, BLKIF_OP_WRITE, BLKIF_RSP_ERROR);
	assert_int_equal(reap_all(f), 1);
	assert_int_equal(f->status[0], -EIO);
	evil_detach(f, &dead);
	assert_int_equal(blkfront_requeue_all(f->bf), 0);
	attach_rings(f, 0);
	drain(f);
	for (int k = 1; k < 4; k++) {
		assert_int_equal(f->done[k], 1);
		assert_int_equal(f->status[k], 0);
		assert_int_equal(pread(f->img, r, 4096, k * 4096), 4096);
		assert_memory_equal(r, w[k], 4096);
	}
	struct blkfront_stats st;
	blkfront_stats(f->bf, &st);
	assert_int_equal(st.requeued, 3);
	fx_free(f);
}

/* ---- hybrid polling ---- */

static void add_waits(struct bh_waitest *w, uint32_t n, uint32_t from_ns, uint32_t step_ns)
{
	for (uint32_t i = 0; i < n; i++)
		bh_waitest_add(w, from_ns + i * step_ns);
}

/* The plan follows the recent waits: spin while there are few or they
 * are short, sleep-then-spin around tens of microseconds, the event when
 * they are too spread to aim at; one wild sample does not move it. */
static void test_hybrid_plan_follows_the_waits(void **state)
{
	struct bh_waitest w = { 0 };
	uint32_t wake = 0, end = 0;

	(void)state;
	add_waits(&w, BH_WAITEST_MIN - 1, 40000, 0);
	assert_int_equal(bh_waitest_median(&w), 0);
	assert_int_equal(bh_hybrid_plan(&w, 0, &wake, &end), BH_HYBRID_SPIN);
	/* page-cache completions: a few microseconds */
	add_waits(&w, BH_WAITEST_N, 2000, 100);
	assert_true(bh_waitest_median(&w) < 4000);
	assert_int_equal(bh_hybrid_plan(&w, 15000, &wake, &end), BH_HYBRID_SPIN);
	/* one wait that lost the CPU for 5 ms changes nothing */
	bh_waitest_add(&w, 5000000);
	assert_int_equal(bh_hybrid_plan(&w, 15000, &wake, &end), BH_HYBRID_SPIN);
	/* a device read: 38..46 us */
	add_waits(&w, BH_WAITEST_N, 38000, 500);
	uint32_t med = bh_waitest_median(&w);
	assert_true(med >= 38000 && med <= 46000);
	assert_int_equal(bh_hybrid_plan(&w, 15000, &wake, &end), BH_HYBRID_SLEEP);
	assert_true(wake >= med / 2 && wake <= med / 4 * 3);
	assert_true(end >= 44000 && end - wake <= BH_HYBRID_SPIN_NS);
	/* the same reads at 20-40x the spread: nothing to aim at */
	add_waits(&w, BH_WAITEST_N, 30000, 15000);
	assert_int_equal(bh_hybrid_plan(&w, 15000, &wake, &end), BH_HYBRID_EVENT);
	/* and back to the page cache: off again */
	add_waits(&w, BH_WAITEST_N, 3000, 0);
	assert_int_equal(bh_hybrid_plan(&w, 15000, &wake, &end), BH_HYBRID_SPIN);
}

/* The timed sleep never returns before what it asked the timer for, and
 * what it learns as its lateness stays within bounds. */
static void test_tsleep_wakes_not_before_asked(void **state)
{
	struct bh_tsleep t;

	(void)state;
	bh_tsleep_init(&t);
	for (int i = 0; i < 20; i++) {
		uint64_t until = bh_now_ns() + 200000;
		uint64_t late = t.late_ns;
		uint64_t back = bh_tsleep_until(&t, until);
		assert_true(back >= until - late);
		assert_true(t.late_ns < BH_TSLEEP_LATE_MAX_NS);
	}
	/* a time already past: at once */
	uint64_t t0 = bh_now_ns();
	assert_true(bh_tsleep_until(&t, t0 - 1000) >= t0);
	bh_tsleep_dispose(&t);
	assert_int_equal(t.fd, -1);
}

/* A hand-written backend that answers each read DELAY_NS after it sees it
 * (0: stop). */
struct slow_backend {
	struct evil *e;
	atomic_uint delay_ns;
	atomic_bool stop;
	atomic_uint answered;
};

static void *slow_backend_loop(void *arg)
{
	struct slow_backend *b = arg;
	struct evil *e = b->e;

	while (!atomic_load(&b->stop)) {
		RING_IDX prod = BH_READ_ONCE(e->br.sring->hdr.req_prod);
		bh_rmb();
		if (e->br.req_cons == prod) {
			struct timespec ts = { 0, 20000 };
			nanosleep(&ts, NULL);
			continue;
		}
		struct blkif_request r;
		memcpy(&r, &e->br.sring->ring[e->br.req_cons & (e->br.nr_ents - 1)].req, sizeof(r));
		e->br.req_cons++;
		struct timespec ts = { 0, (long)atomic_load(&b->delay_ns) };
		nanosleep(&ts, NULL);
		evil_respond(e, r.id, r.operation, BLKIF_RSP_OKAY);
		atomic_fetch_add(&b->answered, 1);
	}
	return NULL;
}

/* Reap one completion of a QD1 read, sleeping on the event when reap
 * says so. */
static void reap_one(struct fx *f)
{
	struct blkfront_cpl c[4];

	for (int tries = 0; tries < 500; tries++) {
		int n = blkfront_reap(f->bf, c, 4);
		if (n) {
			assert_int_equal(n, 1);
			assert_int_equal(c[0].status, 0);
			return;
		}
		struct pollfd p = { .fd = f->ev[0].to_front, .events = POLLIN };
		poll(&p, 1, 10);
		if (p.revents)
			bh_levt_front_ack(&f->ev[0]);
	}
	fail_msg("no completion");
}

/* The estimate adapts: reads answered 400 us late take the frontend out of
 * spinning (it sleeps, on the timer or the event); with a backend that
 * does not answer, a reap gives up in bounded time having armed the
 * event; and once answers come at once, the spin is back and no timed
 * sleep is taken. */
static void test_hybrid_poll_adapts_and_gives_up(void **state)
{
	fx_poll_ns = 5000;
	struct fx *f = fx_new(1, 0, false, false);
	struct evil e;
	struct slow_backend b = { .e = &e, .delay_ns = 400000 };
	struct blkfront_stats st0, st1;
	pthread_t t;
	char buf[4096];

	fx_poll_ns = 0;
	(void)state;
	evil_attach(f, &e);
	assert_int_equal(pthread_create(&t, NULL, slow_backend_loop, &b), 0);
	for (int i = 0; i < 24; i++) {
		assert_int_equal(io(f, BLKFRONT_READ, 0, buf, 4096, i), 0);
		reap_one(f);
	}
	atomic_store(&b.stop, true);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&b.answered), 24);
	/* each answer came >= 400 us after its request */
	assert_true(blkfront_wait_median(f->bf, 0) >= 300000);
	blkfront_stats(f->bf, &st0);
	assert_true(st0.poll_sleeps + st0.poll_events > 0);

	/* nobody answers: reap and spin give up (bounded), armed */
	struct blkfront_cpl c[4];
	assert_int_equal(io(f, BLKFRONT_READ, 0, buf, 4096, 99), 0);
	uint64_t t0 = bh_now_ns();
	assert_int_equal(blkfront_reap(f->bf, c, 4), 0);
	assert_false(blkfront_spin(f->bf));
	assert_true(bh_now_ns() - t0 < 1000000000ull);
	struct blkif_request r;
	memcpy(&r, &e.br.sring->ring[e.br.req_cons & (e.br.nr_ents - 1)].req, sizeof(r));
	e.br.req_cons++;
	struct blkif_response *rsp = blkif_back_rsp_slot(&e.br, e.br.rsp_prod_pvt);
	*rsp = (struct blkif_response){ .id = r.id, .operation = r.operation };
	e.br.rsp_prod_pvt++;
	assert_true(blkif_back_push(&e.br)); /* rsp_event was armed */
	assert_int_equal(blkfront_reap(f->bf, c, 4), 1);

	/* answers at once (the backend is this thread: between a reap that
	 * found nothing and the next) */
	for (int i = 0; i < 48; i++) {
		if (i == 40)
			blkfront_stats(f->bf, &st0);
		assert_int_equal(io(f, BLKFRONT_READ, 0, buf, 4096, i), 0);
		uint64_t s0 = bh_now_ns();
		int n = blkfront_reap(f->bf, c, 4);
		assert_true(bh_now_ns() - s0 < 1000000000ull);
		if (n == 0) {
			memcpy(&r, &e.br.sring->ring[e.br.req_cons & (e.br.nr_ents - 1)].req,
			       sizeof(r));
			e.br.req_cons++;
			evil_respond(&e, r.id, r.operation, BLKIF_RSP_OKAY);
			n = blkfront_reap(f->bf, c, 4);
		}
		assert_int_equal(n, 1);
		assert_int_equal(c[0].status, 0);
	}
	assert_true(blkfront_wait_median(f->bf, 0) < BH_HYBRID_MIN_NS);
	blkfront_stats(f->bf, &st1);
	assert_int_equal(st1.poll_sleeps, st0.poll_sleeps);
	assert_int_equal(st1.bad_responses, 0);
	evil_detach(f, &e);
	fx_free(f);
}

static void *slow_engine_loop(void *arg)
{
	struct poller *p = arg;

	while (!atomic_load(&p->stop)) {
		struct pollfd pf = { .fd = blkback_fd(p->f->bb), .events = POLLIN };
		if (poll(&pf, 1, 10) > 0) {
			struct timespec ts = { 0, 150000 };
			nanosleep(&ts, NULL);
			blkback_process(p->f->bb);
		}
	}
	return NULL;
}

/* The real engine answering 150 us late: the frontend's waits go to the
 * timed sleep or the event, and every byte still comes back. */
static void test_hybrid_poll_keeps_data_intact(void **state)
{
	fx_poll_ns = 20000;
	fx_back_no_poll = true;
	struct fx *f = fx_new(1, 0, false, true);
	struct poller p = { .f = f };
	struct blkfront_stats st;
	pthread_t t;
	char *w = malloc(64 * 4096), *r = calloc(64, 4096);

	fx_poll_ns = 0;
	fx_back_no_poll = false;
	(void)state;
	for (size_t i = 0; i < 64 * 4096; i++)
		w[i] = (char)(i * 11 + i / 4096);
	assert_int_equal(pthread_create(&t, NULL, slow_engine_loop, &p), 0);
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < 64; i++) {
			char *buf = (pass ? r : w) + (size_t)i * 4096;
			assert_int_equal(io(f, pass ? BLKFRONT_READ : BLKFRONT_WRITE,
			                    (uint64_t)i * 8, buf, 4096, i),
			                 0);
			reap_one(f);
		}
	atomic_store(&p.stop, true);
	pthread_join(t, NULL);
	assert_memory_equal(w, r, 64 * 4096);
	assert_true(blkfront_wait_median(f->bf, 0) >= BH_HYBRID_MIN_NS);
	blkfront_stats(f->bf, &st);
	assert_true(st.poll_sleeps + st.poll_events > 0);
	assert_int_equal(st.bad_responses, 0);
	free(w);
	free(r);
	fx_free(f);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_scatter_write_then_read),
	cmocka_unit_test(test_large_io_two_queues),
	cmocka_unit_test(test_discard_and_refusals),
	cmocka_unit_test(test_readonly_refuses_writes),
	cmocka_unit_test(test_reap_of_exactly_max_rearms_the_event),
	cmocka_unit_test(test_plug_publishes_on_unplug),
	cmocka_unit_test(test_lent_buffers_zero_copy),
	cmocka_unit_test(test_polling_reap_arms_only_when_empty),
	cmocka_unit_test(test_spin_arms_before_giving_up),
	cmocka_unit_test(test_polling_threads_plugged_bursts),
	cmocka_unit_test(test_response_with_unknown_id_breaks_device),
	cmocka_unit_test(test_duplicate_response_breaks_device),
	cmocka_unit_test(test_response_with_wrong_op_breaks_device),
	cmocka_unit_test(test_rsp_prod_overrun_breaks_device),
	cmocka_unit_test(test_requeue_all_after_backend_death),
	cmocka_unit_test(test_hybrid_plan_follows_the_waits),
	cmocka_unit_test(test_tsleep_wakes_not_before_asked),
	cmocka_unit_test(test_hybrid_poll_adapts_and_gives_up),
	cmocka_unit_test(test_hybrid_poll_keeps_data_intact),
};

BH_TEST_MAIN(tests)
