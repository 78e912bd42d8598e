#include "xenstored/xs_daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/bhtest.h"

int xs_daemon_start(struct xs_daemon *d, const char *const *extra)
{
	char prog[512], s5[300], s6[300];
	const char *argv[32];
	int n = 0;
	struct stat st;

	memset(d, 0, sizeof(*d));
	d->dir = bh_test_tmpdir("xs");
	if (!d->dir)
		return -errno;
	snprintf(d->sock, sizeof(d->sock), "%s/socket", d->dir);
	snprintf(d->sock5, sizeof(d->sock5), "%s/sock5", d->dir);
	snprintf(d->sock6, sizeof(d->sock6), "%s/sock6", d->dir);
	snprintf(s5, sizeof(s5), "5:%s", d->sock5);
	snprintf(s6, sizeof(s6), "6:%s", d->sock6);
	snprintf(prog, sizeof(prog), "%s/../libexec/bulkhead/bulkhead-xenstored", bh_test_bindir());
	argv[n++] = prog;
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n++] = "--domain-socket";
	argv[n++] = s5;
	argv[n++] = "--domain-socket";
	argv[n++] = s6;
	for (int i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	d->pid = fork();
	if (d->pid < 0)
		return -errno;
	if (d->pid == 0) {
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		if (stat(d->sock6, &st) == 0)
			return 0;
		usleep(20000);
	}
	return -ETIMEDOUT;
}

int xs_daemon_stop(struct xs_daemon *d)
{
	int status = -1;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		waitpid(d->pid, &status, 0);
	}
	unlink(d->sock);
	unlink(d->sock5);
	unlink(d->sock6);
	rmdir(d->dir);
	free(d->dir);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int xs_raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}
