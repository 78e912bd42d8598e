/* Seccomp filters per role, installed by the sandbox just before exec.
 *
 * Guests, the control domain and the store get a broad filter that denies
 * the calls no domain should make (they reach kernel state that namespaces
 * do not isolate). Driver domains get an allow-list: a driver domain only
 * serves rings and descriptors it was handed, and anything else it tries is
 * a bug or an attack, so it is killed (the watchdog restarts it). The
 * driver-domain runtime (driverdom/) narrows that list further once it has
 * set itself up. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/socket.h>
#include <seccomp.h>

#include "common/util.h"
#include "core/core.h"

/* Denied to every domain, with EPERM (driver domains never reach them). */
static const int deny_all[] = {
	/* kernel modules, kexec, reboot: host state */
	SCMP_SYS(init_module),
	SCMP_SYS(finit_module),
	SCMP_SYS(delete_module),
	SCMP_SYS(kexec_load),
	SCMP_SYS(kexec_file_load),
	/* clocks, swap, accounting, kernel log: not namespaced */
	SCMP_SYS(settimeofday),
	SCMP_SYS(clock_settime),
	SCMP_SYS(clock_adjtime),
	SCMP_SYS(adjtimex),
	SCMP_SYS(swapon),
	SCMP_SYS(swapoff),
	SCMP_SYS(acct),
	SCMP_SYS(syslog),
	/* keyrings are not namespaced */
	SCMP_SYS(keyctl),
	SCMP_SYS(add_key),
	SCMP_SYS(request_key),
	/* large kernel attack surface with no use in a domain */
	SCMP_SYS(bpf),
	SCMP_SYS(perf_event_open),
	SCMP_SYS(userfaultfd),
	SCMP_SYS(io_uring_setup),
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(io_uring_register),
	SCMP_SYS(lookup_dcookie),
	SCMP_SYS(open_by_handle_at),
	SCMP_SYS(name_to_handle_at),
	SCMP_SYS(quotactl),
	SCMP_SYS(quotactl_fd),
	SCMP_SYS(nfsservctl),
	SCMP_SYS(uselib),
	SCMP_SYS(iopl),
	SCMP_SYS(ioperm),
	SCMP_SYS(vm86),
	SCMP_SYS(vm86old),
	SCMP_SYS(fanotify_init),
	/* other processes' memory, NUMA placement outside the cpuset */
	SCMP_SYS(ptrace),
	SCMP_SYS(process_vm_readv),
	SCMP_SYS(process_vm_writev),
	SCMP_SYS(kcmp),
	SCMP_SYS(mbind),
	SCMP_SYS(migrate_pages),
	SCMP_SYS(move_pages),
	SCMP_SYS(set_mempolicy),
	/* the new mount API: the classic mount(2) is enough inside a domain */
	SCMP_SYS(fsopen),
	SCMP_SYS(fsconfig),
	SCMP_SYS(fsmount),
	SCMP_SYS(fspick),
	SCMP_SYS(move_mount),
	SCMP_SYS(open_tree),
	SCMP_SYS(mount_setattr),
};

/* Denied additionally to the control domain and the store: they have no
 * reason to change their mounts or namespaces after start. */
static const int deny_service[] = {
	SCMP_SYS(reboot),  SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(pivot_root),
	SCMP_SYS(unshare), SCMP_SYS(setns), SCMP_SYS(chroot),
};

