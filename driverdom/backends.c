/* The backends compiled into bulkhead-driverdom. Which file provides each
 * entry is CMake's choice: the real backend when its engine is built
 * (vbd.c on bhblkback), otherwise a stand-in (not_built.c) that claims the
 * device and refuses it with an error the toolstack and the guest can see,
 * instead of leaving the frontend waiting forever. */
#include "driverdom/backends.h"

static const struct drvdom_backend_ops *const table[] = { &vbd_backend, &vif_backend };

const struct drvdom_backend_ops *const *driverdom_backends(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}
