/* bulkhead-driverdom in a real driver domain: a core with the store stub
 * domain, the driver domain created and introduced the way the toolstack
 * does it (toolstack.c, xspaths.c), then watched from the host over the
 * store's socket. Shows that the program lives under the DRIVER sandbox and
 * seccomp allow-list (a denied call would kill it), reaches the store over
 * its ring, reports backend-ready, heartbeats, and answers a vbd. Needs
 * root. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

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
	static const char *const args[] = { "--xenstore",
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
static void start_driver_domain(struct t *t, uint16_t domid)
{
	struct bh_hc_create req = { .flags = BH_CREATE_PAUSED,
		                    .role = BH_ROLE_DRIVER,
		                    .domid = domid,
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

	start_driver_domain(t, BH_DOMID_ANY);
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

/* After start-up the driver domain sits in an empty root with only
 * CAP_NET_ADMIN, seen from the host through /proc. */
static void test_narrowed(void **state)
{
	struct t *t = *state;
	struct bh_dominfo d;
	char p[128], buf[4096], *log, *cap;
	struct dirent *e;
	DIR *dir;
	int n = 0;

	start_driver_domain(t, BH_DOMID_ANY);
	log = th_wait_log(&t->h, "dd", "narrowed", 20000);
	assert_alive(t);
	assert_non_null(log);
	free(log);
	assert_int_equal(bhctl_domain_getinfo(&t->h.cl, t->dd, &d), 0);
	assert_true(d.pid > 0);
	snprintf(p, sizeof(p), "/proc/%d/root", d.pid);
	dir = opendir(p);
	assert_non_null(dir);
	while ((e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(dir);
	assert_int_equal(n, 0);
	snprintf(p, sizeof(p), "/proc/%d/status", d.pid);
	assert_true(bh_read_file(p, buf, sizeof(buf)) > 0);
	cap = strstr(buf, "CapEff:");
	assert_non_null(cap);
	assert_int_equal(strncmp(cap, "CapEff:\t0000000000001000", 24), 0);
	/* and it still serves the store and heartbeats */
	usleep(500000);
	assert_alive(t);
	assert_int_equal(bhctl_domain_getinfo(&t->h.cl, t->dd, &d), 0);
	assert_true(d.heartbeat_age_ms < 400);
}

/* Kills the driver domain's process, waits for the end and for the
 * process to be reaped; the core's line about the end, malloc'd. */
static char *kill_and_end(struct t *t)
{
	struct bh_dominfo d;
	char p[64], *line;

	assert_int_equal(bhctl_domain_getinfo(&t->h.cl, t->dd, &d), 0);
	assert_true(d.pid > 0);
	assert_int_equal(kill(d.pid, SIGKILL), 0);
	assert_int_equal(th_wait_end(&t->h, t->dd, 10000, &d), 0);
	assert_int_equal(d.shutdown_reason, BH_SHUTDOWN_CRASH);
	assert_string_equal(bhctl_crash_name(d.crash_detail), "signal");
	/* not left a zombie of the core's, whichever way its end was seen */
	snprintf(p, sizeof(p), "/proc/%d", d.pid);
	for (int i = 0; i < 500 && access(p, F_OK) == 0; i++)
		usleep(10000);
	assert_int_not_equal(access(p, F_OK), 0);
	line = th_core_end_line(&t->h, t->dd, "dd", 0);
	assert_non_null(line);
	return line;
}

/* The driver domain holds its life page (core/life.c) from the start;
 * once it has heartbeated, the core waits on it and sees a SIGKILL as the
 * process starts its exit, not when it is reaped, with the same reason.
 * The page is a race the core usually wins, not a promise: this driver
 * domain has nothing mapped, so its exit is over in ~0.1 ms, and on a
 * loaded host (a parallel test run on 2 CPUs) the core's watching thread
 * may get a CPU only after the loop has reaped it (half the kills with
 * both CPUs busy; a netback with its guests' pages mapped spends ~1-2 ms
 * in its exit). So a generation whose end was seen at the reap is
 * destroyed and the kill tried again with a new one, up to 5 times. */
static void test_end_seen_on_life_page(void **state)
{
	struct t *t = *state;
	struct bh_dominfo d;
	char p[128], maps[1 << 16], *v, *line = NULL;
	int tries = 0;

	/* futex_waitv (Linux 5.16): without it the core waits on no page */
	if (syscall(SYS_futex_waitv, NULL, 0, 0, NULL, 0) < 0 && errno == ENOSYS) {
		fprintf(stderr, "no futex_waitv on this kernel: skipped\n");
		skip();
	}
	while (tries++ < 5) {
		start_driver_domain(t, BH_DOMID_ANY);
		snprintf(p, sizeof(p), "/local/domain/%u/data/backend-ready", t->dd);
		v = wait_node(t, p, 20000);
		assert_non_null(v);
		free(v);
		usleep(500000); /* heartbeats: the core arms the page */
		assert_alive(t);
		assert_int_equal(bhctl_domain_getinfo(&t->h.cl, t->dd, &d), 0);
		snprintf(p, sizeof(p), "/proc/%d/maps", d.pid);
		assert_true(bh_read_file(p, maps, sizeof(maps)) > 0);
		assert_non_null(strstr(maps, "/memfd:bh-life"));
		free(line);
		line = kill_and_end(t);
		if (strstr(line, "crash (signal), seen exiting on its life page"))
			break;
		fprintf(stderr, "try %d: the end was seen at the reap: %s\n", tries, line);
		assert_int_equal(bhctl_domain_destroy(&t->h.cl, t->dd), 0);
		bhxs_release(t->xs, t->dd);
	}
	if (!strstr(line, "crash (signal), seen exiting on its life page"))
		fail_msg("the end was not seen on the life page in %d tries: %s", tries - 1, line);
	free(line);
}

/* A vbd the way the toolstack writes it (params: the token of the image
 * assigned to the driver domain). */
static void write_vbd(struct t *t, int fe_domid, int dd, const char *token)
{
	char fe[128], be[128], p[200];

	snprintf(fe, sizeof(fe), "/local/domain/%d/device/vbd/%d", fe_domid, DEV);
	snprintf(be, sizeof(be), "/local/domain/%d/backend/vbd/%d/%d", dd, fe_domid, DEV);
	node(t, fe, NULL, fe_domid, dd);
	snprintf(p, sizeof(p), "%s/state", fe);
	node(t, p, "1", fe_domid, dd);
	node(t, be, NULL, dd, fe_domid);
	snprintf(p, sizeof(p), "%s/frontend", be);
	node(t, p, fe, dd, fe_domid);
	snprintf(p, sizeof(p), "%s/params", be);
	node(t, p, token, dd, fe_domid);
	snprintf(p, sizeof(p), "%s/mode", be);
	node(t, p, "w", dd, fe_domid);
	snprintf(p, sizeof(p), "%s/online", be);
	node(t, p, "1", dd, fe_domid);
	snprintf(p, sizeof(p), "%s/state", be);
	node(t, p, "1", dd, fe_domid);
}

/* Polls PATH until it reads WANT (10 s). */
static void wait_value(struct t *t, const char *path, const char *want)
{
	char *v = NULL;

	for (int i = 0; i < 1000; i++) {
		free(v);
		v = read_node(t, path);
		if (v && strcmp(v, want) == 0)
			break;
		usleep(10000);
	}
	if (!v || strcmp(v, want) != 0) {
		char *log = th_log(&t->h, "dd");
		fprintf(stderr, "%s = %s, wanted %s; driver domain log:\n%s", path,
		        v ? v : "(absent)", want, log ? log : "");
		free(log);
		free(v);
		fail_msg("%s", path);
	}
	free(v);
}

#ifndef BH_DRIVERDOM_VBD
/* Without the block engine the program refuses a vbd with an error node
 * and Closing. */
static void test_vbd_answered(void **state)
{
	struct t *t = *state;
	char p[200];

	start_driver_domain(t, BH_DOMID_ANY);
	snprintf(p, sizeof(p), "/local/domain/%u/data/backend-ready", t->dd);
	wait_value(t, p, "1");
	write_vbd(t, FE, t->dd, "vbd-9-51712");
	snprintf(p, sizeof(p), "/local/domain/%u/error/backend/vbd/%d/%d/error", t->dd, FE, DEV);
	wait_value(t, p, "38 error: backend not built in yet");
	/* the error comes first, then the switch to Closing */
	snprintf(p, sizeof(p), "/local/domain/%u/backend/vbd/%d/%d/state", t->dd, FE, DEV);
	wait_value(t, p, "5");
	assert_alive(t);
}
#else
#define FRONT 70
#define BACK  71

static void fe_node(struct t *t, const char *key, const char *val)
{
	char p[200];

	snprintf(p, sizeof(p), "/local/domain/%d/device/vbd/%d/%s", FRONT, DEV, key);
	node(t, p, val, FRONT, BACK);
}

/* A driver domain offering a 16 MiB disk to FRONT: up to its InitWait. */
static void vbd_offered(struct t *t)
{
	char img[400], p[200];
	int fd;

	start_driver_domain(t, BACK);
	snprintf(p, sizeof(p), "/local/domain/%d/data/backend-ready", BACK);
	wait_value(t, p, "1");
	snprintf(img, sizeof(img), "%s/disk.img", t->h.devdir);
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 16 << 20), 0);
	close(fd);
	assert_int_equal(bhctl_device_assign(&t->h.cl, BACK, "vbd-70-51712", img, 0), 0);
	write_vbd(t, FRONT, BACK, "vbd-70-51712");
	snprintf(p, sizeof(p), "/local/domain/%d/backend/vbd/%d/%d/state", BACK, FRONT, DEV);
	wait_value(t, p, "2");
}