/* The driver-domain allow-list. Each group says why it is there. */
static const int driver_allow[] = {
	/* loading the program (the dynamic loader) and exec itself */
	SCMP_SYS(execve),
	SCMP_SYS(execveat),
	SCMP_SYS(brk),
	SCMP_SYS(arch_prctl),
	SCMP_SYS(set_tid_address),
	SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq),
	SCMP_SYS(prlimit64),
	SCMP_SYS(getrandom),
	SCMP_SYS(access),
	SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2),
	SCMP_SYS(openat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(fstat),
	SCMP_SYS(statx),
	SCMP_SYS(readlink),
	SCMP_SYS(uname),
	SCMP_SYS(getcwd),
	/* the legacy forms, still used by sanitizer runtimes and old libcs */
	SCMP_SYS(open),
	SCMP_SYS(stat),
	SCMP_SYS(lstat),
	SCMP_SYS(getdents64),
	SCMP_SYS(getrlimit),
	/* memory */
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mprotect),
	SCMP_SYS(mremap),
	SCMP_SYS(madvise),
	/* descriptors and I/O on what it was handed */
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(readv),
	SCMP_SYS(writev),
	SCMP_SYS(pread64),
	SCMP_SYS(pwrite64),
	SCMP_SYS(preadv),
	SCMP_SYS(pwritev),
	SCMP_SYS(preadv2),
	SCMP_SYS(pwritev2),
	SCMP_SYS(lseek),
	SCMP_SYS(close),
	SCMP_SYS(close_range),
	SCMP_SYS(dup),
	SCMP_SYS(dup2),
	SCMP_SYS(dup3),
	SCMP_SYS(fcntl),
	SCMP_SYS(ioctl),
	SCMP_SYS(pipe2),
	SCMP_SYS(fsync),
	SCMP_SYS(fdatasync),
	SCMP_SYS(fallocate),
	SCMP_SYS(ftruncate),
	/* io_uring for blkback */
	SCMP_SYS(io_uring_setup),
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(io_uring_register),
	/* the event loop, event channels, the hypercall channel, netlink */
	SCMP_SYS(epoll_create1),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait),
	SCMP_SYS(epoll_pwait2),
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	/* the kernel resumes an interrupted poll/nanosleep through it (io_uring
	 * task work interrupts waits); it only continues an allowed call */
	SCMP_SYS(restart_syscall),
	SCMP_SYS(eventfd2),
	SCMP_SYS(timerfd_create),
	SCMP_SYS(timerfd_settime),
	SCMP_SYS(timerfd_gettime),
	SCMP_SYS(sendmsg),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendto),
	SCMP_SYS(recvfrom),
	SCMP_SYS(bind),
	SCMP_SYS(getsockname),
	SCMP_SYS(setsockopt),
	SCMP_SYS(getsockopt),
	SCMP_SYS(shutdown),
	SCMP_SYS(socketpair),
	/* threads, time, signals, identity */
	SCMP_SYS(futex),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(getuid),
	SCMP_SYS(geteuid),
	SCMP_SYS(getgid),
	SCMP_SYS(getegid),
	SCMP_SYS(getppid),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack),
	SCMP_SYS(tgkill),
	SCMP_SYS(kill),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(getrusage),
	SCMP_SYS(sysinfo),
	SCMP_SYS(membarrier),
	/* narrowing itself at start (driverdom/): empty root, fewer caps */
	SCMP_SYS(mount),
	SCMP_SYS(umount2),
	SCMP_SYS(pivot_root),
	SCMP_SYS(chdir),
	SCMP_SYS(mkdir),
	SCMP_SYS(rmdir),
	SCMP_SYS(capget),
	SCMP_SYS(capset),
	SCMP_SYS(prctl),
	SCMP_SYS(seccomp),
	SCMP_SYS(setrlimit),
};

static int add_rules(scmp_filter_ctx ctx, uint32_t action, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* A call this libseccomp or arch does not know is not an error. */
		if (calls[i] < 0)
			continue;
		int rc = seccomp_rule_add(ctx, action, calls[i], 0);
		if (rc < 0 && rc != -EDOM && rc != -EEXIST)
			return rc;
	}
	return 0;
}

/* clone3 cannot be filtered by flags: answer ENOSYS so libc falls back to
 * clone(2), whose flags can be. No domain may make a nested user namespace
 * (the classic way into kernel code paths meant for root). */
