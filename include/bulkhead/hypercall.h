/* The hypercall channel: every message between a domain and the core.
 *
 * Each domain is born with one SOCK_SEQPACKET socket to the core (fd 3 in the
 * domain, see BH_HC_FD). One datagram is one message: a 16-byte header and a
 * fixed-size payload (some requests append a variable tail, counted in the
 * payload). The core answers every request with exactly one response
 * carrying the same type with BH_HC_RESP set, the same seq, and a status of
 * 0 or a negative errno. Descriptors travel as SCM_RIGHTS with the response.
 * The channel carries nothing unsolicited: the core signals a domain only
 * through event-channel eventfds (for example VIRQ_DOM_EXC).
 *
 * The host administrator reaches the same dispatch table through the core's
 * admin socket (<rundir>/core.sock, root only), with the same messages.
 *
 * All structs are fixed-width, little-endian native, never carry pointers,
 * and have their size checked at compile time. */
#ifndef BULKHEAD_HYPERCALL_H
#define BULKHEAD_HYPERCALL_H

#include <stdint.h>

#define BH_HC_FD 3 /* the channel's descriptor in every domain */
/* A driver domain's life page (core/life.c): one page of shared memory
 * whose first bytes it keeps as a process-shared robust mutex, locked by
 * its main thread for as long as it runs (common/life.c). The kernel marks
 * the mutex's owner dead when that thread exits, before the process's
 * memory is torn down, which tells the core of the end ~1 ms before the
 * process is reaped. Optional: a domain without it is seen to end later. */
#define BH_LIFE_FD            5
#define BH_HC_MAX_MSG         16384 /* largest datagram either way */
#define BH_HC_MAX_PAYLOAD     (BH_HC_MAX_MSG - (int)sizeof(struct bh_hc_hdr))
#define BH_HC_RESP            0x80000000u
#define BH_NAME_MAX           64      /* domain names and labels, with the NUL */
#define BH_DOMID_SELF         0x7FF0u /* Xen's DOMID_SELF */
#define BH_DOMID_INVALID      0x7FF4u
#define BH_DOMID_ANY          0x7FF5u
#define BH_DOMID_MAX          0x7FEFu /* highest domid a domain can have */
#define BH_GNT_MAX_BATCH      128     /* refs per GNT_* request */
#define BH_GNTTAB_NR_RESERVED 8       /* refs 0..7: 0 console, 1 xenstore */
#define BH_GNTTAB_CONSOLE_REF 0
#define BH_GNTTAB_STORE_REF   1

enum bh_hc_type {
	BH_HC_INVALID = 0,
	/* any domain, about itself */
	BH_HC_VERSION_REQ = 1,
	BH_HC_START_INFO_REQ = 2,
	BH_HC_SHUTDOWN_REQ = 3, /* SCHEDOP_shutdown: self, or another if privileged */
	BH_HC_HEARTBEAT_REQ = 4,
	/* domain control (privileged) */
	BH_HC_DOMCTL_CREATE_REQ = 10,
	BH_HC_DOMCTL_DESTROY_REQ = 11,
	BH_HC_DOMCTL_PAUSE_REQ = 12,
	BH_HC_DOMCTL_UNPAUSE_REQ = 13,
	BH_HC_DOMCTL_RESTART_REQ = 14,
	BH_HC_DOMCTL_GETINFO_REQ = 15, /* one domain (self allowed) */
	BH_HC_DOMCTL_LIST_REQ = 16,    /* a page of domains from a start domid */
	BH_HC_DOMCTL_SETRES_REQ = 17,  /* memory, vcpus, weight, cap, pinning */
	BH_HC_SYSCTL_INFO_REQ = 18,    /* host facts for `bh info` */
	BH_HC_SYSCTL_READCONSOLE_REQ = 19,
	/* devices */
	BH_HC_DEVICE_ASSIGN_REQ = 30, /* privileged: give a host file to a domain */
	BH_HC_DEVICE_REVOKE_REQ = 31,
	BH_HC_DEVICE_OPEN_REQ = 32,   /* the assignee takes its descriptor */
	BH_HC_DEVICE_TAP_REQ = 33,    /* create a TAP in the caller's network namespace */
	BH_HC_DEVICE_UPLINK_REQ = 34, /* privileged: veth pair host <-> a domain */
	/* grant tables */
	BH_HC_GNT_ALLOC_REQ = 40,
	BH_HC_GNT_END_REQ = 41,
	BH_HC_GNT_MAP_REQ = 42,
	BH_HC_GNT_UNMAP_REQ = 43,
	/* event channels */
	BH_HC_EVTCHN_ALLOC_UNBOUND_REQ = 50,
	BH_HC_EVTCHN_BIND_INTERDOMAIN_REQ = 51,
	BH_HC_EVTCHN_BIND_VIRQ_REQ = 52,
	BH_HC_EVTCHN_CLOSE_REQ = 53,
	BH_HC_EVTCHN_STATUS_REQ = 54,
	BH_HC_EVTCHN_GET_FDS_REQ = 55, /* fds of a port made for us by a privileged domain */
	BH_HC_TYPE_MAX = 64,
};

