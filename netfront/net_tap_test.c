/* Real TAP devices end to end: two guests' kernels, each with a TAP eth0
 * in its own netns served by a netfront, two netback vifs on a real Linux
 * bridge in a third netns. Real ping, and a TCP transfer checked with a
 * checksum. Needs root (skipped otherwise). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "common/bhtest.h"
#include "netfront/netrig.h"

#define XFER (8u << 20)

static struct netrig *start_opts(const struct netrig_opts *o)
{
	struct netrig *rig = NULL;

	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0 ||
	    system("command -v ping >/dev/null") != 0) {
		print_message("needs root, /dev/net/tun and ping; skipped\n");
		skip();
	}
	int rc = netrig_start(o, &rig);
	if (rc < 0) {
		netrig_stop(rig);
		fail_msg("netrig_start: %s", strerror(-rc));
	}
	return rig;
}

static struct netrig *start(void)
{
	return start_opts(&(struct netrig_opts){ 0 });
}

static void test_ping(void **state)
{
	struct netrig *rig = start();
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip netns exec %s ping -c 3 -i 0.2 -W 3 10.99.0.2 >/dev/null",
	         netrig_ns(rig, 1));
	int r = system(cmd);
	/* and the other way, with a payload bigger than one 4 KiB slot */
	snprintf(cmd, sizeof(cmd),
	         "ip netns exec %s ping -c 2 -i 0.2 -W 3 -s 6000 10.99.0.1 >/dev/null",
	         netrig_ns(rig, 2));
	int r2 = system(cmd);
	netrig_stop(rig);
	assert_int_equal(r, 0);
	assert_int_equal(r2, 0);
}

struct peer {
	const char *ns;
	uint64_t sum;
	size_t bytes;
	int rc;
};

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static int sock_in(const char *ns)
{
	struct timeval tv = { .tv_sec = 10 };
	int fd;

	if (netrig_enter(ns) < 0 || (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static void *receiver(void *arg)
{
	struct peer *p = arg;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(5201) };
	static uint8_t buf[65536];
	int one = 1, c, fd = sock_in(p->ns);
	ssize_t n;

	p->sum = 0xcbf29ce484222325ull;
	p->rc = -1;
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
	    (c = accept(fd, NULL, NULL)) < 0) {
		close(fd);
		return NULL;
	}
	while ((n = read(c, buf, sizeof(buf))) > 0) {
		p->sum = fnv(p->sum, buf, (size_t)n);
		p->bytes += (size_t)n;
	}
	p->rc = n == 0 ? 0 : -1;
	close(c);
	close(fd);
	return NULL;
}

static void *sender(void *arg)
{
	struct peer *p = arg;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(5201) };
	uint8_t *data = malloc(XFER);
	int fd = sock_in(p->ns), tries = 0;
	size_t off = 0;

	p->rc = -1;
	if (fd < 0 || !data)
		goto out;
	for (size_t i = 0; i < XFER; i++)
		data[i] = (uint8_t)((i * 2654435761u) >> 13);
	p->sum = fnv(0xcbf29ce484222325ull, data, XFER);
	inet_pton(AF_INET, "10.99.0.2", &a.sin_addr);
	while (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && tries++ < 50)
		usleep(100000); /* the receiver may not listen yet */
	while (off < XFER) {
		ssize_t n = write(fd, data + off, XFER - off);

		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	p->bytes = off;
	p->rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(data);
	return NULL;
}

static void test_tcp_transfer(void **state)
{
	struct netrig *rig = start();
	struct peer rx = { .ns = netrig_ns(rig, 2) }, tx = { .ns = netrig_ns(rig, 1) };
	pthread_t tr, tt;
	uint64_t t0 = 0;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	pthread_create(&tr, NULL, receiver, &rx);
	pthread_create(&tt, NULL, sender, &tx);
	pthread_join(tt, NULL);
	pthread_join(tr, NULL);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double s = (double)((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - t0) / 1e9;
	print_message("%zu bytes in %.2f s (%.1f MB/s)\n", rx.bytes, s, (double)rx.bytes / s / 1e6);
	netrig_stop(rig);
	assert_int_equal(tx.rc, 0);
	assert_int_equal(rx.rc, 0);
	assert_int_equal(rx.bytes, XFER);
	assert_true(rx.sum == tx.sum);
}

/* xl's ip=: guest A may send from 10.99.0.1 only. It pings B from there,
 * then from a second address it gave itself, which netback drops. */
static void test_antispoof_real_stack(void **state)
{
	struct netrig *rig = start_opts(&(struct netrig_opts){ .antispoof = true });
	const char *a = netrig_ns(rig, 1);
	char cmd[320];
	int ok, spoofed;

	snprintf(cmd, sizeof(cmd), "ip netns exec %s ping -c 2 -i 0.2 -W 2 10.99.0.2 >/dev/null",
	         a);
	ok = system(cmd);
	/* a fresh address: B must ARP for it, and A's reply (sender .9) is dropped */
	snprintf(cmd, sizeof(cmd),
	         "ip -n %s addr add 10.99.0.9/24 dev eth0 && "
	         "ip netns exec %s ping -c 2 -i 0.2 -W 1 -I 10.99.0.9 10.99.0.2 >/dev/null 2>&1",
	         a, a);
	spoofed = system(cmd);
	netrig_stop(rig);
	assert_int_equal(ok, 0);
	assert_int_not_equal(spoofed, 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_ping),
	cmocka_unit_test(test_tcp_transfer),
	cmocka_unit_test(test_antispoof_real_stack),
};

BH_TEST_MAIN(tests)
