/* Reading requests off a ring, checking them, and answering them.
 *
 * The frontend is not trusted. Its producer index is read once and
 * clamped; one that runs more than a ring ahead of our responses stops the
 * ring (reported through the ring_error callback and
 * blkback_ring_status()). Each request is copied out of the shared page
 * once, with one memcpy, and only the copy is looked at; so are the
 * segments of an indirect request, copied out of the indirect pages before
 * they are checked. A request that is wrong in any way (segment count,
 * sector bounds, an unknown operation, a grant we may not map as needed, a
 * write to a read-only disk) gets BLKIF_RSP_ERROR (BLKIF_RSP_EOPNOTSUPP
 * for an unknown or disabled operation, as Xen does) and the ring goes on.
 * Every response slot is zeroed before the response is written into it, so
 * no stale byte is left in padding. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "blkback/blkback_int.h"

void bb_ring_fail(struct blkback *bb, struct bb_ring *r, int err, const char *why)
{
	int idx = -1;

	if (r->dead)
		return;
	r->dead = true;
	r->err = err;
	for (int i = 0; i < BB_MAX_RINGS; i++)
		if (bb->ring[i] == r)
			idx = i;
	bb_log(bb, "ring %d stopped: %s", idx, why);
	if (bb->cfg.ring_error)
		bb->cfg.ring_error(bb->cfg.arg, idx, err, why);
}

static struct bb_req *req_get(struct bb_ring *r)
{
	struct bb_req *q = r->free;

	if (q) {
		r->free = q->next_free;
		q->next_free = NULL;
		r->inflight++;
	}
	return q;
}

/* Slot i of the shared ring, at the stride of the frontend's ABI. */
static void *slot_at(const struct bb_ring *r, RING_IDX i)
{
	return (char *)r->br.sring->ring + (size_t)(i & (r->br.nr_ents - 1)) * r->stride;
}

static void write_response(struct bb_ring *r, const struct bb_req *q, int16_t status)
{
	void *slot = slot_at(r, r->br.rsp_prod_pvt);

	memset(slot, 0, r->stride);
	if (r->x86_32) {
		struct blkif_x86_32_response rsp = { .id = q->id,
			                             .operation = q->op,
			                             .status = status };
		memcpy(slot, &rsp, sizeof(rsp));
	} else {
		struct blkif_response rsp = { .id = q->id, .operation = q->op, .status = status };
		memcpy(slot, &rsp, sizeof(rsp));
	}
	if (__builtin_expect(r->fault_corrupt, 0)) {
		/* Injected: an id no request of this ring has (ids are slot
		 * numbers below nr_ents in every frontend we know). */
		uint64_t bad = q->id ^ 0x5a5a000000000000ull;
		memcpy(slot, &bad, sizeof(bad)); /* id is the first field in both ABIs */
		r->fault_corrupt = false;
	}
	r->br.rsp_prod_pvt++;
	r->need_push = true;
}

void bb_respond(struct blkback *bb, struct bb_req *q, int16_t status)
{
	struct bb_ring *r = q->ring;

	bb_unmap_request(bb, q);
	if (status != BLKIF_RSP_OKAY)
		bb->vbd[r->vbd].st.errors++;
	if (!r->dead)
		write_response(r, q, status);
	q->inflight = false;
	q->next_free = r->free;
	r->free = q;
	r->inflight--;
}

/* A request refused before any I/O. */
static void refuse(struct blkback *bb, struct bb_req *q, int16_t status)
{
	bb->vbd[q->ring->vbd].st.bad_requests++;
	bb_respond(bb, q, status);
}

/* Check the segments against the vbd; sets q->bytes. */
static bool segs_ok(const struct bb_vbd *v, struct bb_req *q)
{
	uint32_t per = v->sector_size / BLKIF_SECTOR_SIZE; /* 1 or 8 */
	uint64_t total = 0;

	if (q->sector % per)
		return false;
	for (uint32_t i = 0; i < q->nseg; i++) {
		const struct blkif_request_segment *s = &q->seg[i];
		if (s->first_sect > s->last_sect || s->last_sect >= BLKIF_SECTORS_PER_PAGE)
			return false;
		if (s->first_sect % per || (s->last_sect + 1u) % per)
			return false;
		total += s->last_sect - s->first_sect + 1u;
	}
	if (q->sector > v->sectors || total > v->sectors - q->sector)
		return false;
	q->bytes = total << BLKIF_SECTOR_SHIFT;
	return true;
}

