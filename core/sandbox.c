/* The sandbox every domain runs in.
 *
 * The core clones the domain's first process into new user, pid, mount,
 * net, ipc and uts namespaces. The parent (the core) maps uid 0 inside to
 * one unprivileged host uid and puts the child in the domain's cgroup; the
 * child then builds a minimal root (a tmpfs with the host's /usr read-only,
 * a fresh /proc, a few device nodes, and the role's runtime directories),
 * pivots into it, sets no_new_privs, narrows its capability bounding set,
 * installs its role's seccomp filter and execs the domain's program with
 * the hypercall channel on fd 3.
 *
 * Creation is two-step: the child reports 'R' when its sandbox is built and
 * then waits for one byte on its go pipe before it execs. A domain created
 * paused waits there until it is unpaused. Any failure before exec is sent
 * back as text on the report pipe and the child exits 127. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/sched.h>

#include "common/util.h"
#include "core/core.h"

#define ROOT_TMPFS_OPTS "mode=0755,size=16m"

/* Host directories of a role: rundir-relative source, path inside, owned
 * by the domain (the core chowns it to the domain's host uid). */
struct role_dir {
	const char *host;
	const char *inside;
	bool own;
};

struct role_profile {
	const char *name;
	struct role_dir dirs[3];
	bool keep_admin_caps; /* keep CAP_SYS_ADMIN and CAP_NET_ADMIN in its userns */
	bool open_fuse;       /* hand in /dev/fuse as fd 4 */
};

/* The process graph's roles as data. */
static const struct role_profile profiles[BH_ROLE_MAX] = {
	[BH_ROLE_CONTROL] = { "control",
	                      { { "dom0", "/run/bulkhead", true },
	                        { "xenstored", "/run/xenstored", false } },
	                      false,
	                      false },
	[BH_ROLE_STORE] = { "store", { { "xenstored", "/run/xenstored", true } }, false, false },
	/* Driver domains narrow themselves further once running (driverdom/):
	 * they pivot into an empty root and drop CAP_SYS_ADMIN. */
	[BH_ROLE_DRIVER] = { "driver", { { 0 } }, true, false },
	/* The PV kernel mounts its ramdisk root and its disks (FUSE) and
	 * configures its interfaces, all inside its own namespaces. */
	[BH_ROLE_GUEST] = { "guest", { { 0 } }, true, true },
};

static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom" };
static const char *const usr_links[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };
static const char *const etc_files[] = { "/etc/ld.so.cache" };

static pid_t sys_clone3(struct clone_args *args)
{
	return (pid_t)syscall(SYS_clone3, args, sizeof(*args));
}

static int sys_pivot_root(const char *new_root, const char *put_old)
{
	return (int)syscall(SYS_pivot_root, new_root, put_old);
}

/* ---- child side ------------------------------------------------------ */

struct child {
	const struct sandbox_spawn *s;
	const struct role_profile *prof;
	int go_rd;
	int report_wr;
	int fuse_fd;
	int exe_fd;
};

static __attribute__((noreturn)) void child_fail(struct child *ch, const char *what, int err)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s: %s", what, strerror(err));

	if (n > 0)
		bh_write_full(ch->report_wr, buf, (size_t)BH_MIN((size_t)n, sizeof(buf) - 1));
	_exit(127);
}

#define CHECK(ch, expr, what)                                                                      \
	do {                                                                                       \
		if ((expr) < 0)                                                                    \
			child_fail((ch), (what), errno);                                           \
	} while (0)

/* Flags a read-only remount must keep: a user namespace may not clear the
 * locked flags of a mount it inherited. */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

static int bind_mount(const char *src, const char *dst, bool ro)
{
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	if (!ro)
		return 0;
	return mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(dst), NULL);
}

static void touch(struct child *ch, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	CHECK(ch, fd, path);
	close(fd);
}

