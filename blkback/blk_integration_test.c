/* blkfront in a guest domain and blkback in a driver domain, through a
 * real core: grants, event channels and the assigned image all go through
 * the core as in production. The data is checked by the frontend and then
 * again here, in the image file on the host. Needs root. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "tests/harness.h"

#define FRONT     70
#define BACK      71
#define IMG_BYTES (16u << 20)

static int setup(void **state)
{
	struct th_host *h = calloc(1, sizeof(*h));

	assert_int_equal(th_host_start(h, NULL), 0);
	*state = h;
	return 0;
}

/* Runs even when a check failed: the core and its domains never outlive
 * the test. */
static int teardown(void **state)
{
	struct th_host *h = *state;

	assert_int_equal(th_host_stop(h), 0);
	free(h);
	return 0;
}

static void run(struct th_host *hp, unsigned order)
{
	struct th_host *h = hp;
	struct bh_hc_create_resp r;
	char path[512], sectors[32], ord[8];

	snprintf(path, sizeof(path), "%s/disk.img", h->devdir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, IMG_BYTES), 0); /* sparse */
	snprintf(sectors, sizeof(sectors), "%u", IMG_BYTES / 512);
	snprintf(ord, sizeof(ord), "%u", order);
	const char *fargv[] = { th_prog("blkfront-probe"), "71", sectors, ord, NULL };
	assert_int_equal(th_create(h, "front", BH_ROLE_GUEST, 128, 0, FRONT, fargv, &r), 0);
	char *log = th_wait_log(h, "front", "RING", 20000);
	assert_non_null(log);
	/* RING ORDER PORT REF... */
	const char *bargv[32] = { th_prog("blkback-serve"), "70", "xvda" };
	int na = 3;
	char *line = strstr(log, "RING ");
	*strchr(line, '\n') = '\0';
	char *save = NULL;
	strtok_r(line, " ", &save);
	for (char *t; (t = strtok_r(NULL, " ", &save)) && na < 31;)
		bargv[na++] = t;
	bargv[na] = NULL;
	assert_int_equal(na, 5 + (1 << order));
	/* created paused, so that the image is assigned before it looks */
	assert_int_equal(
	    th_create(h, "back", BH_ROLE_DRIVER, 128, BH_CREATE_PAUSED, BACK, bargv, &r), 0);
	assert_int_equal(bhctl_device_assign(&h->cl, BACK, "xvda", path, 0), 0);
	assert_int_equal(bhctl_domain_unpause(&h->cl, BACK), 0);
	free(log);
	log = th_wait_log(h, "front", "VERIFIED", 60000);
	if (!log || !strstr(log, "VERIFIED 4 last-sector ok past-end Invalid argument")) {
		char *b = th_log(h, "back");
		char *fl = log ? log : th_log(h, "front");
		fprintf(stderr, "front:\n%s\nback:\n%s\n", fl, b);
		free(fl);
		free(b);
		fail_msg("frontend did not verify its data");
	}
	free(log);
	struct bh_dominfo d;
	assert_int_equal(th_wait_end(h, FRONT, 20000, &d), 0);
	assert_int_equal(d.shutdown_reason, BH_SHUTDOWN_POWEROFF);
	log = th_log(h, "back");
	assert_non_null(strstr(log, "SERVING sectors 32768"));
	assert_null(strstr(log, "RING-ERROR"));
	free(log);
	/* on the host: region 0 holds the pattern, the discarded one zeros */
	char buf[4096];
	assert_int_equal(pread(fd, buf, 4096, 0), 4096);
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(buf[i], (char)((i * 31 + 7) ^ (i >> 9)));
	assert_int_equal(pread(fd, buf, 4096, 2048 * 512), 4096);
	assert_int_equal(buf[0], 0);
	struct stat st;
	fstat(fd, &st);
	assert_true(st.st_blocks * 512 < IMG_BYTES); /* still sparse */
	close(fd);
	assert_int_equal(bhctl_domain_destroy(&h->cl, BACK), 0);
}

static void test_io_between_domains(void **state)
{
	run(*state, 0);
}

static void test_io_between_domains_multipage_ring(void **state)
{
	run(*state, 2);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_io_between_domains, setup, teardown),
	cmocka_unit_test_setup_teardown(test_io_between_domains_multipage_ring, setup, teardown),
};

BH_TEST_MAIN(tests)
