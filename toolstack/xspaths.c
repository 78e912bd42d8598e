/* Store layout of domains and devices (see xspaths.h). Everything of one
 * domain or device is written in one transaction, so that a backend
 * watching its directory never sees half a device. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulkhead/hypercall.h"
#include "bulkhead/xs_wire.h"
#include "toolstack/xspaths.h"
#include "xenstored/bhxs.h"

#define XENBUS_STATE_INITIALISING 1

/* The requests of one transaction, sent pipelined (bhxs_pipeline): a
 * device's ~25 keys cost one round trip to the store instead of one
 * each, which a driver domain's restart waits for. */
struct xsp_set {
	struct bhxs_op *op;
	size_t n, cap;
	int err;
};

static void add(struct xsp_set *b, uint32_t type, const char *path, const void *val, size_t len)
{
	char *p, *v = NULL;

	if (b->err)
		return;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 32;
		struct bhxs_op *o = realloc(b->op, cap * sizeof(*o));

		if (!o) {
			b->err = -ENOMEM;
			return;
		}
		b->op = o;
		b->cap = cap;
	}
	if (!(p = strdup(path)) || (len && !(v = malloc(len)))) {
		free(p);
		b->err = -ENOMEM;
		return;
	}
	if (len)
		memcpy(v, val, len);
	b->op[b->n++] = (struct bhxs_op){ .type = type, .path = p, .val = v, .len = len };
}

/* Sends the set in transaction TX: 0, or the first request's error
 * (removing what is not there is no error). The set is kept: a
 * conflicting transaction sends it again. */
static int set_send(struct bhxs *xs, bhxs_tx_t tx, void *arg)
{
	struct xsp_set *b = arg;
	int rc = bhxs_pipeline(xs, tx, b->op, b->n);

	for (size_t i = 0; rc == 0 && i < b->n; i++)
		if (b->op[i].rc < 0 && !(b->op[i].type == XS_RM && b->op[i].rc == -ENOENT))
			rc = b->op[i].rc;
	bhxs_pipeline_free(b->op, b->n);
	return rc;
}

struct xsp_set *xsp_set_new(void)
{
	return calloc(1, sizeof(struct xsp_set));
}

void xsp_set_free(struct xsp_set *b)
{
	if (!b)
		return;
	bhxs_pipeline_free(b->op, b->n);
	for (size_t i = 0; i < b->n; i++) {
		free((char *)b->op[i].path);
		free((void *)b->op[i].val);
	}
	free(b->op);
	free(b);
}

int xsp_set_write(struct bhxs *xs, struct xsp_set *b)
{
	int rc;

	if (!b)
		return -ENOMEM;
	rc = b->err ? b->err : bhxs_transaction_run(xs, set_send, b);
	xsp_set_free(b);
	return rc;
}

int xsp_set_write_with(struct bhxs *xs, struct xsp_set *b, struct bhxs_op *before, size_t nb,
                       struct bhxs_op *after, size_t na)
{
	int rc = !b ? -ENOMEM : b->err;

	if (rc < 0) { /* no set to write: BEFORE and AFTER all the same */
		bhxs_pipeline(xs, 0, before, nb);
		bhxs_pipeline(xs, 0, after, na);
	} else {
		rc = bhxs_transaction_run_with(xs, before, nb, set_send, b, after, na);
	}
	xsp_set_free(b);
	return rc;
}

void xsp_set_key(struct xsp_set *b, const char *path, const char *val)
{
	add(b, XS_WRITE, path, val, strlen(val));
}

/* PATH with perms: owner OWNER, and READER (if >= 0) may read. */
static void node(struct xsp_set *b, const char *path, const char *val, int owner, int reader)
{
	char perms[32];
	int n;

	if (val)
		add(b, XS_WRITE, path, val, strlen(val));
	else
		add(b, XS_MKDIR, path, NULL, 0);
	n = snprintf(perms, sizeof(perms), "n%d", owner) + 1;
	if (reader >= 0)
		n += snprintf(perms + n, sizeof(perms) - (size_t)n, "r%d", reader) + 1;
	add(b, XS_SET_PERMS, path, perms, (size_t)n);
}

