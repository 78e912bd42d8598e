/* The "vbd" backend: the xenbus side of blkback (Linux's xenbus.c next to
 * blkback.c). Each device gets its own bhblkback engine: probe opens the
 * image the toolstack assigned under the `params` token and publishes what
 * the engine can do; connect reads the frontend's ring keys and attaches
 * the ring; the engine's descriptor is served by the runtime's loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkback/blkback.h"
#include "bulkhead/blkif.h"
#include "bulkhead/ring.h"
#include "common/util.h"
#include "driverdom/backends.h"
#include "ioctl/bhctl.h"
#include "ioctl/xendev.h"

#define NATIVE_PROTOCOL "x86_64-abi"
#define MAX_RING_ORDER  4 /* the most ring-ref%u keys we read (16 pages) */
#define MAX_QUEUES      4 /* multi-queue-max-queues: rings per device */

struct vbd {
	struct drvdom_dev *dev;
	struct blkback *bb;
	struct drvdom_fd *bb_fd;
	struct blkback_features feat;
	int vbd;
	unsigned nq;                            /* rings attached */
	int ring[MAX_QUEUES];                   /* the engine's ids */
	struct blkback_evtchn *evt[MAX_QUEUES]; /* NULL: closed */
	int ring_err; /* reported by the engine, handled after processing */
	char why[96];
	char name[96];
};

static void ring_error(void *arg, int ring, int err, const char *why)
{
	struct vbd *v = arg;

	/* Called from inside blkback_process: only note it here; tearing the
	 * ring down happens once the engine has returned. */
	if (!v->ring_err) {
		v->ring_err = err < 0 ? err : -EIO;
		bh_strlcpy(v->why, why, sizeof(v->why));
	}
}

static void on_engine(void *arg)
{
	struct vbd *v = arg;
	int rc = blkback_process(v->bb);

	if (rc < 0 && !v->ring_err)
		ring_error(v, -1, rc, "processing the ring");
	if (v->ring_err && v->dev->connected) {
		int err = v->ring_err;

		drvdom_dev_fatal(v->dev, err, "ring stopped: %s", v->why);
	}
}

/* The image the toolstack assigned to us under the `params` token. */
static int open_image(struct vbd *v, int *fd, bool *readonly)
{
	struct drvdom_dev *dev = v->dev;
	char *token = NULL, *mode = NULL;
	uint64_t size;
	uint32_t flags;
	int rc;

	if ((rc = drvdom_be_read_str(dev, "params", &token)) < 0 || !token[0]) {
		drvdom_dev_error(dev, rc < 0 ? rc : -ENOENT, "no params (device token)");
		free(token);
		return rc < 0 ? rc : -ENOENT;
	}
	if (drvdom_be_read_str(dev, "mode", &mode) < 0) {
		mode = strdup("w");
		if (!mode) {
			free(token);
			return -ENOMEM;
		}
	}
	rc = bhctl_device_open(xen_hcall(), token, fd, &size, &flags);
	if (rc < 0)
		drvdom_dev_error(dev, rc, "opening device %s", token);
	*readonly = strcmp(mode, "w") != 0 || (flags & BH_DEV_RDONLY);
	free(token);
	free(mode);
	return rc;
}

static int add_vbd(struct vbd *v, int fd, bool readonly)
{
	unsigned long long discard;
	char *devname = NULL;
	int rc;

	drvdom_be_read_uint_def(v->dev, "discard-enable", 1, &discard);
	drvdom_be_read_str(v->dev, "dev", &devname);
	struct blkback_vbd_params p = { .fd = fd,
		                        .sector_size = 512,
		                        .readonly = readonly,
		                        .discard = discard != 0 && !readonly,
		                        .name = devname ? devname : "vbd" };
	rc = blkback_add_vbd(v->bb, &p);
	free(devname);
	return rc;
}

