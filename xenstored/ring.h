/* The store's side of domains' ring pages (struct xenstore_domain_interface)
 * behind an ops struct: the daemon maps grants and binds event channels
 * through /dev/xen (ring_xen.c); unit tests hand in-process pages. */
#ifndef BH_XENSTORED_RING_H
#define BH_XENSTORED_RING_H

#include "xenstored/xsd.h"

struct xsd_daemon;
struct xsd_host_ops;

struct xsd_ring_ops {
	/* Map DOMID's store page (grant ref 1; GFN as XS_INTRODUCE gave it). */
	int (*map)(void *arg, unsigned domid, long long gfn, void **page_out);
	void (*unmap)(void *arg, void *page);
	/* Bind DOMID's unbound PORT; the local port is what fires for it. */
	int (*bind)(void *arg, unsigned domid, unsigned port, unsigned *local_out);
	void (*unbind)(void *arg, unsigned local_port);
	void (*notify)(void *arg, unsigned local_port);
	void *arg;
};

/* Every domain introduced to the store. */
struct xsd_rings;

struct xsd_rings *xsd_rings_new(const struct xsd_ring_ops *ops);
/* The store must be set before anything is introduced. */
void xsd_rings_set_store(struct xsd_rings *rs, struct xsd *s);
/* Host ops for xsd_new(): INTRODUCE connects, release disconnects. */
void xsd_rings_fill_host(struct xsd_rings *rs, struct xsd_host_ops *host);
/* LOCAL_PORT fired: serve the domain bound to it. */
void xsd_rings_port_fired(struct xsd_rings *rs, unsigned local_port);
/* Disconnects every domain (call before xsd_free). */
void xsd_rings_free(struct xsd_rings *rs);

/* The daemon's /dev/xen back-end (ring_xen.c). */
void xsd_rings_host_ops(struct xsd_daemon *d, struct xsd_host_ops *host);
int xsd_rings_start(struct xsd_daemon *d);
void xsd_rings_stop(struct xsd_daemon *d);

#endif
