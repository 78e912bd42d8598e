/* Integration tests of the core with real sandboxed domains: isolation seen
 * from inside, resource limits, the lifecycle, grants and event channels
 * across domains through libbhxen, VIRQ_DOM_EXC, and a hostile domain on
 * its hypercall channel. Each test runs its own core and checks at the end
 * that the core exits cleanly (no crash, no leak under ASan). Needs root. */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <arpa/inet.h>

#include "common/bhtest.h"
#include "common/util.h"
#include "tests/harness.h"

static int setup(void **state)
{
	struct th_host *h = calloc(1, sizeof(*h));

	assert_int_equal(th_host_start(h, NULL), 0);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct th_host *h = *state;

	assert_int_equal(th_host_stop(h), 0);
	free(h);
	return 0;
}

static uint16_t create(struct th_host *h, const char *name, uint32_t role, uint32_t mem_mb,
                       uint32_t flags, const char *const *argv)
{
	struct bh_hc_create_resp out;

	assert_int_equal(th_create(h, name, role, mem_mb, flags, BH_DOMID_ANY, argv, &out), 0);
	return out.domid;
}

static void expect_end(struct th_host *h, uint16_t domid, uint32_t reason, uint32_t detail)
{
	struct bh_dominfo d;

	assert_int_equal(th_wait_end(h, domid, 30000, &d), 0);
	assert_int_equal(d.shutdown_reason, reason);
	assert_int_equal(d.crash_detail, detail);
}

static void assert_no_fail_lines(const char *log)
{
	if (strstr(log, " FAIL")) {
		fprintf(stderr, "%s", log);
		fail_msg("a check failed inside the domain");
	}
}

/* A TCP listener on the host's loopback, to show a domain cannot reach it. */
static int host_listener(int *port_out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 4), 0);
	getsockname(s, (struct sockaddr *)&sa, &len);
	*port_out = ntohs(sa.sin_port);
	return s;
}

static void test_isolation_seen_from_inside(void **state)
{
	struct th_host *h = *state;
	char pid[16], port[16];
	int p, s = host_listener(&p);

	snprintf(pid, sizeof(pid), "%d", (int)h->core);
	snprintf(port, sizeof(port), "%d", p);
	const char *argv[] = { th_prog("domprobe"), "isolation", pid, port, NULL };
	uint16_t id = create(h, "iso", BH_ROLE_GUEST, 64, 0, argv);
	expect_end(h, id, BH_SHUTDOWN_POWEROFF, BH_CRASH_NONE);
	char *log = th_log(h, "iso");
	assert_non_null(strstr(log, "failures 0"));
	assert_no_fail_lines(log);
	free(log);
	close(s);
}

static long status_field(pid_t pid, const char *key)
{
	char path[64], buf[4096];
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (bh_read_file(path, buf, sizeof(buf)) < 0 || !(p = strstr(buf, key)))
		return -1;
	return strtol(p + strlen(key), NULL, 10);
}

/* The host's view: an unprivileged uid, no_new_privs, seccomp, the cgroup
 * limits; and nothing left behind after destroy. */
static void test_host_view_of_a_domain(void **state)
{
	struct th_host *h = *state;
	const char *argv[] = { th_prog("domprobe"), "sleep", "60", NULL };
	uint16_t id = create(h, "viewed", BH_ROLE_GUEST, 48, 0, argv);
	struct bh_dominfo d;
	char path[512], buf[256];

	assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), 0);
	assert_true(d.pid > 1);
	assert_true(status_field(d.pid, "Uid:\t") >= 1000000);
	assert_int_equal(status_field(d.pid, "NoNewPrivs:\t"), 1);
	assert_int_equal(status_field(d.pid, "Seccomp:\t"), 2);
	snprintf(path, sizeof(path), "/proc/%d/cgroup", d.pid);
	assert_true(bh_read_file(path, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "/dom"));
	/* the memory limit is the domain's memory (v1 or v2) */
	char *line = strstr(buf, "memory:");
	if (line) {
		char *nl = strchr(line, '\n');
		*nl = '\0';
		snprintf(path, sizeof(path), "/sys/fs/cgroup/memory%s/memory.limit_in_bytes",
		         line + strlen("memory:"));
		assert_true(bh_read_file(path, buf, sizeof(buf)) > 0);
		assert_int_equal(strtoll(buf, NULL, 10), 48ll << 20);
	}
	assert_int_equal(bhctl_domain_destroy(&h->cl, id), 0);
	assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), -ESRCH);
	assert_int_equal(kill(d.pid, 0), -1);
}

