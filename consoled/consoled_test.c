/* bhconsoled with in-process "domains": each one a zeroed page and two
 * eventfds (guest -> daemon, daemon -> guest) behind consoled_ops. The
 * guest side uses common/consring.h as a real guest would; clients talk to
 * the real control socket, by hand or through consoled_client.h (in a
 * thread, while the test runs the daemon's event loop). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include <event2/event.h>

#include "common/bhtest.h"
#include "common/consring.h"
#include "common/util.h"
#include "consoled/consoled.h"
#include "consoled/consoled_client.h"

#define NDOMS 8

struct fdom {
	struct bh_cons_intf *page;
	int to_daemon, to_guest; /* eventfds */
	bool mapped, bound;
	uint32_t bound_port;
};

struct fx {
	struct fdom dom[NDOMS];
	struct event_base *base;
	struct consoled *cd;
	char *dir;
	char logdir[300], sock[300];
};

/* ---- fake ops ----------------------------------------------------------- */

static int f_map(void *arg, uint16_t domid, void **page_out)
{
	struct fx *f = arg;

	if (domid >= NDOMS)
		return -ESRCH;
	f->dom[domid].mapped = true;
	*page_out = f->dom[domid].page;
	return 0;
}

static void f_unmap(void *arg, uint16_t domid, void *page)
{
	struct fx *f = arg;

	assert_ptr_equal(page, f->dom[domid].page);
	f->dom[domid].mapped = false;
}

static int f_bind(void *arg, uint16_t domid, uint32_t port, uint32_t *local, int *fd)
{
	struct fx *f = arg;

	if (domid >= NDOMS)
		return -ESRCH;
	f->dom[domid].bound = true;
	f->dom[domid].bound_port = port;
	*local = 100u + domid;
	*fd = dup(f->dom[domid].to_daemon);
	return *fd < 0 ? -errno : 0;
}

static void f_ack(void *arg, uint32_t local, int fd)
{
	uint64_t v;

	(void)arg;
	(void)local;
	(void)!read(fd, &v, sizeof(v));
}

static int f_notify(void *arg, uint32_t local, int fd)
{
	struct fx *f = arg;

	(void)fd;
	return eventfd_write(f->dom[local - 100].to_guest, 1) < 0 ? -errno : 0;
}

static void f_unbind(void *arg, uint32_t local, int fd)
{
	struct fx *f = arg;

	f->dom[local - 100].bound = false;
	close(fd);
}

static const struct consoled_ops fake_ops = { f_map, f_unmap, f_bind, f_ack, f_notify, f_unbind };

/* ---- fixture ------------------------------------------------------------ */

static struct fx *fx_new(bool control, uint64_t max_bytes, unsigned keep)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct consoled_ops ops = fake_ops;

	signal(SIGPIPE, SIG_IGN); /* as every embedder must */
	for (int i = 0; i < NDOMS; i++) {
		f->dom[i].page = aligned_alloc(4096, 4096);
		memset(f->dom[i].page, 0, 4096);
		f->dom[i].to_daemon = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		f->dom[i].to_guest = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	}
	f->base = event_base_new();
	f->dir = bh_test_tmpdir("consoled");
	snprintf(f->logdir, sizeof(f->logdir), "%s/logs", f->dir);
	snprintf(f->sock, sizeof(f->sock), "%s/console.sock", f->dir);
	ops.arg = f;
	struct consoled_opts o = { .logdir = f->logdir,
		                   .sock_path = f->sock,
		                   .ops = &ops,
		                   .allow_control = control,
		                   .log_max_bytes = max_bytes,
		                   .log_keep = keep };
	assert_int_equal(consoled_create_opts(f->base, &o, &f->cd), 0);
	return f;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void fx_free(struct fx *f)
{
	consoled_free(f->cd);
	event_base_free(f->base);
	for (int i = 0; i < NDOMS; i++) {
		/* everything given to the daemon was given back */
		assert_false(f->dom[i].mapped);
		assert_false(f->dom[i].bound);
		free(f->dom[i].page);
		close(f->dom[i].to_daemon);
		close(f->dom[i].to_guest);
	}
	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f->dir);
	free(f);
}

