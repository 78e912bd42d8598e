/* The message handlers: one row per message type (who may send it, whether
 * it runs in a transaction), paths, permissions and quotas as Xen has them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulkhead/xs_wire.h"
#include "xenstored/xsd_int.h"

#define PATH_BUF (XENSTORE_ABS_PATH_MAX + 64)

enum {
	F_PRIV = 1, /* privileged connections only */
	F_TX = 2,   /* honours tx_id */
};

struct req {
	struct xsd_conn *c;
	const struct xsd_sockmsg *hdr;
	char *payload;
	struct xsd_ctx x;
};

typedef int (*handler_fn)(struct req *r);

static bool is_special(const char *p)
{
	return strcmp(p, "@introduceDomain") == 0 || strcmp(p, "@releaseDomain") == 0;
}

static struct xsd_perms *special_perms(struct xsd *s, const char *p)
{
	return &s->special[strcmp(p, "@introduceDomain") == 0 ? XSD_SPECIAL_INTRODUCE
	                                                      : XSD_SPECIAL_RELEASE];
}

/* Relative paths are relative to the caller's /local/domain/<id>; the
 * result must be a valid node name (Xen's charset, no empty components,
 * length limits; unprivileged callers are held to the path quota, counted
 * below their own home as Xen does). */
static int canon_path(struct req *r, const char *in, char *out, bool allow_special)
{
	struct xsd_conn *c = r->c;
	size_t len;

	if (in[0] == '@') {
		if (!allow_special || !is_special(in))
			return -EINVAL;
		snprintf(out, PATH_BUF, "%s", in);
		return 0;
	}
	if (in[0] == '/')
		len = (size_t)snprintf(out, PATH_BUF, "%s", in);
	else
		len = (size_t)snprintf(out, PATH_BUF, "/local/domain/%u/%s", c->domid, in);
	if (len >= PATH_BUF || len > XENSTORE_ABS_PATH_MAX)
		return -EINVAL;
	if (strcmp(out, "/") == 0)
		return 0;
	if (out[len - 1] == '/' || strstr(out, "//"))
		return -EINVAL;
	for (const char *p = out; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '/' || *p == '_' || *p == '@'))
			return -EINVAL;
	if (!c->priv) {
		unsigned id;
		int off = 0;

		if (sscanf(out, "/local/domain/%5u/%n", &id, &off) != 1)
			off = 0;
		if (len - (size_t)off > c->s->q.path_len)
			return -EINVAL;
	}
	return 0;
}

unsigned xsd_perm_for(struct xsd_ctx *x, const struct xsd_perms *p)
{
	struct xsd_conn *c = x->c;

	if (!x->check || !c || c->priv)
		return XS_PERM_BOTH | XS_PERM_OWNER;
	if (c->domid == p->p[0].domid)
		return XS_PERM_BOTH | XS_PERM_OWNER;
	struct xsd_domain *d = xsd_dom_get(x->s, c->domid, false);
	if (d && d->target == p->p[0].domid)
		return XS_PERM_BOTH | XS_PERM_OWNER;
	for (unsigned i = 1; i < p->n; i++)
		if (p->p[i].domid == c->domid)
			return p->p[i].mask;
	return p->p[0].mask;
}

static bool unpriv(const struct xsd_ctx *x)
{
	return x->check && x->c && !x->c->priv;
}

/* Split the payload into NUL-terminated strings; the header guarantees a
 * NUL after the payload, so an unterminated last string is detected by
 * counting. Returns how many, or -EINVAL if fewer than MIN. */
static int get_strings(const struct req *r, const char **argv, int max, int min)
{
	const char *p = r->payload, *end = r->payload + r->hdr->len;
	int n = 0;

	while (p < end && n < max) {
		const char *z = memchr(p, '\0', (size_t)(end - p));

		if (!z)
			break;
		argv[n++] = p;
		p = z + 1;
	}
	return n < min ? -EINVAL : n;
}

