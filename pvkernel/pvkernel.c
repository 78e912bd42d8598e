/* bulkhead-pvkernel: PID 1 of a PV guest domain.
 *
 *   bulkhead-pvkernel [--ramdisk-token TOKEN] [-- WORD...]
 *
 * The core runs it as the first process of the domain's sandbox (its own
 * user, pid, mount and net namespaces; the hypercall channel on fd 3).
 * It does what Linux does for a Xen PV guest, in user space: reads its
 * start info, brings up the console, unpacks the ramdisk into a tmpfs
 * root, runs init on the console and, when init ends or the domain is
 * asked to stop, reports the shutdown to the core. The boot sequence is
 * main() from top to bottom; the rest is one event loop (loop.c). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/util.h"
#include "ioctl/bhctl.h"
#include "ioctl/xendev.h"
#include "pvkernel/netlo.h"
#include "pvkernel/pvk.h"

#define ROOT_MNT       "/run"
#define CONS_FIFO_SIZE (64u * 1024)
#define MIN_ROOT_KB    (8u * 1024)

void pvk_printk(struct pvk *k, bool always, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n = snprintf(line, sizeof(line), "bulkhead-pvkernel: ");

	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* The domain's log is the kernel's log buffer: everything goes there;
	 * the console gets what `quiet` lets through. */
	if (bh_write_full(STDERR_FILENO, line, (size_t)n) < 0) {
		/* no log: nothing to do about it */
	}
	/* Without a ring the console is the log, which has the line already. */
	if (k->cons_up && k->cons.ring && (always || !k->cmd.quiet))
		pvk_conspump_kmsg(&k->cons, line, (size_t)n);
}

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: bulkhead-pvkernel [--ramdisk-token TOKEN] [-- WORD...]\n");
	exit(2);
}

/* The argv contract (docs/pvkernel.md). */
static void parse_args(struct pvk *k, int argc, char **argv)
{
	int i;

	k->ramdisk_token = "ramdisk";
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "--ramdisk-token") && i + 1 < argc && argv[i + 1][0])
			k->ramdisk_token = argv[++i];
		else
			usage();
	}
	k->words = (const char *const *)argv + i;
	k->nwords = (size_t)(argc - i);
}

/* The console: ring page and event channel port from start info. */
static int console_up(struct pvk *k, int page_fd)
{
	struct ioctl_evtchn_unbind at = { .port = k->si.console_port };
	int rc;

	if (page_fd >= 0) {
		k->ring = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, page_fd, 0);
		if (k->ring == MAP_FAILED)
			k->ring = NULL;
		k->evtchn = xen_open("/dev/xen/evtchn", O_NONBLOCK);
		if (k->ring && k->evtchn >= 0 &&
		    xen_ioctl(k->evtchn, IOCTL_EVTCHN_BH_ATTACH, &at) >= 0)
			k->cons_port = k->si.console_port;
		else
			fprintf(
			    stderr,
			    "bulkhead-pvkernel: console ring unusable (%s): output to the log\n",
			    strerror(errno));
	}
	if (!k->cons_port && k->ring) {
		munmap(k->ring, 4096);
		k->ring = NULL;
	}
	rc = pvk_conspump_init(&k->cons, k->ring, STDOUT_FILENO, CONS_FIFO_SIZE, pvk_console_kick,
	                       k);
	if (rc < 0)
		return rc;
	k->cons_up = true;
	return 0;
}

static int start_info(struct pvk *k)
{
	int fds[2] = { -1, -1 }, rc;
	size_t nfds = 0;

	rc = bhctl_start_info(k->hc, &k->si, fds, &nfds);
	if (rc < 0) {
		fprintf(stderr, "bulkhead-pvkernel: start info: %s\n", bh_strerror(rc));
		return rc;
	}
	/* Store page first when there is a store; the store client asks for
	 * its own. */
	size_t ci = k->si.store_port ? 1 : 0;
	rc = console_up(k, k->si.console_port && ci < nfds ? fds[ci] : -1);
	bh_close_fds(fds, nfds);
	return rc;
}

