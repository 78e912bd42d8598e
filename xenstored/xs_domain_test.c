/* The store as its own domain under a real core (--xenstore): dom0's side
 * (this test, over the socket the core exposes in rundir/xenstored)
 * introduces guests that talk to the store over their ring pages; then one
 * crashes (the core still lists it, shut down) and one is destroyed (the
 * core no longer knows it), and the store releases each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "tests/harness.h"
#include "xenstored/bhxs.h"

#define GUEST   20
#define CRASHED 21

/* The toolstack's part: the guest's home, then the domain, then the
 * introduction with the store port the core made for the store; the
 * guest has used the store when it says READY. */
static void start_guest(struct th_host *h, struct bhxs *xs, uint16_t domid, const char *name)
{
	char home[32], owner[16], *log;
	const char *perms[] = { owner };
	const char *argv[] = { th_prog("xs_guest"), NULL };
	struct bh_hc_create req = { .flags = BH_CREATE_HOST_IMAGE | BH_CREATE_PAUSED,
		                    .role = BH_ROLE_GUEST,
		                    .domid = domid,
		                    .vcpus = 1,
		                    .mem_kb = 64 * 1024,
		                    .store_domid = 1,
		                    .console_domid = BH_DOMID_INVALID };
	struct bh_hc_create_resp resp;

	snprintf(home, sizeof(home), "/local/domain/%u", domid);
	snprintf(owner, sizeof(owner), "n%u", domid);
	assert_int_equal(bhxs_mkdir(xs, 0, home), 0);
	assert_int_equal(bhxs_set_perms(xs, 0, home, perms, 1), 0);
	snprintf(req.name, sizeof(req.name), "%s", name);
	snprintf(req.image, sizeof(req.image), "%s", argv[0]);
	assert_int_equal(bhctl_domain_create(&h->cl, &req, argv, &resp), 0);
	assert_int_equal(resp.domid, domid);
	assert_int_equal(bhxs_introduce(xs, domid, 0, resp.store_port), 0);
	assert_int_equal(bhctl_domain_unpause(&h->cl, domid), 0);
	log = th_wait_log(h, name, "READY", 20000);
	if (!log || strstr(log, "FAIL"))
		fprintf(stderr, "%s log:\n%s\n", name, log ? log : th_log(h, name));
	assert_non_null(log);
	assert_non_null(strstr(log, "READ hello"));
	free(log);
}

/* The store released DOMID: not introduced, its home gone. */
static void assert_released(struct bhxs *xs, uint16_t domid)
{
	char *path, *token, *v, home[32];
	bool yes = true;
	size_t len;

	assert_int_equal(bhxs_wait_watch(xs, 20000, &path, &token), 0);
	assert_string_equal(path, "@releaseDomain");
	free(path);
	free(token);
	assert_int_equal(bhxs_is_introduced(xs, domid, &yes), 0);
	assert_false(yes);
	snprintf(home, sizeof(home), "/local/domain/%u", domid);
	assert_int_equal(bhxs_read(xs, 0, home, &v, &len), -ENOENT);
}

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

	start_guest(&h, xs, GUEST, "guest");
	assert_int_equal(bhxs_read(xs, 0, "/local/domain/20/data/key", &v, &len), 0);
	assert_string_equal(v, "hello");
	free(v);
	assert_int_equal(bhxs_write_str(xs, 0, "/local/domain/20/control/shutdown", "poweroff"), 0);
	log = th_wait_log(&h, "guest", "EVENT control/shutdown ctl poweroff", 20000);
	assert_non_null(log);
	free(log);

	/* Crashed: the core keeps it, shut down, until it is destroyed; the
	 * store learns that from the core's list of states and releases it. */
	start_guest(&h, xs, CRASHED, "second");
	assert_int_equal(bhctl_domain_shutdown(&h.cl, CRASHED, BH_SHUTDOWN_CRASH), 0);
	assert_released(xs, CRASHED);
	struct bh_dominfo info;
	assert_int_equal(bhctl_domain_getinfo(&h.cl, CRASHED, &info), 0);
	assert_int_equal(info.state, BH_DOMSTATE_SHUTDOWN);
	assert_int_equal(bhxs_read(xs, 0, "/local/domain/20/data/key", &v, &len), 0);
	free(v); /* the other guest is untouched */

	/* Destroyed: the core no longer knows it; the store asks about it
	 * alone (ESRCH) and releases it. */
	assert_int_equal(bhctl_domain_destroy(&h.cl, GUEST), 0);
	assert_released(xs, GUEST);
	assert_int_equal(bhxs_read(xs, 0, "/local/domain/20/data/key", &v, &len), -ENOENT);
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