static void reply_ok(struct req *r)
{
	xsd_reply(r->c, r->hdr, r->hdr->type, "OK", 3);
}

static struct xsd_node *get_node(struct req *r, const char *path, unsigned need, int *err)
{
	struct xsd_node *n = xsd_lookup(r->x.t, path);

	if (r->x.tx && (*err = xsd_tx_access(&r->x, path, n)) < 0)
		return NULL;
	if (!n) {
		*err = -ENOENT;
		return NULL;
	}
	if ((xsd_perm_for(&r->x, &n->perms) & need) != need) {
		*err = -EACCES;
		return NULL;
	}
	return n;
}

static void touch(struct xsd_ctx *x, struct xsd_node *n)
{
	n->gen = ++x->s->gen;
}

static int do_read(struct req *r)
{
	const char *a[1];
	char path[PATH_BUF];
	int rc;
	struct xsd_node *n;

	if (get_strings(r, a, 1, 1) < 0 || (rc = canon_path(r, a[0], path, false)) < 0)
		return -EINVAL;
	if (!(n = get_node(r, path, XS_PERM_READ, &rc)))
		return rc;
	xsd_reply(r->c, r->hdr, XS_READ, n->val, n->len);
	return 0;
}

static int do_directory(struct req *r)
{
	const char *a[1];
	char path[PATH_BUF];
	char buf[XENSTORE_PAYLOAD_MAX];
	size_t len = 0;
	int rc;
	struct xsd_node *n;

	if (get_strings(r, a, 1, 1) < 0 || canon_path(r, a[0], path, false) < 0)
		return -EINVAL;
	if (!(n = get_node(r, path, XS_PERM_READ, &rc)))
		return rc;
	if (n->kidbytes > sizeof(buf))
		return -E2BIG;
	for (unsigned i = 0; i < n->nkids; i++) {
		size_t l = strlen(n->kids[i]->name) + 1;

		memcpy(buf + len, n->kids[i]->name, l);
		len += l;
	}
	xsd_reply(r->c, r->hdr, XS_DIRECTORY, buf, len);
	return 0;
}

/* Chunks of the child list from a byte offset, led by the node's generation
 * so the client can restart when the list changed under it. */
static int do_directory_part(struct req *r)
{
	const char *a[2];
	char path[PATH_BUF], buf[XENSTORE_PAYLOAD_MAX];
	unsigned long off;
	char *end;
	int rc, len;
	size_t pos = 0;
	struct xsd_node *n;

	if (get_strings(r, a, 2, 2) < 0 || canon_path(r, a[0], path, false) < 0)
		return -EINVAL;
	off = strtoul(a[1], &end, 10);
	if (*end || !*a[1])
		return -EINVAL;
	if (!(n = get_node(r, path, XS_PERM_READ, &rc)))
		return rc;
	len = snprintf(buf, sizeof(buf), "%" PRIu64, n->gen) + 1;
	for (unsigned i = 0; i < n->nkids; i++) {
		size_t l = strlen(n->kids[i]->name) + 1;

		if (pos + l <= off) {
			pos += l;
			continue;
		}
		if (pos < off) /* offset inside a name: not one we handed out */
			return -EINVAL;
		if ((size_t)len + l + 1 > sizeof(buf))
			break;
		memcpy(buf + len, n->kids[i]->name, l);
		len += (int)l;
		pos += l;
	}
	if (pos == n->kidbytes)
		buf[len++] = '\0'; /* an empty name: the list is complete */
	xsd_reply(r->c, r->hdr, XS_DIRECTORY_PART, buf, (size_t)len);
	return 0;
}

