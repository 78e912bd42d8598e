/* The table of backends bulkhead-driverdom serves (backends.c). */
#ifndef BH_DRIVERDOM_BACKENDS_H
#define BH_DRIVERDOM_BACKENDS_H

#include <stddef.h>

#include "driverdom/driverdom.h"

const struct drvdom_backend_ops *const *driverdom_backends(size_t *n);

#endif
