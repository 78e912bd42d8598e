/* bhnetback: vifs, their lifetimes, and the round-robin service loop. */
#include "netback/netbk_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>

#include "common/util.h"

int netback_create(const struct netbk_gntmap_ops *ops, const struct bh_log *log,
                   struct netback **out)
{
	struct netback *nb = calloc(1, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	nb->ops = *ops;
	if (log)
		nb->log = *log;
	else
		bh_log_init(&nb->log, "netback");
	nb->budget = NETBK_DEFAULT_BUDGET;
	*out = nb;
	return 0;
}

void netback_destroy(struct netback *nb)
{
	if (!nb)
		return;
	while (nb->vifs)
		netback_vif_disconnect(nb->vifs);
	free(nb);
}

void netback_set_budget(struct netback *nb, unsigned budget)
{
	nb->budget = budget ? budget : 1;
}

void netback_set_rx_wait(struct netback *nb, unsigned ms)
{
	nb->rx_wait_ns = (uint64_t)ms * 1000000ull;
}

bool netback_vif_rx_blocked(const struct netbk_vif *vif)
{
	return vif->state == NETBK_VIF_CONNECTED && vif->rx_blocked;
}

static int vif_check_config(const struct netbk_vif_config *cfg)
{
	if (!(cfg->features & NETBK_F_RX_COPY))
		return -EOPNOTSUPP; /* page flipping is not offered */
	if (cfg->tap_fd < 0 || cfg->nr_ips > NETBK_MAX_IPS)
		return -EINVAL;
	if (cfg->rate_bytes && !cfg->rate_usec)
		return -EINVAL;
	if (cfg->mtu && (cfg->mtu < 68 || cfg->mtu > NETIF_MAX_PACKET - NETIF_ETH_HLEN - 4))
		return -EINVAL;
	return 0;
}

static int vif_map(struct netbk_vif *vif)
{
	struct netbk_gntmap_ops *ops = &vif->nb->ops;

	if (ops->map_rings) {
		if (ops->map_rings(ops->ctx, vif->cfg.frontend_domid, vif->cfg.tx_ring_ref,
		                   vif->cfg.rx_ring_ref, &vif->tx_page, &vif->rx_page) < 0)
			return -EPERM;
		vif->rings_paired = true;
	} else {
		vif->tx_page =
		    ops->map_ring(ops->ctx, vif->cfg.frontend_domid, vif->cfg.tx_ring_ref);
		vif->rx_page =
		    ops->map_ring(ops->ctx, vif->cfg.frontend_domid, vif->cfg.rx_ring_ref);
		if (!vif->tx_page || !vif->rx_page)
			return -EPERM;
	}
	netif_tx_back_attach(&vif->tx, vif->tx_page, 1, 0);
	netif_rx_back_attach(&vif->rx, vif->rx_page, 1, 0);
	return 0;
}

int netback_vif_connect(struct netback *nb, const struct netbk_vif_config *cfg,
                        struct netbk_vif **out)
{
	struct netbk_vif *vif;
	int rc;

	if ((rc = vif_check_config(cfg)) < 0)
		return rc;
	if (!(vif = calloc(1, sizeof(*vif))))
		return -ENOMEM;
	vif->nb = nb;
	vif->cfg = *cfg;
	vif->log = nb->log;
	bh_log_set_prefix(&vif->log, "%s/dom%u/vif%u", nb->log.prefix, cfg->frontend_domid,
	                  cfg->devid);
	vif->credit_left = cfg->rate_bytes;
	vif->tx_prefetch_left = NETBK_TX_PREFETCH;
	vif->rx_warm_left = NETBK_RX_WARM;
	vif->credit_next_ns = bh_now_ns() + (uint64_t)cfg->rate_usec * 1000;
	if (!(vif->pktbuf = malloc(NETBK_PKTBUF))) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = vif_map(vif)) < 0) {
		bh_err(&vif->log, "cannot map rings (tx ref %u, rx ref %u)", cfg->tx_ring_ref,
		       cfg->rx_ring_ref);
		goto out;
	}
	bh_set_nonblock(cfg->tap_fd, 1);
	vif->next = nb->vifs;
	nb->vifs = vif;
	*out = vif;
	return 0;
out:
	vif->cfg.tap_fd = -1; /* the caller still owns it on failure */
	netback_vif_disconnect(vif);
	return rc;
}

