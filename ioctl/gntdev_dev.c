/* /dev/xen/gntdev: pages other domains granted to this one.
 *
 * MAP_GRANT_REF only reserves an index; mmap(offset = index) asks the core
 * to map every ref (all or nothing, read-only unless PROT_WRITE) and maps
 * the page descriptors it returns; munmap gives them back. GRANT_COPY maps
 * each ref for the copy and unmaps it again. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/util.h"
#include "ioctl/xendev_priv.h"

#define GNTCOPY_source_gref 0x1
#define GNTCOPY_dest_gref   0x2
#define GNTST_bad_copy_arg  (-10)

struct gmap {
	uint64_t index;
	uint32_t count;
	struct bh_gnt_mapref *refs;
	uint32_t *handles;
	void *addr; /* NULL while not mmapped */
	struct gmap *next;
};

struct gntdev {
	pthread_mutex_t lock;
	uint64_t next_index;
	uint32_t max_grants;
	uint32_t in_use;
	struct gmap *maps;
};

static int gd_open(struct xdev *x, int flags)
{
	struct gntdev *g = calloc(1, sizeof(*g));

	(void)flags;
	if (!g)
		return -ENOMEM;
	pthread_mutex_init(&g->lock, NULL);
	g->max_grants = 65536;
	x->priv = g;
	x->fd = eventfd(0, EFD_CLOEXEC);
	return x->fd < 0 ? -errno : 0;
}

static int unmap_handles(const uint32_t *handles, uint32_t n)
{
	int rc = 0;

	for (uint32_t off = 0; off < n; off += BH_GNT_MAX_BATCH) {
		struct bh_hc_gnt_unmap u = { .count = BH_MIN(n - off, (uint32_t)BH_GNT_MAX_BATCH) };
		memcpy(u.handles, handles + off, u.count * sizeof(uint32_t));
		int r = bh_hc_call_simple(xen_hcall(), BH_HC_GNT_UNMAP_REQ, &u,
		                          8 + u.count * sizeof(uint32_t));
		if (r < 0 && rc == 0)
			rc = r;
	}
	return rc;
}

/* Map refs[off..off+n) with one hypercall; fds and handles land at off. */
static int map_batch(const struct bh_gnt_mapref *refs, uint32_t n, bool ro, int *fds,
                     uint32_t *handles)
{
	struct bh_hc_gnt_map m = { .count = n, .flags = ro ? BH_GNT_READONLY : 0 };
	struct bh_hc_gnt_map_resp r;
	struct bh_hc_result res = { .resp = &r, .resp_cap = sizeof(r), .fds = fds, .max_fds = n };
	int rc;

	memcpy(m.refs, refs, n * sizeof(*refs));
	rc = bh_hc_call(xen_hcall(), BH_HC_GNT_MAP_REQ, &m, 8 + n * sizeof(*refs), &res);
	if (rc == 0 && res.nfds != n)
		rc = -EPROTO;
	if (rc < 0) {
		bh_close_fds(fds, res.nfds);
		return rc;
	}
	memcpy(handles, r.handles, n * sizeof(uint32_t));
	return 0;
}

/* All refs of a map, or none. */
static int map_all(struct gmap *m, bool ro, int *fds)
{
	uint32_t done = 0;
	int rc;

	while (done < m->count) {
		uint32_t n = BH_MIN(m->count - done, (uint32_t)BH_GNT_MAX_BATCH);
		if ((rc = map_batch(m->refs + done, n, ro, fds + done, m->handles + done)) < 0) {
			unmap_handles(m->handles, done);
			bh_close_fds(fds, done);
			return rc;
		}
		done += n;
	}
	return 0;
}

