/* blkback engine tests: the data path against a real sparse image file and
 * real io_uring, with an in-process grant table standing in for the core,
 * and a test frontend that writes requests into the shared ring by hand so
 * that it can be as hostile as it likes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blkback/blkback.h"
#include "blkback/blkback_int.h" /* the adaptive spin budget, looked at */
#include "blkback/localgnt.h"
#include "bulkhead/blkif.h"
#include "common/bhtest.h"
#include "common/util.h"

#define FRONT     7
#define BACK      3
#define NDATA     80
#define IMG_BYTES (4u << 20)

struct tring {
	uint32_t refs[16];
	void *area;
	struct blkif_front_ring fr;
	struct bh_levt ev;
	int id;
};

struct fx {
	struct bh_lgnt *g;
	char path[512];
	int img;
	struct blkback *bb;
	int vbd;
	struct tring r[2];
	uint32_t dref[NDATA];
	char *data;
	int errors_reported, last_err_ring;
	/* a hook run on every map call (the double-fetch test) */
	void (*hook)(struct fx *);
};

static struct fx *cur; /* for the map hook only */

static int hook_map(void *priv, uint16_t domid, const uint32_t *refs, uint32_t n, bool w, void **a,
                    void **c)
{
	if (cur && cur->hook)
		cur->hook(cur);
	return bh_lgnt_back_ops.map(priv, domid, refs, n, w, a, c);
}
static const struct blkback_gnt_ops hooked = { .map = hook_map, .unmap = NULL };
static struct blkback_gnt_ops hooked_ops;

static void on_ring_error(void *arg, int ring, int err, const char *why)
{
	struct fx *f = arg;

	(void)err;
	(void)why;
	f->errors_reported++;
	f->last_err_ring = ring;
}

static uint32_t queue_depth; /* 0: the default */
static uint32_t poll_ns;     /* blkback_config.poll_ns for the next engine */

static void fx_engine(struct fx *f, uint32_t max_indirect)
{
	hooked_ops = hooked;
	hooked_ops.unmap = bh_lgnt_back_ops.unmap;
	struct blkback_config c = { .gnt = &hooked_ops,
		                    .gnt_priv = f->g,
		                    .max_indirect_segments = max_indirect,
		                    .queue_depth = queue_depth,
		                    .poll_ns = poll_ns,
		                    .ring_error = on_ring_error,
		                    .arg = f,
		                    .name = "blkback/test" };
	assert_int_equal(blkback_create(&c, &f->bb), 0);
}

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *dir = bh_test_tmpdir("blkback");

	snprintf(f->path, sizeof(f->path), "%s/disk.img", dir);
	free(dir);
	f->img = open(f->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(f->img >= 0);
	assert_int_equal(ftruncate(f->img, IMG_BYTES), 0); /* sparse */
	assert_int_equal(bh_lgnt_create(FRONT, 4096, &f->g), 0);
	assert_int_equal(bh_lgnt_alloc(f->g, BACK, NDATA, true, f->dref, (void **)&f->data), 0);
	cur = f;
	return f;
}

static int add_vbd(struct fx *f, int fd, uint32_t ss, bool ro, uint64_t sectors, int sticky)
{
	struct blkback_vbd_params p = { .fd = fd,
		                        .sector_size = ss,
		                        .readonly = ro,
		                        .discard = true,
		                        .sectors = sectors,
		                        .sticky_error = sticky,
		                        .name = "xvda" };
	return blkback_add_vbd(f->bb, &p);
}

static const char *protocol = "x86_64-abi";

static uint32_t start_idx; /* blkback_ring_params.start for the next attach */

static void ring_attach(struct fx *f, struct tring *t, int vbd, unsigned order, bool persistent)
{
	uint32_t n = 1u << order;

	if (!start_idx) {
		assert_int_equal(bh_lgnt_alloc(f->g, BACK, n, true, t->refs, &t->area), 0);
		blkif_front_init(&t->fr, t->area, n);
	}
	assert_int_equal(bh_levt_init(&t->ev), 0);
	struct blkback_ring_params p = { .vbd = vbd,
		                         .domid = FRONT,
		                         .refs = t->refs,
		                         .ring_page_order = order,
		                         .protocol = protocol,
		                         .persistent = persistent,
		                         .evt_fd = t->ev.to_back,
		                         .evt_ack = bh_levt_back_ack,
		                         .notify = bh_levt_back_notify,
		                         .evt_arg = &t->ev,
		                         .start = start_idx };
	t->id = blkback_attach_ring(f->bb, &p);
	assert_true(t->id >= 0);
}

static struct fx *fx_std(bool persistent)
{
	struct fx *f = fx_new();

	fx_engine(f, 0);
	f->vbd = add_vbd(f, f->img, 512, false, 0, 0);
	assert_true(f->vbd >= 0);
	ring_attach(f, &f->r[0], f->vbd, 0, persistent);
	return f;
}

static void fx_free(struct fx *f)
{
	blkback_destroy(f->bb);
	/* every mapping the engine made is gone */
	assert_int_equal(bh_lgnt_live_maps(f->g), 0);
	for (int i = 0; i < 2; i++)
		if (f->r[i].area)
			bh_levt_dispose(&f->r[i].ev);
	bh_lgnt_destroy(f->g);
	close(f->img);
	unlink(f->path);
	cur = NULL;
	free(f);
}

/* Put a request in the next slot and publish it. */
static void push(struct tring *t, const void *req, size_t len)
{
	union blkif_sring_entry *slot =
	    (union blkif_sring_entry *)blkif_front_req_slot(&t->fr, t->fr.req_prod_pvt);

	memset(slot, 0, sizeof(*slot));
	memcpy(slot, req, len);
	t->fr.req_prod_pvt++;
	if (blkif_front_push(&t->fr))
		bh_levt_front_notify(&t->ev);
}

static void process_once(struct fx *f)
{
	struct pollfd p = { .fd = blkback_fd(f->bb), .events = POLLIN };

	poll(&p, 1, 20);
	assert_int_equal(blkback_process(f->bb), 0);
}

/* Wait for the next response on a ring. */
static struct blkif_response next_rsp(struct fx *f, struct tring *t)
{
	struct blkif_response r = { 0 };

	for (int i = 0; i < 500; i++) {
		if (BH_READ_ONCE(t->fr.sring->hdr.rsp_prod) != t->fr.rsp_cons) {
			bh_rmb();
			memcpy(&r, &t->fr.sring->ring[t->fr.rsp_cons & (t->fr.nr_ents - 1)].rsp,
			       sizeof(r));
			t->fr.rsp_cons++;
			return r;
		}
		process_once(f);
	}
	fail_msg("no response");
	return r;
}

static int16_t rw(struct fx *f, struct tring *t, uint8_t op, uint64_t id, uint64_t sector,
                  uint32_t page, uint8_t first, uint8_t last)
{
	struct blkif_request q = {
		.operation = op, .nr_segments = 1, .id = id, .sector_number = sector
	};

	q.seg[0] = (struct blkif_request_segment){ .gref = f->dref[page],
		                                   .first_sect = first,
		                                   .last_sect = last };
	push(t, &q, sizeof(q));
	struct blkif_response r = next_rsp(f, t);
	assert_int_equal(r.id, id);
	assert_int_equal(r.operation, op);
	return r.status;
}