static int do_get_perms(struct req *r)
{
	const char *a[1];
	char path[PATH_BUF], buf[XENSTORE_PAYLOAD_MAX];
	const struct xsd_perms *p;
	size_t len = 0;
	int rc;

	if (get_strings(r, a, 1, 1) < 0 || canon_path(r, a[0], path, true) < 0)
		return -EINVAL;
	if (path[0] == '@') {
		p = special_perms(r->c->s, path);
		if (!(xsd_perm_for(&r->x, p) & XS_PERM_READ))
			return -EACCES;
	} else {
		struct xsd_node *n = get_node(r, path, XS_PERM_READ, &rc);

		if (!n)
			return rc;
		p = &n->perms;
	}
	for (unsigned i = 0; i < p->n && len + 16 < sizeof(buf); i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%c%u",
		                        "nrwb"[p->p[i].mask & 3], p -> p[i].domid) +
		       1;
	xsd_reply(r->c, r->hdr, XS_GET_PERMS, buf, len);
	return 0;
}

/* Creates PATH and its missing parents (empty values). Each inherits the
 * permissions of its parent; what an unprivileged domain creates it owns. */
static int create_path(struct req *r, const char *path, struct xsd_node **out)
{
	struct xsd_ctx *x = &r->x;
	char buf[PATH_BUF];
	char *p;
	struct xsd_node *anc;
	unsigned missing = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	/* Find the nearest existing ancestor. */
	for (;;) {
		p = strrchr(buf, '/');
		*p = '\0';
		missing++;
		if (!*buf) {
			anc = x->t->root;
			break;
		}
		if ((anc = xsd_lookup(x->t, buf))) {
			break;
		}
	}
	if (x->tx) {
		int rc = xsd_tx_access(x, *buf ? buf : "/", anc);

		if (rc < 0)
			return rc;
	}
	if (!(xsd_perm_for(x, &anc->perms) & XS_PERM_WRITE))
		return -EACCES;
	if (unpriv(x)) {
		unsigned have = *xsd_acct_slot(x->t, x->c->domid);
		size_t first = strcspn(path + strlen(buf) + 1, "/");

		if (have + missing > x->s->q.nodes)
			return -ENOSPC;
		if (xsd_node_size(anc) + first + 1 >= x->s->q.node_size)
			return -ENOSPC;
	}
	touch(x, anc);
	const char *rest = path + strlen(buf) + 1;
	struct xsd_node *n = anc;
	while (*rest) {
		char name[PATH_BUF];
		size_t l = strcspn(rest, "/");
		struct xsd_perms perms;

		memcpy(name, rest, l);
		name[l] = '\0';
		xsd_perms_copy(&n->perms, &perms);
		if (x->c && !x->c->priv)
			perms.p[0].domid = x->c->domid;
		n = xsd_node_add(x->t, n, name, &perms);
		xsd_perms_dispose(&perms);
		touch(x, n);
		rest += l;
		if (*rest == '/')
			rest++;
		if (x->tx) {
			char sub[PATH_BUF];
			int rc;

			xsd_node_path(n, sub, sizeof(sub));
			if ((rc = xsd_tx_access(x, sub, NULL)) < 0)
				return rc;
		}
	}
	*out = n;
	return 0;
}

static int write_value(struct req *r, const char *path, const char *val, size_t vlen)
{
	struct xsd_ctx *x = &r->x;
	struct xsd_node *n = xsd_lookup(x->t, path);
	int rc;

	if (x->tx && (rc = xsd_tx_access(x, path, n)) < 0)
		return rc;
	if (n && !(xsd_perm_for(x, &n->perms) & XS_PERM_WRITE))
		return -EACCES;
	if (unpriv(x)) {
		size_t base = n ? xsd_node_size(n) - n->len : XSD_REC_HDR + XSD_REC_PERM;

		if (base + vlen >= x->s->q.node_size)
			return -ENOSPC;
	}
	if (!n && (rc = create_path(r, path, &n)) < 0)
		return rc;
	free(n->val);
	n->val = malloc(vlen + 1);
	if (!n->val)
		abort();
	memcpy(n->val, val, vlen);
	n->val[vlen] = '\0';
	n->len = vlen;
	touch(x, n);
	if (!x->tx)
		xsd_fire(x->s, path, false, &n->perms);
	return 0;
}

