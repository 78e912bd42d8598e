/* Mapping the frontend's pages for one request.
 *
 * With feature-persistent on both sides each grant is mapped once,
 * writable (the frontend reuses its grants for reads and writes), and kept
 * until the ring is detached, up to max_persistent per ring; beyond that a
 * request falls back to transient mappings. Transient mappings are made in
 * chunks of BB_MAP_CHUNK grants and undone when the request completes.
 *
 * A request's mappings are all or nothing: if any map fails part-way,
 * everything already mapped for it (transient chunks and the persistent
 * grants it would have added) is unmapped before the error response. */
#include <errno.h>
#include <string.h>

#include "blkback/blkback_int.h"

static uint32_t pg_hash(uint32_t ref, uint32_t cap)
{
	return (ref * 2654435761u) & (cap - 1);
}

static struct bb_pgrant *pg_find(struct bb_ring *r, uint32_t ref)
{
	if (!r->pg)
		return NULL;
	for (uint32_t i = pg_hash(ref, r->pg_cap), k = 0; k < r->pg_cap;
	     i = (i + 1) & (r->pg_cap - 1), k++) {
		if (!r->pg[i].used)
			return NULL;
		if (r->pg[i].ref == ref)
			return &r->pg[i];
	}
	return NULL;
}

static struct bb_pgrant *pg_insert(struct bb_ring *r, uint32_t ref)
{
	uint32_t i = pg_hash(ref, r->pg_cap);

	while (r->pg[i].used)
		i = (i + 1) & (r->pg_cap - 1);
	r->pg[i].used = true;
	r->pg[i].ref = ref;
	r->pg_count++;
	return &r->pg[i];
}

void bb_persistent_release(struct blkback *bb, struct bb_ring *r)
{
	for (uint32_t i = 0; r->pg && i < r->pg_cap; i++)
		if (r->pg[i].used && r->pg[i].addr)
			bb->cfg.gnt->unmap(bb->cfg.gnt_priv, r->pg[i].cookie, r->pg[i].addr, 1);
	if (r->pg)
		memset(r->pg, 0, r->pg_cap * sizeof(*r->pg));
	r->pg_count = 0;
}

static int map_chunk(struct blkback *bb, struct bb_req *q, const uint32_t *refs, uint32_t n,
                     bool writable, void **pages)
{
	struct bb_tmap *t = &q->tmap[q->ntmap];
	int rc = bb->cfg.gnt->map(bb->cfg.gnt_priv, q->ring->domid, refs, n, writable, &t->addr,
	                          &t->cookie);

	if (rc < 0)
		return rc;
	t->n = n;
	q->ntmap++;
	for (uint32_t i = 0; i < n; i++)
		pages[i] = (char *)t->addr + (size_t)i * BH_PAGE_SIZE;
	bb->vbd[q->ring->vbd].st.transient_maps += n;
	return 0;
}

/* Transient mapping of the segments idx[0..n) in chunks. */
static int map_transient(struct blkback *bb, struct bb_req *q, const uint32_t *idx, uint32_t n,
                         bool writable)
{
	uint32_t refs[BB_MAP_CHUNK];
	void *pages[BB_MAP_CHUNK];

	for (uint32_t off = 0; off < n; off += BB_MAP_CHUNK) {
		uint32_t c = BH_MIN(n - off, (uint32_t)BB_MAP_CHUNK);
		for (uint32_t i = 0; i < c; i++)
			refs[i] = q->seg[idx[off + i]].gref;
		int rc = map_chunk(bb, q, refs, c, writable, pages);
		if (rc < 0)
			return rc;
		for (uint32_t i = 0; i < c; i++)
			q->page[idx[off + i]] = pages[i];
	}
	return 0;
}

/* Persistent grants this request added, to undo them on failure. */
static void undo_persistent(struct blkback *bb, struct bb_ring *r, const uint32_t *added,
                            uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct bb_pgrant *g = pg_find(r, added[i]);
		if (g && g->addr) {
			bb->cfg.gnt->unmap(bb->cfg.gnt_priv, g->cookie, g->addr, 1);
			g->addr = NULL;
			g->cookie = NULL;
		}
	}
}

