/* Xen's PV console ring page (io/console.h), the same layout.
 *
 *   in[1024] @0      bytes to the guest (keyboard)
 *   out[2048] @1024  bytes from the guest (its console output)
 *   in_cons @3072, in_prod @3076, out_cons @3080, out_prod @3084
 *   connection @3088 (0 connected, 1 disconnected)
 *
 * Indices are free-running u32 counters, masked by each array's size. The
 * guest produces `out` and consumes `in`; the console daemon the reverse.
 * Helpers in common/consring.h move bytes with the barriers and the checks
 * (a producer more than the ring ahead of its consumer is corrupt). */
#ifndef BULKHEAD_CONSOLE_H
#define BULKHEAD_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#define BH_CONS_IN_SIZE  1024u
#define BH_CONS_OUT_SIZE 2048u

struct bh_cons_intf {
	char in[BH_CONS_IN_SIZE];
	char out[BH_CONS_OUT_SIZE];
	uint32_t in_cons, in_prod;
	uint32_t out_cons, out_prod;
	uint8_t connection;
};

_Static_assert(offsetof(struct bh_cons_intf, out) == 1024, "console out");
_Static_assert(offsetof(struct bh_cons_intf, in_cons) == 3072, "console in_cons");
_Static_assert(offsetof(struct bh_cons_intf, out_prod) == 3084, "console out_prod");
_Static_assert(offsetof(struct bh_cons_intf, connection) == 3088, "console connection");

#endif
