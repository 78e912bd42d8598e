/* The engine's private structures, shared by engine.c (lifetimes, the
 * poll loop), request.c (reading and checking requests), grants.c (mapping
 * the frontend's pages) and io.c (io_uring). */
#ifndef BH_BLKBACK_INT_H
#define BH_BLKBACK_INT_H

#include <liburing.h>
#include <sys/uio.h>

#include "common/spinpoll.h"
#include "blkback/blkback.h"
#include "bulkhead/blkif.h"
#include "common/util.h"

#define BB_MAX_VBDS    64
#define BB_MAX_RINGS   64
#define BB_MAX_SEGS    (BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * BLKIF_SEGS_PER_INDIRECT_FRAME)
#define BB_MAP_CHUNK   16      /* grants per transient map call */
#define BB_MAX_ROUNDS  8       /* round-robin rounds per blkback_process() */
#define BB_MAX_POLL_NS 2000000 /* the longest one blkback_process() polls */
/* With device I/O in flight, the spin for new requests after responses. */
#define BB_SPIN_AFTER_RSP_NS 10000
#define BB_MAX_RING_ORDER    4

struct bb_vbd {
	bool used;
	int fd;
	uint32_t sector_size;
	bool readonly, discard;
	uint64_t sectors;
	int sticky;
	char name[32];
	struct blkback_stats st;
};

/* One transient (per-request) mapping of up to BB_MAP_CHUNK pages. */
struct bb_tmap {
	void *cookie;
	void *addr;
	uint32_t n;
};

/* A persistent grant kept mapped until the ring is detached. */
struct bb_pgrant {
	uint32_t ref;
	bool used;
	bool writable;
	void *cookie;
	void *addr;
};

struct bb_req {
	struct bb_ring *ring;
	uint64_t id;
	uint8_t op;   /* the operation echoed in the response */
	uint8_t kind; /* BLKIF_OP_READ/WRITE/FLUSH_DISKCACHE/DISCARD */
	uint32_t nseg;
	uint64_t sector;
	uint64_t bytes;
	uint32_t ntmap;
	bool inflight;
	struct blkif_request_segment *seg; /* nseg (points into segbuf) */
	struct iovec *iov;
	struct bb_tmap *tmap;
	void **page; /* per segment */
	struct bb_req *next_free;
};

struct bb_ring {
	bool used, dead, detaching;
	int err;
	int vbd;
	uint16_t domid;
	bool persistent;
	bool x86_32;     /* the frontend speaks the x86_32 ABI: translate */
	uint32_t stride; /* slot bytes: 112 native, 108 x86_32 */
	struct blkif_back_ring br;
	void *area;
	void *area_cookie;
	uint32_t npages;
	int evt_fd;
	void (*evt_ack)(void *);
	void (*notify)(void *);
	void *evt_arg;
	bool need_push;
	uint32_t inflight;
	struct bb_req *reqs;
	struct bb_req *free;
	struct blkif_request_segment *segbuf; /* nr_ents * max segments */
	struct iovec *iovbuf;
	void **pagebuf;
	struct bb_tmap *tmapbuf;
	uint32_t max_segs;
	struct bb_pgrant *pg; /* open-addressed, 2 * max_persistent */
	uint32_t pg_cap, pg_count;
	/* Injected faults (blkback_ring_inject); all zero in normal service. */
	bool fault_corrupt;     /* the next response gets a bogus id */
	bool fault_chan;        /* the event channel was closed under us */
	uint64_t fault_deaf_ns; /* notifications lost until then (UINT64_MAX: for good) */
	uint32_t fault_lost;    /* notifications lost so far (either way) */
	int fault_idx;          /* the ring's number, for the log */
	struct blkback *fault_bb;
};
/* Notifications are being lost (an injected fault): one load when not. */
bool bb_ring_deaf_slow(struct bb_ring *r);
static inline bool bb_ring_deaf(struct bb_ring *r)
{
	return __builtin_expect(r->fault_deaf_ns != 0, 0) && bb_ring_deaf_slow(r);
}

struct blkback {
	struct blkback_config cfg;
	struct io_uring uring;
	bool uring_ok;
	int epfd, again_fd;
	uint32_t sq_pending;
	uint32_t uring_inflight, uring_cap; /* SQEs taken and not completed; CQ size */
	uint32_t rr;                        /* the ring to serve first next round */
	struct bh_spinpoll poll;            /* adaptive polling, up to cfg.poll_ns */
	struct bb_vbd vbd[BB_MAX_VBDS];
	struct bb_ring *ring[BB_MAX_RINGS];
	char name[64];
};

/* request.c */
bool bb_serve_ring(struct blkback *bb, struct bb_ring *r, uint32_t budget, bool arm);
bool bb_ring_pending(const struct bb_ring *r);
void bb_respond(struct blkback *bb, struct bb_req *q, int16_t status);
void bb_ring_fail(struct blkback *bb, struct bb_ring *r, int err, const char *why);

/* grants.c */
int bb_map_segments(struct blkback *bb, struct bb_req *q, bool writable);
void bb_unmap_request(struct blkback *bb, struct bb_req *q);
int bb_fetch_indirect(struct blkback *bb, struct bb_req *q, const uint32_t *refs, uint32_t npages);
void bb_persistent_release(struct blkback *bb, struct bb_ring *r);

/* io.c */
int bb_uring_init(struct blkback *bb);
void bb_uring_exit(struct blkback *bb);
int bb_submit_rw(struct blkback *bb, struct bb_req *q);
int bb_submit_flush(struct blkback *bb, struct bb_req *q);
int bb_submit_discard(struct blkback *bb, struct bb_req *q, uint64_t off, uint64_t len);
void bb_uring_flush(struct blkback *bb);
/* Room for another request's SQE without overflowing the completion queue. */
static inline bool bb_uring_room(const struct blkback *bb)
{
	return bb->uring_inflight < bb->uring_cap;
}
int bb_reap(struct blkback *bb, bool wait);

void bb_log(const struct blkback *bb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
