/* The PV kernel's store connection (store.h). */
#include "pvkernel/store.h"

#include <errno.h>
#include <string.h>

#include "bulkhead/hypercall.h"

int pvk_store_shutdown_reason(const char *val)
{
	/* Xen's values (xen/include/public/io/xs_wire.h and Linux's
	 * drivers/xen/manage.c): halt is a power off here. */
	if (!strcmp(val, "poweroff") || !strcmp(val, "halt"))
		return BH_SHUTDOWN_POWEROFF;
	if (!strcmp(val, "reboot"))
		return BH_SHUTDOWN_REBOOT;
	if (!strcmp(val, "suspend"))
		return BH_SHUTDOWN_SUSPEND;
	return -EINVAL;
}

/* HOOK: bhxs is not linked yet. When it is: bhxs_open_domain(), write
 * control/feature-poweroff, -reboot, -suspend = "1" (as Linux's
 * drivers/xen/manage.c does), watch control/shutdown, add an event on
 * bhxs_fd() that reads the value, clears it (writes "") and calls
 * ops->shutdown(); then pvk_frontends_probe() (frontends.h). */
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