/* Map one grant persistently; NULL-address tombstones are re-mapped. */
static int map_persistent(struct blkback *bb, struct bb_ring *r, uint32_t ref, bool writable,
                          void **page)
{
	struct bb_pgrant *g = pg_find(r, ref);
	int rc;

	if (!g)
		g = pg_insert(r, ref);
	rc = bb->cfg.gnt->map(bb->cfg.gnt_priv, r->domid, &ref, 1, writable, &g->addr, &g->cookie);
	if (rc < 0) {
		g->addr = NULL;
		return rc;
	}
	g->writable = writable;
	bb->vbd[r->vbd].st.persistent_maps++;
	*page = g->addr;
	return 0;
}

int bb_map_segments(struct blkback *bb, struct bb_req *q, bool writable)
{
	struct bb_ring *r = q->ring;
	uint32_t *todo = (uint32_t *)q->iov; /* scratch: iov is built after mapping */
	uint32_t *added = todo + q->nseg;
	uint32_t ntodo = 0, nadded = 0;
	int rc = 0;

	q->ntmap = 0;
	for (uint32_t i = 0; i < q->nseg; i++) {
		struct bb_pgrant *g = r->persistent ? pg_find(r, q->seg[i].gref) : NULL;
		if (g && g->addr && (g->writable || !writable)) {
			q->page[i] = g->addr;
			continue;
		}
		if (r->persistent &&
		    ((g && !g->addr) || (!g && r->pg_count < bb->cfg.max_persistent))) {
			if ((rc = map_persistent(bb, r, q->seg[i].gref, true, &q->page[i])) < 0)
				goto fail;
			added[nadded++] = q->seg[i].gref;
			continue;
		}
		todo[ntodo++] = i;
	}
	/* Persistent grants are always mapped writable (they are reused for
	 * reads); transient ones only as wide as the operation needs. */
	if (ntodo && (rc = map_transient(bb, q, todo, ntodo, writable)) < 0)
		goto fail;
	return 0;
fail:
	undo_persistent(bb, r, added, nadded);
	bb_unmap_request(bb, q);
	return rc;
}

void bb_unmap_request(struct blkback *bb, struct bb_req *q)
{
	for (uint32_t i = 0; i < q->ntmap; i++)
		bb->cfg.gnt->unmap(bb->cfg.gnt_priv, q->tmap[i].cookie, q->tmap[i].addr,
		                   q->tmap[i].n);
	q->ntmap = 0;
}

/* Copy the segments of an indirect request out of its pages, once. With
 * persistent grants the indirect pages are kept mapped (read-only: the
 * backend never writes them); otherwise mapped for the copy only. */
int bb_fetch_indirect(struct blkback *bb, struct bb_req *q, const uint32_t *refs, uint32_t npages)
{
	struct bb_ring *r = q->ring;
	const uint32_t per = BLKIF_SEGS_PER_INDIRECT_FRAME;
	void *addr, *cookie;
	int rc;

	for (uint32_t p = 0; r->persistent && p < npages; p++) {
		struct bb_pgrant *g = pg_find(r, refs[p]);
		uint32_t n = BH_MIN(q->nseg - p * per, per);
		if (!(g && g->addr) && !(r->pg_count < bb->cfg.max_persistent || (g && !g->addr)))
			goto transient;
		if (!(g && g->addr) && (rc = map_persistent(bb, r, refs[p], false, &addr)) < 0)
			return rc;
		g = pg_find(r, refs[p]);
		memcpy(q->seg + p * per, g->addr, n * sizeof(*q->seg));
	}
	if (r->persistent)
		return 0;
transient:
	if ((rc = bb->cfg.gnt->map(bb->cfg.gnt_priv, r->domid, refs, npages, false, &addr,
	                           &cookie)) < 0)
		return rc;
	memcpy(q->seg, addr, q->nseg * sizeof(*q->seg));
	bb->cfg.gnt->unmap(bb->cfg.gnt_priv, cookie, addr, npages);
	return 0;
}
