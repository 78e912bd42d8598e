/* The console daemon inside bulkhead-dom0 (see dom0_console.h). */
#include <errno.h>
#include <stdlib.h>

#include "consoled/consoled.h"
#include "toolstack/dom0_console.h"

struct dom0_console {
	struct consoled *cd;
};

int dom0_console_start(struct event_base *base, const char *logdir, const char *socket,
                       struct dom0_console **out)
{
	struct dom0_console *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
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

	/* A restart re-adds with a new port: the old binding is gone. */
	consoled_remove_domain(c->cd, domid, NULL);
	consoled_add_domain(c->cd, domid, name, port);
}

static void remove_dom(void *arg, uint16_t domid, const char *why)
{
	struct dom0_console *c = arg;

	consoled_remove_domain(c->cd, domid, why);
}

void dom0_console_hook(struct dom0_console *c, struct bhtool_console_ops *ops)
{
	ops->add = add;
	ops->remove = remove_dom;
	ops->arg = c;
}

void dom0_console_stop(struct dom0_console *c)
{
	if (!c)
		return;
	consoled_free(c->cd);
	free(c);
}
