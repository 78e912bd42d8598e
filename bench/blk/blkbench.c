/* bench-blk (blkbench): the PV block path against io_uring directly on the same file
 * and against qemu-storage-daemon + NBD, side by side in one run.
 *
 *   bench-blk [-s image_MiB] [-t secs_per_run | -n ms] [-r runs] [-m pc|direct|both]
 *            [-p uring,local,zc,spin,xdom,xzc,nbd] [-w workload_mask]
 *            [-P poll_ns (default 50000, 0: off)] [-Y] [-a main_cpu,engine_cpu] [-H ns]
 *            [-q: smoke run]
 *            [-h]
 *
 * Paths (-p):
 *   uring  io_uring on the image in this process (the baseline)
 *   local  blkfront -> ring -> blkback engine in this process (two threads)
 *   zc     the same, the I/O in buffers blkfront lends out of its granted
 *          pool (blkfront_buf_alloc): no copy in the frontend
 *   spin   "local" with blkfront's hybrid polling off (only the adaptive
 *          spin, as before it): the hybrid poll against the spin, in the
 *          same run
 *   xdom   blkfront in a guest domain -> blkback in a driver domain, through
 *          a real core (root)
 *   xzc    the same with zero-copy buffers in the guest
 *   nbd    qemu-storage-daemon serving the image over NBD (unix socket) to a
 *          libnbd client in this process
 * Modes (-m): the image page-cache resident, and opened with O_DIRECT
 * (cache.direct=on for qemu-storage-daemon). The workloads are those of
 * workload.h; the in-process paths alternate run by run so drift of the
 * machine hits them alike; the guest domain runs its runs in one block,
 * followed by io_uring again ("io_uring again"), which the cross-domain
 * paths are divided by.
 * -a pins this process's main thread (io_uring, the frontend, the NBD
 * client) and the one-process engine's thread to the given CPUs: on a VM
 * the vCPU that takes the disk's interrupt answers an O_DIRECT read
 * ~15 us sooner than the other one, for the baseline and the engine alike,
 * so unpinned O_DIRECT ratios depend on where the scheduler put whom.
 * -Y turns blkfront's hybrid polling off on every path (local, zc, and
 * the guest's frontend): the behaviour before it, for A/B runs.
 * -H NS: in the one-process paths the frontend sleeps NS before it waits
 * for a completion (then blkfront_reap polls as usual): a hand-tuned
 * hybrid poll, to measure what sleeping through most of an O_DIRECT read
 * and polling only for its end would give (bench/results/blkbench.md).
 * Prints, per workload and path, the medians over the runs of IOPS, MiB/s,
 * p50 and p99 latency, and the ratio to io_uring and to NBD. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/blk/paths.h"
#include "blkback/blkback.h"

enum { P_URING, P_LOCAL, P_ZC, P_SPIN, P_XDOM, P_XZC, P_NBD, P_URING2, P_N };
static const char *const pname[P_N] = { "io_uring",          "blkif 1 process",
	                                "blkif 1p zerocopy", "blkif 1p no hybrid",
	                                "blkif domains",     "blkif doms zerocopy",
	                                "qsd+NBD",           "io_uring again" };
static const char *const pkey[P_N] = { "uring", "local", "zc",  "spin",
	                               "xdom",  "xzc",   "nbd", "uring2" };
/* The table's order: the cross-domain blocks run after the in-process
 * paths, then io_uring again; they are divided by that second baseline,
 * measured next to them. */
static const int order[P_N] = { P_URING, P_LOCAL, P_ZC, P_SPIN, P_NBD, P_XDOM, P_XZC, P_URING2 };

/* The baseline path p is divided by. */
static int base_of(int p)
{
	return (p == P_XDOM || p == P_XZC) ? P_URING2 : P_URING;
}

static uint64_t img = 256ull << 20;
static double secs = 1.0;
static int runs = 5;
static uint32_t poll_ns = BLKBACK_POLL_DEFAULT_NS; /* -P */
static bool no_hybrid;                             /* -Y */
static unsigned loads = (1u << BB_NLOADS) - 1;     /* -w: which workloads */
static bool use[P_N];
static struct bb_result res[P_N][BB_NLOADS][BB_MAX_RUNS];

static double med(int p, int k, int field)
{
	double v[BB_MAX_RUNS];

	for (int r = 0; r < runs; r++)
		v[r] = field == 0   ? res[p][k][r].iops
		       : field == 1 ? res[p][k][r].p50_us
		                    : res[p][k][r].p99_us;
	return bb_median(v, runs);
}

