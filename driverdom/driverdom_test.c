/* The runtime against a real store: bulkhead-xenstored in a temporary
 * directory. The test plays the toolstack and the frontend over the
 * daemon's privileged socket; the runtime connects as unprivileged domain
 * DD over a second socket (--domain-socket), so the store's permissions
 * apply to it as they would inside a driver domain. A "test" backend type
 * records what the runtime asked of it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "common/util.h"
#include "driverdom/driverdom.h"
#include "xenstored/bhxs.h"

#define DD  7     /* the driver domain */
#define FE  3     /* the frontend's domain */
#define DEV 51712 /* xvda */

struct rec {
	int probe, connect, disconnect, remove, fd_calls;
	int prepare, prepare_at_connect; /* prepare() calls, and their count at connect() */
	int be_state_at_connect;         /* our state node, as the store had it then */
	int probe_rc, connect_rc;
	unsigned long long ring_ref;
	char protocol[32];
	int inject, inject_rc; /* bh inject orders carried out */
	char fault[24];
	unsigned ms;
	int pipe[2];          /* a stand-in for an event channel, when open */
	struct drvdom_fd *fd; /* the pipe's read end in the runtime's loop */
};

struct t {
	char *dir;
	char sock[300], dsock[300];
	pid_t xsd;
	struct bhxs *xs; /* the toolstack's and the frontend's */
	struct drvdom *dd;
	struct rec rec;
};

static struct t *cur; /* the backend callbacks' way back to the test */

static int be_state(struct t *t, const char *type);

static int test_probe(struct drvdom_dev *dev)
{
	struct drvdom_nodes ns;

	cur->rec.probe++;
	if (cur->rec.probe_rc < 0)
		return cur->rec.probe_rc;
	drvdom_nodes_init(&ns);
	drvdom_nodes_add(&ns, "feature-test", "%d", 1);
	drvdom_nodes_add(&ns, "max-ring-page-order", "%u", 4u);
	return drvdom_publish(dev, &ns);
}

/* The engine stopped the ring (a hostile frontend): reported from the
 * loop, outside any runtime callback. */
static void on_ring(void *arg)
{
	struct drvdom_dev *dev = arg;
	char b;

	if (read(cur->rec.pipe[0], &b, 1) == 1)
		drvdom_dev_fatal(dev, -EPROTO, "ring broken");
}

static int test_connect(struct drvdom_dev *dev)
{
	char *proto = NULL;
	int rc;

	cur->rec.connect++;
	cur->rec.prepare_at_connect = cur->rec.prepare;
	cur->rec.be_state_at_connect = be_state(cur, "test");
	if (cur->rec.connect_rc < 0)
		return cur->rec.connect_rc;
	if ((rc = drvdom_fe_read_uint(dev, "ring-ref", &cur->rec.ring_ref)) < 0)
		return rc;
	if (drvdom_fe_read_str(dev, "protocol", &proto) == 0)
		bh_strlcpy(cur->rec.protocol, proto, sizeof(cur->rec.protocol));
	free(proto);
	if (cur->rec.pipe[0] >= 0)
		return drvdom_add_fd(dev->dd, cur->rec.pipe[0], on_ring, dev, &cur->rec.fd);
	return 0;
}

static void test_prepare(struct drvdom_dev *dev)
{
	cur->rec.prepare++;
}

static void test_disconnect(struct drvdom_dev *dev)
{
	cur->rec.disconnect++;
	drvdom_del_fd(cur->rec.fd);
	cur->rec.fd = NULL;
}

static void test_remove(struct drvdom_dev *dev)
{
	cur->rec.remove++;
}

static int test_inject(struct drvdom_dev *dev, const char *fault, unsigned ms)
{
	cur->rec.inject++;
	bh_strlcpy(cur->rec.fault, fault, sizeof(cur->rec.fault));
	cur->rec.ms = ms;
	return cur->rec.inject_rc;
}

static const struct drvdom_backend_ops test_ops = {
	.type = "test",
	.probe = test_probe,
	.connect = test_connect,
	.prepare = test_prepare,
	.disconnect = test_disconnect,
	.remove = test_remove,
	.inject = test_inject,
};
static const struct drvdom_backend_ops *const backends[] = { &test_ops };

/* ---- the store daemon and the toolstack's side ---- */

static const char *xenstored_exe(void)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/../libexec/bulkhead/bulkhead-xenstored", bh_test_bindir());
	return path;
}