static char *page(struct fx *f, uint32_t i)
{
	return f->data + (size_t)i * BH_PAGE_SIZE;
}

/* A polling engine serves as before, returns within its cap when idle,
 * and arms req_event before it returns: the next request is signalled. */
static void test_polling_engine_arms_before_returning(void **state)
{
	poll_ns = 200000; /* 0.2 ms */
	struct fx *f = fx_std(true);
	char buf[4096];

	poll_ns = 0;
	(void)state;
	for (int i = 0; i < 4096; i++)
		page(f, 1)[i] = (char)(i * 3 + 2);
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_WRITE, 1, 8, 1, 0, 7), BLKIF_RSP_OKAY);
	assert_int_equal(pread(f->img, buf, 4096, 8 * 512), 4096);
	assert_memory_equal(buf, page(f, 1), 4096);
	/* idle: returns after polling, well within the 2 ms cap (and a
	 * loaded machine's scheduling) */
	uint64_t t0 = bh_now_ns();
	assert_int_equal(blkback_process(f->bb), 0);
	assert_true(bh_now_ns() - t0 < 500000000ull);
	struct tring *t = &f->r[0];
	assert_int_equal(BH_READ_ONCE(t->fr.sring->hdr.req_event), t->fr.req_prod_pvt + 1);
	/* so the frontend's next push notifies */
	eventfd_t v;
	eventfd_read(t->ev.to_back, &v); /* whatever came before */
	struct blkif_request q = {
		.operation = BLKIF_OP_READ, .nr_segments = 1, .id = 2, .sector_number = 8
	};
	q.seg[0] = (struct blkif_request_segment){ .gref = f->dref[2], .last_sect = 7 };
	push(t, &q, sizeof(q));
	struct pollfd pf = { .fd = t->ev.to_back, .events = POLLIN };
	assert_int_equal(poll(&pf, 1, 0), 1);
	struct blkif_response r = next_rsp(f, t);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	assert_memory_equal(page(f, 2), page(f, 1), 4096);
	fx_free(f);
}

static void test_write_read_roundtrip(void **state)
{
	struct fx *f = fx_std(false);
	char buf[4096];

	(void)state;
	for (int i = 0; i < 4096; i++)
		page(f, 0)[i] = (char)(i * 7 + 1);
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_WRITE, 1, 64, 0, 0, 7), BLKIF_RSP_OKAY);
	/* it reached the image */
	assert_int_equal(pread(f->img, buf, 4096, 64 * 512), 4096);
	assert_memory_equal(buf, page(f, 0), 4096);
	/* part of a page, back into another page */
	memset(page(f, 1), 0, 4096);
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_READ, 2, 66, 1, 3, 4), BLKIF_RSP_OKAY);
	assert_memory_equal(page(f, 1) + 3 * 512, page(f, 0) + 2 * 512, 1024);
	assert_int_equal(page(f, 1)[0], 0);
	struct blkback_stats st;
	assert_int_equal(blkback_vbd_stats(f->bb, f->vbd, &st), 0);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.reads, 1);
	assert_int_equal(st.write_bytes, 4096);
	assert_int_equal(st.read_bytes, 1024);
	fx_free(f);
}

/* 11 segments, pages granted in any order, on a two-page ring; several
 * requests in flight at once. */
static void test_many_segments_multipage_ring(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	fx_engine(f, 0);
	f->vbd = add_vbd(f, f->img, 512, false, 0, 0);
	ring_attach(f, &f->r[0], f->vbd, 2, false);
	assert_int_equal(f->r[0].fr.nr_ents, 128);
	for (int k = 0; k < 6; k++) {
		struct blkif_request q = { .operation = BLKIF_OP_WRITE,
			                   .nr_segments = 11,
			                   .id = 100 + k,
			                   .sector_number = 1000 + k * 88 };
		for (int s = 0; s < 11; s++) {
			uint32_t pg = (uint32_t)(k * 11 + s);
			memset(page(f, pg), 'A' + (k * 11 + s) % 26, 4096);
			q.seg[s] = (struct blkif_request_segment){ .gref = f->dref[pg],
				                                   .first_sect = 0,
				                                   .last_sect = 7 };
		}
		push(&f->r[0], &q, sizeof(q));
	}
	uint32_t seen = 0;
	for (int k = 0; k < 6; k++) {
		struct blkif_response r = next_rsp(f, &f->r[0]);
		assert_int_equal(r.status, BLKIF_RSP_OKAY);
		seen |= 1u << (r.id - 100);
	}
	assert_int_equal(seen, 0x3f);
	char buf[4096];
	for (int i = 0; i < 66; i++) {
		assert_int_equal(pread(f->img, buf, 4096, (1000 + i * 8) * 512ll), 4096);
		assert_int_equal(buf[0], 'A' + i % 26);
		assert_int_equal(buf[4095], 'A' + i % 26);
	}
	fx_free(f);
}

/* Two queues of one vbd and a second vbd, each served. */
static void test_two_rings_two_vbds(void **state)
{
	struct fx *f = fx_std(true);
	char img2[600];

	(void)state;
	snprintf(img2, sizeof(img2), "%s.2", f->path);
	int fd2 = open(img2, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(ftruncate(fd2, 1 << 20), 0);
	int v2 = add_vbd(f, fd2, 4096, false, 0, 0);
	assert_true(v2 > f->vbd);
	ring_attach(f, &f->r[1], v2, 0, false);
	memset(page(f, 2), 'x', 4096);
	memset(page(f, 3), 'y', 4096);
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_WRITE, 1, 8, 2, 0, 7), 0);
	assert_int_equal(rw(f, &f->r[1], BLKIF_OP_WRITE, 2, 8, 3, 0, 7), 0);
	char a, b;
	assert_int_equal(pread(f->img, &a, 1, 4096), 1);
	assert_int_equal(pread(fd2, &b, 1, 4096), 1);
	assert_int_equal(a, 'x');
	assert_int_equal(b, 'y');
	assert_int_equal(blkback_vbd_sectors(f->bb, v2), 2048);
	close(fd2);
	unlink(img2);
	fx_free(f);
}

static void test_persistent_grants_are_mapped_once(void **state)
{
	struct fx *f = fx_std(true);
	struct blkback_stats st;

	(void)state;
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_WRITE, 1, 0, 5, 0, 7), 0);
	uint64_t calls = bh_lgnt_map_calls(f->g);
	for (int i = 0; i < 20; i++)
		assert_int_equal(
		    rw(f, &f->r[0], i % 2 ? BLKIF_OP_READ : BLKIF_OP_WRITE, 2 + i, 8, 5, 0, 7), 0);
	assert_int_equal(bh_lgnt_map_calls(f->g), calls);
	assert_int_equal(bh_lgnt_live_maps(f->g), 2); /* ring page + the one grant */
	assert_int_equal(blkback_vbd_stats(f->bb, f->vbd, &st), 0);
	assert_int_equal(st.persistent_maps, 1);
	assert_int_equal(st.transient_maps, 0);
	/* detaching unmaps them */
	assert_int_equal(blkback_detach_ring(f->bb, f->r[0].id), 0);
	assert_int_equal(bh_lgnt_live_maps(f->g), 0);
	fx_free(f);
}