/* The whole handshake with a real blkfront in a guest domain (blkfront's
 * own test program, which does I/O on the ring it hands out): the test
 * carries its ring keys into the store as the frontend's xenbus code
 * would, the driver domain connects, the frontend verifies its data. */
static void test_vbd_serves_blkfront(void **state)
{
	struct t *t = *state;
	char p[200], *log;

	vbd_offered(t);
	snprintf(p, sizeof(p), "/local/domain/%d/backend/vbd/%d/%d/sectors", BACK, FRONT, DEV);
	wait_value(t, p, "32768");

	const char *fargv[] = { th_prog("blkfront-probe"), "71", "32768", "0", NULL };
	assert_int_equal(th_create(&t->h, "front", BH_ROLE_GUEST, 128, 0, FRONT, fargv, NULL), 0);
	log = th_wait_log(&t->h, "front", "RING", 20000);
	assert_non_null(log);
	unsigned order, port, ref;
	assert_int_equal(sscanf(strstr(log, "RING "), "RING %u %u %u", &order, &port, &ref), 3);
	free(log);
	char v[16];
	snprintf(v, sizeof(v), "%u", ref);
	fe_node(t, "ring-ref", v);
	snprintf(v, sizeof(v), "%u", port);
	fe_node(t, "event-channel", v);
	fe_node(t, "protocol", "x86_64-abi");
	fe_node(t, "state", "3");
	snprintf(p, sizeof(p), "/local/domain/%d/backend/vbd/%d/%d/state", BACK, FRONT, DEV);
	wait_value(t, p, "4");
	log = th_wait_log(&t->h, "front", "VERIFIED", 60000);
	if (!log || !strstr(log, "VERIFIED 4 last-sector ok past-end Invalid argument")) {
		char *b = th_log(&t->h, "dd");
		fprintf(stderr, "front:\n%s\nback:\n%s\n", log ? log : "", b ? b : "");
		free(b);
		fail_msg("the frontend did not verify its data");
	}
	free(log);
	/* the guest-initiated close */
	fe_node(t, "state", "5");
	wait_value(t, p, "5");
	fe_node(t, "state", "6");
	wait_value(t, p, "6");
	assert_alive(t);
}

