/* Grant tables with Xen's semantics.
 *
 * A grantable page is a 4096-byte sealed memfd the core creates when a
 * domain asks (gntalloc's ALLOC_GREF). It is granted to exactly one other
 * domain, read-only or read-write. That domain maps it by (granter, ref) and
 * receives a descriptor of the page alone, opened read-only unless the grant
 * is read-write and a writable map was asked for: a mapping is never wider
 * than its grant, and the seals keep a read-write grantee from resizing the
 * page under the granter. Ending access is refused while the page is mapped
 * (or deferred to the last unmap, as gntalloc does). When the granter dies
 * its table goes away; mappers keep their pages until they unmap, as pages
 * of a dying Xen domain live until released. When a mapper dies its
 * mappings are released.
 *
 * Ownership: an entry's memfd belongs to the grant table; descriptors handed
 * out are always fresh (dup or reopen) and belong to the caller. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/core.h"

#define NO_FREE UINT32_MAX

void grant_table_init(struct grant_table *gt, uint32_t max)
{
	memset(gt, 0, sizeof(*gt));
	gt->max = max;
	gt->free_head = NO_FREE;
}

void maptrack_init(struct maptrack *mt, uint32_t max)
{
	memset(mt, 0, sizeof(*mt));
	mt->max = max;
	mt->free_head = NO_FREE;
}

static int new_page(void)
{
	int fd = memfd_create("bulkhead-grant", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, BH_PAGE_SIZE) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static int gt_grow(struct grant_table *gt, uint32_t want)
{
	uint32_t nr = gt->nr ? gt->nr : 64;
	struct grant_entry *e;

	while (nr < want)
		nr *= 2;
	e = realloc(gt->e, nr * sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (uint32_t i = gt->nr; i < nr; i++)
		e[i] = (struct grant_entry){ .memfd = -1, .next_free = NO_FREE };
	/* Fresh refs join the free list in ascending order (reserved ones
	 * never do: they are given out only by number). */
	for (uint32_t i = nr; i-- > BH_MAX(gt->nr, (uint32_t)BH_GNTTAB_NR_RESERVED);) {
		e[i].next_free = gt->free_head;
		gt->free_head = i;
	}
	gt->e = e;
	gt->nr = nr;
	return 0;
}

/* Pick the ref for a new grant: a reserved number on request, else the
 * lowest free one. */
static int gt_take_ref(struct grant_table *gt, int32_t hint, uint32_t *ref_out)
{
	int rc;

	if (hint >= 0) {
		if (hint >= BH_GNTTAB_NR_RESERVED)
			return -EINVAL;
		if (gt->nr == 0 && (rc = gt_grow(gt, BH_GNTTAB_NR_RESERVED)) < 0)
			return rc;
		if (gt->e[hint].memfd >= 0)
			return -EEXIST;
		*ref_out = (uint32_t)hint;
		return 0;
	}
	if (gt->used >= gt->max)
		return -ENOSPC;
	if (gt->free_head == NO_FREE && (rc = gt_grow(gt, gt->nr + 1)) < 0)
		return rc;
	*ref_out = gt->free_head;
	gt->free_head = gt->e[*ref_out].next_free;
	gt->used++;
	return 0;
}

static void gt_free_ref(struct grant_table *gt, uint32_t ref)
{
	struct grant_entry *e = &gt->e[ref];

	bh_closep(&e->memfd);
	e->map_count = 0;
	e->end_deferred = false;
	if (ref < BH_GNTTAB_NR_RESERVED)
		return;
	e->next_free = gt->free_head;
	gt->free_head = ref;
	gt->used--;
}

