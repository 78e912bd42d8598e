/* Unpacking a ramdisk: an uncompressed cpio archive in the "newc" format
 * (magic 070701 or 070702), as an initramfs is.
 *
 * Entries land below a directory descriptor and nowhere else: names are
 * relative, ".." is refused, and every lookup resolves beneath the root
 * (a symlink inside the archive cannot lead outside it). Directories,
 * regular files, symlinks, hard links and FIFOs are made; device nodes are
 * skipped (an unprivileged domain cannot make them; the PV kernel provides
 * /dev). A truncated or malformed archive is an error naming the entry. */
#ifndef BH_PVK_CPIO_H
#define BH_PVK_CPIO_H

#include <stddef.h>
#include <stdint.h>

struct cpio_stats {
	unsigned files, dirs, links, symlinks, skipped;
	uint64_t bytes;
	char error[256]; /* what went wrong, when the return is negative */
};

/* Read the archive from fd (sequentially) and unpack it below rootfd. */
int cpio_unpack(int fd, int rootfd, struct cpio_stats *st);

#endif
