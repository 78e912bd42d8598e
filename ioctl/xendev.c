/* The /dev/xen emulation's front door: which device a descriptor is, and
 * the process's hypercall client. The devices themselves are in
 * evtchn_dev.c, gntdev_dev.c, gntalloc_dev.c and privcmd_dev.c. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/util.h"
#include "ioctl/xendev_priv.h"

#define MAX_XDEV_FDS 65536

/* The device table is process-wide, as the kernel's file table is. */
static struct {
	pthread_mutex_t lock;
	struct bh_hc_client cl;
	bool cl_open;
	struct xdev **by_fd;
	size_t cap;
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct bh_hc_client *xen_hcall(void)
{
	struct bh_hc_client *cl = NULL;

	pthread_mutex_lock(&g.lock);
	if (!g.cl_open && bh_hc_open_domain(&g.cl) == 0)
		g.cl_open = true;
	if (g.cl_open)
		cl = &g.cl;
	pthread_mutex_unlock(&g.lock);
	return cl;
}

static const struct {
	const char *path;
	enum xdev_kind kind;
	const struct xdev_ops *ops;
} devices[] = {
	{ "/dev/xen/evtchn", XDEV_EVTCHN, &xdev_evtchn_ops },
	{ "/dev/xen/gntdev", XDEV_GNTDEV, &xdev_gntdev_ops },
	{ "/dev/xen/gntalloc", XDEV_GNTALLOC, &xdev_gntalloc_ops },
	{ "/dev/xen/privcmd", XDEV_PRIVCMD, &xdev_privcmd_ops },
	{ "/proc/xen/privcmd", XDEV_PRIVCMD, &xdev_privcmd_ops },
};

static int table_put(struct xdev *x)
{
	if ((size_t)x->fd >= MAX_XDEV_FDS)
		return -EMFILE;
	pthread_mutex_lock(&g.lock);
	if ((size_t)x->fd >= g.cap) {
		size_t cap = g.cap ? g.cap : 64;
		while (cap <= (size_t)x->fd)
			cap *= 2;
		struct xdev **t = realloc(g.by_fd, cap * sizeof(*t));
		if (!t) {
			pthread_mutex_unlock(&g.lock);
			return -ENOMEM;
		}
		memset(t + g.cap, 0, (cap - g.cap) * sizeof(*t));
		g.by_fd = t;
		g.cap = cap;
	}
	g.by_fd[x->fd] = x;
	pthread_mutex_unlock(&g.lock);
	return 0;
}

static struct xdev *table_get(int fd)
{
	struct xdev *x = NULL;

	pthread_mutex_lock(&g.lock);
	if (fd >= 0 && (size_t)fd < g.cap)
		x = g.by_fd[fd];
	pthread_mutex_unlock(&g.lock);
	return x;
}

int xen_open(const char *path, int flags)
{
	struct xdev *x;
	int rc;

	for (size_t i = 0; i < BH_ARRAY_SIZE(devices); i++) {
		if (strcmp(path, devices[i].path) != 0)
			continue;
		if (!xen_hcall())
			return xdev_fail(-ENODEV); /* not in a Bulkhead domain */
		x = calloc(1, sizeof(*x));
		if (!x)
			return xdev_fail(-ENOMEM);
		x->kind = devices[i].kind;
		x->ops = devices[i].ops;
		x->nonblock = flags & O_NONBLOCK;
		x->fd = -1;
		if ((rc = x->ops->open(x, flags)) < 0 || (rc = table_put(x)) < 0) {
			if (x->fd >= 0)
				x->ops->close(x);
			free(x);
			return xdev_fail(rc);
		}
		return x->fd;
	}
	return xdev_fail(-ENOENT);
}

int xen_close(int fd)
{
	struct xdev *x = table_get(fd);

	if (!x)
		return close(fd);
	pthread_mutex_lock(&g.lock);
	g.by_fd[fd] = NULL;
	pthread_mutex_unlock(&g.lock);
	x->ops->close(x);
	free(x);
	return 0;
}

int xen_ioctl(int fd, unsigned long request, void *arg)
{
	struct xdev *x = table_get(fd);

	if (!x)
		return xdev_fail(-EBADF);
	int rc = x->ops->ioctl(x, request, arg);
	return rc < 0 ? xdev_fail(rc) : rc;
}

ssize_t xen_read(int fd, void *buf, size_t n)
{
	struct xdev *x = table_get(fd);

	if (!x || !x->ops->read)
		return xdev_fail(x ? -EINVAL : -EBADF);
	ssize_t r = x->ops->read(x, buf, n);
	return r < 0 ? xdev_fail((int)r) : r;
}

ssize_t xen_write(int fd, const void *buf, size_t n)
{
	struct xdev *x = table_get(fd);

	if (!x || !x->ops->write)
		return xdev_fail(x ? -EINVAL : -EBADF);
	ssize_t r = x->ops->write(x, buf, n);
	return r < 0 ? xdev_fail((int)r) : r;
}

void *xen_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
	struct xdev *x = table_get(fd);

	if (!x || !x->ops->mmap) {
		xdev_fail(x ? -ENODEV : -EBADF);
		return MAP_FAILED;
	}
	return x->ops->mmap(x, addr, len, prot, flags, offset);
}

int xen_munmap(void *addr, size_t len)
{
	pthread_mutex_lock(&g.lock);
	size_t cap = g.cap;
	pthread_mutex_unlock(&g.lock);
	for (size_t fd = 0; fd < cap; fd++) {
		struct xdev *x = table_get((int)fd);
		if (!x || !x->ops->munmap)
			continue;
		int rc = x->ops->munmap(x, addr, len);
		if (rc != 0)
			return rc < 0 ? xdev_fail(rc) : 0;
	}
	return munmap(addr, len);
}

void *xdev_map_pages(void *hint, const int *fds, size_t n, int prot, int fixed_flags)
{
	size_t len = n * BH_PAGE_SIZE;
	char *base = mmap(hint, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | fixed_flags, -1, 0);

	if (base == MAP_FAILED)
		return MAP_FAILED;
	/* Populated now: a mapping is made to be used, and a first touch
	 * later is a page fault each (~10 us on a paravirtualized host, where
	 * an exception is a round trip through the hypervisor; a restarted
	 * netback touched ~70 new pages so). */
	for (size_t i = 0; i < n; i++) {
		if (mmap(base + i * BH_PAGE_SIZE, BH_PAGE_SIZE, prot,
		         MAP_SHARED | MAP_FIXED | MAP_POPULATE, fds[i], 0) == MAP_FAILED) {
			int e = errno;
			munmap(base, len);
			errno = e;
			return MAP_FAILED;
		}
	}
	return base;
}