/* Everything the frontend needs before it connects, in one transaction. */
static int publish(struct vbd *v, bool readonly)
{
	struct drvdom_nodes ns;
	const struct blkback_features *f = &v->feat;

	drvdom_nodes_init(&ns);
	drvdom_nodes_add(&ns, "feature-flush-cache", "%d", f->flush ? 1 : 0);
	drvdom_nodes_add(&ns, "feature-barrier", "%d", f->barrier ? 1 : 0);
	drvdom_nodes_add(&ns, "feature-discard", "%d", f->discard && !readonly ? 1 : 0);
	drvdom_nodes_add(&ns, "feature-persistent", "%d", f->persistent ? 1 : 0);
	if (f->max_indirect_segments)
		drvdom_nodes_add(&ns, "feature-max-indirect-segments", "%u",
		                 f->max_indirect_segments);
	drvdom_nodes_add(&ns, "max-ring-page-order", "%u", f->max_ring_page_order);
	drvdom_nodes_add(&ns, "multi-queue-max-queues", "%u", (unsigned)MAX_QUEUES);
	drvdom_nodes_add(&ns, "sectors", "%llu",
	                 (unsigned long long)blkback_vbd_sectors(v->bb, v->vbd));
	drvdom_nodes_add(&ns, "sector-size", "%u", 512u);
	drvdom_nodes_add(&ns, "info", "%u", readonly ? VDISK_READONLY : 0u);
	return drvdom_publish(v->dev, &ns);
}

static int engine(struct vbd *v)
{
	/* max_persistent: the PV kernel's blkfront grants 11 pool pages per
	 * slot of a 4-page ring (1408) plus 128 indirect pages; Xen's 1056
	 * would leave the rest on per-request maps and unmaps. */
	struct blkback_config c = { .gnt = &blkback_gntdev_ops,
		                    .max_queues = MAX_QUEUES,
		                    .max_persistent = 2048,
		                    .poll_ns = BLKBACK_POLL_DEFAULT_NS,
		                    .ring_error = ring_error,
		                    .arg = v,
		                    .name = v->name };
	int rc;

	if ((rc = blkback_create(&c, &v->bb)) < 0)
		return rc;
	blkback_features(v->bb, &v->feat);
	return drvdom_add_fd(v->dev->dd, blkback_fd(v->bb), on_engine, v, &v->bb_fd);
}

static void vbd_free(struct vbd *v)
{
	drvdom_del_fd(v->bb_fd);
	blkback_destroy(v->bb);
	free(v);
}

static int vbd_probe(struct drvdom_dev *dev)
{
	struct vbd *v = calloc(1, sizeof(*v));
	bool readonly = false;
	int fd = -1, rc;

	if (!v)
		return -ENOMEM;
	v->dev = dev;
	snprintf(v->name, sizeof(v->name), "%s", dev->log.prefix);
	if ((rc = engine(v)) < 0) {
		drvdom_dev_error(dev, rc, "starting the block engine");
		goto fail;
	}
	if ((rc = open_image(v, &fd, &readonly)) < 0)
		goto fail;
	v->vbd = add_vbd(v, fd, readonly);
	bh_closep(&fd); /* the engine holds its own duplicate */
	if ((rc = v->vbd) < 0) {
		drvdom_dev_error(dev, rc, "adding the disk to the engine");
		goto fail;
	}
	if ((rc = publish(v, readonly)) < 0)
		goto fail;
	dev->priv = v;
	return 0;
fail:
	vbd_free(v);
	return rc;
}

/* ring-ref (one page) or ring-ref0..N-1 with ring-page-order, under DIR
 * ("" or "queue-N/" with several queues). */
static int read_refs(struct vbd *v, const char *dir, uint32_t order, uint32_t *refs)
{
	unsigned long long r;
	char key[48];
	int rc;

	snprintf(key, sizeof(key), "%sring-ref", dir);
	if (order == 0 && drvdom_fe_read_uint(v->dev, key, &r) == 0 && r <= UINT32_MAX) {
		refs[0] = (uint32_t)r;
		return 0;
	}
	for (uint32_t i = 0; i < (1u << order); i++) {
		if (order)
			snprintf(key, sizeof(key), "%sring-ref%u", dir, i);
		if ((rc = drvdom_fe_read_uint(v->dev, key, &r)) < 0 || r > UINT32_MAX) {
			drvdom_dev_error(v->dev, rc < 0 ? rc : -ERANGE, "reading %s", key);
			return rc < 0 ? rc : -ERANGE;
		}
		refs[i] = (uint32_t)r;
	}
	return 0;
}

