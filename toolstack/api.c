/* Request dispatch of the management API (see api.h): a table of
 * operations, each given the parsed request and a generator for the reply's
 * "result". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "ioctl/bhctl.h"
#include "toolstack/api.h"
#include "toolstack/json.h"
#include "xenstored/bhxs.h"

struct req {
	struct api_ctx *a;
	yajl_val v;
	yajl_gen g; /* positioned inside the reply object, after "ok" */
	struct xlcfg_diags diags;
};

typedef int (*op_fn)(struct req *r);

static int domid_arg(struct req *r, uint16_t *domid)
{
	const char *d = jr_str(r->v, "domain");

	if (!d) {
		snprintf(r->a->t->err, sizeof(r->a->t->err), "missing \"domain\"");
		return -EINVAL;
	}
	return bhtool_lookup(r->a->t, d, domid);
}

static const char *state_flags(const struct bh_dominfo *i, char buf[7])
{
	memcpy(buf, "------", 7);
	if (i->state == BH_DOMSTATE_RUNNING)
		buf[0] = 'r';
	if (i->state == BH_DOMSTATE_PAUSED || i->state == BH_DOMSTATE_BUILDING)
		buf[2] = 'p';
	if (i->state == BH_DOMSTATE_SHUTDOWN) {
		if (i->shutdown_reason == BH_SHUTDOWN_CRASH)
			buf[4] = 'c';
		else
			buf[3] = 's';
	}
	return buf;
}

static void dom_json(struct req *r, const struct bh_dominfo *i, bool long_form)
{
	struct bhtool_dom *d = bhtool_find_dom(r->a->t, i->domid);
	yajl_gen g = r->g;
	char flags[7];
	time_t now = time(NULL);

	yajl_gen_map_open(g);
	jw_int(g, "domid", i->domid);
	jw_str(g, "name", i->name);
	jw_str(g, "state", bhctl_state_name(i->state));
	jw_str(g, "flags", state_flags(i, flags));
	jw_str(g, "role", bhctl_role_name(i->role));
	jw_str(g, "label", i->label);
	jw_int(g, "mem_kb", (long long)i->mem_kb);
	jw_int(g, "mem_used_kb", (long long)i->mem_used_kb);
	jw_int(g, "vcpus", i->vcpus);
	jw_int(g, "weight", i->weight);
	jw_int(g, "cap", i->cap);
	jw_int(g, "cpu_time_ns", (long long)i->cpu_time_ns);
	jw_int(g, "start_time", (long long)i->start_time);
	jw_int(g, "uptime_s",
	       i->start_time && (uint64_t)now > i->start_time
	           ? (long long)((uint64_t)now - i->start_time)
	           : 0);
	jw_int(g, "generation", i->generation);
	if (i->state == BH_DOMSTATE_SHUTDOWN) {
		jw_str(g, "shutdown_reason", bhctl_reason_name(i->shutdown_reason));
		if (i->shutdown_reason == BH_SHUTDOWN_CRASH)
			jw_str(g, "crash", bhctl_crash_name(i->crash_detail));
	}
	if (i->heartbeat_age_ms != UINT64_MAX)
		jw_int(g, "heartbeat_age_ms", (long long)i->heartbeat_age_ms);
	if (d) { /* the watchdog's view: restarts and the last death */
		jw_int(g, "restarts", d->wd.nrestart);
		jw_bool(g, "failed", d->wd.failed);
		jw_bool(g, "restart_pending", d->wd.restart_pending);
		if (d->wd.last_death_s) {
			jw_str(g, "last_shutdown_reason", bhctl_reason_name(d->wd.last_reason));
			jw_int(g, "last_shutdown_time", d->wd.last_death_s);
		}
	}
	if (long_form && d) {
		char *cfg = xlcfg_json_dump(d->cfg);
		jw_raw(g, "config", cfg);
		free(cfg);
	}
	yajl_gen_map_close(g);
}

