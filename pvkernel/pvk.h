/* The PV kernel's state, shared by its boot sequence (pvkernel.c) and its
 * event loop (loop.c). One instance, owned by main(). */
#ifndef BH_PVK_PVK_H
#define BH_PVK_PVK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <event2/event.h>

#include "bulkhead/hypercall.h"
#include "ioctl/hcall_client.h"
#include "pvkernel/cmdline.h"
#include "pvkernel/conspump.h"
#include "pvkernel/initproc.h"
#include "pvkernel/rootfs.h"
#include "pvkernel/store.h"

/* How long init and the rest get between SIGTERM and SIGKILL, and how
 * long console output may take to reach a bound backend at the end. */
#define PVK_GRACE_MS 5000
#define PVK_DRAIN_MS 3000

struct pvk {
	const char *ramdisk_token;
	const char *const *words; /* the kernel command line */
	size_t nwords;
	struct bh_hc_client *hc;
	struct bh_hc_start_info si;
	struct pvk_cmdline cmd;
	struct pvk_rootfs root;
	struct event_base *base;
	struct pvk_store *store;
	/* console */
	struct bh_cons_intf *ring; /* NULL: no console, output to the log */
	int evtchn;                /* /dev/xen/evtchn (xen_open) */
	uint32_t cons_port;        /* 0: not attached */
	struct pvk_conspump cons;
	bool cons_up;
	bool cons_refused; /* the ring was found corrupt and dropped (reported) */
	struct event *ev_pty_rd, *ev_pty_wr, *ev_evtchn, *ev_sig, *ev_tick;
	bool pty_rd_on, pty_wr_on, tick_on;
	/* processes */
	int sigfd;
	pid_t init_pid;
	int want_reason;     /* a requested shutdown, or -1 */
	uint64_t kill_at_ns; /* SIGKILL everyone then (0: not shutting down) */
	bool init_done;
	int init_status; /* wait status */
};

void pvk_printk(struct pvk *k, bool always, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Notify the console backend (conspump's kick). */
void pvk_console_kick(void *arg);
/* Flush console output until it is in the ring, bounded (PVK_DRAIN_MS, and
 * less when nobody consumes). */
void pvk_console_drain(struct pvk *k);
/* Begin an orderly shutdown (SIGTERM to init, SIGKILL after the grace). */
void pvk_request_shutdown(struct pvk *k, int reason, const char *why);
/* Run until init has ended; returns the shutdown reason. */
int pvk_loop(struct pvk *k);

#endif
