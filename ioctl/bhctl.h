/* Domain control: the library the toolstack, the CLI and the tests use to
 * drive the core (libxc's place in Xen). Every function takes a hypercall
 * client: a domain's channel (dom0) or the administrator's socket. Returns
 * 0 or a negative errno. */
#ifndef BH_BHCTL_H
#define BH_BHCTL_H

#include <stddef.h>
#include <stdint.h>

#include "ioctl/hcall_client.h"

int bhctl_version(struct bh_hc_client *cl, struct bh_hc_version_resp *out);

/* argv: NULL-terminated, argv[0] first; NULL means just the image name. */
int bhctl_domain_create(struct bh_hc_client *cl, const struct bh_hc_create *req,
                        const char *const *argv, struct bh_hc_create_resp *out);
int bhctl_domain_destroy(struct bh_hc_client *cl, uint16_t domid);
int bhctl_domain_pause(struct bh_hc_client *cl, uint16_t domid);
int bhctl_domain_unpause(struct bh_hc_client *cl, uint16_t domid);
int bhctl_domain_shutdown(struct bh_hc_client *cl, uint16_t domid, uint32_t reason);
int bhctl_domain_restart(struct bh_hc_client *cl, uint16_t domid, struct bh_hc_create_resp *out);
int bhctl_domain_getinfo(struct bh_hc_client *cl, uint16_t domid, struct bh_dominfo *out);
/* All domains the caller may see; *out is malloc'd. */
int bhctl_domain_list(struct bh_hc_client *cl, struct bh_dominfo **out, size_t *n_out);
/* FLAGS: BH_LIST_* (BH_LIST_NO_USAGE: no memory or CPU figures). */
int bhctl_domain_list_flags(struct bh_hc_client *cl, uint32_t flags, struct bh_dominfo **out,
                            size_t *n_out);
int bhctl_domain_setres(struct bh_hc_client *cl, const struct bh_hc_setres *r);
int bhctl_sysinfo(struct bh_hc_client *cl, struct bh_hc_sysinfo *out);
/* Lines of the core's log from *seq on; *seq is advanced. */
int bhctl_readconsole(struct bh_hc_client *cl, uint64_t *seq, char *buf, size_t cap,
                      size_t *len_out);

int bhctl_device_assign(struct bh_hc_client *cl, uint16_t domid, const char *token,
                        const char *path, uint32_t flags);
int bhctl_device_revoke(struct bh_hc_client *cl, uint16_t domid, const char *token);
/* The caller's own assigned device; *fd_out is the caller's. */
int bhctl_device_open(struct bh_hc_client *cl, const char *token, int *fd_out, uint64_t *size_out,
                      uint32_t *flags_out);
int bhctl_device_tap(struct bh_hc_client *cl, const char *ifname, uint32_t flags, int *fd_out);
/* Give driver domain U->domid an uplink to the host (a veth pair; see
 * struct bh_hc_device_uplink). OUT (may be NULL) names the host end. */
int bhctl_device_uplink(struct bh_hc_client *cl, const struct bh_hc_device_uplink *u,
                        struct bh_hc_device_uplink_resp *out);

int bhctl_heartbeat(struct bh_hc_client *cl);
/* fds_out[0..*nfds-1]: the store ring page, then the console ring page. */
int bhctl_start_info(struct bh_hc_client *cl, struct bh_hc_start_info *out, int fds_out[2],
                     size_t *nfds_out);

/* Names for enums, for logs and the CLI. */
const char *bhctl_state_name(uint32_t state);
const char *bhctl_reason_name(uint32_t reason);
const char *bhctl_crash_name(uint32_t detail);
const char *bhctl_role_name(uint32_t role);

#endif
