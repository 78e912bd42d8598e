/* bhxs over the daemon's socket: the whole API, errors mapped back to
 * errnos, watches across connections, transactions, and malformed input
 * that ends only the offending connection. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulkhead/xs_wire.h"
#include "common/bhtest.h"
#include "xenstored/bhxs.h"
#include "xenstored/xs_daemon.h"

static struct xs_daemon D;

static int setup(void **state)
{
	return xs_daemon_start(&D, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	return xs_daemon_stop(&D) == 0 ? 0 : -1;
}

static void test_basic_api(void **state)
{
	struct bhxs *xs;
	char *v = NULL, **names = NULL;
	size_t len = 0, n = 0;
	unsigned long long u;

	assert_int_equal(bhxs_open_socket(D.sock, &xs), 0);
	assert_int_equal(bhxs_write_str(xs, 0, "/c/name", "guest"), 0);
	assert_int_equal(bhxs_printf(xs, 0, "/c/mem", "%d", 512), 0);
	assert_int_equal(bhxs_read(xs, 0, "/c/name", &v, &len), 0);
	assert_int_equal(len, 5);
	assert_string_equal(v, "guest");
	free(v);
	assert_int_equal(bhxs_read_uint(xs, 0, "/c/mem", &u), 0);
	assert_int_equal(u, 512);
	assert_int_equal(bhxs_read_uint(xs, 0, "/c/name", &u), -EINVAL);
	assert_int_equal(bhxs_read(xs, 0, "/c/none", &v, &len), -ENOENT);
	assert_int_equal(bhxs_mkdir(xs, 0, "/c/dir"), 0);
	assert_int_equal(bhxs_directory(xs, 0, "/c", &names, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "name");
	assert_string_equal(names[2], "dir");
	bhxs_free_names(names, n);
	const char *perms[] = { "n0", "r5" };
	assert_int_equal(bhxs_set_perms(xs, 0, "/c/name", perms, 2), 0);
	assert_int_equal(bhxs_get_perms(xs, 0, "/c/name", &names, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[1], "r5");
	bhxs_free_names(names, n);
	assert_int_equal(bhxs_rm(xs, 0, "/c"), 0);
	assert_int_equal(bhxs_read(xs, 0, "/c/name", &v, &len), -ENOENT);
	assert_int_equal(bhxs_get_domain_path(xs, 7, &v), 0);
	assert_string_equal(v, "/local/domain/7");
	free(v);
	bhxs_close(xs);
}

static void test_perms_other_domain(void **state)
{
	struct bhxs *d0, *d5;
	char *v = NULL;
	size_t len;

	assert_int_equal(bhxs_open_socket(D.sock, &d0), 0);
	assert_int_equal(bhxs_open_socket(D.sock5, &d5), 0);
	assert_int_equal(bhxs_write_str(d0, 0, "/p/secret", "s"), 0);
	assert_int_equal(bhxs_read(d5, 0, "/p/secret", &v, &len), -EACCES);
	assert_int_equal(bhxs_introduce(d5, 9, 1, 1), -EACCES);
	assert_int_equal(bhxs_mkdir(d0, 0, "/local/domain/5"), 0);
	const char *home[] = { "n5" };
	assert_int_equal(bhxs_set_perms(d0, 0, "/local/domain/5", home, 1), 0);
	assert_int_equal(bhxs_write_str(d5, 0, "rel", "x"), 0);
	assert_int_equal(bhxs_read(d0, 0, "/local/domain/5/rel", &v, &len), 0);
	free(v);
	bhxs_close(d5);
	bhxs_close(d0);
}

static void test_watch_between_connections(void **state)
{
	struct bhxs *a, *b;
	char *path, *token;

	assert_int_equal(bhxs_open_socket(D.sock, &a), 0);
	assert_int_equal(bhxs_open_socket(D.sock, &b), 0);
	assert_int_equal(bhxs_watch(a, "/wb", "tk"), 0);
	assert_int_equal(bhxs_wait_watch(a, 2000, &path, &token), 0);
	assert_string_equal(path, "/wb");
	assert_string_equal(token, "tk");
	free(path);
	free(token);
	assert_int_equal(bhxs_read_watch(a, &path, &token), -EAGAIN);
	assert_int_equal(bhxs_write_str(b, 0, "/wb/k", "1"), 0);
	struct pollfd pfd = { .fd = bhxs_fd(a), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_int_equal(bhxs_wait_watch(a, 2000, &path, &token), 0);
	assert_string_equal(path, "/wb/k");
	free(path);
	free(token);
	/* An event that arrives while a call waits is queued, not lost. */
	assert_int_equal(bhxs_write_str(b, 0, "/wb/k2", "1"), 0);
	usleep(50000);
	assert_int_equal(bhxs_write_str(a, 0, "/other", "1"), 0);
	assert_int_equal(poll(&pfd, 1, 0), 1); /* queued during the call: still readable */
	assert_int_equal(bhxs_read_watch(a, &path, &token), 0);
	assert_string_equal(path, "/wb/k2");
	free(path);
	free(token);
	assert_int_equal(poll(&pfd, 1, 0), 0); /* nothing left */
	assert_int_equal(bhxs_unwatch(a, "/wb", "tk"), 0);
	assert_int_equal(bhxs_unwatch(a, "/wb", "tk"), -ENOENT);
	assert_int_equal(bhxs_wait_watch(a, 100, &path, &token), -ETIMEDOUT);
	bhxs_close(a);
	bhxs_close(b);
}

