/* The PV kernel's store connection over bhxs (store.h): what Linux's
 * drivers/xen/manage.c does for control/shutdown, and the start of the
 * frontends. */
#include "pvkernel/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulkhead/hypercall.h"
#include "pvkernel/frontends.h"
#include "pvkernel/vbd.h"
#include "pvkernel/vif.h"
#include "xenstored/bhxs.h"

#define SHUTDOWN_NODE  "control/shutdown"
#define SHUTDOWN_TOKEN "pvk-shutdown"

struct pvk_store {
	struct bhxs *xs;
	struct event *ev, *vbd_ev;
	struct pvk_store_ops ops;
};

static void say(struct pvk_store *st, const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	if (st->ops.log)
		st->ops.log(st->ops.arg, msg);
}

/* Read and clear control/shutdown in one transaction, as Linux does, so
 * the toolstack sees the request was taken. *val: malloc'd or NULL. */
static int take_request(struct bhxs *xs, bhxs_tx_t tx, void *arg)
{
	char **val = arg;
	size_t len;
	int rc;

	free(*val);
	*val = NULL;
	rc = bhxs_read(xs, tx, SHUTDOWN_NODE, val, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if ((*val)[0] && pvk_store_shutdown_reason(*val) >= 0)
		return bhxs_write_str(xs, tx, SHUTDOWN_NODE, "");
	return 0;
}

static void on_shutdown_node(struct pvk_store *st)
{
	char *val = NULL;
	int reason;

	if (bhxs_transaction_run(st->xs, take_request, &val) < 0 || !val || !val[0]) {
		free(val);
		return;
	}
	reason = pvk_store_shutdown_reason(val);
	if (reason == BH_SHUTDOWN_SUSPEND)
		say(st, "control/shutdown=%s: suspend is not supported", val);
	else if (reason < 0)
		say(st, "control/shutdown=%s: unknown request, ignored", val);
	else
		st->ops.shutdown(st->ops.arg, reason);
	free(val);
}

static void on_store(evutil_socket_t fd, short what, void *arg)
{
	struct pvk_store *st = arg;
	char *path, *token;

	while (bhxs_read_watch(st->xs, &path, &token) == 0) {
		bool ours = !strcmp(token, SHUTDOWN_TOKEN);
		if (!ours && !pvk_vbd_watch(st->xs, path, token))
			pvk_vif_watch(st->xs, path, token);
		free(path);
		free(token);
		if (ours)
			on_shutdown_node(st);
	}
}

static void on_vbd_msg(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	pvk_vbd_msg_drain();
}

/* Linux advertises what it will act on; the toolstack checks before it
 * writes a request (libxl's feature-poweroff test). No suspend here. */
static int announce(struct bhxs *xs)
{
	int rc = bhxs_write_str(xs, 0, "control/feature-poweroff", "1");

	return rc < 0 ? rc : bhxs_write_str(xs, 0, "control/feature-reboot", "1");
}

int pvk_store_start(struct event_base *base, const struct pvk_cmdline *cmd,
                    const struct pvk_store_ops *ops, struct pvk_store **out)
{
	struct pvk_store *st = calloc(1, sizeof(*st));
	int rc;

	*out = NULL;
	if (!st)
		return -ENOMEM;
	st->ops = *ops;
	if ((rc = bhxs_open_domain(&st->xs)) < 0)
		goto fail;
	if ((rc = announce(st->xs)) < 0 ||
	    (rc = bhxs_watch(st->xs, SHUTDOWN_NODE, SHUTDOWN_TOKEN)) < 0)
		goto fail;
	st->ev = event_new(base, bhxs_fd(st->xs), EV_READ | EV_PERSIST, on_store, st);
	if (!st->ev || event_add(st->ev, NULL) < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	say(st, "connected: watching %s", SHUTDOWN_NODE);
	pvk_frontends_probe(st->xs, cmd, ops->log, ops->arg);
	if (pvk_vbd_msg_fd() >= 0) {
		st->vbd_ev =
		    event_new(base, pvk_vbd_msg_fd(), EV_READ | EV_PERSIST, on_vbd_msg, st);
		if (st->vbd_ev)
			event_add(st->vbd_ev, NULL);
	}
	/* The watch fires once at once (Xen's rule); a request written
	 * before we came up is taken then. */
	on_store(-1, 0, st);
	*out = st;
	return 0;
fail:
	pvk_store_stop(st);
	return rc;
}

void pvk_store_stop(struct pvk_store *st)
{
	if (!st)
		return;
	if (st->ev)
		event_free(st->ev);
	if (st->vbd_ev)
		event_free(st->vbd_ev);
	if (st->xs)
		bhxs_close(st->xs);
	free(st);
}
