/* bulkhead-xenstored: the daemon's parts (socket transport, domain rings). */
#ifndef BH_XENSTORED_DAEMON_H
#define BH_XENSTORED_DAEMON_H

#include <stdbool.h>
#include <sys/queue.h>

#include "common/log.h"
#include "xenstored/xsd.h"

struct event_base;
struct xsd_rings;
struct sconn;

struct xsd_daemon {
	struct event_base *base;
	struct xsd *s;
	struct bh_log log;
	struct xsd_listener {
		struct xsd_daemon *d;
		int fd;
		int domid; /* -1: peers are dom0, privileged */
		struct event *ev;
	} lis[8];
	int nlis;
	void *rings; /* ring_xen.c state; NULL without --domain-rings */
	LIST_HEAD(, sconn) sconns;
};

/* Listens on PATH (replacing a stale socket); its peers act as DOMID
 * (unprivileged) or, with -1, as dom0. */
int xsd_sock_listen(struct xsd_daemon *d, const char *path, int domid);
void xsd_sock_close(struct xsd_daemon *d);

#endif
