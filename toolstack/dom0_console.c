/* The console daemon inside bulkhead-dom0 (see dom0_console.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/util.h"
#include "consoled/consoled.h"
#include "toolstack/dom0_console.h"

/* A restarted domain's console is taken up again READD_MS later, from the
 * loop: its calls to the core (the old ring let go, the new one mapped
 * and bound) came in the millisecond when the new generation makes its
 * own calls to connect its guests. */
#define READD_MS 10

struct readd {
	struct dom0_console *c;
	struct event *ev;
	uint16_t domid;
	uint32_t port;
	char name[64];
	struct readd *next;
};

struct dom0_console {
	struct consoled *cd;
	struct event_base *base;
	struct readd *pending;
};

static void readd_free(struct dom0_console *c, struct readd *r)
{
	for (struct readd **pp = &c->pending; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	event_free(r->ev);
	free(r);
}

static struct readd *readd_find(struct dom0_console *c, uint16_t domid)
{
	for (struct readd *r = c->pending; r; r = r->next)
		if (r->domid == domid)
			return r;
	return NULL;
}

static void on_readd(evutil_socket_t fd, short what, void *arg)
{
	struct readd *r = arg;
	struct dom0_console *c = r->c;

	consoled_remove_domain(c->cd, r->domid, "restarting");
	consoled_add_domain(c->cd, r->domid, r->name, r->port);
	readd_free(c, r);
}

int dom0_console_start(struct event_base *base, const char *logdir, const char *socket,
                       struct dom0_console **out)
{
	struct dom0_console *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	c->base = base;
	if ((rc = consoled_create(base, logdir, socket, &c->cd)) < 0) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

static void add(void *arg, uint16_t domid, const char *name, uint32_t port)
{
	struct dom0_console *c = arg;
	struct readd *r = readd_find(c, domid);

	if (r)
		readd_free(c, r);

	/* A restart re-adds with a new port: the old binding is gone. */
	consoled_remove_domain(c->cd, domid, NULL);
	consoled_add_domain(c->cd, domid, name, port);
}

static void remove_dom(void *arg, uint16_t domid, const char *why)
{
	struct dom0_console *c = arg;
	struct readd *r = readd_find(c, domid);

	if (r)
		readd_free(c, r);

	consoled_remove_domain(c->cd, domid, why);
}

static void restarted(void *arg, uint16_t domid, const char *name, uint32_t port)
{
	struct dom0_console *c = arg;
	struct readd *r = readd_find(c, domid);
	struct timeval tv = { 0, READD_MS * 1000 };

	if (!r && (r = calloc(1, sizeof(*r)))) {
		r->c = c;
		r->domid = domid;
		if (!(r->ev = evtimer_new(c->base, on_readd, r))) {
			free(r);
			r = NULL;
		} else {
			r->next = c->pending;
			c->pending = r;
		}
	}
	if (!r || evtimer_add(r->ev, &tv) < 0) {
		if (r)
			readd_free(c, r);
		consoled_remove_domain(c->cd, domid, "restarting");
		consoled_add_domain(c->cd, domid, name, port);
		return;
	}
	r->port = port; /* a second restart meanwhile: its port */
	bh_strlcpy(r->name, name, sizeof(r->name));
}

void dom0_console_hook(struct dom0_console *c, struct bhtool_console_ops *ops)
{
	ops->add = add;
	ops->remove = remove_dom;
	ops->restarted = restarted;
	ops->arg = c;
}

void dom0_console_stop(struct dom0_console *c)
{
	if (!c)
		return;
	while (c->pending)
		readd_free(c, c->pending);
	consoled_free(c->cd);
	free(c);
}