int grant_alloc(struct domain *d, uint16_t grantee, bool writable, int16_t ref_hint,
                uint32_t *ref_out, int *fd_out)
{
	struct grant_table *gt = &d->gt;
	uint32_t ref;
	int fd, rc;

	if ((rc = gt_take_ref(gt, ref_hint, &ref)) < 0)
		return rc;
	fd = new_page();
	if (fd < 0 || (fd_out && (*fd_out = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)) {
		rc = fd < 0 ? fd : -errno;
		if (fd >= 0)
			close(fd);
		gt->e[ref].memfd = -1;
		if (ref >= BH_GNTTAB_NR_RESERVED) {
			gt->e[ref].next_free = gt->free_head;
			gt->free_head = ref;
			gt->used--;
		}
		return rc;
	}
	gt->e[ref] = (struct grant_entry){
		.memfd = fd, .grantee = grantee, .writable = writable, .next_free = NO_FREE
	};
	*ref_out = ref;
	return 0;
}

static struct grant_entry *gt_lookup(struct grant_table *gt, uint32_t ref)
{
	if (ref >= gt->nr || gt->e[ref].memfd < 0)
		return NULL;
	return &gt->e[ref];
}

int grant_end(struct domain *d, uint32_t ref, bool defer)
{
	struct grant_entry *e = gt_lookup(&d->gt, ref);

	if (!e)
		return -ENOENT;
	if (e->map_count > 0) {
		if (!defer)
			return -EBUSY;
		e->end_deferred = true;
		return 0;
	}
	gt_free_ref(&d->gt, ref);
	return 0;
}

int grant_page_fd(struct domain *d, uint32_t ref)
{
	struct grant_entry *e = gt_lookup(&d->gt, ref);

	return e ? e->memfd : -ENOENT;
}

static int mt_take(struct maptrack *mt, uint32_t *handle_out)
{
	uint32_t nr;
	struct maptrack_entry *e;

	if (mt->used >= mt->max)
		return -ENOSPC;
	if (mt->free_head == NO_FREE) {
		nr = mt->nr ? mt->nr * 2 : 64;
		e = realloc(mt->e, nr * sizeof(*e));
		if (!e)
			return -ENOMEM;
		for (uint32_t i = nr; i-- > mt->nr;) {
			e[i] = (struct maptrack_entry){ .granter = BH_DOMID_INVALID,
				                        .next_free = mt->free_head };
			mt->free_head = i;
		}
		mt->e = e;
		mt->nr = nr;
	}
	*handle_out = mt->free_head;
	mt->free_head = mt->e[*handle_out].next_free;
	mt->used++;
	return 0;
}

static int16_t map_checks(struct domain *mapper, struct domain *granter, uint32_t ref,
                          bool readonly, struct grant_entry **out)
{
	struct grant_entry *e;

	if (!granter || granter->state == BH_DOMSTATE_SHUTDOWN)
		return BH_GNTST_BAD_DOMAIN;
	e = gt_lookup(&granter->gt, ref);
	if (!e || e->end_deferred)
		return BH_GNTST_BAD_GNTREF;
	if (e->grantee != mapper->domid)
		return BH_GNTST_PERMISSION_DENIED;
	if (!readonly && !e->writable)
		return BH_GNTST_PERMISSION_DENIED;
	*out = e;
	return BH_GNTST_OKAY;
}

/* A descriptor of the page no wider than the mapping asked for. */
static int page_fd_for(const struct grant_entry *e, bool readonly)
{
	char path[64];
	int fd;

	if (!readonly)
		fd = fcntl(e->memfd, F_DUPFD_CLOEXEC, 0);
	else {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", e->memfd);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	return fd < 0 ? -errno : fd;
}

int16_t grant_map(struct domain *mapper, uint16_t granter_id, uint32_t ref, bool readonly,
                  uint32_t *handle_out, int *fd_out)
{
	struct domain *granter = domain_get(mapper->core, granter_id);
	struct grant_entry *e = NULL;
	uint32_t handle;
	int16_t st;
	int fd;

	st = map_checks(mapper, granter, ref, readonly, &e);
	if (st != BH_GNTST_OKAY)
		return st;
	fd = page_fd_for(e, readonly);
	if (fd < 0)
		return BH_GNTST_GENERAL_ERROR;
	if (mt_take(&mapper->mt, &handle) < 0) {
		close(fd);
		return BH_GNTST_NO_SPACE;
	}
	mapper->mt.e[handle] = (struct maptrack_entry){ .granter = granter_id,
		                                        .granter_inc = granter->incarnation,
		                                        .ref = ref,
		                                        .next_free = NO_FREE };
	e->map_count++;
	*handle_out = handle;
	*fd_out = fd;
	return BH_GNTST_OKAY;
}

/* Drop one mapping's hold on the granter's entry, if the granter is still
 * the incarnation that was mapped (a reused domid or a restarted
 * domain is a different incarnation). */
static void release_hold(struct core *c, const struct maptrack_entry *m)
{
	struct domain *g = domain_get(c, m->granter);
	struct grant_entry *e;

	if (!g || g->incarnation != m->granter_inc || g->state == BH_DOMSTATE_SHUTDOWN)
		return;
	e = gt_lookup(&g->gt, m->ref);
	if (!e || e->map_count == 0)
		return;
	if (--e->map_count == 0 && e->end_deferred)
		gt_free_ref(&g->gt, m->ref);
}

int16_t grant_unmap(struct domain *mapper, uint32_t handle)
{
	struct maptrack *mt = &mapper->mt;
	struct maptrack_entry *m;

	if (handle >= mt->nr || mt->e[handle].granter == BH_DOMID_INVALID)
		return BH_GNTST_BAD_HANDLE;
	m = &mt->e[handle];
	release_hold(mapper->core, m);
	m->granter = BH_DOMID_INVALID;
	m->next_free = mt->free_head;
	mt->free_head = handle;
	mt->used--;
	return BH_GNTST_OKAY;
}

void grant_table_dispose(struct core *c, struct domain *d)
{
	struct grant_table *gt = &d->gt;

	(void)c;
	for (uint32_t i = 0; i < gt->nr; i++)
		bh_closep(&gt->e[i].memfd);
	free(gt->e);
	grant_table_init(gt, gt->max);
}

void maptrack_dispose(struct core *c, struct domain *d)
{
	struct maptrack *mt = &d->mt;

	for (uint32_t h = 0; h < mt->nr; h++)
		if (mt->e[h].granter != BH_DOMID_INVALID)
			release_hold(c, &mt->e[h]);
	free(mt->e);
	maptrack_init(mt, mt->max);
}
