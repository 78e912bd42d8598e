/* The workloads of the blk benchmark and the loop that runs them against
 * any target (direct io_uring, blkfront in this process or in a guest
 * domain, an NBD client), with per-operation latency. Shared by blkbench
 * and the frontend's bench mode in blkfront-probe. */
#ifndef BH_BENCH_BLK_WORKLOAD_H
#define BH_BENCH_BLK_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

struct bb_workload {
	const char *name;
	bool write, random;
	uint32_t bs;
	int depth; /* I/Os kept in flight */
};

/* The set: 4 KiB random reads at queue depth 1 and 32, 1 MiB
 * sequential reads and writes (4 in flight: 4 MiB, what the frontend's
 * 1024-page pool holds). */
#define BB_NLOADS    4
#define BB_MAX_DEPTH 32
#define BB_MAX_BS    (1u << 20)
static const struct bb_workload bb_loads[BB_NLOADS] = {
	{ "randread 4k qd1", false, true, 4096, 1 },
	{ "randread 4k qd32", false, true, 4096, 32 },
	{ "seqread 1M qd4", false, false, 1u << 20, 4 },
	{ "seqwrite 1M qd4", true, false, 1u << 20, 4 },
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

/* What a path under test provides. slot < BB_MAX_DEPTH names the I/O
 * (and its buffer) until it is handed back by wait. */
struct bb_target {
	void *p;
	/* Start one I/O: 0, or a negative errno (-EAGAIN: no room now). */
	int (*submit)(void *p, int slot, bool write, uint64_t off, void *buf, uint32_t len);
	/* After a burst of submits (NULL: nothing to do). */
	void (*commit)(void *p);
	/* Block until at least one I/O completed; store up to max slots, and
	 * count failed ones in *errors; returns how many, or negative errno. */
	int (*wait)(void *p, int *slots, int max, uint64_t *errors);
};

struct bb_result {
	double iops;
	double p50_us, p99_us; /* submission to completion, as the caller sees it */
	uint64_t errors;
};

/* One timed run of w for secs seconds. */
int bb_run(const struct bb_target *t, const struct bb_workload *w, char **bufs, uint64_t img,
           double secs, struct bb_result *out);
double bb_median(const double *v, int n);
/* Buffers for every slot (BB_MAX_DEPTH of BB_MAX_BS bytes, page aligned). */
char **bb_bufs_alloc(void);
void bb_bufs_free(char **bufs);
/* Fill the image with a pattern and sync it. */
int bb_prefill(int fd, uint64_t img);

#endif
