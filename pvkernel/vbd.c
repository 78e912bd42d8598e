/* The block frontend of the PV kernel (vbd.h).
 *
 * Connect: Linux blkfront's side of the xenbus dance (protocol-facts §2.4):
 * wait for the backend's InitWait, read what it offers, allocate the ring
 * (bhblkfront), write ring-ref(s), event-channel and protocol, switch to
 * Initialised, wait for the backend's Connected, switch to Connected.
 *
 * Serve: one FUSE mount at /dev/.vbd holding a regular file per disk, and
 * /dev/<vdev> symlinks to them. A thread runs the FUSE session and owns
 * every blkfront after the handshake: each request is split into
 * sector-aligned pieces the ring takes, submitted and waited for, so I/O is
 * synchronous per request, and an unaligned write is read, patched and
 * written back. Writes reach the backend before write(2) returns (no
 * writeback cache); fsync(2) is a blkif flush.
 *
 * Recover: a watch on each backend's state node (handled on the store
 * loop's thread, pvk_vbd_watch) notices a backend that went away: its
 * state leaves Connected (re-created at Initialising by the toolstack
 * after a driver-domain restart, Closing, Closed, InitWait, or gone). The
 * ring, grants and event channel are dropped, I/O is held, and as soon as
 * the toolstack has written the backend's directory again (Initialising)
 * the handshake is redone on fresh ones, on the offer the last ring was
 * made on (link_attach_early: the new backend finds it ready and
 * connects at once); the new offer is read when the backend shows one,
 * and a ring it does not fit is made again (link_check). Without an
 * earlier offer the handshake waits for the InitWait. The FUSE thread has
 * at most one request in flight (I/O is synchronous) and keeps its
 * description, so it submits it again on the new ring; a write done
 * twice writes the same bytes. After bhblk.timeout= seconds (default 60)
 * without a backend, I/O fails with EIO until the backend comes back. */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blkfront/blkfront.h"
#include "bulkhead/blkif.h"
#include "bulkhead/xs_wire.h"
#include "common/util.h"
#include "ioctl/xendev.h"
#include "pvkernel/vbd.h"
#include "pvkernel/xbfront.h"
#include "xenstored/bhxs.h"

#define MAX_DISKS         16
#define FUSE_FD           4
#define MOUNT_DIR         "/dev/.vbd"
#define HANDSHAKE_MS      10000
#define IO_TIMEOUT_MS     30000
#define DEFAULT_RECOVER_S 60
/* The FUSE thread may spin this long at most for a response before it
 * sleeps on the event channel (adaptive: blkfront.h, docs/blkif.md). 0:
 * dd bs=4k through /dev/xvda measured the same with 50 us (41-49 MiB/s
 * either way: the guest process's and FUSE's own wake-ups dominate), so
 * the guest's CPU is not spent on it. */
#define BLKFRONT_POLL_NS 0

/* What the backend offers, read by attach (one batch). */
enum { OF_SECTORS, OF_SSIZE, OF_INFO, OF_FLUSH, OF_DISCARD, OF_INDIRECT, OF_MAXORDER, OF_N };

struct disk {
	char name[32]; /* vdev: "xvda" */
	uint64_t sectors;
	uint32_t sector_size;
	bool readonly, flush;
	int ev; /* /dev/xen/evtchn, one port bound */
	uint32_t port;
	struct blkfront *bf;
	uint16_t backend_id;
	/* Recovery (xbfront.h); under `lock`. `polling`: the FUSE thread is
	 * in poll(2) on `ev` without the lock, so `ev` and `bf` must stay. */
	struct pvk_fe_link link;
	bool polling, failed;
	unsigned resets;   /* ring resets in a row without a completed request */
	uint64_t reset_ns; /* a ring reset waits for the backend's InitWait since */
	/* Reconnecting fast (the store thread's only, no lock needed): the
	 * ring of the backend that went away, freed once the disk is up again
	 * and its first request done (freeing its grants took ~10 ms, not for
	 * the guest to wait on); a spare ring made then, for the next backend
	 * if its features ask for the same ring (making one, each pool page a
	 * grant, took ~16 ms); the configuration of the current ring; what to
	 * say once `lock` is let go. */
	struct blkfront *old_bf;
	int old_ev;
	bool tidy; /* under `lock`: reconnected, tidy up after the first request */
	struct blkfront *spare;
	struct blkfront_config cfg;
	char note[512];
	/* The offer the current ring was made on (offer_known), which an
	 * early attach publishes a new ring on; and the new backend's, read
	 * with its state while that ring waits (fresh: link_check's). */
	unsigned long long offer[OF_N], fresh[OF_N];
	bool offer_known, fresh_ok;
};

static struct disk disks[MAX_DISKS];
static unsigned ndisks;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static pthread_once_t cond_once = PTHREAD_ONCE_INIT;
static unsigned recover_s = DEFAULT_RECOVER_S;
static void (*vlog)(void *, const char *);
static void *vlog_arg;
static int msg_pipe[2] = { -1, -1 }; /* FUSE thread -> store thread messages */
static struct bhxs *store_xs;        /* the store thread's, for ring resets */
/* Wakes the FUSE thread out of its poll(2) on a ring's channel when the
 * backend went away: a dead backend sends no more notifications, and
 * link_down has to wait for that poll to end before dropping the ring.
 * Without it the wait was the poll's 100 ms timeout, most of a restart. */
