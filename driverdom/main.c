/* bulkhead-driverdom: the program of a driver domain (role DRIVER). It
 * runs the driver-domain runtime (bhdriverdom) with the backends of
 * backends.c until the core stops it.
 *
 *   bulkhead-driverdom [--heartbeat-ms N] [--store-socket PATH --domid N]
 *
 * Inside a domain it talks to the store over its ring and to the core over
 * its hypercall channel. --store-socket and --domid run it outside a
 * domain against a store daemon's socket (tests, debugging); there is no
 * heartbeat then. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/life.h"
#include "common/util.h"
#include "driverdom/backends.h"
#include "ioctl/xendev.h"
#include "xenstored/bhxs.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: bulkhead-driverdom [options]\n"
	           "  --heartbeat-ms N     heartbeat period (default 1000)\n"
	           "  --store-socket PATH  use a store socket instead of the domain's ring\n"
	           "  --domid N            our domid (needed with --store-socket)\n");
}

struct opts {
	unsigned heartbeat_ms;
	const char *socket;
	long domid;
};

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "heartbeat-ms", required_argument, NULL, 'b' },
		{ "store-socket", required_argument, NULL, 's' },
		{ "domid", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long v;
	int ch;

	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'b':
			if (bh_parse_int(optarg, 10, 10, 3600000, &v) < 0)
				return -EINVAL;
			o->heartbeat_ms = (unsigned)v;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'd':
			if (bh_parse_int(optarg, 10, 0, 0x7fef, &o->domid) < 0)
				return -EINVAL;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind != argc || (o->socket && o->domid < 0))
		return -EINVAL;
	return 0;
}

/* Memory touched once, before the first call to the core: that is while
 * the process waits as its domain's standby (core/domain.c), so a restart
 * does not pay for it. Every page a fresh process touches first is a page
 * fault, and on a paravirtualized host (this project's test machine) a
 * fault costs ~10 us: a restart's connect touched ~30 heap pages in a row
 * (zeroing the engine's tables, 0.3 ms of the guests' outage, seen in a
 * trace of page_fault_user). Allocations below HEAP_WARM come from the
 * heap and freed memory stays there, so the engine's allocations reuse
 * these pages. */
#define HEAP_WARM  (2u << 20)
#define STACK_WARM (128u << 10)

static void warm_up(void)
{
	volatile char stack[STACK_WARM];
	void *p;

	mallopt(M_MMAP_THRESHOLD, HEAP_WARM * 2);
	mallopt(M_TRIM_THRESHOLD, HEAP_WARM * 4);
	/* Each page written through a volatile pointer: the compiler made
	 * malloc+memset(0) a calloc, which glibc skips on fresh memory. */
	if ((p = malloc(HEAP_WARM))) {
		for (size_t i = 0; i < HEAP_WARM; i += 4096)
			((volatile char *)p)[i] = 1;
		free(p);
	}
	for (size_t i = 0; i < sizeof(stack); i += 4096)
		stack[i] = 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .heartbeat_ms = 1000, .domid = -1 };
	struct drvdom_config cfg = { 0 };
	struct drvdom *dd;
	int rc;

	if (parse(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	cfg.backends = driverdom_backends(&cfg.n_backends);
	cfg.heartbeat_ms = o.heartbeat_ms;
	cfg.domid = (int)o.domid;
	cfg.name = "driverdom";
	cfg.stop_on_signals = true;
	if (o.socket) {
		if ((rc = bhxs_open_socket(o.socket, &cfg.xs)) < 0) {
			fprintf(stderr, "driverdom: store socket %s: %s\n", o.socket,
			        bh_strerror(rc));
			return 1;
		}
	} else {
		struct bh_log log;

		cfg.hc = xen_hcall();
		if (!cfg.hc) {
			fprintf(stderr,
			        "driverdom: not in a Bulkhead domain (no hypercall channel)\n");
			return 1;
		}
		/* Outside a domain (--store-socket) there is no sandbox to
		 * narrow; inside, it is narrowed before the first call to
		 * the core, which a standby sandbox waits in. */
		bh_log_init(&log, "driverdom");
		if (drvdom_narrow(&log) < 0)
			return 1;
		warm_up();
		/* So that a restart need not wait for this process's exit to
		 * finish unmapping its guests' pages (core/life.c). */
		if ((rc = bh_life_hold()) < 0 && rc != -EBADF)
			bh_warn(&log, "life page: %s (its end is seen later)", bh_strerror(rc));
	}
	if ((rc = drvdom_create(&cfg, &dd)) < 0)
		return 1;
	rc = drvdom_start(dd);
	if (rc == 0)
		rc = drvdom_run(dd);
	drvdom_destroy(dd);
	return rc < 0 ? 1 : 0;
}
