/* Domain building and teardown (see toolstack.h). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulkhead/xs_wire.h"
#include "common/util.h"
#include "ioctl/bhctl.h"
#include "toolstack/toolstack.h"
#include "toolstack/xspaths.h"
#include "xenstored/bhxs.h"

#define PVKERNEL_IMAGE  "bulkhead-pvkernel"
#define DRIVERDOM_IMAGE "bulkhead-driverdom"
#define DEFAULT_RAMDISK "image:bulkhead-ramdisk.cpio"
#define RAMDISK_TOKEN   "ramdisk"
#define MAX_ARGV        128

static int fail(struct bhtool *t, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct bhtool *t, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
	bh_warn(&t->log, "%s", t->err);
	return rc;
}

int bhtool_init(struct bhtool *t, struct bh_hc_client *hc, struct bhxs *xs)
{
	struct bh_dominfo *v = NULL;
	size_t n = 0;

	memset(t, 0, sizeof(*t));
	bh_log_init(&t->log, "toolstack");
	t->hc = hc;
	t->xs = xs;
	t->store_domid = -1;
	if (bhctl_domain_list(hc, &v, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (v[i].role == BH_ROLE_STORE && v[i].state != BH_DOMSTATE_SHUTDOWN)
				t->store_domid = v[i].domid;
		free(v);
	}
	return 0;
}

static void devs_free(struct bhtool_dev *d)
{
	while (d) {
		struct bhtool_dev *next = d->next;
		if (d->kind == BHTOOL_VBD)
			xlcfg_disk_free(&d->disk);
		else
			xlcfg_vif_free(&d->vif);
		free(d);
		d = next;
	}
}

static void dom_free(struct bhtool_dom *d)
{
	bhwd_dom_fini(&d->wd);
	devs_free(d->devs);
	xlcfg_free(d->cfg);
	free(d);
}

void bhtool_fini(struct bhtool *t)
{
	while (t->doms) {
		struct bhtool_dom *d = t->doms;
		t->doms = d->next;
		dom_free(d);
	}
}

struct bhtool_dom *bhtool_find_dom(struct bhtool *t, uint16_t domid)
{
	for (struct bhtool_dom *d = t->doms; d; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

static void forget_dom(struct bhtool *t, uint16_t domid)
{
	for (struct bhtool_dom **pp = &t->doms; *pp; pp = &(*pp)->next)
		if ((*pp)->domid == domid) {
			struct bhtool_dom *d = *pp;
			*pp = d->next;
			dom_free(d);
			return;
		}
}

int bhtool_lookup(struct bhtool *t, const char *s, uint16_t *domid)
{
	struct bh_dominfo *v = NULL;
	size_t n = 0;
	uint64_t id;
	int rc;

	if (bh_parse_u64(s, 10, &id) == 0 && id <= BH_DOMID_MAX) {
		*domid = (uint16_t)id;
		return 0;
	}
	if ((rc = bhctl_domain_list(t->hc, &v, &n)) < 0)
		return fail(t, rc, "cannot list domains: %s", bh_strerror(rc));
	rc = -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, s) == 0) {
			*domid = v[i].domid;
			rc = 0;
			break;
		}
	free(v);
	if (rc < 0)
		return fail(t, rc, "no domain named '%s'", s);
	return 0;
}

/* ---- the command line the PV kernel boots with ---- */

/* Splits S in place into words the way Linux reads its command line
 * (next_arg, and pvk_cmdline_split in the PV kernel): whitespace
 * separates, double quotes group and are dropped, so `x="a b"` and
 * `"echo a; echo b"` are one word each. */
static int split_words(char *s, const char **argv, size_t *n, size_t cap)
{
	for (;;) {
		char *o;
		bool quoted = false;

		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			return 0;
		if (*n + 1 >= cap)
			return -E2BIG;
		argv[(*n)++] = o = s;
		for (; *s && (quoted || !isspace((unsigned char)*s)); s++) {
			if (*s == '"')
				quoted = !quoted;
			else
				*o++ = *s;
		}
		if (*s)
			s++; /* the separator; the word ends at o */
		*o = '\0';
	}
}

static char *compose_cmdline(const struct bh_domcfg *c)
{
	char *s = NULL;

	if (c->cmdline)
		return strdup(c->cmdline);
	if (asprintf(&s, "%s%s%s%s", c->root ? "root=" : "", c->root ? c->root : "",
	             c->root && c->extra ? " " : "", c->extra ? c->extra : "") < 0)
		return NULL;
	return s;
}

/* ---- devices ---- */

