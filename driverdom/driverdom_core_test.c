/* bulkhead-driverdom in a real driver domain: a core with the store stub
 * domain, the driver domain created and introduced the way the toolstack
 * does it (toolstack.c, xspaths.c), then watched from the host over the
 * store's socket. Shows that the program lives under the DRIVER sandbox and
 * seccomp allow-list (a denied call would kill it), reaches the store over
 * its ring, reports backend-ready, heartbeats, and answers a vbd. Needs
 * root. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "common/util.h"
#include "tests/harness.h"
#include "xenstored/bhxs.h"

#define FE  9
#define DEV 51712

struct t {
	struct th_host h;
	struct bhxs *xs;
	uint16_t dd;
};

static int setup(void **state)
{
	/* --permissive: the built-in policy does not yet grant the store
	 * domain VIRQ_DOM_EXC (see xenstored's xs_domain_test); denials are
	 * still logged. */
	static const char *const args[] = { "--permissive",
		                            "--xenstore",
		                            "bulkhead-xenstored",
		                            "--xenstore-arg=--socket",
		                            "--xenstore-arg=/run/xenstored/socket",
		                            "--xenstore-arg=--domain-rings",
		                            NULL };
	struct t *t = calloc(1, sizeof(*t));
	char sock[400];
	int rc = -1;

	assert_non_null(t);
	assert_int_equal(th_host_start(&t->h, args), 0);
	snprintf(sock, sizeof(sock), "%s/xenstored/socket", t->h.rundir);
	for (int i = 0; i < 500 && rc < 0; i++)
		if ((rc = bhxs_open_socket(sock, &t->xs)) < 0)
			usleep(10000);
	assert_int_equal(rc, 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	bhxs_close(t->xs);
	assert_int_equal(th_host_stop(&t->h), 0);
	free(t);
	return 0;
}

static void node(struct t *t, const char *path, const char *val, int owner, int reader)
{
	char p0[16], p1[16];
	const char *perms[2] = { p0, p1 };

	if (val)
		assert_int_equal(bhxs_write_str(t->xs, 0, path, val), 0);
	else
		assert_int_equal(bhxs_mkdir(t->xs, 0, path), 0);
	snprintf(p0, sizeof(p0), "n%d", owner);
	snprintf(p1, sizeof(p1), "r%d", reader);
	assert_int_equal(bhxs_set_perms(t->xs, 0, path, perms, reader >= 0 ? 2 : 1), 0);
}

/* Created paused, given its store directory, introduced, unpaused: the
 * toolstack's order. */
static void start_driver_domain(struct t *t)
{
	struct bh_hc_create req = { .flags = BH_CREATE_PAUSED,
		                    .role = BH_ROLE_DRIVER,
		                    .domid = BH_DOMID_ANY,
		                    .store_domid = 1,
		                    .console_domid = BH_DOMID_INVALID,
		                    .vcpus = 1,
		                    .mem_kb = 64 * 1024 };
	static const char *const av[] = { "bulkhead-driverdom", "--heartbeat-ms", "200", NULL };
	struct bh_hc_create_resp r;
	char p[128];

	bh_strlcpy(req.name, "dd", sizeof(req.name));
	bh_strlcpy(req.image, "bulkhead-driverdom", sizeof(req.image));
	assert_int_equal(bhctl_domain_create(&t->h.cl, &req, av, &r), 0);
	t->dd = r.domid;
	snprintf(p, sizeof(p), "/local/domain/%u", t->dd);
	node(t, p, NULL, 0, t->dd);
	snprintf(p, sizeof(p), "/local/domain/%u/domid", t->dd);
	char v[16];
	snprintf(v, sizeof(v), "%u", t->dd);
	node(t, p, v, 0, t->dd);
	static const char *const own[] = { "backend", "data", "error" };
	for (size_t i = 0; i < BH_ARRAY_SIZE(own); i++) {
		snprintf(p, sizeof(p), "/local/domain/%u/%s", t->dd, own[i]);
		node(t, p, NULL, t->dd, -1);
	}
	assert_int_equal(bhxs_introduce(t->xs, t->dd, BH_GNTTAB_STORE_REF, r.store_port), 0);
	assert_int_equal(bhctl_domain_unpause(&t->h.cl, t->dd), 0);
}

