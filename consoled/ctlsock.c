/* The control socket: one request line per connection, then either a reply
 * and close, or (attach) raw bytes both ways until one side goes.
 *
 *   attach TARGET           "ok\n", then raw; one client per console
 *   tail TARGET [LINES]     "ok\n", the log's last LINES lines (0: all), close
 *   list                    "ok\n", "DOMID NAME STATE ATTACHED" lines, close
 *   add DOMID NAME PORT     control verbs (allow_control only): "ok\n", close
 *   remove DOMID [REASON]
 *   rename DOMID NAME
 *
 * TARGET is a domid or a name. Failures answer "error: TEXT\n" and close.
 * The socket is mode 0600: its owner (dom0) and the host's root. A client
 * that cannot keep up loses output (never the log, never the guest's
 * progress) and is told how much. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/util.h"
#include "consoled/consoled_priv.h"

#define REQ_MAX         256
#define CLIENT_OUT_MAX  (256 * 1024) /* output queued for a client before we drop */
#define TAIL_MAX_BYTES  (4 << 20)    /* tail reads at most the log's last 4 MiB */
#define MAX_ARGS        4
#define CLOSE_TIMEOUT_S 10 /* a closing client that does not read is dropped */
#define REQ_TIMEOUT_S   30 /* and one that never finishes its request line */

enum cl_state { CL_REQUEST, CL_ATTACHED, CL_CLOSING };

struct cons_client {
	struct consoled *cd;
	struct bufferevent *bev;
	struct cons_dom *dom; /* while attached */
	enum cl_state st;
	size_t dropped;
	struct cons_client *next;
};

/* ---- client lifetime ------------------------------------------------- */

