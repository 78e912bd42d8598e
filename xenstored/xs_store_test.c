/* The store library against Xen's semantics: every message type, the
 * permission rules across domains, watches, transactions, quotas at and
 * one past their limits, malformed messages, and domain release. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/bhtest.h"
#include "xenstored/xs_testlib.h"

struct env {
	struct xsd *s;
	struct peer d0, d5, d6;
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));

	e->s = xsd_new(NULL, NULL);
	peer_init(&e->d0, e->s, 0, true);
	peer_init(&e->d5, e->s, 5, false);
	peer_init(&e->d6, e->s, 6, false);
	return e;
}

static void env_free(struct env *e)
{
	xsd_free(e->s);
	free(e);
}

/* dom0 makes /local/domain/5 owned by 5, as a toolstack does. */
static void make_home(struct env *e, unsigned domid)
{
	char path[64], owner[16];

	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	snprintf(owner, sizeof(owner), "n%u", domid);
	assert_int_equal(peer_callv(&e->d0, XS_MKDIR, 0, 1, path), 0);
	assert_int_equal(peer_callv(&e->d0, XS_SET_PERMS, 0, 2, path, owner), 0);
}

static void test_read_write(void **state)
{
	struct env *e = env_new();

	assert_int_equal(xs_write(&e->d0, 0, "/a/b/c", "hello"), 0);
	assert_string_equal(e->d0.reply, "OK");
	assert_int_equal(e->d0.rlen, 3);
	assert_int_equal(xs_read(&e->d0, 0, "/a/b/c"), 0);
	assert_int_equal(e->d0.rlen, 5); /* no trailing NUL */
	assert_memory_equal(e->d0.reply, "hello", 5);
	assert_int_equal(xs_read(&e->d0, 0, "/a/b"), 0);
	assert_int_equal(e->d0.rlen, 0); /* parents made with empty values */
	assert_int_equal(xs_read(&e->d0, 0, "/a/nope"), ENOENT);
	assert_string_equal(e->d0.reply, "ENOENT");
	assert_int_equal(e->d0.rtype, XS_ERROR);
	assert_int_equal(xs_write(&e->d0, 0, "/a/x", ""), 0);
	assert_int_equal(peer_callv(&e->d0, XS_DIRECTORY, 0, 1, "/a"), 0);
	assert_int_equal(e->d0.rlen, 4);
	assert_memory_equal(e->d0.reply, "b\0x\0", 4);
	/* MKDIR leaves an existing node alone. */
	assert_int_equal(peer_callv(&e->d0, XS_MKDIR, 0, 1, "/a/b/c"), 0);
	assert_int_equal(xs_read(&e->d0, 0, "/a/b/c"), 0);
	assert_memory_equal(e->d0.reply, "hello", 5);
	env_free(e);
}

static void test_rm(void **state)
{
	struct env *e = env_new();

	assert_int_equal(xs_write(&e->d0, 0, "/r/a/b", "1"), 0);
	assert_int_equal(peer_callv(&e->d0, XS_RM, 0, 1, "/r/zz"), 0);      /* absent: fine */
	assert_int_equal(peer_callv(&e->d0, XS_RM, 0, 1, "/q/zz"), ENOENT); /* no parent */
	assert_int_equal(peer_callv(&e->d0, XS_RM, 0, 1, "/r"), 0);
	assert_int_equal(xs_read(&e->d0, 0, "/r/a/b"), ENOENT);
	assert_int_equal(xs_read(&e->d0, 0, "/r"), ENOENT);
	assert_int_equal(peer_callv(&e->d0, XS_RM, 0, 1, "/"), EINVAL);
	env_free(e);
}