/* Build an indirect request over data pages [first, first+nseg). */
static void push_indirect(struct fx *f, struct tring *t, uint8_t op, uint64_t id, uint64_t sector,
                          uint32_t ipage, uint32_t first, uint16_t nseg)
{
	struct blkif_request_segment *seg = (void *)page(f, ipage);
	struct blkif_request_indirect q = { .operation = BLKIF_OP_INDIRECT,
		                            .indirect_op = op,
		                            .nr_segments = nseg,
		                            .id = id,
		                            .sector_number = sector };

	for (uint32_t i = 0; i < nseg; i++)
		seg[i] =
		    (struct blkif_request_segment){ .gref =
			                                first + i < NDATA ? f->dref[first + i] : 0,
			                            .first_sect = 0,
			                            .last_sect = 7 };
	q.indirect_grefs[0] = f->dref[ipage];
	push(t, &q, sizeof(q));
}

static void test_indirect_write_read(void **state)
{
	struct fx *f = fx_std(false);

	(void)state;
	for (int i = 0; i < 64; i++)
		memset(page(f, 10 + i), i + 1, 4096);
	push_indirect(f, &f->r[0], BLKIF_OP_WRITE, 9, 4096, 0, 10, 64);
	struct blkif_response r = next_rsp(f, &f->r[0]);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	/* an indirect response echoes indirect_op, not BLKIF_OP_INDIRECT */
	assert_int_equal(r.operation, BLKIF_OP_WRITE);
	for (int i = 0; i < 64; i++)
		memset(page(f, 10 + i), 0, 4096);
	push_indirect(f, &f->r[0], BLKIF_OP_READ, 10, 4096, 0, 10, 64);
	r = next_rsp(f, &f->r[0]);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	for (int i = 0; i < 64; i++)
		assert_int_equal(page(f, 10 + i)[100], i + 1);
	struct blkback_features ft;
	blkback_features(f->bb, &ft);
	assert_int_equal(ft.max_indirect_segments, 256);
	fx_free(f);
}

/* With persistent grants the indirect page and the data pages are mapped
 * once, the indirect page read-only. */
static void test_indirect_persistent(void **state)
{
	struct fx *f = fx_std(true);

	(void)state;
	push_indirect(f, &f->r[0], BLKIF_OP_WRITE, 1, 0, 0, 10, 40);
	assert_int_equal(next_rsp(f, &f->r[0]).status, BLKIF_RSP_OKAY);
	uint64_t calls = bh_lgnt_map_calls(f->g);
	for (int i = 0; i < 5; i++) {
		push_indirect(f, &f->r[0], i % 2 ? BLKIF_OP_WRITE : BLKIF_OP_READ, 2 + i, 0, 0, 10,
		              40);
		assert_int_equal(next_rsp(f, &f->r[0]).status, BLKIF_RSP_OKAY);
	}
	assert_int_equal(bh_lgnt_map_calls(f->g), calls);
	assert_int_equal(bh_lgnt_live_maps(f->g), 1 + 1 + 40);
	/* the indirect page is mapped read-only: reading into it is refused */
	assert_int_equal(bh_lgnt_set_writable(f->g, f->dref[0], false), 0);
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_READ, 9, 0, 0, 0, 7), BLKIF_RSP_ERROR);
	fx_free(f);
}

static int16_t simple(struct fx *f, struct tring *t, uint8_t op, uint64_t id)
{
	struct blkif_request q = { .operation = op, .id = id };

	push(t, &q, sizeof(q));
	struct blkif_response r = next_rsp(f, t);
	assert_int_equal(r.id, id);
	return r.status;
}

static void test_flush_and_barrier(void **state)
{
	struct fx *f = fx_std(false);
	struct blkback_stats st;

	(void)state;
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_WRITE, 1, 0, 0, 0, 7), 0);
	assert_int_equal(simple(f, &f->r[0], BLKIF_OP_FLUSH_DISKCACHE, 2), BLKIF_RSP_OKAY);
	assert_int_equal(simple(f, &f->r[0], BLKIF_OP_WRITE_BARRIER, 3), BLKIF_RSP_OKAY);
	assert_int_equal(blkback_vbd_stats(f->bb, f->vbd, &st), 0);
	assert_int_equal(st.flushes, 2);
	assert_int_equal(blkback_vbd_sticky_error(f->bb, f->vbd), 0);
	fx_free(f);
}

/* fdatasync on a pipe fails (EINVAL): the flush fails, and so does every
 * later flush and write; a new engine given the sticky error keeps it. */
static void test_failed_flush_is_sticky(void **state)
{
	struct fx *f = fx_new();
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fx_engine(f, 0);
	f->vbd = add_vbd(f, p[1], 512, false, 2048, 0);
	assert_true(f->vbd >= 0);
	ring_attach(f, &f->r[0], f->vbd, 0, false);
	assert_int_equal(simple(f, &f->r[0], BLKIF_OP_FLUSH_DISKCACHE, 1), BLKIF_RSP_ERROR);
	assert_int_equal(blkback_vbd_sticky_error(f->bb, f->vbd), -EINVAL);
	assert_int_equal(simple(f, &f->r[0], BLKIF_OP_FLUSH_DISKCACHE, 2), BLKIF_RSP_ERROR);
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_WRITE, 3, 0, 0, 0, 7), BLKIF_RSP_ERROR);
	/* carried over: the image is fine, but the error is not forgotten */
	int v2 = add_vbd(f, f->img, 512, false, 0, -EINVAL);
	ring_attach(f, &f->r[1], v2, 0, false);
	assert_int_equal(rw(f, &f->r[1], BLKIF_OP_WRITE, 4, 0, 0, 0, 7), BLKIF_RSP_ERROR);
	assert_int_equal(simple(f, &f->r[1], BLKIF_OP_FLUSH_DISKCACHE, 5), BLKIF_RSP_ERROR);
	assert_int_equal(rw(f, &f->r[1], BLKIF_OP_READ, 6, 0, 0, 0, 7), BLKIF_RSP_OKAY);
	close(p[0]);
	close(p[1]);
	fx_free(f);
}

