/* cgroup v1: one hierarchy per controller (or a few co-mounted), found in
 * /proc/self/mounts. This machine's kind of host. */
#include <errno.h>
#include <inttypes.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "core/cgroup.h"

static const char *const ctrl_names[BH_CG_NCTRL] = {
	[BH_CG_MEMORY] = "memory", [BH_CG_CPU] = "cpu",   [BH_CG_CPUACCT] = "cpuacct",
	[BH_CG_CPUSET] = "cpuset", [BH_CG_PIDS] = "pids", [BH_CG_FREEZER] = "freezer",
};

static bool has_option(const char *opts, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = opts; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

static int find_mounts(struct bh_cgroup_ctl *ctl)
{
	FILE *f = setmntent("/proc/self/mounts", "re");
	struct mntent *m;

	if (!f)
		return -errno;
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, "cgroup") != 0)
			continue;
		for (int i = 0; i < BH_CG_NCTRL; i++)
			if (!ctl->v1_dir[i][0] && has_option(m->mnt_opts, ctrl_names[i]))
				bh_strlcpy(ctl->v1_dir[i], m->mnt_dir, sizeof(ctl->v1_dir[i]));
	}
	endmntent(f);
	return ctl->v1_dir[BH_CG_MEMORY][0] ? 0 : -ENOTSUP;
}

/* Is this controller's hierarchy the same directory as an earlier one's
 * (co-mounted, like "cpu,cpuacct")? Then it was handled already. */
static bool seen_before(const struct bh_cgroup_ctl *ctl, int i)
{
	for (int j = 0; j < i; j++)
		if (strcmp(ctl->v1_dir[j], ctl->v1_dir[i]) == 0)
			return true;
	return false;
}

static int knob(const struct bh_cgroup_ctl *ctl, enum bh_cg_ctrl c, const char *cg,
                const char *file, char *buf, size_t cap)
{
	if (!ctl->v1_dir[c][0])
		return -ENOTSUP;
	return bh_cgroup_path(buf, cap, ctl->v1_dir[c], ctl->instance, cg, file);
}

static int copy_cpuset(const struct bh_cgroup_ctl *ctl, const char *from_cg, const char *to_cg)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char src[256], dst[256], val[512];
	int rc;

	for (size_t i = 0; i < BH_ARRAY_SIZE(files); i++) {
		if (from_cg)
			rc = knob(ctl, BH_CG_CPUSET, from_cg, files[i], src, sizeof(src));
		else
			rc = snprintf(src, sizeof(src), "%s/%s", ctl->v1_dir[BH_CG_CPUSET],
			              files[i]) < 0
			         ? -EINVAL
			         : 0;
		if (rc < 0 || (rc = knob(ctl, BH_CG_CPUSET, to_cg, files[i], dst, sizeof(dst))) < 0)
			return rc;
		if (bh_read_file(src, val, sizeof(val)) < 0)
			return -errno;
		val[strcspn(val, "\n")] = '\0';
		if ((rc = bh_write_file(dst, val[0] ? val : "0")) < 0)
			return rc;
	}
	return 0;
}

