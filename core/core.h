/* bulkhead-core: the hypervisor core, the only privileged process.
 *
 * Who is here: the domain table and lifecycle (domain.c), the sandbox that
 * every domain runs in (sandbox.c, seccomp.c, cgroup*.c), the hypercall
 * channel and its dispatch table (hcall.c), the handlers (hc_*.c), grant
 * tables (grant.c), event channels (evtchn.c), devices (device.c), the admin
 * socket (admin.c) and the core's own log ring (klog.c).
 *
 * Peers: every domain, each over its own SOCK_SEQPACKET channel; the host
 * administrator over <rundir>/core.sock. Nothing else reaches the core. */
#ifndef BH_CORE_H
#define BH_CORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bulkhead/hypercall.h"
#include "common/log.h"
#include "common/util.h"
#include "core/cgroup.h"
#include "policy/policy.h"

struct event_base;
struct event;
struct core;
struct cg_pending;

/* ---- grant tables (grant.c) ------------------------------------------- */

struct grant_entry {
	int memfd;          /* the page, read-write; -1 when the entry is free */
	uint16_t grantee;   /* the one domain that may map it */
	uint16_t writable;  /* granted read-write */
	uint32_t map_count; /* live mappings by the grantee */
	bool end_deferred;  /* ended while mapped: free at the last unmap */
	uint32_t next_free; /* free-list link while free */
};

struct grant_table {
	struct grant_entry *e; /* indexed by ref */
	uint32_t nr;           /* entries allocated in e[] */
	uint32_t max;          /* limit on refs in use (excluding reserved) */
	uint32_t used;
	uint32_t free_head; /* UINT32_MAX: none */
};

/* One mapping a domain holds of another domain's grant. */
struct maptrack_entry {
	uint16_t granter; /* BH_DOMID_INVALID when free */
	uint16_t pad;
	uint32_t granter_inc; /* the granter's incarnation at map time */
	uint32_t ref;
	uint32_t next_free;
};

struct maptrack {
	struct maptrack_entry *e; /* indexed by handle */
	uint32_t nr, max, used;
	uint32_t free_head;
};

/* ---- event channels (evtchn.c) ----------------------------------------- */

/* Both eventfds of one interdomain channel. Side 0 is the port that was
 * allocated unbound, side 1 the port that bound to it; a port receives on
 * fd[side] and sends on fd[1 - side]. A channel outlives either port: when
 * one side closes or dies the other port reverts to unbound and keeps the
 * channel, so a peer that binds again (a restarted driver domain) gets the
 * same eventfds and the survivor's descriptors stay valid. */
struct evtchn_chan {
	int fd[2];
	unsigned refs; /* ports pointing here (1 or 2) */
};

enum evtchn_state {
	EVTCHN_FREE = 0,
	EVTCHN_UNBOUND,
	EVTCHN_INTERDOMAIN,
	EVTCHN_VIRQ,
};

struct evtchn_port {
	uint8_t state; /* enum evtchn_state */
	uint8_t side;  /* our receive end in chan->fd[] */
	uint16_t remote_dom;
	uint32_t remote_port; /* INTERDOMAIN */
	uint32_t virq;        /* VIRQ */
	int virq_fd;          /* VIRQ: the eventfd the core writes */
	struct evtchn_chan *chan;
};

struct evtchn_table {
	struct evtchn_port *p; /* indexed by port; port 0 is never used */
	uint32_t nr, max;
};

/* ---- devices (device.c) ------------------------------------------------- */

struct device_assignment {
	char token[BH_DEV_TOKEN_MAX];
	char path[256];
	uint32_t flags;
	struct device_assignment *next;
};

/* ---- hypercall connections (hcall.c) ------------------------------------ */

/* A peer of the dispatch table: a domain's channel or an admin client. */
struct hc_conn {
	struct core *core;
	int fd;
	struct event *ev;  /* readable */
	struct event *wev; /* writable, while a reply waits */
	bool admin;        /* the host administrator (admin socket) */
	uint16_t domid;    /* the domain behind a channel */
	uint32_t gen;      /* and its generation */
	void *out;         /* a reply that did not fit in the socket yet */
	size_t out_len;
	int out_fds[BH_MAX_FDS_PER_MSG];
	size_t out_nfds;
	struct hc_conn *next; /* admin client list */
};

/* ---- domains (domain.c) ------------------------------------------------- */