/* The domain list carries each running domain's memory and CPU use from
 * its cgroup, unless asked for the states only (dom0's watchdog, after
 * every death); a short page ends it. */
static void test_list_usage_only_when_asked(void **state)
{
	struct th_host *h = *state;
	const char *argv[] = { th_prog("domprobe"), "sleep", "60", NULL };
	uint16_t id = create(h, "listed", BH_ROLE_GUEST, 48, 0, argv);
	struct bh_hc_list_req req = { .first_domid = 0, .max = 0, .flags = 0x80 };
	unsigned char buf[BH_HC_MAX_PAYLOAD];
	struct bh_hc_result res = { .resp = buf, .resp_cap = sizeof(buf) };
	struct bh_dominfo *v;
	size_t n;
	bool seen = false;

	usleep(100000); /* some CPU time and memory of its own */
	assert_int_equal(bhctl_domain_list(&h->cl, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (v[i].domid == id) {
			assert_true(v[i].mem_used_kb > 0);
			assert_true(v[i].cpu_time_ns > 0);
			seen = true;
		}
	free(v);
	assert_true(seen);
	seen = false;
	assert_int_equal(bhctl_domain_list_flags(&h->cl, BH_LIST_NO_USAGE, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (v[i].domid == id) {
			assert_int_equal(v[i].state, BH_DOMSTATE_RUNNING);
			assert_int_equal(v[i].mem_used_kb, 0);
			assert_int_equal(v[i].cpu_time_ns, 0);
			seen = true;
		}
	free(v);
	assert_true(seen);
	assert_int_equal(bh_hc_call(&h->cl, BH_HC_DOMCTL_LIST_REQ, &req, sizeof(req), &res),
	                 -EINVAL);
	assert_int_equal(bhctl_domain_destroy(&h->cl, id), 0);
}

/* Runs domprobe lifeplay ROUNDS as driver domain NAME, kills it once it
 * has played, and returns the core's line about its end (malloc'd). */
static char *lifeplay_end(struct th_host *h, const char *name, const char *rounds)
{
	const char *argv[] = { th_prog("domprobe"), "lifeplay", rounds, NULL };
	uint16_t id = create(h, name, BH_ROLE_DRIVER, 48, 0, argv);
	struct bh_dominfo d;
	char *log, *line;

	log = th_wait_log(h, name, "PLAYED", 20000);
	assert_non_null(log);
	assert_no_fail_lines(log);
	free(log);
	assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), 0);
	assert_int_equal(kill(d.pid, SIGKILL), 0);
	expect_end(h, id, BH_SHUTDOWN_CRASH, BH_CRASH_SIGNAL);
	line = th_core_end_line(h, id, name, 0);
	assert_non_null(line);
	assert_int_equal(bhctl_domain_destroy(&h->cl, id), 0);
	return line;
}

/* A driver domain's end is seen on its life page (core/life.c) while it
 * leaves the page alone; one that keeps changing the page's word is no
 * longer watched on it (the core's waiting thread would look at the page
 * as often as the domain writes it): its end is seen at the reap, as for
 * any domain, with the same reason. */
static void test_life_page_played_with(void **state)
{
	struct th_host *h = *state;
	char *line;

	/* futex_waitv (Linux 5.16): without it the core waits on no page */
	if (syscall(SYS_futex_waitv, NULL, 0, 0, NULL, 0) < 0 && errno == ENOSYS) {
		fprintf(stderr, "no futex_waitv on this kernel: skipped\n");
		skip();
	}
	line = lifeplay_end(h, "holder", "0");
	if (!strstr(line, "crash (signal), seen exiting on its life page"))
		fail_msg("a held life page did not end the domain early: %s", line);
	free(line);
	line = lifeplay_end(h, "player", "50");
	assert_non_null(strstr(line, "crash (signal)"));
	if (strstr(line, "life page"))
		fail_msg("a played-with life page still ended the domain early: %s", line);
	free(line);
}

static void test_oom_kills_only_that_domain(void **state)
{
	struct th_host *h = *state;
	const char *hog[] = { th_prog("domprobe"), "oom", "400", NULL };
	const char *calm[] = { th_prog("domprobe"), "sleep", "60", NULL };
	uint16_t bystander = create(h, "bystander", BH_ROLE_GUEST, 64, 0, calm);
	uint16_t id = create(h, "hog", BH_ROLE_GUEST, 48, 0, hog);
	struct bh_dominfo d;

	expect_end(h, id, BH_SHUTDOWN_CRASH, BH_CRASH_OOM);
	char *log = th_log(h, "hog");
	assert_null(strstr(log, "survived"));
	free(log);
	assert_int_equal(bhctl_domain_getinfo(&h->cl, bystander, &d), 0);
	assert_int_equal(d.state, BH_DOMSTATE_RUNNING);
}

static void test_driver_domain_forbidden_syscall_is_fatal(void **state)
{
	struct th_host *h = *state;
	const char *argv[] = { th_prog("domprobe"), "forbidden", NULL };
	uint16_t id = create(h, "drv", BH_ROLE_DRIVER, 64, 0, argv);

	expect_end(h, id, BH_SHUTDOWN_CRASH, BH_CRASH_SECCOMP);
	char *log = th_log(h, "drv");
	/* it got as far as the forbidden call, and no further */
	assert_non_null(strstr(log, "trying a forbidden system call"));
	assert_null(strstr(log, "still alive"));
	free(log);
}

static void test_lifecycle(void **state)
{
	struct th_host *h = *state;
	const char *argv[] = { th_prog("domprobe"), "sleep", "60", NULL };
	uint16_t id = create(h, "life", BH_ROLE_GUEST, 64, BH_CREATE_PAUSED, argv);
	struct bh_hc_create_resp r;
	struct bh_dominfo d;

	assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), 0);
	assert_int_equal(d.state, BH_DOMSTATE_BUILDING);
	assert_int_equal(bhctl_domain_unpause(&h->cl, id), 0);
	assert_int_equal(bhctl_domain_pause(&h->cl, id), 0);
	assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), 0);
	assert_int_equal(d.state, BH_DOMSTATE_PAUSED);
	assert_int_equal(bhctl_domain_unpause(&h->cl, id), 0);
	assert_int_equal(bhctl_domain_shutdown(&h->cl, id, BH_SHUTDOWN_REBOOT), 0);
	expect_end(h, id, BH_SHUTDOWN_REBOOT, BH_CRASH_NONE);
	assert_int_equal(bhctl_domain_restart(&h->cl, id, &r), 0);
	assert_int_equal(r.domid, id);
	assert_int_equal(r.generation, 1);
	assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), 0);
	assert_int_equal(d.state, BH_DOMSTATE_RUNNING);
	assert_int_equal(d.generation, 1);
	/* a paused domain can still be destroyed */
	assert_int_equal(bhctl_domain_pause(&h->cl, id), 0);
	assert_int_equal(bhctl_domain_destroy(&h->cl, id), 0);
	assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), -ESRCH);
	/* names are unique among live domains */
	id = create(h, "life", BH_ROLE_GUEST, 64, 0, argv);
	assert_int_equal(th_create(h, "life", BH_ROLE_GUEST, 64, 0, BH_DOMID_ANY, argv, &r),
	                 -EEXIST);
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* PID's scheduling policy (field 41 of its stat), -1 if unknown. */
static int sched_policy(pid_t pid)
{
	char path[64], buf[1024], *p;
	int field = 2;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (bh_read_file(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return -1;
	for (p++; *p && field < 41; p++)
		if (*p == ' ')
			field++;
	return *p ? atoi(p) : -1;
}

/* The first child of the core (of any of its threads: a thread's
 * children are listed under it) that MATCH accepts; 0 if none. */
static pid_t core_child(pid_t core, bool (*match)(pid_t pid, pid_t arg), pid_t arg)
{
	char path[384], list[4096];
	pid_t found = 0;
	DIR *dir;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)core);
	if (!(dir = opendir(path)))
		return 0;
	while (!found && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", (int)core, e->d_name);
		if (bh_read_file(path, list, sizeof(list)) <= 0)
			continue;
		for (char *t = strtok(list, " \n"); t && !found; t = strtok(NULL, " \n"))
			if (match((pid_t)atoi(t), arg))
				found = (pid_t)atoi(t);
	}
	closedir(dir);
	return found;
}

