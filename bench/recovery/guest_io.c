/* bench-recovery's guest workload (a static binary the guest copies off
 * its disk and runs): numbered 4 KiB writes to DEVICE, each followed by
 * fdatasync (a blkif flush), for ever. After each one it prints
 *
 *     O <n> <end ns> <latency us>
 *
 * with CLOCK_REALTIME, the clock the host shares with its guests (they are
 * its processes), so that the host can set the completions against the
 * moments it killed the driver domain. An error is printed as "E <n>
 * <errno>" and the loop goes on. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static char buf[4096] __attribute__((aligned(4096)));
	unsigned long blocks = argc > 2 ? strtoul(argv[2], NULL, 10) : 4096;
	int fd;

	if (argc < 2 || blocks == 0) {
		fprintf(stderr, "usage: guest_io DEVICE [BLOCKS]\n");
		return 2;
	}
	if ((fd = open(argv[1], O_RDWR)) < 0) {
		perror(argv[1]);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (uint64_t n = 0;; n++) {
		uint64_t t0 = now_ns(), t1;

		memset(buf, 'a' + (int)(n % 26), sizeof(buf));
		snprintf(buf, 32, "block %llu\n", (unsigned long long)n);
		if (pwrite(fd, buf, sizeof(buf), (off_t)((n % blocks) * sizeof(buf))) !=
		        (ssize_t)sizeof(buf) ||
		    fdatasync(fd) < 0) {
			printf("E %llu %d\n", (unsigned long long)n, errno);
			continue;
		}
		t1 = now_ns();
		printf("O %llu %llu %llu\n", (unsigned long long)n, (unsigned long long)t1,
		       (unsigned long long)((t1 - t0) / 1000));
	}
}
