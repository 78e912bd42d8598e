/* Internals of bhnetback shared by its files (not a public interface). */
#ifndef BH_NETBK_PRIV_H
#define BH_NETBK_PRIV_H

#include "netback/netback.h"
#include "netback/netif_vnet.h"

/* One TX packet as parsed from the private copy of its requests. */
struct netbk_txpkt {
	unsigned nslots; /* ring slots it spans, extras included */
	int16_t status;  /* NETIF_RSP_OKAY, or ERROR: answer every slot with it */
	const char *why; /* for the log when status is ERROR */
	uint16_t total;  /* size from the first request */
	unsigned nfrags; /* data slots, the first included */
	struct netif_tx_request frags[XEN_NETBK_LEGACY_SLOTS_MAX];
	struct netif_offload off;
	/* per slot, in ring order: the id to answer and whether it was extra */
	uint16_t ids[NETIF_TX_RING_SIZE];
	bool extra[NETIF_TX_RING_SIZE];
};

/* Parse the packet starting at ring[start & mask], with `avail` copied
 * requests from there on. max_frame bounds a non-GSO packet (MTU + L2).
 * Returns 0 (pkt filled, status OKAY or ERROR), -EAGAIN if the packet's
 * slots are not all published yet, or -EPROTO if it can never complete
 * (a chain longer than the ring). Pure: reads only the given copy. */
int netbk_tx_parse(const struct netif_tx_request *ring, uint32_t mask, RING_IDX start,
                   unsigned avail, unsigned max_frame, struct netbk_txpkt *pkt);

struct netbk_rxq_pkt {
	struct netbk_rxq_pkt *next;
	struct virtio_net_hdr vh;
	size_t len;
	uint8_t data[];
};

struct netbk_vif {
	struct netback *nb;
	struct netbk_vif *next;
	struct netbk_vif_config cfg;
	struct bh_log log;
	enum netbk_vif_state state;
	struct netbk_vif_stats st;
	void *tx_page, *rx_page;
	bool rings_paired; /* by ops->map_rings: rx_page goes with tx_page */
	struct netif_tx_back_ring tx;
	struct netif_rx_back_ring rx;
	/* requests copied out of the TX ring once, up to tx_copied */
	struct netif_tx_request tx_copy[NETIF_TX_RING_SIZE];
	RING_IDX tx_copied;
	/* credit-based rate limit */
	uint64_t credit_left;
	uint64_t credit_next_ns; /* start of the next credit window */
	bool tx_rate_blocked;
	/* RX queue while the frontend has too few buffers posted */
	struct netbk_rxq_pkt *rxq_head, *rxq_tail;
	bool tx_more, rx_more; /* stopped by the budget with work left */
	/* RX in place waits for buffers instead of copying into rxq: since
	 * when (0: not waiting), and whether the device is left unread now */
	uint64_t rx_wait_ns;
	bool rx_blocked;
	/* ops->prefetch: the TX requests of the first NETBK_TX_PREFETCH after
	 * connect (a frontend's pool of TX pages is its first few hundred
	 * distinct refs), a batch's together */
	uint32_t tx_prefetch_left;
	/* The first NETBK_RX_WARM packets after connect: each lands in pages
	 * that are new to us, a call to the core apiece (~50 us on a PVM), so
	 * each goes by the copying path (a page, not RX in place's RX_SLOTS)
	 * and is pushed to the frontend at once, not with the round's last. */
	uint32_t rx_warm_left;
	RING_IDX rx_warm_pf; /* requests offered to ops->prefetch up to here */
	bool rx_warm_begun;  /* the first posted buffers were offered */
	uint8_t *pktbuf;     /* one linear packet, vnet header first */
	uint64_t bad_logged; /* malformed packets seen, for the log limit */
	/* injected faults (netback_vif_inject); all zero in normal service */
	bool fault_corrupt;     /* the next TX response gets a bogus id */
	bool fault_chan;        /* the event channel was closed under us */
	uint64_t fault_deaf_ns; /* not served nor signalling until then */
};

/* An injected fault keeps the vif deaf: one load when not. */
bool netbk_vif_deaf_slow(struct netbk_vif *vif);
static inline bool netbk_vif_deaf(struct netbk_vif *vif)
{
	return __builtin_expect(vif->fault_deaf_ns != 0, 0) && netbk_vif_deaf_slow(vif);
}

struct netback {
	struct netbk_gntmap_ops ops;
	struct bh_log log;
	struct netbk_vif *vifs;
	struct netbk_vif *rr_next; /* who goes first next round */
	unsigned budget;
	uint64_t rx_wait_ns; /* netback_set_rx_wait; 0: never wait */
	netbk_broken_fn broken_cb;
	void *broken_arg;
};

#define NETBK_PKTBUF      (sizeof(struct virtio_net_hdr) + NETIF_MAX_PACKET + 1)
#define NETBK_TX_PREFETCH (2 * NETIF_TX_RING_SIZE)
#define NETBK_RX_WARM     64
/* ...whose posted buffers are offered to ops->prefetch this many ahead,
 * the first round after a connect this many (netbk_rx_warm_begin) */
#define NETBK_RX_WARM_PREFETCH 16
#define NETBK_RX_WARM_FIRST    4
/* TX in place: bytes of a packet copied out of the frontend's pages to be
 * checked and sent from our copy (Ethernet + VLAN + IPv4 or IPv6 with
 * options + TCP with options fit in 18 + 60 + 60). */
#define NETBK_TX_HEAD 256

int netbk_tx_serve(struct netbk_vif *vif, unsigned budget, uint64_t now_ns);
int netbk_rx_serve(struct netbk_vif *vif, unsigned budget, uint64_t now_ns);
void netbk_rx_warm_begin(struct netbk_vif *vif);
void netbk_rxq_flush(struct netbk_vif *vif);
void netbk_vif_break(struct netbk_vif *vif, const char *why);
/* Log a malformed packet, rate-limited: a hostile frontend must not be
 * able to flood the driver domain's log. */
void netbk_warn_bad(struct netbk_vif *vif, const char *why);

/* Filters (netbk_filter.c). */
bool netbk_spoofed(const struct netbk_vif *vif, const uint8_t *frame, size_t len);
/* true if `bytes` may go now; else credit_next_ns says when to retry */
bool netbk_credit_take(struct netbk_vif *vif, uint64_t bytes, uint64_t now_ns);

#endif
