/* domprobe: a program the integration tests run inside domains. Each
 * subcommand checks something from the inside and prints lines the test
 * reads from the domain's log:
 *     check NAME ok
 *     check NAME FAIL what happened
 * and a few data lines (REF, PORT, GOT, DIED). It uses libbhxen exactly as
 * a backend or frontend would. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>
#include <dirent.h>
#include <arpa/inet.h>

#include "common/life.h"
#include "common/util.h"
#include "ioctl/bhctl.h"
#include "ioctl/xendev.h"

static int failures;

static void check(const char *name, int ok, const char *fmt, ...)
{
	char detail[256] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	printf("check %s %s%s%s\n", name, ok ? "ok" : "FAIL", ok ? "" : " ", ok ? "" : detail);
	fflush(stdout);
	failures += !ok;
}

static int errno_of(long r)
{
	return r < 0 ? errno : 0;
}

/* ---- isolation --------------------------------------------------------- */

static void check_host_files(void)
{
	static const char *const hidden[] = { "/etc/shadow", "/etc/passwd", "/root", "/home",
		                              "/work",       "/var",        "/boot" };
	struct stat st;

	for (size_t i = 0; i < BH_ARRAY_SIZE(hidden); i++) {
		int e = errno_of(stat(hidden[i], &st));
		check("host_files", e == ENOENT, "%s is visible (errno %d)", hidden[i], e);
	}
	int e = errno_of(open("/new-file", O_WRONLY | O_CREAT, 0600));
	check("root_read_only", e == EROFS, "creating /new-file: errno %d", e);
	int fd = open("/tmp/scratch", O_WRONLY | O_CREAT, 0600);
	check("tmp_writable", fd >= 0, "errno %d", errno);
	if (fd >= 0)
		close(fd);
}

static void check_host_processes(long host_pid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	char path[64];
	struct stat st;

	while (d && (e = readdir(d)))
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
			n++;
	if (d)
		closedir(d);
	check("host_processes", n > 0 && n <= 3, "%d processes visible", n);
	check("own_pid_is_1", getpid() == 1, "pid %d", (int)getpid());
	snprintf(path, sizeof(path), "/proc/%ld", host_pid);
	check("core_invisible", stat(path, &st) < 0, "%s exists", path);
}

static void check_host_network(int port)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int n = 0, only_lo = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	for (i = ifs; i && i->if_index; i++, n++)
		only_lo &= strcmp(i->if_name, "lo") == 0;
	if (ifs)
		if_freenameindex(ifs);
	check("host_network", n == 1 && only_lo, "%d interfaces", n);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	int e = s >= 0 ? errno_of(connect(s, (struct sockaddr *)&sa, sizeof(sa))) : errno;
	check("host_port_unreachable", e != 0, "connected to the host's port %d", port);
	if (s >= 0)
		close(s);
}

static void check_privileges(void)
{
	struct timeval tv;
	int e;

	check("no_new_privs", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, NULL);
	gettimeofday(&tv, NULL);
	e = errno_of(settimeofday(&tv, NULL));
	check("no_host_time", e == EPERM, "settimeofday errno %d", e);
	e = errno_of(mknod("/tmp/mem", S_IFCHR | 0600, makedev(1, 1)));
	check("no_device_nodes", e == EPERM, "mknod errno %d", e);
	e = errno_of(syscall(SYS_init_module, NULL, 0, ""));
	check("no_modules", e == EPERM, "init_module errno %d", e);
	e = errno_of(unshare(CLONE_NEWUSER));
	check("no_nested_userns", e == EPERM, "unshare(CLONE_NEWUSER) errno %d", e);
	e = errno_of(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
	check("seccomp_keyctl", e == EPERM, "keyctl errno %d", e);
	e = errno_of(syscall(SYS_bpf, 0, NULL, 0));
	check("seccomp_bpf", e == EPERM, "bpf errno %d", e);
	e = errno_of(syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, 1, 0, 0));
	check("seccomp_ptrace", e == EPERM, "ptrace errno %d", e);
	e = errno_of(syscall(SYS_io_uring_setup, 1, NULL));
	check("seccomp_io_uring", e == EPERM, "io_uring_setup errno %d", e);
}

static int cmd_isolation(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	check_host_files();
	check_host_processes(strtol(argv[0], NULL, 10));
	check_host_network((int)strtol(argv[1], NULL, 10));
	check_privileges();
	printf("failures %d\n", failures);
	return failures ? 1 : 0;
}

/* ---- resources --------------------------------------------------------- */

