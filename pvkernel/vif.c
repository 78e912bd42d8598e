/* The network frontend of the PV kernel (vif.h).
 *
 * Handshake, as Linux netfront (protocol-facts §3.4, §3.5): wait for the
 * backend's InitWait, read its features, allocate the rings (bhnetfront),
 * write tx-ring-ref, rx-ring-ref, event-channel, request-rx-copy and our
 * features, and go straight to Connected; the backend follows. Then the
 * guest's interface: a TAP with a virtio-net header that the core creates
 * in our network namespace (we cannot open /dev/net/tun), with the MAC of
 * the store, and one thread per interface running netfront_pump().
 *
 * Recover: as the block frontend (xbfront.h, pvk_fe_follow), a watch on
 * the backend's state node, handled on the store loop's thread
 * (pvk_vif_watch), notices a backend that went away. The interface's
 * carrier goes off (the guest's stack stops sending to it and its routes
 * and addresses stay), the pump thread stops, and the rings, their grants
 * and the event channel are dropped with whatever packets were on them:
 * TCP retransmits those. As soon as the toolstack has written the
 * backend's directory again (Initialising) the handshake is redone on new
 * rings, grants and event channel, on the features the backend offered
 * last (link_attach_early: the new backend finds them ready and connects
 * at once); its new offer is checked when it shows one (link_check), and
 * at its Connected the carrier comes back on.
 * The TAP, and with it the guest's eth0, its MAC, addresses and
 * connections, stays throughout. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "common/util.h"
#include "ioctl/bhctl.h"
#include "ioctl/xendev.h"
#include "netfront/netfront.h"
#include "netfront/netfront_xen.h"
#include "pvkernel/vif.h"
#include "pvkernel/xbfront.h"
#include "xenstored/bhxs.h"

#define HANDSHAKE_MS  10000
#define MAX_VIFS      8
#define TIDY_DELAY_MS 200

/* The backend's features that the handshake reads (read_backend). */
enum { BE_RX_COPY, BE_SG, BE_GSO_TCPV4, BE_GSO_TCPV6, BE_SPLIT, BE_NKEYS };

/* One set of rings, their buffers' grants and event channels. */
struct rings {
	struct vif *v;
	struct netfront_xen x;    /* x.evtchn < 0: no event channel */
	struct netfront_ops xops; /* over x */
	struct netfront *nf;
	/* A spare's two unbound ports, allocated with it for ahead_for
	 * (rings_ports_ahead); nahead < 2: none, attach allocates them */
	uint32_t ahead[2];
	unsigned nahead;
	uint16_t ahead_for;
};

struct vif {
	char ifname[IFNAMSIZ];
	struct pvk_fe_link link;
	uint16_t backend_id;
	uint32_t features; /* NETFRONT_F_* of the current rings */
	/* The features the backend offered last (bef_known), which an early
	 * attach (link_attach_early) publishes a new ring on. */
	unsigned long long bef[BE_NKEYS];
	bool bef_known;
	/* What the backend offers, read with its state by pvk_vif_watch while
	 * an early attach waits (fresh_ok): link_check's, no second read. */
	unsigned long long fresh[BE_NKEYS];
	bool fresh_ok;
	uint32_t tap_features; /* what the TAP's offloads were set for */
	uint8_t mac[6];
	/* cur: in use (NULL: detached). spare: made ahead, never published,
	 * for the next reconnection (allocating and granting 514 pages took
	 * ~10-20 ms of it). old: a dead backend's, freed after the link is
	 * back (freeing them took as long). Only the store thread changes
	 * them; the pump uses cur->nf while `pumping`. */
	struct rings *cur, *spare, *old;
	int tap;
	/* The pump's poll waits on `poll_fd`, an epoll set of the event
	 * channel and `wake`, an eventfd the store thread writes to stop it
	 * without waiting out its timeout. */
	int poll_fd, wake;
	/* Under `lock`: the link's phase, and `pumping` while the pump thread
	 * uses nf and tap without the lock (they stay until it stops). */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool pumping, broken, carrier_warned;
	struct bh_log log;
	void (*say)(void *, const char *);
	void *say_arg;
};

static struct vif *vifs[MAX_VIFS];
static unsigned nvifs;

