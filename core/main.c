/* bulkhead-core: entry point, options, the runtime directory and boot. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/event.h>

#include "core/core.h"

#define BOOT_ARGS_MAX 32

struct boot_spec {
	const char *image;
	const char *args[BOOT_ARGS_MAX];
	unsigned nargs;
	uint64_t mem_kb;
};

struct main_opts {
	struct core_opts core;
	struct boot_spec dom0, store;
	const char *log_level;
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: bulkhead-core [options]\n"
	    "  --rundir DIR         runtime directory (default $BULKHEAD_RUNDIR or /run/bulkhead)\n"
	    "  --instance NAME      cgroup/uid namespace of this core (default from rundir)\n"
	    "  --image-dir DIR      programs domains may be built from (default "
	    "../libexec/bulkhead)\n"
	    "  --device-dir DIR     host files may be assigned to domains only below DIR\n"
	    "                       (repeatable; default /var/lib/bulkhead)\n"
	    "  --uid-base N         host uid of domain 0 (default derived from the instance)\n"
	    "  --max-domains N      (default 4096)\n"
	    "  --dom0 IMAGE         boot a control domain (domid 0) running IMAGE\n"
	    "  --dom0-arg ARG       an argument for it (repeatable)\n"
	    "  --dom0-memory MiB    (default 256)\n"
	    "  --xenstore IMAGE     boot a xenstore stub domain (domid 1) running IMAGE\n"
	    "  --xenstore-arg ARG   an argument for it (repeatable)\n"
	    "  --permissive         log policy denials without denying\n"
	    "  --log-level LEVEL    error, warning, info (default), debug\n"
	    "  --help\n");
}

/* FNV-1a: a stable small number from a string, for names and uids. */
static uint32_t hash32(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void default_image_dir(char *buf, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t r = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (r < 0) {
		bh_strlcpy(buf, "/usr/libexec/bulkhead", cap);
		return;
	}
	exe[r] = '\0';
	snprintf(buf, cap, "%s/../libexec/bulkhead", dirname(exe));
}

static int add_boot_arg(struct boot_spec *b, const char *arg)
{
	if (b->nargs >= BOOT_ARGS_MAX)
		return -E2BIG;
	b->args[b->nargs++] = arg;
	return 0;
}

enum {
	OPT_RUNDIR = 256,
	OPT_INSTANCE,
	OPT_IMAGE_DIR,
	OPT_DEVICE_DIR,
	OPT_UID_BASE,
	OPT_MAX_DOMAINS,
	OPT_DOM0,
	OPT_DOM0_ARG,
	OPT_DOM0_MEM,
	OPT_XS,
	OPT_XS_ARG,
	OPT_PERMISSIVE,
	OPT_LOG_LEVEL,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{ "rundir", required_argument, NULL, OPT_RUNDIR },
	{ "instance", required_argument, NULL, OPT_INSTANCE },
	{ "image-dir", required_argument, NULL, OPT_IMAGE_DIR },
	{ "device-dir", required_argument, NULL, OPT_DEVICE_DIR },
	{ "uid-base", required_argument, NULL, OPT_UID_BASE },
	{ "max-domains", required_argument, NULL, OPT_MAX_DOMAINS },
	{ "dom0", required_argument, NULL, OPT_DOM0 },
	{ "dom0-arg", required_argument, NULL, OPT_DOM0_ARG },
	{ "dom0-memory", required_argument, NULL, OPT_DOM0_MEM },
	{ "xenstore", required_argument, NULL, OPT_XS },
	{ "xenstore-arg", required_argument, NULL, OPT_XS_ARG },
	{ "permissive", no_argument, NULL, OPT_PERMISSIVE },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int parse_number_opt(const char *name, const char *s, long min, long max, long *out)
{
	if (bh_parse_int(s, 10, min, max, out) < 0) {
		fprintf(stderr, "bulkhead-core: --%s: not a number in %ld..%ld: %s\n", name, min,
		        max, s);
		return -EINVAL;
	}
	return 0;
}

static int parse_one(struct main_opts *m, int opt, const char *arg)
{
	struct core_opts *o = &m->core;
	long v;

	switch (opt) {
	case OPT_RUNDIR:
		bh_strlcpy(o->rundir, arg, sizeof(o->rundir));
		return 0;
	case OPT_INSTANCE:
		bh_strlcpy(o->instance, arg, sizeof(o->instance));
		return 0;
	case OPT_IMAGE_DIR:
		bh_strlcpy(o->image_dir, arg, sizeof(o->image_dir));
		return 0;
	case OPT_DEVICE_DIR:
		if (o->nr_device_dirs >= BH_ARRAY_SIZE(o->device_dirs) || arg[0] != '/')
			return -EINVAL;
		o->device_dirs[o->nr_device_dirs++] = arg;
		return 0;
	case OPT_UID_BASE:
		if (parse_number_opt("uid-base", arg, 1, 0x7fff0000, &v) < 0)
			return -EINVAL;
		o->uid_base = (uint32_t)v;
		return 0;
	case OPT_MAX_DOMAINS:
		if (parse_number_opt("max-domains", arg, 1, BH_DOMID_MAX, &v) < 0)
			return -EINVAL;
		o->max_domains = (uint32_t)v;
		return 0;
	case OPT_DOM0:
		m->dom0.image = arg;
		return 0;
	case OPT_DOM0_ARG:
		return add_boot_arg(&m->dom0, arg);
	case OPT_DOM0_MEM:
		if (parse_number_opt("dom0-memory", arg, 16, 1 << 20, &v) < 0)
			return -EINVAL;
		m->dom0.mem_kb = (uint64_t)v * 1024;
		return 0;
	case OPT_XS:
		m->store.image = arg;
		return 0;
	case OPT_XS_ARG:
		return add_boot_arg(&m->store, arg);
	case OPT_PERMISSIVE:
		o->policy_permissive = true;
		return 0;
	case OPT_LOG_LEVEL:
		m->log_level = arg;
		return 0;
	default:
		return -EINVAL;
	}
}

static void set_defaults(struct main_opts *m)
{
	struct core_opts *o = &m->core;
	const char *env = getenv("BULKHEAD_RUNDIR");

	memset(m, 0, sizeof(*m));
	bh_strlcpy(o->rundir, env && *env ? env : "/run/bulkhead", sizeof(o->rundir));
	o->default_max_grants = 16384;
	o->default_max_maptrack = 16384;
	o->default_max_ports = 4096;
	o->max_domains = 4096;
	o->max_taps_per_domain = 256;
	m->dom0.mem_kb = 256 * 1024;
	m->store.mem_kb = 128 * 1024;
}

static void finish_defaults(struct main_opts *m)
{
	struct core_opts *o = &m->core;
	uint32_t h = hash32(o->rundir);

	if (!o->instance[0]) {
		if (strcmp(o->rundir, "/run/bulkhead") == 0)
			bh_strlcpy(o->instance, "bulkhead", sizeof(o->instance));
		else
			snprintf(o->instance, sizeof(o->instance), "bulkhead-%08x", h);
	}
	if (!o->image_dir[0])
		default_image_dir(o->image_dir, sizeof(o->image_dir));
	if (!o->uid_base)
		o->uid_base = 0x40000000u + (hash32(o->instance) % 8192u) * 0x10000u;
	if (!o->nr_device_dirs)
		o->device_dirs[o->nr_device_dirs++] = "/var/lib/bulkhead";
}

static int parse_args(int argc, char **argv, struct main_opts *m)
{
	int opt;

	set_defaults(m);
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (opt == OPT_HELP || opt == 'h') {
			usage(stdout);
			exit(0);
		}
		if (parse_one(m, opt, optarg) < 0) {
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bulkhead-core: unexpected argument: %s\n", argv[optind]);
		return -EINVAL;
	}
	finish_defaults(m);
	return 0;
}

/* ---- the runtime directory ----------------------------------------- */

static int mkdir_mode(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return chmod(path, mode) < 0 ? -errno : 0;
}

/* Domains run as unprivileged host users and reach their directories under
 * the runtime directory by path: every ancestor must be searchable by
 * others. Say so plainly instead of failing every create later. */
static int check_searchable(struct core *c, const char *dir)
{
	char path[256];
	struct stat st;

	bh_strlcpy(path, dir, sizeof(path));
	for (char *slash = path + strlen(path); slash > path;) {
		if (stat(path, &st) == 0 && !(st.st_mode & S_IXOTH)) {
			bh_err(&c->log,
			       "%s (mode %04o) is not searchable by other users, so domains cannot "
			       "reach %s: use a runtime directory every user can traverse",
			       path, (unsigned)(st.st_mode & 07777), dir);
			return -EACCES;
		}
		slash = strrchr(path, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	return 0;
}

static int setup_rundir(struct core *c)
{
	char path[512];
	int rc;

	if ((rc = mkdir_mode(c->opts.rundir, 0755)) < 0)
		return rc;
	if ((rc = check_searchable(c, c->opts.rundir)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/logs", c->opts.rundir);
	if ((rc = mkdir_mode(path, 0750)) < 0)
		return rc;
	snprintf(c->sandbox_root, sizeof(c->sandbox_root), "%s/sandbox-root", c->opts.rundir);
	if ((rc = mkdir_mode(c->sandbox_root, 0755)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/core.pid", c->opts.rundir);
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
	return 0;
}

/* The core holds a descriptor per granted page: let it hold many. */
static void raise_nofile(void)
{
	struct rlimit rl;
	char buf[32];
	long nr_open = 1 << 20;

	if (bh_read_file("/proc/sys/fs/nr_open", buf, sizeof(buf)) > 0)
		nr_open = strtol(buf, NULL, 10);
	rl.rlim_cur = rl.rlim_max = (rlim_t)nr_open;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int core_init(struct core *c, const struct core_opts *o, struct event_base *base)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->base = base;
	c->opts = *o;
	c->admin_fd = -1;
	c->next_domid = 1;
	c->boot_ns = bh_now_ns();
	bh_log_init(&c->log, "core");
	c->log.sink = klog_sink;
	c->log.sink_arg = &c->klog;
	c->home_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (c->home_netns < 0)
		return -errno;
	if ((rc = setup_rundir(c)) < 0) {
		bh_err(&c->log, "runtime directory %s: %s", o->rundir, bh_strerror(rc));
		return rc;
	}
	if ((rc = bh_cgroup_ctl_init(&c->cgctl, o->instance)) < 0) {
		bh_err(&c->log, "cgroups: %s", bh_strerror(rc));
		return rc;
	}
	if ((rc = bh_policy_new(&c->log, o->policy_permissive, &c->policy)) < 0)
		return rc;
	if ((rc = admin_listen(c)) < 0) {
		bh_err(&c->log, "admin socket: %s", bh_strerror(rc));
		return rc;
	}
	bh_info(&c->log, "up: rundir %s, instance %s, cgroup v%d, %u CPUs, uid base %u", o->rundir,
	        o->instance, c->cgctl.version, c->cgctl.nr_cpus, o->uid_base);
	return 0;
}

void core_dispose(struct core *c)
{
	char path[512];

	domain_destroy_all(c);
	domain_cg_pending_flush(c);
	if (c->cgctl.ops && c->cgctl.ops->teardown)
		c->cgctl.ops->teardown(&c->cgctl);
	admin_dispose(c);
	for (size_t i = 0; i < BH_ARRAY_SIZE(c->sig_ev); i++)
		if (c->sig_ev[i])
			event_free(c->sig_ev[i]);
	bh_policy_free(c->policy);
	c->policy = NULL;
	snprintf(path, sizeof(path), "%s/core.sock", c->opts.rundir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/core.pid", c->opts.rundir);
	unlink(path);
	bh_closep(&c->home_netns);
	klog_dispose(&c->klog);
}

/* ---- boot -------------------------------------------------------------- */

static int boot_domain(struct core *c, const struct boot_spec *b, uint16_t domid, const char *name,
                       enum bh_role role, uint32_t flags)
{
	struct bh_hc_create req;
	char blob[BH_HC_MAX_PAYLOAD];
	size_t len = 0;
	struct domain *d;

	memset(&req, 0, sizeof(req));
	req.flags = flags;
	req.role = role;
	req.domid = domid;
	req.store_domid = req.console_domid = BH_DOMID_INVALID;
	req.vcpus = 1;
	req.mem_kb = b->mem_kb;
	bh_strlcpy(req.name, name, sizeof(req.name));
	bh_strlcpy(req.image, b->image, sizeof(req.image));
	for (unsigned i = 0; i <= b->nargs; i++) {
		const char *a = i == 0 ? b->image : b->args[i - 1];
		size_t l = strlen(a) + 1;
		if (len + l > sizeof(blob))
			return -E2BIG;
		memcpy(blob + len, a, l);
		len += l;
	}
	req.argv_len = (uint32_t)len;
	return domain_create(c, &req, blob, b->image[0] == '/', &d);
}

static int boot(struct core *c, const struct main_opts *m)
{
	int rc;

	if (m->store.image && (rc = boot_domain(c, &m->store, 1, "xenstore", BH_ROLE_STORE, 0)) < 0)
		return rc;
	if (m->dom0.image && (rc = boot_domain(c, &m->dom0, 0, "Domain-0", BH_ROLE_CONTROL,
	                                       BH_CREATE_PRIVILEGED)) < 0)
		return rc;
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct core *c = arg;

	(void)what;
	bh_info(&c->log, "signal %d: shutting down", (int)sig);
	event_base_loopexit(c->base, NULL);
}

static int set_log_level(struct core *c, const char *level)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };

	if (!level)
		return 0;
	for (size_t i = 0; i < BH_ARRAY_SIZE(names); i++) {
		if (strcmp(level, names[i]) == 0) {
			c->log.max_level = (enum bh_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int main(int argc, char **argv)
{
	static struct core core; /* large: the domain table */
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct main_opts m;
	struct event_base *base;
	int rc;

	if (parse_args(argc, argv, &m) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	base = event_base_new();
	if (!base)
		return 1;
	rc = core_init(&core, &m.core, base);
	if (rc == 0 && set_log_level(&core, m.log_level) < 0) {
		fprintf(stderr, "bulkhead-core: unknown log level %s\n", m.log_level);
		rc = -EINVAL;
	}
	for (size_t i = 0; rc == 0 && i < BH_ARRAY_SIZE(sigs); i++) {
		core.sig_ev[i] = evsignal_new(base, sigs[i], on_signal, &core);
		if (!core.sig_ev[i] || event_add(core.sig_ev[i], NULL) < 0)
			rc = -ENOMEM;
	}
	if (rc == 0 && (rc = boot(&core, &m)) < 0)
		bh_err(&core.log, "boot: %s", bh_strerror(rc));
	if (rc == 0)
		event_base_dispatch(base);
	core_dispose(&core);
	event_base_free(base);
	return rc == 0 ? 0 : 1;
}
