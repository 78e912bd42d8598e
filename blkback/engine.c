/* The engine: vbds, rings, and the poll loop that serves them.
 *
 * blkback_fd() is an epoll descriptor over the io_uring (readable when I/O
 * completed), every ring's event channel, and an eventfd the engine writes
 * to itself when a round left work behind. blkback_process() completes
 * finished I/O first (freeing ring slots), then serves the rings in
 * round-robin rounds of at most `budget` requests each, starting one ring
 * further each call, so a frontend that floods its ring cannot starve the
 * others; then it publishes responses and notifies the frontends whose
 * event index asks for it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blkback/blkback_int.h"
#include "common/util.h"

#define TAG_URING 0
#define TAG_AGAIN 1
#define TAG_RING  2 /* + ring number */

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p *= 2;
	return p;
}

static void defaults(struct blkback_config *c)
{
	if (!c->max_indirect_segments)
		c->max_indirect_segments = 256;
	c->max_indirect_segments = BH_MIN(c->max_indirect_segments, (uint32_t)BB_MAX_SEGS);
	if (!c->max_ring_page_order)
		c->max_ring_page_order = BB_MAX_RING_ORDER;
	c->max_ring_page_order = BH_MIN(c->max_ring_page_order, (uint32_t)BB_MAX_RING_ORDER);
	if (!c->max_queues)
		c->max_queues = 4;
	if (!c->budget)
		c->budget = 32;
	if (!c->max_persistent)
		c->max_persistent = 1056;
	if (!c->queue_depth)
		c->queue_depth = 256;
}

