/* The driver-domain watchdog and restart policy in dom0 (docs/watchdog.md,
 * "The watchdog and fault injection").
 *
 * - Hang detection: a timer looks at the heartbeat age the core reports for
 *   every driver domain the toolstack built; past the domain's
 *   heartbeat_timeout it asks the core to end it with reason watchdog, and
 *   the on_watchdog action applies.
 * - Restart policy: consecutive restarts of one domain wait 0, 0.5, 1, 2, 4,
 *   8, 8 ... s (reset after a quiet restart_window); more than restart_limit
 *   restarts within restart_window mark the domain failed: it is left dead
 *   and the guests depending on it are named in the log.
 * - Fault injection (bh inject): crash and hang (through the core), and
 *   corrupt, drop-notify and close-channel (carried out by the driver
 *   domain's runtime on one device, ordered through a store node only dom0
 *   may write), each logged with what it hit. */
#ifndef BH_TOOLSTACK_WATCHDOG_H
#define BH_TOOLSTACK_WATCHDOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bhtool;
struct bhtool_dom;
struct event_base;

#define BHWD_DEFAULT_PERIOD_MS   1000u
#define BHWD_DEFAULT_TIMEOUT_MS  10000u /* a busy 2-core CI host saw 3.2 s */
#define BHWD_DEFAULT_LIMIT       5u
#define BHWD_DEFAULT_WINDOW_S    60u
#define BHWD_BACKOFF_FIRST_NS    500000000ull  /* the second restart in a row waits 0.5 s */
#define BHWD_BACKOFF_MAX_NS      8000000000ull /* and no restart waits longer than 8 s */
#define BHWD_FIRST_BEAT_GRACE_MS 2000u         /* a fresh domain's first heartbeat */
#define BHWD_HISTORY             16u

/* What the watchdog keeps per domain (inside struct bhtool_dom). */
struct bhwd_dom {
	/* restart policy */
	uint64_t restart_ns[BHWD_HISTORY]; /* when recent restarts were decided (ring) */
	unsigned nrestart;                 /* restarts decided so far, ever */
	unsigned streak;                   /* consecutive restarts without a quiet period */
	bool failed;                       /* crash loop: left dead */
	bool restart_pending;              /* a backoff timer will restart it */
	struct event *timer;               /* the backoff timer, while pending */
	/* the last death */
	uint32_t last_reason; /* BH_SHUTDOWN_*, BH_SHUTDOWN_NONE before any */
	int64_t last_death_s; /* wall clock, 0 before any */
	/* hang detection */
	uint32_t seen_generation; /* the generation the clock below belongs to */
	uint64_t seen_since_ns;   /* when the watchdog first saw that generation */
	bool admin_paused;        /* paused by bh pause / create -p: not a hang */
	bool fired;               /* watchdog already ended this generation */
};

/* The policy's verdict for one more restart. */
enum bhwd_verdict {
	BHWD_RESTART, /* restart after *delay_ns (0: now) */
	BHWD_FAIL,    /* crash loop: do not restart */
};

/* Decides the next restart of a domain at NOW (monotonic ns) with the
 * crash-loop LIMIT restarts in WINDOW_S seconds (0: defaults) and records
 * it. Pure: no I/O, for the unit tests. */
enum bhwd_verdict bhwd_policy(struct bhwd_dom *w, uint64_t now_ns, unsigned limit,
                              unsigned window_s, uint64_t *delay_ns);
/* The backoff before the STREAK-th consecutive restart (0-based). */
uint64_t bhwd_backoff_ns(unsigned streak);

/* Starts the hang-check timer (every INTERVAL_MS) on BASE and installs the
 * restart hook into T. */
int bhwd_start(struct bhtool *t, struct event_base *base, unsigned interval_ms);
void bhwd_stop(struct bhtool *t);
/* One pass of the hang check (the timer's body); returns how many domains it
 * ended. */
int bhwd_check(struct bhtool *t);
/* Frees a domain's watchdog state (its pending timer). */
void bhwd_dom_fini(struct bhwd_dom *w);

/* Faults bh inject knows. */
enum bhwd_fault {
	BHWD_FAULT_CRASH,
	BHWD_FAULT_HANG,
	BHWD_FAULT_CORRUPT,       /* the next response on one device is corrupted */
	BHWD_FAULT_DROP_NOTIFY,   /* one device's notifications are lost for MS ms */
	BHWD_FAULT_CLOSE_CHANNEL, /* one device's event channel is closed */
	BHWD_NFAULTS,
};
#define BHWD_DEFAULT_DROP_MS 2000u
/* Store node of dom0's fault orders to driver domain DOMID (docs/watchdog.md). */
#define BHWD_INJECT_NODE "/local/domain/%u/control/inject"
int bhwd_fault_parse(const char *s, enum bhwd_fault *out);
const char *bhwd_fault_name(enum bhwd_fault f);
/* Injects FAULT into the driver domain DOMID and logs it with the guests it
 * hits. The device faults go to the first connected device it serves (or
 * the one whose vdev or vif devid is DEVICE, if not NULL); MS is how long
 * drop-notify lasts (0: until the device reconnects). On success *HIT (if not
 * NULL, HIT_CAP bytes) says what was hit. */
int bhwd_inject(struct bhtool *t, uint16_t domid, enum bhwd_fault fault, const char *device,
                unsigned ms, char *hit, size_t hit_cap);
/* The order line dom0 writes for a device fault (pure, for the tests):
 * "<seq> <fault> <type>/<fe>/<devid> <ms>". */
void bhwd_order_format(char *buf, size_t cap, unsigned long long seq, enum bhwd_fault f, bool vbd,
                       unsigned fe, int devid, unsigned ms);
/* "name(domid) vbd xvda, ..." of the guests with a device on DOMID's
 * backend, into BUF; returns how many guests. */
unsigned bhwd_dependents(struct bhtool *t, uint16_t domid, char *buf, size_t cap);

#endif