static void print_mode(bool direct)
{
	printf("\n== %s: image %llu MiB, %d runs of %g s each; medians ==\n",
	       direct ? "O_DIRECT (qsd cache.direct=on)" : "page cache",
	       (unsigned long long)(img >> 20), runs, secs);
	printf("%-17s %-19s %9s %9s %8s %8s %8s %7s\n", "workload", "path", "IOPS", "MiB/s",
	       "p50 us", "p99 us", "/uring", "/NBD");
	for (int k = 0; k < BB_NLOADS; k++) {
		const struct bb_workload *w = &bb_loads[k];
		if (!(loads & (1u << k)))
			continue;
		double nbd = use[P_NBD] ? med(P_NBD, k, 0) : 0;
		bool first = true;
		for (int i = 0; i < P_N; i++) {
			int p = order[i];
			if (!use[p])
				continue;
			double base = use[base_of(p)] ? med(base_of(p), k, 0) : 0;
			double iops = med(p, k, 0);
			uint64_t errs = 0;
			for (int r = 0; r < runs; r++)
				errs += res[p][k][r].errors;
			printf("%-17s %-19s %9.0f %9.1f %8.1f %8.1f", first ? w->name : "",
			       pname[p], iops, iops * w->bs / (1 << 20), med(p, k, 1),
			       med(p, k, 2));
			if (base > 0)
				printf(" %8.2f", iops / base);
			else
				printf(" %8s", "-");
			if (nbd > 0 && p != P_NBD && p != P_URING2)
				printf(" %7.2f", iops / nbd);
			if (errs)
				printf("  (%llu I/O errors)", (unsigned long long)errs);
			printf("\n");
			first = false;
		}
	}
	fflush(stdout);
}

/* The machine lines scripts/bench.sh collects (bench/README.md): each
 * blkif path against io_uring (goal 0.8x from the page cache, 0.95x with
 * O_DIRECT) and against qemu-storage-daemon + NBD (goal: ahead). */
static void print_results(bool direct)
{
	static const char *const key[BB_NLOADS] = { "randread-4k-qd1", "randread-4k-qd32",
		                                    "seqread-1M-qd4", "seqwrite-1M-qd4" };
	const char *mode = direct ? "direct" : "pagecache";
	double goal = direct ? 0.95 : 0.8;

	for (int k = 0; k < BB_NLOADS; k++) {
		if (!(loads & (1u << k)))
			continue;
		double nbd = use[P_NBD] ? med(P_NBD, k, 0) : 0;
		for (int p = P_LOCAL; p <= P_XZC; p++) {
			if (!use[p])
				continue;
			double base = use[base_of(p)] ? med(base_of(p), k, 0) : 0;
			double v = med(p, k, 0);
			if (base > 0)
				printf("RESULT bench-blk %s.%s.%s bulkhead=%.0f baseline=%.0f "
				       "unit=IOPS "
				       "ratio=%.2f goal=%.2f %s\n",
				       mode, key[k], pkey[p], v, base, v / base, goal,
				       v / base >= goal ? "met" : "MISSED");
			if (nbd > 0)
				printf(
				    "RESULT bench-blk %s.%s.%s-vs-nbd bulkhead=%.0f baseline=%.0f "
				    "unit=IOPS ratio=%.2f goal=1.00 %s\n",
				    mode, key[k], pkey[p], v, nbd, v / nbd,
				    v > nbd ? "met" : "MISSED");
		}
	}
}

