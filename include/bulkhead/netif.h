/* Xen's PV network interface (io/netif.h), the same layouts byte for byte,
 * written for Bulkhead (protocol-facts §3).
 *
 * Two rings per vif: TX (frontend -> backend packets) and RX (backend ->
 * frontend packets into buffers the frontend posted). Both are one page
 * of 256 slots. TX and RX flag bits differ: csum_blank and data_validated
 * are swapped between NETTXF_ and NETRXF_.
 *
 * Framing (TX): the first request carries the TOTAL packet size; extra-info
 * slots follow when NETTXF_extra_info is set (chained by
 * XEN_NETIF_EXTRA_FLAG_MORE); further fragments follow while
 * NETTXF_more_data is set. Each slot gets a response; extra slots get
 * NETIF_RSP_NULL. Framing (RX): each response sits in the slot of the
 * request it answers; status >= 0 is the fragment length. */
#ifndef BULKHEAD_NETIF_H
#define BULKHEAD_NETIF_H

#include <stddef.h>
#include <stdint.h>

#include "bulkhead/ring.h"

/* TX request flags */
#define NETTXF_csum_blank     (1u << 0)
#define NETTXF_data_validated (1u << 1)
#define NETTXF_more_data      (1u << 2)
#define NETTXF_extra_info     (1u << 3)

/* RX response flags: note bits 0 and 1 are the other way round */
#define NETRXF_data_validated (1u << 0)
#define NETRXF_csum_blank     (1u << 1)
#define NETRXF_more_data      (1u << 2)
#define NETRXF_extra_info     (1u << 3)
#define NETRXF_gso_prefix     (1u << 4)

/* Response status */
#define NETIF_RSP_DROPPED -2
#define NETIF_RSP_ERROR   -1
#define NETIF_RSP_OKAY    0
#define NETIF_RSP_NULL    1

/* Extra info */
#define XEN_NETIF_EXTRA_TYPE_NONE      0
#define XEN_NETIF_EXTRA_TYPE_GSO       1
#define XEN_NETIF_EXTRA_TYPE_MCAST_ADD 2
#define XEN_NETIF_EXTRA_TYPE_MCAST_DEL 3
#define XEN_NETIF_EXTRA_TYPE_HASH      4
#define XEN_NETIF_EXTRA_TYPE_MAX       5
#define XEN_NETIF_EXTRA_FLAG_MORE      (1u << 0)

#define XEN_NETIF_GSO_TYPE_NONE  0
#define XEN_NETIF_GSO_TYPE_TCPV4 1
#define XEN_NETIF_GSO_TYPE_TCPV6 2

/* A backend must accept packets of at least this many slots. */
#define XEN_NETBK_LEGACY_SLOTS_MAX 18
#define XEN_NETIF_MAX_TX_SIZE      0xFFFF
#define XEN_NETIF_PAGE             4096u

struct netif_tx_request {
	uint32_t gref;
	uint16_t offset;
	uint16_t flags;
	uint16_t id;
	uint16_t size;
};

struct netif_tx_response {
	uint16_t id;
	int16_t status;
};

struct netif_rx_request {
	uint16_t id;
	uint16_t pad;
	uint32_t gref;
};

struct netif_rx_response {
	uint16_t id;
	uint16_t offset;
	uint16_t flags;
	int16_t status;
};

struct netif_extra_info {
	uint8_t type;
	uint8_t flags;
	union {
		struct {
			uint16_t size; /* MSS */
			uint8_t type;  /* XEN_NETIF_GSO_TYPE_* */
			uint8_t pad;
			uint16_t features;
		} gso;
		struct {
			uint8_t addr[6];
		} mcast;
		struct {
			uint8_t type;
			uint8_t algorithm;
			uint8_t value[4];
		} hash;
		uint16_t pad[3];
	} u;
};

_Static_assert(sizeof(struct netif_tx_request) == 12, "tx request");
_Static_assert(offsetof(struct netif_tx_request, offset) == 4, "tx offset");
_Static_assert(offsetof(struct netif_tx_request, flags) == 6, "tx flags");
_Static_assert(offsetof(struct netif_tx_request, id) == 8, "tx id");
_Static_assert(offsetof(struct netif_tx_request, size) == 10, "tx size");
_Static_assert(sizeof(struct netif_tx_response) == 4, "tx response");
_Static_assert(offsetof(struct netif_tx_response, status) == 2, "tx status");
_Static_assert(sizeof(struct netif_rx_request) == 8, "rx request");
_Static_assert(offsetof(struct netif_rx_request, gref) == 4, "rx gref");
_Static_assert(sizeof(struct netif_rx_response) == 8, "rx response");
_Static_assert(offsetof(struct netif_rx_response, offset) == 2, "rx offset");
_Static_assert(offsetof(struct netif_rx_response, flags) == 4, "rx flags");
_Static_assert(offsetof(struct netif_rx_response, status) == 6, "rx status");
_Static_assert(sizeof(struct netif_extra_info) == 8, "extra info");
_Static_assert(offsetof(struct netif_extra_info, u.gso.size) == 2, "gso size");
_Static_assert(offsetof(struct netif_extra_info, u.gso.type) == 4, "gso type");
_Static_assert(offsetof(struct netif_extra_info, u.gso.features) == 6, "gso features");
_Static_assert(offsetof(struct netif_extra_info, u.hash.value) == 4, "hash value");

/* An extra-info slot overlays a request or response slot. */
_Static_assert(sizeof(struct netif_extra_info) <= sizeof(struct netif_tx_request), "tx extra");
_Static_assert(sizeof(struct netif_extra_info) <= sizeof(struct netif_rx_response), "rx extra");

BH_DEFINE_RING_TYPES(netif_tx, struct netif_tx_request, struct netif_tx_response)
BH_DEFINE_RING_TYPES(netif_rx, struct netif_rx_request, struct netif_rx_response)

_Static_assert(sizeof(union netif_tx_sring_entry) == 12, "tx slot");
_Static_assert(sizeof(union netif_rx_sring_entry) == 8, "rx slot");

#define NETIF_TX_RING_SIZE 256
#define NETIF_RX_RING_SIZE 256

#endif
