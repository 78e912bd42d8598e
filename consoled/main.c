/* bulkhead-consoled: the console daemon on its own (dom0 runs it when no
 * toolstack daemon embeds bhconsoled), and its small client.
 *
 *   bulkhead-consoled [--logdir DIR] [--socket PATH] [--no-control] ...
 *       serve consoles; domains arrive with "add DOMID NAME PORT" on the
 *       socket and leave with "remove" or, inside a domain, when the core
 *       reports their end (VIRQ_DOM_EXC)
 *   bulkhead-consoled [--socket PATH] --attach TARGET [--escape C]
 *   bulkhead-consoled [--socket PATH] --tail TARGET [--lines N]
 *   bulkhead-consoled [--socket PATH] --list | --request "LINE" */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "common/util.h"
#include "consoled/consoled.h"
#include "consoled/consoled_client.h"
#include "ioctl/bhctl.h"
#include "ioctl/xendev.h"

#define DEFAULT_LOGDIR "/run/bulkhead/console"
#define DEFAULT_SOCKET "/run/bulkhead/console.sock"
#define MAX_WATCHED    4096

struct args {
	const char *logdir, *sock, *attach, *tail, *request;
	long lines, escape;
	bool list, control;
	uint64_t log_max;
	long log_keep;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: bulkhead-consoled [options]             run the console daemon\n"
	           "       bulkhead-consoled --attach DOM [--escape N]\n"
	           "       bulkhead-consoled --tail DOM [--lines N]\n"
	           "       bulkhead-consoled --list | --request LINE\n"
	           "  --logdir DIR        console logs (default " DEFAULT_LOGDIR ")\n"
	           "  --socket PATH       control socket (default " DEFAULT_SOCKET ")\n"
	           "  --no-control        refuse add/remove/rename on the socket\n"
	           "  --log-max-bytes N   rotate a log past N bytes (default: never)\n"
	           "  --log-keep N        old logs kept when rotating (default 3)\n"
	           "  --escape N          detach byte for --attach (default 29, Ctrl-])\n"
	           "  --lines N           lines for --tail (default 50; 0 = all)\n");
}

static int parse(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "logdir", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "no-control", no_argument, NULL, 'n' },
		{ "log-max-bytes", required_argument, NULL, 'm' },
		{ "log-keep", required_argument, NULL, 'k' },
		{ "attach", required_argument, NULL, 'a' },
		{ "escape", required_argument, NULL, 'e' },
		{ "tail", required_argument, NULL, 't' },
		{ "lines", required_argument, NULL, 'l' },
		{ "list", no_argument, NULL, 'L' },
		{ "request", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*a = (struct args){ .logdir = DEFAULT_LOGDIR,
		            .sock = DEFAULT_SOCKET,
		            .lines = 50,
		            .escape = CONSOLED_ESCAPE_DEFAULT,
		            .control = true,
		            .log_keep = 3 };
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int rc = 0;
		switch (opt) {
		case 'd':
			a->logdir = optarg;
			break;
		case 's':
			a->sock = optarg;
			break;
		case 'n':
			a->control = false;
			break;
		case 'm':
			rc = bh_parse_u64(optarg, 10, &a->log_max);
			break;
		case 'k':
			rc = bh_parse_int(optarg, 10, 0, 100, &a->log_keep);
			break;
		case 'a':
			a->attach = optarg;
			break;
		case 'e':
			rc = bh_parse_int(optarg, 0, -1, 255, &a->escape);
			break;
		case 't':
			a->tail = optarg;
			break;
		case 'l':
			rc = bh_parse_int(optarg, 10, 0, 1 << 24, &a->lines);
			break;
		case 'L':
			a->list = true;
			break;
		case 'r':
			a->request = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
		if (rc < 0)
			return rc;
	}
	return optind < argc ? -EINVAL : 0;
}

/* ---- client modes ------------------------------------------------------- */

static int client_main(const struct args *a)
{
	char err[256] = "";
	int rc;

	if (a->attach)
		rc = consoled_client_attach(a->sock, a->attach, 0, 1, (int)a->escape, err,
		                            sizeof(err));
	else if (a->tail)
		rc =
		    consoled_client_tail(a->sock, a->tail, (unsigned)a->lines, 1, err, sizeof(err));
	else
		rc = consoled_client_request(a->sock, a->list ? "list" : a->request, 1, err,
		                             sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "bulkhead-consoled: %s\n", err[0] ? err : bh_strerror(rc));
		return 1;
	}
	return 0;
}