static int gd_map_ref(struct xdev *x, struct ioctl_gntdev_map_grant_ref *op)
{
	struct gntdev *g = x->priv;
	struct gmap *m;

	if (op->count == 0 || op->count > g->max_grants)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m || !(m->refs = calloc(op->count, sizeof(*m->refs))) ||
	    !(m->handles = calloc(op->count, sizeof(uint32_t)))) {
		if (m)
			free(m->refs);
		free(m);
		return -ENOMEM;
	}
	m->count = op->count;
	for (uint32_t i = 0; i < op->count; i++) {
		if (op->refs[i].domid > 0xFFFF) {
			free(m->refs);
			free(m->handles);
			free(m);
			return -EINVAL;
		}
		m->refs[i].domid = (uint16_t)op->refs[i].domid;
		m->refs[i].ref = op->refs[i].ref;
	}
	pthread_mutex_lock(&g->lock);
	if (g->in_use + m->count > g->max_grants) {
		pthread_mutex_unlock(&g->lock);
		free(m->refs);
		free(m->handles);
		free(m);
		return -ENOSPC;
	}
	g->in_use += m->count;
	m->index = g->next_index;
	g->next_index += (uint64_t)m->count * BH_PAGE_SIZE;
	m->next = g->maps;
	g->maps = m;
	pthread_mutex_unlock(&g->lock);
	op->index = m->index;
	return 0;
}

static int gmap_unmap(struct gmap *m)
{
	int rc;

	if (!m->addr)
		return 0;
	munmap(m->addr, (size_t)m->count * BH_PAGE_SIZE);
	m->addr = NULL;
	rc = unmap_handles(m->handles, m->count);
	return rc;
}

static void gmap_free(struct gmap *m)
{
	gmap_unmap(m);
	free(m->refs);
	free(m->handles);
	free(m);
}

