/* Stand-ins for backends whose engine is not built into this program:
 * the device is claimed and refused (error node, Closing), so the
 * frontend and the toolstack learn why nothing happens. */
#include <errno.h>

#include "driverdom/backends.h"

static __attribute__((unused)) int not_built_probe(struct drvdom_dev *dev)
{
	drvdom_dev_error(dev, -ENOSYS, "error: backend not built in yet");
	return -ENOSYS;
}

static __attribute__((unused)) int not_built_connect(struct drvdom_dev *dev)
{
	return -ENOSYS; /* never reached: probe refused the device */
}

#define NOT_BUILT(name, type_)                                                                     \
	const struct drvdom_backend_ops name = {                                                   \
		.type = type_,                                                                     \
		.probe = not_built_probe,                                                          \
		.connect = not_built_connect,                                                      \
	}

#ifndef BH_HAVE_BLKBACK
NOT_BUILT(vbd_backend, "vbd");
#endif
#ifndef BH_HAVE_NETBACK
NOT_BUILT(vif_backend, "vif");
#endif
