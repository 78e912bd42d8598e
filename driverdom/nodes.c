/* Store helpers for backends: reading the frontend's and our own nodes,
 * publishing nodes in one transaction, and reporting errors Xen's way. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "driverdom/driverdom_int.h"
#include "bulkhead/xs_wire.h"
#include "xenstored/bhxs.h"

int dd_read_uint(struct drvdom *dd, const char *path, unsigned long long *out)
{
	char *v = NULL;
	size_t len;
	uint64_t u;
	int rc = bhxs_read(dd->xs, 0, path, &v, &len);

	if (rc < 0)
		return rc;
	/* bhxs values are NUL-terminated; a value with an embedded NUL or
	 * anything but decimal digits is not a number. */
	rc = strlen(v) == len ? bh_parse_u64(v, 10, &u) : -EINVAL;
	free(v);
	if (rc == 0)
		*out = u;
	return rc < 0 ? -EINVAL : 0;
}

/* A directory's keys, read at once: the frontend's before connect() (it
 * publishes them in one transaction before it switches to Initialised),
 * ours before probe() (the toolstack wrote them in one transaction). A
 * listing of the directory and one pipelined read of every key (two
 * round trips to the store) replace a round trip per key (a vbd's ring
 * keys are nine) while a guest waits. Keys in subdirectories (a queue's)
 * are read from the store as before. */
#define DD_FE_SNAP_MAX 64

struct drvdom_snap {
	const char *dir; /* dev->fe_path or dev->be_path */
	struct bhxs_op *ops;
	char **names;
	size_t n;
	int fe_state; /* a frontend's state, read right before the listing */
};

/* A frontend's state as a XenbusState, or XenbusStateUnknown. */
static int parse_state(const struct bhxs_op *op)
{
	uint64_t u;

	if (op->rc < 0 || strlen(op->reply) != op->rlen || bh_parse_u64(op->reply, 10, &u) < 0 ||
	    u > XenbusStateReconfigured)
		return XenbusStateUnknown;
	return (int)u;
}

/* Several devices' snapshots in two round trips for all: one pipelined
 * batch of listings, then one of every key's read (devices found or
 * connecting together: a restart's). A device whose listing fails, or
 * whose directory is too big, gets none (key by key, as before). A
 * frontend's state is read in the first batch too, right before its
 * listing: a frontend writes its state after its other keys, so a state
 * that says it published comes with a listing that has them all (the
 * listing alone may be taken half-way through its writes, and the reads
 * after them). */
void dd_snap_take_many(struct drvdom_dev **devs, size_t ndev, enum dd_snap_of of)
{
	bool frontend = of != DD_SNAP_OURS;
	size_t per = frontend ? 2 : 1; /* [state,] listing */
	struct bhxs_op *dir_ops = calloc(ndev ? ndev * per : 1, sizeof(*dir_ops)), *reads = NULL;
	char(*paths)[256] = NULL, (*st_paths)[256] = NULL;
	size_t total = 0, k = 0;
	struct bhxs *xs;

	if (!dir_ops || !ndev)
		goto out;
	if (frontend && !(st_paths = calloc(ndev, sizeof(*st_paths))))
		goto out;
	xs = devs[0]->dd->xs;
	for (size_t d = 0; d < ndev; d++) {
		dd_snap_drop(devs[d]);
		if (frontend) {
			snprintf(st_paths[d], sizeof(st_paths[d]), "%s/state", devs[d]->fe_path);
			dir_ops[d * per] = (struct bhxs_op){ .type = XS_READ, .path = st_paths[d] };
		}
		dir_ops[d * per + per - 1] =
		    (struct bhxs_op){ .type = XS_DIRECTORY,
			              .path = frontend ? devs[d]->fe_path : devs[d]->be_path };
	}
	if (bhxs_pipeline(xs, 0, dir_ops, ndev * per) < 0)
		goto out;
	for (size_t d = 0; d < ndev; d++) {
		struct bhxs_op *dir = &dir_ops[d * per + per - 1];
		struct drvdom_snap *s = NULL;
		char **names = NULL;
		size_t n = 0;

		int fe_state = frontend ? parse_state(&dir_ops[d * per]) : XenbusStateUnknown;

		if (of == DD_SNAP_FRONTEND_READY && fe_state != XenbusStateInitialised &&
		    fe_state != XenbusStateConnected)
			continue;
		if (dir->rc < 0 || !dir->path[0] ||
		    bhxs_split_names(dir->reply, dir->rlen, &names, &n) < 0)
			continue;
		if (n > DD_FE_SNAP_MAX || !(s = calloc(1, sizeof(*s))) ||
		    !(s->ops = calloc(n ? n : 1, sizeof(*s->ops)))) {
			if (n <= DD_FE_SNAP_MAX && s)
				free(s);
			bhxs_free_names(names, n);
			continue;
		}
		s->dir = dir->path;
		s->names = names;
		s->n = n;
		s->fe_state = fe_state;
		devs[d]->snap = s;
		total += n;
	}
	if (total == 0)
		goto out; /* nothing to read (no round trip) */
	paths = calloc(total ? total : 1, sizeof(*paths));
	reads = calloc(total ? total : 1, sizeof(*reads));
	if (!paths || !reads) {
		for (size_t d = 0; d < ndev; d++)
			dd_snap_drop(devs[d]);
		goto out;
	}
	for (size_t d = 0; d < ndev; d++) {
		struct drvdom_snap *s = devs[d]->snap;

		for (size_t i = 0; s && i < s->n; i++, k++) {
			snprintf(paths[k], sizeof(paths[k]), "%s/%s", s->dir, s->names[i]);
			reads[k] = (struct bhxs_op){ .type = XS_READ, .path = paths[k] };
		}
	}
	if (bhxs_pipeline(xs, 0, reads, total) < 0) {
		bhxs_pipeline_free(reads, total);
		for (size_t d = 0; d < ndev; d++)
			dd_snap_drop(devs[d]);
		goto out;
	}
	k = 0;
	for (size_t d = 0; d < ndev; d++) {
		struct drvdom_snap *s = devs[d]->snap;

		for (size_t i = 0; s && i < s->n; i++, k++) {
			s->ops[i] = reads[k];  /* the reply moves to the snapshot */
			s->ops[i].path = NULL; /* PATHS goes; the names stay */
		}
	}
out:
	if (dir_ops && ndev)
		bhxs_pipeline_free(dir_ops, ndev * per);
	free(dir_ops);
	free(st_paths);
	free(reads);
	free(paths);
}

