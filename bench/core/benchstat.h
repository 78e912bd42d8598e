/* What every core benchmark shares: a clock, medians, option parsing and
 * the report format (one human block and one RESULT line per case, so that
 * scripts/bench.sh and the results files can collect them). */
#ifndef BH_BENCH_BENCHSTAT_H
#define BH_BENCH_BENCHSTAT_H

#include <stdbool.h>
#include <stdint.h>

#define BS_MAX_RUNS 64

struct bs_opts {
	int runs;   /* measured runs per side (-r) */
	long iters; /* operations per run (-n), 0 = the program's default */
	bool quick; /* -q: a smoke run, for ctest */
};

/* -r RUNS (default_runs if absent) -n ITERS -q -h; exits on bad options. */
void bs_parse(int argc, char **argv, const char *usage_extra, int default_runs,
              struct bs_opts *out);

uint64_t bs_now_ns(void);
double bs_median(const double *v, int n);

/* Prints the runs of both sides, their medians and the ratio
 * median(measured) / median(baseline); goal <= 0 means none. Returns
 * whether the goal was met (true when there is none). */
bool bs_report(const char *prog, const char *name, const char *unit, const double *measured,
               const double *baseline, int n, double goal);

/* Pins the calling process (and what it forks) to one CPU, or to all when
 * cpu < 0. */
int bs_pin(int cpu);

#endif
