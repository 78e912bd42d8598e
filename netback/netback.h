/* bhnetback: the data path of Xen's PV network backend.
 *
 * A vif is one frontend's TX ring and RX ring (one page each, 256 slots),
 * one or two event channels (split: TX and RX apart), and a packet device:
 * a TAP descriptor opened with IFF_VNET_HDR (each read/write is a
 * virtio_net_hdr followed by one Ethernet frame), or in tests any datagram
 * descriptor carrying the same format (socketpair(SOCK_SEQPACKET)).
 *
 * The engine is driven by its caller: netback_round() serves every vif once
 * (at most `budget` packets per direction each, starting with a different
 * vif every round, so a busy vif cannot starve a quiet one); netback_poll()
 * waits for a TAP, an event channel or a rate-limit deadline and then runs
 * rounds until nothing is left. Grant access and event notification go
 * through struct netbk_gntmap_ops, so the same engine runs over the real
 * /dev/xen devices (netbk_gntmap_xen_ops) and over an in-process grant table
 * (netbk_memgnt.h) in unit tests.
 *
 * Hostile frontends: every request is copied out of the ring once and only
 * the copy is used; a malformed packet is answered with NETIF_RSP_ERROR on
 * each of its slots and the vif keeps serving; a frontend whose req_prod
 * runs more than a ring ahead is stopped (NETBK_VIF_BROKEN) and reported.
 * See docs/netif.md. */
#ifndef BH_NETBACK_H
#define BH_NETBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bulkhead/netif.h"
#include "common/log.h"

/* One grant copy between local memory and a page granted by the frontend. */
struct netbk_gntcopy_seg {
	uint32_t ref;
	uint16_t offset; /* in the granted page */
	uint16_t len;
	void *local;
	int16_t status; /* out: 0 or a negative GNTST_* value */
};

/* How the engine reaches the frontend's memory and event channels. */
struct netbk_gntmap_ops {
	/* Map one page granted by domid read-write (a ring); NULL on error. */
	void *(*map_ring)(void *ctx, uint16_t domid, uint32_t ref);
	void (*unmap_ring)(void *ctx, void *page);
	/* Optional: both rings in one go (one call to the core where
	 * map_ring made two, in a connect that the guest waits for); *rx
	 * goes with *tx: unmap_ring(tx) unmaps both. 0 or -errno. */
	int (*map_rings)(void *ctx, uint16_t domid, uint32_t tx_ref, uint32_t rx_ref, void **tx,
	                 void **rx);
	/* Copy n segments: from the grants into local (to_grant false) or from
	 * local into writable grants (to_grant true). Each segment gets its
	 * status; returns 0 unless the whole batch failed. */
	int (*copy)(void *ctx, uint16_t domid, bool to_grant, struct netbk_gntcopy_seg *segs,
	            unsigned n);
	/* Optional: the frontend's pages themselves (read-only, or writable for
	 * RX buffers), so that packet data moves between the device and the
	 * guest's buffers with no copy of netback's own. out[i] is NULL where
	 * refs[i] is not granted to us so. The pointers stay valid until the
	 * next call of pages, copy or forget; none of one call's pages evicts
	 * another of the same call. Without it, netback copies. */
	int (*pages)(void *ctx, uint16_t domid, bool writable, const uint32_t *refs, unsigned n,
	             uint8_t **out);
	/* Optional: REFS are about to be used (a batch of TX requests): make
	 * them ready in one go, as pages would one at a time (mapping each
	 * was a call to the core: after a driver domain's restart, the first
	 * packets each paid one). A hint only: refs that fail are left to
	 * pages and copy, which answer them as usual. */
	void (*prefetch)(void *ctx, uint16_t domid, bool writable, const uint32_t *refs,
	                 unsigned n);
	/* Optional: drop whatever copy keeps for domid (mappings of its pages);
	 * called when one of its vifs disconnects. */
	void (*forget)(void *ctx, uint16_t domid);
	/* Signal our local end of an event channel. */
	int (*notify)(void *ctx, uint32_t port);
	/* A pollable descriptor that is readable while `port` has fired, and
	 * the way to acknowledge it (read + unmask for /dev/xen/evtchn). */
	int (*port_fd)(void *ctx, uint32_t port);
	void (*port_ack)(void *ctx, uint32_t port);
	void *ctx;
};

/* Features the frontend asked for (its xenstore keys). */
#define NETBK_F_RX_COPY   (1u << 0) /* request-rx-copy (required) */
#define NETBK_F_SG        (1u << 1) /* feature-sg */
#define NETBK_F_GSO_TCPV4 (1u << 2) /* feature-gso-tcpv4 */
#define NETBK_F_GSO_TCPV6 (1u << 3) /* feature-gso-tcpv6 */
#define NETBK_F_NO_CSUM   (1u << 4) /* feature-no-csum-offload */
#define NETBK_F_IPV6_CSUM (1u << 5) /* feature-ipv6-csum-offload */
#define NETBK_F_RX_NOTIFY (1u << 6) /* feature-rx-notify */