struct bh_hc_hdr {
	uint32_t type;  /* enum bh_hc_type, | BH_HC_RESP in responses */
	uint32_t len;   /* payload bytes after this header */
	uint32_t seq;   /* chosen by the caller, echoed */
	int32_t status; /* responses: 0 or -errno; requests: 0 */
};
_Static_assert(sizeof(struct bh_hc_hdr) == 16, "hc header");

/* ---- domains ---------------------------------------------------------- */

enum bh_role {
	BH_ROLE_CONTROL = 0, /* dom0: toolstack, console daemon, watchdog */
	BH_ROLE_STORE = 1,   /* the xenstore stub domain */
	BH_ROLE_DRIVER = 2,  /* driver domain: blkback, netback */
	BH_ROLE_GUEST = 3,   /* PV guest (PV kernel as PID 1), or HVM (QEMU) */
	BH_ROLE_MAX = 4,
};

enum bh_dom_state {
	BH_DOMSTATE_BUILDING = 0, /* created paused, never run */
	BH_DOMSTATE_RUNNING = 1,
	BH_DOMSTATE_PAUSED = 2,
	BH_DOMSTATE_SHUTDOWN = 3, /* dead, resources torn down, awaiting reap */
};

/* Xen's SHUTDOWN_* values. */
enum bh_shutdown_reason {
	BH_SHUTDOWN_POWEROFF = 0,
	BH_SHUTDOWN_REBOOT = 1,
	BH_SHUTDOWN_SUSPEND = 2, /* not used */
	BH_SHUTDOWN_CRASH = 3,
	BH_SHUTDOWN_WATCHDOG = 4,
	BH_SHUTDOWN_NONE = 255, /* still alive */
};

/* Why a crash happened, when the core can tell (bh_dominfo.crash_detail). */
enum bh_crash_detail {
	BH_CRASH_NONE = 0,
	BH_CRASH_SIGNAL = 1,   /* killed by exit_signal */
	BH_CRASH_EXIT = 2,     /* exited non-zero without a shutdown call */
	BH_CRASH_OOM = 3,      /* the memory limit's OOM killer */
	BH_CRASH_SECCOMP = 4,  /* a forbidden system call (SIGSYS) */
	BH_CRASH_SETUP = 5,    /* the sandbox could not be built */
	BH_CRASH_DESTROYED = 6 /* destroyed by request */
};

#define BH_CREATE_PAUSED     0x1u
#define BH_CREATE_PRIVILEGED 0x2u /* control domain rights (only a privileged creator) */
#define BH_CREATE_HOST_IMAGE 0x4u /* image is a host path (admin socket only) */
/* The program does nothing before its first hypercall is answered
 * (bulkhead-driverdom): the core may exec a driver domain's next
 * generation ahead of a restart (a standby, docs/watchdog.md). */
#define BH_CREATE_STANDBY 0x8u

#define BH_CPUMAP_WORDS 4 /* 256 CPUs */

struct bh_hc_create {
	uint32_t flags;
	uint32_t role;          /* enum bh_role */
	uint16_t domid;         /* BH_DOMID_ANY: the core picks */
	uint16_t store_domid;   /* who maps grant ref 1 and binds the store port */
	uint16_t console_domid; /* who maps grant ref 0 and binds the console port */
	uint16_t pad0;
	uint32_t vcpus;
	uint32_t weight;       /* credit scheduler weight, 1..65535, default 256 */
	uint32_t cap;          /* percent of one CPU, 0 = none */
	uint32_t max_grants;   /* grant entries; 0 = default */
	uint32_t max_maptrack; /* grant mappings; 0 = default */
	uint32_t max_ports;    /* event channels; 0 = default */
	uint32_t argv_len;     /* bytes of NUL-separated argv following this struct */
	uint64_t mem_kb;
	uint64_t cpumap[BH_CPUMAP_WORDS]; /* all zero = any CPU */
	char name[BH_NAME_MAX];
	char label[BH_NAME_MAX];
	char image[256]; /* a program in the core's image directory, or a host path */
	                 /* char argv[argv_len] follows: argv[0] first */
};
_Static_assert(sizeof(struct bh_hc_create) == 472, "create");