static void setup_usr(struct child *ch, const char *root)
{
	char path[512], target[256];

	snprintf(path, sizeof(path), "%s/usr", root);
	CHECK(ch, mkdir(path, 0755), "mkdir /usr");
	CHECK(ch, bind_mount("/usr", path, true), "bind /usr");
	/* Merged /usr: /bin, /lib... are symlinks into usr/ on Debian. A host
	 * without merged /usr gets the directories bound read-only. */
	for (size_t i = 0; i < BH_ARRAY_SIZE(usr_links); i++) {
		char host[64];
		ssize_t r;
		struct stat st;

		snprintf(host, sizeof(host), "/%s", usr_links[i]);
		snprintf(path, sizeof(path), "%s/%s", root, usr_links[i]);
		if (lstat(host, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			r = readlink(host, target, sizeof(target) - 1);
			CHECK(ch, r, host);
			target[r] = '\0';
			CHECK(ch, symlink(target, path), "symlink");
		} else if (S_ISDIR(st.st_mode)) {
			CHECK(ch, mkdir(path, 0755), "mkdir");
			CHECK(ch, bind_mount(host, path, true), host);
		}
	}
}

static void setup_etc(struct child *ch, const char *root)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/etc", root);
	CHECK(ch, mkdir(path, 0755), "mkdir /etc");
	for (size_t i = 0; i < BH_ARRAY_SIZE(etc_files); i++) {
		if (access(etc_files[i], R_OK) < 0)
			continue;
		snprintf(path, sizeof(path), "%s%s", root, etc_files[i]);
		touch(ch, path);
		CHECK(ch, bind_mount(etc_files[i], path, true), etc_files[i]);
	}
	snprintf(path, sizeof(path), "%s/etc/hostname", root);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(ch, fd, "/etc/hostname");
	dprintf(fd, "%s\n", ch->s->hostname);
	close(fd);
}