static void test_discard_punches_a_hole(void **state)
{
	struct fx *f = fx_std(false);
	struct blkif_request_discard d = {
		.operation = BLKIF_OP_DISCARD, .id = 5, .sector_number = 0, .nr_sectors = 256
	};
	struct stat st0, st1;
	char buf[512];

	(void)state;
	memset(page(f, 0), 'z', 4096);
	for (int i = 0; i < 32; i++)
		assert_int_equal(rw(f, &f->r[0], BLKIF_OP_WRITE, 1, i * 8, 0, 0, 7), 0);
	fsync(f->img);
	fstat(f->img, &st0);
	push(&f->r[0], &d, sizeof(d));
	struct blkif_response r = next_rsp(f, &f->r[0]);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	assert_int_equal(r.operation, BLKIF_OP_DISCARD);
	fstat(f->img, &st1);
	assert_true(st1.st_blocks < st0.st_blocks);
	assert_int_equal(pread(f->img, buf, 512, 0), 512);
	assert_int_equal(buf[0], 0);
	/* past the end */
	d.id = 6;
	d.sector_number = IMG_BYTES / 512 - 8;
	d.nr_sectors = 16;
	push(&f->r[0], &d, sizeof(d));
	assert_int_equal(next_rsp(f, &f->r[0]).status, BLKIF_RSP_ERROR);
	fx_free(f);
}

static void test_readonly_vbd(void **state)
{
	struct fx *f = fx_new();
	struct blkif_request_discard d = { .operation = BLKIF_OP_DISCARD,
		                           .id = 4,
		                           .nr_sectors = 8 };

	(void)state;
	fx_engine(f, 0);
	f->vbd = add_vbd(f, f->img, 512, true, 0, 0);
	ring_attach(f, &f->r[0], f->vbd, 0, false);
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_READ, 1, 0, 0, 0, 7), BLKIF_RSP_OKAY);
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_WRITE, 2, 0, 0, 0, 7), BLKIF_RSP_ERROR);
	assert_int_equal(simple(f, &f->r[0], BLKIF_OP_FLUSH_DISKCACHE, 3), BLKIF_RSP_ERROR);
	push(&f->r[0], &d, sizeof(d));
	assert_int_not_equal(next_rsp(f, &f->r[0]).status, BLKIF_RSP_OKAY);
	fx_free(f);
}

static void test_sector_size_4096(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	fx_engine(f, 0);
	f->vbd = add_vbd(f, f->img, 4096, false, 0, 0);
	ring_attach(f, &f->r[0], f->vbd, 0, false);
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_WRITE, 1, 8, 0, 0, 7), BLKIF_RSP_OKAY);
	/* not aligned to the 4096-byte sector: refused */
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_WRITE, 2, 4, 0, 0, 7), BLKIF_RSP_ERROR);
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_READ, 3, 8, 0, 1, 7), BLKIF_RSP_ERROR);
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_READ, 4, 8, 0, 0, 3), BLKIF_RSP_ERROR);
	fx_free(f);
}

/* Every malformed request gets an error response, and the ring goes on. */
static void test_hostile_requests_get_errors(void **state)
{
	struct fx *f = fx_std(false);
	struct tring *t = &f->r[0];
	struct blkif_request q;
	struct blkback_stats st;

	(void)state;
	/* 12 direct segments */
	q = (struct blkif_request){ .operation = BLKIF_OP_READ, .nr_segments = 12, .id = 1 };
	push(t, &q, sizeof(q));
	assert_int_equal(next_rsp(f, t).status, BLKIF_RSP_ERROR);
	/* zero segments */
	q = (struct blkif_request){ .operation = BLKIF_OP_WRITE, .nr_segments = 0, .id = 2 };
	push(t, &q, sizeof(q));
	assert_int_equal(next_rsp(f, t).status, BLKIF_RSP_ERROR);
	/* first > last, last > 7 */
	assert_int_equal(rw(f, t, BLKIF_OP_READ, 3, 0, 0, 5, 4), BLKIF_RSP_ERROR);
	assert_int_equal(rw(f, t, BLKIF_OP_READ, 4, 0, 0, 0, 8), BLKIF_RSP_ERROR);
	/* past the end, and a wrapping sector number */
	assert_int_equal(rw(f, t, BLKIF_OP_READ, 5, IMG_BYTES / 512 - 4, 0, 0, 7), BLKIF_RSP_ERROR);
	assert_int_equal(rw(f, t, BLKIF_OP_READ, 6, UINT64_MAX - 2, 0, 0, 7), BLKIF_RSP_ERROR);
	/* a grant that is not granted */
	q = (struct blkif_request){ .operation = BLKIF_OP_READ, .nr_segments = 1, .id = 7 };
	q.seg[0] = (struct blkif_request_segment){ .gref = 99999, .last_sect = 7 };
	push(t, &q, sizeof(q));
	assert_int_equal(next_rsp(f, t).status, BLKIF_RSP_ERROR);
	/* a read-only grant for a read (the backend must write into it) */
	assert_int_equal(bh_lgnt_set_writable(f->g, f->dref[4], false), 0);
	assert_int_equal(rw(f, t, BLKIF_OP_READ, 8, 0, 4, 0, 7), BLKIF_RSP_ERROR);
	/* ... but fine for a write */
	assert_int_equal(rw(f, t, BLKIF_OP_WRITE, 9, 0, 4, 0, 7), BLKIF_RSP_OKAY);
	/* unknown operations */
	assert_int_equal(simple(f, t, 4, 10), BLKIF_RSP_EOPNOTSUPP);
	assert_int_equal(simple(f, t, 200, 11), BLKIF_RSP_EOPNOTSUPP);
	/* a flush with segments */
	q = (struct blkif_request){ .operation = BLKIF_OP_FLUSH_DISKCACHE,
		                    .nr_segments = 1,
		                    .id = 12 };
	push(t, &q, sizeof(q));
	assert_int_equal(next_rsp(f, t).status, BLKIF_RSP_ERROR);
	/* indirect: bad indirect page, too many segments, bad indirect_op */
	push_indirect(f, t, BLKIF_OP_READ, 13, 0, 0, 10, 8);
	assert_int_equal(next_rsp(f, t).status, BLKIF_RSP_OKAY);
	assert_int_equal(bh_lgnt_revoke(f->g, f->dref[1]), 0);
	push_indirect(f, t, BLKIF_OP_READ, 14, 0, 1, 10, 8);
	assert_int_equal(next_rsp(f, t).status, BLKIF_RSP_ERROR);
	push_indirect(f, t, BLKIF_OP_READ, 15, 0, 0, 10, 257);
	assert_int_equal(next_rsp(f, t).status, BLKIF_RSP_ERROR);
	push_indirect(f, t, BLKIF_OP_DISCARD, 16, 0, 0, 10, 2);
	assert_int_equal(next_rsp(f, t).status, BLKIF_RSP_ERROR);
	push_indirect(f, t, BLKIF_OP_READ, 17, 0, 0, 10, 0);
	assert_int_equal(next_rsp(f, t).status, BLKIF_RSP_ERROR);
	/* the ring still works, nothing stays mapped but the ring */
	assert_int_equal(rw(f, t, BLKIF_OP_READ, 18, 0, 0, 0, 7), BLKIF_RSP_OKAY);
	assert_int_equal(blkback_ring_status(f->bb, t->id), 0);
	assert_int_equal(bh_lgnt_live_maps(f->g), 1);
	assert_int_equal(blkback_vbd_stats(f->bb, f->vbd, &st), 0);
	assert_int_equal(st.bad_requests, 15);
	assert_int_equal(f->errors_reported, 0);
	fx_free(f);
}

