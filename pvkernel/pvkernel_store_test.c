/* The PV kernel with a real store: a store domain (bulkhead-xenstored
 * serving domain rings), the guest introduced to it as the toolstack
 * does. The guest announces control/feature-*, reports the devices it
 * finds under device/, and a control/shutdown request ends it with that
 * reason after an orderly stop. Built when the tree has the store. */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "common/util.h"
#include "tests/harness.h"
#include "xenstored/bhxs.h"

#define STORE 1
#define GUEST 40

struct fx {
	struct th_host h;
	char libexec[200];
	struct bhxs *xs;
};

static void sleep_ms(int ms)
{
	usleep((useconds_t)ms * 1000);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char img[300], sock[400];
	struct bh_hc_create_resp r;
	struct stat st;

	snprintf(f->libexec, sizeof(f->libexec), "%s/../libexec/bulkhead", bh_test_bindir());
	assert_int_equal(th_host_start(&f->h, NULL), 0);
	snprintf(img, sizeof(img), "%s/bulkhead-xenstored", f->libexec);
	const char *argv[] = { img, "--domain-rings", "--socket", "/run/xenstored/socket", NULL };
	assert_int_equal(
	    th_create(&f->h, "xenstore", BH_ROLE_STORE, 64, BH_CREATE_PRIVILEGED, STORE, argv, &r),
	    0);
	snprintf(sock, sizeof(sock), "%s/xenstored/socket", f->h.rundir);
	/* The socket may exist a moment before it listens. */
	int rc = -ENOENT;
	for (int i = 0;
	     i < 500 && (stat(sock, &st) < 0 || (rc = bhxs_open_socket(sock, &f->xs)) < 0); i++)
		sleep_ms(20);
	assert_int_equal(rc, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	bhxs_close(f->xs);
	assert_int_equal(th_host_stop(&f->h), 0);
	free(f);
	return 0;
}

static void node(struct fx *f, const char *path, const char *val)
{
	const char *perms[] = { "n40" }; /* the guest owns its home, as libxl makes it */

	assert_int_equal(bhxs_write_str(f->xs, 0, path, val), 0);
	assert_int_equal(bhxs_set_perms(f->xs, 0, path, perms, 1), 0);
}

/* The toolstack's part: create paused with the store, the domain's home in
 * the store, introduce, the ramdisk, unpause. */
static void boot(struct fx *f, const char *const *words, const char *early_request)
{
	const char *argv[16] = { "bulkhead-pvkernel", "--" };
	struct bh_hc_create req = { .flags = BH_CREATE_HOST_IMAGE | BH_CREATE_PAUSED,
		                    .role = BH_ROLE_GUEST,
		                    .domid = GUEST,
		                    .vcpus = 1,
		                    .mem_kb = 128 * 1024,
		                    .store_domid = STORE,
		                    .console_domid = BH_DOMID_INVALID };
	struct bh_hc_create_resp r;
	size_t n = 2;

	for (size_t i = 0; words[i] && n < 15; i++)
		argv[n++] = words[i];
	bh_strlcpy(req.name, "guest", sizeof(req.name));
	snprintf(req.image, sizeof(req.image), "%s/bulkhead-pvkernel", f->libexec);
	assert_int_equal(bhctl_domain_create(&f->h.cl, &req, argv, &r), 0);
	node(f, "/local/domain/40", "");
	node(f, "/local/domain/40/control", "");
	node(f, "/local/domain/40/device", "");
	node(f, "/local/domain/40/device/vbd", "");
	node(f, "/local/domain/40/device/vbd/51712", "");
	node(f, "/local/domain/40/device/vbd/51712/backend",
	     "/local/domain/0/backend/vbd/40/51712");
	if (early_request)
		node(f, "/local/domain/40/control/shutdown", early_request);
	assert_int_equal(bhxs_introduce(f->xs, GUEST, 0, r.store_port), 0);
	assert_int_equal(bhctl_device_assign(&f->h.cl, GUEST, "ramdisk",
	                                     "image:bulkhead-ramdisk.cpio", BH_DEV_RDONLY),
	                 0);
	assert_int_equal(bhctl_domain_unpause(&f->h.cl, GUEST), 0);
}

static char *read_node(struct fx *f, const char *path)
{
	char *val = NULL;
	size_t len;

	if (bhxs_read(f->xs, 0, path, &val, &len) < 0)
		return NULL;
	return val;
}

static void test_control_shutdown_reboots(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "trap 'echo init got TERM; exit 0' TERM; echo up; "
		                "while :; do sleep 1; done",
		                NULL };
	const char *cmd[] = { "--", words[0], NULL };
	struct bh_dominfo d;

	boot(f, cmd, NULL);
	char *log = th_wait_log(&f->h, "guest", "\nup\r\n", 10000);
	if (!log)
		fprintf(stderr, "%s\n", th_log(&f->h, "guest"));
	assert_non_null(log);
	assert_non_null(strstr(log, "store: connected"));
	/* The block frontend found the device and said why it has no disk
	 * (this test writes a frontend without a backend-id or a backend). */
	assert_non_null(strstr(log, "vbd 51712: no backend or backend-id in the store"));
	free(log);
	char *v = read_node(f, "/local/domain/40/control/feature-poweroff");
	assert_non_null(v);
	assert_string_equal(v, "1");
	free(v);
	v = read_node(f, "/local/domain/40/control/feature-reboot");
	assert_non_null(v);
	assert_string_equal(v, "1");
	free(v);
	/* idle while waiting on the store: no busy loop on its descriptor. A
	 * busy loop takes most of every second; a second that caught the end
	 * of boot on a loaded host (seen once at load 3-4) is sampled again. */
	struct bh_dominfo a, b;
	uint64_t used = UINT64_MAX;
	for (int i = 0; i < 3 && used >= 300000000ull; i++) {
		assert_int_equal(bhctl_domain_getinfo(&f->h.cl, GUEST, &a), 0);
		sleep_ms(1000);
		assert_int_equal(bhctl_domain_getinfo(&f->h.cl, GUEST, &b), 0);
		used = b.cpu_time_ns - a.cpu_time_ns;
	}
	if (used >= 300000000ull)
		fprintf(stderr, "guest used %llu ms of CPU in each of 3 idle seconds\n",
		        (unsigned long long)(used / 1000000));
	assert_true(used < 300000000ull);
	node(f, "/local/domain/40/control/shutdown", "reboot");
	/* taken: the guest clears the request (before it goes, and the store
	 * releases it) */
	bool cleared = false;
	for (int i = 0; i < 250 && !cleared; i++) {
		v = read_node(f, "/local/domain/40/control/shutdown");
		cleared = v && !v[0];
		free(v);
		if (!cleared)
			sleep_ms(20);
	}
	assert_true(cleared);
	assert_int_equal(th_wait_end(&f->h, GUEST, 15000, &d), 0);
	assert_int_equal(d.shutdown_reason, BH_SHUTDOWN_REBOOT);
	log = th_log(&f->h, "guest");
	assert_non_null(strstr(log, "reboot requested by control/shutdown"));
	assert_non_null(strstr(log, "init got TERM"));
	free(log);
}

