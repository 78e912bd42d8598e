/* Serving a domain over its ring page: requests are copied out of the
 * shared page before anything looks at them (the guest may change them
 * under us), replies are copied in as space allows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "bulkhead/xs_wire.h"
#include "common/util.h"
#include "xenstored/ring.h"

struct xsd_ring {
	struct xsd_rings *rs;
	unsigned domid;
	unsigned local_port;
	struct xenstore_domain_interface *page;
	struct xsd_conn *c;
	bool broken;  /* protocol error: no longer served */
	bool serving; /* in serve(): replies go out, and the kick, at its end */
};

struct xsd_rings {
	struct xsd_ring_ops ops;
	struct xsd *s;
	struct xsd_ring **r;
	size_t n, cap;
};

struct xsd_rings *xsd_rings_new(const struct xsd_ring_ops *ops)
{
	struct xsd_rings *rs = calloc(1, sizeof(*rs));

	if (rs)
		rs->ops = *ops;
	return rs;
}

void xsd_rings_set_store(struct xsd_rings *rs, struct xsd *s)
{
	rs->s = s;
}

static uint32_t ld(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* An index published, then the peer's read: a full fence between the two
 * (with the client's, bhxs_ring.c), so that a client which leaves out a
 * kick because we were still at work is sure to be seen by our next look. */
static void st(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Replies into the rsp ring; true if anything moved. */
static bool push(struct xsd_ring *r)
{
	struct xenstore_domain_interface *p = r->page;
	struct evbuffer *out = xsd_conn_output(r->c);
	bool moved = false;

	while (evbuffer_get_length(out) > 0) {
		uint32_t cons = ld(&p->rsp_cons), prod = p->rsp_prod;
		uint32_t used = prod - cons, off = MASK_XENSTORE_IDX(prod);
		size_t n;

		if (used > XENSTORE_RING_SIZE) {
			p->error = XENSTORE_ERROR_RINGIDX;
			r->broken = true;
			return moved;
		}
		n = BH_MIN(XENSTORE_RING_SIZE - used, XENSTORE_RING_SIZE - off);
		n = BH_MIN(n, evbuffer_get_length(out));
		if (n == 0)
			break;
		evbuffer_remove(out, p->rsp + off, n);
		st(&p->rsp_prod, prod + (uint32_t)n);
		moved = true;
	}
	return moved;
}

/* Requests out of the req ring into the store; true if anything moved. */
static bool pull(struct xsd_ring *r)
{
	struct xenstore_domain_interface *p = r->page;
	char buf[XENSTORE_RING_SIZE];
	bool moved = false;

	while (!xsd_conn_throttled(r->c)) {
		uint32_t prod = ld(&p->req_prod), cons = p->req_cons;
		uint32_t avail = prod - cons, off = MASK_XENSTORE_IDX(cons);
		size_t n;

		if (avail > XENSTORE_RING_SIZE) {
			p->error = XENSTORE_ERROR_RINGIDX;
			r->broken = true;
			return moved;
		}
		n = BH_MIN(avail, XENSTORE_RING_SIZE - off);
		if (n == 0)
			break;
		memcpy(buf, p->req + off, n);
		st(&p->req_cons, cons + (uint32_t)n);
		moved = true;
		if (xsd_conn_input(r->c, buf, n) < 0) {
			p->error = XENSTORE_ERROR_PROTO;
			r->broken = true;
			return moved;
		}
	}
	return moved;
}

static void serve(struct xsd_ring *r)
{
	bool moved = false, again = true;

	r->serving = true;
	while (again && !r->broken) {
		again = false;
		if (pull(r))
			moved = again = true;
		if (!r->broken && xsd_conn_input(r->c, NULL, 0) < 0)
			r->broken = true;
		if (!r->broken && push(r)) /* every reply made so far */
			moved = again = true;
	}
	r->serving = false;
	if (moved)
		r->rs->ops.notify(r->rs->ops.arg, r->local_port);
}

/* Output queued outside serve() (a watch fired by another connection's
 * write): out now. Inside serve(), each reply pushed and signalled on its
 * own woke the client once per reply of a pipelined batch, and on a busy
 * CPU the client took it from us each time: the batch went by in
 * ping-pong. */
static void on_kick(void *arg)
{
	struct xsd_ring *r = arg;

	if (!r->broken && !r->serving && push(r))
		r->rs->ops.notify(r->rs->ops.arg, r->local_port);
}

static void ring_free(struct xsd_ring *r)
{
	struct xsd_rings *rs = r->rs;

	xsd_conn_free(r->c);
	rs->ops.unbind(rs->ops.arg, r->local_port);
	rs->ops.unmap(rs->ops.arg, r->page);
	free(r);
}

static int introduce(void *arg, unsigned domid, long long gfn, unsigned port)
{
	struct xsd_rings *rs = arg;
	struct xsd_ring *r = calloc(1, sizeof(*r));
	void *page = NULL;
	int rc;

	if (!r)
		return -ENOMEM;
	r->rs = rs;
	r->domid = domid;
	if ((rc = rs->ops.map(rs->ops.arg, domid, gfn, &page)) < 0)
		goto fail;
	r->page = page;
	if ((rc = rs->ops.bind(rs->ops.arg, domid, port, &r->local_port)) < 0) {
		rs->ops.unmap(rs->ops.arg, page);
		goto fail;
	}
	struct xsd_conn_ops cops = { .kick = on_kick, .arg = r };
	if (!(r->c = xsd_conn_new(rs->s, domid, false, &cops))) {
		rs->ops.unbind(rs->ops.arg, r->local_port);
		rs->ops.unmap(rs->ops.arg, page);
		rc = -ENOMEM;
		goto fail;
	}
	r->page->server_features = 0;
	r->page->connection = XENSTORE_CONNECTED;
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 8;
		rs->r = reallocarray(rs->r, rs->cap, sizeof(*rs->r));
		if (!rs->r)
			abort();
	}
	rs->r[rs->n++] = r;
	serve(r); /* requests written before the introduction */
	return 0;
fail:
	free(r);
	return rc;
}

static void release(void *arg, unsigned domid)
{
	struct xsd_rings *rs = arg;

	for (size_t i = 0; i < rs->n;) {
		if (rs->r[i]->domid == domid) {
			ring_free(rs->r[i]);
			rs->r[i] = rs->r[--rs->n];
		} else {
			i++;
		}
	}
}

void xsd_rings_fill_host(struct xsd_rings *rs, struct xsd_host_ops *host)
{
	host->introduce = introduce;
	host->release = release;
	host->arg = rs;
}

void xsd_rings_port_fired(struct xsd_rings *rs, unsigned local_port)
{
	for (size_t i = 0; i < rs->n; i++)
		if (rs->r[i]->local_port == local_port)
			serve(rs->r[i]);
}

void xsd_rings_free(struct xsd_rings *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++)
		ring_free(rs->r[i]);
	free(rs->r);
	free(rs);
}