/* The frontend's protocol: only the native ABI is served. */
static int check_protocol(struct drvdom_dev *dev)
{
	char *proto = NULL;
	int rc = drvdom_fe_read_str(dev, "protocol", &proto);

	if (rc == -ENOENT)
		return 0; /* absent means native */
	if (rc == 0 && strcmp(proto, NATIVE_PROTOCOL) != 0) {
		drvdom_dev_error(dev, -EPROTONOSUPPORT, "protocol %s not supported (only %s)",
		                 proto, NATIVE_PROTOCOL);
		rc = -EPROTONOSUPPORT;
	}
	free(proto);
	return rc;
}

struct ring_keys {
	uint32_t nq, order, persistent;
	struct {
		uint32_t port, refs[1u << MAX_RING_ORDER];
		uint32_t start; /* the ring index to resume at */
	} q[MAX_QUEUES];
};

static int read_ring_keys(struct vbd *v, struct ring_keys *k)
{
	struct drvdom_dev *dev = v->dev;
	unsigned long long order, port, queues, pers;
	char dir[24], key[48];
	int rc;

	if ((rc = check_protocol(dev)) < 0)
		return rc;
	if ((rc = drvdom_fe_read_uint_def(dev, "multi-queue-num-queues", 1, &queues)) < 0 ||
	    queues < 1 || queues > MAX_QUEUES) {
		drvdom_dev_error(dev, -EINVAL, "multi-queue-num-queues must be 1 to %u",
		                 (unsigned)MAX_QUEUES);
		return -EINVAL;
	}
	if ((rc = drvdom_fe_read_uint_def(dev, "ring-page-order", 0, &order)) < 0 ||
	    order > v->feat.max_ring_page_order || order > MAX_RING_ORDER) {
		drvdom_dev_error(dev, -EINVAL, "ring-page-order above %u",
		                 v->feat.max_ring_page_order);
		return -EINVAL;
	}
	drvdom_fe_read_uint_def(dev, "feature-persistent", 0, &pers);
	k->nq = (uint32_t)queues;
	k->order = (uint32_t)order;
	k->persistent = pers == 1 && v->feat.persistent;
	/* One queue: the keys at the top; several: under queue-N/ (blkif.h). */
	for (uint32_t q = 0; q < k->nq; q++) {
		if (k->nq == 1)
			dir[0] = '\0';
		else
			snprintf(dir, sizeof(dir), "queue-%u/", q);
		snprintf(key, sizeof(key), "%sevent-channel", dir);
		if ((rc = drvdom_fe_read_uint(dev, key, &port)) < 0 || port > UINT32_MAX) {
			drvdom_dev_error(dev, rc < 0 ? rc : -ERANGE, "reading %s", key);
			return rc < 0 ? rc : -ERANGE;
		}
		k->q[q].port = (uint32_t)port;
		if ((rc = read_refs(v, dir, k->order, k->q[q].refs)) < 0)
			return rc;
	}
	return 0;
}

/* Where to start serving: the responses the ring already carries. A fresh
 * ring says 0; a ring a previous incarnation of this driver domain served
 * (restarted in place by the watchdog, the frontend still Connected) says
 * how far it got, and the requests after that are served again. Only the
 * first page is looked at, read once. */
static int resume_index(struct vbd *v, const uint32_t *refs, uint32_t *out)
{
	void *addr = NULL, *cookie = NULL;
	int rc =
	    blkback_gntdev_ops.map(NULL, (uint16_t)v->dev->fe_domid, refs, 1, true, &addr, &cookie);

	if (rc < 0)
		return rc;
	*out = __atomic_load_n(&((const struct bh_sring_hdr *)addr)->rsp_prod, __ATOMIC_ACQUIRE);
	blkback_gntdev_ops.unmap(NULL, cookie, addr, 1);
	return 0;
}

/* Drops every attached ring and its event channel. */
static void detach_all(struct vbd *v)
{
	for (unsigned q = 0; q < v->nq; q++) {
		blkback_detach_ring(v->bb, v->ring[q]);
		blkback_evtchn_close(v->evt[q]);
		v->evt[q] = NULL;
	}
	v->nq = 0;
}

