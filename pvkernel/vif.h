/* The PV kernel's network frontend: connects each device/vif of the domain
 * to its backend over netif (netfront/), and gives the guest a real
 * interface for it (eth0, eth1, ...: a TAP the core creates in the guest's
 * network namespace), configured from the kernel's ip= parameter. */
#ifndef BH_PVK_VIF_H
#define BH_PVK_VIF_H

#include "pvkernel/cmdline.h"

struct bhxs;

/* Connects device/vif/ID as interface eth<INDEX> (the xenbus handshake,
 * waiting up to 10 s for the backend) and starts its packet pump thread.
 * Returns 0 or -errno; a failed interface is reported, not fatal. */
int pvk_vif_connect(struct bhxs *xs, const char *id, unsigned index, const struct pvk_cmdline *cmd,
                    void (*log)(void *, const char *), void *arg);

#endif
