/* The "vif" backend: the xenbus side of netback (Linux's
 * drivers/net/xen-netback/xenbus.c next to the engine). One bhnetback
 * engine serves every vif of this driver domain. Probe publishes the
 * features and makes sure the vif's bridge exists; right after the
 * InitWait, prepare asks the core for a TAP in our network namespace
 * (named vif<fe>.<devid> or the config's vifname) and plugs it into the
 * bridge; connect reads the frontend's ring refs and event channel and
 * attaches the TAP to the engine. The engine runs from
 * the runtime's loop: the event-channel descriptor and each TAP drive it;
 * a 10 ms timer opens rate-limit windows and is a safety net. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/util.h"
#include "driverdom/backends.h"
#include "ioctl/bhctl.h"
#include "ioctl/xendev.h"
#include "netback/netback.h"
#include "netback/netbk_gntmap_xen.h"
#include "xenstored/bhxs.h"

#define DEFAULT_BRIDGE "xenbr0"
#define OFFERED                                                                                    \
	(NETBK_F_RX_COPY | NETBK_F_SG | NETBK_F_GSO_TCPV4 | NETBK_F_GSO_TCPV6 |                    \
	 NETBK_F_IPV6_CSUM | NETBK_F_RX_NOTIFY)

struct netsvc {
	struct netback *nb;
	struct netbk_xen x;
	struct drvdom_fd *ev_fd, *timer_fd;
	int timer;
	unsigned nvifs;
	struct vif *vifs; /* connected, for the engine's reports */
	struct bh_log log;
	bool persist_warned;
	bool uplink_tried; /* uplink_plug, UPLINK_DELAY_MS after the first vif's prepare */
	int uplink_timer;
	struct drvdom_fd *uplink_fd;
};

struct vif {
	struct drvdom_dev *dev;
	struct netbk_vif *nv;
	struct drvdom_fd *tap_fd;
	uint32_t port, rx_port; /* rx_port: split channels, else 0 */
	bool broken;            /* the engine stopped it: close it once the engine returned */
	char why[96];
	struct vif *next;            /* svc.vifs */
	struct netbk_vif_config cfg; /* from the store */
	char ifname[IFNAMSIZ];
	int tap; /* made by vif_prepare, for the next connect; -1 none */
};

static struct netsvc svc = { .timer = -1, .uplink_timer = -1 };

static void serve(void);
static void unbind_ports(struct vif *v);
static void uplink_plug(struct drvdom *dd);

static void on_event(void *arg)
{
	(void)arg;
	/* Any port of the shared descriptor: read what fired, unmask. */
	uint32_t fired[64];
	ssize_t n;
	while ((n = xen_read(svc.x.evtchn, fired, sizeof(fired))) > 0)
		xen_write(svc.x.evtchn, fired, (size_t)n & ~(size_t)3);
	serve();
}

static void on_timer(void *arg)
{
	uint64_t ticks;

	(void)arg;
	(void)!read(svc.timer, &ticks, sizeof(ticks));
	serve();
}

static void on_tap(void *arg)
{
	(void)arg;
	serve();
}

/* Called from inside the engine's round: only note it here; the device
 * is closed once the engine has returned (close_broken). */
static void on_broken(void *arg, struct netbk_vif *nv, const char *why)
{
	(void)arg;
	for (struct vif *v = svc.vifs; v; v = v->next)
		if (v->nv == nv && !v->broken) {
			v->broken = true;
			bh_strlcpy(v->why, why, sizeof(v->why));
		}
}

/* A frontend that broke the protocol gets what Linux netback's
 * xenvif_fatal_tx_err leads to: the device closed Xen's way (the error
 * node, then Closing) while every other vif keeps being served. It stays
 * closed until the frontend starts over at Initialising. A vif broken
 * during its own connect() waits for the next round (the 10 ms timer):
 * the runtime marks it connected only after connect() returns. */
