/* Hypercall handlers: domains and the host. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "core/hcall.h"

#define BH_VERSION_MAJOR 0
#define BH_VERSION_MINOR 1

static struct domain *target_of(struct hc_req *rq, uint16_t domid)
{
	if (domid == BH_DOMID_SELF)
		return rq->self;
	return domain_get(rq->core, domid);
}

static struct domain *req_target(struct hc_req *rq)
{
	struct bh_hc_domid a;

	memcpy(&a, rq->payload, sizeof(a));
	return target_of(rq, a.domid);
}

int hc_version(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_version_resp *v = (void *)rp->buf;

	memset(v, 0, sizeof(*v));
	v->major = BH_VERSION_MAJOR;
	v->minor = BH_VERSION_MINOR;
	v->domid = hc_caller(rq);
	if (rq->self) {
		v->generation = rq->self->generation;
		v->role = rq->self->role;
		v->flags = rq->self->flags & BH_CREATE_PRIVILEGED;
	}
	rp->len = sizeof(*v);
	return 0;
}

int hc_start_info(struct hc_req *rq, struct hc_reply *rp)
{
	struct domain *d = rq->self;
	struct bh_hc_start_info *si = (void *)rp->buf;
	int rc;

	memset(si, 0, sizeof(*si));
	si->domid = d->domid;
	si->store_domid = d->store_domid;
	si->console_domid = d->console_domid;
	si->store_port = d->store_port;
	si->console_port = d->console_port;
	si->generation = d->generation;
	si->role = d->role;
	si->vcpus = d->cfg.vcpus;
	si->mem_kb = d->cfg.mem_kb;
	bh_strlcpy(si->name, d->name, sizeof(si->name));
	rp->len = sizeof(*si);
	/* The two ring pages, store first, when the domain has them. */
	if (d->store_port) {
		int fd = grant_page_fd(d, BH_GNTTAB_STORE_REF);
		if ((rc = hc_reply_fd(rp, fd < 0 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 0))) < 0)
			return rc;
	}
	if (d->console_port) {
		int fd = grant_page_fd(d, BH_GNTTAB_CONSOLE_REF);
		if ((rc = hc_reply_fd(rp, fd < 0 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 0))) < 0)
			return rc;
	}
	return 0;
}

int hc_shutdown(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_domid a;
	struct domain *d;

	(void)rp;
	memcpy(&a, rq->payload, sizeof(a));
	d = target_of(rq, a.domid);
	if (!d)
		return -ESRCH;
	if (a.arg != BH_SHUTDOWN_POWEROFF && a.arg != BH_SHUTDOWN_REBOOT &&
	    a.arg != BH_SHUTDOWN_CRASH && a.arg != BH_SHUTDOWN_WATCHDOG)
		return -EINVAL;
	return domain_shutdown(d, (enum bh_shutdown_reason)a.arg, d != rq->self);
}

int hc_heartbeat(struct hc_req *rq, struct hc_reply *rp)
{
	(void)rp;
	domain_heartbeat(rq->self);
	return 0;
}

/* Only a privileged creator may make a privileged domain or name a host
 * path; only the administrator may run an arbitrary host program. */
static int create_checks(struct hc_req *rq, const struct bh_hc_create *req)
{
	bool priv = rq->hc->admin || (rq->self && (rq->self->flags & BH_CREATE_PRIVILEGED));

	if (req->flags &
	    ~(BH_CREATE_PAUSED | BH_CREATE_PRIVILEGED | BH_CREATE_HOST_IMAGE | BH_CREATE_STANDBY))
		return -EINVAL;
	if ((req->flags & BH_CREATE_PRIVILEGED) && !priv)
		return -EPERM;
	if ((req->flags & BH_CREATE_HOST_IMAGE) && !rq->hc->admin)
		return -EPERM;
	if (req->argv_len != rq->len - sizeof(*req))
		return -EINVAL;
	return 0;
}

int hc_create(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_create req;
	struct bh_hc_create_resp *out = (void *)rp->buf;
	struct domain *d;
	int rc;

	memcpy(&req, rq->payload, sizeof(req));
	if ((rc = create_checks(rq, &req)) < 0)
		return rc;
	rc = domain_create(rq->core, &req, (const char *)rq->payload + sizeof(req),
	                   req.flags & BH_CREATE_HOST_IMAGE, &d);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->domid = d->domid;
	out->generation = d->generation;
	out->store_port = d->store_port;
	out->console_port = d->console_port;
	rp->len = sizeof(*out);
	return 0;
}