static void test_transactions(void **state)
{
	struct bhxs *a, *b;
	bhxs_tx_t ta, tb;
	char *v;
	size_t len;

	assert_int_equal(bhxs_open_socket(D.sock, &a), 0);
	assert_int_equal(bhxs_open_socket(D.sock, &b), 0);
	assert_int_equal(bhxs_write_str(a, 0, "/tx/k", "0"), 0);
	assert_int_equal(bhxs_transaction_start(a, &ta), 0);
	assert_int_equal(bhxs_transaction_start(b, &tb), 0);
	assert_int_equal(bhxs_read(a, ta, "/tx/k", &v, &len), 0);
	free(v);
	assert_int_equal(bhxs_read(b, tb, "/tx/k", &v, &len), 0);
	free(v);
	assert_int_equal(bhxs_write_str(a, ta, "/tx/k", "a"), 0);
	assert_int_equal(bhxs_write_str(b, tb, "/tx/k", "b"), 0);
	assert_int_equal(bhxs_transaction_end(a, ta, true), 0);
	assert_int_equal(bhxs_transaction_end(b, tb, true), -EAGAIN);
	bhxs_close(a);
	bhxs_close(b);
}

static int bump(struct bhxs *xs, bhxs_tx_t tx, void *arg)
{
	unsigned long long v = 0;
	int rc = bhxs_read_uint(xs, tx, "/tx/n", &v);

	if (rc < 0 && rc != -ENOENT)
		return rc;
	return bhxs_printf(xs, tx, "/tx/n", "%llu", v + 1);
}

