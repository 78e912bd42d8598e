/* core-benchdom: the program the core benchmarks run inside domains. It
 * uses libbhxen (the /dev/xen ABI) as a backend or frontend would, and
 * prints what the host side reads from the domain's log:
 *     PORT n / REF n      what the peer needs to bind or map
 *     RTT_NS x            mean event-channel round trip of one run
 *     GNT_NS x MEMFD_NS y mean map+unmap cost of one run, and the baseline
 *     up                  (hello) the program is running
 * Subcommands:
 *     hello [stay]                  print "up", then exit (or pause)
 *     evtchn-serve PEER             bind an unbound port, echo events forever
 *     evtchn-ping PEER PORT COUNT RUNS FIFO
 *                                   bind to PEER's port; RUNS times: wait for
 *                                   a byte on FIFO, time COUNT round trips
 *     grant-serve PEER              grant one page to PEER, then wait
 *     grant-map PEER REF COUNT RUNS time map+unmap of PEER's grant vs a memfd */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ioctl/xendev.h"

#define WARMUP 500

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fail(const char *what)
{
	printf("FAIL %s: %s\n", what, strerror(errno));
	return 1;
}

static long arg(int argc, char **argv, int i)
{
	return i < argc ? strtol(argv[i], NULL, 10) : 0;
}

static int cmd_hello(int argc, char **argv)
{
	static const char up[] = "up\n";

	/* One write(2) straight to the log: the host sees it as IN_MODIFY. */
	if (write(1, up, sizeof(up) - 1) < 0)
		return 1;
	if (argc > 0 && strcmp(argv[0], "stay") == 0)
		pause();
	return 0;
}

/* Wait for the port to fire, take it and unmask it, as a backend does. */
static int take(int ev, uint32_t port)
{
	uint32_t got;

	do {
		if (xen_read(ev, &got, sizeof(got)) != sizeof(got))
			return -1;
		if (xen_write(ev, &got, sizeof(got)) != sizeof(got))
			return -1;
	} while (got != port);
	return 0;
}

static int cmd_evtchn_serve(int argc, char **argv)
{
	struct ioctl_evtchn_bind_unbound_port ub = { .remote_domain =
		                                         (uint32_t)arg(argc, argv, 0) };
	int ev = xen_open("/dev/xen/evtchn", 0), port;

	if (ev < 0 || (port = xen_ioctl(ev, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &ub)) < 0)
		return fail("bind unbound");
	printf("PORT %d\n", port);
	fflush(stdout);
	struct ioctl_evtchn_notify nt = { .port = (unsigned)port };
	for (;;)
		if (take(ev, (uint32_t)port) < 0 || xen_ioctl(ev, IOCTL_EVTCHN_NOTIFY, &nt) < 0)
			return fail("echo");
}

/* Runs on the host's signal (a byte on a FIFO in the control domain's
 * /run/bulkhead), so that the host can run its baseline in between. */
static int cmd_evtchn_ping(int argc, char **argv)
{
	struct ioctl_evtchn_bind_interdomain bi = { .remote_domain = (uint32_t)arg(argc, argv, 0),
		                                    .remote_port = (uint32_t)arg(argc, argv, 1) };
	long count = arg(argc, argv, 2), runs = arg(argc, argv, 3);
	int ev = xen_open("/dev/xen/evtchn", 0), port;
	int go = argc > 4 ? open(argv[4], O_RDONLY | O_CLOEXEC) : -1;
	char b;

	if (go < 0)
		return fail("open fifo");
	if (ev < 0 || (port = xen_ioctl(ev, IOCTL_EVTCHN_BIND_INTERDOMAIN, &bi)) < 0)
		return fail("bind interdomain");
	struct ioctl_evtchn_notify nt = { .port = (unsigned)port };
	for (long r = 0; r < runs && read(go, &b, 1) == 1; r++) {
		uint64_t t0 = 0;
		for (long i = 0; i < count + WARMUP; i++) {
			if (i == WARMUP)
				t0 = now_ns();
			if (xen_ioctl(ev, IOCTL_EVTCHN_NOTIFY, &nt) < 0 ||
			    take(ev, (uint32_t)port) < 0)
				return fail("ping");
		}
		printf("RTT_NS %.1f\n", (double)(now_ns() - t0) / (double)count);
	}
	return 0;
}

