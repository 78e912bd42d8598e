/* The store object, its connections (message framing, output queue) and
 * the domains it knows. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "bulkhead/xs_wire.h"
#include "xenstored/xsd_int.h"

static const struct xsd_errors errtab[] = XSD_ERROR_TABLE;

const char *xsd_errname(int err)
{
	for (size_t i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
		if (errtab[i].errnum == err)
			return errtab[i].errstring;
	return "EINVAL";
}

int xsd_errnum(const char *name)
{
	for (size_t i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
		if (strcmp(errtab[i].errstring, name) == 0)
			return errtab[i].errnum;
	return EINVAL; /* as libxenstore does with a name it does not know */
}

void xsd_quota_defaults(struct xsd_quota *q)
{
	*q = (struct xsd_quota){
		.nodes = 1000,
		.node_size = 2048,
		.watches = 128,
		.transactions = 10,
		.tx_nodes = 1024,
		.perms = 5,
		.path_len = XENSTORE_REL_PATH_MAX,
		.outstanding = 20,
		.out_queue = 65536,
	};
}

int xsd_quota_parse(struct xsd_quota *q, const char *arg)
{
	static const struct {
		const char *name;
		size_t off;
	} names[] = {
		{ "nodes", offsetof(struct xsd_quota, nodes) },
		{ "node_size", offsetof(struct xsd_quota, node_size) },
		{ "watches", offsetof(struct xsd_quota, watches) },
		{ "transactions", offsetof(struct xsd_quota, transactions) },
		{ "tx_nodes", offsetof(struct xsd_quota, tx_nodes) },
		{ "perms", offsetof(struct xsd_quota, perms) },
		{ "path_len", offsetof(struct xsd_quota, path_len) },
		{ "outstanding", offsetof(struct xsd_quota, outstanding) },
		{ "out_queue", offsetof(struct xsd_quota, out_queue) },
	};
	const char *eq = strchr(arg, '=');
	char *end;
	unsigned long v;

	if (!eq || !eq[1])
		return -EINVAL;
	errno = 0;
	v = strtoul(eq + 1, &end, 10);
	if (errno || *end || v > 0x7fffffff)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == (size_t)(eq - arg) &&
		    strncmp(names[i].name, arg, (size_t)(eq - arg)) == 0) {
			*(unsigned *)((char *)q + names[i].off) = (unsigned)v;
			return 0;
		}
	}
	return -EINVAL;
}

struct xsd *xsd_new(const struct xsd_quota *q, const struct xsd_host_ops *host)
{
	struct xsd *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (q)
		s->q = *q;
	else
		xsd_quota_defaults(&s->q);
	if (host)
		s->host = *host;
	TAILQ_INIT(&s->conns);
	xsd_tree_init(s, &s->main);
	for (int i = 0; i < XSD_NSPECIAL; i++) {
		s->special[i].p = xsd_xrealloc(NULL, 1, sizeof(struct xsd_perm));
		s->special[i].p[0] = (struct xsd_perm){ XS_PERM_NONE, 0 };
		s->special[i].n = 1;
	}
	return s;
}

void xsd_free(struct xsd *s)
{
	if (!s)
		return;
	while (!TAILQ_EMPTY(&s->conns))
		xsd_conn_free(TAILQ_FIRST(&s->conns));
	xsd_tree_dispose(&s->main);
	for (int i = 0; i < XSD_NSPECIAL; i++)
		xsd_perms_dispose(&s->special[i]);
	free(s->doms);
	free(s);
}

struct xsd_conn *xsd_conn_new(struct xsd *s, unsigned domid, bool priv,
                              const struct xsd_conn_ops *ops)
{
	struct xsd_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->s = s;
	c->domid = domid;
	c->priv = priv;
	if (ops)
		c->ops = *ops;
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	if (!c->in || !c->out) {
		if (c->in)
			evbuffer_free(c->in);
		if (c->out)
			evbuffer_free(c->out);
		free(c);
		return NULL;
	}
	LIST_INIT(&c->watches);
	LIST_INIT(&c->txs);
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	return c;
}

void xsd_conn_free(struct xsd_conn *c)
{
	if (!c)
		return;
	xsd_watches_reset(c);
	while (!LIST_EMPTY(&c->txs))
		xsd_tx_free(c, LIST_FIRST(&c->txs));
	TAILQ_REMOVE(&c->s->conns, c, link);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	free(c);
}

void xsd_reply(struct xsd_conn *c, const struct xsd_sockmsg *req, uint32_t type, const void *data,
               size_t len)
{
	struct xsd_sockmsg h = { .type = type, .req_id = req->req_id, .tx_id = req->tx_id };
	bool was_empty = evbuffer_get_length(c->out) == 0;

	if (type == XS_WATCH_EVENT)
		h.req_id = h.tx_id = 0;
	h.len = (uint32_t)len;
	evbuffer_add(c->out, &h, sizeof(h));
	evbuffer_add(c->out, data, len);
	if (was_empty && c->ops.kick)
		c->ops.kick(c->ops.arg);
}

