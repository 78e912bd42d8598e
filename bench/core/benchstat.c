#include "bench/core/benchstat.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void bs_parse(int argc, char **argv, const char *usage_extra, int default_runs, struct bs_opts *out)
{
	int opt;

	*out = (struct bs_opts){ .runs = default_runs };
	while ((opt = getopt(argc, argv, "r:n:qh")) != -1) {
		switch (opt) {
		case 'r':
			out->runs = atoi(optarg);
			break;
		case 'n':
			out->iters = atol(optarg);
			break;
		case 'q':
			out->quick = true;
			break;
		default:
			fprintf(stderr, "usage: %s [-r RUNS] [-n ITERS] [-q]\n%s", argv[0],
			        usage_extra ? usage_extra : "");
			exit(opt == 'h' ? 0 : 2);
		}
	}
	if (out->runs < 1 || out->runs > BS_MAX_RUNS || out->iters < 0) {
		fprintf(stderr, "%s: runs must be 1..%d, iterations >= 0\n", argv[0], BS_MAX_RUNS);
		exit(2);
	}
	if (out->quick)
		out->runs = 1;
}

uint64_t bs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bs_median(const double *v, int n)
{
	double s[BS_MAX_RUNS * 16];

	if (n <= 0 || n > (int)(sizeof(s) / sizeof(s[0])))
		return 0;
	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void print_runs(const char *side, const double *v, int n)
{
	printf("  %-9s", side);
	for (int i = 0; i < n; i++)
		printf(" %.4g", v[i]);
	printf("\n");
}

bool bs_report(const char *prog, const char *name, const char *unit, const double *measured,
               const double *baseline, int n, double goal)
{
	double m = bs_median(measured, n), b = bs_median(baseline, n);
	double ratio = b > 0 ? m / b : 0;
	bool ok = goal <= 0 || ratio <= goal;

	printf("%s: %s (%s, %d runs)\n", prog, name, unit, n);
	print_runs("bulkhead", measured, n);
	print_runs("baseline", baseline, n);
	printf("  median bulkhead %.4g, baseline %.4g, ratio %.2fx", m, b, ratio);
	if (goal > 0)
		printf(", goal <= %.2fx: %s", goal, ok ? "met" : "MISSED");
	printf("\n");
	/* On a shared machine the quietest run of each side is the closest
	 * to the intrinsic cost; shown beside the medians, not instead. */
	double mmin = measured[0], bmin = baseline[0];
	for (int i = 1; i < n; i++) {
		mmin = measured[i] < mmin ? measured[i] : mmin;
		bmin = baseline[i] < bmin ? baseline[i] : bmin;
	}
	printf("  best runs: bulkhead %.4g, baseline %.4g, ratio %.2fx\n", mmin, bmin,
	       bmin > 0 ? mmin / bmin : 0);
	printf("RESULT %s %s bulkhead=%.4g baseline=%.4g unit=%s ratio=%.3f goal=%s%.2f %s\n", prog,
	       name, m, b, unit, ratio, goal > 0 ? "" : "none/", goal > 0 ? goal : 0,
	       goal > 0 ? (ok ? "met" : "MISSED") : "-");
	fflush(stdout);
	return ok;
}

int bs_pin(int cpu)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&set);
	for (long i = 0; i < n; i++)
		if (cpu < 0 || i == cpu)
			CPU_SET(i, &set);
	return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}
