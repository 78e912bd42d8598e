/* The hypercall channel: receive, check, dispatch, answer.
 *
 * One datagram is one request. The dispatch table says, per type, the
 * smallest payload, who may send it, which permission it needs on which
 * target, and the handler. A short header, an oversized datagram or a
 * broken socket ends that channel; every other bad request (unknown type,
 * wrong length, a denied or failing operation) is answered with an error
 * status. The core reads one datagram per channel per loop turn, and a
 * domain that does not read its replies stops being read (its reply waits
 * for the socket to drain): no domain can stall the core for the others. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "core/hcall.h"

#define D HC_F_DOMAIN
#define A HC_F_ADMIN
#define V HC_F_VARLEN
#define ROW(t, len, fl, perm, tgt, fn)                                                             \
	{                                                                                          \
		BH_HC_##t##_REQ, #t, len, fl, perm, HC_TARGET_##tgt, fn                            \
	}

static const struct hc_row hc_table[] = {
	ROW(VERSION, 0, D | A, BH_PERM_MAX, NONE, hc_version),
	ROW(START_INFO, 0, D, BH_PERM_MAX, NONE, hc_start_info),
	ROW(SHUTDOWN, sizeof(struct bh_hc_domid), D | A, BH_PERM_DOMAIN_SHUTDOWN, AT0, hc_shutdown),
	ROW(HEARTBEAT, 0, D, BH_PERM_MAX, NONE, hc_heartbeat),
	ROW(DOMCTL_CREATE, sizeof(struct bh_hc_create), D | A | V, BH_PERM_DOMAIN_CREATE, NONE,
	    hc_create),
	ROW(DOMCTL_DESTROY, sizeof(struct bh_hc_domid), D | A, BH_PERM_DOMAIN_DESTROY, AT0,
	    hc_destroy),
	ROW(DOMCTL_PAUSE, sizeof(struct bh_hc_domid), D | A, BH_PERM_DOMAIN_PAUSE, AT0, hc_pause),
	ROW(DOMCTL_UNPAUSE, sizeof(struct bh_hc_domid), D | A, BH_PERM_DOMAIN_PAUSE, AT0,
	    hc_unpause),
	ROW(DOMCTL_RESTART, sizeof(struct bh_hc_domid), D | A, BH_PERM_DOMAIN_RESTART, AT0,
	    hc_restart),
	ROW(DOMCTL_GETINFO, sizeof(struct bh_hc_domid), D | A, BH_PERM_DOMAIN_GETINFO, AT0,
	    hc_getinfo),
	ROW(DOMCTL_LIST, sizeof(struct bh_hc_list_req), D | A, BH_PERM_DOMAIN_GETINFO, NONE,
	    hc_list),
	ROW(DOMCTL_SETRES, sizeof(struct bh_hc_setres), D | A, BH_PERM_DOMAIN_SETRES, AT0,
	    hc_setres),
	ROW(SYSCTL_INFO, 0, D | A, BH_PERM_SYSCTL, NONE, hc_sysinfo),
	ROW(SYSCTL_READCONSOLE, sizeof(struct bh_hc_readconsole_req), D | A, BH_PERM_READCONSOLE,
	    NONE, hc_readconsole),
	ROW(DEVICE_ASSIGN, sizeof(struct bh_hc_device_assign), D | A, BH_PERM_DEVICE_ASSIGN, AT0,
	    hc_dev_assign),
	ROW(DEVICE_REVOKE, sizeof(struct bh_hc_device_open), D | A, BH_PERM_DEVICE_ASSIGN, AT0,
	    hc_dev_revoke),
	ROW(DEVICE_OPEN, sizeof(struct bh_hc_device_open), D, BH_PERM_MAX, NONE, hc_dev_open),
	ROW(DEVICE_TAP, sizeof(struct bh_hc_device_tap), D, BH_PERM_DEVICE_TAP, NONE, hc_dev_tap),
	ROW(DEVICE_UPLINK, sizeof(struct bh_hc_device_uplink), D | A, BH_PERM_DEVICE_UPLINK, AT0,
	    hc_dev_uplink),
	ROW(GNT_ALLOC, sizeof(struct bh_hc_gnt_alloc), D, BH_PERM_GRANT_TO, HANDLER, hc_gnt_alloc),
	ROW(GNT_END, 8, D | V, BH_PERM_MAX, NONE, hc_gnt_end),
	ROW(GNT_MAP, 8, D | V, BH_PERM_MAP_FROM, HANDLER, hc_gnt_map),
	ROW(GNT_UNMAP, 8, D | V, BH_PERM_MAX, NONE, hc_gnt_unmap),
	ROW(EVTCHN_ALLOC_UNBOUND, sizeof(struct bh_hc_evtchn), D, BH_PERM_EVTCHN_FOR, HANDLER,
	    hc_evtchn_alloc_unbound),
	ROW(EVTCHN_BIND_INTERDOMAIN, sizeof(struct bh_hc_evtchn), D, BH_PERM_EVTCHN_BIND, HANDLER,
	    hc_evtchn_bind_interdomain),
	ROW(EVTCHN_BIND_VIRQ, sizeof(struct bh_hc_evtchn), D, BH_PERM_EVTCHN_VIRQ, NONE,
	    hc_evtchn_bind_virq),
	ROW(EVTCHN_CLOSE, sizeof(struct bh_hc_evtchn), D, BH_PERM_MAX, NONE, hc_evtchn_close),
	ROW(EVTCHN_STATUS, sizeof(struct bh_hc_evtchn), D, BH_PERM_MAX, HANDLER, hc_evtchn_status),
	ROW(EVTCHN_GET_FDS, sizeof(struct bh_hc_evtchn), D, BH_PERM_MAX, NONE, hc_evtchn_get_fds),
};

#undef D
#undef A
#undef V
#undef ROW

static const struct hc_row *hc_lookup(uint32_t type)
{
	for (size_t i = 0; i < BH_ARRAY_SIZE(hc_table); i++)
		if (hc_table[i].type == type)
			return &hc_table[i];
	return NULL;
}

uint16_t hc_caller(const struct hc_req *rq)
{
	return rq->self ? rq->self->domid : (uint16_t)BH_DOMID_INVALID;
}

int hc_access(struct hc_req *rq, enum bh_perm perm, uint16_t domid)
{
	struct bh_subject subj = { .admin = rq->hc->admin };
	struct bh_object obj = { .domid = domid };
	struct domain *target;

	if (rq->self) {
		subj.domid = rq->self->domid;
		subj.privileged = rq->self->flags & BH_CREATE_PRIVILEGED;
		subj.store = rq->self->role == BH_ROLE_STORE;
		subj.label = rq->self->label;
	}
	if (domid == BH_DOMID_SELF) {
		if (!rq->self)
			return -ESRCH;
		obj.domid = rq->self->domid;
	}
	target = domain_get(rq->core, obj.domid);
	obj.label = target ? target->label : NULL;
	obj.driver = target && target->role == BH_ROLE_DRIVER;
	return bh_policy_check(rq->core->policy, &subj, perm, &obj);
}

int hc_reply_fd(struct hc_reply *rp, int fd)
{
	if (fd < 0)
		return fd;
	if (rp->nfds >= BH_MAX_FDS_PER_MSG) {
		close(fd);
		return -E2BIG;
	}
	rp->fds[rp->nfds++] = fd;
	return 0;
}

/* ---- sending ---------------------------------------------------------- */

