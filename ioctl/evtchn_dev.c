/* /dev/xen/evtchn.
 *
 * The descriptor the caller holds is an epoll instance over the receive
 * eventfds of the ports bound through it, plus one internal eventfd that
 * wakes pollers when a port unmasked with an event pending is queued.
 * read() collects fired ports and masks them; write() unmasks. Notify
 * writes the peer's eventfd directly: the core is not on that path. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/util.h"
#include "ioctl/xendev_priv.h"

#define WAKE_TAG 0 /* port 0 is never a real port */

struct eport {
	bool bound;
	bool masked;  /* delivered, not yet written back */
	bool pending; /* fired while masked, or queued for read */
	bool queued;
	int rx, tx; /* receive eventfd, peer's eventfd (-1 for VIRQ) */
};

struct evtchn {
	pthread_mutex_t lock;
	int wake_fd;
	struct eport *ports; /* by port number */
	uint32_t nports;
	uint32_t *queue; /* ports to deliver on the next read */
	uint32_t qhead, qlen, qcap;
	bool restricted;
	uint16_t restrict_domid;
};

static int ev_open(struct xdev *x, int flags)
{
	struct evtchn *e = calloc(1, sizeof(*e));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = WAKE_TAG };

	(void)flags;
	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->lock, NULL);
	x->priv = e;
	x->fd = epoll_create1(EPOLL_CLOEXEC);
	e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->fd < 0 || e->wake_fd < 0 || epoll_ctl(x->fd, EPOLL_CTL_ADD, e->wake_fd, &ev) < 0)
		return -errno;
	return 0;
}

static struct eport *port_get(struct evtchn *e, uint32_t port)
{
	return port && port < e->nports && e->ports[port].bound ? &e->ports[port] : NULL;
}

static int port_slot(struct evtchn *e, uint32_t port)
{
	if (port >= e->nports) {
		uint32_t n = e->nports ? e->nports : 64;
		while (n <= port)
			n *= 2;
		struct eport *p = realloc(e->ports, n * sizeof(*p));
		uint32_t *q = realloc(e->queue, n * sizeof(*q));
		if (p)
			e->ports = p;
		if (q)
			e->queue = q;
		if (!p || !q)
			return -ENOMEM;
		/* The queue is a ring: unroll it before it grows. */
		if (e->qlen && e->qhead + e->qlen > e->qcap) {
			uint32_t tail = e->qhead + e->qlen - e->qcap;
			memcpy(e->queue + e->qcap, e->queue, tail * sizeof(*q));
		}
		memset(e->ports + e->nports, 0, (n - e->nports) * sizeof(*p));
		e->nports = n;
		e->qcap = n;
	}
	return 0;
}

/* Bind the port's descriptors (fds[0] receive, fds[1] send) to this fd.
 * Edge-triggered: every write(2) to an eventfd wakes its epoll waiters
 * again, so each notification is one epoll event and the counter never
 * has to be read back (a system call per event saved; the counter cannot
 * reach its 2^64 - 2 limit). A port that is already signalled when it is
 * added is reported once, as Xen reports a pending port. */
static int port_attach(struct xdev *x, uint32_t port, const int *fds, size_t nfds)
{
	struct evtchn *e = x->priv;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = port };
	int rc;

	if (nfds < 1 || (rc = port_slot(e, port)) < 0)
		return nfds < 1 ? -EPROTO : rc;
	if (epoll_ctl(x->fd, EPOLL_CTL_ADD, fds[0], &ev) < 0)
		return -errno;
	e->ports[port] =
	    (struct eport){ .bound = true, .rx = fds[0], .tx = nfds > 1 ? fds[1] : -1 };
	return (int)port;
}

/* One hypercall that returns a port and its fds. */
static int bind_call(struct xdev *x, uint32_t type, const struct bh_hc_evtchn *a)
{
	struct evtchn *e = x->priv;
	struct bh_hc_evtchn_resp r;
	int fds[2] = { -1, -1 };
	struct bh_hc_result res = { .resp = &r, .resp_cap = sizeof(r), .fds = fds, .max_fds = 2 };
	int rc = bh_hc_call(xen_hcall(), type, a, sizeof(*a), &res);

	if (rc == 0 && res.resp_len != sizeof(r))
		rc = -EPROTO;
	if (rc == 0) {
		pthread_mutex_lock(&e->lock);
		rc = port_attach(x, r.port, fds, res.nfds);
		pthread_mutex_unlock(&e->lock);
	}
	if (rc < 0) {
		bh_close_fds(fds, res.nfds);
		if (type != BH_HC_EVTCHN_GET_FDS_REQ && res.resp_len == sizeof(r)) {
			struct bh_hc_evtchn c = { .port = r.port };
			bh_hc_call_simple(xen_hcall(), BH_HC_EVTCHN_CLOSE_REQ, &c, sizeof(c));
		}
	}
	return rc;
}

