/* bhdriverdom: the runtime every backend (blkback, netback) runs on inside
 * a driver domain -- the xenbus backend core of a Linux driver domain.
 *
 * The runtime connects to the store, watches /local/domain/<self>/backend
 * and, for each device directory that appears there
 * (backend/<type>/<frontend domid>/<devid>), creates a device and hands it
 * to the backend registered for <type>. It runs the backend's half of the
 * XenbusState handshake (docs/driverdom.md):
 *
 *   new device           -> probe()       -> state InitWait (2)
 *   frontend 3 or 4      -> connect()     -> state Connected (4)
 *   frontend 5           -> disconnect()  -> state Closing (5)
 *   frontend 6 / gone    -> disconnect()  -> state Closed (6)
 *   frontend back to 1   -> (disconnect)  -> state InitWait (2) again
 *   directory removed    -> disconnect(), remove()
 *
 * A failing probe or connect is reported Xen's way (the error node, see
 * drvdom_dev_fatal) and the device goes to Closing. The loop is libevent;
 * backends add their own descriptors (event channels, io_uring) with
 * drvdom_add_fd. Single-threaded: every callback runs on the loop's thread.
 * Functions return 0 or a negative errno. */
#ifndef BH_DRIVERDOM_H
#define BH_DRIVERDOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

struct bhxs;
struct bh_hc_client;
struct drvdom;

/* XenbusState (io/xenbus.h). */
enum xenbus_state {
	XenbusStateUnknown = 0,
	XenbusStateInitialising = 1,
	XenbusStateInitWait = 2,
	XenbusStateInitialised = 3,
	XenbusStateConnected = 4,
	XenbusStateClosing = 5,
	XenbusStateClosed = 6,
	XenbusStateReconfiguring = 7,
	XenbusStateReconfigured = 8,
};

const char *xenbus_state_name(int state);

/* One device served by this domain. The runtime owns it; backends read the
 * fields and keep their own state in priv. */
struct drvdom_dev {
	struct drvdom *dd;
	const struct drvdom_backend_ops *ops;
	char type[16];                /* "vbd", "vif", ... */
	unsigned fe_domid;            /* the frontend's domain */
	unsigned devid;               /* the virtual device number / handle */
	char be_path[128];            /* /local/domain/<self>/backend/<type>/<fe>/<devid> */
	char fe_path[160];            /* from the backend's "frontend" node */
	int state;                    /* the backend state we last wrote */
	bool probed;                  /* probe() succeeded: remove() is owed */
	bool connected;               /* connect() succeeded, disconnect() not yet called */
	bool dead;                    /* probe failed: the device waits for its removal */
	bool reported;                /* an error was reported during the current callback */
	int fe_state;                 /* the frontend state we last acted on */
	bool seen;                    /* scan.c's mark */
	bool connect_due;             /* the frontend is ready: connect soon */
	bool probing;                 /* in probe(): drvdom_publish keeps the nodes... */
	struct drvdom_nodes *pending; /* ...here, written with the InitWait after it */
	struct drvdom_snap *snap;     /* during probe()/connect(): our/the frontend's keys */
	struct bh_log log;            /* prefix "<type>/dom<fe>/<devid>" */
	void *priv;                   /* the backend's */
	struct drvdom_dev *next;
};

/* One backend type. probe() publishes features (drvdom_publish) and may
 * set priv; it runs once per device. connect() reads the frontend's ring
 * keys, maps and starts serving; it may run again after a disconnect()
 * (frontend reconnect). disconnect() stops serving and unmaps; it is only
 * called after a successful connect(). remove() frees priv; it is called
 * once, after a successful probe(), when the device directory goes away
 * or the runtime is destroyed. */
struct drvdom_backend_ops {
	const char *type;
	int (*probe)(struct drvdom_dev *dev);
	int (*connect)(struct drvdom_dev *dev);
	void (*disconnect)(struct drvdom_dev *dev);
	void (*remove)(struct drvdom_dev *dev);
	/* Optional: setup that does not need the frontend (Linux netback
	 * makes its vif interface at probe, and the hotplug script bridges
	 * it, before the frontend connects). Called once after a successful
	 * probe(), after the other devices found with it are probed too and
	 * before their frontends are looked at (a restart's guests publish
	 * their rings meanwhile). A failure here is the backend's to log;
	 * connect() does the work itself then. */
	void (*prepare)(struct drvdom_dev *dev);
	/* Optional: carry out an injected fault (bh inject, docs/watchdog.md)
	 * on a connected device: FAULT is "corrupt", "drop-notify" (for MS ms,
	 * 0: until the device reconnects) or "close-channel". 0, -ENOTCONN
	 * (not connected), -EOPNOTSUPP. */
	int (*inject)(struct drvdom_dev *dev, const char *fault, unsigned ms);
	void *arg; /* the backend's own context, for drvdom_dev_backend_arg */
};

