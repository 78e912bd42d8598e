/* The backend's half of the XenbusState dance for one device
 * (protocol-facts §2.4, §3.5, §4): probe -> InitWait, connect on the
 * frontend's Initialised/Connected, close with the frontend, InitWait
 * again when a closed frontend starts over, remove with the directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "driverdom/driverdom_int.h"
#include "bulkhead/xs_wire.h"
#include "xenstored/bhxs.h"

struct switch_arg {
	const struct drvdom_dev *dev;
	const char *path;
	int state;
};

/* Writes state only if the node still exists: a device whose directory
 * the toolstack just removed must not be re-created by our write. The
 * read and the writes go together (one round trip); if the read finds
 * nothing, the transaction is abandoned and the writes with it. What
 * probe() published goes with its InitWait (dev->pending): the frontend
 * sees the features and the state at once, one transaction fewer. */
static int switch_tx(struct bhxs *xs, bhxs_tx_t tx, void *arg)
{
	const struct switch_arg *a = arg;
	const struct drvdom_nodes *ns = a->dev->pending;
	char val[16], path[DRVDOM_MAX_NODES][256];
	struct bhxs_op ops[2 + DRVDOM_MAX_NODES];
	size_t n = 0;

	ops[n++] = (struct bhxs_op){ .type = XS_READ, .path = a->path };
	if (ns)
		n += dd_nodes_ops(a->dev, ns, path, ops + n);
	ops[n] = (struct bhxs_op){ .type = XS_WRITE, .path = a->path, .val = val };
	ops[n++].len = (size_t)snprintf(val, sizeof(val), "%d", a->state);
	return bhxs_pipeline_run(xs, tx, ops, n);
}

int dd_dev_switch(struct drvdom_dev *dev, int state)
{
	char path[160];
	struct switch_arg a = { dev, path, state };
	int rc;

	if (dev->state == state && !dev->pending)
		return 0;
	snprintf(path, sizeof(path), "%s/state", dev->be_path);
	rc = bhxs_transaction_run(dev->dd->xs, switch_tx, &a);
	if (dev->pending && rc < 0)
		bh_warn(&dev->log, "publishing %zu node(s): %s", dev->pending->n, bh_strerror(rc));
	free(dev->pending);
	dev->pending = NULL;
	if (rc < 0) {
		bh_warn(&dev->log, "switching to %s: %s", xenbus_state_name(state),
		        bh_strerror(rc));
		return rc;
	}
	if (dev->state != state)
		bh_info(&dev->log, "%s -> %s", xenbus_state_name(dev->state),
		        xenbus_state_name(state));
	dev->state = state;
	return 0;
}

void dd_dev_disconnect(struct drvdom_dev *dev)
{
	if (!dev->connected)
		return;
	dev->connected = false;
	if (dev->ops->disconnect)
		dev->ops->disconnect(dev);
	bh_info(&dev->log, "disconnected");
}

/* DIR is dev->fe_path or dev->be_path (read through the snapshot, if one
 * is taken: nodes.c). */
static int read_state(struct drvdom_dev *dev, const char *dir)
{
	unsigned long long v;
	int rc = dir == dev->be_path ? drvdom_be_read_uint_def(dev, "state", ~0ull, &v)
	                             : drvdom_fe_read_uint_def(dev, "state", ~0ull, &v);

	if (rc < 0 || v > XenbusStateReconfigured)
		return XenbusStateUnknown; /* missing or garbage: the peer is gone */
	return (int)v;
}

static bool online(struct drvdom_dev *dev)
{
	unsigned long long v;

	return drvdom_be_read_uint_def(dev, "online", 1, &v) < 0 || v != 0;
}

static void clear_error(struct drvdom_dev *dev)
{
	char path[200];

	snprintf(path, sizeof(path), "/local/domain/%u/error/backend/%s/%u/%u", dev->dd->domid,
	         dev->type, dev->fe_domid, dev->devid);
	bhxs_rm(dev->dd->xs, 0, path);
}

