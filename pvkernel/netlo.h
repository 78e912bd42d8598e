/* Bringing up the guest's loopback interface. */
#ifndef BH_PVK_NETLO_H
#define BH_PVK_NETLO_H

/* 0 or -errno. */
int pvk_loopback_up(void);

#endif
