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

/* One device's requests of a state switch (switch_tx): its state read
 * (the node must still exist), what probe() published (dev->pending),
 * an old error node to remove (RM, or NULL), the state. PATH holds the
 * state node's path, VAL the value, NODES the published keys' paths. */
static size_t switch_ops(const struct drvdom_dev *dev, int state, const char *rm, char *path,
                         char *val, char (*nodes)[256], struct bhxs_op *ops)
{
	size_t n = 0;

	snprintf(path, 160, "%s/state", dev->be_path);
	ops[n++] = (struct bhxs_op){ .type = XS_READ, .path = path };
	if (dev->pending)
		n += dd_nodes_ops(dev, dev->pending, nodes, ops + n);
	if (rm)
		ops[n++] = (struct bhxs_op){ .type = XS_RM, .path = rm };
	ops[n] = (struct bhxs_op){ .type = XS_WRITE, .path = path, .val = val };
	ops[n++].len = (size_t)snprintf(val, 16, "%d", state);
	return n;
}

#define SWITCH_OPS (3 + DRVDOM_MAX_NODES) /* a device's at most */

struct switch_arg {
	struct drvdom_dev *const *devs;
	size_t ndev;
	const int *states; /* each device's; NULL: `state` for all */
	int state;
	bool clear_error; /* with a Connected */
};

static int arg_state(const struct switch_arg *a, size_t d)
{
	return a->states ? a->states[d] : a->state;
}

static void error_path(const struct drvdom_dev *dev, char *buf, size_t cap);

/* Writes state only if the node still exists: a device whose directory
 * the toolstack just removed must not be re-created by our write. The
 * read and the writes go together (one round trip); if the read finds
 * nothing, the transaction is abandoned and the writes with it. What
 * probe() published goes with its InitWait (dev->pending): the frontend
 * sees the features and the state at once, one transaction fewer; an
 * old error node goes with the Connected, one round trip fewer. Devices
 * found, or ready to connect, together go in one transaction: a
 * restart's devices each paid three round trips for their own. */
static int switch_tx(struct bhxs *xs, bhxs_tx_t tx, void *arg)
{
	const struct switch_arg *a = arg;
	struct sw_bufs {
		char path[160], val[16], err[200], nodes[DRVDOM_MAX_NODES][256];
	} *b = calloc(a->ndev, sizeof(*b));
	struct bhxs_op *ops = calloc(a->ndev * SWITCH_OPS, sizeof(*ops));
	size_t n = 0;
	int rc = -ENOMEM;

	if (!b || !ops)
		goto out;
	for (size_t d = 0; d < a->ndev; d++) {
		int st = arg_state(a, d);
		bool clear = a->clear_error && st == XenbusStateConnected;

		if (clear)
			error_path(a->devs[d], b[d].err, sizeof(b[d].err));
		n += switch_ops(a->devs[d], st, clear ? b[d].err : NULL, b[d].path, b[d].val,
		                b[d].nodes, ops + n);
	}
	if ((rc = bhxs_pipeline(xs, tx, ops, n)) == 0)
		for (size_t i = 0; i < n && rc == 0; i++)
			if (ops[i].rc < 0 && !(ops[i].type == XS_RM && ops[i].rc == -ENOENT))
				rc = ops[i].rc; /* no error to remove is fine */
	bhxs_pipeline_free(ops, n);
out:
	free(ops);
	free(b);
	return rc;
}

static void error_path(const struct drvdom_dev *dev, char *buf, size_t cap)
{
	snprintf(buf, cap, "/local/domain/%u/error/backend/%s/%u/%u", dev->dd->domid, dev->type,
	         dev->fe_domid, dev->devid);
}

/* The bookkeeping of a switch that was written (or failed). */
static void switched(struct drvdom_dev *dev, int state, int rc)
{
	if (dev->pending && rc < 0)
		bh_warn(&dev->log, "publishing %zu node(s): %s", dev->pending->n, bh_strerror(rc));
	free(dev->pending);
	dev->pending = NULL;
	if (rc < 0) {
		bh_warn(&dev->log, "switching to %s: %s", xenbus_state_name(state),
		        bh_strerror(rc));
		return;
	}
	if (dev->state != state)
		bh_info(&dev->log, "%s -> %s", xenbus_state_name(dev->state),
		        xenbus_state_name(state));
	dev->state = state;
}

static int switch_state(struct drvdom_dev *dev, int state, bool clear_error)
{
	struct switch_arg a = { &dev, 1, NULL, state, clear_error };
	int rc;

	if (dev->state == state && !dev->pending && !clear_error)
		return 0;
	rc = bhxs_transaction_run(dev->dd->xs, switch_tx, &a);
	switched(dev, state, rc);
	return rc;
}

/* N devices to STATES[i] (NULL: STATE for all) in one transaction; if it
 * fails (one device's directory gone), each alone, so that the others
 * still switch. An old error node goes with a Connected if CLEAR_ERROR. */