static void start_store(struct t *t)
{
	char dsarg[340];
	int rc = -1;

	snprintf(t->sock, sizeof(t->sock), "%s/socket", t->dir);
	snprintf(t->dsock, sizeof(t->dsock), "%s/dom%d", t->dir, DD);
	snprintf(dsarg, sizeof(dsarg), "%d:%s", DD, t->dsock);
	t->xsd = fork();
	assert_true(t->xsd >= 0);
	if (t->xsd == 0) {
		/* a test that dies (an assertion under ASan) takes its store along */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(xenstored_exe(), "bulkhead-xenstored", "--socket", t->sock, "--domain-socket",
		      dsarg, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && rc < 0; i++) {
		if ((rc = bhxs_open_socket(t->sock, &t->xs)) < 0)
			usleep(10000);
	}
	assert_int_equal(rc, 0);
}

static void w(struct t *t, const char *path, const char *val)
{
	assert_int_equal(bhxs_write_str(t->xs, 0, path, val), 0);
}

static void perms(struct t *t, const char *path, int owner, int reader)
{
	char p0[16], p1[16];
	const char *p[2] = { p0, p1 };

	snprintf(p0, sizeof(p0), "n%d", owner);
	snprintf(p1, sizeof(p1), "r%d", reader);
	assert_int_equal(bhxs_set_perms(t->xs, 0, path, p, reader >= 0 ? 2 : 1), 0);
}

/* What the toolstack makes for a driver domain (toolstack/xspaths.c). */
static void make_domain(struct t *t)
{
	static const char *const own[] = { "backend", "data", "error" };
	char p[128];

	snprintf(p, sizeof(p), "/local/domain/%d", DD);
	assert_int_equal(bhxs_mkdir(t->xs, 0, p), 0);
	perms(t, p, 0, DD);
	for (size_t i = 0; i < BH_ARRAY_SIZE(own); i++) {
		snprintf(p, sizeof(p), "/local/domain/%d/%s", DD, own[i]);
		assert_int_equal(bhxs_mkdir(t->xs, 0, p), 0);
		perms(t, p, DD, -1);
	}
}

static void fe_dir(char *buf, size_t cap, const char *type, int devid)
{
	snprintf(buf, cap, "/local/domain/%d/device/%s/%d", FE, type, devid);
}

static void be_dir(char *buf, size_t cap, const char *type, int devid)
{
	snprintf(buf, cap, "/local/domain/%d/backend/%s/%d/%d", DD, type, FE, devid);
}

/* A device the way the toolstack writes it, both directories at state 1. */
static void add_device(struct t *t, const char *type, int devid)
{
	char fe[128], be[128], p[200], v[32];
	bhxs_tx_t tx;

	fe_dir(fe, sizeof(fe), type, devid);
	be_dir(be, sizeof(be), type, devid);
	assert_int_equal(bhxs_transaction_start(t->xs, &tx), 0);
	assert_int_equal(bhxs_mkdir(t->xs, tx, fe), 0);
	assert_int_equal(bhxs_mkdir(t->xs, tx, be), 0);
	snprintf(p, sizeof(p), "%s/backend", fe);
	assert_int_equal(bhxs_write_str(t->xs, tx, p, be), 0);
	snprintf(p, sizeof(p), "%s/state", fe);
	assert_int_equal(bhxs_write_str(t->xs, tx, p, "1"), 0);
	snprintf(p, sizeof(p), "%s/frontend", be);
	assert_int_equal(bhxs_write_str(t->xs, tx, p, fe), 0);
	snprintf(p, sizeof(p), "%s/frontend-id", be);
	snprintf(v, sizeof(v), "%d", FE);
	assert_int_equal(bhxs_write_str(t->xs, tx, p, v), 0);
	snprintf(p, sizeof(p), "%s/online", be);
	assert_int_equal(bhxs_write_str(t->xs, tx, p, "1"), 0);
	snprintf(p, sizeof(p), "%s/state", be);
	assert_int_equal(bhxs_write_str(t->xs, tx, p, "1"), 0);
	assert_int_equal(bhxs_transaction_end(t->xs, tx, true), 0);
	/* The driver domain may change its directory, the frontend read it. */
	perms(t, be, DD, FE);
	snprintf(p, sizeof(p), "%s/state", be);
	perms(t, p, DD, FE);
	perms(t, fe, FE, DD);
	snprintf(p, sizeof(p), "%s/state", fe);
	perms(t, p, FE, DD);
	snprintf(p, sizeof(p), "%s/backend", fe);
	perms(t, p, FE, DD);
}

static void fe_write(struct t *t, const char *key, const char *val)
{
	char p[200];

	fe_dir(p, sizeof(p), "test", DEV);
	snprintf(p + strlen(p), sizeof(p) - strlen(p), "/%s", key);
	w(t, p, val);
}

/* -1 when absent. */
static int read_state_at(struct t *t, const char *dir)
{
	char p[200];
	unsigned long long v;

	snprintf(p, sizeof(p), "%s/state", dir);
	if (bhxs_read_uint(t->xs, 0, p, &v) < 0)
		return -1;
	return (int)v;
}

static int be_state(struct t *t, const char *type)
{
	char be[128];

	be_dir(be, sizeof(be), type, DEV);
	return read_state_at(t, be);
}

/* Steps the runtime until the backend's state is WANT (5 s at most). */
static void wait_be_state(struct t *t, const char *type, int want)
{
	uint64_t end = bh_now_ns() + 5000000000ull;

	while (be_state(t, type) != want && bh_now_ns() < end)
		assert_int_equal(drvdom_run_once(t->dd, 20), 0);
	assert_int_equal(be_state(t, type), want);
}

/* Steps the runtime until *counter reaches WANT. */
static void wait_count(struct t *t, const int *counter, int want)
{
	uint64_t end = bh_now_ns() + 5000000000ull;

	while (*counter < want && bh_now_ns() < end)
		assert_int_equal(drvdom_run_once(t->dd, 20), 0);
	assert_int_equal(*counter, want);
}

/* A few idle rounds, for checking that nothing more happens. */
static void settle(struct t *t)
{
	for (int i = 0; i < 5; i++)
		assert_int_equal(drvdom_run_once(t->dd, 10), 0);
}

static char *read_node(struct t *t, const char *path)
{
	char *v = NULL;
	size_t len;

	if (bhxs_read(t->xs, 0, path, &v, &len) < 0)
		return NULL;
	return v;
}

static char *error_node(struct t *t, const char *type, int devid)
{
	char p[200];

	snprintf(p, sizeof(p), "/local/domain/%d/error/backend/%s/%d/%d/error", DD, type, FE,
	         devid);
	return read_node(t, p);
}

static void start_runtime(struct t *t)
{
	struct drvdom_config cfg = { .backends = backends, .n_backends = 1, .domid = DD };

	assert_int_equal(bhxs_open_socket(t->dsock, &cfg.xs), 0);
	assert_int_equal(drvdom_create(&cfg, &t->dd), 0);
	assert_int_equal(drvdom_start(t->dd), 0);
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->dir = bh_test_tmpdir("driverdom");
	assert_non_null(t->dir);
	t->rec.pipe[0] = t->rec.pipe[1] = -1;
	start_store(t);
	make_domain(t);
	cur = t;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	char cmd[400];

	drvdom_destroy(t->dd);
	bh_close_fds(t->rec.pipe, 2);
	bhxs_close(t->xs);
	kill(t->xsd, SIGTERM);
	waitpid(t->xsd, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0) {
		/* leaving a temporary directory behind is not a failure */
	}
	free(t->dir);
	free(t);
	cur = NULL;
	return 0;
}

/* ---- the cases ---- */

static void test_backend_ready(void **state)
{
	struct t *t = *state;
	char p[96], *v;

	start_runtime(t);
	snprintf(p, sizeof(p), "/local/domain/%d/data/backend-ready", DD);
	/* not in the start itself: from the loop, after the first connects */
	assert_null(read_node(t, p));
	uint64_t end = bh_now_ns() + 5000000000ull;
	while (!(v = read_node(t, p)) && bh_now_ns() < end)
		assert_int_equal(drvdom_run_once(t->dd, 20), 0);
	assert_non_null(v);
	assert_string_equal(v, "1");
	free(v);
	assert_int_equal(drvdom_domid(t->dd), DD);
}

static void test_probe_initwait(void **state)
{
	struct t *t = *state;
	char be[128], p[200], *v;

	start_runtime(t);
	add_device(t, "test", DEV);
	wait_be_state(t, "test", XenbusStateInitWait);
	assert_int_equal(t->rec.probe, 1);
	assert_int_equal(t->rec.connect, 0);
	be_dir(be, sizeof(be), "test", DEV);
	snprintf(p, sizeof(p), "%s/feature-test", be);
	v = read_node(t, p);
	assert_non_null(v);
	assert_string_equal(v, "1");
	free(v);
	assert_non_null(drvdom_find(t->dd, "test", FE, DEV));
	settle(t);
	assert_int_equal(t->rec.probe, 1); /* the many events of one device: one probe */
}

static void test_device_before_start(void **state)
{
	struct t *t = *state;

	add_device(t, "test", DEV);
	start_runtime(t);
	wait_be_state(t, "test", XenbusStateInitWait);
	assert_int_equal(t->rec.probe, 1);
}

/* A writer without a transaction: the directory first, its state last.
 * The device counts from its state node on, and is probed once. */
static void test_device_written_piecemeal(void **state)
{
	struct t *t = *state;
	char be[128], p[200];

	start_runtime(t);
	be_dir(be, sizeof(be), "test", DEV);
	assert_int_equal(bhxs_mkdir(t->xs, 0, be), 0);
	settle(t);
	assert_int_equal(t->rec.probe, 0);
	assert_null(drvdom_find(t->dd, "test", FE, DEV));
	snprintf(p, sizeof(p), "%s/online", be);
	w(t, p, "1");
	settle(t);
	assert_int_equal(t->rec.probe, 0);
	snprintf(p, sizeof(p), "%s/state", be);
	w(t, p, "1");
	wait_be_state(t, "test", XenbusStateInitWait);
	assert_int_equal(t->rec.probe, 1);
}

static void connect_device(struct t *t, const char *fe_state)
{
	start_runtime(t);
	add_device(t, "test", DEV);
	wait_be_state(t, "test", XenbusStateInitWait);
	fe_write(t, "ring-ref", "8");
	fe_write(t, "event-channel", "5");
	fe_write(t, "protocol", "x86_64-abi");
	fe_write(t, "state", fe_state);
	wait_be_state(t, "test", XenbusStateConnected);
}

/* The guest's close and start over: Closed, Initialising, Initialised,
 * each answered. */
static void start_over(struct t *t)
{
	fe_write(t, "state", "6");
	wait_be_state(t, "test", XenbusStateClosed);
	fe_write(t, "state", "1");
	wait_be_state(t, "test", XenbusStateInitWait);
	fe_write(t, "state", "3");
	wait_be_state(t, "test", XenbusStateConnected);
}

/* A device whose frontend published (ring-ref 9, Connected) before the
 * runtime started: a restart's, as its first scan finds it. */
static void publish_then_start(struct t *t)
{
	add_device(t, "test", DEV);
	fe_write(t, "ring-ref", "9");
	fe_write(t, "event-channel", "5");
	fe_write(t, "state", "4");
	start_runtime(t);
}

static void test_connect_initialised(void **state)
{
	struct t *t = *state;

	connect_device(t, "3");
	assert_int_equal(t->rec.connect, 1);
	assert_int_equal(t->rec.ring_ref, 8);
	assert_string_equal(t->rec.protocol, "x86_64-abi");
	/* netfront's way, Initialised then Connected: no second connect */
	fe_write(t, "state", "4");
	settle(t);
	assert_int_equal(t->rec.connect, 1);
	assert_int_equal(be_state(t, "test"), XenbusStateConnected);
}

static void test_connect_connected(void **state)
{
	struct t *t = *state;

	connect_device(t, "4");
	assert_int_equal(t->rec.connect, 1);
	assert_true(drvdom_find(t->dd, "test", FE, DEV)->connected);
}

static void test_close_dance(void **state)
{
	struct t *t = *state;

	connect_device(t, "3");
	fe_write(t, "state", "5");
	wait_be_state(t, "test", XenbusStateClosing);
	assert_int_equal(t->rec.disconnect, 1);
	fe_write(t, "state", "6");
	wait_be_state(t, "test", XenbusStateClosed);
	assert_int_equal(t->rec.disconnect, 1);
	assert_int_equal(t->rec.remove, 0);
}

static void test_reconnect(void **state)
{
	struct t *t = *state;

	connect_device(t, "3");
	fe_write(t, "state", "5");
	wait_be_state(t, "test", XenbusStateClosing);
	fe_write(t, "state", "6");
	wait_be_state(t, "test", XenbusStateClosed);
	/* the frontend starts over with a new ring */
	fe_write(t, "state", "1");
	wait_be_state(t, "test", XenbusStateInitWait);
	fe_write(t, "ring-ref", "9");
	fe_write(t, "state", "3");
	wait_be_state(t, "test", XenbusStateConnected);
	assert_int_equal(t->rec.connect, 2);
	assert_int_equal(t->rec.ring_ref, 9);
	assert_int_equal(t->rec.probe, 1);
}

static void test_frontend_reset_while_connected(void **state)
{
	struct t *t = *state;

	connect_device(t, "4");
	fe_write(t, "state", "1"); /* a kexec'd frontend starting over */
	wait_be_state(t, "test", XenbusStateInitWait);
	assert_int_equal(t->rec.disconnect, 1);
	fe_write(t, "state", "3");
	wait_be_state(t, "test", XenbusStateConnected);
	assert_int_equal(t->rec.connect, 2);
}

static void test_removal(void **state)
{
	struct t *t = *state;
	char be[128], fe[128];

	connect_device(t, "4");
	be_dir(be, sizeof(be), "test", DEV);
	fe_dir(fe, sizeof(fe), "test", DEV);
	assert_int_equal(bhxs_rm(t->xs, 0, be), 0);
	assert_int_equal(bhxs_rm(t->xs, 0, fe), 0);
	wait_count(t, &t->rec.remove, 1);
	assert_int_equal(t->rec.disconnect, 1);
	assert_null(drvdom_find(t->dd, "test", FE, DEV));
	settle(t);
	/* our state write must not have brought the directory back */
	assert_int_equal(read_state_at(t, be), -1);
}

static void test_frontend_gone(void **state)
{
	struct t *t = *state;
	char fe[128];

	connect_device(t, "4");
	fe_dir(fe, sizeof(fe), "test", DEV);
	assert_int_equal(bhxs_rm(t->xs, 0, fe), 0);
	wait_be_state(t, "test", XenbusStateClosed);
	assert_int_equal(t->rec.disconnect, 1);
}

/* The frontend published its ring before the runtime looked (a restart:
 * the toolstack wrote the directories afresh, and the guest published
 * before the new generation's scan). It is connected from the first look,
 * its interface prepared first, and the backend goes to Connected with
 * its features, no InitWait in between. */
static void test_connect_published_before_start(void **state)
{
	struct t *t = *state;
	char be[128], p[200], *v;

	publish_then_start(t);
	wait_be_state(t, "test", XenbusStateConnected);
	assert_int_equal(t->rec.probe, 1);
	assert_int_equal(t->rec.connect, 1);
	assert_int_equal(t->rec.ring_ref, 9);
	assert_int_equal(t->rec.prepare, 1);
	assert_int_equal(t->rec.prepare_at_connect, 1);
	assert_int_equal(t->rec.be_state_at_connect, XenbusStateInitialising);
	be_dir(be, sizeof(be), "test", DEV);
	snprintf(p, sizeof(p), "%s/feature-test", be);
	v = read_node(t, p);
	assert_non_null(v); /* published with the Connected */
	free(v);
	settle(t);
	assert_int_equal(t->rec.connect, 1); /* the watch's first event: no second connect */
	/* and it is watched as any: the frontend's reset is answered */
	fe_write(t, "state", "1");
	wait_be_state(t, "test", XenbusStateInitWait);
	assert_int_equal(t->rec.disconnect, 1);
}

/* A frontend not published at the first look: InitWait as always, its
 * interface prepared before it, then the connect when it answers. */
static void test_prepare_before_initwait(void **state)
{
	struct t *t = *state;

	connect_device(t, "4");
	assert_int_equal(t->rec.prepare, 1);
	assert_int_equal(t->rec.prepare_at_connect, 1);
	assert_int_equal(t->rec.be_state_at_connect, XenbusStateInitWait);
}

/* Found published but its connect fails: the device closes, and its
 * frontend is watched all the same, so its start over is answered. */
static void test_connect_error_at_first_look(void **state)
{
	struct t *t = *state;

	t->rec.connect_rc = -EINVAL;
	publish_then_start(t);
	wait_be_state(t, "test", XenbusStateClosing);
	assert_int_equal(t->rec.connect, 1);
	t->rec.connect_rc = 0;
	start_over(t);
	assert_int_equal(t->rec.connect, 2);
}

static void test_connect_error(void **state)
{
	struct t *t = *state;
	char *v;

	t->rec.connect_rc = -EINVAL;
	start_runtime(t);
	add_device(t, "test", DEV);
	wait_be_state(t, "test", XenbusStateInitWait);
	fe_write(t, "state", "3");
	wait_be_state(t, "test", XenbusStateClosing);
	v = error_node(t, "test", DEV);
	assert_non_null(v);
	assert_int_equal(strncmp(v, "22 ", 3), 0);
	free(v);
	assert_int_equal(t->rec.disconnect, 0); /* never connected */
	/* the frontend closes and starts over; this time it works */
	t->rec.connect_rc = 0;
	fe_write(t, "ring-ref", "10");
	start_over(t);
	assert_null(error_node(t, "test", DEV)); /* cleared by the successful connect */
}

static void test_fatal_from_loop(void **state)
{
	struct t *t = *state;
	char *v;

	assert_int_equal(pipe2(t->rec.pipe, O_CLOEXEC | O_NONBLOCK), 0);
	connect_device(t, "4");
	assert_non_null(t->rec.fd);
	assert_int_equal(write(t->rec.pipe[1], "!", 1), 1);
	wait_be_state(t, "test", XenbusStateClosing);
	assert_int_equal(t->rec.disconnect, 1);
	assert_null(t->rec.fd); /* disconnect took it out of the loop */
	v = error_node(t, "test", DEV);
	assert_non_null(v);
	assert_string_equal(v, "71 ring broken");
	free(v);
	/* the frontend answers the close; its next connect works */
	start_over(t);
	assert_int_equal(t->rec.connect, 2);
}

static void test_missing_ring_ref(void **state)
{
	struct t *t = *state;
	char *v;

	start_runtime(t);
	add_device(t, "test", DEV);
	wait_be_state(t, "test", XenbusStateInitWait);
	fe_write(t, "state", "3"); /* without ring-ref */
	wait_be_state(t, "test", XenbusStateClosing);
	v = error_node(t, "test", DEV);
	assert_non_null(v);
	assert_int_equal(strncmp(v, "2 ", 2), 0); /* ENOENT */
	free(v);
}

static void test_probe_error(void **state)
{
	struct t *t = *state;
	char be[128], *v;

	t->rec.probe_rc = -EIO;
	start_runtime(t);
	add_device(t, "test", DEV);
	wait_be_state(t, "test", XenbusStateClosing);
	v = error_node(t, "test", DEV);
	assert_non_null(v);
	assert_string_equal(v, "5 probing the device");
	free(v);
	fe_write(t, "state", "3");
	settle(t);
	assert_int_equal(t->rec.connect, 0);
	be_dir(be, sizeof(be), "test", DEV);
	assert_int_equal(bhxs_rm(t->xs, 0, be), 0);
	settle(t);
	assert_null(drvdom_find(t->dd, "test", FE, DEV));
	assert_int_equal(t->rec.remove, 0);      /* probe failed: nothing to remove */
	assert_null(error_node(t, "test", DEV)); /* the error went with the device */
}

static void test_unknown_type(void **state)
{
	struct t *t = *state;
	char *v;

	start_runtime(t);
	add_device(t, "vscsi", DEV);
	wait_be_state(t, "vscsi", XenbusStateClosing);
	v = error_node(t, "vscsi", DEV);
	assert_non_null(v);
	assert_string_equal(v, "19 no backend for device type vscsi");
	free(v);
	assert_int_equal(t->rec.probe, 0);
}

static void test_toolstack_closes(void **state)
{
	struct t *t = *state;
	char be[128], p[200];

	connect_device(t, "4");
	be_dir(be, sizeof(be), "test", DEV);
	snprintf(p, sizeof(p), "%s/online", be);
	w(t, p, "0");
	snprintf(p, sizeof(p), "%s/state", be);
	w(t, p, "5"); /* libxl's unplug */
	wait_count(t, &t->rec.disconnect, 1);
	fe_write(t, "state", "5");
	settle(t);
	fe_write(t, "state", "6");
	wait_be_state(t, "test", XenbusStateClosed);
	/* online=0: a frontend starting over is not answered */
	fe_write(t, "state", "1");
	settle(t);
	assert_int_equal(be_state(t, "test"), XenbusStateClosed);
}

static void test_two_devices(void **state)
{
	struct t *t = *state;

	start_runtime(t);
	add_device(t, "test", DEV);
	add_device(t, "test", DEV + 16);
	wait_count(t, &t->rec.probe, 2);
	assert_non_null(drvdom_find(t->dd, "test", FE, DEV));
	assert_non_null(drvdom_find(t->dd, "test", FE, DEV + 16));
	wait_be_state(t, "test", XenbusStateInitWait);
}

static void on_pipe(void *arg)
{
	int *fd = arg;
	char b;

	if (read(*fd, &b, 1) == 1)
		cur->rec.fd_calls++;
}

static void test_backend_fd(void **state)
{
	struct t *t = *state;
	struct drvdom_fd *f;
	int p[2];

	start_runtime(t);
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(drvdom_add_fd(t->dd, p[0], on_pipe, &p[0], &f), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	wait_count(t, &t->rec.fd_calls, 1);
	drvdom_del_fd(f);
	assert_int_equal(write(p[1], "y", 1), 1);
	settle(t);
	assert_int_equal(t->rec.fd_calls, 1);
	close(p[0]);
	close(p[1]);
}

static void test_read_helpers(void **state)
{
	struct t *t = *state;
	struct drvdom_dev *dev;
	unsigned long long v;
	char *s;

	start_runtime(t);
	add_device(t, "test", DEV);
	wait_be_state(t, "test", XenbusStateInitWait);
	dev = drvdom_find(t->dd, "test", FE, DEV);
	assert_non_null(dev);
	assert_int_equal(drvdom_fe_read_uint_def(dev, "ring-page-order", 0, &v), 0);
	assert_int_equal(v, 0);
	fe_write(t, "ring-page-order", "2");
	assert_int_equal(drvdom_fe_read_uint_def(dev, "ring-page-order", 0, &v), 0);
	assert_int_equal(v, 2);
	fe_write(t, "event-channel", "12abc");
	assert_int_equal(drvdom_fe_read_uint(dev, "event-channel", &v), -EINVAL);
	fe_write(t, "event-channel", "-1");
	assert_int_equal(drvdom_fe_read_uint_def(dev, "event-channel", 0, &v), -EINVAL);
	assert_int_equal(drvdom_fe_read_str(dev, "absent", &s), -ENOENT);
	assert_null(s);
	assert_int_equal(drvdom_be_read_str(dev, "frontend-id", &s), 0);
	assert_string_equal(s, "3");
	free(s);
	assert_int_equal(drvdom_be_read_uint_def(dev, "online", 0, &v), 0);
	assert_int_equal(v, 1);
}

static void test_publish_limits(void **state)
{
	struct t *t = *state;
	struct drvdom_nodes ns;
	struct drvdom_dev *dev;
	char big[100];

	start_runtime(t);
	add_device(t, "test", DEV);
	wait_be_state(t, "test", XenbusStateInitWait);
	dev = drvdom_find(t->dd, "test", FE, DEV);
	drvdom_nodes_init(&ns);
	for (int i = 0; i <= DRVDOM_MAX_NODES; i++)
		drvdom_nodes_add(&ns, "k", "%d", i);
	assert_int_equal(drvdom_publish(dev, &ns), -E2BIG);
	drvdom_nodes_init(&ns);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	drvdom_nodes_add(&ns, "k", "%s", big);
	assert_int_equal(drvdom_publish(dev, &ns), -E2BIG);
}

/* The program itself, outside a domain: it starts, reports ready, and
 * answers a device of a type it has no backend for (which of its own
 * types are real depends on the engines built in; see the core test). */
/* dom0's fault orders (driverdom/inject.c): one order per sequence
 * number, carried out on the named connected device and acknowledged; an
 * order left from before the start is not carried out again. */
static void order(struct t *t, const char *line)
{
	char p[96];

	snprintf(p, sizeof(p), "/local/domain/%d/control/inject", DD);
	w(t, p, line);
	perms(t, p, 0, DD);
}

static char *inject_ack(struct t *t)
{
	char p[96];

	snprintf(p, sizeof(p), "/local/domain/%d/data/inject-ack", DD);
	return read_node(t, p);
}

static void wait_ack(struct t *t, const char *want)
{
	uint64_t end = bh_now_ns() + 5000000000ull;
	char *v = NULL;

	do {
		free(v);
		assert_int_equal(drvdom_run_once(t->dd, 20), 0);
		v = inject_ack(t);
	} while ((!v || strcmp(v, want) != 0) && bh_now_ns() < end);
	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

static void test_inject_orders(void **state)
{
	struct t *t = *state;
	char line[96];

	order(t, "4 corrupt test/3/51712 0"); /* a previous life's */
	connect_device(t, "4");
	settle(t);
	assert_int_equal(t->rec.inject, 0);
	snprintf(line, sizeof(line), "5 drop-notify test/%d/%d 1500", FE, DEV);
	order(t, line);
	snprintf(line, sizeof(line), "5 ok test/%d/%d", FE, DEV);
	wait_ack(t, line);
	assert_int_equal(t->rec.inject, 1);
	assert_string_equal(t->rec.fault, "drop-notify");
	assert_int_equal(t->rec.ms, 1500);
	/* the same order again is not carried out twice */
	snprintf(line, sizeof(line), "5 drop-notify test/%d/%d 1500", FE, DEV);
	order(t, line);
	settle(t);
	assert_int_equal(t->rec.inject, 1);
	/* errors are acknowledged with the reason */
	order(t, "6 corrupt test/3/99 0");
	wait_ack(t, "6 error 19 no such device");
	t->rec.inject_rc = -EOPNOTSUPP;
	snprintf(line, sizeof(line), "7 melt test/%d/%d 0", FE, DEV);
	order(t, line);
	wait_ack(t, "7 error 95 fault not supported");
	order(t, "8 garbage");
	settle(t);
	assert_int_equal(t->rec.inject, 2);
	/* a disconnected device takes no fault */
	t->rec.inject_rc = 0;
	fe_write(t, "state", "6");
	wait_be_state(t, "test", XenbusStateClosed);
	snprintf(line, sizeof(line), "9 corrupt test/%d/%d 0", FE, DEV);
	order(t, line);
	wait_ack(t, "9 error 107 not connected");
	assert_int_equal(t->rec.inject, 2);
}

static void test_program_dispatches(void **state)
{
	struct t *t = *state;
	char exe[512], domid[16], p[96], *v = NULL;
	pid_t pid;
	uint64_t end = bh_now_ns() + 5000000000ull;

	snprintf(exe, sizeof(exe), "%s/../libexec/bulkhead/bulkhead-driverdom", bh_test_bindir());
	snprintf(domid, sizeof(domid), "%d", DD);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(exe, "bulkhead-driverdom", "--store-socket", t->dsock, "--domid", domid,
		      (char *)NULL);
		_exit(127);
	}
	snprintf(p, sizeof(p), "/local/domain/%d/data/backend-ready", DD);
	while (!(v = read_node(t, p)) && bh_now_ns() < end)
		usleep(10000);
	assert_non_null(v);
	free(v);
	add_device(t, "vscsi", DEV);
	while (be_state(t, "vscsi") != XenbusStateClosing && bh_now_ns() < end)
		usleep(10000);
	assert_int_equal(be_state(t, "vscsi"), XenbusStateClosing);
	v = error_node(t, "vscsi", DEV);
	assert_non_null(v);
	assert_string_equal(v, "19 no backend for device type vscsi");
	free(v);
	kill(pid, SIGTERM);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_backend_ready),
	cmocka_unit_test(test_inject_orders),
	cmocka_unit_test(test_probe_initwait),
	cmocka_unit_test(test_device_before_start),
	cmocka_unit_test(test_device_written_piecemeal),
	cmocka_unit_test(test_connect_initialised),
	cmocka_unit_test(test_connect_connected),
	cmocka_unit_test(test_close_dance),
	cmocka_unit_test(test_reconnect),
	cmocka_unit_test(test_frontend_reset_while_connected),
	cmocka_unit_test(test_removal),
	cmocka_unit_test(test_frontend_gone),
	cmocka_unit_test(test_connect_error),
	cmocka_unit_test(test_connect_published_before_start),
	cmocka_unit_test(test_prepare_before_initwait),
	cmocka_unit_test(test_connect_error_at_first_look),
	cmocka_unit_test(test_fatal_from_loop),
	cmocka_unit_test(test_missing_ring_ref),
	cmocka_unit_test(test_probe_error),
	cmocka_unit_test(test_unknown_type),
	cmocka_unit_test(test_toolstack_closes),
	cmocka_unit_test(test_two_devices),
	cmocka_unit_test(test_backend_fd),
	cmocka_unit_test(test_read_helpers),
	cmocka_unit_test(test_publish_limits),
	cmocka_unit_test(test_program_dispatches),
};

BH_TEST_MAIN_FIXTURES(tests, setup, teardown)
