/* bench-core-grant: grant map+unmap per second. A backend-like domain
 * (driver role) maps a page another domain granted it through gntdev
 * (MAP_GRANT_REF, mmap, touch, munmap, UNMAP_GRANT_REF: two hypercalls and
 * a page descriptor from the core), against the kernel's share of the same
 * work: mmap, touch and munmap of a one-page memfd, in the same domain,
 * alternating with it. No goal: the ratio is the price of the core's
 * round trips. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/core/benchstat.h"
#include "bench/core/corehost.h"

#define PROG "bench-core-grant"

/* The GNT_NS / MEMFD_NS lines of the mapper's log, one per run. */
static int parse_runs(struct th_host *h, double *gnt, double *memfd, int runs)
{
	char *log = th_log(h, "gntmap"), *line = log;
	int n = 0;

	while (line && *line && n < runs) {
		if (sscanf(line, "GNT_NS %lf MEMFD_NS %lf", &gnt[n], &memfd[n]) == 2)
			n++;
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	free(log);
	return n == runs ? 0 : -EIO;
}

int main(int argc, char **argv)
{
	enum { SERVE_DOMID = 20, MAP_DOMID = 21 };
	struct bs_opts o;
	struct th_host h;
	double ref, done, gnt[BS_MAX_RUNS], memfd[BS_MAX_RUNS];
	char sref[24], scount[24], sruns[24];
	uint16_t sdom, mdom;
	int rc;

	bs_parse(argc, argv, NULL, 7, &o);
	long count = o.iters ? o.iters : o.quick ? 100 : 5000;
	if ((rc = ch_host_start(&h, NULL)) < 0)
		ch_die(NULL, "start the core", rc);
	const char *sargs[] = { "grant-serve", "21", NULL };
	if ((rc = ch_create(&h, "gntserve", BH_ROLE_GUEST, SERVE_DOMID, 0, sargs, &sdom)) < 0)
		ch_die(&h, "create granting domain", rc);
	if ((rc = ch_wait_value(&h, "gntserve", "REF", 20000, &ref)) < 0)
		ch_die(&h, "grant ref", rc);
	snprintf(sref, sizeof(sref), "%u", (unsigned)ref);
	snprintf(scount, sizeof(scount), "%ld", count);
	snprintf(sruns, sizeof(sruns), "%d", o.runs);
	const char *margs[] = { "grant-map", "20", sref, scount, sruns, NULL };
	if ((rc = ch_create(&h, "gntmap", BH_ROLE_DRIVER, MAP_DOMID, 0, margs, &mdom)) < 0)
		ch_die(&h, "create mapping domain", rc);
	if ((rc = ch_wait_value(&h, "gntmap", "DONE", 600000, &done)) < 0 ||
	    (rc = parse_runs(&h, gnt, memfd, o.runs)) < 0)
		ch_die(&h, "map runs", rc);
	for (int i = 0; i < o.runs; i++) {
		gnt[i] /= 1000.0;
		memfd[i] /= 1000.0;
	}
	bs_report(PROG, "map+unmap of one granted page vs a memfd page", "us per op", gnt, memfd,
	          o.runs, 0);
	printf("  grant map+unmap: %.0f per second; memfd mmap+munmap: %.0f per second\n",
	       1e6 / bs_median(gnt, o.runs), 1e6 / bs_median(memfd, o.runs));
	ch_destroy(&h, mdom);
	ch_destroy(&h, sdom);
	if ((rc = th_host_stop(&h)) != 0)
		fprintf(stderr, PROG ": the core exited with status %d\n", rc);
	return rc != 0 ? 1 : 0;
}
