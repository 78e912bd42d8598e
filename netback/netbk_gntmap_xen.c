/* netbk_gntmap_ops over /dev/xen/gntdev and /dev/xen/evtchn. */
#include "netback/netbk_gntmap_xen.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

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

void netbk_gntmap_xen_close(struct netbk_xen *x)
{
	if (x->gntdev >= 0)
		xen_close(x->gntdev);
	if (x->evtchn >= 0)
		xen_close(x->evtchn);
	x->gntdev = x->evtchn = -1;
}

static void *xm_map_ring(void *ctx, uint16_t domid, uint32_t ref)
{
	struct netbk_xen *x = ctx;
	struct ioctl_gntdev_map_grant_ref m = { .count = 1 };
	struct ioctl_gntdev_unmap_grant_ref u = { .count = 1 };
	unsigned slot;
	void *p;

	for (slot = 0; slot < NETBK_XEN_MAX_MAPS && x->maps[slot].addr; slot++)
		;
	if (slot == NETBK_XEN_MAX_MAPS)
		return NULL;
	m.refs[0].domid = domid;
	m.refs[0].ref = ref;
	if (xen_ioctl(x->gntdev, IOCTL_GNTDEV_MAP_GRANT_REF, &m) < 0)
		return NULL;
	p = xen_mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, x->gntdev, (off_t)m.index);
	if (p == MAP_FAILED) {
		u.index = m.index;
		xen_ioctl(x->gntdev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
		return NULL;
	}
	x->maps[slot].addr = p;
	x->maps[slot].index = m.index;
	return p;
}

static void xm_unmap_ring(void *ctx, void *page)
{
	struct netbk_xen *x = ctx;

	for (unsigned i = 0; i < NETBK_XEN_MAX_MAPS; i++) {
		if (x->maps[i].addr != page)
			continue;
		struct ioctl_gntdev_unmap_grant_ref u = { .index = x->maps[i].index, .count = 1 };

		xen_munmap(page, 4096);
		xen_ioctl(x->gntdev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
		x->maps[i].addr = NULL;
		return;
	}
}

static int xm_copy(void *ctx, uint16_t domid, bool to_grant, struct netbk_gntcopy_seg *segs,
                   unsigned n)
{
	struct netbk_xen *x = ctx;
	struct gntdev_grant_copy_segment g[XEN_NETBK_LEGACY_SLOTS_MAX];
	struct ioctl_gntdev_grant_copy op = { .segments = g };

	while (n) {
		unsigned k = n < XEN_NETBK_LEGACY_SLOTS_MAX ? n : XEN_NETBK_LEGACY_SLOTS_MAX;

		memset(g, 0, sizeof(g));
		for (unsigned i = 0; i < k; i++) {
			struct netbk_gntcopy_seg *s = &segs[i];

			if (to_grant) {
				g[i].source.virt = s->local;
				g[i].dest.foreign.ref = s->ref;
				g[i].dest.foreign.offset = s->offset;
				g[i].dest.foreign.domid = domid;
				g[i].flags = GNTCOPY_dest_gref;
			} else {
				g[i].source.foreign.ref = s->ref;
				g[i].source.foreign.offset = s->offset;
				g[i].source.foreign.domid = domid;
				g[i].dest.virt = s->local;
				g[i].flags = GNTCOPY_source_gref;
			}
			g[i].len = s->len;
		}
		op.count = k;
		if (xen_ioctl(x->gntdev, IOCTL_GNTDEV_GRANT_COPY, &op) < 0)
			return -errno;
		for (unsigned i = 0; i < k; i++)
			segs[i].status = g[i].status;
		segs += k;
		n -= k;
	}
	return 0;
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
		                          .copy = xm_copy,
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
