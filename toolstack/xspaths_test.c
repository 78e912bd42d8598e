/* The store layout the toolstack writes (xspaths.c) against a real store
 * daemon: the permissions of every key, including the keys written
 * without a set-permissions call of their own (they take their
 * directory's), and a device directory written over a stale one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bhtest.h"
#include "common/util.h"
#include "toolstack/xspaths.h"
#include "xenstored/bhxs.h"
#include "xenstored/xs_daemon.h"
#include "xlcfg/xlcfg.h"

static struct xs_daemon D;
static struct bhxs *X;

static int setup(void **state)
{
	(void)state;
	if (xs_daemon_start(&D, NULL) != 0)
		return -1;
	return bhxs_open_socket(D.sock, &X) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	bhxs_close(X);
	return xs_daemon_stop(&D) == 0 ? 0 : -1;
}

/* PATH's permissions joined with spaces ("n3 r2"). */
static void perms_of(const char *path, char *out, size_t cap)
{
	char **names = NULL;
	size_t n = 0;

	out[0] = '\0';
	assert_int_equal(bhxs_get_perms(X, 0, path, &names, &n), 0);
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? " " : "", names[i]);
	bhxs_free_names(names, n);
}

/* Every key in DIR (one level) has permissions WANT. */
static void assert_dir_perms(const char *dir, const char *want, size_t min_keys)
{
	char **names = NULL, path[256], got[64];
	size_t n = 0;

	perms_of(dir, got, sizeof(got));
	assert_string_equal(got, want);
	assert_int_equal(bhxs_directory(X, 0, dir, &names, &n), 0);
	assert_true(n >= min_keys);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		perms_of(path, got, sizeof(got));
		if (strcmp(got, want) != 0)
			fail_msg("%s: permissions '%s', want '%s'", path, got, want);
	}
	bhxs_free_names(names, n);
}

static void vbd(struct bhtool_dev *d)
{
	static char target[] = "/img", vdev[] = "xvda";

	memset(d, 0, sizeof(*d));
	d->kind = BHTOOL_VBD;
	d->devid = 51712;
	d->backend_domid = 2;
	snprintf(d->token, sizeof(d->token), "vbd-3-51712");
	d->disk.target = target;
	d->disk.vdev = vdev;
	d->disk.discard = -1;
}

static void test_vbd_keys_take_their_dirs_perms(void **state)
{
	struct bhtool_dev d;
	const char *stale[] = { "n3", "r9" };
	char *v = NULL;
	size_t len;

	(void)state;
	vbd(&d);
	/* A stale device of the same id, served by another domain once. */
	assert_int_equal(bhxs_write_str(X, 0, "/local/domain/3/device/vbd/51712/ring-ref", "8"), 0);
	assert_int_equal(
	    bhxs_set_perms(X, 0, "/local/domain/3/device/vbd/51712/ring-ref", stale, 2), 0);
	assert_int_equal(bhxs_write_str(X, 0, "/local/domain/2/backend/vbd/3/51712/old", "1"), 0);
	for (int round = 0; round < 2; round++) { /* and written over itself */
		assert_int_equal(xsp_write_dev(X, 3, &d), 0);
		assert_dir_perms("/local/domain/3/device/vbd/51712", "n3 r2", 5);
		assert_dir_perms("/local/domain/2/backend/vbd/3/51712", "n2 r3", 11);
	}
	assert_int_equal(bhxs_read(X, 0, "/local/domain/3/device/vbd/51712/ring-ref", &v, &len),
	                 -ENOENT);
	assert_int_equal(bhxs_read(X, 0, "/local/domain/2/backend/vbd/3/51712/old", &v, &len),
	                 -ENOENT);
	assert_int_equal(xsp_dev_state(X, 3, &d, false), 1);
	assert_int_equal(xsp_dev_state(X, 3, &d, true), 1);
	assert_int_equal(bhxs_read(X, 0, "/local/domain/2/backend/vbd/3/51712/params", &v, &len),
	                 0);
	assert_string_equal(v, "vbd-3-51712");
	free(v);
	xsp_remove_dev(X, 3, &d);
	assert_int_equal(xsp_dev_state(X, 3, &d, true), -ENOENT);
}

static void test_domain_keys_perms(void **state)
{
	struct bh_domcfg *c = NULL;
	struct xlcfg_diags dg = { 0 };
	char got[64];

	(void)state;
	assert_int_equal(
	    xlcfg_parse_string("t", "name=\"dd\"\nvcpus=2\ndriver_domain=1\n", NULL, 0, &c, &dg),
	    0);
	assert_int_equal(xsp_write_domain(X, 5, c, 7, 8, 1, false), 0);
	/* A restart in place: what the dead life wrote goes, the rest is
	 * written again with the same permissions. */
	assert_int_equal(bhxs_write_str(X, 0, "/local/domain/5/data/stale", "1"), 0);
	assert_int_equal(xsp_write_domain(X, 5, c, 7, 9, 1, true), 0);
	char *v = NULL;
	size_t len;
	assert_int_equal(bhxs_read(X, 0, "/local/domain/5/data/stale", &v, &len), -ENOENT);
	assert_int_equal(bhxs_read(X, 0, "/local/domain/5/console/port", &v, &len), 0);
	assert_string_equal(v, "9");
	free(v);
	perms_of("/local/domain/5", got, sizeof(got));
	assert_string_equal(got, "n0 r5");
	static const char *const dom0s[] = { "name",       "domid",         "vm",
		                             "memory",     "memory/target", "cpu/1/availability",
		                             "store/port", "console/port",  "console/type" };
	for (size_t i = 0; i < BH_ARRAY_SIZE(dom0s); i++) {
		char p[128];
		snprintf(p, sizeof(p), "/local/domain/5/%s", dom0s[i]);
		perms_of(p, got, sizeof(got));
		if (strcmp(got, "n0 r5") != 0)
			fail_msg("%s: permissions '%s'", p, got);
	}
	static const char *const own[] = { "control", "device", "data", "backend", "error" };
	for (size_t i = 0; i < BH_ARRAY_SIZE(own); i++) {
		char p[128];
		snprintf(p, sizeof(p), "/local/domain/5/%s", own[i]);
		perms_of(p, got, sizeof(got));
		if (strcmp(got, "n5") != 0)
			fail_msg("%s: permissions '%s'", p, got);
	}
	xsp_remove_domain(X, 5);
	xlcfg_free(c);
	xlcfg_diags_free(&dg);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_vbd_keys_take_their_dirs_perms),
	cmocka_unit_test(test_domain_keys_perms),
};
BH_TEST_MAIN_FIXTURES(tests, setup, teardown)
