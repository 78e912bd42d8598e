/* Internals of the client library shared by its transports. */
#ifndef BH_BHXS_INT_H
#define BH_BHXS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "common/util.h"
#include "xenstored/bhxs.h"

struct bhxs;

struct bhxs_transport {
	int (*send)(struct bhxs *xs, const void *buf, size_t len);
	/* Some bytes, -ETIMEDOUT after TIMEOUT_MS (-1: wait), or -errno. */
	ssize_t (*recv)(struct bhxs *xs, void *buf, size_t cap, int timeout_ms);
	void (*close)(struct bhxs *xs);
};

struct event_q;

struct bhxs {
	const struct bhxs_transport *t;
	int fd; /* socket */
	/* ring transport */
	void *page;
	int notify_fd, event_fd;
	bool own;
	int evtchn_fd; /* bhxs_open_domain: /dev/xen/evtchn (xen_*), port bound */
	unsigned port;
	int domid; /* bhxs_open_domain: START_INFO's, else -1 */
	/* bhxs_fd(): an epoll set of the transport's fd and QFD, an eventfd
	 * that is readable while events are queued in EVENTS. */
	int epfd, qfd;
	uint32_t req_id;
	char *in;
	size_t inlen, incap;
	struct event_q *events;
};

struct bhxs *bhxs_alloc(const struct bhxs_transport *t);
/* Once the transport's fd is known: builds the set bhxs_fd() returns. */
int bhxs_poll_setup(struct bhxs *xs, int fd);
int bhxs_talk(struct bhxs *xs, uint32_t type, bhxs_tx_t tx, const struct iovec *iov, int niov,
              char **reply, size_t *rlen);

#endif