static void switch_many(struct drvdom_dev **devs, size_t n, const int *states, int state,
                        bool clear_error)
{
	struct switch_arg a = { devs, n, states, state, clear_error };

	if (n == 0)
		return;
	if (n == 1 || bhxs_transaction_run(devs[0]->dd->xs, switch_tx, &a) < 0) {
		for (size_t d = 0; d < n; d++)
			switch_state(devs[d], arg_state(&a, d), clear_error);
		return;
	}
	for (size_t d = 0; d < n; d++)
		switched(devs[d], arg_state(&a, d), 0);
}

int dd_dev_switch(struct drvdom_dev *dev, int state)
{
	return switch_state(dev, state, false);
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

	error_path(dev, path, sizeof(path));
	bhxs_rm(dev->dd->xs, 0, path);
}

/* connect() with the frontend's keys taken (dev->snap); false if it
 * failed, and the device is closing. */
static bool connect_one(struct drvdom_dev *dev)
{
	int rc;

	dev->reported = false;
	rc = dev->ops->connect(dev);
	dd_snap_drop(dev);
	if (rc < 0) {
		if (!dev->reported)
			drvdom_dev_error(dev, rc, "connecting to the frontend");
		dd_dev_switch(dev, XenbusStateClosing);
		return false;
	}
	dev->connected = true;
	return true;
}

/* N devices whose frontends are ready, connected together: their
 * frontends' keys in two round trips for all, connect() each, Connected
 * (and the removal of an earlier attempt's error node, which no longer
 * holds) in one transaction. */
static void connect_batch(struct drvdom_dev **devs, size_t n)
{
	size_t m = 0;

	dd_snap_take_many(devs, n, DD_SNAP_FRONTEND);
	for (size_t i = 0; i < n; i++)
		if (connect_one(devs[i]))
			devs[m++] = devs[i];
	switch_many(devs, m, NULL, XenbusStateConnected, true);
}

/* The devices whose frontends are ready (connect_due), connected
 * together (connect_batch). Run once the store's queued events are
 * handled (drain_store), so that a restart's frontends, which answer at
 * about the same time, are taken together; each alone paid six round
 * trips of its own. */
void dd_connect_due(struct drvdom *dd)
{
	struct drvdom_dev **due;
	size_t n = 0, cap = 0;

	if (!dd->connect_due)
		return;
	dd->connect_due = false;
	for (struct drvdom_dev *dev = dd->devs; dev; dev = dev->next)
		cap += dev->connect_due;
	due = calloc(cap ? cap : 1, sizeof(*due));
	for (struct drvdom_dev *dev = dd->devs; dev; dev = dev->next) {
		if (!dev->connect_due)
			continue;
		dev->connect_due = false;
		/* Only from InitWait: a watch may fire more than once, and a
		 * device closed on an error waits for the frontend to start
		 * over. */
		if (dev->dead || dev->connected || dev->state != XenbusStateInitWait ||
		    (dev->fe_state != XenbusStateInitialised &&
		     dev->fe_state != XenbusStateConnected))
			continue;
		if (due)
			due[n++] = dev;
		else
			connect_batch(&dev, 1); /* no memory for the batch */
	}
	if (due)
		connect_batch(due, n);
	free(due);
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
		/* connected with the others ready now (dd_connect_due) */
		if (dev->state == XenbusStateInitWait && !dev->connected) {
			dev->connect_due = true;
			dev->dd->connect_due = true;
		}
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
	dev->dd = dd;
	bh_strlcpy(dev->type, type, sizeof(dev->type));
	dev->fe_domid = fe;
	dev->devid = devid;
	snprintf(dev->be_path, sizeof(dev->be_path), "%s/%s/%u/%u", dd->be_root, type, fe, devid);
	bh_log_init(&dev->log, "");
	bh_log_set_prefix(&dev->log, "%s/%s/dom%u/%u", dd->log.prefix, type, fe, devid);
	dev->fe_state = -1; /* nothing seen yet */
}

/* From our directory's snapshot: "frontend" and "state" (probe() reads
 * its keys from it next). */
static void init_from_dir(struct drvdom_dev *dev)
{
	char *fe_path = NULL;

	/* The toolstack names the frontend; Xen's layout is the fallback. */
	if (drvdom_be_read_str(dev, "frontend", &fe_path) == 0 &&
	    strlen(fe_path) < sizeof(dev->fe_path))
		bh_strlcpy(dev->fe_path, fe_path, sizeof(dev->fe_path));
	else
		snprintf(dev->fe_path, sizeof(dev->fe_path), "/local/domain/%u/device/%s/%u",
		         dev->fe_domid, dev->type, dev->devid);
	free(fe_path);
	dev->state = read_state(dev, dev->be_path);
}

/* The toolstack writes a device in one transaction, but a writer that
 * does not would show us a directory without its nodes yet: a device is
 * there once its state node is (the rest of its nodes will fire the watch
 * again). Asked of the snapshot's listing, which saves a read. */