static int backend_of(struct bhtool *t, const char *name, uint16_t *domid, char *bname)
{
	struct bh_dominfo info;
	int rc;

	if (!name) {
		*domid = 0;
		bh_strlcpy(bname, "Domain-0", BH_NAME_MAX);
		return 0;
	}
	if ((rc = bhtool_lookup(t, name, domid)) < 0)
		return fail(t, rc, "backend domain '%s' is not running", name);
	if ((rc = bhctl_domain_getinfo(t->hc, *domid, &info)) < 0)
		return fail(t, rc, "backend domain '%s': %s", name, bh_strerror(rc));
	bh_strlcpy(bname, info.name, BH_NAME_MAX);
	return 0;
}

static int vbd_add(struct bhtool *t, struct bhtool_dom *dom, const struct bh_disk *disk)
{
	struct bhtool_dev *d;
	uint32_t flags;
	int rc;

	if (disk->format != BH_DISK_RAW && disk->format != BH_DISK_EMPTY)
		return fail(t, -EOPNOTSUPP, "disk %s: format=%s is not supported (only raw images)",
		            disk->vdev, xlcfg_format_name(disk->format));
	if (disk->vdev_number < 0)
		return fail(t, -EINVAL, "disk %s: not a virtual device name Xen knows", disk->vdev);
	for (struct bhtool_dev *o = dom->devs; o; o = o->next)
		if (o->kind == BHTOOL_VBD && o->devid == disk->vdev_number)
			return fail(t, -EEXIST, "disk %s: already attached", disk->vdev);
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->kind = BHTOOL_VBD;
	d->devid = disk->vdev_number;
	d->disk = *disk;
	d->disk.target = disk->target ? strdup(disk->target) : NULL;
	d->disk.vdev = strdup(disk->vdev);
	d->disk.backend = disk->backend ? strdup(disk->backend) : NULL;
	d->disk.backendtype = d->disk.script = NULL;
	if ((rc = backend_of(t, disk->backend, &d->backend_domid, d->backend_name)) < 0)
		goto out;
	snprintf(d->token, sizeof(d->token), "vbd-%u-%d", dom->domid, d->devid);
	if (d->disk.target && d->disk.target[0]) {
		flags = d->disk.readonly || d->disk.cdrom ? BH_DEV_RDONLY : 0;
		if ((rc = bhctl_device_assign(t->hc, d->backend_domid, d->token, d->disk.target,
		                              flags)) < 0) {
			rc = fail(t, rc, "disk %s: cannot hand %s to %s: %s%s", disk->vdev,
			          disk->target, d->backend_name, bh_strerror(rc),
			          rc == -EACCES
			              ? " (images must lie below a device directory of the "
			                "core, --device-dir)"
			              : "");
			goto out;
		}
	}
	if (t->xs && (rc = xsp_write_dev(t->xs, dom->domid, d)) < 0) {
		bhctl_device_revoke(t->hc, d->backend_domid, d->token);
		rc = fail(t, rc, "disk %s: store: %s", disk->vdev, bh_strerror(rc));
		goto out;
	}
	d->next = dom->devs;
	dom->devs = d;
	return 0;
out:
	d->next = NULL;
	devs_free(d);
	return rc;
}

static int next_vif_devid(const struct bhtool_dom *dom)
{
	int id = 0;

	for (const struct bhtool_dev *o = dom->devs; o; o = o->next)
		if (o->kind == BHTOOL_VIF && o->devid >= id)
			id = o->devid + 1;
	return id;
}

static int vif_add(struct bhtool *t, struct bhtool_dom *dom, const struct bh_vif *vif)
{
	struct bhtool_dev *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	d->kind = BHTOOL_VIF;
	d->devid = next_vif_devid(dom);
	d->vif = *vif;
#define DUP(f) d->vif.f = vif->f ? strdup(vif->f) : NULL
	DUP(bridge);
	DUP(ip);
	DUP(backend);
	DUP(vifname);
	DUP(model);
	DUP(script);
#undef DUP
	if (!d->vif.has_mac) {
		/* Xen's OUI and a stable tail from domid and devid. */
		uint8_t m[6] = { 0x00,
			         0x16,
			         0x3e,
			         (uint8_t)(dom->domid >> 8),
			         (uint8_t)dom->domid,
			         (uint8_t)d->devid };
		memcpy(d->vif.mac, m, 6);
		d->vif.has_mac = true;
	}
	if ((rc = backend_of(t, vif->backend, &d->backend_domid, d->backend_name)) < 0)
		goto out;
	if (t->xs && (rc = xsp_write_dev(t->xs, dom->domid, d)) < 0) {
		rc = fail(t, rc, "vif %d: store: %s", d->devid, bh_strerror(rc));
		goto out;
	}
	d->next = dom->devs;
	dom->devs = d;
	return 0;
out:
	devs_free(d);
	return rc;
}

static void dev_remove(struct bhtool *t, uint16_t domid, struct bhtool_dev *d)
{
	if (t->xs)
		xsp_remove_dev(t->xs, domid, d);
	if (d->kind == BHTOOL_VBD && d->disk.target && d->disk.target[0])
		bhctl_device_revoke(t->hc, d->backend_domid, d->token);
}

