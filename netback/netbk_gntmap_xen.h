/* netbk_gntmap_ops over the /dev/xen devices of the ioctl/ layer: rings
 * mapped with gntdev MAP_GRANT_REF + mmap, packet data moved with gntdev
 * GRANT_COPY, event channels through /dev/xen/evtchn (one descriptor for
 * all ports, so port_fd is the same for each and port_ack drains and
 * unmasks whatever fired). This is what netback runs on in a driver
 * domain. */
#ifndef BH_NETBK_GNTMAP_XEN_H
#define BH_NETBK_GNTMAP_XEN_H

#include <stdint.h>

#include "netback/netback.h"

#define NETBK_XEN_MAX_MAPS 64

struct netbk_xen {
	int gntdev, evtchn;
	struct {
		void *addr;
		uint64_t index;
	} maps[NETBK_XEN_MAX_MAPS];
};

/* Open the devices; 0 or a negative errno. */
int netbk_gntmap_xen_open(struct netbk_xen *x);
void netbk_gntmap_xen_close(struct netbk_xen *x);
void netbk_gntmap_xen_ops(struct netbk_xen *x, struct netbk_gntmap_ops *out);
/* Bind to the frontend's unbound port; our local port in *out. */
int netbk_gntmap_xen_bind(struct netbk_xen *x, uint16_t domid, uint32_t remote_port, uint32_t *out);

#endif