static void hc_on_writable(evutil_socket_t fd, short what, void *arg);

static int hc_send(struct hc_conn *hc, const struct bh_hc_hdr *hdr, struct hc_reply *rp)
{
	size_t total = sizeof(*hdr) + rp->len;
	unsigned char *msg = malloc(total);
	ssize_t r;

	if (!msg) {
		bh_close_fds(rp->fds, rp->nfds);
		return -ENOMEM;
	}
	memcpy(msg, hdr, sizeof(*hdr));
	memcpy(msg + sizeof(*hdr), rp->buf, rp->len);
	r = bh_send_fds(hc->fd, msg, total, rp->fds, rp->nfds);
	if (r == -EAGAIN) {
		/* Keep it (and its fds) until the peer reads; stop reading it. */
		hc->out = msg;
		hc->out_len = total;
		memcpy(hc->out_fds, rp->fds, rp->nfds * sizeof(int));
		hc->out_nfds = rp->nfds;
		rp->nfds = 0;
		event_del(hc->ev);
		event_add(hc->wev, NULL);
		return 0;
	}
	free(msg);
	bh_close_fds(rp->fds, rp->nfds);
	rp->nfds = 0;
	return r < 0 ? (int)r : 0;
}

static void hc_on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct hc_conn *hc = arg;
	ssize_t r = bh_send_fds(hc->fd, hc->out, hc->out_len, hc->out_fds, hc->out_nfds);

	(void)fd;
	(void)what;
	if (r == -EAGAIN) {
		event_add(hc->wev, NULL);
		return;
	}
	free(hc->out);
	hc->out = NULL;
	bh_close_fds(hc->out_fds, hc->out_nfds);
	hc->out_nfds = 0;
	if (r < 0) {
		hc_conn_close(hc);
		return;
	}
	event_add(hc->ev, NULL);
}

/* ---- receiving -------------------------------------------------------- */

static bool sender_allowed(const struct hc_conn *hc, const struct hc_row *row)
{
	return (row->flags & (hc->admin ? HC_F_ADMIN : HC_F_DOMAIN)) != 0;
}