static void test_transaction_run(void **state)
{
	struct bhxs *xs;
	unsigned long long v;

	assert_int_equal(bhxs_open_socket(D.sock, &xs), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(bhxs_transaction_run(xs, bump, NULL), 0);
	assert_int_equal(bhxs_read_uint(xs, 0, "/tx/n", &v), 0);
	assert_int_equal(v, 5);
	bhxs_close(xs);
}

/* Many requests in flight at once, more than the client's window: each
 * answered in its own slot, errors (the store's and the client's own)
 * confined to their request, watch events that arrive meanwhile kept. */
static void test_pipeline(void **state)
{
	enum { N = 150 };
	static char paths[N][32], vals[N][2100];
	struct bhxs_op ops[N + 3];
	struct bhxs *xs, *other;
	char *path, *token, huge[5000];
	bhxs_tx_t tx;
	char *v;
	size_t len;

	assert_int_equal(bhxs_open_socket(D.sock, &xs), 0);
	assert_int_equal(bhxs_open_socket(D.sock, &other), 0);
	assert_int_equal(bhxs_watch(xs, "/pipe/k7", "w"), 0);
	assert_int_equal(bhxs_wait_watch(xs, 2000, &path, &token), 0); /* the initial one */
	free(path);
	free(token);
	memset(huge, 'h', sizeof(huge));
	for (int i = 0; i < N; i++) {
		size_t l = (size_t)(i * 37) % 2000 + 1;

		snprintf(paths[i], sizeof(paths[i]), "/pipe/k%d", i);
		memset(vals[i], 'a' + i % 26, l);
		vals[i][l] = '\0';
		ops[i] = (struct bhxs_op){
			.type = XS_WRITE, .path = paths[i], .val = vals[i], .len = l
		};
	}
	ops[N] =
	    (struct bhxs_op){ .type = XS_WRITE, .path = "/pipe/bad//path", .val = "x", .len = 1 };
	ops[N + 1] = (struct bhxs_op){
		.type = XS_WRITE, .path = "/pipe/huge", .val = huge, .len = sizeof(huge)
	};
	ops[N + 2] =
	    (struct bhxs_op){ .type = XS_WRITE, .path = "/pipe/last", .val = "L", .len = 1 };
	assert_int_equal(bhxs_pipeline(xs, 0, ops, N + 3), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(ops[i].rc, 0);
	assert_int_equal(ops[N].rc, -EINVAL);
	assert_int_equal(ops[N + 1].rc, -E2BIG);
	assert_int_equal(ops[N + 2].rc, 0);
	assert_int_equal(bhxs_pipeline_rc(ops, N + 3), -EINVAL);
	bhxs_pipeline_free(ops, N + 3);
	/* The write to k7 fired the watch while replies were awaited. */
	assert_int_equal(bhxs_wait_watch(xs, 2000, &path, &token), 0);
	assert_string_equal(path, "/pipe/k7");
	free(path);
	free(token);

	/* Reads back, in reverse, with a missing key in the middle. */
	for (int i = 0; i < N; i++)
		ops[i] = (struct bhxs_op){ .type = XS_READ, .path = paths[N - 1 - i] };
	ops[N] = (struct bhxs_op){ .type = XS_READ, .path = "/pipe/none" };
	ops[N + 1] = (struct bhxs_op){ .type = XS_READ, .path = "/pipe/last" };
	assert_int_equal(bhxs_pipeline(xs, 0, ops, N + 2), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ops[i].rc, 0);
		assert_int_equal(ops[i].rlen, strlen(vals[N - 1 - i]));
		assert_string_equal(ops[i].reply, vals[N - 1 - i]);
	}
	assert_int_equal(ops[N].rc, -ENOENT);
	assert_null(ops[N].reply);
	assert_string_equal(ops[N + 1].reply, "L");
	bhxs_pipeline_free(ops, N + 2);

	/* In a transaction: remove, make again with perms, write; nothing is
	 * visible to another connection before the commit. */
	assert_int_equal(bhxs_transaction_start(xs, &tx), 0);
	ops[0] = (struct bhxs_op){ .type = XS_RM, .path = "/pipe" };
	ops[1] = (struct bhxs_op){ .type = XS_MKDIR, .path = "/pipe/d" };
	ops[2] =
	    (struct bhxs_op){ .type = XS_SET_PERMS, .path = "/pipe/d", .val = "n0\0r5", .len = 6 };
	ops[3] = (struct bhxs_op){ .type = XS_WRITE, .path = "/pipe/d/x", .val = "1", .len = 1 };
	ops[4] = (struct bhxs_op){ .type = XS_DIRECTORY, .path = "/pipe" };
	ops[5] = (struct bhxs_op){ .type = XS_WRITE, .path = "/pipe/d/empty" }; /* "" */
	ops[6] = (struct bhxs_op){ .type = XS_READ, .path = "/pipe/d/empty" };
	assert_int_equal(bhxs_pipeline(xs, tx, ops, 7), 0);
	assert_int_equal(bhxs_pipeline_rc(ops, 7), 0);
	assert_memory_equal(ops[4].reply, "d", 2);
	assert_int_equal(ops[6].rlen, 0);
	bhxs_pipeline_free(ops, 7);
	assert_int_equal(bhxs_read(other, 0, "/pipe/d/x", &v, &len), -ENOENT);
	assert_int_equal(bhxs_read(other, 0, "/pipe/k3", &v, &len), 0);
	free(v);
	assert_int_equal(bhxs_transaction_end(xs, tx, true), 0);
	assert_int_equal(bhxs_read(other, 0, "/pipe/k3", &v, &len), -ENOENT);
	assert_int_equal(bhxs_read(other, 0, "/pipe/d/x", &v, &len), 0);
	assert_string_equal(v, "1");
	free(v);
	/* The key took the permissions set earlier in the same pipeline. */
	char **perms;
	size_t np;
	assert_int_equal(bhxs_get_perms(other, 0, "/pipe/d/x", &perms, &np), 0);
	assert_int_equal(np, 2);
	assert_string_equal(perms[1], "r5");
	bhxs_free_names(perms, np);
	bhxs_close(other);
	bhxs_close(xs);
}

static void test_introduce_release(void **state)
{
	struct bhxs *xs;
	bool yes;
	char *path, *token;

	assert_int_equal(bhxs_open_socket(D.sock, &xs), 0);
	assert_int_equal(bhxs_watch(xs, "@releaseDomain", "rel"), 0);
	assert_int_equal(bhxs_wait_watch(xs, 1000, &path, &token), 0);
	free(path);
	free(token);
	/* Without --domain-rings the daemon just records the domain. */
	assert_int_equal(bhxs_introduce(xs, 12, 99, 3), 0);
	assert_int_equal(bhxs_is_introduced(xs, 12, &yes), 0);
	assert_true(yes);
	assert_int_equal(bhxs_release(xs, 12), 0);
	assert_int_equal(bhxs_wait_watch(xs, 1000, &path, &token), 0);
	assert_string_equal(path, "@releaseDomain");
	free(path);
	free(token);
	assert_int_equal(bhxs_is_introduced(xs, 12, &yes), 0);
	assert_false(yes);
	bhxs_close(xs);
}

/* A restart's store work in three round trips (the toolstack's
 * restart_store): the old life released ahead of the transaction, the
 * new one introduced behind its commit; a failing body aborts the
 * transaction and still introduces; a conflict runs the body again. */
struct rw_arg {
	struct bhxs *other; /* writes /rw/n inside the first try: a conflict */
	int calls, fail;
};

static int rw_body(struct bhxs *xs, bhxs_tx_t tx, void *arg)
{
	struct rw_arg *a = arg;
	char *v = NULL;
	int rc;

	a->calls++;
	if ((rc = bhxs_read(xs, tx, "/rw/n", &v, NULL)) < 0 && rc != -ENOENT)
		return rc;
	free(v);
	if (a->other && a->calls == 1)
		assert_int_equal(bhxs_write_str(a->other, 0, "/rw/n", "them"), 0);
	if (a->fail)
		return -EIO;
	return bhxs_write_str(xs, tx, "/rw/n", "us");
}

static void test_transaction_run_with(void **state)
{
	struct bhxs *xs, *other;
	struct rw_arg a = { 0 };
	bool yes;
	char *v = NULL;

	assert_int_equal(bhxs_open_socket(D.sock, &xs), 0);
	assert_int_equal(bhxs_open_socket(D.sock, &other), 0);
	assert_int_equal(bhxs_introduce(xs, 13, 99, 3), 0);
	for (int round = 0; round < 3; round++) {
		struct bhxs_op rel = { .type = XS_RELEASE, .path = "13" };
		struct bhxs_op in = { .type = XS_INTRODUCE,
			              .path = "13",
			              .val = "99\0"
			                     "3",
			              .len = 5 };

		a = (struct rw_arg){ .other = round == 1 ? other : NULL, .fail = round == 2 };
		assert_int_equal(bhxs_transaction_run_with(xs, &rel, 1, rw_body, &a, &in, 1),
		                 round == 2 ? -EIO : 0);
		assert_int_equal(rel.rc, 0);
		assert_int_equal(in.rc, 0);
		bhxs_pipeline_free(&rel, 1);
		bhxs_pipeline_free(&in, 1);
		assert_int_equal(bhxs_is_introduced(xs, 13, &yes), 0);
		assert_true(yes);
		assert_int_equal(a.calls, round == 1 ? 2 : 1); /* the conflict: once more */
		assert_int_equal(bhxs_read(xs, 0, "/rw/n", &v, NULL), 0);
		assert_string_equal(v, "us"); /* round 2 aborted: round 1's stays */
		free(v);
	}
	assert_int_equal(bhxs_release(xs, 13), 0);
	bhxs_close(other);
	bhxs_close(xs);
}

/* Reads until the peer closes; true if it did within 2 s. */
static bool closed_by_peer(int fd)
{
	char buf[256];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (poll(&pfd, 1, 2000) == 1) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r <= 0)
			return true;
	}
	return false;
}

