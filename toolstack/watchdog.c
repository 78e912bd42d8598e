/* The driver-domain watchdog, restart policy and fault injection (see
 * watchdog.h). */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "ioctl/bhctl.h"
#include "toolstack/toolstack.h"
#include "toolstack/watchdog.h"
#include "xenstored/bhxs.h"

struct bhwd {
	struct event_base *base;
	struct event *tick;
};

/* One timer's argument: which domain, and which life of it, to restart. */
struct pending {
	struct bhtool *t;
	uint16_t domid;
};

/* ---- the policy (pure) ---- */

uint64_t bhwd_backoff_ns(unsigned streak)
{
	uint64_t d;

	if (streak == 0)
		return 0;
	if (streak > 16)
		return BHWD_BACKOFF_MAX_NS;
	d = BHWD_BACKOFF_FIRST_NS << (streak - 1);
	return d > BHWD_BACKOFF_MAX_NS ? BHWD_BACKOFF_MAX_NS : d;
}

enum bhwd_verdict bhwd_policy(struct bhwd_dom *w, uint64_t now_ns, unsigned limit,
                              unsigned window_s, uint64_t *delay_ns)
{
	uint64_t window = (uint64_t)(window_s ? window_s : BHWD_DEFAULT_WINDOW_S) * 1000000000ull;
	unsigned n = 0, kept = w->nrestart < BHWD_HISTORY ? w->nrestart : BHWD_HISTORY;

	if (!limit)
		limit = BHWD_DEFAULT_LIMIT;
	if (limit >= BHWD_HISTORY)
		limit = BHWD_HISTORY - 1; /* the ring remembers no more */
	*delay_ns = 0;
	for (unsigned i = 0; i < kept; i++)
		if (now_ns - w->restart_ns[i] < window)
			n++;
	if (n >= limit) {
		w->failed = true;
		return BHWD_FAIL;
	}
	/* A quiet window since the last restart starts the backoff afresh. */
	if (w->nrestart == 0 || now_ns - w->restart_ns[(w->nrestart - 1) % BHWD_HISTORY] >= window)
		w->streak = 0;
	*delay_ns = bhwd_backoff_ns(w->streak);
	w->streak++;
	w->restart_ns[w->nrestart % BHWD_HISTORY] = now_ns;
	w->nrestart++;
	return BHWD_RESTART;
}

void bhwd_dom_fini(struct bhwd_dom *w)
{
	if (w->timer) {
		struct pending *p = event_get_callback_arg(w->timer);
		event_free(w->timer);
		free(p);
		w->timer = NULL;
	}
	w->restart_pending = false;
}

/* ---- dependents ---- */

unsigned bhwd_dependents(struct bhtool *t, uint16_t domid, char *buf, size_t cap)
{
	size_t len = 0;
	unsigned n = 0;

	if (cap)
		buf[0] = 0;
	for (struct bhtool_dom *g = t->doms; g; g = g->next) {
		bool counted = false;
		for (struct bhtool_dev *dev = g->devs; dev; dev = dev->next) {
			char one[128];
			if (dev->backend_domid != domid || g->domid == domid)
				continue;
			if (dev->kind == BHTOOL_VBD)
				snprintf(one, sizeof(one), "%s%s(%u) vbd %s", len ? ", " : "",
				         g->cfg->name, g->domid, dev->disk.vdev);
			else
				snprintf(one, sizeof(one), "%s%s(%u) vif %d", len ? ", " : "",
				         g->cfg->name, g->domid, dev->devid);
			if (len + strlen(one) < cap) {
				memcpy(buf + len, one, strlen(one) + 1);
				len += strlen(one);
			}
			if (!counted)
				n++;
			counted = true;
		}
	}
	return n;
}

/* ---- restarts ---- */

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	struct bhtool *t = p->t;
	struct bhtool_dom *d = bhtool_find_dom(t, p->domid);

	(void)fd;
	(void)what;
	if (!d)
		return;        /* destroyed meanwhile: dom_free freed the timer and P */
	bhwd_dom_fini(&d->wd); /* frees P */
	bh_info(&t->log, "domain %u (%s): backoff over, restarting", d->domid, d->cfg->name);
	bhtool_restart(t, d);
}

