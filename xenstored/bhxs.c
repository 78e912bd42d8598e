/* bhxs: the store client (see bhxs.h). One connection; requests are sent
 * one at a time and the reply awaited (or several at once, bhxs_pipeline),
 * queueing watch events that arrive in between. The transport is a Unix socket or a ring page. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bulkhead/xs_wire.h"
#include "xenstored/bhxs.h"
#include "xenstored/bhxs_int.h"

struct event_q {
	struct event_q *next;
	char *path, *token;
};

static const struct xsd_errors errtab[] = XSD_ERROR_TABLE;

static int err_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
		if (strcmp(errtab[i].errstring, name) == 0)
			return errtab[i].errnum;
	return EINVAL;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- socket transport ---- */

static int sock_send(struct bhxs *xs, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t r = send(xs->fd, p, len, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static ssize_t sock_recv(struct bhxs *xs, void *buf, size_t cap, int timeout_ms)
{
	struct pollfd pfd = { .fd = xs->fd, .events = POLLIN };
	ssize_t r;

	for (;;) {
		r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		r = recv(xs->fd, buf, cap, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EPIPE;
		return r;
	}
}

static const struct bhxs_transport sock_transport = { sock_send, sock_recv, NULL };

int bhxs_open_socket(const char *path, struct bhxs **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct bhxs *xs;
	const char *env = getenv("XENSTORED_PATH");
	int rc;

	if (!path)
		path = env && *env ? env : "/run/xenstored/socket";
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	if (!(xs = bhxs_alloc(&sock_transport)))
		return -ENOMEM;
	xs->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (xs->fd < 0 || connect(xs->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;

		bhxs_close(xs);
		return rc;
	}
	if ((rc = bhxs_poll_setup(xs, xs->fd)) < 0) {
		bhxs_close(xs);
		return rc;
	}
	*out = xs;
	return 0;
}

/* ---- common ---- */

int bhxs_domain_id(const struct bhxs *xs)
{
	return xs->domid;
}

struct bhxs *bhxs_alloc(const struct bhxs_transport *t)
{
	struct bhxs *xs = calloc(1, sizeof(*xs));

	if (!xs)
		return NULL;
	xs->t = t;
	xs->fd = xs->notify_fd = xs->event_fd = xs->evtchn_fd = -1;
	xs->domid = -1;
	xs->epfd = xs->qfd = -1;
	return xs;
}

void bhxs_close(struct bhxs *xs)
{
	if (!xs)
		return;
	while (xs->events) {
		struct event_q *e = xs->events;

		xs->events = e->next;
		free(e->path);
		free(e->token);
		free(e);
	}
	if (xs->t->close)
		xs->t->close(xs);
	if (xs->fd >= 0)
		close(xs->fd);
	if (xs->epfd >= 0)
		close(xs->epfd);
	if (xs->qfd >= 0)
		close(xs->qfd);
	free(xs->in);
	free(xs);
}

int bhxs_poll_setup(struct bhxs *xs, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	xs->epfd = epoll_create1(EPOLL_CLOEXEC);
	xs->qfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (xs->epfd < 0 || xs->qfd < 0)
		return -errno;
	if (epoll_ctl(xs->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ||
	    epoll_ctl(xs->epfd, EPOLL_CTL_ADD, xs->qfd, &ev) < 0)
		return -errno;
	return 0;
}

/* Readable when the transport has bytes or events are already queued (an
 * event that came in during a call must not leave a poll loop asleep). */
int bhxs_fd(const struct bhxs *xs)
{
	return xs->epfd;
}

static void queue_signal(struct bhxs *xs, bool nonempty)
{
	uint64_t v = 1;

	if (xs->qfd < 0)
		return;
	if (nonempty) {
		if (write(xs->qfd, &v, sizeof(v)) < 0) {
			/* already signalled */
		}
	} else if (read(xs->qfd, &v, sizeof(v)) < 0) {
		/* was not signalled */
	}
}

/* Reads until one whole message is buffered; TIMEOUT_MS as poll(2). */
static int read_msg(struct bhxs *xs, struct xsd_sockmsg *hdr, int timeout_ms)
{
	long deadline = timeout_ms < 0 ? 0 : now_ms() + timeout_ms;

	for (;;) {
		if (xs->inlen >= sizeof(*hdr)) {
			memcpy(hdr, xs->in, sizeof(*hdr));
			if (hdr->len > XENSTORE_PAYLOAD_MAX)
				return -EPROTO;
			if (xs->inlen >= sizeof(*hdr) + hdr->len)
				return 0;
		}
		if (xs->incap - xs->inlen < 8192) {
			xs->incap = xs->incap ? xs->incap * 2 : 16384;
			char *n = realloc(xs->in, xs->incap);
			if (!n)
				return -ENOMEM;
			xs->in = n;
		}
		int left = timeout_ms < 0 ? -1 : (int)BH_MAX(0, deadline - now_ms());
		ssize_t r = xs->t->recv(xs, xs->in + xs->inlen, xs->incap - xs->inlen, left);
		if (r < 0)
			return (int)r;
		xs->inlen += (size_t)r;
	}
}

/* Takes the buffered message's payload (malloc'd, NUL added). */
static char *take_msg(struct bhxs *xs, const struct xsd_sockmsg *hdr)
{
	char *p = malloc(hdr->len + 1);
	size_t total = sizeof(*hdr) + hdr->len;

	if (p) {
		memcpy(p, xs->in + sizeof(*hdr), hdr->len);
		p[hdr->len] = '\0';
	}
	memmove(xs->in, xs->in + total, xs->inlen - total);
	xs->inlen -= total;
	return p;
}

static void queue_event(struct bhxs *xs, const char *payload, size_t len)
{
	size_t pl = strnlen(payload, len);
	struct event_q *e, **tail;

	if (pl + 1 >= len + 1)
		return; /* malformed: no token */
	if (!(e = calloc(1, sizeof(*e))))
		return;
	e->path = strdup(payload);
	e->token = strndup(payload + pl + 1, len - pl - 1);
	if (!e->path || !e->token) {
		free(e->path);
		free(e->token);
		free(e);
		return;
	}
	for (tail = &xs->events; *tail; tail = &(*tail)->next)
		;
	*tail = e;
	queue_signal(xs, true);
}

/* Frames one request into BUF (room for a header and XENSTORE_PAYLOAD_MAX). */
static int frame(struct xsd_sockmsg *h, char *buf, const struct iovec *iov, int niov)
{
	size_t len = 0;

	for (int i = 0; i < niov; i++) {
		if (len + iov[i].iov_len > XENSTORE_PAYLOAD_MAX)
			return -E2BIG;
		if (iov[i].iov_len)
			memcpy(buf + sizeof(*h) + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	h->len = (uint32_t)len;
	memcpy(buf, h, sizeof(*h));
	return (int)(sizeof(*h) + len);
}

/* The next reply (watch events that come first are queued): its header
 * in *R and payload in *P (malloc'd, NUL added). */
static int next_reply(struct bhxs *xs, struct xsd_sockmsg *r, char **p)
{
	int rc;

	for (;;) {
		if ((rc = read_msg(xs, r, -1)) < 0)
			return rc;
		if (!(*p = take_msg(xs, r)))
			return -ENOMEM;
		if (r->type != XS_WATCH_EVENT)
			return 0;
		queue_event(xs, *p, r->len);
		free(*p);
	}
}

/* A whole message (a reply or an event) is in the buffer: reading it does
 * not wait. */
static bool whole_msg_buffered(const struct bhxs *xs)
{
	struct xsd_sockmsg h;

	if (xs->inlen < sizeof(h))
		return false;
	memcpy(&h, xs->in, sizeof(h));
	return h.len <= XENSTORE_PAYLOAD_MAX && xs->inlen >= sizeof(h) + h.len;
}

/* Whole messages read along with a reply stay in the buffer, and the kick
 * that announced them is spent: a watch event among them would wait for
 * the next kick to be noticed by a poll loop on bhxs_fd(). So after each
 * call they are queued now (events), which makes bhxs_fd() readable. */
static void drain_buffered(struct bhxs *xs)
{
	struct xsd_sockmsg h;

	while (xs->inlen >= sizeof(h)) {
		char *p;

		memcpy(&h, xs->in, sizeof(h));
		if (h.len > XENSTORE_PAYLOAD_MAX || xs->inlen < sizeof(h) + h.len)
			return; /* the rest comes with its own kick; a bad one fails the next read */
		if (!(p = take_msg(xs, &h)))
			return;
		if (h.type == XS_WATCH_EVENT)
			queue_event(xs, p, h.len);
		free(p); /* a reply nobody waits for: dropped */
	}
}

/* One request and its reply: *REPLY (malloc'd, NUL-terminated) and
 * *RLEN, or a negative errno (the store's error names mapped back). */
int bhxs_talk(struct bhxs *xs, uint32_t type, bhxs_tx_t tx, const struct iovec *iov, int niov,
              char **reply, size_t *rlen)
{
	char buf[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	struct xsd_sockmsg h = { .type = type, .req_id = ++xs->req_id, .tx_id = tx }, r;
	int rc, len;
	char *p;

	if ((len = frame(&h, buf, iov, niov)) < 0)
		return len;
	if ((rc = xs->t->send(xs, buf, (size_t)len)) < 0)
		return rc;
	if ((rc = next_reply(xs, &r, &p)) < 0)
		return rc;
	drain_buffered(xs);
	if (r.type == XS_ERROR) {
		rc = -err_from_name(p);
		free(p);
		return rc;
	}
	if (r.type != type || r.req_id != h.req_id) {
		free(p);
		return -EPROTO;
	}
	if (reply) {
		*reply = p;
		if (rlen)
			*rlen = r.len;
	} else {
		free(p);
	}
	return 0;
}

/* ---- pipelined requests ----
 * Every request is sent without waiting for the one before; the store
 * answers a connection's requests in order, and replies are matched by
 * req_id. What may be outstanding is bounded so that the daemon never
 * holds more than half its output queue for us (docs/xenstore.md: a full
 * queue stops reading our requests and drops our watch events), and, on
 * a ring, never more requests than Xen's xenstored accepts at once from a
 * domain (quota-outstanding, 20). One send carries as many requests as fit, so a ring connection
 * kicks the daemon once for them all. */
#define PIPE_MAX_REQS      16
#define PIPE_MAX_REQS_SOCK 64 /* see pipe_max_reqs */
#define PIPE_MAX_BYTES     32768
#define PIPE_SEND_BUF      8192

/* Over the socket (dom0's tools: privileged, which Xen's xenstored exempts
 * from quota-outstanding, and our store enforces none) a bigger window: a
 * driver domain's restart writes ~70 keys in one transaction, and each
 * window of 16 was a round trip while its guests waited. */
static size_t pipe_max_reqs(const struct bhxs *xs)
{
	return xs->t == &sock_transport ? PIPE_MAX_REQS_SOCK : PIPE_MAX_REQS;
}

static size_t reply_budget(uint32_t type)
{
	/* A short reply ("OK", an error name) unless it carries data. */
	return type == XS_READ || type == XS_DIRECTORY || type == XS_GET_PERMS
	           ? sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX
	           : sizeof(struct xsd_sockmsg) + 32;
}

static int op_frame(const struct bhxs_op *op, bhxs_tx_t tx, uint32_t req_id, char *buf)
{
	struct xsd_sockmsg h = { .type = op->type, .req_id = req_id, .tx_id = tx };
	struct iovec iov[2] = { { (void *)op->path, strlen(op->path) + 1 },
		                { (void *)op->val, op->len } };

	switch (op->type) {
	case XS_TRANSACTION_START: /* PATH "" */
	case XS_RELEASE:           /* PATH the domid */
		h.tx_id = 0;       /* never inside a transaction */
		return frame(&h, buf, iov, 1);
	case XS_INTRODUCE: /* PATH the domid, VAL "gfn\0port\0" */
		h.tx_id = 0;
		return frame(&h, buf, iov, 2);
	case XS_TRANSACTION_END: /* PATH "T" or "F" */
	case XS_READ:
	case XS_DIRECTORY:
	case XS_GET_PERMS:
	case XS_MKDIR:
	case XS_RM:
		return frame(&h, buf, iov, 1);
	case XS_WRITE:
	case XS_SET_PERMS:
	case XS_WATCH: /* VAL the token, its NUL counted in LEN */
		return frame(&h, buf, iov, 2);
	default:
		return -EINVAL;
	}
}

int bhxs_pipeline(struct bhxs *xs, bhxs_tx_t tx, struct bhxs_op *ops, size_t n)
{
	char buf[PIPE_SEND_BUF + sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	uint32_t base = xs->req_id + 1;
	size_t sent = 0, done = 0, reqs = 0, bytes = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		ops[i].reply = NULL;
		ops[i].rlen = 0;
		ops[i].rc = 1; /* not answered yet */
	}
	while (done < n) {
		size_t used = 0;

		/* Frame what the window allows, then send it in one go; but
		 * the replies already here are taken first. Else each reply
		 * let one more request go, with its own kick, and the rest of
		 * a batch went by in ping-pong: a window of 7 reads (the byte
		 * budget's limit), then one request per round trip. */
		while (sent < n && reqs < pipe_max_reqs(xs) && !(reqs && whole_msg_buffered(xs)) &&
		       (reqs == 0 || bytes + reply_budget(ops[sent].type) <= PIPE_MAX_BYTES) &&
		       used < PIPE_SEND_BUF) {
			int len = op_frame(&ops[sent], tx, base + (uint32_t)sent, buf + used);

			if (len < 0) {
				ops[sent++].rc = len; /* not sent: answered here */
				continue;
			}
			used += (size_t)len;
			reqs++;
			bytes += reply_budget(ops[sent].type);
			sent++;
		}
		xs->req_id = base + (uint32_t)sent - 1;
		if (used && (rc = xs->t->send(xs, buf, used)) < 0)
			return rc;
		while (done < n && ops[done].rc != 1)
			done++;
		if (reqs == 0)
			continue;

		struct xsd_sockmsg r;
		char *p;
		size_t i;

		if ((rc = next_reply(xs, &r, &p)) < 0)
			return rc;
		i = r.req_id - base;
		if (r.req_id - base >= sent || ops[i].rc != 1 ||
		    (r.type != XS_ERROR && r.type != ops[i].type)) {
			free(p);
			return -EPROTO;
		}
		if (r.type == XS_ERROR) {
			ops[i].rc = -err_from_name(p);
			free(p);
		} else {
			ops[i].rc = 0;
			ops[i].reply = p;
			ops[i].rlen = r.len;
		}
		reqs--;
		bytes -= reply_budget(ops[i].type);
	}
	drain_buffered(xs);
	return 0;
}

int bhxs_pipeline_rc(const struct bhxs_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i].rc < 0)
			return ops[i].rc;
	return 0;
}

int bhxs_pipeline_run(struct bhxs *xs, bhxs_tx_t tx, struct bhxs_op *ops, size_t n)
{
	int rc = bhxs_pipeline(xs, tx, ops, n);

	if (rc == 0)
		rc = bhxs_pipeline_rc(ops, n);
	bhxs_pipeline_free(ops, n);
	return rc;
}

void bhxs_pipeline_free(struct bhxs_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ops[i].reply);
		ops[i].reply = NULL;
	}
}

static int talk_str(struct bhxs *xs, uint32_t type, bhxs_tx_t tx, const char *s, char **reply,
                    size_t *rlen)
{
	struct iovec iov = { (void *)s, strlen(s) + 1 };

	return bhxs_talk(xs, type, tx, &iov, 1, reply, rlen);
}

int bhxs_read(struct bhxs *xs, bhxs_tx_t tx, const char *path, char **val, size_t *len)
{
	return talk_str(xs, XS_READ, tx, path, val, len);
}

int bhxs_write(struct bhxs *xs, bhxs_tx_t tx, const char *path, const void *val, size_t len)
{
	struct iovec iov[2] = { { (void *)path, strlen(path) + 1 }, { (void *)val, len } };

	return bhxs_talk(xs, XS_WRITE, tx, iov, 2, NULL, NULL);
}

int bhxs_write_str(struct bhxs *xs, bhxs_tx_t tx, const char *path, const char *val)
{
	return bhxs_write(xs, tx, path, val, strlen(val));
}

int bhxs_printf(struct bhxs *xs, bhxs_tx_t tx, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n, rc;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	rc = bhxs_write(xs, tx, path, s, (size_t)n);
	free(s);
	return rc;
}

int bhxs_parse_uint(const char *v, unsigned long long *out)
{
	char *end;

	if (v[0] < '0' || v[0] > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return (errno || *end) ? -EINVAL : 0;
}

int bhxs_read_uint(struct bhxs *xs, bhxs_tx_t tx, const char *path, unsigned long long *out)
{
	char *v = NULL;
	int rc = bhxs_read(xs, tx, path, &v, NULL);

	if (rc < 0)
		return rc;
	rc = bhxs_parse_uint(v, out);
	free(v);
	return rc;
}

int bhxs_mkdir(struct bhxs *xs, bhxs_tx_t tx, const char *path)
{
	return talk_str(xs, XS_MKDIR, tx, path, NULL, NULL);
}

int bhxs_rm(struct bhxs *xs, bhxs_tx_t tx, const char *path)
{
	return talk_str(xs, XS_RM, tx, path, NULL, NULL);
}

/* Splits NUL-terminated strings into a malloc'd array. */
int bhxs_split_names(const char *p, size_t len, char ***names, size_t *n)
{
	size_t cnt = 0, i = 0;
	char **v;

	for (size_t off = 0; off < len; off += strnlen(p + off, len - off) + 1)
		cnt++;
	if (!(v = calloc(cnt ? cnt : 1, sizeof(*v))))
		return -ENOMEM;
	for (size_t off = 0; off < len && i < cnt; i++) {
		size_t l = strnlen(p + off, len - off);

		if (!(v[i] = strndup(p + off, l))) {
			bhxs_free_names(v, i);
			return -ENOMEM;
		}
		off += l + 1;
	}
	*names = v;
	*n = cnt;
	return 0;
}

void bhxs_free_names(char **names, size_t n)
{
	if (!names)
		return;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int bhxs_directory(struct bhxs *xs, bhxs_tx_t tx, const char *path, char ***names, size_t *n)
{
	char *r = NULL;
	size_t len = 0;
	int rc = talk_str(xs, XS_DIRECTORY, tx, path, &r, &len);

	if (rc < 0)
		return rc;
	rc = bhxs_split_names(r, len, names, n);
	free(r);
	return rc;
}

int bhxs_get_perms(struct bhxs *xs, bhxs_tx_t tx, const char *path, char ***perms, size_t *n)
{
	char *r = NULL;
	size_t len = 0;
	int rc = talk_str(xs, XS_GET_PERMS, tx, path, &r, &len);

	if (rc < 0)
		return rc;
	rc = bhxs_split_names(r, len, perms, n);
	free(r);
	return rc;
}

int bhxs_set_perms(struct bhxs *xs, bhxs_tx_t tx, const char *path, const char *const *perms,
                   size_t n)
{
	struct iovec iov[1 + 256];

	if (n == 0 || n > 256)
		return -EINVAL;
	iov[0] = (struct iovec){ (void *)path, strlen(path) + 1 };
	for (size_t i = 0; i < n; i++)
		iov[1 + i] = (struct iovec){ (void *)perms[i], strlen(perms[i]) + 1 };
	return bhxs_talk(xs, XS_SET_PERMS, tx, iov, (int)n + 1, NULL, NULL);
}

static int tx_id_parse(const char *r, bhxs_tx_t *tx);

int bhxs_transaction_start(struct bhxs *xs, bhxs_tx_t *tx)
{
	char *r = NULL;
	int rc = talk_str(xs, XS_TRANSACTION_START, 0, "", &r, NULL);

	if (rc < 0)
		return rc;
	rc = tx_id_parse(r, tx);
	free(r);
	return rc;
}

int bhxs_transaction_end(struct bhxs *xs, bhxs_tx_t tx, bool commit)
{
	return talk_str(xs, XS_TRANSACTION_END, tx, commit ? "T" : "F", NULL, NULL);
}

int bhxs_transaction_run(struct bhxs *xs, int (*fn)(struct bhxs *, bhxs_tx_t, void *), void *arg)
{
	int rc = -EAGAIN;

	for (int tries = 0; tries < 64 && rc == -EAGAIN; tries++) {
		bhxs_tx_t tx;

		if ((rc = bhxs_transaction_start(xs, &tx)) < 0)
			return rc;
		if ((rc = fn(xs, tx, arg)) < 0) {
			bhxs_transaction_end(xs, tx, false);
			if (rc != -EAGAIN)
				return rc;
			continue;
		}
		rc = bhxs_transaction_end(xs, tx, true);
	}
	return rc;
}

static int tx_id_parse(const char *r, bhxs_tx_t *tx)
{
	char *end;
	unsigned long v = strtoul(r, &end, 10);

	if (*end || !*r || v == 0 || v > UINT32_MAX)
		return -EPROTO;
	*tx = (bhxs_tx_t)v;
	return 0;
}

int bhxs_transaction_run_with(struct bhxs *xs, struct bhxs_op *before, size_t nb,
                              int (*fn)(struct bhxs *, bhxs_tx_t, void *), void *arg,
                              struct bhxs_op *after, size_t na)
{
	struct bhxs_op *ops = calloc(BH_MAX(nb, na) + 1, sizeof(*ops));
	bhxs_tx_t tx = 0;
	int rc, frc;

	if (!ops)
		return -ENOMEM;
	/* BEFORE, then the transaction's start: one round trip */
	memcpy(ops, before, nb * sizeof(*ops));
	ops[nb] = (struct bhxs_op){ .type = XS_TRANSACTION_START, .path = "" };
	if ((rc = bhxs_pipeline(xs, 0, ops, nb + 1)) < 0)
		goto out;
	memcpy(before, ops, nb * sizeof(*ops));
	rc = ops[nb].rc < 0 ? ops[nb].rc : tx_id_parse(ops[nb].reply, &tx);
	bhxs_pipeline_free(ops + nb, 1);
	if (rc < 0)
		goto out;
	/* FN, then the end (a commit unless FN failed) and AFTER: one more */
	frc = fn(xs, tx, arg);
	ops[0] = (struct bhxs_op){ .type = XS_TRANSACTION_END, .path = frc < 0 ? "F" : "T" };
	memcpy(ops + 1, after, na * sizeof(*ops));
	if ((rc = bhxs_pipeline(xs, tx, ops, na + 1)) < 0)
		goto out;
	memcpy(after, ops + 1, na * sizeof(*ops));
	rc = frc < 0 ? frc : ops[0].rc;
	bhxs_pipeline_free(ops, 1);
	if (rc == -EAGAIN) /* a conflict: again, as bhxs_transaction_run does */
		rc = bhxs_transaction_run(xs, fn, arg);
out:
	free(ops);
	return rc;
}

int bhxs_watch(struct bhxs *xs, const char *path, const char *token)
{
	struct iovec iov[2] = { { (void *)path, strlen(path) + 1 },
		                { (void *)token, strlen(token) + 1 } };

	return bhxs_talk(xs, XS_WATCH, 0, iov, 2, NULL, NULL);
}

int bhxs_unwatch(struct bhxs *xs, const char *path, const char *token)
{
	struct iovec iov[2] = { { (void *)path, strlen(path) + 1 },
		                { (void *)token, strlen(token) + 1 } };

	return bhxs_talk(xs, XS_UNWATCH, 0, iov, 2, NULL, NULL);
}

static int pop_event(struct bhxs *xs, char **path, char **token)
{
	struct event_q *e = xs->events;

	if (!e)
		return -EAGAIN;
	xs->events = e->next;
	if (!xs->events)
		queue_signal(xs, false);
	*path = e->path;
	*token = e->token;
	free(e);
	return 0;
}

int bhxs_wait_watch(struct bhxs *xs, int timeout_ms, char **path, char **token)
{
	long deadline = timeout_ms < 0 ? 0 : now_ms() + timeout_ms;

	while (!xs->events) {
		struct xsd_sockmsg r;
		int left = timeout_ms < 0 ? -1 : (int)BH_MAX(0, deadline - now_ms());
		int rc = read_msg(xs, &r, left);
		char *p;

		if (rc < 0)
			return rc;
		if (!(p = take_msg(xs, &r)))
			return -ENOMEM;
		if (r.type == XS_WATCH_EVENT)
			queue_event(xs, p, r.len);
		free(p); /* a reply nobody waits for: dropped */
	}
	return pop_event(xs, path, token);
}

int bhxs_read_watch(struct bhxs *xs, char **path, char **token)
{
	int rc = bhxs_wait_watch(xs, 0, path, token);

	return rc == -ETIMEDOUT ? -EAGAIN : rc;
}

static int domid_talk(struct bhxs *xs, uint32_t type, unsigned domid, char **reply)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", domid);
	return talk_str(xs, type, 0, buf, reply, NULL);
}

int bhxs_introduce(struct bhxs *xs, unsigned domid, unsigned long gfn, unsigned port)
{
	char a[16], b[24], c[16];

	snprintf(a, sizeof(a), "%u", domid);
	snprintf(b, sizeof(b), "%lu", gfn);
	snprintf(c, sizeof(c), "%u", port);
	struct iovec iov[3] = { { a, strlen(a) + 1 }, { b, strlen(b) + 1 }, { c, strlen(c) + 1 } };
	return bhxs_talk(xs, XS_INTRODUCE, 0, iov, 3, NULL, NULL);
}

int bhxs_release(struct bhxs *xs, unsigned domid)
{
	return domid_talk(xs, XS_RELEASE, domid, NULL);
}

int bhxs_get_domain_path(struct bhxs *xs, unsigned domid, char **path)
{
	return domid_talk(xs, XS_GET_DOMAIN_PATH, domid, path);
}

int bhxs_is_introduced(struct bhxs *xs, unsigned domid, bool *yes)
{
	char *r = NULL;
	int rc = domid_talk(xs, XS_IS_DOMAIN_INTRODUCED, domid, &r);

	if (rc < 0)
		return rc;
	*yes = strcmp(r, "T") == 0;
	free(r);
	return 0;
}