static void close_broken(void)
{
	for (;;) {
		struct vif *v = svc.vifs;

		while (v && !(v->broken && v->dev->connected))
			v = v->next;
		if (!v)
			return;
		v->broken = false;
		/* disconnects it (vif_disconnect unlinks it) and switches to
		 * Closing */
		drvdom_dev_fatal(v->dev, -EPROTO, "the frontend broke the netif protocol: %s",
		                 v->why);
	}
}

#define SERVE_ROUNDS 64
/* How long a vif's packets may wait in its TAP for the frontend to post
 * RX buffers before netback copies them into its bounded queue. */
#define RX_WAIT_MS      100
#define TICK_NS         10000000 /* the safety-net and rate-limit timer */
#define UPLINK_DELAY_MS 5        /* uplink_later */

/* Rounds until nothing moves (each round is budgeted per vif, so one busy
 * guest cannot starve another). Stopped by the round limit with work
 * left, netback has not re-armed its event indexes (it does so only when
 * a ring runs dry), so the frontend will not notify for what it adds: fire
 * the timer at once, to come back after the loop's other descriptors
 * instead of a tick later. */
/* A vif whose frontend has too few RX buffers posted leaves its packets
 * in the TAP until the frontend notifies (netback_set_rx_wait): its TAP
 * is not watched meanwhile, or the loop would spin on a readable TAP. */
static void watch_taps(void)
{
	for (struct vif *v = svc.vifs; v; v = v->next) {
		bool want = !netback_vif_rx_blocked(v->nv);

		if (want && !v->tap_fd)
			drvdom_add_fd(v->dev->dd, v->cfg.tap_fd, on_tap, v, &v->tap_fd);
		else if (!want && v->tap_fd) {
			drvdom_del_fd(v->tap_fd);
			v->tap_fd = NULL;
		}
	}
}

/* Serve again after the loop's other descriptors: fire the timer at once. */
static void serve_soon(void)
{
	struct itimerspec its = { { 0, TICK_NS }, { 0, 1 } };

	timerfd_settime(svc.timer, 0, &its, NULL);
}

static void serve(void)
{
	int i = 0;

	while (i < SERVE_ROUNDS && netback_round(svc.nb) > 0)
		i++;
	watch_taps();
	if (i == SERVE_ROUNDS)
		serve_soon();
	close_broken();
}

static int svc_up(struct drvdom *dd)
{
	struct netbk_gntmap_ops ops;
	struct itimerspec its = { { 0, TICK_NS }, { 0, TICK_NS } };
	int rc;

	if (svc.nb)
		return 0;
	bh_log_init(&svc.log, "netback");
	if ((rc = netbk_gntmap_xen_open(&svc.x)) < 0)
		return rc;
	netbk_gntmap_xen_ops(&svc.x, &ops);
	if ((rc = netback_create(&ops, &svc.log, &svc.nb)) < 0)
		return rc;
	netback_set_broken_cb(svc.nb, on_broken, NULL);
	netback_set_rx_wait(svc.nb, RX_WAIT_MS);
	if ((rc = drvdom_add_fd(dd, svc.x.evtchn, on_event, NULL, &svc.ev_fd)) < 0)
		return rc;
	svc.timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (svc.timer < 0 || timerfd_settime(svc.timer, 0, &its, NULL) < 0)
		return -errno;
	if ((rc = drvdom_add_fd(dd, svc.timer, on_timer, NULL, &svc.timer_fd)) < 0)
		return rc;
	return 0;
}

/* ---- interfaces ---- */

static int ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	/* Driver domains may open only Unix and netlink sockets; interface
	 * ioctls on a Unix socket reach the same code. */
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	if (ioctl(s, req, ifr) < 0)
		rc = -errno;
	close(s);
	return rc;
}

static int link_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int rc;

	bh_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
	if ((rc = ifreq_ioctl(SIOCGIFFLAGS, &ifr)) < 0)
		return rc;
	if (ifr.ifr_flags & IFF_UP)
		return 0; /* made up ahead (the core's, for a restart) */
	ifr.ifr_flags |= IFF_UP;
	return ifreq_ioctl(SIOCSIFFLAGS, &ifr);
}

