/* bulkhead-ctl: drive the core by hand over its admin socket, before (or
 * without) a control domain. The toolstack's `bh` is what users run; this
 * is for bring-up, tests and the curious. A command table and one
 * function per verb. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "ioctl/bhctl.h"

struct cmd {
	const char *name;
	int (*fn)(struct bh_hc_client *cl, int argc, char **argv);
	const char *usage;
};

static int resolve_domain(struct bh_hc_client *cl, const char *s, uint16_t *out)
{
	struct bh_dominfo *all;
	size_t n;
	long v;
	int rc;

	if (bh_parse_int(s, 10, 0, BH_DOMID_MAX, &v) == 0) {
		*out = (uint16_t)v;
		return 0;
	}
	if ((rc = bhctl_domain_list(cl, &all, &n)) < 0)
		return rc;
	rc = -ESRCH;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(all[i].name, s) == 0) {
			*out = all[i].domid;
			rc = 0;
		}
	}
	free(all);
	return rc;
}

static const struct {
	const char *name;
	enum bh_role role;
} roles[] = { { "control", BH_ROLE_CONTROL },
	      { "store", BH_ROLE_STORE },
	      { "driver", BH_ROLE_DRIVER },
	      { "guest", BH_ROLE_GUEST } };

static int parse_role(const char *s, uint32_t *out)
{
	for (size_t i = 0; i < BH_ARRAY_SIZE(roles); i++) {
		if (strcmp(s, roles[i].name) == 0) {
			*out = roles[i].role;
			return 0;
		}
	}
	return -EINVAL;
}

static int create_opts(struct bh_hc_create *req, int argc, char **argv)
{
	static const struct option o[] = { { "name", 1, 0, 'n' },   { "role", 1, 0, 'r' },
		                           { "memory", 1, 0, 'm' }, { "vcpus", 1, 0, 'c' },
		                           { "paused", 0, 0, 'p' }, { "label", 1, 0, 'l' },
		                           { "image", 1, 0, 'i' },  { "domid", 1, 0, 'd' },
		                           { 0, 0, 0, 0 } };
	long v;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+n:r:m:c:pl:i:d:", o, NULL)) != -1) {
		switch (opt) {
		case 'n':
			bh_strlcpy(req->name, optarg, sizeof(req->name));
			break;
		case 'r':
			if (parse_role(optarg, &req->role) < 0)
				return -EINVAL;
			break;
		case 'm':
			if (bh_parse_int(optarg, 10, 1, 1 << 20, &v) < 0)
				return -EINVAL;
			req->mem_kb = (uint64_t)v * 1024;
			break;
		case 'c':
			if (bh_parse_int(optarg, 10, 1, 128, &v) < 0)
				return -EINVAL;
			req->vcpus = (uint32_t)v;
			break;
		case 'p':
			req->flags |= BH_CREATE_PAUSED;
			break;
		case 'l':
			bh_strlcpy(req->label, optarg, sizeof(req->label));
			break;
		case 'i':
			bh_strlcpy(req->image, optarg, sizeof(req->image));
			break;
		case 'd':
			if (bh_parse_int(optarg, 10, 0, BH_DOMID_MAX, &v) < 0)
				return -EINVAL;
			req->domid = (uint16_t)v;
			break;
		default:
			return -EINVAL;
		}
	}
	return optind;
}

static int cmd_create(struct bh_hc_client *cl, int argc, char **argv)
{
	struct bh_hc_create req = { .role = BH_ROLE_GUEST,
		                    .domid = BH_DOMID_ANY,
		                    .vcpus = 1,
		                    .mem_kb = 64 * 1024,
		                    .store_domid = BH_DOMID_INVALID,
		                    .console_domid = BH_DOMID_INVALID };
	struct bh_hc_create_resp out;
	int first = create_opts(&req, argc, argv), rc;

	if (first < 0 || first >= argc || !req.name[0])
		return -EINVAL;
	/* The program is a host path (admin only) unless --image names one of
	 * the core's images. */
	if (!req.image[0]) {
		bh_strlcpy(req.image, argv[first], sizeof(req.image));
		req.flags |= BH_CREATE_HOST_IMAGE;
	}
	rc = bhctl_domain_create(cl, &req, (const char *const *)argv + first, &out);
	if (rc == 0)
		printf("%u\n", out.domid);
	return rc;
}