/* A request the guest does not know is left alone and changes nothing. */
static void test_unknown_request_is_ignored(void **state)
{
	struct fx *f = *state;
	const char *cmd[] = { "--", "echo up; sleep 3; exit 0", NULL };
	struct bh_dominfo d;

	boot(f, cmd, NULL);
	char *log = th_wait_log(&f->h, "guest", "\nup\r\n", 10000);
	assert_non_null(log);
	free(log);
	node(f, "/local/domain/40/control/shutdown", "dance");
	assert_int_equal(th_wait_end(&f->h, GUEST, 15000, &d), 0);
	assert_int_equal(d.shutdown_reason, BH_SHUTDOWN_POWEROFF);
	log = th_log(&f->h, "guest");
	assert_non_null(strstr(log, "control/shutdown=dance: unknown request, ignored"));
	free(log);
}

/* A request written before the guest came up is taken at once: init
 * never runs. */
static void test_request_before_boot_is_taken(void **state)
{
	struct fx *f = *state;
	const char *cmd[] = { "--", "echo init-ran; sleep 30", NULL };
	struct bh_dominfo d;

	boot(f, cmd, "poweroff");
	assert_int_equal(th_wait_end(&f->h, GUEST, 15000, &d), 0);
	assert_int_equal(d.shutdown_reason, BH_SHUTDOWN_POWEROFF);
	char *log = th_log(&f->h, "guest");
	assert_non_null(strstr(log, "power off requested by control/shutdown"));
	assert_null(strstr(log, "\ninit-ran"));
	free(log);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_control_shutdown_reboots, setup, teardown),
	cmocka_unit_test_setup_teardown(test_unknown_request_is_ignored, setup, teardown),
	cmocka_unit_test_setup_teardown(test_request_before_boot_is_taken, setup, teardown),
};

BH_TEST_MAIN(tests)