static void boot_banner(struct pvk *k)
{
	char line[400];
	size_t n = 0;

	pvk_printk(k, false, "Bulkhead PV kernel, domain %u (%s), %llu KiB, %u vcpu(s)",
	           k->si.domid, k->si.name, (unsigned long long)k->si.mem_kb, k->si.vcpus);
	for (size_t i = 0; i < k->nwords && n < sizeof(line) - 1; i++)
		n +=
		    (size_t)snprintf(line + n, sizeof(line) - n, "%s%s", i ? " " : "", k->words[i]);
	line[BH_MIN(n, sizeof(line) - 1)] = '\0';
	pvk_printk(k, false, "Kernel command line: %s", line);
}

/* Parsed before the first message, as Linux reads `quiet` early; acted on
 * once the console is up. */
static int apply_cmdline(struct pvk *k, int rc)
{
	if (rc < 0) {
		pvk_printk(k, true, "Kernel panic: %s", k->cmd.error);
		return rc;
	}
	if (k->cmd.warning[0])
		pvk_printk(k, true, "%s", k->cmd.warning);
	if (k->cmd.root)
		pvk_printk(k, false, "root=%s ignored: no block frontend yet, booting the ramdisk",
		           k->cmd.root);
	int r = pvk_loopback_up();
	if (r < 0)
		pvk_printk(k, true, "lo: cannot bring up: %s", bh_strerror(r));
	const char *hn = k->cmd.ip.hostname;
	if (hn[0]) {
		if (sethostname(hn, strlen(hn)) < 0)
			pvk_printk(k, true, "ip=: hostname %s: %s", hn, strerror(errno));
		else
			pvk_printk(k, false, "hostname %s (from ip=)", hn);
	}
	return 0;
}

static int mount_root(struct pvk *k)
{
	uint64_t size = 0, root_kb;
	uint32_t flags = 0;
	int fd = -1, rc;

	rc = bhctl_device_open(k->hc, k->ramdisk_token, &fd, &size, &flags);
	if (rc < 0) {
		pvk_printk(k, true, "Kernel panic: no ramdisk (device \"%s\": %s)",
		           k->ramdisk_token, bh_strerror(rc));
		return rc;
	}
	/* As Linux's rootfs: a tmpfs of half the memory (the cgroup limit
	 * bounds it in any case). */
	root_kb = BH_MAX(k->si.mem_kb / 2, (uint64_t)MIN_ROOT_KB);
	pvk_printk(k, false, "Unpacking initramfs (%llu bytes) into a %llu KiB tmpfs",
	           (unsigned long long)size, (unsigned long long)root_kb);
	rc = pvk_rootfs_build(&k->root, root_kb, fd);
	close(fd);
	if (rc == 0)
		rc = pvk_rootfs_console(&k->root);
	if (rc == 0)
		rc = pvk_rootfs_pivot(&k->root);
	if (rc < 0) {
		pvk_printk(k, true, "Kernel panic: %s", k->root.err);
		return rc;
	}
	pvk_printk(k, false, "Freeing initrd: %u files, %u directories, %llu bytes",
	           k->root.cpio.files, k->root.cpio.dirs, (unsigned long long)k->root.cpio.bytes);
	return 0;
}

static void pvk_signals(sigset_t *set)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGPWR };

	sigemptyset(set);
	for (size_t i = 0; i < BH_ARRAY_SIZE(sigs); i++)
		sigaddset(set, sigs[i]);
}

/* First thing at start: the init of a pid namespace silently loses every
 * signal it neither handles nor blocks, and a shutdown request may come
 * while we boot. Blocked, they wait for the signalfd. init's child
 * unblocks them before exec. */
static void on_signal_noop(int sig)
{
	(void)sig;
}

static void block_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal_noop };
	sigset_t set;

	pvk_signals(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* A handler too, though they only ever reach the signalfd: the core
	 * sends SIGTERM for a shutdown only to a first process that handles
	 * it (SigCgt), and kills any other at once. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&set, sig) == 1 && sig != SIGCHLD)
			sigaction(sig, &sa, NULL);
}