static int link_master(const char *name);

static int bridge_ensure(const char *br)
{
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;
	char name[IFNAMSIZ];

	if (s < 0)
		return -errno;
	bh_strlcpy(name, br, sizeof(name));
	if (ioctl(s, SIOCBRADDBR, name) < 0 && errno != EEXIST)
		rc = -errno;
	close(s);
	return rc < 0 ? rc : link_up(br);
}

static int bridge_add(const char *br, const char *ifname)
{
	struct ifreq ifr = { 0 };
	int rc;

	bh_strlcpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name));
	if ((rc = ifreq_ioctl(SIOCGIFINDEX, &ifr)) < 0)
		return rc;
	int idx = ifr.ifr_ifindex;
	memset(&ifr, 0, sizeof(ifr));
	bh_strlcpy(ifr.ifr_name, br, sizeof(ifr.ifr_name));
	ifr.ifr_ifindex = idx;
	if ((rc = ifreq_ioctl(SIOCBRADDIF, &ifr)) != -EBUSY)
		return rc;
	/* It has a master already: fine if it is BR (a TAP the core made
	 * ahead for a restart is on the bridge its predecessor was on); if it
	 * is another bridge (the vif's bridge changed since), it leaves it. */
	int master = link_master(ifname);
	struct ifreq m = { .ifr_ifindex = master };
	if (master <= 0 || ifreq_ioctl(SIOCGIFINDEX, &ifr) < 0)
		return master < 0 ? master : -EBUSY;
	if (master == ifr.ifr_ifindex)
		return 0;
	if ((rc = ifreq_ioctl(SIOCGIFNAME, &m)) < 0)
		return rc;
	m.ifr_ifindex = idx;
	if ((rc = ifreq_ioctl(SIOCBRDELIF, &m)) < 0)
		return rc;
	ifr.ifr_ifindex = idx;
	return ifreq_ioctl(SIOCBRADDIF, &ifr);
}

/* ---- the uplink ---- */

/* The core may have given this domain an uplink (xl.cfg `uplink`): a veth
 * end in our namespace, named in /local/domain/<self>/uplink/ifname, that
 * joins the bridge named in .../uplink/bridge. Plugged UPLINK_DELAY_MS
 * after the first vif's prepare, from the loop (the two reads are not in
 * the way of the guests' handshakes, which follow the prepare at once),
 * so that guests on that bridge reach the host.
 * A missing or broken uplink is logged; the guests still reach each other. */
static void uplink_plug(struct drvdom *dd)
{
	struct bhxs *xs = drvdom_store(dd);
	char p[96], *ifname = NULL, *br = NULL;
	size_t len;
	int rc;

	snprintf(p, sizeof(p), "/local/domain/%u/uplink/ifname", drvdom_domid(dd));
	if (!xs || bhxs_read(xs, 0, p, &ifname, &len) < 0)
		return; /* no uplink */
	snprintf(p, sizeof(p), "/local/domain/%u/uplink/bridge", drvdom_domid(dd));
	if (bhxs_read(xs, 0, p, &br, &len) < 0 || !br[0])
		rc = -ENOENT;
	else if (strlen(ifname) >= IFNAMSIZ || strlen(br) >= IFNAMSIZ)
		rc = -ENAMETOOLONG;
	else if ((rc = bridge_ensure(br)) == 0 && (rc = bridge_add(br, ifname)) == 0)
		rc = link_up(ifname);
	if (rc < 0)
		bh_warn(&svc.log, "uplink %s on bridge %s: %s", ifname, br ? br : "?",
		        bh_strerror(rc));
	else
		bh_info(&svc.log, "uplink %s on bridge %s", ifname, br);
	free(ifname);
	free(br);
}

/* ---- the store ---- */