void netback_vif_disconnect(struct netbk_vif *vif)
{
	struct netbk_gntmap_ops *ops = &vif->nb->ops;
	struct netbk_vif **pp;

	for (pp = &vif->nb->vifs; *pp; pp = &(*pp)->next) {
		if (*pp == vif) {
			*pp = vif->next;
			break;
		}
	}
	if (vif->nb->rr_next == vif)
		vif->nb->rr_next = NULL;
	if (vif->tx_page)
		ops->unmap_ring(ops->ctx, vif->tx_page);
	if (vif->rx_page && !vif->rings_paired)
		ops->unmap_ring(ops->ctx, vif->rx_page);
	if (ops->forget)
		ops->forget(ops->ctx, vif->cfg.frontend_domid);
	netbk_rxq_flush(vif);
	bh_closep(&vif->cfg.tap_fd);
	free(vif->pktbuf);
	free(vif);
}

void netbk_vif_break(struct netbk_vif *vif, const char *why)
{
	if (vif->state == NETBK_VIF_BROKEN)
		return;
	bh_err(&vif->log, "%s: frontend is broken or hostile; vif stopped", why);
	vif->state = NETBK_VIF_BROKEN;
	netbk_rxq_flush(vif);
	if (vif->nb->broken_cb)
		vif->nb->broken_cb(vif->nb->broken_arg, vif, why);
}

void netback_set_broken_cb(struct netback *nb, netbk_broken_fn fn, void *arg)
{
	nb->broken_cb = fn;
	nb->broken_arg = arg;
}

void netbk_warn_bad(struct netbk_vif *vif, const char *why)
{
	uint64_t n = ++vif->bad_logged;

	if (n <= 10 || n % 1000 == 0)
		bh_warn(&vif->log, "TX: %s; packet dropped (%llu so far)", why,
		        (unsigned long long)n);
}

enum netbk_vif_state netback_vif_state(const struct netbk_vif *vif)
{
	return vif->state;
}

void netback_vif_stats(const struct netbk_vif *vif, struct netbk_vif_stats *out)
{
	*out = vif->st;
}

int netback_round(struct netback *nb)
{
	struct netbk_vif *start = nb->rr_next ? nb->rr_next : nb->vifs, *v;
	uint64_t now = bh_now_ns();
	int moved = 0;

	if (!start)
		return 0;
	/* a new connection's first RX buffers, before any of its packets */
	for (v = nb->vifs; v; v = v->next)
		if (!netbk_vif_deaf(v))
			netbk_rx_warm_begin(v);
	v = start;
	do {
		if (!netbk_vif_deaf(v)) {
			moved += netbk_tx_serve(v, nb->budget, now);
			moved += netbk_rx_serve(v, nb->budget, now);
		}
		v = v->next ? v->next : nb->vifs;
	} while (v != start);
	/* the next round starts one vif further on */
	nb->rr_next = start->next ? start->next : nb->vifs;
	return moved;
}

static int earlier(int timeout_ms, uint64_t at_ns, uint64_t now)
{
	uint64_t ns = at_ns > now ? at_ns - now : 0;
	int ms = (int)((ns + 999999) / 1000000);

	return timeout_ms < 0 || ms < timeout_ms ? ms : timeout_ms;
}

/* Milliseconds until the earliest rate-limit window of a blocked vif, or
 * the end of an RX wait for buffers. */
static int rate_timeout(struct netback *nb, int timeout_ms)
{
	uint64_t now = bh_now_ns();

	for (struct netbk_vif *v = nb->vifs; v; v = v->next) {
		if (v->state != NETBK_VIF_CONNECTED)
			continue;
		if (v->tx_rate_blocked)
			timeout_ms = earlier(timeout_ms, v->credit_next_ns, now);
		if (v->rx_blocked)
			timeout_ms = earlier(timeout_ms, v->rx_wait_ns + nb->rx_wait_ns, now);
	}
	return timeout_ms;
}

static bool any_more(struct netback *nb)
{
	for (struct netbk_vif *v = nb->vifs; v; v = v->next)
		if (v->state == NETBK_VIF_CONNECTED && (v->tx_more || v->rx_more))
			return true;
	return false;
}

