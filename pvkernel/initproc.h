/* Starting the guest's init: PID 2 of the domain, session leader with the
 * console pty as its controlling terminal and stdin/stdout/stderr. */
#ifndef BH_PVK_INITPROC_H
#define BH_PVK_INITPROC_H

#include <sys/types.h>

#include "pvkernel/cmdline.h"

/* Fork and exec c->init (argv/envp from C) on the pty whose master is
 * MASTER. When init= was not given and /init cannot be run, Linux's
 * fallbacks are tried (/sbin/init, /etc/init, /bin/init, /bin/sh). A child
 * that can run nothing says so on the console and exits 127. Returns the
 * pid or -errno. */
pid_t pvk_init_spawn(const struct pvk_cmdline *c, int master, bool explicit_init);

#endif
