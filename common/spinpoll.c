/* Adaptive polling (see spinpoll.h). */
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
