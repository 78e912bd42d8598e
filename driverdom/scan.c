/* Finding devices: the watch on /local/domain/<self>/backend, the scan of
 * backend/<type>/<fe>/<devid>, and dispatch to the registered backends. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulkhead/xs_wire.h"
#include "common/util.h"
#include "driverdom/driverdom_int.h"
#include "xenstored/bhxs.h"

static const struct drvdom_backend_ops *lookup(struct drvdom *dd, const char *type)
{
	for (size_t i = 0; i < dd->cfg.n_backends; i++)
		if (strcmp(dd->cfg.backends[i]->type, type) == 0)
			return dd->cfg.backends[i];
	return NULL;
}

struct drvdom_dev *drvdom_find(struct drvdom *dd, const char *type, unsigned fe, unsigned devid)
{
	for (struct drvdom_dev *d = dd->devs; d; d = d->next)
		if (d->fe_domid == fe && d->devid == devid && strcmp(d->type, type) == 0)
			return d;
	return NULL;
}

static struct drvdom_dev *find_by_path(struct drvdom *dd, const char *be_path)
{
	for (struct drvdom_dev *d = dd->devs; d; d = d->next)
		if (strcmp(d->be_path, be_path) == 0)
			return d;
	return NULL;
}

static bool dir_exists(struct drvdom *dd, const char *path)
{
	char **names = NULL;
	size_t n = 0;
	int rc = bhxs_directory(dd->xs, 0, path, &names, &n);

	bhxs_free_names(names, n);
	return rc != -ENOENT;
}

static int parse_id(const char *s, unsigned *out)
{
	long v;
	int rc = bh_parse_int(s, 10, 0, 0x7fffffff, &v);

	if (rc == 0)
		*out = (unsigned)v;
	return rc;
}

/* Devices found by one scan, added together (dd_devs_add). */
struct found_list {
	struct dd_found *v;
	size_t n, cap;
};

/* A device directory that exists: make it known, now or (with a list)
 * with the others of the scan. */
static void found(struct drvdom *dd, const char *type, const char *fe_s, const char *devid_s,
                  struct found_list *fl)
{
	unsigned fe = 0, devid = 0;
	struct drvdom_dev *d;
	struct dd_found one;

	if (strlen(type) >= sizeof(d->type) || parse_id(fe_s, &fe) < 0 ||
	    parse_id(devid_s, &devid) < 0) {
		bh_warn(&dd->log, "ignoring backend/%s/%s/%s: not a device directory", type, fe_s,
		        devid_s);
		return;
	}
	if ((d = drvdom_find(dd, type, fe, devid))) {
		d->seen = true;
		return;
	}
	one = (struct dd_found){ .ops = lookup(dd, type), .fe = fe, .devid = devid };
	bh_strlcpy(one.type, type, sizeof(one.type));
	if (fl && fl->n == fl->cap) {
		size_t cap = fl->cap ? 2 * fl->cap : 8;
		struct dd_found *v = realloc(fl->v, cap * sizeof(*v));

		if (v) {
			fl->v = v;
			fl->cap = cap;
		}
	}
	if (fl && fl->n < fl->cap)
		fl->v[fl->n++] = one;
	else
		dd_devs_add(dd, &one, 1);
}

static int scan_dir(struct drvdom *dd, const char *path, char ***names, size_t *n)
{
	int rc = bhxs_directory(dd->xs, 0, path, names, n);

	if (rc == -ENOENT) {
		*names = NULL;
		*n = 0;
		return 0;
	}
	if (rc < 0)
		bh_warn(&dd->log, "listing %s: %s", path, bh_strerror(rc));
	return rc;
}

/* A pipelined listing's answer: its names (none if it is missing; another
 * error is logged and gives none too). */
static void take_list(struct drvdom *dd, const struct bhxs_op *op, char ***names, size_t *n)
{
	if (op->rc < 0 && op->rc != -ENOENT)
		bh_warn(&dd->log, "listing %s: %s", op->path, bh_strerror(op->rc));
	if (op->rc == 0 && bhxs_split_names(op->reply, op->rlen, names, n) < 0)
		*n = 0;
}

/* N directories listed in one pipelined batch: (*NAMES)[i], (*COUNTS)[i]
 * (a missing one is empty; another error is logged and empty too).
 * Free with free_lists. */