static void test_perms_across_domains(void **state)
{
	struct env *e = env_new();

	assert_int_equal(xs_write(&e->d0, 0, "/d/x", "secret"), 0);
	/* Inherited from / : n0, nobody else may read. */
	assert_int_equal(xs_read(&e->d5, 0, "/d/x"), EACCES);
	assert_int_equal(xs_write(&e->d5, 0, "/d/x", "no"), EACCES);
	assert_int_equal(xs_write(&e->d5, 0, "/d/new", "no"), EACCES);
	assert_int_equal(peer_callv(&e->d0, XS_SET_PERMS, 0, 3, "/d/x", "n0", "r5"), 0);
	assert_int_equal(xs_read(&e->d5, 0, "/d/x"), 0);
	assert_int_equal(xs_read(&e->d6, 0, "/d/x"), EACCES);
	assert_int_equal(xs_write(&e->d5, 0, "/d/x", "no"), EACCES);
	/* Default letter applies to everyone not listed. */
	assert_int_equal(peer_callv(&e->d0, XS_SET_PERMS, 0, 3, "/d/x", "r0", "w5"), 0);
	assert_int_equal(xs_read(&e->d6, 0, "/d/x"), 0);
	assert_int_equal(xs_read(&e->d5, 0, "/d/x"), EACCES);
	assert_int_equal(xs_write(&e->d5, 0, "/d/x", "yes"), 0);
	/* The owner has full access and may change perms, but not give the
	 * node away; others may not change perms at all. */
	assert_int_equal(peer_callv(&e->d0, XS_SET_PERMS, 0, 3, "/d/x", "n5", "r6"), 0);
	assert_int_equal(xs_write(&e->d5, 0, "/d/x", "mine"), 0);
	assert_int_equal(xs_write(&e->d5, 0, "/d/x/kid", "k"), 0);
	assert_int_equal(peer_callv(&e->d0, XS_GET_PERMS, 0, 1, "/d/x/kid"), 0);
	assert_int_equal(e->d0.rlen, 6);
	assert_memory_equal(e->d0.reply, "n5\0r6\0", 6); /* inherited */
	assert_int_equal(peer_callv(&e->d6, XS_SET_PERMS, 0, 2, "/d/x", "b6"), EACCES);
	assert_int_equal(peer_callv(&e->d5, XS_SET_PERMS, 0, 2, "/d/x", "n6"), EPERM);
	assert_int_equal(peer_callv(&e->d5, XS_SET_PERMS, 0, 3, "/d/x", "n5", "b6"), 0);
	assert_int_equal(xs_write(&e->d6, 0, "/d/x", "six"), 0);
	/* A domain creating under a writable node owns what it creates. */
	assert_int_equal(xs_write(&e->d6, 0, "/d/x/six", "6"), 0);
	assert_int_equal(peer_callv(&e->d0, XS_GET_PERMS, 0, 1, "/d/x/six"), 0);
	assert_memory_equal(e->d0.reply, "n6\0b6\0", 6);
	/* Bad permission strings. */
	assert_int_equal(peer_callv(&e->d0, XS_SET_PERMS, 0, 2, "/d/x", "x5"), EINVAL);
	assert_int_equal(peer_callv(&e->d0, XS_SET_PERMS, 0, 2, "/d/x", "r"), EINVAL);
	assert_int_equal(peer_callv(&e->d0, XS_SET_PERMS, 0, 1, "/d/x"), EINVAL);
	assert_int_equal(peer_callv(&e->d0, XS_SET_PERMS, 0, 2, "/d/none", "n0"), ENOENT);
	env_free(e);
}

static void test_relative_paths(void **state)
{
	struct env *e = env_new();

	make_home(e, 5);
	assert_int_equal(xs_write(&e->d5, 0, "data/k", "v"), 0);
	assert_int_equal(xs_read(&e->d0, 0, "/local/domain/5/data/k"), 0);
	assert_int_equal(xs_read(&e->d5, 0, "data/k"), 0);
	assert_int_equal(peer_callv(&e->d5, XS_GET_DOMAIN_PATH, 0, 1, "5"), 0);
	assert_string_equal(e->d5.reply, "/local/domain/5");
	env_free(e);
}

