/* A driver domain narrows itself as soon as it runs, before its first
 * call to the core (the core's sandbox leaves it room for exactly this,
 * see core/seccomp.c): it needs no file system at all (devices, rings and
 * event channels arrive over the hypercall channel), no CAP_SYS_ADMIN, and
 * never execs or mounts again. Done first, a standby sandbox (the core
 * starts the next generation's process ahead, core/domain.c) has done it
 * before a restart takes it, and the restart does not wait for it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <seccomp.h>

#include "common/util.h"
#include "driverdom/driverdom_int.h"

#define EMPTY_ROOT "/tmp/.driverdom-root"

/* An empty, read-only tmpfs becomes the root; the old root is detached. */
static int empty_root(void)
{
	if (mkdir(EMPTY_ROOT, 0555) < 0 && errno != EEXIST)
		return -errno;
	if (mount("tmpfs", EMPTY_ROOT, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
	          "size=4k,mode=0555") < 0)
		return -errno;
	if (chdir(EMPTY_ROOT) < 0)
		return -errno;
	/* pivot_root(".", "."): the old root ends up stacked under the new
	 * one, and is detached right after. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return -errno;
	if (umount2(".", MNT_DETACH) < 0)
		return -errno;
	return chdir("/") < 0 ? -errno : 0;
}

/* Keep only CAP_NET_ADMIN (netback configures its interfaces). The
 * bounding set cannot shrink without CAP_SETPCAP, which the sandbox did
 * not leave us; with no_new_privs and no exec it no longer matters. */
static int drop_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };

	d[CAP_TO_INDEX(CAP_NET_ADMIN)].effective = CAP_TO_MASK(CAP_NET_ADMIN);
	d[CAP_TO_INDEX(CAP_NET_ADMIN)].permitted = CAP_TO_MASK(CAP_NET_ADMIN);
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

/* On top of the core's allow-list: what only start-up needed. exec gets
 * EPERM rather than death because a sanitizer runtime may try to start its
 * symbolizer while reporting; the rest is killed like any call outside the
 * allow-list. */
static int tighten_seccomp(void)
{
	static const int kill[] = {
		SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(pivot_root), SCMP_SYS(chdir),
		SCMP_SYS(mkdir), SCMP_SYS(rmdir),   SCMP_SYS(capset),     SCMP_SYS(setrlimit),
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < BH_ARRAY_SIZE(kill) && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, kill[i], 0);
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(execve), 0);
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(execveat), 0);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}

/* The domain's own IPv6 off, while /proc is still there. Its interfaces
 * are bridge ports (bridging is below IP and goes on); with IPv6 each new
 * vif would get a link-local address, run duplicate address detection and
 * send MLD reports into the guests' network, work and frames in the middle
 * of every restart, and a way to address the driver domain itself. */
static void ipv6_off(struct bh_log *log)
{
	static const char *const knobs[] = {
		"/proc/sys/net/ipv6/conf/all/disable_ipv6",
		"/proc/sys/net/ipv6/conf/default/disable_ipv6",
	};

	for (size_t i = 0; i < BH_ARRAY_SIZE(knobs); i++) {
		int fd = open(knobs[i], O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, "1", 1) != 1) {
			if (errno != ENOENT) /* a kernel without IPv6 */
				bh_warn(log, "%s: %s", knobs[i], bh_strerror(-errno));
		}
		if (fd >= 0)
			close(fd);
	}
}

int drvdom_narrow(struct bh_log *log)
{
	int rc;

	ipv6_off(log);
	if ((rc = empty_root()) < 0) {
		bh_err(log, "moving into an empty root: %s", bh_strerror(rc));
		return rc;
	}
	if ((rc = drop_caps()) < 0) {
		bh_err(log, "dropping capabilities: %s", bh_strerror(rc));
		return rc;
	}
	if ((rc = tighten_seccomp()) < 0) {
		bh_err(log, "narrowing seccomp: %s", bh_strerror(rc));
		return rc;
	}
	bh_info(log, "narrowed: empty root, only CAP_NET_ADMIN, no exec or mount");
	return 0;
}