static int wake_fd = -1;
static void ring_reset_order(const char *arg);
#define RESET_MSG '\001' /* a msg_pipe line asking the store thread for a ring reset */
#define TIDY_MSG  '\002' /* ... for reconnect_housekeeping once I/O runs again */

/* Waits are against the monotonic clock (bh_now_ns). */
static void cond_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&cond, &a);
	pthread_condattr_destroy(&a);
}

void pvk_vbd_set_timeout(unsigned seconds)
{
	recover_s = seconds;
}

static void kick(void *arg, uint32_t q)
{
	struct disk *d = arg;
	struct ioctl_evtchn_notify nt = { .port = d->port };

	(void)q;
	xen_ioctl(d->ev, IOCTL_EVTCHN_NOTIFY, &nt);
}

static int read_uint(struct bhxs *xs, const char *dir, const char *key, unsigned long long dflt,
                     unsigned long long *out)
{
	char p[256];
	int rc;

	snprintf(p, sizeof(p), "%s/%s", dir, key);
	rc = bhxs_read_uint(xs, 0, p, out);
	if (rc == -ENOENT) {
		*out = dflt;
		return 0;
	}
	return rc;
}

/* A backend key with its default when absent. */
/* Publishes the ring and goes Initialised: the writes pipelined, the
 * state last (one round trip to the store, not eight). No transaction:
 * the store handles one connection's requests in order, so when the
 * backend sees Initialised every key is there, and the backend reads
 * them only then (as Linux's blkback does); a transaction would add two
 * round trips and guard against no reader. */
static int write_frontend(struct bhxs *xs, const char *fe, struct disk *d, uint32_t order)
{
	uint32_t refs[1u << BLKFRONT_MAX_ORDER], n = 0;
	struct pvk_fe_batch *b = calloc(1, sizeof(*b));
	char key[32];
	int rc;

	if (!b)
		return -ENOMEM;
	blkfront_ring_refs(d->bf, 0, refs, &n);
	if (order == 0) {
		pvk_fe_put(b, fe, "ring-ref", "%u", refs[0]);
	} else {
		pvk_fe_put(b, fe, "ring-page-order", "%u", order);
		for (uint32_t i = 0; i < n; i++) {
			snprintf(key, sizeof(key), "ring-ref%u", i);
			pvk_fe_put(b, fe, key, "%u", refs[i]);
		}
	}
	pvk_fe_put(b, fe, "event-channel", "%u", d->port);
	/* The pool is granted once at setup (blkfront.h): the backend may
	 * keep it mapped. Without this key it mapped and unmapped every page
	 * of every request, two calls to the core each. */
	pvk_fe_put(b, fe, "feature-persistent", "%s", "1");
	pvk_fe_put(b, fe, "protocol", "%s", BLKIF_PROTOCOL_NATIVE);
	pvk_fe_put(b, fe, "state", "%u", XB_INITIALISED);
	rc = pvk_fe_write_batch(xs, b);
	free(b);
	return rc;
}

/* A ring made ahead for configuration CFG does for B when the backend
 * asks for the same one (the features, re-read at every handshake, may
 * differ: then a new one is made). */
static bool same_ring(const struct blkfront_config *a, const struct blkfront_config *b)
{
	return a->gnt == b->gnt && a->gnt_priv == b->gnt_priv && a->backend == b->backend &&
	       a->sectors == b->sectors && a->sector_size == b->sector_size &&
	       a->readonly == b->readonly && a->ring_page_order == b->ring_page_order &&
	       a->nr_queues == b->nr_queues &&
	       a->max_indirect_segments == b->max_indirect_segments && a->flush == b->flush &&
	       a->discard == b->discard && a->pool_pages == b->pool_pages &&
	       a->poll_ns == b->poll_ns && a->notify == b->notify && a->arg == b->arg;
}

/* Frees a ring with its grants, and closes its event channel. */
static void drop_ring(struct blkfront **bf, int *ev)
{
	if (*bf)
		blkfront_destroy(*bf);
	*bf = NULL;
	if (*ev >= 0)
		xen_close(*ev);
	*ev = -1;
}

/* The store thread, `lock` not held, disk up: free the old ring and make
 * a spare. The spare's pages are granted to the backend's domid, which
 * the old generation had too while it lived; the core drops a dead
 * generation's mappings, and the spare's refs are published to no one
 * until a handshake hands them to the new backend: they are as new to it
 * as pages granted after the restart. */
static void reconnect_housekeeping(struct disk *d)
{
	drop_ring(&d->old_bf, &d->old_ev);
	if (!d->spare && d->cfg.gnt && blkfront_create(&d->cfg, &d->spare) < 0)
		d->spare = NULL; /* the next handshake makes its ring then */
}

/* Drops the ring, its grants and the event channel (the backend is gone
 * or failed the handshake). Called with no FUSE poll in progress. */
static void detach(struct disk *d)
{
	drop_ring(&d->bf, &d->ev);
}

/* The backend's offer in one batch into V (OF_*): 0, or the connection's
 * or the first key's error. With STATE, the backend's state in the same
 * batch (pvk_fe_read_state's). */
