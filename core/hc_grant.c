/* Hypercall handlers: grant tables (what gntalloc and gntdev ask for). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/hcall.h"

static uint16_t resolve(const struct hc_req *rq, uint16_t domid)
{
	return domid == BH_DOMID_SELF ? rq->self->domid : domid;
}

int hc_gnt_alloc(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_gnt_alloc a;
	struct bh_hc_gnt_alloc_resp *out = (void *)rp->buf;
	uint32_t i;
	int rc = 0, fd;

	memcpy(&a, rq->payload, sizeof(a));
	a.domid = resolve(rq, a.domid);
	if (a.count == 0 || a.count > BH_GNT_MAX_BATCH || a.domid > BH_DOMID_MAX ||
	    (a.flags & ~BH_GNT_WRITABLE))
		return -EINVAL;
	if ((rc = hc_access(rq, BH_PERM_GRANT_TO, a.domid)) < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	for (i = 0; i < a.count; i++) {
		rc = grant_alloc(rq->self, a.domid, a.flags & BH_GNT_WRITABLE, -1, &out->refs[i],
		                 &fd);
		if (rc < 0 || (rc = hc_reply_fd(rp, fd)) < 0)
			break;
	}
	if (rc < 0) {
		/* Nothing half-done: give back what was allocated. */
		for (uint32_t j = 0; j < i; j++)
			grant_end(rq->self, out->refs[j], false);
		return rc;
	}
	out->count = a.count;
	rp->len = sizeof(*out);
	return 0;
}

/* Variable-length requests: a count, then exactly that many items. */
static int counted(const struct hc_req *rq, size_t item, uint32_t *count_out)
{
	uint32_t count;

	memcpy(&count, rq->payload, sizeof(count));
	if (count == 0 || count > BH_GNT_MAX_BATCH || rq->len != 8 + (size_t)count * item)
		return -EINVAL;
	*count_out = count;
	return 0;
}

int hc_gnt_end(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_gnt_refs r;
	struct bh_hc_gnt_status *out = (void *)rp->buf;
	uint32_t count;
	int rc, first = 0;

	if ((rc = counted(rq, sizeof(uint32_t), &count)) < 0)
		return rc;
	memset(&r, 0, sizeof(r));
	memcpy(&r, rq->payload, rq->len);
	memset(out, 0, sizeof(*out));
	out->count = count;
	for (uint32_t i = 0; i < count; i++) {
		rc = grant_end(rq->self, r.refs[i], r.flags & BH_GNT_DEFER);
		out->status[i] = rc == 0        ? BH_GNTST_OKAY
		                 : rc == -EBUSY ? BH_GNTST_EAGAIN
		                                : BH_GNTST_BAD_GNTREF;
		if (rc < 0 && !first)
			first = rc;
	}
	rp->len = sizeof(*out);
	return first;
}

int hc_gnt_map(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_gnt_map m;
	struct bh_hc_gnt_map_resp *out = (void *)rp->buf;
	bool ro;
	uint32_t count, i;
	int rc, failed = 0;

	if ((rc = counted(rq, sizeof(struct bh_gnt_mapref), &count)) < 0)
		return rc;
	memset(&m, 0, sizeof(m));
	memcpy(&m, rq->payload, rq->len);
	if (m.flags & ~BH_GNT_READONLY)
		return -EINVAL;
	ro = m.flags & BH_GNT_READONLY;
	memset(out, 0, sizeof(*out));
	out->count = count;
	for (i = 0; i < count; i++) {
		int fd = -1;
		uint16_t g = resolve(rq, m.refs[i].domid);
		if (hc_access(rq, BH_PERM_MAP_FROM, g) < 0)
			out->status[i] = BH_GNTST_PERMISSION_DENIED;
		else
			out->status[i] =
			    grant_map(rq->self, g, m.refs[i].ref, ro, &out->handles[i], &fd);
		if (out->status[i] != BH_GNTST_OKAY)
			failed = 1;
		else
			hc_reply_fd(rp, fd);
	}
	rp->len = sizeof(*out);
	if (!failed)
		return 0;
	/* All or nothing: undo what did map. */
	for (i = 0; i < count; i++)
		if (out->status[i] == BH_GNTST_OKAY)
			grant_unmap(rq->self, out->handles[i]);
	bh_close_fds(rp->fds, rp->nfds);
	rp->nfds = 0;
	return -EPERM;
}

int hc_gnt_unmap(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_gnt_unmap u;
	struct bh_hc_gnt_status *out = (void *)rp->buf;
	uint32_t count;
	int rc, first = 0;

	if ((rc = counted(rq, sizeof(uint32_t), &count)) < 0)
		return rc;
	memset(&u, 0, sizeof(u));
	memcpy(&u, rq->payload, rq->len);
	memset(out, 0, sizeof(*out));
	out->count = count;
	for (uint32_t i = 0; i < count; i++) {
		out->status[i] = grant_unmap(rq->self, u.handles[i]);
		if (out->status[i] != BH_GNTST_OKAY && !first)
			first = -EINVAL;
	}
	rp->len = sizeof(*out);
	return first;
}
