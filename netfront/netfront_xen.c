/* netfront_ops over /dev/xen/gntalloc and /dev/xen/evtchn. */
#include "netfront/netfront_xen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ioctl/xendev.h"

int netfront_xen_open(struct netfront_xen *x)
{
	memset(x, 0, sizeof(*x));
	x->gntalloc = xen_open("/dev/xen/gntalloc", O_RDWR);
	x->evtchn = xen_open("/dev/xen/evtchn", O_RDWR | O_NONBLOCK);
	if (x->gntalloc < 0 || x->evtchn < 0) {
		int rc = -errno;

		netfront_xen_close(x);
		return rc;
	}
	return 0;
}

void netfront_xen_close(struct netfront_xen *x)
{
	if (x->gntalloc >= 0)
		xen_close(x->gntalloc);
	if (x->evtchn >= 0)
		xen_close(x->evtchn);
	x->gntalloc = x->evtchn = -1;
}

static void *xf_alloc(void *ctx, uint16_t backend, unsigned count, bool writable, uint32_t *refs)
{
	struct netfront_xen *x = ctx;
	struct ioctl_gntalloc_alloc_gref *a;
	unsigned slot;
	void *p = NULL;

	for (slot = 0; slot < NETFRONT_XEN_MAX_ALLOCS && x->allocs[slot].addr; slot++)
		;
	if (slot == NETFRONT_XEN_MAX_ALLOCS ||
	    !(a = calloc(1, sizeof(*a) + count * sizeof(a->gref_ids[0]))))
		return NULL;
	a->domid = backend;
	a->flags = writable ? GNTALLOC_FLAG_WRITABLE : 0;
	a->count = count;
	if (xen_ioctl(x->gntalloc, IOCTL_GNTALLOC_ALLOC_GREF, a) < 0)
		goto out;
	p = xen_mmap(NULL, (size_t)count * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, x->gntalloc,
	             (off_t)a->index);
	if (p == MAP_FAILED) {
		struct ioctl_gntalloc_dealloc_gref d = { .index = a->index, .count = count };

		xen_ioctl(x->gntalloc, IOCTL_GNTALLOC_DEALLOC_GREF, &d);
		p = NULL;
		goto out;
	}
	memcpy(refs, a->gref_ids, count * sizeof(*refs));
	x->allocs[slot].addr = p;
	x->allocs[slot].index = a->index;
	x->allocs[slot].count = count;
out:
	free(a);
	return p;
}

static void xf_free(void *ctx, void *pages, const uint32_t *refs, unsigned count)
{
	struct netfront_xen *x = ctx;

	for (unsigned i = 0; i < NETFRONT_XEN_MAX_ALLOCS; i++) {
		if (x->allocs[i].addr != pages)
			continue;
		struct ioctl_gntalloc_dealloc_gref d = { .index = x->allocs[i].index,
			                                 .count = x->allocs[i].count };

		xen_munmap(pages, (size_t)x->allocs[i].count * 4096);
		xen_ioctl(x->gntalloc, IOCTL_GNTALLOC_DEALLOC_GREF, &d);
		x->allocs[i].addr = NULL;
		return;
	}
}

static int xf_notify(void *ctx, uint32_t port)
{
	struct ioctl_evtchn_notify nt = { .port = port };

	return xen_ioctl(((struct netfront_xen *)ctx)->evtchn, IOCTL_EVTCHN_NOTIFY, &nt) < 0
	           ? -errno
	           : 0;
}

static int xf_port_fd(void *ctx, uint32_t port)
{
	return ((struct netfront_xen *)ctx)->evtchn;
}

static void xf_port_ack(void *ctx, uint32_t port)
{
	struct netfront_xen *x = ctx;
	uint32_t fired[64];
	ssize_t n;

	while ((n = xen_read(x->evtchn, fired, sizeof(fired))) > 0)
		xen_write(x->evtchn, fired, (size_t)n & ~(size_t)3);
}

void netfront_xen_ops(struct netfront_xen *x, struct netfront_ops *out)
{
	*out = (struct netfront_ops){ .alloc = xf_alloc,
		                      .free = xf_free,
		                      .notify = xf_notify,
		                      .port_fd = xf_port_fd,
		                      .port_ack = xf_port_ack,
		                      .ctx = x };
}

int netfront_xen_unbound_port(struct netfront_xen *x, uint16_t backend, uint32_t *out)
{
	struct ioctl_evtchn_bind_unbound_port b = { .remote_domain = backend };
	int port = xen_ioctl(x->evtchn, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &b);

	if (port < 0)
		return -errno;
	*out = (uint32_t)port;
	return 0;
}