static int do_write(struct req *r)
{
	const char *a[1];
	char path[PATH_BUF];
	int rc;

	if (get_strings(r, a, 1, 1) < 0 || canon_path(r, a[0], path, false) < 0)
		return -EINVAL;
	const char *val = a[0] + strlen(a[0]) + 1;
	size_t vlen = r->hdr->len - (size_t)(val - r->payload);
	if (strcmp(path, "/") == 0)
		return -EINVAL;
	if ((rc = write_value(r, path, val, vlen)) < 0)
		return rc;
	if (r->x.tx && (rc = xsd_tx_log(&r->x, XS_WRITE, path, val, vlen, NULL)) < 0)
		return rc;
	reply_ok(r);
	return 0;
}

static int mkdir_path(struct req *r, const char *path)
{
	struct xsd_node *n = xsd_lookup(r->x.t, path);
	int rc;

	if (r->x.tx && (rc = xsd_tx_access(&r->x, path, n)) < 0)
		return rc;
	if (n)
		return 0;
	if ((rc = create_path(r, path, &n)) < 0)
		return rc;
	if (!r->x.tx)
		xsd_fire(r->x.s, path, false, &n->perms);
	return 0;
}

static int do_mkdir(struct req *r)
{
	const char *a[1];
	char path[PATH_BUF];
	int rc;

	if (get_strings(r, a, 1, 1) < 0 || canon_path(r, a[0], path, false) < 0)
		return -EINVAL;
	if ((rc = mkdir_path(r, path)) < 0)
		return rc;
	if (r->x.tx && (rc = xsd_tx_log(&r->x, XS_MKDIR, path, NULL, 0, NULL)) < 0)
		return rc;
	reply_ok(r);
	return 0;
}

/* A transaction removing N removes its descendants too: record each with
 * the generation it had, so that writing one of them again later in the
 * same transaction compares with what the store had, not with "absent"
 * (which made every remove-then-rewrite transaction fail with EAGAIN).
 * Not counted against the transaction quota: the removal itself was. */
static void tx_access_subtree(struct xsd_ctx *x, const struct xsd_node *n)
{
	char path[PATH_BUF];
	bool check = x->check;

	x->check = false;
	for (unsigned i = 0; i < n->nkids; i++) {
		xsd_node_path(n->kids[i], path, sizeof(path));
		xsd_tx_access(x, path, n->kids[i]);
		tx_access_subtree(x, n->kids[i]);
	}
	x->check = check;
}

static int rm_path(struct req *r, const char *path)
{
	struct xsd_ctx *x = &r->x;
	struct xsd_node *n = xsd_lookup(x->t, path);
	char parent[PATH_BUF];
	int rc;

	if (strcmp(path, "/") == 0)
		return -EINVAL;
	if (x->tx && (rc = xsd_tx_access(x, path, n)) < 0)
		return rc;
	snprintf(parent, sizeof(parent), "%s", path);
	*strrchr(parent, '/') = '\0';
	if (!n) /* absent is fine, but not when the parent is absent too */
		return xsd_lookup(x->t, *parent ? parent : "/") ? 0 : -ENOENT;
	if (!(xsd_perm_for(x, &n->perms) & XS_PERM_WRITE))
		return -EACCES;
	if (x->tx && (rc = xsd_tx_access(x, *parent ? parent : "/", n->parent)) < 0)
		return rc;
	if (x->tx)
		tx_access_subtree(x, n);
	struct xsd_perms perms;
	xsd_perms_copy(&n->perms, &perms);
	touch(x, n->parent);
	xsd_node_remove(x->t, n);
	if (!x->tx)
		xsd_fire(x->s, path, true, &perms);
	xsd_perms_dispose(&perms);
	return 0;
}

