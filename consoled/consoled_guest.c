/* consoled_guest: a tiny "guest" for consoled's integration test. Inside a
 * domain it takes its console ring page from START_INFO and its console
 * port with IOCTL_EVTCHN_BH_ATTACH, as a PV kernel's console driver does,
 * then:
 *     consoled_guest LINES
 * writes LINES lines "guest line N" (waiting for the daemon when the ring
 * is full), then echoes each line typed on its console as "echo: LINE"
 * until it reads "quit".
 *     consoled_guest corrupt
 * writes one line, then pushes out_prod far past the ring (a hostile
 * guest), notifies, and waits to be destroyed. Diagnostics go to stderr
 * (the domain's log). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bulkhead/ring.h"
#include "common/consring.h"
#include "common/util.h"
#include "ioctl/bhctl.h"
#include "ioctl/xendev.h"

struct con {
	struct bh_cons_intf *intf;
	int ev;
	uint32_t port;
};

static int die(const char *what, int err)
{
	fprintf(stderr, "consoled_guest: %s: %s\n", what, strerror(err));
	return 1;
}

/* Block until the daemon notifies us (or a second passes). */
static void wait_kick(struct con *c)
{
	struct pollfd p = { .fd = c->ev, .events = POLLIN };
	uint32_t ports[8];
	ssize_t n;

	poll(&p, 1, 1000);
	while ((n = xen_read(c->ev, ports, sizeof(ports))) > 0)
		xen_write(c->ev, ports, (size_t)n);
}

static void kick(struct con *c)
{
	struct ioctl_evtchn_notify nt = { .port = c->port };

	xen_ioctl(c->ev, IOCTL_EVTCHN_NOTIFY, &nt);
}

static int con_write(struct con *c, const char *s, size_t len)
{
	while (len) {
		ssize_t n = bh_cons_guest_write(c->intf, s, len);
		if (n < 0)
			return (int)n;
		if (n > 0)
			kick(c);
		else
			wait_kick(c);
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

static int con_open(struct con *c)
{
	struct bh_hc_start_info si;
	int fds[2] = { -1, -1 }, rc;
	size_t nfds = 0;
	void *p;

	if ((rc = bhctl_start_info(xen_hcall(), &si, fds, &nfds)) < 0)
		return rc;
	if (!si.console_port || nfds == 0)
		return -ENODEV;
	/* the console page is the last one (the store's comes first) */
	p = mmap(NULL, BH_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[nfds - 1], 0);
	bh_close_fds(fds, nfds);
	if (p == MAP_FAILED)
		return -errno;
	c->intf = p;
	c->ev = xen_open("/dev/xen/evtchn", O_RDWR | O_NONBLOCK);
	struct ioctl_evtchn_unbind a = { .port = si.console_port };
	if (c->ev < 0 || xen_ioctl(c->ev, IOCTL_EVTCHN_BH_ATTACH, &a) < 0)
		return -errno;
	c->port = si.console_port;
	return 0;
}

/* Echo typed lines until "quit". */
static int echo_loop(struct con *c)
{
	char line[256], out[300];
	size_t n = 0;

	for (;;) {
		char ch;
		ssize_t r = bh_cons_guest_read(c->intf, &ch, 1);
		if (r < 0)
			return (int)r;
		if (r == 0) {
			kick(c); /* room in `in` for the daemon */
			wait_kick(c);
			continue;
		}
		if (ch == '\r' || ch == '\n') {
			line[n] = '\0';
			if (strcmp(line, "quit") == 0)
				return 0;
			int len = snprintf(out, sizeof(out), "echo: %s\n", line);
			con_write(c, out, (size_t)len);
			n = 0;
		} else if (n + 1 < sizeof(line)) {
			line[n++] = ch;
		}
	}
}

int main(int argc, char **argv)
{
	struct con c;
	long lines = argc > 1 ? strtol(argv[1], NULL, 10) : 10;
	char buf[64];
	int rc;

	if ((rc = con_open(&c)) < 0)
		return die("console", -rc);
	if (argc > 1 && strcmp(argv[1], "corrupt") == 0) {
		con_write(&c, "about to misbehave\n", 19);
		/* let the daemon take the line first: once the indices are
		 * corrupt, what was still unread is forfeit */
		while (BH_READ_ONCE(c.intf->out_cons) != c.intf->out_prod)
			wait_kick(&c);
		c.intf->out_prod = c.intf->out_cons + 100000;
		kick(&c);
		for (;;)
			pause();
	}
	for (long i = 0; i < lines; i++) {
		int len = snprintf(buf, sizeof(buf), "guest line %ld\n", i);
		if ((rc = con_write(&c, buf, (size_t)len)) < 0)
			return die("console write", -rc);
	}
	fprintf(stderr, "consoled_guest: wrote %ld lines\n", lines);
	if ((rc = echo_loop(&c)) < 0)
		return die("console read", -rc);
	con_write(&c, "bye\n", 4);
	return 0;
}
