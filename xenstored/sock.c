/* The Unix-socket transport: dom0's tools (libxenstore, bhxs) connect here
 * and speak the wire protocol as a byte stream. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/util.h"
#include "xenstored/daemon.h"

struct sconn {
	LIST_ENTRY(sconn) link;
	struct xsd_daemon *d;
	int fd;
	struct event *rev, *wev;
	struct xsd_conn *c;
};

static void sconn_free(struct sconn *sc)
{
	LIST_REMOVE(sc, link);
	event_free(sc->rev);
	event_free(sc->wev);
	xsd_conn_free(sc->c);
	close(sc->fd);
	free(sc);
}

static void sconn_flush(struct sconn *sc)
{
	struct evbuffer *out = xsd_conn_output(sc->c);

	while (evbuffer_get_length(out) > 0) {
		int r = evbuffer_write(out, sc->fd);

		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r <= 0) {
			sconn_free(sc);
			return;
		}
		/* Room again: handle requests held back while the peer lagged. */
		if (xsd_conn_input(sc->c, NULL, 0) < 0) {
			sconn_free(sc);
			return;
		}
	}
	if (evbuffer_get_length(out) > 0)
		event_add(sc->wev, NULL);
	else
		event_del(sc->wev);
	if (xsd_conn_throttled(sc->c))
		event_del(sc->rev);
	else
		event_add(sc->rev, NULL);
}

/* Output appeared without a request of ours (a watch event). */
static void on_kick(void *arg)
{
	struct sconn *sc = arg;

	if (sc->wev)
		event_add(sc->wev, NULL);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	sconn_flush(arg);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct sconn *sc = arg;
	char buf[16384];
	ssize_t r = read(fd, buf, sizeof(buf));

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0 || xsd_conn_input(sc->c, buf, (size_t)r) < 0) {
		sconn_free(sc);
		return;
	}
	sconn_flush(sc);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct xsd_listener *l = arg;
	struct xsd_daemon *d = l->d;
	struct sconn *sc;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	sc = calloc(1, sizeof(*sc));
	if (!sc) {
		close(fd);
		return;
	}
	sc->d = d;
	sc->fd = fd;
	struct xsd_conn_ops ops = { .kick = on_kick, .arg = sc };
	if (l->domid < 0)
		sc->c = xsd_conn_new(d->s, 0, true, &ops);
	else
		sc->c = xsd_conn_new(d->s, (unsigned)l->domid, false, &ops);
	sc->rev = event_new(d->base, fd, EV_READ | EV_PERSIST, on_read, sc);
	sc->wev = event_new(d->base, fd, EV_WRITE | EV_PERSIST, on_write, sc);
	if (!sc->c || !sc->rev || !sc->wev) {
		bh_err(&d->log, "out of memory for a connection");
		if (sc->rev)
			event_free(sc->rev);
		if (sc->wev)
			event_free(sc->wev);
		xsd_conn_free(sc->c);
		close(fd);
		free(sc);
		return;
	}
	LIST_INSERT_HEAD(&d->sconns, sc, link);
	event_add(sc->rev, NULL);
}

int xsd_sock_listen(struct xsd_daemon *d, const char *path, int domid)
{
	struct xsd_listener *l;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (d->nlis == (int)(sizeof(d->lis) / sizeof(d->lis[0])))
		return -EMFILE;
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* dom0 runs as another host uid than the store domain: who may
	 * connect is decided by who sees the directory (the core mounts it
	 * only into dom0's and the store's sandboxes), not by the mode. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0666) < 0 ||
	    listen(fd, 64) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	l = &d->lis[d->nlis];
	*l = (struct xsd_listener){ .d = d, .fd = fd, .domid = domid };
	l->ev = event_new(d->base, fd, EV_READ | EV_PERSIST, on_accept, l);
	if (!l->ev) {
		close(fd);
		return -ENOMEM;
	}
	event_add(l->ev, NULL);
	d->nlis++;
	return 0;
}

void xsd_sock_close(struct xsd_daemon *d)
{
	for (int i = 0; i < d->nlis; i++) {
		event_free(d->lis[i].ev);
		close(d->lis[i].fd);
	}
	d->nlis = 0;
	while (!LIST_EMPTY(&d->sconns))
		sconn_free(LIST_FIRST(&d->sconns));
}