static int before_restart(struct bhtool *t, struct bhtool_dom *d)
{
	struct bhwd *wd = t->wd;
	uint64_t delay;
	char deps[512];

	if (bhwd_policy(&d->wd, bh_now_ns(), d->cfg->restart_limit, d->cfg->restart_window_s,
	                &delay) == BHWD_FAIL) {
		unsigned n = bhwd_dependents(t, d->domid, deps, sizeof(deps));
		bh_warn(&t->log,
		        "domain %u (%s) FAILED: %u restarts within %u s (restart_limit); not "
		        "restarting it; %u dependent guest(s)%s%s",
		        d->domid, d->cfg->name,
		        d->cfg->restart_limit ? d->cfg->restart_limit : BHWD_DEFAULT_LIMIT,
		        d->cfg->restart_window_s ? d->cfg->restart_window_s : BHWD_DEFAULT_WINDOW_S,
		        n, n ? ": " : "", deps);
		return -1;
	}
	if (delay == 0 || !wd)
		return 0;
	struct pending *p = malloc(sizeof(*p));
	struct timeval tv = { .tv_sec = (time_t)(delay / 1000000000ull),
		              .tv_usec = (suseconds_t)(delay % 1000000000ull / 1000) };
	if (!p)
		return 0;
	*p = (struct pending){ .t = t, .domid = d->domid };
	if (!(d->wd.timer = evtimer_new(wd->base, restart_cb, p)) ||
	    evtimer_add(d->wd.timer, &tv) < 0) {
		if (d->wd.timer)
			event_free(d->wd.timer);
		d->wd.timer = NULL;
		free(p);
		return 0;
	}
	d->wd.restart_pending = true;
	bh_info(&t->log, "domain %u (%s): restart %u in a row, waiting %llu ms first", d->domid,
	        d->cfg->name, d->wd.streak, (unsigned long long)(delay / 1000000));
	return 1;
}

/* ---- hang detection ---- */

int bhwd_check(struct bhtool *t)
{
	uint64_t now = bh_now_ns();
	int ended = 0;

	for (struct bhtool_dom *d = t->doms; d; d = d->next) {
		struct bh_dominfo info;
		uint64_t age, limit;
		unsigned period, timeout;

		if (!d->cfg->driver_domain || d->dying || d->preserved || d->wd.failed ||
		    d->wd.restart_pending)
			continue;
		if (bhctl_domain_getinfo(t->hc, d->domid, &info) < 0)
			continue;
		if (!d->wd.seen_since_ns || info.generation != d->wd.seen_generation) {
			d->wd.seen_generation = info.generation;
			d->wd.seen_since_ns = now;
			d->wd.fired = false;
		}
		if (d->wd.fired || info.state == BH_DOMSTATE_SHUTDOWN ||
		    info.state == BH_DOMSTATE_BUILDING ||
		    (info.state == BH_DOMSTATE_PAUSED && d->wd.admin_paused))
			continue;
		period = d->cfg->heartbeat_period_ms ? d->cfg->heartbeat_period_ms
		                                     : BHWD_DEFAULT_PERIOD_MS;
		timeout = d->cfg->heartbeat_timeout_ms ? d->cfg->heartbeat_timeout_ms
		                                       : BHWD_DEFAULT_TIMEOUT_MS;
		if (info.heartbeat_age_ms != UINT64_MAX) {
			age = info.heartbeat_age_ms;
			limit = timeout;
		} else { /* no heartbeat yet in this life: the first comes a period in */
			age = (now - d->wd.seen_since_ns) / 1000000;
			limit = (uint64_t)timeout + period + BHWD_FIRST_BEAT_GRACE_MS;
		}
		if (age <= limit)
			continue;
		d->wd.fired = true;
		bh_warn(
		    &t->log,
		    "watchdog: domain %u (%s) generation %u silent for %llu ms (timeout %u ms): "
		    "ending it",
		    d->domid, d->cfg->name, info.generation, (unsigned long long)age, timeout);
		int rc = bhctl_domain_shutdown(t->hc, d->domid, BH_SHUTDOWN_WATCHDOG);
		if (rc < 0)
			bh_warn(&t->log, "watchdog: domain %u: shutdown: %s", d->domid,
			        bh_strerror(rc));
		else
			ended++;
	}
	return ended;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	bhwd_check(arg);
}

