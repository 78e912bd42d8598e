/* The management API that bulkhead-dom0 serves on /run/bulkhead/api.sock:
 * one JSON request per line, one JSON reply per line (docs/api.md). */
#ifndef BH_TOOLSTACK_API_H
#define BH_TOOLSTACK_API_H

#include <stddef.h>

#include "toolstack/toolstack.h"

struct api_ctx {
	struct bhtool *t;
	const char *console_socket; /* as the host sees it, for `bh console` */
	const char *xenstore_socket;
	const char *console_logdir;
	uint64_t dmesg_seq;
};

/* Handles one request line; returns a malloc'd reply line (with '\n'). */
char *api_handle(struct api_ctx *a, const char *line, size_t len);

#endif
