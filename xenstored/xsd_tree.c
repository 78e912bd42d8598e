/* The node tree: lookup, creation, removal, copies for transactions, and
 * the per-domain node accounting that travels with a tree. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulkhead/xs_wire.h"
#include "xenstored/xsd_int.h"

void *xsd_xrealloc(void *p, size_t n, size_t size)
{
	void *r = reallocarray(p, n ? n : 1, size);

	if (!r)
		abort(); /* the store cannot run without memory */
	return r;
}

char *xsd_xstrdup(const char *s)
{
	char *r = strdup(s);

	if (!r)
		abort();
	return r;
}

static struct xsd_node *node_new(const char *name, struct xsd_node *parent)
{
	struct xsd_node *n = calloc(1, sizeof(*n));

	if (!n)
		abort();
	n->name = xsd_xstrdup(name);
	n->parent = parent;
	n->val = xsd_xstrdup("");
	return n;
}

static void node_free(struct xsd_node *n)
{
	for (unsigned i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n->val);
	xsd_perms_dispose(&n->perms);
	free(n);
}

int xsd_tree_init(struct xsd *s, struct xsd_tree *t)
{
	memset(t, 0, sizeof(*t));
	t->root = node_new("", NULL);
	t->root->perms.p = xsd_xrealloc(NULL, 1, sizeof(struct xsd_perm));
	t->root->perms.p[0] = (struct xsd_perm){ XS_PERM_NONE, 0 };
	t->root->perms.n = 1;
	t->root->gen = ++s->gen;
	/* Xen's initial layout: /tool and /local exist, owned by dom0. */
	struct xsd_node *tool = xsd_node_add(t, t->root, "tool", &t->root->perms);
	struct xsd_node *local = xsd_node_add(t, t->root, "local", &t->root->perms);
	tool->gen = local->gen = t->root->gen = ++s->gen;
	return 0;
}

void xsd_tree_dispose(struct xsd_tree *t)
{
	if (t->root)
		node_free(t->root);
	free(t->acct);
	memset(t, 0, sizeof(*t));
}

static struct xsd_node *node_clone(const struct xsd_node *from, struct xsd_node *parent)
{
	struct xsd_node *n = calloc(1, sizeof(*n));

	if (!n)
		abort();
	n->name = xsd_xstrdup(from->name);
	n->parent = parent;
	n->val = malloc(from->len + 1);
	if (!n->val)
		abort();
	memcpy(n->val, from->val, from->len + 1);
	n->len = from->len;
	n->gen = from->gen;
	xsd_perms_copy(&from->perms, &n->perms);
	n->kidbytes = from->kidbytes;
	n->nkids = n->capkids = from->nkids;
	n->kids = xsd_xrealloc(NULL, from->nkids, sizeof(*n->kids));
	for (unsigned i = 0; i < from->nkids; i++)
		n->kids[i] = node_clone(from->kids[i], n);
	return n;
}

/* Transactions work on a private copy, as C xenstored's did: simple, and
 * the commit only has to compare generations of what was touched. */
int xsd_tree_clone(const struct xsd_tree *from, struct xsd_tree *to)
{
	memset(to, 0, sizeof(*to));
	to->root = node_clone(from->root, NULL);
	to->nacct = to->capacct = from->nacct;
	to->acct = xsd_xrealloc(NULL, from->nacct, sizeof(*to->acct));
	memcpy(to->acct, from->acct, from->nacct * sizeof(*to->acct));
	return 0;
}

static struct xsd_node *kid_find(const struct xsd_node *n, const char *name, size_t len)
{
	for (unsigned i = 0; i < n->nkids; i++)
		if (strncmp(n->kids[i]->name, name, len) == 0 && n->kids[i]->name[len] == '\0')
			return n->kids[i];
	return NULL;
}

/* PATH is absolute and valid (checked by the caller). */
struct xsd_node *xsd_lookup(struct xsd_tree *t, const char *path)
{
	struct xsd_node *n = t->root;
	const char *p = path + 1;

	while (n && *p) {
		const char *e = strchrnul(p, '/');

		n = kid_find(n, p, (size_t)(e - p));
		p = *e ? e + 1 : e;
	}
	return n;
}

unsigned *xsd_acct_slot(struct xsd_tree *t, unsigned domid)
{
	for (size_t i = 0; i < t->nacct; i++)
		if (t->acct[i].domid == domid)
			return &t->acct[i].nodes;
	if (t->nacct == t->capacct) {
		t->capacct = t->capacct ? t->capacct * 2 : 8;
		t->acct = xsd_xrealloc(t->acct, t->capacct, sizeof(*t->acct));
	}
	t->acct[t->nacct] = (struct xsd_acct){ domid, 0 };
	return &t->acct[t->nacct++].nodes;
}

