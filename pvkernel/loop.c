/* The PV kernel's event loop: the console pump between init's pty and the
 * console ring, signals (child reaping and shutdown requests), and the
 * bounded waits of a shutdown. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "ioctl/bhctl.h"
#include "ioctl/xendev.h"
#include "pvkernel/pvk.h"

#define TICK_MS 50

void pvk_console_kick(void *arg)
{
	struct pvk *k = arg;
	struct ioctl_evtchn_notify n = { .port = k->cons_port };

	if (k->cons_port)
		xen_ioctl(k->evtchn, IOCTL_EVTCHN_NOTIFY, &n);
}

static void set_event(struct event *ev, bool *on, bool want, const struct timeval *tv)
{
	if (*on == want || !ev)
		return;
	if (want)
		event_add(ev, tv);
	else
		event_del(ev);
	*on = want;
}

/* Read the pty only while there is room: a full FIFO is back pressure.
 * The tick runs only while something waits: output the ring has no room
 * for, input the pty has no room for, or a shutdown's deadline. */
static void update_events(struct pvk *k)
{
	static const struct timeval tick = { 0, TICK_MS * 1000 };
	bool waiting = pvk_conspump_pending(&k->cons) > 0 || pvk_conspump_in_pending(&k->cons) ||
	               k->kill_at_ns;

	set_event(k->ev_pty_rd, &k->pty_rd_on, pvk_conspump_room(&k->cons) > 0 && !k->init_done,
	          NULL);
	set_event(k->ev_pty_wr, &k->pty_wr_on, pvk_conspump_in_pending(&k->cons), NULL);
	set_event(k->ev_tick, &k->tick_on, waiting, &tick);
	if (k->cons.corrupt && !k->cons_refused) {
		k->cons_refused = true;
		if (k->ev_evtchn) /* its kicks mean nothing now */
			event_del(k->ev_evtchn);
		pvk_printk(k, true,
		           "console: the backend broke the ring's rules: "
		           "the console is the log from now on");
	}
}

static void pump_out(struct pvk *k)
{
	ssize_t r;

	do {
		r = pvk_conspump_from_fd(&k->cons, k->root.master);
	} while (r > 0);
	pvk_conspump_flush(&k->cons);
}

static void pump_in(struct pvk *k)
{
	while (pvk_conspump_to_fd(&k->cons, k->root.master) > 0 &&
	       !pvk_conspump_in_pending(&k->cons)) {
	}
}

static void on_pty_rd(evutil_socket_t fd, short what, void *arg)
{
	pump_out(arg);
	update_events(arg);
}

static void on_pty_wr(evutil_socket_t fd, short what, void *arg)
{
	pump_in(arg);
	update_events(arg);
}

/* The backend consumed output or produced input. */
static void on_evtchn(evutil_socket_t fd, short what, void *arg)
{
	struct pvk *k = arg;
	uint32_t ports[16];
	ssize_t r = xen_read(k->evtchn, ports, sizeof(ports));

	if (r > 0)
		xen_write(k->evtchn, ports, (size_t)r); /* unmask */
	pvk_conspump_flush(&k->cons);
	pump_in(k);
	update_events(k);
}

static const char *reason_word(int reason)
{
	return reason == BH_SHUTDOWN_REBOOT ? "reboot" : "power off";
}

void pvk_request_shutdown(struct pvk *k, int reason, const char *why)
{
	if (k->want_reason >= 0) {
		/* A second request while stopping changes nothing but the
		 * reason (a reboot asked during a power off wins). */
		if (reason == BH_SHUTDOWN_REBOOT)
			k->want_reason = reason;
		return;
	}
	k->want_reason = reason;
	pvk_printk(k, true, "%s requested by %s: stopping init", reason_word(reason), why);
	if (!k->init_done && k->init_pid > 0)
		kill(k->init_pid, SIGTERM);
	k->kill_at_ns = bh_now_ns() + (uint64_t)PVK_GRACE_MS * 1000000ull;
	update_events(k);
}

/* SIGTERM from the core is how it passes on a shutdown request; the
 * reason it recorded (poweroff or reboot) is in our own domain info. A
 * SIGTERM from anyone else on the host means power off. */
static int outside_term_reason(struct pvk *k, const char **who)
{
	struct bh_dominfo d;

	*who = "SIGTERM from outside";
	if (bhctl_domain_getinfo(k->hc, BH_DOMID_SELF, &d) == 0 &&
	    (d.shutdown_reason == BH_SHUTDOWN_POWEROFF ||
	     d.shutdown_reason == BH_SHUTDOWN_REBOOT)) {
		*who = "the core";
		return (int)d.shutdown_reason;
	}
	return BH_SHUTDOWN_POWEROFF;
}

/* PID 1 gets signals from two sides. From outside the guest (the core,
 * the toolstack: si_pid 0 in our namespace) they are requests to stop.
 * From inside they follow busybox/sysvinit's conventions for PID 1, which
 * is what `reboot`, `poweroff` and `halt` send. */
