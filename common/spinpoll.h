/* Adaptive polling, as KVM's halt polling, shared by blkback's engine and
 * blkfront: after the last work a thread spins up to a budget before it
 * arms its event and sleeps. The budget adapts to how long each sleep
 * turned out to be: work that came back within the ceiling would have
 * been caught by a longer spin, so the budget doubles (from
 * BH_SPIN_MIN_NS); work that took longer would not, so it halves, down to
 * 0 (an idle ring costs no CPU). A spin that finds work keeps the budget.
 * A gap in the clock during a spin means the thread lost its CPU: the
 * machine is busy, and a spin there takes the time the peer needs to
 * produce work; spinning then stops for BH_SPIN_BACKOFF_NS (a thread that
 * sleeps is woken ahead of others, one that spins waits its turn). */
#ifndef BH_SPINPOLL_H
#define BH_SPINPOLL_H

#include <stdbool.h>
#include <stdint.h>

#define BH_SPIN_MIN_NS       10000     /* the budget grows from this */
#define BH_SPIN_PREEMPTED_NS 100000    /* a clock gap this long: we lost the CPU */
#define BH_SPIN_BACKOFF_NS   100000000 /* then no spinning for this long */

struct bh_spinpoll {
	uint32_t max_ns;     /* the ceiling (0: never spin) */
	uint32_t cur;        /* the budget now (ns) */
	uint64_t idle_since; /* when the thread last went to sleep (0: busy) */
	uint64_t off_until;  /* no spinning before then (ns) */
	uint64_t preempted;  /* spins cut short by losing the CPU */
};

void bh_spinpoll_init(struct bh_spinpoll *p, uint32_t max_ns);
/* At wake-up (NOW): the sleep since idle_since sets the next budget. */
void bh_spinpoll_adapt(struct bh_spinpoll *p, uint64_t now);
/* Spin until READY(ARG) or the budget past FROM runs out; true if ready.
 * Losing the CPU meanwhile zeroes the budget and starts the back-off. */
bool bh_spinpoll_spin(struct bh_spinpoll *p, uint64_t from, bool (*ready)(void *), void *arg);
/* The same up to the time UNTIL instead of the budget (the caller keeps
 * it within the budget). */
bool bh_spinpoll_spin_until(struct bh_spinpoll *p, uint64_t until, bool (*ready)(void *),
                            void *arg);

/* Hybrid polling, as Linux blk-mq's for polled queues: for a wait that
 * the recent ones say lasts tens of microseconds (a read at a device),
 * sleep through most of it on a timer, spin only for its end, and if the
 * answer is later than that, arm the event and sleep. Spinning through
 * the whole wait costs a CPU (on a VM whose host emulates the disk on the
 * same CPUs it also slows the device); sleeping on the event costs the
 * wake-up after the answer (~12 us across vCPUs here).
 *
 * bh_waitest keeps the last BH_WAITEST_N waits (from "nothing to take"
 * to the answer seen) and their quantiles: a median, not a mean, so that
 * one wait that lost the CPU for milliseconds does not move it.
 * bh_hybrid_plan() picks how to wait from them:
 *  - SPIN: too few samples yet, or the median wait is shorter than
 *    BH_HYBRID_MIN_NS: a timed sleep (~11 us at the least here) would
 *    cost more than the wait (page-cache I/O): spin as bh_spinpoll does,
 *    or nothing.
 *  - SLEEP: sleep until *wake_ns past the wait's start (the 25th
 *    percentile, kept within 1/2 to 3/4 of the median: a wake-up that
 *    comes too late is then seen as a shorter wait next time, so an
 *    estimate that is too long shrinks), then spin until *spin_ns (the
 *    90th percentile and BH_HYBRID_SLACK_NS), then arm and sleep.
 *  - EVENT: the waits are too spread (the spin window would exceed
 *    BH_HYBRID_SPIN_NS): a spin there misses as often as it hits; arm and
 *    sleep at once. */
#define BH_WAITEST_N       16
#define BH_WAITEST_MIN     4     /* samples before the plan leaves SPIN */
#define BH_HYBRID_MIN_NS   20000 /* waits shorter than this: no timed sleep */
#define BH_HYBRID_SPIN_NS  50000 /* the longest spin after a timed sleep */
#define BH_HYBRID_SLACK_NS 5000  /* spin this far past the 90th percentile */
/* after this many timed sleeps in a row whose spin found nothing, no
 * timed sleep for BH_SPIN_BACKOFF_NS (the caller's business) */
#define BH_HYBRID_MISSES  4
#define BH_WAITEST_MAX_NS 1000000000u /* longer samples count as this */

struct bh_waitest {
	uint32_t s[BH_WAITEST_N]; /* the last waits (ns), a ring */
	uint32_t n, next;
	bool dirty; /* q25..q90 are stale */
	uint32_t q25, q50, q90;
};

enum bh_hybrid_mode {
	BH_HYBRID_SPIN,
	BH_HYBRID_SLEEP,
	BH_HYBRID_EVENT,
};

void bh_waitest_add(struct bh_waitest *w, uint64_t ns);
/* The median wait (ns); 0 before BH_WAITEST_MIN samples. */
uint32_t bh_waitest_median(struct bh_waitest *w);
/* How to wait (above); wake_ns and spin_ns are offsets from the wait's
 * start, set for SLEEP. late_ns: how much a timed sleep overshoots. */
enum bh_hybrid_mode bh_hybrid_plan(struct bh_waitest *w, uint32_t late_ns, uint32_t *wake_ns,
                                   uint32_t *spin_ns);

/* A timed sleep that wakes close to when it is asked to: a timerfd
 * (an hrtimer without slack; clock_nanosleep and poll timeouts get the
 * thread's 50 us timer slack: measured 89 us for a 20 us sleep on this
 * VM, against 39 us for the timerfd). It learns how late it wakes
 * (late_ns: ~11-19 us here, the vCPU's halt and the timer's exit) and
 * asks the timer for that much less. */
/* A wake-up later than this lost the CPU to another thread: not the
 * timer's own lateness, and not learnt (learning it could make late_ns
 * so large that no sleep is asked for again, and so never unlearnt). */
#define BH_TSLEEP_LATE_MAX_NS 40000

struct bh_tsleep {
	int fd; /* -1: not opened yet (opened at the first sleep) */
	uint32_t late_ns;
};

void bh_tsleep_init(struct bh_tsleep *t);
void bh_tsleep_dispose(struct bh_tsleep *t);
/* Sleep until about UNTIL (bh_now_ns() time); returns bh_now_ns() after.
 * Returns at once when UNTIL minus late_ns has passed, or when no timer
 * can be had. */
uint64_t bh_tsleep_until(struct bh_tsleep *t, uint64_t until);

#endif