static int cmd_oom(int argc, char **argv)
{
	long mb = argc > 0 ? strtol(argv[0], NULL, 10) : 512;

	for (long i = 0; i < mb; i++) {
		char *p = malloc(1 << 20);
		if (!p)
			break;
		memset(p, (int)i, 1 << 20);
		if (i % 16 == 0) {
			printf("allocated %ld MiB\n", i);
			fflush(stdout);
		}
	}
	printf("survived\n");
	return 0;
}

static int cmd_forbidden(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("trying a forbidden system call\n");
	fflush(stdout);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	printf("still alive: socket returned %d errno %d\n", s, errno);
	return 0;
}

/* Random datagrams at the core, then see whether it still answers. */
static int cmd_garbage(int argc, char **argv)
{
	unsigned seed = 42;
	long n = argc > 0 ? strtol(argv[0], NULL, 10) : 1000;
	unsigned char buf[4096];

	for (long i = 0; i < n; i++) {
		size_t len = (size_t)rand_r(&seed) % sizeof(buf);
		for (size_t j = 0; j < len; j++)
			buf[j] = (unsigned char)rand_r(&seed);
		if (send(BH_HC_FD, buf, len, MSG_DONTWAIT) < 0 && errno != EAGAIN)
			break;
		while (recv(BH_HC_FD, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
	}
	printf("garbage sent\n");
	fflush(stdout);
	pause();
	return 0;
}

/* ---- grants and event channels ----------------------------------------- */

static int wait_port(int efd, uint32_t want, int timeout_ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint32_t port;

	while (poll(&p, 1, timeout_ms) == 1) {
		if (xen_read(efd, &port, sizeof(port)) != sizeof(port))
			continue;
		xen_write(efd, &port, sizeof(port));
		if (port == want)
			return 0;
	}
	return -ETIMEDOUT;
}

static int cmd_grant_serve(int argc, char **argv)
{
	uint16_t peer = argc > 0 ? (uint16_t)strtol(argv[0], NULL, 10) : 0;
	int ga = xen_open("/dev/xen/gntalloc", 0), ev = xen_open("/dev/xen/evtchn", O_NONBLOCK);
	struct ioctl_gntalloc_alloc_gref a = { .domid = peer,
		                               .flags = GNTALLOC_FLAG_WRITABLE,
		                               .count = 1 };
	struct ioctl_evtchn_bind_unbound_port ub = { .remote_domain = peer };
	int port;

	if (ga < 0 || ev < 0 || xen_ioctl(ga, IOCTL_GNTALLOC_ALLOC_GREF, &a) < 0)
		return printf("setup failed: %s\n", strerror(errno)), 1;
	char *page = xen_mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ga, (off_t)a.index);
	port = xen_ioctl(ev, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &ub);
	if (page == MAP_FAILED || port < 0)
		return printf("map/bind failed: %s\n", strerror(errno)), 1;
	snprintf(page, 4096, "hello from dom-serve ref %u", a.gref_ids[0]);
	printf("REF %u PORT %d\n", a.gref_ids[0], port);
	fflush(stdout);
	if (wait_port(ev, (uint32_t)port, 60000) < 0)
		return printf("no event\n"), 1;
	printf("GOT %s\n", page);
	struct ioctl_evtchn_notify nt = { .port = (unsigned)port };
	xen_ioctl(ev, IOCTL_EVTCHN_NOTIFY, &nt);
	fflush(stdout);
	return 0;
}

static int cmd_grant_use(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	uint32_t peer = (uint32_t)strtoul(argv[0], NULL, 10);
	uint32_t ref = (uint32_t)strtoul(argv[1], NULL, 10);
	uint32_t rport = (uint32_t)strtoul(argv[2], NULL, 10);
	int gd = xen_open("/dev/xen/gntdev", 0), ev = xen_open("/dev/xen/evtchn", O_NONBLOCK);
	struct ioctl_gntdev_map_grant_ref m = { .count = 1 };
	struct ioctl_evtchn_bind_interdomain bi = { .remote_domain = peer, .remote_port = rport };

	m.refs[0].domid = peer;
	m.refs[0].ref = ref;
	if (gd < 0 || ev < 0 || xen_ioctl(gd, IOCTL_GNTDEV_MAP_GRANT_REF, &m) < 0)
		return printf("setup failed: %s\n", strerror(errno)), 1;
	char *page = xen_mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, gd, (off_t)m.index);
	if (page == MAP_FAILED)
		return printf("map failed: %s\n", strerror(errno)), 1;
	printf("READ %s\n", page);
	snprintf(page, 4096, "ack from dom-use");
	int port = xen_ioctl(ev, IOCTL_EVTCHN_BIND_INTERDOMAIN, &bi);
	if (port < 0)
		return printf("bind failed: %s\n", strerror(errno)), 1;
	struct ioctl_evtchn_notify nt = { .port = (unsigned)port };
	xen_ioctl(ev, IOCTL_EVTCHN_NOTIFY, &nt);
	int rc = wait_port(ev, (uint32_t)port, 60000);
	printf("%s\n", rc == 0 ? "DONE" : "no reply");
	xen_munmap(page, 4096);
	return rc == 0 ? 0 : 1;
}

