/* bench-recovery's host helper.
 *
 *   recovery-killer kill PID [QUIET_MS]
 *                                 print CLOCK_REALTIME (ns), then SIGKILL PID;
 *                                 then sleep QUIET_MS before exiting
 *   recovery-killer spawn N PROG [ARGS...]
 *                                 fork+exec+wait PROG N times; print each
 *                                 time in us (the baseline: what starting
 *                                 the backend's program costs at least)
 *
 * The clock is read right before kill(2) so that the recovery time the
 * script computes starts at the kill itself, not at a fork of date(1).
 * QUIET_MS keeps the script's own polling (a date(1), a grep every few
 * ms, ~1 ms of CPU each on 2 CPUs) off the recovery it measures: seen
 * with sched_switch tracing delaying the core's handling of the death by
 * ~1 ms. The recovery time is read from logs afterwards, so a recovery
 * longer than QUIET_MS is still measured, only polled for later. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int spawn(long n, char **argv)
{
	for (long i = 0; i < n; i++) {
		uint64_t t0 = now_ns(CLOCK_MONOTONIC);
		int st;
		pid_t p = fork();

		if (p < 0) {
			perror("fork");
			return 1;
		}
		if (p == 0) {
			int null = open("/dev/null", O_WRONLY);
			if (null >= 0) {
				dup2(null, 1);
				dup2(null, 2);
			}
			execv(argv[0], argv);
			_exit(127);
		}
		if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) == 127) {
			fprintf(stderr, "spawn: %s did not run\n", argv[0]);
			return 1;
		}
		printf("%llu\n", (unsigned long long)((now_ns(CLOCK_MONOTONIC) - t0) / 1000));
	}
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "kill") == 0) {
		pid_t pid = (pid_t)strtol(argv[2], NULL, 10);
		long quiet_ms = argc == 4 ? strtol(argv[3], NULL, 10) : 0;
		uint64_t t = now_ns(CLOCK_REALTIME);

		if (pid <= 0 || quiet_ms < 0 || kill(pid, SIGKILL) < 0) {
			fprintf(stderr, "kill %s: %s\n", argv[2],
			        quiet_ms < 0 ? "bad QUIET_MS" : strerror(errno));
			return 1;
		}
		printf("%llu\n", (unsigned long long)t);
		fflush(stdout);
		if (quiet_ms > 0) {
			struct timespec q = { quiet_ms / 1000, (quiet_ms % 1000) * 1000000L };

			while (nanosleep(&q, &q) < 0 && errno == EINTR)
				;
		}
		return 0;
	}
	if (argc >= 4 && strcmp(argv[1], "spawn") == 0)
		return spawn(strtol(argv[2], NULL, 10), argv + 3);
	fprintf(stderr, "usage: recovery-killer kill PID [QUIET_MS] | spawn N PROG [ARGS...]\n");
	return 2;
}