static void client_free(struct cons_client *c)
{
	struct cons_client **pp;

	for (pp = &c->cd->clients; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
	if (c->dom)
		c->dom->client = NULL;
	bufferevent_free(c->bev);
	free(c);
}

/* Close once what we queued has been written (in on_write, never here:
 * callers still hold c). */
static void client_finish(struct cons_client *c)
{
	struct timeval give_up = { CLOSE_TIMEOUT_S, 0 };

	c->st = CL_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_set_timeouts(c->bev, NULL, &give_up);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		bufferevent_trigger(c->bev, EV_WRITE,
		                    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

static void reply_error(struct cons_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void reply_error(struct cons_client *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	evbuffer_add_printf(out, "error: ");
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add_printf(out, "\n");
	client_finish(c);
}

static void reply_ok(struct cons_client *c)
{
	evbuffer_add_printf(bufferevent_get_output(c->bev), "ok\n");
}

void ctl_client_output(struct cons_client *c, const char *buf, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->st != CL_ATTACHED)
		return;
	if (evbuffer_get_length(out) > CLIENT_OUT_MAX) {
		c->dropped += len;
		return;
	}
	evbuffer_add(out, buf, len);
}

void ctl_client_close(struct cons_client *c, const char *why)
{
	evbuffer_add_printf(bufferevent_get_output(c->bev), "\r\n[%s]\r\n", why);
	if (c->dom)
		c->dom->client = NULL;
	c->dom = NULL;
	client_finish(c);
}

void ctl_client_pause(struct cons_client *c)
{
	bufferevent_disable(c->bev, EV_READ);
}

void ctl_client_resume(struct cons_client *c)
{
	if (c->st == CL_ATTACHED)
		bufferevent_enable(c->bev, EV_READ);
}

/* ---- requests ---------------------------------------------------------- */

struct req {
	char *argv[MAX_ARGS];
	int argc;
	const char *rest; /* text after argv[1], for remove's reason */
};

static int parse_domid(const char *s, uint16_t *out)
{
	long v = 0;
	int rc = bh_parse_int(s, 10, 0, BH_DOMID_MAX, &v);

	*out = (uint16_t)v;
	return rc;
}

static void req_attach(struct cons_client *c, struct req *r)
{
	struct cons_dom *d = cons_dom_lookup(c->cd, r->argv[1]);

	if (!d) {
		reply_error(c, "no console for %s", r->argv[1]);
		return;
	}
	if (d->state != CONSOLED_RUNNING) {
		reply_error(c, "console of %u is stopped (the domain corrupted its ring)",
		            d->domid);
		return;
	}
	if (d->client) {
		reply_error(c, "console of %u already in use", d->domid);
		return;
	}
	reply_ok(c);
	bufferevent_set_timeouts(c->bev, NULL, NULL); /* a console may sit idle */
	c->st = CL_ATTACHED;
	c->dom = d;
	d->client = c;
	bh_info(&d->lg, "client attached");
}

/* The last `lines` lines of a file (0: all, up to TAIL_MAX_BYTES). */
static int tail_file(const char *path, unsigned lines, struct evbuffer *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	ssize_t r;
	size_t len, start;
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	len = (size_t)BH_MIN((uint64_t)st.st_size, (uint64_t)TAIL_MAX_BYTES);
	if (!(buf = malloc(len ? len : 1))) {
		rc = -ENOMEM;
		goto out;
	}
	r = pread(fd, buf, len, st.st_size - (off_t)len);
	if (r < 0) {
		rc = -errno;
		goto out;
	}
	len = (size_t)r;
	start = 0;
	if (lines) {
		/* Walk back over `lines` newlines, ignoring a final one. */
		size_t i = len && buf[len - 1] == '\n' ? len - 1 : len;
		unsigned seen = 0;
		while (i > 0 && seen < lines)
			if (buf[--i] == '\n' && ++seen == lines)
				start = i + 1;
	}
	evbuffer_add(out, buf + start, len - start);
out:
	free(buf);
	close(fd);
	return rc;
}

static void req_tail(struct cons_client *c, struct req *r)
{
	struct cons_dom *d = cons_dom_lookup(c->cd, r->argv[1]);
	struct evbuffer *tmp = evbuffer_new();
	char path[512];
	long lines = 0;
	int rc;

	if (!tmp) {
		reply_error(c, "out of memory");
		return;
	}
	if (r->argc > 2 && bh_parse_int(r->argv[2], 10, 0, 1 << 24, &lines) < 0) {
		evbuffer_free(tmp);
		{
			reply_error(c, "bad line count %s", r->argv[2]);
			return;
		}
	}
	if (d)
		bh_strlcpy(path, d->log.path, sizeof(path));
	else if (cons_log_path(c->cd->logdir, r->argv[1], path, sizeof(path)) < 0) {
		evbuffer_free(tmp);
		{
			reply_error(c, "no console for %s", r->argv[1]);
			return;
		}
	}
	if ((rc = tail_file(path, (unsigned)lines, tmp)) < 0) {
		evbuffer_free(tmp);
		{
			reply_error(c, "no log for %s: %s", r->argv[1], bh_strerror(rc));
			return;
		}
	}
	reply_ok(c);
	evbuffer_add_buffer(bufferevent_get_output(c->bev), tmp);
	evbuffer_free(tmp);
	client_finish(c);
}

static void req_list(struct cons_client *c, struct req *r)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	(void)r;
	reply_ok(c);
	for (struct cons_dom *d = c->cd->doms; d; d = d->next)
		evbuffer_add_printf(out, "%u %s %s %s\n", d->domid, d->name,
		                    d->state == CONSOLED_RUNNING ? "running" : "stopped",
		                    d->client ? "attached" : "-");
	client_finish(c);
}

static void answer(struct cons_client *c, int rc)
{
	if (rc < 0) {
		reply_error(c, "%s", bh_strerror(rc));
		return;
	}
	reply_ok(c);
	client_finish(c);
}

static void req_add(struct cons_client *c, struct req *r)
{
	uint16_t domid;
	long port;

	if (parse_domid(r->argv[1], &domid) < 0 ||
	    bh_parse_int(r->argv[3], 10, 1, UINT32_MAX, &port) < 0) {
		reply_error(c, "usage: add DOMID NAME PORT");
		return;
	}
	answer(c, consoled_add_domain(c->cd, domid, r->argv[2], (uint32_t)port));
}

static void req_remove(struct cons_client *c, struct req *r)
{
	uint16_t domid;

	if (parse_domid(r->argv[1], &domid) < 0) {
		reply_error(c, "usage: remove DOMID [REASON]");
		return;
	}
	answer(c, consoled_remove_domain(c->cd, domid, r->rest));
}

static void req_rename(struct cons_client *c, struct req *r)
{
	uint16_t domid;

	if (parse_domid(r->argv[1], &domid) < 0) {
		reply_error(c, "usage: rename DOMID NAME");
		return;
	}
	answer(c, consoled_rename_domain(c->cd, domid, r->argv[2]));
}

static const struct {
	const char *verb;
	int min_args; /* including the verb */
	bool control; /* only with allow_control */
	void (*fn)(struct cons_client *c, struct req *r);
} verbs[] = {
	{ "attach", 2, false, req_attach }, { "tail", 2, false, req_tail },
	{ "list", 1, false, req_list },     { "add", 4, true, req_add },
	{ "remove", 2, true, req_remove },  { "rename", 3, true, req_rename },
};

static int split(char *p, char **argv, int max)
{
	int n = 0;

	while (n < max) {
		p += strspn(p, " \t\r");
		if (!*p)
			break;
		argv[n++] = p;
		p += strcspn(p, " \t\r");
		if (*p)
			*p++ = '\0';
	}
	return n;
}

/* After the first two words, kept whole (remove's reason). */
static void rest_of(const char *line, char *buf, size_t cap)
{
	const char *q = line;

	for (int i = 0; i < 2; i++) {
		q += strspn(q, " \t\r");
		q += strcspn(q, " \t\r");
	}
	q += strspn(q, " \t\r");
	bh_strlcpy(buf, q, cap);
	for (size_t n = strlen(buf); n && (buf[n - 1] == '\r' || buf[n - 1] == ' '); n--)
		buf[n - 1] = '\0';
}

/* Every handler queues a reply before it finishes the client, so the
 * client outlives this call; it is freed from on_write. */
static void handle_request(struct cons_client *c, char *line)
{
	char rest[REQ_MAX + 1];
	struct req r = { .rest = rest };

	rest_of(line, rest, sizeof(rest));
	r.argc = split(line, r.argv, MAX_ARGS);
	if (r.argc == 0) {
		reply_error(c, "empty request");
		return;
	}
	for (size_t i = 0; i < BH_ARRAY_SIZE(verbs); i++) {
		if (strcmp(verbs[i].verb, r.argv[0]) != 0)
			continue;
		if (verbs[i].control && !c->cd->o.allow_control) {
			reply_error(c, "%s is not allowed here", r.argv[0]);
			return;
		}
		if (r.argc < verbs[i].min_args) {
			reply_error(c, "%s needs %d arguments", r.argv[0], verbs[i].min_args - 1);
			return;
		}
		{
			verbs[i].fn(c, &r);
			return;
		}
	}
	reply_error(c, "unknown request");
}

/* ---- the connection ------------------------------------------------- */

static void on_read(struct bufferevent *bev, void *arg)
{
	struct cons_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->st == CL_REQUEST) {
		size_t n;
		char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
		if (!line) {
			if (evbuffer_get_length(in) > REQ_MAX)
				reply_error(c, "request too long");
			return;
		}
		if (n > REQ_MAX || memchr(line, '\0', n)) {
			free(line);
			{
				reply_error(c, "bad request");
				return;
			}
		}
		handle_request(c, line);
		free(line);
		if (c->st != CL_ATTACHED || !evbuffer_get_length(in))
			return;
		/* typed ahead of the "ok": input */
	}
	if (c->st == CL_ATTACHED && c->dom) {
		evbuffer_add_buffer(c->dom->input, in);
		cons_dom_service(c->dom);
		return;
	}
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct cons_client *c = arg;

	if (c->st == CL_CLOSING) {
		client_free(c);
		return;
	}
	if (c->dropped) {
		evbuffer_add_printf(
		    bufferevent_get_output(bev),
		    "\r\n[consoled: %zu bytes of output skipped; the log has them]\r\n",
		    c->dropped);
		c->dropped = 0;
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct cons_client *c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (c->dom)
			bh_info(&c->dom->lg, "client detached");
		client_free(c);
	}
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct consoled *cd = arg;
	struct cons_client *c;
	int s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)what;
	if (s < 0)
		return;
	if (!(c = calloc(1, sizeof(*c))) ||
	    !(c->bev = bufferevent_socket_new(cd->base, s, BEV_OPT_CLOSE_ON_FREE))) {
		free(c);
		close(s);
		return;
	}
	c->cd = cd;
	c->st = CL_REQUEST;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_set_timeouts(c->bev, &(struct timeval){ REQ_TIMEOUT_S, 0 }, NULL);
	bufferevent_enable(c->bev, EV_READ);
	c->next = cd->clients;
	cd->clients = c;
}

int ctl_listen(struct consoled *cd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int rc;

	if (strlen(cd->sock_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, cd->sock_path);
	/* A socket left by an earlier daemon; never remove anything else. */
	if (lstat(cd->sock_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(cd->sock_path);
	cd->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cd->listen_fd < 0 || bind(cd->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(cd->sock_path, 0600) < 0 || listen(cd->listen_fd, 16) < 0) {
		rc = -errno;
		bh_err(&cd->lg, "control socket %s: %s", cd->sock_path, bh_strerror(rc));
		return rc;
	}
	cd->listen_ev = event_new(cd->base, cd->listen_fd, EV_READ | EV_PERSIST, on_accept, cd);
	if (!cd->listen_ev || event_add(cd->listen_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

void ctl_dispose(struct consoled *cd)
{
	while (cd->clients)
		client_free(cd->clients);
	if (cd->listen_ev)
		event_free(cd->listen_ev);
	cd->listen_ev = NULL;
	if (cd->listen_fd >= 0 && cd->sock_path)
		unlink(cd->sock_path);
	bh_closep(&cd->listen_fd);
}