static void start_rw(struct blkback *bb, struct bb_req *q)
{
	struct bb_vbd *v = &bb->vbd[q->ring->vbd];
	bool is_read = q->kind == BLKIF_OP_READ;

	if (!segs_ok(v, q))
		return refuse(bb, q, BLKIF_RSP_ERROR);
	if (!is_read && (v->readonly || v->sticky))
		return refuse(bb, q, BLKIF_RSP_ERROR);
	/* A read writes into the frontend's pages: it needs writable grants. */
	if (bb_map_segments(bb, q, is_read) < 0)
		return refuse(bb, q, BLKIF_RSP_ERROR);
	for (uint32_t i = 0; i < q->nseg; i++) {
		q->iov[i].iov_base = (char *)q->page[i] + q->seg[i].first_sect * BLKIF_SECTOR_SIZE;
		q->iov[i].iov_len =
		    (q->seg[i].last_sect - q->seg[i].first_sect + 1u) * BLKIF_SECTOR_SIZE;
	}
	if (bb_submit_rw(bb, q) < 0)
		bb_respond(bb, q, BLKIF_RSP_ERROR);
}

static int fetch_indirect(struct blkback *bb, struct bb_req *q,
                          const struct blkif_request_indirect *ir)
{
	uint32_t npages =
	    (q->nseg + BLKIF_SEGS_PER_INDIRECT_FRAME - 1) / BLKIF_SEGS_PER_INDIRECT_FRAME;

	return bb_fetch_indirect(bb, q, ir->indirect_grefs, npages);
}

static void start_indirect(struct blkback *bb, struct bb_req *q, const union blkif_sring_entry *e)
{
	struct blkif_request_indirect ir;

	memcpy(&ir, &e->req, sizeof(ir));
	q->id = ir.id;
	q->op = ir.indirect_op;
	q->kind = ir.indirect_op;
	q->sector = ir.sector_number;
	q->nseg = ir.nr_segments;
	if (q->ring->max_segs <= BLKIF_MAX_SEGMENTS_PER_REQUEST)
		return refuse(bb, q, BLKIF_RSP_EOPNOTSUPP);
	if ((ir.indirect_op != BLKIF_OP_READ && ir.indirect_op != BLKIF_OP_WRITE) || q->nseg == 0 ||
	    q->nseg > q->ring->max_segs)
		return refuse(bb, q, BLKIF_RSP_ERROR);
	if (fetch_indirect(bb, q, &ir) < 0)
		return refuse(bb, q, BLKIF_RSP_ERROR);
	start_rw(bb, q);
}

static void start_flush(struct blkback *bb, struct bb_req *q, uint32_t nseg)
{
	struct bb_vbd *v = &bb->vbd[q->ring->vbd];

	q->kind = BLKIF_OP_FLUSH_DISKCACHE;
	if (nseg != 0 || v->readonly || v->sticky)
		return refuse(bb, q, BLKIF_RSP_ERROR);
	if (bb_submit_flush(bb, q) < 0)
		bb_respond(bb, q, BLKIF_RSP_ERROR);
}

static void start_discard(struct blkback *bb, struct bb_req *q, const union blkif_sring_entry *e)
{
	struct bb_vbd *v = &bb->vbd[q->ring->vbd];
	struct blkif_request_discard d;
	uint32_t per = v->sector_size / BLKIF_SECTOR_SIZE;

	memcpy(&d, &e->req, sizeof(d));
	q->kind = BLKIF_OP_DISCARD;
	if (!v->discard)
		return refuse(bb, q, BLKIF_RSP_EOPNOTSUPP);
	if (v->readonly || v->sticky || d.nr_sectors == 0 || d.sector_number > v->sectors ||
	    d.nr_sectors > v->sectors - d.sector_number || d.sector_number % per ||
	    d.nr_sectors % per)
		return refuse(bb, q, BLKIF_RSP_ERROR);
	if (bb_submit_discard(bb, q, d.sector_number << BLKIF_SECTOR_SHIFT,
	                      d.nr_sectors << BLKIF_SECTOR_SHIFT) < 0)
		bb_respond(bb, q, BLKIF_RSP_ERROR);
}

