/* The runtime's life: the store connection, the libevent loop over the
 * store and the backends' descriptors, the heartbeat, backend-ready. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "driverdom/driverdom_int.h"
#include "ioctl/bhctl.h"
#include "xenstored/bhxs.h"

static const char *const state_names[] = {
	"Unknown", "Initialising", "InitWait",      "Initialised",  "Connected",
	"Closing", "Closed",       "Reconfiguring", "Reconfigured",
};

const char *xenbus_state_name(int state)
{
	if (state < 0 || (size_t)state >= BH_ARRAY_SIZE(state_names))
		return "Invalid";
	return state_names[state];
}

/* Watch events that arrived while a call waited for its reply are queued
 * inside the connection and do not make its fd readable again: hand out
 * everything queued after every callback. */
static void drain_store(struct drvdom *dd)
{
	char *path, *token;
	int rc = -EAGAIN;

	for (;;) {
		while (!dd->fatal && (rc = bhxs_read_watch(dd->xs, &path, &token)) == 0) {
			if (!dd_inject_watch(dd, path, token))
				dd_handle_watch(dd, path, token);
			free(path);
			free(token);
		}
		/* The frontends ready now, connected together; what that
		 * queued is handled in the next turn. */
		if (dd->fatal || rc != -EAGAIN || !dd->connect_due)
			break;
		dd_connect_due(dd);
	}
	if (!dd->fatal && rc != -EAGAIN) {
		bh_err(&dd->log, "store connection: %s", bh_strerror(rc));
		dd->fatal = rc;
	}
	if (dd->fatal || dd->stop)
		event_base_loopbreak(dd->base);
}

static void on_store(evutil_socket_t fd, short what, void *arg)
{
	drain_store(arg);
}

static void heartbeat(struct drvdom *dd)
{
	int rc = bhctl_heartbeat(dd->cfg.hc);

	if (rc < 0)
		bh_warn(&dd->log, "heartbeat: %s", bh_strerror(rc));
	else
		dd->heartbeats++;
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	heartbeat(arg);
}

static void on_backend_fd(evutil_socket_t fd, short what, void *arg)
{
	struct drvdom_fd *f = arg;
	struct drvdom *dd = f->dd; /* the callback may delete f */

	f->fn(f->arg);
	drain_store(dd);
}

static int own_domid(struct drvdom *dd)
{
	struct bh_hc_start_info si;
	int fds[2] = { -1, -1 };
	size_t nfds = 0;
	int rc;

	if (dd->cfg.domid >= 0) {
		dd->domid = (unsigned)dd->cfg.domid;
		return 0;
	}
	if (bhxs_domain_id(dd->xs) >= 0) { /* bhxs_open_domain asked the core */
		dd->domid = (unsigned)bhxs_domain_id(dd->xs);
		return 0;
	}
	if (!dd->cfg.hc)
		return -EINVAL;
	if ((rc = bhctl_start_info(dd->cfg.hc, &si, fds, &nfds)) < 0)
		return rc;
	bh_close_fds(fds, nfds); /* the store page is bhxs_open_domain's business */
	dd->domid = si.domid;
	return 0;
}

/* The core asks a domain to stop with SIGTERM (and kills it 10 s later):
 * leave the loop so that every device is disconnected cleanly. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct drvdom *dd = arg;

	bh_info(&dd->log, "signal %d: stopping", (int)sig);
	drvdom_stop(dd);
}

static int setup_signals(struct drvdom *dd)
{
	static const int sigs[2] = { SIGTERM, SIGINT };

	for (size_t i = 0; i < 2; i++) {
		dd->sig_ev[i] = evsignal_new(dd->base, sigs[i], on_signal, dd);
		if (!dd->sig_ev[i] || event_add(dd->sig_ev[i], NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int setup_loop(struct drvdom *dd)
{
	struct timeval tv;
	unsigned ms = dd->cfg.heartbeat_ms ? dd->cfg.heartbeat_ms : 1000;

	if (!(dd->base = event_base_new()))
		return -ENOMEM;
	dd->xs_ev = event_new(dd->base, bhxs_fd(dd->xs), EV_READ | EV_PERSIST, on_store, dd);
	if (!dd->xs_ev || event_add(dd->xs_ev, NULL) < 0)
		return -ENOMEM;
	if (dd->cfg.stop_on_signals && setup_signals(dd) < 0)
		return -ENOMEM;
	if (!dd->cfg.hc)
		return 0;
	dd->hb_ev = event_new(dd->base, -1, EV_PERSIST, on_heartbeat, dd);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (!dd->hb_ev || event_add(dd->hb_ev, &tv) < 0)
		return -ENOMEM;
	return 0;
}

int drvdom_create(const struct drvdom_config *cfg, struct drvdom **out)
{
	struct drvdom *dd = calloc(1, sizeof(*dd));
	int rc;

	*out = NULL;
	if (!dd) {
		if (cfg->xs)
			bhxs_close(cfg->xs);
		return -ENOMEM;
	}
	dd->cfg = *cfg;
	bh_log_init(&dd->log, cfg->name ? cfg->name : "driverdom");
	dd->xs = cfg->xs;
	if (!dd->xs && (rc = bhxs_open_domain(&dd->xs)) < 0) {
		bh_err(&dd->log, "connecting to the store: %s", bh_strerror(rc));
		goto fail;
	}
	if ((rc = own_domid(dd)) < 0) {
		bh_err(&dd->log, "finding our domid: %s", bh_strerror(rc));
		goto fail;
	}
	snprintf(dd->be_root, sizeof(dd->be_root), "/local/domain/%u/backend", dd->domid);
	bh_log_set_prefix(&dd->log, "%s/dom%u", cfg->name ? cfg->name : "driverdom", dd->domid);
	if ((rc = setup_loop(dd)) < 0)
		goto fail;
	*out = dd;
	return 0;
fail:
	drvdom_destroy(dd);
	return rc;
}

void drvdom_destroy(struct drvdom *dd)
{
	if (!dd)
		return;
	while (dd->devs)
		dd_dev_free(dd->devs);
	if (dd->xs_ev)
		event_free(dd->xs_ev);
	if (dd->hb_ev)
		event_free(dd->hb_ev);
	if (dd->tail_ev)
		event_free(dd->tail_ev);
	for (size_t i = 0; i < 2; i++)
		if (dd->sig_ev[i])
			event_free(dd->sig_ev[i]);
	if (dd->base)
		event_base_free(dd->base);
	if (dd->xs)
		bhxs_close(dd->xs);
	free(dd);
}

static int write_ready(struct drvdom *dd)
{
	char p[96];

	snprintf(p, sizeof(p), "/local/domain/%u/data/backend-ready", dd->domid);
	return bhxs_write_str(dd->xs, 0, p, "1");
}

/* The start's tail, from the loop START_TAIL_MS after the first connects
 * (drvdom_start): the first heartbeat, the inject watch, backend-ready. In
 * the start itself they were three round trips (one to the core, two to
 * the store; ~0.3 ms after a restart, with everything else restarting
 * too) between the Connected of a restart's devices and the loop's first
 * serving of them, so the guests' first packets, the ones they wait for,
 * waited behind them. The heartbeat's timeout is seconds; `bh up` waits
 * for backend-ready at boot, where 5 ms are nothing. */
