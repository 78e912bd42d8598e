/* netfront_ops over the in-process grant table of netback/netbk_memgnt.h:
 * a netfront acting as domain view->self in tests and benchmarks. */
#ifndef BH_NETFRONT_MEMGNT_H
#define BH_NETFRONT_MEMGNT_H

#include "netback/netbk_memgnt.h"
#include "netfront/netfront.h"

void netfront_memgnt_ops(struct memgnt_view *view, struct netfront_ops *out);

#endif
