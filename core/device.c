/* Devices: the only way a host resource reaches a domain.
 *
 * A privileged domain assigns a host file (a disk image, a ramdisk) to a
 * domain under a token; the assignee later asks for it by token and gets a
 * descriptor the core opened with the assigned mode. Driver domains never
 * see a host path. The core opens only below the device directories it was
 * configured with (--device-dir), resolved with RESOLVE_BENEATH so that
 * neither ".." nor a symlink leads elsewhere, and only regular files and
 * block devices: an unprivileged dom0 cannot turn the core into a reader of
 * arbitrary host files.
 *
 * Assignments belong to the domid and survive restarts of the domain, so a
 * restarted driver domain gets the same devices again.
 *
 * A TAP is created in the network namespace of the domain that asks, and
 * its descriptor handed over; domains cannot open /dev/net/tun themselves. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/fs.h>

#include "core/core.h"
#include "core/rtnl.h"

static bool token_ok(const char *t)
{
	size_t n = strnlen(t, BH_DEV_TOKEN_MAX);

	if (n == 0 || n == BH_DEV_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(t[i] >= 'a' && t[i] <= 'z') && !(t[i] >= 'A' && t[i] <= 'Z') &&
		    !(t[i] >= '0' && t[i] <= '9') && !strchr("-_.:/", t[i]))
			return false;
	return true;
}

static struct device_assignment *find(struct domain *d, const char *token)
{
	for (struct device_assignment *a = d->devices; a; a = a->next)
		if (strcmp(a->token, token) == 0)
			return a;
	return NULL;
}

/* Is the path below one of the device directories? Returns the directory
 * index and the remainder, or -EACCES. */
static int device_dir_of(const struct core *c, const char *path, const char **rest)
{
	for (unsigned i = 0; i < c->opts.nr_device_dirs; i++) {
		const char *dir = c->opts.device_dirs[i];
		size_t n = strlen(dir);
		while (n > 1 && dir[n - 1] == '/')
			n--;
		if (strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1]) {
			*rest = path + n + 1;
			return (int)i;
		}
	}
	return -EACCES;
}

/* "image:NAME" names a file of the core's image directory (the default
 * ramdisk): always read-only, never a path. */
#define IMAGE_PREFIX "image:"

static bool image_ref(const char *path, const char **name)
{
	if (strncmp(path, IMAGE_PREFIX, strlen(IMAGE_PREFIX)) != 0)
		return false;
	*name = path + strlen(IMAGE_PREFIX);
	return true;
}

static bool image_name_ok(const char *name)
{
	return name[0] && name[0] != '.' && !strchr(name, '/');
}

/* Opens REST below the directory DIR, never leaving it. */
static int open_in(const char *dir, const char *rest, const struct open_how *how)
{
	int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC), fd;

	if (dirfd < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, dirfd, rest, how, sizeof(*how));
	if (fd < 0)
		fd = -errno;
	close(dirfd);
	return fd;
}