static char *read_node(struct t *t, const char *path)
{
	char *v = NULL;
	size_t len;

	if (bhxs_read(t->xs, 0, path, &v, &len) < 0)
		return NULL;
	return v;
}

static char *wait_node(struct t *t, const char *path, int timeout_ms)
{
	char *v;

	for (int i = 0; i < timeout_ms / 20; i++) {
		if ((v = read_node(t, path)))
			return v;
		usleep(20000);
	}
	return NULL;
}

static void assert_alive(struct t *t)
{
	struct bh_dominfo d;

	assert_int_equal(bhctl_domain_getinfo(&t->h.cl, t->dd, &d), 0);
	if (d.state == BH_DOMSTATE_SHUTDOWN) {
		char *log = th_log(&t->h, "dd");
		fprintf(stderr, "%s", log ? log : "");
		free(log);
		fail_msg("the driver domain ended (crash detail %s)",
		         bhctl_crash_name(d.crash_detail));
	}
}

static void test_ready_and_heartbeat(void **state)
{
	struct t *t = *state;
	struct bh_dominfo d;
	char p[128], *v;

	start_driver_domain(t);
	snprintf(p, sizeof(p), "/local/domain/%u/data/backend-ready", t->dd);
	v = wait_node(t, p, 20000);
	assert_alive(t);
	assert_non_null(v);
	assert_string_equal(v, "1");
	free(v);
	usleep(600000); /* several heartbeat periods */
	assert_alive(t);
	assert_int_equal(bhctl_domain_getinfo(&t->h.cl, t->dd, &d), 0);
	assert_true(d.heartbeat_age_ms < 400);
}

/* A vbd the way the toolstack writes it; the program refuses it (no block
 * engine built in yet) with an error node and Closing. */
static void test_vbd_answered(void **state)
{
	struct t *t = *state;
	char fe[128], be[128], p[200], *v;
	int dd;

	start_driver_domain(t);
	dd = t->dd;
	snprintf(p, sizeof(p), "/local/domain/%u/data/backend-ready", t->dd);
	free(wait_node(t, p, 20000));
	snprintf(fe, sizeof(fe), "/local/domain/%d/device/vbd/%d", FE, DEV);
	snprintf(be, sizeof(be), "/local/domain/%d/backend/vbd/%d/%d", dd, FE, DEV);
	node(t, fe, NULL, FE, dd);
	snprintf(p, sizeof(p), "%s/state", fe);
	node(t, p, "1", FE, dd);
	node(t, be, NULL, dd, FE);
	snprintf(p, sizeof(p), "%s/frontend", be);
	node(t, p, fe, dd, FE);
	snprintf(p, sizeof(p), "%s/online", be);
	node(t, p, "1", dd, FE);
	snprintf(p, sizeof(p), "%s/state", be);
	node(t, p, "1", dd, FE);
	snprintf(p, sizeof(p), "/local/domain/%d/error/backend/vbd/%d/%d/error", dd, FE, DEV);
	v = wait_node(t, p, 10000);
	assert_alive(t);
	assert_non_null(v);
	assert_string_equal(v, "38 error: backend not built in yet");
	free(v);
	/* the error comes first, then the switch to Closing */
	snprintf(p, sizeof(p), "%s/state", be);
	for (int i = 0; i < 500; i++) {
		v = read_node(t, p);
		assert_non_null(v);
		if (strcmp(v, "5") == 0)
			break;
		free(v);
		v = NULL;
		usleep(10000);
	}
	assert_non_null(v);
	free(v);
	assert_alive(t);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_ready_and_heartbeat),
	cmocka_unit_test(test_vbd_answered),
};

BH_TEST_MAIN_FIXTURES(tests, setup, teardown)
