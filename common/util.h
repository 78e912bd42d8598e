/* Small helpers shared by every process role.
 *
 * Error convention for the whole project: functions return 0 (or a count)
 * on success and a negative errno value on failure; bh_strerror() gives the
 * string. Syscall results are kept in `r`, our codes in `rc`. */
#ifndef BH_UTIL_H
#define BH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* Each argument is evaluated once: BH_MAX(0, deadline - now_ms()) with
 * the clock read twice once returned -1 ("wait forever") when the
 * millisecond ticked between the two reads. */
#define BH_MIN(a, b)                                                                               \
	__extension__({                                                                            \
		__typeof__(a) bh_min_a_ = (a);                                                     \
		__typeof__(b) bh_min_b_ = (b);                                                     \
		bh_min_a_ < bh_min_b_ ? bh_min_a_ : bh_min_b_;                                     \
	})
#define BH_MAX(a, b)                                                                               \
	__extension__({                                                                            \
		__typeof__(a) bh_max_a_ = (a);                                                     \
		__typeof__(b) bh_max_b_ = (b);                                                     \
		bh_max_a_ > bh_max_b_ ? bh_max_a_ : bh_max_b_;                                     \
	})
#define BH_PAGE_SIZE 4096u

/* Most descriptors one SCM_RIGHTS message carries (the kernel's SCM_MAX_FD). */
#define BH_MAX_FDS_PER_MSG 253

const char *bh_strerror(int rc);

/* Close *fd if it is open and set it to -1 (idempotent). */
void bh_closep(int *fd);
void bh_close_fds(int *fds, size_t n);

/* Read or write exactly n bytes (retrying on EINTR and short transfers).
 * Return 0, -EPIPE at end of file on read, or a negative errno. */
int bh_read_full(int fd, void *buf, size_t n);
int bh_write_full(int fd, const void *buf, size_t n);

/* One datagram (SOCK_SEQPACKET or SOCK_DGRAM) with optional descriptors.
 * bh_recv_fds returns the payload length; a datagram larger than `cap`, or
 * with more descriptors than `maxfds`, is refused with -EMSGSIZE and any
 * descriptors that did arrive are closed. Received fds are close-on-exec. */
ssize_t bh_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds);
ssize_t bh_recv_fds(int sock, void *buf, size_t cap, int *fds, size_t maxfds, size_t *nfds_out);

/* Strict number parsing: the whole string, no sign surprises. */
int bh_parse_u64(const char *s, int base, uint64_t *out);
int bh_parse_int(const char *s, int base, long min, long max, long *out);

/* Copy with truncation; returns strlen(src) like strlcpy. */
size_t bh_strlcpy(char *dst, const char *src, size_t size);

/* Write a whole small file (such as a cgroup knob): open, write, close. */
int bh_write_file(const char *path, const char *data);
int bh_write_filef(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Read up to cap-1 bytes of a small file and NUL-terminate. Returns length. */
ssize_t bh_read_file(const char *path, char *buf, size_t cap);

/* Monotonic clock in nanoseconds. */
uint64_t bh_now_ns(void);

/* Set O_NONBLOCK / FD_CLOEXEC. */
int bh_set_nonblock(int fd, int on);
int bh_set_cloexec(int fd, int on);

#endif
