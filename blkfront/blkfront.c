/* The blkif frontend: rings, pools of granted pages, shadows, and the
 * checks on every response (see blkfront.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkfront/blkfront.h"
#include "bulkhead/blkif.h"
#include "common/spinpoll.h"
#include "common/util.h"

struct shadow {
	bool used;
	bool zc;        /* the caller's data is in its own pool buffer: no copy */
	uint8_t rsp_op; /* what the response must echo */
	uint64_t seq;   /* submission order, for requeueing */
	struct blkfront_io io;
	struct iovec *iov; /* our copy of the caller's list */
	uint32_t npages;
	uint32_t *pages; /* pool page indices */
	uint64_t bytes;
	union blkif_sring_entry req; /* the request as written */
};

struct queue {
	uint32_t refs[1u << BLKFRONT_MAX_ORDER];
	void *area, *area_cookie;
	struct blkif_front_ring fr;
	uint32_t nr_ents;
	struct shadow *sh;
	uint32_t *sh_free; /* stack of free ids */
	uint32_t nfree_sh;
	/* data pool */
	uint32_t *pool_refs;
	char *pool;
	void *pool_cookie;
	uint32_t *pool_free; /* stack of free page indices */
	uint32_t npool, nfree_pool;
	uint8_t *pool_lent; /* pages lent out by blkfront_buf_alloc */
	/* one indirect page per slot (when indirect is on) */
	uint32_t *ind_refs;
	char *ind;
	void *ind_cookie;
	/* hybrid polling: the recent waits for this ring's responses, and
	 * when the one now open began (0: none open) */
	struct bh_waitest waits;
	uint64_t wait_start;
};

struct blkfront {
	struct blkfront_config cfg;
	uint32_t nq, rr;
	bool plugged;             /* requests are written, not yet published */
	struct bh_spinpoll poll;  /* adaptive polling up to cfg.poll_ns; idle_since:
	                          * when reap last returned 0 with requests in flight */
	struct bh_tsleep tsleep;  /* the hybrid poll's timed sleep */
	enum bh_hybrid_mode mode; /* how the last wait was done */
	uint32_t misses;          /* timed sleeps in a row whose spin found nothing */
	uint64_t hybrid_off;      /* no timed sleep before then (ns) */
	uint32_t max_pages;       /* data pages per request */
	uint32_t inflight;
	uint64_t seq;
	int broken;
	struct queue q[BLKFRONT_MAX_QUEUES];
	/* completions of requests failed when the device broke */
	struct blkfront_cpl *failed;
	uint32_t nfailed;
	struct blkfront_stats st;
};

static int queue_setup(struct blkfront *bf, struct queue *q)
{
	const struct blkfront_config *c = &bf->cfg;
	uint32_t pages = 1u << c->ring_page_order;
	int rc;

	rc =
	    c->gnt->alloc(c->gnt_priv, c->backend, pages, true, q->refs, &q->area, &q->area_cookie);
	if (rc < 0)
		return rc;
	blkif_front_init(&q->fr, q->area, pages);
	q->nr_ents = q->fr.nr_ents;
	q->npool = c->pool_pages ? c->pool_pages : q->nr_ents * BLKIF_MAX_SEGMENTS_PER_REQUEST;
	q->sh = calloc(q->nr_ents, sizeof(*q->sh));
	q->sh_free = calloc(q->nr_ents, sizeof(uint32_t));
	q->pool_refs = calloc(q->npool, sizeof(uint32_t));
	q->pool_free = calloc(q->npool, sizeof(uint32_t));
	q->pool_lent = calloc(q->npool, 1);
	if (!q->sh || !q->sh_free || !q->pool_refs || !q->pool_free || !q->pool_lent)
		return -ENOMEM;
	for (uint32_t i = 0; i < q->nr_ents; i++) {
		q->sh[i].iov = calloc(bf->max_pages + 1, sizeof(struct iovec));
		q->sh[i].pages = calloc(bf->max_pages, sizeof(uint32_t));
		if (!q->sh[i].iov || !q->sh[i].pages)
			return -ENOMEM;
		q->sh_free[q->nfree_sh++] = q->nr_ents - 1 - i;
	}
	/* Writable: the backend writes reads into them, and may keep them
	 * mapped (persistent grants). */
	rc = c->gnt->alloc(c->gnt_priv, c->backend, q->npool, true, q->pool_refs, (void **)&q->pool,
	                   &q->pool_cookie);
	if (rc < 0) {
		q->pool = NULL;
		return rc;
	}
	for (uint32_t i = 0; i < q->npool; i++)
		q->pool_free[q->nfree_pool++] = q->npool - 1 - i;
	if (bf->max_pages > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		if (!(q->ind_refs = calloc(q->nr_ents, sizeof(uint32_t))))
			return -ENOMEM;
		rc = c->gnt->alloc(c->gnt_priv, c->backend, q->nr_ents, false, q->ind_refs,
		                   (void **)&q->ind, &q->ind_cookie);
		if (rc < 0) {
			q->ind = NULL;
			return rc;
		}
	}
	return 0;
}