static void test_indirect_refused_when_disabled(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	fx_engine(f, 11);
	f->vbd = add_vbd(f, f->img, 512, false, 0, 0);
	ring_attach(f, &f->r[0], f->vbd, 0, false);
	push_indirect(f, &f->r[0], BLKIF_OP_READ, 1, 0, 0, 10, 4);
	assert_int_equal(next_rsp(f, &f->r[0]).status, BLKIF_RSP_EOPNOTSUPP);
	struct blkback_features ft;
	blkback_features(f->bb, &ft);
	assert_int_equal(ft.max_indirect_segments, 0);
	fx_free(f);
}

/* A producer more than a ring ahead stops that ring, is reported, and
 * the other ring is still served. */
static void test_req_prod_overrun_stops_only_that_ring(void **state)
{
	struct fx *f = fx_std(false);

	(void)state;
	ring_attach(f, &f->r[1], f->vbd, 0, false);
	BH_WRITE_ONCE(f->r[0].fr.sring->hdr.req_prod, 33);
	bh_levt_front_notify(&f->r[0].ev);
	process_once(f);
	assert_int_equal(f->errors_reported, 1);
	assert_int_equal(f->last_err_ring, f->r[0].id);
	assert_int_equal(blkback_ring_status(f->bb, f->r[0].id), -EPROTO);
	/* nothing was answered on the stopped ring */
	assert_int_equal(BH_READ_ONCE(f->r[0].fr.sring->hdr.rsp_prod), 0);
	assert_int_equal(rw(f, &f->r[1], BLKIF_OP_WRITE, 1, 0, 0, 0, 7), BLKIF_RSP_OKAY);
	assert_int_equal(blkback_ring_status(f->bb, f->r[1].id), 0);
	fx_free(f);
}

/* The map of an indirect request's data fails on its third chunk: the two
 * chunks mapped before it are unmapped again. */
static void test_batch_map_failure_unmaps(void **state)
{
	struct fx *f = fx_std(false);

	(void)state;
	for (int i = 0; i < 64; i++)
		memset(page(f, 10 + i), 1, 4096);
	/* call 1 maps the indirect page, 2..5 the four chunks of 16 */
	bh_lgnt_fail_map_after(f->g, 4);
	push_indirect(f, &f->r[0], BLKIF_OP_WRITE, 9, 0, 0, 10, 64);
	assert_int_equal(next_rsp(f, &f->r[0]).status, BLKIF_RSP_ERROR);
	assert_int_equal(bh_lgnt_live_maps(f->g), 1); /* the ring only */
	/* and persistent grants a failed request added are dropped too */
	blkback_destroy(f->bb);
	fx_engine(f, 0);
	f->vbd = add_vbd(f, f->img, 512, false, 0, 0);
	bh_levt_dispose(&f->r[0].ev);
	ring_attach(f, &f->r[0], f->vbd, 0, true);
	struct blkif_request q = { .operation = BLKIF_OP_WRITE, .nr_segments = 4, .id = 3 };
	for (int s = 0; s < 4; s++)
		q.seg[s] =
		    (struct blkif_request_segment){ .gref = f->dref[20 + s], .last_sect = 7 };
	bh_lgnt_fail_map_after(f->g, 3);
	push(&f->r[0], &q, sizeof(q));
	assert_int_equal(next_rsp(f, &f->r[0]).status, BLKIF_RSP_ERROR);
	assert_int_equal(bh_lgnt_live_maps(f->g), 1);
	/* the same request later succeeds */
	q.id = 4;
	push(&f->r[0], &q, sizeof(q));
	assert_int_equal(next_rsp(f, &f->r[0]).status, BLKIF_RSP_OKAY);
	assert_int_equal(bh_lgnt_live_maps(f->g), 5);
	fx_free(f);
}

/* Every byte of the response slot is written: no stale request bytes or
 * padding left behind. */
static void test_response_slot_fully_written(void **state)
{
	struct fx *f = fx_std(false);
	struct tring *t = &f->r[0];
	unsigned char *slot = (unsigned char *)&t->fr.sring->ring[0];

	(void)state;
	struct blkif_request q = { .operation = BLKIF_OP_READ, .nr_segments = 11, .id = 0x55 };
	for (int s = 0; s < 11; s++)
		q.seg[s] = (struct blkif_request_segment){ .gref = f->dref[s],
			                                   .last_sect = 7,
			                                   .pad = { 0xee, 0xee } };
	q.pad = 0xdddddddd;
	memcpy(slot, &q, sizeof(q));
	t->fr.req_prod_pvt++;
	blkif_front_push(&t->fr);
	bh_levt_front_notify(&t->ev);
	struct blkif_response r = next_rsp(f, t);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	assert_int_equal(slot[9], 0);
	for (int i = 12; i < 112; i++)
		assert_int_equal(slot[i], 0);
	fx_free(f);
}

/* The request is read once: the frontend rewriting the slot while the
 * backend works on it (here: from inside the map call) changes nothing. */
static void rewrite_slot(struct fx *f)
{
	struct blkif_request *s = &f->r[0].fr.sring->ring[0].req;

	s->sector_number = 512;
	s->nr_segments = 200;
	s->seg[0].last_sect = 200;
	s->operation = BLKIF_OP_READ;
}

static void test_request_is_copied_once(void **state)
{
	struct fx *f = fx_std(false);
	char buf[4096];

	(void)state;
	memset(page(f, 0), 'q', 4096);
	struct blkif_request q = {
		.operation = BLKIF_OP_WRITE, .nr_segments = 1, .id = 1, .sector_number = 16
	};
	q.seg[0] = (struct blkif_request_segment){ .gref = f->dref[0], .last_sect = 7 };
	f->hook = rewrite_slot;
	push(&f->r[0], &q, sizeof(q));
	struct blkif_response r = next_rsp(f, &f->r[0]);
	f->hook = NULL;
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	assert_int_equal(r.operation, BLKIF_OP_WRITE);
	assert_int_equal(pread(f->img, buf, 4096, 16 * 512), 4096);
	assert_int_equal(buf[0], 'q');
	assert_int_equal(pread(f->img, buf, 4096, 512 * 512), 4096);
	assert_int_equal(buf[0], 0);
	fx_free(f);
}

/* Ring 0 keeps its ring full all the time; ring 1's one request is still
 * answered within a bound. */
