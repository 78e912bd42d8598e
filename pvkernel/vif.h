/* The PV kernel's network frontend: connects each device/vif of the domain
 * to its backend over netif (netfront/), and gives the guest a real
 * interface for it (eth0, eth1, ...: a TAP the core creates in the guest's
 * network namespace), configured from the kernel's ip= parameter. */
#ifndef BH_PVK_VIF_H
#define BH_PVK_VIF_H

#include <stdbool.h>

#include "pvkernel/cmdline.h"

struct bhxs;

/* Connects device/vif/ID as interface eth<INDEX> (the xenbus handshake,
 * waiting up to 10 s for the backend) and starts its packet pump thread.
 * Returns 0 or -errno; a failed interface is reported, not fatal. */
int pvk_vif_connect(struct bhxs *xs, const char *id, unsigned index, const struct pvk_cmdline *cmd,
                    void (*log)(void *, const char *), void *arg);

/* A store watch event, on the thread that owns XS. Returns whether it was
 * one of the network frontend's (the backends' state nodes): a backend
 * that leaves Connected takes the interface's carrier down until it
 * offers the interface again and is reconnected on new rings. */
bool pvk_vif_watch(struct bhxs *xs, const char *path, const char *token);

#endif
