/* /dev/xen/gntalloc: pages this domain shares with another.
 *
 * ALLOC_GREF asks the core for pages granted to one domain and returns
 * their refs; the pages' descriptors stay here so that mmap(offset =
 * index) can map them, as often as wanted. DEALLOC_GREF ends access; while
 * the grantee still maps a page the core ends it at the grantee's last
 * unmap, as Linux's gntalloc does. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/util.h"
#include "ioctl/xendev_priv.h"

struct galloc {
	uint64_t index;
	uint32_t count;
	uint32_t *refs;
	int *fds;
	struct galloc *next;
};

struct gntalloc {
	pthread_mutex_t lock;
	uint64_t next_index;
	struct galloc *allocs;
};

static int ga_open(struct xdev *x, int flags)
{
	struct gntalloc *g = calloc(1, sizeof(*g));

	(void)flags;
	if (!g)
		return -ENOMEM;
	pthread_mutex_init(&g->lock, NULL);
	x->priv = g;
	/* Any pollable descriptor stands for the device. */
	x->fd = eventfd(0, EFD_CLOEXEC);
	return x->fd < 0 ? -errno : 0;
}

static void end_refs(const uint32_t *refs, uint32_t n)
{
	for (uint32_t off = 0; off < n; off += BH_GNT_MAX_BATCH) {
		struct bh_hc_gnt_refs r = { .count = BH_MIN(n - off, (uint32_t)BH_GNT_MAX_BATCH),
			                    .flags = BH_GNT_DEFER };
		memcpy(r.refs, refs + off, r.count * sizeof(uint32_t));
		bh_hc_call_simple(xen_hcall(), BH_HC_GNT_END_REQ, &r,
		                  8 + r.count * sizeof(uint32_t));
	}
}

static void galloc_free(struct galloc *a)
{
	if (!a)
		return;
	end_refs(a->refs, a->count);
	bh_close_fds(a->fds, a->count);
	free(a->refs);
	free(a->fds);
	free(a);
}

/* Fill a->refs/fds[off..off+n) with one hypercall. */
static int alloc_batch(struct galloc *a, uint32_t off, uint32_t n, uint16_t domid, bool writable)
{
	struct bh_hc_gnt_alloc req = { .domid = domid,
		                       .flags = writable ? BH_GNT_WRITABLE : 0,
		                       .count = n };
	struct bh_hc_gnt_alloc_resp resp;
	struct bh_hc_result res = {
		.resp = &resp, .resp_cap = sizeof(resp), .fds = a->fds + off, .max_fds = n
	};
	int rc = bh_hc_call(xen_hcall(), BH_HC_GNT_ALLOC_REQ, &req, sizeof(req), &res);

	if (rc == 0 && (res.nfds != n || resp.count != n))
		rc = -EPROTO;
	if (rc < 0) {
		bh_close_fds(a->fds + off, res.nfds);
		return rc;
	}
	memcpy(a->refs + off, resp.refs, n * sizeof(uint32_t));
	return 0;
}

static int ga_alloc(struct xdev *x, struct ioctl_gntalloc_alloc_gref *op)
{
	struct gntalloc *g = x->priv;
	struct galloc *a;
	uint32_t done = 0;
	int rc = 0;

	if (op->count == 0 || op->count > 65536 || (op->flags & ~GNTALLOC_FLAG_WRITABLE))
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a || !(a->refs = calloc(op->count, sizeof(uint32_t))) ||
	    !(a->fds = malloc(op->count * sizeof(int)))) {
		rc = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < op->count; i++)
		a->fds[i] = -1;
	while (done < op->count) {
		uint32_t n = BH_MIN(op->count - done, (uint32_t)BH_GNT_MAX_BATCH);
		if ((rc = alloc_batch(a, done, n, op->domid, op->flags & GNTALLOC_FLAG_WRITABLE)) <
		    0)
			goto fail;
		done += n;
		a->count = done;
	}
	pthread_mutex_lock(&g->lock);
	a->index = g->next_index;
	g->next_index += (uint64_t)a->count * BH_PAGE_SIZE;
	a->next = g->allocs;
	g->allocs = a;
	pthread_mutex_unlock(&g->lock);
	op->index = a->index;
	memcpy(op->gref_ids, a->refs, a->count * sizeof(uint32_t));
	return 0;
fail:
	galloc_free(a);
	return rc;
}

static int ga_dealloc(struct xdev *x, const struct ioctl_gntalloc_dealloc_gref *op)
{
	struct gntalloc *g = x->priv;
	struct galloc *a = NULL;

	pthread_mutex_lock(&g->lock);
	for (struct galloc **pp = &g->allocs; *pp; pp = &(*pp)->next) {
		if ((*pp)->index == op->index && (*pp)->count == op->count) {
			a = *pp;
			*pp = a->next;
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);
	if (!a)
		return -EINVAL;
	galloc_free(a);
	return 0;
}

static int ga_ioctl(struct xdev *x, unsigned long req, void *arg)
{
	switch (req) {
	case IOCTL_GNTALLOC_ALLOC_GREF:
		return ga_alloc(x, arg);
	case IOCTL_GNTALLOC_DEALLOC_GREF:
		return ga_dealloc(x, arg);
	case IOCTL_GNTALLOC_SET_UNMAP_NOTIFY:
		return -ENOSYS; /* not yet: peers learn of our death through the store */
	default:
		return -ENOTTY;
	}
}

static void *ga_mmap(struct xdev *x, void *addr, size_t len, int prot, int flags, off_t off)
{
	struct gntalloc *g = x->priv;
	void *p = MAP_FAILED;

	if (!(flags & MAP_SHARED) || len == 0 || len % BH_PAGE_SIZE) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	pthread_mutex_lock(&g->lock);
	for (struct galloc *a = g->allocs; a; a = a->next) {
		uint64_t end = a->index + (uint64_t)a->count * BH_PAGE_SIZE;
		if ((uint64_t)off < a->index || (uint64_t)off + len > end)
			continue;
		p = xdev_map_pages(addr, a->fds + ((uint64_t)off - a->index) / BH_PAGE_SIZE,
		                   len / BH_PAGE_SIZE, prot, flags & MAP_FIXED);
		pthread_mutex_unlock(&g->lock);
		return p;
	}
	pthread_mutex_unlock(&g->lock);
	errno = EINVAL;
	return MAP_FAILED;
}

static void ga_close(struct xdev *x)
{
	struct gntalloc *g = x->priv;

	if (g) {
		while (g->allocs) {
			struct galloc *a = g->allocs;
			g->allocs = a->next;
			galloc_free(a);
		}
		pthread_mutex_destroy(&g->lock);
		free(g);
	}
	bh_closep(&x->fd);
}

const struct xdev_ops xdev_gntalloc_ops = {
	.open = ga_open,
	.close = ga_close,
	.ioctl = ga_ioctl,
	.mmap = ga_mmap,
};