static int read_config(struct vif *v)
{
	struct drvdom_dev *dev = v->dev;
	char *s = NULL;
	unsigned long long mtu;

	v->cfg.frontend_domid = (uint16_t)dev->fe_domid;
	v->cfg.devid = dev->devid;
	if (drvdom_be_read_str(dev, "mac", &s) == 0)
		sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &v->cfg.mac[0], &v->cfg.mac[1],
		       &v->cfg.mac[2], &v->cfg.mac[3], &v->cfg.mac[4], &v->cfg.mac[5]);
	free(s);
	s = NULL;
	bh_strlcpy(v->cfg.bridge, DEFAULT_BRIDGE, sizeof(v->cfg.bridge));
	if (drvdom_be_read_str(dev, "bridge", &s) == 0 && s[0]) {
		if (strlen(s) >= sizeof(v->cfg.bridge)) {
			drvdom_dev_error(dev, -ENAMETOOLONG, "bridge name %s too long", s);
			free(s);
			return -ENAMETOOLONG;
		}
		bh_strlcpy(v->cfg.bridge, s, sizeof(v->cfg.bridge));
	}
	free(s);
	s = NULL;
	/* ip= "a.b.c.d e.f.g.h": the only sources the guest may use. */
	if (drvdom_be_read_str(dev, "ip", &s) == 0) {
		for (char *save, *t = strtok_r(s, " ,", &save); t && v->cfg.nr_ips < NETBK_MAX_IPS;
		     t = strtok_r(NULL, " ,", &save)) {
			struct in_addr a;
			char *slash = strchr(t, '/');
			if (slash)
				*slash = 0;
			if (inet_pton(AF_INET, t, &a) != 1) {
				drvdom_dev_error(dev, -EINVAL, "ip: %s is not an IPv4 address", t);
				free(s);
				return -EINVAL;
			}
			v->cfg.ips[v->cfg.nr_ips++] = a.s_addr;
		}
	}
	free(s);
	s = NULL;
	/* rate "BYTES,USEC", as libxl writes it. */
	if (drvdom_be_read_str(dev, "rate", &s) == 0) {
		unsigned long long bytes, usec;
		if (sscanf(s, "%llu,%llu", &bytes, &usec) == 2 && usec > 0 && usec <= UINT32_MAX) {
			v->cfg.rate_bytes = bytes;
			v->cfg.rate_usec = (uint32_t)usec;
		}
	}
	free(s);
	s = NULL;
	drvdom_be_read_uint_def(dev, "mtu", 1500, &mtu);
	v->cfg.mtu = (uint32_t)BH_MIN(mtu, 65535ull);
	if (drvdom_be_read_str(dev, "vifname", &s) == 0 && s[0] && strlen(s) < IFNAMSIZ)
		bh_strlcpy(v->ifname, s, sizeof(v->ifname));
	else
		snprintf(v->ifname, sizeof(v->ifname), "vif%u.%u", dev->fe_domid, dev->devid);
	free(s);
	return 0;
}

static int vif_probe(struct drvdom_dev *dev)
{
	struct drvdom_nodes ns;
	struct vif *v;
	int rc;

	if ((rc = svc_up(dev->dd)) < 0) {
		drvdom_dev_error(dev, rc, "starting the network engine");
		return rc;
	}
	if (!(v = calloc(1, sizeof(*v))))
		return -ENOMEM;
	v->dev = dev;
	v->tap = -1;
	if ((rc = read_config(v)) < 0)
		goto fail;
	if ((rc = bridge_ensure(v->cfg.bridge)) < 0) {
		drvdom_dev_error(dev, rc, "bridge %s", v->cfg.bridge);
		goto fail;
	}
	drvdom_nodes_init(&ns);
	drvdom_nodes_add(&ns, "feature-sg", "1");
	drvdom_nodes_add(&ns, "feature-gso-tcpv4", "1");
	drvdom_nodes_add(&ns, "feature-gso-tcpv6", "1");
	drvdom_nodes_add(&ns, "feature-ipv6-csum-offload", "1");
	drvdom_nodes_add(&ns, "feature-rx-copy", "1");
	drvdom_nodes_add(&ns, "feature-rx-flip", "0");
	drvdom_nodes_add(&ns, "feature-split-event-channels", "1");
	drvdom_nodes_add(&ns, "feature-multicast-control", "0");
	drvdom_nodes_add(&ns, "multi-queue-max-queues", "1");
	if ((rc = drvdom_publish(dev, &ns)) < 0)
		goto fail;
	dev->priv = v;
	return 0;
fail:
	free(v);
	return rc;
}

