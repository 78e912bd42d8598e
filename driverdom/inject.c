/* Faults ordered by dom0 (bh inject; docs/watchdog.md, "The order
 * channel").
 *
 * dom0 writes /local/domain/<self>/control/inject, a node it owns and we
 * may only read (no guest may read it at all), as
 *
 *     <seq> <fault> <type>/<frontend domid>/<devid> <ms>
 *
 * and we carry the order out on that device through its backend's inject()
 * op, once per sequence number, and answer in our own data/inject-ack as
 * "<seq> ok <type>/<fe>/<devid>" or "<seq> error <errno> <why>". An order
 * already there when we start (a previous life's) is not carried out again.
 * Nothing here is on the I/O path: the watch fires only when dom0 writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "driverdom/driverdom_int.h"
#include "xenstored/bhxs.h"

struct order {
	unsigned long long seq;
	char fault[24];
	char type[16];
	unsigned fe, devid, ms;
};

static void node_path(const struct drvdom *dd, char *p, size_t cap)
{
	snprintf(p, cap, "/local/domain/%u/control/inject", dd->domid);
}

/* Reads and parses the node: 0, -ENOENT (absent or empty), -EINVAL. */
static int read_order(struct drvdom *dd, struct order *o)
{
	char p[96], *v = NULL;
	size_t len;
	int rc, n = 0;

	node_path(dd, p, sizeof(p));
	if ((rc = bhxs_read(dd->xs, 0, p, &v, &len)) < 0)
		return rc;
	memset(o, 0, sizeof(*o));
	if (!v[0])
		rc = -ENOENT;
	else if (sscanf(v, "%llu %23s %15[a-z]/%u/%u %u%n", &o->seq, o->fault, o->type, &o->fe,
	                &o->devid, &o->ms, &n) != 6 ||
	         (size_t)n != strlen(v))
		rc = -EINVAL;
	if (rc == -EINVAL)
		bh_warn(&dd->log, "inject: unreadable order \"%.80s\"", v);
	free(v);
	return rc;
}

static void ack(struct drvdom *dd, const struct order *o, int rc, const char *why)
{
	char p[96], v[160];

	snprintf(p, sizeof(p), "/local/domain/%u/data/inject-ack", dd->domid);
	if (rc == 0)
		snprintf(v, sizeof(v), "%llu ok %s/%u/%u", o->seq, o->type, o->fe, o->devid);
	else
		snprintf(v, sizeof(v), "%llu error %d %s", o->seq, -rc, why);
	bhxs_write_str(dd->xs, 0, p, v);
}

static void carry_out(struct drvdom *dd, const struct order *o)
{
	struct drvdom_dev *dev = drvdom_find(dd, o->type, o->fe, o->devid);
	int rc;

	if (!dev) {
		bh_warn(&dd->log, "inject %s: no device %s/%u/%u here", o->fault, o->type, o->fe,
		        o->devid);
		ack(dd, o, -ENODEV, "no such device");
		return;
	}
	if (!dev->ops || !dev->ops->inject) {
		bh_warn(&dd->log, "inject %s: %s backends take no faults", o->fault, o->type);
		ack(dd, o, -EOPNOTSUPP, "the backend takes no faults");
		return;
	}
	if (!dev->connected) {
		bh_warn(&dd->log, "inject %s: %s/%u/%u is not connected", o->fault, o->type, o->fe,
		        o->devid);
		ack(dd, o, -ENOTCONN, "not connected");
		return;
	}
	rc = dev->ops->inject(dev, o->fault, o->ms);
	if (rc < 0)
		bh_warn(&dd->log, "inject %s into %s/%u/%u: %s", o->fault, o->type, o->fe, o->devid,
		        bh_strerror(rc));
	else
		bh_warn(&dd->log, "inject: %s into %s/%u/%u (frontend %s) by dom0's order %llu",
		        o->fault, o->type, o->fe, o->devid, dev->fe_path, o->seq);
	ack(dd, o, rc, rc == -EOPNOTSUPP ? "fault not supported" : bh_strerror(rc));
}

int dd_inject_start(struct drvdom *dd)
{
	struct order o;
	char p[96];

	/* A previous life's order stays in the node: skip it. */
	if (read_order(dd, &o) == 0)
		dd->inject_seq = o.seq;
	dd->inject_armed = true;
	node_path(dd, p, sizeof(p));
	return bhxs_watch(dd->xs, p, DD_TOKEN_INJECT);
}

bool dd_inject_watch(struct drvdom *dd, const char *path, const char *token)
{
	struct order o;

	(void)path;
	if (strcmp(token, DD_TOKEN_INJECT) != 0)
		return false;
	if (!dd->inject_armed || read_order(dd, &o) < 0 || o.seq <= dd->inject_seq)
		return true;
	dd->inject_seq = o.seq;
	carry_out(dd, &o);
	return true;
}