static void test_bad_paths(void **state)
{
	struct env *e = env_new();
	static const char *const bad[] = { "/a//b", "/a/", "/a b", "/a\tb",    "",
		                           "@foo",  "/ä",  "//",   "/a/./../b" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(xs_write(&e->d0, 0, bad[i], "x"), EINVAL);
	assert_int_equal(xs_read(&e->d0, 0, "@releaseDomain"), EINVAL);
	assert_int_equal(xs_write(&e->d0, 0, "/ok-_@/A9", "x"), 0);
	env_free(e);
}

static void test_watch_subtree(void **state)
{
	struct env *e = env_new();

	assert_int_equal(peer_callv(&e->d0, XS_WATCH, 0, 2, "/w", "tok"), 0);
	assert_string_equal(e->d0.reply, "OK");
	assert_true(peer_has_event(&e->d0, "/w", "tok")); /* immediate */
	peer_clear(&e->d0);
	assert_int_equal(xs_write(&e->d0, 0, "/w/a/b", "1"), 0);
	assert_true(peer_has_event(&e->d0, "/w/a/b", "tok"));
	peer_clear(&e->d0);
	assert_int_equal(xs_write(&e->d0, 0, "/wx", "1"), 0); /* not below /w */
	assert_int_equal(xs_write(&e->d0, 0, "/other", "1"), 0);
	peer_drain(&e->d0);
	assert_int_equal(e->d0.nev, 0);
	assert_int_equal(peer_callv(&e->d0, XS_WATCH, 0, 2, "/w", "tok"), EEXIST);
	assert_int_equal(peer_callv(&e->d0, XS_UNWATCH, 0, 2, "/w", "nope"), ENOENT);
	assert_int_equal(peer_callv(&e->d0, XS_UNWATCH, 0, 2, "/w", "tok"), 0);
	assert_int_equal(xs_write(&e->d0, 0, "/w/a/b", "2"), 0);
	peer_drain(&e->d0);
	assert_int_equal(e->d0.nev, 0);
	env_free(e);
}

static void test_watch_recursive_rm(void **state)
{
	struct env *e = env_new();

	assert_int_equal(xs_write(&e->d0, 0, "/r/a/b", "1"), 0);
	assert_int_equal(peer_callv(&e->d0, XS_WATCH, 0, 2, "/r/a/b", "deep"), 0);
	assert_int_equal(peer_callv(&e->d0, XS_WATCH, 0, 2, "/r", "top"), 0);
	peer_clear(&e->d0);
	assert_int_equal(peer_callv(&e->d0, XS_RM, 0, 1, "/r"), 0);
	assert_true(peer_has_event(&e->d0, "/r/a/b", "deep"));
	assert_true(peer_has_event(&e->d0, "/r", "top"));
	env_free(e);
}

static void test_watch_relative_and_perms(void **state)
{
	struct env *e = env_new();

	make_home(e, 5);
	assert_int_equal(peer_callv(&e->d5, XS_WATCH, 0, 2, "dev", "t5"), 0);
	assert_true(peer_has_event(&e->d5, "dev", "t5"));
	assert_int_equal(peer_callv(&e->d6, XS_WATCH, 0, 2, "/local/domain/5/dev", "t6"), 0);
	peer_clear(&e->d5);
	peer_clear(&e->d6);
	assert_int_equal(xs_write(&e->d0, 0, "/local/domain/5/dev/vbd", "x"), 0);
	assert_true(peer_has_event(&e->d5, "dev/vbd", "t5")); /* relative, as set */
	peer_drain(&e->d6);
	assert_int_equal(e->d6.nev, 0); /* 6 may not read the node */
	env_free(e);
}

static void test_special_watches(void **state)
{
	struct env *e = env_new();

	assert_int_equal(peer_callv(&e->d0, XS_WATCH, 0, 2, "@introduceDomain", "i"), 0);
	assert_int_equal(peer_callv(&e->d0, XS_WATCH, 0, 2, "@releaseDomain", "r"), 0);
	assert_int_equal(peer_callv(&e->d6, XS_WATCH, 0, 2, "@releaseDomain", "r6"), 0);
	peer_clear(&e->d0);
	peer_clear(&e->d6);
	assert_int_equal(peer_callv(&e->d0, XS_INTRODUCE, 0, 3, "5", "123", "7"), 0);
	assert_true(peer_has_event(&e->d0, "@introduceDomain", "i"));
	assert_int_equal(peer_callv(&e->d0, XS_IS_DOMAIN_INTRODUCED, 0, 1, "5"), 0);
	assert_string_equal(e->d0.reply, "T");
	assert_int_equal(peer_callv(&e->d0, XS_INTRODUCE, 0, 3, "5", "123", "7"), 0);
	assert_int_equal(peer_callv(&e->d0, XS_INTRODUCE, 0, 3, "5", "123", "8"), EISCONN);
	assert_int_equal(peer_callv(&e->d0, XS_RESUME, 0, 1, "5"), 0);
	assert_int_equal(peer_callv(&e->d0, XS_RELEASE, 0, 1, "5"), 0);
	assert_true(peer_has_event(&e->d0, "@releaseDomain", "r"));
	peer_drain(&e->d6);
	assert_int_equal(e->d6.nev, 0); /* unprivileged, not granted */
	assert_int_equal(peer_callv(&e->d0, XS_IS_DOMAIN_INTRODUCED, 0, 1, "5"), 0);
	assert_string_equal(e->d0.reply, "F");
	assert_int_equal(peer_callv(&e->d0, XS_RELEASE, 0, 1, "5"), ENOENT);
	/* Granting read on the special node lets domain 6 see it. */
	assert_int_equal(peer_callv(&e->d0, XS_SET_PERMS, 0, 3, "@releaseDomain", "n0", "r6"), 0);
	assert_int_equal(peer_callv(&e->d0, XS_INTRODUCE, 0, 3, "7", "1", "1"), 0);
	xsd_domain_released(e->s, 7);
	assert_true(peer_has_event(&e->d6, "@releaseDomain", "r6"));
	assert_int_equal(peer_callv(&e->d6, XS_INTRODUCE, 0, 3, "8", "1", "1"), EACCES);
	assert_int_equal(peer_callv(&e->d6, XS_RELEASE, 0, 1, "8"), EACCES);
	env_free(e);
}

/* Remove a directory and write it again in one transaction (as a
 * toolstack rewriting a device does): it commits, and the result is the
 * new contents only; an outside change to a removed child still aborts. */
static void test_tx_remove_then_rewrite(void **state)
{
	struct env *e = env_new();
	uint32_t a;

	(void)state;
	assert_int_equal(xs_write(&e->d0, 0, "/d/x", "old"), 0);
	assert_int_equal(xs_write(&e->d0, 0, "/d/y", "old"), 0);
	a = xs_tx_start(&e->d0);
	assert_int_equal(peer_callv(&e->d0, XS_RM, a, 1, "/d"), 0);
	assert_int_equal(xs_write(&e->d0, a, "/d/x", "new"), 0);
	assert_int_equal(xs_tx_end(&e->d0, a, true), 0);
	assert_int_equal(xs_read(&e->d0, 0, "/d/x"), 0);
	assert_memory_equal(e->d0.reply, "new", 3);
	assert_int_equal(xs_read(&e->d0, 0, "/d/y"), ENOENT);
	/* The same with a concurrent outside write to a removed child. */
	assert_int_equal(xs_write(&e->d0, 0, "/d/y", "old"), 0);
	a = xs_tx_start(&e->d0);
	assert_int_equal(peer_callv(&e->d0, XS_RM, a, 1, "/d"), 0);
	assert_int_equal(xs_write(&e->d0, a, "/d/y", "mine"), 0);
	assert_int_equal(xs_write(&e->d0, 0, "/d/y", "theirs"), 0);
	assert_int_equal(xs_tx_end(&e->d0, a, true), EAGAIN);
	assert_int_equal(xs_read(&e->d0, 0, "/d/y"), 0);
	assert_memory_equal(e->d0.reply, "theirs", 6);
	env_free(e);
}

static void test_tx_conflict(void **state)
{
	struct env *e = env_new();
	uint32_t a, b;

	assert_int_equal(xs_write(&e->d0, 0, "/t/x", "0"), 0);
	a = xs_tx_start(&e->d0);
	b = xs_tx_start(&e->d0);
	assert_true(a && b && a != b);
	assert_int_equal(xs_read(&e->d0, a, "/t/x"), 0);
	assert_int_equal(xs_read(&e->d0, b, "/t/x"), 0);
	assert_int_equal(xs_write(&e->d0, a, "/t/x", "a"), 0);
	assert_int_equal(xs_write(&e->d0, b, "/t/x", "b"), 0);
	/* Isolation: nothing shows outside before the commit. */
	assert_int_equal(xs_read(&e->d0, 0, "/t/x"), 0);
	assert_memory_equal(e->d0.reply, "0", 1);
	assert_int_equal(xs_tx_end(&e->d0, a, true), 0);
	assert_int_equal(xs_tx_end(&e->d0, b, true), EAGAIN);
	assert_int_equal(xs_read(&e->d0, 0, "/t/x"), 0);
	assert_memory_equal(e->d0.reply, "a", 1);
	/* A read alone conflicts with an outside write to what was read. */
	a = xs_tx_start(&e->d0);
	assert_int_equal(xs_read(&e->d0, a, "/t/x"), 0);
	assert_int_equal(xs_write(&e->d0, 0, "/t/x", "out"), 0);
	assert_int_equal(xs_write(&e->d0, a, "/t/y", "in"), 0);
	assert_int_equal(xs_tx_end(&e->d0, a, true), EAGAIN);
	assert_int_equal(xs_read(&e->d0, 0, "/t/y"), ENOENT);
	/* Abort never fails and discards. */
	a = xs_tx_start(&e->d0);
	assert_int_equal(xs_write(&e->d0, a, "/t/z", "1"), 0);
	assert_int_equal(xs_tx_end(&e->d0, a, false), 0);
	assert_int_equal(xs_read(&e->d0, 0, "/t/z"), ENOENT);
	assert_int_equal(xs_tx_end(&e->d0, a, true), ENOENT); /* gone */
	assert_int_equal(xs_read(&e->d0, 999, "/t/x"), ENOENT);
	assert_int_equal(peer_call(&e->d0, XS_TRANSACTION_START, 5, "", 1), EBUSY);
	env_free(e);
}

static void test_tx_disjoint_never_abort(void **state)
{
	struct env *e = env_new();
	uint32_t tx[8];
	char path[64];

	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "/sub/%d/k", i);
		assert_int_equal(xs_write(&e->d0, 0, path, "0"), 0);
	}
	for (int i = 0; i < 8; i++)
		tx[i] = xs_tx_start(&e->d0);
	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "/sub/%d/k", i);
		assert_int_equal(xs_read(&e->d0, tx[i], path), 0);
		assert_int_equal(xs_write(&e->d0, tx[i], path, "1"), 0);
		snprintf(path, sizeof(path), "/sub/%d/new/deeper", i);
		assert_int_equal(xs_write(&e->d0, tx[i], path, "n"), 0);
		snprintf(path, sizeof(path), "/sub/%d", i);
		assert_int_equal(peer_callv(&e->d0, XS_DIRECTORY, tx[i], 1, path), 0);
	}
	for (int i = 0; i < 8; i++)
		assert_int_equal(xs_tx_end(&e->d0, tx[i], true), 0);
	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "/sub/%d/new/deeper", i);
		assert_int_equal(xs_read(&e->d0, 0, path), 0);
	}
	env_free(e);
}

