/* The real consoled_ops: the console page through /dev/xen/gntdev and the
 * port through /dev/xen/evtchn (ioctl/, the Linux ABI), as xenconsoled
 * does with libxengnttab and libxenevtchn. One gntdev descriptor for the
 * daemon; one evtchn descriptor per console, so each console is its own
 * libevent event. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bulkhead/hypercall.h"
#include "common/util.h"
#include "consoled/consoled_priv.h"
#include "ioctl/xendev.h"

struct xmap {
	void *page;
	uint64_t index; /* gntdev offset, for UNMAP_GRANT_REF */
	struct xmap *next;
};

struct xen_ctx {
	int gntdev; /* -1 until the first map */
	struct xmap *maps;
};

static int x_map(void *arg, uint16_t domid, void **page_out)
{
	struct xen_ctx *x = arg;
	struct ioctl_gntdev_map_grant_ref m = { .count = 1 };
	struct ioctl_gntdev_unmap_grant_ref u = { .count = 1 };
	struct xmap *xm;
	void *p;

	if (x->gntdev < 0 && (x->gntdev = xen_open("/dev/xen/gntdev", O_RDWR)) < 0)
		return -errno;
	if (!(xm = calloc(1, sizeof(*xm))))
		return -ENOMEM;
	m.refs[0].domid = domid;
	m.refs[0].ref = BH_GNTTAB_CONSOLE_REF;
	if (xen_ioctl(x->gntdev, IOCTL_GNTDEV_MAP_GRANT_REF, &m) < 0) {
		int rc = -errno;
		free(xm);
		return rc;
	}
	p = xen_mmap(NULL, BH_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, x->gntdev,
	             (off_t)m.index);
	if (p == MAP_FAILED) {
		int rc = -errno;
		u.index = m.index;
		xen_ioctl(x->gntdev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
		free(xm);
		return rc;
	}
	xm->page = p;
	xm->index = m.index;
	xm->next = x->maps;
	x->maps = xm;
	*page_out = p;
	return 0;
}

static void x_unmap(void *arg, uint16_t domid, void *page)
{
	struct xen_ctx *x = arg;
	struct xmap **pp, *xm;

	(void)domid;
	for (pp = &x->maps; *pp && (*pp)->page != page; pp = &(*pp)->next)
		;
	if (!(xm = *pp))
		return;
	*pp = xm->next;
	struct ioctl_gntdev_unmap_grant_ref u = { .index = xm->index, .count = 1 };
	xen_munmap(page, BH_PAGE_SIZE);
	xen_ioctl(x->gntdev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
	free(xm);
}

static int x_bind(void *arg, uint16_t domid, uint32_t remote_port, uint32_t *local_out, int *fd_out)
{
	struct ioctl_evtchn_bind_interdomain b = { .remote_domain = domid,
		                                   .remote_port = remote_port };
	int fd = xen_open("/dev/xen/evtchn", O_RDWR | O_NONBLOCK);
	int port;

	(void)arg;
	if (fd < 0)
		return -errno;
	if ((port = xen_ioctl(fd, IOCTL_EVTCHN_BIND_INTERDOMAIN, &b)) < 0) {
		int rc = -errno;
		xen_close(fd);
		return rc;
	}
	*local_out = (uint32_t)port;
	*fd_out = fd;
	return 0;
}

/* Read the fired ports (masking them) and unmask them again: we serve the
 * ring right after, so a kick that comes meanwhile is not lost. */
static void x_ack(void *arg, uint32_t local, int fd)
{
	uint32_t ports[16];
	ssize_t n;

	(void)arg;
	(void)local;
	while ((n = xen_read(fd, ports, sizeof(ports))) > 0)
		xen_write(fd, ports, (size_t)n);
}

static int x_notify(void *arg, uint32_t local, int fd)
{
	struct ioctl_evtchn_notify nt = { .port = local };

	(void)arg;
	return xen_ioctl(fd, IOCTL_EVTCHN_NOTIFY, &nt) < 0 ? -errno : 0;
}

static void x_unbind(void *arg, uint32_t local, int fd)
{
	struct ioctl_evtchn_unbind ub = { .port = local };

	(void)arg;
	xen_ioctl(fd, IOCTL_EVTCHN_UNBIND, &ub);
	xen_close(fd);
}

int cons_xen_new(struct consoled_ops *ops_out)
{
	struct xen_ctx *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	x->gntdev = -1;
	*ops_out = (struct consoled_ops){ .map_ring = x_map,
		                          .unmap_ring = x_unmap,
		                          .bind = x_bind,
		                          .ack = x_ack,
		                          .notify = x_notify,
		                          .unbind = x_unbind,
		                          .arg = x };
	return 0;
}

void cons_xen_free(struct consoled_ops *ops)
{
	struct xen_ctx *x = ops->arg;

	if (!x)
		return;
	while (x->maps)
		x_unmap(x, 0, x->maps->page);
	if (x->gntdev >= 0)
		xen_close(x->gntdev);
	free(x);
	ops->arg = NULL;
}
