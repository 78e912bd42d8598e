/* The daemon's ring back-end inside the store domain: grant ref 1 of each
 * introduced domain mapped through /dev/xen/gntdev, its store port bound on
 * /dev/xen/evtchn, and VIRQ_DOM_EXC to learn when domains die. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <event2/event.h>

#include "bulkhead/hypercall.h"
#include "common/util.h"
#include "ioctl/bhctl.h"
#include "ioctl/xendev.h"
#include "xenstored/daemon.h"
#include "xenstored/ring.h"

struct mapping {
	void *page;
	uint64_t index;
};

/* A released ring's grant unmap or port unbind, done after the replies of
 * the batch that released it (see x_unmap). */
struct undo {
	bool unbind;
	uint64_t what; /* the port, or the mapping's index */
};

struct xsd_rings_xen {
	struct xsd_daemon *d;
	struct xsd_rings *rs;
	int evfd, gntfd;
	unsigned virq_port;
	struct event *ev, *later;
	struct mapping *maps;
	size_t nmaps, capmaps;
	struct undo *undo;
	size_t nundo, capundo;
};

static struct xsd_rings_xen *X(struct xsd_daemon *d)
{
	return d->rings;
}

static int x_map(void *arg, unsigned domid, long long gfn, void **page_out)
{
	struct xsd_rings_xen *x = arg;
	struct {
		struct ioctl_gntdev_map_grant_ref m;
	} req = { 0 };
	void *page;

	req.m.count = 1;
	req.m.refs[0].domid = domid;
	req.m.refs[0].ref = BH_GNTTAB_STORE_REF; /* Xen's alternative to the gfn */
	if (xen_ioctl(x->gntfd, IOCTL_GNTDEV_MAP_GRANT_REF, &req.m) < 0)
		return -errno;
	page = xen_mmap(NULL, BH_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, x->gntfd,
	                (off_t)req.m.index);
	if (page == MAP_FAILED) {
		int rc = -errno;
		struct ioctl_gntdev_unmap_grant_ref u = { .index = req.m.index, .count = 1 };

		xen_ioctl(x->gntfd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
		return rc;
	}
	if (x->nmaps == x->capmaps) {
		x->capmaps = x->capmaps ? x->capmaps * 2 : 8;
		x->maps = reallocarray(x->maps, x->capmaps, sizeof(*x->maps));
		if (!x->maps)
			abort();
	}
	x->maps[x->nmaps++] = (struct mapping){ page, req.m.index };
	*page_out = page;
	return 0;
}

static void undo_now(struct xsd_rings_xen *x, const struct undo *u)
{
	if (u->unbind) {
		struct ioctl_evtchn_unbind ub = { .port = (unsigned)u->what };
		xen_ioctl(x->evfd, IOCTL_EVTCHN_UNBIND, &ub);
	} else {
		struct ioctl_gntdev_unmap_grant_ref um = { .index = u->what, .count = 1 };
		xen_ioctl(x->gntfd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &um);
	}
}

static void undo_flush(struct xsd_rings_xen *x)
{
	for (size_t i = 0; i < x->nundo; i++)
		undo_now(x, &x->undo[i]);
	x->nundo = 0;
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	undo_flush(arg);
}

/* Each unmap and unbind is a call to the core. A domain's release comes
 * in the batch of requests that starts dom0's restart transaction: the
 * two calls, each waiting behind whatever the core serves during a
 * restart (~0.1-0.2 ms), held that batch's replies, and with them the new
 * generation's introduction. They are done once the loop comes back from
 * the batch instead. Meanwhile the dead ring's page is no longer mapped
 * here (munmap is ours alone) and its port stays bound, so no other ring
 * is given its number; an event on it finds no ring and is ignored. */
static void undo_later(struct xsd_rings_xen *x, bool unbind, uint64_t what)
{
	struct undo u = { unbind, what };

	if (!x->later) {
		undo_now(x, &u);
		return;
	}
	if (x->nundo == x->capundo) {
		x->capundo = x->capundo ? x->capundo * 2 : 8;
		x->undo = reallocarray(x->undo, x->capundo, sizeof(*x->undo));
		if (!x->undo)
			abort();
	}
	x->undo[x->nundo++] = u;
	event_active(x->later, EV_TIMEOUT, 0);
}

static void x_unmap(void *arg, void *page)
{
	struct xsd_rings_xen *x = arg;

	for (size_t i = 0; i < x->nmaps; i++) {
		if (x->maps[i].page != page)
			continue;
		xen_munmap(page, BH_PAGE_SIZE);
		undo_later(x, false, x->maps[i].index);
		x->maps[i] = x->maps[--x->nmaps];
		return;
	}
}

static int x_bind(void *arg, unsigned domid, unsigned port, unsigned *local_out)
{
	struct xsd_rings_xen *x = arg;
	struct ioctl_evtchn_bind_interdomain b = { .remote_domain = domid, .remote_port = port };
	int r = xen_ioctl(x->evfd, IOCTL_EVTCHN_BIND_INTERDOMAIN, &b);

	if (r < 0)
		return -errno;
	*local_out = (unsigned)r;
	return 0;
}

static void x_unbind(void *arg, unsigned local_port)
{
	undo_later(arg, true, local_port);
}

static void x_notify(void *arg, unsigned local_port)
{
	struct xsd_rings_xen *x = arg;
	struct ioctl_evtchn_notify n = { .port = local_port };

	xen_ioctl(x->evfd, IOCTL_EVTCHN_NOTIFY, &n);
}

/* VIRQ_DOM_EXC: some domain died or shut down. Each introduced domain the
 * core reports gone (ESRCH) or shut down is released; one we may not ask
 * about (a policy without domain.getinfo) is kept, never guessed dead.
 *
 * One list of states answers for every domain at once (no usage figures:
 * those are cgroup files the core reads). One getinfo each was a round
 * trip to the core per introduced domain, on a restart's path: dom0's
 * store transaction waited behind them. A domain missing from the list
 * (reaped, or one we may not see) is asked about alone. */
static int state_of(const struct bh_dominfo *v, size_t n, unsigned id, struct bh_dominfo *out)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].domid == id) {
			*out = v[i];
			return 0;
		}
	return bhctl_domain_getinfo(xen_hcall(), (uint16_t)id, out);
}

