/* Internal: the emulated devices' shared pieces. */
#ifndef BH_XENDEV_PRIV_H
#define BH_XENDEV_PRIV_H

#include <stdbool.h>

#include "ioctl/xendev.h"

enum xdev_kind { XDEV_EVTCHN, XDEV_GNTDEV, XDEV_GNTALLOC, XDEV_PRIVCMD };

struct xdev;

struct xdev_ops {
	int (*open)(struct xdev *x, int flags);
	void (*close)(struct xdev *x);
	int (*ioctl)(struct xdev *x, unsigned long req, void *arg);
	ssize_t (*read)(struct xdev *x, void *buf, size_t n);
	ssize_t (*write)(struct xdev *x, const void *buf, size_t n);
	void *(*mmap)(struct xdev *x, void *addr, size_t len, int prot, int flags, off_t off);
	/* Unmap if [addr, addr+len) is one of ours: 1 done, 0 not ours, <0 error. */
	int (*munmap)(struct xdev *x, void *addr, size_t len);
};

struct xdev {
	enum xdev_kind kind;
	const struct xdev_ops *ops;
	int fd; /* the real descriptor the caller holds */
	bool nonblock;
	void *priv;
};

extern const struct xdev_ops xdev_evtchn_ops;
extern const struct xdev_ops xdev_gntdev_ops;
extern const struct xdev_ops xdev_gntalloc_ops;
extern const struct xdev_ops xdev_privcmd_ops;

/* Reserve an address range and map each page's descriptor into it. */
void *xdev_map_pages(void *hint, const int *fds, size_t n, int prot, int fixed_flags);

/* errno-style returns: set errno from a negative code and return -1. */
static inline int xdev_fail(int rc)
{
	extern int *__errno_location(void);
	*__errno_location() = -rc;
	return -1;
}

#endif
