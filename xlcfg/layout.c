/* Layouts: a directory of *.cfg files, one domain each, started together.
 * Checked as a whole: unique names, every backend= names a driver domain of
 * the layout, no backend cycles; start order is topological (a driver
 * domain before the domains using it), ties kept in file-name order. */
#include <dirent.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg/xlcfg_int.h"

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_cfg(const char *n)
{
	size_t len = strlen(n);

	return n[0] != '.' && len > 4 && !strcmp(n + len - 4, ".cfg");
}

/* Sorted *.cfg names of DIR. */
static int list_dir(const char *dir, char ***out, size_t *n, struct xlcfg_diags *d)
{
	struct xlcfg_pos at = { dir, 0, 0 };
	DIR *dp = opendir(dir);
	struct dirent *de;
	char **v = NULL;

	*n = 0;
	if (!dp) {
		xlcfg_err(d, at, "cannot open the layout directory: %s", strerror(errno));
		return -errno;
	}
	while ((de = readdir(dp))) {
		if (!is_cfg(de->d_name))
			continue;
		if (*n == XLCFG_MAX_LAYOUT) {
			xlcfg_err(d, at, "more than %u domains in one layout", XLCFG_MAX_LAYOUT);
			break;
		}
		v = xlcfg_reallocarray(v, *n + 1, sizeof(*v));
		v[(*n)++] = xlcfg_strdup(de->d_name);
	}
	closedir(dp);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_names);
	*out = v;
	return d && d->nerrors ? -EINVAL : 0;
}

static ssize_t find_dom(const struct xlcfg_layout *l, const char *name)
{
	for (size_t i = 0; i < l->ndoms; i++)
		if (l->doms[i]->name && !strcmp(l->doms[i]->name, name))
			return (ssize_t)i;
	return -1;
}

static int check_names(const struct xlcfg_layout *l, struct xlcfg_diags *d)
{
	int rc = 0;

	for (size_t j = 0; j < l->ndoms; j++) {
		const struct bh_domcfg *b = l->doms[j];
		ssize_t i = find_dom(l, b->name);

		if (i >= 0 && (size_t)i < j) {
			xlcfg_err(d, ((struct xlcfg_pos){ b->file, b->name_line, 1 }),
			          "name \"%s\" is also used by %s:%u", b->name, l->doms[i]->file,
			          l->doms[i]->name_line);
			rc = -EINVAL;
		}
	}
	return rc;
}

static int check_backend(const struct xlcfg_layout *l, const struct bh_domcfg *c, const char *what,
                         const char *be, unsigned line, struct xlcfg_diags *d)
{
	struct xlcfg_pos at = { c->file, line, 1 };
	ssize_t i;

	if (!be)
		return 0;
	i = find_dom(l, be);
	if (i < 0) {
		xlcfg_err(d, at, "%s: backend \"%s\" is not a domain of this layout", what, be);
		return -EINVAL;
	}
	if (!l->doms[i]->driver_domain) {
		xlcfg_err(
		    d, at,
		    "%s: backend \"%s\" (%s) is not a driver domain (set driver_domain = 1 there)",
		    what, be, l->doms[i]->file);
		return -EINVAL;
	}
	return 0;
}

static int check_backends(const struct xlcfg_layout *l, struct xlcfg_diags *d)
{
	int rc = 0;
	char what[64];

	for (size_t i = 0; i < l->ndoms; i++) {
		const struct bh_domcfg *c = l->doms[i];

		for (size_t k = 0; k < c->ndisks; k++) {
			snprintf(what, sizeof(what), "disk %s", c->disks[k].vdev);
			rc |= check_backend(l, c, what, c->disks[k].backend, c->disks[k].line, d);
		}
		for (size_t k = 0; k < c->nvifs; k++) {
			snprintf(what, sizeof(what), "vif %zu", k);
			rc |= check_backend(l, c, what, c->vifs[k].backend, c->vifs[k].line, d);
		}
	}
	return rc ? -EINVAL : 0;
}