static void on_stop_signal(struct pvk *k, const struct signalfd_siginfo *si)
{
	bool outside = si->ssi_pid == 0;
	const char *who = NULL;
	int reason;
	char why[48];

	switch (si->ssi_signo) {
	case SIGTERM:
		reason = outside ? outside_term_reason(k, &who) : BH_SHUTDOWN_REBOOT;
		break;
	case SIGINT: /* inside: ctrl-alt-del */
		reason = BH_SHUTDOWN_REBOOT;
		break;
	case SIGHUP:
		if (!outside)
			return; /* busybox init: reload inittab; nothing to reload */
		reason = BH_SHUTDOWN_REBOOT;
		break;
	default: /* SIGUSR1 (halt), SIGUSR2 (poweroff), SIGPWR */
		reason = BH_SHUTDOWN_POWEROFF;
		break;
	}
	if (who)
		snprintf(why, sizeof(why), "%s", who);
	else if (outside)
		snprintf(why, sizeof(why), "signal %d from outside", (int)si->ssi_signo);
	else
		snprintf(why, sizeof(why), "signal %d from pid %u", (int)si->ssi_signo,
		         si->ssi_pid);
	pvk_request_shutdown(k, reason, why);
}

/* PID 1's duty: every orphan is ours to reap. */
static void reap(struct pvk *k)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == k->init_pid) {
			k->init_done = true;
			k->init_status = status;
		}
	}
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	struct pvk *k = arg;
	struct signalfd_siginfo si;

	while (read(k->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap(k);
		else
			on_stop_signal(k, &si);
	}
	reap(k); /* SIGCHLDs coalesce */
	if (k->init_done)
		event_base_loopbreak(k->base);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pvk *k = arg;

	/* A backend that consumes without kicking still gets our output. */
	pvk_conspump_flush(&k->cons);
	pump_in(k);
	if (k->kill_at_ns && bh_now_ns() >= k->kill_at_ns) {
		pvk_printk(k, true, "init did not stop in %d ms: killing every process",
		           PVK_GRACE_MS);
		kill(-1, SIGKILL);
		k->kill_at_ns = 0;
	}
	update_events(k);
}

static int add_events(struct pvk *k)
{
	k->ev_pty_rd = event_new(k->base, k->root.master, EV_READ | EV_PERSIST, on_pty_rd, k);
	k->ev_pty_wr = event_new(k->base, k->root.master, EV_WRITE | EV_PERSIST, on_pty_wr, k);
	k->ev_sig = event_new(k->base, k->sigfd, EV_READ | EV_PERSIST, on_signal, k);
	k->ev_tick = event_new(k->base, -1, EV_PERSIST, on_tick, k);
	if (!k->ev_pty_rd || !k->ev_pty_wr || !k->ev_sig || !k->ev_tick ||
	    event_add(k->ev_sig, NULL) < 0)
		return -ENOMEM;
	if (k->cons_port) {
		k->ev_evtchn = event_new(k->base, k->evtchn, EV_READ | EV_PERSIST, on_evtchn, k);
		if (!k->ev_evtchn || event_add(k->ev_evtchn, NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

static void free_events(struct pvk *k)
{
	struct event **evs[] = { &k->ev_pty_rd, &k->ev_pty_wr, &k->ev_sig, &k->ev_tick,
		                 &k->ev_evtchn };

	for (size_t i = 0; i < BH_ARRAY_SIZE(evs); i++) {
		if (*evs[i])
			event_free(*evs[i]);
		*evs[i] = NULL;
	}
	k->pty_rd_on = k->pty_wr_on = k->tick_on = false;
}

static int end_reason(struct pvk *k)
{
	int st = k->init_status;

	if (k->want_reason >= 0)
		return k->want_reason;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return BH_SHUTDOWN_POWEROFF;
	/* Linux panics here ("Attempted to kill init!"); a panicking Xen
	 * guest reports a crash. */
	pvk_printk(k, true, "Kernel panic - not syncing: Attempted to kill init! exitcode=0x%08x",
	           WIFEXITED(st) ? WEXITSTATUS(st) << 8 : WTERMSIG(st));
	return BH_SHUTDOWN_CRASH;
}

int pvk_loop(struct pvk *k)
{
	if (add_events(k) < 0) {
		pvk_printk(k, true, "Kernel panic: cannot set up the event loop");
		kill(-1, SIGKILL);
		return BH_SHUTDOWN_CRASH;
	}
	update_events(k);
	reap(k);
	if (!k->init_done)
		event_base_dispatch(k->base);
	free_events(k);
	return end_reason(k);
}

/* At the end: what init wrote last, then everything into the ring, for as
 * long as a backend keeps taking it (bounded). */
void pvk_console_drain(struct pvk *k)
{
	uint64_t start = bh_now_ns(), last_progress = start;
	size_t before;

	if (!k->cons_up)
		return;
	if (k->root.master >= 0)
		pump_out(k);
	while ((before = pvk_conspump_pending(&k->cons)) > 0) {
		struct pollfd p = { .fd = k->evtchn, .events = POLLIN };
		uint64_t now = bh_now_ns();

		if (now - start > PVK_DRAIN_MS * 1000000ull ||
		    now - last_progress > PVK_DRAIN_MS * 1000000ull / 3)
			break;
		if (k->cons_port && poll(&p, 1, TICK_MS) > 0) {
			uint32_t ports[16];
			ssize_t r = xen_read(k->evtchn, ports, sizeof(ports));
			if (r > 0)
				xen_write(k->evtchn, ports, (size_t)r);
		} else if (!k->cons_port) {
			break;
		}
		if (pvk_conspump_flush(&k->cons) < 0)
			break;
		if (k->root.master >= 0)
			pump_out(k);
		if (pvk_conspump_pending(&k->cons) < before)
			last_progress = bh_now_ns();
	}
}