static void test_flooding_ring_does_not_starve_another(void **state)
{
	struct fx *f = fx_std(false);
	struct tring *a = &f->r[0], *b = &f->r[1];
	uint64_t a_done = 0;
	bool b_done = false;

	(void)state;
	ring_attach(f, b, f->vbd, 0, false);
	/* fill ring a */
	for (uint32_t i = 0; i < a->fr.nr_ents; i++) {
		struct blkif_request q = { .operation = BLKIF_OP_READ, .nr_segments = 11, .id = i };
		for (int s = 0; s < 11; s++)
			q.seg[s] =
			    (struct blkif_request_segment){ .gref = f->dref[s], .last_sect = 7 };
		push(a, &q, sizeof(q));
	}
	struct blkif_request qb = { .operation = BLKIF_OP_READ, .nr_segments = 1, .id = 777 };
	qb.seg[0] = (struct blkif_request_segment){ .gref = f->dref[50], .last_sect = 7 };
	push(b, &qb, sizeof(qb));
	for (int iter = 0; iter < 2000 && !b_done; iter++) {
		process_once(f);
		/* a refills every slot it gets back */
		while (BH_READ_ONCE(a->fr.sring->hdr.rsp_prod) != a->fr.rsp_cons) {
			a->fr.rsp_cons++;
			a_done++;
			struct blkif_request q = { .operation = BLKIF_OP_READ,
				                   .nr_segments = 11,
				                   .id = a_done };
			for (int s = 0; s < 11; s++)
				q.seg[s] = (struct blkif_request_segment){ .gref = f->dref[s],
					                                   .last_sect = 7 };
			push(a, &q, sizeof(q));
		}
		if (BH_READ_ONCE(b->fr.sring->hdr.rsp_prod) != b->fr.rsp_cons)
			b_done = true;
	}
	assert_true(b_done);
	/* b's request waited at most about one ring's worth of a's work */
	assert_true(a_done <= 2 * a->fr.nr_ents);
	fx_free(f);
}

/* A full ring of requests on an engine whose io_uring holds far fewer:
 * the rest wait for completions, none fails. */
static void test_small_io_uring_full_ring(void **state)
{
	queue_depth = 2;
	struct fx *f = fx_std(false);
	struct tring *t = &f->r[0];
	struct blkback_stats st;

	(void)state;
	queue_depth = 0;
	for (uint32_t i = 0; i < t->fr.nr_ents; i++) {
		struct blkif_request q = { .operation = i % 2 ? BLKIF_OP_READ : BLKIF_OP_WRITE,
			                   .nr_segments = 1,
			                   .id = i,
			                   .sector_number = i * 8 };
		q.seg[0] =
		    (struct blkif_request_segment){ .gref = f->dref[i % NDATA], .last_sect = 7 };
		push(t, &q, sizeof(q));
	}
	for (uint32_t i = 0; i < t->fr.nr_ents; i++)
		assert_int_equal(next_rsp(f, t).status, BLKIF_RSP_OKAY);
	assert_int_equal(blkback_vbd_stats(f->bb, f->vbd, &st), 0);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.reads + st.writes, t->fr.nr_ents);
	fx_free(f);
}

/* A frontend speaking the x86_32 ABI: 108-byte slots, 4-aligned 64-bit
 * fields, 12-byte responses; translated both ways. */
static void test_x86_32_abi_frontend(void **state)
{
	struct fx *f = fx_new();
	struct tring *t = &f->r[0];
	char buf[4096];

	(void)state;
	fx_engine(f, 0);
	f->vbd = add_vbd(f, f->img, 512, false, 0, 0);
	protocol = "x86_32-abi";
	ring_attach(f, t, f->vbd, 0, false);
	protocol = "x86_64-abi";
	unsigned char *ring = (unsigned char *)t->fr.sring->ring;
	memset(page(f, 0), 'w', 4096);
	/* slots 0..2: a write, a read into page 1, an indirect read into 2..4 */
	struct blkif_x86_32_request w = { .operation = BLKIF_OP_WRITE,
		                          .nr_segments = 1,
		                          .id = 0x1111222233334444ull,
		                          .sector_number = 40 };
	w.seg[0] = (struct blkif_request_segment){ .gref = f->dref[0], .last_sect = 7 };
	struct blkif_x86_32_request r = w;
	r.operation = BLKIF_OP_READ;
	r.id = 2;
	r.seg[0].gref = f->dref[1];
	struct blkif_request_segment *iseg = (void *)page(f, 5);
	for (int i = 0; i < 3; i++)
		iseg[i] = (struct blkif_request_segment){ .gref = f->dref[2 + i], .last_sect = 7 };
	struct blkif_x86_32_request_indirect ir = { .operation = BLKIF_OP_INDIRECT,
		                                    .indirect_op = BLKIF_OP_READ,
		                                    .nr_segments = 3,
		                                    .id = 3,
		                                    .sector_number = 32 };
	ir.indirect_grefs[0] = f->dref[5];
	memcpy(ring, &w, sizeof(w));
	memcpy(ring + 108, &r, sizeof(r));
	memcpy(ring + 216, &ir, sizeof(ir));
	t->fr.req_prod_pvt = 3;
	blkif_front_push(&t->fr);
	bh_levt_front_notify(&t->ev);
	/* completion order is not promised: wait for all three */
	for (int i = 0; i < 500 && BH_READ_ONCE(t->fr.sring->hdr.rsp_prod) != 3; i++)
		process_once(f);
	assert_int_equal(t->fr.sring->hdr.rsp_prod, 3);
	uint64_t seen = 0;
	for (int i = 0; i < 3; i++) {
		struct blkif_x86_32_response rsp;
		memcpy(&rsp, ring + i * 108, sizeof(rsp));
		assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
		seen += rsp.id;
		/* the rest of the 108-byte slot is zero */
		for (int k = 12; k < 108; k++)
			assert_int_equal(ring[i * 108 + k], 0);
	}
	assert_int_equal(seen, 0x1111222233334444ull + 5);
	assert_int_equal(pread(f->img, buf, 4096, 40 * 512), 4096);
	assert_int_equal(buf[0], 'w');
	fx_free(f);
}

/* A restarted backend re-attaches to a ring that already carried traffic,
 * at the index where its predecessor stopped, and goes on. */
static void test_reattach_at_index(void **state)
{
	struct fx *f = fx_std(true);

	(void)state;
	for (int i = 0; i < 45; i++) /* past one ring's worth: indices wrap the slots */
		assert_int_equal(rw(f, &f->r[0], BLKIF_OP_WRITE, i, i * 8, 0, 0, 7), 0);
	blkback_destroy(f->bb);
	assert_int_equal(bh_lgnt_live_maps(f->g), 0);
	fx_engine(f, 0);
	f->vbd = add_vbd(f, f->img, 512, false, 0, 0);
	bh_levt_dispose(&f->r[0].ev);
	start_idx = f->r[0].fr.req_prod_pvt;
	ring_attach(f, &f->r[0], f->vbd, 0, true);
	start_idx = 0;
	memset(page(f, 0), 0, 4096);
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_READ, 99, 44 * 8, 0, 0, 7), BLKIF_RSP_OKAY);
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_WRITE, 100, 0, 1, 0, 7), BLKIF_RSP_OKAY);
	assert_int_equal(f->r[0].fr.sring->hdr.rsp_prod, 47);
	fx_free(f);
}

/* Event storms (kicks with nothing on the ring) from one ring while the
 * other ring's requests are still served promptly. */
