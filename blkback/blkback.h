/* bhblkback: the blkif backend engine (Xen's xen-blkback data path).
 *
 * An engine serves one or more virtual block devices (vbds: a raw image
 * descriptor, its sector size, read-only flag and size) over one or more
 * shared rings. Each ring belongs to one vbd (a vbd with several queues has
 * several rings) and may span 2^ring_page_order pages. Requests are read
 * straight into, and written straight from, the frontend's granted pages
 * with io_uring; nothing is copied but the request itself.
 *
 * Everything the xenbus handshake learns is a parameter of
 * blkback_attach_ring() (ring-ref list, ring-page-order, event channel,
 * protocol, feature-persistent); what the backend publishes comes from
 * blkback_features(). The engine itself never touches the store.
 *
 * Threading: one thread drives an engine. Poll blkback_fd() for POLLIN and
 * call blkback_process(); it never blocks (it may busy-poll for
 * blkback_config.poll_ns). All functions return 0 (or a
 * count) or a negative errno. */
#ifndef BH_BLKBACK_H
#define BH_BLKBACK_H

#include <stdbool.h>
#include <stdint.h>

/* How the engine maps the frontend's grants: over /dev/xen/gntdev in a
 * driver domain (blkback_gntdev_ops), or an in-process table in tests
 * (blkback/localgnt.h). */
struct blkback_gnt_ops {
	/* Map the n grants refs[] of domain domid at one contiguous address,
	 * writable or read-only; all or none. *cookie_out is passed back to
	 * unmap. */
	int (*map)(void *priv, uint16_t domid, const uint32_t *refs, uint32_t n, bool writable,
	           void **addr_out, void **cookie_out);
	void (*unmap)(void *priv, void *cookie, void *addr, uint32_t n);
};
extern const struct blkback_gnt_ops blkback_gntdev_ops; /* priv: unused */

/* The spin budget the driver domain uses (docs/blkif.md, "Polling"). */
#define BLKBACK_POLL_DEFAULT_NS 50000

/* Why a ring was stopped (the toolstack closes the device). */
typedef void (*blkback_ring_error_fn)(void *arg, int ring, int err, const char *why);

struct blkback_config {
	const struct blkback_gnt_ops *gnt;
	void *gnt_priv;
	uint32_t max_indirect_segments; /* 0: 256; at most 8*512; <=11 turns indirect off */
	uint32_t max_ring_page_order;   /* 0: 4 (16 pages) */
	uint32_t max_queues;            /* rings per vbd advertised; 0: 4 */
	uint32_t budget;                /* requests per ring per round; 0: 32 */
	uint32_t max_persistent;        /* persistent grants per ring; 0: 1056 */
	uint32_t queue_depth;           /* io_uring entries; 0: 256 */
	/* Busy-poll the rings and the io_uring up to this long (ns) after
	 * the last work before blkback_process() returns (0: never;
	 * BLKBACK_POLL_DEFAULT_NS is what the driver domain and
	 * blkback-serve use). While polling a ring is not armed, so its
	 * frontend sends no event for new requests: one wake-up per busy
	 * period instead of two per request. The budget adapts: it grows
	 * while work comes back within poll_ns of going idle, shrinks to 0
	 * (an idle ring costs no CPU) when it does not, and polling stops
	 * for 100 ms whenever a spin loses its CPU to another thread (a busy
	 * machine, where spinning would delay the frontend). One call
	 * returns after 2 ms at most. */
	uint32_t poll_ns;
	blkback_ring_error_fn ring_error;
	void *arg;
	const char *name; /* log prefix, such as "blkback/dom3" */
};

/* What the backend writes into the store for the frontend (§2.3). */
struct blkback_features {
	uint32_t max_indirect_segments; /* feature-max-indirect-segments (0: none) */
	uint32_t max_ring_page_order;   /* max-ring-page-order */
	uint32_t max_queues;            /* multi-queue-max-queues */
	bool persistent;                /* feature-persistent */
	bool flush;                     /* feature-flush-cache */
	bool barrier;                   /* feature-barrier */
	bool discard;                   /* feature-discard (per vbd: see below) */
};

struct blkback_vbd_params {
	int fd;               /* a raw image, read+write unless readonly; the engine dups it */
	uint32_t sector_size; /* 512 or 4096 */
	bool readonly;
	bool discard;     /* punch holes for BLKIF_OP_DISCARD */
	uint64_t sectors; /* size in 512-byte units (0: from fstat) */
	int sticky_error; /* a flush error carried over from an earlier backend */
	const char *name; /* "xvda", for logs */
};