/* A driver domain's next generation built ahead (core/domain.c): its
 * sandbox is up and waits for the byte that lets it exec. */
/* A TAP the core made ahead in a standby's network namespace, under a
 * name the generation before it asked for (device.c). */
struct premade_tap {
	char name[sizeof(((struct bh_hc_device_tap *)0)->ifname)];
	uint32_t flags; /* BH_TAP_* */
	int fd;
};

struct premade_taps {
	struct premade_tap *v;
	size_t n;
};

struct life_watch;
struct zombie;

/* life.c: a driver domain's life page (BH_LIFE_FD), the core's mapping. */
struct life_page {
	int fd;         /* -1: none */
	uint32_t *word; /* the futex word of the mutex it holds while alive */
};

struct standby {
	pid_t pid; /* 0: none */
	int pidfd, go_fd, chan_fd;
	struct life_page life;
	uint32_t incarnation;
	struct bh_cgroup cg;
	struct event *timer;      /* builds it a moment after a generation started */
	struct premade_taps taps; /* made in its network namespace */
	struct event *taps_timer; /* makes the ones asked for since */
	struct sb_job *job;       /* its setup under way on a thread */
};

struct domain {
	struct core *core;
	uint16_t domid;
	uint32_t generation;  /* restarts of this domain */
	uint32_t incarnation; /* unique per spawn on this host */
	enum bh_dom_state state;
	enum bh_role role;
	uint32_t flags; /* BH_CREATE_PRIVILEGED */
	char name[BH_NAME_MAX];
	char label[BH_NAME_MAX];
	struct bh_log log;

	/* how to build it again on restart */
	struct bh_hc_create cfg;
	char *argv_blob; /* NUL-separated, cfg.argv_len bytes */
	int exe_fd;      /* O_PATH of the program */

	/* the running generation */
	pid_t pid;
	int pidfd;
	struct event *pid_ev;
	struct event *grace_ev; /* shutdown asked politely: SIGKILL when it fires */
	int go_fd;              /* BUILDING: write a byte to let it exec */
	int netns_fd;           /* a driver domain's network namespace (domain.c) */
	int mntns_fd;           /* and its mount namespace */
	struct hc_conn chan;
	struct bh_cgroup cg;
	uint64_t start_time;        /* CLOCK_REALTIME seconds */
	uint64_t last_heartbeat_ns; /* 0: never */
	struct life_page life;      /* a driver domain's (life.c) */
	bool life_armed;            /* the core waits on it */
	bool opened_device;         /* an image was handed out: no early end */
	bool ended_early;           /* its end was seen on the life page */
	uint64_t oom_kills_at_start;

	/* how it ended */
	enum bh_shutdown_reason shutdown_reason;
	enum bh_crash_detail crash_detail;
	int exit_status, exit_signal;
	bool shutdown_requested; /* shutdown_reason was set by a request */
	bool restart_pending;    /* RESTART asked while it was running */
	bool destroy_pending;    /* DESTROY asked while it was running */

	/* resources */
	struct grant_table gt;
	struct maptrack mt;
	struct evtchn_table et;
	uint16_t store_domid, console_domid;
	uint32_t store_port, console_port;
	struct device_assignment *devices;
	unsigned nr_taps;
	/* A driver domain's TAPs, the core's own reference to each (domain.c,
	 * "let go late"); freed with the generation. */
	int *tap_refs;
	size_t ntap_refs;
	/* The TAPs this generation asked for (their names and flags; the
	 * standby gets them made ahead) and the ones made ahead for it,
	 * taken as it asks. */
	struct premade_taps tap_names, premade;
	struct bh_hc_device_uplink *uplink; /* asked for, names filled in; NULL: none */
	int uplink_ifindex;                 /* this generation's host end; 0: none */
	struct standby sb;                  /* driver domains: the next generation */
};

/* ---- the core ----------------------------------------------------------- */

#define CORE_KLOG_LINES 2048

struct klog {
	char *lines[CORE_KLOG_LINES];
	uint64_t next_seq; /* sequence number of the next line */
};

