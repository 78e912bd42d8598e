/* The xenstore wire protocol (Xen's io/xs_wire.h ABI, written from the
 * protocol facts): message header and types, the error-name table, and the
 * shared ring page a domain uses to talk to the store. Byte for byte what
 * Debian's libxenstore 4.17 speaks on the daemon socket. */
#ifndef BH_XS_WIRE_H
#define BH_XS_WIRE_H

#include <errno.h>
#include <stdint.h>

enum xsd_sockmsg_type {
	XS_CONTROL = 0, /* alias XS_DEBUG */
	XS_DIRECTORY = 1,
	XS_READ = 2,
	XS_GET_PERMS = 3,
	XS_WATCH = 4,
	XS_UNWATCH = 5,
	XS_TRANSACTION_START = 6,
	XS_TRANSACTION_END = 7,
	XS_INTRODUCE = 8,
	XS_RELEASE = 9,
	XS_GET_DOMAIN_PATH = 10,
	XS_WRITE = 11,
	XS_MKDIR = 12,
	XS_RM = 13,
	XS_SET_PERMS = 14,
	XS_WATCH_EVENT = 15,
	XS_ERROR = 16,
	XS_IS_DOMAIN_INTRODUCED = 17,
	XS_RESUME = 18,
	XS_SET_TARGET = 19,
	XS_RESTRICT = 20, /* removed from Xen; always invalid */
	XS_RESET_WATCHES = 21,
	XS_DIRECTORY_PART = 22,
	XS_GET_FEATURE = 23,
	XS_SET_FEATURE = 24,
	XS_GET_QUOTA = 25,
	XS_SET_QUOTA = 26,
	XS_TYPE_COUNT,
	XS_INVALID = 0xffff,
};

/* Every message: this header, then LEN payload bytes. Native endian. */
struct xsd_sockmsg {
	uint32_t type;
	uint32_t req_id; /* echoed in the reply */
	uint32_t tx_id;  /* 0: no transaction */
	uint32_t len;    /* payload bytes that follow */
};
_Static_assert(sizeof(struct xsd_sockmsg) == 16, "xsd_sockmsg");

#define XENSTORE_PAYLOAD_MAX  4096
#define XENSTORE_ABS_PATH_MAX 3072
#define XENSTORE_REL_PATH_MAX 2048

/* Errors travel as their names; the order is Xen's table's, new names are
 * appended (EPERM came with 4.17). */
struct xsd_errors {
	int errnum;
	const char *errstring;
};
#define XSD_ERROR_TABLE                                                                            \
	{                                                                                          \
		{ EINVAL, "EINVAL" }, { EACCES, "EACCES" }, { EEXIST, "EEXIST" },                  \
		    { EISDIR, "EISDIR" }, { ENOENT, "ENOENT" }, { ENOMEM, "ENOMEM" },              \
		    { ENOSPC, "ENOSPC" }, { EIO, "EIO" }, { ENOTEMPTY, "ENOTEMPTY" },              \
		    { ENOSYS, "ENOSYS" }, { EROFS, "EROFS" }, { EBUSY, "EBUSY" },                  \
		    { EAGAIN, "EAGAIN" }, { EISCONN, "EISCONN" }, { E2BIG, "E2BIG" },              \
		    { EPERM, "EPERM" },                                                            \
	}

/* Watch events carry two strings: the path that changed, the token. */
enum xs_watch_type {
	XS_WATCH_PATH = 0,
	XS_WATCH_TOKEN,
};

/* The domain's store ring page (grant ref 1): two byte-stream rings,
 * indices free-running, masked with XENSTORE_RING_SIZE - 1. */
#define XENSTORE_RING_SIZE 1024
typedef uint32_t XENSTORE_RING_IDX;
#define MASK_XENSTORE_IDX(idx) ((idx) & (XENSTORE_RING_SIZE - 1))

struct xenstore_domain_interface {
	char req[XENSTORE_RING_SIZE]; /* requests to the store */
	char rsp[XENSTORE_RING_SIZE]; /* replies and watch events */
	XENSTORE_RING_IDX req_cons, req_prod;
	XENSTORE_RING_IDX rsp_cons, rsp_prod;
	uint32_t server_features; /* XENSTORE_SERVER_FEATURE_* */
	uint32_t connection;      /* XENSTORE_CONNECTED / _RECONNECT */
	uint32_t error;           /* XENSTORE_ERROR_* */
	uint32_t evtchn_port;
};
_Static_assert(sizeof(struct xenstore_domain_interface) == 2080, "xs ring page");
_Static_assert(__builtin_offsetof(struct xenstore_domain_interface, req_cons) == 2048, "req_cons");
_Static_assert(__builtin_offsetof(struct xenstore_domain_interface, server_features) == 2064,
               "server_features");
_Static_assert(__builtin_offsetof(struct xenstore_domain_interface, evtchn_port) == 2076,
               "evtchn_port");

#define XENSTORE_SERVER_FEATURE_RECONNECTION 1
#define XENSTORE_SERVER_FEATURE_ERROR        2
#define XENSTORE_SERVER_FEATURE_WATCHDEPTH   4
#define XENSTORE_SERVER_FEATURE_DOMID_ANY    8

#define XENSTORE_CONNECTED 0
#define XENSTORE_RECONNECT 1

#define XENSTORE_ERROR_NONE    0
#define XENSTORE_ERROR_COMM    1
#define XENSTORE_ERROR_RINGIDX 2
#define XENSTORE_ERROR_PROTO   3

#endif