static void print_info(const struct bh_dominfo *d)
{
	char state[32];

	if (d->state == BH_DOMSTATE_SHUTDOWN)
		snprintf(state, sizeof(state), "shutdown(%s%s%s)",
		         bhctl_reason_name(d->shutdown_reason), d->crash_detail ? ":" : "",
		         bhctl_crash_name(d->crash_detail));
	else
		snprintf(state, sizeof(state), "%s", bhctl_state_name(d->state));
	printf("%-20s %5u %8llu %5u %-8s %4u %8d  %s\n", d->name, d->domid,
	       (unsigned long long)(d->mem_kb / 1024), d->vcpus, bhctl_role_name(d->role),
	       d->generation, d->pid, state);
}

static int cmd_list(struct bh_hc_client *cl, int argc, char **argv)
{
	struct bh_dominfo *all;
	size_t n;
	int rc = bhctl_domain_list(cl, &all, &n);

	(void)argc;
	(void)argv;
	if (rc < 0)
		return rc;
	printf("%-20s %5s %8s %5s %-8s %4s %8s  %s\n", "Name", "ID", "Mem", "VCPUs", "Role", "Gen",
	       "Pid", "State");
	for (size_t i = 0; i < n; i++)
		print_info(&all[i]);
	free(all);
	return 0;
}

static int one_domain(struct bh_hc_client *cl, int argc, char **argv, uint16_t *out)
{
	if (argc < 2)
		return -EINVAL;
	return resolve_domain(cl, argv[1], out);
}

#define SIMPLE_VERB(fn, call)                                                                      \
	static int fn(struct bh_hc_client *cl, int argc, char **argv)                              \
	{                                                                                          \
		uint16_t domid;                                                                    \
		int rc = one_domain(cl, argc, argv, &domid);                                       \
		return rc < 0 ? rc : call(cl, domid);                                              \
	}
SIMPLE_VERB(cmd_destroy, bhctl_domain_destroy)
SIMPLE_VERB(cmd_pause, bhctl_domain_pause)
SIMPLE_VERB(cmd_unpause, bhctl_domain_unpause)

static int cmd_shutdown(struct bh_hc_client *cl, int argc, char **argv)
{
	static const char *const reasons[] = { "poweroff", "reboot", "suspend", "crash",
		                               "watchdog" };
	uint16_t domid;
	uint32_t reason = BH_SHUTDOWN_POWEROFF;
	int rc = one_domain(cl, argc, argv, &domid);

	if (rc < 0)
		return rc;
	if (argc > 2) {
		reason = UINT32_MAX;
		for (uint32_t i = 0; i < BH_ARRAY_SIZE(reasons); i++)
			if (strcmp(argv[2], reasons[i]) == 0)
				reason = i;
		if (reason == UINT32_MAX)
			return -EINVAL;
	}
	return bhctl_domain_shutdown(cl, domid, reason);
}

static int cmd_restart(struct bh_hc_client *cl, int argc, char **argv)
{
	struct bh_hc_create_resp out;
	uint16_t domid;
	int rc = one_domain(cl, argc, argv, &domid);

	return rc < 0 ? rc : bhctl_domain_restart(cl, domid, &out);
}

/* Wait until a domain has ended (or is gone); print how it ended. */
static int cmd_wait(struct bh_hc_client *cl, int argc, char **argv)
{
	struct bh_dominfo d;
	uint16_t domid;
	long timeout = 60;
	int rc = one_domain(cl, argc, argv, &domid);

	if (rc < 0)
		return rc;
	if (argc > 2 && bh_parse_int(argv[2], 10, 0, 86400, &timeout) < 0)
		return -EINVAL;
	uint64_t deadline = bh_now_ns() + (uint64_t)timeout * 1000000000ull;
	while ((rc = bhctl_domain_getinfo(cl, domid, &d)) == 0 && d.state != BH_DOMSTATE_SHUTDOWN) {
		if (bh_now_ns() > deadline)
			return -ETIMEDOUT;
		usleep(20000);
	}
	if (rc == 0)
		printf("%s %s %d %d\n", bhctl_reason_name(d.shutdown_reason),
		       d.crash_detail ? bhctl_crash_name(d.crash_detail) : "-", d.exit_status,
		       d.exit_signal);
	return rc;
}

