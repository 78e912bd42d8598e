/* Watches: a (path, token) pair fires for changes at the path or anywhere
 * below it, and for the deletion of an ancestor. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "bulkhead/xs_wire.h"
#include "xenstored/xsd_int.h"

int xsd_watch_add(struct xsd_conn *c, const char *path, const char *token, bool relative)
{
	struct xsd_watch *w;
	struct xsd_domain *d = xsd_dom_get(c->s, c->domid, true);

	LIST_FOREACH(w, &c->watches, link)
	if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0)
		return -EEXIST;
	if (!c->priv && d->nwatches >= c->s->q.watches)
		return -E2BIG; /* 4.17's answer to the watch quota */
	w = calloc(1, sizeof(*w));
	if (!w)
		abort();
	w->path = xsd_xstrdup(path);
	w->token = xsd_xstrdup(token);
	w->relative = relative;
	LIST_INSERT_HEAD(&c->watches, w, link);
	d->nwatches++;
	return 0;
}

static void watch_free(struct xsd_conn *c, struct xsd_watch *w)
{
	struct xsd_domain *d = xsd_dom_get(c->s, c->domid, false);

	if (d && d->nwatches)
		d->nwatches--;
	LIST_REMOVE(w, link);
	free(w->path);
	free(w->token);
	free(w);
}

int xsd_watch_del(struct xsd_conn *c, const char *path, const char *token)
{
	struct xsd_watch *w;

	LIST_FOREACH(w, &c->watches, link)
	{
		if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0) {
			watch_free(c, w);
			return 0;
		}
	}
	return -ENOENT;
}

void xsd_watches_reset(struct xsd_conn *c)
{
	while (!LIST_EMPTY(&c->watches))
		watch_free(c, LIST_FIRST(&c->watches));
}

/* Queues the event unless the connection's output is over its limit: a
 * peer that does not read cannot make the store hold its events forever.
 * Dropped events are counted (clients must re-read after any event). */
void xsd_watch_event(struct xsd_conn *c, const struct xsd_watch *w, const char *path)
{
	struct xsd_sockmsg hdr = { .type = XS_WATCH_EVENT };
	char buf[XENSTORE_PAYLOAD_MAX];
	size_t plen, tlen;

	if (w->relative) {
		char home[40];
		int hl = snprintf(home, sizeof(home), "/local/domain/%u/", c->domid);

		if (strncmp(path, home, (size_t)hl) == 0)
			path += hl;
	}
	plen = strlen(path) + 1;
	tlen = strlen(w->token) + 1;
	if (plen + tlen > sizeof(buf))
		return;
	if (evbuffer_get_length(c->out) >= c->s->q.out_queue) {
		c->dropped++;
		return;
	}
	memcpy(buf, path, plen);
	memcpy(buf + plen, w->token, tlen);
	xsd_reply(c, &hdr, XS_WATCH_EVENT, buf, plen + tlen);
}

/* Is A equal to B or below it? */
static bool at_or_below(const char *a, const char *b)
{
	size_t l = strlen(b);

	if (strcmp(b, "/") == 0)
		return a[0] == '/';
	return strncmp(a, b, l) == 0 && (a[l] == '\0' || a[l] == '/');
}

void xsd_fire(struct xsd *s, const char *path, bool recursive, const struct xsd_perms *perms)
{
	struct xsd_conn *c;
	struct xsd_watch *w;

	TAILQ_FOREACH(c, &s->conns, link)
	{
		struct xsd_ctx x = { .s = s, .c = c, .t = &s->main, .check = true };

		if (!(xsd_perm_for(&x, perms) & XS_PERM_READ))
			continue;
		LIST_FOREACH(w, &c->watches, link)
		{
			if (path[0] == '@' || w->path[0] == '@') {
				if (strcmp(path, w->path) == 0)
					xsd_watch_event(c, w, path);
			} else if (at_or_below(path, w->path)) {
				xsd_watch_event(c, w, path);
			} else if (recursive && at_or_below(w->path, path)) {
				xsd_watch_event(c, w, w->path);
			}
		}
	}
}