/* ---- create ---- */

static int build_request(struct bhtool *t, const struct bh_domcfg *c, struct bh_hc_create *r,
                         const char **argv, char *cmdbuf)
{
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	r->flags = BH_CREATE_PAUSED;
	r->domid = BH_DOMID_ANY;
	r->store_domid = t->store_domid >= 0 ? (uint16_t)t->store_domid : 0;
	r->console_domid = 0;
	r->vcpus = c->vcpus ? c->vcpus : 1;
	r->weight = c->weight;
	r->cap = c->cap;
	r->mem_kb = (c->memory_mb ? c->memory_mb : 128) * 1024;
	memcpy(r->cpumap, c->cpumap, sizeof(r->cpumap));
	if (strlen(c->name) >= sizeof(r->name))
		return fail(t, -ENAMETOOLONG, "name '%s' is longer than %zu bytes", c->name,
		            sizeof(r->name) - 1);
	bh_strlcpy(r->name, c->name, sizeof(r->name));
	if (c->driver_domain) {
		r->role = BH_ROLE_DRIVER;
		bh_strlcpy(r->label, c->seclabel ? c->seclabel : "system_u:system_r:driver_t",
		           sizeof(r->label));
		bh_strlcpy(r->image, DRIVERDOM_IMAGE, sizeof(r->image));
		r->flags |= BH_CREATE_STANDBY; /* it waits for its start info first */
		argv[n++] = DRIVERDOM_IMAGE;
		if (c->heartbeat_period_ms) { /* the watchdog expects this pace */
			static char hb[16];
			snprintf(hb, sizeof(hb), "%u", c->heartbeat_period_ms);
			argv[n++] = "--heartbeat-ms";
			argv[n++] = hb;
		}
	} else {
		r->role = BH_ROLE_GUEST;
		bh_strlcpy(r->label, c->seclabel ? c->seclabel : "system_u:system_r:domU_t",
		           sizeof(r->label));
		bh_strlcpy(r->image, PVKERNEL_IMAGE, sizeof(r->image));
		argv[n++] = PVKERNEL_IMAGE;
		argv[n++] = "--ramdisk-token";
		argv[n++] = RAMDISK_TOKEN;
		argv[n++] = "--";
		if (cmdbuf && split_words(cmdbuf, argv, &n, MAX_ARGV) < 0)
			return fail(t, -E2BIG, "the kernel command line has too many words");
	}
	argv[n] = NULL;
	return 0;
}

static int check_supported(struct bhtool *t, const struct bh_domcfg *c)
{
	if (c->type == BH_DOMTYPE_HVM)
		return fail(t, -EOPNOTSUPP,
		            "%s: type=\"hvm\": HVM guests are not supported yet; use type=\"pv\"",
		            c->file ? c->file : c->name);
	if (c->kernel && !strstr(c->kernel, PVKERNEL_IMAGE))
		bh_info(&t->log, "%s: kernel=%s ignored: PV guests boot Bulkhead's PV kernel",
		        c->name, c->kernel);
	return 0;
}

/* The store learns of the domain (its directory is written first). */
static int store_introduce(struct bhtool *t, struct bhtool_dom *d)
{
	int rc;

	if (t->xs && t->store_domid >= 0 &&
	    (rc = bhxs_introduce(t->xs, d->domid, BH_GNTTAB_STORE_REF, d->store_port)) < 0)
		return fail(t, rc, "store: introducing domain %u failed: %s", d->domid,
		            bh_strerror(rc));
	return 0;
}

static int introduce(struct bhtool *t, struct bhtool_dom *d)
{
	int rc;

	if (!t->xs)
		return 0;
	if ((rc = xsp_write_domain(t->xs, d->domid, d->cfg, d->store_port, d->console_port,
	                           t->store_domid, false)) < 0)
		return fail(t, rc, "store: cannot write /local/domain/%u: %s", d->domid,
		            bh_strerror(rc));
	return store_introduce(t, d);
}

/* A driver domain's uplink (xl.cfg `uplink`): the core makes the veth pair
 * (again at every restart in place, by itself); the store tells the driver
 * domain which of its bridges the domain end joins:
 * /local/domain/<dd>/uplink/{ifname,bridge}, rewritten after a restart
 * because the store forgets the domain's directory then. */
#define UPLINK_DOM_IFNAME "uplink0"
#define UPLINK_BRIDGE     "xenbr0"

static void uplink_keys(const struct bhtool_dom *d, struct xsp_set *set)
{
	const struct bh_uplink *u = &d->cfg->uplink;
	char p[96];

	if (!u->enabled)
		return;
	snprintf(p, sizeof(p), "/local/domain/%u/uplink/ifname", d->domid);
	xsp_set_key(set, p, UPLINK_DOM_IFNAME);
	snprintf(p, sizeof(p), "/local/domain/%u/uplink/bridge", d->domid);
	xsp_set_key(set, p, u->bridge ? u->bridge : UPLINK_BRIDGE);
}