static void port_detach(struct xdev *x, uint32_t port)
{
	struct evtchn *e = x->priv;
	struct eport *p = &e->ports[port];

	epoll_ctl(x->fd, EPOLL_CTL_DEL, p->rx, NULL);
	bh_closep(&p->rx);
	bh_closep(&p->tx);
	/* A queued port is skipped when the queue is read. */
	*p = (struct eport){ .rx = -1, .tx = -1 };
}

static int ev_unbind(struct xdev *x, uint32_t port)
{
	struct evtchn *e = x->priv;
	struct bh_hc_evtchn a = { .port = port };

	pthread_mutex_lock(&e->lock);
	if (!port_get(e, port)) {
		pthread_mutex_unlock(&e->lock);
		return -ENOTCONN;
	}
	port_detach(x, port);
	pthread_mutex_unlock(&e->lock);
	return bh_hc_call_simple(xen_hcall(), BH_HC_EVTCHN_CLOSE_REQ, &a, sizeof(a));
}

static int ev_notify(struct xdev *x, uint32_t port)
{
	struct evtchn *e = x->priv;
	static const uint64_t one = 1;
	int tx;

	pthread_mutex_lock(&e->lock);
	struct eport *p = port_get(e, port);
	tx = p ? p->tx : -1;
	pthread_mutex_unlock(&e->lock);
	if (!p)
		return -ENOTCONN;
	if (tx < 0)
		return -EINVAL; /* a VIRQ has no peer */
	/* EAGAIN: the counter is saturated, the peer has an event pending. */
	if (write(tx, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static void queue_reset(struct evtchn *e)
{
	for (uint32_t i = 0; i < e->nports; i++)
		e->ports[i].pending = e->ports[i].queued = false;
	e->qhead = e->qlen = 0;
}

static int ev_ioctl(struct xdev *x, unsigned long req, void *arg)
{
	struct evtchn *e = x->priv;
	struct bh_hc_evtchn a = { .dom = BH_DOMID_SELF };

	switch (req) {
	case IOCTL_EVTCHN_BIND_VIRQ:
		a.virq = ((struct ioctl_evtchn_bind_virq *)arg)->virq;
		return bind_call(x, BH_HC_EVTCHN_BIND_VIRQ_REQ, &a);
	case IOCTL_EVTCHN_BIND_INTERDOMAIN: {
		struct ioctl_evtchn_bind_interdomain *b = arg;
		if (b->remote_domain > 0xFFFF ||
		    (e->restricted && b->remote_domain != e->restrict_domid))
			return -EINVAL;
		a.remote_dom = (uint16_t)b->remote_domain;
		a.port = b->remote_port;
		return bind_call(x, BH_HC_EVTCHN_BIND_INTERDOMAIN_REQ, &a);
	}
	case IOCTL_EVTCHN_BIND_UNBOUND_PORT: {
		struct ioctl_evtchn_bind_unbound_port *b = arg;
		if (b->remote_domain > 0xFFFF ||
		    (e->restricted && b->remote_domain != e->restrict_domid))
			return -EINVAL;
		a.remote_dom = (uint16_t)b->remote_domain;
		return bind_call(x, BH_HC_EVTCHN_ALLOC_UNBOUND_REQ, &a);
	}
	case IOCTL_EVTCHN_BH_ATTACH:
		a.port = ((struct ioctl_evtchn_unbind *)arg)->port;
		return bind_call(x, BH_HC_EVTCHN_GET_FDS_REQ, &a);
	case IOCTL_EVTCHN_UNBIND:
		return ev_unbind(x, ((struct ioctl_evtchn_unbind *)arg)->port);
	case IOCTL_EVTCHN_NOTIFY:
		return ev_notify(x, ((struct ioctl_evtchn_notify *)arg)->port);
	case IOCTL_EVTCHN_RESET:
		pthread_mutex_lock(&e->lock);
		queue_reset(e);
		pthread_mutex_unlock(&e->lock);
		return 0;
	case IOCTL_EVTCHN_RESTRICT_DOMID:
		if (e->restricted)
			return -EINVAL;
		e->restricted = true;
		e->restrict_domid = ((struct ioctl_evtchn_restrict_domid *)arg)->domid;
		return 0;
	default:
		return -ENOTTY;
	}
}

static void enqueue(struct evtchn *e, uint32_t port)
{
	e->queue[(e->qhead + e->qlen) % e->qcap] = port;
	e->qlen++;
	e->ports[port].queued = true;
}

/* A port's eventfd was written to: deliver it or remember it. */
static void port_fired(struct evtchn *e, uint32_t port, uint32_t *out, size_t *n, size_t max)
{
	struct eport *p = port_get(e, port);

	if (!p)
		return;
	if (p->masked || p->queued || *n >= max) {
		if (!p->masked && !p->queued)
			enqueue(e, port); /* no room in this read: next one */
		else
			p->pending = true;
		return;
	}
	p->masked = true;
	out[(*n)++] = port;
}

static void drain_queue(struct evtchn *e, uint32_t *out, size_t *n, size_t max)
{
	while (e->qlen && *n < max) {
		uint32_t port = e->queue[e->qhead];
		e->qhead = (e->qhead + 1) % e->qcap;
		e->qlen--;
		struct eport *p = port_get(e, port);
		if (!p || !p->queued)
			continue;
		p->queued = false;
		p->pending = false;
		p->masked = true;
		out[(*n)++] = port;
	}
}

static int poll_events(struct xdev *x, int timeout, uint32_t *out, size_t *n, size_t max)
{
	struct evtchn *e = x->priv;
	struct epoll_event evs[64];
	int r;

	do {
		r = epoll_wait(x->fd, evs, (int)BH_ARRAY_SIZE(evs), timeout);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	pthread_mutex_lock(&e->lock);
	for (int i = 0; i < r; i++) {
		uint64_t v;
		if (evs[i].data.u64 == WAKE_TAG) {
			if (read(e->wake_fd, &v, sizeof(v)) < 0) {
				/* already drained by another reader */
			}
			continue;
		}
		port_fired(e, (uint32_t)evs[i].data.u64, out, n, max);
	}
	drain_queue(e, out, n, max);
	pthread_mutex_unlock(&e->lock);
	return 0;
}

static ssize_t ev_read(struct xdev *x, void *buf, size_t len)
{
	struct evtchn *e = x->priv;
	size_t max = len / sizeof(uint32_t), n = 0;
	uint32_t *out = buf;
	int rc;

	if (max == 0)
		return -EINVAL;
	pthread_mutex_lock(&e->lock);
	drain_queue(e, out, &n, max);
	pthread_mutex_unlock(&e->lock);
	/* A blocking read waits in epoll_wait at once: it returns at once
	 * when a port is ready, and a separate zero-timeout look first would
	 * cost a system call on every event (the round trip benchmark's
	 * extra 10%). */
	while (n == 0) {
		if ((rc = poll_events(x, x->nonblock ? 0 : -1, out, &n, max)) < 0)
			return rc;
		if (n == 0 && x->nonblock)
			return -EAGAIN;
	}
	return (ssize_t)(n * sizeof(uint32_t));
}

static ssize_t ev_write(struct xdev *x, const void *buf, size_t len)
{
	struct evtchn *e = x->priv;
	size_t n = BH_MIN(len / sizeof(uint32_t), BH_PAGE_SIZE / sizeof(uint32_t));
	const uint32_t *ports = buf;
	bool wake = false;

	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < n; i++) {
		struct eport *p = port_get(e, ports[i]);
		if (!p || !p->masked)
			continue;
		p->masked = false;
		if (p->pending && !p->queued) {
			p->pending = false;
			enqueue(e, ports[i]);
			wake = true;
		}
	}
	pthread_mutex_unlock(&e->lock);
	if (wake) {
		uint64_t one = 1;
		if (write(e->wake_fd, &one, sizeof(one)) < 0) {
			/* saturated: pollers are awake */
		}
	}
	return (ssize_t)(n * sizeof(uint32_t));
}

static void ev_close(struct xdev *x)
{
	struct evtchn *e = x->priv;

	if (e) {
		for (uint32_t port = 1; port < e->nports; port++) {
			if (!e->ports[port].bound)
				continue;
			struct bh_hc_evtchn a = { .port = port };
			port_detach(x, port);
			bh_hc_call_simple(xen_hcall(), BH_HC_EVTCHN_CLOSE_REQ, &a, sizeof(a));
		}
		bh_closep(&e->wake_fd);
		free(e->ports);
		free(e->queue);
		pthread_mutex_destroy(&e->lock);
		free(e);
	}
	bh_closep(&x->fd);
}

const struct xdev_ops xdev_evtchn_ops = {
	.open = ev_open,
	.close = ev_close,
	.ioctl = ev_ioctl,
	.read = ev_read,
	.write = ev_write,
};
