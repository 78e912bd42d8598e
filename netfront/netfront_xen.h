/* netfront_ops over the /dev/xen devices of the ioctl/ layer: buffers and
 * rings from gntalloc (ALLOC_GREF + mmap), event channels from
 * /dev/xen/evtchn. What the PV kernel's eth0 runs on. */
#ifndef BH_NETFRONT_XEN_H
#define BH_NETFRONT_XEN_H

#include <stdint.h>

#include "netfront/netfront.h"

#define NETFRONT_XEN_MAX_ALLOCS 16

struct netfront_xen {
	int gntalloc, evtchn;
	struct {
		void *addr;
		uint64_t index;
		unsigned count;
	} allocs[NETFRONT_XEN_MAX_ALLOCS];
};

int netfront_xen_open(struct netfront_xen *x);
void netfront_xen_close(struct netfront_xen *x);
void netfront_xen_ops(struct netfront_xen *x, struct netfront_ops *out);
/* A fresh unbound port for the backend to bind to (event-channel key). */
int netfront_xen_unbound_port(struct netfront_xen *x, uint16_t backend, uint32_t *out);

#endif
