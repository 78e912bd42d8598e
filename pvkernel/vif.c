/* The network frontend of the PV kernel (vif.h).
 *
 * Handshake, as Linux netfront (protocol-facts §3.4, §3.5): wait for the
 * backend's InitWait, read its features, allocate the rings (bhnetfront),
 * write tx-ring-ref, rx-ring-ref, event-channel, request-rx-copy and our
 * features, and go straight to Connected; the backend follows. Then the
 * guest's interface: a TAP with a virtio-net header that the core creates
 * in our network namespace (we cannot open /dev/net/tun), with the MAC of
 * the store, and one thread per interface running netfront_pump(). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "ioctl/bhctl.h"
#include "ioctl/xendev.h"
#include "netfront/netfront.h"
#include "netfront/netfront_xen.h"
#include "pvkernel/vif.h"
#include "pvkernel/xbfront.h"
#include "xenstored/bhxs.h"

#define HANDSHAKE_MS 10000

struct vif {
	char ifname[IFNAMSIZ];
	struct netfront_xen x;
	struct netfront *nf;
	int tap;
	struct bh_log log;
};

static bool flag(struct bhxs *xs, const char *dir, const char *key)
{
	char p[256];
	unsigned long long v;

	snprintf(p, sizeof(p), "%s/%s", dir, key);
	return bhxs_read_uint(xs, 0, p, &v) == 0 && v == 1;
}

static int write_frontend(struct bhxs *xs, const char *fe, const struct netfront_info *ni,
                          uint32_t port, uint32_t features)
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
	bhxs_tx_t tx;
	char p[256];
	int rc;

	for (int tries = 0; tries < 10; tries++) {
		if ((rc = bhxs_transaction_start(xs, &tx)) < 0)
			return rc;
		snprintf(p, sizeof(p), "%s/tx-ring-ref", fe);
		rc = bhxs_printf(xs, tx, p, "%u", ni->tx_ring_ref);
		if (rc == 0) {
			snprintf(p, sizeof(p), "%s/rx-ring-ref", fe);
			rc = bhxs_printf(xs, tx, p, "%u", ni->rx_ring_ref);
		}
		if (rc == 0) {
			snprintf(p, sizeof(p), "%s/event-channel", fe);
			rc = bhxs_printf(xs, tx, p, "%u", port);
		}
		for (size_t i = 0; rc == 0 && i < BH_ARRAY_SIZE(keys); i++) {
			bool on = keys[i].feature == 0 || (features & keys[i].feature);
			snprintf(p, sizeof(p), "%s/%s", fe, keys[i].key);
			rc = bhxs_write_str(xs, tx, p, on != keys[i].negate ? "1" : "0");
		}
		if (rc == 0) {
			snprintf(p, sizeof(p), "%s/state", fe);
			rc = bhxs_printf(xs, tx, p, "%u", XB_CONNECTED);
		}
		if (rc < 0) {
			bhxs_transaction_end(xs, tx, false);
			return rc;
		}
		if ((rc = bhxs_transaction_end(xs, tx, true)) != -EAGAIN)
			return rc;
	}
	return -EAGAIN;
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

static void *pump_thread(void *arg)
{
	struct vif *v = arg;

	for (;;) {
		int rc = netfront_pump(v->nf, v->tap, 1000);
		if (rc == -EPIPE) {
			bh_warn(&v->log, "%s: the backend broke the protocol: interface stopped",
			        v->ifname);
			return NULL;
		}
	}
	return NULL;
}

int pvk_vif_connect(struct bhxs *xs, const char *id, unsigned index, const struct pvk_cmdline *cmd,
                    void (*log)(void *, const char *), void *arg)
{
	char fe[128], p[256], *be = NULL, *macs = NULL;
	unsigned long long backend_id;
	struct netfront_config cfg = { 0 };
	struct netfront_ops ops;
	struct netfront_info ni;
	uint8_t mac[6];
	uint32_t port;
	size_t len;
	struct vif *v = calloc(1, sizeof(*v));
	pthread_t th;
	int rc;

	if (!v)
		return -ENOMEM;
	v->tap = -1;
	snprintf(v->ifname, sizeof(v->ifname), "eth%u", index);
	bh_log_init(&v->log, "netfront");
	snprintf(fe, sizeof(fe), "device/vif/%s", id);
	snprintf(p, sizeof(p), "%s/backend", fe);
	if ((rc = bhxs_read(xs, 0, p, &be, &len)) < 0) {
		pvk_fe_say(log, arg, "vif %s: no backend in the store", id);
		goto out_free;
	}
	snprintf(p, sizeof(p), "%s/backend-id", fe);
	if ((rc = bhxs_read_uint(xs, 0, p, &backend_id)) < 0 || backend_id > 0x7fef) {
		pvk_fe_say(log, arg, "vif %s: no backend-id in the store", id);
		rc = rc < 0 ? rc : -EINVAL;
		goto out_free;
	}
	snprintf(p, sizeof(p), "%s/mac", fe);
	if ((rc = bhxs_read(xs, 0, p, &macs, &len)) < 0 ||
	    sscanf(macs, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
	           &mac[4], &mac[5]) != 6) {
		pvk_fe_say(log, arg, "vif %s: no valid mac in the store", id);
		rc = -EINVAL;
		goto out_free;
	}
	if ((rc = pvk_fe_wait_state(xs, be, XB_INITWAIT, HANDSHAKE_MS)) < 0) {
		pvk_fe_say(log, arg, "%s: backend %s did not offer the interface: %s", v->ifname,
		           be, bh_strerror(rc));
		goto out_free;
	}
	if (!flag(xs, be, "feature-rx-copy")) {
		pvk_fe_say(log, arg, "%s: backend %s does not offer rx-copy: refused", v->ifname,
		           be);
		rc = -EOPNOTSUPP;
		goto out_free;
	}
	cfg.backend_domid = (uint16_t)backend_id;
	cfg.features = NETFRONT_F_CSUM;
	if (flag(xs, be, "feature-sg"))
		cfg.features |= NETFRONT_F_SG;
	if (flag(xs, be, "feature-gso-tcpv4"))
		cfg.features |= NETFRONT_F_GSO_TCPV4;
	if (flag(xs, be, "feature-gso-tcpv6"))
		cfg.features |= NETFRONT_F_GSO_TCPV6;
	if ((rc = netfront_xen_open(&v->x)) < 0 ||
	    (rc = netfront_xen_unbound_port(&v->x, cfg.backend_domid, &port)) < 0) {
		pvk_fe_say(log, arg, "%s: event channel: %s", v->ifname, bh_strerror(rc));
		goto out_free;
	}
	cfg.tx_port = cfg.rx_port = port;
	netfront_xen_ops(&v->x, &ops);
	if ((rc = netfront_create(&cfg, &ops, &v->log, &v->nf)) < 0) {
		pvk_fe_say(log, arg, "%s: rings: %s", v->ifname, bh_strerror(rc));
		goto out_xen;
	}
	netfront_info(v->nf, &ni);
	if ((rc = write_frontend(xs, fe, &ni, port, cfg.features)) < 0 ||
	    (rc = pvk_fe_wait_state(xs, be, XB_CONNECTED, HANDSHAKE_MS)) < 0) {
		pvk_fe_say(log, arg, "%s: handshake with %s: %s", v->ifname, be, bh_strerror(rc));
		goto out_nf;
	}
	if ((rc = bhctl_device_tap(xen_hcall(), v->ifname, BH_TAP_VNET_HDR, &v->tap)) < 0 ||
	    (rc = bh_set_nonblock(v->tap, 1)) < 0 ||
	    (rc = netfront_tap_setup(v->tap, v->ifname, cfg.features, mac, 0)) < 0) {
		pvk_fe_say(log, arg, "%s: interface: %s", v->ifname, bh_strerror(rc));
		goto out_nf;
	}
	if (cmd->ip.set &&
	    (cmd->ip.device[0] ? strcmp(cmd->ip.device, v->ifname) == 0 : index == 0) &&
	    (cmd->ip.client[0] || cmd->ip.gateway[0]) &&
	    (rc = configure_ip(v->ifname, &cmd->ip)) < 0)
		pvk_fe_say(log, arg, "%s: ip=: %s", v->ifname, bh_strerror(rc));
	if ((rc = pthread_create(&th, NULL, pump_thread, v)) != 0) {
		rc = -rc;
		goto out_nf;
	}
	pthread_detach(th);
	pvk_fe_say(log, arg, "%s: %s, backend %s%s%s", v->ifname, macs, be,
	           cmd->ip.client[0] ? ", address " : "", cmd->ip.client);
	free(be);
	free(macs);
	return 0; /* v lives as long as the pump */
out_nf:
	netfront_destroy(v->nf);
out_xen:
	netfront_xen_close(&v->x);
out_free:
	if (v->tap >= 0)
		close(v->tap);
	snprintf(p, sizeof(p), "%s/state", fe);
	bhxs_printf(xs, 0, p, "%u", XB_CLOSING);
	free(be);
	free(macs);
	free(v);
	return rc;
}
