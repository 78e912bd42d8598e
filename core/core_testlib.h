/* Test support: a core with in-memory domains and no processes, so that
 * grants, event channels and the dispatch table can be exercised directly
 * in one test process. Not linked into bulkhead-core. */
#ifndef BH_CORE_TESTLIB_H
#define BH_CORE_TESTLIB_H

#include "core/core.h"
#include "core/hcall.h"

struct core *tcore_new(void);
void tcore_free(struct core *c);
/* A live domain record (state RUNNING, no process). */
struct domain *tdom_add(struct core *c, uint16_t domid, enum bh_role role, bool privileged);
/* What the core does when a domain's process ends: tear down its ports,
 * mappings and grants; the record stays as SHUTDOWN. */
void tdom_die(struct domain *d);
/* Remove the record (reap). */
void tdom_reap(struct domain *d);

/* A hypercall connection for domain `domid` whose replies can be read from
 * *peer_out. */
int tconn_open(struct core *c, struct hc_conn *hc, uint16_t domid, bool admin, int *peer_out);
/* Send one request through hc_dispatch and read the reply. Returns the
 * dispatch result (negative: channel ended); the reply's status goes to
 * *status, payload into resp (cap bytes), fds into fds (max 8). */
int tcall(struct hc_conn *hc, int peer, uint32_t type, const void *req, size_t len, int *status,
          void *resp, size_t cap, int *fds, size_t *nfds);

/* The fixture of the grant and event-channel tests: a core with guests a
 * (1) and x (3) and driver domain b (2), as cmocka setup/teardown. */
struct tfx {
	struct core *c;
	struct domain *a, *b, *x;
};
int tfx_setup(void **state);
int tfx_teardown(void **state);

#endif
