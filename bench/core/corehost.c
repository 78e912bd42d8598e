#include "bench/core/corehost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/util.h"

int ch_create(struct th_host *h, const char *name, uint32_t role, uint16_t domid, uint64_t cpumap,
              const char *const *args, uint16_t *domid_out)
{
	const char *argv[16] = { th_prog("core-benchdom") };
	struct bh_hc_create req = { .flags = BH_CREATE_HOST_IMAGE,
		                    .role = role,
		                    .domid = domid,
		                    .vcpus = 1,
		                    .mem_kb = 64 * 1024,
		                    .store_domid = BH_DOMID_INVALID,
		                    .console_domid = BH_DOMID_INVALID };
	struct bh_hc_create_resp resp;
	int n = 1, rc;

	for (int i = 0; args && args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	req.cpumap[0] = cpumap;
	bh_strlcpy(req.name, name, sizeof(req.name));
	bh_strlcpy(req.image, argv[0], sizeof(req.image));
	if ((rc = bhctl_domain_create(&h->cl, &req, argv, &resp)) < 0)
		return rc;
	*domid_out = resp.domid;
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A domain that ended will print nothing more: say how it ended. */
static bool domain_ended(struct th_host *h, const char *name, struct bh_dominfo *out)
{
	struct bh_dominfo *all;
	size_t n;
	bool ended = false;

	if (bhctl_domain_list(&h->cl, &all, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(all[i].name, name) != 0 || all[i].state != BH_DOMSTATE_SHUTDOWN)
			continue;
		*out = all[i];
		ended = true;
	}
	free(all);
	return ended;
}

/* Scans a log for the first `want` lines starting with key; returns how
 * many it found, or -EIO on a FAIL line. */
static int scan_log(const char *name, char *log, const char *key, double *out, int want)
{
	size_t klen = strlen(key);
	int n = 0;

	for (char *line = log; line && *line && n < want;) {
		if (strncmp(line, "FAIL", 4) == 0) {
			fprintf(stderr, "%s: %.200s\n", name, line);
			return -EIO;
		}
		if (strncmp(line, key, klen) == 0 &&
		    (line[klen] == ' ' || line[klen] == '\n' || !line[klen]))
			out[n++] = strtod(line + klen + (line[klen] ? 1 : 0), NULL);
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	return n;
}

int ch_wait_values(struct th_host *h, const char *name, const char *key, int want, int timeout_ms,
                   double *out)
{
	for (int t = 0; t <= timeout_ms; t += 2) {
		/* Looked at before the log, so that a last line is not missed. */
		struct bh_dominfo info;
		bool ended = t % 200 == 0 && domain_ended(h, name, &info);
		char *log = th_log(h, name);
		int n = scan_log(name, log, key, out, want);
		free(log);
		if (n < 0 || n == want)
			return n < 0 ? n : 0;
		if (ended) {
			fprintf(stderr, "%s ended (%s%s%s) before it printed %s\n", name,
			        bhctl_reason_name(info.shutdown_reason),
			        info.crash_detail ? ": " : "", bhctl_crash_name(info.crash_detail),
			        key);
			return -ECHILD;
		}
		sleep_ms(2);
	}
	return -ETIMEDOUT;
}

int ch_wait_value(struct th_host *h, const char *name, const char *key, int timeout_ms, double *out)
{
	return ch_wait_values(h, name, key, 1, timeout_ms, out);
}

int ch_destroy(struct th_host *h, uint16_t domid)
{
	return bhctl_domain_destroy(&h->cl, domid);
}

void ch_die(struct th_host *h, const char *what, int rc)
{
	fprintf(stderr, "%s: %s\n", what, bh_strerror(rc));
	if (h && h->core > 0) {
		setenv("BH_KEEP_TEST_DIRS", "1", 1);
		fprintf(stderr, "core log and domain logs kept in %s\n", h->dir);
		th_host_stop(h);
	}
	exit(1);
}

int ch_watch_open(const char *dir)
{
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (inotify_add_watch(fd, dir, IN_MODIFY) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int ch_watch_wait(int ifd, const char *name, int timeout_ms)
{
	uint64_t end = bh_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t r = read(ifd, buf, sizeof(buf));
		for (ssize_t off = 0; off < r;) {
			const struct inotify_event *ev = (const void *)(buf + off);
			if (ev->len && strcmp(ev->name, name) == 0)
				return 0;
			off += (ssize_t)sizeof(*ev) + ev->len;
		}
		if (r < 0 && errno != EAGAIN)
			return -errno;
		uint64_t now = bh_now_ns();
		if (now >= end)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = ifd, .events = POLLIN };
		poll(&p, 1, (int)((end - now) / 1000000) + 1);
	}
}

double ch_bare_start(const char *dir, int wfd, int i)
{
	char path[512], file[48];
	struct clone_args ca = { .flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS |
		                          CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS,
		                 .exit_signal = SIGCHLD };
	const char *prog = th_prog("core-benchdom");
	int fd, status;

	snprintf(file, sizeof(file), "bare%d.out", i);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return -1;
	uint64_t t0 = bh_now_ns();
	pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0) {
		dup2(fd, 1);
		execl(prog, prog, "hello", (char *)NULL);
		_exit(127);
	}
	close(fd);
	if (pid < 0 || ch_watch_wait(wfd, file, 20000) < 0)
		return -1;
	uint64_t t1 = bh_now_ns();
	waitpid(pid, &status, 0);
	unlink(path);
	return (double)(t1 - t0) / 1e6;
}

/* As th_host_start, on a directory of our own: on a shared machine other
 * test runs clean up /tmp/bh-* behind a benchmark's back. */
int ch_host_start(struct th_host *h, const char *const *extra)
{
	char tmpl[] = "/var/tmp/bhbench-core-XXXXXX", logpath[400];
	const char *argv[32] = { th_prog("bulkhead-core"), "--rundir", h->rundir, "--device-dir",
		                 h->devdir };
	int n = 5;

	memset(h, 0, sizeof(*h));
	h->cl.fd = -1;
	if (!mkdtemp(tmpl))
		return -errno;
	chmod(tmpl, 0755);
	snprintf(h->dir, sizeof(h->dir), "%s", tmpl);
	snprintf(h->rundir, sizeof(h->rundir), "%s/run", h->dir);
	snprintf(h->devdir, sizeof(h->devdir), "%s/devices", h->dir);
	snprintf(h->instance, sizeof(h->instance), "bhbench-%d", (int)getpid());
	mkdir(h->devdir, 0755);
	for (int i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	snprintf(logpath, sizeof(logpath), "%s/core.log", h->dir);
	if ((h->core = fork()) < 0)
		return -errno;
	if (h->core == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		if (bh_hc_open_admin(&h->cl, h->rundir) == 0)
			return 0;
		if (waitpid(h->core, NULL, WNOHANG) == h->core) {
			h->core = 0;
			return -ECHILD;
		}
		sleep_ms(20);
	}
	return -ETIMEDOUT;
}