static int run_mode(const char *path, bool direct, struct bb_xdom *x, char **bufs)
{
	struct bb_target t[P_N] = { { 0 } };
	bool open_ok[P_N] = { false };
	int fd = open(path, O_RDWR | (direct ? O_DIRECT : 0));
	int rc = 0;

	if (fd < 0)
		return perror(path), -1;
	if (use[P_URING] && (rc = bb_direct_open(fd, &t[P_URING])) < 0)
		goto out;
	open_ok[P_URING] = use[P_URING];
	if (use[P_LOCAL] &&
	    (rc = bb_local_open(fd, img, poll_ns, false, no_hybrid, &t[P_LOCAL])) < 0)
		goto out;
	open_ok[P_LOCAL] = use[P_LOCAL];
	if (use[P_ZC] && (rc = bb_local_open(fd, img, poll_ns, true, no_hybrid, &t[P_ZC])) < 0)
		goto out;
	open_ok[P_ZC] = use[P_ZC];
	if (use[P_SPIN] && (rc = bb_local_open(fd, img, poll_ns, false, true, &t[P_SPIN])) < 0)
		goto out;
	open_ok[P_SPIN] = use[P_SPIN];
	if (use[P_NBD] && (rc = bb_nbd_open(path, direct, &t[P_NBD])) < 0)
		goto out;
	open_ok[P_NBD] = use[P_NBD];
	sync(); /* no writeback left over from the mode before */
	/* Warm up: the backend maps its persistent grants on first use. */
	struct bb_result junk;
	for (int p = 0; p < P_N; p++)
		for (int k = 0; open_ok[p] && k < BB_NLOADS; k++)
			if ((loads & (1u << k)) &&
			    (rc = bb_run(&t[p], &bb_loads[k], bufs, img, 0.2, &junk)) < 0)
				goto out;
	/* Persistent grants make the steady state map-free: count the maps. */
	uint64_t pm0[P_N] = { 0 }, tm0[P_N] = { 0 }, pm1, tm1;
	for (int p = P_LOCAL; p <= P_SPIN; p++)
		if (open_ok[p])
			bb_local_maps(&t[p], &pm0[p], &tm0[p]);
	for (int k = 0; k < BB_NLOADS; k++)
		for (int r = 0; r < runs && (loads & (1u << k)); r++)
			for (int p = 0; p < P_N; p++)
				if (open_ok[p] && (rc = bb_run(&t[p], &bb_loads[k], bufs, img, secs,
				                               &res[p][k][r])) < 0) {
					fprintf(stderr, "blkbench: %s: %s\n", pname[p],
					        strerror(-rc));
					goto out;
				}
	for (int p = P_LOCAL; p <= P_SPIN; p++) {
		if (!open_ok[p])
			continue;
		bb_local_poll_report(&t[p], pname[p]);
		bb_local_maps(&t[p], &pm1, &tm1);
		printf("%s: backend grant maps during the timed runs: %llu persistent, %llu "
		       "transient (%llu persistent in the warm-up)\n",
		       pname[p], (unsigned long long)(pm1 - pm0[p]),
		       (unsigned long long)(tm1 - tm0[p]), (unsigned long long)pm0[p]);
	}
	if (x && use[P_XDOM] &&
	    bb_xdom_run(x, path, img, direct, secs, runs, poll_ns, false, no_hybrid, res[P_XDOM]) <
	        0)
		rc = -EIO;
	if (x && use[P_XZC] &&
	    bb_xdom_run(x, path, img, direct, secs, runs, poll_ns, true, no_hybrid, res[P_XZC]) < 0)
		rc = -EIO;
	/* The baseline again, next to the cross-domain blocks. */
	for (int k = 0; rc == 0 && use[P_URING2] && k < BB_NLOADS; k++)
		for (int r = 0; r < runs && (loads & (1u << k)); r++)
			if ((rc = bb_run(&t[P_URING], &bb_loads[k], bufs, img, secs,
			                 &res[P_URING2][k][r])) < 0)
				goto out;
out:
	if (open_ok[P_NBD])
		bb_nbd_close(&t[P_NBD]);
	if (open_ok[P_SPIN])
		bb_local_close(&t[P_SPIN]);
	if (open_ok[P_ZC])
		bb_local_close(&t[P_ZC]);
	if (open_ok[P_LOCAL])
		bb_local_close(&t[P_LOCAL]);
	if (open_ok[P_URING])
		bb_direct_close(&t[P_URING]);
	close(fd);
	if (rc == 0) {
		print_mode(direct);
		print_results(direct);
	}
	return rc;
}

static int parse_paths(char *s)
{
	memset(use, 0, sizeof(use));
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		int p;
		for (p = 0; p < P_N && strcmp(tok, pkey[p]) != 0; p++)
			;
		if (p == P_N)
			return -1;
		use[p] = true;
	}
	return 0;
}