static void prepare(struct drvdom_dev *dev)
{
	if (!dev->unprepared)
		return;
	dev->unprepared = false;
	dev->ops->prepare(dev);
}

void dd_prepare_all(struct drvdom *dd)
{
	for (struct drvdom_dev *dev = dd->devs; dev; dev = dev->next)
		prepare(dev);
}

static void do_connect(struct drvdom_dev *dev)
{
	int rc;

	prepare(dev);
	dev->reported = false;
	dd_snap_take(dev, dev->fe_path);
	rc = dev->ops->connect(dev);
	dd_snap_drop(dev);
	if (rc < 0) {
		if (!dev->reported)
			drvdom_dev_error(dev, rc, "connecting to the frontend");
		dd_dev_switch(dev, XenbusStateClosing);
		return;
	}
	dev->connected = true;
	clear_error(dev); /* an earlier attempt's error no longer holds */
	dd_dev_switch(dev, XenbusStateConnected);
}

/* The frontend left Closed/Closing (or a stale Connected) for
 * Initialising: it is starting over, so answer InitWait again. */
static void restart(struct drvdom_dev *dev)
{
	dd_dev_disconnect(dev);
	if (online(dev))
		dd_dev_switch(dev, XenbusStateInitWait);
}

static void closing(struct drvdom_dev *dev, int state)
{
	dd_dev_disconnect(dev);
	if (dev->state != XenbusStateClosed)
		dd_dev_switch(dev, state);
}

void dd_dev_frontend_changed(struct drvdom_dev *dev)
{
	int fe = read_state(dev, dev->fe_path);
	int was = dev->fe_state;

	if (dev->dead)
		return;
	dev->fe_state = fe;
	switch (fe) {
	case XenbusStateInitialising:
		if (was != XenbusStateInitialising && dev->state != XenbusStateInitWait)
			restart(dev);
		break;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		/* Only from InitWait: a watch may fire more than once, and a
		 * device closed on an error waits for the frontend to start
		 * over. */
		if (dev->state == XenbusStateInitWait && !dev->connected)
			do_connect(dev);
		break;
	case XenbusStateClosing:
		closing(dev, XenbusStateClosing);
		break;
	case XenbusStateUnknown:
		/* Its state node went away: the frontend is gone. A frontend
		 * never seen yet may still be on its way. */
		if (was > XenbusStateUnknown)
			closing(dev, XenbusStateClosed);
		break;
	case XenbusStateClosed:
		closing(dev, XenbusStateClosed);
		break;
	default: /* InitWait, Reconfiguring, Reconfigured: nothing to do */
		break;
	}
}

/* Someone else (the toolstack's unplug, libxl-style) wrote our state. */
void dd_dev_backend_changed(struct drvdom_dev *dev)
{
	int st = read_state(dev, dev->be_path);

	/* Only a close is the toolstack's to ask for; anything else written
	 * over our state is ignored (the next switch overwrites it). */
	if (st == dev->state || (st != XenbusStateClosing && st != XenbusStateClosed))
		return;
	bh_info(&dev->log, "the toolstack set our state to %s", xenbus_state_name(st));
	dd_dev_disconnect(dev);
	dev->state = st;
}

static int watch_frontend(struct drvdom_dev *dev, bool on)
{
	char path[200], token[160];

	snprintf(path, sizeof(path), "%s/state", dev->fe_path);
	snprintf(token, sizeof(token), "%s%s", DD_TOKEN_FE, dev->be_path);
	if (on)
		return bhxs_watch(dev->dd->xs, path, token);
	return bhxs_unwatch(dev->dd->xs, path, token);
}