struct blkback_ring_params {
	int vbd;                  /* from blkback_add_vbd */
	uint16_t domid;           /* the frontend */
	const uint32_t *refs;     /* ring-ref or ring-ref0..N-1 */
	uint32_t ring_page_order; /* N = 2^order refs */
	const char *protocol;     /* NULL or "x86_64-abi" */
	bool persistent;          /* the frontend's feature-persistent */
	uint32_t start;           /* ring index to resume at (0 for a fresh ring) */
	/* The event channel: a pollable fd; ack() consumes the event and
	 * re-arms it; notify() kicks the frontend. */
	int evt_fd;
	void (*evt_ack)(void *evt_arg);
	void (*notify)(void *evt_arg);
	void *evt_arg;
};

struct blkback_stats {
	uint64_t reads, writes, flushes, discards;
	uint64_t read_bytes, write_bytes;
	uint64_t errors;       /* answered BLKIF_RSP_ERROR or EOPNOTSUPP */
	uint64_t bad_requests; /* refused before any I/O (hostile or broken) */
	uint64_t persistent_maps, transient_maps;
};

struct blkback;

int blkback_create(const struct blkback_config *cfg, struct blkback **out);
void blkback_destroy(struct blkback *bb);
void blkback_features(const struct blkback *bb, struct blkback_features *out);

/* Returns the vbd number (>= 0). */
int blkback_add_vbd(struct blkback *bb, const struct blkback_vbd_params *p);
/* Returns the ring number (>= 0). The ring pages are mapped now. */
int blkback_attach_ring(struct blkback *bb, const struct blkback_ring_params *p);
/* Waits for the ring's I/O in flight, then unmaps everything of it. */
int blkback_detach_ring(struct blkback *bb, int ring);
/* 0 while served; the error that stopped it otherwise. */
int blkback_ring_status(const struct blkback *bb, int ring);

int blkback_fd(const struct blkback *bb);
/* Serve every ring fairly, complete finished I/O, publish responses. */
int blkback_process(struct blkback *bb);

int blkback_vbd_stats(const struct blkback *bb, int vbd, struct blkback_stats *out);
/* The first failed fdatasync of the vbd (negative errno), or 0. Once set,
 * every later write and flush fails: the toolstack carries it across a
 * backend restart (blkback_vbd_params.sticky_error). */
int blkback_vbd_sticky_error(const struct blkback *bb, int vbd);
/* The vbd's size in 512-byte sectors, for the store's `sectors` key. */
uint64_t blkback_vbd_sectors(const struct blkback *bb, int vbd);

/* Fault injection (bh inject, docs/watchdog.md): what a misbehaving backend
 * does, ordered by dom0 through the driver domain's runtime. Each sets a
 * flag the ring checks only where it answers or is notified.
 * - CORRUPT: the ring's next response carries an id the frontend never
 *   issued (the request itself is carried out as usual).
 * - DROP_NOTIFY: for MS ms (0: until the ring is detached) notifications
 *   are lost both ways: the frontend's are consumed unseen and the ring is
 *   not looked at for new requests; responses are published but not
 *   signalled. When the time is up nothing is replayed.
 * - CLOSE_CHANNEL: the ring forgets its event channel (off the poll set,
 *   never notified again); the caller then closes the channel itself. The
 *   ring is left unserved until it is detached. */
enum blkback_fault {
	BLKBACK_FAULT_CORRUPT,
	BLKBACK_FAULT_DROP_NOTIFY,
	BLKBACK_FAULT_CLOSE_CHANNEL,
};
int blkback_ring_inject(struct blkback *bb, int ring, enum blkback_fault f, uint32_t ms);

/* An event channel bound over /dev/xen/evtchn to the frontend's port, for
 * blkback_ring_params (evt_fd/evt_ack/notify/evt_arg). */
struct blkback_evtchn;
int blkback_evtchn_bind(uint16_t domid, uint32_t remote_port, struct blkback_evtchn **out);
void blkback_evtchn_close(struct blkback_evtchn *e);
int blkback_evtchn_fd(const struct blkback_evtchn *e);
void blkback_evtchn_ack(void *e);
void blkback_evtchn_notify(void *e);

#endif