static void queue_free(struct blkfront *bf, struct queue *q)
{
	const struct blkfront_config *c = &bf->cfg;

	if (q->ind)
		c->gnt->free(c->gnt_priv, q->ind_cookie, q->ind_refs, q->nr_ents, q->ind);
	if (q->pool)
		c->gnt->free(c->gnt_priv, q->pool_cookie, q->pool_refs, q->npool, q->pool);
	if (q->area)
		c->gnt->free(c->gnt_priv, q->area_cookie, q->refs, 1u << c->ring_page_order,
		             q->area);
	for (uint32_t i = 0; q->sh && i < q->nr_ents; i++) {
		free(q->sh[i].iov);
		free(q->sh[i].pages);
	}
	free(q->sh);
	free(q->sh_free);
	free(q->pool_refs);
	free(q->pool_free);
	free(q->pool_lent);
	free(q->ind_refs);
	memset(q, 0, sizeof(*q));
}

static int check_config(const struct blkfront_config *c)
{
	if (!c->gnt || !c->notify || c->ring_page_order > BLKFRONT_MAX_ORDER ||
	    c->nr_queues > BLKFRONT_MAX_QUEUES)
		return -EINVAL;
	if (c->sector_size < 512 || c->sector_size > 4096 ||
	    (c->sector_size & (c->sector_size - 1)))
		return -EINVAL;
	return 0;
}