static int cmd_info(struct bh_hc_client *cl, int argc, char **argv)
{
	struct bh_hc_sysinfo si;
	int rc = bhctl_sysinfo(cl, &si);

	(void)argc;
	(void)argv;
	if (rc < 0)
		return rc;
	printf("version          : %s\nnr_cpus          : %u\ntotal_memory     : %llu\n"
	       "free_memory      : %llu\nnr_domains       : %u\ncgroup_version   : %u\n"
	       "uptime           : %llu\nrundir           : %s\n",
	       si.version, si.nr_cpus, (unsigned long long)si.total_mem_kb / 1024,
	       (unsigned long long)si.free_mem_kb / 1024, si.nr_domains, si.cgroup_version,
	       (unsigned long long)si.uptime_s, si.rundir);
	return 0;
}

static int cmd_dmesg(struct bh_hc_client *cl, int argc, char **argv)
{
	char buf[BH_HC_MAX_PAYLOAD];
	uint64_t seq = 0;
	size_t len;
	int rc;

	(void)argc;
	(void)argv;
	do {
		if ((rc = bhctl_readconsole(cl, &seq, buf, sizeof(buf), &len)) < 0)
			return rc;
		fwrite(buf, 1, len, stdout);
	} while (len > 0);
	return 0;
}

static int cmd_assign(struct bh_hc_client *cl, int argc, char **argv)
{
	uint16_t domid;
	uint32_t flags = 0;
	int rc = one_domain(cl, argc, argv, &domid);

	if (rc < 0 || argc < 4)
		return rc < 0 ? rc : -EINVAL;
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "ro") == 0)
			flags |= BH_DEV_RDONLY;
		else if (strcmp(argv[i], "create") == 0)
			flags |= BH_DEV_CREATE;
		else if (strcmp(argv[i], "direct") == 0)
			flags |= BH_DEV_DIRECT;
		else
			return -EINVAL;
	}
	return bhctl_device_assign(cl, domid, argv[2], argv[3], flags);
}

static const struct cmd cmds[] = {
	{ "create", cmd_create,
	  "create --name NAME [--role guest|driver|control|store] [--memory MiB] [--vcpus N]\n"
	  "         [--paused] [--label LABEL] [--domid N] [--image IMAGE] [--] PROGRAM [ARG...]" },
	{ "list", cmd_list, "list" },
	{ "destroy", cmd_destroy, "destroy DOMAIN" },
	{ "pause", cmd_pause, "pause DOMAIN" },
	{ "unpause", cmd_unpause, "unpause DOMAIN" },
	{ "shutdown", cmd_shutdown, "shutdown DOMAIN [poweroff|reboot|crash|watchdog]" },
	{ "restart", cmd_restart, "restart DOMAIN" },
	{ "wait", cmd_wait, "wait DOMAIN [TIMEOUT-SECONDS]" },
	{ "info", cmd_info, "info" },
	{ "dmesg", cmd_dmesg, "dmesg" },
	{ "assign", cmd_assign, "assign DOMAIN TOKEN PATH [ro] [create] [direct]" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: bulkhead-ctl [--rundir DIR] COMMAND ...\n");
	for (size_t i = 0; i < BH_ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %s\n", cmds[i].usage);
}

int main(int argc, char **argv)
{
	struct bh_hc_client cl;
	const char *rundir = NULL;
	int rc;

	if (argc > 2 && strcmp(argv[1], "--rundir") == 0) {
		rundir = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < BH_ARRAY_SIZE(cmds); i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		if ((rc = bh_hc_open_admin(&cl, rundir)) < 0) {
			fprintf(stderr, "bulkhead-ctl: cannot reach the core: %s\n",
			        bh_strerror(rc));
			return 1;
		}
		rc = cmds[i].fn(&cl, argc - 1, argv + 1);
		bh_hc_close(&cl);
		if (rc == -EINVAL)
			fprintf(stderr, "usage: bulkhead-ctl %s\n", cmds[i].usage);
		else if (rc < 0)
			fprintf(stderr, "bulkhead-ctl: %s: %s\n", argv[1], bh_strerror(rc));
		return rc < 0 ? 1 : 0;
	}
	fprintf(stderr, "bulkhead-ctl: unknown command %s\n", argv[1]);
	usage(stderr);
	return 2;
}