static int uplink_publish(struct bhtool *t, struct bhtool_dom *d)
{
	struct xsp_set *set;

	if (!d->cfg->uplink.enabled || !t->xs)
		return 0;
	set = xsp_set_new();
	if (set)
		uplink_keys(d, set);
	return xsp_set_write(t->xs, set);
}

static int uplink_add(struct bhtool *t, struct bhtool_dom *d)
{
	const struct bh_uplink *u = &d->cfg->uplink;
	struct bh_hc_device_uplink req = { .domid = d->domid,
		                           .host_ipv4 = u->host_ipv4,
		                           .host_prefixlen =
		                               (uint8_t)(u->host_ipv4 ? u->host_prefix : 0),
		                           .mtu = u->mtu };
	struct bh_hc_device_uplink_resp r;
	int rc;

	if (!u->enabled)
		return 0;
	bh_strlcpy(req.host_ifname, u->host_ifname ? u->host_ifname : "", sizeof(req.host_ifname));
	bh_strlcpy(req.dom_ifname, UPLINK_DOM_IFNAME, sizeof(req.dom_ifname));
	bh_strlcpy(req.host_bridge, u->host_bridge ? u->host_bridge : "", sizeof(req.host_bridge));
	if ((rc = bhctl_device_uplink(t->hc, &req, &r)) < 0)
		return fail(t, rc, "%s: uplink: the core could not create it: %s%s", d->cfg->name,
		            bh_strerror(rc),
		            rc == -EEXIST ? " (the host already has an interface of that name; "
		                            "set host_ifname=)"
		                          : "");
	if ((rc = uplink_publish(t, d)) < 0)
		return fail(t, rc, "%s: uplink: store: %s", d->cfg->name, bh_strerror(rc));
	bh_info(&t->log, "domain %u (%s): uplink %s on the host <-> %s on bridge %s", d->domid,
	        d->cfg->name, r.host_ifname, UPLINK_DOM_IFNAME,
	        u->bridge ? u->bridge : UPLINK_BRIDGE);
	return 0;
}

int bhtool_create(struct bhtool *t, const char *name, const char *text,
                  const char *const *overrides, size_t noverrides, bool paused, bool dry_run,
                  uint16_t *domid_out, struct xlcfg_diags *diags)
{
	const char *argv[MAX_ARGV + 1];
	struct bh_hc_create req;
	struct bh_hc_create_resp resp;
	struct bh_domcfg *cfg = NULL;
	struct bhtool_dom *d;
	char *cmd = NULL;
	uint16_t dummy;
	int rc;

	t->err[0] = 0;
	if ((rc = xlcfg_parse_string(name, text, overrides, noverrides, &cfg, diags)) < 0)
		return fail(t, rc, "%s: configuration has errors", name);
	if ((rc = check_supported(t, cfg)) < 0)
		goto out_cfg;
	if (bhtool_lookup(t, cfg->name, &dummy) == 0) {
		rc = fail(t, -EEXIST, "a domain named '%s' already exists", cfg->name);
		goto out_cfg;
	}
	t->err[0] = 0;
	cmd = compose_cmdline(cfg);
	if ((rc = build_request(t, cfg, &req, argv, cmd)) < 0)
		goto out_cfg;
	if (dry_run) {
		rc = 0;
		goto out_cfg;
	}
	if (!(d = calloc(1, sizeof(*d)))) {
		rc = -ENOMEM;
		goto out_cfg;
	}
	if ((rc = bhctl_domain_create(t->hc, &req, argv, &resp)) < 0) {
		free(d);
		rc = fail(t, rc, "the core refused to create '%s': %s", cfg->name, bh_strerror(rc));
		goto out_cfg;
	}
	d->domid = resp.domid;
	d->generation = resp.generation;
	d->store_port = resp.store_port;
	d->console_port = resp.console_port;
	d->cfg = cfg;
	d->created_ns = bh_now_ns();
	cfg = NULL;
	d->next = t->doms;
	t->doms = d;
	bh_info(&t->log, "domain %u (%s) created", d->domid, d->cfg->name);

	if (!d->cfg->driver_domain) {
		const char *rd = d->cfg->ramdisk ? d->cfg->ramdisk : DEFAULT_RAMDISK;
		if ((rc = bhctl_device_assign(t->hc, d->domid, RAMDISK_TOKEN, rd, BH_DEV_RDONLY)) <
		    0) {
			rc = fail(t, rc, "ramdisk %s: %s%s", rd, bh_strerror(rc),
			          rc == -EACCES ? " (it must lie below a device directory of the "
			                          "core, --device-dir)"
			                        : "");
			goto undo;
		}
	}
	if ((rc = introduce(t, d)) < 0 || (rc = uplink_add(t, d)) < 0)
		goto undo;
	for (size_t i = 0; i < d->cfg->ndisks; i++)
		if ((rc = vbd_add(t, d, &d->cfg->disks[i])) < 0)
			goto undo;
	for (size_t i = 0; i < d->cfg->nvifs; i++)
		if ((rc = vif_add(t, d, &d->cfg->vifs[i])) < 0)
			goto undo;
	if (t->console.add)
		t->console.add(t->console.arg, d->domid, d->cfg->name, d->console_port);
	if (!paused && (rc = bhctl_domain_unpause(t->hc, d->domid)) < 0) {
		rc = fail(t, rc, "unpause: %s", bh_strerror(rc));
		goto undo;
	}
	*domid_out = d->domid;
	free(cmd);
	return 0;
undo : {
	char keep[sizeof(t->err)];
	memcpy(keep, t->err, sizeof(keep));
	bhtool_destroy(t, d->domid);
	memcpy(t->err, keep, sizeof(keep));
}
	free(cmd);
	return rc;
out_cfg:
	free(cmd);
	xlcfg_free(cfg);
	return rc;
}

