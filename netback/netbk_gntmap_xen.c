/* netbk_gntmap_ops over /dev/xen/gntdev and /dev/xen/evtchn. */
#include "netback/netbk_gntmap_xen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bulkhead/hypercall.h"
#include "common/util.h"
#include "ioctl/xendev.h"

/* From Xen's grant_table.h (the uapi header leaves them to it). */
#ifndef GNTCOPY_source_gref
#define GNTCOPY_source_gref (1u << 0)
#define GNTCOPY_dest_gref   (1u << 1)
#endif

int netbk_gntmap_xen_open(struct netbk_xen *x)
{
	memset(x, 0, sizeof(*x));
	x->gntdev = xen_open("/dev/xen/gntdev", O_RDWR);
	x->evtchn = xen_open("/dev/xen/evtchn", O_RDWR | O_NONBLOCK);
	if (x->gntdev < 0 || x->evtchn < 0) {
		int rc = -errno;

		netbk_gntmap_xen_close(x);
		return rc;
	}
	return 0;
}

static void xm_forget(void *ctx, uint16_t domid);

void netbk_gntmap_xen_close(struct netbk_xen *x)
{
	if (x->gntdev >= 0)
		for (unsigned d = 0; x->pmap_live && d < 65536; d++)
			if (x->pmap_dom[d])
				xm_forget(x, (uint16_t)d);
	free(x->pmap_dom);
	x->pmap_dom = NULL;
	if (x->gntdev >= 0)
		xen_close(x->gntdev);
	if (x->evtchn >= 0)
		xen_close(x->evtchn);
	x->gntdev = x->evtchn = -1;
}

/* N refs of DOMID in one gntdev mapping and one mmap (one call to the
 * core): the first page's address and the mapping's gntdev index, or NULL
 * with nothing left mapped. */