/* Runs as RUNNING's host uid but is not RUNNING: its domain's standby. */
static bool standby_of(pid_t pid, pid_t running)
{
	return pid != running && status_field(pid, "Uid:\t") == status_field(running, "Uid:\t");
}

/* The policy of RUNNING's domain's standby, -1 if there is none. */
static int standby_policy(pid_t core, pid_t running)
{
	pid_t sb = core_child(core, standby_of, running);

	return sb > 0 ? sched_policy(sb) : -1;
}

/* A driver domain created with BH_CREATE_STANDBY has its next generation
 * exec'd ahead: it runs up to its first hypercall, which is answered only
 * once a restart has taken it (after the old process is gone); a restart
 * then starts no new process. Without the flag nothing runs ahead. */
static void test_driver_domain_standby(void **state)
{
	struct th_host *h = *state;
	const char *argv[] = { th_prog("domprobe"), "standby", NULL };
	uint16_t id = create(h, "sb", BH_ROLE_DRIVER, 64, BH_CREATE_STANDBY, argv);
	uint16_t plain = create(h, "nosb", BH_ROLE_DRIVER, 64, 0, argv);
	struct bh_hc_create_resp r;
	struct bh_dominfo d;
	char *log;

	free(th_wait_log(h, "sb", "answered: generation 0", 10000));
	free(th_wait_log(h, "nosb", "answered: generation 0", 10000));
	usleep(1500 * 1000); /* the standby is built 300 ms after the start */
	log = th_log(h, "sb");
	assert_int_equal(count(log, "before the first hypercall"), 2);
	assert_int_equal(count(log, "answered"), 1); /* the standby's is not */
	free(log);
	log = th_log(h, "nosb");
	assert_int_equal(count(log, "before the first hypercall"), 1);
	free(log);
	/* the standby waits at background priority; the running one not */
	assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), 0);
	assert_int_equal(sched_policy(d.pid), SCHED_OTHER);
	assert_int_equal(standby_policy(h->core, d.pid), SCHED_IDLE);

	assert_int_equal(kill(d.pid, SIGKILL), 0);
	expect_end(h, id, BH_SHUTDOWN_CRASH, BH_CRASH_SIGNAL);
	assert_int_equal(bhctl_domain_restart(&h->cl, id, &r), 0);
	assert_int_equal(r.generation, 1);
	log = th_wait_log(h, "sb", "answered: generation 1", 10000);
	assert_non_null(log);
	/* the standby answered: no process was started for the restart (the
	 * next standby comes 300 ms later) */
	assert_int_equal(count(log, "before the first hypercall"), 2);
	free(log);
	assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), 0);
	assert_int_equal(d.state, BH_DOMSTATE_RUNNING);
	assert_int_equal(d.generation, 1);
	/* taken by the restart: back to normal priority */
	assert_int_equal(sched_policy(d.pid), SCHED_OTHER);
	/* the next standby; the domain is destroyed with it waiting (the
	 * teardown checks the core still exits cleanly) */
	usleep(1000 * 1000);
	log = th_log(h, "sb");
	assert_int_equal(count(log, "before the first hypercall"), 3);
	free(log);
	assert_int_equal(bhctl_domain_destroy(&h->cl, id), 0);
	assert_int_equal(bhctl_domain_destroy(&h->cl, plain), 0);
}

