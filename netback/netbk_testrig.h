/* A vif with a hand-driven frontend, for netback's unit tests and fuzz
 * target: the test plays a (possibly hostile) frontend on the raw rings,
 * and the other end of a SOCK_SEQPACKET pair stands for the TAP. */
#ifndef BH_NETBK_TESTRIG_H
#define BH_NETBK_TESTRIG_H

#include <sys/types.h>

#include "netback/netback.h"
#include "netback/netbk_memgnt.h"
#include "netback/netif_vnet.h"

#define RIG_BE   0
#define RIG_FE   1
#define RIG_DATA 64 /* data pages the frontend grants */

struct rig {
	struct memgnt *m;
	struct memgnt_view bv, fv;
	struct netbk_gntmap_ops bops;
	struct netback *nb;
	bool own_nb, own_m;
	struct netbk_vif *vif;
	int host_fd; /* the "network" side of the packet device */
	uint32_t fe_tx_port, be_tx_port, fe_rx_port, be_rx_port;
	void *txp, *rxp;
	uint32_t txref, rxref;
	struct netif_tx_front_ring tx;
	struct netif_rx_front_ring rx;
	uint8_t *data; /* RIG_DATA pages: first half read-only TX data, rest writable RX buffers */
	uint32_t data_refs[RIG_DATA];
};

/* cfg may be NULL (defaults); the device, ring refs and ports are filled
 * in. With `share`, the vif joins share's netback and grant table (finish
 * this rig before share). */
int rig_init(struct rig *r, struct rig *share, const struct netbk_vif_config *cfg);
void rig_fini(struct rig *r);

/* Put a raw request in the next TX slot (not yet published). */
void rig_tx_req(struct rig *r, uint32_t gref, uint16_t off, uint16_t flags, uint16_t id,
                uint16_t size);
void rig_tx_extra(struct rig *r, const struct netif_extra_info *ex);
void rig_tx_publish(struct rig *r);
/* Collect the TX responses published so far into out (up to cap). */
unsigned rig_tx_responses(struct rig *r, struct netif_tx_response *out, unsigned cap);
/* Post n RX buffers (data pages RIG_DATA/2 ...), ids id_base+i. */
void rig_rx_post(struct rig *r, unsigned n, uint16_t id_base);

/* A TX data page (0 .. RIG_DATA/2-1) and its ref. */
uint8_t *rig_page(struct rig *r, unsigned i);

/* A packet as the device side sees it; returns frame length or -1. */
ssize_t rig_host_read(struct rig *r, struct virtio_net_hdr *vh, uint8_t *buf, size_t cap);
int rig_host_write(struct rig *r, const struct virtio_net_hdr *vh, const uint8_t *buf, size_t len);

/* Frame builders: Ethernet + IPv4 (+TCP) with the given source; payload
 * bytes are a pattern of `seed`. Returns the length. */
size_t rig_frame_tcp4(uint8_t *buf, size_t len, uint32_t src_be, uint8_t seed);
size_t rig_frame_arp(uint8_t *buf, uint32_t sender_be);
size_t rig_frame_ipv6(uint8_t *buf, size_t len);

#endif