/* Two queues (multi-queue-num-queues = 2, keys under queue-N/), each its
 * own ring and event channel: blkfront spreads its requests over both,
 * the driver domain serves them, the frontend verifies its data. */
static void test_vbd_serves_two_queues(void **state)
{
	struct t *t = *state;
	char p[200], v[16], *log;
	unsigned order, port, ref, q;

	vbd_offered(t);
	snprintf(p, sizeof(p), "/local/domain/%d/backend/vbd/%d/%d/multi-queue-max-queues", BACK,
	         FRONT, DEV);
	wait_value(t, p, "4");

	const char *fargv[] = { th_prog("blkfront-probe"), "71", "32768", "0:2", NULL };
	assert_int_equal(th_create(&t->h, "front", BH_ROLE_GUEST, 128, 0, FRONT, fargv, NULL), 0);
	log = th_wait_log(&t->h, "front", "QUEUE 1", 20000);
	assert_non_null(log);
	assert_int_equal(sscanf(strstr(log, "RING "), "RING %u %u %u", &order, &port, &ref), 3);
	snprintf(v, sizeof(v), "%u", ref);
	fe_node(t, "queue-0/ring-ref", v);
	snprintf(v, sizeof(v), "%u", port);
	fe_node(t, "queue-0/event-channel", v);
	assert_int_equal(sscanf(strstr(log, "QUEUE "), "QUEUE %u %u %u", &q, &port, &ref), 3);
	assert_int_equal(q, 1);
	free(log);
	snprintf(v, sizeof(v), "%u", ref);
	fe_node(t, "queue-1/ring-ref", v);
	snprintf(v, sizeof(v), "%u", port);
	fe_node(t, "queue-1/event-channel", v);
	fe_node(t, "multi-queue-num-queues", "2");
	fe_node(t, "protocol", "x86_64-abi");
	fe_node(t, "state", "3");
	snprintf(p, sizeof(p), "/local/domain/%d/backend/vbd/%d/%d/state", BACK, FRONT, DEV);
	wait_value(t, p, "4");
	log = th_wait_log(&t->h, "front", "VERIFIED", 60000);
	char *b = th_log(&t->h, "dd");
	if (!log || !strstr(log, "VERIFIED 4 last-sector ok past-end Invalid argument") || !b ||
	    !strstr(b, "over 2 queue(s)")) {
		fprintf(stderr, "front:\n%s\nback:\n%s\n", log ? log : "", b ? b : "");
		fail_msg("two queues were not served");
	}
	free(log);
	free(b);
	assert_alive(t);
}

