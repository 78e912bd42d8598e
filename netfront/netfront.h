/* bhnetfront: the PV network frontend the PV kernel runs for each vif.
 *
 * It allocates the TX and RX rings and 256 buffer pages for each, all
 * granted to the backend; posts RX buffers (at most rx_target at a time);
 * turns packets into TX requests (scatter-gather over 4 KiB pages, GSO and
 * checksum offload as extra-info and flags); and assembles RX responses
 * into packets. Every response is validated (index range, id in range and
 * outstanding, offsets inside the page, known extra types): a bad one is
 * dropped and counted, never trusted, and a backend whose rsp_prod runs
 * ahead of our requests stops the device.
 *
 * The guest side is a TAP with IFF_VNET_HDR in the guest's own network
 * namespace (its eth0): netfront_pump() moves packets between that TAP and
 * the rings. Grant allocation and events go through struct netfront_ops
 * (gntalloc/evtchn over the ioctl layer in a domain, netfront_memgnt_ops in
 * tests). */
#ifndef BH_NETFRONT_H
#define BH_NETFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_net.h>

#include "common/log.h"

struct netfront_ops {
	/* count zeroed pages granted to `backend`; refs_out[i] for page i */
	void *(*alloc)(void *ctx, uint16_t backend, unsigned count, bool writable,
	               uint32_t *refs_out);
	void (*free)(void *ctx, void *pages, const uint32_t *refs, unsigned count);
	int (*notify)(void *ctx, uint32_t port);
	int (*port_fd)(void *ctx, uint32_t port);
	void (*port_ack)(void *ctx, uint32_t port);
	void *ctx;
};

/* What this frontend offers (the keys it writes in the handshake). */
#define NETFRONT_F_SG        (1u << 0)
#define NETFRONT_F_GSO_TCPV4 (1u << 1)
#define NETFRONT_F_GSO_TCPV6 (1u << 2)
#define NETFRONT_F_CSUM      (1u << 3) /* clear: feature-no-csum-offload */

struct netfront_config {
	uint16_t backend_domid;
	uint32_t tx_port, rx_port; /* our ends; equal unless split */
	uint32_t features;         /* NETFRONT_F_* */
	unsigned rx_target;        /* RX buffers kept posted (1..256; 0 = 256) */
	/* Rings and buffers made ahead (a spare for the next reconnection):
	 * nothing is posted or notified, and the ports and features are not
	 * known, until netfront_bind(). */
	bool unbound;
};

/* What the handshake publishes (tx-ring-ref, rx-ring-ref, ...). */
struct netfront_info {
	uint32_t tx_ring_ref, rx_ring_ref;
};

struct netfront_stats {
	uint64_t tx_packets, tx_bytes, tx_errors, tx_busy;
	uint64_t rx_packets, rx_bytes, rx_errors, rx_bad_rsp;
	uint64_t bad_tx_rsp;
};

struct netfront;

int netfront_create(const struct netfront_config *cfg, const struct netfront_ops *ops,
                    const struct bh_log *log, struct netfront **out);
void netfront_destroy(struct netfront *nf);
/* The event channels and features of rings made `unbound`: posts the
 * first RX buffers and notifies, as netfront_create() does for others. */
void netfront_bind(struct netfront *nf, uint32_t tx_port, uint32_t rx_port, uint32_t features);
/* Narrows the features the transmit side uses (a new backend that takes
 * fewer offloads than the rings were published with). */
void netfront_set_features(struct netfront *nf, uint32_t features);
/* Rings of a connection that is over, back to how netfront_create() made
 * them `unbound`: the same pages and grants (still granted to the same
 * backend domain), empty rings, every TX buffer free, nothing posted. For
 * the next connection to the same backend domain, once the last one's
 * mappings are gone (pvkernel/vif.c). */
void netfront_reset(struct netfront *nf);
void netfront_info(const struct netfront *nf, struct netfront_info *out);
void netfront_stats(const struct netfront *nf, struct netfront_stats *out);
bool netfront_broken(const struct netfront *nf);

/* Queue one packet (frame = Ethernet header on; vh may be NULL). Returns 0,
 * -EAGAIN if the ring has no room now, -EINVAL/-EMSGSIZE if it can never
 * be sent (counted as a TX error). */
int netfront_send(struct netfront *nf, const struct virtio_net_hdr *vh, const uint8_t *frame,
                  size_t len);
/* Publish queued requests and posted buffers and notify the backend. */
void netfront_flush(struct netfront *nf);
/* Take one received packet: its length, 0 if none is complete yet, or
 * -EBADMSG for a malformed one (dropped and counted; call again). */
int netfront_recv(struct netfront *nf, struct virtio_net_hdr *vh_out, uint8_t *buf, size_t cap);
/* Reclaim TX buffers the backend answered. */
void netfront_tx_gc(struct netfront *nf);

/* One step of the guest's NIC: wait up to timeout_ms for the TAP or the
 * backend, then move packets TAP -> TX ring and RX ring -> TAP. Returns
 * packets moved or a negative errno (-EPIPE when the backend is broken). */
int netfront_pump(struct netfront *nf, int tap_fd, int timeout_ms);

/* TUNSETOFFLOAD flags for the guest's TAP matching what the backend does. */
unsigned netfront_tap_offloads(uint32_t features);

/* Create the guest's eth0 in the caller's network namespace: a TAP with
 * IFF_VNET_HDR and the offloads of `features` (NETFRONT_F_*), the MAC from
 * the store (may be NULL), the MTU (0 = leave), link up. Returns the
 * non-blocking descriptor for netfront_pump() or a negative errno. */
int netfront_tap_open(const char *name, uint32_t features, const uint8_t mac[6], unsigned mtu);
/* The same for a TAP (IFF_VNET_HDR) someone else created, e.g. the core
 * for a sandboxed guest (BH_HC_DEVICE_TAP): offloads, MAC, MTU, up. */
int netfront_tap_setup(int fd, const char *name, uint32_t features, const uint8_t mac[6],
                       unsigned mtu);

#endif
