/* xl.cfg parsing: the domain configuration format of Xen's xl, and
 * directories of them ("layouts").
 *
 * The contract the toolstack codes against. Every function that can fail on
 * user input appends diagnostics ("FILE:LINE:COL: error: what was expected")
 * to a struct xlcfg_diags and returns a negative errno (-EINVAL for bad
 * input). Warnings (a key Xen knows that Bulkhead does not support yet) do
 * not make a parse fail. */
#ifndef BH_XLCFG_H
#define BH_XLCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum xlcfg_severity { XLCFG_WARNING, XLCFG_ERROR };

struct xlcfg_diag {
	enum xlcfg_severity severity;
	char *file; /* may be NULL for command-line overrides ("<command line>") */
	unsigned line, col;
	char *msg;
};

struct xlcfg_diags {
	struct xlcfg_diag *v;
	size_t n, cap;
	size_t nerrors;
};

void xlcfg_diags_free(struct xlcfg_diags *d);
/* Prints "FILE:LINE:COL: error: MSG" lines, one per diagnostic. */
void xlcfg_diags_print(const struct xlcfg_diags *d, FILE *out);

enum bh_domtype { BH_DOMTYPE_PV = 0, BH_DOMTYPE_HVM = 1 };

/* on_poweroff and friends (xl.cfg(5) "EVENT ACTIONS"). */
enum bh_action {
	BH_ACTION_DESTROY = 0,
	BH_ACTION_RESTART,
	BH_ACTION_RENAME_RESTART,
	BH_ACTION_PRESERVE,
	BH_ACTION_COREDUMP_DESTROY,
	BH_ACTION_COREDUMP_RESTART,
	BH_ACTION_SOFT_RESET,
};

enum bh_disk_format {
	BH_DISK_RAW = 0,
	BH_DISK_QCOW,
	BH_DISK_QCOW2,
	BH_DISK_VHD,
	BH_DISK_QED,
	BH_DISK_EMPTY
};

struct bh_disk {
	char *target;    /* path of the image; NULL/"" for an empty cdrom */
	char *vdev;      /* as written: "xvda", "hda", "sdb1" ... */
	int vdev_number; /* xenstore device id (xen-vbd-interface), -1 if unknown */
	bool readonly;   /* access=ro|r */
	bool cdrom;      /* devtype=cdrom or ":cdrom" suffix */
	enum bh_disk_format format;
	char *backend;     /* domain name; NULL = dom0 */
	char *backendtype; /* "phy", "qdisk", "tap", or NULL */
	char *script;
	int discard;   /* -1 unset, 0 no-discard, 1 discard */
	unsigned line; /* where it was written, for later diagnostics */
};

struct bh_vif {
	uint8_t mac[6];
	bool has_mac; /* else the toolstack picks 00:16:3e:xx:xx:xx */
	char *bridge;
	char *ip;      /* space-separated addresses, as xl.cfg */
	char *backend; /* domain name; NULL = dom0 */
	char *vifname;
	char *model;
	char *script;
	uint64_t rate_bytes_per_sec; /* 0 = unlimited */
	uint64_t rate_interval_us;   /* default 50000 */
	unsigned mtu;                /* 0 = default 1500 */
	unsigned line;
};

/* uplink = "KEY=VALUE, ..." of a driver domain (a Bulkhead extension): a
 * veth pair the core creates between the host and the driver domain, whose
 * domain end joins one of the driver domain's bridges (docs/xl.cfg.5.md). */
struct bh_uplink {
	bool enabled;         /* the key was given */
	char *bridge;         /* the driver domain's bridge it joins; NULL = xenbr0 */
	char *host_ifname;    /* the host end's name; NULL = bhup<domid> */
	char *host_bridge;    /* a host bridge for the host end; NULL = none */
	uint32_t host_ipv4;   /* host_ip=, network order; 0 = no address */
	unsigned host_prefix; /* its prefix length (default 24) */
	unsigned mtu;         /* 0 = 1500 */
	unsigned line;
};

