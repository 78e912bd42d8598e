/* netxen_probe: one end of a vif inside a real Bulkhead domain, over the
 * ioctl/ layer (real grants, grant copies and event channels through the
 * core). Used by netxen_test.
 *
 *   netxen_probe front BACKEND        netfront: prints "VIF tx rx port",
 *                                     sends frames until PROBE_ECHOES
 *                                     came back
 *   netxen_probe back FRONT TX RX PORT  netback whose device echoes every
 *                                     frame; ends after PROBE_ECHOES and
 *                                     prints what its grant mappings did
 *                                     ("PMAP maps M hits H unmaps U live L") */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "common/util.h"
#include "netback/netbk_gntmap_xen.h"
#include "netfront/netfront_xen.h"

#define PROBE_ECHOES 32

static size_t test_frame(uint8_t *f, unsigned n)
{
	memset(f, 0, 200);
	memset(f, 0xff, 6);
	f[6] = 0x00, f[7] = 0x16, f[8] = 0x3e, f[11] = 1;
	f[12] = 0x88, f[13] = 0xb5; /* local experimental ethertype */
	snprintf((char *)f + 14, 100, "bulkhead netif probe %u", n);
	for (int i = 120; i < 200; i++)
		f[i] = (uint8_t)(i * n);
	return 200;
}

static int front(uint16_t backend)
{
	struct netfront_xen x;
	struct netfront_ops ops;
	struct netfront *nf;
	struct netfront_info info;
	struct netfront_config c = { .backend_domid = backend,
		                     .features = NETFRONT_F_SG | NETFRONT_F_CSUM };
	uint8_t f[256], got[2048];
	struct virtio_net_hdr vh;
	uint32_t port;
	uint64_t t0 = bh_now_ns();
	unsigned echoes = 0;

	if (netfront_xen_open(&x) < 0 || netfront_xen_unbound_port(&x, backend, &port) < 0)
		return printf("front: setup failed: %s\n", strerror(errno)), 1;
	netfront_xen_ops(&x, &ops);
	c.tx_port = c.rx_port = port;
	if (netfront_create(&c, &ops, NULL, &nf) < 0)
		return printf("front: netfront_create failed\n"), 1;
	netfront_info(nf, &info);
	printf("VIF %u %u %u\n", info.tx_ring_ref, info.rx_ring_ref, port);
	fflush(stdout);
	for (unsigned n = 1; bh_now_ns() - t0 < 20000000000ull; n++) {
		size_t len = test_frame(f, n);
		struct pollfd pf = { .fd = x.evtchn, .events = POLLIN };

		netfront_send(nf, NULL, f, len);
		netfront_flush(nf);
		for (int w = 0; w < 5; w++) {
			if (poll(&pf, 1, 100) > 0)
				ops.port_ack(ops.ctx, port);
			netfront_tx_gc(nf);
			int r, got_one = 0;
			unsigned m = 0;

			/* echoes of any frame sent so far: the backend may have
			 * connected after several went out */
			while ((r = netfront_recv(nf, &vh, got, sizeof(got))) != 0) {
				if (r == (int)len &&
				    sscanf((char *)got + 14, "bulkhead netif probe %u", &m) == 1 &&
				    m >= 1 && m <= n && test_frame(f, m) == len &&
				    !memcmp(got, f, len))
					echoes++, got_one = 1;
				if (r == -EPIPE)
					break;
			}
			netfront_flush(nf);
			if (echoes >= PROBE_ECHOES) {
				printf("ECHO OK %u\n", m);
				fflush(stdout);
				usleep(300000); /* let the backend see its last responses */
				netfront_destroy(nf);
				netfront_xen_close(&x);
				return 0;
			}
			if (got_one)
				break; /* the next frame */
		}
	}
	printf("front: no echo\n");
	return 1;
}

static int back(uint16_t fe, uint32_t txref, uint32_t rxref, uint32_t rport)
{
	struct netbk_xen x;
	struct netbk_gntmap_ops ops;
	struct netback *nb;
	struct netbk_vif *vif;
	struct netbk_vif_config c = { .frontend_domid = fe,
		                      .tx_ring_ref = txref,
		                      .rx_ring_ref = rxref,
		                      .features = NETBK_F_RX_COPY | NETBK_F_SG };
	uint8_t buf[70000];
	int sv[2], echoes = 0;
	uint64_t t0 = bh_now_ns();

	if (netbk_gntmap_xen_open(&x) < 0 || netbk_gntmap_xen_bind(&x, fe, rport, &c.tx_port) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return printf("back: setup failed: %s\n", strerror(errno)), 1;
	c.rx_port = c.tx_port;
	c.tap_fd = sv[0];
	bh_set_nonblock(sv[1], 1);
	netbk_gntmap_xen_ops(&x, &ops);
	if (netback_create(&ops, NULL, &nb) < 0 || netback_vif_connect(nb, &c, &vif) < 0)
		return printf("back: connect failed\n"), 1;
	printf("CONNECTED\n");
	fflush(stdout);
	while (bh_now_ns() - t0 < 20000000000ull && echoes < PROBE_ECHOES) {
		ssize_t n;

		netback_poll(nb, 50);
		while ((n = read(sv[1], buf, sizeof(buf))) > 0) {
			if (write(sv[1], buf, (size_t)n) == n)
				echoes++;
		}
	}
	for (int i = 0; i < 10; i++)
		netback_poll(nb, 20);
	printf("ECHOED %d\n", echoes);
	netback_destroy(nb); /* the vif's disconnect drops its mappings */
	struct netbk_xen_pmap_stats ps;
	netbk_gntmap_xen_pmap_stats(&x, &ps);
	printf("PMAP maps %llu hits %llu unmaps %llu live %u\n", (unsigned long long)ps.maps,
	       (unsigned long long)ps.hits, (unsigned long long)ps.unmaps, ps.live);
	fflush(stdout);
	netbk_gntmap_xen_close(&x);
	return echoes ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "front"))
		return front((uint16_t)atoi(argv[2]));
	if (argc == 6 && !strcmp(argv[1], "back"))
		return back((uint16_t)atoi(argv[2]), (uint32_t)strtoul(argv[3], NULL, 10),
		            (uint32_t)strtoul(argv[4], NULL, 10),
		            (uint32_t)strtoul(argv[5], NULL, 10));
	fprintf(stderr, "usage: netxen_probe front BACKEND | back FRONT TXREF RXREF PORT\n");
	return 2;
}