/* A generation that was handed a disk image is never ended on its life
 * page: a write of its may still be in flight in its exit. Its end is
 * seen at the reap, as for any domain. */
static void test_vbd_generation_ends_at_reap(void **state)
{
	struct t *t = *state;
	char p[200], *line;

	vbd_offered(t);
	snprintf(p, sizeof(p), "/local/domain/%d/backend/vbd/%d/%d/sectors", BACK, FRONT, DEV);
	wait_value(t, p, "32768"); /* the image is open */
	usleep(500000);            /* heartbeats */
	line = kill_and_end(t);
	assert_non_null(strstr(line, "crash (signal)"));
	if (strstr(line, "life page"))
		fail_msg("a generation with an image was ended early: %s", line);
	free(line);
}

/* A frontend of another ABI is refused, not misread. */
static void test_vbd_refuses_foreign_protocol(void **state)
{
	struct t *t = *state;
	char img[400], p[200];
	int fd;

	start_driver_domain(t, BACK);
	snprintf(img, sizeof(img), "%s/disk.img", t->h.devdir);
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	assert_int_equal(bhctl_device_assign(&t->h.cl, BACK, "vbd-70-51712", img, 0), 0);
	write_vbd(t, FRONT, BACK, "vbd-70-51712");
	snprintf(p, sizeof(p), "/local/domain/%d/backend/vbd/%d/%d/state", BACK, FRONT, DEV);
	wait_value(t, p, "2");
	fe_node(t, "ring-ref", "8");
	fe_node(t, "event-channel", "3");
	fe_node(t, "protocol", "x86_32-abi");
	fe_node(t, "state", "3");
	wait_value(t, p, "5");
	snprintf(p, sizeof(p), "/local/domain/%d/error/backend/vbd/%d/%d/error", BACK, FRONT, DEV);
	wait_value(t, p, "93 protocol x86_32-abi not supported (only x86_64-abi)");
	assert_alive(t);
}
#endif

