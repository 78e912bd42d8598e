/* bhconsoled: the domains it serves.
 *
 * Per domain: the mapped ring page, our end of the console event channel,
 * the log and at most one attached client. When the guest notifies (or a
 * client types), cons_dom_service() drains `out` into the log and the
 * client and moves pending input into `in`, then kicks the guest once. A
 * guest that keeps the ring full gets a bounded share per loop turn; the
 * rest follows on the next turn, so one guest cannot starve the others. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "common/consring.h"
#include "common/util.h"
#include "consoled/consoled_priv.h"

#define DRAIN_PER_TURN (64 * 1024) /* bytes of output per domain per loop turn */
#define INPUT_HIGH     4096        /* stop reading the client above this */

struct cons_dom *cons_dom_find(struct consoled *cd, uint16_t domid)
{
	for (struct cons_dom *d = cd->doms; d; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

struct cons_dom *cons_dom_lookup(struct consoled *cd, const char *target)
{
	long id;

	if (bh_parse_int(target, 10, 0, BH_DOMID_MAX, &id) == 0)
		return cons_dom_find(cd, (uint16_t)id);
	for (struct cons_dom *d = cd->doms; d; d = d->next)
		if (strcmp(d->name, target) == 0)
			return d;
	return NULL;
}

enum consoled_state consoled_domain_state(struct consoled *cd, uint16_t domid)
{
	struct cons_dom *d = cons_dom_find(cd, domid);

	return d ? d->state : CONSOLED_NONE;
}

bool consoled_domain_attached(struct consoled *cd, uint16_t domid)
{
	struct cons_dom *d = cons_dom_find(cd, domid);

	return d && d->client;
}

size_t consoled_domains(struct consoled *cd, uint16_t *ids, size_t cap)
{
	size_t n = 0;

	for (struct cons_dom *d = cd->doms; d; d = d->next, n++)
		if (n < cap)
			ids[n] = d->domid;
	return n;
}

/* ---- the ring --------------------------------------------------------- */

/* Let go of the page and the port (idempotent). */
static void release_ring(struct cons_dom *d)
{
	struct consoled *cd = d->cd;

	if (d->ev) {
		event_free(d->ev);
		d->ev = NULL;
	}
	if (d->evfd >= 0) {
		cd->ops.unbind(cd->ops.arg, d->local, d->evfd);
		d->evfd = -1;
	}
	if (d->page) {
		cd->ops.unmap_ring(cd->ops.arg, d->domid, d->page);
		d->page = NULL;
		d->intf = NULL;
	}
}

/* Corrupt indices: this console stops; the daemon and the others go on. */
static void stop_broken(struct cons_dom *d, const char *which)
{
	char note[160];

	bh_err(&d->lg, "corrupt %s ring indices: console stopped", which);
	snprintf(note, sizeof(note), "console stopped: the domain corrupted its %s ring indices",
	         which);
	cons_log_note(&d->log, note);
	d->state = CONSOLED_BROKEN;
	release_ring(d);
	if (d->client)
		ctl_client_close(d->client, "console stopped: corrupt ring");
}

static void emit(struct cons_dom *d, const char *buf, size_t len)
{
	struct timespec now;
	int rc;

	clock_gettime(CLOCK_REALTIME, &now);
	rc = cons_log_write(&d->log, buf, len, &now);
	/* say so when writing starts or stops failing, not for every chunk */
	if (rc < 0 && !d->log_failing)
		bh_warn(&d->lg, "writing %s: %s (output is being lost)", d->log.path,
		        bh_strerror(rc));
	else if (rc == 0 && d->log_failing)
		bh_info(&d->lg, "writing %s works again", d->log.path);
	d->log_failing = rc < 0;
	if (d->client)
		ctl_client_output(d->client, buf, len);
}

/* Drain `out`. Returns bytes moved, or -EIO (the console is stopped). */
static ssize_t drain_out(struct cons_dom *d, bool *more)
{
	char buf[BH_CONS_OUT_SIZE];
	size_t total = 0;
	ssize_t n;

	*more = false;
	while ((n = bh_cons_back_read(d->intf, buf, sizeof(buf))) > 0) {
		emit(d, buf, (size_t)n);
		total += (size_t)n;
		if (total >= DRAIN_PER_TURN) {
			*more = true;
			break;
		}
	}
	if (n < 0) {
		stop_broken(d, "output");
		return n;
	}
	return (ssize_t)total;
}

/* Move pending client input into `in`. Returns bytes moved or -EIO. */
static ssize_t feed_in(struct cons_dom *d)
{
	size_t pending = evbuffer_get_length(d->input);
	ssize_t n;

	if (!pending)
		return 0;
	size_t len = BH_MIN(pending, (size_t)BH_CONS_IN_SIZE);
	const char *p = (const char *)evbuffer_pullup(d->input, (ssize_t)len);
	n = bh_cons_back_write(d->intf, p, len);
	if (n < 0) {
		stop_broken(d, "input");
		return n;
	}
	evbuffer_drain(d->input, (size_t)n);
	if (d->client && evbuffer_get_length(d->input) < INPUT_HIGH)
		ctl_client_resume(d->client);
	return n;
}

void cons_dom_service(struct cons_dom *d)
{
	struct consoled *cd = d->cd;
	ssize_t out, in;
	bool more;

	if (d->state != CONSOLED_RUNNING)
		return;
	if ((out = drain_out(d, &more)) < 0 || (in = feed_in(d)) < 0)
		return;
	if ((out > 0 || in > 0) && cd->ops.notify(cd->ops.arg, d->local, d->evfd) < 0)
		bh_warn(&d->lg, "notify failed");
	if (d->client && evbuffer_get_length(d->input) >= INPUT_HIGH)
		ctl_client_pause(d->client);
	if (more)
		event_active(d->ev, EV_READ, 0);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct cons_dom *d = arg;

	(void)what;
	d->cd->ops.ack(d->cd->ops.arg, d->local, (int)fd);
	cons_dom_service(d);
}

/* ---- add, remove, rename ---------------------------------------------- */

static void dom_free(struct cons_dom *d)
{
	release_ring(d);
	cons_log_close(&d->log);
	if (d->input)
		evbuffer_free(d->input);
	free(d);
}

static int dom_setup(struct consoled *cd, struct cons_dom *d, uint32_t port)
{
	int rc;

	if ((rc = cons_log_open(&d->log, cd->logdir, d->name, cd->o.log_max_bytes,
	                        cd->o.log_keep)) < 0) {
		bh_err(&d->lg, "log %s/%s.log: %s", cd->logdir, d->name, bh_strerror(rc));
		return rc;
	}
	if ((rc = cd->ops.map_ring(cd->ops.arg, d->domid, &d->page)) < 0) {
		bh_err(&d->lg, "mapping the console ring: %s", bh_strerror(rc));
		return rc;
	}
	d->intf = d->page;
	if ((rc = cd->ops.bind(cd->ops.arg, d->domid, port, &d->local, &d->evfd)) < 0) {
		d->evfd = -1;
		bh_err(&d->lg, "binding console port %u: %s", port, bh_strerror(rc));
		return rc;
	}
	d->ev = event_new(cd->base, d->evfd, EV_READ | EV_PERSIST, on_kick, d);
	if (!d->ev || event_add(d->ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

int consoled_add_domain(struct consoled *cd, uint16_t domid, const char *name,
                        uint32_t console_port)
{
	struct cons_dom *d;
	int rc;

	if (domid > BH_DOMID_MAX || !name || !cons_name_ok(name) || console_port == 0)
		return -EINVAL;
	if (cons_dom_find(cd, domid))
		return -EEXIST;
	if (!(d = calloc(1, sizeof(*d))))
		return -ENOMEM;
	d->cd = cd;
	d->domid = domid;
	d->evfd = -1;
	d->state = CONSOLED_RUNNING;
	bh_strlcpy(d->name, name, sizeof(d->name));
	bh_log_init(&d->lg, "");
	bh_log_set_prefix(&d->lg, "%s/dom%u", cd->log_prefix, domid);
	cons_log_init(&d->log);
	if (!(d->input = evbuffer_new())) {
		dom_free(d);
		return -ENOMEM;
	}
	if ((rc = dom_setup(cd, d, console_port)) < 0) {
		dom_free(d);
		return rc;
	}
	d->next = cd->doms;
	cd->doms = d;
	bh_info(&d->lg, "serving the console of %s (port %u)", name, console_port);
	cons_dom_service(d); /* what the guest wrote before we came */
	return 0;
}

/* Last words, a note, the client told, then gone. */
static void dom_end(struct cons_dom **pp, const char *note)
{
	struct cons_dom *d = *pp;

	cons_dom_service(d);
	cons_log_note(&d->log, note);
	if (d->client)
		ctl_client_close(d->client, note);
	*pp = d->next;
	bh_info(&d->lg, "%s", note);
	dom_free(d);
}

int consoled_remove_domain(struct consoled *cd, uint16_t domid, const char *reason)
{
	struct cons_dom **pp;
	char note[128];

	for (pp = &cd->doms; *pp && (*pp)->domid != domid; pp = &(*pp)->next)
		;
	if (!*pp)
		return -ESRCH;
	snprintf(note, sizeof(note), "domain exited: %s", reason && *reason ? reason : "unknown");
	dom_end(pp, note);
	return 0;
}

int consoled_rename_domain(struct consoled *cd, uint16_t domid, const char *name)
{
	struct cons_dom *d = cons_dom_find(cd, domid);
	char note[128];
	int rc;

	if (!d)
		return -ESRCH;
	if (!name || !cons_name_ok(name))
		return -EINVAL;
	snprintf(note, sizeof(note), "renamed to %s", name);
	cons_log_note(&d->log, note);
	if ((rc = cons_log_open(&d->log, cd->logdir, name, cd->o.log_max_bytes, cd->o.log_keep)) <
	    0) {
		bh_err(&d->lg, "log for %s: %s", name, bh_strerror(rc));
		return rc;
	}
	bh_strlcpy(d->name, name, sizeof(d->name));
	return 0;
}

/* ---- the daemon --------------------------------------------------------- */

static int mkdir_p(const char *dir)
{
	char path[512];

	if (bh_strlcpy(path, dir, sizeof(path)) >= sizeof(path))
		return -ENAMETOOLONG;
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(path, 0750) < 0 && errno != EEXIST ? -errno : 0;
}

int consoled_create_opts(struct event_base *base, const struct consoled_opts *o,
                         struct consoled **out)
{
	struct consoled *cd;
	int rc;

	*out = NULL;
	if (!base || !o->logdir || !*o->logdir)
		return -EINVAL;
	if (!(cd = calloc(1, sizeof(*cd))))
		return -ENOMEM;
	cd->base = base;
	cd->o = *o;
	cd->listen_fd = -1;
	cd->logdir = strdup(o->logdir);
	cd->sock_path = o->sock_path ? strdup(o->sock_path) : NULL;
	cd->log_prefix = strdup(o->log_prefix ? o->log_prefix : "consoled");
	bh_log_init(&cd->lg, cd->log_prefix ? cd->log_prefix : "consoled");
	if (!cd->logdir || !cd->log_prefix || (o->sock_path && !cd->sock_path)) {
		rc = -ENOMEM;
		goto fail;
	}
	if (o->ops)
		cd->ops = *o->ops;
	else if ((rc = cons_xen_new(&cd->ops)) < 0)
		goto fail;
	else
		cd->xen = cd->ops.arg;
	if ((rc = mkdir_p(cd->logdir)) < 0) {
		bh_err(&cd->lg, "log directory %s: %s", cd->logdir, bh_strerror(rc));
		goto fail;
	}
	if (cd->sock_path && (rc = ctl_listen(cd)) < 0)
		goto fail;
	*out = cd;
	return 0;
fail:
	consoled_free(cd);
	return rc;
}

int consoled_create(struct event_base *base, const char *logdir, const char *sock_path,
                    struct consoled **out)
{
	struct consoled_opts o = { .logdir = logdir, .sock_path = sock_path };

	return consoled_create_opts(base, &o, out);
}

void consoled_free(struct consoled *cd)
{
	if (!cd)
		return;
	while (cd->doms)
		dom_end(&cd->doms, "console daemon stopped");
	ctl_dispose(cd);
	if (cd->xen)
		cons_xen_free(&cd->ops);
	free(cd->logdir);
	free(cd->sock_path);
	free(cd->log_prefix);
	free(cd);
}