static void test_tx_events_at_commit(void **state)
{
	struct env *e = env_new();
	uint32_t a;

	assert_int_equal(peer_callv(&e->d6, XS_WATCH, 0, 2, "/", "all"), 0);
	peer_clear(&e->d6);
	assert_int_equal(peer_callv(&e->d0, XS_SET_PERMS, 0, 2, "/", "r0"), 0);
	peer_clear(&e->d6);
	assert_int_equal(xs_write(&e->d0, 0, "/gone/x", "x"), 0);
	peer_clear(&e->d6);
	a = xs_tx_start(&e->d0);
	assert_int_equal(xs_write(&e->d0, a, "/e/1", "x"), 0);
	assert_int_equal(peer_callv(&e->d0, XS_RM, a, 1, "/gone"), 0);
	peer_drain(&e->d6);
	assert_int_equal(e->d6.nev, 0);
	assert_int_equal(xs_tx_end(&e->d0, a, true), 0);
	assert_true(peer_has_event(&e->d6, "/e/1", "all"));
	assert_true(peer_has_event(&e->d6, "/gone", "all"));
	env_free(e);
}

static void test_quota_nodes(void **state)
{
	struct env *e = env_new();
	char path[64];
	int ok = 0, rc = 0;

	make_home(e, 5); /* 1 node owned by 5 */
	for (int d = 0; d < 10; d++) {
		snprintf(path, sizeof(path), "d%d", d);
		assert_int_equal(peer_callv(&e->d5, XS_MKDIR, 0, 1, path), 0);
	}
	for (int i = 0; i < 2000; i++) {
		snprintf(path, sizeof(path), "d%d/k%d", i / 100, i % 100);
		if ((rc = xs_write(&e->d5, 0, path, "v")) != 0)
			break;
		ok++;
	}
	assert_int_equal(ok, 1000 - 11); /* exactly at the limit */
	assert_int_equal(rc, ENOSPC);
	/* dom0 is not limited, and deleting frees quota. */
	assert_int_equal(xs_write(&e->d0, 0, "/zero/owned", "v"), 0);
	assert_int_equal(peer_callv(&e->d5, XS_RM, 0, 1, "d0/k0"), 0);
	assert_int_equal(xs_write(&e->d5, 0, "d0/again", "v"), 0);
	assert_int_equal(xs_write(&e->d5, 0, "d0/again2", "v"), ENOSPC);
	env_free(e);
}

