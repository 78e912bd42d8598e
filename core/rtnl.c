/* rtnetlink for the core: a request and its answer, in the core's own
 * network namespace or in a domain's (the socket is made there, then the
 * core goes home: a netlink socket stays in the namespace it was made in).
 * Used for uplinks (uplink.c) and for the TAPs made ahead of a restart
 * (device.c). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "core/rtnl.h"

struct mnl_socket *rtnl_open(struct core *c, int netns_fd)
{
	struct mnl_socket *nl;
	int e;

	if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0)
		return NULL;
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	e = errno;
	if (netns_fd >= 0 && setns(c->home_netns, CLONE_NEWNET) < 0)
		abort(); /* the core must never stay in a domain's namespace */
	if (nl && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		e = errno;
		mnl_socket_close(nl);
		nl = NULL;
	}
	errno = e;
	return nl;
}

int rtnl_call(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	static uint32_t seq;
	char buf[16384]; /* a link's answer can pass a page */
	unsigned portid = mnl_socket_get_portid(nl);
	ssize_t n;

	if (!seq)
		seq = (uint32_t)time(NULL);
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		if ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) < 0)
			return -errno;
		errno = 0;
		int r = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (r == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (r == MNL_CB_STOP)
			return 0; /* the acknowledgement (error 0) */
	}
}

int rtnl_call_once(struct core *c, int netns_fd, struct nlmsghdr *nlh)
{
	struct mnl_socket *nl = rtnl_open(c, netns_fd);
	int rc;

	if (!nl)
		return -errno;
	rc = rtnl_call(nl, nlh, NULL, NULL);
	mnl_socket_close(nl);
	return rc;
}

struct ifinfomsg *rtnl_link_msg(char *buf, uint16_t type, uint16_t flags, int ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	return ifm;
}

static int attr_cb(const struct nlattr *a, void *data)
{
	struct rtnl_link *l = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(a));
		break;
	case IFLA_MASTER:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->master = (int)mnl_attr_get_u32(a);
		break;
	case IFLA_LINKINFO: {
		const struct nlattr *i;

		mnl_attr_for_each_nested(i, a) if (mnl_attr_get_type(i) == IFLA_INFO_KIND &&
		                                   mnl_attr_validate(i, MNL_TYPE_NUL_STRING) == 0)
		    snprintf(l->kind, sizeof(l->kind), "%s", mnl_attr_get_str(i));
		break;
	}
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rtnl_link *l = data;
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	l->ifindex = ifm->ifi_index;
	l->flags = ifm->ifi_flags;
	return mnl_attr_parse(nlh, sizeof(*ifm), attr_cb, l);
}

int rtnl_link_get(struct mnl_socket *nl, const char *name, int ifindex, struct rtnl_link *out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	memset(out, 0, sizeof(*out));
	rtnl_link_msg(buf, RTM_GETLINK, 0, ifindex);
	if (name)
		mnl_attr_put_strz((struct nlmsghdr *)buf, IFLA_IFNAME, name);
	mnl_attr_put_u32((struct nlmsghdr *)buf, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	int rc = rtnl_call(nl, (struct nlmsghdr *)buf, link_cb, out);
	return rc < 0 ? rc : out->ifindex > 0 ? 0 : -ENODEV;
}