struct bh_hc_create_resp {
	uint16_t domid;
	uint16_t pad;
	uint32_t generation;
	uint32_t store_port;   /* unbound port in the new domain for store_domid */
	uint32_t console_port; /* unbound port in the new domain for console_domid */
};
_Static_assert(sizeof(struct bh_hc_create_resp) == 16, "create resp");

struct bh_hc_domid {
	uint16_t domid;
	uint16_t pad;
	uint32_t arg; /* request-specific (shutdown reason) */
};
_Static_assert(sizeof(struct bh_hc_domid) == 8, "domid");

struct bh_dominfo {
	uint16_t domid;
	uint16_t pad0;
	uint32_t state;           /* enum bh_dom_state */
	uint32_t role;            /* enum bh_role */
	uint32_t flags;           /* BH_CREATE_* that apply (PRIVILEGED) */
	uint32_t shutdown_reason; /* enum bh_shutdown_reason */
	uint32_t crash_detail;    /* enum bh_crash_detail */
	int32_t exit_status;
	int32_t exit_signal;
	uint32_t generation; /* restarts so far */
	uint32_t vcpus;
	uint32_t weight;
	uint32_t cap;
	int32_t pid; /* host pid of the domain's first process, or 0 */
	uint32_t pad1;
	uint64_t mem_kb;           /* limit */
	uint64_t mem_used_kb;      /* from the cgroup */
	uint64_t cpu_time_ns;      /* from the cgroup */
	uint64_t start_time;       /* CLOCK_REALTIME seconds of this generation */
	uint64_t heartbeat_age_ms; /* since the last heartbeat; UINT64_MAX: never */
	uint64_t cpumap[BH_CPUMAP_WORDS];
	char name[BH_NAME_MAX];
	char label[BH_NAME_MAX];
};
_Static_assert(sizeof(struct bh_dominfo) == 256, "dominfo");

#define BH_HC_LIST_MAX 60 /* dominfos per LIST response */
/* mem_used_kb and cpu_time_ns left 0: the cgroup's files are not read
 * (three per live domain; dom0's watchdog asks after every death and
 * needs only the states). */
#define BH_LIST_NO_USAGE 0x1u
/* A response with fewer than max entries (BH_HC_LIST_MAX if max is 0) is
 * the last: the core looked up to BH_DOMID_MAX. */
struct bh_hc_list_req {
	uint16_t first_domid;
	uint16_t max;
	uint32_t flags; /* BH_LIST_* */
};
struct bh_hc_list_resp {
	uint32_t count;
	uint32_t pad;
	/* struct bh_dominfo info[count] follows */
};
_Static_assert(sizeof(struct bh_hc_list_req) == 8 && sizeof(struct bh_hc_list_resp) == 8, "list");

#define BH_SETRES_MEM    0x1u
#define BH_SETRES_VCPUS  0x2u
#define BH_SETRES_WEIGHT 0x4u
#define BH_SETRES_CAP    0x8u
#define BH_SETRES_CPUMAP 0x10u
struct bh_hc_setres {
	uint16_t domid;
	uint16_t pad;
	uint32_t which; /* BH_SETRES_* */
	uint32_t vcpus;
	uint32_t weight;
	uint32_t cap;
	uint32_t pad1;
	uint64_t mem_kb;
	uint64_t cpumap[BH_CPUMAP_WORDS];
};
_Static_assert(sizeof(struct bh_hc_setres) == 64, "setres");

struct bh_hc_version_resp {
	uint32_t major, minor;
	uint16_t domid; /* the caller's own */
	uint16_t pad;
	uint32_t generation;
	uint32_t role;
	uint32_t flags;
};
_Static_assert(sizeof(struct bh_hc_version_resp) == 24, "version");

/* START_INFO: what a domain needs at boot (Xen's start_info page). The
 * response carries two fds: the xenstore ring page and the console ring page
 * (both read-write, 4096 bytes), or none if the domain has no store/console.
 * Their event-channel fds are fetched with EVTCHN_GET_FDS. */
