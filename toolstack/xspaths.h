/* The store nodes the toolstack writes for a domain and its devices, laid
 * out as Xen's libxl does (protocol-facts §2.3, §3.4; docs/xenstore.md). */
#ifndef BH_XSPATHS_H
#define BH_XSPATHS_H

#include <stdint.h>

#include "toolstack/toolstack.h"

/* REPLACE: the directory a previous life of DOMID left is removed first,
 * in the same transaction (a restart in place). */
int xsp_write_domain(struct bhxs *xs, uint16_t domid, const struct bh_domcfg *c,
                     uint32_t store_port, uint32_t console_port, int store_domid, bool replace);
void xsp_remove_domain(struct bhxs *xs, uint16_t domid);
int xsp_write_vbd(struct bhxs *xs, uint16_t domid, const struct bhtool_dev *d);
int xsp_write_vif(struct bhxs *xs, uint16_t domid, const struct bhtool_dev *d);
void xsp_remove_dev(struct bhxs *xs, uint16_t domid, const struct bhtool_dev *d);
/* XenbusState of the frontend or backend of D, or -errno. */
int xsp_dev_state(struct bhxs *xs, uint16_t domid, const struct bhtool_dev *d, bool backend);
void xsp_request_shutdown(struct bhxs *xs, uint16_t domid, uint32_t reason);
void xsp_set_memory(struct bhxs *xs, uint16_t domid, uint64_t mem_kb);

#endif
