/* Hypercall handlers: event channels (what the evtchn device asks for). */
#include <errno.h>
#include <string.h>

#include "core/hcall.h"

static void get_args(const struct hc_req *rq, struct bh_hc_evtchn *a)
{
	memcpy(a, rq->payload, sizeof(*a));
	if (a->dom == BH_DOMID_SELF)
		a->dom = rq->self->domid;
	if (a->remote_dom == BH_DOMID_SELF)
		a->remote_dom = rq->self->domid;
}

/* The port's descriptors go with the reply (receive first, then send). */
static int reply_port(struct domain *d, uint32_t port, struct hc_reply *rp)
{
	struct bh_hc_evtchn_resp *out = (void *)rp->buf;
	int fds[2] = { -1, -1 };
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	out->port = port;
	rp->len = sizeof(*out);
	if ((rc = evtchn_port_fds(d, port, fds, &n)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		hc_reply_fd(rp, fds[i]);
	return 0;
}

int hc_evtchn_alloc_unbound(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_evtchn a;
	struct bh_hc_evtchn_resp *out = (void *)rp->buf;
	struct domain *d;
	uint32_t port;
	int rc;

	get_args(rq, &a);
	if (a.remote_dom > BH_DOMID_MAX)
		return -EINVAL;
	if (a.dom != rq->self->domid && (rc = hc_access(rq, BH_PERM_EVTCHN_FOR, a.dom)) < 0)
		return rc;
	d = domain_get(rq->core, a.dom);
	if (!d || d->state == BH_DOMSTATE_SHUTDOWN)
		return -ESRCH;
	if ((rc = evtchn_alloc_unbound(d, a.remote_dom, &port)) < 0)
		return rc;
	if (d == rq->self)
		return reply_port(d, port, rp);
	/* Made for another domain: it fetches the descriptors itself. */
	memset(out, 0, sizeof(*out));
	out->port = port;
	rp->len = sizeof(*out);
	return 0;
}

int hc_evtchn_bind_interdomain(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_evtchn a;
	uint32_t port;
	int rc;

	get_args(rq, &a);
	if ((rc = hc_access(rq, BH_PERM_EVTCHN_BIND, a.remote_dom)) < 0)
		return rc;
	if ((rc = evtchn_bind_interdomain(rq->self, a.remote_dom, a.port, &port)) < 0)
		return rc;
	return reply_port(rq->self, port, rp);
}

int hc_evtchn_bind_virq(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_evtchn a;
	uint32_t port;
	int rc;

	get_args(rq, &a);
	if ((rc = evtchn_bind_virq(rq->self, a.virq, &port)) < 0)
		return rc;
	return reply_port(rq->self, port, rp);
}

int hc_evtchn_close(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_evtchn a;

	(void)rp;
	get_args(rq, &a);
	return evtchn_close(rq->self, a.port);
}

int hc_evtchn_status(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_evtchn a;
	struct domain *d;
	int rc;

	get_args(rq, &a);
	if (a.dom != rq->self->domid && (rc = hc_access(rq, BH_PERM_DOMAIN_GETINFO, a.dom)) < 0)
		return rc;
	d = domain_get(rq->core, a.dom);
	if (!d)
		return -ESRCH;
	rp->len = sizeof(struct bh_hc_evtchn_resp);
	return evtchn_status(d, a.port, (struct bh_hc_evtchn_resp *)rp->buf);
}

int hc_evtchn_get_fds(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_evtchn a;

	get_args(rq, &a);
	return reply_port(rq->self, a.port, rp);
}