int bhwd_start(struct bhtool *t, struct event_base *base, unsigned interval_ms)
{
	struct bhwd *wd = calloc(1, sizeof(*wd));
	struct timeval tv = { .tv_sec = interval_ms / 1000,
		              .tv_usec = (suseconds_t)(interval_ms % 1000) * 1000 };

	if (!wd)
		return -ENOMEM;
	wd->base = base;
	if (!(wd->tick = event_new(base, -1, EV_PERSIST, tick_cb, t)) ||
	    event_add(wd->tick, &tv) < 0) {
		if (wd->tick)
			event_free(wd->tick);
		free(wd);
		return -ENOMEM;
	}
	t->wd = wd;
	t->before_restart = before_restart;
	return 0;
}

void bhwd_stop(struct bhtool *t)
{
	struct bhwd *wd = t->wd;

	if (!wd)
		return;
	for (struct bhtool_dom *d = t->doms; d; d = d->next)
		bhwd_dom_fini(&d->wd);
	event_free(wd->tick);
	free(wd);
	t->wd = NULL;
	t->before_restart = NULL;
}

/* ---- fault injection ---- */

static const char *const fault_names[] = {
	[BHWD_FAULT_CRASH] = "crash",
	[BHWD_FAULT_HANG] = "hang",
	[BHWD_FAULT_CORRUPT] = "corrupt",
	[BHWD_FAULT_DROP_NOTIFY] = "drop-notify",
	[BHWD_FAULT_CLOSE_CHANNEL] = "close-channel",
};

int bhwd_fault_parse(const char *s, enum bhwd_fault *out)
{
	for (size_t i = 0; i < BH_ARRAY_SIZE(fault_names); i++)
		if (s && strcmp(s, fault_names[i]) == 0) {
			*out = (enum bhwd_fault)i;
			return 0;
		}
	return -EINVAL;
}

const char *bhwd_fault_name(enum bhwd_fault f)
{
	return (size_t)f < BH_ARRAY_SIZE(fault_names) ? fault_names[f] : "?";
}

void bhwd_order_format(char *buf, size_t cap, unsigned long long seq, enum bhwd_fault f, bool vbd,
                       unsigned fe, int devid, unsigned ms)
{
	snprintf(buf, cap, "%llu %s %s/%u/%d %u", seq, bhwd_fault_name(f), vbd ? "vbd" : "vif", fe,
	         devid, ms);
}

/* The device a device fault hits: DEVICE (a vdev or a vif devid), or the
 * first one served by DOMID whose backend is connected. */
static struct bhtool_dev *target(struct bhtool *t, uint16_t domid, const char *device,
                                 struct bhtool_dom **guest)
{
	struct bhtool_dev *first = NULL;

	for (struct bhtool_dom *g = t->doms; g; g = g->next) {
		if (g->domid == domid)
			continue;
		for (struct bhtool_dev *dev = g->devs; dev; dev = dev->next) {
			char id[16];
			if (dev->backend_domid != domid)
				continue;
			snprintf(id, sizeof(id), "%d", dev->devid);
			if (device && strcmp(device, dev->kind == BHTOOL_VBD ? dev->disk.vdev : id))
				continue;
			if (device || bhtool_dev_state(t, g->domid, dev, true) == 4) {
				*guest = g;
				return dev;
			}
			if (!first) {
				first = dev;
				*guest = g;
			}
		}
	}
	return first;
}

struct order_tx {
	uint16_t domid;
	enum bhwd_fault f;
	bool vbd;
	unsigned fe, ms;
	int devid;
	char line[160];
};

/* Writes the order with the next sequence number; the node is dom0's, and
 * only the driver domain may read it. */
static int write_order(struct bhxs *xs, bhxs_tx_t tx, void *arg)
{
	struct order_tx *o = arg;
	char p[96], p0[16], p1[16], *old = NULL;
	const char *perms[2] = { p0, p1 };
	unsigned long long seq = 0;
	size_t len;
	int rc;

	snprintf(p, sizeof(p), BHWD_INJECT_NODE, o->domid);
	if (bhxs_read(xs, tx, p, &old, &len) == 0 && sscanf(old, "%llu", &seq) != 1)
		seq = 0;
	free(old);
	bhwd_order_format(o->line, sizeof(o->line), seq + 1, o->f, o->vbd, o->fe, o->devid, o->ms);
	if ((rc = bhxs_write_str(xs, tx, p, o->line)) < 0)
		return rc;
	snprintf(p0, sizeof(p0), "n0");
	snprintf(p1, sizeof(p1), "r%u", o->domid);
	return bhxs_set_perms(xs, tx, p, perms, 2);
}

