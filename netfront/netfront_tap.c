/* The guest's eth0: a TAP in the caller's network namespace, set up the
 * way netfront_pump() expects it. */
#include "netfront/netfront.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_tun.h>

#include "common/util.h"

/* MAC, MTU and link up through an ordinary socket's interface ioctls. */
static int tap_configure(const char *name, const uint8_t mac[6], unsigned mtu)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	bh_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
	if (mac) {
		ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
		memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
		if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0)
			rc = -errno;
	}
	if (rc == 0 && mtu) {
		ifr.ifr_mtu = (int)mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
			rc = -errno;
	}
	if (rc == 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			rc = -errno;
	}
	close(s);
	return rc;
}

int netfront_tap_open(const char *name, uint32_t features, const uint8_t mac[6], unsigned mtu)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK), rc;

	if (fd < 0)
		return -errno;
	bh_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, netfront_tap_offloads(features)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if ((rc = tap_configure(name, mac, mtu)) < 0) {
		close(fd);
		return rc;
	}
	return fd;
}
