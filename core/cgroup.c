#include "core/cgroup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "common/util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CPU_PERIOD_US 100000ull

int bh_cgroup_path(char *buf, size_t cap, const char *dir, const char *instance, const char *cg,
                   const char *file)
{
	int n = snprintf(buf, cap, "%s/%s%s%s%s%s", dir, instance, cg ? "/" : "", cg ? cg : "",
	                 file ? "/" : "", file ? file : "");

	return (n < 0 || (size_t)n >= cap) ? -ENAMETOOLONG : 0;
}

int bh_cgroup_ctl_init(struct bh_cgroup_ctl *ctl, const char *instance)
{
	struct statfs sfs;
	long n = sysconf(_SC_NPROCESSORS_CONF);

	memset(ctl, 0, sizeof(*ctl));
	bh_strlcpy(ctl->instance, instance, sizeof(ctl->instance));
	ctl->nr_cpus = n > 0 ? (unsigned)n : 1;
	if (statfs("/sys/fs/cgroup", &sfs) < 0)
		return -errno;
	if (sfs.f_type == CGROUP2_SUPER_MAGIC) {
		ctl->version = 2;
		ctl->ops = &bh_cgroup_v2_ops;
	} else {
		ctl->version = 1;
		ctl->ops = &bh_cgroup_v1_ops;
	}
	return ctl->ops->setup(ctl);
}

uint64_t bh_cpu_quota_us(uint32_t vcpus, uint32_t cap, unsigned nr_cpus)
{
	uint64_t pct = (uint64_t)(vcpus ? vcpus : 1) * 100;

	if (cap && cap < pct)
		pct = cap;
	if (!cap && vcpus >= nr_cpus)
		return 0; /* as many vCPUs as the host has: no quota */
	return pct * CPU_PERIOD_US / 100;
}

int bh_cpumap_format(const uint64_t *map, unsigned words, unsigned nr_cpus, char *buf, size_t cap)
{
	size_t len = 0;
	unsigned limit = BH_MIN(words * 64, nr_cpus);
	bool any = false, all_zero = true;

	buf[0] = '\0';
	for (unsigned w = 0; w < words; w++)
		all_zero &= map[w] == 0;
	if (all_zero)
		return 0;
	for (unsigned i = 0; i < limit;) {
		if (!(map[i / 64] >> (i % 64) & 1)) {
			i++;
			continue;
		}
		unsigned j = i;
		while (j + 1 < limit && (map[(j + 1) / 64] >> ((j + 1) % 64) & 1))
			j++;
		int n = i == j ? snprintf(buf + len, cap - len, "%s%u", any ? "," : "", i)
		               : snprintf(buf + len, cap - len, "%s%u-%u", any ? "," : "", i, j);
		if (n < 0 || (size_t)n >= cap - len)
			return -ENAMETOOLONG;
		len += (size_t)n;
		any = true;
		i = j + 1;
	}
	return any ? 0 : -EINVAL;
}

int bh_cgroup_configure(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg,
                        uint64_t mem_bytes, uint32_t vcpus, uint32_t weight, uint32_t cap,
                        const uint64_t *cpumap, unsigned words)
{
	char cpus[512];
	int rc;

	rc = bh_cpumap_format(cpumap, words, ctl->nr_cpus, cpus, sizeof(cpus));
	if (rc < 0)
		return rc;
	if (cpus[0] && (rc = ctl->ops->set_cpuset(ctl, cg, cpus)) < 0)
		return rc;
	if ((rc = ctl->ops->set_memory(ctl, cg, mem_bytes)) < 0)
		return rc;
	if ((rc = ctl->ops->set_cpu(ctl, cg, vcpus, weight, cap)) < 0)
		return rc;
	/* A fork bomb inside a domain stops at its own limit. */
	return ctl->ops->set_pids(ctl, cg, 4096);
}