static int op_list(struct req *r)
{
	struct bh_dominfo *v = NULL;
	size_t n = 0;
	int rc;

	if ((rc = bhctl_domain_list(r->a->t->hc, &v, &n)) < 0)
		return rc;
	jw_key(r->g, "domains");
	yajl_gen_array_open(r->g);
	for (size_t i = 0; i < n; i++)
		dom_json(r, &v[i], jr_bool(r->v, "long", false));
	yajl_gen_array_close(r->g);
	free(v);
	return 0;
}

static int op_info(struct req *r)
{
	struct bh_hc_sysinfo s;
	struct bh_hc_version_resp ver;
	int rc;

	if ((rc = bhctl_sysinfo(r->a->t->hc, &s)) < 0 ||
	    (rc = bhctl_version(r->a->t->hc, &ver)) < 0)
		return rc;
	jw_str(r->g, "hypervisor_version", s.version);
	jw_int(r->g, "hcall_version_major", ver.major);
	jw_int(r->g, "hcall_version_minor", ver.minor);
	jw_int(r->g, "nr_cpus", s.nr_cpus);
	jw_int(r->g, "total_memory_kb", (long long)s.total_mem_kb);
	jw_int(r->g, "free_memory_kb", (long long)s.free_mem_kb);
	jw_int(r->g, "nr_domains", s.nr_domains);
	jw_int(r->g, "max_domains", s.max_domains);
	jw_str(r->g, "cgroup", s.cgroup_version == 2 ? "v2" : "v1");
	jw_int(r->g, "uptime_s", (long long)s.uptime_s);
	jw_str(r->g, "rundir", s.rundir);
	jw_str(r->g, "xenstore_socket", r->a->xenstore_socket);
	jw_str(r->g, "console_socket", r->a->console_socket);
	jw_str(r->g, "console_logdir", r->a->console_logdir);
	jw_int(r->g, "store_domid", r->a->t->store_domid);
	return 0;
}

static int op_create(struct req *r)
{
	const char *file = jr_str(r->v, "file"), *text = jr_str(r->v, "text");
	yajl_val ov = jr_array(r->v, "overrides");
	const char *o[64];
	size_t no = 0;
	uint16_t domid = 0;
	bool dry = jr_bool(r->v, "dry_run", false);
	int rc;

	if (!file || !text)
		return -EINVAL;
	for (size_t i = 0; ov && i < ov->u.array.len && no < BH_ARRAY_SIZE(o); i++)
		if (YAJL_IS_STRING(ov->u.array.values[i]))
			o[no++] = YAJL_GET_STRING(ov->u.array.values[i]);
	rc = bhtool_create(r->a->t, file, text, o, no, jr_bool(r->v, "paused", false), dry, &domid,
	                   &r->diags);
	if (rc == 0 && !dry) {
		struct bhtool_dom *d = bhtool_find_dom(r->a->t, domid);
		if (d) /* left paused on purpose: not a hang */
			d->wd.admin_paused = jr_bool(r->v, "paused", false);
		jw_int(r->g, "domid", domid);
	}
	return rc;
}

/* An administrator's pause is not a hang: the watchdog leaves it alone. */
static int admin_pause(struct bhtool *t, uint16_t domid, bool pause)
{
	struct bhtool_dom *d = bhtool_find_dom(t, domid);
	int rc = pause ? bhtool_pause(t, domid) : bhtool_unpause(t, domid);

	if (rc == 0 && d)
		d->wd.admin_paused = pause;
	return rc;
}

#define DOMID_OP(fname, call)                                                                      \
	static int fname(struct req *r)                                                            \
	{                                                                                          \
		uint16_t domid;                                                                    \
		int rc = domid_arg(r, &domid);                                                     \
		if (rc < 0)                                                                        \
			return rc;                                                                 \
		jw_int(r->g, "domid", domid);                                                      \
		return call;                                                                       \
	}