/* Run the daemon's loop for about ms milliseconds. */
static void spin(struct fx *f, int ms)
{
	uint64_t end = bh_now_ns() + (uint64_t)ms * 1000000u;
	int turns = 0;

	/* a minimum of turns too, so a descheduled test still runs the loop */
	do {
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		usleep(1000);
	} while (bh_now_ns() < end || ++turns < BH_MIN(ms, 10));
}

static void guest_write(struct fx *f, int id, const char *s, size_t len)
{
	assert_int_equal(bh_cons_guest_write(f->dom[id].page, s, len), (ssize_t)len);
	eventfd_write(f->dom[id].to_daemon, 1);
}

static bool guest_kicked(struct fx *f, int id)
{
	eventfd_t v;

	return eventfd_read(f->dom[id].to_guest, &v) == 0 && v > 0;
}

static char *read_log(struct fx *f, const char *name)
{
	char path[512];
	static char buf[1 << 20];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s.log", f->logdir, name);
	n = bh_read_file(path, buf, sizeof(buf));
	return n < 0 ? NULL : buf;
}

/* The log without its "[YYYY-MM-DD HH:MM:SS.mmm] " stamps; asserts each
 * line has one. */
static char *strip_stamps(const char *log)
{
	regex_t re;
	char *out = calloc(1, strlen(log) + 1), *o = out;

	assert_int_equal(regcomp(&re,
	                         "^\\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"
	                         "\\.[0-9]{3}\\] ",
	                         REG_EXTENDED | REG_NOSUB),
	                 0);
	for (const char *p = log; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (regexec(&re, p, 0, NULL, 0) != 0)
			fail_msg("line without a timestamp: %.*s", (int)len, p);
		memcpy(o, p + 26, len - 26);
		o += len - 26;
		p += len;
	}
	regfree(&re);
	return out;
}

/* ---- raw socket clients ------------------------------------------------ */

static int dial(struct fx *f, const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, f->sock);
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (req)
		assert_int_equal(bh_write_full(s, req, strlen(req)), 0);
	bh_set_nonblock(s, 1);
	return s;
}

/* Whatever the client got within ms (loop running), NUL-terminated. */
static char *collect(struct fx *f, int s, int ms)
{
	static char buf[65536];
	size_t n = 0;
	uint64_t end = bh_now_ns() + (uint64_t)ms * 1000000u;
	int turns = 0;

	do {
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		ssize_t r = read(s, buf + n, sizeof(buf) - 1 - n);
		if (r > 0)
			n += (size_t)r;
		usleep(1000);
	} while (bh_now_ns() < end || ++turns < 10);
	buf[n] = '\0';
	return buf;
}

/* ---- output and the log ------------------------------------------------- */

static void test_output_lands_in_log_with_timestamps(void **state)
{
	struct fx *f = fx_new(false, 0, 0);

	(void)state;
	assert_int_equal(consoled_add_domain(f->cd, 3, "web", 7), 0);
	assert_true(f->dom[3].mapped && f->dom[3].bound);
	assert_int_equal(f->dom[3].bound_port, 7);
	guest_write(f, 3, "hello\nwor", 9);
	spin(f, 20);
	guest_write(f, 3, "ld\n", 3);
	spin(f, 20);
	char *log = read_log(f, "web");
	assert_non_null(log);
	char *plain = strip_stamps(log);
	assert_string_equal(plain, "hello\nworld\n");
	free(plain);
	/* two lines, two stamps: the partial line got only one */
	int lines = 0;
	for (char *p = log; (p = strchr(p, '[')); p++)
		lines++;
	assert_int_equal(lines, 2);
	assert_true(guest_kicked(f, 3));
	fx_free(f);
}