static int signals_up(struct pvk *k)
{
	sigset_t set;

	pvk_signals(&set);
	k->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return k->sigfd < 0 ? -errno : 0;
}

static void store_shutdown(void *arg, int reason)
{
	pvk_request_shutdown(arg, reason, "control/shutdown");
}

static void store_log(void *arg, const char *msg)
{
	pvk_printk(arg, false, "store: %s", msg);
}

static void store_up(struct pvk *k)
{
	static const struct pvk_store_ops ops = { store_shutdown, store_log, NULL };
	struct pvk_store_ops o = ops;
	int rc;

	o.arg = k;
	if (k->si.store_port == 0) {
		pvk_printk(k, false, "no store: running without frontends");
		return;
	}
	rc = pvk_store_start(k->base, &k->cmd, &o, &k->store);
	if (rc < 0)
		pvk_printk(k, false, "store: not connected (%s): running without frontends",
		           rc == -ENOSYS ? "store client not built in" : bh_strerror(rc));
}

/* Report how the domain ends; the core ends us in answer. */
static __attribute__((noreturn)) void shutdown_domain(struct pvk *k, int reason)
{
	int rc;

	static const char *const said[] = { [BH_SHUTDOWN_POWEROFF] = "Power down",
		                            [BH_SHUTDOWN_REBOOT] = "Restarting system",
		                            [BH_SHUTDOWN_SUSPEND] = "Suspending",
		                            [BH_SHUTDOWN_CRASH] = "Crashed" };

	pvk_console_drain(k);                            /* init's last words first */
	pvk_printk(k, true, "reboot: %s", said[reason]); /* KERN_EMERG in Linux */
	pvk_console_drain(k);
	rc = bhctl_domain_shutdown(k->hc, BH_DOMID_SELF, (uint32_t)reason);
	if (rc == 0)
		for (;;)
			pause(); /* the core's SIGKILL is on its way */
	fprintf(stderr, "bulkhead-pvkernel: shutdown hypercall: %s\n", bh_strerror(rc));
	/* Without the hypercall, the exit status says as much as it can:
	 * 0 is a power off, anything else a crash. */
	exit(reason == BH_SHUTDOWN_POWEROFF ? 0 : 1);
}

int main(int argc, char **argv)
{
	struct pvk k = { .sigfd = -1, .evtchn = -1, .init_pid = -1, .want_reason = -1 };
	int reason = BH_SHUTDOWN_CRASH;

	block_signals();
	pvk_rootfs_init(&k.root, ROOT_MNT);
	/* The hypercall channel and /dev/fuse are the kernel's, not init's. */
	bh_set_cloexec(BH_HC_FD, 1);
	bh_set_cloexec(4, 1);
	parse_args(&k, argc, argv);
	int parsed = pvk_cmdline_parse(&k.cmd, k.words, k.nwords);
	k.hc = xen_hcall();
	if (!k.hc || start_info(&k) < 0)
		return 1;
	boot_banner(&k);
	k.base = event_base_new();
	if (!k.base || apply_cmdline(&k, parsed) < 0 || mount_root(&k) < 0 || signals_up(&k) < 0)
		shutdown_domain(&k, BH_SHUTDOWN_CRASH);
	store_up(&k);
	if (k.want_reason >= 0) /* control/shutdown was waiting for us */
		shutdown_domain(&k, k.want_reason);
	pvk_printk(&k, false, "Run %s as init process", k.cmd.init);
	k.init_pid = pvk_init_spawn(&k.cmd, k.root.master, k.cmd.init_given);
	if (k.init_pid < 0) {
		pvk_printk(&k, true, "Kernel panic: cannot start init: %s",
		           bh_strerror(k.init_pid));
		shutdown_domain(&k, BH_SHUTDOWN_CRASH);
	}
	reason = pvk_loop(&k);
	pvk_store_stop(k.store);
	shutdown_domain(&k, reason);
}