DOMID_OP(op_destroy, bhtool_destroy(r->a->t, domid))
DOMID_OP(op_shutdown, bhtool_shutdown(r->a->t, domid, BH_SHUTDOWN_POWEROFF))
DOMID_OP(op_reboot, bhtool_shutdown(r->a->t, domid, BH_SHUTDOWN_REBOOT))
DOMID_OP(op_pause, admin_pause(r->a->t, domid, true))
DOMID_OP(op_unpause, admin_pause(r->a->t, domid, false))
DOMID_OP(op_mem_set, bhtool_mem_set(r->a->t, domid, (uint64_t)jr_int(r->v, "mem_kb", 0)))
DOMID_OP(op_vcpu_set, bhtool_vcpu_set(r->a->t, domid, (unsigned)jr_int(r->v, "vcpus", 1)))
DOMID_OP(op_vcpu_pin,
         bhtool_vcpu_pin(r->a->t, domid, jr_str(r->v, "cpus") ? jr_str(r->v, "cpus") : ""))
DOMID_OP(op_sched_credit, bhtool_sched_credit(r->a->t, domid, (int)jr_int(r->v, "weight", -1),
                                              (int)jr_int(r->v, "cap", -1)))
DOMID_OP(op_block_attach,
         bhtool_block_attach(r->a->t, domid, jr_str(r->v, "spec") ? jr_str(r->v, "spec") : ""))
DOMID_OP(op_block_detach,
         bhtool_block_detach(r->a->t, domid, jr_str(r->v, "vdev") ? jr_str(r->v, "vdev") : ""))
DOMID_OP(op_network_attach,
         bhtool_network_attach(r->a->t, domid, jr_str(r->v, "spec") ? jr_str(r->v, "spec") : ""))
DOMID_OP(op_network_detach,
         bhtool_network_detach(r->a->t, domid, jr_str(r->v, "which") ? jr_str(r->v, "which") : ""))

static int op_getinfo(struct req *r)
{
	struct bh_dominfo i;
	uint16_t domid;
	int rc;

	if ((rc = domid_arg(r, &domid)) < 0 ||
	    (rc = bhctl_domain_getinfo(r->a->t->hc, domid, &i)) < 0)
		return rc;
	jw_key(r->g, "domain");
	dom_json(r, &i, true);
	return 0;
}

static int op_devices(struct req *r)
{
	struct bhtool_dom *d;
	uint16_t domid;
	const char *kind = jr_str(r->v, "kind");
	int rc;

	if ((rc = domid_arg(r, &domid)) < 0)
		return rc;
	if (!(d = bhtool_find_dom(r->a->t, domid))) {
		snprintf(r->a->t->err, sizeof(r->a->t->err),
		         "domain %u was not built by this toolstack", domid);
		return -ENOENT;
	}
	jw_key(r->g, "devices");
	yajl_gen_array_open(r->g);
	for (struct bhtool_dev *dev = d->devs; dev; dev = dev->next) {
		if (kind && strcmp(kind, dev->kind == BHTOOL_VBD ? "vbd" : "vif") != 0)
			continue;
		yajl_gen_map_open(r->g);
		jw_str(r->g, "kind", dev->kind == BHTOOL_VBD ? "vbd" : "vif");
		jw_int(r->g, "devid", dev->devid);
		jw_int(r->g, "backend_id", dev->backend_domid);
		jw_str(r->g, "backend", dev->backend_name);
		jw_int(r->g, "frontend_state", bhtool_dev_state(r->a->t, domid, dev, false));
		jw_int(r->g, "backend_state", bhtool_dev_state(r->a->t, domid, dev, true));
		if (dev->kind == BHTOOL_VBD) {
			jw_str(r->g, "vdev", dev->disk.vdev);
			jw_str(r->g, "target", dev->disk.target);
			jw_str(r->g, "mode", dev->disk.readonly || dev->disk.cdrom ? "r" : "w");
		} else {
			char mac[18];
			xlcfg_mac_format(dev->vif.mac, mac);
			jw_str(r->g, "mac", mac);
			jw_str(r->g, "bridge", dev->vif.bridge);
			jw_str(r->g, "ip", dev->vif.ip);
		}
		yajl_gen_map_close(r->g);
	}
	yajl_gen_array_close(r->g);
	return 0;
}