static void test_wrap_around_keeps_order(void **state)
{
	struct fx *f = fx_new(false, 0, 0);
	char *want = malloc(40000), *chunk = malloc(1500);
	size_t total = 0;

	(void)state;
	assert_int_equal(consoled_add_domain(f->cd, 2, "wrap", 5), 0);
	/* odd chunk sizes so the indices wrap at every position */
	for (int i = 0; total + 1500 < 40000; i++) {
		size_t len = 1 + (size_t)(i * 337) % 1499;
		for (size_t j = 0; j < len; j++)
			chunk[j] = j + 1 == len ? '\n' : (char)('a' + (i + j) % 26);
		guest_write(f, 2, chunk, len);
		memcpy(want + total, chunk, len);
		total += len;
		spin(f, 2);
	}
	want[total] = '\0';
	spin(f, 20);
	char *plain = strip_stamps(read_log(f, "wrap"));
	assert_int_equal(strlen(plain), total);
	assert_string_equal(plain, want);
	assert_true(f->dom[2].page->out_prod > 3 * BH_CONS_OUT_SIZE);
	free(plain);
	free(want);
	free(chunk);
	fx_free(f);
}

static void test_full_ring_is_drained_and_guest_kicked(void **state)
{
	struct fx *f = fx_new(false, 0, 0);
	char big[BH_CONS_OUT_SIZE + 100];

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(consoled_add_domain(f->cd, 1, "full", 5), 0);
	/* the guest can put exactly one ring's worth in, then must wait */
	assert_int_equal(bh_cons_guest_write(f->dom[1].page, big, sizeof(big)), BH_CONS_OUT_SIZE);
	assert_int_equal(bh_cons_guest_write(f->dom[1].page, big, 1), 0);
	eventfd_write(f->dom[1].to_daemon, 1);
	spin(f, 20);
	assert_true(guest_kicked(f, 1));
	assert_int_equal(f->dom[1].page->out_cons, f->dom[1].page->out_prod);
	/* room again */
	assert_int_equal(bh_cons_guest_write(f->dom[1].page, "\n", 1), 1);
	eventfd_write(f->dom[1].to_daemon, 1);
	spin(f, 20);
	char *plain = strip_stamps(read_log(f, "full"));
	assert_int_equal(strlen(plain), BH_CONS_OUT_SIZE + 1);
	free(plain);
	fx_free(f);
}

static void test_output_before_add_is_kept(void **state)
{
	struct fx *f = fx_new(false, 0, 0);

	(void)state;
	assert_int_equal(bh_cons_guest_write(f->dom[4].page, "early bird\n", 11), 11);
	assert_int_equal(consoled_add_domain(f->cd, 4, "early", 9), 0);
	char *plain = strip_stamps(read_log(f, "early"));
	assert_string_equal(plain, "early bird\n");
	free(plain);
	fx_free(f);
}

static void test_remove_notes_exit_and_releases(void **state)
{
	struct fx *f = fx_new(false, 0, 0);

	(void)state;
	assert_int_equal(consoled_add_domain(f->cd, 5, "gone", 9), 0);
	/* the last words, not yet kicked, still reach the log */
	assert_int_equal(bh_cons_guest_write(f->dom[5].page, "bye", 3), 3);
	assert_int_equal(consoled_remove_domain(f->cd, 5, "poweroff"), 0);
	assert_false(f->dom[5].mapped);
	assert_false(f->dom[5].bound);
	assert_int_equal(consoled_domain_state(f->cd, 5), CONSOLED_NONE);
	char *plain = strip_stamps(read_log(f, "gone"));
	assert_string_equal(plain, "bye\n[domain exited: poweroff]\n");
	free(plain);
	assert_int_equal(consoled_remove_domain(f->cd, 5, "again"), -ESRCH);
	fx_free(f);
}