static bool state_listed(struct drvdom_dev *dev)
{
	char path[200], *v = NULL;
	size_t len;
	int rc = dd_snap_has(dev, dev->be_path, "state");

	if (rc >= 0)
		return rc == 1;
	snprintf(path, sizeof(path), "%s/state", dev->be_path);
	rc = bhxs_read(dev->dd->xs, 0, path, &v, &len);
	free(v);
	return rc != -ENOENT;
}

/* A listed device known from now on, probed: true if it is to go to
 * InitWait. Its snapshot is dropped. */
static bool add_probe(struct drvdom_dev *dev, const struct drvdom_backend_ops *ops)
{
	struct drvdom *dd = dev->dd;
	int rc;

	dev->ops = ops;
	dev->seen = true;
	dev->next = dd->devs;
	dd->devs = dev;
	bh_info(&dev->log, "new device (frontend %s)", dev->fe_path);
	if (!ops) {
		dd_snap_drop(dev);
		dev->dead = true;
		drvdom_dev_fatal(dev, -ENODEV, "no backend for device type %s", dev->type);
		return false;
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
		return false;
	}
	dev->probed = true;
	return true;
}

/* Probed devices whose frontends published a ring before our InitWait:
 * connected now, from one look at the frontends (a round trip for all,
 * and one more if any is ready). The N devices of DEVS that are to
 * switch go to SW (returned: how many), each with what it goes to in
 * STATES: Connected, or InitWait for one whose frontend is not ready.
 * One that failed to connect is closing already, and not in SW.
 *
 * A restart's guests do that (xbfront.h, attach_early): the toolstack
 * wrote their frontend directories afresh at Initialising in the
 * transaction that brought us back, so a ring published there since is
 * for this generation. Each interface is made first (ops->prepare), which
 * also gives the guests that time to publish. Going Connected without an
 * InitWait that anyone saw is what a Xen backend does when both watch
 * events come before it looks (Linux's blkback and netback connect on a
 * frontend found Initialised or Connected whatever their own state). */
static size_t connect_ready(struct drvdom_dev **devs, size_t n, struct drvdom_dev **sw, int *states)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (devs[i]->ops->prepare)
			devs[i]->ops->prepare(devs[i]);
	dd_snap_take_many(devs, n, DD_SNAP_FRONTEND_READY);
	for (size_t i = 0; i < n; i++) {
		struct drvdom_dev *dev = devs[i];
		int fe = dd_snap_fe_state(dev);

		states[m] = XenbusStateInitWait;
		if (fe != XenbusStateInitialised && fe != XenbusStateConnected) {
			dd_snap_drop(dev);
		} else {
			dev->fe_state = fe;
			if (!connect_one(dev))
				continue;
			states[m] = XenbusStateConnected;
		}
		sw[m++] = dev;
	}
	return m;
}

/* Devices found together (a restart's scan finds all of a driver
 * domain's): their directories read in two round trips for all, each
 * probed, its interface made, its frontend looked at (connect_ready), all
 * at InitWait or Connected in one transaction, then each frontend watched
 * (its state comes with the watch's first event, which a store sends at
 * once). One by one, each cost ~8 round trips before the next was
 * looked at. */
void dd_devs_add(struct drvdom *dd, const struct dd_found *f, size_t n)
{
	struct drvdom_dev **devs = calloc(n ? n : 1, sizeof(*devs));
	struct drvdom_dev **sw = calloc(n ? n : 1, sizeof(*sw));
	int *states = calloc(n ? n : 1, sizeof(*states));
	size_t nd = 0, np = 0, nsw;
	int rc;

	if (!devs || !sw || !states) {
		free(devs);
		free(sw);
		free(states);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct drvdom_dev *dev = calloc(1, sizeof(*dev));

		if (!dev)
			continue;
		init_dev(dev, dd, f[i].type, f[i].fe, f[i].devid);
		dev->ops = f[i].ops;
		devs[nd++] = dev;
	}
	dd_snap_take_many(devs, nd, DD_SNAP_OURS);
	for (size_t i = 0; i < nd; i++) {
		struct drvdom_dev *dev = devs[i];

		init_from_dir(dev);
		if (!state_listed(dev)) {
			dd_snap_drop(dev);
			free(dev);
			continue;
		}
		if (add_probe(dev, dev->ops))
			devs[np++] = dev;
	}
	nsw = connect_ready(devs, np, sw, states);
	switch_many(sw, nsw, states, XenbusStateInitWait, true);
	/* Every probed one, a closing one too: its frontend may start over. */
	for (size_t i = 0; i < np; i++)
		if ((rc = watch_frontend(devs[i], true)) < 0)
			drvdom_dev_fatal(devs[i], rc, "watching the frontend's state");
	free(states);
	free(sw);
	free(devs);
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