struct drvdom_config {
	const struct drvdom_backend_ops *const *backends;
	size_t n_backends;
	/* The store connection, or NULL: bhxs_open_domain(). The runtime owns
	 * it either way and closes it in drvdom_destroy. */
	struct bhxs *xs;
	/* Our domid, or -1: from the core's start info (needs hc). */
	int domid;
	/* The hypercall client for heartbeats and start info, or NULL (tests
	 * outside a domain: no heartbeat). */
	struct bh_hc_client *hc;
	unsigned heartbeat_ms; /* 0: 1000 */
	const char *name;      /* log prefix; NULL: "driverdom" */
	bool stop_on_signals;  /* SIGTERM and SIGINT end drvdom_run() */
};

int drvdom_create(const struct drvdom_config *cfg, struct drvdom **out);
/* Disconnects and removes every device, closes the store. NULL is fine. */
void drvdom_destroy(struct drvdom *dd);
/* Sets the watch, scans the devices already there and connects the
 * frontends ready by then. The first heartbeat, the inject watch and
 * data/backend-ready follow from the loop (drvdom_run) 5 ms later, after
 * those guests' first packets or requests. */
int drvdom_start(struct drvdom *dd);
/* Runs the loop until drvdom_stop() or a fatal store error (returned). */
int drvdom_run(struct drvdom *dd);
/* Runs the loop for at most TIMEOUT_MS, returning after the first batch of
 * events (for tests that step the runtime). */
int drvdom_run_once(struct drvdom *dd, int timeout_ms);
void drvdom_stop(struct drvdom *dd);
/* Inside a driver domain, first thing: pivot into an empty read-only
 * root, keep only CAP_NET_ADMIN, and forbid exec, mount and the other
 * start-up calls with a second seccomp filter. Irreversible. */
int drvdom_narrow(struct bh_log *log);

unsigned drvdom_domid(const struct drvdom *dd);
struct bhxs *drvdom_store(struct drvdom *dd);
const struct bh_log *drvdom_log(const struct drvdom *dd);
uint64_t drvdom_heartbeats(const struct drvdom *dd);
struct drvdom_dev *drvdom_find(struct drvdom *dd, const char *type, unsigned fe, unsigned devid);

/* Descriptors of the backends: FN(ARG) runs when FD is readable. FN may
 * delete its own entry (say through drvdom_dev_fatal -> disconnect). */
struct drvdom_fd;
int drvdom_add_fd(struct drvdom *dd, int fd, void (*fn)(void *arg), void *arg,
                  struct drvdom_fd **out);
void drvdom_del_fd(struct drvdom_fd *f);

/* ---- store helpers for backends ----
 * Inside probe() the backend directory's keys, inside connect() the
 * frontend directory's (not its subdirectories'), are answered from one
 * read of the whole directory taken just before the call: a key written
 * during that same call is not seen by these reads there. */

/* A node of the frontend's directory; -ENOENT if absent. *out malloc'd. */
int drvdom_fe_read_str(struct drvdom_dev *dev, const char *key, char **out);
int drvdom_fe_read_uint(struct drvdom_dev *dev, const char *key, unsigned long long *out);
/* Absent: DEF. Present but not a number: -EINVAL. */
int drvdom_fe_read_uint_def(struct drvdom_dev *dev, const char *key, unsigned long long def,
                            unsigned long long *out);
/* The same for the backend's own directory (params, mode, ...). */
int drvdom_be_read_str(struct drvdom_dev *dev, const char *key, char **out);
int drvdom_be_read_uint_def(struct drvdom_dev *dev, const char *key, unsigned long long def,
                            unsigned long long *out);

/* Nodes to write under the backend directory in one transaction. */
#define DRVDOM_MAX_NODES 32
struct drvdom_nodes {
	size_t n;
	bool overflow;
	char key[DRVDOM_MAX_NODES][48];
	char val[DRVDOM_MAX_NODES][64];
};
void drvdom_nodes_init(struct drvdom_nodes *ns);
void drvdom_nodes_add(struct drvdom_nodes *ns, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* All of NS or none (-E2BIG if too many were added). Called from probe(),
 * the nodes are written in the transaction that then switches the device
 * to InitWait (the frontend sees the features and the state together). */
int drvdom_publish(struct drvdom_dev *dev, const struct drvdom_nodes *ns);

/* Reports ERR (negative errno) with a message the way Xen's backends do:
 * /local/domain/<self>/error/backend/<type>/<fe>/<devid>/error =
 * "<errno> <message>", and logs it. */
void drvdom_dev_error(struct drvdom_dev *dev, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* drvdom_dev_error, then disconnect if connected and switch to Closing. */
void drvdom_dev_fatal(struct drvdom_dev *dev, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
