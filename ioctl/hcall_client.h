/* A synchronous client of the hypercall channel: one request, one reply.
 *
 * A domain opens its channel (fd 3, see BH_HC_FD); the host administrator
 * opens the core's admin socket. Calls are serialised with a mutex, so
 * threads of one domain may share a client. */
#ifndef BH_HCALL_CLIENT_H
#define BH_HCALL_CLIENT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "bulkhead/hypercall.h"

struct bh_hc_client {
	int fd;
	uint32_t seq;
	pthread_mutex_t lock;
};

/* The domain's own channel (fd 3, or $BULKHEAD_HCALL_FD). */
int bh_hc_open_domain(struct bh_hc_client *cl);
/* <rundir>/core.sock; rundir NULL means $BULKHEAD_RUNDIR or /run/bulkhead. */
int bh_hc_open_admin(struct bh_hc_client *cl, const char *rundir);
void bh_hc_close(struct bh_hc_client *cl);

struct bh_hc_result {
	void *resp;      /* in: where the reply payload goes */
	size_t resp_cap; /* in */
	size_t resp_len; /* out */
	int *fds;        /* in: where received fds go (may be NULL) */
	size_t max_fds;  /* in */
	size_t nfds;     /* out: fds received (caller owns them) */
};

/* Send one request and wait for its reply. Returns the reply's status (0 or
 * a negative errno), or a negative errno if the channel failed (-EPIPE when
 * the core is gone). A reply that does not fit is -EMSGSIZE. */
int bh_hc_call(struct bh_hc_client *cl, uint32_t type, const void *req, size_t len,
               struct bh_hc_result *res);

/* The same without a reply payload or descriptors. */
int bh_hc_call_simple(struct bh_hc_client *cl, uint32_t type, const void *req, size_t len);

#endif
