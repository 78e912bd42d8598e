/* The administrator's socket: <rundir>/core.sock, SOCK_SEQPACKET, mode
 * 0600, owned by root. Its clients speak the hypercall protocol and pass
 * the same dispatch table, as the host administrator; this is how the
 * core is driven before a control domain exists (tests, bulkhead-ctl). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>

#include "core/core.h"

static void admin_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct core *c = arg;
	struct hc_conn *hc;
	int fd;

	(void)what;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	hc = calloc(1, sizeof(*hc));
	if (!hc) {
		close(fd);
		return;
	}
	hc->fd = -1;
	if (hc_conn_open(c, hc, fd, true, BH_DOMID_INVALID, 0) < 0)
		return; /* hc_conn_close freed it */
	hc->next = c->admin_clients;
	c->admin_clients = hc;
}

int admin_listen(struct core *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, n;

	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/core.sock", c->opts.rundir);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(sa.sun_path);
	mode_t old = umask(0077);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 64) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	c->admin_fd = fd;
	c->admin_ev = event_new(c->base, fd, EV_READ | EV_PERSIST, admin_accept, c);
	if (!c->admin_ev || event_add(c->admin_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

void admin_dispose(struct core *c)
{
	while (c->admin_clients)
		hc_conn_close(c->admin_clients);
	if (c->admin_ev)
		event_free(c->admin_ev);
	c->admin_ev = NULL;
	bh_closep(&c->admin_fd);
}
