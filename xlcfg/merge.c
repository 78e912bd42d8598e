/* Settings of a file and of the command line merged into one table, as xl
 * sees them: a key set twice keeps the later value (with a warning when
 * both are in the file), "KEY += VALUE" appends to a list or a string, and
 * overrides ("KEY=VALUE" after the file name) replace file values. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg/xlcfg_int.h"

static struct xsetting *find(struct xsettings *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].key, key))
			return &m->v[i];
	return NULL;
}

static int append(struct xsetting *old, const struct xsetting *s, struct xlcfg_diags *d)
{
	struct xv *o = &old->val;
	const struct xv *n = &s->val;

	if (o->is_list != n->is_list) {
		xlcfg_err(d, s->at, "%s: cannot add a %s to a %s", s->key,
		          n->is_list ? "list" : "string", o->is_list ? "list" : "string");
		return -EINVAL;
	}
	if (!o->is_list) {
		size_t a = strlen(o->s), b = strlen(n->s);

		if (a + b > XLCFG_MAX_STRING) {
			xlcfg_err(d, s->at, "%s: string longer than %u bytes", s->key,
			          XLCFG_MAX_STRING);
			return -EINVAL;
		}
		o->s = xlcfg_reallocarray(o->s, a + b + 1, 1);
		memcpy(o->s + a, n->s, b + 1);
		return 0;
	}
	if (o->n + n->n > XLCFG_MAX_ITEMS) {
		xlcfg_err(d, s->at, "%s: list with more than %u values", s->key, XLCFG_MAX_ITEMS);
		return -EINVAL;
	}
	o->items = xlcfg_reallocarray(o->items, o->n + n->n, sizeof(*o->items));
	for (size_t i = 0; i < n->n; i++)
		xlcfg_xv_copy(&o->items[o->n++], &n->items[i]);
	return 0;
}

/* Adds S to M. WARN_DUP: a plain redefinition gets a warning. */
int xlcfg_merge(struct xsettings *m, const struct xsetting *s, bool warn_dup, struct xlcfg_diags *d)
{
	struct xsetting *old = find(m, s->key);

	if (old && s->append)
		return append(old, s, d);
	if (old) {
		if (warn_dup)
			xlcfg_warn(d, s->at,
			           "%s: set again (first at line %u); the later value wins", s->key,
			           old->at.line);
		xlcfg_xv_free(&old->val);
		xlcfg_xv_copy(&old->val, &s->val);
		old->at = s->at;
		return 0;
	}
	m->v = xlcfg_reallocarray(m->v, m->n + 1, sizeof(*m->v));
	old = &m->v[m->n++];
	old->key = xlcfg_strdup(s->key);
	old->append = false;
	old->at = s->at;
	xlcfg_xv_copy(&old->val, &s->val);
	return 0;
}