struct bh_hc_start_info {
	uint16_t domid;
	uint16_t store_domid;
	uint16_t console_domid;
	uint16_t pad;
	uint32_t store_port;
	uint32_t console_port;
	uint32_t generation;
	uint32_t role;
	uint32_t vcpus;
	uint32_t pad1;
	uint64_t mem_kb;
	char name[BH_NAME_MAX];
};
_Static_assert(sizeof(struct bh_hc_start_info) == 104, "start info");

struct bh_hc_sysinfo {
	uint32_t nr_cpus;
	uint32_t nr_domains;
	uint64_t total_mem_kb;
	uint64_t free_mem_kb;
	uint32_t cgroup_version;
	uint32_t max_domains;
	uint64_t uptime_s;
	char version[32];
	char rundir[192];
};
_Static_assert(sizeof(struct bh_hc_sysinfo) == 264, "sysinfo");

struct bh_hc_readconsole_req {
	uint64_t from_seq; /* first line wanted; lines before the ring's start are gone */
};
struct bh_hc_readconsole_resp {
	uint64_t next_seq; /* pass back to continue */
	uint32_t nlines;
	uint32_t len; /* bytes of text following, lines separated by '\n' */
};
_Static_assert(sizeof(struct bh_hc_readconsole_resp) == 16, "readconsole");

/* ---- devices ------------------------------------------------------------ */

#define BH_DEV_TOKEN_MAX 64
#define BH_DEV_RDONLY    0x1u /* open read-only */
#define BH_DEV_DIRECT    0x2u /* O_DIRECT */
#define BH_DEV_CREATE    0x4u /* create the file if missing (never truncates) */

struct bh_hc_device_assign {
	uint16_t domid; /* the domain that may take it */
	uint16_t pad;
	uint32_t flags;               /* BH_DEV_* */
	char token[BH_DEV_TOKEN_MAX]; /* the name the assignee asks for */
	char path[256];
};
_Static_assert(sizeof(struct bh_hc_device_assign) == 328, "assign");

struct bh_hc_device_open {
	uint16_t domid; /* REVOKE: the assignee; OPEN: ignored (the caller) */
	uint16_t pad;
	uint32_t flags;
	char token[BH_DEV_TOKEN_MAX];
};
_Static_assert(sizeof(struct bh_hc_device_open) == 72, "open");

struct bh_hc_device_open_resp {
	uint32_t flags; /* how it was opened */
	uint32_t pad;
	uint64_t size; /* bytes, for regular files */
};

#define BH_TAP_VNET_HDR 0x1u
#define BH_TAP_MQ       0x2u
struct bh_hc_device_tap {
	uint32_t flags;
	uint32_t pad;
	char ifname[16]; /* IFNAMSIZ */
};
_Static_assert(sizeof(struct bh_hc_device_tap) == 24, "tap");

/* UPLINK: the core creates a veth pair, keeps one end on the host and
 * creates the other in the network namespace of a driver domain, the way
 * Xen passes a NIC through. Only a privileged domain (or the administrator)
 * may ask, and only for a driver domain. The uplink belongs to the domid:
 * every later generation of the domain (a restart in place) gets a fresh
 * pair with the same names; destroying the domain removes it. A second
 * request replaces the first. Names empty: "bhup<domid>" on the host,
 * "uplink0" in the domain. The response says which host interface it is. */
struct bh_hc_device_uplink {
	uint16_t domid;         /* the driver domain */
	uint8_t host_prefixlen; /* of host_ipv4, 1..32 */
	uint8_t flags;          /* none yet: 0 */
	uint32_t host_ipv4;     /* the host end's address, network order; 0: none */
	uint32_t mtu;           /* both ends; 0: the kernel's default (1500) */
	uint32_t pad;
	char host_ifname[16]; /* end left on the host ("" = bhup<domid>) */
	char dom_ifname[16];  /* end created in the domain ("" = uplink0) */
	char host_bridge[16]; /* optional host bridge to enslave the host end to */
};
_Static_assert(sizeof(struct bh_hc_device_uplink) == 64, "uplink");

struct bh_hc_device_uplink_resp {
	char host_ifname[16];
	int32_t host_ifindex; /* 0 while the domain is not running */
	uint32_t pad;
};
_Static_assert(sizeof(struct bh_hc_device_uplink_resp) == 24, "uplink resp");

/* ---- grant tables ----------------------------------------------------- */