static uint32_t frontend_features(struct drvdom_dev *dev)
{
	static const struct {
		const char *key;
		uint32_t bit;
	} keys[] = {
		{ "feature-sg", NETBK_F_SG },
		{ "feature-gso-tcpv4", NETBK_F_GSO_TCPV4 },
		{ "feature-gso-tcpv6", NETBK_F_GSO_TCPV6 },
		{ "feature-no-csum-offload", NETBK_F_NO_CSUM },
		{ "feature-ipv6-csum-offload", NETBK_F_IPV6_CSUM },
		{ "feature-rx-notify", NETBK_F_RX_NOTIFY },
	};
	uint32_t f = NETBK_F_RX_COPY;
	unsigned long long v;

	for (size_t i = 0; i < BH_ARRAY_SIZE(keys); i++)
		if (drvdom_fe_read_uint_def(dev, keys[i].key, 0, &v) == 0 && v == 1)
			f |= keys[i].bit;
	return f & (OFFERED | NETBK_F_NO_CSUM);
}

/* The vif's interface: a TAP the core makes in our network namespace, up
 * and on its bridge. Persistent, so that a crash of this process does not
 * unregister the interface on its way out: closing a TAP that is not
 * persistent unregisters it in the exiting task (~20 ms each, RCU waits),
 * and the core sees the death, and restarts us, only after that. A dead
 * generation's persistent TAPs go with its network namespace, which the
 * kernel takes down asynchronously. tap_discard and a disconnect delete
 * the interface (tap_unpersist). */
static int tap_make(struct vif *v, int *out)
{
	int tap = -1, rc;

	if ((rc = bhctl_device_tap(xen_hcall(), v->ifname, BH_TAP_VNET_HDR, &tap)) < 0)
		return rc;
	if ((rc = link_up(v->ifname)) < 0 || (rc = bridge_add(v->cfg.bridge, v->ifname)) < 0) {
		close(tap);
		return rc;
	}
	if (ioctl(tap, TUNSETPERSIST, 1) < 0 && !svc.persist_warned) {
		svc.persist_warned = true;
		bh_warn(&v->dev->log, "%s: TUNSETPERSIST: %s (a crash takes longer to notice)",
		        v->ifname, bh_strerror(-errno));
	}
	*out = tap;
	return 0;
}

/* One rtnetlink request about interface NAME (TYPE, FLAGS added to
 * NLM_F_REQUEST; a RTM_GETLINK asks for no statistics) and its answer in
 * ANS: the bytes received, or -errno. */
static ssize_t link_call(uint16_t type, uint16_t flags, const char *name, void *ans, size_t cap)
{
	struct {
		struct nlmsghdr n;
		struct ifinfomsg i;
		char attrs[RTA_SPACE(IFNAMSIZ) + RTA_SPACE(sizeof(uint32_t))];
	} req = { 0 };
	struct rtattr *a = (struct rtattr *)req.attrs, *m;
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	uint32_t mask = RTEXT_FILTER_SKIP_STATS;
	ssize_t r;

	if (s < 0)
		return -errno;
	a->rta_type = IFLA_IFNAME;
	a->rta_len = (unsigned short)RTA_LENGTH(strlen(name) + 1);
	memcpy(RTA_DATA(a), name, strlen(name) + 1);
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(req.i)) + RTA_ALIGN(a->rta_len);
	if (type == RTM_GETLINK) {
		m = (struct rtattr *)(req.attrs + RTA_ALIGN(a->rta_len));
		m->rta_type = IFLA_EXT_MASK;
		m->rta_len = (unsigned short)RTA_LENGTH(sizeof(mask));
		memcpy(RTA_DATA(m), &mask, sizeof(mask));
		req.n.nlmsg_len += RTA_ALIGN(m->rta_len);
	}
	req.n.nlmsg_type = type;
	req.n.nlmsg_flags = NLM_F_REQUEST | flags;
	req.i.ifi_family = AF_UNSPEC;
	if (send(s, &req, req.n.nlmsg_len, 0) < 0 || (r = recv(s, ans, cap, 0)) < 0)
		r = -errno;
	close(s);
	return r;
}