static int open_beneath(const struct core *c, const char *path, uint32_t flags)
{
	struct open_how how = { .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	const char *rest;
	int idx;

	if (image_ref(path, &rest)) {
		if (!image_name_ok(rest))
			return -EINVAL;
		how.flags = O_CLOEXEC | O_NOCTTY | O_RDONLY;
		return open_in(c->opts.image_dir, rest, &how);
	}
	if ((idx = device_dir_of(c, path, &rest)) < 0)
		return idx;
	how.flags = O_CLOEXEC | O_NOCTTY | ((flags & BH_DEV_RDONLY) ? O_RDONLY : O_RDWR);
	if (flags & BH_DEV_DIRECT)
		how.flags |= O_DIRECT;
	if (flags & BH_DEV_CREATE) {
		how.flags |= O_CREAT;
		how.mode = 0600;
	}
	return open_in(c->opts.device_dirs[idx], rest, &how);
}

int device_assign(struct domain *d, const struct bh_hc_device_assign *a)
{
	struct device_assignment *da;
	const char *rest;

	bool image;

	if (!token_ok(a->token) || strnlen(a->path, sizeof(a->path)) == sizeof(a->path))
		return -EINVAL;
	if (a->flags & ~(BH_DEV_RDONLY | BH_DEV_DIRECT | BH_DEV_CREATE))
		return -EINVAL;
	image = image_ref(a->path, &rest);
	if (image &&
	    (!image_name_ok(rest) || !(a->flags & BH_DEV_RDONLY) || (a->flags & BH_DEV_CREATE)))
		return -EINVAL; /* image files are handed out read-only, never created */
	if (!image && a->path[0] != '/')
		return -EINVAL;
	if (!image && device_dir_of(d->core, a->path, &rest) < 0)
		return -EACCES;
	da = find(d, a->token);
	if (!da) {
		da = calloc(1, sizeof(*da));
		if (!da)
			return -ENOMEM;
		da->next = d->devices;
		d->devices = da;
	}
	bh_strlcpy(da->token, a->token, sizeof(da->token));
	bh_strlcpy(da->path, a->path, sizeof(da->path));
	da->flags = a->flags;
	bh_info(&d->log, "device %s assigned: %s (%s)", da->token, da->path,
	        (da->flags & BH_DEV_RDONLY) ? "ro" : "rw");
	return 0;
}

int device_revoke(struct domain *d, const char *token)
{
	for (struct device_assignment **pp = &d->devices; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->token, token) == 0) {
			struct device_assignment *a = *pp;
			*pp = a->next;
			free(a);
			return 0;
		}
	}
	return -ENOENT;
}

static int check_kind(int fd, struct bh_hc_device_open_resp *out)
{
	struct stat st;
	uint64_t size = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0)
			return -errno;
	} else
		return -EINVAL; /* no directories, character devices, FIFOs */
	out->size = size;
	return 0;
}

int device_open(struct domain *d, const char *token, int *fd_out,
                struct bh_hc_device_open_resp *out)
{
	struct device_assignment *a;
	int fd, rc;

	if (strnlen(token, BH_DEV_TOKEN_MAX) == BH_DEV_TOKEN_MAX || !(a = find(d, token)))
		return -ENOENT;
	fd = open_beneath(d->core, a->path, a->flags);
	if (fd < 0) {
		bh_warn(&d->log, "device %s: open %s: %s", token, a->path, bh_strerror(fd));
		return fd;
	}
	memset(out, 0, sizeof(*out));
	if ((rc = check_kind(fd, out)) < 0) {
		close(fd);
		return rc;
	}
	out->flags = a->flags;
	*fd_out = fd;
	domain_opened_device(d); /* writes of its may be in flight at its end */
	return 0;
}

void device_list_dispose(struct domain *d)
{
	while (d->devices) {
		struct device_assignment *a = d->devices;
		d->devices = a->next;
		free(a);
	}
}

static bool ifname_ok(const char *n)
{
	size_t len = strnlen(n, IFNAMSIZ);

	if (len == 0 || len >= IFNAMSIZ)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(n[i] >= 'a' && n[i] <= 'z') && !(n[i] >= 'A' && n[i] <= 'Z') &&
		    !(n[i] >= '0' && n[i] <= '9') && !strchr("-_.", n[i]))
			return false;
	return true;
}

/* Open /dev/net/tun from inside the domain's network namespace: the TAP is
 * created where the opener lives. */
