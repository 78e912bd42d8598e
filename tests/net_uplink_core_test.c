/* Uplinks with a real core and real sandboxed domains: the host end gets
 * its address on the host, the peer appears in the driver domain's own
 * network namespace (never on the host), packets cross, a restart in place
 * brings a fresh pair with the same name, destroying the domain removes
 * it, and a guest cannot be given one. Needs root. */
#include <errno.h>
#include <stdarg.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "common/bhtest.h"
#include "common/util.h"
#include "tests/harness.h"

static int setup(void **state)
{
	struct th_host *h = calloc(1, sizeof(*h));

	assert_int_equal(th_host_start(h, NULL), 0);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct th_host *h = *state;

	assert_int_equal(th_host_stop(h), 0);
	free(h);
	return 0;
}

static uint16_t create(struct th_host *h, const char *name, uint32_t role)
{
	const char *argv[] = { th_prog("domprobe"), "sleep", "120", NULL };
	struct bh_hc_create_resp out;

	assert_int_equal(th_create(h, name, role, 64, 0, BH_DOMID_ANY, argv, &out), 0);
	return out.domid;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static pid_t pid_of(struct th_host *h, uint16_t id)
{
	struct bh_dominfo d;

	assert_int_equal(bhctl_domain_getinfo(&h->cl, id, &d), 0);
	assert_true(d.pid > 0);
	return d.pid;
}

/* Our own names, so that parallel cores or a host's interfaces never clash. */
static void names(char host[16])
{
	snprintf(host, 16, "bhut%d", (int)(getpid() % 100000));
}

static void test_uplink_end_to_end(void **state)
{
	struct th_host *h = *state;
	uint16_t id = create(h, "nic", BH_ROLE_DRIVER);
	struct bh_hc_device_uplink u = { .domid = id, .host_prefixlen = 24, .mtu = 1400 };
	struct bh_hc_device_uplink_resp r;
	pid_t pid = pid_of(h, id);
	char host[16];
	unsigned idx1;

	names(host);
	bh_strlcpy(u.host_ifname, host, sizeof(u.host_ifname));
	inet_pton(AF_INET, "10.231.0.254", &u.host_ipv4);
	assert_int_equal(bhctl_device_uplink(&h->cl, &u, &r), 0);
	assert_string_equal(r.host_ifname, host);
	idx1 = if_nametoindex(host);
	assert_true(idx1 > 0);
	assert_int_equal((unsigned)r.host_ifindex, idx1);
	/* the host end: address, up, MTU */
	assert_int_equal(sh("ip -o addr show dev %s | grep -q 'inet 10.231.0.254/24'", host), 0);
	assert_int_equal(sh("ip -o link show dev %s | grep -q '[<,]UP[,>].* mtu 1400 '", host), 0);
	/* the peer: in the domain's namespace, not on the host */
	assert_int_equal(if_nametoindex("uplink0"), 0);
	assert_int_equal(sh("nsenter -t %d -n ip -o link show uplink0 | grep -q 'mtu 1400'", pid),
	                 0);
	/* and packets cross it */
	assert_int_equal(sh("nsenter -t %d -n sh -c 'ip addr add 10.231.0.1/24 dev uplink0 && "
	                    "ip link set uplink0 up && ping -c 1 -W 3 10.231.0.254' >/dev/null",
	                    pid),
	                 0);

	/* a restart in place: a fresh pair, same name */
	struct bh_hc_create_resp cr;
	assert_int_equal(bhctl_domain_restart(&h->cl, id, &cr), 0);
	pid_t pid2 = pid_of(h, id);
	assert_true(pid2 != pid);
	unsigned idx2 = if_nametoindex(host);
	assert_true(idx2 > 0);
	assert_true(idx2 != idx1);
	assert_int_equal(sh("ip -o addr show dev %s | grep -q 'inet 10.231.0.254/24'", host), 0);
	assert_int_equal(sh("nsenter -t %d -n ip -o link show uplink0 >/dev/null", pid2), 0);

	/* destroyed: gone from the host */
	assert_int_equal(bhctl_domain_destroy(&h->cl, id), 0);
	assert_int_equal(if_nametoindex(host), 0);
}

static void test_uplink_refused(void **state)
{
	struct th_host *h = *state;
	uint16_t g = create(h, "guest", BH_ROLE_GUEST), d = create(h, "nic2", BH_ROLE_DRIVER);
	struct bh_hc_device_uplink u = { .domid = g };
	char host[16];

	names(host);
	bh_strlcpy(u.host_ifname, host, sizeof(u.host_ifname));
	/* a guest gets no host interface */
	assert_int_equal(bhctl_device_uplink(&h->cl, &u, NULL), -EACCES);
	assert_int_equal(if_nametoindex(host), 0);
	/* a name the host already uses is not taken over */
	u.domid = d;
	bh_strlcpy(u.host_ifname, "lo", sizeof(u.host_ifname));
	assert_int_equal(bhctl_device_uplink(&h->cl, &u, NULL), -EEXIST);
	/* a host bridge that does not exist */
	bh_strlcpy(u.host_ifname, host, sizeof(u.host_ifname));
	bh_strlcpy(u.host_bridge, "nosuchbr0", sizeof(u.host_bridge));
	assert_int_equal(bhctl_device_uplink(&h->cl, &u, NULL), -ENODEV);
	assert_int_equal(if_nametoindex(host), 0);
	/* a host bridge that does: the host end joins it */
	char br[16];
	snprintf(br, sizeof(br), "bhutbr%d", (int)(getpid() % 10000));
	assert_int_equal(sh("ip link add %s type bridge", br), 0);
	bh_strlcpy(u.host_bridge, br, sizeof(u.host_bridge));
	int rc = bhctl_device_uplink(&h->cl, &u, NULL);
	int in_bridge = sh("ip -o link show dev %s | grep -q 'master %s'", host, br);
	sh("ip link del %s", br);
	assert_int_equal(rc, 0);
	assert_int_equal(in_bridge, 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_uplink_end_to_end, setup, teardown),
	cmocka_unit_test_setup_teardown(test_uplink_refused, setup, teardown),
};

BH_TEST_MAIN(tests)
