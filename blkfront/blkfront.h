/* bhblkfront: the blkif frontend, for the PV kernel and the benchmarks.
 *
 * A device has one or more queues; each queue is a shared ring of
 * 2^ring_page_order pages and a pool of data pages, all granted to the
 * backend once at setup (so the backend can keep them mapped with
 * feature-persistent). Data is copied between the caller's scatter list
 * and the pool; an I/O larger than 11 pages goes as one indirect request
 * when the backend offers feature-max-indirect-segments.
 *
 * Every request in flight has a private copy (its shadow): the request as
 * written to the ring, the caller's scatter list and cookie. A response is
 * checked against it (id in range, outstanding, operation matching; a
 * backend running ahead of our requests); anything else marks the device
 * broken: every request in flight completes with -EIO, later submissions
 * fail with -EIO, and nothing is read from the rings again.
 * blkfront_requeue_all() re-issues everything in flight on fresh rings,
 * for a backend that was restarted.
 *
 * Single-threaded; all calls return 0 (or a count) or a negative errno. */
#ifndef BH_BLKFRONT_H
#define BH_BLKFRONT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

/* How the frontend grants pages: /dev/xen/gntalloc (blkfront_gntalloc_ops)
 * or the in-process table of blkback/localgnt.h (bh_lgnt_front_ops). */
struct blkfront_gnt_ops {
	/* n pages granted to domid, mapped read-write at *addr_out. */
	int (*alloc)(void *priv, uint16_t domid, uint32_t n, bool writable, uint32_t *refs_out,
	             void **addr_out, void **cookie_out);
	void (*free)(void *priv, void *cookie, const uint32_t *refs, uint32_t n, void *addr);
};
extern const struct blkfront_gnt_ops blkfront_gntalloc_ops; /* priv: unused */

#define BLKFRONT_MAX_QUEUES 16
#define BLKFRONT_MAX_ORDER  4

struct blkfront_config {
	const struct blkfront_gnt_ops *gnt;
	void *gnt_priv;
	uint16_t backend; /* the backend's domid */
	/* from the backend's store keys */
	uint64_t sectors; /* 512-byte units */
	uint32_t sector_size;
	bool readonly;
	uint32_t ring_page_order;       /* <= max-ring-page-order */
	uint32_t nr_queues;             /* <= multi-queue-max-queues; 0: 1 */
	uint32_t max_indirect_segments; /* feature-max-indirect-segments (0: none) */
	bool flush, discard;
	uint32_t pool_pages; /* data pages per queue; 0: 11 per ring slot */
	/* Busy-poll for responses this long (ns) in blkfront_reap() before
	 * arming rsp_event (0: never; see blkfront_reap). */
	uint32_t poll_ns;
	/* With poll_ns: no hybrid polling (blkfront_reap), only the spin. */
	bool no_hybrid;
	/* Kick the backend for queue q (the queue's event channel). */
	void (*notify)(void *arg, uint32_t q);
	void *arg;
};

enum blkfront_op {
	BLKFRONT_READ,
	BLKFRONT_WRITE,
	BLKFRONT_FLUSH,
	BLKFRONT_DISCARD,
};

struct blkfront_io {
	enum blkfront_op op;
	uint64_t sector;         /* 512-byte units */
	uint64_t nr_sectors;     /* DISCARD only */
	const struct iovec *iov; /* READ/WRITE; stays valid until completion */
	uint32_t iovcnt;
	void *cookie; /* returned with the completion */
};

struct blkfront_cpl {
	void *cookie;
	int status; /* 0, -EIO, -EOPNOTSUPP */
};

struct blkfront_stats {
	uint64_t submitted, completed, errors, requeued;
	uint64_t bad_responses;
	uint64_t zero_copy; /* requests sent from lent buffers */
	/* hybrid polling (blkfront_reap): waits that slept on the timer and
	 * then found a response (hits) or gave up to the event (misses);
	 * waits left to the event at once (unpredictable, or backing off) */
	uint64_t poll_sleeps, poll_hits, poll_misses, poll_events;
};

struct blkfront;

int blkfront_create(const struct blkfront_config *cfg, struct blkfront **out);
void blkfront_destroy(struct blkfront *bf);