static int op_dmesg(struct req *r)
{
	static char buf[BH_HC_MAX_PAYLOAD + 1];
	size_t len = 0;
	uint64_t seq = jr_bool(r->v, "clear", false) ? r->a->dmesg_seq : 0;
	int rc;

	jw_key(r->g, "lines");
	yajl_gen_array_open(r->g);
	for (int pages = 0; pages < 256; pages++) {
		if ((rc = bhctl_readconsole(r->a->t->hc, &seq, buf, sizeof(buf) - 1, &len)) < 0)
			break;
		if (len == 0)
			break;
		buf[len] = 0;
		for (char *save, *l = strtok_r(buf, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save))
			jw_str(r->g, NULL, l);
	}
	yajl_gen_array_close(r->g);
	r->a->dmesg_seq = seq;
	return 0;
}

static int op_backend_ready(struct req *r)
{
	char p[96], *v = NULL;
	size_t len;
	uint16_t domid;
	int rc;

	if ((rc = domid_arg(r, &domid)) < 0)
		return rc;
	if (!r->a->t->xs) {
		snprintf(r->a->t->err, sizeof(r->a->t->err), "no store: backends cannot run");
		return -ENOTCONN;
	}
	snprintf(p, sizeof(p), "/local/domain/%u/data/backend-ready", domid);
	rc = bhxs_read(r->a->t->xs, 0, p, &v, &len);
	jw_bool(r->g, "ready", rc == 0 && len >= 1 && v[0] == '1');
	free(v);
	return 0;
}

/* The guests whose devices a driver domain serves. */
static int op_deps(struct req *r)
{
	uint16_t domid;
	int rc;

	if ((rc = domid_arg(r, &domid)) < 0)
		return rc;
	jw_int(r->g, "domid", domid);
	jw_key(r->g, "dependents");
	yajl_gen_array_open(r->g);
	for (struct bhtool_dom *g = r->a->t->doms; g; g = g->next) {
		bool open = false;
		for (struct bhtool_dev *dev = g->devs; dev; dev = dev->next) {
			if (dev->backend_domid != domid || g->domid == domid)
				continue;
			if (!open) {
				yajl_gen_map_open(r->g);
				jw_int(r->g, "domid", g->domid);
				jw_str(r->g, "name", g->cfg->name);
				jw_key(r->g, "devices");
				yajl_gen_array_open(r->g);
				open = true;
			}
			yajl_gen_map_open(r->g);
			jw_str(r->g, "kind", dev->kind == BHTOOL_VBD ? "vbd" : "vif");
			jw_int(r->g, "devid", dev->devid);
			if (dev->kind == BHTOOL_VBD)
				jw_str(r->g, "vdev", dev->disk.vdev);
			yajl_gen_map_close(r->g);
		}
		if (open) {
			yajl_gen_array_close(r->g);
			yajl_gen_map_close(r->g);
		}
	}
	yajl_gen_array_close(r->g);
	return 0;
}

static int op_inject(struct req *r)
{
	enum bhwd_fault f;
	uint16_t domid;
	char hit[160] = "";
	long long ms = jr_int(r->v, "ms", -1); /* absent: the default */
	int rc;

	if ((rc = domid_arg(r, &domid)) < 0)
		return rc;
	if (bhwd_fault_parse(jr_str(r->v, "fault"), &f) < 0) {
		snprintf(r->a->t->err, sizeof(r->a->t->err),
		         "unknown fault \"%s\" (crash, hang, corrupt, drop-notify, close-channel)",
		         jr_str(r->v, "fault") ? jr_str(r->v, "fault") : "");
		return -EINVAL;
	}
	if (ms < -1 || ms > 3600000) {
		snprintf(r->a->t->err, sizeof(r->a->t->err), "ms %lld out of range (0..3600000)",
		         ms);
		return -EINVAL;
	}
	jw_int(r->g, "domid", domid);
	jw_str(r->g, "fault", bhwd_fault_name(f));
	rc = bhwd_inject(r->a->t, domid, f, jr_str(r->v, "device"),
	                 ms < 0 ? BHWD_DEFAULT_DROP_MS : (unsigned)ms, hit, sizeof(hit));
	if (rc == 0 && hit[0])
		jw_str(r->g, "hit", hit);
	return rc;
}

