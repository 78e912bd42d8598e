/* Built without libnbd: the NBD path is not there. */
#include <errno.h>
#include <stdio.h>

#include "bench/blk/paths.h"

int bb_nbd_open(const char *image, bool direct, struct bb_target *t)
{
	(void)image;
	(void)direct;
	(void)t;
	fprintf(stderr, "blkbench: built without libnbd (apt-get install libnbd-dev)\n");
	return -ENOSYS;
}

void bb_nbd_close(struct bb_target *t)
{
	(void)t;
}