static void test_bad_add_arguments(void **state)
{
	struct fx *f = fx_new(false, 0, 0);

	(void)state;
	assert_int_equal(consoled_add_domain(f->cd, 1, "../etc", 3), -EINVAL);
	assert_int_equal(consoled_add_domain(f->cd, 1, "a/b", 3), -EINVAL);
	assert_int_equal(consoled_add_domain(f->cd, 1, "", 3), -EINVAL);
	assert_int_equal(consoled_add_domain(f->cd, 1, "ok", 0), -EINVAL);
	assert_int_equal(consoled_add_domain(f->cd, 9, "nodom", 3), -ESRCH); /* map fails */
	assert_int_equal(consoled_add_domain(f->cd, 1, "ok", 3), 0);
	assert_int_equal(consoled_add_domain(f->cd, 1, "ok2", 3), -EEXIST);
	fx_free(f);
}

static void test_rename_moves_the_log(void **state)
{
	struct fx *f = fx_new(false, 0, 0);

	(void)state;
	assert_int_equal(consoled_add_domain(f->cd, 1, "old", 3), 0);
	guest_write(f, 1, "one\n", 4);
	spin(f, 10);
	assert_int_equal(consoled_rename_domain(f->cd, 1, "new"), 0);
	guest_write(f, 1, "two\n", 4);
	spin(f, 10);
	char *plain = strip_stamps(read_log(f, "old"));
	assert_string_equal(plain, "one\n[renamed to new]\n");
	free(plain);
	plain = strip_stamps(read_log(f, "new"));
	assert_string_equal(plain, "two\n");
	free(plain);
	fx_free(f);
}

static void test_log_rotation_keeps_n(void **state)
{
	struct fx *f = fx_new(false, 200, 2);
	char path[512], line[64];
	struct stat st;

	(void)state;
	assert_int_equal(consoled_add_domain(f->cd, 1, "rot", 3), 0);
	for (int i = 0; i < 40; i++) {
		int n = snprintf(line, sizeof(line), "line %02d of the rotation test\n", i);
		guest_write(f, 1, line, (size_t)n);
		spin(f, 2);
	}
	snprintf(path, sizeof(path), "%s/rot.log.1", f->logdir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size >= 200);
	snprintf(path, sizeof(path), "%s/rot.log.2", f->logdir);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/rot.log.3", f->logdir);
	assert_int_equal(stat(path, &st), -1);
	/* the newest line is in the current file, and every file is whole lines */
	char *log = read_log(f, "rot");
	assert_non_null(strstr(log, "line 39"));
	free(strip_stamps(log));
	fx_free(f);
}

/* A full disk loses log lines, but neither the guest nor the client waits. */
static void test_full_disk_does_not_stall_the_guest(void **state)
{
	struct fx *f = fx_new(false, 0, 0);
	char path[512];
	int s;

	(void)state;
	snprintf(path, sizeof(path), "%s/disk.log", f->logdir);
	assert_int_equal(symlink("/dev/full", path), 0);
	assert_int_equal(consoled_add_domain(f->cd, 1, "disk", 3), 0);
	s = dial(f, "attach disk\n");
	assert_string_equal(collect(f, s, 20), "ok\n");
	for (int i = 0; i < 3; i++) {
		char big[BH_CONS_OUT_SIZE];
		memset(big, 'a' + i, sizeof(big));
		guest_write(f, 1, big, sizeof(big));
		char *got = collect(f, s, 20);
		assert_int_equal(strlen(got), sizeof(big));
		assert_true(guest_kicked(f, 1));
		assert_int_equal(f->dom[1].page->out_cons, f->dom[1].page->out_prod);
	}
	close(s);
	fx_free(f);
}

/* ---- hostile guests ----------------------------------------------------- */

