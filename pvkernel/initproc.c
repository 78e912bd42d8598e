/* Starting the guest's init (initproc.h). */
#include "pvkernel/initproc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "common/util.h"

static const char *const fallbacks[] = { "/sbin/init", "/etc/init", "/bin/init", "/bin/sh" };

static void reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static __attribute__((noreturn)) void child(const struct pvk_cmdline *c, int master,
                                            bool explicit_init)
{
	int slave;

	reset_signals();
	if (setsid() < 0)
		_exit(127);
	/* The peer by descriptor: the path is the guest's, not ours yet. */
	slave = ioctl(master, TIOCGPTPEER, O_RDWR);
	if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
		_exit(127);
	if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		_exit(127);
	syscall(SYS_close_range, 3, ~0u, 0);
	if (chdir("/") < 0)
		_exit(127);
	execve(c->init, (char *const *)c->argv, (char *const *)c->envp);
	dprintf(2, "bulkhead-pvkernel: cannot run %s: %s\n", c->init, strerror(errno));
	if (!explicit_init) {
		const char *argv0 = c->argv[0];
		for (size_t i = 0; i < BH_ARRAY_SIZE(fallbacks); i++) {
			((const char **)c->argv)[0] = fallbacks[i];
			execve(fallbacks[i], (char *const *)c->argv, (char *const *)c->envp);
		}
		((const char **)c->argv)[0] = argv0;
	}
	dprintf(2, "bulkhead-pvkernel: no working init found\n");
	_exit(127);
}

pid_t pvk_init_spawn(const struct pvk_cmdline *c, int master, bool explicit_init)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0)
		child(c, master, explicit_init);
	return pid;
}