/* ---- teardown ---- */

static void cleanup_dom(struct bhtool *t, uint16_t domid, const char *why)
{
	struct bhtool_dom *d = bhtool_find_dom(t, domid);

	if (t->console.remove)
		t->console.remove(t->console.arg, domid, why);
	if (d)
		for (struct bhtool_dev *dev = d->devs; dev; dev = dev->next)
			dev_remove(t, domid, dev);
	if (t->xs) {
		if (t->store_domid >= 0)
			bhxs_release(t->xs, domid);
		xsp_remove_domain(t->xs, domid);
	}
}

int bhtool_destroy(struct bhtool *t, uint16_t domid)
{
	struct bh_dominfo info;
	int rc;

	if ((rc = bhctl_domain_getinfo(t->hc, domid, &info)) < 0)
		return fail(t, rc, "domain %u: %s", domid, bh_strerror(rc));
	if (info.role == BH_ROLE_CONTROL || info.role == BH_ROLE_STORE)
		return fail(t, -EPERM,
		            "domain %u (%s) is part of the system and cannot be destroyed", domid,
		            info.name);
	if (bhtool_find_dom(t, domid))
		bhtool_find_dom(t, domid)->dying = true;
	rc = bhctl_domain_destroy(t->hc, domid);
	cleanup_dom(t, domid, "destroyed");
	forget_dom(t, domid);
	if (rc < 0 && rc != -ESRCH)
		return fail(t, rc, "destroy %u: %s", domid, bh_strerror(rc));
	return 0;
}

int bhtool_shutdown(struct bhtool *t, uint16_t domid, uint32_t reason)
{
	int rc;

	if (t->xs)
		xsp_request_shutdown(t->xs, domid, reason);
	if ((rc = bhctl_domain_shutdown(t->hc, domid, reason)) < 0)
		return fail(t, rc, "shutdown %u: %s", domid, bh_strerror(rc));
	return 0;
}

int bhtool_pause(struct bhtool *t, uint16_t domid)
{
	int rc = bhctl_domain_pause(t->hc, domid);
	return rc < 0 ? fail(t, rc, "pause %u: %s", domid, bh_strerror(rc)) : 0;
}

int bhtool_unpause(struct bhtool *t, uint16_t domid)
{
	int rc = bhctl_domain_unpause(t->hc, domid);
	return rc < 0 ? fail(t, rc, "unpause %u: %s", domid, bh_strerror(rc)) : 0;
}

/* ---- resources ---- */

static int setres(struct bhtool *t, struct bh_hc_setres *r, const char *what)
{
	int rc = bhctl_domain_setres(t->hc, r);
	if (rc < 0)
		return fail(t, rc, "%s %u: %s", what, r->domid, bh_strerror(rc));
	return 0;
}

int bhtool_mem_set(struct bhtool *t, uint16_t domid, uint64_t mem_kb)
{
	struct bh_hc_setres r = { .domid = domid, .which = BH_SETRES_MEM, .mem_kb = mem_kb };
	int rc = setres(t, &r, "mem-set");

	if (rc == 0 && t->xs)
		xsp_set_memory(t->xs, domid, mem_kb);
	return rc;
}

int bhtool_vcpu_set(struct bhtool *t, uint16_t domid, unsigned vcpus)
{
	struct bh_hc_setres r = { .domid = domid, .which = BH_SETRES_VCPUS, .vcpus = vcpus };
	return setres(t, &r, "vcpu-set");
}

