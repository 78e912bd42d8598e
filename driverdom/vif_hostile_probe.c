/* vif-hostile-probe: three network frontends in one real guest domain,
 * for driverdom_core_test. vif 0 is hostile: after a while its TX ring's
 * req_prod jumps a thousand slots past what it ever granted. vifs 1 and 2
 * behave: 1 keeps sending broadcast frames, 2 reports those it receives
 * (the driver domain's bridge carries them from one to the other), so the
 * test sees that the other vifs stay served once the hostile one is shut.
 *
 *   vif-hostile-probe BACKEND_DOMID
 *     prints "VIFS tx0 rx0 port0 tx1 rx1 port1 tx2 rx2 port2", then after
 *     3 s "HOSTILE", then for 15 s "RELAYED n" every 20 frames from vif 1
 *     that reach vif 2. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulkhead/netif.h"
#include "common/util.h"
#include "netfront/netfront_xen.h"

#define ETHERTYPE_PROBE 0x88b5 /* local experimental */

static size_t probe_frame(uint8_t *f, unsigned n)
{
	memset(f, 0, 128);
	memset(f, 0xff, 6);                                  /* broadcast */
	f[6] = 0x02, f[7] = 0x16, f[8] = 0x3e, f[11] = 0x01; /* local MAC */
	f[12] = ETHERTYPE_PROBE >> 8, f[13] = ETHERTYPE_PROBE & 0xff;
	snprintf((char *)f + 14, 64, "hostile-probe relay %u", n);
	return 128;
}

int main(int argc, char **argv)
{
	struct netfront_xen x;
	struct netfront_ops ops;
	struct netfront *nf[2];
	struct netfront_info info[2];
	uint32_t port[3], hostile_refs[2];
	uint16_t backend;
	uint8_t f[128], got[2048];
	struct virtio_net_hdr vh;
	unsigned relayed = 0;

	if (argc != 2)
		return fprintf(stderr, "usage: vif-hostile-probe BACKEND_DOMID\n"), 2;
	backend = (uint16_t)atoi(argv[1]);
	if (netfront_xen_open(&x) < 0)
		return printf("setup failed: %s\n", strerror(errno)), 1;
	netfront_xen_ops(&x, &ops);
	/* The hostile one: two ring pages and nothing else. */
	uint8_t *rings = ops.alloc(ops.ctx, backend, 2, true, hostile_refs);
	if (!rings || netfront_xen_unbound_port(&x, backend, &port[0]) < 0)
		return printf("hostile vif: %s\n", strerror(errno)), 1;
	struct netif_tx_front_ring tx;
	struct netif_rx_front_ring rx;
	netif_tx_front_init(&tx, rings, 1);
	netif_rx_front_init(&rx, rings + 4096, 1);
	for (int i = 0; i < 2; i++) {
		struct netfront_config c = { .backend_domid = backend,
			                     .features = NETFRONT_F_SG | NETFRONT_F_CSUM,
			                     .rx_target = 64 };
		if (netfront_xen_unbound_port(&x, backend, &port[i + 1]) < 0)
			return printf("vif %d: %s\n", i + 1, strerror(errno)), 1;
		c.tx_port = c.rx_port = port[i + 1];
		if (netfront_create(&c, &ops, NULL, &nf[i]) < 0)
			return printf("vif %d: netfront_create failed\n", i + 1), 1;
		netfront_info(nf[i], &info[i]);
		netfront_flush(nf[i]); /* post the RX buffers */
	}
	printf("VIFS %u %u %u %u %u %u %u %u %u\n", hostile_refs[0], hostile_refs[1], port[0],
	       info[0].tx_ring_ref, info[0].rx_ring_ref, port[1], info[1].tx_ring_ref,
	       info[1].rx_ring_ref, port[2]);
	fflush(stdout);
	sleep(3); /* the test connects all three meanwhile */
	BH_WRITE_ONCE(tx.sring->hdr.req_prod, 1000u);
	ops.notify(ops.ctx, port[0]);
	printf("HOSTILE\n");
	fflush(stdout);
	uint64_t t0 = bh_now_ns();
	for (unsigned n = 1; bh_now_ns() - t0 < 15000000000ull; n++) {
		struct pollfd pf = { .fd = x.evtchn, .events = POLLIN };
		int r;
		unsigned m;

		netfront_send(nf[0], NULL, f, probe_frame(f, n));
		netfront_flush(nf[0]);
		if (poll(&pf, 1, 50) > 0)
			ops.port_ack(ops.ctx, port[1]);
		netfront_tx_gc(nf[0]);
		while ((r = netfront_recv(nf[1], &vh, got, sizeof(got))) != 0) {
			if (r == 128 &&
			    sscanf((char *)got + 14, "hostile-probe relay %u", &m) == 1 &&
			    ++relayed % 20 == 1) {
				printf("RELAYED %u\n", relayed);
				fflush(stdout);
			}
		}
		netfront_flush(nf[1]); /* buffers back */
		usleep(20000);
	}
	printf("END relayed %u\n", relayed);
	fflush(stdout);
	return relayed ? 0 : 1;
}