static void init_dev(struct drvdom_dev *dev, struct drvdom *dd, const char *type, unsigned fe,
                     unsigned devid)
{
	char *fe_path = NULL;

	dev->dd = dd;
	bh_strlcpy(dev->type, type, sizeof(dev->type));
	dev->fe_domid = fe;
	dev->devid = devid;
	snprintf(dev->be_path, sizeof(dev->be_path), "%s/%s/%u/%u", dd->be_root, type, fe, devid);
	/* Our directory read at once: "frontend" and "state" here, then
	 * probe()'s keys (dd_dev_add drops it after probe()). */
	dd_snap_take(dev, dev->be_path);
	bh_log_init(&dev->log, "");
	bh_log_set_prefix(&dev->log, "%s/%s/dom%u/%u", dd->log.prefix, type, fe, devid);
	/* The toolstack names the frontend; Xen's layout is the fallback. */
	if (drvdom_be_read_str(dev, "frontend", &fe_path) == 0 &&
	    strlen(fe_path) < sizeof(dev->fe_path))
		bh_strlcpy(dev->fe_path, fe_path, sizeof(dev->fe_path));
	else
		snprintf(dev->fe_path, sizeof(dev->fe_path), "/local/domain/%u/device/%s/%u", fe,
		         type, devid);
	free(fe_path);
	dev->state = read_state(dev, dev->be_path);
	dev->fe_state = -1; /* nothing seen yet */
}

int dd_dev_add(struct drvdom *dd, const struct drvdom_backend_ops *ops, const char *type,
               unsigned fe, unsigned devid)
{
	struct drvdom_dev *dev = calloc(1, sizeof(*dev));
	int rc;

	if (!dev)
		return -ENOMEM;
	init_dev(dev, dd, type, fe, devid);
	dev->ops = ops;
	dev->seen = true;
	dev->next = dd->devs;
	dd->devs = dev;
	bh_info(&dev->log, "new device (frontend %s)", dev->fe_path);
	if (!ops) {
		dd_snap_drop(dev);
		dev->dead = true;
		drvdom_dev_fatal(dev, -ENODEV, "no backend for device type %s", type);
		return -ENODEV;
	}
	dev->reported = false;
	dev->probing = true;
	rc = ops->probe(dev);
	dev->probing = false;
	dd_snap_drop(dev);
	if (rc < 0) {
		free(dev->pending); /* features of a device that will not serve */
		dev->pending = NULL;
		dev->dead = true;
		if (!dev->reported)
			drvdom_dev_error(dev, rc, "probing the device");
		dd_dev_switch(dev, XenbusStateClosing);
		return rc;
	}
	dev->probed = true;
	dd_dev_switch(dev, XenbusStateInitWait);
	/* From the loop, once this scan's devices are all at InitWait. */
	if (ops->prepare && dd->prep_ev) {
		dev->unprepared = true;
		event_active(dd->prep_ev, 0, 0);
	}
	if ((rc = watch_frontend(dev, true)) < 0) {
		drvdom_dev_fatal(dev, rc, "watching the frontend's state");
		return rc;
	}
	dd_dev_frontend_changed(dev); /* in case the watch's first event is late */
	return 0;
}

static void unlink_dev(struct drvdom_dev *dev)
{
	struct drvdom_dev **pp = &dev->dd->devs;

	while (*pp && *pp != dev)
		pp = &(*pp)->next;
	if (*pp)
		*pp = dev->next;
}

void dd_dev_free(struct drvdom_dev *dev)
{
	dd_snap_drop(dev);
	free(dev->pending);
	dev->pending = NULL;
	dd_dev_disconnect(dev);
	if (dev->probed) {
		watch_frontend(dev, false);
		if (dev->ops->remove)
			dev->ops->remove(dev);
	}
	unlink_dev(dev);
	free(dev);
}

/* The device directory is gone: the toolstack unplugged it. */
void dd_dev_gone(struct drvdom_dev *dev)
{
	bh_info(&dev->log, "removed");
	clear_error(dev); /* its error, if any, goes with it */
	dd_dev_free(dev);
}