static void test_quota_node_size(void **state)
{
	struct env *e = env_new();
	char val[4000];

	make_home(e, 5);
	memset(val, 'v', sizeof(val));
	val[2015] = '\0'; /* 24 + 8 + 2015 = 2047 < 2048 */
	assert_int_equal(xs_write(&e->d5, 0, "big", val), 0);
	val[2015] = 'v';
	val[2016] = '\0';
	assert_int_equal(xs_write(&e->d5, 0, "big", val), ENOSPC);
	assert_int_equal(xs_write(&e->d5, 0, "big2", val), ENOSPC);
	assert_int_equal(xs_write(&e->d0, 0, "/local/domain/5/big", val), 0); /* dom0 */
	env_free(e);
}

static void test_quota_watches(void **state)
{
	struct env *e = env_new();
	char tok[16];

	for (int i = 0; i < 128; i++) {
		snprintf(tok, sizeof(tok), "t%d", i);
		assert_int_equal(peer_callv(&e->d5, XS_WATCH, 0, 2, "/w", tok), 0);
	}
	assert_int_equal(peer_callv(&e->d5, XS_WATCH, 0, 2, "/w", "one-more"), E2BIG);
	assert_int_equal(peer_callv(&e->d5, XS_UNWATCH, 0, 2, "/w", "t0"), 0);
	assert_int_equal(peer_callv(&e->d5, XS_WATCH, 0, 2, "/w", "one-more"), 0);
	for (int i = 0; i < 200; i++) { /* dom0: no quota */
		snprintf(tok, sizeof(tok), "t%d", i);
		assert_int_equal(peer_callv(&e->d0, XS_WATCH, 0, 2, "/w", tok), 0);
	}
	assert_int_equal(peer_call(&e->d5, XS_RESET_WATCHES, 0, "", 1), 0);
	assert_int_equal(peer_callv(&e->d5, XS_WATCH, 0, 2, "/w", "fresh"), 0);
	env_free(e);
}