/* Does domain I use domain J as a backend? */
static bool uses(const struct xlcfg_layout *l, size_t i, size_t j)
{
	const struct bh_domcfg *c = l->doms[i];
	const char *n = l->doms[j]->name;

	for (size_t k = 0; k < c->ndisks; k++)
		if (c->disks[k].backend && !strcmp(c->disks[k].backend, n))
			return true;
	for (size_t k = 0; k < c->nvifs; k++)
		if (c->vifs[k].backend && !strcmp(c->vifs[k].backend, n))
			return true;
	return false;
}

/* Line of the first device of domain I served by domain J. */
static unsigned edge_line(const struct xlcfg_layout *l, size_t i, size_t j)
{
	const struct bh_domcfg *c = l->doms[i];
	const char *n = l->doms[j]->name;

	for (size_t k = 0; k < c->ndisks; k++)
		if (c->disks[k].backend && !strcmp(c->disks[k].backend, n))
			return c->disks[k].line;
	for (size_t k = 0; k < c->nvifs; k++)
		if (c->vifs[k].backend && !strcmp(c->vifs[k].backend, n))
			return c->vifs[k].line;
	return 0;
}

/* Depth-first search; on a back edge, reports the cycle from the stack. */
static int dfs(const struct xlcfg_layout *l, size_t i, char *color, size_t *stack, size_t depth,
               struct xlcfg_diags *d)
{
	color[i] = 1;
	stack[depth] = i;
	for (size_t j = 0; j < l->ndoms; j++) {
		if (!uses(l, i, j))
			continue;
		if (color[j] == 1) {
			size_t from = 0, len = 0;
			char *path = xlcfg_calloc(l->ndoms + 1, 80);

			while (stack[from] != j)
				from++;
			for (size_t k = from; k <= depth; k++)
				len += (size_t)sprintf(path + len, "%.70s -> ",
				                       l->doms[stack[k]]->name);
			sprintf(path + len, "%.70s", l->doms[j]->name);
			/* Point at where the first domain of the cycle names the next. */
			size_t next = from < depth ? stack[from + 1] : j;

			xlcfg_err(
			    d, ((struct xlcfg_pos){ l->doms[j]->file, edge_line(l, j, next), 1 }),
			    "backend cycle: %s", path);
			free(path);
			return -EINVAL;
		}
		if (!color[j] && dfs(l, j, color, stack, depth + 1, d))
			return -EINVAL;
	}
	color[i] = 2;
	return 0;
}

static int check_cycles(const struct xlcfg_layout *l, struct xlcfg_diags *d)
{
	char *color = xlcfg_calloc(l->ndoms, 1);
	size_t *stack = xlcfg_calloc(l->ndoms, sizeof(*stack));
	int rc = 0;

	for (size_t i = 0; i < l->ndoms && !rc; i++)
		if (!color[i])
			rc = dfs(l, i, color, stack, 0, d);
	free(color);
	free(stack);
	return rc;
}

/* Repeatedly the first domain in file order whose backends have started.
 * The "uses" relation is computed once: n^2 device scans, then n^3 bits. */
static void order(struct xlcfg_layout *l)
{
	size_t n = l->ndoms;
	bool *started = xlcfg_calloc(n, sizeof(bool));
	bool *adj = xlcfg_calloc(n * n, sizeof(bool));

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			adj[i * n + j] = i != j && uses(l, i, j);
	l->start_order = xlcfg_calloc(n, sizeof(size_t));
	for (size_t step = 0; step < n; step++) {
		for (size_t i = 0; i < n; i++) {
			bool ready = !started[i];

			for (size_t j = 0; ready && j < n; j++)
				if (!started[j] && adj[i * n + j])
					ready = false;
			if (ready) {
				started[i] = true;
				l->start_order[step] = i;
				break;
			}
		}
	}
	free(adj);
	free(started);
}

static int load_all(const char *dir, char **names, size_t n, struct xlcfg_layout *l,
                    struct xlcfg_diags *d)
{
	int rc = 0;

