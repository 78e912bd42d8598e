#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulkhead/xs_wire.h"
#include "common/util.h"
#include "pvkernel/xbfront.h"
#include "xenstored/bhxs.h"

void pvk_fe_say(void (*log)(void *, const char *), void *arg, const char *fmt, ...)
{
	char buf[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log)
		log(arg, buf);
}

int pvk_fe_wait_state(struct bhxs *xs, const char *dir, unsigned want, int timeout_ms)
{
	char p[256], *path, *tok;
	unsigned long long st;
	uint64_t end = bh_now_ns() + (uint64_t)timeout_ms * 1000000;
	int rc;

	snprintf(p, sizeof(p), "%s/state", dir);
	if ((rc = bhxs_watch(xs, p, "fe-state")) < 0)
		return rc;
	for (;;) {
		if (bhxs_read_uint(xs, 0, p, &st) == 0) {
			if (st == want || (want < XB_CONNECTED && st == XB_CONNECTED))
				break;
			if (st >= XB_CLOSING) {
				rc = -ECONNRESET;
				goto out;
			}
		}
		int left = (int)((int64_t)(end - bh_now_ns()) / 1000000);
		if (left <= 0) {
			rc = -ETIMEDOUT;
			goto out;
		}
		if (bhxs_wait_watch(xs, BH_MIN(left, 200), &path, &tok) == 0) {
			free(path);
			free(tok);
		}
	}
	rc = 0;
out:
	bhxs_unwatch(xs, p, "fe-state");
	return rc;
}

long long pvk_fe_read_state(struct bhxs *xs, const char *dir)
{
	char p[256];
	unsigned long long v;

	snprintf(p, sizeof(p), "%s/state", dir);
	return bhxs_read_uint(xs, 0, p, &v) == 0 && v < 1000 ? (long long)v : -1;
}

const char *pvk_fe_state_name(long long st)
{
	static const char *const names[] = { "Unknown",     "Initialising",  "InitWait",
		                             "Initialised", "Connected",     "Closing",
		                             "Closed",      "Reconfiguring", "Reconfigured" };
	return st < 0 ? "gone" : st < (long long)BH_ARRAY_SIZE(names) ? names[st] : "invalid";
}

/* A backend that closed on an error, or connected to a ring it cannot
 * serve, waits for the frontend to start over at Initialising: asked up
 * to three times per outage. */
static void start_over(struct bhxs *xs, struct pvk_fe_link *l, const struct pvk_fe_link_ops *ops,
                       const char *why)
{
	char p[256];

	if (l->retries++ >= 3)
		return;
	pvk_fe_say(ops->log, ops->log_arg, "%s: backend %s %s: trying again", l->what, l->be, why);
	snprintf(p, sizeof(p), "%s/state", l->fe);
	bhxs_printf(xs, 0, p, "%u", XB_INITIALISING);
}

void pvk_fe_follow(struct bhxs *xs, struct pvk_fe_link *l, long long st,
                   const struct pvk_fe_link_ops *ops, void *arg)
{
	if (l->phase == PVK_FE_UP && st != XB_CONNECTED) {
		/* Gone, re-created at Initialising, or closing: the ring is
		 * dead. The phase first: the frontend's I/O side sees it and
		 * leaves the ring alone from then on. */
		l->phase = PVK_FE_DOWN;
		l->down_ns = bh_now_ns();
		l->retries = 0;
		ops->down(arg, st);
	}
	if (l->phase == PVK_FE_JOINING && st != XB_CONNECTED && st != XB_INITWAIT &&
	    st != XB_INITIALISED && !(l->early && st == XB_INITIALISING)) {
		/* Went away again, or refused us, during the handshake. */
		ops->drop(arg);
		l->phase = PVK_FE_DOWN;
		l->early = false;
		if (st >= XB_CLOSING)
			start_over(xs, l, ops, "refused the new ring");
	}
	if (l->phase == PVK_FE_JOINING && l->early && (st == XB_INITWAIT || st == XB_CONNECTED)) {
		/* What it offers now, checked once against what was published.
		 * A ring that does not fit is dropped: at InitWait the usual
		 * attach follows in this step; a backend that connected to it
		 * is asked to start over. */
		l->early = false;
		if (ops->check(xs, arg) < 0) {
			ops->drop(arg);
			l->phase = PVK_FE_DOWN;
			if (st == XB_CONNECTED)
				start_over(xs, l, ops,
				           "took a ring published ahead that it cannot serve");
		}
	}
	/* The directory written again, no refusal yet in this outage: the new
	 * ring now, on the features offered last, so that the new backend
	 * finds it ready when it first looks at us. */
	if (l->phase == PVK_FE_DOWN && st == XB_INITIALISING && l->retries == 0 &&
	    ops->attach_early && ops->attach_early(xs, arg) == 0) {
		l->phase = PVK_FE_JOINING;
		l->early = true;
	}
	if (l->phase == PVK_FE_DOWN && st == XB_INITWAIT && ops->attach(xs, arg) == 0)
		l->phase = PVK_FE_JOINING;
	if (l->phase == PVK_FE_JOINING && st == XB_CONNECTED) {
		l->phase = PVK_FE_UP;
		l->recoveries++;
		ops->up(xs, arg, (bh_now_ns() - l->down_ns) / 1000000);
	}
}

