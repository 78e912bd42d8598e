/* cgroup v2: one unified hierarchy, what most users' hosts have. Domains
 * live in <root>/<instance>/dom<id>; the controllers are enabled in the
 * subtree_control of the root and of <instance>. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "core/cgroup.h"

static int v2_knob(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg, const char *file,
                   char *buf, size_t cap)
{
	return bh_cgroup_path(buf, cap, ctl->v2_root, ctl->instance, cg ? cg->name : NULL, file);
}

static int v2_write(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg, const char *file,
                    const char *val)
{
	char path[256];
	int rc = v2_knob(ctl, cg, file, path, sizeof(path));

	return rc < 0 ? rc : bh_write_file(path, val);
}

/* Enable each controller on its own: a host without one (no cpuset, say)
 * still gets the others. Memory is the one we cannot do without. */
static int enable_controllers(const char *subtree_control)
{
	static const char *const ctrls[] = { "+memory", "+cpu", "+cpuset", "+pids" };
	int rc_mem = 0;

	for (size_t i = 0; i < BH_ARRAY_SIZE(ctrls); i++) {
		int rc = bh_write_file(subtree_control, ctrls[i]);
		if (i == 0)
			rc_mem = rc;
	}
	return rc_mem;
}

static int v2_setup(struct bh_cgroup_ctl *ctl)
{
	char path[256];
	int rc;

	bh_strlcpy(ctl->v2_root, "/sys/fs/cgroup", sizeof(ctl->v2_root));
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", ctl->v2_root);
	if ((rc = enable_controllers(path)) < 0)
		return rc;
	if ((rc = v2_knob(ctl, NULL, NULL, path, sizeof(path))) < 0)
		return rc;
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	if ((rc = v2_knob(ctl, NULL, "cgroup.subtree_control", path, sizeof(path))) < 0)
		return rc;
	return enable_controllers(path);
}

static int v2_create(const struct bh_cgroup_ctl *ctl, struct bh_cgroup *cg)
{
	char path[256];
	int rc = v2_knob(ctl, cg, NULL, path, sizeof(path));

	if (rc < 0)
		return rc;
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	cg->created = true;
	/* No swap: the memory limit is the domain's memory. */
	v2_write(ctl, cg, "memory.swap.max", "0");
	return 0;
}

static int v2_attach(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg, pid_t pid)
{
	char val[16];

	snprintf(val, sizeof(val), "%d", (int)pid);
	return v2_write(ctl, cg, "cgroup.procs", val);
}

static int v2_set_memory(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg,
                         uint64_t bytes)
{
	char val[32];

	snprintf(val, sizeof(val), "%" PRIu64, bytes);
	return v2_write(ctl, cg, "memory.max", val);
}

static int v2_set_cpu(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg, uint32_t vcpus,
                      uint32_t weight, uint32_t cap)
{
	uint64_t quota = bh_cpu_quota_us(vcpus, cap, ctl->nr_cpus);
	uint32_t w = BH_MIN(BH_MAX(weight * 100 / 256, 1u), 10000u);
	char val[48];
	int rc;

	if (quota)
		snprintf(val, sizeof(val), "%" PRIu64 " 100000", quota);
	else
		snprintf(val, sizeof(val), "max 100000");
	if ((rc = v2_write(ctl, cg, "cpu.max", val)) < 0)
		return rc;
	snprintf(val, sizeof(val), "%u", w);
	return v2_write(ctl, cg, "cpu.weight", val);
}

static int v2_set_cpuset(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg,
                         const char *cpus)
{
	return v2_write(ctl, cg, "cpuset.cpus", cpus);
}

static int v2_set_pids(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg, uint32_t max)
{
	char val[16];

	snprintf(val, sizeof(val), "%u", max);
	return v2_write(ctl, cg, "pids.max", val);
}

static int v2_freeze(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg, bool on)
{
	return v2_write(ctl, cg, "cgroup.freeze", on ? "1" : "0");
}

static uint64_t v2_read_key(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg,
                            const char *file, const char *key)
{
	char path[256], buf[2048];
	const char *p = buf;

	if (v2_knob(ctl, cg, file, path, sizeof(path)) < 0 ||
	    bh_read_file(path, buf, sizeof(buf)) < 0)
		return 0;
	if (key) {
		p = strstr(buf, key);
		if (!p)
			return 0;
		p += strlen(key);
	}
	return strtoull(p, NULL, 10);
}

static int v2_stats(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg,
                    struct bh_cgroup_stats *out)
{
	out->mem_used = v2_read_key(ctl, cg, "memory.current", NULL);
	out->cpu_ns = v2_read_key(ctl, cg, "cpu.stat", "usage_usec ") * 1000;
	out->oom_kills = v2_read_key(ctl, cg, "memory.events", "oom_kill ");
	return 0;
}

static int v2_remove(const struct bh_cgroup_ctl *ctl, struct bh_cgroup *cg)
{
	char path[256];
	int rc;

	if (!cg->created)
		return 0;
	if ((rc = v2_knob(ctl, cg, NULL, path, sizeof(path))) < 0)
		return rc;
	if (rmdir(path) < 0 && errno != ENOENT)
		return -errno;
	cg->created = false;
	return 0;
}

static void v2_teardown(const struct bh_cgroup_ctl *ctl)
{
	char path[256];

	if (v2_knob(ctl, NULL, NULL, path, sizeof(path)) == 0)
		rmdir(path);
}

const struct bh_cgroup_ops bh_cgroup_v2_ops = {
	.setup = v2_setup,
	.create = v2_create,
	.attach = v2_attach,
	.set_memory = v2_set_memory,
	.set_cpu = v2_set_cpu,
	.set_cpuset = v2_set_cpuset,
	.set_pids = v2_set_pids,
	.freeze = v2_freeze,
	.stats = v2_stats,
	.remove = v2_remove,
	.teardown = v2_teardown,
};
