/* An in-process grant table for tests and benchmarks: the pages of one
 * granting domain (a frontend) are pages of a memfd; a grant names a page,
 * the domain it is granted to and whether it is writable. The backend side
 * maps grants through bh_lgnt_back_ops (the same contract as the real
 * gntdev ops: all or nothing, never wider than the grant), the frontend
 * side allocates through bh_lgnt_front_ops. The same code paths run as over
 * /dev/xen, without a core. Thread-safe.
 *
 * Tests can change a grant (read-only, revoked), count live mappings and
 * make the Nth map call from now fail, to check what a backend does when a
 * batch map fails part-way. */
#ifndef BH_LOCALGNT_H
#define BH_LOCALGNT_H

#include <stdbool.h>
#include <stdint.h>

#include "blkback/blkback.h"
#include "blkfront/blkfront.h"

struct bh_lgnt;

int bh_lgnt_create(uint16_t owner, uint32_t max_pages, struct bh_lgnt **out);
void bh_lgnt_destroy(struct bh_lgnt *t);

/* n fresh pages, mapped read-write at *addr_out for the owner, each
 * granted to domid; refs_out[i] names page i. */
int bh_lgnt_alloc(struct bh_lgnt *t, uint16_t domid, uint32_t n, bool writable, uint32_t *refs_out,
                  void **addr_out);
/* End the grants and unmap the owner's view. */
void bh_lgnt_free(struct bh_lgnt *t, const uint32_t *refs, uint32_t n, void *addr);
int bh_lgnt_set_writable(struct bh_lgnt *t, uint32_t ref, bool writable);
int bh_lgnt_revoke(struct bh_lgnt *t, uint32_t ref);

/* Pages the grantee has mapped now. */
uint32_t bh_lgnt_live_maps(struct bh_lgnt *t);
/* Map calls so far. */
uint64_t bh_lgnt_map_calls(struct bh_lgnt *t);
/* Make the nth map call from now (1 = the next) fail; 0 turns it off. */
void bh_lgnt_fail_map_after(struct bh_lgnt *t, uint32_t nth);

extern const struct blkback_gnt_ops bh_lgnt_back_ops;   /* priv: struct bh_lgnt */
extern const struct blkfront_gnt_ops bh_lgnt_front_ops; /* priv: struct bh_lgnt */

/* An in-process event channel: two eventfds, one per direction. */
struct bh_levt {
	int to_back, to_front;
};
int bh_levt_init(struct bh_levt *e);
void bh_levt_dispose(struct bh_levt *e);
void bh_levt_back_ack(void *e);
void bh_levt_back_notify(void *e); /* kicks the frontend */
void bh_levt_front_ack(void *e);
void bh_levt_front_notify(void *e); /* kicks the backend */

#endif