static int tun_open_in(pid_t pid, int home_netns)
{
	char path[64];
	int ns, fd, e;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return -errno;
	if (setns(ns, CLONE_NEWNET) < 0) {
		e = errno;
		close(ns);
		return -e;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	e = errno;
	close(ns);
	if (setns(home_netns, CLONE_NEWNET) < 0)
		abort(); /* the core must never stay in a domain's namespace */
	return fd < 0 ? -e : fd;
}

/* A TAP NAME with FLAGS (BH_TAP_*) made in PID's network namespace: its
 * descriptor, or -errno. */
static int tap_create(struct core *c, pid_t pid, const char *name, uint32_t flags)
{
	struct ifreq ifr;
	int fd = tun_open_in(pid, c->home_netns);

	if (fd < 0)
		return fd;
	memset(&ifr, 0, sizeof(ifr));
	bh_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (flags & BH_TAP_VNET_HDR)
		ifr.ifr_flags |= IFF_VNET_HDR;
	if (flags & BH_TAP_MQ)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* ---- TAPs made ahead ----
 *
 * Making a TAP (into the domain's namespace, TUNSETIFF: a netdevice
 * registered) takes ~0.3 ms of the core, and a restarted network driver
 * domain asks for one per vif right after its InitWait, while its guests
 * wait. So the core remembers the names and flags each generation asked
 * for (tap_names) and makes the same TAPs in the standby's network
 * namespace when it builds the standby, and those asked for later a
 * moment after they were (domain.c). The next generation's request for
 * such a name is answered with the TAP made ahead. They are made
 * persistent (one never asked for is closed with its generation and goes
 * with its namespace), and put up on a bridge of the same name as the one
 * the TAP is on in the running generation, made up if missing (creating a
 * bridge and plugging a port were ~0.3 and ~0.2 ms of the restarted
 * driver domain's probe and prepare); the driver domain finds them so,
 * and does what is still missing, as for a new one. */

static struct premade_tap *premade_find(struct premade_taps *l, const char *name, size_t *at)
{
	for (size_t i = 0; i < l->n; i++)
		if (strncmp(l->v[i].name, name, sizeof(l->v[i].name)) == 0) {
			if (at)
				*at = i;
			return &l->v[i];
		}
	return NULL;
}

static int premade_add(struct premade_taps *l, const char *name, uint32_t flags, int fd)
{
	struct premade_tap *v = reallocarray(l->v, l->n + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->v = v;
	v = &l->v[l->n++];
	memset(v, 0, sizeof(*v));
	bh_strlcpy(v->name, name, sizeof(v->name));
	v->flags = flags;
	v->fd = fd;
	return 0;
}

/* Takes entry AT out of L (its descriptor is the caller's). */
static void premade_remove(struct premade_taps *l, size_t at)
{
	l->v[at] = l->v[--l->n];
	if (!l->n) {
		free(l->v);
		l->v = NULL;
	}
}

void premade_taps_dispose(struct premade_taps *l, void (*close_fd)(void *arg, int *fd), void *arg)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].fd >= 0)
			close_fd(arg, &l->v[i].fd);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* The bridge that interface NAME is a port of (through NL, in its
 * namespace): its name in BR, "" if none. */
static void master_bridge(struct mnl_socket *nl, const char *name, char br[IFNAMSIZ])
{
	struct rtnl_link l, m;

	br[0] = '\0';
	if (nl && rtnl_link_get(nl, name, 0, &l) == 0 && l.master &&
	    rtnl_link_get(nl, NULL, l.master, &m) == 0 && !strcmp(m.kind, "bridge"))
		bh_strlcpy(br, m.name, IFNAMSIZ);
}

/* Through NL: bridge BR made (if missing) and up, and interface NAME up on
 * it. 0 or -errno. */
static int bridge_plug(struct mnl_socket *nl, const char *br, const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct ifinfomsg *ifm;
	struct rtnl_link b;
	int rc;

	if (rtnl_link_get(nl, br, 0, &b) < 0) {
		ifm = rtnl_link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
		ifm->ifi_flags = ifm->ifi_change = IFF_UP;
		mnl_attr_put_strz(nlh, IFLA_IFNAME, br);
		struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
		mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
		mnl_attr_nest_end(nlh, info);
		if ((rc = rtnl_call(nl, nlh, NULL, NULL)) < 0 && rc != -EEXIST)
			return rc;
		if ((rc = rtnl_link_get(nl, br, 0, &b)) < 0)
			return rc;
	}
	if (strcmp(b.kind, "bridge") != 0)
		return -EEXIST; /* the name is taken by something else */
	ifm = rtnl_link_msg(buf, RTM_NEWLINK, 0, 0);
	ifm->ifi_flags = ifm->ifi_change = IFF_UP;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)b.ifindex);
	return rtnl_call(nl, nlh, NULL, NULL);
}

