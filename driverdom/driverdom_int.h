/* The runtime's private state, shared by runtime.c (loop, heartbeat,
 * descriptors), scan.c (finding devices under backend/), state.c (the
 * XenbusState dance of one device) and nodes.c (store helpers, errors). */
#ifndef BH_DRIVERDOM_INT_H
#define BH_DRIVERDOM_INT_H

#include <event2/event.h>

#include "driverdom/driverdom.h"
#include "xenstored/bhxs.h"

/* Watch tokens: the backend tree, and a device's frontend state (followed
 * by the device's backend path). */
#define DD_TOKEN_TREE   "dd-tree"
#define DD_TOKEN_FE     "dd-fe:"
#define DD_TOKEN_INJECT "dd-inject"

struct drvdom_fd {
	struct drvdom *dd;
	struct event *ev;
	void (*fn)(void *arg);
	void *arg;
};

struct drvdom {
	struct drvdom_config cfg;
	struct bh_log log;
	struct bhxs *xs; /* owned */
	unsigned domid;
	char be_root[64]; /* /local/domain/<self>/backend */
	struct event_base *base;
	struct event *xs_ev, *hb_ev, *sig_ev[2];
	struct event *tail_ev; /* the start's tail (runtime.c, on_start_tail) */
	uint64_t heartbeats;
	bool stop;
	bool tree_initial; /* the tree watch's first event is still to come */
	bool connect_due;  /* some device's connect_due is set */
	int fatal;         /* a store error that ends the loop */
	struct drvdom_dev *devs;
	/* inject.c: the last order seen on control/inject (its sequence) */
	unsigned long long inject_seq;
	bool inject_armed; /* the order there at start-up has been skipped */
};

/* scan.c */
void dd_handle_watch(struct drvdom *dd, const char *path, const char *token);
void dd_scan(struct drvdom *dd);
/* dd_scan with the watch on backend/ (token TOKEN) set in its first
 * round trip, ahead of the listings: 0, or the watch's error. */
int dd_scan_watching(struct drvdom *dd, const char *token);

/* state.c */
void dd_dev_gone(struct drvdom_dev *dev);
void dd_dev_frontend_changed(struct drvdom_dev *dev);
void dd_dev_backend_changed(struct drvdom_dev *dev);
int dd_dev_switch(struct drvdom_dev *dev, int state);
void dd_dev_disconnect(struct drvdom_dev *dev);
void dd_dev_free(struct drvdom_dev *dev);
/* The devices whose frontends are ready, connected together. */
void dd_connect_due(struct drvdom *dd);
/* Devices found together (a scan), added together. */
struct dd_found {
	const struct drvdom_backend_ops *ops;
	char type[16];
	unsigned fe, devid;
};
void dd_devs_add(struct drvdom *dd, const struct dd_found *f, size_t n);
/* NS as write requests below dev->be_path into OPS, the paths in PATH:
 * how many (nodes.c). */
size_t dd_nodes_ops(const struct drvdom_dev *dev, const struct drvdom_nodes *ns, char (*path)[256],
                    struct bhxs_op *ops);
void dd_snap_drop(struct drvdom_dev *dev);
/* Snapshots of several devices' directories, two round trips for all:
 * each directory's keys read at once, answering drvdom_fe_read_* /
 * drvdom_be_read_* until dropped (nodes.c). Of our directories, of the
 * frontends', or of only those frontends whose state says they
 * published (Initialised or Connected; the others get none, and if
 * none has, the second round trip is not made). */
enum dd_snap_of { DD_SNAP_OURS, DD_SNAP_FRONTEND, DD_SNAP_FRONTEND_READY };
void dd_snap_take_many(struct drvdom_dev **devs, size_t n, enum dd_snap_of of);
/* A frontend snapshot's state, read right before its listing (a frontend
 * that says it published has every key in the snapshot), or
 * XenbusStateUnknown. */
int dd_snap_fe_state(const struct drvdom_dev *dev);
/* Whether DIR (the snapshot's) had KEY when it was listed: 1 or 0; -1 if
 * no snapshot of DIR is taken. */
int dd_snap_has(const struct drvdom_dev *dev, const char *dir, const char *key);

/* inject.c: dom0's fault orders (control/inject) */
int dd_inject_start(struct drvdom *dd);
/* true if the event was the inject watch's (and was handled) */
bool dd_inject_watch(struct drvdom *dd, const char *path, const char *token);

/* nodes.c */
int dd_read_uint(struct drvdom *dd, const char *path, unsigned long long *out);

#endif