/* A privileged domain learns of every domain's end through VIRQ_DOM_EXC. */
static int cmd_virq_watch(int argc, char **argv)
{
	int ev = xen_open("/dev/xen/evtchn", O_NONBLOCK);
	struct ioctl_evtchn_bind_virq v = { .virq = BH_VIRQ_DOM_EXC };
	int port = ev < 0 ? -1 : xen_ioctl(ev, IOCTL_EVTCHN_BIND_VIRQ, &v);

	(void)argc;
	(void)argv;
	if (port < 0)
		return printf("bind virq failed: %s\n", strerror(errno)), 1;
	printf("READY\n");
	fflush(stdout);
	if (wait_port(ev, (uint32_t)port, 60000) < 0)
		return printf("no virq\n"), 1;
	struct bh_dominfo *all;
	size_t n;
	if (bhctl_domain_list(xen_hcall(), &all, &n) < 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (all[i].state == BH_DOMSTATE_SHUTDOWN)
			printf("DIED %u %s %s\n", all[i].domid, all[i].name,
			       bhctl_reason_name(all[i].shutdown_reason));
	free(all);
	return 0;
}

static int cmd_sleep(int argc, char **argv)
{
	sleep(argc > 0 ? (unsigned)strtoul(argv[0], NULL, 10) : 3600);
	return 0;
}

static int cmd_shutdown(int argc, char **argv)
{
	uint32_t reason = argc > 0 ? (uint32_t)strtoul(argv[0], NULL, 10) : BH_SHUTDOWN_POWEROFF;

	printf("shutting down with reason %u\n", reason);
	fflush(stdout);
	bhctl_domain_shutdown(xen_hcall(), BH_DOMID_SELF, reason);
	sleep(10);
	return 3; /* never reached: the core ends us */
}

/* reboot(2) as a guest's `reboot -f` / `poweroff -f` does it. */
static int cmd_reboot(int argc, char **argv)
{
	int how = argc > 0 && strcmp(argv[0], "poweroff") == 0 ? RB_POWER_OFF : RB_AUTOBOOT;

	printf("calling reboot(%s)\n", how == RB_AUTOBOOT ? "RB_AUTOBOOT" : "RB_POWER_OFF");
	fflush(stdout);
	reboot(how);
	printf("reboot returned: %s\n", strerror(errno));
	return 1;
}

/* What a driver domain's standby may do before its first hypercall is
 * answered: say so, ask for our own info, say what it was, sleep. */
static int cmd_standby(int argc, char **argv)
{
	struct bh_dominfo d;
	int rc;

	printf("before the first hypercall\n");
	fflush(stdout);
	if ((rc = bhctl_domain_getinfo(xen_hcall(), BH_DOMID_SELF, &d)) < 0) {
		printf("getinfo: %s\n", strerror(-rc));
		return 1;
	}
	printf("answered: generation %u\n", d.generation);
	fflush(stdout);
	sleep(60);
	return 0;
}

/* The index of interface NAME in our network namespace, 0 if none (a
 * Unix socket: the only kind a driver domain may open). */
static int ifindex_of(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), idx = 0;

	bh_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
	if (s >= 0 && ioctl(s, SIOCGIFINDEX, &ifr) == 0)
		idx = ifr.ifr_ifindex;
	if (s >= 0)
		close(s);
	return idx;
}

/* A bridge ioctl on a Unix socket: 0 or -errno. */
static int br_ioctl(unsigned long req, const char *br, int ifindex)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	bh_strlcpy(ifr.ifr_name, br, sizeof(ifr.ifr_name));
	ifr.ifr_ifindex = ifindex;
	if ((req == SIOCBRADDBR ? ioctl(s, req, ifr.ifr_name) : ioctl(s, req, &ifr)) < 0)
		rc = -errno;
	close(s);
	return rc;
}

static bool is_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool up;

	bh_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
	up = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
	if (s >= 0)
		close(s);
	return up;
}

/* tap NAME...: once started (a standby: once a restart took it), says
 * whether each interface was already in our namespace, then asks the
 * core for a TAP under that name and checks what it got. The first name
 * is asked for with a vnet header in every generation, the others with
 * one in generation 0 and multi-queue in later ones (other flags than
 * the TAP the core made ahead: made anew, a new interface). A name
 * written +NAME is asked for a second later
 * (after the core built the standby). Generation 0 puts the first on a
 * bridge tbr0; later ones say whether the TAP was up and on tbr0. */
