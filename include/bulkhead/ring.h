/* Xen's generic shared ring (io/ring.h), the same layout and index rules,
 * written for Bulkhead.
 *
 * A shared ring is one or more 4096-byte pages: a 64-byte header
 *   req_prod @0, req_event @4, rsp_prod @8, rsp_event @12, pvt[4] @16,
 *   pad[44] @20
 * then slots, each a union of the request and response type. The number of
 * slots is the largest power of two that fits. Indices are free-running
 * u32 counters, never masked when stored; all comparisons use u32
 * differences.
 *
 * Rules kept here (protocol-facts §1):
 *  - only the frontend initialises the shared header (events = 1);
 *  - producer: fill slots, write barrier, publish the index, full barrier,
 *    then notify iff the consumer's event index lies in (old, new];
 *  - consumer: read the producer index once, read barrier, copy each slot
 *    out once and use only the copy; before idling set the event index to
 *    cons + 1, full barrier, re-check;
 *  - a backend never trusts req_prod: unconsumed requests are clamped and
 *    a producer more than a ring ahead is a hostile frontend.
 *
 * BH_DEFINE_RING_TYPES(name, req_t, rsp_t) declares:
 *   union name##_sring_entry, struct name##_sring (the shared page),
 *   struct name##_front_ring, struct name##_back_ring. */
#ifndef BULKHEAD_RING_H
#define BULKHEAD_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef uint32_t RING_IDX;

#define BH_RING_PAGE 4096u

#define bh_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define bh_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define bh_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* Read or write a shared index exactly once. */
#define BH_READ_ONCE(x)     (*(const volatile __typeof__(x) *)&(x))
#define BH_WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

struct bh_sring_hdr {
	RING_IDX req_prod, req_event;
	RING_IDX rsp_prod, rsp_event;
	uint8_t pvt[4];
	uint8_t pad[44];
};
_Static_assert(sizeof(struct bh_sring_hdr) == 64, "ring header");

/* Largest power of two <= n (n > 0). */
static inline uint32_t bh_rounddown_pow2(uint32_t n)
{
	uint32_t p = 1;

	while (p <= n / 2)
		p *= 2;
	return n ? p : 0;
}

/* Slots in a ring of `pages` pages with slots of `slot` bytes. */
static inline uint32_t bh_ring_size(uint32_t pages, uint32_t slot)
{
	return bh_rounddown_pow2((pages * BH_RING_PAGE - (uint32_t)sizeof(struct bh_sring_hdr)) /
	                         slot);
}

/* notify iff event lies in (old, new] modulo 2^32 */
static inline bool bh_ring_need_notify(RING_IDX new_idx, RING_IDX old_idx, RING_IDX event)
{
	return (RING_IDX)(new_idx - event) < (RING_IDX)(new_idx - old_idx);
}