/* The interface NAME deleted (RTM_DELLINK by name): 0 or -errno. */
static int link_delete(const char *name)
{
	struct {
		struct nlmsghdr n;
		struct nlmsgerr e;
	} ack;
	ssize_t r = link_call(RTM_DELLINK, NLM_F_ACK, name, &ack, sizeof(ack));

	if (r < 0)
		return (int)r;
	return (size_t)r >= sizeof(ack) && ack.n.nlmsg_type == NLMSG_ERROR ? ack.e.error : 0;
}

/* The index of the master of interface NAME (RTM_GETLINK by name), 0 if
 * it has none, or -errno. */
static int link_master(const char *name)
{
	union {
		struct nlmsghdr n;
		char buf[16384]; /* a link's answer can pass a page */
	} ans;
	ssize_t r = link_call(RTM_GETLINK, 0, name, &ans, sizeof(ans));
	int rc = -EIO;

	if (r < 0)
		return (int)r;
	if (!NLMSG_OK(&ans.n, (unsigned)r))
		return -EIO;
	if (ans.n.nlmsg_type == NLMSG_ERROR)
		return ((struct nlmsgerr *)NLMSG_DATA(&ans.n))->error;
	if (ans.n.nlmsg_type == RTM_NEWLINK) {
		struct ifinfomsg *ifi = NLMSG_DATA(&ans.n);
		int len = (int)IFLA_PAYLOAD(&ans.n);

		rc = 0;
		for (struct rtattr *at = IFLA_RTA(ifi); RTA_OK(at, len); at = RTA_NEXT(at, len))
			if (at->rta_type == IFLA_MASTER && RTA_PAYLOAD(at) >= sizeof(uint32_t))
				rc = (int)*(uint32_t *)RTA_DATA(at);
	}
	return rc;
}

/* Let go of: its interface deleted, not just its last close. The core
 * holds a reference to every TAP it made for us (so that our crash does
 * not wait for each queue to detach: docs/driverdom.md), which would keep
 * the interface, and its name, after our close. */
static void tap_unpersist(int tap)
{
	struct ifreq ifr = { 0 };

	if (ioctl(tap, TUNGETIFF, &ifr) == 0 && ifr.ifr_name[0]) {
		ifr.ifr_name[IFNAMSIZ - 1] = '\0';
		if (link_delete(ifr.ifr_name) == 0)
			return;
	}
	if (ioctl(tap, TUNSETPERSIST, 0) < 0) {
		/* it was not persistent (tap_make): the close removes it anyway */
	}
}

/* A TAP no engine took. */
static void tap_discard(int tap)
{
	tap_unpersist(tap);
	close(tap);
}

static void on_uplink(void *arg)
{
	drvdom_del_fd(svc.uplink_fd);
	svc.uplink_fd = NULL;
	close(svc.uplink_timer);
	svc.uplink_timer = -1;
	uplink_plug(arg);
}

