/* The guest's split-driver frontends, found in the store.
 *
 * Called once the store connection is up (store_xs.c). It enumerates
 * device/vbd and device/vif under the domain's home as Linux's xenbus
 * frontend probe does. The block and network frontends (bhblkfront,
 * bhnetfront, built by their own helpers) will be started from here, one
 * per device; today each device found is only reported. */
#ifndef BH_PVK_FRONTENDS_H
#define BH_PVK_FRONTENDS_H

#include "pvkernel/cmdline.h"

struct bhxs;

/* The kinds of device the PV kernel knows, by store directory. */
enum pvk_frontend_kind { PVK_FE_VBD, PVK_FE_VIF, PVK_FE_MAX };

/* Enumerate and (later) start every frontend. LOG gets one line per
 * device. Returns the number of devices found, or -errno. */
int pvk_frontends_probe(struct bhxs *xs, const struct pvk_cmdline *cmd,
                        void (*log)(void *arg, const char *msg), void *arg);

#endif