#define START_TAIL_MS 5

static void on_start_tail(evutil_socket_t fd, short what, void *arg)
{
	struct drvdom *dd = arg;
	int rc;

	(void)fd;
	(void)what;
	if (dd->cfg.hc)
		heartbeat(dd);
	/* dom0's fault orders (bh inject); a runtime without them still serves. */
	if ((rc = dd_inject_start(dd)) < 0)
		bh_warn(&dd->log, "watching control/inject: %s: bh inject cannot reach us",
		        bh_strerror(rc));
	if ((rc = write_ready(dd)) < 0) {
		bh_err(&dd->log, "writing backend-ready: %s", bh_strerror(rc));
		dd->fatal = rc;
	} else {
		bh_info(&dd->log, "serving %zu backend type(s) under %s", dd->cfg.n_backends,
		        dd->be_root);
	}
	drain_store(dd);
}

int drvdom_start(struct drvdom *dd)
{
	struct timeval tv = { 0, START_TAIL_MS * 1000 };
	int rc;

	/* The tree may not exist yet when the toolstack has not made it. The
	 * watch goes in the scan's first round trip, ahead of its listings. */
	dd->tree_initial = true; /* the scan covers the watch's first event */
	if ((rc = dd_scan_watching(dd, DD_TOKEN_TREE)) < 0)
		return rc;
	/* Every device found is connected (its frontend had published: a
	 * restart's) or at InitWait. The frontends that answered meanwhile
	 * are connected before the rest: their guests wait for it. */
	drain_store(dd);
	if (dd->fatal)
		return dd->fatal;
	/* The rest after the guests' first packets (on_start_tail). */
	if (!(dd->tail_ev = evtimer_new(dd->base, on_start_tail, dd)) ||
	    evtimer_add(dd->tail_ev, &tv) < 0)
		return -ENOMEM;
	return 0;
}

int drvdom_run(struct drvdom *dd)
{
	while (!dd->stop && !dd->fatal) {
		if (event_base_dispatch(dd->base) < 0)
			return -EIO;
		drain_store(dd);
	}
	return dd->fatal;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
}

int drvdom_run_once(struct drvdom *dd, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	struct event *t = evtimer_new(dd->base, on_timeout, NULL);

	if (!t)
		return -ENOMEM;
	drain_store(dd);
	evtimer_add(t, &tv);
	event_base_loop(dd->base, EVLOOP_ONCE);
	event_free(t);
	drain_store(dd);
	return dd->fatal;
}

void drvdom_stop(struct drvdom *dd)
{
	dd->stop = true;
	event_base_loopbreak(dd->base);
}

unsigned drvdom_domid(const struct drvdom *dd)
{
	return dd->domid;
}

struct bhxs *drvdom_store(struct drvdom *dd)
{
	return dd->xs;
}

const struct bh_log *drvdom_log(const struct drvdom *dd)
{
	return &dd->log;
}

uint64_t drvdom_heartbeats(const struct drvdom *dd)
{
	return dd->heartbeats;
}

int drvdom_add_fd(struct drvdom *dd, int fd, void (*fn)(void *arg), void *arg,
                  struct drvdom_fd **out)
{
	struct drvdom_fd *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (!f)
		return -ENOMEM;
	f->dd = dd;
	f->fn = fn;
	f->arg = arg;
	f->ev = event_new(dd->base, fd, EV_READ | EV_PERSIST, on_backend_fd, f);
	if (!f->ev || event_add(f->ev, NULL) < 0) {
		drvdom_del_fd(f);
		return -ENOMEM;
	}
	*out = f;
	return 0;
}

void drvdom_del_fd(struct drvdom_fd *f)
{
	if (!f)
		return;
	if (f->ev)
		event_free(f->ev);
	free(f);
}