/* -a MAIN,ENGINE: pin the main thread now, the engine thread when it starts. */
static int pin(const char *arg)
{
	int main_cpu, engine_cpu;
	cpu_set_t cs;

	if (sscanf(arg, "%d,%d", &main_cpu, &engine_cpu) != 2 || main_cpu < 0 ||
	    main_cpu >= CPU_SETSIZE || engine_cpu < 0 || engine_cpu >= CPU_SETSIZE)
		return -1;
	CPU_ZERO(&cs);
	CPU_SET(main_cpu, &cs);
	if (sched_setaffinity(0, sizeof(cs), &cs) < 0)
		return perror("sched_setaffinity"), -1;
	bb_engine_cpu = engine_cpu;
	printf("blkbench: main thread on CPU %d, engine thread on CPU %d\n", main_cpu, engine_cpu);
	return 0;
}

int main(int argc, char **argv)
{
	char paths[64] = "uring,local,zc,xdom,xzc,nbd";
	const char *mode = "both";
	int opt;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "s:t:r:n:m:p:w:P:a:H:Yqh")) != -1) {
		switch (opt) {
		case 'q': /* one short smoke run of the paths that need no root */
			img = 16 << 20;
			secs = 0.05;
			runs = 1;
			bh_strlcpy(paths, "uring,local,zc", sizeof(paths));
			break;
		case 'n': /* the unit of work per run: its length in ms */
			secs = atof(optarg) / 1000;
			break;
		case 'h':
			printf(
			    "usage: bench-blk [-s MiB>=16] [-t secs | -n ms] [-r runs<=%d] "
			    "[-m pc|direct|both] [-p uring,local,zc,spin,xdom,xzc,nbd] [-w mask] "
			    "[-P poll_ns] [-Y] [-a main_cpu,engine_cpu] [-H ns] [-q]\n",
			    BB_MAX_RUNS);
			return 0;
		case 's':
			img = strtoull(optarg, NULL, 10) << 20;
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 'm':
			mode = optarg;
			break;
		case 'p':
			bh_strlcpy(paths, optarg, sizeof(paths));
			break;
		case 'P':
			poll_ns = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'Y':
			no_hybrid = true;
			break;
		case 'w':
			loads = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'H':
			bb_front_sleep_ns = strtol(optarg, NULL, 10);
			if (bb_front_sleep_ns < 0 || bb_front_sleep_ns >= 1000000000)
				goto usage;
			/* the default 50 us timer slack would swamp the sleep */
			prctl(PR_SET_TIMERSLACK, 1000UL);
			break;
		case 'a':
			if (pin(optarg) < 0)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	printf("blkbench: paths %s, poll %u ns, hybrid polling %s\n", paths, poll_ns,
	       no_hybrid ? "off" : "on");
	if (parse_paths(paths) < 0 || runs < 1 || runs > BB_MAX_RUNS || img < (16 << 20) ||
	    secs <= 0 || (strcmp(mode, "pc") && strcmp(mode, "direct") && strcmp(mode, "both")))
		goto usage;
	if ((use[P_XDOM] || use[P_XZC]) && geteuid() != 0) {
		fprintf(stderr, "blkbench: not root: leaving out the cross-domain paths\n");
		use[P_XDOM] = use[P_XZC] = false;
	}
	use[P_URING2] = use[P_URING] && (use[P_XDOM] || use[P_XZC]);

	struct bb_xdom *x = NULL;
	char path[512];
	if (use[P_XDOM] || use[P_XZC]) {
		if (bb_xdom_start(&x, path, sizeof(path)) < 0)
			return fprintf(stderr, "blkbench: cannot start a core\n"), 1;
	} else {
		snprintf(path, sizeof(path), "/var/tmp/blkbench-%d.img", (int)getpid());
	}
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)img) < 0 || bb_prefill(fd, img) < 0)
		return perror("image"), 1;
	close(fd);
	char **bufs = bb_bufs_alloc();
	if (!bufs)
		return 1;
	int rc = 0;
	if (strcmp(mode, "direct") != 0)
		rc |= run_mode(path, false, x, bufs);
	if (strcmp(mode, "pc") != 0)
		rc |= run_mode(path, true, x, bufs);
	bb_bufs_free(bufs);
	unlink(path);
	if (x && bb_xdom_stop(x) != 0)
		rc = -1;
	return rc ? 1 : 0;
usage:
	fprintf(
	    stderr,
	    "usage: bench-blk [-s MiB>=16] [-t secs] [-r runs<=%d] [-m pc|direct|both] "
	    "[-p uring,local,zc,spin,xdom,xzc,nbd] [-w mask] [-P poll_ns] [-Y] [-a main,engine] "
	    "[-H ns]\n",
	    BB_MAX_RUNS);
	return 2;
}