#define W(path_fmt, val, owner, reader, ...)                                                       \
	do {                                                                                       \
		char p_[256];                                                                      \
		snprintf(p_, sizeof(p_), path_fmt, __VA_ARGS__);                                   \
		node(b, p_, val, owner, reader);                                                   \
	} while (0)

/* A key with its directory's permissions: a node dom0 creates inherits
 * its parent's, so only the value is written (a set-permissions request
 * per key made a driver domain's restart, which rewrites ~45 keys while
 * its guests wait, ~2 ms slower). Only for keys that are new in a
 * directory written in the same transaction (device directories are
 * removed first in it), or that only this code ever wrote with the same
 * permissions (dom0's keys of a domain's directory). */
#define WI(path_fmt, val, ...)                                                                     \
	do {                                                                                       \
		char p_[256];                                                                      \
		const char *v_ = (val);                                                            \
		snprintf(p_, sizeof(p_), path_fmt, __VA_ARGS__);                                   \
		add(b, XS_WRITE, p_, v_, strlen(v_));                                              \
	} while (0)

static void uuid_str(const struct bh_domcfg *c, uint16_t domid, char out[37])
{
	uint8_t u[16] = { 0 };

	if (c->has_uuid)
		memcpy(u, c->uuid, 16);
	else { /* stable per domid, marked as version 4 / variant 1 */
		u[0] = 0xb4;
		u[1] = 0x1c;
		u[14] = (uint8_t)(domid >> 8);
		u[15] = (uint8_t)domid;
		u[6] = 0x40;
		u[8] = 0x80;
	}
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
	         u[13], u[14], u[15]);
}

void xsp_set_domain(struct xsp_set *b, uint16_t domid, const struct bh_domcfg *c,
                    uint32_t store_port, uint32_t console_port, int store_domid, bool replace)
{
	unsigned d = domid;
	char uuid[37], buf[64];

	uuid_str(c, domid, uuid);
	if (replace) {
		snprintf(buf, sizeof(buf), "/local/domain/%u", d);
		add(b, XS_RM, buf, NULL, 0);
	}
	W("/local/domain/%u", NULL, 0, (int)d, d);
	WI("/local/domain/%u/name", c->name, d);
	snprintf(buf, sizeof(buf), "%u", d);
	WI("/local/domain/%u/domid", buf, d);
	snprintf(buf, sizeof(buf), "/vm/%s", uuid);
	WI("/local/domain/%u/vm", buf, d);
	snprintf(buf, sizeof(buf), "%llu",
	         (unsigned long long)(c->memory_mb ? c->memory_mb : 128) * 1024);
	WI("/local/domain/%u/memory/target", buf, d);
	WI("/local/domain/%u/memory/static-max", buf, d);
	for (unsigned i = 0; i < (c->maxvcpus ? c->maxvcpus : (c->vcpus ? c->vcpus : 1)); i++)
		WI("/local/domain/%u/cpu/%u/availability",
		   i < (c->vcpus ? c->vcpus : 1) ? "online" : "offline", d, i);
	if (store_domid >= 0) {
		WI("/local/domain/%u/store/ring-ref", "1", d);
		snprintf(buf, sizeof(buf), "%u", store_port);
		WI("/local/domain/%u/store/port", buf, d);
	}
	WI("/local/domain/%u/console/ring-ref", "0", d);
	snprintf(buf, sizeof(buf), "%u", console_port);
	WI("/local/domain/%u/console/port", buf, d);
	WI("/local/domain/%u/console/type", "xenconsoled", d);
	WI("/local/domain/%u/console/output", "pty", d);
	/* The domain's own: it writes its features, devices' frontends, data. */
	W("/local/domain/%u/control", NULL, (int)d, -1, d);
	W("/local/domain/%u/control/shutdown", "", (int)d, -1, d);
	W("/local/domain/%u/device", NULL, (int)d, -1, d);
	W("/local/domain/%u/data", NULL, (int)d, -1, d);
	W("/local/domain/%u/drivers", NULL, (int)d, -1, d);
	W("/local/domain/%u/feature", NULL, (int)d, -1, d);
	W("/local/domain/%u/attr", NULL, (int)d, -1, d);
	W("/local/domain/%u/error", NULL, (int)d, -1, d);
	if (c->driver_domain)
		W("/local/domain/%u/backend", NULL, (int)d, -1, d);
	W("/vm/%s/name", c->name, 0, (int)d, uuid);
	W("/vm/%s/uuid", uuid, 0, (int)d, uuid);
}