int bhtool_vcpu_pin(struct bhtool *t, uint16_t domid, const char *cpus)
{
	struct bh_hc_setres r = { .domid = domid, .which = BH_SETRES_CPUMAP };
	struct bh_domcfg *c = NULL;
	struct xlcfg_diags dg = { 0 };
	char *text = NULL;
	int rc;

	/* The same "cpus" grammar as the config file. */
	if (asprintf(&text, "name=\"x\"\ncpus=\"%s\"\n", cpus) < 0)
		return -ENOMEM;
	rc = xlcfg_parse_string("vcpu-pin", text, NULL, 0, &c, &dg);
	free(text);
	if (rc < 0) {
		rc =
		    fail(t, -EINVAL, "vcpu-pin: '%s' is not a CPU list (e.g. 0-3,^2 or all)", cpus);
		xlcfg_diags_free(&dg);
		return rc;
	}
	memcpy(r.cpumap, c->cpumap, sizeof(r.cpumap));
	xlcfg_free(c);
	xlcfg_diags_free(&dg);
	return setres(t, &r, "vcpu-pin");
}

int bhtool_sched_credit(struct bhtool *t, uint16_t domid, int weight, int cap)
{
	struct bh_hc_setres r = { .domid = domid };

	if (weight >= 0) {
		r.which |= BH_SETRES_WEIGHT;
		r.weight = (uint32_t)weight;
	}
	if (cap >= 0) {
		r.which |= BH_SETRES_CAP;
		r.cap = (uint32_t)cap;
	}
	return r.which ? setres(t, &r, "sched-credit") : 0;
}

/* ---- hotplug ---- */

static struct bhtool_dom *known(struct bhtool *t, uint16_t domid)
{
	struct bhtool_dom *d = bhtool_find_dom(t, domid);

	if (!d)
		fail(t, -ENOENT, "domain %u was not built by this toolstack", domid);
	return d;
}

int bhtool_block_attach(struct bhtool *t, uint16_t domid, const char *spec)
{
	struct bhtool_dom *d = known(t, domid);
	struct xlcfg_diags dg = { 0 };
	struct bh_disk disk;
	int rc;

	if (!d)
		return -ENOENT;
	if ((rc = xlcfg_disk_parse(spec, "block-attach", &disk, &dg)) < 0) {
		fail(t, rc, "%s", dg.n ? dg.v[0].msg : "bad disk spec");
		xlcfg_diags_free(&dg);
		return rc;
	}
	xlcfg_diags_free(&dg);
	rc = vbd_add(t, d, &disk);
	xlcfg_disk_free(&disk);
	return rc;
}

static struct bhtool_dev *find_dev(struct bhtool_dom *d, int kind, const char *which)
{
	int num = kind == BHTOOL_VBD ? xlcfg_vdev_to_number(which) : -1;
	long id;

	if (num < 0 && bh_parse_int(which, 10, 0, 0x7fffffff, &id) == 0)
		num = (int)id;
	for (struct bhtool_dev *o = d->devs; o; o = o->next)
		if ((int)o->kind == kind && o->devid == num)
			return o;
	return NULL;
}

static int detach(struct bhtool *t, uint16_t domid, int kind, const char *which)
{
	struct bhtool_dom *d = known(t, domid);
	struct bhtool_dev *dev;

	if (!d)
		return -ENOENT;
	if (!(dev = find_dev(d, kind, which)))
		return fail(t, -ENOENT, "domain %u has no %s '%s'", domid,
		            kind == BHTOOL_VBD ? "disk" : "network interface", which);
	dev_remove(t, domid, dev);
	for (struct bhtool_dev **pp = &d->devs; *pp; pp = &(*pp)->next)
		if (*pp == dev) {
			*pp = dev->next;
			dev->next = NULL;
			devs_free(dev);
			break;
		}
	return 0;
}

int bhtool_block_detach(struct bhtool *t, uint16_t domid, const char *vdev)
{
	return detach(t, domid, BHTOOL_VBD, vdev);
}

int bhtool_network_attach(struct bhtool *t, uint16_t domid, const char *spec)
{
	struct bhtool_dom *d = known(t, domid);
	struct xlcfg_diags dg = { 0 };
	struct bh_vif vif;
	int rc;

	if (!d)
		return -ENOENT;
	if ((rc = xlcfg_vif_parse(spec, "network-attach", &vif, &dg)) < 0) {
		fail(t, rc, "%s", dg.n ? dg.v[0].msg : "bad vif spec");
		xlcfg_diags_free(&dg);
		return rc;
	}
	xlcfg_diags_free(&dg);
	rc = vif_add(t, d, &vif);
	xlcfg_vif_free(&vif);
	return rc;
}

int bhtool_network_detach(struct bhtool *t, uint16_t domid, const char *which)
{
	return detach(t, domid, BHTOOL_VIF, which);
}

int bhtool_dev_state(struct bhtool *t, uint16_t domid, const struct bhtool_dev *d, bool backend)
{
	return t->xs ? xsp_dev_state(t->xs, domid, d, backend) : -ENOTCONN;
}

/* ---- deaths ---- */

