/* Diagnostics: "FILE:LINE:COL: error: MSG", collected so that a caller can
 * show every problem of a file at once, and small allocation helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg/xlcfg_int.h"

/* Out of memory in a config parser is not worth unwinding for. */
static void *oom_check(void *p)
{
	if (!p) {
		fputs("xlcfg: out of memory\n", stderr);
		abort();
	}
	return p;
}

char *xlcfg_strdup(const char *s)
{
	return s ? oom_check(strdup(s)) : NULL;
}

char *xlcfg_strndup(const char *s, size_t n)
{
	return oom_check(strndup(s, n));
}

void *xlcfg_calloc(size_t n, size_t size)
{
	return oom_check(calloc(n ? n : 1, size ? size : 1));
}

void *xlcfg_reallocarray(void *p, size_t n, size_t size)
{
	return oom_check(reallocarray(p, n ? n : 1, size ? size : 1));
}

void xlcfg_diag(struct xlcfg_diags *d, enum xlcfg_severity sev, struct xlcfg_pos at,
                const char *fmt, ...)
{
	struct xlcfg_diag *g;
	va_list ap;

	if (!d)
		return;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->v = xlcfg_reallocarray(d->v, d->cap, sizeof(*d->v));
	}
	g = &d->v[d->n++];
	g->severity = sev;
	g->file = xlcfg_strdup(at.file);
	g->line = at.line;
	g->col = at.col;
	va_start(ap, fmt);
	if (vasprintf(&g->msg, fmt, ap) < 0)
		g->msg = oom_check(NULL);
	va_end(ap);
	if (sev == XLCFG_ERROR)
		d->nerrors++;
}

void xlcfg_diags_free(struct xlcfg_diags *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

void xlcfg_diags_print(const struct xlcfg_diags *d, FILE *out)
{
	for (size_t i = 0; d && i < d->n; i++) {
		const struct xlcfg_diag *g = &d->v[i];
		const char *sev = g->severity == XLCFG_ERROR ? "error" : "warning";
		const char *file = g->file ? g->file : "<command line>";

		/* Line 0: the diagnostic is about a whole file or spec. */
		if (g->line)
			fprintf(out, "%s:%u:%u: %s: %s\n", file, g->line, g->col, sev, g->msg);
		else
			fprintf(out, "%s: %s: %s\n", file, sev, g->msg);
	}
}