int xsp_write_domain(struct bhxs *xs, uint16_t domid, const struct bh_domcfg *c,
                     uint32_t store_port, uint32_t console_port, int store_domid, bool replace)
{
	struct xsp_set *b = xsp_set_new();

	if (b)
		xsp_set_domain(b, domid, c, store_port, console_port, store_domid, replace);
	return xsp_set_write(xs, b);
}

void xsp_remove_domain(struct bhxs *xs, uint16_t domid)
{
	char p[128], *vm = NULL;
	size_t len;

	snprintf(p, sizeof(p), "/local/domain/%u/vm", domid);
	if (bhxs_read(xs, 0, p, &vm, &len) == 0 && strncmp(vm, "/vm/", 4) == 0)
		bhxs_rm(xs, 0, vm);
	free(vm);
	snprintf(p, sizeof(p), "/local/domain/%u", domid);
	bhxs_rm(xs, 0, p);
}

static const char *kind_dir(const struct bhtool_dev *d)
{
	return d->kind == BHTOOL_VBD ? "vbd" : "vif";
}

/* The frontend and backend directories of D. */
static void dev_dirs(uint16_t domid, const struct bhtool_dev *d, char *fe, char *be, size_t cap)
{
	snprintf(fe, cap, "/local/domain/%u/device/%s/%d", domid, kind_dir(d), d->devid);
	snprintf(be, cap, "/local/domain/%u/backend/%s/%u/%d", d->backend_domid, kind_dir(d), domid,
	         d->devid);
}

/* Both directories start afresh in the transaction (removed, then made
 * with their permissions), so that every key written is new and takes
 * its directory's permissions (WI), and a backend or frontend watching
 * sees the old device replaced by the new one in one step. */
static void write_common(struct xsp_set *b, uint16_t domid, const struct bhtool_dev *d,
                         const char *fe, const char *be)
{
	int fo = domid, bo = d->backend_domid;
	char buf[32];

	add(b, XS_RM, be, NULL, 0);
	add(b, XS_RM, fe, NULL, 0);
	W("%s", NULL, fo, bo, fe);
	WI("%s/backend", be, fe);
	snprintf(buf, sizeof(buf), "%u", d->backend_domid);
	WI("%s/backend-id", buf, fe);
	WI("%s/state", "1", fe);
	W("%s", NULL, bo, fo, be);
	WI("%s/frontend", fe, be);
	snprintf(buf, sizeof(buf), "%u", domid);
	WI("%s/frontend-id", buf, be);
	WI("%s/online", "1", be);
	WI("%s/state", "1", be);
}

static void vbd_keys(struct xsp_set *b, uint16_t domid, const struct bhtool_dev *d)
{
	char fe[160], be[160], buf[32];

	dev_dirs(domid, d, fe, be, sizeof(fe));
	write_common(b, domid, d, fe, be);
	snprintf(buf, sizeof(buf), "%d", d->devid);
	WI("%s/virtual-device", buf, fe);
	WI("%s/device-type", d->disk.cdrom ? "cdrom" : "disk", fe);
	/* params is the assignment token: the backend never sees a host path. */
	WI("%s/params", d->disk.target && d->disk.target[0] ? d->token : "", be);
	WI("%s/mode", d->disk.readonly || d->disk.cdrom ? "r" : "w", be);
	WI("%s/type", "phy", be);
	WI("%s/dev", d->disk.vdev, be);
	WI("%s/device-type", d->disk.cdrom ? "cdrom" : "disk", be);
	WI("%s/removable", d->disk.cdrom ? "1" : "0", be);
	WI("%s/bootable", "1", be);
	if (d->disk.discard >= 0)
		WI("%s/discard-enable", d->disk.discard ? "1" : "0", be);
}