/* netfront_ops over a rings' netfront_xen, but polling the vif's poll_fd. */
static void *op_alloc(void *ctx, uint16_t backend, unsigned count, bool writable, uint32_t *refs)
{
	struct rings *r = ctx;

	return r->xops.alloc(r->xops.ctx, backend, count, writable, refs);
}

static void op_free(void *ctx, void *pages, const uint32_t *refs, unsigned count)
{
	struct rings *r = ctx;

	r->xops.free(r->xops.ctx, pages, refs, count);
}

static int op_notify(void *ctx, uint32_t port)
{
	struct rings *r = ctx;

	return r->xops.notify(r->xops.ctx, port);
}

static int op_port_fd(void *ctx, uint32_t port)
{
	(void)port;
	return ((struct rings *)ctx)->v->poll_fd;
}

static void op_port_ack(void *ctx, uint32_t port)
{
	struct rings *r = ctx;
	uint64_t n;

	if (read(r->v->wake, &n, sizeof(n)) < 0) {
		/* EAGAIN: it was the event channel */
	}
	r->xops.port_ack(r->xops.ctx, port);
}

static const struct netfront_ops vif_ops = {
	.alloc = op_alloc,
	.free = op_free,
	.notify = op_notify,
	.port_fd = op_port_fd,
	.port_ack = op_port_ack,
};

/* The backend's features, one batch. As Linux's xenbus_read_unsigned, a
 * key that is missing or not a number is 0 (the feature is off). With
 * STATE, the backend's state in the same batch (pvk_fe_read_state's). */
static int read_backend(struct bhxs *xs, const char *be, unsigned long long v[BE_NKEYS],
                        long long *state)
{
	struct pvk_fe_key k[BE_NKEYS] = {
		[BE_RX_COPY] = { "feature-rx-copy", 0, &v[BE_RX_COPY] },
		[BE_SG] = { "feature-sg", 0, &v[BE_SG] },
		[BE_GSO_TCPV4] = { "feature-gso-tcpv4", 0, &v[BE_GSO_TCPV4] },
		[BE_GSO_TCPV6] = { "feature-gso-tcpv6", 0, &v[BE_GSO_TCPV6] },
		[BE_SPLIT] = { "feature-split-event-channels", 0, &v[BE_SPLIT] },
	};
	bool bad_key = false;
	int rc;

	if (state)
		*state = pvk_fe_read_state_uints(xs, be, k, BE_NKEYS, &rc);
	else
		rc = pvk_fe_read_uints(xs, be, k, BE_NKEYS);
	for (size_t i = 0; i < BE_NKEYS; i++)
		bad_key |= k[i].rc < 0;
	return bad_key ? 0 : rc; /* a bad key is an offer not made; else the connection's */
}

/* RX_PORT != PORT: split event channels (event-channel-tx/-rx). One batch,
 * the state last (pvk_fe_write_batch): one round trip to the store where
 * a transaction took thirteen. */
static int write_frontend(struct bhxs *xs, const char *fe, const struct netfront_info *ni,
                          uint32_t port, uint32_t rx_port, uint32_t features)
{
	static const struct {
		const char *key;
		uint32_t feature; /* 0: always 1 */
		bool negate;
	} keys[] = {
		{ "request-rx-copy", 0, false },
		{ "feature-rx-notify", 0, false },
		{ "feature-sg", NETFRONT_F_SG, false },
		{ "feature-gso-tcpv4", NETFRONT_F_GSO_TCPV4, false },
		{ "feature-gso-tcpv6", NETFRONT_F_GSO_TCPV6, false },
		{ "feature-no-csum-offload", NETFRONT_F_CSUM, true },
	};
	struct pvk_fe_batch *b = calloc(1, sizeof(*b));
	int rc;

	if (!b)
		return -ENOMEM;
	pvk_fe_put(b, fe, "tx-ring-ref", "%u", ni->tx_ring_ref);
	pvk_fe_put(b, fe, "rx-ring-ref", "%u", ni->rx_ring_ref);
	pvk_fe_put(b, fe, rx_port != port ? "event-channel-tx" : "event-channel", "%u", port);
	if (rx_port != port)
		pvk_fe_put(b, fe, "event-channel-rx", "%u", rx_port);
	for (size_t i = 0; i < BH_ARRAY_SIZE(keys); i++) {
		bool on = keys[i].feature == 0 || (features & keys[i].feature);

		pvk_fe_put(b, fe, keys[i].key, "%s", on != keys[i].negate ? "1" : "0");
	}
	pvk_fe_put(b, fe, "state", "%u", XB_CONNECTED);
	rc = pvk_fe_write_batch(xs, b);
	free(b);
	return rc;
}