int hc_destroy(struct hc_req *rq, struct hc_reply *rp)
{
	struct domain *d = req_target(rq);

	(void)rp;
	if (d && d == rq->self)
		return -EINVAL; /* a domain ends itself with SHUTDOWN */
	return d ? domain_destroy(d) : -ESRCH;
}

int hc_pause(struct hc_req *rq, struct hc_reply *rp)
{
	struct domain *d = req_target(rq);

	(void)rp;
	return d ? domain_pause(d) : -ESRCH;
}

int hc_unpause(struct hc_req *rq, struct hc_reply *rp)
{
	struct domain *d = req_target(rq);

	(void)rp;
	return d ? domain_unpause(d) : -ESRCH;
}

int hc_restart(struct hc_req *rq, struct hc_reply *rp)
{
	struct domain *d = req_target(rq);
	struct bh_hc_create_resp *out = (void *)rp->buf;
	int rc;

	if (!d)
		return -ESRCH;
	if (d == rq->self)
		return -EINVAL;
	if ((rc = domain_restart(d)) < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->domid = d->domid;
	out->generation = d->generation;
	out->store_port = d->store_port;
	out->console_port = d->console_port;
	rp->len = sizeof(*out);
	return 0;
}

int hc_getinfo(struct hc_req *rq, struct hc_reply *rp)
{
	struct domain *d = req_target(rq);

	if (!d)
		return -ESRCH;
	domain_fill_info(d, (struct bh_dominfo *)rp->buf, true);
	rp->len = sizeof(struct bh_dominfo);
	return 0;
}

int hc_list(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_list_req req;
	struct bh_hc_list_resp *out = (void *)rp->buf;
	struct bh_dominfo *info = (void *)(out + 1);
	uint32_t max;

	memcpy(&req, rq->payload, sizeof(req));
	if (req.flags & ~BH_LIST_NO_USAGE)
		return -EINVAL;
	max = BH_MIN(req.max ? req.max : (uint32_t)BH_HC_LIST_MAX, (uint32_t)BH_HC_LIST_MAX);
	memset(out, 0, sizeof(*out));
	for (uint32_t id = req.first_domid; id <= BH_DOMID_MAX && out->count < max; id++) {
		struct domain *d = rq->core->doms[id];
		/* An unprivileged caller sees only itself. */
		if (d && hc_access(rq, BH_PERM_DOMAIN_GETINFO, (uint16_t)id) == 0)
			domain_fill_info(d, &info[out->count++], !(req.flags & BH_LIST_NO_USAGE));
	}
	rp->len = sizeof(*out) + out->count * sizeof(*info);
	return 0;
}

int hc_setres(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_setres r;
	struct domain *d;

	(void)rp;
	memcpy(&r, rq->payload, sizeof(r));
	d = target_of(rq, r.domid);
	return d ? domain_set_resources(d, &r) : -ESRCH;
}

int hc_sysinfo(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_sysinfo *si = (void *)rp->buf;
	struct core *c = rq->core;
	struct sysinfo s;

	memset(si, 0, sizeof(*si));
	si->nr_cpus = c->cgctl.nr_cpus;
	si->nr_domains = c->nr_domains;
	if (sysinfo(&s) == 0) {
		si->total_mem_kb = (uint64_t)s.totalram * s.mem_unit / 1024;
		si->free_mem_kb = (uint64_t)s.freeram * s.mem_unit / 1024;
	}
	si->cgroup_version = (uint32_t)c->cgctl.version;
	si->max_domains = c->opts.max_domains;
	si->uptime_s = (bh_now_ns() - c->boot_ns) / 1000000000ull;
	snprintf(si->version, sizeof(si->version), "%d.%d", BH_VERSION_MAJOR, BH_VERSION_MINOR);
	bh_strlcpy(si->rundir, c->opts.rundir, sizeof(si->rundir));
	rp->len = sizeof(*si);
	return 0;
}

int hc_readconsole(struct hc_req *rq, struct hc_reply *rp)
{
	struct bh_hc_readconsole_req req;
	struct bh_hc_readconsole_resp *out = (void *)rp->buf;
	uint64_t seq;
	uint32_t n = 0;
	size_t len;

	memcpy(&req, rq->payload, sizeof(req));
	seq = req.from_seq;
	len =
	    klog_read(&rq->core->klog, &seq, (char *)(out + 1), sizeof(rp->buf) - sizeof(*out), &n);
	out->next_seq = seq;
	out->nlines = n;
	out->len = (uint32_t)len;
	rp->len = sizeof(*out) + len;
	return 0;
}
