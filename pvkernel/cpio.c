#include "pvkernel/cpio.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/util.h"

#define HDR_LEN      110
#define NAME_MAX_LEN 4096
#define MAX_LINKS    4096

struct hdr {
	uint32_t ino, mode, nlink, filesize, namesize;
};

/* A hard link's first name, by inode number. */
struct link_seen {
	uint32_t ino;
	char *path;
};

struct reader {
	int fd;
	uint64_t off;
	int rootfd;
	struct cpio_stats *st;
	struct link_seen links[MAX_LINKS];
	unsigned nlinks;
};

static int fail(struct reader *r, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->st->error, sizeof(r->st->error), fmt, ap);
	va_end(ap);
	return rc;
}

static int rd(struct reader *r, void *buf, size_t n)
{
	int rc = bh_read_full(r->fd, buf, n);

	if (rc == 0)
		r->off += n;
	return rc;
}

static int skip_pad(struct reader *r)
{
	char pad[4];
	size_t n = (4 - (r->off & 3)) & 3;

	return n ? rd(r, pad, n) : 0;
}

static int hex8(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		        : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                               : -1;
		if (d < 0)
			return -EINVAL;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

static int read_header(struct reader *r, struct hdr *h)
{
	char b[HDR_LEN];
	uint32_t f[13];

	if (rd(r, b, sizeof(b)) < 0)
		return fail(r, -EINVAL, "archive truncated at offset %llu",
		            (unsigned long long)r->off);
	if (memcmp(b, "070701", 6) != 0 && memcmp(b, "070702", 6) != 0)
		return fail(r, -EINVAL, "not a newc cpio header at offset %llu",
		            (unsigned long long)(r->off - HDR_LEN));
	for (int i = 0; i < 13; i++)
		if (hex8(b + 6 + 8 * i, &f[i]) < 0)
			return fail(r, -EINVAL, "bad header digits at offset %llu",
			            (unsigned long long)(r->off - HDR_LEN));
	*h = (struct hdr){
		.ino = f[0], .mode = f[1], .nlink = f[4], .filesize = f[6], .namesize = f[11]
	};
	return 0;
}

/* "./a//b/" -> "a/b"; refuses "..", empty names and control characters. */
static int clean_name(char *name)
{
	char *out = name, *p = name;

	while (*p) {
		while (*p == '/')
			p++;
		char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (out != name)
				*out++ = '/';
			memmove(out, p, n);
			out += n;
		}
		p = end;
	}
	*out = '\0';
	for (char *q = name; *q; q++)
		if ((unsigned char)*q < 0x20)
			return -EINVAL;
	return 0;
}

