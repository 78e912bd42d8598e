/* Client side of the console socket: connect, one request line, read the
 * "ok"/"error: ..." line byte by byte (so no console byte after it is
 * swallowed), then either copy the rest out or forward both ways. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "common/util.h"
#include "consoled/consoled_client.h"

#define LINE_MAX_ 512

static void set_err(char *err, size_t cap, const char *text)
{
	if (err && cap)
		bh_strlcpy(err, text, cap);
}

/* send(2) without SIGPIPE: a daemon that went away is an error return,
 * not the death of the caller (`bh console`). */
static int send_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t r = send(fd, p, len, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int dial(const char *path, const char *request, char *err, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		set_err(err, cap, "socket path too long");
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		set_err(err, cap, "cannot reach the console daemon");
		close(fd);
		return rc;
	}
	if ((rc = send_full(fd, request, strlen(request))) < 0 ||
	    (rc = send_full(fd, "\n", 1)) < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* The daemon's answer: 0 for "ok", else a negative errno and its text. */
static int read_status(int fd, char *err, size_t cap)
{
	char line[LINE_MAX_];
	size_t n = 0;
	int rc;

	for (;;) {
		if ((rc = bh_read_full(fd, line + n, 1)) < 0) {
			set_err(err, cap, "the console daemon closed the connection");
			return rc == -EPIPE ? -ECONNRESET : rc;
		}
		if (line[n] == '\n' || n + 1 == sizeof(line))
			break;
		n++;
	}
	line[n] = '\0';
	if (strcmp(line, "ok") == 0)
		return 0;
	if (strncmp(line, "error: ", 7) != 0) {
		set_err(err, cap, "unexpected answer from the console daemon");
		return -EPROTO;
	}
	set_err(err, cap, line + 7);
	if (strstr(line, "already in use"))
		return -EBUSY;
	if (strstr(line, "no console") || strstr(line, "no log"))
		return -ENOENT;
	if (strstr(line, "not allowed"))
		return -EPERM;
	return -EPROTO;
}

static int copy_all(int from, int to)
{
	char buf[4096];
	ssize_t r;
	int rc;

	while ((r = read(from, buf, sizeof(buf))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (to >= 0 && (rc = bh_write_full(to, buf, (size_t)r)) < 0)
			return rc;
	}
	return 0;
}

int consoled_client_request(const char *sock_path, const char *request, int out_fd, char *err,
                            size_t errcap)
{
	int fd = dial(sock_path, request, err, errcap), rc;

	if (fd < 0)
		return fd;
	if ((rc = read_status(fd, err, errcap)) == 0)
		rc = copy_all(fd, out_fd);
	close(fd);
	return rc;
}

int consoled_client_tail(const char *sock_path, const char *target, unsigned lines, int out_fd,
                         char *err, size_t errcap)
{
	char req[LINE_MAX_];

	if (strpbrk(target, " \t\r\n")) {
		set_err(err, errcap, "bad target");
		return -EINVAL;
	}
	snprintf(req, sizeof(req), "tail %s %u", target, lines);
	return consoled_client_request(sock_path, req, out_fd, err, errcap);
}

/* ---- attach -------------------------------------------------------------- */

struct tty_state {
	int fd;
	bool saved;
	struct termios orig;
};

static void tty_raw(struct tty_state *t, int fd)
{
	struct termios raw;

	t->fd = fd;
	t->saved = isatty(fd) && tcgetattr(fd, &t->orig) == 0;
	if (!t->saved)
		return;
	raw = t->orig;
	cfmakeraw(&raw);
	tcsetattr(fd, TCSANOW, &raw);
}

static void tty_restore(struct tty_state *t)
{
	if (t->saved)
		tcsetattr(t->fd, TCSANOW, &t->orig);
}

/* Keyboard to the socket, up to the escape byte. 1: detach. */
static int forward_input(int in_fd, int sock, int escape)
{
	char buf[4096];
	ssize_t r = read(in_fd, buf, sizeof(buf));
	size_t len;
	char *esc;
	int rc;

	if (r < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (r == 0)
		return 1;
	len = (size_t)r;
	esc = escape >= 0 ? memchr(buf, escape, len) : NULL;
	if (esc)
		len = (size_t)(esc - buf);
	if (len && (rc = send_full(sock, buf, len)) < 0)
		return rc;
	return esc ? 1 : 0;
}

/* The console to the screen. 1: it closed. */
static int forward_output(int sock, int out_fd)
{
	char buf[4096];
	ssize_t r = read(sock, buf, sizeof(buf));

	if (r < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (r == 0)
		return 1;
	return bh_write_full(out_fd, buf, (size_t)r);
}

static int pump(int sock, int in_fd, int out_fd, int escape)
{
	struct pollfd p[2] = { { .fd = sock, .events = POLLIN },
		               { .fd = in_fd, .events = POLLIN } };
	int rc;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* Output first, so what the guest said before closing is shown. */
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((rc = forward_output(sock, out_fd)) != 0)
				return rc > 0 ? 1 : rc;
			continue;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((rc = forward_input(in_fd, sock, escape)) != 0)
				return rc > 0 ? 0 : rc;
		}
	}
}

int consoled_client_attach(const char *sock_path, const char *target, int in_fd, int out_fd,
                           int escape, char *err, size_t errcap)
{
	struct tty_state tty;
	char req[LINE_MAX_];
	int fd, rc;

	if (strpbrk(target, " \t\r\n")) {
		set_err(err, errcap, "bad target");
		return -EINVAL;
	}
	snprintf(req, sizeof(req), "attach %s", target);
	if ((fd = dial(sock_path, req, err, errcap)) < 0)
		return fd;
	if ((rc = read_status(fd, err, errcap)) < 0) {
		close(fd);
		return rc;
	}
	tty_raw(&tty, in_fd);
	rc = pump(fd, in_fd, out_fd, escape);
	tty_restore(&tty);
	close(fd);
	return rc;
}
