/* In-process peers of a store for the unit tests: send one message, get
 * the reply, collect the watch events that came with it. */
#ifndef BH_XS_TESTLIB_H
#define BH_XS_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bulkhead/xs_wire.h"
#include "xenstored/xsd.h"

struct peer {
	struct xsd_conn *c;
	char ev[256][128]; /* "path token" */
	int nev;
	char reply[XENSTORE_PAYLOAD_MAX + 1];
	size_t rlen;
	uint32_t rtype;
};

void peer_init(struct peer *p, struct xsd *s, unsigned domid, bool priv);
/* Sends TYPE with PAYLOAD (LEN bytes) in TX; returns 0 or the error's errno
 * (positive); the reply stays in p->reply. */
int peer_call(struct peer *p, uint32_t type, uint32_t tx, const void *payload, size_t len);
/* Strings joined with NULs, each terminated: S("a", "b") = "a\0b\0". */
int peer_callv(struct peer *p, uint32_t type, uint32_t tx, int n, ...);
/* Moves queued watch events into p->ev. */
void peer_drain(struct peer *p);
bool peer_has_event(struct peer *p, const char *path, const char *token);
void peer_clear(struct peer *p);

int xs_write(struct peer *p, uint32_t tx, const char *path, const char *val);
int xs_read(struct peer *p, uint32_t tx, const char *path); /* value in p->reply */
uint32_t xs_tx_start(struct peer *p);
int xs_tx_end(struct peer *p, uint32_t tx, bool commit);

#endif
