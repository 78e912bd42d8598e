/* blkbench-xdom: the blk benchmark across real domains. A real core is
 * started; blkfront-probe runs the workloads of workload.h in a guest
 * domain against blkback-serve in a driver domain (grants, event channels
 * and the image through the core), then the same workloads run here
 * directly with io_uring on the same image file. Needs root.
 *
 *   blkbench-xdom [-s image_MiB] [-t seconds_per_run] [-r runs] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/blk/workload.h"
#include "tests/harness.h"

#define FRONT 70
#define BACK  71

int main(int argc, char **argv)
{
	uint64_t img = 64ull << 20;
	double secs = 1.0;
	int runs = 5, opt;

	while ((opt = getopt(argc, argv, "s:t:r:")) != -1) {
		if (opt == 's')
			img = strtoull(optarg, NULL, 10) << 20;
		else if (opt == 't')
			secs = atof(optarg);
		else if (opt == 'r')
			runs = atoi(optarg);
		else
			return fprintf(stderr,
			               "usage: blkbench-xdom [-s MiB] [-t secs] [-r runs]\n"),
			       2;
	}
	if (runs < 1 || runs > 20 || img < (1 << 20) || secs <= 0)
		return fprintf(stderr, "blkbench-xdom: bad arguments\n"), 2;

	struct th_host h;
	struct bh_hc_create_resp r;
	char path[512], sectors[32], s_secs[32], s_runs[16];
	if (th_host_start(&h, NULL) < 0)
		return fprintf(stderr, "cannot start a core (root needed)\n"), 1;
	snprintf(path, sizeof(path), "%s/disk.img", h.devdir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)img) < 0 || bb_prefill(fd, img) < 0)
		return perror("image"), 1;
	snprintf(sectors, sizeof(sectors), "%llu", (unsigned long long)(img / 512));
	snprintf(s_secs, sizeof(s_secs), "%g", secs);
	snprintf(s_runs, sizeof(s_runs), "%d", runs);
	const char *fargv[] = {
		th_prog("blkfront-probe"), "71", sectors, "0", "bench", s_secs, s_runs, NULL
	};
	if (th_create(&h, "front", BH_ROLE_GUEST, 256, 0, FRONT, fargv, &r) < 0)
		return fprintf(stderr, "frontend domain\n"), 1;
	char *log = th_wait_log(&h, "front", "RING", 20000);
	if (!log)
		return fprintf(stderr, "no ring from the frontend\n"), 1;
	unsigned order, port, ref;
	if (sscanf(strstr(log, "RING "), "RING %u %u %u", &order, &port, &ref) != 3)
		return 1;
	free(log);
	char sport[16], sref[16];
	snprintf(sport, sizeof(sport), "%u", port);
	snprintf(sref, sizeof(sref), "%u", ref);
	const char *bargv[] = { th_prog("blkback-serve"), "70", "xvda", "0", sport, sref, NULL };
	if (th_create(&h, "back", BH_ROLE_DRIVER, 256, BH_CREATE_PAUSED, BACK, bargv, &r) < 0 ||
	    bhctl_device_assign(&h.cl, BACK, "xvda", path, 0) < 0 ||
	    bhctl_domain_unpause(&h.cl, BACK) < 0)
		return fprintf(stderr, "backend domain\n"), 1;
	int timeout = (int)((BB_NLOADS * (runs * secs + 0.3) + 60) * 1000);
	if (!(log = th_wait_log(&h, "front", "BENCH-DONE", timeout))) {
		char *fl = th_log(&h, "front"), *bl = th_log(&h, "back");
		fprintf(stderr, "the frontend did not finish\nfront:\n%s\nback:\n%s\n", fl, bl);
		free(fl);
		free(bl);
		th_host_stop(&h);
		return 1;
	}

	double pv[BB_NLOADS][20] = { { 0 } }, direct[20];
	for (char *p = log; (p = strstr(p, "BENCH ")); p++) {
		unsigned k, run;
		double v;
		if (sscanf(p, "BENCH %u %u %lf", &k, &run, &v) == 3 && k < BB_NLOADS &&
		    run < (unsigned)runs)
			pv[k][run] = v;
	}
	free(log);
	char *bufs[32];
	for (int i = 0; i < 32; i++)
		if (posix_memalign((void **)&bufs[i], 4096, 128 << 10))
			return 1;
	printf("image %llu MiB (page cache), queue depth 32, %d runs of %g s; medians\n",
	       (unsigned long long)(img >> 20), runs, secs);
	printf("blkif: blkfront in a guest domain -> blkback in a driver domain, through a core\n");
	printf("%-16s %14s %14s %14s %14s %7s\n", "workload", "blkif IOPS", "blkif MiB/s",
	       "io_uring IOPS", "io_uring MiB/s", "ratio");
	for (int k = 0; k < BB_NLOADS; k++) {
		const struct bb_workload *w = &bb_loads[k];
		for (int i = 0; i < runs; i++)
			direct[i] = bb_run_direct(fd, w, bufs, 32, secs, img);
		double a = bb_median(pv[k], runs), b = bb_median(direct, runs);
		printf("%-16s %14.0f %14.1f %14.0f %14.1f %7.2f\n", w->name, a,
		       a * w->bs / (1 << 20), b, b * w->bs / (1 << 20), b > 0 ? a / b : 0);
	}
	for (int i = 0; i < 32; i++)
		free(bufs[i]);
	close(fd);
	bhctl_domain_destroy(&h.cl, BACK);
	bhctl_domain_destroy(&h.cl, FRONT);
	return th_host_stop(&h) == 0 ? 0 : 1;
}
