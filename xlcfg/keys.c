/* One handler per xl.cfg key, applied to the merged settings, then the
 * rules that need several keys (defaults, maxmem >= memory, cmdline). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg/xlcfg_int.h"

struct ctx {
	struct bh_domcfg *cfg;
	struct xlcfg_diags *d;
	int rc;
	bool have_type, have_maxmem, have_maxvcpus, have_on_reboot;
	bool have_on_crash, have_on_watchdog; /* else a driver domain restarts */
	struct xlcfg_pos builder_at, cmdline_at, maxmem_at, maxvcpus_at, cap_at, hb_at, uplink_at;
	bool have_builder;
	enum bh_domtype builder_type;
};

static void err(struct ctx *c, struct xlcfg_pos at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err(struct ctx *c, struct xlcfg_pos at, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	xlcfg_err(c->d, at, "%s", msg ? msg : "error");
	free(msg);
	c->rc = -EINVAL;
}

/* Reports and leaves the handler. */
#define FAIL(...)                                                                                  \
	do {                                                                                       \
		err(__VA_ARGS__);                                                                  \
		return;                                                                            \
	} while (0)

/* The value as a string atom, or NULL after an error. */
static const char *atom(struct ctx *c, const struct xsetting *e)
{
	if (e->val.is_list) {
		err(c, e->val.at, "%s: expected a single value, got a list", e->key);
		return NULL;
	}
	return e->val.s;
}

static int number(struct ctx *c, const struct xsetting *e, uint64_t min, uint64_t max,
                  uint64_t *out)
{
	const char *s = atom(c, e);
	char *end;
	uint64_t v;

	if (!s)
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (!isdigit((unsigned char)*s) || *end || errno) {
		err(c, e->val.at, "%s: expected a number, got \"%s\"", e->key, s);
		return -EINVAL;
	}
	if (v < min || v > max) {
		err(c, e->val.at, "%s: %s is out of range (%llu to %llu)", e->key, s,
		    (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static void set_u64(struct ctx *c, const struct xsetting *e, uint64_t min, uint64_t max,
                    uint64_t *field)
{
	uint64_t v;

	if (!number(c, e, min, max, &v))
		*field = v;
}

static void set_uint(struct ctx *c, const struct xsetting *e, uint64_t min, uint64_t max,
                     unsigned *field)
{
	uint64_t v;

	if (!number(c, e, min, max, &v))
		*field = (unsigned)v;
}

static void set_string(struct ctx *c, const struct xsetting *e, char **field)
{
	const char *s = atom(c, e);

	if (s) {
		free(*field);
		*field = xlcfg_strdup(s);
	}
}

static void k_name(struct ctx *c, const struct xsetting *e)
{
	const char *s = atom(c, e);

	if (!s)
		return;
	/* Bulkhead uses names in paths and store keys: keep them plain. */
	if (!*s || strlen(s) > 64 || strspn(s, "0123456789") == strlen(s) ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
	        strlen(s) ||
	    s[0] == '.' || s[0] == '-') {
		err(c, e->val.at,
		    "name: expected 1 to 64 of A-Z a-z 0-9 _ . - (not all digits, not starting "
		    "with "
		    ". or -), got \"%s\"",
		    s);
		return;
	}
	if (!strcmp(s, "Domain-0")) {
		err(c, e->val.at, "name: \"Domain-0\" is reserved for the control domain");
		return;
	}
	set_string(c, e, &c->cfg->name);
	c->cfg->name_line = e->at.line;
}

static void k_type(struct ctx *c, const struct xsetting *e)
{
	const char *s = atom(c, e);

	if (!s)
		return;
	if (!strcmp(s, "pv"))
		c->cfg->type = BH_DOMTYPE_PV;
	else if (!strcmp(s, "hvm"))
		c->cfg->type = BH_DOMTYPE_HVM;
	else if (!strcmp(s, "pvh"))
		FAIL(c, e->val.at, "type: \"pvh\" is not supported by Bulkhead (use pv or hvm)");
	else
		FAIL(c, e->val.at, "type: expected \"pv\" or \"hvm\", got \"%s\"", s);
	c->have_type = true;
}

/* The deprecated builder= ("generic" is PV); type= wins when both. */
static void k_builder(struct ctx *c, const struct xsetting *e)
{
	const char *s = atom(c, e);

	if (!s)
		return;
	if (!strcmp(s, "hvm"))
		c->builder_type = BH_DOMTYPE_HVM;
	else if (!strcmp(s, "generic"))
		c->builder_type = BH_DOMTYPE_PV;
	else
		FAIL(c, e->val.at, "builder: expected \"generic\" or \"hvm\", got \"%s\"", s);
	c->have_builder = true;
	c->builder_at = e->at;
}

static void k_memory(struct ctx *c, const struct xsetting *e)
{
	set_u64(c, e, 1, 1ull << 24, &c->cfg->memory_mb);
}

static void k_maxmem(struct ctx *c, const struct xsetting *e)
{
	set_u64(c, e, 1, 1ull << 24, &c->cfg->maxmem_mb);
	c->have_maxmem = true;
	c->maxmem_at = e->val.at;
}

static void k_vcpus(struct ctx *c, const struct xsetting *e)
{
	set_uint(c, e, 1, 256, &c->cfg->vcpus);
}

static void k_maxvcpus(struct ctx *c, const struct xsetting *e)
{
	set_uint(c, e, 1, 256, &c->cfg->maxvcpus);
	c->have_maxvcpus = true;
	c->maxvcpus_at = e->val.at;
}

static int cpus_one(struct ctx *c, const struct xsetting *e, const struct xv *v, uint64_t map[4])
{
	const char *why = NULL;

	if (v->is_list) {
		err(c, v->at, "cpus: expected a CPU list string, got a nested list");
		return -EINVAL;
	}
	if (xlcfg_cpus_parse(v->s, map, &why)) {
		err(c, v->at, "cpus: \"%s\": %s", v->s, why);
		return -EINVAL;
	}
	return 0;
}

/* "0-3,^2" for every vCPU, or a list with one entry per vCPU. */
static void k_cpus(struct ctx *c, const struct xsetting *e)
{
	struct bh_domcfg *cfg = c->cfg;

	free(cfg->vcpu_cpumaps);
	cfg->vcpu_cpumaps = NULL;
	cfg->nvcpu_cpumaps = 0;
	memset(cfg->cpumap, 0, sizeof(cfg->cpumap));
	if (!e->val.is_list) {
		cpus_one(c, e, &e->val, cfg->cpumap);
		return;
	}
	if (!e->val.n || e->val.n > 256)
		FAIL(c, e->val.at, "cpus: expected a list of 1 to 256 entries (one per vCPU)");
	cfg->vcpu_cpumaps = xlcfg_calloc(e->val.n, sizeof(*cfg->vcpu_cpumaps));
	cfg->nvcpu_cpumaps = e->val.n;
	for (size_t i = 0; i < e->val.n; i++) {
		if (cpus_one(c, e, &e->val.items[i], cfg->vcpu_cpumaps[i]))
			return;
		for (int w = 0; w < 4; w++)
			cfg->cpumap[w] |= cfg->vcpu_cpumaps[i][w];
	}
}

static void k_weight(struct ctx *c, const struct xsetting *e)
{
	set_uint(c, e, 1, 65535, &c->cfg->weight);
}

static void k_cap(struct ctx *c, const struct xsetting *e)
{
	set_uint(c, e, 0, 25600, &c->cfg->cap);
	c->cap_at = e->val.at;
}

static void k_kernel(struct ctx *c, const struct xsetting *e)
{
	set_string(c, e, &c->cfg->kernel);
}

static void k_ramdisk(struct ctx *c, const struct xsetting *e)
{
	set_string(c, e, &c->cfg->ramdisk);
}

static void k_cmdline(struct ctx *c, const struct xsetting *e)
{
	set_string(c, e, &c->cfg->cmdline);
	c->cmdline_at = e->at;
}

static void k_root(struct ctx *c, const struct xsetting *e)
{
	set_string(c, e, &c->cfg->root);
}

static void k_extra(struct ctx *c, const struct xsetting *e)
{
	set_string(c, e, &c->cfg->extra);
}

/* disk and vif: a list of spec strings, each parsed where it was written. */
static bool spec_list(struct ctx *c, const struct xsetting *e)
{
	if (!e->val.is_list) {
		err(c, e->val.at, "%s: expected a list of strings, e.g. %s = [ '...' ]", e->key,
		    e->key);
		return false;
	}
	for (size_t i = 0; i < e->val.n; i++) {
		if (e->val.items[i].is_list) {
			err(c, e->val.items[i].at, "%s: expected a string, got a list", e->key);
			return false;
		}
	}
	return true;
}

static void k_disk(struct ctx *c, const struct xsetting *e)
{
	struct bh_domcfg *cfg = c->cfg;

	for (size_t i = 0; i < cfg->ndisks; i++)
		xlcfg_disk_free(&cfg->disks[i]);
	cfg->ndisks = 0;
	if (!spec_list(c, e))
		return;
	cfg->disks = xlcfg_reallocarray(cfg->disks, e->val.n, sizeof(*cfg->disks));
	for (size_t i = 0; i < e->val.n; i++) {
		const struct xv *v = &e->val.items[i];

		if (xlcfg_disk_parse_at(v->s, v->at, &cfg->disks[cfg->ndisks], c->d)) {
			c->rc = -EINVAL;
			continue;
		}
		for (size_t j = 0; j < cfg->ndisks; j++) {
			if (cfg->disks[j].vdev_number == cfg->disks[cfg->ndisks].vdev_number) {
				err(c, v->at,
				    "disk: vdev %s is already used by the disk at line %u",
				    cfg->disks[cfg->ndisks].vdev, cfg->disks[j].line);
				break;
			}
		}
		cfg->ndisks++;
	}
}

static void k_vif(struct ctx *c, const struct xsetting *e)
{
	struct bh_domcfg *cfg = c->cfg;

	for (size_t i = 0; i < cfg->nvifs; i++)
		xlcfg_vif_free(&cfg->vifs[i]);
	cfg->nvifs = 0;
	if (!spec_list(c, e))
		return;
	cfg->vifs = xlcfg_reallocarray(cfg->vifs, e->val.n, sizeof(*cfg->vifs));
	for (size_t i = 0; i < e->val.n; i++) {
		const struct xv *v = &e->val.items[i];

		if (xlcfg_vif_parse_at(v->s, v->at, &cfg->vifs[cfg->nvifs], c->d))
			c->rc = -EINVAL;
		else
			cfg->nvifs++;
	}
}

static const char *const actions[] = {
	[BH_ACTION_DESTROY] = "destroy",
	[BH_ACTION_RESTART] = "restart",
	[BH_ACTION_RENAME_RESTART] = "rename-restart",
	[BH_ACTION_PRESERVE] = "preserve",
	[BH_ACTION_COREDUMP_DESTROY] = "coredump-destroy",
	[BH_ACTION_COREDUMP_RESTART] = "coredump-restart",
	[BH_ACTION_SOFT_RESET] = "soft-reset",
};

const char *xlcfg_action_name(enum bh_action a)
{
	return (unsigned)a < sizeof(actions) / sizeof(actions[0]) ? actions[a] : "?";
}

static void set_action(struct ctx *c, const struct xsetting *e, enum bh_action *field)
{
	const char *s = atom(c, e);

	if (!s)
		return;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (!strcmp(s, actions[i])) {
			*field = (enum bh_action)i;
			return;
		}
	}
	err(c, e->val.at,
	    "%s: expected destroy, restart, rename-restart, preserve, coredump-destroy, "
	    "coredump-restart or soft-reset, got \"%s\"",
	    e->key, s);
}

static void k_on_poweroff(struct ctx *c, const struct xsetting *e)
{
	set_action(c, e, &c->cfg->on_poweroff);
}

static void k_on_reboot(struct ctx *c, const struct xsetting *e)
{
	set_action(c, e, &c->cfg->on_reboot);
}

static void k_on_crash(struct ctx *c, const struct xsetting *e)
{
	set_action(c, e, &c->cfg->on_crash);
	c->have_on_crash = true;
}

static void k_on_watchdog(struct ctx *c, const struct xsetting *e)
{
	set_action(c, e, &c->cfg->on_watchdog);
	c->have_on_watchdog = true;
}

/* Booleans are numbers, 0 false, as libxlu's get_defbool. */
static void k_driver_domain(struct ctx *c, const struct xsetting *e)
{
	uint64_t v;

	if (!number(c, e, 0, 1, &v))
		c->cfg->driver_domain = v;
}

static void k_seclabel(struct ctx *c, const struct xsetting *e)
{
	set_string(c, e, &c->cfg->seclabel);
}

static int hexval(char h)
{
	return isdigit((unsigned char)h) ? h - '0' : tolower((unsigned char)h) - 'a' + 10;
}

static void k_uuid(struct ctx *c, const struct xsetting *e)
{
	const char *s = atom(c, e), *p;
	int n = 0;

	if (!s)
		return;
	for (p = s; *p && n < 16; n++) {
		if (n == 4 || n == 6 || n == 8 || n == 10) {
			if (*p++ != '-')
				break;
		}
		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]))
			break;
		c->cfg->uuid[n] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
		p += 2;
	}
	if (n != 16 || *p) {
		memset(c->cfg->uuid, 0, sizeof(c->cfg->uuid));
		FAIL(c, e->val.at,
		     "uuid: expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex), got \"%s\"", s);
	}
	c->cfg->has_uuid = true;
}

static void k_device_model_args(struct ctx *c, const struct xsetting *e)
{
	struct bh_domcfg *cfg = c->cfg;

	if (!spec_list(c, e))
		return;
	for (size_t i = 0; i < cfg->ndevice_model_args; i++)
		free(cfg->device_model_args[i]);
	free(cfg->device_model_args);
	cfg->device_model_args = xlcfg_calloc(e->val.n, sizeof(char *));
	for (size_t i = 0; i < e->val.n; i++)
		cfg->device_model_args[i] = xlcfg_strdup(e->val.items[i].s);
	cfg->ndevice_model_args = e->val.n;
}

static void k_heartbeat_period(struct ctx *c, const struct xsetting *e)
{
	set_uint(c, e, 1, 3600000, &c->cfg->heartbeat_period_ms);
}

static void k_heartbeat_timeout(struct ctx *c, const struct xsetting *e)
{
	set_uint(c, e, 1, 3600000, &c->cfg->heartbeat_timeout_ms);
	c->hb_at = e->val.at;
}

static void k_restart_limit(struct ctx *c, const struct xsetting *e)
{
	set_uint(c, e, 0, 1000, &c->cfg->restart_limit);
}

static void k_restart_window(struct ctx *c, const struct xsetting *e)
{
	set_uint(c, e, 0, 86400, &c->cfg->restart_window_s);
}

/* uplink = "KEY=VALUE,...": one spec string (a list is a mistake). */
static void k_uplink(struct ctx *c, const struct xsetting *e)
{
	const char *s = atom(c, e);

	xlcfg_uplink_free(&c->cfg->uplink);
	if (!s)
		return;
	c->uplink_at = e->val.at;
	if (xlcfg_uplink_parse_at(s, e->val.at, &c->cfg->uplink, c->d))
		c->rc = -EINVAL;
}

static const struct keydef {
	const char *name;
	void (*apply)(struct ctx *c, const struct xsetting *e);
} keydefs[] = {
	{ "name", k_name },
	{ "type", k_type },
	{ "builder", k_builder },
	{ "memory", k_memory },
	{ "maxmem", k_maxmem },
	{ "vcpus", k_vcpus },
	{ "maxvcpus", k_maxvcpus },
	{ "cpus", k_cpus },
	{ "cpu_weight", k_weight },
	{ "weight", k_weight },
	{ "cap", k_cap },
	{ "kernel", k_kernel },
	{ "ramdisk", k_ramdisk },
	{ "cmdline", k_cmdline },
	{ "root", k_root },
	{ "extra", k_extra },
	{ "disk", k_disk },
	{ "vif", k_vif },
	{ "on_poweroff", k_on_poweroff },
	{ "on_reboot", k_on_reboot },
	{ "on_crash", k_on_crash },
	{ "on_watchdog", k_on_watchdog },
	{ "driver_domain", k_driver_domain },
	{ "seclabel", k_seclabel },
	{ "uuid", k_uuid },
	{ "device_model_args", k_device_model_args },
	{ "heartbeat_period", k_heartbeat_period },
	{ "heartbeat_timeout", k_heartbeat_timeout },
	{ "restart_limit", k_restart_limit },
	{ "restart_window", k_restart_window },
	{ "uplink", k_uplink },
};

static void apply_one(struct ctx *c, const struct xsetting *e)
{
	for (size_t i = 0; i < sizeof(keydefs) / sizeof(keydefs[0]); i++) {
		if (!strcmp(e->key, keydefs[i].name)) {
			keydefs[i].apply(c, e);
			return;
		}
	}
	if (xlcfg_xen_key_known(e->key))
		xlcfg_warn(c->d, e->at, "%s: a Xen key that Bulkhead does not support; ignored",
		           e->key);
	else
		xlcfg_warn(c->d, e->at, "unknown key \"%s\"; ignored (as xl does)", e->key);
}

/* xl's rule: cmdline wins; else "root=ROOT EXTRA". */
static void compose_cmdline(struct ctx *c)
{
	struct bh_domcfg *cfg = c->cfg;
	char *s = NULL;

	if (cfg->cmdline) {
		if (cfg->root || cfg->extra)
			xlcfg_warn(c->d, c->cmdline_at,
			           "cmdline: set, so root and extra are ignored");
		return;
	}
	if (cfg->root && asprintf(&s, "root=%s%s%s", cfg->root, cfg->extra ? " " : "",
	                          cfg->extra ? cfg->extra : "") < 0)
		abort();
	if (!cfg->root && cfg->extra)
		s = xlcfg_strdup(cfg->extra);
	cfg->cmdline = s;
}

static void finish(struct ctx *c)
{
	struct bh_domcfg *cfg = c->cfg;
	struct xlcfg_pos top = { cfg->file, 1, 1 };

	if (!c->have_type && c->have_builder)
		cfg->type = c->builder_type;
	if (c->have_builder)
		xlcfg_warn(c->d, c->builder_at, "builder: deprecated; write type = \"%s\"%s",
		           cfg->type == BH_DOMTYPE_HVM ? "hvm" : "pv",
		           c->have_type ? " (type is also set and wins)" : "");
	if (!c->have_maxmem)
		cfg->maxmem_mb = cfg->memory_mb;
	if (!c->have_maxvcpus)
		cfg->maxvcpus = cfg->vcpus;
	/* Rules across keys only once each key is valid on its own. */
	if (c->rc)
		return;
	if (cfg->maxmem_mb < cfg->memory_mb)
		err(c, c->maxmem_at, "maxmem: %llu is less than memory (%llu)",
		    (unsigned long long)cfg->maxmem_mb, (unsigned long long)cfg->memory_mb);
	if (cfg->maxvcpus < cfg->vcpus)
		err(c, c->maxvcpus_at, "maxvcpus: %u is less than vcpus (%u)", cfg->maxvcpus,
		    cfg->vcpus);
	if (cfg->cap > 100 * cfg->maxvcpus)
		err(c, c->cap_at, "cap: %u%% is more than 100%% per vCPU (at most %u%%)", cfg->cap,
		    100 * cfg->maxvcpus);
	if (cfg->heartbeat_period_ms && cfg->heartbeat_timeout_ms &&
	    cfg->heartbeat_timeout_ms <= cfg->heartbeat_period_ms)
		err(c, c->hb_at,
		    "heartbeat_timeout: %u ms must be longer than heartbeat_period (%u ms)",
		    cfg->heartbeat_timeout_ms, cfg->heartbeat_period_ms);
	if (cfg->uplink.enabled && !cfg->driver_domain)
		err(c, c->uplink_at,
		    "uplink: only a driver domain has an uplink (set driver_domain = 1, and give "
		    "guests a vif on its bridge)");
	if (!cfg->name)
		err(c, top, "name: missing (every domain needs name = \"...\")");
	compose_cmdline(c);
}

int xlcfg_apply(struct bh_domcfg *cfg, const struct xsettings *m, struct xlcfg_diags *d)
{
	struct ctx c = { .cfg = cfg, .d = d };

	cfg->type = BH_DOMTYPE_PV;
	cfg->memory_mb = 128;
	cfg->vcpus = 1;
	cfg->on_poweroff = BH_ACTION_DESTROY;
	cfg->on_reboot = BH_ACTION_RESTART;
	cfg->on_crash = BH_ACTION_DESTROY;
	cfg->on_watchdog = BH_ACTION_DESTROY;
	for (size_t i = 0; i < m->n; i++)
		apply_one(&c, &m->v[i]);
	/* A driver domain exists to be restarted when it fails (its guests
	 * wait for it): unless told otherwise, crashes and hangs restart it. */
	if (cfg->driver_domain && !c.have_on_crash)
		cfg->on_crash = BH_ACTION_RESTART;
	if (cfg->driver_domain && !c.have_on_watchdog)
		cfg->on_watchdog = BH_ACTION_RESTART;
	finish(&c);
	return c.rc;
}