static int gd_unmap_ref(struct xdev *x, const struct ioctl_gntdev_unmap_grant_ref *op)
{
	struct gntdev *g = x->priv;
	struct gmap *m = NULL;

	pthread_mutex_lock(&g->lock);
	for (struct gmap **pp = &g->maps; *pp; pp = &(*pp)->next) {
		if ((*pp)->index == op->index && (*pp)->count == op->count) {
			m = *pp;
			*pp = m->next;
			g->in_use -= m->count;
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);
	if (!m)
		return -EINVAL;
	gmap_free(m);
	return 0;
}

static int gd_offset_for_vaddr(struct xdev *x, struct ioctl_gntdev_get_offset_for_vaddr *op)
{
	struct gntdev *g = x->priv;
	int rc = -EINVAL;

	pthread_mutex_lock(&g->lock);
	for (struct gmap *m = g->maps; m; m = m->next) {
		if (m->addr && (uint64_t)(uintptr_t)m->addr == op->vaddr) {
			op->offset = m->index;
			op->count = m->count;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}

/* One side of a copy: a local buffer, or a granted page mapped for it. */
static int copy_side(int is_gref, bool ro, const void *local, grant_ref_t ref, domid_t dom,
                     uint16_t off, uint16_t len, void **ptr, uint32_t *handle)
{
	struct bh_gnt_mapref r = { .domid = dom, .ref = ref };
	int fd = -1, rc;

	*handle = UINT32_MAX;
	if (!is_gref) {
		*ptr = (void *)local;
		return 0;
	}
	if ((uint32_t)off + len > BH_PAGE_SIZE)
		return GNTST_bad_copy_arg;
	if ((rc = map_batch(&r, 1, ro, &fd, handle)) < 0)
		return BH_GNTST_PERMISSION_DENIED;
	char *page = xdev_map_pages(NULL, &fd, 1, ro ? PROT_READ : PROT_READ | PROT_WRITE, 0);
	close(fd);
	if (page == MAP_FAILED) {
		unmap_handles(handle, 1);
		*handle = UINT32_MAX;
		return BH_GNTST_GENERAL_ERROR;
	}
	*ptr = page + off;
	return 0;
}

static void copy_release(void *ptr, uint32_t handle)
{
	if (handle == UINT32_MAX)
		return;
	munmap((void *)((uintptr_t)ptr & ~(uintptr_t)(BH_PAGE_SIZE - 1)), BH_PAGE_SIZE);
	unmap_handles(&handle, 1);
}

static void copy_one(struct gntdev_grant_copy_segment *s)
{
	void *src = NULL, *dst = NULL;
	uint32_t hs = UINT32_MAX, hd = UINT32_MAX;
	int st;

	st = copy_side(s->flags & GNTCOPY_source_gref, true, s->source.virt, s->source.foreign.ref,
	               s->source.foreign.domid, s->source.foreign.offset, s->len, &src, &hs);
	if (st == 0)
		st = copy_side(s->flags & GNTCOPY_dest_gref, false, s->dest.virt,
		               s->dest.foreign.ref, s->dest.foreign.domid, s->dest.foreign.offset,
		               s->len, &dst, &hd);
	if (st == 0)
		memmove(dst, src, s->len);
	copy_release(src, hs);
	copy_release(dst, hd);
	s->status = (int16_t)st;
}

static int gd_ioctl(struct xdev *x, unsigned long req, void *arg)
{
	struct gntdev *g = x->priv;

	switch (req) {
	case IOCTL_GNTDEV_MAP_GRANT_REF:
		return gd_map_ref(x, arg);
	case IOCTL_GNTDEV_UNMAP_GRANT_REF:
		return gd_unmap_ref(x, arg);
	case IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR:
		return gd_offset_for_vaddr(x, arg);
	case IOCTL_GNTDEV_SET_MAX_GRANTS:
		g->max_grants = ((struct ioctl_gntdev_set_max_grants *)arg)->count;
		return 0;
	case IOCTL_GNTDEV_GRANT_COPY: {
		struct ioctl_gntdev_grant_copy *c = arg;
		for (unsigned i = 0; i < c->count; i++)
			copy_one(&c->segments[i]);
		return 0;
	}
	case IOCTL_GNTDEV_SET_UNMAP_NOTIFY:
		return -ENOSYS; /* not yet: peers learn of our death through the store */
	default:
		return -ENOTTY;
	}
}

static void *gd_mmap(struct xdev *x, void *addr, size_t len, int prot, int flags, off_t off)
{
	struct gntdev *g = x->priv;
	struct gmap *m;
	int *fds = NULL, rc = -EINVAL;
	void *p = MAP_FAILED;

	pthread_mutex_lock(&g->lock);
	for (m = g->maps; m; m = m->next)
		if (m->index == (uint64_t)off && (size_t)m->count * BH_PAGE_SIZE == len)
			break;
	if (!m || m->addr || !(flags & MAP_SHARED))
		goto out;
	rc = -ENOMEM;
	if (!(fds = malloc(m->count * sizeof(int))))
		goto out;
	if ((rc = map_all(m, !(prot & PROT_WRITE), fds)) < 0)
		goto out;
	p = xdev_map_pages(addr, fds, m->count, prot, flags & MAP_FIXED);
	rc = p == MAP_FAILED ? -errno : 0;
	bh_close_fds(fds, m->count);
	if (rc < 0)
		unmap_handles(m->handles, m->count);
	else
		m->addr = p;
out:
	pthread_mutex_unlock(&g->lock);
	free(fds);
	if (rc < 0)
		errno = -rc;
	return p;
}

static int gd_munmap(struct xdev *x, void *addr, size_t len)
{
	struct gntdev *g = x->priv;
	int rc = 0;

	pthread_mutex_lock(&g->lock);
	for (struct gmap *m = g->maps; m; m = m->next) {
		if (m->addr != addr)
			continue;
		rc = len == (size_t)m->count * BH_PAGE_SIZE ? gmap_unmap(m) : -EINVAL;
		rc = rc < 0 ? rc : 1;
		break;
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}

static void gd_close(struct xdev *x)
{
	struct gntdev *g = x->priv;

	if (g) {
		while (g->maps) {
			struct gmap *m = g->maps;
			g->maps = m->next;
			gmap_free(m);
		}
		pthread_mutex_destroy(&g->lock);
		free(g);
	}
	bh_closep(&x->fd);
}

const struct xdev_ops xdev_gntdev_ops = {
	.open = gd_open,
	.close = gd_close,
	.ioctl = gd_ioctl,
	.mmap = gd_mmap,
	.munmap = gd_munmap,
};