#define BH_DEFINE_RING_TYPES(name, req_t, rsp_t)                                                    \
	union name##_sring_entry {                                                                  \
		req_t req;                                                                          \
		rsp_t rsp;                                                                          \
	};                                                                                          \
	struct name##_sring {                                                                       \
		struct bh_sring_hdr hdr;                                                            \
		union name##_sring_entry ring[];                                                    \
	};                                                                                          \
	struct name##_front_ring {                                                                  \
		RING_IDX req_prod_pvt;                                                              \
		RING_IDX rsp_cons;                                                                  \
		uint32_t nr_ents;                                                                   \
		struct name##_sring *sring;                                                         \
	};                                                                                          \
	struct name##_back_ring {                                                                   \
		RING_IDX rsp_prod_pvt;                                                              \
		RING_IDX req_cons;                                                                  \
		uint32_t nr_ents;                                                                   \
		struct name##_sring *sring;                                                         \
	};                                                                                          \
	static inline uint32_t name##_ring_size(uint32_t pages)                                     \
	{                                                                                           \
		return bh_ring_size(pages, (uint32_t)sizeof(union name##_sring_entry));             \
	}                                                                                           \
	/* Frontend: initialise the shared page(s) and attach. */                                   \
	static inline void name##_front_init(struct name##_front_ring *r, void *area,               \
	                                     uint32_t pages)                                        \
	{                                                                                           \
		struct name##_sring *s = area;                                                      \
		memset(&s->hdr, 0, sizeof(s->hdr));                                                 \
		s->hdr.req_event = s->hdr.rsp_event = 1;                                            \
		r->req_prod_pvt = r->rsp_cons = 0;                                                  \
		r->nr_ents = name##_ring_size(pages);                                               \
		r->sring = s;                                                                       \
	}                                                                                           \
	/* Backend: attach to a ring the frontend set up (at index 0, or at the                 \
	 * given index to re-attach to a ring that already carried traffic). */   \
	static inline void name##_back_attach(struct name##_back_ring *r, void *area,               \
	                                      uint32_t pages, RING_IDX start)                       \
	{                                                                                           \
		r->rsp_prod_pvt = r->req_cons = start;                                              \
		r->nr_ents = name##_ring_size(pages);                                               \
		r->sring = area;                                                                    \
	}                                                                                           \
	static inline req_t *name##_front_req_slot(struct name##_front_ring *r, RING_IDX i)         \
	{                                                                                           \
		return &r->sring->ring[i & (r->nr_ents - 1)].req;                                   \
	}                                                                                           \
	static inline rsp_t *name##_back_rsp_slot(struct name##_back_ring *r, RING_IDX i)           \
	{                                                                                           \
		return &r->sring->ring[i & (r->nr_ents - 1)].rsp;                                   \
	}                                                                                           \
	static inline uint32_t name##_front_free(const struct name##_front_ring *r)                 \
	{                                                                                           \
		return r->nr_ents - (r->req_prod_pvt - r->rsp_cons);                                \
	}                                                                                           \
	/* Publish requests; true if the backend must be notified. */                               \
	static inline bool name##_front_push(struct name##_front_ring *r)                           \
	{                                                                                           \
		RING_IDX old = BH_READ_ONCE(r->sring->hdr.req_prod), new_idx = r->req_prod_pvt;     \
		bh_wmb();                                                                           \
		BH_WRITE_ONCE(r->sring->hdr.req_prod, new_idx);                                     \
		bh_mb();                                                                            \
		return bh_ring_need_notify(new_idx, old, BH_READ_ONCE(r->sring->hdr.req_event));    \
	}                                                                                           \
	/* Publish responses; true if the frontend must be notified. */                             \
	static inline bool name##_back_push(struct name##_back_ring *r)                             \
	{                                                                                           \
		RING_IDX old = BH_READ_ONCE(r->sring->hdr.rsp_prod), new_idx = r->rsp_prod_pvt;     \
		bh_wmb();                                                                           \
		BH_WRITE_ONCE(r->sring->hdr.rsp_prod, new_idx);                                     \
		bh_mb();                                                                            \
		return bh_ring_need_notify(new_idx, old, BH_READ_ONCE(r->sring->hdr.rsp_event));    \
	}                                                                                           \
	/* Backend: how many requests may be consumed now (the producer index                   \
	 * is read once and clamped, so a hostile frontend cannot make us run                    \
	 * past our own responses). */   \
	static inline uint32_t name##_back_unconsumed(const struct name##_back_ring *r,             \
	                                              RING_IDX req_prod)                            \
	{                                                                                           \
		uint32_t reqs = req_prod - r->req_cons;                                             \
		uint32_t rsps = r->nr_ents - (r->req_cons - r->rsp_prod_pvt);                       \
		return reqs < rsps ? reqs : rsps;                                                   \
	}                                                                                           \
	/* Backend: a frontend whose producer is more than a ring ahead of our                   \
	 * responses is broken or hostile. */  \
	static inline bool name##_back_req_overflow(const struct name##_back_ring *r,               \
	                                            RING_IDX req_prod)                              \
	{                                                                                           \
		return (RING_IDX)(req_prod - r->rsp_prod_pvt) > r->nr_ents;                         \
	}                                                                                           \
	/* Frontend: a backend whose responses run ahead of our requests is. */                     \
	static inline bool name##_front_rsp_overflow(const struct name##_front_ring *r,             \
	                                             RING_IDX rsp_prod)                             \
	{                                                                                           \
		return (RING_IDX)(rsp_prod - r->rsp_cons) > r->nr_ents;                             \
	}                                                                                           \
	/* Backend final check before idling: ask to be woken by the next                         \
	 * request; true if requests arrived meanwhile. */ \
	static inline bool name##_back_final_check(struct name##_back_ring *r)                      \
	{                                                                                           \
		RING_IDX prod = BH_READ_ONCE(r->sring->hdr.req_prod);                               \
		if (name##_back_unconsumed(r, prod))                                                \
			return true;                                                                \
		BH_WRITE_ONCE(r->sring->hdr.req_event, r->req_cons + 1);                            \
		bh_mb();                                                                            \
		prod = BH_READ_ONCE(r->sring->hdr.req_prod);                                        \
		return name##_back_unconsumed(r, prod) != 0;                                        \
	}                                                                                           \
	/* Frontend final check before idling. */                                                   \
	static inline bool name##_front_final_check(struct name##_front_ring *r)                    \
	{                                                                                           \
		if (BH_READ_ONCE(r->sring->hdr.rsp_prod) != r->rsp_cons)                            \
			return true;                                                                \
		BH_WRITE_ONCE(r->sring->hdr.rsp_event, r->rsp_cons + 1);                            \
		bh_mb();                                                                            \
		return BH_READ_ONCE(r->sring->hdr.rsp_prod) != r->rsp_cons;                         \
	}

#endif
