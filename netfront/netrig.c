/* The two-guest real-TAP network of netrig.h. */
#include "netfront/netrig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>

#include "common/util.h"
#include "netback/netback.h"
#include "netback/netbk_memgnt.h"
#include "netfront/netfront_memgnt.h"

#define BE_DOM 0

struct netrig_guest {
	struct netrig *rig;
	uint16_t dom;
	struct memgnt_view view;
	struct netfront_ops ops;
	struct netfront *nf;
	int tap_fd; /* the guest's eth0 */
	pthread_t thread;
	bool running;
};

struct netrig {
	char ns[3][32];
	struct memgnt *m;
	struct memgnt_view be_view;
	struct netbk_gntmap_ops be_ops;
	struct netback *nb;
	struct netrig_guest g[2];
	pthread_t be_thread;
	bool be_running;
	volatile int stop;
};

int netrig_enter(const char *ns)
{
	char path[96];
	int fd, r;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	r = setns(fd, CLONE_NEWNET);
	close(fd);
	return r < 0 ? -errno : 0;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) == 0 ? 0 : -EIO;
}

/* Open a TAP named `name` inside netns `ns` (from a helper thread, so this
 * thread's namespace is untouched). */
struct tap_req {
	const char *ns, *name;
	int fd;
	bool guest;        /* netfront_tap_open (the PV kernel's way), else netback's vif */
	uint32_t features; /* NETFRONT_F_* for a guest, NETBK_F_* for a vif */
	uint8_t mac[6];
	unsigned mtu;
};

static void *tap_thread(void *arg)
{
	struct tap_req *t = arg;
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };

	t->fd = -1;
	if (netrig_enter(t->ns) < 0)
		return NULL;
	if (t->guest) {
		t->fd = netfront_tap_open(t->name, t->features, t->mac, t->mtu);
		return NULL;
	}
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	bh_strlcpy(ifr.ifr_name, t->name, sizeof(ifr.ifr_name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || netback_tap_prepare(fd, t->features) < 0) {
		close(fd);
		return NULL;
	}
	t->fd = fd;
	return NULL;
}

static int run_tap_thread(struct tap_req *t)
{
	pthread_t th;

	if (pthread_create(&th, NULL, tap_thread, t))
		return -EAGAIN;
	pthread_join(th, NULL);
	return t->fd;
}

static int open_tap(const char *ns, const char *name, uint32_t nb_features)
{
	struct tap_req t = { .ns = ns, .name = name, .fd = -1, .features = nb_features };

	return run_tap_thread(&t);
}

static int open_guest_tap(const char *ns, uint32_t features, int n, unsigned mtu)
{
	struct tap_req t = { .ns = ns,
		             .name = "eth0",
		             .fd = -1,
		             .guest = true,
		             .features = features,
		             .mac = { 0x00, 0x16, 0x3e, 0, 0, (uint8_t)n },
		             .mtu = mtu };

	return run_tap_thread(&t);
}

static void *be_loop(void *arg)
{
	struct netrig *rig = arg;

	while (!rig->stop)
		netback_poll(rig->nb, 50);
	return NULL;
}

static void *fe_loop(void *arg)
{
	struct netrig_guest *g = arg;

	while (!g->rig->stop)
		if (netfront_pump(g->nf, g->tap_fd, 50) == -EPIPE)
			break;
	return NULL;
}

static int setup_ns(struct netrig *rig, unsigned mtu)
{
	const char *be = rig->ns[0];

	for (int i = 0; i < 3; i++)
		if (sh("ip netns add %s", rig->ns[i]) < 0)
			return -EIO;
	if (sh("ip -n %s link add br0 type bridge && ip -n %s link set br0 up", be, be) < 0)
		return -EIO;
	(void)mtu;
	return 0;
}

