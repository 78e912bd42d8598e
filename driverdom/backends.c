/* The backends compiled into bulkhead-driverdom. Until the blkif and netif
 * engines (blkback/, netback/) are wired in, "vbd" and "vif" devices are
 * claimed and refused with an error the toolstack and the guest can see,
 * instead of leaving the frontend waiting forever. */
#include <errno.h>

#include "driverdom/backends.h"

static int not_built_probe(struct drvdom_dev *dev)
{
	drvdom_dev_error(dev, -ENOSYS, "error: backend not built in yet");
	return -ENOSYS;
}

static int not_built_connect(struct drvdom_dev *dev)
{
	return -ENOSYS; /* never reached: probe refused the device */
}

static const struct drvdom_backend_ops vbd_ops = {
	.type = "vbd",
	.probe = not_built_probe,
	.connect = not_built_connect,
};

static const struct drvdom_backend_ops vif_ops = {
	.type = "vif",
	.probe = not_built_probe,
	.connect = not_built_connect,
};

static const struct drvdom_backend_ops *const table[] = { &vbd_ops, &vif_ops };

const struct drvdom_backend_ops *const *driverdom_backends(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}
