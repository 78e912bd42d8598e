/* Store helpers for backends: reading the frontend's and our own nodes,
 * publishing nodes in one transaction, and reporting errors Xen's way. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "driverdom/driverdom_int.h"
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

static int read_str(struct drvdom_dev *dev, const char *dir, const char *key, char **out)
{
	char path[256];
	size_t len;
	int rc;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if ((rc = bhxs_read(dev->dd->xs, 0, path, out, &len)) < 0)
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
	char path[256];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	rc = dd_read_uint(dev->dd, path, out);
	if (rc == -ENOENT && has_def) {
		*out = def;
		return 0;
	}
	return rc;
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

static int publish_tx(struct bhxs *xs, bhxs_tx_t tx, void *arg)
{
	const struct publish_arg *a = arg;
	char path[256];
	int rc;

	for (size_t i = 0; i < a->ns->n; i++) {
		snprintf(path, sizeof(path), "%s/%s", a->dev->be_path, a->ns->key[i]);
		if ((rc = bhxs_write_str(xs, tx, path, a->ns->val[i])) < 0)
			return rc;
	}
	return 0;
}

int drvdom_publish(struct drvdom_dev *dev, const struct drvdom_nodes *ns)
{
	struct publish_arg a = { dev, ns };
	int rc;

	if (ns->overflow)
		return -E2BIG;
	if (ns->n == 0)
		return 0;
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
