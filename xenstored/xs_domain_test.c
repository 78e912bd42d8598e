/* The store as its own domain under a real core (--xenstore): dom0's side
 * (this test, over the socket the core exposes in rundir/xenstored)
 * introduces a guest that talks to the store over its ring page; then the
 * guest is destroyed and the store releases it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "tests/harness.h"
#include "xenstored/bhxs.h"

#define GUEST 20

static void test_guest_over_ring(void **state)
{
	struct th_host h;
	char daemon[512], sock[400];
	/* Enforcing policy: the store domain's rights to VIRQ_DOM_EXC and
	 * other domains' info come from the built-in rules (Xen's XSM gives
	 * its xenstore domain both). */
	const char *extra[] = { "--xenstore",
		                daemon,
		                "--xenstore-arg",
		                "--domain-rings",
		                "--xenstore-arg",
		                "--socket",
		                "--xenstore-arg",
		                "/run/xenstored/socket",
		                NULL };
	struct bhxs *xs = NULL;
	struct stat st;
	char *v, *path, *token, *log;
	size_t len;

	snprintf(daemon, sizeof(daemon), "%s/../libexec/bulkhead/bulkhead-xenstored",
	         bh_test_bindir());
	memset(&h, 0, sizeof(h));
	assert_int_equal(th_host_start(&h, extra), 0);
	snprintf(sock, sizeof(sock), "%s/xenstored/socket", h.rundir);
	/* The socket file exists a moment before the daemon listens. */
	for (int i = 0; i < 500 && (stat(sock, &st) < 0 || bhxs_open_socket(sock, &xs) < 0); i++)
		usleep(20000);
	if (!xs || bhxs_watch(xs, "@releaseDomain", "rel") < 0) {
		fprintf(stderr, "store log:\n%s\n", th_log(&h, "xenstore"));
		fail_msg("the store does not answer");
	}
	assert_int_equal(bhxs_wait_watch(xs, 5000, &path, &token), 0);
	free(path);
	free(token);

	/* The toolstack's part: the guest's home, then the domain, then the
	 * introduction with the store port the core made for the store. */
	assert_int_equal(bhxs_mkdir(xs, 0, "/local/domain/20"), 0);
	const char *home[] = { "n20" };
	assert_int_equal(bhxs_set_perms(xs, 0, "/local/domain/20", home, 1), 0);
	const char *argv[] = { th_prog("xs_guest"), NULL };
	struct bh_hc_create req = { .flags = BH_CREATE_HOST_IMAGE | BH_CREATE_PAUSED,
		                    .role = BH_ROLE_GUEST,
		                    .domid = GUEST,
		                    .vcpus = 1,
		                    .mem_kb = 64 * 1024,
		                    .store_domid = 1,
		                    .console_domid = BH_DOMID_INVALID };
	struct bh_hc_create_resp resp;
	snprintf(req.name, sizeof(req.name), "guest");
	snprintf(req.image, sizeof(req.image), "%s", argv[0]);
	assert_int_equal(bhctl_domain_create(&h.cl, &req, argv, &resp), 0);
	assert_int_equal(resp.domid, GUEST);
	assert_int_equal(bhxs_introduce(xs, GUEST, 0, resp.store_port), 0);
	assert_int_equal(bhctl_domain_unpause(&h.cl, GUEST), 0);

	log = th_wait_log(&h, "guest", "READY", 20000);
	if (!log || strstr(log, "FAIL"))
		fprintf(stderr, "guest log:\n%s\n", log ? log : th_log(&h, "guest"));
	assert_non_null(log);
	assert_non_null(strstr(log, "READ hello"));
	free(log);
	assert_int_equal(bhxs_read(xs, 0, "/local/domain/20/data/key", &v, &len), 0);
	assert_string_equal(v, "hello");
	free(v);
	assert_int_equal(bhxs_write_str(xs, 0, "/local/domain/20/control/shutdown", "poweroff"), 0);
	log = th_wait_log(&h, "guest", "EVENT control/shutdown ctl poweroff", 20000);
	assert_non_null(log);
	free(log);

	/* Destroyed: VIRQ_DOM_EXC makes the store release it. */
	assert_int_equal(bhctl_domain_destroy(&h.cl, GUEST), 0);
	assert_int_equal(bhxs_wait_watch(xs, 20000, &path, &token), 0);
	assert_string_equal(path, "@releaseDomain");
	free(path);
	free(token);
	bool yes = true;
	assert_int_equal(bhxs_is_introduced(xs, GUEST, &yes), 0);
	assert_false(yes);
	assert_int_equal(bhxs_read(xs, 0, "/local/domain/20/data/key", &v, &len), -ENOENT);
	assert_int_equal(bhxs_read(xs, 0, "/local/domain/20", &v, &len), -ENOENT);
	bhxs_close(xs);
	/* The store did all this within the enforcing built-in policy. */
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "grep -q 'avc: denied' %s/core.log", h.dir);
	assert_int_not_equal(system(cmd), 0);
	assert_int_equal(th_host_stop(&h), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_guest_over_ring),
};

BH_TEST_MAIN(tests)
