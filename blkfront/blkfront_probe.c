/* blkfront-probe: a frontend in a guest domain doing real I/O through
 * blkfront against a backend domain, with the ring handed over on the
 * command line and the log (the store handshake is a separate piece):
 *
 *   blkfront-probe BACK_DOMID SECTORS ORDER[:QUEUES]
 *                  [bench SECS RUNS [POLL_NS[:nohybrid] [zc]]]
 *
 * Prints "RING ORDER PORT REF..." (and "QUEUE Q PORT REF..." for further
 * queues, each with its own event channel) for the test to hand over,
 * then writes patterns (small, scattered and indirect-sized), flushes,
 * discards, reads everything back and checks it; prints "VERIFIED n ..." or
 * "FAIL what". With "bench" it instead runs the workloads of
 * bench/blk/workload.h RUNS times for SECS seconds each and prints
 * "BENCH workload run iops p50_us p99_us errors" (for blkbench); with zc
 * from buffers blkfront lends out of its granted pool (no copy); POLL_NS
 * is blkfront_config.poll_ns (its hybrid polling off with ":nohybrid"),
 * and the frontend's polling counters follow as "POLLSTATS ...". */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/blk/workload.h"
#include "blkfront/blkfront.h"
#include "common/util.h"
#include "ioctl/xendev.h"

struct ctx {
	int ev;
	uint32_t port[BLKFRONT_MAX_QUEUES]; /* one event channel per queue */
	struct blkfront *bf;
};

static void kick(void *arg, uint32_t q)
{
	struct ctx *c = arg;
	struct ioctl_evtchn_notify nt = { .port = c->port[q] };

	xen_ioctl(c->ev, IOCTL_EVTCHN_NOTIFY, &nt);
}

/* Wait for every request in flight; returns the first error. */
static int wait_all(struct ctx *c, int timeout_ms)
{
	struct blkfront_cpl cpl[32];
	uint64_t end = bh_now_ns() + (uint64_t)timeout_ms * 1000000;
	int first = 0;

	while (blkfront_inflight(c->bf) > 0) {
		struct pollfd p = { .fd = c->ev, .events = POLLIN };
		uint32_t ports[8];
		if (bh_now_ns() > end)
			return -ETIMEDOUT;
		if (poll(&p, 1, 100) == 1) {
			ssize_t n = xen_read(c->ev, ports, sizeof(ports));
			if (n > 0)
				xen_write(c->ev, ports, (size_t)n);
		}
		int n = blkfront_reap(c->bf, cpl, 32);
		for (int i = 0; i < n; i++)
			if (cpl[i].status && !first)
				first = cpl[i].status;
	}
	return first;
}

static int rw(struct ctx *c, enum blkfront_op op, uint64_t sector, void *buf, size_t len)
{
	struct iovec v = { buf, len };
	struct blkfront_io io = { .op = op,
		                  .sector = sector,
		                  .iov = &v,
		                  .iovcnt = len ? 1 : 0,
		                  .nr_sectors = op == BLKFRONT_DISCARD ? len / 512 : 0 };
	if (op == BLKFRONT_DISCARD)
		io.iovcnt = 0;
	int rc = blkfront_submit(c->bf, &io);
	return rc < 0 ? rc : wait_all(c, 20000);
}

static void fill(char *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (char)((i * 31 + seed * 7) ^ (i >> 9));
}

static int fail(const char *what, int rc)
{
	printf("FAIL %s: %s\n", what, strerror(-rc));
	return 1;
}

/* The bench mode's target (bench/blk/workload.h): blkfront over the
 * event channel. */
static struct iovec bench_iov[BB_MAX_DEPTH];
static bool bench_zc; /* I/O from buffers lent by blkfront: no copy */
static void *zbuf[BB_MAX_DEPTH];
static uint32_t zlen[BB_MAX_DEPTH];

