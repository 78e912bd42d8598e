#include "core/core_testlib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

/* Cgroups that accept everything: the tested code paths do not need them. */
static int ok_ctl(struct bh_cgroup_ctl *ctl)
{
	(void)ctl;
	return 0;
}
static int ok_cg(const struct bh_cgroup_ctl *ctl, struct bh_cgroup *cg)
{
	(void)ctl;
	cg->created = true;
	return 0;
}
static int ok_attach(const struct bh_cgroup_ctl *c, const struct bh_cgroup *g, pid_t p)
{
	(void)c, (void)g, (void)p;
	return 0;
}
static int ok_u64(const struct bh_cgroup_ctl *c, const struct bh_cgroup *g, uint64_t v)
{
	(void)c, (void)g, (void)v;
	return 0;
}
static int ok_cpu(const struct bh_cgroup_ctl *c, const struct bh_cgroup *g, uint32_t a, uint32_t b,
                  uint32_t d)
{
	(void)c, (void)g, (void)a, (void)b, (void)d;
	return 0;
}
static int ok_str(const struct bh_cgroup_ctl *c, const struct bh_cgroup *g, const char *s)
{
	(void)c, (void)g, (void)s;
	return 0;
}
static int ok_u32(const struct bh_cgroup_ctl *c, const struct bh_cgroup *g, uint32_t v)
{
	(void)c, (void)g, (void)v;
	return 0;
}
static int ok_bool(const struct bh_cgroup_ctl *c, const struct bh_cgroup *g, bool v)
{
	(void)c, (void)g, (void)v;
	return 0;
}
static int ok_stats(const struct bh_cgroup_ctl *c, const struct bh_cgroup *g,
                    struct bh_cgroup_stats *s)
{
	(void)c, (void)g;
	memset(s, 0, sizeof(*s));
	return 0;
}
static int ok_remove(const struct bh_cgroup_ctl *c, struct bh_cgroup *g)
{
	(void)c;
	g->created = false;
	return 0;
}

static const struct bh_cgroup_ops null_cgroup_ops = {
	.setup = ok_ctl,
	.create = ok_cg,
	.attach = ok_attach,
	.set_memory = ok_u64,
	.set_cpu = ok_cpu,
	.set_cpuset = ok_str,
	.set_pids = ok_u32,
	.freeze = ok_bool,
	.stats = ok_stats,
	.remove = ok_remove,
};

struct core *tcore_new(void)
{
	struct core *c = calloc(1, sizeof(*c));

	c->base = event_base_new();
	bh_log_init(&c->log, "core-test");
	c->log.max_level = BH_LOG_WARN;
	/* Nothing a test core is asked for can reach the host. */
	bh_strlcpy(c->opts.rundir, "/nonexistent-bulkhead-rundir", sizeof(c->opts.rundir));
	bh_strlcpy(c->opts.image_dir, "/nonexistent-bulkhead-images", sizeof(c->opts.image_dir));
	c->opts.device_dirs[0] = "/nonexistent-bulkhead-devices";
	c->opts.nr_device_dirs = 1;
	c->opts.default_max_grants = 64;
	c->opts.default_max_maptrack = 64;
	c->opts.default_max_ports = 64;
	c->opts.max_domains = 16;
	c->opts.max_taps_per_domain = 4;
	c->cgctl.ops = &null_cgroup_ops;
	c->cgctl.nr_cpus = 2;
	c->cgctl.version = 2;
	c->admin_fd = -1;
	c->home_netns = -1;
	bh_policy_new(&c->log, false, &c->policy);
	return c;
}

void tcore_free(struct core *c)
{
	for (uint32_t id = 0; id <= BH_DOMID_MAX; id++)
		if (c->doms[id])
			tdom_reap(c->doms[id]);
	bh_policy_free(c->policy);
	event_base_free(c->base);
	klog_dispose(&c->klog);
	free(c);
}

struct domain *tdom_add(struct core *c, uint16_t domid, enum bh_role role, bool privileged)
{
	struct domain *d = calloc(1, sizeof(*d));