static void vif_keys(struct xsp_set *b, uint16_t domid, const struct bhtool_dev *d)
{
	char fe[160], be[160], buf[64];

	dev_dirs(domid, d, fe, be, sizeof(fe));
	write_common(b, domid, d, fe, be);
	xlcfg_mac_format(d->vif.mac, buf);
	WI("%s/mac", buf, fe);
	WI("%s/mac", buf, be);
	snprintf(buf, sizeof(buf), "%d", d->devid);
	WI("%s/handle", buf, fe);
	WI("%s/handle", buf, be);
	WI("%s/type", "vif", be);
	WI("%s/bridge", d->vif.bridge ? d->vif.bridge : "xenbr0", be);
	if (d->vif.ip)
		WI("%s/ip", d->vif.ip, be);
	if (d->vif.vifname)
		WI("%s/vifname", d->vif.vifname, be);
	if (d->vif.rate_bytes_per_sec) {
		snprintf(buf, sizeof(buf), "%llu,%llu",
		         (unsigned long long)(d->vif.rate_bytes_per_sec *
		                              (d->vif.rate_interval_us ? d->vif.rate_interval_us
		                                                       : 50000) /
		                              1000000),
		         (unsigned long long)(d->vif.rate_interval_us ? d->vif.rate_interval_us
		                                                      : 50000));
		WI("%s/rate", buf, be);
	}
	snprintf(buf, sizeof(buf), "%u", d->vif.mtu ? d->vif.mtu : 1500);
	WI("%s/mtu", buf, be);
}

void xsp_set_dev(struct xsp_set *b, uint16_t domid, const struct bhtool_dev *d)
{
	if (d->kind == BHTOOL_VBD)
		vbd_keys(b, domid, d);
	else
		vif_keys(b, domid, d);
}

int xsp_write_dev(struct bhxs *xs, uint16_t domid, const struct bhtool_dev *d)
{
	struct xsp_set *b = xsp_set_new();

	if (b)
		xsp_set_dev(b, domid, d);
	return xsp_set_write(xs, b);
}

void xsp_remove_dev(struct bhxs *xs, uint16_t domid, const struct bhtool_dev *d)
{
	char fe[160], be[160];

	dev_dirs(domid, d, fe, be, sizeof(fe));
	bhxs_rm(xs, 0, be);
	bhxs_rm(xs, 0, fe);
}

int xsp_dev_state(struct bhxs *xs, uint16_t domid, const struct bhtool_dev *d, bool backend)
{
	char fe[160], be[160], p[200];
	unsigned long long v;
	int rc;

	dev_dirs(domid, d, fe, be, sizeof(fe));
	snprintf(p, sizeof(p), "%s/state", backend ? be : fe);
	if ((rc = bhxs_read_uint(xs, 0, p, &v)) < 0)
		return rc;
	return (int)v;
}

void xsp_request_shutdown(struct bhxs *xs, uint16_t domid, uint32_t reason)
{
	char p[96];

	snprintf(p, sizeof(p), "/local/domain/%u/control/shutdown", domid);
	bhxs_write_str(xs, 0, p, reason == BH_SHUTDOWN_REBOOT ? "reboot" : "poweroff");
}

void xsp_set_memory(struct bhxs *xs, uint16_t domid, uint64_t mem_kb)
{
	char p[96];

	snprintf(p, sizeof(p), "/local/domain/%u/memory/target", domid);
	bhxs_printf(xs, 0, p, "%llu", (unsigned long long)mem_kb);
}