/* What the handshake publishes for queue q: ring-ref(s) and the order. */
int blkfront_ring_refs(const struct blkfront *bf, uint32_t q, uint32_t *refs_out, uint32_t *n_out);
uint32_t blkfront_nr_queues(const struct blkfront *bf);
/* The largest READ/WRITE one submission may carry, in bytes. */
uint32_t blkfront_max_io_bytes(const struct blkfront *bf);

/* -EAGAIN: no ring slot or pool pages free now (reap first); -EIO: the
 * device is broken; -EINVAL/-EROFS/-EOPNOTSUPP: a wrong request. */
int blkfront_submit(struct blkfront *bf, const struct blkfront_io *io);
/* Zero-copy buffers: bytes (rounded up to pages) of queue q's granted
 * pool, lent to the caller until blkfront_buf_free(). A READ or WRITE
 * whose single iovec starts on a page of such a buffer and stays within
 * it goes to the backend from those pages, without the copy through the
 * pool (on queue q). The buffer must not be touched while an I/O on it is
 * in flight. Lent pages are taken from the pool the copying path uses.
 * NULL: no room. */
void *blkfront_buf_alloc(struct blkfront *bf, uint32_t q, size_t bytes);
void blkfront_buf_free(struct blkfront *bf, void *buf, size_t bytes);

/* Batching: after blkfront_plug(), submissions are written to the rings
 * but published (req_prod, and the event when the backend asks for one)
 * only by blkfront_unplug(), so the backend sees a burst whole: one event
 * and one pass instead of a race over each request. Call unplug before
 * waiting for completions. */
void blkfront_plug(struct blkfront *bf);
void blkfront_unplug(struct blkfront *bf);

/* Take up to max completions; returns how many. Call when the event
 * channel fires (or poll it); if it returns max, call it again before
 * waiting: more responses may be there.
 * With poll_ns: when there is nothing to take and requests are in
 * flight, it first spins up to poll_ns for a response; and it arms
 * rsp_event (asks the backend for an event) only when it returns 0, so
 * the backend sends no events while the frontend keeps reaping. Then
 * only a 0 return means "wait for the event channel now": call it again
 * after any non-zero return before waiting. */
int blkfront_reap(struct blkfront *bf, struct blkfront_cpl *out, int max);
/* Hybrid polling (with poll_ns, unless no_hybrid): each ring keeps its
 * last 16 waits for a response (from a reap that found nothing to the
 * response seen). When their median is tens of microseconds (a read at a
 * device), a reap that finds nothing sleeps on a timer through most of
 * the expected wait, spins at most BH_HYBRID_SPIN_NS for its end, then
 * arms rsp_event and returns 0; when the waits are short (page cache) it
 * spins as above; when they are too spread to aim at, it returns 0 at
 * once (armed). See common/spinpoll.h and docs/blkif.md. The median wait
 * of queue q (ns; 0 while there are fewer than 4): */
uint32_t blkfront_wait_median(const struct blkfront *bf, uint32_t q);
/* With poll_ns: spin (adaptively, as blkfront_reap does) until a
 * response is waiting; true if one is, false when the caller should wait
 * for the event channel. Without poll_ns it only looks. For callers that
 * wait on the channel before reaping. */
bool blkfront_spin(struct blkfront *bf);
uint32_t blkfront_inflight(const struct blkfront *bf);
/* Negative errno once broken, else 0. */
int blkfront_broken(const struct blkfront *bf);

/* The backend went away: reset every ring (the same granted pages, the
 * shared header initialised again) and write every request in flight to
 * them again in submission order. The new backend attaches at index 0. */
int blkfront_requeue_all(struct blkfront *bf);

void blkfront_stats(const struct blkfront *bf, struct blkfront_stats *out);
/* Queue QI's ring indices as text, for a message about a stalled ring:
 * "req_prod <ours>/<shared> req_event .. rsp_prod .. rsp_cons .. rsp_event
 * .. inflight ..". */
void blkfront_ring_debug(const struct blkfront *bf, uint32_t qi, char *buf, size_t cap);

#endif