static int read_offer(struct bhxs *xs, const char *be, unsigned long long v[OF_N], long long *state)
{
	struct pvk_fe_key keys[OF_N] = {
		[OF_SECTORS] = { "sectors", 0, &v[OF_SECTORS] },
		[OF_SSIZE] = { "sector-size", 512, &v[OF_SSIZE] },
		[OF_INFO] = { "info", 0, &v[OF_INFO] },
		[OF_FLUSH] = { "feature-flush-cache", 0, &v[OF_FLUSH] },
		[OF_DISCARD] = { "feature-discard", 0, &v[OF_DISCARD] },
		[OF_INDIRECT] = { "feature-max-indirect-segments", 0, &v[OF_INDIRECT] },
		[OF_MAXORDER] = { "max-ring-page-order", 0, &v[OF_MAXORDER] },
	};
	int rc;

	if (!state)
		return pvk_fe_read_uints(xs, be, keys, OF_N);
	*state = pvk_fe_read_state_uints(xs, be, keys, OF_N, &rc);
	for (size_t i = 0; i < OF_N && rc == 0; i++)
		rc = keys[i].rc;
	return rc;
}

/* The frontend's half of the handshake on the backend's offer OF:
 * allocate ring, grants and event channel, publish them and go
 * Initialised. */
static int attach_on(struct bhxs *xs, struct disk *d, const unsigned long long of[OF_N],
                     void (*log)(void *, const char *), void *arg)
{
	unsigned long long sectors = of[OF_SECTORS], ssize = of[OF_SSIZE], info = of[OF_INFO];
	unsigned long long flush = of[OF_FLUSH], discard = of[OF_DISCARD];
	unsigned long long indirect = of[OF_INDIRECT], maxorder = of[OF_MAXORDER];
	int rc;

	if (sectors == 0 || (ssize != 512 && ssize != 4096)) {
		pvk_fe_say(log, arg, "vbd %s: backend offers %llu sectors of %llu bytes: refused",
		           d->name, sectors, ssize);
		return -EINVAL;
	}
	if (d->sectors && (sectors != d->sectors || ssize != d->sector_size)) {
		/* The guest sized the disk at boot; a changed size is not
		 * followed (Linux would not either without a resize event). */
		pvk_fe_say(log, arg,
		           "vbd %s: backend now offers %llu sectors of %llu bytes: refused",
		           d->name, sectors, ssize);
		return -EINVAL;
	}
	d->sectors = sectors;
	d->sector_size = (uint32_t)ssize;
	d->readonly = info & VDISK_READONLY;
	d->flush = flush;
	d->ev = xen_open("/dev/xen/evtchn", O_NONBLOCK);
	struct ioctl_evtchn_bind_unbound_port ub = { .remote_domain = d->backend_id };
	if (d->ev < 0 || (rc = xen_ioctl(d->ev, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &ub)) < 0) {
		rc = -errno;
		pvk_fe_say(log, arg, "vbd %s: event channel: %s", d->name, bh_strerror(rc));
		detach(d);
		return rc;
	}
	d->port = (uint32_t)rc;
	uint32_t order = (uint32_t)BH_MIN(maxorder, 2ull);
	struct blkfront_config cfg = { .gnt = &blkfront_gntalloc_ops,
		                       .backend = d->backend_id,
		                       .sectors = sectors * (ssize / 512),
		                       .sector_size = (uint32_t)ssize,
		                       .readonly = d->readonly,
		                       .ring_page_order = order,
		                       .max_indirect_segments = (uint32_t)BH_MIN(indirect, 256ull),
		                       .flush = flush,
		                       .discard = discard,
		                       .poll_ns = BLKFRONT_POLL_NS,
		                       .notify = kick,
		                       .arg = d };
	/* The spare was made for the previous ring's configuration. */
	if (d->spare && same_ring(&d->cfg, &cfg)) {
		d->bf = d->spare;
	} else {
		blkfront_destroy(d->spare);
		if ((rc = blkfront_create(&cfg, &d->bf)) < 0) {
			d->spare = NULL;
			pvk_fe_say(log, arg, "vbd %s: ring: %s", d->name, bh_strerror(rc));
			detach(d);
			return rc;
		}
	}
	d->spare = NULL;
	d->cfg = cfg;
	if ((rc = write_frontend(xs, d->link.fe, d, order)) < 0) {
		pvk_fe_say(log, arg, "vbd %s: publishing the ring: %s", d->name, bh_strerror(rc));
		detach(d);
		return rc;
	}
	memcpy(d->offer, of, sizeof(d->offer));
	d->offer_known = true;
	return 0;
}

/* Once the backend is at InitWait: what it offers, then attach_on. Used
 * at boot and after the backend came back (the offer may differ then). */
static int attach(struct bhxs *xs, struct disk *d, void (*log)(void *, const char *), void *arg)
{
	unsigned long long of[OF_N];
	int rc;

	if ((rc = read_offer(xs, d->link.be, of, NULL)) < 0) {
		pvk_fe_say(log, arg, "vbd %s: backend keys unreadable: %s", d->name,
		           bh_strerror(rc));
		return rc;
	}
	return attach_on(xs, d, of, log, arg);
}