/* uplink_plug from the loop, a little later (at once if no timer). */
static void uplink_later(struct drvdom *dd)
{
	struct itimerspec its = { { 0, 0 }, { 0, UPLINK_DELAY_MS * 1000000L } };

	svc.uplink_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (svc.uplink_timer < 0 || timerfd_settime(svc.uplink_timer, 0, &its, NULL) < 0 ||
	    drvdom_add_fd(dd, svc.uplink_timer, on_uplink, dd, &svc.uplink_fd) < 0)
		on_uplink(dd);
}

/* Before the frontend is looked at: the interface is made and bridged (a
 * core call and two RTNL ioctls that the connect does not do any more),
 * and a restart's guests publish their rings meanwhile. Frames the
 * bridge sends it wait in the TAP for the connect. */
static void vif_prepare(struct drvdom_dev *dev)
{
	struct vif *v = dev->priv;
	int rc;

	if (!svc.uplink_tried) {
		svc.uplink_tried = true;
		uplink_later(dev->dd);
	}
	if (!v || v->tap >= 0)
		return;
	if ((rc = tap_make(v, &v->tap)) < 0) {
		v->tap = -1;
		bh_warn(&dev->log, "making %s ahead: %s (the connect tries again)", v->ifname,
		        bh_strerror(rc));
	}
}

static int vif_connect(struct drvdom_dev *dev)
{
	struct vif *v = dev->priv;
	unsigned long long tx, rx, port, rxport = 0, copy;
	bool split;
	int tap = -1, rc;

	if ((rc = drvdom_fe_read_uint(dev, "tx-ring-ref", &tx)) < 0 ||
	    (rc = drvdom_fe_read_uint(dev, "rx-ring-ref", &rx)) < 0 || tx > UINT32_MAX ||
	    rx > UINT32_MAX) {
		drvdom_dev_error(dev, rc < 0 ? rc : -ERANGE, "reading tx-ring-ref/rx-ring-ref");
		return rc < 0 ? rc : -ERANGE;
	}
	/* Split channels (TX and RX apart) when the frontend took them. */
	split = drvdom_fe_read_uint(dev, "event-channel-tx", &port) == 0;
	if (split ? (rc = drvdom_fe_read_uint(dev, "event-channel-rx", &rxport)) < 0 ||
	                port > UINT32_MAX || rxport > UINT32_MAX
	          : (rc = drvdom_fe_read_uint(dev, "event-channel", &port)) < 0 ||
	                port > UINT32_MAX) {
		drvdom_dev_error(dev, rc < 0 ? rc : -ERANGE,
		                 split ? "reading event-channel-rx" : "reading event-channel");
		return rc < 0 ? rc : -ERANGE;
	}
	if (drvdom_fe_read_uint_def(dev, "request-rx-copy", 0, &copy) < 0 || copy != 1) {
		drvdom_dev_error(dev, -EOPNOTSUPP, "the frontend must use request-rx-copy");
		return -EOPNOTSUPP;
	}
	if ((rc = netbk_gntmap_xen_bind(&svc.x, (uint16_t)dev->fe_domid, (uint32_t)port,
	                                &v->port)) < 0) {
		drvdom_dev_error(dev, rc, "binding event channel %llu", port);
		return rc;
	}
	v->rx_port = 0;
	if (split && (rc = netbk_gntmap_xen_bind(&svc.x, (uint16_t)dev->fe_domid, (uint32_t)rxport,
	                                         &v->rx_port)) < 0) {
		drvdom_dev_error(dev, rc, "binding event channel %llu (rx)", rxport);
		goto unbind;
	}
	v->cfg.tx_ring_ref = (uint32_t)tx;
	v->cfg.rx_ring_ref = (uint32_t)rx;
	v->cfg.tx_port = v->port;
	v->cfg.rx_port = split ? v->rx_port : v->port;
	v->cfg.features = frontend_features(dev);
	tap = v->tap; /* vif_prepare's, if it worked */
	v->tap = -1;
	if (tap < 0 && (rc = tap_make(v, &tap)) < 0) {
		drvdom_dev_error(dev, rc, "setting up %s on %s", v->ifname, v->cfg.bridge);
		goto unbind;
	}
	if ((rc = netback_tap_prepare(tap, v->cfg.features)) < 0) {
		drvdom_dev_error(dev, rc, "setting up %s's offloads", v->ifname);
		tap_discard(tap);
		goto unbind;
	}
	v->cfg.tap_fd = tap;
	if ((rc = netback_vif_connect(svc.nb, &v->cfg, &v->nv)) < 0) {
		drvdom_dev_error(dev, rc, "mapping the rings");
		tap_discard(tap);
		goto unbind;
	}
	drvdom_add_fd(dev->dd, tap, on_tap, v, &v->tap_fd);
	v->broken = false;
	v->next = svc.vifs;
	svc.vifs = v;
	svc.nvifs++;
	if (v->rx_port)
		bh_info(&dev->log, "%s on %s, event channels tx %u rx %u%s", v->ifname,
		        v->cfg.bridge, v->port, v->rx_port, v->cfg.nr_ips ? ", anti-spoofing" : "");
	else
		bh_info(&dev->log, "%s on %s, event channel %u%s", v->ifname, v->cfg.bridge,
		        v->port, v->cfg.nr_ips ? ", anti-spoofing" : "");
	/* Not served here: the runtime switches to Connected when this
	 * returns, and serving first (a guest's packets queued while we were
	 * away, each a hypercall or two) held that switch, and the next
	 * vif's connect, back by 1-8 ms after a restart. */
	serve_soon();
	return 0;
unbind:
	unbind_ports(v);
	return rc;
}