static uint8_t *gnt_map(struct netbk_xen *x, uint16_t domid, const uint32_t *refs, unsigned n,
                        bool writable, uint64_t *index)
{
	struct ioctl_gntdev_map_grant_ref *mr =
	    calloc(1, sizeof(*mr) + (n - 1) * sizeof(mr->refs[0]));
	void *p = NULL;

	if (!mr)
		return NULL;
	mr->count = n;
	for (unsigned i = 0; i < n; i++) {
		mr->refs[i].domid = domid;
		mr->refs[i].ref = refs[i];
	}
	if (xen_ioctl(x->gntdev, IOCTL_GNTDEV_MAP_GRANT_REF, mr) == 0) {
		p = xen_mmap(NULL, (size_t)n * 4096, writable ? PROT_READ | PROT_WRITE : PROT_READ,
		             MAP_SHARED, x->gntdev, (off_t)mr->index);
		if (p == MAP_FAILED) {
			struct ioctl_gntdev_unmap_grant_ref u = { .index = mr->index, .count = n };

			xen_ioctl(x->gntdev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
			p = NULL;
		}
		*index = mr->index;
	}
	free(mr);
	return p;
}

/* N (1 or 2) ring pages of DOMID in one gntdev mapping: one call to the
 * core. The first page's address, or NULL. */
static void *map_ring_pages(struct netbk_xen *x, uint16_t domid, const uint32_t *refs, unsigned n)
{
	unsigned slot;
	uint64_t index;
	void *p;

	for (slot = 0; slot < NETBK_XEN_MAX_MAPS && x->maps[slot].addr; slot++)
		;
	if (slot == NETBK_XEN_MAX_MAPS || n < 1 || n > 2 ||
	    !(p = gnt_map(x, domid, refs, n, true, &index)))
		return NULL;
	x->maps[slot].addr = p;
	x->maps[slot].index = index;
	x->maps[slot].pages = n;
	return p;
}

static void *xm_map_ring(void *ctx, uint16_t domid, uint32_t ref)
{
	return map_ring_pages(ctx, domid, &ref, 1);
}

static int xm_map_rings(void *ctx, uint16_t domid, uint32_t tx_ref, uint32_t rx_ref, void **tx,
                        void **rx)
{
	uint32_t refs[2] = { tx_ref, rx_ref };
	uint8_t *p = map_ring_pages(ctx, domid, refs, 2);

	if (!p)
		return -EPERM;
	*tx = p;
	*rx = p + 4096;
	return 0;
}

/* A ring's page, and the page mapped with it (xm_map_rings). */
static void xm_unmap_ring(void *ctx, void *page)
{
	struct netbk_xen *x = ctx;

	for (unsigned i = 0; i < NETBK_XEN_MAX_MAPS; i++) {
		if (x->maps[i].addr != page)
			continue;
		struct ioctl_gntdev_unmap_grant_ref u = { .index = x->maps[i].index,
			                                  .count = x->maps[i].pages };

		xen_munmap(page, (size_t)x->maps[i].pages * 4096);
		xen_ioctl(x->gntdev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
		x->maps[i].addr = NULL;
		return;
	}
}

/* Persistent data-page mappings.
 *
 * netfront grants its 256 TX and 256 RX buffer pages once per connection
 * and reuses them for every packet, so each (frontend, ref, access) is
 * mapped on its first copy and kept: afterwards a copy is a memcpy.
 * Mapping a grant holds it, as in Xen: the frontend cannot end it while
 * we have it mapped, so the page cannot change owner under us. The
 * mappings of a frontend go when one of its vifs disconnects (forget),
 * and there are at most NETBK_XEN_PMAP_PER_DOM per frontend and
 * NETBK_XEN_PMAP_MAX in all: a frontend that names ever new refs only
 * makes its own copies slow again (each evicts one of its own). */
/* Pages mapped together (xm_prefetch) are one gntdev mapping: it goes
 * when the last of its pages is dropped. A group is evicted whole, so
 * that the pages mapped never exceed the entries counted against the
 * quotas (a page dropped alone would stay mapped with its group). */
struct netbk_xen_pmap;
struct netbk_xen_pgroup {
	uint64_t index;
	uint8_t *base;
	unsigned count, live;
	struct netbk_xen_pmap *members[]; /* count; NULL once dropped */
};

struct netbk_xen_pmap {
	struct netbk_xen_pmap *next;
	uint16_t domid;
	bool writable;
	uint32_t ref;
	uint64_t index; /* gntdev's */
	uint8_t *page;
	struct netbk_xen_pgroup *grp; /* NULL: a mapping of its own */
	unsigned slot;                /* in grp->members */
};

static unsigned pmap_hash(uint16_t domid, uint32_t ref, bool writable)
{
	uint32_t h = (ref * 2654435761u) ^ ((uint32_t)domid * 40503u) ^ (writable ? 0x9e37u : 0);

	return (h ^ (h >> 16)) % NETBK_XEN_PMAP_BUCKETS;
}

static void pmap_drop(struct netbk_xen *x, struct netbk_xen_pmap **pp)
{
	struct netbk_xen_pmap *m = *pp;
	struct ioctl_gntdev_unmap_grant_ref u = { .index = m->index, .count = 1 };

	*pp = m->next;
	if (m->grp) {
		struct netbk_xen_pgroup *g = m->grp;

		g->members[m->slot] = NULL;
		if (--g->live == 0) {
			u = (struct ioctl_gntdev_unmap_grant_ref){ .index = g->index,
				                                   .count = g->count };
			xen_munmap(g->base, (size_t)g->count * 4096);
			xen_ioctl(x->gntdev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
			free(g);
		}
	} else {
		xen_munmap(m->page, 4096);
		xen_ioctl(x->gntdev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
	}
	x->pmap_live--;
	x->pmap_dom[m->domid]--;
	x->pst.unmaps++;
	free(m);
}

static bool page_kept(const uint8_t *page, uint8_t *const *keep, unsigned nkeep)
{
	for (unsigned i = 0; i < nkeep; i++)
		if (keep[i] == page)
			return true;
	return false;
}

/* M, or for a grouped entry any page of its group, is in keep[]. */
static bool pmap_kept(const struct netbk_xen_pmap *m, uint8_t *const *keep, unsigned nkeep)
{
	if (!m->grp)
		return page_kept(m->page, keep, nkeep);
	for (unsigned i = 0; i < m->grp->count; i++)
		if (m->grp->members[i] && page_kept(m->grp->members[i]->page, keep, nkeep))
			return true;
	return false;
}

/* Drop M wherever it is in its bucket. */
static void pmap_drop_entry(struct netbk_xen *x, struct netbk_xen_pmap *m)
{
	for (struct netbk_xen_pmap **pp = &x->pmap[pmap_hash(m->domid, m->ref, m->writable)]; *pp;
	     pp = &(*pp)->next)
		if (*pp == m) {
			pmap_drop(x, pp);
			return;
		}
}

/* Unmap one mapping, of `domid` if it is at its quota, else any (a clock
 * over the buckets, so no entry is favoured), but none of the pages in
 * keep[] (handed out by the same pages() call). */
static void pmap_evict(struct netbk_xen *x, uint16_t domid, bool own, uint8_t *const *keep,
                       unsigned nkeep)
{
	for (unsigned n = 0; n < NETBK_XEN_PMAP_BUCKETS; n++) {
		unsigned b = x->pmap_clock++ % NETBK_XEN_PMAP_BUCKETS;

		for (struct netbk_xen_pmap **pp = &x->pmap[b]; *pp; pp = &(*pp)->next)
			if ((!own || (*pp)->domid == domid) && !pmap_kept(*pp, keep, nkeep)) {
				struct netbk_xen_pgroup *g = (*pp)->grp;

				if (!g) {
					pmap_drop(x, pp);
					return;
				}
				/* the whole group: its last drop frees it, so
				 * count down and stop there */
				unsigned left = g->live;

				for (unsigned i = g->count; i-- > 0 && left;)
					if (g->members[i]) {
						left--;
						pmap_drop_entry(x, g->members[i]);
					}
				return;
			}
	}
}

static void xm_forget(void *ctx, uint16_t domid)
{
	struct netbk_xen *x = ctx;

	for (unsigned b = 0; b < NETBK_XEN_PMAP_BUCKETS; b++)
		for (struct netbk_xen_pmap **pp = &x->pmap[b]; *pp;)
			if ((*pp)->domid == domid)
				pmap_drop(x, pp);
			else
				pp = &(*pp)->next;
}

/* The page of (domid, ref) mapped for reading or writing; NULL if the
 * frontend did not grant it so. */
static uint8_t *pmap_get(struct netbk_xen *x, uint16_t domid, uint32_t ref, bool writable,
                         uint8_t *const *keep, unsigned nkeep)
{
	unsigned b = pmap_hash(domid, ref, writable);
	struct netbk_xen_pmap *m;
	uint64_t index;
	void *p;

	for (m = x->pmap[b]; m; m = m->next)
		if (m->ref == ref && m->domid == domid && m->writable == writable) {
			x->pst.hits++;
			return m->page;
		}
	if (!x->pmap_dom && !(x->pmap_dom = calloc(65536, sizeof(*x->pmap_dom))))
		return NULL;
	if (x->pmap_dom[domid] >= NETBK_XEN_PMAP_PER_DOM)
		pmap_evict(x, domid, true, keep, nkeep);
	else if (x->pmap_live >= NETBK_XEN_PMAP_MAX)
		pmap_evict(x, domid, false, keep, nkeep);
	if (!(m = calloc(1, sizeof(*m))))
		return NULL;
	if (!(p = gnt_map(x, domid, &ref, 1, writable, &index))) {
		x->pst.map_errors++;
		free(m);
		return NULL;
	}
	*m = (struct netbk_xen_pmap){ .next = x->pmap[b],
		                      .domid = domid,
		                      .writable = writable,
		                      .ref = ref,
		                      .index = index,
		                      .page = p };
	x->pmap[b] = m;
	x->pmap_live++;
	x->pmap_dom[domid]++;
	x->pst.maps++;
	return m->page;
}

static int xm_copy(void *ctx, uint16_t domid, bool to_grant, struct netbk_gntcopy_seg *segs,
                   unsigned n)
{
	struct netbk_xen *x = ctx;

	for (unsigned i = 0; i < n; i++) {
		struct netbk_gntcopy_seg *s = &segs[i];
		uint8_t *page;

		if ((uint32_t)s->offset + s->len > 4096) {
			s->status = BH_GNTST_GENERAL_ERROR; /* Xen: GNTST_bad_copy_arg */
			continue;
		}
		if (!(page = pmap_get(x, domid, s->ref, to_grant, NULL, 0))) {
			s->status = BH_GNTST_PERMISSION_DENIED;
			continue;
		}
		if (to_grant)
			memcpy(page + s->offset, s->local, s->len);
		else
			memcpy(s->local, page + s->offset, s->len);
		s->status = 0;
	}
	return 0;
}

static struct netbk_xen_pmap *pmap_find(struct netbk_xen *x, uint16_t domid, uint32_t ref,
                                        bool writable)
{
	for (struct netbk_xen_pmap *m = x->pmap[pmap_hash(domid, ref, writable)]; m; m = m->next)
		if (m->ref == ref && m->domid == domid && m->writable == writable)
			return m;
	return NULL;
}

/* K refs mapped in one gntdev mapping and one mmap (one call to the
 * core), each a pmap entry of one group. If any ref fails, none is kept:
 * each is left to pmap_get. */
static void prefetch_batch(struct netbk_xen *x, uint16_t domid, bool writable, const uint32_t *miss,
                           unsigned k)
{
	struct netbk_xen_pgroup *g = calloc(1, sizeof(*g) + k * sizeof(g->members[0]));
	uint64_t index;
	uint8_t *p;

	if (!g || !(p = gnt_map(x, domid, miss, k, writable, &index))) {
		free(g);
		return;
	}
	*g = (struct netbk_xen_pgroup){ .index = index, .base = p, .count = k };
	x->pst.prefetch_calls++;
	for (unsigned i = 0; i < k; i++) {
		struct netbk_xen_pmap *m = calloc(1, sizeof(*m));
		unsigned b = pmap_hash(domid, miss[i], writable);

		if (!m)
			continue; /* its page stays mapped with the group, unused */
		*m = (struct netbk_xen_pmap){ .next = x->pmap[b],
			                      .domid = domid,
			                      .writable = writable,
			                      .ref = miss[i],
			                      .index = index + (uint64_t)i * 4096,
			                      .page = p + (size_t)i * 4096,
			                      .grp = g,
			                      .slot = i };
		g->members[i] = m;
		x->pmap[b] = m;
		g->live++;
		x->pmap_live++;
		x->pmap_dom[domid]++;
		x->pst.maps++;
		x->pst.prefetched++;
	}
	if (g->live == 0) {
		struct ioctl_gntdev_unmap_grant_ref u = { .index = index, .count = k };

		xen_munmap(p, (size_t)k * 4096);
		xen_ioctl(x->gntdev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
		free(g);
	}
}

/* The refs not mapped yet, BH_GNT_MAX_BATCH to a call, while the frontend
 * has room under its limits (nothing is evicted for them). */
static void xm_prefetch(void *ctx, uint16_t domid, bool writable, const uint32_t *refs, unsigned n)
{
	struct netbk_xen *x = ctx;
	uint32_t miss[BH_GNT_MAX_BATCH];
	unsigned i = 0;

	if (!x->pmap_dom && !(x->pmap_dom = calloc(65536, sizeof(*x->pmap_dom))))
		return;
	while (i < n) {
		unsigned room = (unsigned)NETBK_XEN_PMAP_PER_DOM - x->pmap_dom[domid], k = 0;

		room = BH_MIN(room, (unsigned)NETBK_XEN_PMAP_MAX - x->pmap_live);
		room = BH_MIN(room, (unsigned)BH_GNT_MAX_BATCH);
		for (; i < n && k < room; i++) {
			bool dup = false;

			for (unsigned j = 0; j < k && !dup; j++)
				dup = miss[j] == refs[i];
			if (!dup && !pmap_find(x, domid, refs[i], writable))
				miss[k++] = refs[i];
		}
		if (k < 2)
			return; /* one is what pages does anyway; no room: done */
		prefetch_batch(x, domid, writable, miss, k);
	}
}

/* The mapped pages themselves: netback reads and writes packet data in
 * place (writev from TX pages, readv into RX pages). */
static int xm_pages(void *ctx, uint16_t domid, bool writable, const uint32_t *refs, unsigned n,
                    uint8_t **out)
{
	struct netbk_xen *x = ctx;
	uint32_t miss[BH_GNT_MAX_BATCH];
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		struct netbk_xen_pmap *m = pmap_find(x, domid, refs[i], writable);

		out[i] = m ? m->page : NULL;
		if (m)
			x->pst.hits++;
		else if (k < BH_GNT_MAX_BATCH)
			miss[k++] = refs[i];
	}
	/* Several pages not mapped yet (RX in place takes RX_SLOTS at once
	 * on a new connection): one call to the core for them, not one each. */
	if (k > 1)
		xm_prefetch(ctx, domid, writable, miss, k);
	for (unsigned i = 0; i < n; i++)
		if (!out[i])
			out[i] = pmap_get(x, domid, refs[i], writable, out, i);
	return 0;
}

void netbk_gntmap_xen_pmap_stats(const struct netbk_xen *x, struct netbk_xen_pmap_stats *out)
{
	*out = x->pst;
	out->live = x->pmap_live;
}

static int xm_notify(void *ctx, uint32_t port)
{
	struct netbk_xen *x = ctx;
	struct ioctl_evtchn_notify nt = { .port = port };

	return xen_ioctl(x->evtchn, IOCTL_EVTCHN_NOTIFY, &nt) < 0 ? -errno : 0;
}

static int xm_port_fd(void *ctx, uint32_t port)
{
	return ((struct netbk_xen *)ctx)->evtchn;
}

/* Read what fired and unmask it (Linux evtchn semantics). */
static void xm_port_ack(void *ctx, uint32_t port)
{
	struct netbk_xen *x = ctx;
	uint32_t fired[64];
	ssize_t n;

	while ((n = xen_read(x->evtchn, fired, sizeof(fired))) > 0)
		xen_write(x->evtchn, fired, (size_t)n & ~(size_t)3);
}

void netbk_gntmap_xen_ops(struct netbk_xen *x, struct netbk_gntmap_ops *out)
{
	*out = (struct netbk_gntmap_ops){ .map_ring = xm_map_ring,
		                          .unmap_ring = xm_unmap_ring,
		                          .map_rings = xm_map_rings,
		                          .copy = xm_copy,
		                          .pages = xm_pages,
		                          .prefetch = xm_prefetch,
		                          .forget = xm_forget,
		                          .notify = xm_notify,
		                          .port_fd = xm_port_fd,
		                          .port_ack = xm_port_ack,
		                          .ctx = x };
}

int netbk_gntmap_xen_bind(struct netbk_xen *x, uint16_t domid, uint32_t remote_port, uint32_t *out)
{
	struct ioctl_evtchn_bind_interdomain b = { .remote_domain = domid,
		                                   .remote_port = remote_port };
	int port = xen_ioctl(x->evtchn, IOCTL_EVTCHN_BIND_INTERDOMAIN, &b);

	if (port < 0)
		return -errno;
	*out = (uint32_t)port;
	return 0;
}
