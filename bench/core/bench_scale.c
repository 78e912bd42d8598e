/* bench-core-scale: does creating a domain get slower as domains pile up?
 * One core (--max-domains set above the count) creates N domains (500 by
 * default) that stay alive, timing each from create to running (its first
 * write reaching its log, as bench-core-create). One domain's time is
 * noisy on a shared machine, so each side is the median of a window of 10:
 * the last 10 created (the 491st-500th) against the first 10; every run
 * uses a fresh core. Goal: <= 1.2x.
 *
 * On this kind of machine (a paravirtualized VM: page faults, fork and exec
 * cost more as processes and page tables pile up) every process start
 * slows down with 500 more processes alive, domain or not. So each domain
 * start of the two windows is paired with a bare clone3+exec of the same
 * program in the same namespaces (as bench-core-create) at that moment,
 * and the second report divides that out: what remains is the core's own
 * growth. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/core/benchstat.h"
#include "bench/core/corehost.h"

#define PROG   "bench-core-scale"
#define GOAL   1.2
#define WINDOW 10
#define MAXN   4000

struct run {
	double first, last;           /* create to running, windows' medians */
	double first_call, last_call; /* the create hypercall alone */
	double first_bare, last_bare; /* bare clone3+exec at the same moments */
};

static void one_run(int n, struct run *out)
{
	static double t[MAXN], c[MAXN], b[2 * WINDOW];
	char maxdom[16], logs[512], tmp[] = "/var/tmp/bhbench-bare-XXXXXX";
	struct th_host h;
	int rc, wfd, wbare = -1, nb = 0;

	snprintf(maxdom, sizeof(maxdom), "%d", n + 10);
	const char *extra[] = { "--max-domains", maxdom, NULL };
	if ((rc = ch_host_start(&h, extra)) < 0)
		ch_die(NULL, "start the core", rc);
	snprintf(logs, sizeof(logs), "%s/logs", h.rundir);
	if ((wfd = ch_watch_open(logs)) < 0)
		ch_die(&h, "inotify", wfd);
	if (!mkdtemp(tmp) || (wbare = ch_watch_open(tmp)) < 0)
		ch_die(&h, "inotify", -errno);
	for (int i = 0; i < n; i++) {
		char name[32], file[48];
		const char *args[] = { "hello", "stay", NULL };
		uint16_t domid;
		snprintf(name, sizeof(name), "d%d", i);
		snprintf(file, sizeof(file), "%s.log", name);
		uint64_t t0 = bs_now_ns();
		if ((rc = ch_create(&h, name, BH_ROLE_GUEST, BH_DOMID_ANY, 0, args, &domid)) < 0)
			ch_die(&h, "create", rc);
		uint64_t t1 = bs_now_ns();
		if ((rc = ch_watch_wait(wfd, file, 30000)) < 0)
			ch_die(&h, "domain start", rc);
		t[i] = (double)(bs_now_ns() - t0) / 1e6;
		c[i] = (double)(t1 - t0) / 1e6;
		if (i < WINDOW || i >= n - WINDOW) {
			if ((b[nb] = ch_bare_start(tmp, wbare, nb)) < 0)
				ch_die(&h, "bare clone+exec", -EIO);
			nb++;
		}
	}
	*out = (struct run){ .first = bs_median(t, WINDOW),
		             .last = bs_median(t + n - WINDOW, WINDOW),
		             .first_call = bs_median(c, WINDOW),
		             .last_call = bs_median(c + n - WINDOW, WINDOW),
		             .first_bare = bs_median(b, WINDOW),
		             .last_bare = bs_median(b + WINDOW, WINDOW) };
	close(wfd);
	close(wbare);
	rmdir(tmp);
	uint64_t t0 = bs_now_ns();
	if ((rc = th_host_stop(&h)) != 0)
		fprintf(stderr, PROG ": the core exited with status %d\n", rc);
	printf("  run: domains first %.3g ms, last %.3g ms; bare first %.3g ms, last %.3g ms; "
	       "%d domains stopped in %.2f s\n",
	       out->first, out->last, out->first_bare, out->last_bare, n,
	       (double)(bs_now_ns() - t0) / 1e9);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct bs_opts o;
	double first[BS_MAX_RUNS], last[BS_MAX_RUNS], fc[BS_MAX_RUNS], lc[BS_MAX_RUNS];
	double nfirst[BS_MAX_RUNS], nlast[BS_MAX_RUNS], bfirst[BS_MAX_RUNS], blast[BS_MAX_RUNS];
	struct run run;
	char name[128];

	bs_parse(argc, argv, "  -n N: domains per run (default 500, at least 20)\n", 3, &o);
	int n = o.iters ? (int)o.iters : o.quick ? 2 * WINDOW : 500;
	if (n < 2 * WINDOW || n > MAXN) {
		fprintf(stderr, PROG ": -n must be %d..%d\n", 2 * WINDOW, MAXN);
		return 2;
	}
	for (int r = 0; r < o.runs; r++) {
		one_run(n, &run);
		first[r] = run.first;
		last[r] = run.last;
		fc[r] = run.first_call;
		lc[r] = run.last_call;
		bfirst[r] = run.first_bare;
		blast[r] = run.last_bare;
		/* Each domain window in units of the bare start of its moment. */
		nfirst[r] = run.first / run.first_bare;
		nlast[r] = run.last / run.last_bare;
	}
	snprintf(name, sizeof(name), "create to running, domains %d-%d vs 1-%d", n - WINDOW + 1, n,
	         WINDOW);
	bs_report(PROG, name, "ms", last, first, o.runs, GOAL);
	snprintf(name, sizeof(name),
	         "same, each window divided by a bare clone3+exec at its moment");
	bs_report(PROG, name, "x bare start", nlast, nfirst, o.runs, GOAL);
	snprintf(name, sizeof(name), "bare clone3+exec with %d domains alive vs none", n);
	bs_report(PROG, name, "ms", blast, bfirst, o.runs, 0);
	printf("  the create hypercall alone: median %.3g ms for the first, %.3g ms for the last\n",
	       bs_median(fc, o.runs), bs_median(lc, o.runs));
	return 0;
}