/* Processes on the host running as UID (a domain's host uid). */
static int procs_of_uid(long uid)
{
	char cmd[128], out[32] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "grep -l '^Uid:\t%ld\t' /proc/[0-9]*/status 2>/dev/null | wc -l",
	         uid);
	if (!(f = popen(cmd, "r")))
		return -1;
	if (!fgets(out, sizeof(out), f))
		out[0] = '\0';
	pclose(f);
	return atoi(out);
}

/* Not exec'd yet (its name is still the core's): a sandbox being set up. */
static bool not_execd(pid_t pid, pid_t unused)
{
	char path[64], comm[64];

	(void)unused;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	return bh_read_file(path, comm, sizeof(comm)) > 0 &&
	       strncmp(comm, "bulkhead-core", 13) == 0;
}

/* Waits up to MS for a child of the core's being set up. */
static bool sandbox_being_set_up(pid_t core, int ms)
{
	for (int i = 0; i < ms * 10; i++, usleep(100))
		if (core_child(core, not_execd, 0))
			return true;
	return false;
}

/* A standby's setup (id maps, cgroup, the child's report) runs on a
 * thread of the core's, so that the loop keeps serving hypercalls during
 * it. Driver domains destroyed, and restarted, while their standby is
 * being set up (its child seen before its exec, 300 ms after the
 * generation started): each destroy succeeds and leaves no process
 * behind, each restart runs its new generation, and the core ends
 * cleanly (teardown; ASan). The core's log says which were ended during
 * the setup; most are (the setup takes ~5-15 ms). */
