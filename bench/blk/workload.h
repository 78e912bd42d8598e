/* The workloads of the blk benchmarks and the direct io_uring baseline,
 * shared by blkbench (in-process), blkbench-xdom (across domains) and the
 * frontend's bench mode in blkfront-probe. */
#ifndef BH_BENCH_BLK_WORKLOAD_H
#define BH_BENCH_BLK_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

struct bb_workload {
	const char *name;
	bool write, random;
	uint32_t bs;
};

#define BB_NLOADS 4
static const struct bb_workload bb_loads[BB_NLOADS] = {
	{ "seq-read 128k", false, false, 128 << 10 },
	{ "seq-write 128k", true, false, 128 << 10 },
	{ "rand-read 4k", false, true, 4096 },
	{ "rand-write 4k", true, true, 4096 },
};

#define BB_SEED 88172645463325252ull

/* The next offset (bytes) of a workload on an image of img bytes. */
static inline uint64_t bb_next_off(const struct bb_workload *w, uint64_t img, uint64_t *pos,
                                   uint64_t *seed)
{
	uint64_t blocks = img / w->bs;

	if (!w->random)
		return ((*pos)++ % blocks) * w->bs;
	*seed ^= *seed << 13;
	*seed ^= *seed >> 7;
	*seed ^= *seed << 17;
	return (*seed % blocks) * w->bs;
}

/* Operations per second of w done directly with io_uring on fd. */
double bb_run_direct(int fd, const struct bb_workload *w, char **bufs, int depth, double secs,
                     uint64_t img);
double bb_median(double *v, int n);
/* Fill the image with a pattern and sync it. */
int bb_prefill(int fd, uint64_t img);

#endif
