/* bhxsd: the store itself (xenstored without its transports).
 *
 * A tree of nodes with Xen's permissions, watches, transactions and
 * per-domain quotas. Transports (the daemon's Unix socket, a domain's ring
 * page, in-process tests) create one struct xsd_conn per peer, push the
 * bytes they receive into xsd_conn_input() and send what
 * xsd_conn_output() holds. Single-threaded: the caller's event loop owns
 * the store. */
#ifndef BH_XSD_H
#define BH_XSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct xsd;
struct xsd_conn;

/* Quotas, enforced on unprivileged domains only. Defaults are C xenstored's. */
struct xsd_quota {
	unsigned nodes;        /* nodes a domain may own (1000) -> ENOSPC */
	unsigned node_size;    /* bytes of one node's record (2048) -> ENOSPC */
	unsigned watches;      /* watches per domain (128) -> E2BIG */
	unsigned transactions; /* open transactions per connection (10) -> ENOSPC */
	unsigned tx_nodes;     /* nodes one transaction may touch (1024) -> ENOSPC */
	unsigned perms;        /* permission entries per node (5) -> ENOSPC */
	unsigned path_len;     /* relative path bytes (2048) -> EINVAL */
	unsigned outstanding;  /* requests read ahead of their replies (20) */
	unsigned out_queue;    /* output bytes queued before events drop (65536) */
};
void xsd_quota_defaults(struct xsd_quota *q);
/* "nodes=1000" etc. (names as the fields above). */
int xsd_quota_parse(struct xsd_quota *q, const char *arg);

/* What the store asks of its host (the daemon). Any may be NULL. */
struct xsd_host_ops {
	/* XS_INTRODUCE from a privileged connection: connect the domain's
	 * ring. 0 or a negative errno (answered as an error). */
	int (*introduce)(void *arg, unsigned domid, long long gfn, unsigned port);
	/* The domain is gone: drop its transport (its conn is freed after). */
	void (*release)(void *arg, unsigned domid);
	void *arg;
};

/* The transport's side of a connection. */
struct xsd_conn_ops {
	/* Output became available (queue was empty). */
	void (*kick)(void *arg);
	void *arg;
};

struct xsd *xsd_new(const struct xsd_quota *q, const struct xsd_host_ops *host);
void xsd_free(struct xsd *s);

/* A peer acting as DOMID. PRIV: dom0 / the control domain (bypasses
 * permission checks and quotas). */
struct xsd_conn *xsd_conn_new(struct xsd *s, unsigned domid, bool priv,
                              const struct xsd_conn_ops *ops);
/* Ends the connection: its watches and transactions go with it. */
void xsd_conn_free(struct xsd_conn *c);
/* Bytes from the peer; whole messages are handled at once. Returns 0, or
 * a negative errno when the peer broke the protocol (a payload longer than
 * 4096): the caller must end the connection. While the connection's output
 * queue is over its limit (xsd_conn_throttled), further requests stay
 * buffered: the transport stops reading the peer and, after sending some
 * output, calls xsd_conn_input(c, NULL, 0) to resume. */
int xsd_conn_input(struct xsd_conn *c, const void *buf, size_t len);
/* The queue of bytes to send (replies and watch events). */
struct evbuffer *xsd_conn_output(struct xsd_conn *c);
/* True when input is being held back (output queue over the limit). */
bool xsd_conn_throttled(const struct xsd_conn *c);
unsigned xsd_conn_domid(const struct xsd_conn *c);
/* Watch events dropped for this connection (queue over the limit). */
uint64_t xsd_conn_dropped_events(const struct xsd_conn *c);

/* The domain is gone (destroyed, shut down or XS_RELEASE'd): its
 * connections, watches, transactions, accounting and the nodes it owns
 * are removed and @releaseDomain fires. A reused domid inherits nothing. */
void xsd_domain_released(struct xsd *s, unsigned domid);
/* Domains introduced and not released, in *out (malloc'd). */
int xsd_domains(struct xsd *s, unsigned **out, size_t *n);

/* Errno <-> Xen error name. */
const char *xsd_errname(int err);
int xsd_errnum(const char *name);

#endif
