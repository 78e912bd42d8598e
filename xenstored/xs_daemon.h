/* Tests' helper: run bulkhead-xenstored on a temporary socket. */
#ifndef BH_XS_DAEMON_H
#define BH_XS_DAEMON_H

#include <sys/types.h>

struct xs_daemon {
	char *dir;
	char sock[256], sock5[256], sock6[256];
	pid_t pid;
};

/* Extra daemon arguments: NULL-terminated, may be NULL. */
int xs_daemon_start(struct xs_daemon *d, const char *const *extra);
/* SIGTERM; returns the exit status (0 clean). */
int xs_daemon_stop(struct xs_daemon *d);
/* A raw connection to PATH. */
int xs_raw_connect(const char *path);

#endif
