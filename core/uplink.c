/* Uplinks: a real interface between the host and a network driver domain.
 *
 * The core creates a veth pair with one rtnetlink request: the host end in
 * the core's own network namespace, the peer created directly in the
 * driver domain's namespace (IFLA_NET_NS_FD inside VETH_INFO_PEER), so the
 * peer never exists on the host, not even for a moment. Then the host end
 * gets its address, joins a host bridge if one was named, and goes up. The
 * driver domain plugs its end into its own bridge (driverdom/vif.c).
 *
 * The request belongs to the domid, like a device assignment: every
 * generation of the domain gets a fresh pair with the same names at spawn,
 * and the end of a generation deletes the host end by ifindex (deleting one
 * end of a veth deletes both), synchronously, so that the next generation
 * can take the same name at once instead of racing the kernel's
 * asynchronous teardown of the dead namespace. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "core/rtnl.h"

#define DEFAULT_DOM_IFNAME "uplink0"

static bool name_ok(const char *n)
{
	size_t len = strnlen(n, IFNAMSIZ);

	if (len == 0 || len >= IFNAMSIZ || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(n[i] >= 'a' && n[i] <= 'z') && !(n[i] >= 'A' && n[i] <= 'Z') &&
		    !(n[i] >= '0' && n[i] <= '9') && !strchr("-_.", n[i]))
			return false;
	return true;
}

/* ---- rtnetlink (rtnl.c), in the core's own namespace ---------------------- */

static int nl_call(struct nlmsghdr *nlh)
{
	return rtnl_call_once(NULL, -1, nlh);
}

static int veth_create(const struct bh_hc_device_uplink *u, int netns_fd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct nlattr *info, *data, *peer;
	struct ifinfomsg *pifm;

	rtnl_link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, u->host_ifname);
	if (u->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, u->mtu);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer's attributes follow its own ifinfomsg. */
	pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
	pifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, u->dom_ifname);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)netns_fd);
	if (u->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, u->mtu);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nl_call(nlh);
}

static int link_set(int ifindex, int master, bool up)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ifinfomsg *ifm = rtnl_link_msg(buf, RTM_NEWLINK, 0, ifindex);

	if (master)
		mnl_attr_put_u32((struct nlmsghdr *)buf, IFLA_MASTER, (uint32_t)master);
	if (up) {
		ifm->ifi_flags = IFF_UP;
		ifm->ifi_change = IFF_UP;
	}
	return nl_call((struct nlmsghdr *)buf);
}

static int link_del(int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	rtnl_link_msg(buf, RTM_DELLINK, 0, ifindex);
	return nl_call((struct nlmsghdr *)buf);
}

static int addr_add(int ifindex, uint32_t ipv4, uint8_t prefixlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	uint32_t mask = prefixlen ? htonl(~0u << (32 - prefixlen)) : 0;

	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = prefixlen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	mnl_attr_put_u32(nlh, IFA_LOCAL, ipv4);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, ipv4);
	if (prefixlen < 31)
		mnl_attr_put_u32(nlh, IFA_BROADCAST, ipv4 | ~mask);
	return nl_call(nlh);
}

/* The domain's network namespace, or an error if it is not (or no longer)
 * a namespace of its own: the peer must never land on the host. */
