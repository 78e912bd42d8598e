/* bhconsoled: the console daemon's library (xenconsoled's role in dom0).
 *
 * For every domain it is told about, it maps the domain's console ring page
 * (grant ref 0, BH_GNTTAB_CONSOLE_REF), binds the domain's console port, and
 * from then on drains the ring's `out` half into LOGDIR/<name>.log, each
 * line stamped "[YYYY-MM-DD HH:MM:SS.mmm] " (UTC). The log gets everything,
 * whether or not anyone is attached. One client at a time per domain may
 * attach over the control socket (protocol in docs/console.md) and then
 * sees the same output raw and types into the ring's `in` half.
 *
 * It runs on the caller's event_base: the dom0 toolstack daemon embeds it,
 * bulkhead-consoled (consoled/main.c) runs it alone. The process must
 * ignore SIGPIPE (a client may vanish while output is queued for it). Every function returns
 * 0 or a negative errno. A hostile guest (corrupt ring indices, a flood)
 * stops only its own console. */
#ifndef BH_CONSOLED_H
#define BH_CONSOLED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct consoled;

/* How the daemon reaches a domain's ring and port. Without ops the daemon
 * uses the /dev/xen ABI of ioctl/ (gntdev, evtchn), so only inside a
 * domain that may map other domains' grants (dom0); tests pass in-process
 * pages and eventfds. */
struct consoled_ops {
	/* Map grant ref 0 of domid read-write: one 4096-byte page. */
	int (*map_ring)(void *arg, uint16_t domid, void **page_out);
	void (*unmap_ring)(void *arg, uint16_t domid, void *page);
	/* Bind to the domain's remote_port. *fd_out becomes readable when the
	 * guest notifies; *local_out names the binding for the calls below. */
	int (*bind)(void *arg, uint16_t domid, uint32_t remote_port, uint32_t *local_out,
	            int *fd_out);
	/* After fd became readable: consume the notification, re-arm. */
	void (*ack)(void *arg, uint32_t local, int fd);
	/* Kick the guest. */
	int (*notify)(void *arg, uint32_t local, int fd);
	/* Undo bind (closes fd). */
	void (*unbind)(void *arg, uint32_t local, int fd);
	void *arg;
};

struct consoled_opts {
	const char *logdir;             /* LOGDIR: created if missing */
	const char *sock_path;          /* the control socket (mode 0600); NULL: none */
	const struct consoled_ops *ops; /* NULL: the /dev/xen ABI */
	/* Accept "add", "remove" and "rename" on the socket (the standalone
	 * daemon, which has no toolstack calling the functions below). */
	bool allow_control;
	/* Rotate LOGDIR/<name>.log when it passes this size, keeping
	 * <name>.log.1 .. <name>.log.<log_keep>. 0: never rotate. */
	uint64_t log_max_bytes;
	unsigned log_keep;
	/* Prefix of the daemon's own stderr log; NULL: "consoled". */
	const char *log_prefix;
};

/* The short form the toolstack uses: real ops, no control verbs, no rotation. */
int consoled_create(struct event_base *base, const char *logdir, const char *sock_path,
                    struct consoled **out);
int consoled_create_opts(struct event_base *base, const struct consoled_opts *o,
                         struct consoled **out);
/* Flushes and closes every console, the clients and the socket. */
void consoled_free(struct consoled *cd);

/* Start serving a domain's console. name: [A-Za-z0-9_.-]+, the log's file
 * name. -EEXIST if domid is already served. Output already in the ring is
 * drained at once. */
int consoled_add_domain(struct consoled *cd, uint16_t domid, const char *name,
                        uint32_t console_port);
/* The domain ended: drain what is left, write "[domain exited: REASON]" to
 * the log, close an attached client, unmap, unbind. reason may be NULL. */
int consoled_remove_domain(struct consoled *cd, uint16_t domid, const char *reason);
/* The domain's name changed: later output goes to LOGDIR/<name>.log. */
int consoled_rename_domain(struct consoled *cd, uint16_t domid, const char *name);

/* For tests and status: the console's state. */
enum consoled_state {
	CONSOLED_NONE = 0, /* not served */
	CONSOLED_RUNNING,
	CONSOLED_BROKEN, /* stopped after corrupt ring indices */
};
enum consoled_state consoled_domain_state(struct consoled *cd, uint16_t domid);
bool consoled_domain_attached(struct consoled *cd, uint16_t domid);
/* The domids served (up to cap of them); returns how many there are. */
size_t consoled_domains(struct consoled *cd, uint16_t *ids, size_t cap);

#endif