static int cmd_tap(int argc, char **argv)
{
	struct bh_dominfo d;
	int rc;

	if ((rc = bhctl_domain_getinfo(xen_hcall(), BH_DOMID_SELF, &d)) < 0) {
		printf("getinfo: %s\n", strerror(-rc));
		return 1;
	}
	for (int i = 0; i < argc; i++) {
		bool vnet = i == 0 || d.generation == 0;
		int before, fd = -1;
		struct ifreq ifr = { 0 };

		if (argv[i][0] == '+') {
			argv[i]++;
			sleep(1);
		}
		before = ifindex_of(argv[i]);

		printf("gen %u: premade %s %s\n", d.generation, argv[i], before ? "yes" : "no");
		if (i == 0 && d.generation > 0)
			printf("gen %u: ahead %s up %s, on tbr0 %s\n", d.generation, argv[i],
			       is_up(argv[i]) ? "yes" : "no",
			       before && br_ioctl(SIOCBRDELIF, "tbr0", before) == 0 ? "yes" : "no");
		rc =
		    bhctl_device_tap(xen_hcall(), argv[i], vnet ? BH_TAP_VNET_HDR : BH_TAP_MQ, &fd);
		check("tap", rc == 0, "%s: %s", argv[i], strerror(-rc));
		if (rc < 0)
			continue;
		check("tap-name", ioctl(fd, TUNGETIFF, &ifr) == 0 && !strcmp(ifr.ifr_name, argv[i]),
		      "%s: got %s", argv[i], ifr.ifr_name);
		check("tap-flags",
		      !!(ifr.ifr_flags & IFF_VNET_HDR) == vnet &&
		          !(ifr.ifr_flags & IFF_MULTI_QUEUE) == vnet,
		      "%s: flags %#x", argv[i], ifr.ifr_flags);
		check("tap-same", !before || !vnet || ifindex_of(argv[i]) == before,
		      "%s: index %d, was %d", argv[i], ifindex_of(argv[i]), before);
		if (i == 0 && d.generation == 0) {
			if ((rc = br_ioctl(SIOCBRADDBR, "tbr0", 0)) == 0)
				rc = br_ioctl(SIOCBRADDIF, "tbr0", ifindex_of(argv[i]));
			check("bridge", rc == 0, "tbr0: %s", strerror(-rc));
		}
		printf("gen %u: tap %s done\n", d.generation, argv[i]);
	}
	sleep(60);
	return 0;
}

/* A driver domain that plays with its life page (core/life.c): holds its
 * mutex, heartbeats (the core then waits on the page), then clears the
 * waiters bit the core set and wakes the word, ROUNDS times (50). */
static int cmd_lifeplay(int argc, char **argv)
{
	unsigned rounds = argc > 0 ? (unsigned)strtoul(argv[0], NULL, 10) : 50;
	int fd = fcntl(BH_LIFE_FD, F_DUPFD_CLOEXEC, 10), rc;
	uint32_t *w;

	if (fd < 0 || (rc = bh_life_hold()) < 0) {
		printf("check life-hold FAIL %s\n", strerror(errno));
		return 1;
	}
	w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w == MAP_FAILED) {
		printf("check life-map FAIL %s\n", strerror(errno));
		return 1;
	}
	bhctl_heartbeat(xen_hcall());
	usleep(100000);
	for (unsigned i = 0; i < rounds; i++) {
		__atomic_and_fetch(w, ~(uint32_t)FUTEX_WAITERS, __ATOMIC_SEQ_CST);
		syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
		usleep(2000);
	}
	printf("PLAYED %u\n", rounds);
	sleep(60);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} cmds[] = {
	{ "tap", cmd_tap },
	{ "reboot", cmd_reboot },
	{ "isolation", cmd_isolation },
	{ "oom", cmd_oom },
	{ "forbidden", cmd_forbidden },
	{ "garbage", cmd_garbage },
	{ "grant-serve", cmd_grant_serve },
	{ "grant-use", cmd_grant_use },
	{ "virq-watch", cmd_virq_watch },
	{ "sleep", cmd_sleep },
	{ "shutdown", cmd_shutdown },
	{ "standby", cmd_standby },
	{ "lifeplay", cmd_lifeplay },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; argc > 1 && i < BH_ARRAY_SIZE(cmds); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 2, argv + 2);
	fprintf(stderr, "usage: domprobe COMMAND [ARGS]\n");
	return 2;
}