/* ip=client::gw:netmask:...:device — addresses by the classic ioctls. */
static int set_addr(int s, const char *ifname, unsigned long req, const char *addr)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	bh_strlcpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name));
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
		return -EINVAL;
	return ioctl(s, req, &ifr) < 0 ? -errno : 0;
}

static int configure_ip(const char *ifname, const struct pvk_ip *ip)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	if (ip->client[0])
		rc = set_addr(s, ifname, SIOCSIFADDR, ip->client);
	if (rc == 0 && ip->netmask[0])
		rc = set_addr(s, ifname, SIOCSIFNETMASK, ip->netmask);
	if (rc == 0 && ip->gateway[0] && strcmp(ip->gateway, "0.0.0.0") != 0) {
		struct rtentry rt = { 0 };
		struct sockaddr_in *gw = (struct sockaddr_in *)&rt.rt_gateway;
		((struct sockaddr_in *)&rt.rt_dst)->sin_family = AF_INET;
		((struct sockaddr_in *)&rt.rt_genmask)->sin_family = AF_INET;
		gw->sin_family = AF_INET;
		if (inet_pton(AF_INET, ip->gateway, &gw->sin_addr) != 1)
			rc = -EINVAL;
		rt.rt_flags = RTF_UP | RTF_GATEWAY;
		rt.rt_dev = (char *)ifname;
		if (rc == 0 && ioctl(s, SIOCADDRT, &rt) < 0)
			rc = -errno;
	}
	close(s);
	return rc;
}

/* The guest's eth: carrier off while there is no backend, so its stack
 * stops sending into a queue nobody reads (routes and addresses stay). */
static void set_carrier(struct vif *v, bool on)
{
	int c = on;

	if (v->tap >= 0 && ioctl(v->tap, TUNSETCARRIER, &c) < 0 && !v->carrier_warned) {
		v->carrier_warned = true;
		bh_warn(&v->log, "%s: carrier: %s (the link stays up, the pump stops)", v->ifname,
		        bh_strerror(-errno));
	}
}

static void rings_free(struct rings *r)
{
	if (!r)
		return;
	if (r->nf)
		netfront_destroy(r->nf);
	netfront_xen_close(&r->x);
	free(r);
}

/* Rings, buffers and grants for the backend, with no event channel and
 * nothing posted yet (netfront_bind at attach). */
