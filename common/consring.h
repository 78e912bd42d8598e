/* Moving bytes through a PV console ring (include/bulkhead/console.h).
 *
 * One function per direction and side. Each reads the peer's index once,
 * checks it (a producer more than the ring ahead, or a consumer past the
 * producer, is corruption: -EIO, nothing moved), copies, then publishes
 * its own index after a barrier. Return the bytes moved or -EIO. The
 * caller notifies the peer's event channel when the result is > 0. */
#ifndef BH_CONSRING_H
#define BH_CONSRING_H

#include <sys/types.h>

#include "bulkhead/console.h"

/* guest side */
ssize_t bh_cons_guest_write(struct bh_cons_intf *c, const void *buf, size_t len);
ssize_t bh_cons_guest_read(struct bh_cons_intf *c, void *buf, size_t len);
/* console daemon side */
ssize_t bh_cons_back_read(struct bh_cons_intf *c, void *buf, size_t len);
ssize_t bh_cons_back_write(struct bh_cons_intf *c, const void *buf, size_t len);

#endif