/* Open the parent directory of `path` beneath the root. */
static int open_parent(struct reader *r, const char *path, const char **base)
{
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	char dir[NAME_MAX_LEN];
	const char *slash = strrchr(path, '/');

	if (!slash) {
		*base = path;
		return fcntl(r->rootfd, F_DUPFD_CLOEXEC, 0);
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	*base = slash + 1;
	int fd = (int)syscall(SYS_openat2, r->rootfd, dir, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

static int write_data(struct reader *r, int fd, uint32_t size)
{
	char buf[65536];

	while (size > 0) {
		size_t n = BH_MIN(size, (uint32_t)sizeof(buf));
		int rc = rd(r, buf, n);
		if (rc < 0)
			return rc;
		if (fd >= 0 && (rc = bh_write_full(fd, buf, n)) < 0)
			return rc;
		size -= (uint32_t)n;
		r->st->bytes += n;
	}
	return 0;
}

static const char *first_link(struct reader *r, const struct hdr *h)
{
	for (unsigned i = 0; i < r->nlinks; i++)
		if (r->links[i].ino == h->ino)
			return r->links[i].path;
	return NULL;
}

static void remember_link(struct reader *r, const struct hdr *h, const char *name)
{
	if (h->nlink > 1 && r->nlinks < MAX_LINKS && !first_link(r, h)) {
		r->links[r->nlinks].ino = h->ino;
		r->links[r->nlinks].path = strdup(name);
		if (r->links[r->nlinks].path)
			r->nlinks++;
	}
}

static int make_file(struct reader *r, int dirfd, const char *base, const char *name,
                     const struct hdr *h)
{
	const char *target = h->nlink > 1 ? first_link(r, h) : NULL;
	int fd, rc;

	if (target) {
		/* Another name of an inode already made: link it, and take the
		 * data if this entry carries it (newc puts it on the last). */
		if (linkat(r->rootfd, target, dirfd, base, 0) < 0)
			return fail(r, -errno, "%s: link to %s: %s", name, target, strerror(errno));
		r->st->links++;
		if (h->filesize == 0)
			return 0;
		fd = openat(dirfd, base, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
	} else {
		fd = openat(dirfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		            h->mode & 07777);
		r->st->files++;
	}
	if (fd < 0)
		return fail(r, -errno, "%s: %s", name, strerror(errno));
	rc = write_data(r, fd, h->filesize);
	if (rc == 0 && fchmod(fd, h->mode & 07777) < 0)
		rc = -errno;
	close(fd);
	remember_link(r, h, name);
	return rc < 0 ? fail(r, rc, "%s: %s", name, bh_strerror(rc)) : 0;
}

static int make_symlink(struct reader *r, int dirfd, const char *base, const char *name,
                        const struct hdr *h)
{
	char target[NAME_MAX_LEN];

	if (h->filesize == 0 || h->filesize >= sizeof(target))
		return fail(r, -EINVAL, "%s: bad symlink target length", name);
	if (rd(r, target, h->filesize) < 0)
		return fail(r, -EINVAL, "%s: archive truncated", name);
	target[h->filesize] = '\0';
	if (symlinkat(target, dirfd, base) < 0)
		return fail(r, -errno, "%s: %s", name, strerror(errno));
	r->st->symlinks++;
	return 0;
}

static int make_entry(struct reader *r, const char *name, const struct hdr *h)
{
	const char *base;
	int dirfd = open_parent(r, name, &base), rc = 0;

	if (dirfd < 0)
		return fail(r, dirfd, "%s: parent directory: %s", name, bh_strerror(dirfd));
	switch (h->mode & S_IFMT) {
	case S_IFDIR:
		if (mkdirat(dirfd, base, h->mode & 07777) < 0 && errno != EEXIST)
			rc = fail(r, -errno, "%s: %s", name, strerror(errno));
		else
			fchmodat(dirfd, base, h->mode & 07777, 0);
		r->st->dirs++;
		break;
	case S_IFREG:
		rc = make_file(r, dirfd, base, name, h);
		break;
	case S_IFLNK:
		rc = make_symlink(r, dirfd, base, name, h);
		break;
	case S_IFIFO:
		if (mkfifoat(dirfd, base, h->mode & 07777) < 0)
			rc = fail(r, -errno, "%s: %s", name, strerror(errno));
		break;
	default: /* device nodes, sockets */
		r->st->skipped++;
		rc = write_data(r, -1, h->filesize);
		break;
	}
	close(dirfd);
	return rc;
}

static int next_entry(struct reader *r, bool *done)
{
	char name[NAME_MAX_LEN];
	struct hdr h = { 0 }; /* gcc cannot see that read_header sets it when it returns 0 */
	int rc;

	if ((rc = read_header(r, &h)) < 0)
		return rc;
	if (h.namesize == 0 || h.namesize > sizeof(name))
		return fail(r, -EINVAL, "entry name length %u at offset %llu", h.namesize,
		            (unsigned long long)r->off);
	if (rd(r, name, h.namesize) < 0 || skip_pad(r) < 0)
		return fail(r, -EINVAL, "archive truncated in a name");
	if (name[h.namesize - 1] != '\0')
		return fail(r, -EINVAL, "entry name not terminated at offset %llu",
		            (unsigned long long)r->off);
	if (strcmp(name, "TRAILER!!!") == 0) {
		*done = true;
		return 0;
	}
	if (clean_name(name) < 0)
		return fail(r, -EINVAL, "refusing entry name %s", name);
	if (name[0] == '\0') /* "." itself */
		rc = write_data(r, -1, h.filesize);
	else
		rc = make_entry(r, name, &h);
	return rc < 0 ? rc : skip_pad(r);
}

int cpio_unpack(int fd, int rootfd, struct cpio_stats *st)
{
	struct reader *r = calloc(1, sizeof(*r));
	bool done = false;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	if (!r)
		return -ENOMEM;
	r->fd = fd;
	r->rootfd = rootfd;
	r->st = st;
	while (!done && rc == 0)
		rc = next_entry(r, &done);
	for (unsigned i = 0; i < r->nlinks; i++)
		free(r->links[i].path);
	free(r);
	return rc;
}
