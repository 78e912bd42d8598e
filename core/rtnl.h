/* rtnetlink helpers of the core (rtnl.c). */
#ifndef BH_CORE_RTNL_H
#define BH_CORE_RTNL_H

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

struct core;

/* A bound rtnetlink socket in network namespace NETNS_FD (-1: the core's
 * own); NULL with errno set. */
struct mnl_socket *rtnl_open(struct core *c, int netns_fd);
/* Sends NLH (NLM_F_REQUEST and NLM_F_ACK added) and runs CB on the answer
 * up to the acknowledgement: 0 or the kernel's -errno. */
int rtnl_call(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);
/* rtnl_call on a socket of its own, opened and closed around it. */
int rtnl_call_once(struct core *c, int netns_fd, struct nlmsghdr *nlh);
/* The header of a link request in BUF (MNL_SOCKET_BUFFER_SIZE bytes). */
struct ifinfomsg *rtnl_link_msg(char *buf, uint16_t type, uint16_t flags, int ifindex);

struct rtnl_link {
	int ifindex, master; /* master: 0 none */
	unsigned flags;      /* IFF_* */
	char name[16];       /* IFNAMSIZ */
	char kind[16];       /* "bridge", "tun", ...; "" for none */
};

/* The link named NAME (or with index IFINDEX if NAME is NULL). */
int rtnl_link_get(struct mnl_socket *nl, const char *name, int ifindex, struct rtnl_link *out);

#endif
