/* The table of backends bulkhead-driverdom serves (backends.c). */
#ifndef BH_DRIVERDOM_BACKENDS_H
#define BH_DRIVERDOM_BACKENDS_H

#include <stddef.h>

#include "driverdom/driverdom.h"

/* vbd.c (bhblkback) or not_built.c */
extern const struct drvdom_backend_ops vbd_backend;
/* not_built.c until netback is wired in */
extern const struct drvdom_backend_ops vif_backend;

const struct drvdom_backend_ops *const *driverdom_backends(size_t *n);

#endif
