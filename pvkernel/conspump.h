/* The guest side of the PV console: bytes between init's pty and the
 * console ring page (include/bulkhead/console.h).
 *
 * Output (pty → ring `out`) passes through a bounded FIFO. While the ring
 * is full (no backend bound yet, or a slow one) output collects in the
 * FIFO; when the FIFO is full the caller stops reading the pty, so init's
 * writes block once the pty's own buffer fills, as on a real serial
 * console. Nothing is dropped. The kernel's own messages may use a small
 * reserve above the pty's share, so a stalled console cannot hold them
 * back.
 *
 * Input (ring `in` → pty) goes through a one-ring stash: bytes are taken
 * off the ring only when the stash is empty, and leave the stash as the
 * pty accepts them.
 *
 * The peer is kicked (notify) whenever an index moved. Without a ring
 * (a domain created with no console) output goes to a sink descriptor
 * instead, the domain's log. The struct owns no descriptors. */
#ifndef BH_PVK_CONSPUMP_H
#define BH_PVK_CONSPUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "bulkhead/console.h"

#define PVK_CONS_KMSG_RESERVE 4096u

struct pvk_conspump {
	struct bh_cons_intf *ring;
	void (*notify)(void *arg);
	void *notify_arg;
	char *buf; /* output FIFO */
	size_t cap, head, len;
	char in[BH_CONS_IN_SIZE]; /* input stash */
	size_t in_off, in_len;
	bool corrupt; /* the peer broke the ring's rules: ring dropped, sink used */
	int sink_fd;  /* output when ring is NULL (blocking writes) */
};

/* CAP: the FIFO's size in bytes (> PVK_CONS_KMSG_RESERVE). RING NULL:
 * output goes to SINK_FD. */
int pvk_conspump_init(struct pvk_conspump *p, struct bh_cons_intf *ring, int sink_fd, size_t cap,
                      void (*notify)(void *), void *arg);
void pvk_conspump_dispose(struct pvk_conspump *p);

/* Room for output from the pty (the kernel's reserve excluded). */
size_t pvk_conspump_room(const struct pvk_conspump *p);
/* Bytes not yet in the ring. */
size_t pvk_conspump_pending(const struct pvk_conspump *p);

/* A kernel message: queued in full if it fits the FIFO (reserve
 * included), then flushed. Returns the bytes queued. */
size_t pvk_conspump_kmsg(struct pvk_conspump *p, const char *msg, size_t len);
/* Read from FD (non-blocking, the pty master) as much as the room allows,
 * then flush. Returns bytes read, 0 when there is no room, -EAGAIN when FD
 * has nothing, or -errno (EIO: the pty's slave side is closed). */
ssize_t pvk_conspump_from_fd(struct pvk_conspump *p, int fd);
/* Move FIFO bytes into the ring. Returns the bytes still pending, or
 * -EIO when it finds the ring corrupt: the ring is dropped then (`ring`
 * NULL, `corrupt` set) and output goes to the sink from then on. */
ssize_t pvk_conspump_flush(struct pvk_conspump *p);

/* Move input from the ring to FD (non-blocking). Returns bytes written to
 * FD (0 if none), or -errno. pvk_conspump_in_pending() says whether bytes
 * wait for FD to become writable. */
ssize_t pvk_conspump_to_fd(struct pvk_conspump *p, int fd);
bool pvk_conspump_in_pending(const struct pvk_conspump *p);

#endif
