/* The PV kernel's store connection: the control/shutdown watch (Xen's way
 * of asking a guest to power off or reboot) and the place where the
 * frontends (bhblkfront, bhnetfront) are started once the store is up.
 *
 * Two implementations: store_xs.c over the store's client library
 * (xenstored/bhxs.h), and store_none.c when the tree has no such library,
 * where pvk_store_start() reports -ENOSYS and the guest runs without a
 * store (shutdown requests still arrive as signals to PID 1). */
#ifndef BH_PVK_STORE_H
#define BH_PVK_STORE_H

#include <event2/event.h>

#include "pvkernel/cmdline.h"

/* What the store asks of the kernel. */
struct pvk_store_ops {
	/* control/shutdown said REASON (enum bh_shutdown_reason). */
	void (*shutdown)(void *arg, int reason);
	void (*log)(void *arg, const char *msg);
	void *arg;
};

struct pvk_store;

/* Connect, announce control/feature-* and watch control/shutdown. */
int pvk_store_start(struct event_base *base, const struct pvk_cmdline *cmd,
                    const struct pvk_store_ops *ops, struct pvk_store **out);
void pvk_store_stop(struct pvk_store *st);

/* Map control/shutdown's value to a reason; -EINVAL for anything else
 * ("" is the toolstack clearing it). */
int pvk_store_shutdown_reason(const char *val);

#endif