static int list_many(struct drvdom *dd, char (*paths)[192], size_t n, char ****names,
                     size_t **counts)
{
	struct bhxs_op *ops = calloc(n ? n : 1, sizeof(*ops));
	int rc;

	*names = calloc(n ? n : 1, sizeof(**names));
	*counts = calloc(n ? n : 1, sizeof(**counts));
	if (!ops || !*names || !*counts) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		ops[i] = (struct bhxs_op){ .type = XS_DIRECTORY, .path = paths[i] };
	if ((rc = bhxs_pipeline(dd->xs, 0, ops, n)) < 0) {
		bh_warn(&dd->log, "listing %zu directories: %s", n, bh_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		take_list(dd, &ops[i], &(*names)[i], &(*counts)[i]);
out:
	if (ops)
		bhxs_pipeline_free(ops, n);
	free(ops);
	if (rc < 0) {
		free(*names);
		free(*counts);
		*names = NULL;
		*counts = NULL;
	}
	return rc;
}

static void free_lists(char ***names, size_t *counts, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		bhxs_free_names(names[i], counts[i]);
	free(names);
	free(counts);
}

/* The scan's first round trip: (with TOKEN) the watch on backend/, the
 * types under it and the frontends under every type we serve, in one
 * batch; a type we do not serve (its devices are reported, not_built.c)
 * is listed after. *TYPES, *FES, *NF as list_many. */
static int scan_top(struct drvdom *dd, const char *token, char ***types, size_t *nt, char ****fes,
                    size_t **nf)
{
	size_t nb = dd->cfg.n_backends, w = token ? 1 : 0, n = w + 1 + nb;
	struct bhxs_op *ops = calloc(n, sizeof(*ops));
	char(*paths)[192] = calloc(nb ? nb : 1, sizeof(*paths));
	int rc = -ENOMEM;

	*types = NULL;
	*nt = 0;
	*fes = NULL;
	*nf = NULL;
	if (!ops || !paths)
		goto out;
	if (token)
		ops[0] = (struct bhxs_op){ .type = XS_WATCH,
			                   .path = dd->be_root,
			                   .val = token,
			                   .len = strlen(token) + 1 };
	ops[w] = (struct bhxs_op){ .type = XS_DIRECTORY, .path = dd->be_root };
	for (size_t b = 0; b < nb; b++) {
		snprintf(paths[b], sizeof(paths[b]), "%s/%s", dd->be_root,
		         dd->cfg.backends[b]->type);
		ops[w + 1 + b] = (struct bhxs_op){ .type = XS_DIRECTORY, .path = paths[b] };
	}
	if ((rc = bhxs_pipeline(dd->xs, 0, ops, n)) < 0) {
		bh_warn(&dd->log, "listing %s: %s", dd->be_root, bh_strerror(rc));
		goto out;
	}
	if (token && (rc = ops[0].rc) < 0) {
		bh_err(&dd->log, "watching %s: %s", dd->be_root, bh_strerror(rc));
		goto out;
	}
	if ((rc = ops[w].rc) == -ENOENT) { /* the toolstack has not made it yet */
		rc = 0;
		goto out;
	}
	if (rc < 0 || (rc = bhxs_split_names(ops[w].reply, ops[w].rlen, types, nt)) < 0) {
		bh_warn(&dd->log, "listing %s: %s", dd->be_root, bh_strerror(rc));
		goto out;
	}
	*fes = calloc(*nt ? *nt : 1, sizeof(**fes));
	*nf = calloc(*nt ? *nt : 1, sizeof(**nf));
	if (!*fes || !*nf) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < *nt; i++) {
		char path[192];
		size_t b = 0;

		while (b < nb && strcmp(dd->cfg.backends[b]->type, (*types)[i]) != 0)
			b++;
		if (b == nb) { /* not ours: asked alone */
			snprintf(path, sizeof(path), "%s/%s", dd->be_root, (*types)[i]);
			if (scan_dir(dd, path, &(*fes)[i], &(*nf)[i]) < 0)
				(*nf)[i] = 0;
			continue;
		}
		take_list(dd, &ops[w + 1 + b], &(*fes)[i], &(*nf)[i]);
	}
out:
	if (ops)
		bhxs_pipeline_free(ops, n);
	free(ops);
	free(paths);
	return rc;
}

int dd_scan_watching(struct drvdom *dd, const char *token)
{
	char(*paths)[192] = NULL, **types = NULL, ***fes = NULL, ***ids = NULL;
	size_t nt = 0, *nf = NULL, *ni = NULL, np = 0;
	struct found_list fl = { 0 };
	int rc;

	for (struct drvdom_dev *d = dd->devs; d; d = d->next)
		d->seen = false;
	if ((rc = scan_top(dd, token, &types, &nt, &fes, &nf)) < 0 || !fes) {
		free_lists(fes, nf, nt);
		bhxs_free_names(types, nt);
		return token ? rc : 0; /* a failed listing: the next event rescans */
	}
	for (size_t i = 0; i < nt; i++)
		np += nf[i];
	if (!(paths = calloc(np ? np : 1, sizeof(*paths))))
		goto out;
	np = 0;
	for (size_t i = 0; i < nt; i++)
		for (size_t j = 0; j < nf[i]; j++)
			snprintf(paths[np++], sizeof(paths[0]), "%s/%s/%s", dd->be_root, types[i],
			         fes[i][j]);
	if (list_many(dd, paths, np, &ids, &ni) < 0)
		goto out;
	np = 0;
	for (size_t i = 0; i < nt; i++)
		for (size_t j = 0; j < nf[i]; j++, np++)
			for (size_t k = 0; k < ni[np]; k++)
				found(dd, types[i], fes[i][j], ids[np][k], &fl);
	dd_devs_add(dd, fl.v, fl.n);
	for (struct drvdom_dev *d = dd->devs, *next; d; d = next) {
		next = d->next;
		if (!d->seen && !dir_exists(dd, d->be_path))
			dd_dev_gone(d);
	}
out:
	free(fl.v);
	free(paths);
	free_lists(ids, ni, np);
	free_lists(fes, nf, nt);
	bhxs_free_names(types, nt);
	return 0;
}

/* Everything under backend/: new devices are added, devices whose
 * directory went away are removed (mark and sweep). One round trip per
 * level, the first two together: the types and every served type's
 * frontends, then every frontend's devices in one batch (one listing
 * after another, a restart paid a round trip per level and per frontend
 * before it found its devices). */
void dd_scan(struct drvdom *dd)
{
	dd_scan_watching(dd, NULL);
}

/* An event under backend/<type>/<fe>/<devid>[/key]: the device appeared,
 * went away, or the toolstack changed one of its nodes. */
static void tree_event(struct drvdom *dd, const char *rel)
{
	char buf[192], *part[4] = { 0 }, *save = NULL;
	size_t n = 0;
	struct drvdom_dev *d;
	unsigned fe = 0, devid = 0;

	bh_strlcpy(buf, rel, sizeof(buf));
	for (char *t = strtok_r(buf, "/", &save); t && n < 4; t = strtok_r(NULL, "/", &save))
		part[n++] = t;
	if (n < 3 || parse_id(part[1], &fe) < 0 || parse_id(part[2], &devid) < 0) {
		dd_scan(dd); /* a whole type or frontend came or went */
		return;
	}
	d = drvdom_find(dd, part[0], fe, devid);
	/* A device's key other than state and online: nothing to do for a
	 * device we know. Whether its directory is gone need not be asked
	 * here: the store fires a removal for the directory's own path too.
	 * Asking cost a round trip per key, ~35 in a restart's handshake
	 * (the toolstack's rewrite and our own feature keys). */
	if (d && n == 4 && strcmp(part[3], "state") != 0 && strcmp(part[3], "online") != 0)
		return;
	/* Nor for its state or online, for the same reason: a state node
	 * that is gone reads as Unknown, which dd_dev_backend_changed
	 * ignores. Each of our own state switches fires this. */
	if (d && n == 4) {
		dd_dev_backend_changed(d);
		return;
	}
	if (d && !dir_exists(dd, d->be_path)) {
		dd_dev_gone(d);
		return;
	}
	if (!d)
		found(dd, part[0], part[1], part[2], NULL);
}

void dd_handle_watch(struct drvdom *dd, const char *path, const char *token)
{
	size_t rl = strlen(dd->be_root);

	if (strcmp(token, DD_TOKEN_TREE) == 0) {
		/* A store fires a new watch once, for the watched path, before
		 * any change: drvdom_start scanned after setting it. Rescanning
		 * cost a restart ~5 round trips before its first connect. */
		bool initial = dd->tree_initial && strcmp(path, dd->be_root) == 0;

		dd->tree_initial = false;
		if (!initial && strncmp(path, dd->be_root, rl) == 0 &&
		    (path[rl] == '/' || path[rl] == 0))
			tree_event(dd, path + rl);
		return;
	}
	if (strncmp(token, DD_TOKEN_FE, strlen(DD_TOKEN_FE)) == 0) {
		struct drvdom_dev *d = find_by_path(dd, token + strlen(DD_TOKEN_FE));

		if (d)
			dd_dev_frontend_changed(d);
	}
}
