/* The store nodes the toolstack writes for a domain and its devices, laid
 * out as Xen's libxl does (protocol-facts §2.3, §3.4; docs/xenstore.md). */
#ifndef BH_XSPATHS_H
#define BH_XSPATHS_H

#include <stdint.h>

#include "toolstack/toolstack.h"
#include "xenstored/bhxs.h"

/* REPLACE: the directory a previous life of DOMID left is removed first,
 * in the same transaction (a restart in place). */
int xsp_write_domain(struct bhxs *xs, uint16_t domid, const struct bh_domcfg *c,
                     uint32_t store_port, uint32_t console_port, int store_domid, bool replace);
void xsp_remove_domain(struct bhxs *xs, uint16_t domid);
/* A device's frontend and backend directories, both made afresh. */
int xsp_write_dev(struct bhxs *xs, uint16_t domid, const struct bhtool_dev *d);

/* Several directories written in one transaction, their requests
 * pipelined: a restart writes the domain's own directory and every device
 * it has or serves at once. xsp_set_write commits (retrying a conflict)
 * and frees the set; a set that ran out of memory fails there. */
struct xsp_set;
struct xsp_set *xsp_set_new(void);
void xsp_set_domain(struct xsp_set *s, uint16_t domid, const struct bh_domcfg *c,
                    uint32_t store_port, uint32_t console_port, int store_domid, bool replace);
void xsp_set_dev(struct xsp_set *s, uint16_t domid, const struct bhtool_dev *d);
void xsp_set_key(struct xsp_set *s, const char *path, const char *val);
int xsp_set_write(struct bhxs *xs, struct xsp_set *s);
/* The same, with BEFORE pipelined ahead of the transaction and AFTER
 * behind its end (bhxs_transaction_run_with), both sent even when S could
 * not be built; their results are in their structs. */
int xsp_set_write_with(struct bhxs *xs, struct xsp_set *s, struct bhxs_op *before, size_t nb,
                       struct bhxs_op *after, size_t na);
void xsp_set_free(struct xsp_set *s);
void xsp_remove_dev(struct bhxs *xs, uint16_t domid, const struct bhtool_dev *d);
/* XenbusState of the frontend or backend of D, or -errno. */
int xsp_dev_state(struct bhxs *xs, uint16_t domid, const struct bhtool_dev *d, bool backend);
void xsp_request_shutdown(struct bhxs *xs, uint16_t domid, uint32_t reason);
void xsp_set_memory(struct bhxs *xs, uint16_t domid, uint64_t mem_kb);

#endif