#ifdef BH_DRIVERDOM_VIF
#define VFRONT 72
#define VBACK  73

/* A vif the way the toolstack writes it (xspaths.c), frontend at
 * Initialising. */
static void write_vif(struct t *t, int devid)
{
	char fe[128], be[128], p[200], v[16];

	snprintf(fe, sizeof(fe), "/local/domain/%d/device/vif/%d", VFRONT, devid);
	snprintf(be, sizeof(be), "/local/domain/%d/backend/vif/%d/%d", VBACK, VFRONT, devid);
	snprintf(v, sizeof(v), "%d", devid);
	node(t, fe, NULL, VFRONT, VBACK);
	snprintf(p, sizeof(p), "%s/state", fe);
	node(t, p, "1", VFRONT, VBACK);
	node(t, be, NULL, VBACK, VFRONT);
	static const char *const keys[][2] = {
		{ "frontend", NULL }, { "online", "1" },      { "mac", "00:16:3e:00:00:20" },
		{ "type", "vif" },    { "bridge", "xenbr0" }, { "mtu", "1500" },
		{ "handle", NULL },   { "state", "1" }
	};
	for (size_t i = 0; i < BH_ARRAY_SIZE(keys); i++) {
		snprintf(p, sizeof(p), "%s/%s", be, keys[i][0]);
		node(t, p, keys[i][1] ? keys[i][1] : i == 0 ? fe : v, VBACK, VFRONT);
	}
}

static void vif_fe_node(struct t *t, int devid, const char *key, unsigned long val)
{
	char p[200], v[24];

	snprintf(p, sizeof(p), "/local/domain/%d/device/vif/%d/%s", VFRONT, devid, key);
	snprintf(v, sizeof(v), "%lu", val);
	node(t, p, v, VFRONT, VBACK);
}

static int count_lines(const char *log, const char *what)
{
	int n = 0;

	for (const char *p = log; p && (p = strstr(p, what)); p++)
		n++;
	return n;
}

/* A frontend that breaks the protocol (req_prod a thousand slots ahead):
 * its vif gets Xen's error node and goes to Closing; the driver domain
 * lives, and its two other vifs on the same bridge keep carrying frames
 * from one to the other. */
