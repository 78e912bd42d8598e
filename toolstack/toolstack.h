/* libbhtool: the toolstack library (libxl's place). It runs in dom0 under
 * bulkhead-dom0 and turns xl.cfg domain descriptions into domains: it asks
 * the core for the domain, hands it its devices, writes its store nodes,
 * introduces it to the store and its console to the console daemon, and
 * carries out the on_poweroff/on_reboot/on_crash actions when it dies.
 *
 * Functions return 0 or a negative errno; on failure a human message is in
 * t->err. */
#ifndef BH_TOOLSTACK_H
#define BH_TOOLSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "ioctl/hcall_client.h"
#include "toolstack/watchdog.h"
#include "xlcfg/xlcfg.h"

struct bhxs;

/* One device of a domain, as the toolstack created it. */
struct bhtool_dev {
	enum { BHTOOL_VBD, BHTOOL_VIF } kind;
	int devid;
	uint16_t backend_domid;
	char backend_name[BH_NAME_MAX];
	char token[BH_DEV_TOKEN_MAX]; /* the assignment that hands the image over */
	struct bh_disk disk;          /* VBD */
	struct bh_vif vif;            /* VIF */
	struct bhtool_dev *next;
};

/* What the toolstack remembers of a domain it built. */
struct bhtool_dom {
	uint16_t domid;
	uint32_t generation;
	struct bh_domcfg *cfg;
	struct bhtool_dev *devs;
	uint32_t store_port, console_port;
	uint64_t created_ns;
	bool dying;         /* destroy asked: do not apply actions */
	bool preserved;     /* on_*=preserve: left dead until destroyed */
	struct bhwd_dom wd; /* the watchdog's: restart policy, deaths, hangs */
	struct bhtool_dom *next;
};

/* Hooks for the console daemon living in the same process. */
struct bhtool_console_ops {
	void (*add)(void *arg, uint16_t domid, const char *name, uint32_t port);
	void (*remove)(void *arg, uint16_t domid, const char *why);
	/* Optional: a restarted domain's console taken up again on PORT; may
	 * be done a little later (the ring keeps what it prints). Without
	 * it: remove, then add. */
	void (*restarted)(void *arg, uint16_t domid, const char *name, uint32_t port);
	void *arg;
};

struct bhtool {
	struct bh_hc_client *hc;
	struct bhxs *xs; /* NULL: no store (devices and introduce skipped) */
	int store_domid; /* -1: the store runs in dom0 or nowhere */
	struct bh_log log;
	struct bhtool_console_ops console;
	struct bhtool_dom *doms;
	/* Consulted before a restart action (the watchdog's policy): 0 restart
	 * now, 1 deferred (it calls bhtool_restart later), -1 not restarted. */
	int (*before_restart)(struct bhtool *t, struct bhtool_dom *d);
	void *wd; /* the watchdog's timers */
	char err[512];
};

int bhtool_init(struct bhtool *t, struct bh_hc_client *hc, struct bhxs *xs);
void bhtool_fini(struct bhtool *t);

/* Builds a domain from an xl.cfg text (NAME is the file, for diagnostics).
 * DRY_RUN parses and checks only. */
int bhtool_create(struct bhtool *t, const char *name, const char *text,
                  const char *const *overrides, size_t noverrides, bool paused, bool dry_run,
                  uint16_t *domid_out, struct xlcfg_diags *diags);
int bhtool_destroy(struct bhtool *t, uint16_t domid);
/* Asks the guest to shut down (control/shutdown in the store, and the core's
 * request), REASON is BH_SHUTDOWN_POWEROFF or _REBOOT. */
int bhtool_shutdown(struct bhtool *t, uint16_t domid, uint32_t reason);
int bhtool_pause(struct bhtool *t, uint16_t domid);
int bhtool_unpause(struct bhtool *t, uint16_t domid);
/* A name or a number to a domid. */
int bhtool_lookup(struct bhtool *t, const char *name_or_id, uint16_t *domid);

int bhtool_mem_set(struct bhtool *t, uint16_t domid, uint64_t mem_kb);
int bhtool_vcpu_set(struct bhtool *t, uint16_t domid, unsigned vcpus);
int bhtool_vcpu_pin(struct bhtool *t, uint16_t domid, const char *cpus);
int bhtool_sched_credit(struct bhtool *t, uint16_t domid, int weight, int cap);

int bhtool_block_attach(struct bhtool *t, uint16_t domid, const char *spec);
int bhtool_block_detach(struct bhtool *t, uint16_t domid, const char *vdev);
int bhtool_network_attach(struct bhtool *t, uint16_t domid, const char *spec);
int bhtool_network_detach(struct bhtool *t, uint16_t domid, const char *which);
struct bhtool_dom *bhtool_find_dom(struct bhtool *t, uint16_t domid);
/* Reads the backend's state node of a device (XenbusState), or -errno. */
int bhtool_dev_state(struct bhtool *t, uint16_t domid, const struct bhtool_dev *d, bool backend);

/* Called when VIRQ_DOM_EXC fired: finds dead domains and carries out their
 * configured action (destroy, restart, preserve). */
void bhtool_dom_exc(struct bhtool *t);
/* Restarts a dead domain now (D may be freed: it is destroyed if that
 * fails). */
void bhtool_restart(struct bhtool *t, struct bhtool_dom *d);

#endif