static int v1_mkdir_all(const struct bh_cgroup_ctl *ctl, const char *cg)
{
	char path[256];
	int rc;

	for (int i = 0; i < BH_CG_NCTRL; i++) {
		if (!ctl->v1_dir[i][0] || seen_before(ctl, i))
			continue;
		if ((rc = knob(ctl, i, cg, NULL, path, sizeof(path))) < 0)
			return rc;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

static int v1_setup(struct bh_cgroup_ctl *ctl)
{
	int rc;

	if ((rc = find_mounts(ctl)) < 0)
		return rc;
	if ((rc = v1_mkdir_all(ctl, NULL)) < 0)
		return rc;
	if (ctl->v1_dir[BH_CG_CPUSET][0])
		return copy_cpuset(ctl, NULL, NULL);
	return 0;
}

static int v1_create(const struct bh_cgroup_ctl *ctl, struct bh_cgroup *cg)
{
	int rc = v1_mkdir_all(ctl, cg->name);

	if (rc < 0)
		return rc;
	cg->created = true;
	if (ctl->v1_dir[BH_CG_CPUSET][0])
		return copy_cpuset(ctl, "", cg->name);
	return 0;
}

static int v1_attach(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg, pid_t pid)
{
	char path[256];
	int rc;

	for (int i = 0; i < BH_CG_NCTRL; i++) {
		if (!ctl->v1_dir[i][0] || seen_before(ctl, i))
			continue;
		if ((rc = knob(ctl, i, cg->name, "cgroup.procs", path, sizeof(path))) < 0)
			return rc;
		if ((rc = bh_write_filef(path, "%d", (int)pid)) < 0)
			return rc;
	}
	return 0;
}

static int v1_write(const struct bh_cgroup_ctl *ctl, enum bh_cg_ctrl c, const struct bh_cgroup *cg,
                    const char *file, const char *val)
{
	char path[256];
	int rc = knob(ctl, c, cg->name, file, path, sizeof(path));

	return rc < 0 ? rc : bh_write_file(path, val);
}

static int v1_set_memory(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg,
                         uint64_t bytes)
{
	char val[32];
	int rc;

	snprintf(val, sizeof(val), "%" PRIu64, bytes);
	/* memsw must stay >= the limit: try it on both sides of the change. */
	v1_write(ctl, BH_CG_MEMORY, cg, "memory.memsw.limit_in_bytes", val);
	rc = v1_write(ctl, BH_CG_MEMORY, cg, "memory.limit_in_bytes", val);
	v1_write(ctl, BH_CG_MEMORY, cg, "memory.memsw.limit_in_bytes", val);
	return rc;
}

static int v1_set_cpu(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg, uint32_t vcpus,
                      uint32_t weight, uint32_t cap)
{
	uint64_t quota = bh_cpu_quota_us(vcpus, cap, ctl->nr_cpus);
	char val[32];
	int rc;

	if ((rc = v1_write(ctl, BH_CG_CPU, cg, "cpu.cfs_period_us", "100000")) < 0)
		return rc;
	if (quota)
		snprintf(val, sizeof(val), "%" PRIu64, quota);
	else
		snprintf(val, sizeof(val), "-1");
	if ((rc = v1_write(ctl, BH_CG_CPU, cg, "cpu.cfs_quota_us", val)) < 0)
		return rc;
	/* Xen's default weight 256 is the kernel's default 1024 shares. */
	snprintf(val, sizeof(val), "%u", BH_MAX(weight, 1u) * 4);
	return v1_write(ctl, BH_CG_CPU, cg, "cpu.shares", val);
}

static int v1_set_cpuset(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg,
                         const char *cpus)
{
	return v1_write(ctl, BH_CG_CPUSET, cg, "cpuset.cpus", cpus);
}

static int v1_set_pids(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg, uint32_t max)
{
	char val[16];

	snprintf(val, sizeof(val), "%u", max);
	return v1_write(ctl, BH_CG_PIDS, cg, "pids.max", val);
}

static int v1_freeze(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg, bool on)
{
	return v1_write(ctl, BH_CG_FREEZER, cg, "freezer.state", on ? "FROZEN" : "THAWED");
}

static uint64_t read_u64_knob(const struct bh_cgroup_ctl *ctl, enum bh_cg_ctrl c,
                              const struct bh_cgroup *cg, const char *file, const char *key)
{
	char path[256], buf[1024];
	const char *p = buf;

	if (knob(ctl, c, cg->name, file, path, sizeof(path)) < 0 ||
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

static int v1_stats(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg,
                    struct bh_cgroup_stats *out)
{
	out->mem_used = read_u64_knob(ctl, BH_CG_MEMORY, cg, "memory.usage_in_bytes", NULL);
	out->cpu_ns = read_u64_knob(ctl, BH_CG_CPUACCT, cg, "cpuacct.usage", NULL);
	out->oom_kills = read_u64_knob(ctl, BH_CG_MEMORY, cg, "memory.oom_control", "oom_kill ");
	return 0;
}

static int v1_remove(const struct bh_cgroup_ctl *ctl, struct bh_cgroup *cg)
{
	char path[256];
	int rc = 0;

	if (!cg->created)
		return 0;
	for (int i = 0; i < BH_CG_NCTRL; i++) {
		if (!ctl->v1_dir[i][0] || seen_before(ctl, i))
			continue;
		if (knob(ctl, i, cg->name, NULL, path, sizeof(path)) < 0)
			continue;
		if (rmdir(path) < 0 && errno != ENOENT)
			rc = -errno;
	}
	if (rc == 0)
		cg->created = false;
	return rc;
}

static void v1_teardown(const struct bh_cgroup_ctl *ctl)
{
	char path[256];

	for (int i = 0; i < BH_CG_NCTRL; i++)
		if (ctl->v1_dir[i][0] && !seen_before(ctl, i) &&
		    knob(ctl, i, NULL, NULL, path, sizeof(path)) == 0)
			rmdir(path);
}

const struct bh_cgroup_ops bh_cgroup_v1_ops = {
	.setup = v1_setup,
	.create = v1_create,
	.attach = v1_attach,
	.set_memory = v1_set_memory,
	.set_cpu = v1_set_cpu,
	.set_cpuset = v1_set_cpuset,
	.set_pids = v1_set_pids,
	.freeze = v1_freeze,
	.stats = v1_stats,
	.remove = v1_remove,
	.teardown = v1_teardown,
};