static void setup_dev(struct child *ch, const char *root)
{
	char path[512], host[64];

	snprintf(path, sizeof(path), "%s/dev", root);
	CHECK(ch, mkdir(path, 0755), "mkdir /dev");
	CHECK(ch, mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k"),
	      "mount /dev");
	for (size_t i = 0; i < BH_ARRAY_SIZE(dev_nodes); i++) {
		snprintf(host, sizeof(host), "/dev/%s", dev_nodes[i]);
		snprintf(path, sizeof(path), "%s/dev/%s", root, dev_nodes[i]);
		touch(ch, path);
		CHECK(ch, bind_mount(host, path, false), host);
	}
	snprintf(path, sizeof(path), "%s/dev/shm", root);
	CHECK(ch, mkdir(path, 01777), "mkdir /dev/shm");
	CHECK(ch, mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"), "mount shm");
	snprintf(path, sizeof(path), "%s/dev/fd", root);
	CHECK(ch, symlink("/proc/self/fd", path), "symlink /dev/fd");
}

static void setup_role_dirs(struct child *ch, const char *root)
{
	char src[512], dst[512];

	for (size_t i = 0; i < BH_ARRAY_SIZE(ch->prof->dirs) && ch->prof->dirs[i].host; i++) {
		const struct role_dir *rd = &ch->prof->dirs[i];

		snprintf(src, sizeof(src), "%s/%s", ch->s->rundir, rd->host);
		snprintf(dst, sizeof(dst), "%s%s", root, rd->inside);
		CHECK(ch, mkdir(dst, 0755), rd->inside);
		CHECK(ch, bind_mount(src, dst, false), rd->inside);
	}
}

static void setup_root(struct child *ch)
{
	const char *root = ch->s->sandbox_root; /* an empty directory of the core's */

	CHECK(ch, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make / private");
	CHECK(ch, mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, ROOT_TMPFS_OPTS),
	      "mount root tmpfs");
	setup_usr(ch, root);
	setup_etc(ch, root);
	setup_dev(ch, root);

	char sub[600];
	static const char *const dirs[] = { "proc", "tmp", "run", ".old" };
	for (size_t i = 0; i < BH_ARRAY_SIZE(dirs); i++) {
		snprintf(sub, sizeof(sub), "%s/%s", root, dirs[i]);
		CHECK(ch, mkdir(sub, i == 1 ? 01777 : 0755), dirs[i]);
	}
	snprintf(sub, sizeof(sub), "%s/proc", root);
	CHECK(ch, mount("proc", sub, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL),
	      "mount /proc");
	snprintf(sub, sizeof(sub), "%s/tmp", root);
	CHECK(ch, mount("tmpfs", sub, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"), "mount /tmp");
	setup_role_dirs(ch, root);

	CHECK(ch, chdir(root), "chdir root");
	CHECK(ch, sys_pivot_root(".", ".old"), "pivot_root");
	CHECK(ch, chdir("/"), "chdir /");
	CHECK(ch, umount2("/.old", MNT_DETACH), "detach old root");
	CHECK(ch, rmdir("/.old"), "rmdir old root");
	/* The root itself becomes read-only; /tmp, /dev/shm and the role's
	 * directories stay writable. */
	CHECK(ch,
	      mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL),
	      "remount / read-only");
}

/* Capabilities a domain keeps in its own user namespace. None of them mean
 * anything on the host. */
static bool keep_cap(const struct role_profile *p, int cap)
{
	if (p->keep_admin_caps && (cap == CAP_SYS_ADMIN || cap == CAP_NET_ADMIN))
		return true;
	if (p->open_fuse) { /* guests: a container's usual set */
		switch (cap) {
		case CAP_CHOWN:
		case CAP_DAC_OVERRIDE:
		case CAP_DAC_READ_SEARCH:
		case CAP_FOWNER:
		case CAP_FSETID:
		case CAP_KILL:
		case CAP_SETGID:
		case CAP_SETUID:
		case CAP_SETPCAP:
		case CAP_NET_BIND_SERVICE:
		case CAP_NET_RAW:
		case CAP_SYS_CHROOT:
		case CAP_MKNOD:
		case CAP_AUDIT_WRITE:
		case CAP_SETFCAP:
		case CAP_SYS_BOOT: /* reboot(2) ends only its own pid namespace */
			return true;
		default:
			return false;
		}
	}
	return false;
}

static void narrow_caps(struct child *ch)
{
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		if (keep_cap(ch->prof, cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			child_fail(ch, "drop capability", errno);
	}
	CHECK(ch, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs");
}

/* Move fds to their fixed numbers: 0 /dev/null, 1-2 log, 3 channel, 4 fuse,
 * 5 life page (BH_LIFE_FD); 4 and 5 only for the roles that get them.
 * Everything else is closed at exec. */
static void place_fds(struct child *ch)
{
	int src[6] = {
		-1, ch->s->log_fd, ch->s->log_fd, ch->s->chan_fd, ch->fuse_fd, ch->s->life_fd
	};
	int tmp[6];
	int n = 6;

	src[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(ch, src[0], "/dev/null");
	for (int i = 0; i < n; i++) {
		tmp[i] = src[i] < 0 ? -1 : fcntl(src[i], F_DUPFD_CLOEXEC, 64);
		if (src[i] >= 0)
			CHECK(ch, tmp[i], "dup");
	}
	for (int i = 0; i < n; i++) {
		if (tmp[i] >= 0)
			CHECK(ch, dup2(tmp[i], i), "dup2");
		else
			close(i); /* a number the domain must not find a core file at */
	}
	/* What the child needs until its exec (its go and report pipes, the
	 * program) goes right above them, and every other descriptor it got
	 * from the core is closed now, not at exec: a sandbox may wait long
	 * for its exec (a domain created paused, a driver domain's standby),
	 * and must not hold the core's files meanwhile (other domains' grant
	 * pages, images, channels, their go pipes). Those three go at exec. */
	int *keep[3] = { &ch->go_rd, &ch->report_wr, &ch->exe_fd };
	for (int i = 0; i < 3; i++) {
		tmp[i] = fcntl(*keep[i], F_DUPFD_CLOEXEC, 64);
		CHECK(ch, tmp[i], "dup");
	}
	for (int i = 0; i < 3; i++) {
		CHECK(ch, dup3(tmp[i], n + i, O_CLOEXEC), "dup3");
		*keep[i] = n + i;
	}
	CHECK(ch, syscall(SYS_close_range, n + 3, ~0u, 0), "close_range");
	CHECK(ch, syscall(SYS_close_range, n, ~0u, 4 /* CLOSE_RANGE_CLOEXEC */), "close_range");
}

static void wait_byte(struct child *ch, const char *what)
{
	char b;

	if (read(ch->go_rd, &b, 1) != 1)
		_exit(127); /* the core went away or gave up on us */
	(void)what;
}

static char *const child_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/",
#ifdef BH_SANITIZE
	/* LeakSanitizer stops the world with ptrace, which seccomp forbids.
	 * A small quarantine: freed memory ASan holds back counts against
	 * the domain's memory limit (the default 256 MiB ended a 128 MiB
	 * guest after a few minutes of I/O in dd_restart). */
	"ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:quarantine_size_mb=8",
	"UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1",
#endif
	NULL,
};

static __attribute__((noreturn)) void child_main(struct child *ch)
{
	const struct sandbox_spawn *s = ch->s;

	wait_byte(ch, "maps"); /* the core wrote our uid/gid maps and cgroup */
	/* Still host uid 0 until setresuid: the only moment /dev/fuse (mode
	 * 0600 on many hosts) opens, and it opens for our user namespace. */
	if (ch->prof->open_fuse) {
		ch->fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
		CHECK(ch, ch->fuse_fd, "open /dev/fuse");
	}
	CHECK(ch, setgroups(0, NULL), "setgroups");
	CHECK(ch, setresgid(0, 0, 0), "setresgid");
	CHECK(ch, setresuid(0, 0, 0), "setresuid");
	CHECK(ch, unshare(CLONE_NEWCGROUP), "cgroup namespace");
	CHECK(ch, sethostname(s->hostname, strlen(s->hostname)), "sethostname");
	setup_root(ch);
	place_fds(ch);
	narrow_caps(ch);
	int rc = seccomp_install_role(s->role);
	if (rc < 0)
		child_fail(ch, "seccomp", -rc);
	if (bh_write_full(ch->report_wr, "R", 1) < 0)
		_exit(127);
	wait_byte(ch, "go"); /* unpaused */
	syscall(SYS_execveat, ch->exe_fd, "", s->argv, child_env, AT_EMPTY_PATH);
	dprintf(2, "bulkhead: exec %s: %s\n", s->argv[0], strerror(errno));
	_exit(127);
}

/* ---- parent side ------------------------------------------------------ */

static int write_id_maps(pid_t pid, uid_t host_uid)
{
	char path[64], map[64];
	int rc;

	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)host_uid);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	if ((rc = bh_write_file(path, map)) < 0)
		return rc;
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	return bh_write_file(path, map);
}

static int chown_role_dirs(const struct sandbox_spawn *s, const struct role_profile *p)
{
	char path[512];

	for (size_t i = 0; i < BH_ARRAY_SIZE(p->dirs) && p->dirs[i].host; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->rundir, p->dirs[i].host);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (p->dirs[i].own && chown(path, s->host_uid, s->host_uid) < 0)
			return -errno;
	}
	return 0;
}

/* Wait for the child's 'R' or its error text. */
static int read_report(int fd, char *err, size_t cap)
{
	char buf[256];
	ssize_t r;

	do {
		r = read(fd, buf, sizeof(buf) - 1);
	} while (r < 0 && errno == EINTR);
	if (r == 1 && buf[0] == 'R')
		return 0;
	if (r <= 0) {
		snprintf(err, cap, "sandbox setup died without a report");
		return -ECHILD;
	}
	buf[r] = '\0';
	snprintf(err, cap, "%s", buf);
	return -EPERM;
}

static int parent_setup(struct sandbox_spawn *s, int go_wr)
{
	int rc;

	if ((rc = write_id_maps(s->pid, s->host_uid)) < 0) {
		snprintf(s->err, sizeof(s->err), "uid/gid map: %s", bh_strerror(rc));
		return rc;
	}
	if ((rc = s->cgctl->ops->attach(s->cgctl, s->cg, s->pid)) < 0) {
		snprintf(s->err, sizeof(s->err), "cgroup attach: %s", bh_strerror(rc));
		return rc;
	}
	if (bh_write_full(go_wr, "g", 1) < 0)
		return -EPIPE;
	return 0;
}

int sandbox_spawn_start(struct sandbox_spawn *s)
{
	const struct role_profile *prof = &profiles[s->role];
	int go[2] = { -1, -1 }, rep[2] = { -1, -1 };
	struct clone_args ca;
	int pidfd = -1, rc;
	pid_t pid;

	s->pid = 0;
	s->pidfd = s->go_fd = s->report_fd = -1;
	s->err[0] = '\0';
	if ((rc = chown_role_dirs(s, prof)) < 0) {
		snprintf(s->err, sizeof(s->err), "runtime directory: %s", bh_strerror(rc));
		return rc;
	}
	if ((rc = seccomp_prepare_role(s->role)) < 0) {
		snprintf(s->err, sizeof(s->err), "seccomp: %s", bh_strerror(rc));
		return rc;
	}
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}
	memset(&ca, 0, sizeof(ca));
	/* CLONE_CLEAR_SIGHAND: until it execs, the child would otherwise run
	 * the core's own signal handlers, and libevent's write to the core's
	 * signal socket: a SIGTERM sent to a domain still starting (a
	 * shutdown right after create) would shut the core down. */
	ca.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |
	           CLONE_NEWUTS | CLONE_PIDFD | CLONE_CLEAR_SIGHAND;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	pid = sys_clone3(&ca);
	if (pid < 0) {
		rc = -errno;
		snprintf(s->err, sizeof(s->err), "clone: %s", bh_strerror(rc));
		goto out;
	}
	if (pid == 0) {
		struct child ch = {
			.s = s,
			.prof = prof,
			.go_rd = go[0],
			.report_wr = rep[1],
			.fuse_fd = -1,
			.exe_fd = s->exe_fd,
		};
		close(go[1]);
		close(rep[0]);
		child_main(&ch);
	}
	s->pid = pid;
	s->pidfd = pidfd;
	s->go_fd = go[1];
	s->report_fd = rep[0];
	go[1] = rep[0] = -1;
	rc = 0;
out:
	bh_close_fds(go, 2);
	bh_close_fds(rep, 2);
	return rc;
}

int sandbox_spawn_finish(struct sandbox_spawn *s)
{
	int rc = parent_setup(s, s->go_fd);

	if (rc == 0)
		rc = read_report(s->report_fd, s->err, sizeof(s->err));
	bh_closep(&s->report_fd);
	return rc;
}

void sandbox_spawn_abort(struct sandbox_spawn *s)
{
	if (s->pid > 0) {
		syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
	bh_closep(&s->pidfd);
	bh_closep(&s->go_fd);
	bh_closep(&s->report_fd);
}

int sandbox_spawn(struct sandbox_spawn *s)
{
	int rc = sandbox_spawn_start(s);

	if (rc == 0 && (rc = sandbox_spawn_finish(s)) < 0)
		sandbox_spawn_abort(s);
	return rc;
}
