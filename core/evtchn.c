/* Event channels with Xen's semantics.
 *
 * An interdomain channel is a pair of eventfds made when the first port is
 * allocated unbound for a named remote domain. Each side receives on one and
 * sends on the other, so a notification is a write(2) by one domain that
 * wakes the other: it never passes through the core. The core is involved
 * only when ports are allocated, bound, closed or queried.
 *
 * Closing a port (or the death of its domain) turns the peer's port back
 * into an unbound port waiting for the same remote domain, as Xen does; the
 * peer keeps its descriptors and a later bind from that domain (a restarted
 * driver domain) reuses the same channel.
 *
 * VIRQ ports are eventfds the core writes itself (VIRQ_DOM_EXC when any
 * domain dies). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/core.h"

void evtchn_table_init(struct evtchn_table *et, uint32_t max)
{
	memset(et, 0, sizeof(*et));
	et->max = max;
}

static struct evtchn_port *et_port(struct evtchn_table *et, uint32_t port)
{
	if (port == 0 || port >= et->nr || et->p[port].state == EVTCHN_FREE)
		return NULL;
	return &et->p[port];
}

static int et_take_port(struct evtchn_table *et, uint32_t *port_out)
{
	uint32_t port;

	for (port = 1; port < et->nr; port++)
		if (et->p[port].state == EVTCHN_FREE)
			goto found;
	if (et->nr > et->max)
		return -ENOSPC;
	uint32_t nr = et->nr ? et->nr * 2 : 32;
	if (nr > et->max + 1)
		nr = et->max + 1;
	if (nr <= et->nr)
		return -ENOSPC;
	struct evtchn_port *p = realloc(et->p, nr * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + et->nr, 0, (nr - et->nr) * sizeof(*p));
	for (uint32_t i = et->nr; i < nr; i++)
		p[i].virq_fd = -1;
	port = et->nr ? et->nr : 1;
	et->p = p;
	et->nr = nr;
found:
	*port_out = port;
	return 0;
}

static struct evtchn_chan *chan_new(void)
{
	struct evtchn_chan *ch = calloc(1, sizeof(*ch));

	if (!ch)
		return NULL;
	ch->fd[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ch->fd[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ch->fd[0] < 0 || ch->fd[1] < 0) {
		bh_close_fds(ch->fd, 2);
		free(ch);
		return NULL;
	}
	ch->refs = 1;
	return ch;
}

static void chan_put(struct evtchn_chan *ch)
{
	if (ch && --ch->refs == 0) {
		bh_close_fds(ch->fd, 2);
		free(ch);
	}
}

static void port_clear(struct evtchn_port *p)
{
	*p = (struct evtchn_port){ .virq_fd = -1 };
}

int evtchn_alloc_unbound(struct domain *d, uint16_t remote, uint32_t *port_out)
{
	struct evtchn_chan *ch;
	uint32_t port;
	int rc;

	if ((rc = et_take_port(&d->et, &port)) < 0)
		return rc;
	if (!(ch = chan_new()))
		return -ENOMEM;
	d->et.p[port] = (struct evtchn_port){
		.state = EVTCHN_UNBOUND, .side = 0, .remote_dom = remote, .virq_fd = -1, .chan = ch
	};
	*port_out = port;
	return 0;
}

/* Forget notifications left in our receive eventfd by an earlier peer. */
static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

int evtchn_bind_interdomain(struct domain *d, uint16_t remote_dom, uint32_t remote_port,
                            uint32_t *port_out)
{
	struct domain *r = domain_get(d->core, remote_dom);
	struct evtchn_port *rp, *lp;
	uint32_t port;
	int rc;

	if (!r || r->state == BH_DOMSTATE_SHUTDOWN)
		return -ESRCH;
	rp = et_port(&r->et, remote_port);
	if (!rp || rp->state != EVTCHN_UNBOUND)
		return -EINVAL;
	if (rp->remote_dom != d->domid && rp->remote_dom != BH_DOMID_ANY)
		return -EPERM;
	if ((rc = et_take_port(&d->et, &port)) < 0)
		return rc;
	rp = et_port(&r->et, remote_port); /* et_take_port may have moved it (d == r) */
	lp = &d->et.p[port];
	*lp = (struct evtchn_port){ .state = EVTCHN_INTERDOMAIN,
		                    .side = (uint8_t)(1 - rp->side),
		                    .remote_dom = remote_dom,
		                    .remote_port = remote_port,
		                    .virq_fd = -1,
		                    .chan = rp->chan };
	rp->chan->refs++;
	rp->state = EVTCHN_INTERDOMAIN;
	rp->remote_dom = d->domid;
	rp->remote_port = port;
	drain(lp->chan->fd[lp->side]);
	*port_out = port;
	return 0;
}

