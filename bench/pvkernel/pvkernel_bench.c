/* Boot time of a PV guest: create → init runs `true` → poweroff reported,
 * through the PV kernel with the default ramdisk (unpacking ~5.5 MB into a
 * tmpfs, the pivot, init on a pty), against the bare sandbox running the
 * host's /bin/true as the domain's first process. Both under one real
 * core, interleaved, RUNS times each; prints medians and their ratio.
 *
 *   pvkernel_bench [RUNS]     (root; run from the build tree's bin/)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "common/util.h"
#include "tests/harness.h"

static int wait_gone(struct th_host *h, uint16_t domid, uint32_t *reason)
{
	struct bh_dominfo d;

	for (int i = 0; i < 20000; i++) {
		if (bhctl_domain_getinfo(&h->cl, domid, &d) < 0)
			return -1;
		if (d.state == BH_DOMSTATE_SHUTDOWN) {
			*reason = d.shutdown_reason;
			return bhctl_domain_destroy(&h->cl, domid);
		}
		usleep(1000);
	}
	return -ETIMEDOUT;
}

static double run_bare(struct th_host *h)
{
	const char *argv[] = { "/bin/true", NULL };
	uint64_t t0 = bh_now_ns();
	uint32_t reason;

	if (th_create(h, "bare", BH_ROLE_GUEST, 128, 0, 50, argv, NULL) < 0 ||
	    wait_gone(h, 50, &reason) < 0 || reason != BH_SHUTDOWN_POWEROFF)
		return -1;
	return (double)(bh_now_ns() - t0) / 1e6;
}

static double run_pv(struct th_host *h, const char *libexec)
{
	const char *argv[] = { "bulkhead-pvkernel", "--", "--", "true", NULL };
	struct bh_hc_create req = { .flags = BH_CREATE_HOST_IMAGE | BH_CREATE_PAUSED,
		                    .role = BH_ROLE_GUEST,
		                    .domid = 51,
		                    .vcpus = 1,
		                    .mem_kb = 128 * 1024,
		                    .store_domid = BH_DOMID_INVALID,
		                    .console_domid = BH_DOMID_INVALID };
	struct bh_hc_create_resp r;
	uint64_t t0 = bh_now_ns();
	uint32_t reason;

	bh_strlcpy(req.name, "pv", sizeof(req.name));
	snprintf(req.image, sizeof(req.image), "%s/bulkhead-pvkernel", libexec);
	if (bhctl_domain_create(&h->cl, &req, argv, &r) < 0 ||
	    bhctl_device_assign(&h->cl, 51, "ramdisk", "image:bulkhead-ramdisk.cpio",
	                        BH_DEV_RDONLY) < 0 ||
	    bhctl_domain_unpause(&h->cl, 51) < 0 || wait_gone(h, 51, &reason) < 0 ||
	    reason != BH_SHUTDOWN_POWEROFF)
		return -1;
	return (double)(bh_now_ns() - t0) / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 15;
	char libexec[200];
	struct th_host h;

	if (runs < 1 || runs > 1000)
		return fprintf(stderr, "usage: pvkernel_bench [RUNS]\n"), 2;
	snprintf(libexec, sizeof(libexec), "%s/../libexec/bulkhead", bh_test_bindir());
	if (th_host_start(&h, NULL) < 0)
		return fprintf(stderr, "pvkernel_bench: cannot start a core (root?)\n"), 1;
	double *bare = calloc((size_t)runs, sizeof(double));
	double *pv = calloc((size_t)runs, sizeof(double));
	int rc = 0;
	for (int i = 0; i < runs && rc == 0; i++) {
		bare[i] = run_bare(&h);
		pv[i] = run_pv(&h, libexec);
		if (bare[i] < 0 || pv[i] < 0)
			rc = 1;
	}
	if (rc == 0) {
		double mb = median(bare, runs), mp = median(pv, runs);
		printf("boot to poweroff, median of %d runs:\n", runs);
		printf("  bare sandbox, /bin/true as first process: %8.1f ms\n", mb);
		printf("  PV kernel + default ramdisk, init runs true: %8.1f ms\n", mp);
		printf("  ratio PV / bare: %.2f\n", mp / mb);
	} else {
		fprintf(stderr, "pvkernel_bench: a run failed\n");
	}
	free(bare);
	free(pv);
	th_host_stop(&h);
	return rc;
}