int pvk_vbd_connect(struct bhxs *xs, const char *id, void (*log)(void *, const char *), void *arg)
{
	char p[256], tok[32], *be = NULL, *vdev = NULL;
	unsigned long long backend_id, vd;
	size_t len;
	struct disk *d;
	int rc;

	pthread_once(&cond_once, cond_init);
	store_xs = xs;
	if (ndisks >= MAX_DISKS)
		return -ENOSPC;
	d = &disks[ndisks];
	memset(d, 0, sizeof(*d));
	d->ev = d->old_ev = -1;
	snprintf(d->link.fe, sizeof(d->link.fe), "device/vbd/%s", id);
	snprintf(p, sizeof(p), "%s/backend", d->link.fe);
	if ((rc = bhxs_read(xs, 0, p, &be, &len)) < 0 ||
	    (rc = read_uint(xs, d->link.fe, "backend-id", ~0ull, &backend_id)) < 0 ||
	    backend_id > 0x7fef || strlen(be) >= sizeof(d->link.be)) {
		pvk_fe_say(log, arg, "vbd %s: no backend or backend-id in the store", id);
		free(be);
		return rc < 0 ? rc : -EINVAL;
	}
	snprintf(d->link.be, sizeof(d->link.be), "%s", be);
	d->backend_id = (uint16_t)backend_id;
	if ((rc = read_uint(xs, d->link.fe, "virtual-device", 0, &vd)) < 0)
		goto out;
	snprintf(p, sizeof(p), "%s/dev", be);
	if (bhxs_read(xs, 0, p, &vdev, &len) < 0 || !vdev[0] || strchr(vdev, '/') ||
	    strlen(vdev) >= sizeof(d->name)) {
		free(vdev);
		vdev = NULL;
	}
	snprintf(d->name, sizeof(d->name), "%s", vdev ? vdev : id);
	snprintf(d->link.what, sizeof(d->link.what), "vbd %s", vdev ? vdev : id);
	if ((rc = pvk_fe_wait_state(xs, be, XB_INITWAIT, HANDSHAKE_MS)) < 0) {
		pvk_fe_say(log, arg, "vbd %s: backend %s did not offer the disk: %s", d->name, be,
		           bh_strerror(rc));
		goto out;
	}
	if ((rc = attach(xs, d, log, arg)) < 0)
		goto out;
	if ((rc = pvk_fe_wait_state(xs, be, XB_CONNECTED, HANDSHAKE_MS)) < 0) {
		pvk_fe_say(log, arg, "vbd %s: handshake with %s: %s", d->name, be, bh_strerror(rc));
		goto out;
	}
	snprintf(p, sizeof(p), "%s/state", d->link.fe);
	bhxs_printf(xs, 0, p, "%u", XB_CONNECTED);
	pvk_fe_say(log, arg, "vbd %s: %llu sectors of %u bytes%s, backend %s", d->name,
	           (unsigned long long)d->sectors, d->sector_size, d->readonly ? ", read-only" : "",
	           be);
	/* From now on the store loop follows the backend (pvk_vbd_watch). */
	d->link.phase = PVK_FE_UP;
	snprintf(p, sizeof(p), "%s/state", be);
	snprintf(tok, sizeof(tok), "vbd-be-%u", ndisks);
	if ((rc = bhxs_watch(xs, p, tok)) < 0)
		pvk_fe_say(log, arg, "vbd %s: cannot watch %s (%s): no recovery if it goes away",
		           d->name, p, bh_strerror(rc));
	ndisks++;
	rc = 0;
out:
	if (rc < 0) {
		detach(d);
		snprintf(p, sizeof(p), "%s/state", d->link.fe);
		bhxs_printf(xs, 0, p, "%u", XB_CLOSING);
	}
	free(be);
	free(vdev);
	return rc;
}

/* ---- recovery (the store loop's thread) ---- */

/* The link's steps (xbfront.h), on the store loop's thread under `lock`. */
static void link_down(void *arg, long long st)
{
	struct disk *d = arg;

	d->failed = false;
	d->resets = 0; /* a new backend gets its own ring resets */
	/* The FUSE thread, back from poll(2), sees the phase and leaves the
	 * ring alone from then on. */
	if (d->polling && wake_fd >= 0 && eventfd_write(wake_fd, 1) < 0) {
		/* it still wakes at its poll's timeout */
	}
	while (d->polling)
		pthread_cond_wait(&cond, &lock);
	/* Kept until the disk is up again: freeing it is no one's wait. */
	if (d->old_bf || d->old_ev >= 0)
		detach(d);
	else {
		d->old_bf = d->bf;
		d->old_ev = d->ev;
		d->bf = NULL;
		d->ev = -1;
	}
	snprintf(d->note, sizeof(d->note),
	         "vbd %s: backend %s went away (state %s): holding I/O for up to %u s", d->name,
	         d->link.be, pvk_fe_state_name(st), recover_s);
}

static void link_drop(void *arg)
{
	detach(arg);
}

static int link_attach(struct bhxs *xs, void *arg)
{
	return attach(xs, arg, vlog, vlog_arg);
}

/* The backend's directory is back before its InitWait: a new ring on the
 * offer the last one was made on (xbfront.h, attach_early). */
static int link_attach_early(struct bhxs *xs, void *arg)
{
	struct disk *d = arg;

	if (!d->offer_known)
		return -ENODATA;
	return attach_on(xs, d, d->offer, vlog, vlog_arg);
}

/* The backend offers after an early attach. The ring was made for the old
 * offer (its order, indirect segments, flush, discard, read-only), so it
 * stands only if the new offer is the same; else it is dropped and the
 * usual handshake, on the new offer, follows. */
