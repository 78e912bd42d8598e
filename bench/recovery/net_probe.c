/* bench-net-recovery's guest program (static; put into the guests' ramdisk
 * by the script).
 *
 *   net_probe echo PORT               answer every UDP datagram to its sender
 *   net_probe send IP PORT [US]       send a numbered datagram to IP:PORT
 *                                     every US microseconds (1000) and take
 *                                     the answers
 *
 * The sender prints a line only when answers resume after a gap (no answer
 * for GAP_NS while probes were being sent), with CLOCK_REALTIME, the clock
 * the host shares with its guests (they are its processes):
 *
 *     G <last answer before the gap, ns> <first answer after it, ns> <sent, ns>
 *
 * and "A <answers>" once a second so that the host sees traffic flow.
 * One line per probe (1000 a second) would load the console more than the
 * restart it measures. A send that fails (no route or carrier, ENOBUFS) is
 * not an answer and is not retried: the next probe goes 1 ms later. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* 2 ms without an answer (two probes): a gap. It was 5 ms, and a restart
 * that stopped the answers for less left no line: the kill was paired with
 * the next gap, hundreds of ms later (the script now says so instead). */
#define GAP_NS 2000000ull

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int echo(int s)
{
	char buf[256];
	struct sockaddr_in from;

	for (;;) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n >= 0)
			sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	return 0;
}

struct probe {
	uint64_t seq, sent_ns;
};

static int send_loop(int s, const struct sockaddr_in *to, uint64_t period_ns)
{
	uint64_t seq = 0, next = now_ns(CLOCK_MONOTONIC), last_ans = 0, answers = 0;
	uint64_t next_report = next + 1000000000ull;

	for (;;) {
		uint64_t t = now_ns(CLOCK_MONOTONIC);
		struct pollfd pfd = { .fd = s, .events = POLLIN };
		struct probe p;

		if (t >= next) {
			p = (struct probe){ seq++, now_ns(CLOCK_REALTIME) };
			sendto(s, &p, sizeof(p), MSG_DONTWAIT, (const struct sockaddr *)to,
			       sizeof(*to));
			next += period_ns;
			if (next < t)
				next = t + period_ns; /* we were away: no burst */
		}
		if (t >= next_report) {
			printf("A %llu\n", (unsigned long long)answers);
			next_report = t + 1000000000ull;
		}
		t = now_ns(CLOCK_MONOTONIC);
		if (poll(&pfd, 1, next > t ? (int)((next - t + 999999) / 1000000) : 0) <= 0)
			continue;
		while (recv(s, &p, sizeof(p), MSG_DONTWAIT) == (ssize_t)sizeof(p)) {
			uint64_t now = now_ns(CLOCK_REALTIME);

			if (last_ans && now - last_ans > GAP_NS)
				printf("G %llu %llu %llu\n", (unsigned long long)last_ans,
				       (unsigned long long)now, (unsigned long long)p.sent_ns);
			last_ans = now;
			answers++;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (s < 0) {
		perror("socket");
		return 1;
	}
	if (argc == 3 && strcmp(argv[1], "echo") == 0) {
		a.sin_port = htons((uint16_t)atoi(argv[2]));
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
			perror("bind");
			return 1;
		}
		return echo(s);
	}
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "send") == 0 &&
	    inet_pton(AF_INET, argv[2], &a.sin_addr) == 1) {
		a.sin_port = htons((uint16_t)atoi(argv[3]));
		return send_loop(s, &a, (argc == 5 ? strtoull(argv[4], NULL, 10) : 1000) * 1000);
	}
	fprintf(stderr, "usage: net_probe echo PORT | send IP PORT [US]\n");
	return 2;
}