static void test_event_storm_does_not_starve_another(void **state)
{
	struct fx *f = fx_std(false);

	(void)state;
	ring_attach(f, &f->r[1], f->vbd, 0, false);
	for (int k = 0; k < 20; k++) {
		for (int i = 0; i < 1000; i++)
			bh_levt_front_notify(&f->r[0].ev);
		uint64_t t0 = bh_now_ns();
		assert_int_equal(rw(f, &f->r[1], BLKIF_OP_READ, k, k * 8, 0, 0, 7), 0);
		assert_true(bh_now_ns() - t0 < 2000000000ull);
	}
	assert_int_equal(f->r[0].fr.sring->hdr.rsp_prod, 0);
	assert_int_equal(blkback_ring_status(f->bb, f->r[0].id), 0);
	fx_free(f);
}

/* bh inject's hooks: a bogus id once, lost notifications for a while, a
 * closed channel for good; nothing else changes. */
static void test_injected_faults(void **state)
{
	struct fx *f = fx_std(false);
	struct blkif_request q = { .operation = BLKIF_OP_WRITE, .nr_segments = 1, .id = 5 };
	struct blkif_response r;
	RING_IDX before;

	(void)state;
	q.seg[0] = (struct blkif_request_segment){ .gref = f->dref[0], .last_sect = 7 };
	assert_int_equal(blkback_ring_inject(f->bb, 9, BLKBACK_FAULT_CORRUPT, 0), -ENOENT);
	/* corrupt: the next response only, and the write is done */
	assert_int_equal(blkback_ring_inject(f->bb, f->r[0].id, BLKBACK_FAULT_CORRUPT, 0), 0);
	push(&f->r[0], &q, sizeof(q));
	r = next_rsp(f, &f->r[0]);
	assert_int_equal(r.id, 5ull ^ 0x5a5a000000000000ull);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	assert_int_equal(rw(f, &f->r[0], BLKIF_OP_WRITE, 6, 8, 0, 0, 7), BLKIF_RSP_OKAY);
	/* drop-notify 300 ms: a request is not looked at meanwhile; after, a
	 * signal sent again gets it served */
	assert_int_equal(blkback_ring_inject(f->bb, f->r[0].id, BLKBACK_FAULT_DROP_NOTIFY, 300), 0);
	before = f->r[0].fr.sring->hdr.rsp_prod;
	q.id = 7;
	push(&f->r[0], &q, sizeof(q));
	for (int i = 0; i < 5; i++)
		process_once(f);
	assert_int_equal(f->r[0].fr.sring->hdr.rsp_prod, before);
	usleep(300000);
	bh_levt_front_notify(&f->r[0].ev);
	r = next_rsp(f, &f->r[0]);
	assert_int_equal(r.id, 7);
	/* close-channel: the ring is never served again; once only */
	assert_int_equal(blkback_ring_inject(f->bb, f->r[0].id, BLKBACK_FAULT_CLOSE_CHANNEL, 0), 0);
	assert_int_equal(blkback_ring_inject(f->bb, f->r[0].id, BLKBACK_FAULT_CLOSE_CHANNEL, 0),
	                 -EALREADY);
	before = f->r[0].fr.sring->hdr.rsp_prod;
	q.id = 8;
	push(&f->r[0], &q, sizeof(q));
	for (int i = 0; i < 5; i++)
		process_once(f);
	assert_int_equal(f->r[0].fr.sring->hdr.rsp_prod, before);
	fx_free(f); /* detaching a ring without its channel is clean */
}

/* Adaptive polling: long idle periods halve the spin budget down to 0 (an
 * idle engine spins no more), back-to-back work doubles it back up to
 * poll_ns; a spin that loses its CPU stops polling for a while instead. */
static void test_polling_budget_adapts(void **state)
{
	poll_ns = 2000000; /* 2 ms */
	struct fx *f = fx_std(true);

	poll_ns = 0;
	(void)state;
	assert_int_equal(f->bb->poll.cur, 2000000);
	for (int i = 0; i < 16 && f->bb->poll.cur; i++) {
		usleep(10000); /* idle 10 ms: longer than poll_ns */
		assert_int_equal(blkback_process(f->bb), 0);
	}
	assert_int_equal(f->bb->poll.cur, 0);
	/* 0: no spin, the call returns at once and stays idle */
	uint64_t t0 = bh_now_ns();
	usleep(10000);
	assert_int_equal(blkback_process(f->bb), 0);
	assert_true(bh_now_ns() - t0 < 1000000000ull);
	assert_int_equal(f->bb->poll.cur, 0);
	/* work again and again within poll_ns: the budget grows back (once
	 * a back-off from a spin that lost its CPU above is over) */
	while (bh_now_ns() < f->bb->poll.off_until)
		usleep(10000);
	uint64_t pre = f->bb->poll.preempted;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(rw(f, &f->r[0], BLKIF_OP_READ, (uint64_t)i + 1, 8, 1, 0, 7),
		                 BLKIF_RSP_OKAY);
		if (f->bb->poll.cur == 2000000)
			break;
	}
	if (f->bb->poll.preempted == pre)
		assert_int_equal(f->bb->poll.cur, 2000000);
	else /* a busy machine took the CPU from a spin: backing off */
		assert_true(f->bb->poll.off_until > 0);
	fx_free(f);
}

/* With the rings empty and I/O at the device (here a read from an empty
 * pipe: it stays in flight until the pipe has data), a polling engine does
 * not spin: it arms the ring and returns at once, its budget untouched
 * (the sleep measures the device, not the frontend); the completion wakes
 * it through blkback_fd(). */
static void test_polling_sleeps_on_device_io(void **state)
{
	poll_ns = 50000000; /* 50 ms: a spin would be seen */
	struct fx *f = fx_new();
	int pfd[2];

	(void)state;
	fx_engine(f, 0);
	poll_ns = 0;
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	f->vbd = add_vbd(f, pfd[0], 512, false, 2048, 0);
	assert_true(f->vbd >= 0);
	ring_attach(f, &f->r[0], f->vbd, 0, true);
	struct tring *t = &f->r[0];
	struct blkif_request q = {
		.operation = BLKIF_OP_READ, .nr_segments = 1, .id = 5, .sector_number = 0
	};
	q.seg[0] = (struct blkif_request_segment){ .gref = f->dref[3], .last_sect = 7 };
	push(t, &q, sizeof(q));
	process_once(f);
	assert_int_equal(f->bb->uring_inflight, 1); /* at the "device" */
	assert_int_equal(BH_READ_ONCE(t->fr.sring->hdr.rsp_prod), 0);
	assert_int_equal(f->bb->poll.cur, 50000000);
	assert_int_equal(f->bb->poll.idle_since, 0);
	assert_int_equal(f->bb->poll.preempted, 0);
	assert_int_equal(BH_READ_ONCE(t->fr.sring->hdr.req_event), t->fr.req_prod_pvt + 1);
	/* the device answers: the engine is woken and responds */
	char data[4096];
	for (int i = 0; i < 4096; i++)
		data[i] = (char)(i * 7 + 1);
	assert_int_equal(write(pfd[1], data, sizeof(data)), (ssize_t)sizeof(data));
	struct pollfd pf = { .fd = blkback_fd(f->bb), .events = POLLIN };
	assert_int_equal(poll(&pf, 1, 5000), 1);
	struct blkif_response r = next_rsp(f, t);
	assert_int_equal(r.id, 5);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	assert_memory_equal(page(f, 3), data, 4096);
	fx_free(f);
	close(pfd[0]);
	close(pfd[1]);
}

