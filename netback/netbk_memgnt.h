/* An in-process grant table and event channels, for unit tests and for
 * running a netfront and a netback in one process (the real-TAP test and
 * the benchmark). It keeps Xen's rules that matter to a backend: a grant
 * names one page, one peer domain and read-only or read-write; a copy
 * outside the page, to a read-only grant, from another domain, or through
 * an unknown reference fails with a GNTST_* status.
 *
 * Event channels are pairs of ends; notifying one end makes the other
 * end's eventfd readable. Thread-safe. */
#ifndef BH_NETBK_MEMGNT_H
#define BH_NETBK_MEMGNT_H

#include <stdbool.h>
#include <stdint.h>

#include "netback/netback.h"

#define MEMGNT_MAX_REFS  8192
#define MEMGNT_MAX_PORTS 256

struct memgnt;

int memgnt_create(struct memgnt **out);
void memgnt_destroy(struct memgnt *m);

/* Allocate `count` zeroed pages (contiguous) granted by `owner` to `peer`;
 * refs_out[i] is page i's reference. Returns the pages or NULL. */
void *memgnt_alloc(struct memgnt *m, uint16_t owner, uint16_t peer, unsigned count, bool writable,
                   uint32_t *refs_out);
/* End the grants and free the pages of one memgnt_alloc. */
void memgnt_free(struct memgnt *m, void *pages, const uint32_t *refs, unsigned count);

/* A new interdomain channel; *a and *b are its two ends. */
int memgnt_evtchn_pair(struct memgnt *m, uint32_t *a, uint32_t *b);
int memgnt_notify(struct memgnt *m, uint32_t port); /* signals the peer end */
int memgnt_port_fd(struct memgnt *m, uint32_t port);
void memgnt_port_ack(struct memgnt *m, uint32_t port);

/* netback's view: acting as domain `backend` (copies check the grant's
 * peer). The ops' ctx is a struct memgnt_view the caller keeps alive. */
struct memgnt_view {
	struct memgnt *m;
	uint16_t self;
};
void memgnt_netbk_ops(struct memgnt_view *view, struct netbk_gntmap_ops *out);

/* Counters for tests. */
uint64_t memgnt_copy_failures(struct memgnt *m);

#endif