/* ---- daemon ------------------------------------------------------------- */

struct watch {
	struct consoled *cd;
	int fd; /* /dev/xen/evtchn with VIRQ_DOM_EXC bound */
	struct event *ev;
	uint16_t ids[MAX_WATCHED];
};

static void reason_text(const struct bh_dominfo *d, char *buf, size_t cap)
{
	if (d->shutdown_reason == BH_SHUTDOWN_CRASH && d->crash_detail != BH_CRASH_NONE)
		snprintf(buf, cap, "crash (%s)", bhctl_crash_name(d->crash_detail));
	else
		snprintf(buf, cap, "%s", bhctl_reason_name(d->shutdown_reason));
}

/* Some domain ended: stop serving the ones of ours that did. */
static void on_dom_exc(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;
	uint16_t *ids = w->ids;
	uint32_t ports[16];
	ssize_t r;
	size_t n;

	(void)what;
	while ((r = xen_read((int)fd, ports, sizeof(ports))) > 0)
		xen_write((int)fd, ports, (size_t)r);
	n = BH_MIN(consoled_domains(w->cd, ids, MAX_WATCHED), (size_t)MAX_WATCHED);
	for (size_t i = 0; i < n; i++) {
		struct bh_dominfo d;
		char why[96] = "destroyed";
		int rc = bhctl_domain_getinfo(xen_hcall(), ids[i], &d);
		if (rc == 0 && d.state != BH_DOMSTATE_SHUTDOWN)
			continue;
		if (rc == 0)
			reason_text(&d, why, sizeof(why));
		else if (rc != -ESRCH)
			continue;
		consoled_remove_domain(w->cd, ids[i], why);
	}
}

static int watch_start(struct watch *w, struct event_base *base)
{
	struct ioctl_evtchn_bind_virq b = { .virq = BH_VIRQ_DOM_EXC };

	w->fd = -1;
	if (!xen_hcall())
		return -ENODEV; /* not in a domain: the toolstack tells us */
	if ((w->fd = xen_open("/dev/xen/evtchn", O_RDWR | O_NONBLOCK)) < 0 ||
	    xen_ioctl(w->fd, IOCTL_EVTCHN_BIND_VIRQ, &b) < 0)
		return -errno;
	w->ev = event_new(base, w->fd, EV_READ | EV_PERSIST, on_dom_exc, w);
	return w->ev && event_add(w->ev, NULL) == 0 ? 0 : -ENOMEM;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static int daemon_main(const struct args *a)
{
	struct consoled_opts o = { .logdir = a->logdir,
		                   .sock_path = a->sock,
		                   .allow_control = a->control,
		                   .log_max_bytes = a->log_max,
		                   .log_keep = (unsigned)a->log_keep };
	struct event_base *base = event_base_new();
	struct event *sig[2] = { NULL, NULL };
	struct watch w = { .fd = -1 };
	int rc;

	if (!base)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if ((rc = consoled_create_opts(base, &o, &w.cd)) < 0) {
		fprintf(stderr, "consoled: cannot start: %s\n", bh_strerror(rc));
		event_base_free(base);
		return 1;
	}
	if ((rc = watch_start(&w, base)) < 0 && rc != -ENODEV)
		fprintf(stderr, "consoled: not watching for domain ends: %s\n", bh_strerror(rc));
	sig[0] = evsignal_new(base, SIGTERM, on_signal, base);
	sig[1] = evsignal_new(base, SIGINT, on_signal, base);
	for (int i = 0; i < 2; i++)
		if (sig[i])
			event_add(sig[i], NULL);
	fprintf(stderr, "consoled: serving, logs in %s, socket %s\n", a->logdir, a->sock);
	event_base_dispatch(base);
	consoled_free(w.cd);
	if (w.ev)
		event_free(w.ev);
	if (w.fd >= 0)
		xen_close(w.fd);
	for (int i = 0; i < 2; i++)
		if (sig[i])
			event_free(sig[i]);
	event_base_free(base);
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;

	if (parse(argc, argv, &a) < 0) {
		usage(stderr);
		return 2;
	}
	if (a.attach || a.tail || a.list || a.request)
		return client_main(&a);
	return daemon_main(&a);
}
