/* A domain's side of its life page (BH_LIFE_FD, core/life.c). */
#ifndef BH_COMMON_LIFE_H
#define BH_COMMON_LIFE_H

/* Map the life page the core handed in and lock the robust mutex in it,
 * from the main thread, for good: the kernel marks it when this thread
 * exits, and the core learns of the end before the exit is done.
 * 0, or -errno (-EBADF: the core gave none; nothing to do). */
int bh_life_hold(void);

#endif
