/* bulkhead-xenstored: the store daemon. Serves dom0's tools on a Unix
 * socket and, with --domain-rings (inside the store domain), every domain
 * dom0 introduces over its shared ring page. */
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
#include "xenstored/daemon.h"
#include "xenstored/ring.h"

struct opts {
	const char *socket;
	const char *pidfile;
	const char *logfile;
	int sock_domid;
	struct {
		int domid;
		const char *path;
	} extra[7];
	int nextra;
	bool rings;
	bool verbose;
	struct xsd_quota q;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: bulkhead-xenstored [options]\n"
	           "  --socket PATH        Unix socket for dom0's tools (default "
	           "/run/xenstored/socket)\n"
	           "  --socket-domid N     treat socket peers as unprivileged domain N\n"
	           "  --domain-socket N:PATH  another socket whose peers act as domain N\n"
	           "                       (unprivileged; for tests and dom0-side proxies)\n"
	           "  --pidfile FILE       write our pid there\n"
	           "  --log FILE           append the log there instead of stderr\n"
	           "  --quota NAME=N       nodes, node_size, watches, transactions, tx_nodes,\n"
	           "                       perms, path_len, outstanding, out_queue\n"
	           "  --domain-rings       serve introduced domains over their ring pages\n"
	           "                       (/dev/xen/gntdev and /dev/xen/evtchn via the core)\n"
	           "  --verbose            debug log\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "socket-domid", required_argument, NULL, 'd' },
		{ "domain-socket", required_argument, NULL, 'D' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'l' },
		{ "quota", required_argument, NULL, 'q' },
		{ "domain-rings", no_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t v;
	int ch;

	*o = (struct opts){ .socket = "/run/xenstored/socket", .sock_domid = -1 };
	xsd_quota_defaults(&o->q);
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
			o->socket = optarg;
			break;
		case 'd':
			if (bh_parse_u64(optarg, 10, &v) < 0 || v >= 0x7ff0) {
				fprintf(stderr, "bulkhead-xenstored: bad domid %s\n", optarg);
				return -EINVAL;
			}
			o->sock_domid = (int)v;
			break;
		case 'D': {
			char *colon = strchr(optarg, ':');

			if (colon)
				*colon = '\0';
			if (!colon || !colon[1] || bh_parse_u64(optarg, 10, &v) < 0 ||
			    v >= 0x7ff0 ||
			    o->nextra == (int)(sizeof(o->extra) / sizeof(o->extra[0]))) {
				fprintf(stderr, "bulkhead-xenstored: bad --domain-socket\n");
				return -EINVAL;
			}
			o->extra[o->nextra].domid = (int)v;
			o->extra[o->nextra++].path = colon + 1;
			break;
		}
		case 'p':
			o->pidfile = optarg;
			break;
		case 'l':
			o->logfile = optarg;
			break;
		case 'q':
			if (xsd_quota_parse(&o->q, optarg) < 0) {
				fprintf(stderr, "bulkhead-xenstored: bad quota %s\n", optarg);
				return -EINVAL;
			}
			break;
		case 'r':
			o->rings = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static int write_pidfile(const char *path)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	int rc;

	if (fd < 0)
		return -errno;
	rc = bh_write_full(fd, buf, (size_t)n);
	close(fd);
	return rc;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct xsd_daemon *d = arg;

	bh_info(&d->log, "signal %d: exiting", (int)sig);
	event_base_loopexit(d->base, NULL);
}

static int run(struct xsd_daemon *d, const struct opts *o)
{
	struct event *sigs[2] = { NULL, NULL };
	int rc;

	if ((rc = xsd_sock_listen(d, o->socket, o->sock_domid)) < 0) {
		bh_err(&d->log, "socket %s: %s", o->socket, bh_strerror(rc));
		return rc;
	}
	for (int i = 0; i < o->nextra; i++) {
		if ((rc = xsd_sock_listen(d, o->extra[i].path, o->extra[i].domid)) < 0) {
			bh_err(&d->log, "socket %s: %s", o->extra[i].path, bh_strerror(rc));
			return rc;
		}
	}
	if (o->rings && (rc = xsd_rings_start(d)) < 0) {
		bh_err(&d->log, "domain rings: %s", bh_strerror(rc));
		return rc;
	}
	if (o->pidfile && (rc = write_pidfile(o->pidfile)) < 0) {
		bh_err(&d->log, "pidfile %s: %s", o->pidfile, bh_strerror(rc));
		return rc;
	}
	sigs[0] = evsignal_new(d->base, SIGTERM, on_signal, d);
	sigs[1] = evsignal_new(d->base, SIGINT, on_signal, d);
	event_add(sigs[0], NULL);
	event_add(sigs[1], NULL);
	bh_info(&d->log, "serving %s%s", o->socket, o->rings ? " and domain rings" : "");
	event_base_dispatch(d->base);
	event_free(sigs[0]);
	event_free(sigs[1]);
	return 0;
}

int main(int argc, char **argv)
{
	struct xsd_daemon d = { 0 };
	struct opts o;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	bh_log_init(&d.log, "xenstored");
	if (o.verbose)
		d.log.max_level = BH_LOG_DEBUG;
	if (o.logfile) {
		int fd = open(o.logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
			fprintf(stderr, "bulkhead-xenstored: log %s: %s\n", o.logfile,
			        strerror(errno));
			return 1;
		}
		close(fd);
	}
	LIST_INIT(&d.sconns);
	d.base = event_base_new();
	struct xsd_host_ops host = { 0 };
	if (o.rings)
		xsd_rings_host_ops(&d, &host);
	d.s = xsd_new(&o.q, &host);
	if (!d.base || !d.s) {
		fprintf(stderr, "bulkhead-xenstored: out of memory\n");
		return 1;
	}
	rc = run(&d, &o);
	xsd_rings_stop(&d);
	xsd_sock_close(&d);
	xsd_free(d.s);
	event_base_free(d.base);
	if (o.pidfile)
		unlink(o.pidfile);
	return rc < 0 ? 1 : 0;
}
