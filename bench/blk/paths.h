/* The paths blkbench compares, each as a struct bb_target (workload.h). */
#ifndef BH_BENCH_BLK_PATHS_H
#define BH_BENCH_BLK_PATHS_H

#include <stddef.h>

#include "bench/blk/workload.h"
#include "common/util.h"

#define BB_MAX_RUNS 21

/* io_uring directly on fd, in this process (the baseline). */
int bb_direct_open(int fd, struct bb_target *t);
void bb_direct_close(struct bb_target *t);

/* blkfront -> blkback in this process (pvlocal.c). */
/* poll_ns: blkback_config.poll_ns and blkfront_config.poll_ns; zc: the
 * I/O goes from buffers lent by blkfront (blkfront_buf_alloc), no copy. */
/* The CPU the engine thread runs on (-1: wherever the scheduler puts it;
 * bench-blk -a). */
extern int bb_engine_cpu;
/* The frontend sleeps this long (ns, < 1 s) before it reaps and polls
 * (0: not at all; bench-blk -H). */
extern long bb_front_sleep_ns;
/* no_hybrid: blkfront_config.no_hybrid (only the spin). */
int bb_local_open(int fd, uint64_t img, uint32_t poll_ns, bool zc, bool no_hybrid,
                  struct bb_target *t);
/* Print the frontend's polling counters (blkfront_stats) and median wait. */
void bb_local_poll_report(struct bb_target *t, const char *name);
void bb_local_close(struct bb_target *t);
/* The backend's grant maps so far (persistent: once per page; transient:
 * per request: must stay 0 in the steady state). */
void bb_local_maps(struct bb_target *t, uint64_t *persistent, uint64_t *transient);

/* qemu-storage-daemon over NBD with a libnbd client (nbd.c). */
int bb_nbd_open(const char *image, bool direct, struct bb_target *t);
void bb_nbd_close(struct bb_target *t);

/* blkfront in a guest domain -> blkback in a driver domain (xdom.c). */
struct bb_xdom;
int bb_xdom_start(struct bb_xdom **out, char *img_path, size_t len);
int bb_xdom_run(struct bb_xdom *x, const char *img_path, uint64_t img, bool direct, double secs,
                int runs, uint32_t poll_ns, bool zc, bool no_hybrid,
                struct bb_result res[BB_NLOADS][BB_MAX_RUNS]);
int bb_xdom_stop(struct bb_xdom *x);

#endif
