/* The cgroup back-ends against fake hierarchies (the knobs they write and
 * the values), and the CPU quota and cpumap rules. This host runs cgroup
 * v1 for real in the integration tests; v2 is exercised here. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "common/util.h"
#include "bulkhead/hypercall.h"
#include "core/cgroup.h"

static char *root;

static int rm_one(const char *p, const struct stat *s, int f, struct FTW *w)
{
	(void)s, (void)f, (void)w;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	root = bh_test_tmpdir("cgroup");
	return root ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(root);
	return 0;
}

/* The kernel makes a cgroup's knob files; a fake tree needs them made. */
static void make_knobs(const char *dir, const char *const *files)
{
	char path[512];

	for (size_t i = 0; files[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		close(open(path, O_WRONLY | O_CREAT, 0644));
	}
}

static void expect_knob(const char *dir, const char *file, const char *want)
{
	char path[512], buf[128];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	assert_true(bh_read_file(path, buf, sizeof(buf)) >= 0);
	assert_string_equal(buf, want);
}

static void test_v2_knobs(void **state)
{
	static const char *const knobs[] = { "memory.max",    "memory.swap.max", "cpu.max",
		                             "cpu.weight",    "cpuset.cpus",     "pids.max",
		                             "cgroup.freeze", "cgroup.procs",    NULL };
	struct bh_cgroup_ctl ctl = { .version = 2, .ops = &bh_cgroup_v2_ops, .nr_cpus = 4 };
	struct bh_cgroup cg = { .name = "dom7.1" };
	uint64_t map[BH_CPUMAP_WORDS] = { 0x5 };
	char dir[512];

	(void)state;
	snprintf(ctl.v2_root, sizeof(ctl.v2_root), "%s", root);
	snprintf(ctl.instance, sizeof(ctl.instance), "bh-test");
	snprintf(dir, sizeof(dir), "%s/bh-test", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(ctl.ops->create(&ctl, &cg), 0);
	snprintf(dir, sizeof(dir), "%s/bh-test/dom7.1", root);
	make_knobs(dir, knobs);
	assert_int_equal(bh_cgroup_configure(&ctl, &cg, 64ull << 20, 2, 512, 0, map, 4), 0);
	expect_knob(dir, "memory.max", "67108864");
	expect_knob(dir, "cpu.max", "200000 100000");
	expect_knob(dir, "cpu.weight", "200");
	expect_knob(dir, "cpuset.cpus", "0,2");
	expect_knob(dir, "pids.max", "4096");
	assert_int_equal(ctl.ops->freeze(&ctl, &cg, true), 0);
	expect_knob(dir, "cgroup.freeze", "1");
	assert_int_equal(ctl.ops->attach(&ctl, &cg, 1234), 0);
	expect_knob(dir, "cgroup.procs", "1234");
	/* all host CPUs and no cap: no quota */
	assert_int_equal(ctl.ops->set_cpu(&ctl, &cg, 4, 256, 0), 0);
	expect_knob(dir, "cpu.max", "max 100000");
	assert_int_equal(ctl.ops->set_cpu(&ctl, &cg, 4, 256, 150), 0);
	expect_knob(dir, "cpu.max", "150000 100000");
	expect_knob(dir, "cpu.weight", "100");
}

static void test_v1_knobs(void **state)
{
	static const char *const mem[] = { "memory.limit_in_bytes", "cgroup.procs", NULL };
	static const char *const cpu[] = { "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares",
		                           "cgroup.procs", NULL };
	static const char *const pids[] = { "pids.max", "cgroup.procs", NULL };
	struct bh_cgroup_ctl ctl = { .version = 1, .ops = &bh_cgroup_v1_ops, .nr_cpus = 2 };
	struct bh_cgroup cg = { .name = "dom3.9" };
	uint64_t none[BH_CPUMAP_WORDS] = { 0 };
	char dir[512];

	(void)state;
	snprintf(ctl.instance, sizeof(ctl.instance), "bh-test");
	const char *ctrls[] = { "memory", "cpu", "pids" };
	enum bh_cg_ctrl ids[] = { BH_CG_MEMORY, BH_CG_CPU, BH_CG_PIDS };
	for (int i = 0; i < 3; i++) {
		snprintf(ctl.v1_dir[ids[i]], sizeof(ctl.v1_dir[0]), "%s/%s", root, ctrls[i]);
		mkdir(ctl.v1_dir[ids[i]], 0755);
		snprintf(dir, sizeof(dir), "%s/bh-test", ctl.v1_dir[ids[i]]);
		mkdir(dir, 0755);
	}
	assert_int_equal(ctl.ops->create(&ctl, &cg), 0);
	snprintf(dir, sizeof(dir), "%s/memory/bh-test/dom3.9", root);
	make_knobs(dir, mem);
	snprintf(dir, sizeof(dir), "%s/cpu/bh-test/dom3.9", root);
	make_knobs(dir, cpu);
	snprintf(dir, sizeof(dir), "%s/pids/bh-test/dom3.9", root);
	make_knobs(dir, pids);
	assert_int_equal(bh_cgroup_configure(&ctl, &cg, 32ull << 20, 1, 256, 50, none, 4), 0);
	snprintf(dir, sizeof(dir), "%s/memory/bh-test/dom3.9", root);
	expect_knob(dir, "memory.limit_in_bytes", "33554432");
	snprintf(dir, sizeof(dir), "%s/cpu/bh-test/dom3.9", root);
	expect_knob(dir, "cpu.cfs_quota_us", "50000");
	expect_knob(dir, "cpu.shares", "1024");
	assert_int_equal(ctl.ops->attach(&ctl, &cg, 99), 0);
	expect_knob(dir, "cgroup.procs", "99");
}

static void test_quota_rules(void **state)
{
	(void)state;
	assert_int_equal(bh_cpu_quota_us(1, 0, 2), 100000);
	assert_int_equal(bh_cpu_quota_us(2, 0, 2), 0); /* all CPUs: unlimited */
	assert_int_equal(bh_cpu_quota_us(2, 50, 2), 50000);
	assert_int_equal(bh_cpu_quota_us(1, 300, 8), 100000); /* cap above vcpus */
	assert_int_equal(bh_cpu_quota_us(4, 250, 8), 250000);
}

static void test_cpumap_format(void **state)
{
	uint64_t m[BH_CPUMAP_WORDS] = { 0 };
	char buf[128];

	(void)state;
	assert_int_equal(bh_cpumap_format(m, 4, 8, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	m[0] = 0xF | (1ull << 5) | (1ull << 7);
	assert_int_equal(bh_cpumap_format(m, 4, 8, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0-3,5,7");
	m[0] = 1ull << 40; /* only CPUs the host does not have */
	assert_int_equal(bh_cpumap_format(m, 4, 8, buf, sizeof(buf)), -EINVAL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
static const struct CMUnitTest tests[] = {
	T(test_v2_knobs),
	T(test_v1_knobs),
	T(test_quota_rules),
	T(test_cpumap_format),
};

BH_TEST_MAIN(tests)
