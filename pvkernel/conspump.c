/* The guest side of the PV console (conspump.h). */
#include "pvkernel/conspump.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/consring.h"
#include "common/util.h"

int pvk_conspump_init(struct pvk_conspump *p, struct bh_cons_intf *ring, int sink_fd, size_t cap,
                      void (*notify)(void *), void *arg)
{
	memset(p, 0, sizeof(*p));
	p->sink_fd = sink_fd;
	if (cap <= PVK_CONS_KMSG_RESERVE)
		return -EINVAL;
	p->buf = malloc(cap);
	if (!p->buf)
		return -ENOMEM;
	p->ring = ring;
	p->cap = cap;
	p->notify = notify;
	p->notify_arg = arg;
	return 0;
}

void pvk_conspump_dispose(struct pvk_conspump *p)
{
	free(p->buf);
	p->buf = NULL;
	p->cap = p->len = p->head = 0;
}

size_t pvk_conspump_room(const struct pvk_conspump *p)
{
	size_t limit = p->cap - PVK_CONS_KMSG_RESERVE;

	return p->len >= limit ? 0 : limit - p->len;
}

size_t pvk_conspump_pending(const struct pvk_conspump *p)
{
	return p->len;
}

static void kick(struct pvk_conspump *p)
{
	if (p->notify)
		p->notify(p->notify_arg);
}

/* The FIFO's free space as at most two spans; fill from the tail. */
static void fifo_put(struct pvk_conspump *p, const char *data, size_t len)
{
	size_t tail = (p->head + p->len) % p->cap;
	size_t first = BH_MIN(len, p->cap - tail);

	memcpy(p->buf + tail, data, first);
	memcpy(p->buf, data + first, len - first);
	p->len += len;
}

/* Contiguous bytes at the head. */
static size_t fifo_span(const struct pvk_conspump *p)
{
	return BH_MIN(p->len, p->cap - p->head);
}

static void fifo_drop(struct pvk_conspump *p, size_t n)
{
	p->head = (p->head + n) % p->cap;
	p->len -= n;
	if (p->len == 0)
		p->head = 0;
}

static ssize_t flush_sink(struct pvk_conspump *p)
{
	while (p->len) {
		ssize_t r = write(p->sink_fd, p->buf + p->head, fifo_span(p));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) { /* no log to write to: nothing can ever take it */
			fifo_drop(p, p->len);
			break;
		}
		fifo_drop(p, (size_t)r);
	}
	return 0;
}

/* The peer broke the ring's rules: it is never touched again, and what
 * init writes goes to the sink (the log) instead of piling up. */
static void refuse_ring(struct pvk_conspump *p)
{
	p->corrupt = true;
	p->ring = NULL;
	p->in_len = 0;
}

ssize_t pvk_conspump_flush(struct pvk_conspump *p)
{
	bool moved = false;

	if (!p->ring)
		return flush_sink(p);
	while (p->len) {
		ssize_t r = bh_cons_guest_write(p->ring, p->buf + p->head, fifo_span(p));
		if (r < 0) {
			refuse_ring(p);
			return -EIO;
		}
		if (r == 0)
			break;
		fifo_drop(p, (size_t)r);
		moved = true;
	}
	if (moved)
		kick(p);
	return (ssize_t)p->len;
}

size_t pvk_conspump_kmsg(struct pvk_conspump *p, const char *msg, size_t len)
{
	if (len > p->cap - p->len)
		return 0;
	fifo_put(p, msg, len);
	pvk_conspump_flush(p);
	return len;
}

ssize_t pvk_conspump_from_fd(struct pvk_conspump *p, int fd)
{
	char chunk[4096];
	size_t room = pvk_conspump_room(p);
	ssize_t r;

	if (room == 0)
		return 0;
	do {
		r = read(fd, chunk, BH_MIN(room, sizeof(chunk)));
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (r == 0)
		return -EIO; /* end of file: as a pty master with no slave */
	fifo_put(p, chunk, (size_t)r);
	pvk_conspump_flush(p);
	return r;
}

ssize_t pvk_conspump_to_fd(struct pvk_conspump *p, int fd)
{
	ssize_t r;

	if (!p->ring)
		return 0;
	if (p->in_len == 0) {
		r = bh_cons_guest_read(p->ring, p->in, sizeof(p->in));
		if (r < 0) {
			refuse_ring(p);
			return -EIO;
		}
		if (r == 0)
			return 0;
		p->in_off = 0;
		p->in_len = (size_t)r;
		kick(p); /* room in `in` again */
	}
	do {
		r = write(fd, p->in + p->in_off, p->in_len);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EWOULDBLOCK ? 0 : -errno;
	p->in_off += (size_t)r;
	p->in_len -= (size_t)r;
	return r;
}

bool pvk_conspump_in_pending(const struct pvk_conspump *p)
{
	return p->in_len > 0;
}