static void test_quota_transactions(void **state)
{
	struct env *e = env_new();

	for (int i = 0; i < 10; i++)
		assert_true(xs_tx_start(&e->d5) != 0);
	assert_int_equal(peer_call(&e->d5, XS_TRANSACTION_START, 0, "", 1), ENOSPC);
	for (int i = 0; i < 20; i++)
		assert_true(xs_tx_start(&e->d0) != 0);
	env_free(e);
}

static void test_quota_tx_nodes(void **state)
{
	struct env *e = env_new();
	uint32_t tx = xs_tx_start(&e->d5);
	char path[64];

	for (int i = 0; i < 1024; i++) {
		snprintf(path, sizeof(path), "/n%d", i);
		assert_int_equal(xs_read(&e->d5, tx, path), ENOENT);
	}
	assert_int_equal(xs_read(&e->d5, tx, "/one-more"), ENOSPC);
	env_free(e);
}

static void test_quota_perms(void **state)
{
	struct env *e = env_new();

	make_home(e, 5);
	assert_int_equal(
	    peer_callv(&e->d5, XS_SET_PERMS, 0, 6, "/local/domain/5", "n5", "r1", "r2", "r3", "r4"),
	    0);
	assert_int_equal(peer_callv(&e->d5, XS_SET_PERMS, 0, 7, "/local/domain/5", "n5", "r1", "r2",
	                            "r3", "r4", "r6"),
	                 ENOSPC);
	env_free(e);
}

static void test_quota_path_len(void **state)
{
	struct env *e = env_new();
	char rel[2100];
	size_t len = 0;

	make_home(e, 5);
	for (int i = 0; i < 20; i++) {
		memset(rel + len, 'x', 99);
		len += 99;
		rel[len++] = '/';
	}
	memset(rel + len, 'y', 48);
	len += 48;
	rel[len] = '\0';
	assert_int_equal(strlen(rel), 2048);
	assert_int_equal(xs_write(&e->d5, 0, rel, "v"), 0);
	rel[len++] = 'z';
	rel[len] = '\0';
	assert_int_equal(xs_write(&e->d5, 0, rel, "v"), EINVAL);
	env_free(e);
}

