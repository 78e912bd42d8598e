/* bench-core-evtchn: event-channel round trip between two domains of a
 * real core (ping-pong through /dev/xen/evtchn, libbhxen's xen_read /
 * xen_write / IOCTL_EVTCHN_NOTIFY) against a raw eventfd ping-pong between
 * two plain processes. Three placements: any CPU, both on CPU 0, one on
 * each CPU. Goal: <= 1.1x. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/core/benchstat.h"
#include "bench/core/corehost.h"

#define PROG   "bench-core-evtchn"
#define WARMUP 1000
#define GOAL   1.10

struct placement {
	const char *name;
	int serve_cpu, ping_cpu; /* -1: any */
};

static const struct placement placements[] = {
	{ "round trip, any CPU", -1, -1 },
	{ "round trip, both on CPU 0", 0, 0 },
	{ "round trip, one on each CPU", 0, 1 },
};

static uint64_t cpumask(int cpu)
{
	return cpu < 0 ? 0 : 1ull << cpu;
}

/* The baseline: the same ping-pong on two eventfds between two processes. */
static double eventfd_run(const struct placement *p, long count)
{
	int a = eventfd(0, EFD_CLOEXEC), b = eventfd(0, EFD_CLOEXEC), res[2];
	uint64_t v = 1;
	double rtt = -1;
	pid_t pong;

	if (a < 0 || b < 0 || pipe(res) < 0)
		return -1;
	pong = fork();
	if (pong == 0) {
		bs_pin(p->serve_cpu);
		for (long i = 0; i < count + WARMUP; i++)
			if (read(a, &v, 8) != 8 || write(b, &v, 8) != 8)
				_exit(1);
		_exit(0);
	}
	pid_t ping = fork();
	if (ping == 0) {
		uint64_t t0 = 0;
		bs_pin(p->ping_cpu);
		for (long i = 0; i < count + WARMUP; i++) {
			if (i == WARMUP)
				t0 = bs_now_ns();
			if (write(a, &v, 8) != 8 || read(b, &v, 8) != 8)
				_exit(1);
		}
		rtt = (double)(bs_now_ns() - t0) / (double)count;
		_exit(write(res[1], &rtt, sizeof(rtt)) == sizeof(rtt) ? 0 : 1);
	}
	if (read(res[0], &rtt, sizeof(rtt)) != sizeof(rtt))
		rtt = -1;
	waitpid(ping, NULL, 0);
	waitpid(pong, NULL, 0);
	close(a);
	close(b);
	close(res[0]);
	close(res[1]);
	return rtt;
}

static void forget_log(struct th_host *h, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/logs/%s.log", h->rundir, name);
	unlink(path);
}

/* A backend-like server (driver role) and a pinger in the control domain
 * (the role that can see a host directory: the FIFO that starts each
 * run), each in its own cpuset. Runs alternate with the baseline's. */
static void measure(struct th_host *h, const struct placement *p, long count, int runs, double *dom,
                    double *base)
{
	enum { SERVE_DOMID = 10, PING_DOMID = 11 };
	char scount[24], sruns[24], sport[24], dir[400], fifo[450];
	uint16_t sdom, pdom;
	double port;
	int rc, go = -1;

	const char *sargs[] = { "evtchn-serve", "11", NULL };
	if ((rc = ch_create(h, "evserve", BH_ROLE_DRIVER, SERVE_DOMID, cpumask(p->serve_cpu), sargs,
	                    &sdom)) < 0)
		ch_die(h, "create server domain", rc);
	if ((rc = ch_wait_value(h, "evserve", "PORT", 20000, &port)) < 0)
		ch_die(h, "server port", rc);
	snprintf(dir, sizeof(dir), "%s/dom0", h->rundir);
	snprintf(fifo, sizeof(fifo), "%s/go", dir);
	mkdir(dir, 0755);
	unlink(fifo);
	if (mkfifo(fifo, 0666) < 0 || chmod(fifo, 0666) < 0 ||
	    (go = open(fifo, O_RDWR | O_CLOEXEC)) < 0)
		ch_die(h, "fifo", -errno);
	snprintf(sport, sizeof(sport), "%d", (int)port);
	snprintf(scount, sizeof(scount), "%ld", count);
	snprintf(sruns, sizeof(sruns), "%d", runs);
	const char *pargs[] = {
		"evtchn-ping", "10", sport, scount, sruns, "/run/bulkhead/go", NULL
	};
	if ((rc = ch_create(h, "evping", BH_ROLE_CONTROL, PING_DOMID, cpumask(p->ping_cpu), pargs,
	                    &pdom)) < 0)
		ch_die(h, "create pinger domain", rc);
	for (int r = 0; r < runs; r++) {
		double rtt[BS_MAX_RUNS];
		if ((base[r] = eventfd_run(p, count) / 1000.0) < 0)
			ch_die(h, "eventfd baseline", -EIO);
		if (write(go, "g", 1) != 1)
			ch_die(h, "fifo", -errno);
		if ((rc = ch_wait_values(h, "evping", "RTT_NS", r + 1, 120000, rtt)) < 0)
			ch_die(h, "round trips", rc);
		dom[r] = rtt[r] / 1000.0;
	}
	close(go);
	unlink(fifo);
	ch_destroy(h, pdom);
	ch_destroy(h, sdom);
	forget_log(h, "evserve");
	forget_log(h, "evping");
}

int main(int argc, char **argv)
{
	struct bs_opts o;
	struct th_host h;
	int rc;

	bs_parse(argc, argv, NULL, 15, &o);
	long count = o.iters ? o.iters : o.quick ? 200 : 5000;
	if ((rc = ch_host_start(&h, NULL)) < 0)
		ch_die(NULL, "start the core", rc);
	for (size_t i = 0; i < sizeof(placements) / sizeof(placements[0]); i++) {
		double dom[BS_MAX_RUNS], base[BS_MAX_RUNS];
		measure(&h, &placements[i], count, o.runs, dom, base);
		bs_report(PROG, placements[i].name, "us", dom, base, o.runs, GOAL);
	}
	if ((rc = th_host_stop(&h)) != 0)
		fprintf(stderr, PROG ": the core exited with status %d\n", rc);
	return rc != 0 ? 1 : 0;
}