int dd_snap_fe_state(const struct drvdom_dev *dev)
{
	return dev->snap ? dev->snap->fe_state : XenbusStateUnknown;
}

void dd_snap_drop(struct drvdom_dev *dev)
{
	struct drvdom_snap *s = dev->snap;

	if (!s)
		return;
	bhxs_pipeline_free(s->ops, s->n);
	bhxs_free_names(s->names, s->n);
	free(s->ops);
	free(s);
	dev->snap = NULL;
}

int dd_snap_has(const struct drvdom_dev *dev, const char *dir, const char *key)
{
	const struct drvdom_snap *s = dev->snap;

	if (!s || dir != s->dir)
		return -1;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], key) == 0)
			return 1;
	return 0;
}

/* DIR/KEY's value: from the snapshot if it has an answer, else the store. */
static int read_val(struct drvdom_dev *dev, const char *dir, const char *key, char **out,
                    size_t *len)
{
	const struct drvdom_snap *s = dev->snap;
	char path[256];

	if (s && dir == s->dir && !strchr(key, '/')) {
		size_t i = 0;

		while (i < s->n && strcmp(s->names[i], key) != 0)
			i++;
		if (i == s->n)
			return -ENOENT; /* not there when the directory was listed */
		if (s->ops[i].rc == 0) {
			if (!(*out = malloc(s->ops[i].rlen + 1)))
				return -ENOMEM;
			memcpy(*out, s->ops[i].reply, s->ops[i].rlen + 1);
			*len = s->ops[i].rlen;
			return 0;
		}
		/* an error (removed meanwhile?): ask the store */
	}
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return bhxs_read(dev->dd->xs, 0, path, out, len);
}

