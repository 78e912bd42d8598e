/* A console backend for the PV kernel's integration tests, run as a domain
 * of its own (as the console daemon will be): it maps a guest's console
 * ring (grant ref 0), binds its console port, copies the guest's output to
 * stdout (the test reads it from this domain's log) and, if given, types
 * INPUT into the guest's console once (INPUT "--corrupt": break the ring's
 * index rules instead, as a hostile backend). It kicks the guest after every
 * read, as xenconsoled does, and stops after IDLE_S seconds of silence.
 *
 *   pvkernel_consback GUEST_DOMID PORT [INPUT]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/consring.h"
#include "common/util.h"
#include "ioctl/xendev.h"

#define IDLE_S 20

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	uint32_t guest = (uint32_t)strtoul(argv[1], NULL, 10);
	uint32_t rport = (uint32_t)strtoul(argv[2], NULL, 10);
	const char *input = argc > 3 ? argv[3] : NULL;
	int gd = xen_open("/dev/xen/gntdev", 0), ev = xen_open("/dev/xen/evtchn", O_NONBLOCK);
	struct ioctl_gntdev_map_grant_ref m = { .count = 1 };
	struct ioctl_evtchn_bind_interdomain bi = { .remote_domain = guest, .remote_port = rport };

	m.refs[0].domid = (uint16_t)guest;
	m.refs[0].ref = 0; /* the console page */
	if (gd < 0 || ev < 0 || xen_ioctl(gd, IOCTL_GNTDEV_MAP_GRANT_REF, &m) < 0)
		return fprintf(stderr, "consback: map: %s\n", strerror(errno)), 1;
	struct bh_cons_intf *c =
	    xen_mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, gd, (off_t)m.index);
	int port = xen_ioctl(ev, IOCTL_EVTCHN_BIND_INTERDOMAIN, &bi);
	if (c == MAP_FAILED || port < 0)
		return fprintf(stderr, "consback: bind: %s\n", strerror(errno)), 1;
	fprintf(stderr, "consback: bound to dom%u port %u\n", guest, rport);
	struct ioctl_evtchn_notify nt = { .port = (unsigned)port };
	if (input && !strcmp(input, "--corrupt")) {
		/* a hostile backend: its consumer index far past the producer */
		c->out_cons = c->out_prod + 100000;
		xen_ioctl(ev, IOCTL_EVTCHN_NOTIFY, &nt);
		fprintf(stderr, "consback: ring corrupted\n");
		return 0;
	}
	if (input && bh_cons_back_write(c, input, strlen(input)) > 0)
		xen_ioctl(ev, IOCTL_EVTCHN_NOTIFY, &nt);
	uint64_t last = bh_now_ns();
	while (bh_now_ns() - last < IDLE_S * 1000000000ull) {
		struct pollfd p = { .fd = ev, .events = POLLIN };
		char buf[2048];
		ssize_t n;

		if (poll(&p, 1, 100) > 0) {
			uint32_t ports[8];
			ssize_t r = xen_read(ev, ports, sizeof(ports));
			if (r > 0)
				xen_write(ev, ports, (size_t)r);
		}
		while ((n = bh_cons_back_read(c, buf, sizeof(buf))) > 0) {
			if (bh_write_full(STDOUT_FILENO, buf, (size_t)n) < 0)
				return 1;
			xen_ioctl(ev, IOCTL_EVTCHN_NOTIFY, &nt);
			last = bh_now_ns();
		}
		if (n < 0)
			return fprintf(stderr, "consback: corrupt ring\n"), 1;
	}
	return 0;
}
