/* The PV kernel's block frontend: connects each device/vbd of the domain to
 * its backend over blkif (blkfront/), and shows the disks to the guest as
 * files /dev/<vdev> (xvda, ...) served through FUSE, so that dd, mkfs.ext4
 * and e2fsck work on them unchanged. */
#ifndef BH_PVK_VBD_H
#define BH_PVK_VBD_H

#include <stdbool.h>

struct bhxs;

/* Connects the vbd whose frontend directory is device/vbd/ID (the xenbus
 * handshake, waiting up to 10 s for the backend). LOG gets progress and
 * errors. Returns 0 or -errno; a failed disk is reported, not fatal. */
int pvk_vbd_connect(struct bhxs *xs, const char *id, void (*log)(void *, const char *), void *arg);

/* Mounts every connected disk under /dev (FUSE on the sandbox's /dev/fuse,
 * fd 4) and serves them from a thread. Called once, after the probe. */
int pvk_vbd_serve(void (*log)(void *, const char *), void *arg);

/* How long I/O is held while a backend is away before it fails with EIO
 * (bhblk.timeout= on the command line; default 60 s). */
void pvk_vbd_set_timeout(unsigned seconds);

/* A store watch event, on the thread that owns XS. Returns whether it was
 * one of the block frontend's (the backends' state nodes): a backend that
 * leaves Connected is reconnected when it offers the disk again. */
bool pvk_vbd_watch(struct bhxs *xs, const char *path, const char *token);

/* Messages of the FUSE thread for the console, which is the store
 * thread's: when pvk_vbd_msg_fd() (-1: none) is readable, call
 * pvk_vbd_msg_drain() on that thread; it hands them to LOG. */
int pvk_vbd_msg_fd(void);
void pvk_vbd_msg_drain(void);

#endif