static void test_standby_ended_while_built(void **state)
{
	struct th_host *h = *state;
	const char *argv[] = { th_prog("domprobe"), "standby", NULL };
	char path[512], *log;
	unsigned seen = 0, during;

	for (int i = 0; i < 6; i++) {
		char name[16];
		struct bh_hc_create_resp r;
		struct bh_dominfo d;
		long uid;

		snprintf(name, sizeof(name), "sbx%d", i);
		uint16_t id = create(h, name, BH_ROLE_DRIVER, 64, BH_CREATE_STANDBY, argv);
		free(th_wait_log(h, name, "answered: generation 0", 10000));
		assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), 0);
		uid = status_field(d.pid, "Uid:\t");
		assert_true(uid >= 1000000);
		seen += sandbox_being_set_up(h->core, 2000);
		if (i % 2) {
			/* a restart: a standby it finds half built is dropped and
			 * one is built for it there and then */
			assert_int_equal(kill(d.pid, SIGKILL), 0);
			expect_end(h, id, BH_SHUTDOWN_CRASH, BH_CRASH_SIGNAL);
			assert_int_equal(bhctl_domain_restart(&h->cl, id, &r), 0);
			free(th_wait_log(h, name, "answered: generation 1", 10000));
			assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), 0);
			assert_int_equal(d.generation, 1);
			assert_int_equal(d.state, BH_DOMSTATE_RUNNING);
		}
		assert_int_equal(bhctl_domain_destroy(&h->cl, id), 0);
		assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), -ESRCH);
		assert_int_equal(procs_of_uid(uid), 0);
	}
	snprintf(path, sizeof(path), "%s/core.log", h->dir);
	log = calloc(1, 1 << 20);
	assert_non_null(log);
	assert_true(bh_read_file(path, log, (1 << 20) - 1) > 0);
	during = count(log, "standby ended during its setup");
	fprintf(stderr, "setups seen under way: %u of 6; standbys ended during it: %u\n", seen,
	        during);
	assert_true(seen >= 3);
	assert_true(during >= 1);
	assert_int_equal(count(log, "no standby for its next restart"), 0);
	free(log);
}