static int limit_namespaces(scmp_filter_ctx ctx, bool threads_only)
{
	int rc;

	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0)
		return rc;
	if (threads_only)
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		                        SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
	                      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
	if (rc < 0)
		return rc;
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
	                        SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
}

/* Driver domains open sockets only for netlink (their interfaces) and Unix
 * socket pairs. */
static int driver_sockets(scmp_filter_ctx ctx)
{
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	                          SCMP_A0(SCMP_CMP_EQ, AF_NETLINK));

	if (rc < 0)
		return rc;
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	                        SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
}

static int build_filter(scmp_filter_ctx ctx, enum bh_role role)
{
	int rc;

	if (role == BH_ROLE_DRIVER) {
		if ((rc = add_rules(ctx, SCMP_ACT_ALLOW, driver_allow,
		                    BH_ARRAY_SIZE(driver_allow))) < 0)
			return rc;
		if ((rc = driver_sockets(ctx)) < 0)
			return rc;
		return limit_namespaces(ctx, true);
	}
	if ((rc = add_rules(ctx, SCMP_ACT_ERRNO(EPERM), deny_all, BH_ARRAY_SIZE(deny_all))) < 0)
		return rc;
	if (role != BH_ROLE_GUEST && (rc = add_rules(ctx, SCMP_ACT_ERRNO(EPERM), deny_service,
	                                             BH_ARRAY_SIZE(deny_service))) < 0)
		return rc;
	return limit_namespaces(ctx, false);
}

static int compile_role(enum bh_role role, scmp_filter_ctx *out)
{
	uint32_t def = role == BH_ROLE_DRIVER ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_ALLOW;
	scmp_filter_ctx ctx = seccomp_init(def);
	int rc;

	if (!ctx)
		return -ENOMEM;
	/* Only the native ABI: an x32 or i386 call is killed. A binary tree
	 * of syscall numbers rather than a list: every system call a domain
	 * makes runs this filter (the allow-list has ~100 entries). */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0 ||
	    (rc = build_filter(ctx, role)) < 0) {
		seccomp_release(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

/* Each role's filter as BPF, compiled once by the core on first use: the
 * filters are constants of the program, and compiling one in every new
 * domain cost ~0.6 ms of its start (bench-core-create). Written only in
 * the core's single thread, before the clone that reads it. */
static struct sock_fprog compiled[BH_ROLE_MAX];

int seccomp_prepare_role(enum bh_role role)
{
	scmp_filter_ctx ctx;
	struct sock_filter *insns = NULL;
	off_t len;
	int fd = -1, rc;

	if (role >= BH_ROLE_MAX)
		return -EINVAL;
	if (compiled[role].filter)
		return 0;
	if ((rc = compile_role(role, &ctx)) < 0)
		return rc;
	/* libseccomp 2.5 exports only to a descriptor. */
	if ((fd = memfd_create("seccomp-bpf", MFD_CLOEXEC)) < 0 ||
	    (rc = seccomp_export_bpf(ctx, fd)) < 0 || (len = lseek(fd, 0, SEEK_CUR)) <= 0 ||
	    len % sizeof(*insns) != 0 || !(insns = malloc((size_t)len)) ||
	    pread(fd, insns, (size_t)len, 0) != len) {
		rc = rc < 0 ? rc : -EIO;
		free(insns);
		goto out;
	}
	compiled[role] =
	    (struct sock_fprog){ .len = (unsigned short)(len / sizeof(*insns)), .filter = insns };
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return rc;
}

int seccomp_install_role(enum bh_role role)
{
	scmp_filter_ctx ctx;
	int rc;

	if (role < BH_ROLE_MAX && compiled[role].filter) {
		/* no_new_privs is already set (sandbox.c), as seccomp_load would. */
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &compiled[role]) < 0)
			return -errno;
		return 0;
	}
	if ((rc = compile_role(role, &ctx)) < 0)
		return rc;
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}
