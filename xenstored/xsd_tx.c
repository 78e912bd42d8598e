/* Transactions: a private copy of the tree, the set of paths touched with
 * their generations when first touched, and a log of the changes. The
 * commit fails with EAGAIN only if one of those paths changed meanwhile, so
 * transactions on disjoint subtrees never abort each other. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bulkhead/xs_wire.h"
#include "xenstored/xsd_int.h"

struct xsd_tx *xsd_tx_find(struct xsd_conn *c, uint32_t id)
{
	struct xsd_tx *tx;

	LIST_FOREACH(tx, &c->txs, link)
	if (tx->id == id)
		return tx;
	return NULL;
}

int xsd_tx_start(struct xsd_conn *c, uint32_t *id)
{
	struct xsd_tx *tx;

	if (!c->priv && c->ntx >= c->s->q.transactions)
		return -ENOSPC;
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		abort();
	do {
		tx->id = ++c->next_txid;
	} while (tx->id == 0 || xsd_tx_find(c, tx->id));
	xsd_tree_clone(&c->s->main, &tx->t_store);
	tx->t = &tx->t_store;
	LIST_INSERT_HEAD(&c->txs, tx, link);
	c->ntx++;
	*id = tx->id;
	return 0;
}

void xsd_tx_free(struct xsd_conn *c, struct xsd_tx *tx)
{
	LIST_REMOVE(tx, link);
	c->ntx--;
	xsd_tree_dispose(tx->t);
	for (size_t i = 0; i < tx->nacc; i++)
		free(tx->acc[i].path);
	free(tx->acc);
	for (size_t i = 0; i < tx->nops; i++) {
		for (int j = 0; j < 3; j++)
			free(tx->ops[i].args[j]);
		xsd_perms_dispose(&tx->ops[i].perms);
	}
	free(tx->ops);
	free(tx);
}

int xsd_tx_access(struct xsd_ctx *x, const char *path, const struct xsd_node *n)
{
	struct xsd_tx *tx = x->tx;

	for (size_t i = 0; i < tx->nacc; i++)
		if (strcmp(tx->acc[i].path, path) == 0)
			return 0;
	if (x->check && x->c && !x->c->priv && tx->nacc >= x->s->q.tx_nodes)
		return -ENOSPC;
	if (tx->nacc == tx->capacc) {
		tx->capacc = tx->capacc ? tx->capacc * 2 : 16;
		tx->acc = xsd_xrealloc(tx->acc, tx->capacc, sizeof(*tx->acc));
	}
	tx->acc[tx->nacc].path = xsd_xstrdup(path);
	tx->acc[tx->nacc].gen = n ? n->gen : 0;
	tx->nacc++;
	return 0;
}

int xsd_tx_log(struct xsd_ctx *x, uint32_t type, const char *a0, const char *a1, size_t vlen,
               const struct xsd_perms *perms)
{
	struct xsd_tx *tx = x->tx;
	struct xsd_op *op;

	if (tx->nops == tx->capops) {
		tx->capops = tx->capops ? tx->capops * 2 : 8;
		tx->ops = xsd_xrealloc(tx->ops, tx->capops, sizeof(*tx->ops));
	}
	op = &tx->ops[tx->nops++];
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->args[0] = xsd_xstrdup(a0);
	if (a1) {
		op->args[1] = malloc(vlen + 1);
		if (!op->args[1])
			abort();
		memcpy(op->args[1], a1, vlen);
		op->args[1][vlen] = '\0';
		op->vlen = vlen;
	}
	if (perms)
		xsd_perms_copy(perms, &op->perms);
	return 0;
}

static bool conflicts(struct xsd *s, const struct xsd_tx *tx)
{
	for (size_t i = 0; i < tx->nacc; i++) {
		const struct xsd_node *n = xsd_lookup(&s->main, tx->acc[i].path);

		if ((n ? n->gen : 0) != tx->acc[i].gen)
			return true;
	}
	return false;
}

int xsd_tx_end(struct xsd_conn *c, struct xsd_tx *tx, bool commit)
{
	struct xsd_ctx x = { .s = c->s, .c = c, .t = &c->s->main, .check = false };
	int rc = 0;

	if (commit && conflicts(c->s, tx))
		rc = -EAGAIN;
	else if (commit)
		for (size_t i = 0; i < tx->nops; i++)
			xsd_op_apply(&x, &tx->ops[i]);
	xsd_tx_free(c, tx);
	return rc;
}