static int guest_connect(struct netrig *rig, int i, const struct netrig_opts *o)
{
	struct netrig_guest *g = &rig->g[i];
	uint32_t fe_port, be_port;
	struct netfront_config fc = { .backend_domid = BE_DOM, .features = o->nf_features };
	struct netbk_vif_config bc = { .frontend_domid = (uint16_t)(i + 1),
		                       .devid = 0,
		                       .features = o->nb_features,
		                       .mtu = o->mtu };
	struct netfront_info info;
	struct netbk_vif *vif;
	char name[16];
	int rc;

	g->rig = rig;
	g->dom = (uint16_t)(i + 1);
	g->view = (struct memgnt_view){ rig->m, g->dom };
	netfront_memgnt_ops(&g->view, &g->ops);
	if ((rc = memgnt_evtchn_pair(rig->m, &fe_port, &be_port)) < 0)
		return rc;
	fc.tx_port = fc.rx_port = fe_port;
	if ((rc = netfront_create(&fc, &g->ops, NULL, &g->nf)) < 0)
		return rc;
	netfront_info(g->nf, &info);
	snprintf(name, sizeof(name), "vif%d", i + 1);
	bc.tap_fd = open_tap(rig->ns[0], name, o->nb_features);
	g->tap_fd = open_guest_tap(rig->ns[i + 1], o->nf_features, i + 1, o->mtu);
	if (bc.tap_fd < 0 || g->tap_fd < 0)
		return -EIO;
	bc.tx_ring_ref = info.tx_ring_ref;
	bc.rx_ring_ref = info.rx_ring_ref;
	bc.tx_port = bc.rx_port = be_port;
	bh_strlcpy(bc.bridge, "br0", sizeof(bc.bridge));
	if (o->antispoof) {
		bc.ips[0] = htonl(0x0a630000u | (uint32_t)(i + 1)); /* 10.99.0.<i+1> */
		bc.nr_ips = 1;
	}
	if ((rc = netback_vif_connect(rig->nb, &bc, &vif)) < 0)
		return rc;
	bh_set_nonblock(g->tap_fd, 1);
	if (sh("ip -n %s link set %s mtu %u master br0 up", rig->ns[0], name, o->mtu) < 0 ||
	    sh("ip -n %s addr add 10.99.0.%d/24 dev eth0 && ip -n %s link set lo up",
	       rig->ns[i + 1], i + 1, rig->ns[i + 1]) < 0)
		return -EIO;
	return 0;
}

int netrig_start(const struct netrig_opts *opts, struct netrig **out)
{
	struct netrig_opts o = *opts;
	struct netrig *rig = calloc(1, sizeof(*rig));
	int rc;

	if (!rig)
		return -ENOMEM;
	if (!o.nf_features)
		o.nf_features =
		    NETFRONT_F_SG | NETFRONT_F_GSO_TCPV4 | NETFRONT_F_GSO_TCPV6 | NETFRONT_F_CSUM;
	if (!o.nb_features)
		o.nb_features =
		    NETBK_F_RX_COPY | NETBK_F_SG | NETBK_F_GSO_TCPV4 | NETBK_F_GSO_TCPV6;
	if (!o.mtu)
		o.mtu = 1500;
	for (int i = 0; i < 3; i++)
		snprintf(rig->ns[i], sizeof(rig->ns[i]), "bhnet%d-%s", (int)getpid(),
		         (const char *[]){ "be", "a", "b" }[i]);
	rig->g[0].tap_fd = rig->g[1].tap_fd = -1;
	*out = rig;
	if ((rc = memgnt_create(&rig->m)) < 0)
		return rc;
	rig->be_view = (struct memgnt_view){ rig->m, BE_DOM };
	memgnt_netbk_ops(&rig->be_view, &rig->be_ops);
	if ((rc = netback_create(&rig->be_ops, NULL, &rig->nb)) < 0)
		return rc;
	if ((rc = setup_ns(rig, o.mtu)) < 0)
		return rc;
	for (int i = 0; i < 2; i++)
		if ((rc = guest_connect(rig, i, &o)) < 0)
			return rc;
	if (pthread_create(&rig->be_thread, NULL, be_loop, rig))
		return -EAGAIN;
	rig->be_running = true;
	for (int i = 0; i < 2; i++) {
		if (pthread_create(&rig->g[i].thread, NULL, fe_loop, &rig->g[i]))
			return -EAGAIN;
		rig->g[i].running = true;
	}
	return 0;
}

void netrig_stop(struct netrig *rig)
{
	if (!rig)
		return;
	rig->stop = 1;
	for (int i = 0; i < 2 && getenv("BH_NETRIG_STATS"); i++) {
		struct netfront_stats st;

		if (!rig->g[i].nf)
			continue;
		netfront_stats(rig->g[i].nf, &st);
		fprintf(stderr,
		        "netrig: guest %d tx %llu pkts %llu bytes (%llu errors, %llu busy), "
		        "rx %llu pkts %llu bytes (%llu errors)\n",
		        i, (unsigned long long)st.tx_packets, (unsigned long long)st.tx_bytes,
		        (unsigned long long)st.tx_errors, (unsigned long long)st.tx_busy,
		        (unsigned long long)st.rx_packets, (unsigned long long)st.rx_bytes,
		        (unsigned long long)st.rx_errors);
	}
	if (rig->be_running)
		pthread_join(rig->be_thread, NULL);
	for (int i = 0; i < 2; i++) {
		if (rig->g[i].running)
			pthread_join(rig->g[i].thread, NULL);
		netfront_destroy(rig->g[i].nf);
		bh_closep(&rig->g[i].tap_fd);
	}
	netback_destroy(rig->nb);
	memgnt_destroy(rig->m);
	for (int i = 0; i < 3; i++)
		if (rig->ns[i][0])
			sh("ip netns del %s 2>/dev/null", rig->ns[i]);
	free(rig);
}

const char *netrig_ns(const struct netrig *rig, int which)
{
	return rig->ns[which];
}
