/* bulkhead-consoled as the real dom0 of a real core: a guest domain writes
 * its console ring, the daemon maps it across the domain boundary (grant
 * ref 0, the console port) and logs it; a client attached from the host
 * types into the guest and sees its answers; the guest's end is noticed
 * through VIRQ_DOM_EXC. Needs root, like every test with a core. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "common/util.h"
#include "consoled/consoled_client.h"
#include "tests/harness.h"

struct ctx {
	struct th_host h;
	char sock[400], logdir[400];
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static const char *libexec_prog(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/../libexec/bulkhead/%s", bh_test_bindir(), name);
	return path;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	const char *args[] = { "--dom0", NULL, NULL };
	struct stat st;
	char path[512];

	args[1] = strdup(libexec_prog("bulkhead-consoled"));
	assert_int_equal(th_host_start(&c->h, args), 0);
	free((char *)args[1]);
	/* dom0's /run/bulkhead is <rundir>/dom0 on the host */
	snprintf(c->sock, sizeof(c->sock), "%s/dom0/console.sock", c->h.rundir);
	snprintf(c->logdir, sizeof(c->logdir), "%s/dom0/console", c->h.rundir);
	for (int i = 0; i < 500 && stat(c->sock, &st) < 0; i++)
		sleep_ms(20);
	if (stat(c->sock, &st) < 0) {
		char *log = th_log(&c->h, "Domain-0");
		fprintf(stderr, "dom0 log:\n%s\n", log);
		free(log);
		fail_msg("bulkhead-consoled did not come up");
	}
	(void)path;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(th_host_stop(&c->h), 0);
	free(c);
	return 0;
}

/* A paused guest whose console is dom0's, handed to the daemon. */
static uint16_t start_guest(struct ctx *c, const char *name, const char *lines)
{
	const char *argv[] = { th_prog("consoled_guest"), lines, NULL };
	struct bh_hc_create req = { .flags = BH_CREATE_HOST_IMAGE | BH_CREATE_PAUSED,
		                    .role = BH_ROLE_GUEST,
		                    .domid = BH_DOMID_ANY,
		                    .vcpus = 1,
		                    .mem_kb = 64 * 1024,
		                    .store_domid = BH_DOMID_INVALID,
		                    .console_domid = 0 };
	struct bh_hc_create_resp r;
	char reqline[128], err[128] = "";

	bh_strlcpy(req.name, name, sizeof(req.name));
	bh_strlcpy(req.image, argv[0], sizeof(req.image));
	assert_int_equal(bhctl_domain_create(&c->h.cl, &req, argv, &r), 0);
	assert_true(r.console_port > 0);
	snprintf(reqline, sizeof(reqline), "add %u %s %u", r.domid, name, r.console_port);
	int rc = consoled_client_request(c->sock, reqline, -1, err, sizeof(err));
	if (rc < 0) {
		char *log = th_log(&c->h, "Domain-0");
		fprintf(stderr, "dom0 log:\n%s\n", log);
		free(log);
		fail_msg("add: %s (%s)", err, bh_strerror(rc));
	}
	assert_int_equal(bhctl_domain_unpause(&c->h.cl, r.domid), 0);
	return r.domid;
}

static char *wait_console_log(struct ctx *c, const char *name, const char *needle, int ms)
{
	char path[600];
	static char buf[1 << 20];

	snprintf(path, sizeof(path), "%s/%s.log", c->logdir, name);
	for (int t = 0; t <= ms; t += 20) {
		if (bh_read_file(path, buf, sizeof(buf)) >= 0 && strstr(buf, needle))
			return buf;
		sleep_ms(20);
	}
	fprintf(stderr, "console log %s:\n%s\n", path, buf);
	char *log = th_log(&c->h, name);
	fprintf(stderr, "domain log:\n%s\n", log);
	free(log);
	log = th_log(&c->h, "Domain-0");
	fprintf(stderr, "dom0 log:\n%s\n", log);
	free(log);
	return NULL;
}

/* 300 lines is several rings' worth: the guest must wait for the daemon. */
static void test_guest_output_reaches_the_log(void **state)
{
	struct ctx *c = *state;

	start_guest(c, "chatty", "300");
	char *log = wait_console_log(c, "chatty", "guest line 299\n", 20000);
	assert_non_null(log);
	/* every line, in order, each with its timestamp */
	char want[64];
	const char *p = log;
	for (int i = 0; i < 300; i++) {
		snprintf(want, sizeof(want), "] guest line %d\n", i);
		const char *at = strstr(p, want);
		if (!at)
			fail_msg("line %d missing or out of order", i);
		assert_true(at - p >= 24 && at[-24] == '[');
		p = at + strlen(want);
	}
}

struct attach_run {
	const char *sock;
	int in_fd, out_fd;
	int rc;
	char err[128];
};