static void check_domains(struct xsd_rings_xen *x)
{
	struct bh_dominfo *v = NULL;
	size_t nids = 0, nv = 0;
	unsigned *ids = NULL;

	xsd_domains(x->d->s, &ids, &nids);
	if (nids && bhctl_domain_list_flags(xen_hcall(), BH_LIST_NO_USAGE, &v, &nv) < 0)
		nv = 0; /* each asked about alone, below */
	for (size_t i = 0; i < nids; i++) {
		struct bh_dominfo info;
		int rc = state_of(v, nv, ids[i], &info);

		if (rc == -ESRCH || (rc == 0 && info.state == BH_DOMSTATE_SHUTDOWN)) {
			bh_info(&x->d->log, "domain %u is gone: releasing it", ids[i]);
			xsd_domain_released(x->d->s, ids[i]);
		} else if (rc < 0) {
			bh_warn(&x->d->log, "domain %u: %s", ids[i], bh_strerror(rc));
		}
	}
	free(v);
	free(ids);
}

static void on_evtchn(evutil_socket_t fd, short what, void *arg)
{
	struct xsd_rings_xen *x = arg;
	uint32_t ports[64];
	ssize_t r;

	while ((r = xen_read(x->evfd, ports, sizeof(ports))) > 0) {
		size_t n = (size_t)r / sizeof(ports[0]);

		for (size_t i = 0; i < n; i++) {
			if (ports[i] == x->virq_port)
				check_domains(x);
			else
				xsd_rings_port_fired(x->rs, ports[i]);
		}
		xen_write(x->evfd, ports, n * sizeof(ports[0])); /* unmask */
	}
}

void xsd_rings_host_ops(struct xsd_daemon *d, struct xsd_host_ops *host)
{
	struct xsd_rings_xen *x = calloc(1, sizeof(*x));

	if (!x)
		abort();
	x->d = d;
	x->evfd = x->gntfd = -1;
	struct xsd_ring_ops ops = { x_map, x_unmap, x_bind, x_unbind, x_notify, x };
	x->rs = xsd_rings_new(&ops);
	if (!x->rs)
		abort();
	xsd_rings_fill_host(x->rs, host);
	d->rings = x;
}

int xsd_rings_start(struct xsd_daemon *d)
{
	struct xsd_rings_xen *x = X(d);
	struct ioctl_evtchn_bind_virq v = { .virq = BH_VIRQ_DOM_EXC };
	int r;

	xsd_rings_set_store(x->rs, d->s);
	if ((x->evfd = xen_open("/dev/xen/evtchn", O_NONBLOCK)) < 0)
		return -errno;
	if ((x->gntfd = xen_open("/dev/xen/gntdev", 0)) < 0)
		return -errno;
	/* Without VIRQ_DOM_EXC (a policy that does not grant it to the store)
	 * domains are still released by dom0's XS_RELEASE, as libxl does. */
	x->virq_port = ~0u;
	if ((r = xen_ioctl(x->evfd, IOCTL_EVTCHN_BIND_VIRQ, &v)) < 0)
		bh_warn(&d->log, "VIRQ_DOM_EXC: %s; domains are released only by XS_RELEASE",
		        strerror(errno));
	else
		x->virq_port = (unsigned)r;
	x->ev = event_new(d->base, x->evfd, EV_READ | EV_PERSIST, on_evtchn, x);
	x->later = event_new(d->base, -1, 0, on_later, x);
	if (!x->ev || !x->later)
		return -ENOMEM;
	event_add(x->ev, NULL);
	return 0;
}

void xsd_rings_stop(struct xsd_daemon *d)
{
	struct xsd_rings_xen *x = X(d);

	if (!x)
		return;
	if (x->ev)
		event_free(x->ev);
	if (x->later)
		event_free(x->later);
	x->later = NULL; /* the rings' last unmaps and unbinds: at once */
	xsd_rings_free(x->rs);
	undo_flush(x);
	if (x->evfd >= 0)
		xen_close(x->evfd);
	if (x->gntfd >= 0)
		xen_close(x->gntfd);
	free(x->maps);
	free(x->undo);
	free(x);
	d->rings = NULL;
}
