/* The engine's grant mapping and event channel over the /dev/xen ABI
 * (ioctl/xendev.h), as in a driver domain: MAP_GRANT_REF reserves an index
 * for the refs, mmap() maps them (the core checks each grant, all or
 * nothing), munmap() and UNMAP_GRANT_REF give them back. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "blkback/blkback.h"
#include "common/util.h"
#include "ioctl/xendev.h"

struct gd_cookie {
	uint64_t index;
	uint32_t n;
};

static int gntdev_fd(void)
{
	/* One gntdev descriptor per process, opened on first use. */
	static int fd = -1;

	if (fd < 0)
		fd = xen_open("/dev/xen/gntdev", O_CLOEXEC);
	return fd;
}

static int gd_map(void *priv, uint16_t domid, const uint32_t *refs, uint32_t n, bool writable,
                  void **addr_out, void **cookie_out)
{
	int fd = gntdev_fd();
	struct ioctl_gntdev_map_grant_ref *m;
	struct gd_cookie *c;
	void *p;
	int rc;

	(void)priv;
	if (fd < 0)
		return -errno;
	m = calloc(1, sizeof(*m) + n * sizeof(m->refs[0]));
	c = malloc(sizeof(*c));
	if (!m || !c) {
		free(m);
		free(c);
		return -ENOMEM;
	}
	m->count = n;
	for (uint32_t i = 0; i < n; i++) {
		m->refs[i].domid = domid;
		m->refs[i].ref = refs[i];
	}
	if (xen_ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, m) < 0) {
		rc = -errno;
		goto fail;
	}
	c->index = m->index;
	c->n = n;
	p = xen_mmap(NULL, (size_t)n * BH_PAGE_SIZE, PROT_READ | (writable ? PROT_WRITE : 0),
	             MAP_SHARED, fd, (off_t)m->index);
	if (p == MAP_FAILED) {
		rc = -errno;
		struct ioctl_gntdev_unmap_grant_ref u = { .index = m->index, .count = n };
		xen_ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
		goto fail;
	}
	free(m);
	*addr_out = p;
	*cookie_out = c;
	return 0;
fail:
	free(m);
	free(c);
	return rc;
}

static void gd_unmap(void *priv, void *cookie, void *addr, uint32_t n)
{
	struct gd_cookie *c = cookie;
	struct ioctl_gntdev_unmap_grant_ref u = { .index = c->index, .count = c->n };

	(void)priv;
	xen_munmap(addr, (size_t)n * BH_PAGE_SIZE);
	xen_ioctl(gntdev_fd(), IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
	free(c);
}

const struct blkback_gnt_ops blkback_gntdev_ops = { .map = gd_map, .unmap = gd_unmap };

struct blkback_evtchn {
	int fd;
	uint32_t port;
};

int blkback_evtchn_bind(uint16_t domid, uint32_t remote_port, struct blkback_evtchn **out)
{
	struct blkback_evtchn *e = calloc(1, sizeof(*e));
	struct ioctl_evtchn_bind_interdomain b = { .remote_domain = domid,
		                                   .remote_port = remote_port };
	int port;

	if (!e)
		return -ENOMEM;
	e->fd = xen_open("/dev/xen/evtchn", O_NONBLOCK | O_CLOEXEC);
	if (e->fd < 0 || (port = xen_ioctl(e->fd, IOCTL_EVTCHN_BIND_INTERDOMAIN, &b)) < 0) {
		int rc = -errno;
		if (e->fd >= 0)
			xen_close(e->fd);
		free(e);
		return rc;
	}
	e->port = (uint32_t)port;
	*out = e;
	return 0;
}

void blkback_evtchn_close(struct blkback_evtchn *e)
{
	if (e) {
		xen_close(e->fd);
		free(e);
	}
}

int blkback_evtchn_fd(const struct blkback_evtchn *e)
{
	return e->fd;
}

/* Read the fired ports and unmask them (Linux evtchn semantics). */
void blkback_evtchn_ack(void *arg)
{
	struct blkback_evtchn *e = arg;
	uint32_t ports[16];
	ssize_t n;

	while ((n = xen_read(e->fd, ports, sizeof(ports))) > 0)
		xen_write(e->fd, ports, (size_t)n & ~(size_t)3);
}

void blkback_evtchn_notify(void *arg)
{
	struct blkback_evtchn *e = arg;
	struct ioctl_evtchn_notify nt = { .port = e->port };

	xen_ioctl(e->fd, IOCTL_EVTCHN_NOTIFY, &nt);
}