static int attach_queue(struct vbd *v, const struct ring_keys *k, uint32_t q)
{
	struct drvdom_dev *dev = v->dev;
	struct blkback_evtchn *evt;
	int rc, ring;

	if ((rc = blkback_evtchn_bind((uint16_t)dev->fe_domid, k->q[q].port, &evt)) < 0) {
		drvdom_dev_error(dev, rc, "binding event channel %u", k->q[q].port);
		return rc;
	}
	struct blkback_ring_params p = { .vbd = v->vbd,
		                         .domid = (uint16_t)dev->fe_domid,
		                         .refs = k->q[q].refs,
		                         .ring_page_order = k->order,
		                         .protocol = NATIVE_PROTOCOL,
		                         .persistent = k->persistent,
		                         .start = k->q[q].start,
		                         .evt_fd = blkback_evtchn_fd(evt),
		                         .evt_ack = blkback_evtchn_ack,
		                         .notify = blkback_evtchn_notify,
		                         .evt_arg = evt };
	if ((ring = blkback_attach_ring(v->bb, &p)) < 0) {
		drvdom_dev_error(dev, ring, "mapping ring %u (%u page(s))", q, 1u << k->order);
		blkback_evtchn_close(evt);
		return ring;
	}
	v->ring[v->nq] = ring;
	v->evt[v->nq] = evt;
	v->nq++;
	return 0;
}

static int vbd_connect(struct drvdom_dev *dev)
{
	struct vbd *v = dev->priv;
	struct ring_keys k;
	int rc;

	if ((rc = read_ring_keys(v, &k)) < 0)
		return rc;
	for (uint32_t q = 0; q < k.nq; q++)
		if ((rc = resume_index(v, k.q[q].refs, &k.q[q].start)) < 0) {
			drvdom_dev_error(dev, rc, "mapping ring-ref %u", k.q[q].refs[0]);
			return rc;
		}
	v->ring_err = 0;
	for (uint32_t q = 0; q < k.nq; q++)
		if ((rc = attach_queue(v, &k, q)) < 0) {
			detach_all(v);
			return rc;
		}
	bh_info(&dev->log,
	        "serving %llu sectors over %u queue(s) of %u-page rings from index %u, event "
	        "channel %u%s",
	        (unsigned long long)blkback_vbd_sectors(v->bb, v->vbd), k.nq, 1u << k.order,
	        k.q[0].start, k.q[0].port, k.persistent ? ", persistent grants" : "");
	on_engine(v); /* requests may already be waiting */
	return 0;
}

static void vbd_disconnect(struct drvdom_dev *dev)
{
	detach_all(dev->priv);
}

/* An injected fault (bh inject) on the served ring. */
static int vbd_inject(struct drvdom_dev *dev, const char *fault, unsigned ms)
{
	struct vbd *v = dev->priv;
	int rc;

	/* On the first queue's ring. */
	if (!v || v->nq == 0)
		return -ENOTCONN;
	if (strcmp(fault, "corrupt") == 0)
		return blkback_ring_inject(v->bb, v->ring[0], BLKBACK_FAULT_CORRUPT, 0);
	if (strcmp(fault, "drop-notify") == 0)
		return blkback_ring_inject(v->bb, v->ring[0], BLKBACK_FAULT_DROP_NOTIFY, ms);
	if (strcmp(fault, "close-channel") == 0) {
		/* The engine lets go of the descriptor first, then the port is
		 * really closed: the frontend's end turns unbound. */
		if ((rc = blkback_ring_inject(v->bb, v->ring[0], BLKBACK_FAULT_CLOSE_CHANNEL, 0)) <
		    0)
			return rc;
		blkback_evtchn_close(v->evt[0]);
		v->evt[0] = NULL;
		return 0;
	}
	return -EOPNOTSUPP;
}

static void vbd_remove(struct drvdom_dev *dev)
{
	vbd_free(dev->priv);
	dev->priv = NULL;
}

const struct drvdom_backend_ops vbd_backend = {
	.type = "vbd",
	.probe = vbd_probe,
	.connect = vbd_connect,
	.disconnect = vbd_disconnect,
	.remove = vbd_remove,
	.inject = vbd_inject,
};