static void test_malformed_socket(void **state)
{
	struct xsd_sockmsg h = { .type = XS_READ, .len = 5000 };
	struct bhxs *xs;
	char *v;
	size_t len;
	int fd;

	assert_int_equal(bhxs_open_socket(D.sock, &xs), 0);
	/* Too long: that connection ends. */
	fd = xs_raw_connect(D.sock5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, &h, sizeof(h)), sizeof(h));
	assert_true(closed_by_peer(fd));
	close(fd);
	/* A short header and a hang-up. */
	fd = xs_raw_connect(D.sock);
	assert_int_equal(write(fd, &h, 7), 7);
	close(fd);
	/* Unknown type: an error, connection stays. */
	fd = xs_raw_connect(D.sock);
	h = (struct xsd_sockmsg){ .type = 77, .req_id = 3, .len = 0 };
	assert_int_equal(write(fd, &h, sizeof(h)), sizeof(h));
	struct {
		struct xsd_sockmsg h;
		char p[16];
	} r;
	assert_int_equal(read(fd, &r, sizeof(r)), sizeof(r.h) + 7);
	assert_int_equal(r.h.type, XS_ERROR);
	assert_int_equal(r.h.req_id, 3);
	assert_string_equal(r.p, "ENOSYS");
	close(fd);
	/* Everyone else carries on. */
	assert_int_equal(bhxs_write_str(xs, 0, "/alive", "yes"), 0);
	assert_int_equal(bhxs_read(xs, 0, "/alive", &v, &len), 0);
	free(v);
	bhxs_close(xs);
}