static int cmd_grant_serve(int argc, char **argv)
{
	struct ioctl_gntalloc_alloc_gref a = { .domid = (uint16_t)arg(argc, argv, 0),
		                               .flags = GNTALLOC_FLAG_WRITABLE,
		                               .count = 1 };
	int ga = xen_open("/dev/xen/gntalloc", 0);

	if (ga < 0 || xen_ioctl(ga, IOCTL_GNTALLOC_ALLOC_GREF, &a) < 0)
		return fail("alloc gref");
	char *page = xen_mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ga, (off_t)a.index);
	if (page == MAP_FAILED)
		return fail("mmap gref");
	page[0] = 'x';
	printf("REF %u\n", a.gref_ids[0]);
	fflush(stdout);
	pause();
	return 0;
}

/* One map+unmap the way a backend maps a frontend's ring or buffer. */
static int grant_once(int gd, uint32_t peer, uint32_t ref)
{
	struct ioctl_gntdev_map_grant_ref m = { .count = 1 };
	struct ioctl_gntdev_unmap_grant_ref u = { .count = 1 };

	m.refs[0].domid = peer;
	m.refs[0].ref = ref;
	if (xen_ioctl(gd, IOCTL_GNTDEV_MAP_GRANT_REF, &m) < 0)
		return -1;
	volatile char *p =
	    xen_mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, gd, (off_t)m.index);
	if (p == MAP_FAILED)
		return -1;
	(void)p[0];
	u.index = m.index;
	if (xen_munmap((void *)p, 4096) < 0 || xen_ioctl(gd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u) < 0)
		return -1;
	return 0;
}

/* The kernel's part alone: map, touch and unmap a one-page shmem file. */
static int memfd_once(int fd)
{
	volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -1;
	(void)p[0];
	return munmap((void *)p, 4096);
}

static int cmd_grant_map(int argc, char **argv)
{
	uint32_t peer = (uint32_t)arg(argc, argv, 0), ref = (uint32_t)arg(argc, argv, 1);
	long count = arg(argc, argv, 2), runs = arg(argc, argv, 3);
	int gd = xen_open("/dev/xen/gntdev", 0);
	/* A driver domain may not memfd_create(2); an unnamed file on the
	 * tmpfs of /dev/shm is the same kind of kernel object (shmem). */
	int mfd = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (gd < 0 || mfd < 0 || ftruncate(mfd, 4096) < 0)
		return fail("open gntdev/memfd");
	for (long i = 0; i < WARMUP; i++)
		if (grant_once(gd, peer, ref) < 0 || memfd_once(mfd) < 0)
			return fail("warm up");
	/* The two sides alternate, so that noise hits both alike. */
	for (long r = 0; r < runs; r++) {
		uint64_t t0 = now_ns();
		for (long i = 0; i < count; i++)
			if (grant_once(gd, peer, ref) < 0)
				return fail("grant map");
		uint64_t t1 = now_ns();
		for (long i = 0; i < count; i++)
			if (memfd_once(mfd) < 0)
				return fail("memfd map");
		uint64_t t2 = now_ns();
		printf("GNT_NS %.1f MEMFD_NS %.1f\n", (double)(t1 - t0) / (double)count,
		       (double)(t2 - t1) / (double)count);
	}
	printf("DONE\n");
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} cmds[] = {
	{ "hello", cmd_hello },
	{ "evtchn-serve", cmd_evtchn_serve },
	{ "evtchn-ping", cmd_evtchn_ping },
	{ "grant-serve", cmd_grant_serve },
	{ "grant-map", cmd_grant_map },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; argc > 1 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 2, argv + 2);
	fprintf(stderr, "usage: core-benchdom COMMAND [ARGS]\n");
	return 2;
}
