#include "tests/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "common/util.h"

const char *th_prog(const char *name)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", bh_test_bindir(), name);
	return p;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static pid_t spawn_core(struct th_host *h, const char *const *extra)
{
	const char *argv[32] = { th_prog("bulkhead-core"), "--rundir", h->rundir, "--device-dir",
		                 h->devdir };
	int n = 5;
	char logpath[400];
	pid_t pid;

	for (int i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	snprintf(logpath, sizeof(logpath), "%s/core.log", h->dir);
	pid = fork();
	if (pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

int th_host_start(struct th_host *h, const char *const *extra_args)
{
	char *d = bh_test_tmpdir("host");

	memset(h, 0, sizeof(*h));
	h->cl.fd = -1;
	if (!d)
		return -errno;
	snprintf(h->dir, sizeof(h->dir), "%s", d);
	free(d);
	chmod(h->dir, 0755);
	snprintf(h->rundir, sizeof(h->rundir), "%s/run", h->dir);
	snprintf(h->devdir, sizeof(h->devdir), "%s/devices", h->dir);
	snprintf(h->instance, sizeof(h->instance), "bhtest-%d-%s", (int)getpid(),
	         strrchr(h->dir, '-') + 1);
	mkdir(h->devdir, 0755);
	h->core = spawn_core(h, extra_args);
	if (h->core < 0)
		return -errno;
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

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static bool cgroup_left_behind(const struct th_host *h)
{
	static const char *const roots[] = { "/sys/fs/cgroup/memory", "/sys/fs/cgroup" };
	char path[512];
	struct stat st;

	for (size_t i = 0; i < BH_ARRAY_SIZE(roots); i++) {
		snprintf(path, sizeof(path), "%s/%s", roots[i], h->instance);
		if (stat(path, &st) == 0) {
			fprintf(stderr, "the core left %s behind\n", path);
			return true;
		}
	}
	return false;
}

int th_host_stop(struct th_host *h)
{
	int status = -1;

	if (h->cl.fd >= 0)
		bh_hc_close(&h->cl);
	if (h->core > 0) {
		kill(h->core, SIGTERM);
		for (int i = 0; i < 1000 && waitpid(h->core, &status, WNOHANG) == 0; i++)
			sleep_ms(10);
		if (status == -1) {
			kill(h->core, SIGKILL);
			waitpid(h->core, &status, 0);
		}
	}
	if (status != 0) {
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "cat %s/core.log >&2", h->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "(no core log)\n");
	}
	if (!getenv("BH_KEEP_TEST_DIRS"))
		nftw(h->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	h->core = 0;
	if (status == 0 && cgroup_left_behind(h))
		return 99;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int th_create(struct th_host *h, const char *name, uint32_t role, uint32_t mem_mb, uint32_t flags,
              uint16_t domid, const char *const *argv, struct bh_hc_create_resp *out)
{
	struct bh_hc_create req = { .flags = flags | BH_CREATE_HOST_IMAGE,
		                    .role = role,
		                    .domid = domid,
		                    .vcpus = 1,
		                    .mem_kb = (uint64_t)mem_mb * 1024,
		                    .store_domid = BH_DOMID_INVALID,
		                    .console_domid = BH_DOMID_INVALID };
	struct bh_hc_create_resp sink;

	bh_strlcpy(req.name, name, sizeof(req.name));
	bh_strlcpy(req.image, argv[0], sizeof(req.image));
	return bhctl_domain_create(&h->cl, &req, argv, out ? out : &sink);
}

int th_wait_end(struct th_host *h, uint16_t domid, int timeout_ms, struct bh_dominfo *out)
{
	int rc;

	for (int t = 0; t < timeout_ms; t += 20) {
		if ((rc = bhctl_domain_getinfo(&h->cl, domid, out)) < 0)
			return rc;
		if (out->state == BH_DOMSTATE_SHUTDOWN)
			return 0;
		sleep_ms(20);
	}
	return -ETIMEDOUT;
}

char *th_log(struct th_host *h, const char *name)
{
	char path[512];
	char *buf = malloc(1 << 20);
	ssize_t r;

	snprintf(path, sizeof(path), "%s/logs/%s.log", h->rundir, name);
	r = buf ? bh_read_file(path, buf, 1 << 20) : -ENOMEM;
	if (r < 0 && buf)
		buf[0] = '\0';
	return buf;
}

char *th_core_end_line(struct th_host *h, uint16_t domid, const char *name, uint32_t gen)
{
	char path[512], want[160], *buf = malloc(1 << 20), *line = NULL, *at;

	snprintf(path, sizeof(path), "%s/core.log", h->dir);
	snprintf(want, sizeof(want), "dom%u (%s) gen %u ended: ", domid, name, gen);
	if (buf && bh_read_file(path, buf, 1 << 20) >= 0 && (at = strstr(buf, want)))
		line = strndup(at, strcspn(at, "\n"));
	free(buf);
	return line;
}

char *th_wait_log(struct th_host *h, const char *name, const char *needle, int timeout_ms)
{
	for (int t = 0; t <= timeout_ms; t += 20) {
		char *log = th_log(h, name);
		if (log && strstr(log, needle))
			return log;
		free(log);
		sleep_ms(20);
	}
	return NULL;
}