/* Options: --quota and --socket-domid, on a daemon of its own. */
static void test_daemon_options(void **state)
{
	const char *extra[] = { "--quota", "watches=2", "--socket-domid", "7", NULL };
	struct xs_daemon d2;
	struct bhxs *xs;
	char *v;
	size_t len;

	assert_int_equal(xs_daemon_start(&d2, extra), 0);
	assert_int_equal(bhxs_open_socket(d2.sock, &xs), 0);
	assert_int_equal(bhxs_introduce(xs, 9, 1, 1), -EACCES); /* not dom0 now */
	assert_int_equal(bhxs_read(xs, 0, "/tool", &v, &len), -EACCES);
	assert_int_equal(bhxs_watch(xs, "/a", "1"), 0);
	assert_int_equal(bhxs_watch(xs, "/a", "2"), 0);
	assert_int_equal(bhxs_watch(xs, "/a", "3"), -E2BIG);
	bhxs_close(xs);
	assert_int_equal(xs_daemon_stop(&d2), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_daemon_options),
	cmocka_unit_test(test_basic_api),
	cmocka_unit_test(test_perms_other_domain),
	cmocka_unit_test(test_watch_between_connections),
	cmocka_unit_test(test_transactions),
	cmocka_unit_test(test_transaction_run),
	cmocka_unit_test(test_pipeline),
	cmocka_unit_test(test_introduce_release),
	cmocka_unit_test(test_transaction_run_with),
	cmocka_unit_test(test_malformed_socket),
};

BH_TEST_MAIN_FIXTURES(tests, setup, teardown)