static int t_submit(void *p, int slot, bool write, uint64_t off, void *buf, uint32_t len)
{
	struct ctx *c = p;

	if (bench_zc) {
		if (zlen[slot] < len) {
			if (zbuf[slot])
				blkfront_buf_free(c->bf, zbuf[slot], zlen[slot]);
			zlen[slot] = 0;
			if (!(zbuf[slot] = blkfront_buf_alloc(c->bf, 0, len)))
				return -ENOMEM;
			zlen[slot] = len;
		}
		buf = zbuf[slot];
	}
	blkfront_plug(c->bf); /* published as one burst by t_commit */
	bench_iov[slot] = (struct iovec){ buf, len };
	struct blkfront_io io = { .op = write ? BLKFRONT_WRITE : BLKFRONT_READ,
		                  .sector = off / 512,
		                  .iov = &bench_iov[slot],
		                  .iovcnt = 1,
		                  .cookie = (void *)(intptr_t)slot };
	return blkfront_submit(c->bf, &io);
}

static void t_commit(void *p)
{
	struct ctx *c = p;

	blkfront_unplug(c->bf);
}

static int t_wait(void *p, int *slots, int max, uint64_t *errors)
{
	struct ctx *c = p;
	struct blkfront_cpl cpl[BB_MAX_DEPTH];
	int n;

	for (;;) {
		n = blkfront_reap(c->bf, cpl, BH_MIN(max, BB_MAX_DEPTH));
		if (n > 0 || blkfront_broken(c->bf))
			break;
		struct pollfd pf = { .fd = c->ev, .events = POLLIN };
		uint32_t ports[8];
		if (poll(&pf, 1, 5000) == 0)
			return -ETIMEDOUT;
		ssize_t got = xen_read(c->ev, ports, sizeof(ports));
		if (got > 0)
			xen_write(c->ev, ports, (size_t)got);
	}
	if (n == 0)
		return blkfront_broken(c->bf);
	for (int i = 0; i < n; i++) {
		if (cpl[i].status)
			(*errors)++;
		slots[i] = (int)(intptr_t)cpl[i].cookie;
	}
	return n;
}