void device_premake_taps(struct domain *d, pid_t pid, struct premade_taps *have)
{
	struct mnl_socket *now = NULL, *next = NULL;
	char path[64];
	int ns;

	if (!d->tap_names.n)
		return; /* a storage domain's standby: no sockets to open */
	/* rtnetlink in the standby's namespace (next), and in the running
	 * generation's (now), for the bridges its TAPs are on. */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if ((ns = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		next = rtnl_open(d->core, ns);
		close(ns);
	}
	if (d->netns_fd >= 0)
		now = rtnl_open(d->core, d->netns_fd);
	for (size_t i = 0; i < d->tap_names.n; i++) {
		const struct premade_tap *w = &d->tap_names.v[i];
		char br[IFNAMSIZ];
		int fd, rc;

		if (premade_find(have, w->name, NULL))
			continue;
		if ((fd = tap_create(d->core, pid, w->name, w->flags)) < 0) {
			bh_warn(&d->core->log, "dom%u (%s): making %s ahead for its standby: %s",
			        d->domid, d->name, w->name, bh_strerror(fd));
			continue;
		}
		/* Persistent, so that its last close (unclaimed) does not
		 * unregister it here; the namespace takes it down. */
		if (ioctl(fd, TUNSETPERSIST, 1) < 0 ||
		    premade_add(have, w->name, w->flags, fd) < 0) {
			close(fd);
			continue;
		}
		master_bridge(now, w->name, br);
		if (br[0] && next && (rc = bridge_plug(next, br, w->name)) < 0)
			bh_warn(&d->core->log, "dom%u (%s): %s on bridge %s ahead: %s", d->domid,
			        d->name, w->name, br, bh_strerror(rc));
	}
	if (now)
		mnl_socket_close(now);
	if (next)
		mnl_socket_close(next);
}

/* The TAP made ahead under T's name, if one was made with T's flags;
 * -1 otherwise. One made with other flags is deleted (persistent, it
 * would stay; TUNSETIFF cannot change a TAP's queue mode), so that the
 * name can be made anew. */
static int premade_take(struct domain *d, const struct bh_hc_device_tap *t)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	size_t at;
	struct premade_tap *p = premade_find(&d->premade, t->ifname, &at);
	int fd = -1;

	if (!p)
		return -1;
	if (p->flags == t->flags)
		fd = p->fd;
	else {
		close(p->fd);
		rtnl_link_msg(buf, RTM_DELLINK, 0, 0);
		mnl_attr_put_strz((struct nlmsghdr *)buf, IFLA_IFNAME, t->ifname);
		if (d->netns_fd >= 0)
			rtnl_call_once(d->core, d->netns_fd, (struct nlmsghdr *)buf);
	}
	premade_remove(&d->premade, at);
	return fd;
}

int device_tap(struct domain *d, const struct bh_hc_device_tap *t, int *fd_out)
{
	struct premade_tap *known;
	int fd;

	if (!ifname_ok(t->ifname) || (t->flags & ~(BH_TAP_VNET_HDR | BH_TAP_MQ)))
		return -EINVAL;
	if (d->nr_taps >= d->core->opts.max_taps_per_domain)
		return -ENOSPC;
	if (d->pid <= 0)
		return -ESRCH;
	if ((fd = premade_take(d, t)) < 0 &&
	    (fd = tap_create(d->core, d->pid, t->ifname, t->flags)) < 0)
		return fd;
	d->nr_taps++;
	domain_keep_tap(d, fd);
	if ((known = premade_find(&d->tap_names, t->ifname, NULL)))
		known->flags = t->flags;
	else if (d->role == BH_ROLE_DRIVER &&
	         premade_add(&d->tap_names, t->ifname, t->flags, -1) == 0)
		domain_standby_taps_later(d);
	*fd_out = fd;
	return 0;
}