int pvk_fe_read_uints(struct bhxs *xs, const char *dir, struct pvk_fe_key *k, size_t n)
{
	char paths[PVK_FE_BATCH_MAX][256];
	struct bhxs_op ops[PVK_FE_BATCH_MAX];
	int rc;

	if (n > PVK_FE_BATCH_MAX)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir, k[i].key);
		ops[i] = (struct bhxs_op){ .type = XS_READ, .path = paths[i] };
	}
	if ((rc = bhxs_pipeline(xs, 0, ops, n)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		k[i].rc = ops[i].rc == -ENOENT ? 0 : ops[i].rc;
		if (ops[i].rc == 0)
			k[i].rc = bhxs_parse_uint(ops[i].reply, k[i].out);
		if (ops[i].rc == -ENOENT || k[i].rc < 0)
			*k[i].out = k[i].dflt;
		if (rc == 0)
			rc = k[i].rc;
	}
	bhxs_pipeline_free(ops, n);
	return rc;
}

long long pvk_fe_read_state_uints(struct bhxs *xs, const char *dir, struct pvk_fe_key *k, size_t n,
                                  int *rc)
{
	struct pvk_fe_key all[PVK_FE_BATCH_MAX];
	unsigned long long st;
	bool key_error = false;

	if (n + 1 > PVK_FE_BATCH_MAX) {
		*rc = -E2BIG;
		return -1;
	}
	all[0] = (struct pvk_fe_key){ "state", ~0ull, &st, 0 };
	memcpy(all + 1, k, n * sizeof(*k));
	for (size_t i = 0; i <= n; i++)
		all[i].rc = 0;
	*rc = pvk_fe_read_uints(xs, dir, all, n + 1);
	for (size_t i = 0; i <= n; i++) {
		key_error |= all[i].rc < 0;
		if (i > 0)
			k[i - 1].rc = all[i].rc;
	}
	if (key_error)
		*rc = 0; /* a key's own error is in its rc (the state's: gone) */
	return *rc == 0 && all[0].rc == 0 && st < 1000 ? (long long)st : -1;
}

void pvk_fe_put(struct pvk_fe_batch *b, const char *dir, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (b->n >= PVK_FE_BATCH_MAX) {
		b->error = -E2BIG;
		return;
	}
	snprintf(b->paths[b->n], sizeof(b->paths[b->n]), "%s/%s", dir, key);
	va_start(ap, fmt);
	vsnprintf(b->vals[b->n], sizeof(b->vals[b->n]), fmt, ap);
	va_end(ap);
	b->ops[b->n] = (struct bhxs_op){ .type = XS_WRITE,
		                         .path = b->paths[b->n],
		                         .val = b->vals[b->n],
		                         .len = strlen(b->vals[b->n]) };
	b->n++;
}

int pvk_fe_write_batch(struct bhxs *xs, struct pvk_fe_batch *b)
{
	if (b->error)
		return b->error;
	return bhxs_pipeline_run(xs, 0, b->ops, b->n);
}
