/* The loop every path runs: keep w->depth I/Os in flight for secs seconds,
 * time each from submission to completion, then the median and 99th
 * percentile of those times (the samples are kept and sorted after the
 * timed window, not binned). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/blk/workload.h"
#include "common/util.h"

#define MAX_SAMPLES (4u << 20)

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint32_t *v, uint32_t n, double p)
{
	if (n == 0)
		return 0;
	uint32_t i = (uint32_t)(p * (n - 1) + 0.5);
	return v[i] / 1000.0;
}

int bb_run(const struct bb_target *t, const struct bb_workload *w, char **bufs, uint64_t img,
           double secs, struct bb_result *out)
{
	static uint32_t *lat; /* ns per operation */
	uint64_t pos = 0, seed = BB_SEED, ops = 0, errors = 0, started[BB_MAX_DEPTH];
	int free_slots[BB_MAX_DEPTH], nfree = w->depth, inflight = 0, done[BB_MAX_DEPTH];
	uint32_t nlat = 0;

	memset(out, 0, sizeof(*out));
	if (w->depth < 1 || w->depth > BB_MAX_DEPTH || w->bs > BB_MAX_BS)
		return -EINVAL;
	if (!lat && !(lat = malloc(MAX_SAMPLES * sizeof(*lat))))
		return -ENOMEM;
	for (int i = 0; i < w->depth; i++)
		free_slots[i] = w->depth - 1 - i;
	uint64_t t0 = bh_now_ns(), end = t0 + (uint64_t)(secs * 1e9);
	for (;;) {
		int nsub = 0;
		if (bh_now_ns() < end) {
			while (nfree > 0) {
				int s = free_slots[nfree - 1], rc;
				started[s] = bh_now_ns();
				rc = t->submit(t->p, s, w->write, bb_next_off(w, img, &pos, &seed),
				               bufs[s], w->bs);
				if (rc == -EAGAIN && inflight + nsub > 0)
					break;
				if (rc < 0)
					return rc;
				nfree--;
				nsub++;
			}
		}
		if (nsub && t->commit)
			t->commit(t->p);
		inflight += nsub;
		if (inflight == 0)
			break;
		int n = t->wait(t->p, done, BB_MAX_DEPTH, &errors);
		if (n < 0)
			return n;
		uint64_t now = bh_now_ns();
		for (int i = 0; i < n; i++) {
			int s = done[i];
			if (nlat < MAX_SAMPLES)
				lat[nlat++] =
				    (uint32_t)BH_MIN(now - started[s], (uint64_t)UINT32_MAX);
			free_slots[nfree++] = s;
		}
		inflight -= n;
		ops += (uint64_t)n;
	}
	out->iops = (double)ops / ((double)(bh_now_ns() - t0) / 1e9);
	out->errors = errors;
	qsort(lat, nlat, sizeof(*lat), cmp_u32);
	out->p50_us = pct(lat, nlat, 0.50);
	out->p99_us = pct(lat, nlat, 0.99);
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bb_median(const double *v, int n)
{
	double s[64];

	if (n <= 0 || n > 64)
		return 0;
	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_d);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

char **bb_bufs_alloc(void)
{
	char **b = calloc(BB_MAX_DEPTH, sizeof(*b));

	for (int i = 0; b && i < BB_MAX_DEPTH; i++) {
		if (posix_memalign((void **)&b[i], 4096, BB_MAX_BS) != 0) {
			b[i] = NULL;
			bb_bufs_free(b);
			return NULL;
		}
		memset(b[i], 0x5a, BB_MAX_BS);
	}
	return b;
}

void bb_bufs_free(char **bufs)
{
	for (int i = 0; bufs && i < BB_MAX_DEPTH; i++)
		free(bufs[i]);
	free(bufs);
}

int bb_prefill(int fd, uint64_t img)
{
	char *b = malloc(1 << 20);

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < 1 << 20; i++)
		b[i] = (char)(i * 13);
	for (uint64_t off = 0; off < img; off += 1 << 20)
		if (pwrite(fd, b, 1 << 20, (off_t)off) != 1 << 20) {
			free(b);
			return -EIO;
		}
	free(b);
	return fdatasync(fd) < 0 ? -errno : 0;
}