static int domain_netns(struct domain *d)
{
	struct stat ours, theirs;
	char path[64];
	int fd;

	if (d->pid <= 0 || d->pidfd < 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)d->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	/* The pid is still this generation's process (not a reused one). */
	if (syscall(SYS_pidfd_send_signal, d->pidfd, 0, NULL, 0) < 0) {
		close(fd);
		return -ESRCH;
	}
	if (fstat(fd, &theirs) < 0 || fstat(d->core->home_netns, &ours) < 0 ||
	    (theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* ---- the uplink of a domain ------------------------------------------ */

int uplink_create(struct domain *d)
{
	const struct bh_hc_device_uplink *u = d->uplink;
	int ns, idx, master = 0, rc;
	char addr[INET_ADDRSTRLEN + 4] = "";

	if (!u)
		return 0;
	if (d->uplink_ifindex)
		return -EEXIST;
	if (u->host_bridge[0] && !(master = (int)if_nametoindex(u->host_bridge))) {
		bh_warn(&d->log, "uplink: host bridge %s: no such interface", u->host_bridge);
		return -ENODEV;
	}
	if ((ns = domain_netns(d)) < 0)
		return ns;
	rc = veth_create(u, ns);
	close(ns);
	if (rc < 0) {
		bh_warn(&d->log, "uplink: creating %s <-> %s: %s", u->host_ifname, u->dom_ifname,
		        bh_strerror(rc));
		return rc;
	}
	if (!(idx = (int)if_nametoindex(u->host_ifname)))
		return -ENODEV; /* someone deleted it already */
	d->uplink_ifindex = idx;
	if (u->host_ipv4) {
		inet_ntop(AF_INET, &u->host_ipv4, addr, sizeof(addr));
		if ((rc = addr_add(idx, u->host_ipv4, u->host_prefixlen)) < 0)
			goto undo;
	}
	if ((rc = link_set(idx, master, true)) < 0)
		goto undo;
	if (addr[0])
		snprintf(addr + strlen(addr), sizeof(addr) - strlen(addr), "/%u",
		         u->host_prefixlen);
	bh_info(&d->log, "uplink: %s%s%s%s%s on the host <-> %s in the domain", u->host_ifname,
	        addr[0] ? " " : "", addr, master ? " in bridge " : "", master ? u->host_bridge : "",
	        u->dom_ifname);
	return 0;
undo:
	bh_warn(&d->log, "uplink: setting up %s: %s", u->host_ifname, bh_strerror(rc));
	uplink_release(d);
	return rc;
}

void uplink_release(struct domain *d)
{
	int rc;

	char name[IF_NAMESIZE];

	if (!d->uplink_ifindex)
		return;
	/* Still ours? (Gone with the namespace, its index could be reused.) */
	if (!if_indextoname((unsigned)d->uplink_ifindex, name) || !d->uplink ||
	    strcmp(name, d->uplink->host_ifname) != 0) {
		d->uplink_ifindex = 0;
		return;
	}
	rc = link_del(d->uplink_ifindex);
	if (rc < 0 && rc != -ENODEV)
		bh_warn(&d->log, "uplink: deleting %s: %s",
		        d->uplink ? d->uplink->host_ifname : "?", bh_strerror(rc));
	d->uplink_ifindex = 0;
}

void uplink_dispose(struct domain *d)
{
	uplink_release(d);
	free(d->uplink);
	d->uplink = NULL;
}

int device_uplink(struct domain *d, const struct bh_hc_device_uplink *req,
                  struct bh_hc_device_uplink_resp *out)
{
	struct bh_hc_device_uplink u = *req, *keep;
	int rc;

	if (d->role != BH_ROLE_DRIVER)
		return -EINVAL; /* the policy says so too; this holds in permissive mode */
	if (u.flags || u.pad || (u.mtu && (u.mtu < 68 || u.mtu > 65535)))
		return -EINVAL;
	if (u.host_ipv4 && (u.host_prefixlen < 1 || u.host_prefixlen > 32))
		return -EINVAL;
	if (!u.host_ipv4 && u.host_prefixlen)
		return -EINVAL;
	if (!memchr(u.host_ifname, 0, sizeof(u.host_ifname)) ||
	    !memchr(u.dom_ifname, 0, sizeof(u.dom_ifname)) ||
	    !memchr(u.host_bridge, 0, sizeof(u.host_bridge)))
		return -EINVAL;
	if (!u.host_ifname[0])
		snprintf(u.host_ifname, sizeof(u.host_ifname), "bhup%u", d->domid);
	if (!u.dom_ifname[0])
		bh_strlcpy(u.dom_ifname, DEFAULT_DOM_IFNAME, sizeof(u.dom_ifname));
	if (!name_ok(u.host_ifname) || !name_ok(u.dom_ifname) ||
	    (u.host_bridge[0] && !name_ok(u.host_bridge)))
		return -EINVAL;
	if (!(keep = malloc(sizeof(*keep))))
		return -ENOMEM;
	*keep = u;
	uplink_dispose(d); /* a second request replaces the first */
	d->uplink = keep;
	memset(out, 0, sizeof(*out));
	bh_strlcpy(out->host_ifname, u.host_ifname, sizeof(out->host_ifname));
	if (d->state == BH_DOMSTATE_SHUTDOWN || d->pid <= 0)
		return 0; /* made when the domain next starts */
	if ((rc = uplink_create(d)) < 0) {
		free(d->uplink);
		d->uplink = NULL;
		return rc;
	}
	out->host_ifindex = d->uplink_ifindex;
	return 0;
}
