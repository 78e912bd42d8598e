/* The client side of the management API, for `bh` and the tests. */
#ifndef BH_BHCLI_H
#define BH_BHCLI_H

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

struct bhcli {
	int fd;
	char path[512];
};

/* RUNDIR NULL: $BULKHEAD_RUNDIR or /run/bulkhead; the socket is
 * RUNDIR/dom0/api.sock. */
int bhcli_open(struct bhcli *c, const char *rundir);
void bhcli_close(struct bhcli *c);
/* Sends the object G holds (closed by the caller) and returns the reply. */
int bhcli_call(struct bhcli *c, yajl_gen g, yajl_val *reply);

#endif