static void test_corrupt_indices_stop_only_that_console(void **state)
{
	struct fx *f = fx_new(false, 0, 0);
	int s;

	(void)state;
	assert_int_equal(consoled_add_domain(f->cd, 1, "evil", 3), 0);
	assert_int_equal(consoled_add_domain(f->cd, 2, "good", 3), 0);
	f->dom[1].page->out_prod = f->dom[1].page->out_cons + 5000; /* more than the ring */
	eventfd_write(f->dom[1].to_daemon, 1);
	spin(f, 20);
	assert_int_equal(consoled_domain_state(f->cd, 1), CONSOLED_BROKEN);
	assert_false(f->dom[1].mapped);
	assert_false(f->dom[1].bound);
	assert_non_null(strstr(read_log(f, "evil"), "corrupted its output ring indices"));
	/* nobody may attach to it; the other console works on */
	s = dial(f, "attach evil\n");
	assert_non_null(strstr(collect(f, s, 30), "error: console of 1 is stopped"));
	close(s);
	guest_write(f, 2, "still here\n", 11);
	spin(f, 20);
	char *plain = strip_stamps(read_log(f, "good"));
	assert_string_equal(plain, "still here\n");
	free(plain);
	/* the domain's end is still noted */
	assert_int_equal(consoled_remove_domain(f->cd, 1, "crash"), 0);
	assert_non_null(strstr(read_log(f, "evil"), "[domain exited: crash]"));
	fx_free(f);
}

static void test_corrupt_in_indices_stop_the_console(void **state)
{
	struct fx *f = fx_new(false, 0, 0);
	int s;

	(void)state;
	assert_int_equal(consoled_add_domain(f->cd, 1, "evil", 3), 0);
	s = dial(f, "attach 1\n");
	assert_string_equal(collect(f, s, 20), "ok\n");
	f->dom[1].page->in_cons = f->dom[1].page->in_prod + 3000; /* consumer past producer */
	assert_int_equal(write(s, "x", 1), 1);
	char *got = collect(f, s, 30);
	assert_non_null(strstr(got, "console stopped"));
	assert_int_equal(consoled_domain_state(f->cd, 1), CONSOLED_BROKEN);
	close(s);
	fx_free(f);
}

/* ---- attach ------------------------------------------------------------- */

static void test_attached_client_sees_output_and_log_too(void **state)
{
	struct fx *f = fx_new(false, 0, 0);
	int s;

	(void)state;
	assert_int_equal(consoled_add_domain(f->cd, 3, "web", 7), 0);
	s = dial(f, "attach web\n");
	assert_string_equal(collect(f, s, 20), "ok\n");
	assert_true(consoled_domain_attached(f->cd, 3));
	guest_write(f, 3, "login: ", 7);
	assert_string_equal(collect(f, s, 20), "login: ");
	close(s);
	spin(f, 10);
	assert_false(consoled_domain_attached(f->cd, 3));
	/* nobody attached: the log still gets it all */
	guest_write(f, 3, "unseen\n", 7);
	spin(f, 10);
	char *plain = strip_stamps(read_log(f, "web"));
	assert_string_equal(plain, "login: unseen\n");
	free(plain);
	fx_free(f);
}

static void test_one_client_at_a_time(void **state)
{
	struct fx *f = fx_new(false, 0, 0);
	int a, b;

	(void)state;
	assert_int_equal(consoled_add_domain(f->cd, 3, "web", 7), 0);
	a = dial(f, "attach 3\n");
	assert_string_equal(collect(f, a, 20), "ok\n");
	b = dial(f, "attach web\n");
	assert_string_equal(collect(f, b, 20), "error: console of 3 already in use\n");
	close(b);
	/* the first one is undisturbed */
	guest_write(f, 3, "x", 1);
	assert_string_equal(collect(f, a, 20), "x");
	close(a);
	spin(f, 10);
	b = dial(f, "attach 3\n");
	assert_string_equal(collect(f, b, 20), "ok\n");
	close(b);
	fx_free(f);
}

