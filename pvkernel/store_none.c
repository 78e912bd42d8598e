/* The PV kernel without a store client: built when the store's client
 * library (bhxs, xenstored/) is not part of the tree. The guest then runs
 * without control/shutdown and without frontends; shutdown requests still
 * arrive as signals to PID 1. store_xs.c is the real one. */
#include "pvkernel/store.h"

#include <errno.h>

int pvk_store_start(struct event_base *base, const struct pvk_cmdline *cmd,
                    const struct pvk_store_ops *ops, struct pvk_store **out)
{
	(void)base;
	(void)cmd;
	(void)ops;
	*out = NULL;
	return -ENOSYS;
}

void pvk_store_stop(struct pvk_store *st)
{
	(void)st;
}
