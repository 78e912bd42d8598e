/* bhxs: the store's client library (libxenstore's place), used by dom0's
 * toolstack, the console daemon, driver domains and the PV kernel.
 *
 * One connection, either to the daemon's Unix socket (dom0's tools) or over
 * a domain's store ring page (Xen's xs_wire.h ring with an event channel).
 * Calls are synchronous (bhxs_pipeline sends several before waiting); watch
 * events that arrive while waiting for a reply are queued and handed out by bhxs_read_watch(). Functions return 0 or a
 * negative errno; a store error comes back as its errno (ENOENT, EACCES,
 * EAGAIN, EQUOTA→EDQUOT, ...). Strings returned are malloc'd. Not
 * thread-safe: one connection per thread. */
#ifndef BH_BHXS_H
#define BH_BHXS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bhxs;

/* PATH NULL: $XENSTORED_PATH, else /run/xenstored/socket. */
int bhxs_open_socket(const char *path, struct bhxs **out);
/* Over a mapped ring page (struct xenstore_domain_interface, 4096 bytes)
 * and an event channel: NOTIFY_FD is written (8-byte eventfd value) to kick
 * the daemon, EVENT_FD becomes readable when the daemon kicked us. The
 * connection owns none of them unless OWN is true. */
int bhxs_open_ring(void *page, int notify_fd, int event_fd, bool own, struct bhxs **out);
/* Inside a Bulkhead domain: START_INFO's store page and port, via the core. */
int bhxs_open_domain(struct bhxs **out);
/* The domain id START_INFO gave bhxs_open_domain (asking the core again
 * costs a round trip); -1 for other connections. */
int bhxs_domain_id(const struct bhxs *xs);
void bhxs_close(struct bhxs *xs);
/* Readable when a watch event or reply may be waiting (for poll loops). */
int bhxs_fd(const struct bhxs *xs);

typedef uint32_t bhxs_tx_t; /* 0 = no transaction */

int bhxs_read(struct bhxs *xs, bhxs_tx_t tx, const char *path, char **val, size_t *len);
int bhxs_write(struct bhxs *xs, bhxs_tx_t tx, const char *path, const void *val, size_t len);
int bhxs_write_str(struct bhxs *xs, bhxs_tx_t tx, const char *path, const char *val);
int bhxs_printf(struct bhxs *xs, bhxs_tx_t tx, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Reads and parses an unsigned decimal. */
int bhxs_read_uint(struct bhxs *xs, bhxs_tx_t tx, const char *path, unsigned long long *out);
int bhxs_mkdir(struct bhxs *xs, bhxs_tx_t tx, const char *path);
int bhxs_rm(struct bhxs *xs, bhxs_tx_t tx, const char *path);
/* *names: malloc'd array of malloc'd names. */
int bhxs_directory(struct bhxs *xs, bhxs_tx_t tx, const char *path, char ***names, size_t *n);
void bhxs_free_names(char **names, size_t n);
/* A listing's reply (names, each NUL-terminated; a pipelined
 * XS_DIRECTORY's) split into NAMES, freed with bhxs_free_names. */
int bhxs_split_names(const char *p, size_t len, char ***names, size_t *n);
/* Permissions as strings of xenstore's form: "n0", "r5", "b3" ... first is
 * the owner. */
int bhxs_get_perms(struct bhxs *xs, bhxs_tx_t tx, const char *path, char ***perms, size_t *n);
int bhxs_set_perms(struct bhxs *xs, bhxs_tx_t tx, const char *path, const char *const *perms,
                   size_t n);

int bhxs_transaction_start(struct bhxs *xs, bhxs_tx_t *tx);
/* COMMIT false aborts. -EAGAIN: conflict, run it again. */
int bhxs_transaction_end(struct bhxs *xs, bhxs_tx_t tx, bool commit);
/* Runs FN in a transaction, retrying on EAGAIN (bounded). */
int bhxs_transaction_run(struct bhxs *xs, int (*fn)(struct bhxs *, bhxs_tx_t, void *), void *arg);

/* Pipelined requests: sent without waiting for each reply (a handshake's
 * dozen keys cost one round trip instead of a dozen). TYPE is XS_READ,
 * XS_WRITE, XS_MKDIR, XS_RM, XS_DIRECTORY, XS_GET_PERMS, XS_SET_PERMS or
 * XS_WATCH; VAL/LEN the payload after PATH's NUL (XS_WRITE: the value;
 * XS_SET_PERMS: the permissions, each NUL-terminated; XS_WATCH: the token
 * with its NUL). The store handles them in order, all in transaction TX
 * (0: none); the control messages XS_TRANSACTION_START/END, XS_RELEASE
 * and XS_INTRODUCE are for bhxs_transaction_run_with. bhxs_pipeline returns 0 once every
 * request is answered, each in its RC (0 or -errno) and REPLY/RLEN (the
 * payload, malloc'd, NUL added: free with bhxs_pipeline_free), or a
 * negative errno if the connection failed. */
struct bhxs_op {
	uint32_t type;
	const char *path;
	const void *val;
	size_t len;
	char *reply; /* out */
	size_t rlen; /* out */
	int rc;      /* out */
};
int bhxs_pipeline(struct bhxs *xs, bhxs_tx_t tx, struct bhxs_op *ops, size_t n);
/* The first failed request's RC, or 0. */
int bhxs_pipeline_rc(const struct bhxs_op *ops, size_t n);
void bhxs_pipeline_free(struct bhxs_op *ops, size_t n);
/* For requests whose replies are not wanted: bhxs_pipeline, then the
 * connection's error or the first request's, the replies freed. */
int bhxs_pipeline_run(struct bhxs *xs, bhxs_tx_t tx, struct bhxs_op *ops, size_t n);
/* A store value as an unsigned decimal (what bhxs_read_uint accepts):
 * 0, or -EINVAL. */
int bhxs_parse_uint(const char *v, unsigned long long *out);

/* bhxs_transaction_run with fewer round trips: BEFORE (NB ops of any
 * kind) pipelined ahead of the transaction's start, AFTER (NA control
 * messages: XS_RELEASE, or XS_INTRODUCE with PATH the domid and VAL
 * "gfn\0port\0") behind its end. Both go outside the transaction; their
 * results are left in their structs (bhxs_pipeline_free them). FN failing
 * ends the transaction without a commit, and AFTER is sent all the same;
 * a conflict runs the transaction again alone (AFTER is not sent again). */
int bhxs_transaction_run_with(struct bhxs *xs, struct bhxs_op *before, size_t nb,
                              int (*fn)(struct bhxs *, bhxs_tx_t, void *), void *arg,
                              struct bhxs_op *after, size_t na);

int bhxs_watch(struct bhxs *xs, const char *path, const char *token);
int bhxs_unwatch(struct bhxs *xs, const char *path, const char *token);
/* A queued or newly arrived event, without blocking: 0 and the event, or
 * -EAGAIN if none. */
int bhxs_read_watch(struct bhxs *xs, char **path, char **token);
/* Blocks up to TIMEOUT_MS (-1 forever) for an event. -ETIMEDOUT. */
int bhxs_wait_watch(struct bhxs *xs, int timeout_ms, char **path, char **token);

/* Control messages (privileged callers). */
int bhxs_introduce(struct bhxs *xs, unsigned domid, unsigned long gfn, unsigned port);
int bhxs_release(struct bhxs *xs, unsigned domid);
int bhxs_get_domain_path(struct bhxs *xs, unsigned domid, char **path);
int bhxs_is_introduced(struct bhxs *xs, unsigned domid, bool *yes);

#endif