/* The vif's event channel(s); a port of 0 was never bound or is gone. */
static void unbind_ports(struct vif *v)
{
	uint32_t ports[2] = { v->port, v->rx_port };

	for (int i = 0; i < 2; i++) {
		struct ioctl_evtchn_unbind ub = { .port = ports[i] };
		if (ports[i])
			xen_ioctl(svc.x.evtchn, IOCTL_EVTCHN_UNBIND, &ub);
	}
	v->port = v->rx_port = 0;
}

static void vif_disconnect(struct drvdom_dev *dev)
{
	struct vif *v = dev->priv;

	if (!v->nv)
		return;
	for (struct vif **pp = &svc.vifs; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	drvdom_del_fd(v->tap_fd);
	v->tap_fd = NULL;
	tap_unpersist(v->cfg.tap_fd);
	netback_vif_disconnect(v->nv); /* closes the TAP: the interface goes */
	v->nv = NULL;
	unbind_ports(v);
	svc.nvifs--;
}

/* An injected fault (bh inject; driverdom/inject.c) on the served vif. */
static int vif_inject(struct drvdom_dev *dev, const char *fault, unsigned ms)
{
	struct vif *v = dev->priv;
	int rc;

	if (!v || !v->nv)
		return -ENOTCONN;
	if (strcmp(fault, "corrupt") == 0)
		return netback_vif_inject(v->nv, NETBK_FAULT_CORRUPT, 0);
	if (strcmp(fault, "drop-notify") == 0)
		return netback_vif_inject(v->nv, NETBK_FAULT_DROP_NOTIFY, ms);
	if (strcmp(fault, "close-channel") != 0)
		return -EOPNOTSUPP;
	if ((rc = netback_vif_inject(v->nv, NETBK_FAULT_CLOSE_CHANNEL, 0)) < 0)
		return rc;
	unbind_ports(v); /* no ports: disconnect's unbind must not hit reused ones */
	return 0;
}

static void vif_remove(struct drvdom_dev *dev)
{
	struct vif *v = dev->priv;

	if (v && v->tap >= 0)
		tap_discard(v->tap);
	free(dev->priv);
	dev->priv = NULL;
}

const struct drvdom_backend_ops vif_backend = {
	.type = "vif",
	.probe = vif_probe,
	.prepare = vif_prepare,
	.connect = vif_connect,
	.disconnect = vif_disconnect,
	.remove = vif_remove,
	.inject = vif_inject,
};
