/* /dev/xen/privcmd: the privileged domain's way to the hypervisor.
 *
 * IOCTL_PRIVCMD_HYPERCALL with op __HYPERVISOR_domctl, _sysctl or
 * _sched_op carries one Bulkhead hypercall (struct bh_privcmd_call in
 * arg[0]) and returns its status. Foreign-memory mapping (MMAP, MMAPBATCH)
 * has no meaning here: domains share memory only by grant. */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/util.h"
#include "ioctl/xendev_priv.h"

static int pc_open(struct xdev *x, int flags)
{
	(void)flags;
	x->fd = eventfd(0, EFD_CLOEXEC);
	return x->fd < 0 ? -errno : 0;
}

static int pc_hypercall(struct privcmd_hypercall *h)
{
	struct bh_privcmd_call *c = (struct bh_privcmd_call *)(uintptr_t)h->arg[0];
	struct bh_hc_result res;
	int rc;

	if (h->op != BH_HYPERVISOR_domctl && h->op != BH_HYPERVISOR_sysctl &&
	    h->op != BH_HYPERVISOR_sched_op)
		return -ENOSYS;
	if (!c)
		return -EFAULT;
	res = (struct bh_hc_result){
		.resp = c->resp, .resp_cap = c->resp_cap, .fds = c->fds, .max_fds = c->max_fds
	};
	rc = bh_hc_call(xen_hcall(), c->type, c->req, c->req_len, &res);
	c->resp_len = (uint32_t)res.resp_len;
	c->nfds = (uint32_t)res.nfds;
	return rc;
}

static int pc_ioctl(struct xdev *x, unsigned long req, void *arg)
{
	(void)x;
	switch (req) {
	case IOCTL_PRIVCMD_HYPERCALL:
		return pc_hypercall(arg);
	case IOCTL_PRIVCMD_MMAP:
	case IOCTL_PRIVCMD_MMAPBATCH:
	case IOCTL_PRIVCMD_MMAPBATCH_V2:
	case IOCTL_PRIVCMD_DM_OP:
		return -ENOSYS;
	default:
		return -ENOTTY;
	}
}

static void pc_close(struct xdev *x)
{
	bh_closep(&x->fd);
}

const struct xdev_ops xdev_privcmd_ops = {
	.open = pc_open,
	.close = pc_close,
	.ioctl = pc_ioctl,
};