static void test_malformed(void **state)
{
	struct env *e = env_new();
	struct xsd_sockmsg h = { .type = XS_READ, .len = 3 };

	/* A partial header waits for the rest. */
	assert_int_equal(xsd_conn_input(e->d5.c, &h, 10), 0);
	assert_int_equal(evbuffer_get_length(xsd_conn_output(e->d5.c)), 0);
	assert_int_equal(xsd_conn_input(e->d5.c, (char *)&h + 10, 6), 0);
	assert_int_equal(xsd_conn_input(e->d5.c, "/ab", 3), 0); /* no NUL */
	peer_drain(&e->d5);
	/* Unknown and server-only types. */
	assert_int_equal(peer_call(&e->d5, 20, 0, "", 0), ENOSYS);
	assert_int_equal(peer_call(&e->d5, XS_WATCH_EVENT, 0, "a\0b", 4), ENOSYS);
	assert_int_equal(peer_call(&e->d5, XS_ERROR, 0, "", 0), ENOSYS);
	assert_int_equal(peer_call(&e->d5, 9999, 0, "", 0), ENOSYS);
	assert_int_equal(peer_call(&e->d5, XS_INVALID, 0, "", 0), ENOSYS);
	assert_int_equal(peer_call(&e->d5, XS_READ, 0, "/abc", 4), EINVAL); /* unterminated */
	assert_int_equal(peer_call(&e->d5, XS_READ, 0, "", 0), EINVAL);
	assert_int_equal(peer_call(&e->d5, XS_WATCH, 0, "/a", 3), EINVAL);
	assert_int_equal(peer_call(&e->d5, XS_TRANSACTION_END, 0, "X", 2), EINVAL);
	assert_int_equal(peer_call(&e->d0, XS_INTRODUCE, 0, "1\0x\0", 4), EINVAL);
	assert_int_equal(peer_call(&e->d0, XS_GET_DOMAIN_PATH, 0, "-1", 3), EINVAL);
	assert_int_equal(peer_call(&e->d0, XS_DIRECTORY_PART, 0, "/\0zz", 5), EINVAL);
	assert_int_equal(peer_call(&e->d5, XS_CONTROL, 0, "print", 6), EACCES);
	/* A payload over 4096 ends only that connection. */
	h = (struct xsd_sockmsg){ .type = XS_READ, .len = 4097 };
	assert_true(xsd_conn_input(e->d6.c, &h, sizeof(h)) < 0);
	assert_int_equal(xs_write(&e->d0, 0, "/still", "alive"), 0);
	env_free(e);
}

static void test_release_domain(void **state)
{
	struct env *e = env_new();
	struct peer again;

	assert_int_equal(peer_callv(&e->d0, XS_INTRODUCE, 0, 3, "5", "1", "1"), 0);
	make_home(e, 5);
	assert_int_equal(xs_write(&e->d5, 0, "k", "v"), 0);
	assert_int_equal(xs_write(&e->d0, 0, "/shared", "s"), 0);
	assert_int_equal(peer_callv(&e->d0, XS_SET_PERMS, 0, 3, "/shared", "n0", "r5"), 0);
	assert_int_equal(peer_callv(&e->d5, XS_WATCH, 0, 2, "/shared", "w"), 0);
	for (int i = 0; i < 10; i++)
		assert_true(xs_tx_start(&e->d5) != 0);
	assert_int_equal(peer_callv(&e->d0, XS_WATCH, 0, 2, "@releaseDomain", "rel"), 0);
	assert_int_equal(peer_callv(&e->d0, XS_WATCH, 0, 2, "/local/domain/5", "home"), 0);
	peer_clear(&e->d0);
	peer_clear(&e->d5);
	xsd_domain_released(e->s, 5);
	assert_true(peer_has_event(&e->d0, "@releaseDomain", "rel"));
	assert_true(peer_has_event(&e->d0, "/local/domain/5", "home"));
	assert_int_equal(xs_read(&e->d0, 0, "/local/domain/5/k"), ENOENT);
	assert_int_equal(xs_read(&e->d0, 0, "/local/domain/5"), ENOENT);
	assert_int_equal(peer_callv(&e->d0, XS_GET_PERMS, 0, 1, "/shared"), 0);
	assert_int_equal(e->d0.rlen, 3); /* r5 is gone */
	/* A new domain 5 inherits nothing: no read grant, full quotas, no
	 * watches firing from before. */
	peer_init(&again, e->s, 5, false);
	assert_int_equal(xs_read(&again, 0, "/shared"), EACCES);
	for (int i = 0; i < 10; i++)
		assert_true(xs_tx_start(&again) != 0);
	assert_int_equal(xs_write(&e->d0, 0, "/shared", "t"), 0);
	peer_drain(&e->d5);
	assert_int_equal(e->d5.nev, 0);
	env_free(e);
}

