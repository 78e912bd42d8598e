/* The client side of a store ring page: requests into req[], replies and
 * events out of rsp[], a kick after each step. Kicks and waits go through
 * eventfds (bhxs_open_ring) or the domain's event-channel device
 * (bhxs_open_domain). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bulkhead/xs_wire.h"
#include "ioctl/bhctl.h"
#include "ioctl/xendev.h"
#include "xenstored/bhxs_int.h"

static uint32_t ld(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void st(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Between publishing an index and reading the daemon's: with the daemon's
 * own (ring.c), at least one side sees the other's store, so a kick is
 * left out only when the daemon is sure to look again. */
static void full_fence(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void kick(struct bhxs *xs)
{
	if (xs->evtchn_fd >= 0) {
		struct ioctl_evtchn_notify n = { .port = xs->port };

		xen_ioctl(xs->evtchn_fd, IOCTL_EVTCHN_NOTIFY, &n);
	} else {
		uint64_t one = 1;

		if (write(xs->notify_fd, &one, sizeof(one)) < 0) {
			/* counter saturated: the daemon has a kick pending anyway */
		}
	}
}

/* Waits for a kick from the daemon; -ETIMEDOUT. */
static int wait_kick(struct bhxs *xs, int timeout_ms)
{
	int fd = xs->evtchn_fd >= 0 ? xs->evtchn_fd : xs->event_fd;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int r;

	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	if (xs->evtchn_fd >= 0) {
		uint32_t ports[16];
		ssize_t n = xen_read(fd, ports, sizeof(ports));

		if (n > 0)
			xen_write(fd, ports, (size_t)n); /* unmask */
	} else {
		uint64_t v;

		if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return -errno;
	}
	return 0;
}

static int ring_send(struct bhxs *xs, const void *buf, size_t len)
{
	struct xenstore_domain_interface *p = xs->page;
	const char *s = buf;

	while (len) {
		uint32_t cons = ld(&p->req_cons), prod = p->req_prod;
		uint32_t used = prod - cons, off = MASK_XENSTORE_IDX(prod);
		size_t n;
		int rc;

		if (used > XENSTORE_RING_SIZE)
			return -EIO;
		n = BH_MIN(XENSTORE_RING_SIZE - used, XENSTORE_RING_SIZE - off);
		n = BH_MIN(n, len);
		if (n == 0) {
			if ((rc = wait_kick(xs, -1)) < 0)
				return rc;
			continue;
		}
		memcpy(p->req + off, s, n);
		st(&p->req_prod, prod + (uint32_t)n);
		full_fence();
		/* As Linux's xenbus: a kick only if the daemon had taken
		 * everything before (it may be asleep); if not, it is still
		 * pulling and finds these bytes itself. Each needless kick
		 * woke the daemon for nothing, and on a busy CPU it took the
		 * CPU from us: a pipelined batch went by in ping-pong. */
		if ((int32_t)(ld(&p->req_cons) - prod) >= 0)
			kick(xs);
		s += n;
		len -= n;
	}
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static ssize_t ring_recv(struct bhxs *xs, void *buf, size_t cap, int timeout_ms)
{
	struct xenstore_domain_interface *p = xs->page;
	long deadline = timeout_ms < 0 ? 0 : now_ms() + timeout_ms;

	for (;;) {
		uint32_t prod = ld(&p->rsp_prod), cons = p->rsp_cons;
		uint32_t avail = prod - cons, off = MASK_XENSTORE_IDX(cons);
		size_t n;
		int rc;

		if (avail > XENSTORE_RING_SIZE || ld(&p->error))
			return -EIO;
		n = BH_MIN(avail, cap);
		if (n) {
			/* Both sides of the wrap at once: bytes left in the
			 * ring (an event behind a reply) would wait for a kick
			 * the daemon has already sent. */
			size_t first = BH_MIN(n, XENSTORE_RING_SIZE - off);

			memcpy(buf, p->rsp + off, first);
			memcpy((char *)buf + first, p->rsp, n - first);
			st(&p->rsp_cons, cons + (uint32_t)n);
			full_fence();
			/* Room for the daemon's next bytes: it waits for a
			 * kick only if it found the ring full (ring.c's push
			 * fills it before it stops). */
			if (ld(&p->rsp_prod) - cons >= XENSTORE_RING_SIZE)
				kick(xs);
			return (ssize_t)n;
		}
		int left = timeout_ms < 0 ? -1 : (int)BH_MAX(0, deadline - now_ms());
		if ((rc = wait_kick(xs, left)) < 0)
			return rc;
	}
}

static void ring_close(struct bhxs *xs)
{
	if (xs->evtchn_fd >= 0) {
		xen_close(xs->evtchn_fd);
		munmap(xs->page, BH_PAGE_SIZE);
		return;
	}
	if (!xs->own)
		return;
	bh_closep(&xs->notify_fd);
	bh_closep(&xs->event_fd);
	munmap(xs->page, BH_PAGE_SIZE);
}

static const struct bhxs_transport ring_transport = { ring_send, ring_recv, ring_close };

int bhxs_open_ring(void *page, int notify_fd, int event_fd, bool own, struct bhxs **out)
{
	struct bhxs *xs = bhxs_alloc(&ring_transport);
	int rc;

	if (!xs)
		return -ENOMEM;
	xs->page = page;
	xs->notify_fd = notify_fd;
	xs->event_fd = event_fd;
	xs->own = own;
	xs->evtchn_fd = -1;
	if ((rc = bhxs_poll_setup(xs, event_fd)) < 0) {
		xs->own = false;
		bhxs_close(xs);
		return rc;
	}
	*out = xs;
	return 0;
}

/* Inside a domain: the core's START_INFO gives the store page (an fd to
 * map) and the store port; the event-channel device takes the port over
 * (IOCTL_EVTCHN_BH_ATTACH, as the kernel does at boot). */
int bhxs_open_domain(struct bhxs **out)
{
	struct bh_hc_start_info si;
	int fds[2] = { -1, -1 };
	size_t nfds = 0;
	struct bhxs *xs;
	void *page;
	int rc, efd;

	if (!xen_hcall())
		return -ENOTCONN;
	if ((rc = bhctl_start_info(xen_hcall(), &si, fds, &nfds)) < 0)
		return rc;
	if (nfds < 1) {
		bh_close_fds(fds, nfds);
		return -ENODEV; /* this domain has no store */
	}
	page = mmap(NULL, BH_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	bh_close_fds(fds, nfds);
	if (page == MAP_FAILED)
		return -errno;
	if ((efd = xen_open("/dev/xen/evtchn", O_NONBLOCK)) < 0) {
		rc = -errno;
		munmap(page, BH_PAGE_SIZE);
		return rc;
	}
	struct ioctl_evtchn_unbind a = { .port = si.store_port };
	if (xen_ioctl(efd, IOCTL_EVTCHN_BH_ATTACH, &a) < 0) {
		rc = -errno;
		xen_close(efd);
		munmap(page, BH_PAGE_SIZE);
		return rc;
	}
	if (!(xs = bhxs_alloc(&ring_transport))) {
		xen_close(efd);
		munmap(page, BH_PAGE_SIZE);
		return -ENOMEM;
	}
	xs->page = page;
	xs->evtchn_fd = efd;
	xs->port = si.store_port;
	xs->domid = si.domid;
	if ((rc = bhxs_poll_setup(xs, efd)) < 0) {
		bhxs_close(xs);
		return rc;
	}
	*out = xs;
	return 0;
}