static void *attach_thread(void *arg)
{
	struct attach_run *r = arg;

	r->rc = consoled_client_attach(r->sock, "talker", r->in_fd, r->out_fd,
	                               CONSOLED_ESCAPE_DEFAULT, r->err, sizeof(r->err));
	close(r->out_fd);
	return NULL;
}

/* Read from fd until needle shows up (or ms pass); returns what was read. */
static char *read_until(int fd, const char *needle, int ms)
{
	static char buf[65536];
	size_t n = 0;

	bh_set_nonblock(fd, 1);
	for (int t = 0; t <= ms; t += 10) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r > 0)
			n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, needle) || r == 0)
			break;
		sleep_ms(10);
	}
	return buf;
}

static void test_attach_types_into_the_guest_and_sees_its_end(void **state)
{
	struct ctx *c = *state;
	int in[2], out[2];
	struct attach_run r = { .sock = c->sock };
	struct bh_dominfo di;
	pthread_t t;

	uint16_t id = start_guest(c, "talker", "3");
	assert_non_null(wait_console_log(c, "talker", "guest line 2\n", 20000));
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	r.in_fd = in[0];
	r.out_fd = out[1];
	pthread_create(&t, NULL, attach_thread, &r);
	/* the guest answers what we type */
	assert_int_equal(bh_write_full(in[1], "hello\n", 6), 0);
	char *got = read_until(out[0], "echo: hello", 10000);
	if (!strstr(got, "echo: hello"))
		fail_msg("no echo; client got: %s (rc %d %s)", got, r.rc, r.err);
	/* a second client is refused while we are attached */
	char err[128] = "";
	assert_int_equal(consoled_client_attach(c->sock, "talker", -1, -1, -1, err, sizeof(err)),
	                 -EBUSY);
	char expect[64];
	snprintf(expect, sizeof(expect), "console of %u already in use", id);
	assert_string_equal(err, expect);
	/* it ends: the daemon notices, the client is told and returns 1 */
	assert_int_equal(bh_write_full(in[1], "quit\n", 5), 0);
	got = read_until(out[0], "[domain exited:", 20000);
	pthread_join(t, NULL);
	if (!strstr(got, "[domain exited: poweroff]"))
		fail_msg("client got: %s", got);
	assert_int_equal(r.rc, 1);
	assert_int_equal(th_wait_end(&c->h, id, 5000, &di), 0);
	char *log = wait_console_log(c, "talker", "[domain exited: poweroff]", 5000);
	assert_non_null(log);
	assert_non_null(strstr(log, "echo: hello\n"));
	assert_non_null(strstr(log, "bye\n"));
	/* the log is there for `bh console --tail` after the end */
	int tp[2];
	char buf[4096] = "";
	assert_int_equal(pipe2(tp, O_CLOEXEC), 0);
	assert_int_equal(consoled_client_tail(c->sock, "talker", 2, tp[1], err, sizeof(err)), 0);
	close(tp[1]);
	assert_true(read(tp[0], buf, sizeof(buf) - 1) > 0);
	assert_non_null(strstr(buf, "bye\n"));
	assert_non_null(strstr(buf, "[domain exited: poweroff]"));
	close(tp[0]);
	bh_close_fds(in, 2);
	close(out[0]);
}

/* A guest that corrupts its ring loses its console, nobody else's. */
static void test_hostile_guest_stops_only_its_console(void **state)
{
	struct ctx *c = *state;
	char buf[4096] = "", err[128] = "";
	int p[2];

	uint16_t evil = start_guest(c, "evil", "corrupt");
	start_guest(c, "good", "5");
	assert_non_null(wait_console_log(c, "evil", "corrupted its output ring indices", 20000));
	assert_non_null(wait_console_log(c, "good", "guest line 4\n", 20000));
	assert_non_null(strstr(wait_console_log(c, "evil", "]", 0), "] about to misbehave\n"));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(consoled_client_request(c->sock, "list", p[1], err, sizeof(err)), 0);
	close(p[1]);
	assert_true(read(p[0], buf, sizeof(buf) - 1) > 0);
	close(p[0]);
	char want[64];
	snprintf(want, sizeof(want), "%u evil stopped -\n", evil);
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, " good running -\n"));
	assert_int_equal(consoled_client_attach(c->sock, "evil", -1, -1, -1, err, sizeof(err)),
	                 -EPROTO);
	assert_non_null(strstr(err, "is stopped"));
	/* its end is still noted in its log */
	assert_int_equal(bhctl_domain_destroy(&c->h.cl, evil), 0);
	assert_non_null(wait_console_log(c, "evil", "[domain exited: ", 10000));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_hostile_guest_stops_only_its_console),
	cmocka_unit_test(test_guest_output_reaches_the_log),
	cmocka_unit_test(test_attach_types_into_the_guest_and_sees_its_end),
};

BH_TEST_MAIN_FIXTURES(tests, setup, teardown)
