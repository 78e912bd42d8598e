/* Adaptive polling (see spinpoll.h). */
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/spinpoll.h"
#include "common/util.h"

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

void bh_spinpoll_init(struct bh_spinpoll *p, uint32_t max_ns)
{
	*p = (struct bh_spinpoll){ .max_ns = max_ns, .cur = max_ns };
}

void bh_spinpoll_adapt(struct bh_spinpoll *p, uint64_t now)
{
	uint64_t idle;

	if (!p->idle_since)
		return;
	idle = now - p->idle_since;
	p->idle_since = 0;
	if (now < p->off_until)
		return; /* backing off: a recent spin lost its CPU */
	if (idle <= p->max_ns)
		p->cur = BH_MIN(BH_MAX(p->cur * 2, (uint32_t)BH_SPIN_MIN_NS), p->max_ns);
	else
		p->cur /= 2;
	if (p->cur < BH_SPIN_MIN_NS / 2)
		p->cur = 0;
}

bool bh_spinpoll_spin(struct bh_spinpoll *p, uint64_t from, bool (*ready)(void *), void *arg)
{
	return bh_spinpoll_spin_until(p, from + p->cur, ready, arg);
}

bool bh_spinpoll_spin_until(struct bh_spinpoll *p, uint64_t until, bool (*ready)(void *), void *arg)
{
	uint64_t prev = bh_now_ns(), now;

	do {
		for (int i = 0; i < 64; i++) {
			if (ready(arg))
				return true;
			cpu_relax();
		}
		now = bh_now_ns();
		if (now - prev > BH_SPIN_PREEMPTED_NS) {
			p->cur = 0;
			p->off_until = now + BH_SPIN_BACKOFF_NS;
			p->preempted++;
			return false;
		}
		prev = now;
	} while (now < until);
	return false;
}

void bh_waitest_add(struct bh_waitest *w, uint64_t ns)
{
	w->s[w->next] = (uint32_t)BH_MIN(ns, (uint64_t)BH_WAITEST_MAX_NS);
	w->next = (w->next + 1) % BH_WAITEST_N;
	if (w->n < BH_WAITEST_N)
		w->n++;
	w->dirty = true;
}

/* Sort a copy of the window (insertion sort of at most 16: done once per
 * new sample, only when a plan is asked for). */
static void waitest_update(struct bh_waitest *w)
{
	uint32_t v[BH_WAITEST_N];

	if (!w->dirty)
		return;
	w->dirty = false;
	for (uint32_t i = 0; i < w->n; i++) {
		uint32_t x = w->s[i], j = i;
		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	w->q25 = v[(w->n - 1) / 4];
	w->q50 = v[(w->n - 1) / 2];
	w->q90 = v[(w->n - 1) * 9 / 10];
}

uint32_t bh_waitest_median(struct bh_waitest *w)
{
	if (w->n < BH_WAITEST_MIN)
		return 0;
	waitest_update(w);
	return w->q50;
}

enum bh_hybrid_mode bh_hybrid_plan(struct bh_waitest *w, uint32_t late_ns, uint32_t *wake_ns,
                                   uint32_t *spin_ns)
{
	uint32_t med = bh_waitest_median(w), wake, end;

	(void)late_ns;
	if (med < BH_HYBRID_MIN_NS)
		return BH_HYBRID_SPIN;
	wake = BH_MIN(BH_MAX(w->q25, med / 2), med / 4 * 3);
	end = w->q90 + BH_HYBRID_SLACK_NS;
	if (end - wake > BH_HYBRID_SPIN_NS)
		return BH_HYBRID_EVENT;
	*wake_ns = wake;
	*spin_ns = end;
	return BH_HYBRID_SLEEP;
}

void bh_tsleep_init(struct bh_tsleep *t)
{
	*t = (struct bh_tsleep){ .fd = -1 };
}

void bh_tsleep_dispose(struct bh_tsleep *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

uint64_t bh_tsleep_until(struct bh_tsleep *t, uint64_t until)
{
	uint64_t now = bh_now_ns(), ask = until - BH_MIN(until, (uint64_t)t->late_ns), v;

	if (ask <= now)
		return now;
	if (t->fd < 0 && (t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)) < 0)
		return now;
	struct itimerspec it = { .it_value = { (time_t)(ask / 1000000000ull),
		                               (long)(ask % 1000000000ull) } };
	if (timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &it, NULL) < 0 ||
	    read(t->fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return bh_now_ns();
	now = bh_now_ns();
	/* EWMA (1/4) of how late past what was asked the thread ran again. */
	int64_t late = (int64_t)(now - ask);
	if (late > 0 && late < BH_TSLEEP_LATE_MAX_NS)
		t->late_ns = (uint32_t)((int64_t)t->late_ns + (late - (int64_t)t->late_ns) / 4);
	return now;
}