static int rings_make(struct vif *v, struct rings **out)
{
	struct netfront_config cfg = { .backend_domid = v->backend_id, .unbound = true };
	struct netfront_ops ops = vif_ops;
	struct rings *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	r->v = v;
	r->x.gntalloc = r->x.evtchn = -1;
	if ((rc = netfront_xen_open(&r->x)) < 0) {
		rings_free(r);
		return rc;
	}
	netfront_xen_ops(&r->x, &r->xops);
	ops.ctx = r;
	if ((rc = netfront_create(&cfg, &ops, &v->log, &r->nf)) < 0) {
		rings_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* The dead connection's rings made the spare: the same pages and grants,
 * emptied, with an event channel device again (rings_stop closed it).
 * Freeing ~520 grants and making as many anew had cost ~15 ms of this
 * process's CPU and ~6 ms of the core's per interface, and with both
 * guests of a driver domain at it 200 ms after a restart, the guests'
 * packets stopped for 3-9 ms several times in a row (bench-net-recovery,
 * "after the recovery"). By now the backend that had them is gone: a
 * restart ended its generation, whose mappings the core dropped, and a
 * backend that only closed the device had unmapped them (a hostile one
 * could at worst keep pages granted to its own domain, which the next
 * connection grants it again anyway). */
static int rings_recycle(struct rings *r)
{
	if (!r->nf || r->x.evtchn >= 0)
		return -EINVAL;
	if ((r->x.evtchn = xen_open("/dev/xen/evtchn", O_RDWR | O_NONBLOCK)) < 0)
		return -errno;
	netfront_reset(r->nf);
	return 0;
}

/* A spare's event channels, allocated with it on the tidy thread: at the
 * reconnection they were two calls to the core on the guest's half of the
 * handshake (~0.1-0.2 ms, with the core busy restarting the backend).
 * Two unbound ports offered to the backend's domain; a backend without
 * split channels gets the first, and the second stays unused until the
 * rings' channel device is closed. The backend's live generation could
 * bind them meanwhile, as it could any port we offer its domain; a
 * restart comes after its death, which sends the ports back to unbound
 * (Xen's rule, and the core's), so the next generation binds them as
 * fresh ones. A backend that binds ports it was never told of, and then
 * merely reconnects, can only spoil its own connection with us. */
static void rings_ports_ahead(struct rings *r, uint16_t backend)
{
	r->nahead = 0;
	r->ahead_for = backend;
	while (r->nahead < 2 &&
	       netfront_xen_unbound_port(&r->x, backend, &r->ahead[r->nahead]) == 0)
		r->nahead++;
}

/* No more events from R's channels: they are closed. */
static void rings_stop(struct vif *v, struct rings *r)
{
	if (r->x.evtchn >= 0) {
		epoll_ctl(v->poll_fd, EPOLL_CTL_DEL, r->x.evtchn, NULL);
		xen_close(r->x.evtchn);
		r->x.evtchn = -1;
	}
}

/* Drops the rings with their grants and packets, and the event channel.
 * The pump thread is not pumping. */
static void detach(struct vif *v)
{
	if (v->cur) {
		rings_stop(v, v->cur);
		rings_free(v->cur);
	}
	v->cur = NULL;
}

/* A backend that does not offer rx-copy (Linux netback always has) is
 * refused: we never flip pages. */
static int refuse_flip(struct vif *v, const unsigned long long bef[BE_NKEYS])
{
	if (bef[BE_RX_COPY] == 1)
		return 0;
	pvk_fe_say(v->say, v->say_arg, "%s: backend %s does not offer rx-copy: refused", v->ifname,
	           v->link.be);
	return -EOPNOTSUPP;
}

/* Our half of the handshake on the backend's features BEF: new rings,
 * grants and event channel, published with state Connected. */
static int attach_on(struct bhxs *xs, struct vif *v, const unsigned long long bef[BE_NKEYS])
{
	struct netfront_config cfg = { 0 };
	struct netfront_info ni;
	struct epoll_event ev = { .events = EPOLLIN };
	uint32_t port = 0, rx_port;
	struct rings *r = v->spare;
	int rc;

	if ((rc = refuse_flip(v, bef)) < 0)
		return rc;
	cfg.backend_domid = v->backend_id;
	cfg.features = NETFRONT_F_CSUM;
	if (bef[BE_SG] == 1)
		cfg.features |= NETFRONT_F_SG;
	if (bef[BE_GSO_TCPV4] == 1)
		cfg.features |= NETFRONT_F_GSO_TCPV4;
	if (bef[BE_GSO_TCPV6] == 1)
		cfg.features |= NETFRONT_F_GSO_TCPV6;
	/* The spare made while the link was up, else new ones. */
	v->spare = NULL;
	if (!r && (rc = rings_make(v, &r)) < 0) {
		pvk_fe_say(v->say, v->say_arg, "%s: rings: %s", v->ifname, bh_strerror(rc));
		return rc;
	}
	v->cur = r;
	/* TX and RX apart when offered, as Linux's netfront does. */
	if (r->nahead == 2 && r->ahead_for == cfg.backend_domid) {
		port = r->ahead[0];
		rx_port = bef[BE_SPLIT] == 1 ? r->ahead[1] : port;
		rc = 0;
	} else {
		rc = netfront_xen_unbound_port(&r->x, cfg.backend_domid, &port);
		rx_port = port;
		if (rc == 0 && bef[BE_SPLIT] == 1)
			rc = netfront_xen_unbound_port(&r->x, cfg.backend_domid, &rx_port);
	}
	r->nahead = 0;
	if (rc == 0 && epoll_ctl(v->poll_fd, EPOLL_CTL_ADD, r->x.evtchn, &ev) < 0)
		rc = -errno;
	if (rc < 0) {
		pvk_fe_say(v->say, v->say_arg, "%s: event channel: %s", v->ifname, bh_strerror(rc));
		detach(v);
		return rc;
	}
	netfront_bind(r->nf, port, rx_port, cfg.features);
	netfront_info(r->nf, &ni);
	if ((rc = write_frontend(xs, v->link.fe, &ni, port, rx_port, cfg.features)) < 0) {
		pvk_fe_say(v->say, v->say_arg, "%s: publishing the rings: %s", v->ifname,
		           bh_strerror(rc));
		detach(v);
		return rc;
	}
	v->features = cfg.features;
	memcpy(v->bef, bef, sizeof(v->bef));
	v->bef_known = true;
	return 0;
}

/* Once the backend is at InitWait: its features read, then attach_on.
 * At boot and after the backend came back. */
static int attach(struct bhxs *xs, struct vif *v)
{
	unsigned long long bef[BE_NKEYS];
	int rc;

	if ((rc = read_backend(xs, v->link.be, bef, NULL)) < 0)
		return rc;
	return attach_on(xs, v, bef);
}

static void *pump_thread(void *arg)
{
	struct vif *v = arg;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		while (v->link.phase != PVK_FE_UP || v->broken)
			pthread_cond_wait(&v->cond, &v->lock);
		struct netfront *nf = v->cur->nf;
		v->pumping = true;
		pthread_mutex_unlock(&v->lock);
		int rc = netfront_pump(nf, v->tap, 1000);
		pthread_mutex_lock(&v->lock);
		v->pumping = false;
		pthread_cond_broadcast(&v->cond);
		if (rc == -EPIPE) {
			/* Until the backend goes away and comes back with new
			 * rings (a restart of its domain). */
			bh_warn(&v->log, "%s: the backend broke the protocol: interface stopped",
			        v->ifname);
			v->broken = true;
			set_carrier(v, false);
		}
	}
	return NULL;
}

/* ---- recovery (the store loop's thread; under v->lock) ---- */

static void link_down(void *arg, long long st)
{
	struct vif *v = arg;
	uint64_t one = 1;

	set_carrier(v, false);
	if (write(v->wake, &one, sizeof(one)) < 0) {
		/* the eventfd cannot overflow here; the pump's timeout still ends it */
	}
	while (v->pumping)
		pthread_cond_wait(&v->cond, &v->lock);
	/* The rings are dead from now on (their channels closed at once) but
	 * freed only after the link is back: not on the way. */
	if (v->cur) {
		rings_stop(v, v->cur);
		rings_free(v->old);
		v->old = v->cur;
		v->cur = NULL;
	}
	v->broken = false;
	pvk_fe_say(v->say, v->say_arg,
	           "%s: backend %s went away (state %s): link down until it is back", v->ifname,
	           v->link.be, pvk_fe_state_name(st));
}

static void link_drop(void *arg)
{
	detach(arg);
}

static int link_attach(struct bhxs *xs, void *arg)
{
	return attach(xs, arg);
}

/* The backend's directory is back before its InitWait: the new rings on
 * the features it offered last time (xbfront.h, attach_early). */
static int link_attach_early(struct bhxs *xs, void *arg)
{
	struct vif *v = arg;

	if (!v->bef_known)
		return -ENODATA;
	return attach_on(xs, v, v->bef);
}

/* The backend offers after an early attach: what it offers now. A
 * transmit offload it no longer takes is no longer used (the TAP's
 * offloads follow at link_up); the ring and what we said we receive
 * stand. A split channel it does not take makes it refuse the ring,
 * which xbfront's start-over answers with a handshake of the usual kind. */
static int link_check(struct bhxs *xs, void *arg)
{
	struct vif *v = arg;
	unsigned long long bef[BE_NKEYS];
	uint32_t f = v->features;
	int rc;

	if (v->fresh_ok)
		memcpy(bef, v->fresh, sizeof(bef));
	else if ((rc = read_backend(xs, v->link.be, bef, NULL)) < 0)
		return rc;
	v->fresh_ok = false;
	if ((rc = refuse_flip(v, bef)) < 0)
		return rc;
	if (bef[BE_SG] != 1)
		f &= ~(uint32_t)NETFRONT_F_SG;
	if (bef[BE_GSO_TCPV4] != 1)
		f &= ~(uint32_t)NETFRONT_F_GSO_TCPV4;
	if (bef[BE_GSO_TCPV6] != 1)
		f &= ~(uint32_t)NETFRONT_F_GSO_TCPV6;
	if (f != v->features) {
		pvk_fe_say(v->say, v->say_arg, "%s: backend %s offers fewer offloads than before",
		           v->ifname, v->link.be);
		netfront_set_features(v->cur->nf, f);
		v->features = f;
	}
	memcpy(v->bef, bef, sizeof(v->bef));
	return 0;
}

/* After a reconnection, as Linux netfront does (netdev_notify_peers): a
 * gratuitous ARP request for each IPv4 address of the interface, put on
 * the new TX ring before the pump starts. The guests' stacks forgot each
 * other's MACs when their carriers went off; a request for a peer whose
 * backend had not reconnected yet was lost (its TAP was not on the new
 * bridge), and Linux asks again only after a second: packets stopped
 * ~1 s instead of ~40 ms, now and then. The announcement completes such
 * a pending resolution on the peer (its incomplete entry for us is
 * updated), whichever of the two reconnects last. */
static void announce(struct vif *v)
{
	struct ifconf ifc;
	struct ifreq ifrs[16];
	size_t len = strlen(v->ifname);
	unsigned sent = 0;
	int s;

	if (!v->cur || (s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	ifc.ifc_len = sizeof(ifrs);
	ifc.ifc_req = ifrs;
	if (ioctl(s, SIOCGIFCONF, &ifc) < 0)
		ifc.ifc_len = 0;
	close(s);
	for (size_t i = 0; i < (size_t)ifc.ifc_len / sizeof(ifrs[0]); i++) {
		const char *n = ifrs[i].ifr_name;
		struct sockaddr_in *sin = (struct sockaddr_in *)&ifrs[i].ifr_addr;
		uint8_t f[60] = { 0 }; /* the shortest Ethernet frame */

		/* eth0 and its aliases (eth0:1) */
		if (strncmp(n, v->ifname, len) != 0 || (n[len] && n[len] != ':') ||
		    sin->sin_family != AF_INET)
			continue;
		memset(f, 0xff, 6);                            /* broadcast */
		memcpy(f + 6, v->mac, 6);                      /* from us */
		f[12] = 0x08, f[13] = 0x06;                    /* ARP */
		f[15] = 1, f[16] = 0x08, f[18] = 6, f[19] = 4; /* Ethernet, IPv4 */
		f[21] = 1;                                     /* request */
		memcpy(f + 22, v->mac, 6);                     /* sender: us */
		memcpy(f + 28, &sin->sin_addr, 4);
		memcpy(f + 38, &sin->sin_addr, 4); /* target: our own address */
		if (netfront_send(v->cur->nf, NULL, f, sizeof(f)) == 0)
			sent++;
	}
	if (sent)
		netfront_flush(v->cur->nf);
}

static void link_up(struct bhxs *xs, void *arg, uint64_t down_ms)
{
	struct vif *v = arg;

	(void)xs;
	if (v->features != v->tap_features) {
		/* What the guest's stack may hand us must match what the new
		 * backend takes. */
		if (ioctl(v->tap, TUNSETOFFLOAD, netfront_tap_offloads(v->features)) < 0)
			bh_warn(&v->log, "%s: offloads: %s", v->ifname, bh_strerror(-errno));
		v->tap_features = v->features;
	}
	set_carrier(v, true);
	announce(v);
	pvk_fe_say(v->say, v->say_arg, "%s: reconnected to %s after %llu ms", v->ifname, v->link.be,
	           (unsigned long long)down_ms);
	pthread_cond_broadcast(&v->cond);
}

/* With the link up: free a dead backend's rings and make a spare for the
 * next time, TIDY_DELAY_MS after the link came back, on a thread of its
 * own. Done at once on the store thread it took the CPU (~20-40 ms on 2
 * cores) while the other guests and the driver domain were still
 * reconnecting: packets flowed again 20-30 ms later. A restart within
 * the delay finds no spare and makes its rings then. */
static void *tidy_thread(void *arg)
{
	struct vif *v = arg;
	struct rings *old, *r;
	bool make;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		while (v->link.phase != PVK_FE_UP || (!v->old && v->spare))
			pthread_cond_wait(&v->cond, &v->lock);
		pthread_mutex_unlock(&v->lock);
		usleep(TIDY_DELAY_MS * 1000);
		pthread_mutex_lock(&v->lock);
		if (v->link.phase != PVK_FE_UP)
			continue;
		old = v->old;
		v->old = NULL;
		make = !v->spare;
		pthread_mutex_unlock(&v->lock);
		r = NULL;
		if (make && old && rings_recycle(old) == 0) {
			r = old;
			old = NULL;
		}
		rings_free(old);
		if (make && !r && rings_make(v, &r) < 0)
			r = NULL;
		if (r)
			rings_ports_ahead(r, v->backend_id);
		pthread_mutex_lock(&v->lock);
		if (r && !v->spare) {
			v->spare = r;
			r = NULL;
		}
		if (r) {
			pthread_mutex_unlock(&v->lock);
			rings_free(r);
			pthread_mutex_lock(&v->lock);
		}
		if (!v->spare)
			break; /* cannot make one: reconnections make their rings */
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

/* The backend's state, and while an early attach waits for its offer
 * what it offers, in the same round trip (link_check takes it). Only the
 * store thread moves the phase: read here without the lock. */
static long long backend_state(struct bhxs *xs, struct vif *v)
{
	long long st;

	v->fresh_ok = false;
	if (v->link.phase != PVK_FE_JOINING || !v->link.early)
		return pvk_fe_read_state(xs, v->link.be);
	if (read_backend(xs, v->link.be, v->fresh, &st) < 0)
		return -1;
	v->fresh_ok = true;
	return st;
}

bool pvk_vif_watch(struct bhxs *xs, const char *path, const char *token)
{
	unsigned i;
	struct vif *v;
	long long st;

	(void)path;
	if (sscanf(token, "vif-be-%u", &i) != 1)
		return false;
	if (i >= nvifs)
		return true;
	v = vifs[i];
	struct pvk_fe_link_ops ops = { .down = link_down,
		                       .drop = link_drop,
		                       .attach = link_attach,
		                       .attach_early = link_attach_early,
		                       .check = link_check,
		                       .up = link_up,
		                       .log = v->say,
		                       .log_arg = v->say_arg };
	st = backend_state(xs, v);
	pthread_mutex_lock(&v->lock);
	pvk_fe_follow(xs, &v->link, st, &ops, v);
	pthread_mutex_unlock(&v->lock);
	return true;
}

/* Waits against the monotonic clock, like every other wait here. */
static void cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

int pvk_vif_connect(struct bhxs *xs, const char *id, unsigned index, const struct pvk_cmdline *cmd,
                    void (*log)(void *, const char *), void *arg)
{
	char p[256], tok[32], *be = NULL, *macs = NULL;
	unsigned long long backend_id;
	uint8_t mac[6];
	size_t len;
	struct vif *v;
	pthread_t th;
	int rc;

	if (nvifs >= MAX_VIFS)
		return -ENOSPC;
	if (!(v = calloc(1, sizeof(*v))))
		return -ENOMEM;
	v->tap = v->wake = v->poll_fd = -1;
	v->say = log;
	v->say_arg = arg;
	pthread_mutex_init(&v->lock, NULL);
	cond_init(&v->cond);
	snprintf(v->ifname, sizeof(v->ifname), "eth%u", index);
	snprintf(v->link.what, sizeof(v->link.what), "%s", v->ifname);
	bh_log_init(&v->log, "netfront");
	snprintf(v->link.fe, sizeof(v->link.fe), "device/vif/%s", id);
	snprintf(p, sizeof(p), "%s/backend", v->link.fe);
	if ((rc = bhxs_read(xs, 0, p, &be, &len)) < 0 || strlen(be) >= sizeof(v->link.be)) {
		pvk_fe_say(log, arg, "vif %s: no backend in the store", id);
		rc = rc < 0 ? rc : -ENAMETOOLONG;
		goto out_free;
	}
	snprintf(v->link.be, sizeof(v->link.be), "%s", be);
	snprintf(p, sizeof(p), "%s/backend-id", v->link.fe);
	if ((rc = bhxs_read_uint(xs, 0, p, &backend_id)) < 0 || backend_id > 0x7fef) {
		pvk_fe_say(log, arg, "vif %s: no backend-id in the store", id);
		rc = rc < 0 ? rc : -EINVAL;
		goto out_free;
	}
	v->backend_id = (uint16_t)backend_id;
	snprintf(p, sizeof(p), "%s/mac", v->link.fe);
	if ((rc = bhxs_read(xs, 0, p, &macs, &len)) < 0 ||
	    sscanf(macs, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
	           &mac[4], &mac[5]) != 6) {
		pvk_fe_say(log, arg, "vif %s: no valid mac in the store", id);
		rc = -EINVAL;
		goto out_free;
	}
	memcpy(v->mac, mac, sizeof(v->mac));
	v->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v->poll_fd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	if (v->wake < 0 || v->poll_fd < 0 ||
	    epoll_ctl(v->poll_fd, EPOLL_CTL_ADD, v->wake, &ev) < 0) {
		rc = -errno;
		pvk_fe_say(log, arg, "%s: %s", v->ifname, bh_strerror(rc));
		goto out_free;
	}
	if ((rc = pvk_fe_wait_state(xs, be, XB_INITWAIT, HANDSHAKE_MS)) < 0) {
		pvk_fe_say(log, arg, "%s: backend %s did not offer the interface: %s", v->ifname,
		           be, bh_strerror(rc));
		goto out_free;
	}
	if ((rc = attach(xs, v)) < 0)
		goto out_free;
	if ((rc = pvk_fe_wait_state(xs, be, XB_CONNECTED, HANDSHAKE_MS)) < 0) {
		pvk_fe_say(log, arg, "%s: handshake with %s: %s", v->ifname, be, bh_strerror(rc));
		goto out_free;
	}
	if ((rc = bhctl_device_tap(xen_hcall(), v->ifname, BH_TAP_VNET_HDR, &v->tap)) < 0 ||
	    (rc = bh_set_nonblock(v->tap, 1)) < 0 ||
	    (rc = netfront_tap_setup(v->tap, v->ifname, v->features, mac, 0)) < 0) {
		pvk_fe_say(log, arg, "%s: interface: %s", v->ifname, bh_strerror(rc));
		goto out_free;
	}
	v->tap_features = v->features;
	if (cmd->ip.set &&
	    (cmd->ip.device[0] ? strcmp(cmd->ip.device, v->ifname) == 0 : index == 0) &&
	    (cmd->ip.client[0] || cmd->ip.gateway[0]) &&
	    (rc = configure_ip(v->ifname, &cmd->ip)) < 0)
		pvk_fe_say(log, arg, "%s: ip=: %s", v->ifname, bh_strerror(rc));
	v->link.phase = PVK_FE_UP;
	if ((rc = pthread_create(&th, NULL, pump_thread, v)) != 0) {
		rc = -rc;
		goto out_free;
	}
	pthread_detach(th);
	pvk_fe_say(log, arg, "%s: %s, backend %s%s%s", v->ifname, macs, be,
	           cmd->ip.client[0] ? ", address " : "", cmd->ip.client);
	if ((rc = pthread_create(&th, NULL, tidy_thread, v)) == 0)
		pthread_detach(th);
	/* From now on the store loop follows the backend (pvk_vif_watch);
	 * v lives as long as the pump. */
	vifs[nvifs] = v;
	snprintf(p, sizeof(p), "%s/state", be);
	snprintf(tok, sizeof(tok), "vif-be-%u", nvifs++);
	if ((rc = bhxs_watch(xs, p, tok)) < 0)
		pvk_fe_say(log, arg, "%s: cannot watch %s (%s): no recovery if it goes away",
		           v->ifname, p, bh_strerror(rc));
	free(be);
	free(macs);
	return 0;
out_free:
	detach(v);
	rings_free(v->spare);
	if (v->tap >= 0)
		close(v->tap);
	if (v->wake >= 0)
		close(v->wake);
	if (v->poll_fd >= 0)
		close(v->poll_fd);
	snprintf(p, sizeof(p), "%s/state", v->link.fe);
	bhxs_printf(xs, 0, p, "%u", XB_CLOSING);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->cond);
	free(be);
	free(macs);
	free(v);
	return rc;
}
