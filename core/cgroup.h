/* Resource limits for domains, behind one small interface with a cgroup v1
 * and a cgroup v2 implementation (cgroup_v1.c, cgroup_v2.c).
 *
 * Every domain gets one cgroup named "<instance>/dom<domid>" (per controller
 * hierarchy on v1): memory limit = the domain's memory, no swap; CPU quota =
 * min(vcpus, cap) CPUs, weight from the credit scheduler's weight; cpuset
 * from the pinning; a pids limit; freezing for pause. */
#ifndef BH_CGROUP_H
#define BH_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum bh_cg_ctrl {
	BH_CG_MEMORY,
	BH_CG_CPU,
	BH_CG_CPUACCT,
	BH_CG_CPUSET,
	BH_CG_PIDS,
	BH_CG_FREEZER,
	BH_CG_NCTRL
};

struct bh_cgroup_ctl {
	int version; /* 1 or 2 */
	char instance[64];
	char v1_dir[BH_CG_NCTRL][160]; /* mount point per controller ("" if absent) */
	char v2_root[160];             /* the unified mount */
	const struct bh_cgroup_ops *ops;
	unsigned nr_cpus;
};

struct bh_cgroup {
	char name[32]; /* "dom<id>" */
	bool created;
};

struct bh_cgroup_stats {
	uint64_t mem_used; /* bytes */
	uint64_t cpu_ns;
	uint64_t oom_kills; /* OOM kills inside the group so far */
};

struct bh_cgroup_ops {
	int (*setup)(struct bh_cgroup_ctl *ctl);
	int (*create)(const struct bh_cgroup_ctl *ctl, struct bh_cgroup *cg);
	int (*attach)(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg, pid_t pid);
	int (*set_memory)(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg,
	                  uint64_t bytes);
	int (*set_cpu)(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg, uint32_t vcpus,
	               uint32_t weight, uint32_t cap);
	int (*set_cpuset)(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg,
	                  const char *cpus);
	int (*set_pids)(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg, uint32_t max);
	int (*freeze)(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg, bool on);
	int (*stats)(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg,
	             struct bh_cgroup_stats *out);
	int (*remove)(const struct bh_cgroup_ctl *ctl, struct bh_cgroup *cg);
	/* Remove "<instance>" itself (when no domain is left). */
	void (*teardown)(const struct bh_cgroup_ctl *ctl);
};

extern const struct bh_cgroup_ops bh_cgroup_v1_ops;
extern const struct bh_cgroup_ops bh_cgroup_v2_ops;

/* Detect the host's cgroup version and prepare "<instance>". */
int bh_cgroup_ctl_init(struct bh_cgroup_ctl *ctl, const char *instance);

/* Apply every limit of a new domain. */
int bh_cgroup_configure(const struct bh_cgroup_ctl *ctl, const struct bh_cgroup *cg,
                        uint64_t mem_bytes, uint32_t vcpus, uint32_t weight, uint32_t cap,
                        const uint64_t *cpumap, unsigned words);

/* "0-3,5" from a bitmap limited to the host's CPUs; "" for an empty map
 * means all CPUs. Returns -EINVAL if the map names no existing CPU. */
int bh_cpumap_format(const uint64_t *map, unsigned words, unsigned nr_cpus, char *buf, size_t cap);

/* CPU quota in microseconds per 100ms period for vcpus and a cap (percent
 * of one CPU, 0 = none); 0 means unlimited. */
uint64_t bh_cpu_quota_us(uint32_t vcpus, uint32_t cap, unsigned nr_cpus);

/* Path of a knob: "<dir>/<instance>/<cg>/<file>" into buf. */
int bh_cgroup_path(char *buf, size_t cap, const char *dir, const char *instance, const char *cg,
                   const char *file);

#endif
