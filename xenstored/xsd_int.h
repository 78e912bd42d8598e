/* Internals of the store library, shared by its files. */
#ifndef BH_XSD_INT_H
#define BH_XSD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "xenstored/xsd.h"

#define XS_PERM_NONE  0u
#define XS_PERM_READ  1u
#define XS_PERM_WRITE 2u
#define XS_PERM_OWNER 4u
#define XS_PERM_BOTH  (XS_PERM_READ | XS_PERM_WRITE)

/* Xen's per-node record header and permission entry sizes: the node size
 * quota counts bytes the way C xenstored sizes its database records. */
#define XSD_REC_HDR  24u
#define XSD_REC_PERM 8u

struct xsd_perm {
	uint8_t mask;
	unsigned domid;
};

struct xsd_perms {
	struct xsd_perm *p; /* p[0]: owner, and the default for others */
	unsigned n;
};

struct xsd_node {
	char *name;
	struct xsd_node *parent;
	struct xsd_node **kids; /* in creation order, as Xen lists them */
	unsigned nkids, capkids;
	size_t kidbytes; /* sum of child names + NULs */
	char *val;
	size_t len;
	struct xsd_perms perms;
	uint64_t gen; /* bumped on any change of this node (value, perms, kids) */
};

struct xsd_acct {
	unsigned domid;
	unsigned nodes;
};

/* A whole store: the live one, or a transaction's private copy. */
struct xsd_tree {
	struct xsd_node *root;
	struct xsd_acct *acct;
	size_t nacct, capacct;
};

struct xsd_watch {
	LIST_ENTRY(xsd_watch) link;
	char *path; /* absolute, or a special name */
	char *token;
	bool relative;
};

struct xsd_access {
	char *path;
	uint64_t gen; /* at first access; 0 = absent */
};

struct xsd_op {
	uint32_t type;
	char *args[3];
	size_t vlen; /* WRITE: value length in args[1] */
	struct xsd_perms perms;
};

struct xsd_tx {
	LIST_ENTRY(xsd_tx) link;
	uint32_t id;
	struct xsd_tree *t; /* = &t_store */
	struct xsd_tree t_store;
	struct xsd_access *acc;
	size_t nacc, capacc;
	struct xsd_op *ops;
	size_t nops, capops;
};

struct xsd_conn {
	TAILQ_ENTRY(xsd_conn) link;
	struct xsd *s;
	unsigned domid;
	bool priv;
	struct xsd_conn_ops ops;
	struct evbuffer *in, *out;
	LIST_HEAD(, xsd_watch) watches;
	LIST_HEAD(, xsd_tx) txs;
	unsigned ntx;
	uint32_t next_txid;
	uint64_t dropped;
};

struct xsd_domain {
	unsigned domid;
	bool introduced;
	unsigned target; /* SET_TARGET: privileged over this domain; ~0u none */
	unsigned nwatches;
	long long gfn;
	unsigned port;
};

enum { XSD_SPECIAL_INTRODUCE, XSD_SPECIAL_RELEASE, XSD_NSPECIAL };

struct xsd {
	struct xsd_quota q;
	struct xsd_host_ops host;
	struct xsd_tree main;
	uint64_t gen;
	TAILQ_HEAD(, xsd_conn) conns;
	struct xsd_domain *doms;
	size_t ndoms, capdoms;
	struct xsd_perms special[XSD_NSPECIAL];
};

/* The context an operation runs in: the live tree or a transaction's. */
struct xsd_ctx {
	struct xsd *s;
	struct xsd_conn *c; /* NULL for the store's own changes */
	struct xsd_tree *t;
	struct xsd_tx *tx;
	bool check; /* permissions and quotas (off when a commit replays) */
};

/* xsd_tree.c */
void *xsd_xrealloc(void *p, size_t n, size_t size);
char *xsd_xstrdup(const char *s);
int xsd_tree_init(struct xsd *s, struct xsd_tree *t);
void xsd_tree_dispose(struct xsd_tree *t);
int xsd_tree_clone(const struct xsd_tree *from, struct xsd_tree *to);
struct xsd_node *xsd_lookup(struct xsd_tree *t, const char *path);
unsigned *xsd_acct_slot(struct xsd_tree *t, unsigned domid);
void xsd_acct_add(struct xsd_tree *t, unsigned domid, int delta);
size_t xsd_node_size(const struct xsd_node *n);
int xsd_perms_parse(const char *const *strs, unsigned n, struct xsd_perms *out);
int xsd_perms_copy(const struct xsd_perms *from, struct xsd_perms *to);
void xsd_perms_dispose(struct xsd_perms *p);
/* Adds a child NAME (not present) to PARENT; returns it or NULL. */
struct xsd_node *xsd_node_add(struct xsd_tree *t, struct xsd_node *parent, const char *name,
                              const struct xsd_perms *perms);
/* Unlinks and frees N's subtree, fixing the accounting. */
void xsd_node_remove(struct xsd_tree *t, struct xsd_node *n);
/* Writes the node's absolute path into BUF. */
void xsd_node_path(const struct xsd_node *n, char *buf, size_t cap);

/* xsd_ops.c */
int xsd_dispatch(struct xsd_conn *c, const struct xsd_sockmsg *hdr, char *payload);
void xsd_reply(struct xsd_conn *c, const struct xsd_sockmsg *req, uint32_t type, const void *data,
               size_t len);
void xsd_reply_error(struct xsd_conn *c, const struct xsd_sockmsg *req, int err);
struct xsd_domain *xsd_dom_get(struct xsd *s, unsigned domid, bool create);
unsigned xsd_perm_for(struct xsd_ctx *x, const struct xsd_perms *p);

/* xsd_watch.c */
int xsd_watch_add(struct xsd_conn *c, const char *path, const char *token, bool relative);
int xsd_watch_del(struct xsd_conn *c, const char *path, const char *token);
void xsd_watches_reset(struct xsd_conn *c);
void xsd_watch_event(struct xsd_conn *c, const struct xsd_watch *w, const char *path);
/* PATH changed (RECURSIVE: its subtree was deleted); PERMS: the node's
 * permissions, to decide who may see the event. */
void xsd_fire(struct xsd *s, const char *path, bool recursive, const struct xsd_perms *perms);

/* xsd_tx.c */
struct xsd_tx *xsd_tx_find(struct xsd_conn *c, uint32_t id);
int xsd_tx_start(struct xsd_conn *c, uint32_t *id);
int xsd_tx_end(struct xsd_conn *c, struct xsd_tx *tx, bool commit);
void xsd_tx_free(struct xsd_conn *c, struct xsd_tx *tx);
/* Remember PATH's generation in the transaction's access set. */
int xsd_tx_access(struct xsd_ctx *x, const char *path, const struct xsd_node *n);
int xsd_tx_log(struct xsd_ctx *x, uint32_t type, const char *a0, const char *a1, size_t vlen,
               const struct xsd_perms *perms);
/* Re-run a logged operation on the live tree (xsd_ops.c). */
int xsd_op_apply(struct xsd_ctx *x, const struct xsd_op *op);

#endif
