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

#endif