#define NETBK_MAX_IPS 8

/* Everything the xenbus handshake gives one vif. */
struct netbk_vif_config {
	uint16_t frontend_domid;
	uint32_t devid;
	uint32_t tx_ring_ref, rx_ring_ref;
	uint32_t tx_port, rx_port;   /* our local ports; equal unless split */
	uint32_t features;           /* NETBK_F_* */
	uint8_t mac[6];              /* the guest's MAC (informational) */
	uint32_t ips[NETBK_MAX_IPS]; /* allowed source IPv4s, network order */
	unsigned nr_ips;             /* 0: no anti-spoofing */
	uint64_t rate_bytes;         /* credit per interval; 0 = unlimited */
	uint32_t rate_usec;          /* the interval (xl default 50 ms) */
	uint32_t mtu;                /* 0 = 1500 */
	char bridge[16];             /* where the caller plugged the TAP */
	int tap_fd;                  /* packet device (vnet hdr format); engine owns it */
};

enum netbk_vif_state {
	NETBK_VIF_CONNECTED = 0,
	NETBK_VIF_BROKEN = 1, /* hostile frontend: no longer served */
};

struct netbk_vif_stats {
	uint64_t tx_packets, tx_bytes, tx_errors, tx_dropped, tx_spoofed;
	uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
	uint64_t rx_queued, rx_queued_bytes, rx_queue_max_seen;
};

/* Limits of the RX queue kept while a frontend has no buffers posted. */
#define NETBK_RXQ_MAX_PKTS   256
#define NETBK_RXQ_MAX_BYTES  (2u << 20)
#define NETBK_DEFAULT_BUDGET 64

struct netback;
struct netbk_vif;

/* log may be NULL (then a "netback" logger to stderr is used). */
int netback_create(const struct netbk_gntmap_ops *ops, const struct bh_log *log,
                   struct netback **out);
void netback_destroy(struct netback *nb);
void netback_set_budget(struct netback *nb, unsigned budget);

/* RX in place (with ops->pages) needs a full-size packet's requests
 * posted (17). With fewer, netback leaves packets in the device for up to
 * `ms` and asks the frontend to notify when it has posted enough, rather
 * than copying them into its bounded queue; a frontend still short after
 * that gets the queue (and its drops) as before. 0 (the default): never
 * wait. While a vif waits, netback_vif_rx_blocked() is true and the caller
 * should stop polling its device (netback_poll does). */
void netback_set_rx_wait(struct netback *nb, unsigned ms);
bool netback_vif_rx_blocked(const struct netbk_vif *vif);

/* Map the rings and start serving. The TAP descriptor passes to the vif. */
int netback_vif_connect(struct netback *nb, const struct netbk_vif_config *cfg,
                        struct netbk_vif **out);
void netback_vif_disconnect(struct netbk_vif *vif);
enum netbk_vif_state netback_vif_state(const struct netbk_vif *vif);
void netback_vif_stats(const struct netbk_vif *vif, struct netbk_vif_stats *out);

/* Called once when a vif is stopped as hostile (why: a fixed string), so
 * the control path can tell the toolstack (state Closing, an error node). */
typedef void (*netbk_broken_fn)(void *arg, struct netbk_vif *vif, const char *why);
void netback_set_broken_cb(struct netback *nb, netbk_broken_fn fn, void *arg);

/* Fault injection (bh inject, docs/watchdog.md), ordered by dom0 through
 * the driver domain's runtime; flags checked only where the vif answers or
 * notifies.
 * - CORRUPT: the next TX response carries an id the frontend never used.
 * - DROP_NOTIFY: for MS ms (0: until disconnected) the vif is not served
 *   (the frontend's notifications are consumed unseen) and signals nothing.
 * - CLOSE_CHANNEL: the vif forgets its event channel for good (the caller
 *   unbinds the port itself). */
enum netbk_fault {
	NETBK_FAULT_CORRUPT,
	NETBK_FAULT_DROP_NOTIFY,
	NETBK_FAULT_CLOSE_CHANNEL,
};
int netback_vif_inject(struct netbk_vif *vif, enum netbk_fault f, uint32_t ms);

/* Serve each vif once; returns the number of packets moved (>0: call again). */
int netback_round(struct netback *nb);
/* Wait up to timeout_ms for work, then run rounds until idle. Returns
 * packets moved, or a negative errno. */
int netback_poll(struct netback *nb, int timeout_ms);

/* TUNSETOFFLOAD flags matching what the frontend can receive. */
unsigned netback_tap_offloads(uint32_t features);
/* Make a TAP descriptor ready for a vif: it must have been created with
 * IFF_VNET_HDR (bhctl_device_tap(..., BH_TAP_VNET_HDR, ...)); sets the
 * 10-byte header size and the offloads the frontend's features allow. */
int netback_tap_prepare(int tap_fd, uint32_t features);

#endif