static void test_input_reaches_in_ring(void **state)
{
	struct fx *f = fx_new(false, 0, 0);
	char want[3000], got[3000];
	size_t n = 0;
	int s;

	(void)state;
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = (char)('A' + i % 23);
	assert_int_equal(consoled_add_domain(f->cd, 3, "web", 7), 0);
	/* bytes typed right behind the request line are input too */
	s = dial(f, "attach 3\nls\n");
	assert_string_equal(collect(f, s, 20), "ok\n");
	assert_true(guest_kicked(f, 3));
	assert_int_equal(bh_cons_guest_read(f->dom[3].page, got, sizeof(got)), 3);
	assert_memory_equal(got, "ls\n", 3);
	/* more than the ring holds: it arrives as the guest makes room */
	assert_int_equal(bh_write_full(s, want, sizeof(want)), 0);
	for (int i = 0; i < 200 && n < sizeof(want); i++) {
		spin(f, 2);
		ssize_t r = bh_cons_guest_read(f->dom[3].page, got + n, sizeof(got) - n);
		assert_true(r >= 0);
		if (r > 0) {
			n += (size_t)r;
			eventfd_write(f->dom[3].to_daemon, 1); /* "I consumed" */
		}
	}
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
	close(s);
	fx_free(f);
}

static void test_remove_closes_attached_client(void **state)
{
	struct fx *f = fx_new(false, 0, 0);
	int s;

	(void)state;
	assert_int_equal(consoled_add_domain(f->cd, 3, "web", 7), 0);
	s = dial(f, "attach 3\n");
	assert_string_equal(collect(f, s, 20), "ok\n");
	assert_int_equal(bh_cons_guest_write(f->dom[3].page, "last", 4), 4);
	assert_int_equal(consoled_remove_domain(f->cd, 3, "reboot"), 0);
	assert_string_equal(collect(f, s, 30), "last\r\n[domain exited: reboot]\r\n");
	/* and then end of file */
	char c;
	assert_int_equal(read(s, &c, 1), 0);
	close(s);
	fx_free(f);
}

/* ---- requests ----------------------------------------------------------- */

static void test_bad_requests_get_errors(void **state)
{
	struct fx *f = fx_new(false, 0, 0);
	char longreq[600];
	int s;

	(void)state;
	s = dial(f, "attach 42\n");
	assert_string_equal(collect(f, s, 20), "error: no console for 42\n");
	close(s);
	s = dial(f, "frobnicate\n");
	assert_string_equal(collect(f, s, 20), "error: unknown request\n");
	close(s);
	s = dial(f, "attach\n");
	assert_string_equal(collect(f, s, 20), "error: attach needs 1 arguments\n");
	close(s);
	s = dial(f, "add 3 web 7\n");
	assert_string_equal(collect(f, s, 20), "error: add is not allowed here\n");
	close(s);
	memset(longreq, 'a', sizeof(longreq));
	s = dial(f, NULL);
	assert_int_equal(write(s, longreq, sizeof(longreq)), (ssize_t)sizeof(longreq));
	assert_string_equal(collect(f, s, 20), "error: request too long\n");
	close(s);
	s = dial(f, "tail ../../etc/passwd\n");
	assert_string_equal(collect(f, s, 20), "error: no console for ../../etc/passwd\n");
	close(s);
	fx_free(f);
}

static void test_control_verbs(void **state)
{
	struct fx *f = fx_new(true, 0, 0);
	int s;

	(void)state;
	s = dial(f, "add 3 web 7\n");
	assert_string_equal(collect(f, s, 20), "ok\n");
	close(s);
	assert_int_equal(consoled_domain_state(f->cd, 3), CONSOLED_RUNNING);
	s = dial(f, "add 3 web 7\n");
	assert_string_equal(collect(f, s, 20), "error: File exists\n");
	close(s);
	s = dial(f, "list\n");
	assert_string_equal(collect(f, s, 20), "ok\n3 web running -\n");
	close(s);
	s = dial(f, "rename 3 www\n");
	assert_string_equal(collect(f, s, 20), "ok\n");
	close(s);
	s = dial(f, "remove 3 crash (signal)\n");
	assert_string_equal(collect(f, s, 20), "ok\n");
	close(s);
	assert_non_null(strstr(read_log(f, "www"), "[domain exited: crash (signal)]"));
	fx_free(f);
}