static const struct {
	const char *name;
	op_fn fn;
} ops[] = {
	{ "list", op_list },
	{ "info", op_info },
	{ "getinfo", op_getinfo },
	{ "create", op_create },
	{ "destroy", op_destroy },
	{ "shutdown", op_shutdown },
	{ "reboot", op_reboot },
	{ "pause", op_pause },
	{ "unpause", op_unpause },
	{ "mem-set", op_mem_set },
	{ "vcpu-set", op_vcpu_set },
	{ "vcpu-pin", op_vcpu_pin },
	{ "sched-credit", op_sched_credit },
	{ "block-attach", op_block_attach },
	{ "block-detach", op_block_detach },
	{ "network-attach", op_network_attach },
	{ "network-detach", op_network_detach },
	{ "devices", op_devices },
	{ "dmesg", op_dmesg },
	{ "backend-ready", op_backend_ready },
	{ "deps", op_deps },
	{ "inject", op_inject },
};

static char *finish(yajl_gen g)
{
	const unsigned char *buf;
	size_t len;
	char *out;

	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok || !(out = malloc(len + 2))) {
		yajl_gen_free(g);
		return NULL;
	}
	memcpy(out, buf, len);
	out[len] = '\n';
	out[len + 1] = 0;
	yajl_gen_free(g);
	return out;
}

char *api_handle(struct api_ctx *a, const char *line, size_t len)
{
	struct req r = { .a = a };
	char err[256] = "", *text;
	const char *op;
	yajl_gen result;
	int rc = -EINVAL;

	/* The reply is generated in two parts: result members into their own
	 * generator first, since "ok" must reflect how the op ended. */
	if (!(text = strndup(line, len)))
		return NULL;
	r.v = yajl_tree_parse(text, err, sizeof(err));
	free(text);
	result = jw_new();
	r.g = result;
	yajl_gen_map_open(result);
	a->t->err[0] = 0;
	if (!r.v || !YAJL_IS_OBJECT(r.v)) {
		snprintf(a->t->err, sizeof(a->t->err), "request is not a JSON object%s%s",
		         err[0] ? ": " : "", err);
	} else if (!(op = jr_str(r.v, "op"))) {
		snprintf(a->t->err, sizeof(a->t->err), "request has no \"op\"");
	} else {
		size_t i;
		for (i = 0; i < BH_ARRAY_SIZE(ops); i++)
			if (strcmp(ops[i].name, op) == 0)
				break;
		if (i == BH_ARRAY_SIZE(ops)) {
			snprintf(a->t->err, sizeof(a->t->err), "unknown op \"%s\"", op);
		} else {
			rc = ops[i].fn(&r);
		}
	}
	yajl_gen_map_close(result);

	yajl_gen g = jw_new();
	const unsigned char *rbuf;
	size_t rlen;
	yajl_gen_map_open(g);
	jw_bool(g, "ok", rc >= 0);
	if (rc < 0) {
		jw_str(g, "error", a->t->err[0] ? a->t->err : bh_strerror(rc));
		jw_int(g, "errno", -rc);
	}
	if (r.diags.n) {
		jw_key(g, "diagnostics");
		yajl_gen_array_open(g);
		for (size_t i = 0; i < r.diags.n; i++) {
			const struct xlcfg_diag *d = &r.diags.v[i];
			char *s = NULL;
			if (asprintf(&s, "%s:%u:%u: %s: %s", d->file ? d->file : "<command line>",
			             d->line, d->col,
			             d->severity == XLCFG_ERROR ? "error" : "warning",
			             d->msg) >= 0) {
				jw_str(g, NULL, s);
				free(s);
			}
		}
		yajl_gen_array_close(g);
	}
	if (rc >= 0 && yajl_gen_get_buf(result, &rbuf, &rlen) == yajl_gen_status_ok) {
		char *res = strndup((const char *)rbuf, rlen);
		jw_raw(g, "result", res);
		free(res);
	}
	yajl_gen_free(result);
	xlcfg_diags_free(&r.diags);
	yajl_tree_free(r.v);
	return finish(g);
}
