/* LOGDIR/<name>.log: guest output with a UTC timestamp at the start of
 * every line, the daemon's own notes on lines of their own, and rotation
 * by size (<name>.log.1 is the newest old file). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "consoled/consoled_priv.h"

#define STAGE_SIZE 8192

bool cons_name_ok(const char *name)
{
	size_t n = strnlen(name, BH_NAME_MAX);

	if (n == 0 || n == BH_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
		    !(ch >= '0' && ch <= '9') && !strchr("-_.", ch))
			return false;
	}
	return true;
}

int cons_log_path(const char *dir, const char *name, char *buf, size_t cap)
{
	if (!cons_name_ok(name))
		return -EINVAL;
	if ((size_t)snprintf(buf, cap, "%s/%s.log", dir, name) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

void cons_log_stamp(const struct timespec *now, char *buf)
{
	struct tm tm;

	char tmp[64];

	gmtime_r(&now->tv_sec, &tm);
	snprintf(tmp, sizeof(tmp), "[%04d-%02d-%02d %02d:%02d:%02d.%03d] ",
	         (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100,
	         tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100,
	         (int)((now->tv_nsec / 1000000) % 1000));
	memcpy(buf, tmp, CONS_STAMP_LEN);
	buf[CONS_STAMP_LEN] = '\0';
}

void cons_log_init(struct cons_log *l)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->at_line_start = true;
}

int cons_log_open(struct cons_log *l, const char *dir, const char *name, uint64_t max_bytes,
                  unsigned keep)
{
	struct stat st;
	int rc;

	cons_log_close(l);
	if ((rc = cons_log_path(dir, name, l->path, sizeof(l->path))) < 0)
		return rc;
	l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (l->fd < 0)
		return -errno;
	l->size = fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	l->at_line_start = true;
	l->max_bytes = max_bytes;
	l->keep = keep;
	return 0;
}

void cons_log_close(struct cons_log *l)
{
	bh_closep(&l->fd);
}

/* <name>.log.(k-1) -> .k, ..., .log -> .log.1, then a fresh .log. */
static int rotate(struct cons_log *l)
{
	char from[560], to[560];

	if (l->keep == 0) {
		if (ftruncate(l->fd, 0) < 0)
			return -errno;
		l->size = 0;
		return 0;
	}
	for (unsigned k = l->keep; k > 1; k--) {
		snprintf(from, sizeof(from), "%s.%u", l->path, k - 1);
		snprintf(to, sizeof(to), "%s.%u", l->path, k);
		rename(from, to); /* missing ones are fine */
	}
	snprintf(to, sizeof(to), "%s.1", l->path);
	if (rename(l->path, to) < 0)
		return -errno;
	bh_closep(&l->fd);
	l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	l->size = 0;
	return l->fd < 0 ? -errno : 0;
}

static int flush_stage(struct cons_log *l, const char *stage, size_t *n)
{
	int rc = 0;

	if (*n && l->fd >= 0)
		rc = bh_write_full(l->fd, stage, *n);
	if (rc == 0)
		l->size += *n;
	*n = 0;
	return rc;
}

/* Rotate between lines, or mid-line once well past the limit (a guest that
 * never prints a newline must not grow the file without bound). */
static int maybe_rotate(struct cons_log *l)
{
	if (!l->max_bytes || l->size < l->max_bytes)
		return 0;
	if (!l->at_line_start && l->size < l->max_bytes + 65536)
		return 0;
	return rotate(l);
}

int cons_log_write(struct cons_log *l, const char *buf, size_t len, const struct timespec *now)
{
	char stage[STAGE_SIZE], stamp[CONS_STAMP_LEN + 1];
	size_t n = 0;
	int rc;

	if (l->fd < 0)
		return -EBADF;
	/* before, not after: the current file always has the newest output */
	if ((rc = maybe_rotate(l)) < 0)
		return rc;
	cons_log_stamp(now, stamp);
	for (size_t i = 0; i < len;) {
		if (n + CONS_STAMP_LEN + 1 > sizeof(stage) && (rc = flush_stage(l, stage, &n)) < 0)
			return rc;
		if (l->at_line_start) {
			memcpy(stage + n, stamp, CONS_STAMP_LEN);
			n += CONS_STAMP_LEN;
			l->at_line_start = false;
		}
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t chunk = (nl ? (size_t)(nl - (buf + i)) + 1 : len - i);
		chunk = BH_MIN(chunk, sizeof(stage) - n);
		memcpy(stage + n, buf + i, chunk);
		n += chunk;
		i += chunk;
		if (stage[n - 1] == '\n')
			l->at_line_start = true;
	}
	return flush_stage(l, stage, &n);
}

int cons_log_note(struct cons_log *l, const char *text)
{
	char line[512];
	struct timespec now;
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	n = snprintf(line, sizeof(line), "%s[%s]\n", l->at_line_start ? "" : "\n", text);
	if (n < 0)
		return -EINVAL;
	return cons_log_write(l, line, BH_MIN((size_t)n, sizeof(line) - 1), &now);
}