struct core_opts {
	char rundir[192];
	char instance[64];   /* cgroup and naming prefix */
	char image_dir[256]; /* programs dom0 may ask for by name */
	uint32_t uid_base;   /* host uid of domain N is uid_base + N */
	uint32_t default_max_grants;
	uint32_t default_max_maptrack;
	uint32_t default_max_ports;
	uint32_t max_domains;
	uint32_t max_taps_per_domain;
	bool foreground;
	const char *boot_dom0;     /* image name, or NULL */
	const char *boot_xenstore; /* image name, or NULL */
	const char *policy_file;   /* NULL: built-in rules */
	bool policy_permissive;
	const char *device_dirs[16]; /* host files may be assigned only below these */
	unsigned nr_device_dirs;
};

struct core {
	struct event_base *base;
	struct bh_log log;
	struct core_opts opts;
	struct klog klog;
	struct bh_cgroup_ctl cgctl;
	struct bh_policy *policy;
	struct domain *doms[BH_DOMID_MAX + 1];
	unsigned nr_domains;
	uint16_t next_domid;
	uint32_t incarnations;
	int admin_fd;
	struct event *admin_ev;
	struct hc_conn *admin_clients;
	char sandbox_root[256]; /* <rundir>/sandbox-root, an empty mount point */
	uint64_t boot_ns;
	int home_netns; /* the core's own network namespace */
	struct event *sig_ev[3];
	struct cg_pending *cg_pending; /* cgroups still busy after their domain ended */
	struct life_watch *life;       /* life.c: the thread waiting on life pages */
	struct zombie *zombies;        /* ended early, not reaped yet (domain.c) */
};

/* core.c / main.c */
int core_init(struct core *c, const struct core_opts *o, struct event_base *base);
void core_dispose(struct core *c);

/* klog.c: the core's log ring, read by SYSCTL_READCONSOLE (`bh dmesg`) */
void klog_sink(void *arg, enum bh_log_level level, const char *line);
void klog_dispose(struct klog *k);
size_t klog_read(const struct klog *k, uint64_t *seq_inout, char *buf, size_t cap,
                 uint32_t *nlines_out);

/* domain.c */
struct domain *domain_get(struct core *c, uint32_t domid);
int domain_create(struct core *c, const struct bh_hc_create *req, const char *argv_blob,
                  bool host_image, struct domain **out);
int domain_unpause(struct domain *d);
int domain_pause(struct domain *d);
int domain_shutdown(struct domain *d, enum bh_shutdown_reason reason, bool wait);
void domain_cg_pending_flush(struct core *c);
int domain_destroy(struct domain *d);
int domain_restart(struct domain *d);
/* A driver domain's TAP FD: the core keeps a reference until the
 * generation's namespaces are let go (domain.c). */
void domain_keep_tap(struct domain *d, int fd);
/* D asked for a TAP under a new name: its standby gets it made ahead. */
void domain_standby_taps_later(struct domain *d);
/* USAGE: memory and CPU used, from the cgroup's files. */
void domain_fill_info(struct domain *d, struct bh_dominfo *out, bool usage);
/* The life page of DOMID's generation INCARNATION was marked (life.c). */
void domain_exiting(struct core *c, uint16_t domid, uint32_t incarnation);
/* A domain's heartbeat (hc_domain.c). */
void domain_heartbeat(struct domain *d);
/* D was handed a device (an image): its end is never taken early. */
void domain_opened_device(struct domain *d);
int domain_set_resources(struct domain *d, const struct bh_hc_setres *r);
void domain_destroy_all(struct core *c);

/* sandbox.c: build the sandbox and start the program in it */
struct sandbox_spawn {
	/* in */
	int exe_fd;
	int chan_fd; /* the domain's end of its hypercall channel */
	int log_fd;  /* stdout and stderr */
	int life_fd; /* BH_LIFE_FD in the domain, or -1 */
	uid_t host_uid;
	const char *hostname;
	char *const *argv;
	enum bh_role role;
	const char *sandbox_root;
	const char *rundir;
	const struct bh_cgroup *cg;
	const struct bh_cgroup_ctl *cgctl;
	/* out */
	pid_t pid;
	int pidfd;
	int go_fd;     /* write one byte to let the program start */
	int report_fd; /* the child's report on its setup (sandbox_spawn_finish's) */
	char err[256];
};
/* All of it: the child waits for the byte on go_fd that lets it exec. */
int sandbox_spawn(struct sandbox_spawn *s);
/* In two halves: the clone, and the parent's half of the setup (id maps,
 * cgroup, the child's report), which waits for the child and touches
 * nothing but S (it may run on another thread). After a failed finish,
 * sandbox_spawn_abort kills and reaps the child and closes S's fds. */