	l->doms = xlcfg_calloc(n, sizeof(*l->doms));
	for (size_t i = 0; i < n; i++) {
		char *path = NULL;
		struct bh_domcfg *c = NULL;

		if (asprintf(&path, "%s/%s", dir, names[i]) < 0)
			abort();
		if (xlcfg_parse_file(path, NULL, 0, &c, d))
			rc = -EINVAL;
		else
			l->doms[l->ndoms++] = c;
		free(path);
	}
	return rc;
}

int xlcfg_layout_load(const char *dir, struct xlcfg_layout *out, struct xlcfg_diags *diags)
{
	char **names = NULL;
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->dir = xlcfg_strdup(dir);
	rc = list_dir(dir, &names, &n, diags);
	if (!rc && !n) {
		xlcfg_err(diags, ((struct xlcfg_pos){ dir, 0, 0 }), "no *.cfg files in the layout");
		rc = -EINVAL;
	}
	if (!rc)
		rc = load_all(dir, names, n, out, diags);
	if (!rc)
		rc = check_names(out, diags);
	if (!rc)
		rc = check_backends(out, diags);
	if (!rc)
		rc = check_cycles(out, diags);
	if (!rc)
		order(out);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc)
		xlcfg_layout_free(out);
	return rc;
}

void xlcfg_layout_free(struct xlcfg_layout *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->ndoms; i++)
		xlcfg_free(l->doms[i]);
	free(l->doms);
	free(l->start_order);
	free(l->dir);
	memset(l, 0, sizeof(*l));
}

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* "netdd (vif 0, disk xvda)" for each backend domain that I uses. */
static void print_waits(const struct xlcfg_layout *l, size_t i, FILE *out)
{
	const struct bh_domcfg *c = l->doms[i];
	bool any = false;

	fputs("     waits for:", out);
	for (size_t j = 0; j < l->ndoms; j++) {
		const char *n = l->doms[j]->name, *sep = " (";

		if (!uses(l, i, j))
			continue;
		fprintf(out, "%s %s", any ? "," : "", n);
		for (size_t k = 0; k < c->ndisks; k++) {
			if (c->disks[k].backend && !strcmp(c->disks[k].backend, n)) {
				fprintf(out, "%sdisk %s", sep, c->disks[k].vdev);
				sep = ", ";
			}
		}
		for (size_t k = 0; k < c->nvifs; k++)
			if (c->vifs[k].backend && !strcmp(c->vifs[k].backend, n)) {
				fprintf(out, "%svif %zu", sep, k);
				sep = ", ";
			}
		fputs(")", out);
		any = true;
	}
	fputs(any ? "\n" : " nothing\n", out);
}

void xlcfg_layout_print_plan(const struct xlcfg_layout *l, FILE *out)
{
	if (!l || !l->start_order)
		return; /* not a loaded layout */
	fprintf(out, "layout %s: %zu domain%s\n", l->dir, l->ndoms, l->ndoms == 1 ? "" : "s");
	for (size_t s = 0; s < l->ndoms; s++) {
		size_t i = l->start_order[s];
		const struct bh_domcfg *c = l->doms[i];

		fprintf(out, "  %zu. start %s (%s)%s\n", s + 1, c->name, base(c->file),
		        c->driver_domain ? ", driver domain" : "");
		if (c->uplink.enabled) {
			char ip[INET_ADDRSTRLEN] = "";
			if (c->uplink.host_ipv4)
				inet_ntop(AF_INET, &c->uplink.host_ipv4, ip, sizeof(ip));
			fprintf(out, "     uplink: bridge %s <-> host %s",
			        c->uplink.bridge ? c->uplink.bridge : "xenbr0",
			        c->uplink.host_ifname ? c->uplink.host_ifname : "bhup<domid>");
			if (ip[0])
				fprintf(out, " %s/%u", ip, c->uplink.host_prefix);
			if (c->uplink.host_bridge)
				fprintf(out, " in host bridge %s", c->uplink.host_bridge);
			fputs("\n", out);
		}
		print_waits(l, i, out);
	}
}