static int link_check(struct bhxs *xs, void *arg)
{
	struct disk *d = arg;
	unsigned long long of[OF_N];
	int rc;

	if (d->fresh_ok)
		memcpy(of, d->fresh, sizeof(of));
	else if ((rc = read_offer(xs, d->link.be, of, NULL)) < 0)
		return rc;
	d->fresh_ok = false;
	if (memcmp(of, d->offer, sizeof(of)) == 0)
		return 0;
	snprintf(d->note, sizeof(d->note),
	         "vbd %s: backend %s offers another ring than before: making that one", d->name,
	         d->link.be);
	return -EAGAIN;
}

/* The backend's state, and while an early ring waits for its offer what
 * it offers, in the same round trip (link_check takes it). */
static long long backend_state(struct bhxs *xs, struct disk *d)
{
	long long st;
	bool early;

	pthread_mutex_lock(&lock);
	early = d->link.phase == PVK_FE_JOINING && d->link.early;
	pthread_mutex_unlock(&lock);
	d->fresh_ok = false;
	if (!early)
		return pvk_fe_read_state(xs, d->link.be);
	if (read_offer(xs, d->link.be, d->fresh, &st) < 0)
		return -1;
	d->fresh_ok = true;
	return st;
}

/* The FUSE thread goes on as soon as `lock` is let go; our Connected
 * (which the backend does not wait for: it connected at Initialised) and
 * the console line come after that, in pvk_vbd_watch. */
static void link_up(struct bhxs *xs, void *arg, uint64_t down_ms)
{
	struct disk *d = arg;

	(void)xs;
	snprintf(d->note, sizeof(d->note), "vbd %s: reconnected to %s after %llu ms%s", d->name,
	         d->link.be, (unsigned long long)down_ms,
	         d->failed ? " (I/O failed meanwhile)" : ": no I/O lost");
	d->failed = false;
	d->tidy = true;
	pthread_cond_broadcast(&cond);
}

bool pvk_vbd_watch(struct bhxs *xs, const char *path, const char *token)
{
	struct pvk_fe_link_ops ops = { .down = link_down,
		                       .drop = link_drop,
		                       .attach = link_attach,
		                       .attach_early = link_attach_early,
		                       .check = link_check,
		                       .up = link_up,
		                       .log = vlog,
		                       .log_arg = vlog_arg };
	long long st;
	unsigned i;
	struct disk *d;

	(void)path;
	if (sscanf(token, "vbd-be-%u", &i) != 1)
		return false;
	if (i >= ndisks)
		return true;
	d = &disks[i];
	st = backend_state(xs, d);
	pthread_mutex_lock(&lock);
	int was = d->link.phase;
	pvk_fe_follow(xs, &d->link, st, &ops, d);
	int now = d->link.phase;
	bool tidy_later = d->tidy;
	pthread_mutex_unlock(&lock);
	if (was != PVK_FE_UP && now == PVK_FE_UP) {
		char p[256];
		snprintf(p, sizeof(p), "%s/state", d->link.fe);
		bhxs_printf(xs, 0, p, "%u", XB_CONNECTED);
	}
	if (d->note[0]) {
		pvk_fe_say(vlog, vlog_arg, "%s", d->note);
		d->note[0] = '\0';
	}
	/* After a reconnection, once the request held meanwhile is done: the
	 * frees and grants compete with it for the core and the CPU. */
	if (now == PVK_FE_UP && !tidy_later)
		reconnect_housekeeping(d);
	return true;
}

int pvk_vbd_msg_fd(void)
{
	return msg_pipe[0];
}

void pvk_vbd_msg_drain(void)
{
	char line[256];
	ssize_t n;

	/* O_DIRECT: a packet pipe, one read per message. */
	while ((n = read(msg_pipe[0], line, sizeof(line) - 1)) > 0) {
		line[n] = '\0';
		if (line[0] == RESET_MSG) {
			ring_reset_order(line + 1);
			continue;
		}
		if (line[0] == TIDY_MSG) {
			unsigned i;
			if (sscanf(line + 1, "%u", &i) == 1 && i < ndisks)
				reconnect_housekeeping(&disks[i]);
			continue;
		}
		pvk_fe_say(vlog, vlog_arg, "%s", line);
	}
}

/* ---- a backend that misbehaves on a live ring (bh inject; docs/watchdog.md) ----
 *
 * A response the ring cannot have (blkfront marks the ring broken), or a
 * request left unanswered for STALL_NS although it was signalled again
 * every KICK_NS (lost notifications, a closed event channel), makes the
 * FUSE thread drop the ring and ask, through the store thread, for a new
 * one: the frontend goes back to Initialising and the backend to InitWait,
 * and the recovery above reconnects and submits the request again. After
 * MAX_RESETS resets in a row with no request completed the disk fails
 * with EIO, as Linux's blkfront does at once. A guest never asks dom0 to
 * restart a driver domain (it may serve other guests); hangs and deaths
 * are the watchdog's. */
#define KICK_NS        1000000000ull
#define STALL_NS       5000000000ull
#define MAX_RESETS     3
#define RESET_AGAIN_NS 2000000000ull