/* Three descriptors per vif: device, TX port, RX port. */
static unsigned fill_pollfds(struct netback *nb, struct pollfd *pf, uint32_t *ports)
{
	struct netbk_gntmap_ops *ops = &nb->ops;
	unsigned n = 0;

	for (struct netbk_vif *v = nb->vifs; v; v = v->next) {
		if (v->state != NETBK_VIF_CONNECTED || v->fault_chan)
			continue;
		pf[n] =
		    (struct pollfd){ .fd = v->cfg.tap_fd, .events = v->rx_blocked ? 0 : POLLIN };
		ports[n++] = UINT32_MAX;
		pf[n] = (struct pollfd){ .fd = ops->port_fd(ops->ctx, v->cfg.tx_port),
			                 .events = POLLIN };
		ports[n++] = v->cfg.tx_port;
		if (v->cfg.rx_port != v->cfg.tx_port) {
			pf[n] = (struct pollfd){ .fd = ops->port_fd(ops->ctx, v->cfg.rx_port),
				                 .events = POLLIN };
			ports[n++] = v->cfg.rx_port;
		}
	}
	return n;
}

int netback_poll(struct netback *nb, int timeout_ms)
{
	unsigned nvifs = 0, n;
	int r, moved = 0, m;

	for (struct netbk_vif *v = nb->vifs; v; v = v->next)
		nvifs++;
	struct pollfd pf[3 * nvifs + 1];
	uint32_t ports[3 * nvifs + 1];

	n = fill_pollfds(nb, pf, ports);
	if (any_more(nb))
		timeout_ms = 0;
	r = poll(pf, n, rate_timeout(nb, timeout_ms));
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	for (unsigned i = 0; i < n; i++)
		if ((pf[i].revents & POLLIN) && ports[i] != UINT32_MAX)
			nb->ops.port_ack(nb->ops.ctx, ports[i]);
	while ((m = netback_round(nb)) > 0)
		moved += m;
	return moved;
}

/* ---- fault injection (bh inject) ---- */

bool netbk_vif_deaf_slow(struct netbk_vif *vif)
{
	if (vif->fault_deaf_ns != UINT64_MAX && bh_now_ns() >= vif->fault_deaf_ns) {
		vif->fault_deaf_ns = 0; /* over: what was lost stays lost */
		bh_info(&vif->log, "notifications heard again");
		return false;
	}
	return true;
}

int netback_vif_inject(struct netbk_vif *vif, enum netbk_fault f, uint32_t ms)
{
	if (!vif || vif->state != NETBK_VIF_CONNECTED)
		return -ENOTCONN;
	switch (f) {
	case NETBK_FAULT_CORRUPT:
		vif->fault_corrupt = true;
		bh_warn(&vif->log, "injected: the next TX response gets a bogus id");
		return 0;
	case NETBK_FAULT_DROP_NOTIFY:
		vif->fault_deaf_ns = ms ? bh_now_ns() + (uint64_t)ms * 1000000ull : UINT64_MAX;
		bh_warn(&vif->log,
		        "injected: notifications dropped for %u ms (0: until disconnected)", ms);
		return 0;
	case NETBK_FAULT_CLOSE_CHANNEL:
		vif->fault_chan = true;
		vif->fault_deaf_ns = UINT64_MAX;
		bh_warn(&vif->log, "injected: event channel closed");
		return 0;
	}
	return -EINVAL;
}

int netback_tap_prepare(int tap_fd, uint32_t features)
{
	int hl = (int)sizeof(struct virtio_net_hdr);
	struct ifreq ifr = { 0 };

	if (ioctl(tap_fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	if (!(ifr.ifr_flags & IFF_VNET_HDR))
		return -EINVAL; /* frames without a header would be misread */
	if (ioctl(tap_fd, TUNSETVNETHDRSZ, &hl) < 0 ||
	    ioctl(tap_fd, TUNSETOFFLOAD, netback_tap_offloads(features)) < 0)
		return -errno;
	return 0;
}

unsigned netback_tap_offloads(uint32_t features)
{
	unsigned f = 0;

	if (features & NETBK_F_NO_CSUM)
		return 0;
	f |= TUN_F_CSUM;
	if (features & NETBK_F_GSO_TCPV4)
		f |= TUN_F_TSO4;
	if (features & NETBK_F_GSO_TCPV6)
		f |= TUN_F_TSO6;
	return f;
}
