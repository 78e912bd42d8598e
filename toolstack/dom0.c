/* bulkhead-dom0: the orchestration domain's daemon. The core starts it as
 * domain 0 (privileged label, unprivileged on the host). It connects to the
 * store, embeds the console daemon, watches for domain deaths
 * (VIRQ_DOM_EXC) and serves the management API on /run/bulkhead/api.sock
 * (the host sees it as <rundir>/dom0/api.sock).
 *
 *   bulkhead-dom0 [--api PATH] [--store-socket PATH] [--console-dir DIR]
 *                 [--host-rundir DIR] [--no-store]
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "ioctl/bhctl.h"
#include "ioctl/xendev.h"
#include "toolstack/api.h"
#include "toolstack/dom0_console.h"
#include "xenstored/bhxs.h"

#define MAX_LINE (1u << 20) /* a request: an xl.cfg file and some */

struct conn {
	int fd;
	struct event *ev;
	char *buf;
	size_t len, cap;
	struct dom0 *d;
};

struct dom0 {
	struct event_base *base;
	struct api_ctx api;
	struct bhtool t;
	struct bh_hc_client *hc;
	int virq_fd;
	struct bh_log log;
};

static void conn_free(struct conn *c)
{
	event_free(c->ev);
	close(c->fd);
	free(c->buf);
	free(c);
}

static void conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char *nl;
	ssize_t n;

	if (c->cap - c->len < 4096) {
		size_t ncap = c->cap ? c->cap * 2 : 8192;
		char *nb;
		if (ncap > MAX_LINE + 1 || !(nb = realloc(c->buf, ncap))) {
			const char *e =
			    "{\"ok\":false,\"error\":\"request too long\",\"errno\":7}\n";
			(void)!write(fd, e, strlen(e));
			conn_free(c);
			return;
		}
		c->buf = nb;
		c->cap = ncap;
	}
	n = read(fd, c->buf + c->len, c->cap - c->len);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_free(c);
		return;
	}
	c->len += (size_t)n;
	while ((nl = memchr(c->buf, '\n', c->len))) {
		size_t l = (size_t)(nl - c->buf);
		char *reply = api_handle(&c->d->api, c->buf, l);
		/* Replies are small except lists; the client reads them whole. */
		bh_set_nonblock(fd, 0);
		if (!reply || bh_write_full(fd, reply, strlen(reply)) < 0) {
			free(reply);
			conn_free(c);
			return;
		}
		bh_set_nonblock(fd, 1);
		free(reply);
		memmove(c->buf, nl + 1, c->len - l - 1);
		c->len -= l + 1;
	}
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct dom0 *d = arg;
	struct conn *c;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (!(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->d = d;
	c->ev = event_new(d->base, fd, EV_READ | EV_PERSIST, conn_cb, c);
	event_add(c->ev, NULL);
}

static void virq_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dom0 *d = arg;
	uint32_t ports[16];
	ssize_t n = xen_read(d->virq_fd, ports, sizeof(ports));

	if (n > 0)
		xen_write(d->virq_fd, ports, (size_t)n); /* unmask */
	bhtool_dom_exc(&d->t);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct dom0 *d = arg;

	bh_info(&d->log, "signal %d: exiting", (int)sig);
	event_base_loopexit(d->base, NULL);
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	bh_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	chmod(path, 0660);
	return fd;
}

static struct bhxs *connect_store(struct dom0 *d, const char *path)
{
	struct bhxs *xs = NULL;