static int do_rm(struct req *r)
{
	const char *a[1];
	char path[PATH_BUF];
	int rc;

	if (get_strings(r, a, 1, 1) < 0 || canon_path(r, a[0], path, false) < 0)
		return -EINVAL;
	if ((rc = rm_path(r, path)) < 0)
		return rc;
	if (r->x.tx && (rc = xsd_tx_log(&r->x, XS_RM, path, NULL, 0, NULL)) < 0)
		return rc;
	reply_ok(r);
	return 0;
}

static int set_perms(struct req *r, const char *path, const struct xsd_perms *np)
{
	struct xsd_ctx *x = &r->x;
	struct xsd_perms *cur;
	struct xsd_node *n = NULL;
	int rc;

	if (path[0] == '@') {
		if (unpriv(x))
			return -EACCES;
		cur = special_perms(x->s, path);
	} else {
		if (!(n = get_node(r, path, XS_PERM_WRITE | XS_PERM_OWNER, &rc)))
			return rc;
		cur = &n->perms;
	}
	if (unpriv(x) && np->p[0].domid != cur->p[0].domid)
		return -EPERM; /* only privileged domains give nodes away */
	if (n) {
		xsd_acct_add(x->t, cur->p[0].domid, -1);
		xsd_acct_add(x->t, np->p[0].domid, 1);
		touch(x, n);
	}
	xsd_perms_dispose(cur);
	xsd_perms_copy(np, cur);
	if (!x->tx)
		xsd_fire(x->s, path, false, cur);
	return 0;
}

static int do_set_perms(struct req *r)
{
	const char *a[XENSTORE_PAYLOAD_MAX / 2];
	char path[PATH_BUF];
	struct xsd_perms np;
	int n, rc;

	if ((n = get_strings(r, a, (int)(sizeof(a) / sizeof(a[0])), 2)) < 0 ||
	    canon_path(r, a[0], path, true) < 0)
		return -EINVAL;
	if (xsd_perms_parse(a + 1, (unsigned)n - 1, &np) < 0)
		return -EINVAL;
	if (unpriv(&r->x) && np.n > r->c->s->q.perms) {
		xsd_perms_dispose(&np);
		return -ENOSPC;
	}
	rc = set_perms(r, path, &np);
	if (rc == 0 && r->x.tx)
		rc = xsd_tx_log(&r->x, XS_SET_PERMS, path, NULL, 0, &np);
	xsd_perms_dispose(&np);
	if (rc < 0)
		return rc;
	reply_ok(r);
	return 0;
}

static int do_watch(struct req *r)
{
	const char *a[3];
	char path[PATH_BUF];
	int rc;

	if (get_strings(r, a, 3, 2) < 0 || canon_path(r, a[0], path, true) < 0)
		return -EINVAL;
	if ((rc = xsd_watch_add(r->c, path, a[1], a[0][0] != '/' && a[0][0] != '@')) < 0)
		return rc;
	reply_ok(r);
	/* The first event tells the client its watch is in place. */
	struct xsd_watch *w = LIST_FIRST(&r->c->watches);
	xsd_watch_event(r->c, w, path);
	return 0;
}

static int do_unwatch(struct req *r)
{
	const char *a[2];
	char path[PATH_BUF];
	int rc;

	if (get_strings(r, a, 2, 2) < 0 || canon_path(r, a[0], path, true) < 0)
		return -EINVAL;
	if ((rc = xsd_watch_del(r->c, path, a[1])) < 0)
		return rc;
	reply_ok(r);
	return 0;
}

static int do_tx_start(struct req *r)
{
	char buf[16];
	uint32_t id;
	int rc;

	if (r->hdr->tx_id)
		return -EBUSY; /* no nesting */
	if ((rc = xsd_tx_start(r->c, &id)) < 0)
		return rc;
	xsd_reply(r->c, r->hdr, XS_TRANSACTION_START, buf,
	          (size_t)snprintf(buf, sizeof(buf), "%u", id) + 1);
	return 0;
}