/* The TAPs a driver domain asked for are made ahead in its standby's
 * network namespace, those asked for after the standby was built a
 * moment later: the next generation finds them there and gets the same
 * interfaces when it asks, with the flags it asks for (one is asked for
 * with other flags than before), one that was on a bridge up on a bridge
 * of the same name. The first generation, which had no standby before
 * it, finds none. */
static void test_standby_taps_made_ahead(void **state)
{
	struct th_host *h = *state;
	const char *argv[] = { th_prog("domprobe"), "tap", "tpa0", "tpb0", "+tpc0", NULL };
	uint16_t id = create(h, "sbt", BH_ROLE_DRIVER, 64, BH_CREATE_STANDBY, argv);
	struct bh_hc_create_resp r;
	struct bh_dominfo d;
	char *log;

	/* tpc0 comes a second after the start, after the standby (300 ms) */
	free(th_wait_log(h, "sbt", "gen 0: tap tpc0 done", 10000));
	usleep(1000 * 1000); /* and the core makes it for the standby 300 ms later */
	assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), 0);
	assert_int_equal(kill(d.pid, SIGKILL), 0);
	expect_end(h, id, BH_SHUTDOWN_CRASH, BH_CRASH_SIGNAL);
	assert_int_equal(bhctl_domain_restart(&h->cl, id, &r), 0);
	log = th_wait_log(h, "sbt", "gen 1: tap tpc0 done", 10000);
	assert_non_null(log);
	assert_non_null(strstr(log, "gen 0: premade tpa0 no"));
	assert_non_null(strstr(log, "gen 0: premade tpc0 no"));
	assert_non_null(strstr(log, "gen 1: premade tpa0 yes"));
	assert_non_null(strstr(log, "gen 1: premade tpb0 yes"));
	assert_non_null(strstr(log, "gen 1: premade tpc0 yes"));
	/* and up on a bridge of the same name, as the TAP was in gen 0 */
	assert_non_null(strstr(log, "gen 1: ahead tpa0 up yes, on tbr0 yes"));
	assert_int_equal(count(log, "check tap ok"), 6);
	assert_int_equal(count(log, "check tap-flags ok"), 6);
	assert_int_equal(count(log, "check tap-same ok"), 6);
	assert_no_fail_lines(log);
	free(log);
	assert_int_equal(bhctl_domain_destroy(&h->cl, id), 0);
}

/* A shutdown that reaches a domain before its first program runs: the
 * signal must end (or miss) the domain, never reach the core through the
 * signal handlers the child inherited from it. Repeated: the window is
 * the child's few hundred microseconds before exec. */
static void test_shutdown_while_starting(void **state)
{
	struct th_host *h = *state;
	const char *argv[] = { th_prog("domprobe"), "sleep", "60", NULL };
	struct bh_dominfo d;

	for (int i = 0; i < 20; i++) {
		uint16_t id = create(h, "early", BH_ROLE_GUEST, 64, 0, argv);

		assert_int_equal(bhctl_domain_shutdown(&h->cl, id, BH_SHUTDOWN_POWEROFF), 0);
		assert_int_equal(th_wait_end(h, id, 30000, &d), 0);
		assert_int_equal(bhctl_domain_destroy(&h->cl, id), 0);
	}
}

static void test_self_shutdown_reason(void **state)
{
	struct th_host *h = *state;
	const char *argv[] = { th_prog("domprobe"), "shutdown", "4", NULL };
	uint16_t id = create(h, "wd", BH_ROLE_GUEST, 64, 0, argv);

	expect_end(h, id, BH_SHUTDOWN_WATCHDOG, BH_CRASH_NONE);
}