int blkfront_create(const struct blkfront_config *cfg, struct blkfront **out)
{
	struct blkfront *bf;
	int rc;

	*out = NULL;
	if ((rc = check_config(cfg)) < 0)
		return rc;
	if (!(bf = calloc(1, sizeof(*bf))))
		return -ENOMEM;
	bf->cfg = *cfg;
	bh_spinpoll_init(&bf->poll, cfg->poll_ns);
	bh_tsleep_init(&bf->tsleep);
	bf->nq = cfg->nr_queues ? cfg->nr_queues : 1;
	bf->max_pages = BLKIF_MAX_SEGMENTS_PER_REQUEST;
	if (cfg->max_indirect_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		bf->max_pages =
		    BH_MIN(cfg->max_indirect_segments, (uint32_t)BLKIF_SEGS_PER_INDIRECT_FRAME);
	for (uint32_t i = 0; i < bf->nq; i++) {
		if ((rc = queue_setup(bf, &bf->q[i])) < 0) {
			blkfront_destroy(bf);
			return rc;
		}
		bf->max_pages = BH_MIN(bf->max_pages, bf->q[i].npool);
	}
	*out = bf;
	return 0;
}

void blkfront_destroy(struct blkfront *bf)
{
	if (!bf)
		return;
	for (uint32_t i = 0; i < bf->nq; i++)
		queue_free(bf, &bf->q[i]);
	bh_tsleep_dispose(&bf->tsleep);
	free(bf->failed);
	free(bf);
}

int blkfront_ring_refs(const struct blkfront *bf, uint32_t q, uint32_t *refs_out, uint32_t *n_out)
{
	if (q >= bf->nq)
		return -ENOENT;
	*n_out = 1u << bf->cfg.ring_page_order;
	memcpy(refs_out, bf->q[q].refs, *n_out * sizeof(uint32_t));
	return 0;
}

uint32_t blkfront_nr_queues(const struct blkfront *bf)
{
	return bf->nq;
}

uint32_t blkfront_max_io_bytes(const struct blkfront *bf)
{
	return bf->max_pages * BH_PAGE_SIZE;
}

uint32_t blkfront_inflight(const struct blkfront *bf)
{
	return bf->inflight;
}

int blkfront_broken(const struct blkfront *bf)
{
	return bf->broken;
}

void blkfront_stats(const struct blkfront *bf, struct blkfront_stats *out)
{
	*out = bf->st;
}

void blkfront_ring_debug(const struct blkfront *bf, uint32_t qi, char *buf, size_t cap)
{
	const struct queue *q = qi < bf->nq ? &bf->q[qi] : NULL;
	const struct bh_sring_hdr *h = q ? (const struct bh_sring_hdr *)q->fr.sring : NULL;

	if (!q) {
		snprintf(buf, cap, "no queue %u", qi);
		return;
	}
	snprintf(buf, cap,
	         "req_prod %u/%u req_event %u rsp_prod %u rsp_cons %u rsp_event %u inflight %u",
	         q->fr.req_prod_pvt, BH_READ_ONCE(h->req_prod), BH_READ_ONCE(h->req_event),
	         BH_READ_ONCE(h->rsp_prod), q->fr.rsp_cons, BH_READ_ONCE(h->rsp_event),
	         bf->inflight);
}

static uint64_t iov_bytes(const struct iovec *iov, uint32_t n)
{
	uint64_t b = 0;

	for (uint32_t i = 0; i < n; i++)
		b += iov[i].iov_len;
	return b;
}

/* Copy between the caller's list and the shadow's pool pages. */
static void copy_pages(struct queue *q, struct shadow *s, bool to_pool)
{
	uint64_t done = 0;

	for (uint32_t i = 0; i < s->io.iovcnt; i++) {
		char *u = s->iov[i].iov_base;
		for (size_t off = 0; off < s->iov[i].iov_len;) {
			uint32_t pg = (uint32_t)(done / BH_PAGE_SIZE), po = done % BH_PAGE_SIZE;
			size_t n = BH_MIN(s->iov[i].iov_len - off, (size_t)(BH_PAGE_SIZE - po));
			char *p = q->pool + (size_t)s->pages[pg] * BH_PAGE_SIZE + po;
			if (to_pool)
				memcpy(p, u + off, n);
			else
				memcpy(u + off, p, n);
			off += n;
			done += n;
		}
	}
}

static int check_io(const struct blkfront *bf, const struct blkfront_io *io, uint64_t *bytes)
{
	uint32_t per = bf->cfg.sector_size / BLKIF_SECTOR_SIZE;
	uint64_t n;

	switch (io->op) {
	case BLKFRONT_READ:
	case BLKFRONT_WRITE:
		if (io->op == BLKFRONT_WRITE && bf->cfg.readonly)
			return -EROFS;
		n = iov_bytes(io->iov, io->iovcnt);
		if (io->iovcnt == 0 || io->iovcnt > bf->max_pages || n == 0 ||
		    n > (uint64_t)bf->max_pages * BH_PAGE_SIZE || n % bf->cfg.sector_size)
			return -EINVAL;
		*bytes = n;
		n >>= BLKIF_SECTOR_SHIFT;
		break;
	case BLKFRONT_FLUSH:
		*bytes = 0;
		return bf->cfg.flush ? 0 : -EOPNOTSUPP;
	case BLKFRONT_DISCARD:
		if (!bf->cfg.discard)
			return -EOPNOTSUPP;
		if (bf->cfg.readonly)
			return -EROFS;
		*bytes = 0;
		n = io->nr_sectors;
		if (n == 0 || n % per)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (io->sector % per || io->sector > bf->cfg.sectors || n > bf->cfg.sectors - io->sector)
		return -EINVAL;
	return 0;
}

/* Fill the ring slot and the shadow's copy of it. */
static void build_request(struct blkfront *bf, struct queue *q, uint32_t id, struct shadow *s)
{
	union blkif_sring_entry *e = &s->req;
	uint8_t op = s->io.op == BLKFRONT_READ ? BLKIF_OP_READ : BLKIF_OP_WRITE;
	struct blkif_request_segment *seg;

	memset(e, 0, sizeof(*e));
	if (s->io.op == BLKFRONT_FLUSH) {
		e->req = (struct blkif_request){ .operation = BLKIF_OP_FLUSH_DISKCACHE, .id = id };
		s->rsp_op = BLKIF_OP_FLUSH_DISKCACHE;
		return;
	}
	if (s->io.op == BLKFRONT_DISCARD) {
		struct blkif_request_discard d = { .operation = BLKIF_OP_DISCARD,
			                           .id = id,
			                           .sector_number = s->io.sector,
			                           .nr_sectors = s->io.nr_sectors };
		memcpy(e, &d, sizeof(d));
		s->rsp_op = BLKIF_OP_DISCARD;
		return;
	}
	s->rsp_op = op;
	if (s->npages <= BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		e->req = (struct blkif_request){ .operation = op,
			                         .nr_segments = (uint8_t)s->npages,
			                         .id = id,
			                         .sector_number = s->io.sector };
		seg = e->req.seg;
	} else {
		struct blkif_request_indirect ir = { .operation = BLKIF_OP_INDIRECT,
			                             .indirect_op = op,
			                             .nr_segments = (uint16_t)s->npages,
			                             .id = id,
			                             .sector_number = s->io.sector };
		ir.indirect_grefs[0] = q->ind_refs[id];
		memcpy(e, &ir, sizeof(ir));
		seg = (struct blkif_request_segment *)(q->ind + (size_t)id * BH_PAGE_SIZE);
	}
	for (uint32_t i = 0; i < s->npages; i++) {
		uint64_t left = s->bytes - (uint64_t)i * BH_PAGE_SIZE;
		uint32_t len = (uint32_t)BH_MIN(left, (uint64_t)BH_PAGE_SIZE);
		seg[i] = (struct blkif_request_segment){ .gref = q->pool_refs[s->pages[i]],
			                                 .first_sect = 0,
			                                 .last_sect = (uint8_t)(len / 512 - 1) };
	}
}

static void put_on_ring(struct blkfront *bf, uint32_t qi, struct queue *q, struct shadow *s)
{
	union blkif_sring_entry *slot =
	    (union blkif_sring_entry *)blkif_front_req_slot(&q->fr, q->fr.req_prod_pvt);

	memcpy(slot, &s->req, sizeof(*slot));
	q->fr.req_prod_pvt++;
	if (!bf->plugged && blkif_front_push(&q->fr))
		bf->cfg.notify(bf->cfg.arg, qi);
}

void blkfront_plug(struct blkfront *bf)
{
	bf->plugged = true;
}

void blkfront_unplug(struct blkfront *bf)
{
	if (!bf->plugged)
		return;
	bf->plugged = false;
	for (uint32_t qi = 0; qi < bf->nq && !bf->broken; qi++) {
		struct queue *q = &bf->q[qi];
		if (q->fr.req_prod_pvt != BH_READ_ONCE(q->fr.sring->hdr.req_prod) &&
		    blkif_front_push(&q->fr))
			bf->cfg.notify(bf->cfg.arg, qi);
	}
}

/* Take a slot and pool pages on queue q for a request of bytes. */
static struct shadow *claim(struct blkfront *bf, struct queue *q, uint64_t bytes, uint32_t *id)
{
	uint32_t np = (uint32_t)((bytes + BH_PAGE_SIZE - 1) / BH_PAGE_SIZE);
	struct shadow *s;

	if (q->nfree_sh == 0 || blkif_front_free(&q->fr) == 0 || q->nfree_pool < np)
		return NULL;
	*id = q->sh_free[--q->nfree_sh];
	s = &q->sh[*id];
	s->npages = np;
	for (uint32_t i = 0; i < np; i++)
		s->pages[i] = q->pool_free[--q->nfree_pool];
	s->used = true;
	(void)bf;
	return s;
}

static void release(struct queue *q, uint32_t id)
{
	struct shadow *s = &q->sh[id];

	for (uint32_t i = 0; i < s->npages && !s->zc; i++)
		q->pool_free[q->nfree_pool++] = s->pages[i];
	s->npages = 0;
	s->used = false;
	s->zc = false;
	q->sh_free[q->nfree_sh++] = id;
}

/* The queue whose lent pool pages hold the whole of a one-element
 * READ/WRITE that starts on a page boundary; its first page in *first. */
static struct queue *lent_buffer(struct blkfront *bf, const struct blkfront_io *io, uint64_t bytes,
                                 uint32_t *qi, uint32_t *first)
{
	if ((io->op != BLKFRONT_READ && io->op != BLKFRONT_WRITE) || io->iovcnt != 1)
		return NULL;
	for (uint32_t i = 0; i < bf->nq; i++) {
		struct queue *q = &bf->q[i];
		char *b = io->iov[0].iov_base;
		if (b < q->pool || b >= q->pool + (size_t)q->npool * BH_PAGE_SIZE)
			continue;
		size_t off = (size_t)(b - q->pool);
		uint32_t np = (uint32_t)((bytes + BH_PAGE_SIZE - 1) / BH_PAGE_SIZE);
		if (off % BH_PAGE_SIZE || off / BH_PAGE_SIZE + np > q->npool)
			return NULL;
		for (uint32_t p = 0; p < np; p++)
			if (!q->pool_lent[off / BH_PAGE_SIZE + p])
				return NULL;
		*qi = i;
		*first = (uint32_t)(off / BH_PAGE_SIZE);
		return q;
	}
	return NULL;
}

static int submit_lent(struct blkfront *bf, const struct blkfront_io *io, uint64_t bytes,
                       uint32_t qi, struct queue *q, uint32_t first)
{
	uint32_t id;
	struct shadow *s;

	if (q->nfree_sh == 0 || blkif_front_free(&q->fr) == 0)
		return -EAGAIN;
	id = q->sh_free[--q->nfree_sh];
	s = &q->sh[id];
	s->npages = (uint32_t)((bytes + BH_PAGE_SIZE - 1) / BH_PAGE_SIZE);
	for (uint32_t i = 0; i < s->npages; i++)
		s->pages[i] = first + i;
	s->used = true;
	s->zc = true;
	s->io = *io;
	s->bytes = bytes;
	s->seq = bf->seq++;
	s->iov[0] = io->iov[0];
	s->io.iov = s->iov;
	build_request(bf, q, id, s);
	put_on_ring(bf, qi, q, s);
	bf->inflight++;
	bf->st.submitted++;
	bf->st.zero_copy++;
	return 0;
}

int blkfront_submit(struct blkfront *bf, const struct blkfront_io *io)
{
	uint64_t bytes;
	uint32_t zq, first;
	struct queue *lq;
	int rc;

	if (bf->broken)
		return bf->broken;
	if ((rc = check_io(bf, io, &bytes)) < 0)
		return rc;
	if ((lq = lent_buffer(bf, io, bytes, &zq, &first)))
		return submit_lent(bf, io, bytes, zq, lq, first);
	for (uint32_t k = 0; k < bf->nq; k++) {
		uint32_t qi = (bf->rr + k) % bf->nq, id;
		struct queue *q = &bf->q[qi];
		struct shadow *s = claim(bf, q, bytes, &id);
		if (!s)
			continue;
		bf->rr = (qi + 1) % bf->nq;
		s->io = *io;
		s->bytes = bytes;
		s->seq = bf->seq++;
		if (io->iovcnt)
			memcpy(s->iov, io->iov, io->iovcnt * sizeof(*io->iov));
		s->io.iov = s->iov;
		if (io->op == BLKFRONT_WRITE)
			copy_pages(q, s, true);
		build_request(bf, q, id, s);
		put_on_ring(bf, qi, q, s);
		bf->inflight++;
		bf->st.submitted++;
		return 0;
	}
	return -EAGAIN;
}

/* The backend did something no correct backend does: fail everything in
 * flight and stop looking at the rings. */
static void mark_broken(struct blkfront *bf)
{
	if (bf->broken)
		return;
	bf->broken = -EIO;
	bf->st.bad_responses++;
	bf->failed = calloc(bf->inflight ? bf->inflight : 1, sizeof(*bf->failed));
	for (uint32_t qi = 0; qi < bf->nq; qi++) {
		struct queue *q = &bf->q[qi];
		for (uint32_t id = 0; id < q->nr_ents; id++) {
			if (!q->sh[id].used)
				continue;
			if (bf->failed)
				bf->failed[bf->nfailed++] =
				    (struct blkfront_cpl){ q->sh[id].io.cookie, -EIO };
			release(q, id);
		}
	}
	bf->inflight = 0;
}

static int status_of(int16_t st)
{
	return st == BLKIF_RSP_OKAY ? 0 : st == BLKIF_RSP_EOPNOTSUPP ? -EOPNOTSUPP : -EIO;
}

/* One response, from its copy. false: the backend is broken. */
static bool take_response(struct blkfront *bf, struct queue *q, const struct blkif_response *r,
                          struct blkfront_cpl *out)
{
	struct shadow *s;

	if (r->id >= q->nr_ents || !q->sh[r->id].used || q->sh[r->id].rsp_op != r->operation)
		return false;
	s = &q->sh[r->id];
	out->cookie = s->io.cookie;
	out->status = status_of(r->status);
	if (out->status == 0 && s->io.op == BLKFRONT_READ && !s->zc)
		copy_pages(q, s, false);
	if (out->status)
		bf->st.errors++;
	release(q, (uint32_t)r->id);
	bf->inflight--;
	bf->st.completed++;
	return true;
}

static int reap_queue(struct blkfront *bf, struct queue *q, struct blkfront_cpl *out, int max,
                      bool arm)
{
	int n = 0;

	for (;;) {
		RING_IDX prod = BH_READ_ONCE(q->fr.sring->hdr.rsp_prod);
		bh_rmb();
		if (blkif_front_rsp_overflow(&q->fr, prod) ||
		    (RING_IDX)(prod - q->fr.rsp_cons) >
		        (RING_IDX)(q->fr.req_prod_pvt - q->fr.rsp_cons)) {
			mark_broken(bf);
			return n;
		}
		while (q->fr.rsp_cons != prod && n < max) {
			struct blkif_response r;
			memcpy(&r, &q->fr.sring->ring[q->fr.rsp_cons & (q->nr_ents - 1)].rsp,
			       sizeof(r));
			q->fr.rsp_cons++;
			if (!take_response(bf, q, &r, &out[n])) {
				mark_broken(bf);
				return n;
			}
			n++;
		}
		if (n > 0 && q->wait_start) {
			/* the wait this ring's first response ended */
			bh_waitest_add(&q->waits, bh_now_ns() - q->wait_start);
			q->wait_start = 0;
		}
		/* Out of room with responses left: the caller calls again. All
		 * taken: re-arm rsp_event (even when out of room, or the next
		 * response would never be signalled) and look once more. */
		if (q->fr.rsp_cons != prod || !arm || !blkif_front_final_check(&q->fr))
			break;
	}
	return n;
}

static int reap_all(struct blkfront *bf, struct blkfront_cpl *out, int max, bool arm)
{
	int n = 0;

	for (uint32_t qi = 0; qi < bf->nq && n < max && !bf->broken; qi++)
		n += reap_queue(bf, &bf->q[qi], out + n, max - n, arm);
	return n;
}

static bool responses_waiting(const struct blkfront *bf)
{
	for (uint32_t qi = 0; qi < bf->nq; qi++)
		if (BH_READ_ONCE(bf->q[qi].fr.sring->hdr.rsp_prod) != bf->q[qi].fr.rsp_cons)
			return true;
	return false;
}

static bool responses_waiting_cb(void *bf)
{
	return responses_waiting(bf);
}

/* Spin for a response up to the budget (common/spinpoll.h, as blkback's
 * engine does); true if one is waiting. */
static bool spin(struct blkfront *bf, uint64_t now)
{
	if (!bf->poll.cur)
		return false;
	return bh_spinpoll_spin(&bf->poll, now, responses_waiting_cb, bf) || responses_waiting(bf);
}

static uint32_t queue_inflight(const struct queue *q)
{
	return q->nr_ents - q->nfree_sh;
}

/* Nothing to take, requests in flight: wait for a response the way the
 * recent waits say pays (common/spinpoll.h, bh_hybrid_plan): a spin as
 * before when they are short, a timed sleep and a bounded spin when they
 * are tens of microseconds, nothing (the caller sleeps on the event) when
 * they are unpredictable. Opens the wait on every ring with requests in
 * flight. true: a response is waiting. Sets bf->mode. */
static bool poll_wait(struct blkfront *bf, uint64_t now)
{
	enum bh_hybrid_mode mode = BH_HYBRID_EVENT;
	uint64_t wake = UINT64_MAX, end = 0;
	bool any = false;

	for (uint32_t qi = 0; qi < bf->nq; qi++) {
		struct queue *q = &bf->q[qi];
		uint32_t w, e;
		if (!queue_inflight(q))
			continue;
		if (!q->wait_start)
			q->wait_start = now;
		any = true;
		if (bf->cfg.no_hybrid) {
			mode = BH_HYBRID_SPIN;
			continue;
		}
		switch (bh_hybrid_plan(&q->waits, bf->tsleep.late_ns, &w, &e)) {
		case BH_HYBRID_SPIN: /* some ring answers fast: spin for it */
			mode = BH_HYBRID_SPIN;
			break;
		case BH_HYBRID_SLEEP:
			if (mode == BH_HYBRID_SPIN)
				break;
			mode = BH_HYBRID_SLEEP;
			wake = BH_MIN(wake, q->wait_start + w);
			end = BH_MAX(end, q->wait_start + e);
			break;
		case BH_HYBRID_EVENT:
			break;
		}
	}
	bf->mode = any ? mode : BH_HYBRID_EVENT;
	switch (bf->mode) {
	case BH_HYBRID_SPIN:
		return spin(bf, now);
	case BH_HYBRID_EVENT:
		bf->st.poll_events++;
		return responses_waiting(bf);
	case BH_HYBRID_SLEEP:
		break;
	}
	/* Losing the CPU in a spin stops spinning for a while
	 * (bh_spinpoll), and so do spins that keep missing: then this wait
	 * is the event's. */
	if (now < bf->poll.off_until || now < bf->hybrid_off) {
		bf->st.poll_events++;
		return responses_waiting(bf);
	}
	bf->st.poll_sleeps++;
	now = bh_tsleep_until(&bf->tsleep, wake);
	end = BH_MIN(end, BH_MAX(now, wake) + BH_HYBRID_SPIN_NS);
	if (responses_waiting(bf) ||
	    (now < end && bh_spinpoll_spin_until(&bf->poll, end, responses_waiting_cb, bf)) ||
	    responses_waiting(bf)) {
		bf->st.poll_hits++;
		bf->misses = 0;
		return true;
	}
	/* The spin found nothing. A few in a row (each ~1 in 10 at random)
	 * mean the spin keeps the answer from coming, e.g. the backend's
	 * thread waits for this CPU: leave the waits to the event for a
	 * while. */
	bf->st.poll_misses++;
	if (++bf->misses >= BH_HYBRID_MISSES) {
		bf->misses = 0;
		bf->hybrid_off = bh_now_ns() + BH_SPIN_BACKOFF_NS;
	}
	return false;
}

bool blkfront_spin(struct blkfront *bf)
{
	uint64_t now;

	if (responses_waiting(bf) || bf->broken || bf->inflight == 0)
		return responses_waiting(bf);
	if (!bf->cfg.poll_ns)
		return false; /* reap armed rsp_event when it returned 0 */
	now = bh_now_ns();
	bh_spinpoll_adapt(&bf->poll, now);
	if (poll_wait(bf, now))
		return true;
	/* The caller sleeps now: ask for an event (a reap that took
	 * responses without arming left rsp_event behind) and look again. */
	bool ready = false;
	for (uint32_t qi = 0; qi < bf->nq; qi++)
		if (blkif_front_final_check(&bf->q[qi].fr))
			ready = true;
	if (!ready && bf->mode == BH_HYBRID_SPIN)
		bf->poll.idle_since = now;
	return ready;
}

int blkfront_reap(struct blkfront *bf, struct blkfront_cpl *out, int max)
{
	int n = 0;

	if (bf->cfg.poll_ns && !bf->broken) {
		uint64_t now = bh_now_ns();
		bh_spinpoll_adapt(&bf->poll, now);
		/* Take what is there without arming; else wait a while. */
		n = reap_all(bf, out, max, false);
		if (n == 0 && bf->inflight > 0 && poll_wait(bf, now))
			n = reap_all(bf, out, max, false);
		if (n == 0)
			n = reap_all(bf, out, max, true);
		/* The caller sleeps now. Only a spin's budget learns from
		 * that sleep: the other modes chose it. */
		if (n == 0 && bf->inflight > 0 && bf->mode == BH_HYBRID_SPIN)
			bf->poll.idle_since = now;
	} else {
		n = reap_all(bf, out, max, true);
	}
	/* A broken device hands out what it failed (possibly after the
	 * completions this call already took). */
	while (bf->broken && bf->nfailed > 0 && n < max)
		out[n++] = bf->failed[--bf->nfailed];
	return n;
}

uint32_t blkfront_wait_median(const struct blkfront *bf, uint32_t q)
{
	if (q >= bf->nq)
		return 0;
	return bh_waitest_median((struct bh_waitest *)&bf->q[q].waits);
}

static int cmp_seq(const void *a, const void *b)
{
	const struct shadow *x = *(const struct shadow *const *)a;
	const struct shadow *y = *(const struct shadow *const *)b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Re-issue on queue q the shadows of q, in submission order. Slots keep
 * their ids; a write's pool pages still hold its data. */
static int requeue_queue(struct blkfront *bf, uint32_t qi)
{
	struct queue *q = &bf->q[qi];
	struct shadow **list = calloc(q->nr_ents, sizeof(*list));
	uint32_t n = 0;
	bool notify;

	if (!list)
		return -ENOMEM;
	for (uint32_t id = 0; id < q->nr_ents; id++)
		if (q->sh[id].used)
			list[n++] = &q->sh[id];
	qsort(list, n, sizeof(*list), cmp_seq);
	blkif_front_init(&q->fr, q->area, 1u << bf->cfg.ring_page_order);
	/* a wait open on the dead backend says nothing about the new one */
	q->wait_start = 0;
	for (uint32_t i = 0; i < n; i++) {
		union blkif_sring_entry *slot =
		    (union blkif_sring_entry *)blkif_front_req_slot(&q->fr, q->fr.req_prod_pvt);
		memcpy(slot, &list[i]->req, sizeof(*slot));
		q->fr.req_prod_pvt++;
		bf->st.requeued++;
	}
	notify = blkif_front_push(&q->fr);
	if (notify || n)
		bf->cfg.notify(bf->cfg.arg, qi);
	free(list);
	return 0;
}

int blkfront_requeue_all(struct blkfront *bf)
{
	int rc;

	if (bf->broken)
		return bf->broken;
	for (uint32_t qi = 0; qi < bf->nq; qi++)
		if ((rc = requeue_queue(bf, qi)) < 0)
			return rc;
	return 0;
}

void *blkfront_buf_alloc(struct blkfront *bf, uint32_t qi, size_t bytes)
{
	struct queue *q = qi < bf->nq ? &bf->q[qi] : NULL;
	uint32_t np = (uint32_t)((bytes + BH_PAGE_SIZE - 1) / BH_PAGE_SIZE), run = 0;
	uint8_t *isfree;

	if (!q || np == 0 || np > q->nfree_pool || !(isfree = calloc(q->npool, 1)))
		return NULL;
	for (uint32_t i = 0; i < q->nfree_pool; i++)
		isfree[q->pool_free[i]] = 1;
	/* The highest run of np free pages (the free stack hands out the
	 * low ones first). */
	for (uint32_t p = q->npool; p-- > 0;) {
		run = isfree[p] ? run + 1 : 0;
		if (run < np)
			continue;
		uint32_t n = 0;
		for (uint32_t i = 0; i < q->nfree_pool; i++)
			if (q->pool_free[i] < p || q->pool_free[i] >= p + np)
				q->pool_free[n++] = q->pool_free[i];
		q->nfree_pool = n;
		memset(q->pool_lent + p, 1, np);
		free(isfree);
		return q->pool + (size_t)p * BH_PAGE_SIZE;
	}
	free(isfree);
	return NULL;
}

void blkfront_buf_free(struct blkfront *bf, void *buf, size_t bytes)
{
	uint32_t np = (uint32_t)((bytes + BH_PAGE_SIZE - 1) / BH_PAGE_SIZE);

	for (uint32_t qi = 0; qi < bf->nq; qi++) {
		struct queue *q = &bf->q[qi];
		char *b = buf;
		if (b < q->pool || b >= q->pool + (size_t)q->npool * BH_PAGE_SIZE)
			continue;
		uint32_t first = (uint32_t)((size_t)(b - q->pool) / BH_PAGE_SIZE);
		for (uint32_t p = first; p < first + np && p < q->npool; p++)
			if (q->pool_lent[p]) {
				q->pool_lent[p] = 0;
				q->pool_free[q->nfree_pool++] = p;
			}
		return;
	}
}
