/* The guest's root file system: a tmpfs holding the unpacked ramdisk, with
 * /proc, /sys and a minimal /dev, which becomes the root by pivot_root.
 *
 * Everything happens in the domain's own mount namespace (the core made
 * it); after the pivot nothing of the sandbox's root (the host's /usr, the
 * PV kernel's own binary) stays reachable. */
#ifndef BH_PVK_ROOTFS_H
#define BH_PVK_ROOTFS_H

#include <stddef.h>
#include <stdint.h>

#include "pvkernel/cpio.h"

struct pvk_rootfs {
	char mnt[64];  /* where the new root is built before the pivot */
	int master;    /* the console pty's master, -1 before build_console */
	int slave;     /* kept open by PID 1, so the master never hangs up */
	unsigned pty;  /* its number in the guest's devpts */
	char err[320]; /* what failed, when a call returns < 0 */
	struct cpio_stats cpio;
};

void pvk_rootfs_init(struct pvk_rootfs *r, const char *mnt);
void pvk_rootfs_dispose(struct pvk_rootfs *r);
/* tmpfs of SIZE_KB at mnt, the ramdisk unpacked into it (read from
 * RAMDISK_FD), /proc, /sys (best effort), /dev. */
int pvk_rootfs_build(struct pvk_rootfs *r, uint64_t size_kb, int ramdisk_fd);
/* A pty in the guest's devpts for init's console (non-blocking master);
 * bound over /dev/console and /dev/tty. */
int pvk_rootfs_console(struct pvk_rootfs *r);
/* Make it the root and forget the old one. */
int pvk_rootfs_pivot(struct pvk_rootfs *r);

#endif