static int ep_add(struct blkback *bb, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(bb->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int blkback_create(const struct blkback_config *cfg, struct blkback **out)
{
	struct blkback *bb = calloc(1, sizeof(*bb));
	int rc = -ENOMEM;

	*out = NULL;
	if (!bb)
		return -ENOMEM;
	if (!cfg->gnt) {
		free(bb);
		return -EINVAL;
	}
	bb->cfg = *cfg;
	defaults(&bb->cfg);
	bh_strlcpy(bb->name, cfg->name ? cfg->name : "blkback", sizeof(bb->name));
	bh_spinpoll_init(&bb->poll, bb->cfg.poll_ns);
	bb->again_fd = -1;
	bb->epfd = epoll_create1(EPOLL_CLOEXEC);
	bb->again_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (bb->epfd < 0 || bb->again_fd < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = bb_uring_init(bb)) < 0) {
		bb_log(bb, "io_uring: %s", strerror(-rc));
		goto fail;
	}
	if ((rc = ep_add(bb, bb->uring.ring_fd, TAG_URING)) < 0 ||
	    (rc = ep_add(bb, bb->again_fd, TAG_AGAIN)) < 0)
		goto fail;
	*out = bb;
	return 0;
fail:
	blkback_destroy(bb);
	return rc;
}

void blkback_features(const struct blkback *bb, struct blkback_features *out)
{
	memset(out, 0, sizeof(*out));
	out->max_indirect_segments = bb->cfg.max_indirect_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST
	                                 ? bb->cfg.max_indirect_segments
	                                 : 0;
	out->max_ring_page_order = bb->cfg.max_ring_page_order;
	out->max_queues = bb->cfg.max_queues;
	out->persistent = true;
	out->flush = true;
	out->barrier = true;
	out->discard = true;
}

int blkback_add_vbd(struct blkback *bb, const struct blkback_vbd_params *p)
{
	struct stat st;
	int i;

	if (p->fd < 0 || (p->sector_size != 512 && p->sector_size != 4096))
		return -EINVAL;
	for (i = 0; i < BB_MAX_VBDS && bb->vbd[i].used; i++)
		;
	if (i == BB_MAX_VBDS)
		return -ENOSPC;
	if (fstat(p->fd, &st) < 0)
		return -errno;
	struct bb_vbd *v = &bb->vbd[i];
	memset(v, 0, sizeof(*v));
	v->sectors = p->sectors ? p->sectors : (uint64_t)st.st_size >> BLKIF_SECTOR_SHIFT;
	/* A disk is a whole number of its own sectors. */
	v->sectors -= v->sectors % (p->sector_size / BLKIF_SECTOR_SIZE);
	if ((v->fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -errno;
	v->used = true;
	v->sector_size = p->sector_size;
	v->readonly = p->readonly;
	v->discard = p->discard && !p->readonly;
	v->sticky = p->sticky_error < 0 ? p->sticky_error : 0;
	bh_strlcpy(v->name, p->name ? p->name : "vbd", sizeof(v->name));
	return i;
}

static void ring_free(struct blkback *bb, struct bb_ring *r)
{
	if (!r)
		return;
	bb_persistent_release(bb, r);
	if (r->area)
		bb->cfg.gnt->unmap(bb->cfg.gnt_priv, r->area_cookie, r->area, r->npages);
	free(r->reqs);
	free(r->segbuf);
	free(r->iovbuf);
	free(r->pagebuf);
	free(r->tmapbuf);
	free(r->pg);
	free(r);
}

/* Per-slot request state: nr_ents requests, each with room for the most
 * segments a request may carry. */
static int ring_alloc_reqs(struct blkback *bb, struct bb_ring *r)
{
	uint32_t n = r->br.nr_ents, s = r->max_segs;
	uint32_t nt = (s + BB_MAP_CHUNK - 1) / BB_MAP_CHUNK;

	r->reqs = calloc(n, sizeof(*r->reqs));
	r->segbuf = calloc((size_t)n * s, sizeof(*r->segbuf));
	r->iovbuf = calloc((size_t)n * s, sizeof(*r->iovbuf));
	r->pagebuf = calloc((size_t)n * s, sizeof(*r->pagebuf));
	r->tmapbuf = calloc((size_t)n * nt, sizeof(*r->tmapbuf));
	if (!r->reqs || !r->segbuf || !r->iovbuf || !r->pagebuf || !r->tmapbuf)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct bb_req *q = &r->reqs[i];
		q->ring = r;
		q->seg = r->segbuf + (size_t)i * s;
		q->iov = r->iovbuf + (size_t)i * s;
		q->page = r->pagebuf + (size_t)i * s;
		q->tmap = r->tmapbuf + (size_t)i * nt;
		q->next_free = r->free;
		r->free = q;
	}
	if (r->persistent) {
		r->pg_cap = pow2_at_least(2 * bb->cfg.max_persistent);
		if (!(r->pg = calloc(r->pg_cap, sizeof(*r->pg))))
			return -ENOMEM;
	}
	return 0;
}

static int ring_check_params(const struct blkback *bb, const struct blkback_ring_params *p)
{
	if (p->vbd < 0 || p->vbd >= BB_MAX_VBDS || !bb->vbd[p->vbd].used)
		return -ENOENT;
	if (!p->refs || p->ring_page_order > bb->cfg.max_ring_page_order)
		return -EINVAL;
	if (p->protocol && strcmp(p->protocol, BLKIF_PROTOCOL_NATIVE) != 0 &&
	    strcmp(p->protocol, BLKIF_PROTOCOL_X86_32) != 0)
		return -EPROTONOSUPPORT; /* arm-abi is not taken */
	if (p->evt_fd < 0 || !p->evt_ack || !p->notify)
		return -EINVAL;
	return 0;
}

int blkback_attach_ring(struct blkback *bb, const struct blkback_ring_params *p)
{
	struct bb_ring *r;
	int i, rc;

	if ((rc = ring_check_params(bb, p)) < 0)
		return rc;
	for (i = 0; i < BB_MAX_RINGS && bb->ring[i]; i++)
		;
	if (i == BB_MAX_RINGS)
		return -ENOSPC;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->vbd = p->vbd;
	r->domid = p->domid;
	r->persistent = p->persistent;
	r->npages = 1u << p->ring_page_order;
	r->max_segs =
	    BH_MAX(bb->cfg.max_indirect_segments, (uint32_t)BLKIF_MAX_SEGMENTS_PER_REQUEST);
	r->evt_fd = p->evt_fd;
	r->evt_ack = p->evt_ack;
	r->notify = p->notify;
	r->evt_arg = p->evt_arg;
	rc = bb->cfg.gnt->map(bb->cfg.gnt_priv, p->domid, p->refs, r->npages, true, &r->area,
	                      &r->area_cookie);
	if (rc < 0) {
		r->area = NULL;
		goto fail;
	}
	blkif_back_attach(&r->br, r->area, r->npages, p->start);
	r->x86_32 = p->protocol && strcmp(p->protocol, BLKIF_PROTOCOL_X86_32) == 0;
	r->stride = r->x86_32 ? BLKIF_X86_32_SLOT : sizeof(union blkif_sring_entry);
	r->br.nr_ents = bh_ring_size(r->npages, r->stride);
	if ((rc = ring_alloc_reqs(bb, r)) < 0 || (rc = ep_add(bb, p->evt_fd, TAG_RING + i)) < 0)
		goto fail;
	r->used = true;
	bb->ring[i] = r;
	/* Requests may already be waiting; look at them on the next call. */
	eventfd_write(bb->again_fd, 1);
	return i;
fail:
	ring_free(bb, r);
	return rc;
}

static struct bb_ring *ring_of(const struct blkback *bb, int ring)
{
	return ring >= 0 && ring < BB_MAX_RINGS ? bb->ring[ring] : NULL;
}

int blkback_detach_ring(struct blkback *bb, int ring)
{
	struct bb_ring *r = ring_of(bb, ring);

	if (!r)
		return -ENOENT;
	r->detaching = true;
	while (r->inflight > 0)
		bb_reap(bb, true);
	if (r->need_push && !r->dead && blkif_back_push(&r->br) && !r->fault_chan)
		r->notify(r->evt_arg);
	if (!r->fault_chan)
		epoll_ctl(bb->epfd, EPOLL_CTL_DEL, r->evt_fd, NULL);
	bb->ring[ring] = NULL;
	ring_free(bb, r);
	return 0;
}

int blkback_ring_status(const struct blkback *bb, int ring)
{
	const struct bb_ring *r = ring_of(bb, ring);

	return r ? r->err : -ENOENT;
}

int blkback_fd(const struct blkback *bb)
{
	return bb->epfd;
}

/* Consume the readiness the epoll descriptor reports. */
static void take_events(struct blkback *bb)
{
	struct epoll_event ev[BB_MAX_RINGS + 2];
	int n = epoll_wait(bb->epfd, ev, BH_ARRAY_SIZE(ev), 0);
	eventfd_t v;

	for (int i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64;
		if (tag == TAG_AGAIN) {
			eventfd_read(bb->again_fd, &v);
		} else if (tag >= TAG_RING && tag - TAG_RING < BB_MAX_RINGS) {
			struct bb_ring *r = bb->ring[tag - TAG_RING];
			if (r && !r->fault_chan)
				r->evt_ack(r->evt_arg); /* consumed, even when lost (deaf) */
			if (r && bb_ring_deaf(r))
				r->fault_lost++;
		}
	}
}

/* Publish responses; true if any were. */
static bool push_all(struct blkback *bb)
{
	bool pushed = false;

	for (int i = 0; i < BB_MAX_RINGS; i++) {
		struct bb_ring *r = bb->ring[i];
		if (r && r->need_push && !r->dead) {
			r->need_push = false;
			pushed = true;
			if (blkif_back_push(&r->br)) {
				if (!bb_ring_deaf(r))
					r->notify(r->evt_arg);
				else
					r->fault_lost++;
			}
		}
	}
	return pushed;
}

/* Anything to do now: requests on a ring, or completed I/O. A deaf ring
 * (an injected fault) is not looked at, so it cannot keep the spin going. */
static bool work_waiting(struct blkback *bb)
{
	if (io_uring_cq_ready(&bb->uring))
		return true;
	for (int i = 0; i < BB_MAX_RINGS; i++) {
		struct bb_ring *r = bb->ring[i];
		if (r && !r->dead && bb_ring_pending(r) && !bb_ring_deaf(r))
			return true;
	}
	return false;
}

/* Arm every ring for its next request; true if one has requests now. */
static bool arm_all(struct blkback *bb)
{
	bool more = false;

	for (int i = 0; i < BB_MAX_RINGS; i++) {
		struct bb_ring *r = bb->ring[i];
		if (r && !r->dead && !r->detaching && blkif_back_final_check(&r->br) &&
		    !bb_ring_deaf(r))
			more = true;
	}
	return more;
}

static bool work_waiting_cb(void *bb)
{
	return work_waiting(bb);
}

int blkback_process(struct blkback *bb)
{
	uint64_t start = bb->cfg.poll_ns ? bh_now_ns() : 0, last_work = start, last_rsp = 0;
	int round = 0;

	bh_spinpoll_adapt(&bb->poll, start);
	bool polling = bb->poll.cur > 0;
	take_events(bb);
	bb_reap(bb, false);
	for (;;) {
		bool more = false;
		for (int k = 0; k < BB_MAX_RINGS; k++) {
			struct bb_ring *r = bb->ring[(bb->rr + k) % BB_MAX_RINGS];
			if (r && !bb_ring_deaf(r) && bb_serve_ring(bb, r, bb->cfg.budget, !polling))
				more = true;
		}
		bb_uring_flush(bb);
		/* Completions free slots for the next round. */
		bb_reap(bb, false);
		if (push_all(bb) && polling)
			last_rsp = bh_now_ns();
		if (!polling) {
			if (!more) {
				if (bb->cfg.poll_ns)
					bb->poll.idle_since = bh_now_ns();
				break;
			}
			if (++round < BB_MAX_ROUNDS)
				continue;
			eventfd_write(bb->again_fd, 1);
			break;
		}
		/* Polling: go on while work comes, within the time cap (the
		 * caller's loop has other descriptors to serve too). */
		uint64_t now = bh_now_ns();
		if (now - start > BB_MAX_POLL_NS) {
			if (more || arm_all(bb))
				eventfd_write(bb->again_fd, 1);
			break;
		}
		if (more) {
			last_work = now;
			continue;
		}
		/* With I/O at the device and no request waiting, sleep: the
		 * completion wakes us through the io_uring fd as soon as a spin
		 * would see it, and a spin here only takes CPU from the device's
		 * own completion path (on a VM, from the host emulating the
		 * disk): measured on O_DIRECT 4 KiB reads, ~10 us longer per
		 * read while the engine spun (docs/blkif.md). */
		bool device_wait = bb->uring_inflight > 0;
		/* Except right after responses: their frontend answers with new
		 * requests within microseconds (at QD32 the device is never
		 * idle, and without this every batch cost a wake-up). */
		uint64_t until = last_work + bb->poll.cur;
		if (device_wait)
			until = BH_MIN(until, last_rsp ? last_rsp + BB_SPIN_AFTER_RSP_NS : 0);
		if (until > now && bh_spinpoll_spin_until(&bb->poll, until, work_waiting_cb, bb)) {
			last_work = bh_now_ns();
			bb_reap(bb, false);
			continue;
		}
		if (!arm_all(bb)) {
			/* Asleep from here: the next call tells how long. A sleep
			 * on the device says nothing about how soon the frontend
			 * comes back, so it leaves the budget alone: the spin for
			 * the next request (the frontend answers a response within
			 * microseconds) survives a slow disk. */
			bb->poll.idle_since = device_wait ? 0 : last_work;
			break;
		}
	}
	bb->rr = (bb->rr + 1) % BB_MAX_RINGS;
	push_all(bb);
	return 0;
}

/* ---- fault injection (bh inject) ---- */

bool bb_ring_deaf_slow(struct bb_ring *r)
{
	if (r->fault_deaf_ns != UINT64_MAX && bh_now_ns() >= r->fault_deaf_ns) {
		r->fault_deaf_ns = 0; /* over: what was lost stays lost */
		bb_log(r->fault_bb, "ring %d: notifications heard again; %u lost meanwhile",
		       r->fault_idx, r->fault_lost);
		return false;
	}
	return true;
}

int blkback_ring_inject(struct blkback *bb, int ring, enum blkback_fault f, uint32_t ms)
{
	struct bb_ring *r = ring_of(bb, ring);

	if (!r || r->dead)
		return -ENOENT;
	r->fault_bb = bb;
	r->fault_idx = ring;
	r->fault_lost = 0;
	switch (f) {
	case BLKBACK_FAULT_CORRUPT:
		r->fault_corrupt = true;
		bb_log(bb, "ring %d: injected: the next response gets a bogus id", ring);
		return 0;
	case BLKBACK_FAULT_DROP_NOTIFY:
		r->fault_deaf_ns = ms ? bh_now_ns() + (uint64_t)ms * 1000000ull : UINT64_MAX;
		if (ms)
			bb_log(bb, "ring %d: injected: notifications dropped for %u ms", ring, ms);
		else
			bb_log(bb, "ring %d: injected: notifications dropped until detached", ring);
		return 0;
	case BLKBACK_FAULT_CLOSE_CHANNEL:
		if (r->fault_chan)
			return -EALREADY;
		epoll_ctl(bb->epfd, EPOLL_CTL_DEL, r->evt_fd, NULL);
		r->fault_chan = true;
		r->fault_deaf_ns = UINT64_MAX;
		bb_log(bb, "ring %d: injected: event channel closed", ring);
		return 0;
	}
	return -EINVAL;
}

static const struct bb_vbd *vbd_of(const struct blkback *bb, int vbd)
{
	return vbd >= 0 && vbd < BB_MAX_VBDS && bb->vbd[vbd].used ? &bb->vbd[vbd] : NULL;
}

int blkback_vbd_stats(const struct blkback *bb, int vbd, struct blkback_stats *out)
{
	const struct bb_vbd *v = vbd_of(bb, vbd);

	if (!v)
		return -ENOENT;
	*out = v->st;
	return 0;
}

int blkback_vbd_sticky_error(const struct blkback *bb, int vbd)
{
	const struct bb_vbd *v = vbd_of(bb, vbd);

	return v ? v->sticky : -ENOENT;
}

uint64_t blkback_vbd_sectors(const struct blkback *bb, int vbd)
{
	const struct bb_vbd *v = vbd_of(bb, vbd);

	return v ? v->sectors : 0;
}

void blkback_destroy(struct blkback *bb)
{
	if (!bb)
		return;
	for (int i = 0; i < BB_MAX_RINGS; i++)
		if (bb->ring[i])
			blkback_detach_ring(bb, i);
	bb_uring_exit(bb);
	for (int i = 0; i < BB_MAX_VBDS; i++)
		if (bb->vbd[i].used)
			close(bb->vbd[i].fd);
	bh_closep(&bb->epfd);
	bh_closep(&bb->again_fd);
	free(bb);
}
