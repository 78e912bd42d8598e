/* The frontend's grants over /dev/xen/gntalloc (ioctl/xendev.h), as in a
 * PV guest: ALLOC_GREF allocates and grants the pages, mmap(offset = index)
 * maps them, DEALLOC_GREF ends the grants (deferred by the core while the
 * backend still maps a page). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "blkfront/blkfront.h"
#include "common/util.h"
#include "ioctl/xendev.h"

struct ga_cookie {
	uint64_t index;
	uint32_t n;
};

static int gntalloc_fd(void)
{
	/* One gntalloc descriptor per process, opened on first use. */
	static int fd = -1;

	if (fd < 0)
		fd = xen_open("/dev/xen/gntalloc", O_CLOEXEC);
	return fd;
}

static int ga_alloc(void *priv, uint16_t domid, uint32_t n, bool writable, uint32_t *refs_out,
                    void **addr_out, void **cookie_out)
{
	int fd = gntalloc_fd(), rc;
	struct ioctl_gntalloc_alloc_gref *a;
	struct ga_cookie *c;
	void *p;

	(void)priv;
	if (fd < 0)
		return -errno;
	a = calloc(1, sizeof(*a) + n * sizeof(uint32_t));
	c = malloc(sizeof(*c));
	if (!a || !c) {
		free(a);
		free(c);
		return -ENOMEM;
	}
	a->domid = domid;
	a->flags = writable ? GNTALLOC_FLAG_WRITABLE : 0;
	a->count = n;
	if (xen_ioctl(fd, IOCTL_GNTALLOC_ALLOC_GREF, a) < 0) {
		rc = -errno;
		goto fail;
	}
	c->index = a->index;
	c->n = n;
	p = xen_mmap(NULL, (size_t)n * BH_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	             (off_t)a->index);
	if (p == MAP_FAILED) {
		struct ioctl_gntalloc_dealloc_gref d = { .index = a->index, .count = n };
		rc = -errno;
		xen_ioctl(fd, IOCTL_GNTALLOC_DEALLOC_GREF, &d);
		goto fail;
	}
	memcpy(refs_out, a->gref_ids, n * sizeof(uint32_t));
	free(a);
	*addr_out = p;
	*cookie_out = c;
	return 0;
fail:
	free(a);
	free(c);
	return rc;
}

static void ga_free(void *priv, void *cookie, const uint32_t *refs, uint32_t n, void *addr)
{
	struct ga_cookie *c = cookie;
	struct ioctl_gntalloc_dealloc_gref d = { .index = c->index, .count = c->n };

	(void)priv;
	(void)refs;
	xen_munmap(addr, (size_t)n * BH_PAGE_SIZE);
	xen_ioctl(gntalloc_fd(), IOCTL_GNTALLOC_DEALLOC_GREF, &d);
	free(c);
}

const struct blkfront_gnt_ops blkfront_gntalloc_ops = { .alloc = ga_alloc, .free = ga_free };
