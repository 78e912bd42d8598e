/* bench_net: the PV network path against a plain veth pair, same run.
 *
 *   PV:       guest A eth0 (TAP) -> netfront -> ring -> netback -> vif1 ->
 *             br0 -> vif2 -> netback -> ring -> netfront -> guest B eth0
 *   baseline: namespace A veth <-> veth namespace B
 *
 * Measures TCP throughput (iperf3), 64-byte UDP packets per second
 * received (iperf3 -u -l 18: 60-byte frames + FCS) and round-trip latency
 * (ping at 5 ms intervals), each several runs, and prints medians and the
 * PV/baseline ratio. Needs root. Usage: bench_net [runs] [seconds] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netfront/netrig.h"

struct target {
	const char *name;
	char ns_a[32], ns_b[32];
	const char *ip_b;
};

/* The whole output of a command (malloc'd, NUL-terminated). */
static char *run_all(const char *cmd)
{
	size_t cap = 1 << 20, len = 0, n;
	char *buf = malloc(cap);
	FILE *f = popen(cmd, "r");

	if (!buf || !f) {
		free(buf);
		if (f)
			pclose(f);
		return NULL;
	}
	while (len + 1 < cap && (n = fread(buf + len, 1, cap - 1 - len, f)) > 0)
		len += n;
	buf[len] = 0;
	pclose(f);
	return buf;
}

/* The number after "key": in the object that starts at the last "anchor". */
static double json_num(const char *js, const char *anchor, const char *key)
{
	char a[64], k[64];
	const char *p = NULL, *q;

	snprintf(a, sizeof(a), "\"%s\":", anchor);
	snprintf(k, sizeof(k), "\"%s\":", key);
	for (q = js; (q = strstr(q, a)); q++)
		p = q;
	if (!p || !(p = strstr(p, k)))
		return -1;
	return strtod(p + strlen(k), NULL);
}

static double tcp_mbps(const struct target *t, int secs)
{
	char cmd[512], *js;
	double v;

	snprintf(cmd, sizeof(cmd),
	         "ip netns exec %s iperf3 -s -1 -D -p 5301 >/dev/null 2>&1; sleep 0.3; "
	         "ip netns exec %s iperf3 -c %s -p 5301 -t %d -J 2>/dev/null",
	         t->ns_b, t->ns_a, t->ip_b, secs);
	if (!(js = run_all(cmd)))
		return -1;
	v = json_num(js, "sum_received", "bits_per_second") / 1e6;
	free(js);
	return v;
}

static double udp64_pps(const struct target *t, int secs)
{
	char cmd[640], *js;
	double v;

	/* packets the server received per second: (packets - lost) / seconds */
	snprintf(cmd, sizeof(cmd),
	         "ip netns exec %s iperf3 -s -1 -D -p 5302 >/dev/null 2>&1; sleep 0.3; "
	         "ip netns exec %s iperf3 -u -b 0 -l 18 -c %s -p 5302 -t %d -J 2>/dev/null",
	         t->ns_b, t->ns_a, t->ip_b, secs);
	if (!(js = run_all(cmd)))
		return -1;
	v = (json_num(js, "sum", "packets") - json_num(js, "sum", "lost_packets")) /
	    json_num(js, "sum", "seconds");
	free(js);
	return v;
}