	d->core = c;
	d->domid = domid;
	d->role = role;
	d->flags = privileged ? BH_CREATE_PRIVILEGED : 0;
	d->state = BH_DOMSTATE_RUNNING;
	d->incarnation = ++c->incarnations;
	d->exe_fd = d->pidfd = d->go_fd = d->chan.fd = -1;
	d->log = c->log;
	d->cfg.max_grants = c->opts.default_max_grants;
	d->cfg.max_maptrack = c->opts.default_max_maptrack;
	d->cfg.max_ports = c->opts.default_max_ports;
	d->cfg.vcpus = 1;
	d->cfg.mem_kb = 65536;
	d->cfg.weight = 256;
	d->store_domid = d->console_domid = BH_DOMID_INVALID;
	snprintf(d->name, sizeof(d->name), "test%u", domid);
	snprintf(d->label, sizeof(d->label), "system_u:system_r:test_t");
	grant_table_init(&d->gt, d->cfg.max_grants);
	maptrack_init(&d->mt, d->cfg.max_maptrack);
	evtchn_table_init(&d->et, d->cfg.max_ports);
	c->doms[domid] = d;
	c->nr_domains++;
	return d;
}

void tdom_die(struct domain *d)
{
	evtchn_table_dispose(d->core, d);
	maptrack_dispose(d->core, d);
	grant_table_dispose(d->core, d);
	d->state = BH_DOMSTATE_SHUTDOWN;
}

void tdom_reap(struct domain *d)
{
	if (d->state != BH_DOMSTATE_SHUTDOWN)
		tdom_die(d);
	d->core->doms[d->domid] = NULL;
	d->core->nr_domains--;
	device_list_dispose(d);
	uplink_dispose(d);
	free(d->argv_blob);
	free(d);
}

int tconn_open(struct core *c, struct hc_conn *hc, uint16_t domid, bool admin, int *peer_out)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	memset(hc, 0, sizeof(*hc));
	hc->core = c;
	hc->fd = sv[0];
	hc->admin = admin;
	hc->domid = domid;
	*peer_out = sv[1];
	return 0;
}

int tcall(struct hc_conn *hc, int peer, uint32_t type, const void *req, size_t len, int *status,
          void *resp, size_t cap, int *fds, size_t *nfds)
{
	unsigned char msg[BH_HC_MAX_MSG + 64];
	struct bh_hc_hdr hdr = { .type = type, .len = (uint32_t)len, .seq = 7 };
	int sink[BH_MAX_FDS_PER_MSG];
	size_t n = 0;
	ssize_t r;
	int rc;

	memcpy(msg, &hdr, sizeof(hdr));
	if (len)
		memcpy(msg + sizeof(hdr), req, len);
	rc = hc_dispatch(hc, msg, sizeof(hdr) + len, NULL, 0);
	if (rc < 0)
		return rc;
	r = bh_recv_fds(peer, msg, sizeof(msg), fds ? fds : sink, fds ? 8 : BH_ARRAY_SIZE(sink),
	                &n);
	if (r < (ssize_t)sizeof(hdr))
		return -EPROTO;
	if (!fds)
		bh_close_fds(sink, n);
	if (nfds)
		*nfds = n;
	memcpy(&hdr, msg, sizeof(hdr));
	*status = hdr.status;
	if (resp)
		memcpy(resp, msg + sizeof(hdr), BH_MIN(cap, (size_t)r - sizeof(hdr)));
	return 0;
}

int tfx_setup(void **state)
{
	struct tfx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->c = tcore_new();
	f->a = tdom_add(f->c, 1, BH_ROLE_GUEST, false);
	f->b = tdom_add(f->c, 2, BH_ROLE_DRIVER, false);
	f->x = tdom_add(f->c, 3, BH_ROLE_GUEST, false);
	*state = f;
	return 0;
}

int tfx_teardown(void **state)
{
	struct tfx *f = *state;

	tcore_free(f->c);
	free(f);
	return 0;
}