static int hc_check_and_run(struct hc_req *rq, const struct hc_row *row, struct hc_reply *rp)
{
	int rc;

	if (!row)
		return -ENOSYS;
	if (!sender_allowed(rq->hc, row))
		return -EPERM;
	if (rq->len < row->min_len || (!(row->flags & HC_F_VARLEN) && rq->len != row->min_len))
		return -EINVAL;
	if (row->target == HC_TARGET_AT0) {
		uint16_t domid;
		memcpy(&domid, rq->payload, sizeof(domid));
		if ((rc = hc_access(rq, row->perm, domid)) < 0)
			return rc;
	} else if (row->target == HC_TARGET_NONE && row->perm != BH_PERM_MAX) {
		if ((rc = hc_access(rq, row->perm, hc_caller(rq))) < 0)
			return rc;
	}
	return row->fn(rq, rp);
}

int hc_dispatch(struct hc_conn *hc, const void *msg, size_t len, int *fds, size_t nfds)
{
	struct bh_hc_hdr hdr, out;
	struct hc_req rq = { .hc = hc, .core = hc->core };
	struct hc_reply *rp;
	int rc;

	if (len < sizeof(hdr)) {
		bh_close_fds(fds, nfds);
		return -EPROTO; /* not even a header: end the channel */
	}
	memcpy(&hdr, msg, sizeof(hdr));
	rp = malloc(sizeof(*rp));
	if (!rp) {
		bh_close_fds(fds, nfds);
		return -ENOMEM;
	}
	rp->len = rp->nfds = 0;
	rq.self = hc->admin ? NULL : domain_get(hc->core, hc->domid);
	rq.type = hdr.type;
	rq.payload = (const unsigned char *)msg + sizeof(hdr);
	rq.len = len - sizeof(hdr);
	if (nfds > 0 || hdr.len != rq.len || (hdr.type & BH_HC_RESP))
		rc = -EINVAL; /* requests carry no descriptors */
	else if (rq.self == NULL && !hc->admin)
		rc = -ESRCH;
	else
		rc = hc_check_and_run(&rq, hc_lookup(hdr.type), rp);
	bh_close_fds(fds, nfds);
	if (rc < 0) {
		bh_close_fds(rp->fds, rp->nfds);
		rp->len = rp->nfds = 0;
	}
	out = (struct bh_hc_hdr){ .type = hdr.type | BH_HC_RESP,
		                  .len = (uint32_t)rp->len,
		                  .seq = hdr.seq,
		                  .status = rc };
	rc = hc_send(hc, &out, rp);
	free(rp);
	return rc;
}

static void hc_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct hc_conn *hc = arg;
	unsigned char buf[BH_HC_MAX_MSG];
	int fds[BH_MAX_FDS_PER_MSG];
	size_t nfds = 0;
	ssize_t r;

	(void)what;
	r = bh_recv_fds(fd, buf, sizeof(buf), fds, BH_ARRAY_SIZE(fds), &nfds);
	if (r == -EAGAIN || r == -EINTR)
		return;
	int drc = r > 0 ? hc_dispatch(hc, buf, (size_t)r, fds, nfds) : 0;
	if (r <= 0 || drc < 0) {
		/* A domain that ends right after a request (SHUTDOWN of itself)
		 * is gone before its reply: not worth a warning. */
		bool gone = r == 0 || r == -ECONNRESET || drc == -EPIPE || drc == -ECONNRESET;
		if (!gone)
			bh_warn(&hc->core->log, "%s%u: ending hypercall channel: %s",
			        hc->admin ? "admin client " : "dom", hc->admin ? 0 : hc->domid,
			        r < 0            ? bh_strerror((int)r)
			        : drc == -EPROTO ? "protocol violation"
			                         : bh_strerror(drc));
		hc_conn_close(hc);
	}
}

int hc_conn_open(struct core *c, struct hc_conn *hc, int fd, bool admin, uint16_t domid,
                 uint32_t gen)
{
	int rc;

	hc->core = c;
	hc->fd = fd;
	hc->admin = admin;
	hc->domid = domid;
	hc->gen = gen;
	hc->out = NULL;
	hc->out_nfds = 0;
	if ((rc = bh_set_nonblock(fd, 1)) < 0)
		return rc;
	hc->ev = event_new(c->base, fd, EV_READ | EV_PERSIST, hc_on_readable, hc);
	hc->wev = event_new(c->base, fd, EV_WRITE, hc_on_writable, hc);
	if (!hc->ev || !hc->wev || event_add(hc->ev, NULL) < 0) {
		hc_conn_close(hc);
		return -ENOMEM;
	}
	return 0;
}

static void admin_client_unlink(struct hc_conn *hc)
{
	for (struct hc_conn **pp = &hc->core->admin_clients; *pp; pp = &(*pp)->next) {
		if (*pp == hc) {
			*pp = hc->next;
			return;
		}
	}
}

void hc_conn_close(struct hc_conn *hc)
{
	if (hc->ev)
		event_free(hc->ev);
	if (hc->wev)
		event_free(hc->wev);
	hc->ev = hc->wev = NULL;
	bh_closep(&hc->fd);
	free(hc->out);
	hc->out = NULL;
	bh_close_fds(hc->out_fds, hc->out_nfds);
	hc->out_nfds = 0;
	if (hc->admin) {
		admin_client_unlink(hc);
		free(hc);
	}
}