/* ping at 5 ms intervals; average RTT, and the minimum in *min_us */
static double rtt_us(const struct target *t, double *min_us)
{
	char cmd[512], *out;
	double mn = -1, avg = -1;

	snprintf(cmd, sizeof(cmd),
	         "ip netns exec %s ping -q -c 400 -i 0.005 %s | "
	         "awk -F' = ' '/^rtt/ {split($2, a, \"/\"); print a[1] * 1000, a[2] * 1000}'",
	         t->ns_a, t->ip_b);
	if ((out = run_all(cmd)) && sscanf(out, "%lf %lf", &mn, &avg) != 2)
		mn = avg = -1;
	free(out);
	if (min_us)
		*min_us = mn;
	return avg;
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

static int veth_up(struct target *t)
{
	char cmd[768];

	snprintf(t->ns_a, sizeof(t->ns_a), "bhveth%d-a", (int)getpid());
	snprintf(t->ns_b, sizeof(t->ns_b), "bhveth%d-b", (int)getpid());
	snprintf(cmd, sizeof(cmd),
	         "ip netns add %1$s && ip netns add %2$s && "
	         "ip -n %1$s link add eth0 type veth peer name eth0 netns %2$s && "
	         "ip -n %1$s addr add 10.98.0.1/24 dev eth0 && ip -n %1$s link set eth0 up && "
	         "ip -n %2$s addr add 10.98.0.2/24 dev eth0 && ip -n %2$s link set eth0 up && "
	         "ip -n %1$s link set lo up && ip -n %2$s link set lo up",
	         t->ns_a, t->ns_b);
	return system(cmd);
}

static void veth_down(struct target *t)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip netns del %s; ip netns del %s", t->ns_a, t->ns_b);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_net: cleanup of %s failed\n", t->ns_a);
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 3, secs = argc > 2 ? atoi(argv[2]) : 3;
	struct target tg[2] = { { .name = "pv (netfront/netback)", .ip_b = "10.99.0.2" },
		                { .name = "veth baseline", .ip_b = "10.98.0.2" } };
	double tcp[2][16], pps[2][16], rtt[2][16], rmin[2][16], m[2][4];
	struct netrig *rig = NULL;
	struct netrig_opts o = { 0 };

	if (argc > 1 && !strcmp(argv[1], "hold")) {
		/* keep the PV network up for manual poking until killed */
		if (netrig_start(&o, &rig) < 0)
			return 1;
		printf("%s %s %s\n", netrig_ns(rig, 0), netrig_ns(rig, 1), netrig_ns(rig, 2));
		fflush(stdout);
		pause();
		return 0;
	}
	if (runs < 1 || runs > 16 || secs < 1)
		return fprintf(stderr, "usage: bench_net [runs 1-16] [seconds]\n"), 2;
	if (netrig_start(&o, &rig) < 0 || veth_up(&tg[1]) != 0) {
		fprintf(stderr, "bench_net: cannot build the networks (root? iperf3?)\n");
		netrig_stop(rig);
		return 1;
	}
	snprintf(tg[0].ns_a, sizeof(tg[0].ns_a), "%s", netrig_ns(rig, 1));
	snprintf(tg[0].ns_b, sizeof(tg[0].ns_b), "%s", netrig_ns(rig, 2));
	rtt_us(&tg[0], NULL); /* warm up ARP on both */
	rtt_us(&tg[1], NULL);
	for (int r = 0; r < runs; r++) {
		for (int i = 0; i < 2; i++) { /* interleaved, so noise hits both */
			tcp[i][r] = tcp_mbps(&tg[i], secs);
			pps[i][r] = udp64_pps(&tg[i], secs);
			rtt[i][r] = rtt_us(&tg[i], &rmin[i][r]);
			printf(
			    "run %d %-22s tcp %8.0f Mbit/s  udp64 %9.0f pkt/s  rtt avg %6.1f min "
			    "%6.1f us\n",
			    r + 1, tg[i].name, tcp[i][r], pps[i][r], rtt[i][r], rmin[i][r]);
			fflush(stdout);
		}
	}
	for (int i = 0; i < 2; i++) {
		m[i][0] = median(tcp[i], runs);
		m[i][1] = median(pps[i], runs);
		m[i][2] = median(rtt[i], runs);
		m[i][3] = median(rmin[i], runs);
	}
	printf("\nmedians of %d runs, %d s each\n", runs, secs);
	printf("%-24s %12s %14s %12s %12s\n", "", "TCP Mbit/s", "64B pkt/s rx", "RTT avg us",
	       "RTT min us");
	for (int i = 0; i < 2; i++)
		printf("%-24s %12.0f %14.0f %12.1f %12.1f\n", tg[i].name, m[i][0], m[i][1], m[i][2],
		       m[i][3]);
	printf("%-24s %12.2f %14.2f %12.2f %12.2f\n", "ratio pv/veth", m[0][0] / m[1][0],
	       m[0][1] / m[1][1], m[0][2] / m[1][2], m[0][3] / m[1][3]);
	veth_down(&tg[1]);
	netrig_stop(rig);
	return 0;
}