static enum bh_action action_for(const struct bh_domcfg *c, uint32_t reason)
{
	switch (reason) {
	case BH_SHUTDOWN_POWEROFF:
		return c->on_poweroff;
	case BH_SHUTDOWN_REBOOT:
		return c->on_reboot;
	case BH_SHUTDOWN_WATCHDOG:
		return c->on_watchdog;
	default:
		return c->on_crash;
	}
}

/* G's disk DEV handed to its backend again after a restart (the core
 * normally still has it: -EEXIST). */
static void assign_again(struct bhtool *t, const struct bhtool_dom *g, const struct bhtool_dev *dev)
{
	int rc;

	if (dev->kind != BHTOOL_VBD || !dev->disk.target || !dev->disk.target[0])
		return;
	rc = bhctl_device_assign(t->hc, dev->backend_domid, dev->token, dev->disk.target,
	                         dev->disk.readonly || dev->disk.cdrom ? BH_DEV_RDONLY : 0);
	if (rc < 0 && rc != -EEXIST)
		bh_warn(&t->log, "domain %u (%s): disk %s: assigning again: %s", g->domid,
		        g->cfg->name, dev->disk.vdev, bh_strerror(rc));
}

/* A driver domain restarted in place: the store dropped the backend
 * directories it owned. Every device it served gets them again, with the
 * frontend's state reset to Initialising as libxl does when it re-adds a
 * backend (the frontend directory written anew), so the restarted backend
 * waits for a fresh handshake instead of attaching to the old ring; then the
 * guest's frontend (pvkernel/vbd.c) sees its backend at InitWait and
 * reconnects. The keys go into SET, which restart() writes with the domain's
 * own directory in one transaction before the unpause. The core keeps a
 * domid's device assignments across a restart; assigning again is for a
 * core that did not, and comes before the store names the device. */
static void reattach_served(struct bhtool *t, struct bhtool_dom *dd, struct xsp_set *set)
{
	char names[256];
	size_t used = 0;
	unsigned n = 0;

	names[0] = '\0';
	for (struct bhtool_dom *g = t->doms; g; g = g->next) {
		bool affected = false;
		if (g == dd || g->dying)
			continue;
		for (struct bhtool_dev *dev = g->devs; dev; dev = dev->next) {
			if (dev->backend_domid != dd->domid)
				continue;
			affected = true;
			n++;
			assign_again(t, g, dev);
			/* The frontend's own keys (ring-ref, event-channel,
			 * ...) lost the dead domain's read permission when the
			 * store released it: both directories start afresh
			 * (removed first, in the same transaction). */
			if (set)
				xsp_set_dev(set, g->domid, dev);
		}
		if (affected && used < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s(%u)",
			                         used ? " " : "", g->cfg->name, g->domid);
	}
	if (n)
		bh_info(&t->log,
		        "driver domain %u (%s) restarted: %u device(s) set up again for %s",
		        dd->domid, dd->cfg->name, n, names);
}

/* The store's part of a restart: the dead generation released, SET
 * written in one transaction, the new one introduced, in three round
 * trips (the release goes with the transaction's start, the introduction
 * with its end) where they were five. */
static void restart_store(struct bhtool *t, struct bhtool_dom *d, struct xsp_set *set)
{
	char dom[16], intro[48];
	int ilen, rc;

	if (!t->xs)
		return;
	if (t->store_domid < 0) {
		if (set && (rc = xsp_set_write(t->xs, set)) < 0)
			bh_warn(&t->log,
			        "domain %u: store: cannot write its directory and devices: %s",
			        d->domid, bh_strerror(rc));
		return;
	}
	snprintf(dom, sizeof(dom), "%u", d->domid);
	ilen = snprintf(intro, sizeof(intro), "%u%c%u", (unsigned)BH_GNTTAB_STORE_REF, '\0',
	                d->store_port) +
	       1;
	struct bhxs_op rel = { .type = XS_RELEASE, .path = dom };
	struct bhxs_op in = {
		.type = XS_INTRODUCE, .path = dom, .val = intro, .len = (size_t)ilen
	};
	if ((rc = xsp_set_write_with(t->xs, set, &rel, 1, &in, 1)) < 0)
		bh_warn(&t->log, "domain %u: store: cannot write its directory and devices: %s",
		        d->domid, bh_strerror(rc));
	if (in.rc < 0)
		bh_warn(&t->log, "store: introducing domain %u failed: %s", d->domid,
		        bh_strerror(in.rc));
	bhxs_pipeline_free(&rel, 1);
	bhxs_pipeline_free(&in, 1);
}