/* With device I/O in flight, a polling engine that just published a
 * response spins only briefly (BB_SPIN_AFTER_RSP_NS) for new requests,
 * not its whole budget, then sleeps. */
static void test_polling_short_spin_after_response(void **state)
{
	poll_ns = 50000000; /* 50 ms */
	struct fx *f = fx_new();
	int pfd[2];

	(void)state;
	fx_engine(f, 0);
	poll_ns = 0;
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	int slow = add_vbd(f, pfd[0], 512, false, 2048, 0);
	f->vbd = add_vbd(f, f->img, 512, false, 0, 0);
	assert_true(slow >= 0 && f->vbd >= 0);
	ring_attach(f, &f->r[0], slow, 0, true);
	ring_attach(f, &f->r[1], f->vbd, 0, true);
	struct blkif_request q = {
		.operation = BLKIF_OP_READ, .nr_segments = 1, .id = 1, .sector_number = 0
	};
	q.seg[0] = (struct blkif_request_segment){ .gref = f->dref[3], .last_sect = 7 };
	push(&f->r[0], &q, sizeof(q));
	process_once(f);
	assert_int_equal(f->bb->uring_inflight, 1); /* the pipe read waits */
	q.id = 2;
	q.seg[0].gref = f->dref[4];
	push(&f->r[1], &q, sizeof(q));
	uint64_t pre = f->bb->poll.preempted, t0 = bh_now_ns();
	assert_int_equal(blkback_process(f->bb), 0);
	uint64_t took = bh_now_ns() - t0;
	/* the file read was answered ... */
	assert_int_equal(BH_READ_ONCE(f->r[1].fr.sring->hdr.rsp_prod), 1);
	/* ... and the engine did not spin its 50 ms budget on the pipe */
	assert_true(took < 25000000ull);
	assert_int_equal(f->bb->poll.idle_since, 0);
	if (f->bb->poll.preempted == pre)
		assert_int_equal(f->bb->poll.cur, 50000000);
	assert_int_equal(write(pfd[1], page(f, 5), 4096), 4096);
	struct blkif_response r = next_rsp(f, &f->r[0]);
	assert_int_equal(r.id, 1);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	fx_free(f);
	close(pfd[0]);
	close(pfd[1]);
}

/* A ring whose notifications are being dropped (bh inject) does not keep
 * a polling engine busy: it returns and does not wake itself again. */
static void test_polling_ignores_deaf_ring(void **state)
{
	poll_ns = 1000000;
	struct fx *f = fx_std(true);
	struct blkif_request q = {
		.operation = BLKIF_OP_READ, .nr_segments = 1, .id = 9, .sector_number = 8
	};

	poll_ns = 0;
	(void)state;
	q.seg[0] = (struct blkif_request_segment){ .gref = f->dref[2], .last_sect = 7 };
	assert_int_equal(blkback_ring_inject(f->bb, f->r[0].id, BLKBACK_FAULT_DROP_NOTIFY, 0), 0);
	push(&f->r[0], &q, sizeof(q));
	for (int i = 0; i < 3; i++)
		process_once(f);
	struct pollfd pf = { .fd = blkback_fd(f->bb), .events = POLLIN };
	assert_int_equal(poll(&pf, 1, 0), 0);
	assert_int_equal(f->r[0].fr.sring->hdr.rsp_prod, 0);
	fx_free(f);
}

static void test_bad_parameters(void **state)
{
	struct fx *f = fx_std(false);
	uint32_t refs[1] = { f->dref[0] };
	struct blkback_ring_params p = { .vbd = f->vbd,
		                         .domid = FRONT,
		                         .refs = refs,
		                         .protocol = "arm-abi",
		                         .evt_fd = f->r[0].ev.to_back,
		                         .evt_ack = bh_levt_back_ack,
		                         .notify = bh_levt_back_notify };

	(void)state;
	assert_int_equal(blkback_attach_ring(f->bb, &p), -EPROTONOSUPPORT);
	p.protocol = NULL;
	p.ring_page_order = 5;
	assert_int_equal(blkback_attach_ring(f->bb, &p), -EINVAL);
	p.ring_page_order = 0;
	p.vbd = 42;
	assert_int_equal(blkback_attach_ring(f->bb, &p), -ENOENT);
	p.vbd = f->vbd;
	refs[0] = 12345678; /* not granted */
	assert_true(blkback_attach_ring(f->bb, &p) < 0);
	struct blkback_vbd_params v = { .fd = f->img, .sector_size = 1024 };
	assert_int_equal(blkback_add_vbd(f->bb, &v), -EINVAL);
	assert_int_equal(blkback_detach_ring(f->bb, 40), -ENOENT);
	fx_free(f);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_write_read_roundtrip),
	cmocka_unit_test(test_polling_engine_arms_before_returning),
	cmocka_unit_test(test_many_segments_multipage_ring),
	cmocka_unit_test(test_two_rings_two_vbds),
	cmocka_unit_test(test_persistent_grants_are_mapped_once),
	cmocka_unit_test(test_indirect_write_read),
	cmocka_unit_test(test_indirect_persistent),
	cmocka_unit_test(test_flush_and_barrier),
	cmocka_unit_test(test_failed_flush_is_sticky),
	cmocka_unit_test(test_discard_punches_a_hole),
	cmocka_unit_test(test_readonly_vbd),
	cmocka_unit_test(test_sector_size_4096),
	cmocka_unit_test(test_hostile_requests_get_errors),
	cmocka_unit_test(test_indirect_refused_when_disabled),
	cmocka_unit_test(test_req_prod_overrun_stops_only_that_ring),
	cmocka_unit_test(test_batch_map_failure_unmaps),
	cmocka_unit_test(test_response_slot_fully_written),
	cmocka_unit_test(test_request_is_copied_once),
	cmocka_unit_test(test_flooding_ring_does_not_starve_another),
	cmocka_unit_test(test_small_io_uring_full_ring),
	cmocka_unit_test(test_x86_32_abi_frontend),
	cmocka_unit_test(test_reattach_at_index),
	cmocka_unit_test(test_event_storm_does_not_starve_another),
	cmocka_unit_test(test_injected_faults),
	cmocka_unit_test(test_polling_budget_adapts),
	cmocka_unit_test(test_polling_ignores_deaf_ring),
	cmocka_unit_test(test_polling_sleeps_on_device_io),
	cmocka_unit_test(test_polling_short_spin_after_response),
	cmocka_unit_test(test_bad_parameters),
};

BH_TEST_MAIN(tests)