static int read_str(struct drvdom_dev *dev, const char *dir, const char *key, char **out)
{
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = read_val(dev, dir, key, out, &len)) < 0)
		return rc;
	if (strlen(*out) != len) { /* an embedded NUL: not a string */
		free(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

static int read_uint_def(struct drvdom_dev *dev, const char *dir, const char *key, bool has_def,
                         unsigned long long def, unsigned long long *out)
{
	char *v = NULL;
	uint64_t u;
	int rc = read_str(dev, dir, key, &v);

	if (rc == -ENOENT && has_def) {
		*out = def;
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = bh_parse_u64(v, 10, &u);
	free(v);
	if (rc < 0)
		return -EINVAL;
	*out = u;
	return 0;
}

int drvdom_fe_read_str(struct drvdom_dev *dev, const char *key, char **out)
{
	return read_str(dev, dev->fe_path, key, out);
}

int drvdom_fe_read_uint(struct drvdom_dev *dev, const char *key, unsigned long long *out)
{
	return read_uint_def(dev, dev->fe_path, key, false, 0, out);
}

int drvdom_fe_read_uint_def(struct drvdom_dev *dev, const char *key, unsigned long long def,
                            unsigned long long *out)
{
	return read_uint_def(dev, dev->fe_path, key, true, def, out);
}

int drvdom_be_read_str(struct drvdom_dev *dev, const char *key, char **out)
{
	return read_str(dev, dev->be_path, key, out);
}

int drvdom_be_read_uint_def(struct drvdom_dev *dev, const char *key, unsigned long long def,
                            unsigned long long *out)
{
	return read_uint_def(dev, dev->be_path, key, true, def, out);
}

void drvdom_nodes_init(struct drvdom_nodes *ns)
{
	ns->n = 0;
	ns->overflow = false;
}

void drvdom_nodes_add(struct drvdom_nodes *ns, const char *key, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (ns->n >= DRVDOM_MAX_NODES || strlen(key) >= sizeof(ns->key[0])) {
		ns->overflow = true;
		return;
	}
	va_start(ap, fmt);
	r = vsnprintf(ns->val[ns->n], sizeof(ns->val[0]), fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(ns->val[0])) {
		ns->overflow = true;
		return;
	}
	bh_strlcpy(ns->key[ns->n], key, sizeof(ns->key[0]));
	ns->n++;
}

struct publish_arg {
	struct drvdom_dev *dev;
	const struct drvdom_nodes *ns;
};

size_t dd_nodes_ops(const struct drvdom_dev *dev, const struct drvdom_nodes *ns, char (*path)[256],
                    struct bhxs_op *ops)
{
	for (size_t i = 0; i < ns->n; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/%s", dev->be_path, ns->key[i]);
		ops[i] = (struct bhxs_op){ .type = XS_WRITE,
			                   .path = path[i],
			                   .val = ns->val[i],
			                   .len = strlen(ns->val[i]) };
	}
	return ns->n;
}

/* The nodes' writes pipelined: one round trip in the transaction. */
static int publish_tx(struct bhxs *xs, bhxs_tx_t tx, void *arg)
{
	const struct publish_arg *a = arg;
	char path[DRVDOM_MAX_NODES][256];
	struct bhxs_op ops[DRVDOM_MAX_NODES];
	size_t n = dd_nodes_ops(a->dev, a->ns, path, ops);

	return bhxs_pipeline_run(xs, tx, ops, n);
}

int drvdom_publish(struct drvdom_dev *dev, const struct drvdom_nodes *ns)
{
	struct publish_arg a = { dev, ns };
	int rc;

	if (ns->overflow)
		return -E2BIG;
	if (ns->n == 0)
		return 0;
	if (dev->probing) {
		/* Kept for the InitWait that follows probe() (state.c). */
		struct drvdom_nodes *p = dev->pending;

		if (!p && !(p = dev->pending = calloc(1, sizeof(*p))))
			return -ENOMEM;
		if (p->n + ns->n > DRVDOM_MAX_NODES)
			return -E2BIG;
		memcpy(p->key[p->n], ns->key, ns->n * sizeof(ns->key[0]));
		memcpy(p->val[p->n], ns->val, ns->n * sizeof(ns->val[0]));
		p->n += ns->n;
		return 0;
	}
	if ((rc = bhxs_transaction_run(dev->dd->xs, publish_tx, &a)) < 0)
		bh_warn(&dev->log, "publishing %zu node(s): %s", ns->n, bh_strerror(rc));
	return rc;
}

static void dev_verror(struct drvdom_dev *dev, int err, const char *fmt, va_list ap)
{
	char msg[256], path[200];
	int rc;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	bh_err(&dev->log, "%s: %s", msg, bh_strerror(err));
	dev->reported = true;
	/* Linux's xenbus_dev_error: "<positive errno> <message>" at
	 * error/backend/<type>/<fe>/<devid>/error of our own directory. */
	snprintf(path, sizeof(path), "/local/domain/%u/error/backend/%s/%u/%u/error",
	         dev->dd->domid, dev->type, dev->fe_domid, dev->devid);
	if ((rc = bhxs_printf(dev->dd->xs, 0, path, "%d %s", err < 0 ? -err : err, msg)) < 0)
		bh_warn(&dev->log, "writing %s: %s", path, bh_strerror(rc));
}

void drvdom_dev_error(struct drvdom_dev *dev, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dev_verror(dev, err, fmt, ap);
	va_end(ap);
}

void drvdom_dev_fatal(struct drvdom_dev *dev, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dev_verror(dev, err, fmt, ap);
	va_end(ap);
	dd_dev_disconnect(dev);
	dd_dev_switch(dev, XenbusStateClosing);
}