static int do_tx_end(struct req *r)
{
	const char *a[1];
	int rc;

	if (get_strings(r, a, 1, 1) < 0 || (strcmp(a[0], "T") && strcmp(a[0], "F")))
		return -EINVAL;
	if (!r->x.tx)
		return -ENOENT;
	if ((rc = xsd_tx_end(r->c, r->x.tx, a[0][0] == 'T')) < 0)
		return rc;
	reply_ok(r);
	return 0;
}

static int parse_domid(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v >= 0x7ff0)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int do_introduce(struct req *r)
{
	const char *a[3];
	unsigned domid, port;
	long long gfn;
	char *end;
	struct xsd *s = r->c->s;
	int rc;

	if (get_strings(r, a, 3, 3) < 0 || parse_domid(a[0], &domid) < 0 ||
	    parse_domid(a[2], &port) < 0)
		return -EINVAL;
	gfn = strtoll(a[1], &end, 10);
	if (!*a[1] || *end)
		return -EINVAL;
	struct xsd_domain *d = xsd_dom_get(s, domid, false);
	if (d && d->introduced) {
		if (d->port != port || d->gfn != gfn)
			return -EISCONN;
		reply_ok(r);
		return 0;
	}
	if (s->host.introduce && (rc = s->host.introduce(s->host.arg, domid, gfn, port)) < 0)
		return rc;
	d = xsd_dom_get(s, domid, true);
	d->introduced = true;
	d->gfn = gfn;
	d->port = port;
	reply_ok(r);
	xsd_fire(s, "@introduceDomain", false, &s->special[XSD_SPECIAL_INTRODUCE]);
	return 0;
}

static int one_domid(struct req *r, unsigned *domid)
{
	const char *a[1];

	if (get_strings(r, a, 1, 1) < 0 || parse_domid(a[0], domid) < 0)
		return -EINVAL;
	return 0;
}

static int do_release(struct req *r)
{
	unsigned domid;
	struct xsd_domain *d;

	if (one_domid(r, &domid) < 0 || domid == r->c->domid)
		return -EINVAL;
	if (!(d = xsd_dom_get(r->c->s, domid, false)) || !d->introduced)
		return -ENOENT;
	reply_ok(r);
	xsd_domain_released(r->c->s, domid);
	return 0;
}

static int do_resume(struct req *r)
{
	unsigned domid;
	struct xsd_domain *d;

	if (one_domid(r, &domid) < 0)
		return -EINVAL;
	if (!(d = xsd_dom_get(r->c->s, domid, false)) || !d->introduced)
		return -ENOENT;
	reply_ok(r);
	return 0;
}

static int do_get_domain_path(struct req *r)
{
	unsigned domid;
	char buf[48];

	if (one_domid(r, &domid) < 0)
		return -EINVAL;
	xsd_reply(r->c, r->hdr, XS_GET_DOMAIN_PATH, buf,
	          (size_t)snprintf(buf, sizeof(buf), "/local/domain/%u", domid) + 1);
	return 0;
}

static int do_is_introduced(struct req *r)
{
	unsigned domid;
	struct xsd_domain *d;
	bool yes;

	if (one_domid(r, &domid) < 0)
		return -EINVAL;
	d = xsd_dom_get(r->c->s, domid, false);
	yes = domid == 0 || (d && d->introduced);
	xsd_reply(r->c, r->hdr, XS_IS_DOMAIN_INTRODUCED, yes ? "T" : "F", 2);
	return 0;
}

static int do_set_target(struct req *r)
{
	const char *a[2];
	unsigned domid, target;
	struct xsd_domain *d;

	if (get_strings(r, a, 2, 2) < 0 || parse_domid(a[0], &domid) < 0 ||
	    parse_domid(a[1], &target) < 0)
		return -EINVAL;
	if (!(d = xsd_dom_get(r->c->s, domid, false)) || !d->introduced)
		return -ENOENT;
	d->target = target;
	reply_ok(r);
	return 0;
}

static int do_reset_watches(struct req *r)
{
	struct xsd_tx *tx;

	xsd_watches_reset(r->c);
	while ((tx = LIST_FIRST(&r->c->txs)))
		xsd_tx_free(r->c, tx);
	reply_ok(r);
	return 0;
}