/* Xen's GNTST_* */
#define BH_GNTST_OKAY              0
#define BH_GNTST_GENERAL_ERROR     (-1)
#define BH_GNTST_BAD_DOMAIN        (-2)
#define BH_GNTST_BAD_GNTREF        (-3)
#define BH_GNTST_BAD_HANDLE        (-4)
#define BH_GNTST_NO_SPACE          (-13)
#define BH_GNTST_PERMISSION_DENIED (-8)
#define BH_GNTST_EAGAIN            (-12)

#define BH_GNT_WRITABLE 0x1u /* ALLOC: grant read-write (else read-only) */
#define BH_GNT_READONLY 0x1u /* MAP: map read-only */
#define BH_GNT_DEFER    0x1u /* END: if still mapped, end at the last unmap */

struct bh_hc_gnt_alloc {
	uint16_t domid; /* grantee */
	uint16_t flags; /* BH_GNT_WRITABLE */
	uint32_t count; /* 1..BH_GNT_MAX_BATCH */
};
struct bh_hc_gnt_alloc_resp {
	uint32_t count;
	uint32_t pad;
	uint32_t refs[BH_GNT_MAX_BATCH]; /* one fd per ref, same order */
};
_Static_assert(sizeof(struct bh_hc_gnt_alloc_resp) == 8 + 4 * BH_GNT_MAX_BATCH, "alloc");

struct bh_hc_gnt_refs {
	uint32_t count;
	uint32_t flags;
	uint32_t refs[BH_GNT_MAX_BATCH];
};
struct bh_hc_gnt_status {
	uint32_t count;
	uint32_t pad;
	int16_t status[BH_GNT_MAX_BATCH]; /* BH_GNTST_* per ref */
};

struct bh_gnt_mapref {
	uint16_t domid; /* granter */
	uint16_t pad;
	uint32_t ref;
};
struct bh_hc_gnt_map {
	uint32_t count;
	uint32_t flags; /* BH_GNT_READONLY */
	struct bh_gnt_mapref refs[BH_GNT_MAX_BATCH];
};
/* All or nothing: if every ref maps, the response status is 0, every
 * status[] is OKAY and one fd per ref follows in order (read-only fds for
 * read-only maps). If any ref fails, whatever did map is unmapped again, no
 * fd is sent, the response status is -EPERM and status[] says which refs
 * failed and why (the others are OKAY). */
struct bh_hc_gnt_map_resp {
	uint32_t count;
	uint32_t pad;
	uint32_t handles[BH_GNT_MAX_BATCH];
	int16_t status[BH_GNT_MAX_BATCH];
};
struct bh_hc_gnt_unmap {
	uint32_t count;
	uint32_t pad;
	uint32_t handles[BH_GNT_MAX_BATCH];
};

/* ---- event channels ----------------------------------------------------- */

#define BH_VIRQ_DOM_EXC 3 /* Xen's VIRQ_DOM_EXC: some domain died */
#define BH_VIRQ_MAX     24

/* Xen's EVTCHNSTAT_* */
#define BH_EVTCHNSTAT_CLOSED      0
#define BH_EVTCHNSTAT_UNBOUND     1
#define BH_EVTCHNSTAT_INTERDOMAIN 2
#define BH_EVTCHNSTAT_VIRQ        4

/* Responses that hand over a port carry two fds: [0] the port's receive
 * eventfd (readable when the port fires), [1] the send eventfd (write 8 bytes
 * to notify the peer; absent for VIRQ ports). */
struct bh_hc_evtchn {
	uint16_t dom;        /* ALLOC_UNBOUND: BH_DOMID_SELF or (privileged) another */
	uint16_t remote_dom; /* ALLOC_UNBOUND, BIND_INTERDOMAIN, STATUS: dom */
	uint32_t port;       /* BIND_INTERDOMAIN: remote port; CLOSE, STATUS, GET_FDS: port */
	uint32_t virq;
	uint32_t pad;
};
_Static_assert(sizeof(struct bh_hc_evtchn) == 16, "evtchn");

struct bh_hc_evtchn_resp {
	uint32_t port;       /* the local port */
	uint32_t status;     /* STATUS: BH_EVTCHNSTAT_* */
	uint16_t remote_dom; /* STATUS */
	uint16_t pad;
	uint32_t remote_port; /* STATUS */
};
_Static_assert(sizeof(struct bh_hc_evtchn_resp) == 16, "evtchn resp");

#endif
