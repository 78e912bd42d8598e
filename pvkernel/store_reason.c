/* control/shutdown's values (store.h). */
#include "pvkernel/store.h"

#include <errno.h>
#include <string.h>

#include "bulkhead/hypercall.h"

int pvk_store_shutdown_reason(const char *val)
{
	/* The values Linux's drivers/xen/manage.c acts on; halt is a power
	 * off here, as there is no halted state to keep. */
	if (!strcmp(val, "poweroff") || !strcmp(val, "halt"))
		return BH_SHUTDOWN_POWEROFF;
	if (!strcmp(val, "reboot"))
		return BH_SHUTDOWN_REBOOT;
	if (!strcmp(val, "suspend"))
		return BH_SHUTDOWN_SUSPEND;
	return -EINVAL;
}