/* CONTROL: only what tools commonly probe. "print" logs nothing and
 * succeeds; anything else is unknown. */
static int do_control(struct req *r)
{
	const char *a[1];

	if (get_strings(r, a, 1, 1) < 0)
		return -EINVAL;
	if (strcmp(a[0], "print") == 0 || strcmp(a[0], "log") == 0) {
		reply_ok(r);
		return 0;
	}
	return -EINVAL;
}

static const struct {
	handler_fn fn;
	unsigned flags;
} table[XS_TYPE_COUNT] = {
	[XS_CONTROL] = { do_control, F_PRIV },
	[XS_DIRECTORY] = { do_directory, F_TX },
	[XS_READ] = { do_read, F_TX },
	[XS_GET_PERMS] = { do_get_perms, F_TX },
	[XS_WATCH] = { do_watch, 0 },
	[XS_UNWATCH] = { do_unwatch, 0 },
	[XS_TRANSACTION_START] = { do_tx_start, 0 },
	[XS_TRANSACTION_END] = { do_tx_end, F_TX },
	[XS_INTRODUCE] = { do_introduce, F_PRIV },
	[XS_RELEASE] = { do_release, F_PRIV },
	[XS_GET_DOMAIN_PATH] = { do_get_domain_path, 0 },
	[XS_WRITE] = { do_write, F_TX },
	[XS_MKDIR] = { do_mkdir, F_TX },
	[XS_RM] = { do_rm, F_TX },
	[XS_SET_PERMS] = { do_set_perms, F_TX },
	[XS_IS_DOMAIN_INTRODUCED] = { do_is_introduced, 0 },
	[XS_RESUME] = { do_resume, F_PRIV },
	[XS_SET_TARGET] = { do_set_target, F_PRIV },
	[XS_RESET_WATCHES] = { do_reset_watches, 0 },
	[XS_DIRECTORY_PART] = { do_directory_part, F_TX },
};

/* PAYLOAD has hdr->len bytes and a NUL after them. */
int xsd_dispatch(struct xsd_conn *c, const struct xsd_sockmsg *hdr, char *payload)
{
	struct req r = { .c = c, .hdr = hdr, .payload = payload };
	int rc;

	if (hdr->type >= XS_TYPE_COUNT || !table[hdr->type].fn) {
		xsd_reply_error(c, hdr, ENOSYS);
		return 0;
	}
	if ((table[hdr->type].flags & F_PRIV) && !c->priv) {
		xsd_reply_error(c, hdr, EACCES);
		return 0;
	}
	r.x = (struct xsd_ctx){ .s = c->s, .c = c, .t = &c->s->main, .check = true };
	if ((table[hdr->type].flags & F_TX) && hdr->tx_id) {
		if (!(r.x.tx = xsd_tx_find(c, hdr->tx_id))) {
			xsd_reply_error(c, hdr, ENOENT);
			return 0;
		}
		r.x.t = r.x.tx->t;
	}
	if ((rc = table[hdr->type].fn(&r)) < 0)
		xsd_reply_error(c, hdr, -rc);
	return 0;
}

/* A transaction's operation, replayed on the live tree at commit after the
 * generation check passed: permissions were checked when it first ran. */
int xsd_op_apply(struct xsd_ctx *x, const struct xsd_op *op)
{
	struct xsd_sockmsg hdr = { .type = op->type };
	struct req r = { .c = x->c, .hdr = &hdr, .x = *x };

	switch (op->type) {
	case XS_WRITE:
		return write_value(&r, op->args[0], op->args[1], op->vlen);
	case XS_MKDIR:
		return mkdir_path(&r, op->args[0]);
	case XS_RM:
		return rm_path(&r, op->args[0]);
	case XS_SET_PERMS:
		return set_perms(&r, op->args[0], &op->perms);
	}
	return -EINVAL;
}