int evtchn_bind_virq(struct domain *d, uint32_t virq, uint32_t *port_out)
{
	uint32_t port;
	int fd, rc;

	if (virq != BH_VIRQ_DOM_EXC)
		return -EINVAL;
	for (uint32_t p = 1; p < d->et.nr; p++)
		if (d->et.p[p].state == EVTCHN_VIRQ && d->et.p[p].virq == virq)
			return -EEXIST;
	if ((rc = et_take_port(&d->et, &port)) < 0)
		return rc;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	d->et.p[port] = (struct evtchn_port){ .state = EVTCHN_VIRQ, .virq = virq, .virq_fd = fd };
	*port_out = port;
	return 0;
}

/* The peer of an interdomain port goes back to waiting for us. */
static void unbind_peer(struct domain *d, struct evtchn_port *p, uint32_t port)
{
	struct domain *r = domain_get(d->core, p->remote_dom);
	struct evtchn_port *rp = r ? et_port(&r->et, p->remote_port) : NULL;

	if (!rp || rp->state != EVTCHN_INTERDOMAIN || rp->remote_dom != d->domid ||
	    rp->remote_port != port || rp->chan != p->chan)
		return;
	rp->state = EVTCHN_UNBOUND;
	rp->remote_port = 0;
	/* Wake the survivor so it notices (Xen allows spurious events). */
	uint64_t one = 1;
	if (write(rp->chan->fd[rp->side], &one, sizeof(one)) < 0) {
		/* counter saturated: it is awake anyway */
	}
}

int evtchn_close(struct domain *d, uint32_t port)
{
	struct evtchn_port *p = et_port(&d->et, port);

	if (!p)
		return -EINVAL;
	if (p->state == EVTCHN_INTERDOMAIN)
		unbind_peer(d, p, port);
	if (p->state == EVTCHN_VIRQ)
		bh_closep(&p->virq_fd);
	chan_put(p->chan);
	port_clear(p);
	return 0;
}

int evtchn_status(struct domain *d, uint32_t port, struct bh_hc_evtchn_resp *out)
{
	struct evtchn_port *p = et_port(&d->et, port);

	memset(out, 0, sizeof(*out));
	out->port = port;
	if (!p) {
		if (port == 0 || port > d->et.max)
			return -EINVAL;
		out->status = BH_EVTCHNSTAT_CLOSED;
		return 0;
	}
	switch (p->state) {
	case EVTCHN_UNBOUND:
		out->status = BH_EVTCHNSTAT_UNBOUND;
		out->remote_dom = p->remote_dom;
		break;
	case EVTCHN_INTERDOMAIN:
		out->status = BH_EVTCHNSTAT_INTERDOMAIN;
		out->remote_dom = p->remote_dom;
		out->remote_port = p->remote_port;
		break;
	default:
		out->status = BH_EVTCHNSTAT_VIRQ;
		out->remote_port = p->virq;
		break;
	}
	return 0;
}

int evtchn_port_fds(struct domain *d, uint32_t port, int fds_out[2], size_t *nfds_out)
{
	struct evtchn_port *p = et_port(&d->et, port);

	*nfds_out = 0;
	if (!p)
		return -EINVAL;
	if (p->state == EVTCHN_VIRQ) {
		fds_out[0] = fcntl(p->virq_fd, F_DUPFD_CLOEXEC, 0);
		if (fds_out[0] < 0)
			return -errno;
		*nfds_out = 1;
		return 0;
	}
	fds_out[0] = fcntl(p->chan->fd[p->side], F_DUPFD_CLOEXEC, 0);
	fds_out[1] = fcntl(p->chan->fd[1 - p->side], F_DUPFD_CLOEXEC, 0);
	if (fds_out[0] < 0 || fds_out[1] < 0) {
		bh_close_fds(fds_out, 2);
		return -EMFILE;
	}
	*nfds_out = 2;
	return 0;
}

void evtchn_table_dispose(struct core *c, struct domain *d)
{
	(void)c;
	for (uint32_t port = 1; port < d->et.nr; port++)
		if (d->et.p[port].state != EVTCHN_FREE)
			evtchn_close(d, port);
	free(d->et.p);
	evtchn_table_init(&d->et, d->et.max);
}

void evtchn_raise_virq(struct core *c, uint32_t virq)
{
	static const uint64_t one = 1;

	for (uint32_t id = 0; id <= BH_DOMID_MAX; id++) {
		struct domain *d = c->doms[id];
		if (!d || d->state == BH_DOMSTATE_SHUTDOWN)
			continue;
		for (uint32_t p = 1; p < d->et.nr; p++) {
			struct evtchn_port *ep = &d->et.p[p];
			if (ep->state == EVTCHN_VIRQ && ep->virq == virq &&
			    write(ep->virq_fd, &one, sizeof(one)) < 0) {
				/* saturated counter: already pending */
			}
		}
	}
}
