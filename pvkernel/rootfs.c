/* The guest's root file system (rootfs.h). */
#include "pvkernel/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "common/util.h"

/* The host's device nodes the sandbox gave us, bound again: a user
 * namespace cannot make device nodes nor mount devtmpfs. */
static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom" };

static const struct {
	const char *name, *target;
} dev_links[] = {
	{ "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" },
	{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
	{ "ptmx", "pts/ptmx" },          { "core", "/proc/kcore" },
};

static int fail(struct pvk_rootfs *r, int err, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	n = strlen(r->err);
	snprintf(r->err + n, sizeof(r->err) - n, ": %s", strerror(err));
	return -err;
}

void pvk_rootfs_init(struct pvk_rootfs *r, const char *mnt)
{
	memset(r, 0, sizeof(*r));
	bh_strlcpy(r->mnt, mnt, sizeof(r->mnt));
	r->master = r->slave = -1;
}

void pvk_rootfs_dispose(struct pvk_rootfs *r)
{
	bh_closep(&r->master);
	bh_closep(&r->slave);
}

/* mkdir that accepts a directory the ramdisk already made. */
static int ensure_dir(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return -1;
}

static int touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int build_dev(struct pvk_rootfs *r)
{
	char path[160], src[32];

	snprintf(path, sizeof(path), "%s/dev", r->mnt);
	if (ensure_dir(path, 0755) < 0 ||
	    mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=256k") < 0)
		return fail(r, errno, "mount /dev");
	for (size_t i = 0; i < BH_ARRAY_SIZE(dev_nodes); i++) {
		snprintf(src, sizeof(src), "/dev/%s", dev_nodes[i]);
		snprintf(path, sizeof(path), "%s/dev/%s", r->mnt, dev_nodes[i]);
		if (touch(path) < 0 || mount(src, path, NULL, MS_BIND, NULL) < 0)
			return fail(r, errno, "bind %s", src);
	}
	for (size_t i = 0; i < BH_ARRAY_SIZE(dev_links); i++) {
		snprintf(path, sizeof(path), "%s/dev/%s", r->mnt, dev_links[i].name);
		if (symlink(dev_links[i].target, path) < 0)
			return fail(r, errno, "symlink /dev/%s", dev_links[i].name);
	}
	snprintf(path, sizeof(path), "%s/dev/pts", r->mnt);
	if (mkdir(path, 0755) < 0 || mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
	                                   "newinstance,ptmxmode=0666,mode=0620") < 0)
		return fail(r, errno, "mount /dev/pts");
	snprintf(path, sizeof(path), "%s/dev/shm", r->mnt);
	if (mkdir(path, 01777) < 0 ||
	    mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		return fail(r, errno, "mount /dev/shm");
	return 0;
}

static int build_pseudo(struct pvk_rootfs *r)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/proc", r->mnt);
	if (ensure_dir(path, 0555) < 0 ||
	    mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return fail(r, errno, "mount /proc");
	/* sysfs needs the network namespace to be ours, which it is; still, a
	 * guest can live without it. */
	snprintf(path, sizeof(path), "%s/sys", r->mnt);
	if (ensure_dir(path, 0555) == 0)
		mount("sysfs", path, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL);
	snprintf(path, sizeof(path), "%s/tmp", r->mnt);
	if (ensure_dir(path, 01777) < 0)
		return fail(r, errno, "mkdir /tmp");
	return build_dev(r);
}

int pvk_rootfs_build(struct pvk_rootfs *r, uint64_t size_kb, int ramdisk_fd)
{
	char opts[64];
	int rootfd, rc;

	snprintf(opts, sizeof(opts), "mode=0755,size=%lluk", (unsigned long long)size_kb);
	if (mount("rootfs", r->mnt, "tmpfs", 0, opts) < 0)
		return fail(r, errno, "mount the root tmpfs on %s", r->mnt);
	rootfd = open(r->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return fail(r, errno, "open %s", r->mnt);
	rc = cpio_unpack(ramdisk_fd, rootfd, &r->cpio);
	close(rootfd);
	if (rc < 0) {
		snprintf(r->err, sizeof(r->err), "ramdisk: %s", r->cpio.error);
		return rc;
	}
	return build_pseudo(r);
}

int pvk_rootfs_console(struct pvk_rootfs *r)
{
	char ptmx[160], slave[160], path[160];
	static const char *const binds[] = { "console", "tty" };
	int n;

	snprintf(ptmx, sizeof(ptmx), "%s/dev/pts/ptmx", r->mnt);
	r->master = open(ptmx, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (r->master < 0)
		return fail(r, errno, "open the console pty");
	if (ioctl(r->master, TIOCSPTLCK, &(int){ 0 }) < 0 || ioctl(r->master, TIOCGPTN, &n) < 0)
		return fail(r, errno, "unlock the console pty");
	r->pty = (unsigned)n;
	r->slave = ioctl(r->master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (r->slave < 0)
		return fail(r, errno, "open the console pty's slave");
	snprintf(slave, sizeof(slave), "%s/dev/pts/%u", r->mnt, r->pty);
	/* /dev/tty cannot be the real "controlling terminal" node here (no
	 * device nodes in a user namespace): it is the console, which is what
	 * init's session has. */
	for (size_t i = 0; i < BH_ARRAY_SIZE(binds); i++) {
		snprintf(path, sizeof(path), "%s/dev/%s", r->mnt, binds[i]);
		if (touch(path) < 0 || mount(slave, path, NULL, MS_BIND, NULL) < 0)
			return fail(r, errno, "bind /dev/%s", binds[i]);
	}
	return 0;
}

int pvk_rootfs_pivot(struct pvk_rootfs *r)
{
	/* pivot_root(".", ".") stacks the old root under the new one; detaching
	 * "." then takes the old one away. */
	if (chdir(r->mnt) < 0)
		return fail(r, errno, "chdir %s", r->mnt);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fail(r, errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return fail(r, errno, "detach the old root");
	if (chdir("/") < 0)
		return fail(r, errno, "chdir /");
	return 0;
}