static int inject_device(struct bhtool *t, struct bhtool_dom *d, enum bhwd_fault fault,
                         const char *device, unsigned ms, char *hit, size_t hit_cap)
{
	struct bhtool_dom *g = NULL;
	struct bhtool_dev *dev = target(t, d->domid, device, &g);
	struct order_tx o = { .domid = d->domid, .f = fault };
	int rc;

	if (!t->xs) {
		snprintf(t->err, sizeof(t->err), "no store: device faults cannot be ordered");
		return -EOPNOTSUPP;
	}
	if (!dev) {
		snprintf(t->err, sizeof(t->err), "domain %u (%s) serves no device%s%s", d->domid,
		         d->cfg->name, device ? " " : "", device ? device : "");
		return -ENODEV;
	}
	o.vbd = dev->kind == BHTOOL_VBD;
	o.fe = g->domid;
	o.devid = dev->devid;
	o.ms = fault == BHWD_FAULT_DROP_NOTIFY ? ms : 0;
	if (o.vbd)
		snprintf(hit, hit_cap, "vbd/%u/%d (%s(%u) vbd %s)", o.fe, o.devid, g->cfg->name,
		         g->domid, dev->disk.vdev);
	else
		snprintf(hit, hit_cap, "vif/%u/%d (%s(%u) vif %d)", o.fe, o.devid, g->cfg->name,
		         g->domid, dev->devid);
	if ((rc = bhxs_transaction_run(t->xs, write_order, &o)) < 0) {
		snprintf(t->err, sizeof(t->err), "writing the order to %u: %s", d->domid,
		         bh_strerror(rc));
		return rc;
	}
	return 0;
}

int bhwd_inject(struct bhtool *t, uint16_t domid, enum bhwd_fault fault, const char *device,
                unsigned ms, char *hit_out, size_t hit_cap)
{
	struct bhtool_dom *d = bhtool_find_dom(t, domid);
	struct bh_dominfo info;
	char deps[512], hit[160] = "", what[200] = "";
	unsigned n;
	int rc;

	if (!d || !d->cfg->driver_domain) {
		snprintf(t->err, sizeof(t->err),
		         "domain %u is not a driver domain built by this toolstack", domid);
		return -EINVAL;
	}
	if ((size_t)fault >= BHWD_NFAULTS) {
		snprintf(t->err, sizeof(t->err), "unknown fault");
		return -EINVAL;
	}
	if ((rc = bhctl_domain_getinfo(t->hc, domid, &info)) < 0)
		return rc;
	if (info.state == BH_DOMSTATE_SHUTDOWN) {
		snprintf(t->err, sizeof(t->err), "domain %u (%s) is not running", domid,
		         d->cfg->name);
		return -ESRCH;
	}
	switch (fault) {
	case BHWD_FAULT_CRASH:
		/* An ending the domain did not ask for, as a fatal fault would
		 * be; destroy would reap it and skip on_crash. */
		rc = bhctl_domain_shutdown(t->hc, domid, BH_SHUTDOWN_CRASH);
		break;
	case BHWD_FAULT_HANG:
		/* Alive but silent: frozen, so its heartbeats stop. */
		d->wd.admin_paused = false;
		rc = bhctl_domain_pause(t->hc, domid);
		break;
	default:
		/* The driver domain misbehaves on one device: its runtime
		 * carries the order out (driverdom/inject.c). */
		rc = inject_device(t, d, fault, device, ms, hit, sizeof(hit));
		if (rc == 0)
			snprintf(what, sizeof(what), " on %s", hit);
		if (rc == 0 && fault == BHWD_FAULT_DROP_NOTIFY && ms)
			snprintf(what + strlen(what), sizeof(what) - strlen(what), " for %u ms",
			         ms);
		else if (rc == 0 && fault == BHWD_FAULT_DROP_NOTIFY)
			snprintf(what + strlen(what), sizeof(what) - strlen(what),
			         " until it reconnects");
	}
	if (rc < 0) {
		if (!t->err[0])
			snprintf(t->err, sizeof(t->err), "inject %s into %u: %s",
			         bhwd_fault_name(fault), domid, bh_strerror(rc));
		return rc;
	}
	n = bhwd_dependents(t, domid, deps, sizeof(deps));
	bh_warn(&t->log,
	        "inject: %s into domain %u (%s) generation %u%s; %u dependent guest(s)%s%s",
	        bhwd_fault_name(fault), domid, d->cfg->name, info.generation, what, n,
	        n ? ": " : "", deps);
	if (hit_out && hit_cap)
		snprintf(hit_out, hit_cap, "%s", hit);
	return rc;
}