static void say_async(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say_async(const char *fmt, ...)
{
	char line[240];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (msg_pipe[1] < 0 ||
	    write(msg_pipe[1], line, (size_t)BH_MIN(n, (int)sizeof(line) - 1)) < 0) {
		/* no way to tell: what follows still tells */
	}
}

/* The store thread: the FUSE thread dropped disk ARG's ring. */
static void ring_reset_order(const char *arg)
{
	unsigned i;
	char p[256];

	if (sscanf(arg, "%u", &i) != 1 || i >= ndisks || !store_xs)
		return;
	snprintf(p, sizeof(p), "%s/state", disks[i].link.fe);
	bhxs_printf(store_xs, 0, p, "%u", 1u);
}

/* The FUSE thread, `lock` held, not polling: -EAGAIN (submit again once
 * the disk is up) or -EIO (too many resets in a row). */
static int ring_reset(struct disk *d, const char *why)
{
	if (d->resets >= MAX_RESETS) {
		say_async("vbd %s: backend %s %s again after %u ring resets: failing I/O with EIO",
		          d->name, d->link.be, why, d->resets);
		return -EIO;
	}
	d->resets++;
	d->link.phase = PVK_FE_DOWN;
	d->link.down_ns = bh_now_ns();
	d->failed = false;
	d->link.retries = 0;
	detach(d);
	say_async("vbd %s: backend %s %s: resetting the ring (%u of %u)", d->name, d->link.be, why,
	          d->resets, MAX_RESETS);
	say_async("%c%u", RESET_MSG, (unsigned)(d - disks));
	d->reset_ns = bh_now_ns();
	return -EAGAIN;
}

/* ---- I/O ---- */

/* Waits for the request in flight. Called and returns with `lock` held;
 * -EAGAIN: the backend went away meanwhile and the request with its ring
 * (submit it again once the disk is up). */
static int wait_done(struct disk *d, int *status)
{
	struct blkfront_cpl cpl[8];
	/* A backend that dies and is not restarted (or waits out a
	 * restart backoff) leaves no trace in the store we can see: a
	 * request gets as long as a missing backend does. */
	uint64_t end = bh_now_ns() + (uint64_t)BH_MAX(recover_s, 1u) * 1000000000ull;
	uint64_t progress = bh_now_ns(), kicked = progress;

	*status = 0;
	while (blkfront_inflight(d->bf) > 0) {
		struct pollfd pf[2] = { { .fd = d->ev, .events = POLLIN },
			                { .fd = wake_fd, .events = POLLIN } };
		uint32_t ports[4];
		eventfd_t wakes;
		if (bh_now_ns() > end)
			return -ETIMEDOUT;
		/* A response that comes within the spin budget (a backend
		 * serving from the page cache) is taken without sleeping. */
		bool ready = blkfront_spin(d->bf);
		d->polling = true;
		pthread_mutex_unlock(&lock);
		if (!ready && poll(pf, wake_fd >= 0 ? 2 : 1, 100) > 0) {
			ssize_t n = pf[0].revents ? xen_read(pf[0].fd, ports, sizeof(ports)) : 0;
			if (n > 0)
				xen_write(pf[0].fd, ports, (size_t)n);
			if (pf[1].revents)
				eventfd_read(wake_fd, &wakes);
		}
		pthread_mutex_lock(&lock);
		d->polling = false;
		pthread_cond_broadcast(&cond);
		if (d->link.phase != PVK_FE_UP)
			return -EAGAIN;
		int n = blkfront_reap(d->bf, cpl, 8);
		if (blkfront_broken(d->bf))
			return ring_reset(d, "sent an invalid response");
		for (int i = 0; i < n; i++)
			if (cpl[i].status && !*status)
				*status = cpl[i].status;
		/* Lost notifications: signal again; a dead channel: reset. */
		uint64_t now = bh_now_ns();
		if (n > 0) {
			progress = kicked = now;
			d->resets = 0;
		} else if (now - progress >= STALL_NS) {
			char why[200];
			snprintf(why, sizeof(why), "answered nothing for 5 s (");
			blkfront_ring_debug(d->bf, 0, why + strlen(why),
			                    sizeof(why) - strlen(why) - 1);
			strcat(why, ")");
			return ring_reset(d, why);
		} else if (now - kicked >= KICK_NS) {
			kick(d, 0);
			kicked = now;
		}
	}
	return 0;
}

/* Waits, with `lock` held, until the disk is up; -EIO once recover_s
 * passed since the backend went away. */
static int wait_up(struct disk *d)
{
	while (d->link.phase != PVK_FE_UP) {
		uint64_t end = d->link.down_ns + (uint64_t)recover_s * 1000000000ull;
		struct timespec ts = { (time_t)(end / 1000000000ull), (long)(end % 1000000000ull) };
		if (d->failed)
			return -EIO;
		if (bh_now_ns() >= end) {
			char line[240];
			int n = snprintf(line, sizeof(line),
			                 "vbd %s: backend %s did not come back within %u s: "
			                 "failing I/O with EIO",
			                 d->name, d->link.be, recover_s);
			/* The console is the store thread's: the line goes
			 * there through a pipe (one write, atomic). */
			if (msg_pipe[1] < 0 ||
			    write(msg_pipe[1], line, (size_t)BH_MIN(n, (int)sizeof(line) - 1)) <
			        0) {
				/* no way to tell: the EIO still tells */
			}
			d->failed = true;
			return -EIO;
		}
		/* A ring reset the backend has not answered: ask again every
		 * RESET_AGAIN_NS (writing Initialising again fires its watch). */
		if (d->reset_ns && d->link.phase == PVK_FE_DOWN &&
		    bh_now_ns() - d->reset_ns >= RESET_AGAIN_NS) {
			d->reset_ns = bh_now_ns();
			say_async("%c%u", RESET_MSG, (unsigned)(d - disks));
		}
		if (d->reset_ns) {
			uint64_t t = BH_MIN(end, bh_now_ns() + RESET_AGAIN_NS);
			ts = (struct timespec){ (time_t)(t / 1000000000ull),
				                (long)(t % 1000000000ull) };
		}
		pthread_cond_timedwait(&cond, &lock, &ts);
	}
	d->reset_ns = 0;
	return 0;
}

/* One request on the ring and its completion, across backend restarts:
 * a request lost with its ring is submitted again on the new one. */
static int run_io(struct disk *d, const struct blkfront_io *io)
{
	int rc, st = 0;

	pthread_mutex_lock(&lock);
	for (;;) {
		if ((rc = wait_up(d)) < 0)
			break;
		if ((rc = blkfront_submit(d->bf, io)) < 0)
			break;
		rc = wait_done(d, &st);
		if (rc != -EAGAIN)
			break;
	}
	if (rc == 0 && d->tidy) {
		d->tidy = false;
		say_async("%c%u", TIDY_MSG, (unsigned)(d - disks));
	}
	pthread_mutex_unlock(&lock);
	return rc < 0 ? rc : st;
}

/* One aligned request, split into what the ring takes. */
static int aligned_io(struct disk *d, enum blkfront_op op, uint64_t off, char *buf, size_t len)
{
	size_t done = 0;
	int rc;

	while (done < len) {
		pthread_mutex_lock(&lock);
		size_t max = d->bf ? blkfront_max_io_bytes(d->bf) : 0;
		pthread_mutex_unlock(&lock);
		/* The limit may change with a new backend; 4096 goes always. */
		size_t n = BH_MIN(len - done, max ? max : 4096);
		struct iovec v = { buf + done, n };
		struct blkfront_io io = {
			.op = op, .sector = (off + done) / 512, .iov = &v, .iovcnt = 1
		};
		if ((rc = run_io(d, &io)) != 0)
			return rc;
		done += n;
	}
	return 0;
}

/* The FUSE thread's scratch buffer, kept between requests: a fresh 1 MiB
 * allocation per request was an mmap, 256 page faults and an munmap each
 * time, as much as the I/O itself. Grows to the largest request seen. */
static __thread char *scratch;
static __thread size_t scratch_len;

static char *scratch_get(size_t len)
{
	len = (len + 4095) / 4096 * 4096;
	if (len > scratch_len) {
		char *b = aligned_alloc(4096, len);
		if (!b)
			return NULL;
		free(scratch);
		scratch = b;
		scratch_len = len;
	}
	return scratch;
}

static int disk_read(struct disk *d, char *out, size_t len, uint64_t off)
{
	uint64_t ss = d->sector_size, start = off / ss * ss;
	uint64_t end = (off + len + ss - 1) / ss * ss;
	char *tmp;
	int rc;

	if ((start == off && end == off + len))
		return aligned_io(d, BLKFRONT_READ, off, out, len);
	if (!(tmp = aligned_alloc(4096, (end - start + 4095) / 4096 * 4096)))
		return -ENOMEM;
	rc = aligned_io(d, BLKFRONT_READ, start, tmp, end - start);
	if (rc == 0)
		memcpy(out, tmp + (off - start), len);
	free(tmp);
	return rc;
}

static int disk_write(struct disk *d, const char *in, size_t len, uint64_t off)
{
	uint64_t ss = d->sector_size, start = off / ss * ss;
	uint64_t end = (off + len + ss - 1) / ss * ss;
	char *tmp;
	int rc;

	/* Whole sectors go as they are (blkfront copies them into its pool). */
	if (start == off && end == off + len)
		return aligned_io(d, BLKFRONT_WRITE, off, (char *)in, len);
	if (!(tmp = aligned_alloc(4096, (end - start + 4095) / 4096 * 4096)))
		return -ENOMEM;
	/* Only the partial first and last sectors need their old bytes. */
	rc = 0;
	if (off != start)
		rc = aligned_io(d, BLKFRONT_READ, start, tmp, ss);
	if (rc == 0 && (off + len) != end && (end - ss != start || off == start))
		rc = aligned_io(d, BLKFRONT_READ, end - ss, tmp + (end - ss - start), ss);
	if (rc == 0) {
		memcpy(tmp + (off - start), in, len);
		rc = aligned_io(d, BLKFRONT_WRITE, start, tmp, end - start);
	}
	free(tmp);
	return rc;
}

/* ---- FUSE: inode 1 is the directory, 2.. the disks ---- */

static struct disk *disk_of(fuse_ino_t ino)
{
	return ino >= 2 && ino < 2 + ndisks ? &disks[ino - 2] : NULL;
}

static void fill_stat(fuse_ino_t ino, struct stat *st)
{
	struct disk *d = disk_of(ino);

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (!d) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return;
	}
	st->st_mode = S_IFREG | (d->readonly ? 0400 : 0600);
	st->st_nlink = 1;
	st->st_size = (off_t)(d->sectors * d->sector_size);
	st->st_blksize = (blksize_t)d->sector_size;
	st->st_blocks = (blkcnt_t)(d->sectors * d->sector_size / 512);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { 0 };

	for (unsigned i = 0; parent == 1 && i < ndisks; i++)
		if (strcmp(disks[i].name, name) == 0) {
			e.ino = 2 + i;
			e.attr_timeout = e.entry_timeout = 3600;
			fill_stat(e.ino, &e.attr);
			fuse_reply_entry(req, &e);
			return;
		}
	fuse_reply_err(req, ENOENT);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino != 1 && !disk_of(ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_stat(ino, &st);
	fuse_reply_attr(req, &st, 3600);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
	/* A disk's size is the backend's. Truncating is ignored, as open's
	 * O_TRUNC is on a block device, so that `dd of=/dev/xvda` works
	 * without conv=notrunc; the reply carries the real size. */
	(void)attr;
	(void)to_set;
	op_getattr(req, ino, fi);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct disk *d = disk_of(ino);

	if (!d) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (d->readonly && (fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fi->direct_io = 1; /* no page cache in the guest: every write reaches the backend */
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	struct disk *d = disk_of(ino);
	uint64_t total;
	char *buf;
	int rc;

	(void)fi;
	if (!d) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	total = d->sectors * d->sector_size;
	if ((uint64_t)off >= total) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	size = (size_t)BH_MIN((uint64_t)size, total - (uint64_t)off);
	if (!(buf = scratch_get(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = disk_read(d, buf, size, (uint64_t)off);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, size);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
	struct disk *d = disk_of(ino);
	uint64_t total;
	int rc;

	(void)fi;
	if (!d) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	total = d->sectors * d->sector_size;
	if ((uint64_t)off >= total) {
		fuse_reply_err(req, ENOSPC);
		return;
	}
	size = (size_t)BH_MIN((uint64_t)size, total - (uint64_t)off);
	rc = disk_write(d, buf, size, (uint64_t)off);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct disk *d = disk_of(ino);
	int rc = 0;

	(void)datasync;
	(void)fi;
	if (d && d->flush) {
		struct blkfront_io io = { .op = BLKFRONT_FLUSH };
		rc = run_io(d, &io);
	}
	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	char buf[4096];
	size_t used = 0;
	struct stat st;

	(void)fi;
	if (ino != 1) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	for (off_t i = off; i < (off_t)ndisks; i++) {
		fill_stat(2 + (fuse_ino_t)i, &st);
		size_t n = fuse_add_direntry(req, buf + used, BH_MIN(size, sizeof(buf)) - used,
		                             disks[i].name, &st, i + 1);
		if (used + n > BH_MIN(size, sizeof(buf)))
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.fsync = op_fsync,
	.readdir = op_readdir,
};

static void *serve_thread(void *arg)
{
	struct fuse_session *se = arg;

	fuse_session_loop(se);
	return NULL;
}

int pvk_vbd_serve(void (*log)(void *, const char *), void *arg)
{
	char opts[128], *argv[] = { "bulkhead-pvkernel", NULL };
	struct fuse_args fargs = FUSE_ARGS_INIT(1, argv);
	struct fuse_session *se;
	pthread_t th;
	int rc;

	vlog = log;
	vlog_arg = arg;
	if (ndisks == 0)
		return 0;
	if (msg_pipe[0] < 0 && pipe2(msg_pipe, O_CLOEXEC | O_NONBLOCK | O_DIRECT) < 0)
		msg_pipe[0] = msg_pipe[1] = -1;
	if (wake_fd < 0)
		wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fcntl(FUSE_FD, F_SETFD, FD_CLOEXEC) < 0) {
		pvk_fe_say(log, arg, "vbd: no /dev/fuse from the core: disks not shown");
		return -EBADF;
	}
	mkdir(MOUNT_DIR, 0755);
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", FUSE_FD);
	if (mount("bulkhead-vbd", MOUNT_DIR, "fuse.bulkhead-vbd", MS_NOSUID | MS_NODEV, opts) < 0) {
		rc = -errno;
		pvk_fe_say(log, arg, "vbd: mounting the disks: %s", bh_strerror(rc));
		return rc;
	}
	if (!(se = fuse_session_new(&fargs, &ops, sizeof(ops), NULL)) ||
	    fuse_session_mount(se, "/dev/fd/4") != 0) {
		pvk_fe_say(log, arg, "vbd: FUSE session failed");
		umount2(MOUNT_DIR, MNT_DETACH);
		return -EIO;
	}
	for (unsigned i = 0; i < ndisks; i++) {
		char target[64], link[64];
		snprintf(target, sizeof(target), ".vbd/%s", disks[i].name);
		snprintf(link, sizeof(link), "/dev/%s", disks[i].name);
		unlink(link);
		if (symlink(target, link) < 0)
			pvk_fe_say(log, arg, "vbd %s: %s: %s", disks[i].name, link,
			           strerror(errno));
	}
	if ((rc = pthread_create(&th, NULL, serve_thread, se)) != 0) {
		pvk_fe_say(log, arg, "vbd: thread: %s", strerror(rc));
		return -rc;
	}
	pthread_detach(th);
	return 0;
}
