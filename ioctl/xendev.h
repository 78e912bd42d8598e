/* The Linux /dev/xen device ABI, backed by the Bulkhead core.
 *
 * Backends and frontends are written against the same request codes and
 * structs as on Linux (<xen/evtchn.h>, <xen/gntdev.h>, <xen/gntalloc.h>,
 * <xen/privcmd.h>), through these calls instead of open(2)/ioctl(2):
 *
 *     int fd = xen_open("/dev/xen/evtchn", O_NONBLOCK);
 *     struct ioctl_evtchn_bind_unbound_port b = {.remote_domain = 3};
 *     int port = xen_ioctl(fd, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &b);
 *     poll(fd) ... xen_read(fd, &port, 4) ... xen_write(fd, &port, 4);
 *
 * The descriptors are real: poll(2) or libevent can wait on an evtchn fd
 * (it is an epoll descriptor over the ports' eventfds). Return values and
 * errno follow the system calls they stand for. The first call attaches to
 * the domain's hypercall channel (fd 3).
 *
 * Semantics as Linux:
 *  - evtchn: read() returns fired ports as u32s and masks each until it is
 *    written back; a port that fires while masked is delivered after the
 *    unmask; notify (IOCTL_EVTCHN_NOTIFY) goes straight to the peer.
 *  - gntalloc: ALLOC_GREF allocates and grants pages; mmap(offset = index)
 *    maps them; DEALLOC_GREF ends access (deferred while the peer maps).
 *  - gntdev: MAP_GRANT_REF reserves an index; mmap(offset = index) maps the
 *    grants (read-only unless PROT_WRITE); munmap then UNMAP_GRANT_REF.
 *  - privcmd: IOCTL_PRIVCMD_HYPERCALL with op __HYPERVISOR_domctl or
 *    __HYPERVISOR_sysctl passes a Bulkhead hypercall (struct bh_privcmd_call
 *    in arg[0]); the C API in ioctl/bhctl.h is the friendlier way.
 *
 * Bulkhead extensions (numbers Linux does not use):
 *  - IOCTL_EVTCHN_BH_ATTACH: take over a port the toolstack made for this
 *    domain (its store and console ports), as the kernel does at boot. */
#ifndef BH_XENDEV_H
#define BH_XENDEV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>

typedef uint16_t domid_t;
typedef uint32_t grant_ref_t;
typedef uint64_t xen_pfn_t;
#include <xen/evtchn.h>
#include <xen/gntdev.h>
#include <xen/gntalloc.h>

/* <xen/privcmd.h> includes a kernel-internal header, so (as Xen's own
 * tools do) the privcmd ABI is spelled out here, the same layout and the
 * same request codes. */
struct privcmd_hypercall {
	uint64_t op;
	uint64_t arg[5];
};
struct privcmd_mmap_entry {
	uint64_t va;
	uint64_t mfn;
	uint64_t npages;
};
struct privcmd_mmap {
	int num;
	domid_t dom;
	struct privcmd_mmap_entry *entry;
};
struct privcmd_mmapbatch {
	int num;
	domid_t dom;
	uint64_t addr;
	xen_pfn_t *arr;
};
struct privcmd_mmapbatch_v2 {
	unsigned int num;
	domid_t dom;
	uint64_t addr;
	const xen_pfn_t *arr;
	int *err;
};
struct privcmd_dm_op_buf {
	void *uptr;
	size_t size;
};
struct privcmd_dm_op {
	domid_t dom;
	uint16_t num;
	const struct privcmd_dm_op_buf *ubufs;
};
#define IOCTL_PRIVCMD_HYPERCALL    _IOC(_IOC_NONE, 'P', 0, sizeof(struct privcmd_hypercall))
#define IOCTL_PRIVCMD_MMAP         _IOC(_IOC_NONE, 'P', 2, sizeof(struct privcmd_mmap))
#define IOCTL_PRIVCMD_MMAPBATCH    _IOC(_IOC_NONE, 'P', 3, sizeof(struct privcmd_mmapbatch))
#define IOCTL_PRIVCMD_MMAPBATCH_V2 _IOC(_IOC_NONE, 'P', 4, sizeof(struct privcmd_mmapbatch_v2))
#define IOCTL_PRIVCMD_DM_OP        _IOC(_IOC_NONE, 'P', 5, sizeof(struct privcmd_dm_op))
#define IOCTL_PRIVCMD_RESTRICT     _IOC(_IOC_NONE, 'P', 6, sizeof(domid_t))
_Static_assert(IOCTL_PRIVCMD_HYPERCALL == 0x00305000, "privcmd hypercall");
_Static_assert(IOCTL_PRIVCMD_MMAPBATCH_V2 == 0x00205004, "privcmd mmapbatch v2");
_Static_assert(IOCTL_EVTCHN_BIND_INTERDOMAIN == 0x00084501, "evtchn");
_Static_assert(IOCTL_GNTDEV_MAP_GRANT_REF == 0x00184700, "gntdev");
_Static_assert(IOCTL_GNTALLOC_ALLOC_GREF == 0x00184705, "gntalloc");

#include "ioctl/hcall_client.h"

#define IOCTL_EVTCHN_BH_ATTACH _IOC(_IOC_NONE, 'E', 0x40, sizeof(struct ioctl_evtchn_unbind))

#define BH_HYPERVISOR_sched_op 29
#define BH_HYPERVISOR_sysctl   35
#define BH_HYPERVISOR_domctl   36

struct bh_privcmd_call {
	uint32_t type; /* BH_HC_*_REQ */
	uint32_t req_len;
	const void *req;
	void *resp;
	uint32_t resp_cap;
	uint32_t resp_len; /* out */
	int *fds;          /* out: descriptors of the reply */
	uint32_t max_fds;
	uint32_t nfds; /* out */
};

int xen_open(const char *path, int flags);
int xen_close(int fd);
int xen_ioctl(int fd, unsigned long request, void *arg);
ssize_t xen_read(int fd, void *buf, size_t n);
ssize_t xen_write(int fd, const void *buf, size_t n);
void *xen_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset);
int xen_munmap(void *addr, size_t len);

/* The process's hypercall client (attached on first use). */
struct bh_hc_client *xen_hcall(void);

#endif
