/* The PV path across real domains: a core is started; blkfront-probe runs
 * the workloads in a guest domain against blkback-serve in a driver domain
 * (grants, event channels and the assigned image through the core) and
 * prints "BENCH workload run iops p50_us p99_us errors" lines, read back
 * here from its log. The image lives in the core's device directory (under
 * /var/tmp). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/blk/paths.h"
#include "bench/core/corehost.h"
#include "tests/harness.h"

struct bb_xdom {
	struct th_host h;
	int n;
};

int bb_xdom_start(struct bb_xdom **out, char *img_path, size_t len)
{
	struct bb_xdom *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	/* Under /var/tmp: test runs on a shared machine clean up /tmp/bh-*
	 * behind a running benchmark's back (bench/README.md). */
	if (ch_host_start(&x->h, NULL) < 0) {
		free(x);
		return -1;
	}
	snprintf(img_path, len, "%s/disk.img", x->h.devdir);
	*out = x;
	return 0;
}

int bb_xdom_run(struct bb_xdom *x, const char *img_path, uint64_t img, bool direct, double secs,
                int runs, uint32_t poll_ns, bool zc, bool no_hybrid,
                struct bb_result res[BB_NLOADS][BB_MAX_RUNS])
{
	struct th_host *h = &x->h;
	struct bh_hc_create_resp r;
	uint16_t front = (uint16_t)(70 + 2 * x->n), back = (uint16_t)(71 + 2 * x->n);
	char fname[32], bname[32], sectors[32], s_secs[32], s_runs[16], s_back[16], s_poll[16];
	int rc = -1;

	/* The runs before (ending with 1 MiB writes) leave dirty pages whose
	 * writeback would land on this block of runs alone. */
	sync();
	snprintf(fname, sizeof(fname), "front%d", x->n);
	snprintf(bname, sizeof(bname), "back%d", x->n);
	x->n++;
	snprintf(sectors, sizeof(sectors), "%llu", (unsigned long long)(img / 512));
	snprintf(s_secs, sizeof(s_secs), "%g", secs);
	snprintf(s_runs, sizeof(s_runs), "%d", runs);
	snprintf(s_back, sizeof(s_back), "%u", back);
	snprintf(s_poll, sizeof(s_poll), "%u", poll_ns);
	/* POLL_NS for the guest's frontend, ":nohybrid" with -Y */
	char f_poll[32];
	snprintf(f_poll, sizeof(f_poll), "%u%s", poll_ns, no_hybrid ? ":nohybrid" : "");
	const char *fargv[] = {
		th_prog("blkfront-probe"), s_back, sectors, "0", "bench", s_secs, s_runs, f_poll,
		zc ? "zc" : "copy",        NULL
	};
	if (th_create(h, fname, BH_ROLE_GUEST, 512, 0, front, fargv, &r) < 0)
		return fprintf(stderr, "blkbench: frontend domain\n"), -1;
	char *log = th_wait_log(h, fname, "RING", 20000);
	unsigned order, port, ref;
	if (!log || sscanf(strstr(log, "RING "), "RING %u %u %u", &order, &port, &ref) != 3) {
		free(log);
		fprintf(stderr, "blkbench: no ring from the frontend\n");
		goto out;
	}
	free(log);
	char sport[16], sref[16], sfront[16];
	snprintf(sport, sizeof(sport), "%u", port);
	snprintf(sref, sizeof(sref), "%u", ref);
	snprintf(sfront, sizeof(sfront), "%u", front);
	const char *bargv[] = {
		th_prog("blkback-serve"), "-p", s_poll, sfront, "xvda", "0", sport, sref, NULL
	};
	if (th_create(h, bname, BH_ROLE_DRIVER, 256, BH_CREATE_PAUSED, back, bargv, &r) < 0 ||
	    bhctl_device_assign(&h->cl, back, "xvda", img_path, direct ? BH_DEV_DIRECT : 0) < 0 ||
	    bhctl_domain_unpause(&h->cl, back) < 0) {
		fprintf(stderr, "blkbench: backend domain\n");
		goto out;
	}
	int timeout = (int)((BB_NLOADS * (runs * secs + 1) + 60) * 1000);
	if (!(log = th_wait_log(h, fname, "BENCH-DONE", timeout))) {
		char *fl = th_log(h, fname), *bl = th_log(h, bname);
		fprintf(stderr, "blkbench: the frontend did not finish\nfront:\n%s\nback:\n%s\n",
		        fl, bl);
		free(fl);
		free(bl);
		goto out;
	}
	for (char *p = log; (p = strstr(p, "BENCH ")); p++) {
		unsigned k, run;
		unsigned long long errs;
		struct bb_result b;
		if (sscanf(p, "BENCH %u %u %lf %lf %lf %llu", &k, &run, &b.iops, &b.p50_us,
		           &b.p99_us, &errs) == 6 &&
		    k < BB_NLOADS && run < (unsigned)runs && run < BB_MAX_RUNS) {
			b.errors = errs;
			res[k][run] = b;
		}
	}
	char *ps = strstr(log, "POLLSTATS ");
	if (ps)
		printf("%s frontend: %.*s\n", zc ? "blkif doms zerocopy" : "blkif domains",
		       (int)strcspn(ps, "\r\n"), ps);
	free(log);
	rc = 0;
out:
	bhctl_domain_destroy(&h->cl, back);
	bhctl_domain_destroy(&h->cl, front);
	return rc;
}

int bb_xdom_stop(struct bb_xdom *x)
{
	int rc = th_host_stop(&x->h);

	free(x);
	return rc;
}