static int bench(struct ctx *c, uint64_t sectors, double secs, int runs)
{
	struct bb_target t = { .p = c, .submit = t_submit, .commit = t_commit, .wait = t_wait };
	struct bb_result r;
	char **bufs = bb_bufs_alloc();
	int rc;

	if (!bufs)
		return fail("buffers", -ENOMEM);
	for (size_t k = 0; k < BB_NLOADS; k++) /* warm up */
		if ((rc = bb_run(&t, &bb_loads[k], bufs, sectors * 512, 0.2, &r)) < 0)
			return fail("bench", rc);
	for (size_t k = 0; k < BB_NLOADS; k++)
		for (int i = 0; i < runs; i++) {
			if ((rc = bb_run(&t, &bb_loads[k], bufs, sectors * 512, secs, &r)) < 0)
				return fail("bench", rc);
			printf("BENCH %zu %d %.0f %.2f %.2f %llu\n", k, i, r.iops, r.p50_us,
			       r.p99_us, (unsigned long long)r.errors);
		}
	struct blkfront_stats st;
	blkfront_stats(c->bf, &st);
	printf("POLLSTATS sleeps %llu hits %llu misses %llu events %llu median_wait_us %.1f\n",
	       (unsigned long long)st.poll_sleeps, (unsigned long long)st.poll_hits,
	       (unsigned long long)st.poll_misses, (unsigned long long)st.poll_events,
	       blkfront_wait_median(c->bf, 0) / 1000.0);
	printf("BENCH-DONE\n");
	bb_bufs_free(bufs);
	blkfront_destroy(c->bf);
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx c = { .ev = -1 };
	uint64_t sectors;
	long back, order, queues = 1;
	char *colon;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((argc != 4 && argc != 7 && argc != 8 && argc != 9) ||
	    bh_parse_int(argv[1], 10, 0, 0x7fef, &back) < 0 ||
	    bh_parse_u64(argv[2], 10, &sectors) < 0 ||
	    /* ORDER[:QUEUES] */
	    ((colon = strchr(argv[3], ':')) &&
	     (*colon = '\0', bh_parse_int(colon + 1, 10, 1, BLKFRONT_MAX_QUEUES, &queues) < 0)) ||
	    bh_parse_int(argv[3], 10, 0, 4, &order) < 0)
		return fprintf(
		           stderr,
		           "usage: blkfront-probe BACK_DOMID SECTORS ORDER[:QUEUES] [bench SECS "
		           "RUNS [POLL_NS[:nohybrid] [zc]]]\n"),
		       2;
	c.ev = xen_open("/dev/xen/evtchn", O_NONBLOCK);
	struct ioctl_evtchn_bind_unbound_port ub = { .remote_domain = (uint32_t)back };
	for (long q = 0; q < queues; q++) {
		if (c.ev < 0 || (rc = xen_ioctl(c.ev, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &ub)) < 0)
			return fail("evtchn", -errno);
		c.port[q] = (uint32_t)rc;
	}
	struct blkfront_config cfg = { .gnt = &blkfront_gntalloc_ops,
		                       .backend = (uint16_t)back,
		                       .sectors = sectors,
		                       .sector_size = 512,
		                       .ring_page_order = (uint32_t)order,
		                       .nr_queues = (uint32_t)queues,
		                       .max_indirect_segments = 256,
		                       .flush = true,
		                       .discard = true,
		                       .pool_pages = argc == 9 ? 2048 : 1024,
		                       .poll_ns = argc >= 8 ? (uint32_t)atol(argv[7]) : 0,
		                       .no_hybrid = argc >= 8 && strstr(argv[7], ":nohybrid"),
		                       .notify = kick,
		                       .arg = &c };
	if ((rc = blkfront_create(&cfg, &c.bf)) < 0)
		return fail("blkfront", rc);
	/* What the handshake would publish: RING ORDER PORT REFS... for the
	 * first queue, QUEUE Q PORT REFS... for the others. */
	for (long q = 0; q < queues; q++) {
		uint32_t refs[16], n;
		blkfront_ring_refs(c.bf, (uint32_t)q, refs, &n);
		if (q == 0)
			printf("RING %ld %u", order, c.port[0]);
		else
			printf("QUEUE %ld %u", q, c.port[q]);
		for (uint32_t i = 0; i < n; i++)
			printf(" %u", refs[i]);
		printf("\n");
	}
	bench_zc = argc == 9 && strcmp(argv[8], "zc") == 0;
	if (argc >= 7)
		return bench(&c, sectors, atof(argv[5]), atoi(argv[6]));

	/* regions: (sector, bytes) */
	static const struct {
		uint64_t sector;
		size_t len;
	} reg[] = { { 0, 4096 }, { 9, 1536 }, { 2048, 45056 }, { 4096, 256 * 4096 / 2 } };
	char *w = malloc(1 << 20), *r = malloc(1 << 20);
	int verified = 0;
	for (size_t i = 0; i < BH_ARRAY_SIZE(reg); i++) {
		fill(w, reg[i].len, (unsigned)i + 1);
		if ((rc = rw(&c, BLKFRONT_WRITE, reg[i].sector, w, reg[i].len)) < 0)
			return fail("write", rc);
	}
	if ((rc = rw(&c, BLKFRONT_FLUSH, 0, NULL, 0)) < 0)
		return fail("flush", rc);
	for (size_t i = 0; i < BH_ARRAY_SIZE(reg); i++) {
		fill(w, reg[i].len, (unsigned)i + 1);
		memset(r, 0, reg[i].len);
		if ((rc = rw(&c, BLKFRONT_READ, reg[i].sector, r, reg[i].len)) < 0)
			return fail("read", rc);
		if (memcmp(w, r, reg[i].len) != 0)
			return printf("FAIL data of region %zu differs\n", i), 1;
		verified++;
	}
	/* discard, then the range reads as zeros */
	if ((rc = rw(&c, BLKFRONT_DISCARD, 2048, NULL, 45056)) < 0)
		return fail("discard", rc);
	if ((rc = rw(&c, BLKFRONT_READ, 2048, r, 45056)) < 0)
		return fail("read after discard", rc);
	for (size_t i = 0; i < 45056; i++)
		if (r[i])
			return printf("FAIL discarded data reads back\n"), 1;
	/* the very last sector, and one past it (refused by blkfront) */
	rc = rw(&c, BLKFRONT_READ, sectors - 1, r, 512);
	int past = rw(&c, BLKFRONT_READ, sectors, r, 512);
	printf("VERIFIED %d last-sector %s past-end %s\n", verified, rc == 0 ? "ok" : strerror(-rc),
	       past == 0 ? "accepted" : strerror(-past));
	free(w);
	free(r);
	blkfront_destroy(c.bf);
	return 0;
}