static void test_vif_hostile_frontend_closed(void **state)
{
	struct t *t = *state;
	unsigned long k[9];
	char p[200], *log;

	start_driver_domain(t, VBACK);
	snprintf(p, sizeof(p), "/local/domain/%d/data/backend-ready", VBACK);
	wait_value(t, p, "1");
	for (int d = 0; d < 3; d++)
		write_vif(t, d);
	for (int d = 0; d < 3; d++) {
		snprintf(p, sizeof(p), "/local/domain/%d/backend/vif/%d/%d/state", VBACK, VFRONT,
		         d);
		wait_value(t, p, "2");
	}
	const char *fargv[] = { th_prog("vif-hostile-probe"), "73", NULL };
	assert_int_equal(th_create(&t->h, "front", BH_ROLE_GUEST, 128, 0, VFRONT, fargv, NULL), 0);
	log = th_wait_log(&t->h, "front", "VIFS", 20000);
	assert_non_null(log);
	assert_int_equal(sscanf(strstr(log, "VIFS "), "VIFS %lu %lu %lu %lu %lu %lu %lu %lu %lu",
	                        &k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6], &k[7], &k[8]),
	                 9);
	free(log);
	for (int d = 0; d < 3; d++) {
		vif_fe_node(t, d, "tx-ring-ref", k[3 * d]);
		vif_fe_node(t, d, "rx-ring-ref", k[3 * d + 1]);
		vif_fe_node(t, d, "event-channel", k[3 * d + 2]);
		vif_fe_node(t, d, "request-rx-copy", 1);
		vif_fe_node(t, d, "feature-sg", 1);
		vif_fe_node(t, d, "state", 4);
	}
	for (int d = 0; d < 3; d++) {
		snprintf(p, sizeof(p), "/local/domain/%d/backend/vif/%d/%d/state", VBACK, VFRONT,
		         d);
		wait_value(t, p, "4");
	}
	log = th_wait_log(&t->h, "front", "HOSTILE", 20000);
	assert_non_null(log);
	free(log);
	snprintf(p, sizeof(p), "/local/domain/%d/error/backend/vif/%d/0/error", VBACK, VFRONT);
	wait_value(t, p,
	           "71 the frontend broke the netif protocol: TX req_prod more than a ring ahead");
	snprintf(p, sizeof(p), "/local/domain/%d/backend/vif/%d/0/state", VBACK, VFRONT);
	wait_value(t, p, "5");
	assert_alive(t);
	/* frames still go from vif 1 to vif 2 after the close */
	log = th_log(&t->h, "front");
	int before = count_lines(log, "RELAYED");
	free(log);
	log = NULL;
	for (int i = 0; i < 500; i++) {
		free(log);
		log = th_log(&t->h, "front");
		if (count_lines(log, "RELAYED") > before)
			break;
		usleep(20000);
	}
	if (count_lines(log, "RELAYED") <= before) {
		char *b = th_log(&t->h, "dd");
		fprintf(stderr, "front:\n%s\nback:\n%s\n", log ? log : "", b ? b : "");
		free(b);
		fail_msg("vif 1 to vif 2 stopped after vif 0 was closed");
	}
	free(log);
	for (int d = 1; d < 3; d++) {
		snprintf(p, sizeof(p), "/local/domain/%d/backend/vif/%d/%d/state", VBACK, VFRONT,
		         d);
		wait_value(t, p, "4");
		snprintf(p, sizeof(p), "/local/domain/%d/error/backend/vif/%d/%d/error", VBACK,
		         VFRONT, d);
		char *e = read_node(t, p);
		assert_null(e);
	}
	/* the frontend starting over is offered the device again */
	vif_fe_node(t, 0, "state", 1);
	snprintf(p, sizeof(p), "/local/domain/%d/backend/vif/%d/0/state", VBACK, VFRONT);
	wait_value(t, p, "2");
	assert_alive(t);
}
#endif

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_ready_and_heartbeat),
	cmocka_unit_test(test_narrowed),
	cmocka_unit_test(test_end_seen_on_life_page),
#ifndef BH_DRIVERDOM_VBD
	cmocka_unit_test(test_vbd_answered),
#else
	cmocka_unit_test(test_vbd_serves_blkfront),
	cmocka_unit_test(test_vbd_serves_two_queues),
	cmocka_unit_test(test_vbd_refuses_foreign_protocol),
	cmocka_unit_test(test_vbd_generation_ends_at_reap),
#endif
#ifdef BH_DRIVERDOM_VIF
	cmocka_unit_test(test_vif_hostile_frontend_closed),
#endif
};

BH_TEST_MAIN_FIXTURES(tests, setup, teardown)