/* One request, from its private copy. */
static void dispatch(struct blkback *bb, struct bb_req *q, const union blkif_sring_entry *e)
{
	const struct blkif_request *req = &e->req;

	q->id = req->id;
	q->op = req->operation;
	q->sector = req->sector_number;
	q->bytes = 0;
	q->ntmap = 0;
	q->inflight = true;
	switch (req->operation) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		q->kind = req->operation;
		q->nseg = req->nr_segments;
		if (q->nseg == 0 || q->nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST)
			return refuse(bb, q, BLKIF_RSP_ERROR);
		memcpy(q->seg, req->seg, q->nseg * sizeof(*q->seg));
		return start_rw(bb, q);
	case BLKIF_OP_WRITE_BARRIER: /* a barrier is served as a flush */
	case BLKIF_OP_FLUSH_DISKCACHE:
		return start_flush(bb, q, req->nr_segments);
	case BLKIF_OP_DISCARD:
		return start_discard(bb, q, e);
	case BLKIF_OP_INDIRECT:
		return start_indirect(bb, q, e);
	default:
		q->kind = 0xff;
		return refuse(bb, q, BLKIF_RSP_EOPNOTSUPP);
	}
}

/* Copy request req_cons out of the shared ring, once, into the native
 * layout (translating from the x86_32 ABI when the frontend speaks it). */
static void fetch(const struct bb_ring *r, union blkif_sring_entry *out)
{
	uint8_t raw[sizeof(union blkif_sring_entry)];

	memcpy(raw, slot_at(r, r->br.req_cons), r->stride);
	if (!r->x86_32) {
		memcpy(out, raw, sizeof(*out));
		return;
	}
	memset(out, 0, sizeof(*out));
	if (raw[0] == BLKIF_OP_DISCARD) {
		struct blkif_x86_32_request_discard d;
		memcpy(&d, raw, sizeof(d));
		struct blkif_request_discard n = { .operation = d.operation,
			                           .flag = d.flag,
			                           .handle = d.handle,
			                           .id = d.id,
			                           .sector_number = d.sector_number,
			                           .nr_sectors = d.nr_sectors };
		memcpy(out, &n, sizeof(n));
	} else if (raw[0] == BLKIF_OP_INDIRECT) {
		struct blkif_x86_32_request_indirect i;
		memcpy(&i, raw, sizeof(i));
		struct blkif_request_indirect n = { .operation = i.operation,
			                            .indirect_op = i.indirect_op,
			                            .nr_segments = i.nr_segments,
			                            .id = i.id,
			                            .sector_number = i.sector_number,
			                            .handle = i.handle };
		memcpy(n.indirect_grefs, i.indirect_grefs, sizeof(n.indirect_grefs));
		memcpy(out, &n, sizeof(n));
	} else {
		struct blkif_x86_32_request q;
		memcpy(&q, raw, sizeof(q));
		out->req = (struct blkif_request){ .operation = q.operation,
			                           .nr_segments = q.nr_segments,
			                           .handle = q.handle,
			                           .id = q.id,
			                           .sector_number = q.sector_number };
		memcpy(out->req.seg, q.seg, sizeof(q.seg));
	}
}

/* Requests waiting on the ring (a plain look at req_prod: no arming). */
bool bb_ring_pending(const struct bb_ring *r)
{
	if (r->dead || r->detaching)
		return false;
	return BH_READ_ONCE(r->br.sring->hdr.req_prod) != r->br.req_cons;
}

/* Serve up to budget requests; true if the ring has more to do. With arm,
 * an emptied ring asks to be notified of the next request (req_event);
 * without, req_event stays behind and the frontend does not notify: the
 * caller is polling the ring and arms it before it sleeps. */
bool bb_serve_ring(struct blkback *bb, struct bb_ring *r, uint32_t budget, bool arm)
{
	RING_IDX prod;
	uint32_t n;

	if (r->dead || r->detaching)
		return false;
	prod = BH_READ_ONCE(r->br.sring->hdr.req_prod);
	bh_rmb();
	if (blkif_back_req_overflow(&r->br, prod)) {
		char why[96];
		snprintf(why, sizeof(why), "req_prod %u is more than %u ahead of rsp_prod %u", prod,
		         r->br.nr_ents, r->br.rsp_prod_pvt);
		bb_ring_fail(bb, r, -EPROTO, why);
		return false;
	}
	n = blkif_back_unconsumed(&r->br, prod);
	/* Take no more than the completion queue can hold: the rest waits
	 * for completions, which wake the engine through the io_uring fd. */
	while (n > 0 && budget > 0 && bb_uring_room(bb)) {
		union blkif_sring_entry copy;
		struct bb_req *q = req_get(r);
		if (!q)
			break; /* cannot happen: unconsumed is clamped to free slots */
		fetch(r, &copy);
		r->br.req_cons++;
		dispatch(bb, q, &copy);
		n--;
		budget--;
	}
	if (n > 0)
		return bb_uring_room(bb);
	return arm ? blkif_back_final_check(&r->br) : false;
}

void bb_log(const struct blkback *bb, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", bb->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
