/* bench-core-create: time from create to running. The core creates a
 * domain whose program writes one line as soon as it runs; the clock stops
 * when that write reaches the domain's log (inotify). The baseline starts
 * the same program in the same namespaces (user, pid, mount, net, ipc, uts)
 * with a bare clone3 + exec, its stdout on a file watched the same way.
 * The difference is what the core adds: the admin round trip, the cgroup,
 * the minimal root, capabilities, seccomp and the two-step start.
 * Goal: <= 2x. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/core/benchstat.h"
#include "bench/core/corehost.h"

#define PROG "bench-core-create"
#define GOAL 2.0

static double domain_once(struct th_host *h, int wfd, int i, double *call_ms)
{
	char name[32], file[48];
	const char *args[] = { "hello", NULL };
	struct bh_dominfo info;
	uint16_t domid;
	int rc;

	snprintf(name, sizeof(name), "hello%d", i);
	snprintf(file, sizeof(file), "%s.log", name);
	uint64_t t0 = bs_now_ns();
	if ((rc = ch_create(h, name, BH_ROLE_GUEST, BH_DOMID_ANY, 0, args, &domid)) < 0)
		ch_die(h, "create", rc);
	uint64_t t1 = bs_now_ns();
	if ((rc = ch_watch_wait(wfd, file, 20000)) < 0)
		ch_die(h, "domain start", rc);
	uint64_t t2 = bs_now_ns();
	if ((rc = th_wait_end(h, domid, 10000, &info)) < 0 || (rc = ch_destroy(h, domid)) < 0)
		ch_die(h, "end", rc);
	*call_ms = (double)(t1 - t0) / 1e6;
	return (double)(t2 - t0) / 1e6;
}

int main(int argc, char **argv)
{
	struct bs_opts o;
	struct th_host h;
	double dom[BS_MAX_RUNS], bare[BS_MAX_RUNS], call[BS_MAX_RUNS];
	char logs[512], tmp[] = "/var/tmp/bhbench-bare-XXXXXX";
	int rc, wdom = -1, wbare = -1;

	bs_parse(argc, argv, NULL, 7, &o);
	int per_run = o.iters ? (int)o.iters : o.quick ? 1 : 5;
	if ((rc = ch_host_start(&h, NULL)) < 0)
		ch_die(NULL, "start the core", rc);
	snprintf(logs, sizeof(logs), "%s/logs", h.rundir);
	if (!mkdtemp(tmp) || (wdom = ch_watch_open(logs)) < 0 || (wbare = ch_watch_open(tmp)) < 0)
		ch_die(&h, "inotify", -errno);
	/* A run is the median of per_run starts; bare and domain starts
	 * alternate so that the machine's noise hits both. */
	for (int r = 0; r < o.runs; r++) {
		double d[64], b[64], c[64];
		for (int i = 0; i < per_run && i < 64; i++) {
			b[i] = ch_bare_start(tmp, wbare, r * per_run + i);
			d[i] = domain_once(&h, wdom, r * per_run + i, &c[i]);
			if (b[i] < 0)
				ch_die(&h, "bare clone+exec", -EIO);
		}
		dom[r] = bs_median(d, per_run);
		bare[r] = bs_median(b, per_run);
		call[r] = bs_median(c, per_run);
	}
	bs_report(PROG, "create to running vs bare clone3+exec", "ms", dom, bare, o.runs, GOAL);
	printf("  of which the create hypercall (until the sandbox is built and told to go): "
	       "median %.3g ms\n",
	       bs_median(call, o.runs));
	rmdir(tmp);
	if ((rc = th_host_stop(&h)) != 0)
		fprintf(stderr, PROG ": the core exited with status %d\n", rc);
	return rc != 0 ? 1 : 0;
}