void xsd_reply_error(struct xsd_conn *c, const struct xsd_sockmsg *req, int err)
{
	const char *name = xsd_errname(err);

	xsd_reply(c, req, XS_ERROR, name, strlen(name) + 1);
}

bool xsd_conn_throttled(const struct xsd_conn *c)
{
	return evbuffer_get_length(c->out) >= c->s->q.out_queue;
}

/* Handles every whole message buffered, unless the peer's output queue is
 * over its limit: then the rest waits until the peer reads (the transport
 * stops reading the peer too, so input stays bounded). */
static int process(struct xsd_conn *c)
{
	char msg[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX + 1];
	struct xsd_sockmsg hdr;

	while (!xsd_conn_throttled(c) && evbuffer_get_length(c->in) >= sizeof(hdr)) {
		evbuffer_copyout(c->in, &hdr, sizeof(hdr));
		if (hdr.len > XENSTORE_PAYLOAD_MAX)
			return -E2BIG;
		if (evbuffer_get_length(c->in) < sizeof(hdr) + hdr.len)
			break;
		evbuffer_remove(c->in, msg, sizeof(hdr) + hdr.len);
		msg[sizeof(hdr) + hdr.len] = '\0';
		xsd_dispatch(c, &hdr, msg + sizeof(hdr));
	}
	return 0;
}

int xsd_conn_input(struct xsd_conn *c, const void *buf, size_t len)
{
	if (len && evbuffer_add(c->in, buf, len) < 0)
		return -ENOMEM;
	return process(c);
}

struct evbuffer *xsd_conn_output(struct xsd_conn *c)
{
	return c->out;
}

unsigned xsd_conn_domid(const struct xsd_conn *c)
{
	return c->domid;
}

uint64_t xsd_conn_dropped_events(const struct xsd_conn *c)
{
	return c->dropped;
}

struct xsd_domain *xsd_dom_get(struct xsd *s, unsigned domid, bool create)
{
	for (size_t i = 0; i < s->ndoms; i++)
		if (s->doms[i].domid == domid)
			return &s->doms[i];
	if (!create)
		return NULL;
	if (s->ndoms == s->capdoms) {
		s->capdoms = s->capdoms ? s->capdoms * 2 : 8;
		s->doms = xsd_xrealloc(s->doms, s->capdoms, sizeof(*s->doms));
	}
	s->doms[s->ndoms] = (struct xsd_domain){ .domid = domid, .target = ~0u };
	return &s->doms[s->ndoms++];
}

int xsd_domains(struct xsd *s, unsigned **out, size_t *n)
{
	*out = xsd_xrealloc(NULL, s->ndoms, sizeof(**out));
	*n = 0;
	for (size_t i = 0; i < s->ndoms; i++)
		if (s->doms[i].introduced)
			(*out)[(*n)++] = s->doms[i].domid;
	return 0;
}

/* Removes the nodes DOMID owns (with their subtrees) and its entries in
 * other nodes' permissions, so a domain reusing the id inherits nothing. */
static void scrub(struct xsd *s, struct xsd_node *n, unsigned domid)
{
	for (unsigned i = 0; i < n->nkids;) {
		struct xsd_node *k = n->kids[i];

		if (k->perms.p[0].domid == domid) {
			char path[XENSTORE_ABS_PATH_MAX + 64];
			struct xsd_perms perms;

			xsd_node_path(k, path, sizeof(path));
			xsd_perms_copy(&k->perms, &perms);
			n->gen = ++s->gen;
			xsd_node_remove(&s->main, k);
			xsd_fire(s, path, true, &perms);
			xsd_perms_dispose(&perms);
			continue;
		}
		for (unsigned j = 1; j < k->perms.n;) {
			if (k->perms.p[j].domid == domid) {
				memmove(&k->perms.p[j], &k->perms.p[j + 1],
				        (k->perms.n - j - 1) * sizeof(k->perms.p[0]));
				k->perms.n--;
				k->gen = ++s->gen;
			} else {
				j++;
			}
		}
		scrub(s, k, domid);
		i++;
	}
}

void xsd_domain_released(struct xsd *s, unsigned domid)
{
	struct xsd_conn *c;

	if (s->host.release)
		s->host.release(s->host.arg, domid);
	/* Connections the host keeps (a socket acting as the domain) lose what
	 * they had set up as that domain. */
	TAILQ_FOREACH(c, &s->conns, link)
	{
		if (c->domid != domid)
			continue;
		xsd_watches_reset(c);
		while (!LIST_EMPTY(&c->txs))
			xsd_tx_free(c, LIST_FIRST(&c->txs));
	}
	if (domid != 0)
		scrub(s, s->main.root, domid);
	for (size_t i = 0; i < s->ndoms; i++) {
		if (s->doms[i].domid == domid) {
			s->doms[i] = s->doms[--s->ndoms];
			break;
		}
	}
	for (size_t i = 0; i < s->main.nacct; i++)
		if (s->main.acct[i].domid == domid)
			s->main.acct[i].nodes = 0;
	xsd_fire(s, "@releaseDomain", false, &s->special[XSD_SPECIAL_RELEASE]);
}