void xsd_acct_add(struct xsd_tree *t, unsigned domid, int delta)
{
	unsigned *slot = xsd_acct_slot(t, domid);

	if (delta < 0 && *slot < (unsigned)-delta)
		*slot = 0;
	else
		*slot += delta;
}

size_t xsd_node_size(const struct xsd_node *n)
{
	return XSD_REC_HDR + n->perms.n * XSD_REC_PERM + n->len + n->kidbytes;
}

static int perm_letter(char c, uint8_t *mask)
{
	switch (c) {
	case 'n':
		*mask = XS_PERM_NONE;
		return 0;
	case 'r':
		*mask = XS_PERM_READ;
		return 0;
	case 'w':
		*mask = XS_PERM_WRITE;
		return 0;
	case 'b':
		*mask = XS_PERM_BOTH;
		return 0;
	}
	return -EINVAL;
}

int xsd_perms_parse(const char *const *strs, unsigned n, struct xsd_perms *out)
{
	out->p = NULL;
	out->n = 0;
	if (n == 0)
		return -EINVAL;
	out->p = xsd_xrealloc(NULL, n, sizeof(*out->p));
	for (unsigned i = 0; i < n; i++) {
		const char *s = strs[i];
		char *end;
		unsigned long id;

		if (perm_letter(s[0], &out->p[i].mask) < 0 || s[1] < '0' || s[1] > '9')
			goto bad;
		errno = 0;
		id = strtoul(s + 1, &end, 10);
		if (errno || *end || id > 0xffff)
			goto bad;
		out->p[i].domid = (unsigned)id;
	}
	out->n = n;
	return 0;
bad:
	free(out->p);
	out->p = NULL;
	return -EINVAL;
}

int xsd_perms_copy(const struct xsd_perms *from, struct xsd_perms *to)
{
	to->n = from->n;
	to->p = xsd_xrealloc(NULL, from->n, sizeof(*to->p));
	memcpy(to->p, from->p, from->n * sizeof(*to->p));
	return 0;
}

void xsd_perms_dispose(struct xsd_perms *p)
{
	free(p->p);
	p->p = NULL;
	p->n = 0;
}

struct xsd_node *xsd_node_add(struct xsd_tree *t, struct xsd_node *parent, const char *name,
                              const struct xsd_perms *perms)
{
	struct xsd_node *n = node_new(name, parent);

	xsd_perms_copy(perms, &n->perms);
	if (parent->nkids == parent->capkids) {
		parent->capkids = parent->capkids ? parent->capkids * 2 : 4;
		parent->kids = xsd_xrealloc(parent->kids, parent->capkids, sizeof(*parent->kids));
	}
	parent->kids[parent->nkids++] = n;
	parent->kidbytes += strlen(name) + 1;
	xsd_acct_add(t, n->perms.p[0].domid, 1);
	return n;
}

static void acct_subtree(struct xsd_tree *t, const struct xsd_node *n)
{
	xsd_acct_add(t, n->perms.p[0].domid, -1);
	for (unsigned i = 0; i < n->nkids; i++)
		acct_subtree(t, n->kids[i]);
}

void xsd_node_remove(struct xsd_tree *t, struct xsd_node *n)
{
	struct xsd_node *p = n->parent;

	acct_subtree(t, n);
	for (unsigned i = 0; i < p->nkids; i++) {
		if (p->kids[i] != n)
			continue;
		memmove(&p->kids[i], &p->kids[i + 1], (p->nkids - i - 1) * sizeof(*p->kids));
		p->nkids--;
		break;
	}
	p->kidbytes -= strlen(n->name) + 1;
	node_free(n);
}

void xsd_node_path(const struct xsd_node *n, char *buf, size_t cap)
{
	size_t len = 0;
	const struct xsd_node *m;

	if (!n->parent) {
		snprintf(buf, cap, "/");
		return;
	}
	for (m = n; m->parent; m = m->parent)
		len += strlen(m->name) + 1;
	if (len + 1 > cap)
		len = cap - 1;
	buf[len] = '\0';
	for (m = n; m->parent; m = m->parent) {
		size_t l = strlen(m->name);

		if (len < l + 1)
			break;
		len -= l;
		memcpy(buf + len, m->name, l);
		buf[--len] = '/';
	}
}
