/* A two-guest network on real TAP devices, for the real-TAP test and the
 * benchmark. Needs root (it uses `ip netns`).
 *
 *   netns <tag>-be : bridge br0 with TAPs vif1 and vif2 (the driver
 *                    domain's side; served by one netback)
 *   netns <tag>-a  : TAP eth0 10.99.0.1/24 served by netfront A
 *   netns <tag>-b  : TAP eth0 10.99.0.2/24 served by netfront B
 *
 * Both netfronts and the netback run in threads of this process over the
 * in-process grant table, so the packets cross real kernel stacks, a real
 * bridge and the real ring protocol. */
#ifndef BH_NETRIG_H
#define BH_NETRIG_H

#include <stdbool.h>
#include <stdint.h>

struct netrig;

struct netrig_opts {
	uint32_t nf_features; /* NETFRONT_F_*; 0 = all */
	uint32_t nb_features; /* NETBK_F_*; 0 = all */
	unsigned mtu;         /* 0 = 1500 */
	bool antispoof;       /* vif N only accepts source 10.99.0.N (xl's ip=) */
};

int netrig_start(const struct netrig_opts *opts, struct netrig **out);
void netrig_stop(struct netrig *rig);
/* The namespace of the backend (0), guest A (1) or guest B (2). */
const char *netrig_ns(const struct netrig *rig, int which);
/* Enter a namespace by name in the calling thread. */
int netrig_enter(const char *ns);

#endif
