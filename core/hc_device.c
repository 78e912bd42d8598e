/* Hypercall handlers: devices. */
#include <errno.h>
#include <string.h>

#include "core/hcall.h"

static struct domain *target(struct hc_req *rq, uint16_t domid)
{
	return domid == BH_DOMID_SELF ? rq->self : domain_get(rq->core, domid);
}

int hc_dev_assign(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_device_assign a;
	struct domain *d;

	(void)rp;
	memcpy(&a, rq->payload, sizeof(a));
	d = target(rq, a.domid);
	if (!d)
		return -ESRCH;
	if (!memchr(a.token, 0, sizeof(a.token)) || !memchr(a.path, 0, sizeof(a.path)))
		return -EINVAL;
	return device_assign(d, &a);
}

int hc_dev_revoke(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_device_open a;
	struct domain *d;

	(void)rp;
	memcpy(&a, rq->payload, sizeof(a));
	d = target(rq, a.domid);
	if (!d)
		return -ESRCH;
	if (!memchr(a.token, 0, sizeof(a.token)))
		return -EINVAL;
	return device_revoke(d, a.token);
}

int hc_dev_open(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_device_open a;
	struct bh_hc_device_open_resp *out = (void *)rp->buf;
	int fd, rc;

	memcpy(&a, rq->payload, sizeof(a));
	if (!memchr(a.token, 0, sizeof(a.token)))
		return -EINVAL;
	if ((rc = device_open(rq->self, a.token, &fd, out)) < 0)
		return rc;
	rp->len = sizeof(*out);
	return hc_reply_fd(rp, fd);
}

int hc_dev_tap(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_device_tap t;
	int fd, rc;

	memcpy(&t, rq->payload, sizeof(t));
	if (!memchr(t.ifname, 0, sizeof(t.ifname)))
		return -EINVAL;
	if ((rc = device_tap(rq->self, &t, &fd)) < 0)
		return rc;
	return hc_reply_fd(rp, fd);
}

int hc_dev_uplink(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_device_uplink u;
	struct bh_hc_device_uplink_resp *out = (void *)rp->buf;
	struct domain *d;
	int rc;

	memcpy(&u, rq->payload, sizeof(u));
	if (!(d = target(rq, u.domid)))
		return -ESRCH;
	if ((rc = device_uplink(d, &u, out)) < 0)
		return rc;
	rp->len = sizeof(*out);
	return 0;
}
