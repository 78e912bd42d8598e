/* blkback-serve: serve one vbd over one ring in a driver domain, with the
 * ring given on the command line instead of by the store (the xenbus
 * handshake is a separate piece). Used by the integration test and the
 * cross-domain benchmark:
 *
 *   blkback-serve [-p POLL_NS] FRONT_DOMID TOKEN ORDER PORT REF...
 *
 * POLL_NS: blkback_config.poll_ns (default BLKBACK_POLL_DEFAULT_NS, 0: off).
 * It takes the image assigned to it under TOKEN, binds the frontend's
 * event channel, attaches the ring and serves until killed. Prints
 * "SERVING sectors N" once attached, and each ring error. */
#include <errno.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkback/blkback.h"
#include "bulkhead/blkif.h"
#include "common/util.h"
#include "ioctl/bhctl.h"
#include "ioctl/xendev.h"

static void ring_error(void *arg, int ring, int err, const char *why)
{
	(void)arg;
	printf("RING-ERROR %d %s: %s\n", ring, strerror(-err), why);
	fflush(stdout);
}

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	long v;
	int rc = bh_parse_int(s, 10, 0, max, &v);

	*out = (uint32_t)v;
	return rc;
}

int main(int argc, char **argv)
{
	uint32_t front, order, port, refs[16], flags;
	struct blkback *bb;
	struct blkback_evtchn *ev;
	uint64_t size;
	int fd, rc, vbd, ring;

	uint32_t poll_ns = BLKBACK_POLL_DEFAULT_NS;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 3 && strcmp(argv[1], "-p") == 0) {
		if (parse_u32(argv[2], 100000000, &poll_ns) < 0)
			return fprintf(stderr, "blkback-serve: bad -p\n"), 2;
		argv += 2;
		argc -= 2;
	}
	if (argc < 6 || parse_u32(argv[1], 0x7fef, &front) < 0 ||
	    parse_u32(argv[3], 4, &order) < 0 || parse_u32(argv[4], INT32_MAX, &port) < 0 ||
	    (uint32_t)argc != 5 + (1u << order)) {
		fprintf(stderr,
		        "usage: blkback-serve [-p POLL_NS] FRONT_DOMID TOKEN ORDER PORT REF...\n");
		return 2;
	}
	for (uint32_t i = 0; i < (1u << order); i++)
		if (parse_u32(argv[5 + i], UINT32_MAX >> 1, &refs[i]) < 0)
			return 2;
	if ((rc = bhctl_device_open(xen_hcall(), argv[2], &fd, &size, &flags)) < 0) {
		fprintf(stderr, "device %s: %s\n", argv[2], strerror(-rc));
		return 1;
	}
	char name[64];
	snprintf(name, sizeof(name), "blkback/dom%u/%s", front, argv[2]);
	struct blkback_config c = { .gnt = &blkback_gntdev_ops,
		                    .ring_error = ring_error,
		                    .poll_ns = poll_ns,
		                    /* blkfront-probe grants up to 2048 + 32 pages:
		                     * keep every one mapped */
		                    .max_persistent = 4096,
		                    .name = name };
	if ((rc = blkback_create(&c, &bb)) < 0) {
		fprintf(stderr, "engine: %s\n", strerror(-rc));
		return 1;
	}
	struct blkback_vbd_params vp = { .fd = fd,
		                         .sector_size = 512,
		                         .readonly = flags & BH_DEV_RDONLY,
		                         .discard = true,
		                         .name = argv[2] };
	if ((vbd = blkback_add_vbd(bb, &vp)) < 0 ||
	    (rc = blkback_evtchn_bind((uint16_t)front, port, &ev)) < 0) {
		fprintf(stderr, "vbd/evtchn: %s\n", strerror(-(vbd < 0 ? vbd : rc)));
		return 1;
	}
	struct blkback_ring_params rp = { .vbd = vbd,
		                          .domid = (uint16_t)front,
		                          .refs = refs,
		                          .ring_page_order = order,
		                          .persistent = true,
		                          .evt_fd = blkback_evtchn_fd(ev),
		                          .evt_ack = blkback_evtchn_ack,
		                          .notify = blkback_evtchn_notify,
		                          .evt_arg = ev };
	if ((ring = blkback_attach_ring(bb, &rp)) < 0) {
		fprintf(stderr, "attach: %s\n", strerror(-ring));
		return 1;
	}
	printf("SERVING sectors %llu\n", (unsigned long long)blkback_vbd_sectors(bb, vbd));
	/* epoll_wait, not poll: io_uring's completion task work interrupts a
	 * blocking wait, and an interrupted poll(2) is resumed through
	 * restart_syscall(2), which the driver-domain filter does not allow;
	 * epoll_wait returns EINTR instead. */
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev_in = { .events = EPOLLIN };
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, blkback_fd(bb), &ev_in) < 0)
		return perror("epoll"), 1;
	for (;;) {
		struct epoll_event out;
		if (epoll_wait(ep, &out, 1, -1) < 0 && errno != EINTR)
			break;
		blkback_process(bb);
	}
	blkback_destroy(bb);
	blkback_evtchn_close(ev);
	return 0;
}