/* reboot(2) ends only the domain's own pid namespace, with the reason. */
static void test_reboot_syscall_gives_the_reason(void **state)
{
	struct th_host *h = *state;
	const char *rb[] = { th_prog("domprobe"), "reboot", "reboot", NULL };
	const char *po[] = { th_prog("domprobe"), "reboot", "poweroff", NULL };
	const char *calm[] = { th_prog("domprobe"), "sleep", "60", NULL };
	uint16_t other = create(h, "calm", BH_ROLE_GUEST, 64, 0, calm);
	struct bh_dominfo d;

	expect_end(h, create(h, "rb", BH_ROLE_GUEST, 64, 0, rb), BH_SHUTDOWN_REBOOT, BH_CRASH_NONE);
	expect_end(h, create(h, "po", BH_ROLE_GUEST, 64, 0, po), BH_SHUTDOWN_POWEROFF,
	           BH_CRASH_NONE);
	assert_int_equal(bhctl_domain_getinfo(&h->cl, other, &d), 0);
	assert_int_equal(d.state, BH_DOMSTATE_RUNNING);
}

static void test_crash_by_signal_and_exit_status(void **state)
{
	struct th_host *h = *state;
	/* A fault kills even a namespace's init (a kill(2) from inside would
	 * be ignored by it, as by any init). */
	const char *seg[] = { th_prog("crasher"), NULL };
	const char *bad[] = { "/bin/sh", "-c", "exit 3", NULL };
	struct bh_dominfo d;

	uint16_t a = create(h, "segv", BH_ROLE_GUEST, 64, 0, seg);
	uint16_t b = create(h, "exit3", BH_ROLE_GUEST, 64, 0, bad);
	assert_int_equal(th_wait_end(h, a, 30000, &d), 0);
	assert_int_equal(d.shutdown_reason, BH_SHUTDOWN_CRASH);
	assert_int_equal(d.crash_detail, BH_CRASH_SIGNAL);
	assert_int_equal(d.exit_signal, SIGSEGV);
	assert_int_equal(th_wait_end(h, b, 30000, &d), 0);
	assert_int_equal(d.crash_detail, BH_CRASH_EXIT);
	assert_int_equal(d.exit_status, 3);
}

/* Two domains share a page by grant and ring each other over an event
 * channel, through the /dev/xen ABI of libbhxen. */
static void test_grant_and_evtchn_between_domains(void **state)
{
	struct th_host *h = *state;
	const char *serve[] = { th_prog("domprobe"), "grant-serve", "51", NULL };
	struct bh_hc_create_resp r;
	unsigned ref = 0;
	int port = 0;

	assert_int_equal(th_create(h, "serve", BH_ROLE_GUEST, 64, 0, 50, serve, &r), 0);
	char *log = th_wait_log(h, "serve", "PORT", 20000);
	assert_non_null(log);
	assert_int_equal(sscanf(strstr(log, "REF"), "REF %u PORT %d", &ref, &port), 2);
	free(log);
	char sref[16], sport[16];
	snprintf(sref, sizeof(sref), "%u", ref);
	snprintf(sport, sizeof(sport), "%d", port);
	const char *use[] = { th_prog("domprobe"), "grant-use", "50", sref, sport, NULL };
	assert_int_equal(th_create(h, "use", BH_ROLE_DRIVER, 64, 0, 51, use, &r), 0);
	expect_end(h, 51, BH_SHUTDOWN_POWEROFF, BH_CRASH_NONE);
	expect_end(h, 50, BH_SHUTDOWN_POWEROFF, BH_CRASH_NONE);
	log = th_log(h, "use");
	assert_non_null(strstr(log, "READ hello from dom-serve ref"));
	assert_non_null(strstr(log, "DONE"));
	free(log);
	log = th_log(h, "serve");
	assert_non_null(strstr(log, "GOT ack from dom-use"));
	free(log);
}

static void test_virq_dom_exc_reaches_privileged_domain(void **state)
{
	struct th_host *h = *state;
	const char *watch[] = { th_prog("domprobe"), "virq-watch", NULL };
	const char *victim[] = { th_prog("crasher"), NULL };
	uint16_t w = create(h, "watcher", BH_ROLE_CONTROL, 64, BH_CREATE_PRIVILEGED, watch);
	char *log = th_wait_log(h, "watcher", "READY", 20000);

	assert_non_null(log);
	free(log);
	uint16_t v = create(h, "victim", BH_ROLE_GUEST, 64, 0, victim);
	expect_end(h, w, BH_SHUTDOWN_POWEROFF, BH_CRASH_NONE);
	log = th_log(h, "watcher");
	char want[64];
	snprintf(want, sizeof(want), "DIED %u victim crash", v);
	assert_non_null(strstr(log, want));
	free(log);
}