static void test_output_queue_bounded(void **state)
{
	struct xsd_quota q;
	struct env *e = calloc(1, sizeof(*e));
	char path[32];

	xsd_quota_defaults(&q);
	q.out_queue = 8192;
	e->s = xsd_new(&q, NULL);
	peer_init(&e->d0, e->s, 0, true);
	peer_init(&e->d5, e->s, 5, false);
	assert_int_equal(peer_callv(&e->d0, XS_SET_PERMS, 0, 2, "/", "r0"), 0);
	assert_int_equal(peer_callv(&e->d5, XS_WATCH, 0, 2, "/", "never-read"), 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/flood/%d", i % 50);
		assert_int_equal(xs_write(&e->d0, 0, path, "x"), 0);
	}
	/* dom5 never read: its queue stays bounded, events were dropped. */
	assert_true(evbuffer_get_length(xsd_conn_output(e->d5.c)) < 8192 + 4200);
	assert_true(xsd_conn_dropped_events(e->d5.c) > 4000);
	/* Its requests wait (throttled) until it reads. */
	assert_true(xsd_conn_throttled(e->d5.c));
	assert_int_equal(xs_read(&e->d5, 0, "/flood/1"), -2); /* held: no reply */
	/* The peer read everything (peer_call drained it): it may go on. */
	assert_false(xsd_conn_throttled(e->d5.c));
	assert_int_equal(xsd_conn_input(e->d5.c, NULL, 0), 0);
	struct xsd_sockmsg h;
	assert_int_equal(evbuffer_remove(xsd_conn_output(e->d5.c), &h, sizeof(h)), sizeof(h));
	assert_int_equal(h.type, XS_READ);
	env_free(e);
}

static void test_directory_part(void **state)
{
	struct env *e = env_new();
	char path[64], val[8];
	size_t total = 0, off = 0;
	int names = 0;

	for (int i = 0; i < 600; i++) {
		snprintf(path, sizeof(path), "/big/child-number-%04d", i);
		snprintf(val, sizeof(val), "%d", i);
		assert_int_equal(xs_write(&e->d0, 0, path, val), 0);
		total += strlen(path) - 5 + 1;
	}
	assert_true(total > 4096);
	assert_int_equal(peer_callv(&e->d0, XS_DIRECTORY, 0, 1, "/big"), E2BIG);
	for (;;) {
		char offs[16];

		snprintf(offs, sizeof(offs), "%zu", off);
		assert_int_equal(peer_callv(&e->d0, XS_DIRECTORY_PART, 0, 2, "/big", offs), 0);
		size_t gl = strlen(e->d0.reply) + 1, pos = gl;
		bool done = false;
		while (pos < e->d0.rlen) {
			size_t l = strlen(e->d0.reply + pos);

			if (l == 0) {
				done = true;
				break;
			}
			names++;
			off += l + 1;
			pos += l + 1;
		}
		if (done)
			break;
	}
	assert_int_equal(names, 600);
	assert_int_equal(off, total);
	env_free(e);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_read_write),
	cmocka_unit_test(test_rm),
	cmocka_unit_test(test_perms_across_domains),
	cmocka_unit_test(test_relative_paths),
	cmocka_unit_test(test_bad_paths),
	cmocka_unit_test(test_watch_subtree),
	cmocka_unit_test(test_watch_recursive_rm),
	cmocka_unit_test(test_watch_relative_and_perms),
	cmocka_unit_test(test_special_watches),
	cmocka_unit_test(test_tx_conflict),
	cmocka_unit_test(test_tx_remove_then_rewrite),
	cmocka_unit_test(test_tx_disjoint_never_abort),
	cmocka_unit_test(test_tx_events_at_commit),
	cmocka_unit_test(test_quota_nodes),
	cmocka_unit_test(test_quota_node_size),
	cmocka_unit_test(test_quota_watches),
	cmocka_unit_test(test_quota_transactions),
	cmocka_unit_test(test_quota_tx_nodes),
	cmocka_unit_test(test_quota_perms),
	cmocka_unit_test(test_quota_path_len),
	cmocka_unit_test(test_malformed),
	cmocka_unit_test(test_release_domain),
	cmocka_unit_test(test_output_queue_bounded),
	cmocka_unit_test(test_directory_part),
};

BH_TEST_MAIN(tests)