struct bh_domcfg {
	char *file; /* the file it came from */
	char *name;
	enum bh_domtype type;
	uint64_t memory_mb; /* default 128 */
	uint64_t maxmem_mb; /* default = memory */
	unsigned vcpus;     /* default 1 */
	unsigned maxvcpus;  /* default = vcpus */
	uint64_t cpumap[4]; /* "cpus="; all zero = any */
	unsigned weight;    /* 0 = default (256) */
	unsigned cap;       /* percent, 0 = none */
	char *kernel, *ramdisk, *cmdline, *root, *extra;
	struct bh_disk *disks;
	size_t ndisks;
	struct bh_vif *vifs;
	size_t nvifs;
	enum bh_action on_poweroff, on_reboot, on_crash, on_watchdog;
	bool driver_domain;
	char *seclabel;
	uint8_t uuid[16];
	bool has_uuid;
	char **device_model_args;
	size_t ndevice_model_args;
	/* Bulkhead extensions for driver domains (watchdog issue). */
	unsigned heartbeat_period_ms;  /* 0 = default */
	unsigned heartbeat_timeout_ms; /* 0 = default */
	unsigned restart_limit;        /* 0 = default */
	unsigned restart_window_s;     /* 0 = default */
	/* Added with the implementation (the fields above are unchanged). */
	unsigned name_line;          /* line of name=, for layout diagnostics */
	uint64_t (*vcpu_cpumaps)[4]; /* cpus=[...]: one map per vCPU; cpumap is their union */
	size_t nvcpu_cpumaps;
	struct bh_uplink uplink; /* driver domains only */
};

/* Parses PATH; OVERRIDES are "KEY=VALUE" strings applied after the file, as
 * `xl create FILE KEY=VALUE...` does. On success *out is a new config. */
int xlcfg_parse_file(const char *path, const char *const *overrides, size_t noverrides,
                     struct bh_domcfg **out, struct xlcfg_diags *diags);
/* Same, from memory; NAME is used in diagnostics. */
int xlcfg_parse_string(const char *name, const char *text, const char *const *overrides,
                       size_t noverrides, struct bh_domcfg **out, struct xlcfg_diags *diags);
void xlcfg_free(struct bh_domcfg *cfg);

/* One spec string of disk=[...] or vif=[...] (also used by block-attach and
 * network-attach). WHERE names the origin for diagnostics. */
int xlcfg_disk_parse(const char *spec, const char *where, struct bh_disk *out,
                     struct xlcfg_diags *diags);
void xlcfg_disk_free(struct bh_disk *d);
int xlcfg_vif_parse(const char *spec, const char *where, struct bh_vif *out,
                    struct xlcfg_diags *diags);
void xlcfg_vif_free(struct bh_vif *v);
int xlcfg_uplink_parse(const char *spec, const char *where, struct bh_uplink *out,
                       struct xlcfg_diags *diags);
void xlcfg_uplink_free(struct bh_uplink *u);

/* "xvda" -> 51712 etc. (xen-vbd-interface); -1 if not a valid name. */
int xlcfg_vdev_to_number(const char *vdev);
/* Formats "00:16:3e:..". BUF has 18 bytes. */
void xlcfg_mac_format(const uint8_t mac[6], char buf[18]);
int xlcfg_mac_parse(const char *s, uint8_t mac[6]);
const char *xlcfg_action_name(enum bh_action a);
const char *xlcfg_format_name(enum bh_disk_format f);

/* The parsed config as JSON (for `bh create -n`/`list -l` and golden tests). */
char *xlcfg_json_dump(const struct bh_domcfg *cfg);

/* A layout: a directory of *.cfg files, one domain each. */
struct xlcfg_layout {
	char *dir;
	struct bh_domcfg **doms;
	size_t ndoms;
	size_t *start_order; /* indices into doms: driver domains before their users */
};

/* Loads every *.cfg of DIR (sorted by name) and validates the whole: names
 * unique, every backend= names a domain of the layout with driver_domain=1,
 * no backend cycles. Fills start_order. */
int xlcfg_layout_load(const char *dir, struct xlcfg_layout *out, struct xlcfg_diags *diags);
void xlcfg_layout_free(struct xlcfg_layout *l);
/* The plan, human-readable, in start order ("bh up -n"). */
void xlcfg_layout_print_plan(const struct xlcfg_layout *l, FILE *out);

#endif