/* An unprivileged domain cannot bind VIRQ_DOM_EXC. */
static void test_virq_needs_privilege(void **state)
{
	struct th_host *h = *state;
	const char *watch[] = { th_prog("domprobe"), "virq-watch", NULL };
	uint16_t w = create(h, "nosy", BH_ROLE_GUEST, 64, 0, watch);

	expect_end(h, w, BH_SHUTDOWN_CRASH, BH_CRASH_EXIT);
	char *log = th_log(h, "nosy");
	assert_non_null(strstr(log, "bind virq failed: Permission denied"));
	free(log);
}

/* Garbage on a domain's channel: the core survives and serves everyone
 * else. */
static void test_garbage_on_the_channel(void **state)
{
	struct th_host *h = *state;
	const char *junk[] = { th_prog("domprobe"), "garbage", "3000", NULL };
	const char *calm[] = { th_prog("domprobe"), "sleep", "60", NULL };
	uint16_t other = create(h, "other", BH_ROLE_GUEST, 64, 0, calm);
	struct bh_dominfo d;

	create(h, "junk", BH_ROLE_GUEST, 64, 0, junk);
	char *log = th_wait_log(h, "junk", "garbage sent", 30000);
	assert_non_null(log);
	free(log);
	assert_int_equal(bhctl_domain_getinfo(&h->cl, other, &d), 0);
	assert_int_equal(d.state, BH_DOMSTATE_RUNNING);
	uint16_t more = create(h, "more", BH_ROLE_GUEST, 64, 0, calm);
	assert_int_equal(bhctl_domain_destroy(&h->cl, more), 0);
}

static void test_setres_applies_limits(void **state)
{
	struct th_host *h = *state;
	const char *argv[] = { th_prog("domprobe"), "sleep", "60", NULL };
	uint16_t id = create(h, "res", BH_ROLE_GUEST, 64, 0, argv);
	struct bh_hc_setres r = { .domid = id,
		                  .which = BH_SETRES_MEM | BH_SETRES_CAP | BH_SETRES_WEIGHT,
		                  .mem_kb = 96 * 1024,
		                  .cap = 50,
		                  .weight = 512 };
	struct bh_dominfo d;

	assert_int_equal(bhctl_domain_setres(&h->cl, &r), 0);
	assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), 0);
	assert_int_equal(d.mem_kb, 96 * 1024);
	assert_int_equal(d.cap, 50);
	assert_int_equal(d.weight, 512);
	r.which = BH_SETRES_VCPUS;
	r.vcpus = 0;
	assert_int_equal(bhctl_domain_setres(&h->cl, &r), -EINVAL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
static const struct CMUnitTest tests[] = {
	T(test_isolation_seen_from_inside),
	T(test_host_view_of_a_domain),
	T(test_list_usage_only_when_asked),
	T(test_life_page_played_with),
	T(test_oom_kills_only_that_domain),
	T(test_driver_domain_forbidden_syscall_is_fatal),
	T(test_lifecycle),
	T(test_driver_domain_standby),
	T(test_standby_taps_made_ahead),
	T(test_standby_ended_while_built),
	T(test_shutdown_while_starting),
	T(test_self_shutdown_reason),
	T(test_reboot_syscall_gives_the_reason),
	T(test_crash_by_signal_and_exit_status),
	T(test_grant_and_evtchn_between_domains),
	T(test_virq_dom_exc_reaches_privileged_domain),
	T(test_virq_needs_privilege),
	T(test_garbage_on_the_channel),
	T(test_setres_applies_limits),
};

BH_TEST_MAIN(tests)