	/* The store domain starts next to us; give it a few seconds. */
	for (int i = 0; i < 100; i++) {
		if (bhxs_open_socket(path, &xs) == 0)
			return xs;
		usleep(100 * 1000);
	}
	bh_warn(&d->log, "no store at %s: running without one (no devices)", path);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "api", required_argument, NULL, 'a' },
		{ "store-socket", required_argument, NULL, 's' },
		{ "console-dir", required_argument, NULL, 'c' },
		{ "host-rundir", required_argument, NULL, 'r' },
		{ "no-store", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *api_path = "/run/bulkhead/api.sock", *store = "/run/xenstored/socket";
	const char *cdir = "/run/bulkhead/console", *host_rundir = NULL;
	char host_cons[512], host_xs[512], host_logs[512];
	struct bh_hc_client hc;
	struct dom0 d = { .virq_fd = -1 };
	struct bhxs *xs = NULL;
	struct dom0_console *cons = NULL;
	struct event *lev, *vev = NULL, *sev[2];
	struct ioctl_evtchn_bind_virq bv = { .virq = BH_VIRQ_DOM_EXC };
	bool no_store = false;
	int opt, lfd, rc;

	bh_log_init(&d.log, "dom0");
	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			api_path = optarg;
			break;
		case 's':
			store = optarg;
			break;
		case 'c':
			cdir = optarg;
			break;
		case 'r':
			host_rundir = optarg;
			break;
		case 'n':
			no_store = true;
			break;
		default:
			fprintf(stderr, "usage: bulkhead-dom0 [--api PATH] [--store-socket PATH] "
			                "[--console-dir DIR] [--host-rundir DIR] [--no-store]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if ((rc = bh_hc_open_domain(&hc)) < 0) {
		bh_err(&d.log, "not in a Bulkhead domain: %s", bh_strerror(rc));
		return 1;
	}
	if (!host_rundir) {
		struct bh_hc_sysinfo si;
		host_rundir = bhctl_sysinfo(&hc, &si) == 0 ? strdup(si.rundir) : "/run/bulkhead";
	}
	snprintf(host_cons, sizeof(host_cons), "%s/dom0/console.sock", host_rundir);
	snprintf(host_logs, sizeof(host_logs), "%s/dom0/console", host_rundir);
	snprintf(host_xs, sizeof(host_xs), "%s/xenstored/socket", host_rundir);
	d.base = event_base_new();
	if (!no_store)
		xs = connect_store(&d, store);
	d.hc = &hc;
	bhtool_init(&d.t, &hc, xs);
	mkdir(cdir, 0750);
	if ((rc = dom0_console_start(d.base, cdir, "/run/bulkhead/console.sock", &cons)) < 0)
		bh_warn(&d.log, "console daemon: %s", bh_strerror(rc));
	else
		dom0_console_hook(cons, &d.t.console);
	d.api = (struct api_ctx){ .t = &d.t,
		                  .console_socket = host_cons,
		                  .xenstore_socket = xs ? host_xs : NULL,
		                  .console_logdir = host_logs };
	if ((lfd = listen_unix(api_path)) < 0) {
		bh_err(&d.log, "%s: %s", api_path, bh_strerror(lfd));
		return 1;
	}
	lev = event_new(d.base, lfd, EV_READ | EV_PERSIST, accept_cb, &d);
	event_add(lev, NULL);
	d.virq_fd = xen_open("/dev/xen/evtchn", O_RDWR);
	if (d.virq_fd < 0 || xen_ioctl(d.virq_fd, IOCTL_EVTCHN_BIND_VIRQ, &bv) < 0)
		bh_warn(&d.log, "cannot bind VIRQ_DOM_EXC: on_* actions will not run");
	else {
		vev = event_new(d.base, d.virq_fd, EV_READ | EV_PERSIST, virq_cb, &d);
		event_add(vev, NULL);
	}
	if ((rc = bhwd_start(&d.t, d.base, 250)) < 0)
		bh_warn(&d.log, "watchdog: %s: driver-domain hangs go unnoticed", bh_strerror(rc));
	sev[0] = evsignal_new(d.base, SIGTERM, signal_cb, &d);
	sev[1] = evsignal_new(d.base, SIGINT, signal_cb, &d);
	event_add(sev[0], NULL);
	event_add(sev[1], NULL);
	bh_info(&d.log, "toolstack ready: api %s, store %s", api_path, xs ? store : "none");
	event_base_dispatch(d.base);
	unlink(api_path);
	event_free(lev);
	if (vev)
		event_free(vev);
	event_free(sev[0]);
	event_free(sev[1]);
	dom0_console_stop(cons);
	bhwd_stop(&d.t);
	bhtool_fini(&d.t);
	if (xs)
		bhxs_close(xs);
	event_base_free(d.base);
	bh_hc_close(&hc);
	return 0;
}