/* ---- the client library --------------------------------------------------- */

struct cl_run {
	struct fx *f;
	const char *target;
	int in_fd, out_fd, escape;
	unsigned lines;
	bool tail;
	int rc;
	char err[128];
	volatile bool done;
};

static void *cl_thread(void *arg)
{
	struct cl_run *r = arg;

	if (r->tail)
		r->rc = consoled_client_tail(r->f->sock, r->target, r->lines, r->out_fd, r->err,
		                             sizeof(r->err));
	else
		r->rc = consoled_client_attach(r->f->sock, r->target, r->in_fd, r->out_fd,
		                               r->escape, r->err, sizeof(r->err));
	r->done = true;
	return NULL;
}

static void spin_until(struct fx *f, volatile bool *flag, int ms)
{
	for (int i = 0; i < ms && !*flag; i++)
		spin(f, 1);
}

static void test_client_escape_detaches(void **state)
{
	struct fx *f = fx_new(false, 0, 0);
	int in[2], out[2];
	struct cl_run r = { .f = f, .target = "3", .escape = CONSOLED_ESCAPE_DEFAULT };
	pthread_t t;
	char buf[64];

	(void)state;
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC | O_NONBLOCK), 0);
	r.in_fd = in[0];
	r.out_fd = out[1];
	assert_int_equal(consoled_add_domain(f->cd, 3, "web", 7), 0);
	pthread_create(&t, NULL, cl_thread, &r);
	for (int i = 0; i < 5000 && !consoled_domain_attached(f->cd, 3); i++)
		spin(f, 1);
	assert_true(consoled_domain_attached(f->cd, 3));
	guest_write(f, 3, "$ ", 2);
	spin(f, 30);
	assert_int_equal(read(out[0], buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "$ ", 2);
	/* typed: "abc", the escape byte, then "def" that must not arrive */
	assert_int_equal(write(in[1],
	                       "abc\x1d"
	                       "def",
	                       7),
	                 7);
	spin_until(f, &r.done, 10000);
	pthread_join(t, NULL);
	assert_int_equal(r.rc, 0);
	spin(f, 20);
	assert_false(consoled_domain_attached(f->cd, 3));
	assert_int_equal(bh_cons_guest_read(f->dom[3].page, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "abc", 3);
	bh_close_fds(in, 2);
	bh_close_fds(out, 2);
	fx_free(f);
}

static void test_client_raw_tty_restored_and_console_end(void **state)
{
	struct fx *f = fx_new(false, 0, 0);
	struct cl_run r = { .f = f, .target = "web", .escape = CONSOLED_ESCAPE_DEFAULT };
	struct termios before, during, after;
	int out[2], master, slave;
	pthread_t t;

	(void)state;
	master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(slave >= 0);
	assert_int_equal(tcgetattr(slave, &before), 0);
	assert_true(before.c_lflag & ICANON);
	assert_int_equal(pipe2(out, O_CLOEXEC | O_NONBLOCK), 0);
	r.in_fd = slave;
	r.out_fd = out[1];
	assert_int_equal(consoled_add_domain(f->cd, 3, "web", 7), 0);
	pthread_create(&t, NULL, cl_thread, &r);
	for (int i = 0; i < 5000 && !consoled_domain_attached(f->cd, 3); i++)
		spin(f, 1);
	spin(f, 20);
	assert_int_equal(tcgetattr(slave, &during), 0);
	assert_false(during.c_lflag & (ICANON | ECHO));
	/* the domain ends: the client returns 1 and puts the terminal back */
	assert_int_equal(consoled_remove_domain(f->cd, 3, "poweroff"), 0);
	spin_until(f, &r.done, 10000);
	pthread_join(t, NULL);
	assert_int_equal(r.rc, 1);
	assert_int_equal(tcgetattr(slave, &after), 0);
	assert_int_equal(after.c_lflag, before.c_lflag);
	char buf[256] = "";
	assert_true(read(out[0], buf, sizeof(buf) - 1) > 0);
	assert_non_null(strstr(buf, "[domain exited: poweroff]"));
	close(master);
	close(slave);
	bh_close_fds(out, 2);
	fx_free(f);
}

static void test_client_errors_and_tail(void **state)
{
	struct fx *f = fx_new(false, 0, 0);
	struct cl_run r = { .f = f, .target = "3", .escape = -1, .in_fd = -1 };
	int out[2];
	pthread_t t;
	char buf[4096] = "";

	(void)state;
	assert_int_equal(pipe2(out, O_CLOEXEC | O_NONBLOCK), 0);
	r.out_fd = out[1];
	/* busy */
	assert_int_equal(consoled_add_domain(f->cd, 3, "web", 7), 0);
	int a = dial(f, "attach 3\n");
	assert_string_equal(collect(f, a, 20), "ok\n");
	pthread_create(&t, NULL, cl_thread, &r);
	spin_until(f, &r.done, 10000);
	pthread_join(t, NULL);
	assert_int_equal(r.rc, -EBUSY);
	assert_string_equal(r.err, "console of 3 already in use");
	close(a);
	/* tail: the last two lines, and it works after the domain is gone */
	for (int i = 0; i < 5; i++) {
		char line[16];
		snprintf(line, sizeof(line), "line %d\n", i);
		guest_write(f, 3, line, strlen(line));
		spin(f, 5);
	}
	assert_int_equal(consoled_remove_domain(f->cd, 3, "poweroff"), 0);
	r = (struct cl_run){ .f = f, .target = "web", .tail = true, .lines = 2, .out_fd = out[1] };
	pthread_create(&t, NULL, cl_thread, &r);
	spin_until(f, &r.done, 10000);
	pthread_join(t, NULL);
	assert_int_equal(r.rc, 0);
	assert_true(read(out[0], buf, sizeof(buf) - 1) > 0);
	char *plain = strip_stamps(buf);
	assert_string_equal(plain, "line 4\n[domain exited: poweroff]\n");
	free(plain);
	/* no such log */
	r = (struct cl_run){ .f = f, .target = "nobody", .tail = true, .out_fd = out[1] };
	pthread_create(&t, NULL, cl_thread, &r);
	spin_until(f, &r.done, 10000);
	pthread_join(t, NULL);
	assert_int_equal(r.rc, -ENOENT);
	bh_close_fds(out, 2);
	fx_free(f);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_output_lands_in_log_with_timestamps),
	cmocka_unit_test(test_wrap_around_keeps_order),
	cmocka_unit_test(test_full_ring_is_drained_and_guest_kicked),
	cmocka_unit_test(test_output_before_add_is_kept),
	cmocka_unit_test(test_remove_notes_exit_and_releases),
	cmocka_unit_test(test_bad_add_arguments),
	cmocka_unit_test(test_rename_moves_the_log),
	cmocka_unit_test(test_log_rotation_keeps_n),
	cmocka_unit_test(test_full_disk_does_not_stall_the_guest),
	cmocka_unit_test(test_corrupt_indices_stop_only_that_console),
	cmocka_unit_test(test_corrupt_in_indices_stop_the_console),
	cmocka_unit_test(test_attached_client_sees_output_and_log_too),
	cmocka_unit_test(test_one_client_at_a_time),
	cmocka_unit_test(test_input_reaches_in_ring),
	cmocka_unit_test(test_remove_closes_attached_client),
	cmocka_unit_test(test_bad_requests_get_errors),
	cmocka_unit_test(test_control_verbs),
	cmocka_unit_test(test_client_escape_detaches),
	cmocka_unit_test(test_client_raw_tty_restored_and_console_end),
	cmocka_unit_test(test_client_errors_and_tail),
};

BH_TEST_MAIN(tests)
