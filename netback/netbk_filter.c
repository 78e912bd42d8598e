/* Per-vif policy on the TX path: anti-spoofing and the credit scheduler.
 *
 * Anti-spoofing (xl's `ip=`): with allowed addresses set, an IPv4 packet
 * must come from one of them and an ARP packet must name one of them as
 * its sender; anything else that carries an IPv4 source is dropped. Other
 * ethertypes (IPv6, LLDP, ...) pass, as with Xen's vif-bridge rules.
 *
 * Rate (xl's `rate=`): Xen's credit scheduler. Each window of rate_usec
 * adds rate_bytes of credit, capped at max(rate_bytes, 128 KiB) so that a
 * full-size GSO packet can always go eventually. A packet larger than the
 * credit left waits for the next window. Unlike Xen the next window is
 * counted from the end of the previous one, not from when we woke up, so
 * a late wake-up does not lower the long-run rate. */
#include "netback/netbk_priv.h"

#define NETBK_MAX_BURST (128u * 1024)

bool netbk_spoofed(const struct netbk_vif *vif, const uint8_t *frame, size_t len)
{
	struct netif_frame_info fi;
	unsigned i;

	if (!vif->cfg.nr_ips)
		return false;
	if (netif_frame_parse(frame, len, &fi) < 0) {
		/* unparseable: IPv4, ARP or VLAN frames cannot prove their source */
		uint16_t et = len >= NETIF_ETH_HLEN ? (uint16_t)(frame[12] << 8 | frame[13]) : 0;

		return !et || et == 0x0800 || et == 0x0806 || et == 0x8100;
	}
	if (fi.ethertype == 0x0806 && !fi.has_ipv4_src)
		return true; /* a truncated ARP cannot prove its sender */
	if (!fi.has_ipv4_src)
		return false;
	for (i = 0; i < vif->cfg.nr_ips; i++)
		if (vif->cfg.ips[i] == fi.ipv4_src)
			return false;
	return true;
}

bool netbk_credit_take(struct netbk_vif *vif, uint64_t bytes, uint64_t now_ns)
{
	uint64_t window = (uint64_t)vif->cfg.rate_usec * 1000;
	uint64_t burst =
	    vif->cfg.rate_bytes > NETBK_MAX_BURST ? vif->cfg.rate_bytes : NETBK_MAX_BURST;

	if (!vif->cfg.rate_bytes)
		return true;
	if (now_ns >= vif->credit_next_ns) {
		vif->credit_left += vif->cfg.rate_bytes;
		if (vif->credit_left > burst)
			vif->credit_left = burst;
		/* a long idle period restarts the windows instead of saving up */
		if (now_ns - vif->credit_next_ns > window)
			vif->credit_next_ns = now_ns + window;
		else
			vif->credit_next_ns += window;
	}
	if (bytes > vif->credit_left)
		return false;
	vif->credit_left -= bytes;
	return true;
}