int sandbox_spawn_start(struct sandbox_spawn *s);
int sandbox_spawn_finish(struct sandbox_spawn *s);
void sandbox_spawn_abort(struct sandbox_spawn *s);

/* life.c */
int life_page_make(struct life_page *lp);
void life_page_drop(struct life_page *lp);
/* Wait on LP from now on if its mutex is held; true if armed. */
bool life_arm(struct core *c, uint16_t domid, uint32_t incarnation, const struct life_page *lp);
void life_disarm(struct core *c, uint32_t incarnation);
void life_dispose(struct core *c);
/* PID's wait status if every thread of it is exiting; -EAGAIN if not
 * (or not known), -errno if it cannot be read. */
int life_exit_status(pid_t pid, int *wstatus);

/* seccomp.c */
/* In the core, before spawning: compile the role's filter once. */
int seccomp_prepare_role(enum bh_role role);
/* In the sandboxed child: the prepared filter (or compile one). */
int seccomp_install_role(enum bh_role role);

/* grant.c */
void grant_table_init(struct grant_table *gt, uint32_t max);
void grant_table_dispose(struct core *c, struct domain *d);
int grant_alloc(struct domain *d, uint16_t grantee, bool writable, int16_t ref_hint,
                uint32_t *ref_out, int *fd_out);
int grant_end(struct domain *d, uint32_t ref, bool defer);
int16_t grant_map(struct domain *mapper, uint16_t granter_id, uint32_t ref, bool readonly,
                  uint32_t *handle_out, int *fd_out);
int16_t grant_unmap(struct domain *mapper, uint32_t handle);
void maptrack_init(struct maptrack *mt, uint32_t max);
void maptrack_dispose(struct core *c, struct domain *d);
int grant_page_fd(struct domain *d, uint32_t ref);

/* evtchn.c */
void evtchn_table_init(struct evtchn_table *et, uint32_t max);
void evtchn_table_dispose(struct core *c, struct domain *d);
int evtchn_alloc_unbound(struct domain *d, uint16_t remote, uint32_t *port_out);
int evtchn_bind_interdomain(struct domain *d, uint16_t remote_dom, uint32_t remote_port,
                            uint32_t *port_out);
int evtchn_bind_virq(struct domain *d, uint32_t virq, uint32_t *port_out);
int evtchn_close(struct domain *d, uint32_t port);
int evtchn_status(struct domain *d, uint32_t port, struct bh_hc_evtchn_resp *out);
int evtchn_port_fds(struct domain *d, uint32_t port, int fds_out[2], size_t *nfds_out);
void evtchn_raise_virq(struct core *c, uint32_t virq);

/* device.c */
int device_assign(struct domain *d, const struct bh_hc_device_assign *a);
int device_revoke(struct domain *d, const char *token);
int device_open(struct domain *d, const char *token, int *fd_out,
                struct bh_hc_device_open_resp *out);
int device_tap(struct domain *d, const struct bh_hc_device_tap *t, int *fd_out);
/* Makes in PID's network namespace each TAP of D's tap_names HAVE lacks. */
void device_premake_taps(struct domain *d, pid_t pid, struct premade_taps *have);
/* Closes each descriptor of L with CLOSE_FD and empties L. */
void premade_taps_dispose(struct premade_taps *l, void (*close_fd)(void *arg, int *fd), void *arg);
void device_list_dispose(struct domain *d);

/* uplink.c: a veth pair between the host and a driver domain */
int device_uplink(struct domain *d, const struct bh_hc_device_uplink *u,
                  struct bh_hc_device_uplink_resp *out);
/* Create this generation's pair (spawn), remove it (end of a generation),
 * forget it (the domain is gone). */
int uplink_create(struct domain *d);
void uplink_release(struct domain *d);
void uplink_dispose(struct domain *d);

/* hcall.c */
int hc_conn_open(struct core *c, struct hc_conn *hc, int fd, bool admin, uint16_t domid,
                 uint32_t gen);
void hc_conn_close(struct hc_conn *hc);
/* Handle one datagram; exposed for tests and the fuzz target. Returns 0, or
 * a negative errno when the message must end the connection. */
int hc_dispatch(struct hc_conn *hc, const void *msg, size_t len, int *fds, size_t nfds);

/* admin.c */
int admin_listen(struct core *c);
void admin_dispose(struct core *c);

#endif