/* A domain restarted in place, in the order its guests need it: the core
 * restarted it (paused); then the store released the dead generation and
 * was told everything it must say about the domain (its directory, the
 * old one removed; its uplink; its own devices; for a driver domain,
 * every device it serves) in one pipelined transaction, so that the new
 * generation's first scan finds its devices, and introduced it
 * (restart_store); the domain unpaused; the console (whose ring keeps
 * what the domain prints meanwhile) last, by console.restarted if the
 * owner has it (dom0 takes it up 10 ms later, off the new generation's
 * connects). The core releasing first is
 * safe: a mapping of the dead generation's store page is told from the
 * new one's by its incarnation. */
static void restart(struct bhtool *t, struct bhtool_dom *d)
{
	struct bh_hc_create_resp resp;
	struct xsp_set *set = NULL;
	int rc;

	for (struct bhtool_dev *dev = d->devs; dev; dev = dev->next)
		dev_remove(t, d->domid, dev);
	if ((rc = bhctl_domain_restart(t->hc, d->domid, &resp)) < 0) {
		if (t->xs && t->store_domid >= 0)
			bhxs_release(t->xs, d->domid);
		bh_warn(&t->log, "domain %u: restart failed: %s", d->domid, bh_strerror(rc));
		cleanup_dom(t, d->domid, "restart failed");
		bhtool_destroy(t, d->domid);
		return;
	}
	d->generation = resp.generation;
	d->store_port = resp.store_port;
	d->console_port = resp.console_port;
	if (t->xs && !(set = xsp_set_new()))
		bh_warn(&t->log, "domain %u: store: %s", d->domid, bh_strerror(-ENOMEM));
	if (set) {
		xsp_set_domain(set, d->domid, d->cfg, d->store_port, d->console_port,
		               t->store_domid, true);
		uplink_keys(d, set);
	}
	for (struct bhtool_dev *dev = d->devs; dev; dev = dev->next) {
		if (set)
			xsp_set_dev(set, d->domid, dev);
		assign_again(t, d, dev);
	}
	if (d->cfg->driver_domain)
		reattach_served(t, d, set);
	restart_store(t, d, set);
	if ((rc = bhctl_domain_unpause(t->hc, d->domid)) < 0)
		bh_warn(&t->log, "domain %u: unpause after restart: %s", d->domid, bh_strerror(rc));
	if (t->console.restarted) {
		t->console.restarted(t->console.arg, d->domid, d->cfg->name, d->console_port);
	} else {
		if (t->console.remove)
			t->console.remove(t->console.arg, d->domid, "restarting");
		if (t->console.add)
			t->console.add(t->console.arg, d->domid, d->cfg->name, d->console_port);
	}
	bh_info(&t->log, "domain %u (%s) restarted, generation %u", d->domid, d->cfg->name,
	        d->generation);
}

void bhtool_restart(struct bhtool *t, struct bhtool_dom *d)
{
	restart(t, d);
}

void bhtool_dom_exc(struct bhtool *t)
{
	struct bh_dominfo *v = NULL;
	size_t n = 0;

	/* States only: the cgroups' usage files were ~0.2 ms of the core's
	 * answer, on the way of a restart. */
	if (bhctl_domain_list_flags(t->hc, BH_LIST_NO_USAGE, &v, &n) < 0)
		return;
	for (struct bhtool_dom *d = t->doms, *next; d; d = next) {
		const struct bh_dominfo *info = NULL;
		next = d->next;
		for (size_t i = 0; i < n; i++)
			if (v[i].domid == d->domid)
				info = &v[i];
		if ((info && info->state != BH_DOMSTATE_SHUTDOWN) ||
		    (info && (d->preserved || d->wd.failed || d->wd.restart_pending)))
			continue;
		if (!info || d->dying) { /* gone behind our back */
			cleanup_dom(t, d->domid, "gone");
			forget_dom(t, d->domid);
			continue;
		}
		enum bh_action a = action_for(d->cfg, info->shutdown_reason);
		d->wd.last_reason = info->shutdown_reason;
		d->wd.last_death_s = (int64_t)time(NULL);
		bh_info(&t->log, "domain %u (%s) shut down: %s%s%s; action %s", d->domid,
		        d->cfg->name, bhctl_reason_name(info->shutdown_reason),
		        info->shutdown_reason == BH_SHUTDOWN_CRASH ? " " : "",
		        info->shutdown_reason == BH_SHUTDOWN_CRASH
		            ? bhctl_crash_name(info->crash_detail)
		            : "",
		        xlcfg_action_name(a));
		switch (a) {
		case BH_ACTION_RESTART:
		case BH_ACTION_RENAME_RESTART:
		case BH_ACTION_COREDUMP_RESTART:
		case BH_ACTION_SOFT_RESET:
			if (t->before_restart && t->before_restart(t, d) != 0)
				break; /* backoff timer, or a crash loop: failed */
			restart(t, d);
			break;
		case BH_ACTION_PRESERVE:
			d->preserved = true;
			break; /* left in the list, as xl does, until destroyed */
		default:
			bhtool_destroy(t, d->domid);
			break;
		}
	}
	free(v);
}
