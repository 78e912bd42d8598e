/* netbk_gntmap_ops over the /dev/xen devices of the ioctl/ layer: rings
 * mapped with gntdev MAP_GRANT_REF + mmap, packet data copied through
 * data pages that stay mapped once used (a grant copy through gntdev's
 * GRANT_COPY costs two hypercalls and an mmap per 4 KiB page, which capped
 * a driver domain at ~150 Mbit/s), event channels through /dev/xen/evtchn (one descriptor for
 * all ports, so port_fd is the same for each and port_ack drains and
 * unmasks whatever fired). This is what netback runs on in a driver
 * domain. */
#ifndef BH_NETBK_GNTMAP_XEN_H
#define BH_NETBK_GNTMAP_XEN_H

#include <stdint.h>

#include "netback/netback.h"

#define NETBK_XEN_MAX_MAPS 64

/* Data pages stay mapped once copied from or to (netbk_gntmap_xen.c). */
#define NETBK_XEN_PMAP_BUCKETS 1024
#define NETBK_XEN_PMAP_MAX     4096 /* all frontends */
#define NETBK_XEN_PMAP_PER_DOM 1024 /* one frontend (netfront uses 512) */

struct netbk_xen_pmap;

struct netbk_xen_pmap_stats {
	uint64_t hits, maps, unmaps, map_errors;
	uint64_t prefetched, prefetch_calls; /* of maps: made ahead, in that many calls */
	unsigned live;
};

struct netbk_xen {
	int gntdev, evtchn;
	struct {
		void *addr;
		uint64_t index;
		unsigned pages; /* 2: both rings of a vif (xm_map_rings) */
	} maps[NETBK_XEN_MAX_MAPS];
	struct netbk_xen_pmap *pmap[NETBK_XEN_PMAP_BUCKETS];
	unsigned pmap_live, pmap_clock;
	uint16_t *pmap_dom; /* live mappings per frontend domid */
	struct netbk_xen_pmap_stats pst;
};

/* Open the devices; 0 or a negative errno. */
int netbk_gntmap_xen_open(struct netbk_xen *x);
void netbk_gntmap_xen_close(struct netbk_xen *x);
void netbk_gntmap_xen_ops(struct netbk_xen *x, struct netbk_gntmap_ops *out);
/* What the persistent data-page mappings did so far. */
void netbk_gntmap_xen_pmap_stats(const struct netbk_xen *x, struct netbk_xen_pmap_stats *out);
/* Bind to the frontend's unbound port; our local port in *out. */
int netbk_gntmap_xen_bind(struct netbk_xen *x, uint16_t domid, uint32_t remote_port, uint32_t *out);

#endif
